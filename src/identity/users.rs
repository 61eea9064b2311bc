//! The console's users: one validation for the Users page, the `user` command and single sign-on; the users quota
//! (the parent's `adminLoginUsersQuota`, where Kaltura can be asked); the last-administrator rule (kept in the
//! database's statements); and which changes are sensitive enough to need a confirmed identity (a step-up).

use serde::Deserialize;

use super::step_up::StepUp;
use super::{Error, Identity, password};
use crate::config::Bootstrap;
use crate::db::audit::{AuditAction, Outcome};
use crate::db::users::{self, AddError, Change, NewUser, Role, Status, User};

/// The demo administrator made in demo mode.
pub const DEMO_ADMIN: &str = "admin@demo.example";

/// Names and the Publisher User ID, as the KMC takes them.
pub const MAX_NAME: usize = 100;
const REQUIRED: &str = "Value is required and can't be empty";

/// Who acts on the console's users: a signed-in administrator from an address, or the operator's command line.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub email: String,
    pub ip: String,
    /// Their identity was confirmed a few minutes ago (the command line's operator always is).
    pub stepped_up: bool,
    /// Their session was made through the provider: they confirm there, and have no password of the console's.
    pub through_provider: bool,
}

impl Actor {
    pub fn cli() -> Actor {
        Actor { user_id: None, email: "cli".into(), ip: "local".into(), stepped_up: true, through_provider: false }
    }
}

/// A new user as typed on the page or the command line.
#[derive(Debug, Deserialize, Default, Clone)]
pub struct NewUserInput {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub publisher_user_id: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub password: String,
}

/// What is wrong with a new user, field by field.
#[derive(Debug, Default, Clone)]
pub struct FieldErrors {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub publisher_user_id: Option<String>,
    pub role: Option<String>,
    pub password: Option<String>,
    /// About the whole form (the quota).
    pub form: Option<String>,
}

impl FieldErrors {
    pub fn any(&self) -> bool {
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

    /// Every message, each with its field's name, for the command line.
    pub fn sentences(&self) -> Vec<String> {
        [
            ("email", &self.email),
            ("first name", &self.first_name),
            ("last name", &self.last_name),
            ("publisher user id", &self.publisher_user_id),
            ("role", &self.role),
            ("password", &self.password),
            ("", &self.form),
        ]
        .iter()
        .filter_map(|(name, e)| e.as_ref().map(|e| if name.is_empty() { e.clone() } else { format!("{name}: {e}") }))
        .collect()
    }
}

/// At most [`MAX_NAME`] characters of a name, trimmed.
pub fn clip_name(name: &str) -> String {
    name.trim().chars().take(MAX_NAME).collect()
}

fn validate(input: &NewUserInput) -> Result<Role, Box<FieldErrors>> {
    let mut errors = FieldErrors::default();
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
            *slot = Some(format!("At most {MAX_NAME} characters"));
        }
    }
    if input.publisher_user_id.trim().chars().count() > MAX_NAME {
        errors.publisher_user_id = Some(format!("At most {MAX_NAME} characters"));
    }
    let role = input.role.parse::<Role>().ok();
    if role.is_none() {
        errors.role = Some("Choose a user role".into());
    }
    if let Err(e) = password::check_new(&input.password) {
        errors.password = Some(e);
    }
    match role {
        Some(role) if !errors.any() => Ok(role),
        _ => Err(Box::new(errors)),
    }
}

/// Why a user was not created.
pub(super) enum Rejected {
    Fields(Box<FieldErrors>),
    /// The users quota, this many, is used up.
    Quota {
        limit: i64,
    },
}

/// A change an administrator (or the command line) makes to a user.
#[derive(Debug, Clone)]
pub enum UserChange {
    Role(Role),
    Block,
    Unblock,
    Remove,
    /// A new password; one's own change also gives the current password (and a code, with a second factor), which
    /// confirms the identity for this and the next few minutes.
    Password {
        new: String,
        current: Option<(String, String)>,
    },
    ResetTwoFactor,
}

/// What a change to the console's users came to.
#[derive(Debug)]
pub enum UserOutcome {
    /// Done. `user` as it was before; `generation` when the acting user's own sessions ended with it (their own
    /// password); `stepped_up` when the change confirmed the acting user's identity.
    Done {
        user: Box<User>,
        generation: Option<i64>,
        stepped_up: bool,
    },
    /// A user was added.
    Added {
        email: String,
        name: String,
        role: Role,
    },
    /// The new user's fields are wrong (or the quota is used up: `form`).
    Invalid(Box<FieldErrors>),
    /// A sensitive change, and the acting user's identity was not confirmed in the last few minutes.
    NeedsStepUp,
    /// Confirming the identity with the change failed.
    StepUpFailed(StepUp),
    /// It would leave no active Publisher Administrator.
    LastAdmin(Box<User>),
    NotFound,
    /// One's own second factor is turned off on one's own page, with a code.
    OwnTwoFactor,
    NoTwoFactor(Box<User>),
    /// The new password is not acceptable: why.
    BadPassword(String),
}

