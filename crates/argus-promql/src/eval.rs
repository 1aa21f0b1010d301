//! The evaluator: one pass over the AST, each node evaluated for every step at once.
//!
//! A **step grid** ([`Steps`]) is the list of evaluation times of a node: the query's own
//! steps, or a subquery's aligned steps. A node evaluates to a [`Val`]: a scalar per step,
//! or a vector whose series carry one optional value per step (`None` where the series
//! has no sample at that step). Selectors read storage once per node for the whole grid.

use crate::{Engine, QueryError, Value, aggregate, binary, functions};
use argus_core::{
    Labels, METRIC_NAME, MatchOp, Matcher, Points, ReadLimit, ReadLimits, Sample, StorageError,
    TimeSeries,
};
use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{AtModifier, Expr, Offset, VectorSelector};
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Instant, SystemTime};

/// The bit pattern of Prometheus's stale marker, a NaN that ends a series.
const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

pub(crate) fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

pub(crate) type Result<T> = std::result::Result<T, QueryError>;

pub(crate) fn exec_err<T>(msg: impl Into<String>) -> Result<T> {
    Err(QueryError::Execution(msg.into()))
}

/// Below this much work (samples read plus points produced) a node runs on one thread:
/// starting threads would cost more than it saves.
const PAR_MIN_WORK: usize = 200_000;
/// The most threads one node of one query uses.
const PAR_MAX_THREADS: usize = 8;

/// The machine's cores, asked once (`available_parallelism` reads cgroup files each time).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `items.iter().map(f).collect()`, split over the machine's cores when `work` is large.
/// The order of the results is the order of `items`; a panic in `f` is re-raised here.
pub(crate) fn par_map<T: Sync, R: Send>(
    items: &[T],
    work: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = if work < PAR_MIN_WORK {
        1
    } else {
        cores().min(PAR_MAX_THREADS).min(items.len())
    };
    if threads <= 1 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for h in handles {
            match h.join() {
                Ok(v) => out.extend(v),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

/// Evaluation times `start, start+step, …, ≤ end`, in ms.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Steps {
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

impl Steps {
    pub fn len(&self) -> usize {
        if self.end < self.start {
            0
        } else {
            ((self.end - self.start) / self.step + 1) as usize
        }
    }

    pub fn at(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }
}

/// One series of a vector-valued node: a value per step where it has one.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub labels: Labels,
    pub vals: Vec<Option<f64>>,
}

impl Series {
    pub fn any(&self) -> bool {
        self.vals.iter().any(Option::is_some)
    }
}

/// The value of a node over a step grid.
pub(crate) enum Val {
    Scalar(Vec<f64>),
    Vector(Vec<Series>),
    /// A bare range selector or subquery, only at the top of an instant query.
    Matrix(Vec<TimeSeries>),
    Str(String),
}

/// A range-vector argument: the samples of each series and how to cut windows from them.
pub(crate) struct RangeArg {
    pub series: Vec<TimeSeries>,
    pub range: i64,
    pub offset: i64,
    pub at: Option<i64>,
}

impl RangeArg {
    /// The window end (`ts - offset`, or `@ - offset`) for evaluation time `t`.
    pub fn end_for(&self, t: i64) -> i64 {
        self.at.unwrap_or(t) - self.offset
    }
}

fn too_many_samples() -> QueryError {
    QueryError::Limit(
        "query processing would load too many samples into memory in query execution".into(),
    )
}

pub(crate) fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unparen(&p.expr),
        other => other,
    }
}

/// Functions Prometheus 2.42 knows. The parser knows newer ones too; those are rejected
/// as 2.42 would reject them.
const FUNCTIONS_2_42: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "cos",
    "cosh",
    "count_over_time",
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "deg",
    "delta",
    "deriv",
    "exp",
    "floor",
    "histogram_count",
    "histogram_sum",
    "histogram_fraction",
    // `holt_winters`, renamed by `rename_holt_winters` before parsing.
    "double_exponential_smoothing",
    "histogram_quantile",
    "hour",
    "idelta",
    "increase",
    "irate",
    "label_replace",
    "label_join",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "max_over_time",
    "min_over_time",
    "minute",
    "month",
    "pi",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rad",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sin",
    "sinh",
    "sort",
    "sort_desc",
    "sqrt",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "tan",
    "tanh",
    "time",
    "timestamp",
    "vector",
    "year",
];

