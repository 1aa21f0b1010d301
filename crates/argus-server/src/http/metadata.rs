//! The Prometheus metadata endpoints: `/api/v1/labels`, `/api/v1/label/<name>/values`,
//! `/api/v1/metadata`, `/api/v1/query_exemplars`, `/api/v1/rules`, `/api/v1/alerts` and
//! `/api/v1/status/buildinfo`, in Prometheus 2.42's shapes.

use super::prom::{
    PromError, blocking, check_series_limit, json_response, limit_param, scoped, time_param,
};
use crate::ingest::rules::valid_label_name;
use crate::query::params::Params;
use crate::query::selector::parse_selector;
use crate::state::AppState;
use crate::store::tokens::Access;
use argus_core::{Labels, MatchOp, Matcher};
use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use std::collections::BTreeSet;

/// The version of the Prometheus HTTP API Argus answers like, reported by buildinfo so
/// clients (Grafana) enable the features of that version.
pub const PROMETHEUS_API_VERSION: &str = "2.42.0";

/// The matcher sets of the `match[]` parameters; none given: every series (every series
/// has a name). Prometheus's labels and label-values endpoints report a bad selector
/// without naming the parameter.
fn match_sets(p: &Params) -> Result<Vec<Vec<Matcher>>, PromError> {
    let mut sets = Vec::new();
    for m in p.all("match[]") {
        let s = parse_selector(m).map_err(PromError::bad_data)?;
        if s.range_ms.is_some() {
            return Err(PromError::bad_data(format!(
                "{m:?}: a range selector is not a series selector"
            )));
        }
        sets.push(s.matchers);
    }
    if sets.is_empty() {
        let all = Matcher::new("__name__", MatchOp::RegexMatch, ".+")
            .map_err(|e| PromError::internal(e.to_string()))?;
        sets.push(vec![all]);
    }
    Ok(sets)
}

/// The label sets of the series the request selects, over its `start`..`end`.
async fn selected(state: &AppState, access: &Access, p: &Params) -> Result<Vec<Labels>, PromError> {
    let sets = match_sets(p)?;
    let start = time_param(p, "start", i64::MIN / 2)?;
    let end = time_param(p, "end", i64::MAX / 2)?;
    let store = scoped(state, access)?;
    let max = state.query.max_series;
    blocking(move || {
        let mut out = Vec::new();
        for m in sets {
            out.extend(store.series(&m, start, end)?);
            check_series_limit(out.len(), max)?;
        }
        Ok(out)
    })
    .await
}

fn strings_response(items: BTreeSet<String>, limit: Option<usize>) -> Response {
    let items: Vec<String> = match limit {
        Some(l) => items.into_iter().take(l).collect(),
        None => items.into_iter().collect(),
    };
    let body = serde_json::json!({ "status": "success", "data": items });
    json_response(body.to_string())
}

/// `/api/v1/labels`: the sorted label names of the selected series.
pub async fn labels(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    p: Params,
) -> Result<Response, PromError> {
    let limit = limit_param(&p)?;
    let result = selected(&state, &access, &p).await.map(|series| {
        let names: BTreeSet<String> = series
            .iter()
            .flat_map(|l| l.iter().map(|x| x.name.clone()))
            .collect();
        strings_response(names, limit)
    });
    state.telemetry.query_result("labels", result)
}

/// `/api/v1/label/<name>/values`: the sorted values of one label over the selected series.
pub async fn label_values(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(name): Path<String>,
    p: Params,
) -> Result<Response, PromError> {
    if !valid_label_name(&name) {
        return Err(PromError::bad_data(format!("invalid label name: {name:?}")));
    }
    let limit = limit_param(&p)?;
    let result = selected(&state, &access, &p).await.map(|series| {
        let values: BTreeSet<String> = series
            .iter()
            .filter_map(|l| l.get(&name).map(str::to_string))
            .collect();
        strings_response(values, limit)
    });
    state.telemetry.query_result("label_values", result)
}

/// `/api/v1/metadata`: Argus keeps no metric metadata (TYPE, HELP, UNIT are not stored
/// by any ingest path), so the answer is always the empty object Prometheus gives for
/// unknown metrics. The parameters are still checked as Prometheus checks them.
pub async fn metadata(p: Params) -> Result<Response, PromError> {
    if let Some(s) = p.get("limit").filter(|s| !s.is_empty())
        && s.parse::<i64>().is_err()
    {
        return Err(PromError::bad_data("limit must be a number"));
    }
    Ok(json_response(
        r#"{"status":"success","data":{}}"#.to_string(),
    ))
}

/// `/api/v1/query_exemplars`: Argus stores no exemplars, so the answer is the empty list
/// Prometheus gives without exemplar storage; the parameters are checked as it checks
/// them (Grafana asks when a query has *Exemplars* on).
pub async fn query_exemplars(p: Params) -> Result<Response, PromError> {
    let start = time_param(&p, "start", i64::MIN / 2)?;
    let end = time_param(&p, "end", i64::MAX / 2)?;
    if end < start {
        return Err(PromError::bad_data(
            "end timestamp must not be before start timestamp",
        ));
    }
    argus_promql::Engine::check_syntax(p.get("query").unwrap_or(""))
        .map_err(|e| PromError::bad_data(e.to_string()))?;
    Ok(json_response(r#"{"status":"success","data":[]}"#.into()))
}

/// `/api/v1/rules[?type=alert|record]`: the rule groups, their rules and alerts, as
/// Prometheus answers it.
pub async fn rules(State(state): State<AppState>, p: Params) -> Result<Response, PromError> {
    let typ = p.get("type").map(str::to_lowercase);
    let m = state
        .alerting
        .rules
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    match argus_rules::api::rules_json(&m, typ.as_deref().filter(|t| !t.is_empty())) {
        Ok(body) => Ok(json_response(body)),
        Err(e) => Err(PromError::bad_data(format!(
            "invalid parameter {:?}: {}",
            e.param, e.message
        ))),
    }
}

/// `/api/v1/alerts`: the pending and firing alerts of the rules, as Prometheus answers it.
pub async fn alerts(State(state): State<AppState>) -> Response {
    let m = state
        .alerting
        .rules
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    json_response(argus_rules::api::alerts_json(&m))
}

/// `/api/v1/status/buildinfo`, in Prometheus's shape. `version` is the Prometheus API
/// version Argus is compatible with (Grafana reads it to pick query features); Argus's
/// own version is in `revision` and in the extra `argusVersion`.
pub async fn buildinfo() -> Response {
    let v = env!("CARGO_PKG_VERSION");
    let body = serde_json::json!({
        "status": "success",
        "data": {
            "version": PROMETHEUS_API_VERSION,
            "revision": format!("argus-{v}"),
            "branch": "argus",
            "buildUser": "argus",
            "buildDate": "",
            "goVersion": "",
            "argusVersion": v,
        }
    });
    json_response(body.to_string())
}
