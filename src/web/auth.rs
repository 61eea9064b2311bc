//! Who is signed in, and the two guards routers are layered with: [`require_signed_in`] for what any signed-in user
//! may reach (sign out, their own two-factor pages, confirming their identity), and [`require_admin`] for everything
//! else, which only Publisher Administrators reach (with a second factor, when that is required). A route gets its
//! policy from the router it is added to: no list of paths decides access.

use askama::Template;
use axum::extract::{FromRequestParts, OriginalUri, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::htmx::{HxRedirect, is_htmx, to_flash};
use super::session::{self, Session};
use super::{AppError, AppState, Nav, Section, render};
use crate::db::users::{self, Role};
use crate::identity::{Actor, ParentAccess};

/// The user's own two-factor page, where a user without a second factor is sent when one is required.
pub(crate) const TWO_FACTOR_PAGE: &str = "/account/two-factor";

/// The signed-in user, as the guard found them for this request.
#[derive(Debug, Clone)]
pub(crate) struct CurrentUser {
    pub(crate) id: i64,
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) role: Role,
    /// An account creation of theirs has an outcome they have not been told yet.
    pub(crate) awaiting_report: bool,
    /// They sign in with a second factor.
    pub(crate) two_factor: bool,
    /// How many accounts they had selected when the request began.
    pub(crate) selected: i64,
    /// This session was made through the identity provider.
    pub(crate) through_provider: bool,
    /// The parents they may see.
    pub(crate) parents: ParentAccess,
}

impl CurrentUser {
    /// The user as the one who acts, from `ip`, with their identity confirmed or not.
    pub(crate) fn actor(&self, ip: &str, stepped_up: bool) -> Actor {
        Actor {
            user_id: Some(self.id),
            email: self.email.clone(),
            ip: ip.to_owned(),
            stepped_up,
            through_provider: self.through_provider,
        }
    }
}

/// A signed-in Publisher Administrator: the extractor for every multi-account and users page.
#[derive(Debug, Clone)]
pub(crate) struct AdminUser(pub CurrentUser);

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<CurrentUser>().cloned().ok_or_else(|| sign_in_first(parts))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AdminUser {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if user.role.is_admin() { Ok(AdminUser(user)) } else { Err(role_not_allowed(&user, is_htmx(&parts.headers))) }
    }
}

/// The user this session belongs to, if it is still valid: within the absolute limit, the user still exists and is
/// active, and their access has not changed since (same session generation). An invalid session is ended, which
/// removes its cookie.
pub(crate) async fn current_user(state: &AppState, session: &Session) -> Result<Option<CurrentUser>, AppError> {
    let (signed_in, loaded) = session::with_loaded_user(session.signed_in_as()).await;
    let Some(signed_in) = signed_in? else {
        return Ok(None);
    };
    let max_secs = i64::try_from(state.settings.session_max.as_secs()).unwrap_or(i64::MAX);
    let user = if state.identity.now().saturating_sub(signed_in.at) > max_secs {
        None
    } else {
        let user = match loaded {
            Some(user) if user.user.id == signed_in.user_id => Some(user),
            _ => state.identity.session_user(signed_in.user_id).await?,
        };
        user.filter(|s| s.user.is_active() && s.user.session_generation == signed_in.generation)
    };
    match user {
        Some(users::SignedIn { user: u, awaiting_report, two_factor, selected, all_parents }) => {
            Ok(Some(CurrentUser {
                // The list is read only for a user limited to some parents: most see every one.
                parents: match all_parents {
                    true => ParentAccess::All,
                    false => state.identity.parent_access(u.id).await?,
                },
                id: u.id,
                name: u.full_name(),
                email: u.email,
                role: u.role,
                awaiting_report,
                two_factor,
                selected,
                through_provider: signed_in.id_token.is_some(),
            }))
        }
        None => {
            session.end().await?;
            Ok(None)
        }
    }
}

/// The signed-in user for a guarded request, with the inactivity deadline moved forward; otherwise the answer that
/// sends the browser to sign in.
async fn signed_in(state: &AppState, session: &Session, req: Request) -> Result<(CurrentUser, Request), Response> {
    let user = match current_user(state, session).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            let (mut parts, _) = req.into_parts();
            return Err(sign_in_first(&mut parts));
        }
        Err(e) => return Err(e.into_response()),
    };
    if let Err(e) = session.keep_alive(state.settings.session_idle, state.identity.now()).await {
        return Err(e.into_response());
    }
    Ok((user, req))
}

