//! The api_v3 actions the console uses, with the server's check order: service/action lookup, KS parse, argument
//! parsing, KS expiry and blocked partners, permission.

use super::params::{self, Params};
use super::reports;
use super::seed::split_name;
use super::store::{
    self, FEATURE_VAR_CONSOLE_LOGIN, Filter, GROUP_PUBLISHER, Pager, Partner, ROLE_PUBLISHER_ADMIN, ReportPartner,
    STATUS_ACTIVE, Store, USER_ACTIVE, User, UserFilter,
};
use super::wire::{ApiError, V};
use kaltura::ks::{self, Ks, KsParams};
use kaltura::random_secret;

pub const SESSION_USER: i64 = 0;
pub const SESSION_ADMIN: i64 = 2;
/// Longest KS lifetime session.start and session.impersonate grant.
const MAX_EXPIRY: i64 = 86_400;

/// The actions the emulator implements, by wire service name (lowercase) and canonical names.
const SERVICES: &[(&str, &str, &[&str])] = &[
    ("partner", "partner", &["get", "getInfo", "list", "count", "register", "update"]),
    ("varconsole_varconsole", "varconsole_varconsole", &["updateStatus", "getPartnerUsage"]),
    ("session", "session", &["start", "impersonate", "get"]),
    ("user", "user", &["loginByLoginId", "list", "get"]),
    ("report", "report", &["getTable", "getTotal", "getGraphs"]),
    ("permission", "permission", &["list"]),
    ("system", "system", &["ping"]),
];

/// Resolves names case-insensitively to their canonical spelling.
pub fn resolve(service: &str, action: &str) -> Result<(&'static str, &'static str), ApiError> {
    let (_, canonical, actions) = SERVICES
        .iter()
        .find(|(wire, _, _)| wire.eq_ignore_ascii_case(service))
        .ok_or_else(|| ApiError::new("SERVICE_DOES_NOT_EXISTS", &[service]))?;
    let action = actions
        .iter()
        .find(|a| a.eq_ignore_ascii_case(action))
        .ok_or_else(|| ApiError::new("ACTION_DOES_NOT_EXISTS", &[action, service]))?;
    Ok((canonical, action))
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "emulator database error");
        ApiError::new("INTERNAL_SERVERL_ERROR", &[])
    }
}

/// A verified KS and the partner it belongs to (expiry not yet checked: the server reports bad arguments first).
struct Session {
    ks: Ks,
    raw: String,
    partner: Partner,
}

/// The arguments session.start and session.impersonate share.
struct SessionArgs {
    secret: String,
    user_id: String,
    session_type: i64,
    partner_id: Option<i64>,
    expiry: i64,
    privileges: String,
}

pub struct Call<'a> {
    pub store: &'a Store,
    pub params: &'a Params,
    pub service: &'static str,
    pub action: &'static str,
    pub now: i64,
    session: Option<Session>,
}

/// Verifies a KS string against its partner's admin secret.
pub async fn authenticate(store: &Store, raw: &str) -> Result<(Ks, Partner), ApiError> {
    let invalid = || ApiError::invalid_ks(raw);
    let (_, pid) = ks::peek(raw).map_err(|_| invalid())?;
    let partner = store.get(pid).await?.ok_or_else(invalid)?;
    let ks =
        ks::verify(raw, &partner.admin_secret).or_else(|_| ks::verify(raw, &partner.secret)).map_err(|_| invalid())?;
    Ok((ks, partner))
}

