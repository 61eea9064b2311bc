//! Importing accounts from a CSV file: the preview checks every row with Add Account's rules and sends nothing;
//! the import creates each good row once (whatever is clicked, uploaded again or restarted), within the quota, and
//! keeps every row's outcome; bad files get a message naming the row and column. Also the command line.

use crate::support::{TestApp, csv_records, quoted, spawn_app};
use kaltura::{PartnerFilter, PartnerStatus};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use scraper::{Html, Selector};
use std::process::Command;
use std::time::{Duration, Instant};

const HEADER: &str =
    "Administrator,Account Name,Administrator Email,Administrator Phone,Website URL,Template Partner ID,Reference ID";

fn registers(app: &TestApp) -> u64 {
    app.emulator().stats()["calls"]["partner.register"].as_u64().unwrap_or(0)
}

fn kaltura(app: &TestApp) -> kaltura::KalturaClient {
    multi_account::config::kaltura::KalturaSettings::default()
        .demo_client(&app.emulator().url, app.emulator().parent_id, &app.emulator().admin_secret)
        .unwrap()
}

/// Every child Kaltura has (any status).
async fn children(app: &TestApp) -> Vec<kaltura::Partner> {
    let filter = PartnerFilter {
        status_in: Some(vec![PartnerStatus::Active, PartnerStatus::Blocked, PartnerStatus::Removed]),
        ..PartnerFilter::default()
    };
    let list = kaltura(app).list_partners(&filter, &kaltura::Pager::new(500, 1)).await.unwrap();
    list.objects.into_iter().filter(|p| p.id != app.emulator().parent_id).collect()
}

async fn with_email(app: &TestApp, email: &str) -> usize {
    children(app).await.iter().filter(|p| p.admin_email.as_deref() == Some(email)).count()
}

/// Uploads `bytes` as `name`; the status and, for a redirect, the import's path (else the page).
async fn upload(app: &TestApp, client: &reqwest::Client, name: &str, bytes: Vec<u8>) -> (StatusCode, String) {
    let form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_string()).mime_str("text/csv").unwrap());
    let res = client.post(app.at("/parents/6464/accounts/import")).multipart(form).send().await.unwrap();
    let status = res.status();
    match res.headers().get("location") {
        Some(l) => (status, l.to_str().unwrap().to_string()),
        None => (status, res.text().await.unwrap()),
    }
}

