//! The lock-out policy, and the gate every typed password or code passes through, whichever page it was typed on
//! (sign-in, code step, confirming one's identity, the two-factor page):
//! - per email and address: after a few failures that address must wait before trying that email again, a minute at
//!   first and twice as long after each further failure, fifteen minutes at most. The owner signing in from
//!   elsewhere is not locked out by someone guessing their password.
//! - per address: past a limit of failures over all emails, the address is refused until the window has passed.
//! - per user, for second-factor codes from every address: after [`MAX_WRONG_CODES`] wrong codes in the window,
//!   every sign-in of theirs waiting for a code ends, and the password is asked again only after a wait that doubles
//!   with each such lock-out within a day.
//!
//! An IPv6 address counts by its /64: one host usually holds a whole /64, and would otherwise have 2^64 addresses
//! to spread its guesses over.

use std::net::IpAddr;

use super::{Error, Identity};
use crate::db::audit::{AuditAction, Outcome};
use crate::db::throttle::{self, Kind};
use crate::db::users;

pub const WINDOW_SECS: i64 = 15 * 60;
/// Failures an address may make for one email before it has to wait.
pub const FREE_FAILURES: i64 = 5;
pub const FIRST_WAIT_SECS: i64 = 60;
pub const MAX_WAIT_SECS: i64 = 15 * 60;
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;
/// Wrong second-factor codes for one user, from every address within the window, that end their pending sign-ins.
pub const MAX_WRONG_CODES: i64 = 10;
/// How long second-factor lock-outs are remembered to grow the next wait.
const CODE_LOCKOUT_MEMORY_SECS: i64 = 24 * 3600;
const MAX_CODE_WAIT_SECS: i64 = 3600;

/// How long an address waits after its `failures`-th failure for one email (none below [`FREE_FAILURES`]).
pub fn wait_after(failures: i64) -> Option<i64> {
    let doublings = u32::try_from(failures - FREE_FAILURES).ok()?;
    Some(FIRST_WAIT_SECS.saturating_mul(2_i64.saturating_pow(doublings)).min(MAX_WAIT_SECS))
}

/// The wait after a user's `lockouts`-th second-factor lock-out within a day: a minute, doubling, an hour at most.
pub fn code_wait(lockouts: i64) -> i64 {
    let doublings = u32::try_from(lockouts.saturating_sub(1)).unwrap_or(0).min(31);
    FIRST_WAIT_SECS.saturating_mul(2_i64.saturating_pow(doublings)).min(MAX_CODE_WAIT_SECS)
}

/// What failures are counted by: an IPv4 address as it is, an IPv6 one by its /64 (`2001:db8:1:2::/64`), and an
/// IPv4 address written as IPv6 as the IPv4 one.
pub fn address_key(ip: &str) -> String {
    match ip.parse::<IpAddr>().map(|a| a.to_canonical()) {
        Ok(IpAddr::V6(v6)) => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", std::net::Ipv6Addr::from(network))
        }
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

/// When to try again, to the second under two minutes (a retry sees the wait shrink), else to the minute above.
fn wait_words(secs_left: i64) -> String {
    let secs = secs_left.max(1);
    let (n, unit) = if secs < 120 { (secs, "second") } else { ((secs + 59) / 60, "minute") };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

pub fn locked_message(secs_left: i64) -> String {
    format!("Too many failed sign-in attempts: sign-in is locked. Try again in {}.", wait_words(secs_left))
}

/// A typed password or code about to be checked for `email` from `ip`: nothing was locked when it was opened.
pub(super) struct Gate<'a> {
    identity: &'a Identity,
    email: &'a str,
    ip: &'a str,
    address: String,
}

/// What a failure came to.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Failed {
    /// The seconds of the lock-out this failure started, if it started one.
    pub locked: Option<i64>,
    /// It was one wrong code too many for the user from everywhere: their pending sign-ins have ended.
    pub codes_locked: bool,
}

impl Identity {
    /// Opens the gate for a password or code typed for `email` from `ip`, or says for how many seconds it is locked
    /// (a refusal is logged once per window, however often a locked email or address keeps trying).
    pub(super) async fn gate<'a>(&'a self, email: &'a str, ip: &'a str) -> Result<Result<Gate<'a>, i64>, Error> {
        let gate = Gate { identity: self, email, ip, address: address_key(ip) };
        match gate.locked_for().await? {
            None => Ok(Ok(gate)),
            Some(secs) => {
                gate.log_refused().await?;
                Ok(Err(secs))
            }
        }
    }

    /// When sign-in with `email` is refused until because of its second factor's lock-outs, if it is now.
    async fn second_factor_locked_until(&self, email: &str, now: i64) -> Result<Option<i64>, Error> {
        let Some(user) = users::find_by_email(&self.db, email).await? else { return Ok(None) };
        let (lockouts, last) =
            throttle::second_factor_lockouts(&self.db, user.id, now - CODE_LOCKOUT_MEMORY_SECS).await?;
        Ok(last.map(|at| at + code_wait(lockouts)).filter(|until| *until > now))
    }

    /// When the user's latest second-factor lock-out was, if any within a day: a sign-in waiting for a code since
    /// before it has ended.
    pub(super) async fn last_second_factor_lockout(&self, user_id: i64) -> Result<Option<i64>, Error> {
        let since = self.now() - CODE_LOCKOUT_MEMORY_SECS;
        Ok(throttle::second_factor_lockouts(&self.db, user_id, since).await?.1)
    }
}

