//! Administration › Multi Account: the parent's accounts, searched, filtered, sorted and paged, with the quota
//! banner, CSV export and the row actions. Every view costs one upstream multirequest; the URL holds the view.

mod bulk;
mod create;
mod csv;
pub(crate) use csv::export_all;
pub(crate) mod details;
mod edit;
mod import;
pub(crate) mod rows;
mod view;

use crate::web::session::Session;
use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kaltura::{KalturaError, PartnerStatus};

use super::auth::{self, AdminUser, CurrentUser};
use super::error::{Loading, kaltura_failure};
use super::htmx::{HxPushUrl, HxRequest, triggered_by, wants_fragment};
use super::paging::Pager;
use super::parent::CurrentParent;
use super::{AppError, AppState, ClientIp, Flash, Nav, Section, render, render_sized};
use crate::accounts::bulk::SELECTION_LIMIT;
use crate::accounts::rules::{RowAction, StatusAction};
use crate::accounts::{AccountsPage, ActionError, Actor, Quota};
use rows::Row;
use view::{DEFAULT_PAGE_SIZE, PAGE_SIZES, STATUS_CHOICES, Search, SearchBy, Sort, View};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/accounts", get(show).post(create::create))
        .route("/accounts/new", get(create::new_form))
        .route("/accounts/creations/{id}", get(create::status))
        .route("/accounts.csv", get(csv::export))
        .route("/accounts/{id}", get(details::show))
        .route("/accounts/{id}/kmc-login", post(kmc_login))
        .route("/accounts/{id}/edit", get(edit::form).post(edit::save))
        .route("/accounts/{id}/confirm/{action}", get(confirm))
        .route("/accounts/{id}/{action}", post(change_status))
        .merge(import::router())
        .merge(bulk::router())
}

impl Actor<'_> {
    fn of<'a>(me: &'a CurrentUser, ip: &'a str) -> Actor<'a> {
        Actor { user_id: me.id, email: &me.email, ip }
    }
}

/// What the page knows after its one upstream request, or why it knows nothing.
enum Loaded {
    Page(Box<AccountsPage>),
    Failed(KalturaError),
}

