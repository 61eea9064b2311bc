//! Signing in through the organisation's OpenID provider: `/login/oidc` sends the browser there, the provider sends
//! it back to `/login/oidc/callback`. The sign-in under way is kept in a short-lived cookie sealed by the identity
//! service, not in a session row, so an anonymous visitor writes nothing to the database.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use super::login::{LoginPage, next_or_home};
use super::session::Session;
use super::{AppError, AppState, ClientIp, Flash, auth, render, step_up};
use crate::identity::sso::{Answer, PENDING_TTL_SECS, Purpose, SsoError};
use crate::identity::{Refusal, SessionUser, SsoSignIn};

const PENDING_COOKIE: &str = "ma_sso";
const CALLBACK: &str = "/login/oidc/callback";

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/login/oidc", get(begin)).route(CALLBACK, get(callback))
}

#[derive(Deserialize)]
struct BeginQuery {
    next: Option<String>,
    /// The signed-in user confirms their identity (the provider authenticates them again).
    #[serde(default)]
    confirm: bool,
    /// The signed-in user links their console user to their identity at the provider.
    #[serde(default)]
    link: bool,
}

/// The sign-in page again, with why single sign-on did not sign anyone in.
fn refused(state: &AppState, status: StatusCode, next: &str, message: String) -> Result<Response, AppError> {
    Ok((status, render(&LoginPage::new(state, "", next, Some(message)))?).into_response())
}

/// The cookie holding a sign-in under way, sent back only to the callback (`max_age` 0 removes it).
fn pending_cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.settings.secure_cookies() { "; Secure" } else { "" };
    let cookie =
        format!("{PENDING_COOKIE}={value}; Path={CALLBACK}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("ma_sso=; Max-Age=0"))
}

fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

async fn begin(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<BeginQuery>,
) -> Result<Response, AppError> {
    if state.identity.sso().is_none() {
        return Err(AppError::NotFound);
    }
    let next = next_or_home(q.next.as_deref());
    let purpose = if q.link {
        // Linking adds a way in: only for the signed-in user, with their identity confirmed a moment ago.
        let Some(user) = auth::current_user(&state, &session).await? else {
            return Ok(Redirect::to("/login").into_response());
        };
        if !session.stepped_up(state.identity.now()).await? {
            return Ok(step_up::ask(false, next));
        }
        Purpose::Link(user.id)
    } else if q.confirm {
        Purpose::Confirm
    } else {
        Purpose::SignIn
    };
    match state.identity.sso_begin(next, purpose).await? {
        Ok((url, sealed)) => {
            let cookie = pending_cookie(&state, &sealed, PENDING_TTL_SECS);
            Ok(([(header::SET_COOKIE, cookie)], Redirect::to(url.as_str())).into_response())
        }
        Err(e) => refused(&state, status_of(&e), next, e.to_string()),
    }
}

fn status_of(e: &SsoError) -> StatusCode {
    match e {
        SsoError::Unreachable => StatusCode::BAD_GATEWAY,
        SsoError::Denied | SsoError::Provider(_) | SsoError::WrongClient => StatusCode::FORBIDDEN,
        SsoError::State | SsoError::Clock | SsoError::Unverified => StatusCode::BAD_REQUEST,
        SsoError::NotAgain => StatusCode::FORBIDDEN,
    }
}

async fn callback(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Query(answer): Query<Answer>,
) -> Result<Response, AppError> {
    if state.identity.sso().is_none() {
        return Err(AppError::NotFound);
    }
    // Used once, whatever happens: the cookie goes with this answer.
    let remove = [(header::SET_COOKIE, pending_cookie(&state, "", 0))];
    let pending = match cookie_value(&headers, PENDING_COOKIE) {
        Some(sealed) => state.identity.sso_pending(sealed).await?,
        None => None,
    };
    let Some(pending) = pending else {
        // No sign-in under way here: refused without writing anything, and logged once per address per window.
        if state.identity.note_stray_callback(&ip) {
            tracing::warn!(ip, "a single sign-on answer arrived with no sign-in under way");
        }
        let e = SsoError::State;
        return Ok((remove, refused(&state, status_of(&e), "/accounts", e.to_string())?).into_response());
    };
    let next = pending.next.clone();
    // Linking and confirming are for the user signed in here: they stay signed in whatever comes back.
    let for_signed_in = pending.purpose != Purpose::SignIn;
    let now = state.identity.now();
    let signed_in = SessionUser {
        user_id: auth::current_user(&state, &session).await?.map(|u| u.id),
        confirmed: session.stepped_up(now).await?,
    };
    let outcome = state.identity.sso_step(pending, &answer, &ip, signed_in).await?;
    let res = match outcome {
        SsoSignIn::Done { user, id_token, confirmed } => {
            session.sign_in(&user, now, Some(id_token)).await?;
            if confirmed {
                session.set_stepped_up(now).await?;
            }
            super::login::signed_in_to(&state, &next)
        }
        SsoSignIn::Linked => {
            let name = state.identity.sso().map_or("single sign-on", |s| s.name());
            session
                .set_flash(Flash::ok(format!(
                    "Your console user is linked to your identity: you can sign in with {name}."
                )))
                .await?;
            Redirect::to(&next).into_response()
        }
        // The signed-in user is still signed in: back to the page they came from, saying why.
        SsoSignIn::Refused(why) if for_signed_in && signed_in.user_id.is_some() => {
            session.set_flash(Flash::error(format!("Not done: {why}"))).await?;
            Redirect::to(&next).into_response()
        }
        SsoSignIn::Refused(Refusal::Sso(e)) => refused(&state, status_of(&e), &next, e.to_string())?,
        SsoSignIn::Refused(why) => refused(&state, StatusCode::FORBIDDEN, &next, why.to_string())?,
    };
    Ok((remove, res).into_response())
}
