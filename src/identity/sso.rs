//! Single sign-on through the organisation's OpenID provider: the authorization code flow with PKCE, `state` and
//! `nonce` (the `openidconnect` crate builds the requests and verifies the ID token's signature, issuer, audience,
//! expiry and nonce with the provider's keys; only asymmetric signatures unless HS256 is allowed), then
//! [`Identity::sso_user`]: who the verified person is among the console's users, and when they are linked.

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields,
    EndSessionUrl, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl, LogoutRequest, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl,
    RequestTokenError, Scope, StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

use super::{Error, Identity};
use crate::config::oidc::Oidc;
use crate::db::audit::{AuditAction, Outcome as AuditOutcome};
use crate::db::users::{self, User};

/// Every claim of the ID token, so a configured role claim (`groups`, `roles`, …) can be read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Claims {
    #[serde(flatten)]
    all: serde_json::Map<String, serde_json::Value>,
}

impl AdditionalClaims for Claims {}

type IdFields = IdTokenFields<
    Claims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type OidcIdToken =
    openidconnect::IdToken<Claims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;
type Tokens = StandardTokenResponse<IdFields, CoreTokenType>;
type OidcClient = Client<
    Claims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How long the provider's metadata and keys are used before they are read again (keys rotate).
const METADATA_TTL: Duration = Duration::from_secs(600);
/// How long a sign-in may take at the provider.
pub const PENDING_TTL_SECS: i64 = 600;
/// How far the provider's clock may be behind the console's when it says when someone signed in.
const AUTH_TIME_SKEW_SECS: i64 = 120;
/// The most read of one answer of the provider.
const MAX_ANSWER: usize = 1024 * 1024;
/// How long one request to the provider may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The provider as discovered: the client built from its metadata, where it ends sessions, and the ID-token
/// signatures accepted.
struct Provider {
    client: OidcClient,
    end_session: Option<EndSessionUrl>,
    algorithms: Vec<CoreJwsSigningAlgorithm>,
    read_at: Instant,
}

/// Single sign-on with one provider. Cheap to clone.
#[derive(Clone)]
pub struct Sso {
    settings: Arc<Oidc>,
    redirect: RedirectUrl,
    after_logout: Url,
    http: reqwest::Client,
    provider: Arc<Mutex<Option<Arc<Provider>>>>,
}

/// A sign-in under way: kept, sealed, in a short-lived cookie between the redirect to the provider and its answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SsoPending {
    state: String,
    nonce: String,
    verifier: String,
    pub next: String,
    pub started_at: i64,
    pub purpose: Purpose,
}

/// What a trip to the provider is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Purpose {
    SignIn,
    /// The signed-in user confirms their identity for sensitive changes.
    Confirm,
    /// The signed-in user (this id) links their console user to their identity at the provider.
    Link(i64),
}

/// Who the provider says signed in, from a verified ID token.
#[derive(Debug, Clone)]
pub struct Verified {
    /// `{issuer} {sub}`: what a console user is linked to.
    pub subject: String,
    pub email: Option<String>,
    /// The provider said the email is verified.
    pub email_verified: bool,
    /// The provider said nothing either way, and `--oidc-trust-email` takes its email as good: enough to create a
    /// user from the role claim, never to link an existing one.
    pub email_trusted: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// Whether the configured role claim holds an administrator value (`None` when no role claim is configured).
    pub admin_by_claim: Option<bool>,
    /// The ID token, as the hint for the provider's logout.
    pub id_token: String,
}

/// Why a sign-in through the provider did not happen: each says what to do, none shows a token or a secret.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("The identity provider cannot be reached. Try again in a moment.")]
    Unreachable,
    #[error("The sign-in was cancelled at the identity provider.")]
    Denied,
    #[error("The identity provider refused the sign-in: {0}")]
    Provider(String),
    #[error("This sign-in was not started here, or took too long. Please start again.")]
    State,
    #[error("The identity provider does not accept the console's client settings (client id or secret).")]
    WrongClient,
    #[error(
        "The identity provider's sign-in has expired or is not valid yet. If it keeps happening, check this server's \
         clock."
    )]
    Clock,
    #[error("The identity provider's answer could not be verified, so nobody was signed in.")]
    Unverified,
    #[error(
        "The identity provider did not ask you to sign in again, so it is not confirmed that it is you. Sign out at \
         the identity provider, then try again."
    )]
    NotAgain,
}

