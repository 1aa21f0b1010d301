//! Binary operators: arithmetic, comparisons, `atan2` and the set operators, with
//! Prometheus 2.42's vector matching (`on`/`ignoring`, `group_left`/`group_right`).
//!
//! A **signature** is the label set two samples must share to match: the `on` labels, or
//! every label but `__name__` and the `ignoring` labels. Signatures are computed once per
//! series and interned to small integers, so each step only compares integers.

use crate::eval::{Evaluator, Result, RowBuilder, Series, Steps, Val, exec_err, merge_series};
use argus_core::{Labels, METRIC_NAME};
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};
use std::collections::HashMap;

fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=")
}

/// Operators whose result drops the metric name (`atan2` keeps it in 2.42).
fn drops_name(op: &str) -> bool {
    matches!(op, "+" | "-" | "*" | "/" | "%" | "^")
}

/// `vectorElemBinop`: the value and whether a comparison keeps the sample.
fn elem(op: &str, l: f64, r: f64) -> (f64, bool) {
    match op {
        "+" => (l + r, true),
        "-" => (l - r, true),
        "*" => (l * r, true),
        "/" => (l / r, true),
        "^" => (l.powf(r), true),
        "%" => (l % r, true),
        "atan2" => (l.atan2(r), true),
        "==" => (l, l == r),
        "!=" => (l, l != r),
        ">" => (l, l > r),
        "<" => (l, l < r),
        ">=" => (l, l >= r),
        "<=" => (l, l <= r),
        _ => (f64::NAN, false),
    }
}

