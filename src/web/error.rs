//! One error type for every handler. Its response carries only a status and a message safe to show; the
//! [`render_errors`] middleware turns it into a full page, or a fragment for htmx, with the request id, so a user can
//! quote it and an operator can find the logged details.

use askama::Template;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use super::Nav;
use super::htmx::{is_htmx, to_flash};

#[derive(Debug, thiserror::Error)]
pub(crate) enum AppError {
    #[error("not found")]
    NotFound,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("session store: {0}")]
    Session(#[from] tower_sessions::session::Error),
    #[error("template: {0}")]
    Template(#[from] askama::Error),
    /// Kaltura could not give the accounts a page needs (its errors are already free of any KS).
    #[error("{}", kaltura_failure(.0))]
    Kaltura(#[from] kaltura::KalturaError),
    /// The request itself was wrong; the text says how.
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What a page that could not load its accounts says: Kaltura's own message, or what to check.
pub(crate) fn kaltura_failure(e: &kaltura::KalturaError) -> String {
    match e {
        kaltura::KalturaError::Api { message, .. } => format!("Can't load accounts: {message}"),
        other => format!("Can't load accounts. {other}. Check that Kaltura is reachable, then retry."),
    }
}

/// What the user is told; set on the response by [`AppError`] for [`render_errors`] to render.
#[derive(Debug, Clone)]
struct ErrorNotice {
    status: StatusCode,
    message: String,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let notice = match &self {
            AppError::NotFound => {
                ErrorNotice { status: StatusCode::NOT_FOUND, message: "There is nothing at this address.".into() }
            }
            AppError::Kaltura(e) => {
                tracing::warn!(error = %e, "Kaltura failed a request");
                ErrorNotice { status: StatusCode::BAD_GATEWAY, message: kaltura_failure(e) }
            }
            AppError::BadRequest(message) => ErrorNotice { status: StatusCode::BAD_REQUEST, message: message.clone() },
            _ => {
                // Inside the request's trace span, so the log line carries the request id.
                tracing::error!(error = %self, "request failed");
                ErrorNotice {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: "Something went wrong on our side. Please try again; if it keeps happening, give your \
                              administrator the request id below."
                        .into(),
                }
            }
        };
        let mut res = notice.status.into_response();
        res.extensions_mut().insert(notice);
        res
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: Nav,
    title: &'a str,
    message: &'a str,
    request_id: &'a str,
}

#[derive(Template)]
#[template(path = "partials/error.html")]
struct ErrorFragment<'a> {
    message: &'a str,
    request_id: &'a str,
}

/// Renders responses that carry an [`ErrorNotice`]: a page, or for htmx a notice swapped into `#flash`.
pub(crate) async fn render_errors(req: Request, next: Next) -> Response {
    let htmx = is_htmx(req.headers());
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("unknown").to_owned();
    let mut res = next.run(req).await;
    let Some(notice) = res.extensions_mut().remove::<ErrorNotice>() else {
        return res;
    };
    let title = notice.status.canonical_reason().unwrap_or("Error");
    let body = if htmx {
        ErrorFragment { message: &notice.message, request_id: &request_id }.render()
    } else {
        ErrorPage { nav: Nav::anonymous(), title, message: &notice.message, request_id: &request_id }.render()
    };
    let body = body.unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot render the error page");
        format!("{title} (request id {request_id})")
    });
    if htmx {
        (notice.status, to_flash(), Html(body)).into_response()
    } else {
        (notice.status, Html(body)).into_response()
    }
}
