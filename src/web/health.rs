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
    // Ready while Kaltura accepts the session of at least one parent: the console serves those, and its pages say
    // what is wrong with the others.
    let mut refusal = None;
    for parent in state.parents.iter() {
        match parent.accounts.check_upstream().await {
            Ok(()) => return (StatusCode::OK, "ready".into()),
            Err(e) => {
                tracing::warn!(parent = parent.id, error = %e, "Kaltura does not serve this parent");
                refusal.get_or_insert(e);
            }
        }
    }
    let reason = refusal.map_or_else(|| "no parent partner".to_owned(), |e| kaltura_reason(&e));
    (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {reason}"))
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
