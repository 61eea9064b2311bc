//! `multi-account user …` and `serve`'s settings, run as the real binary.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use crate::support::{ADMIN_EMAIL, spawn_app};

fn run(args: &[&str], stdin: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_multi-account"))
        .args(args)
        .current_dir(dir.path())
        .env_remove("MA_DATABASE_URL")
        .env_remove("KALTURA_SERVICE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_user_cli_adds_lists_sets_passwords_and_removes_users() {
    let app = spawn_app().await;
    let db = app.database_url();
    let db = db.as_str();

    let out = run(
        &[
            "user",
            "add",
            "ops@example.com",
            "--first-name",
            "Ops",
            "--last-name",
            "Team",
            "--role",
            "manager",
            "--password-stdin",
            "--database",
            db,
        ],
        "ops password 1\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Added ops@example.com (Manager)."));

    let out = run(&["user", "--database", db, "list"], "");
    let list = text(&out.stdout);
    assert!(list.contains("ops@example.com") && list.contains("Manager") && list.contains(ADMIN_EMAIL), "{list}");

    let out =
        run(&["user", "set-password", "ops@example.com", "--password-stdin", "--database", db], "ops password 2\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    app.signed_in("ops@example.com", "ops password 2").await;

    let out = run(&["user", "set-password", "ops@example.com", "--password-stdin", "--database", db], "short\n");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("at least 10 characters"));

    let out = run(&["user", "parents", "ops@example.com", "--only", "6464,7001", "--database", db], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ops@example.com now sees parents 6464, 7001."), "{}", text(&out.stdout));
    let out = run(&["user", "--database", db, "list"], "");
    let listed = text(&out.stdout);
    let line = listed.lines().find(|l| l.contains("ops@example.com")).unwrap();
    assert!(line.ends_with("parents 6464, 7001"), "{listed}");
    assert!(listed.lines().find(|l| l.contains(ADMIN_EMAIL)).unwrap().ends_with("every parent"), "{listed}");
    let out = run(&["user", "parents", "ops@example.com", "--database", db], "");
    assert!(!out.status.success(), "--all or --only is needed");
    let out = run(&["user", "parents", ADMIN_EMAIL, "--only", "6464", "--database", db], "");
    assert!(text(&out.stderr).contains("At least one active Publisher Administrator must see every parent"));

    let out = run(&["user", "remove", "ops@example.com", "--database", db], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(multi_account::db::users::find_by_email(&app.db, "ops@example.com").await.unwrap().is_none());

    let actors: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT actor FROM audit_log WHERE target = 'ops@example.com' AND action LIKE 'user.%'",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(actors, ["cli"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_user_cli_refuses_to_remove_the_last_administrator() {
    let app = spawn_app().await;
    let out = run(&["user", "remove", ADMIN_EMAIL, "--database", &app.database_url()], "");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("is the last active Publisher Administrator and cannot be removed"));
    assert_eq!(multi_account::db::users::count_active_admins(&app.db).await.unwrap(), 1);
}

#[test]
fn serve_refuses_invalid_settings_with_a_message_and_no_panic() {
    for (args, expected) in [
        (vec!["serve", "--session-idle-minutes", "0"], "--session-idle-minutes"),
        (vec!["serve", "--listen", "nowhere"], "--listen"),
        (vec!["serve", "--database", "mysql://db/ma"], "is neither SQLite"),
        (vec!["serve", "--database", "postgres://ma:s3cret@db example/ma"], "--database is not a valid PostgreSQL URL"),
        (
            vec!["serve", "--database", "postgres://ma:s3cret@127.0.0.1:1/ma"],
            "cannot open the database postgres://ma:***@127.0.0.1:1/ma",
        ),
        (vec!["serve", "--public-url", "ftp://example.com", "--listen", "127.0.0.1:0"], "--public-url"),
    ] {
        let out = run(&args, "");
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("s3cret"), "the password is never shown: {stderr}");
    }
}

#[test]
fn backup_of_a_postgres_database_explains_pg_dump_and_copies_nothing() {
    let out = run(&["backup", "copy.db", "--database", "postgres://ma:s3cret@127.0.0.1:1/ma"], "");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is a PostgreSQL database"), "{stderr}");
    assert!(stderr.contains("pg_dump --format=custom"), "{stderr}");
    assert!(stderr.contains("pg_restore"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "the password is never shown: {stderr}");
}
