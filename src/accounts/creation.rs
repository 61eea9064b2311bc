//! Add Account's rules: validation with Kaltura's messages, the quota the console enforces (Kaltura does not), and a
//! creation that never doubles and is never lost. It is recorded before partner.register is sent; when no answer
//! comes the reconciler looks for the account by its administrator email until it knows, and the user is told the
//! outcome exactly once.

use kaltura::{
    KalturaError, NewAccount, Pager, Partner, PartnerFilter, PartnerOrder, PartnerOrderField, PartnerStatus,
};
use std::time::Duration;
use tokio::sync::watch;

use super::{Accounts, Actor};
use crate::db::audit::{self, AuditAction, Entry, Outcome};
use crate::db::creations::{self, NewCreation, Recorded};
use crate::db::locks;

pub(crate) use crate::db::creations::Creation;
use crate::db::creations::CreationState;

/// How often unresolved creations are looked for, and how long before giving up on one.
const RECONCILE_EVERY: Duration = Duration::from_secs(3);
/// The database lock held during a reconciler pass (one per parent, `reconciler:{parent}`); it lapses if the
/// process dies in the middle of one.
const RECONCILER_LOCK: &str = "reconciler";
const RECONCILER_LAPSES_AFTER_SECS: i64 = 120;
/// How often a process waiting for the reconciler's turn looks again.
const RECONCILER_TURN_POLL: Duration = Duration::from_millis(200);
/// A process's liveness lease lapses this long after its last renewal.
const LIVENESS_LAPSES_AFTER_SECS: i64 = 20;
const LIVENESS_RENEW: Duration = Duration::from_secs(5);
const GIVE_UP_AFTER_SECS: i64 = 15 * 60;
/// Kaltura stores each field in a column of this many characters (kaltura/server's `partner` table) and, in MySQL's
/// default mode there, cuts what is longer: checked here, so nothing is lost silently. The reference id lives in
/// Kaltura's custom data, which has no limit of its own.
pub(crate) const MAX_NAME: usize = 256;
pub(crate) const MAX_ADMIN_NAME: usize = 50;
pub(crate) const MAX_ADMIN_EMAIL: usize = 50;
pub(crate) const MAX_PHONE: usize = 64;
pub(crate) const MAX_WEBSITE: usize = 1024;
pub(crate) const MAX_REFERENCE_ID: usize = 255;
/// Longer than any key the form hands out.
const MAX_REQUEST_KEY: usize = 64;

const REQUIRED: &str = "Value is required and can't be empty";
const INVALID_EMAIL: &str = "Invalid email format";
const DUPLICATE_EMAIL: &str = "Email address already exists in the system";
/// Another creation for the same administrator email is under way (Add Account's message, an import row's).
pub(super) const EMAIL_IN_FLIGHT: &str = "An account with this administrator email is being created already";

/// The Add Account form as submitted.
#[derive(Debug, Clone, Default)]
pub(crate) struct AccountForm {
    pub(crate) request_key: String,
    pub(crate) admin_name: String,
    pub(crate) name: String,
    pub(crate) admin_email: String,
    pub(crate) phone: String,
    pub(crate) website: String,
    pub(crate) template_id: String,
    pub(crate) reference_id: String,
}

impl AccountForm {
    /// The form as it may be shown again: no field longer than it may be (an over-long value is not echoed whole).
    fn clipped(self) -> AccountForm {
        let clip = |v: String, max: usize| if v.chars().count() > max { v.chars().take(max).collect() } else { v };
        AccountForm {
            request_key: clip(self.request_key, MAX_REQUEST_KEY),
            admin_name: clip(self.admin_name, MAX_ADMIN_NAME),
            name: clip(self.name, MAX_NAME),
            admin_email: clip(self.admin_email, MAX_ADMIN_EMAIL),
            phone: clip(self.phone, MAX_PHONE),
            website: clip(self.website, MAX_WEBSITE),
            template_id: clip(self.template_id, 20),
            reference_id: clip(self.reference_id, MAX_REFERENCE_ID),
        }
    }
}

