//! The signed-in user's own two-factor sign-in (`/account/two-factor`, linked from the header): set it up with an
//! authenticator app (a QR code, the secret in text, one code to confirm, then ten recovery codes shown once), or
//! turn it off with a code. The new secret lives only in the session until a code confirms it; then it is stored
//! encrypted and never shown again.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::auth::{self, CurrentUser};
use super::{AppError, AppState, ClientIp, Flash, Nav, Section, login, render};
use crate::db::audit::{self, AuditAction, Entry, Outcome};
use crate::db::{throttle, unix_now};
use crate::two_factor::{self, CheckError, Checked, Code, RecoveryCode, Secret};

pub(crate) const PAGE: &str = "/account/two-factor";
const SET_UP: &str = "/account/two-factor/set-up";
const CONFIRM: &str = "/account/two-factor/confirm";
const TURN_OFF: &str = "/account/two-factor/turn-off";
const RECOVERY_CODES: &str = "/account/two-factor/recovery-codes";
const DISABLE_UNCHANGED: &str = "two-factor sign-in is still on.";
const CODES_UNCHANGED: &str = "your recovery codes are unchanged.";
/// The session's new secret, until a code confirms it.
const NEW_SECRET: &str = "two_factor_new_secret";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(show))
        .route(SET_UP, post(set_up))
        .route(CONFIRM, post(confirm))
        .route(TURN_OFF, post(turn_off))
        .route(RECOVERY_CODES, post(new_recovery_codes))
}

/// The pages a user without a second factor may open when one is required.
pub(crate) fn is_set_up_page(path: &str) -> bool {
    [PAGE, SET_UP, CONFIRM, TURN_OFF].contains(&path)
}

/// A secret being set up, and whose it is (a session outlives nobody's sign-in, but the check costs nothing).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct NewSecret {
    user_id: i64,
    secret: Secret,
}

enum View {
    /// The server has no key to encrypt secrets with.
    NoKey,
    Off,
    SettingUp {
        qr_svg: String,
        secret: String,
    },
    /// Just set up: the recovery codes, shown this once.
    RecoveryCodes(Vec<String>),
    On {
        codes_left: i64,
    },
}

#[derive(Template)]
#[template(path = "two_factor.html")]
struct TwoFactorPage {
    nav: Nav,
    view: View,
    /// Two-factor sign-in is required and the user has none yet.
    required: bool,
    error: Option<String>,
}

fn page(
    state: &AppState,
    user: &CurrentUser,
    view: View,
    flash: Option<Flash>,
    error: Option<String>,
) -> TwoFactorPage {
    let required = state.settings.require_2fa && !user.two_factor && !matches!(view, View::RecoveryCodes(_));
    TwoFactorPage { nav: Nav { flash, ..Nav::for_user(user, Section::None) }, view, required, error }
}

fn respond(status: StatusCode, page: &TwoFactorPage) -> Result<Response, AppError> {
    Ok((status, render(page)?).into_response())
}

async fn new_secret(session: &Session, user: &CurrentUser) -> Result<Option<Secret>, AppError> {
    Ok(session.get::<NewSecret>(NEW_SECRET).await?.filter(|n| n.user_id == user.id).map(|n| n.secret))
}

fn setting_up(user: &CurrentUser, secret: &Secret) -> Result<View, AppError> {
    let qr_svg = two_factor::qr_svg(&secret.otpauth_uri(&user.email))
        .map_err(|e| anyhow::anyhow!("cannot draw the QR code: {e}"))?;
    Ok(View::SettingUp { qr_svg, secret: secret.grouped() })
}

/// What the user has now: no key, on, being set up, or off.
async fn current_view(state: &AppState, session: &Session, user: &CurrentUser) -> Result<View, AppError> {
    if user.two_factor {
        let codes_left = crate::db::two_factor::recovery_codes_left(&state.db, user.id).await?;
        return Ok(View::On { codes_left });
    }
    if state.settings.secret_key.is_none() {
        return Ok(View::NoKey);
    }
    match new_secret(session, user).await? {
        Some(secret) => setting_up(user, &secret),
        None => Ok(View::Off),
    }
}

async fn show(State(state): State<AppState>, session: Session, user: CurrentUser) -> Result<Response, AppError> {
    let flash = auth::take_flash(&session).await?;
    let view = current_view(&state, &session, &user).await?;
    respond(StatusCode::OK, &page(&state, &user, view, flash, None))
}