impl<'a> Call<'a> {
    /// Step two of the server's order: a KS that is present must parse and carry a valid signature.
    pub async fn new(
        store: &'a Store,
        params: &'a Params,
        service: &'static str,
        action: &'static str,
        now: i64,
    ) -> Result<Call<'a>, ApiError> {
        let session = match params.non_empty("ks") {
            Some(raw) => {
                let (ks, partner) = authenticate(store, &raw).await?;
                Some(Session { ks, raw, partner })
            }
            None => None,
        };
        Ok(Call { store, params, service, action, now, session })
    }

    /// SERVICE_FORBIDDEN names the action lowercased, as the dispatcher holds it.
    fn forbidden(&self) -> ApiError {
        ApiError::new("SERVICE_FORBIDDEN", &[&format!("{}->{}", self.service, self.action.to_lowercase())])
    }

    /// Expiry and blocked partners, for a KS if one was sent.
    fn check_session(&self) -> Result<Option<&Session>, ApiError> {
        let Some(s) = &self.session else {
            return Ok(None);
        };
        if s.ks.is_expired(self.now) {
            return Err(ApiError::expired_ks(&s.raw));
        }
        if !s.partner.is_usable() {
            return Err(ApiError::new("SERVICE_FORBIDDEN_CONTENT_BLOCKED", &[]));
        }
        Ok(Some(s))
    }

    /// A valid session of any type.
    fn user(&self) -> Result<&Session, ApiError> {
        self.check_session()?.ok_or_else(|| self.forbidden())
    }

    /// A valid admin session (type 2).
    fn admin(&self) -> Result<&Session, ApiError> {
        let s = self.user()?;
        if i64::from(s.ks.session_type) != SESSION_ADMIN {
            return Err(self.forbidden());
        }
        Ok(s)
    }

    pub async fn run(&self) -> Result<V, ApiError> {
        match (self.service, self.action) {
            ("partner", "get") => self.partner_get().await,
            ("partner", "getInfo") => {
                let s = self.user()?;
                Ok(partner_v(&s.partner, s.ks.session_type == 2, None))
            }
            ("partner", "list") => self.partner_list().await,
            ("partner", "count") => {
                let filter = Filter::new(self.params.object("filter"));
                let s = self.admin()?;
                Ok(V::Int(self.store.count(s.partner.id, &filter).await?))
            }
            ("partner", "register") => self.partner_register().await,
            ("partner", "update") => self.partner_update().await,
            ("varconsole_varconsole", "updateStatus") => self.update_status().await,
            ("varconsole_varconsole", "getPartnerUsage") => self.partner_usage().await,
            ("permission", "list") => self.permission_list().await,
            ("session", "start") => self.session_start().await,
            ("session", "impersonate") => self.session_impersonate().await,
            ("session", "get") => self.session_get().await,
            ("user", "loginByLoginId") => self.login_by_login_id().await,
            ("user", "list") => self.user_list().await,
            ("user", "get") => self.user_get().await,
            ("report", "getTable") => self.report(reports::Action::Table).await,
            ("report", "getTotal") => self.report(reports::Action::Total).await,
            ("report", "getGraphs") => self.report(reports::Action::Graphs).await,
            ("system", "ping") => Ok(V::Bool(true)),
            _ => Err(ApiError::new("ACTION_DOES_NOT_EXISTS", &[self.action, self.service])),
        }
    }

    async fn partner_get(&self) -> Result<V, ApiError> {
        let id = self.params.int("id");
        let s = self.admin()?;
        // Without an id, the server answers with the KS's own partner.
        let id = id.unwrap_or(s.partner.id);
        match self.store.get_in_scope(s.partner.id, id).await? {
            Some(p) => Ok(partner_v(&p, true, None)),
            None => Err(ApiError::new("INVALID_PARTNER_ID", &[&id.to_string()])),
        }
    }

    async fn partner_list(&self) -> Result<V, ApiError> {
        let filter = Filter::new(self.params.object("filter"));
        let pager = Pager::from_params(self.params.object("pager").as_ref(), 30);
        let s = self.admin()?;
        let (rows, total) = self.store.list(s.partner.id, &filter, pager).await?;
        Ok(V::Obj(
            "KalturaPartnerListResponse",
            vec![
                ("objects", V::Arr(rows.iter().map(|p| partner_v(p, true, None)).collect())),
                ("totalCount", V::Int(total)),
            ],
        ))
    }

    /// partner.register as kaltura/server's `PartnerService::registerAction`: everything after reading the
    /// arguments runs inside its `try`, whose failures all come back as PARTNER_REGISTRATION_ERROR carrying the
    /// inner message without `KalturaPartner::` (an unexpected failure reads `Unknown error`).
    async fn partner_register(&self) -> Result<V, ApiError> {
        let input = self.params.object("partner").ok_or_else(|| missing("partner"))?;
        let cms_password = self.params.non_empty("cmsPassword");
        let template = self.params.int("templatePartnerId").filter(|t| *t != 0);
        let session = self.check_session()?;
        self.register(&input, cms_password, template, session).await.map_err(|e| match e.code {
            "PARTNER_REGISTRATION_ERROR" => e,
            "INTERNAL_SERVERL_ERROR" => ApiError::registration("Unknown error"),
            _ => ApiError::registration(&e.message().replace("KalturaPartner::", "")),
        })
    }

    async fn register(
        &self,
        input: &Params,
        cms_password: Option<String>,
        template: Option<i64>,
        session: Option<&Session>,
    ) -> Result<V, ApiError> {
        // KalturaPartner::toPartner: tags stripped, the administrator's name reconciled with first and last names,
        // then the mandatory, length and read-only checks.
        let text = |name: &str| input.text(name).map(|v| strip_tags(&v));
        let truthy = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty() && v != "0");
        let (first_name, last_name) = (text("firstName"), text("lastName"));
        let mut admin_name = text("adminName");
        if truthy(&first_name) || truthy(&last_name) {
            if truthy(&admin_name) {
                return Err(ApiError::new("PROPERTY_DEPRECTAED", &["adminName"]));
            }
            admin_name =
                Some(format!("{} {}", first_name.as_deref().unwrap_or(""), last_name.as_deref().unwrap_or("")));
        }
        let (name, email, description) = (text("name"), text("adminEmail"), text("description"));
        for (prop, value) in
            [("name", &name), ("adminName", &admin_name), ("adminEmail", &email), ("description", &description)]
        {
            if value.is_none() {
                return Err(ApiError::new("PROPERTY_VALIDATION_CANNOT_BE_NULL", &[&format!("KalturaPartner::{prop}")]));
            }
        }
        let (country, state) = (text("country"), text("state"));
        for (prop, value) in [("country", &country), ("state", &state)] {
            if value.as_ref().is_some_and(|v| v.len() > 2) {
                return Err(ApiError::new(
                    "PROPERTY_VALIDATION_MAX_LENGTH",
                    &[&format!("KalturaPartner::{prop}"), "2"],
                ));
            }
        }
        reject_read_only(input)?;
        // getParentPartnerInfo: an admin session's partner becomes the parent if it is a VAR or group, and a
        // template must be one of its children.
        let parent = match session {
            Some(s) if i64::from(s.ks.session_type) == SESSION_ADMIN => {
                let not_group =
                    || ApiError::new("NON_GROUP_PARTNER_ATTEMPTING_TO_ASSIGN_CHILD", &[&s.partner.id.to_string()]);
                if !s.partner.can_have_children() {
                    return Err(not_group());
                }
                if let Some(t) = template {
                    let child = self.store.get(t).await?.is_some_and(|p| p.partner_parent_id == Some(s.partner.id));
                    if !child {
                        return Err(not_group());
                    }
                }
                Some(&s.partner)
            }
            _ => None,
        };
        // myPartnerRegistration::validateNewPartner.
        let (name, admin_name, description) =
            (name.unwrap_or_default(), admin_name.unwrap_or_default(), description.unwrap_or_default());
        let email = email.unwrap_or_default().trim().to_string();
        let signup = [
            (name.is_empty(), "Please fill in the Partner's name"),
            (admin_name.is_empty(), "Please fill in Administrator's details"),
            (email.is_empty(), "Please fill in Administrator's Email Address"),
            (!kaltura::is_kaltura_email(&email), "Invalid email address"),
            (description.is_empty(), "Please fill in description"),
        ];
        if let Some((_, message)) = signup.iter().find(|(failed, _)| *failed) {
            return Err(ApiError::registration(message));
        }
        let (first, last) = split_name(&admin_name);
        let password = cms_password.clone().unwrap_or_else(|| random_secret()[..12].to_string());
        let mut partner = Partner {
            id: 0,
            name,
            website: text("website"),
            created_at: self.now,
            admin_name: Some(admin_name),
            admin_email: Some(email.clone()),
            description: Some(description),
            phone: text("phone"),
            partner_type: input.int("type").unwrap_or(1),
            status: STATUS_ACTIVE,
            partner_package: parent.map(|p| p.partner_package).unwrap_or(1),
            secret: random_secret(),
            admin_secret: random_secret(),
            admin_login_users_quota: 3,
            admin_user_id: Some(email.clone()),
            first_name: first_name.or(Some(first)),
            last_name: last_name.or(Some(last)),
            country,
            state,
            publishers_quota: 0,
            partner_group_type: GROUP_PUBLISHER,
            template_partner_id: template,
            partner_parent_id: parent.map(|p| p.id),
            reference_id: text("referenceId"),
            monitor_usage: 0,
            features: String::new(),
        };
        // An email that already logs in is refused, unless it is the parent's own login or the right password
        // for it was given: then the new partner shares that login.
        let existing = self.store.login_partner(&email).await?;
        let shares_login = match existing {
            None => false,
            Some(owner) if parent.is_some_and(|p| p.id == owner) => true,
            Some(_) => match &cms_password {
                None => return Err(duplicate_email(&email)),
                Some(given) if self.store.check_login(&email, given).await?.is_some() => true,
                Some(_) => {
                    return Err(ApiError::registration(&format!("Invalid password for user with email [{email}].")));
                }
            },
        };
        // Ids are allocated in one transaction, and the login's unique email turns a concurrent registration with
        // the same email into the duplicate it is.
        let mut tx = self.store.pool.begin().await?;
        let max: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM partner").fetch_one(&mut *tx).await?;
        partner.id = max.unwrap_or(100) + 1;
        store::insert_partner(&mut tx, &partner).await?;
        if !shares_login && let Err(e) = store::insert_login(&mut tx, &email, partner.id, &password).await {
            return Err(if is_unique_violation(&e) { duplicate_email(&email) } else { e.into() });
        }
        let owner = User {
            partner_id: partner.id,
            puser_id: email.clone(),
            first_name: partner.first_name.clone(),
            last_name: partner.last_name.clone(),
            email: Some(email.clone()),
            is_admin: true,
            status: USER_ACTIVE,
            role_names: ROLE_PUBLISHER_ADMIN.into(),
            last_login_time: None,
            created_at: self.now,
            updated_at: self.now,
        };
        store::insert_user(&mut tx, &owner).await?;
        tx.commit().await?;
        Ok(partner_v(&partner, true, Some(password)))
    }

    /// partner.update as kaltura/server's `PartnerService::updateAction`: the KS's own partner, every string
    /// stripped of tags, `allowEmpty` ignored (a `__null` property is cleared either way), and an `adminUserId`
    /// that must name a Publisher Administrator of that partner, whose name and email become the administrator's.
    async fn partner_update(&self) -> Result<V, ApiError> {
        let input = self.params.object("partner").ok_or_else(|| missing("partner"))?;
        let s = self.admin()?;
        reject_read_only(&input)?;
        let text = |name: &str| input.text(name).map(|v| strip_tags(&v));
        let mut p = s.partner.clone();
        let fields: [(&str, &mut Option<String>); 10] = [
            ("website", &mut p.website),
            ("adminName", &mut p.admin_name),
            ("adminEmail", &mut p.admin_email),
            ("description", &mut p.description),
            ("phone", &mut p.phone),
            ("firstName", &mut p.first_name),
            ("lastName", &mut p.last_name),
            ("country", &mut p.country),
            ("state", &mut p.state),
            ("referenceId", &mut p.reference_id),
        ];
        for (name, slot) in fields {
            if let Some(v) = text(name) {
                *slot = Some(v);
            } else if input.is_nulled(name) {
                *slot = None;
            }
        }
        if let Some(name) = text("name") {
            p.name = name;
        } else if input.is_nulled("name") {
            return Err(ApiError::new("PROPERTY_VALIDATION_CANNOT_BE_NULL", &["KalturaPartner::name"]));
        }
        if let Some(owner) = text("adminUserId") {
            // Partner::setAdminUserId throws a core exception the API does not map: an internal error.
            let user =
                self.store.user(p.id, &owner).await?.ok_or_else(|| ApiError::new("INTERNAL_SERVERL_ERROR", &[]))?;
            if !user.has_role(ROLE_PUBLISHER_ADMIN) {
                return Err(ApiError::new("ACCOUNT_OWNER_NEEDS_PARTNER_ADMIN_ROLE", &[]));
            }
            p.admin_name = Some(user.full_name());
            p.admin_email = user.email.clone();
            p.admin_user_id = Some(user.puser_id);
        }
        self.store.update(&p).await?;
        Ok(partner_v(&p, true, None))
    }

    async fn user_list(&self) -> Result<V, ApiError> {
        let filter = UserFilter::new(self.params.object("filter"));
        let pager = Pager::from_params(self.params.object("pager").as_ref(), 30);
        let s = self.admin()?;
        let (users, total) = self.store.users(s.partner.id, &filter, pager).await?;
        Ok(V::Obj(
            "KalturaUserListResponse",
            vec![
                ("objects", V::Arr(users.iter().map(|u| user_v(u, &s.partner)).collect())),
                ("totalCount", V::Int(total)),
            ],
        ))
    }

    async fn user_get(&self) -> Result<V, ApiError> {
        let given = self.params.non_empty("userId");
        let s = self.user()?;
        let id = given.unwrap_or_else(|| s.ks.user_id.clone());
        if i64::from(s.ks.session_type) != SESSION_ADMIN && id != s.ks.user_id {
            return Err(ApiError::new("CANNOT_RETRIEVE_ANOTHER_USER_USING_NON_ADMIN_SESSION", &[&id]));
        }
        match self.store.user(s.partner.id, &id).await? {
            Some(u) => Ok(user_v(&u, &s.partner)),
            None => Err(ApiError::new("INVALID_USER_ID", &[])),
        }
    }

    async fn update_status(&self) -> Result<V, ApiError> {
        let id = self.params.required_int("id")?;
        let status = self.params.non_empty("status").ok_or_else(|| missing("status"))?;
        let status_value = enum_value(&status, &[0, 1, 2, 3, 4], "status", "KalturaPartnerStatus")?;
        let s = self.admin()?;
        if !s.partner.has_feature(FEATURE_VAR_CONSOLE_LOGIN) {
            return Err(ApiError::new("FEATURE_FORBIDDEN", &["varConsole"]));
        }
        if self.store.get_in_scope(s.partner.id, id).await?.is_none() {
            return Err(ApiError::new("UNKNOWN_PARTNER_ID", &[&id.to_string()]));
        }
        self.store.set_status(id, status_value).await?;
        Ok(V::Null)
    }

    /// Reads the arguments shared by session.start and session.impersonate.
    fn session_args(&self) -> Result<SessionArgs, ApiError> {
        let secret = self.params.text("secret").ok_or_else(|| missing("secret"))?;
        let user_id = self.params.text("userId").unwrap_or_default();
        let session_type = match self.params.non_empty("type") {
            Some(t) => enum_value(&t, &[SESSION_USER, SESSION_ADMIN], "type", "KalturaSessionType")?,
            None => SESSION_USER,
        };
        let partner_id = self.params.int("partnerId");
        let expiry = match self.params.int("expiry").unwrap_or(MAX_EXPIRY) {
            0 => MAX_EXPIRY,
            e => e.min(MAX_EXPIRY),
        };
        let privileges = self.params.text("privileges").unwrap_or_default();
        Ok(SessionArgs { secret, user_id, session_type, partner_id, expiry, privileges })
    }

    /// The partner whose admin secret (or, for user sessions, user secret) was given.
    async fn partner_by_secret(&self, a: &SessionArgs) -> Result<Partner, ApiError> {
        let (partner_id, secret, session_type) = (a.partner_id, a.secret.as_str(), a.session_type);
        let pid = partner_id.unwrap_or(0);
        let error = || ApiError::new("START_SESSION_ERROR", &[&partner_id.map(|p| p.to_string()).unwrap_or_default()]);
        let partner = self.store.get(pid).await?.ok_or_else(error)?;
        let matches = secret == partner.admin_secret || (session_type == SESSION_USER && secret == partner.secret);
        if !matches {
            return Err(error());
        }
        if !partner.is_usable() {
            return Err(ApiError::new("SERVICE_FORBIDDEN_CONTENT_BLOCKED", &[]));
        }
        Ok(partner)
    }

    async fn session_start(&self) -> Result<V, ApiError> {
        let a = self.session_args()?;
        self.check_session()?;
        let partner = self.partner_by_secret(&a).await?;
        Ok(V::Str(mint(&partner, &a.user_id, a.session_type, self.now + a.expiry, &a.privileges, None)))
    }

    async fn session_impersonate(&self) -> Result<V, ApiError> {
        let a = self.session_args()?;
        let target = self.params.required_int("impersonatedPartnerId")?;
        self.check_session()?;
        let parent = self.partner_by_secret(&a).await?;
        let child = self
            .store
            .get_in_scope(parent.id, target)
            .await?
            .ok_or_else(|| ApiError::new("START_SESSION_ERROR", &[&parent.id.to_string()]))?;
        Ok(V::Str(mint(&child, &a.user_id, a.session_type, self.now + a.expiry, &a.privileges, Some(parent.id))))
    }

    async fn session_get(&self) -> Result<V, ApiError> {
        let given = self.params.non_empty("session");
        let s = self.user()?;
        let (ks, raw) = match given {
            Some(raw) => {
                let (ks, _) = authenticate(self.store, &raw).await?;
                (ks, raw)
            }
            None => (s.ks.clone(), s.raw.clone()),
        };
        Ok(V::Obj(
            "KalturaSessionInfo",
            vec![
                ("ks", V::Str(raw)),
                ("sessionType", V::Int(i64::from(ks.session_type))),
                ("partnerId", V::Int(ks.partner_id)),
                ("userId", V::Str(ks.user_id.clone())),
                ("expiry", V::Int(ks.valid_until)),
                ("privileges", V::Str(ks.privileges.clone())),
            ],
        ))
    }

    async fn login_by_login_id(&self) -> Result<V, ApiError> {
        let login = self.params.text("loginId").ok_or_else(|| missing("loginId"))?;
        let password = self.params.text("password").ok_or_else(|| missing("password"))?;
        let partner_id = self.params.int("partnerId");
        let expiry = self.params.int("expiry").filter(|e| *e > 0).unwrap_or(MAX_EXPIRY).min(MAX_EXPIRY);
        let privileges = self.params.non_empty("privileges").unwrap_or_else(|| "*".into());
        self.check_session()?;
        let wrong = || ApiError::new("USER_WRONG_PASSWORD", &[]);
        let pid = self.store.check_login(&login, &password).await?.ok_or_else(wrong)?;
        if partner_id.is_some_and(|p| p != pid) {
            return Err(wrong());
        }
        let partner = self.store.get(pid).await?.filter(Partner::is_usable).ok_or_else(wrong)?;
        self.store.touch_login(partner.id, &login, self.now).await?;
        Ok(V::Str(mint(&partner, &login, SESSION_ADMIN, self.now + expiry, &privileges, None)))
    }

    /// report.getTable, getTotal and getGraphs: the arguments in the server's order (reportType, reportInputFilter,
    /// then getTable's pager), then the permission. No feature is checked: the server checks none for reports.
    async fn report(&self, action: reports::Action) -> Result<V, ApiError> {
        let given = self.params.text("reportType").ok_or_else(|| missing("reportType"))?;
        let report_type = reports::report_type(&given)
            .ok_or_else(|| ApiError::new("INVALID_ENUM_VALUE", &[&given, "reportType", "KalturaReportType"]))?;
        let input = self.params.object("reportInputFilter").ok_or_else(|| missing("reportInputFilter"))?;
        let filter = reports::InputFilter::read(&input, self.now)?;
        let pager = match action {
            reports::Action::Table => reports::pager(&self.params.object("pager").ok_or_else(|| missing("pager"))?),
            _ => (30, 1),
        };
        let request = reports::Request {
            report_type,
            filter,
            pager,
            order: self.params.text("order"),
            object_ids: self.params.text("objectIds"),
            delimiter: self
                .params
                .object("responseOptions")
                .and_then(|o| o.text("delimiter"))
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| ",".into()),
        };
        let s = self.admin()?;
        reports::run(self.store, &report_partner(&s.partner), &request, action, self.now).await
    }

    /// varConsole.getPartnerUsage: the caller and its children that match the filter (at most 2000), their usage
    /// per period as VAR_USAGE's rows, and PARTNER_USAGE's total.
    async fn partner_usage(&self) -> Result<V, ApiError> {
        let filter = Filter::new(self.params.object("partnerFilter"));
        let usage = self.params.object("usageFilter").map(|f| reports::InputFilter::read(&f, self.now)).transpose()?;
        let pager = self.params.object("pager").map_or((30, 1), |p| reports::pager(&p));
        let s = self.admin()?;
        if !s.partner.has_feature(FEATURE_VAR_CONSOLE_LOGIN) {
            return Err(ApiError::new("FEATURE_FORBIDDEN", &["varConsole"]));
        }
        if self.store.count(s.partner.id, &filter).await? > MAX_SUB_PUBLISHERS {
            return Err(ApiError::new("MAX_SUB_PUBLISHERS_EXCEEDED", &[]));
        }
        let all = Pager { page_size: MAX_SUB_PUBLISHERS, page_index: 1 };
        let (partners, _) = self.store.list(s.partner.id, &filter, all).await?;
        let mut partners: Vec<ReportPartner> = partners.iter().map(report_partner).collect();
        partners.sort_by_key(|p| p.id);
        reports::partner_usage(&partners, usage.as_ref(), pager, self.now)
    }

    /// permission.list: the session partner's own permissions (its features, as the admin console grants them:
    /// SPECIAL_FEATURE, active, named as their friendly name) and the global ones partner 0 holds.
    async fn permission_list(&self) -> Result<V, ApiError> {
        let filter = self.params.object("filter").unwrap_or_default();
        let pager = Pager::from_params(self.params.object("pager").as_ref(), 30);
        let s = self.admin()?;
        let mut all = permissions(&s.partner);
        all.retain(|p| p.matches(&filter));
        let order = filter.text("orderBy").unwrap_or_default();
        match order.as_str() {
            "-id" => all.sort_by_key(|p| std::cmp::Reverse(p.id)),
            "+name" => all.sort_by(|a, b| a.name.cmp(&b.name)),
            "-name" => all.sort_by(|a, b| b.name.cmp(&a.name)),
            "+createdAt" | "+updatedAt" => all.sort_by_key(|p| p.created_at),
            "-createdAt" | "-updatedAt" => all.sort_by_key(|p| std::cmp::Reverse(p.created_at)),
            _ => all.sort_by_key(|p| p.id),
        }
        let total = all.len() as i64;
        let start = usize::try_from(pager.offset()).unwrap_or(usize::MAX);
        let objects = all.iter().skip(start).take(pager.page_size as usize).map(Permission::v).collect();
        Ok(V::Obj("KalturaPermissionListResponse", vec![("objects", V::Arr(objects)), ("totalCount", V::Int(total))]))
    }
}

