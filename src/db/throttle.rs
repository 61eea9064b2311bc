//! Sign-in throttling: failures are counted per email and per IP over a window; past a limit, attempts are refused
//! until the window has passed since the last failure.

use sqlx::SqlitePool;

pub const WINDOW_SECS: i64 = 15 * 60;
pub const MAX_FAILURES_PER_EMAIL: i64 = 5;
pub const MAX_FAILURES_PER_IP: i64 = 20;

/// When sign-in is refused until (Unix seconds), if it is.
pub async fn locked_until(pool: &SqlitePool, email: &str, ip: &str, now: i64) -> Result<Option<i64>, sqlx::Error> {
    let since = now - WINDOW_SECS;
    let (by_email, last_email): (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MAX(at) FROM login_failures WHERE email = ? AND at > ?")
            .bind(email)
            .bind(since)
            .fetch_one(pool)
            .await?;
    let (by_ip, last_ip): (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MAX(at) FROM login_failures WHERE ip = ? AND at > ?")
            .bind(ip)
            .bind(since)
            .fetch_one(pool)
            .await?;
    let email_lock = (by_email >= MAX_FAILURES_PER_EMAIL).then_some(last_email).flatten();
    let ip_lock = (by_ip >= MAX_FAILURES_PER_IP).then_some(last_ip).flatten();
    Ok(email_lock.max(ip_lock).map(|last| last + WINDOW_SECS))
}

pub async fn record_failure(pool: &SqlitePool, email: &str, ip: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO login_failures (email, ip, at) VALUES (?, ?, ?)")
        .bind(email)
        .bind(ip)
        .bind(now)
        .execute(pool)
        .await?;
    // Rows older than the window no longer count for anything.
    sqlx::query("DELETE FROM login_failures WHERE at <= ?").bind(now - WINDOW_SECS).execute(pool).await?;
    Ok(())
}

/// A successful sign-in forgives that account's earlier failures (not the IP's).
pub async fn clear_email(pool: &SqlitePool, email: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_failures WHERE email = ?").bind(email).execute(pool).await?;
    Ok(())
}
