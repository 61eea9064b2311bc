//! The Kaltura objects the console reads and sends.
//!
//! Reading is tolerant: a property of an unexpected type becomes `None` (and a list item that is not an object is
//! skipped) instead of failing a whole page, since servers and versions differ in what they send.

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::fmt;

use super::secret::Secret;

/// KalturaPartnerStatus. The UI calls FULL_BLOCK (3) "Removed".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartnerStatus {
    Deleted,
    Active,
    Blocked,
    Removed,
    ReadOnly,
}

impl PartnerStatus {
    pub const fn code(self) -> i64 {
        match self {
            PartnerStatus::Deleted => 0,
            PartnerStatus::Active => 1,
            PartnerStatus::Blocked => 2,
            PartnerStatus::Removed => 3,
            PartnerStatus::ReadOnly => 4,
        }
    }

    pub const fn from_code(code: i64) -> Option<PartnerStatus> {
        Some(match code {
            0 => PartnerStatus::Deleted,
            1 => PartnerStatus::Active,
            2 => PartnerStatus::Blocked,
            3 => PartnerStatus::Removed,
            4 => PartnerStatus::ReadOnly,
            _ => return None,
        })
    }

    pub const fn label(self) -> &'static str {
        match self {
            PartnerStatus::Deleted => "Deleted",
            PartnerStatus::Active => "Active",
            PartnerStatus::Blocked => "Blocked",
            PartnerStatus::Removed => "Removed",
            PartnerStatus::ReadOnly => "Read-only",
        }
    }
}

impl fmt::Display for PartnerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// KalturaPartnerGroupType: only VAR_GROUP and GROUP partners may have children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartnerGroupType {
    Publisher,
    VarGroup,
    Group,
    Template,
}

impl PartnerGroupType {
    pub const fn code(self) -> i64 {
        match self {
            PartnerGroupType::Publisher => 1,
            PartnerGroupType::VarGroup => 2,
            PartnerGroupType::Group => 3,
            PartnerGroupType::Template => 4,
        }
    }

    pub const fn from_code(code: i64) -> Option<PartnerGroupType> {
        Some(match code {
            1 => PartnerGroupType::Publisher,
            2 => PartnerGroupType::VarGroup,
            3 => PartnerGroupType::Group,
            4 => PartnerGroupType::Template,
            _ => return None,
        })
    }
}

/// KalturaPartner, the properties the console uses (kaltura-api.md §3). Secrets are [`Secret`]s so a `{:?}` of a
/// partner is safe to log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Partner {
    /// 0 if the server sent none (or garbage).
    #[serde(deserialize_with = "lenient::id")]
    pub id: i64,
    #[serde(deserialize_with = "lenient::string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub website: Option<String>,
    /// Unix seconds.
    #[serde(deserialize_with = "lenient::int")]
    pub created_at: Option<i64>,
    #[serde(deserialize_with = "lenient::string")]
    pub admin_name: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub admin_email: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub description: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub phone: Option<String>,
    /// KalturaPartnerType; the console registers with 109 (ADMIN_CONSOLE).
    #[serde(rename = "type", deserialize_with = "lenient::int")]
    pub partner_type: Option<i64>,
    #[serde(deserialize_with = "lenient::status")]
    pub status: Option<PartnerStatus>,
    #[serde(deserialize_with = "lenient::int")]
    pub partner_package: Option<i64>,
    #[serde(deserialize_with = "lenient::secret")]
    pub secret: Option<Secret>,
    #[serde(deserialize_with = "lenient::secret")]
    pub admin_secret: Option<Secret>,
    /// Only in partner.register's answer.
    #[serde(deserialize_with = "lenient::secret")]
    pub cms_password: Option<Secret>,
    /// How many Rich Media CMS users the partner may have.
    #[serde(deserialize_with = "lenient::int")]
    pub admin_login_users_quota: Option<i64>,
    #[serde(deserialize_with = "lenient::string")]
    pub admin_user_id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub first_name: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub last_name: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub country: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub state: Option<String>,
    /// How many child accounts the parent may have.
    #[serde(deserialize_with = "lenient::int")]
    pub publishers_quota: Option<i64>,
    /// Not returned to ordinary sessions (but filterable).
    #[serde(deserialize_with = "lenient::group_type")]
    pub partner_group_type: Option<PartnerGroupType>,
    #[serde(deserialize_with = "lenient::int")]
    pub template_partner_id: Option<i64>,
    #[serde(deserialize_with = "lenient::int")]
    pub partner_parent_id: Option<i64>,
    #[serde(deserialize_with = "lenient::string")]
    pub reference_id: Option<String>,
    #[serde(deserialize_with = "lenient::boolean")]
    pub is_first_login: Option<bool>,
}

