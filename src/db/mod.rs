//! The console's database (SQLite or PostgreSQL): users, sessions, the audit log, sign-in throttling and the work
//! in progress.

pub mod audit;
pub mod bulk;
pub mod claims;
pub mod creations;
pub mod imports;
pub mod keys;
pub mod locks;
pub mod parents;
pub mod retention;
pub mod throttle;
pub mod two_factor;
pub mod users;

mod location;
mod sessions;
mod text;

pub use location::{Engine, Location, PoolSettings};
pub use sessions::{Loaded as LoadedSession, Sessions};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions as _, Executor as _};
use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::time::Duration;

/// The console's connections: one pool for every engine (queries are written once, with `$1` placeholders, in SQL
/// both engines read alike).
pub type Pool = sqlx::AnyPool;

/// The console's database, open and migrated.
#[derive(Debug, Clone)]
pub struct Database {
    pub pool: Pool,
    /// The sessions, on the same pool.
    pub sessions: Sessions,
}

/// Opens the database (creating a SQLite file if needed) and applies pending migrations. On PostgreSQL a replica
/// that starts while another migrates waits for it (the migrator's advisory lock).
pub async fn connect(location: &Location, settings: &PoolSettings) -> anyhow::Result<Database> {
    sqlx::any::install_default_drivers();
    let shown = location.to_string();
    let cannot_open = |e: sqlx::Error| anyhow::anyhow!("cannot open the database {shown}: {e}");
    let any_pool =
        AnyPoolOptions::new().max_connections(settings.max_connections).acquire_timeout(settings.acquire_timeout);
    let pool = match location {
        Location::Sqlite(path) => {
            create_owner_only(path).map_err(|e| anyhow::anyhow!("cannot create the database {shown}: {e}"))?;
            let native = sqlite_options(path);
            let url = native.to_url_lossy();
            any_pool
                // A connection is a handle on a file in this process, not a socket that can drop: pinging it before
                // every query only costs a round trip to its worker thread (two context switches) per query.
                .test_before_acquire(false)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL").await.map(|_| ())
                    })
                })
                .connect_with(AnyConnectOptions::from_url(&url).map_err(cannot_open)?)
                .await
                .map_err(cannot_open)?
        }
        Location::Postgres(url) => {
            any_pool.connect_with(AnyConnectOptions::from_str(url).map_err(cannot_open)?).await.map_err(cannot_open)?
        }
    };
    let migrations = match location.engine() {
        Engine::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        Engine::Postgres => sqlx::migrate!("./migrations/postgres"),
    };
    migrations.run(&pool).await.map_err(|e| anyhow::anyhow!("cannot apply migrations to the database {shown}: {e}"))?;
    if let Location::Sqlite(path) = location {
        check_files_writable(path)?;
        for file in [path.to_owned(), format!("{path}-wal"), format!("{path}-shm")] {
            owner_only(Path::new(&file)).map_err(|e| anyhow::anyhow!("cannot restrict {file} to its owner: {e}"))?;
        }
    }
    let sessions = Sessions::new(pool.clone());
    Ok(Database { pool, sessions })
}

/// A new SQLite file is made readable by its owner only before SQLite opens it (SQLite gives its `-wal` and `-shm`
/// files the database file's permissions): it holds password hashes, sessions and sealed secrets.
fn create_owner_only(path: &str) -> std::io::Result<()> {
    if path.is_empty() || path.starts_with(':') || Path::new(path).exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Takes away the group's and others' access to a file that exists (a database made by an earlier version, a
/// backup). Changing the mode opens nothing, so no lock of SQLite's is touched.
pub fn owner_only(file: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(file) {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    Ok(())
}

/// Writes a consistent copy of the SQLite database `source` into `target` (a new or empty file), while the console
/// may keep writing: `VACUUM INTO` reads one snapshot.
pub async fn vacuum_into(source: &str, target: &str) -> anyhow::Result<()> {
    let mut conn = SqliteConnectOptions::new()
        .filename(source)
        .read_only(true)
        .busy_timeout(Duration::from_secs(30))
        .connect()
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database {source}: {e}"))?;
    sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(&mut conn)
        .await
        .map_err(|e| anyhow::anyhow!("cannot back up {source}: {e}"))?;
    Ok(())
}

fn sqlite_options(path: &str) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true)
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

/// How long a readiness check waits for the database.
const READY_WITHIN: Duration = Duration::from_secs(3);

/// Why the database cannot do its work.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("the database file was deleted or replaced while the console runs")]
    Replaced,
    #[error("the database did not answer within {} seconds", READY_WITHIN.as_secs())]
    NoAnswer,
    #[error("the database does not take writes")]
    Rejects(#[from] sqlx::Error),
}

/// Writes the heartbeat row: it fails when the database does not answer in time, the file is read-only, the pool is
/// closed, another writer holds the lock past the busy timeout, or the file is no longer the one the console opened.
pub async fn check_ready(db: &Pool, file: Option<&DbFile>, now: i64) -> Result<(), NotReady> {
    if file.is_some_and(|f| !f.unchanged()) {
        return Err(NotReady::Replaced);
    }
    let write =
        sqlx::query("INSERT INTO heartbeat (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at")
            .bind(now)
            .execute(db);
    tokio::time::timeout(READY_WITHIN, write).await.map_err(|_| NotReady::NoAnswer)??;
    Ok(())
}

/// Which engine a pool talks to.
pub fn engine(pool: &Pool) -> Engine {
    if pool.connect_options().database_url.scheme().starts_with("sqlite") { Engine::Sqlite } else { Engine::Postgres }
}

/// Makes the transaction wait until every other transaction that took the turn `name` has ended: it writes the row
/// `name` of `locks`, which PostgreSQL keeps locked until commit and SQLite's single writer serialises. A rule read
/// and written within the transaction (count, then insert) then holds however many processes share the database.
pub(crate) async fn serialize(tx: &mut sqlx::Transaction<'_, sqlx::Any>, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO locks (name, holder, until) VALUES ($1, 'turn', 0) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder",
    )
    .bind(name)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
