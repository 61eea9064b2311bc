//! The accounts service: the parent's accounts as Kaltura has them, the quota the console enforces, the row actions
//! and their rules, Rich Media CMS Login, and account creation with its reconciliation. Handlers call it and render
//! what it returns; it talks to Kaltura and the database and writes the audit log.

pub(crate) mod bulk;
mod creation;
mod editing;
pub(crate) mod import;
pub(crate) mod rules;

use crate::clock::Clock;
use crate::db::Pool;
use crate::db::claims::{self, Work};
use futures_util::{Stream, stream};
use kaltura::{
    Action, KalturaClient, KalturaError, ListResponse, MultiRequest, MultiResponse, Pager, Partner, PartnerFilter,
    PartnerGroupType, PartnerOrder, PartnerOrderField, PartnerStatus, ResultRef, SecretUrl, User, UserFilter,
    UserStatus,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::db::audit::{self, AuditAction, Entry, Outcome};
use rules::{RowAction, StatusAction};

use creation::no_quota_message;
pub(crate) use creation::{
    AccountForm, CreateError, CreateOutcome, Creation, FieldErrors, MAX_ADMIN_EMAIL, MAX_ADMIN_NAME, MAX_NAME,
    MAX_PHONE, MAX_REFERENCE_ID, MAX_WEBSITE, TemplateChoice, outcome_message, spawn_liveness, spawn_reconciler,
};
pub(crate) use editing::{
    Conflict, Edit, EditOutcome, FORM_ORDER, FieldErrors as EditErrors, Values, input_name, label, max_len,
};
pub(crate) use import::spawn_import_worker;

/// Kaltura caps page sizes at 500: enough for every template an organisation has.
const TEMPLATES_PAGE: Pager = Pager::new(500, 1);
/// Exports read Kaltura's largest pages.
const EXPORT_PAGE: Pager = Pager::new(500, 1);

/// Cheap to clone: clones share the Kaltura client, the pool and the creation lock.
#[derive(Clone)]
pub(crate) struct Accounts {
    kaltura: KalturaClient,
    db: Pool,
    clock: Clock,
    /// This process, as the database knows it: its liveness lease, its claims on jobs, the creations it sends.
    runner: Arc<str>,
    /// Held while a request's quota is checked and the request recorded (not while Kaltura creates the account).
    create_lock: Arc<tokio::sync::Mutex<()>>,
    /// The last upstream check and when it was made: a storm of readiness probes costs one call per interval.
    upstream: Arc<tokio::sync::Mutex<Option<UpstreamCheck>>>,
    /// Wakes the import worker when an import is started.
    import_wakeup: Arc<tokio::sync::Notify>,
    /// Wakes the bulk worker when a job is recorded.
    bulk_wake: Arc<tokio::sync::Notify>,
}

/// When Kaltura was last asked whether it accepts the console's session, and what it said.
type UpstreamCheck = (Instant, Result<(), KalturaError>);

/// How long one answer to "does Kaltura accept our session" is reused.
const UPSTREAM_CHECK_TTL: Duration = Duration::from_secs(5);

/// Who asks, for the audit log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Actor<'a> {
    pub(crate) user_id: i64,
    pub(crate) email: &'a str,
    pub(crate) ip: &'a str,
}

/// The quota banner: "{used} accounts in use*, {available} additional remaining".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub used: i64,
    pub available: i64,
    pub publishers_quota: i64,
}

impl Quota {
    /// Templates and the parent itself do not count; both numbers are floored at 0, as the KMC does.
    pub fn compute(used_total: i64, templates_in_use: i64, publishers_quota: i64) -> Quota {
        let used = (used_total - templates_in_use - 1).max(0);
        Quota { used, available: (publishers_quota - used).max(0), publishers_quota }
    }
}

