//! Reading a script's standard output: JSON documents (events or metrics) and Influx line
//! protocol. Nagios plugin output, which needs the exit status and state across runs, is in
//! [`super::nagios`].
//!
//! A script may **declare** its format with a comment `argus-format: <json|line|nagios>` in
//! one of its first five lines; otherwise the format is **detected**: JSON if the output
//! starts with a JSON document, line protocol if its first line parses as line protocol,
//! Nagios if the exit status is 0–3 and the first line says OK, WARNING, CRITICAL or
//! UNKNOWN. Whatever the format, the good parts of the output are used and the bad parts
//! are reported with their position.

use std::io::Read;
use std::path::Path;

use argus_core::Event;
use argus_core::line_protocol::{self, Line, Precision};
use serde_json::{Map, Value};

/// Seconds in the window (either side of now) in which a metric's `timestamp` is believed.
const TIMESTAMP_WINDOW_SECS: f64 = 365.0 * 24.0 * 3600.0;

/// How many problems an error message lists before it says "and N more".
const MAX_LISTED: usize = 3;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Line,
    Nagios,
}

impl Format {
    fn from_name(name: &str) -> Option<Format> {
        match name {
            "json" => Some(Format::Json),
            "line" | "influx" | "line-protocol" => Some(Format::Line),
            "nagios" => Some(Format::Nagios),
            _ => None,
        }
    }
}

/// The format a script declares with `argus-format: <name>` in one of its first five lines,
/// if any; an error names a declaration of an unknown format.
pub(crate) fn declared_format(script: &Path) -> Result<Option<Format>, String> {
    let mut head = Vec::new();
    let read = std::fs::File::open(script).and_then(|f| f.take(4096).read_to_end(&mut head));
    if read.is_err() {
        // A binary may be execute-only; it then has no declaration.
        return Ok(None);
    }
    declaration_in(&String::from_utf8_lossy(&head))
}

fn declaration_in(head: &str) -> Result<Option<Format>, String> {
    const MARK: &str = "argus-format:";
    for (i, line) in head.lines().take(5).enumerate() {
        let Some(at) = line.find(MARK) else { continue };
        let name = line[at + MARK.len()..]
            .split_whitespace()
            .next()
            .unwrap_or("");
        return match Format::from_name(name) {
            Some(f) => Ok(Some(f)),
            None => Err(format!(
                "line {} declares unknown argus-format {name:?} (expected json, line or nagios)",
                i + 1
            )),
        };
    }
    Ok(None)
}

/// What a script's output turned into.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub points: Vec<Line<'static>>,
    pub events: Vec<Event>,
    /// What was wrong with the rest of the output, each with its position.
    pub errors: Vec<String>,
}

impl Parsed {
    /// The errors as one message: the first few, and how many more.
    pub fn error_summary(&self) -> Option<String> {
        summarize(&self.errors)
    }
}

pub(crate) fn summarize(errors: &[String]) -> Option<String> {
    let first = errors.first()?;
    let mut msg = first.clone();
    for e in errors.iter().skip(1).take(MAX_LISTED - 1) {
        msg.push_str("; ");
        msg.push_str(e);
    }
    if errors.len() > MAX_LISTED {
        msg.push_str(&format!(" (and {} more)", errors.len() - MAX_LISTED));
    }
    Some(msg)
}

/// Whether `text` starts with a complete JSON document, which is how JSON is detected.
pub(crate) fn starts_with_json(text: &str) -> bool {
    let t = text.trim_start();
    (t.starts_with('{') || t.starts_with('['))
        && serde_json::Deserializer::from_str(t)
            .into_iter::<Value>()
            .next()
            .is_some_and(|first| first.is_ok())
}

/// Whether the first line of `text` is valid line protocol, which is how line protocol is
/// detected; the error otherwise (`None` when there is no line at all).
pub(crate) fn first_line_protocol_error(text: &str) -> Option<Result<(), String>> {
    line_protocol::parse(text)
        .next()
        .map(|first| first.map(|_| ()).map_err(|e| e.to_string()))
}

