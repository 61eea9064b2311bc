//! The append-only audit log: sign-ins, failures, lock-outs and every change to users.

use sqlx::SqlitePool;

/// One line of the log. `actor` is the signed-in user's email (or `cli` / `system`), `ip` where the request came from.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub actor: &'a str,
    pub ip: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub result: Outcome,
    pub details: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Refused,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
        }
    }
}

pub async fn record(pool: &SqlitePool, e: Entry<'_>) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO audit_log (at, actor, ip, action, target, result, details) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(super::unix_now())
        .bind(e.actor)
        .bind(e.ip)
        .bind(e.action)
        .bind(e.target)
        .bind(e.result.as_str())
        .bind(e.details)
        .execute(pool)
        .await?;
    Ok(())
}