/// What the Accounts page shows, from one multirequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountsPage {
    /// The filtered, sorted page of accounts (the parent included, as Kaltura scopes it).
    pub page: ListResponse<Partner>,
    /// How many template accounts (group type 4) are active or blocked.
    pub templates_in_use: i64,
    /// How many partners are active or blocked, the parent included.
    pub used_total: i64,
    pub quota: Quota,
    pub parent_id: i64,
    /// The parent's name, as Kaltura has it.
    pub parent_name: Option<String>,
    /// Of the accounts the filter matches, how many a bulk action could change (when asked for).
    pub selectable: Option<i64>,
}

/// A parent's accounts at a glance (its row of the overview): its name, the quota, and how many accounts are in
/// each status (the parent among them, as Kaltura counts it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountsSummary {
    pub name: Option<String>,
    pub quota: Quota,
    pub active: i64,
    pub blocked: i64,
    pub removed: i64,
}

/// Where the answers of [`summary_calls`] are in their multirequest.
pub(crate) struct SummaryCalls {
    info: ResultRef,
    templates: ResultRef,
    by_status: [ResultRef; 3],
}

/// The calls of a parent's [`AccountsSummary`], added to a multirequest shared with other services.
pub(crate) fn summary_calls(mr: &mut MultiRequest) -> SummaryCalls {
    let count = |filter: PartnerFilter| json!({ "filter": filter.to_wire() });
    let templates =
        PartnerFilter { partner_group_type_equal: Some(PartnerGroupType::Template), ..PartnerFilter::in_use() };
    let status = |s: PartnerStatus| PartnerFilter { status_in: Some(vec![s]), ..PartnerFilter::default() };
    SummaryCalls {
        info: mr.add(Action::PARTNER_GET_INFO, Value::Null),
        templates: mr.add(Action::PARTNER_COUNT, count(templates)),
        by_status: [PartnerStatus::Active, PartnerStatus::Blocked, PartnerStatus::Removed]
            .map(|s| mr.add(Action::PARTNER_COUNT, count(status(s)))),
    }
}

/// What [`summary_calls`] asked.
pub(crate) fn read_summary(r: &MultiResponse, calls: &SummaryCalls) -> Result<AccountsSummary, KalturaError> {
    let parent: Partner = r.get(calls.info)?;
    let [active, blocked, removed] =
        [r.get::<i64>(calls.by_status[0])?, r.get(calls.by_status[1])?, r.get(calls.by_status[2])?];
    let templates: i64 = r.get(calls.templates)?;
    Ok(AccountsSummary {
        name: parent.name.filter(|n| !n.trim().is_empty()),
        quota: Quota::compute(active + blocked, templates, parent.publishers_quota.unwrap_or(0)),
        active,
        blocked,
        removed,
    })
}

/// Why Kaltura does not serve a configured parent as one.
#[derive(Debug, thiserror::Error)]
pub enum ParentProblem {
    #[error("Kaltura refuses its session: check its partner id and admin secret ({0})")]
    Refused(KalturaError),
    #[error("it is not a multi-account (VAR/GROUP) parent: Kaltura lists and creates no child accounts for it")]
    NotMultiAccount,
    #[error("Kaltura could not be asked about it: {0}")]
    Kaltura(KalturaError),
}

