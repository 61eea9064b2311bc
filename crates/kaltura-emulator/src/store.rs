//! The emulator's state in SQLite: partners, their logins, and the partner.list filter semantics.

use sha1::{Digest, Sha1};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

use super::params::Params;
use kaltura::random_secret;

pub const STATUS_ACTIVE: i64 = 1;
pub const STATUS_BLOCKED: i64 = 2;
pub const STATUS_REMOVED: i64 = 3;
pub const STATUS_READ_ONLY: i64 = 4;
pub const GROUP_PUBLISHER: i64 = 1;
pub const GROUP_VAR: i64 = 2;
pub const GROUP_GROUP: i64 = 3;
pub const GROUP_TEMPLATE: i64 = 4;
pub const FEATURE_VAR_CONSOLE_LOGIN: &str = "FEATURE_VAR_CONSOLE_LOGIN";
pub const FEATURE_MULTI_ACCOUNT_ANALYTICS: &str = "FEATURE_MULTI_ACCOUNT_ANALYTICS";

#[derive(Clone, sqlx::FromRow)]
pub struct Partner {
    pub id: i64,
    pub name: String,
    pub website: Option<String>,
    pub created_at: i64,
    pub admin_name: Option<String>,
    pub admin_email: Option<String>,
    pub description: Option<String>,
    pub phone: Option<String>,
    pub partner_type: i64,
    pub status: i64,
    pub partner_package: i64,
    pub secret: String,
    pub admin_secret: String,
    pub admin_login_users_quota: i64,
    pub admin_user_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub country: Option<String>,
    pub state: Option<String>,
    pub publishers_quota: i64,
    pub partner_group_type: i64,
    pub template_partner_id: Option<i64>,
    pub partner_parent_id: Option<i64>,
    pub reference_id: Option<String>,
    pub monitor_usage: i64,
    pub features: String,
}

impl std::fmt::Debug for Partner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Partner")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("status", &self.status)
            .field("partner_parent_id", &self.partner_parent_id)
            .finish_non_exhaustive()
    }
}

impl Partner {
    pub fn has_feature(&self, feature: &str) -> bool {
        self.features.split(',').any(|f| f.trim() == feature)
    }

    /// Whether API calls may act for this partner (Kaltura refuses blocked and removed ones).
    pub fn is_usable(&self) -> bool {
        matches!(self.status, STATUS_ACTIVE | STATUS_READ_ONLY)
    }

    pub fn can_have_children(&self) -> bool {
        matches!(self.partner_group_type, GROUP_VAR | GROUP_GROUP)
    }
}

/// What reports need of a partner: its id for the figures, the rest for their enriched columns.
#[derive(Debug, Clone)]
pub struct ReportPartner {
    pub id: i64,
    pub name: String,
    pub status: i64,
    pub created_at: i64,
}

const COLUMNS: &str = "id, name, website, created_at, admin_name, admin_email, description, phone, partner_type, \
    status, partner_package, secret, admin_secret, admin_login_users_quota, admin_user_id, first_name, last_name, \
    country, state, publishers_quota, partner_group_type, template_partner_id, partner_parent_id, reference_id, \
    monitor_usage, features";

#[derive(Clone)]
pub struct Store {
    pub pool: SqlitePool,
}

