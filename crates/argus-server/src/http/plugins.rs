//! Distributed plugins (`docs/api.md`, "Plugins"):
//!
//! - `GET /api/argus/plugins`, `GET/PUT/DELETE /api/argus/plugins/{name}` (PUT: a script, a
//!   tar.gz, or `{"git": {"url", "ref", "path"}}`), `POST /api/argus/plugins/{name}/sync`
//!   (a git plugin's ref again), `GET/PUT /api/argus/plugins/{name}/assignments`;
//! - for agents: `GET /api/argus/agent/plugins?host=&id=` (what this host runs, with an
//!   ETag) and `GET /api/argus/agent/plugins/{name}/{version}` (the archive).

use super::error::ApiError;
use super::users::body as json_body;
use crate::plugins::IntakeError;
use crate::plugins::git::GitError;
use crate::state::AppState;
use crate::store::plugins::{Assignment, PluginFault, Stored, valid_name};
use crate::store::tokens::Access;
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

impl From<PluginFault> for ApiError {
    fn from(e: PluginFault) -> ApiError {
        match e {
            PluginFault::Db(e) => e.into(),
            e @ (PluginFault::NoPlugin(_) | PluginFault::NoVersion(..)) => {
                ApiError::Missing(e.to_string())
            }
            e @ (PluginFault::BadName(_) | PluginFault::Field { .. }) => {
                ApiError::BadRequest(e.to_string())
            }
        }
    }
}

/// A 413 naming the setting, in the body shape of every other error.
fn too_large(limit: usize) -> Response {
    let message =
        format!("the plugin is larger than the limit of {limit} bytes ([plugins] max_bytes)");
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        Json(json!({ "error": message, "code": "request too large", "message": message })),
    )
        .into_response()
}

fn intake_error(e: IntakeError) -> Response {
    match e {
        IntakeError::TooLarge { limit } | IntakeError::Git(GitError::TooLarge { limit }) => {
            too_large(limit)
        }
        IntakeError::Git(e @ GitError::Spawn(_)) => {
            ApiError::Internal(e.to_string()).into_response()
        }
        other => ApiError::BadRequest(other.to_string()).into_response(),
    }
}

fn checked_name(name: &str) -> Result<(), ApiError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(PluginFault::BadName(name.into()).into())
    }
}

/// `GET /api/argus/plugins`.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let l = state.plugins.store.list().await?;
    Ok(Json(json!({ "status": "success", "data": l })))
}

async fn one(state: &AppState, name: &str) -> Result<Value, ApiError> {
    let p = state
        .plugins
        .store
        .get(name)
        .await?
        .ok_or_else(|| PluginFault::NoPlugin(name.into()))?;
    Ok(serde_json::to_value(p).unwrap_or_default())
}

/// `GET /api/argus/plugins/{name}`: the plugin, its versions and assignments.
pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    checked_name(&name)?;
    Ok(Json(
        json!({ "status": "success", "data": one(&state, &name).await? }),
    ))
}

/// The answer to a stored version: 201 when the plugin is new, else 200.
async fn stored(state: &AppState, name: &str, s: Stored) -> Result<Response, ApiError> {
    let status = if s == Stored::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = json!({
        "status": "success",
        "stored": s,
        "changed": s != Stored::Unchanged,
        "data": one(state, name).await?,
    });
    Ok((status, Json(body)).into_response())
}

/// `PUT /api/argus/plugins/{name}`: a new version, from a script, a tar.gz or git.
pub async fn put(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    checked_name(&name)?;
    let limit = state.plugins.config.max_bytes;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return Ok(too_large(limit));
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let new = match state.plugins.intake(content_type, &bytes).await {
        Ok(v) => v,
        Err(e) => return Ok(intake_error(e)),
    };
    let s = state
        .plugins
        .store
        .put(&access.actor(), &name, new, "upload")
        .await?;
    stored(&state, &name, s).await
}

