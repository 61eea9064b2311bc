//! `multi-account doctor`: checks the Kaltura settings against the real service, one line per check, each failure
//! saying what to fix.
//!
//! Whether the partner may have children is asked honestly: `partnerGroupType` is not returned to ordinary
//! sessions, but partner.list filters on it, so listing the partner itself with `partnerGroupTypeEqual` 2 (VAR) or
//! 3 (GROUP) finds it exactly when Kaltura would let it register children. (A plain partner.list proves nothing:
//! every partner lists at least itself. A partner.register probe would be a write on the real service.)

use serde_json::json;
use std::fmt;

use kaltura::{
    Action, FEATURE_MULTI_ACCOUNT_ANALYTICS, KalturaClient, KalturaError, ListResponse, MultiRequest, Pager, Partner,
    PartnerFilter, PartnerGroupType,
};

use crate::config::kaltura::{KalturaSettings, SettingsError};

#[derive(clap::Args, Debug)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub kaltura: KalturaSettings,
    /// The URL users reach the console at: single sign-on's redirect URI is printed from it.
    #[arg(long, env = "MA_PUBLIC_URL", default_value = "http://127.0.0.1:8080",
          value_parser = |s: &str| crate::config::parse_http_url("--public-url", s).map_err(|e| e.to_string()))]
    pub public_url: reqwest::Url,
    #[command(flatten)]
    pub oidc: crate::config::oidc::OidcArgs,
    /// The console's TOML settings file (`serve --config`): its Kaltura settings and `[[parents]]` are checked.
    #[arg(long, env = "MA_CONFIG")]
    pub config: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Works, but something the console offers will be limited.
    Warn,
    Fail,
    /// Not run because an earlier check failed.
    Skip,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub outcome: Outcome,
    pub text: String,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.outcome {
            Outcome::Ok => "ok  ",
            Outcome::Warn => "warn",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "skip",
        };
        write!(f, "{tag} {}", self.text)
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    /// No check failed (warnings pass).
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| matches!(c.outcome, Outcome::Ok | Outcome::Warn))
    }

    fn push(&mut self, outcome: Outcome, text: impl Into<String>) {
        self.checks.push(Check { outcome, text: text.into() });
    }

    fn skip(&mut self, names: &[&str]) {
        for name in names {
            self.push(Outcome::Skip, format!("{name} (needs the checks above)"));
        }
    }
}

/// Runs every check in order; a failure that makes the later ones meaningless skips them.
pub async fn diagnose(settings: &KalturaSettings) -> Report {
    let mut report = Report::default();
    if !settings.is_configured() {
        report.push(Outcome::Fail, SettingsError::NotConfigured.to_string());
        return report;
    }
    let parents = match settings.parent_configs() {
        Ok(parents) => parents,
        Err(e) => {
            report.push(Outcome::Fail, format!("settings: {e}"));
            return report;
        }
    };
    // With several parents each line names its parent; every parent is checked, whatever the others' outcome.
    let several = parents.len() > 1;
    for parent in parents {
        let pid = parent.client.partner_id;
        let mut one = Report::default();
        match KalturaClient::new(parent.client) {
            Ok(client) => diagnose_parent(&client, &mut one).await,
            Err(e) => one.push(Outcome::Fail, format!("settings: {}", SettingsError::Client(e.to_string()))),
        }
        for check in one.checks {
            let text = if several { format!("partner {pid}: {}", check.text) } else { check.text };
            report.push(check.outcome, text);
        }
    }
    report
}

