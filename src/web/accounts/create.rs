//! Add Account: the form (a dialog under htmx, a page without JavaScript), validation with Kaltura's messages,
//! the quota the console enforces (Kaltura does not), and a creation that never doubles and is never lost: it is
//! recorded before partner.register is sent, and when no answer comes the reconciler looks for the account by its
//! administrator email until it knows, then tells the user exactly once.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::time::Duration;
use tower_sessions::Session;

use super::super::auth::{self, AdminUser, CurrentUser};
use super::super::{AppState, ClientIp, Flash, Htmx, Nav, render};
use crate::db::audit::{self, Entry, Outcome};
use crate::db::creations::{self, Creation, NewCreation, Recorded};
use crate::db::unix_now;
use crate::error::AppError;
use crate::kaltura::{
    KalturaError, NewAccount, Pager, Partner, PartnerFilter, PartnerStatus, is_kaltura_email, random_secret,
};

/// How often unresolved creations are looked for, and how long before giving up on one.
const RECONCILE_EVERY: Duration = Duration::from_secs(3);
const GIVE_UP_AFTER_SECS: i64 = 15 * 60;
const MAX_FIELD: usize = 255;

/// Held while a request's quota is checked and the request recorded (not while Kaltura creates the account).
static CREATE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub const REQUIRED: &str = "Value is required and can't be empty";
pub const INVALID_EMAIL: &str = "Invalid email format";
pub const DUPLICATE_EMAIL: &str = "Email address already exists in the system";

#[derive(Debug, Default, Deserialize)]
pub struct AddForm {
    #[serde(default)]
    request_key: String,
    #[serde(default)]
    admin_name: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    admin_email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    website: String,
    #[serde(default)]
    template_id: String,
    #[serde(default)]
    reference_id: String,
}

/// One template choice: `Default Template Account` (0) first, then the active templates.
pub struct TemplateChoice {
    pub id: i64,
    pub label: String,
}

#[derive(Default)]
struct Errors {
    admin_name: Option<&'static str>,
    name: Option<&'static str>,
    admin_email: Option<&'static str>,
    phone: Option<&'static str>,
    website: Option<&'static str>,
    template_id: Option<&'static str>,
    reference_id: Option<&'static str>,
    /// A message about the whole request (quota, Kaltura's answer).
    general: Option<String>,
}

