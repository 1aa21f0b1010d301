//! The Influx line protocol: parser, writer and the mapping to Argus series.
//!
//! A **line** is `measurement[,tag=value...] field=value[,field=value...] [timestamp]`.
//! Argus maps each numeric or boolean field to one sample of the series named
//! `<measurement>_<field>` whose labels are the line's tags; string fields carry no sample
//! and are counted as skipped. The accepted syntax, the mapping and the error format are
//! written up for users in `docs/line-protocol.md`.
//!
//! - [`parse`] reads a whole request body without copying: names and strings borrow from
//!   the input unless they contain escapes. It yields one `Result` per line and carries on
//!   after a bad line, so a caller can keep the good lines, collect every error or stop at
//!   the first.
//! - [`line_to_series`] turns a parsed [`Line`] into [`TimeSeries`](crate::TimeSeries).
//! - [`write_line`] encodes a [`Line`] (which the agent builds with [`Line::new`]) so that
//!   [`parse`] reads back exactly the same line.
//!
//! ```
//! use argus_core::line_protocol::{parse, line_to_series, Precision};
//!
//! let body = "cpu,host=h1 usage_idle=97.5,usage_user=1.5 1700000000000000000\n";
//! let mut series = Vec::new();
//! for line in parse(body) {
//!     let line = line.expect("valid line protocol");
//!     line_to_series(&line, Precision::Nanoseconds, 0, &[], &mut series);
//! }
//! assert_eq!(series.len(), 2);
//! assert_eq!(series[0].labels.to_string(), r#"cpu_usage_idle{host="h1"}"#);
//! assert_eq!(series[0].samples[0].ts, 1_700_000_000_000);
//! ```

use std::borrow::Cow;

mod parse;
mod series;
mod write;

#[cfg(test)]
mod tests;

pub use parse::{Lines, ParseError, parse};
pub use series::{label_name, line_to_series};
pub use write::write_line;

/// A field's value, as typed on the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    Float(f64),
    /// `123i`
    Int(i64),
    /// `123u`
    UInt(u64),
    /// `t`, `T`, `true`, `True`, `TRUE`, `f`, `F`, `false`, `False`, `FALSE`
    Bool(bool),
    /// `"quoted"`, unescaped.
    Str(Cow<'a, str>),
}

/// One parsed line. Borrowed from the input where no unescaping was needed; a
/// `Line<'static>` (see [`Line::into_owned`]) is an owned point, which the agent builds.
#[derive(Debug, Clone, PartialEq)]
pub struct Line<'a> {
    pub measurement: Cow<'a, str>,
    /// In input order (the mapping to labels sorts them).
    pub tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// In input order; never empty for a parsed line.
    pub fields: Vec<(Cow<'a, str>, FieldValue<'a>)>,
    /// As written, in the request's precision units; `None` means "now".
    pub timestamp: Option<i64>,
}

/// The unit of line timestamps.
///
/// Line protocol text carries no unit: the reader is told it out of band (Influx's
/// `?precision=` query parameter), and [`Precision::from_str`](std::str::FromStr) accepts
/// the same spellings Influx v1 and v2 do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    #[default]
    Nanoseconds,
    Microseconds,
    Milliseconds,
    Seconds,
    /// Influx v1's `m`.
    Minutes,
    /// Influx v1's `h`.
    Hours,
}

impl FieldValue<'_> {
    /// The value as a sample value: floats as they are, integers converted (rounding to the
    /// nearest `f64` beyond 2^53), booleans as 1 and 0; `None` for strings.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            FieldValue::Float(v) => Some(v),
            FieldValue::Int(v) => Some(v as f64),
            FieldValue::UInt(v) => Some(v as f64),
            FieldValue::Bool(v) => Some(if v { 1.0 } else { 0.0 }),
            FieldValue::Str(_) => None,
        }
    }

    /// Copies a borrowed string value so the value outlives the input.
    pub fn into_owned(self) -> FieldValue<'static> {
        match self {
            FieldValue::Float(v) => FieldValue::Float(v),
            FieldValue::Int(v) => FieldValue::Int(v),
            FieldValue::UInt(v) => FieldValue::UInt(v),
            FieldValue::Bool(v) => FieldValue::Bool(v),
            FieldValue::Str(s) => FieldValue::Str(Cow::Owned(s.into_owned())),
        }
    }
}

impl<'a> Line<'a> {
    /// Starts a point with no tags, no fields and no timestamp. With the builder methods
    /// below this is how the agent makes points:
    ///
    /// ```
    /// use argus_core::line_protocol::{Line, Precision, write_line};
    ///
    /// let line = Line::new("disk")
    ///     .tag("path", "/mnt/my disk")
    ///     .int("free", 1024)
    ///     .float("used_percent", 12.5)
    ///     .timestamp(1_700_000_000);
    /// let mut out = String::new();
    /// assert!(write_line(&mut out, &line, Precision::Seconds));
    /// assert_eq!(out, "disk,path=/mnt/my\\ disk free=1024i,used_percent=12.5 1700000000\n");
    /// ```
    pub fn new(measurement: impl Into<Cow<'a, str>>) -> Self {
        Line {
            measurement: measurement.into(),
            tags: Vec::new(),
            fields: Vec::new(),
            timestamp: None,
        }
    }

