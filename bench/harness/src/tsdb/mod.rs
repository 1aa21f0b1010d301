//! The **tsdb** benchmark: Argus's storage against VictoriaMetrics's on one node-like data
//! set, one system after the other on the same machine — ingest rate, bytes on disk per
//! sample after flush and compaction, peak memory, and the latency of one range query
//! whose answers from both must agree. How to run it and what is fair about it:
//! `bench/tsdb.md`.

pub(crate) mod ingest;
pub(crate) mod query;
mod report;
pub(crate) mod stored;

use crate::dataset::{self, Dataset, Spec};
use crate::probe::{self, DiskUsage, Utc};
use crate::system::{Flush, Kind, Server};
use clap::ValueEnum;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Options of `argus-bench tsdb`.
#[derive(clap::Args, Debug)]
pub struct Options {
    /// Simulated hosts; each has 73–77 series (cpu, mem, disk, diskio, net, system,
    /// processes).
    #[arg(long, default_value_t = 200)]
    pub hosts: usize,
    /// Span of the data in hours (fractions allowed), ending a minute or two before now.
    #[arg(long, default_value_t = 6.0)]
    pub hours: f64,
    /// Concurrent ingest clients (threads, each with one keep-alive connection).
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Where to write the markdown report [default: bench/results/<UTC date>-tsdb.md].
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub servers: crate::system::Binaries,
    /// Moves each timestamp by up to ± this many ms off its host's 10 s grid (< 5000).
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: i64,
    /// Sends gzip-compressed bodies (compressed before timing starts).
    #[arg(long)]
    pub gzip: bool,
    /// Seed of the data set's PRNG.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Hosts per request body.
    #[arg(long, default_value_t = 20)]
    pub batch_hosts: usize,
    /// Consecutive points of each host per request body (30 = 5 minutes).
    #[arg(long, default_value_t = 30)]
    pub batch_points: usize,
    /// Untimed runs of the query before the timed ones.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Timed runs of the query.
    #[arg(long, default_value_t = 15)]
    pub runs: usize,
    /// Parent directory of the systems' temporary data directories [default: $TMPDIR or
    /// /tmp]. Both systems use the same one.
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Lets VictoriaMetrics answer repeated queries from its rollup result cache (by
    /// default the benchmark sends `nocache=1`: Argus has no result cache, and the
    /// benchmark compares storage reads).
    #[arg(long)]
    pub vm_cache: bool,
    /// Runs one system only (no comparison).
    #[arg(long, value_enum)]
    pub only: Option<Only>,
    /// Another PromQL range query over the same span and step, timed and compared like the
    /// main one (`--extra-runs` runs after one warm-up); repeatable. For example
    /// `topk(10, rate(net_bytes_recv[5m]))` or `sum by (dc) (mem_used)`.
    #[arg(long)]
    pub extra_query: Vec<String>,
    /// Timed runs of each extra query.
    #[arg(long, default_value_t = 5)]
    pub extra_runs: usize,
    /// Skips the restarts (SIGKILL, then a clean stop, each followed by the time until
    /// every sample answers a query again).
    #[arg(long)]
    pub no_restart: bool,
    /// A config file (TOML) for Argus, to measure a setting; the report names it. By
    /// default Argus runs with its built-in defaults.
    #[arg(long)]
    pub argus_config: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Only {
    Argus,
    Vm,
}

/// Interval of the simulated agents.
const INTERVAL_MS: i64 = 10_000;
/// The query covers at most the last 6 hours, at this step.
const QUERY_SPAN_MS: i64 = 6 * 3_600_000;
const QUERY_STEP_MS: i64 = 30_000;
/// Five cpu lines per host (cpu0..cpu3, cpu-total): 1 000 series at 200 hosts.
const QUERY_SELECTOR: &str = "cpu_usage_user";

/// One restart on the data ingested.
pub struct Restart {
    /// SIGKILL (else SIGTERM).
    pub hard: bool,
    /// From the start of the new process until a query counted every sample (or the
    /// limit).
    pub seconds: f64,
    /// Samples counted then: fewer than sent means acknowledged samples were lost.
    pub counted: u64,
}

/// Longest a restarted system is given to answer with every sample.
const RESTART_LIMIT: Duration = Duration::from_secs(180);

/// Everything measured on one system.
pub struct Outcome {
    pub version: String,
    pub ready: Duration,
    pub ingest: ingest::Ingest,
    /// Peak RSS (VmHWM) right after ingest, and at the end of the run.
    pub hwm_after_ingest: u64,
    pub hwm_end: u64,
    /// Resident memory (VmRSS) once every sample is stored, and after the flush.
    pub rss_stored: u64,
    pub rss_after_flush: u64,
    /// The restarts after ingest: SIGKILL, then a clean stop.
    pub restarts: Vec<Restart>,
    /// Each `--extra-query`, timed.
    pub extra: Vec<Result<query::Timing, String>>,
    /// The query once, right after ingest and before the flush.
    pub cold_query: Result<query::Single, String>,
    pub flush: Flush,
    /// Bytes written to disk (`/proc/<pid>/io`) from the start of ingest until the flush
    /// and compaction settled.
    pub written_after_flush: Option<u64>,
    pub disk: DiskUsage,
    pub disk_breakdown: Vec<(String, u64)>,
    /// The system's own figures from `/metrics`, after the flush.
    pub reported: Vec<crate::system::Reported>,
    pub tsdb_stats: Option<String>,
    pub query: Result<query::Timing, String>,
    pub stop: String,
}

/// Exit codes beyond 0 and 1.
pub const EXIT_MISMATCH: u8 = 3;

/// Runs the benchmark; the report goes to stdout and the `--out` file, progress to stderr.
/// Returns the exit code: 0, 1 if a system could not be measured, 3 if the two systems'
/// answers to the query differ.
pub fn run(opts: &Options) -> anyhow::Result<u8> {
    // reqwest is built without a default TLS provider; plain HTTP only, but it wants one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    if opts.clients == 0 || opts.runs == 0 || !opts.hours.is_finite() || opts.hours <= 0.0 {
        anyhow::bail!("--clients, --runs and --hours must be above zero");
    }
    let started_ms = probe::now_ms();
    let machine = probe::machine();
    let kinds: Vec<Kind> = match opts.only {
        None => vec![Kind::Argus, Kind::Vm],
        Some(Only::Argus) => vec![Kind::Argus],
        Some(Only::Vm) => vec![Kind::Vm],
    };
    let work_dir = crate::output::work_dir(opts.work_dir.as_deref())?;

    // The span ends on a whole minute at least a minute ago, so VictoriaMetrics's
    // -search.latencyOffset (30 s) never hides the newest points.
    let end_ms = (started_ms - 60_000).div_euclid(60_000) * 60_000;
    let spec = Spec {
        hosts: opts.hosts,
        intervals: ((opts.hours * 3_600_000.0 / INTERVAL_MS as f64).round() as usize).max(1),
        interval_ms: INTERVAL_MS,
        end_ms,
        jitter_ms: opts.jitter_ms,
        seed: opts.seed,
        batch_hosts: opts.batch_hosts,
        batch_points: opts.batch_points,
    };
    eprintln!(
        "generating {} hosts × {} points …",
        spec.hosts, spec.intervals
    );
    let t = std::time::Instant::now();
    let mut ds = dataset::generate(&spec, machine.cpus).map_err(anyhow::Error::msg)?;
    if opts.gzip {
        ds.compress()?;
    }
    eprintln!(
        "data set: {} series, {} samples, {} lines, {} body bytes in {} requests ({:.1} s)",
        ds.series,
        ds.samples,
        ds.lines,
        ds.body_bytes,
        ds.batches.len(),
        t.elapsed().as_secs_f64()
    );

    let q_start = (spec.start_ms().max(end_ms - QUERY_SPAN_MS) + QUERY_STEP_MS - 1)
        .div_euclid(QUERY_STEP_MS)
        * QUERY_STEP_MS;
    let q = query::Query {
        selector: QUERY_SELECTOR.into(),
        start_s: q_start.min(end_ms) / 1000,
        end_s: end_ms / 1000,
        step_s: QUERY_STEP_MS / 1000,
        vm_nocache: !opts.vm_cache,
    };
    let months = months(spec.start_ms(), end_ms);

    let mut outcomes: Vec<(Kind, Result<Outcome, String>)> = Vec::new();
    for kind in kinds {
        eprintln!("── {} ──", kind.name());
        let mut outcome = run_one(kind, opts, &ds, &q, &months, &work_dir).map_err(|e| {
            eprintln!("{}: FAILED: {e:#}", kind.name());
            format!("{e:#}")
        });
        if let Ok(o) = &mut outcome
            && !opts.no_restart
        {
            eprintln!("── {}: restarts ──", kind.name());
            match restart_pass(kind, opts, &ds, &work_dir) {
                Ok(r) => o.restarts = r,
                Err(e) => eprintln!("{}: restarts FAILED: {e:#}", kind.name()),
            }
        }
        outcomes.push((kind, outcome));
    }

    let check = match (outcomes.first(), outcomes.get(1)) {
        (Some((_, Ok(a))), Some((_, Ok(b)))) => match (&a.query, &b.query) {
            (Ok(qa), Ok(qb)) => Some(query::compare(&qa.matrix, &qb.matrix)),
            _ => None,
        },
        _ => None,
    };
    let ctx = report::Context {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        started: Utc::from_ms(started_ms),
        machine,
        fs_type: probe::fs_type(&work_dir),
        opts,
        dataset: &ds,
        query: &q,
        expected_series: 5 * opts.hosts,
        outcomes: &outcomes,
        check: check.as_ref(),
    };
    let text = report::render(&ctx);
    crate::output::write_report(opts.out.as_deref(), "tsdb", started_ms, &text)?;

    let failed = outcomes.iter().any(|(_, o)| match o {
        Ok(o) => o.ingest.failed > 0 || o.ingest.stored.is_err() || o.query.is_err(),
        Err(_) => true,
    });
    let mismatch = check.as_ref().is_some_and(|c| !c.identical())
        || outcomes.iter().any(|(_, o)| {
            o.as_ref()
                .ok()
                .and_then(|o| o.query.as_ref().ok())
                .is_some_and(|t| t.matrix.series.len() != ctx.expected_series)
        });
    Ok(if mismatch {
        EXIT_MISMATCH
    } else if failed {
        1
    } else {
        0
    })
}

/// One system, start to stop.
fn run_one(
    kind: Kind,
    opts: &Options,
    ds: &Dataset,
    q: &query::Query,
    months: &[String],
    work_dir: &Path,
) -> anyhow::Result<Outcome> {
    let (version, mut server) = match kind {
        Kind::Argus => {
            let config = match &opts.argus_config {
                Some(p) => Some(
                    std::fs::read_to_string(p)
                        .map_err(|e| anyhow::anyhow!("--argus-config {}: {e}", p.display()))?,
                ),
                None => None,
            };
            (
                argus_version(&opts.servers.argus),
                Server::start_argus_with(&opts.servers.argus, work_dir, config.as_deref())?,
            )
        }
        Kind::Vm => (
            vm_version(&opts.servers.vm),
            Server::start_vm(&opts.servers.vm, work_dir)?,
        ),
    };
    let client = query::client()?;
    let ready = server.wait_ready(&client)?;
    let name = kind.name();
    eprintln!(
        "{name}: ready at {} in {:.1} s; ingesting {} requests with {} clients …",
        server.base,
        ready.as_secs_f64(),
        ds.batches.len(),
        opts.clients
    );
    let written_before = probe::written_bytes(server.pid());
    let ingest = ingest::run(&server, ds, opts.clients, opts.gzip)?;
    let (rss_stored, hwm_after_ingest) = probe::rss(server.pid()).unwrap_or((0, 0));
    eprintln!(
        "{name}: {} samples in {:.2} s = {:.0} samples/s ({} failed requests, {} sent again after 429/503)",
        ds.samples,
        ingest.seconds,
        ds.samples as f64 / ingest.seconds,
        ingest.failed,
        ingest.retried
    );
    match &ingest.stored {
        Ok(t) => eprintln!(
            "{name}: stored and queryable after {:.2} s = {:.0} samples/s (last samples after {:.2} s; {} counted in {} full counts)",
            t.seconds,
            ds.samples as f64 / t.seconds,
            t.last_seconds,
            t.counted,
            t.full_counts
        ),
        Err(e) => eprintln!("{name}: stored: FAILED: {e}"),
    }
    if let Some(stats) = server.tsdb_stats(&client) {
        let head: Vec<&str> = stats
            .lines()
            .filter(|l| l.contains("\"head_") || l.contains("\"wal_bytes"))
            .map(str::trim)
            .collect();
        eprintln!("{name}: before the flush: {}", head.join(" "));
    }
    let cold_query = query::once(&client, &server, q).map_err(|e| format!("{e:#}"));
    let flush = server.flush(&client, months)?;
    let rss_after_flush = probe::rss(server.pid()).map_or(0, |r| r.0);
    let written_after_flush = match (written_before, probe::written_bytes(server.pid())) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let disk = probe::disk_usage(&server.data_dir);
    let disk_breakdown = probe::breakdown(&server.data_dir);
    eprintln!(
        "{name}: flushed in {:.1} s ({}); {} bytes on disk",
        flush.seconds, flush.note, disk.apparent
    );
    let reported = server.self_report(&client);
    let tsdb_stats = server.tsdb_stats(&client);
    let query =
        query::timed(&client, &server, q, opts.warmup, opts.runs).map_err(|e| format!("{e:#}"));
    match &query {
        Ok(t) => eprintln!(
            "{name}: query {} series, {} points: median {:.1} ms, p90 {:.1} ms",
            t.matrix.series.len(),
            t.matrix.points(),
            t.median_ms,
            t.p90_ms
        ),
        Err(e) => eprintln!("{name}: query FAILED: {e}"),
    }
    let extra: Vec<Result<query::Timing, String>> = opts
        .extra_query
        .iter()
        .map(|e| {
            let eq = query::Query {
                selector: e.clone(),
                ..q.clone()
            };
            let t = query::timed(&client, &server, &eq, 1, opts.extra_runs.max(1))
                .map_err(|e| format!("{e:#}"));
            match &t {
                Ok(t) => eprintln!(
                    "{name}: {e}: {} series, median {:.1} ms",
                    t.matrix.series.len(),
                    t.median_ms
                ),
                Err(err) => eprintln!("{name}: {e}: FAILED: {err}"),
            }
            t
        })
        .collect();
    let hwm_end = probe::rss(server.pid()).map_or(0, |r| r.1);
    let stop = server.stop()?;
    Ok(Outcome {
        version,
        ready,
        ingest,
        hwm_after_ingest,
        hwm_end,
        rss_stored,
        rss_after_flush,
        restarts: Vec::new(),
        extra,
        cold_query,
        flush,
        written_after_flush,
        disk,
        disk_breakdown,
        reported,
        tsdb_stats,
        query,
        stop,
    })
}

/// The restart pass: a fresh server, the data set ingested until stored (nothing
/// flushed: Argus has it all in its write-ahead log), then SIGKILL and a start, then a
/// clean stop and a start, each timed until every sample answers a query.
fn restart_pass(
    kind: Kind,
    opts: &Options,
    ds: &Dataset,
    work_dir: &Path,
) -> anyhow::Result<Vec<Restart>> {
    let mut server = match kind {
        Kind::Argus => Server::start_argus(&opts.servers.argus, work_dir)?,
        Kind::Vm => Server::start_vm(&opts.servers.vm, work_dir)?,
    };
    let client = query::client()?;
    server.wait_ready(&client)?;
    let name = kind.name();
    let ingest = ingest::run(&server, ds, opts.clients, opts.gzip)?;
    if let Err(e) = &ingest.stored {
        anyhow::bail!("not stored before the restarts: {e}");
    }
    let mut out = Vec::new();
    for hard in [true, false] {
        let started = server.restart(hard)?;
        let (seconds, counted) = stored::wait_all(&client, &server, started, ds, RESTART_LIMIT)?;
        eprintln!(
            "{name}: started again after {}: {counted} of {} samples answer a query {seconds:.2} s after the start",
            if hard { "SIGKILL" } else { "a clean stop" },
            ds.samples
        );
        out.push(Restart {
            hard,
            seconds,
            counted,
        });
    }
    server.stop()?;
    Ok(out)
}

/// VictoriaMetrics partition names (`YYYY_MM`) that the span `[start, end)` touches.
pub(crate) fn months(start_ms: i64, end_ms: i64) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut t = start_ms;
    loop {
        let m = Utc::from_ms(t.min(end_ms - 1)).partition();
        if !out.contains(&m) {
            out.push(m);
        }
        if t >= end_ms - 1 {
            break;
        }
        t += 86_400_000;
    }
    out
}

