//! Signing in and out.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tower_sessions::Session;

use super::auth::{self, CurrentUser, local_path};
use super::{AppError, AppState, ClientIp, Nav, render};
use crate::config::oidc::LocalLogin;
use crate::db::audit::{self, AuditAction, Entry, Outcome};
use crate::db::{throttle, unix_now, users};
use crate::password;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/login", get(show).post(submit)).route("/logout", post(logout))
}

const WRONG: &str = "Wrong email or password.";
const BUSY: &str = "Too many sign-ins are under way at once. Please try again in a moment.";
const HOME: &str = "/accounts";

#[derive(Template)]
#[template(path = "login.html")]
pub(super) struct LoginPage<'a> {
    nav: Nav,
    email: &'a str,
    next: &'a str,
    error: Option<String>,
    /// The single sign-on button's words, when there is one.
    sso: Option<&'a str>,
    /// Whether the password form is offered.
    passwords: bool,
}

impl<'a> LoginPage<'a> {
    pub(super) fn new(state: &'a AppState, email: &'a str, next: &'a str, error: Option<String>) -> LoginPage<'a> {
        LoginPage {
            nav: Nav::anonymous(),
            email,
            next,
            error,
            sso: state.sso.as_ref().map(|s| s.name()),
            passwords: state.settings.local_login != LocalLogin::None,
        }
    }
}

/// The session key of the ID token of a sign-in through the provider (the hint for its logout).
pub(super) const SSO_ID_TOKEN: &str = "sso_id_token";

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

pub(super) fn next_or_home(next: Option<&str>) -> &str {
    next.and_then(local_path).unwrap_or(HOME)
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    let next = next_or_home(q.next.as_deref());
    if auth::current_user(&state, &session).await?.is_some() {
        return Ok(Redirect::to(next).into_response());
    }
    Ok(render(&LoginPage::new(&state, "", next, None))?.into_response())
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

async fn submit(
    State(state): State<AppState>,
    session: Session,
    client_ip: ClientIp,
    form: Form<LoginForm>,
) -> Result<Response, AppError> {
    let res = attempt(State(state), session, client_ip, form).await?;
    let outcome = match res.status() {
        StatusCode::SEE_OTHER => "ok",
        StatusCode::UNAUTHORIZED => "failure",
        StatusCode::TOO_MANY_REQUESTS => "locked",
        StatusCode::SERVICE_UNAVAILABLE => "busy",
        _ => "refused",
    };
    metrics::counter!("console_sign_ins_total", "outcome" => outcome).increment(1);
    Ok(res)
}

async fn attempt(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let db = &state.db;
    let email = form.email.trim();
    let next = next_or_home(form.next.as_deref());
    let now = unix_now();
    let page = |status: StatusCode, shown_email: &str, error: String| -> Result<Response, AppError> {
        Ok((status, render(&LoginPage::new(&state, shown_email, next, Some(error)))?).into_response())
    };
    let sso_name = state.sso.as_ref().map_or("single sign-on", |s| s.name());
    if state.settings.local_login == LocalLogin::None {
        return page(StatusCode::FORBIDDEN, "", format!("Passwords are turned off here: sign in with {sso_name}."));
    }
    // No account has such an email or password: refused before anything is written, and echoed only in part.
    if email.len() > users::MAX_EMAIL || form.password.len() > password::MAX_LENGTH {
        return page(StatusCode::UNPROCESSABLE_ENTITY, clip(email, users::MAX_EMAIL), WRONG.to_owned());
    }
    let ip = ip.as_str();
    let audit = |action: AuditAction, result: Outcome, details: String| async move {
        audit::record(db, Entry { actor: email, ip, action, target: email, result, details: &details }).await
    };

    let refuse_locked = |until: i64| async move {
        // Once per window for this email or address, however often it keeps trying.
        if !audit::logged_since(db, AuditAction::LoginRefused, email, ip, now - throttle::WINDOW_SECS).await? {
            audit(AuditAction::LoginRefused, Outcome::Refused, "locked out after repeated failures".into()).await?;
        }
        page(StatusCode::TOO_MANY_REQUESTS, email, locked_message(until - now))
    };
    if let Some(until) = throttle::locked_until(db, email, ip, now).await? {
        return refuse_locked(until).await;
    }
    let Ok(slot) = password::slot().await else {
        return page(StatusCode::SERVICE_UNAVAILABLE, email, BUSY.to_owned());
    };
    // Attempts that waited for a slot meanwhile may have locked this email or address: asked again before hashing.
    if let Some(until) = throttle::locked_until(db, email, ip, unix_now()).await? {
        return refuse_locked(until).await;
    }

    let user = users::find_by_email(db, email).await?;
    let verified = slot.verify(form.password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let user = match user {
        Some(u)
            if verified
                && u.is_active()
                && state.settings.local_login == LocalLogin::OnlyAdmins
                && !u.role.is_admin() =>
        {
            audit(AuditAction::LoginFailure, Outcome::Refused, "passwords are for administrators only".into()).await?;
            return page(
                StatusCode::FORBIDDEN,
                email,
                format!("Only administrators sign in with a password here: sign in with {sso_name}."),
            );
        }
        Some(u) if verified && u.is_active() => u,
        other => {
            let why = match other {
                None => "unknown email",
                Some(u) if !u.is_active() => "user is blocked",
                Some(_) => "wrong password",
            };
            throttle::record_failure(db, email, ip, now).await?;
            audit(AuditAction::LoginFailure, Outcome::Refused, why.into()).await?;
            if let Some(until) = throttle::locked_until(db, email, ip, now).await? {
                let details = format!("{} more sign-ins from {ip} refused", wait_words(until - now));
                audit(AuditAction::LoginLockout, Outcome::Refused, details).await?;
                return page(StatusCode::TOO_MANY_REQUESTS, email, format!("{WRONG} {}", locked_message(until - now)));
            }
            return page(StatusCode::UNAUTHORIZED, email, WRONG.to_owned());
        }
    };

    auth::sign_in(&session, &user).await?;
    users::touch_last_login(db, user.id, now).await?;
    throttle::clear_email(db, email).await?;
    let entry = Entry {
        actor: &user.email,
        ip,
        action: AuditAction::Login,
        target: &user.email,
        result: Outcome::Ok,
        details: "",
    };
    audit::record(db, entry).await?;
    Ok(Redirect::to(next).into_response())
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn clip(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `for 1 minute`, `for 15 minutes`.
fn wait_words(secs_left: i64) -> String {
    let minutes = (secs_left.max(1) + 59) / 60;
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    format!("for {minutes} {unit}")
}

fn locked_message(secs_left: i64) -> String {
    format!("Too many failed sign-in attempts: sign-in is locked {}.", wait_words(secs_left))
}

async fn logout(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
) -> Result<Response, AppError> {
    let id_token = session.get::<String>(SSO_ID_TOKEN).await?;
    session.flush().await?;
    audit::record(
        &state.db,
        Entry {
            actor: &user.email,
            ip: &ip,
            action: AuditAction::Logout,
            target: &user.email,
            result: Outcome::Ok,
            details: "",
        },
    )
    .await?;
    // Signed in through the provider: signed out there too, when it offers it, and back to the sign-in page.
    if let (Some(sso), Some(id_token)) = (&state.sso, id_token)
        && let Some(url) = sso.logout_url(&id_token).await
    {
        return Ok(Redirect::to(url.as_str()).into_response());
    }
    Ok(Redirect::to("/login").into_response())
}
