//! What the emulator starts with: the demo organisation of the administrator's guide, synthetic children for
//! scale, or a TOML/JSON file describing partners, secrets and quotas.

use serde::Deserialize;
use std::path::Path;

use super::store::{
    self, FEATURE_MULTI_ACCOUNT_ANALYTICS, FEATURE_VAR_CONSOLE_LOGIN, GROUP_PUBLISHER, GROUP_TEMPLATE, GROUP_VAR,
    Partner, ROLE_PUBLISHER_ADMIN, STATUS_ACTIVE, STATUS_BLOCKED, STATUS_REMOVED, Store, USER_ACTIVE, USER_BLOCKED,
};
use kaltura::random_secret;

/// The parent partner of the demo seed.
pub const DEMO_PARENT_ID: i64 = 6464;
/// The demo parent administrator's Rich Media CMS password (user.loginByLoginId).
pub const DEMO_ADMIN_PASSWORD: &str = "Demo-Passw0rd!";

/// One partner as a seed file describes it. Only `id` and `name` are required.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPartner {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub parent_id: Option<i64>,
    #[serde(default = "default_status")]
    pub status: i64,
    #[serde(default = "default_group")]
    pub group_type: i64,
    #[serde(default)]
    pub admin_name: Option<String>,
    #[serde(default)]
    pub admin_email: Option<String>,
    #[serde(default)]
    pub admin_password: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub reference_id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Unix seconds; defaults to the time of seeding.
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub admin_secret: Option<String>,
    #[serde(default)]
    pub publishers_quota: i64,
    #[serde(default = "default_users_quota")]
    pub admin_login_users_quota: i64,
    #[serde(default)]
    pub features: Vec<String>,
}

fn default_status() -> i64 {
    STATUS_ACTIVE
}
fn default_group() -> i64 {
    GROUP_PUBLISHER
}
fn default_users_quota() -> i64 {
    3
}

/// One user of a partner as a seed file describes it (besides each partner's account owner, which is made from
/// its administrator).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    pub partner_id: i64,
    pub id: String,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub admin: bool,
    /// 0 blocked, 1 active, 2 deleted.
    #[serde(default = "default_user_status")]
    pub status: i64,
    /// Comma list of role names.
    #[serde(default)]
    pub roles: String,
    /// Unix seconds.
    #[serde(default)]
    pub last_login: Option<i64>,
}

fn default_user_status() -> i64 {
    USER_ACTIVE
}

/// A seed file: `[[partners]]` tables (TOML) or `{"partners": [...]}` (JSON). The parent the emulator announces is
/// `parent`, or else the first partner without a parent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFile {
    #[serde(default)]
    pub parent: Option<i64>,
    pub partners: Vec<SeedPartner>,
    #[serde(default)]
    pub users: Vec<SeedUser>,
}

