//! The analysis endpoints (`/api/argus/analysis/by-label`, `/api/argus/analysis/top`,
//! `/api/argus/hosts/{host}/summary`): JSON for the dashboard and scripts, computed by
//! [`crate::query::analysis`] over the store as the token may see it.

use crate::query::analysis::{self, AnalysisError, ByLabel, Fault, Top};
use crate::query::params::Params;
use crate::state::AppState;
use crate::storage::scoped::for_namespaces;
use crate::store::hosts::HostQuery;
use crate::store::tokens::Access;
use argus_core::{Storage, now_ms};
use argus_promql::EngineOptions;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};
use std::sync::Arc;

impl IntoResponse for AnalysisError {
    fn into_response(self) -> Response {
        let status = match &self.fault {
            Fault::BadParam => StatusCode::BAD_REQUEST,
            Fault::NotFound => StatusCode::NOT_FOUND,
            Fault::Engine(e) => {
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            Fault::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut body = json!({ "status": "error", "error": self.message });
        if let Some(p) = self.param {
            body["param"] = json!(p);
        }
        (status, axum::Json(body)).into_response()
    }
}

/// Runs `f` over the store as `access` may see it, on a blocking thread (the engine reads
/// files), and counts the request under `endpoint`.
async fn answer(
    state: &AppState,
    access: &Access,
    endpoint: &'static str,
    f: impl FnOnce(Arc<dyn Storage>, &EngineOptions) -> Result<Json, AnalysisError> + Send + 'static,
) -> Result<Response, AnalysisError> {
    let result = async {
        let store = for_namespaces(&state.store, access.namespaces.as_deref())
            .map_err(|e| AnalysisError::internal(e.to_string()))?;
        let opts = state.query.clone();
        let body = tokio::task::spawn_blocking(move || f(store, &opts))
            .await
            .map_err(|e| AnalysisError::internal(e.to_string()))??;
        Ok(axum::Json(body).into_response())
    }
    .await;
    state.telemetry.query_result(endpoint, result)
}

pub async fn by_label(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    p: Params,
) -> Result<Response, AnalysisError> {
    let mut req = ByLabel::from_params(&p, now_ms())?;
    // Inventory fields find hosts whose series do not carry them.
    let q = match req.label.as_str() {
        "location" => Some(HostQuery {
            location: Some(req.value.clone()),
            ..HostQuery::default()
        }),
        "group" => Some(HostQuery {
            group: Some(req.value.clone()),
            ..HostQuery::default()
        }),
        _ => None,
    };
    if let Some(mut q) = q {
        q.limit = 10_000;
        q.namespaces = access
            .namespaces
            .as_deref()
            .map(|n| n.iter().map(|n| n.to_string()).collect());
        let page = state
            .hosts
            .list(&q)
            .await
            .map_err(|e| AnalysisError::internal(format!("inventory: {e}")))?;
        req.inventory_hosts = page.hosts.into_iter().map(|h| h.hostname).collect();
    }
    answer(&state, &access, "analysis_by_label", move |store, opts| {
        analysis::by_label(store, opts, &req)
    })
    .await
}

pub async fn top(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    p: Params,
) -> Result<Response, AnalysisError> {
    let req = Top::from_params(&p, now_ms())?;
    answer(&state, &access, "analysis_top", move |store, opts| {
        analysis::top(store, opts, &req)
    })
    .await
}

pub async fn summary(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(host): Path<String>,
    p: Params,
) -> Result<Response, AnalysisError> {
    let at = analysis::summary_time(&host, &p, now_ms())?;
    answer(&state, &access, "analysis_summary", move |store, opts| {
        analysis::host_summary(store, opts, &host, at)
    })
    .await
}
