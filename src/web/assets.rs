//! Static files, embedded in the binary so it runs the same from `cargo run` and from an installed copy.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub(crate) fn router() -> Router {
    Router::new().route("/static/{*path}", get(serve))
}

/// (path under /static/, content type, body, cache policy)
const FILES: &[(&str, &str, &[u8], &str)] = &[
    ("style.css", "text/css; charset=utf-8", include_bytes!("../../static/style.css"), "no-cache"),
    ("accounts.js", "text/javascript; charset=utf-8", include_bytes!("../../static/accounts.js"), "no-cache"),
    (
        "vendor/htmx-2.0.11.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/vendor/htmx-2.0.11.min.js"),
        "public, max-age=31536000, immutable",
    ),
];

async fn serve(Path(path): Path<String>) -> Response {
    match FILES.iter().find(|(name, ..)| *name == path) {
        Some((_, content_type, body, cache)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            ],
            *body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