/// Why a row action did not happen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ActionError {
    #[error("Account {0} is not one of your accounts.")]
    NotYours(i64),
    /// The account's status (or being the parent) does not allow it; the text says so.
    #[error("{0}")]
    NotAllowed(String),
    #[error(transparent)]
    Kaltura(#[from] KalturaError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// One account as its details page shows it.
pub(crate) struct Details {
    pub(crate) partner: Partner,
    /// Whether it is a template account (Kaltura does not return the group type itself; it filters by it).
    pub(crate) is_template: bool,
    /// Its active administrators (the account owner first), or why Kaltura did not list them.
    pub(crate) admins: Result<Admins, KalturaError>,
    /// The latest audit entries about it, newest first.
    pub(crate) recent: Vec<audit::Logged>,
}

/// An account's active administrators, as many as one page holds, and how many there are.
pub(crate) struct Admins {
    pub(crate) users: Vec<User>,
    pub(crate) total: i64,
}

/// How many audit entries the details page shows.
const RECENT_ENTRIES: i64 = 10;
/// How many administrators the details page lists.
const ADMINS_PAGE: Pager = Pager::new(100, 1);

/// A status change that went through.
pub(crate) struct Changed {
    pub(crate) message: String,
}

/// How long a process's claim on a job (an import, a bulk job) holds, and how often it is renewed while the job runs.
const CLAIM_LEASE_SECS: i64 = 20;
const CLAIM_RENEW_EVERY: Duration = Duration::from_secs(5);

impl Accounts {
    /// Claims (or keeps) job `id` of kind `work` for this process; false when another process holds it.
    pub(crate) async fn claim(&self, work: Work, id: i64) -> Result<bool, sqlx::Error> {
        let now = self.now();
        claims::claim(&self.db, work, id, &self.runner, now, now + CLAIM_LEASE_SECS).await
    }

    /// Renews this process's claim while the job runs; returns only once another process holds it (this one could
    /// not renew in time).
    async fn keep_claim(&self, work: Work, id: i64) {
        loop {
            tokio::time::sleep(CLAIM_RENEW_EVERY).await;
            match self.claim(work, id).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => tracing::warn!(?work, id, error = %e, "cannot renew a claim on a job"),
            }
        }
        tracing::warn!(?work, id, "another console took this job over");
    }

    /// Gives the claim up at once, so the next process need not wait for it to lapse.
    async fn release_claim(&self, work: Work, id: i64) {
        if let Err(e) = claims::release(&self.db, work, id, &self.runner).await {
            tracing::warn!(?work, id, error = %e, "cannot give up a claim on a job");
        }
    }

    pub(crate) fn new(kaltura: KalturaClient, db: Pool, clock: Clock) -> Accounts {
        Accounts {
            kaltura,
            db,
            clock,
            runner: Arc::from(kaltura::random_secret()),
            create_lock: Arc::default(),
            upstream: Arc::default(),
            import_wakeup: Arc::default(),
            bulk_wake: Arc::default(),
        }
    }

    /// The time, as every rule of the service reads it.
    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    pub(crate) fn parent_id(&self) -> i64 {
        self.kaltura.config().partner_id
    }

    /// Sends a multirequest other services added calls to, under this parent's session.
    pub(crate) async fn send_shared(&self, mr: &MultiRequest) -> Result<MultiResponse, KalturaError> {
        self.kaltura.multirequest(mr).await
    }

    /// One page of accounts, the templates, the count in use and the parent, in one HTTP request.
    pub(crate) async fn page(&self, filter: &PartnerFilter, pager: Pager) -> Result<AccountsPage, KalturaError> {
        page(&self.kaltura, filter, pager).await
    }

    /// [`Accounts::page`] with the count "Select all N matching" offers.
    pub(crate) async fn view_page(&self, filter: &PartnerFilter, pager: Pager) -> Result<AccountsPage, KalturaError> {
        view_page(&self.kaltura, filter, pager).await
    }

    /// The quota and the active and blocked templates (for Add Account's selector), without a page of accounts.
    pub(crate) async fn quota_and_templates(&self) -> Result<(Quota, Vec<Partner>), KalturaError> {
        let (loaded, templates) = load(&self.kaltura, None, true, false).await?;
        Ok((loaded.quota, templates))
    }

    /// One account as the table shows it now (`None` if it is gone from the parent's list), with the quota.
    pub(crate) async fn row(&self, id: i64) -> Result<(Option<Partner>, Quota), KalturaError> {
        let filter = PartnerFilter {
            id_in: Some(id.to_string()),
            status_in: Some(vec![PartnerStatus::Active, PartnerStatus::Blocked, PartnerStatus::Removed]),
            ..PartnerFilter::default()
        };
        let loaded = self.page(&filter, Pager::new(1, 1)).await?;
        Ok((loaded.page.objects.into_iter().next(), loaded.quota))
    }

    /// Every account `filter` matches, for an export: by partner id, a page of 500 at a time, each page asking for
    /// the ids after the last one seen (as Kaltura's own export scripts do), so a deep page costs what the first
    /// does. The first page is fetched here, so a failure is known before anything is sent; the parent's id comes
    /// with it.
    pub(crate) async fn export(
        &self,
        filter: &PartnerFilter,
    ) -> Result<(i64, impl Stream<Item = Result<Vec<Partner>, KalturaError>> + Send + use<>), KalturaError> {
        let filter = PartnerFilter { order_by: Some(PartnerOrder::asc(PartnerOrderField::Id)), ..filter.clone() };
        let first = self.page(&filter, EXPORT_PAGE).await?;
        let kaltura = self.kaltura.clone();
        let pages = stream::try_unfold(Some(first.page.objects), move |page| {
            let (kaltura, filter) = (kaltura.clone(), filter.clone());
            async move {
                let Some(page) = page else { return Ok(None) };
                let next = match page.last() {
                    Some(last) if page.len() == EXPORT_PAGE.page_size as usize => {
                        let after = PartnerFilter { id_greater_than: Some(last.id), ..filter };
                        Some(kaltura.list_partners(&after, &EXPORT_PAGE).await?.objects)
                    }
                    _ => None,
                };
                Ok((!page.is_empty()).then_some((page, next)))
            }
        });
        Ok((first.parent_id, pages))
    }

    /// The account `id` with its active administrators and recent audit entries, if it is one of the parent's (the
    /// parent included). One HTTP request: partner.get, and user.list under a session impersonating the account
    /// (Kaltura lists the users of the session's partner).
    pub(crate) async fn details(&self, id: i64) -> Result<Details, ActionError> {
        let mut mr = MultiRequest::new();
        let get = mr.add(Action::PARTNER_GET, json!({ "id": id }));
        let session = mr.add(Action::SESSION_IMPERSONATE, self.kaltura.impersonation(id, ""));
        let list = json!({ "filter": UserFilter::active_admins().to_wire(), "pager": ADMINS_PAGE.to_wire() });
        let users = mr.add_as(Action::USER_LIST, list, session);
        let as_template = PartnerFilter {
            id_equal: Some(id),
            partner_group_type_equal: Some(PartnerGroupType::Template),
            status_in: Some(vec![PartnerStatus::Active, PartnerStatus::Blocked, PartnerStatus::Removed]),
            ..PartnerFilter::default()
        };
        let template = mr
            .add(Action::PARTNER_LIST, json!({ "filter": as_template.to_wire(), "pager": Pager::new(1, 1).to_wire() }));
        let r = self.kaltura.multirequest(&mr).await?;
        let partner: Partner = match r.get(get) {
            Err(e) if e.is_invalid_partner() => return Err(ActionError::NotYours(id)),
            other => other?,
        };
        let admins = r.item(session).and_then(|_| r.get::<ListResponse<User>>(users)).map(|mut list| {
            list.objects.retain(|u| u.status.is_none_or(|s| s == UserStatus::Active));
            // The account owner first, then by name.
            list.objects
                .sort_by_cached_key(|u| (!u.is_account_owner.unwrap_or(false), u.display_name().to_lowercase()));
            Admins { users: list.objects, total: list.total_count }
        });
        let filter = audit::Filter { target: Some(id.to_string()), ..audit::Filter::default() };
        let recent = audit::page(&self.db, &filter, RECENT_ENTRIES, 0).await?;
        let is_template = r.get::<ListResponse<Partner>>(template).is_ok_and(|l| l.total_count > 0);
        Ok(Details { partner, is_template, admins, recent })
    }

    /// The account `id` as its edit form starts: refused when it may not be edited.
    pub(crate) async fn for_edit(&self, id: i64) -> Result<Partner, ActionError> {
        self.allowed(id, RowAction::Edit).await
    }

    /// The account `id`, if it is one of the parent's and `action` is allowed for it.
    pub(crate) async fn allowed(&self, id: i64, action: RowAction) -> Result<Partner, ActionError> {
        let partner = self.partner(id).await?;
        match action.refusal(partner.status, partner.id == self.parent_id()) {
            Some(why) => Err(ActionError::NotAllowed(why)),
            None => Ok(partner),
        }
    }

    /// The account `id`, if it is the parent or one of its children: Kaltura tells no other partner apart from one
    /// that does not exist.
    pub(crate) async fn partner(&self, id: i64) -> Result<Partner, ActionError> {
        match self.kaltura.get_partner(id).await {
            Err(e) if e.is_invalid_partner() => Err(ActionError::NotYours(id)),
            other => Ok(other?),
        }
    }

    /// Block, Unblock or Remove, audited whatever the outcome.
    pub(crate) async fn change_status(
        &self,
        actor: Actor<'_>,
        id: i64,
        action: StatusAction,
    ) -> Result<Changed, ActionError> {
        let outcome = async {
            let partner = self.allowed(id, RowAction::Status(action)).await?;
            self.kaltura.update_status(id, action.target()).await?;
            let name = partner.name.unwrap_or_else(|| id.to_string());
            Ok::<_, ActionError>(Changed { message: format!("{name} ({id}) was {}.", action.done()) })
        }
        .await;
        if let Err(ActionError::Database(e)) = outcome {
            return Err(ActionError::Database(e));
        }
        let (result, details) = match &outcome {
            Ok(changed) => (Outcome::Ok, changed.message.clone()),
            Err(e) => (Outcome::Refused, e.to_string()),
        };
        self.audit(actor, action.audit_action(), &id.to_string(), result, &details).await?;
        outcome
    }

    /// "Rich Media CMS Login": a short-lived session impersonating the account's primary administrator, or the
    /// administrator `user` of it, as the address that opens its Rich Media CMS. Audited whatever the outcome.
    pub(crate) async fn kmc_login(
        &self,
        actor: Actor<'_>,
        id: i64,
        user: Option<&str>,
    ) -> Result<SecretUrl, ActionError> {
        let outcome = async {
            self.allowed(id, RowAction::KmcLogin).await?;
            let Some(user) = user else {
                return Ok::<_, ActionError>(self.kaltura.impersonate_child(id).await?);
            };
            let not_admin =
                || ActionError::NotAllowed(format!("{user} is not an active administrator of account {id}."));
            let (found, ks) = match self.kaltura.impersonate_user(id, user).await {
                Err(e) if e.is_invalid_user() => return Err(not_admin()),
                other => other?,
            };
            if found.is_admin != Some(true) || found.status != Some(UserStatus::Active) {
                return Err(not_admin());
            }
            Ok(ks)
        }
        .await;
        let target = id.to_string();
        match outcome {
            Ok(ks) => {
                let details = format!("as {}", ks.user_id);
                self.audit(actor, AuditAction::AccountKmcLogin, &target, Outcome::Ok, &details).await?;
                Ok(self.kaltura.kmc_login_url(&ks))
            }
            Err(ActionError::Database(e)) => Err(ActionError::Database(e)),
            Err(e) => {
                let details = match user {
                    Some(user) => format!("as {user}: {e}"),
                    None => e.to_string(),
                };
                self.audit(actor, AuditAction::AccountKmcLogin, &target, Outcome::Refused, &details).await?;
                Err(e)
            }
        }
    }

    /// Asks Kaltura once whether it serves this parent as a multi-account parent: its own record, or why not.
    pub(crate) async fn check_parent(&self) -> Result<Partner, ParentProblem> {
        let pid = self.parent_id();
        let probe = |group: PartnerGroupType| {
            let filter = PartnerFilter {
                id_equal: Some(pid),
                partner_group_type_equal: Some(group),
                ..PartnerFilter::default()
            };
            json!({ "filter": filter.to_wire(), "pager": Pager::new(1, 1).to_wire() })
        };
        let mut mr = MultiRequest::new();
        let info = mr.add(Action::PARTNER_GET_INFO, Value::Null);
        let var = mr.add(Action::PARTNER_LIST, probe(PartnerGroupType::VarGroup));
        let group = mr.add(Action::PARTNER_LIST, probe(PartnerGroupType::Group));
        let asked =
            |e: KalturaError| if e.is_invalid_ks() { ParentProblem::Refused(e) } else { ParentProblem::Kaltura(e) };
        let r = self.kaltura.multirequest(&mr).await.map_err(asked)?;
        let parent: Partner = r.get(info).map_err(asked)?;
        let count = |call| r.get::<ListResponse<Partner>>(call).map(|l| l.total_count).map_err(asked);
        if count(var)? + count(group)? == 0 {
            return Err(ParentProblem::NotMultiAccount);
        }
        Ok(parent)
    }

    /// The parent's `adminLoginUsersQuota`: how many console users it may have.
    pub(crate) async fn login_users_quota(&self) -> Result<Option<i64>, KalturaError> {
        Ok(self.kaltura.partner_info().await?.admin_login_users_quota)
    }

    /// Whether Kaltura accepts the console's session (for `/readyz`), asked at most once per few seconds: probes
    /// that come meanwhile wait for the one call under way, or reuse its answer.
    pub(crate) async fn check_upstream(&self) -> Result<(), KalturaError> {
        let mut last = self.upstream.lock().await;
        if let Some((at, answer)) = &*last
            && at.elapsed() < UPSTREAM_CHECK_TTL
        {
            return answer.clone();
        }
        let answer = self.kaltura.partner_info().await.map(drop);
        *last = Some((Instant::now(), answer.clone()));
        answer
    }

    async fn audit(
        &self,
        actor: Actor<'_>,
        action: AuditAction,
        target: &str,
        result: Outcome,
        details: &str,
    ) -> Result<(), sqlx::Error> {
        audit::record_under(
            &self.db,
            self.now(),
            self.parent_id(),
            Entry { actor: actor.email, ip: actor.ip, action, target, result, details },
        )
        .await
    }
}

