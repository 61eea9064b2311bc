//! Confirming one's identity for sensitive changes (`/account/confirm`): the password, and a code with a second
//! factor, or the provider again for a single sign-on session. It opens a few minutes in which such changes are
//! allowed; a sensitive change asked without it is sent here ([`ask`]) and back to its page afterwards.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::auth::{CurrentUser, local_path};
use super::htmx::HxRedirect;
use super::session::Session;
use super::{AppError, AppState, ClientIp, Flash, Nav, Section, render};
use crate::identity::{STEP_UP_SECS, StepUp};

const CONFIRM: &str = "/account/confirm";

pub(crate) fn router() -> Router<AppState> {
    Router::new().route(CONFIRM, get(form).post(submit))
}

#[derive(Template)]
#[template(path = "confirm_identity.html")]
struct ConfirmPage<'a> {
    nav: Nav,
    next: &'a str,
    error: Option<String>,
    /// The provider's name, for a session made through it.
    provider: Option<&'a str>,
    two_factor: bool,
    minutes: i64,
}

fn page(
    state: &AppState,
    user: &CurrentUser,
    status: StatusCode,
    next: &str,
    error: Option<String>,
) -> Result<Response, AppError> {
    let provider = state.identity.sso().filter(|_| user.through_provider).map(|s| s.name());
    let page = ConfirmPage {
        nav: Nav::for_user(user, Section::None),
        next,
        error,
        provider,
        two_factor: user.two_factor,
        minutes: STEP_UP_SECS / 60,
    };
    Ok((status, render(&page)?).into_response())
}

/// The answer to a sensitive change asked without a confirmed identity: the confirm page, which comes back to `back`
/// (for htmx through `HX-Redirect`, as the page must change).
pub(crate) fn ask(htmx: bool, back: &str) -> Response {
    let back = local_path(back).unwrap_or("/accounts");
    let url = format!("{CONFIRM}?next={}", form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>());
    if htmx { (StatusCode::FORBIDDEN, HxRedirect(url), ()).into_response() } else { Redirect::to(&url).into_response() }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

fn next_of(next: Option<&str>) -> &str {
    next.and_then(local_path).unwrap_or("/accounts")
}

async fn form(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    page(&state, &user, StatusCode::OK, next_of(q.next.as_deref()), None)
}

#[derive(Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
    next: Option<String>,
}

async fn submit(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, AppError> {
    let next = next_of(form.next.as_deref());
    let outcome = state.identity.step_up(user.id, user.through_provider, form.password, &form.code, &ip).await?;
    let status = match outcome {
        StepUp::Done => {
            session.set_stepped_up(state.identity.now()).await?;
            let minutes = STEP_UP_SECS / 60;
            let message =
                format!("Confirmed: for the next {minutes} minutes you can make sensitive changes. Do it again now.");
            session.set_flash(Flash::ok(message)).await?;
            return Ok(Redirect::to(next).into_response());
        }
        StepUp::Locked { .. } | StepUp::WrongPassword { locked: Some(_) } | StepUp::WrongCode { locked: Some(_) } => {
            StatusCode::TOO_MANY_REQUESTS
        }
        StepUp::WrongPassword { locked: None } | StepUp::WrongCode { locked: None } => StatusCode::UNAUTHORIZED,
        StepUp::NeedsCode | StepUp::ThroughProvider => StatusCode::UNPROCESSABLE_ENTITY,
        StepUp::CannotCheck | StepUp::Busy => StatusCode::SERVICE_UNAVAILABLE,
    };
    page(&state, &user, status, next, Some(outcome.message()))
}
