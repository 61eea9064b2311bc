//! The session store tower-sessions calls: the database's sessions, each row naming the user it is signed in as, so
//! the sign-in guard gets that user from the session's own load instead of a query of its own. A failed save of a
//! mere refresh (the request only moved the inactivity deadline) is not an error: while the database cannot take
//! writes (a lock held too long, a read-only file), pages that only read keep working; a save that carries a real
//! change still fails loudly.

use async_trait::async_trait;
use serde::Deserialize as _;
use std::cell::RefCell;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use crate::db::Sessions;
use crate::db::users::SignedIn;

use super::{SIGNED_IN, SignedInAs, only_refreshed};

tokio::task_local! {
    /// The user the session's load read, for the guard that asked (see [`with_loaded_user`]).
    static LOADED_USER: RefCell<Option<SignedIn>>;
}

/// Runs `load` (which reads the session) and returns its result with the user the session's row named, when the
/// session was read from the database during it (not earlier in the request).
pub(crate) async fn with_loaded_user<T>(load: impl Future<Output = T>) -> (T, Option<SignedIn>) {
    LOADED_USER
        .scope(RefCell::new(None), async {
            let result = load.await;
            (result, LOADED_USER.with(|slot| slot.borrow_mut().take()))
        })
        .await
}

#[derive(Debug, Clone)]
pub(crate) struct Store {
    inner: Sessions,
}

impl Store {
    pub(crate) fn new(inner: Sessions) -> Store {
        Store { inner }
    }
}

/// The user a record is signed in as, as its row names them.
fn user_of(record: &Record) -> Option<i64> {
    SignedInAs::deserialize(record.data.get(SIGNED_IN)?).ok().map(|s| s.user_id)
}

#[async_trait]
impl SessionStore for Store {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let user = user_of(record);
        self.inner.create(record, user).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let Err(error) = self.inner.save(record, user_of(record)).await else { return Ok(()) };
        match self.inner.load(&record.id).await {
            Ok(Some(stored)) if only_refreshed(&stored.record, record) => {
                tracing::warn!(error = %error, "cannot refresh a session; it keeps its earlier deadline");
                Ok(())
            }
            _ => Err(error),
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let Some(loaded) = self.inner.load(id).await? else { return Ok(None) };
        if let Some(user) = loaded.user {
            // Outside a guard's scope nobody asked for the user: it is dropped.
            let _ = LOADED_USER.try_with(|slot| *slot.borrow_mut() = Some(user));
        }
        Ok(Some(loaded.record))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.inner.delete(id).await
    }
}
