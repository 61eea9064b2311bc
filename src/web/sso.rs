//! Signing in through the organisation's OpenID provider: `/login/oidc` sends the browser there, the provider sends
//! it back to `/login/oidc/callback`.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use tower_sessions::Session;

use super::login::{LoginPage, SSO_ID_TOKEN, next_or_home};
use super::{AppError, AppState, ClientIp, auth, render};
use crate::db::audit::{self, AuditAction, Entry, Outcome};
use crate::db::{unix_now, users};
use crate::sso::{self, Answer, Pending, SsoError};

/// The session key of a sign-in under way at the provider.
const PENDING: &str = "sso_pending";

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/login/oidc", get(begin)).route("/login/oidc/callback", get(callback))
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// The sign-in page again, with why single sign-on did not sign anyone in.
fn refused(state: &AppState, status: StatusCode, next: &str, message: String) -> Result<Response, AppError> {
    Ok((status, render(&LoginPage::new(state, "", next, Some(message)))?).into_response())
}

async fn begin(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    let Some(sso) = &state.sso else { return Err(AppError::NotFound) };
    let next = next_or_home(q.next.as_deref());
    match sso.begin(next, unix_now()).await {
        Ok((url, pending)) => {
            session.insert(PENDING, pending).await?;
            Ok(Redirect::to(url.as_str()).into_response())
        }
        Err(e) => refused(&state, status_of(&e), next, e.to_string()),
    }
}

fn status_of(e: &SsoError) -> StatusCode {
    match e {
        SsoError::Unreachable => StatusCode::BAD_GATEWAY,
        SsoError::Denied | SsoError::Provider(_) | SsoError::WrongClient => StatusCode::FORBIDDEN,
        SsoError::State | SsoError::Clock | SsoError::Unverified => StatusCode::BAD_REQUEST,
    }
}

async fn callback(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Query(answer): Query<Answer>,
) -> Result<Response, AppError> {
    let Some(sso) = state.sso.clone() else { return Err(AppError::NotFound) };
    let db = &state.db;
    let now = unix_now();
    // Used once, whatever happens: a replayed answer finds nothing to match.
    let pending: Option<Pending> = session.remove(PENDING).await?;
    let next = pending.as_ref().map_or("/accounts", |p| p.next.as_str()).to_owned();
    let record = |result: Outcome, action: AuditAction, target: String, details: String| {
        let ip = ip.clone();
        async move {
            let entry = Entry { actor: &target, ip: &ip, action, target: &target, result, details: &details };
            audit::record(db, entry).await
        }
    };
    let identity = match pending {
        Some(pending) => sso.finish(pending, &answer, now).await,
        None => Err(SsoError::State),
    };
    let who = match identity {
        Ok(who) => who,
        Err(e) => {
            let details = format!("single sign-on failed: {e}");
            record(Outcome::Refused, AuditAction::LoginSsoRefused, "unknown".into(), details).await?;
            return refused(&state, status_of(&e), &next, e.to_string());
        }
    };
    let shown = who.email.clone().unwrap_or_else(|| who.subject.clone());
    let user = match sso.user_for(db, &who, now).await.map_err(AppError::Internal)? {
        sso::Outcome::SignedIn(user) => user,
        sso::Outcome::Created(user) => {
            let details =
                format!("created at the first single sign-on, by the provider's role claim ({})", who.subject);
            record(Outcome::Ok, AuditAction::UserAdd, user.email.clone(), details).await?;
            user
        }
        sso::Outcome::Refused(why) => {
            let details = format!("{why} (subject {})", who.subject);
            record(Outcome::Refused, AuditAction::LoginSsoRefused, shown, details).await?;
            return refused(&state, StatusCode::FORBIDDEN, &next, why.to_string());
        }
    };
    auth::sign_in(&session, &user).await?;
    session.insert(SSO_ID_TOKEN, who.id_token).await?;
    users::touch_last_login(db, user.id, now).await?;
    record(Outcome::Ok, AuditAction::LoginSso, user.email.clone(), format!("subject {}", who.subject)).await?;
    Ok(Redirect::to(&next).into_response())
}
