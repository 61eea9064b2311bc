//! `/accounts/{id}`: one account's details, reached from its name in the table: what Kaltura holds about it, its
//! active administrators (each with a Rich Media CMS Login as that user), its recent audit entries, and the actions
//! its row offers (the same rules). A removed account is read only; an id outside the parent's scope is refused
//! without showing anything about it. Under htmx, the "Account Info" card alone can be asked for (Cancel in the
//! edit form).

use crate::web::parent::CurrentParent;
use crate::web::parent_base;
use crate::web::session::Session;
use askama::Template;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kaltura::{KalturaError, Partner, PartnerStatus};

use super::rows::{Row, or_na};
use super::{AdminUser, AppError, Flash, Nav, Section, render};
use crate::accounts::rules::RowAction;
use crate::accounts::{ActionError, Admins};
use crate::usage::{Metric, Preset};
use crate::web::auth;
use crate::web::error::Loading;
use crate::web::format::{count, kmc_time, size};
use crate::web::htmx::wants_fragment;
use kaltura::FEATURE_MULTI_ACCOUNT_ANALYTICS;

/// A label and its value, `N/A` when Kaltura has none.
pub(crate) struct Field {
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

/// One administrator of the account.
struct Admin {
    id: String,
    name: String,
    email: String,
    roles: String,
    last_login: String,
    owner: bool,
}

/// The "Account Info" card.
#[derive(Template)]
#[template(path = "partials/account_info.html")]
pub(crate) struct InfoCard {
    pub(crate) row: Row,
    pub(crate) fields: Vec<Field>,
    pub(crate) can_edit: bool,
    /// Why the account cannot be edited (the parent, a blocked or removed account).
    pub(crate) edit_refusal: Option<String>,
    pub(crate) flash: Option<Flash>,
    /// Also replaces the page's title (the name may have changed).
    pub(crate) title_oob: bool,
}

impl InfoCard {
    pub(crate) fn new(p: &Partner, parent_id: i64) -> InfoCard {
        let row = Row::new(p, parent_id);
        let is_parent = row.is_parent;
        let edit_refusal = RowAction::Edit.refusal(p.status, is_parent);
        InfoCard {
            fields: fields(p, &row),
            can_edit: edit_refusal.is_none(),
            edit_refusal,
            row,
            flash: None,
            title_oob: false,
        }
    }
}

#[derive(Template)]
#[template(path = "account_details.html")]
struct DetailsPage {
    nav: Nav,
    row: Row,
    fields: Vec<Field>,
    can_edit: bool,
    edit_refusal: Option<String>,
    flash: Option<Flash>,
    title_oob: bool,
    admins: Result<Vec<Admin>, String>,
    /// The last 30 days' main figures, or why there are none.
    usage: Result<Vec<(&'static str, String)>, String>,
    usage_href: String,
    /// Administrators Kaltura has beyond the listed page.
    admins_more: i64,
    /// Why the account owner's name is not the Administrator field's, when it is not.
    owner_differs: Option<String>,
    recent: Vec<Entry>,
    /// Why nothing can be done to it, when nothing can.
    read_only: Option<&'static str>,
    /// Where the Rich Media CMS signs people in: the parent's is opened there with one's own login.
    kmc_url: String,
}

#[derive(Template)]
#[template(path = "account_refused.html")]
pub(crate) struct RefusedPage {
    pub(crate) nav: Nav,
    pub(crate) message: String,
}

fn number(value: Option<i64>) -> String {
    value.filter(|v| *v > 0).map_or_else(|| super::rows::NA.to_owned(), |v| v.to_string())
}

fn fields(p: &Partner, row: &Row) -> Vec<Field> {
    let plain = |label, value: String| Field { label, value, link: None };
    vec![
        plain("Partner ID", p.id.to_string()),
        plain("Status", row.status_label.to_owned()),
        plain("Administrator", row.admin_name.clone()),
        plain("Administrator Email", row.admin_email.clone()),
        plain("Administrator Phone", row.phone.clone()),
        plain("Website URL", row.website.clone()),
        plain("Description", or_na(&p.description)),
        plain("Reference ID", row.reference_id.clone()),
        plain("Country", or_na(&p.country)),
        plain("State", or_na(&p.state)),
        plain("Creation Date (UTC)", row.created.clone()),
        plain("Template Partner ID", number(p.template_partner_id)),
        match p.partner_parent_id.filter(|id| *id > 0 && !row.is_parent) {
            Some(parent) => Field {
                label: "Parent Account",
                value: parent.to_string(),
                link: Some(format!("{}/accounts/{parent}", parent_base())),
            },
            None => plain("Parent Account", "This is the parent account".into()),
        },
    ]
}

/// The refusal page for an id outside the parent's scope.
pub(crate) fn refused(parent: &CurrentParent, me: &auth::CurrentUser, message: String) -> Result<Response, AppError> {
    let page = RefusedPage { nav: parent.nav(me, Section::Accounts), message };
    Ok((StatusCode::NOT_FOUND, render(&page)?).into_response())
}

fn admins(found: Result<Admins, KalturaError>, status: Option<PartnerStatus>) -> (Result<Vec<Admin>, String>, i64) {
    match found {
        Ok(a) => {
            let more = (a.total - a.users.len() as i64).max(0);
            let list = a
                .users
                .into_iter()
                .map(|u| Admin {
                    name: u.display_name(),
                    email: or_na(&u.email),
                    roles: or_na(&u.role_names.map(|r| r.split(',').map(str::trim).collect::<Vec<_>>().join(", "))),
                    last_login: u.last_login_time.filter(|t| *t > 0).map_or_else(|| "Never".to_owned(), kmc_time),
                    owner: u.is_account_owner == Some(true),
                    id: u.id.unwrap_or_default(),
                })
                .collect();
            (Ok(list), more)
        }
        Err(e) if e.is_partner_blocked() => {
            let state = status.map_or("blocked", |s| s.label()).to_lowercase();
            (Err(format!("Kaltura does not list the users of an account that is {state}.")), 0)
        }
        Err(e) => (Err(format!("Kaltura did not list this account's administrators: {e}")), 0),
    }
}

pub(crate) async fn show(
    parent: CurrentParent,
    AdminUser(me): AdminUser,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    if wants_fragment(&headers, "account-info") {
        return info_card(&parent, &me, id).await;
    }
    // The account and its last 30 days of usage, asked for side by side.
    let period = Preset::Last30Days.period(parent.usage.today());
    let (details, usage) = tokio::join!(parent.accounts.details(id), parent.usage.totals(id, &period));
    let details = match details {
        Ok(details) => details,
        Err(e @ ActionError::NotYours(_)) => return refused(&parent, &me, e.to_string()),
        Err(ActionError::Kaltura(e)) => return Err(AppError::kaltura(Loading::Account)(e)),
        Err(ActionError::Database(e)) => return Err(e.into()),
        Err(ActionError::NotAllowed(why)) => return Err(AppError::BadRequest(why)),
    };
    let p = &details.partner;
    let mut card = InfoCard::new(p, parent.accounts.parent_id());
    card.row.is_template = details.is_template;
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
        _ if card.row.is_parent => Some(crate::accounts::rules::PARENT_KMC),
        _ if card.row.has_actions() => None,
        Some(PartnerStatus::Removed) => Some("This account is removed: its details are read only."),
        _ => Some("No actions are available for this account in its present status."),
    };
    let (admins, admins_more) = admins(details.admins, p.status);
    let owner_differs = admins.as_ref().ok().and_then(|list| list.iter().find(|a| a.owner)).and_then(|owner| {
        (owner.name != card.row.admin_name).then(|| {
            format!(
                "The account owner, {}, is the user who signs in to the account as its owner; the Administrator \
                 field ({}) is the account's contact in its Kaltura record. Editing one does not change the other.",
                owner.name, card.row.admin_name
            )
        })
    });
    let usage = match usage {
        Ok(Some(totals)) => Ok([Metric::Plays, Metric::PlayerLoads, Metric::Bandwidth, Metric::AverageStorage]
            .map(|m| {
                (
                    m.label(),
                    if m.is_size() { size(totals.get(m).unwrap_or(0.0)) } else { count(totals.get(m).unwrap_or(0.0)) },
                )
            })
            .to_vec()),
        Ok(None) => Err(format!(
            "Usage figures need {FEATURE_MULTI_ACCOUNT_ANALYTICS}, which Kaltura has not enabled for the parent account."
        )),
        Err(e) => Err(format!("Kaltura did not give this account's usage: {e}")),
    };
    let mut nav = parent.nav(&me, Section::Accounts);
    nav.flash = session.take_flash().await?;
    let page = DetailsPage {
        nav,
        row: card.row,
        fields: card.fields,
        can_edit: card.can_edit,
        edit_refusal: card.edit_refusal,
        flash: None,
        title_oob: false,
        admins,
        usage,
        usage_href: format!("{}/usage/{id}", parent_base()),
        admins_more,
        owner_differs,
        recent,
        read_only,
        kmc_url: parent.kmc_url.to_string(),
    };
    Ok(render(&page)?.into_response())
}

/// The "Account Info" card alone, for htmx.
async fn info_card(parent: &CurrentParent, me: &auth::CurrentUser, id: i64) -> Result<Response, AppError> {
    match parent.accounts.partner(id).await {
        Ok(p) => Ok(render(&InfoCard::new(&p, parent.accounts.parent_id()))?.into_response()),
        Err(e @ ActionError::NotYours(_)) => refused(parent, me, e.to_string()),
        Err(ActionError::Kaltura(e)) => Err(AppError::kaltura(Loading::Account)(e)),
        Err(ActionError::Database(e)) => Err(e.into()),
        Err(ActionError::NotAllowed(why)) => Err(AppError::BadRequest(why)),
    }
}
