//! Bulk Block, Unblock and Remove: the selection (across pages, with and without JavaScript, every account a search
//! matches up to the limit), one confirmation that counts what changes and what is skipped and why, and jobs run in
//! the background (no page needs to stay open) that batch Kaltura's calls, keep each account's outcome, audit each
//! change, and retry only their failures.

use kaltura::{KalturaClient, Pager, PartnerFilter, PartnerStatus};
use multi_account::config::kaltura::KalturaSettings;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use scraper::{Html, Selector};
use serde_json::Value;
use std::time::Duration;

use crate::support::{Answer, TestApp, answer, get, spawn_app, spawn_app_with_emulator};

// ---------------------------------------------------------------------------------------------------------------
// Requests

async fn htmx_get(app: &TestApp, client: &reqwest::Client, path: &str, target: &str) -> Answer {
    let req = client.get(app.at(path)).header("HX-Request", "true").header("HX-Target", target);
    answer(req.send().await.expect("the console answers")).await
}

async fn post(app: &TestApp, client: &reqwest::Client, path: &str, form: &[(&str, String)], htmx: bool) -> Answer {
    let mut req = client.post(app.at(path)).form(form);
    if htmx {
        req = req.header("HX-Request", "true");
    }
    answer(req.send().await.expect("the console answers")).await
}

fn location(a: &Answer) -> String {
    a.headers.get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("a redirect: {}", a.body)).into()
}

/// The page's checkboxes as the selection form sends them: every selectable row shown, and the ids ticked.
fn selection_form(back: &str, shown: &[i64], ticked: &[i64]) -> Vec<(&'static str, String)> {
    let mut form = vec![("back", back.to_string())];
    form.extend(shown.iter().map(|id| ("shown", id.to_string())));
    form.extend(ticked.iter().map(|id| ("id", id.to_string())));
    form
}

