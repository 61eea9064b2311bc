//! Usage analytics as kaltura/server's kKavaReportsMgr answers them (report.getTable, getTotal and getGraphs, and
//! varConsole.getPartnerUsage), over synthetic usage: a partner's figures for a day derive from its id and the
//! day alone, so the same question always gets the same answer, and tables, totals and graphs agree.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::ops::AddAssign;

use super::params::{Params, php_int};
use super::seed::mix;
use super::store::{ReportPartner, Store};
use super::wire::{ApiError, V, php_float};

const DAY: i64 = 86_400;
const MB: f64 = 1_048_576.0;
/// getDateIdRange stops after this many days; usage reports make their months and years from those days.
const MAX_DAYS: i64 = 5000;
/// kTime: values this close to zero count from now (configurations/base.ini `max_relative_time`).
const MAX_RELATIVE_TIME: i64 = 315_360_000;
/// The caller's fromDate is raised to its creation less this (KalturaReportInputBaseFilter).
const BEFORE_CREATION: i64 = 30 * DAY;

/// kaltura/server's ReportType (alpha/lib/enums/ReportType.php), as inclusive ranges.
const REPORT_TYPES: &[(i64, i64)] = &[
    (1, 7),
    (11, 30),
    (32, 69),
    (201, 201),
    (10001, 10016),
    (20001, 20023),
    (30001, 30064),
    (40001, 40013),
    (50000, 50008),
    (60001, 60019),
    (70001, 70001),
    (80001, 80006),
];

/// A KalturaReportType as PHP's loose comparison accepts it (`19`, ` 19`, `19.0`); anything else is None.
pub fn report_type(value: &str) -> Option<i64> {
    let n = numeric(value)?;
    if n.fract() != 0.0 || n.abs() > 1e9 {
        return None;
    }
    let n = n as i64;
    REPORT_TYPES.iter().any(|(a, b)| (*a..=*b).contains(&n)).then_some(n)
}

/// PHP's `is_numeric` strings, as numbers.
fn numeric(s: &str) -> Option<f64> {
    let t = s.trim();
    let plausible =
        !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    if plausible { t.parse().ok() } else { None }
}

/// KalturaReportInterval. Usage reports are built from daily figures, so the finer intervals (hours, minutes,
/// ten_seconds, ten_minutes) give daily buckets keyed `date_id`, as kKavaReportsMgr does for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Days,
    Months,
    Years,
}

impl Interval {
    fn parse(v: &str) -> Option<Interval> {
        match v {
            "days" | "hours" | "minutes" | "ten_seconds" | "ten_minutes" => Some(Interval::Days),
            "months" => Some(Interval::Months),
            "years" => Some(Interval::Years),
            _ => None,
        }
    }

    /// The table's period column.
    fn column(self) -> &'static str {
        match self {
            Interval::Days => "date_id",
            Interval::Months => "month_id",
            Interval::Years => "year_id",
        }
    }
}

/// KalturaReportInputFilter, the fields usage reports read.
#[derive(Debug, Clone, Default)]
pub struct InputFilter {
    /// Unix seconds after kTime's relative-time rule; 0 when absent, which PHP treats alike.
    pub from_date: i64,
    pub to_date: i64,
    /// `YYYYMMDD`.
    pub from_day: String,
    pub to_day: String,
    /// Minutes, with JavaScript's sign: UTC+2 is -120.
    pub offset: i64,
    pub interval: Option<Interval>,
}

impl InputFilter {
    /// Reads the object; a bad `interval` is INVALID_ENUM_VALUE, as the server's deserializer says.
    pub fn read(p: &Params, now: i64) -> Result<InputFilter, ApiError> {
        let interval = match p.text("interval") {
            None => None,
            Some(v) => Some(
                Interval::parse(&v)
                    .ok_or_else(|| ApiError::new("INVALID_ENUM_VALUE", &[&v, "interval", "KalturaReportInterval"]))?,
            ),
        };
        Ok(InputFilter {
            from_date: time(p, "fromDate", now),
            to_date: time(p, "toDate", now),
            from_day: p.text("fromDay").unwrap_or_default(),
            to_day: p.text("toDay").unwrap_or_default(),
            offset: p.int("timeZoneOffset").unwrap_or(0),
            interval,
        })
    }
}

/// kTime::getRelativeTime: empty is 0, -1 stays, values within ten years of zero count from now (0 is now).
fn time(p: &Params, name: &str, now: i64) -> i64 {
    match p.text(name) {
        None => 0,
        Some(v) if v.trim().is_empty() => 0,
        Some(v) => match php_int(&v) {
            -1 => -1,
            v if v.abs() <= MAX_RELATIVE_TIME => now + v,
            v => v,
        },
    }
}

/// KalturaFilterPager as report.getTable reads it: 30 and 1 by default, a size of 0 or less is 10, an index of 0 or
/// less is 1, and no upper limit.
pub fn pager(p: &Params) -> (i64, i64) {
    let size = p.text("pageSize").map_or(30, |v| php_int(&v));
    let index = p.text("pageIndex").map_or(1, |v| php_int(&v));
    (if size <= 0 { 10 } else { size }, if index <= 0 { 1 } else { index })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Table,
    Total,
    Graphs,
}

/// One report call's arguments.
pub struct Request {
    pub report_type: i64,
    pub filter: InputFilter,
    /// getTable's page (size, index).
    pub pager: (i64, i64),
    pub order: Option<String>,
    pub object_ids: Option<String>,
    /// KalturaReportResponseOptions.delimiter: joins columns and graph keys to values, splits objectIds.
    pub delimiter: String,
}

/// report.getTable, getTotal or getGraphs for `caller`.
pub async fn run(
    store: &Store,
    caller: &ReportPartner,
    req: &Request,
    action: Action,
    now: i64,
) -> Result<V, ApiError> {
    if !matches!(req.report_type, 19 | 42 | 60 | 201 | 20001..=20023) {
        return Ok(unmodelled(action));
    }
    let mut filter = req.filter.clone();
    raise_to_creation(&mut filter, caller.created_at);
    let r = Report {
        range: resolve(&filter, now),
        interval: filter.interval.unwrap_or(Interval::Days),
        delimiter: &req.delimiter,
        pager: req.pager,
        order: req.order.as_deref(),
    };
    let ids = req.object_ids.as_deref().filter(|s| truthy(s));
    let scope = store.report_partners(caller.id).await?;
    Ok(match req.report_type {
        19 => r.var_usage(&allowed(scope, caller.id, ids, r.delimiter, false), action),
        42 => r.multi(&allowed(scope, caller.id, ids, r.delimiter, true), action),
        201 => r.partner_usage(&allowed(scope, caller.id, ids, r.delimiter, false), action),
        20021 => r.partner_usage(&listed(scope, ids, r.delimiter), action),
        20023 => r.self_serve(&allowed(scope, caller.id, ids, r.delimiter, true), action),
        60 => {
            let own: Vec<ReportPartner> = scope.into_iter().filter(|p| p.id == caller.id).collect();
            r.self_serve(&listed(own, ids, r.delimiter), action)
        }
        kind => r.vpaas(kind, &listed(scope, ids, r.delimiter), action),
    })
}

/// The types whose figures the emulator does not model: no header, no rows, no graphs.
fn unmodelled(action: Action) -> V {
    match action {
        Action::Table => empty_table(),
        Action::Total => {
            V::Obj("KalturaReportTotal", vec![("header", V::Str(String::new())), ("data", V::Str(String::new()))])
        }
        Action::Graphs => V::Arr(Vec::new()),
    }
}

