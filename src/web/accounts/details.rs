//! `/accounts/{id}`: one account's details, reached from its name in the table: what Kaltura holds about it, its
//! recent audit entries, and the actions its row offers (the same rules). A removed account is read only; an id
//! outside the parent's scope is refused without showing anything about it.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kaltura::PartnerStatus;

use super::rows::{Row, or_na};
use super::{AdminUser, AppError, AppState, Nav, Section, render};
use crate::accounts::ActionError;
use crate::web::format::kmc_time;

/// A label and its value, `N/A` when Kaltura has none.
struct Field {
    label: &'static str,
    value: String,
    /// Where the value leads (the parent's own details).
    link: Option<String>,
}

struct Entry {
    when: String,
    actor: String,
    action: String,
    ok: bool,
    details: String,
}

#[derive(Template)]
#[template(path = "account_details.html")]
struct DetailsPage {
    nav: Nav,
    row: Row,
    fields: Vec<Field>,
    recent: Vec<Entry>,
    /// Why nothing can be done to it, when nothing can.
    read_only: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "account_refused.html")]
struct RefusedPage {
    nav: Nav,
    message: String,
}

fn number(value: Option<i64>) -> String {
    value.filter(|v| *v > 0).map_or_else(|| super::rows::NA.to_owned(), |v| v.to_string())
}

pub(crate) async fn show(
    State(state): State<AppState>,
    AdminUser(me): AdminUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let details = match state.accounts.details(id).await {
        Ok(details) => details,
        Err(e @ ActionError::NotYours(_)) => {
            let page = RefusedPage { nav: Nav::for_user(&me, Section::Accounts), message: e.to_string() };
            return Ok((StatusCode::NOT_FOUND, render(&page)?).into_response());
        }
        Err(ActionError::Kaltura(e)) => return Err(e.into()),
        Err(ActionError::Database(e)) => return Err(e.into()),
        Err(ActionError::NotAllowed(why)) => return Err(AppError::BadRequest(why)),
    };
    let p = &details.partner;
    let row = Row::new(p, state.accounts.parent_id());
    let fields = vec![
        Field { label: "Partner ID", value: p.id.to_string(), link: None },
        Field { label: "Status", value: row.status_label.to_owned(), link: None },
        Field { label: "Administrator", value: row.admin_name.clone(), link: None },
        Field { label: "Administrator Email", value: row.admin_email.clone(), link: None },
        Field { label: "Administrator Phone", value: row.phone.clone(), link: None },
        Field { label: "Website URL", value: row.website.clone(), link: None },
        Field { label: "Description", value: or_na(&p.description), link: None },
        Field { label: "Reference ID", value: row.reference_id.clone(), link: None },
        Field { label: "Country", value: or_na(&p.country), link: None },
        Field { label: "State", value: or_na(&p.state), link: None },
        Field { label: "Creation Date", value: row.created.clone(), link: None },
        Field { label: "Template Partner ID", value: number(p.template_partner_id), link: None },
        match p.partner_parent_id.filter(|id| *id > 0 && !details.is_parent) {
            Some(parent) => {
                Field { label: "Parent Account", value: parent.to_string(), link: Some(format!("/accounts/{parent}")) }
            }
            None => Field { label: "Parent Account", value: "This is the parent account".into(), link: None },
        },
    ];
    let recent = details
        .recent
        .into_iter()
        .map(|l| Entry {
            when: kmc_time(l.at),
            ok: l.is_ok(),
            action: crate::db::audit::AuditAction::from_code(&l.action).map_or(l.action.clone(), |a| a.label().into()),
            actor: l.actor,
            details: l.details,
        })
        .collect();
    let read_only = match p.status {
        _ if row.has_actions() => None,
        Some(PartnerStatus::Removed) => Some("This account is removed: its details are read only."),
        _ => Some("No actions are available for this account in its present status."),
    };
    Ok(render(&DetailsPage { nav: Nav::for_user(&me, Section::Accounts), row, fields, recent, read_only })?
        .into_response())
}
