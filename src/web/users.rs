//! Administration › Users: the console's users, their roles and status, within the parent's
//! `adminLoginUsersQuota`. Every action works as a plain form (redirect back with a message) and, under htmx, swaps
//! the users panel in place.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::auth::{AdminUser, CurrentUser};
use super::format::kmc_date;
use super::htmx::{HxRequest, HxReswap, HxRetarget, SwapOption};
use super::session::Session;
use super::{AppError, AppState, ClientIp, Flash, Nav, Section, render, step_up};
use crate::db::users::{Role, Status, User};
use crate::identity::{
    FieldErrors, NewUserInput, ParentAccess, ParentsOutcome, StepUp, UserChange, UserOutcome, users::MAX_NAME,
};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(show).post(add))
        .route("/users/new", get(new_form))
        .route("/users/{id}/role", post(change_role))
        .route("/users/{id}/reset-2fa", post(reset_two_factor))
        .route("/users/{id}/parents", post(set_parents))
        .route("/users/{id}/{action}", post(act))
        .route("/users/{id}/password", get(password_form).post(set_password))
}

/// Users in use against the parent's quota; `limit` is `None` when Kaltura could not be asked.
struct Quota {
    used: i64,
    limit: Option<i64>,
}

impl Quota {
    fn available(&self) -> Option<i64> {
        self.limit.map(|l| (l - self.used).max(0))
    }

    fn is_used_up(&self) -> bool {
        self.available() == Some(0)
    }
}

struct UserRow {
    id: i64,
    name: String,
    email: String,
    publisher_user_id: String,
    role: Role,
    status: Status,
    last_login: String,
    is_me: bool,
    /// They sign in with a second factor.
    two_factor: bool,
    /// The parents they may see: every one when `None`.
    parents: Option<Vec<i64>>,
}

impl UserRow {
    fn sees(&self, parent: &i64) -> bool {
        self.parents.as_ref().is_none_or(|ids| ids.contains(parent))
    }

    /// What the Parents cell says.
    fn parents_label(&self) -> String {
        match &self.parents {
            None => "Every parent".to_owned(),
            Some(ids) if ids.is_empty() => "No parent".to_owned(),
            Some(ids) => ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", "),
        }
    }

    fn new(u: User, me: &CurrentUser, two_factor: &[i64], limited: &[(i64, Vec<i64>)]) -> UserRow {
        UserRow {
            parents: limited.iter().find(|(id, _)| *id == u.id).map(|(_, ids)| ids.clone()),
            two_factor: two_factor.contains(&u.id),
            id: u.id,
            name: u.full_name(),
            last_login: u.last_login_at.map_or_else(|| "Never".to_owned(), |t| kmc_date(Some(t))),
            is_me: u.id == me.id,
            email: u.email,
            publisher_user_id: u.publisher_user_id,
            role: u.role,
            status: u.status,
        }
    }

    fn blocked(&self) -> bool {
        self.status == Status::Blocked
    }
}

#[derive(Template)]
#[template(path = "partials/users_panel.html")]
struct UsersPanel {
    users: Vec<UserRow>,
    /// With several parents, each one's id and title: who sees which is shown and changed here.
    parents: Vec<(i64, String)>,
    quota: Quota,
    roles: &'static [Role],
    add_form: Option<AddUserForm>,
    password_form: Option<PasswordForm>,
    /// Sent with htmx answers, swapped into the page's `#flash` out of band.
    oob_flash: Option<Flash>,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    nav: Nav,
    panel: UsersPanel,
}

#[derive(Template)]
#[template(path = "partials/user_form.html")]
struct AddUserForm {
    input: NewUserInput,
    errors: FieldErrors,
    roles: &'static [Role],
    /// The acting user's identity is not confirmed: adding a Publisher Administrator asks their password here.
    confirm: bool,
    /// They have a second factor: a code is asked with it.
    confirm_code: bool,
    confirm_error: Option<String>,
    /// A session made through this provider, not confirmed yet: the form says to confirm there first.
    provider: Option<String>,
}

/// The Add User form as posted: the new user, and the acting user's own password (and code) when adding a Publisher
/// Administrator needs them.
#[derive(Deserialize)]
struct AddInput {
    #[serde(flatten)]
    user: NewUserInput,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    code: String,
}

