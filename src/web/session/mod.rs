//! What a browser session holds, in one place: who is signed in (their id and session generation, when, and whether
//! through the provider, with its ID token for the provider's logout), a one-time message, a sign-in waiting for its
//! code, a second factor being set up (sealed), the moment the identity was last confirmed, the Accounts page size
//! and the parent last shown. Handlers take this [`Session`]; no session key is written anywhere else.

mod store;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub(crate) use store::{Store, with_loaded_user};

use super::{AppError, Flash};
use crate::db::users::User;
use crate::identity::{PendingCode, STEP_UP_SECS};

const SIGNED_IN: &str = "signed_in";
const FLASH: &str = "flash";
/// When the session last moved its inactivity deadline forward (Unix seconds).
const SEEN_AT: &str = "seen_at";
const PENDING_CODE: &str = "pending_sign_in";
const NEW_SECRET: &str = "two_factor_new_secret";
const STEPPED_UP_AT: &str = "stepped_up_at";
const PAGE_SIZE: &str = "accounts_page_size";
const LAST_PARENT: &str = "last_parent";

/// The deadline moves at most this often, so reading a page does not write the session every time.
const REFRESH_EVERY_SECS: u64 = 60;

/// Who a session belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SignedInAs {
    pub(crate) user_id: i64,
    /// The user's session generation when the session was made: a change of their access makes it stale.
    pub(crate) generation: i64,
    pub(crate) at: i64,
    /// Signed in through the provider: the ID token, the hint for its logout.
    pub(crate) id_token: Option<String>,
}

/// The browser's session, typed.
#[derive(Clone)]
pub(crate) struct Session(tower_sessions::Session);

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = <tower_sessions::Session as FromRequestParts<S>>::Rejection;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        tower_sessions::Session::from_request_parts(parts, state).await.map(Session)
    }
}

impl Session {
    pub(crate) async fn signed_in_as(&self) -> Result<Option<SignedInAs>, AppError> {
        Ok(self.0.get(SIGNED_IN).await?)
    }

    /// Starts a fresh session for the user (a new id, so one planted before sign-in is worthless).
    pub(crate) async fn sign_in(&self, user: &User, now: i64, id_token: Option<String>) -> Result<(), AppError> {
        self.0.cycle_id().await?;
        // Nothing of whoever had this browser before carries over: no waiting sign-in, no confirmed identity, no
        // second factor half set up.
        self.0.remove::<PendingCode>(PENDING_CODE).await?;
        self.0.remove::<i64>(STEPPED_UP_AT).await?;
        self.0.remove::<String>(NEW_SECRET).await?;
        let signed_in = SignedInAs { user_id: user.id, generation: user.session_generation, at: now, id_token };
        Ok(self.0.insert(SIGNED_IN, signed_in).await?)
    }

    /// Keeps this session valid after the user's own change of access (their new password, their new second factor)
    /// ended their other ones.
    pub(crate) async fn keep_after_change(&self, generation: i64) -> Result<(), AppError> {
        self.0.cycle_id().await?;
        if let Some(mut signed_in) = self.signed_in_as().await? {
            signed_in.generation = generation;
            self.0.insert(SIGNED_IN, signed_in).await?;
        }
        Ok(())
    }

    /// Ends the session: everything in it goes, and so does its cookie.
    pub(crate) async fn end(&self) -> Result<(), AppError> {
        Ok(self.0.flush().await?)
    }

    pub(crate) async fn set_flash(&self, flash: Flash) -> Result<(), AppError> {
        Ok(self.0.insert(FLASH, flash).await?)
    }

    pub(crate) async fn take_flash(&self) -> Result<Option<Flash>, AppError> {
        // Removing marks the session changed (and so written) even when there is nothing to remove.
        if self.0.get::<Flash>(FLASH).await?.is_none() {
            return Ok(None);
        }
        Ok(self.0.remove::<Flash>(FLASH).await?)
    }

    /// Moves the inactivity deadline forward: a session is saved (which sets the deadline) when it changes, so it is
    /// changed once per interval (a minute, or a quarter of a shorter idle limit).
    pub(crate) async fn keep_alive(&self, idle: Duration, now: i64) -> Result<(), AppError> {
        let every = i64::try_from((idle.as_secs() / 4).clamp(1, REFRESH_EVERY_SECS)).unwrap_or(60);
        if now - self.0.get::<i64>(SEEN_AT).await?.unwrap_or(0) >= every {
            self.0.insert(SEEN_AT, now).await?;
        }
        Ok(())
    }

    pub(crate) async fn pending_code(&self) -> Result<Option<PendingCode>, AppError> {
        Ok(self.0.get(PENDING_CODE).await?)
    }

    /// Keeps a correct password waiting for its code, in a session with a fresh id (the code step must not run in a
    /// session someone else planted).
    pub(crate) async fn wait_for_code(&self, pending: &PendingCode) -> Result<(), AppError> {
        self.0.cycle_id().await?;
        Ok(self.0.insert(PENDING_CODE, pending).await?)
    }

