//! `multi-account user add|list|set-password|reset-2fa|remove`: manage the console's users from the command line, on
//! the same database as `serve`. This is the operator's way in, so it needs no Kaltura and does not apply the user
//! quota; the last active Publisher Administrator is still protected.

use clap::Subcommand;
use std::io::Read as _;

use crate::config::DatabaseArgs;
use crate::db::audit::{self, AuditAction, Entry, Outcome};
use crate::db::users::{self, AddError, Change, NewUser, Role};
use crate::db::{self, unix_now};
use crate::password;

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
}

const ACTOR: &str = "cli";
const FROM: &str = "local";

pub async fn run(args: UserArgs) -> anyhow::Result<()> {
    let pool = db::connect(&args.database.location()?, &args.database.pool()).await?.pool;
    let result = match args.action {
        UserAction::Add { email, first_name, last_name, publisher_user_id, role, password_stdin } => {
            let email = email.trim();
            anyhow::ensure!(users::is_email(email), "{email:?} is not an email address");
            anyhow::ensure!(
                !first_name.trim().is_empty() && !last_name.trim().is_empty(),
                "--first-name and --last-name must not be empty"
            );
            let hash = password::hash(read_password(password_stdin)?).await?;
            let new = NewUser {
                email,
                first_name: first_name.trim(),
                last_name: last_name.trim(),
                publisher_user_id: publisher_user_id.as_deref().map(str::trim).filter(|s| !s.is_empty()),
                role,
                password_hash: &hash,
            };
            match users::add(&pool, &new, None, unix_now()).await {
                Ok(_) => {}
                Err(AddError::Db(e)) => return Err(e.into()),
                Err(e) => anyhow::bail!("{e}"),
            }
            record(&pool, AuditAction::UserAdd, email, Outcome::Ok, &format!("role {}", role.label())).await?;
            println!("Added {email} ({}).", role.label());
            Ok(())
        }
        UserAction::List => {
            let all = users::list(&pool).await?;
            println!("{:<5} {:<32} {:<28} {:<24} {:<8}", "ID", "EMAIL", "NAME", "ROLE", "STATUS");
            for u in all {
                println!(
                    "{:<5} {:<32} {:<28} {:<24} {:<8}",
                    u.id,
                    u.email,
                    u.full_name(),
                    u.role.label(),
                    u.status.label()
                );
            }
            Ok(())
        }
        UserAction::SetPassword { email, password_stdin } => {
            let user = users::find_by_email(&pool, &email).await?.ok_or_else(|| anyhow::anyhow!("no user {email}"))?;
            let hash = password::hash(read_password(password_stdin)?).await?;
            users::set_password_hash(&pool, user.id, &hash).await?;
            record(&pool, AuditAction::UserPassword, &user.email, Outcome::Ok, "").await?;
            println!("Password of {} changed.", user.email);
            Ok(())
        }
        UserAction::ResetTwoFactor { email } => {
            let user = users::find_by_email(&pool, &email).await?.ok_or_else(|| anyhow::anyhow!("no user {email}"))?;
            if db::two_factor::reset(&pool, user.id).await? {
                record(&pool, AuditAction::UserTwoFactorReset, &user.email, Outcome::Ok, "").await?;
                let email = &user.email;
                println!(
                    "Two-factor sign-in of {email} reset: they sign in with their password alone until they set it up \
                          again."
                );
            } else {
                println!("{} has no two-factor sign-in: nothing to reset.", user.email);
            }
            Ok(())
        }
        UserAction::Remove { email } => {
            let user = users::find_by_email(&pool, &email).await?.ok_or_else(|| anyhow::anyhow!("no user {email}"))?;
            match users::remove(&pool, user.id).await? {
                Change::Done => {
                    record(&pool, AuditAction::UserRemove, &user.email, Outcome::Ok, "").await?;
                    println!("Removed {}.", user.email);
                    Ok(())
                }
                Change::LastAdmin => {
                    record(
                        &pool,
                        AuditAction::UserRemove,
                        &user.email,
                        Outcome::Refused,
                        "last active Publisher Administrator",
                    )
                    .await?;
                    anyhow::bail!("{} is the last active Publisher Administrator and cannot be removed", user.email)
                }
                Change::NotFound => anyhow::bail!("no user {email}"),
            }
        }
    };
    pool.close().await;
    result
}

async fn record(
    pool: &db::Pool,
    action: AuditAction,
    target: &str,
    result: Outcome,
    details: &str,
) -> anyhow::Result<()> {
    audit::record(pool, Entry { actor: ACTOR, ip: FROM, action, target, result, details }).await?;
    Ok(())
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
    password::check_new(&password).map_err(anyhow::Error::msg)?;
    Ok(password)
}
