//! The application as one value: [`Application::build`] opens the database, connects to Kaltura (or starts the
//! embedded emulator in demo mode), binds the listener and builds the router; [`Application::run_until_stopped`]
//! serves, runs the background workers, and on the shutdown signal drains requests and stops everything it started.
//! `serve` and the tests build the console the same way.

use axum::serve::{ListenerExt, TapIo};
use kaltura::KalturaClient;
use kaltura_emulator::{EmulatorConfig, RunningEmulator, Seed};
use reqwest::Url;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::accounts::{self, Accounts};
use crate::config::kaltura::KalturaSettings;
pub use crate::config::{Settings, Timeouts};
use crate::config::{WebSettings, parse_http_url};
use crate::db;
use crate::identity::{self, Identity, sso::Sso};
use crate::parents::{Parent, Parents};
use crate::retention::Retention;
use crate::seal::SecretKey;
use crate::web::{self, AppState};

/// The file beside the database that keeps demo mode's two-factor key.
const DEMO_KEY_FILE: &str = "secret.key";

/// How often expired sessions are deleted.
const SESSION_SWEEP: Duration = Duration::from_secs(300);

/// The demo organisation served in-process when no Kaltura settings are given.
pub struct Demo {
    pub url: String,
    pub parent_id: i64,
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    demo: Option<RunningEmulator>,
    shutdown_timeout: Duration,
    timeouts: web::Timeouts,
    retention: Retention,
    clock: crate::clock::Clock,
    /// Where demo mode keeps the key it made for two-factor secrets.
    demo_key: Option<String>,
}

