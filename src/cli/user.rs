//! `multi-account user add|list|set-password|reset-2fa|remove|parents`: manage the console's users from the command line, on
//! the same database as `serve`. This is the operator's way in, so it needs no Kaltura and does not apply the user
//! quota; the last active Publisher Administrator is still protected.

use clap::Subcommand;
use std::io::Read as _;

use crate::clock::Clock;
use crate::config::DatabaseArgs;
use crate::db;
use crate::db::users::{Role, User};
use crate::identity::{self, Actor, Identity, NewUserInput, ParentAccess, ParentsOutcome, UserChange, UserOutcome};

#[derive(clap::Args, Debug)]
pub struct UserArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(subcommand)]
    pub action: UserAction,
}

#[derive(Subcommand, Debug)]
pub enum UserAction {
    /// Add a user (asks for the password, or reads it from standard input with --password-stdin).
    Add {
        /// Login email address.
        email: String,
        #[arg(long)]
        first_name: String,
        #[arg(long)]
        last_name: String,
        /// Defaults to the login email, as in the KMC.
        #[arg(long)]
        publisher_user_id: Option<String>,
        /// publisher_administrator, manager, content_manager, content_moderator or player_designer.
        #[arg(long, default_value = "publisher_administrator")]
        role: Role,
        /// Read the password from standard input instead of asking for it.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Set a user's password.
    SetPassword {
        email: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove a user's two-factor sign-in (a lost authenticator) and end their sessions: they sign in with their
    /// password alone until they set it up again.
    #[command(name = "reset-2fa")]
    ResetTwoFactor { email: String },
    /// Remove a user.
    Remove { email: String },
    /// Set which parent accounts a user sees: every one (--all) or only those listed (--only 6464,7001). Ends the
    /// user's sessions.
    Parents {
        email: String,
        /// Every parent the console serves, now and later.
        #[arg(long, conflicts_with = "only", required_unless_present = "only")]
        all: bool,
        /// Only these parents' partner ids, comma-separated.
        #[arg(long, value_delimiter = ',', value_name = "PARTNER_ID,...")]
        only: Option<Vec<i64>>,
    },
}

pub async fn run(args: UserArgs) -> anyhow::Result<()> {
    let pool = db::connect(&args.database.location()?, &args.database.pool()).await?.pool;
    // The operator at the machine: no Kaltura, so no users quota; every other rule holds, and is audited as `cli`.
    let identity = Identity::new(pool.clone(), Clock::system(), identity::Settings::default(), None);
    let result = act(&identity, args.action).await;
    pool.close().await;
    result
}

async fn act(identity: &Identity, action: UserAction) -> anyhow::Result<()> {
    let cli = Actor::cli();
    match action {
        UserAction::Add { email, first_name, last_name, publisher_user_id, role, password_stdin } => {
            let input = NewUserInput {
                email,
                first_name,
                last_name,
                publisher_user_id: publisher_user_id.unwrap_or_default(),
                role: role.key().to_owned(),
                password: read_password(password_stdin)?,
            };
            match identity.add_user(&cli, &input).await? {
                UserOutcome::Added { email, role, .. } => println!("Added {email} ({}).", role.label()),
                UserOutcome::Invalid(errors) => anyhow::bail!("{}", errors.sentences().join("; ")),
                other => anyhow::bail!("the user was not added: {other:?}"),
            }
        }
        UserAction::List => {
            let (all, _) = identity.users().await?;
            let limited = identity.limited_to_parents().await?;
            println!("{:<5} {:<32} {:<28} {:<24} {:<8} PARENTS", "ID", "EMAIL", "NAME", "ROLE", "STATUS");
            for u in all {
                let parents = match limited.iter().find(|(id, _)| *id == u.id) {
                    Some((_, ids)) => ParentAccess::Only(ids.clone()).to_string(),
                    None => ParentAccess::All.to_string(),
                };
                println!(
                    "{:<5} {:<32} {:<28} {:<24} {:<8} {parents}",
                    u.id,
                    u.email,
                    u.full_name(),
                    u.role.label(),
                    u.status.label()
                );
            }
        }
        UserAction::Parents { email, all: _, only } => {
            let user = find(identity, &email).await?;
            let access = only.map_or(ParentAccess::All, ParentAccess::Only);
            match identity.set_parent_access(&cli, user.id, &access).await? {
                ParentsOutcome::Done => println!("{} now sees {access}.", user.email),
                refused => anyhow::bail!("{refused}"),
            }
        }
        UserAction::SetPassword { email, password_stdin } => {
            let user = find(identity, &email).await?;
            let change = UserChange::Password { new: read_password(password_stdin)?, current: None };
            expect_done(identity.change_user(&cli, user.id, change).await?, &email)?;
            println!("Password of {} changed.", user.email);
        }
        UserAction::ResetTwoFactor { email } => {
            let user = find(identity, &email).await?;
            match identity.change_user(&cli, user.id, UserChange::ResetTwoFactor).await? {
                UserOutcome::NoTwoFactor(_) => {
                    println!("{} has no two-factor sign-in: nothing to reset.", user.email);
                }
                outcome => {
                    expect_done(outcome, &email)?;
                    println!(
                        "Two-factor sign-in of {} reset: they sign in with their password alone until they set it \
                         up again.",
                        user.email
                    );
                }
            }
        }
        UserAction::Remove { email } => {
            let user = find(identity, &email).await?;
            expect_done(identity.change_user(&cli, user.id, UserChange::Remove).await?, &email)?;
            println!("Removed {}.", user.email);
        }
    }
    Ok(())
}

async fn find(identity: &Identity, email: &str) -> anyhow::Result<User> {
    let (all, _) = identity.users().await?;
    all.into_iter()
        .find(|u| u.email.eq_ignore_ascii_case(email.trim()))
        .ok_or_else(|| anyhow::anyhow!("no user {email}"))
}

/// The change was made, or why not as the command's error.
fn expect_done(outcome: UserOutcome, email: &str) -> anyhow::Result<()> {
    match outcome {
        UserOutcome::Done { .. } => Ok(()),
        UserOutcome::LastAdmin(user) => {
            anyhow::bail!("{} is the last active Publisher Administrator and cannot be removed", user.email)
        }
        UserOutcome::NotFound => anyhow::bail!("no user {email}"),
        UserOutcome::BadPassword(why) => anyhow::bail!("{why}"),
        other => anyhow::bail!("nothing was changed: {other:?}"),
    }
}

/// From standard input (one line, or all of it without the final newline), or asked twice on the terminal without
/// echo.
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    let password = if from_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s.strip_suffix('\n').map(|s| s.strip_suffix('\r').unwrap_or(s)).unwrap_or(&s).to_owned()
    } else {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Repeat password: ")?;
        anyhow::ensure!(first == again, "the passwords do not match");
        first
    };
    Ok(password)
}