const AGGREGATIONS_2_42: &[&str] = &[
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
];

/// `holt_winters(` → `double_exponential_smoothing(`, the only name the parser knows for
/// it (Prometheus 3 renamed it); identifiers inside string literals and comments are left
/// alone. A query naming `double_exponential_smoothing` itself is refused as 2.42 refuses
/// it. Returns the query unchanged (borrowed) when it has no `holt_winters` call.
fn rename_holt_winters(query: &str) -> Result<std::borrow::Cow<'_, str>> {
    const OLD: &str = "holt_winters";
    const NEW: &str = "double_exponential_smoothing";
    let b = query.as_bytes();
    let mut calls = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'\'' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    // Backquoted strings have no escapes.
                    i += if b[i] == b'\\' && q != b'`' { 2 } else { 1 };
                }
                i += 1;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':')
                {
                    i += 1;
                }
                let ident = &query[start..i];
                let rest = query[i..].trim_start();
                if ident == NEW && rest.starts_with('(') {
                    return Err(QueryError::Parse(format!(
                        "unknown function with name {NEW:?}"
                    )));
                }
                if ident == OLD && rest.starts_with('(') {
                    calls.push(start);
                }
            }
            _ => i += 1,
        }
    }
    if calls.is_empty() {
        return Ok(std::borrow::Cow::Borrowed(query));
    }
    let mut out = String::with_capacity(query.len() + calls.len() * (NEW.len() - OLD.len()));
    let mut last = 0;
    for s in calls {
        out.push_str(&query[last..s]);
        out.push_str(NEW);
        last = s + OLD.len();
    }
    out.push_str(&query[last..]);
    Ok(std::borrow::Cow::Owned(out))
}

/// Parses `query` and rejects syntax newer than Prometheus 2.42.
pub(crate) fn parse(query: &str) -> Result<Expr> {
    let query = rename_holt_winters(query)?;
    let expr = promql_parser::parser::parse(&query).map_err(QueryError::Parse)?;
    check_supported(&expr)?;
    Ok(expr)
}

fn check_supported(e: &Expr) -> Result<()> {
    let bad = |m: String| Err(QueryError::Parse(m));
    match e {
        Expr::Aggregate(a) => {
            let op = a.op.to_string();
            if !AGGREGATIONS_2_42.contains(&op.as_str()) {
                return bad(format!("unknown function with name {op:?}"));
            }
            check_supported(&a.expr)?;
            if let Some(p) = &a.param {
                check_supported(p)?;
            }
        }
        Expr::Unary(u) => check_supported(&u.expr)?,
        Expr::Binary(b) => {
            if let Some(m) = &b.modifier
                && (m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some())
            {
                return bad("fill modifiers are not supported".into());
            }
            check_supported(&b.lhs)?;
            check_supported(&b.rhs)?;
        }
        Expr::Paren(p) => check_supported(&p.expr)?,
        Expr::Subquery(s) => check_supported(&s.expr)?,
        Expr::VectorSelector(vs) => check_selector(vs)?,
        Expr::MatrixSelector(ms) => check_selector(&ms.vs)?,
        Expr::Call(c) => {
            if !FUNCTIONS_2_42.contains(&c.func.name) {
                return bad(format!("unknown function with name {:?}", c.func.name));
            }
            for a in &c.args.args {
                check_supported(a)?;
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
        Expr::Extension(_) => return bad("extension expressions are not supported".into()),
    }
    Ok(())
}

fn check_selector(vs: &VectorSelector) -> Result<()> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err(QueryError::Parse(
            "the \"or\" operator inside label matchers is not supported".into(),
        ));
    }
    Ok(())
}

pub(crate) fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
    }
}

pub(crate) fn duration_ms(d: &std::time::Duration) -> i64 {
    d.as_millis() as i64
}

