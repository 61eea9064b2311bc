//! The usage service: every account's figures for a period, from Kaltura's cross-account reports (kaltura/server,
//! `../shared/kaltura-analytics.md`). Report 42 (VPAAS_USAGE_MULTI) gives a row per partner over the whole period,
//! ordered and paged by Kaltura, and its totals; report 20021 gives the trend of the parent and its children summed
//! per day or month. Each view is one multirequest, which also asks whether the parent has the permission that
//! grants cross-account analytics: the server does not check it, so the console does, by name.

use futures_util::{Stream, stream};
use kaltura::{
    Action, FEATURE_MULTI_ACCOUNT_ANALYTICS, KalturaClient, KalturaError, ListResponse, MultiRequest, MultiResponse,
    Pager, Partner, PartnerStatus, Permission, ReportGraph, ReportInterval, ReportQuery, ReportTable, ReportTotal,
    ResultRef,
};
use serde_json::json;
use time::{Date, Duration as Days, Month};

/// VPAAS_USAGE_MULTI: a row per partner, the whole range in one row.
const PER_ACCOUNT: i64 = 42;
/// The parent and its children summed per period (the multi-account variant of partner usage, 201).
const TREND: i64 = 20021;
/// Kaltura's usage reports read at most this many days, whatever the buckets (months are built from days).
pub(crate) const MAX_DAYS: i64 = 5000;
/// A search by name reads every account's row, at most this many (Kaltura's report pager has no cap).
pub(crate) const SEARCH_ROWS: u32 = 10_000;
/// Exports read this many rows per request.
const EXPORT_PAGE: u32 = 500;
/// How many accounts the top chart shows.
pub(crate) const TOP: u32 = 10;

/// The figures the console shows, with the report columns they come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Metric {
    Plays,
    PlayerLoads,
    Entries,
    UniqueUsers,
    AverageStorage,
    PeakStorage,
    Bandwidth,
    Transcoding,
}

impl Metric {
    pub(crate) const ALL: [Metric; 8] = [
        Metric::Plays,
        Metric::PlayerLoads,
        Metric::Entries,
        Metric::UniqueUsers,
        Metric::AverageStorage,
        Metric::PeakStorage,
        Metric::Bandwidth,
        Metric::Transcoding,
    ];

    /// Report 42's column.
    pub(crate) fn column(self) -> &'static str {
        match self {
            Metric::Plays => "total_plays",
            Metric::PlayerLoads => "total_views",
            Metric::Entries => "total_entries",
            Metric::UniqueUsers => "unique_known_users",
            Metric::AverageStorage => "average_storage",
            Metric::PeakStorage => "peak_storage",
            Metric::Bandwidth => "bandwidth_consumption",
            Metric::Transcoding => "transcoding_consumption",
        }
    }

    /// Its name in URLs.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Metric::Plays => "plays",
            Metric::PlayerLoads => "loads",
            Metric::Entries => "entries",
            Metric::UniqueUsers => "users",
            Metric::AverageStorage => "avg_storage",
            Metric::PeakStorage => "peak_storage",
            Metric::Bandwidth => "bandwidth",
            Metric::Transcoding => "transcoding",
        }
    }

    pub(crate) fn parse(key: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.key() == key)
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Metric::Plays => "Plays",
            Metric::PlayerLoads => "Player Loads",
            Metric::Entries => "Entries",
            Metric::UniqueUsers => "Unique Users",
            Metric::AverageStorage => "Average Storage",
            Metric::PeakStorage => "Peak Storage",
            Metric::Bandwidth => "Bandwidth",
            Metric::Transcoding => "Transcoding",
        }
    }

    /// Megabytes (Kaltura's unit for sizes), as opposed to a count.
    pub(crate) fn is_size(self) -> bool {
        matches!(self, Metric::AverageStorage | Metric::PeakStorage | Metric::Bandwidth | Metric::Transcoding)
    }

    fn index(self) -> usize {
        Metric::ALL.iter().position(|m| *m == self).unwrap_or(0)
    }
}

/// What the table can be ordered by: report 42's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortColumn {
    Name,
    PartnerId,
    Status,
    Metric(Metric),
}

