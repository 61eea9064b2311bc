//! Security hardening: sessions bound to their user, sign-in that cannot be used to fill the database or lock an
//! owner out, the forwarded address believed only from a trusted proxy, every refusal explained, input bounded.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, LOCATION, ORIGIN, REFERER, SET_COOKIE};
use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::add_account::request_key;
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Role, TestApp, client_with, spawn_app, spawn_app_with};

const B_EMAIL: &str = "bea@example.com";
const B_PASSWORD: &str = "bea's first passphrase";

async fn status_of(client: &reqwest::Client, url: String) -> StatusCode {
    client.get(url).send().await.unwrap().status()
}

/// Whether the client is still signed in: `/users` answers, rather than sending it to the sign-in page.
async fn signed_in(app: &TestApp, client: &reqwest::Client) -> bool {
    let res = client.get(app.at("/users")).send().await.unwrap();
    match res.status() {
        StatusCode::OK => true,
        StatusCode::SEE_OTHER => {
            assert!(res.headers()[LOCATION].to_str().unwrap().starts_with("/login"), "signed out to the sign-in page");
            false
        }
        other => panic!("/users answered {other}"),
    }
}

fn db_bytes(app: &TestApp) -> u64 {
    let size = |suffix: &str| {
        let mut path = app.db_path.clone().into_os_string();
        path.push(suffix);
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    };
    size("") + size("-wal")
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = ?").bind(action).fetch_one(&app.db).await.unwrap()
}

/// A client that says it comes through a proxy for `client_ip`.
fn forwarded_client(app: &TestApp, client_ip: &'static str) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert(ORIGIN, HeaderValue::from_str(&app.url).unwrap());
    headers.insert("x-forwarded-for", HeaderValue::from_static(client_ip));
    client_with(headers)
}

