//! How values are written on pages and in exports: one date format, shortened echoes of bad input, the name the
//! header shows.

use crate::db::users::Role;

/// A date and time as the KMC shows it: `MM/DD/YYYY HH:mm` (UTC here); `N/A` when unknown.
pub(crate) fn kmc_date(unix: Option<i64>) -> String {
    let format = time::macros::format_description!("[month]/[day]/[year] [hour]:[minute]");
    unix.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_else(|| "N/A".to_string())
}

/// A day in the same order: `MM/DD/YYYY`.
pub(crate) fn kmc_day(d: time::Date) -> String {
    d.format(time::macros::format_description!("[month]/[day]/[year]")).unwrap_or_default()
}

/// A time to the second, for the audit log: `MM/DD/YYYY HH:mm:ss` (UTC).
pub(crate) fn kmc_time(unix: i64) -> String {
    let format = time::macros::format_description!("[month]/[day]/[year] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp(unix).ok().and_then(|t| t.format(format).ok()).unwrap_or_default()
}

/// A unit for figures Kaltura gives in megabytes (MB → GB → TB → PB by 1024, as Kaltura's analytics scale them),
/// or none for counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Scale {
    pub(crate) unit: &'static str,
    pub(crate) divisor: f64,
}

impl Scale {
    pub(crate) const COUNT: Scale = Scale { unit: "", divisor: 1.0 };
}

/// The largest unit in which `mb` is at least 1.
pub(crate) fn scale_for(mb: f64) -> Scale {
    let mut scale = Scale { unit: "MB", divisor: 1.0 };
    for unit in ["GB", "TB", "PB"] {
        if mb.abs() < scale.divisor * 1024.0 {
            break;
        }
        scale = Scale { unit, divisor: scale.divisor * 1024.0 };
    }
    scale
}

/// A size given in MB, in its own unit: `512.3 MB`, `1.5 GB`.
pub(crate) fn size(mb: f64) -> String {
    let scale = scale_for(mb);
    format!("{:.1} {}", mb / scale.divisor, scale.unit)
}

/// A count with thousands separated: `12,345` (a report's float rounded to the unit).
pub(crate) fn count(n: f64) -> String {
    crate::numbers::grouped(n.round() as i64)
}

/// Text typed into a search or filter, without control characters (a NUL, a tab, a newline).
pub(crate) fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// A value quoted back in a note, cut to 40 characters.
pub(crate) fn short(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// How the header names the signed-in user: their name, or their email when the name is only a role's label (what an
/// administrator set up at first start gets until someone names them).
pub(crate) fn shown_name(name: &str, email: &str) -> String {
    let name = name.trim();
    if name.is_empty() || Role::ALL.iter().any(|r| r.label() == name) { email.to_owned() } else { name.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_the_kmc_writes_them() {
        assert_eq!(kmc_date(Some(1_558_444_680)), "05/21/2019 13:18");
        assert_eq!(kmc_date(None), "N/A");
    }

    #[test]
    fn sizes_scale_by_1024_and_counts_are_grouped() {
        assert_eq!(size(512.34), "512.3 MB");
        assert_eq!(size(1536.0), "1.5 GB");
        assert_eq!(size(3.0 * 1024.0 * 1024.0), "3.0 TB");
        assert_eq!(size(0.0), "0.0 MB");
        assert_eq!(count(1_234_567.0), "1,234,567");
        assert_eq!(count(999.0), "999");
        assert_eq!(count(0.4), "0");
    }

    #[test]
    fn a_role_is_not_a_name() {
        assert_eq!(shown_name("Publisher Administrator", "it@example.com"), "it@example.com");
        assert_eq!(shown_name(" ", "it@example.com"), "it@example.com");
        assert_eq!(shown_name("Renee Dvir", "renee@example.com"), "Renee Dvir");
    }

    #[test]
    fn long_values_are_cut() {
        assert_eq!(short("abc"), "abc");
        assert_eq!(short(&"x".repeat(50)), format!("{}…", "x".repeat(40)));
    }
}
