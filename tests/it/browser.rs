//! The console in a real browser (headless Chromium through chromedriver), for what only a browser shows: htmx
//! swapping the table and the address bar, Back, the confirmation and Add Account dialogs, row menus, focus, new
//! tabs, the phone layout, the browser's console, and the README screenshots (checked on every run, written only by
//! `scripts/screenshot.sh`). chromedriver and Chromium
//! must be installed (Debian: `chromium chromium-driver`); without them these tests fail, they never skip. One browser
//! at a time: the tests take turns.

use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Role, TestApp, spawn_app, spawn_app_with_emulator};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use kaltura::NewAccount;
use multi_account::config::kaltura::KalturaSettings;
use multi_account::db::audit::{self, AuditAction, Entry, Outcome};
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
    /// chromedriver's address, for what WebDriver itself does not offer (the browser's console).
    driver_url: String,
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
        let driver_address = driver_url.clone();
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
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let Value::Object(capabilities) = capabilities else { unreachable!() };
        let client = ClientBuilder::rustls()
            .expect("rustls for the WebDriver connection")
            .capabilities(capabilities)
            .connect(&driver_url)
            .await
            .unwrap_or_else(|e| panic!("chromedriver cannot start {} ({e}): {INSTALL}", chromium()));
        Browser {
            client,
            app_url: app.url.clone(),
            driver_url: driver_address,
            _driver: driver,
            _profile: profile,
            _turn: turn,
        }
    }

    /// Opens a browser and signs in as the Publisher Administrator through the real sign-in form.
    async fn signed_in(app: &TestApp) -> Browser {
        let b = Browser::open(app).await;
        b.goto("/login").await;
        b.find("form[action='/login'] input[name=email]").await.send_keys(ADMIN_EMAIL).await.expect("typing");
        b.find("form[action='/login'] input[name=password]").await.send_keys(ADMIN_PASSWORD).await.expect("typing");
        b.find("form[action='/login'] button[type=submit]").await.click().await.expect("a click");
        // The start page: the one parent's accounts, or with several the parents side by side.
        b.until(
            "the start page after signing in",
            "return (location.pathname === '/parents/6464/accounts' && !!document.querySelector('#accounts-panel tbody')) \
             || (location.pathname === '/parents' && !!document.querySelector('#parents-panel tbody'))",
        )
        .await;
        if b.location().await != "/parents/6464/accounts" {
            b.goto("/parents/6464/accounts").await;
            b.until("the Accounts page", "return !!document.querySelector('#accounts-panel tbody')").await;
        }
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
        self.open_menu(id).await;
        let item = self.find(&format!("#account-{id} [data-action={action}]")).await;
        assert!(item.is_displayed().await.expect("visibility"), "the menu of {id} shows {action}");
        item.click().await.expect("choosing the action");
    }

    async fn open_menu(&self, id: i64) {
        self.find(&format!("#account-{id} details.menu summary")).await.click().await.expect("opening the row menu");
        self.until("the menu to open", &format!("return document.querySelector('#account-{id} details.menu').open"))
            .await;
    }

    /// Whether every item of the open menu of account `id` is inside the window and is what a click there would hit
    /// (an item cut off by a scroll box is not).
    async fn menu_fully_shown(&self, id: i64) -> bool {
        let script = format!(
            "const items = [...document.querySelectorAll('#account-{id} details.menu[open] .menu-item')]; \
             return items.length > 0 && items.every(i => {{ const r = i.getBoundingClientRect(); \
               const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2); \
               return r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth \
                 && !!hit && i.contains(hit); }})"
        );
        self.js(&script).await == Value::Bool(true)
    }

    /// Waits for the page's dialog and returns its title and text.
    async fn dialog(&self) -> (String, String) {
        self.until("a dialog", "const d = document.querySelector('#dialog-slot dialog'); return !!d && d.open && d.matches(':modal') && !document.querySelector('.htmx-request')").await;
        (self.text("#dialog-slot dialog h2").await, self.text("#dialog-slot dialog p").await)
    }

    /// Clicks the button or link labelled `label` in the open dialog.
    async fn dialog_button(&self, label: &str) {
        let buttons =
            self.client.find_all(Locator::Css("#dialog-slot dialog .form-actions .btn")).await.expect("buttons");
        for b in buttons {
            if b.text().await.expect("a label") == label {
                b.click().await.expect("a click");
                return;
            }
        }
        panic!("no {label} button in the dialog");
    }

    async fn until_no_dialog(&self) {
        self.until("the dialog to close", "return document.getElementById('dialog-slot').children.length === 0").await;
    }

    /// The native dialog (`confirm()`, `alert()`) that is open, if any.
    async fn native_dialog(&self) -> Option<String> {
        self.client.get_alert_text().await.ok()
    }

    /// Counts the requests htmx sends from now on that change something (not GETs), in `window.__posts`.
    async fn count_posts(&self) {
        self.js("window.__posts = 0; if (!window.__counting) { window.__counting = true; document.body.addEventListener('htmx:beforeRequest', e => { if (e.detail.requestConfig.verb !== 'get') window.__posts++; }); }").await;
    }

    /// A description of the element that has focus: its tag, id, name, and the id of the row it is in.
    async fn focused(&self) -> String {
        let script = "const a = document.activeElement; if (!a || a === document.body) return 'body'; \
                      const row = a.closest('tr[id]'); \
                      return a.tagName.toLowerCase() + (a.id ? '#' + a.id : '') + (a.name ? '[name=' + a.name + ']' : '') \
                        + (row ? ' in #' + row.id : '') + (a.closest('dialog') ? ' in dialog' : '')";
        self.js(script).await.as_str().unwrap_or_default().to_string()
    }

    /// Presses `key` where the focus is.
    async fn press(&self, key: Key) {
        self.client.active_element().await.expect("a focused element").send_keys(&key).await.expect("a key press");
    }

    /// Makes the page area `width`×`height` CSS pixels (the window is larger by the browser's own bars).
    async fn resize(&self, width: u32, height: u32) {
        let chrome = self.js("return outerHeight - innerHeight").await.as_u64().expect("a height");
        let side = self.js("return outerWidth - innerWidth").await.as_u64().expect("a width");
        self.client.set_window_size(width + side as u32, height + chrome as u32).await.expect("resizing the window");
        self.until(
            &format!("a {width}x{height} page"),
            &format!("return innerWidth === {width} && innerHeight === {height}"),
        )
        .await;
    }

    /// What the page wrote to the browser's console at level SEVERE (errors, failed requests) since the last call.
    async fn console_errors(&self) -> Vec<String> {
        let session = self.client.session_id().await.expect("a session").expect("a session id");
        let url = format!("{}/session/{session}/se/log", self.driver_url);
        let res = reqwest::Client::new().post(url).json(&json!({"type": "browser"})).send().await.expect("the log");
        let log: Value = res.json().await.expect("a JSON log");
        let entries = log["value"].as_array().unwrap_or_else(|| panic!("chromedriver gives no log: {log}"));
        entries
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// The banner's numbers: accounts in use, additional remaining.
    async fn quota(&self) -> (i64, i64) {
        let number = |text: String| text.parse::<i64>().unwrap_or_else(|_| panic!("a number in the banner: {text}"));
        (number(self.text("#quota-used").await), number(self.text("#quota-available").await))
    }
}

/// The demo's accounts shown by default (active and blocked): the parent, Shanghai, Down Under, two templates.
const DEFAULT_ROWS: usize = 5;
/// A phone's page: an iPhone 14's 390×844 CSS pixels.
const PHONE: (u32, u32) = (390, 844);

/// Registers a child of the parent straight at Kaltura, as another KMC user would; returns its id.
async fn register(app: &TestApp, name: &str, email: &str) -> i64 {
    let emu = app.emulator();
    let kaltura = KalturaSettings::default().demo_client(&emu.url, emu.parent_id, &emu.admin_secret).expect("a client");
    let account = NewAccount {
        admin_name: "Test Administrator".into(),
        name: name.into(),
        admin_email: email.into(),
        phone: "1".into(),
        website: None,
        reference_id: None,
    };
    kaltura.register(&account, None).await.expect("partner.register").id
}

/// Fills Add Account's required fields and sends it.
async fn create_account(b: &Browser, name: &str, email: &str) {
    b.find("#add-account").await.click().await.expect("Add Account");
    b.dialog().await;
    for (field_name, value) in
        [("admin_name", "Mei Lin"), ("name", name), ("admin_email", email), ("phone", "+65 6123 4567")]
    {
        field(b, field_name).await.send_keys(value).await.expect("typing");
    }
    b.dialog_button("Create").await;
}

