//! The console's Kaltura client: typed calls over `api_v3` JSON, one pooled HTTP client, and an admin session
//! (KS) minted locally from the parent's admin secret and renewed before it runs out.
//!
//! Retries are deliberate: a read is sent again once if no connection could be made, and once with a fresh KS if
//! Kaltura refuses the session. partner.register is never sent twice by the client (an account must not be
//! created twice): a timeout there leaves the outcome unknown, and the caller reconciles.

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::action::Action;
use super::error::{KalturaError, shape, value};
use super::ks::{self, KsParams};
use super::multirequest::{MultiRequest, MultiResponse};
use super::reports::{Permission, ReportQuery, ReportTable, ReportTotal};
use super::secret::{ImpersonatedKs, Secret, SecretUrl};
use super::types::{ListResponse, NewAccount, Pager, Partner, PartnerChanges, PartnerFilter, PartnerStatus, User};

pub const USER_AGENT: &str = concat!("multi-account/", env!("CARGO_PKG_VERSION"));
const CLIENT_TAG: &str = concat!("multi-account:", env!("CARGO_PKG_VERSION"));
const SESSION_ADMIN: i32 = 2;
/// Entitlement checks would hide content the parent administers.
const ADMIN_PRIVILEGES: &str = "disableentitlement";
/// A moment for a restarting proxy or a flapping link before the one retry of a refused connection.
const CONNECT_RETRY_PAUSE: Duration = Duration::from_millis(300);

/// The current time in unix seconds; replaceable so tests can move the client's clock.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    pub fn system() -> Clock {
        Clock(Arc::new(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
        }))
    }

    pub fn from_fn(f: impl Fn() -> i64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(f))
    }

    pub fn now(&self) -> i64 {
        (self.0)()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

/// Everything the client needs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Without a trailing `/` or `/api_v3`.
    pub service_url: String,
    /// The parent account.
    pub partner_id: i64,
    pub admin_secret: Secret,
    /// The user id in the console's admin KS (may be empty).
    pub admin_user_id: String,
    /// Base of the Rich Media CMS sign-in address.
    pub kmc_url: String,
    /// Every call but partner.register.
    pub timeout: Duration,
    pub register_timeout: Duration,
    /// Lifetime of a KS made for "Rich Media CMS Login".
    pub impersonation_lifetime: Duration,
    /// Lifetime of the console's own admin KS…
    pub session_lifetime: Duration,
    /// …which is replaced once less than this is left.
    pub session_renew_before: Duration,
    /// The most of one answer the client reads; a larger one is an error, not a memory spike.
    pub max_answer_bytes: usize,
    pub clock: Clock,
}

impl ClientConfig {
    /// Defaults for everything but where Kaltura is and which parent to act for.
    pub fn new(service_url: &str, partner_id: i64, admin_secret: Secret) -> Result<ClientConfig, InvalidUrl> {
        let service_url = normalize_service_url(service_url)?;
        Ok(ClientConfig {
            kmc_url: service_url.clone(),
            service_url,
            partner_id,
            admin_secret,
            admin_user_id: String::new(),
            timeout: Duration::from_secs(15),
            register_timeout: Duration::from_secs(120),
            impersonation_lifetime: Duration::from_secs(120),
            session_lifetime: Duration::from_secs(3600),
            session_renew_before: Duration::from_secs(300),
            max_answer_bytes: 32 * 1024 * 1024,
            clock: Clock::system(),
        })
    }
}

/// A service or Rich Media CMS address that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not valid: {reason}")]
pub struct InvalidUrl {
    pub value: String,
    pub reason: String,
}

/// An http(s) URL with a host, without a trailing `/` or `/api_v3` (Kaltura's tools are given both forms).
pub fn normalize_service_url(raw: &str) -> Result<String, InvalidUrl> {
    let invalid = |reason: &str| InvalidUrl { value: raw.to_string(), reason: reason.to_string() };
    let trimmed = raw.trim();
    if !trimmed.contains("://") {
        return Err(invalid("add the scheme, e.g. https://www.kaltura.com"));
    }
    let url = reqwest::Url::parse(trimmed).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid("expected an http:// or https:// URL, e.g. https://www.kaltura.com"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("give the service URL without ?query or #fragment"));
    }
    let mut s = url.as_str().trim_end_matches('/').to_string();
    if s.to_ascii_lowercase().ends_with("/api_v3") {
        s.truncate(s.len() - "/api_v3".len());
    }
    Ok(s.trim_end_matches('/').to_string())
}

