//! What a new administrator meets in the first ten minutes, over real HTTP: Kaltura's own words in the singular, the
//! Contact Kaltura link, searches that say why they found nothing, audit titles that match the result, the header's
//! name, the navigation on error pages, and how little a page costs on the wire (compressed, with static files
//! cached for good).

use kaltura::PartnerStatus;
use multi_account::config::kaltura::KalturaSettings;
use multi_account::db::audit::{self, AuditAction, Entry, Outcome};
use multi_account::db::users;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use scraper::{Html, Selector};

use crate::support::{ADMIN_EMAIL, Clock, Role, TestApp, spawn_app, spawn_app_with};

/// Kaltura's support site, where "Contact Kaltura" leads by default.
const SUPPORT: &str = "https://support.kaltura.com/";

async fn page(app: &TestApp, client: &reqwest::Client, path: &str) -> Html {
    let res = client.get(app.at(path)).send().await.expect("the console answers");
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    Html::parse_document(&res.text().await.expect("a page"))
}

/// The text of the first element matching `css`, whitespace collapsed.
fn text(doc: &Html, css: &str) -> String {
    let el = doc.select(&Selector::parse(css).expect("a selector")).next();
    let el = el.unwrap_or_else(|| panic!("no {css} in {}", doc.html()));
    el.text().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" ")
}

fn count(doc: &Html, css: &str) -> usize {
    doc.select(&Selector::parse(css).expect("a selector")).count()
}

async fn set_status(app: &TestApp, id: i64, status: PartnerStatus) {
    let emu = app.emulator();
    let kaltura = KalturaSettings::default().demo_client(&emu.url, emu.parent_id, &emu.admin_secret).expect("a client");
    kaltura.update_status(id, status).await.expect("varconsole.updateStatus");
}

// ---------------------------------------------------------------------------------------------------------------
// Words

#[tokio::test]
async fn one_account_in_use_and_one_publisher_are_said_in_the_singular() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let doc = page(&app, &client, "/parents/6464/accounts").await;
    assert!(text(&doc, "#quota-banner").starts_with("Current status: 2 accounts in use*, 3 additional remaining."));
    assert_eq!(text(&doc, "#publishers-count"), "5 Publishers");

    set_status(&app, 6474, PartnerStatus::Removed).await;
    let doc = page(&app, &client, "/parents/6464/accounts?q=6475").await;
    let banner = text(&doc, "#quota-banner");
    assert!(banner.starts_with("Current status: 1 account in use*, 4 additional remaining."), "{banner}");
    assert_eq!(text(&doc, "#publishers-count"), "1 Publisher");
    assert_eq!(
        text(&page(&app, &client, "/parents/6464/accounts?q=abc&by=name").await, "#publishers-count"),
        "0 Publishers"
    );
}

#[tokio::test]
async fn contact_kaltura_is_a_link_to_kalturas_support() {
    let app = spawn_app().await;
    let doc = page(&app, &app.admin().await, "/parents/6464/accounts").await;
    let link = doc.select(&Selector::parse("#quota-banner a").unwrap()).next().expect("a link in the banner");
    assert_eq!(link.text().collect::<String>(), "Contact Kaltura");
    assert_eq!(link.value().attr("href"), Some(SUPPORT));
    assert_eq!(link.value().attr("target"), Some("_blank"), "the console stays open");
    assert_eq!(link.value().attr("rel"), Some("noopener"));
}

#[tokio::test]
async fn a_partner_id_search_for_letters_says_a_partner_id_is_a_number() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let doc = page(&app, &client, "/parents/6464/accounts?q=Shanghai&by=id").await;
    let empty = text(&doc, "tr.empty");
    assert!(empty.starts_with("No Results. A Partner ID is a number"), "{empty}");
    assert!(empty.contains("search by Account Name or free text"), "{empty}");
    // Words that simply match nothing need no lesson.
    let doc = page(&app, &client, "/parents/6464/accounts?q=Atlantis&by=name&status=1").await;
    assert_eq!(text(&doc, "tr.empty"), "No Results Clear the search and filters");
    let clear = doc.select(&Selector::parse("#clear-search").unwrap()).next().expect("a way back");
    assert_eq!(
        clear.value().attr("href"),
        Some("/parents/6464/accounts?by=name"),
        "the same kind of search, nothing typed"
    );
    let export = doc.select(&Selector::parse(".panel-tools button[disabled]").unwrap()).next();
    assert_eq!(export.map(|e| e.text().collect::<String>()), Some("Export CSV".into()), "nothing to export");
    // Without a search or filter there is nothing to clear.
    let doc = page(&app, &client, "/parents/6464/accounts?page=99").await;
    assert!(doc.select(&Selector::parse("#clear-search").unwrap()).next().is_none());
}

