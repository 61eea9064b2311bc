//! The multi-account console: a self-hosted replacement for Kaltura's Multi-Account tab. `ARCHITECTURE.md` maps
//! the modules and what each may use.

pub mod accounts;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod identity;
mod numbers;
pub mod parents;
pub mod retention;
pub mod seal;
mod spreadsheet;
mod usage;
mod web;