    /// Updates the waiting sign-in (its count of wrong codes).
    pub(crate) async fn update_pending_code(&self, pending: &PendingCode) -> Result<(), AppError> {
        Ok(self.0.insert(PENDING_CODE, pending).await?)
    }

    pub(crate) async fn drop_pending_code(&self) -> Result<(), AppError> {
        self.0.remove::<PendingCode>(PENDING_CODE).await?;
        Ok(())
    }

    /// The second factor being set up, sealed by the identity service for this user.
    pub(crate) async fn new_secret(&self) -> Result<Option<String>, AppError> {
        Ok(self.0.get(NEW_SECRET).await?)
    }

    pub(crate) async fn set_new_secret(&self, sealed: String) -> Result<(), AppError> {
        Ok(self.0.insert(NEW_SECRET, sealed).await?)
    }

    pub(crate) async fn drop_new_secret(&self) -> Result<(), AppError> {
        self.0.remove::<String>(NEW_SECRET).await?;
        Ok(())
    }

    /// Whether the user confirmed their identity within the last few minutes.
    pub(crate) async fn stepped_up(&self, now: i64) -> Result<bool, AppError> {
        Ok(self.0.get::<i64>(STEPPED_UP_AT).await?.is_some_and(|at| now - at <= STEP_UP_SECS && now >= at))
    }

    pub(crate) async fn set_stepped_up(&self, now: i64) -> Result<(), AppError> {
        Ok(self.0.insert(STEPPED_UP_AT, now).await?)
    }

    pub(crate) async fn page_size(&self) -> Result<Option<u32>, AppError> {
        Ok(self.0.get(PAGE_SIZE).await?)
    }

    pub(crate) async fn set_page_size(&self, size: u32) -> Result<(), AppError> {
        Ok(self.0.insert(PAGE_SIZE, size).await?)
    }

    /// The parent whose pages the user opened last: where an address without a parent leads.
    pub(crate) async fn last_parent(&self) -> Result<Option<i64>, AppError> {
        Ok(self.0.get(LAST_PARENT).await?)
    }

    /// Notes the parent of the page being shown (written only when it changes).
    pub(crate) async fn set_last_parent(&self, id: i64) -> Result<(), AppError> {
        if self.last_parent().await? != Some(id) {
            self.0.insert(LAST_PARENT, id).await?;
        }
        Ok(())
    }
}

/// Whether a stored record and a new one differ only in when the session was last seen: a refresh, which the store
/// may fail to save without failing the page.
pub(super) fn only_refreshed(stored: &tower_sessions::session::Record, new: &tower_sessions::session::Record) -> bool {
    let without_seen =
        |r: &tower_sessions::session::Record| r.data.iter().filter(|(k, _)| k.as_str() != SEEN_AT).count();
    without_seen(stored) == without_seen(new)
        && new.data.iter().filter(|(k, _)| k.as_str() != SEEN_AT).all(|(k, v)| stored.data.get(k) == Some(v))
}

/// A cookie that says only that this browser was signed in (no id, nothing secret), kept as long as a session can
/// last: a request that comes without a valid session but with it was signed out by time, and the sign-in page can
/// say so. Signing out removes it.
const WAS_SIGNED_IN: &str = "ma_was_signed_in";

/// The `Set-Cookie` that marks a browser as signed in, for `max` (the longest a session lasts).
pub(crate) fn mark_signed_in(secure: bool, max: Duration) -> axum::http::HeaderValue {
    let age = tower_sessions::cookie::time::Duration::seconds(i64::try_from(max.as_secs()).unwrap_or(i64::MAX));
    was_signed_in_cookie(secure, "1", age)
}

/// The `Set-Cookie` that removes the mark.
pub(crate) fn unmark_signed_in(secure: bool) -> axum::http::HeaderValue {
    was_signed_in_cookie(secure, "", tower_sessions::cookie::time::Duration::ZERO)
}

fn was_signed_in_cookie(
    secure: bool,
    value: &str,
    age: tower_sessions::cookie::time::Duration,
) -> axum::http::HeaderValue {
    let cookie = tower_sessions::cookie::Cookie::build((WAS_SIGNED_IN, value.to_owned()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(tower_sessions::cookie::SameSite::Lax)
        .max_age(age)
        .build();
    // A cookie of ASCII name, value and attributes is always a valid header value.
    axum::http::HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| axum::http::HeaderValue::from_static(""))
}

/// Whether the request carries the mark.
pub(crate) fn was_signed_in(headers: &axum::http::HeaderMap) -> bool {
    headers.get_all(axum::http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).any(|cookies| {
        cookies.split(';').any(|pair| {
            pair.trim().split_once('=').is_some_and(|(name, value)| name == WAS_SIGNED_IN && !value.is_empty())
        })
    })
}
