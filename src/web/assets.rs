//! Static files, embedded in the binary so it runs the same from `cargo run` and from an installed copy.
//!
//! Pages link them by [`href`], a name carrying a hash of the content (`style.0123456789abcdef.css`), cached for a
//! year: a changed file gets a new name, so nothing stale is ever shown and nothing unchanged is fetched again. The
//! plain name answers too (a page from before an upgrade, a bookmark), revalidated by its ETag. htmx's name already
//! carries its version.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::LazyLock;

pub(crate) fn router() -> Router {
    Router::new()
        .route(
            "/static/{*path}",
            get(|Path(path): Path<String>, headers: HeaderMap| async move { serve(&path, &headers) }),
        )
        // Asked for by browsers on pages without an icon link (a CSV opened in a tab, an old bookmark).
        .route("/favicon.ico", get(|headers: HeaderMap| async move { serve(FAVICON, &headers) }))
}

const FAVICON: &str = "favicon.svg";
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
/// Kept, but asked about (a 304 when unchanged) on every use.
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");

/// (name under /static/, content type, body, whether the name already changes with the content)
const FILES: &[(&str, &str, &[u8], bool)] = &[
    ("style.css", "text/css; charset=utf-8", include_bytes!("../../static/style.css"), false),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../../static/app.js"), false),
    (FAVICON, "image/svg+xml", include_bytes!("../../static/favicon.svg"), false),
    (
        "vendor/htmx-2.0.11.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/vendor/htmx-2.0.11.min.js"),
        true,
    ),
];

struct Asset {
    name: &'static str,
    /// The name pages link: with the content hash, or the plain name when that is already versioned.
    linked: String,
    content_type: &'static str,
    body: &'static [u8],
    versioned: bool,
    etag: HeaderValue,
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|&(name, content_type, body, versioned)| {
            let hash = format!("{:016x}", fnv1a(body));
            let linked = match name.rsplit_once('.') {
                Some((stem, ext)) if !versioned => format!("{stem}.{hash}.{ext}"),
                _ => name.to_owned(),
            };
            let etag = HeaderValue::from_str(&format!("\"{hash}\"")).expect("hex digits make a valid ETag");
            Asset { name, linked, content_type, body, versioned, etag }
        })
        .collect()
});

/// FNV-1a, 64 bits: the same on every build and Rust version (std's hasher promises neither), as a URL must be.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// The address pages use for the static file `name` (e.g. `style.css`); templates call it.
pub(crate) fn href(name: &str) -> String {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => format!("/static/{}", a.linked),
        None => {
            tracing::error!(name, "a template links a static file that is not embedded");
            format!("/static/{name}")
        }
    }
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let found = ASSETS.iter().find_map(|a| {
        if path == a.linked {
            Some((a, IMMUTABLE))
        } else if path == a.name {
            Some((a, if a.versioned { IMMUTABLE } else { REVALIDATE }))
        } else {
            None
        }
    });
    let Some((asset, cache)) = found else { return StatusCode::NOT_FOUND.into_response() };
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == "*" || t.trim() == asset.etag));
    let meta = [(header::CACHE_CONTROL, cache), (header::ETAG, asset.etag.clone())];
    if unchanged {
        return (StatusCode::NOT_MODIFIED, meta).into_response();
    }
    (meta, [(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type))], asset.body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linked_names_carry_the_content_hash_except_versioned_ones() {
        let style = href("style.css");
        let hash = style.strip_prefix("/static/style.").and_then(|s| s.strip_suffix(".css")).expect("a hashed name");
        assert_eq!(hash, format!("{:016x}", fnv1a(include_bytes!("../../static/style.css"))));
        assert_eq!(href("vendor/htmx-2.0.11.min.js"), "/static/vendor/htmx-2.0.11.min.js");
    }

    #[test]
    fn the_hash_is_fnv1a() {
        // The published FNV-1a 64 test vectors.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
