//! The console's Kaltura client over real HTTP: every call against the emulator, Kaltura's errors, the admin
//! session's renewal, the one-request Accounts page, and transport failures against stand-in servers.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use kaltura::ks;
use kaltura::{
    Action, ClientConfig, Clock, FEATURE_MULTI_ACCOUNT_ANALYTICS, KalturaClient, KalturaError, MultiRequest,
    NewAccount, Pager, Partner, PartnerFilter, PartnerOrder, PartnerOrderField, PartnerStatus, ReportQuery, Secret,
};
use kaltura_emulator::{self as emulator, EmulatorConfig, RunningEmulator, Seed};
use multi_account::accounts::{self, Quota};
use multi_account::config::kaltura::KalturaSettings;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

async fn demo() -> RunningEmulator {
    emulator::start(EmulatorConfig::for_tests()).await.expect("the emulator starts")
}

fn config_for(emu: &RunningEmulator) -> ClientConfig {
    ClientConfig::new(&emu.url, emu.parent_id, Secret::new(emu.admin_secret.clone())).expect("a valid config")
}

fn client_for(emu: &RunningEmulator) -> KalturaClient {
    KalturaClient::new(config_for(emu)).expect("a client")
}

fn requests(emu: &RunningEmulator) -> u64 {
    emu.stats()["requests"].as_u64().unwrap_or(0)
}

fn calls(emu: &RunningEmulator, name: &str) -> u64 {
    emu.stats()["calls"][name].as_u64().unwrap_or(0)
}

fn ids(partners: &[Partner]) -> Vec<i64> {
    partners.iter().map(|p| p.id).collect()
}

/// A clock the test can move; the emulator keeps real time.
fn offset_clock(offset: &Arc<AtomicI64>) -> Clock {
    let offset = offset.clone();
    Clock::from_fn(move || emulator::unix_now() + offset.load(Ordering::SeqCst))
}

/// An emulator seeded from a TOML file written to a temp dir (kept alive by the caller).
pub async fn seeded(dir: &Path, toml: &str) -> RunningEmulator {
    let path = dir.join("seed.toml");
    std::fs::write(&path, toml).expect("the seed file is written");
    emulator::start(EmulatorConfig { seed: Seed::File(path), ..EmulatorConfig::for_tests() })
        .await
        .expect("the emulator starts")
}

/// A publisher (not a VAR/GROUP) with one child, and a VAR without FEATURE_VAR_CONSOLE_LOGIN.
pub const PUBLISHER_SEED: &str = r#"
parent = 9001
[[partners]]
id = 9001
name = "Solo Publisher"
group_type = 1
admin_email = "solo@publisher.example"
admin_secret = "solo-publisher-admin-secret-0001"
[[partners]]
id = 9002
name = "Solo Child"
parent_id = 9001
"#;

const FEATURELESS_VAR_SEED: &str = r#"
parent = 8001
[[partners]]
id = 8001
name = "Featureless VAR"
group_type = 2
publishers_quota = 3
admin_secret = "featureless-var-admin-secret-01"
[[partners]]
id = 8002
name = "Its Child"
parent_id = 8001
"#;

// ---------------------------------------------------------------------------------------------------------------
// Calls against the emulator
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn partner_info_reads_the_parent_with_its_quotas_and_hidden_secrets() {
    let emu = demo().await;
    let parent = client_for(&emu).partner_info().await.expect("partner.getInfo");
    assert_eq!(parent.id, 6464);
    assert_eq!(parent.name.as_deref(), Some("Debbie Techpubs"));
    assert_eq!(parent.status, Some(PartnerStatus::Active));
    assert_eq!(parent.publishers_quota, Some(5));
    assert_eq!(parent.admin_login_users_quota, Some(3));
    assert_eq!(parent.admin_email.as_deref(), Some("debbie@techpubs.example"));
    assert_eq!(parent.admin_secret.as_ref().map(Secret::expose), Some(emu.admin_secret.as_str()));
    assert!(!format!("{parent:?}").contains(&emu.admin_secret), "the admin secret stays out of Debug");
}

#[tokio::test]
async fn ping_answers_without_a_session() {
    let emu = demo().await;
    client_for(&emu).ping().await.expect("system.ping");
    assert_eq!(calls(&emu, "system.ping"), 1);
}

#[tokio::test]
async fn the_demos_second_organisation_is_a_parent_of_its_own() {
    let emu = demo().await;
    let secret = emu.admin_secret_of(7001).await.unwrap().expect("7001 is a parent");
    assert_ne!(secret, emu.admin_secret);
    assert_eq!(emu.admin_secret_of(7002).await.unwrap(), None, "a child is nobody's parent here");
    let northwind =
        KalturaClient::new(ClientConfig::new(&emu.url, 7001, Secret::new(secret)).unwrap()).expect("a client");
    let by_id = PartnerFilter { order_by: Some(PartnerOrder::asc(PartnerOrderField::Id)), ..PartnerFilter::in_use() };
    let all = northwind.list_partners(&by_id, &Pager::new(50, 1)).await.expect("partner.list");
    assert_eq!(ids(&all.objects), [7001, 7002, 7003, 7004], "its own children, none of 6464's");
    let quota = accounts::quota(&northwind).await.expect("a multi-account parent");
    assert_eq!(quota.publishers_quota, 10);
    let e = northwind.get_partner(6475).await.expect_err("6475 is 6464's");
    assert!(e.is_invalid_partner(), "{e}");
}

