//! Signing in and out. A user with a second factor signs in in two steps: the password, then (within five minutes,
//! in the same session) a code from their authenticator or a recovery code. Wrong codes count toward the same
//! lock-out as wrong passwords.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::auth::{self, CurrentUser, local_path};
use super::{AppError, AppState, ClientIp, Flash, Nav, render};
use crate::config::oidc::LocalLogin;
use crate::db::audit::{self, AuditAction, Entry, Outcome};
use crate::db::{throttle, unix_now, users};
use crate::password;
use crate::two_factor::{self, CheckError, Checked};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(show).post(submit))
        .route(CODE_STEP, get(code_form).post(submit_code))
        .route("/logout", post(logout))
}

/// The second step of signing in, open like `/login`.
pub(crate) const CODE_STEP: &str = "/login/code";
/// The session's record of a correct password that waits for its code.
const PENDING: &str = "pending_sign_in";
/// How long the code step waits after the password.
const PENDING_SECS: i64 = 5 * 60;

const WRONG: &str = "Wrong email or password.";
const WRONG_CODE: &str = "Wrong code.";
const EXPIRED: &str = "Your sign-in has expired: enter your password again.";
const CANNOT_CHECK: &str = "The server cannot check authenticator codes right now: its secret key is missing or wrong. \
                            Sign in with a recovery code, or ask your administrator.";
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

#[derive(Template)]
#[template(path = "login_code.html")]
struct CodePage {
    nav: Nav,
    error: Option<String>,
}

fn code_page(status: StatusCode, error: Option<String>) -> Result<Response, AppError> {
    Ok((status, render(&CodePage { nav: Nav::anonymous(), error })?).into_response())
}

/// A correct password waiting for its code: whose, under which session generation, since when, and where to go next.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    user_id: i64,
    generation: i64,
    at: i64,
    next: String,
}

/// Names a response's outcome for the sign-in counter where its status alone would not say it.
#[derive(Debug, Clone, Copy)]
struct Counted(&'static str);

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
    let nav = Nav { flash: auth::take_flash(&session).await?, ..Nav::anonymous() };
    Ok(render(&LoginPage { nav, ..LoginPage::new(&state, "", next, None) })?.into_response())
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
    count(&res);
    Ok(res)
}

/// One sign-in step's outcome for `console_sign_ins_total`.
fn count(res: &Response) {
    let outcome = res.extensions().get::<Counted>().map_or_else(
        || match res.status() {
            StatusCode::SEE_OTHER => "ok",
            StatusCode::UNAUTHORIZED => "failure",
            StatusCode::TOO_MANY_REQUESTS => "locked",
            StatusCode::SERVICE_UNAVAILABLE => "busy",
            _ => "refused",
        },
        |c| c.0,
    );
    metrics::counter!("console_sign_ins_total", "outcome" => outcome).increment(1);
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
        log_refused(db, email, ip, now).await?;
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
                audit(AuditAction::LoginLockout, Outcome::Refused, lockout_details(until - now, ip)).await?;
                return page(StatusCode::TOO_MANY_REQUESTS, email, format!("{WRONG} {}", locked_message(until - now)));
            }
            return page(StatusCode::UNAUTHORIZED, email, WRONG.to_owned());
        }
    };

    if crate::db::two_factor::enrolled(db, user.id).await?.is_some() {
        // A fresh id here too: the code step must not run in a session someone else planted.
        session.cycle_id().await?;
        let pending = Pending { user_id: user.id, generation: user.session_generation, at: now, next: next.to_owned() };
        session.insert(PENDING, pending).await?;
        let mut res = Redirect::to(CODE_STEP).into_response();
        res.extensions_mut().insert(Counted("code_asked"));
        return Ok(res);
    }
    finish(&state, &session, &user, ip, "", next).await
}

/// Signs the user in (a new session id, without any sign-in that waited for a code), forgives their email's failures
/// and logs the sign-in.
async fn finish(
    state: &AppState,
    session: &Session,
    user: &users::User,
    ip: &str,
    details: &str,
    next: &str,
) -> Result<Response, AppError> {
    let db = &state.db;
    session.remove::<Pending>(PENDING).await?;
    auth::sign_in(session, user).await?;
    users::touch_last_login(db, user.id, unix_now()).await?;
    throttle::clear_email(db, &user.email).await?;
    let entry =
        Entry { actor: &user.email, ip, action: AuditAction::Login, target: &user.email, result: Outcome::Ok, details };
    audit::record(db, entry).await?;
    Ok(Redirect::to(next).into_response())
}

