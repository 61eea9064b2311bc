//! Two-factor sign-in: set-up, the code step at sign-in, recovery codes, the lock-out, turning it off, the
//! administrator's and the command line's reset, `--require-2fa`, and the key that encrypts the secrets. Codes are
//! computed here from the secret the set-up page shows, with HMAC-SHA1 as RFC 6238 says, not with the console's code.

use hmac::{Hmac, KeyInit as _, Mac as _};
use multi_account::db::audit::{self, Filter};
use multi_account::identity::totp::Secret;
use multi_account::seal::SecretKey;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use scraper::{Html, Selector};
use std::process::Command;

use crate::support::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Answer, Clock, Role, TestApp, answer, get, spawn_app, spawn_app_with,
};

pub(crate) const KEY: &str = "the tests' key for two-factor secrets, long enough";
const OTHER_KEY: &str = "another key for two-factor secrets, also long enough";

pub(crate) fn key(value: &str) -> SecretKey {
    SecretKey::derive(value).expect("a long enough key")
}

/// A console with the secret key set, on a clock the test moves: it stands five seconds into a code's step, so a code
/// computed from it is the server's current one whenever it arrives.
pub(crate) async fn spawn_with_key() -> TestApp {
    spawn_app_with(|s| {
        s.secret_key = Some(key(KEY));
        s.clock = step_clock();
    })
    .await
}

/// A manual clock five seconds into the step of the system's time now.
pub(crate) fn step_clock() -> Clock {
    let now = Clock::system().now();
    Clock::manual(now - now % 30 + 5)
}

/// RFC 4648 base32, as the page shows it (in groups, without padding).
fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u64, Vec::new());
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let digit = ALPHABET.iter().position(|a| *a == c).unwrap_or_else(|| panic!("{c:?} is not base32"));
        value = (value << 5) | digit as u64;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
        }
    }
    out
}

/// The 6-digit code of the 30-second step that holds `unix` (RFC 6238 with HMAC-SHA1, RFC 4226's truncation).
pub(crate) fn code_at(secret: &str, unix: i64) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&base32_decode(secret)).expect("any key length");
    mac.update(&((unix / 30) as u64).to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = (hash[19] & 0x0f) as usize;
    let value = u32::from_be_bytes([hash[offset], hash[offset + 1], hash[offset + 2], hash[offset + 3]]) & 0x7fff_ffff;
    format!("{:06}", value % 1_000_000)
}

#[test]
fn the_tests_codes_are_rfc_6238s() {
    // RFC 6238 appendix B, SHA-1: 94287082 at 59 s and 07081804 at 1111111109 s, of which a 6-digit code is the end.
    let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    assert_eq!(code_at(secret, 59), "287082");
    assert_eq!(code_at(secret, 1_111_111_109), "081804");
}

fn select(doc: &Html, css: &str) -> Vec<String> {
    let selector = Selector::parse(css).expect("a selector");
    doc.select(&selector).map(|e| e.text().collect::<String>().trim().to_owned()).collect()
}