/// Ticks `ids` as a plain form would (no JavaScript): the answer goes back to the view.
async fn select(app: &TestApp, client: &reqwest::Client, ids: &[i64]) {
    let a = post(
        app,
        client,
        "/parents/6464/accounts/selection",
        &selection_form("/parents/6464/accounts", ids, ids),
        false,
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
}

fn select_all(html: &str, css: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(css).expect("a selector");
    doc.select(&sel).map(|e| e.text().collect::<String>().trim().to_string()).collect()
}

fn attr_all(html: &str, css: &str, attr: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(css).expect("a selector");
    doc.select(&sel).filter_map(|e| e.value().attr(attr).map(str::to_string)).collect()
}

/// The ids of the rows with a checkbox, and of those ticked.
fn checkboxes(html: &str) -> (Vec<i64>, Vec<i64>) {
    let ids = |css| attr_all(html, css, "value").iter().map(|v| v.parse().expect("an id")).collect();
    (ids("input.select-row"), ids("input.select-row[checked]"))
}

/// The count the selection bar shows (0 when it shows none).
fn selected_count(html: &str) -> i64 {
    select_all(html, "#selection-count").first().map_or(0, |n| n.parse().expect("a count"))
}

// ---------------------------------------------------------------------------------------------------------------
// Kaltura, the emulator's counters, the console's database

fn kaltura(app: &TestApp) -> KalturaClient {
    let emu = app.emulator();
    KalturaSettings::default().demo_client(&emu.url, emu.parent_id, &emu.admin_secret).expect("a Kaltura client")
}

async fn status_at_kaltura(app: &TestApp, id: i64) -> PartnerStatus {
    kaltura(app).get_partner(id).await.expect("partner.get").status.expect("a status")
}

/// The parent's children with `status` at Kaltura, by id.
async fn children_with(app: &TestApp, status: PartnerStatus) -> Vec<i64> {
    let filter = PartnerFilter { status_in: Some(vec![status]), ..PartnerFilter::default() };
    let list = kaltura(app).list_partners(&filter, &Pager::new(500, 1)).await.expect("partner.list");
    let mut ids: Vec<i64> = list.objects.iter().map(|p| p.id).filter(|id| *id != app.emulator().parent_id).collect();
    ids.sort_unstable();
    ids
}

/// The parent's children a bulk action could change: active or blocked.
async fn selectable_count(app: &TestApp) -> i64 {
    let filter = PartnerFilter {
        status_in: Some(vec![PartnerStatus::Active, PartnerStatus::Blocked]),
        id_not_in: Some(app.emulator().parent_id.to_string()),
        ..PartnerFilter::default()
    };
    kaltura(app).list_partners(&filter, &Pager::new(1, 1)).await.expect("partner.list").total_count
}

/// 5,123 as the pages write it.
fn grouped(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn calls(stats: &Value, call: &str) -> u64 {
    stats["calls"][call].as_u64().unwrap_or(0)
}

const UPDATE_STATUS: &str = "varconsole_varconsole.updateStatus";

/// Waits, without any page open, until the worker has finished job `id` (the console's own record says so).
async fn until_finished(app: &TestApp, id: i64) {
    for _ in 0..3000 {
        let finished: Option<i64> = sqlx::query_scalar("SELECT finished_at FROM bulk_jobs WHERE id = ?")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .expect("the job is recorded");
        if finished.is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("bulk job {id} never finished");
}

/// Confirms `action` for the selection as a plain form does; returns the job's number once it has finished.
async fn run(app: &TestApp, client: &reqwest::Client, action: &str) -> i64 {
    let a = post(app, client, &format!("/parents/6464/accounts/bulk/{action}"), &[], false).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let to = location(&a);
    let id: i64 =
        to.strip_prefix("/parents/6464/accounts/bulk/").and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{to}"));
    until_finished(app, id).await;
    id
}

async fn audit_count(app: &TestApp, action: &str, result: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = ? AND result = ?")
        .bind(action)
        .bind(result)
        .fetch_one(&app.db)
        .await
        .expect("the audit log")
}

/// The job page's lists: `(changed, skipped, failed)` as the user reads them.
async fn outcome(app: &TestApp, client: &reqwest::Client, job: i64) -> (Vec<String>, Vec<String>, Vec<String>) {
    let a = get(app, client, &format!("/parents/6464/accounts/bulk/{job}")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    (
        select_all(&a.body, "#bulk-changed li"),
        select_all(&a.body, "#bulk-skipped li"),
        select_all(&a.body, "#bulk-failed li"),
    )
}

// ---------------------------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn bulk_block_changes_the_active_accounts_and_skips_the_rest_saying_why() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    // Shanghai and Down Under are active, Template - Legacy blocked, adtest removed; 6464 is the parent and 7001
    // another organisation's account.
    select(&app, &admin, &[6475, 6474, 6479, 6472, 6464, 7001]).await;
    assert_eq!(selected_count(&get(&app, &admin, "/parents/6464/accounts").await.body), 6);

    let confirm = get(&app, &admin, "/parents/6464/accounts/bulk/confirm/block").await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
    assert_eq!(
        select_all(&confirm.body, ".bulk-question"),
        vec![
            "Are you sure you want to block 2 accounts? 4 will be skipped: 1 the parent account, 1 removed, \
             1 already blocked, 1 not one of your accounts."
        ]
    );
    let named = select_all(&confirm.body, ".skipped-list li");
    assert!(named.contains(&"adtest name (6472): removed".to_string()), "{named:?}");
    assert!(named.contains(&"Debbie Techpubs (6464): the parent account".to_string()), "{named:?}");
    for id in [6475, 6474] {
        assert_eq!(status_at_kaltura(&app, id).await, PartnerStatus::Active, "asking changes nothing");
    }

    app.emulator().reset_stats();
    let job = run(&app, &admin, "block").await;
    let stats = app.emulator().stats();
    assert_eq!(stats["requests"], 2, "one status read, one multirequest of changes: {stats}");
    assert_eq!(calls(&stats, UPDATE_STATUS), 2, "{stats}");

    for (id, status) in [
        (6475, PartnerStatus::Blocked),
        (6474, PartnerStatus::Blocked),
        (6479, PartnerStatus::Blocked),
        (6472, PartnerStatus::Removed),
        (6464, PartnerStatus::Active),
    ] {
        assert_eq!(status_at_kaltura(&app, id).await, status, "account {id}");
    }
    let (changed, skipped, failed) = outcome(&app, &admin, job).await;
    assert_eq!(changed, vec!["Down Under (6474): blocked", "Shanghai (6475): blocked"]);
    assert_eq!(
        skipped,
        vec![
            "Debbie Techpubs (6464): the parent account",
            "adtest name (6472): removed",
            "Template - Legacy (6479): already blocked",
            "7001 (7001): not one of your accounts",
        ]
    );
    assert!(failed.is_empty());
    assert_eq!(audit_count(&app, "account.block", "ok").await, 2, "one audit entry per account changed");
    assert_eq!(audit_count(&app, "account.block", "refused").await, 0);
    assert_eq!(
        selected_count(&get(&app, &admin, "/parents/6464/accounts").await.body),
        0,
        "the job took the selection"
    );
}

#[tokio::test]
async fn bulk_unblock_and_remove_follow_the_row_menus_rules() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    select(&app, &admin, &[6475, 6479]).await;
    let confirm = get(&app, &admin, "/parents/6464/accounts/bulk/confirm/unblock").await;
    assert_eq!(
        select_all(&confirm.body, ".bulk-question"),
        vec!["Are you sure you want to unblock 1 account? 1 will be skipped: 1 already active."]
    );
    let job = run(&app, &admin, "unblock").await;
    assert_eq!(status_at_kaltura(&app, 6479).await, PartnerStatus::Active);
    let (changed, skipped, _) = outcome(&app, &admin, job).await;
    assert_eq!(changed, vec!["Template - Legacy (6479): unblocked"]);
    assert_eq!(skipped, vec!["Shanghai (6475): already active"]);

    select(&app, &admin, &[6474, 6479, 6472]).await;
    let job = run(&app, &admin, "remove").await;
    for id in [6474, 6479, 6472] {
        assert_eq!(status_at_kaltura(&app, id).await, PartnerStatus::Removed, "account {id}");
    }
    let (changed, skipped, _) = outcome(&app, &admin, job).await;
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert_eq!(skipped, vec!["adtest name (6472): removed"]);
    assert_eq!(audit_count(&app, "account.remove", "ok").await, 2);
    assert_eq!(audit_count(&app, "account.unblock", "ok").await, 1);

    // Nothing left that Remove could change: the confirmation says so and offers no button.
    select(&app, &admin, &[6472]).await;
    let confirm = get(&app, &admin, "/parents/6464/accounts/bulk/confirm/remove").await;
    assert_eq!(confirm.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        select_all(&confirm.body, ".bulk-question"),
        vec!["None of the 1 account selected can be removed: 1 removed."]
    );
    assert!(attr_all(&confirm.body, "form[action='/parents/6464/accounts/bulk/remove']", "action").is_empty());
}

#[tokio::test]
async fn a_refused_account_shows_kalturas_message_the_others_change_in_batches_of_fifty_and_retry_sends_only_it() {
    let app = spawn_app_with_emulator(|c| c.children = 200).await;
    let admin = app.admin().await;
    let active = children_with(&app, PartnerStatus::Active).await;
    // Enough that batches of 40 or 60 would take a different number of requests than batches of 50.
    assert!((151..=200).contains(&active.len()), "most synthetic children are active: {}", active.len());
    let refused = active[7];
    app.emulator().refuse(UPDATE_STATUS, refused, "PARTNER_BLOCKED", "Partner is locked by an audit");

    // Every active account, by "select all N matching this search".
    let a = post(
        &app,
        &admin,
        "/parents/6464/accounts/selection/all",
        &[("back", "/parents/6464/accounts?status=1".into())],
        false,
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(location(&a), "/parents/6464/accounts?status=1");
    let page = get(&app, &admin, "/parents/6464/accounts?status=1").await.body;
    assert_eq!(selected_count(&page), active.len() as i64, "every active child; never the parent");

    app.emulator().reset_stats();
    let job = run(&app, &admin, "block").await;
    let stats = app.emulator().stats();
    let batches = active.len().div_ceil(50) as u64;
    assert_eq!(stats["requests"], 1 + batches, "one status read and {batches} multirequests: {stats}");
    assert_eq!(calls(&stats, UPDATE_STATUS), active.len() as u64, "{stats}");
    assert_eq!(calls(&stats, "partner.list"), 1, "{} statuses in one partner.list: {stats}", active.len());

    let (changed, _, failed) = outcome(&app, &admin, job).await;
    assert_eq!(changed.len(), active.len() - 1, "a failure never hides the others' success");
    assert_eq!(failed.len(), 1);
    assert!(failed[0].ends_with(&format!("({refused}): Partner is locked by an audit")), "{failed:?}");
    assert_eq!(status_at_kaltura(&app, refused).await, PartnerStatus::Active);
    assert_eq!(status_at_kaltura(&app, active[8]).await, PartnerStatus::Blocked);
    assert_eq!(audit_count(&app, "account.block", "ok").await, active.len() as i64 - 1);
    let details: String =
        sqlx::query_scalar("SELECT details FROM audit_log WHERE action = 'account.block' AND result = 'refused'")
            .fetch_one(&app.db)
            .await
            .expect("the refusal is audited");
    assert_eq!(details, "Partner is locked by an audit");

    // Retry: a new job of the one failure.
    let page = get(&app, &admin, &format!("/parents/6464/accounts/bulk/{job}")).await.body;
    assert_eq!(select_all(&page, "form[action$='/retry'] button"), vec!["Retry the 1 failure"]);
    app.emulator().reset_stats();
    let a = post(&app, &admin, &format!("/parents/6464/accounts/bulk/{job}/retry"), &[], false).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let retry: i64 = location(&a).trim_start_matches("/parents/6464/accounts/bulk/").parse().expect("a job");
    until_finished(&app, retry).await;
    assert_eq!(calls(&app.emulator().stats(), UPDATE_STATUS), 1, "only the failure is sent again");
    let (changed, skipped, failed) = outcome(&app, &admin, retry).await;
    assert_eq!((changed.len(), skipped.len(), failed.len()), (0, 0, 1));

    // Each run's page links the other: the retry names the run it retried, and that run its retry.
    let page = get(&app, &admin, &format!("/parents/6464/accounts/bulk/{retry}")).await.body;
    assert_eq!(attr_all(&page, "#bulk-retry-of a", "href"), vec![format!("/parents/6464/accounts/bulk/{job}")]);
    let page = get(&app, &admin, &format!("/parents/6464/accounts/bulk/{job}")).await.body;
    assert_eq!(attr_all(&page, "#bulk-retried a", "href"), vec![format!("/parents/6464/accounts/bulk/{retry}")]);
    assert!(select_all(&page, "#bulk-retry-of").is_empty(), "the first run retried nothing");
}

#[tokio::test]
async fn the_selection_survives_paging_with_and_without_javascript() {
    let app = spawn_app_with_emulator(|c| c.children = 60).await;
    let admin = app.admin().await;
    let page1 = get(&app, &admin, "/parents/6464/accounts?size=25").await.body;
    let (shown1, ticked) = checkboxes(&page1);
    assert!(shown1.len() >= 20 && ticked.is_empty(), "{shown1:?}");
    assert_eq!(
        attr_all(&page1, "#selection-form input[name=shown]", "value").len(),
        shown1.len(),
        "the form names every selectable row it shows"
    );

    // Without JavaScript: the form, then back to the same view.
    let form = selection_form("/parents/6464/accounts?size=25", &shown1, &shown1[..2]);
    let a = post(&app, &admin, "/parents/6464/accounts/selection", &form, false).await;
    assert_eq!((a.status, location(&a)), (StatusCode::SEE_OTHER, "/parents/6464/accounts?size=25".to_string()));

    // With htmx: the answer is the bar.
    let page2 = get(&app, &admin, "/parents/6464/accounts?size=25&page=2").await.body;
    let (shown2, ticked) = checkboxes(&page2);
    assert!(ticked.is_empty(), "page 2 has none of page 1's ticks");
    assert_eq!(selected_count(&page2), 2, "the bar counts page 1's");
    let a = post(
        &app,
        &admin,
        "/parents/6464/accounts/selection",
        &selection_form("/parents/6464/accounts?size=25&page=2", &shown2, &shown2[..1]),
        true,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(selected_count(&a.body), 3);

    // Back on page 1, its two are ticked; the panel's htmx swap carries the bar out of band.
    let again = htmx_get(&app, &admin, "/parents/6464/accounts?size=25", "accounts-panel").await;
    assert_eq!(checkboxes(&again.body).1, shown1[..2].to_vec());
    assert_eq!(attr_all(&again.body, "#selection-bar", "hx-swap-oob"), vec!["true"]);
    assert_eq!(selected_count(&again.body), 3);

    // Unticking one row of page 1 leaves the others.
    let form = selection_form("/parents/6464/accounts?size=25", &shown1, &shown1[1..2]);
    assert_eq!(selected_count(&post(&app, &admin, "/parents/6464/accounts/selection", &form, true).await.body), 2);

    // "Select all on this page" without JavaScript, then Clear.
    let mut form = selection_form("/parents/6464/accounts?size=25", &shown1, &[]);
    form.push(("page", "all".into()));
    post(&app, &admin, "/parents/6464/accounts/selection", &form, false).await;
    assert_eq!(
        selected_count(&get(&app, &admin, "/parents/6464/accounts?size=25").await.body),
        shown1.len() as i64 + 1
    );
    let a = post(
        &app,
        &admin,
        "/parents/6464/accounts/selection/clear",
        &[("back", "/parents/6464/accounts?size=25".into())],
        true,
    )
    .await;
    assert_eq!(
        a.headers.get("hx-trigger").and_then(|v| v.to_str().ok()),
        Some("accounts-changed"),
        "the table redraws"
    );
    assert_eq!(selected_count(&get(&app, &admin, "/parents/6464/accounts").await.body), 0);

    // The parent and removed accounts have no checkbox.
    let (shown, _) = checkboxes(&get(&app, &admin, "/parents/6464/accounts?q=6464,6472&status=1,2,3").await.body);
    assert!(shown.is_empty(), "{shown:?}");
}

#[tokio::test]
async fn select_all_matching_refuses_a_search_past_the_limit_naming_it() {
    let app = spawn_app_with_emulator(|c| c.children = 5_500).await;
    let admin = app.admin().await;
    let page = get(&app, &admin, "/parents/6464/accounts?status=1,2,3").await.body;
    assert!(select_all(&page, "#select-matching").is_empty(), "not offered past the limit");
    let selectable = grouped(selectable_count(&app).await);
    assert!(selectable.starts_with("5,"), "{selectable}");
    let hint = select_all(&page, "#select-matching-too-many");
    assert_eq!(
        hint,
        vec![format!(
            "{selectable} accounts can be selected here, more than the 5,000 a bulk action takes: narrow the search \
             or the status filter to select them all."
        )]
    );
    let a = post(
        &app,
        &admin,
        "/parents/6464/accounts/selection/all",
        &[("back", "/parents/6464/accounts?status=1,2,3".into())],
        true,
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let error = select_all(&a.body, "#selection-bar .flash-error");
    assert_eq!(error.len(), 1, "{}", a.body);
    assert!(
        error[0]
            .starts_with(&format!("This search matches {selectable} accounts: at most 5,000 can be selected at once.")),
        "{error:?}"
    );
    assert_eq!(selected_count(&get(&app, &admin, "/parents/6464/accounts").await.body), 0, "nothing was selected");
}

#[tokio::test]
async fn select_all_counts_only_the_accounts_it_can_select() {
    let app = spawn_app_with_emulator(|c| c.children = 60).await;
    let admin = app.admin().await;
    // Every status: the parent and removed accounts are listed, and cannot be selected.
    let page = get(&app, &admin, "/parents/6464/accounts?status=1,2,3&size=25").await.body;
    let selectable = selectable_count(&app).await;
    assert!(!children_with(&app, PartnerStatus::Removed).await.is_empty(), "the demo has removed accounts");
    assert_eq!(select_all(&page, "#select-matching"), vec![format!("Select all {selectable} matching this search")]);
    let a = post(
        &app,
        &admin,
        "/parents/6464/accounts/selection/all",
        &[("back", "/parents/6464/accounts?status=1,2,3&size=25".into())],
        true,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(selected_count(&a.body), selectable, "the count offered is the count selected");
    // The default view (active and blocked): the same count, the parent left out.
    let page = get(&app, &admin, "/parents/6464/accounts?size=25").await.body;
    assert_eq!(select_all(&page, "#select-matching"), vec![format!("Select all {selectable} matching this search")]);
    // Only removed accounts: nothing to offer.
    let page = get(&app, &admin, "/parents/6464/accounts?status=3").await.body;
    assert!(select_all(&page, "#select-matching").is_empty());
}

#[tokio::test]
async fn a_large_jobs_outcomes_come_a_page_at_a_time() {
    let app = spawn_app_with_emulator(|c| c.children = 520).await;
    let admin = app.admin().await;
    let a = post(
        &app,
        &admin,
        "/parents/6464/accounts/selection/all",
        &[("back", "/parents/6464/accounts?status=1".into())],
        true,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let selected = selected_count(&a.body);
    assert!(selected > 400, "{selected}");
    let job = run(&app, &admin, "block").await;
    let first = get(&app, &admin, &format!("/parents/6464/accounts/bulk/{job}")).await;
    assert!(first.body.len() < 150_000, "{} bytes", first.body.len());
    assert_eq!(select_all(&first.body, "#bulk-changed li").len(), 200);
    assert_eq!(
        select_all(&first.body, "#bulk-summary"),
        vec![format!("{} blocked, 0 skipped, 0 failed.", grouped(selected))]
    );
    assert_eq!(select_all(&first.body, ".pager .range"), vec![format!("1–200 of {}", grouped(selected))]);
    let last = get(&app, &admin, &format!("/parents/6464/accounts/bulk/{job}?changed=3")).await;
    assert_eq!(select_all(&last.body, "#bulk-changed li").len() as i64, selected - 400);
    // A page past the end shows the last; a bad one the first.
    let past = get(&app, &admin, &format!("/parents/6464/accounts/bulk/{job}?changed=99")).await;
    assert_eq!(select_all(&past.body, "#bulk-changed li"), select_all(&last.body, "#bulk-changed li"));
    let bad = get(&app, &admin, &format!("/parents/6464/accounts/bulk/{job}?changed=abc")).await;
    assert_eq!(select_all(&bad.body, "#bulk-changed li"), select_all(&first.body, "#bulk-changed li"));
}

#[tokio::test]
async fn a_bulk_action_confirmed_under_htmx_opens_the_jobs_page_which_refreshes_itself_until_done() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    select(&app, &admin, &[6475]).await;
    let dialog = htmx_get(&app, &admin, "/parents/6464/accounts/bulk/confirm/block", "dialog-slot").await;
    assert_eq!(attr_all(&dialog.body, "dialog form", "hx-post"), vec!["/parents/6464/accounts/bulk/block"]);
    let a = post(&app, &admin, "/parents/6464/accounts/bulk/block", &[], true).await;
    let to = a.headers.get("hx-redirect").and_then(|v| v.to_str().ok()).expect("HX-Redirect").to_string();
    let job: i64 = to.trim_start_matches("/parents/6464/accounts/bulk/").parse().expect("a job page");
    until_finished(&app, job).await;
    let fragment = htmx_get(&app, &admin, &to, "bulk-progress").await;
    assert_eq!(attr_all(&fragment.body, "#bulk-progress", "data-state"), vec!["done"]);
    assert!(attr_all(&fragment.body, "#bulk-progress", "hx-trigger").is_empty(), "no refresh once done");
    assert_eq!(select_all(&fragment.body, "#bulk-done"), vec!["1"]);
    assert!(!fragment.body.contains("<html"), "only the fragment");
}

#[tokio::test]
async fn bad_ids_and_unknown_jobs_get_a_clear_answer() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let form = vec![("back", "/parents/6464/accounts".to_string()), ("shown", "12abc".into())];
    let a = post(&app, &admin, "/parents/6464/accounts/selection", &form, false).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("is not a partner id"), "{}", a.body);
    assert_eq!(get(&app, &admin, "/parents/6464/accounts/bulk/999").await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, &admin, "/parents/6464/accounts/bulk/abc").await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, &admin, "/parents/6464/accounts/bulk/confirm/explode").await.status, StatusCode::NOT_FOUND);
    let a = post(&app, &admin, "/parents/6464/accounts/bulk/block", &[], false).await;
    assert_eq!(
        (a.status, location(&a)),
        (StatusCode::SEE_OTHER, "/parents/6464/accounts".to_string()),
        "nothing selected"
    );
}

#[tokio::test]
async fn a_running_job_shows_its_progress_and_refreshes_itself_or_offers_refresh_without_javascript() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    select(&app, &admin, &[6475, 6474]).await;
    // Kaltura answers slowly: the job is still reading the statuses when its page is opened.
    app.emulator().set_latency_ms(1_500);
    let a = post(&app, &admin, "/parents/6464/accounts/bulk/remove", &[], false).await;
    let to = location(&a);
    let page = get(&app, &admin, &to).await.body;
    assert_eq!(attr_all(&page, "#bulk-progress", "data-state"), vec!["running"]);
    assert_eq!(attr_all(&page, "#bulk-progress", "hx-trigger"), vec!["every 1s"]);
    assert_eq!(
        (select_all(&page, "#bulk-done"), select_all(&page, "#bulk-total")),
        (vec!["0".into()], vec!["2".into()])
    );
    assert_eq!(select_all(&page, "#bulk-waiting"), vec!["Waiting for Kaltura…"], "a sign of life");
    assert_eq!(attr_all(&page, "#bulk-progress progress", "value"), Vec::<String>::new(), "an indeterminate bar");
    assert_eq!(
        attr_all(&page, "#bulk-progress .nojs a", "href"),
        vec![to.clone()],
        "a Refresh link without JavaScript"
    );
    assert!(!page.contains("http-equiv"), "no meta refresh");
    app.emulator().set_latency_ms(0);
    until_finished(&app, to.trim_start_matches("/parents/6464/accounts/bulk/").parse().expect("a job")).await;
    let (changed, _, _) =
        outcome(&app, &admin, to.trim_start_matches("/parents/6464/accounts/bulk/").parse().expect("a job")).await;
    assert_eq!(changed.len(), 2);
}

/// Records a Block job as a console that stopped in the middle leaves it: running, each account pending, those
/// marked `sent` sent to Kaltura with no answer recorded.
async fn job_left_running(app: &TestApp, accounts: &[(i64, bool)]) -> i64 {
    let user = app.user_id(crate::support::ADMIN_EMAIL).await;
    let job: i64 = sqlx::query_scalar(
        "INSERT INTO bulk_jobs (parent_id, user_id, actor, ip, action, state, started_at) \
         VALUES (6464, ?, 'admin@example.com', '127.0.0.1', 'block', 'running', 0) RETURNING id",
    )
    .bind(user)
    .fetch_one(&app.db)
    .await
    .expect("a job");
    for (id, sent) in accounts {
        sqlx::query("INSERT INTO bulk_items (job_id, partner_id, state, sent) VALUES (?, ?, 'pending', ?)")
            .bind(job)
            .bind(id)
            .bind(i64::from(*sent))
            .execute(&app.db)
            .await
            .expect("an item");
    }
    job
}

#[tokio::test]
async fn a_job_left_running_by_a_restart_is_finished_after_it() {
    let app = spawn_app().await;
    // As a job is when the console stops between two batches: recorded, its accounts pending.
    let job = job_left_running(&app, &[(6475, false), (6474, false)]).await;
    let app = app.restart().await;
    until_finished(&app, job).await;
    for id in [6475, 6474] {
        assert_eq!(status_at_kaltura(&app, id).await, PartnerStatus::Blocked, "account {id}");
    }
    let admin = app.admin().await;
    let (changed, _, _) = outcome(&app, &admin, job).await;
    assert_eq!(changed, vec!["Down Under (6474): blocked", "Shanghai (6475): blocked"]);
}

#[tokio::test]
async fn a_change_whose_answer_was_lost_when_the_console_stopped_is_recorded_as_changed_and_audited() {
    let app = spawn_app().await;
    // As a job is when the console stopped after Kaltura blocked Shanghai but before the answer was written down:
    // Shanghai was sent, Down Under not yet. Down Under was blocked by someone else meanwhile.
    let job = job_left_running(&app, &[(6475, true), (6474, false)]).await;
    for id in [6475, 6474] {
        kaltura(&app).update_status(id, PartnerStatus::Blocked).await.expect("blocked at Kaltura");
    }
    let app = app.restart().await;
    until_finished(&app, job).await;
    let admin = app.admin().await;
    let (changed, skipped, failed) = outcome(&app, &admin, job).await;
    assert_eq!(changed, vec!["Shanghai (6475): blocked"], "the change this job sent");
    assert_eq!(skipped, vec!["Down Under (6474): already blocked"]);
    assert!(failed.is_empty());
    let details: Vec<String> =
        sqlx::query_scalar("SELECT details FROM audit_log WHERE action = 'account.block' AND target = '6475'")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(details.len(), 1, "{details:?}");
    assert!(details[0].contains("Shanghai (6475) was blocked (bulk job") && details[0].contains("answer was lost"));
}

#[tokio::test]
async fn when_kaltura_cannot_be_reached_every_account_fails_saying_why_and_can_be_retried() {
    let mut app = spawn_app().await;
    let admin = app.admin().await;
    select(&app, &admin, &[6475, 6474]).await;
    app.stop_emulator().await;
    let job = run(&app, &admin, "block").await;
    let (changed, skipped, failed) = outcome(&app, &admin, job).await;
    assert!(changed.is_empty() && skipped.is_empty());
    assert_eq!(failed, vec!["Account 6474", "Account 6475"], "Kaltura could not name them; the reason said once");
    let page = get(&app, &admin, &format!("/parents/6464/accounts/bulk/{job}")).await.body;
    let why = select_all(&page, "#bulk-failed-why");
    assert_eq!(why.len(), 1);
    assert!(why[0].starts_with("Every one failed: Kaltura could not be reached"), "{why:?}");
    let times = select_all(&page, "#bulk-times");
    assert!(times[0].starts_with("Started by admin@example.com at ") && times[0].contains("; finished at "));
    assert_eq!(select_all(&page, "form[action$='/retry'] button"), vec!["Retry the 2 failures"]);
}

#[tokio::test]
async fn a_job_that_could_not_name_its_accounts_names_them_once_kaltura_can() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    // As a job ends when Kaltura could not be read: done, each account failed and recorded under its id.
    let user = app.user_id(crate::support::ADMIN_EMAIL).await;
    let job: i64 = sqlx::query_scalar(
        "INSERT INTO bulk_jobs (parent_id, user_id, actor, ip, action, state, started_at, finished_at) \
         VALUES (6464, ?, 'admin@example.com', '127.0.0.1', 'block', 'done', 0, 1) RETURNING id",
    )
    .bind(user)
    .fetch_one(&app.db)
    .await
    .expect("a job");
    for id in [6475, 6474] {
        sqlx::query("INSERT INTO bulk_items (job_id, partner_id, name, state, message) VALUES (?, ?, ?, 'failed', 'Kaltura took too long')")
            .bind(job)
            .bind(id)
            .bind(id.to_string())
            .execute(&app.db)
            .await
            .expect("an item");
    }
    let (_, _, failed) = outcome(&app, &admin, job).await;
    assert_eq!(failed, vec!["Down Under (6474)", "Shanghai (6475)"], "named as Kaltura has them now");
}

