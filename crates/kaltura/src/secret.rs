//! Values that must never reach a log line, an error page or a `{:?}`: admin secrets, KS tokens, and the
//! Rich Media CMS sign-in address that embeds a KS.

use rand::RngExt as _;
use std::fmt;
use std::str::FromStr;

const HIDDEN: &str = "[hidden]";

/// A secret string. `Debug` prints a placeholder and there is no `Display`: reading the value takes an explicit
/// [`Secret::expose`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Secret").field(&format_args!("{HIDDEN}")).finish()
    }
}

/// Lets clap read a secret from a flag or an environment variable.
impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Secret, Self::Err> {
        Ok(Secret::new(s))
    }
}

/// A KS for a child account, from `session.impersonate`: who it opens and until when, and the token itself, which
/// only [`ImpersonatedKs::expose`] reveals.
#[derive(Clone, PartialEq, Eq)]
pub struct ImpersonatedKs {
    pub partner_id: i64,
    pub user_id: String,
    /// Unix seconds, as the console computed it when asking (the server's clock decides).
    pub valid_until: i64,
    ks: Secret,
}

impl ImpersonatedKs {
    pub(crate) fn new(partner_id: i64, user_id: String, valid_until: i64, ks: Secret) -> ImpersonatedKs {
        ImpersonatedKs { partner_id, user_id, valid_until, ks }
    }

    pub fn expose(&self) -> &str {
        self.ks.expose()
    }
}

impl fmt::Debug for ImpersonatedKs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImpersonatedKs")
            .field("partner_id", &self.partner_id)
            .field("user_id", &self.user_id)
            .field("valid_until", &self.valid_until)
            .field("ks", &self.ks)
            .finish()
    }
}

impl fmt::Display for ImpersonatedKs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a Rich Media CMS session for partner {} as {:?}", self.partner_id, self.user_id)
    }
}

/// An address that carries a KS (the Rich Media CMS sign-in link): send it to the browser as a redirect or a
/// form target, never print it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(Secret);

impl SecretUrl {
    pub(crate) fn new(url: String) -> SecretUrl {
        SecretUrl(Secret::new(url))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SecretUrl").field(&format_args!("{HIDDEN}")).finish()
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[a Rich Media CMS sign-in address]")
    }
}

/// A random secret in Kaltura's shape: 32 lowercase hex digits (partner secrets, and the console's one-time keys).
pub fn random_secret() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_print_a_placeholder_only() {
        let s = Secret::new("s3cr3t-value");
        assert_eq!(format!("{s:?}"), "Secret([hidden])");
        assert_eq!(s.expose(), "s3cr3t-value");

        let ks = ImpersonatedKs::new(6475, "muh@example.com".into(), 1_800_000_000, Secret::new("djJ8NjQ3NXxabc"));
        for shown in [format!("{ks:?}"), format!("{ks}")] {
            assert!(!shown.contains("djJ8"), "{shown}");
            assert!(shown.contains("6475"), "{shown}");
        }

        let url =
            SecretUrl::new("https://kmc.example/index.php/kmcng/actions/persist-login-by-ks/djJ8NjQ3NXxabc".into());
        for shown in [format!("{url:?}"), format!("{url}")] {
            assert!(!shown.contains("djJ8"), "{shown}");
        }
        assert!(url.expose().ends_with("/persist-login-by-ks/djJ8NjQ3NXxabc"));
    }
}