#[tokio::test]
async fn filtering_swaps_only_the_table_and_puts_the_view_in_the_address_bar() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    assert_eq!(b.location().await, "/parents/6464/accounts");
    let all = b.account_names().await;
    assert_eq!(all.len(), DEFAULT_ROWS, "{all:?}");
    assert!(!all.contains(&"adtest name".to_string()), "removed accounts are hidden by default: {all:?}");

    b.mark_page().await;
    b.find("#accounts-q").await.send_keys("Shanghai").await.expect("typing");
    b.until_swapped_to("the search for Shanghai", "/parents/6464/accounts?q=Shanghai").await;
    assert_eq!(b.account_names().await, ["Shanghai"]);
    assert_eq!(b.text("#publishers-count").await, "1 Publisher", "one, as the KMC says it");

    b.mark_page().await;
    let search = b.find("#accounts-q").await;
    search.send_keys(&Key::Backspace.repeat("Shanghai".len())).await.expect("backspacing");
    b.until_swapped_to("the search to be cleared", "/parents/6464/accounts").await;
    assert_eq!(b.account_names().await, all);

    b.mark_page().await;
    b.find("#accounts-filter input[name=status][value='3']").await.click().await.expect("ticking Removed");
    b.until_swapped_to("Removed to be ticked", "/parents/6464/accounts?status=1%2C2%2C3").await;
    let with_removed = b.account_names().await;
    assert_eq!(with_removed.len(), DEFAULT_ROWS + 1, "{with_removed:?}");
    assert!(with_removed.contains(&"adtest name".to_string()), "{with_removed:?}");
    assert_eq!(b.text("#account-6472 .badge").await, "Removed");

    b.mark_page().await;
    b.find("#accounts-filter select[name=size]").await.select_by_value("25").await.expect("choosing 25 rows");
    b.until_swapped_to("the page size to change", "/parents/6464/accounts?status=1%2C2%2C3&size=25").await;
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
    b.until_swapped_to("the search for Down Under", "/parents/6464/accounts?q=Down+Under").await;
    assert_eq!(b.account_names().await, ["Down Under"]);

    b.client.back().await.expect("Back");
    b.until(
        "Back to show every account again",
        "return location.search === '' && document.querySelectorAll('#accounts-panel tbody tr[id^=account-]').length === 5",
    )
    .await;
    assert_eq!(b.account_names().await, all);
    assert_eq!(b.location().await, "/parents/6464/accounts");
    assert_eq!(b.find("#accounts-q").await.prop("value").await.expect("the search box").as_deref(), Some(""));
    assert_eq!(b.text("#publishers-count").await, "5 Publishers");

    b.client.forward().await.expect("Forward");
    b.until(
        "Forward to show the search again",
        "return document.querySelectorAll('#accounts-panel tbody tr[id^=account-]').length === 1",
    )
    .await;
    assert_eq!(b.account_names().await, ["Down Under"]);
    assert_eq!(b.location().await, "/parents/6464/accounts?q=Down+Under");
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
    b.until_swapped_to("the page size to change", "/parents/6464/accounts?size=25").await;
    assert_eq!(b.account_names().await.len(), 25);
    assert_eq!(b.text(".pager .range").await, format!("1\u{2013}25 of {total}"));

    b.goto("/parents/6464/accounts").await;
    b.until(
        "a fresh Accounts page",
        "return window.__marker === undefined && !!document.getElementById('accounts-panel')",
    )
    .await;
    assert_eq!(b.location().await, "/parents/6464/accounts", "the remembered size needs no query");
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
async fn an_accounts_details_are_edited_and_saved_in_place() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    b.goto("/parents/6464/accounts/6474").await;
    b.js("window.__marker = 1").await;
    b.find("#account-info [data-action=edit]").await.click().await.expect("a click");
    let name = b.find("#account-info form input[name=name]").await;
    assert_eq!(b.focused().await, "input#edit-admin_name[name=admin_name]", "the first field has the focus");
    name.clear().await.expect("clearing");
    name.send_keys("Down Under Campus").await.expect("typing");
    let website = b.find("#account-info form input[name=website]").await;
    website.send_keys("https://downunder.example").await.expect("typing");
    b.find("#account-info form button[type=submit]").await.click().await.expect("a click");
    b.until(
        "the saved card",
        "const f = document.querySelector('#account-info .flash'); return !!f && !document.querySelector('#account-info form')",
    )
    .await;
    assert_eq!(b.text("#account-info .flash").await, "Saved: Account Name, Website URL.");
    assert_eq!(b.text("#account-title").await, "Down Under Campus", "the title follows the new name");
    assert_eq!(b.location().await, "/parents/6464/accounts/6474", "no navigation");
    assert_eq!(b.js("return window.__marker === 1").await, json!(true), "saved in place, not reloaded");
    let saved =
        b.js("return [...document.querySelectorAll('#account-info dl.details > div')].map(d => d.innerText)").await;
    assert!(saved.to_string().contains("https://downunder.example"), "{saved}");

    // Cancel puts the card back as it was.
    b.find("#account-info [data-action=edit]").await.click().await.expect("a click");
    b.find("#account-info form input[name=name]").await.send_keys(" (draft)").await.expect("typing");
    b.find("#account-info form a.btn").await.click().await.expect("a click");
    b.until("the card again", "return !document.querySelector('#account-info form')").await;
    assert_eq!(b.text("#account-title").await, "Down Under Campus");
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "{errors:?}");
    b.close().await;
}

#[tokio::test]
async fn the_edit_page_is_laid_out_like_add_account_with_its_fields_in_the_same_order() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    let names =
        "return [...document.querySelectorAll('main form input[type=text], main form textarea')].map(i => i.name)";
    let card = "const r = document.querySelector('main form').closest('section').getBoundingClientRect(); \
                return [r.left, document.documentElement.clientWidth - r.right, r.width]";
    b.resize(1400, 900).await;
    b.goto("/parents/6464/accounts/new").await;
    b.until("Add Account's page", "return document.readyState === 'complete' && !!document.querySelector('main form')")
        .await;
    let added: Vec<String> = serde_json::from_value(b.js(names).await).expect("names");
    let [left, right, width]: [f64; 3] = serde_json::from_value(b.js(card).await).expect("a box");
    assert!((left - right).abs() < 2.0 && width <= 600.0, "Add Account is a centred card: {left} {right} {width}");

    b.goto("/parents/6464/accounts/6474/edit").await;
    b.until("the edit page", "return document.readyState === 'complete' && !!document.querySelector('main form')")
        .await;
    let edited: Vec<String> = serde_json::from_value(b.js(names).await).expect("names");
    let shared: Vec<&String> = edited.iter().filter(|n| added.contains(n)).collect();
    let expected: Vec<&String> = added.iter().filter(|n| edited.contains(n)).collect();
    assert_eq!(shared, expected, "the fields both forms have, in one order");
    assert_eq!(edited[0], "admin_name", "Administrator first, as on Add Account");
    let [left, right, width]: [f64; 3] = serde_json::from_value(b.js(card).await).expect("a box");
    assert!(
        (left - right).abs() < 2.0 && width <= 600.0,
        "the edit page is a centred card too: {left} {right} {width}"
    );
    b.close().await;
}

