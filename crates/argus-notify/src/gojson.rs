//! JSON and time text exactly as Go's `encoding/json` and `time` write them.
//!
//! Receivers of Alertmanager's webhook sometimes verify or hash the body, so the bytes
//! matter: Go escapes `<`, `>`, `&`, U+2028 and U+2029, writes other control characters
//! as `\u00XX` (only `\n`, `\r`, `\t` get short forms in the Go 1.19 that built
//! Alertmanager 0.25), and prints times in RFC 3339 with nanoseconds and no trailing
//! zeros. The zero `time.Time` is `0001-01-01T00:00:00Z`.

use std::fmt::Write as _;

use jiff::{Timestamp, tz::TimeZone};

/// Go's zero time as JSON text (an unset `endsAt`).
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Appends `s` as a JSON string the way Go's `json.Marshal` does (HTML-safe).
pub use argus_core::gojson::write_string;

/// Appends a string-to-string map as a JSON object with keys sorted, as Go marshals
/// `map[string]string`.
pub fn write_map<'a>(out: &mut String, pairs: impl IntoIterator<Item = (&'a String, &'a String)>) {
    let mut pairs: Vec<_> = pairs.into_iter().collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, k);
        out.push(':');
        write_string(out, v);
    }
    out.push('}');
}

fn write_time(out: &mut String, ts: Timestamp, max_frac_digits: usize, trim: bool) {
    let dt = TimeZone::UTC.to_datetime(ts);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    let nanos = dt.subsec_nanosecond();
    let digits = format!("{nanos:09}");
    let mut frac = &digits[..max_frac_digits];
    if trim {
        frac = frac.trim_end_matches('0');
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out.push('Z');
}

/// `time.RFC3339Nano` in UTC: `2023-02-01T10:00:00.123Z`, trailing fraction zeros
/// dropped. `None` is Go's zero time.
pub fn rfc3339_nano(ts: Option<Timestamp>) -> String {
    let mut s = String::new();
    match ts {
        Some(ts) => write_time(&mut s, ts, 9, true),
        None => s.push_str(GO_ZERO_TIME),
    }
    s
}

/// go-openapi's `strfmt.DateTime` text (the v2 API's times): always three fraction
/// digits, `2023-02-01T10:00:00.000Z`.
pub fn rfc3339_millis(ts: Timestamp) -> String {
    let mut s = String::new();
    write_time(&mut s, ts, 3, false);
    s
}

/// Parses an RFC 3339 time as Go does; Go's zero time (year 1) reads as `None`, the way
/// Alertmanager treats a zero `startsAt`/`endsAt` as unset.
pub fn parse_time(s: &str) -> Result<Option<Timestamp>, jiff::Error> {
    let ts: Timestamp = s.parse()?;
    Ok(if is_go_zero(ts) { None } else { Some(ts) })
}

/// Whether `ts` is at or before Go's zero time, `0001-01-01T00:00:00Z`.
pub fn is_go_zero(ts: Timestamp) -> bool {
    ts.as_second() <= GO_ZERO_UNIX
}

/// Unix seconds of `0001-01-01T00:00:00Z`.
const GO_ZERO_UNIX: i64 = -62_135_596_800;

/// Serde helpers for `Option<Timestamp>` fields written as RFC 3339 text where `None`
/// is Go's zero time.
pub mod opt_time {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `None` as `0001-01-01T00:00:00Z`.
    pub fn serialize<S: Serializer>(v: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339_nano(*v))
    }

    /// Reads an RFC 3339 string, `null`, or a missing field; the zero time is `None`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        match s {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => parse_time(&s)
                .map_err(|e| serde::de::Error::custom(format!("invalid time {s:?}: {e}"))),
        }
    }
}

/// Serde helpers for `Timestamp` fields in the v2 API's millisecond form.
pub mod millis_time {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `2023-02-01T10:00:00.000Z`.
    pub fn serialize<S: Serializer>(v: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339_millis(*v))
    }

    /// Reads any RFC 3339 time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e| serde::de::Error::custom(format!("invalid time {s:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn strings_escape_like_go() {
        let mut s = String::new();
        write_string(&mut s, "a<b>&\"\\\n\u{1}\u{8}é\u{2028}");
        assert_eq!(s, r#""a\u003cb\u003e\u0026\"\\\n\u0001\u0008é\u2028""#);
    }

    #[test]
    fn maps_are_key_sorted() {
        let m = crate::labels::label_set([("b", "2"), ("a", "1")]);
        let mut s = String::new();
        write_map(&mut s, &m);
        assert_eq!(s, r#"{"a":"1","b":"2"}"#);
    }

    #[test]
    fn times_like_go() {
        assert_eq!(
            rfc3339_nano(Some(ts("2023-02-01T10:00:00Z"))),
            "2023-02-01T10:00:00Z"
        );
        assert_eq!(
            rfc3339_nano(Some(ts("2023-02-01T10:00:00.120Z"))),
            "2023-02-01T10:00:00.12Z"
        );
        assert_eq!(
            rfc3339_nano(Some(ts("2023-02-01T18:00:00.000000001+08:00"))),
            "2023-02-01T10:00:00.000000001Z"
        );
        assert_eq!(rfc3339_nano(None), "0001-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_millis(ts("2023-02-01T10:00:00Z")),
            "2023-02-01T10:00:00.000Z"
        );
        assert_eq!(parse_time("0001-01-01T00:00:00Z").ok(), Some(None));
        assert_eq!(
            parse_time("2023-02-01T10:00:00.5Z").ok(),
            Some(Some(ts("2023-02-01T10:00:00.5Z")))
        );
    }
}
