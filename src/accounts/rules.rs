//! Who may do what to an account: the one place the row menu, the confirm pages and the actions themselves ask.

use kaltura::PartnerStatus;

use crate::db::audit::AuditAction;

/// Block, Unblock and Remove: the status each sets, and its words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusAction {
    Block,
    Unblock,
    Remove,
}

impl StatusAction {
    pub(crate) const ALL: [StatusAction; 3] = [StatusAction::Block, StatusAction::Unblock, StatusAction::Remove];

    /// The action's name in URLs and audit codes.
    pub(crate) fn key(self) -> &'static str {
        match self {
            StatusAction::Block => "block",
            StatusAction::Unblock => "unblock",
            StatusAction::Remove => "remove",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<StatusAction> {
        StatusAction::ALL.into_iter().find(|a| a.key() == s)
    }

    pub(crate) fn audit_action(self) -> AuditAction {
        match self {
            StatusAction::Block => AuditAction::AccountBlock,
            StatusAction::Unblock => AuditAction::AccountUnblock,
            StatusAction::Remove => AuditAction::AccountRemove,
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            StatusAction::Block => "Block",
            StatusAction::Unblock => "Unblock",
            StatusAction::Remove => "Remove",
        }
    }

    pub(crate) fn target(self) -> PartnerStatus {
        match self {
            StatusAction::Block => PartnerStatus::Blocked,
            StatusAction::Unblock => PartnerStatus::Active,
            StatusAction::Remove => PartnerStatus::Removed,
        }
    }

    pub(crate) fn done(self) -> &'static str {
        match self {
            StatusAction::Block => "blocked",
            StatusAction::Unblock => "unblocked",
            StatusAction::Remove => "removed",
        }
    }

    /// What the action means beyond the question, for the one that cannot be undone here.
    pub(crate) fn consequence(self) -> Option<&'static str> {
        match self {
            StatusAction::Remove => Some(
                "A removed account cannot be restored from this console: its users can no longer sign in, its \
                 details become read only, and a template among them can no longer be chosen in Add Account.",
            ),
            StatusAction::Block | StatusAction::Unblock => None,
        }
    }

    /// The confirmation question (Remove in Kaltura's words).
    pub(crate) fn question(self, name: &str) -> String {
        match self {
            StatusAction::Block => format!(
                "Are you sure you want to block the selected account? ({name}) Its users will not be able to sign in to its Rich Media CMS until it is unblocked."
            ),
            StatusAction::Unblock => format!("Are you sure you want to unblock the selected account? ({name})"),
            StatusAction::Remove => format!("Are you sure you want to remove the selected account? ({name})"),
        }
    }
}

/// How the parent's own Rich Media CMS is opened.
pub(crate) const PARENT_KMC: &str = "This is the parent account: open its Rich Media CMS by signing in there with your \
                                     own Kaltura login. Rich Media CMS Login is for child accounts, as it hands the \
                                     browser an administrator session of the account.";

/// Why a row action is refused: the row menu, the confirm pages and bulk actions all read it from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    ParentEdit,
    /// Rich Media CMS Login would hand the browser an administrator session of the parent, the console's own
    /// credential: the parent's Rich Media CMS is opened with one's own Kaltura login instead.
    ParentKmc,
    Parent,
    Removed,
    /// The account already has the status the action sets.
    Already,
    Status,
}

/// Everything a row offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowAction {
    KmcLogin,
    Status(StatusAction),
    /// Changing the account's details (partner.update under a session of the account itself).
    Edit,
}

