//! Parent-scoped addresses: every page of a parent's accounts and usage lives under `/parents/{partner_id}/…`;
//! today's addresses lead to the same page of the user's last parent; a parent the console does not serve is a 404
//! that names nothing.

use crate::support::{spawn_app, spawn_app_with_parents};
use multi_account::config::kaltura::KalturaSettings;
use reqwest::StatusCode;
use reqwest::header::LOCATION;

fn location(res: &reqwest::Response) -> String {
    res.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

#[tokio::test]
async fn old_addresses_lead_to_the_same_page_of_the_parent_keeping_the_query_and_the_method() {
    let app = spawn_app().await;
    let client = app.admin().await;
    for (old, new) in [
        ("/accounts", "/parents/6464/accounts"),
        ("/accounts?q=shang&sort=name&dir=desc", "/parents/6464/accounts?q=shang&sort=name&dir=desc"),
        ("/accounts/6475", "/parents/6464/accounts/6475"),
        ("/accounts.csv?status=2", "/parents/6464/accounts.csv?status=2"),
        ("/usage", "/parents/6464/usage"),
        ("/usage/6475?preset=last-30-days", "/parents/6464/usage/6475?preset=last-30-days"),
        ("/parents/6464", "/parents/6464/accounts"),
    ] {
        let res = client.get(app.at(old)).send().await.unwrap();
        assert!(res.status().is_redirection(), "{old}: {}", res.status());
        assert_eq!(location(&res), new, "{old}");
    }
    // A form posted to an old address arrives, with its method and body, at the parent's.
    let res = client.post(app.at("/accounts/6475/block")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(location(&res), "/parents/6464/accounts/6475/block");
    // The new address serves the page, whose links stay under the parent.
    let res = client.get(app.at("/parents/6464/accounts")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    assert!(body.contains(r#"href="/parents/6464/accounts/6475""#), "the rows link under the parent");
    assert!(body.contains(r#"href="/parents/6464/usage""#), "the navigation too");
    let usage = client.get(app.at("/parents/6464/usage")).send().await.unwrap().text().await.unwrap();
    assert!(usage.contains(r#"<form method="get" action="/parents/6464/usage" class="period-form">"#), "{usage}");
    assert!(!body.contains(r#"href="/accounts/"#), "no link leaves the parent");
}

#[tokio::test]
async fn a_parent_the_console_does_not_serve_is_a_404_naming_nothing() {
    let app = spawn_app().await;
    let client = app.admin().await;
    for path in [
        "/parents/7001/accounts",
        "/parents/7001/accounts/7002",
        "/parents/7001/accounts.csv",
        "/parents/7001/usage",
        "/parents/7001",
        "/parents/6475/accounts",
    ] {
        let res = client.get(app.at(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        let body = res.text().await.unwrap();
        assert!(!body.contains("Northwind") && !body.contains("Shanghai"), "{path}: {body}");
    }
    let res = client.post(app.at("/parents/7001/accounts/7002/block")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Only the pages of a parent take one: the users are the console's.
    let res = client.get(app.at("/parents/6464/users")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_sign_in_comes_back_to_the_page_of_the_parent_it_was_asked_for() {
    let app = spawn_app().await;
    let client = app.client();
    let res = client.get(app.at("/parents/6464/accounts/6475")).send().await.unwrap();
    assert_eq!(location(&res), "/login?next=%2Fparents%2F6464%2Faccounts%2F6475");
    let res = client
        .post(app.at("/login"))
        .form(&[
            ("email", crate::support::ADMIN_EMAIL),
            ("password", crate::support::ADMIN_PASSWORD),
            ("next", "/parents/6464/accounts/6475"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), "/parents/6464/accounts/6475");
}

/// The partner ids of the Accounts page's rows.
fn row_ids(html: &str) -> Vec<i64> {
    let doc = scraper::Html::parse_document(html);
    let rows = scraper::Selector::parse(r#"tr[id^="account-"]"#).unwrap();
    doc.select(&rows).filter_map(|tr| tr.value().id()?.strip_prefix("account-")?.parse().ok()).collect()
}

async fn page(client: &reqwest::Client, app: &crate::support::TestApp, path: &str) -> (StatusCode, String) {
    let res = client.get(app.at(path)).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

#[tokio::test]
async fn each_parent_shows_only_its_own_children_and_switching_keeps_the_page() {
    let app = spawn_app_with_parents(|_| {}).await;
    let client = app.admin().await;
    let (status, techpubs) = page(&client, &app, "/parents/6464/accounts?status=1,2,3").await;
    assert_eq!(status, StatusCode::OK);
    let mut ids = row_ids(&techpubs);
    ids.sort_unstable();
    assert_eq!(ids, [6464, 6472, 6474, 6475, 6478, 6479]);
    let (_, northwind) = page(&client, &app, "/parents/7001/accounts?status=1,2,3").await;
    let mut ids = row_ids(&northwind);
    ids.sort_unstable();
    assert_eq!(ids, [7001, 7002, 7003, 7004]);
    assert!(northwind.contains(r#"href="/parents/7001/accounts/7002""#), "its links stay under it");

    // The header names the parent and offers the other one, on the same page.
    let header = |html: &str| {
        let doc = scraper::Html::parse_document(html);
        let s = scraper::Selector::parse("details.parent-menu").unwrap();
        doc.select(&s).next().map(|e| e.html()).unwrap_or_default()
    };
    let menu = header(&techpubs);
    assert!(menu.contains("Techpubs — Debbie Techpubs") && menu.contains("6464"), "label and name: {menu}");
    assert!(menu.contains(r#"href="/parents/7001/accounts""#) && menu.contains("Northwind Media"), "{menu}");
    let (_, usage) = page(&client, &app, "/parents/7001/usage").await;
    let menu = header(&usage);
    assert!(menu.contains(r#"href="/parents/6464/usage""#), "Usage stays Usage: {menu}");

    // An address without a parent leads to the last one opened.
    let res = client.get(app.at("/accounts")).send().await.unwrap();
    assert_eq!(location(&res), "/parents/7001/accounts");
}

#[tokio::test]
async fn an_account_of_one_parent_is_not_found_under_the_other() {
    let app = spawn_app_with_parents(|_| {}).await;
    let client = app.admin().await;
    for path in [
        "/parents/6464/accounts/7002",
        "/parents/7001/accounts/6475",
        "/parents/7001/accounts/6475/edit",
        "/parents/7001/usage/6475",
    ] {
        let (status, body) = page(&client, &app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!body.contains("Shanghai") && !body.contains("Northwind Media - Sales"), "{path}: names nothing");
    }
    let res = client.post(app.at("/parents/7001/accounts/6475/block")).send().await.unwrap();
    assert_ne!(res.status(), StatusCode::OK);
    let kaltura = multi_account::config::kaltura::KalturaSettings::default()
        .demo_client(&app.emulator().url, 6464, &app.emulator().admin_secret)
        .unwrap();
    let shanghai = kaltura.get_partner(6475).await.unwrap();
    assert_eq!(shanghai.status, Some(kaltura::PartnerStatus::Active), "nothing was blocked through the wrong parent");
}

#[tokio::test]
async fn one_parents_quota_turn_never_holds_up_add_account_on_the_other() {
    let app = spawn_app_with_parents(|_| {}).await;
    let client = app.admin().await;
    // Another process is checking 6464's quota, and will be for a minute.
    sqlx::query("INSERT INTO locks (name, holder, until) VALUES ('account-creation:6464', 'elsewhere', strftime('%s','now') + 60)")
        .execute(&app.db)
        .await
        .unwrap();
    let key = crate::add_account::request_key_under(&app, &client, 7001).await;
    let form = [
        ("request_key", key.as_str()),
        ("admin_name", "Nia North"),
        ("name", "Northwind Media - Events"),
        ("admin_email", "nia@events.northwind.example"),
        ("phone", "+1-555-0105"),
        ("website", ""),
        ("template_id", "0"),
        ("reference_id", ""),
    ];
    let res =
        client.post(app.at("/parents/7001/accounts")).header("HX-Request", "true").form(&form).send().await.unwrap();
    let body = res.text().await.unwrap();
    assert!(body.contains("Account Northwind Media - Events (") && body.contains("was created."), "{body}");
    let (_, northwind) = page(&client, &app, "/parents/7001/accounts").await;
    assert!(northwind.contains("Northwind Media - Events"));
    let (_, techpubs) = page(&client, &app, "/parents/6464/accounts").await;
    assert!(!techpubs.contains("Northwind Media - Events"), "made under 7001, not 6464");
}

#[tokio::test]
async fn a_parent_kaltura_refuses_is_reported_and_the_others_are_served() {
    let app = spawn_app_with_parents(|parents| parents[1].admin_secret = Some("not-the-secret".into())).await;
    let client = app.admin().await;
    let (status, techpubs) = page(&client, &app, "/parents/6464/accounts").await;
    assert_eq!(status, StatusCode::OK);
    assert!(techpubs.contains("Shanghai"));
    let (_, northwind) = page(&client, &app, "/parents/7001/accounts").await;
    assert!(
        northwind.contains(
            "partner 7001 could not be served: Kaltura refuses its session: check its partner id and admin secret"
        ),
        "{northwind}"
    );
    assert!(!northwind.contains("not-the-secret"), "the secret is never shown");
    let res = app.bare_client().get(app.at("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "ready: one parent is served");
}

#[tokio::test]
async fn demo_mode_serves_both_organisations_of_the_demo() {
    use multi_account::app::{Application, Settings};
    use multi_account::db::{Location, users};
    let dir = tempfile::tempdir().unwrap();
    let location = Location::Sqlite(dir.path().join("demo.db").to_str().unwrap().to_owned());
    let app = Application::build(Settings::new(location, KalturaSettings::default())).await.expect("demo mode starts");
    let url = format!("http://{}", app.addr().unwrap());
    let hash = multi_account::identity::password::hash("a demo password here".into()).await.unwrap();
    let new = users::NewUser {
        email: "demo@example.com",
        first_name: "Demo",
        last_name: "Admin",
        publisher_user_id: None,
        role: users::Role::PublisherAdministrator,
        password_hash: &hash,
    };
    users::add(app.db(), &new, None, multi_account::clock::Clock::system().now()).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::ORIGIN, url.parse().unwrap());
    let client = crate::support::client_with(headers);
    let res = client
        .post(format!("{url}/login"))
        .form(&[("email", "demo@example.com"), ("password", "a demo password here")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = client.get(format!("{url}/parents/7001/accounts")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    assert!(body.contains("Northwind Media - Sales") && !body.contains("Shanghai"), "its own children");
    assert!(body.contains(r#"href="/parents/6464/accounts""#), "the other parent is offered");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// The text of the first element `css` selects in `html`.
fn text_of(html: &str, css: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let s = scraper::Selector::parse(css).unwrap();
    doc.select(&s).next().map(|e| e.text().collect::<String>().trim().to_owned()).unwrap_or_default()
}

#[tokio::test]
async fn the_overview_shows_every_parent_side_by_side_from_one_request_each() {
    let app = spawn_app_with_parents(|_| {}).await;
    let client = app.admin().await;
    // The start page after signing in, with several parents.
    assert_eq!(location(&client.get(app.at("/")).send().await.unwrap()), "/parents");
    app.emulator().reset_stats();
    let (status, overview) = page(&client, &app, "/parents").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.emulator().stats()["requests"], 2, "one multirequest per parent");
    let cell = |id: i64, label: &str| text_of(&overview, &format!("tr#parent-{id} td[data-label='{label}']"));
    assert_eq!(text_of(&overview, "tr#parent-6464 td.name a"), "Techpubs — Debbie Techpubs");
    assert_eq!(text_of(&overview, "tr#parent-7001 td.name a"), "Northwind Media");
    assert_eq!([cell(6464, "Active"), cell(6464, "Blocked"), cell(6464, "Removed")], ["4", "1", "1"]);
    assert_eq!([cell(7001, "Active"), cell(7001, "Blocked"), cell(7001, "Removed")], ["3", "1", "0"]);
    // The same figures as each parent's own pages: the banner's accounts in use, this month's plays.
    let today = time::OffsetDateTime::now_utc().date();
    let month = format!("from={}&to={today}&interval=day", today.replace_day(1).unwrap());
    for id in [6464, 7001] {
        let (_, accounts) = page(&client, &app, &format!("/parents/{id}/accounts")).await;
        let in_use = text_of(&accounts, "#quota-banner strong");
        assert_eq!(cell(id, "In use / quota").split(" / ").next().unwrap(), in_use, "{id}");
        let (_, usage) = page(&client, &app, &format!("/parents/{id}/usage?{month}")).await;
        assert_ne!(cell(id, "Plays"), "—", "{id}: the demo's parents have analytics");
        assert_eq!(cell(id, "Plays"), text_of(&usage, "[data-metric=plays] .figure-value"), "{id}");
        assert_eq!(cell(id, "Bandwidth"), text_of(&usage, "[data-metric=bandwidth] .figure-value"), "{id}");
    }
}

#[tokio::test]
async fn with_one_parent_the_overview_is_its_accounts_page() {
    let app = spawn_app().await;
    let client = app.admin().await;
    assert_eq!(location(&client.get(app.at("/")).send().await.unwrap()), "/parents");
    assert_eq!(location(&client.get(app.at("/parents")).send().await.unwrap()), "/parents/6464/accounts");
    let (_, accounts) = page(&client, &app, "/parents/6464/accounts").await;
    assert!(!accounts.contains("parent-menu"), "with one parent nothing changes on screen");
}

#[tokio::test]
async fn each_parent_has_its_own_selection() {
    let app = spawn_app_with_parents(|_| {}).await;
    let client = app.admin().await;
    let form = |back: &str, ids: &[i64]| {
        let mut f: Vec<(&str, String)> = vec![("back", back.to_owned())];
        for id in ids {
            f.push(("shown", id.to_string()));
            f.push(("id", id.to_string()));
        }
        f
    };
    let res = client
        .post(app.at("/parents/6464/accounts/selection"))
        .form(&form("/parents/6464/accounts", &[6474, 6475]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, techpubs) = page(&client, &app, "/parents/6464/accounts").await;
    assert_eq!(text_of(&techpubs, "#selection-count"), "2");
    let (_, northwind) = page(&client, &app, "/parents/7001/accounts").await;
    assert_eq!(text_of(&northwind, "#selection-count"), "", "nothing is selected under 7001");
    let res = client
        .post(app.at("/parents/7001/accounts/selection"))
        .form(&form("/parents/7001/accounts", &[7002]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, northwind) = page(&client, &app, "/parents/7001/accounts").await;
    assert_eq!(text_of(&northwind, "#selection-count"), "1");
    let (_, techpubs) = page(&client, &app, "/parents/6464/accounts").await;
    assert_eq!(text_of(&techpubs, "#selection-count"), "2", "each parent keeps its own");
}

/// Limits `email` to `form` through the Users page, as `admin`; the flash it answers with.
async fn set_parents(
    app: &crate::support::TestApp,
    admin: &reqwest::Client,
    email: &str,
    form: &[(&str, &str)],
) -> String {
    let id = app.user_id(email).await;
    let res = admin.post(app.at(&format!("/users/{id}/parents"))).form(form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "back to the Users page");
    let (_, users) = page(admin, app, "/users").await;
    text_of(&users, "#flash")
}

#[tokio::test]
async fn a_user_limited_to_one_parent_never_reaches_another() {
    let app = spawn_app_with_parents(|_| {}).await;
    app.create_user("eu@example.com", crate::support::Role::PublisherAdministrator, "eu password here").await;
    let admin = app.admin().await;
    let (_, users) = page(&admin, &app, "/users").await;
    assert!(
        users.contains(r#"<input type="checkbox" name="parent" value="7001" checked>"#),
        "everyone sees all at first"
    );
    let said = set_parents(&app, &admin, "eu@example.com", &[("parent", "7001")]).await;
    assert!(said.contains("now sees parents 7001"), "{said}");
    let logged: String = sqlx::query_scalar("SELECT details FROM audit_log WHERE action = 'user.parents'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(logged, "parents 7001");

    let eu = app.signed_in("eu@example.com", "eu password here").await;
    assert_eq!(location(&eu.get(app.at("/parents")).send().await.unwrap()), "/parents/7001/accounts", "their only one");
    assert_eq!(location(&eu.get(app.at("/accounts/7002")).send().await.unwrap()), "/parents/7001/accounts/7002");
    for path in [
        "/parents/6464",
        "/parents/6464/accounts",
        "/parents/6464/accounts/6475",
        "/parents/6464/accounts.csv",
        "/parents/6464/usage",
        "/parents/6464/usage.csv",
        "/parents/6464/accounts/import",
        "/parents/6464/accounts/bulk/1",
    ] {
        let (status, body) = page(&eu, &app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!body.contains("Debbie Techpubs") && !body.contains("Shanghai"), "{path} names nothing");
    }
    let res = eu.post(app.at("/parents/6464/accounts/6475/block")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let (status, northwind) = page(&eu, &app, "/parents/7001/accounts").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!northwind.contains("parent-menu"), "no other parent to offer");

    // Nobody limits themselves, and one active Publisher Administrator keeps every parent.
    let admin_id = app.user_id(crate::support::ADMIN_EMAIL).await;
    let res = eu.post(app.at(&format!("/users/{admin_id}/parents"))).form(&[("parent", "6464")]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, users) = page(&eu, &app, "/users").await;
    assert!(text_of(&users, "#flash").contains("At least one active Publisher Administrator must see every parent"));
    let said = set_parents(&app, &admin, crate::support::ADMIN_EMAIL, &[("parent", "6464")]).await;
    assert!(said.contains("You cannot change which parents you see yourself"), "{said}");
    // Every parent again: their old session ended with the change.
    let said = set_parents(&app, &admin, "eu@example.com", &[("all", "1")]).await;
    assert!(said.contains("now sees every parent"), "{said}");
    assert_eq!(location(&eu.get(app.at("/parents")).send().await.unwrap()), "/login?next=%2Fparents&ended=1");
}

#[tokio::test]
async fn the_audit_log_records_and_filters_by_parent() {
    let app = spawn_app_with_parents(|_| {}).await;
    let client = app.admin().await;
    for path in ["/parents/7001/accounts/7002/block", "/parents/6464/accounts/6474/block"] {
        let res = client.post(app.at(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
    }
    let (_, all) = page(&client, &app, "/audit?action=account.block").await;
    assert!(all.contains(r#"<a href="/parents/7001/accounts/7002">Northwind Media - Sales</a>"#), "{all}");
    assert!(all.contains(r#"<a href="/parents/6464/accounts/6474">Down Under</a>"#));
    let (_, northwind) = page(&client, &app, "/audit?action=account.block&parent=7001").await;
    assert!(northwind.contains("Northwind Media - Sales") && !northwind.contains("Down Under"), "{northwind}");
    assert!(northwind.contains(r#"<option value="7001" selected>Northwind Media (7001)</option>"#));
    let csv = client.get(app.at("/audit.csv?action=account.block")).send().await.unwrap().text().await.unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().ends_with(r#""Details","Parent ID""#), "{csv}");
    let parents: Vec<&str> = lines.map(|l| l.rsplit(',').next().unwrap()).collect();
    assert_eq!(parents, [r#""6464""#, r#""7001""#], "newest first: {csv}");
    let (_, bad) = page(&client, &app, "/audit?parent=x").await;
    assert!(bad.contains("is not a partner id; entries of every parent are shown."));
}

#[tokio::test]
async fn every_visible_parents_accounts_export_as_one_csv_with_their_parent() {
    let app = spawn_app_with_parents(|_| {}).await;
    let client = app.admin().await;
    let (_, overview) = page(&client, &app, "/parents").await;
    assert!(overview.contains(r#"href="/parents/accounts.csv?status=1,2,3""#), "offered on the overview");
    let csv = |client: reqwest::Client, query: &'static str| {
        let url = app.at(&format!("/parents/accounts.csv?{query}"));
        async move {
            let res = client.get(url).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            res.text().await.unwrap()
        }
    };
    let all = csv(client.clone(), "status=1,2,3").await;
    let mut lines = all.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with(r#""Account Name","Partner ID""#) && header.ends_with(r#""Parent Account","Parent ID""#)
    );
    let rows: Vec<(String, String)> = lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[1].trim_matches('"').to_owned(), cells[cells.len() - 1].trim_matches('"').to_owned())
        })
        .collect();
    let of = |parent: &str| rows.iter().filter(|(_, p)| p == parent).map(|(id, _)| id.as_str()).collect::<Vec<_>>();
    assert_eq!(of("6464"), ["6464", "6472", "6474", "6475", "6478", "6479"]);
    assert_eq!(of("7001"), ["7001", "7002", "7003", "7004"]);
    assert_eq!(rows.len(), 10);
    // The same search and filter for every parent.
    let blocked = csv(client.clone(), "status=2").await;
    assert_eq!(blocked.lines().count(), 3, "6479 and 7004 under the header: {blocked}");

    // A user limited to 7001 exports 7001's accounts only.
    app.create_user("na@example.com", crate::support::Role::PublisherAdministrator, "na password here").await;
    set_parents(&app, &client, "na@example.com", &[("parent", "7001")]).await;
    let na = app.signed_in("na@example.com", "na password here").await;
    let theirs = csv(na, "status=1,2,3").await;
    assert_eq!(theirs.lines().count(), 5, "{theirs}");
    assert!(!theirs.contains("6475"));
}
