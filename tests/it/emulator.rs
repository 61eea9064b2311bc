//! The emulator over real HTTP: requests as curl sends them (seed `003_…`), filter semantics, the stand-in
//! KMC, the control endpoint, persistence, malformed input, and the usage analytics of kaltura-analytics.md.

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

// ---------------------------------------------------------------- analytics (kaltura-analytics.md)

/// January 2024, whole days: long after the demo partners were created.
const JAN_2024: [(&str, &str); 2] =
    [("reportInputFilter[fromDay]", "20240101"), ("reportInputFilter[toDay]", "20240131")];
/// The first half of 2024.
const H1_2024: [(&str, &str); 2] =
    [("reportInputFilter[fromDay]", "20240101"), ("reportInputFilter[toDay]", "20240630")];

/// A report call with `|` as the delimiter (and, for getTable, a page of 500 unless the fields say otherwise).
async fn report(emu: &RunningEmulator, action: &str, report_type: &str, fields: &[(&str, &str)]) -> Value {
    let mut all = vec![("reportType", report_type), ("responseOptions[delimiter]", "|")];
    if action == "getTable" && !fields.iter().any(|(k, _)| k.starts_with("pager")) {
        all.push(("pager[pageSize]", "500"));
    }
    all.extend_from_slice(fields);
    call(emu, "report", action, &all).await
}

fn with<'a>(base: &[(&'a str, &'a str)], more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    base.iter().chain(more).copied().collect()
}

fn header(v: &Value) -> Vec<String> {
    v["header"].as_str().unwrap_or_else(|| panic!("no header: {v}")).split('|').map(String::from).collect()
}

/// A table's rows, checking that every row ends with `;`.
fn rows(table: &Value) -> Vec<Vec<String>> {
    let data = table["data"].as_str().unwrap_or_else(|| panic!("no data: {table}"));
    assert!(data.is_empty() || data.ends_with(';'), "rows end with ';': {data}");
    data.split_terminator(';').map(|r| r.split('|').map(String::from).collect()).collect()
}

/// A table's column by name, as numbers.
fn column(table: &Value, name: &str) -> Vec<f64> {
    let i = header(table).iter().position(|h| h == name).unwrap_or_else(|| panic!("no {name} in {table}"));
    rows(table).iter().map(|r| r[i].parse().unwrap_or_else(|_| panic!("{name} = {:?}", r[i]))).collect()
}

/// A total's value by name.
fn total_of(total: &Value, name: &str) -> String {
    let i = header(total).iter().position(|h| h == name).unwrap_or_else(|| panic!("no {name} in {total}"));
    total["data"].as_str().unwrap().split('|').nth(i).unwrap().to_string()
}

