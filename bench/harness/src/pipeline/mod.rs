//! The **pipeline** benchmark: what the ingest queue costs. The same line-protocol bodies
//! go straight to VictoriaMetrics, through `argus server` with its embedded queue, and
//! through an ingest server, NATS JetStream and a handlers process (both storing into
//! VictoriaMetrics), and through `argus up`'s setup (embedded queue and storage):
//!
//! - **throughput**: samples/s until every body is acknowledged, and until every sample is
//!   stored and searchable; median of `--runs` runs on fresh processes, each run checked
//!   by counting the samples in storage;
//! - **latency**: one client pushes at `--rate` samples/s for `--seconds`; each body carries
//!   a probe sample, and a prober polls the query API until it sees it: push → queryable,
//!   p50 and p99 over the bodies.
//!
//! How to run it and what is fair about it: `bench/pipeline.md`.

mod cluster;
mod report;

use crate::probe;
use anyhow::{Context, bail};
use cluster::{Binaries, Cluster, Setup};
use reqwest::blocking::Client;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Options of `argus-bench pipeline`.
#[derive(clap::Args, Debug)]
pub struct Options {
    /// Series in the data (`bench_v{s="0"}` …).
    #[arg(long, default_value_t = 2000)]
    pub series: usize,
    /// Samples per request body (every series, the same number of points each).
    #[arg(long, default_value_t = 10_000)]
    pub body_samples: usize,
    /// Throughput: samples per run.
    #[arg(long, default_value_t = 2_000_000)]
    pub samples: usize,
    /// Throughput: concurrent clients (one keep-alive connection each).
    #[arg(long, default_value_t = 2)]
    pub clients: usize,
    /// Throughput: runs per setup, each on fresh processes; the report gives the median.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Latency: samples/s pushed by one client.
    #[arg(long, default_value_t = 100_000)]
    pub rate: usize,
    /// Latency: samples per body at that rate (bodies/s = rate / this).
    #[arg(long, default_value_t = 5_000)]
    pub latency_body_samples: usize,
    /// Latency: seconds of pushing.
    #[arg(long, default_value_t = 15)]
    pub seconds: u64,
    /// Latency: milliseconds between two polls of the prober.
    #[arg(long, default_value_t = 10)]
    pub poll_ms: u64,
    /// Setups to measure (repeatable) [default: all].
    #[arg(long, value_enum)]
    pub setup: Vec<Setup>,
    /// Skips the throughput part.
    #[arg(long)]
    pub no_throughput: bool,
    /// Skips the latency part.
    #[arg(long)]
    pub no_latency: bool,
    /// Where to write the markdown report [default: bench/results/<UTC date>-pipeline.md].
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub servers: crate::system::Binaries,
    /// The NATS server binary (`apt-get install nats-server`).
    #[arg(long, default_value = "/usr/sbin/nats-server")]
    pub nats: PathBuf,
    /// Parent directory of the processes' temporary directories [default: $TMPDIR or /tmp].
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
}

/// One throughput run.
#[derive(Clone, Debug)]
pub struct Throughput {
    pub samples: usize,
    /// From the first request until the last one was answered 2xx.
    pub accepted_secs: f64,
    /// From the first request until every sample was stored and searchable.
    pub stored_secs: f64,
    /// Samples counted in storage afterwards (`None`: not counted).
    pub counted: Option<u64>,
}

/// One latency run.
#[derive(Clone, Debug)]
pub struct Latency {
    pub bodies: usize,
    pub seen: usize,
    /// Samples/s actually pushed (the client may fall behind the target).
    pub achieved_rate: f64,
    /// Push → queryable, ms, sorted.
    pub visible_ms: Vec<f64>,
    /// Push → 2xx, ms, sorted.
    pub ack_ms: Vec<f64>,
}

