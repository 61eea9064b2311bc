//! Bulk actions: each user's selection of accounts (`account_selection`), and the jobs that block, unblock or
//! remove them (`bulk_jobs`, `bulk_items`). Lists of ids travel as one JSON array bound to `json_each`, so a
//! selection of thousands is one statement, not thousands.

use sqlx::{Sqlite, SqlitePool, Transaction};

/// Where one account of a job stands, stored as its lowercase name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
pub enum ItemState {
    Pending,
    Changed,
    Skipped,
    Failed,
}

/// Why an account of a job was left as it was, stored as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "TEXT", rename_all = "snake_case")]
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

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    pub user_id: i64,
    pub actor: String,
    pub ip: String,
    /// `block`, `unblock` or `remove`.
    pub action: String,
    pub finished_at: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Item {
    pub partner_id: i64,
    pub name: String,
    pub state: ItemState,
    pub skip: Option<Skip>,
    pub message: String,
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

fn json_ids(ids: &[i64]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())
}

pub async fn selection_count(pool: &SqlitePool, user_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM account_selection WHERE user_id = ?").bind(user_id).fetch_one(pool).await
}

/// Which of `ids` the user has selected.
pub async fn selected_among(pool: &SqlitePool, user_id: i64, ids: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT partner_id FROM account_selection WHERE user_id = ? AND partner_id IN (SELECT value FROM json_each(?))",
    )
    .bind(user_id)
    .bind(json_ids(ids))
    .fetch_all(pool)
    .await
}

pub async fn selection(pool: &SqlitePool, user_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT partner_id FROM account_selection WHERE user_id = ? ORDER BY partner_id")
        .bind(user_id)
        .fetch_all(pool)
        .await
}

/// A page's checkboxes as sent: `shown` leave the selection, `checked` join it. The new count, or nothing changed
/// when it would pass `limit`.
pub async fn set_shown(
    pool: &SqlitePool,
    user_id: i64,
    shown: &[i64],
    checked: &[i64],
    limit: i64,
) -> Result<Result<i64, OverLimit>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM account_selection WHERE user_id = ? AND partner_id IN (SELECT value FROM json_each(?))")
        .bind(user_id)
        .bind(json_ids(shown))
        .execute(&mut *tx)
        .await?;
    add(&mut tx, user_id, checked).await?;
    commit_within(tx, user_id, limit).await
}

/// Adds `ids` to the selection: the new count, or nothing changed when it would pass `limit`.
pub async fn add_all(
    pool: &SqlitePool,
    user_id: i64,
    ids: &[i64],
    limit: i64,
) -> Result<Result<i64, OverLimit>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    add(&mut tx, user_id, ids).await?;
    commit_within(tx, user_id, limit).await
}

async fn add(tx: &mut Transaction<'_, Sqlite>, user_id: i64, ids: &[i64]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT OR IGNORE INTO account_selection (user_id, partner_id) SELECT ?, value FROM json_each(?) \
         WHERE typeof(value) = 'integer'",
    )
    .bind(user_id)
    .bind(json_ids(ids))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn commit_within(
    mut tx: Transaction<'_, Sqlite>,
    user_id: i64,
    limit: i64,
) -> Result<Result<i64, OverLimit>, sqlx::Error> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM account_selection WHERE user_id = ?")
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
    if count > limit {
        tx.rollback().await?;
        return Ok(Err(OverLimit { would_be: count }));
    }
    tx.commit().await?;
    Ok(Ok(count))
}

pub async fn clear_selection(pool: &SqlitePool, user_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM account_selection WHERE user_id = ?").bind(user_id).execute(pool).await?;
    Ok(())
}

/// Who asks for a job, and what.
pub struct NewJob<'a> {
    pub user_id: i64,
    pub actor: &'a str,
    pub ip: &'a str,
    pub action: &'a str,
}

/// Records a job of every selected account and empties the selection, in one transaction; `None` when nothing was
/// selected.
pub async fn job_from_selection(
    pool: &SqlitePool,
    new: &NewJob<'_>,
    confirmed: Option<&str>,
    now: i64,
) -> Result<Started, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if let Some(confirmed) = confirmed {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT partner_id FROM account_selection WHERE user_id = ? ORDER BY partner_id")
                .bind(new.user_id)
                .fetch_all(&mut *tx)
                .await?;
        if fingerprint(&ids) != confirmed {
            tx.rollback().await?;
            return Ok(Started::Changed);
        }
    }
    let id = insert_job(&mut tx, new, now).await?;
    let added = sqlx::query(
        "INSERT INTO bulk_items (job_id, partner_id, state) SELECT ?, partner_id, 'pending' FROM account_selection \
         WHERE user_id = ?",
    )
    .bind(id)
    .bind(new.user_id)
    .execute(&mut *tx)
    .await?;
    if added.rows_affected() == 0 {
        tx.rollback().await?;
        return Ok(Started::Empty);
    }
    sqlx::query("DELETE FROM account_selection WHERE user_id = ?").bind(new.user_id).execute(&mut *tx).await?;
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
pub async fn job_from_failures(
    pool: &SqlitePool,
    of: i64,
    new: &NewJob<'_>,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let id = insert_job(&mut tx, new, now).await?;
    let added = sqlx::query(
        "INSERT INTO bulk_items (job_id, partner_id, name, state) SELECT ?, partner_id, name, 'pending' \
         FROM bulk_items WHERE job_id = ? AND state = 'failed'",
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

async fn insert_job(tx: &mut Transaction<'_, Sqlite>, new: &NewJob<'_>, now: i64) -> Result<i64, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO bulk_jobs (user_id, actor, ip, action, state, started_at) VALUES (?, ?, ?, ?, 'running', ?)",
    )
    .bind(new.user_id)
    .bind(new.actor)
    .bind(new.ip)
    .bind(new.action)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.last_insert_rowid())
}