impl SeedFile {
    pub fn load(path: &Path) -> anyhow::Result<SeedFile> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read the seed file {}: {e}", path.display()))?;
        let parsed: SeedFile = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
            serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("seed file {}: {e}", path.display()))?
        } else {
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("seed file {}: {e}", path.display()))?
        };
        parsed.validate()?;
        Ok(parsed)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let mut ids = std::collections::HashSet::new();
        let mut emails = std::collections::HashSet::new();
        for p in &self.partners {
            anyhow::ensure!(p.id > 0, "seed file: partner id {} must be positive", p.id);
            anyhow::ensure!(ids.insert(p.id), "seed file: partner id {} appears twice", p.id);
            anyhow::ensure!(!p.name.trim().is_empty(), "seed file: partner {} has an empty name", p.id);
            anyhow::ensure!(
                (0..=4).contains(&p.status),
                "seed file: partner {} has status {}, expected 0-4 (1 active, 2 blocked, 3 removed)",
                p.id,
                p.status
            );
            anyhow::ensure!(
                (1..=4).contains(&p.group_type),
                "seed file: partner {} has group_type {}, expected 1-4 (1 publisher, 2 VAR, 3 group, 4 template)",
                p.id,
                p.group_type
            );
            if let Some(email) = &p.admin_email {
                anyhow::ensure!(
                    emails.insert(email.to_lowercase()),
                    "seed file: the admin email {email} is used twice (it must be unique across partners)"
                );
            }
        }
        for p in &self.partners {
            if let Some(parent) = p.parent_id {
                anyhow::ensure!(
                    ids.contains(&parent),
                    "seed file: partner {} names parent {parent}, which is not in the file",
                    p.id
                );
            }
        }
        for u in &self.users {
            anyhow::ensure!(
                ids.contains(&u.partner_id),
                "seed file: user {} names partner {}, which is not in the file",
                u.id,
                u.partner_id
            );
            anyhow::ensure!(!u.id.trim().is_empty(), "seed file: a user of partner {} has an empty id", u.partner_id);
            anyhow::ensure!(
                (0..=2).contains(&u.status),
                "seed file: user {} has status {}, expected 0-2 (0 blocked, 1 active, 2 deleted)",
                u.id,
                u.status
            );
        }
        if let Some(parent) = self.parent {
            anyhow::ensure!(ids.contains(&parent), "seed file: parent = {parent} is not one of its partners");
        }
        anyhow::ensure!(self.parent_id().is_some(), "seed file: it has no partners");
        Ok(())
    }

    pub fn parent_id(&self) -> Option<i64> {
        self.parent.or_else(|| self.partners.iter().find(|p| p.parent_id.is_none()).map(|p| p.id))
    }
}

fn sp(id: i64, name: &str) -> SeedPartner {
    SeedPartner {
        id,
        name: name.into(),
        parent_id: Some(DEMO_PARENT_ID),
        status: STATUS_ACTIVE,
        group_type: GROUP_PUBLISHER,
        admin_name: None,
        admin_email: None,
        admin_password: None,
        phone: None,
        website: None,
        reference_id: None,
        description: None,
        created_at: None,
        secret: None,
        admin_secret: None,
        publishers_quota: 0,
        admin_login_users_quota: 3,
        features: Vec::new(),
    }
}

