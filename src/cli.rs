//! The command line: `multi-account <command>`.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;
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
    #[command(after_help = SERVE_ENVIRONMENT_ONLY)]
    Serve(crate::config::ServeArgs),
    /// Manage the console's users: add, list, set-password, remove.
    User(crate::user_cmd::UserArgs),
    /// Check the Kaltura settings against the service: one line per check, non-zero exit if any fails.
    Doctor(crate::doctor::DoctorArgs),
    /// Ask a running console (or --url) whether it answers: exit 0 if it does, 1 if not (Docker's HEALTHCHECK).
    Healthcheck(crate::healthcheck::HealthcheckArgs),
    /// Write a consistent copy of the console's database to OUTPUT, safe while the console runs.
    Backup(crate::backup::BackupArgs),
}

const SERVE_ENVIRONMENT_ONLY: &str = "Environment only:
  MA_BOOTSTRAP_ADMIN_EMAIL, MA_BOOTSTRAP_ADMIN_PASSWORD
      The first Publisher Administrator, created (or reactivated) at start while no active one exists
  MA_LOG_FORMAT  `json` for one JSON object per log line [default: text]
  RUST_LOG       Log level and filters, e.g. `info,tower_http=debug` [default: info]";

/// The command line, with the `--config` file's settings as defaults (see [`crate::config::file`]).
pub fn parse() -> Cli {
    parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
}

pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = Cli::try_parse_from(&args)?;
    let (subcommand, config) = match &cli.command {
        Command::Serve(a) => ("serve", &a.config),
        Command::Healthcheck(a) => ("healthcheck", &a.config),
        Command::Backup(a) => ("backup", &a.config),
        _ => return Ok(cli),
    };
    let Some(path) = config else {
        return Ok(cli);
    };
    let matches = crate::config::file::matches_with_file(Cli::command(), subcommand, path, &args)?;
    Cli::from_arg_matches(&matches)
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
            Command::Healthcheck(args) => crate::healthcheck::run(args).await,
            Command::Backup(args) => crate::backup::run(args).await,
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
    let signal = shutdown_signal();
    println!("Kaltura API emulator listening on {}", emu.url);
    println!("  service URL:        {}", emu.url);
    println!("  parent partner id:  {}", emu.parent_id);
    println!("  parent admin secret: {}", emu.admin_secret);
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

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal, not in `docker logs` or a journal.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if std::env::var("MA_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json")) {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}
