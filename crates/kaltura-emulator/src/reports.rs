//! Cross-account analytics (report.getTable / report.getTotal) with deterministic synthetic figures: every
//! child has its own daily numbers, derived from its id and the day, so the same question gets the same answer.

use super::seed::mix;
use super::store::{FEATURE_MULTI_ACCOUNT_ANALYTICS, Pager, Partner, Store};
use super::wire::{ApiError, V};

/// The report types served: per-account breakdowns and the multi-account variants of seed `003_…` §6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportKind(pub i64);

/// Rows are per child account for these types, per dimension value for the rest.
const PER_ACCOUNT: &[i64] = &[19, 60, 201, 20019];
const MULTI_ACCOUNT: &[i64] = &[
    20001, 20002, 20003, 20005, 20006, 20007, 20010, 20011, 20012, 20013, 20014, 20018, 20019, 20020, 20021, 20022,
    20023,
];

impl ReportKind {
    pub fn parse(v: &str) -> Option<ReportKind> {
        let n = v.trim().parse::<i64>().ok()?;
        (PER_ACCOUNT.contains(&n) || MULTI_ACCOUNT.contains(&n) || n == 42).then_some(ReportKind(n))
    }

    /// The leading (dimension) columns and the metric columns.
    fn columns(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self.0 {
            60 => (&["partner_id"], &["count_plays", "sum_time_viewed", "count_loads"]),
            201 => (&["partner_id"], &["bandwidth_consumption", "average_storage", "combined_bandwidth_storage"]),
            19 | 20019 => (&["partner_id"], &["count_plays", "count_loads", "count_contributions"]),
            42 => (&["entry_id", "partner_id"], &["count_plays", "sum_time_viewed"]),
            20001 => (
                &["object_id", "entry_name"],
                &["count_plays", "count_plays_25", "count_plays_50", "count_plays_75", "count_plays_100"],
            ),
            20002 => (&["object_id", "entry_name"], &["count_plays", "count_viral", "count_download", "count_report"]),
            20003 => (&["object_id", "entry_name"], &["count_total", "count_video", "count_audio", "count_image"]),
            20005 | 20020 => (&["device"], &["count_plays", "sum_time_viewed"]),
            20006 | 20021 => (&["os"], &["count_plays", "sum_time_viewed"]),
            20007 | 20022 => (&["browser"], &["count_plays", "sum_time_viewed"]),
            20011 => (&["name"], &["count_plays", "sum_time_viewed"]),
            20012 => (&["country"], &["count_plays", "sum_time_viewed"]),
            20013 => (&["region"], &["count_plays", "sum_time_viewed"]),
            20014 => (&["city"], &["count_plays", "sum_time_viewed"]),
            20018 => (&["domain_name"], &["count_plays", "sum_time_viewed"]),
            _ => (&["object_id", "entry_name"], &["count_plays", "sum_time_viewed"]),
        }
    }

    /// Names for the rows of a dimension report.
    fn dimension_values(self) -> &'static [&'static str] {
        match self.0 {
            20005 | 20020 => &["Computer", "Mobile", "Tablet", "Game console", "Smart TV"],
            20006 | 20021 => &["Windows", "macOS", "Android", "iOS", "Linux", "ChromeOS"],
            20007 | 20022 => &["Chrome", "Safari", "Firefox", "Edge", "Samsung Internet"],
            20011 => &["learner01", "learner02", "teacher01", "staff01", "guest"],
            20012 => &["United States", "Israel", "Germany", "Japan", "Brazil", "India"],
            20013 => &["California", "Tel Aviv", "Bavaria", "Tokyo", "Sao Paulo", "Karnataka"],
            20014 => &["San Francisco", "Tel Aviv", "Munich", "Tokyo", "Sao Paulo", "Bengaluru"],
            20018 => &["www.example.edu", "intranet.example.com", "lms.example.org", "blog.example.net"],
            _ => &[
                "Welcome Week",
                "Lecture 1: Foundations",
                "Campus Tour",
                "Product Demo",
                "Quarterly Update",
                "Safety Training",
                "Lab Walkthrough",
                "Commencement",
            ],
        }
    }
}

pub struct Request {
    pub kind: ReportKind,
    pub from: i64,
    pub to: i64,
    pub object_ids: Option<String>,
    pub delimiter: String,
    pub pager: Pager,
}

/// Reports look at no more than two years of days, which bounds the work of one request.
const MAX_DAYS: i64 = 731;

