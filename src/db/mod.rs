//! The console's SQLite database: users, the audit log, sign-in throttling, and (through tower-sessions) sessions.

pub mod audit;
pub mod bulk;
pub mod creations;
pub mod imports;
pub mod locks;
pub mod throttle;
pub mod users;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::{Path, PathBuf};
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
        // A connection is a handle on a file in this process, not a socket that can drop: pinging it before every
        // query only costs a round trip to its worker thread (two context switches) per query.
        .test_before_acquire(false)
        .connect_with(opts)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database {path}: {e}"))?;
    sqlx::migrate!()
        .run(&pool)
        .await
        .map_err(|e| anyhow::anyhow!("cannot apply migrations to the database {path}: {e}"))?;
    // The session store owns its table's schema.
    tower_sessions_sqlx_store::SqliteStore::new(pool.clone()).migrate().await?;
    check_files_writable(path)?;
    Ok(pool)
}

/// SQLite maps `-shm` into memory: if it cannot be written the process dies of SIGBUS on the next request. Better
/// to refuse to start, saying which file. Asked with access(2), never by opening the file: closing any descriptor of
/// a file drops every POSIX lock the process holds on it, SQLite's included.
fn check_files_writable(path: &str) -> anyhow::Result<()> {
    for file in [path.to_owned(), format!("{path}-wal"), format!("{path}-shm")] {
        if Path::new(&file).exists() && !writable(&file) {
            let why = std::io::Error::last_os_error();
            anyhow::bail!("the database file {file} cannot be written: {why}");
        }
    }
    Ok(())
}

#[cfg(unix)]
fn writable(file: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(file) else { return false };
    // SAFETY: access(2) only reads the NUL-terminated path it is given.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

#[cfg(not(unix))]
fn writable(file: &str) -> bool {
    std::fs::metadata(file).is_ok_and(|m| !m.permissions().readonly())
}

/// Which file the database is, to notice it being deleted or replaced under the running console (writes would then
/// go to a file nobody will open again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbFile {
    path: PathBuf,
    identity: Option<(u64, u64)>,
}

impl DbFile {
    pub fn of(path: &str) -> DbFile {
        let path = PathBuf::from(path);
        DbFile { identity: identity(&path), path }
    }

    fn unchanged(&self) -> bool {
        self.identity.is_some() && identity(&self.path) == self.identity
    }
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        meta.created().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| (0, d.as_nanos() as u64))
    }
}

/// Why the database cannot do its work.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("the database file was deleted or replaced while the console runs")]
    Replaced,
    #[error("the database does not take writes")]
    Rejects(#[from] sqlx::Error),
}

/// Writes the heartbeat row: it fails when the file is read-only, the pool is closed, another writer holds the lock
/// past the busy timeout, or the file is no longer the one the console opened.
pub async fn check_ready(db: &SqlitePool, file: &DbFile) -> Result<(), NotReady> {
    if !file.unchanged() {
        return Err(NotReady::Replaced);
    }
    sqlx::query("INSERT INTO heartbeat (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at")
        .bind(unix_now())
        .execute(db)
        .await?;
    Ok(())
}

/// Seconds since the Unix epoch: how every time is stored.
pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