/// Cheap to clone: clones share the HTTP connection pool and the admin session.
#[derive(Clone)]
pub struct KalturaClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    cfg: ClientConfig,
    /// The admin KS and its expiry; minting is local and quick, so a plain mutex is enough.
    session: Mutex<Option<(Secret, i64)>>,
}

impl fmt::Debug for KalturaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KalturaClient")
            .field("service_url", &self.inner.cfg.service_url)
            .field("partner_id", &self.inner.cfg.partner_id)
            .finish_non_exhaustive()
    }
}

/// How a call is made.
#[derive(Clone, Copy)]
struct Mode {
    /// Sends the admin KS.
    session: bool,
    timeout: Duration,
    /// Safe to send twice: retried once on a failed connection and once with a fresh KS.
    repeatable: bool,
}

impl KalturaClient {
    pub fn new(cfg: ClientConfig) -> Result<KalturaClient, KalturaError> {
        let http = reqwest::Client::builder().user_agent(USER_AGENT).build().map_err(|e| KalturaError::Connect {
            url: cfg.service_url.clone(),
            reason: format!("cannot set up HTTPS: {e}"),
        })?;
        Ok(KalturaClient { inner: Arc::new(Inner { http, cfg, session: Mutex::new(None) }) })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.cfg
    }

    /// system.ping: is the service there at all (needs no session).
    pub async fn ping(&self) -> Result<(), KalturaError> {
        let mode = Mode { session: false, ..self.mode(Action::SYSTEM_PING) };
        let answer = self.call(Action::SYSTEM_PING, Map::new(), mode).await?;
        match answer {
            Value::Bool(true) => Ok(()),
            other => Err(KalturaError::BadResponse(format!("system.ping answered {}", shape(&other)))),
        }
    }

    /// partner.getInfo: the parent account (with `publishersQuota` and `adminLoginUsersQuota`).
    pub async fn partner_info(&self) -> Result<Partner, KalturaError> {
        self.call_as(Action::PARTNER_GET_INFO, Map::new()).await
    }

    /// partner.get: the parent or one of its children.
    pub async fn get_partner(&self, id: i64) -> Result<Partner, KalturaError> {
        self.call_as(Action::PARTNER_GET, params(json!({ "id": id }))).await
    }

    /// partner.list: the parent and its children that match.
    pub async fn list_partners(
        &self,
        filter: &PartnerFilter,
        pager: &Pager,
    ) -> Result<ListResponse<Partner>, KalturaError> {
        let p = params(json!({ "filter": filter.to_wire(), "pager": pager.to_wire() }));
        self.call_as(Action::PARTNER_LIST, p).await
    }

    /// varconsole_varconsole.updateStatus: Block (2), Unblock (1), Remove (3).
    pub async fn update_status(&self, id: i64, status: PartnerStatus) -> Result<(), KalturaError> {
        let p = params(json!({ "id": id, "status": status.code() }));
        self.call(Action::UPDATE_STATUS, p, self.mode(Action::UPDATE_STATUS)).await.map(drop)
    }

    /// partner.register: creates a child account, copying `template_id`'s content (`Some(0)`: the default
    /// template). Sent once, whatever happens: on a timeout the account may or may not exist.
    pub async fn register(&self, account: &NewAccount, template_id: Option<i64>) -> Result<Partner, KalturaError> {
        let mut p = params(json!({ "partner": account.to_wire() }));
        if let Some(t) = template_id {
            p.insert("templatePartnerId".into(), json!(t));
        }
        self.call_as(Action::PARTNER_REGISTER, p).await
    }

    /// session.impersonate: a KS for `partner_id` as `user_id`, signed by Kaltura, limited to that account.
    pub async fn impersonate(&self, partner_id: i64, user_id: &str) -> Result<ImpersonatedKs, KalturaError> {
        let (p, valid_until) = self.impersonation_params(partner_id, json!(user_id));
        // With the admin KS, as kmc-ng and the official clients send it.
        let answer = self.call(Action::SESSION_IMPERSONATE, p, self.mode(Action::SESSION_IMPERSONATE)).await?;
        let ks = ks_from(&answer)?;
        Ok(ImpersonatedKs::new(partner_id, user_id.to_string(), valid_until, ks))
    }

