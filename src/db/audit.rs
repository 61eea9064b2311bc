//! The append-only audit log: sign-ins, failures, lock-outs, every change to users and every account action; read
//! back, filtered and paged, by the Audit page.

use super::text::stored_as_text;
use super::{Engine, Pool};
use futures_util::{Stream, stream};

/// One line of the log. `actor` is the signed-in user's email (or `cli` / `system`), `ip` where the request came from.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub actor: &'a str,
    pub ip: &'a str,
    pub action: AuditAction,
    pub target: &'a str,
    pub result: Outcome,
    pub details: &'a str,
}

/// How an action ended, stored as `ok` / `refused`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Refused,
}

stored_as_text!(Outcome { Ok => "ok", Refused => "refused" });

/// Everything the log records, stored as its code (`account.block`); the label is how pages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    Login,
    LoginFailure,
    LoginLockout,
    LoginRefused,
    LoginSso,
    LoginSsoRefused,
    LoginCodeFailure,
    StepUp,
    Logout,
    UserAdd,
    UserRole,
    UserParents,
    UserBlock,
    UserUnblock,
    UserRemove,
    UserPassword,
    UserBootstrap,
    UserTwoFactorEnrol,
    UserTwoFactorDisable,
    UserTwoFactorReset,
    UserTwoFactorRecoveryCodes,
    UserSsoLink,
    AccountCreate,
    AccountBlock,
    AccountUnblock,
    AccountRemove,
    AccountKmcLogin,
    AccountEdit,
    AccountImport,
    RetentionPurge,
}

impl AuditAction {
    pub const ALL: [AuditAction; 30] = [
        AuditAction::Login,
        AuditAction::LoginFailure,
        AuditAction::LoginLockout,
        AuditAction::LoginRefused,
        AuditAction::LoginSso,
        AuditAction::LoginSsoRefused,
        AuditAction::LoginCodeFailure,
        AuditAction::StepUp,
        AuditAction::Logout,
        AuditAction::UserAdd,
        AuditAction::UserRole,
        AuditAction::UserParents,
        AuditAction::UserBlock,
        AuditAction::UserUnblock,
        AuditAction::UserRemove,
        AuditAction::UserPassword,
        AuditAction::UserBootstrap,
        AuditAction::UserTwoFactorEnrol,
        AuditAction::UserTwoFactorDisable,
        AuditAction::UserTwoFactorReset,
        AuditAction::UserTwoFactorRecoveryCodes,
        AuditAction::UserSsoLink,
        AuditAction::AccountCreate,
        AuditAction::AccountBlock,
        AuditAction::AccountUnblock,
        AuditAction::AccountRemove,
        AuditAction::AccountKmcLogin,
        AuditAction::AccountEdit,
        AuditAction::AccountImport,
        AuditAction::RetentionPurge,
    ];

    pub fn code(self) -> &'static str {
        self.describe().0
    }

    pub fn label(self) -> &'static str {
        self.describe().1
    }

    pub fn from_code(code: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.code() == code)
    }

    fn describe(self) -> (&'static str, &'static str) {
        match self {
            AuditAction::Login => ("login", "Sign-in"),
            AuditAction::LoginFailure => ("login.failure", "Failed sign-in"),
            AuditAction::LoginLockout => ("login.lockout", "Sign-in locked after failures"),
            AuditAction::LoginRefused => ("login.refused", "Sign-in refused while locked"),
            AuditAction::LoginSso => ("login.sso", "Single sign-on"),
            AuditAction::LoginSsoRefused => ("login.sso_refused", "Single sign-on refused"),
            AuditAction::LoginCodeFailure => ("login.2fa_failure", "Wrong two-factor code at sign-in"),
            AuditAction::StepUp => ("login.step_up", "Identity confirmed for sensitive changes"),
            AuditAction::Logout => ("logout", "Sign-out"),
            AuditAction::UserAdd => ("user.add", "User added"),
            AuditAction::UserRole => ("user.role", "User role changed"),
            AuditAction::UserParents => ("user.parents", "User's parents changed"),
            AuditAction::UserBlock => ("user.block", "User blocked"),
            AuditAction::UserUnblock => ("user.unblock", "User unblocked"),
            AuditAction::UserRemove => ("user.remove", "User removed"),
            AuditAction::UserPassword => ("user.password", "User password changed"),
            AuditAction::UserBootstrap => ("user.bootstrap", "First administrator set up"),
            AuditAction::UserTwoFactorEnrol => ("user.2fa_enrol", "Two-factor sign-in set up"),
            AuditAction::UserTwoFactorDisable => ("user.2fa_disable", "Two-factor sign-in turned off"),
            AuditAction::UserTwoFactorReset => ("user.2fa_reset", "Two-factor sign-in reset"),
            AuditAction::UserTwoFactorRecoveryCodes => ("user.2fa_recovery_codes", "New recovery codes made"),
            AuditAction::UserSsoLink => ("user.sso_link", "User linked to a single sign-on identity"),
            AuditAction::AccountCreate => ("account.create", "Account created"),
            AuditAction::AccountBlock => ("account.block", "Account blocked"),
            AuditAction::AccountUnblock => ("account.unblock", "Account unblocked"),
            AuditAction::AccountRemove => ("account.remove", "Account removed"),
            AuditAction::AccountKmcLogin => ("account.kmc_login", "Rich Media CMS Login"),
            AuditAction::AccountEdit => ("account.edit", "Account details changed"),
            AuditAction::AccountImport => ("account.import", "Accounts import started"),
            AuditAction::RetentionPurge => ("retention.purge", "Old records removed"),
        }
    }
}

