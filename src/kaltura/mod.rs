//! Talking to Kaltura: the KS algorithm shared by the client and the emulator, and the console's typed client.
pub mod client;
pub mod error;
pub mod ks;
pub mod multirequest;
pub mod secret;
pub mod settings;
pub mod types;

pub use client::{ClientConfig, Clock, KalturaClient};
pub use error::KalturaError;
pub use multirequest::{MultiRequest, MultiResponse, ResultRef};
pub use secret::random_secret;
pub use secret::{ImpersonatedKs, Secret, SecretUrl};
pub use settings::{KalturaSettings, SettingsError};
pub use types::{
    AccountsPage, ListResponse, NewAccount, Pager, Partner, PartnerFilter, PartnerGroupType, PartnerStatus, Quota,
    ReportQuery, ReportTable, ReportTotal, is_kaltura_email,
};