/// The organisation of the administrator's guide (seed `002_…`): "Debbie Techpubs" and its accounts, two
/// templates, and an unrelated organisation to show what lies outside the parent's scope.
pub fn demo() -> SeedFile {
    let admin = |mut p: SeedPartner, name: &str, email: &str, phone: &str, created: i64| {
        p.admin_name = Some(name.into());
        p.admin_email = Some(email.into());
        p.phone = Some(phone.into());
        p.created_at = Some(created);
        p
    };
    let mut parent = admin(
        sp(DEMO_PARENT_ID, "Debbie Techpubs"),
        "Debbie Techpubs",
        "debbie@techpubs.example",
        "+972501234567",
        1_558_350_180, // 05/20/2019 11:03 UTC
    );
    parent.parent_id = None;
    parent.group_type = GROUP_VAR;
    parent.publishers_quota = 5;
    parent.website = Some("www.kaltura.com".into());
    parent.admin_password = Some(DEMO_ADMIN_PASSWORD.into());
    parent.features = vec![FEATURE_VAR_CONSOLE_LOGIN.into(), FEATURE_MULTI_ACCOUNT_ANALYTICS.into()];

    let mut shanghai =
        admin(sp(6475, "Shanghai"), "Muh Wih", "muh.wih@shanghai.techpubs.example", "9721234567", 1_558_444_680);
    shanghai.website = Some("www.kaltura.com".into());
    let down_under = admin(
        sp(6474, "Down Under"),
        "Renee Dvir",
        "renee.dvir@downunder.techpubs.example",
        "907-1234567",
        1_558_369_260,
    );
    let mut adtest = admin(sp(6472, "adtest name"), "ad test", "ad@adtest.techpubs.example", "11111+11", 1_558_357_320);
    adtest.status = STATUS_REMOVED;
    adtest.reference_id = Some("reference-adtest".into());

    let mut standard = admin(
        sp(6478, "Template - Standard"),
        "Template Owner",
        "templates@techpubs.example",
        "+972501234500",
        1_559_390_400,
    );
    standard.group_type = GROUP_TEMPLATE;
    standard.description = Some("Entries, players and roles every new school starts with".into());
    let mut legacy = admin(
        sp(6479, "Template - Legacy"),
        "Template Owner",
        "legacy-templates@techpubs.example",
        "+972501234501",
        1_559_476_800,
    );
    legacy.group_type = GROUP_TEMPLATE;
    legacy.status = STATUS_BLOCKED;

    // A second multi-account organisation, outside the first one's scope: a console can serve both parents.
    let mut northwind =
        admin(sp(7001, "Northwind Media"), "Nora Wind", "nora@northwind.example", "+1-555-0101", 1_590_000_000);
    northwind.parent_id = None;
    northwind.group_type = GROUP_VAR;
    northwind.publishers_quota = 10;
    northwind.website = Some("www.northwind.example".into());
    northwind.features = vec![FEATURE_VAR_CONSOLE_LOGIN.into(), FEATURE_MULTI_ACCOUNT_ANALYTICS.into()];
    let northwind_child = |id: i64, name: &str, admin_name: &str, email: &str, phone: &str, created: i64| {
        let mut child = admin(sp(id, name), admin_name, email, phone, created);
        child.parent_id = Some(7001);
        child
    };
    let northwind_sales = northwind_child(
        7002,
        "Northwind Media - Sales",
        "Sam Sales",
        "sam@sales.northwind.example",
        "+1-555-0102",
        1_590_100_000,
    );
    let northwind_marketing = northwind_child(
        7003,
        "Northwind Media - Marketing",
        "Mia Market",
        "mia@marketing.northwind.example",
        "+1-555-0103",
        1_600_000_000,
    );
    let mut northwind_archive = northwind_child(
        7004,
        "Northwind Media - Archive",
        "Arlo Archive",
        "arlo@archive.northwind.example",
        "+1-555-0104",
        1_610_000_000,
    );
    northwind_archive.status = STATUS_BLOCKED;

    let user = |partner_id: i64, id: &str, name: &str, roles: &str, last_login: Option<i64>| {
        let (first, last) = split_name(name);
        SeedUser {
            partner_id,
            id: id.into(),
            first_name: Some(first),
            last_name: Some(last),
            email: Some(id.into()),
            admin: !roles.is_empty(),
            status: USER_ACTIVE,
            roles: roles.into(),
            last_login,
        }
    };
    let mut users = vec![
        user(6475, "li.na@shanghai.techpubs.example", "Li Na", ROLE_PUBLISHER_ADMIN, Some(1_700_000_000)),
        user(6475, "chen.wei@shanghai.techpubs.example", "Chen Wei", "Content Moderator", Some(1_701_000_000)),
        user(6475, "viewer@shanghai.techpubs.example", "Guest Viewer", "", None),
        user(6474, "jack.byrne@downunder.techpubs.example", "Jack Byrne", ROLE_PUBLISHER_ADMIN, Some(1_699_000_000)),
        user(6474, "old.admin@downunder.techpubs.example", "Old Admin", ROLE_PUBLISHER_ADMIN, Some(1_600_000_000)),
    ];
    // A blocked administrator: listed by Kaltura, but not among the active ones the console shows.
    users[4].status = USER_BLOCKED;

    SeedFile {
        parent: Some(DEMO_PARENT_ID),
        partners: vec![
            parent,
            shanghai,
            down_under,
            adtest,
            standard,
            legacy,
            northwind,
            northwind_sales,
            northwind_marketing,
            northwind_archive,
        ],
        users,
    }
}

