//! Administration › Multi Account: the parent's accounts, searched, filtered, sorted and paged, with the quota
//! banner, CSV export and the row actions. Every view costs one upstream multirequest; the URL holds the view.

mod create;
mod csv;
mod rows;
pub mod view;

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tower_sessions::Session;

use super::auth::{self, AdminUser, CurrentUser};
use super::{AppState, ClientIp, Flash, Htmx, Nav, render};
use crate::db::audit::{self, Entry, Outcome};
use crate::db::users;
use crate::error::AppError;
use crate::kaltura::{AccountsPage, KalturaError, Pager, PartnerFilter, PartnerStatus, Quota};
use rows::Row;
use view::{DEFAULT_PAGE_SIZE, PAGE_SIZES, STATUS_CHOICES, SearchBy, Sort, View};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/accounts", get(show).post(create::create))
        .route("/accounts/new", get(create::new_form))
        .route("/accounts/creations/{id}", get(create::status))
        .route("/accounts.csv", get(csv::export))
        .route("/accounts/{id}/kmc-login", post(kmc_login))
        .route("/accounts/{id}/confirm/{action}", get(confirm))
        .route("/accounts/{id}/{action}", post(change_status))
}

/// Starts the background work the accounts pages rely on: settling account creations that got no answer.
pub fn spawn_background(state: AppState) {
    create::spawn_reconciler(state);
}

/// What the page knows after its one upstream request, or why it knows nothing.
enum Loaded {
    Page(Box<AccountsPage>),
    Failed(KalturaError),
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
}

/// The panel htmx swaps, with the banner sent out of band so it stays true.
#[derive(Template)]
#[template(path = "partials/accounts_fragment.html")]
struct Fragment {
    banner_oob: bool,
    row_oob: bool,
    banner: Banner,
    panel: Panel,
}

/// The quota banner; `None` numbers when Kaltura could not be asked.
#[derive(Clone)]
struct Banner {
    quota: Option<Quota>,
}

impl Banner {
    fn can_add(&self) -> bool {
        self.quota.is_some_and(|q| q.available >= 1)
    }
}

struct Toolbar {
    view: View,
    size: u32,
    can_add: bool,
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
    /// The canonical URL of this view, for Retry, the CSV link and htmx's address bar.
    href: String,
    csv_href: String,
    total: i64,
    columns: Vec<Column>,
    rows: Vec<Row>,
    pages: Vec<PageLink>,
    prev: Option<String>,
    next: Option<String>,
    first_shown: i64,
    last_shown: i64,
}

struct PageLink {
    number: u32,
    href: String,
    current: bool,
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
    ("Creation Date", Some(Sort::CreatedAt)),
];

fn pager(view: &View, size: u32) -> Pager {
    Pager::new(size, view.page)
}

async fn load(state: &AppState, filter: &PartnerFilter, pager: Pager) -> Loaded {
    match state.kaltura.accounts_page(filter, &pager).await {
        Ok(page) => Loaded::Page(Box::new(page)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot load the accounts page from Kaltura");
            Loaded::Failed(e)
        }
    }
}

