//! Administration › Users: the list, the quota, and the rules for changing users.

use multi_account::db::users::{self, Role, Status};
use reqwest::StatusCode;
use reqwest::header::LOCATION;

use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, spawn_app};

async fn add_user(app: &TestApp, client: &reqwest::Client, email: &str, htmx: bool) -> reqwest::Response {
    let mut req = client.post(app.at("/users")).form(&[
        ("email", email),
        ("first_name", "Renee"),
        ("last_name", "Dvir"),
        ("publisher_user_id", ""),
        ("role", "manager"),
        ("password", "a good long password"),
    ]);
    if htmx {
        req = req.header("HX-Request", "true");
    }
    req.send().await.unwrap()
}

async fn user(app: &TestApp, email: &str) -> users::User {
    users::find_by_email(&app.db, email).await.unwrap().expect("the user exists")
}

#[tokio::test]
async fn the_users_page_lists_users_under_the_quota_banner() {
    let app = spawn_app().await;
    app.create_user("moderator@example.com", Role::ContentModerator, "moderator password").await;
    let body = app.admin().await.get(app.at("/users")).send().await.unwrap().text().await.unwrap();
    assert!(body.contains("Current status: <strong>2</strong> users in use, <strong>1</strong> additional available."));
    assert!(body.contains("moderator@example.com"));
    assert!(body.contains(r#"<option value="content_moderator" selected>Content Moderator</option>"#));
    assert!(body.contains(r#"href="/accounts">Multi Account</a>"#), "the Administration navigation");
    assert!(body.contains("Sign out"));
}

#[tokio::test]
async fn adding_a_user_past_the_quota_is_refused() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let res = add_user(&app, &client, "second@example.com", false).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let body = client.get(app.at("/users")).send().await.unwrap().text().await.unwrap();
    assert!(body.contains("Renee Dvir (second@example.com) was added as Manager."), "the flash message");
    assert_eq!(user(&app, "second@example.com").await.publisher_user_id, "second@example.com");

    assert_eq!(add_user(&app, &client, "third@example.com", true).await.status(), StatusCode::OK);
    let res = add_user(&app, &client, "fourth@example.com", true).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.headers()["hx-retarget"], "#user-form");
    let body = res.text().await.unwrap();
    assert!(body.contains("You have reached your quota of 3 users."), "{body}");
    assert_eq!(users::count(&app.db).await.unwrap(), 3);

    let page = client.get(app.at("/users")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Current status: <strong>3</strong> users in use, <strong>0</strong> additional available."));
}

#[tokio::test]
async fn the_page_works_and_says_the_quota_is_unknown_when_kaltura_is_down() {
    let mut app = spawn_app().await;
    let client = app.admin().await;
    app.stop_emulator().await;
    let res = client.get(app.at("/users")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    assert!(body.contains("The user quota is unknown"), "{body}");
    assert!(body.contains(ADMIN_EMAIL));
}

#[tokio::test]
async fn validation_errors_are_shown_next_to_the_fields() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let res = client
        .post(app.at("/users"))
        .form(&[
            ("email", "not-an-email"),
            ("first_name", " "),
            ("last_name", ""),
            ("role", "manager"),
            ("password", "short"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.text().await.unwrap();
    assert!(body.contains(r#"<span class="field-error" id="email-error">Invalid email format</span>"#));
    assert!(body.contains(
        r#"<span class="field-error" id="first-name-error">Value is required and can&#39;t be empty</span>"#
    ));
    assert!(body.contains(r#"id="last-name-error">Value is required"#));
    assert!(body.contains("Password must be at least 10 characters long"));
    assert!(body.contains(r#"value="not-an-email""#), "what was typed is kept");
    assert!(body.contains("<html"), "without htmx, the whole page comes back");
    assert_eq!(users::count(&app.db).await.unwrap(), 1);
}

#[tokio::test]
async fn a_login_email_is_unique_regardless_of_case() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let res = add_user(&app, &client, &ADMIN_EMAIL.to_uppercase(), true).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("Email address already exists in the system"));
}

#[tokio::test]
async fn the_last_publisher_administrator_cannot_be_removed_blocked_or_demoted() {
    let app = spawn_app().await;
    let id = app.user_id(ADMIN_EMAIL).await;
    let client = app.admin_confirmed().await;
    for (path, form, what) in [
        ("remove", vec![], "removed"),
        ("block", vec![], "blocked"),
        ("role", vec![("role", "manager")], "given another role"),
    ] {
        let res = client
            .post(app.at(&format!("/users/{id}/{path}")))
            .header("HX-Request", "true")
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CONFLICT, "{path}");
        let body = res.text().await.unwrap();
        let message = format!("is the last active Publisher Administrator and cannot be {what}");
        assert!(body.contains(&message), "{path}: {body}");
    }
    // The same refusal through a plain form comes back as a message on the page.
    let res = client.post(app.at(&format!("/users/{id}/remove"))).send().await.unwrap();
    assert_eq!(res.headers()[LOCATION], "/users");
    let page = client.get(app.at("/users")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("cannot be removed"));

    let admin = user(&app, ADMIN_EMAIL).await;
    assert_eq!((admin.role, admin.status), (Role::PublisherAdministrator, Status::Active));
    let refused: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE result = 'refused' AND target = ?")
        .bind(ADMIN_EMAIL)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(refused, 4);
}

#[tokio::test]
async fn an_administrator_can_block_unblock_change_the_role_reset_the_password_and_remove_a_user() {
    let app = spawn_app().await;
    let id = app.create_user("renee@example.com", Role::Manager, "renee first password").await;
    let client = app.admin().await;
    let post = |path: String, form: Vec<(&'static str, &'static str)>| {
        client.post(app.at(&path)).header("HX-Request", "true").form(&form).send()
    };

    let res = post(format!("/users/{id}/block"), vec![]).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    assert!(body.contains(r#"<div id="flash" hx-swap-oob="true""#), "the message goes to the flash area");
    assert!(body.contains("is blocked and can no longer sign in."));
    assert!(body.contains(&format!(r#"action="/users/{id}/unblock""#)), "the row now offers Unblock");
    assert_eq!(user(&app, "renee@example.com").await.status, Status::Blocked);
    let res = app.login(&app.client(), "renee@example.com", "renee first password").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "a blocked user cannot sign in");

    post(format!("/users/{id}/unblock"), vec![]).await.unwrap();
    assert_eq!(user(&app, "renee@example.com").await.status, Status::Active);

    // Making her a Publisher Administrator is sensitive: the acting administrator confirms who they are first.
    let res = post(format!("/users/{id}/role"), vec![("role", "publisher_administrator")]).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(res.headers()["hx-redirect"], "/account/confirm?next=%2Fusers");
    assert_eq!(user(&app, "renee@example.com").await.role, Role::Manager, "nothing changed");

    let res = post(format!("/users/{id}/password"), vec![("password", "too short")]).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.headers()["hx-retarget"], "#password-form");
    // A password is set only with the acting administrator's own, which confirms them for the next minutes.
    let res = post(format!("/users/{id}/password"), vec![("password", "renee second password")]).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("Your password is not correct."));
    post(
        format!("/users/{id}/password"),
        vec![("password", "renee second password"), ("current_password", ADMIN_PASSWORD)],
    )
    .await
    .unwrap();
    let res = post(format!("/users/{id}/role"), vec![("role", "publisher_administrator")]).await.unwrap();
    assert!(res.text().await.unwrap().contains("is now a Publisher Administrator."));
    assert_eq!(user(&app, "renee@example.com").await.role, Role::PublisherAdministrator);
    let renee = app.signed_in("renee@example.com", "renee second password").await;
    app.confirm(&renee, "renee second password").await;
    assert_eq!(renee.get(app.at("/users")).send().await.unwrap().status(), StatusCode::OK);

    // With two administrators, the first one can now be demoted.
    let admin_id = app.user_id(ADMIN_EMAIL).await;
    let res = post(format!("/users/{admin_id}/role"), vec![("role", "player_designer")]).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        renee.post(app.at(&format!("/users/{id}/remove"))).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(user(&app, "renee@example.com").await.role, Role::PublisherAdministrator, "the last one stays");

    let entries: Vec<(String, String, String, String)> =
        sqlx::query_as("SELECT actor, ip, action, result FROM audit_log WHERE target = 'renee@example.com' AND action LIKE 'user.%' ORDER BY id")
            .fetch_all(&app.db)
            .await
            .unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.2.as_str()).collect();
    assert_eq!(actions, ["user.block", "user.unblock", "user.password", "user.role", "user.remove"]);
    assert!(entries.iter().all(|e| e.0 == ADMIN_EMAIL || e.0 == "renee@example.com"));
    let results: Vec<&str> = entries.iter().map(|e| e.3.as_str()).collect();
    assert_eq!(results, ["ok", "ok", "ok", "ok", "refused"], "renee is the last administrator");
}

#[tokio::test]
async fn the_add_user_form_has_the_kmc_fields() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let res = client.get(app.at("/users/new")).header("HX-Request", "true").send().await.unwrap();
    let body = res.text().await.unwrap();
    assert!(!body.contains("<html"), "htmx gets the form alone");
    for label in
        ["Login Email address", "First Name", "Last Name", "Publisher User ID", "User role", "Initial password"]
    {
        assert!(body.contains(label), "{label}");
    }
    for role in ["Publisher Administrator", "Manager", "Content Manager", "Content Moderator", "Player Designer"] {
        assert!(body.contains(&format!(">{role}</option>")), "{role}");
    }
    let page = client.get(app.at("/users/new")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<html") && page.contains(r#"id="user-form""#), "without htmx, the page with the form open");
}
