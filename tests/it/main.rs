//! The single integration-test binary: one module per area.

mod add_account;
mod client;
mod conformance;
mod doctor;
mod emulator;
mod sign_in;
mod support;
mod user_cli;
mod users_page;