/// What a failed load says in place of the table.
fn failure_text(e: &KalturaError) -> String {
    match e {
        KalturaError::Api { message, .. } => format!("Can't load accounts: {message}"),
        other => format!("Can't load accounts. {other}. Check that Kaltura is reachable, then retry."),
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
    let (rows, total, error) = match loaded {
        Loaded::Page(p) => {
            let parent_id = p.parent.id;
            (p.page.objects.iter().map(|partner| Row::new(partner, parent_id)).collect(), p.page.total_count, None)
        }
        Loaded::Failed(e) => (Vec::new(), 0, Some(failure_text(e))),
    };
    let last_page = u32::try_from(((total.max(0) as u64).div_ceil(u64::from(size))).max(1)).unwrap_or(u32::MAX);
    // A page past the end (an old bookmark, accounts removed since) links back to pages that exist.
    let current = view.page.min(last_page);
    let window_start = current.saturating_sub(3).max(1);
    let window_end = (window_start + 6).min(last_page);
    let rows_empty = rows.is_empty();
    let pages = (window_start..=window_end)
        .map(|n| PageLink { number: n, href: view.with_page(n).href(size), current: n == view.page })
        .collect();
    let first_shown = (i64::from(view.page) - 1) * i64::from(size) + 1;
    let last_shown = first_shown + rows.len() as i64 - 1;
    Panel {
        notes,
        sort_key: view.sort.key(),
        dir: if view.desc { "desc" } else { "asc" },
        error,
        href,
        csv_href,
        total,
        columns,
        prev: (view.page > 1).then(|| view.with_page((view.page - 1).min(last_page)).href(size)),
        next: (view.page < last_page).then(|| view.with_page(view.page + 1).href(size)),
        pages,
        rows,
        first_shown: if rows_empty { 0 } else { first_shown },
        last_shown: if rows_empty { 0 } else { last_shown },
    }
}

/// The page size to show: the one the URL asks for (and remember it), else the user's last, else 50.
async fn page_size(state: &AppState, me: &CurrentUser, view: &View) -> Result<u32, AppError> {
    let saved = users::accounts_page_size(&state.db, me.id).await?;
    match view.size {
        Some(size) => {
            if saved != Some(i64::from(size)) {
                users::set_accounts_page_size(&state.db, me.id, i64::from(size)).await?;
            }
            Ok(size)
        }
        None => Ok(saved
            .and_then(|s| u32::try_from(s).ok())
            .filter(|s| PAGE_SIZES.contains(s))
            .unwrap_or(DEFAULT_PAGE_SIZE)),
    }
}

async fn show(
    State(state): State<AppState>,
    AdminUser(me): AdminUser,
    session: Session,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let (view, notes) = View::parse(query.as_deref().unwrap_or(""));
    let size = page_size(&state, &me, &view).await?;
    let loaded = load(&state, &view.filter(), pager(&view, size)).await;
    let banner = Banner {
        quota: match &loaded {
            Loaded::Page(p) => Some(p.quota()),
            Loaded::Failed(_) => None,
        },
    };
    let panel = build_panel(&view, size, &loaded, notes);
    let canonical = panel.href.clone();
    if super::wants_fragment(&headers, "accounts-panel") {
        let mut res = render(&Fragment { banner_oob: true, row_oob: false, banner, panel })?.into_response();
        // The panel refreshing itself (after an account was added) shows the same view: no new history entry.
        let refresh = headers.get("hx-trigger").is_some_and(|t| t.as_bytes() == b"accounts-panel");
        if let (false, Ok(v)) = (refresh, HeaderValue::from_str(&canonical)) {
            res.headers_mut().insert("hx-push-url", v);
        }
        return Ok(res);
    }
    let mut nav = Nav::for_user(&me, "accounts");
    nav.flash = match (auth::take_flash(&session).await?, create::unreported_flash(&state, &me).await?) {
        (Some(a), Some(b)) => Some(Flash { ok: a.ok && b.ok, message: format!("{} {}", a.message, b.message) }),
        (a, b) => a.or(b),
    };
    let can_add = banner.can_add();
    Ok(render(&FullPage {
        nav,
        banner_oob: false,
        row_oob: false,
        banner,
        toolbar: Toolbar { view, size, can_add },
        panel,
    })?
    .into_response())
}

/// A local path to return to after a plain-form action; anything else goes to the accounts page.
fn back_to(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/accounts") && !n.contains("//") && !n.contains('\\') => n.to_string(),
        _ => "/accounts".into(),
    }
}

fn query_next(query: &Option<String>) -> Option<String> {
    form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned())
}

/// Block, Unblock and Remove: which statuses each applies to, the status it sets, and its words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusAction {
    Block,
    Unblock,
    Remove,
}

impl StatusAction {
    fn parse(s: &str) -> Option<StatusAction> {
        match s {
            "block" => Some(StatusAction::Block),
            "unblock" => Some(StatusAction::Unblock),
            "remove" => Some(StatusAction::Remove),
            _ => None,
        }
    }

    fn key(self) -> &'static str {
        match self {
            StatusAction::Block => "block",
            StatusAction::Unblock => "unblock",
            StatusAction::Remove => "remove",
        }
    }

    fn label(self) -> &'static str {
        match self {
            StatusAction::Block => "Block",
            StatusAction::Unblock => "Unblock",
            StatusAction::Remove => "Remove",
        }
    }

    fn target(self) -> PartnerStatus {
        match self {
            StatusAction::Block => PartnerStatus::Blocked,
            StatusAction::Unblock => PartnerStatus::Active,
            StatusAction::Remove => PartnerStatus::Removed,
        }
    }

    fn done(self) -> &'static str {
        match self {
            StatusAction::Block => "blocked",
            StatusAction::Unblock => "unblocked",
            StatusAction::Remove => "removed",
        }
    }

    /// The confirmation question (Remove in Kaltura's words).
    fn question(self, name: &str) -> String {
        match self {
            StatusAction::Block => format!(
                "Are you sure you want to block the selected account? ({name}) Its users will not be able to sign in to its Rich Media CMS until it is unblocked."
            ),
            StatusAction::Unblock => format!("Are you sure you want to unblock the selected account? ({name})"),
            StatusAction::Remove => format!("Are you sure you want to remove the selected account? ({name})"),
        }
    }
}

