//! PromQL evaluation over the Argus [`Storage`] trait, with the semantics of Prometheus 2.42.
//!
//! A query is parsed by `promql-parser` and evaluated by hand here. The evaluator is
//! **columnar**: every expression node is evaluated once for *all* steps of the query,
//! producing per series one optional value per step. A selector therefore reads storage
//! once for the whole range (plus lookback, range and offset) and walks its samples with
//! cursors; aggregations and vector matching compute their grouping and matching
//! signatures once per series, not once per step.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # fn demo(storage: Arc<dyn argus_core::Storage>) -> Result<(), argus_promql::QueryError> {
//! use argus_promql::{Engine, EngineOptions, Value};
//! let engine = Engine::new(storage, EngineOptions::default());
//! let now = argus_core::now_ms();
//! if let Value::Matrix(series) =
//!     engine.range("avg by (host) (rate(net_bytes_recv[5m]))", now - 3_600_000, now, 30_000)?
//! {
//!     println!("{} series", series.len());
//! }
//! # Ok(()) }
//! ```
//!
//! See `docs/promql.md` for what is supported and the few deliberate differences.

mod aggregate;
mod binary;
mod eval;
mod functions;
mod time;

#[cfg(test)]
mod tests;

use argus_core::{Labels, Storage, StorageError, TimeSeries};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Tunables of an [`Engine`]. Every limit is per query.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (Prometheus's
    /// `--query.lookback-delta`, 5 minutes by default).
    pub lookback_ms: i64,
    /// The most samples a query may load from storage and hold in intermediate
    /// results, counted together (Prometheus's `--query.max-samples`).
    pub max_samples: usize,
    /// The most series a query may select from storage, over all its selectors.
    pub max_series: usize,
    /// Wall-clock time after which evaluation stops with [`QueryError::Timeout`].
    pub timeout: Duration,
    /// The step of a subquery written without one (`x[1h:]`): Prometheus's global
    /// `evaluation_interval`, 1 minute by default.
    pub subquery_step_ms: i64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_ms: 5 * 60 * 1000,
            max_samples: 50_000_000,
            max_series: 1_000_000,
            timeout: Duration::from_secs(120),
            subquery_step_ms: 60 * 1000,
        }
    }
}

/// A query parsed once ([`Engine::prepare`]).
#[derive(Debug, Clone)]
pub struct Prepared {
    expr: promql_parser::parser::Expr,
    names: Option<std::collections::BTreeSet<String>>,
}

impl Prepared {
    /// The metric names the query can read, or None when a selector can match series of
    /// any name (`{job="x"}`, `{__name__=~"a|b"}`). Rule evaluation uses it to know whether
    /// a rule can see what an earlier rule of its group wrote.
    pub fn metric_names(&self) -> Option<&std::collections::BTreeSet<String>> {
        self.names.as_ref()
    }
}

/// Adds the metric names `e`'s selectors fix to `names`; sets it to None for a selector
/// that fixes none.
fn metric_names(
    e: &promql_parser::parser::Expr,
    names: &mut Option<std::collections::BTreeSet<String>>,
) {
    use promql_parser::label::MatchOp;
    use promql_parser::parser::{Expr, VectorSelector};
    let selector = |vs: &VectorSelector, names: &mut Option<std::collections::BTreeSet<String>>| {
        let fixed = vs.name.clone().or_else(|| {
            vs.matchers
                .matchers
                .iter()
                .find(|m| m.name == argus_core::METRIC_NAME && matches!(m.op, MatchOp::Equal))
                .map(|m| m.value.clone())
        });
        match (fixed, names.as_mut()) {
            (Some(n), Some(set)) => {
                set.insert(n);
            }
            _ => *names = None,
        }
    };
    match e {
        Expr::Aggregate(a) => {
            metric_names(&a.expr, names);
            if let Some(p) = &a.param {
                metric_names(p, names);
            }
        }
        Expr::Unary(u) => metric_names(&u.expr, names),
        Expr::Binary(b) => {
            metric_names(&b.lhs, names);
            metric_names(&b.rhs, names);
        }
        Expr::Paren(p) => metric_names(&p.expr, names),
        Expr::Subquery(s) => metric_names(&s.expr, names),
        Expr::VectorSelector(vs) => selector(vs, names),
        Expr::MatrixSelector(ms) => selector(&ms.vs, names),
        Expr::Call(c) => {
            for a in &c.args.args {
                metric_names(a, names);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
        Expr::Extension(_) => *names = None,
    }
}

/// The result of a query.
///
/// Ordering: an instant query's vector is in Prometheus's evaluation order (so `sort` and
/// `sort_desc` results come back in their order, aggregations in order of first appearance
/// of their groups). A range query's matrix, and a matrix from an instant query, are sorted
/// by labels, as Prometheus's HTTP API returns them.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar {
        ts: i64,
        v: f64,
    },
    String {
        ts: i64,
        s: String,
    },
    /// `(labels, timestamp in ms, value)` per series.
    Vector(Vec<(Labels, i64, f64)>),
    Matrix(Vec<TimeSeries>),
}

