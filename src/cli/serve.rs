//! `multi-account serve`: build the application (demo mode on the embedded emulator when no Kaltura settings are
//! given), make sure there is an administrator, and serve the console until Ctrl-C or SIGTERM.

use crate::app::Application;
use crate::config::{Bootstrap, ServeArgs};
use crate::identity::{Created, DEMO_ADMIN};

pub(super) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let bootstrap = Bootstrap::from_env()?;
    let app = Application::build(args.settings()?).await?;
    let demo = app.demo();
    let created = app.identity().ensure_admin(bootstrap, demo.is_some()).await?;

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
    if let Some(key) = app.demo_key_file() {
        println!("Two-factor sign-in is available: its key is kept in {key} (set MA_SECRET_KEY for a real deployment)");
    }
    match created {
        Some(Created::Demo(password)) => {
            println!("Sign in as {DEMO_ADMIN} with the password {password}");
            println!("  (shown this once; change it with `multi-account user set-password {DEMO_ADMIN}`)");
        }
        Some(Created::Bootstrap(email)) => println!("Created the Publisher Administrator {email}; sign in with it."),
        None => {}
    }
    if app.identity().active_admins().await? == 0 {
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
