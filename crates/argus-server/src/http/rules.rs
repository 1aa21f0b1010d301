//! Rules through the API: `/api/argus/rules[/{id}]` (list, create, read, replace, enable
//! or disable, delete) and `POST /api/argus/rules/preview` (what a rule would select now).
//! Rules from files are listed read-only beside them. Each change reloads the rules at
//! once, so the new rule is evaluated from its next slot.

use super::error::ApiError;
use super::users::body;
use crate::alerting::api_rules::{API_FILE, RuleInput};
use crate::state::AppState;
use crate::store::tokens::Access;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

fn invalid(e: crate::alerting::api_rules::RuleInputError) -> ApiError {
    ApiError::BadRequest(e.to_string())
}

/// What the engine says of each group: its JSON in Prometheus's `/api/v1/rules` shape.
fn running_groups(state: &AppState) -> Vec<Value> {
    let m = state
        .alerting
        .rules
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let body = argus_rules::api::rules_json(&m, None).unwrap_or_default();
    serde_json::from_str::<Value>(&body).unwrap_or_default()["data"]["groups"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `GET /api/argus/rules`: the API's rules (with their state when enabled) and the rule
/// files' (read-only).
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let groups = running_groups(&state);
    let mut out = Vec::new();
    for r in state.alerting.api_rules.list().await? {
        let running = groups
            .iter()
            .find(|g| g["file"] == API_FILE && g["name"] == format!("{API_FILE}/{}", r.id))
            .map(|g| g["rules"][0].clone());
        out.push(json!({
            "id": r.id,
            "source": "api",
            "enabled": r.enabled,
            "rule": r.spec,
            "status": running,
            "updated_ms": r.updated_ms,
            "updated_by": r.updated_by,
        }));
    }
    for g in groups.iter().filter(|g| g["file"] != API_FILE) {
        for rule in g["rules"].as_array().into_iter().flatten() {
            out.push(json!({
                "source": "file",
                "file": g["file"],
                "group": g["name"],
                "enabled": true,
                "status": rule,
            }));
        }
    }
    Ok(Json(json!({ "status": "success", "data": out })))
}

async fn store_rule(
    state: &AppState,
    access: &Access,
    id: &str,
    input: RuleInput,
) -> Result<Value, ApiError> {
    crate::alerting::event_rules::check(id, &input).map_err(invalid)?;
    let spec = serde_json::to_value(&input).unwrap_or_default();
    let stored = state
        .alerting
        .api_rules
        .put(&access.actor(), id, &spec, input.enabled)
        .await?;
    let status = state.alerting.reload().await;
    if !status.ok {
        return Err(ApiError::Internal(format!(
            "stored, but the rules did not reload: {}",
            status.errors.join("; ")
        )));
    }
    Ok(serde_json::to_value(stored).unwrap_or_default())
}

/// `POST /api/argus/rules`: a new rule (201 with it and its id).
pub async fn create(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    bytes: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let input: RuleInput = body(&bytes)?;
    let id = argus_notify::silence::new_uuid();
    let stored = store_rule(&state, &access, &id, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "status": "success", "data": stored })),
    ))
}

pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let r = state.alerting.api_rules.get(&id).await?.ok_or_else(|| {
        ApiError::Missing(format!("no rule {id:?} (rules from files have no id)"))
    })?;
    Ok(Json(json!({ "status": "success", "data": r })))
}