    /// "Rich Media CMS Login" for a child in one HTTP request: partner.get (which also proves it is a child) and
    /// session.impersonate as its `adminUserId`, read by Kaltura from the first result.
    pub async fn impersonate_child(&self, child_id: i64) -> Result<ImpersonatedKs, KalturaError> {
        let mut mr = MultiRequest::new();
        let child = mr.add(Action::PARTNER_GET, json!({ "id": child_id }));
        let (p, valid_until) = self.impersonation_params(child_id, json!(child.field("adminUserId")));
        let session = mr.add(Action::SESSION_IMPERSONATE, Value::Object(p));
        let r = self.multirequest(&mr).await?;
        let partner: Partner = r.get(child)?;
        let ks = ks_from(&r.item(session)?)?;
        Ok(ImpersonatedKs::new(partner.id, partner.admin_user_id.unwrap_or_default(), valid_until, ks))
    }

    /// "Rich Media CMS Login" as one of a child's users, in one HTTP request: partner.get (the child is the
    /// parent's), user.get under a session impersonating the child (the user exists there), and session.impersonate
    /// as that user. Returns the user as Kaltura has it and the session.
    pub async fn impersonate_user(&self, child_id: i64, user_id: &str) -> Result<(User, ImpersonatedKs), KalturaError> {
        let mut mr = MultiRequest::new();
        let child = mr.add(Action::PARTNER_GET, json!({ "id": child_id }));
        let admin = mr.add(Action::SESSION_IMPERSONATE, self.impersonation(child_id, ""));
        let user = mr.add_as(Action::USER_GET, json!({ "userId": user_id }), admin);
        let (p, valid_until) = self.impersonation_params(child_id, json!(user_id));
        let session = mr.add(Action::SESSION_IMPERSONATE, Value::Object(p));
        let r = self.multirequest(&mr).await?;
        r.get::<Partner>(child)?;
        r.item(admin)?;
        let user: User = r.get(user)?;
        let ks = ks_from(&r.item(session)?)?;
        Ok((user, ImpersonatedKs::new(child_id, user_id.to_string(), valid_until, ks)))
    }

    /// partner.update of a child, which Kaltura applies to the partner of the KS: sent with a session
    /// impersonating the child, in the same HTTP request that asks for it. Returns the account as saved.
    pub async fn update_child(&self, child_id: i64, changes: &PartnerChanges) -> Result<Partner, KalturaError> {
        let mut mr = MultiRequest::new();
        let session = mr.add(Action::SESSION_IMPERSONATE, self.impersonation(child_id, ""));
        let update =
            mr.add_as(Action::PARTNER_UPDATE, json!({ "partner": changes.to_wire(), "allowEmpty": true }), session);
        let r = self.multirequest(&mr).await?;
        r.item(session)?;
        r.get(update)
    }

    /// session.impersonate's arguments, for a multirequest whose later calls send its result as their KS
    /// ([`MultiRequest::add_as`]): an administrator session of `partner_id` as `user_id`.
    pub fn impersonation(&self, partner_id: i64, user_id: &str) -> Value {
        Value::Object(self.impersonation_params(partner_id, json!(user_id)).0)
    }

    /// `{kmcUrl}/index.php/kmcng/actions/persist-login-by-ks/{KS}`: opens the child's Rich Media CMS in the
    /// browser tab it is sent to.
    pub fn kmc_login_url(&self, ks: &ImpersonatedKs) -> SecretUrl {
        SecretUrl::new(format!(
            "{}/index.php/kmcng/actions/persist-login-by-ks/{}",
            self.inner.cfg.kmc_url,
            ks.expose()
        ))
    }

    /// report.getTable: one page of a report's rows, ordered by one column if given.
    pub async fn report_table(
        &self,
        query: &ReportQuery,
        pager: &Pager,
        order: Option<&str>,
    ) -> Result<ReportTable, KalturaError> {
        let p = params(query.for_table(pager, order));
        let answer = self.call(Action::REPORT_GET_TABLE, p, self.mode(Action::REPORT_GET_TABLE)).await?;
        Ok(ReportTable::read(&answer))
    }

