//! `/accounts/import`: create many accounts from a CSV file. Upload, a preview of every row (nothing sent), Create,
//! progress while it runs (the work goes on with the tab closed), the outcome of each row, and a result CSV. The
//! rules are the accounts service's (`accounts::import`).

use crate::web::parent::CurrentParent;
use crate::web::parent_base;
use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Path};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::super::auth::AdminUser;
use super::super::csv;
use super::super::format::kmc_time;
use super::super::htmx::{HxRefresh, wants_fragment};
use super::super::session::Session;
use super::super::{AppError, AppState, ClientIp, Flash, Nav, Section, render};
use super::Actor;
use crate::accounts::import::{
    Column, FileError, ImportError, ImportView, MAX_FILE_BYTES, MAX_ROWS, Row, RowState, Tally, outcome, template_file,
};
use crate::db::imports::{Import, ImportState};

/// A request body larger than this is cut off; up to it, a file over the limit is read to the end and refused
/// with a message (a browser shows nothing for a connection closed while it was still sending).
const UPLOAD_BODY_LIMIT: usize = 16 * 1024 * 1024;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/accounts/import", get(page).post(upload).layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT)))
        .route("/accounts/import/template.csv", get(template))
        .route("/accounts/import/{id}", get(show))
        .route("/accounts/import/{id}/start", post(start))
        .route("/accounts/import/{id}/discard", post(discard))
        .route("/accounts/import/{id}/result.csv", get(result_csv))
}

/// A past import, as the import page lists it.
struct Listed {
    id: i64,
    file_name: String,
    actor: String,
    when: String,
    state: &'static str,
    summary: String,
}

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    nav: Nav,
    error: Option<String>,
    max_rows: String,
    max_mb: usize,
    columns: Vec<(&'static str, bool)>,
    recent: Vec<Listed>,
}

fn state_label(state: ImportState) -> &'static str {
    match state {
        ImportState::Preview => "Preview",
        ImportState::Running => "Running",
        ImportState::Done => "Done",
        ImportState::Discarded => "Discarded",
    }
}

async fn import_page(
    parent: &CurrentParent,
    me: &super::CurrentUser,
    error: Option<String>,
) -> Result<ImportPage, AppError> {
    let recent = parent
        .accounts
        .recent_imports()
        .await?
        .into_iter()
        .map(|(i, t)| Listed {
            id: i.id,
            summary: match i.state {
                ImportState::Preview => format!("{} checked, {} to create", rows(t.total), t.remaining),
                _ => format!("{} created of {}", t.created, rows(t.total)),
            },
            file_name: i.file_name,
            actor: i.actor,
            when: kmc_time(i.created_at),
            state: state_label(i.state),
        })
        .collect();
    Ok(ImportPage {
        nav: parent.nav(me, Section::Accounts),
        error,
        max_rows: crate::numbers::grouped(MAX_ROWS as i64),
        max_mb: MAX_FILE_BYTES / (1024 * 1024),
        columns: Column::ALL.into_iter().map(|c| (c.label(), c.required())).collect(),
        recent,
    })
}

async fn page(parent: CurrentParent, AdminUser(me): AdminUser, session: Session) -> Result<Response, AppError> {
    let mut page = import_page(&parent, &me, None).await?;
    page.nav.flash = session.take_flash().await?;
    Ok(render(&page)?.into_response())
}

async fn template() -> Response {
    let mut res = csv::attachment("accounts-import-template", Body::from(template_file()));
    // The template is the same every time: the name needs no date.
    res.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"accounts-import-template.csv\""),
    );
    res
}

/// The uploaded file's name, as shown back: its last path part, printable, at most 100 characters.
fn shown_name(raw: Option<&str>) -> String {
    let name = raw.unwrap_or_default().rsplit(['/', '\\']).next().unwrap_or_default();
    let name: String = name.chars().filter(|c| !c.is_control()).take(100).collect();
    if name.trim().is_empty() { "upload.csv".to_string() } else { name }
}

