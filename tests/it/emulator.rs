//! The emulator over real HTTP: requests as curl sends them (seed `003_…`), filter semantics, the stand-in
//! KMC, the control endpoint, persistence, and malformed input.

use kaltura::ks::{self, KsParams};
use kaltura_emulator::{self as emulator, EmulatorConfig, RunningEmulator, Seed};
use serde_json::Value;

const SECRET: &str = "emulator-test-secret-0123456789";

async fn demo() -> RunningEmulator {
    start(EmulatorConfig::for_tests()).await
}

async fn start(cfg: EmulatorConfig) -> RunningEmulator {
    emulator::start(EmulatorConfig { admin_secret: Some(SECRET.into()), ..cfg }).await.expect("the emulator starts")
}

/// POSTs form fields the way `curl -d` does and returns the raw body.
async fn post_form(emu: &RunningEmulator, path: &str, fields: &[(&str, &str)]) -> String {
    let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    reqwest::Client::new()
        .post(format!("{}{path}", emu.url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("the emulator answers")
        .text()
        .await
        .expect("a text body")
}

/// A `format=1` call with the parent's admin KS; the JSON result.
async fn call(emu: &RunningEmulator, service: &str, action: &str, fields: &[(&str, &str)]) -> Value {
    let ks = admin_ks(emu.parent_id, SECRET, 3600);
    let mut all = vec![("ks", ks.as_str()), ("format", "1")];
    all.extend_from_slice(fields);
    let body = post_form(emu, &format!("/api_v3/service/{service}/action/{action}"), &all).await;
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn admin_ks(partner_id: i64, secret: &str, lifetime: i64) -> String {
    let now = emulator::unix_now();
    ks::generate_v2_random(
        secret,
        &KsParams {
            partner_id,
            user_id: "admin",
            session_type: 2,
            valid_until: now + lifetime,
            privileges: "disableentitlement",
            master_partner_id: None,
        },
    )
}

fn ids(list: &Value) -> Vec<i64> {
    list["objects"].as_array().expect("objects").iter().map(|p| p["id"].as_i64().expect("id")).collect()
}

#[tokio::test]
async fn the_seed_guides_curl_register_example_creates_a_child() {
    let emu = demo().await;
    let ks = admin_ks(emu.parent_id, SECRET, 600);
    let body = post_form(
        &emu,
        "/api_v3/service/partner/action/register",
        &[
            ("ks", &ks),
            ("format", "1"),
            ("partner[objectType]", "KalturaPartner"),
            ("partner[name]", "Child Account - Division A"),
            ("partner[adminName]", "Admin User"),
            ("partner[adminEmail]", "admin@division-a.example.com"),
            ("partner[description]", "Division A sub-account"),
            ("partner[country]", "US"),
        ],
    )
    .await;
    let child: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(child["objectType"], "KalturaPartner");
    assert_eq!(child["name"], "Child Account - Division A");
    assert_eq!(child["status"], 1);
    assert_eq!(child["partnerParentId"], 6464);
    assert_eq!(child["adminUserId"], "admin@division-a.example.com");
    for secret in ["secret", "adminSecret", "cmsPassword"] {
        assert!(child[secret].as_str().is_some_and(|s| !s.is_empty()), "{secret} missing: {body}");
    }
    assert!(child.get("partnerGroupType").is_none(), "partnerGroupType is never returned");

    // The same email again: Kaltura's exact wrapping.
    let again = call(
        &emu,
        "partner",
        "register",
        &[
            ("partner[name]", "Another"),
            ("partner[adminName]", "Admin User"),
            ("partner[adminEmail]", "ADMIN@division-a.example.com"),
            ("partner[description]", "x"),
        ],
    )
    .await;
    assert_eq!(again["code"], "PARTNER_REGISTRATION_ERROR");
    assert_eq!(
        again["message"],
        "Error while registering partner with message \"User with email [ADMIN@division-a.example.com] already exists in system.\""
    );
}

#[tokio::test]
async fn the_seed_guides_curl_list_get_and_impersonate_examples_work() {
    let emu = demo().await;
    let list = call(
        &emu,
        "partner",
        "list",
        &[
            ("filter[objectType]", "KalturaPartnerFilter"),
            ("filter[statusIn]", "1,2"),
            ("pager[pageSize]", "50"),
            ("pager[pageIndex]", "1"),
        ],
    )
    .await;
    assert_eq!(list["objectType"], "KalturaPartnerListResponse");
    assert_eq!(list["totalCount"], 5);
    let mut got = ids(&list);
    got.sort();
    assert_eq!(got, vec![6464, 6474, 6475, 6478, 6479]);

    let child = call(&emu, "partner", "get", &[("id", "6475")]).await;
    assert_eq!(child["name"], "Shanghai");
    assert_eq!(child["adminName"], "Muh Wih");

    let ks = post_form(
        &emu,
        "/api_v3/service/session/action/impersonate",
        &[
            ("format", "1"),
            ("secret", SECRET),
            ("impersonatedPartnerId", "6475"),
            ("userId", "admin"),
            ("type", "2"),
            ("partnerId", "6464"),
            ("expiry", "1800"),
        ],
    )
    .await;
    let ks: String = serde_json::from_str(&ks).unwrap();
    let (_, pid) = ks::peek(&ks).unwrap();
    assert_eq!(pid, 6475);
    let info = post_form(&emu, "/api_v3/service/partner/action/getInfo", &[("ks", &ks), ("format", "1")]).await;
    let info: Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["id"], 6475, "an impersonated KS acts as the child");
}

#[tokio::test]
async fn the_seed_guides_curl_report_examples_answer_deterministically() {
    let emu = demo().await;
    let fields = [
        ("reportType", "60"),
        ("reportInputFilter[objectType]", "KalturaEndUserReportInputFilter"),
        ("reportInputFilter[fromDate]", "1700000000"),
        ("reportInputFilter[toDate]", "1702592000"),
        ("objectIds", "6475,6474"),
        ("pager[pageSize]", "100"),
        ("pager[pageIndex]", "1"),
        ("responseOptions[objectType]", "KalturaReportResponseOptions"),
        ("responseOptions[delimiter]", "|"),
    ];
    let table = call(&emu, "report", "getTable", &fields).await;
    assert_eq!(table["objectType"], "KalturaReportTable");
    assert_eq!(table["header"], "partner_id|count_plays|sum_time_viewed|count_loads");
    assert_eq!(table["totalCount"], 2);
    let rows: Vec<&str> = table["data"].as_str().unwrap().split(';').collect();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.split('|').count() == 4));
    assert_eq!(table, call(&emu, "report", "getTable", &fields).await, "same question, same answer");

    let total = call(
        &emu,
        "report",
        "getTotal",
        &[
            ("reportType", "201"),
            ("reportInputFilter[fromDate]", "1700000000"),
            ("reportInputFilter[toDate]", "1702592000"),
            ("responseOptions[delimiter]", "|"),
        ],
    )
    .await;
    assert_eq!(total["objectType"], "KalturaReportTotal");
    assert_eq!(total["header"], "bandwidth_consumption|average_storage|combined_bandwidth_storage");
    assert_eq!(total["data"].as_str().unwrap().split('|').count(), 3);
}

