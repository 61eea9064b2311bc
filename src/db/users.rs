//! The `users` table. Rules that must hold under concurrent requests (the quota, the last Publisher Administrator)
//! are checked inside the SQL statement that makes the change.

use serde::Deserialize;
use sqlx::{FromRow, Row as _};
use std::sync::LazyLock;

use super::Pool;
use super::text::stored_as_text;

/// The KMC's user roles. Only Publisher Administrators may manage accounts and users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    PublisherAdministrator,
    Manager,
    ContentManager,
    ContentModerator,
    PlayerDesigner,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::PublisherAdministrator,
        Role::Manager,
        Role::ContentManager,
        Role::ContentModerator,
        Role::PlayerDesigner,
    ];

    /// The KMC's label.
    pub fn label(self) -> &'static str {
        match self {
            Role::PublisherAdministrator => "Publisher Administrator",
            Role::Manager => "Manager",
            Role::ContentManager => "Content Manager",
            Role::ContentModerator => "Content Moderator",
            Role::PlayerDesigner => "Player Designer",
        }
    }

    /// What the role may do, as the Add User form explains it.
    pub fn description(self) -> &'static str {
        match self {
            Role::PublisherAdministrator => {
                "Full control over the publisher account and its users: the only role that can use this console."
            }
            Role::Manager => "Manages content, players and settings in the Rich Media CMS; cannot use this console.",
            Role::ContentManager => "Uploads and manages content in the Rich Media CMS; cannot use this console.",
            Role::ContentModerator => "Reviews and moderates content in the Rich Media CMS; cannot use this console.",
            Role::PlayerDesigner => "Designs players in the Rich Media CMS; cannot use this console.",
        }
    }

    /// The value used in forms, the database and the CLI.
    pub fn key(self) -> &'static str {
        self.stored()
    }

    pub fn is_admin(self) -> bool {
        self == Role::PublisherAdministrator
    }
}

stored_as_text!(Role {
    PublisherAdministrator => "publisher_administrator",
    Manager => "manager",
    ContentManager => "content_manager",
    ContentModerator => "content_moderator",
    PlayerDesigner => "player_designer",
});

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        Role::from_stored(&wanted).ok_or_else(|| {
            let keys: Vec<&str> = Role::ALL.iter().map(|r| r.key()).collect();
            format!("unknown role {s:?}; expected one of {}", keys.join(", "))
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Blocked,
}

stored_as_text!(Status { Active => "active", Blocked => "blocked" });

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Active => "Active",
            Status::Blocked => "Blocked",
        }
    }
}

/// `Debug` leaves the password hash out.
#[derive(Clone, FromRow)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub publisher_user_id: String,
    pub role: Role,
    pub status: Status,
    pub password_hash: String,
    pub last_login_at: Option<i64>,
    /// Bumped whenever the user's access changes; sessions made under another one are over.
    pub session_generation: i64,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("status", &self.status)
            .field("session_generation", &self.session_generation)
            .finish_non_exhaustive()
    }
}

impl User {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }

    pub fn is_active(&self) -> bool {
        self.status == Status::Active
    }
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    /// The KMC uses the login email when no Publisher User ID is given.
    pub publisher_user_id: Option<&'a str>,
    pub role: Role,
    pub password_hash: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error("Email address already exists in the system")]
    DuplicateEmail,
    #[error("Publisher User ID already exists in the system")]
    DuplicatePublisherUserId,
    #[error("the user quota is used up")]
    QuotaReached,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// What became of a change that the last-administrator rule guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Done,
    NotFound,
    /// Refused: it would leave no active Publisher Administrator.
    LastAdmin,
}

/// The longest address mail systems accept (RFC 5321's path limit less the brackets).
pub const MAX_EMAIL: usize = 254;

/// A deliberately loose check: one `@`, something before it, a dotted domain after, no spaces.
pub fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !s.chars().any(char::is_whitespace)
                && s.len() <= MAX_EMAIL
        }
        None => false,
    }
}

const COLUMNS: &str = "id, email, first_name, last_name, publisher_user_id, role, status, password_hash, last_login_at, session_generation";

/// Every change of access ends the user's sessions: they were made under the old generation.
pub(super) const NEW_GENERATION: &str = "session_generation = session_generation + 1";

