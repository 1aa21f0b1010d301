//! The **rules** benchmark (issue 14): rule evaluation speed and alert latency, Argus
//! against Prometheus 2.42 (and Alertmanager 0.25 for the latency) in one run.
//!
//! 1. **Speed.** The query benchmark's fleet ([`crate::query::data`]) over the last hour,
//!    loaded into Argus (`/write`, then a flush) and Prometheus (`promtool` blocks); its
//!    hosts then keep sending (remote write, the same bodies to both, [`live`]). Both
//!    evaluate the same file of `--groups × --rules-per-group` rules ([`rulegen`]) every
//!    `--interval-secs`; after every group ran once and `--warmup` more rounds,
//!    `--rounds` rounds are read from `GET /api/v1/rules` on both ([`rounds`]): the wall
//!    span of each round and the sum of its group durations, with CPU and memory of both
//!    processes. Then a few recorded series are compared between the two, and every
//!    rule's health is checked.
//! 2. **Latency** with `for: 0`: [`latency`].
//!
//! How to run it and the method: `bench/rules.md`.

mod hook;
mod latency;
mod live;
mod report;
mod rounds;
mod rulegen;

use crate::footprint::procfs;
use crate::probe;
use crate::query::data;
use crate::query::prom::{Extra, Prom};
use crate::system::Server;
use anyhow::{Context, bail};
use reqwest::blocking::Client;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Options of `argus-bench rules`.
#[derive(clap::Args, Debug)]
pub struct Options {
    /// Simulated hosts (17 series each; at most 1 000). At 500, Prometheus itself could not
    /// evaluate the default rules within a 15 s interval on the 2-core machine.
    #[arg(long, default_value_t = 200)]
    pub hosts: usize,
    /// Minutes of history loaded before the rules are measured.
    #[arg(long, default_value_t = 60)]
    pub history_mins: i64,
    /// Rule groups, and rules in each.
    #[arg(long, default_value_t = 100)]
    pub groups: usize,
    #[arg(long, default_value_t = 100)]
    pub rules_per_group: usize,
    /// Evaluation interval of every group, and the hosts' sample interval, in seconds.
    #[arg(long, default_value_t = 15)]
    pub interval_secs: i64,
    /// Keep the groups' natural offsets (spread over the interval) instead of choosing
    /// names that make every group due at the same moment.
    #[arg(long)]
    pub spread: bool,
    /// Rounds after every group ran once, before measuring.
    #[arg(long, default_value_t = 2)]
    pub warmup: i64,
    /// Rounds measured.
    #[arg(long, default_value_t = 8)]
    pub rounds: i64,
    /// How far ahead of their timestamps the live samples are sent, ms.
    #[arg(long, default_value_t = 1000)]
    pub lead_ms: i64,
    /// Alert latency events (0: skip the latency part).
    #[arg(long, default_value_t = 120)]
    pub events: usize,
    /// Mean time between two events, ms.
    #[arg(long, default_value_t = 2500)]
    pub event_gap_ms: u64,
    /// Measure the latency on Argus only (no Prometheus and Alertmanager).
    #[arg(long)]
    pub latency_argus_only: bool,
    /// Skip the speed part.
    #[arg(long)]
    pub latency_only: bool,
    /// Concurrent clients loading the history into Argus.
    #[arg(long, default_value_t = 2)]
    pub clients: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where to write the markdown report [default: bench/results/<UTC date>-rules.md].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The Argus binary (`cargo build --release -p argus`).
    #[arg(long, default_value = "target/release/argus")]
    pub argus: PathBuf,
    #[arg(long, default_value = "/usr/bin/prometheus")]
    pub prometheus: PathBuf,
    #[arg(long, default_value = "/usr/bin/promtool")]
    pub promtool: PathBuf,
    /// Parent of the temporary directories [default: $TMPDIR or /tmp].
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
}

/// The targets of the issue.
pub const TARGET_ROUND_S: f64 = 5.0;
pub const TARGET_RATIO: f64 = 0.5;
/// Latency target beyond the interval.
pub const TARGET_LATENCY_EXTRA_S: f64 = 1.0;

