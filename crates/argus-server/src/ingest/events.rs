//! Event bodies (`POST /api/argus/events`): JSON lines, or one JSON array, of typed
//! documents `{type, host, ts, ...}`. A body is refused whole at its first bad event,
//! naming the line and the field.

use super::Refused;
use argus_core::Event;

/// Parses a body of JSON lines or one JSON array into events; `ts` may be seconds or ms,
/// and defaults to now. Errors name the line and the problem.
pub fn parse_events(text: &str, now_ms: i64) -> Result<Vec<Event>, Refused> {
    let trimmed = text.trim_start();
    let docs: Vec<(usize, serde_json::Value)> = if trimmed.starts_with('[') {
        let v: Vec<serde_json::Value> =
            serde_json::from_str(text).map_err(|e| Refused::BadLine {
                line: e.line(),
                column: e.column(),
                message: format!("line {}, column {}: {e}", e.line(), e.column()),
            })?;
        v.into_iter().map(|d| (1, d)).collect()
    } else {
        let mut v = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let d: serde_json::Value =
                serde_json::from_str(line).map_err(|e| Refused::BadLine {
                    line: i + 1,
                    column: e.column(),
                    message: format!("line {}, column {}: {e}", i + 1, e.column()),
                })?;
            v.push((i + 1, d));
        }
        v
    };
    let mut out = Vec::with_capacity(docs.len());
    for (line, mut d) in docs {
        let bad = |m: &str| Refused::BadLine {
            line,
            column: 1,
            message: format!("line {line}: {m}"),
        };
        let obj = d
            .as_object_mut()
            .ok_or_else(|| bad("an event must be a JSON object"))?;
        match obj.get("type") {
            Some(serde_json::Value::String(t)) if !t.is_empty() => {}
            _ => {
                return Err(bad(
                    "field \"type\" is required and must be a non-empty string",
                ));
            }
        }
        let ts = match obj.get("ts") {
            None | Some(serde_json::Value::Null) => now_ms,
            Some(v) => {
                let t = v.as_i64().ok_or_else(|| {
                    bad("field \"ts\" must be an integer (seconds or milliseconds)")
                })?;
                if t.abs() < 100_000_000_000 {
                    t * 1000
                } else {
                    t
                }
            }
        };
        obj.insert("ts".into(), ts.into());
        if !matches!(obj.get("host"), None | Some(serde_json::Value::String(_))) {
            return Err(bad("field \"host\" must be a string"));
        }
        let e: Event = serde_json::from_value(d).map_err(|e| bad(&e.to_string()))?;
        out.push(e);
    }
    Ok(out)
}

/// Events grouped by type, each group bound for its type's queue topic; a type that
/// cannot name a topic is refused naming the event (`event[i].type`).
pub fn by_type(
    events: Vec<Event>,
) -> Result<std::collections::BTreeMap<String, Vec<Event>>, Refused> {
    let mut by_type: std::collections::BTreeMap<String, Vec<Event>> = Default::default();
    for (i, e) in events.into_iter().enumerate() {
        if !argus_queue::valid_name(&e.kind) {
            return Err(Refused::Invalid {
                at: format!("event[{i}].type"),
                reason: "invalid_event_type",
                message: format!("type {:?} is not 1 to 64 of [a-z0-9_-]", e.kind),
            });
        }
        if e.kind == crate::pipeline::ALERTS {
            return Err(Refused::Invalid {
                at: format!("event[{i}].type"),
                reason: "invalid_event_type",
                message: format!("type {:?} is reserved for the notifier's alerts", e.kind),
            });
        }
        by_type.entry(e.kind.clone()).or_default().push(e);
    }
    Ok(by_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_need_a_type_and_errors_name_the_line() {
        let ok = parse_events(
            "{\"type\":\"alarm\",\"ts\":1700000000,\"code\":\"x\"}\n\n{\"type\":\"log\"}",
            5,
        );
        let ok = ok.unwrap_or_default();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].ts, 1_700_000_000_000);
        assert_eq!(ok[1].ts, 5);
        let e = parse_events("{\"type\":\"a\"}\n{\"code\":1}", 0)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("line 2") && e.contains("\"type\""), "{e}");
        let e = parse_events("{\"type\":\"a\"}\nnot json", 0)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn a_type_that_cannot_be_a_topic_is_named() {
        let events =
            parse_events("{\"type\":\"ok\"}\n{\"type\":\"Not OK\"}", 0).unwrap_or_default();
        assert_eq!(
            by_type(events).map(|m| m.len()).map_err(|e| e.to_string()),
            Err("event[1].type: type \"Not OK\" is not 1 to 64 of [a-z0-9_-]".into())
        );
        let events = parse_events("{\"type\":\"argus-alerts\"}", 0).unwrap_or_default();
        assert_eq!(
            by_type(events).map(|m| m.len()).map_err(|e| e.to_string()),
            Err(
                "event[0].type: type \"argus-alerts\" is reserved for the notifier's alerts".into()
            )
        );
    }
}
