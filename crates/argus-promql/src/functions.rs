//! PromQL functions, as Prometheus 2.42's `promql/functions.go` computes them.
//!
//! A **window** is the closed interval `[t - offset - range, t - offset]` of a range-vector
//! argument at evaluation time `t`; range functions see the samples inside it. Float
//! arithmetic follows Prometheus's order of operations where it changes results (Kahan
//! sums in `*_over_time` and regressions, incremental means).

use crate::eval::{
    Evaluator, RangeArg, Result, Series, Steps, Val, check_unique, exec_err, merge_series, unparen,
};
use crate::time::Civil;
use argus_core::{Labels, METRIC_NAME, MatchOp, Sample, gofloat};
use promql_parser::parser::{Call, Expr};

/// Go's `math.Max`: NaN wins.
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() { b } else { a }
    } else if a > b {
        a
    } else {
        b
    }
}

/// Go's `math.Min`: NaN wins.
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() { a } else { b }
    } else if a < b {
        a
    } else {
        b
    }
}

/// Kahan–Neumaier summation step (`kahanSumInc`).
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// `quantile()` of `promql/quantile.go`: NaN sorts as the smallest value.
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    if q.is_nan() {
        return f64::NAN;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

pub(crate) fn eval(ev: &Evaluator, c: &Call, st: &Steps) -> Result<Val> {
    let name = c.func.name;
    let args: Vec<&Expr> = c.args.args.iter().map(|b| b.as_ref()).collect();
    let n = st.len();
    let arg = |i: usize| -> Result<&Expr> {
        match args.get(i) {
            Some(e) => Ok(*e),
            None => exec_err(format!("missing argument {} of {name}()", i + 1)),
        }
    };
    match name {
        "time" => Ok(Val::Scalar(
            (0..n).map(|j| st.at(j) as f64 / 1000.0).collect(),
        )),
        "pi" => Ok(Val::Scalar(vec![std::f64::consts::PI; n])),
        "vector" => {
            let v = ev.eval_scalar(arg(0)?, st)?;
            Ok(Val::Vector(vec![Series {
                labels: Labels::default(),
                vals: v.into_iter().map(Some).collect(),
            }]))
        }
        "scalar" => {
            let v = ev.eval_vector(arg(0)?, st)?;
            let mut out = vec![f64::NAN; n];
            for (j, o) in out.iter_mut().enumerate() {
                let mut found = None;
                let mut count = 0;
                for s in &v {
                    if let Some(x) = s.vals[j] {
                        count += 1;
                        found = Some(x);
                    }
                }
                if count == 1 {
                    *o = found.unwrap_or(f64::NAN);
                }
            }
            Ok(Val::Scalar(out))
        }
        "abs" => math(ev, arg(0)?, st, f64::abs),
        "ceil" => math(ev, arg(0)?, st, f64::ceil),
        "floor" => math(ev, arg(0)?, st, f64::floor),
        "exp" => math(ev, arg(0)?, st, f64::exp),
        "sqrt" => math(ev, arg(0)?, st, f64::sqrt),
        "ln" => math(ev, arg(0)?, st, f64::ln),
        "log2" => math(ev, arg(0)?, st, f64::log2),
        "log10" => math(ev, arg(0)?, st, f64::log10),
        "sin" => math(ev, arg(0)?, st, f64::sin),
        "cos" => math(ev, arg(0)?, st, f64::cos),
        "tan" => math(ev, arg(0)?, st, f64::tan),
        "asin" => math(ev, arg(0)?, st, f64::asin),
        "acos" => math(ev, arg(0)?, st, f64::acos),
        "atan" => math(ev, arg(0)?, st, f64::atan),
        "sinh" => math(ev, arg(0)?, st, f64::sinh),
        "cosh" => math(ev, arg(0)?, st, f64::cosh),
        "tanh" => math(ev, arg(0)?, st, f64::tanh),
        "asinh" => math(ev, arg(0)?, st, f64::asinh),
        "acosh" => math(ev, arg(0)?, st, f64::acosh),
        "atanh" => math(ev, arg(0)?, st, f64::atanh),
        "deg" => math(ev, arg(0)?, st, |v| v * 180.0 / std::f64::consts::PI),
        "rad" => math(ev, arg(0)?, st, |v| v * std::f64::consts::PI / 180.0),
        "sgn" => math(ev, arg(0)?, st, |v| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        }),
        "round" => {
            let to = match args.get(1) {
                Some(e) => ev.eval_scalar(e, st)?,
                None => vec![1.0; n],
            };
            math_step(ev, arg(0)?, st, |j, v| {
                let inv = 1.0 / to[j];
                Some((v * inv + 0.5).floor() / inv)
            })
        }
        "clamp" => {
            let lo = ev.eval_scalar(arg(1)?, st)?;
            let hi = ev.eval_scalar(arg(2)?, st)?;
            math_step(ev, arg(0)?, st, |j, v| {
                (hi[j] >= lo[j] || lo[j].is_nan() || hi[j].is_nan())
                    .then(|| go_max(lo[j], go_min(hi[j], v)))
            })
        }
        "clamp_min" => {
            let lo = ev.eval_scalar(arg(1)?, st)?;
            math_step(ev, arg(0)?, st, |j, v| Some(go_max(lo[j], v)))
        }
        "clamp_max" => {
            let hi = ev.eval_scalar(arg(1)?, st)?;
            math_step(ev, arg(0)?, st, |j, v| Some(go_min(hi[j], v)))
        }
        "minute" | "hour" | "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month"
        | "month" | "year" => {
            let f = move |c: Civil| -> f64 {
                (match name {
                    "minute" => c.minute,
                    "hour" => c.hour,
                    "day_of_month" => c.day,
                    "day_of_week" => c.weekday,
                    "day_of_year" => c.yday,
                    "days_in_month" => c.days_in_month(),
                    "month" => c.month,
                    _ => c.year,
                }) as f64
            };
            match args.first() {
                None => Ok(Val::Vector(vec![Series {
                    labels: Labels::default(),
                    vals: (0..n)
                        .map(|j| Some(f(Civil::from_unix(st.at(j) / 1000))))
                        .collect(),
                }])),
                Some(e) => math(ev, e, st, |v| f(Civil::from_unix(v as i64))),
            }
        }
        "timestamp" => {
            let e = arg(0)?;
            let mut v = match unparen(e) {
                Expr::VectorSelector(vs) => ev.eval_selector(vs, st, true)?,
                _ => {
                    let mut v = ev.eval_vector(e, st)?;
                    for s in &mut v {
                        for (j, x) in s.vals.iter_mut().enumerate() {
                            if x.is_some() {
                                *x = Some(st.at(j) as f64 / 1000.0);
                            }
                        }
                    }
                    v
                }
            };
            for s in &mut v {
                s.labels.remove(METRIC_NAME);
            }
            Ok(Val::Vector(merge_series(v, n)?))
        }
        "absent" => {
            let e = arg(0)?;
            let v = ev.eval_vector(e, st)?;
            let vals: Vec<Option<f64>> = (0..n)
                .map(|j| (!v.iter().any(|s| s.vals[j].is_some())).then_some(1.0))
                .collect();
            let out = Series {
                labels: absent_labels(e),
                vals,
            };
            Ok(Val::Vector(if out.any() { vec![out] } else { vec![] }))
        }
        "sort" | "sort_desc" => {
            let mut v = ev.eval_vector(arg(0)?, st)?;
            if n == 1 {
                let desc = name == "sort_desc";
                // NaN last in both directions; ties keep their order.
                v.sort_by(|a, b| {
                    let (x, y) = (a.vals[0].unwrap_or(f64::NAN), b.vals[0].unwrap_or(f64::NAN));
                    match (x.is_nan(), y.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        _ if desc => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
                        _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                    }
                });
            }
            Ok(Val::Vector(v))
        }
        "label_replace" => label_replace(ev, &args, st),
        "label_join" => label_join(ev, &args, st),
        "histogram_quantile" => histogram_quantile(ev, &args, st),
        // Native-histogram functions: Argus stores only floats, so there is nothing to
        // act on, as in Prometheus for float series.
        "histogram_count" | "histogram_sum" => {
            ev.eval_vector(arg(0)?, st)?;
            Ok(Val::Vector(Vec::new()))
        }
        "histogram_fraction" => {
            ev.eval_vector(arg(2)?, st)?;
            Ok(Val::Vector(Vec::new()))
        }
        _ => range_function(ev, name, &args, st),
    }
}