impl RowAction {
    fn label(self) -> &'static str {
        match self {
            RowAction::KmcLogin => "Rich Media CMS Login",
            RowAction::Status(a) => a.label(),
            RowAction::Edit => "Editing",
        }
    }

    /// Why the action is not available for an account with this status, or `None` when it is. Nothing is done to
    /// the parent from here: not blocked, removed or edited, and not opened with its administrator session.
    pub(crate) fn check(self, status: Option<PartnerStatus>, is_parent: bool) -> Option<Refusal> {
        let allowed = match self {
            RowAction::KmcLogin if is_parent => return Some(Refusal::ParentKmc),
            RowAction::KmcLogin => status == Some(PartnerStatus::Active),
            // Kaltura applies partner.update to the partner of the session: the parent's own details are its own
            // administrators' to change, in its Rich Media CMS.
            RowAction::Edit if is_parent => return Some(Refusal::ParentEdit),
            // Kaltura refuses every call made for a blocked or removed account, partner.update included.
            RowAction::Edit => status == Some(PartnerStatus::Active),
            _ if is_parent => return Some(Refusal::Parent),
            RowAction::Status(StatusAction::Block) => status == Some(PartnerStatus::Active),
            RowAction::Status(StatusAction::Unblock) => status == Some(PartnerStatus::Blocked),
            RowAction::Status(StatusAction::Remove) => {
                matches!(status, Some(PartnerStatus::Active | PartnerStatus::Blocked))
            }
        };
        (!allowed).then_some(match (self, status) {
            (_, Some(PartnerStatus::Removed)) => Refusal::Removed,
            (RowAction::Status(a), Some(s)) if a.target() == s => Refusal::Already,
            _ => Refusal::Status,
        })
    }

    /// [`Self::check`] in words.
    pub(crate) fn refusal(self, status: Option<PartnerStatus>, is_parent: bool) -> Option<String> {
        let label = self.label();
        self.check(status, is_parent).map(|why| match why {
            Refusal::ParentEdit => "The console edits child accounts: change the parent account's own details in its \
                                    Rich Media CMS (Settings > Account Settings)."
                .to_string(),
            Refusal::ParentKmc => PARENT_KMC.to_string(),
            Refusal::Parent => format!("{label} is not available for the parent account."),
            Refusal::Status if self == RowAction::Edit && status == Some(PartnerStatus::Blocked) => {
                "Editing is not available for an account that is blocked: unblock it to edit its details.".to_string()
            }
            Refusal::Removed | Refusal::Already | Refusal::Status => format!(
                "{label} is not available for an account that is {}.",
                status.map_or("unknown", |s| s.label()).to_lowercase()
            ),
        })
    }

    /// Asked for every row of a page: decided without writing the reason.
    pub(crate) fn allowed(self, status: Option<PartnerStatus>, is_parent: bool) -> bool {
        self.check(status, is_parent).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(action: StatusAction, status: Option<PartnerStatus>, is_parent: bool) -> Option<String> {
        RowAction::Status(action).refusal(status, is_parent)
    }

    #[test]
    fn the_row_action_rules_refuse_what_the_table_does_not_offer() {
        use PartnerStatus::*;
        assert!(refusal(StatusAction::Block, Some(Active), false).is_none());
        assert!(refusal(StatusAction::Block, Some(Blocked), false).is_some());
        assert!(refusal(StatusAction::Unblock, Some(Blocked), false).is_none());
        assert!(refusal(StatusAction::Unblock, Some(Active), false).is_some());
        assert!(refusal(StatusAction::Remove, Some(Blocked), false).is_none());
        assert_eq!(
            refusal(StatusAction::Remove, Some(Removed), false).as_deref(),
            Some("Remove is not available for an account that is removed.")
        );
        assert!(refusal(StatusAction::Block, Some(Active), true).is_some(), "never the parent");
        assert_eq!(
            RowAction::KmcLogin.check(Some(Active), true),
            Some(Refusal::ParentKmc),
            "never the parent's session"
        );
        assert!(RowAction::KmcLogin.allowed(Some(Active), false));
        assert_eq!(
            RowAction::KmcLogin.refusal(Some(Blocked), false).as_deref(),
            Some("Rich Media CMS Login is not available for an account that is blocked.")
        );
    }

    #[test]
    fn only_active_children_are_edited() {
        use PartnerStatus::*;
        assert!(RowAction::Edit.allowed(Some(Active), false));
        assert_eq!(
            RowAction::Edit.refusal(Some(Blocked), false).as_deref(),
            Some("Editing is not available for an account that is blocked: unblock it to edit its details.")
        );
        assert!(RowAction::Edit.refusal(Some(Active), true).is_some_and(|why| why.contains("child accounts")));
    }

    #[test]
    fn refusals_are_typed_for_bulk_actions() {
        use PartnerStatus::*;
        let check = |a: StatusAction, s: PartnerStatus, parent: bool| RowAction::Status(a).check(Some(s), parent);
        assert_eq!(check(StatusAction::Block, Active, true), Some(Refusal::Parent));
        assert_eq!(check(StatusAction::Block, Removed, false), Some(Refusal::Removed));
        assert_eq!(check(StatusAction::Remove, Removed, false), Some(Refusal::Removed));
        assert_eq!(check(StatusAction::Block, Blocked, false), Some(Refusal::Already));
        assert_eq!(check(StatusAction::Unblock, Active, false), Some(Refusal::Already));
        assert_eq!(check(StatusAction::Block, Active, false), None);
    }

    #[test]
    fn remove_asks_in_kalturas_words() {
        assert_eq!(
            StatusAction::Remove.question("Shanghai"),
            "Are you sure you want to remove the selected account? (Shanghai)"
        );
    }
}
