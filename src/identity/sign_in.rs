//! Signing in as typed steps: the password, then for a user with a second factor a code (within five minutes, in the
//! same browser session, at most three wrong ones), or the provider's answer for single sign-on. Each step is one
//! [`SignIn`] (the single sign-on finish an [`SsoSignIn`]). Whatever the path, the lock check, the failure count and
//! the lock-out audit happen in the gate (`throttle`), and a sign-in's side effects (last sign-in, forgiven failures,
//! the audit entry) in [`Identity::signed_in`].

use serde::{Deserialize, Serialize};

use super::sso::{self, Answer, Purpose, SsoError, SsoPending};
use super::two_factor::{CheckError, Checked};
use super::{Error, Identity, MAX_PROVIDER_TEXT, clip, password};
use crate::config::oidc::LocalLogin;
use crate::db::audit::{AuditAction, Outcome};
use crate::db::throttle::Kind;
use crate::db::users::{self, User};

/// How long the code step waits after the password.
pub const PENDING_SECS: i64 = 5 * 60;
/// Wrong codes after which a sign-in waiting for its code ends, and the password is asked again.
pub const WRONG_CODES_PER_SIGN_IN: u32 = 3;

/// A correct password waiting for its code: whose, under which session generation, since when, where to go next,
/// and how many wrong codes it has had.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingCode {
    pub user_id: i64,
    generation: i64,
    at: i64,
    pub next: String,
    #[serde(default)]
    wrong: u32,
}

/// What one step of signing in came to.
#[derive(Debug)]
pub enum SignIn {
    /// Signed in: last sign-in noted, failures forgiven, audited. The caller starts the session. With a recovery
    /// code, how many remain (the user should make new ones).
    Done {
        user: Box<User>,
        recovery_codes_left: Option<i64>,
    },
    /// The password was right; the code is asked next.
    NeedsCode(PendingCode),
    /// Refused before anything was checked: locked for this many seconds more.
    Locked {
        secs: i64,
    },
    /// The password or code was wrong. `locked`: the lock-out this failure started, in seconds; `ended`: the sign-in
    /// waiting for a code is over, and the password is asked again.
    Wrong {
        locked: Option<i64>,
        ended: bool,
    },
    Refused(Refusal),
    /// The second factor cannot be checked: the server's key is missing or wrong.
    CannotCheck,
    /// Every hashing slot stayed busy.
    Busy,
}