/// Everything measured for one setup.
pub struct SetupResult {
    pub setup: Setup,
    pub throughput: Vec<Throughput>,
    pub latency: Option<Latency>,
    pub errors: Vec<String>,
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Line-protocol bodies: body `b` holds `points` points of every series, at
/// `ts(b) + k` ms, valued `b * points + k`; plus, when `probe`, one `bench_probe v=<b>`.
fn bodies(
    series: usize,
    points: usize,
    n: usize,
    ts: impl Fn(usize) -> i64,
    probe: bool,
) -> Vec<Vec<u8>> {
    (0..n)
        .map(|b| {
            let t0 = ts(b);
            let mut out = String::with_capacity(series * points * 32 + 64);
            for k in 0..points {
                let v = b * points + k;
                for s in 0..series {
                    out.push_str(&format!("bench,s={s} v={v} {}\n", t0 + k as i64));
                }
            }
            if probe {
                out.push_str(&format!("bench_probe v={b} {t0}\n"));
            }
            out.into_bytes()
        })
        .collect()
}

fn post(c: &Cluster, client: &Client, body: &[u8]) -> anyhow::Result<()> {
    let r = c
        .auth(client.post(format!("{}/write?precision=ms", c.ingest)))
        .body(body.to_vec())
        .send()?;
    if !r.status().is_success() {
        let status = r.status();
        bail!("POST /write: {status}: {}", r.text().unwrap_or_default());
    }
    Ok(())
}

/// Polls until `f` holds, for at most `timeout`.
fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Samples of `bench_v` in storage around `at_ms`.
fn count(c: &Cluster, client: &Client, setup: Setup, at_ms: i64) -> anyhow::Result<u64> {
    let at_s = Some(at_ms as f64 / 1000.0);
    let Some(vm) = &c.vm else {
        // The embedded query API answers selectors: count the raw points.
        let rows = c.query(client, "bench_v[1h]", at_s)?;
        return Ok(rows
            .iter()
            .map(|r| r["values"].as_array().map_or(0, Vec::len) as u64)
            .sum());
    };
    let _ = setup;
    let rows = c.query_at(vm, client, "sum(count_over_time(bench_v[1h]))", at_s)?;
    rows.first()
        .and_then(|r| r["value"][1].as_str())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
        .context("no count")
}

fn throughput_run(
    opts: &Options,
    setup: Setup,
    bins: &Binaries,
    parent: &std::path::Path,
    client: &Client,
) -> anyhow::Result<Throughput> {
    let c = Cluster::start(setup, bins, parent, client)?;
    let points = (opts.body_samples / opts.series).max(1);
    let per_body = points * opts.series;
    let n = opts.samples.div_ceil(per_body);
    // The data ends 10 minutes ago, one ms per point.
    let base = probe::now_ms() - 600_000 - (n * points) as i64;
    let data = Arc::new(bodies(
        opts.series,
        points,
        n,
        |b| base + (b * points) as i64,
        false,
    ));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let errors: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..opts.clients.max(1))
            .map(|_| {
                let (data, next, c) = (data.clone(), next.clone(), &c);
                scope.spawn(move || -> Result<(), String> {
                    let client = Client::builder()
                        .timeout(Duration::from_secs(120))
                        .build()
                        .map_err(|e| e.to_string())?;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(body) = data.get(i) else {
                            return Ok(());
                        };
                        post(c, &client, body).map_err(|e| format!("body {i}: {e:#}"))?;
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| {
                h.join()
                    .map_err(|_| "client panicked".to_string())
                    .and_then(|r| r)
                    .err()
            })
            .collect()
    });
    if let Some(e) = errors.first() {
        bail!("{e}");
    }
    let accepted_secs = started.elapsed().as_secs_f64();
    if c.handlers.is_some()
        && !wait_until(Duration::from_secs(600), || {
            c.processed(client).is_some_and(|p| p >= n as u64)
        })
    {
        bail!(
            "the handlers applied {:?} of {n} bodies within 600 s",
            c.processed(client)
        );
    }
    c.force_flush(client)?;
    let stored_secs = started.elapsed().as_secs_f64();
    let counted = count(&c, client, setup, base + (n * points) as i64 + 60_000).ok();
    Ok(Throughput {
        samples: n * per_body,
        accepted_secs,
        stored_secs,
        counted,
    })
}

fn latency_run(
    opts: &Options,
    setup: Setup,
    bins: &Binaries,
    parent: &std::path::Path,
    client: &Client,
) -> anyhow::Result<Latency> {
    let c = Cluster::start(setup, bins, parent, client)?;
    let points = (opts.latency_body_samples / opts.series).max(1);
    let per_body = points * opts.series + 1;
    let interval = Duration::from_secs_f64(per_body as f64 / opts.rate.max(1) as f64);
    let n = ((opts.seconds as f64) / interval.as_secs_f64()).ceil() as usize;
    // Warm-up: the series exist before timing starts (VictoriaMetrics makes a new series
    // searchable only seconds after its first sample; that is not what is measured here).
    let warm_ms = probe::now_ms();
    let warm = bodies(opts.series, points, 1, |_| warm_ms, false);
    for body in &warm {
        post(&c, client, body)?;
    }
    post(
        &c,
        client,
        format!("bench_probe v=-1 {}\n", warm_ms).as_bytes(),
    )?;
    if !wait_until(Duration::from_secs(120), || {
        c.query(client, "bench_probe_v[10m]", None)
            .is_ok_and(|rows| !rows.is_empty())
    }) {
        bail!("the warm-up probe did not become visible within 120 s");
    }
    // Body b is due at start + b × interval and carries that time as its timestamps.
    let start_ms = probe::now_ms() + 2000;
    let interval_ms = interval.as_secs_f64() * 1000.0;
    let data = bodies(
        opts.series,
        points,
        n,
        |b| start_ms + (b as f64 * interval_ms) as i64,
        true,
    );
    let wait = start_ms - probe::now_ms();
    if wait > 0 {
        std::thread::sleep(Duration::from_millis(wait as u64));
    }
    let t0 = Instant::now();
    let sent: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; n]));
    let seen: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; n]));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let result = std::thread::scope(|scope| -> anyhow::Result<(Vec<f64>, f64)> {
        let prober = {
            let (seen, done, c) = (seen.clone(), done.clone(), &c);
            scope.spawn(move || {
                let client = Client::new();
                loop {
                    let finished = done.load(Ordering::Relaxed);
                    if let Ok(rows) = c.query(&client, "bench_probe_v[10m]", None) {
                        let now = Instant::now();
                        let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
                        for v in rows
                            .iter()
                            .flat_map(|r| r["values"].as_array().cloned().unwrap_or_default())
                        {
                            if let Some(b) = v[1].as_str().and_then(|x| x.parse::<usize>().ok())
                                && let Some(slot) = s.get_mut(b)
                                && slot.is_none()
                            {
                                *slot = Some(now);
                            }
                        }
                        if s.iter().all(Option::is_some) {
                            return;
                        }
                    }
                    if finished {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(opts.poll_ms));
                }
            })
        };
        let pusher_client = Client::builder().timeout(Duration::from_secs(30)).build()?;
        let mut acks = Vec::with_capacity(n);
        for (b, body) in data.iter().enumerate() {
            let due = t0 + interval.mul_f64(b as f64);
            if let Some(d) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
            let at = Instant::now();
            if let Ok(mut s) = sent.lock() {
                s[b] = Some(at);
            }
            post(&c, &pusher_client, body)?;
            acks.push(at.elapsed().as_secs_f64() * 1000.0);
        }
        let pushed_secs = t0.elapsed().as_secs_f64();
        // Everything pushed; give the pipeline 60 s to make the rest visible.
        let all_seen = wait_until(Duration::from_secs(60), || {
            seen.lock()
                .map(|s| s.iter().all(Option::is_some))
                .unwrap_or(false)
        });
        done.store(true, Ordering::Relaxed);
        let _ = prober.join();
        if !all_seen {
            eprintln!(
                "argus-bench pipeline: {}: not every probe became visible within 60 s",
                setup.name()
            );
        }
        acks.sort_by(f64::total_cmp);
        Ok((acks, (n * per_body) as f64 / pushed_secs))
    });
    let (ack_ms, achieved_rate) = result?;
    let sent = sent.lock().map(|s| s.clone()).unwrap_or_default();
    let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
    let mut visible_ms: Vec<f64> = sent
        .iter()
        .zip(&seen)
        .filter_map(|(a, b)| Some(b.as_ref()?.saturating_duration_since(*a.as_ref()?)))
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    visible_ms.sort_by(f64::total_cmp);
    Ok(Latency {
        bodies: n,
        seen: visible_ms.len(),
        achieved_rate,
        visible_ms,
        ack_ms,
    })
}

