//! Influx line protocol ingest: `POST /write` (v1) and `POST /api/v2/write` (v2).
//!
//! A body is accepted or rejected whole: the first bad line fails the request with 400
//! naming it, and nothing from that body is stored, so a client can fix and resend without
//! creating duplicates. `db` (v1) or `bucket` (v2) becomes the `ns` label.

use super::body::read_body;
use crate::api::AppState;
use crate::error::ApiError;
use argus_core::TimeSeries;
use argus_core::line_protocol::{Line, Precision, line_to_series, parse};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};

/// Which API flavour a request came in on: it decides the namespace parameter's name.
#[derive(Clone, Copy)]
enum Flavour {
    V1,
    V2,
}

pub async fn write_v1(
    state: State<AppState>,
    query: RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    write(state, query, headers, body, Flavour::V1).await
}

pub async fn write_v2(
    state: State<AppState>,
    query: RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    write(state, query, headers, body, Flavour::V2).await
}

async fn write(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
    flavour: Flavour,
) -> Result<StatusCode, ApiError> {
    let result = ingest(&state, query.as_deref(), &headers, body, flavour).await;
    if let Err(e) = &result {
        state.telemetry.rejected(match e {
            ApiError::BadLine { .. } => "bad_line",
            ApiError::TooLarge { .. } => "too_large",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Storage(argus_core::StorageError::Limit(_)) => "limit",
            _ => "internal",
        });
    }
    result
}

async fn ingest(
    state: &AppState,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
    flavour: Flavour,
) -> Result<StatusCode, ApiError> {
    let mut precision = Precision::Nanoseconds;
    let mut ns = None;
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match (k.as_ref(), flavour) {
            ("precision", _) => {
                precision = v.parse().map_err(|e| {
                    ApiError::BadRequest(format!("invalid query parameter \"precision\": {e}"))
                })?
            }
            ("db", Flavour::V1) | ("bucket", Flavour::V2) => ns = Some(v.into_owned()),
            _ => {}
        }
    }
    let bytes = read_body(headers, body, state.max_body_bytes).await?;
    std::str::from_utf8(&bytes).map_err(|e| {
        let at = e.valid_up_to();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = bytes[..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        ApiError::BadLine {
            line,
            column: at - line_start + 1,
            message: format!("line {line}, column {}: invalid UTF-8", at - line_start + 1),
        }
    })?;

    let now = argus_core::now_ms();
    let len = bytes.len() as u64;
    let st = state.clone();
    let counts = tokio::task::spawn_blocking(move || {
        // `bytes` was checked to be UTF-8 above.
        let text = std::str::from_utf8(&bytes).unwrap_or_default();
        match &st.tsdb {
            Some(db) => store_tsdb(db, text, precision, ns.as_deref(), now),
            None => store_generic(st.store.as_ref(), text, precision, ns.as_deref(), now),
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    state
        .telemetry
        .ingested(counts.lines, counts.samples, len, counts.strings);
    Ok(StatusCode::NO_CONTENT)
}

/// What a body held.
struct Counts {
    lines: u64,
    samples: u64,
    strings: u64,
}

fn bad_line(e: argus_core::line_protocol::ParseError) -> ApiError {
    ApiError::BadLine {
        line: e.line,
        column: e.column,
        message: e.to_string(),
    }
}

/// Any store: build every series' labels, then append.
fn store_generic(
    store: &dyn argus_core::Storage,
    text: &str,
    precision: Precision,
    ns: Option<&str>,
    now: i64,
) -> Result<Counts, ApiError> {
    let extra: Vec<(&str, &str)> = ns.map(|n| ("ns", n)).into_iter().collect();
    let mut series: Vec<TimeSeries> = Vec::new();
    let (mut lines, mut strings) = (0u64, 0u64);
    for parsed in parse(text) {
        let line = parsed.map_err(bad_line)?;
        lines += 1;
        strings += line_to_series(&line, precision, now, &extra, &mut series) as u64;
    }
    let samples = series.iter().map(|s| s.samples.len() as u64).sum();
    store.append(series)?;
    Ok(Counts {
        lines,
        samples,
        strings,
    })
}

/// The embedded engine: series are found by the line's raw key (namespace, measurement,
/// tags, field), so labels are built only the first time a series is seen. A bad line
/// anywhere leaves the batch uncommitted: nothing of the body is stored.
fn store_tsdb(
    db: &argus_tsdb::Db,
    text: &str,
    precision: Precision,
    ns: Option<&str>,
    now: i64,
) -> Result<Counts, ApiError> {
    let extra: Vec<(&str, &str)> = ns.map(|n| ("ns", n)).into_iter().collect();
    let mut app = db.appender();
    let (mut lines, mut strings, mut samples) = (0u64, 0u64, 0u64);
    let mut key: Vec<u8> = Vec::with_capacity(256);
    let mut scratch: Vec<TimeSeries> = Vec::new();
    for parsed in parse(text) {
        let line = parsed.map_err(bad_line)?;
        lines += 1;
        let ts = line.timestamp.map_or(now, |t| precision.to_millis(t));
        key.clear();
        key.extend_from_slice(ns.unwrap_or("").as_bytes());
        key.push(0);
        key.extend_from_slice(line.measurement.as_bytes());
        for (k, v) in &line.tags {
            key.push(0);
            key.extend_from_slice(k.as_bytes());
            key.push(b'=');
            key.extend_from_slice(v.as_bytes());
        }
        key.push(0);
        let prefix = key.len();
        for (field, value) in &line.fields {
            let Some(v) = value.as_f64() else {
                strings += 1;
                continue;
            };
            key.truncate(prefix);
            key.extend_from_slice(field.as_bytes());
            let r = app
                .series_keyed(&key, || {
                    // First sight of this series: map this field alone the standard way.
                    let one = Line {
                        measurement: line.measurement.clone(),
                        tags: line.tags.clone(),
                        fields: vec![(field.clone(), value.clone())],
                        timestamp: line.timestamp,
                    };
                    scratch.clear();
                    line_to_series(&one, precision, now, &extra, &mut scratch);
                    scratch.pop().map(|s| s.labels).unwrap_or_default()
                })
                .map_err(|e| ApiError::Storage(e.into()))?;
            app.add(&r, ts, v)
                .map_err(|e| ApiError::Storage(e.into()))?;
            samples += 1;
        }
    }
    app.commit().map_err(|e| ApiError::Storage(e.into()))?;
    Ok(Counts {
        lines,
        samples,
        strings,
    })
}
