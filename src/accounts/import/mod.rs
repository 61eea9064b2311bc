//! Creating many accounts from a CSV file. The file is read and every row checked with Add Account's rules (and
//! against the accounts that exist and the quota) for a preview; nothing is sent until the user starts it. Then
//! each row becomes an account creation recorded before its partner.register, under the same quota check as Add
//! Account, so a row is never sent twice: the same file again, a second click, a timeout or a restart all end with
//! one account per row and a known outcome for each. A running import is claimed by one process at a time (a claim
//! that lapses), so a console that stopped in the middle is taken over and the import finishes.

mod file;

use futures_util::{StreamExt, TryStreamExt, stream};
use kaltura::{KalturaError, NewAccount, PartnerFilter, PartnerStatus};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

use super::creation::{Sent, template_choices, validate};
use super::{AccountForm, Accounts, Actor, FieldErrors, no_quota_message};
use crate::db::audit::{self, AuditAction, Entry, Outcome};
use crate::db::claims::Work;
use crate::db::creations::{self, Creation, CreationState, NewCreation, Recorded};
use crate::db::imports::{self, Import, ImportState, NewImport};
use crate::spreadsheet;

pub(crate) use crate::db::imports::{Row, RowState};
pub(crate) use file::{Column, FileError, MAX_FILE_BYTES, MAX_ROWS};

/// Rows sent at once: a registration takes Kaltura seconds. Each row's place in the quota is still checked and
/// recorded one at a time, under the lock Add Account uses.
const PARALLEL: usize = 3;
/// How often the worker looks for imports to take up, and rows waiting for something else are tried again.
const WORKER_EVERY: Duration = Duration::from_secs(2);
const RETRY_EVERY: Duration = Duration::from_secs(2);
/// A row whose email an earlier creation is still under way for (perhaps one that got no answer).
const WAITS_FOR_EARLIER: &str = "Waits for an earlier creation for this email, whose outcome Kaltura has not \
                                 confirmed yet: it is created if that one was not";
/// How many past imports the import page lists.
const RECENT: i64 = 20;

/// Why a file was not taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ImportError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("The file cannot be checked against your accounts now: {0}")]
    Kaltura(#[from] KalturaError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// An import with its rows and their tally.
pub(crate) struct ImportView {
    pub(crate) import: Import,
    pub(crate) columns: Vec<Column>,
    pub(crate) rows: Vec<Row>,
    pub(crate) tally: Tally,
}

/// How many rows are in each state, and how fast the import goes.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Tally {
    pub(crate) total: i64,
    pub(crate) invalid: i64,
    pub(crate) exists: i64,
    pub(crate) left_out: i64,
    /// To be sent (pending or being sent).
    pub(crate) remaining: i64,
    pub(crate) created: i64,
    pub(crate) failed: i64,
    /// Of the rows to send when it started, how many have their outcome.
    pub(crate) done: i64,
    pub(crate) to_send: i64,
    pub(crate) elapsed_secs: i64,
}

impl Tally {
    fn of(import: &Import, counts: &[(RowState, i64)], now: i64) -> Tally {
        let n = |s: RowState| counts.iter().filter(|(state, _)| *state == s).map(|(_, n)| n).sum::<i64>();
        let remaining = n(RowState::Pending) + n(RowState::Sending);
        let elapsed_secs = match import.started_at {
            Some(start) => import.finished_at.unwrap_or(now) - start,
            None => 0,
        };
        Tally {
            total: counts.iter().map(|(_, n)| n).sum(),
            invalid: n(RowState::Invalid),
            exists: n(RowState::Exists),
            left_out: n(RowState::LeftOut),
            remaining,
            created: n(RowState::Created),
            failed: n(RowState::Failed),
            done: (import.to_send - remaining).max(0),
            to_send: import.to_send,
            elapsed_secs: elapsed_secs.max(0),
        }
    }

    /// Rows given their outcome per minute, once there is something to measure.
    pub(crate) fn per_minute(&self) -> Option<f64> {
        (self.done > 0 && self.elapsed_secs > 0).then(|| self.done as f64 * 60.0 / self.elapsed_secs as f64)
    }

