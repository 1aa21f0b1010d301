//! The analysis API under `/api/argus/`: JSON for the dashboard and for scripts, built on the
//! PromQL engine.
//!
//! - `GET /api/argus/analysis/by-label`: a metric or expression for every host whose series
//!   carry a label value (`location="dc1"`, a global label of the agent), per host.
//! - `GET /api/argus/analysis/top`: the top N groups (hosts by default) by an expression,
//!   averaged over a range or at one instant.
//! - `GET /api/argus/hosts/{host}/summary`: the latest cpu, memory, disk, network, load and
//!   uptime of one host, from the metric names the agent's inputs emit ([`summary`]).
//!
//! Range results are downsampled automatically ([`downsample`]). Every endpoint is scoped to
//! the token's namespace like the Prometheus query API. Errors name the parameter and the
//! reason ([`AnalysisError`]). The shapes are documented in `docs/api.md`; the request
//! handlers are in `crate::http::analysis`.

pub mod downsample;
pub mod summary;
#[cfg(test)]
mod tests;

use crate::query::params::{Params, parse_duration_ms, parse_time};
use crate::storage::scoped::Scoped;
use argus_core::{Labels, Matcher, Storage, TimeSeries};
use argus_promql::{Engine, EngineOptions, QueryError, Value};
use downsample::Grid;
use serde_json::{Value as Json, json};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Points per series when the request does not say.
pub const DEFAULT_MAX_POINTS: i64 = 1000;
/// The most points per series a request may ask for (the engine's own limit).
pub const MAX_MAX_POINTS: i64 = 11_000;
/// Range of a request that gives no `start`.
const DEFAULT_RANGE_MS: i64 = 3_600_000;
/// The shortest window of a `*_over_time` downsampling function: on fine grids a window of
/// one step would often hold no sample of a series scraped every 10–60 s.
pub const MIN_WINDOW_MS: i64 = 60_000;
/// The most groups `top` may return.
const MAX_TOP_N: usize = 10_000;

/// Why an analysis request failed, naming the request parameter at fault when there is
/// one. The HTTP layer answers it `{"status":"error","error":…,"param":…}`.
#[derive(Debug)]
pub struct AnalysisError {
    pub fault: Fault,
    pub param: Option<&'static str>,
    pub message: String,
}

/// What kind of failure an [`AnalysisError`] is.
#[derive(Debug)]
pub enum Fault {
    /// A request parameter is wrong (`param` says which).
    BadParam,
    /// Nothing matches what was asked for.
    NotFound,
    /// The engine failed on a valid expression (a limit, the timeout, storage).
    Engine(QueryError),
    Internal,
}

impl AnalysisError {
    pub fn param(param: &'static str, reason: impl std::fmt::Display) -> Self {
        AnalysisError {
            fault: Fault::BadParam,
            param: Some(param),
            message: format!("invalid parameter {param:?}: {reason}"),
        }
    }

    pub fn not_found(message: String) -> Self {
        AnalysisError {
            fault: Fault::NotFound,
            param: None,
            message,
        }
    }

    pub fn internal(message: String) -> Self {
        AnalysisError {
            fault: Fault::Internal,
            param: None,
            message,
        }
    }

    /// An engine error on the expression given as `param`.
    pub fn query(param: &'static str, e: QueryError) -> Self {
        match e {
            QueryError::Parse(m) => AnalysisError::param(param, m),
            other => AnalysisError {
                param: None,
                message: other.to_string(),
                fault: Fault::Engine(other),
            },
        }
    }
}

type Result<T> = std::result::Result<T, AnalysisError>;

/// The engine over `store` with the server's query options (`[query]`: lookback, limits,
/// timeout).
pub fn engine(store: Arc<dyn Storage>, opts: &EngineOptions) -> Engine {
    Engine::new(store, opts.clone())
}

// ---- parameters ------------------------------------------------------------------------

fn opt<'a>(p: &'a Params, key: &str) -> Option<&'a str> {
    p.get(key).filter(|s| !s.is_empty())
}

fn required<'a>(p: &'a Params, key: &'static str) -> Result<&'a str> {
    opt(p, key).ok_or_else(|| AnalysisError::param(key, "missing"))
}

fn time(p: &Params, key: &'static str) -> Result<Option<i64>> {
    opt(p, key)
        .map(|s| parse_time(s).map_err(|e| AnalysisError::param(key, e)))
        .transpose()
}

fn label_name(p: &'static str, s: &str) -> Result<String> {
    let mut chars = s.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(s.to_string())
    } else {
        Err(AnalysisError::param(
            p,
            format!("{s:?} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)"),
        ))
    }
}

