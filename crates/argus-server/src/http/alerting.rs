//! Alerting over HTTP, in the shapes its clients already speak:
//!
//! - Alertmanager's v2 API: `POST/GET /api/v2/alerts` (Prometheus can send its alerts
//!   here), `GET/POST /api/v2/silences`, `GET/DELETE /api/v2/silence/{id}` (amtool and
//!   Grafana work unchanged);
//! - Argus's own: `/api/argus/maintenance[/{id}]` (maintenance windows) and
//!   `GET /api/argus/notifications` (the last deliveries and how they went).
//!
//! (`/api/v1/rules` and `/api/v1/alerts`, Prometheus's, are in [`super::metadata`].)

use super::error::ApiError;
use super::users::body;
use crate::alerting::notifier::NotifierFault;
use crate::state::AppState;
use crate::store::tokens::Access;
use argus_notify::silence::PostableSilence;
use argus_notify::{MaintenanceWindow, PostableAlert};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{Value, json};

impl From<NotifierFault> for ApiError {
    fn from(e: NotifierFault) -> ApiError {
        match e {
            NotifierFault::Invalid(m) => ApiError::BadRequest(m),
            NotifierFault::NotFound(m) => ApiError::Missing(m),
            NotifierFault::Conflict(m) => ApiError::Conflict(m),
            NotifierFault::Store(m) => ApiError::Internal(m),
        }
    }
}

/// `POST /api/v2/alerts`: alerts as Prometheus sends them to an Alertmanager. Valid ones
/// are taken even when others are not (as Alertmanager does); the invalid ones make a
/// 400 naming each. Taken means queued for the server that sends notifications (this
/// one or another sharing the queue): the answer comes once the queue holds them.
pub async fn post_alerts(
    State(state): State<AppState>,
    bytes: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let alerts: Vec<PostableAlert> = body(&bytes)?;
    let (valid, errors) = crate::alerting::check_posted(alerts, jiff::Timestamp::now());
    state.pipeline.publish_alerts(&valid).await?;
    if !errors.is_empty() {
        let why: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        return Err(ApiError::BadRequest(why.join("; ")));
    }
    Ok(StatusCode::OK)
}

/// `GET /api/v2/alerts[?filter=<matcher>&silenced=&inhibited=&active=&receiver=<regex>]`:
/// the alerts the notifier holds, with what mutes each, filtered as Alertmanager does.
pub async fn get_alerts(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let mut f = crate::alerting::notifier::AlertFilter::default();
    let flag = |k: &str, v: &str| {
        v.parse::<bool>().map_err(|_| {
            ApiError::BadRequest(format!("parameter {k:?}: {v:?} is not true or false"))
        })
    };
    for (k, v) in &params {
        match k.as_str() {
            "filter" => {
                f.matchers
                    .push(argus_notify::matcher::parse_matcher(v).map_err(|e| {
                        ApiError::BadRequest(format!("parameter \"filter\": {v:?}: {e}"))
                    })?)
            }
            "silenced" => f.silenced = flag(k, v)?,
            "inhibited" => f.inhibited = flag(k, v)?,
            "active" => f.active = flag(k, v)?,
            "unprocessed" => {}
            "receiver" => {
                f.receiver =
                    Some(regex::Regex::new(&format!("^(?:{v})$")).map_err(|e| {
                        ApiError::BadRequest(format!("parameter \"receiver\": {e}"))
                    })?)
            }
            other => {
                return Err(ApiError::BadRequest(format!(
                    "parameter {other:?}: unknown; use filter, silenced, inhibited, active, receiver"
                )));
            }
        }
    }
    Ok(Json(state.alerting.notifier.alerts_v2(&f)))
}

/// `GET /api/v2/status`: Alertmanager's status, as far as Argus has one (the loaded
/// notifier file, no cluster), so `amtool config show` works.
pub async fn status(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "cluster": { "name": "", "peers": [], "status": "disabled" },
        "config": { "original": state.alerting.notifier.config_text_masked() },
        "uptime": argus_notify::gojson::rfc3339_millis(jiff::Timestamp::now()),
        "versionInfo": {
            "branch": "argus",
            "buildDate": "",
            "buildUser": "argus",
            "goVersion": "",
            "revision": format!("argus-{}", env!("CARGO_PKG_VERSION")),
            "version": "0.25.0",
        }
    }))
}

