//! Reading an import file: CSV with a header row of Add Account labels (any order, optional columns may be left
//! out), UTF-8 with or without a byte-order mark, comma- or semicolon-separated, quoted fields. Everything wrong
//! with a file is one message naming the row (and the column where there is one).

use std::fmt;

use crate::numbers::grouped;

/// The columns an import's result file adds: ignored when that file is uploaded again (its failed rows corrected,
/// the created ones found to exist).
const RESULT_COLUMNS: [&str; 3] = ["Partner ID", "Outcome", "Message"];

/// Larger files are refused before they are read.
pub(crate) const MAX_FILE_BYTES: usize = 2 * 1024 * 1024;
/// Accounts one import may hold.
pub(crate) const MAX_ROWS: usize = 2_000;

/// An Add Account field, named in the file by its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Column {
    AdminName,
    Name,
    AdminEmail,
    Phone,
    Website,
    TemplateId,
    ReferenceId,
}

impl Column {
    /// In the order of the Add Account form and the template file.
    pub(crate) const ALL: [Column; 7] = [
        Column::AdminName,
        Column::Name,
        Column::AdminEmail,
        Column::Phone,
        Column::Website,
        Column::TemplateId,
        Column::ReferenceId,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Column::AdminName => "Administrator",
            Column::Name => "Account Name",
            Column::AdminEmail => "Administrator Email",
            Column::Phone => "Administrator Phone",
            Column::Website => "Website URL",
            Column::TemplateId => "Template Partner ID",
            Column::ReferenceId => "Reference ID",
        }
    }

    /// Add Account requires these; the others may be missing from the file.
    pub(crate) fn required(self) -> bool {
        matches!(self, Column::AdminName | Column::Name | Column::AdminEmail | Column::Phone)
    }

    /// A header cell: the label, in any case, with surrounding spaces.
    pub(crate) fn parse(label: &str) -> Option<Column> {
        let label = label.trim();
        Column::ALL.into_iter().find(|c| c.label().eq_ignore_ascii_case(label))
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One account as the file gives it: each field trimmed, empty where the file has no such column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct InputRow {
    /// The row's number in the file, the header being row 1 (a spreadsheet's row number).
    pub(crate) row_no: i64,
    values: [String; 7],
}

impl InputRow {
    pub(crate) fn get(&self, c: Column) -> &str {
        &self.values[c.index()]
    }
}

/// A file read whole: its columns in its order, and its rows.
#[derive(Debug)]
pub(crate) struct ImportFile {
    pub(crate) columns: Vec<Column>,
    pub(crate) rows: Vec<InputRow>,
}

/// Why a file cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileError {
    Empty,
    TooLarge,
    Binary,
    /// UTF-16 text (a spreadsheet's "Unicode text").
    Utf16,
    NotUtf8 {
        row: u64,
    },
    /// The header's errors name its row: blank lines may come before it.
    NoHeader {
        row: u64,
        found: String,
    },
    UnknownColumn {
        row: u64,
        column: usize,
        name: String,
    },
    DuplicateColumn {
        row: u64,
        name: &'static str,
    },
    MissingColumns {
        row: u64,
        names: Vec<&'static str>,
    },
    FieldCount {
        row: u64,
        found: usize,
        expected: usize,
    },
    BrokenQuotes {
        row: u64,
    },
    TooManyRows,
    NoRows,
    /// A line break inside a value: a closing quote is likely missing, which would merge rows.
    LineBreak {
        row: u64,
        column: &'static str,
    },
    /// A value under a header cell left empty.
    Unnamed {
        row: u64,
        column: usize,
    },
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let labels = Column::ALL.map(Column::label).join(", ");
        match self {
            FileError::Empty => write!(f, "The file is empty."),
            FileError::TooLarge => write!(
                f,
                "The file is larger than {} MB, the most one import takes. Split it into files of at most {} rows.",
                MAX_FILE_BYTES / (1024 * 1024),
                grouped(MAX_ROWS as i64)
            ),
            FileError::Binary => write!(
                f,
                "This is not a CSV file: it holds binary data. Save the sheet as \"CSV UTF-8 (comma delimited)\"."
            ),
            FileError::Utf16 => write!(
                f,
                "The file is UTF-16 text (\"Unicode text\"). Save the sheet as \"CSV UTF-8 (comma delimited)\" and \
                 upload it again."
            ),
            FileError::NotUtf8 { row } => write!(
                f,
                "Row {row} is not UTF-8 text. Save the sheet as \"CSV UTF-8 (comma delimited)\" and upload it again."
            ),
            FileError::NoHeader { row, found } => write!(
                f,
                "Row {row} must be the header row, naming the columns with the Add Account labels ({labels}); it \
                 reads \"{found}\"."
            ),
            FileError::UnknownColumn { row, column, name } => write!(
                f,
                "Row {row}, column {column}: \"{name}\" is not an Add Account field. The columns are: {labels}."
            ),
            FileError::DuplicateColumn { row, name } => write!(f, "Row {row}: the column \"{name}\" appears twice."),
            FileError::MissingColumns { row, names } => {
                let s = if names.len() == 1 { "" } else { "s" };
                write!(
                    f,
                    "Row {row}: the required column{s} {} {} missing.",
                    names.join(", "),
                    if s.is_empty() { "is" } else { "are" }
                )
            }
            FileError::FieldCount { row, found, expected } => write!(
                f,
                "Row {row} has {found} fields where the header has {expected}. A value holding the separator must be \
                 in double quotes."
            ),
            FileError::BrokenQuotes { row } => write!(
                f,
                "Row {row}: a quoted value is not closed, or a double quote inside a value is not doubled (\"\")."
            ),
            FileError::TooManyRows => write!(
                f,
                "The file has more than {} accounts, the most one import takes. Split it into several files.",
                grouped(MAX_ROWS as i64)
            ),
            FileError::NoRows => write!(f, "The file has a header row and no accounts."),
            FileError::LineBreak { row, column } => write!(
                f,
                "Row {row}, {column}: a line break inside a value. A closing double quote is probably missing."
            ),
            FileError::Unnamed { row, column } => write!(
                f,
                "Row {row}, column {column}: a value in a column whose header cell is empty. Name the column with \
                 an Add Account label, or delete it."
            ),
        }
    }
}

