//! Which parent a page is for. Parent-scoped pages live under `/parents/{partner_id}/…`; [`scope`] takes that prefix
//! off before routing (so each page keeps one route) and leaves the parent in the request, where
//! [`CurrentParent`] finds it. An address without the prefix (today's bookmarks) leads to the same page of the
//! user's last parent, or the first one.

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, OriginalUri, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use std::sync::Arc;

use super::auth::{AdminUser, CurrentUser};
use super::error::{Loading, kaltura_failure};
use super::format::{count, size};
use super::session::Session;
use super::{AppError, AppState, Nav, Section, render};
use crate::numbers::grouped;
use crate::parents::{Parent, Parents};
use crate::usage::Metric;

tokio::task_local! {
    /// The parent of the page being made, for its templates' links ([`base`]).
    static PAGE_PARENT: i64;
}

/// The start of the current page's parent-scoped links: `/parents/6464`, or nothing outside a parent's pages (an
/// address without a parent leads to the user's last one).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Base(Option<i64>);

impl std::fmt::Display for Base {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(id) => write!(f, "/parents/{id}"),
            None => Ok(()),
        }
    }
}

impl Base {
    /// `path` under the page's parent.
    pub(crate) fn at(self, path: &str) -> String {
        format!("{self}{path}")
    }
}

/// [`Base`] of the page being made.
pub(crate) fn base() -> Base {
    Base(PAGE_PARENT.try_with(|id| *id).ok())
}

/// The parent a request's address named (set by [`scope`]).
#[derive(Debug, Clone, Copy)]
struct ScopedParent(i64);

/// The first path segments of the pages that belong to a parent.
const SCOPED: [&str; 4] = ["/accounts", "/accounts.csv", "/usage", "/usage.csv"];

/// `/parents/{id}/accounts/5?x=1` → the parent 6464 and `/accounts/5?x=1`, for a parent-scoped page only.
fn split(path: &str) -> Option<(i64, &str)> {
    let rest = path.strip_prefix("/parents/")?;
    let (id, page) = rest.split_at(rest.find('/')?);
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let segment = &page[..page[1..].find('/').map_or(page.len(), |end| end + 1)];
    if !SCOPED.contains(&segment) {
        return None;
    }
    Some((id.parse().ok()?, page))
}

/// Takes the parent off a parent-scoped address before routing; the address as sent stays the request's
/// [`OriginalUri`] (what a sign-in comes back to).
pub(crate) fn scope(mut req: Request) -> Request {
    let Some((id, page)) = split(req.uri().path()) else {
        return req;
    };
    let rewritten = match req.uri().query() {
        Some(q) => format!("{page}?{q}"),
        None => page.to_owned(),
    };
    let Ok(uri) = rewritten.parse::<Uri>() else {
        return req;
    };
    let original = std::mem::replace(req.uri_mut(), uri);
    req.extensions_mut().insert(OriginalUri(original));
    req.extensions_mut().insert(ScopedParent(id));
    req
}

/// The parent of a parent-scoped page, and the others the user may see.
#[derive(Clone)]
pub(crate) struct CurrentParent {
    parent: Arc<Parent>,
    others: Vec<Arc<Parent>>,
}

impl std::ops::Deref for CurrentParent {
    type Target = Parent;
    fn deref(&self) -> &Parent {
        &self.parent
    }
}

impl CurrentParent {
    /// The navigation of one of this parent's pages: the parent named, the others to switch to on the same page.
    pub(crate) fn nav(&self, user: &CurrentUser, section: Section) -> Nav {
        let mut nav = Nav::for_user(user, section);
        let page = match section {
            Section::Usage => "/usage",
            _ => "/accounts",
        };
        nav.parent = Some(ParentNav {
            title: self.parent.title(),
            id: self.parent.id,
            others: self
                .others
                .iter()
                .map(|p| ParentLink { title: p.title(), id: p.id, href: format!("{}{page}", p.base()) })
                .collect(),
        });
        nav
    }
}

/// What the header says of the current parent.
#[derive(Debug, Clone)]
pub(crate) struct ParentNav {
    pub(crate) title: String,
    pub(crate) id: i64,
    /// The same section of every other parent.
    pub(crate) others: Vec<ParentLink>,
}

#[derive(Debug, Clone)]
pub(crate) struct ParentLink {
    pub(crate) title: String,
    pub(crate) id: i64,
    pub(crate) href: String,
}

/// Each parent's id and title, for a choice among them; none with one parent, where there is nothing to choose.
pub(crate) fn choices(parents: &Parents) -> Vec<(i64, String)> {
    match parents.len() {
        1 => Vec::new(),
        _ => parents.iter().map(|p| (p.id, p.title())).collect(),
    }
}

/// The parents `user` may see, in the settings' order.
fn visible<'a>(parents: &'a Parents, user: &'a CurrentUser) -> impl Iterator<Item = &'a Arc<Parent>> {
    parents.iter().filter(|p| user.parents.may_see(p.id))
}

impl FromRequestParts<AppState> for CurrentParent {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let ScopedParent(id) = parts.extensions.get::<ScopedParent>().copied().ok_or(AppError::NotFound)?;
        let user = parts.extensions.get::<CurrentUser>().ok_or(AppError::NotFound)?;
        let parent = state.parents.get(id).filter(|_| user.parents.may_see(id)).ok_or(AppError::NotFound)?.clone();
        let others = visible(&state.parents, user).filter(|p| p.id != id).cloned().collect();
        Ok(CurrentParent { parent, others })
    }
}

