//! The pager under the Accounts, Audit and Usage tables: the range shown, Previous, the first and last pages, the
//! pages near the current one with gaps marked, and Next. Rendered by `partials/pager.html`.

use crate::numbers::grouped;

pub(crate) struct PageLink {
    pub(crate) number: u32,
    pub(crate) href: String,
    pub(crate) current: bool,
    /// Pages are left out between this link and the one before.
    pub(crate) gap_before: bool,
}

pub(crate) struct Pager {
    /// `first–last of total`, in the page's own number format.
    pub(crate) range: String,
    pub(crate) prev: Option<String>,
    pub(crate) next: Option<String>,
    pub(crate) links: Vec<PageLink>,
}

impl Pager {
    /// The pager of a table of `total` rows, `size` a page, showing `shown` rows of page `page`: the range written
    /// `first–last of total` with counts grouped, and the last page the one holding the last row. One way for every
    /// table, so a page past the end (which shows no rows) links back to the pages that exist.
    pub(crate) fn of_rows(page: u32, size: u32, shown: usize, total: i64, href: impl Fn(u32) -> String) -> Pager {
        let size = size.max(1);
        let total = total.max(0);
        let last_page = u32::try_from((total as u64).div_ceil(u64::from(size)).max(1)).unwrap_or(u32::MAX);
        let first = (i64::from(page.max(1)) - 1) * i64::from(size) + 1;
        let range = if shown == 0 {
            format!("0–0 of {}", grouped(total))
        } else {
            format!("{}–{} of {}", grouped(first), grouped(first + shown as i64 - 1), grouped(total))
        };
        Pager::new(page, last_page, range, href)
    }

    /// `page` as the URL asked for it (possibly past the end, which then links back to pages that exist),
    /// `last_page` at least 1, `href` the address of a page.
    pub(crate) fn new(page: u32, last_page: u32, range: String, href: impl Fn(u32) -> String) -> Pager {
        let last_page = last_page.max(1);
        let around = page.min(last_page);
        let mut numbers: Vec<u32> = vec![1];
        numbers.extend(around.saturating_sub(3).max(1)..=around.saturating_add(3).min(last_page));
        numbers.push(last_page);
        numbers.dedup();
        let mut links = Vec::with_capacity(numbers.len());
        let mut before = 0;
        for n in numbers {
            links.push(PageLink {
                number: n,
                href: href(n),
                current: n == page,
                gap_before: before != 0 && n > before + 1,
            });
            before = n;
        }
        // One page, and it is the one shown: nothing to go to.
        if links.len() == 1 && links[0].current {
            links.clear();
        }
        Pager {
            range,
            prev: (page > 1).then(|| href((page - 1).min(last_page))),
            next: (page < last_page).then(|| href(page + 1)),
            links,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_show_the_ends_and_the_neighbourhood() {
        let numbers = |page: u32, last: u32| -> Vec<(u32, bool)> {
            Pager::new(page, last, String::new(), |n| n.to_string())
                .links
                .iter()
                .map(|l| (l.number, l.gap_before))
                .collect()
        };
        assert_eq!(numbers(1, 2), vec![(1, false), (2, false)]);
        assert_eq!(
            numbers(10, 40),
            vec![
                (1, false),
                (7, true),
                (8, false),
                (9, false),
                (10, false),
                (11, false),
                (12, false),
                (13, false),
                (40, true)
            ]
        );
        assert!(numbers(1, 1).is_empty(), "a single page needs no links");
    }

    #[test]
    fn the_range_groups_its_counts_and_the_last_page_holds_the_last_row() {
        let p = Pager::of_rows(2, 50, 50, 100_012, |n| n.to_string());
        assert_eq!(p.range, "51–100 of 100,012");
        assert_eq!(p.links.last().map(|l| l.number), Some(2_001));
        let empty = Pager::of_rows(3, 50, 0, 100, |n| n.to_string());
        assert_eq!(empty.range, "0–0 of 100");
        assert_eq!(empty.next, None, "nothing past the end");
    }

    #[test]
    fn a_page_past_the_end_links_back() {
        let p = Pager::new(99, 1, String::new(), |n| format!("/x?page={n}"));
        assert_eq!(p.links.iter().map(|l| (l.number, l.current)).collect::<Vec<_>>(), vec![(1, false)]);
        assert_eq!(p.prev.as_deref(), Some("/x?page=1"));
        assert_eq!(p.next, None);
    }
}
