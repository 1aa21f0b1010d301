//! The mapping from a line to Argus series: one series per numeric or boolean field, named
//! `<measurement>_<field>`, labelled with the line's tags.

use super::{Line, Precision};
use crate::model::{Labels, METRIC_NAME, Sample, TimeSeries};
use std::borrow::Cow;

/// Appends one [`TimeSeries`] with one sample to `out` for each numeric or boolean field of
/// `line`, and returns how many string fields it skipped.
///
/// - **Name**: `<measurement>_<field key>`, always, even for a field called `value`.
///   Characters outside `[a-zA-Z0-9_:]` become `_`, and a name starting with a digit gets a
///   `_` in front (PromQL names cannot start with one).
/// - **Labels**: the tags, with names sanitized likewise to `[a-zA-Z0-9_]` and values
///   untouched, plus `extra_labels` (used as given), which win over a tag of the same name:
///   they are what the server itself asserts, such as a tenant's namespace. Of two tags that
///   end up with the same name the later wins, and, as everywhere in Argus, a label with an
///   empty value is no label.
/// - **Value**: floats as they are, integers converted to `f64` (exact up to 2^53), booleans
///   as `1` and `0`. **String fields are skipped**: a sample is a number; the return value
///   lets the caller count them.
/// - **Timestamp**: the line's timestamp converted from `precision` with
///   [`Precision::to_millis`] (rounding sub-millisecond units down), or `default_ts_ms` when
///   the line has none.
/// - When a field key appears twice in a line, the later value wins.
pub fn line_to_series(
    line: &Line<'_>,
    precision: Precision,
    default_ts_ms: i64,
    extra_labels: &[(&str, &str)],
    out: &mut Vec<TimeSeries>,
) -> usize {
    let ts = line
        .timestamp
        .map_or(default_ts_ms, |t| precision.to_millis(t));
    let tags = line
        .tags
        .iter()
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (label_name(k), v.as_ref()));
    let extra = extra_labels.iter().map(|&(k, v)| (Cow::Borrowed(k), v));
    let mut labels = Labels::from_pairs(tags.chain(extra));
    // Every series of the line differs only in its name: set one now so that each clone
    // below overwrites a value in place instead of inserting a label.
    labels.set(METRIC_NAME, "_");

    // `name` keeps the sanitized `<measurement>_` prefix; each field appends its key.
    let mut name = String::with_capacity(line.measurement.len() + 24);
    if line.measurement.starts_with(|c: char| c.is_ascii_digit()) {
        name.push('_');
    }
    push_sanitized(&mut name, &line.measurement, is_metric_name_byte);
    name.push('_');
    let prefix_len = name.len();

    let mut skipped_strings = 0;
    for (i, (key, value)) in line.fields.iter().enumerate() {
        let Some(value) = value.as_f64() else {
            skipped_strings += 1;
            continue;
        };
        if line.fields[i + 1..].iter().any(|(k, _)| k == key) {
            continue;
        }
        name.truncate(prefix_len);
        push_sanitized(&mut name, key, is_metric_name_byte);
        let mut series_labels = labels.clone();
        series_labels.set(METRIC_NAME, &name);
        out.push(TimeSeries {
            labels: series_labels,
            samples: vec![Sample { ts, value }],
        });
    }
    skipped_strings
}

fn is_metric_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

fn is_label_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Appends `s` with each character for which `ok` fails replaced by `_`.
fn push_sanitized(out: &mut String, s: &str, ok: fn(u8) -> bool) {
    if s.bytes().all(ok) {
        out.push_str(s);
    } else {
        out.extend(s.chars().map(|c| match u8::try_from(c) {
            Ok(b) if ok(b) => c,
            _ => '_',
        }));
    }
}

/// A tag key as a label name: `[a-zA-Z0-9_]`, not starting with a digit. Borrows when the
/// key already is one, which is the common case.
pub fn label_name(key: &str) -> Cow<'_, str> {
    let leading_digit = key.starts_with(|c: char| c.is_ascii_digit());
    if !leading_digit && key.bytes().all(is_label_name_byte) {
        return Cow::Borrowed(key);
    }
    let mut out = String::with_capacity(key.len() + 1);
    if leading_digit {
        out.push('_');
    }
    push_sanitized(&mut out, key, is_label_name_byte);
    Cow::Owned(out)
}