impl SortColumn {
    fn column(self) -> &'static str {
        match self {
            SortColumn::Name => "partner_name",
            SortColumn::PartnerId => "partner_id",
            SortColumn::Status => "status",
            SortColumn::Metric(m) => m.column(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sort {
    pub(crate) column: SortColumn,
    pub(crate) descending: bool,
}

/// The table's order when the URL names none, and the export's: the most bandwidth first.
pub(crate) const DEFAULT_ORDER: Sort = Sort { column: SortColumn::Metric(Metric::Bandwidth), descending: true };

impl Sort {
    /// Report 42's `order`: one column with its direction.
    fn order(self) -> String {
        format!("{}{}", if self.descending { '-' } else { '+' }, self.column.column())
    }

    /// Sorts rows read from Kaltura here: names without regard to case, ties by partner id.
    fn apply(self, rows: &mut [AccountUsage]) {
        rows.sort_by(|a, b| {
            let by = match self.column {
                SortColumn::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
                SortColumn::PartnerId => a.partner_id.cmp(&b.partner_id),
                SortColumn::Status => a.status.map(|s| s.code()).cmp(&b.status.map(|s| s.code())),
                SortColumn::Metric(m) => a.get(m).total_cmp(&b.get(m)),
            };
            let by = if self.descending { by.reverse() } else { by };
            by.then(a.partner_id.cmp(&b.partner_id))
        });
    }
}

/// Daily or monthly buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interval {
    Day,
    Month,
}

impl Interval {
    fn report(self) -> ReportInterval {
        match self {
            Interval::Day => ReportInterval::Days,
            Interval::Month => ReportInterval::Months,
        }
    }
}

/// A range of whole days (UTC), both ends included, and its buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Period {
    pub(crate) from: Date,
    pub(crate) to: Date,
    pub(crate) interval: Interval,
}

/// Why a period cannot be asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PeriodError {
    #[error("The start date {from} is after the end date {to}: choose a start on or before the end.")]
    Reversed { from: Date, to: Date },
    #[error("Kaltura reports at most {MAX_DAYS} days at a time and this range has {days}: choose a shorter range.")]
    TooManyDays { days: i64 },
}

/// Without an interval asked for, a period is reported by day up to this many days, by month beyond.
const DAILY_UP_TO_DAYS: i64 = 92;

impl Period {
    /// The period from `from` to `to`, by `interval` when one is asked for, else by day up to three months and by
    /// month beyond.
    pub(crate) fn with_interval(from: Date, to: Date, interval: Option<Interval>) -> Result<Period, PeriodError> {
        let interval = interval.unwrap_or(if (to - from).whole_days() > DAILY_UP_TO_DAYS {
            Interval::Month
        } else {
            Interval::Day
        });
        Period::new(from, to, interval)
    }

    pub(crate) fn new(from: Date, to: Date, interval: Interval) -> Result<Period, PeriodError> {
        if from > to {
            return Err(PeriodError::Reversed { from, to });
        }
        let period = Period { from, to, interval };
        match period.days() {
            days if days > MAX_DAYS => Err(PeriodError::TooManyDays { days }),
            _ => Ok(period),
        }
    }

    pub(crate) fn days(&self) -> i64 {
        (self.to - self.from).whole_days() + 1
    }

    fn query(&self, report_type: i64, object_ids: Vec<i64>) -> ReportQuery {
        let start = |d: Date| d.midnight().assume_utc().unix_timestamp();
        ReportQuery {
            report_type,
            from_date: start(self.from),
            // The end day is included: up to its last second.
            to_date: start(self.to) + 86_399,
            object_ids,
            interval: Some(self.interval.report()),
        }
    }
}

/// The named ranges the page offers, computed from `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Preset {
    Last7Days,
    Last30Days,
    ThisMonth,
    LastMonth,
    Last3Months,
    Last12Months,
    ThisYear,
}

