//! The console's web interface: one module per page, put together by [`build_router`]. Handlers extract, call a
//! service (accounts, usage, identity; the database module only to read the audit log), and render.

mod accounts;
mod assets;
mod audit;
mod auth;
mod client_ip;
mod connection;
pub use connection::{TimedIo, TimedListener, Timeouts};
mod csv;
mod error;
mod format;
mod health;
mod htmx;
mod login;
mod metrics;
mod paging;
mod parent;
pub(crate) use parent::base as parent_base;
mod session;
mod sso;
mod step_up;
mod two_factor;
mod usage;
mod users;

use askama::Template;
use axum::Router;
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::middleware::{self, Next};
use axum::response::{Html, Redirect, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tower_http::compression::CompressionLayer;
use tower_http::csrf::CsrfLayer;
use tower_http::map_request_body::MapRequestBodyLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::config::WebSettings;
use crate::parents::Parents;
pub(crate) use client_ip::ClientIp;
pub(crate) use error::AppError;

/// Everything a handler needs, built once at start-up. Every layer and handler takes a copy of it: one reference
/// count, not one per service.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Services>);

impl AppState {
    pub(crate) fn new(services: Services) -> AppState {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

pub(crate) struct Services {
    pub(crate) db: crate::db::Pool,
    /// The SQLite file behind `db`, for readiness.
    pub(crate) db_file: Arc<Option<crate::db::DbFile>>,
    pub(crate) sessions: crate::db::Sessions,
    pub(crate) identity: crate::identity::Identity,
    /// Every parent served, each with its accounts and usage services.
    pub(crate) parents: Parents,
    pub(crate) settings: Arc<WebSettings>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const SESSION_COOKIE: &str = "ma_session";
/// Over HTTPS the cookie carries the `__Host-` prefix: the browser then keeps it to this host, path `/`, Secure.
const SECURE_SESSION_COOKIE: &str = "__Host-ma_session";
/// A year, as browsers' preload lists expect.
const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000");

/// The whole application: pages, static files, sessions, sign-in guard, CSRF check and security headers.
pub(crate) fn build_router(state: AppState) -> Router {
    let settings = state.settings.clone();
    metrics::install();
    let idle = time::Duration::try_from(settings.session_idle).unwrap_or(time::Duration::minutes(30));
    let sessions = SessionManagerLayer::new(session::Store::new(state.sessions.clone()))
        .with_name(if settings.secure_cookies() { SECURE_SESSION_COOKIE } else { SESSION_COOKIE })
        .with_path("/")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(settings.secure_cookies())
        .with_expiry(Expiry::OnInactivity(idle));

    let probes = health::router(state.clone());
    // Each route's policy is the router it is added to: open, any signed-in user, or Publisher Administrators (the
    // fallback too, so an address nobody routed still sends an anonymous browser to sign in).
    let open = Router::new().merge(login::router()).merge(sso::router());
    let any_user = Router::new()
        .merge(login::signed_in_router())
        .merge(two_factor::router())
        .merge(step_up::router())
        .layer(middleware::from_fn(error::mark_signed_in))
        .layer(middleware::from_fn_with_state(state.clone(), auth::require_signed_in));
    // Parent-scoped pages: their parent checked (or, for an address without one, the browser sent to it).
    let scoped = Router::new()
        .merge(accounts::router())
        .merge(usage::router())
        .layer(middleware::from_fn_with_state(state.clone(), parent::require_parent));
    let admins = Router::new()
        .route("/", get(|| async { Redirect::to("/parents") }))
        .merge(users::router())
        .merge(scoped)
        .merge(parent::router())
        .merge(audit::router())
        .fallback(|| async { AppError::NotFound })
        .layer(middleware::from_fn(error::mark_signed_in))
        .layer(middleware::from_fn_with_state(state.clone(), auth::require_admin));
    let pages = Router::new().merge(open).merge(any_user).merge(admins).layer(sessions).with_state(state);

    let csrf = CsrfLayer::new()
        .add_trusted_origin(settings.public_url.origin().ascii_serialization())
        .unwrap_or_else(|_| CsrfLayer::new());

    // Every refusal of the pages, the CSRF check's included, becomes a page with the request id; the probes keep
    // their plain answers for machines.
    let site =
        Router::new().merge(pages).merge(assets::router()).layer(csrf).layer(middleware::from_fn(error::render_errors));
    let hsts = settings.secure_cookies().then_some(HSTS);

    let routed = Router::new().merge(site).merge(probes).layer(middleware::from_fn(metrics::track));
    // A parent-scoped address loses its `/parents/{id}` before routing: each page keeps one route (parent.rs).
    Router::new()
        .fallback_service(routed)
        .layer(middleware::map_request(|req: axum::extract::Request| async move { parent::scope(req) }))
        .layer(SetResponseHeaderLayer::overriding(header::STRICT_TRANSPORT_SECURITY, move |_: &Response| hsts.clone()))
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
        // gzip or brotli, as the browser accepts. Safe for pages: they carry no token or key an attacker could guess
        // byte by byte from compressed sizes (BREACH); CSRF is checked by origin. Static files are cached for a year.
        .layer(CompressionLayer::new())
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default();
            tracing::info_span!("request", method = %req.method(), path = req.uri().path(), request_id = id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        // An upload that stalls fails instead of holding its connection and memory.
        .layer(MapRequestBodyLayer::new(axum::body::Body::new))
        .layer(RequestBodyTimeoutLayer::new(settings.body_timeout))
        .layer(middleware::from_fn(drop_malformed_request_id))
}

/// A request id the client sends is kept (a proxy's id ties its logs to ours) only when it looks like one: a UUID
/// or up to 64 letters, digits and dashes. Anything else is dropped, and a fresh id is made.
async fn drop_malformed_request_id(mut req: Request<axum::body::Body>, next: Next) -> Response {
    let well_formed = |v: &HeaderValue| {
        let b = v.as_bytes();
        !b.is_empty() && b.len() <= 64 && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    };
    if req.headers().get(&REQUEST_ID).is_some_and(|v| !well_formed(v)) {
        req.headers_mut().remove(&REQUEST_ID);
    }
    next.run(req).await
}

/// `Content-Security-Policy`: scripts and styles from this site only (no inline code anywhere), no framing, and
/// forms may post here or to the Rich Media CMS (where "Rich Media CMS Login" lands).
fn content_security_policy(settings: &WebSettings) -> HeaderValue {
    let mut origins: Vec<String> = settings.kmc_urls.iter().map(|u| u.origin().ascii_serialization()).collect();
    origins.sort();
    origins.dedup();
    let kmc = origins.join(" ");
    // Sign-out of a single sign-on session ends at the provider: the form's redirect goes there.
    let sso =
        settings.sso_issuer.as_ref().map(|u| format!(" {}", u.origin().ascii_serialization())).unwrap_or_default();
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self' {kmc}{sso}"
    );
    HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"))
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
    Parents,
    Users,
    Audit,
    Usage,
}

/// What `base.html` shows around every page: the signed-in user, the current section, a flash message.
#[derive(Debug, Clone, Default)]
pub(crate) struct Nav {
    pub(crate) user_name: Option<String>,
    pub(crate) section: Section,
    pub(crate) flash: Option<Flash>,
    /// Whether the navigation to the admin pages is shown.
    pub(crate) admin: bool,
    /// Whether the signed-in user has a second factor (the header's link says so).
    pub(crate) two_factor: bool,
    /// On a parent's page: that parent, and the others to switch to.
    pub(crate) parent: Option<parent::ParentNav>,
}

impl Nav {
    pub(crate) fn anonymous() -> Nav {
        Nav::default()
    }

    pub(crate) fn for_user(user: &auth::CurrentUser, section: Section) -> Nav {
        let user_name = Some(format::shown_name(&user.name, &user.email));
        Nav { user_name, section, flash: None, admin: user.role.is_admin(), two_factor: user.two_factor, parent: None }
    }
}

/// Renders a template, turning a template failure into an [`AppError`].
pub(crate) fn render(t: &impl Template) -> Result<Html<String>, AppError> {
    Ok(Html(t.render()?))
}

/// [`render`] into a buffer of about `expected` bytes: a page of many rows outgrows the template's own estimate many
/// times over, and each growth copies all that is written so far.
pub(crate) fn render_sized(t: &impl Template, expected: usize) -> Result<Html<String>, AppError> {
    let mut out = String::with_capacity(expected);
    t.render_into(&mut out)?;
    Ok(Html(out))
}
