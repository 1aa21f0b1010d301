//! Events over HTTP: `POST /api/argus/events` stores typed JSON documents (alarms, matched
//! log lines, script output) and `GET /api/argus/events` finds them by type, host and time.
//!
//! The store is a directory of JSON-lines files, one per UTC day
//! (`<data_dir>/events/YYYY-MM-DD.jsonl`); a write is fsynced before it is acknowledged. A
//! query reads only the days its range covers. With the ingest pipeline (every `argus`
//! server), `POST` queues the events by type and the event handler appends them here
//! (`crate::pipeline`); without one (unit tests), `POST` appends directly.

use crate::api::AppState;
use crate::error::ApiError;
use crate::ingest::body::read_body;
use argus_core::Event;
use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const DAY_MS: i64 = 86_400_000;

/// The event files and the lock that serializes appends.
pub struct EventStore {
    dir: PathBuf,
    write: Mutex<()>,
}

/// The civil date of a day number since the epoch (Howard Hinnant's algorithm): the file
/// names need only this, not a date library.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

impl EventStore {
    pub fn open(dir: &Path) -> std::io::Result<EventStore> {
        std::fs::create_dir_all(dir)?;
        Ok(EventStore {
            dir: dir.to_path_buf(),
            write: Mutex::new(()),
        })
    }

    fn day_file(&self, day: i64) -> PathBuf {
        let (y, m, d) = civil(day);
        self.dir.join(format!("{y:04}-{m:02}-{d:02}.jsonl"))
    }

    /// Appends events durably.
    pub fn append(&self, events: &[Event]) -> std::io::Result<()> {
        let _g = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let mut by_day: std::collections::BTreeMap<i64, String> = Default::default();
        for e in events {
            let line = serde_json::to_string(e).map_err(std::io::Error::other)?;
            let s = by_day.entry(e.ts.div_euclid(DAY_MS)).or_default();
            s.push_str(&line);
            s.push('\n');
        }
        for (day, text) in by_day {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.day_file(day))?;
            f.write_all(text.as_bytes())?;
            f.sync_data()?;
        }
        Ok(())
    }

    /// Events in `[start, end]` matching the filters, oldest first, at most `limit`.
    pub fn find(
        &self,
        q: &EventQuery,
        start: i64,
        end: i64,
        limit: usize,
    ) -> std::io::Result<Vec<Event>> {
        let mut out = Vec::new();
        let (first, last) = (start.div_euclid(DAY_MS), end.div_euclid(DAY_MS));
        // Bound the scan to the days that have files.
        let mut days: Vec<i64> = Vec::new();
        for d in first..=last.min(first + 3660) {
            if self.day_file(d).exists() {
                days.push(d);
            }
        }
        for d in days {
            let f = std::fs::File::open(self.day_file(d))?;
            for line in std::io::BufReader::new(f).lines() {
                let line = line?;
                let Ok(e) = serde_json::from_str::<Event>(&line) else {
                    continue;
                };
                if e.ts < start || e.ts > end {
                    continue;
                }
                if q.r#type.as_deref().is_some_and(|t| t != e.kind)
                    || q.host.as_deref().is_some_and(|h| h != e.host)
                {
                    continue;
                }
                out.push(e);
            }
        }
        out.sort_by_key(|e| e.ts);
        if out.len() > limit {
            out.drain(..out.len() - limit);
        }
        Ok(out)
    }
}