/// A graph's points as (key, value).
fn points(graphs: &Value, id: &str) -> Vec<(String, f64)> {
    let graph =
        graphs.as_array().unwrap().iter().find(|g| g["id"] == id).unwrap_or_else(|| panic!("no {id}: {graphs}"));
    let data = graph["data"].as_str().unwrap();
    assert!(data.is_empty() || data.ends_with(';'), "{data}");
    data.split_terminator(';')
        .map(|p| {
            let (k, v) = p.split_once('|').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

/// A KS of the parent impersonating `child`.
async fn child_ks(emu: &RunningEmulator, child: &str) -> String {
    let body = post_form(
        emu,
        "/api_v3/service/session/action/impersonate",
        &[("format", "1"), ("secret", SECRET), ("impersonatedPartnerId", child), ("type", "2"), ("partnerId", "6464")],
    )
    .await;
    serde_json::from_str(&body).unwrap_or_else(|_| panic!("a KS: {body}"))
}

/// A call with the given KS.
async fn call_as(emu: &RunningEmulator, ks: &str, service: &str, action: &str, fields: &[(&str, &str)]) -> Value {
    let mut all = vec![("ks", ks), ("format", "1")];
    all.extend_from_slice(fields);
    let body = post_form(emu, &format!("/api_v3/service/{service}/action/{action}"), &all).await;
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

const G2: &str = "bandwidth_consumption|average_storage|peak_storage|added_storage|deleted_storage|\
    combined_bandwidth_storage|transcoding_consumption";
const M42: &str = "total_plays|bandwidth_consumption|average_storage|transcoding_consumption|total_entries|\
    total_end_users|total_views|origin_bandwidth_consumption|added_storage|deleted_storage|peak_storage|\
    unique_known_users";
const M60: &str = "unique_known_users|total_entries|video_streams|transcoding_consumption|bandwidth_consumption|\
    peak_storage|total_interactive_video_entries|live_view_time|total_credits|total_jobs_completed|average_storage|\
    transcoding_duration|added_meeting_recording_hours|meeting_view_time";

#[tokio::test]
async fn report_headers_follow_the_interval_with_the_servers_years_quirks() {
    let emu = demo().await;
    let interval = |i: &'static str| with(&H1_2024, &[("reportInputFilter[interval]", i)]);
    let cases = [
        ("201", "days", format!("date_id|{G2}"), 182),
        ("201", "months", format!("month_id|{G2}"), 6),
        ("201", "years", G2.to_string(), 1),
        ("20021", "months", format!("month_id|{G2}"), 6),
        ("60", "months", format!("month_id|{M60}"), 6),
        ("20023", "years", M60.to_string(), 1),
        ("20021", "hours", format!("date_id|{G2}"), 182),
    ];
    for (kind, i, want, count) in cases {
        let table = report(&emu, "getTable", kind, &interval(i)).await;
        assert_eq!(table["header"], want, "{kind} by {i}");
        assert_eq!((rows(&table).len(), table["totalCount"].as_i64()), (count, Some(count as i64)), "{kind} by {i}");
        assert!(rows(&table).iter().all(|r| r.len() == header(&table).len()));
    }
    let table = report(&emu, "getTable", "201", &interval("months")).await;
    assert_eq!(
        rows(&table).iter().map(|r| r[0].as_str()).collect::<Vec<_>>(),
        ["202401", "202402", "202403", "202404", "202405", "202406"]
    );

    let var = report(&emu, "getTable", "19", &with(&interval("months"), &[("objectIds", "6464|6475")])).await;
    let partner = "status|partner_name|partner_id|created_at";
    let metrics = G2.replace("transcoding_consumption", "transcoding_usage");
    assert_eq!(var["header"], format!("month_id|{partner}|{metrics}"));
    assert_eq!(var["totalCount"], 12, "six months × two partners");
    assert_eq!(rows(&var)[1][..5], ["202401", "1", "Shanghai", "6475", "1558444680"]);
    let var = report(&emu, "getTable", "19", &with(&interval("years"), &[("objectIds", "6475")])).await;
    assert_eq!(var["header"], format!("year_id|status|partner_name|partner_id|{metrics}"), "years drop created_at");
    assert_eq!(rows(&var)[0][..4], ["2024", "1", "Shanghai", "6475"]);

    let multi = report(&emu, "getTable", "42", &interval("months")).await;
    assert_eq!(multi["header"], format!("{partner}|{M42}"), "42 ignores the interval");
    let total = report(&emu, "getTotal", "201", &H1_2024).await;
    assert_eq!(total["header"], format!("{G2}|aggregated_monthly_avg_storage|combined_bandwidth_aggregated_storage"));
    assert_eq!(report(&emu, "getTotal", "42", &H1_2024).await["header"], M42);
    assert_eq!(report(&emu, "getTotal", "60", &H1_2024).await["header"], M60);
    let graphs = report(&emu, "getGraphs", "19", &interval("months")).await;
    let ids: Vec<&str> = graphs.as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids.join("|"),
        "transcoding_consumption|bandwidth_consumption|added_storage|deleted_storage|average_storage|peak_storage|combined_bandwidth_storage"
    );
    assert_eq!(report(&emu, "getGraphs", "42", &H1_2024).await, serde_json::json!([]));
}

#[tokio::test]
async fn report_buckets_are_zero_filled_and_capped_at_5000_days() {
    let emu = demo().await;
    // Partner 7001 is not the parent's: the list becomes -1000, which matches nothing, yet every day is there.
    let zeros = report(&emu, "getTable", "201", &with(&JAN_2024, &[("objectIds", "7001")])).await;
    assert_eq!(zeros["totalCount"], 31);
    assert!(rows(&zeros).iter().all(|r| r[1..].iter().all(|v| v == "0")), "{zeros}");
    assert_eq!(rows(&zeros)[30][0], "20240131");
    let graphs = report(&emu, "getGraphs", "20021", &with(&JAN_2024, &[("objectIds", "7001")])).await;
    assert_eq!(points(&graphs, "bandwidth_consumption").len(), 31);
    assert!(points(&graphs, "bandwidth_consumption").iter().all(|(_, v)| *v == 0.0));

    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.toml");
    std::fs::write(&seed, "[[partners]]\nid = 500\nname = \"Old Parent\"\ngroup_type = 2\ncreated_at = 0\n").unwrap();
    let old = start(EmulatorConfig { seed: Seed::File(seed), ..EmulatorConfig::for_tests() }).await;
    let range = [("reportInputFilter[fromDay]", "19700101"), ("reportInputFilter[toDay]", "20001231")];
    let days = report(&old, "getTable", "201", &with(&range, &[("pager[pageSize]", "1")])).await;
    assert_eq!(days["totalCount"], 5000);
    let last =
        report(&old, "getTable", "201", &with(&range, &[("pager[pageSize]", "1"), ("pager[pageIndex]", "5000")])).await;
    assert_eq!(rows(&last)[0][0], "19830909", "the 5000th day");
    let months = report(&old, "getTable", "201", &with(&range, &[("reportInputFilter[interval]", "months")])).await;
    assert_eq!(months["totalCount"], 165, "months of the first 5000 days");
    let years = report(&old, "getGraphs", "201", &with(&range, &[("reportInputFilter[interval]", "years")])).await;
    assert_eq!(points(&years, "bandwidth_consumption").first().map(|p| p.0.as_str()), Some("1970"));
    assert_eq!(points(&years, "bandwidth_consumption").len(), 14);
}

#[tokio::test]
async fn report_object_ids_keep_the_caller_and_its_children_only() {
    let emu = demo().await;
    let partners = |t: &Value| rows(t).iter().map(|r| r[2].clone()).collect::<Vec<_>>();
    // 42 without ids: the parent and every child, of any status, that existed in the period.
    let mut all = partners(&report(&emu, "getTable", "42", &JAN_2024).await);
    all.sort();
    assert_eq!(all, ["6464", "6472", "6474", "6475", "6478", "6479"]);
    let some = report(&emu, "getTable", "42", &with(&JAN_2024, &[("objectIds", "6475|7001|abc|7002")])).await;
    assert_eq!(partners(&some), ["6475"], "others are dropped silently");
    // Split on the delimiter: under `|`, a comma list reads as its first id, as MySQL reads '6475,6474'.
    let commas = report(&emu, "getTable", "42", &with(&JAN_2024, &[("objectIds", "6475,6474")])).await;
    assert_eq!(partners(&commas), ["6475"]);
    let none = report(&emu, "getTable", "42", &with(&JAN_2024, &[("objectIds", "7001")])).await;
    assert_eq!((none["data"].as_str(), none["totalCount"].as_i64()), (Some(""), Some(0)));
    assert_eq!(none["header"], format!("status|partner_name|partner_id|created_at|{M42}"));

    // 19 with nothing left has no header at all: the empty-table object.
    let var = report(&emu, "getTable", "19", &with(&JAN_2024, &[("objectIds", "7001")])).await;
    assert_eq!(var, serde_json::json!({"objectType": "KalturaReportTable"}));
    let xml = post_form(
        &emu,
        "/api_v3/service/report/action/getTable",
        &[
            ("ks", &admin_ks(6464, SECRET, 600)),
            ("reportType", "19"),
            ("reportInputFilter[fromDay]", "20240101"),
            ("reportInputFilter[toDay]", "20240131"),
            ("pager[pageSize]", "5"),
            ("objectIds", "7001"),
        ],
    )
    .await;
    let empty = "<result><objectType>KalturaReportTable</objectType><header></header><data></data><totalCount>";
    assert!(xml.contains(&format!("{empty}</totalCount></result>")), "{xml}");

    // 201 and 19 without ids: the caller alone; 20021 and 20023 without ids: the caller and its children.
    let parent = report(&emu, "getTotal", "201", &with(&JAN_2024, &[("objectIds", "6464")])).await;
    assert_eq!(report(&emu, "getTotal", "201", &JAN_2024).await, parent);
    assert_eq!(report(&emu, "getTotal", "19", &JAN_2024).await, parent);
    let everyone = "6464|6472|6474|6475|6478|6479";
    let scope = report(&emu, "getTotal", "201", &with(&JAN_2024, &[("objectIds", everyone)])).await;
    assert_eq!(report(&emu, "getTotal", "20021", &JAN_2024).await, scope);
    assert_ne!(scope, parent);
    let drill = report(&emu, "getTotal", "20021", &with(&JAN_2024, &[("objectIds", "6475")])).await;
    assert_eq!(drill, report(&emu, "getTotal", "201", &with(&JAN_2024, &[("objectIds", "6475")])).await);
    let outside = report(&emu, "getTotal", "20021", &with(&JAN_2024, &[("objectIds", "7001")])).await;
    assert!(outside["data"].as_str().unwrap().split('|').all(|v| v == "0"), "{outside}");
    let self_serve = report(&emu, "getTotal", "20023", &JAN_2024).await;
    assert_eq!(self_serve, report(&emu, "getTotal", "20023", &with(&JAN_2024, &[("objectIds", everyone)])).await);

    // 60 is the caller's own: other ids give zeros, and no unique users at all.
    let own = report(&emu, "getTotal", "60", &JAN_2024).await;
    assert_eq!(own, report(&emu, "getTotal", "60", &with(&JAN_2024, &[("objectIds", "6464")])).await);
    let other = report(&emu, "getTotal", "60", &with(&JAN_2024, &[("objectIds", "6475")])).await;
    assert_eq!(other["data"], ["", &["0"; 13].join("|")].join("|"));
}

#[tokio::test]
async fn report_42_orders_by_any_column_and_pages_with_every_row_counted() {
    let emu = start(EmulatorConfig { children: 60, ..EmulatorConfig::for_tests() }).await;
    let table = |order: &'static str, size: &'static str, index: &'static str| {
        let emu = &emu;
        async move {
            let mut fields = with(&H1_2024, &[("pager[pageSize]", size), ("pager[pageIndex]", index)]);
            if !order.is_empty() {
                fields.push(("order", order));
            }
            report(emu, "getTable", "42", &fields).await
        }
    };
    let everything = table("", "100", "1").await;
    let count = everything["totalCount"].as_i64().unwrap();
    assert_eq!(rows(&everything).len() as i64, count);
    assert!(count > 20, "the demo partners and many synthetic children existed in 2024: {count}");
    let unique = column(&everything, "unique_known_users");
    assert!(unique.windows(2).all(|w| w[0] >= w[1]), "unique users, most first, by default: {unique:?}");

    // A metric orders every row before paging.
    let mut bandwidth = column(&table("-bandwidth_consumption", "10", "1").await, "bandwidth_consumption");
    bandwidth.extend(column(&table("-bandwidth_consumption", "10", "2").await, "bandwidth_consumption"));
    assert!(bandwidth.windows(2).all(|w| w[0] >= w[1]), "{bandwidth:?}");
    let mut all_bandwidth = column(&everything, "bandwidth_consumption");
    all_bandwidth.sort_by(|a, b| b.total_cmp(a));
    assert_eq!(bandwidth, all_bandwidth[..20]);
    let plays = column(&table("+total_plays", "500", "1").await, "total_plays");
    assert!(plays.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(
        column(&table("play", "500", "1").await, "total_plays")[0],
        *plays.last().unwrap(),
        "unsigned: descending"
    );

    // A partner column orders the page the default order gave.
    for index in ["1", "2"] {
        let page = table("+partner_name", "15", index).await;
        let default = table("", "15", index).await;
        let names = |t: &Value| rows(t).iter().map(|r| r[1].clone()).collect::<Vec<_>>();
        let mut sorted = names(&default);
        sorted.sort();
        assert_eq!(names(&page), sorted, "page {index}");
        assert_eq!(page["totalCount"], count);
    }
    let ids = |t: &Value| column(t, "partner_id");
    let by_id = ids(&table("-partner_id", "500", "1").await);
    assert!(by_id.windows(2).all(|w| w[0] > w[1]));
    assert_eq!(ids(&table("+nonsense", "500", "1").await), ids(&everything), "an unknown column is ignored");
    assert_eq!(ids(&table("+partner_id,-total_plays", "500", "1").await), ids(&everything), "so is a list");

    // The pager: no size means 30, 0 or less means 10, an index of 0 or less means 1, and no cap.
    assert_eq!(
        rows(&report(&emu, "getTable", "42", &with(&H1_2024, &[("pager[objectType]", "KalturaFilterPager")])).await)
            .len(),
        30
    );
    assert_eq!(rows(&table("", "0", "1").await).len(), 10);
    assert_eq!(rows(&table("", "-5", "-2").await), rows(&table("", "10", "1").await));
    assert_eq!(rows(&table("", "7", "99").await), Vec::<Vec<String>>::new());
    let big = start(EmulatorConfig { children: 620, ..EmulatorConfig::for_tests() }).await;
    let last_month = [("reportInputFilter[fromDate]", "-2592000"), ("reportInputFilter[toDate]", "0")];
    let all = report(&big, "getTable", "42", &with(&last_month, &[("pager[pageSize]", "1000")])).await;
    assert_eq!((rows(&all).len(), all["totalCount"].as_i64()), (626, Some(626)), "no 500 cap");
}

#[tokio::test]
async fn report_totals_and_graphs_agree_with_the_tables() {
    let emu = start(EmulatorConfig { children: 25, ..EmulatorConfig::for_tests() }).await;
    let table = report(&emu, "getTable", "42", &H1_2024).await;
    let total = report(&emu, "getTotal", "42", &H1_2024).await;
    for name in ["total_plays", "total_views", "unique_known_users"] {
        let sum: f64 = column(&table, name).iter().sum();
        assert_eq!(total_of(&total, name).parse::<f64>().unwrap(), sum, "{name}");
    }
    for name in [
        "bandwidth_consumption",
        "average_storage",
        "added_storage",
        "deleted_storage",
        "transcoding_consumption",
        "origin_bandwidth_consumption",
    ] {
        let sum: f64 = column(&table, name).iter().sum();
        assert!(close(total_of(&total, name).parse().unwrap(), sum), "{name}: {} vs {sum}", total_of(&total, name));
    }
    // Peaks are of the summed days: at most the sum of each partner's peak, at least the largest.
    let peak: f64 = total_of(&total, "peak_storage").parse().unwrap();
    let peaks = column(&table, "peak_storage");
    assert!(peak <= peaks.iter().sum::<f64>() * (1.0 + 1e-9) && peak >= peaks.iter().cloned().fold(0.0, f64::max));
    assert!(total_of(&total, "bandwidth_consumption").contains('.'), "MB are unrounded floats");

    // 20021's monthly graphs: the same months in every graph, summing to the total.
    let months = with(&H1_2024, &[("reportInputFilter[interval]", "months")]);
    let graphs = report(&emu, "getGraphs", "20021", &months).await;
    let ids: Vec<&str> = graphs.as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap()).collect();
    assert_eq!(ids.join("|"), G2);
    let keys = |id| points(&graphs, id).into_iter().map(|p| p.0).collect::<Vec<_>>();
    assert_eq!(keys("bandwidth_consumption"), ["202401", "202402", "202403", "202404", "202405", "202406"]);
    assert!(ids.iter().all(|id| keys(id) == keys("bandwidth_consumption")));
    let trend_total = report(&emu, "getTotal", "20021", &H1_2024).await;
    let monthly: f64 = points(&graphs, "bandwidth_consumption").iter().map(|p| p.1).sum();
    assert!(close(monthly, total_of(&trend_total, "bandwidth_consumption").parse().unwrap()));
    assert!(
        close(monthly, total_of(&total, "bandwidth_consumption").parse().unwrap()),
        "42 and 20021 cover the same partners"
    );
    let storage = points(&graphs, "average_storage");
    assert!(storage.windows(2).all(|w| w[1].1 > w[0].1), "storage grows: {storage:?}");
    let aggregated: f64 = storage.iter().map(|p| p.1).sum();
    assert!(close(aggregated, total_of(&trend_total, "aggregated_monthly_avg_storage").parse().unwrap()));
    let table = report(&emu, "getTable", "20021", &months).await;
    assert!(close(column(&table, "bandwidth_consumption").iter().sum(), monthly));
    let combined = column(&table, "combined_bandwidth_storage");
    let (bw, avg) = (column(&table, "bandwidth_consumption"), column(&table, "average_storage"));
    assert!(combined.iter().zip(bw.iter().zip(&avg)).all(|(c, (b, a))| close(*c, b + a)));

    // Daily graphs, narrowed to one child: a drill-down.
    let daily = report(&emu, "getGraphs", "20021", &with(&JAN_2024, &[("objectIds", "6475")])).await;
    let days = points(&daily, "bandwidth_consumption");
    assert_eq!((days.len(), days[0].0.as_str(), days[30].0.as_str()), (31, "20240101", "20240131"));
    let one = report(&emu, "getTable", "42", &with(&JAN_2024, &[("objectIds", "6475")])).await;
    assert!(close(days.iter().map(|p| p.1).sum(), column(&one, "bandwidth_consumption")[0]));
    let weekend: Vec<f64> = days
        .iter()
        .filter(|(k, _)| ["20240106", "20240107", "20240113", "20240114"].contains(&k.as_str()))
        .map(|p| p.1)
        .collect();
    let week: f64 = days.iter().map(|p| p.1).sum::<f64>() / 31.0;
    assert!(weekend.iter().sum::<f64>() / 4.0 < week, "weekends dip");
}

#[tokio::test]
async fn report_dates_follow_the_server() {
    let emu = demo().await;
    let keys = |t: &Value| rows(t).iter().map(|r| r[0].clone()).collect::<Vec<_>>();
    // fromDay is raised to the caller's creation (2019-05-20) less 30 days.
    let early = [("reportInputFilter[fromDay]", "20100101"), ("reportInputFilter[toDay]", "20190425")];
    assert_eq!(
        keys(&report(&emu, "getTable", "201", &early).await),
        ["20190420", "20190421", "20190422", "20190423", "20190424", "20190425"]
    );
    let early = [("reportInputFilter[fromDate]", "1262304000"), ("reportInputFilter[toDate]", "1556150400")];
    assert_eq!(keys(&report(&emu, "getTable", "201", &early).await)[0], "20190420");
    // Seconds become the local days of their ends: 2024-01-01 22:30 UTC is already the 2nd at UTC+2.
    let tz = [("reportInputFilter[fromDate]", "1704148200"), ("reportInputFilter[toDate]", "1704234600")];
    assert_eq!(keys(&report(&emu, "getTable", "201", &tz).await), ["20240101", "20240102"]);
    let local = with(&tz, &[("reportInputFilter[timeZoneOffset]", "-120")]);
    assert_eq!(keys(&report(&emu, "getTable", "201", &local).await), ["20240102", "20240103"]);
    // Relative seconds count from now: the last week is eight days.
    let week = [("reportInputFilter[fromDate]", "-604800"), ("reportInputFilter[toDate]", "0")];
    assert_eq!(rows(&report(&emu, "getTable", "201", &week).await).len(), 8);
    // Bad ranges are no error: an inverted range has no days, a one-sided one no figures.
    let inverted = [("reportInputFilter[fromDay]", "20240131"), ("reportInputFilter[toDay]", "20240101")];
    let none = report(&emu, "getTable", "201", &inverted).await;
    assert_eq!((none["data"].as_str(), none["totalCount"].as_i64()), (Some(""), Some(0)));
    assert_eq!(
        report(&emu, "getTable", "19", &inverted).await,
        serde_json::json!({"objectType": "KalturaReportTable"})
    );
    let total = report(&emu, "getTotal", "42", &inverted).await;
    assert!(total["data"].as_str().unwrap().starts_with("0|0|0|"), "{total}");
    let one_sided = [("reportInputFilter[fromDay]", "20240101")];
    let t = report(&emu, "getTotal", "201", &one_sided).await;
    assert!(t["data"].as_str().unwrap().split('|').all(|v| v == "0"), "{t}");
    // A partner has no figures before it existed.
    let before = [("reportInputFilter[fromDay]", "20190420"), ("reportInputFilter[toDay]", "20190525")];
    let multi = report(&emu, "getTable", "42", &before).await;
    let mut listed: Vec<String> = rows(&multi).iter().map(|r| r[2].clone()).collect();
    listed.sort();
    assert_eq!(listed, ["6464", "6472", "6474", "6475"], "the templates came in June 2019");
    let shanghai = report(&emu, "getGraphs", "20021", &with(&before, &[("objectIds", "6475")])).await;
    let storage = points(&shanghai, "average_storage");
    assert!(storage.iter().take_while(|(k, _)| k.as_str() < "20190521").all(|(_, v)| *v == 0.0), "{storage:?}");
    assert!(storage.last().unwrap().1 > 0.0);
}

#[tokio::test]
async fn reports_are_deterministic_need_no_feature_and_check_their_arguments() {
    let emu = demo().await;
    let again = demo().await;
    for (action, kind) in
        [("getTable", "42"), ("getTotal", "42"), ("getGraphs", "20021"), ("getTable", "19"), ("getTotal", "60")]
    {
        let first = report(&emu, action, kind, &H1_2024).await;
        assert_eq!(first, report(&emu, action, kind, &H1_2024).await, "{action} {kind}");
        assert_eq!(first, report(&again, action, kind, &H1_2024).await, "another emulator: {action} {kind}");
    }

    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.toml");
    std::fs::write(
        &seed,
        "[[partners]]\nid = 500\nname = \"Plain Parent\"\ngroup_type = 2\ncreated_at = 1600000000\n\n\
         [[partners]]\nid = 501\nname = \"Acme|Media; West\"\nparent_id = 500\ncreated_at = 1600000000\n",
    )
    .unwrap();
    let plain = start(EmulatorConfig { seed: Seed::File(seed), ..EmulatorConfig::for_tests() }).await;
    let table = report(&plain, "getTable", "42", &JAN_2024).await;
    let names: Vec<String> = rows(&table).iter().map(|r| r[1].clone()).collect();
    assert!(names.contains(&"Acme Media  West".to_string()), "the delimiter and ';' become spaces: {names:?}");
    assert_eq!(table["totalCount"], 2, "no analytics feature, yet figures");
    let features =
        call(&plain, "permission", "list", &[("filter[nameEqual]", "FEATURE_MULTI_ACCOUNT_ANALYTICS")]).await;
    assert_eq!(features["totalCount"], 0);

    let e = call(&emu, "report", "getTable", &[]).await;
    assert_eq!(e["message"], "Missing parameter \"reportType\"");
    let e =
        call(&emu, "report", "getTotal", &[("reportType", "300"), ("reportInputFilter[fromDay]", "20240101")]).await;
    assert_eq!(
        e["message"],
        "Invalid enumeration value \"300\" for parameter \"reportType\", expecting enumeration type \"KalturaReportType\""
    );
    let e = call(&emu, "report", "getTotal", &[("reportType", "42")]).await;
    assert_eq!(e["message"], "Missing parameter \"reportInputFilter\"");
    let weekly = [("reportType", "42"), ("reportInputFilter[interval]", "weeks")];
    let e = call(&emu, "report", "getGraphs", &weekly).await;
    assert_eq!(
        e["message"],
        "Invalid enumeration value \"weeks\" for parameter \"interval\", expecting enumeration type \"KalturaReportInterval\""
    );
    let e = call(&emu, "report", "getTable", &[("reportType", "42"), ("reportInputFilter[fromDay]", "20240101")]).await;
    assert_eq!(e["message"], "Missing parameter \"pager\"");
    let body = post_form(
        &emu,
        "/api_v3/service/report/action/getTable",
        &[("format", "1"), ("reportType", "42"), ("reportInputFilter[fromDay]", "1"), ("pager[pageSize]", "1")],
    )
    .await;
    assert!(body.contains("The access to service [report->gettable] is forbidden"), "{body}");
    // A valid type the emulator has no figures for answers empty.
    let other = report(&emu, "getTable", "1", &JAN_2024).await;
    assert_eq!(other, serde_json::json!({"objectType": "KalturaReportTable"}));
    let other = report(&emu, "getTable", "20006", &JAN_2024).await;
    assert_eq!(header(&other), ["os", "count_plays", "sum_time_viewed"]);
    assert!(!rows(&other).is_empty());
}

#[tokio::test]
async fn var_console_partner_usage_checks_in_the_servers_order_and_sums_by_period() {
    let emu = start(EmulatorConfig { children: 2000, ..EmulatorConfig::for_tests() }).await;
    let usage = |fields: &'static [(&'static str, &'static str)]| {
        let emu = &emu;
        async move { call(emu, "varconsole_varconsole", "getPartnerUsage", fields).await }
    };
    let e = usage(&[]).await;
    assert_eq!(
        (e["code"].as_str(), e["message"].as_str()),
        (Some("MAX_SUB_PUBLISHERS_EXCEEDED"), Some("Maximum number of sub-publishers exceeded"))
    );
    let e = usage(&[("usageFilter[interval]", "weekly")]).await;
    assert_eq!(e["code"], "INVALID_ENUM_VALUE", "arguments first");

    let child = child_ks(&emu, "6475").await;
    let e = call_as(&emu, &child, "varconsole_varconsole", "getPartnerUsage", &[]).await;
    assert_eq!(e["message"], "The usage of feature [varConsole] is forbidden");
    let user = ks::generate_v2_random(
        SECRET,
        &KsParams {
            partner_id: 6464,
            user_id: "viewer",
            session_type: 0,
            valid_until: emulator::unix_now() + 600,
            privileges: "",
            master_partner_id: None,
        },
    );
    let e = call_as(&emu, &user, "varconsole_varconsole", "getPartnerUsage", &[]).await;
    assert_eq!(e["message"], "The access to service [varconsole_varconsole->getpartnerusage] is forbidden");

    // No usage filter: the last 30 days, a row per day and partner.
    let daily = usage(&[("partnerFilter[idIn]", "6464,6475,7001"), ("pager[pageSize]", "500")]).await;
    assert_eq!(daily["objectType"], "KalturaPartnerUsageListResponse");
    assert_eq!(daily["totalCount"], 62, "31 days × the parent and Shanghai");
    let items = daily["objects"].as_array().unwrap();
    assert_eq!(items.len(), 62);
    let first = &items[0];
    assert_eq!((first["partnerId"].as_i64(), first["partnerName"].as_str()), (Some(6464), Some("Debbie Techpubs")));
    assert_eq!(first["dateId"].to_string().len(), 8, "YYYYMMDD: {first}");
    assert_eq!((first["partnerStatus"].as_i64(), first["partnerCreatedAt"].as_i64()), (Some(1), Some(1_558_350_180)));
    for field in [
        "bandwidth",
        "avgStorage",
        "peakStorage",
        "storage",
        "deletedStorage",
        "combinedStorageBandwidth",
        "transcodingUsage",
    ] {
        let v = first[field].as_f64().unwrap_or_else(|| panic!("{field} in {first}"));
        assert_eq!(v, v.ceil(), "{field} is rounded up");
    }
    for never in ["partnerPackage", "views", "plays", "entriesCount", "totalEntriesCount", "totalStorage"] {
        assert!(first.get(never).is_none(), "{never} is never filled: {first}");
    }
    let dates: Vec<(i64, i64)> =
        items.iter().map(|i| (i["dateId"].as_i64().unwrap(), i["partnerId"].as_i64().unwrap())).collect();
    assert!(dates.windows(2).all(|w| w[0] < w[1]), "by date, then partner");
    let total = &daily["total"];
    assert_eq!(total["objectType"], "KalturaVarPartnerUsageTotalItem");
    assert!(total.get("partnerId").is_none() && total.get("dateId").is_none());
    let bandwidth: f64 = items.iter().map(|i| i["bandwidth"].as_f64().unwrap()).sum();
    assert!(total["bandwidth"].as_f64().unwrap() <= bandwidth, "each item rounds up on its own");

    // A usage filter: a zero fromDate means 30 days ago, no interval means months; the pager pages the rows.
    let monthly = usage(&[
        ("partnerFilter[idIn]", "6475"),
        ("usageFilter[objectType]", "KalturaReportInputFilter"),
        ("usageFilter[fromDate]", "1704067200"),
        ("usageFilter[toDate]", "1719705600"),
        ("pager[pageSize]", "4"),
        ("pager[pageIndex]", "2"),
    ])
    .await;
    assert_eq!(monthly["totalCount"], 6);
    let months: Vec<i64> =
        monthly["objects"].as_array().unwrap().iter().map(|i| i["dateId"].as_i64().unwrap()).collect();
    assert_eq!(months, [202405, 202406]);
    let empty = usage(&[("partnerFilter[idIn]", "7001")]).await;
    assert_eq!(
        empty,
        serde_json::json!({
            "total": {"objectType": "KalturaVarPartnerUsageTotalItem"},
            "objects": [],
            "totalCount": 0,
            "objectType": "KalturaPartnerUsageListResponse"
        })
    );
}

#[tokio::test]
async fn permission_list_shows_the_partners_features() {
    let emu = demo().await;
    let granted = call(
        &emu,
        "permission",
        "list",
        &[
            ("filter[nameEqual]", "FEATURE_MULTI_ACCOUNT_ANALYTICS"),
            ("filter[statusEqual]", "1"),
            ("pager[pageSize]", "1"),
        ],
    )
    .await;
    assert_eq!(granted["objectType"], "KalturaPermissionListResponse");
    assert_eq!(granted["totalCount"], 1);
    let p = &granted["objects"][0];
    assert_eq!(
        (p["objectType"].as_str(), p["name"].as_str(), p["friendlyName"].as_str()),
        (Some("KalturaPermission"), Some("FEATURE_MULTI_ACCOUNT_ANALYTICS"), Some("FEATURE_MULTI_ACCOUNT_ANALYTICS"))
    );
    assert_eq!((p["type"].as_i64(), p["status"].as_i64(), p["partnerId"].as_i64()), (Some(2), Some(1), Some(6464)));
    let features = call(&emu, "permission", "list", &[("filter[typeIn]", "2,3")]).await;
    let names: Vec<&str> =
        features["objects"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["FEATURE_VAR_CONSOLE_LOGIN", "FEATURE_MULTI_ACCOUNT_ANALYTICS"]);
    let named =
        call(&emu, "permission", "list", &[("filter[nameIn]", "KMC_ACCESS,FEATURE_VAR_CONSOLE_LOGIN,NOPE")]).await;
    assert_eq!(named["totalCount"], 2);
    assert_eq!(call(&emu, "permission", "list", &[("filter[statusEqual]", "2")]).await["totalCount"], 0);
    let everything = call(&emu, "permission", "list", &[]).await;
    assert!(everything["objects"].as_array().unwrap().iter().any(|p| p["partnerId"] == 0), "partner 0's too");

    let child = child_ks(&emu, "6475").await;
    let theirs =
        call_as(&emu, &child, "permission", "list", &[("filter[nameEqual]", "FEATURE_MULTI_ACCOUNT_ANALYTICS")]).await;
    assert_eq!(theirs["totalCount"], 0, "a child without the feature: {theirs}");
    let body = post_form(&emu, "/api_v3/service/permission/action/list", &[("format", "1")]).await;
    assert!(body.contains("The access to service [permission->list] is forbidden"), "{body}");
}

#[tokio::test]
async fn register_wraps_every_failure_inside_it_as_partner_registration_error() {
    let emu = demo().await;
    let register = |fields: Vec<(&'static str, &'static str)>| {
        let emu = &emu;
        async move { call(emu, "partner", "register", &fields).await }
    };
    let valid = || {
        vec![
            ("partner[name]", "Kid"),
            ("partner[adminName]", "Kid Admin"),
            ("partner[adminEmail]", "kid@kids.example"),
            ("partner[description]", "d"),
        ]
    };
    let message = |e: &Value| {
        assert_eq!(e["code"], "PARTNER_REGISTRATION_ERROR", "{e}");
        e["args"]["MESSAGE"].as_str().unwrap().to_string()
    };
    let without = |name: &str| valid().into_iter().filter(|(k, _)| *k != name).collect::<Vec<_>>();
    assert_eq!(
        message(&register(without("partner[description]")).await),
        "The property \"description\" cannot be null"
    );
    assert_eq!(
        register(without("partner[description]")).await["message"],
        "Error while registering partner with message \"The property \"description\" cannot be null\""
    );
    assert_eq!(message(&register(without("partner[adminName]")).await), "The property \"adminName\" cannot be null");
    let mut long = valid();
    long.push(("partner[country]", "USA"));
    assert_eq!(message(&register(long).await), "The property \"country\" cannot have more than 2 characters");
    let mut read_only = valid();
    read_only.push(("partner[status]", "1"));
    assert_eq!(message(&register(read_only).await), "The property \"status\" cannot be updated");
    let mut both = valid();
    both.push(("partner[firstName]", "Kid"));
    assert_eq!(message(&register(both).await), "The property \"adminName\" is deprecated and should not be used");
    for template in ["7001", "6464", "999999"] {
        let mut t = valid();
        t.push(("templatePartnerId", template));
        assert_eq!(
            message(&register(t).await),
            "Partner id [6464] is not a VAR/GROUP, but is attempting to create child partner",
            "template {template}"
        );
    }
    let child = child_ks(&emu, "6475").await;
    let e = call_as(&emu, &child, "partner", "register", &valid()).await;
    assert_eq!(message(&e), "Partner id [6475] is not a VAR/GROUP, but is attempting to create child partner");
    let mut bad = valid();
    bad[2] = ("partner[adminEmail]", "kid");
    assert_eq!(message(&register(bad).await), "Invalid email address");
    let mut empty = valid();
    empty[0] = ("partner[name]", "");
    assert_eq!(message(&register(empty).await), "Please fill in the Partner's name");
    let mut taken = valid();
    taken[2] = ("partner[adminEmail]", "nora@northwind.example");
    assert_eq!(
        message(&register(taken.clone()).await),
        "User with email [nora@northwind.example] already exists in system."
    );
    taken.push(("cmsPassword", "not-her-password"));
    assert_eq!(message(&register(taken).await), "Invalid password for user with email [nora@northwind.example].");
    let e = call(&emu, "partner", "register", &[("cmsPassword", "x")]).await;
    assert_eq!(e["message"], "Missing parameter \"partner\"", "outside the try");
    let mut template = valid();
    template.push(("templatePartnerId", "6478"));
    let made = register(template).await;
    assert_eq!(
        (made["partnerParentId"].as_i64(), made["templatePartnerId"].as_i64()),
        (Some(6464), Some(6478)),
        "{made}"
    );
}
