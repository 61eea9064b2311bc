//! How the console finds its Kaltura parent account: flags and environment variables, checked with messages that
//! say what to fix.

use reqwest::Url;
use std::path::PathBuf;
use std::time::Duration;

use kaltura::{ClientConfig, KalturaClient, Secret, normalize_service_url};

/// The Kaltura flags, for `#[command(flatten)]`. With none of them given the console runs its demo on the
/// embedded emulator.
#[derive(clap::Args, Debug, Clone)]
pub struct KalturaSettings {
    /// Kaltura's service URL, e.g. https://www.kaltura.com (a trailing /api_v3 is accepted).
    #[arg(long = "kaltura-service-url", env = "KALTURA_SERVICE_URL")]
    pub service_url: Option<String>,
    /// The parent (VAR/GROUP) account's partner id.
    #[arg(long = "kaltura-partner-id", env = "KALTURA_PARTNER_ID")]
    pub partner_id: Option<String>,
    /// The parent account's admin secret; prefer --kaltura-admin-secret-file.
    #[arg(long = "kaltura-admin-secret", env = "KALTURA_ADMIN_SECRET", hide_env_values = true)]
    pub admin_secret: Option<Secret>,
    /// A file holding the parent account's admin secret (e.g. a Docker secret).
    #[arg(long = "kaltura-admin-secret-file", env = "KALTURA_ADMIN_SECRET_FILE")]
    pub admin_secret_file: Option<PathBuf>,
    /// The user id the console's own admin sessions carry (empty by default).
    #[arg(long = "kaltura-admin-user-id", env = "KALTURA_ADMIN_USER_ID", default_value = "")]
    pub admin_user_id: String,
    /// Where "Rich Media CMS Login" opens the KMC (default: the service URL).
    #[arg(long = "kaltura-kmc-url", env = "KALTURA_KMC_URL")]
    pub kmc_url: Option<String>,
    /// Seconds to wait for an ordinary Kaltura call.
    #[arg(long = "kaltura-timeout-secs", env = "KALTURA_TIMEOUT_SECS", default_value_t = 15)]
    pub timeout_secs: u64,
    /// Seconds to wait for partner.register (creating an account can take a minute).
    #[arg(long = "kaltura-register-timeout-secs", env = "KALTURA_REGISTER_TIMEOUT_SECS", default_value_t = 120)]
    pub register_timeout_secs: u64,
    /// Lifetime in seconds of the session "Rich Media CMS Login" opens a child account with.
    #[arg(long = "kaltura-impersonation-secs", env = "KALTURA_IMPERSONATION_SECS", default_value_t = 120)]
    pub impersonation_secs: u64,
    /// The most the console reads of one Kaltura answer, in MB (a page of 500 accounts is well under 1 MB).
    #[arg(long = "kaltura-max-answer-mb", env = "KALTURA_MAX_ANSWER_MB", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_answer_mb: u32,
    /// The parents of the settings file's `[[parents]]` tables (none: the flags above name the one parent).
    #[arg(skip)]
    pub parents: Vec<ParentEntry>,
}

/// One `[[parents]]` table of the settings file: a parent partner the console serves.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ParentEntry {
    pub partner_id: i64,
    #[serde(default)]
    pub admin_secret: Option<String>,
    #[serde(default)]
    pub admin_secret_file: Option<PathBuf>,
    /// How the console names it (e.g. a region or a brand).
    #[serde(default)]
    pub label: Option<String>,
    /// Its own service URL (default: the console's).
    #[serde(default)]
    pub service_url: Option<String>,
    /// Its own KMC URL (default: the console's, else its service URL).
    #[serde(default)]
    pub kmc_url: Option<String>,
}

/// Never shows the secret.
impl std::fmt::Debug for ParentEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParentEntry")
            .field("partner_id", &self.partner_id)
            .field("admin_secret", &self.admin_secret.as_ref().map(|_| "[hidden]"))
            .field("admin_secret_file", &self.admin_secret_file)
            .field("label", &self.label)
            .field("service_url", &self.service_url)
            .field("kmc_url", &self.kmc_url)
            .finish()
    }
}