/// The checks of one parent, in order; a failure that makes the later ones meaningless skips them.
async fn diagnose_parent(client: &KalturaClient, report: &mut Report) {
    let cfg = client.config();
    let (url, pid) = (cfg.service_url.clone(), cfg.partner_id);
    report.push(Outcome::Ok, format!("settings: partner {pid} at {url}"));

    if let Err(e) = client.ping().await {
        report.push(Outcome::Fail, format!("service not reachable (system.ping): {e}. Check KALTURA_SERVICE_URL."));
        report.skip(&["admin secret", "VAR/GROUP", "varConsole", "quota", "analytics"]);
        return;
    }
    report.push(Outcome::Ok, format!("service reachable: {url} answered system.ping"));

    let parent = match client.partner_info().await {
        Ok(p) if p.id == pid => p,
        Ok(p) => {
            report.push(
                Outcome::Fail,
                format!("admin secret: the session made for partner {pid} belongs to partner {}", p.id),
            );
            report.skip(&["VAR/GROUP", "varConsole", "quota", "analytics"]);
            return;
        }
        Err(e) => {
            report.push(Outcome::Fail, secret_diagnosis(pid, &e));
            report.skip(&["VAR/GROUP", "varConsole", "quota", "analytics"]);
            return;
        }
    };
    let name = parent.name.clone().unwrap_or_default();
    report.push(Outcome::Ok, format!("admin secret accepted: partner {pid} is {name:?} (partner.getInfo)"));

    let (outcome, text) = group_check(client, pid).await;
    report.push(outcome, text);
    let (outcome, text) = var_console_check(client, &parent).await;
    report.push(outcome, text);
    let (outcome, text) = quota_check(client).await;
    report.push(outcome, text);
    let (outcome, text) = analytics_check(client).await;
    report.push(outcome, text);
}

fn secret_diagnosis(pid: i64, e: &KalturaError) -> String {
    if e.is_invalid_ks() {
        format!(
            "admin secret refused: Kaltura did not accept a session signed with the configured secret for partner \
             {pid} ({e}). Check that KALTURA_PARTNER_ID is the parent account and KALTURA_ADMIN_SECRET its *admin* \
             secret (KMC > Settings > Integration Settings), and that this machine's clock is right."
        )
    } else {
        format!("admin secret: partner.getInfo failed: {e}")
    }
}

/// Lists the partner itself filtered on each group type that may have children, plus the count of its scope.
async fn group_check(client: &KalturaClient, pid: i64) -> (Outcome, String) {
    let probe = |group: PartnerGroupType| {
        let filter =
            PartnerFilter { id_equal: Some(pid), partner_group_type_equal: Some(group), ..PartnerFilter::default() };
        json!({ "filter": filter.to_wire(), "pager": Pager::new(1, 1).to_wire() })
    };
    let mut mr = MultiRequest::new();
    let var = mr.add(Action::PARTNER_LIST, probe(PartnerGroupType::VarGroup));
    let group = mr.add(Action::PARTNER_LIST, probe(PartnerGroupType::Group));
    let all = mr.add(Action::PARTNER_LIST, json!({ "pager": Pager::new(1, 1).to_wire() }));
    let answer = match client.multirequest(&mr).await {
        Ok(r) => r,
        Err(e) => return (Outcome::Fail, format!("VAR/GROUP: partner.list failed: {e}")),
    };
    let count = |r| answer.get::<ListResponse<Partner>>(r).map(|l| l.total_count);
    match (count(var), count(group), count(all)) {
        (Ok(v), Ok(g), Ok(total)) if v + g > 0 => {
            let kind = if v > 0 { "a VAR group" } else { "a group" };
            let children = total - 1;
            (
                Outcome::Ok,
                format!("partner {pid} is {kind}: it may have child accounts, and has {children} (partner.list)"),
            )
        }
        (Ok(_), Ok(_), Ok(_)) => (
            Outcome::Fail,
            format!(
                "partner {pid} is not a VAR/GROUP account: Kaltura will refuse to create child accounts for it \
                 (\"Partner id [{pid}] is not a VAR/GROUP, but is attempting to create child partner\"). Use the \
                 multi-account parent's id and admin secret, or ask Kaltura to make this account a multi-account \
                 parent."
            ),
        ),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            (Outcome::Fail, format!("VAR/GROUP: partner.list failed: {e}"))
        }
    }
}

/// Sets the parent's status to what it already is: a no-op where varConsole is allowed, FEATURE_FORBIDDEN
/// elsewhere.
async fn var_console_check(client: &KalturaClient, parent: &Partner) -> (Outcome, String) {
    let Some(status) = parent.status else {
        return (
            Outcome::Fail,
            "varConsole: partner.getInfo did not say the partner's status, so it was not probed".into(),
        );
    };
    match client.update_status(parent.id, status).await {
        Ok(()) => (
            Outcome::Ok,
            format!(
                "varConsole allowed: Block, Unblock and Remove will work (status {} left as it was)",
                status.label()
            ),
        ),
        Err(e) if e.is_feature_forbidden() => (
            Outcome::Fail,
            format!(
                "varConsole forbidden ({e}): the partner lacks FEATURE_VAR_CONSOLE_LOGIN, so Block, Unblock and \
                 Remove will fail. Ask Kaltura to enable the Multi-Account console for partner {}.",
                parent.id
            ),
        ),
        Err(e) => (Outcome::Fail, format!("varConsole: varconsole_varconsole.updateStatus failed: {e}")),
    }
}

