//! Parent-scoped addresses: every page of a parent's accounts and usage lives under `/parents/{partner_id}/…`;
//! today's addresses lead to the same page of the user's last parent; a parent the console does not serve is a 404
//! that names nothing.

use crate::support::spawn_app;
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