#[tokio::test]
async fn reports_are_empty_without_the_analytics_feature() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.toml");
    std::fs::write(
        &seed,
        "[[partners]]\nid = 500\nname = \"Plain Parent\"\ngroup_type = 2\npublishers_quota = 2\n\n\
         [[partners]]\nid = 501\nname = \"Kid\"\nparent_id = 500\n",
    )
    .unwrap();
    let emu = start(EmulatorConfig { seed: Seed::File(seed), ..EmulatorConfig::for_tests() }).await;
    assert_eq!(emu.parent_id, 500);
    let table = call(
        &emu,
        "report",
        "getTable",
        &[
            ("reportType", "20010"),
            ("reportInputFilter[fromDate]", "1700000000"),
            ("reportInputFilter[toDate]", "1700900000"),
        ],
    )
    .await;
    assert_eq!(table["data"], "");
    assert_eq!(table["totalCount"], 0);
}

#[tokio::test]
async fn a_seed_files_users_and_every_partners_owner_are_listed_by_user_list() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.toml");
    std::fs::write(
        &seed,
        "[[partners]]\nid = 500\nname = \"Acme\"\ngroup_type = 2\nadmin_name = \"Ida Owner\"\n\
         admin_email = \"ida@acme.example\"\n\n\
         [[users]]\npartner_id = 500\nid = \"kim@acme.example\"\nfirst_name = \"Kim\"\nadmin = true\n\
         roles = \"Publisher Administrator\"\nlast_login = 1700000000\n\n\
         [[users]]\npartner_id = 500\nid = \"gone@acme.example\"\nstatus = 2\n",
    )
    .unwrap();
    let emu = start(EmulatorConfig { seed: Seed::File(seed), children: 3, ..EmulatorConfig::for_tests() }).await;
    let users = call(&emu, "user", "list", &[]).await;
    assert_eq!(users["objectType"], "KalturaUserListResponse");
    let listed: Vec<(&str, bool, Option<&str>)> = users["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["id"].as_str().unwrap(), u["isAccountOwner"].as_bool().unwrap(), u["email"].as_str()))
        .collect();
    assert_eq!(
        listed,
        [("ida@acme.example", true, Some("ida@acme.example")), ("kim@acme.example", false, Some("kim@acme.example"))],
        "deleted users are left out unless asked for"
    );
    let deleted = call(&emu, "user", "list", &[("filter[statusEqual]", "2")]).await;
    assert_eq!(deleted["objects"][0]["id"], "gone@acme.example");
    let kim = call(&emu, "user", "get", &[("userId", "kim@acme.example")]).await;
    assert_eq!((kim["fullName"].as_str(), kim["lastLoginTime"].as_i64()), (Some("Kim"), Some(1_700_000_000)));
    // Synthetic children have their owners too: listed under a session impersonating one, in one multirequest
    // whose second call sends the first one's result as its KS.
    let children = call(&emu, "partner", "list", &[("filter[idGreaterThan]", "500")]).await;
    let child = &children["objects"][0];
    let child_id = child["id"].as_i64().unwrap().to_string();
    let ks = admin_ks(emu.parent_id, SECRET, 600);
    let body = post_form(
        &emu,
        "/api_v3/service/multirequest",
        &[
            ("ks", &ks),
            ("format", "1"),
            ("1:service", "session"),
            ("1:action", "impersonate"),
            ("1:secret", SECRET),
            ("1:impersonatedPartnerId", &child_id),
            ("1:partnerId", "500"),
            ("1:type", "2"),
            ("2:service", "user"),
            ("2:action", "list"),
            ("2:ks", "{1:result}"),
        ],
    )
    .await;
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer[1]["objects"][0]["id"], child["adminUserId"], "{body}");
    assert_eq!(answer[1]["objects"][0]["isAccountOwner"], true);
}

