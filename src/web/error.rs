//! One error type for every handler. Its response carries only a status and a message safe to show; the
//! [`render_errors`] middleware turns it into a full page, or a fragment for htmx, with the request id, so a user can
//! quote it and an operator can find the logged details.

use askama::Template;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use super::auth::CurrentUser;
use super::htmx::{is_htmx, to_flash};
use super::{Nav, Section};

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
    /// Kaltura could not give what a page needs (its errors are already free of any KS).
    #[error("{}", kaltura_failure(*.0, .1))]
    Kaltura(Loading, kaltura::KalturaError),
    /// The request itself was wrong; the text says how.
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<crate::identity::Error> for AppError {
    fn from(e: crate::identity::Error) -> AppError {
        match e {
            crate::identity::Error::Db(e) => AppError::Database(e),
            crate::identity::Error::Internal(e) => AppError::Internal(e),
        }
    }
}

/// What a page could not load from Kaltura.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loading {
    Accounts,
    Account,
    Usage,
}

impl Loading {
    fn noun(self) -> &'static str {
        match self {
            Loading::Accounts => "accounts",
            Loading::Account => "the account",
            Loading::Usage => "the usage",
        }
    }
}

impl AppError {
    /// Kaltura failed to give `what`: the page says so (502).
    pub(crate) fn kaltura(what: Loading) -> impl FnOnce(kaltura::KalturaError) -> AppError {
        move |e| AppError::Kaltura(what, e)
    }
}

/// What a page that could not load `what` says: Kaltura's own message, or what to check.
pub(crate) fn kaltura_failure(what: Loading, e: &kaltura::KalturaError) -> String {
    let noun = what.noun();
    match e {
        kaltura::KalturaError::Api { message, .. } => format!("Can't load {noun}: {message}"),
        other => format!("Can't load {noun}. {other}. Check that Kaltura is reachable, then retry."),
    }
}

/// What the user is told; set on the response by [`AppError`] for [`render_errors`] to render.
#[derive(Debug, Clone)]
struct ErrorNotice {
    status: StatusCode,
    message: String,
    /// The page's heading; by default from the status ([`title_for`]).
    title: Option<&'static str>,
}

/// A heading in words a user reads, not the HTTP status's name.
fn title_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "This request cannot be used",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::METHOD_NOT_ALLOWED => "This address does not take that request",
        StatusCode::PAYLOAD_TOO_LARGE => "Too large",
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
        StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT => "Kaltura isn't responding",
        StatusCode::SERVICE_UNAVAILABLE => "Busy: try again in a moment",
        s if s.is_server_error() => "Something went wrong",
        _ => "This request cannot be used",
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let notice = match &self {
            AppError::NotFound => ErrorNotice {
                status: StatusCode::NOT_FOUND,
                message: "There is nothing at this address.".into(),
                title: None,
            },
            AppError::Kaltura(what, e) => {
                tracing::warn!(error = %e, "Kaltura failed a request");
                let title = matches!(e, kaltura::KalturaError::Api { .. }).then_some("Kaltura refused the request");
                ErrorNotice { status: StatusCode::BAD_GATEWAY, message: kaltura_failure(*what, e), title }
            }
            AppError::BadRequest(message) => {
                ErrorNotice { status: StatusCode::BAD_REQUEST, message: message.clone(), title: None }
            }
            _ => {
                // Inside the request's trace span, so the log line carries the request id.
                tracing::error!(error = %self, "request failed");
                ErrorNotice {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: "Something went wrong on our side. Please try again; if it keeps happening, give your \
                              administrator the request id below."
                        .into(),
                    title: None,
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
    /// The address to ask again (a page that failed to load, not a form that was refused).
    retry: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "partials/error.html")]
struct ErrorFragment<'a> {
    message: &'a str,
    request_id: &'a str,
}

/// Who is signed in, carried on a failed response from inside the sign-in guard out to [`render_errors`], so the
/// error page keeps the navigation.
#[derive(Clone)]
struct SignedIn(CurrentUser);

