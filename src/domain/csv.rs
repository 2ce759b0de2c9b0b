//! CSV cells for the files the consoles download (the GSTR-1 export, the order export): RFC 4180
//! quoting, and text a spreadsheet would run as a formula made inert.

/// One CSV cell: quoted when it holds a comma, a quote or a line break (RFC 4180), and a leading
/// `=`, `+`, `-` or `@` prefixed with `'` so a spreadsheet does not run it as a formula. A
/// negative number stays a number.
pub fn field(text: &str) -> String {
    let number = text.strip_prefix('-').is_some_and(|rest| {
        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit() || c == '.')
    });
    let text = if !number && text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// One CSV record of `cells`, each through `field`, ended by CRLF (RFC 4180).
pub fn record<S: AsRef<str>>(cells: &[S]) -> String {
    let mut line = cells
        .iter()
        .map(|cell| field(cell.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_inert_and_numbers_stay_numbers() {
        assert_eq!(field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(field("+91 98"), "'+91 98");
        assert_eq!(field("@cmd"), "'@cmd");
        assert_eq!(field("-x"), "'-x");
        assert_eq!(field("-12.50"), "-12.50");
        assert_eq!(field("12.50"), "12.50");
    }

    #[test]
    fn quotes_commas_and_line_breaks_are_quoted() {
        assert_eq!(field("a, \"b\""), "\"a, \"\"b\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("=1,2"), "\"'=1,2\"");
        assert_eq!(record(&["a", "b,c"]), "a,\"b,c\"\r\n");
    }
}
