//! Hosts: `POST /api/argus/heartbeat` queues an agent's heartbeat, `GET /api/argus/hosts`
//! lists the registry, and `/api/argus/agent/config` serves (GET) and stores (PUT) the
//! agents' configurations.

use super::error::{ApiError, counted};
use crate::pipeline::apply::heartbeat_host;
use crate::state::AppState;
use crate::store::tokens::Access;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

pub async fn heartbeat(
    State(state): State<AppState>,
    Json(body): Json<serde_json::Value>,
) -> Result<StatusCode, ApiError> {
    if heartbeat_host(&body).is_none() {
        return Err(ApiError::BadRequest(
            "field \"facts.hostname\" is required".into(),
        ));
    }
    let r = state.pipeline.publish_heartbeat(body).await;
    counted(&state, r.map_err(ApiError::from))?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let hosts = state
        .hosts
        .list()
        .await
        .map_err(|e| ApiError::Internal(format!("host registry: {e}")))?;
    Ok(Json(
        serde_json::json!({ "status": "success", "data": hosts }),
    ))
}

#[derive(Deserialize)]
pub struct HostParam {
    #[serde(default)]
    host: String,
}

/// `GET /api/argus/agent/config?host=`: the host's agent configuration (TOML), 304 when
/// the agent's `If-None-Match` is current, 404 when there is none.
pub async fn get_config(
    State(state): State<AppState>,
    Query(q): Query<HostParam>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let served = state.agent_configs.get(&q.host)?.ok_or_else(|| {
        ApiError::NotFound(format!("no agent configuration for host {:?}", q.host))
    })?;
    if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(served.etag.as_str()) {
        return Ok((StatusCode::NOT_MODIFIED, [("etag", served.etag)]).into_response());
    }
    Ok((
        [
            ("etag", served.etag),
            ("content-type", "application/toml".to_string()),
        ],
        served.text,
    )
        .into_response())
}

/// `PUT /api/argus/agent/config?host=` (no host: the default for every agent): stores a
/// TOML agent configuration; it must parse as TOML (the agent checks the keys when it
/// applies it, and keeps its running configuration if they are wrong).
pub async fn put_config(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Query(q): Query<HostParam>,
    body: String,
) -> Result<StatusCode, ApiError> {
    access.require_admin()?;
    state.agent_configs.put(&q.host, &body)?;
    Ok(StatusCode::NO_CONTENT)
}