/// Why a sign-in was refused without anything counted against anyone.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Longer than any account's email or password: refused before anything is written.
    #[error("Wrong email or password.")]
    TooLong,
    #[error("Passwords are turned off here: sign in with {0}.")]
    PasswordsOff(String),
    #[error("Only administrators sign in with a password here: sign in with {0}.")]
    OnlyAdmins(String),
    /// The sign-in waiting for its code is over (too old, the user's access changed, or their second factor was
    /// locked from elsewhere).
    #[error("Your sign-in has expired: enter your password again.")]
    Expired,
    /// The user's second factor was turned off meanwhile: the password alone is asked again.
    #[error("Your sign-in has expired: enter your password again.")]
    CodeNotNeeded,
    #[error(transparent)]
    Sso(#[from] SsoError),
    #[error(transparent)]
    NotAllowed(#[from] sso::Refusal),
}

impl Identity {
    /// The password step.
    pub async fn password_step(&self, email: &str, given: String, ip: &str, next: &str) -> Result<SignIn, Error> {
        let email = email.trim();
        let sso_name = self.sso().map_or("single sign-on", |s| s.name()).to_owned();
        if self.local_login() == LocalLogin::None {
            return Ok(SignIn::Refused(Refusal::PasswordsOff(sso_name)));
        }
        // No account has such an email or password: refused before anything is written.
        if email.len() > users::MAX_EMAIL || given.len() > password::MAX_LENGTH {
            return Ok(SignIn::Refused(Refusal::TooLong));
        }
        let gate = match self.gate(email, ip).await? {
            Ok(gate) => gate,
            Err(secs) => return Ok(SignIn::Locked { secs }),
        };
        let Ok(slot) = password::slot().await else { return Ok(SignIn::Busy) };
        // Attempts that waited for a slot meanwhile may have locked this email or address: asked again before hashing.
        if let Some(secs) = gate.locked_for().await? {
            return Ok(SignIn::Locked { secs });
        }
        let user = users::find_by_email(&self.db, email).await?;
        let verified = slot.verify(given, user.as_ref().map(|u| u.password_hash.clone())).await?;
        let user = match user {
            Some(u) if verified && u.is_active() => u,
            other => {
                let why = match other {
                    None => "unknown email",
                    Some(u) if !u.is_active() => "user is blocked",
                    Some(_) => "wrong password",
                };
                let failed = gate.fail(Kind::Password, AuditAction::LoginFailure, why).await?;
                return Ok(SignIn::Wrong { locked: failed.locked, ended: false });
            }
        };
        if self.local_login() == LocalLogin::OnlyAdmins && !user.role.is_admin() {
            let why = "passwords are for administrators only";
            self.record(email, ip, AuditAction::LoginFailure, email, Outcome::Refused, why).await?;
            return Ok(SignIn::Refused(Refusal::OnlyAdmins(sso_name)));
        }
        if crate::db::two_factor::enrolled(&self.db, user.id).await?.is_some() {
            let pending = PendingCode {
                user_id: user.id,
                generation: user.session_generation,
                at: self.now(),
                next: next.into(),
                wrong: 0,
            };
            return Ok(SignIn::NeedsCode(pending));
        }
        self.signed_in(&user, ip, AuditAction::Login, "").await?;
        Ok(SignIn::Done { user: Box::new(user), recovery_codes_left: None })
    }

    /// The user a sign-in waiting for its code belongs to, if it is still good: within five minutes, fewer than
    /// three wrong codes, the user active and their access unchanged since the password, and no lock-out of their
    /// second factor since.
    pub async fn pending_user(&self, pending: &PendingCode) -> Result<Option<User>, Error> {
        let now = self.now();
        if now - pending.at > PENDING_SECS || pending.wrong >= WRONG_CODES_PER_SIGN_IN {
            return Ok(None);
        }
        let Some(user) = users::get(&self.db, pending.user_id).await? else { return Ok(None) };
        if !user.is_active() || user.session_generation != pending.generation {
            return Ok(None);
        }
        let locked_since = self.last_second_factor_lockout(user.id).await?.is_some_and(|at| at >= pending.at);
        Ok((!locked_since).then_some(user))
    }

    /// The code step. A wrong code is counted on `pending` too: the third ends it.
    pub async fn code_step(&self, pending: &mut PendingCode, code: &str, ip: &str) -> Result<SignIn, Error> {
        let Some(user) = self.pending_user(pending).await? else {
            return Ok(SignIn::Refused(Refusal::Expired));
        };
        let _turn = self.code_turn(user.id).await;
        let gate = match self.gate(&user.email, ip).await? {
            Ok(gate) => gate,
            Err(secs) => return Ok(SignIn::Locked { secs }),
        };
        let why = match self.check_code(user.id, code).await {
            Ok(Checked::Code) => {
                self.signed_in(&user, ip, AuditAction::Login, "with an authenticator code").await?;
                return Ok(SignIn::Done { user: Box::new(user), recovery_codes_left: None });
            }
            Ok(Checked::RecoveryCode { left }) => {
                let details = format!("with a recovery code ({left} left)");
                self.signed_in(&user, ip, AuditAction::Login, &details).await?;
                return Ok(SignIn::Done { user: Box::new(user), recovery_codes_left: Some(left) });
            }
            Ok(Checked::NotEnrolled) => return Ok(SignIn::Refused(Refusal::CodeNotNeeded)),
            Ok(Checked::Replayed) => "code already used",
            Ok(Checked::Wrong) => "wrong code",
            Err(CheckError::Db(e)) => return Err(e.into()),
            Err(e @ (CheckError::NoKey | CheckError::Undecryptable(_))) => {
                tracing::error!(user = user.email, error = %e, "cannot check a two-factor code");
                return Ok(SignIn::CannotCheck);
            }
        };
        let failed = gate.fail(Kind::Code, AuditAction::LoginCodeFailure, why).await?;
        pending.wrong += 1;
        let ended = failed.codes_locked || pending.wrong >= WRONG_CODES_PER_SIGN_IN;
        Ok(SignIn::Wrong { locked: failed.locked, ended })
    }

    /// Checks the provider's answer against the sign-in it belongs to, then decides who the verified person is
    /// among the console's users (and links, creates or refuses them by the rules of [`Identity::sso_user`]).
    ///
    /// `session` is who the browser's session is signed in as, and whether their identity was confirmed a moment ago:
    /// linking is for that user only, with a confirmed identity; confirming must come back as that user.
    pub async fn sso_step(
        &self,
        pending: SsoPending,
        answer: &Answer,
        ip: &str,
        session: SessionUser,
    ) -> Result<SsoSignIn, Error> {
        let Some(sso) = self.sso() else { return Ok(SsoSignIn::Refused(SsoError::State.into())) };
        let purpose = pending.purpose;
        if let Purpose::Link(user_id) = purpose
            && (session.user_id != Some(user_id) || !session.confirmed)
        {
            return Ok(SsoSignIn::Refused(sso::Refusal::LinkNotConfirmed.into()));
        }
        let who = match sso.finish(pending, answer, self.now()).await {
            Ok(who) => who,
            Err(e) => {
                // Nobody is known yet, and anyone can make this happen: logged once per address per window.
                if self.first_in_window(&[format!("sso failed {}", super::address_key(ip))]) {
                    let details = format!("single sign-on failed: {e}");
                    let details = clip(&details, MAX_PROVIDER_TEXT);
                    self.record(UNKNOWN, ip, AuditAction::LoginSsoRefused, UNKNOWN, Outcome::Refused, details).await?;
                }
                return Ok(SsoSignIn::Refused(e.into()));
            }
        };
        let found = match purpose {
            Purpose::Link(user_id) => {
                let linked = self.link_signed_in(user_id, &who, ip).await?;
                if linked.is_ok() {
                    return Ok(SsoSignIn::Linked);
                }
                linked
            }
            Purpose::SignIn | Purpose::Confirm => self.sso_user(&who, ip).await?,
        };
        let user = match found {
            Ok(user) => user,
            Err(why) => {
                let shown = who.email.clone().unwrap_or_else(|| who.subject.clone());
                let details = format!("{why} (subject {})", who.subject);
                let (shown, details) = (clip(&shown, MAX_PROVIDER_TEXT), clip(&details, MAX_PROVIDER_TEXT));
                self.record(shown, ip, AuditAction::LoginSsoRefused, shown, Outcome::Refused, details).await?;
                return Ok(SsoSignIn::Refused(why.into()));
            }
        };
        if purpose == Purpose::Confirm && session.user_id != Some(user.id) {
            return Ok(SsoSignIn::Refused(sso::Refusal::SomeoneElse.into()));
        }
        let details = format!("subject {}", clip(&who.subject, MAX_PROVIDER_TEXT));
        self.signed_in(&user, ip, AuditAction::LoginSso, &details).await?;
        Ok(SsoSignIn::Done { user: Box::new(user), id_token: who.id_token, confirmed: purpose == Purpose::Confirm })
    }

    /// What every successful sign-in does, whichever way it came: the last sign-in noted, the email's failures
    /// forgiven, one audit entry.
    async fn signed_in(&self, user: &User, ip: &str, action: AuditAction, details: &str) -> Result<(), Error> {
        users::touch_last_login(&self.db, user.id, self.now()).await?;
        crate::db::throttle::clear_email(&self.db, &user.email).await?;
        self.record(&user.email, ip, action, &user.email, Outcome::Ok, details).await?;
        Ok(())
    }

    /// Audits a sign-out (the caller ends the session).
    pub async fn signed_out(&self, email: &str, ip: &str) -> Result<(), Error> {
        Ok(self.record(email, ip, AuditAction::Logout, email, Outcome::Ok, "").await?)
    }
}

/// Who the browser's session is signed in as, as the single sign-on finish needs it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionUser {
    pub user_id: Option<i64>,
    /// Their identity was confirmed within the last few minutes.
    pub confirmed: bool,
}

/// What the single sign-on finish came to.
#[derive(Debug)]
pub enum SsoSignIn {
    /// Signed in, as [`SignIn::Done`]; the ID token ends the session at the provider; `confirmed`: the provider
    /// was asked to authenticate them again, which confirms their identity for sensitive changes.
    Done {
        user: Box<User>,
        id_token: String,
        confirmed: bool,
    },
    /// The signed-in user's console user is now linked to their identity at the provider (their session goes on).
    Linked,
    Refused(Refusal),
}

/// Who a single sign-on that failed before the provider named anyone is logged as.
const UNKNOWN: &str = "unknown";
