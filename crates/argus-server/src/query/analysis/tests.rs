//! The analysis functions over an in-memory store with known values.

use super::*;
use crate::storage::scoped::for_namespace;
use argus_core::Sample;
use argus_core::storage::mem::MemStore;

const S: i64 = 1000;
const LOOKBACK: i64 = 300 * S;

fn opts() -> EngineOptions {
    EngineOptions {
        lookback_ms: LOOKBACK,
        ..EngineOptions::default()
    }
}

/// Every 10 s from 0 to 3600 s: hosts a and b in location dc1, c in dc2.
/// cpu idle: a 90, b 50, c 20 (constant); net_bytes_recv{interface="eth0"} grows by
/// 100, 300 and 1000 B/s; host a's `lo` grows by 1 MB/s. Host a also has memory, disks and
/// load; nobody has uptime.
fn store() -> Arc<dyn Storage> {
    let s = MemStore::new();
    let mut batch = Vec::new();
    let series =
        |name: &str, host: &str, loc: &str, extra: &[(&str, &str)], f: &dyn Fn(i64) -> f64| {
            let mut pairs = vec![("__name__", name), ("host", host), ("location", loc)];
            pairs.extend_from_slice(extra);
            TimeSeries {
                labels: Labels::from_pairs(pairs),
                samples: (0..=360)
                    .map(|i| Sample {
                        ts: i * 10 * S,
                        value: f(i * 10),
                    })
                    .collect(),
            }
        };
    for (host, loc, idle, rx) in [
        ("a", "dc1", 90.0, 100.0),
        ("b", "dc1", 50.0, 300.0),
        ("c", "dc2", 20.0, 1000.0),
    ] {
        batch.push(series(
            "cpu_usage_idle",
            host,
            loc,
            &[("cpu", "cpu-total")],
            &|_| idle,
        ));
        // A per-core series that summary and the examples must not pick up.
        batch.push(series(
            "cpu_usage_idle",
            host,
            loc,
            &[("cpu", "cpu0")],
            &|_| 1.0,
        ));
        batch.push(series(
            "net_bytes_recv",
            host,
            loc,
            &[("interface", "eth0")],
            &|t| 1e6 + rx * t as f64,
        ));
        batch.push(series(
            "net_bytes_sent",
            host,
            loc,
            &[("interface", "eth0")],
            &|t| rx / 2.0 * t as f64,
        ));
    }
    batch.push(series(
        "net_bytes_recv",
        "a",
        "dc1",
        &[("interface", "lo")],
        &|t| 1e6 * t as f64,
    ));
    batch.push(series("mem_used_percent", "a", "dc1", &[], &|_| 27.5));
    batch.push(series("mem_total", "a", "dc1", &[], &|_| 16e9));
    batch.push(series("mem_used", "a", "dc1", &[], &|_| 4.4e9));
    for (path, pct, total) in [("/home", 50.0, 500e9), ("/", 46.5, 100e9)] {
        let extra = [("path", path), ("device", "vda"), ("fstype", "ext4")];
        batch.push(series("disk_used_percent", "a", "dc1", &extra, &|_| pct));
        batch.push(series("disk_total", "a", "dc1", &extra, &|_| total));
    }
    batch.push(series("system_load1", "a", "dc1", &[], &|_| 0.75));
    batch.push(series("system_load5", "a", "dc1", &[], &|_| 0.5));
    batch.push(series("system_load15", "a", "dc1", &[], &|_| 0.25));
    // A series whose value is its own time: shows which sample a step picked.
    batch.push(series("clock", "a", "dc1", &[], &|t| t as f64));
    s.append(batch).unwrap_or_else(|e| panic!("{e}"));
    Arc::new(s)
}

fn params(q: &str) -> Params {
    Params::parse(Some(q), None)
}

fn by_label_json(q: &str) -> Json {
    let req = ByLabel::from_params(&params(q), 3600 * S).unwrap_or_else(|e| panic!("{q}: {e:?}"));
    by_label(store(), &opts(), &req).unwrap_or_else(|e| panic!("{q}: {e:?}"))
}

