//! Administration › Audit log: every sign-in and action, filtered by user, action, account, result and date, paged
//! newest first, and exported as CSV. The URL holds the whole view, so reload, bookmarks and Back reproduce it; values
//! it cannot use are dropped with a note rather than failing the page.

use askama::Template;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{StreamExt, stream};
use time::{Date, Month};

use crate::numbers::grouped;

use super::auth::AdminUser;
use super::format::{kmc_time, printable, short};
use super::htmx::HxPushUrl;
use super::paging::Pager;
use super::{AppError, AppState, Nav, Section, render};
use crate::db::audit::{self, AuditAction, Filter, Logged, Outcome};

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/audit", get(show)).route("/audit.csv", get(export))
}

const PAGE_SIZE: u32 = 50;
const MAX_TEXT: usize = 200;
const MAX_ACTION: usize = 64;

/// Offered above the single actions: each selects a code and everything under it.
const ACTION_FAMILIES: [(&str, &str); 3] =
    [("login.*", "All sign-in events"), ("user.*", "All user changes"), ("account.*", "All account actions")];

fn action_label(code: &str) -> Option<&'static str> {
    AuditAction::from_code(code).map(AuditAction::label)
}

/// An entry's title: the log's label ("Account created") for what was done, what was tried for what failed ("Creating
/// an account", next to Failed), rather than a title that says the opposite of the result.
fn entry_label(code: &str, ok: bool) -> Option<&'static str> {
    let action = AuditAction::from_code(code)?;
    if ok {
        return Some(action.label());
    }
    Some(match action {
        AuditAction::UserAdd => "Adding a user",
        AuditAction::UserRole => "Changing a user's role",
        AuditAction::UserParents => "Changing which parents a user sees",
        AuditAction::UserBlock => "Blocking a user",
        AuditAction::UserUnblock => "Unblocking a user",
        AuditAction::UserRemove => "Removing a user",
        AuditAction::UserPassword => "Changing a user's password",
        AuditAction::UserBootstrap => "Setting up the first administrator",
        AuditAction::UserTwoFactorEnrol => "Setting up two-factor sign-in",
        AuditAction::UserTwoFactorDisable => "Turning two-factor sign-in off",
        AuditAction::UserTwoFactorReset => "Resetting two-factor sign-in",
        AuditAction::AccountCreate => "Creating an account",
        AuditAction::AccountBlock => "Blocking an account",
        AuditAction::AccountUnblock => "Unblocking an account",
        AuditAction::AccountRemove => "Removing an account",
        // The sign-in labels and "Rich Media CMS Login" name an attempt already.
        other => other.label(),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum ResultChoice {
    #[default]
    All,
    Ok,
    Failed,
}

impl ResultChoice {
    const ALL: [ResultChoice; 3] = [ResultChoice::All, ResultChoice::Ok, ResultChoice::Failed];

    fn key(self) -> &'static str {
        match self {
            ResultChoice::All => "",
            ResultChoice::Ok => "ok",
            ResultChoice::Failed => "failed",
        }
    }

    fn label(self) -> &'static str {
        match self {
            ResultChoice::All => "All results",
            ResultChoice::Ok => "OK",
            ResultChoice::Failed => "Failed or refused",
        }
    }

    fn parse(s: &str) -> Option<ResultChoice> {
        match s {
            "" | "all" => Some(ResultChoice::All),
            "ok" => Some(ResultChoice::Ok),
            // The log writes `refused`; the page says "failed".
            "failed" | "refused" => Some(ResultChoice::Failed),
            _ => None,
        }
    }
}

/// The view the URL asks for, cleaned: what the page shows and what the export writes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct View {
    /// Part of the user's email.
    user: String,
    /// An action code, a family such as `account.*`, or empty for all.
    action: String,
    /// A whole target: a partner id, or a user's email.
    account: String,
    result: ResultChoice,
    from: Option<Date>,
    /// Inclusive: the whole day.
    to: Option<Date>,
    /// Entries about this parent only.
    parent: Option<i64>,
    page: u32,
}