/// Records an alerting change in the audit log (its own transaction: the change itself is
/// in the notifier's document).
async fn audited(
    state: &AppState,
    access: &Access,
    action: &str,
    kind: &str,
    id: &str,
    after: Option<Value>,
) {
    let db = state.users.db();
    let r = async {
        let mut tx = db.begin().await?;
        crate::store::audit::record(
            &mut tx,
            crate::store::audit::Change {
                actor: &access.actor(),
                action,
                object_kind: kind,
                object_id: id,
                before: None,
                after,
            },
        )
        .await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = r {
        tracing::error!(error = %e, "cannot write the audit log");
    }
}

/// `GET /api/v2/silences[?filter=<matcher>…]`.
pub async fn list_silences(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let mut filter = Vec::new();
    for (k, v) in &params {
        if k != "filter" {
            return Err(ApiError::BadRequest(format!(
                "parameter {k:?}: unknown; use filter"
            )));
        }
        filter.push(
            argus_notify::matcher::parse_matcher(v)
                .map_err(|e| ApiError::BadRequest(format!("parameter \"filter\": {v:?}: {e}")))?,
        );
    }
    Ok(Json(state.alerting.notifier.silences(&filter)))
}

/// `POST /api/v2/silences`: creates a silence (or updates the one whose `id` it gives):
/// `{"silenceID": "…"}`. The author is the caller when `createdBy` is empty.
pub async fn post_silence(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    bytes: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let mut post: PostableSilence = body(&bytes)?;
    if post.created_by.is_empty() {
        post.created_by = access.actor().into_owned();
    }
    let after = serde_json::to_value(&post).ok();
    let id = state.alerting.notifier.set_silence(post).await?;
    audited(&state, &access, "create", "silence", &id, after).await;
    Ok(Json(json!({ "silenceID": id })))
}

pub async fn get_silence(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .alerting
        .notifier
        .silence(&id)
        .map(Json)
        .ok_or_else(|| ApiError::Missing(format!("silence {id:?} not found")))
}

/// `DELETE /api/v2/silence/{id}`: expires it now.
pub async fn expire_silence(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.alerting.notifier.expire_silence(&id).await?;
    audited(&state, &access, "expire", "silence", &id, None).await;
    Ok(StatusCode::OK)
}

/// `GET /api/argus/maintenance`.
pub async fn list_maintenance(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "status": "success", "data": state.alerting.notifier.maintenance() }))
}

/// `POST /api/argus/maintenance`: a new window (201 with its id).
pub async fn create_maintenance(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    bytes: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut w: MaintenanceWindow = body(&bytes)?;
    if w.created_by.is_empty() {
        w.created_by = access.actor().into_owned();
    }
    let after = serde_json::to_value(&w).ok();
    let id = state.alerting.notifier.set_maintenance(w, false).await?;
    audited(&state, &access, "create", "maintenance", &id, after).await;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "status": "success", "data": { "id": id } })),
    ))
}

/// `PUT /api/argus/maintenance/{id}`: replaces a window.
pub async fn put_maintenance(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let mut w: MaintenanceWindow = body(&bytes)?;
    w.id = id;
    if w.created_by.is_empty() {
        w.created_by = access.actor().into_owned();
    }
    let after = serde_json::to_value(&w).ok();
    let id = state.alerting.notifier.set_maintenance(w, true).await?;
    audited(&state, &access, "update", "maintenance", &id, after).await;
    Ok(Json(json!({ "status": "success", "data": { "id": id } })))
}

/// `GET /api/argus/maintenance/{id}`.
pub async fn get_maintenance(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let w = state
        .alerting
        .notifier
        .maintenance_window(&id)
        .ok_or_else(|| ApiError::Missing(format!("no maintenance window {id:?}")))?;
    Ok(Json(json!({ "status": "success", "data": w })))
}