/// Why a verified person may not use the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "The identity provider did not give a verified email address for you, so the console cannot tell who you are."
    )]
    NoVerifiedEmail,
    #[error("You are not a user of this console. Ask one of its administrators to add you.")]
    Unknown,
    #[error("Your console user is blocked. Ask one of its administrators.")]
    Blocked,
    #[error("Your organisation does not give you access to this console.")]
    NotGranted,
    #[error("Your console user is linked to another identity at the identity provider.")]
    OtherIdentity,
    #[error("An administrator removed you from this console. Ask one of them to add you again.")]
    Removed,
    #[error(
        "Your console user is not linked to your identity at the identity provider. Sign in with your password, then \
         link it on your Two-factor page."
    )]
    NotLinked,
    #[error(
        "Your console user is an administrator or signs in with a second factor, so it is not linked to an identity \
         at the provider by email. Sign in with your password and code."
    )]
    LinkRefused,
    #[error("The console's users quota is reached, so no user can be created for you. Ask an administrator.")]
    QuotaReached,
    #[error("That identity at the provider is linked to another console user already.")]
    IdentityTaken,
    #[error("Linking needs you signed in here, your identity confirmed a moment ago: sign in, then start again.")]
    LinkNotConfirmed,
    #[error(
        "You confirmed as someone else at the identity provider than the user signed in here: nothing was changed."
    )]
    SomeoneElse,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    Request(#[from] reqwest::Error),
    #[error("the answer is larger than {MAX_ANSWER} bytes")]
    TooLarge,
    #[error("{0}")]
    Http(#[from] openidconnect::http::Error),
}

impl Sso {
    pub fn new(settings: Oidc, public_url: &Url) -> anyhow::Result<Sso> {
        let redirect = RedirectUrl::new(public_url.join("login/oidc/callback")?.to_string())?;
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            // The provider's answers are read as they are: following redirects would let it point the console
            // anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Sso {
            settings: Arc::new(settings),
            redirect,
            after_logout: public_url.join("login")?,
            http,
            provider: Arc::default(),
        })
    }

    /// The button's words.
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// Where the provider sends people back: registered with it.
    pub fn redirect_uri(&self) -> &str {
        self.redirect.as_str()
    }

    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    async fn send(
        http: reqwest::Client,
        request: openidconnect::HttpRequest,
    ) -> Result<openidconnect::HttpResponse, HttpError> {
        let (parts, body) = request.into_parts();
        let mut res =
            http.request(parts.method, parts.uri.to_string()).headers(parts.headers).body(body).send().await?;
        let mut answer = openidconnect::http::Response::builder().status(res.status());
        for (name, value) in res.headers() {
            answer = answer.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await? {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(HttpError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(answer.body(body)?)
    }

    /// The provider's metadata and keys, read again when they are older than [`METADATA_TTL`].
    async fn provider(&self) -> Result<Arc<Provider>, SsoError> {
        let mut cached = self.provider.lock().await;
        if let Some(p) = cached.as_ref().filter(|p| p.read_at.elapsed() < METADATA_TTL) {
            return Ok(p.clone());
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone()).map_err(|_| SsoError::Unreachable)?;
        let http = |request| Self::send(self.http.clone(), request);
        let metadata = ProviderMetadataWithLogout::discover_async(issuer, &http).await.map_err(|e| {
            tracing::warn!(error = %e, issuer = %self.settings.issuer, "cannot read the identity provider's metadata");
            SsoError::Unreachable
        })?;
        let end_session = metadata.additional_metadata().end_session_endpoint.clone();
        let algorithms = accepted_algorithms(
            metadata.id_token_signing_alg_values_supported(),
            self.settings.allow_hs256 && self.settings.client_secret.is_some(),
        );
        let secret = self.settings.client_secret.as_ref().map(|s| ClientSecret::new(s.expose().to_owned()));
        let client =
            OidcClient::from_provider_metadata(metadata, ClientId::new(self.settings.client_id.clone()), secret)
                .set_redirect_uri(self.redirect.clone());
        let provider = Arc::new(Provider { client, end_session, algorithms, read_at: Instant::now() });
        *cached = Some(provider.clone());
        Ok(provider)
    }

    /// Where to send the browser to sign in, and what to keep until it comes back. To confirm an identity or link
    /// one, the provider is asked to authenticate the person again.
    pub async fn begin(&self, next: &str, purpose: Purpose, now: i64) -> Result<(Url, SsoPending), SsoError> {
        let provider = self.provider().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = provider.client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in self.settings.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if purpose != Purpose::SignIn {
            request = request.add_prompt(CoreAuthPrompt::Login).set_max_age(Duration::ZERO);
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        let pending = SsoPending {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            next: next.to_owned(),
            started_at: now,
            purpose,
        };
        Ok((url, pending))
    }

    /// Checks the provider's answer against the sign-in it belongs to, exchanges the code and verifies the ID token.
    /// An answer whose `state` is not this sign-in's is refused before anything of it is read: a link from elsewhere
    /// cannot cancel a sign-in under way or put its text on the page.
    pub async fn finish(&self, pending: SsoPending, answer: &Answer, now: i64) -> Result<Verified, SsoError> {
        let fresh = now - pending.started_at <= PENDING_TTL_SECS;
        let state_matches = answer.state.as_deref().is_some_and(|s| same(s.as_bytes(), pending.state.as_bytes()));
        if !fresh || !state_matches {
            return Err(SsoError::State);
        }
        if let Some(error) = &answer.error {
            return Err(if error == "access_denied" {
                SsoError::Denied
            } else {
                let text = answer.error_description.as_deref().unwrap_or(error);
                SsoError::Provider(super::clip(text, super::MAX_PROVIDER_TEXT).to_owned())
            });
        }
        let Some(code) = answer.code.as_deref() else {
            return Err(SsoError::State);
        };
        let provider = self.provider().await?;
        let http = |request| Self::send(self.http.clone(), request);
        let tokens = provider
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| SsoError::Unverified)?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier))
            .request_async(&http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) if *r.error() == CoreErrorResponseType::InvalidClient => {
                    SsoError::WrongClient
                }
                RequestTokenError::ServerResponse(r) => {
                    let text = r.error_description().cloned().unwrap_or_else(|| r.error().to_string());
                    SsoError::Provider(super::clip(&text, super::MAX_PROVIDER_TEXT).to_owned())
                }
                RequestTokenError::Request(e) => {
                    tracing::warn!(error = %e, "cannot reach the identity provider's token endpoint");
                    SsoError::Unreachable
                }
                other => {
                    tracing::warn!(error = %other, "the identity provider's token answer cannot be read");
                    SsoError::Unverified
                }
            })?;
        let id_token = tokens.id_token().ok_or(SsoError::Unverified)?;
        let verifier = provider.client.id_token_verifier().set_allowed_algs(provider.algorithms.clone());
        let claims = id_token.claims(&verifier, &Nonce::new(pending.nonce)).map_err(|e| {
            tracing::warn!(error = %e, "an ID token was refused");
            match e {
                openidconnect::ClaimsVerificationError::Expired(_) => SsoError::Clock,
                _ => SsoError::Unverified,
            }
        })?;
        // To confirm or link, the person must have signed in at the provider just now, not in an earlier session of
        // theirs there (a provider may ignore `prompt=login`; `auth_time` says what it did).
        if pending.purpose != Purpose::SignIn {
            let signed_in_at = claims.auth_time().map(|t| t.timestamp());
            if signed_in_at.is_none_or(|at| at < pending.started_at - AUTH_TIME_SKEW_SECS) {
                return Err(SsoError::NotAgain);
            }
        }
        let admin_by_claim = self.settings.role_claim.as_ref().map(|(claim, values)| {
            let held = claims.additional_claims().all.get(claim);
            let holds = |v: &serde_json::Value| v.as_str().is_some_and(|s| values.iter().any(|a| a == s));
            match held {
                Some(serde_json::Value::Array(items)) => items.iter().any(holds),
                Some(v) => holds(v),
                None => false,
            }
        });
        Ok(Verified {
            subject: format!("{} {}", self.settings.issuer, claims.subject().as_str()),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified() == Some(true),
            email_trusted: claims.email_verified().is_none() && self.settings.trust_email,
            given_name: claims.given_name().and_then(|c| c.get(None)).map(|n| n.as_str().to_owned()),
            family_name: claims.family_name().and_then(|c| c.get(None)).map(|n| n.as_str().to_owned()),
            admin_by_claim,
            id_token: id_token.to_string(),
        })
    }

    /// Whether the provider answers with its metadata and keys, and what it makes of the console's client.
    pub async fn check(&self) -> Result<ClientCheck, SsoError> {
        let provider = self.provider().await?;
        let http = |request| Self::send(self.http.clone(), request);
        let Ok(request) = provider.client.exchange_code(AuthorizationCode::new("multi-account-doctor".into())) else {
            return Ok(ClientCheck::Unknown);
        };
        let verifier = PkceCodeVerifier::new(format!("{}{}", kaltura::random_secret(), kaltura::random_secret()));
        Ok(match request.set_pkce_verifier(verifier).request_async(&http).await {
            Err(RequestTokenError::ServerResponse(r)) if *r.error() == CoreErrorResponseType::InvalidClient => {
                ClientCheck::Refused
            }
            Err(RequestTokenError::ServerResponse(r)) if *r.error() == CoreErrorResponseType::InvalidGrant => {
                ClientCheck::Accepted
            }
            _ => ClientCheck::Unknown,
        })
    }

    /// The provider's logout for someone who signed in through it, when it offers one.
    pub async fn logout_url(&self, id_token: &str) -> Option<Url> {
        let provider = self.provider().await.ok()?;
        let endpoint = provider.end_session.clone()?;
        let id_token: OidcIdToken = id_token.parse().ok()?;
        let after = PostLogoutRedirectUrl::from_url(self.after_logout.clone());
        Some(
            LogoutRequest::from(endpoint)
                .set_id_token_hint(&id_token)
                .set_post_logout_redirect_uri(after)
                .http_get_url(),
        )
    }
}

