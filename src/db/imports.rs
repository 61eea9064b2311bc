//! CSV imports (`imports`, `import_rows`): the rows as uploaded and checked, each row's outcome, and which process
//! runs an import (a claim that lapses, so a console that stopped is taken over).

use super::Pool;
use super::text::stored_as_text;

/// Where an import stands, stored as its lowercase name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportState {
    Preview,
    Running,
    Done,
    Discarded,
}

stored_as_text!(ImportState { Preview => "preview", Running => "running", Done => "done", Discarded => "discarded" });

/// Where a row stands, stored as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowState {
    /// Not sent: the message says what is wrong.
    Invalid,
    /// An account with this administrator email exists (its id in `partner_id`), or is being created.
    Exists,
    /// Valid, beyond the accounts remaining in the quota.
    LeftOut,
    /// To be sent.
    Pending,
    /// Recorded as an account creation and sent to Kaltura.
    Sending,
    Created,
    /// Kaltura refused it (its message), or never made it.
    Failed,
}

stored_as_text!(RowState {
    Invalid => "invalid",
    Exists => "exists",
    LeftOut => "left_out",
    Pending => "pending",
    Sending => "sending",
    Created => "created",
    Failed => "failed",
});

impl RowState {
    /// Nothing more will happen to the row.
    pub fn is_final(self) -> bool {
        !matches!(self, RowState::Pending | RowState::Sending)
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Import {
    pub id: i64,
    /// The parent whose accounts it creates.
    pub parent_id: i64,
    pub user_id: i64,
    pub actor: String,
    pub ip: String,
    pub file_name: String,
    pub columns: String,
    pub state: ImportState,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub to_send: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    pub row_no: i64,
    pub admin_name: String,
    pub name: String,
    pub admin_email: String,
    pub phone: String,
    pub website: String,
    pub template_id: String,
    pub reference_id: String,
    pub state: RowState,
    pub message: String,
    pub partner_id: Option<i64>,
}

const IMPORT_COLUMNS: &str =
    "id, parent_id, user_id, actor, ip, file_name, columns, state, created_at, started_at, finished_at, to_send";
const ROW_COLUMNS: &str = "row_no, admin_name, name, admin_email, phone, website, template_id, reference_id, state, \
                           message, partner_id";

/// Who uploads what.
pub struct NewImport<'a> {
    pub parent_id: i64,
    pub user_id: i64,
    pub actor: &'a str,
    pub ip: &'a str,
    pub file_name: &'a str,
    pub columns: &'a str,
}

/// Records a checked file and its rows, in one transaction.
pub async fn create(pool: &Pool, new: &NewImport<'_>, rows: &[Row], now: i64) -> Result<i64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO imports (user_id, actor, ip, file_name, columns, state, created_at, parent_id) \
         VALUES ($1, $2, $3, $4, $5, 'preview', $6, $7) RETURNING id",
    )
    .bind(new.user_id)
    .bind(new.actor)
    .bind(new.ip)
    .bind(new.file_name)
    .bind(new.columns)
    .bind(now)
    .bind(new.parent_id)
    .fetch_one(&mut *tx)
    .await?;
    for r in rows {
        sqlx::query(&format!(
            "INSERT INTO import_rows (import_id, {ROW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(id)
        .bind(r.row_no)
        .bind(&r.admin_name)
        .bind(&r.name)
        .bind(&r.admin_email)
        .bind(&r.phone)
        .bind(&r.website)
        .bind(&r.template_id)
        .bind(&r.reference_id)
        .bind(r.state)
        .bind(&r.message)
        .bind(r.partner_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(id)
}

pub async fn get(pool: &Pool, id: i64) -> Result<Option<Import>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {IMPORT_COLUMNS} FROM imports WHERE id = $1")).bind(id).fetch_optional(pool).await
}

/// The parent's latest imports, newest first.
pub async fn recent(pool: &Pool, parent_id: i64, limit: i64) -> Result<Vec<Import>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {IMPORT_COLUMNS} FROM imports WHERE state != 'discarded' AND parent_id = $1 ORDER BY id DESC LIMIT $2"
    ))
    .bind(parent_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn rows(pool: &Pool, id: i64) -> Result<Vec<Row>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {ROW_COLUMNS} FROM import_rows WHERE import_id = $1 ORDER BY row_no"))
        .bind(id)
        .fetch_all(pool)
        .await
}

/// How many rows are in each state.
pub async fn counts(pool: &Pool, id: i64) -> Result<Vec<(RowState, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT state, COUNT(*) FROM import_rows WHERE import_id = $1 GROUP BY state")
        .bind(id)
        .fetch_all(pool)
        .await
}

/// Preview → running, once: the rows to create are those the preview said (rows left out stay out; the quota is
/// checked again row by row as they are sent). False when the import was started (or discarded) already.
pub async fn start(pool: &Pool, id: i64, now: i64) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let started =
        sqlx::query("UPDATE imports SET state = 'running', started_at = $1 WHERE id = $2 AND state = 'preview'")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
    if started {
        sqlx::query(
            "UPDATE imports SET to_send = (SELECT COUNT(*) FROM import_rows WHERE import_id = $1 AND state = 'pending') \
             WHERE id = $2",
        )
        .bind(id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(started)
}

/// Deletes a preview and its rows (nothing of it was sent); false when it was started already.
pub async fn discard(pool: &Pool, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM imports WHERE id = $1 AND state = 'preview'").bind(id).execute(pool).await?;
    Ok(done.rows_affected() == 1)
}

/// The parent's running imports nobody holds a claim on (the console that ran them stopped).
pub async fn unclaimed(pool: &Pool, parent_id: i64, now: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM imports WHERE state = 'running' AND lease_until < $1 AND parent_id = $2 ORDER BY id",
    )
    .bind(now)
    .bind(parent_id)
    .fetch_all(pool)
    .await
}

pub async fn set_row(
    pool: &Pool,
    id: i64,
    row_no: i64,
    state: RowState,
    message: &str,
    partner_id: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE import_rows SET state = $1, message = $2, partner_id = $3 WHERE import_id = $4 AND row_no = $5",
    )
    .bind(state)
    .bind(message)
    .bind(partner_id)
    .bind(id)
    .bind(row_no)
    .execute(pool)
    .await?;
    Ok(())
}

/// Running → done once no row is left to send; true when this call finished it.
pub async fn finish_if_settled(pool: &Pool, id: i64, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE imports SET state = 'done', finished_at = $1, lease_until = 0 WHERE id = $2 AND state = 'running' \
         AND NOT EXISTS (SELECT 1 FROM import_rows WHERE import_id = $3 AND state IN ('pending', 'sending'))",
    )
    .bind(now)
    .bind(id)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