pub(crate) fn command_output(bin: &Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(bin).args(args).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let text = if text.is_empty() {
        String::from_utf8_lossy(&out.stderr).trim().to_string()
    } else {
        text
    };
    (!text.is_empty()).then_some(text)
}

pub(crate) fn argus_version(bin: &Path) -> String {
    command_output(bin, &["--version"]).unwrap_or_else(|| "unknown".into())
}

/// `victoria-metrics -version`; Debian's build answers with an empty line, so then the
/// version of the package owning the binary.
pub(crate) fn vm_version(bin: &Path) -> String {
    if let Some(v) = command_output(bin, &["-version"]) {
        return v;
    }
    let path = bin.canonicalize().unwrap_or_else(|_| bin.to_path_buf());
    let package = command_output(
        Path::new("dpkg-query"),
        &["-S", &path.display().to_string()],
    )
    .and_then(|s| s.split(':').next().map(str::to_string));
    let version = package
        .as_deref()
        .and_then(|p| command_output(Path::new("dpkg-query"), &["-W", "-f", "${Version}", p]));
    match (package, version) {
        (Some(p), Some(v)) => format!("{v} (Debian package {p}; the binary's -version is empty)"),
        _ => "unknown (the binary's -version is empty)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_of_a_span() {
        // 2023-11-30 20:00 → 2023-12-01 02:00 UTC.
        let start = 1_701_374_400_000;
        assert_eq!(
            months(start, start + 6 * 3_600_000),
            vec!["2023_11".to_string(), "2023_12".to_string()]
        );
        assert_eq!(
            months(start, start + 3_600_000),
            vec!["2023_11".to_string()]
        );
    }
}