#[tokio::test]
async fn rich_media_cms_login_as_an_administrator_opens_a_new_tab_signed_in_as_that_user() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    b.goto("/parents/6464/accounts/6475").await;
    let console = b.client.window().await.expect("the console tab");
    b.find(r#"tr[data-user-id="chen.wei@shanghai.techpubs.example"] [data-action=kmc-login-as]"#)
        .await
        .click()
        .await
        .expect("a click");
    let started = Instant::now();
    let windows = loop {
        let windows = b.client.windows().await.expect("the tabs");
        if windows.len() > 1 || started.elapsed() > PATIENCE {
            break windows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(windows.len(), 2, "one new tab");
    let cms = windows.into_iter().find(|w| *w != console).expect("the new tab");
    b.client.switch_to_window(cms).await.expect("switching to the new tab");
    assert_eq!(b.text("#user-id").await, "chen.wei@shanghai.techpubs.example");
    assert_eq!(b.text("#partner-id").await, "6475");
    b.client.switch_to_window(console).await.expect("switching back");
    assert_eq!(b.location().await, "/parents/6464/accounts/6475", "the console tab stays where it was");
    b.close().await;
}

/// The rendered size of every label of the charts shown, in CSS pixels, and how far each chart sits from its
/// card's left edge.
const CHART_TEXT: &str =
    "const shown = [...document.querySelectorAll('.chart-svg svg')].filter(s => s.getBoundingClientRect().width > 0);
    const sizes = shown.flatMap(s => { const k = s.getBoundingClientRect().width / s.width.baseVal.value;
        return [...s.querySelectorAll('text')].map(t => Number(t.getAttribute('font-size')) * k); });
    const offsets = shown.map(s => s.getBoundingClientRect().left - s.closest('figure').getBoundingClientRect().left);
    return { charts: shown.map(s => s.closest('figure').id), sizes, offsets };";

/// The labels of the charts shown, in CSS pixels.
async fn chart_label_sizes(b: &Browser) -> (Vec<String>, Vec<f64>, Vec<f64>) {
    let seen = b.js(CHART_TEXT).await;
    let read = |key: &str| seen[key].clone();
    (
        serde_json::from_value(read("charts")).expect("ids"),
        serde_json::from_value(read("sizes")).expect("sizes"),
        serde_json::from_value(read("offsets")).expect("offsets"),
    )
}

fn readable(sizes: &[f64]) -> bool {
    !sizes.is_empty() && sizes.iter().all(|px| (11.0..=12.01).contains(px))
}

#[tokio::test]
async fn usage_charts_read_at_twelve_pixels_on_a_desktop_and_a_phone_and_mark_the_incomplete_day() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    for (width, height) in [(1440, 900), (1024, 768), PHONE] {
        b.resize(width, height).await;
        b.goto("/parents/6464/usage").await;
        b.until("the usage", "return document.readyState === 'complete' && !!document.querySelector('#top-chart svg')")
            .await;
        let (charts, sizes, offsets) = chart_label_sizes(&b).await;
        assert_eq!(charts, ["trend-bandwidth", "trend-storage", "top-chart"], "one drawing of each at {width}px");
        assert!(readable(&sizes), "labels at {width}px: {sizes:?}");
        assert!(offsets.iter().all(|x| x.abs() < 1.0), "charts start at their card's edge at {width}px: {offsets:?}");
        // The default period, the last 30 days, ends today, whose figures are still coming in.
        assert!(b.text("#trend-note").await.starts_with("Dashed: "));

        b.goto("/parents/6464/usage/6475").await;
        b.until(
            "the drill-down",
            "return document.readyState === 'complete' && !!document.querySelector('#trend-storage svg')",
        )
        .await;
        let (charts, sizes, _) = chart_label_sizes(&b).await;
        assert_eq!(charts, ["trend-bandwidth", "trend-storage"]);
        assert!(readable(&sizes), "a drill-down's labels at {width}px, never stretched across the page: {sizes:?}");
    }
    b.close().await;
}

#[tokio::test]
async fn a_slow_period_says_what_it_is_loading_and_the_search_hint_fits_a_phone() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    b.resize(PHONE.0, PHONE.1).await;
    b.goto("/parents/6464/usage").await;
    b.until("the usage", "return document.readyState === 'complete' && !!document.querySelector('#top-chart svg')")
        .await;
    let fits = "const i = document.querySelector('.usage-search input[type=search]'); const s = getComputedStyle(i); \
                const c = document.createElement('canvas').getContext('2d'); c.font = s.font; \
                return c.measureText(i.placeholder).width <= i.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight)";
    assert_eq!(b.js(fits).await, json!(true), "the search's hint is not cut off on a phone");

    app.emulator().set_latency_ms(2000);
    // A WebDriver click waits for the next page; the page's own click shows what it does before that.
    let shown = b
        .js("document.querySelector('.presets a:nth-child(5)').click(); \
             return [document.getElementById('usage-loading').innerText, document.documentElement.classList.contains('loading'), \
                     document.querySelector('.usage-totals').getAttribute('aria-busy')]")
        .await;
    assert_eq!(
        shown,
        json!(["Loading Last 3 months\u{2026}", true, "true"]),
        "it says what it loads and dims the figures"
    );
    b.until(
        "the new period",
        "return location.search.includes('interval=month') && document.readyState === 'complete'",
    )
    .await;
    assert_eq!(b.js("return document.getElementById('usage-loading').innerText").await, json!(""));
    assert_eq!(b.js("return document.documentElement.classList.contains('loading')").await, json!(false));
    b.close().await;
}

#[tokio::test]
async fn usage_changes_period_sorts_and_drills_down_to_an_account_with_its_chart() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    b.find("nav.subnav a[href='/parents/6464/usage']").await.click().await.expect("a click");
    b.until(
        "the Usage page",
        "return location.pathname === '/parents/6464/usage' && !!document.querySelector('#trend-bandwidth svg')",
    )
    .await;
    assert!(b.find("#top-chart svg").await.is_displayed().await.expect("visibility"));

    b.find(".presets a:nth-child(5)").await.click().await.expect("a click");
    b.until(
        "the last 3 months by month",
        "return location.search.includes('interval=month') && !!document.querySelector('#trend-bandwidth svg')",
    )
    .await;
    assert_eq!(b.text(".presets a.current").await, "Last 3 months");

    b.find("table.usage th:nth-child(4) a").await.click().await.expect("a click");
    b.until(
        "sorted by plays",
        "return location.search.includes('sort=plays') && !document.querySelector('.htmx-request')",
    )
    .await;
    assert_eq!(b.text("table.usage th[aria-sort]").await, "Plays");
    let plays = b.js("return [...document.querySelectorAll('table.usage tbody td:nth-child(4)')].map(td => Number(td.innerText.replace(/,/g, '')))").await;
    let plays: Vec<f64> = serde_json::from_value(plays).expect("numbers");
    assert!(plays.windows(2).all(|w| w[0] >= w[1]), "largest first: {plays:?}");

    b.find("#usage-6475 td.name a").await.click().await.expect("a click");
    b.until(
        "Shanghai's drill-down",
        "return location.pathname === '/parents/6464/usage/6475' && !!document.querySelector('#trend-bandwidth svg')",
    )
    .await;
    assert_eq!(b.text("h1").await, "Shanghai");
    assert!(b.location().await.contains("interval=month"), "the period goes along");
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "{errors:?}");
    b.close().await;
}

#[tokio::test]
async fn block_asks_in_the_pages_dialog_then_updates_the_row_and_the_banner_in_place() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    assert_eq!(b.text("#account-6475 .badge").await, "Active");
    let quota_before = b.quota().await;
    b.mark_page().await;
    b.count_posts().await;

    // Cancelled: the dialog is the console's, titled as the page without JavaScript is; nothing is sent.
    b.row_action(6475, "block").await;
    let (title, question) = b.dialog().await;
    assert_eq!(b.native_dialog().await, None, "not the browser's confirm()");
    assert_eq!(title, "Confirm Block");
    assert!(question.starts_with("Are you sure you want to block the selected account? (Shanghai)"), "{question}");
    assert_eq!(b.focused().await, "button in dialog", "Block is ready for Enter");
    b.dialog_button("Cancel").await;
    b.until_no_dialog().await;
    assert_eq!(b.js("return window.__posts").await, json!(0), "a cancelled Block sends nothing");
    assert_eq!(b.text("#account-6475 .badge").await, "Active");
    assert_eq!(b.text("#flash").await, "");
    assert_eq!(b.focused().await, "summary in #account-6475", "focus is back on the row's menu button");

    // Confirmed: the row, the banner and the message change, and nothing else.
    b.js("document.getElementById('account-6475').dataset.old = '1'; document.getElementById('quota-banner').dataset.old = '1'")
        .await;
    b.row_action(6475, "block").await;
    assert!(b.dialog().await.1.contains("(Shanghai)"));
    b.dialog_button("Block").await;
    b.until(
        "the Shanghai row to be replaced",
        "const r = document.getElementById('account-6475'); return !!r && !r.dataset.old",
    )
    .await;
    b.until_no_dialog().await;
    assert_eq!(b.text("#account-6475 .badge").await, "Blocked");
    assert_eq!(b.text("#flash .flash-ok").await, "Shanghai (6475) was blocked.");
    b.open_menu(6475).await;
    let offered =
        b.js("return [...document.querySelectorAll('#account-6475 .menu-item')].map(i => i.innerText.trim())").await;
    assert_eq!(
        offered,
        json!(["View details", "Unblock", "Remove"]),
        "a blocked account offers Unblock, not Block, Edit or CMS Login"
    );
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
    b.count_posts().await;

    b.row_action(6474, "remove").await;
    assert_eq!(
        b.dialog().await,
        ("Confirm Remove".into(), "Are you sure you want to remove the selected account? (Down Under)".into())
    );
    assert_eq!(b.focused().await, "a in dialog", "a removal starts on Cancel, so Enter removes nothing");
    b.press(Key::Escape).await;
    b.until_no_dialog().await;
    assert_eq!(b.js("return window.__posts").await, json!(0), "a cancelled Remove sends nothing");
    assert_eq!(b.text("#account-6474 .badge").await, "Active");

    b.row_action(6474, "remove").await;
    b.dialog().await;
    b.dialog_button("Remove").await;
    b.until(
        "the Down Under row to show Removed",
        "const b = document.querySelector('#account-6474 .badge'); return !!b && b.innerText.trim() === 'Removed'",
    )
    .await;
    b.until_no_dialog().await;
    assert_eq!(b.text("#flash .flash-ok").await, "Down Under (6474) was removed.");
    assert_eq!(
        b.js("return document.querySelector('#account-6474 details.menu') === null").await,
        json!(true),
        "a removed account offers no actions"
    );
    assert_eq!(b.focused().await, "span in #account-6474", "focus stays on the row, which has no menu now");
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
    b.dialog().await;
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
    let cancel = "const a = document.querySelector('#dialog-slot .form-actions a[data-close-dialog]'); \
                  return [getComputedStyle(a).pointerEvents, getComputedStyle(a).opacity]";
    assert_eq!(b.js(cancel).await, json!(["none", "0.45"]), "Cancel looks off while the account is created");
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
    assert_eq!(
        b.text("#accounts-panel tbody tr:first-child td[data-label='Admin Email']").await,
        "mei.lin@singapore.techpubs.example"
    );
    assert_eq!(b.quota().await, (used + 1, available - 1), "the banner counts the new account");
    b.close().await;
}

