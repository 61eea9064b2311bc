//! The command line: `multi-account <command>`, one module per command.

mod accounts;
mod backup;
mod bench;
pub mod doctor;
mod healthcheck;
mod serve;
mod user;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use kaltura_emulator::EmulatorArgs;
use std::ffi::OsString;
use std::process::ExitCode;

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
    Bench(bench::BenchArgs),
    /// Serve the console (in demo mode, with the emulator in-process, when no Kaltura settings are given).
    #[command(after_help = SERVE_ENVIRONMENT_ONLY)]
    Serve(Box<crate::config::ServeArgs>),
    /// Work on many accounts: `accounts import FILE.csv [--dry-run]` creates accounts from a CSV file.
    Accounts(accounts::AccountsArgs),
    /// Manage the console's users: add, list, set-password, reset-2fa, remove.
    User(user::UserArgs),
    /// Check the Kaltura settings against the service: one line per check, non-zero exit if any fails.
    Doctor(doctor::DoctorArgs),
    /// Ask a running console (or --url) whether it answers: exit 0 if it does, 1 if not (Docker's HEALTHCHECK).
    Healthcheck(healthcheck::HealthcheckArgs),
    /// Write a consistent copy of the console's database to OUTPUT, safe while the console runs.
    Backup(backup::BackupArgs),
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
        Command::Doctor(a) => ("doctor", &a.config),
        _ => return Ok(cli),
    };
    let Some(path) = config else {
        return Ok(cli);
    };
    let (matches, parents) = crate::config::file::matches_with_file(Cli::command(), subcommand, path, &args)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    match &mut cli.command {
        Command::Serve(a) => a.kaltura.parents = parents,
        Command::Doctor(a) => a.kaltura.parents = parents,
        _ => {}
    }
    Ok(cli)
}

