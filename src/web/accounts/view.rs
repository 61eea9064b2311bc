//! What the Accounts page shows, as the URL says it: search, status filter, sort, page and page size. The URL is
//! the only state, so reload, bookmarks, links and Back reproduce a view; bad values are dropped with a note.

use kaltura::{PartnerFilter, PartnerOrder, PartnerOrderField, PartnerStatus};

use crate::web::format::{printable, short};

pub(crate) const PAGE_SIZES: [u32; 4] = [25, 50, 75, 100];
pub(crate) const DEFAULT_PAGE_SIZE: u32 = 50;
/// Kaltura caps pageIndex × pageSize far beyond this; a page past it is a typo, not a request.
const MAX_PAGE: u32 = 100_000;
const MAX_QUERY_LEN: usize = 200;

/// How the search text is read (seed `002_…`: by Partner ID, by Account Name, or free-form text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SearchBy {
    /// Digits and commas are partner ids, anything else is free text (kmc-ng guesses the same way).
    Auto,
    Id,
    Name,
    Text,
}

impl SearchBy {
    pub(crate) const ALL: [SearchBy; 4] = [SearchBy::Auto, SearchBy::Id, SearchBy::Name, SearchBy::Text];

    pub(crate) fn key(self) -> &'static str {
        match self {
            SearchBy::Auto => "auto",
            SearchBy::Id => "id",
            SearchBy::Name => "name",
            SearchBy::Text => "text",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            SearchBy::Auto => "Partner ID or any text",
            SearchBy::Id => "Partner ID",
            SearchBy::Name => "Account Name",
            SearchBy::Text => "Free text (name, website, administrator)",
        }
    }

    fn parse(s: &str) -> Option<SearchBy> {
        SearchBy::ALL.into_iter().find(|b| b.key() == s)
    }
}

/// The columns Kaltura can order partner.list by; their wire names are also the URL's `sort` values.
pub(crate) type Sort = PartnerOrderField;

/// Dates read newest first; text and numbers from the start.
fn natural_desc(sort: Sort) -> bool {
    sort == Sort::CreatedAt
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct View {
    pub(crate) q: String,
    pub(crate) by: SearchBy,
    /// The statuses shown: a subset of Active, Blocked, Removed, never empty.
    pub(crate) statuses: Vec<PartnerStatus>,
    pub(crate) sort: Sort,
    pub(crate) desc: bool,
    pub(crate) page: u32,
    /// The page size the URL asked for, if it asked.
    pub(crate) size: Option<u32>,
}

pub(crate) const STATUS_CHOICES: [PartnerStatus; 3] =
    [PartnerStatus::Active, PartnerStatus::Blocked, PartnerStatus::Removed];
const DEFAULT_STATUSES: [PartnerStatus; 2] = [PartnerStatus::Active, PartnerStatus::Blocked];

impl Default for View {
    fn default() -> View {
        View {
            q: String::new(),
            by: SearchBy::Auto,
            statuses: DEFAULT_STATUSES.to_vec(),
            sort: Sort::CreatedAt,
            desc: true,
            page: 1,
            size: None,
        }
    }
}

/// How the search text turned into a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Search {
    None,
    Ids(String),
    Name(String),
    Text(String),
    /// "Partner ID" was chosen but nothing typed is a number: nothing can match.
    NoValidIds,
}

