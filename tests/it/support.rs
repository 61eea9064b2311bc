//! Shared test harness: the console on a real port with a fresh SQLite file, built by `Application::build` as
//! `serve` builds it, against an in-process demo emulator the test can inspect, slow down or stop.

use kaltura::Secret;
use kaltura_emulator::{self as emulator, EmulatorConfig, RunningEmulator, Seed};
use multi_account::app::{Application, Settings};
pub use multi_account::clock::Clock;
use multi_account::config::kaltura::{KalturaSettings, ParentEntry};
use multi_account::db::{self, users};
use multi_account::identity::password;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, ORIGIN};
use std::net::SocketAddr;
use std::path::PathBuf;
use tempfile::TempDir;

pub use multi_account::db::users::Role;

/// The Publisher Administrator every app starts with.
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    pub addr: SocketAddr,
    pub db_path: PathBuf,
    pub db: db::Pool,
    emulator: Option<RunningEmulator>,
    settings: Settings,
    dir: TempDir,
    shutdown: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

/// A console with one Publisher Administrator ([`ADMIN_EMAIL`] / [`ADMIN_PASSWORD`]), against the demo emulator
/// (parent 6464, `adminLoginUsersQuota` 3).
pub async fn spawn_app() -> TestApp {
    spawn_app_with_emulator(|_| {}).await
}

/// [`spawn_app`] with changed settings (e.g. a short session limit).
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    start(EmulatorConfig { seed: Seed::Demo, ..EmulatorConfig::for_tests() }, KalturaSettings::default(), configure)
        .await
}

/// [`spawn_app`] against an emulator configured by `configure` (e.g. `|cfg| cfg.children = 300` for synthetic
/// children of the parent, on top of the demo seed).
pub async fn spawn_app_with_emulator(configure: impl FnOnce(&mut EmulatorConfig)) -> TestApp {
    let mut cfg = EmulatorConfig { seed: Seed::Demo, ..EmulatorConfig::for_tests() };
    configure(&mut cfg);
    start(cfg, KalturaSettings::default(), |_| {}).await
}

/// [`spawn_app`] with changed Kaltura client settings (e.g. a short register timeout).
pub async fn spawn_app_with_kaltura(configure: impl FnOnce(&mut KalturaSettings)) -> TestApp {
    let mut kaltura = KalturaSettings::default();
    configure(&mut kaltura);
    start(EmulatorConfig { seed: Seed::Demo, ..EmulatorConfig::for_tests() }, kaltura, |_| {}).await
}

/// The console serving both multi-account organisations of the demo, each a `[[parents]]` entry: 6464 (labelled
/// "Techpubs") and Northwind Media (7001); `configure` may change the entries (a wrong secret, another label).
pub async fn spawn_app_with_parents(configure: impl FnOnce(&mut Vec<ParentEntry>)) -> TestApp {
    let dir = tempfile::tempdir().expect("a temp dir");
    let emulator = emulator::start(EmulatorConfig { seed: Seed::Demo, ..EmulatorConfig::for_tests() })
        .await
        .expect("the emulator starts");
    let northwind = emulator.admin_secret_of(7001).await.unwrap().expect("the demo's second parent");
    let entry = |partner_id, secret: String, label: Option<&str>| ParentEntry {
        partner_id,
        admin_secret: Some(secret),
        admin_secret_file: None,
        label: label.map(str::to_owned),
        service_url: None,
        kmc_url: None,
    };
    let mut parents =
        vec![entry(emulator.parent_id, emulator.admin_secret.clone(), Some("Techpubs")), entry(7001, northwind, None)];
    configure(&mut parents);
    let kaltura = KalturaSettings { service_url: Some(emulator.url.clone()), parents, ..KalturaSettings::default() };
    finish_start(dir, emulator, kaltura, |_| {}).await
}

async fn start(cfg: EmulatorConfig, mut kaltura: KalturaSettings, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("a temp dir");
    let emulator = emulator::start(cfg).await.expect("the emulator starts");
    kaltura.service_url = Some(emulator.url.clone());
    kaltura.partner_id = Some(emulator.parent_id.to_string());
    kaltura.admin_secret = Some(Secret::new(emulator.admin_secret.clone()));
    finish_start(dir, emulator, kaltura, configure).await
}

async fn finish_start(
    dir: TempDir,
    emulator: RunningEmulator,
    kaltura: KalturaSettings,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let db_path = dir.path().join("console.db");
    let location = db::Location::Sqlite(db_path.to_str().expect("a UTF-8 path").to_owned());
    let mut settings = Settings::new(location, kaltura);
    configure(&mut settings);
    let app = serve(dir, emulator, settings).await;
    app.create_user(ADMIN_EMAIL, Role::PublisherAdministrator, ADMIN_PASSWORD).await;
    app
}