/// ReportService::validateObjectsAreAllowedPartners for the cross-partner types: the listed ids (read as MySQL
/// reads a string as a number) that are the caller or its direct children, others dropped silently, none left
/// meaning no partner (`-1000`). Without ids: the caller alone, or (`all`, types 42 and 20023) its whole scope.
fn allowed(
    scope: Vec<ReportPartner>,
    caller: i64,
    ids: Option<&str>,
    delimiter: &str,
    all: bool,
) -> Vec<ReportPartner> {
    match ids {
        None if all => scope,
        None => scope.into_iter().filter(|p| p.id == caller).collect(),
        Some(ids) => {
            let wanted: HashSet<i64> = ids.split(delimiter).map(php_int).collect();
            scope.into_iter().filter(|p| wanted.contains(&p.id)).collect()
        }
    }
}

/// objectIds as a Druid filter on the partner dimension: exact ids, split on the delimiter, within the scope.
fn listed(scope: Vec<ReportPartner>, ids: Option<&str>, delimiter: &str) -> Vec<ReportPartner> {
    let Some(ids) = ids else { return scope };
    let wanted: HashSet<&str> = ids.split(delimiter).collect();
    scope.into_iter().filter(|p| wanted.contains(p.id.to_string().as_str())).collect()
}

/// PHP truthiness of a string parameter.
fn truthy(s: &str) -> bool {
    !s.is_empty() && s != "0"
}

/// KalturaReportInputBaseFilter::toReportsInputFilter: no data from before the caller's creation less 30 days.
fn raise_to_creation(f: &mut InputFilter, created_at: i64) {
    let earliest = created_at - BEFORE_CREATION;
    if truthy(&f.from_day) {
        let day = date_id(earliest.div_euclid(DAY));
        if php_cmp(&f.from_day, &day) == Ordering::Less {
            f.from_day = day;
        }
    } else if f.from_date != 0 {
        f.from_date = f.from_date.max(earliest);
    }
}

/// The local days a request covers: buckets are keyed by the days `first..=last` (none when `first > last`), and
/// `data` says whether the server's query interval is non-empty (a one-sided or inverted range answers zeros).
#[derive(Debug, Clone, Copy)]
struct Range {
    first: i64,
    last: i64,
    data: bool,
    /// No usage after this local day.
    today: i64,
    /// The fixed time zone offset, minutes (JavaScript's sign).
    offset: i64,
}

impl Range {
    fn days(&self) -> usize {
        usize::try_from(self.last - self.first + 1).unwrap_or(0)
    }

    fn local_day(&self, t: i64) -> i64 {
        (t - self.offset * 60).div_euclid(DAY)
    }
}

/// kKavaReportsMgr's date handling. Days are whole local days: a range given in seconds covers the local days of
/// its ends (the synthetic figures are per day). The server's own time zone, used to turn an inverted range of
/// seconds into days, is taken to be UTC.
fn resolve(f: &InputFilter, now: i64) -> Range {
    let offset = fix_offset(f.offset);
    let (mut from_day, mut to_day) = (f.from_day.clone(), f.to_day.clone());
    if !(truthy(&from_day) && truthy(&to_day)) && f.from_date != 0 && f.to_date != 0 && f.from_date >= f.to_date {
        from_day = date_id(f.from_date.div_euclid(DAY));
        to_day = date_id(f.to_date.div_euclid(DAY));
    }
    let by_day = truthy(&from_day) && truthy(&to_day);
    let data = if f.from_date != 0 && f.to_date != 0 && !by_day {
        true
    } else {
        matches!((parse_day(&from_day), parse_day(&to_day)), (Some(a), Some(b)) if a <= b)
    };
    let mut range = Range { first: 1, last: 0, data, today: 0, offset };
    range.today = range.local_day(now);
    let key = |day: &str, t: i64| if truthy(day) { parse_day(day) } else { Some(range.local_day(t)) };
    if let (Some(first), Some(last)) = (key(&from_day, f.from_date), key(&to_day, f.to_date)) {
        range.first = first;
        range.last = last.min(first + MAX_DAYS - 1);
    }
    range
}