/// varConsole's limit on the partners one usage request covers.
const MAX_SUB_PUBLISHERS: i64 = 2000;

fn report_partner(p: &Partner) -> ReportPartner {
    ReportPartner { id: p.id, name: p.name.clone(), status: p.status, created_at: p.created_at }
}

/// KalturaPermissionType SPECIAL_FEATURE, NORMAL; KalturaPermissionStatus ACTIVE.
const PERMISSION_SPECIAL_FEATURE: i64 = 2;
const PERMISSION_NORMAL: i64 = 1;
const PERMISSION_ACTIVE: i64 = 1;

/// Some of partner 0's permissions (deployment/permissions/partner.0.ini): id, name, friendly name, dependencies.
const GLOBAL_PERMISSIONS: &[(i64, &str, &str, &str)] = &[
    (7, "ADMIN_BASE", "Administration settings access", ""),
    (11, "ADMIN_PUBLISHER_MANAGE", "Manage publishers", ""),
    (25, "ANALYTICS_BASE", "Analytics access", "FEATURE_ANALYTICS_TAB"),
    (58, "CONTENT_MANAGE_BASE", "Basic content management", ""),
    (111, "KMC_ACCESS", "KMC access", ""),
    (112, "KMC_READ_ONLY", "KMC read only access", "KMC_ACCESS"),
];

