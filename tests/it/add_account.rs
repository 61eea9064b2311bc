//! Add Account: Kaltura's fields and messages, the quota the console enforces, and creations that never double
//! and are never lost (recorded first, reconciled after a timeout or a restart, reported once).

use crate::support::{TestApp, spawn_app, spawn_app_with_kaltura};
use kaltura::{PartnerFilter, PartnerStatus};
use reqwest::StatusCode;
use std::time::{Duration, Instant};

/// Opens the dialog and returns its one-time request key.
pub(crate) async fn request_key(app: &TestApp, client: &reqwest::Client) -> String {
    request_key_under(app, client, 6464).await
}

/// [`request_key`] of the dialog under `parent`.
pub(crate) async fn request_key_under(app: &TestApp, client: &reqwest::Client, parent: i64) -> String {
    let html = client
        .get(app.at(&format!("/parents/{parent}/accounts/new")))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = html.find("name=\"request_key\" value=\"").expect("the form carries a request key") + 26;
    html[at..at + 32].to_string()
}

fn fields<'a>(key: &'a str, email: &'a str, name: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("request_key", key),
        ("admin_name", "Ada Lovelace"),
        ("name", name),
        ("admin_email", email),
        ("phone", "+44 20 1234 5678"),
        ("website", "https://maths.example"),
        ("template_id", "6478"),
        ("reference_id", "crm-77"),
    ]
}

async fn post(
    app: &TestApp,
    client: &reqwest::Client,
    form: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let res =
        client.post(app.at("/parents/6464/accounts")).header("HX-Request", "true").form(form).send().await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, res.text().await.unwrap())
}

fn registers(app: &TestApp) -> u64 {
    app.emulator().stats()["calls"]["partner.register"].as_u64().unwrap_or(0)
}

/// The children Kaltura has with this administrator email.
async fn children_with_email(app: &TestApp, email: &str) -> Vec<kaltura::Partner> {
    let client = multi_account::config::kaltura::KalturaSettings::default()
        .demo_client(&app.emulator().url, 6464, &app.emulator().admin_secret)
        .unwrap();
    let filter = PartnerFilter {
        status_in: Some(vec![PartnerStatus::Active, PartnerStatus::Blocked, PartnerStatus::Removed]),
        ..PartnerFilter::default()
    };
    let list = client.list_partners(&filter, &kaltura::Pager::new(500, 1)).await.unwrap();
    list.objects.into_iter().filter(|p| p.admin_email.as_deref() == Some(email)).collect()
}

#[tokio::test]
async fn adding_an_account_registers_it_once_and_reports_it() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let key = request_key(&app, &client).await;
    let (status, headers, body) = post(&app, &client, &fields(&key, "ada@maths.example", "School of Maths")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["hx-trigger"], "accounts-changed", "the table refreshes itself");
    assert!(body.contains("Account School of Maths ("), "{body}");
    assert!(body.contains("was created."));
    assert_eq!(registers(&app), 1);

    let made = children_with_email(&app, "ada@maths.example").await;
    assert_eq!(made.len(), 1);
    let p = &made[0];
    assert_eq!(p.name.as_deref(), Some("School of Maths"));
    assert_eq!(p.admin_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(p.phone.as_deref(), Some("+44 20 1234 5678"));
    assert_eq!(p.website.as_deref(), Some("https://maths.example"));
    assert_eq!(p.reference_id.as_deref(), Some("crm-77"));
    assert_eq!(p.description.as_deref(), Some("Multi-publishers console"));
    assert_eq!(p.partner_type, Some(109));
    assert_eq!(p.template_partner_id, Some(6478));

    // The same form again (a double click, a resubmission): nothing is sent, and it says so.
    let (_, _, again) = post(&app, &client, &fields(&key, "ada@maths.example", "School of Maths")).await;
    assert!(again.contains("This request was sent before."), "{again}");
    assert_eq!(registers(&app), 1);

    // The new account is at the top of the default view, and the banner counts it.
    let page = client.get(app.at("/parents/6464/accounts")).send().await.unwrap().text().await.unwrap();
    let first_row = page.find("<tr id=\"account-").unwrap();
    assert!(page[first_row..].starts_with(&format!("<tr id=\"account-{}\"", p.id)));
    assert!(page.contains("id=\"quota-used\">3<"), "3 accounts in use now");
    let audit: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'account.create' AND result = 'ok' AND actor = 'admin@example.com'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(audit, 1);
}

#[tokio::test]
async fn the_form_has_kalturas_fields_templates_and_note() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let page = client.get(app.at("/parents/6464/accounts/new")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<html"), "without htmx it is a page of its own");
    let order = [
        "Administrator",
        "Account Name",
        "Administrator Email",
        "Administrator Phone",
        "Website URL",
        "Copy Content from Template Account",
        "Reference ID",
    ];
    let mut at = 0;
    for label in order {
        let found = page[at..].find(&format!("<span>{label}")).unwrap_or_else(|| panic!("{label} in order"));
        at += found + 1;
    }
    assert!(page.contains("Note: Account creation might take up to a minute"));
    let default = page.find(">Default Template Account<").expect("the default template first");
    let standard = page.find(">Template - Standard (6478)<").expect("the active template");
    assert!(default < standard);
    assert!(!page.contains("Template - Legacy"), "blocked templates are not offered");
}

