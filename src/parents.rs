//! The parent partners one console serves: each with its own Kaltura client, and so its own accounts and usage
//! services. Every parent-scoped page, action and job goes through the [`Parent`] that owns it.

use reqwest::Url;
use std::sync::{Arc, OnceLock, RwLock};

use kaltura::{KalturaError, MultiRequest};

use crate::accounts::{self, Accounts, AccountsSummary};
use crate::usage::{Totals, Usage};

/// One parent partner and what serves it.
pub struct Parent {
    pub id: i64,
    /// The name the settings give it, if any (e.g. a region).
    pub label: Option<String>,
    /// Where Rich Media CMS Login opens its children's KMC.
    pub kmc_url: Url,
    /// Where the quota banner's "Contact Kaltura" leads.
    pub support_url: Url,
    pub(crate) accounts: Accounts,
    pub(crate) usage: Usage,
    /// Kaltura's name for it, learnt from the first answer that gives it.
    name: RwLock<Option<String>>,
    /// Why Kaltura does not serve it, as found at start.
    problem: OnceLock<String>,
}

impl Parent {
    pub(crate) fn new(label: Option<String>, urls: (Url, Url), accounts: Accounts, usage: Usage) -> Parent {
        let (kmc_url, support_url) = urls;
        Parent {
            id: accounts.parent_id(),
            label,
            kmc_url,
            support_url,
            accounts,
            usage,
            name: RwLock::default(),
            problem: OnceLock::new(),
        }
    }

    /// Kaltura's name for the parent, once known.
    pub fn name(&self) -> Option<String> {
        self.name.read().ok().and_then(|n| n.clone())
    }

    pub(crate) fn learn_name(&self, name: &str) {
        if self.name().as_deref() != Some(name)
            && let Ok(mut kept) = self.name.write()
        {
            *kept = Some(name.to_owned());
        }
    }

    /// Why Kaltura does not serve it, if it said so at start.
    pub fn problem(&self) -> Option<&str> {
        self.problem.get().map(String::as_str)
    }

    pub(crate) fn note_problem(&self, problem: String) {
        let _ = self.problem.set(problem);
    }

    /// How people tell it apart: its label and Kaltura's name, either alone, or else its partner id.
    pub fn title(&self) -> String {
        match (&self.label, self.name()) {
            (Some(label), Some(name)) if *label != name => format!("{label} — {name}"),
            (Some(label), _) => label.clone(),
            (None, Some(name)) => name,
            (None, None) => format!("Partner {}", self.id),
        }
    }

    /// Its row of the overview, in one request to Kaltura: the accounts at a glance and this month's usage (`None`
    /// without the analytics permission).
    pub(crate) async fn summary(&self) -> Result<(AccountsSummary, Option<Totals>), KalturaError> {
        let mut mr = MultiRequest::new();
        let accounts = accounts::summary_calls(&mut mr);
        let month = self.usage.month_calls(&mut mr);
        let r = self.accounts.send_shared(&mr).await?;
        let summary = accounts::read_summary(&r, &accounts)?;
        if let Some(name) = &summary.name {
            self.learn_name(name);
        }
        Ok((summary, Usage::read_month(&r, &month)?))
    }

    /// The start of every URL of its pages.
    pub fn base(&self) -> String {
        format!("/parents/{}", self.id)
    }
}

/// Every parent the console serves, in the order the settings give them (the first is where a user with no last
/// parent lands).
#[derive(Clone)]
pub struct Parents(Arc<Vec<Arc<Parent>>>);

impl Parents {
    /// At least one parent.
    pub(crate) fn new(list: Vec<Parent>) -> anyhow::Result<Parents> {
        anyhow::ensure!(!list.is_empty(), "no parent partner is configured");
        Ok(Parents(Arc::new(list.into_iter().map(Arc::new).collect())))
    }

    pub fn get(&self, id: i64) -> Option<&Arc<Parent>> {
        self.0.iter().find(|p| p.id == id)
    }

    pub fn first(&self) -> &Arc<Parent> {
        &self.0[0]
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Parent>> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