#[tokio::test]
async fn an_empty_result_shows_no_range_and_no_page_links() {
    let app = spawn_app().await;
    let client = app.admin().await;
    for path in ["/parents/6464/accounts?q=Atlantis&by=name", "/audit?user=nobody", "/parents/6464/usage?q=Atlantis"] {
        let doc = page(&app, &client, path).await;
        assert_eq!(count(&doc, "nav.pager"), 0, "{path}: no pager, no \"0–0 of 0\"");
        assert!(!doc.html().contains("0–0 of 0"), "{path}");
    }
    let doc = page(&app, &client, "/parents/6464/accounts").await;
    assert_eq!(text(&doc, ".pager .range"), "1–5 of 5", "a page with rows keeps its range");
}

#[tokio::test]
async fn a_failed_action_is_titled_by_what_was_tried_in_the_audit_log() {
    let app = spawn_app().await;
    for (action, result) in [(AuditAction::AccountCreate, Outcome::Refused), (AuditAction::AccountBlock, Outcome::Ok)] {
        let entry = Entry { actor: ADMIN_EMAIL, ip: "127.0.0.1", action, target: "6475", result, details: "" };
        audit::record(&app.db, 1_000, entry).await.expect("an audit entry");
    }
    let doc = page(&app, &app.admin().await, "/audit?account=6475").await;
    let failed = text(&doc, "tr.audit-failed");
    assert!(failed.contains("Creating an account account.create"), "{failed}");
    assert!(!failed.contains("Account created"), "a failed creation did not create: {failed}");
    assert!(failed.contains("Failed"));
    assert!(doc.html().contains("Account blocked <code>account.block</code>"), "what succeeded keeps its title");
}

