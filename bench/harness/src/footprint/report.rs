//! The markdown **report**: setup and versions, the medians against the targets, every
//! run, and where each agent's memory was at the end. An invalid or failed run is written
//! loudly and left out of the medians.

use super::agents::Agent;
use super::measure::{Measurement, median_f64, median_u64};
use super::procfs::Class;
use super::{Options, Outcome, TARGET_PEAK_RSS_BYTES};
use crate::output::{int, one_line};
use crate::probe::{Machine, Utc};
use std::fmt::Write as _;

pub struct Context<'a> {
    pub command: String,
    pub started: Utc,
    pub finished: Utc,
    pub machine: Machine,
    pub load_end: String,
    pub clk_tck: (u64, &'static str),
    pub opts: &'a Options,
    pub argus_env: &'a [(String, String)],
    pub agents: &'a [Agent],
    pub versions: &'a [(Agent, String)],
    pub runs: &'a [Vec<Outcome>],
}

impl Context<'_> {
    /// The valid measurements of one agent, in run order.
    fn valid(&self, agent: Agent) -> Vec<&Measurement> {
        self.runs
            .iter()
            .flatten()
            .filter(|(a, _)| *a == agent)
            .filter_map(|(_, m)| m.as_ref().ok())
            .filter(|m| m.valid())
            .collect()
    }
}

/// Medians over the valid runs of one agent.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Medians {
    pub runs: usize,
    pub peak_rss: u64,
    pub median_rss: u64,
    pub cpu_seconds: f64,
    pub cpu_percent: f64,
    pub first_second_cpu: f64,
    pub threads: u64,
    pub bytes: u64,
    pub samples: u64,
}

pub fn medians(ms: &[&Measurement]) -> Medians {
    let u = |f: fn(&Measurement) -> u64| median_u64(&ms.iter().map(|m| f(m)).collect::<Vec<_>>());
    let f = |f: fn(&Measurement) -> f64| median_f64(&ms.iter().map(|m| f(m)).collect::<Vec<_>>());
    Medians {
        runs: ms.len(),
        peak_rss: u(|m| m.peak_rss),
        median_rss: u(|m| m.median_rss),
        cpu_seconds: f(|m| m.cpu_seconds),
        cpu_percent: f(Measurement::cpu_percent),
        first_second_cpu: f(|m| m.first_second_cpu),
        threads: u(|m| m.status.threads),
        bytes: u(|m| m.shipped.bytes),
        samples: u(|m| m.shipped.samples),
    }
}

pub fn render(c: &Context<'_>) -> String {
    let mut s = String::new();
    let m = &c.machine;
    let o = c.opts;
    let _ = writeln!(
        s,
        "# Agent footprint: Argus agent vs node_exporter vs collectd, {}\n",
        c.started.date()
    );
    let _ = writeln!(
        s,
        "- Date: {} → {}",
        c.started.date_time(),
        c.finished.date_time()
    );
    let _ = writeln!(s, "- Command: `{}`", c.command);
    let _ = writeln!(s, "- Machine: {m}, at the end {}", c.load_end);
    for (agent, version) in c.versions {
        let (bin, how) = match agent {
            Agent::Argus => (
                &o.argus,
                "`agent`, default inputs, `api_listen = \"\"`, `remote_config_secs = 0`",
            ),
            Agent::NodeExporter => (&o.node_exporter, "default collectors"),
            Agent::Collectd => (&o.collectd, "the config below"),
        };
        let _ = writeln!(
            s,
            "- {}: `{}` ({}; {how})",
            agent.name(),
            version,
            bin.display()
        );
    }
    if !c.argus_env.is_empty() {
        let env: Vec<String> = c
            .argus_env
            .iter()
            .map(|(k, v)| format!("`{k}={v}`"))
            .collect();
        let _ = writeln!(
            s,
            "- **Experiment**: the Argus agent ran with {} in its environment",
            env.join(", ")
        );
    }
    let _ = writeln!(
        s,
        "- Each agent alone for {} s, one after the other ({}), {} run(s); collection every {} s; CPU time from {} (clock ticks of 1/{} s from {} where no control group could be made)",
        o.seconds,
        c.agents
            .iter()
            .map(|a| a.name())
            .collect::<Vec<_>>()
            .join(", "),
        o.runs,
        o.interval,
        cpu_sources(c),
        c.clk_tck.0,
        c.clk_tck.1
    );

    results(&mut s, c);
    each_run(&mut s, c);
    memory(&mut s, c);
    configs(&mut s, c);
    notes(&mut s, c);
    s
}