/// Why a query failed. Each kind maps to one Prometheus `errorType` and HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query or its parameters are malformed (`bad_data`, 400).
    #[error("{0}")]
    Parse(String),
    /// Evaluation failed, e.g. many-to-many matching (`execution`, 422).
    #[error("{0}")]
    Execution(String),
    /// A limit of [`EngineOptions`] or of the storage was hit (`execution`, 422).
    #[error("{0}")]
    Limit(String),
    /// The query ran longer than [`EngineOptions::timeout`] (`timeout`, 503).
    #[error("{0}")]
    Timeout(String),
    /// The caller gave up on the query (the client went away): `canceled`, 499 as
    /// Prometheus answers (nobody reads it).
    #[error("{0}")]
    Canceled(String),
    /// The storage failed (`internal`, 500).
    #[error("{0}")]
    Storage(StorageError),
}

impl QueryError {
    /// Prometheus's `errorType` for this error.
    pub fn prometheus_type(&self) -> &'static str {
        match self {
            QueryError::Parse(_) => "bad_data",
            QueryError::Execution(_) | QueryError::Limit(_) => "execution",
            QueryError::Timeout(_) => "timeout",
            QueryError::Canceled(_) => "canceled",
            QueryError::Storage(_) => "internal",
        }
    }

    /// The HTTP status Prometheus answers this error with.
    pub fn http_status(&self) -> u16 {
        match self {
            QueryError::Parse(_) => 400,
            QueryError::Execution(_) | QueryError::Limit(_) => 422,
            QueryError::Timeout(_) => 503,
            QueryError::Canceled(_) => 499,
            QueryError::Storage(_) => 500,
        }
    }
}

impl From<StorageError> for QueryError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Limit(m) => QueryError::Limit(m),
            e @ StorageError::OverRead { .. } => QueryError::Limit(e.to_string()),
            other => QueryError::Storage(other),
        }
    }
}

/// Prometheus's cap on the points of one range-query series.
const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// Range-query bounds Prometheus refuses, with the request parameter at fault when one
/// is (`end`, `step`), so an HTTP API can name it as Prometheus does. Checked here once,
/// for every caller of [`Engine::range`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RangeError {
    pub param: Option<&'static str>,
    pub message: &'static str,
}

/// `end` must not be before `start`.
pub fn check_bounds(start_ms: i64, end_ms: i64) -> Result<(), RangeError> {
    if end_ms < start_ms {
        return Err(RangeError {
            param: Some("end"),
            message: "end timestamp must not be before start time",
        });
    }
    Ok(())
}

/// The step must be positive, and give at most 11 000 points per series.
pub fn check_step(start_ms: i64, end_ms: i64, step_ms: i64) -> Result<(), RangeError> {
    if step_ms <= 0 {
        return Err(RangeError {
            param: Some("step"),
            message: "zero or negative query resolution step widths are not accepted. Try a positive integer",
        });
    }
    if (end_ms - start_ms) / step_ms > MAX_POINTS_PER_SERIES {
        return Err(RangeError {
            param: None,
            message: "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        });
    }
    Ok(())
}

/// Evaluates PromQL queries against a storage. Cheap to share: it holds only an `Arc`.
#[derive(Clone)]
pub struct Engine {
    storage: Arc<dyn Storage>,
    opts: EngineOptions,
    cancel: Option<Arc<AtomicBool>>,
}

impl Engine {
    pub fn new(storage: Arc<dyn Storage>, opts: EngineOptions) -> Self {
        Engine {
            storage,
            opts,
            cancel: None,
        }
    }

    /// Evaluation stops with [`QueryError::Canceled`] soon after `flag` is set (checked
    /// where the timeout is).
    pub fn with_cancel(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = Some(flag);
        self
    }

    /// Checks that `query` parses as PromQL of Prometheus 2.42, with Prometheus's error
    /// message when it does not.
    pub fn check_syntax(query: &str) -> Result<(), QueryError> {
        eval::parse(query).map(|_| ())
    }

    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Evaluates `query` at `time_ms`. The result is a scalar, a string, a vector, or (for
    /// a bare range selector or subquery) a matrix.
    pub fn instant(&self, query: &str, time_ms: i64) -> Result<Value, QueryError> {
        let expr = eval::parse(query)?;
        eval::Evaluator::new(self, time_ms, time_ms).instant(&expr)
    }

    /// Parses and checks `query` once, for a caller that evaluates it again and again
    /// (a rule, every interval): [`instant_prepared`](Self::instant_prepared) then skips
    /// the parser, which costs as much as evaluating a small query.
    pub fn prepare(query: &str) -> Result<Prepared, QueryError> {
        let expr = eval::parse(query)?;
        let mut names = Some(std::collections::BTreeSet::new());
        metric_names(&expr, &mut names);
        Ok(Prepared { expr, names })
    }

    /// [`instant`](Self::instant) of a prepared query.
    pub fn instant_prepared(&self, query: &Prepared, time_ms: i64) -> Result<Value, QueryError> {
        eval::Evaluator::new(self, time_ms, time_ms).instant(&query.expr)
    }

    /// Evaluates `query` at `start_ms`, `start_ms + step_ms`, … up to `end_ms`, returning a
    /// matrix sorted by labels. Scalar results become one series with no labels.
    pub fn range(
        &self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Value, QueryError> {
        check_step(start_ms, end_ms, step_ms)
            .and_then(|()| check_bounds(start_ms, end_ms))
            .map_err(|e| QueryError::Parse(e.message.into()))?;
        let expr = eval::parse(query)?;
        eval::Evaluator::new(self, start_ms, end_ms).range(&expr, step_ms)
    }
}
