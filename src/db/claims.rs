//! Jobs run by one process at a time (imports, bulk jobs): a process claims a job until a time it keeps moving on
//! while it works; a process that stops gives it up, one that dies lets it lapse, and another takes the job over.

use super::Pool;

/// The kinds of job, by the table that holds them (each has `state`, `runner` and `lease_until`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    Import,
    BulkJob,
}

impl Work {
    fn table(self) -> &'static str {
        match self {
            Work::Import => "imports",
            Work::BulkJob => "bulk_jobs",
        }
    }
}

/// Takes (or keeps) the claim on a running job until `until`; false when another runner holds it (or it ended).
pub async fn claim(pool: &Pool, work: Work, id: i64, runner: &str, now: i64, until: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(&format!(
        "UPDATE {} SET runner = $1, lease_until = $2 \
         WHERE id = $3 AND state = 'running' AND (lease_until < $4 OR runner = $1)",
        work.table()
    ))
    .bind(runner)
    .bind(until)
    .bind(id)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives the claim up at once (a process stopping), so the next runner need not wait for it to lapse.
pub async fn release(pool: &Pool, work: Work, id: i64, runner: &str) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("UPDATE {} SET lease_until = 0 WHERE id = $1 AND runner = $2", work.table()))
        .bind(id)
        .bind(runner)
        .execute(pool)
        .await?;
    Ok(())
}