/// The offsets kKavaReportsMgr knows keep their value; others are clamped to -840…720 and rounded to hours.
fn fix_offset(offset: i64) -> i64 {
    const KNOWN: &[i64] = &[
        -840, -780, -765, -720, -690, -660, -630, -600, -570, -540, -525, -480, -420, -390, -360, -345, -330, -300,
        -270, -240, -210, -180, -120, -60, 0, 60, 120, 180, 210, 240, 270, 300, 360, 420, 480, 540, 570, 600, 660, 720,
    ];
    if KNOWN.contains(&offset) {
        return offset;
    }
    (offset.clamp(-840, 720) as f64 / 60.0).round() as i64 * 60
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil(day: i64) -> (i64, i64, i64) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

fn date_id(day: i64) -> String {
    let (y, m, d) = civil(day);
    format!("{y:04}{m:02}{d:02}")
}

/// A `YYYYMMDD` id (further characters ignored, as the server does) that names a real date.
fn parse_day(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 8 || !b[..8].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (s[..4].parse().ok()?, s[4..6].parse().ok()?, s[6..8].parse().ok()?);
    let day = days_from_civil(y, m, d);
    ((1..=12).contains(&m) && d >= 1 && civil(day) == (y, m, d)).then_some(day)
}

/// Periods over a range: each day's bucket and each bucket's key (`YYYYMMDD`, `YYYYMM`, `YYYY`).
#[derive(Debug, Default)]
struct Buckets {
    keys: Vec<String>,
    of_day: Vec<usize>,
    sizes: Vec<i64>,
}

impl Buckets {
    fn new(range: &Range, interval: Interval) -> Buckets {
        let mut b = Buckets::default();
        for day in range.first..=range.last {
            let (y, m, d) = civil(day);
            let key = match interval {
                Interval::Days => format!("{y:04}{m:02}{d:02}"),
                Interval::Months => format!("{y:04}{m:02}"),
                Interval::Years => format!("{y:04}"),
            };
            if b.keys.last() != Some(&key) {
                b.keys.push(key);
                b.sizes.push(0);
            }
            b.of_day.push(b.keys.len() - 1);
            *b.sizes.last_mut().expect("just pushed") += 1;
        }
        b
    }

    /// The whole range as one bucket (totals, and report 42, which ignores the interval).
    fn whole(range: &Range) -> Buckets {
        let days = range.days();
        Buckets { keys: vec![String::new()], of_day: vec![0; days], sizes: vec![days as i64] }
    }

    fn aggs(&self) -> Vec<Agg> {
        self.sizes.iter().map(|&days| Agg { days, ..Agg::default() }).collect()
    }
}

/// One partner's (or a sum of partners') usage on one day: bytes, counts and seconds.
#[derive(Debug, Clone, Copy, Default)]
struct Day {
    plays: i64,
    views: i64,
    streams: i64,
    bandwidth: i64,
    origin: i64,
    added: i64,
    deleted: i64,
    /// The day's storage as the server counts it: yesterday's total plus today's uploads.
    storage: i64,
    transcoding: i64,
    transcoding_secs: i64,
    entries: i64,
    interactive: i64,
    users: i64,
    live_secs: i64,
    meeting_secs: i64,
    recording_secs: i64,
    jobs: i64,
    credit_cents: i64,
}

impl AddAssign for Day {
    fn add_assign(&mut self, o: Day) {
        self.plays += o.plays;
        self.views += o.views;
        self.streams += o.streams;
        self.bandwidth += o.bandwidth;
        self.origin += o.origin;
        self.added += o.added;
        self.deleted += o.deleted;
        self.storage += o.storage;
        self.transcoding += o.transcoding;
        self.transcoding_secs += o.transcoding_secs;
        self.entries += o.entries;
        self.interactive += o.interactive;
        self.users += o.users;
        self.live_secs += o.live_secs;
        self.meeting_secs += o.meeting_secs;
        self.recording_secs += o.recording_secs;
        self.jobs += o.jobs;
        self.credit_cents += o.credit_cents;
    }
}

/// A fraction in [0, 1) from 16 bits of `h`.
fn unit(h: u64, shift: u32) -> f64 {
    f64::from(((h >> shift) & 0xFFFF) as u32) * (1.0 / 65_536.0)
}

/// Rounds a non-negative figure, half up (cheaper than `f64::round`, which is a library call on baseline x86-64).
fn half_up(x: f64) -> i64 {
    (x + 0.5) as i64
}

fn is_weekend(day: i64) -> bool {
    matches!((day + 4).rem_euclid(7), 0 | 6)
}

fn weekdays(first: i64, last: i64) -> i64 {
    if last < first {
        return 0;
    }
    let weeks = (last - first + 1) / 7;
    weeks * 5 + (first + weeks * 7..=last).filter(|d| !is_weekend(*d)).count() as i64
}

/// A partner's character, drawn from its id: how much it plays, uploads and keeps, and which extras it uses.
/// Storage grows by a fixed upload a weekday (a quarter of it at weekends) and deletions are made good the same
/// day, so the total at any day has a closed form and a report never walks the days before its range.
struct Profile {
    seed: u64,
    created: i64,
    plays: f64,
    bytes_per_play: f64,
    views: f64,
    streams: f64,
    origin: f64,
    upload: i64,
    initial: i64,
    entries_per_byte: f64,
    initial_entries: i64,
    user_rate: f64,
    population: f64,
    transcode: f64,
    /// Transcoding minutes for the bytes added, in seconds per byte.
    secs_per_byte: f64,
    interactive: bool,
    live_secs_per_play: f64,
    meeting_secs: f64,
    price_cents: i64,
}

impl Profile {
    fn new(id: i64, created_at: i64, range: &Range) -> Profile {
        let h1 = mix(id as u64 ^ 0x0A11_71C5);
        let (h2, h3, h4) = (mix(h1), mix(h1 ^ 1), mix(h1 ^ 2));
        let (lo, hi) = match h1 % 100 {
            0..=49 => (2.0, 20.0),
            50..=84 => (20.0, 200.0),
            85..=97 => (200.0, 2_000.0),
            _ => (2_000.0, 10_000.0),
        };
        let plays = lo * f64::powf(hi / lo, unit(h1, 8));
        let upload = (plays * 1.5 * MB * (0.5 + 1.5 * unit(h2, 0))) as i64;
        Profile {
            seed: h1,
            created: range.local_day(created_at),
            plays,
            bytes_per_play: (15.0 + 105.0 * unit(h1, 24)) * MB,
            views: 1.3 + 0.9 * unit(h1, 40),
            streams: 1.2 + 0.3 * unit(h2, 16),
            origin: 0.03 + 0.09 * unit(h2, 32),
            upload,
            initial: ((50.0 + 450.0 * unit(h2, 48)) * MB) as i64,
            entries_per_byte: 1.0 / ((50.0 + 350.0 * unit(h3, 0)) * MB),
            initial_entries: 5 + (h3 >> 16) as i64 % 36,
            user_rate: 0.01 + 0.5 * unit(h3, 24),
            population: plays * (2.0 + 4.0 * unit(h3, 40)) + 10.0,
            transcode: 1.5 + 1.5 * unit(h4, 0),
            secs_per_byte: 60.0 / ((30.0 + 50.0 * unit(h4, 16)) * MB),
            interactive: (h4 >> 32).is_multiple_of(4),
            live_secs_per_play: if (h4 >> 36).is_multiple_of(3) { 60.0 + 1140.0 * unit(h4, 40) } else { 0.0 },
            meeting_secs: if (h4 >> 56).is_multiple_of(4) { 1_800.0 + 34_200.0 * unit(h3, 48) } else { 0.0 },
            price_cents: if (h4 >> 60).is_multiple_of(5) { 50 + (h2 % 250) as i64 } else { 0 },
        }
    }

    /// Storage left at the end of `day` (after that day's deletions).
    fn stock(&self, day: i64, today: i64) -> i64 {
        let last = day.min(today);
        if last < self.created {
            return 0;
        }
        let weekdays = weekdays(self.created, last);
        let weekends = last - self.created + 1 - weekdays;
        self.initial + self.upload * weekdays + self.upload / 4 * weekends
    }

    /// Unique users among `plays` plays: most plays come from returning users, up to the partner's population.
    fn unique(&self, plays: i64) -> i64 {
        (self.population * (1.0 - (-(plays as f64) / (self.population * 1.5)).exp())) as i64
    }

    /// The usage of `day`, given the storage left the day before; `stock` becomes the day's. Storage, plays,
    /// bandwidth and transcoding always; the rest only for [`Figures::All`].
    #[inline(always)]
    fn day(&self, day: i64, today: i64, stock: &mut i64, figures: Figures) -> Day {
        let all = figures == Figures::All;
        let age = (day.min(today) - self.created) as f64;
        let mut x = Day { storage: *stock, ..Day::default() };
        if all {
            x.entries = self.initial_entries + ((*stock - self.initial).max(0) as f64 * self.entries_per_byte) as i64;
            x.interactive = if self.interactive { x.entries / 40 } else { 0 };
            x.users = 1 + (age * self.user_rate) as i64;
        }
        if day > today {
            return x;
        }
        let h = mix(self.seed ^ (day as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let weekend = is_weekend(day);
        let week = if weekend { 0.55 } else { 1.0 };
        let growth = ((age + 7.0) * (1.0 / 90.0)).min(1.0) * (1.0 + age * (1.0 / 1_095.0));
        x.plays = half_up(self.plays * growth * week * (0.7 + 0.6 * unit(h, 0)));
        let plays = x.plays as f64;
        x.bandwidth = (plays * self.bytes_per_play * (0.8 + 0.4 * unit(h, 32))) as i64;
        let mut upload = if weekend { self.upload / 4 } else { self.upload };
        if day == self.created {
            upload += self.initial;
        }
        if unit(h, 48) < 0.2 {
            x.deleted = ((self.upload as f64 * (0.1 + 1.4 * unit(h, 16))) as i64).min(*stock / 2);
        }
        x.added = upload + x.deleted;
        x.storage = *stock + x.added;
        *stock = x.storage - x.deleted;
        x.transcoding = (x.added as f64 * self.transcode) as i64;
        if !all {
            return x;
        }
        x.views = half_up(plays * self.views * (0.9 + 0.2 * unit(h, 16)));
        x.streams = half_up(plays * self.streams);
        x.origin = (x.bandwidth as f64 * self.origin) as i64;
        x.transcoding_secs = (x.added as f64 * self.secs_per_byte) as i64;
        if self.live_secs_per_play > 0.0 {
            x.live_secs = (plays * self.live_secs_per_play * (0.5 + unit(h, 32))) as i64;
        }
        if self.meeting_secs > 0.0 {
            x.meeting_secs = (self.meeting_secs * week * (0.5 + unit(h, 0))) as i64;
            x.recording_secs = (self.meeting_secs / 6.0 * week * unit(h, 16)) as i64;
        }
        if self.price_cents > 0 && unit(h, 48) > 0.7 {
            x.jobs = 1 + (unit(h, 0) * 4.0) as i64;
            x.credit_cents = x.jobs * self.price_cents;
        }
        x
    }
}

/// The figures a report reads: the usage reports' storage, bandwidth and transcoding (with plays, which
/// bandwidth follows), or everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Figures {
    Storage,
    All,
}

/// Usage summed over some days: flows summed, storage averaged and peaked, stocks taken at the last day.
#[derive(Debug, Clone, Default)]
struct Agg {
    days: i64,
    sum: Day,
    storage: i128,
    peak_storage: i64,
    peak_entries: i64,
    peak_users: i64,
    entries: i64,
    interactive: i64,
    unique: i64,
    /// The sum of the months' average storage (totals only), MB.
    monthly_storage: f64,
}

impl Agg {
    fn add(&mut self, d: &Day) {
        self.sum += *d;
        self.storage += i128::from(d.storage);
        self.peak_storage = self.peak_storage.max(d.storage);
        self.peak_entries = self.peak_entries.max(d.entries);
        self.peak_users = self.peak_users.max(d.users);
        self.entries = d.entries;
        self.interactive = d.interactive;
    }

    fn average_storage(&self) -> f64 {
        if self.days == 0 { 0.0 } else { self.storage as f64 / self.days as f64 / MB }
    }

    fn value(&self, m: Metric) -> Cell {
        let mb = |bytes: i64| Cell::Float(bytes as f64 / MB);
        let minutes = |secs: i64| Cell::Float(secs as f64 / 60.0);
        let s = &self.sum;
        match m {
            Metric::Bandwidth => mb(s.bandwidth),
            Metric::AverageStorage => Cell::Float(self.average_storage()),
            Metric::PeakStorage => mb(self.peak_storage),
            Metric::AddedStorage => mb(s.added),
            Metric::DeletedStorage => mb(s.deleted),
            Metric::Combined => Cell::Float(s.bandwidth as f64 / MB + self.average_storage()),
            Metric::Transcoding => mb(s.transcoding),
            Metric::MonthlyStorage => Cell::Float(self.monthly_storage),
            Metric::CombinedMonthly => Cell::Float(s.bandwidth as f64 / MB + self.monthly_storage),
            Metric::Plays => Cell::Int(s.plays),
            Metric::Views => Cell::Int(s.views),
            Metric::PeakEntries => Cell::Int(self.peak_entries),
            Metric::PeakUsers => Cell::Int(self.peak_users),
            Metric::Origin => mb(s.origin),
            Metric::Unique => Cell::Int(self.unique),
            Metric::Entries => Cell::Int(self.entries),
            Metric::Streams => Cell::Int(s.streams),
            Metric::Interactive => Cell::Int(self.interactive),
            Metric::LiveViewTime => minutes(s.live_secs + s.meeting_secs),
            Metric::Credits => Cell::Float(s.credit_cents as f64 / 100.0),
            Metric::Jobs => Cell::Int(s.jobs),
            Metric::TranscodingDuration => minutes(s.transcoding_secs),
            Metric::RecordingHours => Cell::Float(s.recording_secs as f64 / 3_600.0),
            Metric::MeetingViewTime => minutes(s.meeting_secs),
        }
    }
}

/// What a run of the synthetic model gives: the scope's usage summed per day of the range, and its unique users
/// per bucket (a partner's users are its own, so they add up across partners).
struct Usage {
    daily: Vec<Day>,
    unique: Vec<i64>,
}

impl Usage {
    /// Runs `partners` over the range; `each` (if given) gets the index and per-bucket usage of every partner that
    /// has rows (one that existed before the range ended, when the range holds data) instead of the daily sums.
    fn of(
        partners: &[ReportPartner],
        range: &Range,
        buckets: &Buckets,
        figures: Figures,
        mut each: Option<&mut dyn FnMut(usize, Vec<Agg>)>,
    ) -> Usage {
        let mut out = Usage { daily: vec![Day::default(); range.days()], unique: vec![0; buckets.keys.len()] };
        if !range.data {
            return out;
        }
        let mut plays = vec![0_i64; buckets.keys.len()];
        for (i, partner) in partners.iter().enumerate() {
            let p = Profile::new(partner.id, partner.created_at, range);
            if p.created > range.last {
                continue;
            }
            let start = p.created.max(range.first);
            let mut stock = p.stock(start - 1, range.today);
            let mut aggs = each.is_some().then(|| buckets.aggs());
            plays.fill(0);
            for day in start..=range.last {
                let x = p.day(day, range.today, &mut stock, figures);
                let k = (day - range.first) as usize;
                let b = buckets.of_day[k];
                plays[b] += x.plays;
                match aggs.as_mut() {
                    Some(aggs) => aggs[b].add(&x),
                    None => out.daily[k] += x,
                }
            }
            if figures == Figures::All {
                for (unique, n) in out.unique.iter_mut().zip(&plays) {
                    *unique += p.unique(*n);
                }
            }
            if let (Some(each), Some(mut aggs)) = (each.as_mut(), aggs) {
                if figures == Figures::All {
                    for (agg, n) in aggs.iter_mut().zip(&plays) {
                        agg.unique = p.unique(*n);
                    }
                }
                each(i, aggs);
            }
        }
        out
    }

    /// The summed usage per bucket.
    fn per_bucket(&self, buckets: &Buckets) -> Vec<Agg> {
        let mut aggs = buckets.aggs();
        for (k, d) in self.daily.iter().enumerate() {
            aggs[buckets.of_day[k]].add(d);
        }
        for (agg, unique) in aggs.iter_mut().zip(&self.unique) {
            agg.unique = *unique;
        }
        aggs
    }

    /// The summed usage over the whole range, with the sum of its months' average storage.
    fn total(partners: &[ReportPartner], range: &Range, figures: Figures) -> Agg {
        let usage = Usage::of(partners, range, &Buckets::whole(range), figures, None);
        let mut total = usage.per_bucket(&Buckets::whole(range)).remove(0);
        let months = Buckets::new(range, Interval::Months);
        // A fold from +0: an empty float sum is -0, which PHP would write as "-0".
        total.monthly_storage = usage.per_bucket(&months).iter().map(Agg::average_storage).fold(0.0, |a, b| a + b);
        total
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    Bandwidth,
    AverageStorage,
    PeakStorage,
    AddedStorage,
    DeletedStorage,
    Combined,
    Transcoding,
    MonthlyStorage,
    CombinedMonthly,
    Plays,
    Views,
    PeakEntries,
    PeakUsers,
    Origin,
    Unique,
    Entries,
    Streams,
    Interactive,
    LiveViewTime,
    Credits,
    Jobs,
    TranscodingDuration,
    RecordingHours,
    MeetingViewTime,
}

/// A metric column: its header, and the name kKavaReportsMgr computes it under (`order` accepts either).
#[derive(Debug, Clone, Copy)]
struct Column {
    header: &'static str,
    internal: &'static str,
    metric: Metric,
}

const fn col(header: &'static str, metric: Metric) -> Column {
    Column { header, internal: header, metric }
}

const fn alias(header: &'static str, internal: &'static str, metric: Metric) -> Column {
    Column { header, internal, metric }
}

const BANDWIDTH: Column = col("bandwidth_consumption", Metric::Bandwidth);
const AVERAGE: Column = col("average_storage", Metric::AverageStorage);
const PEAK: Column = col("peak_storage", Metric::PeakStorage);
const ADDED: Column = col("added_storage", Metric::AddedStorage);
const DELETED: Column = col("deleted_storage", Metric::DeletedStorage);
const COMBINED: Column = col("combined_bandwidth_storage", Metric::Combined);
const TRANSCODING: Column = col("transcoding_consumption", Metric::Transcoding);
const UNIQUE: Column = col("unique_known_users", Metric::Unique);

/// PARTNER_USAGE's and VAR_USAGE's totals.
const T1: &[Column] = &[
    BANDWIDTH,
    AVERAGE,
    PEAK,
    ADDED,
    DELETED,
    COMBINED,
    TRANSCODING,
    col("aggregated_monthly_avg_storage", Metric::MonthlyStorage),
    col("combined_bandwidth_aggregated_storage", Metric::CombinedMonthly),
];
/// VAR_USAGE's graphs.
const G1: &[Column] = &[TRANSCODING, BANDWIDTH, ADDED, DELETED, AVERAGE, PEAK, COMBINED];
/// PARTNER_USAGE's graphs and table.
const G2: &[Column] = &[BANDWIDTH, AVERAGE, PEAK, ADDED, DELETED, COMBINED, TRANSCODING];
/// VAR_USAGE's table.
const VAR_TABLE: &[Column] = &[
    BANDWIDTH,
    AVERAGE,
    PEAK,
    ADDED,
    DELETED,
    COMBINED,
    alias("transcoding_usage", "transcoding_consumption", Metric::Transcoding),
];
/// VPAAS_USAGE_MULTI's table and total.
const M42: &[Column] = &[
    alias("total_plays", "play", Metric::Plays),
    BANDWIDTH,
    AVERAGE,
    TRANSCODING,
    alias("total_entries", "peak_entries", Metric::PeakEntries),
    alias("total_end_users", "peak_users", Metric::PeakUsers),
    alias("total_views", "playerImpression", Metric::Views),
    col("origin_bandwidth_consumption", Metric::Origin),
    ADDED,
    DELETED,
    PEAK,
    UNIQUE,
];
/// SELF_SERVE_USAGE's table, total and graphs.
const M60: &[Column] = &[
    UNIQUE,
    alias("total_entries", "latest_entries", Metric::Entries),
    alias("video_streams", "playManifest", Metric::Streams),
    TRANSCODING,
    BANDWIDTH,
    PEAK,
    alias("total_interactive_video_entries", "latest_interactive_videos", Metric::Interactive),
    alias("live_view_time", "combined_live_view_time", Metric::LiveViewTime),
    alias("total_credits", "price", Metric::Credits),
    alias("total_jobs_completed", "total_jobs", Metric::Jobs),
    AVERAGE,
    col("transcoding_duration", Metric::TranscodingDuration),
    col("added_meeting_recording_hours", Metric::RecordingHours),
    col("meeting_view_time", Metric::MeetingViewTime),
];
/// The partner columns 19 and 42 fill from the partner table.
const PARTNER_COLUMNS: [&str; 4] = ["status", "partner_name", "partner_id", "created_at"];

/// A table cell or total value, written as PHP writes it.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Int(i64),
    Float(f64),
    Text(String),
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => php_float(*f),
            Cell::Text(s) => s.clone(),
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Float(f) => Some(*f),
            Cell::Text(s) => numeric(s),
        }
    }
}

