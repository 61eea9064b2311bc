//! What the Usage pages show, as the URL says it: `from=YYYY-MM-DD&to=YYYY-MM-DD&interval=day|month`, the search,
//! the sort, the page and the top chart's metric. The URL is the only state, so a view can be bookmarked and shared.
//! A bad date or range is kept as typed and explained on the page; other bad values fall back to the defaults.

use time::Date;

use crate::usage::{DEFAULT_ORDER as DEFAULT_SORT, Interval, Metric, Period, Preset, Search, Sort, SortColumn};
use crate::web::format::{kmc_day, printable, short};

pub(crate) const PAGE_SIZES: [u32; 3] = [25, 50, 100];
const DEFAULT_PAGE_SIZE: u32 = 25;
const MAX_PAGE: u32 = 100_000;
const MAX_QUERY_LEN: usize = 200;

/// A link that picks one of several choices.
pub(crate) struct Choice {
    pub(crate) label: &'static str,
    pub(crate) href: String,
    pub(crate) current: bool,
}

#[derive(Clone)]
pub(crate) struct UsageView {
    /// The range to report, or what is wrong with the one asked for.
    pub(crate) period: Result<Period, String>,
    /// The range's ends as the form shows them (as typed when they are wrong).
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) interval: Interval,
    pub(crate) q: String,
    pub(crate) search: Search,
    pub(crate) sort: Sort,
    pub(crate) page: u32,
    pub(crate) size: u32,
    pub(crate) top: Metric,
    /// A value corrected rather than refused (the ends of the range given the wrong way round).
    pub(crate) note: Option<String>,
    today: Date,
}

fn date_text(d: Date) -> String {
    d.format(time::macros::format_description!("[year]-[month]-[day]")).unwrap_or_default()
}

fn parse_date(name: &str, text: &str) -> Result<Date, String> {
    Date::parse(text.trim(), time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("The {name} date “{}” is not a date: use YYYY-MM-DD, such as 2026-11-30.", short(text)))
}

fn sort_key(column: SortColumn) -> &'static str {
    match column {
        SortColumn::Name => "name",
        SortColumn::PartnerId => "id",
        SortColumn::Status => "status",
        SortColumn::Metric(m) => m.key(),
    }
}

fn parse_sort_column(key: &str) -> Option<SortColumn> {
    match key {
        "name" => Some(SortColumn::Name),
        "id" => Some(SortColumn::PartnerId),
        "status" => Some(SortColumn::Status),
        other => Metric::parse(other).map(SortColumn::Metric),
    }
}