/// Appends the entry, as of `at` (Unix seconds).
pub async fn record<'c, E>(db: E, at: i64, e: Entry<'_>) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    insert(db, at, None, e).await
}

/// [`record`] of an entry about one parent's accounts, imports or jobs.
pub async fn record_under<'c, E>(db: E, at: i64, parent_id: i64, e: Entry<'_>) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    insert(db, at, Some(parent_id), e).await
}

async fn insert<'c, E>(db: E, at: i64, parent_id: Option<i64>, e: Entry<'_>) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO audit_log (at, actor, ip, action, target, result, details, parent_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(at)
    .bind(e.actor)
    .bind(e.ip)
    .bind(e.action.code())
    .bind(e.target)
    .bind(e.result)
    .bind(e.details)
    .bind(parent_id)
    .execute(db)
    .await?;
    Ok(())
}

/// A line as stored, for the Audit page and its export.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Logged {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub ip: String,
    pub action: String,
    pub target: String,
    pub result: Outcome,
    pub details: String,
    /// The parent it is about, if any.
    pub parent_id: Option<i64>,
}

impl Logged {
    pub fn is_ok(&self) -> bool {
        self.result == Outcome::Ok
    }
}

/// Which lines to read; each field that is set narrows the selection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Part of the actor's email, in any case.
    pub actor_contains: Option<String>,
    /// An action code (`account.block`), or a family written `account.*`: the code `account` and every `account.…`.
    pub action: Option<String>,
    /// The whole target in any case: a partner id for account actions, an email for user actions and sign-ins.
    pub target: Option<String>,
    /// [`Outcome::Refused`] selects every line that is not ok.
    pub result: Option<Outcome>,
    /// Unix time, inclusive.
    pub since: Option<i64>,
    /// Unix time, exclusive.
    pub before: Option<i64>,
    /// Entries about this parent only.
    pub parent: Option<i64>,
}

const COLUMNS: &str = "SELECT id, at, actor, ip, action, target, result, details, parent_id FROM audit_log";

/// `%` and `_` typed by a user are literal characters, not wildcards.
fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// A value bound to a filter's placeholder.
#[derive(Debug, Clone)]
enum Value {
    Text(String),
    Int(i64),
}

/// A statement's text with numbered placeholders, and what they stand for (sqlx's query builder writes `?` for
/// `Any`, which PostgreSQL does not read).
#[derive(Debug, Default)]
struct Statement {
    sql: String,
    values: Vec<Value>,
}

impl Statement {
    fn new(sql: &str) -> Statement {
        Statement { sql: sql.to_owned(), values: Vec::new() }
    }

    fn push(&mut self, sql: &str) -> &mut Statement {
        self.sql.push_str(sql);
        self
    }

    fn bind(&mut self, value: Value) -> &mut Statement {
        self.values.push(value);
        self.sql.push_str(&format!("${}", self.values.len()));
        self
    }