/// A new secret for the session; the page then shows its QR code. Asked again, it starts afresh.
async fn set_up(State(state): State<AppState>, session: Session, user: CurrentUser) -> Result<Response, AppError> {
    if !user.two_factor && state.settings.secret_key.is_some() {
        session.insert(NEW_SECRET, NewSecret { user_id: user.id, secret: Secret::generate() }).await?;
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
    let (Some(key), Some(secret), false) =
        (state.settings.secret_key.as_ref(), new_secret(&session, &user).await?, user.two_factor)
    else {
        return Ok(Redirect::to(PAGE).into_response());
    };
    let now = unix_now();
    let step = match Code::parse(&form.code) {
        Code::Totp(code) => secret.matching_step(&code, now, None),
        Code::Recovery(_) | Code::Malformed => None,
    };
    let Some(step) = step else {
        let error = "That is not the code your app shows now: check that it was added from this page's QR code, \
                     and enter the 6 digits it shows.";
        let view = setting_up(&user, &secret)?;
        return respond(StatusCode::UNPROCESSABLE_ENTITY, &page(&state, &user, view, None, Some(error.into())));
    };
    let codes = RecoveryCode::generate_set();
    let hashes: Vec<String> = codes.iter().map(RecoveryCode::hash).collect();
    let sealed = key.encrypt(user.id, &secret);
    let Some(generation) = crate::db::two_factor::enrol(&state.db, user.id, &sealed, step, &hashes).await? else {
        return Err(AppError::NotFound);
    };
    // The user's other sessions, opened with the password alone, have ended; this one goes on.
    auth::keep_after_change(&session, generation).await?;
    session.remove::<NewSecret>(NEW_SECRET).await?;
    record(&state, &user, &ip, AuditAction::UserTwoFactorEnrol, Outcome::Ok, "").await?;
    let user = CurrentUser { two_factor: true, ..user };
    let flash = Flash::ok("Two-factor sign-in is on: from now on you sign in with your password and a code.");
    let view = View::RecoveryCodes(codes.iter().map(RecoveryCode::shown).collect());
    respond(StatusCode::OK, &page(&state, &user, view, Some(flash), None))
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
    if let Some(refused) =
        with_code(&state, &user, &ip, &form.code, AuditAction::UserTwoFactorDisable, DISABLE_UNCHANGED).await?
    {
        return Ok(refused);
    }
    crate::db::two_factor::disable(&state.db, user.id).await?;
    record(&state, &user, &ip, AuditAction::UserTwoFactorDisable, Outcome::Ok, "").await?;
    auth::set_flash(&session, Flash::ok("Two-factor sign-in is off: you sign in with your password alone.")).await?;
    Ok(Redirect::to(PAGE).into_response())
}

/// Ten new recovery codes in place of the old ones, for a current code or a recovery code (checked as for turning it
/// off).
async fn new_recovery_codes(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    if let Some(refused) =
        with_code(&state, &user, &ip, &form.code, AuditAction::UserTwoFactorRecoveryCodes, CODES_UNCHANGED).await?
    {
        return Ok(refused);
    }
    let codes = RecoveryCode::generate_set();
    let hashes: Vec<String> = codes.iter().map(RecoveryCode::hash).collect();
    if !crate::db::two_factor::new_recovery_codes(&state.db, user.id, &hashes).await? {
        return Ok(Redirect::to(PAGE).into_response());
    }
    record(&state, &user, &ip, AuditAction::UserTwoFactorRecoveryCodes, Outcome::Ok, "").await?;
    let flash = Flash::ok("New recovery codes: the earlier ones no longer work.");
    let view = View::RecoveryCodes(codes.iter().map(RecoveryCode::shown).collect());
    respond(StatusCode::OK, &page(&state, &user, view, Some(flash), None))
}

/// Checks the code that a change to an enrolled second factor needs. `None`: it is good (and used up). Otherwise the
/// answer to give: the page again saying why (a wrong code also counts toward the sign-in lock-out and is audited
/// under `action`, and the page says what stays `unchanged`), or back to the page when there is no second factor any more.
async fn with_code(
    state: &AppState,
    user: &CurrentUser,
    ip: &str,
    code: &str,
    action: AuditAction,
    unchanged: &str,
) -> Result<Option<Response>, AppError> {
    if !user.two_factor {
        return Ok(Some(Redirect::to(PAGE).into_response()));
    }
    let (db, now) = (&state.db, unix_now());
    let refuse = |status: StatusCode, error: String| async move {
        let codes_left = crate::db::two_factor::recovery_codes_left(db, user.id).await?;
        respond(status, &page(state, user, View::On { codes_left }, None, Some(error))).map(Some)
    };
    if let Some(until) = throttle::locked_until(db, &user.email, ip, now).await? {
        return refuse(StatusCode::TOO_MANY_REQUESTS, login::locked_message(until - now)).await;
    }
    let why = match two_factor::check(db, state.settings.secret_key.as_ref(), user.id, code, now).await {
        // Turned off meanwhile, in another session.
        Ok(Checked::NotEnrolled) => return Ok(Some(Redirect::to(PAGE).into_response())),
        Ok(Checked::Code | Checked::RecoveryCode { .. }) => return Ok(None),
        Ok(Checked::Replayed) => "code already used",
        Ok(Checked::Wrong) => "wrong code",
        Err(CheckError::Db(e)) => return Err(e.into()),
        Err(e @ (CheckError::NoKey | CheckError::Undecryptable(_))) => {
            tracing::error!(user = user.email, error = %e, "cannot check a two-factor code");
            let error = "The server cannot check authenticator codes right now: its secret key is missing or wrong. \
                         Use a recovery code, or ask your administrator.";
            return refuse(StatusCode::SERVICE_UNAVAILABLE, error.into()).await;
        }
    };
    throttle::record_failure(db, &user.email, ip, now).await?;
    record(state, user, ip, action, Outcome::Refused, why).await?;
    refuse(StatusCode::UNPROCESSABLE_ENTITY, format!("Wrong code: {unchanged}")).await
}

async fn record(
    state: &AppState,
    user: &CurrentUser,
    ip: &str,
    action: AuditAction,
    result: Outcome,
    details: &str,
) -> Result<(), AppError> {
    let entry = Entry { actor: &user.email, ip, action, target: &user.email, result, details };
    Ok(audit::record(&state.db, entry).await?)
}
