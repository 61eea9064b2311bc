//! One account as a table row: Kaltura's labels, `N/A` for empty values, and the actions its status allows.

use askama::Template;

use crate::kaltura::{Partner, PartnerStatus};

#[derive(Debug, Clone)]
pub struct Row {
    pub id: i64,
    pub name: String,
    pub is_parent: bool,
    pub status_label: &'static str,
    /// A CSS class per status (`active`, `blocked`, `removed`).
    pub status_class: &'static str,
    pub admin_name: String,
    pub admin_email: String,
    pub phone: String,
    pub reference_id: String,
    pub website: String,
    pub created: String,
    pub can_kmc_login: bool,
    pub can_block: bool,
    pub can_unblock: bool,
    pub can_remove: bool,
}

const NA: &str = "N/A";

fn or_na(v: &Option<String>) -> String {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or(NA).to_string()
}

/// Creation Date as the KMC shows it: `MM/DD/YYYY HH:mm` (UTC here).
pub fn format_date(unix: Option<i64>) -> String {
    let format = time::macros::format_description!("[month]/[day]/[year] [hour]:[minute]");
    unix.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_else(|| NA.to_string())
}

impl Row {
    pub fn new(p: &Partner, parent_id: i64) -> Row {
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
        let active = status == Some(PartnerStatus::Active);
        let blocked = status == Some(PartnerStatus::Blocked);
        Row {
            id: p.id,
            name: if is_parent { format!("{name} (Parent Account)") } else { name },
            is_parent,
            status_label,
            status_class,
            admin_name: or_na(&p.admin_name),
            admin_email: or_na(&p.admin_email),
            phone: or_na(&p.phone),
            reference_id: or_na(&p.reference_id),
            website: or_na(&p.website),
            created: format_date(p.created_at),
            can_kmc_login: active,
            can_block: active && !is_parent,
            can_unblock: blocked && !is_parent,
            can_remove: (active || blocked) && !is_parent,
        }
    }

    pub fn has_actions(&self) -> bool {
        self.can_kmc_login || self.can_block || self.can_unblock || self.can_remove
    }

    /// The confirmation question for `block`, `unblock` or `remove` (asked by htmx before it posts).
    pub fn question(&self, action: &str) -> String {
        super::StatusAction::parse(action).map(|a| a.question(self.plain_name())).unwrap_or_default()
    }

    /// An email or address as HTML that may wrap after `@`, `.` and `/` rather than mid-word.
    pub fn breakable(value: &str) -> String {
        let mut out = String::with_capacity(value.len() + 16);
        for c in value.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                c => out.push(c),
            }
            if matches!(c, '@' | '.' | '/') {
                out.push_str("<wbr>");
            }
        }
        out
    }

    /// The name without the parent suffix, for confirmations.
    pub fn plain_name(&self) -> &str {
        self.name.strip_suffix(" (Parent Account)").unwrap_or(&self.name)
    }
}

#[derive(Template)]
#[template(path = "kmc_login_error.html")]
struct KmcLoginError<'a> {
    message: &'a str,
}

/// The page the new tab shows when Rich Media CMS Login cannot go ahead.
pub fn kmc_login_error(message: &str) -> String {
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
    fn long_addresses_wrap_at_separators_and_stay_escaped() {
        assert_eq!(Row::breakable("a.b@c.example"), "a.<wbr>b@<wbr>c.<wbr>example");
        assert_eq!(Row::breakable("<x>&\"'"), "&lt;x&gt;&amp;&quot;&#39;");
    }

    #[test]
    fn actions_follow_the_status_table() {
        let actions = |r: Row| (r.can_kmc_login, r.can_block, r.can_unblock, r.can_remove);
        assert_eq!(actions(Row::new(&partner(1, PartnerStatus::Active), 9)), (true, true, false, true));
        assert_eq!(actions(Row::new(&partner(1, PartnerStatus::Blocked), 9)), (false, false, true, true));
        assert_eq!(actions(Row::new(&partner(1, PartnerStatus::Removed), 9)), (false, false, false, false));
        let parent = Row::new(&partner(9, PartnerStatus::Active), 9);
        assert_eq!(parent.name, "Shanghai (Parent Account)");
        assert_eq!(actions(parent), (true, false, false, false));
    }
}
