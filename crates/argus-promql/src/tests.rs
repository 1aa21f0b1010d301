//! End-to-end evaluator tests over an in-memory store ([`MemStore`]). Expected values are computed by
//! hand from Prometheus 2.42's definitions; the comments show the arithmetic.

use crate::{Engine, EngineOptions, QueryError, Value};
use argus_core::storage::mem::MemStore;
use argus_core::{Labels, Sample, TimeSeries};
use std::sync::Arc;

/// `name{k="v",…}` with samples `(seconds, value)`.
fn ser(name: &str, labels: &[(&str, &str)], points: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: Labels::with_name(name, labels.iter().copied()),
        samples: points
            .iter()
            .map(|&(t, value)| Sample {
                ts: t * 1000,
                value,
            })
            .collect(),
    }
}

/// Samples every `step` seconds from `start`: `first, first+inc, …` (`count` of them).
fn lin(start: i64, step: i64, first: f64, inc: f64, count: usize) -> Vec<(i64, f64)> {
    (0..count)
        .map(|i| (start + i as i64 * step, first + inc * i as f64))
        .collect()
}

fn engine(series: Vec<TimeSeries>) -> Engine {
    Engine::new(
        Arc::new(MemStore::from_series(series)),
        EngineOptions::default(),
    )
}

/// Instant query at `t` seconds, as `(labels, value)` in result order.
fn iq(e: &Engine, q: &str, t: i64) -> Vec<(String, f64)> {
    match e.instant(q, t * 1000) {
        Ok(Value::Vector(v)) => v.into_iter().map(|(l, _, v)| (l.to_string(), v)).collect(),
        Ok(Value::Scalar { v, .. }) => vec![("scalar".into(), v)],
        other => panic!("{q}: unexpected {other:?}"),
    }
}

/// The single value of an instant query.
fn one(e: &Engine, q: &str, t: i64) -> f64 {
    let r = iq(e, q, t);
    assert_eq!(r.len(), 1, "{q} at {t}: {r:?}");
    r[0].1
}

fn err(e: &Engine, q: &str, t: i64) -> QueryError {
    match e.instant(q, t * 1000) {
        Err(e) => e,
        Ok(v) => panic!("{q}: expected an error, got {v:?}"),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

fn assert_result(e: &Engine, q: &str, t: i64, want: &[(&str, f64)]) {
    let got = iq(e, q, t);
    assert_eq!(got.len(), want.len(), "{q}: {got:?}");
    for ((gl, gv), (wl, wv)) in got.iter().zip(want) {
        assert_eq!(gl, wl, "{q}: {got:?}");
        assert!(close(*gv, *wv), "{q}: {gl} = {gv}, want {wv}");
    }
}

/// The same as `assert_result` but ignoring order.
fn assert_set(e: &Engine, q: &str, t: i64, want: &[(&str, f64)]) {
    let mut got = iq(e, q, t);
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let mut want: Vec<(String, f64)> = want.iter().map(|(l, v)| (l.to_string(), *v)).collect();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got.len(), want.len(), "{q}: {got:?}");
    for ((gl, gv), (wl, wv)) in got.iter().zip(&want) {
        assert_eq!(gl, wl, "{q}: {got:?}");
        assert!(close(*gv, *wv), "{q}: {gl} = {gv}, want {wv}");
    }
}

/// What a query in a test table should return.
#[derive(Debug)]
enum Want<'a> {
    /// Exactly these `(labels, value)` pairs, in this order (values as [`close`] compares).
    Seq(&'a [(&'a str, f64)]),
    /// Exactly these pairs, in any order.
    Set(&'a [(&'a str, f64)]),
    /// One element, whatever its labels, [`close`] to this value.
    Close(f64),
    /// One element, whatever its labels, of exactly this value.
    Exact(f64),
}
use Want::{Close, Exact, Seq, Set};

