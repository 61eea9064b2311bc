//! CSV export of every account under the current search and filter, by partner id: all pages, fetched 500 at a
//! time and streamed, so a large organisation never sits in memory.

use crate::web::parent::CurrentParent;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::response::Response;
use futures_util::{StreamExt, stream};
use kaltura::Partner;

use super::rows::Row;
use super::view::View;
use super::{AdminUser, AppError, AppState};
use crate::web::csv;
use crate::web::error::Loading;
use crate::web::format::kmc_date;

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

fn value(v: &Option<String>) -> String {
    v.as_deref().map(str::trim).unwrap_or_default().to_owned()
}

fn record(p: &Partner, parent_id: i64) -> String {
    csv::line(fields(p, parent_id).iter().map(String::as_str))
}

/// A partner's values in [`HEADER`]'s order.
fn fields(p: &Partner, parent_id: i64) -> [String; 12] {
    let row = Row::new(p, parent_id);
    [
        row.plain_name().to_string(),
        p.id.to_string(),
        row.status_label.to_string(),
        p.status.map(|s| s.code().to_string()).unwrap_or_default(),
        // The values as Kaltura has them: a missing one is empty, not the page's "N/A".
        value(&p.admin_name),
        value(&p.admin_email),
        value(&p.phone),
        value(&p.reference_id),
        value(&p.website),
        kmc_date(p.created_at),
        p.created_at.map(|t| t.to_string()).unwrap_or_default(),
        if row.is_parent { "yes" } else { "no" }.to_string(),
    ]
}

pub(crate) async fn export(
    parent: CurrentParent,
    AdminUser(_): AdminUser,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let (view, _) = View::parse(query.as_deref().unwrap_or(""));
    // A Kaltura failure before the first page is an error page, not a broken download.
    let (parent_id, pages) =
        parent.accounts.export(&view.filter()).await.map_err(AppError::kaltura(Loading::Accounts))?;
    let head = stream::iter([Ok(Bytes::from(csv::line(HEADER)))]);
    let rows = pages.map(move |page| match page {
        Ok(page) => Ok(Bytes::from(page.iter().map(|p| record(p, parent_id)).collect::<String>())),
        Err(e) => {
            // Ending the body with an error makes the browser report a failed download, not a short file.
            tracing::warn!(error = %e, "CSV export stopped");
            Err(std::io::Error::other(e.to_string()))
        }
    });
    Ok(csv::attachment("accounts", Body::from_stream(head.chain(rows))))
}

/// The accounts of every parent the user sees, one parent after the other, under the same search and filter, each
/// line ending with its parent's partner id (`/parents/accounts.csv`).
pub(crate) async fn export_all(
    State(state): State<AppState>,
    AdminUser(me): AdminUser,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let (view, _) = View::parse(query.as_deref().unwrap_or(""));
    let filter = view.filter();
    let parents: Vec<_> = state.parents.iter().filter(|p| me.parents.may_see(p.id)).cloned().collect();
    let header = HEADER.iter().copied().chain([PARENT_ID]);
    let head = stream::iter([Ok(Bytes::from(csv::line(header)))]);
    let rows = stream::iter(parents)
        .then(move |parent| {
            let filter = filter.clone();
            async move { parent.accounts.export(&filter).await }
        })
        .flat_map(|exported| match exported {
            Ok((parent_id, pages)) => pages
                .map(move |page| {
                    page.map(|page| {
                        let parent = parent_id.to_string();
                        let lines = page.iter().map(|p| {
                            let values = fields(p, parent_id);
                            csv::line(values.iter().map(String::as_str).chain([parent.as_str()]))
                        });
                        Bytes::from(lines.collect::<String>())
                    })
                })
                .boxed(),
            Err(e) => stream::iter([Err(e)]).boxed(),
        })
        .map(|page| {
            page.map_err(|e| {
                tracing::warn!(error = %e, "CSV export of every parent stopped");
                std::io::Error::other(e.to_string())
            })
        });
    Ok(csv::attachment("accounts", Body::from_stream(head.chain(rows))))
}

/// The column the export of every parent adds.
const PARENT_ID: &str = "Parent ID";
