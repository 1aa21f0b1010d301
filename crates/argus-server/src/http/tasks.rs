//! Remote tasks over HTTP:
//!
//! - `POST /api/argus/tasks` makes one: its target is resolved against the inventory now,
//!   its work checked (a plugin must be in the server's [`PluginCatalog`]);
//! - `GET /api/argus/tasks` lists them newest first, `GET /api/argus/tasks/{id}` shows one
//!   host by host; `POST /api/argus/tasks/{id}/cancel` (or `DELETE`) cancels one;
//! - `GET /api/argus/agent/tasks?host=&id=&wait=` is an agent's long poll for its host's
//!   work, `POST /api/argus/agent/tasks/{id}/result?host=&id=` its report.
//!
//! The first four need an editor (a task's output may hold anything a command prints); the
//! agent's two any credential, as the configuration pull does, but a credential limited to
//! namespaces only for hosts in one of them.
//!
//! [`PluginCatalog`]: crate::store::tasks::PluginCatalog

use super::body::read_body;
use super::error::ApiError;
use crate::state::AppState;
use crate::store::hosts::{Host, HostQuery};
use crate::store::tasks::{MAX_TIMEOUT_SECS, NewTask, Outcome, TargetHost, TaskFault, Work};
use crate::store::tokens::Access;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::time::Duration;

/// The task's timeout when the request sets none, in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;

/// An agent's poll waits this long when it says nothing, and at most [`MAX_WAIT_SECS`].
pub const DEFAULT_WAIT_SECS: u64 = 25;
pub const MAX_WAIT_SECS: u64 = 60;

impl From<TaskFault> for ApiError {
    fn from(e: TaskFault) -> ApiError {
        match e {
            TaskFault::Db(e) => e.into(),
            e @ TaskFault::Field { .. } => ApiError::BadRequest(e.to_string()),
            e @ (TaskFault::NoTask(_) | TaskFault::NoHost { .. }) => {
                ApiError::Missing(e.to_string())
            }
            e @ TaskFault::NotRunning { .. } => ApiError::Conflict(e.to_string()),
        }
    }
}

fn field(name: &str, reason: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!("field {name:?}: {reason}"))
}

const FIELDS: &str = "target, plugin, args, command, timeout_secs, concurrency";
const TARGET_FORMS: &str =
    r#"{"hosts": ["id", …]}, {"group": "name"} or {"selector": "label=value,…"}"#;

/// `label=value,…`: each pair a label every host must have with that value.
pub fn parse_selector(s: &str) -> Result<Vec<(String, String)>, String> {
    if s.trim().is_empty() {
        return Err("is empty; write label=value pairs separated by commas".into());
    }
    s.split(',')
        .enumerate()
        .map(|(i, part)| {
            let part = part.trim();
            match part.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    Ok((k.trim().to_string(), v.trim().to_string()))
                }
                _ => Err(format!("part {} ({part:?}) is not label=value", i + 1)),
            }
        })
        .collect()
}

/// Every host matching `q`, page by page.
async fn all_matching(state: &AppState, mut q: HostQuery) -> Result<Vec<Host>, ApiError> {
    q.limit = 10_000;
    q.page = 1;
    let mut out = Vec::new();
    loop {
        let page = state.hosts.list(&q).await?;
        let n = page.hosts.len();
        out.extend(page.hosts);
        if n == 0 || out.len() as i64 >= page.total {
            return Ok(out);
        }
        q.page += 1;
    }
}