/// The sign-in waiting for its code, and its user, if it is still good: within five minutes, the user still active
/// and their access unchanged since the password. A stale one is dropped, saying so on the sign-in page.
async fn pending(state: &AppState, session: &Session) -> Result<Option<(Pending, users::User)>, AppError> {
    let Some(p) = session.get::<Pending>(PENDING).await? else {
        return Ok(None);
    };
    let fresh = unix_now() - p.at <= PENDING_SECS;
    let user = if fresh { users::get(&state.db, p.user_id).await? } else { None };
    match user {
        Some(u) if u.is_active() && u.session_generation == p.generation => Ok(Some((p, u))),
        _ => {
            session.remove::<Pending>(PENDING).await?;
            auth::set_flash(session, Flash::error(EXPIRED)).await?;
            Ok(None)
        }
    }
}

async fn code_form(State(state): State<AppState>, session: Session) -> Result<Response, AppError> {
    if pending(&state, &session).await?.is_none() {
        return Ok(Redirect::to("/login").into_response());
    }
    code_page(StatusCode::OK, None)
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

async fn submit_code(
    State(state): State<AppState>,
    session: Session,
    client_ip: ClientIp,
    form: Form<CodeForm>,
) -> Result<Response, AppError> {
    let res = attempt_code(state, session, client_ip, form).await?;
    count(&res);
    Ok(res)
}

async fn attempt_code(
    state: AppState,
    session: Session,
    ClientIp(ip): ClientIp,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let Some((p, user)) = pending(&state, &session).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let db = &state.db;
    let (email, ip, now) = (user.email.as_str(), ip.as_str(), unix_now());
    let audit = |action: AuditAction, result: Outcome, details: String| async move {
        audit::record(db, Entry { actor: email, ip, action, target: email, result, details: &details }).await
    };
    if let Some(until) = throttle::locked_until(db, email, ip, now).await? {
        log_refused(db, email, ip, now).await?;
        return code_page(StatusCode::TOO_MANY_REQUESTS, Some(locked_message(until - now)));
    }
    let why = match two_factor::check(db, state.settings.secret_key.as_ref(), user.id, &form.code, now).await {
        Ok(Checked::Code) => {
            return finish(&state, &session, &user, ip, "with an authenticator code", &p.next).await;
        }
        Ok(Checked::RecoveryCode { left }) => {
            let details = format!("with a recovery code ({left} left)");
            return finish(&state, &session, &user, ip, &details, &p.next).await;
        }
        // Turned off meanwhile: the password alone is asked again.
        Ok(Checked::NotEnrolled) => {
            session.remove::<Pending>(PENDING).await?;
            return Ok(Redirect::to("/login").into_response());
        }
        Ok(Checked::Replayed) => "code already used",
        Ok(Checked::Wrong) => "wrong code",
        Err(CheckError::Db(e)) => return Err(e.into()),
        Err(e @ (CheckError::NoKey | CheckError::Undecryptable(_))) => {
            tracing::error!(user = email, error = %e, "cannot check a two-factor code");
            let mut res = code_page(StatusCode::SERVICE_UNAVAILABLE, Some(CANNOT_CHECK.to_owned()))?;
            res.extensions_mut().insert(Counted("cannot_check"));
            return Ok(res);
        }
    };
    throttle::record_failure(db, email, ip, now).await?;
    audit(AuditAction::LoginCodeFailure, Outcome::Refused, why.into()).await?;
    if let Some(until) = throttle::locked_until(db, email, ip, now).await? {
        audit(AuditAction::LoginLockout, Outcome::Refused, lockout_details(until - now, ip)).await?;
        return code_page(StatusCode::TOO_MANY_REQUESTS, Some(format!("{WRONG_CODE} {}", locked_message(until - now))));
    }
    code_page(StatusCode::UNAUTHORIZED, Some(WRONG_CODE.to_owned()))
}

/// Logs a sign-in refused while locked: once per window for this email or address, however often it keeps trying.
async fn log_refused(db: &crate::db::Pool, email: &str, ip: &str, now: i64) -> Result<(), sqlx::Error> {
    if !audit::logged_since(db, AuditAction::LoginRefused, email, ip, now - throttle::WINDOW_SECS).await? {
        let details = "locked out after repeated failures";
        let entry = Entry {
            actor: email,
            ip,
            action: AuditAction::LoginRefused,
            target: email,
            result: Outcome::Refused,
            details,
        };
        audit::record(db, entry).await?;
    }
    Ok(())
}

/// The lock-out's log line: `for 1 minute more sign-ins from 127.0.0.1 refused`.
fn lockout_details(secs_left: i64, ip: &str) -> String {
    format!("{} more sign-ins from {ip} refused", wait_words(secs_left))
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

pub(super) fn locked_message(secs_left: i64) -> String {
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