impl Preset {
    pub(crate) const ALL: [Preset; 7] = [
        Preset::Last7Days,
        Preset::Last30Days,
        Preset::ThisMonth,
        Preset::LastMonth,
        Preset::Last3Months,
        Preset::Last12Months,
        Preset::ThisYear,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Preset::Last7Days => "Last 7 days",
            Preset::Last30Days => "Last 30 days",
            Preset::ThisMonth => "This month",
            Preset::LastMonth => "Last month",
            Preset::Last3Months => "Last 3 months",
            Preset::Last12Months => "Last 12 months",
            Preset::ThisYear => "This year",
        }
    }

    /// The range, with daily buckets up to a month and monthly ones beyond.
    pub(crate) fn period(self, today: Date) -> Period {
        let month_start = |d: Date| d.replace_day(1).unwrap_or(d);
        let months_back = |d: Date, n: i32| {
            let index = d.year() * 12 + i32::from(u8::from(d.month())) - 1 - n;
            let month = Month::try_from((index.rem_euclid(12) + 1) as u8).unwrap_or(Month::January);
            Date::from_calendar_date(index.div_euclid(12), month, 1).unwrap_or(d)
        };
        let (from, to, interval) = match self {
            Preset::Last7Days => (today - Days::days(6), today, Interval::Day),
            Preset::Last30Days => (today - Days::days(29), today, Interval::Day),
            Preset::ThisMonth => (month_start(today), today, Interval::Day),
            Preset::LastMonth => (months_back(today, 1), month_start(today) - Days::days(1), Interval::Day),
            Preset::Last3Months => (months_back(today, 2), today, Interval::Month),
            Preset::Last12Months => (months_back(today, 11), today, Interval::Month),
            Preset::ThisYear => (Date::from_ordinal_date(today.year(), 1).unwrap_or(today), today, Interval::Month),
        };
        Period { from, to, interval }
    }
}

/// Which accounts the table lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Search {
    All,
    /// Partner ids: Kaltura narrows the report to them (its own children only).
    Ids(Vec<i64>),
    /// Part of an account name, case-insensitive: read from every account's row.
    Name(String),
}

impl Search {
    /// A comma list of numbers is ids; other text is a name.
    pub(crate) fn parse(text: &str) -> Search {
        let text = text.trim();
        if text.is_empty() {
            return Search::All;
        }
        let ids: Option<Vec<i64>> =
            text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.parse().ok()).collect();
        match ids {
            Some(ids) if !ids.is_empty() => Search::Ids(ids),
            _ => Search::Name(text.to_string()),
        }
    }
}

/// One account's figures for the period, in [`Metric::ALL`]'s order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AccountUsage {
    pub(crate) partner_id: i64,
    pub(crate) name: String,
    pub(crate) status: Option<PartnerStatus>,
    pub(crate) values: [f64; 8],
}

impl AccountUsage {
    pub(crate) fn get(&self, m: Metric) -> f64 {
        self.values[m.index()]
    }

    /// Reads report 42's rows by column name, so a column Kaltura adds or moves does not shift the figures.
    fn read_all(table: &ReportTable) -> Vec<AccountUsage> {
        let at = |row: &[String], name: &str| table.column(name).and_then(|i| row.get(i)).cloned().unwrap_or_default();
        let number = |s: String| s.trim().parse::<f64>().ok().filter(|v| v.is_finite()).unwrap_or(0.0);
        table
            .rows
            .iter()
            .filter_map(|row| {
                let partner_id = at(row, "partner_id").trim().parse::<i64>().ok()?;
                let status = at(row, "status").trim().parse::<i64>().ok().and_then(PartnerStatus::from_code);
                Some(AccountUsage {
                    partner_id,
                    name: at(row, "partner_name"),
                    status,
                    values: Metric::ALL.map(|m| number(at(row, m.column()))),
                })
            })
            .collect()
    }
}

/// Where the answers of [`Usage::month_calls`] are in their multirequest.
pub(crate) struct MonthCalls {
    permission: ResultRef,
    total: ResultRef,
}

/// Totals over the period, in [`Metric::ALL`]'s order; `None` where Kaltura has no figure.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Totals(pub(crate) [Option<f64>; 8]);

impl Totals {
    fn read(total: &ReportTotal) -> Totals {
        Totals(Metric::ALL.map(|m| total.get(m.column()).and_then(|v| v.trim().parse::<f64>().ok())))
    }

