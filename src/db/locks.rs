//! Named locks in the database (`locks`), for work that must happen one at a time across processes sharing it. A
//! lock lapses at `until`, so one whose holder died does not block for ever.

use super::Pool;

/// The prefix of each live process's lease: `process:{runner}`. Work a process started (an account creation it sent)
/// is taken up by others once its lease is gone.
pub const PROCESS: &str = "process:";

/// The name of `runner`'s liveness lease.
pub fn process(runner: &str) -> String {
    format!("{PROCESS}{runner}")
}

/// Takes `name` for `holder` until `until`, if it is free or has lapsed; false when someone else holds it.
pub async fn try_take(pool: &Pool, name: &str, holder: &str, now: i64, until: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO locks (name, holder, until) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until WHERE locks.until < $4",
    )
    .bind(name)
    .bind(holder)
    .bind(until)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes or keeps `name` for `holder` until `until`, whoever held it: for a lock only `holder` ever takes (its own
/// liveness lease).
pub async fn hold(pool: &Pool, name: &str, holder: &str, until: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO locks (name, holder, until) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until",
    )
    .bind(name)
    .bind(holder)
    .bind(until)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn release(pool: &Pool, name: &str, holder: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM locks WHERE name = $1 AND holder = $2").bind(name).bind(holder).execute(pool).await?;
    Ok(())
}

/// Keeps `holder`'s lock until `until`.
pub async fn renew(pool: &Pool, name: &str, holder: &str, until: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE locks SET until = $1 WHERE name = $2 AND holder = $3")
        .bind(until)
        .bind(name)
        .bind(holder)
        .execute(pool)
        .await?;
    Ok(())
}
