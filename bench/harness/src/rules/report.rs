//! The markdown report of `argus-bench rules`: the targets first, then each round, the
//! answers compared, the load, and the alert latency.

use super::latency::Measured;
use super::{Options, Speed, TARGET_LATENCY_EXTRA_S, TARGET_RATIO, TARGET_ROUND_S};
use crate::pipeline::percentile;
use crate::probe::{Machine, Utc};
use std::fmt::Write as _;

pub struct Versions {
    pub argus: String,
    pub argus_commit: String,
    pub prometheus: String,
    pub alertmanager: String,
}

fn mib(b: u64) -> String {
    format!("{:.0} MiB", b as f64 / (1u64 << 20) as f64)
}

fn secs(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "—".into()
    }
}

fn verdict(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "**met**",
        Some(false) => "**missed**",
        None => "not measured",
    }
}

pub fn render(
    opts: &Options,
    machine: &Machine,
    started_ms: i64,
    v: &Versions,
    speed: &Speed,
    latency: Option<&Result<Vec<Measured>, String>>,
) -> String {
    let when = Utc::from_ms(started_ms);
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# Rule evaluation: Argus vs Prometheus, {}\n",
        when.date()
    );
    let _ = writeln!(o, "- Date: {}", when.date_time());
    let args: Vec<String> = std::env::args().collect();
    let _ = writeln!(o, "- Command: `{}`", args.join(" "));
    let _ = writeln!(
        o,
        "- Machine: {machine}; shared with other jobs, so the figures are noisy"
    );
    let _ = writeln!(
        o,
        "- Argus: `{}` (commit {}); Prometheus: `{}`; Alertmanager: `{}`",
        v.argus, v.argus_commit, v.prometheus, v.alertmanager
    );
    let g = opts.groups;

    if !opts.latency_only {
        let _ = writeln!(o, "- Data: {}", speed.data);
        if let Some(rf) = &speed.rule_file {
            let _ = writeln!(
                o,
                "- Rules: one file, {} groups × {} = {} rules ({} recording, {} alerting), every {} s; scopes: {} one host, {} ten hosts, {} a datacenter, {} the fleet. Group offsets within the interval: Argus's copy {:.1} to {:.1} ms, Prometheus's {:.1} to {:.1} ms ({}). `promtool check rules`: {}",
                opts.groups,
                opts.rules_per_group,
                rf.recording + rf.alerting,
                rf.recording,
                rf.alerting,
                opts.interval_secs,
                rf.per_scope[0],
                rf.per_scope[1],
                rf.per_scope[2],
                rf.per_scope[3],
                rf.offsets_ms[0].0,
                rf.offsets_ms[0].1,
                rf.offsets_ms[1].0,
                rf.offsets_ms[1].1,
                if opts.spread {
                    "natural names: spread"
                } else {
                    "names chosen so that each system's groups are all due at once, the two systems half an interval apart"
                },
                speed.promtool
            );
        }
        for s in &speed.systems {
            let _ = writeln!(
                o,
                "- {} loading: {}; rule file named `{}`",
                s.name, s.load, s.file
            );
        }
        if let Some(w) = &speed.writer {
            let _ = writeln!(
                o,
                "- Live samples: {} to catch up from the history's end, then {} over {:.0} s ({:.0}/s), one remote-write body per second sent to both, {} ms ahead of the samples' timestamps; slowest write: {}",
                w.catch_up_samples,
                w.live_samples,
                w.live_seconds,
                w.live_samples as f64 / w.live_seconds.max(1e-9),
                opts.lead_ms,
                w.per_target
                    .iter()
                    .zip(["Argus", "Prometheus"])
                    .map(|(t, n)| format!(
                        "{n} {:.0} ms ({} requests, {} failed)",
                        t.max_ms, t.requests, t.failed
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }

        let _ = writeln!(o, "\n## Round time\n");
        let _ = writeln!(
            o,
            "A round is one evaluation of every group. *Wall span*: from the first group's start to the last group's end (`lastEvaluation` + `evaluationTime` from `GET /api/v1/rules`). *Work*: the sum of the groups' `evaluationTime`. Both evaluate groups concurrently (Argus one worker per core, Prometheus a goroutine per group), so groups overlap and the work (the sum) counts their waits on each other too. The wall span is the round's time on both, and the target and the ratio are judged on it: median over {} measured rounds (each round's span must be under {TARGET_ROUND_S} s). *CPU/round*: the process's CPU seconds over the measured rounds (`/proc/<pid>/stat`), divided by the rounds; it includes taking in the live samples and answering the polls.\n",
            opts.rounds
        );
        let _ = writeln!(
            o,
            "| system | complete rounds | wall span, median s | wall span, max s | work, median s | CPU/round, s | RSS max while measured | VmHWM | rules ok / err / never | alerts listed |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|");
        for s in &speed.systems {
            let complete = s.rounds.iter().filter(|r| r.groups == g).count();
            let _ = writeln!(
                o,
                "| {} | {complete} of {} | {} | {} | {} | {} | {} | {} | {} / {} / {} | {} |",
                s.name,
                s.rounds.len(),
                secs(s.median_span(g)),
                secs(s.max_span(g)),
                secs(s.median_work(g)),
                s.cpu_per_round_s.map_or("—".into(), secs),
                mib(s.rss_max),
                mib(s.rss_hwm),
                s.last.health[0],
                s.last.health[1],
                s.last.health[2],
                s.last.alerts
            );
        }
        if let [a, p] = &speed.systems[..] {
            let span_ratio = a.median_span(g) / p.median_span(g);
            let measured = a.measured(g) && p.measured(g);
            let _ = writeln!(
                o,
                "\n| target | figure | verdict |\n|---|---|---|\n| every round under {TARGET_ROUND_S} s (Argus's wall span) | max {} s, median {} s | {} |\n| at most {TARGET_RATIO}× Prometheus's round time (median wall spans) | {:.2}× ({} / {} s) | {} |",
                secs(a.max_span(g)),
                secs(a.median_span(g)),
                verdict(a.measured(g).then(|| a.max_span(g) < TARGET_ROUND_S)),
                span_ratio,
                secs(a.median_span(g)),
                secs(p.median_span(g)),
                verdict(measured.then_some(span_ratio <= TARGET_RATIO))
            );
            let _ = writeln!(
                o,
                "\nFor the record, not judged: work (median sums of group durations) Argus {} s, Prometheus {} s (its groups overlap, each counting the others' time); CPU per round {}.",
                secs(a.median_work(g)),
                secs(p.median_work(g)),
                match (a.cpu_per_round_s, p.cpu_per_round_s) {
                    (Some(x), Some(y)) => format!("{:.2}× ({} / {} s)", x / y, secs(x), secs(y)),
                    _ => "not measured".into(),
                }
            );
        }
        let _ = writeln!(o, "\n### Each round\n");
        let _ = writeln!(
            o,
            "| round | system | groups | wall span, s | work, s | latest group start after its slot, s |"
        );
        let _ = writeln!(o, "|---:|---|---:|---:|---:|---:|");
        for s in &speed.systems {
            for r in &s.rounds {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} | {} |",
                    r.index,
                    s.name,
                    r.groups,
                    secs(r.span_s),
                    secs(r.work_s),
                    secs(r.max_lag_s)
                );
            }
        }
        let (eq, n, max) = speed.prom_metrics_agree;
        let _ = writeln!(
            o,
            "\nPrometheus's `prometheus_rule_group_last_duration_seconds` (its `/metrics`, read right after each poll of the API) equalled the API's `evaluationTime` (within 1e-9 s) for {eq} of {n} group readings (largest difference {max:.2e} s). Its counters at the end: `prometheus_rule_group_iterations_missed_total` {}, `prometheus_rule_evaluation_failures_total` {}.",
            speed.prom_missed_failed.0, speed.prom_missed_failed.1
        );

        let _ = writeln!(o, "\n## Recorded series checked\n");
        let _ = writeln!(
            o,
            "One recording rule per template and scope kind. Each system's recorded series over its measured rounds (`{{__name__=\"…\",rule_id=\"…\"}}[window]`) against the other system's answer to the rule's expression (`/api/v1/query` at each recorded timestamp): both hold the same samples, and the live samples are sent ahead of their timestamps, so an evaluation at time t and a later query at t see the same data. Equal: every recorded point has a counterpart and none is extra, values within 1e-9 relative.\n"
        );
        let _ = writeln!(
            o,
            "| rule | expr | Argus recorded / Prometheus asked: series, evaluations, points, unmatched, max rel. diff | Prometheus recorded / Argus asked | equal |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|");
        let dir = |d: &super::Direction| match &d.error {
            Some(_) => "failed".to_string(),
            None => format!(
                "{}, {}, {}, {}, {:.1e}",
                d.series, d.timestamps, d.compared, d.unmatched, d.max_rel
            ),
        };
        for c in &speed.checks {
            let _ = writeln!(
                o,
                "| `{}` {} | `{}` | {} | {} | {} |",
                c.metric,
                c.rule_id,
                c.expr.replace('|', "\\|"),
                dir(&c.dirs[0]),
                dir(&c.dirs[1]),
                if c.same() { "yes" } else { "**no**" }
            );
        }
        for c in speed.checks.iter().filter(|c| !c.same()) {
            for d in c.dirs.iter().filter(|d| !d.same()) {
                let _ = writeln!(
                    o,
                    "- `{}` {}: {}",
                    c.metric,
                    c.rule_id,
                    d.error
                        .clone()
                        .or_else(|| d.example.clone())
                        .unwrap_or_else(|| "no point compared, or points unmatched".into())
                );
            }
        }
        for s in &speed.systems {
            if let Some(e) = &s.last.first_error {
                let _ = writeln!(
                    o,
                    "- {} rule in error: {}",
                    s.name,
                    crate::output::one_line(e)
                );
            }
        }
    }

    if let Some(l) = latency {
        let target = opts.interval_secs as f64 + TARGET_LATENCY_EXTRA_S;
        let _ = writeln!(o, "\n## Alert latency, `for: 0`\n");
        let _ = writeln!(
            o,
            "Rule `Hot: cpu_hot > 0`, `for: 0s`, interval {} s; route `group_by: [host]`, `group_wait: 0s`, `group_interval: 1s`, to the benchmark's webhook receiver. Each event writes `cpu_hot{{host=\"evt-…\"}} 1` (remote write, the current time) to both at a random moment (uniform gaps, mean {} ms); latency: from the write's 2xx to the first webhook request naming the host as firing. Argus runs rules and notifier in one process; the peer is Prometheus sending to a real Alertmanager. Fresh servers holding only these series. Target: p99 ≤ interval + {TARGET_LATENCY_EXTRA_S} s = {target} s.\n",
            opts.interval_secs, opts.event_gap_ms
        );
        match l {
            Err(e) => {
                let _ = writeln!(o, "Not measured: {}", crate::output::one_line(e));
            }
            Ok(ms) => {
                let _ = writeln!(
                    o,
                    "| system | events | delivered | p50, s | p99, s | max, s | webhook requests | write failures | p99 ≤ {target} s |"
                );
                let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|---:|---|");
                for m in ms {
                    let v = m.sorted();
                    let p = |q: f64| percentile(&v, q) / 1000.0;
                    let ok = (m.missing() == 0 && !v.is_empty()).then(|| p(99.0) <= target);
                    let _ = writeln!(
                        o,
                        "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                        m.name,
                        m.ms.len(),
                        v.len(),
                        secs(p(50.0)),
                        secs(p(99.0)),
                        secs(p(100.0)),
                        m.webhook_requests,
                        m.write_failures,
                        verdict(ok)
                    );
                }
                for m in ms {
                    if let Some(e) = &m.first_error {
                        let _ = writeln!(
                            o,
                            "- {} write error: {}",
                            m.name,
                            crate::output::one_line(e)
                        );
                    }
                }
            }
        }
    }

    let errors: Vec<String> = speed
        .errors
        .iter()
        .cloned()
        .chain(
            speed
                .systems
                .iter()
                .flat_map(|s| s.errors.iter().map(move |e| format!("{}: {e}", s.name))),
        )
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(o, "\n## Errors\n");
        for e in errors {
            let _ = writeln!(o, "- {}", crate::output::one_line(&e));
        }
    }
    o
}