/// Labels of `absent()`: the `=` matchers of a selector argument, except `__name__` and
/// names that appear in more than one matcher or in a non-`=` matcher.
pub(crate) fn absent_labels(e: &Expr) -> Labels {
    let vs = match e {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::default(),
    };
    let Ok(matchers) = crate::eval::selector_matchers(vs) else {
        return Labels::default();
    };
    let mut l = Labels::default();
    let mut empty: Vec<&str> = Vec::new();
    for m in &matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if m.op == MatchOp::Equal && l.get(&m.name).is_none() {
            l.set(&m.name, &m.value);
        } else {
            empty.push(&m.name);
        }
    }
    for name in empty {
        l.remove(name);
    }
    l
}

/// Applies `f` to every value, dropping `__name__`.
fn math(ev: &Evaluator, e: &Expr, st: &Steps, f: impl Fn(f64) -> f64) -> Result<Val> {
    math_step(ev, e, st, |_, v| Some(f(v)))
}

/// Applies `f(step, value)` to every value, dropping `__name__`; `None` drops the sample.
fn math_step(
    ev: &Evaluator,
    e: &Expr,
    st: &Steps,
    f: impl Fn(usize, f64) -> Option<f64>,
) -> Result<Val> {
    let mut v = ev.eval_vector(e, st)?;
    for s in &mut v {
        s.labels.remove(METRIC_NAME);
        for (j, x) in s.vals.iter_mut().enumerate() {
            if let Some(val) = *x {
                *x = f(j, val);
            }
        }
    }
    Ok(Val::Vector(merge_series(v, st.len())?))
}