pub async fn delete_maintenance(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.alerting.notifier.remove_maintenance(&id).await?;
    audited(&state, &access, "delete", "maintenance", &id, None).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/argus/notifications`: the last deliveries, newest first.
pub async fn notifications(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "status": "success", "data": state.alerting.notifier.outcomes() }))
}

/// `GET /api/argus/alerts[?rule=&host=&state=]`: the pending and firing alerts of the
/// rules, with their group, value and since when.
pub async fn active(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let (mut rule, mut host, mut st) = (None, None, None);
    for (k, v) in params {
        match k.as_str() {
            "rule" => rule = Some(v),
            "host" => host = Some(v),
            "state" => st = Some(v),
            other => {
                return Err(ApiError::BadRequest(format!(
                    "parameter {other:?}: unknown; use rule, host, state"
                )));
            }
        }
    }
    let list: Vec<_> = state
        .alerting
        .active()
        .into_iter()
        .filter(|a| rule.as_deref().is_none_or(|r| a.rule == r))
        .filter(|a| {
            host.as_deref()
                .is_none_or(|h| a.labels.get("host").map(String::as_str) == Some(h))
        })
        .filter(|a| st.as_deref().is_none_or(|s| a.state == s))
        .collect();
    Ok(Json(json!({ "status": "success", "data": list })))
}

/// `GET /api/argus/alerts/history?rule=&host=&label=k:v&state=&start=&end=&limit=`: state
/// changes, newest first.
pub async fn history(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let mut q = crate::store::alert_history::HistoryQuery {
        limit: 100,
        ..Default::default()
    };
    let time = |k: &str, v: &str| {
        crate::query::params::parse_time(v).map_err(|e| {
            ApiError::BadRequest(format!(
                "parameter {k:?}: {v:?} is not a time (RFC 3339 or Unix seconds): {e}"
            ))
        })
    };
    for (k, v) in &params {
        match k.as_str() {
            "rule" => q.rule = Some(v.clone()),
            "host" => q.host = Some(v.clone()),
            "state" => q.state = Some(v.clone()),
            "label" => {
                let (lk, lv) = v.split_once(':').ok_or_else(|| {
                    ApiError::BadRequest(format!("parameter \"label\": {v:?} is not key:value"))
                })?;
                q.labels.push((lk.to_string(), lv.to_string()));
            }
            "start" => q.from_ms = Some(time(k, v)?),
            "end" => q.to_ms = Some(time(k, v)?),
            "limit" => {
                q.limit = v
                    .parse()
                    .ok()
                    .filter(|l| (1..=100_000).contains(l))
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "parameter \"limit\": {v:?} is not 1 to 100000"
                        ))
                    })?
            }
            other => {
                return Err(ApiError::BadRequest(format!(
                    "parameter {other:?}: unknown; use rule, host, label, state, start, end, limit"
                )));
            }
        }
    }
    let list = state.alerting.history.query(&q).await?;
    Ok(Json(json!({ "status": "success", "data": list })))
}

/// `POST /api/argus/rules/reload`: reads the rule files again now (as SIGHUP and a
/// change of the files do). 200 with the outcome; 400 with every problem (file, line,
/// reason) when a file does not load, and the running rules stay.
/// `GET` answers how the last reload went.
pub async fn reload_rules(
    State(state): State<AppState>,
    method: axum::http::Method,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let status = if method == axum::http::Method::GET {
        state.alerting.last_reload()
    } else {
        state.alerting.reload().await
    };
    let code = if status.ok || method == axum::http::Method::GET {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((
        code,
        Json(json!({ "status": if status.ok { "success" } else { "error" }, "data": status })),
    ))
}

/// `GET /api/argus/notifier/config` (admin): the notifier's configuration in force, with
/// its secrets, and where it came from (`api`, `file` or `built-in`).
pub async fn get_notifier_config(State(state): State<AppState>) -> Json<Value> {
    let n = &state.alerting.notifier;
    let mut source = serde_json::to_value(n.config_source()).unwrap_or_default();
    source["text"] = n.config_text().into();
    Json(json!({ "status": "success", "data": source }))
}

/// `PUT /api/argus/notifier/config` (admin): an Alertmanager configuration as the body
/// (YAML), checked, kept and put in force on every server, in place of the file. One
/// that does not load is a 400 naming its line and reason, and nothing changes.
pub async fn put_notifier_config(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    bytes: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("body: not UTF-8: {e}")))?;
    let before = state.alerting.notifier.config_text_masked();
    state
        .alerting
        .notifier
        .set_config(text, &access.actor())
        .await?;
    audited(
        &state,
        &access,
        "update",
        "notifier_config",
        "notifier",
        Some(json!({ "before": before, "after": crate::alerting::notifier::masked(text) })),
    )
    .await;
    Ok(get_notifier_config(State(state)).await)
}

/// `DELETE /api/argus/notifier/config` (admin): back to `[alerting] notifier_file`.
pub async fn delete_notifier_config(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
) -> Result<StatusCode, ApiError> {
    state
        .alerting
        .notifier
        .remove_config(&access.actor())
        .await?;
    audited(
        &state,
        &access,
        "delete",
        "notifier_config",
        "notifier",
        None,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/argus/receivers`: the receivers of the notifier file and their channels.
pub async fn receivers(State(state): State<AppState>) -> Json<Value> {
    let list: Vec<Value> = state
        .alerting
        .notifier
        .receivers()
        .into_iter()
        .map(|(name, channels)| json!({ "name": name, "channels": channels }))
        .collect();
    Json(json!({ "status": "success", "data": list }))
}

/// `POST /api/argus/receivers/{name}/test`: a test notification through each channel of
/// the receiver, and how each went (200 when all were delivered, 502 when one failed).
pub async fn test_receiver(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let outcomes = state
        .alerting
        .notifier
        .test_receiver(&name)
        .await
        .ok_or_else(|| ApiError::Missing(format!("no receiver {name:?} with channels")))?;
    let ok = outcomes.iter().all(|o| o["ok"] == true);
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::BAD_GATEWAY
    };
    Ok((
        code,
        Json(json!({ "status": if ok { "success" } else { "error" }, "data": outcomes })),
    ))
}