    /// Adds a tag.
    pub fn tag(mut self, key: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Adds a field of any type.
    pub fn field(mut self, key: impl Into<Cow<'a, str>>, value: FieldValue<'a>) -> Self {
        self.fields.push((key.into(), value));
        self
    }

    /// Adds a float field.
    pub fn float(self, key: impl Into<Cow<'a, str>>, value: f64) -> Self {
        self.field(key, FieldValue::Float(value))
    }

    /// Adds a signed integer field (`123i`).
    pub fn int(self, key: impl Into<Cow<'a, str>>, value: i64) -> Self {
        self.field(key, FieldValue::Int(value))
    }

    /// Adds an unsigned integer field (`123u`).
    pub fn uint(self, key: impl Into<Cow<'a, str>>, value: u64) -> Self {
        self.field(key, FieldValue::UInt(value))
    }

    /// Adds a boolean field.
    pub fn bool(self, key: impl Into<Cow<'a, str>>, value: bool) -> Self {
        self.field(key, FieldValue::Bool(value))
    }

    /// Adds a string field (which [`line_to_series`] does not turn into a sample).
    pub fn string(self, key: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) -> Self {
        self.field(key, FieldValue::Str(value.into()))
    }

    /// Sets the timestamp, in the units of the [`Precision`] it will be written with.
    pub fn timestamp(mut self, ts: i64) -> Self {
        self.timestamp = Some(ts);
        self
    }

    /// Copies every borrowed part, so the line outlives the input it was parsed from.
    pub fn into_owned(self) -> Line<'static> {
        fn own(s: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(s.into_owned())
        }
        Line {
            measurement: own(self.measurement),
            tags: self
                .tags
                .into_iter()
                .map(|(k, v)| (own(k), own(v)))
                .collect(),
            fields: self
                .fields
                .into_iter()
                .map(|(k, v)| (own(k), v.into_owned()))
                .collect(),
            timestamp: self.timestamp,
        }
    }
}

/// A precision spelling that is none of those Influx accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown precision {0:?}: expected one of n, ns, u, us, µ, µs, ms, s, m, h")]
pub struct ParsePrecisionError(pub String);

impl std::str::FromStr for Precision {
    type Err = ParsePrecisionError;

    /// Accepts Influx's spellings: `n`/`ns`, `u`/`us`/`µ`/`µs` (micro sign or Greek mu),
    /// `ms`, `s`, and v1's `m` (minutes) and `h` (hours). Case matters, as in Influx:
    /// `M` or `MS` are errors rather than guesses.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "n" | "ns" => Precision::Nanoseconds,
            "u" | "us" | "µ" | "µs" | "μ" | "μs" => Precision::Microseconds,
            "ms" => Precision::Milliseconds,
            "s" => Precision::Seconds,
            "m" => Precision::Minutes,
            "h" => Precision::Hours,
            _ => return Err(ParsePrecisionError(s.to_string())),
        })
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Precision {
    /// The canonical spelling: `ns`, `us`, `ms`, `s`, `m` or `h`.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Nanoseconds => "ns",
            Precision::Microseconds => "us",
            Precision::Milliseconds => "ms",
            Precision::Seconds => "s",
            Precision::Minutes => "m",
            Precision::Hours => "h",
        }
    }

    /// Converts a timestamp in this unit to milliseconds since the epoch.
    ///
    /// Sub-millisecond units round toward negative infinity (so `-1` ns is `-1` ms, the
    /// millisecond that contains it); coarser units saturate at the `i64` range instead of
    /// overflowing.
    pub fn to_millis(self, ts: i64) -> i64 {
        match self {
            Precision::Nanoseconds => ts.div_euclid(1_000_000),
            Precision::Microseconds => ts.div_euclid(1_000),
            Precision::Milliseconds => ts,
            Precision::Seconds => ts.saturating_mul(1_000),
            Precision::Minutes => ts.saturating_mul(60_000),
            Precision::Hours => ts.saturating_mul(3_600_000),
        }
    }

    /// Converts milliseconds since the epoch to a timestamp in this unit, the inverse of
    /// [`Precision::to_millis`]: finer units saturate, coarser ones round toward negative
    /// infinity.
    pub fn from_millis(self, ms: i64) -> i64 {
        match self {
            Precision::Nanoseconds => ms.saturating_mul(1_000_000),
            Precision::Microseconds => ms.saturating_mul(1_000),
            Precision::Milliseconds => ms,
            Precision::Seconds => ms.div_euclid(1_000),
            Precision::Minutes => ms.div_euclid(60_000),
            Precision::Hours => ms.div_euclid(3_600_000),
        }
    }
}