/// Parses a body of JSON lines or one JSON array into events; `ts` may be seconds or ms,
/// and defaults to now. Errors name the line and the problem.
pub fn parse_events(text: &str, now_ms: i64) -> Result<Vec<Event>, ApiError> {
    let trimmed = text.trim_start();
    let docs: Vec<(usize, serde_json::Value)> = if trimmed.starts_with('[') {
        let v: Vec<serde_json::Value> =
            serde_json::from_str(text).map_err(|e| ApiError::BadLine {
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
                serde_json::from_str(line).map_err(|e| ApiError::BadLine {
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
        let bad = |m: &str| ApiError::BadLine {
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

pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    if let Some(p) = state.pipeline.clone() {
        let r = publish(&state, &p, headers, body).await;
        if let Err(e) = &r {
            state.telemetry.rejected(e.reject_reason());
        }
        return r;
    }
    let Some(store) = state.events.clone() else {
        return Err(ApiError::NotFound("this server keeps no events".into()));
    };
    let bytes = read_body(&headers, body, state.max_body_bytes).await?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::BadRequest("body is not UTF-8".into()))?;
    let events = parse_events(text, argus_core::now_ms())?;
    let n = events.len() as u64;
    tokio::task::spawn_blocking(move || store.append(&events))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(format!("cannot store events: {e}")))?;
    state.telemetry.events(n);
    Ok(StatusCode::NO_CONTENT)
}

/// With the pipeline: the events grouped by type, each group published to its type's topic.
/// Not atomic across types: when a later group fails, the earlier ones are queued already
/// and a retry of the body queues them again (at least once).
async fn publish(
    state: &AppState,
    pipeline: &crate::pipeline::Pipeline,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let bytes = read_body(&headers, body, state.max_body_bytes).await?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::BadRequest("body is not UTF-8".into()))?;
    let events = parse_events(text, argus_core::now_ms())?;
    let n = events.len() as u64;
    let mut by_type: std::collections::BTreeMap<String, Vec<Event>> = Default::default();
    for (i, e) in events.into_iter().enumerate() {
        if !argus_queue::valid_name(&e.kind) {
            return Err(ApiError::Invalid {
                at: format!("event[{i}].type"),
                reason: "invalid_event_type",
                message: format!("type {:?} is not 1 to 64 of [a-z0-9_-]", e.kind),
            });
        }
        by_type.entry(e.kind.clone()).or_default().push(e);
    }
    for (kind, events) in by_type {
        let entry = crate::pipeline::codec::Entry::Events { ns: None, events };
        pipeline.publish(&kind, &entry).await?;
    }
    state.telemetry.events(n);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
pub struct EventQuery {
    pub r#type: Option<String>,
    pub host: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub limit: Option<usize>,
}

pub async fn get(
    State(state): State<AppState>,
    Query(q): Query<EventQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Some(store) = state.events.clone() else {
        return Err(ApiError::NotFound("this server keeps no events".into()));
    };
    let now = argus_core::now_ms();
    let time = |v: &Option<String>, default: i64, name: &str| match v.as_deref() {
        None | Some("") => Ok(default),
        Some(s) => crate::query::params::parse_time(s)
            .map_err(|e| ApiError::BadRequest(format!("parameter {name:?}: {e}"))),
    };
    let start = time(&q.start, now - DAY_MS, "start")?;
    let end = time(&q.end, now, "end")?;
    if end < start {
        return Err(ApiError::BadRequest(
            "parameter \"end\": before \"start\"".into(),
        ));
    }
    let limit = q.limit.unwrap_or(1000).min(100_000);
    let found = tokio::task::spawn_blocking(move || store.find(&q, start, end, limit))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(
        serde_json::json!({ "status": "success", "data": found }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_files_are_named_by_utc_date() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_683), (2023, 11, 22));
        assert_eq!(civil(-1), (1969, 12, 31));
    }

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
    fn stored_events_are_found_by_type_host_and_time() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = EventStore::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let evs = parse_events(
            "{\"type\":\"alarm\",\"host\":\"a\",\"ts\":1700000001000}\n{\"type\":\"log\",\"host\":\"a\",\"ts\":1700000002000}\n{\"type\":\"alarm\",\"host\":\"b\",\"ts\":1700086401000}",
            0,
        )
        .unwrap_or_default();
        s.append(&evs).unwrap_or_else(|e| panic!("{e}"));
        let q = EventQuery {
            r#type: Some("alarm".into()),
            ..Default::default()
        };
        let base = 1_700_000_000_000;
        let got = s.find(&q, base, base + 2 * DAY_MS, 10).unwrap_or_default();
        assert_eq!(
            got.iter().map(|e| e.host.as_str()).collect::<Vec<_>>(),
            vec!["a", "b"]
        );
        let q = EventQuery {
            host: Some("a".into()),
            ..Default::default()
        };
        assert_eq!(
            s.find(&q, base + 1500, base + 3000, 10)
                .unwrap_or_default()
                .len(),
            1
        );
    }
}