    /// report.getTotal: the report's totals.
    pub async fn report_total(&self, query: &ReportQuery) -> Result<ReportTotal, KalturaError> {
        let p = params(query.for_total());
        let answer = self.call(Action::REPORT_GET_TOTAL, p, self.mode(Action::REPORT_GET_TOTAL)).await?;
        Ok(ReportTotal::read(&answer))
    }

    /// Whether the parent has the active permission `name` (permission.list).
    pub async fn has_permission(&self, name: &str) -> Result<bool, KalturaError> {
        let p = params(Permission::query(name));
        let list: ListResponse<Permission> = self.call_as(Action::PERMISSION_LIST, p).await?;
        Ok(Permission::granted_in(&list, name))
    }

    /// Sends the calls in one HTTP request with the admin KS. Fails as a whole only for transport problems; each
    /// call's own error is in its result.
    pub async fn multirequest(&self, mr: &MultiRequest) -> Result<MultiResponse, KalturaError> {
        let url = format!("{}/api_v3/service/multirequest", self.inner.cfg.service_url);
        let timeout = if mr.is_repeatable() { self.inner.cfg.timeout } else { self.inner.cfg.register_timeout };
        let mode = Mode { session: true, timeout, repeatable: mr.is_repeatable() };
        // The list is split into its results as it is checked; anything else is kept whole to say what it was.
        let read = |body: &[u8]| match serde_json::from_slice::<Vec<Box<RawValue>>>(body) {
            Ok(items) => Some(Ok(MultiResponse::from_raw(items))),
            Err(_) => {
                let other = serde_json::from_slice::<Box<RawValue>>(body).ok()?;
                Some(Err(KalturaError::from_raw(&other).unwrap_or_else(|| {
                    let kind = shape(&value(&other));
                    KalturaError::BadResponse(format!("a multirequest answered {kind} instead of a list"))
                })))
            }
        };
        let refused = |r: &Result<MultiResponse, KalturaError>| r.as_ref().is_ok_and(MultiResponse::has_invalid_ks);
        self.send(&url, &mr.names(), &mr.to_wire(), mode, read, refused).await?
    }

    /// With the admin KS; an action that must not be repeated gets the long timeout (it is partner.register).
    fn mode(&self, action: Action) -> Mode {
        let cfg = &self.inner.cfg;
        let timeout = if action.is_repeatable() { cfg.timeout } else { cfg.register_timeout };
        Mode { session: true, timeout, repeatable: action.is_repeatable() }
    }

    fn impersonation_params(&self, partner_id: i64, user_id: Value) -> (Map<String, Value>, i64) {
        let cfg = &self.inner.cfg;
        let expiry = cfg.impersonation_lifetime.as_secs().max(1);
        let p = params(json!({
            "secret": cfg.admin_secret.expose(),
            "impersonatedPartnerId": partner_id,
            "userId": user_id,
            "type": SESSION_ADMIN,
            "partnerId": cfg.partner_id,
            "expiry": expiry,
            "privileges": format!("disableentitlement,enablechangeaccount:{partner_id}"),
        }));
        (p, cfg.clock.now() + expiry as i64)
    }

    /// The admin KS, minted anew when there is none or it is about to run out.
    fn admin_ks(&self) -> Secret {
        let cfg = &self.inner.cfg;
        let mut slot = self.inner.session.lock().unwrap_or_else(|e| e.into_inner());
        let now = cfg.clock.now();
        if let Some((ks, valid_until)) = &*slot
            && now + (cfg.session_renew_before.as_secs() as i64) < *valid_until
        {
            return ks.clone();
        }
        let valid_until = now + cfg.session_lifetime.as_secs() as i64;
        let ks = Secret::new(ks::generate_v2_random(
            cfg.admin_secret.expose(),
            &KsParams {
                partner_id: cfg.partner_id,
                user_id: &cfg.admin_user_id,
                session_type: SESSION_ADMIN,
                valid_until,
                privileges: ADMIN_PRIVILEGES,
                master_partner_id: None,
            },
        ));
        tracing::debug!(partner_id = cfg.partner_id, valid_until, "minted a new admin session");
        *slot = Some((ks.clone(), valid_until));
        ks
    }

