//! Administration › Multi Account: the accounts table as Kaltura's Multi Account tab shows it (quota banner,
//! columns, search, status filter, sort, paging), one upstream request per view, URLs that reproduce a view, the
//! CSV export, and the row actions with the rules the server enforces whatever the page offered.

use kaltura::{KalturaClient, NewAccount, Pager, PartnerFilter, PartnerOrder, PartnerOrderField, PartnerStatus};
use multi_account::config::kaltura::KalturaSettings;
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION, REFERRER_POLICY};
use scraper::{ElementRef, Html, Selector};
use std::collections::BTreeSet;

use crate::support::{ADMIN_EMAIL, Answer, Role, TestApp, answer, get, quoted, spawn_app, spawn_app_with_emulator};

/// The demo organisation as `/accounts` lists it by default (Active and Blocked), newest first.
const DEFAULT_ORDER: [i64; 5] = [6479, 6478, 6475, 6474, 6464];

// ---------------------------------------------------------------------------------------------------------------
// Requests

/// A GET the way htmx sends it when the filter form, a sort header or a pager link swaps the panel.
async fn htmx_get(app: &TestApp, client: &reqwest::Client, path: &str) -> Answer {
    let req = client
        .get(app.at(path))
        .header("HX-Request", "true")
        .header("HX-Target", "accounts-panel")
        .header("HX-Current-URL", app.at("/parents/6464/accounts"));
    answer(req.send().await.expect("the console answers")).await
}

/// The full page at `path`, which must answer 200.
async fn open(app: &TestApp, client: &reqwest::Client, path: &str) -> String {
    let a = get(app, client, path).await;
    assert_eq!(a.status, StatusCode::OK, "GET {path}: {}", a.body);
    a.body
}

async fn post(app: &TestApp, client: &reqwest::Client, path: &str, htmx: bool) -> Answer {
    let mut req = client.post(app.at(path));
    if htmx {
        req = req.header("HX-Request", "true").header("HX-Current-URL", app.at("/parents/6464/accounts"));
    }
    answer(req.send().await.expect("the console answers")).await
}

// ---------------------------------------------------------------------------------------------------------------
// Kaltura, asked directly (as the parent's administrator), and the emulator's counters

fn kaltura(app: &TestApp) -> KalturaClient {
    let emu = app.emulator();
    KalturaSettings::default().demo_client(&emu.url, emu.parent_id, &emu.admin_secret).expect("a Kaltura client")
}

async fn status_at_kaltura(app: &TestApp, id: i64) -> PartnerStatus {
    kaltura(app).get_partner(id).await.expect("partner.get").status.expect("a status")
}

async fn set_status(app: &TestApp, id: i64, status: PartnerStatus) {
    kaltura(app).update_status(id, status).await.expect("varconsole.updateStatus");
}

/// Registers a child of the parent straight at Kaltura; returns its id.
async fn register(app: &TestApp, name: &str, email: &str, phone: &str) -> i64 {
    let account = NewAccount {
        admin_name: "Test Administrator".into(),
        name: name.into(),
        admin_email: email.into(),
        phone: phone.into(),
        website: None,
        reference_id: None,
    };
    kaltura(app).register(&account, None).await.expect("partner.register").id
}

fn all_statuses() -> Vec<PartnerStatus> {
    vec![PartnerStatus::Active, PartnerStatus::Blocked, PartnerStatus::Removed]
}

/// Every account with any status, in the console's default order, as Kaltura lists it.
async fn every_account_at_kaltura(app: &TestApp) -> Vec<i64> {
    let filter = PartnerFilter {
        status_in: Some(all_statuses()),
        order_by: Some(PartnerOrder::desc(PartnerOrderField::CreatedAt)),
        ..Default::default()
    };
    let mut ids = Vec::new();
    for page in 1.. {
        let list = kaltura(app).list_partners(&filter, &Pager::new(500, page)).await.expect("partner.list");
        ids.extend(list.objects.iter().map(|p| p.id));
        if list.objects.len() < 500 {
            break;
        }
    }
    ids
}

fn requests(app: &TestApp) -> u64 {
    app.emulator().stats()["requests"].as_u64().unwrap_or(0)
}

fn calls(app: &TestApp, name: &str) -> u64 {
    app.emulator().stats()["calls"][name].as_u64().unwrap_or(0)
}

async fn audit(app: &TestApp, action: &str, target: &str) -> Vec<(String, String, String)> {
    sqlx::query_as("SELECT actor, result, details FROM audit_log WHERE action = ? AND target = ? ORDER BY id")
        .bind(action)
        .bind(target)
        .fetch_all(&app.db)
        .await
        .expect("the audit log reads")
}

// ---------------------------------------------------------------------------------------------------------------
// Reading the HTML: parsed as a browser parses it (html5ever, through `scraper`), so the checks read elements,
// attributes and text whatever entities, attribute order or whitespace the templates write.

/// A page or an htmx fragment. Fragments parse as documents too: the row an action returns comes in a
/// `<template>`, which keeps its `<tr>` and `<td>`s even outside a table.
fn parse(html: &str) -> Html {
    Html::parse_document(html)
}

/// A selector a test wrote; a bad one is the test's own bug, so the panic names it.
fn sel(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|e| panic!("bad selector {css:?}: {e}"))
}

/// The elements under `scope` matching `css`, in document order.
fn all<'a>(scope: ElementRef<'a>, css: &str) -> Vec<ElementRef<'a>> {
    scope.select(&sel(css)).collect()
}

/// The first element under `scope` matching `css`, which must exist.
fn one<'a>(scope: ElementRef<'a>, css: &str) -> ElementRef<'a> {
    let found = scope.select(&sel(css)).next();
    found.unwrap_or_else(|| panic!("no {css} in:\n{}", scope.html()))
}

/// The element under `scope` matching `css` whose text is `label` (e.g. the Cancel link), which must exist.
fn labelled<'a>(scope: ElementRef<'a>, css: &str, label: &str) -> ElementRef<'a> {
    let found = all(scope, css).into_iter().find(|el| text_of(*el) == label);
    found.unwrap_or_else(|| panic!("no {css} reading {label:?} in:\n{}", scope.html()))
}

fn has(scope: ElementRef<'_>, css: &str) -> bool {
    scope.select(&sel(css)).next().is_some()
}

/// The decoded value of attribute `name` of `el`, which must have it.
fn attr<'a>(el: ElementRef<'a>, name: &str) -> &'a str {
    el.value().attr(name).unwrap_or_else(|| panic!("no {name} on {}", el.html()))
}