    /// Rows that did not end with an account (the command line's exit status).
    pub(crate) fn not_created(&self) -> i64 {
        self.invalid + self.left_out + self.failed
    }
}

/// What a row's state says, in the result table and CSV.
pub(crate) fn outcome(state: RowState) -> &'static str {
    match state {
        RowState::Invalid => "Invalid",
        RowState::Exists => "Already existed",
        RowState::LeftOut => "Left out",
        RowState::Pending => "To create",
        RowState::Sending => "Creating",
        RowState::Created => "Created",
        RowState::Failed => "Failed",
    }
}

/// The template download.
pub(crate) fn template_file() -> String {
    file::template()
}

/// What the file's row holds, as Add Account's form (an empty template is Kaltura's default, 0).
fn form_of(row: &Row) -> AccountForm {
    let template_id = if row.template_id.trim().is_empty() { "0".to_string() } else { row.template_id.clone() };
    AccountForm {
        request_key: String::new(),
        admin_name: row.admin_name.clone(),
        name: row.name.clone(),
        admin_email: row.admin_email.clone(),
        phone: row.phone.clone(),
        website: row.website.clone(),
        template_id,
        reference_id: row.reference_id.clone(),
    }
}

/// Add Account's messages for a row, each after its column's label; `None` when it is valid.
fn problems(errors: &FieldErrors, row: &Row) -> Option<String> {
    let template = errors.template_id.as_ref().map(|_| {
        format!("{} is not one of your active template accounts (0 is Kaltura's default template)", row.template_id)
    });
    let found: Vec<String> = [
        (Column::AdminName, &errors.admin_name),
        (Column::Name, &errors.name),
        (Column::AdminEmail, &errors.admin_email),
        (Column::Phone, &errors.phone),
        (Column::Website, &errors.website),
        (Column::TemplateId, &template),
        (Column::ReferenceId, &errors.reference_id),
    ]
    .into_iter()
    .filter_map(|(c, e)| e.as_ref().map(|e| format!("{}: {e}", c.label())))
    .collect();
    (!found.is_empty()).then(|| found.join("; "))
}

fn exists_message(id: i64, name: Option<&str>, status: Option<PartnerStatus>) -> String {
    let name = name.filter(|n| !n.trim().is_empty()).map(|n| format!(" ({n})")).unwrap_or_default();
    let status = match status {
        Some(s @ (PartnerStatus::Blocked | PartnerStatus::Removed)) => format!(", {}", s.label().to_lowercase()),
        _ => String::new(),
    };
    format!("An account with this administrator email exists: {id}{name}{status}")
}

impl ImportView {
    /// The result CSV: the input columns as the file had them, then Partner ID, Outcome and Message.
    pub(crate) fn result_csv(&self) -> String {
        let mut header: Vec<&str> = self.columns.iter().map(|c| c.label()).collect();
        header.extend(["Partner ID", "Outcome", "Message"]);
        let mut out = spreadsheet::line(header);
        for r in &self.rows {
            let partner = r.partner_id.map(|p| p.to_string()).unwrap_or_default();
            let mut fields: Vec<&str> = self.columns.iter().map(|c| value(r, *c)).collect();
            fields.extend([partner.as_str(), outcome(r.state), r.message.as_str()]);
            out.push_str(&spreadsheet::line(fields));
        }
        out
    }
}

fn value(r: &Row, c: Column) -> &str {
    match c {
        Column::AdminName => &r.admin_name,
        Column::Name => &r.name,
        Column::AdminEmail => &r.admin_email,
        Column::Phone => &r.phone,
        Column::Website => &r.website,
        Column::TemplateId => &r.template_id,
        Column::ReferenceId => &r.reference_id,
    }
}

/// What a pass over an import's rows reads once: the quota (with when it was read) and the template accounts.
struct Pass {
    quota: super::Quota,
    read_at: i64,
    templates: Vec<super::creation::TemplateChoice>,
}

/// What one row's turn came to.
enum Step {
    Done,
    /// Waiting for something else (Kaltura unreachable, another creation for the same email): try again later.
    Later,
}