/// One system of the speed part, as measured.
#[derive(Default)]
pub struct System {
    pub name: &'static str,
    pub load: String,
    pub rounds: Vec<rounds::Round>,
    /// CPU seconds of the process over the measured rounds, per round.
    pub cpu_per_round_s: Option<f64>,
    /// Largest VmRSS sampled while measuring, and VmHWM at the end.
    pub rss_max: u64,
    pub rss_hwm: u64,
    /// The last answer of `/api/v1/rules`.
    pub last: rounds::Snapshot,
    /// The rule file as the system names it.
    pub file: String,
    pub errors: Vec<String>,
}

impl System {
    fn complete(&self, groups: usize) -> Vec<&rounds::Round> {
        self.rounds.iter().filter(|r| r.groups == groups).collect()
    }

    pub fn median_span(&self, groups: usize) -> f64 {
        crate::pipeline::median(
            &self
                .complete(groups)
                .iter()
                .map(|r| r.span_s)
                .collect::<Vec<_>>(),
        )
    }

    pub fn median_work(&self, groups: usize) -> f64 {
        crate::pipeline::median(
            &self
                .complete(groups)
                .iter()
                .map(|r| r.work_s)
                .collect::<Vec<_>>(),
        )
    }

    pub fn max_span(&self, groups: usize) -> f64 {
        self.complete(groups)
            .iter()
            .map(|r| r.span_s)
            .fold(f64::NAN, f64::max)
    }

    /// Every measured round has every group.
    pub fn measured(&self, groups: usize) -> bool {
        !self.rounds.is_empty() && self.rounds.iter().all(|r| r.groups == groups)
    }
}

/// A recording rule checked across the systems: each one's recorded series against the
/// other's answer to the rule's expression at the recorded timestamps.
pub struct Check {
    pub metric: String,
    pub rule_id: String,
    pub expr: String,
    /// [Argus recorded vs Prometheus asked, Prometheus recorded vs Argus asked].
    pub dirs: [Direction; 2],
}

#[derive(Default)]
pub struct Direction {
    /// Recorded series, and the timestamps (evaluations) they hold.
    pub series: usize,
    pub timestamps: usize,
    /// Points compared, and points only one side has (a series recorded but not in the
    /// answer at that time, or the other way round).
    pub compared: usize,
    pub unmatched: usize,
    pub max_rel: f64,
    pub example: Option<String>,
    pub error: Option<String>,
}

impl Direction {
    pub fn same(&self) -> bool {
        self.error.is_none() && self.compared > 0 && self.unmatched == 0 && self.max_rel <= 1e-9
    }
}

impl Check {
    pub fn same(&self) -> bool {
        self.dirs.iter().all(Direction::same)
    }
}

/// Everything the speed part found.
#[derive(Default)]
pub struct Speed {
    pub data: String,
    pub rule_file: Option<rulegen::RuleFile>,
    pub promtool: String,
    pub systems: Vec<System>,
    pub checks: Vec<Check>,
    pub writer: Option<live::Stats>,
    /// Prometheus: groups whose `/metrics` duration equalled the API's, of those compared,
    /// and the largest difference (s).
    pub prom_metrics_agree: (usize, usize, f64),
    /// Prometheus's own counters at the end: iterations missed, evaluation failures.
    pub prom_missed_failed: (f64, f64),
    pub errors: Vec<String>,
}

