//! **Alert latency** with `for: 0`: from a sample's arrival (its write answered 2xx) to the
//! webhook call naming its alert. Argus (rules and notifier in one process) and, side by
//! side, Prometheus with a real Alertmanager, both given the same rule file, the same
//! route (`group_by: [host]`, `group_wait: 0s`, `group_interval: 1s`) and the same
//! webhook receiver of the benchmark's own.
//!
//! Each event is a new host: `cpu_hot{host="evt-NNNN"} 1`, written (remote write, now's
//! timestamp) to both systems at a random moment; its alert `Hot` fires at the next
//! evaluation after it arrived and is sent at once. Target: p99 within one evaluation
//! interval plus 1 s.

use super::hook::Hook;
use super::live::{Target, post};
use crate::query::prom::{Extra, Prom};
use crate::rng::Rng;
use crate::system::Server;
use anyhow::{Context, bail};
use argus_core::{Labels, Sample, TimeSeries};
use argus_testkit::alertmanager::Alertmanager;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

pub const RULE_FILE: &str = "groups:
  - name: hot
    interval: INTERVALs
    rules:
      - alert: Hot
        expr: cpu_hot > 0
        for: 0s
        labels:
          severity: page
        annotations:
          summary: '{{ $labels.host }} is hot'
";

/// The route of both notifiers (Argus's `notifier_file`, Alertmanager's config).
pub fn route(webhook: &str) -> String {
    format!(
        "route:
  receiver: hook
  group_by: [host]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: hook
    webhook_configs:
      - url: {webhook}
        send_resolved: false
"
    )
}

/// Latencies of one system, ms, in event order (None: never delivered).
pub struct Measured {
    pub name: &'static str,
    pub ms: Vec<Option<f64>>,
    pub write_failures: usize,
    pub first_error: Option<String>,
    /// Webhook requests received in all, and those not naming an event's host.
    pub webhook_requests: usize,
}

impl Measured {
    pub fn sorted(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self.ms.iter().flatten().copied().collect();
        v.sort_by(f64::total_cmp);
        v
    }

    pub fn missing(&self) -> usize {
        self.ms.iter().filter(|m| m.is_none()).count()
    }
}

pub struct Setup<'a> {
    pub argus: &'a Path,
    pub prometheus: &'a Path,
    pub promtool: &'a Path,
    pub work_dir: &'a Path,
    pub interval_secs: i64,
    pub events: usize,
    pub mean_gap_ms: u64,
    pub seed: u64,
    pub with_prometheus: bool,
}

