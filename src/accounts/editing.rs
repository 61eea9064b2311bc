//! Editing a child's details without losing anyone's update: the form carries what it was opened with, and a save
//! compares that with what Kaltura holds now. A field someone else changed meanwhile is never overwritten silently:
//! both values go back to the user, who chooses. Only the fields the user changed are sent, so a change made
//! upstream to any other field stays. Saved through partner.update under a session impersonating the child.

use kaltura::{PartnerChanges, PartnerField};
use std::collections::{BTreeMap, BTreeSet};

use super::creation::{MAX_ADMIN_EMAIL, MAX_ADMIN_NAME, MAX_NAME, MAX_PHONE, MAX_REFERENCE_ID, MAX_WEBSITE};
use super::rules::RowAction;
use super::{Accounts, ActionError, Actor};
use crate::db::audit::{AuditAction, Outcome};
use kaltura::Partner;

/// What a description may hold (Kaltura's column is a text; this keeps a form submission bounded).
pub(crate) const MAX_DESCRIPTION: usize = 1024;
/// Country and state are two-letter codes (kaltura-api.md §3).
pub(crate) const MAX_CODE: usize = 2;

const REQUIRED: &str = "Value is required and can't be empty";
const INVALID_EMAIL: &str = "Invalid email format";

/// The order the edit form shows the fields in: Add Account's, then the fields only editing has.
pub(crate) const FORM_ORDER: [PartnerField; 9] = [
    PartnerField::AdminName,
    PartnerField::Name,
    PartnerField::AdminEmail,
    PartnerField::Phone,
    PartnerField::Website,
    PartnerField::ReferenceId,
    PartnerField::Description,
    PartnerField::Country,
    PartnerField::State,
];

/// The Add Account form's label of each field, and the name its input has in forms.
pub(crate) fn label(field: PartnerField) -> &'static str {
    match field {
        PartnerField::Name => "Account Name",
        PartnerField::AdminName => "Administrator",
        PartnerField::AdminEmail => "Administrator Email",
        PartnerField::Phone => "Administrator Phone",
        PartnerField::Website => "Website URL",
        PartnerField::Description => "Description",
        PartnerField::ReferenceId => "Reference ID",
        PartnerField::Country => "Country",
        PartnerField::State => "State",
    }
}

pub(crate) fn input_name(field: PartnerField) -> &'static str {
    match field {
        PartnerField::Name => "name",
        PartnerField::AdminName => "admin_name",
        PartnerField::AdminEmail => "admin_email",
        PartnerField::Phone => "phone",
        PartnerField::Website => "website",
        PartnerField::Description => "description",
        PartnerField::ReferenceId => "reference_id",
        PartnerField::Country => "country",
        PartnerField::State => "state",
    }
}

pub(crate) fn max_len(field: PartnerField) -> usize {
    match field {
        PartnerField::Name => MAX_NAME,
        PartnerField::AdminName => MAX_ADMIN_NAME,
        PartnerField::AdminEmail => MAX_ADMIN_EMAIL,
        PartnerField::Phone => MAX_PHONE,
        PartnerField::Website => MAX_WEBSITE,
        PartnerField::Description => MAX_DESCRIPTION,
        PartnerField::ReferenceId => MAX_REFERENCE_ID,
        PartnerField::Country | PartnerField::State => MAX_CODE,
    }
}

/// Kaltura refuses a partner without these (partner.register's mandatory properties).
fn is_required(field: PartnerField) -> bool {
    matches!(field, PartnerField::Name | PartnerField::AdminName | PartnerField::AdminEmail)
}

/// A value of every editable field, trimmed; `""` where there is none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Values(BTreeMap<PartnerField, String>);

impl Values {
    pub(crate) fn of(partner: &Partner) -> Values {
        Values(
            PartnerField::ALL.into_iter().map(|f| (f, f.get(partner).unwrap_or_default().trim().to_string())).collect(),
        )
    }

    /// Reads each field from `get(input name)`; a missing one is `""`.
    pub(crate) fn read(get: impl Fn(&str) -> Option<String>) -> Values {
        Values(
            PartnerField::ALL
                .into_iter()
                .map(|f| (f, get(input_name(f)).unwrap_or_default().trim().to_string()))
                .collect(),
        )
    }

    pub(crate) fn get(&self, field: PartnerField) -> &str {
        self.0.get(&field).map_or("", String::as_str)
    }

    fn set(&mut self, field: PartnerField, value: String) {
        self.0.insert(field, value);
    }
}