/// Middleware just inside the sign-in guard (which put the user in the request): marks failed responses with the user.
pub(crate) async fn mark_signed_in(req: Request, next: Next) -> Response {
    let user = req.extensions().get::<CurrentUser>().cloned();
    let mut res = next.run(req).await;
    if let Some(user) = user
        && (res.status().is_client_error() || res.status().is_server_error())
    {
        res.extensions_mut().insert(SignedIn(user));
    }
    res
}

/// How much of a bare refusal's own text (axum's rejection messages) is read to explain it.
const DETAIL_LIMIT: usize = 4096;

/// Renders every failed response as a page, or for htmx a notice swapped into `#flash`, with the request id:
/// those that carry an [`ErrorNotice`], and the bare refusals of the layers and extractors (a CSRF 403, a 405, an
/// unreadable path or form), which would otherwise reach the browser as an empty or plain-text body.
pub(crate) async fn render_errors(req: Request, next: Next) -> Response {
    let htmx = is_htmx(req.headers());
    let retry = (req.method() == axum::http::Method::GET)
        .then(|| {
            let sent = req.extensions().get::<axum::extract::OriginalUri>().map_or(req.uri(), |o| &o.0);
            sent.path_and_query().map(|pq| pq.as_str().to_owned())
        })
        .flatten();
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("unknown").to_owned();
    let mut res = next.run(req).await;
    let nav = res
        .extensions_mut()
        .remove::<SignedIn>()
        .map_or_else(Nav::anonymous, |SignedIn(user)| Nav::for_user(&user, Section::None));
    let notice = match res.extensions_mut().remove::<ErrorNotice>() {
        Some(notice) => notice,
        None if is_bare_refusal(&res) => {
            let status = res.status();
            let detail = axum::body::to_bytes(res.into_body(), DETAIL_LIMIT).await.unwrap_or_default();
            ErrorNotice { status, message: refusal_message(status, &String::from_utf8_lossy(&detail)), title: None }
        }
        None => return res,
    };
    let title = notice.title.unwrap_or_else(|| title_for(notice.status));
    let body = if htmx {
        ErrorFragment { message: &notice.message, request_id: &request_id }.render()
    } else {
        let retry = retry.as_deref().filter(|_| notice.status.is_server_error());
        ErrorPage { nav, title, message: &notice.message, request_id: &request_id, retry }.render()
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

/// A failure that is not a page of ours: an error status without an HTML body. (htmx's sign-in redirect is a 401
/// that htmx follows by its header, and stays as it is.)
fn is_bare_refusal(res: &Response) -> bool {
    let html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    (res.status().is_client_error() || res.status().is_server_error())
        && !html
        && !res.headers().contains_key(axum_htmx::HX_REDIRECT)
}

/// What a bare refusal means, in words; `detail` is the refusal's own text (it may quote the request, and is shown
/// escaped and cut short).
fn refusal_message(status: StatusCode, detail: &str) -> String {
    let detail: String = detail.trim().chars().filter(|c| !c.is_control()).take(200).collect();
    let with_detail = |what: &str| if detail.is_empty() { format!("{what}.") } else { format!("{what}: {detail}") };
    match status {
        StatusCode::BAD_REQUEST => with_detail("The request could not be read"),
        StatusCode::FORBIDDEN => "The request was refused because it did not come from the console's own pages (a \
                                  form on another site, or a page open since before a restart). Reload the page and \
                                  try again."
            .into(),
        StatusCode::METHOD_NOT_ALLOWED => "This address cannot be used that way. Go back to the page you came \
                                           from and use its buttons."
            .into(),
        StatusCode::PAYLOAD_TOO_LARGE => "The request is too large.".into(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "The request was sent in a form the console does not read.".into(),
        StatusCode::UNPROCESSABLE_ENTITY => with_detail("The form could not be read"),
        other => format!("The request failed ({}).", other.canonical_reason().unwrap_or("error")),
    }
}