#[tokio::test]
async fn the_header_names_an_administrator_whose_name_is_only_a_role_by_email() {
    let app = spawn_app().await;
    // What `serve` gives the first administrator it sets up, before anyone names them.
    let hash = multi_account::identity::password::hash("bootstrap password one".into()).await.expect("a hash");
    let new = users::NewUser {
        email: "it@example.com",
        first_name: "Publisher",
        last_name: "Administrator",
        publisher_user_id: None,
        role: Role::PublisherAdministrator,
        password_hash: &hash,
    };
    users::add(&app.db, &new, None, multi_account::clock::Clock::system().now()).await.expect("the administrator");
    let client = app.signed_in("it@example.com", "bootstrap password one").await;
    assert_eq!(text(&page(&app, &client, "/parents/6464/accounts").await, ".user-name"), "it@example.com");
    // A real name is shown as it is.
    assert_eq!(
        text(&page(&app, &app.admin().await, "/parents/6464/accounts").await, ".user-name"),
        "Test Publisher Administrator"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Consistency

#[tokio::test]
async fn error_pages_keep_the_navigation_while_signed_in() {
    let app = spawn_app().await;
    let client = app.admin().await;
    for path in ["/no-such-page", "/users/9999/password"] {
        let res = client.get(app.at(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        let doc = Html::parse_document(&res.text().await.unwrap());
        assert_eq!(count(&doc, "nav.subnav a[href='/users']"), 1, "{path}: the Administration tabs");
        assert_eq!(text(&doc, ".user-name"), "Test Publisher Administrator", "{path}");
        assert!(text(&doc, "main").contains("There is nothing at this address."));
    }
    // Signed out, there is nobody to show.
    let res = app.client().get(app.at("/static/no-such-file.css")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(count(&Html::parse_document(&res.text().await.unwrap()), "nav.subnav"), 0);
}

#[tokio::test]
async fn every_form_reads_cancel_then_its_action() {
    let app = spawn_app().await;
    let client = app.admin().await;
    for (path, actions) in [
        ("/parents/6464/accounts/new", "Cancel Create"),
        ("/users/new", "Cancel Save"),
        ("/parents/6464/accounts/6475/confirm/block", "Cancel Block"),
    ] {
        assert_eq!(text(&page(&app, &client, path).await, "main .form-actions"), actions, "{path}");
    }
}

#[tokio::test]
async fn the_confirmation_comes_as_a_dialog_for_htmx_with_the_pages_words() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let res = client
        .get(app.at("/parents/6464/accounts/6474/confirm/remove"))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let doc = Html::parse_fragment(&res.text().await.unwrap());
    assert_eq!(text(&doc, "dialog h2"), "Confirm Remove");
    assert_eq!(text(&doc, "dialog p"), "Are you sure you want to remove the selected account? (Down Under)");
    let form = doc.select(&Selector::parse("dialog form").unwrap()).next().expect("a form");
    assert_eq!(form.value().attr("hx-post"), Some("/parents/6464/accounts/6474/remove"));
    assert_eq!(form.value().attr("hx-swap"), Some("none"), "the row and the banner come out of band");
    // A refusal is a dialog too, saying why.
    let res = client
        .get(app.at("/parents/6464/accounts/6464/confirm/remove"))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let doc = Html::parse_fragment(&res.text().await.unwrap());
    assert_eq!(count(&doc, "dialog .flash-error"), 1);
    assert_eq!(count(&doc, "dialog form"), 0);
}

#[tokio::test]
async fn add_account_is_redrawn_with_the_banner_and_says_why_it_is_disabled() {
    let mut app = spawn_app().await;
    let client = app.admin().await;
    // A row update carries the banner and the button together.
    let res =
        client.post(app.at("/parents/6464/accounts/6474/block")).header("HX-Request", "true").send().await.unwrap();
    let doc = Html::parse_fragment(&res.text().await.unwrap());
    assert_eq!(count(&doc, "#quota-banner[hx-swap-oob]"), 1);
    assert_eq!(count(&doc, "#add-account-area[hx-swap-oob] a#add-account[href='/parents/6464/accounts/new']"), 1);

    app.stop_emulator().await;
    let doc = page(&app, &client, "/parents/6464/accounts").await;
    assert_eq!(count(&doc, "button#add-account[disabled]"), 1);
    assert_eq!(text(&doc, "#add-account-why"), "Quota unknown");
    let title = doc.select(&Selector::parse("#add-account").unwrap()).next().unwrap().value().attr("title").unwrap();
    assert!(title.starts_with("Kaltura could not be asked how many accounts remain"), "{title}");
}

#[tokio::test]
async fn nobody_is_offered_blocking_removing_or_demoting_themselves_on_the_users_page() {
    let app = spawn_app().await;
    let renee = app.create_user("renee@example.com", Role::Manager, "renee password one").await;
    let me = app.user_id(ADMIN_EMAIL).await;
    let doc = page(&app, &app.admin().await, "/users").await;
    assert_eq!(text(&doc, &format!("#user-{me} .actions")), "Password");
    assert_eq!(count(&doc, &format!("#user-{me} select")), 0);
    assert_eq!(text(&doc, &format!("#user-{renee} .actions")), "Block Password Remove");
    assert_eq!(count(&doc, &format!("#user-{renee} select[name=role]")), 1);
}

// ---------------------------------------------------------------------------------------------------------------
// Transfers

/// What a response costs on the wire: its status line, headers and body as sent (compressed).
async fn wire_bytes(res: reqwest::Response) -> (usize, reqwest::header::HeaderMap) {
    let headers = res.headers().clone();
    let head = "HTTP/1.1 200 OK\r\n".len()
        + headers.iter().map(|(k, v)| k.as_str().len() + 2 + v.as_bytes().len() + 2).sum::<usize>()
        + 2;
    let body = res.bytes().await.expect("a body").len();
    (head + body, headers)
}

#[tokio::test]
async fn the_accounts_page_is_compressed_and_its_static_files_are_cached_for_good() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let get = |path: String| client.get(app.at(&path)).header(ACCEPT_ENCODING, "gzip, br").send();

    let res = get("/parents/6464/accounts".into()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CONTENT_ENCODING], "br", "brotli when the browser takes it");
    let plain = client.get(app.at("/parents/6464/accounts")).send().await.unwrap().text().await.unwrap();
    let (page_bytes, _) = wire_bytes(res).await;
    assert!(page_bytes * 3 < plain.len(), "compressed: {page_bytes} bytes on the wire for {} of HTML", plain.len());

    // Everything the page loads: the stylesheet, the icon, htmx, the console's script.
    let doc = Html::parse_document(&plain);
    let links: Vec<String> = doc
        .select(&Selector::parse("link[href], script[src]").unwrap())
        .filter_map(|e| e.value().attr("href").or_else(|| e.value().attr("src")).map(str::to_owned))
        .collect();
    assert_eq!(links.len(), 4, "{links:?}");
    let mut assets_bytes = 0;
    for link in &links {
        let (bytes, headers) = wire_bytes(get(link.clone()).await.unwrap()).await;
        assert!(headers[CACHE_CONTROL].to_str().unwrap().contains("immutable"), "{link} is cached for good");
        assert!(headers[CACHE_CONTROL].to_str().unwrap().contains("max-age=31536000"), "{link}: a year");
        assert!(headers.contains_key(CONTENT_ENCODING), "{link} is compressed");
        assets_bytes += bytes;
    }
    let first_view = page_bytes + assets_bytes;
    // A repeat view fetches the page alone: every file it links is still fresh in the browser's cache.
    let repeat_view = page_bytes;
    eprintln!(
        "/parents/6464/accounts in demo mode: first view {first_view} bytes on the wire, repeat view {repeat_view} bytes"
    );
    // The budget grew from 40 KB with the script and styles of the phone's Filters button, Usage's loading note
    // and Add Account's address.
    assert!(first_view < 44 * 1024, "first view: {first_view} bytes");
    assert!(repeat_view < 15 * 1024, "repeat view: {repeat_view} bytes");

    // gzip for a browser without brotli.
    let res = client.get(app.at("/parents/6464/accounts")).header(ACCEPT_ENCODING, "gzip").send().await.unwrap();
    assert_eq!(res.headers()[CONTENT_ENCODING], "gzip");
}

#[tokio::test]
async fn static_files_carry_their_content_hash_and_plain_names_revalidate() {
    let app = spawn_app().await;
    let client = app.client();
    let doc = Html::parse_document(&client.get(app.at("/login")).send().await.unwrap().text().await.unwrap());
    let css = doc
        .select(&Selector::parse("link[rel=stylesheet]").unwrap())
        .next()
        .and_then(|l| l.value().attr("href"))
        .expect("a stylesheet")
        .to_owned();
    let hash = css.strip_prefix("/static/style.").and_then(|s| s.strip_suffix(".css")).expect("a hashed name");
    assert!(hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()), "{css}");

    // The plain name (an old page, a bookmark) answers, and asks the browser to check back.
    let res = client.get(app.at("/static/style.css")).send().await.unwrap();
    assert_eq!(res.headers()[CACHE_CONTROL], "no-cache");
    let etag = res.headers()[ETAG].clone();
    let res = client.get(app.at("/static/style.css")).header(IF_NONE_MATCH, etag.clone()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "unchanged: nothing is sent again");
    assert!(res.bytes().await.unwrap().is_empty());
    let res = client.get(app.at(&css)).header(IF_NONE_MATCH, etag).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

    // Another hash is another file: never served from this one.
    let res = client.get(app.at("/static/style.0123456789abcdef.css")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // The icon, under both of its names.
    let res = client.get(app.at("/favicon.ico")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CONTENT_TYPE], "image/svg+xml");
    let icon = doc.select(&Selector::parse("link[rel=icon]").unwrap()).next().and_then(|l| l.value().attr("href"));
    let res = client.get(app.at(icon.expect("an icon link"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

fn location(res: &reqwest::Response) -> String {
    res.headers()[reqwest::header::LOCATION].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn signing_out_is_confirmed_and_an_ended_session_says_why_and_returns_to_the_exact_view() {
    let app = spawn_app_with(|s| s.clock = Clock::manual_from_now()).await;
    let client = app.admin().await;
    let out = client.post(app.at("/logout")).send().await.unwrap();
    assert_eq!(location(&out), "/login?signed_out=1");
    let login = page(&app, &client, "/login?signed_out=1").await;
    assert_eq!(text(&login, "#flash .flash-ok"), "You are signed out.");
    // Signed out on purpose: no "session ended" on the next sign-in page.
    let res = client.get(app.at("/parents/6464/accounts")).send().await.unwrap();
    assert_eq!(location(&res), "/login?next=%2Fparents%2F6464%2Faccounts");

    // A session that ends by time: the sign-in page says so once, and a click made then is not lost.
    let client = app.admin().await;
    app.clock().advance(13 * 3600);
    let res = client
        .get(app.at("/parents/6464/accounts?sort=name&dir=asc"))
        .header("HX-Request", "true")
        .header("HX-Current-URL", app.at("/parents/6464/accounts?size=25"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let to = res.headers()["hx-redirect"].to_str().unwrap().to_owned();
    assert_eq!(
        to, "/login?next=%2Fparents%2F6464%2Faccounts%3Fsort%3Dname%26dir%3Dasc&ended=1",
        "the sort clicked, not the old page"
    );
    let login = page(&app, &client, &to).await;
    assert!(text(&login, "#flash").starts_with("Your session ended (30 minutes without activity, or 12 hours"));
    assert_eq!(count(&login, "input[name=password][autofocus]"), 0, "no email typed yet: the email first");
    // Said once.
    let again = page(&app, &client, "/login").await;
    assert_eq!(count(&again, "#flash .flash"), 0);
}

#[tokio::test]
async fn every_page_has_a_skip_link_one_h1_and_a_title_that_does_not_repeat_itself() {
    let app = spawn_app().await;
    let client = app.admin().await;
    for path in [
        "/parents/6464/accounts",
        "/parents/6464/accounts/new",
        "/parents/6464/accounts/6475",
        "/users",
        "/parents/6464/usage",
        "/audit",
        "/parents/6464/accounts/import",
    ] {
        let doc = page(&app, &client, path).await;
        assert_eq!(count(&doc, "body > a.skip-link[href='#content']"), 1, "{path}");
        assert_eq!(count(&doc, "main#content"), 1, "{path}");
        assert_eq!(count(&doc, "h1"), 1, "{path}: one heading of the page");
        let title = text(&doc, "title");
        assert!(title.ends_with(" · Multi Account") && !title.starts_with("Multi Account"), "{path}: {title}");
        assert_eq!(count(&doc, "nav[aria-label=Main] a"), 4, "{path}: one navigation, its links");
        assert_eq!(count(&doc, ".mainnav"), 0, "{path}: no tab that is not one");
    }
}

#[tokio::test]
async fn a_used_up_quota_is_a_warning_and_add_account_offers_no_create() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let kaltura = {
        let emu = app.emulator();
        KalturaSettings::default().demo_client(&emu.url, emu.parent_id, &emu.admin_secret).expect("a client")
    };
    for n in 0..3 {
        let account = kaltura::NewAccount {
            admin_name: "Q".into(),
            name: format!("Quota {n}"),
            admin_email: format!("quota{n}@example.com"),
            phone: "1".into(),
            website: None,
            reference_id: None,
        };
        kaltura.register(&account, None).await.expect("partner.register");
    }
    let accounts = page(&app, &client, "/parents/6464/accounts").await;
    assert_eq!(count(&accounts, "#quota-banner.quota-full"), 1);
    assert!(text(&accounts, "#quota-full-note").starts_with("The quota is used up:"));
    let form = page(&app, &client, "/parents/6464/accounts/new").await;
    assert!(text(&form, ".form-error").starts_with("No additional accounts remain"));
    assert_eq!(count(&form, ".add-account button[type=submit]"), 0, "no Create to press");
    assert_eq!(count(&form, "input[name=admin_name]"), 0, "no form to fill in for nothing");
    assert_eq!(text(&form, "h1"), "Add Account");
}

#[tokio::test]
async fn add_user_describes_each_role_and_says_which_can_use_the_console() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let doc = page(&app, &client, "/users/new").await;
    let shown: Vec<String> = doc
        .select(&Selector::parse("#role-hint [data-role-hint]:not([hidden])").unwrap())
        .map(|e| e.text().collect())
        .collect();
    assert_eq!(
        shown,
        vec![
            "Publisher Administrator: Full control over the publisher account and its users: the only role that can \
              use this console."
        ]
    );
    assert_eq!(count(&doc, "#role-hint [data-role-hint][hidden]"), 4, "the others, for the script to show");
    assert!(doc.html().contains("Player Designer: Designs players in the Rich Media CMS; cannot use this console."));
}

#[tokio::test]
async fn the_standalone_edit_page_saves_back_to_the_whole_details_page() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let form = page(&app, &client, "/parents/6464/accounts/6475/edit").await;
    let mut fields: Vec<(String, String)> = Vec::new();
    for input in form.select(&Selector::parse("form input[name], form textarea[name]").unwrap()) {
        let name = input.value().attr("name").unwrap().to_owned();
        let value = input.value().attr("value").map(str::to_owned).unwrap_or_else(|| input.text().collect());
        fields.push((name, value));
    }
    for (name, value) in &mut fields {
        if name == "website" {
            *value = "https://shanghai.example".into();
        }
    }
    let res = client
        .post(app.at("/parents/6464/accounts/6475/edit"))
        .header("HX-Request", "true")
        .header("HX-Target", "account-info")
        .header("HX-Current-URL", app.at("/parents/6464/accounts/6475/edit"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        res.headers()["hx-redirect"],
        "/parents/6464/accounts/6475",
        "the whole page, not a card in a half page"
    );
    let details = page(&app, &client, "/parents/6464/accounts/6475").await;
    assert_eq!(text(&details, "#flash .flash-ok"), "Saved: Website URL.");
}

#[tokio::test]
async fn kaltura_down_is_said_in_words_with_a_retry() {
    let mut app = spawn_app().await;
    let client = app.admin().await;
    app.stop_emulator().await;
    let res = client.get(app.at("/parents/6464/accounts/6475")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let doc = Html::parse_document(&res.text().await.unwrap());
    assert_eq!(text(&doc, "h1"), "Kaltura isn't responding");
    assert_eq!(
        doc.select(&Selector::parse("a#retry").unwrap()).next().unwrap().value().attr("href"),
        Some("/parents/6464/accounts/6475")
    );
    assert!(!doc.html().contains("Bad Gateway"));
    assert!(text(&doc, "main").contains("(connection refused)"), "the reason in words: {}", text(&doc, "main"));
    assert!(!doc.html().contains("os error"), "no error number");

    let res = client.get(app.at("/parents/6464/accounts")).send().await.unwrap();
    let accounts = Html::parse_document(&res.text().await.unwrap());
    assert_eq!(text(&accounts, "#publishers-count"), "Publishers: count unknown", "not 0 while Kaltura is away");
    assert_eq!(count(&accounts, "#accounts-panel a.btn[download]"), 0, "nothing to export");
    let res = client
        .get(app.at("/parents/6464/usage?from=2026-10-01&to=2026-11-30&interval=day&sort=plays"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let usage = Html::parse_document(&res.text().await.unwrap());
    assert!(!usage.html().contains("os error"));
    let retry = usage.select(&Selector::parse("a#usage-retry").unwrap()).next().expect("a Retry on Usage");
    assert_eq!(
        retry.value().attr("href"),
        Some("/parents/6464/usage?from=2026-10-01&to=2026-11-30&interval=day&sort=plays&dir=desc")
    );
}

#[tokio::test]
async fn the_row_menu_opens_the_details_and_edit_and_templates_are_marked() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let doc = page(&app, &client, "/parents/6464/accounts").await;
    let items: Vec<String> = doc
        .select(&Selector::parse("#account-6475 .menu-item").unwrap())
        .map(|e| e.text().collect::<String>().trim().to_owned())
        .collect();
    assert_eq!(items[..2], ["View details".to_owned(), "Edit".to_owned()]);
    let blocked = page(&app, &client, "/parents/6464/accounts/6479").await;
    assert_eq!(
        text(&blocked, "#edit-refusal"),
        "Editing is not available for an account that is blocked: unblock it to edit its details."
    );
    assert_eq!(count(&page(&app, &client, "/parents/6464/accounts/6475").await, ".template-tag"), 0, "not a template");
    let details = page(&app, &client, "/parents/6464/accounts/6478").await;
    assert_eq!(text(&details, "h1 .template-tag"), "(Template Account)");
}

#[tokio::test]
async fn dates_say_their_time_zone() {
    let app = spawn_app().await;
    let client = app.admin().await;
    let users = page(&app, &client, "/users").await;
    assert!(users.html().contains("<th scope=\"col\">Last Login (UTC)</th>"));
    let details = page(&app, &client, "/parents/6464/accounts/6475").await;
    assert!(details.html().contains("Creation Date (UTC)"), "the account's date");
    assert!(details.html().contains("Last Login (UTC)"), "its administrators' dates");
    let accounts = page(&app, &client, "/parents/6464/accounts").await;
    assert_eq!(count(&accounts, "td.date[data-label='Creation Date (UTC)']"), 5, "the phone's cards");
    let head: String = accounts.select(&Selector::parse("thead").unwrap()).flat_map(|h| h.text()).collect();
    assert!(head.contains("Creation Date (UTC)"), "the desktop's column: {head}");
}