/// PHP 8's `<=>`: numbers (and numeric strings) by value, other strings byte by byte.
fn cell_cmp(a: &Cell, b: &Cell) -> Ordering {
    match (a.number(), b.number()) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => a.text().cmp(&b.text()),
    }
}

fn php_cmp(a: &str, b: &str) -> Ordering {
    cell_cmp(&Cell::Text(a.into()), &Cell::Text(b.into()))
}

/// `order`: one column by its header or internal name, optionally signed; unsigned sorts descending, as
/// kKavaReportsMgr's in-memory sort does. Anything else (comma lists included) is None.
fn order_column(order: Option<&str>, names: &[(&str, &str)]) -> Option<(usize, bool)> {
    let order = order?;
    let (desc, name) = match order.as_bytes().first()? {
        b'+' => (false, &order[1..]),
        b'-' => (true, &order[1..]),
        _ => (true, order),
    };
    names.iter().position(|(header, internal)| *header == name || *internal == name).map(|i| (i, desc))
}

/// A stable sort of rows on one column.
fn sort_rows<R>(rows: &mut [R], desc: bool, key: impl Fn(&R) -> &Cell) {
    rows.sort_by(|a, b| {
        let o = cell_cmp(key(a), key(b));
        if desc { o.reverse() } else { o }
    });
}

