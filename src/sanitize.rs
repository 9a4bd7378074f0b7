//! Making caller-controlled strings safe where they land: terminals (control characters and
//! escape sequences) and spreadsheets (formula injection).

/// Replaces control characters (including ESC, so no terminal escape sequence survives) with
/// their escaped form.
pub fn for_terminal(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() || is_bidi(c)) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() || is_bidi(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Unicode bidirectional overrides can reorder what a reader sees.
fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Neutralises a CSV cell that a spreadsheet would run as a formula (OWASP, "CSV Injection"):
/// a cell starting with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`.
pub fn for_spreadsheet(s: &str) -> std::borrow::Cow<'_, str> {
    match s.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => std::borrow::Cow::Owned(format!("'{s}")),
        _ => std::borrow::Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal() {
        assert_eq!(for_terminal("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(for_terminal("line\nnext"), "line\\nnext");
        assert_eq!(for_terminal("plain"), "plain");
    }

    #[test]
    fn spreadsheet() {
        assert_eq!(for_spreadsheet("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(for_spreadsheet("-1+2"), "'-1+2");
        assert_eq!(for_spreadsheet("\tx"), "'\tx");
        assert_eq!(for_spreadsheet("alice"), "alice");
    }
}