#[tokio::test]
async fn synthetic_parents_each_have_their_own_children_and_the_given_secret() {
    let emu = emulator::start(EmulatorConfig {
        seed: Seed::Empty,
        children: 5,
        parents: 3,
        admin_secret: Some("one-secret-for-every-parent".into()),
        ..EmulatorConfig::for_tests()
    })
    .await
    .unwrap();
    let others = emu.other_parents().await.unwrap();
    assert_eq!(others.len(), 2, "{others:?}");
    let mut seen = vec![6464];
    for (id, secret) in others {
        assert_eq!(secret, "one-secret-for-every-parent");
        let client = KalturaClient::new(ClientConfig::new(&emu.url, id, Secret::new(secret)).unwrap()).unwrap();
        let all = PartnerFilter {
            status_in: Some(vec![PartnerStatus::Active, PartnerStatus::Blocked, PartnerStatus::Removed]),
            ..PartnerFilter::default()
        };
        let list = client.list_partners(&all, &Pager::new(50, 1)).await.unwrap();
        assert_eq!(list.total_count, 6, "{id}: itself and its 5 children");
        assert!(list.objects.iter().all(|p| p.id == id || p.partner_parent_id == Some(id)), "{id}");
        assert!(list.objects.iter().all(|p| !seen.contains(&p.id)), "{id}: nobody else's");
        seen.extend(list.objects.iter().map(|p| p.id));
        assert_eq!(accounts::quota(&client).await.unwrap().publishers_quota, 105);
    }
}

#[tokio::test]
async fn listing_partners_filters_sorts_and_pages_like_kaltura() {
    let emu = demo().await;
    let client = client_for(&emu);
    let by_id = PartnerFilter { order_by: Some(PartnerOrder::asc(PartnerOrderField::Id)), ..PartnerFilter::in_use() };

    let all = client.list_partners(&by_id, &Pager::new(50, 1)).await.expect("partner.list");
    assert_eq!(ids(&all.objects), [6464, 6474, 6475, 6478, 6479], "the parent is in its own scope; 7001 is not");
    assert_eq!(all.total_count, 5);

    let second_page = client.list_partners(&by_id, &Pager::new(2, 2)).await.expect("page 2");
    assert_eq!(ids(&second_page.objects), [6475, 6478]);
    assert_eq!(second_page.total_count, 5, "totalCount is counted before paging");

    let removed = PartnerFilter { status_equal: Some(PartnerStatus::Removed), ..PartnerFilter::default() };
    let removed = client.list_partners(&removed, &Pager::default()).await.expect("removed accounts");
    assert_eq!(ids(&removed.objects), [6472]);
    assert_eq!(removed.objects[0].status.map(PartnerStatus::label), Some("Removed"));

    let by_ids = PartnerFilter {
        id_in: Some("6475,6474,7001".into()),
        order_by: Some(PartnerOrder::desc(PartnerOrderField::Id)),
        ..Default::default()
    };
    assert_eq!(ids(&client.list_partners(&by_ids, &Pager::default()).await.unwrap().objects), [6475, 6474]);

    let text = PartnerFilter {
        partner_name_description_website_admin_name_admin_email_like: Some("renee".into()),
        ..Default::default()
    };
    let found = client.list_partners(&text, &Pager::default()).await.unwrap();
    assert_eq!(found.objects[0].name.as_deref(), Some("Down Under"));
    assert_eq!(found.objects[0].admin_user_id.as_deref(), Some("renee.dvir@downunder.techpubs.example"));
}

#[tokio::test]
async fn getting_a_partner_outside_the_organisation_is_a_kaltura_error() {
    let emu = demo().await;
    let client = client_for(&emu);
    assert_eq!(client.get_partner(6475).await.expect("a child").name.as_deref(), Some("Shanghai"));

    let e = client.get_partner(7001).await.expect_err("7001 is not ours");
    assert_eq!(e.code(), Some("INVALID_PARTNER_ID"));
    assert_eq!(e.arg("PID"), Some("7001"));
    assert_eq!(e.to_string(), "Kaltura answered: Invalid partner id \"7001\"");
}

#[tokio::test]
async fn blocking_unblocking_and_removing_a_child_changes_its_status() {
    let emu = demo().await;
    let client = client_for(&emu);
    for status in [PartnerStatus::Blocked, PartnerStatus::Active, PartnerStatus::Removed] {
        client.update_status(6475, status).await.expect("varConsole.updateStatus");
        assert_eq!(client.get_partner(6475).await.unwrap().status, Some(status));
    }
    assert_eq!(calls(&emu, "varconsole_varconsole.updateStatus"), 3);
}

#[tokio::test]
async fn changing_the_status_of_an_unknown_partner_names_it() {
    let emu = demo().await;
    let e = client_for(&emu).update_status(7002, PartnerStatus::Blocked).await.expect_err("not a child");
    assert_eq!(e.code(), Some("UNKNOWN_PARTNER_ID"));
    assert_eq!(e.to_string(), "Kaltura answered: Unknown partner_id [7002]");
}