#[derive(Template)]
#[template(path = "account_confirm.html")]
struct ConfirmPage {
    nav: Nav,
    id: i64,
    title: String,
    question: String,
    /// Why the action cannot be done, instead of the question.
    refused: Option<String>,
    action: &'static str,
    label: &'static str,
    next: String,
}

/// Without JavaScript, Block, Unblock and Remove ask on a page of their own (htmx asks in a dialog). An action the
/// server would refuse is not asked about: the page says why instead.
async fn confirm(
    State(state): State<AppState>,
    AdminUser(me): AdminUser,
    Path((id, action)): Path<(i64, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let Some(action) = StatusAction::parse(&action) else { return Err(AppError::NotFound) };
    let next = back_to(query_next(&query).as_deref());
    let page = |question: String, refused: Option<String>| ConfirmPage {
        nav: Nav::for_user(&me, "accounts"),
        id,
        title: format!("Confirm {}", action.label()),
        question,
        refused,
        action: action.key(),
        label: action.label(),
        next: next.clone(),
    };
    let partner = match state.kaltura.get_partner(id).await {
        Ok(p) => p,
        Err(e) if e.code() == Some("INVALID_PARTNER_ID") => {
            let why = format!("Account {id} is not one of your accounts.");
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page(String::new(), Some(why)))?).into_response());
        }
        Err(e) => return Err(AppError::Kaltura(failure_text(&e))),
    };
    if let Some(why) = refusal(action, partner.status, partner.id == state.kaltura.config().partner_id) {
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page(String::new(), Some(why)))?).into_response());
    }
    let name = partner.name.clone().unwrap_or_else(|| id.to_string());
    Ok(render(&page(action.question(&name), None))?.into_response())
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

/// What the server refuses, whatever the page offered: the rules of the row actions table.
fn refusal(action: StatusAction, status: Option<PartnerStatus>, is_parent: bool) -> Option<String> {
    let label = action.label();
    if is_parent {
        return Some(format!("{label} is not available for the parent account."));
    }
    let allowed = match action {
        StatusAction::Block => status == Some(PartnerStatus::Active),
        StatusAction::Unblock => status == Some(PartnerStatus::Blocked),
        StatusAction::Remove => matches!(status, Some(PartnerStatus::Active | PartnerStatus::Blocked)),
    };
    (!allowed).then(|| {
        format!(
            "{label} is not available for an account that is {}.",
            status.map_or("unknown", |s| s.label()).to_lowercase()
        )
    })
}

async fn change_status(
    State(state): State<AppState>,
    AdminUser(me): AdminUser,
    ClientIp(ip): ClientIp,
    Htmx(htmx): Htmx,
    session: Session,
    Path((id, action)): Path<(i64, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let Some(action) = StatusAction::parse(&action) else { return Err(AppError::NotFound) };
    let audit_action = format!("account.{}", action.key());
    let target = id.to_string();
    let outcome: Result<String, String> = async {
        let partner = match state.kaltura.get_partner(id).await {
            Ok(p) => p,
            Err(e) if e.code() == Some("INVALID_PARTNER_ID") => {
                return Err(format!("Account {id} is not one of your accounts."));
            }
            Err(e) => return Err(e.to_string()),
        };
        let name = partner.name.clone().unwrap_or_else(|| id.to_string());
        if let Some(why) = refusal(action, partner.status, partner.id == state.kaltura.config().partner_id) {
            return Err(why);
        }
        state.kaltura.update_status(id, action.target()).await.map_err(|e| e.to_string())?;
        Ok(format!("{name} ({id}) was {}.", action.done()))
    }
    .await;
    let (flash, result, details) = match &outcome {
        Ok(message) => (Flash::ok(message.clone()), Outcome::Ok, message.as_str()),
        Err(message) => (Flash::error(message.clone()), Outcome::Refused, message.as_str()),
    };
    audit::record(
        &state.db,
        Entry { actor: &me.email, ip: &ip, action: &audit_action, target: &target, result, details },
    )
    .await?;
    if !htmx {
        auth::set_flash(&session, flash).await?;
        return Ok(Redirect::to(&back_to(query_next(&query).as_deref())).into_response());
    }
    // The row and the banner as they are now, in one round trip.
    let filter = PartnerFilter {
        id_in: Some(id.to_string()),
        status_in: Some(STATUS_CHOICES.to_vec()),
        ..PartnerFilter::default()
    };
    let (row, banner) = match load(&state, &filter, Pager::new(1, 1)).await {
        Loaded::Page(p) => {
            (p.page.objects.first().map(|partner| Row::new(partner, p.parent.id)), Banner { quota: Some(p.quota()) })
        }
        Loaded::Failed(_) => (None, Banner { quota: None }),
    };
    let status = if outcome.is_ok() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, render(&RowUpdate { banner_oob: true, row_oob: true, banner, row, f: flash })?).into_response())
}