    /// Drops a KS Kaltura refused, unless another task has already replaced it.
    fn forget_ks(&self, refused: &Secret) {
        let mut slot = self.inner.session.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_some_and(|(ks, _)| ks == refused) {
            *slot = None;
        }
    }

    async fn call_as<T: DeserializeOwned>(
        &self,
        action: Action,
        params: Map<String, Value>,
    ) -> Result<T, KalturaError> {
        let answer = self.call_raw(action, params, self.mode(action)).await?;
        serde_json::from_str(answer.get()).map_err(|_| {
            let kind = shape(&value(&answer));
            KalturaError::BadResponse(format!("{action} answered {kind}, which does not read as expected"))
        })
    }

    /// One call, its answer as a value; an API error in the answer becomes `Err`.
    async fn call(&self, action: Action, params: Map<String, Value>, mode: Mode) -> Result<Value, KalturaError> {
        self.call_raw(action, params, mode).await.map(|raw| value(&raw))
    }

    /// One call, its answer as Kaltura wrote it; an API error in the answer becomes `Err`.
    async fn call_raw(
        &self,
        action: Action,
        params: Map<String, Value>,
        mode: Mode,
    ) -> Result<Box<RawValue>, KalturaError> {
        let url =
            format!("{}/api_v3/service/{}/action/{}", self.inner.cfg.service_url, action.service(), action.name());
        let read = |body: &[u8]| {
            let answer = serde_json::from_slice::<Box<RawValue>>(body).ok()?;
            Some(KalturaError::from_raw(&answer).map_or(Ok(answer), Err))
        };
        let refused = |r: &Result<Box<RawValue>, KalturaError>| r.as_ref().is_err_and(KalturaError::is_invalid_ks);
        let answer = self.send(&url, &action.to_string(), &params, mode, read, refused).await?;
        if let Err(KalturaError::Api { code, .. }) = &answer {
            metrics::counter!("kaltura_api_errors_total", "call" => action.to_string(), "code" => code.clone())
                .increment(1);
        }
        answer
    }

    /// Sends `params` (with the admin KS when the mode says so) and reads the answer with `read` (`None`: the body
    /// is not JSON at all). When Kaltura refuses that KS the KS is forgotten and, for a request that may be repeated,
    /// sent once more with a fresh one.
    async fn send<T>(
        &self,
        url: &str,
        name: &str,
        params: &Map<String, Value>,
        mode: Mode,
        read: impl Fn(&[u8]) -> Option<T>,
        refused: impl Fn(&T) -> bool,
    ) -> Result<T, KalturaError> {
        let mut renewed = false;
        loop {
            let mut body = params.clone();
            let ks = mode.session.then(|| self.admin_ks());
            if let Some(ks) = &ks {
                body.insert("ks".into(), json!(ks.expose()));
            }
            let answer = self.post(url, name, body, mode, &read).await?;
            match &ks {
                Some(ks) if refused(&answer) => {
                    self.forget_ks(ks);
                    if renewed || !mode.repeatable {
                        return Ok(answer);
                    }
                    renewed = true;
                    tracing::warn!(call = %name, "Kaltura refused the admin session; sending again with a new one");
                }
                _ => return Ok(answer),
            }
        }
    }

    /// POSTs a JSON body (`format=1`) and reads the answer with `parse` (`None`: not JSON); retries once if no
    /// connection could be made.
    async fn post<A>(
        &self,
        url: &str,
        name: &str,
        body: Map<String, Value>,
        mode: Mode,
        parse: impl Fn(&[u8]) -> Option<A>,
    ) -> Result<A, KalturaError> {
        let started = Instant::now();
        let answer = self.exchange(url, name, body, mode, parse).await;
        let outcome = match &answer {
            Ok(_) => "ok",
            Err(KalturaError::Timeout { .. }) => "timeout",
            Err(KalturaError::Connect { .. }) => "unreachable",
            Err(KalturaError::TooLarge { .. }) => "too_large",
            Err(_) => "unreadable",
        };
        metrics::counter!("kaltura_requests_total", "call" => name.to_owned(), "outcome" => outcome).increment(1);
        metrics::histogram!("kaltura_request_duration_seconds", "call" => name.to_owned())
            .record(started.elapsed().as_secs_f64());
        answer
    }