/// Converts the parser's matchers (and metric name) to storage matchers.
pub(crate) fn selector_matchers(vs: &VectorSelector) -> Result<Vec<Matcher>> {
    let mut out = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    if let Some(name) = &vs.name {
        out.push(Matcher::equal(METRIC_NAME, name));
    }
    for m in &vs.matchers.matchers {
        let (op, re) = match &m.op {
            PMatchOp::Equal => (MatchOp::Equal, None),
            PMatchOp::NotEqual => (MatchOp::NotEqual, None),
            PMatchOp::Re(r) => (MatchOp::RegexMatch, Some(r)),
            PMatchOp::NotRe(r) => (MatchOp::RegexNoMatch, Some(r)),
        };
        let matcher = match Matcher::new(&m.name, op, &m.value) {
            Ok(x) => x,
            // The parser accepts some Go-only syntax (a literal `{`) by escaping it; use
            // its rewritten pattern, which is `^(?:…)$`.
            Err(e) => {
                let inner = re
                    .map(|r| r.as_str())
                    .and_then(|s| s.strip_prefix("^(?:"))
                    .and_then(|s| s.strip_suffix(")$"));
                match inner {
                    Some(p) => Matcher::new(&m.name, op, p)
                        .map_err(|e| QueryError::Parse(e.to_string()))?,
                    None => return Err(QueryError::Parse(e.to_string())),
                }
            }
        };
        out.push(matcher);
    }
    Ok(out)
}

pub(crate) struct Evaluator<'a> {
    engine: &'a Engine,
    query_start: i64,
    query_end: i64,
    deadline: Instant,
    samples: Cell<usize>,
    series: Cell<usize>,
}

impl<'a> Evaluator<'a> {
    pub fn new(engine: &'a Engine, query_start: i64, query_end: i64) -> Self {
        Evaluator {
            engine,
            query_start,
            query_end,
            deadline: Instant::now() + engine.opts.timeout,
            samples: Cell::new(0),
            series: Cell::new(0),
        }
    }

    pub fn instant(&self, expr: &Expr) -> Result<Value> {
        let t = self.query_start;
        let steps = Steps {
            start: t,
            end: t,
            step: 1,
        };
        Ok(match self.eval(expr, &steps)? {
            Val::Scalar(v) => Value::Scalar {
                ts: t,
                v: v.first().copied().unwrap_or(f64::NAN),
            },
            Val::Str(s) => Value::String { ts: t, s },
            Val::Vector(series) => Value::Vector(
                series
                    .into_iter()
                    .filter_map(|s| s.vals.first().copied().flatten().map(|v| (s.labels, t, v)))
                    .collect(),
            ),
            Val::Matrix(mut m) => {
                m.sort_by(|a, b| a.labels.cmp(&b.labels));
                Value::Matrix(m)
            }
        })
    }