fn page<T>(rows: Vec<T>, (size, index): (i64, i64)) -> Vec<T> {
    let start = usize::try_from((index - 1).saturating_mul(size)).unwrap_or(usize::MAX);
    rows.into_iter().skip(start).take(usize::try_from(size).unwrap_or(usize::MAX)).collect()
}

/// KalturaReportTable with no header: nothing set.
fn empty_table() -> V {
    V::Obj("KalturaReportTable", vec![("header", V::Null), ("data", V::Null), ("totalCount", V::Null)])
}

/// KalturaReportTable::fromReportTable: columns joined by the delimiter, each row ended by `;`, the delimiter and
/// `;` inside a value replaced by a space.
fn table(header: &[&str], rows: &[Vec<Cell>], total: usize, delimiter: &str) -> V {
    let mut data = String::new();
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| c.text().replace(delimiter, " ").replace(';', " ")).collect();
        data.push_str(&cells.join(delimiter));
        data.push(';');
    }
    V::Obj(
        "KalturaReportTable",
        vec![("header", V::Str(header.join(delimiter))), ("data", V::Str(data)), ("totalCount", V::Int(total as i64))],
    )
}

/// KalturaReportTotal: header and values joined by the delimiter.
fn total_v(columns: &[Column], values: &[String], delimiter: &str) -> V {
    let header: Vec<&str> = columns.iter().map(|c| c.header).collect();
    V::Obj(
        "KalturaReportTotal",
        vec![("header", V::Str(header.join(delimiter))), ("data", V::Str(values.join(delimiter)))],
    )
}

/// KalturaReportGraph per column: `key{delimiter}value;` per bucket, keys ascending.
fn graphs_v(columns: &[Column], keys: &[String], aggs: &[Agg], delimiter: &str) -> V {
    V::Arr(
        columns
            .iter()
            .map(|c| {
                let data: String = keys
                    .iter()
                    .zip(aggs)
                    .map(|(k, a)| format!("{k}{delimiter}{};", a.value(c.metric).text()))
                    .collect();
                V::Obj("KalturaReportGraph", vec![("id", V::Str(c.header.into())), ("data", V::Str(data))])
            })
            .collect(),
    )
}

/// The parts of a request every usage report reads.
struct Report<'a> {
    range: Range,
    interval: Interval,
    delimiter: &'a str,
    pager: (i64, i64),
    order: Option<&'a str>,
}