#[derive(Template)]
#[template(path = "partials/password_form.html")]
struct PasswordForm {
    id: i64,
    name: String,
    email: String,
    error: Option<String>,
    /// The acting user's own password is asked: always for their own, else while their identity is not confirmed
    /// (never in a session made through the provider, which confirms there).
    confirm: bool,
    /// They have a second factor: a code is asked with it.
    confirm_code: bool,
    /// It is their own password.
    own: bool,
    confirm_error: Option<String>,
    /// A session made through this provider, not confirmed yet: the form says to confirm there first.
    provider: Option<String>,
}

impl PasswordForm {
    fn new(state: &AppState, me: &CurrentUser, user: User, stepped_up: bool) -> PasswordForm {
        let own = user.id == me.id;
        PasswordForm {
            id: user.id,
            name: user.full_name(),
            email: user.email,
            error: None,
            confirm: (own || !stepped_up) && !me.through_provider,
            confirm_code: me.two_factor,
            own,
            confirm_error: None,
            provider: provider_to_confirm_with(state, me, stepped_up),
        }
    }
}

/// The provider's name when the acting user's session was made through it and is not confirmed yet.
fn provider_to_confirm_with(state: &AppState, me: &CurrentUser, stepped_up: bool) -> Option<String> {
    state.identity.sso().filter(|_| me.through_provider && !stepped_up).map(|s| s.name().to_owned())
}

impl AddUserForm {
    /// Whether the form's role option is the one chosen (Publisher Administrator when none is).
    fn is_selected(&self, role: &Role) -> bool {
        self.input.role == role.key() || (self.input.role.is_empty() && role.is_admin())
    }
}

async fn panel(state: &AppState, me: &CurrentUser) -> Result<UsersPanel, AppError> {
    let (all, two_factor) = state.identity.users().await?;
    let limited = state.identity.limited_to_parents().await?;
    let users: Vec<UserRow> = all.into_iter().map(|u| UserRow::new(u, me, &two_factor, &limited)).collect();
    let quota = Quota { used: users.len() as i64, limit: state.identity.users_quota().await };
    let parents = super::parent::choices(&state.parents);
    Ok(UsersPanel { users, parents, quota, roles: &Role::ALL, add_form: None, password_form: None, oob_flash: None })
}

fn page(me: &CurrentUser, panel: UsersPanel, flash: Option<Flash>) -> UsersPage {
    UsersPage { nav: Nav { flash, ..Nav::for_user(me, Section::Users) }, panel }
}

async fn show(State(state): State<AppState>, session: Session, AdminUser(me): AdminUser) -> Result<Response, AppError> {
    let flash = session.take_flash().await?;
    Ok(render(&page(&me, panel(&state, &me).await?, flash))?.into_response())
}

/// The form alone for htmx; without JavaScript, the users page with the form open.
async fn with_form(
    state: &AppState,
    me: &CurrentUser,
    htmx: bool,
    status: StatusCode,
    add_form: Option<AddUserForm>,
    password_form: Option<PasswordForm>,
) -> Result<Response, AppError> {
    if htmx {
        let (html, target) = match (add_form, password_form) {
            (Some(f), _) => (render(&f)?, "#user-form"),
            (None, Some(f)) => (render(&f)?, "#password-form"),
            (None, None) => return Err(AppError::NotFound),
        };
        // A first GET fills the empty slot; a form with errors replaces itself.
        if status != StatusCode::OK {
            return Ok((status, HxRetarget(target.into()), HxReswap(SwapOption::OuterHtml), html).into_response());
        }
        return Ok((status, html).into_response());
    }
    let mut p = panel(state, me).await?;
    p.add_form = add_form;
    p.password_form = password_form;
    Ok((status, render(&page(me, p, None))?).into_response())
}

async fn new_form(
    State(state): State<AppState>,
    session: Session,
    AdminUser(me): AdminUser,
    HxRequest(htmx): HxRequest,
) -> Result<Response, AppError> {
    let stepped_up = session.stepped_up(state.identity.now()).await?;
    let form = add_form(&state, &me, stepped_up, NewUserInput::default(), FieldErrors::default(), None);
    with_form(&state, &me, htmx, StatusCode::OK, Some(form), None).await
}