impl Accounts {
    /// Reads and checks a file and records it as a preview; nothing is sent to Kaltura. Its id.
    pub(crate) async fn import_preview(
        &self,
        actor: Actor<'_>,
        file_name: &str,
        bytes: &[u8],
    ) -> Result<i64, ImportError> {
        let file = file::read(bytes)?;
        let (quota, templates) = self.quota_and_templates().await?;
        let choices = template_choices(&templates);
        let existing = self.admin_emails().await?;
        let in_flight: Vec<String> =
            creations::emails_in_flight(&self.db).await?.into_iter().map(|e| e.to_lowercase()).collect();
        let mut seen: HashMap<String, i64> = HashMap::new();
        let mut places = quota.available - in_flight.len() as i64;
        let mut rows = Vec::with_capacity(file.rows.len());
        for input in &file.rows {
            let mut row = Row {
                row_no: input.row_no,
                admin_name: input.get(Column::AdminName).to_string(),
                name: input.get(Column::Name).to_string(),
                admin_email: input.get(Column::AdminEmail).to_string(),
                phone: input.get(Column::Phone).to_string(),
                website: input.get(Column::Website).to_string(),
                template_id: input.get(Column::TemplateId).to_string(),
                reference_id: input.get(Column::ReferenceId).to_string(),
                state: RowState::Pending,
                message: String::new(),
                partner_id: None,
            };
            let email = row.admin_email.to_lowercase();
            let (errors, _) = validate(&form_of(&row), &choices);
            let first = if errors.admin_email.is_none() { seen.get(&email).copied() } else { None };
            if let Some(message) = problems(&errors, &row) {
                (row.state, row.message) = (RowState::Invalid, message);
            } else if let Some(first) = first {
                let message = format!("{}: also in row {first} of the file", Column::AdminEmail.label());
                (row.state, row.message) = (RowState::Invalid, message);
            } else if let Some((id, name, status)) = existing.get(&email) {
                (row.state, row.message, row.partner_id) =
                    (RowState::Exists, exists_message(*id, name.as_deref(), *status), Some(*id));
            } else if in_flight.contains(&email) {
                // Not "already existed": that creation may have failed, and until Kaltura tells, this row waits.
                row.message = WAITS_FOR_EARLIER.to_string();
            } else if places < 1 {
                let message = match quota.available.max(0) {
                    0 => "No accounts remain in the quota".to_string(),
                    n => format!("Beyond the {n} accounts remaining in the quota"),
                };
                (row.state, row.message) = (RowState::LeftOut, message);
            } else {
                places -= 1;
            }
            if errors.admin_email.is_none() {
                seen.entry(email).or_insert(row.row_no);
            }
            rows.push(row);
        }
        let columns: Vec<&str> = file.columns.iter().map(|c| c.label()).collect();
        let new = NewImport {
            parent_id: self.parent_id(),
            user_id: actor.user_id,
            actor: actor.email,
            ip: actor.ip,
            file_name,
            columns: &columns.join(","),
        };
        Ok(imports::create(&self.db, &new, &rows, self.now()).await?)
    }

    /// Every child's administrator email (lowercase), with its id, name and status.
    async fn admin_emails(
        &self,
    ) -> Result<HashMap<String, (i64, Option<String>, Option<PartnerStatus>)>, KalturaError> {
        let filter = PartnerFilter {
            status_in: Some(vec![PartnerStatus::Active, PartnerStatus::Blocked, PartnerStatus::Removed]),
            ..PartnerFilter::default()
        };
        let (parent, pages) = self.export(&filter).await?;
        let mut out = HashMap::new();
        let mut pages = std::pin::pin!(pages);
        while let Some(page) = pages.try_next().await? {
            for p in page.into_iter().filter(|p| p.id != parent) {
                if let Some(email) = p.admin_email.as_deref().filter(|e| !e.trim().is_empty()) {
                    out.entry(email.trim().to_lowercase()).or_insert((p.id, p.name.clone(), p.status));
                }
            }
        }
        Ok(out)
    }

