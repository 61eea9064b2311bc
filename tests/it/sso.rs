//! Single sign-on against a real OpenID provider: oidc-provider (tests/oidc/provider.mjs, installed by
//! scripts/setup-test-deps.sh), driven through its own sign-in and consent pages.

use multi_account::config::oidc::{LocalLogin, Oidc};
use reqwest::StatusCode;
use reqwest::header::{LOCATION, ORIGIN};
use scraper::{Html, Selector};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::{ADMIN_EMAIL, Role, TestApp, client_with, spawn_app_with};

pub(crate) const CLIENT_ID: &str = "multi-account-console";
const CLIENT_SECRET: &str = "test-client-secret-7d1f";

/// The provider, running until dropped.
pub(crate) struct Provider {
    pub(crate) issuer: String,
    port: u16,
    _process: Child,
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Provider {
    /// oidc-provider on `port`, with the console at `console` as its client and `accounts` (`sub` → claims).
    pub(crate) async fn start(port: u16, console: &str, accounts: serde_json::Value, tamper: &str) -> Provider {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "oidc-provider is not installed in tests/oidc: run scripts/setup-test-deps.sh"
        );
        let mut process = Command::new("node")
            .arg("provider.mjs")
            .current_dir(&dir)
            .env("PORT", port.to_string())
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .env("REDIRECT_URI", format!("{console}/login/oidc/callback"))
            .env("POST_LOGOUT_REDIRECT_URI", format!("{console}/login"))
            .env("ACCOUNTS", accounts.to_string())
            .env("TAMPER", tamper)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs (it is installed with the official Node client's tests)");
        let mut lines = BufReader::new(process.stdout.take().expect("stdout")).lines();
        let issuer = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("the provider's output") {
                if let Some(issuer) = line.strip_prefix("listening ") {
                    return issuer.to_owned();
                }
            }
            panic!("the provider stopped before it listened")
        })
        .await
        .expect("the provider listens within 30 s");
        // Kept read: the provider writes notices later, and a closed pipe would end it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Provider { issuer, port, _process: process }
    }

    pub(crate) fn settings(&self) -> Oidc {
        Oidc {
            issuer: self.issuer.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: Some(kaltura::Secret::new(CLIENT_SECRET)),
            scopes: vec!["openid".to_owned(), "email".to_owned(), "profile".to_owned()],
            name: "Sign in with Test IdP".into(),
            role_claim: None,
            trust_email: false,
            link_by_email: false,
            allow_hs256: false,
        }
    }
}

/// A console on a port chosen first (the provider must know its redirect URI), with single sign-on.
pub(crate) async fn console_with_provider(
    accounts: serde_json::Value,
    tamper: &str,
    role_claim: Option<(&str, &str)>,
    local_login: LocalLogin,
) -> (TestApp, Provider) {
    console_with(accounts, tamper, |oidc, settings| {
        if let Some((claim, value)) = role_claim {
            oidc.scopes.push("groups".into());
            oidc.role_claim = Some((claim.to_owned(), vec![value.to_owned()]));
        }
        settings.local_login = local_login;
    })
    .await
}

/// [`console_with_provider`] with the single sign-on and console settings changed by `configure`.
async fn console_with(
    accounts: serde_json::Value,
    tamper: &str,
    configure: impl FnOnce(&mut Oidc, &mut multi_account::app::Settings),
) -> (TestApp, Provider) {
    let port = free_port();
    let console = format!("http://127.0.0.1:{port}");
    let provider = Provider::start(free_port(), &console, accounts, tamper).await;
    let mut oidc = provider.settings();
    let app = spawn_app_with(|s| {
        s.listen = SocketAddr::from(([127, 0, 0, 1], port));
        configure(&mut oidc, s);
        s.oidc = Some(oidc);
    })
    .await;
    (app, provider)
}

fn absolute(base: &str, location: &str) -> String {
    reqwest::Url::parse(base).unwrap().join(location).unwrap().to_string()
}

/// Follows the sign-in from the console's button through the provider's sign-in (as `login`) and consent pages,
/// back to the console's callback: the callback's answer.
pub(crate) async fn sign_in_through(app: &TestApp, client: &reqwest::Client, login: &str) -> reqwest::Response {
    through_provider_from(app, client, login, "/login/oidc").await
}

