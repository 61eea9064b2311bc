//! Sign-in throttling, from the failures of the last window:
//! - per email and address: after a few failures that address must wait before trying that email again, a minute
//!   at first and twice as long after each further failure, fifteen minutes at most. The owner signing in from
//!   elsewhere is not locked out by someone guessing their password.
//! - per address: past a limit of failures over all emails, the address is refused until the window has passed.

use super::Pool;

pub const WINDOW_SECS: i64 = 15 * 60;
/// Failures an address may make for one email before it has to wait.
pub const FREE_FAILURES: i64 = 5;
pub const FIRST_WAIT_SECS: i64 = 60;
pub const MAX_WAIT_SECS: i64 = 15 * 60;
pub const MAX_FAILURES_PER_IP: i64 = 20;

/// How long an address waits after its `failures`-th failure for one email (none below [`FREE_FAILURES`]).
pub fn wait_after(failures: i64) -> Option<i64> {
    let doublings = u32::try_from(failures - FREE_FAILURES).ok()?;
    Some(FIRST_WAIT_SECS.saturating_mul(2_i64.saturating_pow(doublings)).min(MAX_WAIT_SECS))
}

/// When sign-in with `email` from `ip` is refused until (Unix seconds), if it is now.
pub async fn locked_until(pool: &Pool, email: &str, ip: &str, now: i64) -> Result<Option<i64>, sqlx::Error> {
    let since = now - WINDOW_SECS;
    let (by_pair, last_pair): (i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MAX(at) FROM login_failures WHERE lower(email) = lower($1) AND ip = $2 AND at > $3",
    )
    .bind(email)
    .bind(ip)
    .bind(since)
    .fetch_one(pool)
    .await?;
    let (by_ip, last_ip): (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MAX(at) FROM login_failures WHERE ip = $1 AND at > $2")
            .bind(ip)
            .bind(since)
            .fetch_one(pool)
            .await?;
    let pair_lock = last_pair.zip(wait_after(by_pair)).map(|(last, wait)| last + wait);
    let ip_lock = (by_ip >= MAX_FAILURES_PER_IP).then_some(last_ip).flatten().map(|last| last + WINDOW_SECS);
    Ok(pair_lock.max(ip_lock).filter(|until| *until > now))
}

pub async fn record_failure(pool: &Pool, email: &str, ip: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO login_failures (email, ip, at) VALUES ($1, $2, $3)")
        .bind(email)
        .bind(ip)
        .bind(now)
        .execute(pool)
        .await?;
    // Rows older than the window no longer count for anything.
    sqlx::query("DELETE FROM login_failures WHERE at <= $1").bind(now - WINDOW_SECS).execute(pool).await?;
    Ok(())
}

/// A successful sign-in forgives that account's earlier failures (not the address's).
pub async fn clear_email(pool: &Pool, email: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_failures WHERE lower(email) = lower($1)").bind(email).execute(pool).await?;
    Ok(())
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
}