/// An edit as submitted: the values the form was opened with, the user's values, and, for fields that were in
/// conflict, the ones where the user chose the value Kaltura has now.
#[derive(Debug, Clone, Default)]
pub(crate) struct Edit {
    pub(crate) loaded: Values,
    pub(crate) mine: Values,
    pub(crate) take_theirs: BTreeSet<PartnerField>,
}

/// One field's change, for the audit log and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub(crate) field: PartnerField,
    pub(crate) before: String,
    pub(crate) after: String,
}

/// A field the user changed that someone else also changed, to something else, since the form was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Conflict {
    pub(crate) field: PartnerField,
    pub(crate) mine: String,
    pub(crate) theirs: String,
}

pub(crate) type FieldErrors = BTreeMap<PartnerField, String>;

pub(crate) enum EditOutcome {
    Saved {
        partner: Box<Partner>,
        changes: Vec<Change>,
        /// Fields Kaltura saved differently from what was sent (it strips HTML tags).
        altered: Vec<PartnerField>,
    },
    /// The form changed nothing.
    Unchanged(Box<Partner>),
    /// Nothing was saved; the form goes back with these messages.
    Invalid(FieldErrors),
    /// Nothing was saved: these fields changed upstream. `current` is what Kaltura has now, the form's new base;
    /// `form` is what the form shows again: the user's changes, and Kaltura's values where the user changed nothing.
    Conflicts { current: Box<Partner>, form: Values, conflicts: Vec<Conflict> },
}

pub(crate) fn validate(values: &Values) -> FieldErrors {
    let mut errors = FieldErrors::new();
    for field in PartnerField::ALL {
        let v = values.get(field);
        let max = max_len(field);
        let problem = if v.is_empty() {
            is_required(field).then(|| REQUIRED.to_string())
        } else if v.chars().count() > max {
            Some(format!("Must be at most {max} characters"))
        } else if field == PartnerField::AdminEmail && !kaltura::is_kaltura_email(v) {
            Some(INVALID_EMAIL.to_string())
        } else if matches!(field, PartnerField::Country | PartnerField::State)
            && !v.chars().all(|c| c.is_ascii_alphabetic())
        {
            Some("Use a two-letter code, such as US".to_string())
        } else if matches!(
            field,
            PartnerField::Name | PartnerField::AdminName | PartnerField::Phone | PartnerField::ReferenceId
        ) {
            crate::spreadsheet::formula_refusal(v).map(str::to_owned)
        } else {
            None
        };
        if let Some(p) = problem {
            errors.insert(field, p);
        }
    }
    errors
}

/// Compares the user's values with what the form was opened with and what Kaltura holds now: the changes to send,
/// or the conflicts to show.
pub(crate) fn merge(edit: &Edit, now: &Values) -> Result<Vec<Change>, Vec<Conflict>> {
    let (mut changes, mut conflicts) = (Vec::new(), Vec::new());
    for field in PartnerField::ALL {
        let (loaded, now_v) = (edit.loaded.get(field), now.get(field));
        let mine = if edit.take_theirs.contains(&field) { loaded } else { edit.mine.get(field) };
        if mine == now_v || mine == loaded {
            // Nothing to send: either it already holds this value, or the user left it as it was (and a change made
            // upstream meanwhile stays).
            continue;
        }
        if loaded != now_v {
            conflicts.push(Conflict { field, mine: mine.to_string(), theirs: now_v.to_string() });
        } else {
            changes.push(Change { field, before: now_v.to_string(), after: mine.to_string() });
        }
    }
    if conflicts.is_empty() { Ok(changes) } else { Err(conflicts) }
}

/// The form to show again after a conflict, on top of Kaltura's values now: what the user changed stays, every
/// other field takes the value it has now (so saving again does not undo a change made upstream).
fn rebase(edit: &Edit, now: &Values) -> Values {
    let mut form = now.clone();
    for field in PartnerField::ALL {
        let mine = edit.mine.get(field);
        if mine != edit.loaded.get(field) {
            form.set(field, mine.to_string());
        }
    }
    form
}

/// The audit entry's details: each change with its value before and after.
fn describe(changes: &[Change]) -> String {
    changes.iter().map(|c| format!("{}: {:?} → {:?}", label(c.field), c.before, c.after)).collect::<Vec<_>>().join("; ")
}