pub fn run(opts: &Options) -> anyhow::Result<u8> {
    let started_ms = probe::now_ms();
    let machine = probe::machine();
    let parent = crate::output::work_dir(opts.work_dir.as_deref())?;
    let bins = Binaries {
        argus: opts.servers.argus.clone(),
        vm: opts.servers.vm.clone(),
        nats: opts.nats.clone(),
    };
    for (what, p) in [
        ("argus", &bins.argus),
        ("victoria-metrics", &bins.vm),
        ("nats-server", &bins.nats),
    ] {
        if !p.exists() {
            bail!("{what} binary {} not found", p.display());
        }
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;
    let setups: Vec<Setup> = if opts.setup.is_empty() {
        Setup::ALL.to_vec()
    } else {
        opts.setup.clone()
    };
    let mut results: Vec<SetupResult> = setups
        .iter()
        .map(|&setup| SetupResult {
            setup,
            throughput: Vec::new(),
            latency: None,
            errors: Vec::new(),
        })
        .collect();
    if !opts.no_throughput {
        // Round-robin over the setups, so that a noisy moment hits each one once.
        for run in 0..opts.runs.max(1) {
            for r in &mut results {
                eprintln!(
                    "argus-bench pipeline: throughput run {}/{}: {}",
                    run + 1,
                    opts.runs,
                    r.setup.name()
                );
                match throughput_run(opts, r.setup, &bins, &parent, &client) {
                    Ok(t) => {
                        eprintln!(
                            "  {:.0} samples/s accepted, {:.0} stored; counted {:?} of {}",
                            t.samples as f64 / t.accepted_secs,
                            t.samples as f64 / t.stored_secs,
                            t.counted,
                            t.samples
                        );
                        r.throughput.push(t);
                    }
                    Err(e) => r.errors.push(format!("throughput run {}: {e:#}", run + 1)),
                }
            }
        }
    }
    if !opts.no_latency {
        for r in &mut results {
            eprintln!(
                "argus-bench pipeline: latency at {} samples/s: {}",
                opts.rate,
                r.setup.name()
            );
            match latency_run(opts, r.setup, &bins, &parent, &client) {
                Ok(l) => {
                    eprintln!(
                        "  p50 {:.0} ms, p99 {:.0} ms, {} of {} bodies seen, {:.0} samples/s pushed",
                        percentile(&l.visible_ms, 50.0),
                        percentile(&l.visible_ms, 99.0),
                        l.seen,
                        l.bodies,
                        l.achieved_rate
                    );
                    r.latency = Some(l);
                }
                Err(e) => r.errors.push(format!("latency: {e:#}")),
            }
        }
    }
    let text = report::render(opts, &machine, started_ms, &results);
    crate::output::write_report(opts.out.as_deref(), "pipeline", started_ms, &text)?;
    let miscounted = results.iter().any(|r| {
        r.throughput
            .iter()
            .any(|t| t.counted.is_some_and(|c| c != t.samples as u64))
    });
    let failed = results.iter().any(|r| !r.errors.is_empty());
    Ok(if miscounted {
        3
    } else if failed {
        1
    } else {
        0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank_and_medians() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v[..3], 99.0), 3.0);
        assert!(percentile(&[], 50.0).is_nan());
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn bodies_hold_every_series_points_times_and_the_probe() {
        let b = bodies(2, 3, 2, |b| 1000 * b as i64, true);
        let text = String::from_utf8(b[1].clone()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2 * 3 + 1);
        assert_eq!(lines[0], "bench,s=0 v=3 1000");
        assert_eq!(lines[5], "bench,s=1 v=5 1002");
        assert_eq!(lines[6], "bench_probe v=1 1000");
    }
}
