//! Named locks in the database (`locks`), for work that must happen one at a time across processes sharing it. A
//! lock lapses at `until`, so one whose holder died does not block for ever.

use sqlx::SqlitePool;

/// Takes `name` for `holder` until `until`, if it is free or has lapsed; false when someone else holds it.
pub async fn try_take(pool: &SqlitePool, name: &str, holder: &str, now: i64, until: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO locks (name, holder, until) VALUES (?, ?, ?) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until WHERE locks.until < ?",
    )
    .bind(name)
    .bind(holder)
    .bind(until)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn release(pool: &SqlitePool, name: &str, holder: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM locks WHERE name = ? AND holder = ?").bind(name).bind(holder).execute(pool).await?;
    Ok(())
}

/// Keeps `holder`'s lock until `until`.
pub async fn renew(pool: &SqlitePool, name: &str, holder: &str, until: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE locks SET until = ? WHERE name = ? AND holder = ?")
        .bind(until)
        .bind(name)
        .bind(holder)
        .execute(pool)
        .await?;
    Ok(())
}
