//! The single integration-test binary: one module per area.

mod account_details;
mod accounts_page;
mod add_account;
mod audit_page;
mod browser;
mod bulk;
mod client;
mod conformance;
mod database;
mod deploy;
mod doctor;
mod emulator;
mod identity;
mod import;
mod parents;
mod polish;
mod replicas;
mod resilience;
mod security;
mod sign_in;
mod sso;
mod support;
mod two_factor;
mod usage;
mod user_cli;
mod users_page;