#[tokio::test]
async fn a_removed_users_session_never_passes_to_the_next_user_added() {
    let app = spawn_app().await;
    let bea = app.create_user(B_EMAIL, Role::PublisherAdministrator, B_PASSWORD).await;
    let beas_browser = app.signed_in(B_EMAIL, B_PASSWORD).await;
    assert!(signed_in(&app, &beas_browser).await);

    let admin = app.admin_confirmed().await;
    let res = admin.post(app.at(&format!("/users/{bea}/remove"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let next = app.create_user("carl@example.com", Role::PublisherAdministrator, "carl's own passphrase").await;

    assert_ne!(next, bea, "a removed user's id is never given to another user");
    assert!(!signed_in(&app, &beas_browser).await, "the removed user's cookie opens nothing");
}

#[tokio::test]
async fn a_new_password_role_or_status_ends_the_users_other_sessions() {
    let app = spawn_app().await;
    let bea = app.create_user(B_EMAIL, Role::PublisherAdministrator, B_PASSWORD).await;
    let (here, elsewhere) = (app.signed_in(B_EMAIL, B_PASSWORD).await, app.signed_in(B_EMAIL, B_PASSWORD).await);

    // Bea changes her own password (with the current one): this session goes on, the other one ends.
    let res = here
        .post(app.at(&format!("/users/{bea}/password")))
        .form(&[("password", "bea's second passphrase"), ("current_password", B_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(signed_in(&app, &here).await, "the session that changed its own password stays");
    assert!(!signed_in(&app, &elsewhere).await, "the other session ended at once");

    // A new role ends her sessions (she is signed out, not shown a role's refusal).
    let admin = app.admin_confirmed().await;
    admin.post(app.at(&format!("/users/{bea}/role"))).form(&[("role", "manager")]).send().await.unwrap();
    assert!(!signed_in(&app, &here).await, "a changed role ends the session");

    // A password set with the command line ends them too.
    let again = app.signed_in(B_EMAIL, "bea's second passphrase").await;
    assert_eq!(
        status_of(&again, app.at("/parents/6464/accounts")).await,
        StatusCode::FORBIDDEN,
        "a Manager is signed in"
    );
    let mut cli = Command::new(env!("CARGO_BIN_EXE_multi-account"))
        .args(["user", "set-password", B_EMAIL, "--password-stdin", "--database", &app.database_url()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    cli.stdin.take().unwrap().write_all(b"bea's third passphrase\n").unwrap();
    assert!(cli.wait().unwrap().success());
    assert_eq!(
        status_of(&again, app.at("/parents/6464/accounts")).await,
        StatusCode::SEE_OTHER,
        "signed out by the CLI"
    );
}

#[tokio::test]
async fn anonymous_over_long_sign_ins_write_nothing_and_are_not_echoed_whole() {
    let app = spawn_app().await;
    let client = app.client();
    let long_email = format!("{}@example.com", "a".repeat(200_000));
    let before = db_bytes(&app);
    for _ in 0..100 {
        let res = app.login(&client, &long_email, "whatever it is").await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = res.text().await.unwrap();
        assert!(body.len() < 20_000, "the answer is small: {} bytes", body.len());
        assert!(body.contains(&"a".repeat(254)) && !body.contains(&"a".repeat(255)), "at most 254 bytes echoed");
    }
    let grown = db_bytes(&app).saturating_sub(before);
    assert!(grown < 256 * 1024, "the database grew by {grown} bytes");
    assert_eq!(audit_count(&app, "login.failure").await, 0, "nothing was recorded");
}

#[tokio::test]
async fn a_locked_email_logs_its_refusals_once_per_window() {
    let app = spawn_app().await;
    let client = app.client();
    for _ in 0..5 {
        app.login(&client, ADMIN_EMAIL, "not the password").await;
    }
    for _ in 0..30 {
        let res = app.login(&client, ADMIN_EMAIL, "not the password").await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(audit_count(&app, "login.failure").await, 5);
    assert_eq!(audit_count(&app, "login.lockout").await, 1);
    assert_eq!(audit_count(&app, "login.refused").await, 1, "one refusal logged, not thirty");
}

#[tokio::test]
async fn throttling_and_the_audit_log_follow_the_forwarded_address_only_from_a_trusted_proxy() {
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let attacker = forwarded_client(&app, "198.51.100.66, 203.0.113.9");
    for _ in 0..4 {
        assert_eq!(app.login(&attacker, ADMIN_EMAIL, "a guess").await.status(), StatusCode::UNAUTHORIZED);
    }
    let fifth = app.login(&attacker, ADMIN_EMAIL, "a guess").await;
    assert_eq!(fifth.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(fifth.text().await.unwrap().contains("sign-in is locked. Try again in 60 seconds."));
    let res = app.login(&attacker, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "the guessing address waits, even with the password");

    // The owner, elsewhere, is not locked out by it.
    let owner = forwarded_client(&app, "192.0.2.10");
    assert_eq!(app.login(&owner, ADMIN_EMAIL, ADMIN_PASSWORD).await.status(), StatusCode::SEE_OTHER);

    let ips: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT ip FROM audit_log WHERE action LIKE 'login%' ORDER BY ip")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(ips, ["192.0.2.10", "203.0.113.9"], "the rightmost untrusted hop, not what the client wrote first");
    let lockout: String = sqlx::query_scalar("SELECT details FROM audit_log WHERE action = 'login.lockout'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(lockout, "for 60 seconds more sign-ins from 203.0.113.9 refused");
}

#[tokio::test]
async fn without_trusted_proxies_a_forwarded_address_is_ignored() {
    let app = spawn_app().await;
    let attacker = forwarded_client(&app, "203.0.113.9");
    for _ in 0..5 {
        app.login(&attacker, ADMIN_EMAIL, "a guess").await;
    }
    let owner = forwarded_client(&app, "192.0.2.10");
    let res = app.login(&owner, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "both are the peer 127.0.0.1: the header was not believed");
    let ips: Vec<String> = sqlx::query_scalar("SELECT DISTINCT ip FROM audit_log WHERE action LIKE 'login%'")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(ips, ["127.0.0.1"]);
}

#[tokio::test]
async fn add_account_checks_kalturas_field_sizes_and_echoes_no_more_than_they_hold() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let key = request_key(&app, &client).await;
    let long_email = format!("{}@example.com", "x".repeat(300));
    let huge = "y".repeat(100_000);
    let form = [
        ("request_key", key.as_str()),
        ("admin_name", huge.as_str()),
        ("name", huge.as_str()),
        ("admin_email", long_email.as_str()),
        ("phone", huge.as_str()),
        ("website", huge.as_str()),
        ("template_id", "0"),
        ("reference_id", huge.as_str()),
    ];
    let res =
        client.post(app.at("/parents/6464/accounts")).header("HX-Request", "true").form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.text().await.unwrap();
    assert!(body.len() < 20_000, "five 100 kB fields come back as {} bytes", body.len());
    for message in [
        "Must be at most 50 characters",
        "Must be at most 256 characters",
        "Must be at most 64 characters",
        "Must be at most 1024 characters",
        "Must be at most 255 characters",
    ] {
        assert!(body.contains(message), "{message}");
    }
    assert!(!body.contains(&"x".repeat(51)), "the email is echoed only up to its 50 characters");
    assert_eq!(app.emulator().stats()["calls"]["partner.register"].as_u64().unwrap_or(0), 0, "nothing was sent");
}

#[tokio::test]
async fn every_refusal_is_a_page_with_a_message_and_the_request_id() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let page_says = |res: reqwest::Response, status: StatusCode, words: &'static str| async move {
        assert_eq!(res.status(), status, "{words}");
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{words}");
        let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        let body = res.text().await.unwrap();
        assert!(body.contains(words), "{words}: {body}");
        assert!(body.contains(&id), "the page quotes the request id {id}");
    };

    // A post from another site.
    let foreign = admin
        .post(app.at("/parents/6464/accounts/6475/block"))
        .header(ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    page_says(foreign, StatusCode::FORBIDDEN, "did not come from the console&#39;s own pages").await;
    // A POST-only address opened in the address bar.
    let get = admin.get(app.at("/parents/6464/accounts/6475/block")).send().await.unwrap();
    page_says(get, StatusCode::METHOD_NOT_ALLOWED, "This address cannot be used that way").await;
    // A path that is not a number.
    let path = admin.post(app.at("/parents/6464/accounts/abc/block")).send().await.unwrap();
    page_says(path, StatusCode::BAD_REQUEST, "The request could not be read").await;
    // A form with a field twice.
    let twice = admin
        .post(app.at("/users/1/role"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("role=manager&role=manager")
        .send()
        .await
        .unwrap();
    let status = twice.status();
    assert!(status.is_client_error(), "{status}");
    page_says(twice, status, "could not be read").await;
    // Not a form at all.
    let json = admin.post(app.at("/login")).json(&serde_json::json!({"email": "a"})).send().await.unwrap();
    page_says(json, StatusCode::UNSUPPORTED_MEDIA_TYPE, "does not read").await;
    // Far too much.
    let big = admin
        .post(app.at("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("email={}", "e".repeat(3 * 1024 * 1024)))
        .send()
        .await
        .unwrap();
    page_says(big, StatusCode::PAYLOAD_TOO_LARGE, "too large").await;
}

#[tokio::test]
async fn signing_in_after_a_form_post_returns_to_the_page_of_the_form() {
    let app = spawn_app().await;
    let anonymous = app.client();
    let res = anonymous
        .post(app.at("/parents/6464/accounts/6475/block"))
        .header(REFERER, app.at("/parents/6464/accounts?page=2&size=25"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/login?next=%2Fparents%2F6464%2Faccounts%3Fpage%3D2%26size%3D25");
}

#[tokio::test]
async fn a_next_address_with_control_characters_is_refused_before_the_action_runs() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let res = admin
        .post(app.at("/parents/6464/accounts/6475/block?next=/parents/6464/accounts%0d%0aSet-Cookie:x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("The page to return to is not a valid address."));
    assert_eq!(app.emulator().stats()["calls"]["varconsole_varconsole.updateStatus"].as_u64().unwrap_or(0), 0);
    let page = admin.get(app.at("/parents/6464/accounts?q=6475")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("badge-active"), "the account is still active");
}

#[tokio::test]
async fn over_https_the_cookie_is_host_bound_and_strict_transport_security_is_sent() {
    let app = spawn_app_with(|s| s.public_url = Some("https://console.example".parse().unwrap())).await;
    let mut headers = HeaderMap::new();
    headers.insert(ORIGIN, HeaderValue::from_static("https://console.example"));
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .post(app.at("/login"))
        .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["strict-transport-security"], "max-age=31536000");
    let cookies: Vec<&str> = res.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
    let cookie = cookies.iter().find(|c| c.starts_with("__Host-ma_session=")).expect("the session's cookie");
    assert!(cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"), "{cookie}");
    let mark = cookies.iter().find(|c| c.starts_with("ma_was_signed_in=")).expect("the signed-in mark");
    assert!(mark.starts_with("ma_was_signed_in=1;") && mark.contains("Secure") && mark.contains("HttpOnly"), "{mark}");

    let plain = spawn_app().await;
    let res = plain.client().get(plain.at("/login")).send().await.unwrap();
    assert!(res.headers().get("strict-transport-security").is_none(), "no HSTS over plain HTTP");
}

#[tokio::test]
async fn only_a_well_formed_request_id_is_taken_from_the_client() {
    let app = spawn_app().await;
    let client = app.bare_client();
    let id_for = |sent: String| {
        let client = client.clone();
        let url = app.at("/healthz");
        async move {
            let res = client.get(url).header("x-request-id", sent).send().await.unwrap();
            res.headers()["x-request-id"].to_str().unwrap().to_owned()
        }
    };
    assert_eq!(id_for("proxy-7f3a-0001".into()).await, "proxy-7f3a-0001");
    for bad in ["<script>alert(1)</script>".to_string(), "a".repeat(65), "two words".into()] {
        let id = id_for(bad.clone()).await;
        assert_ne!(id, bad);
        assert_eq!(id.len(), 36, "a fresh UUID instead of {bad:?}: {id}");
    }
}

#[tokio::test]
async fn a_storm_of_readiness_probes_costs_one_kaltura_call() {
    let app = spawn_app().await;
    app.emulator().reset_stats();
    let client = app.bare_client();
    for _ in 0..20 {
        assert_eq!(status_of(&client, app.at("/readyz")).await, StatusCode::OK);
    }
    assert_eq!(app.emulator().stats()["calls"]["partner.getInfo"].as_u64(), Some(1));
}

#[tokio::test]
async fn common_passwords_are_refused_for_new_users() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let res = admin
        .post(app.at("/users"))
        .header("HX-Request", "true")
        .form(&[
            ("email", "weak@example.com"),
            ("first_name", "Weak"),
            ("last_name", "Password"),
            ("role", "manager"),
            ("password", "password1234"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("too common or too easy to guess"));
}

#[tokio::test]
async fn control_characters_in_the_search_are_dropped_before_showing_or_asking_kaltura() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let page =
        admin.get(app.at("/parents/6464/accounts?q=Shang%00hai&by=name")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains('\u{0}'), "no NUL in the page");
    assert!(page.contains("value=\"Shanghai\""), "the search box shows the cleaned text");
    assert!(page.contains("id=\"account-6475\""), "Kaltura was asked for Shanghai, and found it");
}

/// Reads from `stream` until the server closes it, and returns what it sent; fails if it keeps the connection open.
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt as _;
    let mut received = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open; it sent {:?}", String::from_utf8_lossy(&received));
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn slow_and_silent_clients_are_disconnected_while_slow_answers_are_not() {
    use tokio::io::AsyncWriteExt as _;
    let short = std::time::Duration::from_millis(300);
    let app = spawn_app_with(|s| {
        s.timeouts = multi_account::app::Timeouts { header: short, body: short, idle: short };
    })
    .await;
    let connect = || tokio::net::TcpStream::connect(app.addr);

    // Headers begun and never finished.
    let mut half_head = connect().await.unwrap();
    half_head.write_all(b"GET /healthz HTTP/1.1\r\nHost: console\r\n").await.unwrap();
    assert_eq!(read_until_closed(&mut half_head).await, "", "no answer to headers that never ended");

    // A connection opened and never used, and one kept alive after its answer.
    let mut silent = connect().await.unwrap();
    assert_eq!(read_until_closed(&mut silent).await, "");
    let mut kept_alive = connect().await.unwrap();
    kept_alive.write_all(b"GET /healthz HTTP/1.1\r\nHost: console\r\n\r\n").await.unwrap();
    let answered = read_until_closed(&mut kept_alive).await;
    assert!(answered.starts_with("HTTP/1.1 200") && answered.ends_with("ok"), "{answered}");

    // A body announced at 100 bytes that stops after 10: the request fails instead of waiting for the rest.
    let mut half_body = connect().await.unwrap();
    let head = "POST /login HTTP/1.1\r\nHost: console\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                Content-Length: 100\r\n\r\nemail=a%40";
    half_body.write_all(head.as_bytes()).await.unwrap();
    let answered = read_until_closed(&mut half_body).await;
    assert!(answered.is_empty() || answered.starts_with("HTTP/1.1 4"), "{answered}");

    // An answer that takes Kaltura longer than every time-out is not cut short: only the client is timed.
    let admin = app.admin().await;
    app.emulator().set_latency_ms(800);
    let res = admin.get(app.at("/parents/6464/accounts")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("Shanghai"));
}