/// One KalturaPermission.
struct Permission {
    id: i64,
    kind: i64,
    name: String,
    friendly_name: String,
    /// `dependsOnPermissionNames` of partner 0's permissions, which carry empty strings where a partner's features
    /// carry nothing; None for those features.
    depends_on: Option<&'static str>,
    partner_id: i64,
    created_at: i64,
}

fn permissions(partner: &Partner) -> Vec<Permission> {
    let global = GLOBAL_PERMISSIONS.iter().map(|(id, name, friendly, depends)| Permission {
        id: *id,
        kind: PERMISSION_NORMAL,
        name: (*name).into(),
        friendly_name: (*friendly).into(),
        depends_on: Some(depends),
        partner_id: 0,
        created_at: 1_262_304_000,
    });
    let features =
        partner.features.split(',').map(str::trim).filter(|f| !f.is_empty()).enumerate().map(|(i, f)| Permission {
            id: partner.id * 1000 + i as i64 + 1,
            kind: PERMISSION_SPECIAL_FEATURE,
            name: f.into(),
            friendly_name: f.into(),
            depends_on: None,
            partner_id: partner.id,
            created_at: partner.created_at,
        });
    global.chain(features).collect()
}

impl Permission {
    /// KalturaPermissionFilter: empty values are ignored, `…In` lists split on commas; no description is set, so
    /// `descriptionLike` matches nothing.
    fn matches(&self, f: &Params) -> bool {
        let ints = |name: &str| f.non_empty(name).map(|v| v.split(',').map(params::php_int).collect::<Vec<_>>());
        let strings =
            |name: &str| f.non_empty(name).map(|v| v.split(',').map(|s| s.trim().to_string()).collect::<Vec<_>>());
        let like = |name: &str, value: &str| {
            f.non_empty(name).is_none_or(|v| value.to_lowercase().contains(&v.to_lowercase()))
        };
        f.int("idEqual").is_none_or(|v| v == self.id)
            && ints("idIn").is_none_or(|v| v.contains(&self.id))
            && f.int("typeEqual").is_none_or(|v| v == self.kind)
            && ints("typeIn").is_none_or(|v| v.contains(&self.kind))
            && f.non_empty("nameEqual").is_none_or(|v| v == self.name)
            && strings("nameIn").is_none_or(|v| v.contains(&self.name))
            && like("friendlyNameLike", &self.friendly_name)
            && f.non_empty("descriptionLike").is_none()
            && f.int("statusEqual").is_none_or(|v| v == PERMISSION_ACTIVE)
            && ints("statusIn").is_none_or(|v| v.contains(&PERMISSION_ACTIVE))
            && f.int("partnerIdEqual").is_none_or(|v| v == self.partner_id)
            && ints("partnerIdIn").is_none_or(|v| v.contains(&self.partner_id))
            && f.int("createdAtGreaterThanOrEqual").is_none_or(|v| self.created_at >= v)
            && f.int("createdAtLessThanOrEqual").is_none_or(|v| self.created_at <= v)
            && f.int("updatedAtGreaterThanOrEqual").is_none_or(|v| self.created_at >= v)
            && f.int("updatedAtLessThanOrEqual").is_none_or(|v| self.created_at <= v)
    }