#[tokio::test]
async fn required_fields_and_email_format_use_kalturas_messages() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let key = request_key(&app, &client).await;
    let (status, _, body) =
        post(&app, &client, &[("request_key", &key), ("admin_email", "not an email"), ("template_id", "0")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["admin_name", "name", "phone"] {
        assert!(
            body.contains(&format!("data-error-for=\"{field}\">Value is required and can&#39;t be empty<")),
            "{field}: {body}"
        );
    }
    assert!(body.contains("data-error-for=\"admin_email\">Invalid email format<"));
    assert!(body.contains("value=\"not an email\""), "what was typed is kept");
    let mut blocked_template = fields(&key, "t@t.example", "T");
    blocked_template[6] = ("template_id", "6479");
    let (_, _, body) = post(&app, &client, &blocked_template).await;
    assert!(body.contains("Choose a template account from the list"), "{body}");
    assert_eq!(registers(&app), 0, "nothing invalid reaches Kaltura");
}

#[tokio::test]
async fn a_duplicate_email_shows_the_kmc_message_next_to_the_field() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let key = request_key(&app, &client).await;
    let (status, _, body) =
        post(&app, &client, &fields(&key, "renee.dvir@downunder.techpubs.example", "Another Down Under")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("data-error-for=\"admin_email\">Email address already exists in the system<"), "{body}");
    assert!(!body.contains(&key), "correcting the form is a new request with a new key");
    assert_eq!(registers(&app), 1);
}