/// "Rich Media CMS Login": a short-lived impersonated session for the child's primary administrator, handed to the
/// browser as a redirect, so the KS is never part of a page. The form targets a new tab; this tab stays put.
async fn kmc_login(
    State(state): State<AppState>,
    AdminUser(me): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let target = id.to_string();
    let partner = match state.kaltura.get_partner(id).await {
        Ok(p) => p,
        Err(e) if e.code() == Some("INVALID_PARTNER_ID") => {
            return refuse_login(&state, &me, &ip, id, format!("Account {id} is not one of your accounts.")).await;
        }
        Err(e) => return refuse_login(&state, &me, &ip, id, e.to_string()).await,
    };
    if partner.status != Some(PartnerStatus::Active) {
        let status = partner.status.map_or("unknown", |s| s.label()).to_lowercase();
        let why = format!("Rich Media CMS Login is not available for an account that is {status}.");
        return refuse_login(&state, &me, &ip, id, why).await;
    }
    let ks = match state.kaltura.impersonate_child(id).await {
        Ok(ks) => ks,
        Err(e) => return refuse_login(&state, &me, &ip, id, e.to_string()).await,
    };
    let details = format!("as {}", ks.user_id);
    audit::record(
        &state.db,
        Entry {
            actor: &me.email,
            ip: &ip,
            action: "account.kmc_login",
            target: &target,
            result: Outcome::Ok,
            details: &details,
        },
    )
    .await?;
    let url = state.kaltura.kmc_login_url(&ks);
    let mut res = StatusCode::SEE_OTHER.into_response();
    let location = HeaderValue::from_str(url.expose())
        .map_err(|_| AppError::Internal(anyhow::anyhow!("the Rich Media CMS URL is not valid")))?;
    res.headers_mut().insert(axum::http::header::LOCATION, location);
    // The KS is in the Location header: keep it out of caches and Referer headers.
    res.headers_mut().insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut().insert(axum::http::header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Ok(res)
}

/// Audits a refused Rich Media CMS Login and tells the new tab why.
async fn refuse_login(
    state: &AppState,
    me: &CurrentUser,
    ip: &str,
    id: i64,
    message: String,
) -> Result<Response, AppError> {
    let target = id.to_string();
    audit::record(
        &state.db,
        Entry {
            actor: &me.email,
            ip,
            action: "account.kmc_login",
            target: &target,
            result: Outcome::Refused,
            details: &message,
        },
    )
    .await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(rows::kmc_login_error(&message))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_row_action_rules_refuse_what_the_table_does_not_offer() {
        use PartnerStatus::*;
        assert!(refusal(StatusAction::Block, Some(Active), false).is_none());
        assert!(refusal(StatusAction::Block, Some(Blocked), false).is_some());
        assert!(refusal(StatusAction::Unblock, Some(Blocked), false).is_none());
        assert!(refusal(StatusAction::Unblock, Some(Active), false).is_some());
        assert!(refusal(StatusAction::Remove, Some(Blocked), false).is_none());
        assert_eq!(
            refusal(StatusAction::Remove, Some(Removed), false).as_deref(),
            Some("Remove is not available for an account that is removed.")
        );
        assert!(refusal(StatusAction::Block, Some(Active), true).is_some(), "never the parent");
    }

    #[test]
    fn remove_asks_in_kalturas_words() {
        assert_eq!(
            StatusAction::Remove.question("Shanghai"),
            "Are you sure you want to remove the selected account? (Shanghai)"
        );
    }

    #[test]
    fn plain_form_actions_return_only_to_local_accounts_views() {
        assert_eq!(back_to(Some("/accounts?page=2")), "/accounts?page=2");
        assert_eq!(back_to(Some("//evil.example/accounts")), "/accounts");
        assert_eq!(back_to(Some("https://evil.example")), "/accounts");
        assert_eq!(back_to(None), "/accounts");
    }
}