impl Application {
    pub async fn build(mut settings: Settings) -> anyhow::Result<Application> {
        // Demo mode makes a key of its own.
        anyhow::ensure!(
            !settings.require_2fa || settings.secret_key.is_some() || !settings.kaltura.is_configured(),
            "--require-2fa (MA_REQUIRE_2FA) needs the key that encrypts two-factor secrets: set MA_SECRET_KEY or \
             MA_SECRET_KEY_FILE (at least 32 characters)"
        );
        let database = db::connect(&settings.database, &settings.database_pool).await?;
        tracing::info!(database = %settings.database, "database open");
        let (connected, demo) = connect_kaltura(&settings.kaltura, &settings.database).await?;
        // In demo mode two-factor sign-in works out of the box: a key is made and kept beside the demo database.
        let demo_key = match (&demo, &settings.secret_key) {
            (Some(_), None) => {
                let path = settings.database.beside(DEMO_KEY_FILE);
                settings.secret_key = Some(SecretKey::kept_in(std::path::Path::new(&path))?);
                Some(path)
            }
            _ => None,
        };
        let listener = TcpListener::bind(settings.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.listen))?;
        let public_url = match settings.public_url {
            Some(url) => url,
            None => parse_http_url("--listen", &format!("http://{}", listener.local_addr()?))?,
        };
        let web = WebSettings {
            public_url,
            kmc_urls: connected.iter().map(|p| p.kmc_url.clone()).collect(),
            session_idle: settings.session_idle,
            session_max: settings.session_max,
            body_timeout: settings.timeouts.body,
            trusted_proxies: settings.trusted_proxies,
            metrics_allow: settings.metrics_allow,
            support_url: settings.support_url,
            sso_issuer: settings.oidc.as_ref().and_then(|o| Url::parse(&o.issuer).ok()),
        };
        let sso = settings.oidc.map(|oidc| Sso::new(oidc, &web.public_url)).transpose()?;
        if let Some(sso) = &sso {
            tracing::info!(issuer = %sso.issuer(), redirect_uri = sso.redirect_uri(), "single sign-on");
        }
        let parents = Parents::new(
            connected
                .into_iter()
                .map(|c| {
                    let accounts = Accounts::new(c.client.clone(), database.pool.clone(), settings.clock.clone());
                    let urls = (c.kmc_url, web.support_url.clone());
                    Parent::new(c.label, urls, accounts, crate::usage::Usage::new(c.client))
                })
                .collect(),
        )?;
        // Work recorded before several parents belongs to the one served until then: the first.
        let first = parents.first().id;
        let adopted = db::parents::adopt_unowned(&database.pool, first).await?;
        if adopted > 0 {
            tracing::info!(rows = adopted, parent = first, "earlier work given to its parent");
        }
        check_parents(&parents).await;
        let identity = Identity::new(
            database.pool.clone(),
            settings.clock.clone(),
            identity::Settings {
                local_login: settings.local_login,
                require_2fa: settings.require_2fa,
                secret_key: settings.secret_key,
                sso,
            },
            // The console's users count against the first parent's quota of administrator logins.
            Some(parents.first().accounts.clone()),
        );
        let state = AppState::new(web::Services {
            parents,
            identity,
            db_file: Arc::new(settings.database.sqlite_path().map(db::DbFile::of)),
            db: database.pool,
            sessions: database.sessions,
            settings: Arc::new(web),
        });
        Ok(Application {
            listener,
            state,
            demo,
            shutdown_timeout: settings.shutdown_timeout,
            timeouts: settings.timeouts,
            retention: settings.retention,
            clock: settings.clock,
            demo_key,
        })
    }

    /// The address the console listens on (with the real port when it was asked for port 0).
    pub fn addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Single sign-on's redirect URI, to register with the provider.
    pub fn sso_redirect_uri(&self) -> Option<&str> {
        self.state.identity.sso().map(|s| s.redirect_uri())
    }

    pub fn public_url(&self) -> &Url {
        &self.state.settings.public_url
    }

    pub fn db(&self) -> &db::Pool {
        &self.state.db
    }

    pub fn identity(&self) -> &Identity {
        &self.state.identity
    }

    /// The file demo mode keeps its two-factor key in, when it made or read one.
    pub fn demo_key_file(&self) -> Option<&str> {
        self.demo_key.as_deref()
    }

    /// Where the demo organisation is served, in demo mode.
    pub fn demo(&self) -> Option<Demo> {
        self.demo.as_ref().map(|emu| Demo { url: emu.url.clone(), parent_id: emu.parent_id })
    }

    /// Serves until `signal`, then stops accepting connections, lets requests in flight finish (for at most the
    /// shutdown timeout), stops the background workers, closes the database and, last, the demo emulator.
    pub async fn run_until_stopped(self, signal: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Application { listener, state, demo, shutdown_timeout, timeouts, retention, clock, .. } = self;
        let (stop, stopping) = watch::channel(false);
        let mut workers = vec![
            crate::retention::spawn(state.db.clone(), clock, retention, stopping.clone()),
            spawn_session_sweeper(state.sessions.clone(), stopping.clone()),
        ];
        for parent in state.parents.iter() {
            let accounts = &parent.accounts;
            workers.extend([
                accounts::spawn_reconciler(accounts.clone(), stopping.clone()),
                accounts::spawn_import_worker(accounts.clone(), stopping.clone()),
                accounts::bulk::spawn_bulk_worker(accounts.clone(), stopping.clone()),
                accounts::spawn_liveness(accounts.clone(), stopping.clone()),
            ]);
        }
        let pool = state.db.clone();
        let app = web::build_router(state).into_make_service_with_connect_info::<SocketAddr>();
        // `tap_io` only for the client address: axum hands it out for tapped listeners.
        let listener = web::TimedListener::new(listener, timeouts).tap_io(untouched as fn(&mut web::TimedIo));
        let served = serve_until_drained(listener, app, signal, shutdown_timeout).await;
        let _ = stop.send(true);
        for worker in workers {
            let _ = worker.await;
        }
        // Requests that outlived the drain period may still hold a connection: do not wait for them forever.
        if tokio::time::timeout(Duration::from_secs(5), pool.close()).await.is_err() {
            tracing::warn!("database connections still busy at exit");
        }
        // Last: requests in flight were still talking to it.
        if let Some(emu) = demo {
            emu.stop().await;
        }
        served
    }
}

