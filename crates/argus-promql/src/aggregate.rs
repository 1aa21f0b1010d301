//! Aggregation operators (`sum`, `avg`, `topk`, …) as Prometheus 2.42's `aggregation()`.
//!
//! A **group** is the set of input series that share the labels kept by `by` (or left by
//! `without`, which also drops `__name__`). Groups are computed once per series; each step
//! then folds the values present at that step. Output groups come in order of first
//! appearance, as in Prometheus.

use crate::eval::{Evaluator, Result, RowBuilder, Series, Steps, Val, exec_err};
use crate::functions::quantile;
use argus_core::{Labels, METRIC_NAME, gofloat};
use promql_parser::parser::{AggregateExpr, LabelModifier};
use std::cmp::Ordering;
use std::collections::HashMap;

fn group_labels(l: &Labels, modifier: &Option<LabelModifier>) -> Labels {
    match modifier {
        None => Labels::default(),
        Some(LabelModifier::Include(keep)) => Labels::from_pairs(
            l.iter()
                .filter(|x| keep.labels.contains(&x.name))
                .map(|x| (x.name.clone(), x.value.clone())),
        ),
        Some(LabelModifier::Exclude(drop)) => {
            let mut o = l.clone();
            o.remove(METRIC_NAME);
            for name in &drop.labels {
                o.remove(name);
            }
            o
        }
    }
}

/// Per-group state for one step of stddev and stdvar.
#[derive(Clone, Copy, Default)]
struct Acc {
    seen: bool,
    /// The sum of squared deviations from the running mean.
    squares: f64,
    mean: f64,
    count: f64,
}

/// `NaN` is the worst value for topk and bottomk; among ties, the series seen first
/// comes first (the output order of ties is unspecified in Prometheus).
fn rank_cmp(a: (f64, usize), b: (f64, usize), top: bool) -> Ordering {
    match (a.0.is_nan(), b.0.is_nan()) {
        (true, true) => a.1.cmp(&b.1),
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => {
            let o = if top {
                b.0.partial_cmp(&a.0)
            } else {
                a.0.partial_cmp(&b.0)
            };
            o.unwrap_or(Ordering::Equal).then(a.1.cmp(&b.1))
        }
    }
}

/// The aggregations that fold each step's values one by one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fold {
    Sum,
    Avg,
    Max,
    Min,
    Count,
    Stddev,
    Stdvar,
    Group,
}

