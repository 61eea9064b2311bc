//! Block, Unblock and Remove for many accounts at once: each user's selection (kept in the database, so it survives
//! paging, searching and closing the tab), the confirmation's plan, and jobs run by a background worker. The rules
//! are the row menu's ([`RowAction::check`]), asked again when the job runs. Kaltura is asked for the statuses in
//! one multirequest and sent `updateStatus` in multirequests of [`UPDATE_BATCH`], each account's outcome kept.

use kaltura::{
    Action, KalturaError, ListResponse, MultiRequest, Partner, PartnerFilter, PartnerOrder, PartnerOrderField,
    PartnerStatus, ResultRef,
};
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::watch;

use super::rules::{Refusal, RowAction, StatusAction};
use super::{Accounts, Actor, EXPORT_PAGE};
use crate::db::audit::{Entry, Outcome};
use crate::db::bulk::{self, NewJob, Settled};
use crate::db::claims::Work;

pub(crate) use crate::db::bulk::{Item, ItemState, Job, Progress, Skip, Started};

/// The most accounts a selection holds (and so a job): stated on the page.
pub(crate) const SELECTION_LIMIT: i64 = 5_000;
/// The most `updateStatus` calls sent in one multirequest.
pub(crate) const UPDATE_BATCH: usize = 50;
/// Kaltura's largest page: the most ids one partner.list is asked about.
const LIST_BATCH: usize = 500;
/// How often the worker looks for jobs when nothing wakes it (a job left by another process, a failed write).
const IDLE_CHECK: Duration = Duration::from_secs(5);
/// The statuses a selected account may have (partner.list leaves out what the filter does not name).
const ANY_STATUS: [PartnerStatus; 5] = [
    PartnerStatus::Deleted,
    PartnerStatus::Active,
    PartnerStatus::Blocked,
    PartnerStatus::Removed,
    PartnerStatus::ReadOnly,
];

/// Why the selection was not changed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SelectError {
    /// The search matches more accounts than a selection may hold.
    #[error("the search matches {matching} accounts")]
    TooManyMatching { matching: i64 },
    /// The selection would pass [`SELECTION_LIMIT`].
    #[error("the selection would hold {would_be} accounts")]
    OverLimit { would_be: i64 },
    #[error(transparent)]
    Kaltura(#[from] KalturaError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Why a confirmation or a job could not be prepared.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BulkError {
    #[error(transparent)]
    Kaltura(#[from] KalturaError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// An account as a confirmation or a result names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Named {
    pub(crate) id: i64,
    pub(crate) name: String,
}

/// What an action would do to the selection now: the accounts it changes, and those it skips with why.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) action: StatusAction,
    pub(crate) change: Vec<Named>,
    pub(crate) skipped: Vec<(Named, Skip)>,
    /// Which selection it is about (its fingerprint), for the start to check.
    pub(crate) selection: String,
}

impl Skip {
    fn of(refusal: Refusal) -> Skip {
        match refusal {
            Refusal::Parent | Refusal::ParentEdit | Refusal::ParentKmc => Skip::Parent,
            Refusal::Removed => Skip::Removed,
            Refusal::Already => Skip::Already,
            Refusal::Status => Skip::Status,
        }
    }

    /// The few words a confirmation and a result give a skipped account ("2 already blocked").
    pub(crate) fn label(self, action: StatusAction) -> String {
        match self {
            Skip::Parent => "the parent account".into(),
            Skip::Removed => "removed".into(),
            Skip::Already => format!("already {}", action.target().label().to_lowercase()),
            Skip::Status => "status does not allow it".into(),
            Skip::NotYours => "not one of your accounts".into(),
        }
    }

    const ORDER: [Skip; 5] = [Skip::Parent, Skip::Removed, Skip::Already, Skip::Status, Skip::NotYours];
}

/// "1 account", "37 accounts".
pub(crate) fn accounts(n: usize) -> String {
    if n == 1 { "1 account".into() } else { format!("{n} accounts") }
}

/// Whether the account is changed by `action`, or why it is skipped (`None`: Kaltura does not list it as the
/// parent's).
fn decide(action: StatusAction, parent_id: i64, partner: Option<&Partner>) -> Result<(), Skip> {
    let Some(p) = partner else { return Err(Skip::NotYours) };
    match RowAction::Status(action).check(p.status, p.id == parent_id) {
        Some(refusal) => Err(Skip::of(refusal)),
        None => Ok(()),
    }
}

