//! The console's web interface: one module per page, put together by [`build_router`].

pub mod accounts;
mod assets;
mod audit;
pub mod auth;
pub mod csv;
mod health;
pub mod login;
pub mod users;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, header};
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

use crate::config::WebSettings;
use crate::error::{self, AppError};
use crate::kaltura::KalturaClient;

/// Everything a handler needs, built once at start-up; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: SqlitePool,
    pub kaltura: KalturaClient,
    pub settings: Arc<WebSettings>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const SESSION_COOKIE: &str = "ma_session";

/// The whole application: pages, static files, sessions, sign-in guard, CSRF check and security headers.
pub fn build_router(state: AppState) -> Router {
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

    accounts::spawn_background(state.clone());
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

/// True for requests htmx makes (it sends `HX-Request: true`).
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get("hx-request").is_some_and(|v| v.as_bytes() == b"true")
}

/// True for an htmx request that wants only the element `target_id` swapped (a history restore, which htmx makes
/// when Back finds no cached page, needs the whole page instead).
pub fn wants_fragment(headers: &HeaderMap, target_id: &str) -> bool {
    is_htmx(headers)
        && headers.get("hx-history-restore-request").is_none()
        && headers.get("hx-target").is_some_and(|t| t.as_bytes() == target_id.as_bytes())
}

/// The htmx-ness of a request, as an extractor.
pub struct Htmx(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for Htmx {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Htmx(is_htmx(&parts.headers)))
    }
}

/// The peer's IP address, for the audit log and throttling (`unknown` when served without connection info).
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        Ok(ClientIp(ip.unwrap_or_else(|| "unknown".into())))
    }
}

/// A one-line message shown at the top of the next page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flash {
    pub ok: bool,
    pub message: String,
}

impl Flash {
    pub fn ok(message: impl Into<String>) -> Flash {
        Flash { ok: true, message: message.into() }
    }
    pub fn error(message: impl Into<String>) -> Flash {
        Flash { ok: false, message: message.into() }
    }
}

/// What `base.html` shows around every page: the signed-in user, the current section, a flash message.
#[derive(Debug, Clone, Default)]
pub struct Nav {
    pub user_name: Option<String>,
    /// `accounts`, `users`, `audit` or empty.
    pub section: &'static str,
    pub flash: Option<Flash>,
    /// Whether the navigation to the admin pages is shown.
    pub admin: bool,
}

impl Nav {
    pub fn anonymous() -> Nav {
        Nav::default()
    }

    pub fn for_user(user: &auth::CurrentUser, section: &'static str) -> Nav {
        Nav { user_name: Some(user.name.clone()), section, flash: None, admin: user.role.is_admin() }
    }
}

/// Renders a template, turning a template failure into an [`AppError`].
pub fn render(t: &impl Template) -> Result<Html<String>, AppError> {
    Ok(Html(t.render()?))
}
