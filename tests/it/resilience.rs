//! Resilience: bounded work under a burst of sign-ins, capped upstream answers, honest readiness, sessions that
//! fail loudly or not at all, metrics.

use reqwest::StatusCode;
use std::time::Duration;

use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, spawn_app};

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = ?").bind(action).fetch_one(&app.db).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_failed_sign_ins_is_answered_without_hashing_every_attempt() {
    let app = spawn_app().await;
    let attempts = (0..64).map(|_| {
        let (client, url) = (app.client(), app.at("/login"));
        async move {
            let form = [("email", ADMIN_EMAIL), ("password", "a wrong guess")];
            client.post(url).form(&form).send().await.unwrap().status()
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let hashed = audit_count(&app, "login.failure").await;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as i64;
    // Each attempt asks the lock again once it has a hashing slot: past the fifth failure the rest are refused
    // without a hash. At most one more per slot can be under way when the fifth is recorded.
    assert!(hashed <= 5 + cores, "{hashed} attempts were hashed");
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count() as i64;
    assert_eq!(refused + statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count() as i64, 64);
    assert!(refused >= 64 - hashed, "{statuses:?}");
    // The owner, from the same address, waits like everyone else there; the right password still works later.
    let owner = app.client();
    let res = owner.post(app.at("/login")).form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).send();
    assert_eq!(res.await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
}

async fn readiness(app: &TestApp) -> (StatusCode, String) {
    let res = app.bare_client().get(app.at("/readyz")).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

#[tokio::test]
async fn readiness_writes_to_the_database_rather_than_only_taking_its_lock() {
    let app = spawn_app().await;
    assert_eq!(readiness(&app).await.0, StatusCode::OK);
    // A database that takes the write lock but refuses what is written (as with an immutable file).
    for event in ["INSERT", "UPDATE"] {
        sqlx::query(&format!(
            "CREATE TRIGGER refuse_{event} BEFORE {event} ON heartbeat BEGIN SELECT RAISE(ABORT, 'read-only'); END"
        ))
        .execute(&app.db)
        .await
        .unwrap();
    }
    assert_eq!(
        readiness(&app).await,
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: the database does not take writes".to_owned())
    );
}

#[tokio::test]
async fn readiness_notices_a_database_file_deleted_under_the_running_console() {
    let app = spawn_app().await;
    assert_eq!(readiness(&app).await.0, StatusCode::OK);
    std::fs::rename(&app.db_path, app.db_path.with_extension("moved")).unwrap();
    std::fs::write(&app.db_path, b"").unwrap();
    assert_eq!(
        readiness(&app).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the database file was deleted or replaced while the console runs".to_owned()
        )
    );
}

/// Holds SQLite's write lock from another connection, as another process would, until the returned sender is used.
async fn hold_write_lock(app: &TestApp) -> tokio::sync::oneshot::Sender<()> {
    let other = sqlx::SqlitePool::connect(&format!("sqlite://{}", app.db_path.display())).await.unwrap();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let (held, is_held) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut conn = other.acquire().await.unwrap();
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await.unwrap();
        let _ = held.send(());
        let _ = released.await;
        sqlx::query("ROLLBACK").execute(&mut *conn).await.unwrap();
    });
    is_held.await.unwrap();
    release
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_still_read_while_the_database_cannot_take_the_sessions_refresh() {
    let app = crate::support::spawn_app_with(|s| {
        s.session_idle = Duration::from_secs(8);
        s.clock = crate::support::Clock::manual_from_now();
    })
    .await;
    let client = app.admin().await;
    // Past the refresh interval (a quarter of the idle limit), the next page moves the deadline.
    app.clock().advance(3);
    let release = hold_write_lock(&app).await;
    let res = client.get(app.at("/users")).send().await.unwrap();
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "the refresh failed, the page did not: {body}");
    assert!(body.contains(ADMIN_EMAIL));

    // A change that cannot be written is an error page with the request id, never an empty 500.
    let res = app.client().post(app.at("/login")).form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).send();
    let res = res.await.unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = res.text().await.unwrap();
    assert!(body.contains("Something went wrong on our side") && body.contains(&id), "{body}");
    let _ = release.send(());
}

#[tokio::test]
async fn metrics_count_requests_kaltura_calls_and_sign_ins_for_allowed_addresses_only() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    assert_eq!(admin.get(app.at("/parents/6464/accounts")).send().await.unwrap().status(), StatusCode::OK);
    app.login(&app.client(), ADMIN_EMAIL, "not the password").await;

    let res = app.bare_client().get(app.at("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.unwrap();
    for expected in [
        r#"http_requests_total{route="/accounts",method="GET",status="200"}"#,
        r#"http_request_duration_seconds_bucket{route="/accounts",method="GET",le="0.05"}"#,
        r#"kaltura_requests_total{call="partner.list,partner.count,partner.count,partner.getInfo",outcome="ok"}"#,
        r#"console_sign_ins_total{outcome="ok"}"#,
        r#"console_sign_ins_total{outcome="failure"}"#,
        "db_pool_connections ",
    ] {
        assert!(text.contains(expected), "{expected} in:\n{text}");
    }
    assert!(!text.contains("/parents/6464/accounts/6475"), "routes, not raw paths with ids");

    let closed = crate::support::spawn_app_with(|s| s.metrics_allow = vec!["10.0.0.0/8".parse().unwrap()]).await;
    let res = closed.bare_client().get(closed.at("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "loopback is not in the allowed list here");
}

#[tokio::test]
async fn made_up_methods_and_paths_add_no_metrics_series() {
    let app = spawn_app().await;
    let client = app.bare_client();
    for i in 0..200 {
        let method = reqwest::Method::from_bytes(format!("MADEUP{i}").as_bytes()).unwrap();
        client.request(method, app.at(&format!("/made-up-path-{i}"))).send().await.unwrap();
    }
    let text = client.get(app.at("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(!text.contains("MADEUP"), "methods are a bounded set");
    assert!(!text.contains("made-up-path"), "paths no route matched are one value");
    assert!(text.contains(r#"method="other""#) && text.contains(r#"route="unmatched""#), "{text}");
}

#[tokio::test]
async fn metrics_through_a_proxy_are_judged_by_the_client_the_trusted_proxy_names() {
    let forwarded = |app: &crate::support::TestApp, client_ip: &str| {
        let url = app.at("/metrics");
        let client_ip = client_ip.to_owned();
        async move { reqwest::Client::new().get(url).header("x-forwarded-for", client_ip).send().await.unwrap().status() }
    };
    // A proxy on the same host, not declared: whoever it forwards is refused.
    let app = spawn_app().await;
    assert_eq!(forwarded(&app, "203.0.113.9").await, StatusCode::FORBIDDEN);
    let res = reqwest::Client::new().get(app.at("/metrics")).header("forwarded", "for=203.0.113.9").send().await;
    assert_eq!(res.unwrap().status(), StatusCode::FORBIDDEN);
    // Declared: the client it names decides.
    let app = crate::support::spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    assert_eq!(forwarded(&app, "203.0.113.9").await, StatusCode::FORBIDDEN, "a client outside the allowed list");
    assert_eq!(forwarded(&app, "::1").await, StatusCode::OK, "a client on the allowed list");
}
