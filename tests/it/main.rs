//! The single integration-test binary: one module per area.

mod client;
mod conformance;
mod doctor;
mod emulator;
mod sign_in;
mod support;
mod user_cli;
mod users_page;