    fn v(&self) -> V {
        let text = |s: &str| self.depends_on.map_or(V::Null, |_| V::Str(s.into()));
        V::Obj(
            "KalturaPermission",
            vec![
                ("id", V::Int(self.id)),
                ("type", V::Int(self.kind)),
                ("name", V::Str(self.name.clone())),
                ("friendlyName", V::Str(self.friendly_name.clone())),
                ("description", text("")),
                ("status", V::Int(PERMISSION_ACTIVE)),
                ("partnerId", V::Int(self.partner_id)),
                ("dependsOnPermissionNames", self.depends_on.map_or(V::Null, |d| V::Str(d.into()))),
                ("tags", text("")),
                ("permissionItemsIds", V::Null),
                ("createdAt", V::Int(self.created_at)),
                ("updatedAt", V::Int(self.created_at)),
                ("partnerGroup", text("")),
            ],
        )
    }
}

fn missing(name: &str) -> ApiError {
    ApiError::new("MISSING_MANDATORY_PARAMETER", &[name])
}

fn duplicate_email(email: &str) -> ApiError {
    ApiError::registration(&format!("User with email [{email}] already exists in system."))
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// An enum argument given as a number; anything else is INVALID_ENUM_VALUE.
fn enum_value(value: &str, allowed: &[i64], param: &str, enum_type: &str) -> Result<i64, ApiError> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|v| allowed.contains(v))
        .ok_or_else(|| ApiError::new("INVALID_ENUM_VALUE", &[value, param, enum_type]))
}

