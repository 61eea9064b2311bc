//! The multi-account console: a self-hosted replacement for Kaltura's Multi-Account tab. `ARCHITECTURE.md` maps
//! the modules and what each may use.

pub mod accounts;
pub mod app;
pub mod cli;
pub mod config;
pub mod db;
mod numbers;
pub mod password;
mod spreadsheet;
pub mod sso;
pub mod two_factor;
mod usage;
mod web;
