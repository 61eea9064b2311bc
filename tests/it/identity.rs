//! The identity service's rules as a user meets them: every typed password or code passes one lock-out (audited once
//! whatever the page), sensitive changes need a confirmed identity for a few minutes, a Manager keeps their own second
//! factor, wrong codes from many addresses end every sign-in waiting for one, IPv6 addresses count by their /64, and
//! sessions, the database and its backups are kept from other readers. Time is a manual clock the tests move.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, LOCATION, ORIGIN};
use scraper::{Html, Selector};

use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Answer, Role, TestApp, answer, client_with, get, spawn_app_with};
use crate::two_factor::{KEY, code_at, key, step_clock};

const BEA: &str = "bea@example.com";
const BEA_PASSWORD: &str = "bea's first passphrase";

/// A console with the secret key, trusted loopback proxy and a manual clock.
async fn console() -> TestApp {
    spawn_app_with(|s| {
        s.secret_key = Some(key(KEY));
        s.clock = step_clock();
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await
}

/// A browser-like client whose requests come, through the trusted proxy, from `ip`.
fn from(app: &TestApp, ip: &str) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert(ORIGIN, HeaderValue::from_str(&app.url).unwrap());
    headers.insert("x-forwarded-for", HeaderValue::from_str(ip).unwrap());
    client_with(headers)
}

async fn post(app: &TestApp, client: &reqwest::Client, path: &str, form: &[(&str, &str)]) -> Answer {
    answer(client.post(app.at(path)).form(form).send().await.expect("the console answers")).await
}

async fn count(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = ?").bind(action).fetch_one(&app.db).await.unwrap()
}

/// Sets up the signed-in client's second factor; its secret.
async fn enrol(app: &TestApp, client: &reqwest::Client) -> String {
    post(app, client, "/account/two-factor/set-up", &[]).await;
    let page = get(app, client, "/account/two-factor").await;
    let doc = Html::parse_document(&page.body);
    let secret: String =
        doc.select(&Selector::parse("#two-factor-secret").unwrap()).next().expect("the secret").text().collect();
    let secret = secret.replace(' ', "");
    let done =
        post(app, client, "/account/two-factor/confirm", &[("code", &code_at(&secret, app.clock().now()))]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    secret
}

fn location(a: &Answer) -> &str {
    a.headers.get(LOCATION).map_or("", |v| v.to_str().unwrap())
}

#[tokio::test]
async fn confirming_with_ones_own_password_obeys_the_lock_out_and_audits_it() {
    let app = console().await;
    let bea = app.create_user(BEA, Role::PublisherAdministrator, BEA_PASSWORD).await;
    let admin = app.admin().await;
    let set = |current: &'static str| {
        let path = format!("/users/{bea}/password");
        let admin = admin.clone();
        let url = app.at(&path);
        async move {
            answer(
                admin
                    .post(url)
                    .form(&[("password", "bea's second passphrase"), ("current_password", current)])
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    for attempt in 1..=4 {
        assert_eq!(set("not my password").await.status, StatusCode::UNPROCESSABLE_ENTITY, "attempt {attempt}");
    }
    let fifth = set("not my password").await;
    assert_eq!(fifth.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(fifth.body.contains("sign-in is locked. Try again in 60 seconds."), "{}", fifth.body);
    let right = set(ADMIN_PASSWORD).await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS, "the right password is refused while locked");
    assert_eq!(app.login(&app.client(), BEA, BEA_PASSWORD).await.status(), StatusCode::SEE_OTHER, "unchanged");
    assert_eq!(count(&app, "login.lockout").await, 1, "the lock-out is audited, once");
    assert_eq!(count(&app, "login.step_up").await, 5);
    assert_eq!(app.login(&app.client(), ADMIN_EMAIL, ADMIN_PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);

    app.clock().advance(61);
    assert_eq!(set(ADMIN_PASSWORD).await.status, StatusCode::SEE_OTHER, "after the wait");
    assert_eq!(app.login(&app.client(), BEA, "bea's second passphrase").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_manager_with_two_factor_makes_new_recovery_codes() {
    let app = console().await;
    app.create_user("manager@example.com", Role::Manager, "manager password 1").await;
    let manager = app.signed_in("manager@example.com", "manager password 1").await;
    let secret = enrol(&app, &manager).await;
    let code = code_at(&secret, app.clock().now() + 30);
    let res = post(&app, &manager, "/account/two-factor/recovery-codes", &[("code", &code)]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let doc = Html::parse_document(&res.body);
    assert_eq!(doc.select(&Selector::parse(".recovery-codes code").unwrap()).count(), 10);
    // What is for administrators stays refused.
    assert_eq!(get(&app, &manager, "/users").await.status, StatusCode::FORBIDDEN);
    assert_eq!(post(&app, &manager, "/users/1/block", &[]).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sensitive_changes_need_a_confirmed_identity_for_a_few_minutes() {
    let app = console().await;
    let bea = app.create_user(BEA, Role::PublisherAdministrator, BEA_PASSWORD).await;
    let mo = app.create_user("mo@example.com", Role::Manager, "mo's passphrase 1").await;
    let admin = app.admin().await;
    let confirm_first = |a: &Answer| location(a) == "/account/confirm?next=%2Fusers";

    // Demote, set a password, reset the second factor, promote: none of it without confirming.
    let demote = post(&app, &admin, &format!("/users/{bea}/role"), &[("role", "manager")]).await;
    assert!(confirm_first(&demote), "{}", demote.status);
    for (path, form) in [
        (format!("/users/{mo}/role"), vec![("role", "publisher_administrator")]),
        (format!("/users/{bea}/block"), vec![]),
        (format!("/users/{bea}/remove"), vec![]),
        (format!("/users/{bea}/reset-2fa"), vec![]),
    ] {
        let res = post(&app, &admin, &path, &form).await;
        assert!(confirm_first(&res), "{path}: {}", res.status);
    }
    let new_admin = [
        ("email", "new@example.com"),
        ("first_name", "New"),
        ("last_name", "Admin"),
        ("role", "publisher_administrator"),
        ("password", "a good long password"),
    ];
    // Adding one asks the acting administrator's password in the form itself, so nothing typed is lost.
    let added = post(&app, &admin, "/users", &new_admin).await;
    assert_eq!(added.status, StatusCode::UNPROCESSABLE_ENTITY, "adding an administrator");
    assert!(added.body.contains("enter your own password below"), "{}", added.body);
    assert!(added.body.contains("value=\"new@example.com\""), "the form keeps what was typed");
    assert!(multi_account::db::users::find_by_email(&app.db, "new@example.com").await.unwrap().is_none());
    let password = post(&app, &admin, &format!("/users/{bea}/password"), &[("password", "taken over 1234")]).await;
    assert_eq!(password.status, StatusCode::UNPROCESSABLE_ENTITY, "a password needs the acting one's own");
    let bea_user = multi_account::db::users::get(&app.db, bea).await.unwrap().unwrap();
    assert_eq!(bea_user.role, Role::PublisherAdministrator, "nothing changed");
    assert_eq!(app.login(&app.client(), BEA, BEA_PASSWORD).await.status(), StatusCode::SEE_OTHER);

    // What does not touch an administrator needs nothing more.
    let res = post(&app, &admin, &format!("/users/{mo}/role"), &[("role", "content_manager")]).await;
    assert_eq!(location(&res), "/users");
    assert_eq!(post(&app, &admin, &format!("/users/{mo}/block"), &[]).await.status, StatusCode::SEE_OTHER);

    // Confirmed, for five minutes.
    let page = get(&app, &admin, "/account/confirm?next=%2Fusers").await;
    assert!(page.body.contains("Confirm it is you") && page.body.contains("name=\"password\""));
    let wrong = post(&app, &admin, "/account/confirm", &[("password", "not it"), ("next", "/users")]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Your password is not correct."));
    let ok = post(&app, &admin, "/account/confirm", &[("password", ADMIN_PASSWORD), ("next", "/users")]).await;
    assert_eq!(location(&ok), "/users");
    assert_eq!(location(&post(&app, &admin, &format!("/users/{bea}/role"), &[("role", "manager")]).await), "/users");
    app.clock().advance(4 * 60);
    let block = post(&app, &admin, &format!("/users/{bea}/block"), &[]).await;
    assert_eq!(location(&block), "/users", "still within the window");
    app.clock().advance(61);
    let late = post(&app, &admin, &format!("/users/{bea}/role"), &[("role", "publisher_administrator")]).await;
    assert!(confirm_first(&late), "asked again after five minutes");
    let log: Vec<(String, String)> =
        sqlx::query_as("SELECT result, details FROM audit_log WHERE action = 'login.step_up' ORDER BY id")
            .fetch_all(&app.db)
            .await
            .unwrap();
    let wrong = ("refused".to_owned(), "wrong password".to_owned());
    assert_eq!(log, [wrong.clone(), wrong, ("ok".into(), "with the password".into())], "the password form's too");
}

#[tokio::test]
async fn a_user_with_two_factor_confirms_with_a_code_too_and_changes_their_own_password_with_the_current_one() {
    let app = console().await;
    let admin = app.admin().await;
    let secret = enrol(&app, &admin).await;
    let me = app.user_id(ADMIN_EMAIL).await;
    let page = get(&app, &admin, "/account/confirm?next=%2Fusers").await;
    assert!(page.body.contains("name=\"code\""), "a code is asked with the password");
    let no_code = post(&app, &admin, "/account/confirm", &[("password", ADMIN_PASSWORD), ("next", "/users")]).await;
    assert_eq!(no_code.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_code.body.contains("Enter a code from your authenticator app as well."));

    let own = |current: &'static str, code: String| {
        let (admin, url) = (admin.clone(), app.at(&format!("/users/{me}/password")));
        async move {
            let form = [("password", "my next passphrase 1"), ("current_password", current), ("code", code.as_str())];
            answer(admin.post(url).form(&form).send().await.unwrap()).await
        }
    };
    let form = get(&app, &admin, &format!("/users/{me}/password")).await;
    assert!(form.body.contains("Change your password") && !form.body.contains("Give it to them"), "{}", form.body);
    assert!(form.body.contains("name=\"password_again\""), "the new one is typed twice");
    let differ = [("password", "my next passphrase 1"), ("password_again", "my next passphrase 2")];
    let differ = post(&app, &admin, &format!("/users/{me}/password"), &differ).await;
    assert_eq!(differ.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(differ.body.contains("The two new passwords differ"), "{}", differ.body);
    let wrong = own(ADMIN_PASSWORD, "000000".into()).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("Wrong code."), "{}", wrong.body);
    let done = own(ADMIN_PASSWORD, code_at(&secret, app.clock().now() + 30)).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(get(&app, &admin, "/users").await.status, StatusCode::OK, "this session goes on");
}

/// Drives `fail` until the lock-out, and checks it was audited once and holds.
async fn locks_once(app: &TestApp, what: &str, fail: impl AsyncFn() -> StatusCode) {
    let before = count(app, "login.lockout").await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(fail().await);
    }
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "{what}: {statuses:?}");
    assert!(statuses[..4].iter().all(|s| *s != StatusCode::TOO_MANY_REQUESTS), "{what}: {statuses:?}");
    assert_eq!(fail().await, StatusCode::TOO_MANY_REQUESTS, "{what}: still locked");
    assert_eq!(count(app, "login.lockout").await, before + 1, "{what}: audited once");
}

#[tokio::test]
async fn every_lock_out_from_every_path_is_audited_once() {
    let app = console().await;
    let admin = app.admin().await;
    let secret = enrol(&app, &admin).await;
    let me = app.user_id(ADMIN_EMAIL).await;
    let fresh = || app.clock().advance(16 * 60);

    locks_once(&app, "password step", async || app.login(&app.client(), ADMIN_EMAIL, "a guess").await.status()).await;
    fresh();
    locks_once(&app, "code step", async || {
        let client = app.client();
        let password = app.login(&client, ADMIN_EMAIL, ADMIN_PASSWORD).await.status();
        if password == StatusCode::TOO_MANY_REQUESTS {
            return password;
        }
        post(&app, &client, "/login/code", &[("code", "000000")]).await.status
    })
    .await;
    fresh();
    let form = [("password", "a guess"), ("code", "000000"), ("next", "/users")];
    locks_once(&app, "confirm page", async || post(&app, &admin, "/account/confirm", &form).await.status).await;
    fresh();
    let form = [("password", "next passphrase 12"), ("current_password", "a guess"), ("code", "000000")];
    let path = format!("/users/{me}/password");
    locks_once(&app, "own password", async || post(&app, &admin, &path, &form).await.status).await;
    fresh();
    let form = [("code", "000000")];
    locks_once(&app, "turning off", async || post(&app, &admin, "/account/two-factor/turn-off", &form).await.status)
        .await;
    fresh();
    locks_once(&app, "recovery codes", async || {
        post(&app, &admin, "/account/two-factor/recovery-codes", &form).await.status
    })
    .await;
    fresh();
    let code = code_at(&secret, app.clock().now() + 30);
    let res = post(&app, &admin, "/account/two-factor/recovery-codes", &[("code", &code)]).await;
    assert_eq!(res.status, StatusCode::OK, "after the window, the right code works");
}

#[tokio::test]
async fn wrong_codes_from_many_addresses_end_every_waiting_sign_in_and_the_password_waits_longer_each_time() {
    let app = console().await;
    let secret = enrol(&app, &app.admin().await).await;
    let password_step = async |ip: &str| {
        let client = from(&app, ip);
        let res = app.login(&client, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        (client, res.status(), res.headers().get(LOCATION).map(|l| l.to_str().unwrap().to_owned()))
    };
    let waiting = password_step("192.0.2.200").await.0;
    for round in 1..=2 {
        // Three wrong codes end a waiting sign-in; ten, from anywhere, lock the second factor.
        for i in 0..4 {
            // Fresh addresses each round, so no address reaches its own limit.
            let ip = &format!("198.51.100.{}", round * 10 + i);
            let (client, status, to) = password_step(ip).await;
            assert_eq!((status, to.as_deref()), (StatusCode::SEE_OTHER, Some("/login/code")), "round {round} {ip}");
            let tries = if i < 3 { 3 } else { 1 };
            for t in 1..=tries {
                let res = post(&app, &client, "/login/code", &[("code", "000000")]).await;
                let last = i == 3;
                let expected = if last { StatusCode::TOO_MANY_REQUESTS } else { StatusCode::UNAUTHORIZED };
                assert_eq!(res.status, expected, "round {round}, {ip}, try {t}: {}", res.body);
            }
            if i < 3 {
                let ended = post(&app, &client, "/login/code", &[("code", "000000")]).await;
                assert_eq!(location(&ended), "/login", "the waiting sign-in ended after three");
            }
        }
        let wait = if round == 1 { 60 } else { 120 };
        let (_, status, _) = password_step("203.0.113.50").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "round {round}: the password waits, from anywhere");
        if round == 1 {
            // A sign-in that waited for its code before the lock-out has ended too, even with the right code.
            let right = post(&app, &waiting, "/login/code", &[("code", &code_at(&secret, app.clock().now()))]).await;
            assert_eq!(location(&right), "/login", "back to the password");
            assert_eq!(
                get(&app, &waiting, "/parents/6464/accounts").await.status,
                StatusCode::SEE_OTHER,
                "not signed in"
            );
        }
        app.clock().advance(wait - 1);
        assert_eq!(password_step("203.0.113.50").await.1, StatusCode::TOO_MANY_REQUESTS, "round {round}");
        app.clock().advance(2);
        assert_eq!(password_step("203.0.113.51").await.1, StatusCode::SEE_OTHER, "round {round}: after {wait} s");
    }
    let details: Vec<String> =
        sqlx::query_scalar("SELECT details FROM audit_log WHERE action = 'login.lockout' AND details LIKE '10 wrong%'")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(details.len(), 2, "each lock-out of the second factor is audited");
    assert!(details[1].ends_with("asked again after 2 minutes"), "{details:?}");
}

#[tokio::test]
async fn ipv6_addresses_are_counted_by_their_64() {
    let app = console().await;
    for i in 1..=5 {
        let res = app.login(&from(&app, &format!("2001:db8:1:2::{i}")), ADMIN_EMAIL, "a guess").await;
        assert_eq!(res.status() == StatusCode::TOO_MANY_REQUESTS, i == 5, "guess {i}");
    }
    let same_64 = app.login(&from(&app, "2001:db8:1:2:ffff::9"), ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(same_64.status(), StatusCode::TOO_MANY_REQUESTS, "another address of the same /64 waits");
    let other_64 = app.login(&from(&app, "2001:db8:1:3::1"), ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(other_64.status(), StatusCode::SEE_OTHER);
    let ips: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT ip FROM audit_log WHERE action = 'login.failure' ORDER BY ip")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(ips.len(), 5, "the log keeps each full address: {ips:?}");
}

#[tokio::test]
async fn sessions_are_stored_under_a_hash_of_their_id() {
    let app = console().await;
    let res = app.login(&app.client(), ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let cookie =
        res.cookies().find(|c| c.name() == "ma_session").map(|c| c.value().to_owned()).expect("a session cookie");
    let stored: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT id, data FROM sessions").fetch_all(&app.db).await.unwrap();
    assert!(!stored.is_empty());
    for (id, _) in &stored {
        assert_ne!(id, &cookie, "the cookie's id is not a key of the table");
    }
    let client = app.client();
    let mut headers = HeaderMap::new();
    headers.insert("cookie", HeaderValue::from_str(&format!("ma_session={cookie}")).unwrap());
    let res = client.get(app.at("/users")).headers(headers).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the cookie still opens its session");
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_its_backups_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let app = console().await;
    app.admin().await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let db = app.db_path.clone();
    for file in [db.clone(), db.with_extension("db-wal"), db.with_extension("db-shm")] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    let backup = db.with_file_name("backup.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_multi-account"))
        .args(["backup", backup.to_str().unwrap(), "--database", &app.database_url()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(mode(&backup), 0o600);

    // A database made readable to others (by an earlier version) is tightened at the next start.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let app = app.restart().await;
    assert_eq!(mode(&app.db_path), 0o600);
}

#[tokio::test]
async fn the_user_command_applies_the_pages_rules() {
    let app = console().await;
    let add = |name: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_multi-account"))
            .args(["user", "add", "cli@example.com", "--first-name", name, "--last-name", "Line"])
            .args(["--role", "manager", "--password-stdin", "--database", &app.database_url()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut long = add(&"N".repeat(101));
    use std::io::Write as _;
    long.stdin.take().unwrap().write_all(b"a good long password\n").unwrap();
    let out = long.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("first name: At most 100 characters"));
    let mut ok = add("Cli");
    ok.stdin.take().unwrap().write_all(b"a good long password\n").unwrap();
    assert!(ok.wait_with_output().unwrap().status.success());
    let added: Vec<(String, String, String)> =
        sqlx::query_as("SELECT actor, ip, details FROM audit_log WHERE action = 'user.add'")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(added, [("cli".into(), "local".into(), "role Manager".into())]);
}

#[tokio::test]
async fn an_administrator_is_added_with_the_acting_ones_password_in_the_form() {
    let app = console().await;
    let admin = app.admin().await;
    let form = get(&app, &admin, "/users/new").await;
    assert!(form.body.contains("name=\"current_password\""), "asked while not confirmed");
    let mut fields = vec![
        ("email", "second@example.com"),
        ("first_name", "Second"),
        ("last_name", "Admin"),
        ("role", "publisher_administrator"),
        ("password", "a good long password"),
        ("current_password", "not mine"),
    ];
    let wrong = post(&app, &admin, "/users", &fields).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong.body.contains("Your password is not correct.") && wrong.body.contains("value=\"second@example.com\"")
    );
    fields[5] = ("current_password", ADMIN_PASSWORD);
    let added = post(&app, &admin, "/users", &fields).await;
    assert_eq!(location(&added), "/users", "{}", added.body);
    let second = multi_account::db::users::find_by_email(&app.db, "second@example.com").await.unwrap().unwrap();
    assert_eq!(second.role, Role::PublisherAdministrator);
    let form = get(&app, &admin, "/users/new").await;
    assert!(!form.body.contains("name=\"current_password\""), "confirmed for the next minutes");
}

#[tokio::test]
async fn signing_in_again_in_the_same_browser_carries_no_confirmation_over() {
    let app = console().await;
    app.create_user(BEA, Role::PublisherAdministrator, BEA_PASSWORD).await;
    let browser = app.admin().await;
    app.confirm(&browser, ADMIN_PASSWORD).await;
    // Bea signs in at the same browser: the administrator's confirmation is not hers.
    assert_eq!(app.login(&browser, BEA, BEA_PASSWORD).await.status(), StatusCode::SEE_OTHER);
    let me = app.user_id(ADMIN_EMAIL).await;
    let res = post(&app, &browser, &format!("/users/{me}/role"), &[("role", "manager")]).await;
    assert_eq!(location(&res), "/account/confirm?next=%2Fusers");
    let admin = multi_account::db::users::get(&app.db, me).await.unwrap().unwrap();
    assert_eq!(admin.role, Role::PublisherAdministrator);
}

#[tokio::test]
async fn a_second_factor_being_set_up_is_kept_sealed_in_the_session() {
    let app = console().await;
    let admin = app.admin().await;
    post(&app, &admin, "/account/two-factor/set-up", &[]).await;
    let page = get(&app, &admin, "/account/two-factor").await;
    let doc = Html::parse_document(&page.body);
    let shown: String =
        doc.select(&Selector::parse("#two-factor-secret").unwrap()).next().expect("the secret").text().collect();
    let secret = shown.replace(' ', "");
    assert_eq!(secret.len(), 32);
    let records: Vec<Vec<u8>> = sqlx::query_scalar("SELECT data FROM sessions").fetch_all(&app.db).await.unwrap();
    assert!(!records.is_empty());
    for data in records {
        let text = String::from_utf8_lossy(&data);
        assert!(!text.contains(&secret), "the secret being set up is not stored in the clear");
    }
}
