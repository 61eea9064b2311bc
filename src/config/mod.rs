//! Settings for `serve` and the `user` commands: flags, each with an `MA_*` environment variable.

pub mod file;
pub mod kaltura;
pub mod oidc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use reqwest::Url;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::clock::Clock;
use crate::db::{Location, PoolSettings};
use crate::retention::Retention;
use crate::seal::SecretKey;
pub use crate::web::Timeouts;

#[derive(clap::Args, Debug, Clone)]
pub struct DatabaseArgs {
    /// The console's database: a SQLite file (`sqlite://PATH` or a plain path, created if missing), or PostgreSQL
    /// (`postgres://USER:PASSWORD@HOST:PORT/DATABASE`) for several replicas.
    #[arg(long = "database", env = "MA_DATABASE_URL", default_value = "sqlite://multi-account.db", global = true)]
    pub database: String,
    /// The most connections this process keeps to the database.
    #[arg(long, env = "MA_DATABASE_MAX_CONNECTIONS", default_value_t = 10, global = true,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_max_connections: u32,
    /// Seconds a request waits for a database connection (connecting included) before it fails.
    #[arg(long, env = "MA_DATABASE_ACQUIRE_TIMEOUT_SECS", default_value_t = 10, global = true,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub database_acquire_timeout_secs: u64,
}

impl DatabaseArgs {
    /// The database `--database` names.
    pub fn location(&self) -> Result<Location, ConfigError> {
        // The value is not echoed: a PostgreSQL URL carries a password.
        Location::parse(&self.database).map_err(|why| ConfigError { name: "--database", reason: why })
    }

    pub fn pool(&self) -> PoolSettings {
        PoolSettings {
            max_connections: self.database_max_connections,
            acquire_timeout: Duration::from_secs(self.database_acquire_timeout_secs),
        }
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "MA_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The URL users reach the console at (default `http://<listen>`); `https://…` makes session cookies Secure.
    #[arg(long, env = "MA_PUBLIC_URL", value_parser = |s: &str| parse_http_url("--public-url", s).map_err(|e| e.to_string()))]
    pub public_url: Option<Url>,
    /// Minutes without a request after which a session ends.
    #[arg(long, env = "MA_SESSION_IDLE_MINUTES", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=10_080))]
    pub session_idle_minutes: u32,
    /// Hours after sign-in at which a session ends however active it is.
    #[arg(long, env = "MA_SESSION_MAX_HOURS", default_value_t = 12,
          value_parser = clap::value_parser!(u32).range(1..=720))]
    pub session_max_hours: u32,
    /// Reverse proxies in front of the console: addresses or CIDR ranges, comma-separated (e.g.
    /// `10.0.0.5,192.168.0.0/16`). Only for requests from these peers is the client address read from
    /// `X-Forwarded-For` or `Forwarded` (for throttling and the audit log). Empty: the TCP peer is the client.
    #[arg(long, env = "MA_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_proxy)]
    pub trusted_proxies: Vec<IpNet>,
    /// Where the quota banner's "Contact Kaltura" leads (a reseller may send its customers to its own desk).
    #[arg(long, env = "MA_SUPPORT_URL", default_value = KALTURA_SUPPORT,
          value_parser = |s: &str| parse_http_url("--support-url", s).map_err(|e| e.to_string()))]
    pub support_url: Url,
    /// Addresses or CIDR ranges, comma-separated, that may read `/metrics` (the TCP peer is checked).
    #[arg(long, env = "MA_METRICS_ALLOW", value_delimiter = ',', value_parser = parse_proxy,
          default_value = "127.0.0.0/8,::1")]
    pub metrics_allow: Vec<IpNet>,
    /// Seconds to let requests in flight finish after SIGTERM or Ctrl-C (an account creation can wait for the
    /// Kaltura register timeout); a container's stop grace period must be longer.
    #[arg(long, env = "MA_SHUTDOWN_TIMEOUT_SECS", default_value_t = 150)]
    pub shutdown_timeout_secs: u64,
    /// Days finished imports, bulk jobs and account creations are kept before a worker deletes them (an import
    /// preview nobody started goes after a day).
    #[arg(long, env = "MA_RETENTION_DAYS", default_value_t = 90,
          value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub retention_days: u32,
    /// Days audit entries are kept; unset (the default) keeps them for ever. Each purge is itself audited.
    #[arg(long, env = "MA_AUDIT_RETENTION_DAYS", value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub audit_retention_days: Option<u32>,
    /// Seconds a client has to send a request's headers, from its first byte; a slower one is disconnected.
    #[arg(long, env = "MA_HEADER_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout_secs: u64,
    /// Seconds a request body may make no progress (an upload that stalls) before the request fails.
    #[arg(long, env = "MA_BODY_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout_secs: u64,
    /// Seconds a kept-alive connection may wait for its next request before it is closed.
    #[arg(long, env = "MA_IDLE_TIMEOUT_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub idle_timeout_secs: u64,
    /// The key that encrypts users' two-factor secrets in the database (at least 32 characters); prefer
    /// --secret-key-file. Without it, two-factor sign-in cannot be set up.
    #[arg(long, env = "MA_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<::kaltura::Secret>,
    /// A file holding the key that encrypts two-factor secrets (e.g. a Docker secret).
    #[arg(long, env = "MA_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// Every user must set up two-factor sign-in: until they do, every page sends them to its set-up page. Needs the
    /// secret key.
    #[arg(long = "require-2fa", env = "MA_REQUIRE_2FA", value_parser = clap::builder::BoolishValueParser::new())]
    pub require_2fa: bool,
    /// A TOML file of these settings, keyed by flag name without the dashes (e.g. `listen = "0.0.0.0:8080"`). A flag
    /// or environment variable overrides the file; an unknown key is an error.
    #[arg(long, env = "MA_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub kaltura: kaltura::KalturaSettings,
    #[command(flatten)]
    pub oidc: oidc::OidcArgs,
}

