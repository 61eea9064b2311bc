//! Add Account requests (`account_creations`): recorded before partner.register is sent, settled afterwards.

use sqlx::SqlitePool;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Creation {
    pub id: i64,
    pub user_id: i64,
    pub actor: String,
    pub ip: String,
    pub name: String,
    pub admin_email: String,
    pub state: CreationState,
    pub partner_id: Option<i64>,
    pub message: String,
    pub started_at: i64,
}

/// Where a creation stands, stored as its lowercase name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
pub enum CreationState {
    /// partner.register is under way.
    Sending,
    /// No answer came: the reconciler is looking.
    Unknown,
    Created,
    Failed,
}

impl CreationState {
    pub fn is_settled(self) -> bool {
        matches!(self, CreationState::Created | CreationState::Failed)
    }
}

/// What the console reads back of a request; the rest of the row is its record.
const COLUMNS: &str = "id, user_id, actor, ip, name, admin_email, state, partner_id, message, started_at";

/// What a new request needs to be recorded.
pub struct NewCreation<'a> {
    pub request_key: &'a str,
    pub user_id: i64,
    pub actor: &'a str,
    pub ip: &'a str,
    pub admin_name: &'a str,
    pub name: &'a str,
    pub admin_email: &'a str,
    pub phone: &'a str,
    pub website: Option<&'a str>,
    pub reference_id: Option<&'a str>,
    pub template_id: i64,
    /// Whose outcome is shown elsewhere (an import's result), so never as a message on the Accounts page.
    pub reported: bool,
}

#[derive(Debug)]
pub enum Recorded {
    New(i64),
    /// This form was submitted before: the earlier request.
    Duplicate(Box<Creation>),
    /// Another creation for this administrator email is still under way.
    EmailInFlight,
}

pub async fn record(pool: &SqlitePool, c: &NewCreation<'_>, now: i64) -> Result<Recorded, sqlx::Error> {
    if let Some(existing) = by_key(pool, c.request_key).await? {
        return Ok(Recorded::Duplicate(Box::new(existing)));
    }
    let inserted = sqlx::query(
        "INSERT INTO account_creations (request_key, user_id, actor, ip, admin_name, name, admin_email, phone, \
         website, reference_id, template_id, state, started_at, reported) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'sending', ?, ?)",
    )
    .bind(c.request_key)
    .bind(c.user_id)
    .bind(c.actor)
    .bind(c.ip)
    .bind(c.admin_name)
    .bind(c.name)
    .bind(c.admin_email)
    .bind(c.phone)
    .bind(c.website)
    .bind(c.reference_id)
    .bind(c.template_id)
    .bind(now)
    .bind(c.reported)
    .execute(pool)
    .await;
    match inserted {
        Ok(done) => Ok(Recorded::New(done.last_insert_rowid())),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => match by_key(pool, c.request_key).await? {
            // Two submissions of one form racing: the other one won.
            Some(existing) => Ok(Recorded::Duplicate(Box::new(existing))),
            None => Ok(Recorded::EmailInFlight),
        },
        Err(e) => Err(e),
    }
}

pub async fn by_key(pool: &SqlitePool, key: &str) -> Result<Option<Creation>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM account_creations WHERE request_key = ?"))
        .bind(key)
        .fetch_optional(pool)
        .await
}

pub async fn get(pool: &SqlitePool, id: i64) -> Result<Option<Creation>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM account_creations WHERE id = ?")).bind(id).fetch_optional(pool).await
}

/// Requests still under way or unresolved: they count against the quota until settled.
pub async fn count_in_flight(pool: &SqlitePool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM account_creations WHERE state IN ('sending', 'unknown')")
        .fetch_one(pool)
        .await
}

/// The administrator emails of the requests still under way or unresolved.
pub async fn emails_in_flight(pool: &SqlitePool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT admin_email FROM account_creations WHERE state IN ('sending', 'unknown')")
        .fetch_all(pool)
        .await
}

/// Moves a request out of `sending`/`unknown`; false when it was already settled (by another path).
pub async fn settle(
    pool: &SqlitePool,
    id: i64,
    state: CreationState,
    partner_id: Option<i64>,
    message: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE account_creations SET state = ?, partner_id = ?, message = ?, finished_at = ? \
         WHERE id = ? AND state IN ('sending', 'unknown')",
    )
    .bind(state)
    .bind(partner_id)
    .bind(message)
    .bind(now)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// No answer came: the reconciler takes over.
pub async fn mark_unknown(pool: &SqlitePool, id: i64, message: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE account_creations SET state = 'unknown', message = ? WHERE id = ? AND state = 'sending'")
        .bind(message)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// At start-up no request can still be waiting for its answer: every `sending` one becomes `unknown`.
pub async fn orphaned_to_unknown(pool: &SqlitePool) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE account_creations SET state = 'unknown', message = 'The console stopped before Kaltura answered.' \
         WHERE state = 'sending'",
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

pub async fn unresolved(pool: &SqlitePool) -> Result<Vec<Creation>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM account_creations WHERE state = 'unknown' ORDER BY id"))
        .fetch_all(pool)
        .await
}

/// Marks a settled outcome as shown; true only for the one caller that gets to show it.
pub async fn claim_report(pool: &SqlitePool, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE account_creations SET reported = 1 WHERE id = ? AND reported = 0 AND state IN ('created', 'failed')",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Settled outcomes this user has not seen yet.
pub async fn unreported_for(pool: &SqlitePool, user_id: i64) -> Result<Vec<Creation>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM account_creations WHERE user_id = ? AND reported = 0 AND state IN ('created', 'failed') \
         ORDER BY id"
    ))
    .bind(user_id)
    .fetch_all(pool)
    .await
}