    /// An import of this parent's: another parent's is none.
    async fn own_import(&self, id: i64) -> Result<Option<Import>, sqlx::Error> {
        Ok(imports::get(&self.db, id).await?.filter(|i| i.parent_id == self.parent_id()))
    }

    /// An import with its rows.
    pub(crate) async fn import(&self, id: i64) -> Result<Option<ImportView>, sqlx::Error> {
        let Some(import) = self.own_import(id).await? else { return Ok(None) };
        let rows = imports::rows(&self.db, id).await?;
        let tally = self.tally(&import).await?;
        let columns = import.columns.split(',').filter_map(Column::parse).collect();
        Ok(Some(ImportView { import, columns, rows, tally }))
    }

    async fn tally(&self, import: &Import) -> Result<Tally, sqlx::Error> {
        let counts = imports::counts(&self.db, import.id).await?;
        Ok(Tally::of(import, &counts, self.now()))
    }

    /// An import and its tally, without the rows (the progress while it runs).
    pub(crate) async fn import_tally(&self, id: i64) -> Result<Option<(Import, Tally)>, sqlx::Error> {
        let Some(import) = self.own_import(id).await? else { return Ok(None) };
        let tally = self.tally(&import).await?;
        Ok(Some((import, tally)))
    }

    /// The latest imports, newest first, with their tallies.
    pub(crate) async fn recent_imports(&self) -> Result<Vec<(Import, Tally)>, sqlx::Error> {
        let mut out = Vec::new();
        for import in imports::recent(&self.db, self.parent_id(), RECENT).await? {
            let tally = self.tally(&import).await?;
            out.push((import, tally));
        }
        Ok(out)
    }

    /// Starts a previewed import (audited); a second start of the same import changes nothing. False when it was
    /// not a preview (started already, discarded, or unknown).
    pub(crate) async fn import_start(&self, actor: Actor<'_>, id: i64) -> Result<bool, sqlx::Error> {
        if self.own_import(id).await?.is_none() || !imports::start(&self.db, id, self.now()).await? {
            return Ok(false);
        }
        if let Some(import) = imports::get(&self.db, id).await? {
            let details = format!("{}: {} accounts to create", import.file_name, import.to_send);
            let entry = Entry {
                actor: actor.email,
                ip: actor.ip,
                action: AuditAction::AccountImport,
                target: &format!("import {id}"),
                result: Outcome::Ok,
                details: &details,
            };
            audit::record_under(&self.db, self.now(), self.parent_id(), entry).await?;
        }
        self.import_wakeup.notify_one();
        Ok(true)
    }

    pub(crate) async fn import_discard(&self, id: i64) -> Result<bool, sqlx::Error> {
        Ok(self.own_import(id).await?.is_some() && imports::discard(&self.db, id).await?)
    }

    /// Runs a started import this process claimed until every row has its outcome, `stop` says the process is
    /// stopping, or another process took it over; gives the claim up when it ends. True when the import is done.
    pub(crate) async fn drive_import(&self, id: i64, stop: watch::Receiver<bool>) -> bool {
        let done = tokio::select! {
            done = self.run_import(id, stop) => done,
            () = self.keep_claim(Work::Import, id) => false,
        };
        self.release_claim(Work::Import, id).await;
        done
    }

    /// Started imports nobody runs any more (their process stopped and its claim lapsed).
    pub(crate) async fn abandoned_imports(&self) -> Result<Vec<i64>, sqlx::Error> {
        imports::unclaimed(&self.db, self.parent_id(), self.now()).await
    }

    /// Claims a started import for this process (the command line runs its own import this way).
    pub(crate) async fn claim_import(&self, id: i64) -> Result<bool, sqlx::Error> {
        self.claim(Work::Import, id).await
    }