/// A parent partner as the console will serve it: its client's settings and its label.
#[derive(Debug, Clone)]
pub struct ParentConfig {
    pub client: ClientConfig,
    pub label: Option<String>,
}

/// The same defaults as the flags.
impl Default for KalturaSettings {
    fn default() -> KalturaSettings {
        KalturaSettings {
            service_url: None,
            partner_id: None,
            admin_secret: None,
            admin_secret_file: None,
            admin_user_id: String::new(),
            kmc_url: None,
            timeout_secs: 15,
            register_timeout_secs: 120,
            impersonation_secs: 120,
            max_answer_mb: 32,
            parents: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "Kaltura is not configured: set KALTURA_SERVICE_URL, KALTURA_PARTNER_ID and KALTURA_ADMIN_SECRET (or \
         KALTURA_ADMIN_SECRET_FILE); without them the console runs its demo on the embedded emulator"
    )]
    NotConfigured,
    #[error("{0} is required when any other Kaltura setting is given")]
    Missing(&'static str),
    #[error("{name} {value:?} is not valid: {reason}")]
    Invalid { name: &'static str, value: String, reason: String },
    #[error(
        "the admin secret is given twice (KALTURA_ADMIN_SECRET and KALTURA_ADMIN_SECRET_FILE): keep only one of them"
    )]
    SecretTwice,
    #[error("the admin secret is empty: give the parent account's admin secret")]
    SecretEmpty,
    #[error("cannot use the admin secret file {path}: {reason}")]
    SecretFile { path: String, reason: String },
    #[error("cannot set up the Kaltura client: {0}")]
    Client(String),
    #[error(
        "the parents are given twice: the settings file's [[parents]] and KALTURA_PARTNER_ID or an admin secret flag; \
         keep one of them"
    )]
    ParentsTwice,
    #[error("[[parents]] number {number} (partner {partner_id}): {reason}")]
    Parent { number: usize, partner_id: i64, reason: Box<SettingsError> },
    #[error("partner {0} is in [[parents]] twice")]
    ParentTwice(i64),
}

const SERVICE_URL: &str = "--kaltura-service-url (KALTURA_SERVICE_URL)";
const PARTNER_ID: &str = "--kaltura-partner-id (KALTURA_PARTNER_ID)";
const ADMIN_SECRET: &str = "--kaltura-admin-secret (KALTURA_ADMIN_SECRET) or --kaltura-admin-secret-file";
const KMC_URL: &str = "--kaltura-kmc-url (KALTURA_KMC_URL)";

impl KalturaSettings {
    /// Whether any Kaltura setting is given; if none is, the console runs its demo on the embedded emulator.
    pub fn is_configured(&self) -> bool {
        !self.parents.is_empty()
            || self.service_url.is_some()
            || self.partner_id.is_some()
            || self.admin_secret.is_some()
            || self.admin_secret_file.is_some()
            || self.kmc_url.is_some()
    }

    /// Checks every setting and reads the secret file.
    pub fn client_config(&self) -> Result<ClientConfig, SettingsError> {
        if !self.is_configured() {
            return Err(SettingsError::NotConfigured);
        }
        let service_url = self.service_url.as_deref().ok_or(SettingsError::Missing(SERVICE_URL))?;
        // Checked first, so the first thing to fix is named first.
        normalize_url(SERVICE_URL, service_url)?;
        let partner_id = self.partner_id.as_deref().ok_or(SettingsError::Missing(PARTNER_ID))?;
        let partner_id = parse_partner_id(partner_id)?;
        let admin_secret = self.admin_secret()?;
        let cfg = ClientConfig::new(service_url, partner_id, admin_secret).map_err(invalid(SERVICE_URL))?;
        let mut cfg = self.apply(cfg)?;
        if let Some(kmc) = &self.kmc_url {
            cfg.kmc_url = normalize_url(KMC_URL, kmc)?;
        }
        Ok(cfg)
    }

