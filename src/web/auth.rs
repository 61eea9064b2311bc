//! Who is signed in, and the guard in front of every page: anonymous requests go to the sign-in page, and only
//! Publisher Administrators get past it (other roles may only sign out and set up their second factor). When
//! two-factor sign-in is required, a user without it is sent to its set-up page first.

use askama::Template;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::htmx::{HxRedirect, is_htmx, to_flash};
use super::{AppError, AppState, Flash, Nav, Section, login, render, two_factor};
use crate::db::unix_now;
use crate::db::users::{self, Role};

const USER_ID: &str = "user_id";
/// The user's session generation when the session was made: a change of their access makes it stale.
const GENERATION: &str = "generation";
const SIGNED_IN_AT: &str = "signed_in_at";
const FLASH: &str = "flash";
/// When the session last moved its inactivity deadline forward (Unix seconds).
pub(crate) const SEEN_AT: &str = "seen_at";
/// The deadline moves at most this often, so reading a page does not write the session every time.
const REFRESH_EVERY_SECS: u64 = 60;

/// The signed-in user, as the guard found them for this request.
#[derive(Debug, Clone)]
pub(crate) struct CurrentUser {
    pub(crate) id: i64,
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) role: Role,
    /// An account creation of theirs has an outcome they have not been told yet.
    pub(crate) awaiting_report: bool,
    /// They sign in with a second factor.
    pub(crate) two_factor: bool,
    /// How many accounts they had selected when the request began.
    pub(crate) selected: i64,
}

/// A signed-in Publisher Administrator: the extractor for every multi-account and users page.
#[derive(Debug, Clone)]
pub(crate) struct AdminUser(pub CurrentUser);

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<CurrentUser>().cloned().ok_or_else(|| sign_in_first(parts))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AdminUser {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if user.role.is_admin() { Ok(AdminUser(user)) } else { Err(role_not_allowed(&user, is_htmx(&parts.headers))) }
    }
}

/// Starts a fresh session for the user (a new id, so one planted before sign-in is worthless).
pub(crate) async fn sign_in(session: &Session, user: &users::User) -> Result<(), AppError> {
    session.cycle_id().await?;
    session.insert(USER_ID, user.id).await?;
    session.insert(GENERATION, user.session_generation).await?;
    session.insert(SIGNED_IN_AT, unix_now()).await?;
    Ok(())
}

/// Keeps this session valid after the user's own change of access (their new password) ended their other ones.
pub(crate) async fn keep_after_change(session: &Session, generation: i64) -> Result<(), AppError> {
    session.cycle_id().await?;
    Ok(session.insert(GENERATION, generation).await?)
}

/// The user this session belongs to, if it is still valid: within the absolute limit, the user still exists and is
/// active, and their access has not changed since (same session generation). An invalid session is emptied, which
/// removes its cookie.
pub(crate) async fn current_user(state: &AppState, session: &Session) -> Result<Option<CurrentUser>, AppError> {
    let Some(id) = session.get::<i64>(USER_ID).await? else {
        return Ok(None);
    };
    let signed_in_at = session.get::<i64>(SIGNED_IN_AT).await?.unwrap_or(0);
    let generation = session.get::<i64>(GENERATION).await?;
    let max_secs = i64::try_from(state.settings.session_max.as_secs()).unwrap_or(i64::MAX);
    let user = if unix_now().saturating_sub(signed_in_at) > max_secs {
        None
    } else {
        users::signed_in(&state.db, id)
            .await?
            .filter(|s| s.user.is_active() && Some(s.user.session_generation) == generation)
    };
    match user {
        Some(users::SignedIn { user: u, awaiting_report, two_factor, selected }) => Ok(Some(CurrentUser {
            id: u.id,
            name: u.full_name(),
            email: u.email,
            role: u.role,
            awaiting_report,
            two_factor,
            selected,
        })),
        None => {
            session.flush().await?;
            Ok(None)
        }
    }
}

pub(crate) async fn set_flash(session: &Session, flash: Flash) -> Result<(), AppError> {
    Ok(session.insert(FLASH, flash).await?)
}

pub(crate) async fn take_flash(session: &Session) -> Result<Option<Flash>, AppError> {
    // Removing marks the session changed (and so written) even when there is nothing to remove.
    if session.get::<Flash>(FLASH).await?.is_none() {
        return Ok(None);
    }
    Ok(session.remove::<Flash>(FLASH).await?)
}

