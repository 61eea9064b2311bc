//! The session store: tower-sessions' store for the database's engine, except that a failed save of a mere refresh (the request only
//! moved the inactivity deadline) is not an error. While the database cannot take writes (a lock held too long, a
//! read-only file), pages that only read keep working; a save that carries a real change still fails loudly.

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use crate::db::Sessions;

use super::only_refreshed;

#[derive(Debug, Clone)]
pub(crate) struct Store {
    inner: Sessions,
}

impl Store {
    pub(crate) fn new(inner: Sessions) -> Store {
        Store { inner }
    }
}

#[async_trait]
impl SessionStore for Store {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.inner.create(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let Err(error) = self.inner.save(record).await else { return Ok(()) };
        match self.inner.load(&record.id).await {
            Ok(Some(stored)) if only_refreshed(&stored, record) => {
                tracing::warn!(error = %error, "cannot refresh a session; it keeps its earlier deadline");
                Ok(())
            }
            _ => Err(error),
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.inner.load(id).await
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.inner.delete(id).await
    }
}