impl Loaded {
    fn quota(&self) -> Option<Quota> {
        match self {
            Loaded::Page(p) => Some(p.quota),
            Loaded::Failed(_) => None,
        }
    }
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct FullPage {
    nav: Nav,
    banner_oob: bool,
    row_oob: bool,
    banner: Banner,
    toolbar: Toolbar,
    panel: Panel,
    bar: bulk::SelectionBar,
}

/// The panel htmx swaps, with the banner sent out of band so it stays true.
#[derive(Template)]
#[template(path = "partials/accounts_fragment.html")]
struct Fragment {
    banner_oob: bool,
    row_oob: bool,
    banner: Banner,
    panel: Panel,
    bar: bulk::SelectionBar,
}

/// About what the Accounts page takes besides its rows, and what each row takes (measured: 116 KB at 50 rows).
const PAGE_BYTES: usize = 16 * 1024;
const ROW_BYTES: usize = 2 * 1024;

/// The templates' `|grouped`: a count as the console writes it (`100,012`).
pub(super) mod filters {
    #[askama::filter_fn]
    pub(super) fn grouped(n: &i64, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(crate::numbers::grouped(*n))
    }
}

/// The quota banner; `None` numbers when Kaltura could not be asked.
#[derive(Clone)]
struct Banner {
    quota: Option<Quota>,
    /// Where "Contact Kaltura" leads (`--support-url`).
    support_url: String,
}

/// Why Add Account is disabled: a word beside the button, and the whole reason in its tooltip.
struct Refusal {
    short: &'static str,
    long: String,
}

impl Banner {
    /// `None` when an account may be added.
    fn add_refusal(&self) -> Option<Refusal> {
        match self.quota {
            Some(q) if q.available >= 1 => None,
            Some(q) => Some(Refusal {
                short: "Quota used up",
                long: format!(
                    "All {} accounts of your quota are in use. Contact Kaltura to request an upgrade, or remove an \
                     account to free a place.",
                    q.publishers_quota
                ),
            }),
            None => Some(Refusal {
                short: "Quota unknown",
                long: "Kaltura could not be asked how many accounts remain, so none can be added now. Retry \
                       loading the list."
                    .into(),
            }),
        }
    }
}

struct Toolbar {
    view: View,
    size: u32,
}

impl Toolbar {
    fn search_choices(&self) -> [SearchBy; 4] {
        SearchBy::ALL
    }
    fn status_choices(&self) -> [PartnerStatus; 3] {
        STATUS_CHOICES
    }
    fn sizes(&self) -> [u32; 4] {
        PAGE_SIZES
    }
    fn status_checked(&self, s: &PartnerStatus) -> bool {
        self.view.statuses.contains(s)
    }
    /// The statuses shown, for the phone's Filters button.
    fn status_summary(&self) -> String {
        let shown: Vec<&str> = STATUS_CHOICES.iter().filter(|s| self.status_checked(s)).map(|s| s.label()).collect();
        shown.join(", ")
    }
}

struct Column {
    label: &'static str,
    sort: Option<Sort>,
    /// `ascending`/`descending` on the sorted column, for aria-sort and the arrow.
    state: &'static str,
    href: String,
}

struct Panel {
    notes: Vec<String>,
    /// The sort, carried into the filter form so searching keeps it.
    sort_key: &'static str,
    dir: &'static str,
    error: Option<String>,
    /// What the table says when no account matches.
    empty: String,
    /// The canonical URL of this view, for Retry, the CSV link and htmx's address bar.
    href: String,
    csv_href: String,
    total: i64,
    columns: Vec<Column>,
    rows: Vec<Row>,
    pager: Pager,
    /// With a search or a status filter: the same view without them (the empty table's "Clear the search").
    clear_href: Option<String>,
    /// "Select all N matching", when the search has more accounts to select than the page shows.
    select_all: SelectAll,
}

/// What the panel offers for selecting everything a search matches.
enum SelectAll {
    Nothing,
    /// The accounts a bulk action could change (not the parent, not removed ones), within the selection's limit.
    Offer(i64),
    /// More than a selection holds: the page says how to narrow the search instead.
    TooMany {
        matching: i64,
        limit: i64,
    },
}

impl Panel {
    /// Whether the page has rows to select and all of them are selected (the header's checkbox).
    fn all_selected(&self) -> bool {
        self.rows.iter().any(Row::selectable) && self.rows.iter().filter(|r| r.selectable()).all(|r| r.selected)
    }

