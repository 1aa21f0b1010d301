//! Reading a script's standard output: JSON documents (events or metrics) and Influx line
//! protocol here; the other formats each have a module: [`super::nagios`] (which needs the
//! exit status and state across runs), [`super::tcollector`], [`super::collectd`] and
//! [`super::zabbix`].
//!
//! A script may **declare** its format with a comment `argus-format: <name>` in one of its
//! first five lines, and a Zabbix item key with `argus-key: <key>` (which implies
//! `argus-format: zabbix`); otherwise the format is **detected** (see [`super::input`]).
//! Whatever the format, the good parts of the output are used and the bad parts are
//! reported with their position.
//!
//! **Timestamps** end up in milliseconds, the engine's precision. A timestamp of 0, or none,
//! is the start of the round; each format's docs say how its unit is told.

use std::io::Read;
use std::path::Path;

use argus_core::Event;
use argus_core::line_protocol::{self, Line, Precision};
use serde_json::{Map, Value};

use super::item_key::Key;

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
    Tcollector,
    Collectd,
    Zabbix,
}

/// The names `argus-format:` accepts, for error messages.
const FORMAT_NAMES: &str = "json, line, nagios, tcollector, collectd or zabbix";

impl Format {
    /// The name `argus-format:` takes.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Line => "line",
            Format::Nagios => "nagios",
            Format::Tcollector => "tcollector",
            Format::Collectd => "collectd",
            Format::Zabbix => "zabbix",
        }
    }

    fn from_name(name: &str) -> Option<Format> {
        match name {
            "json" => Some(Format::Json),
            "line" | "influx" | "line-protocol" => Some(Format::Line),
            "nagios" => Some(Format::Nagios),
            "tcollector" | "opentsdb" => Some(Format::Tcollector),
            "collectd" | "collectd-exec" => Some(Format::Collectd),
            "zabbix" => Some(Format::Zabbix),
            _ => None,
        }
    }
}

/// What a script declares in comments in its first five lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Declared {
    /// `argus-format: <name>`; `argus-key:` alone means Zabbix.
    pub format: Option<Format>,
    /// `argus-key: <Zabbix item key>`.
    pub key: Option<Key>,
}

/// What a script declares with `argus-format: <name>` and `argus-key: <key>` in its first
/// five lines; an error names a declaration that cannot be used.
pub(crate) fn declared(script: &Path) -> Result<Declared, String> {
    let mut head = Vec::new();
    let read = std::fs::File::open(script).and_then(|f| f.take(4096).read_to_end(&mut head));
    if read.is_err() {
        // A binary may be execute-only; it then has no declaration.
        return Ok(Declared::default());
    }
    declarations_in(&String::from_utf8_lossy(&head))
}

/// The text after `mark` in the first of the first five lines that has it, and that
/// line's number.
fn comment_value<'a>(head: &'a str, mark: &str) -> Option<(usize, &'a str)> {
    head.lines().take(5).enumerate().find_map(|(i, line)| {
        let at = line.find(mark)?;
        Some((i + 1, line[at + mark.len()..].trim()))
    })
}

pub(crate) fn declarations_in(head: &str) -> Result<Declared, String> {
    let mut declared = Declared::default();
    if let Some((line, value)) = comment_value(head, "argus-format:") {
        let name = value.split_whitespace().next().unwrap_or("");
        declared.format = Some(Format::from_name(name).ok_or_else(|| {
            format!("line {line} declares unknown argus-format {name:?} (expected {FORMAT_NAMES})")
        })?);
    }
    if let Some((line, value)) = comment_value(head, "argus-key:") {
        // A key may hold spaces inside quoted parameters, but a comment may end in a
        // closing marker (`*/`, `-->`): the key ends at its last `]`, or at a space.
        let text = match (value.find('['), value.rfind(']')) {
            (Some(open), Some(close)) if open < close => &value[..=close],
            _ => value.split_whitespace().next().unwrap_or(""),
        };
        let key = super::item_key::parse_key(text)
            .map_err(|e| format!("line {line}: argus-key {text:?}: {e}"))?;
        match declared.format {
            None | Some(Format::Zabbix) => declared.format = Some(Format::Zabbix),
            Some(other) => {
                return Err(format!(
                    "line {line}: argus-key is for Zabbix output, but the script declares \
                     argus-format {}",
                    other.name()
                ));
            }
        }
        declared.key = Some(key);
    }
    Ok(declared)
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
    let naming = Naming::Prefixed(format!("plugin_{script}"));
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
            metric(&obj, &naming, now_ms).map(|p| out.points.push(p))
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

/// How a metric document's `name` becomes a series name.
enum Naming {
    /// `<measurement>_<name>`: a script's `plugin_<script>_<name>`.
    Prefixed(String),
    /// The name as written (see [`named_point`]): what is pushed to the agent's `/post`.
    AsWritten,
}

/// Reads the body of a `POST /post` in JSON: a list of metric documents (or one), whose
/// names are kept as written ([`named_point`]) and timestamps read as a script's are
/// ([`metric_ts_ms`]). All or nothing: the first bad item is the error, naming it.
pub(crate) fn metric_list(body: &str, now_ms: i64) -> Result<Vec<Line<'static>>, String> {
    let doc: Value = serde_json::from_str(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let items = match doc {
        Value::Array(items) => items,
        Value::Object(obj) => vec![Value::Object(obj)],
        other => {
            return Err(format!(
                "expected a list of metrics, found {}",
                kind_of(&other)
            ));
        }
    };
    let mut points = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let at = format!("item {}", i + 1);
        let Value::Object(obj) = item else {
            return Err(format!(
                "{at}: expected an object, found {}",
                kind_of(&item)
            ));
        };
        if obj.contains_key("type") && !obj.contains_key("name") && !obj.contains_key("metric") {
            return Err(format!(
                "{at}: has a \"type\": events are not accepted here, only metrics \
                 {{name, value, timestamp, tags}}"
            ));
        }
        points.push(metric(&obj, &Naming::AsWritten, now_ms).map_err(|e| format!("{at}: {e}"))?);
    }
    Ok(points)
}