impl Default for View {
    fn default() -> View {
        View {
            user: String::new(),
            action: String::new(),
            account: String::new(),
            result: ResultChoice::All,
            from: None,
            to: None,
            parent: None,
            page: 1,
        }
    }
}

impl View {
    /// Reads a query string; returns the view and a note for each value it had to drop or change.
    fn parse(query: &str) -> (View, Vec<String>) {
        let mut v = View::default();
        let mut notes = Vec::new();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim();
            match key.as_ref() {
                "user" => v.user = clip(value, "user", &mut notes),
                "account" => v.account = clip(value, "account", &mut notes),
                "action" => {
                    if value.is_empty() || is_action_code(value) {
                        v.action = value.to_owned();
                    } else {
                        notes.push(format!(
                            "\u{201c}{}\u{201d} is not an action code; all actions are shown.",
                            short(value)
                        ));
                    }
                }
                "result" => match ResultChoice::parse(value) {
                    Some(r) => v.result = r,
                    None => notes.push(format!(
                        "Unknown result \u{201c}{}\u{201d} ignored; all results are shown.",
                        short(value)
                    )),
                },
                "from" | "to" => {
                    let date = parse_date(value);
                    if date.is_none() && !value.is_empty() {
                        notes.push(format!("\u{201c}{}\u{201d} is not a date (YYYY-MM-DD); ignored.", short(value)));
                    }
                    if key == "from" { v.from = date } else { v.to = date }
                }
                "parent" => match value.parse::<i64>() {
                    Ok(id) if id > 0 => v.parent = Some(id),
                    _ if value.is_empty() => {}
                    _ => notes.push(format!(
                        "\u{201c}{}\u{201d} is not a partner id; entries of every parent are shown.",
                        short(value)
                    )),
                },
                "page" => match value.parse::<u32>() {
                    Ok(p) if p >= 1 => v.page = p,
                    _ => notes.push(format!("Page \u{201c}{}\u{201d} does not exist; showing page 1.", short(value))),
                },
                _ => {}
            }
        }
        if let (Some(from), Some(to)) = (v.from, v.to)
            && from > to
        {
            notes.push("The dates were the wrong way round and have been swapped.".to_owned());
            (v.from, v.to) = (Some(to), Some(from));
        }
        (v, notes)
    }

    fn filter(&self) -> Filter {
        let text = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
        Filter {
            actor_contains: text(&self.user),
            action: text(&self.action),
            target: text(&self.account),
            result: match self.result {
                ResultChoice::All => None,
                ResultChoice::Ok => Some(Outcome::Ok),
                ResultChoice::Failed => Some(Outcome::Refused),
            },
            since: self.from.map(start_of),
            before: self.to.and_then(|d| d.next_day()).map(start_of),
            parent: self.parent,
        }
    }

    fn is_filtered(&self) -> bool {
        self.filter() != Filter::default()
    }

    /// The canonical query string (defaults left out), without `?`.
    fn query(&self, with_page: bool) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [("user", &self.user), ("action", &self.action), ("account", &self.account)] {
            if !value.is_empty() {
                s.append_pair(key, value);
            }
        }
        if self.result != ResultChoice::All {
            s.append_pair("result", self.result.key());
        }
        for (key, date) in [("from", self.from), ("to", self.to)] {
            if let Some(d) = date {
                s.append_pair(key, &format_date(d));
            }
        }
        if let Some(parent) = self.parent {
            s.append_pair("parent", &parent.to_string());
        }
        if with_page && self.page > 1 {
            s.append_pair("page", &self.page.to_string());
        }
        s.finish()
    }

    fn href(&self) -> String {
        with_query("/audit", self.query(true))
    }

    /// The export of this view: every page of it.
    fn csv_href(&self) -> String {
        with_query("/audit.csv", self.query(false))
    }

    fn with_page(&self, page: u32) -> View {
        View { page, ..self.clone() }
    }
}