pub fn run(cli: Cli) -> ExitCode {
    init_logging();
    return_freed_memory();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Emulator(args) => kaltura_emulator::run_cli(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Serve(args) => serve::run(*args).await,
            Command::Accounts(args) => accounts::run(args).await,
            Command::User(args) => user::run(args).await,
            Command::Doctor(args) => doctor::run(args).await,
            Command::Healthcheck(args) => healthcheck::run(args).await,
            Command::Backup(args) => backup::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<Interrupted>() => {
            eprintln!("{e}");
            ExitCode::from(130)
        }
        Err(e) if e.is::<NotApplicable>() => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Stopped by Ctrl-C, and what was left how: exit status 130, as a shell gives for SIGINT.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Interrupted(pub String);

/// A command that does not apply to the setup it is given (a SQLite backup of a PostgreSQL database): exit status 2
/// and what to do instead.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotApplicable(pub String);

/// glibc keeps freed memory for reuse: after the first 19 MiB argon2 block is freed it raises its mmap threshold and
/// serves later blocks from heaps it never shrinks, one per thread up to 8 × cores. A fixed threshold makes every
/// large block an mmap that goes back to the system when freed, and two arenas bound what small allocations keep.
/// The top of each heap is given back only past 4 MiB: at glibc's default of 128 KiB, freeing the buffers of every
/// page view (a 100 KiB answer, a 100 KiB page) shrank the heap and the next view grew it again, two system calls a
/// view for nothing.
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 4 * 1024 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
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

#[cfg(test)]
mod settings_file_tests {
    use super::{Command, parse_from};
    use std::path::PathBuf;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("multi-account.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn serve(args: &[&str]) -> Result<crate::config::ServeArgs, clap::Error> {
        let argv = ["multi-account", "serve"].iter().chain(args);
        match parse_from(argv.map(|a| a.to_string()))?.command {
            Command::Serve(args) => Ok(*args),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn file_values_replace_the_defaults_and_flags_replace_file_values() {
        let (_dir, path) = file(
            "listen = \"0.0.0.0:9000\"\nsession-idle-minutes = 45\nkaltura-partner-id = 6464\n\
             kaltura-admin-secret = \"from-the-file\"\n",
        );
        let path = path.to_str().unwrap();

        let from_file = serve(&["--config", path]).unwrap();
        assert_eq!(from_file.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(from_file.session_idle_minutes, 45);
        assert_eq!(from_file.kaltura.partner_id.as_deref(), Some("6464"));
        assert_eq!(from_file.session_max_hours, 12, "keys the file leaves out keep the built-in default");

        let flag_wins = serve(&["--config", path, "--listen", "127.0.0.1:9001"]).unwrap();
        assert_eq!(flag_wins.listen.to_string(), "127.0.0.1:9001");
        assert_eq!(flag_wins.session_idle_minutes, 45);
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_it_and_the_file() {
        let (_dir, path) = file("listen = \"0.0.0.0:9000\"\ncolour = \"red\"\n");
        let e = serve(&["--config", path.to_str().unwrap()]).unwrap_err().to_string();
        assert!(e.contains("unknown key `colour`") && e.contains("multi-account.toml"), "{e}");
        assert!(e.contains("kaltura-service-url"), "the message lists the keys: {e}");
    }

    #[test]
    fn a_bad_value_in_the_file_names_its_key() {
        let (_dir, path) = file("session-idle-minutes = 0\n");
        let e = serve(&["--config", path.to_str().unwrap()]).unwrap_err().to_string();
        assert!(e.contains("`session-idle-minutes`") && e.contains("multi-account.toml"), "{e}");

        let (_dir, path) = file("listen = [1, 2]\n");
        let e = serve(&["--config", path.to_str().unwrap()]).unwrap_err().to_string();
        assert!(e.contains("`listen` must be a string, a number or a list of strings"), "{e}");
    }

    #[test]
    fn trusted_proxies_are_a_list_in_the_file_and_each_is_checked() {
        let (_dir, path) = file("trusted-proxies = [\"10.0.0.5\", \"10.1.0.0/16\"]\n");
        let args = serve(&["--config", path.to_str().unwrap()]).unwrap();
        let shown: Vec<String> = args.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["10.0.0.5/32", "10.1.0.0/16"]);

        let (_dir, path) = file("trusted-proxies = [\"10.0.0.5\", \"a proxy\"]\n");
        let e = serve(&["--config", path.to_str().unwrap()]).unwrap_err().to_string();
        assert!(e.contains("`trusted-proxies`") && e.contains("\"a proxy\" is not an IP address"), "{e}");
    }

    #[test]
    fn two_factor_settings_come_from_the_file_too() {
        let keys = tempfile::tempdir().unwrap();
        let key = keys.path().join("secret-key");
        std::fs::write(&key, "a key of thirty-two characters or more\n").unwrap();
        let (_dir, path) = file(&format!("require-2fa = true\nsecret-key-file = {:?}\n", key.to_str().unwrap()));
        let settings = serve(&["--config", path.to_str().unwrap()]).unwrap().settings().unwrap();
        assert!(settings.require_2fa);
        assert!(settings.secret_key.is_some());
    }

    #[test]
    fn the_file_names_several_parents_each_checked_and_named_when_wrong() {
        let secrets = tempfile::tempdir().unwrap();
        let secret = secrets.path().join("parent-6464");
        std::fs::write(&secret, "secret-of-6464\n").unwrap();
        let (_dir, path) = file(&format!(
            "kaltura-service-url = \"https://www.kaltura.com\"\n\
             [[parents]]\npartner-id = 6464\nadmin-secret-file = {:?}\nlabel = \"Europe\"\n\
             [[parents]]\npartner-id = 7001\nadmin-secret = \"secret-of-7001\"\n\
             service-url = \"https://kaltura.example.edu/api_v3\"\nkmc-url = \"https://kmc.example.edu\"\n",
            secret.to_str().unwrap()
        ));
        let args = serve(&["--config", path.to_str().unwrap()]).unwrap();
        let parents = args.kaltura.parent_configs().unwrap();
        let shown: Vec<_> = parents
            .iter()
            .map(|p| {
                let c = &p.client;
                (c.partner_id, c.admin_secret.expose(), c.service_url.as_str(), c.kmc_url.as_str(), p.label.as_deref())
            })
            .collect();
        assert_eq!(
            shown,
            [
                (6464, "secret-of-6464", "https://www.kaltura.com", "https://www.kaltura.com", Some("Europe")),
                (7001, "secret-of-7001", "https://kaltura.example.edu", "https://kmc.example.edu", None),
            ]
        );
        assert!(!format!("{:?}", args.kaltura).contains("secret-of-7001"), "never in a log line");

        // The flags' one parent and a file's several are one too many.
        let twice = serve(&["--config", path.to_str().unwrap(), "--kaltura-partner-id", "6464"]).unwrap();
        let e = twice.kaltura.parent_configs().unwrap_err().to_string();
        assert!(e.contains("the parents are given twice"), "{e}");

        for (entries, expected) in [
            ("[[parents]]\npartner-id = 6464\n", "[[parents]] number 1 (partner 6464):"),
            ("[[parents]]\npartner-id = -3\nadmin-secret = \"s\"\n", "positive whole number"),
            (
                "[[parents]]\npartner-id = 6464\nadmin-secret = \"s\"\n[[parents]]\npartner-id = 6464\nadmin-secret = \"t\"\n",
                "partner 6464 is in [[parents]] twice",
            ),
        ] {
            let (_dir, path) = file(&format!("kaltura-service-url = \"https://www.kaltura.com\"\n{entries}"));
            let e = serve(&["--config", path.to_str().unwrap()]).unwrap().kaltura.parent_configs().unwrap_err();
            assert!(e.to_string().contains(expected), "{entries}: {e}");
        }
        let (_dir, path) = file("[[parents]]\npartner-id = 6464\nsecret = \"s\"\n");
        let e = serve(&["--config", path.to_str().unwrap()]).unwrap_err().to_string();
        assert!(e.contains("[[parents]]") && e.contains("unknown field `secret`"), "{e}");
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let e = serve(&["--config", "/nonexistent/multi-account.toml"]).unwrap_err().to_string();
        assert!(e.contains("config file /nonexistent/multi-account.toml"), "{e}");
    }

    #[test]
    fn healthcheck_takes_the_listen_address_from_the_file() {
        let (_dir, path) = file("listen = \"0.0.0.0:9000\"\nsession-idle-minutes = 45\n");
        let cli = parse_from(["multi-account", "healthcheck", "--config", path.to_str().unwrap()]).unwrap();
        match cli.command {
            Command::Healthcheck(args) => assert_eq!(args.listen.to_string(), "0.0.0.0:9000"),
            other => panic!("parsed as {other:?}"),
        }
    }
}