impl Partner {
    /// Active or blocked: the statuses that count against the quota.
    pub fn is_in_use(&self) -> bool {
        matches!(self.status, Some(PartnerStatus::Active | PartnerStatus::Blocked))
    }
}

/// A `Kaltura…ListResponse`: one page of objects and the count of all matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListResponse<T> {
    pub objects: Vec<T>,
    pub total_count: i64,
}

/// Read from Kaltura's text (the client never makes a value of it first): each item is read into `T` on its own,
/// and one of an unexpected shape is left out instead of failing the page.
impl<'de, T: DeserializeOwned> Deserialize<'de> for ListResponse<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize, Default)]
        #[serde(default, rename_all = "camelCase")]
        struct Raw<'a> {
            #[serde(borrow)]
            objects: Option<&'a RawValue>,
            #[serde(deserialize_with = "lenient::int")]
            total_count: Option<i64>,
        }
        let raw = Raw::deserialize(d)?;
        let items: Vec<&RawValue> = raw.objects.and_then(|o| serde_json::from_str(o.get()).ok()).unwrap_or_default();
        let count = items.len();
        let objects: Vec<T> = items.into_iter().filter_map(|item| serde_json::from_str(item.get()).ok()).collect();
        if objects.len() < count {
            // The item itself is not logged: it may hold secrets.
            tracing::warn!(skipped = count - objects.len(), "Kaltura sent list items of an unexpected shape");
        }
        let total_count = raw.total_count.unwrap_or(objects.len() as i64);
        Ok(ListResponse { objects, total_count })
    }
}

/// KalturaPartnerFilter: every field of kaltura-api.md §4. `None` fields are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartnerFilter {
    pub id_equal: Option<i64>,
    /// Comma list of ids (what a user types in the Partner ID search works as is).
    pub id_in: Option<String>,
    pub id_not_in: Option<String>,
    pub id_greater_than: Option<i64>,
    pub name_like: Option<String>,
    /// Comma list; any token matches.
    pub name_multi_like_or: Option<String>,
    /// Comma list; every token must match.
    pub name_multi_like_and: Option<String>,
    pub name_equal: Option<String>,
    pub status_equal: Option<PartnerStatus>,
    pub status_in: Option<Vec<PartnerStatus>>,
    pub partner_package_equal: Option<i64>,
    pub partner_package_greater_than_or_equal: Option<i64>,
    pub partner_package_less_than_or_equal: Option<i64>,
    pub partner_package_in: Option<String>,
    pub partner_group_type_equal: Option<PartnerGroupType>,
    /// Free text over name, description, website, admin name and email.
    pub partner_name_description_website_admin_name_admin_email_like: Option<String>,
    pub created_at_greater_than_or_equal: Option<i64>,
    pub monitor_usage_equal: Option<i64>,
    pub order_by: Option<PartnerOrder>,
}

/// The properties partner.list can order by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartnerOrderField {
    Id,
    Name,
    Website,
    CreatedAt,
    AdminName,
    AdminEmail,
    Status,
}

impl PartnerOrderField {
    pub const ALL: [PartnerOrderField; 7] = [
        PartnerOrderField::Name,
        PartnerOrderField::Id,
        PartnerOrderField::Status,
        PartnerOrderField::AdminName,
        PartnerOrderField::AdminEmail,
        PartnerOrderField::Website,
        PartnerOrderField::CreatedAt,
    ];

