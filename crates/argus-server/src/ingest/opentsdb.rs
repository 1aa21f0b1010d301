//! OpenTSDB (`POST /api/put`): one data point `{metric, timestamp, value, tags}` or an
//! array of them, as collectd's write_tsdb, scollector and OpenTSDB clients send it.
//!
//! The metric name becomes the series name with characters PromQL cannot spell (`.`, `-`,
//! `/`) turned into `_` (`sys.cpu.user` → `sys_cpu_user`); tag keys the same way. The
//! timestamp is in seconds, or milliseconds when it has more than 10 digits, as OpenTSDB
//! reads it. The value is a number or a string holding one. A body is stored whole or not
//! at all: the first bad data point refuses it, naming it (`[i].field`).

use super::Refused;
use argus_core::{Labels, METRIC_NAME, Sample, TimeSeries};
use serde_json::Value;

fn bad(at: String, message: impl Into<String>) -> Refused {
    Refused::Invalid {
        at,
        reason: "bad_data_point",
        message: message.into(),
    }
}

/// `name` with every character outside `[a-zA-Z0-9_:]` (`[a-zA-Z0-9_]` for a label) as `_`.
fn sanitize(name: &str, colon: bool) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// One data point as a series.
pub fn point(i: usize, v: &Value) -> Result<TimeSeries, Refused> {
    let Value::Object(o) = v else {
        return Err(bad(format!("[{i}]"), "a data point is a JSON object"));
    };
    let metric = match o.get("metric") {
        Some(Value::String(m)) if !m.is_empty() => sanitize(m, true),
        _ => {
            return Err(bad(
                format!("[{i}].metric"),
                "missing or not a non-empty string",
            ));
        }
    };
    let ts = match o.get("timestamp") {
        Some(Value::Number(n)) => n.as_i64().filter(|t| *t > 0),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok().filter(|t| *t > 0),
        _ => None,
    }
    .ok_or_else(|| {
        bad(
            format!("[{i}].timestamp"),
            "missing or not a positive integer",
        )
    })?;
    // OpenTSDB: up to 10 digits are seconds, 13 are milliseconds.
    let ts_ms = if ts < 10_000_000_000 { ts * 1000 } else { ts };
    let value = match o.get("value") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .ok_or_else(|| bad(format!("[{i}].value"), "missing or not a number"))?;
    let mut pairs = vec![(METRIC_NAME.to_string(), metric)];
    match o.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Object(tags)) => {
            for (k, v) in tags {
                let Value::String(v) = v else {
                    return Err(bad(format!("[{i}].tags.{k}"), "a tag value is a string"));
                };
                pairs.push((sanitize(k, false), v.clone()));
            }
        }
        Some(_) => return Err(bad(format!("[{i}].tags"), "tags is a JSON object")),
    }
    Ok(TimeSeries {
        labels: Labels::from_pairs(pairs),
        samples: vec![Sample { ts: ts_ms, value }],
    })
}

/// The series of a body: one object or an array of them.
pub fn parse(body: &[u8]) -> Result<Vec<TimeSeries>, Refused> {
    let v: Value = serde_json::from_slice(body).map_err(|e| Refused::Invalid {
        at: format!("line {}, column {}", e.line(), e.column()),
        reason: "bad_json",
        message: e.to_string(),
    })?;
    match &v {
        Value::Array(points) => points
            .iter()
            .enumerate()
            .map(|(i, p)| point(i, p))
            .collect(),
        one => Ok(vec![point(0, one)?]),
    }
}

/// The name of a data point for a series checked by [`super::remote_write::prepare`]:
/// `timeseries[i]` becomes `[i]`, as OpenTSDB users count them.
pub fn renamed(e: Refused) -> Refused {
    match e {
        Refused::Invalid {
            at,
            reason,
            message,
        } => Refused::Invalid {
            at: at.replace("timeseries", ""),
            reason,
            message,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_array_forms_become_series() {
        let one = parse(br#"{"metric":"sys.cpu.user","timestamp":1700000000,"value":42.5,"tags":{"host":"web01","cpu-id":"0"}}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].labels.metric_name(), Some("sys_cpu_user"));
        assert_eq!(one[0].labels.get("host"), Some("web01"));
        assert_eq!(one[0].labels.get("cpu_id"), Some("0"));
        assert_eq!(
            one[0].samples,
            vec![Sample {
                ts: 1_700_000_000_000,
                value: 42.5
            }]
        );
        let many = parse(br#"[{"metric":"a","timestamp":1700000000123,"value":"7"},{"metric":"b","timestamp":"1700000001","value":1}]"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            many[0].samples[0],
            Sample {
                ts: 1_700_000_000_123,
                value: 7.0
            }
        );
        assert_eq!(many[1].samples[0].ts, 1_700_000_001_000);
    }

    #[test]
    fn a_bad_point_is_named_with_its_field() {
        let at = |body: &[u8]| match parse(body) {
            Err(Refused::Invalid { at, .. }) => at,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            at(br#"[{"metric":"a","timestamp":1,"value":1},{"metric":"b","value":1}]"#),
            "[1].timestamp"
        );
        assert_eq!(
            at(br#"{"metric":"a","timestamp":1,"value":"x"}"#),
            "[0].value"
        );
        assert_eq!(at(br#"{"timestamp":1,"value":1}"#), "[0].metric");
        assert_eq!(
            at(br#"{"metric":"a","timestamp":1,"value":1,"tags":{"h":1}}"#),
            "[0].tags.h"
        );
        assert_eq!(at(b"{oops"), "line 1, column 2");
    }
}
