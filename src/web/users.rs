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
use std::time::Duration;
use tower_sessions::Session;

use super::auth::{self, AdminUser, CurrentUser};
use super::format::kmc_date;
use super::htmx::{HxRequest, HxReswap, HxRetarget, SwapOption};
use super::{AppError, AppState, ClientIp, Flash, Nav, Section, render};
use crate::db::audit::{self, AuditAction, Entry, Outcome};
use crate::db::users::{self, AddError, Change, NewUser, Role, Status, User};
use crate::db::{throttle, unix_now};
use crate::password;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(show).post(add))
        .route("/users/new", get(new_form))
        .route("/users/{id}/role", post(change_role))
        .route("/users/{id}/reset-2fa", post(reset_two_factor))
        .route("/users/{id}/{action}", post(act))
        .route("/users/{id}/password", get(password_form).post(set_password))
}

/// How long the page waits for Kaltura's answer before showing the quota as unknown.
const QUOTA_TIMEOUT: Duration = Duration::from_secs(5);

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

async fn quota_limit(state: &AppState) -> Option<i64> {
    match tokio::time::timeout(QUOTA_TIMEOUT, state.accounts.login_users_quota()).await {
        Ok(Ok(limit)) => limit,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot read adminLoginUsersQuota from Kaltura");
            None
        }
        Err(_) => {
            tracing::warn!("Kaltura did not answer partner.getInfo in time; the user quota is unknown");
            None
        }
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
}