    fn any_selectable(&self) -> bool {
        self.rows.iter().any(Row::selectable)
    }
}

/// The table's columns in Kaltura's labels; those Kaltura can order by are sortable.
const COLUMNS: [(&str, Option<Sort>); 9] = [
    ("Account Name", Some(Sort::Name)),
    ("Partner ID", Some(Sort::Id)),
    ("Status", Some(Sort::Status)),
    ("Administrator", Some(Sort::AdminName)),
    ("Admin Email", Some(Sort::AdminEmail)),
    ("Admin Phone", None),
    ("Reference ID", None),
    ("Website URL", Some(Sort::Website)),
    ("Creation Date (UTC)", Some(Sort::CreatedAt)),
];

async fn load(parent: &CurrentParent, view: &View, size: u32) -> Loaded {
    match parent.accounts.view_page(&view.filter(), kaltura::Pager::new(size, view.page)).await {
        Ok(page) => Loaded::Page(Box::new(page)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot load the accounts page from Kaltura");
            Loaded::Failed(e)
        }
    }
}

fn build_panel(view: &View, size: u32, loaded: &Loaded, notes: Vec<String>) -> Panel {
    let href = view.href(size);
    let csv_href = href.replacen("/accounts", "/accounts.csv", 1);
    let columns = COLUMNS
        .iter()
        .map(|(label, sort)| {
            let state = match sort {
                Some(s) if *s == view.sort => {
                    if view.desc {
                        "descending"
                    } else {
                        "ascending"
                    }
                }
                _ => "",
            };
            Column { label, sort: *sort, state, href: sort.map(|s| view.sorted_by(s).href(size)).unwrap_or_default() }
        })
        .collect();
    let (rows, total, selectable, error): (Vec<Row>, i64, i64, Option<String>) = match loaded {
        Loaded::Page(p) => {
            let parent_id = p.parent_id;
            let rows = p.page.objects.iter().map(|partner| Row::new(partner, parent_id)).collect();
            (rows, p.page.total_count, p.selectable.unwrap_or(0), None)
        }
        Loaded::Failed(e) => (Vec::new(), 0, 0, Some(kaltura_failure(Loading::Accounts, e))),
    };
    let on_page = rows.iter().filter(|r| r.selectable()).count() as i64;
    let select_all = if selectable <= on_page {
        SelectAll::Nothing
    } else if selectable > SELECTION_LIMIT {
        SelectAll::TooMany { matching: selectable, limit: SELECTION_LIMIT }
    } else {
        SelectAll::Offer(selectable)
    };
    let pager = Pager::of_rows(view.page, size, rows.len(), total, |n| view.with_page(n).href(size));
    let empty = match view.search() {
        Search::NoValidIds => "No Results. A Partner ID is a number (or a comma-separated list of numbers); to find \
                               an account by its name, search by Account Name or free text."
            .into(),
        _ => "No Results".into(),
    };
    let cleared = View { q: String::new(), statuses: View::default().statuses, page: 1, ..view.clone() };
    let clear_href = (cleared.href(size) != view.with_page(1).href(size)).then(|| cleared.href(size));
    Panel {
        notes,
        sort_key: view.sort.wire_name(),
        dir: if view.desc { "desc" } else { "asc" },
        error,
        empty,
        href,
        csv_href,
        total,
        columns,
        pager,
        select_all,
        clear_href,
        rows,
    }
}

/// The page size to show: the one the URL asks for (and remember it), else the user's last, else 50.
/// The session keeps the user's page size once read, so a view does not ask the database for it again.
async fn page_size(state: &AppState, me: &CurrentUser, session: &Session, view: &View) -> Result<u32, AppError> {
    let known = session.page_size().await?;
    let size = match (view.size, known) {
        (Some(size), Some(known)) if size == known => return Ok(size),
        (Some(size), _) => {
            state.identity.set_accounts_page_size(me.id, i64::from(size)).await?;
            size
        }
        (None, Some(known)) => return Ok(known),
        (None, None) => state
            .identity
            .accounts_page_size(me.id)
            .await?
            .and_then(|s| u32::try_from(s).ok())
            .filter(|s| PAGE_SIZES.contains(s))
            .unwrap_or(DEFAULT_PAGE_SIZE),
    };
    session.set_page_size(size).await?;
    Ok(size)
}

async fn show(
    State(state): State<AppState>,
    parent: CurrentParent,
    AdminUser(me): AdminUser,
    session: Session,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let (view, mut notes) = View::parse(query.as_deref().unwrap_or(""));
    if let Some(problem) = parent.problem() {
        notes.insert(0, format!("When the console started, partner {} could not be served: {problem}", parent.id));
    }
    let size = page_size(&state, &me, &session, &view).await?;
    let loaded = load(&parent, &view, size).await;
    if let Loaded::Page(p) = &loaded
        && let Some(name) = &p.parent_name
    {
        parent.learn_name(name);
    }
    let banner = Banner { quota: loaded.quota(), support_url: parent.support_url.to_string() };
    let mut panel = build_panel(&view, size, &loaded, notes);
    let fragment = wants_fragment(&headers, "accounts-panel");
    let bar = bulk::selection(&parent, &me, &mut panel.rows, &panel.href, fragment).await?;
    if fragment {
        // The panel refreshing itself (after an account was added) shows the same view: no new history entry.
        let push = (!triggered_by(&headers, "accounts-panel")).then(|| HxPushUrl(panel.href.clone()));
        let expected = ROW_BYTES * (panel.rows.len() + 4);
        let fragment = Fragment { banner_oob: true, row_oob: false, banner, panel, bar };
        return Ok((push, render_sized(&fragment, expected)?).into_response());
    }
    let mut nav = parent.nav(&me, Section::Accounts);
    let unreported = match me.awaiting_report {
        true => parent.accounts.unreported(me.id).await?.map(|(ok, message)| Flash { ok, message }),
        false => None,
    };
    nav.flash = match (session.take_flash().await?, unreported) {
        (Some(a), Some(b)) => Some(Flash { ok: a.ok && b.ok, message: format!("{} {}", a.message, b.message) }),
        (a, b) => a.or(b),
    };
    let toolbar = Toolbar { view, size };
    let expected = PAGE_BYTES + ROW_BYTES * panel.rows.len();
    let page = FullPage { nav, banner_oob: false, row_oob: false, banner, toolbar, panel, bar };
    Ok(render_sized(&page, expected)?.into_response())
}

/// A local path of this parent's accounts to return to after a plain-form action; anything else goes to its
/// Accounts page.
fn back_to(next: Option<&str>) -> String {
    let home = format!("{}/accounts", super::parent_base());
    match next.and_then(auth::local_path) {
        Some(n) if n.starts_with(&home) => n.to_string(),
        _ => home,
    }
}

/// The `next` of a plain-form action, refused before anything is done when it could not even be a redirect.
fn query_next(query: &Option<String>) -> Result<Option<String>, AppError> {
    let next = form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned());
    match next {
        Some(n) if n.chars().any(char::is_control) => {
            Err(AppError::BadRequest("The page to return to is not a valid address.".into()))
        }
        next => Ok(next),
    }
}

