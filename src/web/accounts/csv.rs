//! CSV export of every account under the current search and filter, by partner id: all pages, fetched 500 at a
//! time and streamed, so a large organisation never sits in memory.

use crate::web::parent::CurrentParent;
use axum::body::{Body, Bytes};
use axum::extract::RawQuery;
use axum::response::Response;
use futures_util::{StreamExt, stream};
use kaltura::Partner;

use super::rows::Row;
use super::view::View;
use super::{AdminUser, AppError};
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
    let row = Row::new(p, parent_id);
    let fields = [
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
    ];
    csv::line(fields.iter().map(String::as_str))
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
