//! One account as a table row: Kaltura's labels, `N/A` for empty values, and the actions its status allows.

use askama::Template;
use kaltura::{Partner, PartnerStatus};

use crate::accounts::rules::{RowAction, StatusAction};
use crate::web::format::kmc_date;

/// Block, Unblock or Remove as the row's menu offers it: asked about first, on the confirm page (in the dialog with
/// JavaScript).
#[derive(Debug, Clone)]
pub(crate) struct MenuAction {
    pub(crate) key: &'static str,
    pub(crate) label: &'static str,
    pub(crate) danger: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) is_parent: bool,
    /// A template account (group type 4): Add Account can copy its content. Kaltura's lists do not say; the details
    /// page asks.
    pub(crate) is_template: bool,
    pub(crate) status_label: &'static str,
    /// A CSS class per status (`active`, `blocked`, `removed`).
    pub(crate) status_class: &'static str,
    pub(crate) admin_name: String,
    pub(crate) admin_email: String,
    pub(crate) phone: String,
    pub(crate) reference_id: String,
    pub(crate) website: String,
    pub(crate) created: String,
    pub(crate) can_kmc_login: bool,
    pub(crate) can_edit: bool,
    /// The status actions the account's status allows, in menu order.
    pub(crate) actions: Vec<MenuAction>,
    /// Whether it is in the user's selection for bulk actions.
    pub(crate) selected: bool,
}

/// What a cell shows for an empty value, as the KMC does.
pub(crate) const NA: &str = "N/A";

pub(crate) fn or_na(v: &Option<String>) -> String {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or(NA).to_string()
}

impl Row {
    pub(crate) fn new(p: &Partner, parent_id: i64) -> Row {
        let is_parent = p.id == parent_id;
        let name = p.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| NA.to_string());
        let status = p.status;
        let (status_label, status_class) = match status {
            Some(s @ PartnerStatus::Active) => (s.label(), "active"),
            Some(s @ PartnerStatus::Blocked) => (s.label(), "blocked"),
            Some(s @ PartnerStatus::Removed) => (s.label(), "removed"),
            Some(s) => (s.label(), "other"),
            None => (NA, "other"),
        };
        let actions = StatusAction::ALL
            .into_iter()
            .filter(|a| RowAction::Status(*a).allowed(status, is_parent))
            .map(|a| MenuAction { key: a.key(), label: a.label(), danger: a == StatusAction::Remove })
            .collect();
        Row {
            id: p.id,
            name: if is_parent { format!("{name} (Parent Account)") } else { name },
            is_parent,
            is_template: false,
            status_label,
            status_class,
            admin_name: or_na(&p.admin_name),
            admin_email: or_na(&p.admin_email),
            phone: or_na(&p.phone),
            reference_id: or_na(&p.reference_id),
            website: or_na(&p.website),
            created: kmc_date(p.created_at),
            can_kmc_login: RowAction::KmcLogin.allowed(status, is_parent),
            can_edit: RowAction::Edit.allowed(status, is_parent),
            actions,
            selected: false,
        }
    }

    /// A row that allows any of Block, Unblock and Remove has a checkbox for bulk actions.
    pub(crate) fn selectable(&self) -> bool {
        !self.actions.is_empty()
    }

    pub(crate) fn has_actions(&self) -> bool {
        self.can_kmc_login || !self.actions.is_empty()
    }

    /// The name without the parent suffix (the page marks the parent apart; the export has a column for it).
    pub(crate) fn plain_name(&self) -> &str {
        self.name.strip_suffix(" (Parent Account)").unwrap_or(&self.name)
    }
}

#[derive(Template)]
#[template(path = "kmc_login_error.html")]
struct KmcLoginError<'a> {
    message: &'a str,
}

/// The page the new tab shows when Rich Media CMS Login cannot go ahead.
pub(crate) fn kmc_login_error(message: &str) -> String {
    KmcLoginError { message }.render().unwrap_or_else(|_| "Rich Media CMS Login failed.".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partner(id: i64, status: PartnerStatus) -> Partner {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": "Shanghai", "status": status.code(), "createdAt": 1_558_444_680,
            "adminName": "Muh Wih", "phone": "", "website": "www.kaltura.com"
        }))
        .unwrap()
    }

    #[test]
    fn rows_use_kalturas_labels_and_na_for_empty_values() {
        let r = Row::new(&partner(6475, PartnerStatus::Active), 6464);
        assert_eq!(r.created, "05/21/2019 13:18");
        assert_eq!(r.phone, "N/A");
        assert_eq!(r.reference_id, "N/A");
        assert_eq!(r.website, "www.kaltura.com");
        assert_eq!(r.status_label, "Active");
    }

    #[test]
    fn actions_follow_the_status_table() {
        let actions = |r: Row| {
            let has = |key: &str| r.actions.iter().any(|a| a.key == key);
            (r.can_kmc_login, has("block"), has("unblock"), has("remove"))
        };
        assert_eq!(actions(Row::new(&partner(1, PartnerStatus::Active), 9)), (true, true, false, true));
        assert_eq!(actions(Row::new(&partner(1, PartnerStatus::Blocked), 9)), (false, false, true, true));
        assert_eq!(actions(Row::new(&partner(1, PartnerStatus::Removed), 9)), (false, false, false, false));
        let parent = Row::new(&partner(9, PartnerStatus::Active), 9);
        assert_eq!(parent.name, "Shanghai (Parent Account)");
        assert_eq!(actions(parent), (false, false, false, false), "nothing for the parent, not even its session");
    }
}