/// Read-only KalturaPartner properties a client may not set.
const READ_ONLY: &[&str] = &[
    "id",
    "createdAt",
    "status",
    "secret",
    "adminSecret",
    "cmsPassword",
    "adminLoginUsersQuota",
    "publishersQuota",
    "partnerGroupType",
    "templatePartnerId",
    "isFirstLogin",
];

fn reject_read_only(input: &Params) -> Result<(), ApiError> {
    match READ_ONLY.iter().find(|p| input.text(p).is_some()) {
        Some(p) => Err(ApiError::new("PROPERTY_VALIDATION_NOT_UPDATABLE", &[&format!("KalturaPartner::{p}")])),
        None => Ok(()),
    }
}

/// PHP's `strip_tags`: drops HTML and PHP tags and comments; a `<` that opens no tag is kept.
pub fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let opens_tag =
            c == '<' && chars.peek().is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?'));
        if !opens_tag {
            out.push(c);
            continue;
        }
        let mut quote = None;
        for c in chars.by_ref() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '>') => break,
                _ => {}
            }
        }
    }
    out
}

/// KalturaUser as the server writes it.
fn user_v(u: &User, partner: &Partner) -> V {
    let is_owner = partner.admin_user_id.as_deref() == Some(u.puser_id.as_str());
    V::Obj(
        "KalturaUser",
        vec![
            ("id", V::Str(u.puser_id.clone())),
            ("partnerId", V::Int(u.partner_id)),
            ("screenName", V::Str(u.puser_id.clone())),
            ("fullName", V::Str(u.full_name())),
            ("email", V::opt_str(u.email.clone())),
            ("status", V::Int(u.status)),
            ("createdAt", V::Int(u.created_at)),
            ("updatedAt", V::Int(u.updated_at)),
            ("lastLoginTime", u.last_login_time.map_or(V::Null, V::Int)),
            ("statusUpdatedAt", V::Int(u.updated_at)),
            ("type", V::Int(0)),
            ("isAdmin", V::Bool(u.is_admin)),
            ("roleNames", V::Str(u.role_names.clone())),
            ("isAccountOwner", V::Bool(is_owner)),
            ("firstName", V::opt_str(u.first_name.clone())),
            ("lastName", V::opt_str(u.last_name.clone())),
            ("loginEnabled", V::Bool(u.is_admin)),
        ],
    )
}

