//! Add Account requests (`account_creations`): recorded before partner.register is sent, settled afterwards.

use super::Pool;
use super::text::stored_as_text;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Creation {
    pub id: i64,
    /// The parent it was made under.
    pub parent_id: i64,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreationState {
    /// partner.register is under way.
    Sending,
    /// No answer came: the reconciler is looking.
    Unknown,
    Created,
    Failed,
}

stored_as_text!(CreationState { Sending => "sending", Unknown => "unknown", Created => "created", Failed => "failed" });

impl CreationState {
    pub fn is_settled(self) -> bool {
        matches!(self, CreationState::Created | CreationState::Failed)
    }
}

/// What the console reads back of a request; the rest of the row is its record.
const COLUMNS: &str = "id, parent_id, user_id, actor, ip, name, admin_email, state, partner_id, message, started_at";

/// What a new request needs to be recorded.
pub struct NewCreation<'a> {
    pub request_key: &'a str,
    pub parent_id: i64,
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
    /// The process that sends it (see [`super::locks::PROCESS`]).
    pub runner: &'a str,
}

#[derive(Debug)]
pub enum Recorded {
    New(i64),
    /// This form was submitted before: the earlier request.
    Duplicate(Box<Creation>),
    /// Another creation for this administrator email is still under way.
    EmailInFlight,
}

pub async fn record(pool: &Pool, c: &NewCreation<'_>, now: i64) -> Result<Recorded, sqlx::Error> {
    if let Some(existing) = by_key(pool, c.request_key).await? {
        return Ok(Recorded::Duplicate(Box::new(existing)));
    }
    let inserted = sqlx::query_scalar(
        "INSERT INTO account_creations (request_key, user_id, actor, ip, admin_name, name, admin_email, phone, \
         website, reference_id, template_id, state, started_at, reported, runner, parent_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'sending', $12, $13, $14, $15) RETURNING id",
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
    .bind(i64::from(c.reported))
    .bind(c.runner)
    .bind(c.parent_id)
    .fetch_one(pool)
    .await;
    match inserted {
        Ok(id) => Ok(Recorded::New(id)),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => match by_key(pool, c.request_key).await? {
            // Two submissions of one form racing: the other one won.
            Some(existing) => Ok(Recorded::Duplicate(Box::new(existing))),
            None => Ok(Recorded::EmailInFlight),
        },
        Err(e) => Err(e),
    }
}

pub async fn by_key(pool: &Pool, key: &str) -> Result<Option<Creation>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM account_creations WHERE request_key = $1"))
        .bind(key)
        .fetch_optional(pool)
        .await
}

pub async fn get(pool: &Pool, id: i64) -> Result<Option<Creation>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM account_creations WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The parent's requests still under way or unresolved: they count against its quota until settled.
pub async fn count_in_flight(pool: &Pool, parent_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM account_creations WHERE state IN ('sending', 'unknown') AND parent_id = $1",
    )
    .bind(parent_id)
    .fetch_one(pool)
    .await
}

/// What counts against the quota of a parent Kaltura reported at `read_at`: the requests still under way or unresolved, and
/// those created since (Kaltura's count may not hold them). A creation settled in the second of the read may be in
/// both, so a count that comes up short because of those is worth reading again rather than final.
pub async fn count_against_quota(pool: &Pool, parent_id: i64, read_at: i64) -> Result<QuotaUse, sqlx::Error> {
    let (in_flight, created_since): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE state IN ('sending', 'unknown')), \
                COUNT(*) FILTER (WHERE state = 'created' AND finished_at >= $1) \
         FROM account_creations WHERE parent_id = $2 AND (state IN ('sending', 'unknown') OR finished_at >= $1)",
    )
    .bind(read_at)
    .bind(parent_id)
    .fetch_one(pool)
    .await?;
    Ok(QuotaUse { in_flight, created_since })
}

/// Creations the quota Kaltura reported may not count yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaUse {
    pub in_flight: i64,
    pub created_since: i64,
}

impl QuotaUse {
    pub fn total(self) -> i64 {
        self.in_flight + self.created_since
    }
}

/// The administrator emails of the requests still under way or unresolved, under any parent (one creation per
/// email at a time, wherever it is made).
pub async fn emails_in_flight(pool: &Pool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT admin_email FROM account_creations WHERE state IN ('sending', 'unknown')")
        .fetch_all(pool)
        .await
}

/// Moves a request out of `sending`/`unknown`; false when it was already settled (by another path).
pub async fn settle(
    pool: &Pool,
    id: i64,
    state: CreationState,
    partner_id: Option<i64>,
    message: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE account_creations SET state = $1, partner_id = $2, message = $3, finished_at = $4 \
         WHERE id = $5 AND state IN ('sending', 'unknown')",
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
pub async fn mark_unknown(pool: &Pool, id: i64, message: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE account_creations SET state = 'unknown', message = $1 WHERE id = $2 AND state = 'sending'")
        .bind(message)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// A request still `sending` whose process is gone (stopped, or died: its lease lapsed) gets no answer any more: it
/// becomes `unknown`, for the reconciler.
pub async fn orphaned_to_unknown(pool: &Pool, now: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE account_creations SET state = 'unknown', message = 'The console stopped before Kaltura answered.' \
         WHERE state = 'sending' AND NOT EXISTS \
         (SELECT 1 FROM locks WHERE locks.name = $1 || account_creations.runner AND locks.until >= $2)",
    )
    .bind(super::locks::PROCESS)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// The parent's requests whose outcome only its Kaltura can tell.
pub async fn unresolved(pool: &Pool, parent_id: i64) -> Result<Vec<Creation>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM account_creations WHERE state = 'unknown' AND parent_id = $1 ORDER BY id"
    ))
    .bind(parent_id)
    .fetch_all(pool)
    .await
}

/// Marks a settled outcome as shown; true only for the one caller that gets to show it.
pub async fn claim_report(pool: &Pool, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE account_creations SET reported = 1 WHERE id = $1 AND reported = 0 AND state IN ('created', 'failed')",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Settled outcomes this user has not seen yet.
pub async fn unreported_for(pool: &Pool, user_id: i64) -> Result<Vec<Creation>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM account_creations WHERE user_id = $1 AND reported = 0 AND state IN ('created', 'failed') \
         ORDER BY id"
    ))
    .bind(user_id)
    .fetch_all(pool)
    .await
}
