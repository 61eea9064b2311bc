//! Add Account: the form (a dialog under htmx, a page without JavaScript), and where a submitted request stands.
//! The rules (validation, quota, recording, reconciliation) are the accounts service's.

use crate::web::parent::CurrentParent;
use crate::web::parent_base;
use crate::web::session::Session;
use askama::Template;
use axum::Form;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::super::auth::{AdminUser, CurrentUser};
use super::super::htmx::{HxRequest, HxResponseTrigger};
use super::super::{AppError, ClientIp, Flash, Nav, Section, render};
use super::Actor;
use crate::accounts::{
    AccountForm, CreateError, CreateOutcome, Creation, FieldErrors, TemplateChoice, outcome_message,
};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct AddForm {
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

impl From<AddForm> for AccountForm {
    fn from(f: AddForm) -> AccountForm {
        AccountForm {
            request_key: f.request_key,
            admin_name: f.admin_name,
            name: f.name,
            admin_email: f.admin_email,
            phone: f.phone,
            website: f.website,
            template_id: f.template_id,
            reference_id: f.reference_id,
        }
    }
}

#[derive(Template)]
#[template(path = "partials/add_account_form.html")]
struct FormPartial {
    /// Rendered into a page of its own (no JavaScript) rather than a dialog.
    page: bool,
    form: AccountForm,
    errors: FieldErrors,
    templates: Vec<TemplateChoice>,
    selected_template: i64,
    /// No account can be added now (the quota is used up or unknown): the form says why and offers no Create.
    blocked: bool,
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
    page: bool,
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

pub(crate) async fn new_form(
    parent: CurrentParent,
    AdminUser(me): AdminUser,
    HxRequest(htmx): HxRequest,
) -> Result<Response, AppError> {
    let new = parent.accounts.new_form().await?;
    let form = AccountForm { request_key: new.request_key, ..AccountForm::default() };
    let blocked = new.blocked.is_some();
    let errors = FieldErrors { general: new.blocked, ..FieldErrors::default() };
    let inner = FormPartial { page: !htmx, form, errors, templates: new.templates, selected_template: 0, blocked };
    if htmx {
        return Ok(render(&inner)?.into_response());
    }
    Ok(render(&FormPage { nav: parent.nav(&me, Section::Accounts), body: inner.render()? })?.into_response())
}

pub(crate) async fn create(
    parent: CurrentParent,
    AdminUser(me): AdminUser,
    ClientIp(ip): ClientIp,
    HxRequest(htmx): HxRequest,
    session: Session,
    Form(form): Form<AddForm>,
) -> Result<Response, AppError> {
    match parent.accounts.create(Actor::of(&me, &ip), form.into()).await {
        Ok(outcome) => answer(&parent, &me, &session, htmx, outcome).await,
        Err(e @ CreateError::Incomplete) => Err(AppError::BadRequest(e.to_string())),
        Err(CreateError::Database(e)) => Err(e.into()),
    }
}

/// The dialog (or the page without JavaScript) asks here until the creation is settled.
pub(crate) async fn status(
    parent: CurrentParent,
    AdminUser(me): AdminUser,
    HxRequest(htmx): HxRequest,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let outcome = parent.accounts.creation_of(me.id, id).await?.ok_or(AppError::NotFound)?;
    answer(&parent, &me, &session, htmx, outcome).await
}

async fn answer(
    parent: &CurrentParent,
    me: &CurrentUser,
    session: &Session,
    htmx: bool,
    outcome: CreateOutcome,
) -> Result<Response, AppError> {
    match outcome {
        CreateOutcome::Settled { creation, first_report } => settled(session, htmx, &creation, first_report).await,
        CreateOutcome::Pending(creation) => pending(parent, me, htmx, *creation, parent.accounts.now()),
        CreateOutcome::Invalid(r) => {
            let inner = FormPartial {
                page: !htmx,
                form: r.form,
                errors: r.errors,
                templates: r.templates,
                selected_template: r.template,
                blocked: false,
            };
            let body = if htmx {
                render(&inner)?
            } else {
                render(&FormPage { nav: parent.nav(me, Section::Accounts), body: inner.render()? })?
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, body).into_response())
        }
    }
}

/// A settled creation as the answer to the request that made it (or to the dialog polling for it).
async fn settled(session: &Session, htmx: bool, c: &Creation, first_report: bool) -> Result<Response, AppError> {
    let (ok, mut message) = outcome_message(c);
    if !first_report {
        // The same request again (a second submission, a reload): say so, rather than announce it anew.
        message = format!("This request was sent before. {message}");
    }
    let flash = Flash { ok, message };
    if !htmx {
        if first_report {
            session.set_flash(flash).await?;
        }
        return Ok(Redirect::to(&format!("{}/accounts", parent_base())).into_response());
    }
    // The table and banner refresh themselves (the new account sorts to the top by creation date).
    Ok((HxResponseTrigger::normal(["accounts-changed"]), render(&Done { f: flash })?).into_response())
}

fn pending(parent: &CurrentParent, me: &CurrentUser, htmx: bool, c: Creation, now: i64) -> Result<Response, AppError> {
    let elapsed = (now - c.started_at).max(0);
    let inner = StatusPartial { page: !htmx, creation: c, elapsed };
    if htmx {
        return Ok((StatusCode::ACCEPTED, render(&inner)?).into_response());
    }
    let page = StatusPage { nav: parent.nav(me, Section::Accounts), body: inner.render()? };
    Ok((StatusCode::ACCEPTED, render(&page)?).into_response())
}