/// Mints a v2 KS for `partner`, signed with its admin secret.
fn mint(
    partner: &Partner,
    user: &str,
    session_type: i64,
    valid_until: i64,
    privileges: &str,
    master: Option<i64>,
) -> String {
    ks::generate_v2_random(
        &partner.admin_secret,
        &KsParams {
            partner_id: partner.id,
            user_id: user,
            session_type: session_type as i32,
            valid_until,
            privileges,
            master_partner_id: master,
        },
    )
}

/// KalturaPartner as the server writes it. `partnerGroupType` is never returned to ordinary sessions; secrets
/// only to admin sessions; `cmsPassword` only from register.
pub fn partner_v(p: &Partner, secrets: bool, cms_password: Option<String>) -> V {
    let secret = |s: &String| if secrets { V::Str(s.clone()) } else { V::Null };
    V::Obj(
        "KalturaPartner",
        vec![
            ("id", V::Int(p.id)),
            ("name", V::Str(p.name.clone())),
            ("website", V::opt_str(p.website.clone())),
            ("notificationUrl", V::Null),
            ("appearInSearch", V::Int(2)),
            ("createdAt", V::Int(p.created_at)),
            ("adminName", V::opt_str(p.admin_name.clone())),
            ("adminEmail", V::opt_str(p.admin_email.clone())),
            ("description", V::opt_str(p.description.clone())),
            ("commercialUse", V::Int(1)),
            ("type", V::Int(p.partner_type)),
            ("phone", V::opt_str(p.phone.clone())),
            ("adultContent", V::Bool(false)),
            ("notify", V::Int(0)),
            ("status", V::Int(p.status)),
            ("allowQuickEdit", V::Int(1)),
            ("mergeEntryLists", V::Int(0)),
            ("maxUploadSize", V::Int(2048)),
            ("partnerPackage", V::Int(p.partner_package)),
            ("secret", secret(&p.secret)),
            ("adminSecret", secret(&p.admin_secret)),
            ("cmsPassword", V::opt_str(cms_password)),
            ("allowMultiNotification", V::Int(0)),
            ("adminLoginUsersQuota", V::Int(p.admin_login_users_quota)),
            ("adminUserId", V::opt_str(p.admin_user_id.clone())),
            ("firstName", V::opt_str(p.first_name.clone())),
            ("lastName", V::opt_str(p.last_name.clone())),
            ("country", V::opt_str(p.country.clone())),
            ("state", V::opt_str(p.state.clone())),
            ("publishersQuota", V::Int(p.publishers_quota)),
            ("templatePartnerId", V::opt_int(p.template_partner_id)),
            ("isFirstLogin", V::Bool(false)),
            ("partnerParentId", V::opt_int(p.partner_parent_id)),
            ("referenceId", V::opt_str(p.reference_id.clone())),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_stripped_as_php_does() {
        assert_eq!(strip_tags("<b>Acme</b> Media"), "Acme Media");
        assert_eq!(strip_tags("a < b and <script>x</script>"), "a < b and x");
        assert_eq!(strip_tags("<a href=\"x>y\">link</a><!-- c -->"), "link");
        assert_eq!(strip_tags("x<"), "x<");
    }

    #[test]
    fn names_resolve_case_insensitively() {
        assert_eq!(resolve("Partner", "GETINFO").unwrap(), ("partner", "getInfo"));
        assert_eq!(
            resolve("VarConsole_VarConsole", "updatestatus").unwrap(),
            ("varconsole_varconsole", "updateStatus")
        );
        assert_eq!(resolve("nope", "list").unwrap_err().message(), "Service \"nope\" does not exists");
        assert_eq!(resolve("partner", "fly").unwrap_err().code, "ACTION_DOES_NOT_EXISTS");
    }
}
