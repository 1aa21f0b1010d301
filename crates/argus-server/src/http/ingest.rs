//! The write endpoints: Influx line protocol (`POST /write` v1, `POST /api/v2/write` v2),
//! Prometheus remote write (`POST /api/v1/write`) and OpenTSDB (`POST /api/put`).
//!
//! Each reads its body, has the ingest domain check it whole ([`crate::ingest`]), and
//! publishes it to the pipeline; it answers 204 once the queue holds it. A body is
//! accepted or refused whole: the first bad line, series or data point fails the request
//! with 400 naming it, and nothing from that body is queued, so a client can fix and
//! resend without creating duplicates. Every refusal is counted by reason.

use super::body::read_body;
use super::error::{ApiError, counted, joined};
use crate::ingest::lines::{CheckedLines, Owner, check_line_length, check_utf8};
use crate::ingest::{opentsdb, remote_write, valid_namespace};
use crate::state::AppState;
use crate::store::tokens::Access;
use argus_core::line_protocol::Precision;
use axum::Extension;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};

/// Which Influx API flavour a request came in on: it names the namespace parameter.
#[derive(Clone, Copy)]
enum Flavour {
    V1,
    V2,
}

impl Flavour {
    /// The query parameter that becomes the `ns` label.
    fn ns_param(self) -> &'static str {
        match self {
            Flavour::V1 => "db",
            Flavour::V2 => "bucket",
        }
    }
}

/// `POST /write` (`V2 = false`: the namespace is `db`) and `POST /api/v2/write` (`V2 =
/// true`: the namespace is `bucket`).
pub async fn write<const V2: bool>(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let flavour = if V2 { Flavour::V2 } else { Flavour::V1 };
    let r = write_lines(&state, &access, query.as_deref(), &headers, body, flavour).await;
    counted(&state, r)
}

async fn write_lines(
    state: &AppState,
    access: &Access,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
    flavour: Flavour,
) -> Result<StatusCode, ApiError> {
    let mut precision = Precision::Nanoseconds;
    let mut ns = None;
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if k == "precision" {
            precision = v.parse().map_err(|e| {
                ApiError::BadRequest(format!("invalid query parameter \"precision\": {e}"))
            })?;
        } else if k == flavour.ns_param() {
            ns = Some(v.into_owned());
        }
    }
    let ns = access.write_ns(ns.as_deref())?;
    if let Some(n) = &ns
        && !valid_namespace(n)
    {
        return Err(ApiError::Invalid {
            at: format!("parameter {}", flavour.ns_param()),
            reason: "invalid_namespace",
            message: format!("namespace {n:?} is not 1 to 128 of [A-Za-z0-9_.-]"),
        });
    }
    let bytes = read_body(headers, body, state.max_body_bytes).await?;
    check_line_length(&state.rules, &bytes)?;
    check_utf8(&bytes)?;
    let now = argus_core::now_ms();
    let len = bytes.len() as u64;
    // Checked here, whole; queued as text and walked again when applied.
    let (rules, has_ns) = (state.rules.clone(), ns.is_some());
    // A credential limited to namespaces owns the one the write goes into: lines naming
    // another in their `ns` tag are refused.
    let owner_ns = ns.clone().filter(|_| access.namespaces.is_some());
    let token = access.name.clone();
    let (bytes, counts) = tokio::task::spawn_blocking(move || {
        let text = std::str::from_utf8(&bytes).unwrap_or_default();
        let owner = owner_ns.as_deref().map(|own| Owner {
            token: &token,
            ns: own,
        });
        CheckedLines::new(&rules, text, precision, has_ns, now)
            .owned_by(owner)
            .count()
            .map(|c| (bytes, c))
    })
    .await
    .map_err(joined)??;
    let text = std::str::from_utf8(&bytes).unwrap_or_default();
    state
        .pipeline
        .publish_lines(ns.as_deref(), precision, now, text)
        .await?;
    state
        .telemetry
        .ingested(counts.lines, counts.samples, len, counts.strings);
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/write`.
pub async fn remote_write(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let r = async {
        // Snappy is the protocol's own framing, not an HTTP content coding: read it raw.
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
        let mut series = remote_write::decode(&raw)?;
        remote_write::prepare(&state.rules, &access, &mut series, argus_core::now_ms())?;
        publish_series(&state, &access, &series, raw.len()).await
    }
    .await;
    counted(&state, r)
}

/// `POST /api/put`.
pub async fn opentsdb_put(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let r = async {
        let bytes = read_body(&headers, body, state.max_body_bytes).await?;
        let mut series = opentsdb::parse(&bytes)?;
        remote_write::prepare(&state.rules, &access, &mut series, argus_core::now_ms())
            .map_err(opentsdb::renamed)?;
        publish_series(&state, &access, &series, bytes.len()).await
    }
    .await;
    counted(&state, r)
}

/// Publishes checked series to the pipeline, in the token's namespace, and counts them
/// with the `body_bytes` they came in.
async fn publish_series(
    state: &AppState,
    access: &Access,
    series: &[argus_core::TimeSeries],
    body_bytes: usize,
) -> Result<StatusCode, ApiError> {
    state
        .pipeline
        .publish_samples(access.single_ns(), series)
        .await?;
    let samples: u64 = series.iter().map(|s| s.samples.len() as u64).sum();
    let n = series.len() as u64;
    state.telemetry.ingested(n, samples, body_bytes as u64, 0);
    Ok(StatusCode::NO_CONTENT)
}