/// One parent as the console reaches it: its client, where its KMC is, and its label.
pub(crate) struct Connected {
    pub(crate) client: KalturaClient,
    pub(crate) kmc_url: Url,
    pub(crate) label: Option<String>,
}

/// The parents the settings describe; with none, the demo emulator's (its first organisation and every other
/// multi-account parent it holds), which keeps its state in a file next to the console's database, so accounts
/// changed in the demo are still there after a restart (and the command line sees what `serve` does).
pub(crate) async fn connect_kaltura(
    settings: &KalturaSettings,
    database: &db::Location,
) -> anyhow::Result<(Vec<Connected>, Option<RunningEmulator>)> {
    if settings.is_configured() {
        let mut parents = Vec::new();
        for p in settings.parent_configs()? {
            let kmc_url = parse_http_url("the KMC URL", &p.client.kmc_url)?;
            let client =
                KalturaClient::new(p.client).map_err(|e| anyhow::anyhow!("cannot set up a Kaltura client: {e}"))?;
            parents.push(Connected { client, kmc_url, label: p.label });
        }
        return Ok((parents, None));
    }
    let data = database.sibling("emulator");
    let emu =
        kaltura_emulator::start(EmulatorConfig { data: data.clone(), seed: Seed::Demo, ..EmulatorConfig::for_tests() })
            .await?;
    let kmc_url = parse_http_url("the emulator URL", &emu.url)?;
    let mut parents = vec![Connected {
        client: settings.demo_client(&emu.url, emu.parent_id, &emu.admin_secret)?,
        kmc_url: kmc_url.clone(),
        label: None,
    }];
    for (id, secret) in emu.other_parents().await? {
        let client = settings.demo_client(&emu.url, id, &secret)?;
        parents.push(Connected { client, kmc_url: kmc_url.clone(), label: None });
    }
    let ids: Vec<i64> = parents.iter().map(|p| p.client.config().partner_id).collect();
    tracing::info!(url = %emu.url, data, parents = ?ids, "demo mode: serving the Kaltura API emulator");
    Ok((parents, Some(emu)))
}

/// Asks Kaltura about every parent at once: each one served learns its name; each one it does not serve is
/// reported by partner id and reason, and noted for its pages, while the console serves the others.
async fn check_parents(parents: &Parents) {
    let checks = parents.iter().map(|p| async move { (p, p.accounts.check_parent().await) });
    for (parent, checked) in futures_util::future::join_all(checks).await {
        match checked {
            Ok(info) => {
                if let Some(name) = info.name.as_deref().filter(|n| !n.trim().is_empty()) {
                    parent.learn_name(name);
                }
            }
            Err(problem) => {
                tracing::warn!(parent = parent.id, reason = %problem, "Kaltura does not serve this parent");
                parent.note_problem(problem.to_string());
            }
        }
    }
}

fn spawn_session_sweeper(sessions: db::Sessions, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !*stop.borrow() {
            if let Err(e) = sessions.delete_expired().await {
                tracing::error!(error = %e, "cannot delete expired sessions");
            }
            tokio::select! {
                () = tokio::time::sleep(SESSION_SWEEP) => {}
                _ = stop.changed() => {}
            }
        }
    })
}

fn untouched(_: &mut web::TimedIo) {}

/// Serves until `signal`, then stops accepting connections and lets requests in flight finish, for at most `drain`.
async fn serve_until_drained(
    listener: TapIo<web::TimedListener, fn(&mut web::TimedIo)>,
    app: axum::extract::connect_info::IntoMakeServiceWithConnectInfo<axum::Router, SocketAddr>,
    signal: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> anyhow::Result<()> {
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        signal.await;
        tracing::info!(drain_secs = drain.as_secs(), "shutting down: finishing requests in flight");
        let _ = stopping.send(());
    });
    let deadline = async move {
        match stopped.await {
            Ok(()) => tokio::time::sleep(drain).await,
            // The server ended by itself.
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        result = server.into_future() => result?,
        () = deadline => tracing::warn!(drain_secs = drain.as_secs(), "requests still running after the drain period: stopping anyway"),
    }
    Ok(())
}