/// Why an upload could not even be read as a file.
enum Upload {
    File { name: String, bytes: Vec<u8> },
    Refused(String),
}

/// Reads the form's `file` field; past the file limit the rest is read and dropped, so the answer reaches the
/// browser.
async fn read_upload(multipart: Result<Multipart, MultipartRejection>) -> Upload {
    let Ok(mut multipart) = multipart else {
        return Upload::Refused("Choose a CSV file to upload.".into());
    };
    let too_large = || Upload::Refused(FileError::TooLarge.to_string());
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return Upload::Refused("Choose a CSV file to upload.".into()),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
            Err(e) => return Upload::Refused(format!("The upload did not arrive whole: {}", e.body_text())),
        };
        if field.name() != Some("file") {
            continue;
        }
        let name = shown_name(field.file_name());
        let mut bytes = Vec::new();
        let mut over = false;
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) if !over => {
                    bytes.extend_from_slice(&chunk);
                    if bytes.len() > MAX_FILE_BYTES {
                        over = true;
                        bytes = Vec::new();
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
                Err(e) => return Upload::Refused(format!("The upload did not arrive whole: {}", e.body_text())),
            }
        }
        if over {
            return too_large();
        }
        if bytes.is_empty() && name == "upload.csv" {
            return Upload::Refused("Choose a CSV file to upload.".into());
        }
        return Upload::File { name, bytes };
    }
}

async fn upload(
    parent: CurrentParent,
    AdminUser(me): AdminUser,
    ClientIp(ip): ClientIp,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    let refused = match read_upload(multipart).await {
        Upload::File { name, bytes } => {
            match parent.accounts.import_preview(Actor::of(&me, &ip), &name, &bytes).await {
                Ok(id) => return Ok(Redirect::to(&format!("{}/accounts/import/{id}", parent_base())).into_response()),
                Err(ImportError::Database(e)) => return Err(e.into()),
                Err(e @ ImportError::File(_)) => format!("{name}: {e}"),
                Err(e @ ImportError::Kaltura(_)) => e.to_string(),
            }
        }
        Upload::Refused(message) => message,
    };
    let page = import_page(&parent, &me, Some(refused)).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
}

/// A row of the table.
struct Shown {
    row_no: i64,
    name: String,
    admin_name: String,
    admin_email: String,
    outcome: &'static str,
    class: &'static str,
    partner_id: Option<i64>,
    message: String,
}

impl Shown {
    /// A row as the page lists it; in a preview nothing has happened yet, so an existing account "exists already".
    fn of(r: Row, preview: bool) -> Shown {
        let class = match r.state {
            RowState::Created => "active",
            RowState::Invalid | RowState::Failed => "failed",
            RowState::LeftOut => "blocked",
            RowState::Exists | RowState::Pending | RowState::Sending => "other",
        };
        Shown {
            row_no: r.row_no,
            name: r.name,
            admin_name: r.admin_name,
            admin_email: r.admin_email,
            outcome: if preview && r.state == RowState::Exists { "Exists already" } else { outcome(r.state) },
            class,
            partner_id: r.partner_id,
            message: r.message,
        }
    }
}

/// The part that refreshes itself while the import runs.
struct Progress {
    id: i64,
    state: ImportState,
    tally: Tally,
    elapsed: String,
    per_minute: Option<String>,
    started: Option<String>,
    finished: Option<String>,
}

impl Progress {
    fn of(import: &Import, tally: Tally) -> Progress {
        Progress {
            id: import.id,
            state: import.state,
            elapsed: elapsed(tally.elapsed_secs),
            per_minute: tally.per_minute().map(|r| format!("{r:.1}")),
            tally,
            started: import.started_at.map(kmc_time),
            finished: import.finished_at.map(kmc_time),
        }
    }

    fn is_preview(&self) -> bool {
        self.state == ImportState::Preview
    }
    fn is_running(&self) -> bool {
        self.state == ImportState::Running
    }
    fn is_done(&self) -> bool {
        self.state == ImportState::Done
    }
    fn is_discarded(&self) -> bool {
        self.state == ImportState::Discarded
    }
}