#[tokio::test]
async fn var_console_calls_without_the_feature_are_forbidden() {
    let dir = tempfile::tempdir().unwrap();
    let emu = seeded(dir.path(), FEATURELESS_VAR_SEED).await;
    let e = client_for(&emu).update_status(8002, PartnerStatus::Blocked).await.expect_err("no varConsole feature");
    assert_eq!(e.code(), Some("FEATURE_FORBIDDEN"));
    assert_eq!(e.arg("FEATURE"), Some("varConsole"));
    assert_eq!(e.to_string(), "Kaltura answered: The usage of feature [varConsole] is forbidden");
}

fn new_account(email: &str) -> NewAccount {
    NewAccount {
        admin_name: "Bob Admin".into(),
        name: "Child Co".into(),
        admin_email: email.into(),
        phone: "+1-555-0199".into(),
        website: Some("https://child.example".into()),
        reference_id: Some("crm-42".into()),
    }
}

#[tokio::test]
async fn registering_creates_a_child_described_as_the_console_does() {
    let emu = demo().await;
    let client = client_for(&emu);
    let created = client.register(&new_account("bob@child.example"), Some(6478)).await.expect("partner.register");
    assert!(created.id > 7002, "a new id: {}", created.id);
    assert_eq!(created.partner_parent_id, Some(6464));
    assert_eq!(created.description.as_deref(), Some("Multi-publishers console"));
    assert_eq!(created.partner_type, Some(109));
    assert_eq!(created.template_partner_id, Some(6478));
    assert_eq!(created.admin_email.as_deref(), Some("bob@child.example"));
    assert_eq!(created.admin_user_id.as_deref(), Some("bob@child.example"));
    assert_eq!(created.reference_id.as_deref(), Some("crm-42"));
    assert_eq!(created.website.as_deref(), Some("https://child.example"));
    assert_eq!(created.status, Some(PartnerStatus::Active));
    assert!(created.cms_password.as_ref().is_some_and(|p| !p.is_empty()), "register returns the CMS password");

    let fetched = client.get_partner(created.id).await.expect("the new child is in scope");
    assert_eq!(fetched.name.as_deref(), Some("Child Co"));
    assert_eq!(calls(&emu, "partner.register"), 1);
}

#[tokio::test]
async fn a_duplicate_admin_email_is_recognised() {
    let emu = demo().await;
    let e = client_for(&emu)
        .register(&new_account("muh.wih@shanghai.techpubs.example"), None)
        .await
        .expect_err("the email is taken");
    assert_eq!(e.code(), Some("PARTNER_REGISTRATION_ERROR"));
    assert!(e.is_duplicate_email(), "{e}");
    assert!(e.to_string().contains("User with email [muh.wih@shanghai.techpubs.example] already exists in system."));
}

#[tokio::test]
async fn a_template_that_is_not_a_child_is_refused() {
    let emu = demo().await;
    let e = client_for(&emu).register(&new_account("new@child.example"), Some(7001)).await.expect_err("not ours");
    assert_eq!(e.code(), Some("PARTNER_REGISTRATION_ERROR"));
    assert!(!e.is_duplicate_email());
    // kaltura/server: the template check (getParentPartnerInfo) runs inside register's try, so its NON_GROUP message,
    // naming the parent, comes back wrapped.
    assert!(
        e.to_string().contains("Partner id [6464] is not a VAR/GROUP, but is attempting to create child partner"),
        "{e}"
    );
}

#[tokio::test]
async fn a_publisher_cannot_register_children() {
    let dir = tempfile::tempdir().unwrap();
    let emu = seeded(dir.path(), PUBLISHER_SEED).await;
    assert_eq!(emu.parent_id, 9001);
    let e = client_for(&emu).register(&new_account("new@child.example"), None).await.expect_err("not a VAR");
    assert_eq!(e.code(), Some("PARTNER_REGISTRATION_ERROR"), "wrapped, as everything inside register's try");
    assert!(e.to_string().contains("Partner id [9001] is not a VAR/GROUP"), "{e}");
}

#[tokio::test]
async fn the_accounts_page_is_one_http_request() {
    let emu = demo().await;
    let client = client_for(&emu);
    let filter =
        PartnerFilter { order_by: Some(PartnerOrder::desc(PartnerOrderField::CreatedAt)), ..PartnerFilter::in_use() };
    emu.reset_stats();
    let page = accounts::page(&client, &filter, Pager::new(2, 1)).await.expect("the Accounts page");
    assert_eq!(requests(&emu), 1, "one HTTP request: {}", emu.stats());
    assert_eq!(calls(&emu, "partner.list"), 1, "the page");
    assert_eq!(calls(&emu, "partner.count"), 2, "the templates, the accounts in use");
    assert_eq!(calls(&emu, "partner.getInfo"), 1);

    assert_eq!(ids(&page.page.objects), [6479, 6478], "newest first, two per page");
    assert_eq!(page.page.total_count, 5);
    assert_eq!(page.templates_in_use, 2, "the two templates, counted");
    assert_eq!(page.used_total, 5);
    assert_eq!(page.parent_id, 6464);
    assert_eq!(page.quota, Quota { used: 2, available: 3, publishers_quota: 5 });
}

