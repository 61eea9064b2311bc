//! CSV lines as the console writes them (exports, an import's result): RFC 4180 quoting, and cells a spreadsheet
//! would run as formulas neutralised.

/// One field: quoted when needed; a leading `=`, `+`, `-`, `@`, tab or CR is prefixed with `'` so spreadsheets show
/// it as text instead of evaluating it.
pub(crate) fn field(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{v}") } else { v.to_owned() };
    if v.contains([',', '"', '\n', '\r']) { format!("\"{}\"", v.replace('"', "\"\"")) } else { v }
}

/// One record, CRLF-terminated.
pub(crate) fn line<'a>(fields: impl IntoIterator<Item = &'a str>) -> String {
    let mut line = fields.into_iter().map(field).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(field("+972501234567"), "'+972501234567");
        assert_eq!(line(["a", "b,c"]), "a,\"b,c\"\r\n");
    }
}
