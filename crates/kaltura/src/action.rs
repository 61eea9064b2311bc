//! The api_v3 actions, each knowing whether sending it twice is harmless: the client retries only those.

use std::fmt;

/// One `service.action` of api_v3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    service: &'static str,
    name: &'static str,
    repeatable: bool,
}

impl Action {
    pub const SYSTEM_PING: Action = Action::read("system", "ping");
    pub const PARTNER_GET: Action = Action::read("partner", "get");
    pub const PARTNER_GET_INFO: Action = Action::read("partner", "getInfo");
    pub const PARTNER_LIST: Action = Action::read("partner", "list");
    pub const PARTNER_COUNT: Action = Action::read("partner", "count");
    /// Creates an account: sent once, whatever happens.
    pub const PARTNER_REGISTER: Action = Action::once("partner", "register");
    /// Setting a status twice leaves it as once.
    pub const UPDATE_STATUS: Action = Action::read("varconsole_varconsole", "updateStatus");
    /// Setting the same values twice leaves them as once.
    pub const PARTNER_UPDATE: Action = Action::read("partner", "update");
    pub const USER_LIST: Action = Action::read("user", "list");
    pub const USER_GET: Action = Action::read("user", "get");
    pub const SESSION_IMPERSONATE: Action = Action::read("session", "impersonate");
    pub const REPORT_GET_TABLE: Action = Action::read("report", "getTable");
    pub const REPORT_GET_TOTAL: Action = Action::read("report", "getTotal");
    pub const REPORT_GET_GRAPHS: Action = Action::read("report", "getGraphs");
    pub const PERMISSION_LIST: Action = Action::read("permission", "list");

    /// An action that changes nothing, or changes it the same way every time: safe to send again.
    pub const fn read(service: &'static str, name: &'static str) -> Action {
        Action { service, name, repeatable: true }
    }

    /// An action that must never be sent twice (it creates something).
    pub const fn once(service: &'static str, name: &'static str) -> Action {
        Action { service, name, repeatable: false }
    }

    pub const fn service(self) -> &'static str {
        self.service
    }

    pub const fn name(self) -> &'static str {
        self.name
    }

    pub const fn is_repeatable(self) -> bool {
        self.repeatable
    }
}

/// `service.action`, as logs and messages name a call.
impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.service, self.name)
    }
}
