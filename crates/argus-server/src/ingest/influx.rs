//! Influx line protocol ingest: `POST /write` (v1) and `POST /api/v2/write` (v2).
//!
//! A body is accepted or rejected whole: the first bad line fails the request with 400
//! naming it, and nothing from that body is stored, so a client can fix and resend without
//! creating duplicates. `db` (v1) or `bucket` (v2) becomes the `ns` label.

use super::body::read_body;
use crate::api::AppState;
use crate::error::ApiError;
use argus_core::TimeSeries;
use argus_core::line_protocol::{Precision, line_to_series, parse};
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
    let text = std::str::from_utf8(&bytes).map_err(|e| {
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
    let extra: Vec<(&str, &str)> = ns.as_deref().map(|n| ("ns", n)).into_iter().collect();
    let mut series: Vec<TimeSeries> = Vec::new();
    let (mut lines, mut strings) = (0u64, 0u64);
    for parsed in parse(text) {
        let line = parsed.map_err(|e| ApiError::BadLine {
            line: e.line,
            column: e.column,
            message: e.to_string(),
        })?;
        lines += 1;
        strings += line_to_series(&line, precision, now, &extra, &mut series) as u64;
    }
    let samples = series.iter().map(|s| s.samples.len() as u64).sum();
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.append(series))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    state
        .telemetry
        .ingested(lines, samples, bytes.len() as u64, strings);
    Ok(StatusCode::NO_CONTENT)
}