#[tokio::test]
async fn filters_follow_kalturas_semantics() {
    let emu = start(EmulatorConfig { children: 300, ..EmulatorConfig::for_tests() }).await;
    let list = |fields: Vec<(&'static str, String)>| {
        let emu = &emu;
        async move {
            let mut all: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            all.push(("pager[pageSize]", "500"));
            call(emu, "partner", "list", &all).await
        }
    };
    let everything = list(vec![]).await;
    assert_eq!(everything["totalCount"], 306, "self + 5 demo children + 300 synthetic; never 7001/7002");
    assert!(!ids(&everything).contains(&7001));

    let by_ids = list(vec![("filter[idIn]", "6475, 6474,7001".into())]).await;
    assert_eq!(ids(&by_ids).len(), 2, "idIn is scoped to the parent");
    let not_in = list(vec![("filter[idNotIn]", "6475,6474".into()), ("filter[idGreaterThan]", "6000".into())]).await;
    assert_eq!(not_in["totalCount"], 304);
    assert_eq!(list(vec![("filter[idEqual]", "6472".into())]).await["objects"][0]["name"], "adtest name");

    let like = list(vec![("filter[nameLike]", "down".into())]).await;
    assert_eq!(ids(&like), vec![6474], "LIKE %v%, case-insensitive");
    let multi_or = list(vec![("filter[nameMultiLikeOr]", "shang, under".into())]).await;
    assert_eq!(multi_or["totalCount"], 2);
    let multi_and = list(vec![("filter[nameMultiLikeAnd]", "template,legacy".into())]).await;
    assert_eq!(ids(&multi_and), vec![6479]);
    assert_eq!(list(vec![("filter[nameEqual]", "Shanghai".into())]).await["totalCount"], 1);

    let removed = list(vec![("filter[statusEqual]", "3".into())]).await;
    assert!(removed["objects"].as_array().unwrap().iter().all(|p| p["status"] == 3));
    assert!(ids(&removed).contains(&6472));
    let templates = list(vec![("filter[partnerGroupTypeEqual]", "4".into()), ("filter[statusIn]", "1,2".into())]).await;
    assert!(ids(&templates).contains(&6478) && ids(&templates).contains(&6479));

    // The free text searches name, description, website, admin name and admin email.
    let text = |v: &str| list(vec![("filter[partnerNameDescriptionWebsiteAdminNameAdminEmailLike]", v.into())]);
    assert_eq!(ids(&text("renee.dvir").await), vec![6474], "admin email");
    assert_eq!(ids(&text("Muh Wih").await), vec![6475], "admin name");
    assert!(ids(&text("kaltura.com").await).contains(&6475), "website");

    let recent = list(vec![("filter[createdAtGreaterThanOrEqual]", "1558444680".into())]).await;
    assert!(!ids(&recent).contains(&6474) && ids(&recent).contains(&6475));
    let empty_values = list(vec![("filter[nameLike]", "".into()), ("filter[statusIn]", "".into())]).await;
    assert_eq!(empty_values["totalCount"], 306, "empty values are ignored");

    let by_name =
        list(vec![("filter[orderBy]", "+name,bogus".into()), ("filter[idIn]", "6475,6474,6472".into())]).await;
    assert_eq!(ids(&by_name), vec![6472, 6474, 6475]);
    let newest =
        list(vec![("filter[orderBy]", "-createdAt".into()), ("filter[idIn]", "6475,6474,6472,6464".into())]).await;
    assert_eq!(ids(&newest), vec![6475, 6474, 6472, 6464]);

    let count = call(&emu, "partner", "count", &[("filter[statusIn]", "1,2")]).await;
    let listed = list(vec![("filter[statusIn]", "1,2".into())]).await;
    assert_eq!(count, listed["totalCount"]);
}