/// The hosts `target` names, as the inventory has them now.
async fn resolve(state: &AppState, target: &Value) -> Result<Vec<TargetHost>, ApiError> {
    let Some(t) = target.as_object() else {
        return Err(field("target", format!("must be one of {TARGET_FORMS}")));
    };
    if t.len() != 1 {
        return Err(field(
            "target",
            format!(
                "must have exactly one of \"hosts\", \"group\", \"selector\" (it has {}); use {TARGET_FORMS}",
                if t.is_empty() {
                    "none".to_string()
                } else {
                    t.keys()
                        .map(|k| format!("{k:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        ));
    }
    let Some((k, v)) = t.iter().next() else {
        return Err(field("target", format!("must be one of {TARGET_FORMS}")));
    };
    let hosts: Vec<Host> = match k.as_str() {
        "hosts" => {
            let ids = v
                .as_array()
                .ok_or_else(|| field("target.hosts", "must be an array of host ids"))?;
            if ids.is_empty() {
                return Err(field("target.hosts", "is empty: target matches no host"));
            }
            let mut out: Vec<Host> = Vec::new();
            for (i, id) in ids.iter().enumerate() {
                let id = id
                    .as_str()
                    .ok_or_else(|| field("target.hosts", format!("element {i} is not a string")))?;
                if out.iter().any(|h| h.id == id) {
                    continue;
                }
                let h = state.hosts.get(id).await?.ok_or_else(|| {
                    field("target.hosts", format!("no host {id:?} in the inventory"))
                })?;
                out.push(h);
            }
            out
        }
        "group" => {
            let g = v
                .as_str()
                .filter(|g| !g.is_empty())
                .ok_or_else(|| field("target.group", "must be a group name"))?;
            let hosts = all_matching(
                state,
                HostQuery {
                    group: Some(g.to_string()),
                    ..HostQuery::default()
                },
            )
            .await?;
            if hosts.is_empty() {
                return Err(field(
                    "target.group",
                    format!("target matches no host: group {g:?} has none"),
                ));
            }
            hosts
        }
        "selector" => {
            let s = v
                .as_str()
                .ok_or_else(|| field("target.selector", "must be a string label=value,…"))?;
            let labels = parse_selector(s).map_err(|e| field("target.selector", e))?;
            let hosts = all_matching(
                state,
                HostQuery {
                    labels,
                    ..HostQuery::default()
                },
            )
            .await?;
            if hosts.is_empty() {
                return Err(field(
                    "target.selector",
                    format!("target matches no host: no host has the labels {s:?}"),
                ));
            }
            hosts
        }
        _ => {
            return Err(field(
                "target",
                format!("{k:?} is not a target; use {TARGET_FORMS}"),
            ));
        }
    };
    Ok(hosts
        .into_iter()
        .map(|h| TargetHost {
            id: h.id,
            hostname: h.hostname,
        })
        .collect())
}

/// A positive integer field, when present.
fn positive(
    body: &Map<String, Value>,
    name: &'static str,
    why_not_zero: &str,
) -> Result<Option<u64>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(0) => Err(field(name, format!("must be at least 1{why_not_zero}"))),
            Some(n) => Ok(Some(n)),
            None => Err(field(name, format!("{v} is not a positive integer"))),
        },
    }
}

/// The work of a task body: a plugin (with `args`) or a command, never both.
/// A string field that is not empty, when present.
fn text<'a>(body: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.as_str())),
        Some(Value::String(_)) => Err(field(name, "is empty")),
        Some(v) => Err(field(name, format!("{v} is not a string"))),
    }
}

async fn work_of(state: &AppState, body: &Map<String, Value>) -> Result<Work, ApiError> {
    match (text(body, "plugin")?, text(body, "command")?) {
        (Some(_), Some(_)) => Err(ApiError::BadRequest(
            "fields \"plugin\" and \"command\": give one of them, not both".into(),
        )),
        (None, None) => Err(ApiError::BadRequest(
            "a task needs \"plugin\" (a plugin of the server's store, with \"args\") or \"command\" (a shell line)".into(),
        )),
        (None, Some(c)) => {
            if body.get("args").is_some_and(|a| !a.is_null()) {
                return Err(field(
                    "args",
                    "only with \"plugin\"; a command is one shell line",
                ));
            }
            Ok(Work::Command(c.to_string()))
        }
        (Some(p), None) => {
            let args = match body.get("args") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => a
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| field("args", format!("element {i} ({v}) is not a string")))
                    })
                    .collect::<Result<_, _>>()?,
                Some(v) => return Err(field("args", format!("{v} is not an array of strings"))),
            };
            let known = state
                .tasks
                .catalog()
                .exists(p)
                .await
                .map_err(|e| ApiError::Internal(format!("the plugin store: {e}")))?;
            if !known {
                return Err(field(
                    "plugin",
                    format!("unknown plugin {p:?}: the server's plugin store has none of that name"),
                ));
            }
            Ok(Work::Plugin {
                name: p.to_string(),
                args,
            })
        }
    }
}

/// `POST /api/argus/tasks`: 201 `{"id", "hosts": [ids]}`.
pub async fn create(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let bytes = read_body(&headers, body, state.max_body_bytes).await?;
    let body: Value =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest(format!("body: {e}")))?;
    let Value::Object(body) = body else {
        return Err(ApiError::BadRequest(format!(
            "body: must be a JSON object with {FIELDS}"
        )));
    };
    if let Some(k) = body
        .keys()
        .find(|k| !FIELDS.split(", ").any(|f| f == k.as_str()))
    {
        return Err(field(k, format!("unknown; use {FIELDS}")));
    }
    let target = body
        .get("target")
        .ok_or_else(|| field("target", format!("is required: {TARGET_FORMS}")))?;
    let work = work_of(&state, &body).await?;
    let timeout_secs = positive(&body, "timeout_secs", "")?.unwrap_or(DEFAULT_TIMEOUT_SECS);
    if timeout_secs > MAX_TIMEOUT_SECS {
        return Err(field(
            "timeout_secs",
            format!("{timeout_secs} is over the most, {MAX_TIMEOUT_SECS} (a day)"),
        ));
    }
    let concurrency = positive(
        &body,
        "concurrency",
        "; leave it out to run on every host at once",
    )?
    .map(|c| u32::try_from(c).unwrap_or(u32::MAX));
    let hosts = resolve(&state, target).await?;
    let ids: Vec<String> = hosts.iter().map(|h| h.id.clone()).collect();
    let id = state
        .tasks
        .create(
            &access.actor(),
            NewTask {
                target: target.clone(),
                hosts,
                work,
                timeout_secs,
                concurrency,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "hosts": ids }))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    page: Option<i64>,
}