async fn page(app: &TestApp, client: &reqwest::Client, path: &str) -> Html {
    let res = client.get(app.at(path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    Html::parse_document(&res.text().await.unwrap())
}

fn text(doc: &Html, css: &str) -> String {
    let sel = Selector::parse(css).unwrap();
    doc.select(&sel).map(|e| e.text().collect::<String>()).collect::<Vec<_>>().join(" ").trim().to_string()
}

/// Each row's number, outcome and message, as the page's table shows them.
fn rows(doc: &Html) -> Vec<(String, String, String)> {
    let sel = Selector::parse("table.import-table tbody tr").unwrap();
    let cell = |tr: scraper::ElementRef, label: &str| {
        let s = Selector::parse(&format!("td[data-label='{label}']")).unwrap();
        tr.select(&s).next().map(|td| td.text().collect::<String>().trim().to_string()).unwrap_or_default()
    };
    doc.select(&sel).map(|tr| (cell(tr, "Row"), cell(tr, "Outcome"), cell(tr, "Message"))).collect()
}

/// Waits until the import at `path` is done; its page then.
async fn until_done(app: &TestApp, client: &reqwest::Client, path: &str) -> Html {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let doc = page(app, client, path).await;
        if text(&doc, "#import-progress h2") == "Done" {
            return doc;
        }
        assert!(Instant::now() < deadline, "still running: {}", text(&doc, "#import-progress"));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn start(app: &TestApp, client: &reqwest::Client, path: &str) {
    let res = client.post(app.at(&format!("{path}/start"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], path);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_previews_every_row_then_creates_the_good_ones_once_within_the_quota() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let taken = children(&app).await.into_iter().find(|p| p.admin_email.is_some()).expect("a demo child");
    let taken_email = taken.admin_email.clone().unwrap();
    // The demo has 3 accounts remaining: three good rows fit, the fourth is left out.
    let file = format!(
        "\u{feff}{HEADER}\r\n\
         Ann Arts,Faculty of Arts,ann@arts.example,+1 555 0101,https://arts.example,6478,ART-1\r\n\
         Bob Bio,Faculty of Biology,bob@bio.example,+1 555 0102,,,\r\n\
         Cat Chem,Faculty of Chemistry,not-an-email,+1 555 0103,,0,\r\n\
         Dan Dent,Faculty of Dentistry,dan@dent.example,,,0,\r\n\
         Ann Again,Faculty of Arts II,ANN@arts.example,+1 555 0105,,0,\r\n\
         Eve Existing,Existing School,{taken_email},+1 555 0106,,0,\r\n\
         Fay Film,Faculty of Film,fay@film.example,+1 555 0107,,999,\r\n\
         \"Gus, Jr.\",\"Faculty of Geology; Earth\",gus@geo.example,+1 555 0108,,0,GEO\r\n\
         Hal History,Faculty of History,hal@history.example,+1 555 0109,,0,\r\n"
    );
    let (status, path) = upload(&app, &client, "faculties.csv", file.clone().into_bytes()).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{path}");

    let preview = page(&app, &client, &path).await;
    assert_eq!(text(&preview, "#import-progress h2"), "Nothing has been sent to Kaltura yet");
    assert_eq!(text(&preview, "#tally-create"), "3");
    assert_eq!(text(&preview, "#tally-exists"), "1");
    assert_eq!(text(&preview, "#tally-left-out"), "1");
    assert_eq!(text(&preview, "#tally-invalid"), "4");
    let shown = rows(&preview);
    let row = |n: &str| shown.iter().find(|r| r.0 == n).cloned().unwrap();
    assert_eq!(row("2").1, "To create");
    assert_eq!(row("4"), ("4".into(), "Invalid".into(), "Administrator Email: Invalid email format".into()));
    assert_eq!(row("5").2, "Administrator Phone: Value is required and can't be empty");
    assert_eq!(row("6").2, "Administrator Email: also in row 2 of the file");
    assert_eq!(row("7").1, "Exists already", "nothing has happened yet");
    assert!(row("7").2.contains(&taken.id.to_string()), "{:?}", row("7"));
    assert!(row("8").2.starts_with("Template Partner ID: 999 is not one of your active template accounts"));
    assert_eq!(row("9").1, "To create", "quoted fields with the separator inside");
    assert_eq!(row("10").1, "Left out");
    assert_eq!(registers(&app), 0, "the preview sends nothing");

    start(&app, &client, &path).await;
    let done = until_done(&app, &client, &path).await;
    assert_eq!(text(&done, "#tally-created"), "3");
    assert!(text(&done, "#import-status").starts_with("3 of 3 rows done"), "{}", text(&done, "#import-status"));
    let shown = rows(&done);
    let outcome = |n: &str| shown.iter().find(|r| r.0 == n).map(|r| r.1.clone()).unwrap();
    assert_eq!([outcome("2"), outcome("3"), outcome("9")], ["Created", "Created", "Created"]);
    assert_eq!(outcome("10"), "Left out", "as the preview said: only what was confirmed is sent");
    assert_eq!(registers(&app), 3);
    for email in ["ann@arts.example", "bob@bio.example", "gus@geo.example"] {
        assert_eq!(with_email(&app, email).await, 1, "{email}");
    }
    let gus = children(&app).await.into_iter().find(|p| p.admin_email.as_deref() == Some("gus@geo.example")).unwrap();
    assert_eq!(gus.name.as_deref(), Some("Faculty of Geology; Earth"));
    assert_eq!(gus.admin_name.as_deref(), Some("Gus, Jr."));

    // The result CSV: the input columns, then Partner ID, Outcome and Message.
    let csv = client.get(app.at(&format!("{path}/result.csv"))).send().await.unwrap().text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap(), quoted(&format!("{HEADER},Partner ID,Outcome,Message")), "every field quoted");
    let bob = lines.find(|l| l.contains("bob@bio.example")).unwrap().to_string();
    let bob_id =
        children(&app).await.into_iter().find(|p| p.admin_email.as_deref() == Some("bob@bio.example")).unwrap().id;
    assert!(bob.ends_with(&format!(",\"{bob_id}\",\"Created\",\"\"")), "{bob}");

    // One audit entry per account, and one for the import.
    let creates: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'account.create' AND result = 'ok'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(creates, 3);
    let imports: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'account.import'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(imports, 1);

    // Confirming again, and uploading the same file again, create nothing.
    start(&app, &client, &path).await;
    let (_, again) = upload(&app, &client, "faculties.csv", file.into_bytes()).await;
    let second = page(&app, &client, &again).await;
    assert_eq!(text(&second, "#tally-create"), "0", "{}", text(&second, "#import-progress"));
    assert_eq!(text(&second, "#tally-exists"), "4");
    assert!(Selector::parse("#import-start").map(|s| second.select(&s).next().is_none()).unwrap());
    // No import is running, so nothing can be sent; and no call is still on its way.
    let running: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM imports WHERE state = 'running'").fetch_one(&app.db).await.unwrap();
    assert_eq!(running, 0, "starting a finished import again starts nothing");
    app.emulator().settled().await;
    assert_eq!(registers(&app), 3, "nothing sent twice");
    // The created accounts' outcomes are on the import page, not announced again on the Accounts page.
    let accounts = client.get(app.at("/parents/6464/accounts")).send().await.unwrap().text().await.unwrap();
    assert!(!accounts.contains("was created."), "{accounts}");
}

#[tokio::test]
async fn bad_files_get_a_message_naming_the_row_and_column_never_a_500() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let good_row = "Ann Arts,Arts,ann@arts.example,1,,0,";
    let mut hundred_thousand = format!("{HEADER}\n");
    for i in 0..100_000 {
        hundred_thousand.push_str(&format!("A,B,a{i}@example.edu,1,,0,\n"));
    }
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("", Vec::new(), "Choose a CSV file to upload."),
        ("empty.csv", Vec::new(), "empty.csv: The file is empty."),
        ("logo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(), "This is not a CSV file: it holds binary data."),
        ("data.csv", format!("{good_row}\n").into_bytes(), "Row 1 must be the header row"),
        (
            "extra.csv",
            format!("{HEADER},Colour\n{good_row},red\n").into_bytes(),
            "Row 1, column 8: \"Colour\" is not an Add Account field.",
        ),
        (
            "quotes.csv",
            format!("{HEADER}\n{good_row}\nBob,\"Bio,bob@bio.example,1,,0,\n").into_bytes(),
            "Row 3: a quoted value is not closed",
        ),
        ("short.csv", format!("{HEADER}\nAnn,Arts\n").into_bytes(), "Row 2 has 2 fields where the header has 7."),
        ("huge.csv", vec![b'a'; 10 * 1024 * 1024], "larger than 2 MB"),
        ("many.csv", hundred_thousand.into_bytes(), "larger than 2 MB"),
        (
            "latin1.csv",
            [format!("{HEADER}\n").as_bytes(), b"Jos\xe9,Arts,j@x.example,1,,0,\n"].concat(),
            "Row 2 is not UTF-8 text.",
        ),
    ];
    for (name, bytes, expected) in cases {
        let (status, body) = upload(&app, &client, name, bytes).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        let doc = Html::parse_document(&body);
        let shown = text(&doc, "#import-error");
        assert!(shown.contains(expected), "{name}: {shown}");
    }
    // 2,001 rows fit in 2 MB: the row limit speaks.
    let mut rows = format!("{HEADER}\n");
    for i in 0..2_001 {
        rows.push_str(&format!("A,B,a{i}@example.edu,1,,0,\n"));
    }
    let (status, body) = upload(&app, &client, "rows.csv", rows.into_bytes()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&Html::parse_document(&body), "#import-error").contains("more than 2,000 accounts"), "{body}");
    // A form that is not an upload at all.
    let res = client.post(app.at("/parents/6464/accounts/import")).form(&[("file", "x")]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("Choose a CSV file to upload."));
    assert_eq!(registers(&app), 0);
    // The page states the limits and offers the template, which reads back as a valid file.
    let doc = page(&app, &client, "/parents/6464/accounts/import").await;
    assert!(text(&doc, ".import-rules").contains("At most 2,000 accounts and 2 MB per file"));
    let template =
        client.get(app.at("/parents/6464/accounts/import/template.csv")).send().await.unwrap().text().await.unwrap();
    assert!(template.starts_with(HEADER), "{template}");
    let (status, _) = upload(&app, &client, "template.csv", template.into_bytes()).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // An import that does not exist.
    let res = client.get(app.at("/parents/6464/accounts/import/999")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_cut_off_by_a_restart_completes_exactly_once() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let file = format!(
        "{HEADER}\nAnn,Arts,ann@restart.example,1,,0,\nBob,Bio,bob@restart.example,1,,0,\nCat,Chem,cat@restart.example,1,,0,\n"
    );
    let (_, path) = upload(&app, &client, "restart.csv", file.into_bytes()).await;
    app.emulator().set_latency_ms(700);
    start(&app, &client, &path).await;
    let id: i64 = path.rsplit('/').next().unwrap().parse().unwrap();
    // Stopped while rows are being sent.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sending: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM import_rows WHERE import_id = ? AND state IN ('sending', 'created')",
        )
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
        if sending > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no row was sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let app = app.restart().await;
    app.emulator().set_latency_ms(0);
    let client = app.admin().await;
    let done = until_done(&app, &client, &path).await;
    assert_eq!(text(&done, "#tally-created"), "3", "{}", text(&done, "#import-progress"));
    for email in ["ann@restart.example", "bob@restart.example", "cat@restart.example"] {
        assert_eq!(with_email(&app, email).await, 1, "{email}: exactly one account");
    }
    assert_eq!(registers(&app), 3, "no row sent twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_imports_at_once_fill_the_quota_exactly() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let file = |tag: &str| {
        let mut f = format!("{HEADER}\n");
        for i in 0..3 {
            f.push_str(&format!("Admin {tag}{i},School {tag}{i},{tag}{i}@quota.example,1,,0,\n"));
        }
        f.into_bytes()
    };
    let (_, a) = upload(&app, &client, "a.csv", file("a")).await;
    let (_, b) = upload(&app, &client, "b.csv", file("b")).await;
    app.emulator().set_latency_ms(200);
    tokio::join!(start(&app, &client, &a), start(&app, &client, &b));
    let (da, db) = tokio::join!(until_done(&app, &client, &a), until_done(&app, &client, &b));
    app.emulator().set_latency_ms(0);
    let created = |d: &Html| text(d, "#tally-created").parse::<i64>().unwrap();
    let left_out = |d: &Html| text(d, "#tally-left-out").parse::<i64>().unwrap_or(0);
    assert_eq!(created(&da) + created(&db), 3, "the 3 accounts remaining");
    assert_eq!(left_out(&da) + left_out(&db), 3);
    assert_eq!(registers(&app), 3);
    let all = children(&app).await;
    assert_eq!(
        all.iter().filter(|p| p.admin_email.as_deref().is_some_and(|e| e.ends_with("@quota.example"))).count(),
        3
    );
}

/// `multi-account accounts import ARGS` on the test console's database and Kaltura.
fn import_command(app: &TestApp, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_multi-account"));
    command
        .args(["accounts", "import"])
        .args(args)
        .env("MA_DATABASE_URL", app.database_url())
        .env("KALTURA_SERVICE_URL", &app.emulator().url)
        .env("KALTURA_PARTNER_ID", app.emulator().parent_id.to_string())
        .env("KALTURA_ADMIN_SECRET", &app.emulator().admin_secret)
        .env("KALTURA_KMC_URL", &app.emulator().url);
    command
}

fn cli(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = import_command(app, args).output().expect("the binary runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_line_previews_imports_and_fails_when_a_row_fails() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("schools.csv");
    std::fs::write(
        &file,
        format!("{HEADER}\nAnn,Arts,ann@cli.example,1,,0,\nBob,Bio,bob@cli.example,1,,0,\nCat,Chem,bad email,1,,0,\n"),
    )
    .unwrap();
    let file = file.to_str().unwrap();

    let (ok, out, err) = cli(&app, &[file, "--dry-run"]);
    assert!(!ok, "a row would fail: {out}{err}");
    // Every row, with what would happen to it.
    assert!(out.contains("schools.csv: 3 rows"), "{out}");
    assert!(out.contains("row 2\tArts <ann@cli.example>\twould be created"), "{out}");
    assert!(out.contains("row 3\tBio <bob@cli.example>\twould be created"), "{out}");
    assert!(
        out.contains("row 4\tChem <bad email>\twould be refused: Administrator Email: Invalid email format"),
        "{out}"
    );
    assert!(out.contains("2 would be created, 0 exist already, 0 would be left out, 1 would be refused (3 rows)"));
    assert!(err.contains("1 of 3 rows would not be created"), "{err}");
    assert_eq!(registers(&app), 0, "a dry run sends nothing");

    let result = dir.path().join("result.csv");
    let (ok, out, err) = cli(&app, &[file, "--result", result.to_str().unwrap()]);
    assert!(!ok, "row 4 failed: {out}{err}");
    assert!(err.contains("2 of 2 rows done"), "{err}");
    assert!(out.contains("2 created, 0 already existed, 0 failed, 0 left out, 1 invalid (3 rows)"), "{out}");
    assert!(err.contains("1 of 3 rows did not become an account"), "{err}");
    assert_eq!(registers(&app), 2);
    let csv = std::fs::read_to_string(&result).unwrap();
    let ann = csv_records(&csv).into_iter().find(|r| r[2] == "ann@cli.example").expect("Ann's row");
    assert_eq!(ann[..7], ["Ann", "Arts", "ann@cli.example", "1", "", "0", ""], "{csv}");
    assert_eq!(ann[8..], ["Created", ""], "{csv}");

    // The same file again: nothing is created, the two rows already exist; the bad row still fails.
    let (ok, out, _) = cli(&app, &[file]);
    assert!(!ok);
    assert!(out.contains("0 created, 2 already existed"), "{out}");
    assert_eq!(registers(&app), 2);
    // Only the good rows: success.
    let good = dir.path().join("good.csv");
    std::fs::write(&good, format!("{HEADER}\nDan,Dent,dan@cli.example,1,,0,\n")).unwrap();
    let (ok, out, err) = cli(&app, &[good.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("1 created"), "{out}");
    let (ok, _, err) = cli(&app, &["/nonexistent/file.csv"]);
    assert!(!ok && err.contains("cannot read /nonexistent/file.csv"), "{err}");
    // A dry run of a file whose rows all exist or would be created succeeds, and keeps nothing.
    let (ok, out, err) = cli(&app, &[good.to_str().unwrap(), "--dry-run"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("row 2\tDent <dan@cli.example>\texists already, nothing to do: An account with this"),
        "{out}"
    );
    let previews: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM imports WHERE state = 'preview'").fetch_one(&app.db).await.unwrap();
    assert_eq!(previews, 0, "dry runs leave no preview behind");
}

/// Records a creation of `email` that got no answer, as a process that died would leave it, `age_secs` ago.
async fn creation_without_answer(app: &TestApp, email: &str, age_secs: i64) {
    sqlx::query(
        "INSERT INTO account_creations (request_key, user_id, actor, ip, admin_name, name, admin_email, phone, \
         template_id, state, started_at, reported, runner, parent_id) \
         VALUES (?, 0, 'cli', 'local', 'Lost', 'Lost', ?, '1', 0, 'sending', strftime('%s','now') - ?, 1, 'gone', 6464)",
    )
    .bind(format!("lost-{email}"))
    .bind(email)
    .bind(age_secs)
    .execute(&app.db)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_row_whose_creation_got_no_answer_is_asked_about_never_taken_for_an_account() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lost.csv");
    std::fs::write(&file, format!("{HEADER}\nLea,Law,lea@lost.example,1,,0,\nMo,Music,mo@lost.example,1,,0,\n"))
        .unwrap();
    let file = file.to_str().unwrap();
    // Lea's creation was sent a minute ago by a process that died before Kaltura answered; Kaltura has no such
    // account. Mo's was sent 20 minutes ago: long enough for Kaltura to have made it, had it been made.
    creation_without_answer(&app, "lea@lost.example", 60).await;
    creation_without_answer(&app, "mo@lost.example", 20 * 60).await;

    let (ok, out, err) = cli(&app, &[file, "--dry-run"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("row 2\tLaw <lea@lost.example>\twould wait: Waits for an earlier creation"), "{out}");
    assert!(out.contains("row 3\tMusic <mo@lost.example>\twould be created"), "{out}");
    assert!(!out.contains("exists already"), "{out}");
    let mo: String = sqlx::query_scalar("SELECT state FROM account_creations WHERE admin_email = 'mo@lost.example'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(mo, "failed", "the command line asked Kaltura, as the console's reconciler does");
    assert_eq!(registers(&app), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_line_waits_for_a_consoles_check_of_unanswered_creations_instead_of_skipping_it() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("busy.csv");
    std::fs::write(&file, format!("{HEADER}\nMo,Music,mo@busy.example,1,,0,\n")).unwrap();
    creation_without_answer(&app, "mo@busy.example", 20 * 60).await;
    // Another console is in the middle of its check: it holds the reconciler's turn.
    sqlx::query(
        "INSERT INTO locks (name, holder, until) VALUES ('reconciler:6464', 'another console', strftime('%s','now') + 120)",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let mut child = import_command(&app, &[file.to_str().unwrap(), "--dry-run"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Its error output is read to the end (a closed pipe would stop it), saying when it starts to wait.
    let stderr = child.stderr.take().unwrap();
    let (said_waiting, waiting) = tokio::sync::oneshot::channel();
    let reader = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut said_waiting = Some(said_waiting);
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("Waiting for a console to finish checking") {
                said_waiting.take().map(|s| s.send(()));
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    assert!(waiting.await.is_ok(), "the command line did not say it waits: {}", reader.await.unwrap());
    sqlx::query("DELETE FROM locks WHERE name = 'reconciler:6464'").execute(&app.db).await.unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = reader.await.unwrap();
    // Its own check, once the console's was over, found that Kaltura never made Mo's account.
    assert!(out.contains("row 2\tMusic <mo@busy.example>\twould be created"), "{out}{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_the_command_line_import_and_the_next_run_finishes_it() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slow.csv");
    std::fs::write(&file, format!("{HEADER}\nAl,Art,al@slow.example,1,,0,\nWyn,Wine,wyn@slow.example,1,,0,\n"))
        .unwrap();
    let file = file.to_str().unwrap().to_owned();
    // Wyn's row waits for an earlier creation whose answer never came, so the import is still running when stopped.
    creation_without_answer(&app, "wyn@slow.example", 60).await;
    let child = import_command(&app, &[&file])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while with_email(&app, "al@slow.example").await == 0 {
        assert!(Instant::now() < deadline, "the import never created Al's account");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let interrupted = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(interrupted.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("Stopping: the rows being sent finish first."), "{err}");
    assert!(err.contains("is not finished. A console on this database takes it up, or run `accounts import`"));
    assert_eq!(registers(&app), 1, "Wyn's row waited");

    // By the next run, Kaltura has had long enough to show Wyn's lost creation, had it made one: it is given up,
    // and the stopped import, finished first, creates Wyn's account.
    sqlx::query(
        "UPDATE account_creations SET started_at = started_at - 1200 WHERE request_key = 'lost-wyn@slow.example'",
    )
    .execute(&app.db)
    .await
    .unwrap();
    // The next run finishes the stopped import first, then finds every row of its own file done.
    app.emulator().set_latency_ms(0);
    let (ok, out, err) = cli(&app, &[&file]);
    assert!(ok, "{out}{err}");
    assert!(err.contains("slow.csv) was left unfinished by a process that stopped: finishing its"), "{err}");
    assert!(err.contains("finished: 2 created, 0 failed."), "{err}");
    assert!(out.contains("0 created, 2 already existed"), "{out}");
    assert_eq!(registers(&app), 2, "each row sent once");
    for email in ["al@slow.example", "wyn@slow.example"] {
        assert_eq!(with_email(&app, email).await, 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_quota_check_waits_for_another_process_and_not_for_a_dead_one() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let add = |email: &'static str| {
        let (app_url, client) = (app.url.clone(), client.clone());
        async move {
            let html =
                client.get(format!("{app_url}/parents/6464/accounts/new")).send().await.unwrap().text().await.unwrap();
            let at = html.find("name=\"request_key\" value=\"").unwrap() + 26;
            let key = html[at..at + 32].to_string();
            let form = [
                ("request_key", key.as_str()),
                ("admin_name", "Lock Test"),
                ("name", email),
                ("admin_email", email),
                ("phone", "1"),
                ("template_id", "0"),
            ];
            client.post(format!("{app_url}/parents/6464/accounts")).form(&form).send().await.unwrap().status()
        }
    };
    // Another process (the command line) is checking the quota: this console waits for its turn.
    sqlx::query("INSERT INTO locks (name, holder, until) VALUES ('account-creation:6464', 'cli-elsewhere', strftime('%s','now') + 60)")
        .execute(&app.db)
        .await
        .unwrap();
    let waiting = tokio::spawn(add("first@lock.example"));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(registers(&app), 0, "nothing is recorded or sent while the other process holds the turn");
    sqlx::query("DELETE FROM locks").execute(&app.db).await.unwrap();
    assert_eq!(waiting.await.unwrap(), StatusCode::SEE_OTHER);
    assert_eq!(with_email(&app, "first@lock.example").await, 1);
    // A holder that died leaves a lock that has lapsed: it does not block.
    sqlx::query(
        "INSERT INTO locks (name, holder, until) VALUES ('account-creation:6464', 'dead', strftime('%s','now') - 1)",
    )
    .execute(&app.db)
    .await
    .unwrap();
    assert_eq!(add("second@lock.example").await, StatusCode::SEE_OTHER);
    assert_eq!(with_email(&app, "second@lock.example").await, 1);
    assert_eq!(registers(&app), 2);
}

#[tokio::test]
async fn a_formula_in_a_file_is_refused_with_its_row_and_column_even_behind_the_exports_guard() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let file = format!(
        "{HEADER}\r\n\
         Ann Arts,'=HYPERLINK(\"http://evil.example\"),ann@formula.example,+1 555 0101,,0,\r\n\
         Bob Bio,Faculty of Biology,bob@formula.example,'+1 555 0102,,0,'@SUM(A1)\r\n\
         Cat Chem,Faculty of Chemistry,cat@formula.example,'+1 555 0103,,0,\r\n"
    );
    let (status, path) = upload(&app, &client, "formulas.csv", file.into_bytes()).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
    let preview = page(&app, &client, &path).await;
    let shown = rows(&preview);
    let row = |n: &str| shown.iter().find(|r| r.0 == n).cloned().unwrap();
    assert_eq!(row("2").1, "Invalid");
    assert!(row("2").2.starts_with("Account Name: Must not start with =, +, -, @ or a tab"), "{:?}", row("2"));
    assert!(row("3").2.starts_with("Reference ID: Must not start with"), "{:?}", row("3"));
    assert_eq!(row("4").1, "To create", "an exported phone number comes back as it was");
    assert_eq!(registers(&app), 0);
}

#[tokio::test]
async fn a_discarded_preview_is_gone_and_the_page_says_so() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let file = format!("{HEADER}\nAnn,Arts,ann@discard.example,1,,0,\n");
    let (_, path) = upload(&app, &client, "one.csv", file.into_bytes()).await;
    let listed = page(&app, &client, "/parents/6464/accounts/import").await;
    assert_eq!(text(&listed, ".import-recent td[data-label=Rows]"), "1 row checked, 1 to create");
    let res = client.post(app.at(&format!("{path}/discard"))).send().await.unwrap();
    assert_eq!(res.headers()["location"], "/parents/6464/accounts/import");
    let after = page(&app, &client, "/parents/6464/accounts/import").await;
    assert_eq!(text(&after, "#flash .flash-ok"), "The preview of one.csv was discarded: nothing was sent to Kaltura.");
    assert_eq!(client.get(app.at(&path)).send().await.unwrap().status(), StatusCode::NOT_FOUND, "deleted");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM import_rows").fetch_one(&app.db).await.unwrap();
    assert_eq!(rows, 0, "with its rows");
}