    /// The property's name on the wire.
    pub const fn wire_name(self) -> &'static str {
        match self {
            PartnerOrderField::Id => "id",
            PartnerOrderField::Name => "name",
            PartnerOrderField::Website => "website",
            PartnerOrderField::CreatedAt => "createdAt",
            PartnerOrderField::AdminName => "adminName",
            PartnerOrderField::AdminEmail => "adminEmail",
            PartnerOrderField::Status => "status",
        }
    }

    pub fn from_wire_name(name: &str) -> Option<PartnerOrderField> {
        PartnerOrderField::ALL.into_iter().find(|f| f.wire_name() == name)
    }
}

/// KalturaPartnerFilter's `orderBy`: one property, ascending (`+`) or descending (`-`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartnerOrder {
    pub field: PartnerOrderField,
    pub descending: bool,
}

impl PartnerOrder {
    pub const fn asc(field: PartnerOrderField) -> PartnerOrder {
        PartnerOrder { field, descending: false }
    }

    pub const fn desc(field: PartnerOrderField) -> PartnerOrder {
        PartnerOrder { field, descending: true }
    }
}

impl fmt::Display for PartnerOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", if self.descending { '-' } else { '+' }, self.field.wire_name())
    }
}

impl PartnerFilter {
    /// Active and blocked partners: the Accounts page's default and the quota's count.
    pub fn in_use() -> PartnerFilter {
        PartnerFilter {
            status_in: Some(vec![PartnerStatus::Active, PartnerStatus::Blocked]),
            ..PartnerFilter::default()
        }
    }

    /// The filter as api_v3 takes it (for a call in a [`crate::MultiRequest`]).
    pub fn to_wire(&self) -> Value {
        let mut m = Map::new();
        m.insert("objectType".into(), json!("KalturaPartnerFilter"));
        let mut put = |name: &str, value: Option<Value>| {
            if let Some(v) = value {
                m.insert(name.into(), v);
            }
        };
        let text = |s: &Option<String>| s.as_ref().map(|s| json!(s));
        put("idEqual", self.id_equal.map(|v| json!(v)));
        put("idIn", text(&self.id_in));
        put("idNotIn", text(&self.id_not_in));
        put("idGreaterThan", self.id_greater_than.map(|v| json!(v)));
        put("nameLike", text(&self.name_like));
        put("nameMultiLikeOr", text(&self.name_multi_like_or));
        put("nameMultiLikeAnd", text(&self.name_multi_like_and));
        put("nameEqual", text(&self.name_equal));
        put("statusEqual", self.status_equal.map(|s| json!(s.code())));
        put(
            "statusIn",
            self.status_in
                .as_ref()
                .map(|list| json!(list.iter().map(|s| s.code().to_string()).collect::<Vec<_>>().join(","))),
        );
        put("partnerPackageEqual", self.partner_package_equal.map(|v| json!(v)));
        put("partnerPackageGreaterThanOrEqual", self.partner_package_greater_than_or_equal.map(|v| json!(v)));
        put("partnerPackageLessThanOrEqual", self.partner_package_less_than_or_equal.map(|v| json!(v)));
        put("partnerPackageIn", text(&self.partner_package_in));
        put("partnerGroupTypeEqual", self.partner_group_type_equal.map(|g| json!(g.code())));
        put(
            "partnerNameDescriptionWebsiteAdminNameAdminEmailLike",
            text(&self.partner_name_description_website_admin_name_admin_email_like),
        );
        put("createdAtGreaterThanOrEqual", self.created_at_greater_than_or_equal.map(|v| json!(v)));
        put("monitorUsageEqual", self.monitor_usage_equal.map(|v| json!(v)));
        put("orderBy", self.order_by.map(|o| json!(o.to_string())));
        Value::Object(m)
    }
}

/// KalturaFilterPager: `page_index` is 1-based; Kaltura caps `page_size` at 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pager {
    pub page_size: u32,
    pub page_index: u32,
}

impl Pager {
    pub const fn new(page_size: u32, page_index: u32) -> Pager {
        Pager { page_size, page_index }
    }

    /// The pager as api_v3 takes it (for a call in a [`crate::MultiRequest`]).
    pub fn to_wire(self) -> Value {
        json!({ "objectType": "KalturaFilterPager", "pageSize": self.page_size, "pageIndex": self.page_index })
    }
}

/// Kaltura's defaults.
impl Default for Pager {
    fn default() -> Pager {
        Pager::new(30, 1)
    }
}