    pub fn range(&self, expr: &Expr, step: i64) -> Result<Value> {
        use promql_parser::parser::value::ValueType;
        let ty = expr.value_type();
        if !matches!(ty, ValueType::Scalar | ValueType::Vector) {
            // Prometheus names the type as its docs do (`parser.DocumentedType`).
            let documented = match ty {
                ValueType::Matrix => "range vector",
                ValueType::String => "string",
                _ => "instant vector",
            };
            return Err(QueryError::Parse(format!(
                "invalid expression type \"{documented}\" for range query, must be Scalar or instant Vector"
            )));
        }
        let steps = Steps {
            start: self.query_start,
            end: self.query_end,
            step,
        };
        let series = match self.eval(expr, &steps)? {
            Val::Scalar(v) => vec![Series {
                labels: Labels::default(),
                vals: v.into_iter().map(Some).collect(),
            }],
            Val::Vector(s) => s,
            Val::Matrix(_) | Val::Str(_) => {
                return Err(QueryError::Parse(
                    "invalid expression type for range query, must be Scalar or instant Vector"
                        .into(),
                ));
            }
        };
        let mut out: Vec<TimeSeries> = series
            .into_iter()
            .filter(Series::any)
            .map(|s| TimeSeries {
                samples: s
                    .vals
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| {
                        v.map(|value| Sample {
                            ts: steps.at(i),
                            value,
                        })
                    })
                    .collect(),
                labels: s.labels,
            })
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(Value::Matrix(out))
    }

    /// Fails with a timeout once the deadline has passed; called between units of work.
    pub fn check(&self) -> Result<()> {
        if Instant::now() > self.deadline {
            return Err(QueryError::Timeout(
                "query timed out in expression evaluation".into(),
            ));
        }
        if let Some(c) = &self.engine.cancel
            && c.load(Ordering::Relaxed)
        {
            return Err(QueryError::Canceled(
                "query was canceled in expression evaluation".into(),
            ));
        }
        Ok(())
    }

    /// Counts samples held by the query against `max_samples`.
    pub fn account(&self, samples: usize) -> Result<()> {
        let n = self.samples.get() + samples;
        self.samples.set(n);
        if n > self.engine.opts.max_samples {
            return Err(too_many_samples());
        }
        Ok(())
    }

    pub fn lookback(&self) -> i64 {
        self.engine.opts.lookback_ms
    }

    pub fn at_ms(&self, at: &Option<AtModifier>) -> Option<i64> {
        match at {
            None => None,
            Some(AtModifier::Start) => Some(self.query_start),
            Some(AtModifier::End) => Some(self.query_end),
            Some(AtModifier::At(t)) => Some(match t.duration_since(SystemTime::UNIX_EPOCH) {
                Ok(d) => d.as_millis() as i64,
                Err(e) => -(e.duration().as_millis() as i64),
            }),
        }
    }

    /// The samples of the series `vs` selects in `[start, end]` (for range arguments).
    fn select(&self, vs: &VectorSelector, start: i64, end: i64) -> Result<Vec<TimeSeries>> {
        self.check()?;
        let matchers = selector_matchers(vs)?;
        let data = self
            .engine
            .storage
            .select_limited(&matchers, start, end, self.read_limits())
            .map_err(|e| self.read_error(e))?;
        self.count_series(data.len())?;
        self.account(data.iter().map(|s| s.samples.len()).sum())?;
        Ok(data)
    }

    /// What a read may still select: the query's limits less what it already holds. A
    /// store stops a read over them, so an over-limit query fails before it fills memory.
    fn read_limits(&self) -> ReadLimits {
        let opts = &self.engine.opts;
        ReadLimits {
            series: opts.max_series.saturating_sub(self.series.get()),
            samples: opts.max_samples.saturating_sub(self.samples.get()),
        }
    }

    /// The query's own error for a read the store stopped at [`Self::read_limits`].
    fn read_error(&self, e: StorageError) -> QueryError {
        match e {
            StorageError::OverRead {
                what: ReadLimit::Series,
                ..
            } => self.too_many_series(),
            StorageError::OverRead {
                what: ReadLimit::Samples,
                ..
            } => too_many_samples(),
            other => other.into(),
        }
    }

    fn too_many_series(&self) -> QueryError {
        QueryError::Limit(format!(
            "query would select more than {} series",
            self.engine.opts.max_series
        ))
    }

    /// Counts `more` selected series against `query.max_series`.
    fn count_series(&self, more: usize) -> Result<()> {
        let n = self.series.get() + more;
        self.series.set(n);
        if n > self.engine.opts.max_series {
            return Err(self.too_many_series());
        }
        Ok(())
    }

    /// Evaluates an instant vector selector on the grid. With `want_ts`, the values are
    /// the chosen samples' timestamps in seconds (for `timestamp()`).
    pub fn eval_selector(
        &self,
        vs: &VectorSelector,
        st: &Steps,
        want_ts: bool,
    ) -> Result<Vec<Series>> {
        let offset = offset_ms(&vs.offset);
        let at = self.at_ms(&vs.at);
        let n = st.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        let lookback = self.lookback();
        let (lo, hi) = match at {
            Some(a) => (a - offset, a - offset),
            None => (st.start - offset, st.end - offset),
        };
        self.check()?;
        let matchers = selector_matchers(vs)?;
        let st = *st;
        let loaded = AtomicUsize::new(0);
        // Stepping runs inside the store's reader, on each series' samples as they are
        // read: they are still in cache, and all series' samples are never held at once.
        let step = |s: &[Sample]| -> Option<Points> {
            loaded.fetch_add(s.len(), Ordering::Relaxed);
            let mut vals = vec![None; n];
            let mut i = 0usize;
            let mut any = false;
            for (j, slot) in vals.iter_mut().enumerate() {
                let r = at.unwrap_or(st.at(j)) - offset;
                while i < s.len() && s[i].ts <= r {
                    i += 1;
                }
                if i == 0 {
                    continue;
                }
                let p = s[i - 1];
                if p.ts < r - lookback || is_stale(p.value) {
                    continue;
                }
                *slot = Some(if want_ts {
                    p.ts as f64 / 1000.0
                } else {
                    p.value
                });
                any = true;
            }
            any.then_some(vals)
        };
        let limits = self.read_limits();
        let data = self
            .engine
            .storage
            .select_map(&matchers, lo - lookback, hi, st.step, limits, &step)
            .map_err(|e| self.read_error(e))?;
        self.count_series(data.len())?;
        self.account(loaded.into_inner())?;
        self.check()?;
        let mut out = Vec::with_capacity(data.len());
        for (labels, vals) in data {
            // The points a selector holds per step count like loaded samples.
            self.account(n)?;
            out.push(Series { labels, vals });
        }
        Ok(out)
    }

    /// Evaluates a range selector or subquery argument: the samples that any window on
    /// the grid may need, stale markers removed.
    pub fn eval_range_arg(&self, e: &Expr, st: &Steps) -> Result<RangeArg> {
        match unparen(e) {
            Expr::MatrixSelector(ms) => {
                let offset = offset_ms(&ms.vs.offset);
                let at = self.at_ms(&ms.vs.at);
                let range = duration_ms(&ms.range);
                let (lo, hi) = self.window_span(at, offset, st);
                let mut series = if st.len() == 0 {
                    Vec::new()
                } else {
                    self.select(&ms.vs, lo - range, hi)?
                };
                for s in &mut series {
                    s.samples.retain(|p| !is_stale(p.value));
                }
                series.retain(|s| !s.samples.is_empty());
                Ok(RangeArg {
                    series,
                    range,
                    offset,
                    at,
                })
            }
            Expr::Subquery(sq) => {
                let offset = offset_ms(&sq.offset);
                let at = self.at_ms(&sq.at);
                let range = duration_ms(&sq.range);
                let step = match &sq.step {
                    Some(d) if duration_ms(d) > 0 => duration_ms(d),
                    _ => self.engine.opts.subquery_step_ms.max(1),
                };
                let (lo, hi) = self.window_span(at, offset, st);
                // The first multiple of the step (in absolute time) at or after the
                // earliest window start, as Prometheus aligns subquery steps.
                let first = lo - range;
                let start = first.div_euclid(step) * step
                    + if first.rem_euclid(step) == 0 { 0 } else { step };
                let inner_steps = Steps {
                    start,
                    end: hi,
                    step,
                };
                // A subquery's step grid must fit the sample limit before anything is
                // allocated for it (`x[10y:1s]` would otherwise exhaust memory).
                if (inner_steps.len() as u128) > self.engine.opts.max_samples as u128 {
                    return Err(too_many_samples());
                }
                let inner = if st.len() == 0 || inner_steps.len() == 0 {
                    Vec::new()
                } else {
                    match self.eval(&sq.expr, &inner_steps)? {
                        Val::Vector(v) => v,
                        Val::Scalar(v) => vec![Series {
                            labels: Labels::default(),
                            vals: v.into_iter().map(Some).collect(),
                        }],
                        _ => return exec_err("subquery is only allowed on instant vector"),
                    }
                };
                let mut series = Vec::with_capacity(inner.len());
                for s in inner {
                    let samples: Vec<Sample> = s
                        .vals
                        .iter()
                        .enumerate()
                        .filter_map(|(i, v)| {
                            v.map(|value| Sample {
                                ts: inner_steps.at(i),
                                value,
                            })
                        })
                        .collect();
                    if samples.is_empty() {
                        continue;
                    }
                    self.account(samples.len())?;
                    series.push(TimeSeries {
                        labels: s.labels,
                        samples,
                    });
                }
                Ok(RangeArg {
                    series,
                    range,
                    offset,
                    at,
                })
            }
            _ => exec_err("expected a range vector argument"),
        }
    }

    /// The earliest and latest window ends over the grid.
    fn window_span(&self, at: Option<i64>, offset: i64, st: &Steps) -> (i64, i64) {
        match at {
            Some(a) => (a - offset, a - offset),
            None => (st.start - offset, st.end - offset),
        }
    }

    pub fn eval_scalar(&self, e: &Expr, st: &Steps) -> Result<Vec<f64>> {
        match self.eval(e, st)? {
            Val::Scalar(v) => Ok(v),
            _ => exec_err("expected a scalar"),
        }
    }

    pub fn eval_vector(&self, e: &Expr, st: &Steps) -> Result<Vec<Series>> {
        match self.eval(e, st)? {
            Val::Vector(v) => Ok(v),
            _ => exec_err("expected an instant vector"),
        }
    }

    pub fn eval_string(&self, e: &Expr, st: &Steps) -> Result<String> {
        match self.eval(e, st)? {
            Val::Str(s) => Ok(s),
            _ => exec_err("expected a string"),
        }
    }

    pub fn eval(&self, e: &Expr, st: &Steps) -> Result<Val> {
        self.check()?;
        let n = st.len();
        match e {
            Expr::NumberLiteral(nl) => Ok(Val::Scalar(vec![nl.val; n])),
            Expr::StringLiteral(s) => Ok(Val::Str(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, st),
            Expr::VectorSelector(vs) => Ok(Val::Vector(self.eval_selector(vs, st, false)?)),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => {
                // Only an instant query can return a range vector: the windows at its one
                // evaluation time.
                let arg = self.eval_range_arg(e, st)?;
                let t = st.start;
                let end = arg.end_for(t);
                let start = end - arg.range;
                let out = arg
                    .series
                    .into_iter()
                    .filter_map(|mut s| {
                        s.samples.retain(|p| p.ts >= start && p.ts <= end);
                        (!s.samples.is_empty()).then_some(s)
                    })
                    .collect();
                Ok(Val::Matrix(out))
            }
            Expr::Unary(u) => match self.eval(&u.expr, st)? {
                Val::Scalar(v) => Ok(Val::Scalar(v.into_iter().map(|x| -x).collect())),
                Val::Vector(mut v) => {
                    for s in &mut v {
                        s.labels.remove(METRIC_NAME);
                        for x in s.vals.iter_mut().flatten() {
                            *x = -*x;
                        }
                    }
                    check_unique(&v)?;
                    Ok(Val::Vector(v))
                }
                _ => exec_err("unary minus needs a scalar or an instant vector"),
            },
            Expr::Binary(b) => binary::eval(self, b, st),
            Expr::Aggregate(a) => aggregate::eval(self, a, st),
            Expr::Call(c) => functions::eval(self, c, st),
            Expr::Extension(_) => exec_err("extension expressions are not supported"),
        }
    }
}

