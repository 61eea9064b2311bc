//! `/accounts/{id}`: an account's details, its recent activity and its actions, for children, the parent and
//! removed accounts; nothing at all for partners outside the parent's scope.

use reqwest::StatusCode;
use scraper::{Html, Selector};

use crate::support::{TestApp, spawn_app};

async fn details(app: &TestApp, client: &reqwest::Client, id: i64) -> (StatusCode, Html) {
    let res = client.get(app.at(&format!("/accounts/{id}"))).send().await.unwrap();
    (res.status(), Html::parse_document(&res.text().await.unwrap()))
}

fn texts(doc: &Html, selector: &str) -> Vec<String> {
    let sel = Selector::parse(selector).expect("a valid selector");
    doc.select(&sel).map(|e| e.text().collect::<String>().trim().to_owned()).collect()
}

/// The value shown under a label.
fn field(doc: &Html, label: &str) -> String {
    let sel = Selector::parse("dl.details > div").expect("a valid selector");
    doc.select(&sel)
        .find(|d| texts_of(d, "dt") == label)
        .map(|d| texts_of(&d, "dd"))
        .unwrap_or_else(|| panic!("no field {label}"))
}

fn texts_of(e: &scraper::ElementRef, selector: &str) -> String {
    let sel = Selector::parse(selector).expect("a valid selector");
    e.select(&sel).next().map(|e| e.text().collect::<String>().trim().to_owned()).unwrap_or_default()
}

#[tokio::test]
async fn a_childs_details_show_what_kaltura_holds_its_activity_and_its_actions() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let res = client.post(app.at("/accounts/6474/block")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let (status, doc) = details(&app, &client, 6474).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(texts(&doc, "h1"), ["Down Under"]);
    assert_eq!(field(&doc, "Partner ID"), "6474");
    assert_eq!(field(&doc, "Status"), "Blocked");
    assert_eq!(field(&doc, "Administrator"), "Renee Dvir");
    assert_eq!(field(&doc, "Administrator Email"), "renee.dvir@downunder.techpubs.example");
    assert_eq!(field(&doc, "Parent Account"), "6464");
    assert_eq!(doc.select(&Selector::parse(r#"dl.details a[href="/accounts/6464"]"#).unwrap()).count(), 1);
    let actions = texts(&doc, ".account-actions [data-action]");
    assert_eq!(actions, ["Unblock", "Remove"], "a blocked account's actions, as in its row");
    let activity = texts(&doc, ".account-audit tbody tr");
    assert_eq!(activity.len(), 1);
    assert!(activity[0].contains("Account blocked") && activity[0].contains("admin@example.com"), "{activity:?}");

    // The table links each name to these details.
    let table = Html::parse_document(&client.get(app.at("/accounts")).send().await.unwrap().text().await.unwrap());
    let link = Selector::parse(r#"#account-6474 td.name a[href="/accounts/6474"]"#).unwrap();
    assert_eq!(table.select(&link).count(), 1);
}

#[tokio::test]
async fn the_parent_shows_its_details_but_offers_only_its_rich_media_cms() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let (status, doc) = details(&app, &client, 6464).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(field(&doc, "Parent Account"), "This is the parent account");
    assert_eq!(texts(&doc, ".account-actions [data-action]"), ["Rich Media CMS Login"]);
}

#[tokio::test]
async fn a_removed_account_is_read_only() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let (status, doc) = details(&app, &client, 6472).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(field(&doc, "Status"), "Removed");
    assert!(texts(&doc, ".account-actions [data-action]").is_empty());
    assert_eq!(texts(&doc, "#read-only"), ["This account is removed: its details are read only."]);
}

#[tokio::test]
async fn a_partner_outside_the_parents_scope_is_refused_without_any_of_its_data() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let res = client.get(app.at("/accounts/7001")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body = res.text().await.unwrap();
    assert!(body.contains("Account 7001 is not one of your accounts."));
    assert!(
        !body.contains("dl class=\"details\"") && !body.contains("Northwind"),
        "no details of another organisation"
    );
}