/// The guard of the router any signed-in user may reach.
pub(crate) async fn require_signed_in(
    State(state): State<AppState>,
    session: Session,
    req: Request,
    next: Next,
) -> Response {
    let (user, mut req) = match signed_in(&state, &session, req).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    req.extensions_mut().insert(user);
    next.run(req).await
}

/// The guard of the router only Publisher Administrators reach; when two-factor sign-in is required, a user without
/// it who signed in with a password is sent to set it up first (the provider's own second factor is the
/// organisation's to require).
pub(crate) async fn require_admin(
    State(state): State<AppState>,
    session: Session,
    req: Request,
    next: Next,
) -> Response {
    let (user, mut req) = match signed_in(&state, &session, req).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    if state.identity.require_2fa() && !user.two_factor && !user.through_provider {
        return set_up_two_factor_first(is_htmx(req.headers()));
    }
    if !user.role.is_admin() {
        return role_not_allowed(&user, is_htmx(req.headers()));
    }
    req.extensions_mut().insert(user);
    next.run(req).await
}

/// To the sign-in page, coming back here afterwards. htmx gets `HX-Redirect`, as it would swap a 303's target into
/// the page.
fn sign_in_first(parts: &mut Parts) -> Response {
    let htmx = is_htmx(&parts.headers);
    // For a fragment, come back to the page it was part of, not to the fragment.
    // A fragment, or a form posted from a page (whose address answers only POST), comes back to that page.
    let page_of = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<Uri>().ok())
            .and_then(|u| u.path_and_query().map(|pq| pq.as_str().to_owned()))
    };
    let current = page_of(axum_htmx::HX_CURRENT_URL);
    // The address as sent: a parent's page comes back with its parent.
    let sent = parts.extensions.get::<OriginalUri>().map_or(&parts.uri, |o| &o.0);
    let asked = sent.path_and_query().map(|pq| pq.as_str().to_owned());
    let path = |url: &Option<String>| url.as_deref().map(|u| u.split('?').next().unwrap_or_default().to_owned());
    let here = if htmx && parts.method == Method::GET && path(&current) == path(&asked) {
        // A sort, a filter or a page of the same view: come back to exactly that.
        asked
    } else if htmx {
        current
    } else if parts.method != Method::GET && parts.method != Method::HEAD {
        page_of(header::REFERER)
    } else {
        asked
    };
    let mut login = match here.as_deref().and_then(local_path) {
        Some(next) if next != "/" => {
            format!("/login?next={}", form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>())
        }
        _ => "/login".to_owned(),
    };
    // The browser was signed in and its session ended (by time, or its user's access changed): say so.
    let had_session = super::session::was_signed_in(&parts.headers);
    if had_session {
        login.push_str(if login.contains('?') { "&ended=1" } else { "?ended=1" });
    }
    if htmx {
        (StatusCode::UNAUTHORIZED, HxRedirect(login), ()).into_response()
    } else {
        Redirect::to(&login).into_response()
    }
}

/// To the two-factor set-up page, which says why. htmx gets `HX-Redirect`, as for signing in.
fn set_up_two_factor_first(htmx: bool) -> Response {
    if htmx {
        (StatusCode::FORBIDDEN, HxRedirect(TWO_FACTOR_PAGE.into()), ()).into_response()
    } else {
        Redirect::to(TWO_FACTOR_PAGE).into_response()
    }
}

/// `next` if it is a path on this site; `None` for anything that could lead elsewhere (`//host`, `http:`,
/// backslashes, which some browsers read as slashes, and control characters).
pub(crate) fn local_path(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then_some(next)
}

#[derive(Template)]
#[template(path = "no_access.html")]
struct NoAccessPage {
    nav: Nav,
    role: &'static str,
}

#[derive(Template)]
#[template(path = "partials/no_access.html")]
struct NoAccessFragment {
    role: &'static str,
}

/// What a signed-in user whose role may not manage accounts gets, for pages and fragments alike.
fn role_not_allowed(user: &CurrentUser, htmx: bool) -> Response {
    let role = user.role.label();
    let body = if htmx {
        render(&NoAccessFragment { role })
    } else {
        render(&NoAccessPage { nav: Nav::for_user(user, Section::None), role })
    };
    match body {
        Ok(html) if htmx => (StatusCode::FORBIDDEN, to_flash(), html).into_response(),
        Ok(html) => (StatusCode::FORBIDDEN, html).into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn next_accepts_local_paths_only() {
        assert_eq!(local_path("/users?page=2"), Some("/users?page=2"));
        for bad in
            ["//evil.example", "http://evil.example", "https:evil", "/\\evil.example", "\\\\evil", "evil", "/a\nb", ""]
        {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
    }
}