/// A new child account, as the Add Account form collects it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewAccount {
    pub admin_name: String,
    pub name: String,
    pub admin_email: String,
    pub phone: String,
    pub website: Option<String>,
    pub reference_id: Option<String>,
}

impl NewAccount {
    /// The `partner` argument of partner.register, as the KMC's Multi Account tab sends it.
    pub(crate) fn to_wire(&self) -> Value {
        let mut partner = json!({
            "objectType": "KalturaPartner",
            "name": self.name,
            "adminName": self.admin_name,
            "adminEmail": self.admin_email,
            "phone": self.phone,
            "description": "Multi-publishers console",
            "type": 109,
        });
        for (name, value) in [("website", &self.website), ("referenceId", &self.reference_id)] {
            if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                partner[name] = json!(v);
            }
        }
        partner
    }
}

/// The KalturaPartner properties an administrator may edit, in the order the forms show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PartnerField {
    Name,
    AdminName,
    AdminEmail,
    Phone,
    Website,
    Description,
    ReferenceId,
    Country,
    State,
}

impl PartnerField {
    pub const ALL: [PartnerField; 9] = [
        PartnerField::Name,
        PartnerField::AdminName,
        PartnerField::AdminEmail,
        PartnerField::Phone,
        PartnerField::Website,
        PartnerField::Description,
        PartnerField::ReferenceId,
        PartnerField::Country,
        PartnerField::State,
    ];

    /// The property's name on the wire.
    pub const fn wire_name(self) -> &'static str {
        match self {
            PartnerField::Name => "name",
            PartnerField::AdminName => "adminName",
            PartnerField::AdminEmail => "adminEmail",
            PartnerField::Phone => "phone",
            PartnerField::Website => "website",
            PartnerField::Description => "description",
            PartnerField::ReferenceId => "referenceId",
            PartnerField::Country => "country",
            PartnerField::State => "state",
        }
    }

    /// The value `partner` holds for it, if any.
    pub fn get(self, partner: &Partner) -> Option<&str> {
        match self {
            PartnerField::Name => partner.name.as_deref(),
            PartnerField::AdminName => partner.admin_name.as_deref(),
            PartnerField::AdminEmail => partner.admin_email.as_deref(),
            PartnerField::Phone => partner.phone.as_deref(),
            PartnerField::Website => partner.website.as_deref(),
            PartnerField::Description => partner.description.as_deref(),
            PartnerField::ReferenceId => partner.reference_id.as_deref(),
            PartnerField::Country => partner.country.as_deref(),
            PartnerField::State => partner.state.as_deref(),
        }
    }
}

/// The `partner` argument of partner.update: only the properties to change; an empty value clears one (sent as
/// `name__null`, as the official clients send a `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartnerChanges {
    pub changes: Vec<(PartnerField, String)>,
}

impl PartnerChanges {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub(crate) fn to_wire(&self) -> Value {
        let mut partner = serde_json::Map::new();
        partner.insert("objectType".into(), json!("KalturaPartner"));
        for (field, value) in &self.changes {
            if value.is_empty() {
                partner.insert(format!("{}__null", field.wire_name()), json!(""));
            } else {
                partner.insert(field.wire_name().into(), json!(value));
            }
        }
        Value::Object(partner)
    }
}

/// KalturaUserStatus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Blocked,
    Active,
    Deleted,
}

impl UserStatus {
    pub const fn code(self) -> i64 {
        match self {
            UserStatus::Blocked => 0,
            UserStatus::Active => 1,
            UserStatus::Deleted => 2,
        }
    }

    pub fn from_code(code: i64) -> Option<UserStatus> {
        [UserStatus::Blocked, UserStatus::Active, UserStatus::Deleted].into_iter().find(|s| s.code() == code)
    }
}