/// One page of accounts with the quota, in one HTTP request: what the Accounts page shows.
pub async fn page(kaltura: &KalturaClient, filter: &PartnerFilter, pager: Pager) -> Result<AccountsPage, KalturaError> {
    Ok(load(kaltura, Some((filter, pager)), false, false).await?.0)
}

/// [`page`] with the count of the matching accounts a bulk action could change (for "Select all N matching").
pub async fn view_page(
    kaltura: &KalturaClient,
    filter: &PartnerFilter,
    pager: Pager,
) -> Result<AccountsPage, KalturaError> {
    Ok(load(kaltura, Some((filter, pager)), false, true).await?.0)
}

/// The quota, what `doctor` reports.
pub async fn quota(kaltura: &KalturaClient) -> Result<Quota, KalturaError> {
    Ok(load(kaltura, None, false, false).await?.0.quota)
}

/// One page of accounts (if asked for), the templates in use (counted, and listed if asked for), the count of
/// accounts in use and the parent, in one HTTP request. Only Add Account needs the templates themselves: a page
/// view asks for their count alone, which an organisation with hundreds of templates would otherwise pay for.
async fn load(
    kaltura: &KalturaClient,
    page: Option<(&PartnerFilter, Pager)>,
    list_templates: bool,
    count_selectable: bool,
) -> Result<(AccountsPage, Vec<Partner>), KalturaError> {
    let templates_filter =
        PartnerFilter { partner_group_type_equal: Some(PartnerGroupType::Template), ..PartnerFilter::in_use() };
    let list = |filter: &PartnerFilter, pager: Pager| json!({ "filter": filter.to_wire(), "pager": pager.to_wire() });
    // What only needs a number asks partner.count: no partner object to read past.
    let count = |filter: &PartnerFilter| json!({ "filter": filter.to_wire() });
    let mut mr = MultiRequest::new();
    let selectable = match page {
        Some((filter, _)) if count_selectable => match selectable_filter(filter, kaltura.config().partner_id) {
            Some(_) if statuses_alone(filter) => Selectable::AllButParent(filter.status_in.clone().unwrap_or_default()),
            Some(f) => Selectable::Counted(mr.add(Action::PARTNER_COUNT, count(&f))),
            None => Selectable::None,
        },
        _ => Selectable::NotAsked,
    };
    let page = page.map(|(filter, pager)| mr.add(Action::PARTNER_LIST, list(filter, pager)));
    let templates = if list_templates {
        mr.add(Action::PARTNER_LIST, list(&templates_filter, TEMPLATES_PAGE))
    } else {
        mr.add(Action::PARTNER_COUNT, count(&templates_filter))
    };
    let used = mr.add(Action::PARTNER_COUNT, count(&PartnerFilter::in_use()));
    let info = mr.add(Action::PARTNER_GET_INFO, Value::Null);
    let r = kaltura.multirequest(&mr).await?;
    let (templates_in_use, listed) = if list_templates {
        let templates = r.get::<ListResponse<Partner>>(templates)?;
        (templates.total_count, templates.objects)
    } else {
        (r.get::<i64>(templates)?, Vec::new())
    };
    let used_total = r.get::<i64>(used)?;
    let parent: Partner = r.get(info)?;
    let quota = Quota::compute(used_total, templates_in_use, parent.publishers_quota.unwrap_or(0));
    let page = match page {
        Some(p) => r.get(p)?,
        None => ListResponse { objects: Vec::new(), total_count: 0 },
    };
    let selectable = match selectable {
        Selectable::Counted(call) => Some(r.get::<i64>(call)?),
        Selectable::AllButParent(statuses) => {
            let parent_listed = parent.status.is_some_and(|s| statuses.contains(&s));
            Some(page.total_count - i64::from(parent_listed))
        }
        Selectable::None => Some(0),
        Selectable::NotAsked => None,
    };
    let page = AccountsPage {
        page,
        templates_in_use,
        used_total,
        quota,
        parent_id: parent.id,
        parent_name: parent.name.filter(|n| !n.trim().is_empty()),
        selectable,
    };
    Ok((page, listed))
}