/// True when the row is the only active Publisher Administrator left.
const IS_LAST_ADMIN: &str = "(role = 'publisher_administrator' AND status = 'active' AND \
     (SELECT COUNT(*) FROM users WHERE role = 'publisher_administrator' AND status = 'active') <= 1)";

pub async fn list(pool: &Pool) -> Result<Vec<User>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users ORDER BY id")).fetch_all(pool).await
}

pub async fn get(pool: &Pool, id: i64) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1")).bind(id).fetch_optional(pool).await
}

/// A user, whether an account creation of theirs has an outcome they have not been told yet, whether they have a
/// second factor, and how many accounts they have selected.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub awaiting_report: bool,
    pub two_factor: bool,
    /// Accounts selected, under every parent.
    pub selected: i64,
    /// They may see every parent (otherwise only those [`parents_of`] lists).
    pub all_parents: bool,
}

impl<'r> FromRow<'r, sqlx::any::AnyRow> for SignedIn {
    fn from_row(row: &'r sqlx::any::AnyRow) -> Result<SignedIn, sqlx::Error> {
        // A flag is selected as 0/1: SQLite has no boolean to decode.
        let flag = |name: &str| row.try_get::<i64, _>(name).map(|v| v != 0);
        Ok(SignedIn {
            user: User::from_row(row)?,
            awaiting_report: flag("awaiting_report")?,
            two_factor: flag("two_factor")?,
            selected: row.try_get("selected")?,
            all_parents: flag("all_parents")?,
        })
    }
}

/// What every request reads of the user a session names: the user, whether the Accounts page has news for them (so
/// a view without news does not ask the creations table again), whether they have a second factor, and the size of
/// their selection (the Accounts page's bar). Qualified by `users.`, for the sessions store's join.
pub(super) static SIGNED_IN_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    let user: Vec<String> = COLUMNS.split(", ").map(|c| format!("users.{c}")).collect();
    format!(
        "{}, CASE WHEN EXISTS (SELECT 1 FROM account_creations c WHERE c.user_id = users.id \
         AND c.reported = 0 AND c.state IN ('created', 'failed')) THEN 1 ELSE 0 END AS awaiting_report, \
         CASE WHEN users.totp_secret IS NULL THEN 0 ELSE 1 END AS two_factor, \
         (SELECT COUNT(*) FROM account_selection s WHERE s.user_id = users.id) AS selected, \
         users.all_parents AS all_parents",
        user.join(", ")
    )
});

/// The user a session names, when the session's own load did not bring them.
pub async fn signed_in(pool: &Pool, id: i64) -> Result<Option<SignedIn>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {} FROM users WHERE id = $1", *SIGNED_IN_COLUMNS))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The parents a user may see: `None` for every one.
pub async fn parents_of(pool: &Pool, id: i64) -> Result<Option<Vec<i64>>, sqlx::Error> {
    let all: Option<i64> =
        sqlx::query_scalar("SELECT all_parents FROM users WHERE id = $1").bind(id).fetch_optional(pool).await?;
    if all.is_none_or(|a| a != 0) {
        return Ok(None);
    }
    let listed = sqlx::query_scalar("SELECT parent_id FROM user_parents WHERE user_id = $1 ORDER BY parent_id")
        .bind(id)
        .fetch_all(pool)
        .await?;
    Ok(Some(listed))
}

/// Every user limited to some parents, with those parents (users not here see every one).
pub async fn limited_to_parents(pool: &Pool) -> Result<Vec<(i64, Vec<i64>)>, sqlx::Error> {
    let rows: Vec<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT users.id, user_parents.parent_id FROM users LEFT JOIN user_parents ON user_parents.user_id = users.id \
         WHERE users.all_parents = 0 ORDER BY users.id, user_parents.parent_id",
    )
    .fetch_all(pool)
    .await?;
    let mut out: Vec<(i64, Vec<i64>)> = Vec::new();
    for (user, parent) in rows {
        if out.last().is_none_or(|(u, _)| *u != user) {
            out.push((user, Vec::new()));
        }
        if let (Some(parent), Some((_, list))) = (parent, out.last_mut()) {
            list.push(parent);
        }
    }
    Ok(out)
}