impl Gate<'_> {
    /// The seconds this email or address is still locked for, if it is.
    pub(super) async fn locked_for(&self) -> Result<Option<i64>, Error> {
        let db = &self.identity.db;
        let now = self.identity.now();
        let counts = throttle::counts(db, self.email, &self.address, now - WINDOW_SECS).await?;
        let pair = counts.pair_last.zip(wait_after(counts.pair)).map(|(last, wait)| last + wait);
        let address = (counts.address >= MAX_FAILURES_PER_ADDRESS)
            .then_some(counts.address_last)
            .flatten()
            .map(|last| last + WINDOW_SECS);
        let codes = self.identity.second_factor_locked_until(self.email, now).await?;
        Ok(pair.max(address).max(codes).filter(|until| *until > now).map(|until| until - now))
    }

    /// Logs a refusal while locked once per email or address and window, however often they keep trying.
    async fn log_refused(&self) -> Result<(), Error> {
        let keys = [format!("refused {}", self.email.to_lowercase()), format!("refused {}", self.address)];
        if self.identity.first_in_window(&keys) {
            self.record(AuditAction::LoginRefused, "locked out after repeated failures").await?;
        }
        Ok(())
    }

    async fn record(&self, action: AuditAction, details: &str) -> Result<(), Error> {
        Ok(self.identity.record(self.email, self.ip, action, self.email, Outcome::Refused, details).await?)
    }

    /// Counts a wrong password or code and audits it under `action` with `why`. A lock-out it starts is audited
    /// too, once: the next attempt is refused at the gate before anything is counted.
    pub(super) async fn fail(&self, kind: Kind, action: AuditAction, why: &str) -> Result<Failed, Error> {
        let db = &self.identity.db;
        let now = self.identity.now();
        throttle::record_failure(db, self.email, &self.address, kind, now, now - WINDOW_SECS).await?;
        self.record(action, why).await?;
        if kind == Kind::Code
            && let Some(secs) = self.codes_lockout(now).await?
        {
            return Ok(Failed { locked: Some(secs), codes_locked: true });
        }
        let locked = self.locked_for().await?;
        if let Some(secs) = locked {
            let details = format!("for {} more sign-ins from {} refused", wait_words(secs), self.ip);
            self.record(AuditAction::LoginLockout, &details).await?;
        }
        Ok(Failed { locked, codes_locked: false })
    }

    /// After a wrong code: when the user has had [`MAX_WRONG_CODES`] since the window began (or since their last
    /// such lock-out), a new second-factor lock-out, audited; its wait in seconds.
    async fn codes_lockout(&self, now: i64) -> Result<Option<i64>, Error> {
        let db = &self.identity.db;
        let Some(user) = users::find_by_email(db, self.email).await? else { return Ok(None) };
        let last = self.identity.last_second_factor_lockout(user.id).await?;
        let since = last.map_or(now - WINDOW_SECS, |at| at.max(now - WINDOW_SECS));
        if throttle::count_for_email(db, self.email, Kind::Code, since).await? < MAX_WRONG_CODES {
            return Ok(None);
        }
        throttle::record_second_factor_lockout(db, user.id, now).await?;
        let (lockouts, _) = throttle::second_factor_lockouts(db, user.id, now - CODE_LOCKOUT_MEMORY_SECS).await?;
        let wait = code_wait(lockouts);
        let details = format!(
            "{MAX_WRONG_CODES} wrong two-factor codes within {} minutes, from any address: every sign-in waiting for \
             a code ended, and the password is asked again after {}",
            WINDOW_SECS / 60,
            wait_words(wait)
        );
        self.record(AuditAction::LoginLockout, &details).await?;
        Ok(Some(wait))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_from_a_minute_to_fifteen() {
        assert_eq!(wait_after(4), None);
        assert_eq!(wait_after(5), Some(60));
        assert_eq!(wait_after(6), Some(120));
        assert_eq!(wait_after(8), Some(480));
        assert_eq!(wait_after(9), Some(900));
        assert_eq!(wait_after(500), Some(900));
    }

    #[test]
    fn the_second_factor_wait_doubles_from_a_minute_to_an_hour() {
        assert_eq!(code_wait(1), 60);
        assert_eq!(code_wait(2), 120);
        assert_eq!(code_wait(6), 1920);
        assert_eq!(code_wait(7), 3600);
        assert_eq!(code_wait(10_000), 3600);
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        assert_eq!(address_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
        assert_eq!(address_key("2001:db8:1:2::1"), address_key("2001:db8:1:2:ffff::9"));
        assert_ne!(address_key("2001:db8:1:2::1"), address_key("2001:db8:1:3::1"));
        assert_eq!(address_key("203.0.113.9"), "203.0.113.9");
        assert_eq!(address_key("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(address_key("unknown"), "unknown");
    }

    #[test]
    fn lock_messages_round_up_to_minutes() {
        assert_eq!(locked_message(1), "Too many failed sign-in attempts: sign-in is locked. Try again in 1 second.");
        assert_eq!(locked_message(60), "Too many failed sign-in attempts: sign-in is locked. Try again in 60 seconds.");
        assert_eq!(locked_message(121), "Too many failed sign-in attempts: sign-in is locked. Try again in 3 minutes.");
    }
}
