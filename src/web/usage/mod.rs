//! `/usage`: every account's usage for a period, with totals, the trend, the top accounts and a sortable, searchable
//! table; `/usage/{id}`: one account's drill-down; `/usage.csv`: the table as CSV. The URL holds the whole view.

mod charts;
mod view;

use crate::web::parent::CurrentParent;
use crate::web::parent_base;
use askama::Template;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{StreamExt, stream};
use kaltura::{FEATURE_MULTI_ACCOUNT_ANALYTICS, KalturaError, PartnerStatus};

use super::accounts::rows::Row;
use super::auth::AdminUser;
use super::error::Loading;
use super::format::{count, kmc_day, scale_for, size};
use super::paging::Pager;
use super::{AppError, AppState, Nav, Section, csv, render};
use crate::accounts::rules::RowAction;
use crate::usage::{AccountUsage, Bucket, Metric, Sort, SortColumn, Totals, TrendPoint, UsageError};
use charts::Svg;
use view::UsageView;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/usage", get(show)).route("/usage.csv", get(export)).route("/usage/{id}", get(account))
}

/// A metric's total, shown in its unit.
struct Figure {
    label: &'static str,
    value: String,
    key: &'static str,
}

fn figures(totals: &Totals) -> Vec<Figure> {
    Metric::ALL
        .into_iter()
        .map(|m| Figure {
            label: m.label(),
            key: m.key(),
            value: totals.get(m).map_or_else(|| "—".into(), |v| shown(m, v)),
        })
        .collect()
}

fn shown(m: Metric, v: f64) -> String {
    if m.is_size() { size(v) } else { count(v) }
}

/// A column heading: its link sorts by it, the other way when it already does.
struct Heading {
    label: &'static str,
    href: String,
    /// `ascending` / `descending` when the table is sorted by it.
    aria_sort: Option<&'static str>,
    numeric: bool,
}

struct TableRow {
    partner_id: i64,
    name: String,
    is_parent: bool,
    status: &'static str,
    href: String,
    cells: Vec<String>,
}

/// A chart with its caption and its figures as text.
struct Chart {
    id: &'static str,
    svg: Svg,
    caption: String,
    unit: &'static str,
    /// The figures drawn, as `(label, values…)` rows for the text alternative.
    rows: Vec<(String, Vec<String>)>,
    columns: Vec<&'static str>,
}

/// The trend: bandwidth and average storage, and which buckets are drawn dashed because they are incomplete.
#[derive(Default)]
struct Trend {
    charts: Vec<Chart>,
    note: Option<String>,
}

/// A trend bucket's label, in the console's date order.
fn bucket_label(bucket: &Bucket) -> String {
    match bucket {
        Bucket::Day(d) => kmc_day(*d),
        Bucket::Month(y, m) => format!("{:02}/{y}", u8::from(*m)),
        Bucket::Other(key) => key.clone(),
    }
}

/// Bandwidth and average storage as two charts, each on its own axis: storage is usually far larger, and on one
/// axis it flattened bandwidth to a line along zero.
fn trend_charts(points: &[TrendPoint]) -> Trend {
    let labels: Vec<String> = points.iter().map(|p| bucket_label(&p.bucket)).collect();
    let partial: Vec<&str> = points.iter().zip(&labels).filter(|(p, _)| p.partial).map(|(_, l)| l.as_str()).collect();
    let note = match partial.as_slice() {
        [] => None,
        [one] => Some(format!("Dashed: {one} is not complete in this period.")),
        [first @ .., last] => Some(format!("Dashed: {} and {last} are not complete in this period.", first.join(", "))),
    };
    let chart = |id, name: &'static str, color, value: fn(&TrendPoint) -> f64| {
        let scale = scale_for(points.iter().map(value).fold(0.0, f64::max));
        let in_scale = |p: &TrendPoint| value(p) / scale.divisor;
        let drawn: Vec<charts::Point> = points
            .iter()
            .zip(&labels)
            .map(|(p, label)| charts::Point { label, value: in_scale(p), partial: p.partial })
            .collect();
        Chart {
            id,
            svg: charts::line(&drawn, color),
            caption: name.to_string(),
            unit: scale.unit,
            rows: points.iter().zip(&labels).map(|(p, l)| (l.clone(), vec![format!("{:.1}", in_scale(p))])).collect(),
            columns: vec![name],
        }
    };
    let charts = vec![
        chart("trend-bandwidth", "Bandwidth", charts::BANDWIDTH, |p| p.bandwidth),
        chart("trend-storage", "Average Storage", charts::STORAGE, |p| p.storage),
    ];
    Trend { charts, note }
}

fn status_label(s: Option<PartnerStatus>) -> &'static str {
    s.map_or(super::accounts::rows::NA, PartnerStatus::label)
}