/// What the provider makes of the console's client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCheck {
    Accepted,
    Refused,
    Unknown,
}

/// The provider's answer on the redirect URI.
#[derive(Debug, Default, Deserialize)]
pub struct Answer {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// A new user's names: the provider's, else the email's local part.
fn names(who: &Verified, email: &str) -> (String, String) {
    let local = email.split('@').next().unwrap_or(email).to_owned();
    let first = who.given_name.clone().filter(|n| !n.trim().is_empty()).unwrap_or(local);
    let last = who.family_name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| "(single sign-on)".into());
    (first, last)
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The ID-token signatures accepted: those the provider advertises, less the symmetric ones (HS256 and its kin are
/// signed with the client secret, which is weaker than the provider's own key) unless `allow_hs256`; RS256, which
/// OpenID Connect requires every provider to support, when nothing else is left.
fn accepted_algorithms(advertised: &[CoreJwsSigningAlgorithm], allow_hs256: bool) -> Vec<CoreJwsSigningAlgorithm> {
    let symmetric = |a: &CoreJwsSigningAlgorithm| {
        matches!(
            a,
            CoreJwsSigningAlgorithm::HmacSha256
                | CoreJwsSigningAlgorithm::HmacSha384
                | CoreJwsSigningAlgorithm::HmacSha512
        )
    };
    let accepted: Vec<_> = advertised
        .iter()
        .filter(|a| !symmetric(a) || (allow_hs256 && **a == CoreJwsSigningAlgorithm::HmacSha256))
        .filter(|a| **a != CoreJwsSigningAlgorithm::None)
        .cloned()
        .collect();
    if accepted.is_empty() { vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256] } else { accepted }
}

/// The cookie's purpose, bound into its seal: a value sealed for anything else does not open as a pending sign-in.
const PENDING_CONTEXT: &[u8] = b"sso-pending";

impl Identity {
    /// Where to send the browser to sign in through the provider, and the sealed sign-in under way for its cookie.
    pub async fn sso_begin(&self, next: &str, purpose: Purpose) -> Result<Result<(Url, String), SsoError>, Error> {
        let Some(sso) = self.sso() else { return Ok(Err(SsoError::State)) };
        let (url, pending) = match sso.begin(next, purpose, self.now()).await {
            Ok(begun) => begun,
            Err(e) => return Ok(Err(e)),
        };
        let plain = serde_json::to_vec(&pending).map_err(anyhow::Error::from)?;
        Ok(Ok((url, self.cookie_key().await?.seal(PENDING_CONTEXT, &plain))))
    }

