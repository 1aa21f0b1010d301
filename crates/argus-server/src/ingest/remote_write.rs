//! Prometheus remote write: `POST /api/v1/write`, a snappy-compressed protobuf
//! `WriteRequest` (remote write 1.0), as Prometheus, Grafana Agent, vmagent and Telegraf
//! send it. Every series is checked by the ingest rules; the first one breaking a rule
//! fails the request with 400 naming it (`timeseries[i]`), nothing of the body is stored.
//! A namespace token's `ns` is set on every series (a series naming another `ns`: 403).

use super::validate::Violation;
use crate::api::AppState;
use crate::auth::Access;
use crate::error::ApiError;
use argus_core::TimeSeries;
use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

pub async fn write(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let result = ingest(&state, &access, &headers, body).await;
    if let Err(e) = &result {
        state.telemetry.rejected(e.reject_reason());
    }
    result
}

fn invalid(at: String, v: Violation) -> ApiError {
    ApiError::Invalid {
        at,
        reason: v.reason,
        message: v.message,
    }
}

async fn ingest(
    state: &AppState,
    access: &Access,
    headers: &HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    // Snappy is the protocol's own framing, not an HTTP content coding: read the body raw.
    let raw = axum::body::to_bytes(body, state.max_body_bytes)
        .await
        .map_err(|_| ApiError::TooLarge {
            limit: state.max_body_bytes,
        })?;
    if let Some(ct) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        && !ct.starts_with("application/x-protobuf")
    {
        return Err(ApiError::BadRequest(format!(
            "Content-Type {ct:?}: remote write sends application/x-protobuf"
        )));
    }
    let len = raw.len() as u64;
    let req = argus_core::remote_write::decode(&raw).map_err(|e| ApiError::Invalid {
        at: "body".into(),
        reason: "bad_protobuf",
        message: e.to_string(),
    })?;
    let now = argus_core::now_ms();
    let mut series = argus_core::remote_write::to_series(req);
    prepare(state, access, &mut series, now)?;
    let samples: u64 = series.iter().map(|s| s.samples.len() as u64).sum();
    let n = series.len() as u64;
    super::store(state, access.ns.as_deref(), series).await?;
    state.telemetry.ingested(n, samples, len, 0);
    Ok(StatusCode::NO_CONTENT)
}

/// Sets the namespace and checks every series; the first broken rule is the error.
pub fn prepare(
    state: &AppState,
    access: &Access,
    series: &mut [TimeSeries],
    now: i64,
) -> Result<(), ApiError> {
    for (i, s) in series.iter_mut().enumerate() {
        if let Some(own) = &access.ns {
            if let Some(other) = s.labels.get("ns")
                && other != own.as_ref()
            {
                return Err(ApiError::Forbidden(format!(
                    "timeseries[{i}]: token {:?} belongs to namespace {own:?} and cannot write into {other:?}",
                    access.name
                )));
            }
            s.labels.set("ns", own);
        }
        state
            .rules
            .check_series(s, now)
            .map_err(|v| invalid(format!("timeseries[{i}]"), v))?;
    }
    Ok(())
}