/// Folds every input series into its group's accumulators, one series at a time (each
/// series' values are contiguous, so this walks memory in order). Per group and step the
/// values are folded in input order, as Prometheus does, so sums round the same way.
fn fold_series(
    ev: &Evaluator,
    fold: Fold,
    input: &[Series],
    group_of: &[usize],
    groups: Vec<Labels>,
    n: usize,
) -> Result<Vec<Series>> {
    if fold == Fold::Avg {
        // The running mean in the output rows, the counts beside them.
        let mut rows: Vec<Vec<Option<f64>>> = vec![vec![None; n]; groups.len()];
        let mut counts = vec![0.0f64; groups.len() * n];
        for (i, s) in input.iter().enumerate() {
            if i % 64 == 0 {
                ev.check()?;
            }
            let g = group_of[i];
            let row = rows[g].iter_mut().zip(&mut counts[g * n..(g + 1) * n]);
            for ((slot, count), v) in row.zip(&s.vals) {
                let Some(v) = *v else { continue };
                let Some(mean) = slot else {
                    *slot = Some(v);
                    *count = 1.0;
                    continue;
                };
                *count += 1.0;
                if mean.is_infinite() {
                    if v.is_infinite() && (*mean > 0.0) == (v > 0.0) {
                        continue;
                    }
                    if !v.is_infinite() && !v.is_nan() {
                        continue;
                    }
                }
                *mean += v / *count - *mean / *count;
            }
        }
        return Ok(group_series(groups, rows));
    }
    if matches!(
        fold,
        Fold::Sum | Fold::Max | Fold::Min | Fold::Group | Fold::Count
    ) {
        // These need only the running value: fold straight into the output rows.
        let mut rows: Vec<Vec<Option<f64>>> = vec![vec![None; n]; groups.len()];
        for (i, s) in input.iter().enumerate() {
            if i % 64 == 0 {
                ev.check()?;
            }
            for (slot, v) in rows[group_of[i]].iter_mut().zip(&s.vals) {
                let Some(v) = *v else { continue };
                *slot = Some(match (*slot, fold) {
                    (None, Fold::Group | Fold::Count) => 1.0,
                    (None, _) => v,
                    (Some(a), Fold::Sum) => a + v,
                    (Some(a), Fold::Count) => a + 1.0,
                    (Some(a), Fold::Max) if a < v || a.is_nan() => v,
                    (Some(a), Fold::Min) if a > v || a.is_nan() => v,
                    (Some(a), _) => a,
                });
            }
        }
        return Ok(group_series(groups, rows));
    }
    // Stddev and stdvar: Welford's running mean and sum of squared deviations, as
    // Prometheus folds them.
    let mut accs = vec![Acc::default(); groups.len() * n];
    for (i, s) in input.iter().enumerate() {
        if i % 64 == 0 {
            ev.check()?;
        }
        let base = group_of[i] * n;
        for (acc, v) in accs[base..base + n].iter_mut().zip(&s.vals) {
            let Some(v) = *v else { continue };
            if !acc.seen {
                *acc = Acc {
                    seen: true,
                    squares: 0.0,
                    mean: v,
                    count: 1.0,
                };
                continue;
            }
            acc.count += 1.0;
            let delta = v - acc.mean;
            acc.mean += delta / acc.count;
            acc.squares += delta * (v - acc.mean);
        }
    }
    Ok(groups
        .into_iter()
        .enumerate()
        .map(|(g, labels)| Series {
            labels,
            vals: accs[g * n..(g + 1) * n]
                .iter()
                .map(|acc| {
                    acc.seen.then(|| {
                        let variance = acc.squares / acc.count;
                        if fold == Fold::Stddev {
                            variance.sqrt()
                        } else {
                            variance
                        }
                    })
                })
                .collect(),
        })
        .filter(Series::any)
        .collect())
}