impl std::error::Error for FileError {}

/// What the template download holds: the header and one example account.
pub(crate) fn template() -> String {
    let header = Column::ALL.map(Column::label).join(",");
    format!(
        "{header}\r\nAda Lovelace,School of Engineering,ada.lovelace@example.edu,+1 555 0100,https://engineering.example.edu,0,ENG-001\r\n"
    )
}

/// Reads a whole file.
pub(crate) fn read(bytes: &[u8]) -> Result<ImportFile, FileError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(FileError::TooLarge);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(FileError::Empty);
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(FileError::Utf16);
    }
    if bytes.contains(&0) {
        return Err(FileError::Binary);
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        let row = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() as u64 + 1;
        return Err(FileError::NotUtf8 { row });
    }
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(separator(bytes)).from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut header: Option<Vec<Position>> = None;
    let mut rows = Vec::new();
    let (mut lines, mut counted) = (0u64, 0usize);
    loop {
        let start = reader.position().byte() as usize;
        let more = reader.read_byte_record(&mut record).map_err(|e| {
            // With flexible records and UTF-8 checked above, only an I/O error could come: there is no I/O here.
            FileError::BrokenQuotes { row: e.position().map_or(0, |p| p.line()) }
        })?;
        if !more {
            break;
        }
        // The row a spreadsheet shows: lines before the record's first character, counted here because csv
        // reports a CRLF file's records as starting on the line before.
        let mut at = record.position().map_or(start, |p| p.byte() as usize).min(bytes.len());
        while at < bytes.len() && matches!(bytes[at], b'\r' | b'\n') {
            at += 1;
        }
        lines += line_breaks(&bytes[counted..at]);
        counted = at;
        let row = lines + 1;
        let end = reader.position().byte() as usize;
        if bytes[start..end.min(bytes.len())].iter().filter(|b| **b == b'"').count() % 2 == 1 {
            return Err(FileError::BrokenQuotes { row });
        }
        let fields: Vec<&str> = record.iter().map(|f| std::str::from_utf8(f).unwrap_or_default()).collect();
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let Some(positions) = &header else {
            header = Some(read_header(&fields, row)?);
            continue;
        };
        if fields.len() != positions.len() {
            return Err(FileError::FieldCount { row, found: fields.len(), expected: positions.len() });
        }
        if rows.len() == MAX_ROWS {
            return Err(FileError::TooManyRows);
        }
        let mut input = InputRow { row_no: row as i64, ..InputRow::default() };
        for (i, (position, v)) in positions.iter().zip(fields).enumerate() {
            match position {
                Position::Field(c) if v.contains(['\n', '\r']) => {
                    return Err(FileError::LineBreak { row, column: c.label() });
                }
                // What the console's own CSV neutralised is read back as it was; the row checks then refuse a formula.
                Position::Field(c) => input.values[c.index()] = crate::spreadsheet::unneutralised(v.trim()),
                Position::Unnamed if !v.trim().is_empty() => return Err(FileError::Unnamed { row, column: i + 1 }),
                Position::Unnamed | Position::Result => {}
            }
        }
        rows.push(input);
    }
    let positions = header.ok_or(FileError::Empty)?;
    if rows.is_empty() {
        return Err(FileError::NoRows);
    }
    let columns = positions
        .into_iter()
        .filter_map(|p| match p {
            Position::Field(c) => Some(c),
            Position::Unnamed | Position::Result => None,
        })
        .collect();
    Ok(ImportFile { columns, rows })
}