/// `POST /api/argus/plugins/{name}/sync`: exports a git plugin's ref again; a new version
/// when the commit moved.
pub async fn sync(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    checked_name(&name)?;
    let Some(source) = state.plugins.store.git_source(&name).await? else {
        return Err(ApiError::BadRequest(format!(
            "plugin {name:?} was uploaded, not registered from git: upload a new version with PUT"
        )));
    };
    let new = match state.plugins.from_git(source).await {
        Ok(v) => v,
        Err(e) => return Ok(intake_error(e)),
    };
    let s = state
        .plugins
        .store
        .put(&access.actor(), &name, new, "sync")
        .await?;
    stored(&state, &name, s).await
}

/// `DELETE /api/argus/plugins/{name}`: the plugin, its versions and assignments.
pub async fn delete(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    checked_name(&name)?;
    state.plugins.store.delete(&access.actor(), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/argus/plugins/{name}/assignments`.
pub async fn get_assignments(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    checked_name(&name)?;
    let p = one(&state, &name).await?;
    Ok(Json(
        json!({ "status": "success", "data": p["assignments"] }),
    ))
}

/// `PUT /api/argus/plugins/{name}/assignments`: replaces them all with the JSON list.
pub async fn put_assignments(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(name): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    checked_name(&name)?;
    let list: Vec<Assignment> = json_body(&bytes)?;
    let set = state
        .plugins
        .store
        .set_assignments(&access.actor(), &name, list)
        .await?;
    Ok(Json(json!({ "status": "success", "data": set })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentParams {
    #[serde(default)]
    host: String,
    #[serde(default)]
    id: String,
}

/// The plugins the host `q` names runs; refused (403) to a credential limited to
/// namespaces the host is not in, as the agent's task poll is.
async fn host_plugins(
    state: &AppState,
    access: &Access,
    q: &AgentParams,
) -> Result<Vec<crate::store::plugins::Distributed>, ApiError> {
    let host = state.hosts.find(Some(&q.id), &q.host).await?;
    if access.namespaces.is_some()
        && !host
            .as_ref()
            .is_some_and(|h| h.namespaces.iter().any(|n| access.allows_ns(n)))
    {
        return Err(ApiError::Forbidden(format!(
            "token {:?} is limited to namespaces; host {:?} (id {:?}) is not in one of them",
            access.name, q.host, q.id
        )));
    }
    Ok(state.plugins.store.for_host(host.as_ref()).await?)
}

/// `GET /api/argus/agent/plugins?host=&id=`: the plugins the asking agent's host runs,
/// `{"plugins": [{name, version, sha256, entry, interval_secs, timeout_secs, args}]}`, with
/// an ETag; 304 when the agent's `If-None-Match` is current. A host the inventory does not
/// know runs none.
pub async fn agent_list(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    q: Result<Query<AgentParams>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let list = host_plugins(&state, &access, &q).await?;
    let body = json!({ "plugins": list }).to_string();
    let etag = format!(
        "\"{}\"",
        &argus_core::plugin_archive::sha256_hex(body.as_bytes())[..32]
    );
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    Ok((
        [
            (header::ETAG, etag),
            (header::CONTENT_TYPE, "application/json".to_string()),
        ],
        body,
    )
        .into_response())
}

/// `GET /api/argus/agent/plugins/{name}/{version}?host=&id=`: the archive as stored, with
/// the SHA-256 recorded for it in `X-Argus-Sha256`. A credential limited to namespaces
/// gets only what a host of its namespaces (`host`, `id`) runs.
pub async fn agent_download(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path((name, version)): Path<(String, String)>,
    q: Result<Query<AgentParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    checked_name(&name)?;
    let Query(q) = q?;
    if access.namespaces.is_some()
        && !host_plugins(&state, &access, &q)
            .await?
            .iter()
            .any(|d| d.name == name && d.version == version)
    {
        return Err(ApiError::Forbidden(format!(
            "host {:?} (id {:?}) does not run version {version:?} of plugin {name:?}",
            q.host, q.id
        )));
    }
    let (sha256, bytes) = state.plugins.store.archive(&name, &version).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_string()),
            (header::HeaderName::from_static("x-argus-sha256"), sha256),
        ],
        bytes,
    )
        .into_response())
}
