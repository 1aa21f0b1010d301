//! The **query** benchmark: dashboard range queries against Argus, Prometheus and
//! VictoriaMetrics holding the same data, all three running at once and asked in turn. Each
//! answer is checked against Prometheus's; then each query is timed over HTTP (request to
//! last byte), alternating the systems every iteration. How to run it and the method:
//! `bench/query.md`.

pub mod data;
pub mod prom;

use crate::probe::{self, Utc};
use crate::system::{Server, truncate};
use crate::tsdb::query::{Matrix, client, percentile};
use prom::Prom;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

/// Options of `argus-bench query`.
#[derive(clap::Args, Debug)]
pub struct Options {
    /// Simulated hosts, 17 series each (2 interfaces: 500 hosts = 1 000 net_bytes_recv
    /// series).
    #[arg(long, default_value_t = 500)]
    pub hosts: usize,
    /// Span of the data and of the queries, in hours.
    #[arg(long, default_value_t = 6.0)]
    pub hours: f64,
    /// Seconds between a host's samples (whole seconds).
    #[arg(long, default_value_t = 15)]
    pub interval_secs: i64,
    /// Step of the range queries, in seconds.
    #[arg(long, default_value_t = 30)]
    pub step_secs: i64,
    /// Untimed runs of each query on each system before the timed ones.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Timed iterations; each asks every system once, in an order rotated per iteration.
    #[arg(long, default_value_t = 11)]
    pub runs: usize,
    /// Seed of the data set.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Concurrent ingest clients for Argus and VictoriaMetrics.
    #[arg(long, default_value_t = 2)]
    pub clients: usize,
    /// Where to write the markdown report [default: bench/results/<UTC date>-query.md].
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub servers: crate::system::Binaries,
    #[arg(long, default_value = "/usr/bin/prometheus")]
    pub prometheus: PathBuf,
    #[arg(long, default_value = "/usr/bin/promtool")]
    pub promtool: PathBuf,
    /// Parent of the temporary directories [default: $TMPDIR or /tmp].
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Only the queries whose name contains this.
    #[arg(long)]
    pub filter: Option<String>,
}

/// The dashboard queries: (short name, PromQL).
pub const QUERIES: [(&str, &str); 9] = [
    ("avg_rate", "avg by (host) (rate(net_bytes_recv[5m]))"),
    ("sum_rate", "sum by (host) (rate(net_bytes_recv[5m]))"),
    ("topk_rate", "topk(10, rate(net_bytes_recv[5m]))"),
    (
        "quantile_over_time",
        "quantile_over_time(0.9, cpu_usage_user[10m])",
    ),
    (
        "histogram_quantile",
        "histogram_quantile(0.9, sum by (host, le) (rate(http_request_duration_seconds_bucket[5m])))",
    ),
    ("max_over_time", "max_over_time(cpu_usage_user[10m])"),
    ("binary_op", "cpu_usage_user + cpu_usage_system"),
    ("count_by", "count by (dc) (cpu_usage_user)"),
    (
        "regex_filter",
        r#"rate(net_bytes_recv{host=~"host-0[0-4].*",interface=~"eth0|eth2"}[5m])"#,
    ),
];

const SYSTEMS: [&str; 3] = ["Argus", "Prometheus", "VictoriaMetrics"];

/// A system's base URL and its credentials.
struct Target<'a> {
    base: String,
    argus: Option<&'a Server>,
    vm: bool,
}

impl Target<'_> {
    fn get(
        &self,
        c: &reqwest::blocking::Client,
        q: &str,
        r: &Range,
    ) -> anyhow::Result<(f64, bytes::Bytes)> {
        let mut params = vec![
            ("query", q.to_string()),
            ("start", r.start_s.to_string()),
            ("end", r.end_s.to_string()),
            ("step", r.step_s.to_string()),
        ];
        if self.vm {
            // Argus and Prometheus have no result cache: VictoriaMetrics reads its storage too.
            params.push(("nocache", "1".into()));
        }
        let url =
            reqwest::Url::parse_with_params(&format!("{}/api/v1/query_range", self.base), &params)?;
        let mut req = c.get(url);
        if let Some(s) = self.argus {
            req = s.auth(req);
        }
        let started = Instant::now();
        let resp = req.send()?;
        let status = resp.status();
        let body = resp.bytes()?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if !status.is_success() {
            anyhow::bail!(
                "{status}: {}",
                truncate(&String::from_utf8_lossy(&body), 300)
            );
        }
        Ok((ms, body))
    }
}

