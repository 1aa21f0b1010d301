//! JSON strings exactly as Go's `encoding/json` writes them: `<`, `>`, `&`, U+2028 and
//! U+2029 escaped (HTML-safe), other control characters as `\u00XX`, and only `\n`,
//! `\r`, `\t` in short form. Prometheus's API and Alertmanager's webhook are written so,
//! and their clients (or a receiver that hashes a body) may compare bytes.

use std::fmt::Write as _;

/// Appends `s` as a JSON string the way Go's `json.Marshal` does.
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_as_go_does() {
        let mut s = String::new();
        super::write_string(&mut s, "a<b>&\"\\\n\t\u{1}\u{2028}é");
        assert_eq!(s, r#""a\u003cb\u003e\u0026\"\\\n\t\u0001\u2028é""#);
    }
}