/// One template choice: `Default Template Account` (0) first, then the active templates.
#[derive(Debug, Clone)]
pub(crate) struct TemplateChoice {
    pub(crate) id: i64,
    pub(crate) label: String,
}

/// What is wrong with a form: a message per field, and one about the whole request.
#[derive(Debug, Default)]
pub(crate) struct FieldErrors {
    pub(crate) admin_name: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) admin_email: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) website: Option<String>,
    pub(crate) template_id: Option<String>,
    pub(crate) reference_id: Option<String>,
    /// About the whole request (quota, Kaltura's answer).
    pub(crate) general: Option<String>,
}

impl FieldErrors {
    fn general(message: String) -> FieldErrors {
        FieldErrors { general: Some(message), ..FieldErrors::default() }
    }

    fn any(&self) -> bool {
        self.admin_name.is_some()
            || self.name.is_some()
            || self.admin_email.is_some()
            || self.phone.is_some()
            || self.website.is_some()
            || self.template_id.is_some()
            || self.reference_id.is_some()
            || self.general.is_some()
    }
}

/// Where a request stands after it was submitted or asked about.
pub(crate) enum CreateOutcome {
    /// Created or failed. `first_report` is false when an earlier answer already told the user.
    Settled { creation: Box<Creation>, first_report: bool },
    /// Kaltura has not answered; the reconciler is finding out.
    Pending(Box<Creation>),
    /// The form goes back with its errors.
    Invalid(Box<Rejected>),
}

/// The database lock held while a parent's quota is checked and a creation recorded (`account-creation:{parent}`:
/// one parent's quota never waits for another's).
const CREATION_LOCK: &str = "account-creation";
/// A turn's lock lapses after this long unless renewed (every [`TURN_RENEW`] while the turn lasts), so a process
/// that died or stopped mid-turn holds up the others only briefly.
const TURN_LAPSES_AFTER_SECS: i64 = 10;
const TURN_RENEW: Duration = Duration::from_secs(3);
/// How often a turn held by another process is asked for again.
const TURN_POLL: Duration = Duration::from_millis(10);

/// A turn at checking the quota and recording a creation: one at a time in this process (a fair queue) and across
/// the processes sharing the database (the console and the command line), by a lock that lapses if its holder
/// dies. Ends when dropped.
pub(super) struct CreationTurn {
    _local: tokio::sync::OwnedMutexGuard<()>,
    db: crate::db::Pool,
    lock: String,
    holder: String,
    renew: tokio::task::JoinHandle<()>,
}

impl Drop for CreationTurn {
    fn drop(&mut self) {
        self.renew.abort();
        let (db, lock, holder) = (self.db.clone(), std::mem::take(&mut self.lock), std::mem::take(&mut self.holder));
        tokio::spawn(async move {
            if let Err(e) = locks::release(&db, &lock, &holder).await {
                tracing::warn!(error = %e, "cannot release the account creation lock; it lapses in seconds");
            }
        });
    }
}

/// What partner.register did with a recorded creation.
pub(super) enum Sent {
    Created(Creation),
    /// Kaltura refused it: the record holds its message.
    Refused(Creation, KalturaError),
    /// No answer: the reconciler is finding out.
    NoAnswer(Creation),
}

/// A form to show again: what was typed (with a fresh key when Kaltura refused it), why, and the choices.
pub(crate) struct Rejected {
    pub(crate) form: AccountForm,
    pub(crate) errors: FieldErrors,
    pub(crate) templates: Vec<TemplateChoice>,
    pub(crate) template: i64,
}

fn rejected(form: AccountForm, errors: FieldErrors, templates: Vec<TemplateChoice>, template: i64) -> CreateOutcome {
    CreateOutcome::Invalid(Box::new(Rejected { form: form.clipped(), errors, templates, template }))
}