/// Prometheus's `labels.String()` form, used in error messages.
fn prom_string(l: &Labels) -> String {
    let parts: Vec<String> = l
        .iter()
        .map(|x| format!("{}={:?}", x.name, x.value))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

pub(crate) fn eval(ev: &Evaluator, b: &BinaryExpr, st: &Steps) -> Result<Val> {
    let op = b.op.to_string();
    let return_bool = b.return_bool();
    let lhs = ev.eval(&b.lhs, st)?;
    let rhs = ev.eval(&b.rhs, st)?;
    let n = st.len();
    match (lhs, rhs) {
        (Val::Scalar(l), Val::Scalar(r)) => Ok(Val::Scalar(
            l.iter()
                .zip(&r)
                .map(|(&x, &y)| {
                    let (v, keep) = elem(&op, x, y);
                    if is_comparison(&op) {
                        if keep { 1.0 } else { 0.0 }
                    } else {
                        v
                    }
                })
                .collect(),
        )),
        (Val::Vector(v), Val::Scalar(s)) => vector_scalar(v, &s, &op, false, return_bool, n),
        (Val::Scalar(s), Val::Vector(v)) => vector_scalar(v, &s, &op, true, return_bool, n),
        (Val::Vector(l), Val::Vector(r)) => {
            let (on, names): (bool, Vec<String>) =
                match b.modifier.as_ref().and_then(|m| m.matching.as_ref()) {
                    Some(LabelModifier::Include(ls)) => (true, ls.labels.clone()),
                    Some(LabelModifier::Exclude(ls)) => (false, ls.labels.clone()),
                    None => (false, Vec::new()),
                };
            let sig = |labels: &Labels| -> Labels {
                if on {
                    Labels::from_pairs(
                        labels
                            .iter()
                            .filter(|x| names.contains(&x.name))
                            .map(|x| (x.name.clone(), x.value.clone())),
                    )
                } else {
                    let mut o = labels.clone();
                    o.remove(METRIC_NAME);
                    for name in &names {
                        o.remove(name);
                    }
                    o
                }
            };
            match op.as_str() {
                "and" | "or" | "unless" => set_op(ev, &op, l, r, &sig, n),
                _ => {
                    let card = b
                        .modifier
                        .as_ref()
                        .map(|m| m.card.clone())
                        .unwrap_or(VectorMatchCardinality::OneToOne);
                    let m = Matching {
                        op: &op,
                        on,
                        names: &names,
                        card,
                        return_bool,
                    };
                    vector_vector(ev, &m, l, r, &sig, n)
                }
            }
        }
        _ => exec_err(format!(
            "operator {op} needs scalar or instant vector operands"
        )),
    }
}

fn vector_scalar(
    mut v: Vec<Series>,
    s: &[f64],
    op: &str,
    swap: bool,
    return_bool: bool,
    n: usize,
) -> Result<Val> {
    let cmp = is_comparison(op);
    let drop = drops_name(op) || return_bool;
    for series in &mut v {
        if drop {
            series.labels.remove(METRIC_NAME);
        }
        for (j, x) in series.vals.iter_mut().enumerate() {
            let Some(val) = *x else { continue };
            let (lv, rv) = if swap { (s[j], val) } else { (val, s[j]) };
            let (mut value, mut keep) = elem(op, lv, rv);
            if cmp && swap {
                value = rv;
            }
            if return_bool {
                value = if keep { 1.0 } else { 0.0 };
                keep = true;
            }
            *x = keep.then_some(value);
        }
    }
    if drop {
        Ok(Val::Vector(merge_series(v, n)?))
    } else {
        Ok(Val::Vector(v.into_iter().filter(Series::any).collect()))
    }
}

/// Interns signatures of both sides into shared small integers.
fn intern(
    l: &[Series],
    r: &[Series],
    sig: &dyn Fn(&Labels) -> Labels,
) -> (Vec<usize>, Vec<usize>, Vec<Labels>) {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut all = Vec::new();
    let mut id = |labels: &Labels| {
        let s = sig(labels);
        if let Some(&i) = index.get(&s) {
            return i;
        }
        index.insert(s.clone(), all.len());
        all.push(s);
        all.len() - 1
    };
    let ls = l.iter().map(|s| id(&s.labels)).collect();
    let rs = r.iter().map(|s| id(&s.labels)).collect();
    (ls, rs, all)
}

fn set_op(
    ev: &Evaluator,
    op: &str,
    l: Vec<Series>,
    r: Vec<Series>,
    sig: &dyn Fn(&Labels) -> Labels,
    n: usize,
) -> Result<Val> {
    let (lsig, rsig, all) = intern(&l, &r, sig);
    // stamp[sig] = step + 1 when the other side has that signature at this step.
    let mut stamp = vec![0usize; all.len()];
    let mut l = l;
    let mut r = r;
    for j in 0..n {
        if j % 64 == 0 {
            ev.check()?;
        }
        match op {
            "and" | "unless" => {
                for (k, s) in r.iter().enumerate() {
                    if s.vals[j].is_some() {
                        stamp[rsig[k]] = j + 1;
                    }
                }
                let want = op == "and";
                for (i, s) in l.iter_mut().enumerate() {
                    if s.vals[j].is_some() && (stamp[lsig[i]] == j + 1) != want {
                        s.vals[j] = None;
                    }
                }
            }
            _ => {
                for (i, s) in l.iter().enumerate() {
                    if s.vals[j].is_some() {
                        stamp[lsig[i]] = j + 1;
                    }
                }
                for (k, s) in r.iter_mut().enumerate() {
                    if s.vals[j].is_some() && stamp[rsig[k]] == j + 1 {
                        s.vals[j] = None;
                    }
                }
            }
        }
    }
    if op == "or" {
        l.append(&mut r);
        // A series on both sides with the same labels is one series across steps.
        return Ok(Val::Vector(merge_series(l, n)?));
    }
    Ok(Val::Vector(l.into_iter().filter(Series::any).collect()))
}

struct Matching<'a> {
    op: &'a str,
    on: bool,
    names: &'a [String],
    card: VectorMatchCardinality,
    return_bool: bool,
}

