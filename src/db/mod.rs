//! The console's SQLite database: users, the audit log, sign-in throttling, and (through tower-sessions) sessions.

pub mod audit;
pub mod creations;
pub mod throttle;
pub mod users;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::time::Duration;

/// Opens (creating if needed) the database file at `path`, applies pending migrations and creates the sessions table.
pub async fn connect(path: &str) -> anyhow::Result<SqlitePool> {
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(opts)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database {path}: {e}"))?;
    sqlx::migrate!()
        .run(&pool)
        .await
        .map_err(|e| anyhow::anyhow!("cannot apply migrations to the database {path}: {e}"))?;
    // The session store owns its table's schema.
    tower_sessions_sqlx_store::SqliteStore::new(pool.clone()).migrate().await?;
    Ok(pool)
}

/// Takes SQLite's write lock and lets it go, writing nothing: fails when the file is read-only, the pool is closed,
/// or another writer holds the lock past the busy timeout.
pub async fn check_writable(db: &SqlitePool) -> Result<(), sqlx::Error> {
    db.begin_with("BEGIN IMMEDIATE").await?.rollback().await
}

/// Seconds since the Unix epoch: how every time is stored.
pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