/// The new form: its templates, and why no account can be added now, if that is so.
pub(crate) struct NewForm {
    pub(crate) request_key: String,
    pub(crate) templates: Vec<TemplateChoice>,
    pub(crate) blocked: Option<String>,
}

pub(super) fn template_choices(templates: &[Partner]) -> Vec<TemplateChoice> {
    let mut out = vec![TemplateChoice { id: 0, label: "Default Template Account".into() }];
    out.extend(
        templates
            .iter()
            .filter(|t| t.status == Some(PartnerStatus::Active))
            .map(|t| TemplateChoice { id: t.id, label: format!("{} ({})", t.name.clone().unwrap_or_default(), t.id) }),
    );
    out
}

pub(super) fn no_quota_message(in_flight: i64) -> String {
    if in_flight > 0 {
        "No additional accounts remain while the accounts being created are counted. Wait for them to finish, or \
         contact Kaltura to request an upgrade."
            .into()
    } else {
        "No additional accounts remain. Need more accounts? Contact Kaltura to request an upgrade.".into()
    }
}

fn quota_unknown(e: &KalturaError) -> String {
    format!("Can't check the account quota: {e}")
}

pub(super) fn validate(form: &AccountForm, templates: &[TemplateChoice]) -> (FieldErrors, i64) {
    let mut e = FieldErrors::default();
    let required = |v: &str| v.trim().is_empty().then(|| REQUIRED.to_string());
    let too_long =
        |v: &str, max: usize| (v.trim().chars().count() > max).then(|| format!("Must be at most {max} characters"));
    let formula = |v: &str| crate::spreadsheet::formula_refusal(v.trim()).map(str::to_owned);
    e.admin_name = required(&form.admin_name)
        .or_else(|| too_long(&form.admin_name, MAX_ADMIN_NAME))
        .or_else(|| formula(&form.admin_name));
    e.name = required(&form.name).or_else(|| too_long(&form.name, MAX_NAME)).or_else(|| formula(&form.name));
    e.phone = required(&form.phone).or_else(|| too_long(&form.phone, MAX_PHONE)).or_else(|| formula(&form.phone));
    e.admin_email =
        required(&form.admin_email).or_else(|| too_long(&form.admin_email, MAX_ADMIN_EMAIL)).or_else(|| {
            // The same check Kaltura applies, so what passes here is not refused there.
            (!kaltura::is_kaltura_email(form.admin_email.trim())).then(|| INVALID_EMAIL.to_string())
        });
    e.website = too_long(&form.website, MAX_WEBSITE);
    e.reference_id = too_long(&form.reference_id, MAX_REFERENCE_ID).or_else(|| formula(&form.reference_id));
    let template = form.template_id.trim().parse::<i64>().unwrap_or(-1);
    if !templates.iter().any(|t| t.id == template) {
        e.template_id = Some("Choose a template account from the list".into());
    }
    (e, template.max(0))
}

fn optional(v: &str) -> Option<String> {
    Some(v.trim().to_string()).filter(|s| !s.is_empty())
}

/// What the user is told about a settled creation: whether it went well, and the words.
pub(crate) fn outcome_message(c: &Creation) -> (bool, String) {
    match c.state {
        CreationState::Created => (
            true,
            format!(
                "Account {} ({}) was created. Kaltura sends its administrator {} the sign-in details.",
                c.name,
                c.partner_id.unwrap_or_default(),
                c.admin_email
            ),
        ),
        _ => (false, format!("Account {} was not created: {}", c.name, c.message)),
    }
}

