//! The **footprint** benchmark: what a host agent costs the host it watches. The Argus
//! agent, prometheus-node-exporter and collectd each collect the same host metrics every
//! interval for the same time, one after the other, each really shipping what it collects;
//! the benchmark reads each one's peak RSS, median RSS and CPU seconds from `/proc`. How to
//! run it and what is fair about it: `bench/footprint.md`.

mod agents;
mod cgroup;
mod collectd;
mod measure;
pub mod procfs;
mod proxy;
mod report;

use crate::probe::{self, Utc};
use agents::{Agent, Driver, Setup};
use anyhow::Context as _;
use measure::Measurement;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Options of `argus-bench footprint`.
#[derive(clap::Args, Debug)]
pub struct Options {
    /// How long each agent runs, in seconds.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Seconds between two collections (node_exporter: between two scrapes).
    #[arg(long, default_value_t = 10)]
    pub interval: u64,
    /// Runs of all agents; the report gives the median of each figure and every run.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Where to write the markdown report [default: bench/results/<UTC date>-footprint.md].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The Argus binary the agent runs from: the agent-only build
    /// (`cargo build --profile agent -p argus --no-default-features`) or the full one.
    #[arg(long, default_value = "target/agent/argus")]
    pub argus: PathBuf,
    /// The Argus binary the sink server runs from (must have the server).
    #[arg(long, default_value = "target/release/argus")]
    pub argus_server: PathBuf,
    /// The node_exporter binary (`apt-get install prometheus-node-exporter`).
    #[arg(long, default_value = "/usr/bin/prometheus-node-exporter")]
    pub node_exporter: PathBuf,
    /// The collectd binary (`apt-get install collectd-core`).
    #[arg(long, default_value = "/usr/sbin/collectd")]
    pub collectd: PathBuf,
    /// collectd's plugin directory.
    #[arg(long, default_value = "/usr/lib/collectd")]
    pub collectd_plugins: PathBuf,
    /// Parent directory of the agents' temporary directories [default: $TMPDIR or /tmp].
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Measures one agent only (no comparison, no targets).
    #[arg(long, value_enum)]
    pub only: Option<Agent>,
    /// `KEY=VALUE` set in the Argus agent's environment, for experiments such as
    /// `MALLOC_ARENA_MAX=1` or `TOKIO_WORKER_THREADS=1` (repeatable; the report names them).
    #[arg(long = "argus-env", value_name = "KEY=VALUE")]
    pub argus_env: Vec<String>,
}

/// The targets, from the issue.
pub const TARGET_PEAK_RSS_BYTES: u64 = 8_000_000;

/// One agent's outcome in one run.
pub type Outcome = (Agent, Result<Measurement, String>);

/// Runs the benchmark; the report goes to stdout and the `--out` file, progress to stderr.
/// Returns the exit code: 0, or 1 if some run of some agent could not be measured or
/// delivered nothing. Whether the targets are met is in the report, not in the code.
pub fn run(opts: &Options) -> anyhow::Result<u8> {
    // reqwest is built without a default TLS provider; plain HTTP only, but it wants one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    if opts.seconds == 0 || opts.interval == 0 || opts.runs == 0 {
        anyhow::bail!("--seconds, --interval and --runs must be above zero");
    }
    let argus_env = opts
        .argus_env
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("--argus-env {kv:?} is not KEY=VALUE"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let started_ms = probe::now_ms();
    let machine = probe::machine();
    let clk_tck = procfs::clock_ticks();
    let agents: Vec<Agent> = match opts.only {
        Some(a) => vec![a],
        None => Agent::ALL.to_vec(),
    };
    let work_dir = crate::output::work_dir(opts.work_dir.as_deref())?;
    let versions: Vec<(Agent, String)> = agents.iter().map(|&a| (a, version(a, opts))).collect();

    // Argus runs from copies: a build during the benchmark must not change the binary
    // between runs, and the sink server runs from a copy of its own so that the agent's
    // resident pages of the program file count only what the agent touched (and read
    // around), not pages the server brought into the page cache.
    let bin_dir = tempfile::Builder::new()
        .prefix("argus-bench-footprint-bin-")
        .tempdir_in(&work_dir)?;
    let argus_bin = bin_dir.path().join("argus");
    let sink_bin = bin_dir.path().join("argus-sink");
    if agents.contains(&Agent::Argus) {
        for (from, copy) in [(&opts.argus, &argus_bin), (&opts.argus_server, &sink_bin)] {
            std::fs::copy(from, copy).with_context(|| format!("cannot copy {}", from.display()))?;
        }
    }

    let mut runs: Vec<Vec<Outcome>> = Vec::new();
    for r in 1..=opts.runs {
        let mut outcomes = Vec::new();
        for &agent in &agents {
            eprintln!(
                "── run {r}/{}: {} for {} s ──",
                opts.runs,
                agent.name(),
                opts.seconds
            );
            let bins = Bins {
                argus: &argus_bin,
                sink: &sink_bin,
            };
            let m = run_one(agent, opts, &work_dir, &bins, &argus_env, clk_tck.0);
            match &m {
                Ok(m) => eprintln!(
                    "{}: peak RSS {:.2} MiB, median RSS {:.2} MiB, {:.2} CPU-s; shipped {} bytes, {} samples{}",
                    agent.name(),
                    m.peak_rss as f64 / 1_048_576.0,
                    m.median_rss as f64 / 1_048_576.0,
                    m.cpu_seconds,
                    m.shipped.bytes,
                    m.shipped.samples,
                    if m.valid() {
                        String::new()
                    } else {
                        format!("; INVALID: {}", m.problems.join("; "))
                    }
                ),
                Err(e) => eprintln!("{}: FAILED: {e}", agent.name()),
            }
            outcomes.push((agent, m));
            // A short pause, so that one agent's exit does not overlap the next one's start.
            std::thread::sleep(Duration::from_secs(2));
        }
        runs.push(outcomes);
    }

    let ctx = report::Context {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        started: Utc::from_ms(started_ms),
        finished: Utc::from_ms(probe::now_ms()),
        load_end: probe::machine().load_average,
        machine,
        clk_tck,
        opts,
        argus_env: &argus_env,
        agents: &agents,
        versions: &versions,
        runs: &runs,
    };
    let text = report::render(&ctx);
    crate::output::write_report(opts.out.as_deref(), "footprint", started_ms, &text)?;

    let all_valid = runs
        .iter()
        .flatten()
        .all(|(_, m)| m.as_ref().is_ok_and(Measurement::valid));
    Ok(if all_valid { 0 } else { 1 })
}