impl Matching<'_> {
    /// `resultMetric`: the output labels for a many-side and a one-side series.
    fn result_labels(&self, many: &Labels, one: &Labels) -> Labels {
        let mut l = many.clone();
        if drops_name(self.op) || self.return_bool {
            l.remove(METRIC_NAME);
        }
        match &self.card {
            VectorMatchCardinality::OneToOne => {
                if self.on {
                    l = Labels::from_pairs(
                        l.iter()
                            .filter(|x| self.names.contains(&x.name))
                            .map(|x| (x.name.clone(), x.value.clone())),
                    );
                } else {
                    for name in self.names {
                        l.remove(name);
                    }
                }
            }
            VectorMatchCardinality::ManyToOne(include)
            | VectorMatchCardinality::OneToMany(include) => {
                for name in &include.labels {
                    match one.get(name) {
                        Some(v) => l.set(name, v),
                        None => l.remove(name),
                    }
                }
            }
            VectorMatchCardinality::ManyToMany => {}
        }
        l
    }
}

fn vector_vector(
    ev: &Evaluator,
    m: &Matching,
    l: Vec<Series>,
    r: Vec<Series>,
    sig: &dyn Fn(&Labels) -> Labels,
    n: usize,
) -> Result<Val> {
    let swapped = matches!(m.card, VectorMatchCardinality::OneToMany(_));
    let one_to_one = matches!(
        m.card,
        VectorMatchCardinality::OneToOne | VectorMatchCardinality::ManyToMany
    );
    let (many, one) = if swapped { (r, l) } else { (l, r) };
    let (many_sig, one_sig, all) = intern(&many, &one, sig);
    let ng = all.len();
    // Per signature at this step: which one-side series is present (`pick`), stamped.
    let mut one_stamp = vec![0usize; ng];
    let mut pick = vec![0usize; ng];
    let mut matched_stamp = vec![0usize; ng];
    let mut b = RowBuilder::new(n);
    let mut row_stamp: Vec<(usize, usize)> = Vec::new();
    let mut last_pair: Vec<Option<(usize, usize)>> = vec![None; many.len()];
    let mut pair_rows: HashMap<(usize, usize), usize> = HashMap::new();
    for j in 0..n {
        if j % 64 == 0 {
            ev.check()?;
        }
        for (k, s) in one.iter().enumerate() {
            if s.vals[j].is_none() {
                continue;
            }
            let g = one_sig[k];
            if one_stamp[g] == j + 1 {
                let side = if swapped { "left" } else { "right" };
                return exec_err(format!(
                    "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    prom_string(&all[g]),
                    prom_string(&s.labels),
                    prom_string(&one[pick[g]].labels),
                ));
            }
            one_stamp[g] = j + 1;
            pick[g] = k;
        }
        for (i, s) in many.iter().enumerate() {
            let Some(v) = s.vals[j] else { continue };
            let g = many_sig[i];
            if one_stamp[g] != j + 1 {
                continue;
            }
            let k = pick[g];
            let Some(ov) = one[k].vals[j] else { continue };
            let (vl, vr) = if swapped { (ov, v) } else { (v, ov) };
            let (mut value, keep) = elem(m.op, vl, vr);
            if m.return_bool {
                value = if keep { 1.0 } else { 0.0 };
            } else if !keep {
                continue;
            }
            let row = match last_pair[i] {
                Some((pk, row)) if pk == k => row,
                _ => {
                    let row = match pair_rows.get(&(i, k)) {
                        Some(&row) => row,
                        None => {
                            let row = b.row(m.result_labels(&s.labels, &one[k].labels));
                            pair_rows.insert((i, k), row);
                            row
                        }
                    };
                    last_pair[i] = Some((k, row));
                    row
                }
            };
            if one_to_one {
                if matched_stamp[g] == j + 1 {
                    return exec_err(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                    );
                }
                matched_stamp[g] = j + 1;
            } else {
                if row_stamp.len() <= row {
                    row_stamp.resize(row + 1, (0, 0));
                }
                if row_stamp[row] == (j + 1, g) {
                    return exec_err(
                        "multiple matches for labels: grouping labels must ensure unique matches",
                    );
                }
                row_stamp[row] = (j + 1, g);
            }
            b.put(row, j, value)?;
        }
    }
    Ok(Val::Vector(b.finish()))
}
