//! Bulk actions: each user's selection of accounts (`account_selection`), and the jobs that block, unblock or
//! remove them (`bulk_jobs`, `bulk_items`). Lists of ids travel a few hundred per statement, so a selection of
//! thousands is a handful of statements, not thousands. A job is run by one process at a time: it claims the job
//! with a lease it renews, which lapses if the process dies, and another process takes the job up.

use sqlx::{Any, Transaction};

use super::Pool;
use super::audit::{self, Entry};
use super::text::stored_as_text;

/// Where one account of a job stands, stored as its lowercase name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemState {
    Pending,
    Changed,
    Skipped,
    Failed,
}

stored_as_text!(ItemState { Pending => "pending", Changed => "changed", Skipped => "skipped", Failed => "failed" });

/// Why an account of a job was left as it was, stored as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    Parent,
    Removed,
    /// It already has the status the action sets.
    Already,
    /// Its status allows no such change.
    Status,
    /// Kaltura does not list it among the parent's accounts (any more).
    NotYours,
}

stored_as_text!(Skip {
    Parent => "parent",
    Removed => "removed",
    Already => "already",
    Status => "status",
    NotYours => "not_yours",
});

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    /// The parent whose accounts it changes.
    pub parent_id: i64,
    pub user_id: i64,
    pub actor: String,
    pub ip: String,
    /// `block`, `unblock` or `remove`.
    pub action: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// The run whose failures this one retries.
    pub retry_of: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Item {
    pub partner_id: i64,
    pub name: String,
    pub state: ItemState,
    pub skip: Option<Skip>,
    pub message: String,
}

impl Item {
    /// Kaltura could not say the account's name when the job ran: the job recorded its id instead.
    pub fn is_unnamed(&self) -> bool {
        self.name.trim().is_empty() || self.name == self.partner_id.to_string()
    }
}

/// What became of one account.
#[derive(Debug, Clone)]
pub struct Settled {
    pub partner_id: i64,
    pub name: String,
    pub state: ItemState,
    pub skip: Option<Skip>,
    pub message: String,
}

/// How many accounts of a job are settled, of how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Progress {
    pub done: i64,
    pub total: i64,
}

/// The selection would hold more accounts than the limit: nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverLimit {
    pub would_be: i64,
}

/// Ids per statement: far below either engine's limit on placeholders.
const IDS_PER_STATEMENT: usize = 500;

/// `$first, $first+1, …` for `count` values.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

pub async fn selection_count(pool: &Pool, user_id: i64, parent_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM account_selection WHERE user_id = $1 AND parent_id = $2")
        .bind(user_id)
        .bind(parent_id)
        .fetch_one(pool)
        .await
}

/// Which of `ids` the user has selected among the parent's accounts.
pub async fn selected_among(pool: &Pool, user_id: i64, parent_id: i64, ids: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
    let mut selected = Vec::new();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let sql = format!(
            "SELECT partner_id FROM account_selection WHERE user_id = $1 AND parent_id = $2 AND partner_id IN ({}) \
             ORDER BY partner_id",
            placeholders(3, chunk.len())
        );
        let q =
            chunk.iter().fold(sqlx::query_scalar::<_, i64>(&sql).bind(user_id).bind(parent_id), |q, id| q.bind(*id));
        selected.extend(q.fetch_all(pool).await?);
    }
    Ok(selected)
}

pub async fn selection(pool: &Pool, user_id: i64, parent_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT partner_id FROM account_selection WHERE user_id = $1 AND parent_id = $2 ORDER BY partner_id",
    )
    .bind(user_id)
    .bind(parent_id)
    .fetch_all(pool)
    .await
}

/// A page's checkboxes as sent: `shown` leave the selection, `checked` join it. The new count, or nothing changed
/// when it would pass `limit`.
pub async fn set_shown(
    pool: &Pool,
    user_id: i64,
    parent_id: i64,
    shown: &[i64],
    checked: &[i64],
    limit: i64,
) -> Result<Result<i64, OverLimit>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    for chunk in shown.chunks(IDS_PER_STATEMENT) {
        let sql = format!(
            "DELETE FROM account_selection WHERE user_id = $1 AND parent_id = $2 AND partner_id IN ({})",
            placeholders(3, chunk.len())
        );
        let q = chunk.iter().fold(sqlx::query(&sql).bind(user_id).bind(parent_id), |q, id| q.bind(*id));
        q.execute(&mut *tx).await?;
    }
    add(&mut tx, user_id, parent_id, checked).await?;
    commit_within(tx, user_id, parent_id, limit).await
}

/// Adds `ids` to the selection: the new count, or nothing changed when it would pass `limit`.
pub async fn add_all(
    pool: &Pool,
    user_id: i64,
    parent_id: i64,
    ids: &[i64],
    limit: i64,
) -> Result<Result<i64, OverLimit>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    add(&mut tx, user_id, parent_id, ids).await?;
    commit_within(tx, user_id, parent_id, limit).await
}