/// Runs each `(query, seconds, want)` of a table as an instant query; a failure names the
/// query and its time.
fn check(e: &Engine, cases: &[(&str, i64, Want<'_>)]) {
    for (q, t, want) in cases {
        match want {
            Seq(w) => assert_result(e, q, *t, w),
            Set(w) => assert_set(e, q, *t, w),
            Close(w) => {
                let got = one(e, q, *t);
                assert!(close(got, *w), "{q} at {t}: got {got}, want {w}");
            }
            Exact(w) => assert_eq!(one(e, q, *t), *w, "{q} at {t}"),
        }
    }
}

#[test]
fn lookback_includes_exactly_five_minutes() {
    let e = engine(vec![ser("m", &[], &[(0, 1.0)])]);
    assert_eq!(one(&e, "m", 300), 1.0);
    assert!(
        e.instant("m", 300_001)
            .is_ok_and(|v| v == Value::Vector(vec![]))
    );
    assert!(iq(&e, "m", -1).is_empty());
}

#[test]
fn stale_marker_ends_a_series_but_plain_nan_is_a_value() {
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    let e = engine(vec![
        ser("m", &[("a", "1")], &[(0, 1.0), (10, stale), (20, 3.0)]),
        ser("m", &[("a", "2")], &[(0, f64::NAN)]),
    ]);
    #[rustfmt::skip]
    let cases = [
        ("m", 5, Seq(&[(r#"m{a="1"}"#, 1.0), (r#"m{a="2"}"#, f64::NAN)])),
        ("m", 15, Seq(&[(r#"m{a="2"}"#, f64::NAN)])),
        ("m", 20, Seq(&[(r#"m{a="1"}"#, 3.0), (r#"m{a="2"}"#, f64::NAN)])),
        // The marker never enters a range window.
        (r#"count_over_time(m{a="1"}[1m])"#, 30, Close(2.0)),
    ];
    check(&e, &cases);
}

#[test]
fn offset_and_at_modifiers() {
    let e = engine(vec![ser("m", &[], &lin(0, 60, 0.0, 1.0, 11))]);
    #[rustfmt::skip]
    let cases = [
        ("m offset 2m", 600, Exact(8.0)),
        ("m offset -2m", 300, Exact(7.0)),
        ("m @ 120", 600, Exact(2.0)),
        ("m @ 240 offset 1m", 600, Exact(3.0)),
        ("timestamp(m @ 240)", 600, Exact(240.0)),
    ];
    check(&e, &cases);
    // @ start() / end() of a range query.
    let Ok(Value::Matrix(m)) = e.range("m @ end()", 60_000, 180_000, 60_000) else {
        panic!("range")
    };
    let vals: Vec<f64> = m[0].samples.iter().map(|s| s.value).collect();
    assert_eq!(vals, vec![3.0, 3.0, 3.0]);
    let Ok(Value::Matrix(m)) = e.range("m @ start()", 60_000, 180_000, 60_000) else {
        panic!("range")
    };
    assert!(m[0].samples.iter().all(|s| s.value == 1.0));
}

#[test]
fn rate_counts_resets_and_extrapolates() {
    let e = engine(vec![
        ser("c", &[("k", "plain")], &lin(0, 10, 0.0, 10.0, 7)),
        // 0, 10, 20, reset to 5, 15.
        ser(
            "r",
            &[],
            &[(0, 0.0), (10, 10.0), (20, 20.0), (30, 5.0), (40, 15.0)],
        ),
        // 10..60 at 5s..55s: 5 s gaps at both ends, below the 1.1·10 s threshold.
        ser("x", &[], &lin(5, 10, 10.0, 10.0, 6)),
        // 1..51 at 5s..55s: the zero point (1 s before the first sample) cuts the start.
        ser("z", &[], &lin(5, 10, 1.0, 10.0, 6)),
        // 0, 10, 20 at 20s..40s: 20 s gaps at both ends exceed the threshold.
        ser("g", &[], &lin(20, 10, 0.0, 10.0, 3)),
    ]);
    #[rustfmt::skip]
    let cases = [
        ("rate(c[1m])", 60, Close(1.0)),
        // 15 - 0 + 20 (the reset adds the value before it).
        ("increase(r[40s])", 40, Close(35.0)),
        ("resets(r[1m])", 40, Close(1.0)),
        ("changes(r[1m])", 40, Close(4.0)),
        // 50 over 50 s, extended by 5 s on both sides: 50 · 60/50.
        ("increase(x[1m])", 60, Close(60.0)),
        ("rate(x[1m])", 60, Close(1.0)),
        // 50 · (50 + 1 + 5)/50.
        ("increase(z[1m])", 60, Close(56.0)),
        // delta: 20 · (20 + 5 + 5)/20; increase: the zero point is at the first sample.
        ("delta(g[1m])", 60, Close(30.0)),
        ("increase(g[1m])", 60, Close(25.0)),
        // A single sample gives nothing.
        ("rate(g[5s])", 40, Seq(&[])),
        // irate over the reset: the last value over its gap.
        ("irate(r[1m])", 30, Close(0.5)),
        ("irate(r[1m])", 40, Close(1.0)),
        ("idelta(r[1m])", 30, Close(-15.0)),
    ];
    check(&e, &cases);
}

#[test]
fn range_windows_are_closed_at_both_ends() {
    let e = engine(vec![ser("m", &[], &lin(0, 10, 1.0, 1.0, 7))]);
    // [0, 60] holds all 7 samples.
    #[rustfmt::skip]
    let cases = [
        ("count_over_time(m[1m])", 60, Close(7.0)),
        ("count_over_time(m[1m] offset 10s)", 60, Close(6.0)),
        ("sum_over_time(m[30s])", 60, Close(4.0 + 5.0 + 6.0 + 7.0)),
    ];
    check(&e, &cases);
}

#[test]
fn over_time_functions() {
    let e = engine(vec![
        ser(
            "m",
            &[("a", "x")],
            &[
                (0, 2.0),
                (10, 4.0),
                (20, 4.0),
                (30, 4.0),
                (40, 5.0),
                (50, 5.0),
                (60, 7.0),
                (70, 9.0),
            ],
        ),
        ser("n", &[], &[(0, f64::NAN), (10, 1.0)]),
    ]);
    let t = 70;
    #[rustfmt::skip]
    let cases = [
        ("avg_over_time(m[70s])", t, Close(5.0)),
        ("min_over_time(m[70s])", t, Close(2.0)),
        ("max_over_time(m[70s])", t, Close(9.0)),
        ("sum_over_time(m[70s])", t, Close(40.0)),
        ("count_over_time(m[70s])", t, Close(8.0)),
        // Population variance of the textbook set {2,4,4,4,5,5,7,9} is 4.
        ("stdvar_over_time(m[70s])", t, Close(4.0)),
        ("stddev_over_time(m[70s])", t, Close(2.0)),
        // rank = 0.5·7 = 3.5 → between 4 and 5.
        ("quantile_over_time(0.5, m[70s])", t, Close(4.5)),
        ("quantile_over_time(0.9, m[70s])", t, Close(7.0 + 0.3 * 2.0)),
        ("last_over_time(m[70s])", t, Seq(&[(r#"m{a="x"}"#, 9.0)])),
        ("present_over_time(m[70s])", t, Seq(&[(r#"{a="x"}"#, 1.0)])),
        // min/max skip a leading NaN.
        ("max_over_time(n[1m])", 10, Close(1.0)),
        ("min_over_time(n[1m])", 10, Close(1.0)),
        ("avg_over_time(n[1m])", 10, Close(f64::NAN)),
        ("absent_over_time(m[1m])", t, Seq(&[])),
        (r#"absent_over_time(nope{job="j",x=~"y"}[1m])"#, t, Seq(&[(r#"{job="j"}"#, 1.0)])),
    ];
    check(&e, &cases);
}

#[test]
fn deriv_and_predict_linear() {
    // y = 3 + 0.5·t.
    let e = engine(vec![ser("m", &[], &lin(0, 10, 3.0, 5.0, 7))]);
    #[rustfmt::skip]
    let cases = [
        ("deriv(m[1m])", 60, Close(0.5)),
        // Intercept at the eval time (t = 60: 33) plus 0.5 · 100.
        ("predict_linear(m[1m], 100)", 60, Close(83.0)),
        // The intercept stays at the eval time even with an offset: window [0, 50], line
        // through the same points, value at t = 60 is 33, plus 0.5 · 10.
        ("predict_linear(m[50s] offset 10s, 10)", 60, Close(38.0)),
    ];
    check(&e, &cases);
}

fn agg_data() -> Engine {
    engine(vec![
        ser(
            "h",
            &[("job", "api"), ("inst", "1"), ("mode", "a")],
            &[(0, 1.0)],
        ),
        ser(
            "h",
            &[("job", "api"), ("inst", "2"), ("mode", "b")],
            &[(0, 3.0)],
        ),
        ser(
            "h",
            &[("job", "db"), ("inst", "1"), ("mode", "a")],
            &[(0, 3.0)],
        ),
        ser(
            "h",
            &[("job", "db"), ("inst", "2"), ("mode", "a")],
            &[(0, 8.0)],
        ),
    ])
}

#[test]
fn aggregations_by_and_without() {
    let e = agg_data();
    #[rustfmt::skip]
    let cases = [
        ("sum(h)", 0, Seq(&[("{}", 15.0)])),
        ("sum by (job) (h)", 0, Seq(&[(r#"{job="api"}"#, 4.0), (r#"{job="db"}"#, 11.0)])),
        ("sum without (inst) (h)", 0, Set(&[(r#"{job="api",mode="a"}"#, 1.0), (r#"{job="api",mode="b"}"#, 3.0), (r#"{job="db",mode="a"}"#, 11.0)])),
        ("sum by (__name__) (h)", 0, Seq(&[("h{}", 15.0)])),
        ("avg by (job) (h)", 0, Seq(&[(r#"{job="api"}"#, 2.0), (r#"{job="db"}"#, 5.5)])),
        ("min(h)", 0, Seq(&[("{}", 1.0)])),
        ("max(h)", 0, Seq(&[("{}", 8.0)])),
        ("count by (mode) (h)", 0, Seq(&[(r#"{mode="a"}"#, 3.0), (r#"{mode="b"}"#, 1.0)])),
        ("group by (job) (h)", 0, Seq(&[(r#"{job="api"}"#, 1.0), (r#"{job="db"}"#, 1.0)])),
        // mean 3.75; squared deviations 7.5625+0.5625+0.5625+18.0625 = 26.75; /4.
        ("stdvar(h)", 0, Seq(&[("{}", 6.6875)])),
        ("stddev(h)", 0, Seq(&[("{}", 6.6875f64.sqrt())])),
        // Sorted 1,3,3,8: rank 0.75·3 = 2.25 → 3 + 0.25·5.
        ("quantile(0.75, h)", 0, Seq(&[("{}", 4.25)])),
        ("quantile(0.5, h)", 0, Seq(&[("{}", 3.0)])),
        ("quantile(2, h)", 0, Seq(&[("{}", f64::INFINITY)])),
        ("count_values(\"v\", h)", 0, Set(&[(r#"{v="1"}"#, 1.0), (r#"{v="3"}"#, 2.0), (r#"{v="8"}"#, 1.0)])),
        ("count_values by (job) (\"job\", h)", 0, Set(&[(r#"{job="1"}"#, 1.0), (r#"{job="3"}"#, 2.0), (r#"{job="8"}"#, 1.0)])),
    ];
    check(&e, &cases);
}

#[test]
fn topk_and_bottomk_keep_labels_and_break_ties_as_prometheus_heap_does() {
    let e = agg_data();
    // Two series tie at 3. Prometheus 2.42's heap (storage order 1, 3 (inst 1, db),
    // 3 (inst 2, api), 8) pops 1 for the second 3, then pops the root 3 (inst 1, db)
    // for 8: the later-seen tie survives.
    #[rustfmt::skip]
    let cases = [
        ("topk(2, h)", 0, Seq(&[(r#"h{inst="2",job="db",mode="a"}"#, 8.0), (r#"h{inst="2",job="api",mode="b"}"#, 3.0)])),
        // In bottomk the second 3 is not better than the kept 3: the first-seen one stays.
        ("bottomk(2, h)", 0, Seq(&[(r#"h{inst="1",job="api",mode="a"}"#, 1.0), (r#"h{inst="1",job="db",mode="a"}"#, 3.0)])),
        // Groups in order of first appearance: api (inst 1), then db.
        ("topk by (job) (1, h)", 0, Seq(&[(r#"h{inst="2",job="api",mode="b"}"#, 3.0), (r#"h{inst="2",job="db",mode="a"}"#, 8.0)])),
        ("topk(0, h)", 0, Seq(&[])),
    ];
    check(&e, &cases);
    assert!(
        matches!(err(&e, "topk(scalar(nope), h)", 0), QueryError::Execution(m) if m.contains("overflows int64"))
    );
}

#[test]
fn avg_handles_infinities_like_prometheus() {
    let e = engine(vec![
        ser("i", &[("a", "1")], &[(0, f64::INFINITY)]),
        ser("i", &[("a", "2")], &[(0, 5.0)]),
        ser("j", &[("a", "1")], &[(0, f64::INFINITY)]),
        ser("j", &[("a", "2")], &[(0, f64::NEG_INFINITY)]),
    ]);
    #[rustfmt::skip]
    let cases = [
        ("avg(i)", 0, Exact(f64::INFINITY)),
        ("avg(j)", 0, Close(f64::NAN)),
        ("stddev(i)", 0, Close(f64::NAN)),
    ];
    check(&e, &cases);
}

fn bin_data() -> Engine {
    engine(vec![
        ser("a", &[("job", "x"), ("i", "1")], &[(0, 10.0)]),
        ser("a", &[("job", "x"), ("i", "2")], &[(0, 20.0)]),
        ser("a", &[("job", "y"), ("i", "1")], &[(0, 30.0)]),
        ser("b", &[("job", "x"), ("i", "1")], &[(0, 2.0)]),
        ser("b", &[("job", "x"), ("i", "2")], &[(0, 4.0)]),
        ser("info", &[("job", "x"), ("team", "t1")], &[(0, 1.0)]),
        ser("info", &[("job", "y"), ("team", "t2")], &[(0, 1.0)]),
    ])
}

#[test]
fn arithmetic_and_comparison_operators() {
    let e = bin_data();
    #[rustfmt::skip]
    let cases = [
        ("a / b", 0, Seq(&[(r#"{i="1",job="x"}"#, 5.0), (r#"{i="2",job="x"}"#, 5.0)])),
        ("a - on (i, job) b", 0, Seq(&[(r#"{i="1",job="x"}"#, 8.0), (r#"{i="2",job="x"}"#, 16.0)])),
        // Storage order (by labels) is evaluation order.
        ("a > 15", 0, Seq(&[(r#"a{i="1",job="y"}"#, 30.0), (r#"a{i="2",job="x"}"#, 20.0)])),
        // Scalar on the left: the vector's value is kept.
        ("15 < a", 0, Seq(&[(r#"a{i="1",job="y"}"#, 30.0), (r#"a{i="2",job="x"}"#, 20.0)])),
        ("a > bool 15", 0, Set(&[(r#"{i="1",job="x"}"#, 0.0), (r#"{i="2",job="x"}"#, 1.0), (r#"{i="1",job="y"}"#, 1.0)])),
        ("a > b + 9", 0, Seq(&[(r#"a{i="2",job="x"}"#, 20.0)])),
        ("a == bool on (i, job) b * 5", 0, Seq(&[(r#"{i="1",job="x"}"#, 1.0), (r#"{i="2",job="x"}"#, 1.0)])),
        ("2 ^ 3 ^ 2", 0, Exact(512.0)),
        ("-2 ^ 2", 0, Exact(-4.0)),
        ("5 % 3 + 7 / 2", 0, Exact(5.5)),
        ("1 > bool 2", 0, Exact(0.0)),
        ("-b", 0, Seq(&[(r#"{i="1",job="x"}"#, -2.0), (r#"{i="2",job="x"}"#, -4.0)])),
        // atan2 keeps the metric name in 2.42.
        (r#"b{i="1"} atan2 b{i="1"}"#, 0, Seq(&[(r#"b{i="1",job="x"}"#, std::f64::consts::FRAC_PI_4)])),
    ];
    check(&e, &cases);
}

#[test]
fn vector_matching_group_left_and_errors() {
    let e = bin_data();
    #[rustfmt::skip]
    let cases = [
        ("a * on (job) group_left (team) info", 0, Set(&[(r#"{i="1",job="x",team="t1"}"#, 10.0), (r#"{i="2",job="x",team="t1"}"#, 20.0), (r#"{i="1",job="y",team="t2"}"#, 30.0)])),
        ("info * on (job) group_right (team) a", 0, Set(&[(r#"{i="1",job="x",team="t1"}"#, 10.0), (r#"{i="2",job="x",team="t1"}"#, 20.0), (r#"{i="1",job="y",team="t2"}"#, 30.0)])),
        // group_right comparison: the lhs value with the rhs labels.
        ("info < on (job) group_right a", 0, Set(&[(r#"a{i="1",job="x"}"#, 1.0), (r#"a{i="2",job="x"}"#, 1.0), (r#"a{i="1",job="y"}"#, 1.0)])),
    ];
    check(&e, &cases);
    let m = err(&e, "a * on (job) info", 0).to_string();
    assert!(m.contains("many-to-one matching must be explicit"), "{m}");
    let m = err(&e, "info * on (job) a", 0).to_string();
    assert!(m.contains("many-to-many matching not allowed"), "{m}");
    // Comparison filters: only kept samples count towards "multiple matches".
    // One-to-one `on` keeps only the `on` labels, even for a filter.
    assert_result(&e, "a > on (job) info * 25", 0, &[(r#"{job="y"}"#, 30.0)]);
    let m = err(&e, "a * on (job) group_left (i) info", 0).to_string();
    assert!(
        m.contains("grouping labels must ensure unique matches") || m.contains("same labelset"),
        "{m}"
    );
}

#[test]
fn set_operators() {
    let e = bin_data();
    #[rustfmt::skip]
    let cases = [
        ("a and b", 0, Seq(&[(r#"a{i="1",job="x"}"#, 10.0), (r#"a{i="2",job="x"}"#, 20.0)])),
        ("a unless b", 0, Seq(&[(r#"a{i="1",job="y"}"#, 30.0)])),
        (r#"b or a{job="y"}"#, 0, Seq(&[(r#"b{i="1",job="x"}"#, 2.0), (r#"b{i="2",job="x"}"#, 4.0), (r#"a{i="1",job="y"}"#, 30.0)])),
        ("a and on (i) b", 0, Set(&[(r#"a{i="1",job="x"}"#, 10.0), (r#"a{i="2",job="x"}"#, 20.0), (r#"a{i="1",job="y"}"#, 30.0)])),
        ("a unless ignoring (job) b", 0, Seq(&[])),
    ];
    check(&e, &cases);
}

#[test]
fn math_and_clamp_functions() {
    let e = engine(vec![
        ser("v", &[("k", "a")], &[(0, -2.5)]),
        ser("v", &[("k", "b")], &[(0, 2.5)]),
        ser("v", &[("k", "c")], &[(0, 0.0)]),
    ]);
    #[rustfmt::skip]
    let cases = [
        ("abs(v)", 0, Seq(&[(r#"{k="a"}"#, 2.5), (r#"{k="b"}"#, 2.5), (r#"{k="c"}"#, 0.0)])),
        ("round(v)", 0, Seq(&[(r#"{k="a"}"#, -2.0), (r#"{k="b"}"#, 3.0), (r#"{k="c"}"#, 0.0)])),
        ("round(v, 2)", 0, Seq(&[(r#"{k="a"}"#, -2.0), (r#"{k="b"}"#, 2.0), (r#"{k="c"}"#, 0.0)])),
        ("ceil(v)", 0, Seq(&[(r#"{k="a"}"#, -2.0), (r#"{k="b"}"#, 3.0), (r#"{k="c"}"#, 0.0)])),
        ("floor(v)", 0, Seq(&[(r#"{k="a"}"#, -3.0), (r#"{k="b"}"#, 2.0), (r#"{k="c"}"#, 0.0)])),
        ("sgn(v)", 0, Seq(&[(r#"{k="a"}"#, -1.0), (r#"{k="b"}"#, 1.0), (r#"{k="c"}"#, 0.0)])),
        ("clamp(v, -1, 1)", 0, Seq(&[(r#"{k="a"}"#, -1.0), (r#"{k="b"}"#, 1.0), (r#"{k="c"}"#, 0.0)])),
        ("clamp(v, 1, -1)", 0, Seq(&[])),
        ("clamp_min(v, 0)", 0, Seq(&[(r#"{k="a"}"#, 0.0), (r#"{k="b"}"#, 2.5), (r#"{k="c"}"#, 0.0)])),
        ("clamp_max(v, 0)", 0, Seq(&[(r#"{k="a"}"#, -2.5), (r#"{k="b"}"#, 0.0), (r#"{k="c"}"#, 0.0)])),
        (r#"exp(v{k="c"})"#, 0, Close(1.0)),
        (r#"ln(v{k="b"})"#, 0, Close(2.5f64.ln())),
        (r#"log2(v{k="b"} * 0 + 8)"#, 0, Close(3.0)),
        (r#"log10(v{k="b"} * 40)"#, 0, Close(2.0)),
        (r#"sqrt(v{k="b"} + 3.75)"#, 0, Close(2.5)),
        (r#"deg(v{k="c"} + pi())"#, 0, Close(180.0)),
        (r#"rad(v{k="c"} + 180)"#, 0, Close(std::f64::consts::PI)),
        (r#"cos(v{k="c"})"#, 0, Close(1.0)),
        (r#"sin(v{k="c"})"#, 0, Close(0.0)),
        (r#"tanh(v{k="c"})"#, 0, Close(0.0)),
        ("pi()", 0, Close(std::f64::consts::PI)),
        ("sort(v)", 0, Seq(&[(r#"v{k="a"}"#, -2.5), (r#"v{k="c"}"#, 0.0), (r#"v{k="b"}"#, 2.5)])),
        ("sort_desc(v)", 0, Seq(&[(r#"v{k="b"}"#, 2.5), (r#"v{k="c"}"#, 0.0), (r#"v{k="a"}"#, -2.5)])),
    ];
    check(&e, &cases);
}

#[test]
fn label_replace_and_join() {
    let e = engine(vec![ser(
        "m",
        &[("src", "host-12"), ("b", "x")],
        &[(0, 1.0)],
    )]);
    #[rustfmt::skip]
    let cases = [
        (r#"label_replace(m, "dst", "$1", "src", "host-(.*)")"#, 0, Seq(&[(r#"m{b="x",dst="12",src="host-12"}"#, 1.0)])),
        // Anchored: "host" alone does not match "host-12", so nothing changes.
        (r#"label_replace(m, "dst", "$1", "src", "(host)")"#, 0, Seq(&[(r#"m{b="x",src="host-12"}"#, 1.0)])),
        // An empty result deletes the label; `$1x` names a missing group.
        (r#"label_replace(m, "b", "$1x", "src", "(.*)")"#, 0, Seq(&[(r#"m{src="host-12"}"#, 1.0)])),
        (r#"label_replace(m, "b", "${1}x", "src", "host-(.*)")"#, 0, Seq(&[(r#"m{b="12x",src="host-12"}"#, 1.0)])),
    ];
    check(&e, &cases);
    assert!(matches!(
        err(&e, r#"label_replace(nope, "b", "", "a", "(")"#, 0),
        QueryError::Execution(_)
    ));
    assert_result(
        &e,
        r#"label_join(m, "j", "-", "src", "none", "b")"#,
        0,
        &[(r#"m{b="x",j="host-12--x",src="host-12"}"#, 1.0)],
    );
}

#[test]
fn absent_derives_labels_from_equality_matchers() {
    let e = engine(vec![ser("m", &[("job", "a")], &[(0, 1.0)])]);
    #[rustfmt::skip]
    let cases = [
        ("absent(m)", 0, Seq(&[])),
        (r#"absent(nope{job="a",env=~"p.*",x="1",x="2"})"#, 0, Seq(&[(r#"{job="a"}"#, 1.0)])),
        ("absent(sum(nope))", 0, Seq(&[("{}", 1.0)])),
    ];
    check(&e, &cases);
}

#[test]
fn histogram_quantile_classic_buckets() {
    let b = |le: &str, v: f64| ser("req_bucket", &[("job", "a"), ("le", le)], &[(0, v)]);
    let e = engine(vec![
        b("0.1", 10.0),
        b("0.5", 20.0),
        b("1", 30.0),
        b("+Inf", 40.0),
        ser("bad_bucket", &[("le", "1"), ("x", "y")], &[(0, 5.0)]),
        ser("bad_bucket", &[("le", "2"), ("x", "y")], &[(0, 3.0)]),
        ser("bad_bucket", &[("le", "+Inf"), ("x", "y")], &[(0, 6.0)]),
    ]);
    // rank 20 is the top of the 0.5 bucket.
    #[rustfmt::skip]
    let cases = [
        ("histogram_quantile(0.5, req_bucket)", 0, Seq(&[(r#"{job="a"}"#, 0.5)])),
        // rank 25: 0.5 + 0.5 · (5/10).
        ("histogram_quantile(0.625, req_bucket)", 0, Seq(&[(r#"{job="a"}"#, 0.75)])),
        // rank 38 lands in +Inf: the second-highest bound.
        ("histogram_quantile(0.95, req_bucket)", 0, Seq(&[(r#"{job="a"}"#, 1.0)])),
        // rank 5 in the first bucket: 0 + 0.1 · 5/10.
        ("histogram_quantile(0.125, req_bucket)", 0, Seq(&[(r#"{job="a"}"#, 0.05)])),
        // Non-monotonic counts 5, 3→5, 6: rank 3 → first bucket, 1 · 3/5.
        ("histogram_quantile(0.5, bad_bucket)", 0, Seq(&[(r#"{x="y"}"#, 0.6)])),
        ("histogram_quantile(0.5, rate(req_bucket[1m]))", 0, Seq(&[])),
    ];
    check(&e, &cases);
}

#[test]
fn time_functions() {
    // 2024-02-29T13:45:30Z.
    let t = 1_709_214_330;
    let e = engine(vec![ser("ts", &[], &[(t, t as f64)])]);
    #[rustfmt::skip]
    let cases = [
        ("time()", t, Exact(t as f64)),
        ("year()", t, Exact(2024.0)),
        ("month()", t, Exact(2.0)),
        ("day_of_month()", t, Exact(29.0)),
        ("day_of_week()", t, Exact(4.0)),
        ("day_of_year()", t, Exact(60.0)),
        ("days_in_month()", t, Exact(29.0)),
        ("hour()", t, Exact(13.0)),
        ("minute()", t, Exact(45.0)),
        ("minute(ts)", t, Seq(&[("{}", 45.0)])),
        ("timestamp(ts)", t + 10, Seq(&[("{}", t as f64)])),
        ("timestamp(abs(ts))", t + 10, Seq(&[("{}", (t + 10) as f64)])),
        ("vector(3)", t, Seq(&[("{}", 3.0)])),
        ("scalar(ts)", t, Exact(t as f64)),
        ("scalar(nope)", t, Close(f64::NAN)),
    ];
    check(&e, &cases);
}

#[test]
fn subqueries_align_steps_to_absolute_time() {
    let e = engine(vec![ser("m", &[], &lin(0, 10, 0.0, 1.0, 100))]);
    // Inner steps at multiples of 20 s within [95, 155]: 100, 120, 140 (values 10, 12, 14).
    #[rustfmt::skip]
    let cases = [
        ("sum_over_time(m[60s:20s])", 155, Close(36.0)),
        // An aligned window holds range/step + 1 points: 40, 60, 80, 100.
        ("count_over_time(m[1m:20s])", 100, Close(4.0)),
        ("max_over_time(m[1m:20s] offset 30s)", 100, Close(6.0)),
        ("min_over_time(m[1m:20s] @ 200)", 500, Close(14.0)),
        // rate over a subquery: 40..100 s, values 4..10 step 2 → 6 over 60 s.
        ("rate(m[1m:20s])", 100, Close(0.1)),
    ];
    check(&e, &cases);
    let Ok(Value::Matrix(m)) = e.instant("m[40s:20s]", 100_000) else {
        panic!("matrix")
    };
    let pts: Vec<(i64, f64)> = m[0].samples.iter().map(|s| (s.ts, s.value)).collect();
    assert_eq!(pts, vec![(60_000, 6.0), (80_000, 8.0), (100_000, 10.0)]);
}

#[test]
fn range_query_matches_instant_queries_at_each_step() {
    let e = engine(vec![
        ser("c", &[("h", "1")], &lin(0, 15, 0.0, 7.0, 200)),
        ser(
            "c",
            &[("h", "2")],
            &[(0, 5.0), (300, 9.0), (1200, 1.0), (1500, 4.0)],
        ),
    ]);
    for q in [
        "c",
        "rate(c[2m])",
        "sum(c)",
        "c * 2 > 20",
        "topk(1, c)",
        "avg_over_time(c[1m:30s])",
        "absent(c{h=\"3\"})",
        "c or vector(1)",
    ] {
        let Ok(Value::Matrix(m)) = e.range(q, 60_000, 2_400_000, 60_000) else {
            panic!("{q}")
        };
        // Series are sorted by labels.
        assert!(m.windows(2).all(|w| w[0].labels < w[1].labels), "{q}");
        for t in (60..=2400).step_by(60) {
            let mut want = iq(&e, q, t);
            want.sort_by(|a, b| a.0.cmp(&b.0));
            let mut got: Vec<(String, f64)> = m
                .iter()
                .filter_map(|s| {
                    s.samples
                        .iter()
                        .find(|p| p.ts == t * 1000)
                        .map(|p| (s.labels.to_string(), p.value))
                })
                .collect();
            got.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(got.len(), want.len(), "{q} at {t}: {got:?} vs {want:?}");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g.0, w.0);
                assert!(close(g.1, w.1), "{q} at {t}");
            }
        }
    }
    // A scalar range query is one series without labels.
    let Ok(Value::Matrix(m)) = e.range("time()", 0, 120_000, 60_000) else {
        panic!("time")
    };
    assert_eq!(m.len(), 1);
    assert_eq!(
        m[0].samples.iter().map(|s| s.value).collect::<Vec<_>>(),
        vec![0.0, 60.0, 120.0]
    );
}

#[test]
fn same_labelset_after_dropping_the_name_is_an_error() {
    let e = engine(vec![
        ser("a", &[("x", "1")], &[(-10, 0.0), (0, 1.0)]),
        ser("b", &[("x", "1")], &[(-10, 0.0), (0, 2.0)]),
    ]);
    let m = err(&e, r#"abs({__name__=~"a|b"})"#, 0).to_string();
    assert!(m.contains("same labelset"), "{m}");
    let m = err(&e, r#"rate({__name__=~"a|b"}[1m])"#, 0).to_string();
    assert!(m.contains("same labelset"), "{m}");
    // Filtering comparisons keep the name, so the labels stay distinct.
    assert_eq!(iq(&e, r#"{__name__=~"a|b"} > 0"#, 0).len(), 2);
}

#[test]
fn errors_have_prometheus_types() {
    let e = agg_data();
    let p = err(&e, "sum(", 0);
    assert_eq!((p.prometheus_type(), p.http_status()), ("bad_data", 400));
    let p = err(
        &e,
        "double_exponential_smoothing(h[1m], 0.5, 0.5) + first_over_time(h[1m])",
        0,
    );
    assert_eq!(p.prometheus_type(), "bad_data");
    assert!(matches!(
        e.range("h[1m]", 0, 10, 1),
        Err(QueryError::Parse(_))
    ));
    assert!(matches!(e.range("h", 0, 10, 0), Err(QueryError::Parse(_))));
    assert!(matches!(e.range("h", 10, 0, 1), Err(QueryError::Parse(_))));
    assert!(matches!(
        e.range("h", 0, 20_000, 1),
        Err(QueryError::Parse(_))
    ));
}

#[test]
fn limits_and_timeout() {
    let series: Vec<TimeSeries> = (0..20)
        .map(|i| ser("m", &[("i", &i.to_string())], &lin(0, 10, 0.0, 1.0, 100)))
        .collect();
    let storage = Arc::new(MemStore::from_series(series));
    let opts = EngineOptions {
        max_samples: 1000,
        ..EngineOptions::default()
    };
    let e = Engine::new(storage.clone(), opts);
    let r = e.instant("sum(rate(m[20m]))", 1_000_000);
    assert!(matches!(&r, Err(QueryError::Limit(_))), "{r:?}");
    assert_eq!(r.err().map(|e| e.http_status()), Some(422));
    // A subquery grid larger than the sample limit is refused before allocation.
    let r = e.instant("max_over_time(m[100000d:1s])", 1_000_000);
    assert!(matches!(&r, Err(QueryError::Limit(_))), "{r:?}");
    let e = Engine::new(
        storage.clone(),
        EngineOptions {
            max_series: 5,
            ..EngineOptions::default()
        },
    );
    assert!(matches!(e.instant("m", 100_000), Err(QueryError::Limit(_))));
    let e = Engine::new(
        storage,
        EngineOptions {
            timeout: std::time::Duration::ZERO,
            ..EngineOptions::default()
        },
    );
    std::thread::sleep(std::time::Duration::from_millis(2));
    let r = e.instant("m", 100_000);
    assert!(matches!(&r, Err(QueryError::Timeout(_))), "{r:?}");
    assert_eq!(
        r.err().map(|e| (e.prometheus_type(), e.http_status())),
        Some(("timeout", 503))
    );
}

/// A table of small expressions checked against values worked out by hand.
#[test]
fn scalar_expression_table() {
    let e = engine(vec![]);
    #[rustfmt::skip]
    let cases = [
        ("1 + 2 * 3", 50, Close(7.0)),
        ("(1 + 2) * 3", 50, Close(9.0)),
        ("2 ^ -1", 50, Close(0.5)),
        ("-5 % 3", 50, Close(-2.0)),
        ("5 % -3", 50, Close(2.0)),
        ("1 / 0", 50, Close(f64::INFINITY)),
        ("0 / 0", 50, Close(f64::NAN)),
        ("3 == bool 3", 50, Close(1.0)),
        ("3 != bool 3", 50, Close(0.0)),
        ("3 >= bool 4", 50, Close(0.0)),
        ("3 <= bool 4", 50, Close(1.0)),
        ("1 atan2 1", 50, Close(std::f64::consts::FRAC_PI_4)),
        ("time() - time()", 50, Close(0.0)),
        ("scalar(vector(2)) * 2", 50, Close(4.0)),
    ];
    check(&e, &cases);
}

#[test]
fn holt_winters_smooths_as_prometheus_2_42() {
    // Values 1, 3, 4, 8 at 0, 15, 30, 45 s. sf = 0.5, tf = 0.5:
    // s1 = 1, b = 2; i=1 (b kept): s1 = .5·3 + .5·(1 + 2) = 3;
    // i=2: b = .5·(3 − 1) + .5·2 = 2, s1 = .5·4 + .5·(3 + 2) = 4.5;
    // i=3: b = .5·(4.5 − 3) + .5·2 = 1.75, s1 = .5·8 + .5·(4.5 + 1.75) = 7.125.
    let e = engine(vec![ser(
        "g",
        &[("a", "1")],
        &[(0, 1.0), (15, 3.0), (30, 4.0), (45, 8.0)],
    )]);
    #[rustfmt::skip]
    let cases = [
        ("holt_winters(g[1m], 0.5, 0.5)", 45, Seq(&[(r#"{a="1"}"#, 7.125)])),
        // One sample in the window: no value.
        ("holt_winters(g[10s], 0.5, 0.5)", 45, Seq(&[])),
    ];
    check(&e, &cases);
    let p = err(&e, "holt_winters(g[1m], 1.5, 0.5)", 45);
    assert_eq!(p.prometheus_type(), "execution");
    assert_eq!(
        p.to_string(),
        "invalid smoothing factor. Expected: 0 < sf < 1, got: 1.500000"
    );
    let p = err(&e, "holt_winters(g[1m], 0.5, 0)", 45);
    assert_eq!(
        p.to_string(),
        "invalid trend factor. Expected: 0 < tf < 1, got: 0.000000"
    );
    // The 3.x name is not 2.42's; string literals and label names are left alone.
    let p = err(&e, "double_exponential_smoothing(g[1m], 0.5, 0.5)", 45);
    assert_eq!(p.prometheus_type(), "bad_data");
    assert_eq!(
        iq(
            &e,
            r#"label_replace(g, "holt_winters", "holt_winters(", "a", ".*")"#,
            45
        )
        .len(),
        1
    );
}

#[test]
fn par_map_keeps_order_on_one_thread_and_on_several() {
    let items: Vec<u64> = (0..10_001).collect();
    let want: Vec<u64> = items.iter().map(|x| x * 3).collect();
    assert_eq!(crate::eval::par_map(&items, 10, |x| x * 3), want);
    assert_eq!(crate::eval::par_map(&items, usize::MAX, |x| x * 3), want);
    let empty: Vec<u64> = Vec::new();
    assert!(crate::eval::par_map(&empty, usize::MAX, |x| x * 3).is_empty());
}

#[test]
fn one_series_per_group_keeps_its_values_under_the_group_labels() {
    let e = engine(vec![
        ser("m", &[("a", "1"), ("b", "x")], &[(0, 3.5)]),
        ser("m", &[("a", "2"), ("b", "x")], &[(0, f64::NAN)]),
        ser("m", &[("a", "3"), ("b", "y")], &[(0, -1.0)]),
    ]);
    for op in ["sum", "avg", "max", "min"] {
        let got = iq(&e, &format!("{op} by (a) (m)"), 0);
        assert_eq!(got.len(), 3, "{op}: {got:?}");
        assert_eq!(got[0], (r#"{a="1"}"#.to_string(), 3.5), "{op}");
        assert!(got[1].1.is_nan(), "{op}: {got:?}");
        assert_eq!(got[2], (r#"{a="3"}"#.to_string(), -1.0), "{op}");
    }
    // Two groups with several series each take the folding path.
    #[rustfmt::skip]
    let cases = [
        ("count by (b) (m)", 0, Seq(&[(r#"{b="x"}"#, 2.0), (r#"{b="y"}"#, 1.0)])),
        ("max by (b) (m)", 0, Seq(&[(r#"{b="x"}"#, 3.5), (r#"{b="y"}"#, -1.0)])),
    ];
    check(&e, &cases);
}

#[test]
fn a_prepared_query_names_the_metrics_it_reads_and_answers_as_the_text_does() {
    let names = |q: &str| {
        Engine::prepare(q)
            .unwrap_or_else(|e| panic!("{q}: {e}"))
            .metric_names()
            .map(|s| s.iter().cloned().collect::<Vec<_>>())
    };
    assert_eq!(
        names(r#"sum by (h) (rate(a[5m])) / on (h) b{x="1"} > 3"#),
        Some(vec!["a".to_string(), "b".to_string()])
    );
    assert_eq!(
        names(r#"absent({__name__="c"}) or max_over_time(d[5m:1m])"#),
        Some(vec!["c".to_string(), "d".to_string()])
    );
    assert_eq!(names("vector(1) + time()"), Some(vec![]));
    assert_eq!(names(r#"a + {job="x"}"#), None);
    assert_eq!(names(r#"{__name__=~"a|b"}"#), None);
    assert!(Engine::prepare("rate(a[5m]").is_err());

    let e = engine(vec![
        ser("m", &[("a", "1")], &lin(0, 15, 0.0, 15.0, 21)),
        ser("m", &[("a", "2")], &lin(0, 15, 5.0, 30.0, 21)),
    ]);
    let q = "sum(rate(m[5m])) * 2";
    let p = Engine::prepare(q).unwrap_or_else(|e| panic!("{e}"));
    let a = e.instant(q, 300_000).unwrap_or_else(|e| panic!("{e}"));
    let b = e
        .instant_prepared(&p, 300_000)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a, b);
}
