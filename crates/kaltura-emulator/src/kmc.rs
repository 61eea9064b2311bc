//! A stand-in for the Rich Media CMS (KMC): `persist-login-by-ks/{KS}` and `login-by-ks/{KS}` validate the KS and
//! show which account and user it opened, so "Rich Media CMS Login" can be followed end to end.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::services::authenticate;
use super::store::Store;

pub async fn page(store: &Store, rest: &str, now: i64) -> Response {
    let ks = ["persist-login-by-ks/", "login-by-ks/"].iter().find_map(|p| rest.strip_prefix(p));
    let Some(ks) = ks.map(super::percent_decode).filter(|k| !k.is_empty()) else {
        return html(StatusCode::NOT_FOUND, "Not found", "<p>This Rich Media CMS address does not exist.</p>");
    };
    let (session, partner) = match authenticate(store, ks.trim()).await {
        Ok(found) => found,
        Err(_) => {
            return html(
                StatusCode::UNAUTHORIZED,
                "Session not valid",
                "<p class=\"error\">This Rich Media CMS link is not valid: the session could not be verified.</p>\
                 <p>Go back to the console and use <b>Rich Media CMS Login</b> again.</p>",
            );
        }
    };
    if session.is_expired(now) {
        return html(
            StatusCode::UNAUTHORIZED,
            "Session expired",
            "<p class=\"error\">This Rich Media CMS session has expired.</p>\
             <p>Go back to the console and use <b>Rich Media CMS Login</b> again.</p>",
        );
    }
    if !partner.is_usable() {
        return html(
            StatusCode::FORBIDDEN,
            "Account blocked",
            &format!(
                "<p class=\"error\">The account {} ({}) is blocked or removed: its Rich Media CMS cannot be opened.</p>",
                escape(&partner.name),
                partner.id
            ),
        );
    }
    let master = session
        .master_partner_id
        .map(|m| format!("<dt>Opened by parent account</dt><dd id=\"master-partner-id\">{m}</dd>"))
        .unwrap_or_default();
    let body = format!(
        "<h1>Rich Media CMS</h1>\
         <p class=\"note\">Kaltura API emulator: a stand-in for the Rich Media CMS (KMC) of this account.</p>\
         <dl>\
         <dt>Account</dt><dd id=\"partner-name\">{name}</dd>\
         <dt>Partner ID</dt><dd id=\"partner-id\">{id}</dd>\
         <dt>Signed in as</dt><dd id=\"user-id\">{user}</dd>\
         <dt>Session</dt><dd id=\"session-type\">{kind}</dd>\
         {master}\
         </dl>",
        name = escape(&partner.name),
        id = partner.id,
        user = escape(if session.user_id.is_empty() { "(no user)" } else { &session.user_id }),
        kind = if session.session_type == 2 { "Administrator" } else { "User" },
    );
    html(StatusCode::OK, &format!("{} ({}) - Rich Media CMS", partner.name, partner.id), &body)
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#222}}dt{{font-weight:600;margin-top:.6rem}}\
         .note{{color:#555}}.error{{color:#b00020}}</style></head><body>{body}</body></html>",
        escape(title)
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The KS is in this page's address: keep it out of caches and of Referer headers.
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        page,
    )
        .into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}
