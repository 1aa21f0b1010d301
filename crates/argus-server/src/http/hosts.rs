//! The host inventory and what agents ask of it:
//!
//! - `POST /api/argus/heartbeat` queues an agent's heartbeat (the inventory records it);
//! - `GET/POST/PATCH /api/argus/hosts` (PATCH: many hosts at once),
//!   `GET/PATCH/DELETE /api/argus/hosts/{id}`,
//!   `GET /api/argus/locations`, `GET /api/argus/groups`;
//! - `GET /api/argus/agent/config` (an agent's merged configuration),
//!   `PUT/DELETE /api/argus/agent/config` (one layer), `GET /api/argus/agent/configs`;
//! - `GET /api/argus/agent/me` (the host's namespaces and groups, for the agent's `/me/ns`).

use super::error::{ApiError, counted, joined};
use super::users::body;
use crate::state::AppState;
use crate::store::agent_configs::scope_of;
use crate::store::hosts::{BulkEdit, Host, HostEdit, HostQuery, NewHost, heartbeat_host};
use crate::store::tokens::Access;
use argus_core::{MatchOp, Matcher};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;

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

/// The parameters of `GET /api/argus/hosts`, checked one by one.
fn host_query(params: &[(String, String)], access: &Access) -> Result<HostQuery, ApiError> {
    let bad = |p: &str, why: String| ApiError::BadRequest(format!("parameter {p:?}: {why}"));
    let mut q = HostQuery {
        page: 1,
        limit: 100,
        ..HostQuery::default()
    };
    for (k, v) in params {
        match k.as_str() {
            "location" => q.location = Some(v.clone()),
            "group" => q.group = Some(v.clone()),
            "label" => {
                let (lk, lv) = v
                    .split_once(':')
                    .ok_or_else(|| bad("label", format!("{v:?} is not key:value")))?;
                q.labels.push((lk.to_string(), lv.to_string()));
            }
            "status" => q.status = Some(v.parse().map_err(|e| bad("status", e))?),
            "q" => q.q = Some(v.clone()),
            "unmanaged" => {
                q.unmanaged = v
                    .parse()
                    .map_err(|_| bad("unmanaged", format!("{v:?} is not true or false")))?
            }
            "sort" => {
                let (desc, field) = match v.strip_prefix('-') {
                    Some(f) => (true, f),
                    None => (false, v.as_str()),
                };
                q.sort = field.parse().map_err(|e| bad("sort", e))?;
                q.descending = desc;
            }
            "page" => {
                q.page = v
                    .parse()
                    .ok()
                    .filter(|p| *p >= 1)
                    .ok_or_else(|| bad("page", format!("{v:?} is not a page number from 1")))?
            }
            "limit" => {
                q.limit = v
                    .parse()
                    .ok()
                    .filter(|l| (1..=10_000).contains(l))
                    .ok_or_else(|| bad("limit", format!("{v:?} is not 1 to 10000")))?
            }
            other => {
                return Err(bad(
                    other,
                    "unknown; use location, group, label, status, q, unmanaged, sort, page, limit"
                        .into(),
                ));
            }
        }
    }
    q.namespaces = access
        .namespaces
        .as_deref()
        .map(|n| n.iter().map(|n| n.to_string()).collect());
    Ok(q)
}

fn host_json(h: &Host) -> Value {
    let mut v = serde_json::to_value(h).unwrap_or_default();
    v["registered"] = true.into();
    v
}

/// `GET /api/argus/hosts`: `{"status", "data": [hosts], "total", "page", "limit"}`.
pub async fn list(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let q = host_query(&params, &access)?;
    if q.unmanaged {
        return unmanaged(&state, q).await;
    }
    let page = state.hosts.list(&q).await?;
    Ok(Json(json!({
        "status": "success",
        "data": page.hosts.iter().map(host_json).collect::<Vec<_>>(),
        "total": page.total,
        "page": q.page,
        "limit": q.limit,
    })))
}

/// Hosts without a location: those of the inventory, and host names found in the `host`
/// label of recent series that the inventory does not know (data pushed by Telegraf or
/// other agents, which send no heartbeat).
async fn unmanaged(state: &AppState, q: HostQuery) -> Result<Json<Value>, ApiError> {
    let (page, limit) = (q.page, q.limit);
    let all = HostQuery {
        page: 1,
        limit: 10_000,
        ..q.clone()
    };
    let known = state.hosts.hostnames().await?;
    let mut rows: Vec<Value> = state
        .hosts
        .list(&all)
        .await?
        .hosts
        .iter()
        .map(host_json)
        .collect();
    // Hosts only in the store have no groups, labels or status: they match no such filter.
    let plain =
        q.location.is_none() && q.group.is_none() && q.labels.is_empty() && q.status.is_none();
    if plain && q.namespaces.is_none() {
        let store = state.store.clone();
        let now = argus_core::now_ms();
        let from = now - (state.inventory.unmanaged_lookback_hours.max(1) as i64) * 3_600_000;
        let series = tokio::task::spawn_blocking(move || {
            let m = Matcher::new("host", MatchOp::RegexMatch, ".+")
                .map_err(|e| argus_core::StorageError::Rejected(e.to_string()))?;
            store.series(&[m], from, now)
        })
        .await
        .map_err(joined)??;
        let known: BTreeSet<String> = known.into_iter().collect();
        let text = q.q.as_deref().unwrap_or("").to_lowercase();
        let only_in_store: BTreeSet<String> = series
            .iter()
            .filter_map(|l| l.get("host"))
            .filter(|h| !known.contains(*h) && h.to_lowercase().contains(&text))
            .map(str::to_string)
            .collect();
        rows.extend(only_in_store.into_iter().map(|h| {
            json!({
                "id": "",
                "hostname": h,
                "status": "unknown",
                "registered": false,
                "location": "",
                "groups": [],
                "labels": {},
            })
        }));
        rows.sort_by(|a, b| {
            let key = |v: &Value| v["hostname"].as_str().unwrap_or("").to_string();
            let o = key(a).cmp(&key(b));
            if q.descending { o.reverse() } else { o }
        });
    }
    let total = rows.len();
    let start = ((page - 1) * limit).max(0) as usize;
    let data: Vec<Value> = rows.into_iter().skip(start).take(limit as usize).collect();
    Ok(Json(json!({
        "status": "success",
        "data": data,
        "total": total,
        "page": page,
        "limit": limit,
    })))
}