/// Everything the console needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database: Location,
    pub database_pool: PoolSettings,
    /// Where users reach the console; `http://<listen address>` when not given.
    pub public_url: Option<Url>,
    pub session_idle: Duration,
    pub session_max: Duration,
    /// How long requests in flight may run on after the shutdown signal.
    pub shutdown_timeout: Duration,
    /// How long a client may take over a request's headers and body, and between requests.
    pub timeouts: Timeouts,
    /// How long finished work and the audit log are kept.
    pub retention: Retention,
    /// Peers whose `X-Forwarded-For` / `Forwarded` name the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Peers that may read `/metrics`.
    pub metrics_allow: Vec<IpNet>,
    /// Where "Contact Kaltura" leads.
    pub support_url: Url,
    /// Encrypts two-factor secrets; without it two-factor sign-in cannot be set up.
    pub secret_key: Option<SecretKey>,
    /// Every user must have a second factor.
    pub require_2fa: bool,
    /// No Kaltura settings at all: demo mode, on the emulator started in-process.
    pub kaltura: kaltura::KalturaSettings,
    /// Single sign-on, when configured.
    pub oidc: Option<oidc::Oidc>,
    pub local_login: oidc::LocalLogin,
    /// Where every rule that depends on the time reads it (tests give one they move).
    pub clock: Clock,
}

impl Settings {
    /// Loopback on a free port, the given database, the default limits.
    pub fn new(database: Location, kaltura: kaltura::KalturaSettings) -> Settings {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database,
            database_pool: PoolSettings::default(),
            public_url: None,
            session_idle: Duration::from_secs(30 * 60),
            session_max: Duration::from_secs(12 * 3600),
            shutdown_timeout: Duration::from_secs(150),
            timeouts: Timeouts::default(),
            retention: Retention::default(),
            trusted_proxies: Vec::new(),
            metrics_allow: loopback(),
            support_url: Url::parse(KALTURA_SUPPORT).unwrap_or_else(|_| unreachable!("a valid constant URL")),
            secret_key: None,
            require_2fa: false,
            kaltura,
            oidc: None,
            local_login: oidc::LocalLogin::All,
            clock: Clock::system(),
        }
    }
}