#[derive(Clone, Copy)]
struct Range {
    start_s: i64,
    end_s: i64,
    step_s: i64,
}

/// How one answer differs from Prometheus's.
#[derive(Default, Clone)]
pub struct Diff {
    pub series: usize,
    pub points: usize,
    /// Series only in this answer / only in Prometheus's.
    pub only_here: usize,
    pub only_prom: usize,
    /// Points at a timestamp only one of the two has, in common series.
    pub unmatched_points: usize,
    pub compared: usize,
    /// Largest |a − b| / max(|a|, |b|) over the points both have.
    pub max_rel: f64,
    pub example: Option<String>,
}

impl Diff {
    /// Same series, same points, values within 1e-9 relative.
    pub fn same(&self) -> bool {
        self.only_here == 0
            && self.only_prom == 0
            && self.unmatched_points == 0
            && self.max_rel <= 1e-9
    }
}

pub fn diff(a: &Matrix, prom: &Matrix) -> Diff {
    let mut d = Diff {
        series: a.series.len(),
        points: a.points(),
        only_here: a
            .series
            .keys()
            .filter(|k| !prom.series.contains_key(*k))
            .count(),
        only_prom: prom
            .series
            .keys()
            .filter(|k| !a.series.contains_key(*k))
            .count(),
        ..Diff::default()
    };
    for (key, pa) in &a.series {
        let Some(pb) = prom.series.get(key) else {
            continue;
        };
        let by_ts: std::collections::BTreeMap<i64, f64> = pb.iter().copied().collect();
        let mut matched = 0;
        for &(ts, va) in pa {
            let Some(&vb) = by_ts.get(&ts) else {
                continue;
            };
            matched += 1;
            d.compared += 1;
            let rel = if va == vb || (va.is_nan() && vb.is_nan()) {
                0.0
            } else {
                (va - vb).abs() / va.abs().max(vb.abs())
            };
            let rel = if rel.is_nan() { 1.0 } else { rel };
            if rel > d.max_rel {
                d.max_rel = rel;
                d.example = Some(format!("{key} at {ts}: {va} vs {vb}"));
            }
        }
        d.unmatched_points += pa.len() - matched + pb.len() - matched;
    }
    d
}

struct Measured {
    name: &'static str,
    promql: &'static str,
    /// Per system: times in ms (empty if it failed), the error, and its answer's diff.
    times: [Vec<f64>; 3],
    errors: [Option<String>; 3],
    diffs: [Option<Diff>; 3],
}

