//! CSV export of every account under the current search and filter: all pages, fetched 500 at a time and
//! streamed, so a large organisation never sits in memory.

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::response::Response;
use futures_util::{StreamExt, stream};
use kaltura::{Pager, Partner, PartnerFilter};

use super::rows::Row;
use super::view::View;
use super::{AdminUser, AppError, AppState};
use crate::web::csv;
use crate::web::format::kmc_date;

const UPSTREAM_PAGE: u32 = 500;

const HEADER: [&str; 12] = [
    "Account Name",
    "Partner ID",
    "Status",
    "Status Code",
    "Administrator",
    "Admin Email",
    "Admin Phone",
    "Reference ID",
    "Website URL",
    "Creation Date",
    "Created At (Unix)",
    "Parent Account",
];

fn record(p: &Partner, parent_id: i64) -> String {
    let row = Row::new(p, parent_id);
    let fields = [
        row.plain_name().to_string(),
        p.id.to_string(),
        row.status_label.to_string(),
        p.status.map(|s| s.code().to_string()).unwrap_or_default(),
        row.admin_name,
        row.admin_email,
        row.phone,
        row.reference_id,
        row.website,
        kmc_date(p.created_at),
        p.created_at.map(|t| t.to_string()).unwrap_or_default(),
        if row.is_parent { "yes" } else { "no" }.to_string(),
    ];
    csv::line(fields.iter().map(String::as_str))
}

/// Where the export stands between upstream pages.
struct Cursor {
    state: AppState,
    filter: PartnerFilter,
    parent_id: i64,
    next_page: u32,
    done: bool,
}

pub(crate) async fn export(
    State(state): State<AppState>,
    AdminUser(_): AdminUser,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let (view, _) = View::parse(query.as_deref().unwrap_or(""));
    let filter = view.filter();
    // The first page is fetched before answering, so a Kaltura failure is an error page, not a broken download.
    let first = state.accounts.page(&filter, Pager::new(UPSTREAM_PAGE, 1)).await?;
    let parent_id = first.parent_id;
    let total = first.page.total_count;
    let mut head = csv::line(HEADER);
    for p in &first.page.objects {
        head.push_str(&record(p, parent_id));
    }
    let more = i64::from(UPSTREAM_PAGE) < total && !first.page.objects.is_empty();
    let cursor = Cursor { state, filter, parent_id, next_page: 2, done: !more };
    let rest = stream::unfold(cursor, |mut c| async move {
        if c.done {
            return None;
        }
        match c.state.accounts.list(&c.filter, Pager::new(UPSTREAM_PAGE, c.next_page)).await {
            Ok(list) => {
                let chunk: String = list.objects.iter().map(|p| record(p, c.parent_id)).collect();
                c.done = list.objects.len() < UPSTREAM_PAGE as usize
                    || i64::from(c.next_page) * i64::from(UPSTREAM_PAGE) >= list.total_count;
                c.next_page += 1;
                Some((Ok::<Bytes, std::io::Error>(Bytes::from(chunk)), c))
            }
            Err(e) => {
                // Ending the body with an error makes the browser report a failed download, not a short file.
                tracing::warn!(error = %e, page = c.next_page, "CSV export stopped");
                c.done = true;
                Some((Err(std::io::Error::other(e.to_string())), c))
            }
        }
    });
    Ok(csv::attachment("accounts", Body::from_stream(stream::iter([Ok(Bytes::from(head))]).chain(rest))))
}