#[tokio::test]
async fn the_console_enforces_the_quota_with_templates_and_removed_accounts_present() {
    let app = spawn_app().await;
    let client = app.admin().await;
    // Demo: publishersQuota 5, 2 in use (templates and the removed account do not count): 3 more fit.
    for i in 0..3 {
        let key = request_key(&app, &client).await;
        let email = format!("school{i}@quota.example");
        let (status, _, body) = post(&app, &client, &fields(&key, &email, &format!("School {i}"))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let page = client.get(app.at("/parents/6464/accounts")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"quota-available\">0<"));
    assert!(page.contains("id=\"add-account\" disabled"), "the button is disabled when the quota is used up");
    let key = request_key(&app, &client).await;
    let (status, _, body) = post(&app, &client, &fields(&key, "one-more@quota.example", "One Too Many")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("No additional accounts remain"), "{body}");
    assert_eq!(registers(&app), 3, "the fourth never reaches Kaltura, which would not refuse it");

    // Removing an account frees a place.
    let made = children_with_email(&app, "school0@quota.example").await;
    let res = client
        .post(app.at(&format!("/parents/6464/accounts/{}/remove", made[0].id)))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let key = request_key(&app, &client).await;
    let (status, _, body) = post(&app, &client, &fields(&key, "one-more@quota.example", "Now It Fits")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Polls the creation's status until it settles; returns the final answer.
async fn settle(app: &TestApp, client: &reqwest::Client, path: &str) -> (reqwest::header::HeaderMap, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let res = client.get(app.at(path)).header("HX-Request", "true").send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.text().await.unwrap();
        if status == StatusCode::OK {
            return (headers, body);
        }
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert!(Instant::now() < deadline, "the creation never settled: {body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn a_register_slower_than_the_console_ends_with_one_account_and_one_success_message() {
    let app = spawn_app_with_kaltura(|k| k.register_timeout_secs = 1).await;
    let client = app.admin().await;
    let key = request_key(&app, &client).await;
    app.emulator().set_latency_ms(2500);
    let (status, _, body) = post(&app, &client, &fields(&key, "slow@school.example", "Slow School")).await;
    app.emulator().set_latency_ms(0);
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(body.contains("Kaltura has not confirmed the account <b>Slow School</b>"), "{body}");
    assert!(body.contains("nothing is sent twice"));
    let at = body.find("hx-get=\"/parents/6464/accounts/creations/").expect("the dialog polls") + 8;
    let path = body[at..].split('"').next().unwrap().to_string();

    let (headers, done) = settle(&app, &client, &path).await;
    assert!(done.contains("Account Slow School (") && done.contains("was created."), "{done}");
    assert_eq!(headers["hx-trigger"], "accounts-changed");
    assert_eq!(children_with_email(&app, "slow@school.example").await.len(), 1, "exactly one account");
    assert_eq!(registers(&app), 1, "register was never resent");

    // Reported once: asking again says it is old news, and the accounts page does not announce it again.
    let (_, again) = settle(&app, &client, &path).await;
    assert!(again.contains("This request was sent before."), "{again}");
    let page = client.get(app.at("/parents/6464/accounts")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("was created."), "{page}");
}

#[tokio::test]
async fn a_creation_cut_off_by_a_restart_is_found_and_reported_once() {
    let app = spawn_app().await;
    let client = app.admin().await;
    // As if the console stopped while partner.register was under way, after Kaltura had made the account.
    let emu_client = multi_account::config::kaltura::KalturaSettings::default()
        .demo_client(&app.emulator().url, 6464, &app.emulator().admin_secret)
        .unwrap();
    let made = emu_client
        .register(
            &kaltura::NewAccount {
                admin_name: "Rita Start".into(),
                name: "Restart Academy".into(),
                admin_email: "rita@restart.example".into(),
                phone: "1".into(),
                website: None,
                reference_id: None,
            },
            Some(0),
        )
        .await
        .unwrap();
    let user_id = app.user_id("admin@example.com").await;
    sqlx::query(
        "INSERT INTO account_creations (request_key, user_id, actor, ip, admin_name, name, admin_email, phone, \
         template_id, state, started_at) VALUES ('k-restart', ?, 'admin@example.com', '127.0.0.1', 'Rita Start', \
         'Restart Academy', 'rita@restart.example', '1', 0, 'sending', strftime('%s','now'))",
    )
    .bind(user_id)
    .execute(&app.db)
    .await
    .unwrap();

    let app = app.restart().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let state: String = sqlx::query_scalar("SELECT state FROM account_creations WHERE request_key = 'k-restart'")
            .fetch_one(&app.db)
            .await
            .unwrap();
        if state == "created" {
            break;
        }
        assert!(Instant::now() < deadline, "still {state}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let partner: i64 = sqlx::query_scalar("SELECT partner_id FROM account_creations WHERE request_key = 'k-restart'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(partner, made.id);
    let first = client.get(app.at("/parents/6464/accounts")).send().await.unwrap().text().await.unwrap();
    assert!(first.contains(&format!("Account Restart Academy ({}) was created.", made.id)), "{first}");
    let second = client.get(app.at("/parents/6464/accounts")).send().await.unwrap().text().await.unwrap();
    assert!(!second.contains("was created."), "reported once: {second}");
    assert_eq!(registers(&app), 1, "only the original registration");
}

#[tokio::test]
async fn without_javascript_the_form_posts_and_redirects_with_a_message() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let key = request_key(&app, &client).await;
    let res = client
        .post(app.at("/parents/6464/accounts"))
        .form(&fields(&key, "plain@form.example", "Plain Form School"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/parents/6464/accounts");
    let page = client.get(app.at("/parents/6464/accounts")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Account Plain Form School ("), "{page}");
}

#[tokio::test]
async fn concurrent_creations_never_exceed_the_quota() {
    let app = spawn_app().await;
    let client = app.admin().await;
    // Three places remain; six requests arrive together, each slowed so they overlap.
    app.emulator().set_latency_ms(300);
    let mut keys = Vec::new();
    for _ in 0..6 {
        keys.push(request_key(&app, &client).await);
    }
    let emails: Vec<String> = (0..6).map(|i| format!("race{i}@quota.example")).collect();
    let attempts = keys.iter().zip(&emails).map(|(key, email)| {
        let (app, client) = (&app, &client);
        async move { post(app, client, &fields(key, email, "Racing School")).await.0 }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    app.emulator().set_latency_ms(0);
    let created = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(created, 3, "exactly as many as fit: {statuses:?}");
    assert_eq!(registers(&app), 3, "only those reach Kaltura");
    let mut made = 0;
    for email in &emails {
        made += children_with_email(&app, email).await.len();
    }
    assert_eq!(made, created, "every success is one account, and nothing else was made");
    let page = client.get(app.at("/parents/6464/accounts")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&format!("id=\"quota-used\">{}<", 2 + created)), "the banner counts them");
}

#[tokio::test]
async fn values_a_spreadsheet_would_run_are_refused_and_phone_numbers_are_not() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let key = request_key(&app, &client).await;
    let mut form = fields(&key, "sheet@formula.example", "=HYPERLINK(\"http://evil.example\")");
    form[1] = ("admin_name", "@SUM(A1)");
    form[4] = ("phone", "-2+3+cmd|' /C calc'!A0");
    form[7] = ("reference_id", "+SUM(1)");
    let (status, _, body) = post(&app, &client, &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["name", "admin_name", "phone", "reference_id"] {
        assert!(
            body.contains(&format!("data-error-for=\"{field}\">Must not start with =, +, -, @ or a tab")),
            "{field}: {body}"
        );
    }
    assert_eq!(registers(&app), 0, "no formula reaches Kaltura");
    // An international phone number starts with + and is fine.
    let (status, _, body) = post(&app, &client, &fields(&key, "plus@phone.example", "Plus School")).await;
    assert!(status.is_success() || status.is_redirection(), "{status}: {body}");
}