/// [`sign_in_through`] from another start on the console (`/login/oidc?link=true`, `?confirm=true`).
async fn through_provider_from(app: &TestApp, client: &reqwest::Client, login: &str, start: &str) -> reqwest::Response {
    follow(app, client, login, app.at(start)).await
}

/// Follows redirects and the provider's pages from `url` (as `login`) back to the console: the console's answer.
async fn follow(app: &TestApp, client: &reqwest::Client, login: &str, mut url: String) -> reqwest::Response {
    let mut form: Option<Vec<(String, String)>> = None;
    for _ in 0..20 {
        let res = match form.take() {
            Some(fields) => client.post(&url).form(&fields).send().await.unwrap(),
            None => client.get(&url).send().await.unwrap(),
        };
        if url.starts_with(&app.at("/login/oidc/callback"))
            || (url.starts_with(&app.url) && !url.contains("/login/oidc"))
        {
            return res;
        }
        if let Some(location) = res.headers().get(LOCATION) {
            url = absolute(&url, location.to_str().unwrap());
            continue;
        }
        if res.status() != StatusCode::OK || url.starts_with(&app.url) {
            return res;
        }
        // A page of the provider: its form, with the test's login.
        let html = Html::parse_document(&res.text().await.unwrap());
        let form_sel = Selector::parse("form").unwrap();
        let page_form = html.select(&form_sel).next().expect("the provider's page has a form");
        let action = page_form.value().attr("action").expect("a form action");
        let inputs = Selector::parse("input[name]").unwrap();
        let fields = page_form
            .select(&inputs)
            .map(|i| {
                let name = i.value().attr("name").unwrap().to_owned();
                let value = match name.as_str() {
                    "login" => login.to_owned(),
                    "password" => "any".to_owned(),
                    _ => i.value().attr("value").unwrap_or_default().to_owned(),
                };
                (name, value)
            })
            .collect();
        url = absolute(&url, action);
        form = Some(fields);
    }
    panic!("the sign-in did not come back to the console")
}

fn accounts() -> serde_json::Value {
    serde_json::json!({
        "admin-1": { "email": ADMIN_EMAIL, "email_verified": true, "given_name": "Ada", "family_name": "Admin" },
        "stranger-1": { "email": "stranger@example.com", "email_verified": true },
        "unverified-1": { "email": ADMIN_EMAIL, "email_verified": false },
        "lead-1": { "email": "lead@example.com", "email_verified": true, "given_name": "Lee", "family_name": "Lead",
                    "groups": ["staff", "ma-admins"] },
        "staff-1": { "email": "staff@example.com", "email_verified": true, "groups": ["staff"] },
    })
}

/// Links the console user `email` to the provider's `login`, as a role-claim creation or the user's own link would.
pub(crate) async fn link(app: &TestApp, provider: &Provider, login: &str, email: &str) {
    sqlx::query("UPDATE users SET oidc_subject = ? WHERE lower(email) = lower(?)")
        .bind(format!("{} {login}", provider.issuer))
        .bind(email)
        .execute(&app.db)
        .await
        .unwrap();
}