#[tokio::test]
async fn the_pager_defaults_caps_and_counts_before_paging() {
    let emu = start(EmulatorConfig { children: 620, ..EmulatorConfig::for_tests() }).await;
    let page = |size: &str, index: &str| {
        let (size, index) = (size.to_string(), index.to_string());
        let emu = &emu;
        async move { call(emu, "partner", "list", &[("pager[pageSize]", &size), ("pager[pageIndex]", &index)]).await }
    };
    let default = call(&emu, "partner", "list", &[]).await;
    assert_eq!(ids(&default).len(), 30, "default page size 30");
    assert_eq!(default["totalCount"], 626);
    assert_eq!(ids(&page("1000", "1").await).len(), 500, "at most 500");
    let second = page("500", "2").await;
    assert_eq!(ids(&second).len(), 126);
    assert_eq!(second["totalCount"], 626);
    assert!(ids(&page("50", "99").await).is_empty());
}

#[tokio::test]
async fn errors_follow_the_servers_check_order_and_templates() {
    let emu = demo().await;
    let expired = admin_ks(emu.parent_id, SECRET, -60);
    // A bad argument is reported before an expired KS.
    let body = post_form(
        &emu,
        "/api_v3/service/varconsole_varconsole/action/updateStatus",
        &[("ks", &expired), ("format", "1"), ("id", "6475"), ("status", "9")],
    )
    .await;
    let e: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(e["code"], "INVALID_ENUM_VALUE");
    assert_eq!(
        e["message"],
        "Invalid enumeration value \"9\" for parameter \"status\", expecting enumeration type \"KalturaPartnerStatus\""
    );
    let body =
        post_form(&emu, "/api_v3/service/partner/action/get", &[("ks", &expired), ("format", "1"), ("id", "6475")])
            .await;
    let e: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(e["code"], "INVALID_KS");
    assert_eq!(e["message"], format!("Invalid KS \"{expired}\", Error \"-5,EXPIRED\""));

    let wrong = admin_ks(emu.parent_id, "not-the-secret", 600);
    let body = post_form(&emu, "/api_v3/service/partner/action/getInfo", &[("ks", &wrong), ("format", "1")]).await;
    let e: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(e["code"], "INVALID_KS");
    assert_eq!(e["args"]["ERR_DESC"], "INVALID_STR");

    let body = post_form(&emu, "/api_v3/service/partner/action/list", &[("format", "1")]).await;
    let e: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(e["code"], "SERVICE_FORBIDDEN");
    assert_eq!(e["message"], "The access to service [partner->list] is forbidden");

    // partner.get's id defaults to the session's partner (PartnerService::getAction($id = null)).
    assert_eq!(call(&emu, "partner", "get", &[]).await["id"], 6464);
    let e = call(&emu, "varconsole_varconsole", "updateStatus", &[("status", "2")]).await;
    assert_eq!(e["message"], "Missing parameter \"id\"");
    let e = call(&emu, "partner", "get", &[("id", "7001")]).await;
    assert_eq!(e["message"], "Invalid partner id \"7001\"");
    let e = call(&emu, "varconsole_varconsole", "updateStatus", &[("id", "7002"), ("status", "2")]).await;
    assert_eq!(e["message"], "Unknown partner_id [7002]");
    let e = call(&emu, "partner", "fly", &[]).await;
    assert_eq!(e["message"], "Action \"fly\" does not exists for service \"partner\"");

    let e = call(
        &emu,
        "partner",
        "register",
        &[
            ("partner[name]", "X"),
            ("partner[adminName]", "X Y"),
            ("partner[adminEmail]", "not-an-email"),
            ("partner[description]", "d"),
        ],
    )
    .await;
    assert_eq!(e["args"]["MESSAGE"], "Invalid email address");
    let e = call(&emu, "partner", "register", &[("partner[name]", "X"), ("partner[status]", "1")]).await;
    assert_eq!(e["message"], "The property \"KalturaPartner::status\" cannot be updated");
    let e = call(&emu, "partner", "register", &[("partner[name]", "X")]).await;
    assert_eq!(e["message"], "The property \"KalturaPartner::adminName\" cannot be null");
    let e = call(
        &emu,
        "partner",
        "register",
        &[
            ("partner[name]", "X"),
            ("partner[adminName]", "X Y"),
            ("partner[adminEmail]", "x@y.example"),
            ("partner[description]", "d"),
        ],
    )
    .await;
    assert_eq!(e["id"].as_i64().map(|i| i > 7002), Some(true), "a valid registration after the failures: {e}");
}

