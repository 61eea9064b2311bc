//! `/accounts/{id}`: an account's details, its recent activity and its actions, for children, the parent and
//! removed accounts; nothing at all for partners outside the parent's scope.

use kaltura::{KalturaClient, PartnerChanges, PartnerField};
use multi_account::config::kaltura::KalturaSettings;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use scraper::{Html, Selector};

use crate::support::{TestApp, spawn_app};

/// Kaltura, asked directly as the parent's administrator.
fn kaltura(app: &TestApp) -> KalturaClient {
    let emu = app.emulator();
    KalturaSettings::default().demo_client(&emu.url, emu.parent_id, &emu.admin_secret).expect("a Kaltura client")
}

/// The edit form's fields as a browser would submit them (inputs, text areas and checked radios), in order.
fn form_fields(doc: &Html) -> Vec<(String, String)> {
    let sel = Selector::parse("form input[name], form textarea[name]").unwrap();
    doc.select(&sel)
        .filter(|e| e.value().attr("type") != Some("radio") || e.value().attr("checked").is_some())
        .map(|e| {
            let name = e.value().attr("name").unwrap().to_owned();
            let value = match e.value().name() {
                "textarea" => e.text().collect(),
                _ => e.value().attr("value").unwrap_or_default().to_owned(),
            };
            (name, value)
        })
        .collect()
}

fn set(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    match fields.iter_mut().find(|(n, _)| n == name) {
        Some(f) => f.1 = value.to_owned(),
        None => fields.push((name.to_owned(), value.to_owned())),
    }
}