#[tokio::test]
async fn a_selection_changed_after_its_confirmation_starts_nothing() {
    let app = spawn_app().await;
    let client = app.admin().await;
    select(&app, &client, &[6475]).await;
    let asked = get(&app, &client, "/parents/6464/accounts/bulk/confirm/block").await;
    assert!(asked.body.contains("block 1 account?"), "{}", asked.body);
    let doc = Html::parse_document(&asked.body);
    let fingerprint = doc
        .select(&Selector::parse("input[name=selection]").unwrap())
        .next()
        .and_then(|i| i.value().attr("value"))
        .expect("the confirmation names its selection")
        .to_string();
    // Another tab adds an account before the first one confirms.
    select(&app, &client, &[6475, 6474]).await;
    app.emulator().reset_stats();
    let started = post(&app, &client, "/parents/6464/accounts/bulk/block", &[("selection", fingerprint)], false).await;
    assert_eq!(location(&started), "/parents/6464/accounts");
    let page = get(&app, &client, "/parents/6464/accounts").await.body;
    assert!(page.contains("The selection changed since you confirmed"), "{page}");
    assert_eq!(calls(&app.emulator().stats(), "varconsole_varconsole.updateStatus"), 0, "nothing was sent");
    let jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bulk_jobs").fetch_one(&app.db).await.unwrap();
    assert_eq!(jobs, 0);
}

