//! PromQL conformance against the real Prometheus 2.42 (`/usr/bin/prometheus`).
//!
//! The same deterministic data (counters with resets, gauges, a classic histogram, several
//! label sets, gaps and series that stop or start, all longer than the 5-minute lookback)
//! is loaded into Prometheus (OpenMetrics text through `promtool tsdb
//! create-blocks-from openmetrics`) and into an `argus server` (Influx line protocol,
//! second precision). Every query of `conformance_queries.txt` is then run through both
//! HTTP APIs, as instant queries at several times and as range queries with several
//! steps, and the answers are compared: the same status and error type, the same result
//! type, the same series, the same timestamps, values equal within 1e-9 relative (NaN
//! equals NaN). Deliberate differences (docs/promql.md) are excluded by name in
//! [`KNOWN_DIFFERENCES`] with their reason.

use crate::common::{Argus, client, send, start};
use crate::external::{Proc, free_port, run_ok, spawn, wait_healthy};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::{Command, Stdio};

/// Start of the data: a multiple of 2 h (Prometheus's block size) in November 2023.
const T0: i64 = 1_699_999_200;
/// Four hours of samples every 15 s.
const SPAN: i64 = 4 * 3600;
const INTERVAL: i64 = 15;

/// The data is from 2023: keep it raw (no retention, no rollups) for the test.
const ARGUS_CONFIG: &str = "[storage]\nout_of_order_window_secs = 100000000\n\
    retention_hours = 100000\nrollup_retention_hours = 100000\n\
    maintenance_interval_secs = 3600\n";

/// Queries whose results differ on purpose, with the reason (also in docs/promql.md).
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];

/// One generated series: its metric name, its other labels, its samples (seconds, value).
struct Series {
    name: &'static str,
    labels: Vec<(&'static str, String)>,
    samples: Vec<(i64, f64)>,
}

/// A small deterministic generator (xorshift64*), so the data is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn times() -> impl Iterator<Item = i64> {
    (0..=SPAN / INTERVAL).map(|i| T0 + i * INTERVAL)
}

fn generate() -> Vec<Series> {
    let mut rng = Rng(0x5eed_1234_abcd_9876);
    let mut out = Vec::new();
    // Counters with resets; instance "c" has a 20-minute gap.
    for instance in ["a", "b", "c"] {
        for method in ["get", "post"] {
            let mut v = 0.0;
            let mut samples = Vec::new();
            for t in times() {
                let i = (t - T0) / INTERVAL;
                v += (rng.next() * 20.0).floor();
                if (instance == "b" && i % 317 == 200) || (method == "post" && i == 555) {
                    v = (rng.next() * 5.0).floor();
                }
                if instance == "c" && (T0 + 3600..T0 + 4800).contains(&t) {
                    continue;
                }
                samples.push((t, v));
            }
            out.push(Series {
                name: "http_requests_total",
                labels: vec![
                    ("instance", instance.into()),
                    ("job", "api".into()),
                    ("method", method.into()),
                ],
                samples,
            });
        }
    }
    // Gauges with fractional values around 18; "c"/"y" stops after 2 h (gone stale),
    // "b"/"x" has a 7-minute gap.
    for instance in ["a", "b", "c"] {
        for zone in ["x", "y"] {
            let mut samples = Vec::new();
            let phase = rng.next() * 6.0;
            for t in times() {
                let i = (t - T0) as f64 / INTERVAL as f64;
                let v = 18.0 + 10.0 * (i / 40.0 + phase).sin() + (rng.next() - 0.5) * 3.0;
                let v = (v * 1000.0).round() / 1000.0;
                if instance == "c" && zone == "y" && t > T0 + 7200 {
                    continue;
                }
                if instance == "b" && zone == "x" && (T0 + 9000..T0 + 9420).contains(&t) {
                    continue;
                }
                samples.push((t, v));
            }
            out.push(Series {
                name: "node_temp_celsius",
                labels: vec![("instance", instance.into()), ("zone", zone.into())],
                samples,
            });
        }
    }
    // One info series per instance, for group_left / group_right.
    for (instance, role) in [("a", "web"), ("b", "db"), ("c", "web")] {
        out.push(Series {
            name: "machine_role_info",
            labels: vec![("instance", instance.into()), ("role", role.into())],
            samples: times().map(|t| (t, 1.0)).collect(),
        });
    }
    // A gauge that starts after 90 minutes and has a 10-minute gap.
    out.push(Series {
        name: "queue_depth_items",
        labels: vec![("instance", "a".into())],
        samples: times()
            .filter(|t| *t >= T0 + 5400 && !(T0 + 7800..T0 + 8400).contains(t))
            .map(|t| (t, (rng.next() * 50.0).floor()))
            .collect(),
    });
    // A classic histogram per job: cumulative bucket counters, _count and _sum.
    let bounds = [0.05, 0.1, 0.25, 0.5, 1.0, f64::INFINITY];
    for job in ["api", "db"] {
        let mut buckets = [0.0f64; 6];
        let mut sum = 0.0;
        let mut per_bucket: Vec<Vec<(i64, f64)>> = vec![Vec::new(); 6];
        let mut counts = Vec::new();
        let mut sums = Vec::new();
        for t in times() {
            for _ in 0..(rng.next() * 10.0) as usize {
                let d = rng.next().powi(2) * 1.5;
                sum += d;
                for (b, le) in bounds.iter().enumerate() {
                    if d <= *le {
                        buckets[b] += 1.0;
                    }
                }
            }
            for b in 0..6 {
                per_bucket[b].push((t, buckets[b]));
            }
            counts.push((t, buckets[5]));
            sums.push((t, (sum * 1e6).round() / 1e6));
        }
        for (b, samples) in per_bucket.into_iter().enumerate() {
            let le = if bounds[b].is_infinite() {
                "+Inf".to_string()
            } else {
                bounds[b].to_string()
            };
            out.push(Series {
                name: "rpc_duration_seconds_bucket",
                labels: vec![("job", job.into()), ("le", le)],
                samples,
            });
        }
        out.push(Series {
            name: "rpc_duration_seconds_count",
            labels: vec![("job", job.into())],
            samples: counts,
        });
        out.push(Series {
            name: "rpc_duration_seconds_sum",
            labels: vec![("job", job.into())],
            samples: sums,
        });
    }
    out
}