async fn open_form(app: &TestApp, client: &reqwest::Client, id: i64) -> Vec<(String, String)> {
    let res = client.get(app.at(&format!("/parents/6464/accounts/{id}/edit"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    form_fields(&Html::parse_document(&res.text().await.unwrap()))
}

async fn save(
    app: &TestApp,
    client: &reqwest::Client,
    id: i64,
    fields: &[(String, String)],
    htmx: bool,
) -> (StatusCode, Html) {
    let mut req = client.post(app.at(&format!("/parents/6464/accounts/{id}/edit"))).form(fields);
    if htmx {
        req = req.header("HX-Request", "true").header("HX-Target", "account-info");
    }
    let res = req.send().await.unwrap();
    (res.status(), Html::parse_document(&res.text().await.unwrap()))
}

async fn details(app: &TestApp, client: &reqwest::Client, id: i64) -> (StatusCode, Html) {
    let res = client.get(app.at(&format!("/parents/6464/accounts/{id}"))).send().await.unwrap();
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
    let res = client.post(app.at("/parents/6464/accounts/6474/block")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let (status, doc) = details(&app, &client, 6474).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(texts(&doc, "h1"), ["Down Under"]);
    assert_eq!(field(&doc, "Partner ID"), "6474");
    assert_eq!(field(&doc, "Status"), "Blocked");
    assert_eq!(field(&doc, "Administrator"), "Renee Dvir");
    assert_eq!(field(&doc, "Administrator Email"), "renee.dvir@downunder.techpubs.example");
    assert_eq!(field(&doc, "Parent Account"), "6464");
    assert_eq!(doc.select(&Selector::parse(r#"dl.details a[href="/parents/6464/accounts/6464"]"#).unwrap()).count(), 1);
    let actions = texts(&doc, ".account-actions [data-action]");
    assert_eq!(actions, ["Unblock", "Remove"], "a blocked account's actions, as in its row");
    let activity = texts(&doc, ".account-audit tbody tr");
    assert_eq!(activity.len(), 1);
    assert!(activity[0].contains("Account blocked") && activity[0].contains("admin@example.com"), "{activity:?}");

    // The table links each name to these details.
    let table =
        Html::parse_document(&client.get(app.at("/parents/6464/accounts")).send().await.unwrap().text().await.unwrap());
    let link = Selector::parse(r#"#account-6474 td.name a[href="/parents/6464/accounts/6474"]"#).unwrap();
    assert_eq!(table.select(&link).count(), 1);
}

#[tokio::test]
async fn the_parent_shows_its_details_and_how_to_open_its_rich_media_cms_with_ones_own_login() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let (status, doc) = details(&app, &client, 6464).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(field(&doc, "Parent Account"), "This is the parent account");
    assert!(texts(&doc, ".account-actions [data-action]").is_empty(), "no Rich Media CMS Login for the parent");
    assert!(texts(&doc, "#read-only")[0].contains("signing in there with your own Kaltura login"));
    let link = Selector::parse("#parent-kmc").unwrap();
    let link = doc.select(&link).next().expect("a link to the Rich Media CMS");
    assert!(link.value().attr("href").is_some_and(|h| h.starts_with("http")), "the sign-in page, no session");
    assert!(!doc.html().contains("/parents/6464/accounts/6464/kmc-login"));
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
    let res = client.get(app.at("/parents/6464/accounts/7001")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body = res.text().await.unwrap();
    assert!(body.contains("Account 7001 is not one of your accounts."));
    assert!(
        !body.contains("dl class=\"details\"") && !body.contains("Northwind"),
        "no details of another organisation"
    );
}

#[tokio::test]
async fn an_edit_is_saved_through_an_impersonated_session_and_reaches_partner_get_with_an_audit_diff() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let mut fields = open_form(&app, &client, 6475).await;
    assert!(
        fields.contains(&("name".into(), "Shanghai".into()))
            && fields.contains(&("was_name".into(), "Shanghai".into()))
    );
    set(&mut fields, "name", "Shanghai Campus");
    set(&mut fields, "description", "<b>Bold</b> plans");
    set(&mut fields, "country", "CN");
    set(&mut fields, "website", "");

    let res = client.post(app.at("/parents/6464/accounts/6475/edit")).form(&fields).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "without JavaScript: back to the details");
    assert_eq!(res.headers()[LOCATION], "/parents/6464/accounts/6475");
    let (_, doc) = details(&app, &client, 6475).await;
    let flash = texts(&doc, ".flash");
    assert_eq!(
        flash,
        ["Saved: Account Name, Website URL, Description, Country. Kaltura removed HTML tags from Description."]
    );
    assert_eq!(field(&doc, "Description"), "Bold plans");
    assert_eq!(field(&doc, "Website URL"), "N/A");

    let p = kaltura(&app).get_partner(6475).await.unwrap();
    assert_eq!(p.name.as_deref(), Some("Shanghai Campus"));
    assert_eq!(p.description.as_deref(), Some("Bold plans"), "Kaltura stripped the tags");
    assert_eq!(p.country.as_deref(), Some("CN"));
    assert_eq!(p.website, None, "cleared");
    assert_eq!(p.admin_email.as_deref(), Some("muh.wih@shanghai.techpubs.example"), "untouched");

    let (action, details): (String, String) =
        sqlx::query_as("SELECT action, details FROM audit_log WHERE action = 'account.edit' AND target = '6475'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(action, "account.edit");
    assert_eq!(
        details,
        r#"Account Name: "Shanghai" → "Shanghai Campus"; Website URL: "www.kaltura.com" → ""; Description: "" → "Bold plans"; Country: "" → "CN""#
    );
}

#[tokio::test]
async fn under_htmx_the_card_is_saved_in_place_and_an_unchanged_form_changes_nothing() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let mut fields = open_form(&app, &client, 6474).await;
    let (status, doc) = save(&app, &client, 6474, &fields, true).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(texts(&doc, "#account-info .flash"), ["Nothing was changed."]);

    set(&mut fields, "reference_id", "DU-1");
    let (status, doc) = save(&app, &client, 6474, &fields, true).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(texts(&doc, "#account-info .flash"), ["Saved: Reference ID."]);
    assert_eq!(field(&doc, "Reference ID"), "DU-1", "the card as it is now");
    assert_eq!(texts(&doc, "h1#account-title[hx-swap-oob]"), ["Down Under"], "the title is refreshed too");
}

#[tokio::test]
async fn a_change_made_upstream_meanwhile_is_shown_beside_the_users_and_never_overwritten_silently() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let kaltura = kaltura(&app);
    let mut fields = open_form(&app, &client, 6475).await;

    // Someone else renames the account and changes its phone while the form is open.
    let upstream = PartnerChanges {
        changes: vec![(PartnerField::Name, "Shanghai (theirs)".into()), (PartnerField::Phone, "+86 555".into())],
    };
    kaltura.update_child(6475, &upstream).await.unwrap();

    set(&mut fields, "name", "Shanghai (mine)");
    set(&mut fields, "reference_id", "SH-9");
    let (status, doc) = save(&app, &client, 6475, &fields, true).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(texts(&doc, "#edit-conflict")[0].contains("Nothing was saved yet"));
    let conflict = texts(&doc, r#"[data-conflict-for="name"]"#);
    assert_eq!(conflict.len(), 1, "only the field both changed");
    assert!(conflict[0].contains("Shanghai (mine)") && conflict[0].contains("Shanghai (theirs)"), "{conflict:?}");
    assert!(texts(&doc, r#"[data-conflict-for="phone"]"#).is_empty(), "the user left the phone alone");
    let p = kaltura.get_partner(6475).await.unwrap();
    assert_eq!((p.name.as_deref(), p.reference_id.as_deref()), (Some("Shanghai (theirs)"), None), "nothing saved");

    assert_eq!(texts(&doc, "span#account-name[hx-swap-oob]"), ["Shanghai (theirs)"], "the heading says the name now");

    // Saving with no choice sends nothing and says what is missing.
    let (status, unchosen) = save(&app, &client, 6475, &form_fields(&doc), true).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(texts(&unchosen, "#edit-error"), ["Choose which value to keep for Account Name, then save again."]);
    assert_eq!(texts(&unchosen, r#"[data-conflict-for="name"]"#).len(), 1, "the choice is offered again");
    let p = kaltura.get_partner(6475).await.unwrap();
    assert_eq!(p.name.as_deref(), Some("Shanghai (theirs)"), "nothing saved");

    // The user keeps their name: it is saved, and the phone changed upstream stays.
    let mut again = form_fields(&doc);
    set(&mut again, "keep_name", "mine");
    let (status, _) = save(&app, &client, 6475, &again, true).await;
    assert_eq!(status, StatusCode::OK);
    let p = kaltura.get_partner(6475).await.unwrap();
    assert_eq!(p.name.as_deref(), Some("Shanghai (mine)"));
    assert_eq!(p.reference_id.as_deref(), Some("SH-9"));
    assert_eq!(p.phone.as_deref(), Some("+86 555"), "the change made upstream to another field stays");

    // Choosing theirs keeps Kaltura's value.
    let mut fields = open_form(&app, &client, 6475).await;
    kaltura
        .update_child(6475, &PartnerChanges { changes: vec![(PartnerField::Name, "Shanghai (later)".into())] })
        .await
        .unwrap();
    set(&mut fields, "name", "Shanghai (mine again)");
    let (status, doc) = save(&app, &client, 6475, &fields, false).await;
    assert_eq!(status, StatusCode::CONFLICT, "also without JavaScript");
    let mut again = form_fields(&doc);
    set(&mut again, "keep_name", "theirs");
    let res = client.post(app.at("/parents/6464/accounts/6475/edit")).form(&again).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(kaltura.get_partner(6475).await.unwrap().name.as_deref(), Some("Shanghai (later)"));
}

#[tokio::test]
async fn the_edit_form_gives_the_add_account_forms_messages_and_saves_nothing_invalid() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let mut fields = open_form(&app, &client, 6475).await;
    set(&mut fields, "name", "  ");
    set(&mut fields, "admin_email", "not-an-email");
    set(&mut fields, "country", "China");
    set(&mut fields, "phone", &"9".repeat(65));
    let (status, doc) = save(&app, &client, 6475, &fields, true).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let error = |name: &str| texts(&doc, &format!(r#"[data-error-for="{name}"]"#));
    assert_eq!(error("name"), ["Value is required and can't be empty"]);
    assert_eq!(error("admin_email"), ["Invalid email format"]);
    assert_eq!(error("country"), ["Must be at most 2 characters"]);
    assert_eq!(error("phone"), ["Must be at most 64 characters"]);
    let sel = Selector::parse(r#"input[name="admin_email"]"#).unwrap();
    assert_eq!(doc.select(&sel).next().unwrap().value().attr("value"), Some("not-an-email"), "what was typed stays");
    assert_eq!(kaltura(&app).get_partner(6475).await.unwrap().name.as_deref(), Some("Shanghai"));
}

#[tokio::test]
async fn the_parent_blocked_children_and_other_organisations_cannot_be_edited() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let (_, doc) = details(&app, &client, 6464).await;
    assert!(texts(&doc, r#"[data-action="edit"]"#).is_empty());
    assert!(texts(&doc, "#edit-refusal")[0].contains("The console edits child accounts"));
    let res = client.get(app.at("/parents/6464/accounts/6464/edit")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("change the parent account&#39;s own details"));

    assert_eq!(
        client.post(app.at("/parents/6464/accounts/6474/block")).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    let res = client.post(app.at("/parents/6464/accounts/6474/edit")).form(&[("name", "X")]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Editing is not available for an account that is blocked: unblock it to edit its details.")
    );

    let res = client.post(app.at("/parents/6464/accounts/7002/edit")).form(&[("name", "Stolen")]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(!res.text().await.unwrap().contains("Northwind"));
    let (status, _) = details(&app, &client, 7002).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_childs_active_administrators_are_listed_with_the_owner_first_and_marked() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let (_, doc) = details(&app, &client, 6475).await;
    let rows = texts(&doc, "#account-admins tbody td.name");
    assert_eq!(rows, ["Muh Wih Account owner", "Chen Wei", "Li Na"], "owner first, then by name; no plain users");
    let li = texts(&doc, r#"#account-admins tr[data-user-id="li.na@shanghai.techpubs.example"] td"#);
    assert_eq!(li[1..4], ["li.na@shanghai.techpubs.example", "Publisher Administrator", "11/14/2023 22:13:20"]);
    let muh = texts(&doc, r#"#account-admins tr[data-user-id="muh.wih@shanghai.techpubs.example"] td"#);
    assert_eq!(muh[3], "Never");
    assert!(texts(&doc, "#owner-differs").is_empty(), "the owner is the Administrator: nothing to explain");
    // The Administrator field edited: the owner keeps their name, and the page says why the two differ.
    let renamed = PartnerChanges { changes: vec![(PartnerField::AdminName, "Shanghai Office".into())] };
    kaltura(&app).update_child(6475, &renamed).await.unwrap();
    let (_, doc) = details(&app, &client, 6475).await;
    let why = texts(&doc, "#owner-differs");
    assert_eq!(why.len(), 1);
    assert!(
        why[0].starts_with("The account owner, Muh Wih, is the user who signs in")
            && why[0].contains("(Shanghai Office)"),
        "{why:?}"
    );

    let (_, doc) = details(&app, &client, 6474).await;
    let rows = texts(&doc, "#account-admins tbody td.name");
    assert_eq!(rows, ["Renee Dvir Account owner", "Jack Byrne"], "a blocked administrator is not listed");

    // A removed account: Kaltura lists nobody, and says why.
    let (_, doc) = details(&app, &client, 6472).await;
    assert_eq!(texts(&doc, "#admins-unavailable"), ["Kaltura does not list the users of an account that is removed."]);
}

#[tokio::test]
async fn rich_media_cms_login_as_a_chosen_administrator_lands_as_that_user_and_is_audited() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let (_, doc) = details(&app, &client, 6475).await;
    let sel = Selector::parse(
        r#"tr[data-user-id="li.na@shanghai.techpubs.example"] form[action="/parents/6464/accounts/6475/kmc-login"][target="_blank"] input[name="user"]"#,
    )
    .unwrap();
    assert_eq!(doc.select(&sel).count(), 1, "each administrator has a login opening a new tab");

    let res = client
        .post(app.at("/parents/6464/accounts/6475/kmc-login"))
        .form(&[("user", "li.na@shanghai.techpubs.example")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()[LOCATION].to_str().unwrap().to_owned();
    let kmc = reqwest::get(&location).await.unwrap().text().await.unwrap();
    let kmc = Html::parse_document(&kmc);
    assert_eq!(texts(&kmc, "#user-id"), ["li.na@shanghai.techpubs.example"]);
    assert_eq!(texts(&kmc, "#partner-id"), ["6475"]);

    for (user, why) in [
        ("viewer@shanghai.techpubs.example", "viewer@shanghai.techpubs.example is not an active administrator"),
        ("nobody@shanghai.techpubs.example", "nobody@shanghai.techpubs.example is not an active administrator"),
    ] {
        let res =
            client.post(app.at("/parents/6464/accounts/6475/kmc-login")).form(&[("user", user)]).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{user}");
        assert!(res.text().await.unwrap().contains(why), "{user}");
    }
    let entries: Vec<(String, String)> = sqlx::query_as(
        "SELECT result, details FROM audit_log WHERE action = 'account.kmc_login' AND target = '6475' ORDER BY id",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(entries[0], ("ok".into(), "as li.na@shanghai.techpubs.example".into()));
    assert_eq!(entries.len(), 3);
    assert!(entries[1].1.starts_with("as viewer@shanghai.techpubs.example: "), "{entries:?}");
}

#[tokio::test]
async fn when_kaltura_cannot_be_reached_the_details_page_names_the_account() {
    let mut app = spawn_app().await;
    let client = app.admin().await;
    app.stop_emulator().await;
    let res = client.get(app.at("/parents/6464/accounts/6475")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let body = res.text().await.unwrap();
    assert!(body.contains("load the account."), "{body}");
    assert!(!body.contains("load accounts"), "{body}");
}