    pub(crate) fn get(&self, m: Metric) -> Option<f64> {
        self.0[m.index()]
    }
}

/// One bucket of the trend: which day or month it is, the bandwidth and average storage in it (MB), and whether
/// it is incomplete: it holds today (whose figures are still coming in) or the period cuts it short.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TrendPoint {
    pub(crate) bucket: Bucket,
    pub(crate) bandwidth: f64,
    pub(crate) storage: f64,
    pub(crate) partial: bool,
}

/// A trend bucket as Kaltura keys it: `20261130` a day, `202611` a month; anything else kept as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bucket {
    Day(Date),
    Month(i32, Month),
    Other(String),
}

impl Bucket {
    fn read(key: &str) -> Bucket {
        let digits = key.bytes().all(|b| b.is_ascii_digit());
        let number = |range: std::ops::Range<usize>| key[range].parse::<u8>().ok();
        let month = |range| number(range).and_then(|m| Month::try_from(m).ok());
        let year = key.get(..4).and_then(|y| y.parse::<i32>().ok());
        let read = match (key.len(), digits, year) {
            (8, true, Some(y)) => {
                month(4..6).zip(number(6..8)).and_then(|(m, d)| Date::from_calendar_date(y, m, d).ok()).map(Bucket::Day)
            }
            (6, true, Some(y)) => month(4..6).map(|m| Bucket::Month(y, m)),
            _ => None,
        };
        read.unwrap_or_else(|| Bucket::Other(key.to_string()))
    }

    /// Whether the bucket's figures are incomplete: it reaches today, or the period starts or ends inside it.
    fn is_partial(&self, period: &Period, today: Date) -> bool {
        match *self {
            Bucket::Day(d) => d >= today,
            Bucket::Month(y, m) => {
                let (Ok(first), Some(last)) = (Date::from_calendar_date(y, m, 1), last_of_month(y, m)) else {
                    return false;
                };
                last >= today || period.from > first || period.to < last
            }
            Bucket::Other(_) => false,
        }
    }
}

fn last_of_month(year: i32, month: Month) -> Option<Date> {
    let (y, m) = if month == Month::December { (year + 1, Month::January) } else { (year, month.next()) };
    Date::from_calendar_date(y, m, 1).ok()?.previous_day()
}

/// Report 20021's graphs as one series of points.
fn trend(graphs: &[ReportGraph], period: &Period, today: Date) -> Vec<TrendPoint> {
    let series = |id: &str| graphs.iter().find(|g| g.id == id).map(|g| g.points.clone()).unwrap_or_default();
    let storage = series("average_storage");
    series("bandwidth_consumption")
        .into_iter()
        .map(|(key, bandwidth)| {
            let storage = storage.iter().find(|(k, _)| *k == key).map_or(0.0, |(_, v)| *v);
            let bucket = Bucket::read(&key);
            let partial = bucket.is_partial(period, today);
            TrendPoint { bucket, bandwidth, storage, partial }
        })
        .collect()
}

/// What the Usage page shows.
pub(crate) struct UsageView {
    /// Whether the parent has FEATURE_MULTI_ACCOUNT_ANALYTICS; without it nothing below is filled.
    pub(crate) granted: bool,
    pub(crate) totals: Totals,
    /// The page of accounts.
    pub(crate) rows: Vec<AccountUsage>,
    /// How many accounts the search matches.
    pub(crate) matching: i64,
    /// When the rows were sorted or searched here and Kaltura has more accounts than were read: how many it has
    /// (the rows read are those with the most bandwidth).
    pub(crate) read_only_first: Option<i64>,
    pub(crate) trend: Vec<TrendPoint>,
    /// The accounts with the most of `top_metric`.
    pub(crate) top: Vec<AccountUsage>,
}