impl Accounts {
    /// A fresh Add Account form.
    pub(crate) async fn new_form(&self) -> Result<NewForm, sqlx::Error> {
        let request_key = kaltura::random_secret();
        let (templates, blocked) = match self.quota_and_templates().await {
            Ok((quota, templates)) => {
                let in_flight = creations::count_in_flight(&self.db, self.parent_id()).await?;
                let blocked = (quota.available - in_flight < 1).then(|| no_quota_message(in_flight));
                (template_choices(&templates), blocked)
            }
            Err(e) => (template_choices(&[]), Some(quota_unknown(&e))),
        };
        Ok(NewForm { request_key, templates, blocked })
    }

    /// Submits a form: checks it and the quota, records it, registers the account, and says where it stands.
    /// The same form submitted again never sends a second registration.
    pub(crate) async fn create(&self, actor: Actor<'_>, form: AccountForm) -> Result<CreateOutcome, CreateError> {
        let form = AccountForm { request_key: form.request_key.trim().to_string(), ..form };
        if form.request_key.is_empty() || form.request_key.len() > MAX_REQUEST_KEY {
            return Err(CreateError::Incomplete);
        }
        if let Some(existing) = creations::by_key(&self.db, &form.request_key).await? {
            return Ok(self.standing(existing).await?);
        }
        // Reading the quota and recording the request happen one creation at a time, so requests racing for the
        // last place see each other's records and exactly as many go ahead as fit.
        let serial = self.creation_turn().await?;
        let (quota, templates) = match self.quota_and_templates().await {
            Ok((quota, templates)) => (quota, template_choices(&templates)),
            Err(e) => {
                let errors = FieldErrors::general(quota_unknown(&e));
                return Ok(rejected(form, errors, template_choices(&[]), 0));
            }
        };
        let (mut errors, template) = validate(&form, &templates);
        let in_flight = creations::count_in_flight(&self.db, self.parent_id()).await?;
        if quota.available - in_flight < 1 {
            errors.general = Some(no_quota_message(in_flight));
        }
        if errors.any() {
            return Ok(rejected(form, errors, templates, template));
        }
        let account = NewAccount {
            admin_name: form.admin_name.trim().to_string(),
            name: form.name.trim().to_string(),
            admin_email: form.admin_email.trim().to_string(),
            phone: form.phone.trim().to_string(),
            website: optional(&form.website),
            reference_id: optional(&form.reference_id),
        };
        let recorded = creations::record(
            &self.db,
            &NewCreation {
                parent_id: self.parent_id(),
                request_key: &form.request_key,
                user_id: actor.user_id,
                actor: actor.email,
                ip: actor.ip,
                admin_name: &account.admin_name,
                name: &account.name,
                admin_email: &account.admin_email,
                phone: &account.phone,
                website: account.website.as_deref(),
                reference_id: account.reference_id.as_deref(),
                template_id: template,
                reported: false,
                runner: &self.runner,
            },
            self.now(),
        )
        .await?;
        let id = match recorded {
            Recorded::New(id) => id,
            Recorded::Duplicate(existing) => return Ok(CreateOutcome::Pending(existing)),
            Recorded::EmailInFlight => {
                let errors = FieldErrors { admin_email: Some(EMAIL_IN_FLIGHT.into()), ..FieldErrors::default() };
                return Ok(rejected(form, errors, templates, template));
            }
        };
        drop(serial);
        match self.send(id, &account, template).await? {
            Sent::Created(c) | Sent::NoAnswer(c) => Ok(self.standing(c).await?),
            Sent::Refused(c, e) => {
                let mut errors = FieldErrors::default();
                if e.is_duplicate_email() {
                    errors.admin_email = Some(DUPLICATE_EMAIL.into());
                } else {
                    errors.general = Some(format!("Kaltura did not create the account: {}", c.message));
                }
                // A fresh key: correcting the form is a new request.
                let form = AccountForm { request_key: kaltura::random_secret(), ..form };
                Ok(rejected(form, errors, templates, template))
            }
        }
    }

    /// The name of this parent's own `lock`.
    fn parent_lock(&self, lock: &str) -> String {
        format!("{lock}:{}", self.parent_id())
    }

