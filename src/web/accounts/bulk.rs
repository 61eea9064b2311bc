//! Bulk actions on the Accounts page: the selection (a checkbox per row, the page, or every account a search
//! matches), its bar, the confirmation, and a job's result page. Every form works without JavaScript (a redirect
//! back to the same view); htmx only swaps the bar, the dialog and the progress.

use crate::web::session::Session;
use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::super::auth::{AdminUser, CurrentUser};
use super::super::format::count;
use super::super::htmx::{HxRedirect, HxRequest, HxResponseTrigger, wants_fragment};
use super::super::paging::Pager;
use super::super::parent::CurrentParent;
use super::super::parent_base;
use super::super::{AppError, AppState, ClientIp, Flash, Nav, Section, render};
use super::filters;
use super::rows::{MenuAction, Row};
use super::view::View;
use super::{back_to, query_next};
use crate::accounts::Actor;
use crate::accounts::bulk::{
    BulkError, Item, Listed, OUTCOME_PAGE, OutcomePages, Report, SELECTION_LIMIT, SelectError, Skip, Started, accounts,
};
use crate::accounts::rules::StatusAction;
use crate::web::error::Loading;
use crate::web::format::kmc_time;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/accounts/selection", post(select))
        .route("/accounts/selection/all", post(select_matching))
        .route("/accounts/selection/clear", post(clear))
        .route("/accounts/bulk/confirm/{action}", get(confirm))
        // A job's page, and (posted) a new job of the selection for one action: one route, as the two share a shape.
        .route("/accounts/bulk/{key}", get(show).post(start))
        .route("/accounts/bulk/{key}/retry", post(retry))
}

/// Far more than a page holds (100 rows): a form naming more rows is not one of ours.
const MAX_SHOWN: usize = 500;
/// How many skipped accounts a confirmation names.
const SKIPPED_NAMED: usize = 20;
/// How many of the accounts that would change the confirmation names.
const CHANGING_NAMED: usize = 10;
/// Removing more accounts than this asks for their number to be typed.
const TYPE_COUNT_ABOVE: usize = 5;

/// The count of selected accounts with Clear and the bulk actions; sent out of band with every panel swap.
pub(super) struct SelectionBar {
    pub(super) oob: bool,
    pub(super) count: i64,
    pub(super) limit: String,
    pub(super) actions: Vec<MenuAction>,
    /// The view to come back to (plain forms) and whose search "select all" means.
    pub(super) back: String,
    pub(super) error: Option<String>,
}

#[derive(Template)]
#[template(path = "partials/bulk_selection_bar.html")]
struct BarFragment {
    bar: SelectionBar,
}

/// The bar for the user, and the page's rows marked when selected. The count read with the user for this request
/// (every parent's) spares a page view any further question when nothing is selected.
pub(super) async fn selection(
    parent: &CurrentParent,
    me: &CurrentUser,
    rows: &mut [Row],
    back: &str,
    oob: bool,
) -> Result<SelectionBar, AppError> {
    let user_id = me.id;
    // Most views have nothing selected under any parent: then no row is, and nothing more is asked. Otherwise the
    // count is this parent's.
    let count = match me.selected {
        0 => 0,
        _ => parent.accounts.selection_count(user_id).await?,
    };
    let ids: Vec<i64> = rows.iter().filter(|r| r.selectable()).map(|r| r.id).collect();
    if count > 0 && !ids.is_empty() {
        let selected = parent.accounts.selected_among(user_id, &ids).await?;
        for row in rows.iter_mut() {
            row.selected = selected.contains(&row.id);
        }
    }
    Ok(bar_of(count, back, None, oob))
}

async fn bar(
    parent: &CurrentParent,
    user_id: i64,
    back: &str,
    error: Option<String>,
    oob: bool,
) -> Result<SelectionBar, AppError> {
    let count = parent.accounts.selection_count(user_id).await?;
    Ok(bar_of(count, back, error, oob))
}

fn bar_of(count: i64, back: &str, error: Option<String>, oob: bool) -> SelectionBar {
    let actions = StatusAction::ALL
        .into_iter()
        .map(|a| MenuAction { key: a.key(), label: a.label(), danger: a == StatusAction::Remove })
        .collect();
    SelectionBar { oob, count, limit: count_of(SELECTION_LIMIT), actions, back: back_to(Some(back)), error }
}