fn results(s: &mut String, c: &Context<'_>) {
    let meds: Vec<(Agent, Medians)> = c
        .agents
        .iter()
        .map(|&a| (a, medians(&c.valid(a))))
        .collect();
    let _ = writeln!(s, "\n## Results (median of the valid runs)\n");
    let failed: Vec<String> = c
        .runs
        .iter()
        .enumerate()
        .flat_map(|(i, run)| {
            run.iter().filter_map(move |(a, m)| match m {
                Err(e) => Some(format!("run {}, {}: FAILED: {}", i + 1, a.name(), e)),
                Ok(m) if !m.valid() => Some(format!(
                    "run {}, {}: INVALID: {}",
                    i + 1,
                    a.name(),
                    m.problems.join("; ")
                )),
                Ok(_) => None,
            })
        })
        .collect();
    for f in &failed {
        let _ = writeln!(s, "**{}**\n", one_line(f));
    }
    agents_header(s, meds.iter().map(|(a, _)| *a));
    type Row = (&'static str, fn(&Medians) -> String);
    let rows: [Row; 9] = [
        ("valid runs", |m| m.runs.to_string()),
        ("peak RSS (VmHWM), MiB", |m| {
            format!("{:.2}", mib_f(m.peak_rss))
        }),
        ("median RSS (sampled every 1 s), MiB", |m| {
            format!("{:.2}", mib_f(m.median_rss))
        }),
        ("CPU seconds (user + system)", |m| {
            format!("{:.3}", m.cpu_seconds)
        }),
        (
            "… of which in the first second (start-up, first collection)",
            |m| format!("{:.3}", m.first_second_cpu),
        ),
        ("CPU, % of one core over the run", |m| {
            format!("{:.3}", m.cpu_percent)
        }),
        ("threads at the end", |m| m.threads.to_string()),
        ("shipped: bytes on the wire", |m| int(m.bytes)),
        ("shipped: samples", |m| int(m.samples)),
    ];
    for (label, f) in rows {
        let _ = write!(s, "| {label} |");
        for (_, m) in &meds {
            let v = if m.runs == 0 { "—".to_string() } else { f(m) };
            let _ = write!(s, " {v} |");
        }
        let _ = writeln!(s);
    }

    let get = |agent: Agent| meds.iter().find(|(a, _)| *a == agent).map(|(_, m)| *m);
    let (Some(argus), collectd) = (get(Agent::Argus), get(Agent::Collectd)) else {
        return;
    };
    if argus.runs == 0 {
        let _ = writeln!(s, "\nTargets: not judged, no valid run of the Argus agent.");
        return;
    }
    let _ = writeln!(s, "\n## Targets\n");
    let _ = writeln!(s, "| target | measured (median) | |\n| --- | --- | --- |");
    let worst = c
        .valid(Agent::Argus)
        .iter()
        .map(|m| m.peak_rss)
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        s,
        "| Argus agent peak RSS ≤ 8 MB (8,000,000 bytes = {:.2} MiB) | {} bytes = {:.2} MiB (worst run {:.2} MiB) | **{}** |",
        mib_f(TARGET_PEAK_RSS_BYTES),
        int(argus.peak_rss),
        mib_f(argus.peak_rss),
        mib_f(worst),
        met(argus.peak_rss <= TARGET_PEAK_RSS_BYTES)
    );
    match collectd {
        Some(cd) if cd.runs > 0 => {
            let _ = writeln!(
                s,
                "| Argus agent CPU ≤ collectd's | {:.3} CPU-s vs {:.3} CPU-s ({:.2}×) | **{}** |",
                argus.cpu_seconds,
                cd.cpu_seconds,
                if cd.cpu_seconds > 0.0 {
                    argus.cpu_seconds / cd.cpu_seconds
                } else {
                    f64::INFINITY
                },
                met(argus.cpu_seconds <= cd.cpu_seconds)
            );
        }
        _ => {
            let _ = writeln!(
                s,
                "| Argus agent CPU ≤ collectd's | collectd not measured | not judged |"
            );
        }
    }
}

