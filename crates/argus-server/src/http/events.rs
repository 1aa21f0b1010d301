//! `/api/argus/events`: `POST` queues typed JSON documents (alarms, matched log lines,
//! script output) by type; `GET` finds stored ones by type, host and time.

use super::body::read_body;
use super::error::{ApiError, counted, joined};
use crate::ingest::events::{by_type, parse_events};
use crate::query::params::parse_time;
use crate::state::AppState;
use crate::store::events::{DAY_MS, EventQuery};
use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};

pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let r: Result<StatusCode, ApiError> = async {
        let bytes = read_body(&headers, body, state.max_body_bytes).await?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| ApiError::BadRequest("body is not UTF-8".into()))?;
        let events = parse_events(text, argus_core::now_ms())?;
        let n = events.len() as u64;
        state.pipeline.publish_events(by_type(events)?).await?;
        state.telemetry.events(n);
        Ok(StatusCode::NO_CONTENT)
    }
    .await;
    counted(&state, r)
}

pub async fn get(
    State(state): State<AppState>,
    Query(q): Query<EventQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let now = argus_core::now_ms();
    let time = |v: &Option<String>, default: i64, name: &str| match v.as_deref() {
        None | Some("") => Ok(default),
        Some(s) => {
            parse_time(s).map_err(|e| ApiError::BadRequest(format!("parameter {name:?}: {e}")))
        }
    };
    let start = time(&q.start, now - DAY_MS, "start")?;
    let end = time(&q.end, now, "end")?;
    if end < start {
        return Err(ApiError::BadRequest(
            "parameter \"end\": before \"start\"".into(),
        ));
    }
    let limit = q.limit.unwrap_or(1000).min(100_000);
    let store = state.events.clone();
    let found = tokio::task::spawn_blocking(move || store.find(&q, start, end, limit))
        .await
        .map_err(joined)?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(
        serde_json::json!({ "status": "success", "data": found }),
    ))
}