#[tokio::test]
async fn add_account_has_an_address_of_its_own_so_back_closes_it_and_a_reload_keeps_it() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    b.mark_page().await;
    b.find("#add-account").await.click().await.expect("Add Account");
    assert_eq!(b.dialog().await.0, "Add Account");
    b.until("the dialog's address", "return location.pathname === '/parents/6464/accounts/new'").await;

    b.client.back().await.expect("Back");
    b.until_no_dialog().await;
    b.until("the list's address", "return location.pathname + location.search === '/parents/6464/accounts'").await;
    assert_eq!(b.js("return window.__marker === 1").await, json!(true), "Back closed the dialog, not the page");

    b.client.forward().await.expect("Forward");
    assert_eq!(b.dialog().await.0, "Add Account", "Forward opens it again");
    assert_eq!(b.location().await, "/parents/6464/accounts/new");
    b.press(Key::Escape).await;
    b.until_no_dialog().await;
    b.until("the list's address", "return location.pathname + location.search === '/parents/6464/accounts'").await;
    assert_eq!(b.js("return window.__marker === 1").await, json!(true));

    b.find("#add-account").await.click().await.expect("Add Account");
    b.dialog().await;
    b.client.refresh().await.expect("a reload");
    b.until("the form as a page", "return document.readyState === 'complete' && !!document.querySelector('main form')")
        .await;
    assert_eq!(b.text("h1").await, "Add Account");
    assert_eq!(b.location().await, "/parents/6464/accounts/new");
    b.close().await;
}

/// Regression: the table refresh after a creation is not a navigation, so it must not add a step to the history.
#[tokio::test]
async fn back_after_adding_an_account_returns_to_the_view_before() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    b.mark_page().await;
    b.find("#accounts-filter input[name=status][value='3']").await.click().await.expect("ticking Removed");
    b.until_swapped_to("Removed to be ticked", "/parents/6464/accounts?status=1%2C2%2C3").await;

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
    b.until(
        "the view's address",
        "return location.pathname + location.search === '/parents/6464/accounts?status=1%2C2%2C3'",
    )
    .await;

    b.client.back().await.expect("Back");
    b.until(
        "Back to leave the Removed view",
        r#"return !document.querySelector('#accounts-filter input[name=status][value="3"]').checked"#,
    )
    .await;
    assert_eq!(b.location().await, "/parents/6464/accounts", "Back goes to the view before ticking Removed");
    assert!(!b.account_names().await.contains(&"adtest name".to_string()));
    b.close().await;
}

/// Checks a screenshot is a real `width`×`height` page, and writes it to `MA_SCREENSHOT_DIR` as `name` when that is set.
fn keep_screenshot(png: &[u8], width: u32, height: u32, name: &str) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert_eq!(&png[16..24], [width.to_be_bytes(), height.to_be_bytes()].concat(), "{width}x{height}");
    assert!(png.len() > 20 * 1024, "a real page, not a blank one: {} bytes", png.len());
    // The checks above run every time, so the script cannot rot; the file is written only when asked for.
    if let Some(dir) = std::env::var_os(SCREENSHOT_DIR).filter(|d| !d.is_empty()).map(PathBuf::from) {
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{SCREENSHOT_DIR}={}: {e}", dir.display()));
        let file = dir.join(name);
        std::fs::write(&file, png).unwrap_or_else(|e| panic!("{} is not written: {e}", file.display()));
    }
}

#[tokio::test]
async fn the_readme_screenshots_show_the_main_pages_on_a_desktop_and_a_phone() {
    // As demo mode serves them: two parents, so the header offers the other one.
    let app = crate::support::spawn_app_with_parents(|_| {}).await;
    sqlx::query("UPDATE users SET first_name = 'Demo', last_name = 'Administrator' WHERE email = ?")
        .bind(ADMIN_EMAIL)
        .execute(&app.db)
        .await
        .expect("renaming the administrator");
    let b = Browser::signed_in(&app).await;
    b.until("the table and the fonts", "return document.readyState === 'complete' && document.fonts.status === 'loaded' && document.querySelectorAll('#accounts-panel tbody tr').length === 5").await;
    b.resize(1400, 900).await;
    // Two accounts ticked: the selection bar offers the bulk actions.
    for id in [6475, 6479] {
        b.find(&format!("#account-{id} input.select-row")).await.click().await.expect("ticking a row");
    }
    until_selected(&b, 2).await;
    keep_screenshot(&b.client.screenshot().await.expect("a screenshot"), 1400, 900, "accounts.png");
    b.find("details.parent-menu summary").await.click().await.expect("opening the parents");
    b.until("the parents", "return !!document.querySelector('details.parent-menu[open] a[data-parent=\"7001\"]')")
        .await;
    keep_screenshot(&b.client.screenshot().await.expect("a screenshot"), 1400, 900, "parents.png");
    b.goto("/parents").await;
    b.until("the overview", "return document.readyState === 'complete' && document.querySelectorAll('#parents-panel tbody tr').length === 2").await;
    keep_screenshot(&b.client.screenshot().await.expect("a screenshot"), 1400, 900, "overview.png");
    b.goto("/parents/6464/accounts/6475").await;
    b.until("the details", "return document.readyState === 'complete' && document.querySelectorAll('#account-admins tbody tr').length === 3").await;
    keep_screenshot(&b.client.screenshot().await.expect("a screenshot"), 1400, 900, "account-details.png");
    b.goto("/parents/6464/usage").await;
    b.until("the usage", "return document.readyState === 'complete' && !!document.querySelector('#top-chart svg')")
        .await;
    keep_screenshot(&b.client.screenshot().await.expect("a screenshot"), 1400, 900, "usage.png");
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("new-faculties.csv");
    std::fs::write(
        &file,
        "Administrator,Account Name,Administrator Email,Administrator Phone,Website URL,Template Partner ID\n\
         Ann Arts,Faculty of Arts,ann@arts.example.edu,+1 555 0101,https://arts.example.edu,6478\n\
         Bob Bio,Faculty of Biology,bob@bio.example.edu,+1 555 0102,https://bio.example.edu,6478\n\
         Cat Chem,Faculty of Chemistry,cat(at)chem.example.edu,+1 555 0103,,0\n\
         Dan Dent,Faculty of Dentistry,dan@dent.example.edu,+1 555 0104,,0\n\
         Eve Econ,Faculty of Economics,eve@econ.example.edu,+1 555 0105,,0\n",
    )
    .expect("the file is written");
    b.goto("/parents/6464/accounts/import").await;
    b.find("input[type=file][name=file]").await.send_keys(file.to_str().unwrap()).await.expect("choosing the file");
    b.find(".import-form button[type=submit]").await.click().await.expect("a click");
    b.until("the preview", "return document.readyState === 'complete' && !!document.getElementById('tally-create')")
        .await;
    keep_screenshot(&b.client.screenshot().await.expect("a screenshot"), 1400, 900, "import.png");
    b.goto("/parents/6464/accounts").await;
    b.until("the table", "return document.readyState === 'complete' && document.querySelectorAll('#accounts-panel tbody tr').length === 5").await;
    b.resize(PHONE.0, PHONE.1).await;
    keep_screenshot(&b.client.screenshot().await.expect("a screenshot"), PHONE.0, PHONE.1, "accounts-phone.png");
    // Below the filters: the accounts as cards.
    b.js("document.querySelector('#accounts-panel .panel-head').scrollIntoView({block: 'start'})").await;
    b.until("the cards in view", "return document.querySelector('#accounts-panel').getBoundingClientRect().top < 200")
        .await;
    keep_screenshot(&b.client.screenshot().await.expect("a screenshot"), PHONE.0, PHONE.1, "accounts-phone-cards.png");
    b.goto("/parents/6464/usage").await;
    b.until("the usage", "return document.readyState === 'complete' && !!document.querySelector('#top-chart svg')")
        .await;
    b.js("document.getElementById('trend').scrollIntoView({block: 'start'})").await;
    keep_screenshot(&b.client.screenshot().await.expect("a screenshot"), PHONE.0, PHONE.1, "usage-phone.png");
    b.close().await;
}

#[tokio::test]
async fn row_menus_are_shown_whole_on_a_one_row_result_and_at_the_bottom_of_the_window() {
    let app = spawn_app_with_emulator(|cfg| cfg.children = 40).await;
    let b = Browser::signed_in(&app).await;
    // A Partner ID search finds one account: its menu hangs below the only row of the table.
    b.goto("/parents/6464/accounts?q=6475").await;
    b.until(
        "one account alone",
        "return document.querySelectorAll('#accounts-panel tbody tr[id^=account-]').length === 1",
    )
    .await;
    b.open_menu(6475).await;
    assert!(b.menu_fully_shown(6475).await, "the only row's menu is cut off");

    // The last row with a menu on a long page, at the bottom of the window: the menu opens upward.
    b.goto("/parents/6464/accounts").await;
    b.until("a long page", "return document.querySelectorAll('#accounts-panel tbody tr[id^=account-]').length > 40")
        .await;
    let last = b
        .js("const rows = [...document.querySelectorAll('#accounts-panel tbody tr[id^=account-]')].filter(r => r.querySelector('details.menu')); return Number(rows[rows.length - 1].id.slice('account-'.length))")
        .await
        .as_i64()
        .expect("an id");
    b.js(&format!("document.getElementById('account-{last}').scrollIntoView({{block: 'end'}})")).await;
    b.open_menu(last).await;
    assert!(b.menu_fully_shown(last).await, "the last row's menu is cut off");
    // Beside its button, so it covers no other row's menu button, and lifted to stay in the window.
    let beside = format!(
        "const m = document.querySelector('#account-{last} .menu-items').getBoundingClientRect(); \
         const s = document.querySelector('#account-{last} summary').getBoundingClientRect(); \
         return m.right <= s.left && m.bottom <= innerHeight && m.top < s.top"
    );
    assert_eq!(b.js(&beside).await, json!(true), "with no room below, the menu is beside the button, lifted");
    b.close().await;
}