impl UserChange {
    /// Whether the change needs a confirmed identity: any password; role changes to or from Publisher Administrator
    /// (from the old and the new role); blocking, unblocking or removing an administrator; two-factor resets.
    fn is_sensitive(&self, target: &User) -> bool {
        match self {
            UserChange::Role(role) => role.is_admin() || target.role.is_admin(),
            UserChange::Block | UserChange::Unblock | UserChange::Remove => target.role.is_admin(),
            UserChange::Password { .. } | UserChange::ResetTwoFactor => true,
        }
    }

    fn audit_action(&self) -> AuditAction {
        match self {
            UserChange::Role(_) => AuditAction::UserRole,
            UserChange::Block => AuditAction::UserBlock,
            UserChange::Unblock => AuditAction::UserUnblock,
            UserChange::Remove => AuditAction::UserRemove,
            UserChange::Password { .. } => AuditAction::UserPassword,
            UserChange::ResetTwoFactor => AuditAction::UserTwoFactorReset,
        }
    }
}

impl Identity {
    /// The one way a console user is made: validated, within the users quota, audited as `user.add` by `actor`.
    pub(super) async fn create_user(
        &self,
        input: &NewUserInput,
        actor: &str,
        ip: &str,
        details: &str,
    ) -> Result<Result<i64, Rejected>, Error> {
        let role = match validate(input) {
            Ok(role) => role,
            Err(errors) => return Ok(Err(Rejected::Fields(errors))),
        };
        let limit = self.users_quota().await;
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
        let mut errors = FieldErrors::default();
        match users::add(&self.db, &new, limit, self.now()).await {
            Ok(id) => {
                self.record(actor, ip, AuditAction::UserAdd, email, Outcome::Ok, details).await?;
                return Ok(Ok(id));
            }
            Err(AddError::QuotaReached) => {
                let limit = limit.unwrap_or_default();
                let why = format!("quota of {limit} users reached");
                self.record(actor, ip, AuditAction::UserAdd, email, Outcome::Refused, &why).await?;
                return Ok(Err(Rejected::Quota { limit }));
            }
            Err(e @ AddError::DuplicateEmail) => errors.email = Some(e.to_string()),
            Err(e @ AddError::DuplicatePublisherUserId) => errors.publisher_user_id = Some(e.to_string()),
            Err(AddError::Db(e)) => return Err(e.into()),
        }
        Ok(Err(Rejected::Fields(Box::new(errors))))
    }

    /// Adds a user from the Users page or the command line. Adding a Publisher Administrator is sensitive.
    pub async fn add_user(&self, actor: &Actor, input: &NewUserInput) -> Result<UserOutcome, Error> {
        let role = match validate(input) {
            Ok(role) => role,
            Err(errors) => return Ok(UserOutcome::Invalid(errors)),
        };
        if role.is_admin() && !actor.stepped_up {
            return Ok(UserOutcome::NeedsStepUp);
        }
        let details = format!("role {}", role.label());
        match self.create_user(input, &actor.email, &actor.ip, &details).await? {
            Ok(_) => Ok(UserOutcome::Added {
                email: input.email.trim().to_owned(),
                name: format!("{} {}", input.first_name.trim(), input.last_name.trim()),
                role,
            }),
            Err(Rejected::Fields(errors)) => Ok(UserOutcome::Invalid(errors)),
            Err(Rejected::Quota { limit }) => {
                let form = format!(
                    "You have reached your quota of {limit} users. Remove a user, or contact Kaltura to raise the quota."
                );
                Ok(UserOutcome::Invalid(Box::new(FieldErrors { form: Some(form), ..FieldErrors::default() })))
            }
        }
    }