/// Builds the partner row of a seed entry; secrets not given are generated.
fn to_partner(s: &SeedPartner, now: i64) -> Partner {
    let admin_name = s.admin_name.clone().or_else(|| Some(format!("{} Admin", s.name)));
    let (first, last) = split_name(admin_name.as_deref().unwrap_or_default());
    Partner {
        id: s.id,
        name: s.name.clone(),
        website: s.website.clone(),
        created_at: s.created_at.unwrap_or(now),
        admin_name,
        admin_email: s.admin_email.clone(),
        description: s.description.clone(),
        phone: s.phone.clone(),
        partner_type: 1,
        status: s.status,
        partner_package: 1,
        secret: s.secret.clone().unwrap_or_else(random_secret),
        admin_secret: s.admin_secret.clone().unwrap_or_else(random_secret),
        admin_login_users_quota: s.admin_login_users_quota,
        admin_user_id: s.admin_email.clone(),
        first_name: Some(first),
        last_name: Some(last),
        country: None,
        state: None,
        publishers_quota: s.publishers_quota,
        partner_group_type: s.group_type,
        template_partner_id: None,
        partner_parent_id: s.parent_id,
        reference_id: s.reference_id.clone(),
        monitor_usage: 0,
        features: s.features.join(","),
    }
}

/// "Renee Dvir" → ("Renee", "Dvir"), as Kaltura fills firstName and lastName from adminName.
pub fn split_name(full: &str) -> (String, String) {
    let full = full.trim();
    match full.split_once(' ') {
        Some((a, b)) => (a.to_string(), b.trim().to_string()),
        None => (full.to_string(), String::new()),
    }
}