async fn add(tx: &mut Transaction<'_, Any>, user_id: i64, parent_id: i64, ids: &[i64]) -> Result<(), sqlx::Error> {
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let rows: Vec<String> = (0..chunk.len()).map(|i| format!("($1, $2, ${})", i + 3)).collect();
        let sql = format!(
            "INSERT INTO account_selection (user_id, parent_id, partner_id) VALUES {} ON CONFLICT DO NOTHING",
            rows.join(", ")
        );
        let q = chunk.iter().fold(sqlx::query(&sql).bind(user_id).bind(parent_id), |q, id| q.bind(*id));
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

async fn commit_within(
    mut tx: Transaction<'_, Any>,
    user_id: i64,
    parent_id: i64,
    limit: i64,
) -> Result<Result<i64, OverLimit>, sqlx::Error> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM account_selection WHERE user_id = $1 AND parent_id = $2")
        .bind(user_id)
        .bind(parent_id)
        .fetch_one(&mut *tx)
        .await?;
    if count > limit {
        tx.rollback().await?;
        return Ok(Err(OverLimit { would_be: count }));
    }
    tx.commit().await?;
    Ok(Ok(count))
}

pub async fn clear_selection(pool: &Pool, user_id: i64, parent_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM account_selection WHERE user_id = $1 AND parent_id = $2")
        .bind(user_id)
        .bind(parent_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Who asks for a job, and what.
pub struct NewJob<'a> {
    /// The parent whose accounts it changes.
    pub parent_id: i64,
    pub user_id: i64,
    pub actor: &'a str,
    pub ip: &'a str,
    pub action: &'a str,
}

/// Records a job of every selected account and empties the selection, in one transaction; `None` when nothing was
/// selected.
pub async fn job_from_selection(
    pool: &Pool,
    new: &NewJob<'_>,
    confirmed: Option<&str>,
    now: i64,
) -> Result<Started, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if let Some(confirmed) = confirmed {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT partner_id FROM account_selection WHERE user_id = $1 AND parent_id = $2 ORDER BY partner_id",
        )
        .bind(new.user_id)
        .bind(new.parent_id)
        .fetch_all(&mut *tx)
        .await?;
        if fingerprint(&ids) != confirmed {
            tx.rollback().await?;
            return Ok(Started::Changed);
        }
    }
    let id = insert_job(&mut tx, new, None, now).await?;
    let added = sqlx::query(
        "INSERT INTO bulk_items (job_id, partner_id, state) SELECT $1, partner_id, 'pending' FROM account_selection \
         WHERE user_id = $2 AND parent_id = $3",
    )
    .bind(id)
    .bind(new.user_id)
    .bind(new.parent_id)
    .execute(&mut *tx)
    .await?;
    if added.rows_affected() == 0 {
        tx.rollback().await?;
        return Ok(Started::Empty);
    }
    sqlx::query("DELETE FROM account_selection WHERE user_id = $1 AND parent_id = $2")
        .bind(new.user_id)
        .bind(new.parent_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Started::Job(id))
}

/// What starting a job from the selection did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    Job(i64),
    /// Nothing is selected.
    Empty,
    /// The selection is not the one confirmed (changed in another tab since): nothing was started.
    Changed,
}

/// Names a selection (its sorted ids) in a few characters, so a confirmation can say which one it was about.
pub fn fingerprint(sorted_ids: &[i64]) -> String {
    // FNV-1a over the ids' bytes: cheap, stable across processes and versions.
    let hash = sorted_ids
        .iter()
        .flat_map(|id| id.to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{}-{hash:016x}", sorted_ids.len())
}

/// Records a job of the accounts that failed in job `of`; `None` when none did.
pub async fn job_from_failures(pool: &Pool, of: i64, new: &NewJob<'_>, now: i64) -> Result<Option<i64>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let id = insert_job(&mut tx, new, Some(of), now).await?;
    let added = sqlx::query(
        "INSERT INTO bulk_items (job_id, partner_id, name, state) SELECT $1, partner_id, name, 'pending' \
         FROM bulk_items WHERE job_id = $2 AND state = 'failed'",
    )
    .bind(id)
    .bind(of)
    .execute(&mut *tx)
    .await?;
    if added.rows_affected() == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    tx.commit().await?;
    Ok(Some(id))
}

async fn insert_job(
    tx: &mut Transaction<'_, Any>,
    new: &NewJob<'_>,
    retry_of: Option<i64>,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO bulk_jobs (user_id, actor, ip, action, state, started_at, retry_of, parent_id) \
         VALUES ($1, $2, $3, $4, 'running', $5, $6, $7) RETURNING id",
    )
    .bind(new.user_id)
    .bind(new.actor)
    .bind(new.ip)
    .bind(new.action)
    .bind(now)
    .bind(retry_of)
    .bind(new.parent_id)
    .fetch_one(&mut **tx)
    .await
}