#[tokio::test]
async fn one_row_menu_is_open_at_a_time_and_escape_or_a_click_elsewhere_closes_it() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    let open = |id: i64| format!("return document.querySelector('#account-{id} details.menu').open");
    b.open_menu(6474).await;
    b.open_menu(6479).await;
    assert_eq!(b.js(&open(6474)).await, json!(false), "opening a menu closes the other");
    assert_eq!(b.js("return document.querySelectorAll('details.menu[open]').length").await, json!(1));

    b.press(Key::Escape).await;
    assert_eq!(b.js(&open(6479)).await, json!(false), "Escape closes the menu");
    assert_eq!(b.focused().await, "summary in #account-6479", "and leaves focus on its button");

    b.open_menu(6475).await;
    b.find("h1").await.click().await.expect("a click elsewhere");
    assert_eq!(b.js(&open(6475)).await, json!(false), "a click elsewhere closes the menu");
    assert_eq!(b.js("return document.querySelectorAll('details.menu[open]').length").await, json!(0));
    b.close().await;
}

#[tokio::test]
async fn add_account_follows_the_banner_when_the_last_place_is_used_and_freed() {
    let app = spawn_app().await;
    register(&app, "School One", "one@schools.example").await;
    register(&app, "School Two", "two@schools.example").await;
    let b = Browser::signed_in(&app).await;
    assert_eq!(b.quota().await, (4, 1), "one place left");

    create_account(&b, "Singapore", "mei.lin@singapore.techpubs.example").await;
    b.until_no_dialog().await;
    b.until(
        "the banner to count the new account",
        "return document.getElementById('quota-available').innerText === '0'",
    )
    .await;
    b.until("Add Account to be disabled", "return document.getElementById('add-account').disabled === true").await;
    let title = b.find("#add-account").await.attr("title").await.expect("a title").unwrap_or_default();
    assert!(title.starts_with("All 5 accounts of your quota are in use."), "the tooltip says why: {title}");
    assert_eq!(b.text("#add-account-why").await, "Quota used up");
    let look =
        b.js("const s = getComputedStyle(document.getElementById('add-account')); return [s.opacity, s.cursor]").await;
    assert_eq!(look, json!(["0.45", "not-allowed"]), "a disabled button looks disabled");

    let singapore = b
        .js("return Number(document.querySelector('#accounts-panel tbody tr[id^=account-]').id.slice('account-'.length))")
        .await
        .as_i64()
        .expect("the new account's id");
    b.row_action(singapore, "remove").await;
    b.dialog().await;
    b.dialog_button("Remove").await;
    b.until(
        "Add Account to be enabled again",
        "const a = document.getElementById('add-account'); return a.tagName === 'A' && !a.hasAttribute('disabled')",
    )
    .await;
    assert_eq!(b.quota().await, (4, 1));
    b.find("#add-account").await.click().await.expect("Add Account");
    assert_eq!(b.dialog().await.0, "Add Account", "and it opens the form");
    assert!(
        !b.js("return !!document.getElementById('add-account-error')").await.as_bool().unwrap_or(true),
        "no refusal"
    );
    b.close().await;
}

#[tokio::test]
async fn values_the_console_corrected_leave_the_address_bar() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    for (asked, shown, note) in [
        (
            "/parents/6464/accounts?page=abc&sort=phone&q=Shang",
            "/parents/6464/accounts?q=Shang",
            "#accounts-panel .flash-note",
        ),
        ("/audit?page=abc", "/audit", "#audit-panel .flash-note"),
    ] {
        b.goto(asked).await;
        b.until(
            &format!("{asked} to load"),
            &format!("return document.readyState === 'complete' && !!document.querySelector('{note}')"),
        )
        .await;
        b.until(
            &format!("{asked} corrected"),
            &format!("return location.pathname + location.search === {}", json!(shown)),
        )
        .await;
    }
    // A view with nothing to correct keeps its address as it was typed.
    b.goto("/parents/6464/accounts?status=1&filtered=1").await;
    b.until("the table", "return document.readyState === 'complete' && !!document.querySelector('#accounts-panel')")
        .await;
    assert_eq!(b.location().await, "/parents/6464/accounts?status=1&filtered=1");
    b.close().await;
}

#[tokio::test]
async fn checking_an_import_without_a_file_says_so_on_the_page() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    b.goto("/parents/6464/accounts/import").await;
    b.find(".import-form button[type=submit]").await.click().await.expect("a click");
    b.until("the message", "return !!document.getElementById('import-error')").await;
    assert_eq!(b.text("#import-error").await, "Choose a CSV file to upload.", "the page says it, not a browser bubble");
    b.close().await;
}

#[tokio::test]
async fn on_a_phone_the_filters_wait_behind_a_button_and_the_accounts_come_first() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    b.resize(1400, 900).await;
    let shown = |css: &str| format!("return getComputedStyle(document.querySelector('{css}')).display !== 'none'");
    assert_eq!(b.js(&shown(".filters-toggle")).await, json!(false), "a desktop shows every filter, no button");
    let left = |css: &str| format!("return document.querySelector('{css}').getBoundingClientRect().left");
    let (by, search) = (b.js(&left("select[name=by]")).await, b.js(&left("#accounts-q")).await);
    assert!(by.as_f64() < search.as_f64(), "Search by comes before the search: {by} {search}");

    b.resize(PHONE.0, PHONE.1).await;
    assert_eq!(b.js(&shown("#more-filters")).await, json!(false), "the other filters wait behind the button");
    let form = b.js("return document.getElementById('accounts-filter').getBoundingClientRect().height").await;
    assert!(form.as_f64().expect("a height") < 140.0, "the search takes little room: {form}");
    assert_eq!(b.text(".filters-toggle").await, "Filters: Active, Blocked");
    let first_card =
        b.js("return document.querySelector('#accounts-panel tbody tr').getBoundingClientRect().top").await;
    assert!(first_card.as_f64().expect("a top") < f64::from(PHONE.1), "an account shows without scrolling");

    b.find(".filters-toggle").await.click().await.expect("a click");
    assert_eq!(b.js(&shown("#more-filters")).await, json!(true));
    assert_eq!(b.find(".filters-toggle").await.attr("aria-expanded").await.expect("an attribute"), Some("true".into()));
    b.find("input[name=status][value='3']").await.click().await.expect("ticking Removed");
    b.until(
        "the removed accounts",
        "return location.search.includes('status=1%2C2%2C3') || location.search.includes('status=1,2,3')",
    )
    .await;
    assert_eq!(b.text(".filters-toggle").await, "Filters: Active, Blocked, Removed");
    assert_eq!(b.js(&shown("#more-filters")).await, json!(true), "still open after the table changed");
    b.find(".filters-toggle").await.click().await.expect("a click");
    assert_eq!(b.js(&shown("#more-filters")).await, json!(false));
    b.close().await;
}

