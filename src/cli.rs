//! The command line: `multi-account <command>`.

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::process::ExitCode;

use crate::emulator::{self, EmulatorConfig, Seed};

#[derive(Parser, Debug)]
#[command(name = "multi-account", version, about = "Self-hosted console for Kaltura multi-account management")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the Kaltura API emulator: partner, varConsole, session, user and report services on api_v3.
    Emulator(EmulatorArgs),
    /// Benchmark the emulator with many children: prints timings and large/small ratios.
    Bench(crate::bench::BenchArgs),
    /// Serve the console (in demo mode, with the emulator in-process, when no Kaltura settings are given).
    Serve(crate::config::ServeArgs),
    /// Manage the console's users: add, list, set-password, remove.
    User(crate::user_cmd::UserArgs),
    /// Check the Kaltura settings against the service: one line per check, non-zero exit if any fails.
    Doctor(crate::doctor::DoctorArgs),
}

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
    /// The parent account's admin secret (generated when not given).
    #[arg(long, env = "EMULATOR_ADMIN_SECRET", hide_env_values = true)]
    pub admin_secret: Option<String>,
    /// Delay every answer by this many milliseconds.
    #[arg(long, env = "EMULATOR_LATENCY_MS", default_value_t = 0)]
    pub latency_ms: u64,
}

pub fn run(cli: Cli) -> ExitCode {
    init_logging();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Emulator(args) => run_emulator(args).await,
            Command::Bench(args) => crate::bench::run(args).await,
            Command::Serve(args) => crate::serve::run(args).await,
            Command::User(args) => crate::user_cmd::run(args).await,
            Command::Doctor(args) => crate::doctor::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_emulator(args: EmulatorArgs) -> anyhow::Result<()> {
    let emu = emulator::start(EmulatorConfig {
        listen: args.listen,
        data: args.data,
        seed: args.seed,
        children: args.children,
        admin_secret: args.admin_secret,
        latency_ms: args.latency_ms,
    })
    .await?;
    println!("Kaltura API emulator listening on {}", emu.url);
    println!("  service URL:        {}", emu.url);
    println!("  parent partner id:  {}", emu.parent_id);
    println!("  parent admin secret: {}", emu.admin_secret);
    println!("  stand-in KMC:       {}/index.php/kmcng/actions/persist-login-by-ks/{{KS}}", emu.url);
    println!("  request counts:     {}/emulator/stats", emu.url);
    println!("Press Ctrl-C to stop.");
    emu.wait(shutdown_signal()).await;
    Ok(())
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var("MA_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json")) {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}