/// One account's usage, for its drill-down.
pub(crate) struct AccountView {
    pub(crate) partner: Partner,
    pub(crate) granted: bool,
    pub(crate) totals: Totals,
    pub(crate) trend: Vec<TrendPoint>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum UsageError {
    #[error("Account {0} is not one of your accounts.")]
    NotYours(i64),
    #[error(
        "The parent account does not have {FEATURE_MULTI_ACCOUNT_ANALYTICS}, the Kaltura permission for usage across \
         accounts; ask Kaltura to enable it."
    )]
    NotGranted,
    #[error(transparent)]
    Kaltura(#[from] KalturaError),
}

/// The one permission test (also `doctor`'s, through [`KalturaClient::has_permission`]).
fn granted(r: &MultiResponse, at: ResultRef) -> Result<bool, KalturaError> {
    Ok(Permission::granted_in(&r.get::<ListResponse<Permission>>(at)?, FEATURE_MULTI_ACCOUNT_ANALYTICS))
}

#[derive(Clone)]
pub(crate) struct Usage {
    kaltura: KalturaClient,
}

impl Usage {
    pub(crate) fn new(kaltura: KalturaClient) -> Usage {
        Usage { kaltura }
    }

    pub(crate) fn parent_id(&self) -> i64 {
        self.kaltura.config().partner_id
    }

    /// Today in UTC, by the client's clock (which tests can set).
    pub(crate) fn today(&self) -> Date {
        time::OffsetDateTime::from_unix_timestamp(self.kaltura.config().clock.now())
            .map_or(time::OffsetDateTime::UNIX_EPOCH.date(), |t| t.date())
    }

    /// The Usage page: totals, the trend, the top accounts by `top_metric` and a page of accounts, in one request.
    pub(crate) async fn view(
        &self,
        period: &Period,
        search: &Search,
        sort: Sort,
        page: Pager,
        top_metric: Metric,
    ) -> Result<UsageView, KalturaError> {
        let ids = match search {
            Search::Ids(ids) => ids.clone(),
            _ => Vec::new(),
        };
        // Kaltura orders report 42 across all its rows only by a figure; by name, id or status it sorts each page
        // alone. Those orders, and a search by name, read every row and are sorted and paged here.
        let in_memory = matches!(search, Search::Name(_)) || !matches!(sort.column, SortColumn::Metric(_));
        let (table_pager, table_order) = match in_memory {
            true => (Pager::new(SEARCH_ROWS, 1), DEFAULT_ORDER.order()),
            false => (page, sort.order()),
        };
        let mut mr = MultiRequest::new();
        let permission = mr.add(Action::PERMISSION_LIST, Permission::query(FEATURE_MULTI_ACCOUNT_ANALYTICS));
        let total = mr.add(Action::REPORT_GET_TOTAL, period.query(PER_ACCOUNT, Vec::new()).for_total());
        let graphs = mr.add(Action::REPORT_GET_GRAPHS, period.query(TREND, Vec::new()).for_graphs());
        let table = mr
            .add(Action::REPORT_GET_TABLE, period.query(PER_ACCOUNT, ids).for_table(&table_pager, Some(&table_order)));
        let top_order = Sort { column: SortColumn::Metric(top_metric), descending: true }.order();
        let top = mr.add(
            Action::REPORT_GET_TABLE,
            period.query(PER_ACCOUNT, Vec::new()).for_table(&Pager::new(TOP, 1), Some(&top_order)),
        );
        let r = self.kaltura.multirequest(&mr).await?;
        if !granted(&r, permission)? {
            return Ok(UsageView {
                granted: false,
                totals: Totals::default(),
                rows: Vec::new(),
                matching: 0,
                read_only_first: None,
                trend: Vec::new(),
                top: Vec::new(),
            });
        }
        let listed = ReportTable::read(&r.item(table)?);
        let read_only_first =
            (in_memory && listed.total_count > listed.rows.len() as i64).then_some(listed.total_count);
        let (rows, matching) = if in_memory {
            let mut found = AccountUsage::read_all(&listed);
            if let Search::Name(text) = search {
                let text = text.to_lowercase();
                found.retain(|a| a.name.to_lowercase().contains(&text));
            }
            sort.apply(&mut found);
            let matching = found.len() as i64;
            let skip = (page.page_index.saturating_sub(1) as usize).saturating_mul(page.page_size as usize);
            (found.into_iter().skip(skip).take(page.page_size as usize).collect(), matching)
        } else {
            (AccountUsage::read_all(&listed), listed.total_count)
        };
        Ok(UsageView {
            granted: true,
            totals: Totals::read(&ReportTotal::read(&r.item(total)?)),
            rows,
            matching,
            read_only_first,
            trend: trend(&ReportGraph::read_all(&r.item(graphs)?), period, self.today()),
            top: AccountUsage::read_all(&ReportTable::read(&r.item(top)?)),
        })
    }