/// Starts the systems, sends the events, waits for their webhooks, stops everything.
pub fn run(s: &Setup<'_>) -> anyhow::Result<Vec<Measured>> {
    let hook = Hook::start()?;
    let dir = tempfile::Builder::new()
        .prefix("argus-bench-latency-")
        .tempdir_in(s.work_dir)?;
    let rules_path = dir.path().join("hot.yml");
    std::fs::write(
        &rules_path,
        RULE_FILE.replace("INTERVAL", &s.interval_secs.to_string()),
    )?;
    let notifier_path = dir.path().join("notifier.yml");
    std::fs::write(&notifier_path, route(&hook.url("/argus")))?;
    let http = crate::tsdb::query::client()?;

    let config = format!(
        "[alerting]\nrule_files = [{:?}]\nevaluation_interval_secs = {}\nnotifier_file = {:?}\n",
        rules_path.display().to_string(),
        s.interval_secs,
        notifier_path.display().to_string()
    );
    let mut argus = Server::start_argus_with(s.argus, s.work_dir, Some(&config))?;
    argus.wait_ready(&http)?;
    let mut targets = vec![Target {
        name: "Argus",
        url: format!("{}/api/v1/write", argus.base),
        token: argus.token().map(str::to_string),
    }];

    let mut peers = None;
    if s.with_prometheus {
        let am = Alertmanager::start(&route(&hook.url("/prometheus")))
            .map_err(anyhow::Error::msg)
            .context("Alertmanager (apt-get install prometheus-alertmanager)")?;
        let am_target = am.url().trim_start_matches("http://").to_string();
        let extra = Extra {
            global_extra: format!("  evaluation_interval: {}s\n", s.interval_secs),
            config: format!(
                "rule_files:\n  - {}\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{am_target}']\n",
                rules_path.display()
            ),
            args: vec!["--web.enable-remote-write-receiver".into()],
        };
        let (mut prom, _) = Prom::start_with(s.prometheus, s.promtool, None, s.work_dir, &extra)?;
        prom.wait_ready(&http)?;
        targets.push(Target {
            name: "Prometheus + Alertmanager",
            url: format!("{}/api/v1/write", prom.base),
            token: None,
        });
        peers = Some((prom, am));
    }

    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut rng = Rng::new(s.seed ^ 0x0048_6f74);
    let run_id = crate::probe::now_ms() % 100_000;
    // Per event, per target: when the write was answered 2xx.
    let mut arrived: Vec<Vec<Option<Instant>>> = Vec::new();
    let mut failures = vec![(0usize, None::<String>); targets.len()];
    eprintln!(
        "latency: {} events, a mean {} ms apart, to {}",
        s.events,
        s.mean_gap_ms,
        targets
            .iter()
            .map(|t| t.name)
            .collect::<Vec<_>>()
            .join(" and ")
    );
    for i in 0..s.events {
        // Random moments: uniform gaps with the asked mean, so events land anywhere in
        // the evaluation interval.
        std::thread::sleep(Duration::from_millis(rng.below(2 * s.mean_gap_ms + 1)));
        let host = format!("evt-{run_id}-{i:04}");
        let body = argus_core::remote_write::compress(&argus_core::remote_write::from_series(&[
            TimeSeries {
                labels: Labels::from_pairs([
                    ("__name__".to_string(), "cpu_hot".to_string()),
                    ("host".to_string(), host),
                ]),
                samples: vec![Sample {
                    ts: crate::probe::now_ms(),
                    value: 1.0,
                }],
            },
        ]));
        let mut row = vec![None; targets.len()];
        // Alternate which system is written first.
        for k in 0..targets.len() {
            let t = (i + k) % targets.len();
            match post(&client, &targets[t], &body) {
                Ok(()) => row[t] = Some(Instant::now()),
                Err(e) => {
                    failures[t].0 += 1;
                    failures[t].1.get_or_insert_with(|| format!("{e:#}"));
                }
            }
        }
        arrived.push(row);
    }

    // Wait until every event's webhook came, or an interval and a half plus 30 s passed.
    let deadline = Instant::now() + Duration::from_millis(s.interval_secs as u64 * 1500 + 30_000);
    let paths: Vec<&str> = if s.with_prometheus {
        vec!["/argus", "/prometheus"]
    } else {
        vec!["/argus"]
    };
    let mut first: Vec<BTreeMap<String, Instant>>;
    loop {
        first = paths
            .iter()
            .map(|p| first_firing(&hook, p, &format!("evt-{run_id}-")))
            .collect();
        let done = first.iter().all(|m| m.len() >= s.events);
        if done || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let deliveries = hook.deliveries();
    let mut out = Vec::new();
    for (t, target) in targets.iter().enumerate() {
        let ms = (0..s.events)
            .map(|i| {
                let host = format!("evt-{run_id}-{i:04}");
                let sent = arrived[i][t]?;
                let got = first[t].get(&host)?;
                Some(got.saturating_duration_since(sent).as_secs_f64() * 1000.0)
            })
            .collect();
        out.push(Measured {
            name: target.name,
            ms,
            write_failures: failures[t].0,
            first_error: failures[t].1.clone(),
            webhook_requests: deliveries.iter().filter(|d| d.path == paths[t]).count(),
        });
    }
    let stopped = argus.stop()?;
    if !stopped.starts_with("stopped") {
        bail!("argus: {stopped}");
    }
    drop(peers);
    Ok(out)
}

/// Per host (of this run's events), when the first webhook naming it as firing arrived at
/// `path`.
fn first_firing(hook: &Hook, path: &str, prefix: &str) -> BTreeMap<String, Instant> {
    let mut out = BTreeMap::new();
    for d in hook.deliveries().into_iter().filter(|d| d.path == path) {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&d.body) else {
            continue;
        };
        for a in v["alerts"].as_array().map_or(&[][..], Vec::as_slice) {
            if a["status"] != "firing" {
                continue;
            }
            if let Some(h) = a["labels"]["host"]
                .as_str()
                .filter(|h| h.starts_with(prefix))
            {
                out.entry(h.to_string()).or_insert(d.at);
            }
        }
    }
    out
}
