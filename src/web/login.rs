//! Signing in and out: the password step, then for a user with a second factor the code step. Each form is handed to
//! the identity service, whose [`SignIn`] outcome is shown here.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::auth::{self, CurrentUser, local_path};
use super::session::{self, Session};
use super::{AppError, AppState, ClientIp, Flash, Nav, render};
use crate::config::oidc::LocalLogin;
use crate::identity::{BUSY, CANNOT_CHECK, Refusal, SignIn, clip, locked_message};

/// The open routes: the two steps of signing in.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/login", get(show).post(submit)).route(CODE_STEP, get(code_form).post(submit_code))
}

/// The routes for any signed-in user.
pub(crate) fn signed_in_router() -> Router<AppState> {
    Router::new().route("/logout", post(logout))
}

const CODE_STEP: &str = "/login/code";
const WRONG: &str = "Wrong email or password.";
const WRONG_CODE: &str = "Wrong code.";
const TOO_MANY_CODES: &str = "Too many wrong codes: enter your password again.";
/// The start page: the parents side by side, or the one parent's accounts.
const HOME: &str = "/";

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
            sso: state.identity.sso().map(|s| s.name()),
            passwords: state.identity.local_login() != LocalLogin::None,
        }
    }
}

#[derive(Template)]
#[template(path = "login_code.html")]
struct CodePage {
    nav: Nav,
    error: Option<String>,
}

fn code_page(status: StatusCode, error: Option<String>) -> Result<Response, AppError> {
    Ok((status, render(&CodePage { nav: Nav::anonymous(), error })?).into_response())
}

/// Names a response's outcome for the sign-in counter where its status alone would not say it.
#[derive(Debug, Clone, Copy)]
struct Counted(&'static str);

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
    /// The browser came with a session that had ended: say so.
    ended: Option<String>,
    /// Just signed out: confirm it.
    signed_out: Option<String>,
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
    let said = if q.signed_out.is_some() {
        Some(Flash::ok("You are signed out."))
    } else if q.ended.is_some() {
        let idle = state.settings.session_idle.as_secs() / 60;
        let max = state.settings.session_max.as_secs() / 3600;
        Some(Flash::error(format!(
            "Your session ended ({idle} minutes without activity, or {max} hours after signing in). Sign in again \
             to go on where you were."
        )))
    } else {
        None
    };
    let nav = Nav { flash: session.take_flash().await?.or(said), ..Nav::anonymous() };
    let page = render(&LoginPage { nav, ..LoginPage::new(&state, "", next, None) })?;
    // Said once: the mark goes.
    let unmark = [(header::SET_COOKIE, session::unmark_signed_in(state.settings.secure_cookies()))];
    Ok((unmark, page).into_response())
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
    ClientIp(ip): ClientIp,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let next = next_or_home(form.next.as_deref()).to_owned();
    let email = form.email.trim().to_owned();
    let outcome = state.identity.password_step(&email, form.password, &ip, &next).await?;
    let page = |status: StatusCode, shown: &str, error: String| -> Result<Response, AppError> {
        Ok((status, render(&LoginPage::new(&state, shown, &next, Some(error)))?).into_response())
    };
    let res = match outcome {
        SignIn::Done { user, recovery_codes_left } => {
            session.sign_in(&user, state.identity.now(), None).await?;
            warn_of_recovery_codes(&session, recovery_codes_left).await?;
            signed_in_to(&state, &next)
        }
        SignIn::NeedsCode(pending) => {
            session.wait_for_code(&pending).await?;
            let mut res = Redirect::to(CODE_STEP).into_response();
            res.extensions_mut().insert(Counted("code_asked"));
            res
        }
        SignIn::Locked { secs } => page(StatusCode::TOO_MANY_REQUESTS, &email, locked_message(secs))?,
        SignIn::Wrong { locked: Some(secs), .. } => {
            page(StatusCode::TOO_MANY_REQUESTS, &email, format!("{WRONG} {}", locked_message(secs)))?
        }
        SignIn::Wrong { locked: None, .. } => page(StatusCode::UNAUTHORIZED, &email, WRONG.to_owned())?,
        SignIn::Refused(why @ Refusal::TooLong) => {
            // No account has such an email: echoed only in part.
            page(StatusCode::UNPROCESSABLE_ENTITY, clip(&email, crate::db::users::MAX_EMAIL), why.to_string())?
        }
        SignIn::Refused(why @ Refusal::PasswordsOff(_)) => page(StatusCode::FORBIDDEN, "", why.to_string())?,
        SignIn::Refused(why) => page(StatusCode::FORBIDDEN, &email, why.to_string())?,
        SignIn::Busy => page(StatusCode::SERVICE_UNAVAILABLE, &email, BUSY.to_owned())?,
        SignIn::CannotCheck => page(StatusCode::SERVICE_UNAVAILABLE, &email, CANNOT_CHECK.into())?,
    };
    Ok(count(res))
}

