//! `/usage`, `/usage/{id}` and `/usage.csv` against the emulator: figures equal to what report.getTable and
//! getTotal answer for the same period (through our client and the official Python client), one request to Kaltura
//! per view, sorting, searching, paging, the drill-down, the page without the analytics permission, bad dates.

use kaltura::{KalturaClient, Pager, ReportQuery};
use multi_account::config::kaltura::KalturaSettings;
use reqwest::StatusCode;
use scraper::{Html, Selector};
use std::collections::BTreeMap;
use std::path::Path;

use crate::support::{TestApp, csv_records, spawn_app, spawn_app_with_emulator};

const PERIOD: &str = "from=2026-10-01&to=2026-11-30&interval=day";
/// The same period in unix seconds, both days whole.
const FROM: i64 = 1_790_812_800;
const TO: i64 = 1_796_083_199;

fn kaltura(app: &TestApp) -> KalturaClient {
    let emu = app.emulator();
    KalturaSettings::default().demo_client(&emu.url, emu.parent_id, &emu.admin_secret).expect("a Kaltura client")
}

fn query(object_ids: Vec<i64>) -> ReportQuery {
    ReportQuery { report_type: 42, from_date: FROM, to_date: TO, object_ids, interval: None }
}

async fn page(app: &TestApp, client: &reqwest::Client, path: &str) -> (StatusCode, Html) {
    let res = client.get(app.at(path)).send().await.unwrap();
    (res.status(), Html::parse_document(&res.text().await.unwrap()))
}

fn texts(doc: &Html, selector: &str) -> Vec<String> {
    let sel = Selector::parse(selector).expect("a valid selector");
    doc.select(&sel).map(|e| e.text().collect::<String>().trim().to_owned()).collect()
}