impl UserRow {
    fn new(u: User, me: &CurrentUser, two_factor: &[i64]) -> UserRow {
        UserRow {
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

#[derive(Default)]
struct AddErrors {
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    publisher_user_id: Option<String>,
    role: Option<String>,
    password: Option<String>,
    form: Option<String>,
}

impl AddErrors {
    fn any(&self) -> bool {
        [
            &self.email,
            &self.first_name,
            &self.last_name,
            &self.publisher_user_id,
            &self.role,
            &self.password,
            &self.form,
        ]
        .iter()
        .any(|e| e.is_some())
    }
}

#[derive(Template)]
#[template(path = "partials/user_form.html")]
struct AddUserForm {
    input: AddUserInput,
    errors: AddErrors,
    roles: &'static [Role],
}

#[derive(Template)]
#[template(path = "partials/password_form.html")]
struct PasswordForm {
    id: i64,
    name: String,
    email: String,
    error: Option<String>,
    /// Another Publisher Administrator's password is changed only with the acting one's own password.
    confirm: bool,
    confirm_error: Option<String>,
}

impl PasswordForm {
    fn new(me: &CurrentUser, user: User) -> PasswordForm {
        let confirm = user.id != me.id && user.role.is_admin();
        PasswordForm {
            id: user.id,
            name: user.full_name(),
            email: user.email,
            error: None,
            confirm,
            confirm_error: None,
        }
    }
}

#[derive(Deserialize, Default)]
struct AddUserInput {
    #[serde(default)]
    email: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    publisher_user_id: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

impl AddUserInput {
    fn selected(&self, role: &Role) -> bool {
        self.role == role.key() || (self.role.is_empty() && role.is_admin())
    }
}

async fn panel(state: &AppState, me: &CurrentUser) -> Result<UsersPanel, AppError> {
    let two_factor = crate::db::two_factor::enrolled_ids(&state.db).await?;
    let users: Vec<UserRow> =
        users::list(&state.db).await?.into_iter().map(|u| UserRow::new(u, me, &two_factor)).collect();
    let quota = Quota { used: users.len() as i64, limit: quota_limit(state).await };
    Ok(UsersPanel { users, quota, roles: &Role::ALL, add_form: None, password_form: None, oob_flash: None })
}

fn page(me: &CurrentUser, panel: UsersPanel, flash: Option<Flash>) -> UsersPage {
    UsersPage { nav: Nav { flash, ..Nav::for_user(me, Section::Users) }, panel }
}

async fn show(State(state): State<AppState>, session: Session, AdminUser(me): AdminUser) -> Result<Response, AppError> {
    let flash = auth::take_flash(&session).await?;
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
    AdminUser(me): AdminUser,
    HxRequest(htmx): HxRequest,
) -> Result<Response, AppError> {
    let form = AddUserForm { input: AddUserInput::default(), errors: AddErrors::default(), roles: &Role::ALL };
    with_form(&state, &me, htmx, StatusCode::OK, Some(form), None).await
}

const REQUIRED: &str = "Value is required and can't be empty";
/// Names and the Publisher User ID, as the KMC takes them.
const MAX_NAME: usize = 100;

fn validate(input: &AddUserInput) -> (AddErrors, Option<Role>) {
    let mut errors = AddErrors::default();
    let email = input.email.trim();
    if email.is_empty() {
        errors.email = Some(REQUIRED.into());
    } else if !users::is_email(email) {
        errors.email = Some("Invalid email format".into());
    }
    for (value, slot) in [(&input.first_name, &mut errors.first_name), (&input.last_name, &mut errors.last_name)] {
        if value.trim().is_empty() {
            *slot = Some(REQUIRED.into());
        } else if value.trim().chars().count() > MAX_NAME {
            *slot = Some("At most 100 characters".into());
        }
    }
    if input.publisher_user_id.trim().chars().count() > MAX_NAME {
        errors.publisher_user_id = Some("At most 100 characters".into());
    }
    let role = input.role.parse::<Role>().ok();
    if role.is_none() {
        errors.role = Some("Choose a user role".into());
    }
    if let Err(e) = password::check_new(&input.password) {
        errors.password = Some(e);
    }
    (errors, role)
}

async fn add(
    State(state): State<AppState>,
    session: Session,
    AdminUser(me): AdminUser,
    ClientIp(ip): ClientIp,
    HxRequest(htmx): HxRequest,
    Form(input): Form<AddUserInput>,
) -> Result<Response, AppError> {
    let (mut errors, role) = validate(&input);
    let role = match role {
        Some(role) if !errors.any() => role,
        _ => return form_errors(&state, &me, htmx, input, errors).await,
    };
    let limit = quota_limit(&state).await;
    let hash = password::hash(input.password.clone()).await?;
    let email = input.email.trim();
    let new = NewUser {
        email,
        first_name: input.first_name.trim(),
        last_name: input.last_name.trim(),
        publisher_user_id: Some(input.publisher_user_id.trim()).filter(|s| !s.is_empty()),
        role,
        password_hash: &hash,
    };
    match users::add(&state.db, &new, limit, unix_now()).await {
        Ok(_) => {
            let details = format!("role {}", role.label());
            record(&state, &me, &ip, AuditAction::UserAdd, email, Outcome::Ok, &details).await?;
            let name = format!("{} {}", new.first_name, new.last_name);
            done(&state, &session, &me, htmx, Flash::ok(format!("{name} ({email}) was added as {}.", role.label())))
                .await
        }
        Err(AddError::QuotaReached) => {
            let limit = limit.unwrap_or_default();
            let details = format!("quota of {limit} users reached");
            record(&state, &me, &ip, AuditAction::UserAdd, email, Outcome::Refused, &details).await?;
            errors.form = Some(format!(
                "You have reached your quota of {limit} users. Remove a user, or contact Kaltura to raise the quota."
            ));
            form_errors(&state, &me, htmx, input, errors).await
        }
        Err(e @ AddError::DuplicateEmail) => {
            errors.email = Some(e.to_string());
            form_errors(&state, &me, htmx, input, errors).await
        }
        Err(e @ AddError::DuplicatePublisherUserId) => {
            errors.publisher_user_id = Some(e.to_string());
            form_errors(&state, &me, htmx, input, errors).await
        }
        Err(AddError::Db(e)) => Err(e.into()),
    }
}

async fn record(
    state: &AppState,
    me: &CurrentUser,
    ip: &str,
    action: AuditAction,
    target: &str,
    result: Outcome,
    details: &str,
) -> Result<(), AppError> {
    Ok(audit::record(&state.db, Entry { actor: &me.email, ip, action, target, result, details }).await?)
}

async fn form_errors(
    state: &AppState,
    me: &CurrentUser,
    htmx: bool,
    mut input: AddUserInput,
    errors: AddErrors,
) -> Result<Response, AppError> {
    // The password is never sent back to the browser, and no field longer than it may be.
    input.password.clear();
    let clip = |v: &mut String, max: usize| {
        if v.chars().count() > max {
            *v = v.chars().take(max).collect();
        }
    };
    clip(&mut input.email, users::MAX_EMAIL);
    clip(&mut input.first_name, MAX_NAME);
    clip(&mut input.last_name, MAX_NAME);
    clip(&mut input.publisher_user_id, MAX_NAME);
    clip(&mut input.role, MAX_NAME);
    let form = AddUserForm { input, errors, roles: &Role::ALL };
    with_form(state, me, htmx, StatusCode::UNPROCESSABLE_ENTITY, Some(form), None).await
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
        auth::set_flash(session, flash).await?;
        return Ok(Redirect::to("/users").into_response());
    }
    let status = if flash.ok { StatusCode::OK } else { StatusCode::CONFLICT };
    let mut p = panel(state, me).await?;
    p.oob_flash = Some(flash);
    Ok((status, render(&p)?).into_response())
}

async fn target(state: &AppState, id: i64) -> Result<User, AppError> {
    users::get(&state.db, id).await?.ok_or(AppError::NotFound)
}

fn last_admin(user: &User, what: &str) -> Flash {
    Flash::error(format!(
        "{} is the last active Publisher Administrator and cannot be {what}: the console needs at least one.",
        user.full_name()
    ))
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
    let user = target(&state, id).await?;
    let Ok(role) = input.role.parse::<Role>() else {
        return done(&state, &session, &me, htmx, Flash::error("Choose a user role.")).await;
    };
    let details = format!("{} → {}", user.role.label(), role.label());
    let flash = match users::set_role(&state.db, id, role).await? {
        Change::Done => {
            record(&state, &me, &ip, AuditAction::UserRole, &user.email, Outcome::Ok, &details).await?;
            Flash::ok(format!("{} is now a {}.", user.full_name(), role.label()))
        }
        Change::LastAdmin => {
            record(&state, &me, &ip, AuditAction::UserRole, &user.email, Outcome::Refused, &details).await?;
            last_admin(&user, "given another role")
        }
        Change::NotFound => return Err(AppError::NotFound),
    };
    done(&state, &session, &me, htmx, flash).await
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
    let user = target(&state, id).await?;
    let name = user.full_name();
    let (change, audit_action, done_message, refused) = match action {
        UserAction::Block => (
            users::set_status(&state.db, id, Status::Blocked).await?,
            AuditAction::UserBlock,
            format!("{name} is blocked and can no longer sign in."),
            "blocked",
        ),
        UserAction::Unblock => (
            users::set_status(&state.db, id, Status::Active).await?,
            AuditAction::UserUnblock,
            format!("{name} is active again."),
            "blocked",
        ),
        UserAction::Remove => (
            users::remove(&state.db, id).await?,
            AuditAction::UserRemove,
            format!("{name} ({}) was removed.", user.email),
            "removed",
        ),
    };
    let flash = match change {
        Change::Done => {
            record(&state, &me, &ip, audit_action, &user.email, Outcome::Ok, "").await?;
            Flash::ok(done_message)
        }
        Change::LastAdmin => {
            let why = "last active Publisher Administrator";
            record(&state, &me, &ip, audit_action, &user.email, Outcome::Refused, why).await?;
            last_admin(&user, refused)
        }
        Change::NotFound => return Err(AppError::NotFound),
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
    let user = target(&state, id).await?;
    let name = user.full_name();
    let flash = if id == me.id {
        Flash::error("Turn your own two-factor sign-in off on your Two-factor page, with a code.")
    } else if crate::db::two_factor::reset(&state.db, id).await? {
        record(&state, &me, &ip, AuditAction::UserTwoFactorReset, &user.email, Outcome::Ok, "").await?;
        Flash::ok(format!(
            "The two-factor sign-in of {name} was reset: they sign in with their password alone and can set it up \
             again."
        ))
    } else {
        Flash::error(format!("{name} has no two-factor sign-in to reset."))
    };
    done(&state, &session, &me, htmx, flash).await
}

async fn password_form(
    State(state): State<AppState>,
    AdminUser(me): AdminUser,
    HxRequest(htmx): HxRequest,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let user = target(&state, id).await?;
    let form = PasswordForm::new(&me, user);
    with_form(&state, &me, htmx, StatusCode::OK, None, Some(form)).await
}

#[derive(Deserialize)]
struct PasswordInput {
    #[serde(default)]
    password: String,
    #[serde(default)]
    current_password: String,
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
    let user = target(&state, id).await?;
    let target_email = user.email.clone();
    let mut form = PasswordForm::new(&me, user);
    if let Err(error) = password::check_new(&input.password) {
        form.error = Some(error);
        return with_form(&state, &me, htmx, StatusCode::UNPROCESSABLE_ENTITY, None, Some(form)).await;
    }
    if form.confirm && !confirmed(&state, &me, &ip, input.current_password).await? {
        let why = "the acting administrator's password did not match";
        record(&state, &me, &ip, AuditAction::UserPassword, &target_email, Outcome::Refused, why).await?;
        form.confirm_error = Some("Your password is not correct.".into());
        return with_form(&state, &me, htmx, StatusCode::UNPROCESSABLE_ENTITY, None, Some(form)).await;
    }
    let hash = password::hash(input.password).await?;
    let Some(generation) = users::set_password_hash(&state.db, id, &hash).await? else {
        return Err(AppError::NotFound);
    };
    // The user's other sessions have ended; the one that changed its own password goes on.
    if id == me.id {
        auth::keep_after_change(&session, generation).await?;
    }
    record(&state, &me, &ip, AuditAction::UserPassword, &target_email, Outcome::Ok, "").await?;
    done(&state, &session, &me, htmx, Flash::ok(format!("The password of {} was changed.", form.name))).await
}

/// Whether `given` is the acting administrator's own password. A wrong one counts as a failed sign-in from this
/// address, so a session left open cannot be used to guess it.
async fn confirmed(state: &AppState, me: &CurrentUser, ip: &str, given: String) -> Result<bool, AppError> {
    let hash = users::get(&state.db, me.id).await?.map(|u| u.password_hash);
    if password::verify(given, hash).await? {
        return Ok(true);
    }
    throttle::record_failure(&state.db, &me.email, ip, unix_now()).await?;
    Ok(false)
}
