//! The markdown report of `argus-bench pipeline`.

use super::{Options, SetupResult, median, percentile};
use crate::output::{command_version, git_commit};
use crate::probe::{Machine, Utc};
use std::fmt::Write;

fn thousands(x: f64) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let s = format!("{:.0}", x);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 && c != '-' {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The Debian package's binary prints an empty `-version`: ask dpkg then.
fn vm_version(bin: &std::path::Path) -> String {
    let v = command_version(bin, "-version");
    if v != "unknown" {
        return v;
    }
    std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "victoria-metrics"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .map_or_else(|| "unknown".into(), |v| format!("{v} (dpkg)"))
}

pub fn render(
    opts: &Options,
    machine: &Machine,
    started_ms: i64,
    results: &[SetupResult],
) -> String {
    let when = Utc::from_ms(started_ms);
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# Ingest pipeline: direct, embedded queue, NATS, {}\n",
        when.date()
    );
    let _ = writeln!(o, "- Date: {}", when.date_time());
    let args: Vec<String> = std::env::args().collect();
    let _ = writeln!(o, "- Command: `{}`", args.join(" "));
    let _ = writeln!(o, "- Machine: {machine}");
    let _ = writeln!(
        o,
        "- Argus: `{}` ({}, commit {}); VictoriaMetrics: `{}` (Debian package, defaults, `-retentionPeriod=100y`); nats-server: `{}` (`-js`)",
        command_version(&opts.servers.argus, "version"),
        opts.servers.argus.display(),
        git_commit(),
        vm_version(&opts.servers.vm),
        command_version(&opts.nats, "--version"),
    );
    let _ = writeln!(
        o,
        "- Every process is on this machine, started fresh for each run; the machine is shared with other jobs, so the figures are medians and noisy.\n"
    );
    let _ = writeln!(o, "## Setups\n");
    for r in results {
        let _ = writeln!(o, "- **{}**", r.setup.name());
    }
    let _ = writeln!(
        o,
        "\nA sample is *stored* once the handlers applied its body (`argus_pipeline_processed_entries_total`) and VictoriaMetrics made it searchable (`/internal/force_flush`); *direct* has no handlers. Every run's samples are then counted in storage.\n"
    );

    if !opts.no_throughput {
        let points = (opts.body_samples / opts.series).max(1);
        let _ = writeln!(
            o,
            "## Throughput\n\n{} samples per run: {} series × {} points per body ({} samples, line protocol, `POST /write?precision=ms`), {} concurrent clients with keep-alive; median of {} runs.\n",
            thousands(opts.samples as f64),
            opts.series,
            points,
            thousands((points * opts.series) as f64),
            opts.clients,
            opts.runs
        );
        let _ = writeln!(
            o,
            "| setup | accepted, samples/s | stored, samples/s | stored / direct | runs (stored samples/s) | counted in storage |"
        );
        let _ = writeln!(o, "| --- | ---: | ---: | ---: | --- | --- |");
        let direct = results
            .iter()
            .find(|r| r.setup == super::Setup::Direct)
            .map(|r| {
                median(
                    &r.throughput
                        .iter()
                        .map(|t| t.samples as f64 / t.stored_secs)
                        .collect::<Vec<_>>(),
                )
            });
        for r in results {
            let acc: Vec<f64> = r
                .throughput
                .iter()
                .map(|t| t.samples as f64 / t.accepted_secs)
                .collect();
            let sto: Vec<f64> = r
                .throughput
                .iter()
                .map(|t| t.samples as f64 / t.stored_secs)
                .collect();
            let counted = if r.throughput.is_empty() {
                "—".to_string()
            } else if r
                .throughput
                .iter()
                .all(|t| t.counted == Some(t.samples as u64))
            {
                "all, every run".to_string()
            } else {
                r.throughput
                    .iter()
                    .map(|t| {
                        format!(
                            "{} of {}",
                            t.counted.map_or("?".into(), |c| thousands(c as f64)),
                            thousands(t.samples as f64)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let ratio = direct
                .filter(|d| d.is_finite() && *d > 0.0)
                .map_or("—".into(), |d| format!("{:.2}", median(&sto) / d));
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} |",
                r.setup.name(),
                thousands(median(&acc)),
                thousands(median(&sto)),
                ratio,
                sto.iter()
                    .map(|x| thousands(*x))
                    .collect::<Vec<_>>()
                    .join(", "),
                counted
            );
        }
        let _ = writeln!(o);
    }

    if !opts.no_latency {
        let points = (opts.latency_body_samples / opts.series).max(1);
        let per_body = points * opts.series + 1;
        let _ = writeln!(
            o,
            "## Push → queryable latency at {} samples/s\n\nOne client pushes a body of {} samples ({} series × {} points and one probe sample) every {:.0} ms for {} s. A prober asks the query API for `bench_probe_v[10m]` every {} ms (through argus's `/api/v1/query`; *direct*: VictoriaMetrics's own) and notes when each body's probe first shows; latency is that moment minus the start of the body's `POST`. Target: p99 < 1 s.\n",
            thousands(opts.rate as f64),
            thousands(per_body as f64),
            opts.series,
            points,
            per_body as f64 / opts.rate.max(1) as f64 * 1000.0,
            opts.seconds,
            opts.poll_ms
        );
        let _ = writeln!(
            o,
            "| setup | pushed, samples/s | bodies seen | p50, ms | p99, ms | max, ms | p99 < 1 s | POST answered p50 / p99, ms |"
        );
        let _ = writeln!(o, "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |");
        for r in results {
            let Some(l) = &r.latency else {
                let _ = writeln!(
                    o,
                    "| {} | — | — | — | — | — | not measured | — |",
                    r.setup.name()
                );
                continue;
            };
            let p99 = percentile(&l.visible_ms, 99.0);
            let met = if l.seen == l.bodies && p99 < 1000.0 {
                "**met**"
            } else {
                "**missed**"
            };
            let _ = writeln!(
                o,
                "| {} | {} | {} of {} | {:.0} | {:.0} | {:.0} | {} | {:.1} / {:.1} |",
                r.setup.name(),
                thousands(l.achieved_rate),
                l.seen,
                l.bodies,
                percentile(&l.visible_ms, 50.0),
                p99,
                l.visible_ms.last().copied().unwrap_or(f64::NAN),
                met,
                percentile(&l.ack_ms, 50.0),
                percentile(&l.ack_ms, 99.0),
            );
        }
        let _ = writeln!(o);
    }

    let errors: Vec<String> = results
        .iter()
        .flat_map(|r| {
            r.errors
                .iter()
                .map(move |e| format!("- {}: {e}", r.setup.name()))
        })
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(o, "## Errors\n\n{}\n", errors.join("\n"));
    }
    o
}