    /// The sign-in under way that a cookie holds, if it opens with this server's key.
    pub async fn sso_pending(&self, cookie: &str) -> Result<Option<SsoPending>, Error> {
        let Ok(plain) = self.cookie_key().await?.open(PENDING_CONTEXT, cookie) else { return Ok(None) };
        Ok(serde_json::from_slice(&plain).ok())
    }

    /// Whether a callback without a sign-in under way from `ip` should be logged: once per address per window, so
    /// anonymous requests cannot fill the log (nothing of theirs is written to the database).
    pub fn note_stray_callback(&self, ip: &str) -> bool {
        self.first_in_window(&[format!("sso stray {}", super::address_key(ip))])
    }

    /// Which console user the verified person is, by these rules:
    /// - by the identity linked to a user;
    /// - else by email, only with `--oidc-link-by-email`, only an email the provider says is verified, and never an
    ///   administrator, a user with a second factor of the console's, a blocked user or one linked to another
    ///   identity; the link is audited;
    /// - else, with a role claim, created at the first sign-in (within the users quota, linked, audited), and kept
    ///   an administrator only while the claim says so.
    pub(super) async fn sso_user(&self, who: &Verified, ip: &str) -> Result<Result<User, Refusal>, Error> {
        let Some(sso) = self.sso() else { return Ok(Err(Refusal::Unknown)) };
        let settings = sso.settings.clone();
        let db = &self.db;
        let email = who.email.as_deref().map(str::trim).filter(|e| users::is_email(e));
        let usable_email = email.filter(|_| who.email_verified || who.email_trusted);
        let mut user = users::find_by_subject(db, &who.subject).await?;
        if user.is_none()
            && let Some(email) = usable_email
            && let Some(existing) = users::find_by_email(db, email).await?
        {
            if !existing.is_active() {
                return Ok(Err(Refusal::Blocked));
            }
            if users::linked_subject(db, existing.id).await?.is_some() {
                return Ok(Err(Refusal::OtherIdentity));
            }
            if !settings.link_by_email || !who.email_verified {
                return Ok(Err(Refusal::NotLinked));
            }
            if existing.role.is_admin() || crate::db::two_factor::enrolled(db, existing.id).await?.is_some() {
                return Ok(Err(Refusal::LinkRefused));
            }
            // Linked only while unlinked, and only while the rules above still hold: of two identities with the same
            // email the first keeps it, and a user made an administrator meanwhile is not linked.
            if !users::link_subject_by_email(db, existing.id, &who.subject).await? {
                return Ok(Err(Refusal::OtherIdentity));
            }
            let details =
                format!("linked by verified email to {}", super::clip(&who.subject, super::MAX_PROVIDER_TEXT));
            self.record(&existing.email, ip, AuditAction::UserSsoLink, &existing.email, AuditOutcome::Ok, &details)
                .await?;
            user = users::get(db, existing.id).await?;
        }
        match (user, who.admin_by_claim) {
            (Some(u), _) if !u.is_active() => Ok(Err(Refusal::Blocked)),
            (Some(u), Some(false)) => {
                // The claim was taken away: so is the access, and the sessions made under it.
                if u.role.is_admin() {
                    self.role_by_claim(&u, users::Role::Manager, "no longer grants access", ip).await?;
                }
                Ok(Err(Refusal::NotGranted))
            }
            (Some(u), Some(true)) if !u.role.is_admin() => {
                self.role_by_claim(&u, users::Role::PublisherAdministrator, "grants access", ip).await?;
                Ok(Ok(users::get(db, u.id).await?.unwrap_or(u)))
            }
            (Some(u), _) => Ok(Ok(u)),
            (None, Some(true)) if users::subject_removed(db, &who.subject).await? => Ok(Err(Refusal::Removed)),
            (None, Some(true)) => {
                let Some(email) = usable_email else { return Ok(Err(Refusal::NoVerifiedEmail)) };
                self.create_from_claim(who, email, ip).await
            }
            (None, Some(false)) => Ok(Err(Refusal::NotGranted)),
            (None, None) if email.is_none() || usable_email.is_none() => Ok(Err(Refusal::NoVerifiedEmail)),
            (None, None) => Ok(Err(Refusal::Unknown)),
        }
    }

