//! Single sign-on with the organisation's OpenID provider, and who may still sign in with a password.

use reqwest::Url;
use std::path::PathBuf;

use kaltura::Secret;

/// Who may sign in with a password kept by the console.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LocalLogin {
    /// Everyone with a console password.
    #[default]
    All,
    /// Publisher Administrators only: a break-glass way in when the provider is down.
    OnlyAdmins,
    /// Nobody: single sign-on only.
    None,
}

/// The single sign-on flags, for `#[command(flatten)]`. Without `--oidc-issuer` there is no single sign-on.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OidcArgs {
    /// The OpenID provider's issuer URL (its `/.well-known/openid-configuration` is read), e.g.
    /// https://login.microsoftonline.com/TENANT/v2.0.
    #[arg(long, env = "MA_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// The console's client id at the provider.
    #[arg(long, env = "MA_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// The client secret; prefer MA_OIDC_CLIENT_SECRET_FILE. None: a public client (PKCE only).
    #[arg(long, env = "MA_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<Secret>,
    /// A file holding the client secret (e.g. a Docker secret).
    #[arg(long, env = "MA_OIDC_CLIENT_SECRET_FILE")]
    pub oidc_client_secret_file: Option<PathBuf>,
    /// The scopes asked for, separated by spaces.
    #[arg(long, env = "MA_OIDC_SCOPES", default_value = "openid email profile")]
    pub oidc_scopes: String,
    /// The sign-in button's words.
    #[arg(long, env = "MA_OIDC_NAME", default_value = "Single sign-on")]
    pub oidc_name: String,
    /// A claim of the ID token (e.g. `groups`, `roles`) that makes its holder a Publisher Administrator when it holds
    /// one of --oidc-admin-values: such users are created at their first sign-in, and lose access with the value.
    #[arg(long, env = "MA_OIDC_ROLE_CLAIM")]
    pub oidc_role_claim: Option<String>,
    /// The values of --oidc-role-claim that give access, separated by commas.
    #[arg(long, env = "MA_OIDC_ADMIN_VALUES", value_delimiter = ',')]
    pub oidc_admin_values: Vec<String>,
    /// Take the email claim as verified when the provider does not say either way (Microsoft Entra ID sends no
    /// `email_verified`; its tenant vouches for the addresses). An email the provider says is unverified never counts.
    #[arg(long, env = "MA_OIDC_TRUST_EMAIL")]
    pub oidc_trust_email: bool,
    /// Link an existing console user to the provider identity whose email the provider says is verified, at that
    /// identity's first sign-in. Never an administrator or a user with a second factor of the console's; without
    /// this, existing users keep signing in with their password, and only users the role claim creates are linked.
    #[arg(long, env = "MA_OIDC_LINK_BY_EMAIL")]
    pub oidc_link_by_email: bool,
    /// Accept ID tokens signed with HS256 (with the client secret) when the provider advertises it. Off: only the
    /// provider's own asymmetric signatures (RS256, ES256, …) are accepted.
    #[arg(long, env = "MA_OIDC_ALLOW_HS256")]
    pub oidc_allow_hs256: bool,
    /// Who may sign in with a console password: `all`, `only-admins` (a break-glass administrator when the provider
    /// is down) or `none`.
    #[arg(long, env = "MA_LOCAL_LOGIN", value_enum, default_value_t = LocalLogin::All)]
    pub local_login: LocalLogin,
}