/// `start`, `end` (default: the last hour until now), `max_points` and `step` (a minimum)
/// as a downsampled grid.
pub fn range_grid(p: &Params, now: i64) -> Result<Grid> {
    let end = time(p, "end")?.unwrap_or(now);
    let start = time(p, "start")?.unwrap_or(end - DEFAULT_RANGE_MS);
    if end < start {
        return Err(AnalysisError::param("end", "before start"));
    }
    let max_points = match opt(p, "max_points") {
        None => DEFAULT_MAX_POINTS,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (2..=MAX_MAX_POINTS).contains(&n) => n,
            _ => {
                return Err(AnalysisError::param(
                    "max_points",
                    format!("{s:?} is not a count from 2 to {MAX_MAX_POINTS}"),
                ));
            }
        },
    };
    let min_step = match opt(p, "step") {
        None => 0,
        Some(s) => match parse_duration_ms(s) {
            Ok(ms) if ms > 0 => ms,
            Ok(_) => return Err(AnalysisError::param("step", "must be above zero")),
            Err(e) => return Err(AnalysisError::param("step", e)),
        },
    };
    Ok(downsample::grid(start, end, max_points, min_step))
}

// ---- JSON ------------------------------------------------------------------------------

/// A value as JSON: a number, or `null` for NaN and ±Inf (JSON has no such numbers).
fn num(v: f64) -> Json {
    if v.is_finite() { json!(v) } else { Json::Null }
}

/// Milliseconds as Unix seconds (with a fraction when needed), as the query API takes them.
fn secs(ms: i64) -> Json {
    if ms % 1000 == 0 {
        json!(ms / 1000)
    } else {
        json!(ms as f64 / 1000.0)
    }
}

fn grid_json(g: &Grid) -> Json {
    json!({ "start": secs(g.start), "end": secs(g.end), "step": g.step as f64 / 1000.0 })
}

fn series_json(s: &TimeSeries) -> Json {
    let points: Vec<Json> = s
        .samples
        .iter()
        .map(|x| json!([secs(x.ts), num(x.value)]))
        .collect();
    json!({ "host": s.labels.get("host"), "labels": s.labels, "points": points })
}

/// A matrix from a range evaluation (scalars come back as one series without labels).
fn matrix(v: Value) -> Vec<TimeSeries> {
    match v {
        Value::Matrix(m) => m,
        Value::Vector(v) => v
            .into_iter()
            .map(|(labels, ts, value)| TimeSeries {
                labels,
                samples: vec![argus_core::Sample { ts, value }],
            })
            .collect(),
        Value::Scalar { ts, v } => vec![TimeSeries {
            labels: Labels::default(),
            samples: vec![argus_core::Sample { ts, value: v }],
        }],
        Value::String { .. } => Vec::new(),
    }
}

// ---- by-label --------------------------------------------------------------------------

/// How `metric=` is downsampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Downsample {
    /// `<agg>_over_time(metric[max(step, 1m)])`.
    OverTime(&'static str),
    /// The plain selector: the newest sample within the lookback at each step.
    Last,
}