    /// Gives each row its turn, a few at a time, until none is left; rows waiting for something else are tried
    /// again a little later. A database failure is logged and tried again. Once `stop` says so no row starts its
    /// turn, and the rows being sent finish theirs (a creation cut off would wait for the reconciler).
    async fn run_import(&self, id: i64, mut stop: watch::Receiver<bool>) -> bool {
        let stopped = |stop: &watch::Receiver<bool>| *stop.borrow();
        loop {
            if stopped(&stop) {
                return false;
            }
            let (import, rows) = match (self.own_import(id).await, imports::rows(&self.db, id).await) {
                (Ok(Some(import)), Ok(rows)) => (import, rows),
                (Ok(None), _) => return false,
                (Err(e), _) | (_, Err(e)) => {
                    tracing::error!(error = %e, import = id, "cannot read an import");
                    tokio::time::sleep(RETRY_EVERY).await;
                    continue;
                }
            };
            if import.state != ImportState::Running {
                return import.state == ImportState::Done;
            }
            let waiting = AtomicBool::new(false);
            // One reading of the quota serves the whole pass: each row's place is judged against it and the
            // creations recorded since, under the creation turn, so no Kaltura call is made while holding that.
            let read_at = self.now();
            let pass = match self.quota_and_templates().await {
                Ok((quota, templates)) => Some(Pass { quota, read_at, templates: template_choices(&templates) }),
                Err(e) => {
                    tracing::warn!(error = %e, import = id, "cannot check the quota for an import yet");
                    None
                }
            };
            let turns = rows.iter().filter(|r| !r.state.is_final()).take_while(|_| !stopped(&stop));
            if let Some(pass) = &pass {
                stream::iter(turns)
                    .for_each_concurrent(PARALLEL, |row| {
                        let (import, waiting) = (&import, &waiting);
                        async move {
                            match self.import_row(import, pass, row).await {
                                Ok(Step::Done) => {}
                                Ok(Step::Later) => waiting.store(true, Ordering::Relaxed),
                                Err(e) => {
                                    tracing::error!(error = %e, import = id, row = row.row_no, "cannot record an import row");
                                    waiting.store(true, Ordering::Relaxed);
                                }
                            }
                        }
                    })
                    .await;
            } else {
                waiting.store(true, Ordering::Relaxed);
            }
            match imports::finish_if_settled(&self.db, id, self.now()).await {
                Ok(true) => return true,
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, import = id, "cannot finish an import"),
            }
            if waiting.load(Ordering::Relaxed) {
                tokio::select! {
                    () = tokio::time::sleep(RETRY_EVERY) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }

    /// One row's turn: follow its creation if it has one; else check it again (template, an existing account,
    /// the quota), record the creation, and send it.
    async fn import_row(&self, import: &Import, pass: &Pass, row: &Row) -> Result<Step, sqlx::Error> {
        let key = format!("import-{}-{}", import.id, row.row_no);
        if let Some(c) = creations::by_key(&self.db, &key).await? {
            return self.follow(import.id, row.row_no, c).await;
        }
        let form = form_of(row);
        let (errors, template) = validate(&form, &pass.templates);
        if let Some(message) = problems(&errors, row) {
            self.set_row(import, row, RowState::Invalid, &message, None).await?;
            return Ok(Step::Done);
        }
        match self.find_by_admin_email(row.admin_email.trim(), None).await {
            Ok(Some(p)) => {
                let message = exists_message(p.id, p.name.as_deref(), p.status);
                self.set_row(import, row, RowState::Exists, &message, Some(p.id)).await?;
                return Ok(Step::Done);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, import = import.id, "cannot look for an existing account yet");
                return Ok(Step::Later);
            }
        }
        let serial = self.creation_turn().await?;
        let used = creations::count_against_quota(&self.db, self.parent_id(), pass.read_at).await?;
        if pass.quota.available - used.total() < 1 {
            // Creations under way may already be counted by Kaltura too (their answer not yet recorded, or their
            // process gone before it could record it), and those settled since the pass read the quota may be in its
            // count: the row waits for a fresh reading, and is left out only when nothing is under way or new and
            // no place remains.
            if used.total() > 0 {
                return Ok(Step::Later);
            }
            self.set_row(import, row, RowState::LeftOut, &no_quota_message(0), None).await?;
            return Ok(Step::Done);
        }
        let account = NewAccount {
            admin_name: form.admin_name.trim().to_string(),
            name: form.name.trim().to_string(),
            admin_email: form.admin_email.trim().to_string(),
            phone: form.phone.trim().to_string(),
            website: Some(form.website.trim().to_string()).filter(|s| !s.is_empty()),
            reference_id: Some(form.reference_id.trim().to_string()).filter(|s| !s.is_empty()),
        };
        let new = NewCreation {
            parent_id: self.parent_id(),
            request_key: &key,
            user_id: import.user_id,
            actor: &import.actor,
            ip: &import.ip,
            admin_name: &account.admin_name,
            name: &account.name,
            admin_email: &account.admin_email,
            phone: &account.phone,
            website: account.website.as_deref(),
            reference_id: account.reference_id.as_deref(),
            template_id: template,
            reported: true,
            runner: &self.runner,
        };
        let id = match creations::record(&self.db, &new, self.now()).await? {
            Recorded::New(id) => id,
            Recorded::Duplicate(c) => {
                drop(serial);
                return self.follow(import.id, row.row_no, *c).await;
            }
            Recorded::EmailInFlight => return Ok(Step::Later),
        };
        self.set_row(import, row, RowState::Sending, "", None).await?;
        drop(serial);
        match self.send(id, &account, template).await? {
            Sent::Created(c) | Sent::Refused(c, _) => self.settle_row(import.id, row.row_no, &c).await,
            Sent::NoAnswer(c) => self.follow(import.id, row.row_no, c).await,
        }
    }

    async fn set_row(
        &self,
        import: &Import,
        row: &Row,
        state: RowState,
        message: &str,
        partner_id: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        imports::set_row(&self.db, import.id, row.row_no, state, message, partner_id).await
    }

    /// A row whose creation was recorded: its outcome once the creation is settled (looked for at Kaltura while
    /// it is not).
    async fn follow(&self, import_id: i64, row_no: i64, c: Creation) -> Result<Step, sqlx::Error> {
        if !c.state.is_settled() {
            self.reconcile_one(&c).await;
        }
        let c = self.creation(c.id).await?;
        if !c.state.is_settled() {
            imports::set_row(&self.db, import_id, row_no, RowState::Sending, "", None).await?;
            return Ok(Step::Later);
        }
        self.settle_row(import_id, row_no, &c).await
    }

    async fn settle_row(&self, import_id: i64, row_no: i64, c: &Creation) -> Result<Step, sqlx::Error> {
        let (state, message) = match c.state {
            CreationState::Created => (RowState::Created, ""),
            _ => (RowState::Failed, c.message.as_str()),
        };
        imports::set_row(&self.db, import_id, row_no, state, message, c.partner_id).await?;
        Ok(Step::Done)
    }
}

/// Takes up started imports nobody runs (new ones at once, those of a console that stopped when its claim lapses)
/// and runs them, until `stop`.
pub(crate) fn spawn_import_worker(accounts: Accounts, stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut running = tokio::task::JoinSet::new();
        let mut active: Vec<i64> = Vec::new();
        let mut stopping = stop.clone();
        while !*stop.borrow() {
            match imports::unclaimed(&accounts.db, accounts.parent_id(), accounts.now()).await {
                Ok(ids) => {
                    for id in ids {
                        if active.contains(&id) {
                            continue;
                        }
                        match accounts.claim_import(id).await {
                            Ok(true) => {
                                tracing::info!(import = id, "running an account import");
                                active.push(id);
                                let (accounts, stop) = (accounts.clone(), stop.clone());
                                running.spawn(async move {
                                    accounts.drive_import(id, stop).await;
                                    id
                                });
                            }
                            Ok(false) => {}
                            Err(e) => tracing::error!(error = %e, import = id, "cannot claim an import"),
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot read the imports to run"),
            }
            tokio::select! {
                () = tokio::time::sleep(WORKER_EVERY) => {}
                () = accounts.import_wakeup.notified() => {}
                Some(Ok(id)) = running.join_next() => active.retain(|a| *a != id),
                _ = stopping.changed() => {}
            }
        }
        while running.join_next().await.is_some() {}
    })
}