/// Whether any of Block, Unblock and Remove is allowed: what makes a row selectable.
pub(crate) fn selectable(status: Option<PartnerStatus>, is_parent: bool) -> bool {
    StatusAction::ALL.into_iter().any(|a| RowAction::Status(a).allowed(status, is_parent))
}

impl Plan {
    fn new(action: StatusAction, parent_id: i64, ids: &[i64], found: &HashMap<i64, Partner>) -> Plan {
        let mut plan = Plan { action, change: Vec::new(), skipped: Vec::new(), selection: bulk::fingerprint(ids) };
        for &id in ids {
            let partner = found.get(&id);
            let named = Named { id, name: name_of(id, partner) };
            match decide(action, parent_id, partner) {
                Ok(()) => plan.change.push(named),
                Err(skip) => plan.skipped.push((named, skip)),
            }
        }
        plan
    }

    /// How many are skipped for each reason, in a fixed order: "1 the parent account, 2 removed".
    pub(crate) fn skip_counts(&self) -> String {
        Skip::ORDER
            .into_iter()
            .filter_map(|why| {
                let n = self.skipped.iter().filter(|(_, s)| *s == why).count();
                (n > 0).then(|| format!("{n} {}", why.label(self.action)))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The confirmation's question, or why nothing can be done.
    pub(crate) fn question(&self) -> String {
        let verb = self.action.key();
        let total = self.change.len() + self.skipped.len();
        if self.change.is_empty() {
            let (total, done, why) = (accounts(total), self.action.done(), self.skip_counts());
            return format!("None of the {total} selected can be {done}: {why}.");
        }
        let mut q = format!("Are you sure you want to {verb} {}?", accounts(self.change.len()));
        if !self.skipped.is_empty() {
            q.push_str(&format!(" {} will be skipped: {}.", self.skipped.len(), self.skip_counts()));
        }
        q
    }
}

fn name_of(id: i64, partner: Option<&Partner>) -> String {
    partner.and_then(|p| p.name.clone()).filter(|n| !n.trim().is_empty()).unwrap_or_else(|| id.to_string())
}

/// Kaltura's own message for an API error; what went wrong otherwise.
fn message_of(e: &KalturaError) -> String {
    match e {
        KalturaError::Api { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// A job as its result page shows it.
pub(crate) struct Report {
    pub(crate) job: Job,
    pub(crate) action: StatusAction,
    pub(crate) progress: Progress,
    /// The run this one retried, and the runs that retried this one: ids and start times.
    pub(crate) retried: Option<(i64, i64)>,
    pub(crate) retries: Vec<(i64, i64)>,
    /// Once the job is finished: a page of each outcome's accounts, with how many there are.
    pub(crate) outcomes: Option<Outcomes>,
}

/// A finished job's accounts by outcome, a page of each.
pub(crate) struct Outcomes {
    pub(crate) changed: Listed,
    pub(crate) skipped: Listed,
    pub(crate) failed: Listed,
}

/// One page of the accounts with one outcome, and how many have it.
pub(crate) struct Listed {
    pub(crate) items: Vec<Item>,
    pub(crate) total: i64,
    pub(crate) page: u32,
}

/// Which page of each outcome's list to show (from 1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutcomePages {
    pub(crate) changed: u32,
    pub(crate) skipped: u32,
    pub(crate) failed: u32,
}

/// Accounts per page of a job's outcome lists: a job of 5,000 accounts stays a page the browser opens at once.
pub(crate) const OUTCOME_PAGE: u32 = 200;

impl Accounts {
    pub(crate) async fn selection_count(&self, user_id: i64) -> Result<i64, sqlx::Error> {
        bulk::selection_count(&self.db, user_id, self.parent_id()).await
    }

    /// Which of `ids` (a page's rows) the user has selected.
    pub(crate) async fn selected_among(&self, user_id: i64, ids: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
        bulk::selected_among(&self.db, user_id, self.parent_id(), ids).await
    }

    /// A page's checkboxes: the page's `shown` rows leave the selection and the `checked` ones among them join it.
    /// Returns the new count.
    pub(crate) async fn select_shown(&self, user_id: i64, shown: &[i64], checked: &[i64]) -> Result<i64, SelectError> {
        let checked: Vec<i64> = checked.iter().copied().filter(|id| shown.contains(id)).collect();
        bulk::set_shown(&self.db, user_id, self.parent_id(), shown, &checked, SELECTION_LIMIT)
            .await?
            .map_err(|over| SelectError::OverLimit { would_be: over.would_be })
    }

    /// Adds every account `filter` matches that a bulk action could change (not the parent, not removed ones):
    /// Kaltura's pages of 500 by partner id, each asking for the ids after the last one seen. Refused before the
    /// walk when the search matches more than a selection holds. Returns the new count.
    pub(crate) async fn select_matching(&self, user_id: i64, filter: &PartnerFilter) -> Result<i64, SelectError> {
        let filter = PartnerFilter { order_by: Some(PartnerOrder::asc(PartnerOrderField::Id)), ..filter.clone() };
        let first = self.view_page(&filter, EXPORT_PAGE).await?;
        let matching = first.selectable.unwrap_or(first.page.total_count);
        if matching > SELECTION_LIMIT {
            return Err(SelectError::TooManyMatching { matching });
        }
        let parent_id = first.parent_id;
        let mut ids = Vec::new();
        let mut page = first.page.objects;
        loop {
            ids.extend(page.iter().filter(|p| selectable(p.status, p.id == parent_id)).map(|p| p.id));
            match page.last() {
                Some(last) if page.len() == EXPORT_PAGE.page_size as usize => {
                    let after = PartnerFilter { id_greater_than: Some(last.id), ..filter.clone() };
                    page = self.kaltura.list_partners(&after, &EXPORT_PAGE).await?.objects;
                }
                _ => break,
            }
        }
        bulk::add_all(&self.db, user_id, self.parent_id(), &ids, SELECTION_LIMIT)
            .await?
            .map_err(|over| SelectError::OverLimit { would_be: over.would_be })
    }

    pub(crate) async fn clear_selection(&self, user_id: i64) -> Result<(), sqlx::Error> {
        bulk::clear_selection(&self.db, user_id, self.parent_id()).await
    }

    /// What `action` would do to the user's selection now, from Kaltura's statuses.
    pub(crate) async fn plan(&self, user_id: i64, action: StatusAction) -> Result<Plan, BulkError> {
        let ids = bulk::selection(&self.db, user_id, self.parent_id()).await?;
        let found = self.statuses(&ids).await?;
        Ok(Plan::new(action, self.parent_id(), &ids, &found))
    }

    /// The names of those of `ids` that are the parent's accounts (the audit log names its targets), in one request.
    pub(crate) async fn account_names(&self, ids: &[i64]) -> Result<HashMap<i64, String>, KalturaError> {
        Ok(self
            .statuses(ids)
            .await?
            .into_iter()
            .filter_map(|(id, p)| p.name.filter(|n| !n.trim().is_empty()).map(|n| (id, n)))
            .collect())
    }

    /// The accounts `ids` as Kaltura has them now, by id: one multirequest of partner.list calls, each about up to
    /// 500 ids. An id Kaltura does not list is not the parent's.
    async fn statuses(&self, ids: &[i64]) -> Result<HashMap<i64, Partner>, KalturaError> {
        let mut mr = MultiRequest::new();
        let lists: Vec<_> = ids
            .chunks(LIST_BATCH)
            .map(|chunk| {
                let filter = PartnerFilter {
                    id_in: Some(chunk.iter().map(i64::to_string).collect::<Vec<_>>().join(",")),
                    status_in: Some(ANY_STATUS.to_vec()),
                    ..PartnerFilter::default()
                };
                mr.add(Action::PARTNER_LIST, json!({ "filter": filter.to_wire(), "pager": EXPORT_PAGE.to_wire() }))
            })
            .collect();
        if mr.is_empty() {
            return Ok(HashMap::new());
        }
        let r = self.kaltura.multirequest(&mr).await?;
        let mut found = HashMap::with_capacity(ids.len());
        for list in lists {
            for p in r.get::<ListResponse<Partner>>(list)?.objects {
                found.insert(p.id, p);
            }
        }
        Ok(found)
    }

    /// Records a job of `action` for every selected account and empties the selection; the worker runs it. `None`
    /// when nothing is selected.
    /// `confirmed` is the [`Plan::selection`] the user was asked about: a selection changed since (in another tab)
    /// starts nothing.
    pub(crate) async fn start_job(
        &self,
        actor: Actor<'_>,
        action: StatusAction,
        confirmed: Option<&str>,
    ) -> Result<Started, sqlx::Error> {
        let new = NewJob {
            parent_id: self.parent_id(),
            user_id: actor.user_id,
            actor: actor.email,
            ip: actor.ip,
            action: action.key(),
        };
        let started = bulk::job_from_selection(&self.db, &new, confirmed, self.now()).await?;
        self.bulk_wake.notify_one();
        Ok(started)
    }

    /// A new job of the same action for the accounts that failed in job `of`; `None` when none did.
    pub(crate) async fn retry_failures(&self, actor: Actor<'_>, of: &Job) -> Result<Option<i64>, sqlx::Error> {
        let new = NewJob {
            parent_id: self.parent_id(),
            user_id: actor.user_id,
            actor: actor.email,
            ip: actor.ip,
            action: &of.action,
        };
        let job = bulk::job_from_failures(&self.db, of.id, &new, self.now()).await?;
        self.bulk_wake.notify_one();
        Ok(job)
    }

    /// Job `id` with its progress, and the asked pages of its outcomes once it is finished; `None` if there is no
    /// such job.
    pub(crate) async fn job(&self, id: i64, pages: OutcomePages) -> Result<Option<Report>, sqlx::Error> {
        let Some(job) = bulk::job(&self.db, id).await?.filter(|j| j.parent_id == self.parent_id()) else {
            return Ok(None);
        };
        let Some(action) = StatusAction::parse(&job.action) else { return Ok(None) };
        let progress = bulk::progress(&self.db, id).await?;
        let outcomes = match job.finished_at {
            Some(_) => {
                let mut o = Outcomes {
                    changed: self.listed(id, ItemState::Changed, pages.changed).await?,
                    skipped: self.listed(id, ItemState::Skipped, pages.skipped).await?,
                    failed: self.listed(id, ItemState::Failed, pages.failed).await?,
                };
                self.name_unnamed(&mut o).await;
                Some(o)
            }
            None => None,
        };
        let retried = match job.retry_of {
            Some(of) => bulk::job(&self.db, of).await?.map(|before| (before.id, before.started_at)),
            None => None,
        };
        // Only a finished run can have been retried; a running one's page, which polls, asks nothing more.
        let retries = match job.finished_at {
            Some(_) => bulk::retries_of(&self.db, id).await?,
            None => Vec::new(),
        };
        Ok(Some(Report { job, action, progress, retried, retries, outcomes }))
    }

    /// Accounts a job never learnt the names of (Kaltura failed before it read them) are named as Kaltura has them
    /// now, in one request; while Kaltura cannot say, they keep their ids.
    async fn name_unnamed(&self, o: &mut Outcomes) {
        let ids: Vec<i64> = [&o.changed, &o.skipped, &o.failed]
            .into_iter()
            .flat_map(|list| list.items.iter().filter(|i| i.is_unnamed()).map(|i| i.partner_id))
            .collect();
        if ids.is_empty() {
            return;
        }
        match self.account_names(&ids).await {
            Ok(names) => {
                for item in [&mut o.changed, &mut o.skipped, &mut o.failed].into_iter().flat_map(|l| l.items.iter_mut())
                {
                    if let Some(name) = names.get(&item.partner_id).filter(|_| item.is_unnamed()) {
                        item.name = name.clone();
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "cannot name a bulk job's accounts"),
        }
    }

    async fn listed(&self, id: i64, state: ItemState, page: u32) -> Result<Listed, sqlx::Error> {
        let total = bulk::count_in(&self.db, id, state).await?;
        let last = u32::try_from((total.max(1) as u64).div_ceil(u64::from(OUTCOME_PAGE))).unwrap_or(u32::MAX);
        let page = page.clamp(1, last);
        let offset = i64::from(page - 1) * i64::from(OUTCOME_PAGE);
        let items = bulk::items_in(&self.db, id, state, offset, i64::from(OUTCOME_PAGE)).await?;
        Ok(Listed { items, total, page })
    }

    /// Runs what is pending of `job`: one multirequest reading the statuses (the rules are asked again now), then
    /// `updateStatus` in multirequests of [`UPDATE_BATCH`], each batch's outcomes recorded and audited before the
    /// next is sent. Stops between batches when asked to; what is pending then is resumed at the next start
    /// (setting a status twice leaves it as once).
    async fn run_job(&self, job: &Job, stop: &watch::Receiver<bool>) -> Result<(), sqlx::Error> {
        let Some(action) = StatusAction::parse(&job.action) else {
            return bulk::finish(&self.db, job.id, self.now()).await;
        };
        let ids = bulk::pending(&self.db, job.id).await?;
        let plan = match self.statuses(&ids).await {
            Ok(found) => Plan::new(action, self.parent_id(), &ids, &found),
            // Nothing was sent: every account fails with the reason, and "Retry the failures" sends them again.
            Err(e) => {
                tracing::warn!(job = job.id, error = %e, "cannot read the statuses of a bulk job's accounts");
                let message = message_of(&e);
                let failed: Vec<Settled> = ids
                    .iter()
                    .map(|&id| Settled {
                        partner_id: id,
                        name: id.to_string(),
                        state: ItemState::Failed,
                        skip: None,
                        message: message.clone(),
                    })
                    .collect();
                bulk::settle(&self.db, job.id, &failed).await?;
                return bulk::finish(&self.db, job.id, self.now()).await;
            }
        };
        // An account whose change was sent before the process stopped, with no answer recorded, and whose status
        // now shows the change, was changed by this job: it is recorded and audited as such, not skipped.
        let sent = bulk::sent_unsettled(&self.db, job.id).await?;
        let (found_changed, skipped): (Vec<_>, Vec<_>) =
            plan.skipped.iter().partition(|(n, why)| *why == Skip::Already && sent.contains(&n.id));
        let skipped: Vec<Settled> = skipped
            .into_iter()
            .map(|(n, why)| Settled {
                partner_id: n.id,
                name: n.name.clone(),
                state: ItemState::Skipped,
                skip: Some(*why),
                message: String::new(),
            })
            .collect();
        bulk::settle(&self.db, job.id, &skipped).await?;
        let found: Vec<(&Named, Result<(), KalturaError>)> =
            found_changed.into_iter().map(|(n, _)| (n, Ok(()))).collect();
        self.settle_batch(job, action, &found, " Its answer was lost when the console stopped; the status shows it.")
            .await?;
        for batch in plan.change.chunks(UPDATE_BATCH) {
            if *stop.borrow() {
                return Ok(());
            }
            let ids: Vec<i64> = batch.iter().map(|n| n.id).collect();
            bulk::mark_sent(&self.db, job.id, &ids).await?;
            let outcomes = self.update_batch(action, batch).await;
            let answered: Vec<(&Named, Result<(), KalturaError>)> = batch.iter().zip(outcomes).collect();
            self.settle_batch(job, action, &answered, "").await?;
        }
        bulk::finish(&self.db, job.id, self.now()).await
    }

    /// Records a batch's outcomes and their audit entries in one transaction, as soon as they are known.
    async fn settle_batch(
        &self,
        job: &Job,
        action: StatusAction,
        outcomes: &[(&Named, Result<(), KalturaError>)],
        note: &str,
    ) -> Result<(), sqlx::Error> {
        let mut settled = Vec::with_capacity(outcomes.len());
        let mut lines = Vec::with_capacity(outcomes.len());
        for (n, outcome) in outcomes {
            let (state, result, message, details) = match outcome {
                Ok(()) => {
                    let details = format!("{} ({}) was {} (bulk job {}).{note}", n.name, n.id, action.done(), job.id);
                    (ItemState::Changed, Outcome::Ok, String::new(), details)
                }
                Err(e) => {
                    let message = message_of(e);
                    (ItemState::Failed, Outcome::Refused, message.clone(), message)
                }
            };
            lines.push((n.id.to_string(), result, details));
            settled.push(Settled { partner_id: n.id, name: n.name.clone(), state, skip: None, message });
        }
        let now = self.now();
        let entries: Vec<(i64, Entry<'_>)> = lines
            .iter()
            .map(|(target, result, details)| {
                let entry = Entry {
                    actor: &job.actor,
                    ip: &job.ip,
                    action: action.audit_action(),
                    target,
                    result: *result,
                    details,
                };
                (now, entry)
            })
            .collect();
        bulk::settle_audited(&self.db, job.id, self.parent_id(), &settled, &entries).await
    }

    /// One multirequest of `updateStatus` calls; each account's own outcome (a failed request fails them all).
    async fn update_batch(&self, action: StatusAction, batch: &[Named]) -> Vec<Result<(), KalturaError>> {
        let (mr, calls) = update_calls(action, batch);
        match self.kaltura.multirequest(&mr).await {
            Ok(r) => calls.into_iter().map(|c| r.item(c).map(drop)).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "a batch of status changes got no answer");
                batch.iter().map(|_| Err(e.clone())).collect()
            }
        }
    }
}

/// One `updateStatus` call per account, in one multirequest.
fn update_calls(action: StatusAction, batch: &[Named]) -> (MultiRequest, Vec<ResultRef>) {
    let mut mr = MultiRequest::new();
    let calls = batch
        .iter()
        .map(|n| mr.add(Action::UPDATE_STATUS, json!({ "id": n.id, "status": action.target().code() })))
        .collect();
    (mr, calls)
}

/// Runs bulk jobs until `stop`: woken when one is recorded here, and every few seconds for those recorded by another
/// console, or left by one that stopped (once its claim lapses). Each job is claimed first, so it runs in one place.
pub(crate) fn spawn_bulk_worker(accounts: Accounts, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !*stop.borrow() {
            match bulk::unclaimed(&accounts.db, accounts.parent_id(), accounts.now()).await {
                Ok(jobs) => {
                    for job in jobs {
                        if *stop.borrow() {
                            break;
                        }
                        accounts.drive_job(&job, &stop).await;
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot read the bulk jobs to run"),
            }
            tokio::select! {
                _ = accounts.bulk_wake.notified() => {}
                _ = tokio::time::sleep(IDLE_CHECK) => {}
                _ = stop.changed() => {}
            }
        }
    })
}

impl Accounts {
    /// Claims `job` and runs it while the claim is renewed; gives the claim up when it ends (done, stopping, or
    /// taken over after this process failed to renew it).
    async fn drive_job(&self, job: &Job, stop: &watch::Receiver<bool>) {
        match self.claim(Work::BulkJob, job.id).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::error!(job = job.id, error = %e, "cannot claim a bulk job");
                return;
            }
        }
        tokio::select! {
            result = self.run_job(job, stop) => {
                if let Err(e) = result {
                    tracing::error!(job = job.id, error = %e, "cannot record a bulk job's progress");
                }
            }
            () = self.keep_claim(Work::BulkJob, job.id) => {}
        }
        self.release_claim(Work::BulkJob, job.id).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partner(id: i64, status: PartnerStatus) -> Partner {
        serde_json::from_value(json!({ "id": id, "name": format!("n{id}"), "status": status.code() })).unwrap()
    }

    fn found(list: &[(i64, PartnerStatus)]) -> HashMap<i64, Partner> {
        list.iter().map(|&(id, s)| (id, partner(id, s))).collect()
    }

    #[test]
    fn the_confirmation_counts_what_changes_and_what_is_skipped_and_why() {
        use PartnerStatus::*;
        let f = found(&[(1, Active), (2, Active), (3, Blocked), (4, Removed), (5, Removed), (10, Active)]);
        let plan = Plan::new(StatusAction::Block, 1, &[1, 2, 3, 4, 5, 6], &f);
        assert_eq!(plan.change, vec![Named { id: 2, name: "n2".into() }]);
        assert_eq!(
            plan.question(),
            "Are you sure you want to block 1 account? 5 will be skipped: 1 the parent account, 2 removed, \
             1 already blocked, 1 not one of your accounts."
        );
        let unblock = Plan::new(StatusAction::Unblock, 1, &[2, 10], &f);
        assert_eq!(unblock.question(), "None of the 2 accounts selected can be unblocked: 2 already active.");
        let remove = Plan::new(StatusAction::Remove, 1, &[2, 3, 10], &f);
        assert_eq!(remove.question(), "Are you sure you want to remove 3 accounts?");
    }

    #[test]
    fn updates_go_in_multirequests_of_at_most_fifty() {
        let named: Vec<Named> = (0..120).map(|id| Named { id, name: String::new() }).collect();
        let sizes: Vec<usize> =
            named.chunks(UPDATE_BATCH).map(|batch| update_calls(StatusAction::Block, batch).0.len()).collect();
        assert_eq!(sizes, vec![50, 50, 20]);
        let ids: Vec<i64> = (0..1200).collect();
        assert_eq!(ids.chunks(LIST_BATCH).count(), 3, "1,200 statuses in three partner.list calls");
    }

    #[test]
    fn only_rows_some_status_action_allows_are_selectable() {
        use PartnerStatus::*;
        assert!(selectable(Some(Active), false));
        assert!(selectable(Some(Blocked), false));
        assert!(!selectable(Some(Removed), false));
        assert!(!selectable(Some(Active), true), "never the parent");
    }
}