const JOB_COLUMNS: &str = "id, user_id, actor, ip, action, finished_at";

pub async fn job(pool: &SqlitePool, id: i64) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {JOB_COLUMNS} FROM bulk_jobs WHERE id = ?")).bind(id).fetch_optional(pool).await
}

/// Jobs not finished yet, oldest first (those a restart interrupted included).
pub async fn running(pool: &SqlitePool) -> Result<Vec<Job>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {JOB_COLUMNS} FROM bulk_jobs WHERE state = 'running' ORDER BY id"))
        .fetch_all(pool)
        .await
}

pub async fn items(pool: &SqlitePool, job_id: i64) -> Result<Vec<Item>, sqlx::Error> {
    sqlx::query_as("SELECT partner_id, name, state, skip, message FROM bulk_items WHERE job_id = ? ORDER BY partner_id")
        .bind(job_id)
        .fetch_all(pool)
        .await
}

pub async fn pending(pool: &SqlitePool, job_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT partner_id FROM bulk_items WHERE job_id = ? AND state = 'pending' ORDER BY partner_id")
        .bind(job_id)
        .fetch_all(pool)
        .await
}

pub async fn progress(pool: &SqlitePool, job_id: i64) -> Result<Progress, sqlx::Error> {
    sqlx::query_as(
        "SELECT COALESCE(SUM(state <> 'pending'), 0) AS done, COUNT(*) AS total FROM bulk_items WHERE job_id = ?",
    )
    .bind(job_id)
    .fetch_one(pool)
    .await
}

/// Records what became of some accounts, in one transaction; an account already settled keeps its outcome.
pub async fn settle(pool: &SqlitePool, job_id: i64, settled: &[Settled]) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    for s in settled {
        sqlx::query(
            "UPDATE bulk_items SET name = ?, state = ?, skip = ?, message = ? \
             WHERE job_id = ? AND partner_id = ? AND state = 'pending'",
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
    tx.commit().await
}

pub async fn finish(pool: &SqlitePool, job_id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE bulk_jobs SET state = 'done', finished_at = ? WHERE id = ? AND state = 'running'")
        .bind(now)
        .bind(job_id)
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[sqlx::test(migrations = "./migrations")]
    async fn a_selection_never_passes_its_limit(pool: SqlitePool) {
        assert_eq!(set_shown(&pool, 1, &[1, 2, 3], &[1, 2], 3).await.unwrap(), Ok(2));
        assert_eq!(set_shown(&pool, 1, &[4, 5], &[4, 5], 3).await.unwrap(), Err(OverLimit { would_be: 4 }));
        assert_eq!(selection(&pool, 1).await.unwrap(), vec![1, 2], "nothing changed");
        assert_eq!(set_shown(&pool, 1, &[1, 2, 3], &[3], 3).await.unwrap(), Ok(1), "unticked rows leave");
        assert_eq!(selected_among(&pool, 1, &[1, 3]).await.unwrap(), vec![3]);
        assert_eq!(selection_count(&pool, 2).await.unwrap(), 0, "one selection per user");
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn a_job_takes_the_selection_and_a_retry_takes_the_failures(pool: SqlitePool) {
        add_all(&pool, 1, &[10, 11, 12], 10).await.unwrap().unwrap();
        let new = NewJob { user_id: 1, actor: "a@example.com", ip: "127.0.0.1", action: "block" };
        let stale = fingerprint(&[10, 11]);
        assert_eq!(job_from_selection(&pool, &new, Some(&stale), 1).await.unwrap(), Started::Changed);
        assert_eq!(selection_count(&pool, 1).await.unwrap(), 3, "a refused start leaves the selection");
        let confirmed = fingerprint(&[10, 11, 12]);
        let Started::Job(job) = job_from_selection(&pool, &new, Some(&confirmed), 1).await.unwrap() else {
            panic!("a job")
        };
        assert_eq!(selection_count(&pool, 1).await.unwrap(), 0);
        assert_eq!(job_from_selection(&pool, &new, None, 1).await.unwrap(), Started::Empty, "nothing selected");
        let outcome =
            |id, state| Settled { partner_id: id, name: format!("n{id}"), state, skip: None, message: "".into() };
        settle(&pool, job, &[outcome(10, ItemState::Changed), outcome(11, ItemState::Failed)]).await.unwrap();
        assert_eq!(progress(&pool, job).await.unwrap(), Progress { done: 2, total: 3 });
        let retry = job_from_failures(&pool, job, &new, 2).await.unwrap().expect("a retry");
        assert_eq!(pending(&pool, retry).await.unwrap(), vec![11]);
    }
}