/// OpenMetrics text for promtool: series of one name together, samples in time order.
fn openmetrics(data: &[Series]) -> String {
    let mut out = String::new();
    let mut by_name: BTreeMap<&str, Vec<&Series>> = BTreeMap::new();
    for s in data {
        by_name.entry(s.name).or_default().push(s);
    }
    for (name, series) in by_name {
        for s in series {
            let labels: Vec<String> = s
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            for (t, v) in &s.samples {
                let _ = writeln!(out, "{name}{{{}}} {v} {t}", labels.join(","));
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// Influx line protocol (second precision): measurement = the name up to its last `_`,
/// field = the rest, which Argus joins back into the same metric name.
fn line_protocol(data: &[Series]) -> Vec<String> {
    let mut bodies = Vec::new();
    let mut body = String::new();
    for s in data {
        let (measurement, field) = s.name.rsplit_once('_').unwrap_or((s.name, "value"));
        let tags: String = s.labels.iter().map(|(k, v)| format!(",{k}={v}")).collect();
        for (t, v) in &s.samples {
            let _ = writeln!(body, "{measurement}{tags} {field}={v} {t}");
            if body.len() > 1 << 20 {
                bodies.push(std::mem::take(&mut body));
            }
        }
    }
    if !body.is_empty() {
        bodies.push(body);
    }
    bodies
}

/// A Prometheus process, killed when dropped (also when the test fails).
pub(crate) struct Prometheus {
    _proc: Proc,
    pub(crate) url: String,
    _dir: tempfile::TempDir,
}

/// Prometheus over blocks made from `data` by promtool; with `None`, an empty one that
/// accepts remote write.
fn start_prometheus(data: Option<&[Series]>) -> Prometheus {
    start_prometheus_with(data, "global:\n  evaluation_interval: 1m\n")
}

/// An empty Prometheus that accepts remote write, with `config` as its `prometheus.yml`.
pub(crate) fn start_prometheus_configured(config: &str) -> Prometheus {
    start_prometheus_with(None, config)
}

fn start_prometheus_with(data: Option<&[Series]>, config_text: &str) -> Prometheus {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let tsdb = dir.path().join("tsdb");
    if let Some(data) = data {
        let om = dir.path().join("data.om");
        std::fs::write(&om, openmetrics(data)).unwrap_or_else(|e| panic!("write: {e}"));
        // promtool is in the Debian package prometheus.
        run_ok(
            Command::new("/usr/bin/promtool")
                .args(["tsdb", "create-blocks-from", "openmetrics"])
                .arg(&om)
                .arg(&tsdb),
        );
    }
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, config_text).unwrap_or_else(|e| panic!("write: {e}"));
    let port = free_port();
    let proc = spawn(
        Command::new("/usr/bin/prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--enable-feature=promql-negative-offset")
            .arg("--storage.tsdb.retention.time=100y")
            .arg("--web.enable-remote-write-receiver")
            .stderr(Stdio::null()),
    );
    let p = Prometheus {
        _proc: proc,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    wait_healthy("prometheus /-/ready", &format!("{}/-/ready", p.url));
    p
}

/// Sends `series` as one remote-write 1.0 body to `{url}/api/v1/write` (`token` empty for
/// Prometheus) and asserts it was taken.
pub(crate) fn remote_write(
    http: &reqwest::blocking::Client,
    url: &str,
    token: &str,
    series: &[argus_core::TimeSeries],
) {
    let body = argus_core::remote_write::compress(&argus_core::remote_write::from_series(series));
    let r = http
        .post(format!("{url}/api/v1/write"))
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .bearer_auth(token)
        .body(body)
        .send()
        .unwrap_or_else(|e| panic!("remote write to {url}: {e}"));
    let status = r.status().as_u16();
    assert!(
        status == 204 || status == 200,
        "remote write to {url}: {status} {}",
        r.text().unwrap_or_default()
    );
}

fn start_argus(data: &[Series]) -> Argus {
    let argus = start("server", ARGUS_CONFIG);
    for body in line_protocol(data) {
        let (s, resp) = argus.post("/write?precision=s", body);
        assert_eq!(s, 204, "{resp}");
    }
    // 204 means queued: wait until the samples handler applied everything.
    argus.drained();
    argus
}

/// One answer, reduced to what is compared.
#[derive(Debug)]
enum Answer {
    Error(String),
    /// Time, value, and the value as written.
    Scalar(f64, f64, String),
    String(f64, String),
    /// Series (labels as canonical JSON) → points (seconds, value, value as written);
    /// and the values in answer order (an instant vector's order is meaningful for
    /// `sort`, `sort_desc`, `topk`, `bottomk`).
    Series(&'static str, BTreeMap<String, Vec<Point>>, Vec<f64>),
}

fn num(v: &serde_json::Value) -> f64 {
    match v.as_str() {
        Some(s) => s.parse().unwrap_or(f64::from_bits(0x7ff8_dead_beef_0000)),
        None => v.as_f64().unwrap_or(f64::MIN),
    }
}

type Point = (f64, f64, String);

fn point(p: &serde_json::Value) -> Point {
    (
        num(&p[0]),
        num(&p[1]),
        p[1].as_str().unwrap_or("").to_string(),
    )
}

fn answer(body: &serde_json::Value) -> Answer {
    if body["status"] != "success" {
        return Answer::Error(body["errorType"].as_str().unwrap_or("?").to_string());
    }
    let data = &body["data"];
    let result = &data["result"];
    match data["resultType"].as_str() {
        Some("scalar") => Answer::Scalar(
            num(&result[0]),
            num(&result[1]),
            result[1].as_str().unwrap_or("").to_string(),
        ),
        Some("string") => Answer::String(
            num(&result[0]),
            result[1].as_str().unwrap_or("").to_string(),
        ),
        Some(kind @ ("vector" | "matrix")) => {
            let mut m = BTreeMap::new();
            let mut order = Vec::new();
            for s in result.as_array().cloned().unwrap_or_default() {
                // serde_json keeps object keys sorted: the metric's JSON is canonical.
                let key = s["metric"].to_string();
                let points = if kind == "vector" {
                    vec![point(&s["value"])]
                } else {
                    s["values"]
                        .as_array()
                        .map(|v| v.iter().map(point).collect())
                        .unwrap_or_default()
                };
                order.extend(points.iter().map(|p| p.1));
                if m.insert(key.clone(), points).is_some() {
                    return Answer::Error(format!("duplicate series {key}"));
                }
            }
            Answer::Series(if kind == "vector" { "vector" } else { "matrix" }, m, order)
        }
        other => Answer::Error(format!("unknown resultType {other:?}")),
    }
}

fn same_value(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan())
        || a == b
        || (a.is_finite() && b.is_finite() && (a - b).abs() <= 1e-9 * a.abs().max(b.abs()))
}

/// Equal values must also be written alike ("1e-07", "+Inf", "1000000").
fn same_text(x: &Point, y: &Point) -> bool {
    x.1.to_bits() != y.1.to_bits() || x.2 == y.2
}

/// Why the two answers differ, or `None` when they agree. `ordered`: the order of an
/// instant vector's values must agree too.
fn diff(prom: &Answer, argus: &Answer, ordered: bool) -> Option<String> {
    match (prom, argus) {
        (Answer::Error(a), Answer::Error(b)) if a == b => None,
        (Answer::Scalar(t1, v1, s1), Answer::Scalar(t2, v2, s2))
            if t1 == t2 && same_value(*v1, *v2) && (v1.to_bits() != v2.to_bits() || s1 == s2) =>
        {
            None
        }
        (Answer::String(t1, s1), Answer::String(t2, s2)) if t1 == t2 && s1 == s2 => None,
        (Answer::Series(k1, a, o1), Answer::Series(k2, b, o2)) if k1 == k2 => {
            if ordered
                && *k1 == "vector"
                && (o1.len() != o2.len() || o1.iter().zip(o2).any(|(x, y)| !same_value(*x, *y)))
            {
                return Some(format!("order of values: Prometheus {o1:?}, Argus {o2:?}"));
            }
            for (labels, pa) in a {
                let Some(pb) = b.get(labels) else {
                    return Some(format!("series {labels} missing in Argus"));
                };
                for (x, y) in pa.iter().zip(pb) {
                    if x.0 != y.0 || !same_value(x.1, y.1) || !same_text(x, y) {
                        return Some(format!("series {labels}: Prometheus {x:?}, Argus {y:?}"));
                    }
                }
                if pa.len() != pb.len() {
                    let n = pa.len().min(pb.len());
                    return Some(format!(
                        "series {labels}: {} points in Prometheus, {} in Argus (from {:?} vs {:?})",
                        pa.len(),
                        pb.len(),
                        pa.get(n),
                        pb.get(n)
                    ));
                }
            }
            b.keys()
                .find(|k| !a.contains_key(*k))
                .map(|k| format!("series {k} only in Argus"))
        }
        _ => Some(format!(
            "Prometheus {}, Argus {}",
            short(prom),
            short(argus)
        )),
    }
}

fn short(a: &Answer) -> String {
    let s = format!("{a:?}");
    s.chars().take(300).collect()
}

pub(crate) fn fetch(
    http: &reqwest::blocking::Client,
    url: &str,
    token: &str,
    params: &[(&str, String)],
) -> serde_json::Value {
    send(
        http.get(url).query(params).bearer_auth(token),
        &format!("GET {url}"),
    )
    .1
}

fn queries() -> Vec<String> {
    include_str!("conformance_queries.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// What a comparison run found.
struct Outcome {
    passed: usize,
    failures: Vec<String>,
    /// Answers compared, and how many of Prometheus's held data (not an error, not
    /// empty): the comparison is not vacuous.
    evaluations: usize,
    with_data: usize,
}

/// Runs every query through both APIs, as instant queries at `instants` and range
/// queries over `ranges` (start, end, step; seconds), and compares the answers.
fn compare(
    prom_url: &str,
    argus: &Argus,
    queries: &[String],
    instants: &[i64],
    ranges: &[(i64, i64, i64)],
) -> Outcome {
    let http = client();
    let mut out = Outcome {
        passed: 0,
        failures: Vec::new(),
        evaluations: 0,
        with_data: 0,
    };
    for q in queries {
        let mut problem = None;
        let ordered = ["sort(", "sort_desc(", "topk(", "bottomk("]
            .iter()
            .any(|p| q.starts_with(p));
        let mut asks: Vec<(&str, Vec<(&str, String)>)> = Vec::new();
        for t in instants {
            asks.push((
                "/api/v1/query",
                vec![("query", q.clone()), ("time", t.to_string())],
            ));
        }
        for (s, e, step) in ranges {
            asks.push((
                "/api/v1/query_range",
                vec![
                    ("query", q.clone()),
                    ("start", s.to_string()),
                    ("end", e.to_string()),
                    ("step", step.to_string()),
                ],
            ));
        }
        for (path, params) in &asks {
            let p = fetch(&http, &format!("{prom_url}{path}"), "", params);
            let a = fetch(&http, &format!("{}{path}", argus.url), &argus.token, params);
            let pa = answer(&p);
            out.evaluations += 1;
            if match &pa {
                Answer::Series(_, m, _) => !m.is_empty(),
                Answer::Error(_) => false,
                _ => true,
            } {
                out.with_data += 1;
            }
            if let Some(d) = diff(&pa, &answer(&a), ordered) {
                problem = Some(format!("{path} {params:?}: {d}"));
                break;
            }
        }
        let known = KNOWN_DIFFERENCES.iter().find(|(k, _)| k == q);
        match (problem, known) {
            (None, None) => out.passed += 1,
            (None, Some(_)) => out.failures.push(format!(
                "{q}: listed as a known difference but now agrees; remove it from the list"
            )),
            (Some(_), Some(_)) => {}
            (Some(d), None) => out.failures.push(format!("{q}: {d}")),
        }
    }
    out
}

fn check(name: &str, queries: &[String], out: &Outcome) {
    eprintln!(
        "conformance ({name}): {} of {} queries agree with Prometheus 2.42 ({} known \
         differences); {} of {} compared answers hold data",
        out.passed,
        queries.len(),
        KNOWN_DIFFERENCES.len(),
        out.with_data,
        out.evaluations
    );
    assert!(
        out.with_data * 4 >= out.evaluations * 3,
        "only {} of {} Prometheus answers hold data: is the data loaded?",
        out.with_data,
        out.evaluations
    );
    assert!(
        out.failures.is_empty(),
        "{} of {} queries differ from Prometheus:\n{}",
        out.failures.len(),
        queries.len(),
        out.failures.join("\n")
    );
}

#[test]
fn promql_answers_match_prometheus_2_42() {
    let data = generate();
    let prom = start_prometheus(Some(&data));
    let argus = start_argus(&data);
    let queries = queries();
    assert!(queries.len() >= 150, "only {} queries", queries.len());

    // Instant: early, inside the gaps, just after a series went stale, at the end and
    // after it (lookback runs out), and off the sample grid.
    let instants = [
        T0 + 1800,
        T0 + 3900,
        T0 + 7390,
        T0 + 9200,
        T0 + SPAN,
        T0 + SPAN + 240,
        T0 + 5437,
    ];
    // Range: the whole span at 1 m, an unaligned step over the gaps, 15 s over the end.
    let ranges = [
        (T0, T0 + SPAN + 600, 60),
        (T0 + 3000, T0 + 9600, 137),
        (T0 + SPAN - 900, T0 + SPAN + 400, 15),
    ];
    let out = compare(&prom.url, &argus, &queries, &instants, &ranges);
    check("generated data", &queries, &out);
}

/// The metadata endpoints Grafana's query builder uses answer the same as Prometheus's.
#[test]
fn series_and_label_endpoints_match_prometheus_2_42() {
    let data = generate();
    let prom = start_prometheus(Some(&data));
    let argus = start_argus(&data);
    let http = client();
    let all = (T0.to_string(), (T0 + SPAN).to_string());
    // c/y stopped at 2 h; queue_depth_items starts at 90 min.
    let late = ((T0 + 3 * 3600).to_string(), (T0 + SPAN).to_string());
    let early = (T0.to_string(), (T0 + 3600).to_string());
    let cases: Vec<(String, Vec<(&str, String)>)> = vec![
        ("/api/v1/labels".into(), vec![]),
        (
            "/api/v1/labels".into(),
            vec![("match[]", "node_temp_celsius".into())],
        ),
        (
            "/api/v1/labels".into(),
            vec![
                ("match[]", "rpc_duration_seconds_bucket".into()),
                ("match[]", "machine_role_info".into()),
            ],
        ),
        ("/api/v1/label/__name__/values".into(), vec![]),
        // Without match[], Prometheus 2.42 answers label names and values per 2 h block,
        // Argus per chunk (docs/promql.md): compare a range without any data instead.
        (
            "/api/v1/label/__name__/values".into(),
            vec![
                ("start", (T0 - 86_400).to_string()),
                ("end", (T0 - 3600).to_string()),
            ],
        ),
        ("/api/v1/label/instance/values".into(), vec![]),
        ("/api/v1/label/le/values".into(), vec![]),
        ("/api/v1/label/nonexistent/values".into(), vec![]),
        (
            "/api/v1/label/zone/values".into(),
            vec![("match[]", "node_temp_celsius{instance=\"c\"}".into())],
        ),
        (
            "/api/v1/label/instance/values".into(),
            vec![("match[]", "{__name__=~\"http.*|queue.*\"}".into())],
        ),
        (
            "/api/v1/series".into(),
            vec![
                ("match[]", "node_temp_celsius".into()),
                ("start", all.0.clone()),
                ("end", all.1.clone()),
            ],
        ),
        (
            "/api/v1/series".into(),
            vec![
                ("match[]", "node_temp_celsius".into()),
                ("start", late.0.clone()),
                ("end", late.1.clone()),
            ],
        ),
        (
            "/api/v1/series".into(),
            vec![
                ("match[]", "{__name__=~\"queue.*|machine.*\"}".into()),
                ("start", early.0.clone()),
                ("end", early.1.clone()),
            ],
        ),
        (
            "/api/v1/series".into(),
            vec![
                ("match[]", "http_requests_total{method!=\"get\"}".into()),
                (
                    "match[]",
                    "rpc_duration_seconds_bucket{le=~\"0.*\",job=\"db\"}".into(),
                ),
            ],
        ),
        (
            "/api/v1/series".into(),
            vec![("match[]", "nonexistent_metric".into())],
        ),
    ];
    let sorted = |v: &serde_json::Value| -> Vec<String> {
        let mut out: Vec<String> = v
            .as_array()
            .map(|a| a.iter().map(|x| x.to_string()).collect())
            .unwrap_or_default();
        out.sort();
        out
    };
    for (path, params) in &cases {
        let p = fetch(&http, &format!("{}{path}", prom.url), "", params);
        let a = fetch(&http, &format!("{}{path}", argus.url), &argus.token, params);
        assert_eq!(p["status"], "success", "{path} {params:?}: Prometheus {p}");
        assert_eq!(a["status"], "success", "{path} {params:?}: Argus {a}");
        assert_eq!(
            sorted(&p["data"]),
            sorted(&a["data"]),
            "{path} {params:?}: Prometheus {p}, Argus {a}"
        );
    }
    // The comparison is not vacuous.
    let p = fetch(
        &http,
        &format!("{}/api/v1/label/__name__/values", prom.url),
        "",
        &[],
    );
    assert_eq!(sorted(&p["data"]).len(), 7, "{p}");
    // What Grafana asks besides (exemplars, the ruler): neither has any here, and both
    // answer in the same shape.
    let whole: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "/api/v1/query_exemplars",
            vec![
                ("query", "node_temp_celsius".into()),
                ("start", all.0.clone()),
                ("end", all.1.clone()),
            ],
        ),
        ("/api/v1/rules", vec![]),
        ("/api/v1/rules", vec![("type", "alert".into())]),
        ("/api/v1/alerts", vec![]),
    ];
    for (path, params) in &whole {
        let p = fetch(&http, &format!("{}{path}", prom.url), "", params);
        let a = fetch(&http, &format!("{}{path}", argus.url), &argus.token, params);
        assert_eq!(p["status"], "success", "{path} {params:?}: Prometheus {p}");
        assert_eq!(p, a, "{path} {params:?}");
    }
}

/// Staleness as Prometheus writes it: stale markers (the NaN `0x7ff0000000000002`) sent
/// through remote write to both, next to ordinary NaN values, gaps shorter than the
/// lookback that a marker closes, and counters that restart after a marker.
#[test]
fn staleness_through_remote_write_matches_prometheus_2_42() {
    use argus_core::{Labels, Sample, TimeSeries};
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    let t0 = T0 * 1000;
    let min = 60_000;
    let mut series: Vec<TimeSeries> = Vec::new();
    let mut add = |name: &str, l: (&str, &str), f: &dyn Fn(i64) -> Option<f64>| {
        let samples = (0..=2 * 60 * 4)
            .map(|i| t0 + i * 15_000)
            .filter_map(|t| f(t - t0).map(|value| Sample { ts: t, value }))
            .collect();
        series.push(TimeSeries {
            labels: Labels::with_name(name, [(l.0, l.1.to_string())]),
            samples,
        });
    };
    // Up, marked stale at 60 min 15 s, back from 90 min.
    add("svc_up", ("instance", "a"), &|d| match d {
        d if d <= 60 * min => Some(1.0),
        d if d == 60 * min + 15_000 => Some(stale),
        d if d >= 90 * min => Some(1.0),
        _ => None,
    });
    // Always there; an ordinary NaN at 45 min.
    add("svc_up", ("instance", "b"), &|d| {
        Some(if d == 45 * min { f64::NAN } else { 1.0 })
    });
    // A counter stale at 40 min, restarting from 0 at 50 min.
    add("jobs_done_total", ("instance", "a"), &|d| match d {
        d if d < 40 * min => Some((d / 15_000 * 3) as f64),
        d if d == 40 * min => Some(stale),
        d if d >= 50 * min => Some(((d - 50 * min) / 15_000 * 2) as f64),
        _ => None,
    });
    // A gauge with a marker at 20 min and a 2-minute gap after it (shorter than the
    // lookback: only the marker makes it absent), and a plain 7-minute gap at 70 min.
    add("temp_now", ("room", "x"), &|d| match d {
        d if d == 20 * min => Some(stale),
        d if d > 20 * min && d < 22 * min => None,
        d if (70 * min..77 * min).contains(&d) => None,
        d => Some(20.0 + ((d / 15_000) % 17) as f64 * 0.25),
    });

    let prom = start_prometheus(None);
    let argus = start("server", ARGUS_CONFIG);
    // Prometheus's head takes samples in time order: send 10-minute slices of all series.
    let http = client();
    let mut from = t0;
    while from <= t0 + 120 * min {
        let slice: Vec<TimeSeries> = series
            .iter()
            .map(|s| TimeSeries {
                labels: s.labels.clone(),
                samples: s
                    .samples
                    .iter()
                    .filter(|x| x.ts >= from && x.ts < from + 10 * min)
                    .cloned()
                    .collect(),
            })
            .filter(|s| !s.samples.is_empty())
            .collect();
        for (url, token) in [(&prom.url, ""), (&argus.url, argus.token.as_str())] {
            remote_write(&http, url, token, &slice);
        }
        from += 10 * min;
    }
    argus.drained();

    let queries: Vec<String> = [
        "svc_up",
        "svc_up{instance=\"a\"}",
        "count(svc_up)",
        "sum(svc_up)",
        "svc_up offset 1m",
        "svc_up == 1",
        "svc_up > bool 0",
        "timestamp(svc_up)",
        "absent(svc_up{instance=\"a\"})",
        "svc_up unless svc_up{instance=\"b\"}",
        "scalar(svc_up{instance=\"b\"})",
        "last_over_time(svc_up[10m])",
        "count_over_time(svc_up[10m])",
        "present_over_time(svc_up[2m])",
        "absent_over_time(svc_up{instance=\"a\"}[1m])",
        "min_over_time(svc_up[5m])",
        "sum_over_time(svc_up[30m])",
        "changes(svc_up[10m])",
        "max_over_time(svc_up[5m:1m])",
        "svc_up[3m]",
        "rate(jobs_done_total[5m])",
        "increase(jobs_done_total[15m])",
        "resets(jobs_done_total[30m])",
        "irate(jobs_done_total[1m])",
        "jobs_done_total",
        "temp_now",
        "temp_now[5m]",
        "avg_over_time(temp_now[5m])",
        "max_over_time(temp_now[3m])",
        "idelta(temp_now[2m])",
        "deriv(temp_now[10m])",
        "quantile_over_time(0.5, temp_now[10m])",
        "count_over_time(temp_now[1m])",
    ]
    .iter()
    .map(|q| q.to_string())
    .collect();
    let at = |m: i64, s: i64| T0 + m * 60 + s;
    let instants = [
        at(20, 30),
        at(21, 50),
        at(40, 30),
        at(45, 0),
        at(48, 0),
        at(60, 30),
        at(63, 0),
        at(72, 0),
        at(76, 30),
        at(91, 0),
        at(122, 0),
        at(126, 0),
    ];
    let ranges = [(T0, at(130, 0), 60), (at(15, 0), at(95, 0), 15)];
    let out = compare(&prom.url, &argus, &queries, &instants, &ranges);
    check("stale markers", &queries, &out);
    // The markers took effect (in both, as they agree): temp_now is absent 1 min 50 s
    // after its marker although a sample 2 min old is within the lookback.
    let count = |t: i64| {
        let params = [("query", "temp_now".to_string()), ("time", t.to_string())];
        let body = fetch(
            &http,
            &format!("{}/api/v1/query", argus.url),
            &argus.token,
            &params,
        );
        body["data"]["result"].as_array().map_or(0, Vec::len)
    };
    assert_eq!(count(at(19, 50)), 1);
    assert_eq!(count(at(21, 50)), 0);
}

/// Bad requests get Prometheus's status, errorType and (for parameter errors) message.
#[test]
fn errors_match_prometheus_2_42() {
    let prom = start_prometheus(None);
    let argus = start("server", ARGUS_CONFIG);
    let http = client();
    let q = |s: &str| s.to_string();
    // (path, params, compare the message too)
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, bool);
    let range = |query: &str, start: &str, end: &str, step: &str, message: bool| -> Case {
        let params = [
            ("query", query),
            ("start", start),
            ("end", end),
            ("step", step),
        ];
        let params = params.into_iter().map(|(k, v)| (k, q(v))).collect();
        ("/api/v1/query_range", params, message)
    };
    let cases: Vec<Case> = vec![
        (
            "/api/v1/query",
            vec![("query", q("1")), ("time", q("abc"))],
            true,
        ),
        (
            "/api/v1/query",
            vec![("query", q("1")), ("timeout", q("abc"))],
            true,
        ),
        ("/api/v1/query", vec![("query", q("sum("))], false),
        ("/api/v1/query", vec![("query", q("rate(up)"))], false),
        (
            "/api/v1/query",
            vec![("query", q("up + on() group_left up or"))],
            false,
        ),
        range("1", "x", "2", "1", true),
        range("1", "1", "x", "1", true),
        range("1", "10", "5", "1", true),
        range("1", "1", "5", "x", true),
        range("1", "1", "5", "0", true),
        range("1", "0", "100000", "1", true),
        range("up[5m]", "1", "5", "1", true),
        range("sum(", "1", "5", "1", false),
        ("/api/v1/series", vec![], true),
        (
            "/api/v1/series",
            vec![("match[]", q("up")), ("start", q("abc"))],
            true,
        ),
        ("/api/v1/series", vec![("match[]", q("up{"))], false),
        ("/api/v1/labels", vec![("start", q("abc"))], true),
        ("/api/v1/labels", vec![("match[]", q("up{"))], false),
        ("/api/v1/label/1bad/values", vec![], true),
        ("/api/v1/label/job/values", vec![("end", q("abc"))], true),
        ("/api/v1/metadata", vec![("limit", q("x"))], true),
        // promql-parser's messages lack Prometheus's position prefix (docs/promql.md).
        ("/api/v1/query_exemplars", vec![("query", q("sum("))], false),
        ("/api/v1/query_exemplars", vec![], false),
        (
            "/api/v1/query_exemplars",
            vec![("query", q("up")), ("start", q("abc"))],
            true,
        ),
        (
            "/api/v1/query_exemplars",
            vec![("query", q("up")), ("start", q("5")), ("end", q("1"))],
            true,
        ),
        ("/api/v1/rules", vec![("type", q("x"))], true),
    ];
    for (path, params, message) in &cases {
        let get = |url: &str, token: &str| {
            let r = http
                .get(format!("{url}{path}"))
                .query(params)
                .bearer_auth(token)
                .send()
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().unwrap_or_default())
        };
        let (ps, pb) = get(&prom.url, "");
        let (a_s, ab) = get(&argus.url, &argus.token);
        let what = format!("{path} {params:?}: Prometheus {ps} {pb}, Argus {a_s} {ab}");
        assert_eq!(pb["status"], "error", "{what}");
        assert_eq!(ps, a_s, "{what}");
        assert_eq!(pb["errorType"], ab["errorType"], "{what}");
        if *message {
            assert_eq!(pb["error"], ab["error"], "{what}");
        }
    }
}
