//! CSV lines as the console writes them (exports, an import's result): every field quoted (RFC 4180), so no
//! separator inside a value splits it whatever the reader's locale, and cells a spreadsheet would run as formulas
//! neutralised; and which values the console refuses to store for that reason.

/// What a spreadsheet reads as the start of a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// One field, always quoted; a leading `=`, `+`, `-`, `@`, tab or CR is prefixed with `'` so spreadsheets show it as
/// text instead of evaluating it, and so is each such start after a `;` in the value: a spreadsheet whose list
/// separator is `;` reads a comma file by splitting at every `;`, quotes or not, so each part starts a cell.
pub(crate) fn field(v: &str) -> String {
    let v =
        v.split(';').map(|part| if part.starts_with(FORMULA_STARTS) { format!("'{part}") } else { part.to_owned() });
    format!("\"{}\"", v.collect::<Vec<_>>().join(";").replace('"', "\"\""))
}

/// A field as [`field`] wrote it, without the `'`s it added (for reading the console's own files back).
pub(crate) fn unneutralised(v: &str) -> String {
    v.split(';')
        .map(|part| match part.strip_prefix('\'') {
            Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
            _ => part,
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// Why a value (an account's name, its administrator's name, phone or reference id) is refused: a spreadsheet that
/// opens a file holding it, such as Kaltura's own exports, would run it as a formula. A number that starts with `+`
/// or `-` (a phone number, written with digits, spaces, `( ) . /` and dashes) is fine.
pub(crate) fn formula_refusal(v: &str) -> Option<&'static str> {
    let number_like = |v: &str| {
        v.chars().any(|c| c.is_ascii_digit())
            && v.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')' | '.' | '/'))
    };
    match v.chars().next() {
        Some('+' | '-') if number_like(v) => None,
        Some(c) if FORMULA_STARTS.contains(&c) => Some(
            "Must not start with =, +, -, @ or a tab: a spreadsheet would run it as a formula (a phone number may \
             start with + or -)",
        ),
        _ => None,
    }
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
        assert_eq!(field("plain"), "\"plain\"");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(field("+972501234567"), "\"'+972501234567\"");
        assert_eq!(field("\t=1+2"), "\"'\t=1+2\"");
        // A reader that splits at `;` starts a cell after it: that start is neutralised too, and read back as it was.
        assert_eq!(field("x;=1+2;y"), "\"x;'=1+2;y\"");
        assert_eq!(unneutralised("x;'=1+2;'+1 555;'plain"), "x;=1+2;+1 555;'plain");
        assert_eq!(line(["a", "b,c"]), "\"a\",\"b,c\"\r\n");
    }

    #[test]
    fn values_a_spreadsheet_would_run_are_refused_but_phone_numbers_are_not() {
        for bad in ["=1+2", "@SUM(A1)", "\t=cmd", "\r=x", "+SUM(A1)", "-2+3+cmd|' /C calc'!A0", "-Bob"] {
            assert!(formula_refusal(bad).is_some(), "{bad:?}");
        }
        for good in ["+1 555 0101", "-972 (50) 123.45/6", "Ann", "a=b", "", "907-1234567"] {
            assert_eq!(formula_refusal(good), None, "{good:?}");
        }
    }
}