    /// Waits for a [`CreationTurn`].
    pub(super) async fn creation_turn(&self) -> Result<CreationTurn, sqlx::Error> {
        let local = self.create_lock.clone().lock_owned().await;
        let holder = kaltura::random_secret();
        let lock = self.parent_lock(CREATION_LOCK);
        loop {
            let now = self.now();
            if locks::try_take(&self.db, &lock, &holder, now, now + TURN_LAPSES_AFTER_SECS).await? {
                let (db, renewed, renewer, clock) = (self.db.clone(), lock.clone(), holder.clone(), self.clock.clone());
                let renew = tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(TURN_RENEW).await;
                        let now = clock.now();
                        if let Err(e) = locks::renew(&db, &renewed, &renewer, now + TURN_LAPSES_AFTER_SECS).await {
                            tracing::warn!(error = %e, "cannot renew the account creation lock");
                        }
                    }
                });
                return Ok(CreationTurn { _local: local, db: self.db.clone(), lock, holder, renew });
            }
            tokio::time::sleep(TURN_POLL).await;
        }
    }

    /// Sends a recorded creation's partner.register and settles the record with Kaltura's answer (audited). With no
    /// answer the account may or may not exist: it is never sent again; the reconciler finds out.
    pub(super) async fn send(&self, id: i64, account: &NewAccount, template: i64) -> Result<Sent, sqlx::Error> {
        let result = self.kaltura.register(account, Some(template)).await;
        let now = self.now();
        match result {
            Ok(partner) => {
                metrics::counter!("console_account_creations_total", "outcome" => "created").increment(1);
                creations::settle(&self.db, id, CreationState::Created, Some(partner.id), "", now).await?;
                let c = self.creation(id).await?;
                let details = format!("{} for {}", c.name, c.admin_email);
                self.audit_creation(&c, Outcome::Ok, &details).await?;
                Ok(Sent::Created(c))
            }
            Err(KalturaError::Api { message, code, args }) => {
                metrics::counter!("console_account_creations_total", "outcome" => "refused").increment(1);
                let e = KalturaError::Api { message: message.clone(), code, args };
                creations::settle(&self.db, id, CreationState::Failed, None, &message, now).await?;
                // Kaltura's answer settles it and is shown at once: it needs no later report.
                creations::claim_report(&self.db, id).await?;
                let c = self.creation(id).await?;
                self.audit_creation(&c, Outcome::Refused, &message).await?;
                Ok(Sent::Refused(c, e))
            }
            Err(e) => {
                metrics::counter!("console_account_creations_total", "outcome" => "no_answer").increment(1);
                tracing::warn!(error = %e, creation = id, "partner.register got no answer; reconciling");
                creations::mark_unknown(&self.db, id, &e.to_string()).await?;
                let c = self.creation(id).await?;
                self.audit_creation(&c, Outcome::Refused, &format!("no answer from Kaltura ({e}); checking")).await?;
                let accounts = self.clone();
                let unresolved = c.clone();
                tokio::spawn(async move { accounts.reconcile_one(&unresolved).await });
                Ok(Sent::NoAnswer(self.creation(id).await?))
            }
        }
    }

    /// Where the user's own request `id` stands (`None` if there is no such request of theirs).
    pub(crate) async fn creation_of(&self, user_id: i64, id: i64) -> Result<Option<CreateOutcome>, sqlx::Error> {
        match creations::get(&self.db, id).await?.filter(|c| c.user_id == user_id && c.parent_id == self.parent_id()) {
            Some(c) => Ok(Some(self.standing(c).await?)),
            None => Ok(None),
        }
    }

    /// Settled creations the user has not been told about (the console restarted, or they left the page), claimed
    /// so they are told once: whether all went well, and the words.
    pub(crate) async fn unreported(&self, user_id: i64) -> Result<Option<(bool, String)>, sqlx::Error> {
        let mut messages = Vec::new();
        let mut all_ok = true;
        for c in creations::unreported_for(&self.db, user_id).await? {
            if creations::claim_report(&self.db, c.id).await? {
                let (ok, message) = outcome_message(&c);
                all_ok &= ok;
                messages.push(message);
            }
        }
        Ok((!messages.is_empty()).then(|| (all_ok, messages.join(" "))))
    }

    pub(super) async fn creation(&self, id: i64) -> Result<Creation, sqlx::Error> {
        creations::get(&self.db, id).await?.ok_or(sqlx::Error::RowNotFound)
    }

    /// A settled request is reported by the first answer that claims it; a pending one is just pending.
    async fn standing(&self, c: Creation) -> Result<CreateOutcome, sqlx::Error> {
        if c.state.is_settled() {
            let first_report = creations::claim_report(&self.db, c.id).await?;
            Ok(CreateOutcome::Settled { creation: Box::new(c), first_report })
        } else {
            Ok(CreateOutcome::Pending(Box::new(c)))
        }
    }

    async fn audit_creation(&self, c: &Creation, result: Outcome, details: &str) -> Result<(), sqlx::Error> {
        let target = c.partner_id.map(|p| p.to_string()).unwrap_or_else(|| c.admin_email.clone());
        let entry =
            Entry { actor: &c.actor, ip: &c.ip, action: AuditAction::AccountCreate, target: &target, result, details };
        audit::record_under(&self.db, self.now(), self.parent_id(), entry).await
    }

    /// Looks for the account of an unresolved creation among the parent's children, by its administrator email.
    async fn find_created(&self, c: &Creation) -> Result<Option<Partner>, KalturaError> {
        // Clocks differ between here and Kaltura: a day of margin.
        self.find_by_admin_email(&c.admin_email, Some(c.started_at - 86_400)).await
    }

    /// The parent's child (of any status) whose administrator email is `email`, created since `since` if given.
    pub(super) async fn find_by_admin_email(
        &self,
        email: &str,
        since: Option<i64>,
    ) -> Result<Option<Partner>, KalturaError> {
        let filter = PartnerFilter {
            // Kaltura has no adminEmailEqual: the free-text filter narrows, the exact comparison decides.
            partner_name_description_website_admin_name_admin_email_like: Some(email.to_string()),
            created_at_greater_than_or_equal: since,
            status_in: Some(vec![PartnerStatus::Active, PartnerStatus::Blocked, PartnerStatus::Removed]),
            order_by: Some(PartnerOrder::desc(PartnerOrderField::CreatedAt)),
            ..PartnerFilter::default()
        };
        let list = self.kaltura.list_partners(&filter, &Pager::new(100, 1)).await?;
        Ok(list.objects.into_iter().find(|p| p.admin_email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email))))
    }

    /// One look for one creation; settles it when the answer is known.
    pub(super) async fn reconcile_one(&self, c: &Creation) {
        let now = self.now();
        let outcome = match self.find_created(c).await {
            Ok(Some(partner)) => Some((CreationState::Created, Some(partner.id), String::new())),
            Ok(None) if now - c.started_at > GIVE_UP_AFTER_SECS => {
                Some((CreationState::Failed, None, "Kaltura did not create it. You can add it again.".to_string()))
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, creation = c.id, "cannot check an account creation yet");
                None
            }
        };
        let Some((state, partner_id, message)) = outcome else { return };
        match creations::settle(&self.db, c.id, state, partner_id, &message, now).await {
            Ok(true) => {
                let (result, details) = match partner_id {
                    Some(id) => (
                        Outcome::Ok,
                        format!("{} for {}: found as partner {id} after no answer", c.name, c.admin_email),
                    ),
                    None => (Outcome::Refused, format!("{} for {}: not created", c.name, c.admin_email)),
                };
                let settled = Creation { partner_id, ..c.clone() };
                if let Err(e) = self.audit_creation(&settled, result, &details).await {
                    tracing::error!(error = %e, "cannot write the audit log");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, creation = c.id, "cannot record an account creation's outcome"),
        }
    }
}

