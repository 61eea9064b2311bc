//! Administration › Multi Account. A placeholder until the accounts list lands, so sign-in has a page to open.

use askama::Template;
use axum::Router;
use axum::response::Html;
use axum::routing::get;

use super::auth::AdminUser;
use super::{AppState, Nav, render};
use crate::error::AppError;

pub fn router() -> Router<AppState> {
    Router::new().route("/accounts", get(show))
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    nav: Nav,
}

async fn show(AdminUser(me): AdminUser) -> Result<Html<String>, AppError> {
    render(&AccountsPage { nav: Nav::for_user(&me, "accounts") })
}