impl Report<'_> {
    /// A table of one row per bucket (201, 20021, 60, 20023): zero-filled, sortable by any column including the
    /// period; with `years` the period column is left out (kKavaReportsMgr keeps only date_id and month_id).
    fn period_table(&self, columns: &[Column], aggs: &[Agg], keys: &[String]) -> V {
        let period = self.interval.column();
        let mut names = vec![(period, period)];
        names.extend(columns.iter().map(|c| (c.header, c.internal)));
        let mut rows: Vec<Vec<Cell>> = keys
            .iter()
            .zip(aggs)
            .map(|(k, a)| {
                std::iter::once(Cell::Text(k.clone())).chain(columns.iter().map(|c| a.value(c.metric))).collect()
            })
            .collect();
        if let Some((i, desc)) = order_column(self.order, &names) {
            sort_rows(&mut rows, desc, |r| &r[i]);
        }
        let total = rows.len();
        let mut rows = page(rows, self.pager);
        let mut header: Vec<&str> = names.iter().map(|(h, _)| *h).collect();
        if self.interval == Interval::Years {
            header.remove(0);
            rows.iter_mut().for_each(|r| {
                r.remove(0);
            });
        }
        table(&header, &rows, total, self.delimiter)
    }

    /// PARTNER_USAGE (201) and PARTNER_USAGE_VPAAS (20021): the partners summed per period.
    fn partner_usage(&self, partners: &[ReportPartner], action: Action) -> V {
        match action {
            Action::Total => self.usage_total(partners),
            Action::Table | Action::Graphs => {
                let buckets = Buckets::new(&self.range, self.interval);
                let aggs = Usage::of(partners, &self.range, &buckets, Figures::Storage, None).per_bucket(&buckets);
                if action == Action::Table {
                    self.period_table(G2, &aggs, &buckets.keys)
                } else {
                    graphs_v(G2, &buckets.keys, &aggs, self.delimiter)
                }
            }
        }
    }

    /// T1, the total of 19, 201 and 20021.
    fn usage_total(&self, partners: &[ReportPartner]) -> V {
        let total = Usage::total(partners, &self.range, Figures::Storage);
        let values: Vec<String> = T1.iter().map(|c| total.value(c.metric).text()).collect();
        total_v(T1, &values, self.delimiter)
    }

    /// VAR_USAGE (19): a row per period and partner with usage; sorted before the partner columns are filled in,
    /// so those sort by partner id.
    fn var_usage(&self, partners: &[ReportPartner], action: Action) -> V {
        let buckets = Buckets::new(&self.range, self.interval);
        match action {
            Action::Total => self.usage_total(partners),
            Action::Graphs => {
                let aggs = Usage::of(partners, &self.range, &buckets, Figures::Storage, None).per_bucket(&buckets);
                graphs_v(G1, &buckets.keys, &aggs, self.delimiter)
            }
            Action::Table => {
                let rows = var_rows(partners, &self.range, &buckets);
                if rows.is_empty() {
                    return empty_table();
                }
                let period = self.interval.column();
                let mut names = vec![(period, period)];
                names.extend(PARTNER_COLUMNS.iter().map(|c| (*c, *c)));
                names.extend(VAR_TABLE.iter().map(|c| (c.header, c.internal)));
                let mut rows = rows;
                if let Some((i, desc)) = order_column(self.order, &names) {
                    sort_rows(&mut rows, desc, |r| &r.cells[i]);
                }
                let total = rows.len();
                let keep_created = self.interval != Interval::Years;
                let rows: Vec<Vec<Cell>> = page(rows, self.pager)
                    .into_iter()
                    .map(|r| {
                        let (partner, key) = (&partners[r.partner], &buckets.keys[r.bucket]);
                        r.enriched(partner, key, keep_created)
                    })
                    .collect();
                let header: Vec<&str> =
                    names.iter().map(|(h, _)| *h).filter(|h| keep_created || *h != "created_at").collect();
                table(&header, &rows, total, self.delimiter)
            }
        }
    }

    /// VPAAS_USAGE_MULTI (42): a row per partner over the whole range. Ordering by a metric sorts every row; by a
    /// partner column it sorts only the page, after the rows were paged in the default order (unique users, most
    /// first), as kKavaReportsMgr's join table does.
    fn multi(&self, partners: &[ReportPartner], action: Action) -> V {
        let header: Vec<&str> = PARTNER_COLUMNS.iter().copied().chain(M42.iter().map(|c| c.header)).collect();
        match action {
            Action::Graphs => V::Arr(Vec::new()),
            Action::Total => {
                let total = Usage::total(partners, &self.range, Figures::All);
                let values: Vec<String> = M42
                    .iter()
                    .map(|c| match c.metric {
                        Metric::Unique if total.sum.plays == 0 => String::new(),
                        m => total.value(m).text(),
                    })
                    .collect();
                total_v(M42, &values, self.delimiter)
            }
            Action::Table => {
                let buckets = Buckets::whole(&self.range);
                let mut rows: Vec<Vec<Cell>> = Vec::new();
                let mut each = |i: usize, aggs: Vec<Agg>| {
                    let p = &partners[i];
                    let mut row =
                        vec![Cell::Int(p.status), Cell::Text(p.name.clone()), Cell::Int(p.id), Cell::Int(p.created_at)];
                    row.extend(M42.iter().map(|c| aggs[0].value(c.metric)));
                    rows.push(row);
                };
                Usage::of(partners, &self.range, &buckets, Figures::All, Some(&mut each));
                let unique = PARTNER_COLUMNS.len() + M42.len() - 1;
                rows.sort_by(|a, b| cell_cmp(&b[unique], &a[unique]).then_with(|| cell_cmp(&a[2], &b[2])));
                let names: Vec<(&str, &str)> = PARTNER_COLUMNS
                    .iter()
                    .map(|c| (*c, *c))
                    .chain(M42.iter().map(|c| (c.header, c.internal)))
                    .collect();
                let order = order_column(self.order, &names);
                let total = rows.len();
                let rows = match order {
                    Some((i, desc)) if i >= PARTNER_COLUMNS.len() => {
                        sort_rows(&mut rows, desc, |r| &r[i]);
                        page(rows, self.pager)
                    }
                    Some((i, desc)) => {
                        let mut rows = page(rows, self.pager);
                        sort_rows(&mut rows, desc, |r| &r[i]);
                        rows
                    }
                    None => page(rows, self.pager),
                };
                table(&header, &rows, total, self.delimiter)
            }
        }
    }

    /// SELF_SERVE_USAGE (60, the caller's own) and SELF_SERVE_USAGE_VPAAS (20023): the partners summed per period.
    fn self_serve(&self, partners: &[ReportPartner], action: Action) -> V {
        match action {
            Action::Total => {
                let total = Usage::total(partners, &self.range, Figures::All);
                let values: Vec<String> = M60
                    .iter()
                    .map(|c| match c.metric {
                        Metric::Unique if total.sum.plays == 0 => String::new(),
                        m => total.value(m).text(),
                    })
                    .collect();
                total_v(M60, &values, self.delimiter)
            }
            Action::Table | Action::Graphs => {
                let buckets = Buckets::new(&self.range, self.interval);
                let aggs = Usage::of(partners, &self.range, &buckets, Figures::All, None).per_bucket(&buckets);
                if action == Action::Table {
                    self.period_table(M60, &aggs, &buckets.keys)
                } else {
                    graphs_v(M60, &buckets.keys, &aggs, self.delimiter)
                }
            }
        }
    }

    /// The other multi-account types (20001–20022 but 20021): rows per dimension value sharing out the scope's
    /// plays by a fixed weight each (per partner for 20019), totals, and graphs of the same figures per period.
    fn vpaas(&self, kind: i64, partners: &[ReportPartner], action: Action) -> V {
        let (dims, metrics) = vpaas_columns(kind);
        match action {
            Action::Total => {
                let total = Usage::total(partners, &self.range, Figures::All);
                let values: Vec<String> = metrics.iter().map(|m| simple_metric(m, &total).to_string()).collect();
                let header = metrics.join(self.delimiter);
                V::Obj(
                    "KalturaReportTotal",
                    vec![("header", V::Str(header)), ("data", V::Str(values.join(self.delimiter)))],
                )
            }
            Action::Graphs => {
                let buckets = Buckets::new(&self.range, self.interval);
                let aggs = Usage::of(partners, &self.range, &buckets, Figures::All, None).per_bucket(&buckets);
                V::Arr(
                    metrics
                        .iter()
                        .map(|m| {
                            let data: String = buckets
                                .keys
                                .iter()
                                .zip(&aggs)
                                .map(|(k, a)| format!("{k}{}{};", self.delimiter, simple_metric(m, a)))
                                .collect();
                            V::Obj("KalturaReportGraph", vec![("id", V::Str((*m).into())), ("data", V::Str(data))])
                        })
                        .collect(),
                )
            }
            Action::Table => {
                let buckets = Buckets::whole(&self.range);
                let mut rows: Vec<Vec<Cell>> = Vec::new();
                if kind == 20019 {
                    let mut each = |i: usize, aggs: Vec<Agg>| {
                        let values = metrics.iter().map(|m| Cell::Int(simple_metric(m, &aggs[0])));
                        rows.push(std::iter::once(Cell::Int(partners[i].id)).chain(values).collect());
                    };
                    Usage::of(partners, &self.range, &buckets, Figures::All, Some(&mut each));
                } else {
                    let total =
                        Usage::of(partners, &self.range, &buckets, Figures::All, None).per_bucket(&buckets).remove(0);
                    if total.sum.plays > 0 {
                        let values = vpaas_values(kind);
                        let weights: Vec<i64> =
                            (0..values.len()).map(|i| 1 + (mix((kind * 31 + i as i64) as u64) % 9) as i64).collect();
                        let sum: i64 = weights.iter().sum();
                        for (i, (value, w)) in values.iter().zip(&weights).enumerate() {
                            let lead: Vec<Cell> = match dims.len() {
                                1 => vec![Cell::Text((*value).into())],
                                _ => vec![
                                    Cell::Text(format!("1_{:08x}", mix(kind as u64 ^ i as u64) as u32)),
                                    Cell::Text((*value).into()),
                                ],
                            };
                            let shares = metrics.iter().map(|m| Cell::Int(simple_metric(m, &total) * w / sum));
                            rows.push(lead.into_iter().chain(shares).collect());
                        }
                    }
                }
                let names: Vec<(&str, &str)> = dims.iter().chain(metrics).map(|n| (*n, *n)).collect();
                if let Some((i, desc)) = order_column(self.order, &names) {
                    sort_rows(&mut rows, desc, |r| &r[i]);
                }
                let total = rows.len();
                let header: Vec<&str> = names.iter().map(|(h, _)| *h).collect();
                table(&header, &page(rows, self.pager), total, self.delimiter)
            }
        }
    }
}

