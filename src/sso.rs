//! Single sign-on through the organisation's OpenID provider: the authorization code flow with PKCE, `state` and
//! `nonce` (the `openidconnect` crate builds the requests and verifies the ID token's signature, issuer, audience,
//! expiry and nonce with the provider's keys), then who the verified person is among the console's users.

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

use crate::config::oidc::Oidc;
use crate::db::{self, users};

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
/// The most read of one answer of the provider.
const MAX_ANSWER: usize = 1024 * 1024;
/// How long one request to the provider may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The provider as discovered: the client built from its metadata, and where it ends sessions.
struct Provider {
    client: OidcClient,
    end_session: Option<EndSessionUrl>,
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

/// A sign-in under way: kept in the session between the redirect to the provider and its answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    state: String,
    nonce: String,
    verifier: String,
    pub next: String,
    pub started_at: i64,
}

/// Who the provider says signed in, from a verified ID token.
#[derive(Debug, Clone)]
pub struct Identity {
    /// `{issuer} {sub}`: what a console user is linked to.
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
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
}

/// What became of a verified person.
#[derive(Debug)]
pub enum Outcome {
    SignedIn(users::User),
    /// Created from the role claim at this first sign-in.
    Created(users::User),
    Refused(Refusal),
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
        let secret = self.settings.client_secret.as_ref().map(|s| ClientSecret::new(s.expose().to_owned()));
        let client =
            OidcClient::from_provider_metadata(metadata, ClientId::new(self.settings.client_id.clone()), secret)
                .set_redirect_uri(self.redirect.clone());
        let provider = Arc::new(Provider { client, end_session, read_at: Instant::now() });
        *cached = Some(provider.clone());
        Ok(provider)
    }

    /// Where to send the browser to sign in, and what to keep until it comes back.
    pub async fn begin(&self, next: &str, now: i64) -> Result<(Url, Pending), SsoError> {
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
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        let pending = Pending {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            next: next.to_owned(),
            started_at: now,
        };
        Ok((url, pending))
    }

    /// Checks the provider's answer against the sign-in it belongs to, exchanges the code and verifies the ID token.
    pub async fn finish(&self, pending: Pending, answer: &Answer, now: i64) -> Result<Identity, SsoError> {
        if let Some(error) = &answer.error {
            return Err(if error == "access_denied" {
                SsoError::Denied
            } else {
                SsoError::Provider(answer.error_description.clone().unwrap_or_else(|| error.clone()))
            });
        }
        let fresh = now - pending.started_at <= PENDING_TTL_SECS;
        let state_matches = answer.state.as_deref().is_some_and(|s| same(s.as_bytes(), pending.state.as_bytes()));
        let Some(code) = answer.code.as_deref().filter(|_| fresh && state_matches) else {
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
                    SsoError::Provider(r.error_description().cloned().unwrap_or_else(|| r.error().to_string()))
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
        let claims =
            id_token.claims(&provider.client.id_token_verifier(), &Nonce::new(pending.nonce)).map_err(|e| {
                tracing::warn!(error = %e, "an ID token was refused");
                match e {
                    openidconnect::ClaimsVerificationError::Expired(_) => SsoError::Clock,
                    _ => SsoError::Unverified,
                }
            })?;
        let admin_by_claim = self.settings.role_claim.as_ref().map(|(claim, values)| {
            let held = claims.additional_claims().all.get(claim);
            let holds = |v: &serde_json::Value| v.as_str().is_some_and(|s| values.iter().any(|a| a == s));
            match held {
                Some(serde_json::Value::Array(items)) => items.iter().any(holds),
                Some(v) => holds(v),
                None => false,
            }
        });
        Ok(Identity {
            subject: format!("{} {}", self.settings.issuer, claims.subject().as_str()),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: match claims.email_verified() {
                Some(verified) => verified,
                None => self.settings.trust_email,
            },
            given_name: claims.given_name().and_then(|c| c.get(None)).map(|n| n.as_str().to_owned()),
            family_name: claims.family_name().and_then(|c| c.get(None)).map(|n| n.as_str().to_owned()),
            admin_by_claim,
            id_token: id_token.to_string(),
        })
    }

    /// Which console user the verified person is: by the linked subject, else by their verified email (then linked);
    /// with a role claim configured, created at their first sign-in, and kept an administrator only while the claim
    /// says so.
    pub async fn user_for(&self, pool: &db::Pool, who: &Identity, now: i64) -> anyhow::Result<Outcome> {
        let email = who.email.as_deref().filter(|_| who.email_verified).map(str::trim).filter(|e| users::is_email(e));
        let mut user = users::find_by_subject(pool, &who.subject).await?;
        if user.is_none()
            && let Some(email) = email
        {
            user = users::find_by_email(pool, email).await?;
            if let Some(u) = &user
                && !users::link_subject(pool, u.id, &who.subject).await?
            {
                return Ok(Outcome::Refused(Refusal::OtherIdentity));
            }
        }
        match (user, who.admin_by_claim) {
            (Some(u), _) if !u.is_active() => Ok(Outcome::Refused(Refusal::Blocked)),
            (Some(u), Some(false)) => {
                // The claim was taken away: so is the access, and the sessions made under it.
                if u.role.is_admin() {
                    users::set_role(pool, u.id, users::Role::Manager).await?;
                }
                Ok(Outcome::Refused(Refusal::NotGranted))
            }
            (Some(u), Some(true)) if !u.role.is_admin() => {
                users::set_role(pool, u.id, users::Role::PublisherAdministrator).await?;
                Ok(Outcome::SignedIn(users::get(pool, u.id).await?.unwrap_or(u)))
            }
            (Some(u), _) => Ok(Outcome::SignedIn(u)),
            (None, Some(true)) if users::subject_removed(pool, &who.subject).await? => {
                Ok(Outcome::Refused(Refusal::Removed))
            }
            (None, Some(true)) => {
                let Some(email) = email else { return Ok(Outcome::Refused(Refusal::NoVerifiedEmail)) };
                // A password nobody knows: this user signs in through the provider.
                let hash = crate::password::hash(crate::password::generate()).await?;
                let (first, last) = names(who, email);
                let new = users::NewUser {
                    email,
                    first_name: &first,
                    last_name: &last,
                    publisher_user_id: None,
                    role: users::Role::PublisherAdministrator,
                    password_hash: &hash,
                };
                let id = match users::add(pool, &new, None, now).await {
                    Ok(id) => id,
                    Err(users::AddError::Db(e)) => return Err(e.into()),
                    Err(_) => return Ok(Outcome::Refused(Refusal::OtherIdentity)),
                };
                users::link_subject(pool, id, &who.subject).await?;
                Ok(users::get(pool, id).await?.map_or(Outcome::Refused(Refusal::Unknown), Outcome::Created))
            }
            (None, Some(false)) => Ok(Outcome::Refused(Refusal::NotGranted)),
            (None, None) if email.is_none() => Ok(Outcome::Refused(Refusal::NoVerifiedEmail)),
            (None, None) => Ok(Outcome::Refused(Refusal::Unknown)),
        }
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
fn names(who: &Identity, email: &str) -> (String, String) {
    let local = email.split('@').next().unwrap_or(email).to_owned();
    let first = who.given_name.clone().filter(|n| !n.trim().is_empty()).unwrap_or(local);
    let last = who.family_name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| "(single sign-on)".into());
    (first, last)
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}