/// `GET /api/argus/tasks?limit=&page=`: newest first, without per-host output.
pub async fn list(
    State(state): State<AppState>,
    q: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "parameter \"limit\": {limit} is not 1 to 1000"
        )));
    }
    let page = q.page.unwrap_or(1);
    if page < 1 {
        return Err(ApiError::BadRequest(format!(
            "parameter \"page\": {page} is not a page number from 1"
        )));
    }
    let (tasks, total) = state.tasks.list(limit, page).await?;
    Ok(Json(json!({
        "status": "success",
        "data": tasks,
        "total": total,
        "page": page,
        "limit": limit,
    })))
}

/// `GET /api/argus/tasks/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let t = state.tasks.get(&id).await?.ok_or(TaskFault::NoTask(id))?;
    Ok(Json(json!({ "status": "success", "data": t })))
}

/// `POST /api/argus/tasks/{id}/cancel` and `DELETE /api/argus/tasks/{id}`: the task after.
pub async fn cancel(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let t = state.tasks.cancel(&access.actor(), &id).await?;
    Ok(Json(json!({ "status": "success", "data": t })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentParams {
    #[serde(default)]
    host: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    wait: Option<u64>,
}

/// The inventory id of the asking agent's host (by machine id, else host name; the
/// machine id itself when the inventory does not know the host yet), refused to a
/// credential limited to namespaces the host is not in.
async fn agent_host(
    state: &AppState,
    access: &Access,
    q: &AgentParams,
) -> Result<String, ApiError> {
    if q.host.is_empty() && q.id.is_empty() {
        return Err(ApiError::BadRequest(
            "parameters \"host\" and \"id\": name the agent's host (host name, machine id)".into(),
        ));
    }
    let found = state.hosts.find(Some(&q.id), &q.host).await?;
    if access.namespaces.is_some()
        && !found
            .as_ref()
            .is_some_and(|h| h.namespaces.iter().any(|n| access.allows_ns(n)))
    {
        return Err(ApiError::Forbidden(format!(
            "token {:?} is limited to namespaces; host {:?} (id {:?}) is not in one of them",
            access.name, q.host, q.id
        )));
    }
    Ok(match found {
        Some(h) => h.id,
        None if !q.id.is_empty() => q.id.clone(),
        None => q.host.clone(),
    })
}

/// `GET /api/argus/agent/tasks?host=&id=&wait=`: 200 `{"tasks": [...], "cancel": [ids]}`
/// as soon as there is work for the host, else 204 after `wait` seconds.
pub async fn poll(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    q: Result<Query<AgentParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let wait = q.wait.unwrap_or(DEFAULT_WAIT_SECS);
    if wait > MAX_WAIT_SECS {
        return Err(ApiError::BadRequest(format!(
            "parameter \"wait\": {wait} is over the most, {MAX_WAIT_SECS} seconds"
        )));
    }
    let host = agent_host(&state, &access, &q).await?;
    let d = state
        .tasks
        .wait_for_host(&host, Duration::from_secs(wait))
        .await?;
    if d.is_empty() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(Json(d).into_response())
}

/// `POST /api/argus/agent/tasks/{id}/result?host=&id=`: 204 once recorded.
pub async fn result(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(task): Path<String>,
    q: Result<Query<AgentParams>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let Query(q) = q?;
    let host = agent_host(&state, &access, &q).await?;
    let bytes = read_body(&headers, body, state.max_body_bytes).await?;
    let outcome: Outcome =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest(format!("body: {e}")))?;
    state.tasks.report(&task, &host, outcome).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_are_label_value_pairs() {
        assert_eq!(
            parse_selector("role=db, dc = east ,tier="),
            Ok(vec![
                ("role".into(), "db".into()),
                ("dc".into(), "east".into()),
                ("tier".into(), String::new()),
            ])
        );
        assert!(parse_selector("").is_err());
        let e = parse_selector("role=db,,x=1").err().unwrap_or_default();
        assert!(e.contains("part 2"), "{e}");
        let e = parse_selector("role").err().unwrap_or_default();
        assert!(
            e.contains("\"role\" is not label=value") || e.contains("(\"role\")"),
            "{e}"
        );
        assert!(parse_selector("=db").is_err());
    }
}