impl Accounts {
    /// Saves an edit of the child `id`, audited when it reached Kaltura (saved or refused there).
    pub(crate) async fn edit(&self, actor: Actor<'_>, id: i64, mut edit: Edit) -> Result<EditOutcome, ActionError> {
        // A choice of "theirs" keeps the value the form was reopened with, which was Kaltura's then.
        for field in std::mem::take(&mut edit.take_theirs) {
            let loaded = edit.loaded.get(field).to_string();
            edit.mine.set(field, loaded);
        }
        let current = self.allowed(id, RowAction::Edit).await?;
        let errors = validate(&edit.mine);
        if !errors.is_empty() {
            return Ok(EditOutcome::Invalid(errors));
        }
        let now = Values::of(&current);
        let changes = match merge(&edit, &now) {
            Ok(changes) => changes,
            Err(conflicts) => {
                let form = rebase(&edit, &now);
                return Ok(EditOutcome::Conflicts { current: Box::new(current), form, conflicts });
            }
        };
        if changes.is_empty() {
            return Ok(EditOutcome::Unchanged(Box::new(current)));
        }
        let request = PartnerChanges { changes: changes.iter().map(|c| (c.field, c.after.clone())).collect() };
        let target = id.to_string();
        match self.kaltura.update_child(id, &request).await {
            Ok(saved) => {
                let after = Values::of(&saved);
                let altered = changes.iter().filter(|c| after.get(c.field) != c.after).map(|c| c.field).collect();
                let changes: Vec<Change> =
                    changes.into_iter().map(|c| Change { after: after.get(c.field).to_string(), ..c }).collect();
                self.audit(actor, AuditAction::AccountEdit, &target, Outcome::Ok, &describe(&changes)).await?;
                Ok(EditOutcome::Saved { partner: Box::new(saved), changes, altered })
            }
            Err(e) => {
                let details = format!("{} (not saved: {e})", describe(&changes));
                self.audit(actor, AuditAction::AccountEdit, &target, Outcome::Refused, &details).await?;
                Err(e.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(PartnerField, &str)]) -> Values {
        let mut v = Values::default();
        for (f, s) in pairs {
            v.set(*f, (*s).to_string());
        }
        v
    }

    #[test]
    fn only_what_the_user_changed_is_sent_and_upstream_changes_elsewhere_stay() {
        use PartnerField::*;
        let loaded = values(&[(Name, "Acme"), (Phone, "1")]);
        let edit = Edit { loaded, mine: values(&[(Name, "Acme Media"), (Phone, "1")]), take_theirs: BTreeSet::new() };
        // Someone changed the phone meanwhile: not a conflict, and not overwritten.
        let now = values(&[(Name, "Acme"), (Phone, "2")]);
        assert_eq!(
            merge(&edit, &now),
            Ok(vec![Change { field: Name, before: "Acme".into(), after: "Acme Media".into() }])
        );
    }

    #[test]
    fn a_field_both_changed_differently_is_a_conflict_unless_they_agree() {
        use PartnerField::*;
        let loaded = values(&[(Name, "Acme")]);
        let edit = Edit { loaded, mine: values(&[(Name, "Mine")]), take_theirs: BTreeSet::new() };
        assert_eq!(
            merge(&edit, &values(&[(Name, "Theirs")])),
            Err(vec![Conflict { field: Name, mine: "Mine".into(), theirs: "Theirs".into() }])
        );
        assert_eq!(merge(&edit, &values(&[(Name, "Mine")])), Ok(vec![]));
    }

    #[test]
    fn after_a_conflict_the_form_keeps_the_users_changes_over_kalturas_values() {
        use PartnerField::*;
        let edit = Edit {
            loaded: values(&[(Name, "Acme"), (Phone, "1")]),
            mine: values(&[(Name, "Mine"), (Phone, "1")]),
            take_theirs: BTreeSet::new(),
        };
        let now = values(&[(Name, "Theirs"), (Phone, "2")]);
        assert_eq!(rebase(&edit, &now), values(&[(Name, "Mine"), (Phone, "2")]));
    }

    #[test]
    fn the_forms_rules_and_messages() {
        use PartnerField::*;
        let e = validate(&values(&[(AdminEmail, "nope"), (Country, "USA"), (State, "1x")]));
        assert_eq!(e.get(&Name).map(String::as_str), Some(REQUIRED));
        assert_eq!(e.get(&AdminEmail).map(String::as_str), Some(INVALID_EMAIL));
        assert_eq!(e.get(&Country).map(String::as_str), Some("Must be at most 2 characters"));
        assert_eq!(e.get(&State).map(String::as_str), Some("Use a two-letter code, such as US"));
        assert!(!e.contains_key(&Phone), "the phone may be empty");
    }
}