    async fn exchange<A>(
        &self,
        url: &str,
        name: &str,
        mut body: Map<String, Value>,
        mode: Mode,
        parse: impl Fn(&[u8]) -> Option<A>,
    ) -> Result<A, KalturaError> {
        body.insert("format".into(), json!(1));
        body.insert("clientTag".into(), json!(CLIENT_TAG));
        let body = Value::Object(body);
        let mut attempt = 1;
        let response = loop {
            let started = Instant::now();
            match self.inner.http.post(url).timeout(mode.timeout).json(&body).send().await {
                Ok(r) => {
                    let ms = started.elapsed().as_millis() as u64;
                    tracing::debug!(call = %name, status = r.status().as_u16(), ms, "kaltura call");
                    break r;
                }
                // The request never left: sending it again cannot do anything twice.
                Err(e) if e.is_connect() && !e.is_timeout() && mode.repeatable && attempt == 1 => {
                    let error = root_cause(&e);
                    tracing::warn!(call = %name, %error, "could not connect to Kaltura; trying once more");
                    attempt += 1;
                    tokio::time::sleep(CONNECT_RETRY_PAUSE).await;
                }
                Err(e) => return Err(self.transport_error(&e, mode.timeout)),
            }
        };
        let status = response.status();
        let bytes = self.read_capped(response, mode.timeout).await?;
        if !status.is_success() {
            return Err(KalturaError::BadResponse(format!("HTTP status {status} from {url}")));
        }
        // Checked and kept as text: each part is read into its type later, without a value in between.
        parse(&bytes).ok_or_else(|| {
            let start: String = String::from_utf8_lossy(&bytes).chars().take(60).collect();
            KalturaError::BadResponse(format!(
                "the answer to {name} is not JSON (it starts with {:?})",
                super::error::redact(start.trim())
            ))
        })
    }

    /// The body, read a piece at a time and abandoned as soon as it passes the configured limit: a misbehaving
    /// server cannot make the console hold more than that.
    async fn read_capped(&self, mut response: reqwest::Response, timeout: Duration) -> Result<Vec<u8>, KalturaError> {
        let limit = self.inner.cfg.max_answer_bytes;
        let too_large = || KalturaError::TooLarge { limit_mb: limit.div_ceil(1024 * 1024) };
        let announced = response.content_length().unwrap_or(0);
        if announced > limit as u64 {
            return Err(too_large());
        }
        // Sized once when the length is announced: growing it by doubling copied the answer several times.
        let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport_error(&e, timeout))? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn transport_error(&self, e: &reqwest::Error, timeout: Duration) -> KalturaError {
        if e.is_timeout() {
            KalturaError::Timeout { secs: timeout.as_secs_f64().ceil() as u64 }
        } else {
            KalturaError::Connect { url: self.inner.cfg.service_url.clone(), reason: root_cause(e) }
        }
    }
}

fn params(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A KS answer is a bare JSON string.
fn ks_from(answer: &Value) -> Result<Secret, KalturaError> {
    match answer.as_str().filter(|s| !s.is_empty()) {
        Some(ks) => Ok(Secret::new(ks)),
        None => Err(KalturaError::BadResponse(format!("session.impersonate answered {}", shape(answer)))),
    }
}

/// Why a request failed: the innermost error rather than reqwest's wrapper, in words where the operating system
/// names its kind of failure ("connection refused"), and never with its error number ("os error 111").
fn root_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if let Some(io) = cause.downcast_ref::<std::io::Error>() {
        let said = match io.kind() {
            std::io::ErrorKind::ConnectionRefused => Some("nothing accepted the connection (connection refused)"),
            std::io::ErrorKind::ConnectionReset => Some("the connection was reset"),
            std::io::ErrorKind::ConnectionAborted => Some("the connection was aborted"),
            std::io::ErrorKind::TimedOut => Some("connecting took too long"),
            std::io::ErrorKind::HostUnreachable | std::io::ErrorKind::NetworkUnreachable => {
                Some("the network has no route there")
            }
            _ => None,
        };
        if let Some(said) = said {
            return said.to_string();
        }
    }
    let text = cause.to_string();
    let text = match text.find(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    };
    super::error::redact(&text)
}