/// Reads JSON output: one or more documents (one per line, or concatenated), each an object
/// or an array of objects. An object with a string `type` is an event; one with a `name` (or
/// `metric`) and a `value` is a sample of `plugin_<script>_<name>`.
pub(crate) fn parse_json(text: &str, script: &str, now_ms: i64, out: &mut Parsed) {
    let measurement = format!("plugin_{script}");
    let mut item = 0;
    let mut add = |value: Value, out: &mut Parsed| {
        item += 1;
        let Value::Object(obj) = value else {
            out.errors.push(format!(
                "JSON item {item}: expected an object, found {}",
                kind_of(&value)
            ));
            return;
        };
        let result = if obj.contains_key("type") {
            event(obj, now_ms).map(|e| out.events.push(e))
        } else if obj.contains_key("name") || obj.contains_key("metric") {
            metric(&obj, &measurement, now_ms).map(|p| out.points.push(p))
        } else {
            Err(
                "has neither a string \"type\" (an event) nor a \"name\" and \"value\" \
                 (a metric)"
                    .to_string(),
            )
        };
        if let Err(e) = result {
            out.errors.push(format!("JSON item {item}: {e}"));
        }
    };
    for doc in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        match doc {
            Ok(Value::Array(items)) => items.into_iter().for_each(|v| add(v, out)),
            Ok(other) => add(other, out),
            Err(e) => {
                // Past a syntax error the stream cannot be resynchronised.
                out.errors.push(format!("invalid JSON: {e}"));
                break;
            }
        }
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An event document: `type` is its kind, `ts` (seconds or milliseconds) its time, `host`
/// the host it is about; every other field is payload.
fn event(mut obj: Map<String, Value>, now_ms: i64) -> Result<Event, String> {
    let kind = match obj.remove("type") {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(other) => {
            return Err(format!(
                "\"type\" must be a non-empty string, found {}",
                kind_of(&other)
            ));
        }
        None => return Err("has no \"type\"".to_string()),
    };
    let ts = match obj.remove("ts") {
        Some(Value::Number(n)) => n.as_f64().map_or(now_ms, |t| event_ts_ms(t, now_ms)),
        _ => now_ms,
    };
    // `host` and `ts` are fields of the event itself: left in the payload they would be
    // written twice.
    let host = match obj.remove("host") {
        Some(Value::String(h)) => h,
        _ => String::new(),
    };
    Ok(Event {
        kind,
        host,
        ts,
        payload: obj,
    })
}

/// An event's `ts`: below 10^11 it is seconds (10^11 s is the year 5138), else
/// milliseconds; 0 or less means now.
pub(crate) fn event_ts_ms(ts: f64, now_ms: i64) -> i64 {
    if !ts.is_finite() || ts <= 0.0 {
        now_ms
    } else if ts < 1e11 {
        (ts * 1000.0).round() as i64
    } else {
        ts.round() as i64
    }
}

/// A metric document, the format of Open-Falcon and of the seeds' agents:
/// `{"name": .., "value": .., "timestamp": .., "tags": {..}}`.
fn metric(
    obj: &Map<String, Value>,
    measurement: &str,
    now_ms: i64,
) -> Result<Line<'static>, String> {
    let name = match obj.get("name").or_else(|| obj.get("metric")) {
        Some(Value::String(s)) if !s.is_empty() => s,
        _ => return Err("\"name\" must be a non-empty string".to_string()),
    };
    let value = match obj.get("value") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
        Some(Value::Bool(b)) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    };
    let Some(value) = value else {
        return Err(format!("metric {name:?}: \"value\" must be a number"));
    };
    let ts = match obj.get("timestamp") {
        Some(Value::Number(n)) => n.as_f64().map_or(now_ms, |t| metric_ts_ms(t, now_ms)),
        _ => now_ms,
    };
    let mut line = Line::new(measurement.to_string());
    match obj.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Object(tags)) => {
            for (k, v) in tags {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Null => continue,
                    other => {
                        return Err(format!(
                            "metric {name:?}: tag {k:?} must be a string, found {}",
                            kind_of(other)
                        ));
                    }
                };
                line = line.tag(k.clone(), v);
            }
        }
        // Open-Falcon writes tags as "k=v,k2=v2".
        Some(Value::String(s)) => {
            for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let Some((k, v)) = pair.split_once('=') else {
                    return Err(format!(
                        "metric {name:?}: tag {pair:?} in \"tags\" is not key=value"
                    ));
                };
                line = line.tag(k.trim().to_string(), v.trim().to_string());
            }
        }
        Some(other) => {
            return Err(format!(
                "metric {name:?}: \"tags\" must be an object, found {}",
                kind_of(other)
            ));
        }
    }
    Ok(line.float(sanitize(name), value).timestamp(ts))
}