/// What the web layer needs to know about where and how it is served.
#[derive(Debug, Clone)]
pub struct WebSettings {
    pub public_url: Url,
    /// Where "Rich Media CMS Login" sends the browser, for each parent; allowed as form targets by the CSP.
    pub kmc_urls: Vec<Url>,
    pub session_idle: Duration,
    pub session_max: Duration,
    /// A request body that makes no progress this long fails.
    pub body_timeout: Duration,
    pub trusted_proxies: Vec<IpNet>,
    pub metrics_allow: Vec<IpNet>,
    pub support_url: Url,
    /// The OpenID provider's issuer: sign-out sends the browser there.
    pub sso_issuer: Option<Url>,
}

/// Kaltura's support site, where the KMC's own "Contact Kaltura" leads.
const KALTURA_SUPPORT: &str = "https://support.kaltura.com/";

/// 127.0.0.0/8 and ::1.
fn loopback() -> Vec<IpNet> {
    vec![
        IpNet::V4(Ipv4Net::new_assert(std::net::Ipv4Addr::new(127, 0, 0, 0), 8)),
        IpNet::V6(Ipv6Net::new_assert(std::net::Ipv6Addr::LOCALHOST, 128)),
    ]
}

impl WebSettings {
    /// Cookies are `Secure` when users reach the console over HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

impl ServeArgs {
    /// What the application is built from.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        Ok(Settings {
            listen: self.listen,
            database: self.database.location()?,
            database_pool: self.database.pool(),
            public_url: self.public_url.clone(),
            session_idle: Duration::from_secs(u64::from(self.session_idle_minutes) * 60),
            session_max: Duration::from_secs(u64::from(self.session_max_hours) * 3600),
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout_secs),
            timeouts: Timeouts {
                header: Duration::from_secs(self.header_timeout_secs),
                body: Duration::from_secs(self.body_timeout_secs),
                idle: Duration::from_secs(self.idle_timeout_secs),
            },
            retention: Retention { days: self.retention_days, audit_days: self.audit_retention_days },
            trusted_proxies: self.trusted_proxies.clone(),
            metrics_allow: self.metrics_allow.clone(),
            support_url: self.support_url.clone(),
            secret_key: self.secret_key()?,
            require_2fa: self.require_2fa,
            kaltura: self.kaltura.clone(),
            oidc: self.oidc.settings().map_err(|e| ConfigError { name: "single sign-on:", reason: e.to_string() })?,
            local_login: self.oidc.local_login,
            clock: Clock::system(),
        })
    }

    /// The key from `--secret-key` or the file `--secret-key-file` names (one of them, trimmed), if given.
    fn secret_key(&self) -> Result<Option<SecretKey>, ConfigError> {
        let value = match (&self.secret_key, &self.secret_key_file) {
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => {
                return Err(ConfigError {
                    name: SECRET_KEY,
                    reason: "is given twice (MA_SECRET_KEY and MA_SECRET_KEY_FILE): keep only one of them".into(),
                });
            }
            (Some(key), None) => key.expose().to_owned(),
            (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| ConfigError {
                name: "--secret-key-file (MA_SECRET_KEY_FILE)",
                reason: format!("cannot be read from {}: {e}", path.display()),
            })?,
        };
        SecretKey::derive(&value).map(Some).map_err(|e| ConfigError { name: SECRET_KEY, reason: e.to_string() })
    }
}

const SECRET_KEY: &str = "the secret key (MA_SECRET_KEY or MA_SECRET_KEY_FILE)";

/// One `--trusted-proxies` entry: an address (a range of one) or a CIDR range.
fn parse_proxy(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?} is not an IP address or CIDR range (e.g. 10.0.0.5 or 10.0.0.0/8)"))
}

/// An `http`/`https` URL with a host.
pub fn parse_http_url(name: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw.trim()).map_err(|e| ConfigError::new(name, raw, &e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new(name, raw, "expected an http:// or https:// URL"));
    }
    Ok(url)
}