const JOB_COLUMNS: &str = "id, parent_id, user_id, actor, ip, action, started_at, finished_at, retry_of";

/// The runs that retried job `id`'s failures, oldest first: their ids and when they started.
pub async fn retries_of(pool: &Pool, id: i64) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT id, started_at FROM bulk_jobs WHERE retry_of = $1 ORDER BY id")
        .bind(id)
        .fetch_all(pool)
        .await
}

pub async fn job(pool: &Pool, id: i64) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {JOB_COLUMNS} FROM bulk_jobs WHERE id = $1")).bind(id).fetch_optional(pool).await
}

/// The parent's jobs not finished yet that no live process holds, oldest first (new ones, and those of a process
/// that stopped).
pub async fn unclaimed(pool: &Pool, parent_id: i64, now: i64) -> Result<Vec<Job>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM bulk_jobs WHERE state = 'running' AND lease_until < $1 AND parent_id = $2 ORDER BY id"
    ))
    .bind(now)
    .bind(parent_id)
    .fetch_all(pool)
    .await
}

/// How many of a job's accounts are in `state`.
pub async fn count_in(pool: &Pool, job_id: i64, state: ItemState) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM bulk_items WHERE job_id = $1 AND state = $2")
        .bind(job_id)
        .bind(state)
        .fetch_one(pool)
        .await
}

/// A page of a job's accounts in `state`, by partner id.
pub async fn items_in(
    pool: &Pool,
    job_id: i64,
    state: ItemState,
    offset: i64,
    limit: i64,
) -> Result<Vec<Item>, sqlx::Error> {
    sqlx::query_as(
        "SELECT partner_id, name, state, skip, message FROM bulk_items WHERE job_id = $1 AND state = $2 \
         ORDER BY partner_id LIMIT $3 OFFSET $4",
    )
    .bind(job_id)
    .bind(state)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
}

pub async fn pending(pool: &Pool, job_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT partner_id FROM bulk_items WHERE job_id = $1 AND state = 'pending' ORDER BY partner_id")
        .bind(job_id)
        .fetch_all(pool)
        .await
}

pub async fn progress(pool: &Pool, job_id: i64) -> Result<Progress, sqlx::Error> {
    sqlx::query_as(
        "SELECT COUNT(CASE WHEN state <> 'pending' THEN 1 END) AS done, COUNT(*) AS total FROM bulk_items \
         WHERE job_id = $1",
    )
    .bind(job_id)
    .fetch_one(pool)
    .await
}

/// Records what became of some accounts, in one transaction; an account already settled keeps its outcome.
pub async fn settle(pool: &Pool, job_id: i64, settled: &[Settled]) -> Result<(), sqlx::Error> {
    settle_audited(pool, job_id, 0, settled, &[]).await
}

/// Settles accounts and writes their audit entries in one transaction: an outcome is never recorded without its
/// entry, nor the other way round.
pub async fn settle_audited(
    pool: &Pool,
    job_id: i64,
    parent_id: i64,
    settled: &[Settled],
    entries: &[(i64, Entry<'_>)],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    for s in settled {
        sqlx::query(
            "UPDATE bulk_items SET name = $1, state = $2, skip = $3, message = $4 \
             WHERE job_id = $5 AND partner_id = $6 AND state = 'pending'",
        )
        .bind(&s.name)
        .bind(s.state)
        .bind(s.skip)
        .bind(&s.message)
        .bind(job_id)
        .bind(s.partner_id)
        .execute(&mut *tx)
        .await?;
    }
    for (at, entry) in entries {
        audit::record_under(&mut *tx, *at, parent_id, *entry).await?;
    }
    tx.commit().await
}

/// Marks accounts whose status change is about to be sent.
pub async fn mark_sent(pool: &Pool, job_id: i64, ids: &[i64]) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    for id in ids {
        sqlx::query("UPDATE bulk_items SET sent = 1 WHERE job_id = $1 AND partner_id = $2")
            .bind(job_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// The pending accounts of a job whose change was sent with no answer recorded.
pub async fn sent_unsettled(pool: &Pool, job_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT partner_id FROM bulk_items WHERE job_id = $1 AND state = 'pending' AND sent = 1")
        .bind(job_id)
        .fetch_all(pool)
        .await
}

pub async fn finish(pool: &Pool, job_id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE bulk_jobs SET state = 'done', finished_at = $1 WHERE id = $2 AND state = 'running'")
        .bind(now)
        .bind(job_id)
        .execute(pool)
        .await?;
    Ok(())
}