/// For parent-scoped routes: a parent nobody serves is a 404; an address without a parent leads to the user's last
/// parent (or the first), same page, same query, same method.
pub(crate) async fn require_parent(
    State(state): State<AppState>,
    session: Session,
    req: Request,
    next: Next,
) -> Result<Response, AppError> {
    let user = req.extensions().get::<CurrentUser>().ok_or(AppError::NotFound)?;
    if let Some(ScopedParent(id)) = req.extensions().get::<ScopedParent>().copied() {
        // A parent nobody serves and one the user may not see answer alike.
        if state.parents.get(id).is_none() || !user.parents.may_see(id) {
            return Err(AppError::NotFound);
        }
        session.set_last_parent(id).await?;
        return Ok(PAGE_PARENT.scope(id, next.run(req)).await);
    }
    let last = session.last_parent().await?.filter(|id| user.parents.may_see(*id)).and_then(|id| state.parents.get(id));
    let parent = last.or_else(|| visible(&state.parents, user).next()).ok_or(AppError::NotFound)?;
    let page = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    // 307 keeps the method and body, so an old form posted to an old address still arrives.
    Ok((StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, format!("{}{page}", parent.base()))]).into_response())
}

/// `/parents`: the overview (or, with one parent, its Accounts page); `/parents/accounts.csv`: every visible parent's
/// accounts; `/parents/{id}`: that parent's Accounts page.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/parents", get(overview))
        .route("/parents/accounts.csv", get(super::accounts::export_all))
        .route("/parents/{id}", get(home))
}

#[derive(Template)]
#[template(path = "parents.html")]
struct OverviewPage {
    nav: Nav,
    rows: Vec<OverviewRow>,
}

/// A parent's row of the overview.
struct OverviewRow {
    id: i64,
    title: String,
    /// Why Kaltura does not serve it, or could not be read now.
    problem: Option<String>,
    accounts: Option<AccountCells>,
    /// Plays, storage and bandwidth this month, each with its label.
    usage: Vec<(&'static str, String)>,
}

struct AccountCells {
    in_use: String,
    quota: String,
    active: String,
    blocked: String,
    removed: String,
}

/// Every parent side by side: one request to Kaltura per parent, all of them at once.
async fn overview(State(state): State<AppState>, AdminUser(me): AdminUser) -> Result<Response, AppError> {
    let shown: Vec<&Arc<Parent>> = visible(&state.parents, &me).collect();
    if let [only] = shown.as_slice() {
        return Ok(Redirect::to(&format!("{}/accounts", only.base())).into_response());
    }
    let asked = shown.into_iter().map(|p| async move { (p, p.summary().await) });
    let rows = futures_util::future::join_all(asked)
        .await
        .into_iter()
        .map(|(parent, summary)| {
            let (accounts, usage, failed) = match summary {
                Ok((a, month)) => {
                    let cells = AccountCells {
                        in_use: grouped(a.quota.used),
                        quota: grouped(a.quota.publishers_quota),
                        active: grouped(a.active),
                        blocked: grouped(a.blocked),
                        removed: grouped(a.removed),
                    };
                    let figure = |m: Metric| {
                        month
                            .as_ref()
                            .and_then(|t| t.get(m))
                            .map_or_else(|| "—".to_owned(), |v| if m.is_size() { size(v) } else { count(v) })
                    };
                    let usage = vec![
                        ("Plays", figure(Metric::Plays)),
                        ("Average storage", figure(Metric::AverageStorage)),
                        ("Bandwidth", figure(Metric::Bandwidth)),
                    ];
                    (Some(cells), usage, None)
                }
                Err(e) => (None, Vec::new(), Some(kaltura_failure(Loading::Accounts, &e))),
            };
            let problem = failed.or_else(|| parent.problem().map(str::to_owned));
            OverviewRow { id: parent.id, title: parent.title(), problem, accounts, usage }
        })
        .collect();
    Ok(render(&OverviewPage { nav: Nav::for_user(&me, Section::Parents), rows })?.into_response())
}

async fn home(
    State(state): State<AppState>,
    AdminUser(me): AdminUser,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, AppError> {
    let id = id.parse::<i64>().ok().filter(|id| me.parents.may_see(*id));
    let parent = id.and_then(|id| state.parents.get(id)).ok_or(AppError::NotFound)?;
    Ok(Redirect::to(&format!("{}/accounts", parent.base())).into_response())
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn only_parent_scoped_pages_are_taken_apart() {
        assert_eq!(split("/parents/6464/accounts"), Some((6464, "/accounts")));
        assert_eq!(split("/parents/6464/accounts/5/edit"), Some((6464, "/accounts/5/edit")));
        assert_eq!(split("/parents/7001/usage.csv"), Some((7001, "/usage.csv")));
        assert_eq!(split("/parents/7001/accounts.csv"), Some((7001, "/accounts.csv")));
        assert_eq!(split("/parents/6464/usage/6475"), Some((6464, "/usage/6475")));
        for not in [
            "/parents/6464",
            "/parents/6464/",
            "/parents/6464/users",
            "/parents/6464/accountsx",
            "/parents//accounts",
            "/parents/+6464/accounts",
            "/parents/64a/accounts",
            "/parents/99999999999999999999999/accounts",
            "/accounts",
            "/parents",
        ] {
            assert_eq!(split(not), None, "{not}");
        }
    }
}