impl View {
    /// Reads a query string; returns the view and a note for each value it had to drop.
    pub(crate) fn parse(query: &str) -> (View, Vec<String>) {
        let mut v = View::default();
        let mut notes = Vec::new();
        let mut statuses: Vec<PartnerStatus> = Vec::new();
        // The filter form always sends `filtered`: with it, no ticked status means all of them, as in the KMC.
        let mut filtered = false;
        let mut dir: Option<String> = None;
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim();
            match key.as_ref() {
                "q" => {
                    // Control characters (a NUL, a tab) are no part of any name: they go, here and upstream.
                    let q = printable(value);
                    if q.chars().count() > MAX_QUERY_LEN {
                        notes.push(format!("The search was cut to {MAX_QUERY_LEN} characters."));
                    }
                    v.q = q.trim().chars().take(MAX_QUERY_LEN).collect();
                }
                "by" => match SearchBy::parse(value) {
                    Some(b) => v.by = b,
                    None => notes.push(format!("Unknown search type \u{201c}{}\u{201d} ignored.", short(value))),
                },
                "status" => {
                    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                        match part.parse::<i64>().ok().and_then(PartnerStatus::from_code) {
                            Some(s) if STATUS_CHOICES.contains(&s) => {
                                if !statuses.contains(&s) {
                                    statuses.push(s);
                                }
                            }
                            _ => notes.push(format!("Unknown status \u{201c}{}\u{201d} ignored.", short(part))),
                        }
                    }
                }
                "filtered" => filtered = true,
                "sort" => match Sort::from_wire_name(value) {
                    Some(s) => v.sort = s,
                    None => {
                        notes.push(format!("Cannot sort by \u{201c}{}\u{201d}; sorted by Creation Date.", short(value)))
                    }
                },
                "dir" => dir = Some(value.to_string()),
                "page" => match value.parse::<u32>() {
                    Ok(p) if (1..=MAX_PAGE).contains(&p) => v.page = p,
                    _ => notes.push(format!("Page \u{201c}{}\u{201d} does not exist; showing page 1.", short(value))),
                },
                "size" => match value.parse::<u32>() {
                    Ok(s) if PAGE_SIZES.contains(&s) => v.size = Some(s),
                    _ => notes.push(format!(
                        "Page size \u{201c}{}\u{201d} is not one of 25, 50, 75, 100; using your usual size.",
                        short(value)
                    )),
                },
                _ => {}
            }
        }
        v.desc = match dir.as_deref() {
            Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                notes.push(format!("Unknown sort direction \u{201c}{}\u{201d} ignored.", short(other)));
                natural_desc(v.sort)
            }
            None => natural_desc(v.sort),
        };
        statuses.sort_by_key(|s| s.code());
        v.statuses = match (statuses.is_empty(), filtered) {
            (false, _) => statuses,
            (true, true) => STATUS_CHOICES.to_vec(),
            (true, false) => DEFAULT_STATUSES.to_vec(),
        };
        // A Partner ID search keeps the numbers: what is not one is said, not silently dropped.
        if let Search::Ids(_) = v.search() {
            let dropped: Vec<&str> =
                v.q.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty() && s.parse::<u64>().is_err()).collect();
            if !dropped.is_empty() {
                let shown: Vec<String> = dropped.iter().map(|d| format!("\u{201c}{}\u{201d}", short(d))).collect();
                notes.push(format!("Not a partner id, left out of the search: {}.", shown.join(", ")));
            }
        }
        (v, notes)
    }

    pub(crate) fn search(&self) -> Search {
        let q = self.q.trim();
        if q.is_empty() {
            return Search::None;
        }
        let looks_like_ids = q.chars().all(|c| c.is_ascii_digit() || c == ',' || c.is_whitespace());
        match self.by {
            SearchBy::Id | SearchBy::Auto if looks_like_ids || self.by == SearchBy::Id => {
                let ids: Vec<&str> =
                    q.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty() && s.parse::<u64>().is_ok()).collect();
                if ids.is_empty() { Search::NoValidIds } else { Search::Ids(ids.join(",")) }
            }
            SearchBy::Name => Search::Name(q.to_string()),
            _ => Search::Text(q.to_string()),
        }
    }

    /// The partner.list filter for this view (for every page of it: CSV export pages through the same filter).
    pub(crate) fn filter(&self) -> PartnerFilter {
        let mut f = PartnerFilter {
            status_in: Some(self.statuses.clone()),
            order_by: Some(PartnerOrder { field: self.sort, descending: self.desc }),
            ..PartnerFilter::default()
        };
        match self.search() {
            Search::None => {}
            Search::Ids(ids) => f.id_in = Some(ids),
            Search::Name(n) => f.name_multi_like_or = Some(n),
            Search::Text(t) => f.partner_name_description_website_admin_name_admin_email_like = Some(t),
            // No partner has id 0: an empty page, and still one round trip for the banner.
            Search::NoValidIds => f.id_in = Some("0".into()),
        }
        f
    }

    fn is_default_statuses(&self) -> bool {
        self.statuses == DEFAULT_STATUSES
    }

    /// The canonical URL of this view with `size` as the page size shown (defaults left out).
    pub(crate) fn href(&self, size: u32) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        if !self.q.is_empty() {
            s.append_pair("q", &self.q);
        }
        if self.by != SearchBy::Auto {
            s.append_pair("by", self.by.key());
        }
        if !self.is_default_statuses() {
            let list: Vec<String> = self.statuses.iter().map(|st| st.code().to_string()).collect();
            s.append_pair("status", &list.join(","));
        }
        if self.sort != Sort::CreatedAt || !self.desc {
            s.append_pair("sort", self.sort.wire_name());
            s.append_pair("dir", if self.desc { "desc" } else { "asc" });
        }
        if self.page > 1 {
            s.append_pair("page", &self.page.to_string());
        }
        if size != DEFAULT_PAGE_SIZE {
            s.append_pair("size", &size.to_string());
        }
        let query = s.finish();
        let base = crate::web::parent_base();
        if query.is_empty() { format!("{base}/accounts") } else { format!("{base}/accounts?{query}") }
    }

    pub(crate) fn with_page(&self, page: u32) -> View {
        View { page, ..self.clone() }
    }

    /// Sorting by a column: the same column flips direction, another starts in its natural one; back to page 1.
    pub(crate) fn sorted_by(&self, sort: Sort) -> View {
        let desc = if sort == self.sort { !self.desc } else { natural_desc(sort) };
        View { sort, desc, page: 1, ..self.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_view_is_active_and_blocked_newest_first() {
        let (v, notes) = View::parse("");
        assert!(notes.is_empty());
        assert_eq!(v, View::default());
        let f = v.filter();
        assert_eq!(f.status_in, Some(vec![PartnerStatus::Active, PartnerStatus::Blocked]));
        assert_eq!(f.order_by.map(|o| o.to_string()).as_deref(), Some("-createdAt"));
        assert_eq!(v.href(50), "/accounts");
    }

    #[test]
    fn views_round_trip_through_their_urls() {
        let (v, notes) = View::parse("q=Down+Under&by=name&status=3&status=1&sort=name&dir=desc&page=3&size=25");
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(v.statuses, vec![PartnerStatus::Active, PartnerStatus::Removed]);
        let url = v.href(25);
        assert_eq!(url, "/accounts?q=Down+Under&by=name&status=1%2C3&sort=name&dir=desc&page=3&size=25");
        let (again, _) = View::parse(url.trim_start_matches("/accounts?"));
        assert_eq!(again, v);
    }

    #[test]
    fn a_partner_id_search_says_what_it_left_out() {
        let (v, notes) = View::parse("q=6475,6474,abc&by=id");
        assert_eq!(v.search(), Search::Ids("6475,6474".into()));
        assert_eq!(notes, vec!["Not a partner id, left out of the search: \u{201c}abc\u{201d}."]);
        let (_, notes) = View::parse("q=6475+6474");
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn no_ticked_status_in_the_form_means_all_of_them() {
        let (v, _) = View::parse("filtered=1&q=");
        assert_eq!(v.statuses, STATUS_CHOICES.to_vec());
        assert_eq!(View::parse("status=1,2,3").0.statuses, STATUS_CHOICES.to_vec());
    }

    #[test]
    fn search_text_becomes_the_right_filter() {
        let view = |q: &str| View::parse(q).0.filter();
        assert_eq!(view("q=6475, 6474").id_in.as_deref(), Some("6475,6474"));
        assert_eq!(
            view("q=renee").partner_name_description_website_admin_name_admin_email_like.as_deref(),
            Some("renee")
        );
        assert_eq!(view("q=Shanghai,Down&by=name").name_multi_like_or.as_deref(), Some("Shanghai,Down"));
        assert_eq!(view("q=abc&by=id").id_in.as_deref(), Some("0"), "no valid id matches nothing");
        assert_eq!(View::parse("q=abc&by=id").0.search(), Search::NoValidIds);
        assert_eq!(view("q=6475&by=text").id_in, None);
    }

    #[test]
    fn bad_values_are_dropped_with_a_note() {
        let (v, notes) = View::parse("page=-4&size=1000&sort=phone&dir=up&status=9&by=magic");
        assert_eq!(v.page, 1);
        assert_eq!(v.size, None);
        assert_eq!(v.sort, Sort::CreatedAt);
        assert!(v.desc);
        assert_eq!(v.statuses, DEFAULT_STATUSES.to_vec());
        assert_eq!(notes.len(), 6, "{notes:?}");
        let (v, notes) = View::parse(&format!("q={}", "x".repeat(500)));
        assert_eq!(v.q.len(), 200);
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn sorting_a_column_twice_flips_it() {
        let v = View::default().with_page(4);
        let by_name = v.sorted_by(Sort::Name);
        assert_eq!((by_name.sort, by_name.desc, by_name.page), (Sort::Name, false, 1));
        assert!(by_name.sorted_by(Sort::Name).desc);
        assert!(!v.sorted_by(Sort::CreatedAt).desc);
    }
}