fn count_of(n: i64) -> String {
    count(n as f64)
}

/// A form's fields, in order.
fn fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Every value of `name` as a partner id, or a 400 naming the first that is not one.
fn ids(fields: &[(String, String)], name: &str) -> Result<Vec<i64>, AppError> {
    fields
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| match v.trim().parse::<i64>() {
            Ok(id) if id > 0 => Ok(id),
            _ => Err(AppError::BadRequest(format!(
                "\u{201c}{}\u{201d} is not a partner id: a partner id is a whole number.",
                crate::web::format::short(v)
            ))),
        })
        .collect()
}

/// Why the selection did not change, in words.
fn select_refusal(e: SelectError) -> Result<String, AppError> {
    let limit = count_of(SELECTION_LIMIT);
    match e {
        SelectError::TooManyMatching { matching } => Ok(format!(
            "This search matches {} accounts: at most {limit} can be selected at once. Narrow the search, then \
             select all again.",
            count_of(matching)
        )),
        SelectError::OverLimit { would_be } => Ok(format!(
            "At most {limit} accounts can be selected at once: this would make {}. Act on the selection or clear \
             it first.",
            count_of(would_be)
        )),
        SelectError::Kaltura(e) => Err(AppError::kaltura(Loading::Accounts)(e)),
        SelectError::Database(e) => Err(e.into()),
    }
}

/// The answer to a change of the selection: under htmx the bar (and the table redrawn, when its checkboxes may be
/// wrong now); without JavaScript back to the view, with the refusal as the page's message.
async fn answer(
    parent: &CurrentParent,
    user_id: i64,
    htmx: bool,
    session: &Session,
    back: &str,
    outcome: Result<(), SelectError>,
    redraw: bool,
) -> Result<Response, AppError> {
    let error = match outcome {
        Ok(()) => None,
        Err(e) => Some(select_refusal(e)?),
    };
    if !htmx {
        if let Some(message) = error {
            session.set_flash(Flash::error(message)).await?;
        }
        return Ok(Redirect::to(&back_to(Some(back))).into_response());
    }
    let redraw = redraw || error.is_some();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let bar = bar(parent, user_id, back, error, false).await?;
    let trigger = redraw.then(|| HxResponseTrigger::normal(["accounts-changed"]));
    Ok((status, trigger, render(&BarFragment { bar })?).into_response())
}

/// The page's checkboxes: the selectable rows it showed (`shown`) leave the selection and those ticked (`id`) join
/// it; "Select all on this page" without JavaScript (`page=all`) ticks every shown row.
async fn select(
    parent: CurrentParent,
    AdminUser(me): AdminUser,
    HxRequest(htmx): HxRequest,
    session: Session,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let f = fields(&body);
    let shown = ids(&f, "shown")?;
    if shown.len() > MAX_SHOWN {
        return Err(AppError::BadRequest(format!("A page shows at most {MAX_SHOWN} accounts.")));
    }
    let checked = if field(&f, "page") == Some("all") { shown.clone() } else { ids(&f, "id")? };
    let back = field(&f, "back").unwrap_or("/accounts").to_string();
    let outcome = parent.accounts.select_shown(me.id, &shown, &checked).await.map(drop);
    answer(&parent, me.id, htmx, &session, &back, outcome, false).await
}

/// "Select all N matching this search": the search is the one of the view the form came from (`back`).
async fn select_matching(
    parent: CurrentParent,
    AdminUser(me): AdminUser,
    HxRequest(htmx): HxRequest,
    session: Session,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let f = fields(&body);
    let back = back_to(field(&f, "back"));
    let (view, _) = View::parse(back.split_once('?').map_or("", |(_, q)| q));
    let outcome = parent.accounts.select_matching(me.id, &view.filter()).await.map(drop);
    answer(&parent, me.id, htmx, &session, &back, outcome, true).await
}

async fn clear(
    parent: CurrentParent,
    AdminUser(me): AdminUser,
    HxRequest(htmx): HxRequest,
    session: Session,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let f = fields(&body);
    let back = back_to(field(&f, "back"));
    parent.accounts.clear_selection(me.id).await?;
    answer(&parent, me.id, htmx, &session, &back, Ok(()), true).await
}