/// Moves the inactivity deadline forward: a session is saved (which sets the deadline) when it changes, so it is
/// changed once per interval (a minute, or a quarter of a shorter idle limit).
async fn keep_alive(session: &Session, idle: std::time::Duration) -> Result<(), AppError> {
    let every = i64::try_from((idle.as_secs() / 4).clamp(1, REFRESH_EVERY_SECS)).unwrap_or(60);
    let now = unix_now();
    if now - session.get::<i64>(SEEN_AT).await?.unwrap_or(0) >= every {
        session.insert(SEEN_AT, now).await?;
    }
    Ok(())
}

/// Middleware on every page route. `/login`, its code step and single sign-on's `/login/oidc` and callback are open;
/// `/logout` and the two-factor set-up need any signed-in user; everything else needs a Publisher Administrator (with
/// a second factor, when that is required), so a page or fragment added later is protected without doing anything.
pub(crate) async fn guard(State(state): State<AppState>, session: Session, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if matches!(path, "/login" | "/login/oidc" | "/login/oidc/callback") || path == login::CODE_STEP {
        return next.run(req).await;
    }
    let user = match current_user(&state, &session).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            let (mut parts, _) = req.into_parts();
            return sign_in_first(&mut parts);
        }
        Err(e) => return e.into_response(),
    };
    if let Err(e) = keep_alive(&session, state.settings.session_idle).await {
        return e.into_response();
    }
    let open_to_all = path == "/logout" || two_factor::is_set_up_page(path);
    // Signed in through the identity provider: its own second factor is the organisation's to require.
    let through_provider =
        state.sso.is_some() && matches!(session.get::<String>(login::SSO_ID_TOKEN).await, Ok(Some(_)));
    if state.settings.require_2fa && !user.two_factor && !through_provider && !open_to_all {
        return set_up_two_factor_first(is_htmx(req.headers()));
    }
    if !user.role.is_admin() && !open_to_all {
        return role_not_allowed(&user, is_htmx(req.headers()));
    }
    req.extensions_mut().insert(user);
    next.run(req).await
}

/// To the sign-in page, coming back here afterwards. htmx gets `HX-Redirect`, as it would swap a 303's target into
/// the page.
fn sign_in_first(parts: &mut Parts) -> Response {
    let htmx = is_htmx(&parts.headers);
    // For a fragment, come back to the page it was part of, not to the fragment.
    // A fragment, or a form posted from a page (whose address answers only POST), comes back to that page.
    let page_of = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<Uri>().ok())
            .and_then(|u| u.path_and_query().map(|pq| pq.as_str().to_owned()))
    };
    let here = if htmx {
        page_of(axum_htmx::HX_CURRENT_URL)
    } else if parts.method != Method::GET && parts.method != Method::HEAD {
        page_of(header::REFERER)
    } else {
        parts.uri.path_and_query().map(|pq| pq.as_str().to_owned())
    };
    let login = match here.as_deref().and_then(local_path) {
        Some(next) if next != "/" => {
            format!("/login?next={}", form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>())
        }
        _ => "/login".to_owned(),
    };
    if htmx {
        (StatusCode::UNAUTHORIZED, HxRedirect(login), ()).into_response()
    } else {
        Redirect::to(&login).into_response()
    }
}

/// To the two-factor set-up page, which says why. htmx gets `HX-Redirect`, as for signing in.
fn set_up_two_factor_first(htmx: bool) -> Response {
    if htmx {
        (StatusCode::FORBIDDEN, HxRedirect(two_factor::PAGE.into()), ()).into_response()
    } else {
        Redirect::to(two_factor::PAGE).into_response()
    }
}

/// `next` if it is a path on this site; `None` for anything that could lead elsewhere (`//host`, `http:`,
/// backslashes, which some browsers read as slashes, and control characters).
pub(crate) fn local_path(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then_some(next)
}

#[derive(Template)]
#[template(path = "no_access.html")]
struct NoAccessPage {
    nav: Nav,
    role: &'static str,
}

#[derive(Template)]
#[template(path = "partials/no_access.html")]
struct NoAccessFragment {
    role: &'static str,
}

/// What a signed-in user whose role may not manage accounts gets, for pages and fragments alike.
fn role_not_allowed(user: &CurrentUser, htmx: bool) -> Response {
    let role = user.role.label();
    let body = if htmx {
        render(&NoAccessFragment { role })
    } else {
        render(&NoAccessPage { nav: Nav::for_user(user, Section::None), role })
    };
    match body {
        Ok(html) if htmx => (StatusCode::FORBIDDEN, to_flash(), html).into_response(),
        Ok(html) => (StatusCode::FORBIDDEN, html).into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn next_accepts_local_paths_only() {
        assert_eq!(local_path("/users?page=2"), Some("/users?page=2"));
        for bad in
            ["//evil.example", "http://evil.example", "https:evil", "/\\evil.example", "\\\\evil", "evil", "/a\nb", ""]
        {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
    }
}
