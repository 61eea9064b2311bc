//! CSV for the exports: the lines (`crate::spreadsheet`), and the download response.

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

pub(crate) use crate::spreadsheet::line;

/// A streamed CSV download named `{name}-YYYYMMDD-HHMM.csv`.
pub(crate) fn attachment(name: &str, body: Body) -> Response {
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!("[year][month][day]-[hour][minute]"))
        .unwrap_or_default();
    attachment_as(&format!("{name}-{stamp}"), body)
}

/// A CSV download named `{stem}.csv` (a name that already says what it holds, such as the period of a report).
pub(crate) fn attachment_as(stem: &str, body: Body) -> Response {
    let mut res = body.into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{stem}.csv\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res
}
