//! Signing in and out.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tower_sessions::Session;

use super::auth::{self, CurrentUser, local_path};
use super::{AppError, AppState, ClientIp, Nav, render};
use crate::db::audit::{self, AuditAction, Entry, Outcome};
use crate::db::{throttle, unix_now, users};
use crate::password;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/login", get(show).post(submit)).route("/logout", post(logout))
}

const WRONG: &str = "Wrong email or password.";
const HOME: &str = "/accounts";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    nav: Nav,
    email: &'a str,
    next: &'a str,
    error: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

fn next_or_home(next: Option<&str>) -> &str {
    next.and_then(local_path).unwrap_or(HOME)
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    let next = next_or_home(q.next.as_deref());
    if auth::current_user(&state, &session).await?.is_some() {
        return Ok(Redirect::to(next).into_response());
    }
    Ok(render(&LoginPage { nav: Nav::anonymous(), email: "", next, error: None })?.into_response())
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

async fn submit(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let db = &state.db;
    let email = form.email.trim();
    let next = next_or_home(form.next.as_deref());
    let now = unix_now();
    let audit = |action: AuditAction, result: Outcome, details: &'static str| Entry {
        actor: email,
        ip: &ip,
        action,
        target: email,
        result,
        details,
    };
    let page = |status: StatusCode, error: String| -> Result<Response, AppError> {
        let page = LoginPage { nav: Nav::anonymous(), email, next, error: Some(error) };
        Ok((status, render(&page)?).into_response())
    };

    if let Some(until) = throttle::locked_until(db, email, &ip, now).await? {
        audit::record(db, audit(AuditAction::LoginRefused, Outcome::Refused, "locked out after repeated failures"))
            .await?;
        return page(StatusCode::TOO_MANY_REQUESTS, locked_message(until - now));
    }

    let user = users::find_by_email(db, email).await?;
    let verified = password::verify(form.password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let user = match user {
        Some(u) if verified && u.is_active() => u,
        other => {
            let why = match other {
                None => "unknown email",
                Some(u) if !u.is_active() => "user is blocked",
                Some(_) => "wrong password",
            };
            throttle::record_failure(db, email, &ip, now).await?;
            audit::record(db, audit(AuditAction::LoginFailure, Outcome::Refused, why)).await?;
            if let Some(until) = throttle::locked_until(db, email, &ip, now).await? {
                audit::record(db, audit(AuditAction::LoginLockout, Outcome::Refused, "too many failures")).await?;
                return page(StatusCode::TOO_MANY_REQUESTS, format!("{WRONG} {}", locked_message(until - now)));
            }
            return page(StatusCode::UNAUTHORIZED, WRONG.to_owned());
        }
    };

    auth::sign_in(&session, user.id).await?;
    users::touch_last_login(db, user.id, now).await?;
    throttle::clear_email(db, email).await?;
    audit::record(db, Entry { actor: &user.email, target: &user.email, ..audit(AuditAction::Login, Outcome::Ok, "") })
        .await?;
    Ok(Redirect::to(next).into_response())
}

fn locked_message(secs_left: i64) -> String {
    let minutes = (secs_left.max(1) + 59) / 60;
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    format!("Too many failed sign-in attempts: sign-in is locked for {minutes} {unit}.")
}

async fn logout(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
) -> Result<Response, AppError> {
    session.flush().await?;
    audit::record(
        &state.db,
        Entry {
            actor: &user.email,
            ip: &ip,
            action: AuditAction::Logout,
            target: &user.email,
            result: Outcome::Ok,
            details: "",
        },
    )
    .await?;
    Ok(Redirect::to("/login").into_response())
}
