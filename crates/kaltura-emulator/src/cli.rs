//! The emulator as a command: its flags (shared by `kaltura-emulator` and `multi-account emulator`) and the loop
//! that serves until Ctrl-C or SIGTERM.

use std::net::SocketAddr;

use crate::{EmulatorConfig, Seed};

#[derive(clap::Args, Debug)]
pub struct EmulatorArgs {
    /// Address to listen on.
    #[arg(long, env = "EMULATOR_LISTEN", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
    /// SQLite file holding the emulator's state (kept across restarts), or :memory:.
    #[arg(long, env = "EMULATOR_DATA", default_value = ":memory:")]
    pub data: String,
    /// What an empty database starts with: demo, empty, or a TOML/JSON seed file.
    #[arg(long, env = "EMULATOR_SEED", default_value = "demo")]
    pub seed: Seed,
    /// Synthetic children to add to the parent when seeding.
    #[arg(long, env = "EMULATOR_CHILDREN", default_value_t = 0)]
    pub children: u32,
    /// Multi-account parents to seed: the seed's own, and synthetic ones with as many children each.
    #[arg(long, env = "EMULATOR_PARENTS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub parents: u32,
    /// The parent account's admin secret (generated when not given); with --parents, every parent's.
    #[arg(long, env = "EMULATOR_ADMIN_SECRET", hide_env_values = true)]
    pub admin_secret: Option<String>,
    /// Delay every answer by this many milliseconds.
    #[arg(long, env = "EMULATOR_LATENCY_MS", default_value_t = 0)]
    pub latency_ms: u64,
}

/// Starts the emulator, prints where it is and what it serves, and runs until Ctrl-C or SIGTERM.
pub async fn run(args: EmulatorArgs) -> anyhow::Result<()> {
    let emu = crate::start(EmulatorConfig {
        listen: args.listen,
        data: args.data,
        seed: args.seed,
        children: args.children,
        parents: args.parents,
        admin_secret: args.admin_secret,
        latency_ms: args.latency_ms,
    })
    .await?;
    let signal = shutdown_signal();
    println!("Kaltura API emulator listening on {}", emu.url);
    println!("  service URL:        {}", emu.url);
    println!("  parent partner id:  {}", emu.parent_id);
    println!("  parent admin secret: {}", emu.admin_secret);
    let others = emu.other_parents().await?;
    if !others.is_empty() {
        let ids: Vec<String> = others.iter().map(|(id, _)| id.to_string()).collect();
        println!("  other parents:      {}", ids.join(", "));
    }
    println!("  stand-in KMC:       {}/index.php/kmcng/actions/persist-login-by-ks/{{KS}}", emu.url);
    println!("  request counts:     {}/emulator/stats", emu.url);
    println!("Press Ctrl-C to stop.");
    emu.wait(signal).await;
    Ok(())
}

/// Ctrl-C or SIGTERM. The handlers are installed by the call, not at the first poll, so a signal that comes before
/// the server starts waiting is not left to the default action, which kills the process at once.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{SignalKind, signal};
        signal(SignalKind::terminate()).and_then(|term| Ok((term, signal(SignalKind::interrupt())?)))
    };
    async move {
        #[cfg(unix)]
        if let Ok((mut term, mut interrupt)) = handlers {
            tokio::select! {
                _ = term.recv() => {},
                _ = interrupt.recv() => {},
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