#[derive(Template)]
#[template(path = "usage.html")]
struct UsagePage {
    nav: Nav,
    v: UsageView,
    error: Option<String>,
    /// The same view asked again, when Kaltura failed to give it.
    retry: Option<String>,
    /// False when the parent lacks the permission: the page says so instead of figures.
    granted: bool,
    figures: Vec<Figure>,
    trend: Trend,
    top: Option<Chart>,
    headings: Vec<Heading>,
    rows: Vec<TableRow>,
    pager: Option<Pager>,
    matching: i64,
    /// Why the table covers only some accounts, when it does.
    partial: Option<String>,
    csv_href: String,
    permission: &'static str,
}

async fn show(
    current: CurrentParent,
    AdminUser(me): AdminUser,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let v = UsageView::parse(query.as_deref().unwrap_or(""), current.usage.today());
    let mut page = UsagePage {
        nav: current.nav(&me, Section::Usage),
        error: None,
        retry: None,
        granted: true,
        figures: Vec::new(),
        trend: Trend::default(),
        top: None,
        headings: Vec::new(),
        rows: Vec::new(),
        pager: None,
        matching: 0,
        partial: None,
        csv_href: format!("{}/usage.csv?{}", parent_base(), v.query(None)),
        permission: FEATURE_MULTI_ACCOUNT_ANALYTICS,
        v,
    };
    let period = match &page.v.period {
        Ok(p) => *p,
        Err(e) => {
            page.error = Some(e.clone());
            return Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response());
        }
    };
    let v = &page.v;
    let found = current.usage.view(&period, &v.search, v.sort, v.pager(), v.top).await;
    let found = match found {
        Ok(found) => found,
        Err(e) => {
            page.error = Some(upstream(&e));
            page.retry = Some(format!("{}/usage?{}", parent_base(), page.v.query(Some(page.v.page))));
            return Ok((StatusCode::BAD_GATEWAY, render(&page)?).into_response());
        }
    };
    page.granted = found.granted;
    if !found.granted {
        return Ok(render(&page)?.into_response());
    }
    let parent = current.usage.parent_id();
    page.figures = figures(&found.totals);
    page.trend = trend_charts(&found.trend);
    let largest = found.top.iter().map(|a| a.get(v.top)).fold(0.0, f64::max);
    let scale = charts::scale(largest, v.top.is_size());
    let bars: Vec<(String, f64, String)> =
        found.top.iter().map(|a| (a.name.clone(), a.get(v.top) / scale.divisor, shown(v.top, a.get(v.top)))).collect();
    page.top = Some(Chart {
        id: "top-chart",
        svg: charts::bars(&bars),
        caption: format!("The {} accounts with the most {}", found.top.len(), v.top.label().to_lowercase()),
        unit: "",
        rows: found.top.iter().map(|a| (a.name.clone(), vec![shown(v.top, a.get(v.top))])).collect(),
        columns: vec![v.top.label()],
    });
    page.headings = headings(v);
    page.rows = found.rows.iter().map(|a| table_row(a, parent, v)).collect();
    page.matching = found.matching;
    page.partial = found.read_only_first.map(|all| {
        format!(
            "Kaltura has {} accounts with usage in this period; this order and search cover the {} with the most \
             bandwidth. Sort by a figure to page through all of them.",
            count(all as f64),
            count(f64::from(crate::usage::SEARCH_ROWS))
        )
    });
    let pager = Pager::of_rows(v.page, v.size, page.rows.len(), found.matching, |n| {
        format!("{}/usage?{}", parent_base(), v.query(Some(n)))
    });
    // Nothing found on the first page: the empty row says so, and a "0–0 of 0" under it would only repeat it.
    page.pager = (found.matching > 0 || v.page > 1).then_some(pager);
    Ok(render(&page)?.into_response())
}

fn headings(v: &UsageView) -> Vec<Heading> {
    let mut columns: Vec<(SortColumn, &'static str, bool)> = vec![
        (SortColumn::Name, "Account Name", false),
        (SortColumn::PartnerId, "Partner ID", true),
        (SortColumn::Status, "Status", false),
    ];
    columns.extend(Metric::ALL.map(|m| (SortColumn::Metric(m), m.label(), true)));
    columns
        .into_iter()
        .map(|(column, label, numeric)| {
            let current = v.sort.column == column;
            // A figure sorts largest first at the first click; names and ids from the start.
            let descending = if current { !v.sort.descending } else { matches!(column, SortColumn::Metric(_)) };
            Heading {
                label,
                href: format!("{}/usage?{}", parent_base(), v.with_sort(Sort { column, descending }).query(None)),
                aria_sort: current.then_some(if v.sort.descending { "descending" } else { "ascending" }),
                numeric,
            }
        })
        .collect()
}

fn table_row(a: &AccountUsage, parent: i64, v: &UsageView) -> TableRow {
    TableRow {
        partner_id: a.partner_id,
        name: if a.name.trim().is_empty() { a.partner_id.to_string() } else { a.name.clone() },
        is_parent: a.partner_id == parent,
        status: status_label(a.status),
        href: format!("{}/usage/{}?{}", parent_base(), a.partner_id, v.period_query()),
        cells: Metric::ALL.into_iter().map(|m| shown(m, a.get(m))).collect(),
    }
}