/// Why a submission could not even be considered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CreateError {
    #[error("The Add Account form is incomplete: open it again.")]
    Incomplete,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Looks, every few seconds until `stop`, for creations whose outcome is unknown (no answer came, or the process
/// that sent them is gone) and settles each one once Kaltura's list tells.
pub(crate) fn spawn_reconciler(accounts: Accounts, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !*stop.borrow() {
            accounts.reconcile_pass().await;
            tokio::select! {
                _ = tokio::time::sleep(RECONCILE_EVERY) => {}
                _ = stop.changed() => {}
            }
        }
    })
}

/// Keeps this process's liveness lease until `stop`, then gives it up: while it holds, the creations this process
/// sent are its own to settle; once it is gone, the others' reconcilers take them up.
pub(crate) fn spawn_liveness(accounts: Accounts, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let name = locks::process(&accounts.runner);
        loop {
            if let Err(e) = accounts.keep_alive(&name).await {
                tracing::warn!(error = %e, "cannot renew this process's liveness lease");
            }
            tokio::select! {
                _ = tokio::time::sleep(LIVENESS_RENEW) => {}
                _ = stop.wait_for(|stopped| *stopped) => break,
            }
        }
        if let Err(e) = locks::release(&accounts.db, &name, &accounts.runner).await {
            tracing::warn!(error = %e, "cannot give up this process's liveness lease");
        }
    })
}