pub fn run(opts: &Options) -> anyhow::Result<u8> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if opts.hosts == 0 || opts.runs == 0 || opts.interval_secs < 1 || opts.step_secs < 1 {
        anyhow::bail!("--hosts, --runs, --interval-secs and --step-secs must be above zero");
    }
    if !opts.hours.is_finite() || opts.hours <= 0.0 {
        anyhow::bail!("--hours must be above zero");
    }
    let started_ms = probe::now_ms();
    let machine = probe::machine();
    let work_dir = crate::output::work_dir(opts.work_dir.as_deref())?;
    let scratch = tempfile::Builder::new()
        .prefix("argus-bench-query-")
        .tempdir_in(&work_dir)?;

    let interval_ms = opts.interval_secs * 1000;
    let span_ms = (opts.hours * 3_600_000.0).round() as i64;
    let end_ms = (started_ms - 120_000).div_euclid(60_000) * 60_000;
    let points = (span_ms / interval_ms).max(1) as usize;
    let om_path = scratch.path().join("data.om");
    eprintln!("generating {} hosts × {points} points …", opts.hosts);
    let t = Instant::now();
    let ds = data::generate(opts.hosts, points, interval_ms, end_ms, opts.seed, &om_path)?;
    let om_bytes = std::fs::metadata(&om_path).map_or(0, |m| m.len());
    eprintln!(
        "data set: {} series, {} samples; {} line-protocol bytes, {} OpenMetrics bytes ({:.1} s)",
        ds.series,
        ds.samples,
        ds.body_bytes,
        om_bytes,
        t.elapsed().as_secs_f64()
    );
    let step_ms = opts.step_secs * 1000;
    let q_end = (end_ms - 1).div_euclid(step_ms) * step_ms;
    let range = Range {
        start_s: (q_end - span_ms) / 1000,
        end_s: q_end / 1000,
        step_s: opts.step_secs,
    };
    let months = crate::tsdb::months(ds.spec.start_ms(), end_ms);
    let http = client()?;

    // Load all three; keep them running.
    let mut loads: Vec<String> = Vec::new();
    let mut argus = Server::start_argus(&opts.servers.argus, &work_dir)?;
    argus.wait_ready(&http)?;
    let mut vm = Server::start_vm(&opts.servers.vm, &work_dir)?;
    vm.wait_ready(&http)?;
    for s in [&mut argus, &mut vm] {
        let name = s.kind.name();
        eprintln!("{name}: ingesting {} requests …", ds.batches.len());
        let ing = crate::tsdb::ingest::run(s, &ds, opts.clients, false)?;
        if ing.failed > 0 {
            anyhow::bail!(
                "{name}: {} ingest requests failed, first: {}",
                ing.failed,
                ing.first_error.unwrap_or_default()
            );
        }
        let flush = s.flush(&http, &months)?;
        loads.push(format!(
            "{name}: `/write` of {} samples in {:.1} s ({:.0} samples/s, {} clients), then {} ({:.1} s)",
            ds.samples,
            ing.seconds,
            ds.samples as f64 / ing.seconds,
            opts.clients,
            flush.note,
            flush.seconds
        ));
    }
    eprintln!("Prometheus: promtool create-blocks-from openmetrics …");
    let (mut prom, promtool_s) =
        Prom::start(&opts.prometheus, &opts.promtool, &om_path, &work_dir)?;
    prom.wait_ready(&http)?;
    loads.push(format!(
        "Prometheus: `promtool tsdb create-blocks-from openmetrics` in {promtool_s:.1} s ({} block(s)), then started on them",
        prom.blocks()
    ));
    // The file is no longer needed; free its disk space before timing.
    let _ = std::fs::remove_file(&om_path);

    let targets = [
        Target {
            base: argus.base.clone(),
            argus: Some(&argus),
            vm: false,
        },
        Target {
            base: prom.base.clone(),
            argus: None,
            vm: false,
        },
        Target {
            base: vm.base.clone(),
            argus: None,
            vm: true,
        },
    ];

    let mut results = Vec::new();
    for (name, promql) in QUERIES {
        if opts.filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let mut m = Measured {
            name,
            promql,
            times: Default::default(),
            errors: Default::default(),
            diffs: Default::default(),
        };
        // The check: each answer once, against Prometheus's.
        let answers: Vec<Option<Matrix>> = targets
            .iter()
            .enumerate()
            .map(|(i, t)| {
                match t
                    .get(&http, promql, &range)
                    .and_then(|(_, b)| Matrix::parse(&b))
                {
                    Ok(mx) => Some(mx),
                    Err(e) => {
                        m.errors[i] = Some(format!("{e:#}"));
                        None
                    }
                }
            })
            .collect();
        if let Some(p) = &answers[1] {
            for (d, a) in m.diffs.iter_mut().zip(&answers) {
                *d = a.as_ref().map(|a| diff(a, p));
            }
        }
        drop(answers);
        for (i, t) in targets.iter().enumerate() {
            if m.errors[i].is_some() {
                continue;
            }
            for _ in 0..opts.warmup {
                if let Err(e) = t.get(&http, promql, &range) {
                    m.errors[i] = Some(format!("{e:#}"));
                    break;
                }
            }
        }
        for iter in 0..opts.runs {
            for k in 0..3 {
                let i = (iter + k) % 3;
                if m.errors[i].is_some() {
                    continue;
                }
                match targets[i].get(&http, promql, &range) {
                    Ok((ms, _)) => m.times[i].push(ms),
                    Err(e) => m.errors[i] = Some(format!("{e:#}")),
                }
            }
        }
        let med = |i: usize| median(&m.times[i]);
        eprintln!(
            "{name}: Argus {:.1} ms, Prometheus {:.1} ms, VictoriaMetrics {:.1} ms (medians)",
            med(0),
            med(1),
            med(2)
        );
        results.push(m);
    }

    let versions = [
        crate::tsdb::argus_version(&opts.servers.argus),
        crate::tsdb::command_output(&opts.prometheus, &["--version"])
            .and_then(|s| s.lines().next().map(str::to_string))
            .unwrap_or_else(|| "unknown".into()),
        crate::tsdb::vm_version(&opts.servers.vm),
    ];
    drop(targets);
    for s in [argus, vm] {
        let _ = s.stop();
    }
    drop(prom);

    let text = render(
        opts, &machine, started_ms, &ds, om_bytes, range, &loads, &versions, &results,
    );
    crate::output::write_report(opts.out.as_deref(), "query", started_ms, &text)?;
    let failed = results.iter().any(|m| m.errors.iter().any(Option::is_some));
    let mismatch = results
        .iter()
        .any(|m| m.diffs[0].as_ref().is_some_and(|d| !d.same()));
    Ok(if mismatch {
        crate::tsdb::EXIT_MISMATCH
    } else if failed {
        1
    } else {
        0
    })
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    percentile(&s, 50)
}