/// One VAR_USAGE row before its partner columns are filled in: they hold the partner id, as in the server's
/// rows at the time it sorts them.
struct VarRow {
    bucket: usize,
    partner: usize,
    cells: Vec<Cell>,
}

impl VarRow {
    fn enriched(self, p: &ReportPartner, key: &str, keep_created: bool) -> Vec<Cell> {
        let mut row = vec![Cell::Text(key.into()), Cell::Int(p.status), Cell::Text(p.name.clone()), Cell::Int(p.id)];
        if keep_created {
            row.push(Cell::Int(p.created_at));
        }
        row.extend(self.cells.into_iter().skip(1 + PARTNER_COLUMNS.len()));
        row
    }
}

/// VAR_USAGE's rows in the server's order: periods ascending, then partners by id.
fn var_rows(partners: &[ReportPartner], range: &Range, buckets: &Buckets) -> Vec<VarRow> {
    let mut by_partner: Vec<(usize, Vec<Agg>)> = Vec::new();
    let mut each = |i: usize, aggs: Vec<Agg>| by_partner.push((i, aggs));
    Usage::of(partners, range, buckets, Figures::Storage, Some(&mut each));
    let mut rows = Vec::with_capacity(by_partner.len() * buckets.keys.len());
    for (b, key) in buckets.keys.iter().enumerate() {
        for (i, aggs) in &by_partner {
            let id = Cell::Int(partners[*i].id);
            let mut cells = vec![Cell::Text(key.clone()), id.clone(), id.clone(), id.clone(), id];
            cells.extend(VAR_TABLE.iter().map(|c| aggs[b].value(c.metric)));
            rows.push(VarRow { bucket: b, partner: *i, cells });
        }
    }
    rows
}

/// The other multi-account types' leading (dimension) columns and metric columns.
fn vpaas_columns(kind: i64) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        20001 => (
            &["object_id", "entry_name"],
            &["count_plays", "count_plays_25", "count_plays_50", "count_plays_75", "count_plays_100"],
        ),
        20002 => (&["object_id", "entry_name"], &["count_plays", "count_viral", "count_download", "count_report"]),
        20003 => (&["object_id", "entry_name"], &["count_total", "count_video", "count_audio", "count_image"]),
        20005 | 20020 => (&["device"], &["count_plays", "sum_time_viewed"]),
        20006 | 20008 => (&["os"], &["count_plays", "sum_time_viewed"]),
        20007 | 20009 | 20022 => (&["browser"], &["count_plays", "sum_time_viewed"]),
        20011 => (&["name"], &["count_plays", "sum_time_viewed"]),
        20012 => (&["country"], &["count_plays", "sum_time_viewed"]),
        20013 => (&["region"], &["count_plays", "sum_time_viewed"]),
        20014 => (&["city"], &["count_plays", "sum_time_viewed"]),
        20018 => (&["domain_name"], &["count_plays", "sum_time_viewed"]),
        20019 => (&["partner_id"], &["count_plays", "count_loads", "count_contributions"]),
        _ => (&["object_id", "entry_name"], &["count_plays", "sum_time_viewed"]),
    }
}