fn hash_password(salt: &str, password: &str) -> String {
    let digest = Sha1::digest(format!("{salt}{password}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Opens (creating if needed) the database at `data`, a file path or `:memory:`.
    pub async fn open(data: &str) -> anyhow::Result<Store> {
        let memory = data == ":memory:";
        let opts = if memory {
            SqliteConnectOptions::from_str("sqlite::memory:")?
        } else {
            SqliteConnectOptions::new().filename(data).create_if_missing(true).journal_mode(SqliteJournalMode::Wal)
        }
        .busy_timeout(Duration::from_secs(5));
        // An in-memory database lives in one connection, so the pool must never open a second or drop the first.
        let pool = if memory {
            SqlitePoolOptions::new().max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(4)
        }
        .connect_with(opts)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the emulator database {data}: {e}"))?;
        sqlx::raw_sql(include_str!("schema.sql")).execute(&pool).await?;
        let store = Store { pool };
        // A database written before users were kept gets its account owners now.
        store.add_missing_owners().await?;
        Ok(store)
    }

    pub async fn is_empty(&self) -> anyhow::Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM partner").fetch_one(&self.pool).await?;
        Ok(n == 0)
    }

    pub async fn get(&self, id: i64) -> Result<Option<Partner>, sqlx::Error> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM partner WHERE id = ?")).bind(id).fetch_optional(&self.pool).await
    }

    /// A partner that `scope` may see: itself or one of its direct children.
    pub async fn get_in_scope(&self, scope: i64, id: i64) -> Result<Option<Partner>, sqlx::Error> {
        Ok(self.get(id).await?.filter(|p| p.id == scope || p.partner_parent_id == Some(scope)))
    }

    pub async fn set_status(&self, id: i64, status: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE partner SET status = ? WHERE id = ?").bind(status).bind(id).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn set_admin_secret(&self, id: i64, secret: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE partner SET admin_secret = ? WHERE id = ?")
            .bind(secret)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn update(&self, p: &Partner) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE partner SET name = ?, website = ?, admin_name = ?, admin_email = ?, description = ?, phone = ?, \
             first_name = ?, last_name = ?, country = ?, state = ?, reference_id = ? WHERE id = ?",
        )
        .bind(&p.name)
        .bind(&p.website)
        .bind(&p.admin_name)
        .bind(&p.admin_email)
        .bind(&p.description)
        .bind(&p.phone)
        .bind(&p.first_name)
        .bind(&p.last_name)
        .bind(&p.country)
        .bind(&p.state)
        .bind(&p.reference_id)
        .bind(p.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The partner id of a login whose password matches.
    pub async fn check_login(&self, email: &str, password: &str) -> Result<Option<i64>, sqlx::Error> {
        let row: Option<(i64, String, String)> =
            sqlx::query_as("SELECT partner_id, password_sha1, salt FROM login WHERE login_email = ?")
                .bind(email)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.filter(|(_, hash, salt)| *hash == hash_password(salt, password)).map(|(pid, _, _)| pid))
    }

    /// The partner a login email belongs to, if the email logs in at all.
    pub async fn login_partner(&self, email: &str) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT partner_id FROM login WHERE login_email = ?")
            .bind(email)
            .fetch_optional(&self.pool)
            .await
    }

    /// partner.list: the scope (`scope` itself and its direct children) narrowed by the filter, counted before paging.
    pub async fn list(&self, scope: i64, filter: &Filter, pager: Pager) -> Result<(Vec<Partner>, i64), sqlx::Error> {
        let total = self.count(scope, filter).await?;
        if pager.page_size == 0 {
            return Ok((Vec::new(), total));
        }
        let mut q = QueryBuilder::<Sqlite>::new("");
        filter.push_scoped(&mut q, scope, &format!("SELECT {COLUMNS}"), true);
        q.push(" ORDER BY ").push(filter.order_sql());
        q.push(" LIMIT ").push_bind(pager.page_size).push(" OFFSET ").push_bind(pager.offset());
        let rows = q.build_query_as::<Partner>().fetch_all(&self.pool).await?;
        Ok((rows, total))
    }

    pub async fn count(&self, scope: i64, filter: &Filter) -> Result<i64, sqlx::Error> {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM (");
        filter.push_scoped(&mut q, scope, "SELECT 1", false);
        q.push(")");
        q.build_query_scalar().fetch_one(&self.pool).await
    }

    /// `scope` and its direct children, in id order, as reports read them: as one row of JSON, because sqlx hands
    /// rows over one at a time, which costs more than the query itself for thousands of children.
    pub async fn report_partners(&self, scope: i64) -> Result<Vec<ReportPartner>, sqlx::Error> {
        let json: String = sqlx::query_scalar(
            "SELECT json_group_array(json_array(id, name, status, created_at)) FROM \
             (SELECT * FROM partner WHERE partner_parent_id = ? UNION ALL SELECT * FROM partner WHERE id = ?)",
        )
        .bind(scope)
        .bind(scope)
        .fetch_one(&self.pool)
        .await?;
        let rows: Vec<(i64, String, i64, i64)> =
            serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        let mut partners: Vec<ReportPartner> = rows
            .into_iter()
            .map(|(id, name, status, created_at)| ReportPartner { id, name, status, created_at })
            .collect();
        partners.sort_by_key(|p| p.id);
        Ok(partners)
    }
}

