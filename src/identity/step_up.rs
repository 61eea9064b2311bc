//! Confirming one's identity for a sensitive change (a step-up): the password, and a code when the user has a
//! second factor, through the same gate as signing in. A user who signs in only through the provider confirms there.

use super::throttle::Gate;
use super::two_factor::{CheckError, Checked};
use super::{BUSY, CANNOT_CHECK, Error, Identity, password};
use crate::config::oidc::LocalLogin;
use crate::db::audit::{AuditAction, Outcome};
use crate::db::throttle::Kind;
use crate::db::users::{self, User};

/// What confirming one's identity for a sensitive change came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepUp {
    Done,
    Locked {
        secs: i64,
    },
    WrongPassword {
        locked: Option<i64>,
    },
    /// The user has a second factor: a code is needed as well as the password.
    NeedsCode,
    WrongCode {
        locked: Option<i64>,
    },
    CannotCheck,
    Busy,
    /// The user signs in only through the provider, which confirms them instead.
    ThroughProvider,
}

impl StepUp {
    /// The sentence for the form.
    pub fn message(self) -> String {
        match self {
            StepUp::Done => "Confirmed.".into(),
            StepUp::Locked { secs } => super::locked_message(secs),
            StepUp::WrongPassword { locked: None } => "Your password is not correct.".into(),
            StepUp::WrongPassword { locked: Some(secs) } => {
                format!("Your password is not correct. {}", super::locked_message(secs))
            }
            StepUp::NeedsCode => "Enter a code from your authenticator app as well.".into(),
            StepUp::WrongCode { locked: None } => "Wrong code.".into(),
            StepUp::WrongCode { locked: Some(secs) } => format!("Wrong code. {}", super::locked_message(secs)),
            StepUp::CannotCheck => CANNOT_CHECK.into(),
            StepUp::Busy => BUSY.into(),
            StepUp::ThroughProvider => "Confirm with your organisation's sign-in instead.".into(),
        }
    }
}

impl Identity {
    /// Confirms the user's identity for a sensitive change: their password, and a code when they have a second
    /// factor, through the same gate as signing in.
    /// A session made through the provider confirms there (the provider's own second factor then counts), and so
    /// does a user the local-login policy keeps from using a password.
    pub async fn step_up(
        &self,
        user_id: i64,
        through_provider: bool,
        given: String,
        code: &str,
        ip: &str,
    ) -> Result<StepUp, Error> {
        let Some(user) = users::get(&self.db, user_id).await?.filter(User::is_active) else {
            return Ok(StepUp::WrongPassword { locked: None });
        };
        let passwords = match self.local_login() {
            LocalLogin::All => true,
            LocalLogin::OnlyAdmins => user.role.is_admin(),
            LocalLogin::None => false,
        };
        if through_provider || !passwords {
            return Ok(StepUp::ThroughProvider);
        }
        let _turn = self.code_turn(user.id).await;
        let email = user.email.as_str();
        let gate = match self.gate(email, ip).await? {
            Ok(gate) => gate,
            Err(secs) => return Ok(StepUp::Locked { secs }),
        };
        if given.len() > password::MAX_LENGTH {
            let failed = gate.fail(Kind::Password, AuditAction::StepUp, "wrong password").await?;
            return Ok(StepUp::WrongPassword { locked: failed.locked });
        }
        let Ok(slot) = password::slot().await else { return Ok(StepUp::Busy) };
        if let Some(secs) = gate.locked_for().await? {
            return Ok(StepUp::Locked { secs });
        }
        if !slot.verify(given, Some(user.password_hash.clone())).await? {
            let failed = gate.fail(Kind::Password, AuditAction::StepUp, "wrong password").await?;
            return Ok(StepUp::WrongPassword { locked: failed.locked });
        }
        let how = if crate::db::two_factor::enrolled(&self.db, user.id).await?.is_some() {
            if code.trim().is_empty() {
                return Ok(StepUp::NeedsCode);
            }
            match self.step_up_code(&gate, user.id, code).await? {
                Ok(how) => how,
                Err(refused) => return Ok(refused),
            }
        } else {
            "with the password"
        };
        self.record(email, ip, AuditAction::StepUp, email, Outcome::Ok, how).await?;
        Ok(StepUp::Done)
    }

    async fn step_up_code(
        &self,
        gate: &Gate<'_>,
        user_id: i64,
        code: &str,
    ) -> Result<Result<&'static str, StepUp>, Error> {
        let why = match self.check_code(user_id, code).await {
            Ok(Checked::Code) => return Ok(Ok("with the password and an authenticator code")),
            Ok(Checked::RecoveryCode { .. }) => return Ok(Ok("with the password and a recovery code")),
            Ok(Checked::NotEnrolled) => return Ok(Ok("with the password")),
            Ok(Checked::Replayed) => "code already used",
            Ok(Checked::Wrong) => "wrong code",
            Err(CheckError::Db(e)) => return Err(e.into()),
            Err(e @ (CheckError::NoKey | CheckError::Undecryptable(_))) => {
                tracing::error!(user = user_id, error = %e, "cannot check a two-factor code");
                return Ok(Err(StepUp::CannotCheck));
            }
        };
        let failed = gate.fail(Kind::Code, AuditAction::StepUp, why).await?;
        Ok(Err(StepUp::WrongCode { locked: failed.locked }))
    }
}