fn add_form(
    state: &AppState,
    me: &CurrentUser,
    stepped_up: bool,
    input: NewUserInput,
    errors: FieldErrors,
    confirm_error: Option<String>,
) -> AddUserForm {
    AddUserForm {
        input,
        errors,
        roles: &Role::ALL,
        confirm: !stepped_up && !me.through_provider,
        confirm_code: me.two_factor,
        confirm_error,
        provider: provider_to_confirm_with(state, me, stepped_up),
    }
}

/// The acting administrator, from this request, with whether their identity is confirmed now.
async fn acting(
    state: &AppState,
    session: &Session,
    me: &CurrentUser,
    ip: &str,
) -> Result<crate::identity::Actor, AppError> {
    Ok(me.actor(ip, session.stepped_up(state.identity.now()).await?))
}

async fn add(
    State(state): State<AppState>,
    session: Session,
    AdminUser(me): AdminUser,
    ClientIp(ip): ClientIp,
    HxRequest(htmx): HxRequest,
    Form(form): Form<AddInput>,
) -> Result<Response, AppError> {
    let mut actor = acting(&state, &session, &me, &ip).await?;
    let input = form.user;
    let wants_admin = input.role.parse::<Role>().is_ok_and(Role::is_admin);
    // The own password typed with the form confirms the identity, so what was typed is not lost to a detour.
    if wants_admin && !actor.stepped_up && !form.current_password.is_empty() {
        match state.identity.step_up(me.id, me.through_provider, form.current_password, &form.code, &ip).await? {
            StepUp::Done => {
                session.set_stepped_up(state.identity.now()).await?;
                actor.stepped_up = true;
            }
            refused => {
                let status = step_up_status(refused);
                let form = add_form(&state, &me, false, input, FieldErrors::default(), Some(refused.message()));
                return form_errors(&state, &me, htmx, status, form).await;
            }
        }
    }
    match state.identity.add_user(&actor, &input).await? {
        UserOutcome::Added { email, name, role } => {
            done(&state, &session, &me, htmx, Flash::ok(format!("{name} ({email}) was added as {}.", role.label())))
                .await
        }
        UserOutcome::Invalid(errors) => {
            let form = add_form(&state, &me, actor.stepped_up, input, *errors, None);
            form_errors(&state, &me, htmx, StatusCode::UNPROCESSABLE_ENTITY, form).await
        }
        UserOutcome::NeedsStepUp => {
            let why = if me.through_provider {
                "Adding a Publisher Administrator is a sensitive change: confirm it is you first (below)."
            } else {
                "Adding a Publisher Administrator is a sensitive change: enter your own password below."
            };
            let form = add_form(&state, &me, false, input, FieldErrors::default(), Some(why.to_owned()));
            form_errors(&state, &me, htmx, StatusCode::UNPROCESSABLE_ENTITY, form).await
        }
        other => Err(unexpected(&other)),
    }
}

