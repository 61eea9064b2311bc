//! Sign-in, sessions and the protections in front of every page.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION, ORIGIN, SET_COOKIE};
use std::time::Duration;

use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Clock, Role, spawn_app, spawn_app_with};

fn location(res: &reqwest::Response) -> &str {
    res.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("ma_session="))
        .map(str::to_owned)
}

#[tokio::test]
async fn anonymous_pages_redirect_to_sign_in_and_come_back() {
    let app = spawn_app().await;
    let client = app.client();
    for path in ["/users", "/parents/6464/accounts", "/users/new", "/no-such-page"] {
        let res = client.get(app.at(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        let next = form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>();
        assert_eq!(location(&res), format!("/login?next={next}"), "{path}");
    }
    let res = client.post(app.at("/users/1/block")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/login"));

    let res = app.login(&client, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(location(&res), "/", "without next, sign-in lands on the start page");
}

#[tokio::test]
async fn anonymous_htmx_fragments_get_hx_redirect_and_change_nothing() {
    let app = spawn_app().await;
    let admin_id = app.user_id(ADMIN_EMAIL).await;
    let client = app.client();
    let res = client
        .get(app.at("/users/new"))
        .header("HX-Request", "true")
        .header("HX-Current-URL", format!("{}/users", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["hx-redirect"], "/login?next=%2Fusers");
    assert!(!res.text().await.unwrap().contains("Add User"));

    let res =
        client.post(app.at(&format!("/users/{admin_id}/remove"))).header("HX-Request", "true").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers()["hx-redirect"].to_str().unwrap().starts_with("/login"));
    assert_eq!(app.user_id(ADMIN_EMAIL).await, admin_id, "the administrator is still there");
}

#[tokio::test]
async fn other_roles_see_that_their_role_does_not_allow_multi_account_management() {
    let app = spawn_app().await;
    app.create_user("editor@example.com", Role::ContentManager, "editor password 1").await;
    let admin_id = app.user_id(ADMIN_EMAIL).await;
    let client = app.signed_in("editor@example.com", "editor password 1").await;

    for path in ["/parents/6464/accounts", "/users", "/users/new"] {
        let res = client.get(app.at(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        let body = res.text().await.unwrap();
        assert!(body.contains("Your role (<strong>Content Manager</strong>) does not allow multi-account management"));
        assert!(body.contains("Sign out"), "the page offers to sign out");
        assert!(!body.contains("admin@example.com"), "no user data on {path}");
    }

    let res =
        client.post(app.at(&format!("/users/{admin_id}/block"))).header("HX-Request", "true").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("does not allow multi-account management"));
    let admin = multi_account::db::users::get(&app.db, admin_id).await.unwrap().unwrap();
    assert!(admin.is_active(), "a fragment request from another role changes nothing");

    let res = client.post(app.at("/logout")).send().await.unwrap();
    assert_eq!(location(&res), "/login?signed_out=1", "other roles can sign out");
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let app = spawn_app().await;
    app.create_user("victim@example.com", Role::Manager, "victim password").await;
    let victim = app.user_id("victim@example.com").await;
    let client = app.admin().await;

    let res = client
        .post(app.at(&format!("/users/{victim}/block")))
        .header(ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let bare = app.bare_client();
    assert_eq!(app.login(&bare, ADMIN_EMAIL, ADMIN_PASSWORD).await.status(), StatusCode::SEE_OTHER);
    let res = bare
        .post(app.at(&format!("/users/{victim}/remove")))
        .header("Sec-Fetch-Site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let user = multi_account::db::users::get(&app.db, victim).await.unwrap().expect("still there");
    assert!(user.is_active(), "neither cross-site request had an effect");
}

#[tokio::test]
async fn the_session_id_changes_at_sign_in_and_the_old_one_stops_working() {
    let app = spawn_app().await;
    let client = app.client();
    let first = session_cookie(&app.login(&client, ADMIN_EMAIL, ADMIN_PASSWORD).await).expect("a session cookie");
    let second = session_cookie(&app.login(&client, ADMIN_EMAIL, ADMIN_PASSWORD).await).expect("a new session cookie");
    let value = |c: &str| c.split(';').next().unwrap().to_owned();
    assert_ne!(value(&first), value(&second));

    let res = app.bare_client().get(app.at("/users")).header("Cookie", value(&first)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the session from before sign-in is gone");
    let res = app.bare_client().get(app.at("/users")).header("Cookie", value(&second)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site() {
    let app = spawn_app().await;
    let cookie = session_cookie(&app.login(&app.client(), ADMIN_EMAIL, ADMIN_PASSWORD).await).unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http in tests: {cookie}");
}

#[tokio::test]
async fn a_session_outlives_a_server_restart() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let app = app.restart().await;
    let res = client.get(app.at("/users")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains(ADMIN_EMAIL));
}

#[tokio::test]
async fn a_session_ends_at_the_absolute_limit_however_active() {
    let app = spawn_app_with(|s| {
        s.session_max = Duration::from_secs(3600);
        s.clock = Clock::manual_from_now();
    })
    .await;
    let client = app.admin().await;
    app.clock().advance(3600);
    assert_eq!(client.get(app.at("/users")).send().await.unwrap().status(), StatusCode::OK, "at the limit");
    app.clock().advance(1);
    let res = client.get(app.at("/users")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/login"));
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let res = client.post(app.at("/logout")).send().await.unwrap();
    assert_eq!(location(&res), "/login?signed_out=1");
    assert_eq!(client.get(app.at("/users")).send().await.unwrap().status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn wrong_email_and_wrong_password_get_the_same_message() {
    let app = spawn_app().await;
    let client = app.client();
    for (email, password) in [("nobody@example.com", ADMIN_PASSWORD), (ADMIN_EMAIL, "not the password")] {
        let res = app.login(&client, email, password).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let body = res.text().await.unwrap();
        assert!(body.contains("Wrong email or password."));
        assert!(!body.contains(password), "the password is not echoed");
    }
}

#[tokio::test]
async fn a_blocked_user_cannot_sign_in() {
    let app = spawn_app().await;
    let id = app.create_user("blocked@example.com", Role::PublisherAdministrator, "blocked password").await;
    multi_account::db::users::set_status(&app.db, id, multi_account::db::users::Status::Blocked).await.unwrap();
    let res = app.login(&app.client(), "blocked@example.com", "blocked password").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.text().await.unwrap().contains("Wrong email or password."));
}

#[tokio::test]
async fn five_failures_make_the_address_wait_even_with_the_right_password() {
    let app = spawn_app_with(|s| s.clock = Clock::manual_from_now()).await;
    let client = app.client();
    for attempt in 1..=4 {
        let res = app.login(&client, ADMIN_EMAIL, "wrong password").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let fifth = app.login(&client, ADMIN_EMAIL, "wrong password").await;
    assert_eq!(fifth.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(fifth.text().await.unwrap().contains("sign-in is locked. Try again in 60 seconds."));

    // A retry says how long is left, not the whole wait again.
    app.clock().advance(20);
    let sixth = app.login(&client, ADMIN_EMAIL.to_uppercase().as_str(), ADMIN_PASSWORD).await;
    assert_eq!(sixth.status(), StatusCode::TOO_MANY_REQUESTS, "refused even with the right password");
    let body = sixth.text().await.unwrap();
    assert!(body.contains("Too many failed sign-in attempts: sign-in is locked. Try again in 40 seconds."), "{body}");

    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE target = ? COLLATE NOCASE ORDER BY id")
            .bind(ADMIN_EMAIL)
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(actions.iter().filter(|a| *a == "login.failure").count(), 5);
    assert!(actions.contains(&"login.lockout".to_owned()));
    assert_eq!(actions.last().map(String::as_str), Some("login.refused"));
}

#[tokio::test]
async fn next_leads_only_to_local_paths() {
    let app = spawn_app().await;
    for (next, expected) in [
        ("/users?x=1", "/users?x=1"),
        ("//evil.example/", "/"),
        ("http://evil.example/", "/"),
        ("https:evil.example", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
    ] {
        let client = app.client();
        let res = client
            .post(app.at("/login"))
            .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("next", next)])
            .send()
            .await
            .unwrap();
        assert_eq!(location(&res), expected, "next={next:?}");
        let query = form_urlencoded::Serializer::new(String::new()).append_pair("next", next).finish();
        let res = client.get(app.at(&format!("/login?{query}"))).send().await.unwrap();
        assert_eq!(location(&res), expected, "signed in, GET /login?next={next:?}");
    }
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for res in [
        app.client().get(app.at("/login")).send().await.unwrap(),
        admin.get(app.at("/users")).send().await.unwrap(),
        admin.get(app.at("/static/style.css")).send().await.unwrap(),
    ] {
        let h = res.headers();
        let csp = h[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        let kmc = app.emulator().url.trim_end_matches('/');
        assert!(csp.contains(&format!("form-action 'self' {kmc}")), "the Rich Media CMS may be a form target: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(h.contains_key("x-request-id"));
    }
}

#[tokio::test]
async fn pages_load_htmx_with_an_integrity_hash_and_have_no_inline_script() {
    let app = spawn_app().await;
    let body = app.admin().await.get(app.at("/users")).send().await.unwrap().text().await.unwrap();
    assert!(body.contains(r#"<script src="/static/vendor/htmx-2.0.11.min.js" integrity="sha384-"#));
    let doc = scraper::Html::parse_document(&body);
    let scripts: Vec<_> = doc.select(&scraper::Selector::parse("script").unwrap()).collect();
    assert_eq!(scripts.len(), 2, "htmx and the console's own script");
    for script in scripts {
        let src = script.value().attr("src").unwrap_or_default();
        assert!(src.starts_with("/static/") && script.inner_html().is_empty(), "no inline script: {}", script.html());
    }
    let js = app.client().get(app.at("/static/vendor/htmx-2.0.11.min.js")).send().await.unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js.text().await.unwrap().contains("htmx"));
}

#[tokio::test]
async fn errors_show_a_request_id_and_no_details() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let res = admin.get(app.at("/users/9999/password")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = res.text().await.unwrap();
    assert!(body.contains("There is nothing at this address."));
    assert!(body.contains(&id), "the page shows the request id {id}");

    let res = admin.get(app.at("/users/9999/password")).header("HX-Request", "true").send().await.unwrap();
    assert_eq!(res.headers()["hx-retarget"], "#flash");
    assert!(!res.text().await.unwrap().contains("<html"), "htmx gets a fragment");
}

#[tokio::test]
async fn the_audit_log_is_append_only() {
    let app = spawn_app().await;
    app.admin().await;
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'login'").fetch_one(&app.db).await.unwrap();
    assert_eq!(n, 1);
    let (actor, ip): (String, String) =
        sqlx::query_as("SELECT actor, ip FROM audit_log WHERE action = 'login'").fetch_one(&app.db).await.unwrap();
    assert_eq!((actor.as_str(), ip.as_str()), (ADMIN_EMAIL, "127.0.0.1"));
    let update = sqlx::query("UPDATE audit_log SET actor = 'someone else'").execute(&app.db).await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = sqlx::query("DELETE FROM audit_log").execute(&app.db).await;
    assert!(delete.unwrap_err().to_string().contains("append-only"));
}