#[tokio::test]
async fn blocked_accounts_are_refused_and_varconsole_needs_the_feature() {
    let emu = demo().await;
    assert_eq!(
        call(&emu, "varconsole_varconsole", "updateStatus", &[("id", "6474"), ("status", "2")]).await,
        Value::Null
    );
    assert_eq!(call(&emu, "partner", "get", &[("id", "6474")]).await["status"], 2);
    let child_ks = |id: &str| {
        let id = id.to_string();
        let emu = &emu;
        async move {
            let body = post_form(
                emu,
                "/api_v3/service/session/action/impersonate",
                &[
                    ("format", "1"),
                    ("secret", SECRET),
                    ("impersonatedPartnerId", &id),
                    ("type", "2"),
                    ("partnerId", "6464"),
                ],
            )
            .await;
            serde_json::from_str::<String>(&body).unwrap_or_else(|_| panic!("a KS: {body}"))
        }
    };
    let blocked = child_ks("6474").await;
    let body = post_form(&emu, "/api_v3/service/partner/action/getInfo", &[("ks", &blocked), ("format", "1")]).await;
    assert!(body.contains("SERVICE_FORBIDDEN_CONTENT_BLOCKED"), "{body}");

    let active = child_ks("6475").await;
    let body = post_form(
        &emu,
        "/api_v3/service/varconsole_varconsole/action/updateStatus",
        &[("ks", &active), ("format", "1"), ("id", "6475"), ("status", "1")],
    )
    .await;
    assert!(body.contains("The usage of feature [varConsole] is forbidden"), "{body}");

    let body = post_form(
        &emu,
        "/api_v3/service/session/action/impersonate",
        &[("format", "1"), ("secret", SECRET), ("impersonatedPartnerId", "7001"), ("type", "2"), ("partnerId", "6464")],
    )
    .await;
    assert!(body.contains("Error while starting session for partner [6464]"), "{body}");
}

