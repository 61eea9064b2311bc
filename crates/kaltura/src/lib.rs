//! Kaltura's api_v3 from Rust: the wire format, the KS algorithm (shared by the console's client and the
//! emulator), multirequests, the objects the console reads and sends, and a typed client.
//!
//! It knows the API, not any page that uses it.

mod action;
mod client;
mod error;
pub mod ks;
mod multirequest;
mod reports;
mod secret;
mod types;

pub use action::Action;
pub use client::{ClientConfig, Clock, InvalidUrl, KalturaClient, normalize_service_url};
pub use error::KalturaError;
pub use multirequest::{MultiRequest, MultiResponse, ResultRef};
pub use reports::{
    FEATURE_MULTI_ACCOUNT_ANALYTICS, Permission, ReportGraph, ReportInterval, ReportQuery, ReportTable, ReportTotal,
};
pub use secret::{ImpersonatedKs, Secret, SecretUrl, random_secret};
pub use types::{
    ListResponse, NewAccount, Pager, Partner, PartnerChanges, PartnerField, PartnerFilter, PartnerGroupType,
    PartnerOrder, PartnerOrderField, PartnerStatus, User, UserFilter, UserStatus, is_kaltura_email,
};