fn is_valid_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn label_replace(ev: &Evaluator, args: &[&Expr], st: &Steps) -> Result<Val> {
    if args.len() != 5 {
        return exec_err("label_replace() takes 5 arguments");
    }
    let dst = ev.eval_string(args[1], st)?;
    let repl = ev.eval_string(args[2], st)?;
    let src = ev.eval_string(args[3], st)?;
    let re_str = ev.eval_string(args[4], st)?;
    let re = regex::Regex::new(&format!("^(?:{re_str})$")).map_err(|_| {
        crate::QueryError::Execution(format!(
            "invalid regular expression in label_replace(): {re_str}"
        ))
    })?;
    if !is_valid_label_name(&dst) {
        return exec_err(format!(
            "invalid destination label name in label_replace(): {dst}"
        ));
    }
    let mut v = ev.eval_vector(args[0], st)?;
    let mut locs = re.capture_locations();
    for s in &mut v {
        let sv = s.labels.get(&src).unwrap_or("").to_string();
        if re.captures_read(&mut locs, &sv).is_none() {
            continue;
        }
        let res = expand(&re, &locs, &repl, &sv);
        s.labels.remove(&dst);
        if !res.is_empty() {
            s.labels.set(&dst, &res);
        }
    }
    Ok(Val::Vector(merge_series(v, st.len())?))
}

/// Go's `Regexp.ExpandString`: `$1`, `${1}`, `$name`, `${name}`, `$$`; a name is the
/// longest run of letters, digits and `_`, so `$1x` is the (usually missing) group "1x".
fn expand(re: &regex::Regex, locs: &regex::CaptureLocations, tmpl: &str, src: &str) -> String {
    let group = |i: usize| locs.get(i).map(|(a, b)| &src[a..b]).unwrap_or("");
    let mut out = String::new();
    let mut rest = tmpl;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let (brace, body) = match rest.strip_prefix('{') {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let len: usize = body
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map(|(i, _)| i)
            .unwrap_or(body.len());
        if len == 0 || (brace && !body[len..].starts_with('}')) {
            out.push('$');
            continue;
        }
        let name = &body[..len];
        rest = &body[len + usize::from(brace)..];
        let num = if name.bytes().all(|b| b.is_ascii_digit())
            && !(name.len() > 1 && name.starts_with('0'))
            && name.len() < 9
        {
            name.parse::<usize>().ok()
        } else {
            None
        };
        match num {
            Some(i) => out.push_str(group(i)),
            None => {
                if let Some(i) = re.capture_names().position(|n| n == Some(name)) {
                    out.push_str(group(i));
                }
            }
        }
    }
    out.push_str(rest);
    out
}

