//! `/accounts/{id}/edit`: a child's details, edited in place under htmx (the "Account Info" card becomes the form
//! and, once saved, the card again) or as a page of its own without JavaScript. The form carries the values it was
//! opened with, so the service can tell a change made in Kaltura meanwhile and hand both values back.

use crate::web::parent::CurrentParent;
use crate::web::parent_base;
use crate::web::session::Session;
use askama::Template;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kaltura::{Partner, PartnerField};
use std::collections::{BTreeMap, BTreeSet};

use super::details::{InfoCard, refused};
use super::{AdminUser, AppError, ClientIp, Flash, Nav, Section, render};
use crate::accounts::{ActionError, Actor, Conflict, Edit, EditErrors, EditOutcome, Values, input_name, label};
use crate::web::auth::CurrentUser;
use crate::web::error::Loading;
use crate::web::htmx::{HxRedirect, is_htmx, to_flash};

struct FormField {
    name: &'static str,
    label: &'static str,
    value: String,
    loaded: String,
    error: Option<String>,
    /// The value Kaltura has now, when it changed since the form was opened and the user changed it too.
    theirs: Option<String>,
    required: bool,
    multiline: bool,
    hint: &'static str,
    max: usize,
}

#[derive(Template)]
#[template(path = "partials/account_edit_form.html")]
struct EditCard {
    id: i64,
    fields: Vec<FormField>,
    general: Option<String>,
    conflicts: Vec<Conflict>,
    /// During a conflict, the name Kaltura has now, for the page's heading (swapped out of band).
    name_oob: Option<String>,
}

#[derive(Template)]
#[template(path = "account_edit.html")]
struct EditPage {
    nav: Nav,
    id: i64,
    name: String,
    fields: Vec<FormField>,
    general: Option<String>,
    conflicts: Vec<Conflict>,
    /// The page's own heading holds the name: nothing to swap.
    name_oob: Option<String>,
}

/// The form: the user's values over those it was opened with, with messages and conflicts.
fn form_fields(mine: &Values, loaded: &Values, errors: &EditErrors, conflicts: &[Conflict]) -> Vec<FormField> {
    crate::accounts::FORM_ORDER
        .into_iter()
        .map(|f| FormField {
            name: input_name(f),
            label: label(f),
            value: mine.get(f).to_string(),
            loaded: loaded.get(f).to_string(),
            error: errors.get(&f).cloned(),
            theirs: conflicts.iter().find(|c| c.field == f).map(|c| c.theirs.clone()),
            required: matches!(f, PartnerField::Name | PartnerField::AdminName | PartnerField::AdminEmail),
            multiline: f == PartnerField::Description,
            hint: match f {
                PartnerField::AdminEmail => "email",
                PartnerField::Phone => "tel",
                PartnerField::Website => "url",
                _ => "",
            },
            max: crate::accounts::max_len(f),
        })
        .collect()
}

/// The form as a card (htmx) or a page (without JavaScript).
struct Shown<'a> {
    parent: &'a CurrentParent,
    me: &'a CurrentUser,
    htmx: bool,
    id: i64,
    name: String,
    /// The name is Kaltura's as it is now (a conflict): the details page's heading takes it too.
    fresh_name: bool,
}

impl Shown<'_> {
    fn render(
        self,
        status: StatusCode,
        fields: Vec<FormField>,
        general: Option<String>,
        conflicts: Vec<Conflict>,
    ) -> Result<Response, AppError> {
        let (id, name) = (self.id, self.name);
        let html = if self.htmx {
            let name_oob = self.fresh_name.then_some(name);
            render(&EditCard { id, fields, general, conflicts, name_oob })?
        } else {
            let nav = self.parent.nav(self.me, Section::Accounts);
            render(&EditPage { nav, id, name, fields, general, conflicts, name_oob: None })?
        };
        Ok((status, html).into_response())
    }
}

fn shown_name(p: &Partner) -> String {
    p.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| p.id.to_string())
}

#[derive(Template)]
#[template(path = "partials/flash.html")]
struct FlashMessage {
    f: Flash,
}

/// Why the account cannot be edited: a page, or under htmx a message in the flash area (the card stays).
fn refusal(parent: &CurrentParent, me: &CurrentUser, htmx: bool, e: ActionError) -> Result<Response, AppError> {
    match e {
        e @ ActionError::NotYours(_) => refused(parent, me, e.to_string()),
        ActionError::NotAllowed(why) if htmx => {
            let message = render(&FlashMessage { f: Flash::error(why) })?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, to_flash(), message).into_response())
        }
        ActionError::NotAllowed(why) => Err(AppError::BadRequest(why)),
        ActionError::Kaltura(e) => Err(AppError::kaltura(Loading::Account)(e)),
        ActionError::Database(e) => Err(e.into()),
    }
}

pub(crate) async fn form(
    parent: CurrentParent,
    AdminUser(me): AdminUser,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let htmx = is_htmx(&headers);
    let partner = match parent.accounts.for_edit(id).await {
        Ok(p) => p,
        Err(e) => return refusal(&parent, &me, htmx, e),
    };
    let values = Values::of(&partner);
    let fields = form_fields(&values, &values, &EditErrors::new(), &[]);
    Shown { parent: &parent, me: &me, htmx, id, name: shown_name(&partner), fresh_name: false }.render(
        StatusCode::OK,
        fields,
        None,
        Vec::new(),
    )
}