#[tokio::test]
async fn the_quota_follows_registrations_and_removals() {
    let emu = demo().await;
    let client = client_for(&emu);
    let all = PartnerFilter::default();
    client.register(&new_account("one@child.example"), None).await.expect("a third account");
    assert_eq!(accounts::page(&client, &all, Pager::default()).await.unwrap().quota.used, 3);

    client.update_status(6475, PartnerStatus::Removed).await.unwrap();
    client.update_status(6479, PartnerStatus::Removed).await.unwrap();
    let page = accounts::page(&client, &all, Pager::default()).await.unwrap();
    assert_eq!(page.templates_in_use, 1, "a removed template no longer counts");
    assert_eq!(page.quota, Quota { used: 2, available: 3, publishers_quota: 5 });
}

#[tokio::test]
async fn multirequest_items_fail_alone_and_refer_to_earlier_results() {
    let emu = demo().await;
    let mut mr = MultiRequest::new();
    let child = mr.add(Action::PARTNER_GET, json!({ "id": 6475 }));
    let parent = mr.add(Action::PARTNER_GET, json!({ "id": child.field("partnerParentId") }));
    let stranger = mr.add(Action::PARTNER_GET, json!({ "id": 7001 }));
    let count = mr.add(Action::PARTNER_COUNT, json!({ "filter": { "statusIn": "1,2" } }));
    emu.reset_stats();
    let r = client_for(&emu).multirequest(&mr).await.expect("a multirequest");
    assert_eq!(requests(&emu), 1);
    assert_eq!(r.len(), 4);
    assert_eq!(r.get::<Partner>(child).unwrap().name.as_deref(), Some("Shanghai"));
    assert_eq!(r.get::<Partner>(parent).unwrap().name.as_deref(), Some("Debbie Techpubs"));
    assert_eq!(r.get::<Partner>(stranger).unwrap_err().code(), Some("INVALID_PARTNER_ID"));
    assert_eq!(r.get::<i64>(count).unwrap(), 5);
    let wrong_shape = r.get::<Vec<String>>(child).unwrap_err();
    assert!(matches!(&wrong_shape, KalturaError::BadResponse(m) if m.contains("result 1")), "{wrong_shape}");
}

#[tokio::test]
async fn rich_media_cms_login_opens_the_child_as_its_administrator() {
    let emu = demo().await;
    let client = client_for(&emu);
    let child_secret = client.get_partner(6475).await.unwrap().admin_secret.expect("admin sessions see secrets");

    emu.reset_stats();
    let session = client.impersonate_child(6475).await.expect("an impersonated KS");
    assert_eq!(requests(&emu), 1, "partner.get and session.impersonate travel together");
    assert_eq!((session.partner_id, session.user_id.as_str()), (6475, "muh.wih@shanghai.techpubs.example"));

    let ks = ks::verify(session.expose(), child_secret.expose()).expect("signed with the child's admin secret");
    assert_eq!(ks.partner_id, 6475);
    assert_eq!(ks.master_partner_id, Some(6464));
    assert_eq!(ks.user_id, "muh.wih@shanghai.techpubs.example");
    assert_eq!(ks.session_type, 2);
    assert_eq!(ks.privileges, "disableentitlement,enablechangeaccount:6475");
    let lifetime = ks.valid_until - emulator::unix_now();
    assert!((110..=120).contains(&lifetime), "a short session by default: {lifetime} s");

    let url = client.kmc_login_url(&session);
    assert_eq!(url.expose(), format!("{}/index.php/kmcng/actions/persist-login-by-ks/{}", emu.url, session.expose()));
    for shown in [format!("{session:?}"), session.to_string(), format!("{url:?}"), url.to_string()] {
        assert!(!shown.contains(session.expose()), "the KS leaked: {shown}");
    }
    let page = reqwest::get(url.expose()).await.unwrap().text().await.unwrap();
    assert!(page.contains("<dd id=\"partner-name\">Shanghai</dd>"), "{page}");
    assert!(page.contains("<dd id=\"master-partner-id\">6464</dd>"), "{page}");
}

#[tokio::test]
async fn impersonation_takes_its_lifetime_from_the_settings_and_stays_in_the_organisation() {
    let emu = demo().await;
    let settings = KalturaSettings { impersonation_secs: 30, ..KalturaSettings::default() };
    let client = settings.demo_client(&emu.url, emu.parent_id, &emu.admin_secret).expect("a client");
    let session = client.impersonate(6474, "renee.dvir@downunder.techpubs.example").await.expect("a KS");
    let (_, pid) = ks::peek(session.expose()).unwrap();
    assert_eq!(pid, 6474);
    let lifetime = session.valid_until - emulator::unix_now();
    assert!((25..=30).contains(&lifetime), "{lifetime}");

    let e = client.impersonate(7001, "nora@northwind.example").await.expect_err("not a child");
    assert_eq!(e.code(), Some("START_SESSION_ERROR"));
    assert_eq!(e.to_string(), "Kaltura answered: Error while starting session for partner [6464]");
    let e = client.impersonate_child(7001).await.expect_err("not a child");
    assert_eq!(e.code(), Some("INVALID_PARTNER_ID"), "the partner.get in front of it says why");
}