fn label_join(ev: &Evaluator, args: &[&Expr], st: &Steps) -> Result<Val> {
    if args.len() < 3 {
        return exec_err("label_join() takes at least 3 arguments");
    }
    let dst = ev.eval_string(args[1], st)?;
    let sep = ev.eval_string(args[2], st)?;
    let mut srcs = Vec::new();
    for a in &args[3..] {
        let s = ev.eval_string(a, st)?;
        if !is_valid_label_name(&s) {
            return exec_err(format!("invalid source label name in label_join(): {s}"));
        }
        srcs.push(s);
    }
    if !is_valid_label_name(&dst) {
        return exec_err(format!(
            "invalid destination label name in label_join(): {dst}"
        ));
    }
    let mut v = ev.eval_vector(args[0], st)?;
    for s in &mut v {
        let joined = srcs
            .iter()
            .map(|l| s.labels.get(l).unwrap_or(""))
            .collect::<Vec<_>>()
            .join(&sep);
        s.labels.set(&dst, &joined);
    }
    Ok(Val::Vector(merge_series(v, st.len())?))
}

/// `bucketQuantile` over `(upper bound, cumulative count)` pairs.
pub(crate) fn bucket_quantile(q: f64, buckets: &mut [(f64, f64)]) -> f64 {
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    match buckets.last() {
        Some(b) if b.0 == f64::INFINITY => {}
        _ => return f64::NAN,
    }
    // Merge equal bounds, in place (this runs once per group and step).
    let mut k = 0;
    for i in 0..buckets.len() {
        let (ub, c) = buckets[i];
        if k > 0 && buckets[k - 1].0 == ub {
            buckets[k - 1].1 += c;
        } else {
            buckets[k] = (ub, c);
            k += 1;
        }
    }
    let merged = &mut buckets[..k];
    // ensureMonotonic.
    let mut max = f64::NEG_INFINITY;
    for b in merged.iter_mut() {
        if b.1 > max {
            max = b.1;
        } else if b.1 < max {
            b.1 = max;
        }
    }
    if merged.len() < 2 {
        return f64::NAN;
    }
    let observations = merged[merged.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let last = merged.len() - 1;
    let b = merged[..last]
        .iter()
        .position(|x| x.1 >= rank)
        .unwrap_or(last);
    if b == last {
        return merged[last - 1].0;
    }
    if b == 0 && merged[0].0 <= 0.0 {
        return merged[0].0;
    }
    let mut start = 0.0;
    let end = merged[b].0;
    let mut count = merged[b].1;
    if b > 0 {
        start = merged[b - 1].0;
        count -= merged[b - 1].1;
        rank -= merged[b - 1].1;
    }
    start + (end - start) * (rank / count)
}

fn histogram_quantile(ev: &Evaluator, args: &[&Expr], st: &Steps) -> Result<Val> {
    if args.len() != 2 {
        return exec_err("histogram_quantile() takes 2 arguments");
    }
    let q = ev.eval_scalar(args[0], st)?;
    let v = ev.eval_vector(args[1], st)?;
    let n = st.len();
    // Group by all labels but `le` (the name stays in the key); output drops both.
    let mut keys: std::collections::HashMap<Labels, usize> = std::collections::HashMap::new();
    let mut groups: Vec<(Labels, Vec<(f64, usize)>)> = Vec::new();
    for (i, s) in v.iter().enumerate() {
        let Some(ub) = s.labels.get("le").and_then(gofloat::parse) else {
            continue;
        };
        let mut key = s.labels.clone();
        key.remove("le");
        let g = match keys.get(&key) {
            Some(&g) => g,
            None => {
                let mut out = key.clone();
                out.remove(METRIC_NAME);
                keys.insert(key, groups.len());
                groups.push((out, Vec::new()));
                groups.len() - 1
            }
        };
        groups[g].1.push((ub, i));
    }
    let mut b = crate::eval::RowBuilder::new(n);
    let rows: Vec<usize> = groups.iter().map(|g| b.row(g.0.clone())).collect();
    ev.check()?;
    // A group at a time (its buckets' values are read in order), groups split over the
    // cores when there are many.
    let work = groups.iter().map(|g| g.1.len()).sum::<usize>() * n;
    let per_group: Vec<Vec<Option<f64>>> = crate::eval::par_map(&groups, work, |(_, members)| {
        let mut buckets = Vec::with_capacity(members.len());
        (0..n)
            .map(|j| {
                let qj = *q.get(j)?;
                buckets.clear();
                for &(ub, i) in members {
                    if let Some(c) = v[i].vals[j] {
                        buckets.push((ub, c));
                    }
                }
                (!buckets.is_empty()).then(|| bucket_quantile(qj, &mut buckets))
            })
            .collect()
    });
    ev.check()?;
    for (g, vals) in per_group.into_iter().enumerate() {
        for (j, x) in vals.into_iter().enumerate() {
            if let Some(x) = x {
                b.put(rows[g], j, x)?;
            }
        }
    }
    Ok(Val::Vector(b.finish()))
}

/// Go's `strconv.ParseFloat` for the forms a `le` label takes.
/// `extrapolatedRate` for delta: no reset handling, no zero floor.
fn extrapolated_rate_delta(
    s: &[Sample],
    range_start: i64,
    range_end: i64,
    range_ms: i64,
) -> Option<f64> {
    extrapolated(s, range_start, range_end, range_ms, false, false, false)
}

/// `extrapolatedRate` for rate and increase; `resets` says whether the window holds a
/// counter reset that the scan must add back.
fn extrapolated_rate(
    s: &[Sample],
    range_start: i64,
    range_end: i64,
    range_ms: i64,
    resets: bool,
    is_rate: bool,
) -> Option<f64> {
    extrapolated(s, range_start, range_end, range_ms, true, resets, is_rate)
}

#[allow(clippy::too_many_arguments)]
fn extrapolated(
    s: &[Sample],
    range_start: i64,
    range_end: i64,
    range_ms: i64,
    is_counter: bool,
    scan_resets: bool,
    is_rate: bool,
) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let first = s[0];
    let last = s[s.len() - 1];
    let mut result = last.value - first.value;
    if is_counter && scan_resets {
        let mut prev = 0.0;
        for p in s {
            if p.value < prev {
                result += prev;
            }
            prev = p.value;
        }
    }
    let mut to_start = (first.ts - range_start) as f64 / 1000.0;
    let to_end = (range_end - last.ts) as f64 / 1000.0;
    let sampled = (last.ts - first.ts) as f64 / 1000.0;
    let avg = sampled / (s.len() - 1) as f64;
    if is_counter && result > 0.0 && first.value >= 0.0 {
        let to_zero = sampled * (first.value / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = avg * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        avg / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        avg / 2.0
    };
    // Prometheus 2.42 folds the range into one factor before multiplying; the order
    // matters to the last bit (197 · (1/300) ≠ 197 / 300), and so to topk's ties.
    let mut factor = interval / sampled;
    if is_rate {
        factor /= range_ms as f64 / 1000.0;
    }
    result *= factor;
    Some(result)
}

fn instant_value(s: &[Sample], is_rate: bool) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let last = s[s.len() - 1];
    let prev = s[s.len() - 2];
    let mut result = if is_rate && last.value < prev.value {
        last.value
    } else {
        last.value - prev.value
    };
    let gap = last.ts - prev.ts;
    if gap == 0 {
        return None;
    }
    if is_rate {
        result /= gap as f64 / 1000.0;
    }
    Some(result)
}