fn location(a: &Answer) -> &str {
    a.headers.get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

async fn post(app: &TestApp, client: &reqwest::Client, path: &str, form: &[(&str, &str)]) -> Answer {
    answer(client.post(app.at(path)).form(form).send().await.expect("the console answers")).await
}

/// Sets two-factor sign-in up through the pages, confirming with the current code; the secret (base32, as shown) and
/// the recovery codes.
async fn enrol(app: &TestApp, client: &reqwest::Client) -> (String, Vec<String>) {
    let set_up = post(app, client, "/account/two-factor/set-up", &[]).await;
    assert_eq!((set_up.status, location(&set_up)), (StatusCode::SEE_OTHER, "/account/two-factor"));
    let page = get(app, client, "/account/two-factor").await;
    assert_eq!(page.status, StatusCode::OK);
    let doc = Html::parse_document(&page.body);
    let secret = select(&doc, "#two-factor-secret").pop().expect("the secret in text").replace(' ', "");
    let confirmed =
        post(app, client, "/account/two-factor/confirm", &[("code", &code_at(&secret, app.clock().now()))]).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    let codes = select(&Html::parse_document(&confirmed.body), ".recovery-codes code");
    (secret, codes)
}

/// The password step of a user with two-factor sign-in: it asks for the code.
async fn password_step(app: &TestApp, email: &str, password: &str) -> reqwest::Client {
    let client = app.client();
    let res = app.login(&client, email, password).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/login/code", "the password alone does not sign in");
    client
}

async fn code_step(app: &TestApp, client: &reqwest::Client, code: &str) -> Answer {
    post(app, client, "/login/code", &[("code", code)]).await
}

async fn signed_in(app: &TestApp, client: &reqwest::Client) -> bool {
    get(app, client, "/parents/6464/accounts").await.status == StatusCode::OK
}

async fn audit_codes(app: &TestApp) -> Vec<String> {
    let lines = audit::page(&app.db, &Filter::default(), 500, 0).await.expect("the audit log reads");
    lines.into_iter().rev().map(|l| format!("{} {} {} {}", l.action, l.actor, l.target, l.details)).collect()
}

async fn stored_secret(app: &TestApp, email: &str) -> Option<String> {
    sqlx::query_scalar("SELECT totp_secret FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.db)
        .await
        .expect("the user exists")
}

#[tokio::test]
async fn set_up_shows_a_qr_code_and_the_key_then_the_recovery_codes_once() {
    let app = spawn_with_key().await;
    let client = app.admin().await;
    let page = get(&app, &client, "/parents/6464/accounts").await;
    assert!(page.body.contains(r#"href="/account/two-factor">Two-factor: off</a>"#), "linked from the header");

    let off = get(&app, &client, "/account/two-factor").await;
    assert!(off.body.contains("Two-factor sign-in is <strong>off</strong>"), "{}", off.body);
    post(&app, &client, "/account/two-factor/set-up", &[]).await;
    let setting_up = get(&app, &client, "/account/two-factor").await;
    assert!(setting_up.body.contains("<svg role=\"img\""), "the QR code, drawn by the server");
    assert!(!setting_up.body.contains("<?xml"), "inline, without a prologue");
    let doc = Html::parse_document(&setting_up.body);
    let shown = select(&doc, "#two-factor-secret").pop().unwrap();
    assert_eq!(shown.split(' ').count(), 8, "32 characters in groups of four: {shown}");
    let secret = shown.replace(' ', "");
    assert_eq!(base32_decode(&secret).len(), 20);
    assert_eq!(stored_secret(&app, ADMIN_EMAIL).await, None, "nothing stored before a code confirms it");

    let wrong = post(&app, &client, "/account/two-factor/confirm", &[("code", "000000")]).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("not the code your app shows"), "{}", wrong.body);
    assert!(wrong.body.contains(&shown), "the same key is shown again");

    let confirmed =
        post(&app, &client, "/account/two-factor/confirm", &[("code", &code_at(&secret, app.clock().now()))]).await;
    assert_eq!(confirmed.status, StatusCode::OK);
    let codes = select(&Html::parse_document(&confirmed.body), ".recovery-codes code");
    assert_eq!(codes.len(), 10);
    for c in &codes {
        assert!(c.len() == 11 && c.as_bytes()[5] == b'-', "{c}");
    }
    assert!(signed_in(&app, &client).await, "the session that set it up goes on");

    let on = get(&app, &client, "/account/two-factor").await;
    assert!(on.body.contains("Two-factor sign-in is <strong>on</strong>"));
    assert!(on.body.contains("10 of your recovery codes are left"));
    assert!(!on.body.contains(&codes[0]) && !on.body.contains(&shown), "neither codes nor key are shown again");

    // Stored encrypted: not the key, nor anything base32 of it; the console's key opens it for this user only.
    let stored = stored_secret(&app, ADMIN_EMAIL).await.expect("stored");
    assert!(!stored.contains(&secret) && !stored.to_uppercase().contains(&secret[..8]), "{stored}");
    let admin_id = app.user_id(ADMIN_EMAIL).await;
    assert_eq!(Secret::open(&key(KEY), admin_id, &stored).expect("the console's key opens it").base32(), secret);
    assert!(Secret::open(&key(OTHER_KEY), admin_id, &stored).is_err());
    let hashes: Vec<String> =
        sqlx::query_scalar("SELECT code_hash FROM recovery_codes").fetch_all(&app.db).await.unwrap();
    assert_eq!(hashes.len(), 10);
    assert!(hashes.iter().all(|h| h.len() == 64 && !codes.iter().any(|c| h.contains(&c.replace('-', "")))));

    assert!(audit_codes(&app).await.contains(&format!("user.2fa_enrol {ADMIN_EMAIL} {ADMIN_EMAIL} ")));
}

#[tokio::test]
async fn setting_it_up_ends_the_users_other_sessions() {
    let app = spawn_with_key().await;
    let elsewhere = app.admin().await;
    let client = app.admin().await;
    enrol(&app, &client).await;
    assert!(signed_in(&app, &client).await);
    assert!(!signed_in(&app, &elsewhere).await, "a session opened with the password alone is over");
}

#[tokio::test]
async fn the_code_step_takes_the_steps_either_side_of_now_and_each_code_once() {
    let app = spawn_with_key().await;
    let (secret, _) = enrol(&app, &app.admin().await).await;
    // Forget the step the set-up used, so the steps before it can be tried here.
    sqlx::query("UPDATE users SET totp_last_step = NULL").execute(&app.db).await.unwrap();

    let client = password_step(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let form = get(&app, &client, "/login/code").await;
    assert!(form.body.contains(r#"autocomplete="one-time-code""#) && form.body.contains(r#"inputmode="numeric""#));
    assert!(!signed_in(&app, &client).await, "not signed in between the steps");
    let t = app.clock().now();
    let two_back = code_step(&app, &client, &code_at(&secret, t - 60)).await;
    assert_eq!(two_back.status, StatusCode::UNAUTHORIZED, "two steps back is too old");
    assert!(two_back.body.contains("Wrong code."));
    let previous = code_step(&app, &client, &code_at(&secret, t - 30)).await;
    assert_eq!((previous.status, location(&previous)), (StatusCode::SEE_OTHER, "/"), "the previous step");
    assert!(signed_in(&app, &client).await);

    let client = password_step(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let replayed = code_step(&app, &client, &code_at(&secret, t - 30)).await;
    assert_eq!(replayed.status, StatusCode::UNAUTHORIZED, "a code is good once");
    let t = app.clock().now();
    let next = code_step(&app, &client, &code_at(&secret, t + 30)).await;
    assert_eq!(next.status, StatusCode::SEE_OTHER, "the next step (a clock a little ahead)");
    assert!(signed_in(&app, &client).await);

    let client = password_step(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let now_code = code_step(&app, &client, &code_at(&secret, app.clock().now())).await;
    assert_eq!(now_code.status, StatusCode::UNAUTHORIZED, "a step before the last one accepted is refused too");

    let log = audit_codes(&app).await;
    assert!(log.contains(&format!("login.2fa_failure {ADMIN_EMAIL} {ADMIN_EMAIL} wrong code")), "{log:?}");
    assert!(log.contains(&format!("login.2fa_failure {ADMIN_EMAIL} {ADMIN_EMAIL} code already used")), "{log:?}");
    assert!(log.contains(&format!("login {ADMIN_EMAIL} {ADMIN_EMAIL} with an authenticator code")), "{log:?}");
}

#[tokio::test]
async fn the_code_step_needs_the_password_step_first_and_unchanged_access() {
    let app = spawn_with_key().await;
    let (secret, _) = enrol(&app, &app.admin().await).await;
    let stranger = app.client();
    let res = code_step(&app, &stranger, &code_at(&secret, app.clock().now() + 30)).await;
    assert_eq!((res.status, location(&res)), (StatusCode::SEE_OTHER, "/login"), "no password, no code step");
    assert!(!signed_in(&app, &stranger).await);

    // The password changes between the steps: the waiting sign-in is over.
    let client = password_step(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let hash = multi_account::identity::password::hash("a new password for them".into()).await.unwrap();
    multi_account::db::users::set_password_hash(&app.db, app.user_id(ADMIN_EMAIL).await, &hash).await.unwrap();
    let res = code_step(&app, &client, &code_at(&secret, app.clock().now() + 30)).await;
    assert_eq!((res.status, location(&res)), (StatusCode::SEE_OTHER, "/login"));
    assert!(!signed_in(&app, &client).await);
    let login = get(&app, &client, "/login").await;
    assert!(login.body.contains("Your sign-in has expired: enter your password again."), "{}", login.body);
}

#[tokio::test]
async fn a_recovery_code_signs_in_once() {
    let app = spawn_with_key().await;
    let (_, codes) = enrol(&app, &app.admin().await).await;

    let client = password_step(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let used = code_step(&app, &client, &codes[3].to_uppercase()).await;
    assert_eq!(used.status, StatusCode::SEE_OTHER, "in any case: {}", used.body);
    let first = get(&app, &client, "/parents/6464/accounts").await;
    assert!(first.body.contains("You signed in with a recovery code: 9 recovery codes are left."), "{}", first.body);
    assert!(signed_in(&app, &client).await);
    let page = get(&app, &client, "/account/two-factor").await;
    assert!(page.body.contains("9 of your recovery codes are left"));
    assert!(page.body.contains("Two-factor: on</a>"), "the header says so");

    let client = password_step(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let again = code_step(&app, &client, &codes[3]).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "a recovery code works once");
    assert!(!signed_in(&app, &client).await);
    let other = code_step(&app, &client, &codes[4].replace('-', " ")).await;
    assert_eq!(other.status, StatusCode::SEE_OTHER);
    assert!(
        audit_codes(&app).await.contains(&format!("login {ADMIN_EMAIL} {ADMIN_EMAIL} with a recovery code (8 left)"))
    );
}

#[tokio::test]
async fn five_wrong_codes_lock_the_sign_in_as_five_wrong_passwords_do() {
    let app = spawn_with_key().await;
    let (secret, _) = enrol(&app, &app.admin().await).await;
    // A sign-in waiting for its code takes three wrong ones, then the password is asked again.
    let client = password_step(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    for attempt in 1..=3 {
        let res = code_step(&app, &client, "123456").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let ended = code_step(&app, &client, "123456").await;
    assert_eq!(location(&ended), "/login", "the third wrong code ended the waiting sign-in");
    let client = password_step(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let fourth = code_step(&app, &client, "123456").await;
    assert_eq!(fourth.status, StatusCode::UNAUTHORIZED);
    let fifth = code_step(&app, &client, "not-a-code").await;
    assert_eq!(fifth.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        fifth
            .body
            .contains("Wrong code. Too many failed sign-in attempts: sign-in is locked. Try again in 60 seconds.")
    );

    let right = code_step(&app, &client, &code_at(&secret, app.clock().now() + 30)).await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS, "the right code is refused while locked");
    assert!(!signed_in(&app, &client).await);
    let password = app.login(&app.client(), ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(password.status(), StatusCode::TOO_MANY_REQUESTS, "and so is the password step");

    let log = audit_codes(&app).await;
    assert_eq!(log.iter().filter(|l| l.starts_with("login.2fa_failure")).count(), 5, "{log:?}");
    assert!(log.iter().any(|l| l.starts_with(&format!("login.lockout {ADMIN_EMAIL}"))), "{log:?}");
    assert!(log.iter().any(|l| l.starts_with(&format!("login.refused {ADMIN_EMAIL}"))), "{log:?}");
}

#[tokio::test]
async fn turning_it_off_takes_a_code() {
    let app = spawn_with_key().await;
    let client = app.admin().await;
    let (secret, _) = enrol(&app, &client).await;

    let wrong = post(&app, &client, "/account/two-factor/turn-off", &[("code", "000000")]).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("Wrong code: two-factor sign-in is still on."));
    assert!(stored_secret(&app, ADMIN_EMAIL).await.is_some());

    let off =
        post(&app, &client, "/account/two-factor/turn-off", &[("code", &code_at(&secret, app.clock().now() + 30))])
            .await;
    assert_eq!((off.status, location(&off)), (StatusCode::SEE_OTHER, "/account/two-factor"));
    let page = get(&app, &client, "/account/two-factor").await;
    assert!(page.body.contains("Two-factor sign-in is off: you sign in with your password alone."));
    assert_eq!(stored_secret(&app, ADMIN_EMAIL).await, None);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes").fetch_one(&app.db).await.unwrap();
    assert_eq!(left, 0, "the recovery codes go with it");

    app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let log = audit_codes(&app).await;
    assert!(log.contains(&format!("user.2fa_disable {ADMIN_EMAIL} {ADMIN_EMAIL} wrong code")), "{log:?}");
    assert!(log.contains(&format!("user.2fa_disable {ADMIN_EMAIL} {ADMIN_EMAIL} ")), "{log:?}");
}

#[tokio::test]
async fn new_recovery_codes_take_a_code_and_replace_the_old_ones() {
    let app = spawn_with_key().await;
    let client = app.admin().await;
    let (secret, old) = enrol(&app, &client).await;
    let page = get(&app, &client, "/account/two-factor").await;
    assert!(page.body.contains("Make new recovery codes"), "offered once it is on");

    let wrong = post(&app, &client, "/account/two-factor/recovery-codes", &[("code", "000000")]).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("Wrong code: your recovery codes are unchanged."), "{}", wrong.body);

    let made = post(
        &app,
        &client,
        "/account/two-factor/recovery-codes",
        &[("code", &code_at(&secret, app.clock().now() + 30))],
    )
    .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    assert!(made.body.contains("New recovery codes: the earlier ones no longer work."));
    let new = select(&Html::parse_document(&made.body), ".recovery-codes code");
    assert_eq!(new.len(), 10);
    assert!(new.iter().all(|c| !old.contains(c)), "all new");

    let refused = code_step(&app, &password_step(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await, &old[0]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "an old code no longer signs in");
    let client = password_step(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(code_step(&app, &client, &new[0]).await.status, StatusCode::SEE_OTHER, "a new one does");
    let log = audit_codes(&app).await;
    assert!(log.contains(&format!("user.2fa_recovery_codes {ADMIN_EMAIL} {ADMIN_EMAIL} wrong code")), "{log:?}");
    assert!(log.contains(&format!("user.2fa_recovery_codes {ADMIN_EMAIL} {ADMIN_EMAIL} ")), "{log:?}");
}

#[tokio::test]
async fn an_administrator_resets_another_users_second_factor_from_the_users_page() {
    let app = spawn_with_key().await;
    let renee = app.create_user("renee@example.com", Role::PublisherAdministrator, "renee password one").await;
    let renee_client = app.signed_in("renee@example.com", "renee password one").await;
    enrol(&app, &renee_client).await;

    let admin = app.admin_confirmed().await;
    let users = get(&app, &admin, "/users").await;
    let doc = Html::parse_document(&users.body);
    let renee_row = select(&doc, &format!("#user-{renee} .actions .btn"));
    assert_eq!(renee_row, ["Block", "Password", "Reset 2FA", "Remove"]);
    assert!(users.body.contains(&format!("action=\"/users/{renee}/reset-2fa\"")));
    assert!(users.body.contains("data-confirm-title=\"Reset Two-Factor Sign-in\""), "confirmed in the dialog");
    let me = app.user_id(ADMIN_EMAIL).await;
    assert!(!select(&doc, &format!("#user-{me} .actions .btn")).contains(&"Reset 2FA".to_owned()));

    let res =
        admin.post(app.at(&format!("/users/{renee}/reset-2fa"))).header("HX-Request", "true").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    assert!(body.contains("The two-factor sign-in of Test Publisher Administrator was reset"), "{body}");
    assert_eq!(stored_secret(&app, "renee@example.com").await, None);
    assert!(!signed_in(&app, &renee_client).await, "her sessions end: whoever holds one may hold the authenticator");
    app.signed_in("renee@example.com", "renee password one").await;
    assert!(audit_codes(&app).await.contains(&format!("user.2fa_reset {ADMIN_EMAIL} renee@example.com ")));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_line_resets_a_locked_out_administrators_second_factor() {
    let app = spawn_with_key().await;
    let client = app.admin().await;
    enrol(&app, &client).await;
    let reset = || {
        Command::new(env!("CARGO_BIN_EXE_multi-account"))
            .args(["user", "reset-2fa", ADMIN_EMAIL, "--database", &app.database_url()])
            .output()
            .expect("the binary runs")
    };
    let out = reset();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Two-factor sign-in of admin@example.com reset"));
    assert_eq!(stored_secret(&app, ADMIN_EMAIL).await, None);
    assert!(!signed_in(&app, &client).await, "their sessions end");
    app.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert!(audit_codes(&app).await.contains(&format!("user.2fa_reset cli {ADMIN_EMAIL} ")));

    let again = reset();
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("has no two-factor sign-in"));
}

#[tokio::test]
async fn require_2fa_sends_a_user_without_it_to_set_it_up_first() {
    let app = spawn_app_with(|s| {
        s.secret_key = Some(key(KEY));
        s.require_2fa = true;
        s.clock = step_clock();
    })
    .await;
    let client = app.admin().await;
    for path in ["/parents/6464/accounts", "/users", "/audit", "/no-such-page"] {
        let res = get(&app, &client, path).await;
        assert_eq!((res.status, location(&res)), (StatusCode::SEE_OTHER, "/account/two-factor"), "{path}");
    }
    let htmx = client.get(app.at("/users/new")).header("HX-Request", "true").send().await.unwrap();
    assert_eq!(htmx.headers()["hx-redirect"], "/account/two-factor");
    let page = get(&app, &client, "/account/two-factor").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Your organisation requires two-factor sign-in: set it up to continue"));
    assert_eq!(get(&app, &client, "/healthz").await.status, StatusCode::OK, "probes are not pages");
    let css = Html::parse_document(&page.body);
    let href = Selector::parse("link[rel=stylesheet]").unwrap();
    let href = css.select(&href).next().and_then(|l| l.value().attr("href")).unwrap().to_owned();
    assert_eq!(get(&app, &client, &href).await.status, StatusCode::OK, "nor are static files");

    let other = app.admin().await;
    let out = post(&app, &other, "/logout", &[]).await;
    assert_eq!(location(&out), "/login?signed_out=1", "signing out is allowed before setting it up");

    enrol(&app, &client).await;
    assert!(signed_in(&app, &client).await, "once set up, every page opens");
}

/// The Kaltura settings of the test's emulator: not demo mode, which makes a key of its own.
fn kaltura_env(app: &TestApp) -> Vec<(&'static str, String)> {
    let emu = app.emulator();
    vec![
        ("KALTURA_SERVICE_URL", emu.url.clone()),
        ("KALTURA_PARTNER_ID", emu.parent_id.to_string()),
        ("KALTURA_ADMIN_SECRET", emu.admin_secret.clone()),
    ]
}

#[tokio::test]
async fn without_a_key_nothing_is_offered_and_require_2fa_does_not_start() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let page = get(&app, &client, "/account/two-factor").await;
    assert!(page.body.contains("sets it as <code>MA_SECRET_KEY</code>"), "{}", page.body);
    assert!(page.body.contains("MA_SECRET_KEY=\"$(openssl rand -base64 48)\""), "the command that makes one");
    assert!(!page.body.contains("Set up"));
    post(&app, &client, "/account/two-factor/set-up", &[]).await;
    assert!(!get(&app, &client, "/account/two-factor").await.body.contains("<svg"), "no secret is made");

    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_multi-account"))
        .args(["serve", "--require-2fa", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .envs(kaltura_env(&app))
        .env_remove("MA_SECRET_KEY")
        .env_remove("MA_SECRET_KEY_FILE")
        .env_remove("MA_DATABASE_URL")
        .output()
        .expect("the binary runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--require-2fa (MA_REQUIRE_2FA) needs") && stderr.contains("MA_SECRET_KEY"), "{stderr}");
    assert!(!dir.path().join("multi-account.db").exists(), "refused before anything was made");
    let out = Command::new(env!("CARGO_BIN_EXE_multi-account"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .envs(kaltura_env(&app))
        .env("MA_REQUIRE_2FA", "yes")
        .env_remove("MA_SECRET_KEY")
        .env_remove("MA_SECRET_KEY_FILE")
        .env_remove("MA_DATABASE_URL")
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("--require-2fa (MA_REQUIRE_2FA) needs"), "the variable: {stderr}");

    let out = Command::new(env!("CARGO_BIN_EXE_multi-account"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env("MA_SECRET_KEY", "too short")
        .env_remove("MA_SECRET_KEY_FILE")
        .env_remove("MA_DATABASE_URL")
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("at least 32 characters"), "{stderr}");
}

#[tokio::test]
async fn a_wrong_key_says_the_server_cannot_check_codes_and_recovery_codes_still_work() {
    let app = spawn_with_key().await;
    let (secret, codes) = enrol(&app, &app.admin().await).await;
    // The secret as another key would have stored it: this console's key cannot open it.
    let admin_id = app.user_id(ADMIN_EMAIL).await;
    let theirs = Secret::generate();
    let sealed = theirs.seal(&key(OTHER_KEY), admin_id);
    sqlx::query("UPDATE users SET totp_secret = $1").bind(&sealed).execute(&app.db).await.unwrap();

    let client = password_step(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let res = code_step(&app, &client, &code_at(&secret, app.clock().now() + 30)).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.body.contains("The server cannot check authenticator codes right now"), "{}", res.body);
    assert!(!res.body.contains(theirs.base32()));
    let res = code_step(&app, &client, &codes[0]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "a recovery code needs no key");
}