/// Writes a seed into an empty store, plus `children` synthetic children of its parent, in one transaction.
pub async fn apply(store: &Store, seed: &SeedFile, children: u32, extra_parents: u32, now: i64) -> anyhow::Result<()> {
    let mut tx = store.pool.begin().await?;
    for s in &seed.partners {
        let p = to_partner(s, now);
        store::insert_partner(&mut tx, &p).await?;
        if let Some(email) = &s.admin_email {
            let password = s.admin_password.clone().unwrap_or_else(random_secret);
            store::insert_login(&mut tx, email, p.id, &password).await?;
        }
    }
    for u in &seed.users {
        let user = store::User {
            partner_id: u.partner_id,
            puser_id: u.id.trim().to_string(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            email: u.email.clone().or_else(|| u.id.contains('@').then(|| u.id.trim().to_string())),
            is_admin: u.admin,
            status: u.status,
            role_names: u.roles.clone(),
            last_login_time: u.last_login,
            created_at: now,
            updated_at: now,
        };
        store::insert_user(&mut tx, &user).await?;
    }
    if let Some(parent) = seed.parent_id() {
        let first_id = seed.partners.iter().map(|p| p.id).max().unwrap_or(0).max(100_000) + 1;
        for i in 0..i64::from(children) {
            store::insert_partner(&mut tx, &synthetic_child(parent, first_id + i, i, now)).await?;
        }
        // More organisations, each a multi-account parent with as many children: a console serving several parents.
        let mut next = first_id + i64::from(children);
        for k in 0..i64::from(extra_parents) {
            let id = next;
            let mut p = sp(id, &format!("Organisation {}", k + 2));
            p.parent_id = None;
            p.group_type = GROUP_VAR;
            p.publishers_quota = i64::from(children) + 100;
            p.admin_email = Some(format!("admin@organisation{}.example", k + 2));
            p.features = vec![FEATURE_VAR_CONSOLE_LOGIN.into(), FEATURE_MULTI_ACCOUNT_ANALYTICS.into()];
            store::insert_partner(&mut tx, &to_partner(&p, now)).await?;
            for i in 0..i64::from(children) {
                store::insert_partner(&mut tx, &synthetic_child(id, id + 1 + i, i, now)).await?;
            }
            next = id + 1 + i64::from(children);
        }
    }
    tx.commit().await?;
    store.add_missing_owners().await?;
    Ok(())
}

const PLACES: &[&str] = &[
    "Engineering",
    "History",
    "Medicine",
    "Law",
    "Music",
    "Physics",
    "Marketing",
    "Finance",
    "Sales",
    "Support",
    "Design",
    "Research",
    "Chemistry",
    "Nursing",
    "Athletics",
    "Library",
    "Admissions",
    "Alumni",
    "Drama",
    "Biology",
];
const KINDS: &[&str] = &["School of", "Department of", "Office of", "Channel", "Studio", "Institute of"];
const FIRST: &[&str] = &["Ada", "Ben", "Chen", "Dana", "Eli", "Fatima", "Gal", "Hiro", "Ines", "Jon", "Kofi", "Lena"];
const LAST: &[&str] = &["Levi", "Okafor", "Smith", "Tanaka", "Garcia", "Novak", "Haddad", "Berg", "Rossi", "Kim"];

/// A deterministic, varied child: names, administrators, statuses (mostly active, some blocked or removed, a few
/// templates) and creation dates spread over five years before `now`.
fn synthetic_child(parent: i64, id: i64, i: i64, now: i64) -> Partner {
    let h = mix(i as u64);
    let pick = |list: &[&'static str], shift: u32| list[((h >> shift) as usize) % list.len()];
    let place = pick(PLACES, 0);
    let name = format!("{} {} {}", pick(KINDS, 8), place, i + 1);
    let first = pick(FIRST, 16);
    let last = pick(LAST, 24);
    let slug = place.to_lowercase();
    let status = match (h >> 32) % 100 {
        0..=84 => STATUS_ACTIVE,
        85..=94 => STATUS_BLOCKED,
        _ => STATUS_REMOVED,
    };
    let group = if (h >> 40).is_multiple_of(200) { GROUP_TEMPLATE } else { GROUP_PUBLISHER };
    let email = format!("{}.{}.{id}@{slug}.example", first.to_lowercase(), last.to_lowercase());
    Partner {
        id,
        name,
        website: (!(h >> 44).is_multiple_of(3)).then(|| format!("https://{slug}{id}.example")),
        created_at: now - ((h >> 20) % (5 * 365 * 86_400)) as i64,
        admin_name: Some(format!("{first} {last}")),
        admin_email: Some(email.clone()),
        description: Some("Multi-publishers console".into()),
        phone: Some(format!("+1-555-{:04}", (h >> 48) % 10_000)),
        partner_type: 109,
        status,
        partner_package: 1,
        secret: random_secret(),
        admin_secret: random_secret(),
        admin_login_users_quota: 3,
        admin_user_id: Some(email),
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        country: None,
        state: None,
        publishers_quota: 0,
        partner_group_type: group,
        template_partner_id: None,
        partner_parent_id: Some(parent),
        reference_id: (h >> 52).is_multiple_of(4).then(|| format!("crm-{id}")),
        monitor_usage: 0,
        features: String::new(),
    }
}

/// SplitMix64: cheap, well-spread deterministic bits.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_seed_is_valid_and_names_its_parent() {
        let d = demo();
        d.validate().unwrap();
        assert_eq!(d.parent_id(), Some(DEMO_PARENT_ID));
    }

    #[test]
    fn seed_files_report_their_mistakes() {
        let bad: SeedFile =
            toml::from_str("[[partners]]\nid = 1\nname = \"A\"\n[[partners]]\nid = 2\nname = \"B\"\nparent_id = 9\n")
                .unwrap();
        assert!(bad.validate().unwrap_err().to_string().contains("names parent 9"));
        let err = toml::from_str::<SeedFile>("[[partners]]\nid = 1\nname = \"A\"\ncolour = \"red\"\n").unwrap_err();
        assert!(err.to_string().contains("colour"));
        let stray: SeedFile =
            toml::from_str("[[partners]]\nid = 1\nname = \"A\"\n[[users]]\npartner_id = 3\nid = \"x@y.example\"\n")
                .unwrap();
        assert_eq!(
            stray.validate().unwrap_err().to_string(),
            "seed file: user x@y.example names partner 3, which is not in the file"
        );
    }

    #[test]
    fn synthetic_children_are_deterministic_and_varied() {
        let a = synthetic_child(1, 10, 3, 1_700_000_000);
        let b = synthetic_child(1, 10, 3, 1_700_000_000);
        assert_eq!(a.name, b.name);
        let statuses: std::collections::HashSet<i64> =
            (0..500).map(|i| synthetic_child(1, 10 + i, i, 1_700_000_000).status).collect();
        assert_eq!(statuses.len(), 3);
    }
}