/// The distinct sources of the CPU figures over all runs, e.g. the control groups' kind.
fn cpu_sources(c: &Context<'_>) -> String {
    let mut kinds: Vec<&str> = c
        .runs
        .iter()
        .flatten()
        .filter_map(|(_, m)| m.as_ref().ok())
        .map(|m| {
            if m.cpu_source.starts_with("cgroup v1") {
                "each agent's own cgroup v1 `cpuacct.usage` (nanoseconds)"
            } else if m.cpu_source.starts_with("cgroup v2") {
                "each agent's own cgroup v2 `cpu.stat` `usage_usec` (microseconds)"
            } else {
                "`/proc/<pid>/stat` (whole clock ticks)"
            }
        })
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    if kinds.is_empty() {
        "no valid run".into()
    } else {
        kinds.join(" and ")
    }
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "missed" }
}

fn each_run(s: &mut String, c: &Context<'_>) {
    let _ = writeln!(s, "\n## Each run\n");
    let _ = writeln!(
        s,
        "| run | agent | peak RSS, MiB | median RSS, MiB | CPU-s | in the first s | CPU % | threads | shipped | |\n\
         | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"
    );
    for (i, run) in c.runs.iter().enumerate() {
        for (agent, m) in run {
            match m {
                Ok(m) => {
                    let _ = writeln!(
                        s,
                        "| {} | {} | {:.2} | {:.2} | {:.3} | {:.3} | {:.3} | {} | {} bytes, {} samples: {} | {} |",
                        i + 1,
                        agent.name(),
                        mib_f(m.peak_rss),
                        mib_f(m.median_rss),
                        m.cpu_seconds,
                        m.first_second_cpu,
                        m.cpu_percent(),
                        m.status.threads,
                        int(m.shipped.bytes),
                        int(m.shipped.samples),
                        m.shipped.detail,
                        if m.valid() {
                            format!(
                                "{:.1} s, {} RSS samples, {} child process(es); {}",
                                m.seconds, m.rss_samples, m.children, m.stop
                            )
                        } else {
                            format!("**INVALID**: {}", one_line(&m.problems.join("; ")))
                        }
                    );
                }
                Err(e) => {
                    let _ = writeln!(
                        s,
                        "| {} | {} | — | — | — | — | — | — | — | **FAILED**: {} |",
                        i + 1,
                        agent.name(),
                        one_line(e)
                    );
                }
            }
        }
    }
}