async fn serve(dir: TempDir, emulator: RunningEmulator, mut settings: Settings) -> TestApp {
    let db_path = PathBuf::from(settings.database.sqlite_path().expect("the tests' console runs on SQLite"));
    let app = Application::build(settings.clone()).await.expect("the console starts");
    let addr = app.addr().expect("a local address");
    // A restart comes back on the same port.
    settings.listen = addr;
    let db = app.db().clone();
    let (shutdown, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.run_until_stopped(async {
            let _ = rx.await;
        })
        .await
        .expect("the console serves");
    });
    TestApp {
        url: format!("http://{addr}"),
        addr,
        db_path,
        db,
        emulator: Some(emulator),
        settings,
        dir,
        shutdown,
        server,
    }
}

impl TestApp {
    /// Stops the server and starts a new one on the same port, database file and emulator.
    pub async fn restart(self) -> TestApp {
        let TestApp { emulator, settings, dir, shutdown, server, .. } = self;
        let _ = shutdown.send(());
        server.await.expect("the server stops");
        let emulator = emulator.expect("the emulator is running");
        serve(dir, emulator, settings).await
    }

    /// The clock the console reads: the system's, unless the test gave it a manual one to move.
    pub fn clock(&self) -> &Clock {
        &self.settings.clock
    }

    pub fn emulator(&self) -> &RunningEmulator {
        self.emulator.as_ref().expect("the emulator is running")
    }

    /// Stops the emulator, so Kaltura cannot be reached (the console keeps its client pointing there).
    pub async fn stop_emulator(&mut self) {
        if let Some(emu) = self.emulator.take() {
            emu.stop().await;
        }
    }

    /// Adds a user straight to the database and returns its id.
    pub async fn create_user(&self, email: &str, role: Role, password: &str) -> i64 {
        let hash = password::hash(password.to_owned()).await.expect("hashing works");
        let new = users::NewUser {
            email,
            first_name: "Test",
            last_name: role.label(),
            publisher_user_id: None,
            role,
            password_hash: &hash,
        };
        users::add(&self.db, &new, None, multi_account::clock::Clock::system().now()).await.expect("the user is added")
    }

    /// A browser-like client: keeps cookies, sends this site's `Origin`, does not follow redirects.
    pub fn client(&self) -> reqwest::Client {
        let mut headers = HeaderMap::new();
        headers.insert(ORIGIN, HeaderValue::from_str(&self.url).expect("an origin"));
        client_with(headers)
    }

    /// A client sending only the headers it is given (no `Origin`), with a cookie store and no redirects.
    pub fn bare_client(&self) -> reqwest::Client {
        client_with(HeaderMap::new())
    }

    /// A client signed in as `email`.
    pub async fn signed_in(&self, email: &str, password: &str) -> reqwest::Client {
        let client = self.client();
        let res = self.login(&client, email, password).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "signing in as {email} redirects");
        client
    }

    /// A client signed in as the Publisher Administrator.
    pub async fn admin(&self) -> reqwest::Client {
        self.signed_in(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// A client signed in as the Publisher Administrator whose identity is confirmed for sensitive changes.
    pub async fn admin_confirmed(&self) -> reqwest::Client {
        let client = self.admin().await;
        self.confirm(&client, ADMIN_PASSWORD).await;
        client
    }

    /// Confirms the signed-in user's identity (`/account/confirm` with their password), for sensitive changes.
    pub async fn confirm(&self, client: &reqwest::Client, password: &str) {
        let res = client
            .post(self.at("/account/confirm"))
            .form(&[("password", password), ("next", "/users")])
            .send()
            .await
            .expect("POST /account/confirm answers");
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "the identity is confirmed");
    }

    pub async fn login(&self, client: &reqwest::Client, email: &str, password: &str) -> reqwest::Response {
        client
            .post(self.at("/login"))
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .expect("POST /login answers")
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Where the database lives, for the CLI tests.
    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.db_path.display())
    }

    pub async fn user_id(&self, email: &str) -> i64 {
        users::find_by_email(&self.db, email).await.expect("the database answers").expect("the user exists").id
    }
}

/// A client sending `headers` with every request, with a cookie store and no redirects.
pub fn client_with(headers: HeaderMap) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

/// A response read whole: its status, headers and text.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

pub async fn answer(res: reqwest::Response) -> Answer {
    let (status, headers) = (res.status(), res.headers().clone());
    Answer { status, headers, body: res.text().await.expect("a text body") }
}

pub async fn get(app: &TestApp, client: &reqwest::Client, path: &str) -> Answer {
    answer(client.get(app.at(path)).send().await.expect("the console answers")).await
}

/// A CSV body's records, read by a CSV reader as a spreadsheet would (quotes taken off).
pub fn csv_records(body: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body.as_bytes())
        .records()
        .map(|r| r.expect("a CSV record").iter().map(str::to_owned).collect())
        .collect()
}

/// The line the console writes for `fields`: each quoted, quotes doubled, no line end.
pub fn csv_line(fields: &[&str]) -> String {
    fields.iter().map(|f| format!("\"{}\"", f.replace('"', "\"\""))).collect::<Vec<_>>().join(",")
}

/// [`csv_line`] of a line written plainly, fields split at every comma (for lines without commas in their values).
pub fn quoted(plain: &str) -> String {
    csv_line(&plain.split(',').collect::<Vec<_>>())
}
