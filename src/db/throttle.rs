//! The failed sign-in checks the lock-out counts (`login_failures`), the second-factor lock-outs, and nothing of the
//! policy: how many failures lock, and for how long, is the identity service's.

use super::Pool;
use super::text::stored_as_text;

/// What was wrong: a password (at sign-in or when confirming one's identity) or a second-factor code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Password,
    Code,
}

stored_as_text!(Kind { Password => "password", Code => "code" });

/// Failures since a time: for one email from one address, from one address over all emails, and of one kind for one
/// email from everywhere; each with the time of the latest.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub pair: i64,
    pub pair_last: Option<i64>,
    pub address: i64,
    pub address_last: Option<i64>,
}

pub async fn counts(pool: &Pool, email: &str, address: &str, since: i64) -> Result<Counts, sqlx::Error> {
    let (pair, pair_last): (i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MAX(at) FROM login_failures WHERE lower(email) = lower($1) AND ip = $2 AND at > $3",
    )
    .bind(email)
    .bind(address)
    .bind(since)
    .fetch_one(pool)
    .await?;
    let (address_count, address_last): (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MAX(at) FROM login_failures WHERE ip = $1 AND at > $2")
            .bind(address)
            .bind(since)
            .fetch_one(pool)
            .await?;
    Ok(Counts { pair, pair_last, address: address_count, address_last })
}

/// Failures of `kind` for `email` from every address since `since`.
pub async fn count_for_email(pool: &Pool, email: &str, kind: Kind, since: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE kind = $1 AND lower(email) = lower($2) AND at > $3")
        .bind(kind)
        .bind(email)
        .bind(since)
        .fetch_one(pool)
        .await
}

/// Records a failure and forgets those older than `forget_before`, which no longer count for anything.
pub async fn record_failure(
    pool: &Pool,
    email: &str,
    address: &str,
    kind: Kind,
    now: i64,
    forget_before: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO login_failures (email, ip, kind, at) VALUES ($1, $2, $3, $4)")
        .bind(email)
        .bind(address)
        .bind(kind)
        .bind(now)
        .execute(pool)
        .await?;
    sqlx::query("DELETE FROM login_failures WHERE at <= $1").bind(forget_before).execute(pool).await?;
    Ok(())
}

/// A successful sign-in forgives that account's earlier failures (not the address's).
pub async fn clear_email(pool: &Pool, email: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_failures WHERE lower(email) = lower($1)").bind(email).execute(pool).await?;
    Ok(())
}

pub async fn record_second_factor_lockout(pool: &Pool, user_id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO second_factor_lockouts (user_id, at) VALUES ($1, $2)")
        .bind(user_id)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

/// How many second-factor lock-outs the user had since `since`, and when the latest was.
pub async fn second_factor_lockouts(pool: &Pool, user_id: i64, since: i64) -> Result<(i64, Option<i64>), sqlx::Error> {
    sqlx::query_as("SELECT COUNT(*), MAX(at) FROM second_factor_lockouts WHERE user_id = $1 AND at > $2")
        .bind(user_id)
        .bind(since)
        .fetch_one(pool)
        .await
}