async fn csv(app: &TestApp, client: &reqwest::Client, query: &str) -> Vec<Vec<String>> {
    let res = client.get(app.at(&format!("/parents/6464/usage.csv?{query}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let named = res.headers()[reqwest::header::CONTENT_DISPOSITION].to_str().unwrap().to_owned();
    if query == PERIOD {
        assert_eq!(named, "attachment; filename=\"usage-2026-10-01-to-2026-11-30.csv\"", "named after its period");
    }
    let body = res.text().await.unwrap();
    assert!(body.starts_with("\"Partner ID\",") || body.starts_with('"'), "every field quoted: {body}");
    csv_records(&body)
}

/// Report 42's rows by partner id, each a map of column to value.
fn by_partner(table: &kaltura::ReportTable) -> BTreeMap<String, BTreeMap<String, String>> {
    table
        .rows
        .iter()
        .map(|row| {
            let cells: BTreeMap<String, String> = table.header.iter().cloned().zip(row.iter().cloned()).collect();
            (cells["partner_id"].clone(), cells)
        })
        .collect()
}

const COLUMNS: [&str; 8] = [
    "total_plays",
    "total_views",
    "total_entries",
    "unique_known_users",
    "average_storage",
    "peak_storage",
    "bandwidth_consumption",
    "transcoding_consumption",
];

#[tokio::test]
async fn the_csv_has_a_row_per_account_with_the_figures_report_get_table_gives() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let rows = csv(&app, &client, PERIOD).await;
    assert_eq!(
        rows[0].join(","),
        "Partner ID,Account Name,Status,Plays,Player Loads,Entries,Unique Users,Average Storage (MB),Peak Storage (MB),Bandwidth (MB),Transcoding (MB)"
    );
    let table = kaltura(&app).report_table(&query(Vec::new()), &Pager::new(500, 1), None).await.unwrap();
    let expected = by_partner(&table);
    assert_eq!(rows.len() - 1, expected.len(), "one row per account Kaltura reports");
    let ids: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    let bandwidth: Vec<f64> = rows[1..].iter().map(|r| r[9].parse().unwrap()).collect();
    assert!(bandwidth.windows(2).all(|w| w[0] >= w[1]), "the most bandwidth first: {bandwidth:?}");
    assert!(ids.contains(&"6464") && ids.contains(&"6475"), "the parent and its children: {ids:?}");
    assert!(!ids.contains(&"7001"), "never another organisation");
    for row in &rows[1..] {
        let k = &expected[&row[0]];
        assert_eq!(row[1], k["partner_name"]);
        for (i, column) in COLUMNS.iter().enumerate() {
            let (ours, theirs): (f64, f64) = (row[3 + i].parse().unwrap(), k[*column].parse().unwrap());
            assert!((ours - theirs).abs() <= 0.005, "{column} of {}: {ours} for {theirs}", row[0]);
            let decimals = row[3 + i].split_once('.').map_or(0, |(_, d)| d.len());
            assert!(decimals <= 2, "{column} of {}: {}", row[0], row[3 + i]);
        }
    }
}

#[tokio::test]
async fn the_page_shows_totals_a_row_per_account_and_charts_from_one_request_to_kaltura() {
    let app = spawn_app().await;
    let client = app.admin().await;
    app.emulator().reset_stats();
    let (status, doc) = page(&app, &client, &format!("/parents/6464/usage?{PERIOD}")).await;
    assert_eq!(status, StatusCode::OK);
    let stats = app.emulator().stats();
    assert_eq!(stats["requests"], 1, "one multirequest: {stats}");
    assert_eq!(stats["calls"]["report.getTable"], 2, "the page and the top 10: {stats}");
    assert_eq!(stats["calls"]["report.getTotal"], 1, "{stats}");
    assert_eq!(stats["calls"]["report.getGraphs"], 1, "{stats}");
    assert_eq!(stats["calls"]["permission.list"], 1, "{stats}");

    let total = kaltura(&app).report_total(&query(Vec::new())).await.unwrap();
    let plays: f64 = total.get("total_plays").unwrap().parse().unwrap();
    let shown = texts(&doc, r#".usage-totals [data-metric="plays"] .figure-value"#);
    assert_eq!(shown, [group(plays)], "the total of plays as Kaltura gives it");
    assert!(texts(&doc, r#".usage-totals [data-metric="bandwidth"] .figure-value"#)[0].ends_with('B'), "a size");

    let table = kaltura(&app).report_table(&query(Vec::new()), &Pager::new(500, 1), None).await.unwrap();
    let expected = by_partner(&table);
    let row = texts(&doc, "#usage-6475 td");
    assert_eq!(row[0], "Shanghai");
    assert_eq!(row[3], group(expected["6475"]["total_plays"].parse().unwrap()));
    assert!(texts(&doc, "#usage-6464 td.name")[0].contains("(Parent Account)"));
    assert_eq!(texts(&doc, "tbody tr[id^=usage-]").len(), expected.len());

    for chart in ["#trend-bandwidth", "#trend-storage", "#top-chart"] {
        for size in ["wide", "narrow"] {
            let svg = Selector::parse(&format!("{chart} .chart-svg[role=img] .chart-{size} svg")).unwrap();
            assert_eq!(doc.select(&svg).count(), 1, "{chart} is a picture, drawn {size}");
        }
        assert!(!texts(&doc, &format!("{chart} .chart-data td")).is_empty(), "{chart} has its figures as text");
    }
    let html = doc.html();
    assert!(!html.contains(" style=") && !html.contains("<style"), "nothing the CSP would block");
}

fn group(n: f64) -> String {
    let digits = format!("{n:.0}");
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[tokio::test]
async fn the_table_sorts_by_any_column_and_searches_by_name_or_ids() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let names = |doc: &Html| texts(doc, "tbody tr[id^=usage-] td.name a");
    let (_, doc) = page(&app, &client, &format!("/parents/6464/usage?{PERIOD}&sort=name&dir=asc")).await;
    let mut sorted = names(&doc);
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names(&doc), sorted, "without regard to case");
    assert_eq!(texts(&doc, r#"th[aria-sort="ascending"]"#), ["Account Name"]);

    let (_, doc) = page(&app, &client, &format!("/parents/6464/usage?{PERIOD}&sort=plays&dir=desc")).await;
    let plays: Vec<i64> = texts(&doc, "tbody tr[id^=usage-] td:nth-child(4)")
        .iter()
        .map(|p| p.replace(',', "").parse().unwrap())
        .collect();
    assert!(plays.windows(2).all(|w| w[0] >= w[1]), "{plays:?}");

    let (_, doc) = page(&app, &client, &format!("/parents/6464/usage?{PERIOD}&q=shang")).await;
    assert_eq!(names(&doc), ["Shanghai"]);
    let (_, doc) = page(&app, &client, &format!("/parents/6464/usage?{PERIOD}&q=6475,+6474,7001")).await;
    let mut found = names(&doc);
    found.sort();
    assert_eq!(found, ["Down Under", "Shanghai"], "ids outside the parent's scope are dropped");
    let (_, doc) = page(&app, &client, &format!("/parents/6464/usage?{PERIOD}&q=nothing-like-this")).await;
    assert!(texts(&doc, "tr.empty")[0].contains("No account matches"));
}

#[tokio::test]
async fn many_accounts_are_paged_and_exported_500_at_a_time() {
    let app = spawn_app_with_emulator(|cfg| cfg.children = 1200).await;
    let client = app.admin().await;
    let (_, doc) = page(&app, &client, &format!("/parents/6464/usage?{PERIOD}&size=50&page=3")).await;
    assert_eq!(texts(&doc, "tbody tr[id^=usage-]").len(), 50);
    assert!(texts(&doc, ".pager .range")[0].starts_with("101–150 of 1,"), "{:?}", texts(&doc, ".pager .range"));

    // By name across pages, not only within one (Kaltura sorts a page alone by name, so the console sorts).
    let names = |doc: &Html| texts(doc, "tbody tr[id^=usage-] td.name a");
    let (_, first) = page(&app, &client, &format!("/parents/6464/usage?{PERIOD}&size=50&sort=name&dir=asc")).await;
    let (_, second) =
        page(&app, &client, &format!("/parents/6464/usage?{PERIOD}&size=50&sort=name&dir=asc&page=2")).await;
    let all: Vec<String> = names(&first).into_iter().chain(names(&second)).map(|n| n.to_lowercase()).collect();
    assert_eq!(all.len(), 100);
    assert!(all.windows(2).all(|w| w[0] <= w[1]), "{all:?}");

    app.emulator().reset_stats();
    let rows = csv(&app, &client, PERIOD).await;
    let stats = app.emulator().stats();
    let table = kaltura(&app).report_table(&query(Vec::new()), &Pager::new(1, 1), None).await.unwrap();
    assert_eq!(rows.len() as i64 - 1, table.total_count, "every account");
    let pages = table.total_count.div_euclid(500) + 1;
    assert_eq!(stats["calls"]["report.getTable"], pages, "pages of 500: {stats}");
}

#[tokio::test]
async fn a_drill_down_shows_one_accounts_figures_and_links_to_it() {
    let app = spawn_app().await;
    let client = app.admin().await;
    app.emulator().reset_stats();
    let (status, doc) = page(&app, &client, &format!("/parents/6464/usage/6475?{PERIOD}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.emulator().stats()["requests"], 1);
    assert_eq!(texts(&doc, "h1"), ["Shanghai"]);
    let total = kaltura(&app).report_total(&query(vec![6475])).await.unwrap();
    let plays: f64 = total.get("total_plays").unwrap().parse().unwrap();
    assert_eq!(texts(&doc, r#"[data-metric="plays"] .figure-value"#), [group(plays)]);
    let link = |css: &str| Selector::parse(css).unwrap();
    assert_eq!(doc.select(&link(r#"a[href="/parents/6464/accounts/6475"]"#)).count(), 1);
    assert_eq!(
        doc.select(&link(r#"form[action="/parents/6464/accounts/6475/kmc-login"][target="_blank"]"#)).count(),
        1
    );
    assert_eq!(doc.select(&link("#trend-bandwidth .chart-wide svg")).count(), 1);
    assert_eq!(doc.select(&link("#trend-storage .chart-wide svg")).count(), 1);

    let res = client.get(app.at(&format!("/parents/6464/usage/7001?{PERIOD}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body = res.text().await.unwrap();
    assert!(body.contains("Account 7001 is not one of your accounts.") && !body.contains("Northwind"));
}

#[tokio::test]
async fn bad_dates_get_a_message_on_the_page_never_a_500() {
    let app = spawn_app().await;
    let client = app.admin().await;
    for (q, message) in [
        ("from=2026-13-01&to=2026-11-30", "The start date “2026-13-01” is not a date"),
        ("from=1990-01-01&to=2026-11-30&interval=day", "Kaltura reports at most 5000 days"),
        ("from=1990-01-01&to=2026-11-30&interval=month", "Kaltura reports at most 5000 days"),
        ("from=2026-11-01&to=2026-11-30&interval=week", "not one of day or month"),
    ] {
        let (status, doc) = page(&app, &client, &format!("/parents/6464/usage?{q}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}");
        assert!(texts(&doc, "#usage-error")[0].contains(message), "{q}: {:?}", texts(&doc, "#usage-error"));
        assert!(!texts(&doc, ".period-form").is_empty(), "{q}: the form to fix it");
        let res = client.get(app.at(&format!("/parents/6464/usage.csv?{q}"))).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{q}");
    }
    // Ends given the wrong way round are read the right way, as the Audit log does, and the page says so.
    let (status, doc) = page(&app, &client, "/parents/6464/usage?from=2026-11-30&to=2026-11-01").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        texts(&doc, "#usage-note"),
        vec!["The start date was after the end date: showing 11/01/2026 to 11/30/2026 instead."]
    );
    assert!(texts(&doc, "#usage-error").is_empty());
}

const NO_ANALYTICS_SEED: &str = r#"
[[partners]]
id = 500
name = "Plain Parent"
group_type = 2
publishers_quota = 2
features = ["FEATURE_VAR_CONSOLE_LOGIN"]

[[partners]]
id = 501
name = "Kid"
parent_id = 500
"#;

#[tokio::test]
async fn without_the_analytics_permission_the_page_says_so_instead_of_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.toml");
    std::fs::write(&seed, NO_ANALYTICS_SEED).unwrap();
    let app = spawn_app_with_emulator(|cfg| cfg.seed = kaltura_emulator::Seed::File(seed.clone())).await;
    let client = app.admin().await;
    let (status, doc) = page(&app, &client, &format!("/parents/500/usage?{PERIOD}")).await;
    assert_eq!(status, StatusCode::OK);
    let note = texts(&doc, "#usage-not-granted")[0].clone();
    assert!(note.contains("FEATURE_MULTI_ACCOUNT_ANALYTICS") && note.contains("Kaltura enables it"), "{note}");
    assert!(texts(&doc, ".usage-totals").is_empty() && texts(&doc, "table.usage").is_empty(), "no table of zeros");
    let res = client.get(app.at(&format!("/parents/500/usage.csv?{PERIOD}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("FEATURE_MULTI_ACCOUNT_ANALYTICS"));
    let (_, doc) = page(&app, &client, &format!("/parents/500/usage/501?{PERIOD}")).await;
    assert!(!texts(&doc, "#usage-not-granted").is_empty());
}

#[tokio::test]
async fn the_figures_equal_what_the_official_python_client_reads() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let rows = csv(&app, &client, PERIOD).await;
    let emu = app.emulator();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/report_42.py");
    let out = tokio::process::Command::new(crate::conformance::python())
        .arg(&script)
        .env("KALTURA_SERVICE_URL", &emu.url)
        .env("KALTURA_PARTNER_ID", emu.parent_id.to_string())
        .env("KALTURA_ADMIN_SECRET", &emu.admin_secret)
        .env("REPORT_FROM", FROM.to_string())
        .env("REPORT_TO", TO.to_string())
        .output()
        .await
        .expect("the Python client runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let theirs: Vec<Vec<String>> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| l.split(',').map(str::to_owned).collect()).collect();
    let by_id: BTreeMap<&str, &Vec<String>> = theirs.iter().map(|r| (r[0].as_str(), r)).collect();
    assert_eq!(by_id.len(), rows.len() - 1);
    for row in &rows[1..] {
        let python = by_id[row[0].as_str()];
        for i in 0..COLUMNS.len() {
            let (ours, theirs): (f64, f64) = (row[3 + i].parse().unwrap(), python[1 + i].parse().unwrap());
            assert!((ours - theirs).abs() <= 0.005, "{} of {}: {ours} for {theirs}", COLUMNS[i], row[0]);
        }
    }
}

#[tokio::test]
async fn an_order_kaltura_cannot_give_across_more_than_10000_accounts_says_what_it_covers() {
    let app = spawn_app_with_emulator(|cfg| cfg.children = 10_050).await;
    let client = app.admin().await;
    let (status, doc) = page(&app, &client, &format!("/parents/6464/usage?{PERIOD}&sort=name&dir=asc")).await;
    assert_eq!(status, StatusCode::OK);
    let note = texts(&doc, "#usage-partial");
    assert_eq!(note.len(), 1, "the name order covers only what was read");
    assert!(note[0].contains("cover the 10,000 with the most bandwidth"), "{note:?}");
    let (_, doc) = page(&app, &client, &format!("/parents/6464/usage?{PERIOD}&sort=plays&dir=desc")).await;
    assert!(texts(&doc, "#usage-partial").is_empty(), "Kaltura orders by a figure across every account");
}

#[tokio::test]
async fn a_kaltura_failure_during_the_export_is_a_502_that_names_the_usage() {
    let mut app = spawn_app().await;
    let client = app.admin().await;
    app.stop_emulator().await;
    let res = client.get(app.at(&format!("/parents/6464/usage.csv?{PERIOD}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY, "as the page does");
    let body = res.text().await.unwrap();
    assert!(body.contains("Can&#39;t load the usage.") || body.contains("Can't load the usage."), "{body}");
    assert!(!body.contains("load accounts"), "{body}");
}