    /// Links the signed-in user `user_id` to the identity the provider just authenticated again, while both are
    /// unlinked; audited.
    pub(super) async fn link_signed_in(
        &self,
        user_id: i64,
        who: &Verified,
        ip: &str,
    ) -> Result<Result<User, Refusal>, Error> {
        let db = &self.db;
        let Some(user) = users::get(db, user_id).await?.filter(User::is_active) else {
            return Ok(Err(Refusal::Blocked));
        };
        if let Some(linked) = users::find_by_subject(db, &who.subject).await? {
            return Ok(if linked.id == user.id { Ok(user) } else { Err(Refusal::IdentityTaken) });
        }
        if !users::link_subject(db, user.id, &who.subject).await? {
            return Ok(Err(Refusal::OtherIdentity));
        }
        let details =
            format!("linked by the signed-in user to {}", super::clip(&who.subject, super::MAX_PROVIDER_TEXT));
        self.record(&user.email, ip, AuditAction::UserSsoLink, &user.email, AuditOutcome::Ok, &details).await?;
        Ok(Ok(user))
    }

    /// Whether the user is linked to an identity at the provider.
    pub async fn is_linked(&self, user_id: i64) -> Result<bool, Error> {
        Ok(users::linked_subject(&self.db, user_id).await?.is_some())
    }