#[tokio::test]
async fn on_a_phone_accounts_are_cards_and_no_page_scrolls_sideways() {
    let app = spawn_app().await;
    app.create_user("renee.dvir.with.a.long.address@downunder.techpubs.example", Role::Manager, "renee password one")
        .await;
    // The longest action codes, which a phone's card must wrap.
    for action in [AuditAction::UserBootstrap, AuditAction::LoginSsoRefused, AuditAction::AccountKmcLogin] {
        let entry = Entry {
            actor: ADMIN_EMAIL,
            ip: "2001:db8:85a3::8a2e:370:7334",
            action,
            target: "6475",
            result: Outcome::Ok,
            details: "",
        };
        audit::record(&app.db, 1_000, entry).await.expect("an audit entry");
    }
    let b = Browser::signed_in(&app).await;
    b.resize(PHONE.0, PHONE.1).await;
    for (path, table) in [
        ("/parents/6464/accounts", "#accounts-panel tbody tr"),
        ("/users", "#users-panel tbody tr"),
        ("/audit", "#audit-panel tbody tr"),
    ] {
        b.goto(path).await;
        b.until(
            &format!("{path} to load"),
            &format!("return document.readyState === 'complete' && !!document.querySelector('{table}')"),
        )
        .await;
        // clientWidth leaves out the vertical scrollbar, which headless Chromium draws as a desktop does.
        let widths = b.js("return [document.documentElement.scrollWidth, document.documentElement.clientWidth]").await;
        assert!(widths[0].as_u64() <= widths[1].as_u64(), "{path} scrolls sideways: {widths}");
    }

    // A card's title is the name alone, with no label glued to it.
    for (path, cell) in [
        ("/parents/6464/usage", "#usage-panel tbody td.name"),
        ("/parents/6464/accounts/6475", "#account-admins tbody td.name"),
    ] {
        b.goto(path).await;
        b.until(&format!("{path} to load"), &format!("return !!document.querySelector(\"{cell}\")")).await;
        let labels = b
            .js(&format!(
                "return [...document.querySelectorAll(\"{cell}\")].map(td => getComputedStyle(td, '::before').content)"
            ))
            .await;
        let labels: Vec<String> = serde_json::from_value(labels).expect("a list");
        assert!(labels.iter().all(|c| c == "none"), "{path}: {labels:?}");
    }

    b.goto("/parents/6464/accounts").await;
    b.until("the cards", "return document.querySelectorAll('#accounts-panel tbody tr[id^=account-]').length === 5")
        .await;
    let offscreen = b
        .js("return [...document.querySelectorAll('#accounts-panel tbody tr[id^=account-] td.name, #accounts-panel tbody td.num, #accounts-panel tbody .badge, #accounts-panel summary')].filter(e => { const r = e.getBoundingClientRect(); return r.width === 0 || r.left < 0 || r.right > innerWidth; }).length")
        .await;
    assert_eq!(offscreen, json!(0), "every card shows its name, id, status and menu button on the screen");
    b.open_menu(6475).await;
    assert!(b.menu_fully_shown(6475).await, "a menu on a phone is shown whole");

    // Emails take the card's width after their label: no column of one or two letters a line.
    for (path, cell) in [
        ("/parents/6464/accounts", "#accounts-panel tbody tr[id^=account-] td[data-label='Admin Email']"),
        ("/users", "#users-panel tbody td[data-label='Login Email']"),
    ] {
        b.goto(path).await;
        b.until(&format!("{path} to load"), &format!("return !!document.querySelector(\"{cell}\")")).await;
        let narrowest = b
            .js(&format!(
                "return Math.min(...[...document.querySelectorAll(\"{cell}\")].map(e => e.getBoundingClientRect().width))"
            ))
            .await;
        assert!(narrowest.as_f64().unwrap() > 250.0, "{path}: an email cell is {narrowest} px wide");
        let tallest = b
            .js(&format!(
                "return Math.max(...[...document.querySelectorAll(\"{cell}\")].map(e => e.getBoundingClientRect().height))"
            ))
            .await;
        assert!(tallest.as_f64().unwrap() < 60.0, "{path}: an email takes {tallest} px, more than two lines");
    }
    b.close().await;
}

#[tokio::test]
async fn focus_goes_to_the_first_field_stays_in_dialogs_and_returns_where_it_was() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    b.find("#add-account").await.click().await.expect("Add Account");
    b.dialog().await;
    assert_eq!(b.focused().await, "input[name=admin_name] in dialog", "the first field");
    for n in 0..30 {
        b.press(Key::Tab).await;
        let focused = b.focused().await;
        assert!(focused.ends_with(" in dialog"), "Tab {n} left the dialog for {focused}");
    }
    b.press(Key::Escape).await;
    b.until_no_dialog().await;
    assert_eq!(b.focused().await, "a#add-account", "back on the button that opened it");

    b.row_action(6475, "block").await;
    b.dialog().await;
    b.dialog_button("Block").await;
    b.until(
        "the row to show Blocked",
        "const b = document.querySelector('#account-6475 .badge'); return !!b && b.innerText.trim() === 'Blocked'",
    )
    .await;
    b.until_no_dialog().await;
    b.until(
        "focus on the row's menu button",
        "return document.activeElement === document.querySelector('#account-6475 summary')",
    )
    .await;

    b.goto("/users").await;
    b.find("a[href='/users/new']").await.click().await.expect("Add User");
    b.until("the form", "return !!document.querySelector('#user-form')").await;
    b.until(
        "focus on the email",
        "return document.activeElement === document.querySelector('#user-form [name=email]')",
    )
    .await;
    b.find("#user-form button[type=submit]").await.click().await.expect("Save, empty");
    b.until("the errors", "return !!document.querySelector('#user-form .field-error')").await;
    assert_eq!(b.focused().await, "input[name=email]", "the first field in error");
    b.close().await;
}

#[tokio::test]
async fn a_field_error_goes_as_soon_as_the_field_is_corrected() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    b.find("#add-account").await.click().await.expect("Add Account");
    b.dialog().await;
    b.dialog_button("Create").await;
    b.until("four errors", "return document.querySelectorAll('#dialog-slot .field-error').length === 4").await;
    field(&b, "admin_name").await.send_keys("Mei Lin").await.expect("typing");
    let errors =
        b.js("return [...document.querySelectorAll('#dialog-slot .field-error')].map(e => e.dataset.errorFor)").await;
    assert_eq!(errors, json!(["name", "admin_email", "phone"]), "the corrected field's error went at once");
    assert_eq!(field(&b, "admin_name").await.attr("aria-invalid").await.expect("an attribute"), None);
    b.close().await;
}

/// Page 2 is as long as page 1, so nothing but the page itself brings its top into view.
#[tokio::test]
async fn next_page_shows_the_top_of_the_new_page() {
    let app = spawn_app_with_emulator(|cfg| cfg.children = 60).await;
    let b = Browser::signed_in(&app).await;
    b.goto("/parents/6464/accounts?size=25").await;
    b.until("25 rows", "return document.querySelectorAll('#accounts-panel tbody tr[id^=account-]').length === 25")
        .await;
    b.js("window.scrollTo(0, document.documentElement.scrollHeight)").await;
    b.mark_page().await;
    b.find(".pager a[rel=next]").await.click().await.expect("Next");
    b.until_swapped_to("page 2", "/parents/6464/accounts?page=2&size=25").await;
    let place =
        b.js("return [document.getElementById('accounts-panel').getBoundingClientRect().top, innerHeight]").await;
    let (top, height) = (place[0].as_f64().expect("a position"), place[1].as_f64().expect("a height"));
    assert!((0.0..height / 2.0).contains(&top), "the top of the table is in view: {top} of {height}");
    assert_eq!(b.focused().await, "span#publishers-count", "focus on the new page's count, not on a link at its end");
    b.close().await;
}

#[tokio::test]
async fn nobody_is_offered_blocking_removing_or_demoting_themselves() {
    let app = spawn_app().await;
    let renee = app.create_user("renee@example.com", Role::Manager, "renee password one").await;
    let me = app.user_id(ADMIN_EMAIL).await;
    let b = Browser::signed_in(&app).await;
    b.goto("/users").await;
    b.find(&format!("#user-{me}")).await;
    let offered = |id: i64| {
        format!("return [...document.querySelectorAll('#user-{id} .actions .btn')].map(b => b.innerText.trim())")
    };
    assert_eq!(b.js(&offered(me)).await, json!(["Password"]), "one's own row: no Block, no Remove");
    assert_eq!(
        b.js(&format!("return !!document.querySelector('#user-{me} select')")).await,
        json!(false),
        "nor a role"
    );
    assert_eq!(b.js(&offered(renee)).await, json!(["Block", "Password", "Remove"]));

    // Blocking someone else asks in the dialog, and leaves focus on the button that undoes it.
    b.find(&format!("#user-{renee} form[action$='/block'] button")).await.click().await.expect("Block");
    let (title, question) = b.dialog().await;
    assert_eq!(b.native_dialog().await, None, "not the browser's confirm()");
    assert_eq!(title, "Block User");
    assert!(question.starts_with("Block Test Manager?"), "{question}");
    b.dialog_button("Block").await;
    b.until(
        "Renee to be blocked",
        &format!(
            "return JSON.stringify({}) === '[\"Unblock\",\"Password\",\"Remove\"]'",
            offered(renee).trim_start_matches("return ")
        ),
    )
    .await;
    b.until("focus on Unblock", &format!("return document.activeElement === document.querySelector('#user-{renee} form[action$=\"/unblock\"] button')")).await;
    b.close().await;
}

#[tokio::test]
async fn the_browser_console_stays_clean_and_the_toolbar_is_even() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    // One control height, and 16px text in the search (smaller makes phones zoom in).
    let heights = b.js("return [...document.querySelectorAll('#accounts-filter select, #accounts-filter input[type=search], #accounts-filter .checks, #accounts-filter .btn:not(.filters-toggle)')].map(e => e.getBoundingClientRect().height)").await;
    assert_eq!(heights, json!([36, 36, 36, 36, 36]), "the toolbar's controls");
    let bottoms = b.js("return new Set([...document.querySelectorAll('#accounts-filter select, #accounts-filter input[type=search], #accounts-filter .checks, #accounts-filter .btn:not(.filters-toggle)')].map(e => Math.round(e.getBoundingClientRect().bottom))).size").await;
    assert_eq!(bottoms, json!(1), "on one line");
    assert_eq!(b.js("return getComputedStyle(document.getElementById('accounts-q')).fontSize").await, json!("16px"));

    // A form refused with 422 is shown, and logged by nobody; the icon is found.
    b.find("#add-account").await.click().await.expect("Add Account");
    b.dialog().await;
    b.dialog_button("Create").await;
    b.until("the errors", "return document.querySelectorAll('#dialog-slot .field-error').length === 4").await;
    b.goto("/users").await;
    b.find("#users-panel").await;
    let errors: Vec<String> = b.console_errors().await.into_iter().filter(|e| !e.contains("status of 422")).collect();
    assert!(errors.is_empty(), "the browser's console: {errors:#?}");
    b.close().await;
}