impl Downsample {
    fn parse(s: Option<&str>) -> Result<Self> {
        Ok(match s.unwrap_or("avg") {
            "avg" => Downsample::OverTime("avg"),
            "min" => Downsample::OverTime("min"),
            "max" => Downsample::OverTime("max"),
            "last" => Downsample::Last,
            other => {
                return Err(AnalysisError::param(
                    "downsample",
                    format!("{other:?} is not one of avg, min, max, last"),
                ));
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            Downsample::OverTime(f) => f,
            Downsample::Last => "last",
        }
    }
}

/// What `by-label` was asked.
#[derive(Debug, Clone)]
pub struct ByLabel {
    /// The PromQL evaluated (built from `metric=` or given as `expr=`).
    pub query: String,
    /// The request parameter the query came from, for errors.
    pub source: &'static str,
    pub label: String,
    pub value: String,
    pub grid: Grid,
    pub downsample: Option<Downsample>,
    /// Host names the inventory gives this label value (`location`, `group`), added to
    /// those whose series carry it.
    pub inventory_hosts: BTreeSet<String>,
}

impl ByLabel {
    pub fn from_params(p: &Params, now: i64) -> Result<Self> {
        let label = label_name("label", required(p, "label")?)?;
        let value = required(p, "value")?.to_string();
        let grid = range_grid(p, now)?;
        match (opt(p, "metric"), opt(p, "expr")) {
            (Some(_), Some(_)) => Err(AnalysisError::param(
                "expr",
                "give either metric or expr, not both",
            )),
            (None, None) => Err(AnalysisError::param("metric", "missing (or give expr)")),
            (None, Some(expr)) => Ok(ByLabel {
                inventory_hosts: BTreeSet::new(),
                query: expr.to_string(),
                source: "expr",
                label,
                value,
                grid,
                downsample: None,
            }),
            (Some(metric), None) => {
                let ds = Downsample::parse(opt(p, "downsample"))?;
                Ok(ByLabel {
                    inventory_hosts: BTreeSet::new(),
                    query: metric_query(metric, ds, grid.step)?,
                    source: "metric",
                    label,
                    value,
                    grid,
                    downsample: Some(ds),
                })
            }
        }
    }
}

/// `metric` (a series selector, without offset or @) downsampled as `ds` asks.
fn metric_query(metric: &str, ds: Downsample, step: i64) -> Result<String> {
    use promql_parser::parser::Expr;
    match promql_parser::parser::parse(metric) {
        Ok(Expr::VectorSelector(vs)) if vs.offset.is_none() && vs.at.is_none() => {}
        Ok(_) => {
            return Err(AnalysisError::param(
                "metric",
                "must be a series selector such as cpu_usage_idle{cpu=\"cpu-total\"} \
                 (without offset or @); use expr for anything else",
            ));
        }
        Err(e) => return Err(AnalysisError::param("metric", e.trim())),
    }
    Ok(match ds {
        Downsample::Last => metric.to_string(),
        Downsample::OverTime(f) => format!(
            "{f}_over_time({metric}[{}])",
            downsample::promql_duration(step.max(MIN_WINDOW_MS))
        ),
    })
}

/// The hosts whose series carry `label="value"` in `[start, end]`.
pub fn hosts_with(
    store: &dyn Storage,
    label: &str,
    value: &str,
    start: i64,
    end: i64,
) -> Result<BTreeSet<String>> {
    if label == "host" {
        return Ok(BTreeSet::from([value.to_string()]));
    }
    let series = store
        .series(&[Matcher::equal(label, value)], start, end)
        .map_err(|e| AnalysisError::internal(e.to_string()))?;
    Ok(series
        .iter()
        .filter_map(|l| l.get("host").map(str::to_string))
        .collect())
}

/// Evaluates a `by-label` request against `store`.
pub fn by_label(store: Arc<dyn Storage>, opts: &EngineOptions, req: &ByLabel) -> Result<Json> {
    let g = req.grid;
    let lookback_ms = opts.lookback_ms;
    let mut hosts = hosts_with(
        store.as_ref(),
        &req.label,
        &req.value,
        g.start - lookback_ms.max(MIN_WINDOW_MS),
        g.end,
    )?;
    hosts.extend(req.inventory_hosts.iter().cloned());
    let mut series = Vec::new();
    if !hosts.is_empty() {
        let filtered: Arc<dyn Storage> = Arc::new(
            Scoped::hosts(store, &hosts).map_err(|e| AnalysisError::internal(e.to_string()))?,
        );
        let v = engine(filtered, opts)
            .range(&req.query, g.start, g.end, g.step)
            .map_err(|e| AnalysisError::query(req.source, e))?;
        series = matrix(v);
    }
    let mut body = json!({
        "status": "success",
        "data": {
            "label": req.label,
            "value": req.value,
            "query": req.query,
            "hosts": hosts,
            "series": series.iter().map(series_json).collect::<Vec<_>>(),
        }
    });
    for (k, v) in grid_json(&g).as_object().into_iter().flatten() {
        body["data"][k] = v.clone();
    }
    if let Some(ds) = req.downsample {
        body["data"]["downsample"] = json!(ds.name());
    }
    Ok(body)
}

// ---- top -------------------------------------------------------------------------------

/// When `top` takes its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// The mean over the grid's steps of each group's value.
    Range(Grid),
    /// The value at one instant.
    At(i64),
}

/// What `top` was asked.
#[derive(Debug, Clone)]
pub struct Top {
    pub expr: String,
    pub n: usize,
    pub by: Vec<String>,
    pub ascending: bool,
    pub when: When,
}

impl Top {
    pub fn from_params(p: &Params, now: i64) -> Result<Self> {
        let expr = required(p, "expr")?.to_string();
        let n = match opt(p, "n") {
            None => 10,
            Some(s) => match s.parse::<usize>() {
                Ok(n) if (1..=MAX_TOP_N).contains(&n) => n,
                _ => {
                    return Err(AnalysisError::param(
                        "n",
                        format!("{s:?} is not a count from 1 to {MAX_TOP_N}"),
                    ));
                }
            },
        };
        let by = opt(p, "by")
            .unwrap_or("host")
            .split(',')
            .map(|l| label_name("by", l.trim()))
            .collect::<Result<Vec<_>>>()?;
        let ascending = match opt(p, "order").unwrap_or("desc") {
            "desc" => false,
            "asc" => true,
            other => {
                return Err(AnalysisError::param(
                    "order",
                    format!("{other:?} is not desc or asc"),
                ));
            }
        };
        let ranged = opt(p, "start").is_some() || opt(p, "end").is_some();
        let when = match (time(p, "time")?, ranged) {
            (Some(_), true) => {
                return Err(AnalysisError::param(
                    "time",
                    "give either time or start and end, not both",
                ));
            }
            (Some(t), false) => When::At(t),
            (None, false) => When::At(now),
            (None, true) => {
                if opt(p, "start").is_none() {
                    return Err(AnalysisError::param("start", "missing (end is given)"));
                }
                When::Range(range_grid(p, now)?)
            }
        };
        Ok(Top {
            expr,
            n,
            by,
            ascending,
            when,
        })
    }

