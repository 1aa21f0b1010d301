//! The Influx line protocol: parser, writer and the mapping to Argus series.
//!
//! A **line** is `measurement[,tag=value...] field=value[,field=value...] [timestamp]`.
//! Argus maps each numeric field to one sample of the series named
//! `<measurement>_<field>` whose labels are the line's tags.

use std::borrow::Cow;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    #[default]
    Nanoseconds,
    Microseconds,
    Milliseconds,
    Seconds,
}