    /// Changes user `id` as `actor` asks, by the rules: sensitive changes need a confirmed identity (one's own
    /// password needs the current one), the last active Publisher Administrator stays, and each outcome is audited.
    pub async fn change_user(&self, actor: &Actor, id: i64, change: UserChange) -> Result<UserOutcome, Error> {
        let Some(user) = users::get(&self.db, id).await? else { return Ok(UserOutcome::NotFound) };
        let own = actor.user_id == Some(id);
        if let UserChange::Password { new, .. } = &change
            && let Err(why) = password::check_new(new)
        {
            return Ok(UserOutcome::BadPassword(why));
        }
        if matches!(change, UserChange::ResetTwoFactor) && own {
            return Ok(UserOutcome::OwnTwoFactor);
        }
        let mut stepped_up = false;
        if let UserChange::Password { current: Some((given, code)), .. } = &change
            && let Some(actor_id) = actor.user_id
        {
            match self.step_up(actor_id, actor.through_provider, given.clone(), code, &actor.ip).await? {
                StepUp::Done => stepped_up = true,
                refused => return Ok(UserOutcome::StepUpFailed(refused)),
            }
        }
        // One's own password needs the current one, except in a session made through the provider, which has none
        // of the console's and confirmed at the provider instead.
        let own_password = own && matches!(change, UserChange::Password { .. }) && !actor.through_provider;
        let confirmed = stepped_up || (actor.stepped_up && !own_password) || actor.user_id.is_none();
        if change.is_sensitive(&user) && !confirmed {
            return Ok(UserOutcome::NeedsStepUp);
        }
        let action = change.audit_action();
        let record = |result: Outcome, details: String| {
            let (actor, user) = (actor.clone(), user.email.clone());
            async move { self.record(&actor.email, &actor.ip, action, &user, result, &details).await }
        };
        let mut generation = None;
        let result = match &change {
            UserChange::Role(role) => {
                let details = format!("{} → {}", user.role.label(), role.label());
                (users::set_role(&self.db, id, *role).await?, details)
            }
            UserChange::Block => (users::set_status(&self.db, id, Status::Blocked).await?, String::new()),
            UserChange::Unblock => (users::set_status(&self.db, id, Status::Active).await?, String::new()),
            UserChange::Remove => (users::remove(&self.db, id).await?, String::new()),
            UserChange::Password { new, .. } => {
                let hash = password::hash(new.clone()).await?;
                match users::set_password_hash(&self.db, id, &hash).await? {
                    Some(g) => {
                        generation = own.then_some(g);
                        (Change::Done, String::new())
                    }
                    None => (Change::NotFound, String::new()),
                }
            }
            UserChange::ResetTwoFactor => {
                if !crate::db::two_factor::reset(&self.db, id).await? {
                    return Ok(UserOutcome::NoTwoFactor(Box::new(user)));
                }
                (Change::Done, String::new())
            }
        };
        match result {
            (Change::Done, details) => {
                record(Outcome::Ok, details).await?;
                Ok(UserOutcome::Done { user: Box::new(user), generation, stepped_up })
            }
            (Change::LastAdmin, details) => {
                let why = if details.is_empty() { "last active Publisher Administrator".to_owned() } else { details };
                record(Outcome::Refused, why).await?;
                Ok(UserOutcome::LastAdmin(Box::new(user)))
            }
            (Change::NotFound, _) => Ok(UserOutcome::NotFound),
        }
    }
}

impl Identity {
    /// Every console user, and the ids of those with a second factor.
    pub async fn users(&self) -> Result<(Vec<User>, Vec<i64>), Error> {
        Ok((users::list(&self.db).await?, crate::db::two_factor::enrolled_ids(&self.db).await?))
    }

    pub async fn user(&self, id: i64) -> Result<Option<User>, Error> {
        Ok(users::get(&self.db, id).await?)
    }

    /// The user a session names, with what every page shows of them (read once a request).
    pub async fn session_user(&self, id: i64) -> Result<Option<users::SignedIn>, Error> {
        Ok(users::signed_in(&self.db, id).await?)
    }

    /// Which parents the user may see.
    pub async fn parent_access(&self, id: i64) -> Result<ParentAccess, Error> {
        Ok(users::parents_of(&self.db, id).await?.map_or(ParentAccess::All, ParentAccess::Only))
    }

    /// Every user limited to some parents, with those parents (the others see every one).
    pub async fn limited_to_parents(&self) -> Result<Vec<(i64, Vec<i64>)>, Error> {
        Ok(users::limited_to_parents(&self.db).await?)
    }

    /// Lets user `id` see every parent or only some, audited; their sessions end (their access changed). Nobody
    /// limits their own access, and at least one active Publisher Administrator keeps every parent.
    pub async fn set_parent_access(
        &self,
        actor: &Actor,
        id: i64,
        access: &ParentAccess,
    ) -> Result<ParentsOutcome, Error> {
        let Some(user) = users::get(&self.db, id).await? else { return Ok(ParentsOutcome::NotFound) };
        let outcome = if actor.user_id == Some(id) {
            ParentsOutcome::Own
        } else {
            let only = match access {
                ParentAccess::All => None,
                ParentAccess::Only(ids) => Some(ids.as_slice()),
            };
            match users::set_parents(&self.db, id, only).await? {
                Change::Done => ParentsOutcome::Done,
                Change::LastAdmin => ParentsOutcome::LastAdmin,
                Change::NotFound => return Ok(ParentsOutcome::NotFound),
            }
        };
        let (result, details) = match outcome {
            ParentsOutcome::Done => (Outcome::Ok, access.to_string()),
            refused => (Outcome::Refused, format!("{access}: {refused}")),
        };
        self.record(&actor.email, &actor.ip, AuditAction::UserParents, &user.email, result, &details).await?;
        Ok(outcome)
    }

