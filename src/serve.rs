//! `multi-account serve`: open the database, connect to Kaltura (or start the emulator in demo mode), make sure
//! there is an administrator, and serve the console until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tower_sessions::session_store::ExpiredDeletion;
use tower_sessions_sqlx_store::SqliteStore;

use crate::cli::shutdown_signal;
use crate::config::{Bootstrap, ServeArgs, parse_http_url};
use crate::db::audit::{self, Entry, Outcome};
use crate::db::users::{self, NewUser, Role, Status};
use crate::db::{self, unix_now};
use crate::emulator::{self, EmulatorConfig, Seed};
use crate::password;
use crate::web::{self, AppState};

const DEMO_ADMIN: &str = "admin@demo.example";

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let db_path = args.database.path()?;
    let bootstrap = Bootstrap::from_env()?;
    let pool = db::connect(&db_path).await?;

    let (kaltura, kmc_url, demo) = if args.kaltura.is_configured() {
        (args.kaltura.client()?, args.kaltura.kmc_url()?, None)
    } else {
        // Demo mode keeps the emulator's state in a file next to the console's database, so accounts changed in
        // the demo are still there after a restart, just as the console's users and sessions are.
        let data = sibling(&db_path, "emulator");
        let emu =
            emulator::start(EmulatorConfig { data: data.clone(), seed: Seed::Demo, ..EmulatorConfig::for_tests() })
                .await?;
        let client = args.kaltura.demo_client(&emu.url, emu.parent_id, &emu.admin_secret)?;
        let kmc_url = parse_http_url("the emulator URL", &emu.url)?;
        tracing::info!(url = %emu.url, data, "demo mode: serving the Kaltura API emulator");
        (client, kmc_url, Some(emu))
    };

    let settings = args.web_settings(kmc_url)?;
    let created = ensure_admin(&pool, bootstrap, demo.is_some()).await?;

    tokio::spawn(SqliteStore::new(pool.clone()).continuously_delete_expired(Duration::from_secs(300)));

    let public_url = settings.public_url.clone();
    let state = AppState { db: pool.clone(), kaltura, settings: Arc::new(settings) };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;

    println!("Multi Account console: {public_url}");
    if let Some(emu) = &demo {
        println!(
            "Demo mode: no Kaltura settings, so the Kaltura API emulator serves parent account {} at {}",
            emu.parent_id, emu.url
        );
    }
    match created {
        Some(Created::Demo(password)) => {
            println!("Sign in as {DEMO_ADMIN} with the password {password}");
            println!("  (shown this once; change it with `multi-account user set-password {DEMO_ADMIN}`)");
        }
        Some(Created::Bootstrap(email)) => println!("Created the Publisher Administrator {email}; sign in with it."),
        None => {}
    }
    if users::count_active_admins(&pool).await? == 0 {
        println!(
            "No Publisher Administrator can sign in yet: set MA_BOOTSTRAP_ADMIN_EMAIL and MA_BOOTSTRAP_ADMIN_PASSWORD, \
             or run `multi-account user add EMAIL --first-name … --last-name …`."
        );
    }
    // Listening for signals before saying so: a SIGTERM right after this line still shuts down gracefully.
    let signal = shutdown_signal();
    println!("Press Ctrl-C to stop.");

    let app = web::build_router(state).into_make_service_with_connect_info::<SocketAddr>();
    serve_until_drained(listener, app, signal, Duration::from_secs(args.shutdown_timeout_secs)).await?;
    // Requests that outlived the drain period may still hold a connection: do not wait for them forever.
    if tokio::time::timeout(Duration::from_secs(5), pool.close()).await.is_err() {
        tracing::warn!("database connections still busy at exit");
    }
    // Last: requests in flight were still talking to it.
    if let Some(emu) = demo {
        emu.stop().await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Serves until `signal`, then stops accepting connections and lets requests in flight finish, for at most `drain`.
async fn serve_until_drained(
    listener: tokio::net::TcpListener,
    app: axum::extract::connect_info::IntoMakeServiceWithConnectInfo<axum::Router, SocketAddr>,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
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

/// `dir/name.db` → `dir/name-{suffix}.db`.
fn sibling(db_path: &str, suffix: &str) -> String {
    let path = Path::new(db_path);
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("multi-account");
    path.with_file_name(format!("{stem}-{suffix}.db")).to_string_lossy().into_owned()
}

enum Created {
    Demo(String),
    Bootstrap(String),
}

/// With no active Publisher Administrator, creates one from the bootstrap variables, or in demo mode a demo
/// administrator with a generated password (returned to be printed once, never logged).
async fn ensure_admin(
    pool: &sqlx::SqlitePool,
    bootstrap: Option<Bootstrap>,
    demo: bool,
) -> anyhow::Result<Option<Created>> {
    if users::count_active_admins(pool).await? > 0 {
        return Ok(None);
    }
    let (email, password, created) = match bootstrap {
        Some(b) => {
            password::check_new(&b.password).map_err(|e| anyhow::anyhow!("MA_BOOTSTRAP_ADMIN_PASSWORD: {e}"))?;
            anyhow::ensure!(
                users::is_email(&b.email),
                "MA_BOOTSTRAP_ADMIN_EMAIL {:?} is not an email address",
                b.email
            );
            (b.email.clone(), b.password, Created::Bootstrap(b.email))
        }
        None if demo => {
            let password = password::generate();
            (DEMO_ADMIN.to_owned(), password.clone(), Created::Demo(password))
        }
        None => return Ok(None),
    };
    let hash = password::hash(password).await?;
    // The address may belong to a blocked or demoted user: it becomes an active administrator again.
    match users::find_by_email(pool, &email).await? {
        Some(existing) => {
            users::set_password_hash(pool, existing.id, &hash).await?;
            users::set_role(pool, existing.id, Role::PublisherAdministrator).await?;
            users::set_status(pool, existing.id, Status::Active).await?;
        }
        None => {
            let (first_name, last_name) = if demo { ("Demo", "Administrator") } else { ("Publisher", "Administrator") };
            let new = NewUser {
                email: &email,
                first_name,
                last_name,
                publisher_user_id: None,
                role: Role::PublisherAdministrator,
                password_hash: &hash,
            };
            users::add(pool, &new, None, unix_now()).await?;
        }
    }
    audit::record(
        pool,
        Entry {
            actor: "system",
            ip: "local",
            action: "user.bootstrap",
            target: &email,
            result: Outcome::Ok,
            details: "first Publisher Administrator",
        },
    )
    .await?;
    Ok(Some(created))
}