impl UsageView {
    pub(crate) fn parse(query: &str, today: Date) -> UsageView {
        let mut from = None;
        let mut to = None;
        let mut interval = None;
        let mut v = UsageView {
            period: Err(String::new()),
            from: String::new(),
            to: String::new(),
            interval: Interval::Day,
            q: String::new(),
            search: Search::All,
            sort: DEFAULT_SORT,
            page: 1,
            size: DEFAULT_PAGE_SIZE,
            top: Metric::Bandwidth,
            note: None,
            today,
        };
        let mut dir = None;
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = printable(&value);
            match key.as_ref() {
                "from" if !value.trim().is_empty() => from = Some(value),
                "to" if !value.trim().is_empty() => to = Some(value),
                "interval" => interval = Some(value),
                "q" => v.q = value.chars().take(MAX_QUERY_LEN).collect(),
                "sort" => {
                    if let Some(c) = parse_sort_column(&value) {
                        v.sort.column = c;
                    }
                }
                "dir" => dir = Some(value == "desc"),
                "page" => v.page = value.parse::<u32>().ok().filter(|p| (1..=MAX_PAGE).contains(p)).unwrap_or(1),
                "size" => v.size = value.parse().ok().filter(|s| PAGE_SIZES.contains(s)).unwrap_or(DEFAULT_PAGE_SIZE),
                "top" => v.top = Metric::parse(&value).unwrap_or(Metric::Bandwidth),
                _ => {}
            }
        }
        if let Some(desc) = dir {
            v.sort.descending = desc;
        }
        v.search = Search::parse(&v.q);
        let default = Preset::Last30Days.period(today);
        v.from = from.clone().unwrap_or_else(|| date_text(default.from));
        v.to = to.clone().unwrap_or_else(|| date_text(default.to));
        let mut swapped = false;
        v.period = (|| {
            let interval = match interval.as_deref().map(str::trim) {
                None | Some("") => None,
                Some("day") => Some(Interval::Day),
                Some("month") => Some(Interval::Month),
                Some(other) => {
                    return Err(format!("The interval “{}” is not one of day or month.", short(other)));
                }
            };
            let from = match &from {
                Some(text) => parse_date("start", text)?,
                None => default.from,
            };
            let to = match &to {
                Some(text) => parse_date("end", text)?,
                None => default.to,
            };
            // The ends the wrong way round are read the right way, and the page says so.
            let (from, to) = if from > to {
                swapped = true;
                (to, from)
            } else {
                (from, to)
            };
            if from > today {
                return Err(format!(
                    "The period starts on {}, after today ({}): there is no usage to show yet. Choose a start on \
                     or before today.",
                    kmc_day(from),
                    kmc_day(today)
                ));
            }
            Period::with_interval(from, to, interval).map_err(|e| e.to_string())
        })();
        if let (true, Ok(p)) = (swapped, &v.period) {
            (v.from, v.to) = (date_text(p.from), date_text(p.to));
            v.note = Some(format!(
                "The start date was after the end date: showing {} to {} instead.",
                kmc_day(p.from),
                kmc_day(p.to)
            ));
        }
        if let Ok(p) = &v.period {
            v.interval = p.interval;
        } else if interval.as_deref() == Some("month") {
            v.interval = Interval::Month;
        }
        v
    }

    /// The period's part of the URL.
    pub(crate) fn period_query(&self) -> String {
        let interval = match self.interval {
            Interval::Day => "day",
            Interval::Month => "month",
        };
        form_urlencoded::Serializer::new(String::new())
            .append_pair("from", &self.from)
            .append_pair("to", &self.to)
            .append_pair("interval", interval)
            .finish()
    }

    /// The whole view's URL query, on page `page` (the current one when `None`).
    pub(crate) fn query(&self, page: Option<u32>) -> String {
        let mut q = form_urlencoded::Serializer::new(self.period_query());
        if !self.q.is_empty() {
            q.append_pair("q", &self.q);
        }
        if self.sort != DEFAULT_SORT {
            q.append_pair("sort", sort_key(self.sort.column));
            q.append_pair("dir", if self.sort.descending { "desc" } else { "asc" });
        }
        if self.size != DEFAULT_PAGE_SIZE {
            q.append_pair("size", &self.size.to_string());
        }
        if self.top != Metric::Bandwidth {
            q.append_pair("top", self.top.key());
        }
        let page = page.unwrap_or(self.page);
        if page > 1 {
            q.append_pair("page", &page.to_string());
        }
        q.finish()
    }

    /// The view sorted by `sort`, from its first page.
    pub(crate) fn with_sort(&self, sort: Sort) -> UsageView {
        UsageView { sort, page: 1, ..self.clone() }
    }

    pub(crate) fn pager(&self) -> kaltura::Pager {
        kaltura::Pager::new(self.size, self.page)
    }

    pub(crate) fn interval_is_month(&self) -> bool {
        self.interval == Interval::Month
    }

    /// The named ranges, each keeping the search, sort and chart choice, the one shown marked.
    pub(crate) fn presets(&self) -> Vec<Choice> {
        // Two presets can be the same range (in December, the last 12 months are this year): only the first is
        // marked current.
        let mut marked = false;
        Preset::ALL
            .into_iter()
            .map(|preset| {
                let p = preset.period(self.today);
                let view = UsageView {
                    period: Ok(p),
                    from: date_text(p.from),
                    to: date_text(p.to),
                    interval: p.interval,
                    page: 1,
                    ..self.clone()
                };
                let current =
                    !marked && self.period.as_ref().is_ok_and(|shown| shown.from == p.from && shown.to == p.to);
                marked |= current;
                Choice {
                    label: preset.label(),
                    href: format!("{}/usage?{}", crate::web::parent_base(), view.query(None)),
                    current,
                }
            })
            .collect()
    }

    /// The top chart's metric choices.
    pub(crate) fn top_choices(&self) -> Vec<Choice> {
        Metric::ALL
            .into_iter()
            .map(|m| Choice {
                label: m.label(),
                href: format!(
                    "{}/usage?{}",
                    crate::web::parent_base(),
                    UsageView { top: m, ..self.clone() }.query(None)
                ),
                current: m == self.top,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 12 - 01);

    #[test]
    fn without_a_range_the_last_30_days_by_day() {
        let v = UsageView::parse("", TODAY);
        let p = v.period.unwrap();
        assert_eq!((p.from, p.to, p.interval), (date!(2026 - 11 - 02), TODAY, Interval::Day));
        assert_eq!(v.sort, DEFAULT_SORT);
    }

    #[test]
    fn the_url_round_trips() {
        let q = "from=2026-01-01&to=2026-06-30&interval=month&q=Shang&sort=name&dir=asc&size=50&top=plays&page=2";
        let v = UsageView::parse(q, TODAY);
        assert_eq!(v.query(None), q);
        assert_eq!(v.sort, Sort { column: SortColumn::Name, descending: false });
        assert_eq!(v.search, Search::Name("Shang".into()));
    }

    #[test]
    fn bad_dates_and_ranges_are_explained_and_kept_as_typed() {
        let v = UsageView::parse("from=2026-13-01&to=2026-12-01", TODAY);
        assert_eq!(
            v.period.unwrap_err(),
            "The start date “2026-13-01” is not a date: use YYYY-MM-DD, such as 2026-11-30."
        );
        assert_eq!(v.from, "2026-13-01");
        let reversed = UsageView::parse("from=2026-12-01&to=2026-11-01", TODAY);
        let p = reversed.period.expect("read the right way round");
        assert_eq!((p.from, p.to), (date!(2026 - 11 - 01), date!(2026 - 12 - 01)));
        assert_eq!((reversed.from.as_str(), reversed.to.as_str()), ("2026-11-01", "2026-12-01"));
        assert_eq!(
            reversed.note.as_deref(),
            Some("The start date was after the end date: showing 11/01/2026 to 12/01/2026 instead.")
        );
        let long = UsageView::parse("from=2000-01-01&to=2026-12-01&interval=day", TODAY);
        assert!(long.period.unwrap_err().contains("at most 5000 days"));
        let odd = UsageView::parse("interval=week", TODAY);
        assert_eq!(odd.period.unwrap_err(), "The interval “week” is not one of day or month.");
    }

    #[test]
    fn a_period_in_the_future_is_explained_not_shown_as_zeros() {
        let v = UsageView::parse("from=2027-01-01&to=2027-01-31", TODAY);
        assert!(v.period.unwrap_err().starts_with("The period starts on 01/01/2027, after today (12/01/2026)"));
    }

    #[test]
    fn of_two_presets_with_the_same_range_one_is_marked() {
        // In December the last 12 months begin on January 1st: the same range as this year.
        let last_12 = Preset::Last12Months.period(TODAY);
        let q = format!("from={}&to={}&interval=month", last_12.from, last_12.to);
        let v = UsageView::parse(&q, TODAY);
        let marked: Vec<&str> = v.presets().into_iter().filter(|c| c.current).map(|c| c.label).collect();
        assert_eq!(marked, vec![Preset::Last12Months.label()]);
    }

    #[test]
    fn a_long_range_without_an_interval_is_monthly() {
        let v = UsageView::parse("from=2026-01-01&to=2026-12-01", TODAY);
        assert_eq!(v.period.unwrap().interval, Interval::Month);
    }
}