pub fn run(opts: &Options) -> anyhow::Result<u8> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if opts.hosts == 0 || opts.hosts > 1000 {
        bail!("--hosts must be 1 to 1000 (host names have three digits)");
    }
    if opts.interval_secs < 2 || opts.groups == 0 || opts.rules_per_group == 0 || opts.rounds < 1 {
        bail!(
            "--interval-secs must be at least 2, --groups, --rules-per-group and --rounds at least 1"
        );
    }
    if !opts.argus.exists() {
        bail!(
            "argus binary {} not found (cargo build --release -p argus)",
            opts.argus.display()
        );
    }
    let started_ms = probe::now_ms();
    let machine = probe::machine();
    let work_dir = crate::output::work_dir(opts.work_dir.as_deref())?;
    let mut speed = Speed::default();
    if !opts.latency_only
        && let Err(e) = measure_speed(opts, &work_dir, &mut speed)
    {
        speed.errors.push(format!("{e:#}"));
    }
    let latency = if opts.events > 0 {
        eprintln!("latency part …");
        let r = latency::run(&latency::Setup {
            argus: &opts.argus,
            prometheus: &opts.prometheus,
            promtool: &opts.promtool,
            work_dir: &work_dir,
            interval_secs: opts.interval_secs,
            events: opts.events,
            mean_gap_ms: opts.event_gap_ms,
            seed: opts.seed,
            with_prometheus: !opts.latency_argus_only,
        });
        Some(r.map_err(|e| format!("{e:#}")))
    } else {
        None
    };
    let versions = report::Versions {
        argus: crate::tsdb::argus_version(&opts.argus),
        argus_commit: crate::output::git_commit(),
        prometheus: crate::output::command_version(&opts.prometheus, "--version"),
        alertmanager: crate::output::command_version(
            Path::new(argus_testkit::alertmanager::BINARY),
            "--version",
        ),
    };
    let text = report::render(
        opts,
        &machine,
        started_ms,
        &versions,
        &speed,
        latency.as_ref(),
    );
    crate::output::write_report(opts.out.as_deref(), "rules", started_ms, &text)?;

    let groups = opts.groups;
    let wrong = speed.checks.iter().any(|c| !c.same())
        || speed.systems.iter().any(|s| s.last.health[1] > 0);
    let unmeasured = !speed.errors.is_empty()
        || (!opts.latency_only
            && (speed.systems.len() < 2
                || speed
                    .systems
                    .iter()
                    .any(|s| !s.measured(groups) || !s.errors.is_empty())))
        || match &latency {
            Some(Ok(ms)) => ms.iter().any(|m| m.missing() > 0 || m.write_failures > 0),
            Some(Err(_)) => true,
            None => false,
        };
    Ok(if wrong {
        crate::tsdb::EXIT_MISMATCH
    } else if unmeasured {
        1
    } else {
        0
    })
}

/// A system's address, credentials and process, for the polls.
struct Peer<'a> {
    name: &'static str,
    base: String,
    token: Option<&'a str>,
    pid: u32,
}

impl Peer<'_> {
    fn get(&self, c: &Client, path_and_query: &str) -> anyhow::Result<bytes::Bytes> {
        let url = format!("{}{path_and_query}", self.base);
        let mut req = c.get(&url);
        if let Some(t) = self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().with_context(|| format!("GET {url}"))?;
        let status = resp.status();
        let body = resp.bytes()?;
        if !status.is_success() {
            bail!(
                "{}: GET {path_and_query}: {status}: {}",
                self.name,
                crate::system::truncate(&String::from_utf8_lossy(&body), 300)
            );
        }
        Ok(body)
    }

    fn rules(&self, c: &Client) -> anyhow::Result<rounds::Snapshot> {
        rounds::parse(&self.get(c, "/api/v1/rules")?)
            .with_context(|| format!("{}: /api/v1/rules", self.name))
    }
}