pub(crate) fn eval(ev: &Evaluator, a: &AggregateExpr, st: &Steps) -> Result<Val> {
    let op = a.op.to_string();
    let n = st.len();
    let param = match (&a.param, op.as_str()) {
        (Some(p), "topk" | "bottomk" | "quantile") => ev.eval_scalar(p, st)?,
        _ => Vec::new(),
    };
    let label = match (&a.param, op.as_str()) {
        (Some(p), "count_values") => {
            let l = ev.eval_string(p, st)?;
            let valid = {
                let mut c = l.chars();
                matches!(c.next(), Some(x) if x.is_ascii_alphabetic() || x == '_')
                    && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
            };
            if !valid {
                return exec_err(format!("invalid label name {l:?}"));
            }
            l
        }
        _ => String::new(),
    };
    let input = ev.eval_vector(&a.expr, st)?;
    if op == "count_values" {
        return count_values(ev, a, &input, &label, st);
    }

    // Group every input series once.
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<Labels> = Vec::new();
    let mut group_of = Vec::with_capacity(input.len());
    for s in &input {
        let g = group_labels(&s.labels, &a.modifier);
        let id = match index.get(&g) {
            Some(&id) => id,
            None => {
                index.insert(g.clone(), groups.len());
                groups.push(g);
                groups.len() - 1
            }
        };
        group_of.push(id);
    }

    if op == "topk" || op == "bottomk" {
        return top_bottom(
            ev,
            &input,
            &group_of,
            groups.len(),
            &param,
            op == "topk",
            st,
        );
    }

    let fold = match op.as_str() {
        "sum" => Some(Fold::Sum),
        "avg" => Some(Fold::Avg),
        "max" => Some(Fold::Max),
        "min" => Some(Fold::Min),
        "count" => Some(Fold::Count),
        "stddev" => Some(Fold::Stddev),
        "stdvar" => Some(Fold::Stdvar),
        "group" => Some(Fold::Group),
        _ => None,
    };
    if let Some(fold) = fold {
        // Every series its own group (`sum by (host, le)` over one series per host and
        // bucket): sum, avg, min and max of one value are that value, so the series are
        // relabelled rather than folded.
        if groups.len() == input.len()
            && matches!(fold, Fold::Sum | Fold::Avg | Fold::Max | Fold::Min)
        {
            return Ok(Val::Vector(
                input
                    .into_iter()
                    .zip(groups)
                    .map(|(s, labels)| Series {
                        labels,
                        vals: s.vals,
                    })
                    .filter(Series::any)
                    .collect(),
            ));
        }
        return Ok(Val::Vector(fold_series(
            ev, fold, &input, &group_of, groups, n,
        )?));
    }

    if op != "quantile" {
        return exec_err(format!("unknown aggregation {op}"));
    }
    // quantile: per group and step, the values present, then their φ-quantile.
    let mut out: Vec<Vec<Option<f64>>> = vec![vec![None; n]; groups.len()];
    let mut buckets: Vec<Vec<f64>> = vec![Vec::new(); groups.len()];
    // `j` indexes the step column of every input series and of the output.
    #[allow(clippy::needless_range_loop)]
    for j in 0..n {
        if j % 64 == 0 {
            ev.check()?;
        }
        for b in buckets.iter_mut() {
            b.clear();
        }
        for (i, s) in input.iter().enumerate() {
            if let Some(v) = s.vals[j] {
                buckets[group_of[i]].push(v);
            }
        }
        let phi = param.get(j).copied().unwrap_or(f64::NAN);
        for (g, b) in buckets.iter_mut().enumerate() {
            if !b.is_empty() {
                out[g][j] = Some(quantile(phi, b));
            }
        }
    }
    Ok(Val::Vector(group_series(groups, out)))
}

/// Each group's labels with its row of per-step values; groups without any value are
/// left out, as Prometheus drops them.
fn group_series(groups: Vec<Labels>, rows: Vec<Vec<Option<f64>>>) -> Vec<Series> {
    groups
        .into_iter()
        .zip(rows)
        .map(|(labels, vals)| Series { labels, vals })
        .filter(Series::any)
        .collect()
}

fn top_bottom(
    ev: &Evaluator,
    input: &[Series],
    group_of: &[usize],
    ngroups: usize,
    param: &[f64],
    top: bool,
    st: &Steps,
) -> Result<Val> {
    let n = st.len();
    let mut b = RowBuilder::new(n);
    let mut members: Vec<Vec<(f64, usize)>> = vec![Vec::new(); ngroups];
    // The group order of this step: first appearance among present series.
    let mut order: Vec<usize> = Vec::with_capacity(ngroups);
    let mut row_of: Vec<Option<usize>> = vec![None; input.len()];
    for j in 0..n {
        if j % 64 == 0 {
            ev.check()?;
        }
        let kf = param.get(j).copied().unwrap_or(f64::NAN);
        if !(kf <= i64::MAX as f64 && kf >= i64::MIN as f64) {
            return exec_err(format!(
                "Scalar value {} overflows int64",
                gofloat::format_plain(kf)
            ));
        }
        let k = kf as i64;
        if k < 1 {
            continue;
        }
        let k = k as usize;
        for m in members.iter_mut() {
            m.clear();
        }
        order.clear();
        for (i, s) in input.iter().enumerate() {
            if let Some(v) = s.vals[j] {
                let g = group_of[i];
                if members[g].is_empty() {
                    order.push(g);
                }
                members[g].push((v, i));
            }
        }
        for &g in &order {
            let m = &mut members[g];
            if m.len() > k {
                go_heap_select(m, k, top);
            }
            m.sort_by(|x, y| rank_cmp(*x, *y, top));
            for &(v, i) in m.iter() {
                let row = match row_of[i] {
                    Some(r) => r,
                    None => {
                        let r = b.row(input[i].labels.clone());
                        row_of[i] = Some(r);
                        r
                    }
                };
                b.put(row, j, v)?;
            }
        }
    }
    Ok(Val::Vector(b.finish()))
}