fn upstream(e: &KalturaError) -> String {
    match e {
        KalturaError::Api { message, .. } => format!("Kaltura did not give the usage: {message}"),
        other => format!("Kaltura did not give the usage. {other}. Check that Kaltura is reachable, then retry."),
    }
}

#[derive(Template)]
#[template(path = "usage_account.html")]
struct AccountPage {
    nav: Nav,
    v: UsageView,
    id: i64,
    /// Where the period form sends its range.
    action: String,
    name: String,
    is_parent: bool,
    status: &'static str,
    /// The badge's colour, as on the account's details.
    status_class: &'static str,
    error: Option<String>,
    /// The same view asked again, when Kaltura failed to give it.
    retry: Option<String>,
    granted: bool,
    figures: Vec<Figure>,
    trend: Trend,
    can_kmc_login: bool,
    permission: &'static str,
}

async fn account(
    current: CurrentParent,
    AdminUser(me): AdminUser,
    Path(id): Path<i64>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let v = UsageView::parse(query.as_deref().unwrap_or(""), current.usage.today());
    let mut page = AccountPage {
        nav: current.nav(&me, Section::Usage),
        id,
        action: format!("{}/usage/{id}", parent_base()),
        name: id.to_string(),
        is_parent: id == current.usage.parent_id(),
        status: super::accounts::rows::NA,
        status_class: "other",
        error: None,
        retry: None,
        granted: true,
        figures: Vec::new(),
        trend: Trend::default(),
        can_kmc_login: false,
        permission: FEATURE_MULTI_ACCOUNT_ANALYTICS,
        v,
    };
    let period = match &page.v.period {
        Ok(p) => *p,
        Err(e) => {
            page.error = Some(e.clone());
            return Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response());
        }
    };
    let found = match current.usage.account(id, &period).await {
        Ok(found) => found,
        Err(e @ UsageError::NotYours(_)) => return super::accounts::details::refused(&current, &me, e.to_string()),
        Err(e) => {
            page.error = Some(match e {
                UsageError::Kaltura(k) => upstream(&k),
                other => other.to_string(),
            });
            page.retry = Some(format!("{}/usage/{id}?{}", parent_base(), page.v.query(None)));
            return Ok((StatusCode::BAD_GATEWAY, render(&page)?).into_response());
        }
    };
    let row = Row::new(&found.partner, current.usage.parent_id());
    page.name = row.plain_name().to_string();
    page.status = row.status_label;
    page.status_class = row.status_class;
    page.can_kmc_login = RowAction::KmcLogin.allowed(found.partner.status, row.is_parent);
    page.granted = found.granted;
    if found.granted {
        page.figures = figures(&found.totals);
        page.trend = trend_charts(&found.trend);
    }
    Ok(render(&page)?.into_response())
}

/// The CSV header, exactly.
const HEADER: [&str; 11] = [
    "Partner ID",
    "Account Name",
    "Status",
    "Plays",
    "Player Loads",
    "Entries",
    "Unique Users",
    "Average Storage (MB)",
    "Peak Storage (MB)",
    "Bandwidth (MB)",
    "Transcoding (MB)",
];

/// A plain number: integers without a fraction, sizes to two decimals (of a megabyte, a few kilobytes).
fn plain(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{v:.0}") } else { format!("{v:.2}") }
}

fn record(a: &AccountUsage) -> String {
    let mut fields = vec![a.partner_id.to_string(), a.name.clone(), status_label(a.status).to_string()];
    fields.extend(Metric::ALL.map(|m| plain(a.get(m))));
    csv::line(fields.iter().map(String::as_str))
}

async fn export(
    current: CurrentParent,
    AdminUser(_): AdminUser,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let v = UsageView::parse(query.as_deref().unwrap_or(""), current.usage.today());
    let period = v.period.clone().map_err(AppError::BadRequest)?;
    let pages = match current.usage.export(&period, &v.search).await {
        Ok(pages) => pages,
        Err(UsageError::Kaltura(e)) => return Err(AppError::kaltura(Loading::Usage)(e)),
        Err(e) => return Err(AppError::BadRequest(e.to_string())),
    };
    let head = stream::iter([Ok(Bytes::from(csv::line(HEADER)))]);
    let rows = pages.map(|page| match page {
        Ok(page) => Ok(Bytes::from(page.iter().map(record).collect::<String>())),
        Err(e) => {
            tracing::warn!(error = %e, "usage CSV export stopped");
            Err(std::io::Error::other(e.to_string()))
        }
    });
    // Named after the period it covers, not the time it was made.
    let stem = format!("usage-{}-to-{}", period.from, period.to);
    Ok(csv::attachment_as(&stem, Body::from_stream(head.chain(rows))))
}