/// A bulk action's question: how many accounts it changes, how many it skips and why.
pub(super) struct BulkConfirm {
    pub(super) title: String,
    pub(super) question: String,
    /// "Shanghai (6475): already blocked", at most [`SKIPPED_NAMED`] of them.
    pub(super) skipped: Vec<String>,
    /// How many more are skipped than named.
    pub(super) more: usize,
    /// "Shanghai (6475)": the first [`CHANGING_NAMED`] accounts that would change, and how many more.
    pub(super) changing: Vec<String>,
    pub(super) changing_more: usize,
    /// What the action means beyond the question (Remove's, which cannot be undone here).
    pub(super) consequence: Option<&'static str>,
    /// The number to type before the button works, for removing more than a handful.
    pub(super) type_count: Option<usize>,
    /// Whether anything would change (else only the way back is offered).
    pub(super) can: bool,
    pub(super) action: &'static str,
    pub(super) label: &'static str,
    pub(super) danger: bool,
    pub(super) next: String,
    /// The selection asked about: the start refuses another.
    pub(super) selection: String,
}

#[derive(Template)]
#[template(path = "bulk_confirm.html")]
struct ConfirmPage {
    nav: Nav,
    c: BulkConfirm,
}

#[derive(Template)]
#[template(path = "partials/bulk_confirm_dialog.html")]
struct ConfirmDialog {
    c: BulkConfirm,
}