    /// Every parent the console serves, checked: the `[[parents]]` of the settings file (each with the flags'
    /// service and KMC URLs unless it has its own), or else the one the flags name.
    pub fn parent_configs(&self) -> Result<Vec<ParentConfig>, SettingsError> {
        if self.parents.is_empty() {
            return Ok(vec![ParentConfig { client: self.client_config()?, label: None }]);
        }
        if self.partner_id.is_some() || self.admin_secret.is_some() || self.admin_secret_file.is_some() {
            return Err(SettingsError::ParentsTwice);
        }
        let mut out: Vec<ParentConfig> = Vec::with_capacity(self.parents.len());
        for (i, entry) in self.parents.iter().enumerate() {
            let config = self.parent_config(entry).map_err(|reason| SettingsError::Parent {
                number: i + 1,
                partner_id: entry.partner_id,
                reason: Box::new(reason),
            })?;
            if out.iter().any(|p| p.client.partner_id == config.client.partner_id) {
                return Err(SettingsError::ParentTwice(entry.partner_id));
            }
            out.push(config);
        }
        Ok(out)
    }

    fn parent_config(&self, entry: &ParentEntry) -> Result<ParentConfig, SettingsError> {
        let one = KalturaSettings {
            service_url: entry.service_url.clone().or_else(|| self.service_url.clone()),
            partner_id: Some(entry.partner_id.to_string()),
            admin_secret: entry.admin_secret.clone().map(Secret::new),
            admin_secret_file: entry.admin_secret_file.clone(),
            kmc_url: entry.kmc_url.clone().or_else(|| self.kmc_url.clone()),
            parents: Vec::new(),
            ..self.clone()
        };
        let label = entry.label.as_deref().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned);
        Ok(ParentConfig { client: one.client_config()?, label })
    }

    pub fn client(&self) -> Result<KalturaClient, SettingsError> {
        KalturaClient::new(self.client_config()?).map_err(|e| SettingsError::Client(e.to_string()))
    }

    /// Where "Rich Media CMS Login" sends browsers (the web layer allows it as a form target).
    pub fn kmc_url(&self) -> Result<Url, SettingsError> {
        let cfg = self.client_config()?;
        Url::parse(&cfg.kmc_url).map_err(|e| SettingsError::Invalid {
            name: KMC_URL,
            value: cfg.kmc_url,
            reason: e.to_string(),
        })
    }

    /// A client for the embedded emulator, keeping these settings' timeouts and lifetimes.
    pub fn demo_client(
        &self,
        service_url: &str,
        partner_id: i64,
        admin_secret: &str,
    ) -> Result<KalturaClient, SettingsError> {
        let cfg = ClientConfig::new(service_url, partner_id, Secret::new(admin_secret))
            .map_err(invalid("the emulator URL"))?;
        KalturaClient::new(self.apply(cfg)?).map_err(|e| SettingsError::Client(e.to_string()))
    }

    /// The timeouts, lifetimes and admin user id.
    fn apply(&self, mut cfg: ClientConfig) -> Result<ClientConfig, SettingsError> {
        cfg.timeout = seconds("--kaltura-timeout-secs (KALTURA_TIMEOUT_SECS)", self.timeout_secs)?;
        cfg.register_timeout =
            seconds("--kaltura-register-timeout-secs (KALTURA_REGISTER_TIMEOUT_SECS)", self.register_timeout_secs)?;
        cfg.impersonation_lifetime =
            seconds("--kaltura-impersonation-secs (KALTURA_IMPERSONATION_SECS)", self.impersonation_secs)?;
        cfg.admin_user_id = self.admin_user_id.trim().to_string();
        cfg.max_answer_bytes = usize::try_from(self.max_answer_mb).unwrap_or(usize::MAX).saturating_mul(1024 * 1024);
        Ok(cfg)
    }

    fn admin_secret(&self) -> Result<Secret, SettingsError> {
        let secret = match (&self.admin_secret, &self.admin_secret_file) {
            (Some(_), Some(_)) => return Err(SettingsError::SecretTwice),
            (None, None) => return Err(SettingsError::Missing(ADMIN_SECRET)),
            (Some(s), None) => s.expose().trim().to_string(),
            (None, Some(path)) => {
                let file_error =
                    |reason: String| SettingsError::SecretFile { path: path.display().to_string(), reason };
                let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
                let text = text.trim().to_string();
                if text.is_empty() {
                    return Err(file_error("it is empty".into()));
                }
                text
            }
        };
        if secret.is_empty() {
            return Err(SettingsError::SecretEmpty);
        }
        Ok(Secret::new(secret))
    }
}