/// Where each agent's resident memory was at the end of its last valid run.
fn memory(s: &mut String, c: &Context<'_>) {
    let last: Vec<(Agent, &Measurement)> = c
        .agents
        .iter()
        .filter_map(|&a| c.valid(a).last().map(|m| (a, *m)))
        .collect();
    if last.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\n## Where the memory is (end of each agent's last valid run)\n\n\
         Resident memory at the final reading (not at the peak), from `/proc/<pid>/status`, \
         `smaps_rollup` and `smaps`; MiB. The anonymous classes are told apart by the \
         mappings' shape (a heuristic: see the notes).\n"
    );
    agents_header(s, last.iter().map(|(a, _)| *a));
    let row = |s: &mut String, label: &str, f: &dyn Fn(&Measurement) -> String| {
        let _ = write!(s, "| {label} |");
        for (_, m) in &last {
            let _ = write!(s, " {} |", f(m));
        }
        let _ = writeln!(s);
    };
    row(s, "VmRSS", &|m| format!("{:.2}", mib_f(m.status.rss)));
    row(s, "VmHWM (peak)", &|m| {
        format!("{:.2}", mib_f(m.status.hwm))
    });
    row(s, "RssAnon (heap, stacks)", &|m| {
        format!("{:.2}", mib_f(m.status.rss_anon))
    });
    row(s, "RssFile (program, libraries)", &|m| {
        format!("{:.2}", mib_f(m.status.rss_file))
    });
    row(s, "Pss (shared pages divided among their users)", &|m| {
        m.rollup
            .map_or("?".into(), |r| format!("{:.2}", mib_f(r.pss)))
    });
    let classes = [
        Class::ProgramText,
        Class::ProgramData,
        Class::Libraries,
        Class::OtherFiles,
        Class::BrkHeap,
        Class::Arenas,
        Class::ThreadStacks,
        Class::MainStack,
        Class::OtherAnon,
    ];
    for class in classes {
        row(s, &format!("… {}", class.describe()), &|m| {
            let Some(b) = &m.breakdown else {
                return "?".into();
            };
            let rss = b
                .classes
                .iter()
                .find(|(c, _)| *c == class)
                .map_or(0, |(_, v)| *v);
            let n = b.mappings.get(&class).copied().unwrap_or(0);
            if n == 0 {
                "—".into()
            } else {
                format!("{:.2} ({n} maps)", mib_f(rss))
            }
        });
    }
    row(s, "threads, by name", &|m| {
        m.thread_names
            .iter()
            .map(|(n, k)| format!("{k}× `{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    });
}

/// The configuration files as written, temporary paths and ports shown as placeholders.
fn configs(s: &mut String, c: &Context<'_>) {
    let o = c.opts;
    let _ = writeln!(s, "\n## Configurations\n");
    if c.agents.contains(&Agent::Argus) {
        let _ = writeln!(
            s,
            "Argus agent, `agent.toml`:\n\n```toml\n{}```\n",
            super::agents::argus_config(o.interval)
        );
    }
    if c.agents.contains(&Agent::Collectd) {
        let conf = super::collectd::config(
            std::path::Path::new("<tmp>/collectd"),
            &o.collectd_plugins,
            o.interval,
            "<udp port>",
        );
        let _ = writeln!(s, "collectd, `collectd.conf`:\n\n```\n{conf}```");
    }
}

fn notes(s: &mut String, c: &Context<'_>) {
    let o = c.opts;
    let _ = writeln!(s, "\n## How it was measured\n");
    let _ = writeln!(
        s,
        "- Each agent starts in a fresh temporary directory and runs {} s. Its RSS (`VmRSS`, summed \
         over the agent and any process below it) is sampled every second; at {} s, the agent \
         still running, the harness reads `VmHWM` from `/proc/<pid>/status` (peak RSS; plus \
         the children's own peaks, an upper bound — none of the three had children) and \
         its CPU seconds (including start-up), then stops it with SIGTERM. CPU time comes \
         from a control group made for the agent right after it is spawned (`cpuacct.usage`, \
         exact to the nanosecond, counting every thread and child, also exited ones); where \
         no group can be made (not root, no writable cgroup mount) from `utime + stime + \
         cutime + cstime` in `/proc/<pid>/stat`, in whole clock ticks.",
        o.seconds, o.seconds
    );
    let _ = writeln!(
        s,
        "- **Argus agent**: `argus agent --server http://<proxy> --token t --data-dir … --config …` \
         with `interval_secs = {}`, run from a copy of `--argus` made before the first run (a \
         build during the benchmark cannot change it). It ships to a real `argus server` \
         (started before the agent from a second copy, so that the two share no page cache of \
         the program; not measured) through a counting TCP proxy in the harness. Valid only if the server then answers \
         `/api/v1/query?query=system_uptime` with at least one series. Samples: the server's \
         `argus_ingest_samples_total` and bytes sent through the proxy, both as of the final \
         reading (a collection due right at the end is not counted).",
        o.interval
    );
    let _ = writeln!(
        s,
        "- **node_exporter**: `--web.listen-address=127.0.0.1:<port>`, default collectors. It \
         collects when scraped, so the harness scrapes `/metrics` at 0, {i}, 2×{i} … s (as \
         Prometheus would, with `Accept-Encoding: gzip`); valid only if every scrape answered \
         200. Bytes: the answers' bodies as sent; samples: the exposition's sample lines.",
        i = o.interval
    );
    let _ = writeln!(
        s,
        "- **collectd**: `collectd -f -C collectd.conf` with `Interval {}` and the plugins {} \
         (cpu with `ReportByCpu true`, `ValuesPercentage true`) and `network` sending to a UDP \
         socket of the harness; valid only if packets arrived. Samples: the values in the \
         packets' value parts. collectd's `network` plugin sends a packet when its 1452-byte \
         buffer is full, so the last values of a run may still be in its buffer.",
        o.interval,
        super::collectd::PLUGINS.join(", ")
    );
    let _ = writeln!(
        s,
        "- One agent at a time, so that they do not compete for the 2 cores; the machine is \
         shared with other work (see the load averages), hence {} runs and medians. Had CPU \
         time been counted in ticks of 1/{} s, figures of 0.02–0.03 s would be a tick or \
         two: the control group's exact count is what makes them comparable.",
        o.runs, c.clk_tck.0
    );
    let _ = writeln!(
        s,
        "- Memory classes: the program's own file (`/proc/<pid>/exe`), `*.so*` files, other \
         files; among anonymous read-write mappings, those starting on a 64 MiB boundary are \
         counted as malloc arenas (glibc aligns its per-thread arenas so; Go aligns its heap \
         arenas so too) and those of exactly 2 MiB or 8 MiB as thread stacks (Rust's and \
         glibc's default sizes). File-backed pages are resident by the kernel's fault-around \
         (64 KiB around each page fault) as well as by use."
    );
}

fn mib_f(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

/// The head of a table with a column per agent: `| | a | b |` and its right-aligned rule.
fn agents_header(s: &mut String, agents: impl ExactSizeIterator<Item = Agent>) {
    let _ = write!(s, "| |");
    let n = agents.len();
    for a in agents {
        let _ = write!(s, " {} |", a.name());
    }
    let _ = writeln!(s, "\n| --- |{}", " ---: |".repeat(n));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measurement(peak_mib: u64, cpu: f64, valid: bool) -> Measurement {
        Measurement {
            seconds: 60.0,
            peak_rss: peak_mib << 20,
            median_rss: peak_mib << 19,
            cpu_seconds: cpu,
            problems: if valid {
                vec![]
            } else {
                vec!["no data".into()]
            },
            ..Measurement::default()
        }
    }

    #[test]
    fn medians_of_runs() {
        let (a, b, c) = (
            measurement(10, 0.06, true),
            measurement(12, 0.03, true),
            measurement(11, 0.09, true),
        );
        let m = medians(&[&a, &b, &c]);
        assert_eq!(m.runs, 3);
        assert_eq!(m.peak_rss, 11 << 20);
        assert_eq!(m.cpu_seconds, 0.06);
        assert!((m.cpu_percent - 0.1).abs() < 1e-9, "{}", m.cpu_percent);
        assert_eq!(medians(&[]).runs, 0);
    }

    #[test]
    fn formats() {
        assert_eq!(int(1_234_567), "1,234,567");
        assert_eq!(int(999), "999");
        assert_eq!(format!("{:.2}", mib_f(TARGET_PEAK_RSS_BYTES)), "7.63");
    }
}