/// How many lines end in `bytes`: at LF, CRLF, or a lone CR (files from old Mac software).
fn line_breaks(bytes: &[u8]) -> u64 {
    let lone_cr =
        bytes.windows(2).filter(|w| w[0] == b'\r' && w[1] != b'\n').count() + usize::from(bytes.last() == Some(&b'\r'));
    (bytes.iter().filter(|b| **b == b'\n').count() + lone_cr) as u64
}

/// `;` when the first line has more semicolons than commas (spreadsheets in locales whose decimal mark is a comma
/// write those), else `,`.
fn separator(bytes: &[u8]) -> u8 {
    let first = bytes.split(|b| matches!(b, b'\n' | b'\r')).next().unwrap_or_default();
    let count = |c: u8| first.iter().filter(|b| **b == c).count();
    if count(b';') > count(b',') { b';' } else { b',' }
}

/// What a header cell names.
#[derive(Debug, Clone, Copy)]
enum Position {
    Field(Column),
    /// A result file's own column (Partner ID, Outcome, Message): ignored.
    Result,
    /// An empty cell (spreadsheets add them after the last column): its values must be empty too.
    Unnamed,
}

/// What each cell of the header (on `row`) names.
fn read_header(fields: &[&str], row: u64) -> Result<Vec<Position>, FileError> {
    let parsed: Vec<Option<Column>> = fields.iter().map(|f| Column::parse(f)).collect();
    if parsed.iter().all(Option::is_none) {
        let found: String = fields.join(", ").chars().take(120).collect();
        return Err(FileError::NoHeader { row, found });
    }
    let mut columns = Vec::with_capacity(fields.len());
    let mut positions = Vec::with_capacity(fields.len());
    for (i, (field, column)) in fields.iter().zip(parsed).enumerate() {
        let Some(column) = column else {
            if field.trim().is_empty() {
                positions.push(Position::Unnamed);
                continue;
            }
            if RESULT_COLUMNS.iter().any(|r| r.eq_ignore_ascii_case(field.trim())) {
                positions.push(Position::Result);
                continue;
            }
            let name = field.trim().chars().take(60).collect();
            return Err(FileError::UnknownColumn { row, column: i + 1, name });
        };
        if columns.contains(&column) {
            return Err(FileError::DuplicateColumn { row, name: column.label() });
        }
        columns.push(column);
        positions.push(Position::Field(column));
    }
    let missing: Vec<&str> =
        Column::ALL.into_iter().filter(|c| c.required() && !columns.contains(c)).map(Column::label).collect();
    if !missing.is_empty() {
        return Err(FileError::MissingColumns { row, names: missing });
    }
    Ok(positions)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Administrator,Account Name,Administrator Email,Administrator Phone";

    #[test]
    fn any_order_a_bom_semicolons_and_quotes_are_read() {
        let file = "\u{feff}Account Name;Administrator Email;Administrator;Administrator Phone;Reference ID\r\n\
                    \"Arts; Humanities\";arts@example.edu; Ann Arts ;\"+1 555\";\"R \"\"1\"\"\"\r\n\r\n";
        let f = read(file.as_bytes()).unwrap();
        assert_eq!(f.columns[0], Column::Name);
        assert_eq!(f.rows.len(), 1);
        let r = &f.rows[0];
        assert_eq!(r.row_no, 2);
        assert_eq!(r.get(Column::Name), "Arts; Humanities");
        assert_eq!(r.get(Column::AdminName), "Ann Arts");
        assert_eq!(r.get(Column::ReferenceId), "R \"1\"");
        assert_eq!(r.get(Column::Website), "", "a missing optional column reads as empty");
    }

    #[test]
    fn the_template_reads_back() {
        let f = read(template().as_bytes()).unwrap();
        assert_eq!(f.columns, Column::ALL);
        assert_eq!(f.rows[0].get(Column::AdminEmail), "ada.lovelace@example.edu");
    }

    #[test]
    fn a_result_file_reads_back_as_its_input() {
        let file =
            format!("{HEADER},Partner ID,Outcome,Message\nAnn,Arts,a@example.edu,'+1 555,,Failed,\"Kaltura: no\"\n");
        let f = read(file.as_bytes()).unwrap();
        assert_eq!(f.columns.len(), 4);
        assert_eq!(f.rows[0].get(Column::Phone), "+1 555", "the export's formula guard is taken off");
    }

    #[test]
    fn empty_trailing_columns_and_old_mac_line_ends_are_read() {
        let file = format!("{HEADER},,\rAnn,Arts,a@example.edu,1,,\rBob,Bio,b@example.edu,2,,\r");
        let f = read(file.as_bytes()).unwrap();
        assert_eq!(f.columns.len(), 4);
        assert_eq!(f.rows[1].row_no, 3);
        assert_eq!(f.rows[1].get(Column::AdminName), "Bob");
        let e = read(format!("{HEADER},\nAnn,Arts,a@example.edu,1,oops\n").as_bytes()).unwrap_err();
        assert_eq!(e, FileError::Unnamed { row: 2, column: 5 });
        assert!(e.to_string().starts_with("Row 2, column 5: a value in a column whose header cell is empty."));
    }

    #[test]
    fn a_line_break_inside_a_value_is_refused_so_rows_never_merge() {
        let file = format!("{HEADER}\nAnn,\"Arts,ann@x.edu,1\nBob,\"Bio,bob@x.edu,2\n");
        assert_eq!(read(file.as_bytes()).unwrap_err(), FileError::LineBreak { row: 2, column: "Account Name" });
    }

    #[test]
    fn bad_files_name_the_row_and_column() {
        let err = |s: &str| read(s.as_bytes()).unwrap_err().to_string();
        assert_eq!(err(""), "The file is empty.");
        assert!(err("Ann,Arts,a@example.edu,1\n").starts_with("Row 1 must be the header row"));
        assert!(
            err("\n\r\nAnn,Arts,a@example.edu,1\n").starts_with("Row 3 must be the header row"),
            "blank lines before the header are rows a spreadsheet shows"
        );
        assert_eq!(
            err(&format!("{HEADER},Colour\nAnn,Arts,a@example.edu,1,red\n")),
            "Row 1, column 5: \"Colour\" is not an Add Account field. The columns are: Administrator, Account Name, \
             Administrator Email, Administrator Phone, Website URL, Template Partner ID, Reference ID."
        );
        assert_eq!(
            err("Administrator,Account Name\nAnn,Arts\n"),
            "Row 1: the required columns Administrator Email, Administrator Phone are missing."
        );
        assert_eq!(err(&format!("{HEADER},Account Name\n")), "Row 1: the column \"Account Name\" appears twice.");
        assert!(
            err(&format!("{HEADER}\nAnn,Arts,a@example.edu,1\nBob,Bio,Chem,b@example.edu,2\n"))
                .starts_with("Row 3 has 5 fields where the header has 4.")
        );
        assert!(
            err(&format!("{HEADER}\nAnn,\"Arts,a@example.edu,1\nBob,Bio,b@example.edu,2\n"))
                .starts_with("Row 2: a quoted value is not closed")
        );
        assert_eq!(err(&format!("{HEADER}\n")), "The file has a header row and no accounts.");
        assert!(err("\u{1}\u{0}\u{2}PK").starts_with("This is not a CSV file"));
        let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain(HEADER.encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(read(&utf16).unwrap_err(), FileError::Utf16);
        let mut latin1 = format!("{HEADER}\nAnn,Arts,a@example.edu,1\n").into_bytes();
        latin1.extend_from_slice(b"Jos\xe9,Arts,j@example.edu,1\n");
        assert!(read(&latin1).unwrap_err().to_string().starts_with("Row 3 is not UTF-8 text"));
    }

    #[test]
    fn limits_are_stated() {
        let mut many = format!("{HEADER}\n");
        for i in 0..=MAX_ROWS {
            many.push_str(&format!("A,B,a{i}@example.edu,1\n"));
        }
        assert_eq!(read(many.as_bytes()).unwrap_err(), FileError::TooManyRows);
        assert!(FileError::TooManyRows.to_string().contains("2,000"));
        let huge = vec![b'a'; MAX_FILE_BYTES + 1];
        assert_eq!(read(&huge).unwrap_err(), FileError::TooLarge);
    }
}