/// A question before Block, Unblock or Remove, or why the action cannot be done instead.
struct Confirm {
    id: i64,
    title: String,
    question: String,
    /// What the action means beyond the question (Remove's, which cannot be undone here).
    consequence: Option<&'static str>,
    refused: Option<String>,
    action: &'static str,
    label: &'static str,
    danger: bool,
    /// Where a plain form returns to.
    next: String,
}

#[derive(Template)]
#[template(path = "account_confirm.html")]
struct ConfirmPage {
    nav: Nav,
    c: Confirm,
}

/// The same question in the page's dialog (htmx): the same words, buttons and refusals as the page.
#[derive(Template)]
#[template(path = "partials/account_confirm_dialog.html")]
struct ConfirmDialog {
    c: Confirm,
}

/// Block, Unblock and Remove ask first: in a dialog under htmx, on a page of their own without JavaScript. An action
/// the server would refuse is not asked about: the answer says why instead.
async fn confirm(
    parent: CurrentParent,
    AdminUser(me): AdminUser,
    HxRequest(htmx): HxRequest,
    Path((id, action)): Path<(i64, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let Some(action) = StatusAction::parse(&action) else { return Err(AppError::NotFound) };
    let next = query_next(&query)?;
    let (status, question, refused) = match parent.accounts.allowed(id, RowAction::Status(action)).await {
        Ok(partner) => {
            let name = partner.name.unwrap_or_else(|| id.to_string());
            (StatusCode::OK, action.question(&name), None)
        }
        Err(e @ (ActionError::NotYours(_) | ActionError::NotAllowed(_))) => {
            (StatusCode::UNPROCESSABLE_ENTITY, String::new(), Some(e.to_string()))
        }
        Err(ActionError::Kaltura(e)) => return Err(AppError::kaltura(Loading::Account)(e)),
        Err(ActionError::Database(e)) => return Err(e.into()),
    };
    let c = Confirm {
        id,
        title: format!("Confirm {}", action.label()),
        question,
        consequence: action.consequence(),
        refused,
        action: action.key(),
        label: action.label(),
        danger: action == StatusAction::Remove,
        next: back_to(next.as_deref()),
    };
    let body = if htmx {
        render(&ConfirmDialog { c })?
    } else {
        render(&ConfirmPage { nav: parent.nav(&me, Section::Accounts), c })?
    };
    Ok((status, body).into_response())
}

#[derive(Template)]
#[template(path = "partials/account_row_update.html")]
struct RowUpdate {
    banner_oob: bool,
    row_oob: bool,
    banner: Banner,
    row: Option<Row>,
    /// The message (named as `partials/flash.html` expects).
    f: Flash,
}

async fn change_status(
    parent: CurrentParent,
    AdminUser(me): AdminUser,
    ClientIp(ip): ClientIp,
    HxRequest(htmx): HxRequest,
    session: Session,
    Path((id, action)): Path<(i64, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let Some(action) = StatusAction::parse(&action) else { return Err(AppError::NotFound) };
    let next = query_next(&query)?;
    let flash = match parent.accounts.change_status(Actor::of(&me, &ip), id, action).await {
        Ok(changed) => Flash::ok(changed.message),
        Err(ActionError::Database(e)) => return Err(e.into()),
        Err(e) => Flash::error(e.to_string()),
    };
    if !htmx {
        session.set_flash(flash).await?;
        return Ok(Redirect::to(&back_to(next.as_deref())).into_response());
    }
    // The row and the banner as they are now, in one round trip.
    let (mut row, quota) = match parent.accounts.row(id).await {
        Ok((partner, quota)) => (partner.map(|p| Row::new(&p, parent.accounts.parent_id())), Some(quota)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot reload the account's row from Kaltura");
            (None, None)
        }
    };
    if let Some(row) = row.as_mut().filter(|r| r.selectable()) {
        row.selected = !parent.accounts.selected_among(me.id, &[row.id]).await?.is_empty();
    }
    let banner = Banner { quota, support_url: parent.support_url.to_string() };
    let status = if flash.ok { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, render(&RowUpdate { banner_oob: true, row_oob: true, banner, row, f: flash })?).into_response())
}

/// "Rich Media CMS Login", as the account's primary administrator or as the administrator the form's `user` names:
/// the KS is handed to the browser as a redirect, so it is never part of a page. The form targets a new tab; this
/// tab stays put.
async fn kmc_login(
    parent: CurrentParent,
    AdminUser(me): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let user = form_urlencoded::parse(&body).find(|(k, _)| k == "user").map(|(_, v)| v.trim().to_string());
    let user = user.filter(|u| !u.is_empty());
    let url = match parent.accounts.kmc_login(Actor::of(&me, &ip), id, user.as_deref()).await {
        Ok(url) => url,
        Err(ActionError::Database(e)) => return Err(e.into()),
        Err(e) => {
            let page = rows::kmc_login_error(&e.to_string());
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response());
        }
    };
    let location = HeaderValue::from_str(url.expose())
        .map_err(|_| AppError::Internal(anyhow::anyhow!("the Rich Media CMS URL is not valid")))?;
    let mut res = StatusCode::SEE_OTHER.into_response();
    res.headers_mut().insert(header::LOCATION, location);
    // The KS is in the Location header: keep it out of caches and Referer headers.
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_form_actions_return_only_to_local_accounts_views() {
        assert_eq!(back_to(Some("/accounts?page=2")), "/accounts?page=2");
        assert_eq!(back_to(Some("//evil.example/accounts")), "/accounts");
        assert_eq!(back_to(Some("https://evil.example")), "/accounts");
        assert_eq!(back_to(None), "/accounts");
    }
}
