//! JSON and times written byte for byte as Go's `encoding/json` and `time` write them.
//!
//! Receivers of Alertmanager's webhook sometimes hash or sign-check the body, and tests
//! compare it with what Alertmanager sends, so the bytes matter, not only the values. Go
//! (1.19, which built Alertmanager 0.25) differs from serde_json in three places: it
//! escapes `<`, `>`, `&`, U+2028 and U+2029 (`\u003c`, lowercase hex), it writes `\b` and
//! `\f` as `\u0008` and `\u000c`, and it prints times as RFC 3339 with up to nine fraction
//! digits and no trailing zeros. Field order is the struct's, maps are key-sorted
//! (`BTreeMap`), as Go marshals structs and `map[string]string`.

use std::io;

use jiff::{Timestamp, tz::TimeZone};
use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};

/// Go's zero `time.Time` as text: what an unset `endsAt` marshals to.
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// serde_json's compact output with Go's string escaping.
struct GoFormatter;

impl Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escaped = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            w.write_all(&bytes[start..i])?;
            w.write_all(escaped.as_bytes())?;
            start = i + c.len_utf8();
        }
        w.write_all(&bytes[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        match escape {
            CharEscape::Backspace => w.write_all(b"\\u0008"),
            CharEscape::FormFeed => w.write_all(b"\\u000c"),
            other => CompactFormatter.write_char_escape(w, other),
        }
    }
}

/// `value` as Go's `json.Marshal` would write it.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(1024);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    value.serialize(&mut ser)?;
    Ok(out)
}

/// `value` as Go's `json.NewEncoder(w).Encode` writes it: `to_vec` plus a newline, the
/// body Alertmanager's webhook posts.
pub fn to_vec_line<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = to_vec(value)?;
    out.push(b'\n');
    Ok(out)
}

/// A time as Go's `time.Time.MarshalJSON` writes a UTC time (`time.RFC3339Nano`):
/// `2023-02-01T10:00:00.5Z`, fraction trimmed of trailing zeros and left out when zero.
pub fn format_time(ts: Timestamp) -> String {
    let dt = TimeZone::UTC.to_datetime(ts);
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    let nanos = dt.subsec_nanosecond();
    if nanos != 0 {
        let digits = format!("{nanos:09}");
        s.push('.');
        s.push_str(digits.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// serde helpers for `Timestamp` fields written the Go way.
pub mod time {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer, de};

    /// Writes the time as Go does.
    pub fn serialize<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_time(*ts))
    }

    /// Reads an RFC 3339 time with any offset.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        s.parse::<Timestamp>()
            .map_err(|e| de::Error::custom(format!("time {s:?}: {e}")))
    }
}

/// serde helpers for an optional time where Go's zero time stands for "not set", as
/// `endsAt` of a firing alert.
pub mod zero_time {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer, de};

    /// `None` is Go's zero time.
    pub fn serialize<S: Serializer>(ts: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match ts {
            Some(ts) => s.serialize_str(&super::format_time(*ts)),
            None => s.serialize_str(super::GO_ZERO_TIME),
        }
    }

    /// Go's zero time (in any offset), an empty string or null read as `None`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        let Some(s) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        if s.is_empty() {
            return Ok(None);
        }
        let ts = s
            .parse::<Timestamp>()
            .map_err(|e| de::Error::custom(format!("time {s:?}: {e}")))?;
        // Go's zero is year 1; nothing real is that old, so any offset of it counts.
        if ts.as_second() < -62_000_000_000 {
            return Ok(None);
        }
        Ok(Some(ts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_go() {
        let s = "a&b<c>d\u{2028}e\u{2029}f\u{8}g\u{c}h\ni\"j\\k\u{1}";
        let out = to_vec(s).expect("serializes");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            r#""a\u0026b\u003cc\u003ed\u2028e\u2029f\u0008g\u000ch\ni\"j\\k\u0001""#
        );
    }

    #[test]
    fn times_as_go_rfc3339nano() {
        let t = |s: &str| s.parse::<Timestamp>().expect("time");
        assert_eq!(
            format_time(t("2023-02-01T10:00:00Z")),
            "2023-02-01T10:00:00Z"
        );
        assert_eq!(
            format_time(t("2023-02-01T10:00:00.500Z")),
            "2023-02-01T10:00:00.5Z"
        );
        assert_eq!(
            format_time(t("2023-02-01T18:00:00.123456789+08:00")),
            "2023-02-01T10:00:00.123456789Z"
        );
        assert_eq!(format_time(t(GO_ZERO_TIME)), GO_ZERO_TIME);
    }
}
