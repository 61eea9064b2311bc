//! `/metrics` in Prometheus' text format: requests by route and status with latency, Kaltura calls by
//! `service.action` with outcome and latency, sign-ins and account creations by outcome, the database pool. Open
//! without a session, but only to the addresses `--metrics-allow` names (loopback by default): it tells who uses the
//! console how much. A request that came through a proxy is judged by the client the trusted proxies name, never by
//! the proxy's own address, so a proxy on the same host does not open it to everyone. Every label takes a bounded
//! set of values: no request, anonymous or not, can add a series.

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use super::AppState;
use super::client_ip::{client_address, is_forwarded};

/// Latency buckets in seconds, from a cached page to a slow account creation.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use (every console in one process, as in the tests, shares it).
pub(crate) fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new();
        let recorder = builder.set_buckets(&BUCKETS).unwrap_or_else(|_| PrometheusBuilder::new()).build_recorder();
        let handle = recorder.handle();
        // A program embedding the console may have its own recorder: then this one renders only its own names.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics shows only what reaches this one");
        }
        handle
    })
}

/// The methods counted by name; any other is `other`.
const METHODS: [Method; 7] =
    [Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS];

/// Counts every request and its latency under the route it matched (never the raw path, which holds ids; a path
/// no route matched is `unmatched`) and its method (one of [`METHODS`], else `other`).
pub(crate) async fn track(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = METHODS.iter().find(|m| *m == req.method()).map_or("other", Method::as_str);
    let started = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    res
}

pub(crate) async fn render(State(state): State<AppState>, req: Request) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let settings = &state.settings;
    let client = peer.and_then(|peer| {
        if !is_forwarded(req.headers()) {
            return Some(peer);
        }
        // Through a proxy: only a trusted one's word counts, and then the client it names is who asks.
        let trusted = settings.trusted_proxies.iter().any(|net| net.contains(&peer));
        trusted.then(|| client_address(peer, req.headers(), &settings.trusted_proxies))
    });
    let allowed = client.is_some_and(|ip| settings.metrics_allow.iter().any(|net| net.contains(&ip)));
    if !allowed {
        return (StatusCode::FORBIDDEN, "metrics are not served to this address\n").into_response();
    }
    metrics::gauge!("db_pool_connections").set(f64::from(state.db.size()));
    metrics::gauge!("db_pool_idle_connections").set(state.db.num_idle() as f64);
    let handle = install();
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render()).into_response()
}
