//! Which parent recorded work belongs to.

use super::Pool;

/// The tables whose rows belong to one parent.
const OWNED: [&str; 4] = ["account_creations", "imports", "bulk_jobs", "account_selection"];

/// Gives the work recorded before the console served several parents (parent 0) to `parent_id`, the parent it
/// served until then; how many rows moved.
pub async fn adopt_unowned(pool: &Pool, parent_id: i64) -> Result<u64, sqlx::Error> {
    let mut moved = 0;
    for table in OWNED {
        let sql = format!("UPDATE {table} SET parent_id = $1 WHERE parent_id = 0");
        moved += sqlx::query(&sql).bind(parent_id).execute(pool).await?.rows_affected();
    }
    Ok(moved)
}