async fn quota_check(client: &KalturaClient) -> (Outcome, String) {
    match crate::accounts::quota(client).await {
        Ok(q) => {
            let text = format!(
                "quota: {} accounts in use, publishersQuota {}, {} more can be added",
                q.used, q.publishers_quota, q.available
            );
            if q.available > 0 {
                (Outcome::Ok, text)
            } else {
                (Outcome::Warn, format!("{text}: Add Account stays disabled until Kaltura raises the quota"))
            }
        }
        Err(e) => (Outcome::Fail, format!("quota: the Accounts page's requests failed: {e}")),
    }
}

async fn analytics_check(client: &KalturaClient) -> (Outcome, String) {
    match client.has_permission(FEATURE_MULTI_ACCOUNT_ANALYTICS).await {
        Ok(true) => (
            Outcome::Ok,
            format!("analytics: the parent has {FEATURE_MULTI_ACCOUNT_ANALYTICS}: the Usage page shows every account"),
        ),
        Ok(false) => (
            Outcome::Warn,
            format!(
                "analytics: the parent lacks {FEATURE_MULTI_ACCOUNT_ANALYTICS} (Kaltura enables it on request): the \
                 Usage page says so instead of showing figures"
            ),
        ),
        Err(e) => (Outcome::Fail, format!("analytics: permission.list failed: {e}")),
    }
}

/// Single sign-on's checks, when it is configured: the redirect URI to register, the provider's metadata, and
/// whether it accepts the console's client (a token request with a code that cannot be valid: a provider answers
/// `invalid_client` to a client it does not know, `invalid_grant` to one it does).
async fn sso_checks(args: &DoctorArgs, report: &mut Report) {
    let oidc = match args.oidc.settings() {
        Ok(Some(oidc)) => oidc,
        Ok(None) => return,
        Err(e) => return report.push(Outcome::Fail, format!("single sign-on: {e}")),
    };
    let sso = match crate::identity::sso::Sso::new(oidc, &args.public_url) {
        Ok(sso) => sso,
        Err(e) => return report.push(Outcome::Fail, format!("single sign-on: {e}")),
    };
    report.push(Outcome::Ok, format!("single sign-on: the redirect URI to register is {}", sso.redirect_uri()));
    match sso.check().await {
        Ok(client) => {
            report.push(Outcome::Ok, format!("single sign-on: {} publishes its configuration and keys", sso.issuer()));
            let (outcome, text) = match client {
                crate::identity::sso::ClientCheck::Accepted => {
                    (Outcome::Ok, "the provider accepts the client id and secret")
                }
                crate::identity::sso::ClientCheck::Refused => {
                    (Outcome::Fail, "the provider refuses the client: check MA_OIDC_CLIENT_ID and the client secret")
                }
                crate::identity::sso::ClientCheck::Unknown => {
                    (Outcome::Warn, "the provider's answer does not tell whether it accepts the client")
                }
            };
            report.push(outcome, format!("single sign-on: {text}"));
        }
        Err(e) => report.push(Outcome::Fail, format!("single sign-on: {} — {e}", sso.issuer())),
    }
}

/// The `doctor` command: prints the checks; an error when any failed.
pub async fn run(args: DoctorArgs) -> anyhow::Result<()> {
    let mut report = diagnose(&args.kaltura).await;
    sso_checks(&args, &mut report).await;
    for check in &report.checks {
        println!("{check}");
    }
    let failed = report.checks.iter().filter(|c| c.outcome == Outcome::Fail).count();
    anyhow::ensure!(report.passed(), "{failed} check(s) failed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_print_with_a_fixed_width_tag() {
        let ok = Check { outcome: Outcome::Ok, text: "service reachable".into() };
        let fail = Check { outcome: Outcome::Fail, text: "quota".into() };
        assert_eq!(ok.to_string(), "ok   service reachable");
        assert_eq!(fail.to_string(), "FAIL quota");
        let mut r = Report::default();
        assert!(!r.passed(), "an empty report proves nothing");
        r.push(Outcome::Warn, "analytics empty");
        assert!(r.passed());
        r.push(Outcome::Skip, "x");
        assert!(!r.passed());
    }
}