#[tokio::test]
async fn reports_split_into_header_and_rows_and_totals_add_up() {
    let emu = demo().await;
    let client = client_for(&emu);
    let now = emulator::unix_now();
    let query = ReportQuery {
        report_type: 42,
        from_date: now - 30 * 86_400,
        to_date: now,
        object_ids: Vec::new(),
        interval: None,
    };
    let table = client.report_table(&query, &Pager::new(25, 1), Some("+partner_id")).await.expect("report.getTable");
    assert_eq!(table.header[..4], ["status", "partner_name", "partner_id", "created_at"]);
    let plays = table.column("total_plays").expect("a plays column");
    let ids: Vec<&str> = table.rows.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(ids, ["6464", "6472", "6474", "6475", "6478", "6479"], "the parent and its children, by id");
    assert_eq!(table.total_count, 6);

    let narrowed = ReportQuery { object_ids: vec![6475, 7001], ..query.clone() };
    let one = client.report_table(&narrowed, &Pager::new(25, 1), None).await.unwrap();
    assert_eq!(one.rows.len(), 1, "another organisation's id is dropped");

    let total = client.report_total(&query).await.expect("report.getTotal");
    let sum: f64 = table.rows.iter().map(|r| r[plays].parse::<f64>().unwrap()).sum();
    assert_eq!(total.get("total_plays").unwrap().parse::<f64>().unwrap(), sum, "the total adds up the accounts");
}

#[tokio::test]
async fn the_analytics_permission_is_read_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let featureless = seeded(dir.path(), FEATURELESS_VAR_SEED).await;
    assert!(!client_for(&featureless).has_permission(FEATURE_MULTI_ACCOUNT_ANALYTICS).await.unwrap());
    let featured = demo().await;
    assert!(client_for(&featured).has_permission(FEATURE_MULTI_ACCOUNT_ANALYTICS).await.unwrap());
    assert!(!client_for(&featured).has_permission("FEATURE_NOBODY_HAS").await.unwrap());
}

#[tokio::test]
async fn settings_with_an_api_v3_url_drive_a_working_client() {
    let emu = demo().await;
    let settings = KalturaSettings {
        service_url: Some(format!("{}/api_v3/", emu.url)),
        partner_id: Some(emu.parent_id.to_string()),
        admin_secret: Some(Secret::new(emu.admin_secret.clone())),
        ..KalturaSettings::default()
    };
    let client = settings.client().expect("a client");
    assert_eq!(client.config().service_url, emu.url);
    assert_eq!(settings.kmc_url().unwrap().as_str(), format!("{}/", emu.url));
    assert_eq!(client.partner_info().await.unwrap().id, 6464);
}

// ---------------------------------------------------------------------------------------------------------------
// The admin session
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_wrong_secret_is_refused_without_showing_the_ks() {
    let emu = demo().await;
    let client = KalturaClient::new(ClientConfig::new(&emu.url, 6464, Secret::new("not-the-secret")).unwrap()).unwrap();
    emu.reset_stats();
    let e = client.partner_info().await.expect_err("a bad signature");
    assert!(e.is_invalid_ks());
    assert_eq!(e.to_string(), "Kaltura answered: Invalid KS \"[KS hidden]\", Error \"-1,INVALID_STR\"");
    assert!(!format!("{e:?}").contains("djJ8"), "{e:?}");
    assert_eq!(calls(&emu, "partner.getInfo"), 2, "renewed and sent once more, then given up");
}

#[tokio::test]
async fn a_session_kaltura_refuses_is_renewed_and_the_call_sent_exactly_once_more() {
    let emu = demo().await;
    // The client's clock runs 3700 s late: every KS it mints has expired at the server 100 s ago.
    let offset = Arc::new(AtomicI64::new(-3700));
    let client = KalturaClient::new(ClientConfig { clock: offset_clock(&offset), ..config_for(&emu) }).unwrap();
    emu.reset_stats();
    let e = client.partner_info().await.expect_err("an expired KS");
    assert!(e.is_invalid_ks(), "{e}");
    assert!(!e.to_string().contains("djJ8") && !format!("{e:?}").contains("djJ8"), "{e:?}");
    assert_eq!(requests(&emu), 2, "one renewal, no loop");

    emu.reset_stats();
    let e = accounts::page(&client, &PartnerFilter::default(), Pager::default()).await.expect_err("still expired");
    assert!(e.is_invalid_ks(), "{e}");
    assert_eq!(requests(&emu), 2, "a multirequest is renewed once too");

    offset.store(0, Ordering::SeqCst);
    emu.reset_stats();
    client.partner_info().await.expect("a fresh KS works");
    assert_eq!(requests(&emu), 1);
}

#[tokio::test]
async fn a_session_that_expired_at_kaltura_is_renewed_and_the_call_succeeds() {
    let emu = demo().await;
    // The KS the client mints lives 2 s at the server while the client believes it has an hour; then the server's
    // clock passes it.
    let offset = Arc::new(AtomicI64::new(-3598));
    let client = KalturaClient::new(ClientConfig { clock: offset_clock(&offset), ..config_for(&emu) }).unwrap();
    client.partner_info().await.expect("the KS is still valid");
    // Three seconds pass for both.
    emu.advance_clock(3);
    offset.fetch_add(3, Ordering::SeqCst);
    emu.reset_stats();
    let page = accounts::page(&client, &PartnerFilter::default(), Pager::default()).await.expect("renewed");
    assert_eq!(page.parent_id, 6464);
    assert_eq!(requests(&emu), 2, "refused once, then accepted with a new KS");
    assert_eq!(calls(&emu, "partner.getInfo"), 2);
}

