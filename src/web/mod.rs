//! The console's web interface: one module per page, put together by [`build_router`]. Handlers extract, call a
//! service (or the database module for the console's own users and log), and render.

mod accounts;
mod assets;
mod audit;
mod auth;
mod csv;
mod error;
mod format;
mod health;
mod htmx;
mod login;
mod paging;
mod users;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::middleware;
use axum::response::{Html, Redirect};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use sqlx::SqlitePool;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tower_http::csrf::CsrfLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::SqliteStore;

use crate::accounts::Accounts;
use crate::config::WebSettings;
pub(crate) use error::AppError;

/// Everything a handler needs, built once at start-up; cheap to clone.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) db: SqlitePool,
    pub(crate) accounts: Accounts,
    pub(crate) settings: Arc<WebSettings>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const SESSION_COOKIE: &str = "ma_session";

/// The whole application: pages, static files, sessions, sign-in guard, CSRF check and security headers.
pub(crate) fn build_router(state: AppState) -> Router {
    let settings = state.settings.clone();
    let idle = time::Duration::try_from(settings.session_idle).unwrap_or(time::Duration::minutes(30));
    let sessions = SessionManagerLayer::new(SqliteStore::new(state.db.clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(settings.secure_cookies())
        // Saving on every request is what moves the inactivity deadline forward.
        .with_always_save(true)
        .with_expiry(Expiry::OnInactivity(idle));

    let probes = health::router(state.clone());
    let pages = Router::new()
        .route("/", get(|| async { Redirect::to("/accounts") }))
        .merge(login::router())
        .merge(users::router())
        .merge(accounts::router())
        .merge(audit::router())
        .fallback(|| async { AppError::NotFound })
        .layer(middleware::from_fn_with_state(state.clone(), auth::guard))
        .layer(sessions)
        .with_state(state);

    let csrf = CsrfLayer::new()
        .add_trusted_origin(settings.public_url.origin().ascii_serialization())
        .unwrap_or_else(|_| CsrfLayer::new());

    Router::new()
        .merge(pages)
        .merge(assets::router())
        .merge(probes)
        .layer(middleware::from_fn(error::render_errors))
        .layer(csrf)
        // Pages show who is signed in and what they may do: never cache them. Static files set their own.
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, content_security_policy(&settings)))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        // A handler may ask for stricter (the Rich Media CMS redirect carries a KS: `no-referrer`).
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default();
            tracing::info_span!("request", method = %req.method(), path = req.uri().path(), request_id = id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// `Content-Security-Policy`: scripts and styles from this site only (no inline code anywhere), no framing, and
/// forms may post here or to the Rich Media CMS (where "Rich Media CMS Login" lands).
fn content_security_policy(settings: &WebSettings) -> HeaderValue {
    let kmc = settings.kmc_url.origin().ascii_serialization();
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self' {kmc}"
    );
    HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"))
}

/// The peer's IP address, for the audit log and throttling (`unknown` when served without connection info).
pub(crate) struct ClientIp(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        Ok(ClientIp(ip.unwrap_or_else(|| "unknown".into())))
    }
}

/// A one-line message shown at the top of the next page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Flash {
    pub(crate) ok: bool,
    pub(crate) message: String,
}

impl Flash {
    pub(crate) fn ok(message: impl Into<String>) -> Flash {
        Flash { ok: true, message: message.into() }
    }
    pub(crate) fn error(message: impl Into<String>) -> Flash {
        Flash { ok: false, message: message.into() }
    }
}

/// The part of the console a page belongs to, for the navigation's highlight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Section {
    #[default]
    None,
    Accounts,
    Users,
    Audit,
}

/// What `base.html` shows around every page: the signed-in user, the current section, a flash message.
#[derive(Debug, Clone, Default)]
pub(crate) struct Nav {
    pub(crate) user_name: Option<String>,
    pub(crate) section: Section,
    pub(crate) flash: Option<Flash>,
    /// Whether the navigation to the admin pages is shown.
    pub(crate) admin: bool,
}

impl Nav {
    pub(crate) fn anonymous() -> Nav {
        Nav::default()
    }

    pub(crate) fn for_user(user: &auth::CurrentUser, section: Section) -> Nav {
        Nav { user_name: Some(user.name.clone()), section, flash: None, admin: user.role.is_admin() }
    }
}

/// Renders a template, turning a template failure into an [`AppError`].
pub(crate) fn render(t: &impl Template) -> Result<Html<String>, AppError> {
    Ok(Html(t.render()?))
}
