//! `multi-account serve`: build the application (demo mode on the embedded emulator when no Kaltura settings are
//! given), make sure there is an administrator, and serve the console until Ctrl-C or SIGTERM.

use crate::app::Application;
use crate::config::{Bootstrap, ServeArgs};
use crate::db::audit::{self, AuditAction, Entry, Outcome};
use crate::db::unix_now;
use crate::db::users::{self, NewUser, Role, Status};
use crate::password;

const DEMO_ADMIN: &str = "admin@demo.example";

pub(super) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let bootstrap = Bootstrap::from_env()?;
    let app = Application::build(args.settings()?).await?;
    let demo = app.demo();
    let created = ensure_admin(app.db(), bootstrap, demo.is_some()).await?;

    println!("Multi Account console: {}", app.public_url());
    if let Some(uri) = app.sso_redirect_uri() {
        println!("Single sign-on: register {uri} as the redirect URI at the identity provider");
    }
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
    if users::count_active_admins(app.db()).await? == 0 {
        println!(
            "No Publisher Administrator can sign in yet: set MA_BOOTSTRAP_ADMIN_EMAIL and MA_BOOTSTRAP_ADMIN_PASSWORD, \
             or run `multi-account user add EMAIL --first-name … --last-name …`."
        );
    }
    // Listening for signals before saying so: a SIGTERM right after this line still shuts down gracefully.
    let signal = kaltura_emulator::shutdown_signal();
    println!("Press Ctrl-C to stop.");
    app.run_until_stopped(signal).await?;
    tracing::info!("stopped");
    Ok(())
}

enum Created {
    Demo(String),
    Bootstrap(String),
}

/// With no active Publisher Administrator, creates one from the bootstrap variables, or in demo mode a demo
/// administrator with a generated password (returned to be printed once, never logged).
async fn ensure_admin(
    pool: &crate::db::Pool,
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
            match users::add(pool, &new, None, unix_now()).await {
                Ok(_) => {}
                // Another replica starting at the same moment made this administrator first.
                Err(users::AddError::DuplicateEmail) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    }
    audit::record(
        pool,
        Entry {
            actor: "system",
            ip: "local",
            action: AuditAction::UserBootstrap,
            target: &email,
            result: Outcome::Ok,
            details: "first Publisher Administrator",
        },
    )
    .await?;
    Ok(Some(created))
}