/// One confirmation for the whole selection, from the statuses Kaltura has now: in the page's dialog under htmx, a
/// page of its own without JavaScript.
async fn confirm(
    parent: CurrentParent,
    AdminUser(me): AdminUser,
    HxRequest(htmx): HxRequest,
    Path(action): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let Some(action) = StatusAction::parse(&action) else { return Err(AppError::NotFound) };
    let next = back_to(query_next(&query)?.as_deref());
    let plan = parent.accounts.plan(me.id, action).await.map_err(bulk_error)?;
    let skipped = plan
        .skipped
        .iter()
        .take(SKIPPED_NAMED)
        .map(|(n, why)| format!("{} ({}): {}", n.name, n.id, why.label(action)))
        .collect();
    let total = plan.change.len() + plan.skipped.len();
    let changing = plan.change.iter().take(CHANGING_NAMED).map(|n| format!("{} ({})", n.name, n.id)).collect();
    let c = BulkConfirm {
        title: if total == 0 {
            format!("Confirm {}", action.label())
        } else {
            format!("{} {}", action.label(), accounts(plan.change.len()))
        },
        question: if total == 0 {
            "No accounts are selected. Tick the accounts to act on first.".into()
        } else {
            plan.question()
        },
        skipped,
        more: plan.skipped.len().saturating_sub(SKIPPED_NAMED),
        changing,
        changing_more: plan.change.len().saturating_sub(CHANGING_NAMED),
        consequence: action.consequence(),
        type_count: (action == StatusAction::Remove && plan.change.len() > TYPE_COUNT_ABOVE)
            .then_some(plan.change.len()),
        can: !plan.change.is_empty(),
        action: action.key(),
        label: action.label(),
        danger: action == StatusAction::Remove,
        next,
        selection: plan.selection.clone(),
    };
    let status = if c.can { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let body = if htmx {
        render(&ConfirmDialog { c })?
    } else {
        render(&ConfirmPage { nav: parent.nav(&me, Section::Accounts), c })?
    };
    Ok((status, body).into_response())
}

fn bulk_error(e: BulkError) -> AppError {
    match e {
        BulkError::Kaltura(e) => AppError::kaltura(Loading::Accounts)(e),
        BulkError::Database(e) => e.into(),
    }
}

/// Another page: a 303 for a plain form, `HX-Redirect` for htmx (a whole new page, not a swap).
fn go(htmx: bool, url: String) -> Response {
    if htmx { (HxRedirect(url), StatusCode::NO_CONTENT).into_response() } else { Redirect::to(&url).into_response() }
}

fn job_page(job: i64) -> String {
    format!("{}/accounts/bulk/{job}", parent_base())
}

/// A job's number from its address; anything else is no job.
fn job_id(key: &str) -> Result<i64, AppError> {
    key.parse::<i64>().map_err(|_| AppError::NotFound)
}

/// `POST /accounts/bulk/{action}` starts a job of the selection; `GET /accounts/bulk/{job}` shows one.
async fn start(
    parent: CurrentParent,
    AdminUser(me): AdminUser,
    ClientIp(ip): ClientIp,
    HxRequest(htmx): HxRequest,
    session: Session,
    Path(action): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let Some(action) = StatusAction::parse(&action) else { return Err(AppError::NotFound) };
    let f = fields(&body);
    // Removing many asks for their number: a slip of the hand removes nothing.
    if let Some(expected) = field(&f, "expected_count") {
        let typed = field(&f, "confirm_count").map(str::trim).unwrap_or_default();
        if typed != expected {
            let message =
                format!("Type the number of accounts to remove ({expected}) to confirm: nothing was changed.");
            session.set_flash(Flash::error(message)).await?;
            return Ok(go(htmx, format!("{}/accounts", parent_base())));
        }
    }
    match parent.accounts.start_job(Actor::of(&me, &ip), action, field(&f, "selection")).await? {
        Started::Job(job) => Ok(go(htmx, job_page(job))),
        Started::Empty => {
            session.set_flash(Flash::error("No accounts are selected: nothing was changed.")).await?;
            Ok(go(htmx, format!("{}/accounts", parent_base())))
        }
        Started::Changed => {
            let message = "The selection changed since you confirmed (in another tab?): nothing was changed. Check \
                           the selection and confirm again.";
            session.set_flash(Flash::error(message)).await?;
            Ok(go(htmx, format!("{}/accounts", parent_base())))
        }
    }
}

/// A finished job's accounts, by outcome: a page of each, with its pager when there is more than one.
struct OutcomeLists {
    changed: Vec<Item>,
    changed_total: i64,
    changed_pager: Option<Pager>,
    skipped: Vec<(Item, String)>,
    skipped_total: i64,
    skipped_pager: Option<Pager>,
    failed: Vec<Item>,
    failed_total: i64,
    failed_pager: Option<Pager>,
    /// Kaltura's message, when every failure had the same one (said once, not once per account).
    failed_common: Option<String>,
}

/// A job as its page shows it.
struct JobView {
    id: i64,
    title: String,
    actor: String,
    started: String,
    finished: Option<String>,
    running: bool,
    done: i64,
    total: i64,
    /// "blocked", "unblocked", "removed".
    done_word: &'static str,
    outcomes: Option<OutcomeLists>,
    /// The run this one retried, and the runs that retried this one: their ids and start times.
    retried: Option<(i64, String)>,
    retries: Vec<(i64, String)>,
}

impl JobView {
    fn new(r: Report) -> JobView {
        let action = r.action;
        let id = r.job.id;
        let outcomes = r.outcomes.map(|o| {
            let pages = OutcomePages { changed: o.changed.page, skipped: o.skipped.page, failed: o.failed.page };
            let pager = |list: &Listed, which: Outcome| {
                (list.total > i64::from(OUTCOME_PAGE)).then(|| {
                    Pager::of_rows(list.page, OUTCOME_PAGE, list.items.len(), list.total, |n| {
                        outcome_href(id, which.with_page(pages, n), which)
                    })
                })
            };
            let first_message = o.failed.items.first().map(|i| i.message.clone());
            let failed_common = first_message.filter(|m| {
                o.failed.total > 1
                    && o.failed.total == o.failed.items.len() as i64
                    && o.failed.items.iter().all(|i| &i.message == m)
            });
            OutcomeLists {
                failed_common,
                changed_pager: pager(&o.changed, Outcome::Changed),
                skipped_pager: pager(&o.skipped, Outcome::Skipped),
                failed_pager: pager(&o.failed, Outcome::Failed),
                changed_total: o.changed.total,
                skipped_total: o.skipped.total,
                failed_total: o.failed.total,
                changed: o.changed.items,
                skipped: o
                    .skipped
                    .items
                    .into_iter()
                    .map(|item| {
                        let why = item.skip.unwrap_or(Skip::Status).label(action);
                        (item, why)
                    })
                    .collect(),
                failed: o.failed.items,
            }
        });
        JobView {
            id,
            title: format!("{} {}", action.label(), accounts(r.progress.total as usize)),
            actor: r.job.actor,
            started: kmc_time(r.job.started_at),
            finished: r.job.finished_at.map(kmc_time),
            running: r.job.finished_at.is_none(),
            done: r.progress.done,
            total: r.progress.total,
            done_word: action.done(),
            outcomes,
            retried: r.retried.map(|(id, at)| (id, kmc_time(at))),
            retries: r.retries.into_iter().map(|(id, at)| (id, kmc_time(at))).collect(),
        }
    }
}

/// The lists of a finished job's page.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Changed,
    Skipped,
    Failed,
}