/// The first administrator, from `MA_BOOTSTRAP_ADMIN_EMAIL` and `MA_BOOTSTRAP_ADMIN_PASSWORD` (environment only, so
/// the password never shows in a process list).
pub struct Bootstrap {
    pub email: String,
    pub password: String,
}

impl Bootstrap {
    pub fn from_env() -> Result<Option<Bootstrap>, ConfigError> {
        let email = std::env::var("MA_BOOTSTRAP_ADMIN_EMAIL").ok().filter(|v| !v.trim().is_empty());
        let password = std::env::var("MA_BOOTSTRAP_ADMIN_PASSWORD").ok().filter(|v| !v.is_empty());
        match (email, password) {
            (None, None) => Ok(None),
            (Some(email), Some(password)) => Ok(Some(Bootstrap { email: email.trim().to_owned(), password })),
            (Some(_), None) => Err(ConfigError {
                name: "MA_BOOTSTRAP_ADMIN_PASSWORD",
                reason: "is required when MA_BOOTSTRAP_ADMIN_EMAIL is set".into(),
            }),
            (None, Some(_)) => Err(ConfigError {
                name: "MA_BOOTSTRAP_ADMIN_EMAIL",
                reason: "is required when MA_BOOTSTRAP_ADMIN_PASSWORD is set".into(),
            }),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{name} {reason}")]
pub struct ConfigError {
    name: &'static str,
    reason: String,
}

impl ConfigError {
    fn new(name: &'static str, value: &str, why: &str) -> ConfigError {
        ConfigError { name, reason: format!("{value:?} is not valid: {why}") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(s: &str) -> Result<Location, ConfigError> {
        DatabaseArgs { database: s.into(), database_max_connections: 10, database_acquire_timeout_secs: 10 }.location()
    }

    #[test]
    fn a_bad_database_url_is_named_without_echoing_it() {
        let error = db("postgres://ma:s3cret@db example/ma").unwrap_err().to_string();
        assert!(error.starts_with("--database is not a valid PostgreSQL URL"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
        assert_eq!(db("sqlite://ma.db").unwrap(), Location::Sqlite("ma.db".into()));
    }

    fn serve(args: &[&str]) -> ServeArgs {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeArgs,
        }
        <Cli as clap::Parser>::try_parse_from(std::iter::once("x").chain(args.iter().copied())).unwrap().serve
    }

    #[test]
    fn the_secret_key_is_given_once_and_long_enough() {
        let long = "0123456789abcdefghijklmnopqrstuvwxyz";
        assert!(serve(&[]).settings().unwrap().secret_key.is_none());
        assert!(serve(&["--secret-key", long]).settings().unwrap().secret_key.is_some());

        let e = serve(&["--secret-key", "short"]).settings().unwrap_err().to_string();
        assert!(e.contains("MA_SECRET_KEY") && e.contains("at least 32 characters"), "{e}");
        assert!(!e.contains("short"), "the value is not echoed: {e}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, format!("{long}\n")).unwrap();
        let path = file.to_str().unwrap();
        assert!(serve(&["--secret-key-file", path]).settings().unwrap().secret_key.is_some());
        let e = serve(&["--secret-key-file", path, "--secret-key", long]).settings().unwrap_err().to_string();
        assert!(e.contains("given twice"), "{e}");
        let e = serve(&["--secret-key-file", "/nonexistent/key"]).settings().unwrap_err().to_string();
        assert!(e.contains("MA_SECRET_KEY_FILE") && e.contains("/nonexistent/key"), "{e}");
    }

    #[test]
    fn two_factor_is_required_only_when_asked() {
        assert!(!serve(&[]).require_2fa);
        assert!(serve(&["--require-2fa"]).require_2fa);
    }

    #[test]
    fn public_url_must_be_http_or_https() {
        assert!(parse_http_url("--public-url", "ftp://example.com").is_err());
        assert!(parse_http_url("--public-url", "not a url").is_err());
        assert_eq!(parse_http_url("--public-url", "https://ma.example.com").unwrap().scheme(), "https");
    }
}
