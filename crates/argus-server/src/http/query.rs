//! The Prometheus query endpoints: `/api/v1/query`, `/api/v1/query_range` and
//! `/api/v1/series`. Queries are evaluated by the `argus-promql` engine over the store as
//! the request's token may see it, on a blocking thread, and stop when the client goes
//! away.

use super::prom::{
    PromError, blocking, check_series_limit, json_response, limit_param, required, scoped,
    time_param,
};
use crate::query::format::value_json;
use crate::query::params::{Params, parse_duration_ms, parse_time};
use crate::query::selector::parse_selector;
use crate::state::AppState;
use crate::store::tokens::Access;
use argus_core::{Labels, now_ms};
use argus_promql::{Engine, EngineOptions, QueryError, Value};
use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The engine over the store as `access` may see it, with the configured limits; a
/// `timeout` parameter shortens the configured timeout (never lengthens it).
fn engine(state: &AppState, access: &Access, p: &Params) -> Result<Engine, PromError> {
    let mut opts: EngineOptions = state.query.clone();
    if let Some(s) = p.get("timeout").filter(|s| !s.is_empty()) {
        let ms = parse_duration_ms(s)
            .map_err(|e| PromError::bad_data(format!("invalid parameter \"timeout\": {e}")))?;
        if ms < 0 {
            return Err(PromError::bad_data(format!(
                "invalid parameter \"timeout\": {s:?} is negative"
            )));
        }
        opts.timeout = opts.timeout.min(Duration::from_millis(ms as u64));
    }
    Ok(Engine::new(scoped(state, access)?, opts))
}

/// A Prometheus error for an engine error. `wrap_parse`: an instant query names the
/// `query` parameter in parse errors, as Prometheus does; a range query does not.
fn engine_error(e: QueryError, wrap_parse: bool) -> PromError {
    let status = axum::http::StatusCode::from_u16(e.http_status())
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    let message = match &e {
        QueryError::Parse(m) if wrap_parse => format!("invalid parameter \"query\": {m}"),
        other => other.to_string(),
    };
    PromError {
        status,
        kind: e.prometheus_type(),
        message,
    }
}

/// Runs a query on a blocking thread: evaluation reads files and may take long. When the
/// client goes away, the server drops this future; the evaluation then stops at its next
/// check instead of running on to its timeout, and counts as `canceled`.
async fn evaluate(
    state: &AppState,
    endpoint: &'static str,
    engine: Engine,
    f: impl FnOnce(&Engine) -> Result<Value, QueryError> + Send + 'static,
    wrap_parse: bool,
) -> Result<Value, PromError> {
    /// Sets the flag when dropped: when the request's future is.
    struct CancelOnDrop(Arc<AtomicBool>);
    impl Drop for CancelOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let flag = Arc::new(AtomicBool::new(false));
    let _cancel = CancelOnDrop(flag.clone());
    let engine = engine.with_cancel(flag);
    let telemetry = state.telemetry.clone();
    tokio::task::spawn_blocking(move || {
        let _running = telemetry.query_running();
        let r = f(&engine);
        if let Err(QueryError::Canceled(_)) = &r {
            telemetry.query(endpoint, "canceled");
        }
        r
    })
    .await
    .map_err(|e| PromError::internal(e.to_string()))?
    .map_err(|e| engine_error(e, wrap_parse))
}

/// Range bounds the engine refuses, named by their parameter as Prometheus names them.
fn range_error(e: argus_promql::RangeError) -> PromError {
    match e.param {
        Some(param) => PromError::bad_data(format!("invalid parameter {param:?}: {}", e.message)),
        None => PromError::bad_data(e.message),
    }
}

pub async fn query(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    p: Params,
) -> Result<Response, PromError> {
    let result = async {
        let q = required(&p, "query")?.to_string();
        let t = time_param(&p, "time", now_ms())?;
        let engine = engine(&state, &access, &p)?;
        let v = evaluate(&state, "query", engine, move |e| e.instant(&q, t), true).await?;
        Ok(json_response(value_json(&v)))
    }
    .await;
    state.telemetry.query_result("query", result)
}

pub async fn query_range(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    p: Params,
) -> Result<Response, PromError> {
    let result = async {
        let time = |key| {
            parse_time(required(&p, key)?)
                .map_err(|e| PromError::bad_data(format!("invalid parameter {key:?}: {e}")))
        };
        let (start, end) = (time("start")?, time("end")?);
        argus_promql::check_bounds(start, end).map_err(range_error)?;
        let step = parse_duration_ms(required(&p, "step")?)
            .map_err(|e| PromError::bad_data(format!("invalid parameter \"step\": {e}")))?;
        argus_promql::check_step(start, end, step).map_err(range_error)?;
        let q = required(&p, "query")?.to_string();
        let engine = engine(&state, &access, &p)?;
        let v = evaluate(
            &state,
            "query_range",
            engine,
            move |e| e.range(&q, start, end, step),
            false,
        )
        .await?;
        Ok(json_response(value_json(&v)))
    }
    .await;
    state.telemetry.query_result("query_range", result)
}

pub async fn series(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    p: Params,
) -> Result<Response, PromError> {
    let mut selections = Vec::new();
    for m in p.all("match[]") {
        let s = parse_selector(m)
            .map_err(|e| PromError::bad_data(format!("invalid parameter \"match[]\": {e}")))?;
        if s.range_ms.is_some() {
            return Err(PromError::bad_data(
                "invalid parameter \"match[]\": a range selector is not a series selector",
            ));
        }
        selections.push(s);
    }
    if selections.is_empty() {
        return Err(PromError::bad_data("no match[] parameter provided"));
    }
    let start = time_param(&p, "start", i64::MIN / 2)?;
    let end = time_param(&p, "end", i64::MAX / 2)?;
    let limit = limit_param(&p)?;
    let store = scoped(&state, &access)?;
    let max = state.query.max_series;
    let mut all: Vec<Labels> = blocking(move || {
        let mut out = Vec::new();
        for s in selections {
            out.extend(store.series(&s.matchers, start, end)?);
            check_series_limit(out.len(), max)?;
        }
        Ok(out)
    })
    .await?;
    all.sort();
    all.dedup();
    if let Some(l) = limit {
        all.truncate(l);
    }
    state.telemetry.query("series", "ok");
    let body = serde_json::json!({ "status": "success", "data": all });
    Ok(json_response(body.to_string()))
}
