//! The pager under the Accounts and Audit tables: Previous, the first and last pages, the pages near the current
//! one with gaps marked, and Next. Rendered by `partials/pager.html`.

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
    fn a_page_past_the_end_links_back() {
        let p = Pager::new(99, 1, String::new(), |n| format!("/x?page={n}"));
        assert_eq!(p.links.iter().map(|l| (l.number, l.current)).collect::<Vec<_>>(), vec![(1, false)]);
        assert_eq!(p.prev.as_deref(), Some("/x?page=1"));
        assert_eq!(p.next, None);
    }
}
