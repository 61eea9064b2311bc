//! Administration › Audit log: what is logged shows up, the filters narrow it, the URL holds the view, and the CSV
//! export writes the same entries safely.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION};

use crate::support::{ADMIN_EMAIL, Role, TestApp, csv_line, quoted, spawn_app};

/// Writes a line to the log as if it had happened at `at` (`YYYY-MM-DD HH:MM:SS`, UTC).
async fn log(app: &TestApp, at: &str, actor: &str, action: &str, target: &str, result: &str, details: &str) {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, ip, action, target, result, details) \
         VALUES (CAST(strftime('%s', ?) AS INTEGER), ?, '203.0.113.7', ?, ?, ?, ?)",
    )
    .bind(at)
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(result)
    .bind(details)
    .execute(&app.db)
    .await
    .expect("the line is logged");
}

async fn page(client: &reqwest::Client, app: &TestApp, path: &str) -> String {
    let res = client.get(app.at(path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    res.text().await.unwrap()
}

/// The table's rows, as markup.
fn tbody(html: &str) -> &str {
    let start = html.find("<tbody>").expect("a table body");
    let end = html.find("</tbody>").expect("the end of the table body");
    &html[start..end]
}

fn row_count(html: &str) -> usize {
    tbody(html).matches(r#"<td class="when">"#).count()
}

/// Five entries on known dates, told apart by their details.
async fn log_five(app: &TestApp) {
    log(app, "2026-01-10 12:00:00", "renee@example.com", "account.block", "6475", "ok", "entry-A").await;
    log(app, "2026-01-15 08:30:00", "ops@example.com", "account.kmc_login", "6475", "refused", "entry-B").await;
    log(app, "2026-01-20 23:59:59", "renee@example.com", "user.role", "dana@example.com", "ok", "entry-C").await;
    log(app, "2026-02-01 00:00:00", "RENEE@Example.com", "login.failure", "renee@example.com", "refused", "entry-D")
        .await;
    log(app, "2026-02-05 10:00:00", "ops@example.com", "account.create", "64750", "ok", "entry-E").await;
}

fn shown(html: &str) -> String {
    ["A", "B", "C", "D", "E"].into_iter().filter(|m| tbody(html).contains(&format!(">entry-{m}<"))).collect()
}

#[tokio::test]
async fn sign_ins_failures_and_user_changes_appear_with_who_when_and_where() {
    let app = spawn_app().await;
    let res = app.login(&app.client(), ADMIN_EMAIL, "not the password").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let client = app.admin().await;
    let res = client
        .post(app.at("/users"))
        .form(&[
            ("email", "renee@example.com"),
            ("first_name", "Renee"),
            ("last_name", "Dvir"),
            ("role", "manager"),
            ("password", "a good long password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let html = page(&client, &app, "/audit").await;
    let rows = tbody(&html);
    let today =
        time::OffsetDateTime::now_utc().format(time::macros::format_description!("[month]/[day]/[year]")).unwrap();
    assert!(rows.contains(&format!(r#"<td class="when">{today} "#)), "when, as MM/DD/YYYY HH:mm:ss: {rows}");
    assert!(rows.contains(r#"<td class="ip">127.0.0.1</td>"#), "from where");
    assert!(rows.contains("Failed sign-in <code>login.failure</code>"));
    assert!(rows.contains("wrong password"));
    assert!(rows.contains("Sign-in <code>login</code>"));
    assert!(rows.contains("User added <code>user.add</code>"));
    assert!(rows.contains(">renee@example.com</a>"), "the user added is the target");
    assert!(rows.contains("role Manager"));
    assert!(rows.contains(r#"<span class="badge badge-failed">Failed</span>"#));
    assert!(rows.contains(&format!(">{ADMIN_EMAIL}</a>")), "who");
    let (added, failed) = (rows.find("User added").unwrap(), rows.find("Failed sign-in").unwrap());
    assert!(added < failed, "newest first");

    assert!(html.contains(r#"<a href="/audit" class="active" aria-current="page">Audit log</a>"#), "the navigation");
    assert!(html.contains(r#"<option value="user.add">User added (user.add)</option>"#), "actions in the log");
    assert!(html.contains("3 entries"));
}

#[tokio::test]
async fn each_filter_narrows_the_entries() {
    let app = spawn_app().await;
    log_five(&app).await;
    let client = app.admin().await;
    for (query, expected) in [
        ("", "ABCDE"),
        ("user=renee", "ACD"),
        ("user=OPS%40", "BE"),
        ("user=%25", ""),
        ("action=account.kmc_login", "B"),
        ("action=account.*", "ABE"),
        ("action=login.*", "D"),
        ("account=6475", "AB"),
        ("account=RENEE%40EXAMPLE.COM", "D"),
        ("result=failed", "BD"),
        ("result=ok", "ACE"),
        ("from=2026-01-15&to=2026-01-20", "BC"),
        ("from=2026-02-01", "DE"),
        ("user=renee&action=account.*", "A"),
        ("action=account.archive", ""),
    ] {
        let html = page(&client, &app, &format!("/audit?{query}")).await;
        assert_eq!(shown(&html), expected, "/audit?{query}");
        if expected.is_empty() {
            assert!(html.contains("No audit entries match. <a href=\"/audit\">Clear the filters</a>"), "{query}");
        }
    }
    let html = page(&client, &app, "/audit?action=account.archive").await;
    assert!(
        html.contains(r#"<option value="account.archive" selected>account.archive (not in the log)</option>"#),
        "an action from the URL stays selected, so the form says what is applied"
    );
    let html = page(&client, &app, "/audit?action=account.*&from=2026-01-12").await;
    assert!(html.contains(r#"<option value="account.*" selected>All account actions</option>"#));
    assert!(html.contains(r#"name="from" value="2026-01-12""#));
}

#[tokio::test]
async fn a_filtered_url_opened_directly_shows_the_same_rows_as_the_htmx_fragment() {
    let app = spawn_app().await;
    log_five(&app).await;
    let client = app.admin().await;
    let full = page(&client, &app, "/audit?user=renee&result=ok").await;
    assert_eq!(shown(&full), "AC");
    assert!(full.contains(r#"name="user" value="renee""#));
    assert!(full.contains(r#"<option value="ok" selected>OK</option>"#));

    // What htmx sends for the filter form: every field, empty or not.
    let res = client
        .get(app.at("/audit?user=renee&action=&account=&result=ok&from=&to="))
        .header("HX-Request", "true")
        .header("HX-Target", "audit-panel")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["hx-push-url"], "/audit?user=renee&result=ok", "the canonical URL");
    let fragment = res.text().await.unwrap();
    assert!(fragment.starts_with(r#"<div id="audit-panel""#), "only the table: {fragment}");
    assert!(!fragment.contains("<html"));
    assert_eq!(tbody(&fragment), tbody(&full));
    assert!(fragment.contains(r#"href="/audit.csv?user=renee&#38;result=ok""#), "the export keeps the filter");
}

#[tokio::test]
async fn pages_hold_fifty_entries_newest_first_with_links_to_the_others() {
    let app = spawn_app().await;
    for i in 0..120 {
        let at = format!("2026-03-01 10:{:02}:{:02}", i / 60, i % 60);
        log(&app, &at, "bulk@example.com", "test.entry", "6475", "ok", &format!("entry {i:03}")).await;
    }
    let client = app.admin().await;
    let first = page(&client, &app, "/audit?action=test.entry").await;
    assert_eq!(row_count(&first), 50);
    assert!(first.contains("1–50 of 120"));
    assert!(tbody(&first).find(">entry 119<").unwrap() < tbody(&first).find(">entry 118<").unwrap());
    assert!(first.contains(
        r#"<a href="/audit?action=test.entry&#38;page=2" hx-get="/audit?action=test.entry&#38;page=2" rel="next">"#
    ));
    assert!(first.contains(r#"<td class="when">03/01/2026 10:01:59</td>"#));

    let last = page(&client, &app, "/audit?action=test.entry&page=3").await;
    assert_eq!(row_count(&last), 20);
    assert!(last.contains("101–120 of 120"));
    assert!(last.contains(">entry 000<") && !last.contains(">entry 020<"));
    assert!(last.contains(r#"<span class="current" aria-current="page">3</span>"#));

    let past = page(&client, &app, "/audit?action=test.entry&page=99").await;
    assert!(past.contains("Page 99 does not exist; showing page 3, the last."));
    assert_eq!(tbody(&past), tbody(&last));
}

async fn csv(client: &reqwest::Client, app: &TestApp, path: &str) -> String {
    let res = client.get(app.at(path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
    let disposition = res.headers()[CONTENT_DISPOSITION].to_str().unwrap().to_owned();
    let stamp = disposition
        .strip_prefix("attachment; filename=\"audit-")
        .and_then(|s| s.strip_suffix(".csv\""))
        .unwrap_or_else(|| panic!("a dated attachment: {disposition}"));
    assert!(stamp.len() == 13 && stamp.chars().filter(char::is_ascii_digit).count() == 12, "{disposition}");
    res.text().await.unwrap()
}

const CSV_HEADER: &str = "When (UTC),Unix Time,Who,From,Action,Action Code,Account / Target,Result,Details";

#[tokio::test]
async fn the_csv_export_has_the_filtered_rows_quoted_and_formulas_neutralised() {
    let app = spawn_app().await;
    // A failed sign-in logs the email as typed: anything at all.
    log(
        &app,
        "2026-01-02 03:04:05",
        "=HYPERLINK(\"http://evil.example\",\"x\")",
        "login.failure",
        "@SUM(A1)",
        "refused",
        "a,b \"quoted\"\nsecond line",
    )
    .await;
    log(&app, "2026-01-03 00:00:00", "ops@example.com", "account.block", "6475", "ok", "-1+2").await;
    let client = app.admin().await;

    let body = csv(&client, &app, "/audit.csv?action=login.failure").await;
    let line = csv_line(&[
        "01/02/2026 03:04:05",
        "1767323045",
        "'=HYPERLINK(\"http://evil.example\",\"x\")",
        "203.0.113.7",
        "Failed sign-in",
        "login.failure",
        "'@SUM(A1)",
        "Failed",
        "a,b \"quoted\"\nsecond line",
    ]);
    assert_eq!(body, format!("{}\r\n{line}\r\n", quoted(CSV_HEADER)));
    assert!(body.contains(r#""'=HYPERLINK(""http://evil.example"",""x"")""#), "{body}");

    let body = csv(&client, &app, "/audit.csv?account=6475").await;
    let line = quoted(
        "01/03/2026 00:00:00,1767398400,ops@example.com,203.0.113.7,Account blocked,account.block,6475,OK,'-1+2",
    );
    assert_eq!(body, format!("{}\r\n{line}\r\n", quoted(CSV_HEADER)));
}

#[tokio::test]
async fn a_large_export_streams_every_matching_row_newest_first() {
    let app = spawn_app().await;
    let mut tx = app.db.begin().await.unwrap();
    for i in 0..1234 {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, ip, action, target, result, details) \
             VALUES (?, 'bulk@example.com', '203.0.113.7', 'bulk.entry', '6475', 'ok', ?)",
        )
        .bind(1_767_225_600 + i)
        .bind(format!("bulk {i}"))
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let client = app.admin().await;
    let body = csv(&client, &app, "/audit.csv?action=bulk.entry").await;
    let lines: Vec<&str> = body.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 1 + 1234, "the header and every row, over several batches");
    assert!(lines[1].ends_with(",\"bulk 1233\""));
    assert!(lines[500].ends_with(",\"bulk 734\"") && lines[501].ends_with(",\"bulk 733\""), "no gap between batches");
    assert!(lines[1234].ends_with(",\"bulk 0\""));
}

#[tokio::test]
async fn the_page_and_the_export_are_refused_to_anonymous_and_non_admin_users() {
    let app = spawn_app().await;
    let anonymous = app.client();
    for (path, next) in [("/audit?user=x", "%2Faudit%3Fuser%3Dx"), ("/audit.csv?user=x", "%2Faudit.csv%3Fuser%3Dx")] {
        let res = anonymous.get(app.at(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(res.headers()[LOCATION], format!("/login?next={next}").as_str());
    }
    let res = anonymous.get(app.at("/audit")).header("HX-Request", "true").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().contains_key("hx-redirect"));

    app.create_user("manager@example.com", Role::Manager, "manager password").await;
    let manager = app.signed_in("manager@example.com", "manager password").await;
    for path in ["/audit", "/audit.csv"] {
        let res = manager.get(app.at(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        let body = res.text().await.unwrap();
        assert!(!body.contains("When (UTC)") && !body.contains(ADMIN_EMAIL), "nothing of the log: {body}");
    }
}

#[tokio::test]
async fn bad_query_values_give_a_clear_page_not_an_error() {
    let app = spawn_app().await;
    log_five(&app).await;
    let client = app.admin().await;
    let long = "x".repeat(500);
    let html = page(
        &client,
        &app,
        &format!(
            "/audit?page=abc&result=maybe&action=%3Cscript%3Ealert(1)%3C/script%3E&from=yesterday&to=2026-02-30\
             &account={long}"
        ),
    )
    .await;
    for note in [
        "Page “abc” does not exist; showing page 1.",
        "Unknown result “maybe” ignored; all results are shown.",
        "“&#60;script&#62;alert(1)&#60;/script&#62;” is not an action code; all actions are shown.",
        "“yesterday” is not a date (YYYY-MM-DD); ignored.",
        "“2026-02-30” is not a date (YYYY-MM-DD); ignored.",
        "The account filter was cut to 200 characters.",
    ] {
        assert!(html.contains(note), "{note}");
    }
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("No audit entries match"), "the cut account filter is still applied");
    assert!(html.contains(&format!(r#"name="account" value="{}""#, "x".repeat(200))));

    let html = page(&client, &app, "/audit?page=99999999999&result=").await;
    assert!(html.contains("Page “99999999999” does not exist; showing page 1."));
    assert_eq!(shown(&html), "ABCDE");

    let res = client
        .get(app.at("/audit?page=-1"))
        .header("HX-Request", "true")
        .header("HX-Target", "audit-panel")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("Page “-1” does not exist; showing page 1."));

    let body = csv(&client, &app, "/audit.csv?page=abc&result=maybe&from=never").await;
    assert_eq!(body.split_terminator("\r\n").count(), 1 + 6, "the header, five entries and the admin's sign-in");
}

#[tokio::test]
async fn a_semicolon_or_a_tab_before_a_formula_stays_inside_its_quoted_field() {
    let app = spawn_app().await;
    log(&app, "2026-01-04 00:00:00", "x;=1+2@example.com", "login.failure", "\t=cmd", "refused", "a;b").await;
    let client = app.admin().await;
    let body = csv(&client, &app, "/audit.csv?action=login.failure").await;
    let row = body.lines().nth(1).expect("the entry");
    assert!(row.contains(r#","x;'=1+2@example.com","#), "the start after a `;` is neutralised too: {row}");
    assert!(row.contains("\"'\t=cmd\""), "a tab before a formula is neutralised: {row:?}");
    // Read with a semicolon as the separator (a European spreadsheet), the quoted fields do not split.
    let records: Vec<Vec<String>> = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(b';')
        .flexible(true)
        .from_reader(body.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert!(records.iter().flatten().all(|cell| !cell.starts_with('=')), "{records:?}");
}

#[tokio::test]
async fn account_targets_are_named_and_link_to_their_details() {
    let app = spawn_app().await;
    let client = app.admin().await;
    log(&app, "2026-01-02 10:00:00", ADMIN_EMAIL, "account.block", "6475", "ok", "Shanghai (6475) was blocked.").await;
    log(&app, "2026-01-02 10:01:00", ADMIN_EMAIL, "account.block", "7001", "refused", "not ours").await;
    let body = page(&client, &app, "/audit").await;
    let rows = tbody(&body);
    assert!(
        rows.contains(r#"<a href="/parents/6464/accounts/6475">Shanghai</a> (<a href="/audit?account=6475""#),
        "{rows}"
    );
    assert!(!rows.contains(r#"accounts/7001""#), "another organisation's id stays a bare id");
    // Kaltura unreachable: the ids alone, and the page still opens.
    let mut app = app;
    app.stop_emulator().await;
    let body = page(&client, &app, "/audit").await;
    assert!(!tbody(&body).contains(r#"href="/parents/6464/accounts/6475""#));
    assert!(tbody(&body).contains(">6475</a>"));
}