#[tokio::test]
async fn a_csv_import_is_uploaded_previewed_confirmed_and_followed_to_its_result() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("faculties.csv");
    std::fs::write(
        &file,
        "Account Name;Administrator;Administrator Email;Administrator Phone\n\
         Faculty of Arts;Ann Arts;ann@arts.example;+1 555 0101\n\
         Faculty of Biology;Bob Bio;bob@bio.example;+1 555 0102\n\
         Faculty of Chemistry;Cat Chem;not an email;+1 555 0103\n",
    )
    .expect("the file is written");
    let b = Browser::signed_in(&app).await;
    b.find("#import-accounts").await.click().await.expect("a click");
    b.until("the import page", "return location.pathname === '/parents/6464/accounts/import'").await;
    b.find("input[type=file][name=file]").await.send_keys(file.to_str().unwrap()).await.expect("choosing the file");
    b.find(".import-form button[type=submit]").await.click().await.expect("a click");
    b.until("the preview", "return !!document.getElementById('tally-create')").await;
    assert_eq!(b.text("#import-progress h2").await, "Nothing has been sent to Kaltura yet");
    assert_eq!(b.text("#tally-create").await, "2");
    assert_eq!(b.text("#tally-invalid").await, "1");
    assert_eq!(b.text("#import-row-4 .import-message").await, "Administrator Email: Invalid email format");

    // Slow enough to watch the progress, which refreshes itself and then shows every row's outcome.
    app.emulator().set_latency_ms(400);
    b.find("#import-start").await.click().await.expect("a click");
    b.until("the progress", "return !!document.getElementById('import-bar')").await;
    b.until(
        "the result",
        "return document.querySelector('#import-progress h2').innerText === 'Done' \
         && document.querySelectorAll('[data-outcome=Created]').length === 2",
    )
    .await;
    app.emulator().set_latency_ms(0);
    assert!(b.text("#import-status").await.starts_with("2 of 2 rows done"), "{}", b.text("#import-status").await);
    assert!(b.find("a[href$='/result.csv']").await.is_displayed().await.unwrap());
    let partner = b.text("#import-row-2 td[data-label='Partner ID'] a").await;
    assert!(partner.parse::<i64>().is_ok(), "the created account's id links to it: {partner}");

    // On a phone the rows are cards and nothing scrolls sideways.
    b.resize(390, 844).await;
    assert_eq!(b.js("return document.documentElement.scrollWidth <= innerWidth").await, json!(true));
    assert!(b.console_errors().await.is_empty());
    b.close().await;
}

/// What the selection bar counts (0 when nothing is selected).
async fn selection_count(b: &Browser) -> String {
    let n = b.js("const c = document.getElementById('selection-count'); return c ? c.innerText.trim() : '0'").await;
    n.as_str().unwrap_or_default().to_string()
}

async fn until_selected(b: &Browser, n: usize) {
    let script = format!(
        "const c = document.getElementById('selection-count'); \
         return (c ? c.innerText.trim() : '0') === '{n}' && !document.querySelector('.htmx-request')"
    );
    b.until(&format!("{n} accounts selected"), &script).await;
}

/// The ids of the ticked rows of the page.
async fn ticked(b: &Browser) -> Vec<i64> {
    let ids = b.js("return [...document.querySelectorAll('#accounts-panel input.select-row:checked')].map(i => Number(i.value))").await;
    serde_json::from_value(ids).expect("a list of ids")
}

#[tokio::test]
async fn a_selection_made_on_two_pages_counts_both_and_select_all_ticks_the_page() {
    let app = spawn_app_with_emulator(|cfg| cfg.children = 60).await;
    let b = Browser::signed_in(&app).await;
    b.goto("/parents/6464/accounts?size=25").await;
    let page1: Vec<i64> = serde_json::from_value(
        b.js("return [...document.querySelectorAll('#accounts-panel input.select-row')].map(i => Number(i.value))")
            .await,
    )
    .expect("ids");
    assert_eq!(selection_count(&b).await, "0");
    for id in &page1[..2] {
        b.find(&format!("#account-{id} input.select-row")).await.click().await.expect("ticking a row");
    }
    until_selected(&b, 2).await;

    b.mark_page().await;
    b.find(".pager a[rel=next]").await.click().await.expect("Next");
    b.until_swapped_to("page 2", "/parents/6464/accounts?page=2&size=25").await;
    assert_eq!(selection_count(&b).await, "2", "the bar is still true after paging");
    assert!(ticked(&b).await.is_empty());
    let page2: Vec<i64> = serde_json::from_value(
        b.js("return [...document.querySelectorAll('#accounts-panel input.select-row')].map(i => Number(i.value))")
            .await,
    )
    .expect("ids");
    b.find(&format!("#account-{} input.select-row", page2[0])).await.click().await.expect("ticking a row");
    until_selected(&b, 3).await;

    // "Select all on this page": the header's checkbox.
    b.find("#accounts-panel [data-select-page]").await.click().await.expect("ticking the page");
    until_selected(&b, 2 + page2.len()).await;
    assert_eq!(ticked(&b).await, page2);

    b.mark_page().await;
    b.find(".pager a[rel=prev]").await.click().await.expect("Previous");
    b.until_swapped_to("page 1", "/parents/6464/accounts?size=25").await;
    assert_eq!(ticked(&b).await, page1[..2].to_vec(), "page 1's ticks are kept");
    assert_eq!(b.js("return document.querySelector('[data-select-page]').checked").await, json!(false));

    // Clear empties the selection and the table's ticks; "Select all N matching" takes every page's rows.
    b.find("#selection-bar [data-bulk=clear]").await.click().await.expect("Clear");
    until_selected(&b, 0).await;
    b.until("no row ticked", "return !document.querySelector('#accounts-panel input.select-row:checked') && !document.querySelector('.htmx-request')").await;
    let emu = app.emulator();
    let kaltura = KalturaSettings::default().demo_client(&emu.url, emu.parent_id, &emu.admin_secret).expect("a client");
    let in_use = kaltura.list_partners(&kaltura::PartnerFilter::in_use(), &kaltura::Pager::new(1, 1)).await;
    let in_use = in_use.expect("partner.list").total_count as usize;
    b.find("#select-matching").await.click().await.expect("select all matching");
    b.until(
        "every row of the page ticked",
        "const boxes = [...document.querySelectorAll('#accounts-panel input.select-row')]; \
         return boxes.length > 0 && boxes.every(i => i.checked) && !document.querySelector('.htmx-request')",
    )
    .await;
    assert_eq!(selection_count(&b).await, (in_use - 1).to_string(), "every active or blocked account but the parent");
    assert_eq!(b.console_errors().await, Vec::<String>::new());
    b.close().await;
}