/// One metric of one account on one day.
fn daily(partner: i64, day: i64, metric: usize) -> i64 {
    let h = mix((partner as u64).wrapping_mul(1_000_003) ^ (day as u64).wrapping_mul(7919) ^ metric as u64);
    let plays = (h % 40) as i64;
    match metric {
        0 => plays,
        1 => plays * (30 + (h >> 8) as i64 % 300),
        _ => plays + (h >> 16) as i64 % 25,
    }
}

fn sums(partner: i64, from_day: i64, to_day: i64, metrics: usize) -> Vec<i64> {
    let mut out = vec![0; metrics];
    for day in from_day..=to_day {
        for (m, slot) in out.iter_mut().enumerate() {
            *slot += daily(partner, day, m);
        }
    }
    out
}

pub async fn run(store: &Store, parent: &Partner, req: &Request, table: bool) -> Result<V, ApiError> {
    let (dims, metrics) = req.kind.columns();
    let d = req.delimiter.as_str();
    let header = if table { [dims, metrics].concat().join(d) } else { metrics.join(d) };
    let object_type = if table { "KalturaReportTable" } else { "KalturaReportTotal" };
    let empty = || {
        let mut fields = vec![("header", V::Str(header.clone())), ("data", V::Str(String::new()))];
        if table {
            fields.push(("totalCount", V::Int(0)));
        }
        Ok(V::Obj(object_type, fields))
    };
    if !parent.has_feature(FEATURE_MULTI_ACCOUNT_ANALYTICS) {
        return empty();
    }
    let mut accounts = store.child_ids(parent.id).await?;
    if let Some(ids) = &req.object_ids {
        let wanted: Vec<i64> = ids.split(',').filter_map(|s| s.trim().parse().ok()).collect();
        accounts.retain(|a| wanted.contains(a));
    }
    let from_day = req.from.div_euclid(86_400);
    let to_day = req.to.div_euclid(86_400).min(from_day + MAX_DAYS - 1);
    if accounts.is_empty() || to_day < from_day {
        return empty();
    }
    let per_account: Vec<(i64, Vec<i64>)> =
        accounts.iter().map(|&a| (a, sums(a, from_day, to_day, metrics.len()))).collect();
    if !table {
        let mut total = vec![0; metrics.len()];
        for (_, s) in &per_account {
            total.iter_mut().zip(s).for_each(|(t, v)| *t += v);
        }
        let data = total.iter().map(i64::to_string).collect::<Vec<_>>().join(d);
        return Ok(V::Obj(object_type, vec![("header", V::Str(header)), ("data", V::Str(data))]));
    }
    let rows: Vec<String> = if PER_ACCOUNT.contains(&req.kind.0) {
        per_account.iter().map(|(a, s)| row(&[a.to_string()], s, d)).collect()
    } else {
        // Dimension rows share out the accounts' totals by a fixed weight each.
        let values = req.kind.dimension_values();
        let mut buckets = vec![vec![0i64; metrics.len()]; values.len()];
        for (a, s) in &per_account {
            for (i, bucket) in buckets.iter_mut().enumerate() {
                let weight = 1 + (mix(*a as u64 ^ i as u64) % 9) as i64;
                bucket.iter_mut().zip(s).for_each(|(b, v)| *b += v * weight / 45);
            }
        }
        values
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let lead: Vec<String> = match dims.len() {
                    1 => vec![(*name).to_string()],
                    _ if req.kind.0 == 42 => {
                        vec![format!("1_{:08x}", mix(i as u64) as u32), accounts[i % accounts.len()].to_string()]
                    }
                    _ => vec![format!("1_{:08x}", mix(i as u64) as u32), (*name).to_string()],
                };
                row(&lead, &buckets[i], d)
            })
            .collect()
    };
    let total = rows.len() as i64;
    let start = usize::try_from(req.pager.offset()).unwrap_or(usize::MAX).min(rows.len());
    let page: Vec<String> = rows.into_iter().skip(start).take(req.pager.page_size as usize).collect();
    Ok(V::Obj(
        object_type,
        vec![("header", V::Str(header)), ("data", V::Str(page.join(";"))), ("totalCount", V::Int(total))],
    ))
}

fn row(lead: &[String], metrics: &[i64], d: &str) -> String {
    lead.iter().cloned().chain(metrics.iter().map(i64::to_string)).collect::<Vec<_>>().join(d)
}