impl Errors {
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

#[derive(Template)]
#[template(path = "partials/add_account_form.html")]
struct FormPartial {
    form: AddForm,
    errors: Errors,
    templates: Vec<TemplateChoice>,
    selected_template: i64,
}

#[derive(Template)]
#[template(path = "add_account.html")]
struct FormPage {
    nav: Nav,
    /// The rendered form, the same markup the dialog shows.
    body: String,
}

#[derive(Template)]
#[template(path = "partials/creation_status.html")]
struct StatusPartial {
    creation: Creation,
    elapsed: i64,
}

#[derive(Template)]
#[template(path = "creation_status.html")]
struct StatusPage {
    nav: Nav,
    body: String,
}

/// What the dialog slot shows once a creation is settled: nothing, plus the message and a table refresh.
#[derive(Template)]
#[template(path = "partials/creation_done.html")]
struct Done {
    f: Flash,
}

fn new_request_key() -> String {
    random_secret()
}

fn template_choices(templates: &[Partner]) -> Vec<TemplateChoice> {
    let mut out = vec![TemplateChoice { id: 0, label: "Default Template Account".into() }];
    out.extend(
        templates
            .iter()
            .filter(|t| t.status == Some(PartnerStatus::Active))
            .map(|t| TemplateChoice { id: t.id, label: format!("{} ({})", t.name.clone().unwrap_or_default(), t.id) }),
    );
    out
}

/// The active templates and how many more accounts may be made, in one round trip.
async fn quota_and_templates(state: &AppState) -> Result<(i64, Vec<TemplateChoice>), KalturaError> {
    // No partner has id 0: only the templates, the used count and the parent come back.
    let nothing = PartnerFilter { id_in: Some("0".into()), ..PartnerFilter::default() };
    let page = state.kaltura.accounts_page(&nothing, &Pager::new(1, 1)).await?;
    Ok((page.quota().available, template_choices(&page.templates)))
}

fn no_quota_message(in_flight: i64) -> String {
    if in_flight > 0 {
        "No additional accounts remain while the accounts being created are counted. Wait for them to finish, or \
         contact Kaltura to request an upgrade."
            .into()
    } else {
        "No additional accounts remain. Need more accounts? Contact Kaltura to request an upgrade.".into()
    }
}

pub async fn new_form(
    State(state): State<AppState>,
    AdminUser(me): AdminUser,
    Htmx(htmx): Htmx,
) -> Result<Response, AppError> {
    let mut errors = Errors::default();
    let templates = match quota_and_templates(&state).await {
        Ok((available, templates)) => {
            let in_flight = creations::count_in_flight(&state.db).await?;
            if available - in_flight < 1 {
                errors.general = Some(no_quota_message(in_flight));
            }
            templates
        }
        Err(e) => {
            errors.general = Some(format!("Can't check the account quota: {e}"));
            template_choices(&[])
        }
    };
    let form = AddForm { request_key: new_request_key(), ..AddForm::default() };
    let inner = FormPartial { form, errors, templates, selected_template: 0 };
    if htmx {
        return Ok(render(&inner)?.into_response());
    }
    Ok(render(&FormPage { nav: Nav::for_user(&me, "accounts"), body: inner.render()? })?.into_response())
}

fn field(value: &str) -> String {
    value.trim().to_string()
}

fn validate(form: &AddForm, templates: &[TemplateChoice]) -> (Errors, i64) {
    let mut e = Errors::default();
    let required = |v: &str| if v.trim().is_empty() { Some(REQUIRED) } else { None };
    let too_long = |v: &str| (v.trim().chars().count() > MAX_FIELD).then_some("Must be at most 255 characters");
    e.admin_name = required(&form.admin_name).or_else(|| too_long(&form.admin_name));
    e.name = required(&form.name).or_else(|| too_long(&form.name));
    e.phone = required(&form.phone).or_else(|| too_long(&form.phone));
    e.admin_email = required(&form.admin_email).or_else(|| {
        // The same check Kaltura applies, so what passes here is not refused there.
        (!is_kaltura_email(form.admin_email.trim())).then_some(INVALID_EMAIL)
    });
    e.website = too_long(&form.website);
    e.reference_id = too_long(&form.reference_id);
    let template = form.template_id.trim().parse::<i64>().unwrap_or(-1);
    if !templates.iter().any(|t| t.id == template) {
        e.template_id = Some("Choose a template account from the list");
    }
    (e, template.max(0))
}

fn optional(v: &str) -> Option<String> {
    Some(v.trim().to_string()).filter(|s| !s.is_empty())
}

fn created_message(c: &Creation) -> String {
    format!(
        "Account {} ({}) was created. Kaltura sends its administrator {} the sign-in details.",
        c.name,
        c.partner_id.unwrap_or_default(),
        c.admin_email
    )
}

fn failed_message(c: &Creation) -> String {
    format!("Account {} was not created: {}", c.name, c.message)
}

/// The message of a settled creation.
fn outcome_flash(c: &Creation) -> Flash {
    if c.state == creations::CREATED { Flash::ok(created_message(c)) } else { Flash::error(failed_message(c)) }
}

async fn audit_creation(state: &AppState, c: &Creation, result: Outcome, details: &str) -> Result<(), sqlx::Error> {
    let target = c.partner_id.map(|p| p.to_string()).unwrap_or_else(|| c.admin_email.clone());
    audit::record(
        &state.db,
        Entry { actor: &c.actor, ip: &c.ip, action: "account.create", target: &target, result, details },
    )
    .await
}

/// A settled creation as the answer to the request that made it (or to the dialog polling for it).
async fn answer_settled(state: &AppState, session: &Session, htmx: bool, c: &Creation) -> Result<Response, AppError> {
    let shown_here = creations::claim_report(&state.db, c.id).await?;
    let mut flash = outcome_flash(c);
    if !shown_here {
        // The same request again (a second submission, a reload): say so, rather than announce it anew.
        flash.message = format!("This request was sent before. {}", flash.message);
    }
    if !htmx {
        if shown_here {
            auth::set_flash(session, flash).await?;
        }
        return Ok(Redirect::to("/accounts").into_response());
    }
    let mut res = render(&Done { f: flash })?.into_response();
    // The table and banner refresh themselves (the new account sorts to the top by creation date).
    res.headers_mut().insert("hx-trigger", HeaderValue::from_static("accounts-changed"));
    Ok(res)
}

async fn answer_pending(me: &CurrentUser, htmx: bool, c: Creation) -> Result<Response, AppError> {
    let elapsed = (unix_now() - c.started_at).max(0);
    let inner = StatusPartial { creation: c, elapsed };
    if htmx {
        return Ok((StatusCode::ACCEPTED, render(&inner)?).into_response());
    }
    Ok((StatusCode::ACCEPTED, render(&StatusPage { nav: Nav::for_user(me, "accounts"), body: inner.render()? })?)
        .into_response())
}

pub async fn create(
    State(state): State<AppState>,
    AdminUser(me): AdminUser,
    ClientIp(ip): ClientIp,
    Htmx(htmx): Htmx,
    session: Session,
    Form(form): Form<AddForm>,
) -> Result<Response, AppError> {
    let form = AddForm { request_key: form.request_key.trim().to_string(), ..form };
    if form.request_key.is_empty() || form.request_key.len() > 64 {
        return Err(AppError::BadRequest("The Add Account form is incomplete: open it again.".into()));
    }
    // A second submission of the same form never sends a second registration.
    if let Some(existing) = creations::by_key(&state.db, &form.request_key).await? {
        return match existing.state.as_str() {
            creations::CREATED | creations::FAILED => answer_settled(&state, &session, htmx, &existing).await,
            _ => answer_pending(&me, htmx, existing).await,
        };
    }
    // Reading the quota and recording the request happen one creation at a time, so requests racing for the last
    // place see each other's records and exactly as many go ahead as fit.
    let serial = CREATE_LOCK.lock().await;
    let (available, templates) = match quota_and_templates(&state).await {
        Ok(found) => found,
        Err(e) => {
            let errors = Errors { general: Some(format!("Can't check the account quota: {e}")), ..Errors::default() };
            return form_again(&me, htmx, form, errors, template_choices(&[]), 0);
        }
    };
    let (mut errors, template) = validate(&form, &templates);
    let in_flight = creations::count_in_flight(&state.db).await?;
    if available - in_flight < 1 {
        errors.general = Some(no_quota_message(in_flight));
    }
    if errors.any() {
        return form_again(&me, htmx, form, errors, templates, template);
    }
    let (admin_name, name, email, phone) =
        (field(&form.admin_name), field(&form.name), field(&form.admin_email), field(&form.phone));
    let (website, reference_id) = (optional(&form.website), optional(&form.reference_id));
    let recorded = creations::record(
        &state.db,
        &NewCreation {
            request_key: &form.request_key,
            user_id: me.id,
            actor: &me.email,
            ip: &ip,
            admin_name: &admin_name,
            name: &name,
            admin_email: &email,
            phone: &phone,
            website: website.as_deref(),
            reference_id: reference_id.as_deref(),
            template_id: template,
        },
        unix_now(),
    )
    .await?;
    let id = match recorded {
        Recorded::New(id) => id,
        Recorded::Duplicate(existing) => return answer_pending(&me, htmx, *existing).await,
        Recorded::EmailInFlight => {
            let errors = Errors {
                admin_email: Some("An account with this administrator email is being created already"),
                ..Errors::default()
            };
            return form_again(&me, htmx, form, errors, templates, template);
        }
    };
    drop(serial);
    let account = NewAccount { admin_name, name, admin_email: email, phone, website, reference_id };
    let result = state.kaltura.register(&account, Some(template)).await;
    let now = unix_now();
    match result {
        Ok(partner) => {
            creations::settle(&state.db, id, creations::CREATED, Some(partner.id), "", now).await?;
            let c = creations::get(&state.db, id).await?.ok_or(AppError::NotFound)?;
            audit_creation(&state, &c, Outcome::Ok, &format!("{} for {}", c.name, c.admin_email)).await?;
            answer_settled(&state, &session, htmx, &c).await
        }
        Err(e @ KalturaError::Api { .. }) => {
            let message = match &e {
                KalturaError::Api { message, .. } => message.clone(),
                _ => e.to_string(),
            };
            creations::settle(&state.db, id, creations::FAILED, None, &message, now).await?;
            // Kaltura's answer settles it; the form shows it, so it needs no later report.
            creations::claim_report(&state.db, id).await?;
            let c = creations::get(&state.db, id).await?.ok_or(AppError::NotFound)?;
            audit_creation(&state, &c, Outcome::Refused, &message).await?;
            let mut errors = Errors::default();
            if e.is_duplicate_email() {
                errors.admin_email = Some(DUPLICATE_EMAIL);
            } else {
                errors.general = Some(format!("Kaltura did not create the account: {message}"));
            }
            // A fresh key: correcting the form is a new request.
            let form = AddForm { request_key: new_request_key(), ..form };
            form_again(&me, htmx, form, errors, templates, template)
        }
        Err(e) => {
            // No answer: the account may or may not exist. Never resend; find out.
            tracing::warn!(error = %e, creation = id, "partner.register got no answer; reconciling");
            creations::mark_unknown(&state.db, id, &e.to_string()).await?;
            let c = creations::get(&state.db, id).await?.ok_or(AppError::NotFound)?;
            audit_creation(&state, &c, Outcome::Refused, &format!("no answer from Kaltura ({e}); checking")).await?;
            let st = state.clone();
            tokio::spawn(async move { reconcile_one(&st, &c).await });
            let c = creations::get(&state.db, id).await?.ok_or(AppError::NotFound)?;
            match c.state.as_str() {
                creations::CREATED | creations::FAILED => answer_settled(&state, &session, htmx, &c).await,
                _ => answer_pending(&me, htmx, c).await,
            }
        }
    }
}

fn form_again(
    me: &CurrentUser,
    htmx: bool,
    form: AddForm,
    errors: Errors,
    templates: Vec<TemplateChoice>,
    selected_template: i64,
) -> Result<Response, AppError> {
    let inner = FormPartial { form, errors, templates, selected_template };
    let body = if htmx {
        render(&inner)?
    } else {
        render(&FormPage { nav: Nav::for_user(me, "accounts"), body: inner.render()? })?
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, body).into_response())
}