/// The text a reader sees: entities decoded, whitespace collapsed.
fn text_of(el: ElementRef<'_>) -> String {
    el.text().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text of a whole page or fragment.
fn text(html: &str) -> String {
    let doc = parse(html);
    text_of(doc.root_element())
}

/// The text of the first element matching `css`.
fn text_at(html: &str, css: &str) -> String {
    let doc = parse(html);
    text_of(one(doc.root_element(), css))
}

/// Attribute `name` of the first element matching `css`; both must exist.
fn attr_at(html: &str, css: &str, name: &str) -> String {
    let doc = parse(html);
    attr(one(doc.root_element(), css), name).to_string()
}

/// Whether any element matches `css`.
fn exists(html: &str, css: &str) -> bool {
    let doc = parse(html);
    has(doc.root_element(), css)
}

/// The partner ids of the table's rows, in order.
fn row_ids(html: &str) -> Vec<i64> {
    let doc = parse(html);
    let rows = all(doc.root_element(), r#"tr[id^="account-"]"#);
    rows.iter().map(|tr| attr(*tr, "id")["account-".len()..].parse::<i64>().expect("a partner id")).collect()
}

/// The row of partner `id`.
fn row(doc: &Html, id: i64) -> ElementRef<'_> {
    one(doc.root_element(), &format!("tr#account-{id}"))
}

/// The text of each cell of a row.
fn cells(row: ElementRef<'_>) -> Vec<String> {
    // The bulk-selection checkbox's cell aside.
    all(row, "td:not(.select)").into_iter().map(text_of).collect()
}

/// The `data-action`s a row's menu offers.
fn actions(row: ElementRef<'_>) -> Vec<String> {
    all(row, "[data-action]").into_iter().map(|b| attr(b, "data-action").to_string()).collect()
}

/// The column labels of the table head (the actions column is labelled for screen readers only).
fn column_labels(html: &str) -> Vec<String> {
    let doc = parse(html);
    let heads = all(doc.root_element(), "thead th:not(.select)");
    heads.into_iter().map(|th| text_of(th).trim_end_matches(['▲', '▼', '↕']).trim().to_string()).collect()
}

/// A number the banner shows in `<strong id="{id}">`.
fn strong(html: &str, id: &str) -> i64 {
    text_at(html, &format!("strong#{id}")).parse().expect("a number")
}

fn quota(html: &str) -> (i64, i64) {
    (strong(html, "quota-used"), strong(html, "quota-available"))
}

fn banner_text(html: &str) -> String {
    text_at(html, "#quota-banner")
}

fn add_account_disabled(html: &str) -> bool {
    let doc = parse(html);
    one(doc.root_element(), "#add-account").value().attr("disabled").is_some()
}

/// The pager's range text, `first–last of total`, as numbers.
fn range(html: &str) -> (i64, i64, i64) {
    let t = text_at(html, "span.range");
    let (shown, total) = t.split_once(" of ").unwrap_or_else(|| panic!("a range: {t}"));
    let (first, last) = shown.split_once('–').unwrap_or_else(|| panic!("a range: {t}"));
    (first.parse().unwrap(), last.parse().unwrap(), total.parse().unwrap())
}

/// Whether the status filter's box for Kaltura's status `code` is ticked; its label must read `label`.
fn status_ticked(html: &str, code: u8, label: &str) -> bool {
    let doc = parse(html);
    let input = one(doc.root_element(), &format!(r#"input[type="checkbox"][name="status"][value="{code}"]"#));
    let around = input.parent().and_then(ElementRef::wrap).expect("the box sits in its label");
    assert_eq!(text_of(around), label, "the label of status {code}");
    input.value().attr("checked").is_some()
}

/// The value and the label of the option chosen in `<select name="{name}">`.
fn chosen(html: &str, name: &str) -> [String; 2] {
    let doc = parse(html);
    let option = one(doc.root_element(), &format!(r#"select[name="{name}"] option[selected]"#));
    [attr(option, "value").to_string(), text_of(option)]
}

// ---------------------------------------------------------------------------------------------------------------
// CSV

/// Splits CSV text into records of fields (RFC 4180 quoting, CRLF line ends).
fn parse_csv(s: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

const CSV_HEADER: &str = "Account Name,Partner ID,Status,Status Code,Administrator,Admin Email,Admin Phone,Reference ID,\
                          Website URL,Creation Date,Created At (Unix),Parent Account";

// ===============================================================================================================
// The page

#[tokio::test]
async fn the_accounts_page_shows_the_demo_organisation_in_kalturas_words() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let body = open(&app, &client, "/parents/6464/accounts").await;
    let doc = parse(&body);

    // Header and the Administration navigation.
    assert_eq!(text_at(&body, "h1"), "Multi Account", "{body}");
    assert_eq!(text_at(&body, "title"), "Accounts · Multi Account", "the page, then the console");
    let users_tab = one(doc.root_element(), r#"a[href="/users"]"#);
    assert_eq!(text_of(users_tab), "Users", "the Users tab");
    assert!(users_tab.value().attr("class").is_none() && users_tab.value().attr("aria-current").is_none());
    assert_eq!(text_at(&body, r#"a.active[href="/parents/6464/accounts"][aria-current="page"]"#), "Multi Account");
    assert!(text(&body).contains("Sign out"));

    // The quota banner in Kaltura's words.
    let banner = banner_text(&body);
    assert!(banner.contains("Current status: 2 accounts in use*, 3 additional remaining."), "{banner}");
    assert!(banner.contains("Need more accounts? Contact Kaltura to request an upgrade."), "{banner}");
    assert!(banner.contains("* active or blocked accounts which are not used as templates"), "{banner}");
    assert_eq!(quota(&body), (2, 3));
    assert!(!add_account_disabled(&body), "accounts remain, so Add Account is enabled");

    assert_eq!(text_at(&body, "#publishers-count"), "5 Publishers");
    assert_eq!(
        column_labels(&body),
        [
            "Account Name",
            "Partner ID",
            "Status",
            "Administrator",
            "Admin Email",
            "Admin Phone",
            "Reference ID",
            "Website URL",
            "Creation Date (UTC)",
            "Actions"
        ]
    );
    assert_eq!(row_ids(&body), DEFAULT_ORDER, "Creation Date, newest first; removed accounts hidden");
    assert!(exists(&body, r#"th[scope="col"][aria-sort="descending"]"#), "the sorted column says so");

    assert_eq!(
        cells(row(&doc, 6475))[..9],
        [
            "Shanghai",
            "6475",
            "Active",
            "Muh Wih",
            "muh.wih@shanghai.techpubs.example",
            "9721234567",
            "N/A",
            "www.kaltura.com",
            "05/21/2019 13:18"
        ]
    );
    let down_under = cells(row(&doc, 6474));
    assert_eq!((down_under[6].as_str(), down_under[7].as_str()), ("N/A", "N/A"), "no reference id, no website");
    let parent = cells(row(&doc, 6464));
    assert_eq!(parent[0], "Debbie Techpubs (Parent Account)");
    assert_eq!(parent[8], "05/20/2019 11:03");
    assert_eq!(cells(row(&doc, 6479))[2], "Blocked");
    assert_eq!(row_ids(&body).iter().filter(|id| **id == 6464).count(), 1);
    // Raw bytes on purpose: nothing of another organisation may be anywhere in the answer, markup included.
    assert!(!body.contains("account-7001") && !body.contains("Northwind"), "another organisation never shows");
}

#[tokio::test]
async fn the_quota_banner_counts_active_and_blocked_children_but_never_templates_or_removed_accounts() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let banner = async || {
        let body = open(&app, &client, "/parents/6464/accounts").await;
        (quota(&body), add_account_disabled(&body), banner_text(&body))
    };
    assert_eq!(banner().await.0, (2, 3), "Shanghai and Down Under; the parent and two templates do not count");

    set_status(&app, 6475, PartnerStatus::Blocked).await;
    assert_eq!(banner().await.0, (2, 3), "a blocked account is still in use");

    set_status(&app, 6474, PartnerStatus::Removed).await;
    assert_eq!(banner().await.0, (1, 4), "a removed account frees its place");

    set_status(&app, 6478, PartnerStatus::Blocked).await;
    set_status(&app, 6479, PartnerStatus::Active).await;
    assert_eq!(banner().await.0, (1, 4), "templates never count, whatever their status");
    set_status(&app, 6478, PartnerStatus::Removed).await;
    assert_eq!(banner().await.0, (1, 4), "removing a template frees nothing");

    let mut added = Vec::new();
    for n in 1..=4 {
        added.push(register(&app, &format!("School {n}"), &format!("school{n}@schools.example"), "1").await);
    }
    let (numbers, disabled, text) = banner().await;
    assert_eq!(numbers, (5, 0));
    assert!(text.contains("Current status: 5 accounts in use*, 0 additional remaining."), "{text}");
    assert!(disabled, "Add Account is disabled when nothing remains");

    // Kaltura does not enforce the quota: past it, the banner says 0 remaining, never a negative number.
    added.push(register(&app, "One Too Many", "toomany@schools.example", "1").await);
    let (numbers, disabled, _) = banner().await;
    assert_eq!(numbers, (6, 0), "available is floored at 0");
    assert!(disabled);

    set_status(&app, added[0], PartnerStatus::Removed).await;
    set_status(&app, added[1], PartnerStatus::Removed).await;
    let (numbers, disabled, _) = banner().await;
    assert_eq!(numbers, (4, 1));
    assert!(!disabled, "one place is free again");
    let body = open(&app, &client, "/parents/6464/accounts").await;
    assert_eq!(attr_at(&body, "#add-account", "href"), "/parents/6464/accounts/new");
}

// ===============================================================================================================
// Search, filter, sort, paging

#[tokio::test]
async fn searching_by_partner_id_takes_one_id_or_a_comma_list() {
    let app = spawn_app().await;
    let client = app.admin().await;
    assert_eq!(row_ids(&open(&app, &client, "/parents/6464/accounts?q=6475").await), [6475]);
    assert_eq!(row_ids(&open(&app, &client, "/parents/6464/accounts?q=6475&by=id").await), [6475]);
    let body = open(&app, &client, "/parents/6464/accounts?q=6475,6474").await;
    assert_eq!(row_ids(&body), [6475, 6474]);
    assert_eq!(text_at(&body, "#publishers-count"), "2 Publishers");
    assert_eq!(row_ids(&open(&app, &client, "/parents/6464/accounts?q=6475%2C+6474&by=id").await), [6475, 6474]);
    // An id of another organisation, or a removed one under the default filter, is not found.
    let body = open(&app, &client, "/parents/6464/accounts?q=7001").await;
    assert!(row_ids(&body).is_empty());
    assert!(text(&body).contains("No Results"));
    assert!(row_ids(&open(&app, &client, "/parents/6464/accounts?q=6472").await).is_empty());
    assert_eq!(row_ids(&open(&app, &client, "/parents/6464/accounts?q=6472&status=3").await), [6472]);
}

#[tokio::test]
async fn searching_by_account_name_and_by_free_text_finds_the_right_accounts() {
    let app = spawn_app().await;
    let client = app.admin().await;
    assert_eq!(row_ids(&open(&app, &client, "/parents/6464/accounts?q=Down&by=name").await), [6474]);
    assert_eq!(
        row_ids(&open(&app, &client, "/parents/6464/accounts?q=shanghai%2CDown+Under&by=name").await),
        [6475, 6474]
    );
    assert_eq!(row_ids(&open(&app, &client, "/parents/6464/accounts?q=Template&by=name").await), [6479, 6478]);
    // "Muh Wih" is Shanghai's administrator, not a name: by name finds nothing.
    assert!(row_ids(&open(&app, &client, "/parents/6464/accounts?q=Muh+Wih&by=name").await).is_empty());

    // Free text: administrator email, administrator name, website (typed text that is not ids is free text).
    assert_eq!(
        row_ids(&open(&app, &client, "/parents/6464/accounts?q=renee.dvir%40downunder.techpubs.example&by=text").await),
        [6474]
    );
    assert_eq!(row_ids(&open(&app, &client, "/parents/6464/accounts?q=renee.dvir").await), [6474]);
    assert_eq!(row_ids(&open(&app, &client, "/parents/6464/accounts?q=Muh+Wih").await), [6475]);
    assert_eq!(row_ids(&open(&app, &client, "/parents/6464/accounts?q=kaltura.com&by=text").await), [6475, 6464]);
    // by=text reads digits as text, not as ids.
    assert!(row_ids(&open(&app, &client, "/parents/6464/accounts?q=6475&by=text").await).is_empty());

    // The form shows what was searched.
    let body = open(&app, &client, "/parents/6464/accounts?q=Down&by=name").await;
    assert_eq!(attr_at(&body, r#"input[name="q"]"#, "value"), "Down");
    assert_eq!(chosen(&body, "by"), ["name", "Account Name"]);
}

#[tokio::test]
async fn a_partner_id_search_with_letters_finds_nothing_in_one_upstream_request() {
    let app = spawn_app().await;
    let client = app.admin().await;
    app.emulator().reset_stats();
    let body = open(&app, &client, "/parents/6464/accounts?q=abc&by=id").await;
    assert!(row_ids(&body).is_empty());
    let empty = text_at(&body, "tr.empty td");
    assert!(empty.starts_with("No Results. A Partner ID is a number"), "the search says why: {empty}");
    assert_eq!(text_at(&body, "#publishers-count"), "0 Publishers");
    assert_eq!(quota(&body), (2, 3), "the banner is still right");
    assert_eq!(requests(&app), 1, "{}", app.emulator().stats());
}

#[tokio::test]
async fn the_status_filter_defaults_to_active_and_blocked_and_no_ticked_status_means_all() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let body = open(&app, &client, "/parents/6464/accounts").await;
    assert_eq!(row_ids(&body), DEFAULT_ORDER);
    assert!(status_ticked(&body, 1, "Active"));
    assert!(status_ticked(&body, 2, "Blocked"));
    assert!(!status_ticked(&body, 3, "Removed"));

    let body = open(&app, &client, "/parents/6464/accounts?status=3").await;
    assert_eq!(row_ids(&body), [6472], "only removed accounts");
    let doc = parse(&body);
    assert_eq!(cells(row(&doc, 6472))[..3], ["adtest name", "6472", "Removed"]);
    assert_eq!(cells(row(&doc, 6472))[6], "reference-adtest");
    assert!(status_ticked(&body, 3, "Removed"));
    assert!(!status_ticked(&body, 1, "Active"));

    // The filter form always sends `filtered=1`: nothing ticked means all three.
    let body = open(&app, &client, "/parents/6464/accounts?filtered=1&q=&by=auto").await;
    assert_eq!(row_ids(&body), [6479, 6478, 6475, 6474, 6472, 6464]);
    assert_eq!(text_at(&body, "#publishers-count"), "6 Publishers");

    assert_eq!(row_ids(&open(&app, &client, "/parents/6464/accounts?filtered=1&status=2").await), [6479]);
    assert_eq!(
        row_ids(&open(&app, &client, "/parents/6464/accounts?status=1&status=3").await),
        [6478, 6475, 6474, 6472, 6464]
    );
    assert_eq!(row_ids(&open(&app, &client, "/parents/6464/accounts?status=1,2,3").await).len(), 6);
}

#[tokio::test]
async fn every_sortable_column_sorts_both_ways() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let cases: [(&str, [i64; 5], [i64; 5]); 7] = [
        ("name", [6464, 6474, 6475, 6479, 6478], [6478, 6479, 6475, 6474, 6464]),
        ("id", [6464, 6474, 6475, 6478, 6479], [6479, 6478, 6475, 6474, 6464]),
        // Ties are broken by id, ascending, in both directions.
        ("status", [6464, 6474, 6475, 6478, 6479], [6479, 6464, 6474, 6475, 6478]),
        ("adminName", [6464, 6475, 6474, 6478, 6479], [6478, 6479, 6474, 6475, 6464]),
        ("adminEmail", [6464, 6479, 6475, 6474, 6478], [6478, 6474, 6475, 6479, 6464]),
        // Accounts without a website come first, as in Kaltura's MySQL.
        ("website", [6474, 6478, 6479, 6464, 6475], [6464, 6475, 6474, 6478, 6479]),
        ("createdAt", [6464, 6474, 6475, 6478, 6479], DEFAULT_ORDER),
    ];
    for (key, asc, desc) in cases {
        let body = open(&app, &client, &format!("/parents/6464/accounts?sort={key}&dir=asc")).await;
        assert_eq!(row_ids(&body), asc, "{key} ascending");
        assert!(exists(&body, r#"[aria-sort="ascending"]"#), "{key}");
        // Its header now sorts the other way (Creation Date descending is the bare default URL); the sort rides
        // along in the filter form.
        let flipped = if key == "createdAt" {
            "/parents/6464/accounts".to_string()
        } else {
            format!("/parents/6464/accounts?sort={key}&dir=desc")
        };
        assert!(exists(&body, &format!(r#"a[href="{flipped}"][hx-get]"#)), "{key}");
        assert!(exists(&body, &format!(r#"[name="sort"][value="{key}"][form="accounts-filter"]"#)), "{key}");
        assert!(exists(&body, r#"[name="dir"][value="asc"][form="accounts-filter"]"#), "{key}");

        let body = open(&app, &client, &format!("/parents/6464/accounts?sort={key}&dir=desc")).await;
        assert_eq!(row_ids(&body), desc, "{key} descending");
        assert!(exists(&body, r#"[aria-sort="descending"]"#), "{key}");
    }

    // From the default view, each header link starts in its natural direction; Creation Date flips.
    let body = open(&app, &client, "/parents/6464/accounts").await;
    for (key, dir) in [("name", "asc"), ("id", "asc"), ("status", "asc"), ("adminEmail", "asc"), ("createdAt", "asc")] {
        let href = format!("/parents/6464/accounts?sort={key}&dir={dir}");
        assert!(exists(&body, &format!(r#"a[href="{href}"][hx-get="{href}"]"#)), "{key}: {body}");
    }
    // Admin Phone and Reference ID cannot be sorted by Kaltura: plain labels.
    let doc = parse(&body);
    for label in ["Admin Phone", "Reference ID"] {
        let th = all(doc.root_element(), "thead th").into_iter().find(|th| text_of(*th).contains(label)).unwrap();
        assert!(!has(th, "a"), "{label} is not a link: {}", th.html());
    }
}

#[tokio::test]
async fn paging_through_many_children_shows_the_range_and_links_to_the_neighbouring_pages() {
    let app = spawn_app_with_emulator(|cfg| cfg.children = 300).await;
    let client = app.admin().await;
    let every = every_account_at_kaltura(&app).await;
    assert_eq!(every.len(), 306, "the demo's six and 300 synthetic children");

    let body = open(&app, &client, "/parents/6464/accounts?status=1,2,3&size=25&page=2").await;
    assert_eq!(row_ids(&body), every[25..50], "the 26th to the 50th account, newest first");
    assert_eq!(range(&body), (26, 50, 306));
    assert!(text(&body).contains("26–50 of 306"));
    assert_eq!(text_at(&body, "#publishers-count"), "306 Publishers");
    let prev = "/parents/6464/accounts?status=1%2C2%2C3&size=25";
    let next = "/parents/6464/accounts?status=1%2C2%2C3&page=3&size=25";
    assert!(exists(&body, &format!(r#"a[href="{prev}"][hx-get="{prev}"][rel="prev"]"#)), "{body}");
    assert!(exists(&body, &format!(r#"a[href="{next}"][hx-get="{next}"][rel="next"]"#)));
    assert_eq!(text_at(&body, r#"span.current[aria-current="page"]"#), "2");

    let first = open(&app, &client, "/parents/6464/accounts?status=1,2,3&size=25").await;
    assert_eq!(row_ids(&first), every[..25]);
    assert_eq!(range(&first), (1, 25, 306));
    assert!(!exists(&first, r#"[rel="prev"]"#), "no page before the first");

    let last = open(&app, &client, "/parents/6464/accounts?status=1,2,3&size=25&page=13").await;
    assert_eq!(row_ids(&last), every[300..]);
    assert_eq!(range(&last), (301, 306, 306));
    assert!(!exists(&last, r#"[rel="next"]"#), "no page after the last");
    assert!(exists(&last, r#"[rel="prev"]"#));
}

#[tokio::test]
async fn every_page_size_shows_that_many_rows_and_the_choice_is_remembered_for_the_user() {
    let app = spawn_app_with_emulator(|cfg| cfg.children = 300).await;
    let client = app.admin().await;
    let body = open(&app, &client, "/parents/6464/accounts").await;
    assert_eq!(row_ids(&body).len(), 50, "50 by default");
    assert_eq!(chosen(&body, "size"), ["50", "50"]);

    for size in [75, 100, 50, 25] {
        let body = open(&app, &client, &format!("/parents/6464/accounts?size={size}")).await;
        assert_eq!(row_ids(&body).len(), size, "size={size}");
        assert_eq!(chosen(&body, "size"), [size.to_string(), size.to_string()]);
    }
    // The last size chosen is the size from now on, for this user, in any browser.
    let body = open(&app, &client, "/parents/6464/accounts").await;
    assert_eq!(row_ids(&body).len(), 25);
    assert_eq!(chosen(&body, "size"), ["25", "25"]);
    assert!(exists(&body, r#"[rel="next"]"#));
    assert!(exists(&body, r#"a[href="/parents/6464/accounts?page=2&size=25"]"#), "links keep the size");
    let elsewhere = app.admin().await;
    assert_eq!(row_ids(&open(&app, &elsewhere, "/parents/6464/accounts").await).len(), 25, "remembered for the user");

    // Another administrator keeps the default.
    app.create_user("second@example.com", Role::PublisherAdministrator, "second admin password").await;
    let second = app.signed_in("second@example.com", "second admin password").await;
    assert_eq!(row_ids(&open(&app, &second, "/parents/6464/accounts").await).len(), 50);
}

#[tokio::test]
async fn bad_query_values_are_dropped_with_a_note_never_an_error() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let body = open(&app, &client, "/parents/6464/accounts?page=-1&size=7&sort=phone&status=9&dir=up&by=magic").await;
    let shown = text(&body);
    for note in [
        "Page “-1” does not exist; showing page 1.",
        "Page size “7” is not one of 25, 50, 75, 100; using your usual size.",
        "Cannot sort by “phone”; sorted by Creation Date.",
        "Unknown status “9” ignored.",
        "Unknown sort direction “up” ignored.",
        "Unknown search type “magic” ignored.",
    ] {
        assert!(shown.contains(note), "{note} in {shown}");
    }
    assert_eq!(row_ids(&body), DEFAULT_ORDER, "the default view");
    assert_eq!(quota(&body), (2, 3));

    for query in ["page=abc", "page=0", "page=99999999999", "size=0", "size=abc", "sort=", "status=abc,,", "dir="] {
        let a = get(&app, &client, &format!("/parents/6464/accounts?{query}")).await;
        assert_eq!(a.status, StatusCode::OK, "{query}: {}", a.body);
        assert_eq!(row_ids(&a.body), DEFAULT_ORDER, "{query}");
    }
    // Typed text is shown escaped, never as markup (raw bytes on purpose: a parser would hide the difference).
    let body = open(&app, &client, "/parents/6464/accounts?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E&by=%3Cb%3E").await;
    assert!(!body.contains("<script>alert(1)") && !body.contains("<b>"), "{body}");
    assert_eq!(attr_at(&body, r#"input[name="q"]"#, "value"), "<script>alert(1)</script>");
    assert!(text(&body).contains("Unknown search type “<b>” ignored."));
    // And an htmx swap with bad values is a 200 panel with the notes too.
    let a = htmx_get(&app, &client, "/parents/6464/accounts?page=-1&size=7").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(text(&a.body).contains("Page “-1” does not exist; showing page 1."));
}

#[tokio::test]
async fn a_page_past_the_end_shows_no_results_with_a_sensible_range_and_a_way_back() {
    let app = spawn_app().await;
    let client = app.admin().await;
    // E.g. a bookmark of page 99, or page 2 after accounts were removed.
    let body = open(&app, &client, "/parents/6464/accounts?page=99").await;
    assert!(row_ids(&body).is_empty());
    assert!(text(&body).contains("No Results"));
    let (first, last, total) = range(&body);
    assert_eq!(total, 5);
    assert!(first <= last || (first, last) == (0, 0), "the range reads backwards: {first}–{last} of {total}");
    let doc = parse(&body);
    let pager = one(doc.root_element(), "nav.pager");
    assert!(
        has(pager, r#"[href="/parents/6464/accounts"]"#),
        "the pager links to the last page that exists (page 1): {}",
        pager.html()
    );
}

// ===============================================================================================================
// URLs, htmx and history

#[tokio::test]
async fn an_htmx_request_gets_only_the_panel_and_the_url_it_pushes_opens_the_same_view() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let a = htmx_get(
        &app,
        &client,
        "/parents/6464/accounts?filtered=1&by=name&q=Shanghai%2CDown&status=1&status=2&size=50&sort=name&dir=asc",
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // Raw bytes here: a parser supplies the <html> a fragment lacks.
    assert!(!a.body.contains("<html"), "only the fragment: {}", a.body);
    assert!(!exists(&a.body, "form#accounts-filter"), "not the toolbar");
    let fragment = parse(&a.body);
    assert_eq!(one(fragment.root_element(), "body > *").value().id(), Some("accounts-panel"), "{}", a.body);
    assert_eq!(attr_at(&a.body, "#quota-banner.quota-banner", "hx-swap-oob"), "true", "banner oob");
    assert_eq!(row_ids(&a.body), [6474, 6475]);
    let canonical = a.headers["hx-push-url"].to_str().unwrap().to_string();
    assert_eq!(canonical, "/parents/6464/accounts?q=Shanghai%2CDown&by=name&sort=name&dir=asc");

    let body = open(&app, &client, &canonical).await;
    assert!(body.contains("<html"));
    assert_eq!(row_ids(&body), [6474, 6475], "the same rows");
    assert_eq!(attr_at(&body, r#"input[name="q"]"#, "value"), "Shanghai,Down");
    assert_eq!(chosen(&body, "by"), ["name", "Account Name"]);
    assert!(status_ticked(&body, 1, "Active"));
    assert!(!status_ticked(&body, 3, "Removed"));
    // The page's own links (Retry target, CSV) carry the same view.
    assert!(exists(&body, &format!(r#"[hx-get="{canonical}"][hx-trigger="accounts-changed from:body"]"#)));
    assert!(exists(
        &body,
        r#"a[href="/parents/6464/accounts.csv?q=Shanghai%2CDown&by=name&sort=name&dir=asc"][download]"#
    ));

    // Any text survives the round trip.
    let a = htmx_get(&app, &client, "/parents/6464/accounts?q=Z%C3%BCrich+%26+Co&by=name").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers["hx-push-url"], "/parents/6464/accounts?q=Z%C3%BCrich+%26+Co&by=name");

    // The default view's canonical URL is bare.
    let a = htmx_get(&app, &client, "/parents/6464/accounts?filtered=1&status=1&status=2&q=&by=auto&size=50").await;
    assert_eq!(a.headers["hx-push-url"], "/parents/6464/accounts");
    assert_eq!(row_ids(&a.body), DEFAULT_ORDER);

    // Without HX-Target, an htmx request (e.g. from elsewhere) gets the page.
    let res = client.get(app.at("/parents/6464/accounts")).header("HX-Request", "true").send().await.unwrap();
    assert!(res.text().await.unwrap().contains("<html"));
}

#[tokio::test]
async fn a_history_restore_request_gets_the_full_page() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let res = client
        .get(app.at("/parents/6464/accounts?status=3"))
        .header("HX-Request", "true")
        .header("HX-History-Restore-Request", "true")
        .header("HX-Target", "accounts-panel")
        .header("HX-Current-URL", app.at("/parents/6464/accounts?status=3"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    assert!(body.contains("<html"), "{body}");
    assert_eq!(text_at(&body, "h1"), "Multi Account");
    assert_eq!(row_ids(&body), [6472]);
}

#[tokio::test]
async fn a_page_view_and_a_fragment_swap_each_cost_exactly_one_upstream_request() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let emu = app.emulator();
    // Counted: the templates, the accounts in use, and (for a search, or with removed accounts shown) the accounts a
    // bulk action could select.
    let expect_one = |what: &str, counts: u64| {
        let stats = emu.stats();
        assert_eq!(stats["requests"], 1, "{what}: {stats}");
        assert_eq!(stats["calls"]["partner.list"], 1, "{what}: the page: {stats}");
        assert_eq!(stats["calls"]["partner.count"], counts, "{what}: {stats}");
        assert_eq!(stats["calls"]["partner.getInfo"], 1, "{what}: the quota: {stats}");
        assert_eq!(stats["calls"].as_object().unwrap().len(), 3, "{what}: nothing else: {stats}");
    };
    emu.reset_stats();
    open(&app, &client, "/parents/6464/accounts").await;
    expect_one("the page", 2);

    emu.reset_stats();
    let a = htmx_get(&app, &client, "/parents/6464/accounts?sort=name&dir=asc&status=1,2,3").await;
    assert_eq!(row_ids(&a.body).len(), 6);
    expect_one("a fragment swap", 3);

    emu.reset_stats();
    open(&app, &client, "/parents/6464/accounts?q=Shanghai&by=name&page=1&size=25").await;
    expect_one("a search", 3);

    emu.reset_stats();
    htmx_get(&app, &client, "/parents/6464/accounts?q=6475,6474").await;
    expect_one("an id search", 3);
}

// ===============================================================================================================
// Failures

#[tokio::test]
async fn when_kaltura_cannot_be_reached_the_page_says_so_with_retry_and_an_unknown_quota() {
    let mut app = spawn_app().await;
    let client = app.admin().await;
    let secret = app.emulator().admin_secret.clone();
    app.stop_emulator().await;

    let a = get(&app, &client, "/parents/6464/accounts?sort=name&dir=asc").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let shown = text(&a.body);
    assert!(shown.contains("Can't load accounts."), "{shown}");
    assert!(shown.contains("Check that Kaltura is reachable, then retry."), "{shown}");
    let doc = parse(&a.body);
    let retry = labelled(one(doc.root_element(), "div.load-error"), "a.btn", "Retry");
    let view = "/parents/6464/accounts?sort=name&dir=asc";
    assert_eq!((attr(retry, "href"), attr(retry, "hx-get")), (view, view), "Retry reloads the same view");
    assert!(banner_text(&a.body).contains("Current status: unknown, because Kaltura could not be asked."));
    assert!(!exists(&a.body, "#quota-used"));
    assert!(add_account_disabled(&a.body), "Add Account is disabled when the list failed");
    assert!(row_ids(&a.body).is_empty());
    assert!(!a.body.contains(&secret), "no secret in the page");

    let a = htmx_get(&app, &client, "/parents/6464/accounts").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(text(&a.body).contains("Can't load accounts."));
    assert!(text(&a.body).contains("Retry"));

    // The export cannot start: an error page, not a broken file.
    let a = get(&app, &client, "/parents/6464/accounts.csv").await;
    assert_eq!(a.status, StatusCode::BAD_GATEWAY);
    assert!(text(&a.body).contains("Can't load accounts."), "{}", a.body);
}

#[tokio::test]
async fn a_kaltura_api_error_is_shown_with_its_message() {
    let app = spawn_app().await;
    let client = app.admin().await;
    // Kaltura refuses every call of a blocked partner, the parent included.
    set_status(&app, 6464, PartnerStatus::Blocked).await;
    let a = get(&app, &client, "/parents/6464/accounts").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let shown = text(&a.body);
    assert!(
        shown.contains(
            "Can't load accounts: The access to this service is forbidden since the specified partner is blocked"
        ),
        "{shown}"
    );
    assert!(shown.contains("Retry"));
    assert!(banner_text(&a.body).contains("unknown"));
    assert!(add_account_disabled(&a.body));
}

// ===============================================================================================================
// CSV export

#[tokio::test]
async fn the_csv_export_holds_every_account_under_the_filter_across_upstream_pages() {
    let app = spawn_app_with_emulator(|cfg| cfg.children = 1200).await;
    let client = app.admin().await;
    let every = every_account_at_kaltura(&app).await;
    assert_eq!(every.len(), 1206);

    app.emulator().reset_stats();
    let a = get(&app, &client, "/parents/6464/accounts.csv?status=1,2,3").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.headers[CONTENT_TYPE], "text/csv; charset=utf-8");
    let disposition = a.headers[CONTENT_DISPOSITION].to_str().unwrap();
    assert!(disposition.starts_with("attachment; filename=\"accounts-") && disposition.ends_with(".csv\""));
    assert_eq!(requests(&app), 3, "three upstream pages of 500: {}", app.emulator().stats());

    assert!(a.body.starts_with(&format!("{}\r\n", quoted(CSV_HEADER))), "{}", &a.body[..200]);
    let records = parse_csv(&a.body);
    let ids: Vec<i64> = records[1..].iter().map(|r| r[1].parse().expect("a partner id")).collect();
    let mut by_id = every.clone();
    by_id.sort_unstable();
    assert_eq!(ids, by_id, "every account once, by partner id");
    assert!(records.iter().all(|r| r.len() == 12), "12 fields on every line");
    let statuses: BTreeSet<(&str, &str)> = records[1..].iter().map(|r| (r[2].as_str(), r[3].as_str())).collect();
    assert_eq!(statuses, BTreeSet::from([("Active", "1"), ("Blocked", "2"), ("Removed", "3")]));
    assert_eq!(records[1..].iter().filter(|r| r[11] == "yes").map(|r| r[1].as_str()).collect::<Vec<_>>(), ["6464"]);

    // The default filter leaves removed accounts out, as the page does.
    let a = get(&app, &client, "/parents/6464/accounts.csv").await;
    let records = parse_csv(&a.body);
    assert!(records[1..].iter().all(|r| r[3] == "1" || r[3] == "2"));
    assert!(records.len() > 1000);
}

#[tokio::test]
async fn the_csv_export_quotes_fields_and_neutralises_formulas() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let id = register(&app, "Smith, \"Jones\" & Co", "smith@jones.example", "=1+2").await;

    let a = get(&app, &client, "/parents/6464/accounts.csv?status=1,2,3").await;
    assert_eq!(a.status, StatusCode::OK);
    let lines: Vec<&str> = a.body.split("\r\n").collect();
    assert_eq!(lines[0], quoted(CSV_HEADER), "every field quoted");
    assert_eq!(lines.len(), 1 + 7 + 1, "header, seven accounts, and the final line end");
    assert_eq!(lines[8], "");
    // A value Kaltura does not have is empty, not the page's "N/A".
    for expected in [
        "Debbie Techpubs,6464,Active,1,Debbie Techpubs,debbie@techpubs.example,'+972501234567,,www.kaltura.com,\
         05/20/2019 11:03,1558350180,yes",
        "Shanghai,6475,Active,1,Muh Wih,muh.wih@shanghai.techpubs.example,9721234567,,www.kaltura.com,\
         05/21/2019 13:18,1558444680,no",
        "adtest name,6472,Removed,3,ad test,ad@adtest.techpubs.example,11111+11,reference-adtest,,\
         05/20/2019 13:02,1558357320,no",
        "Template - Legacy,6479,Blocked,2,Template Owner,legacy-templates@techpubs.example,\
         '+972501234501,,,06/02/2019 12:00,1559476800,no",
    ] {
        assert!(lines.contains(&quoted(expected).as_str()), "{expected}");
    }
    let smith = lines.iter().find(|l| l.contains(&format!(",\"{id}\","))).expect("the new account");
    assert!(smith.starts_with(&format!(r#""Smith, ""Jones"" & Co","{id}","Active","1","#)), "{smith}");
    assert!(smith.contains(r#","'=1+2","#), "a formula is neutralised: {smith}");
    let parsed = parse_csv(&a.body);
    let smith = parsed.iter().find(|r| r[1] == id.to_string()).unwrap();
    assert_eq!(smith[0], "Smith, \"Jones\" & Co");

    // The export follows the search too.
    let a = get(&app, &client, "/parents/6464/accounts.csv?q=Shanghai&by=name").await;
    let records = parse_csv(&a.body);
    assert_eq!(records.len(), 2);
    assert_eq!(records[1][1], "6475");
}

#[tokio::test]
async fn the_csv_export_needs_a_signed_in_publisher_administrator() {
    let app = spawn_app().await;
    let a = get(&app, &app.client(), "/parents/6464/accounts.csv?status=1,2,3").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert!(a.headers[LOCATION].to_str().unwrap().starts_with("/login"), "{:?}", a.headers[LOCATION]);
    assert!(!a.body.contains("6464"));

    app.create_user("manager@example.com", Role::Manager, "manager password 1").await;
    let manager = app.signed_in("manager@example.com", "manager password 1").await;
    let a = get(&app, &manager, "/parents/6464/accounts.csv?status=1,2,3").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(!a.body.contains("Debbie Techpubs,6464"));
    assert_eq!(get(&app, &manager, "/parents/6464/accounts").await.status, StatusCode::FORBIDDEN);
}

// ===============================================================================================================
// Row actions

#[tokio::test]
async fn each_row_offers_exactly_the_actions_its_status_allows() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let body = open(&app, &client, "/parents/6464/accounts?filtered=1").await;
    assert_eq!(row_ids(&body).len(), 6);
    let doc = parse(&body);
    let active = ["details", "edit", "kmc-login", "block", "remove"];
    assert_eq!(actions(row(&doc, 6475)), active, "Active child");
    assert_eq!(actions(row(&doc, 6474)), active, "Active child");
    assert_eq!(actions(row(&doc, 6478)), active, "an active template is an active child");
    assert_eq!(actions(row(&doc, 6479)), ["details", "unblock", "remove"], "Blocked child: no Edit");
    assert!(actions(row(&doc, 6472)).is_empty(), "Removed: none");
    assert!(has(row(&doc, 6472), ".no-actions"), "the menu is disabled");
    assert!(!has(row(&doc, 6472), "details"));
    assert!(actions(row(&doc, 6464)).is_empty(), "the parent: nothing, not even its administrator session");

    let shanghai = row(&doc, 6475);
    assert!(has(shanghai, r#"form[method="post"][action="/parents/6464/accounts/6475/kmc-login"][target="_blank"]"#));
    assert!(text_of(shanghai).contains("View details Edit Rich Media CMS Login Block Remove"));
    // The confirm page asks in both cases: in the page's dialog under htmx, on a page of its own without JavaScript.
    let remove = one(shanghai, r#"[data-action="remove"]"#);
    assert_eq!(attr(remove, "hx-get"), "/parents/6464/accounts/6475/confirm/remove");
    assert_eq!(attr(remove, "hx-target"), "#dialog-slot");
    assert!(
        has(shanghai, r#"form[method="get"][action="/parents/6464/accounts/6475/confirm/block"]"#),
        "no-JS fallback"
    );
    assert!(has(
        row(&doc, 6464),
        r#"a.no-actions[href="/parents/6464/accounts/6464"][aria-label*="it is the parent account"]"#
    ));
    assert!(text_of(row(&doc, 6479)).contains("Unblock Remove"));
}

#[tokio::test]
async fn actions_the_status_does_not_allow_are_refused_by_the_server() {
    let app = spawn_app().await;
    let client = app.admin().await; // sends this site's Origin, as a browser would
    app.emulator().reset_stats();

    let cases = [
        ("/parents/6464/accounts/6472/block", "Block is not available for an account that is removed."),
        ("/parents/6464/accounts/6472/unblock", "Unblock is not available for an account that is removed."),
        ("/parents/6464/accounts/6472/remove", "Remove is not available for an account that is removed."),
        ("/parents/6464/accounts/6475/unblock", "Unblock is not available for an account that is active."),
        ("/parents/6464/accounts/6479/block", "Block is not available for an account that is blocked."),
        ("/parents/6464/accounts/6464/block", "Block is not available for the parent account."),
        ("/parents/6464/accounts/6464/remove", "Remove is not available for the parent account."),
        ("/parents/6464/accounts/7001/block", "Account 7001 is not one of your accounts."),
        ("/parents/6464/accounts/7002/remove", "Account 7002 is not one of your accounts."),
    ];
    for (path, message) in cases {
        let a = post(&app, &client, path, true).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {}", a.body);
        assert!(text(&a.body).contains(message), "{path}: {}", a.body);
        let doc = parse(&a.body);
        let flash = one(doc.root_element(), "#flash");
        assert_eq!((attr(flash, "aria-live"), attr(flash, "hx-swap-oob")), ("polite", "true"), "{path}");
        assert!(has(flash, r#".flash.flash-error[role="alert"]"#), "{path}");
    }
    // Without htmx: back to the page, which says why.
    let a = post(&app, &client, "/parents/6464/accounts/6472/block", false).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.headers[LOCATION], "/parents/6464/accounts");
    let page = open(&app, &client, "/parents/6464/accounts").await;
    assert!(text(&page).contains("Block is not available for an account that is removed."), "the flash");

    assert_eq!(calls(&app, "varconsole_varconsole.updateStatus"), 0, "nothing was changed at Kaltura");
    assert_eq!(status_at_kaltura(&app, 6472).await, PartnerStatus::Removed);
    assert_eq!(status_at_kaltura(&app, 6464).await, PartnerStatus::Active);
    assert_eq!(status_at_kaltura(&app, 6475).await, PartnerStatus::Active);
    assert_eq!(status_at_kaltura(&app, 6479).await, PartnerStatus::Blocked);

    let entries = audit(&app, "account.block", "6472").await;
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|(actor, result, details)| actor == ADMIN_EMAIL
        && result == "refused"
        && details == "Block is not available for an account that is removed."));
    assert_eq!(audit(&app, "account.block", "6464").await[0].1, "refused");
    assert_eq!(audit(&app, "account.block", "7001").await[0].1, "refused");

    // An action that does not exist is not a refusal but nothing at all.
    assert_eq!(post(&app, &client, "/parents/6464/accounts/6475/delete", true).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn blocking_with_htmx_returns_the_updated_row_the_banner_and_a_message() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let a = post(&app, &client, "/parents/6464/accounts/6475/block", true).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let doc = parse(&a.body);
    let updated = row(&doc, 6475);
    assert_eq!(updated.value().attr("hx-swap-oob"), Some("true"), "the row replaces itself: {}", updated.html());
    assert_eq!(cells(updated)[..3], ["Shanghai", "6475", "Blocked"]);
    assert_eq!(actions(updated), ["details", "unblock", "remove"], "the row now offers what a blocked account allows");
    assert_eq!(attr_at(&a.body, "#quota-banner.quota-banner", "hx-swap-oob"), "true");
    assert_eq!(quota(&a.body), (2, 3), "a blocked account still counts");
    let flash = one(doc.root_element(), "#flash");
    assert!(flash.value().attr("hx-swap-oob") == Some("true") && has(flash, ".flash-ok"), "{}", flash.html());
    assert_eq!(text_of(flash), "Shanghai (6475) was blocked.");
    assert_eq!(status_at_kaltura(&app, 6475).await, PartnerStatus::Blocked);

    let a = post(&app, &client, "/parents/6464/accounts/6474/remove", true).await;
    assert_eq!(a.status, StatusCode::OK);
    let doc = parse(&a.body);
    assert_eq!(cells(row(&doc, 6474))[2], "Removed");
    assert!(actions(row(&doc, 6474)).is_empty());
    assert_eq!(quota(&a.body), (1, 4), "removing frees a place");
    assert!(text(&a.body).contains("Down Under (6474) was removed."));
    assert_eq!(status_at_kaltura(&app, 6474).await, PartnerStatus::Removed);

    let a = post(&app, &client, "/parents/6464/accounts/6475/unblock", true).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(cells(row(&parse(&a.body), 6475))[2], "Active");
    assert!(text(&a.body).contains("Shanghai (6475) was unblocked."));
    assert_eq!(status_at_kaltura(&app, 6475).await, PartnerStatus::Active);

    for (action, target) in [("account.block", "6475"), ("account.remove", "6474"), ("account.unblock", "6475")] {
        let entries = audit(&app, action, target).await;
        assert_eq!(entries.len(), 1, "{action} {target}");
        assert_eq!((entries[0].0.as_str(), entries[0].1.as_str()), (ADMIN_EMAIL, "ok"));
    }
    let page = open(&app, &client, "/parents/6464/accounts").await;
    assert_eq!(row_ids(&page), [6479, 6478, 6475, 6464], "Down Under left the default view");
    assert_eq!(quota(&page), (1, 4));
}

#[tokio::test]
async fn blocking_with_a_plain_form_asks_first_then_redirects_back_with_a_message() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let confirm = open(
        &app,
        &client,
        "/parents/6464/accounts/6475/confirm/block?next=%2Fparents%2F6464%2Faccounts%3Fsort%3Dname%26dir%3Dasc",
    )
    .await;
    assert!(text(&confirm).contains("Confirm Block"));
    assert!(text(&confirm).contains("Are you sure you want to block the selected account? (Shanghai)"));
    let action = attr_at(&confirm, r#"form[method="post"][action^="/parents/6464/accounts/6475/block"]"#, "action");
    assert!(action.starts_with("/parents/6464/accounts/6475/block?next="), "{action}");
    let doc = parse(&confirm);
    assert_eq!(
        attr(labelled(doc.root_element(), "a.btn", "Cancel"), "href"),
        "/parents/6464/accounts?sort=name&dir=asc"
    );

    let a = post(&app, &client, &action, false).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.headers[LOCATION], "/parents/6464/accounts?sort=name&dir=asc", "back to the view it came from");
    let page = open(&app, &client, "/parents/6464/accounts?sort=name&dir=asc").await;
    let flash = text_at(&page, "#flash");
    assert_eq!(flash, "Shanghai (6475) was blocked.");
    assert_eq!(cells(row(&parse(&page), 6475))[2], "Blocked");
    assert_eq!(status_at_kaltura(&app, 6475).await, PartnerStatus::Blocked);
    let again = open(&app, &client, "/parents/6464/accounts").await;
    assert!(!text(&again).contains("was blocked."), "the message is shown once");

    // A return address elsewhere is ignored.
    let a = post(&app, &client, "/parents/6464/accounts/6474/block?next=%2F%2Fevil.example%2Faccounts", false).await;
    assert_eq!(a.headers[LOCATION], "/parents/6464/accounts");
}

#[tokio::test]
async fn the_remove_confirmation_asks_in_kalturas_words_and_unknown_accounts_are_refused() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let body = open(&app, &client, "/parents/6464/accounts/6475/confirm/remove").await;
    assert_eq!(text_at(&body, "h1"), "Confirm Remove", "{body}");
    assert!(text(&body).contains("Are you sure you want to remove the selected account? (Shanghai)"));
    assert!(exists(&body, r#"form[method="post"][action^="/parents/6464/accounts/6475/remove?next="]"#), "{body}");
    assert!(text(&body).contains("Cancel Remove"), "Cancel, then the action, as in every form");
    assert_eq!(status_at_kaltura(&app, 6475).await, PartnerStatus::Active, "asking changes nothing");

    let body = open(&app, &client, "/parents/6464/accounts/6479/confirm/unblock").await;
    assert!(text(&body).contains("Are you sure you want to unblock the selected account? (Template - Legacy)"));

    let a = get(&app, &client, "/parents/6464/accounts/7001/confirm/remove").await;
    assert!(!a.status.is_success(), "{}: {}", a.status, a.body);
    assert!(!a.body.contains("Are you sure"), "{}", a.body);
    assert!(!a.body.contains("Northwind"), "nothing about another organisation");

    assert_eq!(get(&app, &client, "/parents/6464/accounts/6475/confirm/explode").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_confirm_page_does_not_ask_about_an_action_the_server_would_refuse() {
    let app = spawn_app().await;
    let client = app.admin().await;
    // The pages a no-JavaScript user reaches from an old tab or a typed URL: the table offers none of these.
    for (path, refusal) in [
        ("/parents/6464/accounts/6472/confirm/remove", "Remove is not available for an account that is removed."),
        ("/parents/6464/accounts/6464/confirm/block", "Block is not available for the parent account."),
        ("/parents/6464/accounts/6475/confirm/unblock", "Unblock is not available for an account that is active."),
        // Not a Kaltura failure (no 502 \"Can't load accounts\"): the account is simply not one of ours.
        ("/parents/6464/accounts/7001/confirm/remove", "Account 7001 is not one of your accounts."),
    ] {
        let a = get(&app, &client, path).await;
        assert!(!a.status.is_server_error(), "{path}: {} {}", a.status, text(&a.body));
        assert!(!a.body.contains("Are you sure"), "{path} asks about what it would refuse: {}", text(&a.body));
        assert!(text(&a.body).contains(refusal), "{path}: {}", text(&a.body));
    }
}

#[tokio::test]
async fn rich_media_cms_login_opens_the_childs_cms_without_the_ks_reaching_any_page() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let emu_url = app.emulator().url.clone();
    let mut served = vec![open(&app, &client, "/parents/6464/accounts").await];

    let a = post(&app, &client, "/parents/6464/accounts/6475/kmc-login", false).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let location = a.headers[LOCATION].to_str().unwrap().to_string();
    let prefix = format!("{emu_url}/index.php/kmcng/actions/persist-login-by-ks/");
    assert!(location.starts_with(&prefix), "{location}");
    let ks = location[prefix.len()..].to_string();
    assert!(ks.len() > 20, "a KS: {ks}");
    assert_eq!(a.headers[CACHE_CONTROL], "no-store");
    served.push(a.body);

    // The new tab follows the redirect to the Rich Media CMS.
    let kmc = reqwest::get(&location).await.unwrap();
    assert_eq!(kmc.status(), StatusCode::OK);
    let kmc = kmc.text().await.unwrap();
    assert_eq!(text_at(&kmc, "dd#partner-name"), "Shanghai", "{kmc}");
    assert_eq!(text_at(&kmc, "dd#partner-id"), "6475");
    assert_eq!(text_at(&kmc, "dd#user-id"), "muh.wih@shanghai.techpubs.example");
    assert_eq!(text_at(&kmc, "dd#session-type"), "Administrator");

    // The console's pages after the login.
    served.push(open(&app, &client, "/parents/6464/accounts").await);
    served.push(open(&app, &client, "/parents/6464/accounts?filtered=1").await);
    served.push(htmx_get(&app, &client, "/parents/6464/accounts?sort=name&dir=asc").await.body);
    served.push(get(&app, &client, "/parents/6464/accounts.csv?status=1,2,3").await.body);
    served.push(post(&app, &client, "/parents/6464/accounts/6472/kmc-login", false).await.body);
    let decoded_ks = form_urlencoded::parse(format!("k={ks}").as_bytes()).next().unwrap().1.into_owned();
    for (i, body) in served.iter().enumerate() {
        assert!(!body.contains(&ks) && !body.contains(&decoded_ks), "the KS is in body {i}");
    }

    let entries = audit(&app, "account.kmc_login", "6475").await;
    assert_eq!(entries.len(), 1);
    let (actor, result, details) = &entries[0];
    assert_eq!((actor.as_str(), result.as_str()), (ADMIN_EMAIL, "ok"));
    assert_eq!(details, "as muh.wih@shanghai.techpubs.example");
    let leaked: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE details LIKE '%' || ? || '%'")
        .bind(&decoded_ks)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(leaked, 0, "the KS is not in the audit log");

    // Never for the parent: its administrator session (which reads the parent's admin secret) stays on the server.
    app.emulator().reset_stats();
    let a = post(&app, &client, "/parents/6464/accounts/6464/kmc-login", false).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.headers.get(LOCATION).is_none());
    assert!(text(&a.body).contains("signing in there with your own Kaltura login"), "{}", a.body);
    assert_eq!(calls(&app, "session.impersonate"), 0, "no session of the parent was made");
    let entries = audit(&app, "account.kmc_login", "6464").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].1, "refused");
}

#[tokio::test]
async fn the_rich_media_cms_redirect_tells_the_browser_to_send_no_referrer() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let a = post(&app, &client, "/parents/6464/accounts/6475/kmc-login", false).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.headers[CACHE_CONTROL], "no-store", "the KS in Location is not cached");
    // The handler sets `no-referrer` for the response whose Location holds the KS; it must reach the browser.
    assert_eq!(a.headers[REFERRER_POLICY], "no-referrer");
}

#[tokio::test]
async fn rich_media_cms_login_is_refused_for_removed_blocked_and_unknown_accounts() {
    let app = spawn_app().await;
    let client = app.admin().await;
    app.emulator().reset_stats();
    for (id, message) in [
        (6472, "Rich Media CMS Login is not available for an account that is removed."),
        (6479, "Rich Media CMS Login is not available for an account that is blocked."),
        (7001, "Account 7001 is not one of your accounts."),
    ] {
        let a = post(&app, &client, &format!("/parents/6464/accounts/{id}/kmc-login"), false).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{id}: {}", a.body);
        assert!(a.headers.get(LOCATION).is_none(), "{id}");
        assert_eq!(text_at(&a.body, "h1"), "Rich Media CMS Login failed", "{id}: {}", a.body);
        assert!(text(&a.body).contains(message), "{id}: {}", a.body);
        let entries = audit(&app, "account.kmc_login", &id.to_string()).await;
        assert_eq!(entries.len(), 1, "{id}");
        assert_eq!((entries[0].1.as_str(), entries[0].2.as_str()), ("refused", message));
    }
    assert_eq!(calls(&app, "session.impersonate"), 0, "no session was made");

    // An account blocked since the page was loaded is refused too.
    set_status(&app, 6474, PartnerStatus::Blocked).await;
    let a = post(&app, &client, "/parents/6464/accounts/6474/kmc-login", false).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&a.body).contains("not available for an account that is blocked."));
}
