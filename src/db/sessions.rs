//! Sessions in the database, through tower-sessions' store for the engine: a session made by one console process is
//! found by every other one on the same database. A session is stored under a hash of its id, never the id the cookie
//! carries: whoever reads the table or a backup cannot take a session over.

use async_trait::async_trait;
use sha2::{Digest as _, Sha256};
use sqlx::{PgPool, SqlitePool};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

#[derive(Debug, Clone)]
pub enum Sessions {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Sessions {
    pub(super) fn sqlite(pool: SqlitePool) -> Sessions {
        Sessions::Sqlite(SqliteStore::new(pool))
    }

    pub(super) fn postgres(pool: PgPool) -> Sessions {
        Sessions::Postgres(PostgresStore::new(pool))
    }

    /// The SQLite store makes its table itself; PostgreSQL's is made by the migrations, under their lock, so
    /// replicas starting together do not race to create it.
    pub(super) async fn migrate(&self) -> Result<(), sqlx::Error> {
        match self {
            Sessions::Sqlite(store) => store.migrate().await,
            Sessions::Postgres(_) => Ok(()),
        }
    }
}

/// What a session is stored under: the SHA-256 of its id, cut to an id's 128 bits.
fn stored_id(id: &Id) -> Id {
    let digest = Sha256::digest(id.0.to_le_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Id(i128::from_le_bytes(bytes))
}

/// The record as stored: under the hash of its id (the record itself holds its id too).
fn stored(record: &Record) -> Record {
    Record { id: stored_id(&record.id), ..record.clone() }
}

impl Sessions {
    async fn create_stored(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(store) => store.create(record).await,
            Sessions::Postgres(store) => store.create(record).await,
        }
    }

    async fn delete_stored(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(store) => store.delete(id).await,
            Sessions::Postgres(store) => store.delete(id).await,
        }
    }
}

#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let mut hashed = stored(record);
            let wanted = hashed.id;
            self.create_stored(&mut hashed).await?;
            if hashed.id == wanted {
                return Ok(());
            }
            // The store found the hash taken and stored the record under an id of its own, which no cookie can
            // name: that copy goes, and a new id is tried.
            self.delete_stored(&hashed.id).await?;
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let hashed = stored(record);
        match self {
            Sessions::Sqlite(store) => store.save(&hashed).await,
            Sessions::Postgres(store) => store.save(&hashed).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let found = match self {
            Sessions::Sqlite(store) => store.load(&stored_id(id)).await?,
            Sessions::Postgres(store) => store.load(&stored_id(id)).await?,
        };
        Ok(found.map(|record| Record { id: *id, ..record }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.delete_stored(&stored_id(id)).await
    }
}

#[async_trait]
impl ExpiredDeletion for Sessions {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(store) => store.delete_expired().await,
            Sessions::Postgres(store) => store.delete_expired().await,
        }
    }
}
