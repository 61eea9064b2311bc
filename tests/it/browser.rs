//! The Accounts page in a real browser (headless Chromium through chromedriver), for what only a browser shows:
//! htmx swapping the table and the address bar, Back, native confirmations, new tabs, the Add Account dialog, and
//! the README screenshot (checked on every run, written only by `scripts/screenshot.sh`). chromedriver and Chromium
//! must be installed (Debian: `chromium chromium-driver`); without them these tests fail, they never skip. One browser
//! at a time: the tests take turns.

use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, spawn_app, spawn_app_with_emulator};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::sync::{Mutex, MutexGuard};

/// Debian's paths; `CHROMEDRIVER` and `CHROMIUM` in the environment point elsewhere.
fn chromedriver() -> String {
    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

const INSTALL: &str = "install Chromium and its driver: `sudo apt-get install chromium chromium-driver`";
/// The directory the README screenshot is written to. Unset in test runs, which must never change the tree; set only
/// by `scripts/screenshot.sh` (to `docs/`), so the picture changes by an explicit command.
const SCREENSHOT_DIR: &str = "MA_SCREENSHOT_DIR";
/// The longest any one thing the page does may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(15);

/// Two cores: a single browser at a time. (A tokio mutex does not poison, so one failure does not fail the rest.)
static ONE_BROWSER_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// chromedriver in a process group of its own, so the Chromium it starts goes with it.
struct Driver {
    child: Child,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("an address").port()
}

async fn start_driver() -> (Driver, String) {
    let (chromedriver, chromium) = (chromedriver(), chromium());
    assert!(Path::new(&chromium).exists(), "{chromium} is missing: {INSTALL}");
    let port = free_port();
    let child = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {chromedriver} ({e}): {INSTALL}"));
    let mut driver = Driver { child };
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = driver.child.try_wait() {
            panic!("{chromedriver} exited at start ({status}): {INSTALL}");
        }
        if http.get(format!("{url}/status")).send().await.is_ok_and(|r| r.status().is_success()) {
            return (driver, url);
        }
        assert!(started.elapsed() < PATIENCE, "{chromedriver} did not answer on port {port} within {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A headless Chromium on a fresh profile, pointed at one console.
struct Browser {
    client: Client,
    app_url: String,
    // Dropped in this order: the WebDriver client, chromedriver with its Chromium, their profile, then the turn.
    _driver: Driver,
    _profile: TempDir,
    _turn: MutexGuard<'static, ()>,
}

impl Browser {
    async fn open(app: &TestApp) -> Browser {
        let turn = ONE_BROWSER_AT_A_TIME.lock().await;
        let profile = tempfile::tempdir().expect("a profile dir");
        let (driver, driver_url) = start_driver().await;
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium(),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--window-size=1400,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else { unreachable!() };
        let client = ClientBuilder::rustls()
            .expect("rustls for the WebDriver connection")
            .capabilities(capabilities)
            .connect(&driver_url)
            .await
            .unwrap_or_else(|e| panic!("chromedriver cannot start {} ({e}): {INSTALL}", chromium()));
        Browser { client, app_url: app.url.clone(), _driver: driver, _profile: profile, _turn: turn }
    }

    /// Opens a browser and signs in as the Publisher Administrator through the real sign-in form.
    async fn signed_in(app: &TestApp) -> Browser {
        let b = Browser::open(app).await;
        b.goto("/login").await;
        b.find("form[action='/login'] input[name=email]").await.send_keys(ADMIN_EMAIL).await.expect("typing");
        b.find("form[action='/login'] input[name=password]").await.send_keys(ADMIN_PASSWORD).await.expect("typing");
        b.find("form[action='/login'] button[type=submit]").await.click().await.expect("a click");
        b.until(
            "the Accounts page after signing in",
            "return location.pathname === '/accounts' && !!document.querySelector('#accounts-panel tbody')",
        )
        .await;
        b
    }

    async fn close(self) {
        let Browser { client, .. } = self;
        client.close().await.expect("the browser closes");
    }

    async fn goto(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.app_url)).await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
    }

    /// The address bar, as a path and query.
    async fn location(&self) -> String {
        let url = self.client.current_url().await.expect("the current URL");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no `{css}` on the page: {e}"))
    }

    /// What the user reads in the element `css`.
    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("the element's text")
    }

    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("running `{script}`: {e}"))
    }

    /// Waits until `script` returns true, or fails saying what did not happen and what the page showed.
    async fn until(&self, what: &str, script: &str) {
        let started = Instant::now();
        loop {
            if self.js(script).await == Value::Bool(true) {
                return;
            }
            if started.elapsed() > PATIENCE {
                let shown = self.js("return document.body.innerText.slice(0, 2000)").await;
                panic!(
                    "waited {PATIENCE:?} for {what}; the address bar says {} and the page shows:\n{}",
                    self.location().await,
                    shown.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The account names in the table, top to bottom.
    async fn account_names(&self) -> Vec<String> {
        let names = self.js("return [...document.querySelectorAll('#accounts-panel tbody tr[id^=account-] td.name')].map(td => td.innerText.trim())").await;
        serde_json::from_value(names).expect("a list of names")
    }

    /// Tags the panel, the page and the window, so [`Self::until_swapped_to`] can tell a swap from a reload.
    async fn mark_page(&self) {
        self.js("window.__marker = 1; document.getElementById('accounts-panel').dataset.old = '1'; document.querySelector('h1').dataset.kept = '1'").await;
    }

    /// Waits for a new panel with the address bar at `url` and nothing in flight (so a swap for a half-typed
    /// search does not count), then checks the rest of the page is the same document: swapped, not reloaded.
    async fn until_swapped_to(&self, what: &str, url: &str) {
        let script = format!(
            "const p = document.getElementById('accounts-panel'); return !!p && !p.dataset.old \
             && location.pathname + location.search === {} && !document.querySelector('.htmx-request')",
            json!(url)
        );
        self.until(what, &script).await;
        assert_eq!(self.js("return window.__marker === 1").await, json!(true), "the page was reloaded ({what})");
        assert_eq!(
            self.js("return document.querySelector('h1').dataset.kept === '1'").await,
            json!(true),
            "more than the table was swapped ({what})"
        );
    }

    /// Opens the row menu of account `id` and chooses `action` (`kmc-login`, `block`, `unblock`, `remove`).
    async fn row_action(&self, id: i64, action: &str) {
        self.find(&format!("#account-{id} details.menu summary")).await.click().await.expect("opening the row menu");
        let item = self.find(&format!("#account-{id} [data-action={action}]")).await;
        assert!(item.is_displayed().await.expect("visibility"), "the menu of {id} shows {action}");
        item.click().await.expect("choosing the action");
    }

    /// The text of the native dialog that is open (or about to open).
    async fn alert_text(&self) -> String {
        let started = Instant::now();
        loop {
            match self.client.get_alert_text().await {
                Ok(text) => return text,
                Err(e) if started.elapsed() > PATIENCE => panic!("no confirmation dialog opened: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Counts the requests htmx sends from now on, in `window.__requests`.
    async fn count_requests(&self) {
        self.js("window.__requests = 0; if (!window.__counting) { window.__counting = true; document.body.addEventListener('htmx:beforeRequest', () => window.__requests++); }").await;
    }

    /// The banner's numbers: accounts in use, additional remaining.
    async fn quota(&self) -> (i64, i64) {
        let number = |text: String| text.parse::<i64>().unwrap_or_else(|_| panic!("a number in the banner: {text}"));
        (number(self.text("#quota-used").await), number(self.text("#quota-available").await))
    }
}

/// The demo's accounts shown by default (active and blocked): the parent, Shanghai, Down Under, two templates.
const DEFAULT_ROWS: usize = 5;

#[tokio::test]
async fn filtering_swaps_only_the_table_and_puts_the_view_in_the_address_bar() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    assert_eq!(b.location().await, "/accounts");
    let all = b.account_names().await;
    assert_eq!(all.len(), DEFAULT_ROWS, "{all:?}");
    assert!(!all.contains(&"adtest name".to_string()), "removed accounts are hidden by default: {all:?}");

    b.mark_page().await;
    b.find("#accounts-q").await.send_keys("Shanghai").await.expect("typing");
    b.until_swapped_to("the search for Shanghai", "/accounts?q=Shanghai").await;
    assert_eq!(b.account_names().await, ["Shanghai"]);
    assert_eq!(b.text("#publishers-count").await, "1 Publishers");

    b.mark_page().await;
    let search = b.find("#accounts-q").await;
    search.send_keys(&Key::Backspace.repeat("Shanghai".len())).await.expect("backspacing");
    b.until_swapped_to("the search to be cleared", "/accounts").await;
    assert_eq!(b.account_names().await, all);

    b.mark_page().await;
    b.find("#accounts-filter input[name=status][value='3']").await.click().await.expect("ticking Removed");
    b.until_swapped_to("Removed to be ticked", "/accounts?status=1%2C2%2C3").await;
    let with_removed = b.account_names().await;
    assert_eq!(with_removed.len(), DEFAULT_ROWS + 1, "{with_removed:?}");
    assert!(with_removed.contains(&"adtest name".to_string()), "{with_removed:?}");
    assert_eq!(b.text("#account-6472 .badge").await, "Removed");

    b.mark_page().await;
    b.find("#accounts-filter select[name=size]").await.select_by_value("25").await.expect("choosing 25 rows");
    b.until_swapped_to("the page size to change", "/accounts?status=1%2C2%2C3&size=25").await;
    assert_eq!(b.account_names().await, with_removed, "the same view, 25 rows a page");
    b.close().await;
}

#[tokio::test]
async fn back_after_filtering_restores_the_previous_view() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    let all = b.account_names().await;
    assert_eq!(all.len(), DEFAULT_ROWS, "{all:?}");

    b.mark_page().await;
    b.find("#accounts-q").await.send_keys("Down Under").await.expect("typing");
    b.until_swapped_to("the search for Down Under", "/accounts?q=Down+Under").await;
    assert_eq!(b.account_names().await, ["Down Under"]);

    b.client.back().await.expect("Back");
    b.until(
        "Back to show every account again",
        "return location.search === '' && document.querySelectorAll('#accounts-panel tbody tr[id^=account-]').length === 5",
    )
    .await;
    assert_eq!(b.account_names().await, all);
    assert_eq!(b.location().await, "/accounts");
    assert_eq!(b.find("#accounts-q").await.prop("value").await.expect("the search box").as_deref(), Some(""));
    assert_eq!(b.text("#publishers-count").await, "5 Publishers");

    b.client.forward().await.expect("Forward");
    b.until(
        "Forward to show the search again",
        "return document.querySelectorAll('#accounts-panel tbody tr[id^=account-]').length === 1",
    )
    .await;
    assert_eq!(b.account_names().await, ["Down Under"]);
    assert_eq!(b.location().await, "/accounts?q=Down+Under");
    assert_eq!(b.find("#accounts-q").await.prop("value").await.expect("the search box").as_deref(), Some("Down Under"));
    b.close().await;
}

#[tokio::test]
async fn the_chosen_page_size_is_remembered_on_the_next_visit() {
    let app = spawn_app_with_emulator(|cfg| cfg.children = 40).await;
    let b = Browser::signed_in(&app).await;
    let count = b.text("#publishers-count").await;
    let total: usize = count.trim_end_matches(" Publishers").parse().unwrap_or_else(|_| panic!("a count: {count}"));
    assert!(total > 25, "enough accounts for two pages of 25: {total}");
    let size = || async { b.find("#accounts-filter select[name=size]").await.prop("value").await.expect("a value") };
    assert_eq!(size().await.as_deref(), Some("50"), "50 rows until the user chooses");
    assert_eq!(b.account_names().await.len(), total.min(50));

    b.mark_page().await;
    b.find("#accounts-filter select[name=size]").await.select_by_value("25").await.expect("choosing 25 rows");
    b.until_swapped_to("the page size to change", "/accounts?size=25").await;
    assert_eq!(b.account_names().await.len(), 25);
    assert_eq!(b.text(".pager .range").await, format!("1\u{2013}25 of {total}"));

    b.goto("/accounts").await;
    b.until(
        "a fresh Accounts page",
        "return window.__marker === undefined && !!document.getElementById('accounts-panel')",
    )
    .await;
    assert_eq!(b.location().await, "/accounts", "the remembered size needs no query");
    assert_eq!(size().await.as_deref(), Some("25"));
    assert_eq!(b.account_names().await.len(), 25);
    assert_eq!(b.text(".pager .range").await, format!("1\u{2013}25 of {total}"));
    b.close().await;
}

#[tokio::test]
async fn rich_media_cms_login_opens_the_childs_cms_in_a_new_tab() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    let console = b.client.window().await.expect("the console tab");
    let before = b.location().await;

    b.row_action(6475, "kmc-login").await;
    let started = Instant::now();
    let windows = loop {
        let windows = b.client.windows().await.expect("the tabs");
        if windows.len() > 1 || started.elapsed() > PATIENCE {
            break windows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(windows.len(), 2, "Rich Media CMS Login opens one new tab");
    let cms = windows.into_iter().find(|w| *w != console).expect("the new tab");

    b.client.switch_to_window(cms).await.expect("switching to the new tab");
    assert_eq!(b.text("#partner-name").await, "Shanghai");
    assert_eq!(b.text("#partner-id").await, "6475");
    assert_eq!(b.text("#user-id").await, "muh.wih@shanghai.techpubs.example");
    assert_eq!(b.text("#master-partner-id").await, "6464", "opened by the parent");
    let cms_url = b.client.current_url().await.expect("the CMS URL");
    assert!(cms_url.as_str().starts_with(&app.emulator().url), "{cms_url} is the emulator's stand-in CMS");

    b.client.switch_to_window(console).await.expect("switching back");
    assert_eq!(b.location().await, before, "the console tab stays where it was");
    assert!(b.find("#account-6475").await.is_displayed().await.expect("visibility"));
    assert_eq!(
        b.js("return document.querySelector('#account-6475 details.menu').open").await,
        json!(false),
        "the menu closes once an action is chosen"
    );
    b.close().await;
}

#[tokio::test]
async fn block_asks_first_then_updates_the_row_and_the_banner_in_place() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    assert_eq!(b.text("#account-6475 .badge").await, "Active");
    let quota_before = b.quota().await;
    b.mark_page().await;
    b.count_requests().await;

    // Cancelled: nothing is sent, nothing changes.
    b.row_action(6475, "block").await;
    let question = b.alert_text().await;
    assert!(question.contains("(Shanghai)"), "the question names the account: {question}");
    assert!(question.starts_with("Are you sure you want to block the selected account?"), "{question}");
    b.client.dismiss_alert().await.expect("Cancel");
    assert_eq!(b.js("return window.__requests").await, json!(0), "a cancelled Block sends nothing");
    assert_eq!(b.text("#account-6475 .badge").await, "Active");
    assert_eq!(b.text("#flash").await, "");

    // Confirmed: the row, the banner and the message change, and nothing else.
    b.js("document.getElementById('account-6475').dataset.old = '1'; document.getElementById('quota-banner').dataset.old = '1'")
        .await;
    b.row_action(6475, "block").await;
    assert!(b.alert_text().await.contains("(Shanghai)"));
    b.client.accept_alert().await.expect("OK");
    b.until(
        "the Shanghai row to be replaced",
        "const r = document.getElementById('account-6475'); return !!r && !r.dataset.old",
    )
    .await;
    assert_eq!(b.text("#account-6475 .badge").await, "Blocked");
    assert_eq!(b.text("#flash .flash-ok").await, "Shanghai (6475) was blocked.");
    b.find("#account-6475 details.menu summary").await.click().await.expect("opening the menu again");
    let offered =
        b.js("return [...document.querySelectorAll('#account-6475 .menu-item')].map(i => i.innerText.trim())").await;
    assert_eq!(offered, json!(["Unblock", "Remove"]), "a blocked account offers Unblock, not Block or CMS Login");
    assert_eq!(b.js("return document.getElementById('quota-banner').dataset.old").await, Value::Null, "a new banner");
    assert_eq!(b.quota().await, quota_before, "a blocked account still counts as in use");
    assert_eq!(
        b.js("return window.__marker === 1 && !!document.getElementById('accounts-panel').dataset.old").await,
        json!(true),
        "only the row and the banner were swapped"
    );
    assert_eq!(b.account_names().await.len(), DEFAULT_ROWS);
    b.close().await;
}

#[tokio::test]
async fn remove_asks_in_kalturas_words_and_frees_a_place_in_the_banner() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    let (used, available) = b.quota().await;
    b.count_requests().await;

    b.row_action(6474, "remove").await;
    assert_eq!(b.alert_text().await, "Are you sure you want to remove the selected account? (Down Under)");
    b.client.dismiss_alert().await.expect("Cancel");
    assert_eq!(b.js("return window.__requests").await, json!(0), "a cancelled Remove sends nothing");
    assert_eq!(b.text("#account-6474 .badge").await, "Active");

    b.row_action(6474, "remove").await;
    assert_eq!(b.alert_text().await, "Are you sure you want to remove the selected account? (Down Under)");
    b.client.accept_alert().await.expect("OK");
    b.until(
        "the Down Under row to show Removed",
        "const b = document.querySelector('#account-6474 .badge'); return !!b && b.innerText.trim() === 'Removed'",
    )
    .await;
    assert_eq!(b.text("#flash .flash-ok").await, "Down Under (6474) was removed.");
    assert_eq!(
        b.js("return document.querySelector('#account-6474 details.menu') === null").await,
        json!(true),
        "a removed account offers no actions"
    );
    assert_eq!(b.quota().await, (used - 1, available + 1), "the banner counts one account fewer in use");
    b.close().await;
}

async fn field(b: &Browser, name: &str) -> Element {
    b.find(&format!("#dialog-slot form.add-account [name={name}]")).await
}

async fn field_error(b: &Browser, name: &str) -> String {
    b.text(&format!("#dialog-slot .field-error[data-error-for={name}]")).await
}

#[tokio::test]
async fn add_account_shows_kaltura_messages_progress_and_the_new_account_on_top() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    let (used, available) = b.quota().await;
    b.find("#add-account").await.click().await.expect("Add Account");
    b.find("#dialog-slot [role=dialog]").await;
    assert_eq!(b.text("#add-account-title").await, "Add Account");
    let templates = b.js("return [...document.querySelectorAll('#dialog-slot select[name=template_id] option')].map(o => o.innerText.trim())").await;
    let templates: Vec<String> = serde_json::from_value(templates).expect("the template names");
    assert_eq!(templates.first().map(String::as_str), Some("Default Template Account"), "{templates:?}");
    assert_eq!(
        templates.len(),
        2,
        "the default and the one active template (6478), not the blocked 6479: {templates:?}"
    );
    assert!(templates[1].ends_with("(6478)"), "{templates:?}");
    assert!(!b.find("#dialog-slot .progress").await.is_displayed().await.expect("visibility"), "no progress yet");

    // Empty required fields.
    b.find("#dialog-slot button[type=submit]").await.click().await.expect("Create");
    b.find("#dialog-slot .field-error[data-error-for=admin_name]").await;
    for name in ["admin_name", "name", "admin_email", "phone"] {
        assert_eq!(field_error(&b, name).await, "Value is required and can't be empty", "{name}");
    }

    // An administrator email Kaltura already knows.
    field(&b, "admin_name").await.send_keys("Mei Lin").await.expect("typing");
    field(&b, "name").await.send_keys("Singapore").await.expect("typing");
    field(&b, "admin_email").await.send_keys("renee.dvir@downunder.techpubs.example").await.expect("typing");
    field(&b, "phone").await.send_keys("+65 6123 4567").await.expect("typing");
    b.find("#dialog-slot button[type=submit]").await.click().await.expect("Create");
    b.until("Kaltura's duplicate email message", "const e = document.querySelector('#dialog-slot [data-error-for=admin_email]'); return !!e && e.innerText.includes('already exists')").await;
    assert_eq!(field_error(&b, "admin_email").await, "Email address already exists in the system");
    assert_eq!(
        b.js("return document.querySelectorAll('#dialog-slot .field-error').length").await,
        json!(1),
        "only the email is wrong"
    );
    assert_eq!(
        field(&b, "name").await.prop("value").await.expect("a value").as_deref(),
        Some("Singapore"),
        "the form keeps what was typed"
    );

    // A good one, with Kaltura slow to answer.
    let email = field(&b, "admin_email").await;
    email.clear().await.expect("clearing");
    email.send_keys("mei.lin@singapore.techpubs.example").await.expect("typing");
    let latency = |ms: u64| {
        let url = format!("{}/emulator/latency?ms={ms}", app.emulator().url);
        async move {
            let res = reqwest::Client::new().post(url).send().await.expect("the emulator answers");
            assert!(res.status().is_success(), "setting the latency");
        }
    };
    latency(2500).await;
    b.find("#dialog-slot button[type=submit]").await.click().await.expect("Create");
    b.until("the form to be sending", "return !!document.querySelector('#dialog-slot form.add-account.htmx-request')")
        .await;
    let progress = b.find("#dialog-slot .progress").await;
    assert!(
        progress.is_displayed().await.expect("visibility"),
        "the progress indicator shows while the account is created"
    );
    assert!(progress.text().await.expect("text").starts_with("Creating the account"));
    let seconds = b.text("#dialog-slot [data-elapsed]").await;
    assert!(seconds == "0" || seconds == "1", "the counter starts from 0: {seconds}");
    b.until(
        "the seconds counter to reach 2",
        "const s = document.querySelector('#dialog-slot [data-elapsed]'); return !!s && parseInt(s.innerText, 10) >= 2",
    )
    .await;
    latency(0).await;

    b.until("the dialog to close", "return document.getElementById('dialog-slot').children.length === 0").await;
    let flash = b.text("#flash .flash-ok").await;
    assert!(flash.starts_with("Account Singapore ("), "{flash}");
    assert!(flash.contains("was created"), "{flash}");
    b.until("the new account at the top of the table", "const n = document.querySelector('#accounts-panel tbody tr[id^=account-] td.name'); return !!n && n.innerText.trim() === 'Singapore'").await;
    assert_eq!(b.account_names().await.len(), DEFAULT_ROWS + 1);
    assert_eq!(b.text("#accounts-panel tbody tr:first-child td.email").await, "mei.lin@singapore.techpubs.example");
    assert_eq!(b.quota().await, (used + 1, available - 1), "the banner counts the new account");
    b.close().await;
}

/// Regression: the table refresh after a creation is not a navigation, so it must not add a step to the history.
#[tokio::test]
async fn back_after_adding_an_account_returns_to_the_view_before() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    b.mark_page().await;
    b.find("#accounts-filter input[name=status][value='3']").await.click().await.expect("ticking Removed");
    b.until_swapped_to("Removed to be ticked", "/accounts?status=1%2C2%2C3").await;

    b.find("#add-account").await.click().await.expect("Add Account");
    for (name, value) in [
        ("admin_name", "Mei Lin"),
        ("name", "Singapore"),
        ("admin_email", "mei.lin@singapore.techpubs.example"),
        ("phone", "+65 6123 4567"),
    ] {
        field(&b, name).await.send_keys(value).await.expect("typing");
    }
    b.find("#dialog-slot button[type=submit]").await.click().await.expect("Create");
    b.until("the new account at the top, and nothing more in flight", "const n = document.querySelector('#accounts-panel tbody tr[id^=account-] td.name'); return !!n && n.innerText.trim() === 'Singapore' && !document.querySelector('.htmx-request')").await;
    assert_eq!(b.location().await, "/accounts?status=1%2C2%2C3", "adding an account keeps the view");

    b.client.back().await.expect("Back");
    b.until(
        "Back to leave the Removed view",
        r#"return !document.querySelector('#accounts-filter input[name=status][value="3"]').checked"#,
    )
    .await;
    assert_eq!(b.location().await, "/accounts", "Back goes to the view before ticking Removed");
    assert!(!b.account_names().await.contains(&"adtest name".to_string()));
    b.close().await;
}

#[tokio::test]
async fn the_readme_screenshot_shows_the_accounts_page_in_demo_mode() {
    let app = spawn_app().await;
    sqlx::query("UPDATE users SET first_name = 'Demo', last_name = 'Administrator' WHERE email = ?")
        .bind(ADMIN_EMAIL)
        .execute(&app.db)
        .await
        .expect("renaming the administrator");
    let b = Browser::signed_in(&app).await;
    b.until("the table and the fonts", "return document.readyState === 'complete' && document.fonts.status === 'loaded' && document.querySelectorAll('#accounts-panel tbody tr').length === 5").await;
    // 1400x900 of page, not of window: the window is taller by whatever the browser keeps for itself.
    let chrome = b.js("return outerHeight - innerHeight").await.as_u64().expect("a height");
    b.client.set_window_size(1400, 900 + chrome as u32).await.expect("resizing the window");
    b.until("a 1400x900 viewport", "return innerWidth === 1400 && innerHeight === 900").await;
    let png = b.client.screenshot().await.expect("a screenshot");
    b.close().await;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert_eq!(&png[16..24], [1400u32.to_be_bytes(), 900u32.to_be_bytes()].concat(), "1400x900");
    assert!(png.len() > 20 * 1024, "a real page, not a blank one: {} bytes", png.len());
    // The checks above run every time, so the script cannot rot; the file is written only when asked for.
    if let Some(dir) = std::env::var_os(SCREENSHOT_DIR).filter(|d| !d.is_empty()).map(PathBuf::from) {
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{SCREENSHOT_DIR}={}: {e}", dir.display()));
        let file = dir.join("accounts.png");
        std::fs::write(&file, &png).unwrap_or_else(|e| panic!("{} is not written: {e}", file.display()));
    }
}