/// Lets a user see every parent (`None`) or only `only`, ending their sessions. Refused when it would leave no active
/// Publisher Administrator who sees every parent.
pub async fn set_parents(pool: &Pool, id: i64, only: Option<&[i64]>) -> Result<Change, sqlx::Error> {
    let mut tx = pool.begin().await?;
    super::serialize(&mut tx, USERS_TURN).await?;
    let user: Option<(String, String, i64)> =
        sqlx::query_as("SELECT role, status, all_parents FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((role, status, all)) = user else { return Ok(Change::NotFound) };
    if only.is_some() && all != 0 && role == Role::PublisherAdministrator.stored() && status == "active" {
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE role = 'publisher_administrator' AND status = 'active' \
             AND all_parents = 1 AND id != $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if others == 0 {
            return Ok(Change::LastAdmin);
        }
    }
    sqlx::query(&format!("UPDATE users SET all_parents = $1, {NEW_GENERATION} WHERE id = $2"))
        .bind(i64::from(only.is_none()))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM user_parents WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    for parent in only.unwrap_or_default() {
        sqlx::query("INSERT INTO user_parents (user_id, parent_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(parent)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Change::Done)
}

/// Case-insensitive, as emails are unique.
pub async fn find_by_email(pool: &Pool, email: &str) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE lower(email) = lower($1)"))
        .bind(email)
        .fetch_optional(pool)
        .await
}

/// Users counted against the parent's `adminLoginUsersQuota`: every user that can be given access, blocked or not.
pub async fn count(pool: &Pool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(pool).await
}

pub async fn count_active_admins(pool: &Pool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'publisher_administrator' AND status = 'active'")
        .fetch_one(pool)
        .await
}

/// Inserts the user unless that would take the number of users past `quota` (when known).
pub async fn add(pool: &Pool, u: &NewUser<'_>, quota: Option<i64>, now: i64) -> Result<i64, AddError> {
    let mut tx = pool.begin().await?;
    // Two processes adding the last place's user at once: the second counts after the first commits.
    super::serialize(&mut tx, USERS_TURN).await?;
    let inserted = sqlx::query_scalar(
        "INSERT INTO users (email, first_name, last_name, publisher_user_id, role, status, password_hash, created_at)
         SELECT $1, $2, $3, $4, $5, 'active', $6, $7
         WHERE $8 IS NULL OR (SELECT COUNT(*) FROM users) < $9
         RETURNING id",
    )
    .bind(u.email)
    .bind(u.first_name)
    .bind(u.last_name)
    .bind(u.publisher_user_id.unwrap_or(u.email))
    .bind(u.role)
    .bind(u.password_hash)
    .bind(now)
    .bind(quota)
    .bind(quota)
    .fetch_optional(&mut *tx)
    .await;
    match inserted {
        Ok(Some(id)) => {
            tx.commit().await?;
            Ok(id)
        }
        Ok(None) => Err(AddError::QuotaReached),
        // Both columns may clash (the Publisher User ID defaults to the email): the email is the one to report.
        Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
            tx.rollback().await?;
            Err(if find_by_email(pool, u.email).await?.is_some() {
                AddError::DuplicateEmail
            } else {
                AddError::DuplicatePublisherUserId
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Changes to users that a rule over all users guards (the quota, the last administrator) take this turn.
const USERS_TURN: &str = "users";

/// Runs a guarded `UPDATE`/`DELETE` on user `id`: `guard` true means the last-administrator rule applies.
async fn guarded(pool: &Pool, sql: &str, bind: Option<&str>, id: i64, guard: bool) -> Result<Change, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // Two administrators demoting each other through two processes: the second sees the first's change.
    super::serialize(&mut tx, USERS_TURN).await?;
    let mut q = sqlx::query(sql);
    if let Some(value) = bind {
        q = q.bind(value);
    }
    let affected = q.bind(id).bind(!guard).execute(&mut *tx).await?.rows_affected();
    tx.commit().await?;
    if affected > 0 {
        Ok(Change::Done)
    } else if get(pool, id).await?.is_some() {
        Ok(Change::LastAdmin)
    } else {
        Ok(Change::NotFound)
    }
}

pub async fn set_role(pool: &Pool, id: i64, role: Role) -> Result<Change, sqlx::Error> {
    let sql = format!("UPDATE users SET role = $1, {NEW_GENERATION} WHERE id = $2 AND ($3 OR NOT {IS_LAST_ADMIN})");
    guarded(pool, &sql, Some(role.key()), id, !role.is_admin()).await
}

pub async fn set_status(pool: &Pool, id: i64, status: Status) -> Result<Change, sqlx::Error> {
    let value = match status {
        Status::Active => "active",
        Status::Blocked => "blocked",
    };
    let sql = format!("UPDATE users SET status = $1, {NEW_GENERATION} WHERE id = $2 AND ($3 OR NOT {IS_LAST_ADMIN})");
    guarded(pool, &sql, Some(value), id, status == Status::Blocked).await
}

/// Removes the user; one who signed in through the provider is remembered, so its role claim does not bring them
/// back.
pub async fn remove(pool: &Pool, id: i64) -> Result<Change, sqlx::Error> {
    let subject: Option<String> = sqlx::query_scalar("SELECT oidc_subject FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .flatten();
    let sql = format!("DELETE FROM users WHERE id = $1 AND ($2 OR NOT {IS_LAST_ADMIN})");
    let change = guarded(pool, &sql, None, id, true).await?;
    if let (Change::Done, Some(subject)) = (change, subject) {
        sqlx::query("INSERT INTO oidc_removed (subject) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(subject)
            .execute(pool)
            .await?;
    }
    Ok(change)
}

/// Whether an administrator removed the user the provider's `subject` was linked to.
pub async fn subject_removed(pool: &Pool, subject: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM oidc_removed WHERE subject = $1").bind(subject).fetch_optional(pool).await?;
    Ok(found.is_some())
}

/// Sets a new password, ending the user's sessions; the new session generation, or `None` if there is no such user.
pub async fn set_password_hash(pool: &Pool, id: i64, hash: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "UPDATE users SET password_hash = $1, {NEW_GENERATION} WHERE id = $2 RETURNING session_generation"
    ))
    .bind(hash)
    .bind(id)
    .fetch_optional(pool)
    .await
}

pub async fn touch_last_login(pool: &Pool, id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2").bind(now).bind(id).execute(pool).await?;
    Ok(())
}

/// The Accounts page size this user chose last, if any.
pub async fn accounts_page_size(pool: &Pool, id: i64) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT accounts_page_size FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
        .map(Option::flatten)
}

pub async fn set_accounts_page_size(pool: &Pool, id: i64, size: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET accounts_page_size = $1 WHERE id = $2").bind(size).bind(id).execute(pool).await?;
    Ok(())
}

/// The user single sign-on linked to `subject` (the provider's `{issuer} {sub}`).
pub async fn find_by_subject(pool: &Pool, subject: &str) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE oidc_subject = $1"))
        .bind(subject)
        .fetch_optional(pool)
        .await
}

/// The provider identity the user is linked to, if any.
pub async fn linked_subject(pool: &Pool, id: i64) -> Result<Option<String>, sqlx::Error> {
    Ok(sqlx::query_scalar("SELECT oidc_subject FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .flatten())
}

/// Links the user to the provider's `subject` while the user is linked to none and no other user is linked to it
/// (false otherwise): a link is never overwritten.
pub async fn link_subject(pool: &Pool, id: i64, subject: &str) -> Result<bool, sqlx::Error> {
    link_where(pool, id, subject, "oidc_subject IS NULL").await
}

/// [`link_subject`] for a link made by email: only an active user who is no Publisher Administrator and has no
/// second factor, checked in the same statement.
pub async fn link_subject_by_email(pool: &Pool, id: i64, subject: &str) -> Result<bool, sqlx::Error> {
    let rule =
        "oidc_subject IS NULL AND status = 'active' AND role <> 'publisher_administrator' AND totp_secret IS NULL";
    link_where(pool, id, subject, rule).await
}

async fn link_where(pool: &Pool, id: i64, subject: &str, rule: &str) -> Result<bool, sqlx::Error> {
    let sql = format!("UPDATE users SET oidc_subject = $1 WHERE id = $2 AND {rule}");
    match sqlx::query(&sql).bind(subject).bind(id).execute(pool).await {
        Ok(done) => Ok(done.rows_affected() == 1),
        Err(sqlx::Error::Database(d)) if d.is_unique_violation() => Ok(false),
        Err(e) => Err(e),
    }
}