/// A metric's `timestamp`: seconds within a year of now; anything else (0, milliseconds,
/// nonsense) means now.
pub(crate) fn metric_ts_ms(ts: f64, now_ms: i64) -> i64 {
    let now_s = now_ms as f64 / 1000.0;
    if ts.is_finite() && (ts - now_s).abs() <= TIMESTAMP_WINDOW_SECS {
        (ts * 1000.0).round() as i64
    } else {
        now_ms
    }
}

/// Reads line protocol; each timestamp's unit is told by its size (see [`lp_ts_ms`]).
pub(crate) fn parse_line_protocol(text: &str, now_ms: i64, out: &mut Parsed) {
    for line in line_protocol::parse(text) {
        match line {
            Ok(line) => {
                let mut line = line.into_owned();
                line.timestamp = Some(line.timestamp.map_or(now_ms, lp_ts_ms));
                out.points.push(line);
            }
            Err(e) => out.errors.push(format!("line protocol {e}")),
        }
    }
}

/// A line protocol timestamp in milliseconds, its unit told by its size: below 10^11
/// seconds, 10^14 milliseconds, 10^17 microseconds, else nanoseconds. (Now is about
/// 1.7·10^9 s.)
pub(crate) fn lp_ts_ms(ts: i64) -> i64 {
    let precision = match ts.unsigned_abs() {
        a if a < 100_000_000_000 => Precision::Seconds,
        a if a < 100_000_000_000_000 => Precision::Milliseconds,
        a if a < 100_000_000_000_000_000 => Precision::Microseconds,
        _ => Precision::Nanoseconds,
    };
    precision.to_millis(ts)
}