    fn text(&mut self, value: String) -> &mut Statement {
        self.bind(Value::Text(value))
    }

    fn int(&mut self, value: i64) -> &mut Statement {
        self.bind(Value::Int(value))
    }

    fn query_as<T>(&self) -> sqlx::query::QueryAs<'_, sqlx::Any, T, sqlx::any::AnyArguments<'_>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        self.values.iter().fold(sqlx::query_as(&self.sql), |q, v| match v {
            Value::Text(t) => q.bind(t.as_str()),
            Value::Int(i) => q.bind(*i),
        })
    }

    /// Only the filter: `WHERE …`.
    fn filter(&mut self, f: &Filter) {
        self.push(" WHERE 1 = 1");
        if let Some(actor) = &f.actor_contains {
            self.push(" AND lower(actor) LIKE lower(").text(format!("%{}%", escape_like(actor))).push(") ESCAPE '\\'");
        }
        match f.action.as_deref().map(|a| (a, a.strip_suffix(".*"))) {
            Some((_, Some(family))) => {
                self.push(" AND (action = ").text(family.to_owned());
                self.push(" OR action LIKE ").text(format!("{}.%", escape_like(family))).push(" ESCAPE '\\')");
            }
            Some((code, None)) => {
                self.push(" AND action = ").text(code.to_owned());
            }
            None => {}
        }
        if let Some(target) = &f.target {
            self.push(" AND lower(target) = lower(").text(target.clone()).push(")");
        }
        match f.result {
            Some(Outcome::Ok) => self.push(" AND result = 'ok'"),
            Some(Outcome::Refused) => self.push(" AND result <> 'ok'"),
            None => self,
        };
        if let Some(since) = f.since {
            self.push(" AND at >= ").int(since);
        }
        if let Some(before) = f.before {
            self.push(" AND at < ").int(before);
        }
        if let Some(parent) = f.parent {
            self.push(" AND parent_id = ").int(parent);
        }
    }
}

/// How many lines match.
pub async fn count(pool: &Pool, f: &Filter) -> Result<i64, sqlx::Error> {
    let mut q = Statement::new("SELECT COUNT(*) FROM audit_log");
    q.filter(f);
    let (count,): (i64,) = q.query_as().fetch_one(pool).await?;
    Ok(count)
}

/// One page of matching lines, newest first.
pub async fn page(pool: &Pool, f: &Filter, limit: i64, offset: i64) -> Result<Vec<Logged>, sqlx::Error> {
    let mut q = Statement::new(COLUMNS);
    q.filter(f);
    q.push(" ORDER BY id DESC LIMIT ").int(limit).push(" OFFSET ").int(offset);
    q.query_as().fetch_all(pool).await
}

/// Lines per query when streaming.
const BATCH: i64 = 500;

/// Every matching line, newest first, in batches. Each batch is a short query of its own (the next starts below the
/// last id seen), so a slow download holds no connection, and lines logged meanwhile do not shift it. On SQLite the
/// batches walk down the rowid without other indexes: an index would make each batch gather and sort every match
/// again, while the walk reads each line once over the whole export.
pub fn stream(pool: Pool, f: Filter) -> impl Stream<Item = Result<Vec<Logged>, sqlx::Error>> + Send + 'static {
    stream::try_unfold(Some(i64::MAX), move |below| {
        let (pool, f) = (pool.clone(), f.clone());
        async move {
            let Some(below) = below else { return Ok(None) };
            let mut q = Statement::new(COLUMNS);
            if super::engine(&pool) == Engine::Sqlite {
                q.push(" NOT INDEXED");
            }
            q.filter(&f);
            q.push(" AND id < ").int(below).push(" ORDER BY id DESC LIMIT ").int(BATCH);
            let batch: Vec<Logged> = q.query_as().fetch_all(&pool).await?;
            let next = if batch.len() < BATCH as usize { None } else { batch.last().map(|l| l.id) };
            Ok((!batch.is_empty()).then_some((batch, next)))
        }
    })
}

/// The action codes the log holds, in order.
pub async fn actions(pool: &Pool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT DISTINCT action FROM audit_log ORDER BY action").fetch_all(pool).await
}