/// How a failed confirmation is answered: 429 while locked, 503 when it could not be checked, else 422.
fn step_up_status(refused: StepUp) -> StatusCode {
    match refused {
        StepUp::Locked { .. } | StepUp::WrongPassword { locked: Some(_) } | StepUp::WrongCode { locked: Some(_) } => {
            StatusCode::TOO_MANY_REQUESTS
        }
        StepUp::CannotCheck | StepUp::Busy => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// An outcome the service does not give for this change.
fn unexpected(outcome: &UserOutcome) -> AppError {
    AppError::Internal(anyhow::anyhow!("unexpected outcome of a change to users: {outcome:?}"))
}

async fn form_errors(
    state: &AppState,
    me: &CurrentUser,
    htmx: bool,
    status: StatusCode,
    mut form: AddUserForm,
) -> Result<Response, AppError> {
    let input = &mut form.input;
    // The password is never sent back to the browser, and no field longer than it may be.
    input.password.clear();
    let clip = |v: &mut String, max: usize| {
        if v.chars().count() > max {
            *v = v.chars().take(max).collect();
        }
    };
    clip(&mut input.email, crate::db::users::MAX_EMAIL);
    clip(&mut input.first_name, MAX_NAME);
    clip(&mut input.last_name, MAX_NAME);
    clip(&mut input.publisher_user_id, MAX_NAME);
    clip(&mut input.role, MAX_NAME);
    with_form(state, me, htmx, status, Some(form), None).await
}

/// After an action: htmx gets the refreshed panel and the message; a plain form is sent back to the users page,
/// which shows the message once.
async fn done(
    state: &AppState,
    session: &Session,
    me: &CurrentUser,
    htmx: bool,
    flash: Flash,
) -> Result<Response, AppError> {
    if !htmx {
        session.set_flash(flash).await?;
        return Ok(Redirect::to("/users").into_response());
    }
    let status = if flash.ok { StatusCode::OK } else { StatusCode::CONFLICT };
    let mut p = panel(state, me).await?;
    p.oob_flash = Some(flash);
    Ok((status, render(&p)?).into_response())
}

fn last_admin(user: &User, what: &str) -> Flash {
    Flash::error(format!(
        "{} is the last active Publisher Administrator and cannot be {what}: the console needs at least one.",
        user.full_name()
    ))
}

/// Shows the outcome of a change made from a button: the message, or the confirm page for a sensitive one.
async fn changed(
    state: &AppState,
    session: &Session,
    me: &CurrentUser,
    htmx: bool,
    outcome: UserOutcome,
    message: impl FnOnce(&User) -> Flash,
    refused: &str,
) -> Result<Response, AppError> {
    let flash = match outcome {
        UserOutcome::Done { user, .. } => message(&user),
        UserOutcome::LastAdmin(user) => last_admin(&user, refused),
        UserOutcome::NeedsStepUp => return Ok(step_up::ask(htmx, "/users")),
        UserOutcome::NotFound => return Err(AppError::NotFound),
        UserOutcome::OwnTwoFactor => {
            Flash::error("Turn your own two-factor sign-in off on your Two-factor page, with a code.")
        }
        UserOutcome::NoTwoFactor(user) => {
            Flash::error(format!("{} has no two-factor sign-in to reset.", user.full_name()))
        }
        other => return Err(unexpected(&other)),
    };
    done(state, session, me, htmx, flash).await
}

#[derive(Deserialize)]
struct RoleInput {
    #[serde(default)]
    role: String,
}

async fn change_role(
    State(state): State<AppState>,
    session: Session,
    AdminUser(me): AdminUser,
    ClientIp(ip): ClientIp,
    HxRequest(htmx): HxRequest,
    Path(id): Path<i64>,
    Form(input): Form<RoleInput>,
) -> Result<Response, AppError> {
    let Ok(role) = input.role.parse::<Role>() else {
        return done(&state, &session, &me, htmx, Flash::error("Choose a user role.")).await;
    };
    let actor = acting(&state, &session, &me, &ip).await?;
    let outcome = state.identity.change_user(&actor, id, UserChange::Role(role)).await?;
    let message = |u: &User| Flash::ok(format!("{} is now a {}.", u.full_name(), role.label()));
    changed(&state, &session, &me, htmx, outcome, message, "given another role").await
}

/// Block, Unblock and Remove.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum UserAction {
    Block,
    Unblock,
    Remove,
}

async fn act(
    State(state): State<AppState>,
    session: Session,
    AdminUser(me): AdminUser,
    ClientIp(ip): ClientIp,
    HxRequest(htmx): HxRequest,
    Path((id, action)): Path<(i64, UserAction)>,
) -> Result<Response, AppError> {
    let actor = acting(&state, &session, &me, &ip).await?;
    let (change, refused) = match action {
        UserAction::Block => (UserChange::Block, "blocked"),
        UserAction::Unblock => (UserChange::Unblock, "blocked"),
        UserAction::Remove => (UserChange::Remove, "removed"),
    };
    let outcome = state.identity.change_user(&actor, id, change).await?;
    let message = |u: &User| {
        let name = u.full_name();
        Flash::ok(match action {
            UserAction::Block => format!("{name} is blocked and can no longer sign in."),
            UserAction::Unblock => format!("{name} is active again."),
            UserAction::Remove => format!("{name} ({}) was removed.", u.email),
        })
    };
    changed(&state, &session, &me, htmx, outcome, message, refused).await
}

/// Which parents a user sees: every one (`all=1`), or the `parent` values ticked. Their sessions end.
async fn set_parents(
    State(state): State<AppState>,
    session: Session,
    AdminUser(me): AdminUser,
    ClientIp(ip): ClientIp,
    HxRequest(htmx): HxRequest,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let access = if fields.iter().any(|(k, v)| k == "all" && v == "1") {
        ParentAccess::All
    } else {
        let ids = fields.iter().filter(|(k, _)| k == "parent").filter_map(|(_, v)| v.parse::<i64>().ok());
        ParentAccess::Only(ids.filter(|id| state.parents.get(*id).is_some()).collect())
    };
    let Some(user) = state.identity.user(id).await? else { return Err(AppError::NotFound) };
    let actor = acting(&state, &session, &me, &ip).await?;
    let flash = match state.identity.set_parent_access(&actor, id, &access).await? {
        ParentsOutcome::Done => Flash::ok(format!("{} now sees {access}; their sessions ended.", user.full_name())),
        ParentsOutcome::NotFound => return Err(AppError::NotFound),
        refused => Flash::error(refused.to_string()),
    };
    done(&state, &session, &me, htmx, flash).await
}

/// Removes another user's second factor (a lost authenticator) and ends their sessions; they sign in with their
/// password and can set it up again. One's own is turned off with a code, on one's own page.
async fn reset_two_factor(
    State(state): State<AppState>,
    session: Session,
    AdminUser(me): AdminUser,
    ClientIp(ip): ClientIp,
    HxRequest(htmx): HxRequest,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let actor = acting(&state, &session, &me, &ip).await?;
    let outcome = state.identity.change_user(&actor, id, UserChange::ResetTwoFactor).await?;
    let message = |u: &User| {
        Flash::ok(format!(
            "The two-factor sign-in of {} was reset: they sign in with their password alone and can set it up again.",
            u.full_name()
        ))
    };
    changed(&state, &session, &me, htmx, outcome, message, "reset").await
}

async fn password_form(
    State(state): State<AppState>,
    session: Session,
    AdminUser(me): AdminUser,
    HxRequest(htmx): HxRequest,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let user = state.identity.user(id).await?.ok_or(AppError::NotFound)?;
    let form = PasswordForm::new(&state, &me, user, session.stepped_up(state.identity.now()).await?);
    with_form(&state, &me, htmx, StatusCode::OK, None, Some(form)).await
}

#[derive(Deserialize)]
struct PasswordInput {
    #[serde(default)]
    password: String,
    /// The new password typed a second time (the form sends it; a script may leave it out).
    password_again: Option<String>,
    current_password: Option<String>,
    #[serde(default)]
    code: String,
}

async fn set_password(
    State(state): State<AppState>,
    session: Session,
    AdminUser(me): AdminUser,
    ClientIp(ip): ClientIp,
    HxRequest(htmx): HxRequest,
    Path(id): Path<i64>,
    Form(input): Form<PasswordInput>,
) -> Result<Response, AppError> {
    let user = state.identity.user(id).await?.ok_or(AppError::NotFound)?;
    let actor = acting(&state, &session, &me, &ip).await?;
    let mut form = PasswordForm::new(&state, &me, user, actor.stepped_up);
    if input.password_again.as_ref().is_some_and(|again| *again != input.password) {
        form.error = Some("The two new passwords differ: type the same one twice.".into());
        return with_form(&state, &me, htmx, StatusCode::UNPROCESSABLE_ENTITY, None, Some(form)).await;
    }
    // The form asks for the acting user's own password: it is checked (and confirms them) whatever they typed.
    let current = form.confirm.then(|| (input.current_password.unwrap_or_default(), input.code));
    let change = UserChange::Password { new: input.password, current };
    match state.identity.change_user(&actor, id, change).await? {
        UserOutcome::Done { generation, stepped_up, .. } => {
            // The user's other sessions have ended; the one that changed its own password goes on.
            if let Some(generation) = generation {
                session.keep_after_change(generation).await?;
            }
            if stepped_up {
                session.set_stepped_up(state.identity.now()).await?;
            }
            let said = if form.own {
                "Your password was changed; your sessions in other browsers have ended.".to_string()
            } else {
                format!("The password of {} was changed.", form.name)
            };
            done(&state, &session, &me, htmx, Flash::ok(said)).await
        }
        UserOutcome::BadPassword(why) => {
            form.error = Some(why);
            with_form(&state, &me, htmx, StatusCode::UNPROCESSABLE_ENTITY, None, Some(form)).await
        }
        UserOutcome::StepUpFailed(refused) => {
            form.confirm_error = Some(refused.message());
            with_form(&state, &me, htmx, step_up_status(refused), None, Some(form)).await
        }
        UserOutcome::NeedsStepUp => Ok(step_up::ask(htmx, "/users")),
        UserOutcome::NotFound => Err(AppError::NotFound),
        other => Err(unexpected(&other)),
    }
}