    /// One account's figures and trend, if it is the parent or one of its children, in one request.
    pub(crate) async fn account(&self, id: i64, period: &Period) -> Result<AccountView, UsageError> {
        let mut mr = MultiRequest::new();
        let get = mr.add(Action::PARTNER_GET, json!({ "id": id }));
        let permission = mr.add(Action::PERMISSION_LIST, Permission::query(FEATURE_MULTI_ACCOUNT_ANALYTICS));
        let total = mr.add(Action::REPORT_GET_TOTAL, period.query(PER_ACCOUNT, vec![id]).for_total());
        let graphs = mr.add(Action::REPORT_GET_GRAPHS, period.query(TREND, vec![id]).for_graphs());
        let r = self.kaltura.multirequest(&mr).await?;
        let partner: Partner = match r.get(get) {
            Err(e) if e.is_invalid_partner() => return Err(UsageError::NotYours(id)),
            other => other?,
        };
        if !granted(&r, permission)? {
            return Ok(AccountView { partner, granted: false, totals: Totals::default(), trend: Vec::new() });
        }
        Ok(AccountView {
            partner,
            granted: true,
            totals: Totals::read(&ReportTotal::read(&r.item(total)?)),
            trend: trend(&ReportGraph::read_all(&r.item(graphs)?), period, self.today()),
        })
    }

    /// The calls for this month's totals of every account, added to a multirequest shared with other services (a
    /// parent's row of the overview).
    pub(crate) fn month_calls(&self, mr: &mut MultiRequest) -> MonthCalls {
        let period = Preset::ThisMonth.period(self.today());
        MonthCalls {
            permission: mr.add(Action::PERMISSION_LIST, Permission::query(FEATURE_MULTI_ACCOUNT_ANALYTICS)),
            total: mr.add(Action::REPORT_GET_TOTAL, period.query(PER_ACCOUNT, Vec::new()).for_total()),
        }
    }

    /// What [`Usage::month_calls`] asked: `None` without the analytics permission.
    pub(crate) fn read_month(r: &MultiResponse, calls: &MonthCalls) -> Result<Option<Totals>, KalturaError> {
        if !granted(r, calls.permission)? {
            return Ok(None);
        }
        Ok(Some(Totals::read(&ReportTotal::read(&r.item(calls.total)?))))
    }

    /// One account's totals for `period`, `None` without the analytics permission (for its details page).
    pub(crate) async fn totals(&self, id: i64, period: &Period) -> Result<Option<Totals>, KalturaError> {
        let mut mr = MultiRequest::new();
        let permission = mr.add(Action::PERMISSION_LIST, Permission::query(FEATURE_MULTI_ACCOUNT_ANALYTICS));
        let total = mr.add(Action::REPORT_GET_TOTAL, period.query(PER_ACCOUNT, vec![id]).for_total());
        let r = self.kaltura.multirequest(&mr).await?;
        if !granted(&r, permission)? {
            return Ok(None);
        }
        Ok(Some(Totals::read(&ReportTotal::read(&r.item(total)?))))
    }