/// The copies of the Argus binary: the agent's and the sink server's.
struct Bins<'a> {
    argus: &'a Path,
    sink: &'a Path,
}

/// One agent, one run, in a fresh temporary directory.
fn run_one(
    agent: Agent,
    opts: &Options,
    work_dir: &Path,
    bins: &Bins<'_>,
    argus_env: &[(String, String)],
    clk_tck: u64,
) -> Result<Measurement, String> {
    let root = tempfile::Builder::new()
        .prefix(&format!("argus-bench-footprint-{agent:?}-").to_lowercase())
        .tempdir_in(work_dir)
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let setup = Setup {
        root: root.path(),
        interval_secs: opts.interval,
        seconds: opts.seconds,
    };
    let length = Duration::from_secs(opts.seconds);
    let name = agent.name();
    let prepared: anyhow::Result<Box<dyn Driver>> = match agent {
        Agent::Argus => agents::Argus::prepare(&setup, bins.argus, bins.sink, argus_env)
            .map(|d| Box::new(d) as Box<dyn Driver>),
        Agent::NodeExporter => agents::NodeExporter::prepare(&setup, &opts.node_exporter)
            .map(|d| Box::new(d) as Box<dyn Driver>),
        Agent::Collectd => {
            agents::Collectd::prepare(&setup, &opts.collectd, &opts.collectd_plugins)
                .map(|d| Box::new(d) as Box<dyn Driver>)
        }
    };
    let mut driver = prepared.map_err(|e| format!("{e:#}"))?;
    measure::run(driver.as_mut(), root.path(), name, length, clk_tck).map_err(|e| format!("{e:#}"))
}

/// The first non-empty line a command prints (stdout, else stderr) that `pick` accepts,
/// else its first line.
fn command_line(bin: &Path, args: &[&str], pick: impl Fn(&str) -> bool) -> Option<String> {
    let out = std::process::Command::new(bin).args(args).output().ok()?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .find(|l| pick(l))
        .or(lines.first())
        .map(|l| l.to_string())
}

fn version(agent: Agent, opts: &Options) -> String {
    let v = match agent {
        Agent::Argus => command_line(&opts.argus, &["version"], |_| true),
        Agent::NodeExporter => command_line(&opts.node_exporter, &["--version"], |_| true),
        // `collectd -h` starts with its usage; its version is the line "collectd 5.x …".
        Agent::Collectd => command_line(&opts.collectd, &["-h"], is_collectd_version),
    };
    v.unwrap_or_else(|| "unknown".into())
}

fn is_collectd_version(line: &str) -> bool {
    line.strip_prefix("collectd ")
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collectd_version_line() {
        assert!(is_collectd_version(
            "collectd 5.12.0.git, http://collectd.org/"
        ));
        assert!(!is_collectd_version("Usage: collectd [OPTIONS]"));
        assert!(!is_collectd_version("collectd: unknown option"));
    }
}