/// Reads the posted form: each field, the value it was opened with (`was_…`) and a conflict's choice (`keep_…`);
/// and the conflicts shown (`theirs_…`, Kaltura's value) that were sent back without a choice.
fn read_edit(body: &[u8]) -> (Edit, Vec<Conflict>) {
    let pairs: BTreeMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    let get = |prefix: &'static str| {
        let pairs = &pairs;
        move |name: &str| pairs.get(&format!("{prefix}{name}")).cloned()
    };
    let keep = |f: PartnerField| pairs.get(&format!("keep_{}", input_name(f)));
    let take_theirs: BTreeSet<PartnerField> =
        PartnerField::ALL.into_iter().filter(|f| keep(*f).is_some_and(|v| v == "theirs")).collect();
    let edit = Edit { loaded: Values::read(get("was_")), mine: Values::read(get("")), take_theirs };
    let unchosen = crate::accounts::FORM_ORDER
        .into_iter()
        .filter(|f| keep(*f).is_none_or(|v| v != "mine" && v != "theirs"))
        .filter_map(|field| {
            let theirs = pairs.get(&format!("theirs_{}", input_name(field)))?.clone();
            Some(Conflict { field, mine: edit.mine.get(field).to_string(), theirs })
        })
        .collect();
    (edit, unchosen)
}

pub(crate) async fn save(
    parent: CurrentParent,
    AdminUser(me): AdminUser,
    ClientIp(ip): ClientIp,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let htmx = is_htmx(&headers);
    let (edit, unchosen) = read_edit(&body);
    let (mine, loaded) = (edit.mine.clone(), edit.loaded.clone());
    let shown = |name: String| Shown { parent: &parent, me: &me, htmx, id, name, fresh_name: false };
    let fallback_name =
        || Some(mine.get(PartnerField::Name).to_string()).filter(|n| !n.is_empty()).unwrap_or_else(|| id.to_string());
    // A conflict sent back without a choice: nothing is sent to Kaltura until each one has its answer.
    if !unchosen.is_empty() {
        let labels: Vec<&str> = unchosen.iter().map(|c| label(c.field)).collect();
        let general = Some(format!("Choose which value to keep for {}, then save again.", labels.join(", ")));
        let fields = form_fields(&mine, &loaded, &EditErrors::new(), &unchosen);
        return shown(fallback_name()).render(StatusCode::UNPROCESSABLE_ENTITY, fields, general, unchosen);
    }
    let (partner, flash) = match parent.accounts.edit(Actor::of(&me, &ip), id, edit).await {
        Ok(EditOutcome::Saved { partner, changes, altered }) => {
            let names: Vec<&str> = changes.iter().map(|c| label(c.field)).collect();
            let mut message = format!("Saved: {}.", names.join(", "));
            if !altered.is_empty() {
                let altered: Vec<&str> = altered.iter().map(|f| label(*f)).collect();
                message.push_str(&format!(" Kaltura removed HTML tags from {}.", altered.join(", ")));
            }
            (partner, Flash::ok(message))
        }
        Ok(EditOutcome::Unchanged(partner)) => (partner, Flash::ok("Nothing was changed.")),
        Ok(EditOutcome::Invalid(errors)) => {
            let fields = form_fields(&mine, &loaded, &errors, &[]);
            return shown(fallback_name()).render(StatusCode::UNPROCESSABLE_ENTITY, fields, None, Vec::new());
        }
        Ok(EditOutcome::Conflicts { current, form, conflicts }) => {
            // The form's new base is what Kaltura has now; the user's changes stay in the inputs.
            let now = Values::of(&current);
            let fields = form_fields(&form, &now, &EditErrors::new(), &conflicts);
            let fresh = Shown { fresh_name: true, ..shown(shown_name(&current)) };
            return fresh.render(StatusCode::CONFLICT, fields, None, conflicts);
        }
        Err(ActionError::Kaltura(e)) => {
            // Nothing typed is lost: the form comes back with Kaltura's answer.
            let fields = form_fields(&mine, &loaded, &EditErrors::new(), &[]);
            let general = Some(format!("Kaltura did not save the changes: {e}"));
            return shown(fallback_name()).render(StatusCode::BAD_GATEWAY, fields, general, Vec::new());
        }
        Err(e) => return refusal(&parent, &me, htmx, e),
    };
    // Saved from the edit page of its own (a bookmark, a second tab) rather than the details' card: the details page
    // comes back whole, with the message.
    let standalone = headers
        .get("hx-current-url")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|url| url.split(['?', '#']).next().unwrap_or_default().ends_with("/edit"));
    if !htmx || standalone {
        session.set_flash(flash).await?;
        let to = format!("{}/accounts/{id}", parent_base());
        if htmx {
            return Ok((HxRedirect(to), StatusCode::NO_CONTENT).into_response());
        }
        return Ok(Redirect::to(&to).into_response());
    }
    let mut card = InfoCard::new(&partner, parent.accounts.parent_id());
    card.flash = Some(flash);
    card.title_oob = true;
    Ok(render(&card)?.into_response())
}