impl Outcome {
    /// `pages` with this list at page `n`.
    fn with_page(self, pages: OutcomePages, n: u32) -> OutcomePages {
        match self {
            Outcome::Changed => OutcomePages { changed: n, ..pages },
            Outcome::Skipped => OutcomePages { skipped: n, ..pages },
            Outcome::Failed => OutcomePages { failed: n, ..pages },
        }
    }

    fn anchor(self) -> &'static str {
        match self {
            Outcome::Changed => "bulk-changed",
            Outcome::Skipped => "bulk-skipped",
            Outcome::Failed => "bulk-failed",
        }
    }
}

fn outcome_href(job: i64, p: OutcomePages, list: Outcome) -> String {
    format!(
        "{}/accounts/bulk/{job}?changed={}&skipped={}&failed={}#{}",
        parent_base(),
        p.changed,
        p.skipped,
        p.failed,
        list.anchor()
    )
}

/// The pages of the outcome lists a job's address asks for (page 1 of each by default; a bad value is page 1).
fn outcome_pages(query: Option<&str>) -> OutcomePages {
    let mut pages = OutcomePages { changed: 1, skipped: 1, failed: 1 };
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let n = value.trim().parse::<u32>().unwrap_or(1).max(1);
        match key.as_ref() {
            "changed" => pages.changed = n,
            "skipped" => pages.skipped = n,
            "failed" => pages.failed = n,
            _ => {}
        }
    }
    pages
}

#[derive(Template)]
#[template(path = "bulk_job.html")]
struct JobPage {
    nav: Nav,
    r: JobView,
}

#[derive(Template)]
#[template(path = "partials/bulk_progress.html")]
struct JobFragment {
    r: JobView,
}

/// A job's page: progress while it runs (refreshing itself under htmx, a Refresh link without), then what changed,
/// what was skipped and why, and what failed with Kaltura's message. Any Publisher Administrator may open it: each
/// may do the same actions, and reads the same audit log.
async fn show(
    parent: CurrentParent,
    AdminUser(me): AdminUser,
    headers: HeaderMap,
    Path(job): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let report = parent.accounts.job(job_id(&job)?, outcome_pages(query.as_deref())).await?;
    let r = JobView::new(report.ok_or(AppError::NotFound)?);
    if wants_fragment(&headers, "bulk-progress") {
        return Ok(render(&JobFragment { r })?.into_response());
    }
    Ok(render(&JobPage { nav: parent.nav(&me, Section::Accounts), r })?.into_response())
}

/// "Retry the N failures": a new job of the same action for only the accounts that failed.
async fn retry(
    parent: CurrentParent,
    AdminUser(me): AdminUser,
    ClientIp(ip): ClientIp,
    HxRequest(htmx): HxRequest,
    Path(job): Path<String>,
) -> Result<Response, AppError> {
    let first = OutcomePages { changed: 1, skipped: 1, failed: 1 };
    let report = parent.accounts.job(job_id(&job)?, first).await?.ok_or(AppError::NotFound)?;
    if report.job.finished_at.is_none() {
        return Err(AppError::BadRequest("This job is still running: retry its failures once it is done.".into()));
    }
    match parent.accounts.retry_failures(Actor::of(&me, &ip), &report.job).await? {
        Some(new) => Ok(go(htmx, job_page(new))),
        None => Err(AppError::BadRequest("No account failed in this job: there is nothing to retry.".into())),
    }
}