fn seconds(name: &'static str, secs: u64) -> Result<Duration, SettingsError> {
    if secs == 0 {
        return Err(SettingsError::Invalid { name, value: "0".into(), reason: "give at least 1 second".into() });
    }
    Ok(Duration::from_secs(secs))
}

fn parse_partner_id(raw: &str) -> Result<i64, SettingsError> {
    match raw.trim().parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(SettingsError::Invalid {
            name: PARTNER_ID,
            value: raw.to_string(),
            reason: "a partner id is a positive whole number, e.g. 6464".into(),
        }),
    }
}

/// An http(s) URL with a host, without a trailing `/` or `/api_v3`.
fn normalize_url(name: &'static str, raw: &str) -> Result<String, SettingsError> {
    normalize_service_url(raw).map_err(invalid(name))
}

fn invalid(name: &'static str) -> impl Fn(kaltura::InvalidUrl) -> SettingsError {
    move |e| SettingsError::Invalid { name, value: e.value, reason: e.reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn settings(url: &str, pid: &str, secret: &str) -> KalturaSettings {
        KalturaSettings {
            service_url: Some(url.into()),
            partner_id: Some(pid.into()),
            admin_secret: Some(Secret::new(secret)),
            ..KalturaSettings::default()
        }
    }

    #[test]
    fn service_urls_are_accepted_with_or_without_slash_and_api_v3() {
        for raw in [
            "https://www.kaltura.com",
            "https://www.kaltura.com/",
            "https://www.kaltura.com/api_v3",
            "https://www.kaltura.com/api_v3/",
            " https://www.kaltura.com//API_V3 ",
        ] {
            assert_eq!(normalize_url(SERVICE_URL, raw).unwrap(), "https://www.kaltura.com", "{raw}");
        }
        assert_eq!(
            normalize_url(SERVICE_URL, "http://127.0.0.1:8081/kaltura/").unwrap(),
            "http://127.0.0.1:8081/kaltura"
        );
    }

    #[test]
    fn bad_service_urls_say_what_to_fix() {
        let e = normalize_url(SERVICE_URL, "www.kaltura.com").unwrap_err().to_string();
        assert!(e.contains("add the scheme"), "{e}");
        let e = normalize_url(SERVICE_URL, "ftp://www.kaltura.com").unwrap_err().to_string();
        assert!(e.contains("http:// or https://"), "{e}");
    }

    #[test]
    fn a_complete_configuration_gives_a_client_config_with_the_defaults() {
        let cfg = settings("https://www.kaltura.com/api_v3/", " 6464 ", "abc\n").client_config().unwrap();
        assert_eq!(cfg.service_url, "https://www.kaltura.com");
        assert_eq!(cfg.kmc_url, "https://www.kaltura.com", "the KMC defaults to the service URL");
        assert_eq!(cfg.partner_id, 6464);
        assert_eq!(cfg.admin_secret.expose(), "abc");
        assert_eq!(cfg.timeout, Duration::from_secs(15));
        assert_eq!(cfg.register_timeout, Duration::from_secs(120));
        assert_eq!(cfg.impersonation_lifetime, Duration::from_secs(120));
        assert!(!format!("{cfg:?}").contains("abc"), "{cfg:?}");

        let with_kmc = KalturaSettings {
            kmc_url: Some("https://kmc.example.com/".into()),
            ..settings("https://a.example", "1", "s")
        };
        assert_eq!(with_kmc.kmc_url().unwrap().as_str(), "https://kmc.example.com/");
    }

    #[test]
    fn no_settings_at_all_means_demo_mode() {
        let none = KalturaSettings::default();
        assert!(!none.is_configured());
        assert_eq!(none.client_config().unwrap_err(), SettingsError::NotConfigured);
        assert!(none.client_config().unwrap_err().to_string().contains("demo"));
    }

    #[test]
    fn partial_settings_name_what_is_missing() {
        let only_url =
            KalturaSettings { service_url: Some("https://www.kaltura.com".into()), ..KalturaSettings::default() };
        assert!(only_url.is_configured());
        assert_eq!(only_url.client_config().unwrap_err(), SettingsError::Missing(PARTNER_ID));
        let no_secret = KalturaSettings { admin_secret: None, ..settings("https://www.kaltura.com", "6464", "") };
        assert!(no_secret.client_config().unwrap_err().to_string().contains("KALTURA_ADMIN_SECRET"));
        let no_url = KalturaSettings { service_url: None, ..settings("", "6464", "s") };
        assert!(no_url.client_config().unwrap_err().to_string().contains("KALTURA_SERVICE_URL"));
    }

    #[test]
    fn partner_ids_must_be_positive_numbers() {
        for bad in ["abc", "0", "-5", "64.5", ""] {
            let e = settings("https://www.kaltura.com", bad, "s").client_config().unwrap_err().to_string();
            assert!(e.contains("positive whole number"), "{bad}: {e}");
        }
    }

    #[test]
    fn secrets_must_be_given_once_and_not_empty() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "from-file\n").unwrap();

        let twice =
            KalturaSettings { admin_secret_file: Some(file.clone()), ..settings("https://k.example", "1", "s") };
        assert_eq!(twice.client_config().unwrap_err(), SettingsError::SecretTwice);

        let from_file = KalturaSettings {
            admin_secret: None,
            admin_secret_file: Some(file.clone()),
            ..settings("https://k.example", "1", "")
        };
        assert_eq!(from_file.client_config().unwrap().admin_secret.expose(), "from-file");

        std::fs::write(&file, " \n").unwrap();
        let e = from_file.client_config().unwrap_err().to_string();
        assert!(e.contains("is empty") && e.contains("secret"), "{e}");

        let missing = KalturaSettings { admin_secret_file: Some(dir.path().join("nope")), ..from_file.clone() };
        let e = missing.client_config().unwrap_err().to_string();
        assert!(e.starts_with("cannot use the admin secret file") && e.contains("nope"), "{e}");

        assert_eq!(settings("https://k.example", "1", "  ").client_config().unwrap_err(), SettingsError::SecretEmpty);
    }

    #[test]
    fn zero_timeouts_are_refused() {
        let s = KalturaSettings { timeout_secs: 0, ..settings("https://k.example", "1", "s") };
        assert!(s.client_config().unwrap_err().to_string().contains("at least 1 second"));
    }

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        kaltura: KalturaSettings,
    }

    #[test]
    fn the_flags_flatten_into_a_command() {
        let cli = Cli::try_parse_from([
            "x",
            "--kaltura-service-url",
            "https://www.kaltura.com",
            "--kaltura-partner-id",
            "6464",
            "--kaltura-admin-secret",
            "top-secret",
            "--kaltura-timeout-secs",
            "5",
        ])
        .unwrap();
        assert_eq!(cli.kaltura.partner_id.as_deref(), Some("6464"));
        assert_eq!(cli.kaltura.timeout_secs, 5);
        assert_eq!(cli.kaltura.register_timeout_secs, 120);
        assert!(!format!("{:?}", cli.kaltura).contains("top-secret"));
    }
}
