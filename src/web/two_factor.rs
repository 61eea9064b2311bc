//! The signed-in user's own two-factor sign-in (`/account/two-factor`, linked from the header): set it up with an
//! authenticator app (a QR code, the secret in text, one code to confirm, then ten recovery codes shown once), make
//! new recovery codes or turn it off with a code. The identity service decides; the new secret waits in the session
//! sealed with the server's key until a code confirms it.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::auth::{CurrentUser, TWO_FACTOR_PAGE};
use super::session::Session;
use super::{AppError, AppState, ClientIp, Flash, Nav, Section, render};
use crate::identity::{CANNOT_CHECK, CodeChange, Enrolment, TwoFactorView, locked_message};

const PAGE: &str = TWO_FACTOR_PAGE;
const DISABLE_UNCHANGED: &str = "two-factor sign-in is still on.";
const CODES_UNCHANGED: &str = "your recovery codes are unchanged.";

/// For any signed-in user: a Manager sets up and keeps their own second factor too.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(show))
        .route("/account/two-factor/set-up", post(set_up))
        .route("/account/two-factor/confirm", post(confirm))
        .route("/account/two-factor/turn-off", post(turn_off))
        .route("/account/two-factor/recovery-codes", post(new_recovery_codes))
}

enum View {
    NoKey,
    Off,
    SettingUp {
        qr_svg: String,
        secret: String,
    },
    /// Just set up, or new: the recovery codes, shown this once.
    RecoveryCodes(Vec<String>),
    On {
        codes_left: i64,
    },
}

impl From<TwoFactorView> for View {
    fn from(v: TwoFactorView) -> View {
        match v {
            TwoFactorView::NoKey => View::NoKey,
            TwoFactorView::Off => View::Off,
            TwoFactorView::SettingUp { qr_svg, secret } => View::SettingUp { qr_svg, secret },
            TwoFactorView::On { codes_left } => View::On { codes_left },
        }
    }
}

#[derive(Template)]
#[template(path = "two_factor.html")]
struct TwoFactorPage {
    nav: Nav,
    view: View,
    /// Two-factor sign-in is required and the user has none yet.
    required: bool,
    error: Option<String>,
    /// The provider's name, with single sign-on.
    sso: Option<String>,
    /// The user is linked to an identity at the provider.
    linked: bool,
}

async fn respond(
    state: &AppState,
    user: &CurrentUser,
    status: StatusCode,
    view: View,
    flash: Option<Flash>,
    error: Option<String>,
) -> Result<Response, AppError> {
    let required = state.identity.require_2fa() && !user.two_factor && !matches!(view, View::RecoveryCodes(_));
    let sso = state.identity.sso().map(|s| s.name().to_owned());
    let linked = sso.is_some() && state.identity.is_linked(user.id).await?;
    let nav = Nav { flash, ..Nav::for_user(user, Section::None) };
    let page = TwoFactorPage { nav, view, required, error, sso, linked };
    Ok((status, render(&page)?).into_response())
}

/// What the user has now: on, being set up, off, or no key.
async fn current(state: &AppState, session: &Session, user: &CurrentUser) -> Result<View, AppError> {
    let sealed = session.new_secret().await?;
    Ok(state.identity.two_factor_view(user.id, &user.email, sealed.as_deref()).await?.into())
}

async fn show(State(state): State<AppState>, session: Session, user: CurrentUser) -> Result<Response, AppError> {
    let flash = session.take_flash().await?;
    let view = current(&state, &session, &user).await?;
    respond(&state, &user, StatusCode::OK, view, flash, None).await
}

/// A new secret for the session; the page then shows its QR code. Asked again, it starts afresh.
async fn set_up(State(state): State<AppState>, session: Session, user: CurrentUser) -> Result<Response, AppError> {
    if !user.two_factor
        && let Some(sealed) = state.identity.new_secret(user.id)
    {
        session.set_new_secret(sealed).await?;
    }
    Ok(Redirect::to(PAGE).into_response())
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

async fn confirm(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let sealed = session.new_secret().await?;
    match state.identity.enrol(user.id, &user.email, &ip, sealed.as_deref(), &form.code).await? {
        Enrolment::Done { codes, generation } => {
            // The user's other sessions, opened with the password alone, have ended; this one goes on.
            session.keep_after_change(generation).await?;
            session.drop_new_secret().await?;
            let user = CurrentUser { two_factor: true, ..user };
            let flash = Flash::ok("Two-factor sign-in is on: from now on you sign in with your password and a code.");
            respond(&state, &user, StatusCode::OK, View::RecoveryCodes(codes), Some(flash), None).await
        }
        Enrolment::WrongCode => {
            let error = "That is not the code your app shows now: check that it was added from this page's QR code, \
                         and enter the 6 digits it shows.";
            let view = current(&state, &session, &user).await?;
            respond(&state, &user, StatusCode::UNPROCESSABLE_ENTITY, view, None, Some(error.into())).await
        }
        Enrolment::NotPending => Ok(Redirect::to(PAGE).into_response()),
    }
}

/// Turning it off takes a current code or a recovery code; wrong ones count toward the sign-in lock-out, so a
/// session left open cannot be used to guess them.
async fn turn_off(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    match state.identity.turn_off_two_factor(user.id, &user.email, &ip, &form.code).await? {
        CodeChange::Done(_) => {
            session.set_flash(Flash::ok("Two-factor sign-in is off: you sign in with your password alone.")).await?;
            Ok(Redirect::to(PAGE).into_response())
        }
        refused => refuse(&state, &session, &user, refused, DISABLE_UNCHANGED).await,
    }
}

/// Ten new recovery codes in place of the old ones, for a current code or a recovery code.
async fn new_recovery_codes(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    match state.identity.new_recovery_codes(user.id, &user.email, &ip, &form.code).await? {
        CodeChange::Done(codes) => {
            let flash = Flash::ok("New recovery codes: the earlier ones no longer work.");
            respond(&state, &user, StatusCode::OK, View::RecoveryCodes(codes.unwrap_or_default()), Some(flash), None)
                .await
        }
        refused => refuse(&state, &session, &user, refused, CODES_UNCHANGED).await,
    }
}

/// The page again, saying why a change that needed a code did not happen (and what stays `unchanged`).
async fn refuse(
    state: &AppState,
    session: &Session,
    user: &CurrentUser,
    change: CodeChange,
    unchanged: &str,
) -> Result<Response, AppError> {
    let (status, error) = match change {
        CodeChange::Done(_) | CodeChange::NotEnrolled => return Ok(Redirect::to(PAGE).into_response()),
        CodeChange::Locked { secs } => (StatusCode::TOO_MANY_REQUESTS, locked_message(secs)),
        CodeChange::Wrong { locked: Some(secs) } => {
            (StatusCode::TOO_MANY_REQUESTS, format!("Wrong code: {unchanged} {}", locked_message(secs)))
        }
        CodeChange::Wrong { locked: None } => (StatusCode::UNPROCESSABLE_ENTITY, format!("Wrong code: {unchanged}")),
        CodeChange::CannotCheck => (StatusCode::SERVICE_UNAVAILABLE, CANNOT_CHECK.to_owned()),
    };
    let view = current(state, session, user).await?;
    respond(state, user, status, view, None, Some(error)).await
}