/// KalturaUser, the properties the console shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct User {
    /// The user id in the partner (the login email for an account's owner).
    #[serde(deserialize_with = "lenient::string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient::int")]
    pub partner_id: Option<i64>,
    #[serde(deserialize_with = "lenient::string")]
    pub full_name: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub first_name: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub last_name: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub email: Option<String>,
    #[serde(deserialize_with = "lenient::user_status")]
    pub status: Option<UserStatus>,
    #[serde(deserialize_with = "lenient::boolean")]
    pub is_admin: Option<bool>,
    #[serde(deserialize_with = "lenient::boolean")]
    pub is_account_owner: Option<bool>,
    /// Comma list of role names.
    #[serde(deserialize_with = "lenient::string")]
    pub role_names: Option<String>,
    /// Unix seconds; absent if the user never signed in.
    #[serde(deserialize_with = "lenient::int")]
    pub last_login_time: Option<i64>,
    #[serde(deserialize_with = "lenient::int")]
    pub created_at: Option<i64>,
}

impl User {
    /// Full name, else first and last, else the id.
    pub fn display_name(&self) -> String {
        let joined = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        self.full_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or(Some(joined).filter(|j| !j.is_empty()))
            .or_else(|| self.id.clone())
            .unwrap_or_default()
    }
}

/// KalturaUserFilter, the fields the console sends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    pub is_admin_equal: Option<bool>,
    pub status_equal: Option<UserStatus>,
    pub id_equal: Option<String>,
}

impl UserFilter {
    /// The active administrators of an account.
    pub fn active_admins() -> UserFilter {
        UserFilter { is_admin_equal: Some(true), status_equal: Some(UserStatus::Active), id_equal: None }
    }

    pub fn to_wire(&self) -> Value {
        let mut f = json!({ "objectType": "KalturaUserFilter" });
        if let Some(admin) = self.is_admin_equal {
            f["isAdminEqual"] = json!(i64::from(admin));
        }
        if let Some(status) = self.status_equal {
            f["statusEqual"] = json!(status.code());
        }
        if let Some(id) = &self.id_equal {
            f["idEqual"] = json!(id);
        }
        f
    }
}

/// Kaltura's e-mail check (`kString::isEmailString`), which the emulator applies and the console checks first: a plain local part, dotted domain labels, a TLD of letters.
pub fn is_kaltura_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | '\''));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && labels.last().is_some_and(|t| t.len() >= 2 && t.chars().all(|c| c.is_ascii_alphabetic()));
    local_ok && domain_ok
}