fn p90(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    percentile(&s, 90)
}

#[allow(clippy::too_many_arguments)]
fn render(
    opts: &Options,
    machine: &probe::Machine,
    started_ms: i64,
    ds: &crate::dataset::Dataset,
    om_bytes: u64,
    range: Range,
    loads: &[String],
    versions: &[String; 3],
    results: &[Measured],
) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# Query benchmark: Argus vs Prometheus vs VictoriaMetrics\n"
    );
    let _ = writeln!(
        o,
        "- Date: {}\n- Machine: {machine}",
        Utc::from_ms(started_ms).date_time(),
    );
    let _ = writeln!(
        o,
        "- Command: `{}`",
        std::env::args().collect::<Vec<_>>().join(" ")
    );
    for (name, v) in SYSTEMS.iter().zip(versions) {
        let _ = writeln!(o, "- {name}: {v}");
    }
    let _ = writeln!(
        o,
        "- Data: {} hosts × {} points every {} s = {} series, {} samples ({} line-protocol bytes, {} OpenMetrics bytes), the same decimal values in both forms",
        opts.hosts,
        ds.spec.intervals,
        opts.interval_secs,
        ds.series,
        ds.samples,
        ds.body_bytes,
        om_bytes
    );
    let _ = writeln!(
        o,
        "- Queries: `query_range` from {} to {} (Unix s), step {} s ({} steps), over HTTP/1.1 keep-alive, no gzip; timed from request to the last byte of the answer. {} untimed run(s) per system, then {} iterations each asking Argus, Prometheus and VictoriaMetrics once in an order rotated per iteration; all three running at once. VictoriaMetrics with `nocache=1` (no result cache: the others have none).",
        range.start_s,
        range.end_s,
        range.step_s,
        (range.end_s - range.start_s) / range.step_s + 1,
        opts.warmup,
        opts.runs
    );
    let _ = writeln!(o, "- Loading:");
    for l in loads {
        let _ = writeln!(o, "  - {l}");
    }
    let _ = writeln!(o, "\n## Latency (ms)\n");
    let _ = writeln!(
        o,
        "| query | Argus median | p90 | Prometheus median | p90 | VictoriaMetrics median | p90 | Argus/Prom | Argus/VM |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for m in results {
        let cell = |i: usize| -> (String, String) {
            if m.errors[i].is_some() || m.times[i].is_empty() {
                ("failed".into(), "".into())
            } else {
                (
                    format!("{:.1}", median(&m.times[i])),
                    format!("{:.1}", p90(&m.times[i])),
                )
            }
        };
        let (a, ap) = cell(0);
        let (p, pp) = cell(1);
        let (v, vp) = cell(2);
        let ratio = |i: usize| {
            if m.times[0].is_empty() || m.times[i].is_empty() {
                "–".to_string()
            } else {
                format!("{:.2}", median(&m.times[0]) / median(&m.times[i]))
            }
        };
        let _ = writeln!(
            o,
            "| `{}` | {a} | {ap} | {p} | {pp} | {v} | {vp} | **{}** | **{}** |",
            m.name,
            ratio(1),
            ratio(2)
        );
    }
    let _ = writeln!(o, "\n## Answers compared with Prometheus's\n");
    let _ = writeln!(
        o,
        "| query | PromQL | series (A / P / VM) | points (A / P / VM) | Argus: max rel. diff, unmatched | VM: max rel. diff, unmatched |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|");
    for m in results {
        let n = |i: usize, f: fn(&Diff) -> usize| {
            m.diffs[i]
                .as_ref()
                .map_or("–".to_string(), |d| f(d).to_string())
        };
        let d = |i: usize| {
            m.diffs[i].as_ref().map_or("–".to_string(), |d| {
                format!(
                    "{:.1e}, {} series only here, {} only in Prometheus, {} points unmatched",
                    d.max_rel, d.only_here, d.only_prom, d.unmatched_points
                )
            })
        };
        let _ = writeln!(
            o,
            "| `{}` | `{}` | {} / {} / {} | {} / {} / {} | {} | {} |",
            m.name,
            m.promql.replace('|', "\\|"),
            n(0, |d| d.series),
            n(1, |d| d.series),
            n(2, |d| d.series),
            n(0, |d| d.points),
            n(1, |d| d.points),
            n(2, |d| d.points),
            d(0),
            d(2)
        );
    }
    let examples: Vec<String> = results
        .iter()
        .flat_map(|m| {
            [0, 2].into_iter().filter_map(move |i| {
                m.diffs[i].as_ref().and_then(|d| {
                    d.example
                        .as_ref()
                        .filter(|_| d.max_rel > 1e-9)
                        .map(|e| format!("- {} `{}`, largest difference: {e}", SYSTEMS[i], m.name))
                })
            })
        })
        .collect();
    if !examples.is_empty() {
        let _ = writeln!(o, "\n{}", examples.join("\n"));
    }
    let errors: Vec<String> = results
        .iter()
        .flat_map(|m| {
            (0..3).filter_map(move |i| {
                m.errors[i]
                    .as_ref()
                    .map(|e| format!("- {} `{}`: {}", SYSTEMS[i], m.name, truncate(e, 300)))
            })
        })
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(o, "\n## Failures\n\n{}", errors.join("\n"));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Matrix {
        Matrix::parse(s.as_bytes()).unwrap_or_else(|e| panic!("{e:#}"))
    }

    #[test]
    fn diff_reports_relative_differences_and_missing_points() {
        let p = m(r#"{"status":"success","data":{"result":[
            {"metric":{"host":"a"},"values":[[1,"100"],[2,"200"]]},
            {"metric":{"host":"b"},"values":[[1,"NaN"]]}]}}"#);
        assert!(diff(&p, &p).same());
        let a = m(r#"{"status":"success","data":{"result":[
            {"metric":{"host":"a"},"values":[[1,"101"]]},
            {"metric":{"host":"c"},"values":[[1,"1"]]}]}}"#);
        let d = diff(&a, &p);
        assert!(!d.same());
        assert_eq!((d.only_here, d.only_prom), (1, 1));
        assert_eq!(d.unmatched_points, 1);
        assert_eq!(d.compared, 1);
        assert!((d.max_rel - 1.0 / 101.0).abs() < 1e-12, "{}", d.max_rel);
    }

    #[test]
    fn generated_forms_hold_the_same_samples() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let om = dir.path().join("d.om");
        let ds = data::generate(3, 5, 15_000, 1_700_000_100_000, 7, &om)
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(ds.series, 3 * data::SERIES_PER_HOST);
        assert_eq!(ds.samples, 3 * 5 * data::SERIES_PER_HOST);
        let text = std::fs::read_to_string(&om).unwrap_or_default();
        assert!(text.ends_with("# EOF\n"));
        // One OpenMetrics line per sample.
        assert_eq!(text.lines().count() as u64, ds.samples + 1);
        let lp: String = ds
            .batches
            .iter()
            .map(|b| String::from_utf8_lossy(&b.body).into_owned())
            .collect();
        // A counter's value and timestamp appear in both forms.
        let line = lp
            .lines()
            .find(|l| l.starts_with("net,dc=eu-west,host=host-000,interface=eth0"))
            .unwrap_or_default();
        let recv = line
            .split(' ')
            .nth(1)
            .and_then(|f| f.split(',').next())
            .and_then(|f| f.strip_prefix("bytes_recv="))
            .unwrap_or("?");
        let ts: i64 = line
            .rsplit(' ')
            .next()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let want = format!(
            "net_bytes_recv{{dc=\"eu-west\",host=\"host-000\",interface=\"eth0\"}} {recv} {}.000",
            ts / 1000
        );
        assert!(text.lines().any(|l| l == want), "{want}");
        // Buckets are cumulative: each le at least the one below, +Inf the largest.
        let last: Vec<f64> = text
            .lines()
            .filter(|l| {
                l.starts_with(
                    "http_request_duration_seconds_bucket{dc=\"eu-west\",host=\"host-000\"",
                )
            })
            .rev()
            .take(6)
            .filter_map(|l| l.split(' ').nth(1).and_then(|v| v.parse().ok()))
            .collect();
        assert_eq!(last.len(), 6);
        assert!(last.windows(2).all(|w| w[0] >= w[1]), "{last:?}");
        assert!(last[0] > 0.0);
    }
}