/// A filter of active or blocked statuses and nothing else: every account it lists but the parent can be selected.
fn statuses_alone(filter: &PartnerFilter) -> bool {
    let bare =
        PartnerFilter { status_in: filter.status_in.clone(), order_by: filter.order_by, ..PartnerFilter::default() };
    *filter == bare
        && filter
            .status_in
            .as_ref()
            .is_some_and(|s| s.iter().all(|s| matches!(s, PartnerStatus::Active | PartnerStatus::Blocked)))
}

enum Selectable {
    NotAsked,
    /// The search matches no status a bulk action changes.
    None,
    /// No search, only active or blocked accounts (these statuses): the page's count less the parent.
    AllButParent(Vec<PartnerStatus>),
    Counted(kaltura::ResultRef),
}

/// The accounts of `filter` a bulk action could change: active or blocked, and not the parent. `None` when the
/// filter's statuses leave none.
fn selectable_filter(filter: &PartnerFilter, parent_id: i64) -> Option<PartnerFilter> {
    let changeable = [PartnerStatus::Active, PartnerStatus::Blocked];
    let statuses: Vec<PartnerStatus> = match &filter.status_in {
        Some(asked) => changeable.into_iter().filter(|s| asked.contains(s)).collect(),
        None => changeable.to_vec(),
    };
    if statuses.is_empty() {
        return None;
    }
    let not_in = match &filter.id_not_in {
        Some(ids) if !ids.trim().is_empty() => format!("{ids},{parent_id}"),
        _ => parent_id.to_string(),
    };
    Some(PartnerFilter { status_in: Some(statuses), id_not_in: Some(not_in), ..filter.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_leaves_out_templates_and_the_parent_and_never_goes_negative() {
        // The demo: 5 active or blocked (parent, 2 children, 2 templates), quota 5.
        assert_eq!(Quota::compute(5, 2, 5), Quota { used: 2, available: 3, publishers_quota: 5 });
        assert_eq!(Quota::compute(9, 1, 5), Quota { used: 7, available: 0, publishers_quota: 5 });
        assert_eq!(Quota::compute(1, 0, 0), Quota { used: 0, available: 0, publishers_quota: 0 });
        assert_eq!(Quota::compute(0, 3, 2), Quota { used: 0, available: 2, publishers_quota: 2 });
    }
}