/// The dialog (or the page without JavaScript) asks here until the creation is settled.
pub async fn status(
    State(state): State<AppState>,
    AdminUser(me): AdminUser,
    Htmx(htmx): Htmx,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let c = creations::get(&state.db, id).await?.filter(|c| c.user_id == me.id).ok_or(AppError::NotFound)?;
    match c.state.as_str() {
        creations::CREATED | creations::FAILED => answer_settled(&state, &session, htmx, &c).await,
        _ => answer_pending(&me, htmx, c).await,
    }
}

/// Settled creations the user has not been told about (the console restarted, or they left the page): shown once.
pub async fn unreported_flash(state: &AppState, me: &CurrentUser) -> Result<Option<Flash>, AppError> {
    let mut messages = Vec::new();
    let mut all_ok = true;
    for c in creations::unreported_for(&state.db, me.id).await? {
        if creations::claim_report(&state.db, c.id).await? {
            all_ok &= c.state == creations::CREATED;
            messages.push(outcome_flash(&c).message);
        }
    }
    Ok((!messages.is_empty()).then(|| Flash { ok: all_ok, message: messages.join(" ") }))
}

/// Looks for the account of an unresolved creation among the parent's children, by its administrator email.
async fn find_created(state: &AppState, c: &Creation) -> Result<Option<Partner>, KalturaError> {
    let filter = PartnerFilter {
        // Kaltura has no adminEmailEqual: the free-text filter narrows, the exact comparison decides.
        partner_name_description_website_admin_name_admin_email_like: Some(c.admin_email.clone()),
        // Clocks differ between here and Kaltura: a day of margin.
        created_at_greater_than_or_equal: Some(c.started_at - 86_400),
        status_in: Some(vec![PartnerStatus::Active, PartnerStatus::Blocked, PartnerStatus::Removed]),
        order_by: Some("-createdAt".into()),
        ..PartnerFilter::default()
    };
    let list = state.kaltura.list_partners(&filter, &Pager::new(100, 1)).await?;
    Ok(list
        .objects
        .into_iter()
        .find(|p| p.admin_email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(&c.admin_email))))
}

