//! Probes for Docker, orchestrators and load balancers, open without signing in and free of secrets: `/healthz`
//! says the process answers, `/readyz` that it can do its work (the database takes writes and Kaltura accepts the
//! console's session). Details go to the log, never into the answer.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use kaltura::KalturaError;

use super::AppState;
use crate::db;

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(super::metrics::render))
        .with_state(state)
}

async fn ready(State(state): State<AppState>) -> (StatusCode, String) {
    if let Err(e) = db::check_ready(&state.db, state.db_file.as_ref().as_ref(), state.identity.now()).await {
        tracing::warn!(error = %e, "not ready: the database");
        return (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}"));
    }
    if let Err(e) = state.accounts.check_upstream().await {
        tracing::warn!(error = %e, "not ready: Kaltura");
        return (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {}", kaltura_reason(&e)));
    }
    (StatusCode::OK, "ready".into())
}

/// A fixed phrase per kind of failure: Kaltura's own messages can name accounts.
fn kaltura_reason(e: &KalturaError) -> String {
    match e {
        KalturaError::Connect { .. } => "Kaltura cannot be reached".into(),
        KalturaError::Timeout { .. } => "Kaltura does not answer in time".into(),
        KalturaError::BadResponse(_) | KalturaError::TooLarge { .. } => "Kaltura's answer cannot be read".into(),
        KalturaError::Api { .. } if e.is_invalid_ks() => {
            "Kaltura refuses the console's session (check the partner id and admin secret)".into()
        }
        KalturaError::Api { code, .. } => format!("Kaltura answered {code}"),
    }
}
