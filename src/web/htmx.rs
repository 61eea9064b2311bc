//! htmx's request and response headers, typed by axum-htmx: what a request asks for, and what a response tells
//! htmx to do instead of its default swap.

use axum::http::HeaderMap;
use axum_htmx::{HX_HISTORY_RESTORE_REQUEST, HX_REQUEST, HX_TARGET, HX_TRIGGER};

pub(crate) use axum_htmx::{
    HxPushUrl, HxRedirect, HxRefresh, HxRequest, HxResponseTrigger, HxReswap, HxRetarget, SwapOption,
};

/// True for requests htmx makes (it sends `HX-Request: true`).
pub(crate) fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get(HX_REQUEST).is_some_and(|v| v.as_bytes() == b"true")
}

/// True for an htmx request that wants only the element `target_id` swapped (a history restore, which htmx makes
/// when Back finds no cached page, needs the whole page instead).
pub(crate) fn wants_fragment(headers: &HeaderMap, target_id: &str) -> bool {
    is_htmx(headers)
        && headers.get(HX_HISTORY_RESTORE_REQUEST).is_none()
        && headers.get(HX_TARGET).is_some_and(|t| t.as_bytes() == target_id.as_bytes())
}

/// True when the element `id` asked by itself (its own `hx-trigger` fired), not a link or form in it.
pub(crate) fn triggered_by(headers: &HeaderMap, id: &str) -> bool {
    headers.get(HX_TRIGGER).is_some_and(|t| t.as_bytes() == id.as_bytes())
}

/// Shows the response in the flash area instead of the element the request targeted.
pub(crate) fn to_flash() -> (HxRetarget, HxReswap) {
    (HxRetarget("#flash".into()), HxReswap(SwapOption::InnerHtml))
}