    /// The expression evaluated: the groups' average of `expr` at each step.
    pub fn query(&self) -> String {
        format!("avg by ({}) ({})", self.by.join(", "), self.expr)
    }
}

/// Evaluates a `top` request against `store`.
pub fn top(store: Arc<dyn Storage>, opts: &EngineOptions, req: &Top) -> Result<Json> {
    let engine = engine(store, opts);
    let q = req.query();
    // (labels, value, points that went into it)
    let mut groups: Vec<(Labels, f64, usize)> = match req.when {
        When::At(t) => match engine
            .instant(&q, t)
            .map_err(|e| AnalysisError::query("expr", e))?
        {
            Value::Vector(v) => v.into_iter().map(|(l, _, v)| (l, v, 1)).collect(),
            _ => {
                return Err(AnalysisError::param("expr", "must give an instant vector"));
            }
        },
        When::Range(g) => matrix(
            engine
                .range(&q, g.start, g.end, g.step)
                .map_err(|e| AnalysisError::query("expr", e))?,
        )
        .into_iter()
        .filter_map(|s| {
            let vals: Vec<f64> = s
                .samples
                .iter()
                .map(|x| x.value)
                .filter(|v| !v.is_nan())
                .collect();
            (!vals.is_empty()).then(|| {
                let mean = vals.iter().sum::<f64>() / vals.len() as f64;
                (s.labels, mean, vals.len())
            })
        })
        .collect(),
    };
    groups.retain(|g| !g.1.is_nan());
    groups.sort_by(|a, b| {
        let o = if req.ascending {
            a.1.total_cmp(&b.1)
        } else {
            b.1.total_cmp(&a.1)
        };
        o.then_with(|| a.0.cmp(&b.0))
    });
    let total = groups.len();
    groups.truncate(req.n);
    let result: Vec<Json> = groups
        .iter()
        .map(|(labels, v, n)| {
            let mut e = json!({ "labels": labels, "value": num(*v), "points": n });
            if let Some(h) = labels.get("host") {
                e["host"] = json!(h);
            }
            e
        })
        .collect();
    let mut data = json!({
        "query": q,
        "by": req.by,
        "order": if req.ascending { "asc" } else { "desc" },
        "groups": total,
        "result": result,
    });
    match req.when {
        When::At(t) => {
            data["mode"] = json!("instant");
            data["time"] = secs(t);
        }
        When::Range(g) => {
            data["mode"] = json!("range_avg");
            for (k, v) in grid_json(&g).as_object().into_iter().flatten() {
                data[k] = v.clone();
            }
        }
    }
    Ok(json!({ "status": "success", "data": data }))
}

// ---- summary ---------------------------------------------------------------------------

// ---- summary ---------------------------------------------------------------------------

/// The time a summary of `host` is asked for (the request's `time`, default `now`),
/// once `host` and `time` are checked.
pub fn summary_time(host: &str, p: &Params, now: i64) -> Result<i64> {
    if host.is_empty() {
        return Err(AnalysisError::param("host", "empty"));
    }
    Ok(time(p, "time")?.unwrap_or(now))
}

/// The summary of `host` at `at`: the latest figures of each kind, or not found when the
/// host has no metric within the lookback.
pub fn host_summary(
    store: Arc<dyn Storage>,
    opts: &EngineOptions,
    host: &str,
    at: i64,
) -> Result<Json> {
    let s = summary::summary(store, opts, host, at)?;
    if s.is_empty() {
        return Err(AnalysisError::not_found(format!(
            "no metric of host {host:?} within {} s before {}",
            opts.lookback_ms / 1000,
            at as f64 / 1000.0
        )));
    }
    Ok(json!({ "status": "success", "data": s.to_json(host, at) }))
}