fn clip(value: &str, what: &str, notes: &mut Vec<String>) -> String {
    let value = printable(value);
    if value.chars().count() > MAX_TEXT {
        notes.push(format!("The {what} filter was cut to {MAX_TEXT} characters."));
    }
    value.trim().chars().take(MAX_TEXT).collect()
}

fn with_query(path: &str, query: String) -> String {
    if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") }
}

/// Letters, digits, `.`, `_` and `-`, optionally ending in `.*` for a family.
fn is_action_code(s: &str) -> bool {
    let code = s.strip_suffix(".*").unwrap_or(s);
    s.len() <= MAX_ACTION
        && !code.is_empty()
        && code.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// `YYYY-MM-DD`, as `<input type="date">` sends it.
fn parse_date(s: &str) -> Option<Date> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Midnight UTC, as a Unix time.
fn start_of(d: Date) -> i64 {
    d.midnight().assume_utc().unix_timestamp()
}

struct Row {
    when: String,
    actor: String,
    actor_href: String,
    ip: String,
    label: Option<&'static str>,
    code: String,
    target: String,
    target_href: String,
    /// The account a partner id names, when Kaltura could say: its name, linking to its details.
    account_name: Option<String>,
    /// The parent the entry is about, if any.
    parent_id: Option<i64>,
    /// Its address on the log, filtered to that parent.
    parent_href: String,
    ok: bool,
    details: String,
}

impl Row {
    fn new(l: Logged, view: &View) -> Row {
        Row {
            when: kmc_time(l.at),
            actor_href: View { user: l.actor.clone(), page: 1, ..view.clone() }.href(),
            target_href: View { account: l.target.clone(), page: 1, ..view.clone() }.href(),
            ok: l.is_ok(),
            label: entry_label(&l.action, l.is_ok()),
            actor: l.actor,
            ip: l.ip,
            code: l.action,
            target: l.target,
            account_name: None,
            parent_href: View { parent: l.parent_id, page: 1, ..view.clone() }.href(),
            parent_id: l.parent_id,
            details: l.details,
        }
    }
}

/// The table and its pager: the part htmx swaps.
#[derive(Template)]
#[template(path = "partials/audit_panel.html")]
struct Panel {
    notes: Vec<String>,
    /// Whether the console serves several parents: each entry then names its own.
    several: bool,
    /// The view's own address, which replaces the one asked for when a note says a value was corrected.
    href: String,
    filtered: bool,
    total: i64,
    rows: Vec<Row>,
    csv_href: String,
    pager: Pager,
}

impl Panel {
    fn count_label(&self) -> String {
        format!("{} {}", grouped(self.total), if self.total == 1 { "entry" } else { "entries" })
    }
}

struct ActionOption {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Nav,
    view: View,
    from: String,
    to: String,
    families: Vec<ActionOption>,
    /// The codes in the log, and one the URL asked for that is not (yet) there.
    actions: Vec<ActionOption>,
    results: [ResultChoice; 3],
    /// With several parents, each one's id and title, for the filter.
    parents: Vec<(i64, String)>,
    panel: Panel,
}

impl AuditPage {
    fn parent_chosen(&self, id: &i64) -> bool {
        self.view.parent == Some(*id)
    }
}

async fn panel(state: &AppState, mut view: View, mut notes: Vec<String>) -> Result<(View, Panel), AppError> {
    let filter = view.filter();
    let total = audit::count(&state.db, &filter).await?;
    let last_page = u32::try_from((total.max(1) as u64).div_ceil(u64::from(PAGE_SIZE))).unwrap_or(u32::MAX);
    if view.page > last_page {
        notes.push(format!("Page {} does not exist; showing page {last_page}, the last.", view.page));
        view.page = last_page;
    }
    let offset = i64::from(view.page - 1) * i64::from(PAGE_SIZE);
    let logged = audit::page(&state.db, &filter, i64::from(PAGE_SIZE), offset).await?;
    let mut rows: Vec<Row> = logged.into_iter().map(|l| Row::new(l, &view)).collect();
    // Account targets by name, asked of the parent each entry is about (entries from before several parents: the
    // first one), one request per parent on the page; the ids alone when Kaltura cannot say.
    for parent in state.parents.iter() {
        let first = state.parents.first().id == parent.id;
        let of_parent = |r: &Row| r.parent_id.map_or(first, |p| p == parent.id);
        let mut ids: Vec<i64> = rows
            .iter()
            .filter(|r| of_parent(r))
            .filter_map(|r| r.target.parse::<i64>().ok())
            .filter(|id| *id > 0)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            continue;
        }
        match parent.accounts.account_names(&ids).await {
            Ok(names) => {
                for row in rows.iter_mut().filter(|r| of_parent(r)) {
                    row.account_name = row.target.parse::<i64>().ok().and_then(|id| names.get(&id).cloned());
                    row.parent_id.get_or_insert(parent.id);
                }
            }
            Err(e) => tracing::warn!(parent = parent.id, error = %e, "cannot name the audit log's accounts"),
        }
    }
    let pager = Pager::of_rows(view.page, PAGE_SIZE, rows.len(), total, |n| view.with_page(n).href());
    let panel = Panel {
        notes,
        several: state.parents.len() > 1,
        href: view.href(),
        filtered: view.is_filtered(),
        total,
        csv_href: view.csv_href(),
        pager,
        rows,
    };
    Ok((view, panel))
}