/// Keeps in `m` the `k` members Prometheus 2.42 keeps, by running its algorithm on a Go
/// `container/heap` of at most `k` samples (the worst kept at the root): a newcomer
/// strictly better than the root, or any newcomer while the root is NaN, pops the root and
/// is pushed (k = 1: replaces it). Which of several *equal* values survive depends on the
/// heap's shape, so the same algorithm is needed to keep the same series.
fn go_heap_select(m: &mut Vec<(f64, usize)>, k: usize, top: bool) {
    // Prometheus's `vectorByValueHeap` (topk) / `vectorByReverseValueHeap` (bottomk).
    let less = |a: f64, b: f64| a.is_nan() || if top { a < b } else { a > b };
    fn up(h: &mut [(f64, usize)], mut j: usize, less: &impl Fn(f64, f64) -> bool) {
        while j > 0 {
            let i = (j - 1) / 2;
            if !less(h[j].0, h[i].0) {
                break;
            }
            h.swap(i, j);
            j = i;
        }
    }
    fn down(h: &mut [(f64, usize)], n: usize, less: &impl Fn(f64, f64) -> bool) {
        let mut i = 0;
        loop {
            let j1 = 2 * i + 1;
            if j1 >= n {
                break;
            }
            let mut j = j1;
            let j2 = j1 + 1;
            if j2 < n && less(h[j2].0, h[j1].0) {
                j = j2;
            }
            if !less(h[j].0, h[i].0) {
                break;
            }
            h.swap(i, j);
            i = j;
        }
    }
    let mut heap: Vec<(f64, usize)> = Vec::with_capacity(k);
    for &(v, i) in m.iter() {
        let root = heap.first().map_or(f64::NAN, |r| r.0);
        let better = if top { root < v } else { root > v };
        if heap.len() < k || better || root.is_nan() {
            if heap.len() == k {
                if k == 1 {
                    heap[0] = (v, i);
                    continue;
                }
                // heap.Pop: the root goes to the end, the rest is sifted, the end dropped.
                let n = heap.len() - 1;
                heap.swap(0, n);
                down(&mut heap, n, &less);
                heap.pop();
            }
            heap.push((v, i));
            let last = heap.len() - 1;
            up(&mut heap, last, &less);
        }
    }
    *m = heap;
}

fn count_values(
    ev: &Evaluator,
    a: &AggregateExpr,
    input: &[Series],
    label: &str,
    st: &Steps,
) -> Result<Val> {
    let n = st.len();
    let modifier = match &a.modifier {
        Some(LabelModifier::Include(l)) => {
            let mut l = l.clone();
            l.labels.push(label.to_string());
            Some(LabelModifier::Include(l))
        }
        None => Some(LabelModifier::Include(promql_parser::label::Labels::new(
            vec![label],
        ))),
        other => other.clone(),
    };
    let mut b = RowBuilder::new(n);
    for j in 0..n {
        if j % 64 == 0 {
            ev.check()?;
        }
        for s in input {
            let Some(v) = s.vals[j] else { continue };
            let mut l = s.labels.clone();
            l.set(label, &gofloat::format_plain(v));
            let row = b.row(group_labels(&l, &modifier));
            let slot = &mut b.rows[row].vals[j];
            *slot = Some(slot.unwrap_or(0.0) + 1.0);
        }
    }
    Ok(Val::Vector(b.finish()))
}