/// Names for the rows of a dimension report.
fn vpaas_values(kind: i64) -> &'static [&'static str] {
    match kind {
        20005 | 20020 => &["Computer", "Mobile", "Tablet", "Game console", "Smart TV"],
        20006 | 20008 => &["Windows", "macOS", "Android", "iOS", "Linux", "ChromeOS"],
        20007 | 20009 | 20022 => &["Chrome", "Safari", "Firefox", "Edge", "Samsung Internet"],
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

/// The other multi-account types' metrics, from plays and player loads.
fn simple_metric(name: &str, a: &Agg) -> i64 {
    let plays = a.sum.plays;
    match name {
        "count_loads" => a.sum.views,
        "sum_time_viewed" => plays * 3,
        "count_plays_25" | "count_video" => plays * 4 / 5,
        "count_plays_50" => plays * 3 / 5,
        "count_plays_75" => plays * 9 / 20,
        "count_plays_100" => plays * 3 / 10,
        "count_viral" => plays / 50,
        "count_download" => plays / 20,
        "count_report" => plays / 500,
        "count_audio" => plays * 3 / 20,
        "count_image" => plays / 20,
        "count_contributions" => plays / 40,
        _ => plays,
    }
}

/// varConsole.getPartnerUsage's usage filter: none means the last 30 days by day; given, a zero fromDate means 30
/// days ago and no interval means months. Days are the server's (UTC), and no creation clamp applies.
pub fn partner_usage(
    partners: &[ReportPartner],
    usage: Option<&InputFilter>,
    pager: (i64, i64),
    now: i64,
) -> Result<V, ApiError> {
    let month_ago = now - 30 * DAY;
    let (from, to, offset, interval) = match usage {
        None => (month_ago, now, 0, Interval::Days),
        Some(f) => (
            if f.from_date == 0 { month_ago } else { f.from_date },
            f.to_date,
            f.offset,
            f.interval.unwrap_or(Interval::Months),
        ),
    };
    let filter = InputFilter {
        from_date: from,
        to_date: to,
        from_day: date_id(from.div_euclid(DAY)),
        to_day: date_id(to.div_euclid(DAY)),
        offset,
        interval: Some(interval),
    };
    let range = resolve(&filter, now);
    let list = |total: V, count: i64, objects: Vec<V>| {
        V::Obj(
            "KalturaPartnerUsageListResponse",
            vec![("total", total), ("objects", V::Arr(objects)), ("totalCount", V::Int(count))],
        )
    };
    if partners.is_empty() {
        return Ok(list(usage_item("KalturaVarPartnerUsageTotalItem", UsageFields::default()), 0, Vec::new()));
    }
    let buckets = Buckets::new(&range, interval);
    let rows = var_rows(partners, &range, &buckets);
    let count = rows.len() as i64;
    let years = interval == Interval::Years;
    let items: Vec<V> = page(rows, pager)
        .into_iter()
        .map(|r| {
            let p = &partners[r.partner];
            let figures: Vec<f64> = r.cells.iter().skip(5).filter_map(Cell::number).collect();
            // With years VAR_USAGE drops created_at, so every figure lands one field early.
            let (created, figures) = if years {
                (V::Float(figures[0]), figures[1..].iter().copied().chain([0.0]).collect())
            } else {
                (V::Int(p.created_at), figures)
            };
            usage_item(
                "KalturaVarPartnerUsageItem",
                UsageFields {
                    date: V::Int(php_int(&buckets.keys[r.bucket])),
                    status: V::Int(p.status),
                    name: V::Str(p.name.clone()),
                    id: V::Int(p.id),
                    created,
                    figures: Some(figures),
                },
            )
        })
        .collect();
    // The service sorts its items by a date it parses as YYYYMM or YYYYMMDD; a year fails to parse.
    if years && items.len() > 1 {
        return Err(ApiError::new("INTERNAL_SERVERL_ERROR", &[]));
    }
    let total = Usage::total(partners, &range, Figures::Storage);
    let mut figures: Vec<f64> = G2.iter().filter_map(|c| total.value(c.metric).number()).collect();
    let mut peaks = 0.0;
    let whole = Buckets::whole(&range);
    let mut each = |_: usize, aggs: Vec<Agg>| peaks += aggs[0].peak_storage as f64 / MB;
    Usage::of(partners, &range, &whole, Figures::Storage, Some(&mut each));
    if peaks != 0.0 {
        figures[2] = peaks;
    }
    let total =
        usage_item("KalturaVarPartnerUsageTotalItem", UsageFields { figures: Some(figures), ..Default::default() });
    Ok(list(total, count, items))
}

/// What a KalturaVarPartnerUsageItem carries; the figures are G2's, in MB, rounded up when written.
#[derive(Default)]
struct UsageFields {
    date: V,
    status: V,
    name: V,
    id: V,
    created: V,
    figures: Option<Vec<f64>>,
}

fn usage_item(object_type: &'static str, f: UsageFields) -> V {
    let figure = |i: usize| f.figures.as_ref().map_or(V::Null, |v| V::Float(v[i].ceil()));
    V::Obj(
        object_type,
        vec![
            ("partnerId", f.id),
            ("partnerName", f.name),
            ("partnerStatus", f.status),
            ("partnerPackage", V::Null),
            ("partnerCreatedAt", f.created),
            ("views", V::Null),
            ("plays", V::Null),
            ("entriesCount", V::Null),
            ("totalEntriesCount", V::Null),
            ("videoEntriesCount", V::Null),
            ("imageEntriesCount", V::Null),
            ("audioEntriesCount", V::Null),
            ("mixEntriesCount", V::Null),
            ("bandwidth", figure(0)),
            ("totalStorage", V::Null),
            ("storage", figure(3)),
            ("deletedStorage", figure(4)),
            ("peakStorage", figure(2)),
            ("avgStorage", figure(1)),
            ("combinedStorageBandwidth", figure(5)),
            ("transcodingUsage", figure(6)),
            ("dateId", f.date),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partner(id: i64, created_at: i64) -> ReportPartner {
        ReportPartner { id, name: format!("P{id}"), status: 1, created_at }
    }

    fn range(first: &str, last: &str) -> Range {
        Range {
            first: parse_day(first).unwrap(),
            last: parse_day(last).unwrap(),
            data: true,
            today: parse_day("20250101").unwrap(),
            offset: 0,
        }
    }

    #[test]
    fn dates_convert_both_ways() {
        for day in [-1, 0, 19_723, 20_000, 2_932_896] {
            let id = date_id(day);
            assert_eq!(parse_day(&id), Some(day), "{id}");
        }
        assert_eq!(date_id(19_723), "20240101");
        assert_eq!(parse_day("20240230"), None);
        assert_eq!(parse_day("2024-01-01"), None);
        assert_eq!(weekdays(parse_day("20240101").unwrap(), parse_day("20240131").unwrap()), 23);
    }

    #[test]
    fn offsets_are_fixed_as_the_server_does() {
        assert_eq!(fix_offset(-120), -120);
        assert_eq!(fix_offset(-765), -765);
        assert_eq!(fix_offset(-100), -120);
        assert_eq!(fix_offset(5000), 720);
        assert_eq!(fix_offset(-1000), -840);
    }

    #[test]
    fn report_types_follow_phps_loose_comparison() {
        assert_eq!(report_type("42"), Some(42));
        assert_eq!(report_type(" 19 "), Some(19));
        assert_eq!(report_type("20021.0"), Some(20021));
        assert_eq!(report_type("300"), None);
        assert_eq!(report_type("8"), None);
        assert_eq!(report_type("42abc"), None);
        assert_eq!(report_type(""), None);
    }

    #[test]
    fn storage_is_a_running_total_of_what_was_added_and_deleted() {
        let p = Profile::new(6475, 1_600_000_000, &range("20240101", "20240131"));
        let today = parse_day("20250101").unwrap();
        let first = parse_day("20240101").unwrap();
        let mut stock = p.stock(first - 1, today);
        for day in first..first + 60 {
            let before = stock;
            let x = p.day(day, today, &mut stock, Figures::All);
            assert_eq!(x.storage, before + x.added, "the day counts its uploads");
            assert_eq!(stock, x.storage - x.deleted, "and loses its deletions after");
            assert_eq!(stock, p.stock(day, today), "the closed form agrees");
            assert!(x.transcoding > 0 && x.bandwidth > 0);
        }
    }

    #[test]
    fn totals_agree_with_the_days_they_sum() {
        let r = range("20240101", "20240331");
        let partners = [partner(7, 1_650_000_000), partner(8, 1_700_000_000), partner(9, 1_800_000_000)];
        let usage = Usage::of(&partners, &r, &Buckets::new(&r, Interval::Days), Figures::All, None);
        let total = Usage::total(&partners, &r, Figures::All);
        let days = usage.daily.len() as f64;
        let mean: f64 = usage.daily.iter().map(|d| d.storage as f64).sum::<f64>() / days / MB;
        assert!((total.average_storage() - mean).abs() < 1e-6);
        assert_eq!(total.peak_storage, usage.daily.iter().map(|d| d.storage).max().unwrap());
        assert_eq!(total.sum.plays, usage.daily.iter().map(|d| d.plays).sum::<i64>());
        let months = Usage::of(&partners, &r, &Buckets::new(&r, Interval::Months), Figures::All, None);
        assert_eq!(months.per_bucket(&Buckets::new(&r, Interval::Months)).len(), 3);
    }

    #[test]
    fn a_partner_has_no_usage_before_it_exists() {
        let r = range("20240101", "20240131");
        let late = parse_day("20240115").unwrap() * DAY;
        let usage = Usage::of(&[partner(5, late)], &r, &Buckets::new(&r, Interval::Days), Figures::All, None);
        assert!(usage.daily[..14].iter().all(|d| d.plays == 0 && d.storage == 0));
        assert!(usage.daily[14].storage > 0);
        let mut rows = 0;
        let mut each = |_: usize, _: Vec<Agg>| rows += 1;
        let future = parse_day("20240201").unwrap() * DAY;
        Usage::of(&[partner(6, future)], &r, &Buckets::whole(&r), Figures::All, Some(&mut each));
        assert_eq!(rows, 0, "created after the range: no row");
    }

    #[test]
    fn order_names_a_column_by_header_or_internal_name() {
        let names = [("date_id", "date_id"), ("total_plays", "play")];
        assert_eq!(order_column(Some("-total_plays"), &names), Some((1, true)));
        assert_eq!(order_column(Some("+play"), &names), Some((1, false)));
        assert_eq!(order_column(Some("date_id"), &names), Some((0, true)));
        assert_eq!(order_column(Some("+date_id,+total_plays"), &names), None);
        assert_eq!(php_cmp("10", "9"), Ordering::Greater);
        assert_eq!(php_cmp("Zed", "abc"), Ordering::Less);
    }
}
