//! Sessions in the database, on the console's one pool: a session made by one console process is found by every
//! other one on the same database. A session is stored under a hash of its id, never the id the cookie carries:
//! whoever reads the table or a backup cannot take a session over. Each row also names the user it is signed in as,
//! so loading a session reads that user in the same query (every page needs both).

use sha2::{Digest as _, Sha256};
use sqlx::Row as _;
use sqlx::any::AnyRow;
use std::collections::HashMap;
use std::sync::LazyLock;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store;

use super::Pool;
use super::users::{self, SignedIn};

#[derive(Debug, Clone)]
pub struct Sessions {
    pool: Pool,
}

/// What the store keeps of a session: its record and, when it is signed in, that user as every page needs them.
pub struct Loaded {
    pub record: Record,
    pub user: Option<SignedIn>,
}

/// What a session is stored under: the SHA-256 of its id, cut to an id's 128 bits.
fn stored_id(id: &Id) -> String {
    let digest = Sha256::digest(id.0.to_le_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Id(i128::from_le_bytes(bytes)).to_string()
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn encode(record: &Record) -> session_store::Result<Vec<u8>> {
    serde_json::to_vec(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))
}

/// The session's row joined to its user's (the columns of [`users::signed_in`], prefixed so they cannot clash).
static LOAD: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT s.data AS session_data, s.expiry_date AS session_expiry, {} FROM sessions s \
         LEFT JOIN users ON users.id = s.user_id WHERE s.id = $1 AND s.expiry_date > $2",
        *users::SIGNED_IN_COLUMNS
    )
});

impl Sessions {
    pub(super) fn new(pool: Pool) -> Sessions {
        Sessions { pool }
    }

    /// Stores a new session signed in as `user_id` (if any). When its hash is taken, the record gets a new id.
    pub async fn create(&self, record: &mut Record, user_id: Option<i64>) -> session_store::Result<()> {
        let data = encode(record)?;
        loop {
            let inserted = sqlx::query(
                "INSERT INTO sessions (id, user_id, data, expiry_date) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
            )
            .bind(stored_id(&record.id))
            .bind(user_id)
            .bind(&data)
            .bind(record.expiry_date.unix_timestamp())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
            if inserted.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    pub async fn save(&self, record: &Record, user_id: Option<i64>) -> session_store::Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, data, expiry_date) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, data = excluded.data, \
             expiry_date = excluded.expiry_date",
        )
        .bind(stored_id(&record.id))
        .bind(user_id)
        .bind(encode(record)?)
        .bind(record.expiry_date.unix_timestamp())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    /// The session, unless it has expired, with the user it is signed in as (if that user still exists).
    pub async fn load(&self, id: &Id) -> session_store::Result<Option<Loaded>> {
        let row = sqlx::query(&LOAD)
            .bind(stored_id(id))
            .bind(OffsetDateTime::now_utc().unix_timestamp())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|row| read(&row, *id)).transpose()
    }

    pub async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(stored_id(id))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    pub async fn delete_expired(&self) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE expiry_date <= $1")
            .bind(OffsetDateTime::now_utc().unix_timestamp())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

fn read(row: &AnyRow, id: Id) -> session_store::Result<Loaded> {
    let data: Vec<u8> = row.try_get("session_data").map_err(backend)?;
    let data: HashMap<String, serde_json::Value> =
        serde_json::from_slice(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
    let expiry: i64 = row.try_get("session_expiry").map_err(backend)?;
    let expiry_date = OffsetDateTime::from_unix_timestamp(expiry).map_err(backend)?;
    let user = match row.try_get::<Option<i64>, _>("id").map_err(backend)? {
        Some(_) => Some(<SignedIn as sqlx::FromRow<AnyRow>>::from_row(row).map_err(backend)?),
        None => None,
    };
    Ok(Loaded { record: Record { id, data, expiry_date }, user })
}