/// Single sign-on as configured, checked.
#[derive(Debug, Clone)]
pub struct Oidc {
    /// As given: the provider's metadata must name exactly this issuer (a trailing slash matters).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub scopes: Vec<String>,
    pub name: String,
    /// The claim and the values that give access, when users are created from the provider.
    pub role_claim: Option<(String, Vec<String>)>,
    /// An email claim without `email_verified` counts as good enough to create a user from the role claim.
    pub trust_email: bool,
    /// Existing users are linked by a verified email (see `--oidc-link-by-email`).
    pub link_by_email: bool,
    /// ID tokens signed with HS256 are accepted.
    pub allow_hs256: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    #[error("--oidc-issuer {0:?} is not an http(s) URL")]
    Issuer(String),
    #[error("--oidc-issuer needs --oidc-client-id (MA_OIDC_CLIENT_ID)")]
    NoClientId,
    #[error("--oidc-client-id and the other --oidc-… settings need --oidc-issuer (MA_OIDC_ISSUER)")]
    NoIssuer,
    #[error("the client secret is given twice (MA_OIDC_CLIENT_SECRET and MA_OIDC_CLIENT_SECRET_FILE): keep one")]
    SecretTwice,
    #[error("cannot read MA_OIDC_CLIENT_SECRET_FILE {path}: {reason}")]
    SecretFile { path: String, reason: String },
    #[error("--oidc-scopes must include openid")]
    NoOpenidScope,
    #[error("--oidc-role-claim and --oidc-admin-values go together: give both or neither")]
    RoleClaimHalf,
    #[error("--local-login {0} leaves nobody a way in without --oidc-issuer")]
    NoWayIn(&'static str),
}

impl OidcArgs {
    /// The checked settings: `None` without an issuer.
    pub fn settings(&self) -> Result<Option<Oidc>, OidcError> {
        let Some(issuer) = self.oidc_issuer.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
            if self.oidc_client_id.is_some() || self.oidc_role_claim.is_some() {
                return Err(OidcError::NoIssuer);
            }
            return match self.local_login {
                LocalLogin::All => Ok(None),
                LocalLogin::OnlyAdmins => Err(OidcError::NoWayIn("only-admins")),
                LocalLogin::None => Err(OidcError::NoWayIn("none")),
            };
        };
        Url::parse(issuer)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| OidcError::Issuer(issuer.to_owned()))?;
        let client_id =
            self.oidc_client_id.as_deref().map(str::trim).filter(|s| !s.is_empty()).ok_or(OidcError::NoClientId)?;
        let client_secret = match (&self.oidc_client_secret, &self.oidc_client_secret_file) {
            (Some(_), Some(_)) => return Err(OidcError::SecretTwice),
            (Some(secret), None) => Some(secret.clone()),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| OidcError::SecretFile { path: path.display().to_string(), reason: e.to_string() })?;
                Some(Secret::new(text.trim().to_owned()))
            }
            (None, None) => None,
        };
        let scopes: Vec<String> = self.oidc_scopes.split_whitespace().map(str::to_owned).collect();
        if !scopes.iter().any(|s| s == "openid") {
            return Err(OidcError::NoOpenidScope);
        }
        let values: Vec<String> =
            self.oidc_admin_values.iter().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).collect();
        let role_claim = match (self.oidc_role_claim.as_deref().map(str::trim).filter(|c| !c.is_empty()), values) {
            (Some(claim), values) if !values.is_empty() => Some((claim.to_owned(), values)),
            (None, values) if values.is_empty() => None,
            _ => return Err(OidcError::RoleClaimHalf),
        };
        Ok(Some(Oidc {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            client_secret,
            scopes,
            name: self.oidc_name.trim().to_owned(),
            role_claim,
            trust_email: self.oidc_trust_email,
            link_by_email: self.oidc_link_by_email,
            allow_hs256: self.oidc_allow_hs256,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(issuer: Option<&str>) -> OidcArgs {
        OidcArgs {
            oidc_issuer: issuer.map(str::to_owned),
            oidc_client_id: Some("console".into()),
            oidc_scopes: "openid email profile".into(),
            oidc_name: "Single sign-on".into(),
            ..OidcArgs::default()
        }
    }

    #[test]
    fn an_issuer_needs_a_client_and_the_openid_scope() {
        let oidc = args(Some("https://idp.example/realms/uni")).settings().unwrap().expect("configured");
        assert_eq!(oidc.issuer, "https://idp.example/realms/uni");
        assert!(oidc.role_claim.is_none());
        let no_client = OidcArgs { oidc_client_id: None, ..args(Some("https://idp.example")) };
        assert_eq!(no_client.settings().unwrap_err(), OidcError::NoClientId);
        let no_openid = OidcArgs { oidc_scopes: "email".into(), ..args(Some("https://idp.example")) };
        assert_eq!(no_openid.settings().unwrap_err(), OidcError::NoOpenidScope);
        assert_eq!(
            args(Some("ftp://idp.example")).settings().unwrap_err(),
            OidcError::Issuer("ftp://idp.example".into())
        );
    }

    #[test]
    fn without_an_issuer_passwords_must_stay_and_oidc_settings_are_refused() {
        assert_eq!(args(None).settings().unwrap_err(), OidcError::NoIssuer);
        let plain = OidcArgs { oidc_client_id: None, ..args(None) };
        assert!(plain.settings().unwrap().is_none());
        let locked_out = OidcArgs { local_login: LocalLogin::None, ..plain };
        assert_eq!(locked_out.settings().unwrap_err(), OidcError::NoWayIn("none"));
    }

    #[test]
    fn a_role_claim_comes_with_its_values() {
        let half = OidcArgs { oidc_role_claim: Some("groups".into()), ..args(Some("https://idp.example")) };
        assert_eq!(half.settings().unwrap_err(), OidcError::RoleClaimHalf);
        let whole = OidcArgs { oidc_admin_values: vec!["ma-admins".into(), " ".into()], ..half };
        assert_eq!(whole.settings().unwrap().unwrap().role_claim, Some(("groups".into(), vec!["ma-admins".into()])));
    }
}