/// The host `id`, or 404 naming it.
async fn host_or_404(state: &AppState, id: &str) -> Result<Host, ApiError> {
    state
        .hosts
        .get(id)
        .await?
        .ok_or_else(|| ApiError::Missing(format!("no host {id:?}")))
}

pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let h = host_or_404(&state, &id).await?;
    Ok(Json(json!({ "status": "success", "data": host_json(&h) })))
}

/// `POST /api/argus/hosts`: adds a host by hand (201 with it).
pub async fn create(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    bytes: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let new: NewHost = body(&bytes)?;
    let h = state.hosts.create(&access.actor(), new).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "status": "success", "data": host_json(&h) })),
    ))
}

/// `PATCH /api/argus/hosts/{id}`: changes the fields given.
pub async fn update(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let edit: HostEdit = body(&bytes)?;
    let h = state.hosts.update(&access.actor(), &id, edit).await?;
    Ok(Json(json!({ "status": "success", "data": host_json(&h) })))
}

/// `PATCH /api/argus/hosts`: one change to many hosts (`ids`), all or none.
pub async fn bulk_update(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    bytes: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let bulk: BulkEdit = body(&bytes)?;
    let hosts = state.hosts.bulk_update(&access.actor(), bulk).await?;
    Ok(Json(json!({
        "status": "success",
        "data": hosts.iter().map(host_json).collect::<Vec<_>>(),
    })))
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.hosts.delete(&access.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn locations(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let l = state.hosts.locations().await?;
    Ok(Json(json!({ "status": "success", "data": l })))
}

pub async fn groups(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let g = state.hosts.groups().await?;
    Ok(Json(json!({ "status": "success", "data": g })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentParams {
    #[serde(default)]
    host: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    group: String,
}

/// `GET /api/argus/agent/config?host=&id=`: the agent's configuration, merged from the
/// default, its host's groups and its own; 304 when the agent's `If-None-Match` is
/// current, 404 when no layer applies.
pub async fn get_config(
    State(state): State<AppState>,
    q: Result<Query<AgentParams>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    if !q.group.is_empty() {
        // One layer as stored, for people.
        let layer = state
            .agent_configs
            .get(&scope_of("", &q.group)?)
            .await?
            .ok_or_else(|| {
                ApiError::Missing(format!("no agent configuration for group {:?}", q.group))
            })?;
        return Ok((
            [
                ("etag", layer.etag),
                ("content-type", "application/toml".into()),
            ],
            layer.text,
        )
            .into_response());
    }
    scope_of(&q.host, "")?;
    let host = state.hosts.find(Some(&q.id), &q.host).await?;
    let served = state
        .agent_configs
        .for_host(host.as_ref(), &q.host)
        .await?
        .ok_or_else(|| {
            ApiError::Missing(format!("no agent configuration for host {:?}", q.host))
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

/// `PUT /api/argus/agent/config?host=|group=` (neither: the default for every agent):
/// stores one layer. It must parse as TOML (the agent checks the keys when it applies it,
/// and keeps its running configuration if they are wrong).
pub async fn put_config(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    q: Result<Query<AgentParams>, QueryRejection>,
    body: String,
) -> Result<StatusCode, ApiError> {
    let Query(q) = q?;
    let scope = scope_of(&q.host, &q.group)?;
    state
        .agent_configs
        .put(&access.actor(), &scope, &body)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/argus/agent/config?host=|group=`.
pub async fn delete_config(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    q: Result<Query<AgentParams>, QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let Query(q) = q?;
    let scope = scope_of(&q.host, &q.group)?;
    state.agent_configs.delete(&access.actor(), &scope).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/argus/agent/configs`: every stored layer.
pub async fn list_configs(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let l = state.agent_configs.list().await?;
    Ok(Json(json!({ "status": "success", "data": l })))
}

/// `GET /api/argus/agent/me?host=&id=`: the namespaces and groups of the asking agent's
/// host.
pub async fn me(
    State(state): State<AppState>,
    q: Result<Query<AgentParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q?;
    let m = state
        .hosts
        .membership(Some(&q.id), &q.host)
        .await?
        .ok_or_else(|| {
            ApiError::Missing(format!(
                "host {:?} (id {:?}) is not in the inventory yet: it is added with its first heartbeat",
                q.host, q.id
            ))
        })?;
    Ok(Json(serde_json::to_value(m).unwrap_or_default()))
}
