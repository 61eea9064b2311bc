//! A user's own second factor: setting it up (a new secret, sealed, waits in their session until a code confirms
//! it), turning it off and making new recovery codes (each for a current code, through the sign-in gate), and an
//! administrator's reset. One code check, [`Identity::check_code`], serves these and the sign-in.

use super::totp::{Code, RecoveryCode, Secret};
use super::{Error, Identity};
use crate::db::audit::{AuditAction, Outcome};
use crate::db::throttle::Kind;
use crate::seal::Undecryptable;

/// How a code given for a user turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Checked {
    /// Their authenticator's code, now used.
    Code,
    /// One of their recovery codes, now used; `left` are still unused.
    RecoveryCode {
        left: i64,
    },
    /// Their authenticator's code of a step already used: a replay.
    Replayed,
    Wrong,
    /// They have no second factor (it was turned off or reset meanwhile).
    NotEnrolled,
}

/// Why a code could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub(super) enum CheckError {
    #[error("no MA_SECRET_KEY is set, so the two-factor secret cannot be read")]
    NoKey,
    #[error("the two-factor secret cannot be decrypted with this MA_SECRET_KEY")]
    Undecryptable(#[from] Undecryptable),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// What the user's own two-factor page shows.
pub enum TwoFactorView {
    /// The server has no key to seal secrets with.
    NoKey,
    Off,
    SettingUp {
        qr_svg: String,
        secret: String,
    },
    On {
        codes_left: i64,
    },
}

/// What confirming a new second factor came to.
pub enum Enrolment {
    /// On; the recovery codes, to show this once; the session generation the user's other sessions ended at.
    Done { codes: Vec<String>, generation: i64 },
    /// Not the code of the secret being set up.
    WrongCode,
    /// Nothing is being set up (or it is already on, or there is no key).
    NotPending,
}

/// What a change to an enrolled second factor that needs a code came to.
pub enum CodeChange {
    /// Done; new recovery codes to show once, when that was the change.
    Done(Option<Vec<String>>),
    /// They have no second factor (any more).
    NotEnrolled,
    Locked {
        secs: i64,
    },
    Wrong {
        locked: Option<i64>,
    },
    CannotCheck,
}

/// The purpose a secret being set up is sealed for, with its user's id.
fn setting_up_context(user_id: i64) -> Vec<u8> {
    format!("two-factor set-up {user_id}").into_bytes()
}

impl Identity {
    /// Checks `input` (an authenticator code or a recovery code) for the user, and uses it up if it is good: an
    /// authenticator code's step is recorded as the last one accepted, a recovery code is marked used. A recovery code
    /// needs no key, so it still works when the key is missing or wrong.
    pub(super) async fn check_code(&self, user_id: i64, input: &str) -> Result<Checked, CheckError> {
        let db = &self.db;
        let Some(enrolled) = crate::db::two_factor::enrolled(db, user_id).await? else {
            return Ok(Checked::NotEnrolled);
        };
        match Code::parse(input) {
            Code::Totp(code) => {
                let key = self.secret_key().ok_or(CheckError::NoKey)?;
                let secret = Secret::open(key, user_id, &enrolled.secret)?;
                let now = self.now();
                if let Some(step) = secret.matching_step(&code, now, enrolled.last_step) {
                    // Another request may have used the same step since it was read.
                    let fresh = crate::db::two_factor::accept_step(db, user_id, step).await?;
                    return Ok(if fresh { Checked::Code } else { Checked::Replayed });
                }
                let replayed = enrolled.last_step.is_some() && secret.matching_step(&code, now, None).is_some();
                Ok(if replayed { Checked::Replayed } else { Checked::Wrong })
            }
            Code::Recovery(code) => {
                if crate::db::two_factor::use_recovery_code(db, user_id, &code.hash(), self.now()).await? {
                    let left = crate::db::two_factor::recovery_codes_left(db, user_id).await?;
                    Ok(Checked::RecoveryCode { left })
                } else {
                    Ok(Checked::Wrong)
                }
            }
            Code::Malformed => Ok(Checked::Wrong),
        }
    }

    /// A new secret for the user to set up, sealed for their session; `None` without a key.
    pub fn new_secret(&self, user_id: i64) -> Option<String> {
        let key = self.secret_key()?;
        Some(key.seal(&setting_up_context(user_id), Secret::generate().base32().as_bytes()))
    }

    /// The secret a session holds for the user, if it opens.
    fn secret_being_set_up(&self, user_id: i64, sealed: &str) -> Option<Secret> {
        let plain = self.secret_key()?.open(&setting_up_context(user_id), sealed).ok()?;
        Secret::from_base32(&String::from_utf8(plain).ok()?)
    }

    /// What the user's two-factor page shows: on, being set up (from the session's sealed secret), off, or no key.
    pub async fn two_factor_view(
        &self,
        user_id: i64,
        email: &str,
        setting_up: Option<&str>,
    ) -> Result<TwoFactorView, Error> {
        if crate::db::two_factor::enrolled(&self.db, user_id).await?.is_some() {
            let codes_left = crate::db::two_factor::recovery_codes_left(&self.db, user_id).await?;
            return Ok(TwoFactorView::On { codes_left });
        }
        if self.secret_key().is_none() {
            return Ok(TwoFactorView::NoKey);
        }
        match setting_up.and_then(|sealed| self.secret_being_set_up(user_id, sealed)) {
            Some(secret) => {
                let qr_svg = super::totp::qr_svg(&secret.otpauth_uri(email))
                    .map_err(|e| anyhow::anyhow!("cannot draw the QR code: {e}"))?;
                Ok(TwoFactorView::SettingUp { qr_svg, secret: secret.grouped() })
            }
            None => Ok(TwoFactorView::Off),
        }
    }

    /// Turns the second factor on when `code` is the current code of the secret being set up: the secret is stored
    /// sealed, ten recovery codes made, the user's other sessions ended, and it is audited.
    pub async fn enrol(
        &self,
        user_id: i64,
        email: &str,
        ip: &str,
        sealed: Option<&str>,
        code: &str,
    ) -> Result<Enrolment, Error> {
        let (Some(key), Some(secret)) =
            (self.secret_key(), sealed.and_then(|sealed| self.secret_being_set_up(user_id, sealed)))
        else {
            return Ok(Enrolment::NotPending);
        };
        if crate::db::two_factor::enrolled(&self.db, user_id).await?.is_some() {
            return Ok(Enrolment::NotPending);
        }
        let step = match Code::parse(code) {
            Code::Totp(code) => secret.matching_step(&code, self.now(), None),
            Code::Recovery(_) | Code::Malformed => None,
        };
        let Some(step) = step else { return Ok(Enrolment::WrongCode) };
        let codes = RecoveryCode::generate_set();
        let hashes: Vec<String> = codes.iter().map(RecoveryCode::hash).collect();
        let stored = secret.seal(key, user_id);
        let Some(generation) = crate::db::two_factor::enrol(&self.db, user_id, &stored, step, &hashes).await? else {
            return Ok(Enrolment::NotPending);
        };
        self.record(email, ip, AuditAction::UserTwoFactorEnrol, email, Outcome::Ok, "").await?;
        Ok(Enrolment::Done { codes: codes.iter().map(RecoveryCode::shown).collect(), generation })
    }

    /// Turns the user's own second factor off, for a current code or a recovery code.
    pub async fn turn_off_two_factor(
        &self,
        user_id: i64,
        email: &str,
        ip: &str,
        code: &str,
    ) -> Result<CodeChange, Error> {
        let action = AuditAction::UserTwoFactorDisable;
        if let Some(refused) = self.with_code(user_id, email, ip, code, action).await? {
            return Ok(refused);
        }
        if !crate::db::two_factor::disable(&self.db, user_id).await? {
            return Ok(CodeChange::NotEnrolled);
        }
        self.record(email, ip, action, email, Outcome::Ok, "").await?;
        Ok(CodeChange::Done(None))
    }

    /// Ten new recovery codes in place of the old ones, for a current code or a recovery code.
    pub async fn new_recovery_codes(
        &self,
        user_id: i64,
        email: &str,
        ip: &str,
        code: &str,
    ) -> Result<CodeChange, Error> {
        let action = AuditAction::UserTwoFactorRecoveryCodes;
        if let Some(refused) = self.with_code(user_id, email, ip, code, action).await? {
            return Ok(refused);
        }
        let codes = RecoveryCode::generate_set();
        let hashes: Vec<String> = codes.iter().map(RecoveryCode::hash).collect();
        if !crate::db::two_factor::new_recovery_codes(&self.db, user_id, &hashes).await? {
            return Ok(CodeChange::NotEnrolled);
        }
        self.record(email, ip, action, email, Outcome::Ok, "").await?;
        Ok(CodeChange::Done(Some(codes.iter().map(RecoveryCode::shown).collect())))
    }

    /// Checks the code a change to an enrolled second factor needs, through the sign-in gate. `None`: it is good
    /// (and used up). A wrong one is counted and audited under `action`.
    async fn with_code(
        &self,
        user_id: i64,
        email: &str,
        ip: &str,
        code: &str,
        action: AuditAction,
    ) -> Result<Option<CodeChange>, Error> {
        let _turn = self.code_turn(user_id).await;
        let gate = match self.gate(email, ip).await? {
            Ok(gate) => gate,
            Err(secs) => return Ok(Some(CodeChange::Locked { secs })),
        };
        let why = match self.check_code(user_id, code).await {
            Ok(Checked::NotEnrolled) => return Ok(Some(CodeChange::NotEnrolled)),
            Ok(Checked::Code | Checked::RecoveryCode { .. }) => return Ok(None),
            Ok(Checked::Replayed) => "code already used",
            Ok(Checked::Wrong) => "wrong code",
            Err(CheckError::Db(e)) => return Err(e.into()),
            Err(e @ (CheckError::NoKey | CheckError::Undecryptable(_))) => {
                tracing::error!(user = email, error = %e, "cannot check a two-factor code");
                return Ok(Some(CodeChange::CannotCheck));
            }
        };
        let failed = gate.fail(Kind::Code, action, why).await?;
        Ok(Some(CodeChange::Wrong { locked: failed.locked }))
    }
}