impl Accounts {
    /// Takes or renews the liveness lease `name` of this process.
    async fn keep_alive(&self, name: &str) -> Result<(), sqlx::Error> {
        let now = self.now();
        locks::hold(&self.db, name, &self.runner, now + LIVENESS_LAPSES_AFTER_SECS).await
    }

    /// Announces this process before it sends anything (the command line, which runs no [`spawn_liveness`] of its
    /// own before its first creation).
    pub(crate) async fn announce(&self) -> Result<(), sqlx::Error> {
        self.keep_alive(&locks::process(&self.runner)).await
    }

    /// One pass of the reconciler, by one process at a time: each unresolved creation is asked about once per pass
    /// however many consoles share the database. False when another process was in its pass, so none was made.
    pub(crate) async fn reconcile_pass(&self) -> bool {
        let now = self.now();
        let lock = self.parent_lock(RECONCILER_LOCK);
        match locks::try_take(&self.db, &lock, &self.runner, now, now + RECONCILER_LAPSES_AFTER_SECS).await {
            Ok(true) => {}
            Ok(false) => return false,
            Err(e) => {
                tracing::error!(error = %e, "cannot take the reconciler's turn");
                return true;
            }
        }
        match creations::orphaned_to_unknown(&self.db, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                count = n,
                "account creations whose console stopped before Kaltura answered: checking them"
            ),
            Err(e) => tracing::error!(error = %e, "cannot read interrupted account creations"),
        }
        match creations::unresolved(&self.db, self.parent_id()).await {
            Ok(list) => {
                for c in list {
                    self.reconcile_one(&c).await;
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read unresolved account creations"),
        }
        if let Err(e) = locks::release(&self.db, &lock, &self.runner).await {
            tracing::warn!(error = %e, "cannot give up the reconciler's turn");
        }
        true
    }

    /// A pass of this process's own, after any other process's pass in progress (the command line's import, before
    /// it reads its file: a pass it skipped would leave rows waiting on creations that pass was about to settle). A
    /// process that died in its pass holds the turn at most [`RECONCILER_LAPSES_AFTER_SECS`].
    pub(crate) async fn reconcile_pass_in_turn(&self) {
        while !self.reconcile_pass().await {
            tokio::time::sleep(RECONCILER_TURN_POLL).await;
        }
    }
}