/// Prometheus's whole-matrix check: no two series may share a label set.
pub(crate) fn check_unique(v: &[Series]) -> Result<()> {
    if v.len() < 2 {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::with_capacity(v.len());
    for s in v {
        if !seen.insert(&s.labels) {
            return exec_err("vector cannot contain metrics with the same labelset");
        }
    }
    Ok(())
}

/// Collects per-step results into series keyed by label set, the way Prometheus's
/// `rangeEval` does: two results with the same labels at one step are an error, the same
/// labels at different steps are one series.
pub(crate) struct RowBuilder {
    n: usize,
    index: HashMap<Labels, usize>,
    pub rows: Vec<Series>,
}

impl RowBuilder {
    pub fn new(n: usize) -> Self {
        RowBuilder {
            n,
            index: HashMap::new(),
            rows: Vec::new(),
        }
    }

    /// The row for `labels`, created on first use.
    pub fn row(&mut self, labels: Labels) -> usize {
        if let Some(&i) = self.index.get(&labels) {
            return i;
        }
        let i = self.rows.len();
        self.rows.push(Series {
            labels: labels.clone(),
            vals: vec![None; self.n],
        });
        self.index.insert(labels, i);
        i
    }

    pub fn put(&mut self, row: usize, step: usize, v: f64) -> Result<()> {
        let slot = &mut self.rows[row].vals[step];
        if slot.is_some() {
            return exec_err("vector cannot contain metrics with the same labelset");
        }
        *slot = Some(v);
        Ok(())
    }

    pub fn finish(self) -> Vec<Series> {
        self.rows.into_iter().filter(Series::any).collect()
    }
}

/// Re-keys series after a label change (e.g. dropping `__name__`), merging series that
/// now share labels and failing if two of them have a value at the same step.
pub(crate) fn merge_series(v: Vec<Series>, n: usize) -> Result<Vec<Series>> {
    let mut b = RowBuilder::new(n);
    for s in v {
        let row = b.row(s.labels);
        if b.rows[row].vals.iter().all(Option::is_none) {
            // The common case: the first series with these labels.
            b.rows[row].vals = s.vals;
            continue;
        }
        for (j, x) in s.vals.into_iter().enumerate() {
            if let Some(x) = x {
                b.put(row, j, x)?;
            }
        }
    }
    Ok(b.finish())
}
