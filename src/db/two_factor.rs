//! Users' second factor: the encrypted TOTP secret and the last step accepted (columns of `users`), and the hashes
//! of their recovery codes (`recovery_codes`). Each "use once" rule is a conditional `UPDATE`, so two requests with
//! the same code cannot both pass, whichever processes serve them.

use std::fmt;

use super::Pool;
use super::users::NEW_GENERATION;

/// A user's stored second factor. `Debug` hides the secret, encrypted as it is.
#[derive(Clone, sqlx::FromRow)]
pub struct Enrolled {
    /// Base64 of the nonce and the AES-256-GCM ciphertext.
    pub secret: String,
    pub last_step: Option<i64>,
}

impl fmt::Debug for Enrolled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enrolled").field("secret", &"[hidden]").field("last_step", &self.last_step).finish()
    }
}

/// The user's second factor, if they have one.
pub async fn enrolled(pool: &Pool, user_id: i64) -> Result<Option<Enrolled>, sqlx::Error> {
    sqlx::query_as(
        "SELECT totp_secret AS secret, totp_last_step AS last_step FROM users \
         WHERE id = $1 AND totp_secret IS NOT NULL",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await
}

/// The ids of the users who have a second factor.
pub async fn enrolled_ids(pool: &Pool) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM users WHERE totp_secret IS NOT NULL").fetch_all(pool).await
}

/// Sets the user's second factor and replaces their recovery codes. The step of the code that confirmed it counts as
/// used. Their other sessions end (they were opened with the password alone); the new session generation, or `None`
/// if there is no such user.
pub async fn enrol(
    pool: &Pool,
    user_id: i64,
    secret: &str,
    step: i64,
    recovery_hashes: &[String],
) -> Result<Option<i64>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let generation: Option<i64> = sqlx::query_scalar(&format!(
        "UPDATE users SET totp_secret = $1, totp_last_step = $2, {NEW_GENERATION} WHERE id = $3 \
         RETURNING session_generation"
    ))
    .bind(secret)
    .bind(step)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    if generation.is_none() {
        return Ok(None);
    }
    replace_codes(&mut tx, user_id, recovery_hashes).await?;
    tx.commit().await?;
    Ok(generation)
}

/// The user's recovery codes become these, the old ones unusable, while they have a second factor; whether they do.
pub async fn new_recovery_codes(pool: &Pool, user_id: i64, recovery_hashes: &[String]) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let enrolled: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1 AND totp_secret IS NOT NULL")
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
    if enrolled.is_none() {
        return Ok(false);
    }
    replace_codes(&mut tx, user_id, recovery_hashes).await?;
    tx.commit().await?;
    Ok(true)
}

async fn replace_codes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: i64,
    recovery_hashes: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    for hash in recovery_hashes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user_id)
            .bind(hash)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The user turns their second factor off (having given a code): their recovery codes go with it; whether they had
/// one.
pub async fn disable(pool: &Pool, user_id: i64) -> Result<bool, sqlx::Error> {
    remove(pool, user_id, false).await
}

/// An administrator (or the command line) removes a user's second factor: every session of theirs ends too, as
/// whoever holds one may hold the lost authenticator. Whether they had one.
pub async fn reset(pool: &Pool, user_id: i64) -> Result<bool, sqlx::Error> {
    remove(pool, user_id, true).await
}

async fn remove(pool: &Pool, user_id: i64, end_sessions: bool) -> Result<bool, sqlx::Error> {
    let generation = if end_sessions { format!(", {NEW_GENERATION}") } else { String::new() };
    let mut tx = pool.begin().await?;
    let changed = sqlx::query(&format!(
        "UPDATE users SET totp_secret = NULL, totp_last_step = NULL{generation} \
         WHERE id = $1 AND totp_secret IS NOT NULL"
    ))
    .bind(user_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(changed > 0)
}

/// Records `step` as the user's last accepted one, unless it is not later than that: false means the code was used.
pub async fn accept_step(pool: &Pool, user_id: i64, step: i64) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(
        "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_secret IS NOT NULL \
         AND (totp_last_step IS NULL OR totp_last_step < $3)",
    )
    .bind(step)
    .bind(user_id)
    .bind(step)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(changed > 0)
}

/// Marks the unused recovery code with this hash as used: false if the user has no such unused code.
pub async fn use_recovery_code(pool: &Pool, user_id: i64, hash: &str, now: i64) -> Result<bool, sqlx::Error> {
    let changed =
        sqlx::query("UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL")
            .bind(now)
            .bind(user_id)
            .bind(hash)
            .execute(pool)
            .await?
            .rows_affected();
    Ok(changed > 0)
}

/// How many of the user's recovery codes are still unused.
pub async fn recovery_codes_left(pool: &Pool, user_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .fetch_one(pool)
        .await
}
