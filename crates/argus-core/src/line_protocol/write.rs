//! The writer: encodes a [`Line`] so that [`parse`](super::parse) reads back the same line.
//!
//! **Escaping** follows what the parser undoes. In a measurement `,` and space get a
//! backslash; in tag keys, tag values and field keys `,`, `=` and space do; in string values
//! `"` and `\` do. A backslash in a name is doubled only where it would otherwise start an
//! escape (before an escapable character or at the end of the name), so a Windows path
//! such as `C:\Temp` is written as it is and Influx v1, which never unescapes `\\` in
//! names, reads it the same.
//!
//! A few values have no spelling in line protocol; the writer keeps the rest of the point:
//! - a non-finite float field is left out, and a line left with no field is not written;
//! - an empty field key drops the field, and an empty tag key or value drops the tag (an
//!   empty value means "no label" in Argus, and Influx rejects it);
//! - an empty measurement drops the line;
//! - a newline in a name is written as the two characters `\n` (as Telegraf does), and a
//!   `#` or tab at the start of a measurement as `\#` or `\t`, because a line there would be
//!   a comment or the tab skipped as indentation. These read back as a backslash and the
//!   letter, not as the original character.
//!
//! Newlines inside string values need no escape: the parser reads a quoted string across
//! lines.

use super::{FieldValue, Line, Precision};
use std::borrow::Cow;
use std::fmt::Write as _;

/// Appends `line` to `out` as one line of line protocol ending in `\n`, and returns whether
/// it wrote anything (see the module docs for what cannot be written).
///
/// The timestamp is written as it is: `precision` is the unit it is in, which the text does
/// not carry, so the reader must be told the same precision (Influx's `?precision=`).
/// Floats are written in the shortest form that parses back to the same `f64`.
pub fn write_line(out: &mut String, line: &Line<'_>, precision: Precision) -> bool {
    // Nothing to convert: the unit travels beside the text, not in it.
    let _ = precision;
    if line.measurement.is_empty() || !line.fields.iter().any(is_writable) {
        return false;
    }

    push_name(out, &line.measurement, is_measurement_escapable, true);
    for (key, value) in &line.tags {
        if key.is_empty() || value.is_empty() {
            continue;
        }
        out.push(',');
        push_name(out, key, is_key_escapable, false);
        out.push('=');
        push_name(out, value, is_key_escapable, false);
    }
    let mut separator = ' ';
    for (key, value) in line.fields.iter().filter(|f| is_writable(f)) {
        out.push(separator);
        separator = ',';
        push_name(out, key, is_key_escapable, false);
        out.push('=');
        push_value(out, value);
    }
    if let Some(ts) = line.timestamp {
        let _ = write!(out, " {ts}");
    }
    out.push('\n');
    true
}

fn is_writable((key, value): &(Cow<'_, str>, FieldValue<'_>)) -> bool {
    !key.is_empty() && !matches!(value, FieldValue::Float(v) if !v.is_finite())
}

/// What the parser unescapes after a backslash in a measurement.
fn is_measurement_escapable(c: u8) -> bool {
    matches!(c, b',' | b' ' | b'\\')
}

/// What the parser unescapes after a backslash in a tag key, tag value or field key.
fn is_key_escapable(c: u8) -> bool {
    matches!(c, b',' | b' ' | b'=' | b'\\')
}

fn push_name(out: &mut String, s: &str, escapable: fn(u8) -> bool, measurement: bool) {
    let b = s.as_bytes();
    let special_start = measurement && matches!(b.first(), Some(b'#' | b'\t'));
    if !special_start && !b.iter().any(|&c| escapable(c) || c == b'\n') {
        out.push_str(s);
        return;
    }
    // Every byte replaced is ASCII, so the slices copied between them are whole characters.
    let mut copied = 0;
    for (i, &c) in b.iter().enumerate() {
        let replacement = match c {
            b'\n' => "\\n",
            b'\\' if b.get(i + 1).is_none_or(|&next| escapable(next)) => "\\\\",
            b'\\' => continue,
            b',' => "\\,",
            b' ' => "\\ ",
            b'=' if escapable(c) => "\\=",
            b'#' if i == 0 && measurement => "\\#",
            b'\t' if i == 0 && measurement => "\\t",
            _ => continue,
        };
        out.push_str(&s[copied..i]);
        out.push_str(replacement);
        copied = i + 1;
    }
    out.push_str(&s[copied..]);
}

fn push_value(out: &mut String, value: &FieldValue<'_>) {
    match value {
        // `{:?}` is the shortest text that parses back to the same f64, and switches to
        // exponent notation for very large and small magnitudes (`1e300`, not 301 digits).
        FieldValue::Float(v) => {
            let _ = write!(out, "{v:?}");
        }
        FieldValue::Int(v) => {
            let _ = write!(out, "{v}i");
        }
        FieldValue::UInt(v) => {
            let _ = write!(out, "{v}u");
        }
        FieldValue::Bool(v) => out.push_str(if *v { "true" } else { "false" }),
        FieldValue::Str(s) => {
            out.push('"');
            let mut copied = 0;
            for (i, c) in s.bytes().enumerate() {
                if c == b'"' || c == b'\\' {
                    out.push_str(&s[copied..i]);
                    out.push('\\');
                    copied = i;
                }
            }
            out.push_str(&s[copied..]);
            out.push('"');
        }
    }
}