/// Least-squares slope and intercept with x = (t - intercept_time) in seconds.
fn linear_regression(s: &[Sample], intercept_time: i64) -> (f64, f64) {
    let (mut n, mut sum_x, mut c_x, mut sum_y, mut c_y) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sum_xy, mut c_xy, mut sum_x2, mut c_x2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = s[0].value;
    let mut const_y = true;
    for (i, p) in s.iter().enumerate() {
        if const_y && i > 0 && p.value != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (p.ts - intercept_time) as f64 / 1e3;
        (sum_x, c_x) = kahan_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_inc(p.value, sum_y, c_y);
        (sum_xy, c_xy) = kahan_inc(x * p.value, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let sum_x = sum_x + c_x;
    let sum_y = sum_y + c_y;
    let sum_xy = sum_xy + c_xy;
    let sum_x2 = sum_x2 + c_x2;
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

fn sum_over_time(s: &[Sample]) -> f64 {
    let (mut sum, mut c) = (0.0, 0.0);
    for p in s {
        (sum, c) = kahan_inc(p.value, sum, c);
    }
    if sum.is_infinite() { sum } else { sum + c }
}

fn avg_over_time(s: &[Sample]) -> f64 {
    let (mut mean, mut count, mut c) = (0.0f64, 0.0, 0.0);
    for p in s {
        count += 1.0;
        let v = p.value;
        if mean.is_infinite() {
            if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                continue;
            }
            if !v.is_infinite() && !v.is_nan() {
                continue;
            }
        }
        (mean, c) = kahan_inc(v / count - mean / count, mean, c);
    }
    if mean.is_infinite() { mean } else { mean + c }
}

fn stdvar_over_time(s: &[Sample]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for p in s {
        count += 1.0;
        let delta = p.value - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (p.value - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// Calls `f(step, window, window_start, window_end)` for every step whose window holds
/// at least one sample.
fn windows(
    arg: &RangeArg,
    s: &[Sample],
    st: &Steps,
    mut f: impl FnMut(usize, &[Sample], i64, i64) -> Option<f64>,
) -> Vec<Option<f64>> {
    windows_at(arg, s, st, |j, _, w, a, b| f(j, w, a, b))
}

/// [`windows`], also passing the index of the window's first sample in `s`.
fn windows_at(
    arg: &RangeArg,
    s: &[Sample],
    st: &Steps,
    mut f: impl FnMut(usize, usize, &[Sample], i64, i64) -> Option<f64>,
) -> Vec<Option<f64>> {
    let n = st.len();
    let mut out = vec![None; n];
    let (mut lo, mut hi) = (0usize, 0usize);
    for (j, o) in out.iter_mut().enumerate() {
        let end = arg.end_for(st.at(j));
        let start = end - arg.range;
        while hi < s.len() && s[hi].ts <= end {
            hi += 1;
        }
        while lo < hi && s[lo].ts < start {
            lo += 1;
        }
        if lo < hi {
            *o = f(j, lo, &s[lo..hi], start, end);
        }
    }
    out
}

/// Prometheus 2.42's `funcHoltWinters`: double exponential smoothing of the window's
/// values with smoothing factor `sf` and trend factor `tf`, both strictly between 0 and 1.
/// Fewer than two samples: no value.
fn holt_winters(w: &[Sample], sf: f64, tf: f64) -> std::result::Result<Option<f64>, String> {
    // Go's %f: six decimals. NaN passes the checks, as in Go.
    let go_f = |v: f64| {
        let mut s = String::new();
        gofloat::write_fixed(v, 6, &mut s);
        s
    };
    if sf <= 0.0 || sf >= 1.0 {
        return Err(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {}",
            go_f(sf)
        ));
    }
    if tf <= 0.0 || tf >= 1.0 {
        return Err(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {}",
            go_f(tf)
        ));
    }
    if w.len() < 2 {
        return Ok(None);
    }
    let (mut s0, mut s1) = (0.0, w[0].value);
    let mut b = w[1].value - w[0].value;
    for (i, p) in w.iter().enumerate().skip(1) {
        // calcTrendValue(i - 1, …): the first step keeps the initial trend.
        if i > 1 {
            let x = tf * (s1 - s0);
            let y = (1.0 - tf) * b;
            b = x + y;
        }
        let x = sf * p.value;
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Ok(Some(s1))
}

fn range_function(ev: &Evaluator, name: &str, args: &[&Expr], st: &Steps) -> Result<Val> {
    let n = st.len();
    let matrix_idx = usize::from(name == "quantile_over_time");
    // holt_winters(range, sf, tf), parsed under its 3.x name.
    let (sf, tf) = if name == "double_exponential_smoothing" {
        let (Some(a), Some(b)) = (args.get(1), args.get(2)) else {
            return exec_err("holt_winters() takes 3 arguments");
        };
        (ev.eval_scalar(a, st)?, ev.eval_scalar(b, st)?)
    } else {
        (Vec::new(), Vec::new())
    };
    let Some(marg) = args.get(matrix_idx) else {
        return exec_err(format!("unknown function {name}"));
    };
    let param = match name {
        "quantile_over_time" => ev.eval_scalar(args[0], st)?,
        "predict_linear" => match args.get(1) {
            Some(e) => ev.eval_scalar(e, st)?,
            None => return exec_err("predict_linear() takes 2 arguments"),
        },
        _ => Vec::new(),
    };
    let arg = ev.eval_range_arg(marg, st)?;
    if name == "absent_over_time" {
        let mut any = vec![false; n];
        for s in &arg.series {
            let w = windows(&arg, &s.samples, st, |_, _, _, _| Some(1.0));
            for (a, x) in any.iter_mut().zip(w) {
                *a |= x.is_some();
            }
        }
        let vals: Vec<Option<f64>> = any.iter().map(|a| (!a).then_some(1.0)).collect();
        let out = Series {
            labels: absent_labels(unparen(marg)),
            vals,
        };
        return Ok(Val::Vector(if out.any() { vec![out] } else { vec![] }));
    }
    ev.check()?;
    // Series are independent: large inputs are split over the cores.
    let work = arg.series.iter().map(|s| s.samples.len() + n).sum();
    let vals = crate::eval::par_map(&arg.series, work, |s| {
        range_vals(name, &arg, &s.samples, st, &param, (&sf, &tf))
    });
    ev.check()?;
    let mut out = Vec::with_capacity(arg.series.len());
    for (s, vals) in arg.series.iter().zip(vals) {
        let vals = vals?;
        let mut labels = s.labels.clone();
        if name != "last_over_time" {
            labels.remove(METRIC_NAME);
        }
        let series = Series { labels, vals };
        if series.any() {
            out.push(series);
        }
    }
    check_unique(&out)?;
    Ok(Val::Vector(out))
}

/// The values of range function `name` over one series' samples, per step.
fn range_vals(
    name: &str,
    arg: &RangeArg,
    samples: &[Sample],
    st: &Steps,
    param: &[f64],
    (sf, tf): (&[f64], &[f64]),
) -> Result<Vec<Option<f64>>> {
    let range = arg.range;
    let mut scratch: Vec<f64> = Vec::new();
    Ok(match name {
        "rate" | "increase" => {
            // drops[i]: counter resets among samples 0..=i, so a window without one
            // skips the reset scan.
            let mut drops = Vec::with_capacity(samples.len());
            let mut d = 0u32;
            for (i, p) in samples.iter().enumerate() {
                if i > 0 && p.value < samples[i - 1].value {
                    d += 1;
                }
                drops.push(d);
            }
            let is_rate = name == "rate";
            windows_at(arg, samples, st, |_, lo, w, a, b| {
                let resets = drops[lo + w.len() - 1] != drops[lo];
                extrapolated_rate(w, a, b, range, resets, is_rate)
            })
        }
        "delta" => windows(arg, samples, st, |_, w, a, b| {
            extrapolated_rate_delta(w, a, b, range)
        }),
        "irate" => windows(arg, samples, st, |_, w, _, _| instant_value(w, true)),
        "idelta" => windows(arg, samples, st, |_, w, _, _| instant_value(w, false)),
        "deriv" => windows(arg, samples, st, |_, w, _, _| {
            (w.len() >= 2).then(|| linear_regression(w, w[0].ts).0)
        }),
        "predict_linear" => windows(arg, samples, st, |j, w, _, _| {
            (w.len() >= 2).then(|| {
                // With `@` the call is step-invariant: Prometheus evaluates it once,
                // at the first step, and copies the result.
                let origin = if arg.at.is_some() { st.start } else { st.at(j) };
                let (slope, intercept) = linear_regression(w, origin);
                slope * param[j] + intercept
            })
        }),
        "resets" => windows(arg, samples, st, |_, w, _, _| {
            Some(w.windows(2).filter(|p| p[1].value < p[0].value).count() as f64)
        }),
        "changes" => windows(arg, samples, st, |_, w, _, _| {
            Some(
                w.windows(2)
                    .filter(|p| {
                        p[1].value != p[0].value && !(p[1].value.is_nan() && p[0].value.is_nan())
                    })
                    .count() as f64,
            )
        }),
        "sum_over_time" => windows(arg, samples, st, |_, w, _, _| Some(sum_over_time(w))),
        "avg_over_time" => windows(arg, samples, st, |_, w, _, _| Some(avg_over_time(w))),
        "count_over_time" => windows(arg, samples, st, |_, w, _, _| Some(w.len() as f64)),
        "min_over_time" => windows(arg, samples, st, |_, w, _, _| {
            let mut m = w[0].value;
            for p in w {
                if p.value < m || m.is_nan() {
                    m = p.value;
                }
            }
            Some(m)
        }),
        "max_over_time" => windows(arg, samples, st, |_, w, _, _| {
            let mut m = w[0].value;
            for p in w {
                if p.value > m || m.is_nan() {
                    m = p.value;
                }
            }
            Some(m)
        }),
        "stddev_over_time" => windows(arg, samples, st, |_, w, _, _| {
            Some(stdvar_over_time(w).sqrt())
        }),
        "stdvar_over_time" => windows(arg, samples, st, |_, w, _, _| Some(stdvar_over_time(w))),
        "last_over_time" => windows(arg, samples, st, |_, w, _, _| w.last().map(|p| p.value)),
        "present_over_time" => windows(arg, samples, st, |_, _, _, _| Some(1.0)),
        "quantile_over_time" => windows(arg, samples, st, |j, w, _, _| {
            scratch.clear();
            scratch.extend(w.iter().map(|p| p.value));
            Some(quantile(param[j], &mut scratch))
        }),
        "double_exponential_smoothing" => {
            let mut bad = None;
            let vals = windows(arg, samples, st, |j, w, _, _| {
                match holt_winters(w, sf[j], tf[j]) {
                    Ok(v) => v,
                    Err(e) => {
                        bad.get_or_insert(e);
                        None
                    }
                }
            });
            if let Some(e) = bad {
                return exec_err(e);
            }
            vals
        }
        _ => return exec_err(format!("unknown function {name}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(points: &[(i64, f64)]) -> Vec<Sample> {
        points
            .iter()
            .map(|&(ts, value)| Sample { ts, value })
            .collect()
    }

    #[test]
    fn expand_follows_go() {
        let re = regex::Regex::new("^(?:(?P<a>a+)-(b+))$").unwrap_or_else(|e| panic!("{e}"));
        let mut locs = re.capture_locations();
        let src = "aa-bbb";
        assert!(re.captures_read(&mut locs, src).is_some());
        assert_eq!(
            expand(&re, &locs, "$1|$2|${a}x|$ax|$$|$", src),
            "aa|bbb|aax||$|$"
        );
        assert_eq!(expand(&re, &locs, "$1x-${2}x-$3", src), "-bbbx-");
    }

    #[test]
    fn regression_with_kahan_sums() {
        // y = 2x + 1 at x = 0, 10, 20 s.
        let w = s(&[(0, 1.0), (10_000, 21.0), (20_000, 41.0)]);
        let (slope, intercept) = linear_regression(&w, 0);
        assert!((slope - 2.0).abs() < 1e-12);
        assert!((intercept - 1.0).abs() < 1e-12);
        let flat_inf = s(&[(0, f64::INFINITY), (1000, f64::INFINITY)]);
        assert!(linear_regression(&flat_inf, 0).0.is_nan());
    }

    #[test]
    fn quantile_interpolates_and_puts_nan_first() {
        assert_eq!(quantile(0.5, &mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(quantile(0.25, &mut [1.0, 2.0, 3.0]), 1.5);
        assert_eq!(quantile(-1.0, &mut [1.0]), f64::NEG_INFINITY);
        assert_eq!(quantile(2.0, &mut [1.0]), f64::INFINITY);
        assert!(quantile(0.0, &mut [1.0, f64::NAN]).is_nan());
        assert_eq!(quantile(1.0, &mut [1.0, f64::NAN]), 1.0);
    }

    #[test]
    fn bucket_quantile_cases() {
        let mut b = vec![(0.1, 10.0), (0.5, 20.0), (f64::INFINITY, 40.0)];
        // rank 20 → bucket 0.5 exactly full: 0.1 + 0.4 * (10/10).
        assert!((bucket_quantile(0.5, &mut b.clone()) - 0.5).abs() < 1e-12);
        // rank 36 falls in +Inf: second-highest bound.
        assert_eq!(bucket_quantile(0.9, &mut b), 0.5);
        // No +Inf bucket.
        assert!(bucket_quantile(0.5, &mut [(1.0, 1.0), (2.0, 2.0)]).is_nan());
        // Non-monotonic counts are raised: (1,10),(2,5→10),(+Inf,20); rank 10 → bucket 1.
        let mut nm = vec![(1.0, 10.0), (2.0, 5.0), (f64::INFINITY, 20.0)];
        assert_eq!(bucket_quantile(0.5, &mut nm), 1.0);
        // First bucket with a negative bound.
        let mut neg = vec![(-1.0, 5.0), (f64::INFINITY, 10.0)];
        assert_eq!(bucket_quantile(0.2, &mut neg), -1.0);
        assert!(bucket_quantile(0.5, &mut [(f64::INFINITY, 3.0)]).is_nan());
    }

    #[test]
    fn go_min_max_propagate_nan() {
        assert!(go_max(1.0, f64::NAN).is_nan());
        assert!(go_min(f64::NAN, 1.0).is_nan());
        assert_eq!(go_max(1.0, 2.0), 2.0);
    }
}