    /// The Accounts page size the user chose last, if any.
    pub async fn accounts_page_size(&self, id: i64) -> Result<Option<i64>, Error> {
        Ok(users::accounts_page_size(&self.db, id).await?)
    }

    pub async fn set_accounts_page_size(&self, id: i64, size: i64) -> Result<(), Error> {
        Ok(users::set_accounts_page_size(&self.db, id, size).await?)
    }
}

/// Which parents a console user may see: every one (the default), or a chosen list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParentAccess {
    All,
    Only(Vec<i64>),
}

impl ParentAccess {
    pub fn may_see(&self, parent: i64) -> bool {
        match self {
            ParentAccess::All => true,
            ParentAccess::Only(ids) => ids.contains(&parent),
        }
    }
}

/// As the audit log and the command line say it.
impl std::fmt::Display for ParentAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParentAccess::All => f.write_str("every parent"),
            ParentAccess::Only(ids) if ids.is_empty() => f.write_str("no parent"),
            ParentAccess::Only(ids) => {
                let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
                write!(f, "parents {}", ids.join(", "))
            }
        }
    }
}

/// What changing a user's parents came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParentsOutcome {
    #[error("done")]
    Done,
    #[error("No such user.")]
    NotFound,
    #[error("You cannot change which parents you see yourself: another Publisher Administrator can.")]
    Own,
    #[error("At least one active Publisher Administrator must see every parent.")]
    LastAdmin,
}

/// The administrator [`Identity::ensure_admin`] made.
pub enum Created {
    Demo(String),
    Bootstrap(String),
}

impl Identity {
    /// How many Publisher Administrators can sign in.
    pub async fn active_admins(&self) -> Result<i64, Error> {
        Ok(users::count_active_admins(&self.db).await?)
    }

    /// With no active Publisher Administrator, creates one from the bootstrap variables, or in demo mode a demo
    /// administrator with a generated password (returned to be printed once, never logged).
    pub async fn ensure_admin(&self, bootstrap: Option<Bootstrap>, demo: bool) -> anyhow::Result<Option<Created>> {
        let pool = &self.db;
        if users::count_active_admins(pool).await? > 0 {
            return Ok(None);
        }
        let (email, password, created) = match bootstrap {
            Some(b) => {
                password::check_new(&b.password).map_err(|e| anyhow::anyhow!("MA_BOOTSTRAP_ADMIN_PASSWORD: {e}"))?;
                anyhow::ensure!(
                    users::is_email(&b.email),
                    "MA_BOOTSTRAP_ADMIN_EMAIL {:?} is not an email address",
                    b.email
                );
                (b.email.clone(), b.password, Created::Bootstrap(b.email))
            }
            None if demo => {
                let password = password::generate();
                (DEMO_ADMIN.to_owned(), password.clone(), Created::Demo(password))
            }
            None => return Ok(None),
        };
        let hash = password::hash(password).await?;
        // The address may belong to a blocked or demoted user: it becomes an active administrator again.
        match users::find_by_email(pool, &email).await? {
            Some(existing) => {
                users::set_password_hash(pool, existing.id, &hash).await?;
                users::set_role(pool, existing.id, Role::PublisherAdministrator).await?;
                users::set_status(pool, existing.id, Status::Active).await?;
            }
            None => {
                let (first_name, last_name) =
                    if demo { ("Demo", "Administrator") } else { ("Publisher", "Administrator") };
                let new = NewUser {
                    email: &email,
                    first_name,
                    last_name,
                    publisher_user_id: None,
                    role: Role::PublisherAdministrator,
                    password_hash: &hash,
                };
                match users::add(pool, &new, None, self.now()).await {
                    Ok(_) => {}
                    // Another replica starting at the same moment made this administrator first.
                    Err(users::AddError::DuplicateEmail) => return Ok(None),
                    Err(e) => return Err(e.into()),
                }
            }
        }
        self.record(
            "system",
            "local",
            AuditAction::UserBootstrap,
            &email,
            Outcome::Ok,
            "first Publisher Administrator",
        )
        .await?;
        Ok(Some(created))
    }
}