fn points(series: &Json) -> Vec<(f64, f64)> {
    series["points"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| {
            (
                p[0].as_f64().unwrap_or(-1.0),
                p[1].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect()
}

fn err_of<T: std::fmt::Debug>(r: Result<T>) -> AnalysisError {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn by_label_metric_gives_each_host_of_the_label_downsampled() {
    let body = by_label_json(
        "metric=cpu_usage_idle{cpu=\"cpu-total\"}&label=location&value=dc1&start=600&end=3600&max_points=11",
    );
    let d = &body["data"];
    assert_eq!(d["hosts"], json!(["a", "b"]));
    // 3000 s over 10 intervals = 300 s, a nice step: the grid is 600, 900, … 3600.
    assert_eq!(d["step"], json!(300.0));
    assert_eq!(d["start"], json!(600));
    assert_eq!(d["end"], json!(3600));
    assert_eq!(d["downsample"], "avg");
    assert_eq!(
        d["query"],
        "avg_over_time(cpu_usage_idle{cpu=\"cpu-total\"}[300s])"
    );
    let series = d["series"].as_array().cloned().unwrap_or_default();
    assert_eq!(series.len(), 2);
    assert_eq!(series[0]["host"], "a");
    assert_eq!(series[0]["labels"]["location"], "dc1");
    assert_eq!(series[1]["host"], "b");
    let a = points(&series[0]);
    assert_eq!(a.len(), 11);
    assert_eq!(a[0], (600.0, 90.0));
    assert_eq!(a[10], (3600.0, 90.0));
    assert!(points(&series[1]).iter().all(|p| p.1 == 50.0));
}

#[test]
fn by_label_expr_is_evaluated_for_the_hosts_of_the_label_only() {
    let body = by_label_json(
        "expr=sum by (host) (rate(net_bytes_recv{interface!=\"lo\"}[5m]))&label=location&value=dc1&start=1800&end=3600&step=60",
    );
    let d = &body["data"];
    assert_eq!(d["step"], json!(60.0));
    let series = d["series"].as_array().cloned().unwrap_or_default();
    let hosts: Vec<&str> = series.iter().filter_map(|s| s["host"].as_str()).collect();
    assert_eq!(hosts, vec!["a", "b"]);
    for (s, want) in series.iter().zip([100.0, 300.0]) {
        let p = points(s);
        assert_eq!(p.len(), 31);
        for (_, v) in p {
            assert!((v - want).abs() < 1e-9, "{} {v} vs {want}", s["host"]);
        }
    }
    // The label may also be host itself.
    let one = by_label_json(
        "expr=cpu_usage_idle{cpu=\"cpu-total\"}&label=host&value=c&start=3000&end=3600",
    );
    assert_eq!(one["data"]["hosts"], json!(["c"]));
    assert_eq!(one["data"]["series"].as_array().map(Vec::len), Some(1));
    // A value nobody has: no hosts, no series.
    let none = by_label_json("metric=cpu_usage_idle&label=location&value=dc9");
    assert_eq!(none["data"]["hosts"], json!([]));
    assert_eq!(none["data"]["series"], json!([]));
}

#[test]
fn by_label_downsample_last_takes_the_newest_sample_and_avg_the_window_mean() {
    let last = by_label_json(
        "metric=clock&label=location&value=dc1&start=3000&end=3600&step=120&downsample=last",
    );
    let p = points(&last["data"]["series"][0]);
    assert_eq!(p.first(), Some(&(3000.0, 3000.0)));
    assert_eq!(p.len(), 6);
    let avg = by_label_json("metric=clock&label=location&value=dc1&start=3000&end=3600&step=120");
    // avg_over_time(clock[120s]) at 3600 s: samples 3480 … 3600 (closed, as in Prometheus 2.42).
    let p = points(&avg["data"]["series"][0]);
    assert_eq!(p.last(), Some(&(3600.0, 3540.0)));
    let max = by_label_json(
        "metric=clock&label=location&value=dc1&start=3000&end=3600&step=120&downsample=max",
    );
    assert_eq!(
        points(&max["data"]["series"][0]).last(),
        Some(&(3600.0, 3600.0))
    );
}

#[test]
fn by_label_refuses_bad_parameters_naming_them() {
    let now = 3600 * S;
    let cases = [
        ("metric=m&value=dc1", "label"),
        ("metric=m&label=location", "value"),
        ("metric=m&label=1x&value=v", "label"),
        ("label=location&value=dc1", "metric"),
        ("metric=m&expr=m&label=location&value=dc1", "expr"),
        ("metric=rate(m[5m])&label=location&value=dc1", "metric"),
        ("metric=m offset 5m&label=location&value=dc1", "metric"),
        ("metric=m{&label=location&value=dc1", "metric"),
        (
            "metric=m&label=location&value=dc1&max_points=1",
            "max_points",
        ),
        (
            "metric=m&label=location&value=dc1&max_points=x",
            "max_points",
        ),
        ("metric=m&label=location&value=dc1&step=0", "step"),
        ("metric=m&label=location&value=dc1&start=yesterday", "start"),
        ("metric=m&label=location&value=dc1&start=10&end=5", "end"),
        (
            "metric=m&label=location&value=dc1&downsample=median",
            "downsample",
        ),
    ];
    for (q, param) in cases {
        let e = err_of(ByLabel::from_params(&params(q), now));
        assert!(matches!(e.fault, Fault::BadParam), "{q}");
        assert_eq!(e.param, Some(param), "{q}: {}", e.message);
        assert!(e.message.contains(param), "{q}: {}", e.message);
    }
    // A malformed expression is found when it is evaluated, and named too.
    let req = ByLabel::from_params(&params("expr=sum(&label=location&value=dc1"), now)
        .unwrap_or_else(|e| panic!("{e:?}"));
    let e = err_of(by_label(store(), &opts(), &req));
    assert!(matches!(e.fault, Fault::BadParam));
    assert_eq!(e.param, Some("expr"));
}

fn top_json(q: &str) -> Json {
    let req = Top::from_params(&params(q), 3600 * S).unwrap_or_else(|e| panic!("{q}: {e:?}"));
    top(store(), &opts(), &req).unwrap_or_else(|e| panic!("{q}: {e:?}"))
}

fn ranking(body: &Json) -> Vec<(String, f64)> {
    body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["host"].as_str().unwrap_or("").to_string(),
                e["value"].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect()
}

#[test]
fn top_ranks_hosts_by_latest_value() {
    let body = top_json("expr=100 - cpu_usage_idle{cpu=\"cpu-total\"}&n=2");
    assert_eq!(body["data"]["mode"], "instant");
    assert_eq!(body["data"]["time"], json!(3600));
    assert_eq!(body["data"]["groups"], json!(3));
    assert_eq!(
        ranking(&body),
        vec![("c".to_string(), 80.0), ("b".to_string(), 50.0)]
    );
    let asc = top_json("expr=100 - cpu_usage_idle{cpu=\"cpu-total\"}&order=asc&n=1&time=1800");
    assert_eq!(ranking(&asc), vec![("a".to_string(), 10.0)]);
}

#[test]
fn top_over_a_range_averages_the_steps() {
    // The rate is constant, so the mean is the rate; each host has a series per interface
    // (a's lo too), averaged per host at each step: a = (100 + 1e6) / 2.
    let body = top_json("expr=rate(net_bytes_recv[5m])&start=1800&end=3600&max_points=31");
    let d = &body["data"];
    assert_eq!(d["mode"], "range_avg");
    assert_eq!(d["step"], json!(60.0));
    let r = ranking(&body);
    assert_eq!(r.len(), 3);
    assert_eq!(r[0].0, "a");
    assert!((r[0].1 - 500_050.0).abs() < 1e-6, "{r:?}");
    assert_eq!(r[1].0, "c");
    assert!((r[1].1 - 1000.0).abs() < 1e-9, "{r:?}");
    assert_eq!(d["result"][0]["points"], json!(31));
    // Grouping by another label.
    let by_loc = top_json("expr=cpu_usage_idle{cpu=\"cpu-total\"}&by=location");
    assert_eq!(
        by_loc["data"]["result"][0]["labels"],
        json!({"location": "dc1"})
    );
    assert_eq!(by_loc["data"]["result"][0]["value"], json!(70.0));
    assert_eq!(by_loc["data"]["result"][1]["value"], json!(20.0));
}

#[test]
fn top_refuses_bad_parameters_naming_them() {
    for (q, param) in [
        ("n=3", "expr"),
        ("expr=m&n=0", "n"),
        ("expr=m&n=ten", "n"),
        ("expr=m&by=host,2x", "by"),
        ("expr=m&order=up", "order"),
        ("expr=m&time=100&start=50", "time"),
        ("expr=m&end=100", "start"),
    ] {
        let e = err_of(Top::from_params(&params(q), 3600 * S));
        assert_eq!(e.param, Some(param), "{q}: {}", e.message);
        assert!(matches!(e.fault, Fault::BadParam));
    }
    let req = Top::from_params(&params("expr=m)"), 3600 * S).unwrap_or_else(|e| panic!("{e:?}"));
    let e = err_of(top(store(), &opts(), &req));
    assert!(matches!(e.fault, Fault::BadParam));
    assert_eq!(e.param, Some("expr"));
}

#[test]
fn summary_reads_the_agents_metric_names() {
    let s = summary::summary(store(), &opts(), "a", 3600 * S).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(s.cpu_used_percent, Some(10.0));
    assert_eq!(s.mem_used_percent, Some(27.5));
    assert_eq!(s.mem_total, Some(16e9));
    assert_eq!(s.mem_used, Some(4.4e9));
    assert_eq!(s.mem_available, None);
    assert_eq!(s.load1, Some(0.75));
    assert_eq!(s.load15, Some(0.25));
    assert_eq!(s.uptime_secs, None);
    assert_eq!(s.cpus, None);
    // Only eth0 counts: lo is left out.
    let rx = s.net_rx_bytes_per_sec.unwrap_or(f64::NAN);
    assert!((rx - 100.0).abs() < 1e-9, "{rx}");
    let tx = s.net_tx_bytes_per_sec.unwrap_or(f64::NAN);
    assert!((tx - 50.0).abs() < 1e-9, "{tx}");
    let paths: Vec<&str> = s.disks.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(paths, vec!["/", "/home"]);
    assert_eq!(s.disks[0].used_percent, Some(46.5));
    assert_eq!(s.disks[0].total, Some(100e9));
    assert_eq!(s.disks[0].used, None);
    assert_eq!(s.disks[0].fstype.as_deref(), Some("ext4"));

    let j = s.to_json("a", 3600 * S);
    assert_eq!(j["cpu"]["used_percent"], json!(10.0));
    assert_eq!(j["uptime_secs"], Json::Null);
    assert_eq!(j["disks"][1]["path"], "/home");

    // Host b has cpu and network only; an unknown host has nothing.
    let b = summary::summary(store(), &opts(), "b", 3600 * S).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(b.cpu_used_percent, Some(50.0));
    assert_eq!(b.mem_used_percent, None);
    assert!(b.disks.is_empty());
    let nobody =
        summary::summary(store(), &opts(), "zz", 3600 * S).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(nobody.is_empty());
    // After the lookback, host a's figures are gone too.
    let late = summary::summary(store(), &opts(), "a", 3600 * S + LOOKBACK + S)
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(late.is_empty(), "{late:?}");
}

#[test]
fn a_namespace_view_sees_only_its_hosts() {
    let mem = MemStore::new();
    let s = |ns: &str, host: &str, v: f64| TimeSeries {
        labels: Labels::from_pairs([
            ("__name__", "cpu_usage_idle"),
            ("cpu", "cpu-total"),
            ("host", host),
            ("location", "dc1"),
            ("ns", ns),
        ]),
        samples: vec![Sample {
            ts: 3600 * S,
            value: v,
        }],
    };
    mem.append(vec![s("a", "h1", 10.0), s("b", "h2", 20.0)])
        .unwrap_or_else(|e| panic!("{e}"));
    let all: Arc<dyn Storage> = Arc::new(mem);
    let ns_a = for_namespace(&all, Some("a")).unwrap_or_else(|e| panic!("{e}"));
    let req = ByLabel::from_params(
        &params(
            "metric=cpu_usage_idle&label=location&value=dc1&start=3000&end=3600&downsample=last",
        ),
        3600 * S,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let body = by_label(ns_a.clone(), &opts(), &req).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(body["data"]["hosts"], json!(["h1"]));
    let t = Top::from_params(&params("expr=100 - cpu_usage_idle&time=3600"), 3600 * S)
        .unwrap_or_else(|e| panic!("{e:?}"));
    let top_a = top(ns_a, &opts(), &t).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(ranking(&top_a), vec![("h1".to_string(), 90.0)]);
    let top_all = top(all, &opts(), &t).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(ranking(&top_all).len(), 2);
}