fn action_options(view: &View, in_log: Vec<String>) -> (Vec<ActionOption>, Vec<ActionOption>) {
    let families = ACTION_FAMILIES
        .iter()
        .map(|(value, label)| ActionOption {
            value: (*value).to_owned(),
            label: (*label).to_owned(),
            selected: view.action == *value,
        })
        .collect::<Vec<_>>();
    let asked_elsewhere = !view.action.is_empty()
        && !in_log.contains(&view.action)
        && !ACTION_FAMILIES.iter().any(|(v, _)| *v == view.action);
    let mut actions: Vec<ActionOption> = in_log
        .into_iter()
        .map(|code| ActionOption {
            label: action_label(&code).map_or_else(|| code.clone(), |l| format!("{l} ({code})")),
            selected: view.action == code,
            value: code,
        })
        .collect();
    // Shown selected, so the form says what the table is filtered by.
    if asked_elsewhere {
        actions.push(ActionOption {
            label: format!("{} (not in the log)", view.action),
            value: view.action.clone(),
            selected: true,
        });
    }
    (families, actions)
}

async fn show(
    State(state): State<AppState>,
    AdminUser(me): AdminUser,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let (view, notes) = View::parse(query.as_deref().unwrap_or(""));
    let (view, panel) = panel(&state, view, notes).await?;
    if super::htmx::wants_fragment(&headers, "audit-panel") {
        // The canonical URL, not the form's raw fields, goes in the address bar.
        return Ok((HxPushUrl(view.href()), render(&panel)?).into_response());
    }
    let (families, actions) = action_options(&view, audit::actions(&state.db).await?);
    let page = AuditPage {
        nav: Nav::for_user(&me, Section::Audit),
        from: view.from.map(format_date).unwrap_or_default(),
        to: view.to.map(format_date).unwrap_or_default(),
        view,
        families,
        actions,
        results: ResultChoice::ALL,
        parents: super::parent::choices(&state.parents),
        panel,
    };
    Ok(render(&page)?.into_response())
}

const CSV_HEADER: [&str; 9] =
    ["When (UTC)", "Unix Time", "Who", "From", "Action", "Action Code", "Account / Target", "Result", "Details"];
/// The column a console with several parents adds, last, so files of one parent keep their columns.
const CSV_PARENT: &str = "Parent ID";