#[tokio::test]
async fn removing_many_names_them_says_it_cannot_be_undone_and_asks_for_their_number() {
    let app = spawn_app_with_emulator(|c| c.children = 30).await;
    let admin = app.admin().await;
    let active = children_with(&app, PartnerStatus::Active).await;
    let chosen: Vec<i64> = active.iter().copied().take(12).collect();
    select(&app, &admin, &chosen).await;
    let confirm = get(&app, &admin, "/parents/6464/accounts/bulk/confirm/remove").await;
    assert_eq!(confirm.status, StatusCode::OK);
    let named = select_all(&confirm.body, ".changing-list li");
    assert_eq!(named.len(), 11, "the first ten, then how many more: {named:?}");
    assert!(
        named[0].ends_with(&format!("({})", chosen[0])) || named.iter().any(|n| n.contains(&chosen[0].to_string()))
    );
    assert_eq!(named[10], "and 2 more");
    assert!(select_all(&confirm.body, ".consequence")[0].contains("cannot be restored from this console"));
    assert_eq!(attr_all(&confirm.body, "input[name=expected_count]", "value"), ["12"]);

    // Without the number, or with another, nothing is removed.
    for typed in [None, Some("11")] {
        let mut form = vec![("expected_count", "12".to_owned())];
        if let Some(t) = typed {
            form.push(("confirm_count", t.to_owned()));
        }
        let a = post(&app, &admin, "/parents/6464/accounts/bulk/remove", &form, false).await;
        assert_eq!(location(&a), "/parents/6464/accounts", "{typed:?}");
        let page = get(&app, &admin, "/parents/6464/accounts").await.body;
        assert!(page.contains("Type the number of accounts to remove (12) to confirm"), "{typed:?}");
        assert_eq!(status_at_kaltura(&app, chosen[0]).await, PartnerStatus::Active, "{typed:?}");
    }
    let form = [("expected_count", "12".to_owned()), ("confirm_count", " 12 ".to_owned())];
    let a = post(&app, &admin, "/parents/6464/accounts/bulk/remove", &form, false).await;
    let job: i64 =
        location(&a).strip_prefix("/parents/6464/accounts/bulk/").and_then(|n| n.parse().ok()).expect("a job");
    until_finished(&app, job).await;
    for id in &chosen {
        assert_eq!(status_at_kaltura(&app, *id).await, PartnerStatus::Removed, "{id}");
    }
    // A few need no number; the single row's Remove says what it means too.
    let other = active.iter().find(|id| !chosen.contains(id)).expect("an account left");
    let confirm = get(&app, &admin, &format!("/parents/6464/accounts/{other}/confirm/remove")).await;
    assert!(confirm.body.contains("cannot be restored from this console"), "{}", confirm.body);
}