pub async fn insert_partner(conn: &mut sqlx::SqliteConnection, p: &Partner) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO partner ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(p.id)
    .bind(&p.name)
    .bind(&p.website)
    .bind(p.created_at)
    .bind(&p.admin_name)
    .bind(&p.admin_email)
    .bind(&p.description)
    .bind(&p.phone)
    .bind(p.partner_type)
    .bind(p.status)
    .bind(p.partner_package)
    .bind(&p.secret)
    .bind(&p.admin_secret)
    .bind(p.admin_login_users_quota)
    .bind(&p.admin_user_id)
    .bind(&p.first_name)
    .bind(&p.last_name)
    .bind(&p.country)
    .bind(&p.state)
    .bind(p.publishers_quota)
    .bind(p.partner_group_type)
    .bind(p.template_partner_id)
    .bind(p.partner_parent_id)
    .bind(&p.reference_id)
    .bind(p.monitor_usage)
    .bind(&p.features)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn insert_login(
    conn: &mut sqlx::SqliteConnection,
    email: &str,
    partner_id: i64,
    password: &str,
) -> Result<(), sqlx::Error> {
    let salt = random_secret();
    sqlx::query("INSERT INTO login (login_email, partner_id, password_sha1, salt) VALUES (?, ?, ?, ?)")
        .bind(email)
        .bind(partner_id)
        .bind(hash_password(&salt, password))
        .bind(&salt)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The role an account owner must have (kaltura/server: the partner's admin session role).
pub const ROLE_PUBLISHER_ADMIN: &str = "Publisher Administrator";
pub const USER_BLOCKED: i64 = 0;
pub const USER_ACTIVE: i64 = 1;
pub const USER_DELETED: i64 = 2;

/// One user of a partner (kaltura/server's kuser).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub partner_id: i64,
    pub puser_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub is_admin: bool,
    pub status: i64,
    pub role_names: String,
    pub last_login_time: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl User {
    pub fn full_name(&self) -> String {
        [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.role_names.split(',').any(|r| r.trim() == role)
    }
}

const USER_COLUMNS: &str = "partner_id, puser_id, first_name, last_name, email, is_admin, status, role_names, \
    last_login_time, created_at, updated_at";

impl Store {
    /// Gives every partner with an `adminUserId` and no such user its account owner, as Kaltura creates one with
    /// each partner: an active Publisher Administrator named after the partner's administrator.
    pub async fn add_missing_owners(&self) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT OR IGNORE INTO kuser (partner_id, puser_id, first_name, last_name, email, is_admin, status, \
             role_names, created_at, updated_at) \
             SELECT id, admin_user_id, first_name, last_name, admin_email, 1, 1, ?, created_at, created_at \
             FROM partner WHERE admin_user_id IS NOT NULL AND admin_user_id <> ''",
        )
        .bind(ROLE_PUBLISHER_ADMIN)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn user(&self, partner_id: i64, puser_id: &str) -> Result<Option<User>, sqlx::Error> {
        sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM kuser WHERE partner_id = ? AND puser_id = ?"))
            .bind(partner_id)
            .bind(puser_id)
            .fetch_optional(&self.pool)
            .await
    }

    /// user.list: the partner's users that match, deleted ones only when a status filter asks for them.
    pub async fn users(
        &self,
        partner_id: i64,
        filter: &UserFilter,
        pager: Pager,
    ) -> Result<(Vec<User>, i64), sqlx::Error> {
        let conditions = |q: &mut QueryBuilder<Sqlite>| {
            q.push(" FROM kuser WHERE partner_id = ").push_bind(partner_id);
            if let Some(admin) = filter.is_admin {
                q.push(" AND is_admin = ").push_bind(admin);
            }
            match &filter.statuses {
                Some(statuses) if !statuses.is_empty() => {
                    q.push(" AND status IN (");
                    let mut sep = q.separated(", ");
                    for s in statuses {
                        sep.push_bind(*s);
                    }
                    q.push(")");
                }
                _ => {
                    q.push(" AND status <> ").push_bind(USER_DELETED);
                }
            }
            if let Some(id) = &filter.id_equal {
                q.push(" AND puser_id = ").push_bind(id.clone());
            }
        };
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*)");
        conditions(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut q = QueryBuilder::<Sqlite>::new(format!("SELECT {USER_COLUMNS}"));
        conditions(&mut q);
        q.push(" ORDER BY ").push(filter.order_sql());
        q.push(" LIMIT ").push_bind(pager.page_size).push(" OFFSET ").push_bind(pager.offset());
        let rows = q.build_query_as::<User>().fetch_all(&self.pool).await?;
        Ok((rows, total))
    }

    /// Records a sign-in of the user `puser_id` of `partner_id`.
    pub async fn touch_login(&self, partner_id: i64, puser_id: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE kuser SET last_login_time = ? WHERE partner_id = ? AND puser_id = ?")
            .bind(now)
            .bind(partner_id)
            .bind(puser_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

pub async fn insert_user(conn: &mut sqlx::SqliteConnection, u: &User) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("INSERT OR REPLACE INTO kuser ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
        .bind(u.partner_id)
        .bind(&u.puser_id)
        .bind(&u.first_name)
        .bind(&u.last_name)
        .bind(&u.email)
        .bind(u.is_admin)
        .bind(u.status)
        .bind(&u.role_names)
        .bind(u.last_login_time)
        .bind(u.created_at)
        .bind(u.updated_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// KalturaUserFilter, the fields the emulator honours.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub is_admin: Option<bool>,
    pub statuses: Option<Vec<i64>>,
    pub id_equal: Option<String>,
    pub order_by: Option<String>,
}

impl UserFilter {
    pub fn new(params: Option<Params>) -> UserFilter {
        let Some(p) = params else { return UserFilter::default() };
        let statuses = match (p.non_empty("statusEqual"), p.non_empty("statusIn")) {
            (Some(one), _) => Some(vec![super::params::php_int(&one)]),
            (None, Some(list)) => Some(int_list(&list)),
            (None, None) => None,
        };
        UserFilter {
            // KalturaNullableBoolean: -1 is "no value".
            is_admin: p.int("isAdminEqual").filter(|v| *v != -1).map(|v| v != 0),
            statuses,
            id_equal: p.non_empty("idEqual"),
            order_by: p.non_empty("orderBy"),
        }
    }

    fn order_sql(&self) -> String {
        let column = |name: &str| match name {
            "id" => Some("puser_id"),
            "createdAt" => Some("created_at"),
            "updatedAt" => Some("updated_at"),
            _ => None,
        };
        order_sql(self.order_by.as_deref().unwrap_or_default(), column, "created_at ASC, puser_id ASC")
    }
}

/// KalturaFilterPager: `pageSize` default 30, at most 500; `pageIndex` 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pager {
    pub page_size: i64,
    pub page_index: i64,
}

impl Pager {
    pub fn from_params(p: Option<&Params>, default_size: i64) -> Pager {
        let size = p.and_then(|p| p.int("pageSize")).filter(|s| *s > 0).unwrap_or(default_size).min(500);
        let index = p.and_then(|p| p.int("pageIndex")).filter(|i| *i > 0).unwrap_or(1);
        Pager { page_size: size, page_index: index }
    }

    pub fn offset(&self) -> i64 {
        (self.page_index - 1).saturating_mul(self.page_size)
    }
}

/// KalturaPartnerFilter, with the values as the client sent them.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub params: Params,
}

/// The columns orderBy may name; text sorts without regard to case, as Kaltura's MySQL collation does.
fn order_column(token: &str) -> Option<&'static str> {
    Some(match token {
        "id" => "id",
        "name" => "name COLLATE NOCASE",
        "website" => "website COLLATE NOCASE",
        "createdAt" => "created_at",
        "adminName" => "admin_name COLLATE NOCASE",
        "adminEmail" => "admin_email COLLATE NOCASE",
        "status" => "status",
        _ => return None,
    })
}

/// The columns the multi-field like may name, by their field-list names.
const MULTI_LIKE_FIELDS: [&str; 5] = ["name", "description", "website", "admin_name", "admin_email"];

fn like_pattern(v: &str) -> String {
    let escaped = v.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// Splits a comma list as the `*In` filters do: trimmed, empties dropped, at most 500 values.
fn split_list(v: &str) -> Vec<String> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty()).take(500).map(String::from).collect()
}

fn int_list(v: &str) -> Vec<i64> {
    split_list(v).iter().map(|s| super::params::php_int(s)).collect()
}

impl Filter {
    pub fn new(params: Option<Params>) -> Filter {
        Filter { params: params.unwrap_or_default() }
    }

    fn v(&self, name: &str) -> Option<String> {
        self.params.non_empty(name)
    }

    /// `select` over the scope as two arms, the children and the partner itself, so each arm can use an index
    /// (an `OR` of the two would make SQLite sort every child for each page). `ordered` arms read status without
    /// its index, so that the creation-date index gives rows in page order and LIMIT stops early.
    fn push_scoped(&self, q: &mut QueryBuilder<Sqlite>, scope: i64, select: &str, ordered: bool) {
        q.push(select).push(" FROM partner WHERE partner_parent_id = ").push_bind(scope);
        self.push_conditions(q, ordered);
        q.push(" UNION ALL ").push(select).push(" FROM partner WHERE id = ").push_bind(scope);
        self.push_conditions(q, ordered);
    }

    fn push_conditions(&self, q: &mut QueryBuilder<Sqlite>, ordered: bool) {
        if let Some(v) = self.v("idEqual") {
            q.push(" AND id = ").push_bind(super::params::php_int(&v));
        }
        push_in(q, "id", self.v("idIn").map(|v| int_list(&v)), false);
        push_in(q, "id", self.v("idNotIn").map(|v| int_list(&v)), true);
        if let Some(v) = self.v("idGreaterThan") {
            q.push(" AND id > ").push_bind(super::params::php_int(&v));
        }
        if let Some(v) = self.v("nameLike") {
            q.push(" AND name LIKE ").push_bind(like_pattern(&v)).push(" ESCAPE '\\'");
        }
        for (key, joiner) in [("nameMultiLikeOr", " OR "), ("nameMultiLikeAnd", " AND ")] {
            let tokens = self.v(key).map(|v| split_list(&v)).unwrap_or_default();
            if !tokens.is_empty() {
                q.push(" AND (");
                for (i, t) in tokens.iter().enumerate() {
                    if i > 0 {
                        q.push(joiner);
                    }
                    q.push("name LIKE ").push_bind(like_pattern(t)).push(" ESCAPE '\\'");
                }
                q.push(")");
            }
        }
        if let Some(v) = self.v("nameEqual") {
            q.push(" AND name = ").push_bind(v);
        }
        if let Some(v) = self.v("statusEqual") {
            q.push(" AND status = ").push_bind(super::params::php_int(&v));
        }
        // `+status` keeps SQLite from choosing the status index over the one that delivers the requested order.
        push_in(q, if ordered { "+status" } else { "status" }, self.v("statusIn").map(|v| int_list(&v)), false);
        if let Some(v) = self.v("partnerPackageEqual") {
            q.push(" AND partner_package = ").push_bind(super::params::php_int(&v));
        }
        if let Some(v) = self.v("partnerPackageGreaterThanOrEqual") {
            q.push(" AND partner_package >= ").push_bind(super::params::php_int(&v));
        }
        if let Some(v) = self.v("partnerPackageLessThanOrEqual") {
            q.push(" AND partner_package <= ").push_bind(super::params::php_int(&v));
        }
        push_in(q, "partner_package", self.v("partnerPackageIn").map(|v| int_list(&v)), false);
        if let Some(v) = self.v("partnerGroupTypeEqual") {
            q.push(" AND partner_group_type = ").push_bind(super::params::php_int(&v));
        }
        if let Some(v) = self.v("partnerNameDescriptionWebsiteAdminNameAdminEmailLike") {
            // Value i matches field i; the last value serves the remaining fields; all ORed.
            let values: Vec<&str> = v.split('-').collect();
            q.push(" AND (");
            for (i, column) in MULTI_LIKE_FIELDS.iter().enumerate() {
                if i > 0 {
                    q.push(" OR ");
                }
                let value = values.get(i).or(values.last()).copied().unwrap_or_default();
                q.push(*column).push(" LIKE ").push_bind(like_pattern(value)).push(" ESCAPE '\\'");
            }
            q.push(")");
        }
        if let Some(v) = self.v("createdAtGreaterThanOrEqual") {
            q.push(" AND created_at >= ").push_bind(super::params::php_int(&v));
        }
        if let Some(v) = self.v("monitorUsageEqual") {
            q.push(" AND monitor_usage = ").push_bind(super::params::php_int(&v));
        }
    }

    /// `orderBy` as SQL; unknown tokens are dropped and id breaks ties so paging is stable.
    fn order_sql(&self) -> String {
        order_sql(&self.v("orderBy").unwrap_or_default(), order_column, "id ASC")
    }
}

/// An `orderBy` list (`+name,-createdAt`) as SQL: tokens `column` does not know are dropped, `last` breaks ties.
fn order_sql(order_by: &str, column: impl Fn(&str) -> Option<&'static str>, last: &str) -> String {
    let mut parts = Vec::new();
    for token in order_by.split(',').map(str::trim) {
        let (desc, name) = match token.as_bytes().first() {
            Some(b'-') => (true, &token[1..]),
            Some(b'+') => (false, &token[1..]),
            _ => (false, token),
        };
        if let Some(col) = column(name) {
            parts.push(format!("{col} {}", if desc { "DESC" } else { "ASC" }));
        }
    }
    parts.push(last.into());
    parts.join(", ")
}

fn push_in(q: &mut QueryBuilder<Sqlite>, column: &str, values: Option<Vec<i64>>, negate: bool) {
    let Some(values) = values else { return };
    if values.is_empty() {
        return;
    }
    q.push(format!(" AND {column} {}IN (", if negate { "NOT " } else { "" }));
    let mut sep = q.separated(", ");
    for v in values {
        sep.push_bind(v);
    }
    q.push(")");
}