/// Counts one sign-in step's outcome in `console_sign_ins_total`.
fn count(res: Response) -> Response {
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
    res
}

/// Back to the password, saying why, with no sign-in waiting any more.
async fn start_again(session: &Session, message: &str) -> Result<Response, AppError> {
    session.drop_pending_code().await?;
    session.set_flash(Flash::error(message)).await?;
    Ok(Redirect::to("/login").into_response())
}

async fn code_form(State(state): State<AppState>, session: Session) -> Result<Response, AppError> {
    let Some(pending) = session.pending_code().await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    if state.identity.pending_user(&pending).await?.is_none() {
        return start_again(&session, &Refusal::Expired.to_string()).await;
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
    ClientIp(ip): ClientIp,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let Some(mut pending) = session.pending_code().await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let res = match state.identity.code_step(&mut pending, &form.code, &ip).await? {
        SignIn::Done { user, recovery_codes_left } => {
            session.sign_in(&user, state.identity.now(), None).await?;
            warn_of_recovery_codes(&session, recovery_codes_left).await?;
            signed_in_to(&state, &pending.next)
        }
        SignIn::Refused(Refusal::CodeNotNeeded) => {
            session.drop_pending_code().await?;
            Redirect::to("/login").into_response()
        }
        SignIn::Refused(why) => start_again(&session, &why.to_string()).await?,
        SignIn::Wrong { locked, ended: true } => {
            // The waiting sign-in is over: the sign-in page, saying why.
            session.drop_pending_code().await?;
            let (status, message) = match locked {
                Some(secs) => (StatusCode::TOO_MANY_REQUESTS, format!("{WRONG_CODE} {}", locked_message(secs))),
                None => (StatusCode::UNAUTHORIZED, TOO_MANY_CODES.to_owned()),
            };
            (status, render(&LoginPage::new(&state, "", &pending.next, Some(message)))?).into_response()
        }
        SignIn::Wrong { locked: Some(secs), ended: false } => {
            session.update_pending_code(&pending).await?;
            code_page(StatusCode::TOO_MANY_REQUESTS, Some(format!("{WRONG_CODE} {}", locked_message(secs))))?
        }
        SignIn::Wrong { locked: None, ended: false } => {
            session.update_pending_code(&pending).await?;
            code_page(StatusCode::UNAUTHORIZED, Some(WRONG_CODE.to_owned()))?
        }
        SignIn::Locked { secs } => code_page(StatusCode::TOO_MANY_REQUESTS, Some(locked_message(secs)))?,
        SignIn::CannotCheck => {
            let message = "The server cannot check authenticator codes right now: its secret key is missing or wrong. \
                           Sign in with a recovery code, or ask your administrator.";
            let mut res = code_page(StatusCode::SERVICE_UNAVAILABLE, Some(message.to_owned()))?;
            res.extensions_mut().insert(Counted("cannot_check"));
            res
        }
        SignIn::Busy => code_page(StatusCode::SERVICE_UNAVAILABLE, Some(BUSY.to_owned()))?,
        SignIn::NeedsCode(_) => Redirect::to(CODE_STEP).into_response(),
    };
    Ok(count(res))
}

async fn logout(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
) -> Result<Response, AppError> {
    let id_token = session.signed_in_as().await?.and_then(|s| s.id_token);
    session.end().await?;
    state.identity.signed_out(&user.email, &ip).await?;
    // Signed in through the provider: signed out there too, when it offers it, and back to the sign-in page.
    if let (Some(sso), Some(id_token)) = (state.identity.sso(), id_token)
        && let Some(url) = sso.logout_url(&id_token).await
    {
        return Ok(Redirect::to(url.as_str()).into_response());
    }
    let unmark = [(header::SET_COOKIE, session::unmark_signed_in(state.settings.secure_cookies()))];
    Ok((unmark, Redirect::to("/login?signed_out=1")).into_response())
}

/// Signed in with a recovery code: the first page says how many are left and what to do.
async fn warn_of_recovery_codes(session: &Session, left: Option<i64>) -> Result<(), AppError> {
    let Some(left) = left else { return Ok(()) };
    let codes = if left == 1 { "1 recovery code is".to_owned() } else { format!("{left} recovery codes are") };
    let message = format!(
        "You signed in with a recovery code: {codes} left. If your authenticator is lost, make new codes (or set it \
         up again) on your Two-factor page."
    );
    session.set_flash(Flash::error(message)).await
}

/// After signing in: on to `next`, the browser marked as signed in (see [`session::mark_signed_in`]).
pub(super) fn signed_in_to(state: &AppState, next: &str) -> Response {
    let mark = session::mark_signed_in(state.settings.secure_cookies(), state.settings.session_max);
    ([(header::SET_COOKIE, mark)], Redirect::to(next)).into_response()
}