/// A metric document, the format of Open-Falcon and of the seeds' agents:
/// `{"name": .., "value": .., "timestamp": .., "tags": {..}}`.
fn metric(obj: &Map<String, Value>, naming: &Naming, now_ms: i64) -> Result<Line<'static>, String> {
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
    let mut tags = Vec::new();
    match obj.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Object(given)) => {
            for (k, v) in given {
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
                tags.push((k.clone(), v));
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
                tags.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        Some(other) => {
            return Err(format!(
                "metric {name:?}: \"tags\" must be an object, found {}",
                kind_of(other)
            ));
        }
    }
    let line = match naming {
        Naming::Prefixed(measurement) => {
            Line::new(measurement.clone()).float(sanitize(name), value)
        }
        Naming::AsWritten => named_point(name, value),
    };
    let line = tags.into_iter().fold(line, |line, (k, v)| line.tag(k, v));
    Ok(line.timestamp(ts))
}

/// A point whose series is named `name` as written, with the characters outside
/// `[a-zA-Z0-9_]` replaced by `_` (`sys.cpu.user` is `sys_cpu_user`). A series name is
/// `<measurement>_<field>`, so the name is split at its first inner `_` as the
/// `prometheus` input splits scraped names; a name with none gets the field `value`
/// (`uptime` is `uptime_value`).
pub(crate) fn named_point(name: &str, value: f64) -> Line<'static> {
    let name = sanitize(name);
    let (measurement, field) = crate::inputs::prometheus::split_name(&name);
    Line::new(measurement.to_string()).float(field.to_string(), value)
}