    /// Every matching account's figures, the most bandwidth first, 500 at a time (so memory stays flat however
    /// many there are; Kaltura keeps an order across pages only for a figure). The permission and the first page
    /// are asked for here, so a refusal is known before anything is sent.
    pub(crate) async fn export(
        &self,
        period: &Period,
        search: &Search,
    ) -> Result<impl Stream<Item = Result<Vec<AccountUsage>, KalturaError>> + Send + 'static, UsageError> {
        let ids = match search {
            Search::Ids(ids) => ids.clone(),
            _ => Vec::new(),
        };
        let name = match search {
            Search::Name(text) => Some(text.to_lowercase()),
            _ => None,
        };
        let query = period.query(PER_ACCOUNT, ids);
        let order = DEFAULT_ORDER.order();
        let mut mr = MultiRequest::new();
        let permission = mr.add(Action::PERMISSION_LIST, Permission::query(FEATURE_MULTI_ACCOUNT_ANALYTICS));
        let first = mr.add(Action::REPORT_GET_TABLE, query.for_table(&Pager::new(EXPORT_PAGE, 1), Some(&order)));
        let r = self.kaltura.multirequest(&mr).await?;
        if !granted(&r, permission)? {
            return Err(UsageError::NotGranted);
        }
        let first = ReportTable::read(&r.item(first)?);
        let pages_in_all = (first.total_count.max(0) as u32).div_ceil(EXPORT_PAGE).max(1);
        let kaltura = self.kaltura.clone();
        let keep = move |rows: Vec<AccountUsage>| match &name {
            Some(text) => rows.into_iter().filter(|a| a.name.to_lowercase().contains(text)).collect(),
            None => rows,
        };
        let pages = stream::try_unfold((Some(first), 1u32), move |(table, index)| {
            let (kaltura, query, order, keep) = (kaltura.clone(), query.clone(), order.clone(), keep.clone());
            async move {
                let table = match table {
                    Some(t) => t,
                    None if index > pages_in_all => return Ok(None),
                    None => kaltura.report_table(&query, &Pager::new(EXPORT_PAGE, index), Some(&order)).await?,
                };
                if table.rows.is_empty() {
                    return Ok(None);
                }
                Ok(Some((keep(AccountUsage::read_all(&table)), (None, index + 1))))
            }
        });
        Ok(pages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn periods_are_checked_against_kalturas_limits() {
        let day = |d| Period::new(d, date!(2026 - 12 - 01), Interval::Day);
        assert_eq!(day(date!(2026 - 11 - 02)).unwrap().days(), 30);
        assert!(matches!(
            Period::new(date!(2026 - 12 - 02), date!(2026 - 12 - 01), Interval::Day),
            Err(PeriodError::Reversed { .. })
        ));
        assert_eq!(day(date!(2010 - 01 - 01)).unwrap_err(), PeriodError::TooManyDays { days: 6179 });
        assert_eq!(
            Period::new(date!(2010 - 01 - 01), date!(2026 - 12 - 01), Interval::Month).unwrap_err(),
            PeriodError::TooManyDays { days: 6179 },
            "months are read as days"
        );
        assert!(Period::new(date!(2013 - 06 - 01), date!(2026 - 11 - 30), Interval::Month).is_ok());
    }

    #[test]
    fn presets_end_today_and_last_month_is_the_whole_previous_month() {
        let today = date!(2026 - 03 - 15);
        let p = |preset: Preset| {
            let p = preset.period(today);
            (p.from, p.to, p.interval)
        };
        assert_eq!(p(Preset::Last7Days), (date!(2026 - 03 - 09), today, Interval::Day));
        assert_eq!(p(Preset::Last30Days), (date!(2026 - 02 - 14), today, Interval::Day));
        assert_eq!(p(Preset::ThisMonth), (date!(2026 - 03 - 01), today, Interval::Day));
        assert_eq!(p(Preset::LastMonth), (date!(2026 - 02 - 01), date!(2026 - 02 - 28), Interval::Day));
        assert_eq!(p(Preset::Last3Months), (date!(2026 - 01 - 01), today, Interval::Month));
        assert_eq!(p(Preset::Last12Months), (date!(2025 - 04 - 01), today, Interval::Month));
        assert_eq!(p(Preset::ThisYear), (date!(2026 - 01 - 01), today, Interval::Month));
        assert_eq!(Preset::LastMonth.period(date!(2026 - 01 - 10)).from, date!(2025 - 12 - 01));
    }

    #[test]
    fn a_period_asks_for_whole_utc_days() {
        let p = Period::new(date!(2026 - 11 - 01), date!(2026 - 11 - 30), Interval::Day).unwrap();
        let q = p.query(42, vec![6475]);
        assert_eq!((q.from_date, q.to_date), (1_793_491_200, 1_796_083_199));
        assert_eq!(q.object_ids, [6475]);
    }

    #[test]
    fn rows_sorted_here_ignore_case_and_break_ties_by_id() {
        let row = |id, name: &str, plays| AccountUsage {
            partner_id: id,
            name: name.into(),
            status: None,
            values: [plays, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        };
        let mut rows = vec![row(3, "beta", 1.0), row(1, "Alpha", 5.0), row(2, "alpha", 1.0)];
        Sort { column: SortColumn::Name, descending: false }.apply(&mut rows);
        assert_eq!(rows.iter().map(|r| r.partner_id).collect::<Vec<_>>(), [1, 2, 3]);
        Sort { column: SortColumn::Metric(Metric::Plays), descending: true }.apply(&mut rows);
        assert_eq!(rows.iter().map(|r| r.partner_id).collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn searches_are_ids_or_a_name() {
        assert_eq!(Search::parse(" 6475, 6474 "), Search::Ids(vec![6475, 6474]));
        assert_eq!(Search::parse("Shang"), Search::Name("Shang".into()));
        assert_eq!(Search::parse("12 Monkeys"), Search::Name("12 Monkeys".into()));
        assert_eq!(Search::parse("  "), Search::All);
    }

    #[test]
    fn rows_are_read_by_column_name() {
        let table = ReportTable::read(&json!({
            "header": "status|partner_name|partner_id|created_at|total_plays|bandwidth_consumption|average_storage",
            "data": "1|Shanghai|6475|1558444680|12|3.5|100.25;2|Bad|x|0|1|1|1;",
            "totalCount": 2
        }));
        let rows = AccountUsage::read_all(&table);
        assert_eq!(rows.len(), 1, "a row without a partner id is left out");
        assert_eq!(rows[0].status, Some(PartnerStatus::Active));
        assert_eq!((rows[0].get(Metric::Plays), rows[0].get(Metric::Bandwidth)), (12.0, 3.5));
        assert_eq!(rows[0].get(Metric::PeakStorage), 0.0, "a column Kaltura did not send reads as zero");
    }

    #[test]
    fn the_trend_pairs_bandwidth_and_storage_by_bucket_and_marks_the_incomplete_ones() {
        let graphs = ReportGraph::read_all(&json!([
            {"id": "bandwidth_consumption", "data": "202609|4;202610|5;202611|7;"},
            {"id": "average_storage", "data": "202609|90;202610|100;202611|110;"}
        ]));
        let day = |m, d| Date::from_calendar_date(2026, m, d).unwrap();
        let period = Period::new(day(Month::September, 15), day(Month::November, 30), Interval::Month).unwrap();
        let point =
            |m, bandwidth, storage, partial| TrendPoint { bucket: Bucket::Month(2026, m), bandwidth, storage, partial };
        assert_eq!(
            trend(&graphs, &period, day(Month::December, 6)),
            [
                point(Month::September, 4.0, 90.0, true),
                point(Month::October, 5.0, 100.0, false),
                point(Month::November, 7.0, 110.0, false)
            ],
            "September starts on the 15th"
        );
        let today = trend(&graphs, &period, day(Month::November, 20));
        assert!(today[2].partial, "November is not over");

        let days =
            ReportGraph::read_all(&json!([{"id": "bandwidth_consumption", "data": "20261205|1;20261206|2;x|3;"}]));
        let period = Period::new(day(Month::December, 5), day(Month::December, 6), Interval::Day).unwrap();
        let read: Vec<_> =
            trend(&days, &period, day(Month::December, 6)).into_iter().map(|p| (p.bucket, p.partial)).collect();
        assert_eq!(
            read,
            [
                (Bucket::Day(day(Month::December, 5)), false),
                (Bucket::Day(day(Month::December, 6)), true),
                (Bucket::Other("x".into()), false)
            ]
        );
        assert_eq!(Bucket::read("20261340"), Bucket::Other("20261340".into()), "not a date");
        assert_eq!(last_of_month(2026, Month::December), Some(day(Month::December, 31)));
    }
}
