//! **The identity service**: who may sign in and how, and what the console's users may change about each other.
//! On the model of the accounts service: it checks the rules, talks to the database (and, for the users quota, to
//! Kaltura through the accounts service), writes the audit entry and returns a typed outcome; the web handlers and
//! the `user` command only extract, call it and show the outcome.
//!
//! - `sign_in`: the password step, the code step and the single sign-on finish, each one [`SignIn`].
//! - `step_up`: confirming one's identity again for a sensitive change ([`StepUp`]).
//! - `throttle`: the lock-out policy, and the one gate every typed password or code passes (lock check, failure
//!   counted, lock-out audited once).
//! - `two_factor`: enrolling, turning off, new recovery codes and resets, behind one code check.
//! - `users`: one validation and one set of rules for the Users page, the command line and single sign-on.
//! - `sso`: the OpenID provider, and when a provider identity is linked to a console user.
//! - `password`, `totp`: hashing with argon2id; TOTP codes, recovery codes and QR codes.

pub mod password;
mod quiet;
mod sign_in;
pub mod sso;
mod step_up;
mod throttle;
pub mod totp;
mod two_factor;
pub mod users;

pub use sign_in::{PendingCode, Refusal, SessionUser, SignIn, SsoSignIn};
pub use step_up::StepUp;
pub use throttle::{address_key, locked_message};
pub use two_factor::{CodeChange, Enrolment, TwoFactorView};
pub use users::{
    Actor, Created, DEMO_ADMIN, FieldErrors, NewUserInput, ParentAccess, ParentsOutcome, UserChange, UserOutcome,
};

use std::sync::Arc;
use std::time::Duration;

use crate::accounts::Accounts;
use crate::clock::Clock;
use crate::config::oidc::LocalLogin;
use crate::db::audit::{self, AuditAction, Entry, Outcome};
use crate::db::{self, Pool};
use crate::seal::SecretKey;

/// How long a confirmation of one's identity opens the way to sensitive changes.
pub const STEP_UP_SECS: i64 = 5 * 60;

/// Why the service could not answer at all (the database, hashing); every refusal is an outcome instead.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What the service is built from.
#[derive(Clone, Default)]
pub struct Settings {
    pub local_login: LocalLogin,
    pub require_2fa: bool,
    pub secret_key: Option<SecretKey>,
    pub sso: Option<sso::Sso>,
}

/// The identity service. Cheap to clone.
#[derive(Clone)]
pub struct Identity {
    db: Pool,
    clock: Clock,
    settings: Settings,
    /// Asks Kaltura for the users quota; the command line has none, and adds users without it.
    accounts: Option<Accounts>,
    /// What is logged once per key and window (`quiet`).
    quiet: Arc<quiet::Quiet>,
    /// One code check at a time per user in this process (`two_factor`), so parallel guesses queue.
    code_turns: Arc<[tokio::sync::Mutex<()>; CODE_TURNS]>,
    /// The key for the single sign-on cookie, once read.
    cookie_key: Arc<tokio::sync::OnceCell<SecretKey>>,
}

/// Stripes of the per-user code-check turn: users whose ids fall in one stripe take turns, which costs nothing
/// noticeable (a check is a few milliseconds).
const CODE_TURNS: usize = 64;

/// How long the users quota is waited for before it counts as unknown.
const QUOTA_TIMEOUT: Duration = Duration::from_secs(5);

impl Identity {
    pub(crate) fn new(db: Pool, clock: Clock, settings: Settings, accounts: Option<Accounts>) -> Identity {
        Identity {
            db,
            clock,
            settings,
            accounts,
            quiet: Arc::default(),
            code_turns: Arc::new(std::array::from_fn(|_| tokio::sync::Mutex::new(()))),
            cookie_key: Arc::default(),
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn local_login(&self) -> LocalLogin {
        self.settings.local_login
    }

    pub fn require_2fa(&self) -> bool {
        self.settings.require_2fa
    }

    pub fn sso(&self) -> Option<&sso::Sso> {
        self.settings.sso.as_ref()
    }

    pub fn secret_key(&self) -> Option<&SecretKey> {
        self.settings.secret_key.as_ref()
    }

    /// The parent's `adminLoginUsersQuota`, when Kaltura answers in time.
    pub async fn users_quota(&self) -> Option<i64> {
        let accounts = self.accounts.as_ref()?;
        match tokio::time::timeout(QUOTA_TIMEOUT, accounts.login_users_quota()).await {
            Ok(Ok(limit)) => limit,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read adminLoginUsersQuota from Kaltura");
                None
            }
            Err(_) => {
                tracing::warn!("Kaltura did not answer partner.getInfo in time; the user quota is unknown");
                None
            }
        }
    }

    /// Waits for the user's turn to have a code checked: a second request for the same user waits until the first
    /// has been counted, so parallel guesses cannot pass a lock-out that the earlier ones are about to start.
    async fn code_turn(&self, user_id: i64) -> tokio::sync::MutexGuard<'_, ()> {
        self.code_turns[user_id.rem_euclid(CODE_TURNS as i64) as usize].lock().await
    }

    /// True the first time in a window that one of `keys` is noted (see `quiet`).
    fn first_in_window(&self, keys: &[String]) -> bool {
        self.quiet.first(keys, self.now())
    }

    /// Writes one audit entry, at the service's time.
    async fn audit(&self, entry: Entry<'_>) -> Result<(), sqlx::Error> {
        audit::record(&self.db, self.now(), entry).await
    }

    /// An entry about `target`, written by `actor` from `ip`.
    async fn record(
        &self,
        actor: &str,
        ip: &str,
        action: AuditAction,
        target: &str,
        result: Outcome,
        details: &str,
    ) -> Result<(), sqlx::Error> {
        self.audit(Entry { actor, ip, action, target, result, details }).await
    }

    /// The key that seals what the console keeps in a browser's cookie (a single sign-on under way): the server's
    /// key when one is set, else a key the console made once and keeps in the database, so every replica shares it.
    pub async fn cookie_key(&self) -> Result<SecretKey, Error> {
        if let Some(key) = &self.settings.secret_key {
            return Ok(key.clone());
        }
        let key = self
            .cookie_key
            .get_or_try_init(|| async {
                let (fresh, _) = SecretKey::generate();
                let kept = db::keys::get_or_create(&self.db, "cookie", &fresh).await?;
                Ok::<_, Error>(SecretKey::from_bytes(&kept))
            })
            .await?;
        Ok(key.clone())
    }
}

/// The most of a provider's own text (an error description, a subject) kept in the audit log.
pub const MAX_PROVIDER_TEXT: usize = 200;

/// At most `max` bytes of `s`, cut at a character boundary.
pub fn clip(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// What a page says when authenticator codes cannot be checked (the server's key is missing or wrong).
pub const CANNOT_CHECK: &str = "The server cannot check authenticator codes right now: its secret key is missing or \
                                wrong. Use a recovery code, or ask your administrator.";
/// What a page says when every hashing slot stayed busy.
pub const BUSY: &str = "Too many sign-ins are under way at once. Please try again in a moment.";