async fn subject_of(app: &TestApp, email: &str) -> Option<String> {
    sqlx::query_scalar("SELECT oidc_subject FROM users WHERE lower(email) = lower(?)")
        .bind(email)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn audit_details(app: &TestApp, action: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT details FROM audit_log WHERE action = ? ORDER BY id")
        .bind(action)
        .fetch_all(&app.db)
        .await
        .unwrap()
}

async fn signed_in(app: &TestApp, client: &reqwest::Client) -> bool {
    let res = client.get(app.at("/parents/6464/accounts")).send().await.unwrap();
    res.status() == StatusCode::OK && res.text().await.unwrap().contains("Sign out")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_existing_user_signs_in_through_the_provider_and_out_of_it_again() {
    let (app, provider) = console_with_provider(accounts(), "", None, LocalLogin::All).await;
    let page = app.client().get(app.at("/login")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Sign in with Test IdP"), "the provider's button: {page}");
    assert!(page.contains("name=\"password\""), "passwords stay offered");

    link(&app, &provider, "admin-1", ADMIN_EMAIL).await;
    let client = app.bare_client();
    let planted = client.get(app.at("/login")).send().await.unwrap();
    let before = planted.cookies().next().map(|c| c.value().to_owned());
    let res = sign_in_through(&app, &client, "admin-1").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/");
    let after = res.cookies().find(|c| c.name() == "ma_session").map(|c| c.value().to_owned());
    assert!(after.is_some() && after != before, "a new session id at sign-in");
    assert!(signed_in(&app, &client).await);
    let subject: Option<String> = sqlx::query_scalar("SELECT oidc_subject FROM users WHERE email = ?")
        .bind(ADMIN_EMAIL)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(subject, Some(format!("{} admin-1", provider.issuer)), "linked to the provider's subject");
    assert_eq!(audit_details(&app, "login.sso").await, [format!("subject {} admin-1", provider.issuer)]);

    // Signing out ends the provider's session too (RP-initiated logout), with the ID token as the hint.
    let res = client.post(app.at("/logout")).header(ORIGIN, &app.url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(location.starts_with(&format!("{}/session/end?", provider.issuer)), "{location}");
    assert!(location.contains("id_token_hint="), "{location}");
    assert!(!signed_in(&app, &client).await, "signed out of the console");
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains(&format!("form-action 'self' {} http://127.0.0.1:{}", app.emulator().url, provider.port)),
        "{csp}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn people_the_console_does_not_know_or_whose_email_is_unverified_are_refused() {
    let (app, _provider) = console_with_provider(accounts(), "", None, LocalLogin::All).await;
    for (login, message) in [
        ("stranger-1", "You are not a user of this console. Ask one of its administrators to add you."),
        ("unverified-1", "did not give a verified email address"),
    ] {
        let client = app.bare_client();
        let res = sign_in_through(&app, &client, login).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{login}");
        let page = res.text().await.unwrap();
        assert!(page.contains(message), "{login}: {page}");
        assert!(!signed_in(&app, &client).await, "{login} is not signed in");
    }
    let refusals = audit_details(&app, "login.sso_refused").await;
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    assert!(refusals[0].contains("stranger-1"), "the provider's subject is recorded: {refusals:?}");
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&app.db).await.unwrap();
    assert_eq!(users, 1, "nobody was created");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_email_the_provider_does_not_vouch_for_creates_from_the_role_claim_when_trusted_but_never_links() {
    let silent = serde_json::json!({
        "silent-admin": { "email": ADMIN_EMAIL, "groups": ["ma-admins"] },
        "silent-new": { "email": "new@example.com", "given_name": "Nia", "family_name": "New", "groups": ["ma-admins"] },
    });
    let (app, _provider) =
        console_with_provider(silent.clone(), "", Some(("groups", "ma-admins")), LocalLogin::All).await;
    let res = sign_in_through(&app, &app.bare_client(), "silent-new").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("did not give a verified email address"));

    let (app, provider) = console_with(silent, "", |oidc, _| {
        oidc.trust_email = true;
        oidc.link_by_email = true;
        oidc.scopes.push("groups".into());
        oidc.role_claim = Some(("groups".into(), vec!["ma-admins".into()]));
    })
    .await;
    // "nOAuth": whoever presents the administrator's email at the provider does not become the administrator.
    let client = app.bare_client();
    let res = sign_in_through(&app, &client, "silent-admin").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("is not linked to your identity at the identity provider"));
    assert!(!signed_in(&app, &client).await);
    assert_eq!(subject_of(&app, ADMIN_EMAIL).await, None, "the administrator stays unlinked");

    let client = app.bare_client();
    let res = sign_in_through(&app, &client, "silent-new").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "--oidc-trust-email: a new user is created from the claim");
    assert!(signed_in(&app, &client).await);
    assert_eq!(subject_of(&app, "new@example.com").await, Some(format!("{} silent-new", provider.issuer)));
    let links = audit_details(&app, "user.sso_link").await;
    assert_eq!(links, [format!("linked at creation to {} silent-new", provider.issuer)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn existing_users_are_linked_by_email_only_when_asked_and_never_an_administrator_or_a_second_identity() {
    let people = serde_json::json!({
        "mgr-1": { "email": "manager@example.com", "email_verified": true },
        "mgr-2": { "email": "MANAGER@example.com", "email_verified": true },
        "admin-1": { "email": ADMIN_EMAIL, "email_verified": true },
        "tfa-1": { "email": "tfa@example.com", "email_verified": true },
        "blocked-1": { "email": "blocked@example.com", "email_verified": true },
    });
    let (app, _provider) = console_with_provider(people.clone(), "", None, LocalLogin::All).await;
    app.create_user("manager@example.com", Role::Manager, "manager password 1").await;
    let res = sign_in_through(&app, &app.bare_client(), "mgr-1").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "not linked by email unless asked");
    assert!(res.text().await.unwrap().contains("is not linked to your identity at the identity provider"));
    assert_eq!(subject_of(&app, "manager@example.com").await, None);

    let (app, provider) = console_with(people, "", |oidc, _| oidc.link_by_email = true).await;
    app.create_user("manager@example.com", Role::Manager, "manager password 1").await;
    app.create_user("tfa@example.com", Role::Manager, "tfa password 123").await;
    sqlx::query("UPDATE users SET totp_secret = 'sealed' WHERE email = 'tfa@example.com'")
        .execute(&app.db)
        .await
        .unwrap();
    let blocked = app.create_user("blocked@example.com", Role::Manager, "blocked password 1").await;
    sqlx::query("UPDATE users SET status = 'blocked' WHERE id = ?").bind(blocked).execute(&app.db).await.unwrap();

    let res = sign_in_through(&app, &app.bare_client(), "mgr-1").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "a Manager is linked by the verified email");
    let first = format!("{} mgr-1", provider.issuer);
    assert_eq!(subject_of(&app, "manager@example.com").await, Some(first.clone()));
    assert_eq!(audit_details(&app, "user.sso_link").await, [format!("linked by verified email to {first}")]);

    // A second identity with the same email does not take the link over.
    let res = sign_in_through(&app, &app.bare_client(), "mgr-2").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("linked to another identity"));
    assert_eq!(subject_of(&app, "manager@example.com").await, Some(first), "the first link stays");

    for (login, email, message) in [
        ("admin-1", ADMIN_EMAIL, "is an administrator or signs in with a second factor"),
        ("tfa-1", "tfa@example.com", "is an administrator or signs in with a second factor"),
        ("blocked-1", "blocked@example.com", "Your console user is blocked."),
    ] {
        let client = app.bare_client();
        let res = sign_in_through(&app, &client, login).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{login}");
        assert!(res.text().await.unwrap().contains(message), "{login}");
        assert_eq!(subject_of(&app, email).await, None, "{login} stays unlinked");
    }
    let refusals = audit_details(&app, "login.sso_refused").await;
    assert_eq!(refusals.len(), 4, "each refusal is audited: {refusals:?}");
    assert!(refusals[0].contains("mgr-2"), "{refusals:?}");
    assert_eq!(audit_details(&app, "user.sso_link").await.len(), 1, "one link, audited once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_in_user_links_their_own_identity_after_confirming_it_is_them() {
    let (app, provider) = console_with_provider(accounts(), "", None, LocalLogin::All).await;
    let client = app.client();
    assert_eq!(app.login(&client, ADMIN_EMAIL, crate::support::ADMIN_PASSWORD).await.status(), StatusCode::SEE_OTHER);
    let page = client.get(app.at("/account/two-factor")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Link to Sign in with Test IdP"), "{page}");

    // Linking adds a way in: the identity is confirmed first.
    let res = client.get(app.at("/login/oidc?link=true&next=%2Faccount%2Ftwo-factor")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/account/confirm?next=%2Faccount%2Ftwo-factor");
    app.confirm(&client, crate::support::ADMIN_PASSWORD).await;
    let res =
        through_provider_from(&app, &client, "admin-1", "/login/oidc?link=true&next=%2Faccount%2Ftwo-factor").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/account/two-factor");
    assert_eq!(subject_of(&app, ADMIN_EMAIL).await, Some(format!("{} admin-1", provider.issuer)));
    assert_eq!(
        audit_details(&app, "user.sso_link").await,
        [format!("linked by the signed-in user to {} admin-1", provider.issuer)]
    );
    let page = client.get(app.at("/account/two-factor")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Your console user is linked to your identity"), "{page}");

    // Now the provider signs the administrator in.
    let other = app.bare_client();
    assert_eq!(sign_in_through(&app, &other, "admin-1").await.status(), StatusCode::SEE_OTHER);
    assert!(signed_in(&app, &other).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_role_claim_creates_administrators_and_taking_it_away_ends_their_access() {
    let (app, provider) = console_with_provider(accounts(), "", Some(("groups", "ma-admins")), LocalLogin::All).await;
    let client = app.bare_client();
    let res = sign_in_through(&app, &client, "lead-1").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", res.text().await.unwrap());
    assert!(signed_in(&app, &client).await);
    let lead = multi_account::db::users::find_by_email(&app.db, "lead@example.com").await.unwrap().expect("created");
    assert_eq!(
        (lead.role, lead.first_name.as_str(), lead.last_name.as_str()),
        (Role::PublisherAdministrator, "Lee", "Lead")
    );
    assert_eq!(audit_details(&app, "user.add").await.len(), 1);
    assert_eq!(audit_details(&app, "user.sso_link").await.len(), 1, "the new user's link is audited");

    let staff = app.bare_client();
    let res = sign_in_through(&app, &staff, "staff-1").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("Your organisation does not give you access to this console."));

    // Removed by an administrator, the claim does not bring them back.
    let admin = app.admin_confirmed().await;
    let res = admin.post(app.at(&format!("/users/{}/remove", lead.id))).send().await.unwrap();
    assert!(res.status().is_redirection() || res.status().is_success(), "{}", res.status());
    let res = sign_in_through(&app, &app.bare_client(), "lead-1").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("An administrator removed you from this console."));
    // Added again by an administrator, they are an administrator the claim does not link by email; they link their
    // identity themselves, and get in.
    app.create_user("lead@example.com", Role::PublisherAdministrator, "lead password 12").await;
    let res = sign_in_through(&app, &app.bare_client(), "lead-1").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("is not linked to your identity at the identity provider"));
    let lead = app.signed_in("lead@example.com", "lead password 12").await;
    app.confirm(&lead, "lead password 12").await;
    let res = through_provider_from(&app, &lead, "lead-1", "/login/oidc?link=true&next=%2Faccount%2Ftwo-factor").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = sign_in_through(&app, &client, "lead-1").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "linked by themselves, they get in");
    assert!(signed_in(&app, &client).await);

    // The provider takes the group away: the next sign-in is refused, and the session made under it ends.
    let port = provider.port;
    drop(provider);
    let mut changed = accounts();
    changed["lead-1"]["groups"] = serde_json::json!(["staff"]);
    let _provider = Provider::start(port, &app.url, changed, "").await;
    let again = app.bare_client();
    let res = sign_in_through(&app, &again, "lead-1").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let lead = multi_account::db::users::find_by_email(&app.db, "lead@example.com").await.unwrap().unwrap();
    assert!(!lead.role.is_admin(), "no longer an administrator");
    assert!(!signed_in(&app, &client).await, "the earlier session ended with the access");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_or_expired_id_token_signs_nobody_in() {
    for (tamper, message) in
        [("signature", "could not be verified, so nobody was signed in"), ("expire", "has expired or is not valid yet")]
    {
        let (app, _provider) = console_with_provider(accounts(), tamper, None, LocalLogin::All).await;
        let client = app.bare_client();
        let res = sign_in_through(&app, &client, "admin-1").await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{tamper}");
        let page = res.text().await.unwrap();
        assert!(page.contains(message), "{tamper}: {page}");
        assert!(!signed_in(&app, &client).await, "{tamper}: nobody is signed in");
        assert_eq!(audit_details(&app, "login.sso_refused").await.len(), 1, "{tamper}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_that_does_not_match_the_sign_in_or_a_denied_consent_is_refused() {
    let (app, _provider) = console_with_provider(accounts(), "", None, LocalLogin::All).await;
    let client = app.bare_client();
    // No sign-in was started in this session.
    let res = client.get(app.at("/login/oidc/callback?code=abc&state=xyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("This sign-in was not started here"));

    let start = client.get(app.at("/login/oidc")).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let auth = reqwest::Url::parse(start.headers()[LOCATION].to_str().unwrap()).unwrap();
    let query: std::collections::HashMap<_, _> = auth.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256", "PKCE");
    assert!(query.contains_key("nonce") && query.contains_key("state"));
    let res = client.get(app.at("/login/oidc/callback?code=abc&state=not-the-one")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "a state that does not match");
    assert!(res.text().await.unwrap().contains("This sign-in was not started here"));

    // An error that does not carry this sign-in's state is someone else's link: it cancels nothing.
    let start = client.get(app.at("/login/oidc")).send().await.unwrap();
    let auth = reqwest::Url::parse(start.headers()[LOCATION].to_str().unwrap()).unwrap();
    let state = auth.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned()).unwrap();
    let forged = "/login/oidc/callback?error=server_error&error_description=Call+this+number&state=forged";
    let res = client.get(app.at(forged)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(!res.text().await.unwrap().contains("Call this number"), "its text is not shown");
    let start = client.get(app.at("/login/oidc")).send().await.unwrap();
    let auth = reqwest::Url::parse(start.headers()[LOCATION].to_str().unwrap()).unwrap();
    let state_now = auth.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned()).unwrap();
    assert_ne!(state, state_now, "each sign-in has its own state");
    let res = client
        .get(app.at(&format!(
            "/login/oidc/callback?error=access_denied&error_description=End-User+aborted&state={state_now}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("The sign-in was cancelled at the identity provider."));
    assert!(!signed_in(&app, &client).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_that_does_not_answer_gets_a_clear_message() {
    let closed = free_port();
    let app = spawn_app_with(|s| {
        s.oidc = Some(Oidc {
            issuer: format!("http://127.0.0.1:{closed}"),
            client_id: CLIENT_ID.into(),
            client_secret: None,
            scopes: vec!["openid".into(), "email".into()],
            name: "Single sign-on".into(),
            role_claim: None,
            trust_email: false,
            link_by_email: false,
            allow_hs256: false,
        });
    })
    .await;
    let res = app.client().get(app.at("/login/oidc")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let page = res.text().await.unwrap();
    assert!(page.contains("The identity provider cannot be reached. Try again in a moment."), "{page}");
    assert!(page.contains("name=\"password\""), "the password form is still there");
}

#[tokio::test(flavor = "multi_thread")]
async fn passwords_can_be_kept_for_administrators_only_or_turned_off() {
    let (app, _provider) = console_with_provider(accounts(), "", None, LocalLogin::OnlyAdmins).await;
    app.create_user("manager@example.com", Role::Manager, "manager password 1").await;
    let res = app.login(&client_with(origin(&app)), "manager@example.com", "manager password 1").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("Only administrators sign in with a password here"));
    let admin = app.login(&client_with(origin(&app)), ADMIN_EMAIL, crate::support::ADMIN_PASSWORD).await;
    assert_eq!(admin.status(), StatusCode::SEE_OTHER, "the break-glass administrator still gets in");

    let (none, _provider) = console_with_provider(accounts(), "", None, LocalLogin::None).await;
    let page = none.client().get(none.at("/login")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Sign in with Test IdP") && !page.contains("name=\"password\""), "{page}");
    let res = none.login(&client_with(origin(&none)), ADMIN_EMAIL, crate::support::ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("Passwords are turned off here"));
}

fn origin(app: &TestApp) -> reqwest::header::HeaderMap {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(ORIGIN, app.url.parse().unwrap());
    headers
}

#[tokio::test(flavor = "multi_thread")]
async fn required_two_factor_is_left_to_the_provider_for_single_sign_on() {
    let (app, provider) = console_with(accounts(), "", |_, settings| {
        settings.require_2fa = true;
        settings.secret_key = Some(crate::two_factor::key(crate::two_factor::KEY));
    })
    .await;
    link(&app, &provider, "admin-1", ADMIN_EMAIL).await;
    let client = app.bare_client();
    let res = sign_in_through(&app, &client, "admin-1").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(signed_in(&app, &client).await, "not sent to set up a second factor");
    let local = app.admin().await;
    let res = local.get(app.at("/parents/6464/accounts")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "a password sign-in is");
    assert_eq!(res.headers()[LOCATION], "/account/two-factor");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_secret_the_provider_does_not_accept_is_named_as_such() {
    let (app, _provider) =
        console_with(accounts(), "", |oidc, _| oidc.client_secret = Some(kaltura::Secret::new("not-the-secret"))).await;
    let client = app.bare_client();
    let res = sign_in_through(&app, &client, "admin-1").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let page = res.text().await.unwrap();
    assert!(page.contains("does not accept the console&#39;s client settings (client id or secret)."), "{page}");
    assert!(!page.contains("not-the-secret"), "the secret is never shown");
    assert!(!signed_in(&app, &client).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn id_tokens_signed_with_the_client_secret_are_refused_unless_allowed() {
    let (app, provider) = console_with_provider(accounts(), "hs256", None, LocalLogin::All).await;
    link(&app, &provider, "admin-1", ADMIN_EMAIL).await;
    let client = app.bare_client();
    let res = sign_in_through(&app, &client, "admin-1").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "HS256, though the provider advertises it");
    assert!(res.text().await.unwrap().contains("could not be verified, so nobody was signed in"));
    assert!(!signed_in(&app, &client).await);

    let (app, provider) = console_with(accounts(), "hs256", |oidc, _| oidc.allow_hs256 = true).await;
    link(&app, &provider, "admin-1", ADMIN_EMAIL).await;
    let client = app.bare_client();
    assert_eq!(sign_in_through(&app, &client, "admin-1").await.status(), StatusCode::SEE_OTHER, "allowed");
    assert!(signed_in(&app, &client).await);
}

async fn rows(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&app.db).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_starts_and_stray_answers_write_nothing_and_provider_text_is_clipped() {
    let (app, _provider) = console_with_provider(accounts(), "", None, LocalLogin::All).await;
    let sessions = rows(&app, "sessions").await;
    // A sign-in under way whose provider answers with a long error: the page and the log keep a part of it.
    let client = app.bare_client();
    let start = client.get(app.at("/login/oidc")).send().await.unwrap();
    let auth = reqwest::Url::parse(start.headers()[LOCATION].to_str().unwrap()).unwrap();
    let state = auth.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned()).unwrap();
    let long = format!("server_broke{}", "y".repeat(4000));
    let res = client
        .get(app.at(&format!("/login/oidc/callback?error=server_error&error_description={long}&state={state}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let page = res.text().await.unwrap();
    assert!(page.contains("server_broke") && !page.contains(&"y".repeat(300)), "clipped on the page");
    let logged = audit_details(&app, "login.sso_refused").await;
    assert_eq!(logged.len(), 1);
    assert!(logged[0].contains("server_broke") && logged[0].len() <= 200, "clipped in the log: {}", logged[0].len());

    // Anonymous starts and answers, with a sign-in under way or none, add nothing more from this address.
    let audit = rows(&app, "audit_log").await;
    for _ in 0..20 {
        let client = app.bare_client();
        assert_eq!(client.get(app.at("/login/oidc")).send().await.unwrap().status(), StatusCode::SEE_OTHER);
        let res = client.get(app.at(&format!("/login/oidc/callback?code=a&state=b&error_description={long}")));
        assert_eq!(res.send().await.unwrap().status(), StatusCode::BAD_REQUEST);
        let stray = app.bare_client().get(app.at("/login/oidc/callback?code=abc&state=xyz")).send().await.unwrap();
        assert_eq!(stray.status(), StatusCode::BAD_REQUEST);
    }
    assert_eq!(rows(&app, "sessions").await, sessions, "the sign-in under way is a cookie, not a session row");
    assert_eq!(rows(&app, "audit_log").await, audit, "logged once per address per window");
}

#[tokio::test(flavor = "multi_thread")]
async fn users_the_role_claim_creates_count_against_the_users_quota() {
    let (app, _provider) = console_with_provider(accounts(), "", Some(("groups", "ma-admins")), LocalLogin::All).await;
    // The demo parent's adminLoginUsersQuota is 3: the administrator and two more fill it.
    app.create_user("one@example.com", Role::Manager, "one password 123").await;
    app.create_user("two@example.com", Role::Manager, "two password 123").await;
    let client = app.bare_client();
    let res = sign_in_through(&app, &client, "lead-1").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("users quota is reached"));
    assert!(multi_account::db::users::find_by_email(&app.db, "lead@example.com").await.unwrap().is_none());
    let refused: Vec<String> =
        sqlx::query_scalar("SELECT details FROM audit_log WHERE action = 'user.add' AND result = 'refused'")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(refused, ["quota of 3 users reached"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_single_sign_on_session_confirms_its_identity_at_the_provider() {
    let (app, provider) = console_with_provider(accounts(), "", None, LocalLogin::All).await;
    link(&app, &provider, "admin-1", ADMIN_EMAIL).await;
    let manager = app.create_user("manager@example.com", Role::Manager, "manager password 1").await;
    let client = app.bare_client();
    assert_eq!(sign_in_through(&app, &client, "admin-1").await.status(), StatusCode::SEE_OTHER);
    let role = |client: &reqwest::Client| {
        client
            .post(app.at(&format!("/users/{manager}/role")))
            .header(ORIGIN, &app.url)
            .form(&[("role", "publisher_administrator")])
            .send()
    };
    let res = role(&client).await.unwrap();
    assert_eq!(res.headers()[LOCATION], "/account/confirm?next=%2Fusers", "sensitive: confirm first");
    let page = client.get(app.at("/account/confirm?next=%2Fusers")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Confirm with Sign in with Test IdP") && !page.contains("name=\"password\""), "{page}");
    let res = through_provider_from(&app, &client, "admin-1", "/login/oidc?confirm=true&next=%2Fusers").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = role(&client).await.unwrap();
    assert_eq!(res.headers()[LOCATION], "/users", "confirmed at the provider");
    let user = multi_account::db::users::get(&app.db, manager).await.unwrap().unwrap();
    assert_eq!(user.role, Role::PublisherAdministrator);
}

#[tokio::test(flavor = "multi_thread")]
async fn linking_and_confirming_are_for_the_user_signed_in_in_that_browser() {
    let people = serde_json::json!({
        "admin-1": { "email": ADMIN_EMAIL, "email_verified": true },
        "mgr-1": { "email": "manager@example.com", "email_verified": true },
    });
    let (app, provider) = console_with_provider(people, "", None, LocalLogin::All).await;
    app.create_user("manager@example.com", Role::Manager, "manager password 1").await;
    link(&app, &provider, "mgr-1", "manager@example.com").await;

    // A link started, then the session signed out before the provider answered: nothing is linked.
    let client = app.client();
    assert_eq!(app.login(&client, ADMIN_EMAIL, crate::support::ADMIN_PASSWORD).await.status(), StatusCode::SEE_OTHER);
    app.confirm(&client, crate::support::ADMIN_PASSWORD).await;
    let begun = client.get(app.at("/login/oidc?link=true&next=%2Faccount%2Ftwo-factor")).send().await.unwrap();
    let at_provider = begun.headers()[LOCATION].to_str().unwrap().to_owned();
    client.post(app.at("/logout")).send().await.unwrap();
    let res = follow(&app, &client, "admin-1", at_provider).await;
    assert!(res.status().is_client_error() || res.status().is_redirection(), "{}", res.status());
    assert_eq!(subject_of(&app, ADMIN_EMAIL).await, None, "a link is made only for the session that asked");

    // Confirming as another person at the provider changes nothing here.
    link(&app, &provider, "admin-1", ADMIN_EMAIL).await;
    let admin = app.bare_client();
    assert_eq!(sign_in_through(&app, &admin, "admin-1").await.status(), StatusCode::SEE_OTHER);
    let res = through_provider_from(&app, &admin, "mgr-1", "/login/oidc?confirm=true&next=%2Fusers").await;
    assert_eq!(res.headers()[LOCATION], "/users");
    let page = admin.get(app.at("/users")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("You confirmed as someone else"), "{page}");
    assert!(page.contains(ADMIN_EMAIL), "still the administrator's session");
    let me = app.user_id(ADMIN_EMAIL).await;
    let res = admin.post(app.at(&format!("/users/{me}/block"))).header(ORIGIN, &app.url).send().await.unwrap();
    assert_eq!(res.headers()[LOCATION], "/account/confirm?next=%2Fusers", "not confirmed");

    // A password is no way to confirm a session made through the provider.
    let res = admin
        .post(app.at("/account/confirm"))
        .header(ORIGIN, &app.url)
        .form(&[("password", crate::support::ADMIN_PASSWORD), ("next", "/users")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("Confirm with your organisation"));
}