/// A timestamp in seconds (fractions allowed) in milliseconds; 0 or less means now.
pub(crate) fn seconds_ts_ms(secs: f64, now_ms: i64) -> i64 {
    if secs.is_finite() && secs > 0.0 {
        (secs * 1000.0).round() as i64
    } else {
        now_ms
    }
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

/// Reads line protocol; each timestamp's unit is told by its size (see [`lp_ts_ms`]), and
/// a timestamp of 0, or none, is now.
pub(crate) fn parse_line_protocol(text: &str, now_ms: i64, out: &mut Parsed) {
    for line in line_protocol::parse(text) {
        match line {
            Ok(line) => {
                let mut line = line.into_owned();
                line.timestamp = Some(match line.timestamp {
                    None | Some(0) => now_ms,
                    Some(ts) => lp_ts_ms(ts),
                });
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
pub(crate) mod tests {
    use super::*;
    use argus_core::line_protocol::{FieldValue, line_to_series};

    pub(crate) const NOW_MS: i64 = 1_700_000_500_000;

    /// Points as the server stores them, one string per sample:
    /// `name{label="value",...} value @ts`, labels sorted, `@now` for [`NOW_MS`]. The form
    /// data-driven tests write their expectations in.
    pub(crate) fn rendered(points: &[Line<'static>]) -> Vec<String> {
        let mut series = Vec::new();
        for p in points {
            line_to_series(p, Precision::Milliseconds, NOW_MS, &[], &mut series);
        }
        series
            .iter()
            .map(|s| {
                let name = s.labels.get("__name__").unwrap_or_default();
                let labels: Vec<String> = s
                    .labels
                    .iter()
                    .filter(|l| l.name != "__name__")
                    .map(|l| format!("{}={:?}", l.name, l.value.to_string()))
                    .collect();
                let labels = if labels.is_empty() {
                    String::new()
                } else {
                    format!("{{{}}}", labels.join(","))
                };
                let sample = &s.samples[0];
                let ts = if sample.ts == NOW_MS {
                    "now".to_string()
                } else {
                    sample.ts.to_string()
                };
                format!("{name}{labels} {} @{ts}", sample.value)
            })
            .collect()
    }

    fn declared(format: Option<Format>, key: Option<&str>) -> Declared {
        Declared {
            format,
            key: key.map(|k| super::super::item_key::parse_key(k).expect("key")),
        }
    }

    #[test]
    fn declarations_are_found_in_the_first_five_lines_only() {
        assert_eq!(
            declarations_in("#!/bin/sh\n# argus-format: nagios\necho OK\n"),
            Ok(declared(Some(Format::Nagios), None))
        );
        assert_eq!(
            declarations_in("#!/usr/bin/env node\n// argus-format: line\n"),
            Ok(declared(Some(Format::Line), None))
        );
        assert_eq!(
            declarations_in("#!/bin/sh\n# argus-format: opentsdb\n"),
            Ok(declared(Some(Format::Tcollector), None))
        );
        assert_eq!(
            declarations_in("#!/bin/sh\n# argus-format: collectd\n"),
            Ok(declared(Some(Format::Collectd), None))
        );
        assert_eq!(
            declarations_in("#!/bin/sh\necho hi\n"),
            Ok(Declared::default())
        );
        assert_eq!(
            declarations_in("1\n2\n3\n4\n5\n# argus-format: json\n"),
            Ok(Declared::default())
        );
        let err = declarations_in("#!/bin/sh\n# argus-format: yaml\n").expect_err("unknown");
        assert!(err.contains("line 2") && err.contains("\"yaml\""), "{err}");
        assert!(err.contains("tcollector, collectd or zabbix"), "{err}");
    }

    #[test]
    fn a_key_declares_zabbix_and_ends_at_its_last_bracket() {
        assert_eq!(
            declarations_in("#!/bin/sh\n# argus-key: mysql.ping\n"),
            Ok(declared(Some(Format::Zabbix), Some("mysql.ping")))
        );
        assert_eq!(
            declarations_in("/* argus-format: zabbix */\n/* argus-key: a.b[\"x y\",2] */\n"),
            Ok(declared(Some(Format::Zabbix), Some("a.b[\"x y\",2]")))
        );
        let err = declarations_in("# argus-format: json\n# argus-key: a.b\n").expect_err("json");
        assert!(
            err.contains("line 2: argus-key is for Zabbix output"),
            "{err}"
        );
        assert!(err.contains("argus-format json"), "{err}");
        let err = declarations_in("#!/bin/sh\n# argus-key: a.b[x\n").expect_err("bracket");
        assert!(err.starts_with("line 2: argus-key \"a.b[x\": "), "{err}");
    }

    #[test]
    fn post_bodies_keep_names_and_refuse_whole() {
        let points = metric_list(
            r#"[{"name": "cpu.idle", "value": 97, "timestamp": 1699999990, "tags": {"core": "0"}},
                {"metric": "uptime", "value": "12", "timestamp": 0}]"#,
            NOW_MS,
        )
        .expect("good");
        assert_eq!(
            rendered(&points),
            [
                "cpu_idle{core=\"0\"} 97 @1699999990000",
                "uptime_value 12 @now"
            ]
        );
        let one = metric_list(r#"{"name": "a_b", "value": true}"#, NOW_MS).expect("one");
        assert_eq!(rendered(&one), ["a_b 1 @now"]);
        for (body, want) in [
            ("[1]", "item 1: expected an object, found a number"),
            (
                r#"[{"name": "a", "value": 1}, {"name": "b"}]"#,
                "item 2: metric \"b\": \"value\" must be a number",
            ),
            (
                r#"[{"type": "deploy"}]"#,
                "item 1: has a \"type\": events are not accepted here",
            ),
            ("\"x\"", "expected a list of metrics, found a string"),
            (
                "[{",
                "invalid JSON: EOF while parsing an object at line 1 column 2",
            ),
        ] {
            let err = metric_list(body, NOW_MS).expect_err(body);
            assert!(err.starts_with(want), "{body}: {err}");
        }
    }

    #[test]
    fn zero_and_absent_line_protocol_timestamps_are_now() {
        let mut out = Parsed::default();
        parse_line_protocol("a v=1 0\na v=2\na v=3 1700000001\n", NOW_MS, &mut out);
        assert_eq!(
            rendered(&out.points),
            ["a_v 1 @now", "a_v 2 @now", "a_v 3 @1700000001000"]
        );
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