fn measure_speed(opts: &Options, work_dir: &Path, speed: &mut Speed) -> anyhow::Result<()> {
    let scratch = tempfile::Builder::new()
        .prefix("argus-bench-rules-")
        .tempdir_in(work_dir)?;
    let scratch_path = scratch
        .path()
        .canonicalize()
        .context("the scratch directory")?;
    let interval_ms = opts.interval_secs * 1000;
    let interval_ns = interval_ms * 1_000_000;

    // The data: the last hour, ending a minute ago on the interval.
    let end_ms = (probe::now_ms() - 60_000).div_euclid(interval_ms) * interval_ms;
    let points = (opts.history_mins * 60_000 / interval_ms).max(1) as usize;
    let om_path = scratch_path.join("data.om");
    eprintln!("generating {} hosts × {points} points …", opts.hosts);
    let (ds, live) =
        data::generate_live(opts.hosts, points, interval_ms, end_ms, opts.seed, &om_path)?;
    speed.data = format!(
        "{} hosts × {} series = {} series; {} samples of history ({} min, one every {} s per series, up to a minute before the start), then the same hosts go on in real time: {:.0} samples/s",
        opts.hosts,
        data::SERIES_PER_HOST,
        ds.series,
        ds.samples,
        opts.history_mins,
        opts.interval_secs,
        live.series() as f64 / opts.interval_secs as f64
    );

    // The rules: one file, a copy for each system (the offsets hash the path), checked
    // by promtool.
    let paths: Vec<PathBuf> = ["argus", "prometheus"]
        .iter()
        .map(|d| scratch_path.join(d).join("rules.yml"))
        .collect();
    let files: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let rf = rulegen::generate(
        opts.hosts,
        opts.groups,
        opts.rules_per_group,
        interval_ms,
        [&files[0], &files[1]],
        !opts.spread,
        opts.seed,
    );
    for path in &paths {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, &rf.yaml)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let check = std::process::Command::new(&opts.promtool)
        .args(["check", "rules"])
        .args(&paths)
        .output()
        .with_context(|| format!("cannot run {}", opts.promtool.display()))?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    speed.promtool = said
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    if !check.status.success() {
        bail!(
            "promtool check rules failed: {}",
            crate::output::one_line(&said)
        );
    }
    // Per system: each group's offset, and the first of them.
    let offsets: Vec<BTreeMap<String, i64>> = files
        .iter()
        .map(|f| {
            rf.groups
                .iter()
                .map(|g| (g.clone(), argus_rules::group::offset_ns(f, g, interval_ns)))
                .collect()
        })
        .collect();
    let first_offsets: Vec<i64> = offsets
        .iter()
        .map(|o| o.values().copied().min().unwrap_or(0))
        .collect();
    let checks = rf.checks.clone();
    speed.rule_file = Some(rf);

    // Argus: started with the rules, then loaded.
    let http = crate::tsdb::query::client()?;
    let config = format!(
        "[alerting]\nrule_files = [{:?}]\nevaluation_interval_secs = {}\n",
        files[0], opts.interval_secs
    );
    let mut argus = Server::start_argus_with(&opts.argus, work_dir, Some(&config))?;
    argus.wait_ready(&http)?;
    eprintln!("Argus: ingesting {} requests …", ds.batches.len());
    let ing = crate::tsdb::ingest::run(&argus, &ds, opts.clients, false)?;
    if ing.failed > 0 {
        bail!(
            "Argus: {} ingest requests failed, first: {}",
            ing.failed,
            ing.first_error.unwrap_or_default()
        );
    }
    let months = crate::tsdb::months(ds.spec.start_ms(), end_ms);
    let flush = argus.flush(&http, &months)?;
    let argus_load = format!(
        "`/write` of {} samples in {:.1} s, then {} ({:.1} s)",
        ds.samples, ing.seconds, flush.note, flush.seconds
    );
    drop(ds);

    eprintln!("Prometheus: promtool create-blocks-from openmetrics …");
    let extra = Extra {
        global_extra: format!("  evaluation_interval: {}s\n", opts.interval_secs),
        config: format!("rule_files:\n  - {}\n", files[1]),
        args: vec!["--web.enable-remote-write-receiver".into()],
    };
    let (mut prom, promtool_s) = Prom::start_with(
        &opts.prometheus,
        &opts.promtool,
        Some(&om_path),
        work_dir,
        &extra,
    )?;
    prom.wait_ready(&http)?;
    let _ = std::fs::remove_file(&om_path);
    let prom_load = format!(
        "`promtool tsdb create-blocks-from openmetrics` in {promtool_s:.1} s ({} block(s)), then started on them",
        prom.blocks()
    );

    let peers = [
        Peer {
            name: "Argus",
            base: argus.base.clone(),
            token: argus.token(),
            pid: argus.pid(),
        },
        Peer {
            name: "Prometheus",
            base: prom.base.clone(),
            token: None,
            pid: prom.pid(),
        },
    ];
    let targets = peers
        .iter()
        .map(|p| live::Target {
            name: p.name,
            url: format!("{}/api/v1/write", p.base),
            token: p.token.map(str::to_string),
        })
        .collect();
    eprintln!("live writing: catching up from the history's end …");
    let writer = live::Writer::start(live, targets, opts.lead_ms)?;

    // Every group of both has run once (neither skipped a group nor fails to start).
    eprintln!("waiting for every group to run once on both …");
    let limit_s = opts.interval_secs as u64 * 6 + 60;
    let deadline = Instant::now() + Duration::from_secs(limit_s);
    loop {
        let mut ready = true;
        for p in &peers {
            let s = p.rules(&http)?;
            if s.groups.len() != opts.groups {
                bail!(
                    "{} lists {} groups, not {}",
                    p.name,
                    s.groups.len(),
                    opts.groups
                );
            }
            ready &= s.groups.iter().all(|g| g.last_ns.is_some());
        }
        if ready {
            break;
        }
        if Instant::now() > deadline {
            bail!("not every group was evaluated on both within {limit_s} s");
        }
        std::thread::sleep(Duration::from_secs(1));
    }

    // The rounds, numbered per system from its first offset: each system is polled a
    // second before its next round starts, after the one before ended (when it took under
    // 14 s), and while the other system is between rounds when both take under 6 s.
    let now_ns = probe::now_ms() * 1_000_000;
    let first_round: Vec<i64> = first_offsets
        .iter()
        .map(|off| (now_ns - off).div_euclid(interval_ns) + 1 + opts.warmup)
        .collect();
    let last_round: Vec<i64> = first_round.iter().map(|f| f + opts.rounds - 1).collect();
    let poll_at = |i: usize, k: i64| (k + 1) * interval_ns + first_offsets[i] - 1_000_000_000;
    // (when, system, round): from the round before the first (CPU starts there) to one
    // after the last (with spread offsets, the last round's later groups).
    let mut polls: Vec<(i64, usize, i64)> = (0..peers.len())
        .flat_map(|i| {
            ((first_round[i] - 1)..=(last_round[i] + 1)).map(move |k| (poll_at(i, k), i, k))
        })
        .collect();
    polls.sort_unstable();
    let end_ns = polls.last().map_or(now_ns, |p| p.0);
    eprintln!(
        "warm-up, then {} rounds measured on each (about {} s)",
        opts.rounds,
        (end_ns - now_ns) / 1_000_000_000
    );
    let sampling = Arc::new(AtomicBool::new(true));
    let mut collected: Vec<rounds::Collected> = peers.iter().map(|_| Default::default()).collect();
    let mut cpu: Vec<Vec<u64>> = vec![Vec::new(); peers.len()];
    let mut last: Vec<rounds::Snapshot> = vec![Default::default(); peers.len()];
    let mut agree = (0usize, 0usize, 0f64);
    let pids: Vec<u32> = peers.iter().map(|p| p.pid).collect();
    let flag = sampling.clone();
    let sampler = std::thread::spawn(move || {
        let mut max = vec![0u64; pids.len()];
        while flag.load(Ordering::Relaxed) {
            for (m, pid) in max.iter_mut().zip(&pids) {
                if let Some(s) = procfs::status(*pid) {
                    *m = (*m).max(s.rss);
                }
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        max
    });
    let mut poll_error = None;
    for (at, i, k) in polls {
        let wait_ns = at - probe::now_ms() * 1_000_000;
        if wait_ns > 0 {
            std::thread::sleep(Duration::from_nanos(wait_ns as u64));
        }
        let p = &peers[i];
        // CPU at the polls that open and close the measured rounds.
        if (k == first_round[i] - 1 || k == last_round[i])
            && let Some(st) = procfs::stat(p.pid)
        {
            cpu[i].push(st.ticks());
        }
        match p.rules(&http) {
            Ok(s) => {
                collected[i].add(&s);
                last[i] = s;
            }
            Err(e) => {
                poll_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
        if p.name == "Prometheus"
            && let Ok(m) = p.get(&http, "/metrics")
        {
            let by_group = rounds::prom_last_durations(&String::from_utf8_lossy(&m));
            for g in &last[i].groups {
                if let Some(v) = by_group.get(&g.name) {
                    agree.1 += 1;
                    // The same float, printed by two formatters: equal to 1e-9 s.
                    let d = (v - g.secs).abs();
                    if d <= 1e-9 {
                        agree.0 += 1;
                    }
                    agree.2 = agree.2.max(d);
                }
            }
        }
        eprintln!("{}: polled after round {k}", p.name);
    }
    sampling.store(false, Ordering::Relaxed);
    let rss_max = sampler.join().unwrap_or_default();
    speed.prom_metrics_agree = agree;
    if let Ok(m) = peers[1].get(&http, "/metrics") {
        let text = String::from_utf8_lossy(&m);
        speed.prom_missed_failed = (
            metric_total(&text, "prometheus_rule_group_iterations_missed_total"),
            metric_total(&text, "prometheus_rule_evaluation_failures_total"),
        );
    }

    // Each system's recorded series over its measured rounds, against the other system's
    // answer to the rule's expression at the same times.
    let window_s = (opts.rounds + 2) * opts.interval_secs;
    let at_s = end_ns as f64 / 1e9;
    for (metric, id, expr) in checks {
        let mut c = Check {
            metric: metric.clone(),
            rule_id: id.clone(),
            expr: expr.clone(),
            dirs: Default::default(),
        };
        for (r, dir) in c.dirs.iter_mut().enumerate() {
            if let Err(e) = cross_check(
                &http,
                &peers[r],
                &peers[1 - r],
                (&metric, &id, &expr),
                window_s,
                at_s,
                dir,
            ) {
                dir.error = Some(format!("{e:#}"));
            }
        }
        speed.checks.push(c);
    }

    let writer_stats = writer.finish();
    let hz = procfs::clock_ticks().0 as f64;
    let names = [("Argus", argus_load), ("Prometheus", prom_load)];
    for (i, (name, load)) in names.into_iter().enumerate() {
        let evals = collected[i].evals();
        let rss_hwm = procfs::status(peers[i].pid).map_or(0, |s| s.hwm);
        let mut sys = System {
            name,
            load,
            rounds: rounds::rounds(
                &evals,
                &offsets[i],
                interval_ns,
                first_round[i],
                last_round[i],
            ),
            cpu_per_round_s: match cpu[i].as_slice() {
                [a, b] => Some((b - a) as f64 / hz / opts.rounds as f64),
                _ => None,
            },
            rss_max: rss_max.get(i).copied().unwrap_or(0),
            rss_hwm,
            file: last[i]
                .groups
                .first()
                .map(|g| g.file.clone())
                .unwrap_or_default(),
            last: std::mem::take(&mut last[i]),
            errors: Vec::new(),
        };
        if let Some(e) = &poll_error {
            sys.errors.push(e.clone());
        }
        for r in &sys.rounds {
            eprintln!(
                "{name} round {}: {} groups, span {:.3} s, work {:.3} s, lag {:.3} s",
                r.index, r.groups, r.span_s, r.work_s, r.max_lag_s
            );
        }
        speed.systems.push(sys);
    }
    match writer_stats {
        Ok(s) => {
            for (t, sent) in peers.iter().zip(&s.per_target) {
                if sent.failed > 0 {
                    speed.errors.push(format!(
                        "live writes to {} failed {} times, first: {}",
                        t.name,
                        sent.failed,
                        sent.first_error.clone().unwrap_or_default()
                    ));
                }
            }
            speed.writer = Some(s);
        }
        Err(e) => speed.errors.push(format!("live writer: {e:#}")),
    }
    drop(peers);
    let stopped = argus.stop()?;
    if !stopped.starts_with("stopped") {
        speed.errors.push(format!("argus: {stopped}"));
    }
    drop(prom);
    Ok(())
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    reqwest::Url::parse_with_params("http://x/", pairs)
        .ok()
        .and_then(|u| u.query().map(str::to_string))
        .unwrap_or_default()
}

/// Sum of a metric's values over its label sets, in Prometheus text.
fn metric_total(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Labels of a result series without `__name__` and `rule_id` (what a recording rule
/// adds), as one comparable key.
type Key = Vec<(String, String)>;

/// An instant-query answer (vector or matrix) as key → points (ms, value).
fn parse_result(body: &[u8]) -> anyhow::Result<BTreeMap<Key, Vec<(i64, f64)>>> {
    let v: serde_json::Value = serde_json::from_slice(body).context("answer is not JSON")?;
    if v["status"] != "success" {
        bail!(
            "answer status is not success: {}",
            crate::system::truncate(&v.to_string(), 300)
        );
    }
    let result = v["data"]["result"]
        .as_array()
        .context("answer without data.result")?;
    let point = |p: &serde_json::Value| -> anyhow::Result<(i64, f64)> {
        let ts = p[0].as_f64().context("point without a timestamp")?;
        let v = p[1]
            .as_str()
            .context("point without a value")?
            .parse::<f64>()
            .context("point value is not a number")?;
        Ok(((ts * 1000.0).round() as i64, v))
    };
    let mut out = BTreeMap::new();
    for s in result {
        let mut key: Key = s["metric"]
            .as_object()
            .context("series without metric")?
            .iter()
            .filter(|(k, _)| *k != "__name__" && *k != "rule_id")
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        key.sort();
        let points = match (s["values"].as_array(), s.get("value")) {
            (Some(values), _) => values.iter().map(point).collect::<anyhow::Result<_>>()?,
            (None, Some(p)) => vec![point(p)?],
            (None, None) => bail!("series without value(s)"),
        };
        if out.insert(key, points).is_some() {
            bail!("a series appears twice in the answer");
        }
    }
    Ok(out)
}

/// `recorder`'s series of the rule over the window, against `other`'s answer to the
/// rule's expression at each recorded timestamp.
fn cross_check(
    http: &Client,
    recorder: &Peer<'_>,
    other: &Peer<'_>,
    (metric, id, expr): (&str, &str, &str),
    window_s: i64,
    at_s: f64,
    d: &mut Direction,
) -> anyhow::Result<()> {
    let q = format!("{{__name__=\"{metric}\",rule_id=\"{id}\"}}[{window_s}s]");
    let url = format!(
        "/api/v1/query?{}",
        form_encode(&[("query", &q), ("time", &format!("{at_s:.3}"))])
    );
    let recorded = parse_result(&recorder.get(http, &url)?)?;
    d.series = recorded.len();
    let mut by_ts: BTreeMap<i64, BTreeMap<&Key, f64>> = BTreeMap::new();
    for (key, points) in &recorded {
        for &(ts, v) in points {
            by_ts.entry(ts).or_default().insert(key, v);
        }
    }
    d.timestamps = by_ts.len();
    for (ts, want) in &by_ts {
        let url = format!(
            "/api/v1/query?{}",
            form_encode(&[
                ("query", expr),
                (
                    "time",
                    &format!("{}.{:03}", ts.div_euclid(1000), ts.rem_euclid(1000))
                )
            ])
        );
        let got = parse_result(&other.get(http, &url)?)?;
        d.unmatched += got.keys().filter(|k| !want.contains_key(k)).count();
        for (key, &va) in want {
            let Some(vb) = got.get(*key).and_then(|p| p.first()).map(|p| p.1) else {
                d.unmatched += 1;
                continue;
            };
            d.compared += 1;
            let rel = if va == vb || (va.is_nan() && vb.is_nan()) {
                0.0
            } else {
                let r = (va - vb).abs() / va.abs().max(vb.abs());
                if r.is_nan() { 1.0 } else { r }
            };
            if rel > d.max_rel {
                d.max_rel = rel;
                d.example = Some(format!(
                    "{key:?} at {ts}: {} recorded {va}, {} answers {vb}",
                    recorder.name, other.name
                ));
            }
        }
    }
    Ok(())
}