/// `PUT /api/argus/rules/{id}`: replaces the rule.
pub async fn replace(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    if state.alerting.api_rules.get(&id).await?.is_none() {
        return Err(ApiError::Missing(format!("no rule {id:?}")));
    }
    let input: RuleInput = body(&bytes)?;
    let stored = store_rule(&state, &access, &id, input).await?;
    Ok(Json(json!({ "status": "success", "data": stored })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enable {
    enabled: bool,
}

/// `PATCH /api/argus/rules/{id}` with `{"enabled": true|false}`.
pub async fn enable(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let e: Enable = body(&bytes)?;
    let r = state
        .alerting
        .api_rules
        .get(&id)
        .await?
        .ok_or_else(|| ApiError::Missing(format!("no rule {id:?}")))?;
    let mut input: RuleInput = serde_json::from_value(r.spec)
        .map_err(|err| ApiError::Internal(format!("stored rule {id:?}: {err}")))?;
    input.enabled = e.enabled;
    let stored = store_rule(&state, &access, &id, input).await?;
    Ok(Json(json!({ "status": "success", "data": stored })))
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state
        .alerting
        .api_rules
        .delete(&access.actor(), &id)
        .await?
    {
        return Err(ApiError::Missing(format!("no rule {id:?}")));
    }
    state.alerting.reload().await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/argus/rules/preview`: evaluates the rule's expression now and lists the
/// series it selects: for an alert, those that would be pending (or firing at once
/// with no `for`).
pub async fn preview(
    State(state): State<AppState>,
    bytes: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let mut input: RuleInput = body(&bytes)?;
    if input.name.is_empty() {
        input.name = "Preview".into();
    }
    if let Some(m) = &input.event {
        return preview_event(&state, &input, m).await;
    }
    input.compile("preview").map_err(invalid)?;
    let expr = input.expr().map_err(invalid)?;
    let store = state.store.clone();
    let opts = state.query.clone();
    let q = expr.clone();
    let value = tokio::task::spawn_blocking(move || {
        argus_promql::Engine::new(store, opts).instant(&q, argus_core::now_ms())
    })
    .await
    .map_err(super::error::joined)?
    .map_err(|e| ApiError::BadRequest(format!("field \"expr\": {e}")))?;
    let series: Vec<Value> = match value {
        argus_promql::Value::Vector(v) => v
            .iter()
            .map(|(labels, _, v)| {
                let l: serde_json::Map<String, Value> = labels
                    .iter()
                    .map(|l| (l.name.clone(), Value::String(l.value.clone())))
                    .collect();
                json!({ "labels": l, "value": v })
            })
            .collect(),
        argus_promql::Value::Scalar { v, .. } => vec![json!({ "labels": {}, "value": v })],
        _ => Vec::new(),
    };
    Ok(Json(json!({
        "status": "success",
        "data": { "expr": expr, "series": series }
    })))
}

/// How far back the preview of an event rule looks for events it would have matched.
const EVENT_PREVIEW_MS: i64 = 3_600_000;

/// The preview of an event rule: the stored events of its type from the last hour that
/// it matches (the newest 100), each with the alert it would raise.
async fn preview_event(
    state: &AppState,
    input: &RuleInput,
    m: &crate::alerting::api_rules::EventMatch,
) -> Result<Json<Value>, ApiError> {
    let rule =
        crate::alerting::event_rules::EventRule::compile("preview", input, m).map_err(invalid)?;
    if input.kind == crate::alerting::api_rules::Kind::Record {
        return Err(invalid(crate::alerting::api_rules::RuleInputError {
            field: "kind".into(),
            reason: "an event rule raises alerts; it records nothing".into(),
        }));
    }
    let events = state.events.clone();
    let q = crate::store::events::EventQuery {
        r#type: Some(m.event_type.clone()),
        ..Default::default()
    };
    let now = argus_core::now_ms();
    let found = tokio::task::spawn_blocking(move || {
        events.find(&q, now - EVENT_PREVIEW_MS, now, usize::MAX)
    })
    .await
    .map_err(super::error::joined)?
    .map_err(|e| ApiError::Internal(format!("event store: {e}")))?;
    let matched: Vec<&argus_core::Event> = found.iter().filter(|e| rule.matches(e)).collect();
    let external = state.alerting.external_url();
    let alerts: Vec<Value> = matched
        .iter()
        .rev()
        .take(100)
        .map(|e| {
            let a = rule.alert(e, &external);
            json!({ "event": e, "labels": a.labels, "annotations": a.annotations })
        })
        .collect();
    Ok(Json(json!({
        "status": "success",
        "data": { "events_scanned": found.len(), "matched": matched.len(), "alerts": alerts }
    })))
}