/// `1 row`, `12 rows`.
fn rows(n: i64) -> String {
    if n == 1 { "1 row".into() } else { format!("{} rows", crate::numbers::grouped(n)) }
}

/// `75` → `1 min 15 s`.
fn elapsed(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

#[derive(Template)]
#[template(path = "import_job.html")]
struct JobPage {
    nav: Nav,
    file_name: String,
    actor: String,
    uploaded: String,
    columns: String,
    p: Progress,
    rows: Vec<Shown>,
}

#[derive(Template)]
#[template(path = "partials/import_progress.html")]
struct ProgressPartial {
    p: Progress,
}

async fn show(
    parent: CurrentParent,
    AdminUser(me): AdminUser,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    if wants_fragment(&headers, "import-progress") {
        let Some((import, tally)) = parent.accounts.import_tally(id).await? else { return Err(AppError::NotFound) };
        let p = Progress::of(&import, tally);
        if !p.is_running() {
            // Finished while the page watched: load it whole, with every row's outcome.
            return Ok((HxRefresh(true), render(&ProgressPartial { p })?).into_response());
        }
        return Ok(render(&ProgressPartial { p })?.into_response());
    }
    let Some(ImportView { import, columns, rows, tally }) = parent.accounts.import(id).await? else {
        return Err(AppError::NotFound);
    };
    let preview = import.state == ImportState::Preview;
    let page = JobPage {
        nav: parent.nav(&me, Section::Accounts),
        file_name: import.file_name.clone(),
        actor: import.actor.clone(),
        uploaded: kmc_time(import.created_at),
        columns: columns.iter().map(|c| c.label()).collect::<Vec<_>>().join(", "),
        p: Progress::of(&import, tally),
        rows: rows.into_iter().map(|r| Shown::of(r, preview)).collect(),
    };
    Ok(render(&page)?.into_response())
}

async fn start(
    parent: CurrentParent,
    AdminUser(me): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    if parent.accounts.import_tally(id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    // A second click, or the form sent again, finds it started and only shows it.
    parent.accounts.import_start(Actor::of(&me, &ip), id).await?;
    Ok(Redirect::to(&format!("{}/accounts/import/{id}", parent_base())).into_response())
}

async fn discard(
    parent: CurrentParent,
    AdminUser(_): AdminUser,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let Some((import, _)) = parent.accounts.import_tally(id).await? else {
        return Err(AppError::NotFound);
    };
    if parent.accounts.import_discard(id).await? {
        let message = format!("The preview of {} was discarded: nothing was sent to Kaltura.", import.file_name);
        session.set_flash(Flash::ok(message)).await?;
        Ok(Redirect::to(&format!("{}/accounts/import", parent_base())).into_response())
    } else {
        Ok(Redirect::to(&format!("{}/accounts/import/{id}", parent_base())).into_response())
    }
}

/// The input columns as the file had them, then Partner ID, Outcome and Message.
async fn result_csv(parent: CurrentParent, AdminUser(_): AdminUser, Path(id): Path<i64>) -> Result<Response, AppError> {
    let Some(view) = parent.accounts.import(id).await? else { return Err(AppError::NotFound) };
    Ok(csv::attachment(&format!("accounts-import-{id}"), Body::from(view.result_csv())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_shown_without_paths_or_control_characters() {
        assert_eq!(shown_name(Some("C:\\Users\\ann\\schools.csv")), "schools.csv");
        assert_eq!(shown_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(shown_name(Some("a\u{7}b.csv")), "ab.csv");
        assert_eq!(shown_name(None), "upload.csv");
    }

    #[test]
    fn elapsed_time_reads_as_minutes_and_hours() {
        assert_eq!(elapsed(42), "42 s");
        assert_eq!(elapsed(75), "1 min 15 s");
        assert_eq!(elapsed(3_725), "1 h 2 min");
    }
}