/// `s` with every character outside `[a-zA-Z0-9_]` replaced by `_`.
pub(crate) fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::line_protocol::FieldValue;

    const NOW_MS: i64 = 1_700_000_000_000;

    #[test]
    fn declarations_are_found_in_the_first_five_lines_only() {
        assert_eq!(
            declaration_in("#!/bin/sh\n# argus-format: nagios\necho OK\n"),
            Ok(Some(Format::Nagios))
        );
        assert_eq!(
            declaration_in("#!/usr/bin/env node\n// argus-format: line\n"),
            Ok(Some(Format::Line))
        );
        assert_eq!(declaration_in("#!/bin/sh\necho hi\n"), Ok(None));
        assert_eq!(
            declaration_in("1\n2\n3\n4\n5\n# argus-format: json\n"),
            Ok(None)
        );
        let err = declaration_in("#!/bin/sh\n# argus-format: yaml\n").expect_err("unknown");
        assert!(err.contains("line 2") && err.contains("\"yaml\""), "{err}");
    }

    #[test]
    fn event_timestamps_are_seconds_below_1e11_else_milliseconds() {
        assert_eq!(event_ts_ms(1_700_000_000.0, NOW_MS), 1_700_000_000_000);
        assert_eq!(event_ts_ms(1_700_000_000.25, NOW_MS), 1_700_000_000_250);
        assert_eq!(event_ts_ms(1_700_000_000_123.0, NOW_MS), 1_700_000_000_123);
        assert_eq!(event_ts_ms(0.0, NOW_MS), NOW_MS);
        assert_eq!(event_ts_ms(-5.0, NOW_MS), NOW_MS);
    }

    #[test]
    fn metric_timestamps_outside_a_year_of_now_mean_now() {
        let now_s = (NOW_MS / 1000) as f64;
        assert_eq!(metric_ts_ms(now_s - 60.0, NOW_MS), NOW_MS - 60_000);
        assert_eq!(
            metric_ts_ms(now_s + 300.0 * 86400.0, NOW_MS),
            NOW_MS + 300 * 86_400_000
        );
        assert_eq!(metric_ts_ms(0.0, NOW_MS), NOW_MS);
        assert_eq!(metric_ts_ms(NOW_MS as f64, NOW_MS), NOW_MS, "milliseconds");
        assert_eq!(metric_ts_ms(now_s - 400.0 * 86400.0, NOW_MS), NOW_MS);
        assert_eq!(metric_ts_ms(f64::NAN, NOW_MS), NOW_MS);
    }

    #[test]
    fn line_protocol_precision_is_told_by_magnitude() {
        assert_eq!(lp_ts_ms(1_700_000_000), 1_700_000_000_000);
        assert_eq!(lp_ts_ms(1_700_000_000_123), 1_700_000_000_123);
        assert_eq!(lp_ts_ms(1_700_000_000_123_456), 1_700_000_000_123);
        assert_eq!(lp_ts_ms(1_700_000_000_123_456_789), 1_700_000_000_123);
    }

    #[test]
    fn json_metrics_accept_the_seed_and_open_falcon_shapes() {
        let text = r#"[
            {"name": "disk.used", "timestamp": 1699999990, "tags": {"mount": "/", "n": 1}, "value": 12.5},
            {"metric": "load", "timestamp": 0, "tags": "a=1, b=2", "value": "0.75"},
            {"name": "bad", "value": "x"}
        ]"#;
        let mut out = Parsed::default();
        parse_json(text, "check_disk", NOW_MS, &mut out);
        assert_eq!(out.points.len(), 2);
        let p = &out.points[0];
        assert_eq!(p.measurement, "plugin_check_disk");
        assert_eq!(p.fields[0].0, "disk_used");
        assert_eq!(p.fields[0].1, FieldValue::Float(12.5));
        assert_eq!(p.timestamp, Some(1_699_999_990_000));
        let tags: Vec<(&str, &str)> = p
            .tags
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect();
        assert_eq!(tags, vec![("mount", "/"), ("n", "1")]);
        let p = &out.points[1];
        assert_eq!(p.fields[0], ("load".into(), FieldValue::Float(0.75)));
        assert_eq!(p.timestamp, Some(NOW_MS));
        assert_eq!(p.tags.len(), 2);
        assert_eq!(
            out.errors,
            vec!["JSON item 3: metric \"bad\": \"value\" must be a number"]
        );
    }

    #[test]
    fn json_events_keep_their_fields_as_payload() {
        let text = "{\"type\":\"demo\",\"key1\":\"v1\",\"ts\":1700000001}\n{\"type\":\"demo\",\"host\":\"db1\"}\n";
        let mut out = Parsed::default();
        parse_json(text, "demo", NOW_MS, &mut out);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(out.events.len(), 2);
        assert_eq!(out.events[0].kind, "demo");
        assert_eq!(out.events[0].ts, 1_700_000_001_000);
        assert_eq!(out.events[0].payload.get("key1"), Some(&Value::from("v1")));
        assert!(!out.events[0].payload.contains_key("ts"));
        assert_eq!(out.events[1].host, "db1");
        assert_eq!(out.events[1].ts, NOW_MS);
    }

    #[test]
    fn json_errors_say_where() {
        let mut out = Parsed::default();
        parse_json("{\"type\": \"x\"}\n{\"type\": }", "s", NOW_MS, &mut out);
        assert_eq!(out.events.len(), 1);
        assert_eq!(out.errors.len(), 1);
        assert!(
            out.errors[0].contains("line 2 column 10"),
            "{:?}",
            out.errors
        );

        let mut out = Parsed::default();
        parse_json("{\"foo\": 1}", "s", NOW_MS, &mut out);
        assert!(
            out.errors[0].contains("neither a string \"type\""),
            "{:?}",
            out.errors
        );
        let mut out = Parsed::default();
        parse_json("[1, {\"type\": 5}]", "s", NOW_MS, &mut out);
        assert_eq!(
            out.errors,
            vec![
                "JSON item 1: expected an object, found a number",
                "JSON item 2: \"type\" must be a non-empty string, found a number",
            ]
        );
    }

    #[test]
    fn sanitize_keeps_only_name_characters() {
        assert_eq!(sanitize("check-disk.v2"), "check_disk_v2");
        assert_eq!(sanitize("ok_1"), "ok_1");
    }
}