#[tokio::test]
async fn xml_is_the_default_format_and_urls_may_carry_parameters() {
    let emu = demo().await;
    let ks = admin_ks(emu.parent_id, SECRET, 600);
    // Path pairs, a double slash from a service URL ending in '/', and the query string.
    let url = format!("{}//api_v3/service/partner/action/get/id/6475?ks={ks}", emu.url);
    let res = reqwest::get(&url).await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/xml");
    let body = res.text().await.unwrap();
    assert!(body.starts_with(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><xml><result><objectType>KalturaPartner</objectType><id>6475</id>"
    ));
    assert!(body.contains("<notificationUrl></notificationUrl>"), "null properties are empty elements");
    let url = format!("{}/api_v3/index.php?service=PARTNER&action=Get&id=6474&ks={ks}&format=1", emu.url);
    let body: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert_eq!(body["name"], "Down Under");
}

#[tokio::test]
async fn form_encoded_multirequests_reference_earlier_results() {
    let emu = demo().await;
    let ks = admin_ks(emu.parent_id, SECRET, 600);
    let body = post_form(
        &emu,
        "/api_v3/service/multirequest",
        &[
            ("ks", &ks),
            ("format", "1"),
            ("1:service", "partner"),
            ("1:action", "list"),
            ("1:filter:idIn", "6475"),
            ("2:service", "partner"),
            ("2:action", "get"),
            ("2:id", "{1:result:objects:0:id}"),
            ("3:service", "partner"),
            ("3:action", "get"),
            ("3:id", "424242"),
            ("4:service", "partner"),
            ("4:action", "count"),
            ("6:service", "partner"),
            ("6:action", "count"),
        ],
    )
    .await;
    let results: Value = serde_json::from_str(&body).unwrap();
    let results = results.as_array().expect("an array");
    assert_eq!(results.len(), 4, "stops at the first missing index: {body}");
    assert_eq!(results[1]["name"], "Shanghai");
    assert_eq!(results[2]["code"], "INVALID_PARTNER_ID");
    assert_eq!(results[3], 6);
    assert_eq!(emu.stats()["requests"], 1);
    assert_eq!(emu.stats()["calls"]["partner.get"], 2);
}

#[tokio::test]
async fn multipart_bodies_carry_their_parameters_in_the_json_part() {
    let emu = demo().await;
    let ks = admin_ks(emu.parent_id, SECRET, 600);
    let form = reqwest::multipart::Form::new()
        .text("json", format!(r#"{{"format":"1","id":"6475","ks":"{ks}"}}"#))
        .part("fileData", reqwest::multipart::Part::bytes(b"hello".to_vec()).file_name("a.bin"));
    let client = reqwest::Client::new();
    let res =
        client.post(format!("{}/api_v3/service/partner/action/get", emu.url)).multipart(form).send().await.unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["name"], "Shanghai");
}

#[tokio::test]
async fn malformed_requests_get_kaltura_errors_never_a_crash() {
    let emu = demo().await;
    let client = reqwest::Client::new();
    let url = format!("{}/api_v3/service/partner/action/get", emu.url);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("application/json", b"{not json".to_vec()),
        ("application/json", b"[1,2,3]".to_vec()),
        ("application/json", br#"{"id": {"deep": [1, {"x": null}]}, "ks": 5}"#.to_vec()),
        ("application/x-www-form-urlencoded", b"id=%ZZ&&&=&ks[]=1&ks[a]=2".to_vec()),
        ("application/x-www-form-urlencoded", vec![0xff, 0xfe, 0x00, b'=', 0x80]),
        ("multipart/form-data; boundary=zzz", b"--zzz\r\nbroken".to_vec()),
        ("text/plain", b"id=99999999999999999999999999999".to_vec()),
    ];
    for (ct, body) in cases {
        let res = client.post(&url).header("Content-Type", ct).body(body).send().await.expect("an answer");
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap();
        assert!(text.contains("<error><code>"), "{ct}: {text}");
    }
    let res = client.get(format!("{}/api_v3/service/multirequest?format=1", emu.url)).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "[]");
    let res =
        client.get(format!("{}/api_v3/service/partner/action/list?ks=djJ8&format=1", emu.url)).send().await.unwrap();
    assert!(res.text().await.unwrap().contains("INVALID_KS"));
    // Still serving.
    assert_eq!(call(&emu, "system", "ping", &[]).await, true);
}