#[tokio::test]
async fn the_admin_session_is_made_locally_reused_and_renewed_before_it_ends() {
    let fake =
        FakeKaltura::start(Duration::ZERO, |_, _| (200, r#"{"objectType":"KalturaPartner","id":6464}"#.into())).await;
    let offset = Arc::new(AtomicI64::new(0));
    let cfg = ClientConfig {
        admin_user_id: "console@techpubs.example".into(),
        clock: offset_clock(&offset),
        ..ClientConfig::new(&fake.url, 6464, Secret::new("fake-secret")).unwrap()
    };
    let client = KalturaClient::new(cfg).unwrap();
    client.partner_info().await.unwrap();
    client.get_partner(6475).await.unwrap();
    offset.store(3400, Ordering::SeqCst); // 200 s left, under the 300 s margin
    client.partner_info().await.unwrap();

    let seen = fake.seen();
    assert_eq!(seen.len(), 3);
    let first = &seen[0];
    assert_eq!(first.path, "/api_v3/service/partner/action/getInfo");
    assert_eq!(first.user_agent, format!("multi-account/{}", env!("CARGO_PKG_VERSION")));
    assert!(first.content_type.starts_with("application/json"), "{}", first.content_type);
    assert_eq!(first.body["format"], 1);
    assert_eq!(seen[1].path, "/api_v3/service/partner/action/get");
    assert_eq!(seen[1].body["id"], 6475);

    let ks_of = |i: usize| seen[i].body["ks"].as_str().expect("a ks in the body").to_string();
    assert_eq!(ks_of(0), ks_of(1), "the KS is reused");
    assert_ne!(ks_of(1), ks_of(2), "and replaced when it nears its end");
    let first_ks = ks::verify(&ks_of(0), "fake-secret").expect("minted with the admin secret");
    assert_eq!(first_ks.partner_id, 6464);
    assert_eq!(first_ks.session_type, 2);
    assert_eq!(first_ks.user_id, "console@techpubs.example");
    assert_eq!(first_ks.privileges, "disableentitlement");
    let lifetime = first_ks.valid_until - emulator::unix_now();
    assert!((3590..=3600).contains(&lifetime), "an hour: {lifetime}");
    let renewed = ks::verify(&ks_of(2), "fake-secret").unwrap();
    assert!(renewed.valid_until >= first_ks.valid_until + 3400, "minted at the later time");
}

#[tokio::test]
async fn a_refused_session_is_replaced_by_a_new_one_for_the_retry() {
    let leaked = "djJ8NjQ2NHzVf2o3XJv0yAq9Yl1lR0vX9mK3c2Jm8a1s4c6q0Wd9pZ7hT5uV3bN1xE";
    let invalid = json!({
        "code": "INVALID_KS",
        "message": format!("Invalid KS \"{leaked}\", Error \"-1,INVALID_STR\""),
        "objectType": "KalturaAPIException",
        "args": {"KSID": leaked, "ERR_CODE": "-1", "ERR_DESC": "INVALID_STR"},
    })
    .to_string();
    let fake = FakeKaltura::start(Duration::ZERO, move |n, _| {
        if n == 1 { (200, invalid.clone()) } else { (200, r#"{"objectType":"KalturaPartner","id":6464}"#.into()) }
    })
    .await;
    let client = KalturaClient::new(ClientConfig::new(&fake.url, 6464, Secret::new("s")).unwrap()).unwrap();
    assert_eq!(client.partner_info().await.expect("the retry succeeds").id, 6464);
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    assert_ne!(seen[0].body["ks"], seen[1].body["ks"], "a new KS for the second try");
}

// ---------------------------------------------------------------------------------------------------------------
// Transport failures
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_server_that_is_down_is_a_connect_error() {
    let url = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let client = KalturaClient::new(ClientConfig::new(&url, 6464, Secret::new("s")).unwrap()).unwrap();
    let e = client.partner_info().await.expect_err("nothing listens");
    assert!(matches!(e, KalturaError::Connect { .. }), "{e:?}");
    let shown = e.to_string();
    assert!(shown.starts_with(&format!("Kaltura could not be reached at {url}: ")), "{shown}");
    assert!(shown.to_lowercase().contains("refused"), "{shown}");
}

/// Notifies when the client logs an event whose message holds `needle`.
struct Notice {
    needle: &'static str,
    seen: Arc<tokio::sync::Notify>,
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Notice {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        if message.0.contains(self.needle) {
            self.seen.notify_one();
        }
    }
}

#[tokio::test]
async fn a_refused_connection_is_tried_once_more() {
    use tracing::instrument::WithSubscriber as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let client =
        KalturaClient::new(ClientConfig::new(&format!("http://{addr}"), 6464, Secret::new("s")).unwrap()).unwrap();
    // Nothing listens for the first attempt; once the client says it will try again, a server is started during its
    // pause before the one retry.
    let retrying = Arc::new(tokio::sync::Notify::new());
    let notice = Notice { needle: "trying once more", seen: retrying.clone() };
    let call =
        tokio::spawn(async move { client.ping().await }.with_subscriber(tracing_subscriber::registry().with(notice)));
    retrying.notified().await;
    let fake = FakeKaltura::start_at(addr, Duration::ZERO, |_, _| (200, "true".into())).await;
    call.await.unwrap().expect("the second attempt connects");
    assert_eq!(fake.seen().len(), 1);
    assert_eq!(fake.seen()[0].path, "/api_v3/service/system/action/ping");
}

#[tokio::test]
async fn a_registration_is_not_sent_again_when_the_connection_is_refused() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let client =
        KalturaClient::new(ClientConfig::new(&format!("http://{addr}"), 6464, Secret::new("s")).unwrap()).unwrap();
    let server = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        FakeKaltura::start_at(addr, Duration::ZERO, |_, _| (200, r#"{"id":1}"#.into())).await
    });
    let e = client.register(&new_account("x@child.example"), None).await.expect_err("refused");
    assert!(matches!(e, KalturaError::Connect { .. }), "{e:?}");
    // A retry would have been made before the error was returned.
    let fake = server.await.unwrap();
    assert!(fake.seen().is_empty(), "register was not retried");
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout_and_not_retried() {
    let emu = demo().await;
    let client = KalturaClient::new(ClientConfig { timeout: Duration::from_secs(1), ..config_for(&emu) }).unwrap();
    emu.set_latency_ms(2500);
    let started = Instant::now();
    let e = client.partner_info().await.expect_err("too slow");
    assert_eq!(e, KalturaError::Timeout { secs: 1 });
    assert_eq!(e.to_string(), "Kaltura took too long to answer (over 1 s)");
    assert!(started.elapsed() < Duration::from_millis(1900), "gave up after the timeout: {:?}", started.elapsed());
    emu.set_latency_ms(0);
    assert_eq!(client.partner_info().await.unwrap().id, 6464, "the next call works");
}

#[tokio::test]
async fn a_slow_registration_is_sent_once_and_reported_as_a_timeout() {
    let fake = FakeKaltura::start(Duration::from_millis(1500), |_, _| {
        (200, r#"{"objectType":"KalturaPartner","id":1}"#.into())
    })
    .await;
    let cfg = ClientConfig {
        register_timeout: Duration::from_secs(1),
        ..ClientConfig::new(&fake.url, 6464, Secret::new("s")).unwrap()
    };
    let client = KalturaClient::new(cfg).unwrap();
    let e = client.register(&new_account("slow@child.example"), None).await.expect_err("too slow");
    assert_eq!(e.to_string(), "Kaltura took too long to answer (over 1 s)");
    // Requests are recorded as they arrive, and a retry would have been sent before the error was returned.
    let seen = fake.seen();
    assert_eq!(seen.len(), 1, "register is never sent twice");
    assert_eq!(seen[0].path, "/api_v3/service/partner/action/register");
    assert_eq!(seen[0].body["partner"]["description"], "Multi-publishers console");
    assert_eq!(seen[0].body["partner"]["type"], 109);
    assert!(seen[0].body.get("templatePartnerId").is_none());
}

#[tokio::test]
async fn a_registration_at_a_slow_emulator_creates_at_most_one_account() {
    let emu = demo().await;
    let cfg = ClientConfig { register_timeout: Duration::from_secs(1), ..config_for(&emu) };
    let client = KalturaClient::new(cfg).unwrap();
    emu.set_latency_ms(1500);
    let e = client.register(&new_account("slow@child.example"), None).await.expect_err("too slow");
    assert!(matches!(e, KalturaError::Timeout { secs: 1 }), "{e:?}");
    // The emulator finishes the call its caller gave up on, as Kaltura does.
    emu.settled().await;
    emu.set_latency_ms(0);
    assert_eq!(calls(&emu, "partner.register"), 1, "{}", emu.stats());
    let filter = PartnerFilter {
        partner_name_description_website_admin_name_admin_email_like: Some("slow@child.example".into()),
        ..Default::default()
    };
    let found = client.list_partners(&filter, &Pager::default()).await.unwrap();
    assert_eq!(found.total_count, 1, "one account, created after the caller gave up: {found:?}");
}

#[tokio::test]
async fn a_garbage_body_is_a_bad_response() {
    let fake = FakeKaltura::start(Duration::ZERO, |_, _| (200, "<html><body>Gateway login</body></html>".into())).await;
    let client = KalturaClient::new(ClientConfig::new(&fake.url, 6464, Secret::new("s")).unwrap()).unwrap();
    let e = client.partner_info().await.expect_err("not JSON");
    assert!(matches!(e, KalturaError::BadResponse(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        "Kaltura sent an answer the console cannot read: the answer to partner.getInfo is not JSON (it starts with \
         \"<html><body>Gateway login</body></html>\")"
    );
    assert_eq!(fake.seen().len(), 1, "a readable failure is not retried");
}

#[tokio::test]
async fn an_answer_past_the_size_limit_is_abandoned_with_a_message_naming_the_limit() {
    let huge = format!("{{\"objectType\":\"KalturaPartner\",\"description\":\"{}\"}}", "d".repeat(3 * 1024 * 1024));
    let fake = FakeKaltura::start(Duration::ZERO, move |_, _| (200, huge.clone())).await;
    let cfg =
        ClientConfig { max_answer_bytes: 1024 * 1024, ..ClientConfig::new(&fake.url, 6464, Secret::new("s")).unwrap() };
    let e = KalturaClient::new(cfg).unwrap().partner_info().await.expect_err("too large");
    assert_eq!(
        e.to_string(),
        "Kaltura sent an answer larger than the console reads (1 MB); if that is expected, raise the limit"
    );
    assert_eq!(KalturaSettings::default().max_answer_mb, 32, "the console's default");
}

#[tokio::test]
async fn plain_text_is_quoted_as_it_is_and_only_a_ks_is_hidden() {
    let fake = FakeKaltura::start(Duration::ZERO, |_, _| (200, "x".repeat(80))).await;
    let client = KalturaClient::new(ClientConfig::new(&fake.url, 6464, Secret::new("s")).unwrap()).unwrap();
    let e = client.partner_info().await.expect_err("not JSON");
    assert!(e.to_string().contains(&format!("it starts with \"{}\"", "x".repeat(60))), "{e}");
}

#[tokio::test]
async fn an_error_status_is_a_bad_response() {
    let fake = FakeKaltura::start(Duration::ZERO, |_, _| (502, "bad gateway".into())).await;
    let client = KalturaClient::new(ClientConfig::new(&fake.url, 6464, Secret::new("s")).unwrap()).unwrap();
    let e = client.ping().await.expect_err("HTTP 502");
    let shown = e.to_string();
    assert!(shown.starts_with("Kaltura sent an answer the console cannot read: HTTP status 502"), "{shown}");
}

#[tokio::test]
async fn answers_of_the_wrong_shape_are_bad_responses_that_quote_nothing() {
    let fake = FakeKaltura::start(Duration::ZERO, |_, body| {
        if body.get("1").is_some() {
            (200, r#"{"objectType":"KalturaPartner"}"#.into())
        } else {
            (200, r#""a-secret-looking-string""#.into())
        }
    })
    .await;
    let client = KalturaClient::new(ClientConfig::new(&fake.url, 6464, Secret::new("s")).unwrap()).unwrap();
    let e = client.partner_info().await.expect_err("a string is not a partner");
    assert_eq!(
        e.to_string(),
        "Kaltura sent an answer the console cannot read: partner.getInfo answered a string, which does not read as \
         expected"
    );
    let e = accounts::page(&client, &PartnerFilter::default(), Pager::default()).await.expect_err("not a list");
    assert!(e.to_string().contains("a multirequest answered an object instead of a list"), "{e}");
}

#[tokio::test]
async fn one_odd_partner_does_not_spoil_the_page() {
    let fake = FakeKaltura::start(Duration::ZERO, |_, _| {
        (
            200,
            r#"{"objectType":"KalturaPartnerListResponse","totalCount":3,"objects":[
                {"id":1,"name":"Fine","status":1,"createdAt":1558444680},
                {"id":"2","name":["odd"],"status":"blocked","createdAt":"soon","publishersQuota":null},
                17
            ]}"#
            .into(),
        )
    })
    .await;
    let client = KalturaClient::new(ClientConfig::new(&fake.url, 6464, Secret::new("s")).unwrap()).unwrap();
    let list = client.list_partners(&PartnerFilter::default(), &Pager::default()).await.expect("a page");
    assert_eq!(ids(&list.objects), [1, 2]);
    assert_eq!(list.total_count, 3);
    assert_eq!(list.objects[1].name, None);
    assert_eq!(list.objects[1].status, None);
    assert_eq!(list.objects[1].created_at, None);
    assert_eq!(list.objects[0].created_at, Some(1_558_444_680));
}

// ---------------------------------------------------------------------------------------------------------------
// A stand-in Kaltura that records what it is sent and answers what the test says
// ---------------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Seen {
    path: String,
    user_agent: String,
    content_type: String,
    body: Value,
}

type Answer = Arc<dyn Fn(usize, &Value) -> (u16, String) + Send + Sync>;

#[derive(Clone)]
struct FakeState {
    seen: Arc<Mutex<Vec<Seen>>>,
    answer: Answer,
    delay: Duration,
}

struct FakeKaltura {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeKaltura {
    /// Answers request N (1-based, counted on arrival) with `answer(N, body)` after `delay`.
    async fn start(
        delay: Duration,
        answer: impl Fn(usize, &Value) -> (u16, String) + Send + Sync + 'static,
    ) -> FakeKaltura {
        FakeKaltura::start_at(SocketAddr::from(([127, 0, 0, 1], 0)), delay, answer).await
    }

    async fn start_at(
        addr: SocketAddr,
        delay: Duration,
        answer: impl Fn(usize, &Value) -> (u16, String) + Send + Sync + 'static,
    ) -> FakeKaltura {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = FakeState { seen: seen.clone(), answer: Arc::new(answer), delay };
        let app = Router::new().fallback(fake_handler).with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeKaltura { url, seen, task }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FakeKaltura {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn fake_handler(State(state): State<FakeState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let n = {
        let mut seen = state.seen.lock().unwrap();
        seen.push(Seen {
            path: uri.path().to_string(),
            user_agent: header(header::USER_AGENT),
            content_type: header(header::CONTENT_TYPE),
            body: body.clone(),
        });
        seen.len()
    };
    tokio::time::sleep(state.delay).await;
    let (status, text) = (state.answer)(n, &body);
    (StatusCode::from_u16(status).unwrap(), [(header::CONTENT_TYPE, "application/json")], text).into_response()
}