/// One log row as a CSV record; what a user typed (a failed sign-in logs the email as typed) is never run as a
/// formula by a spreadsheet.
fn csv_record(l: &Logged, several: bool) -> String {
    let result = if l.is_ok() { "OK" } else { "Failed" };
    let (when, at, parent) = (kmc_time(l.at), l.at.to_string(), l.parent_id.map(|p| p.to_string()).unwrap_or_default());
    let fields = [
        when.as_str(),
        &at,
        &l.actor,
        &l.ip,
        entry_label(&l.action, l.is_ok()).unwrap_or(&l.action),
        &l.action,
        &l.target,
        result,
        &l.details,
        &parent,
    ];
    super::csv::line(if several { &fields[..] } else { &fields[..CSV_HEADER.len()] }.iter().copied())
}

/// Every entry of the view (all pages), streamed from the database a batch at a time.
async fn export(State(state): State<AppState>, AdminUser(_): AdminUser, RawQuery(query): RawQuery) -> Response {
    let (view, _) = View::parse(query.as_deref().unwrap_or(""));
    let several = state.parents.len() > 1;
    let rows = audit::stream(state.db.clone(), view.filter()).map(move |batch| match batch {
        Ok(batch) => Ok(Bytes::from(batch.iter().map(|l| csv_record(l, several)).collect::<String>())),
        Err(e) => {
            // Ending the body with an error makes the browser report a failed download, not a short file.
            tracing::warn!(error = %e, "audit CSV export stopped");
            Err(std::io::Error::other(e))
        }
    });
    let header = CSV_HEADER.iter().copied().chain(several.then_some(CSV_PARENT));
    let head = stream::iter([Ok(Bytes::from(super::csv::line(header)))]);
    super::csv::attachment("audit", Body::from_stream(head.chain(rows)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_round_trip_through_their_urls() {
        let (v, notes) =
            View::parse("user=renee&action=account.*&account=6475&result=failed&from=2026-01-02&to=2026-01-31&page=3");
        assert!(notes.is_empty(), "{notes:?}");
        let url = v.href();
        assert_eq!(
            url,
            "/audit?user=renee&action=account.*&account=6475&result=failed&from=2026-01-02&to=2026-01-31&page=3"
        );
        assert_eq!(View::parse(url.trim_start_matches("/audit?")).0, v);
        assert_eq!(View::default().href(), "/audit");
        assert_eq!(v.csv_href(), url.replace("/audit?", "/audit.csv?").replace("&page=3", ""));
    }

    #[test]
    fn the_date_range_covers_whole_utc_days() {
        let f = View::parse("from=2026-03-01&to=2026-03-01").0.filter();
        assert_eq!(f.since, Some(1_772_323_200));
        assert_eq!(f.before, Some(1_772_323_200 + 86_400));
    }

    #[test]
    fn bad_values_are_dropped_with_a_note() {
        let long = "x".repeat(500);
        let (v, notes) = View::parse(&format!(
            "page=abc&result=maybe&action=%3Cscript%3E&from=2026-02-30&to=yesterday&user={long}&account={long}"
        ));
        assert_eq!(v.page, 1);
        assert_eq!(v.result, ResultChoice::All);
        assert_eq!(v.action, "");
        assert_eq!((v.from, v.to), (None, None));
        assert_eq!((v.user.len(), v.account.len()), (MAX_TEXT, MAX_TEXT));
        assert_eq!(notes.len(), 7, "{notes:?}");
        assert_eq!(View::parse("page=0").0.page, 1);
    }

    #[test]
    fn dates_the_wrong_way_round_are_swapped() {
        let (v, notes) = View::parse("from=2026-05-10&to=2026-05-01");
        assert_eq!(v.from.map(format_date).as_deref(), Some("2026-05-01"));
        assert_eq!(v.to.map(format_date).as_deref(), Some("2026-05-10"));
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn a_failed_entry_is_titled_by_what_was_tried() {
        assert_eq!(entry_label("account.create", true), Some("Account created"));
        assert_eq!(entry_label("account.create", false), Some("Creating an account"));
        assert_eq!(entry_label("login.failure", false), Some("Failed sign-in"));
        assert_eq!(entry_label("no.such", false), None);
    }
}