#[tokio::test]
async fn the_stand_in_kmc_names_the_account_and_user_a_ks_opened() {
    let emu = demo().await;
    let body = post_form(
        &emu,
        "/api_v3/service/session/action/impersonate",
        &[
            ("format", "1"),
            ("secret", SECRET),
            ("impersonatedPartnerId", "6475"),
            ("userId", "muh.wih@shanghai.techpubs.example"),
            ("type", "2"),
            ("partnerId", "6464"),
            ("expiry", "120"),
            ("privileges", "disableentitlement,enablechangeaccount:6475"),
        ],
    )
    .await;
    let ks: String = serde_json::from_str(&body).unwrap();
    for action in ["persist-login-by-ks", "login-by-ks"] {
        let res = reqwest::get(format!("{}/index.php/kmcng/actions/{action}/{ks}", emu.url)).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let page = res.text().await.unwrap();
        assert!(page.contains("<dd id=\"partner-name\">Shanghai</dd>"), "{page}");
        assert!(page.contains("<dd id=\"partner-id\">6475</dd>"));
        assert!(page.contains("muh.wih@shanghai.techpubs.example"));
        assert!(page.contains("<dd id=\"master-partner-id\">6464</dd>"));
        assert!(!page.contains(&ks), "the page never echoes the KS");
    }
    let res = reqwest::get(format!("{}/index.php/kmcng/actions/persist-login-by-ks/garbage", emu.url)).await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap().contains("could not be verified"));
    let expired = admin_ks(6464, SECRET, -5);
    let res = reqwest::get(format!("{}/index.php/kmcng/actions/persist-login-by-ks/{expired}", emu.url)).await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap().contains("has expired"));
}

#[tokio::test]
async fn the_control_endpoint_counts_and_resets() {
    let emu = demo().await;
    call(&emu, "partner", "getInfo", &[]).await;
    call(&emu, "partner", "list", &[]).await;
    let client = reqwest::Client::new();
    let stats: Value = client.get(format!("{}/emulator/stats", emu.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["requests"], 2);
    assert_eq!(stats["calls"]["partner.getInfo"], 1);
    let reset: Value =
        client.post(format!("{}/emulator/stats/reset", emu.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(reset["requests"], 0);
    let lat: Value =
        client.post(format!("{}/emulator/latency?ms=150", emu.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(lat["latency_ms"], 150);
    let started = std::time::Instant::now();
    call(&emu, "system", "ping", &[]).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(150), "latency applies to every answer");
}

#[tokio::test]
async fn a_data_file_keeps_state_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("emulator.db").to_string_lossy().into_owned();
    let cfg = EmulatorConfig { data: data.clone(), ..EmulatorConfig::for_tests() };
    let emu = start(cfg.clone()).await;
    let made = call(
        &emu,
        "partner",
        "register",
        &[
            ("partner[name]", "Kept"),
            ("partner[adminName]", "Kee Per"),
            ("partner[adminEmail]", "keeper@kept.example"),
            ("partner[description]", "d"),
        ],
    )
    .await;
    call(&emu, "varconsole_varconsole", "updateStatus", &[("id", "6475"), ("status", "2")]).await;
    emu.stop().await;
    let again = start(cfg).await;
    let id = made["id"].as_i64().unwrap().to_string();
    assert_eq!(call(&again, "partner", "get", &[("id", &id)]).await["name"], "Kept");
    assert_eq!(call(&again, "partner", "get", &[("id", "6475")]).await["status"], 2);
}

#[tokio::test]
async fn user_login_by_login_id_opens_the_parent() {
    let emu = demo().await;
    let body = post_form(
        &emu,
        "/api_v3/service/user/action/loginByLoginId",
        &[("format", "1"), ("loginId", "debbie@techpubs.example"), ("password", "Demo-Passw0rd!")],
    )
    .await;
    let ks: String = serde_json::from_str(&body).unwrap();
    let info = post_form(&emu, "/api_v3/service/partner/action/getInfo", &[("ks", &ks), ("format", "1")]).await;
    assert!(info.contains("\"publishersQuota\":5"), "{info}");
    let body = post_form(
        &emu,
        "/api_v3/service/user/action/loginByLoginId",
        &[("format", "1"), ("loginId", "debbie@techpubs.example"), ("password", "nope")],
    )
    .await;
    assert!(body.contains("\"code\":\"USER_WRONG_PASSWORD\""), "{body}");
}
