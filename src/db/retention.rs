//! Deleting what the console no longer needs: previews nobody started, finished imports and bulk jobs with their
//! rows, settled account creations, selections of users long gone, and (only when a retention is set) old audit
//! entries. Each purge writes one audit entry saying what it removed, in the same transaction.

use super::Pool;
use super::audit::{self, AuditAction, Entry, Outcome};

/// The cut-offs of one purge, in Unix seconds: what is older goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    /// Previews not started by then.
    pub previews: i64,
    /// Imports, bulk jobs and account creations finished by then; selections of users not signed in since.
    pub work: i64,
    /// Audit entries written before then; `None` keeps them all.
    pub audit: Option<i64>,
}

/// What one purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub previews: u64,
    pub imports: u64,
    pub bulk_jobs: u64,
    pub creations: u64,
    pub selections: u64,
    pub audit_entries: u64,
}

impl Purged {
    pub fn is_empty(&self) -> bool {
        *self == Purged::default()
    }
}

/// Deletes what `cutoffs` say, and audits it (as `system`) when anything went; all in one transaction.
pub async fn purge(pool: &Pool, now: i64, cutoffs: Cutoffs) -> Result<Purged, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut run = async |sql: &str, at: i64| -> Result<u64, sqlx::Error> {
        Ok(sqlx::query(sql).bind(at).execute(&mut *tx).await?.rows_affected())
    };
    // Rows go with their import (ON DELETE CASCADE); bulk items are deleted before their job.
    let previews = run("DELETE FROM imports WHERE state = 'preview' AND created_at < $1", cutoffs.previews).await?;
    let imports =
        run("DELETE FROM imports WHERE (state = 'done' AND finished_at < $1) OR state = 'discarded'", cutoffs.work)
            .await?;
    run(
        "DELETE FROM bulk_items WHERE job_id IN (SELECT id FROM bulk_jobs WHERE state = 'done' AND finished_at < $1)",
        cutoffs.work,
    )
    .await?;
    let bulk_jobs = run("DELETE FROM bulk_jobs WHERE state = 'done' AND finished_at < $1", cutoffs.work).await?;
    let creations = run(
        "DELETE FROM account_creations WHERE state IN ('created', 'failed') AND reported = 1 AND finished_at < $1",
        cutoffs.work,
    )
    .await?;
    let selections = run(
        "DELETE FROM account_selection WHERE user_id NOT IN \
         (SELECT id FROM users WHERE COALESCE(last_login_at, 0) >= $1)",
        cutoffs.work,
    )
    .await?;
    let mut audit_entries = 0;
    if let Some(before) = cutoffs.audit {
        run("UPDATE audit_purge SET cutoff = $1 WHERE id = 1", before).await?;
        audit_entries = run("DELETE FROM audit_log WHERE at < $1", before).await?;
        run("UPDATE audit_purge SET cutoff = $1 WHERE id = 1", 0).await?;
    }
    let purged = Purged { previews, imports, bulk_jobs, creations, selections, audit_entries };
    if !purged.is_empty() {
        let details = describe(&purged, cutoffs);
        let entry = Entry {
            actor: "system",
            ip: "local",
            action: AuditAction::RetentionPurge,
            target: "retention",
            result: Outcome::Ok,
            details: &details,
        };
        audit::record(&mut *tx, now, entry).await?;
    }
    tx.commit().await?;
    Ok(purged)
}

fn describe(p: &Purged, cutoffs: Cutoffs) -> String {
    let day =
        |secs: i64| time::OffsetDateTime::from_unix_timestamp(secs).map(|t| t.date().to_string()).unwrap_or_default();
    let mut parts = Vec::new();
    if p.previews > 0 {
        parts.push(format!("{} import previews never started", p.previews));
    }
    let finished: Vec<String> = [
        (p.imports, "finished imports with their rows"),
        (p.bulk_jobs, "finished bulk jobs with their accounts"),
        (p.creations, "settled account creations"),
        (p.selections, "selected accounts of users not signed in since"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    if !finished.is_empty() {
        parts.push(format!("{} (before {})", finished.join(", "), day(cutoffs.work)));
    }
    if let (n @ 1.., Some(before)) = (p.audit_entries, cutoffs.audit) {
        parts.push(format!("{n} audit entries from before {}", day(before)));
    }
    format!("Removed {}.", parts.join("; "))
}