#[tokio::test]
async fn bulk_block_asks_once_with_the_counts_then_shows_the_outcome_and_the_rows_are_blocked() {
    let app = spawn_app().await;
    let b = Browser::signed_in(&app).await;
    // The demo's default view: the parent (no checkbox), Shanghai, Down Under, two templates (one blocked).
    b.find("#accounts-panel [data-select-page]").await.click().await.expect("ticking the page");
    until_selected(&b, 4).await;
    b.count_posts().await;

    // On a phone: the checkboxes and the bar's buttons are on the screen, and nothing scrolls sideways.
    b.resize(PHONE.0, PHONE.1).await;
    let widths = b.js("return [document.documentElement.scrollWidth, innerWidth]").await;
    assert!(widths[0].as_u64() <= widths[1].as_u64(), "the page scrolls sideways: {widths}");
    let offscreen = b
        .js("return [...document.querySelectorAll('#accounts-panel input.select-row, #selection-bar .btn')].filter(e => { const r = e.getBoundingClientRect(); return r.width === 0 || r.left < 0 || r.right > innerWidth; }).length")
        .await;
    assert_eq!(offscreen, json!(0), "every checkbox and button is on the screen");

    b.find("#selection-bar [data-bulk=block]").await.click().await.expect("Block");
    let (title, question) = b.dialog().await;
    assert_eq!(b.native_dialog().await, None, "not the browser's confirm()");
    assert_eq!(title, "Block 3 accounts");
    assert_eq!(question, "Are you sure you want to block 3 accounts? 1 will be skipped: 1 already blocked.");
    assert_eq!(b.text("#dialog-slot .skipped-list").await, "Template - Legacy (6479): already blocked");
    assert_eq!(b.js("return window.__posts").await, json!(0), "asking sends nothing");
    b.dialog_button("Block").await;

    b.until(
        "the job's page, finished",
        "return location.pathname.startsWith('/parents/6464/accounts/bulk/') && !!document.querySelector('#bulk-progress[data-state=done]')",
    )
    .await;
    assert_eq!((b.text("#bulk-done").await, b.text("#bulk-total").await), ("4".into(), "4".into()));
    assert_eq!(b.text("#bulk-summary").await, "3 blocked, 1 skipped, 0 failed.");
    let widths = b.js("return [document.documentElement.scrollWidth, innerWidth]").await;
    assert!(widths[0].as_u64() <= widths[1].as_u64(), "the job's page scrolls sideways: {widths}");

    b.goto("/parents/6464/accounts").await;
    for id in [6475, 6474, 6478, 6479] {
        assert_eq!(b.text(&format!("#account-{id} .badge")).await, "Blocked", "account {id}");
    }
    assert_eq!(b.text("#account-6464 .badge").await, "Active", "never the parent");
    assert_eq!(selection_count(&b).await, "0", "the job took the selection");
    assert_eq!(b.console_errors().await, Vec::<String>::new());
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn single_sign_on_goes_through_the_providers_pages_and_back_signed_in() {
    let accounts = json!({ "admin-1": { "email": ADMIN_EMAIL, "email_verified": true } });
    let (app, provider) =
        crate::sso::console_with_provider(accounts, "", None, multi_account::config::oidc::LocalLogin::All).await;
    crate::sso::link(&app, &provider, "admin-1", ADMIN_EMAIL).await;
    let b = Browser::open(&app).await;
    b.goto("/login").await;
    assert_eq!(b.text("#sso").await, "Sign in with Test IdP");
    b.find("#sso").await.click().await.expect("a click");
    b.until("the provider's sign-in page", "return document.title === 'Sign-in'").await;
    b.find("input[name=login]").await.send_keys("admin-1").await.expect("typing");
    b.find("input[name=password]").await.send_keys("any password").await.expect("typing");
    b.find("button[type=submit]").await.click().await.expect("a click");
    b.until("the provider's consent page", "return !!document.querySelector('input[name=prompt][value=consent]')")
        .await;
    b.find("button[type=submit]").await.click().await.expect("a click");
    b.until(
        "the Accounts page, signed in",
        "return location.pathname === '/parents/6464/accounts' && !!document.querySelector('#accounts-panel tbody')",
    )
    .await;
    assert!(b.text("body").await.contains(ADMIN_EMAIL) || b.text("body").await.contains("Sign out"));
    b.close().await;
}

#[tokio::test]
async fn two_factor_sign_in_is_set_up_from_the_header_then_asked_for_at_sign_in() {
    let app = crate::two_factor::spawn_with_key().await;
    let b = Browser::signed_in(&app).await;
    b.find("header a[href='/account/two-factor']").await.click().await.expect("the header's Two-factor link");
    b.find("form[action='/account/two-factor/set-up'] button").await.click().await.expect("Set up");
    b.until(
        "the QR code on the screen",
        "const svg = document.querySelector('.qr svg'); if (!svg) return false; const r = svg.getBoundingClientRect(); \
         return r.width >= 150 && r.height >= 150 && r.top >= 0 && r.bottom <= innerHeight",
    )
    .await;
    let secret = b.text("#two-factor-secret").await.replace(' ', "");
    let code = crate::two_factor::code_at(&secret, app.clock().now());
    b.find("form[action='/account/two-factor/confirm'] input[name=code]").await.send_keys(&code).await.expect("typing");
    b.find("form[action='/account/two-factor/confirm'] button").await.click().await.expect("Turn on");
    b.until("the ten recovery codes", "return document.querySelectorAll('.recovery-codes code').length === 10").await;

    b.find("form[action='/logout'] button").await.click().await.expect("Sign out");
    b.find("form[action='/login'] input[name=email]").await.send_keys(ADMIN_EMAIL).await.expect("typing");
    b.find("form[action='/login'] input[name=password]").await.send_keys(ADMIN_PASSWORD).await.expect("typing");
    b.find("form[action='/login'] button[type=submit]").await.click().await.expect("a click");
    b.until("the code step", "return location.pathname === '/login/code'").await;
    let field = b.find("input[name=code]").await;
    assert_eq!(field.attr("autocomplete").await.unwrap().as_deref(), Some("one-time-code"));
    assert_eq!(b.focused().await, "input[name=code]", "the code field has focus");
    // The next step's code: the one used to set it up is spent.
    let code = crate::two_factor::code_at(&secret, app.clock().now() + 30);
    field.send_keys(&code).await.expect("typing");
    b.find("form[action='/login/code'] button").await.click().await.expect("Sign in");
    b.until(
        "the Accounts page after the code",
        "return location.pathname === '/parents/6464/accounts' && !!document.querySelector('#accounts-panel tbody')",
    )
    .await;
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "{errors:?}");
    b.close().await;
}

#[tokio::test]
async fn stepping_through_the_role_list_changes_no_one_until_change_is_pressed() {
    let app = spawn_app().await;
    let sam = app.create_user("sam@example.com", Role::Manager, "sam's own passphrase").await;
    let b = Browser::signed_in(&app).await;
    b.goto("/users").await;
    let select = format!("form[action='/users/{sam}/role'] select");
    b.find(&select).await.send_keys(&Key::Down.repeat(2)).await.expect("keys");
    let role = || async { multi_account::db::users::get(&app.db, sam).await.unwrap().unwrap().role };
    assert_eq!(role().await, Role::Manager, "the arrow keys saved nothing");
    let chosen = b.js(&format!("return document.querySelector(\"{select}\").value")).await;
    assert_ne!(chosen, json!("manager"), "the list moved");
    b.find(&format!("form[action='/users/{sam}/role'] button")).await.click().await.expect("a click");
    b.until("the role saved", "return document.querySelector('#flash').textContent.includes('is now a')").await;
    assert_ne!(role().await, Role::Manager, "Change saves the chosen role");
    assert_eq!(b.console_errors().await, Vec::<String>::new());

    // Full control is not given by one click: a promotion asks first, and Cancel leaves the role as it was.
    let before = role().await;
    b.js(&format!("document.querySelector(\"{select}\").value = 'publisher_administrator'")).await;
    b.find(&format!("form[action='/users/{sam}/role'] button")).await.click().await.expect("a click");
    let (title, text) = b.dialog().await;
    assert_eq!(title, "Promote to Publisher Administrator");
    assert!(text.contains("full control of the console"), "{text}");
    b.dialog_button("Cancel").await;
    b.until_no_dialog().await;
    assert_eq!(role().await, before, "nothing was sent");
    b.find(&format!("form[action='/users/{sam}/role'] button")).await.click().await.expect("a click");
    b.dialog().await;
    b.dialog_button("Promote").await;
    // Sent, and answered by re-authentication: the identity is confirmed before anyone gets full control.
    b.until("the password asked again", "return location.pathname === '/account/confirm'").await;
    assert_eq!(role().await, before, "not promoted before the password is confirmed");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_header_switches_parents_keeping_the_page_at_desktop_and_phone_widths() {
    let app = crate::support::spawn_app_with_parents(|_| {}).await;
    let b = Browser::signed_in(&app).await;
    for (width, height) in [(1280, 900), PHONE] {
        b.resize(width, height).await;
        b.goto("/parents/6464/usage").await;
        b.until("Usage of 6464", "return !!document.querySelector('details.parent-menu summary')").await;
        let summary = b.text("details.parent-menu summary").await;
        assert!(summary.contains("Techpubs"), "{width}px: {summary}");
        // The header fits: nothing scrolls sideways, and the menu's title is within the window.
        let fits = b
            .js("const r = document.querySelector('details.parent-menu summary').getBoundingClientRect(); \
                 return r.right <= document.documentElement.clientWidth && r.width > 40 \
                 && document.documentElement.scrollWidth <= document.documentElement.clientWidth")
            .await;
        assert_eq!(fits, Value::Bool(true), "{width}px: the header does not fit");
        b.find("details.parent-menu summary").await.click().await.expect("a click");
        b.find("details.parent-menu a[data-parent='7001']").await.click().await.expect("a click");
        b.until(
            "Usage of 7001",
            "return location.pathname === '/parents/7001/usage' && !!document.querySelector('#usage-panel')",
        )
        .await;
        let summary = b.text("details.parent-menu summary").await;
        assert!(summary.contains("Northwind Media"), "{width}px: {summary}");
        // The partner id is said to screen readers always, and shown beside the name where there is room.
        let label =
            b.js("return document.querySelector('details.parent-menu summary').getAttribute('aria-label')").await;
        assert!(label.as_str().is_some_and(|l| l.contains("Northwind Media (7001)")), "{label}");
        assert!(summary.contains("7001"), "{width}px: {summary}");
        b.find("details.parent-menu summary").await.click().await.expect("a click");
        b.find("details.parent-menu a[data-parent='6464']").await.click().await.expect("a click");
        b.until("back to 6464", "return location.pathname === '/parents/6464/usage'").await;
    }
    b.close().await;
}