/// One look for one creation; settles it when the answer is known.
async fn reconcile_one(state: &AppState, c: &Creation) {
    let now = unix_now();
    let outcome = match find_created(state, c).await {
        Ok(Some(partner)) => Some((creations::CREATED, Some(partner.id), String::new())),
        Ok(None) if now - c.started_at > GIVE_UP_AFTER_SECS => {
            Some((creations::FAILED, None, "Kaltura did not create it. You can add it again.".to_string()))
        }
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, creation = c.id, "cannot check an account creation yet");
            None
        }
    };
    let Some((state_name, partner_id, message)) = outcome else { return };
    match creations::settle(&state.db, c.id, state_name, partner_id, &message, now).await {
        Ok(true) => {
            let (result, details) = match partner_id {
                Some(id) => {
                    (Outcome::Ok, format!("{} for {}: found as partner {id} after no answer", c.name, c.admin_email))
                }
                None => (Outcome::Refused, format!("{} for {}: not created", c.name, c.admin_email)),
            };
            let settled = Creation { partner_id, ..c.clone() };
            if let Err(e) = audit_creation(state, &settled, result, &details).await {
                tracing::error!(error = %e, "cannot write the audit log");
            }
        }
        Ok(false) => {}
        Err(e) => tracing::error!(error = %e, creation = c.id, "cannot record an account creation's outcome"),
    }
}

/// Runs for the life of the server: requests orphaned by a restart are taken up, and every unresolved one is
/// looked for until it is settled.
pub fn spawn_reconciler(state: AppState) {
    tokio::spawn(async move {
        match creations::orphaned_to_unknown(&state.db).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "account creations interrupted by a restart: checking them"),
            Err(e) => tracing::error!(error = %e, "cannot read interrupted account creations"),
        }
        loop {
            match creations::unresolved(&state.db).await {
                Ok(list) => {
                    for c in list {
                        reconcile_one(&state, &c).await;
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot read unresolved account creations"),
            }
            tokio::time::sleep(RECONCILE_EVERY).await;
        }
    });
}
