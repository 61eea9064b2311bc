//! How long the console keeps what it no longer needs, and the worker that deletes it once an hour (and at start):
//! previews nobody started after a day, finished imports, bulk jobs and account creations after the retention
//! period, and the audit log only when its own retention is set. Every purge is itself audited.

use std::time::Duration;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::db::{self, retention};

/// How often the worker looks.
const EVERY: Duration = Duration::from_secs(3600);
/// A preview not started within a day is dropped.
const PREVIEW_SECS: i64 = 24 * 3600;
const DAY_SECS: i64 = 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Days finished imports, bulk jobs and account creations are kept.
    pub days: u32,
    /// Days audit entries are kept; `None`: for ever.
    pub audit_days: Option<u32>,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention { days: 90, audit_days: None }
    }
}

impl Retention {
    /// What a purge at `now` deletes.
    pub fn cutoffs(&self, now: i64) -> retention::Cutoffs {
        retention::Cutoffs {
            previews: now - PREVIEW_SECS,
            work: now - i64::from(self.days) * DAY_SECS,
            audit: self.audit_days.map(|days| now - i64::from(days) * DAY_SECS),
        }
    }
}

/// One purge now.
pub async fn purge(pool: &db::Pool, clock: &Clock, retention: Retention) -> Result<retention::Purged, sqlx::Error> {
    let now = clock.now();
    retention::purge(pool, now, retention.cutoffs(now)).await
}

/// Purges at start and then every hour, until `stop`.
pub fn spawn(
    pool: db::Pool,
    clock: Clock,
    retention: Retention,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !*stop.borrow() {
            match purge(&pool, &clock, retention).await {
                Ok(p) if !p.is_empty() => tracing::info!(?p, "removed old records"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "cannot remove old records"),
            }
            tokio::select! {
                () = tokio::time::sleep(EVERY) => {}
                _ = stop.changed() => {}
            }
        }
    })
}