    /// Gives `user` the role the provider's claim says, under the last-administrator rule; audited either way.
    async fn role_by_claim(&self, user: &User, role: users::Role, why: &str, ip: &str) -> Result<(), Error> {
        let change = users::set_role(&self.db, user.id, role).await?;
        let details = format!("{} → {} (the provider's role claim {why})", user.role.label(), role.label());
        let result = match change {
            users::Change::Done => AuditOutcome::Ok,
            users::Change::LastAdmin | users::Change::NotFound => AuditOutcome::Refused,
        };
        Ok(self.record(&user.email, ip, AuditAction::UserRole, &user.email, result, &details).await?)
    }

    /// A Publisher Administrator made from the role claim, through the same validation and users quota as the
    /// Users page, linked to the identity; both audited.
    async fn create_from_claim(&self, who: &Verified, email: &str, ip: &str) -> Result<Result<User, Refusal>, Error> {
        let (first, last) = names(who, email);
        // A password nobody knows: this user signs in through the provider.
        let input = super::NewUserInput {
            email: email.to_owned(),
            first_name: super::users::clip_name(&first),
            last_name: super::users::clip_name(&last),
            publisher_user_id: String::new(),
            role: users::Role::PublisherAdministrator.key().to_owned(),
            password: super::password::generate(),
        };
        let subject = super::clip(&who.subject, super::MAX_PROVIDER_TEXT);
        let details = format!("created at the first single sign-on, by the provider's role claim ({subject})");
        let id = match self.create_user(&input, email, ip, &details).await? {
            Ok(id) => id,
            Err(super::users::Rejected::Quota { .. }) => return Ok(Err(Refusal::QuotaReached)),
            Err(super::users::Rejected::Fields(errors)) => {
                tracing::warn!(?errors, "a user from single sign-on does not pass the users' validation");
                return Ok(Err(Refusal::NotLinked));
            }
        };
        users::link_subject(&self.db, id, &who.subject).await?;
        let details = format!("linked at creation to {}", super::clip(&who.subject, super::MAX_PROVIDER_TEXT));
        self.record(email, ip, AuditAction::UserSsoLink, email, AuditOutcome::Ok, &details).await?;
        Ok(users::get(&self.db, id).await?.ok_or(Refusal::Unknown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_asymmetric_signatures_are_accepted_unless_hs256_is_allowed() {
        use CoreJwsSigningAlgorithm::{
            EcdsaP256Sha256, HmacSha256, HmacSha512, None as Unsigned, RsaSsaPkcs1V15Sha256,
        };
        let advertised = [RsaSsaPkcs1V15Sha256, HmacSha256, HmacSha512, EcdsaP256Sha256, Unsigned];
        assert_eq!(accepted_algorithms(&advertised, false), vec![RsaSsaPkcs1V15Sha256, EcdsaP256Sha256]);
        assert_eq!(accepted_algorithms(&advertised, true), vec![RsaSsaPkcs1V15Sha256, HmacSha256, EcdsaP256Sha256]);
        assert_eq!(accepted_algorithms(&[HmacSha256], false), vec![RsaSsaPkcs1V15Sha256]);
    }
}