/// Deserializers that turn a value of an unexpected type into `None` instead of an error.
pub(crate) mod lenient {
    use super::{PartnerGroupType, PartnerStatus, Secret, UserStatus};
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    pub fn as_int(v: &Value) -> Option<i64> {
        match v {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// Empty strings count as absent: the XML format sends them for nulls.
    pub fn as_string(v: &Value) -> Option<String> {
        match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    fn as_bool(v: &Value) -> Option<bool> {
        match v {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => n.as_f64().map(|f| f != 0.0),
            Value::String(s) => Some(!(s.is_empty() || s == "0" || s.eq_ignore_ascii_case("false"))),
            _ => None,
        }
    }

    pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Ok(as_int(&Value::deserialize(d)?))
    }

    pub fn id<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        Ok(as_int(&Value::deserialize(d)?).unwrap_or(0))
    }

    /// Takes the string Kaltura sent rather than copying it (a page of accounts has hundreds).
    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) if !s.is_empty() => Some(s),
            other => as_string(&other),
        })
    }

    pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        Ok(as_bool(&Value::deserialize(d)?))
    }

    pub fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
        Ok(string(d)?.map(Secret::new))
    }

    pub fn status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PartnerStatus>, D::Error> {
        Ok(as_int(&Value::deserialize(d)?).and_then(PartnerStatus::from_code))
    }

    pub fn user_status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<UserStatus>, D::Error> {
        Ok(as_int(&Value::deserialize(d)?).and_then(UserStatus::from_code))
    }

    pub fn group_type<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PartnerGroupType>, D::Error> {
        Ok(as_int(&Value::deserialize(d)?).and_then(PartnerGroupType::from_code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_have_kaltura_codes_and_ui_labels() {
        for (code, label) in [(1, "Active"), (2, "Blocked"), (3, "Removed"), (0, "Deleted"), (4, "Read-only")] {
            let s = PartnerStatus::from_code(code).expect("a known status");
            assert_eq!((s.code(), s.label(), s.to_string()), (code, label, label.to_string()));
        }
        assert_eq!(PartnerStatus::from_code(9), None);
    }

    #[test]
    fn a_partner_with_odd_property_types_still_reads() {
        let p: Partner = serde_json::from_value(json!({
            "objectType": "KalturaPartner",
            "id": "6475",
            "name": 42,
            "createdAt": "1558444680",
            "status": "weird",
            "publishersQuota": {"unexpected": true},
            "website": "",
            "isFirstLogin": "0",
            "partnerGroupType": 4,
            "adminSecret": "abc",
            "someFutureProperty": [1, 2],
        }))
        .expect("a lenient partner");
        assert_eq!(p.id, 6475);
        assert_eq!(p.name.as_deref(), Some("42"));
        assert_eq!(p.created_at, Some(1_558_444_680));
        assert_eq!(p.status, None);
        assert_eq!(p.publishers_quota, None);
        assert_eq!(p.website, None);
        assert_eq!(p.is_first_login, Some(false));
        assert_eq!(p.partner_group_type, Some(PartnerGroupType::Template));
        assert!(!format!("{p:?}").contains("abc"), "secrets stay out of Debug");
    }

    #[test]
    fn a_list_skips_items_that_are_not_objects_and_keeps_the_rest() {
        let answer = json!({
            "objects": [{"id": 1, "status": 1}, "garbage", {"id": 2, "status": 2}],
            "totalCount": "7",
            "objectType": "KalturaPartnerListResponse",
        });
        let list: ListResponse<Partner> = serde_json::from_str(&answer.to_string()).expect("a lenient list");
        assert_eq!(list.objects.iter().map(|p| p.id).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(list.total_count, 7);
        let empty: ListResponse<Partner> = serde_json::from_str(r#"{"objectType": "X"}"#).expect("an empty list");
        let odd: ListResponse<Partner> = serde_json::from_str(r#"{"objects": {"a": 1}}"#).expect("objects not a list");
        assert!(odd.objects.is_empty());
        assert_eq!((empty.objects.len(), empty.total_count), (0, 0));
    }

    #[test]
    fn filters_send_only_what_is_set_in_kalturas_names() {
        let f = PartnerFilter {
            id_in: Some("6475,6474".into()),
            status_in: Some(vec![PartnerStatus::Active, PartnerStatus::Blocked]),
            partner_group_type_equal: Some(PartnerGroupType::Template),
            partner_name_description_website_admin_name_admin_email_like: Some("techpubs".into()),
            order_by: Some(PartnerOrder::desc(PartnerOrderField::CreatedAt)),
            ..PartnerFilter::default()
        };
        assert_eq!(
            f.to_wire(),
            json!({
                "objectType": "KalturaPartnerFilter",
                "idIn": "6475,6474",
                "statusIn": "1,2",
                "partnerGroupTypeEqual": 4,
                "partnerNameDescriptionWebsiteAdminNameAdminEmailLike": "techpubs",
                "orderBy": "-createdAt",
            })
        );
        assert_eq!(
            Pager::new(50, 2).to_wire(),
            json!({"objectType": "KalturaFilterPager", "pageSize": 50, "pageIndex": 2})
        );
    }

    #[test]
    fn new_accounts_are_sent_as_the_kmc_sends_them() {
        let a = NewAccount {
            admin_name: "Bob Admin".into(),
            name: "Child Co".into(),
            admin_email: "bob@child.example".into(),
            phone: "+1-555-0199".into(),
            website: Some(" ".into()),
            reference_id: Some("crm-42".into()),
        };
        assert_eq!(
            a.to_wire(),
            json!({
                "objectType": "KalturaPartner", "name": "Child Co", "adminName": "Bob Admin",
                "adminEmail": "bob@child.example", "phone": "+1-555-0199",
                "description": "Multi-publishers console", "type": 109, "referenceId": "crm-42",
            })
        );
    }

    #[test]
    fn emails_are_checked_like_kaltura() {
        assert!(is_kaltura_email("a.b+c@x-y.example"));
        for bad in ["", "a", "a@", "@b.com", "a@b", "a b@c.com", "a@b.c0m", "a@.com"] {
            assert!(!is_kaltura_email(bad), "{bad}");
        }
    }
}
