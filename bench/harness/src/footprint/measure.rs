//! One **measured run** of one agent: start it, let it work for the run's length while its
//! resident memory is sampled every second, then take the final reading — peak RSS
//! (`VmHWM`) and CPU time (`utime + stime`, and its waited-for children's) of the agent and
//! every process below it — while it still runs, and only then stop it.

use super::agents::{Driver, Shipped};
use super::cgroup::CpuGroup;
use super::procfs::{self, Breakdown, Rollup, Status};
use crate::system::log_tail;
use anyhow::bail;
use std::path::Path;
use std::time::{Duration, Instant};

/// Everything read about one agent in one run.
#[derive(Clone, Debug, Default)]
pub struct Measurement {
    /// From the start of the process to the final reading.
    pub seconds: f64,
    /// `VmHWM` of the agent plus that of each process below it at the end.
    pub peak_rss: u64,
    /// Median of the per-second samples of `VmRSS` (summed over the process tree).
    pub median_rss: u64,
    pub rss_samples: usize,
    pub cpu_seconds: f64,
    /// Where `cpu_seconds` comes from: the agent's own control group (exact), or
    /// `/proc/<pid>/stat` in clock ticks where no group could be made.
    pub cpu_source: String,
    /// CPU seconds by the first RSS sample (1 s): start-up and the first collection, which
    /// all three agents make at once.
    pub first_second_cpu: f64,
    /// Most processes seen below the agent at once.
    pub children: usize,
    /// The agent's own `/proc/<pid>/status` at the end (not its children's).
    pub status: Status,
    pub rollup: Option<Rollup>,
    pub breakdown: Option<Breakdown>,
    pub thread_names: Vec<(String, usize)>,
    pub shipped: Shipped,
    /// Why the run does not count (empty: it counts).
    pub problems: Vec<String>,
    pub stop: String,
}

impl Measurement {
    pub fn valid(&self) -> bool {
        self.problems.is_empty()
    }

    /// CPU time as a share of one core over the run, in percent.
    pub fn cpu_percent(&self) -> f64 {
        if self.seconds > 0.0 {
            100.0 * self.cpu_seconds / self.seconds
        } else {
            0.0
        }
    }
}

const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Runs the agent that `driver` starts for `length`, measuring it; `clk_tck` converts
/// `/proc/<pid>/stat` times to seconds.
pub fn run(
    driver: &mut dyn Driver,
    root: &Path,
    name: &str,
    length: Duration,
    clk_tck: u64,
) -> anyhow::Result<Measurement> {
    let log = root.join(format!("{}.log", name.replace(' ', "-")));
    let mut child = driver.spawn(&log)?;
    let started = Instant::now();
    let pid = child.id();
    let group = CpuGroup::join(name, pid);
    let cpu_now = |tree: &[u32]| match group.as_ref().and_then(CpuGroup::seconds) {
        Some(s) => s,
        None => tree_ticks(tree) as f64 / clk_tck as f64,
    };
    let mut rss_samples: Vec<u64> = Vec::new();
    let mut children = 0;
    let mut first_second_cpu = None;
    let mut next_sample = SAMPLE_EVERY;
    let outcome = (|| -> anyhow::Result<Measurement> {
        loop {
            let elapsed = started.elapsed();
            if elapsed >= length {
                break;
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "{name} exited after {:.1} s ({status}); log:\n{}",
                    elapsed.as_secs_f64(),
                    log_tail(&log)
                );
            }
            if elapsed >= next_sample {
                let tree = tree(pid);
                children = children.max(tree.len() - 1);
                let rss: u64 = tree
                    .iter()
                    .filter_map(|&p| procfs::status(p))
                    .map(|s| s.rss)
                    .sum();
                if rss > 0 {
                    rss_samples.push(rss);
                }
                if first_second_cpu.is_none() {
                    first_second_cpu = Some(cpu_now(&tree));
                }
                // One sample per second; after a slow scrape, skip rather than catch up.
                while next_sample <= elapsed {
                    next_sample += SAMPLE_EVERY;
                }
            }
            if driver.next_due().is_some_and(|due| elapsed >= due) {
                driver.act(elapsed);
            }
            let wake = [Some(next_sample), driver.next_due(), Some(length)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(length);
            std::thread::sleep(wake.saturating_sub(started.elapsed()));
        }

        // The final reading, the agent still running.
        let seconds = started.elapsed().as_secs_f64();
        let tree = tree(pid);
        children = children.max(tree.len() - 1);
        let cpu_seconds = cpu_now(&tree);
        let Some(status) = procfs::status(pid) else {
            bail!("{name}: /proc/{pid}/status unreadable at the end");
        };
        let peak_rss = status.hwm
            + tree[1..]
                .iter()
                .filter_map(|&p| procfs::status(p))
                .map(|s| s.hwm)
                .sum::<u64>();
        let rollup = procfs::rollup(pid);
        let breakdown = procfs::breakdown(pid);
        let thread_names = procfs::thread_names(pid);
        let (shipped, problems) = driver.finish();
        Ok(Measurement {
            seconds,
            peak_rss,
            median_rss: median_u64(&rss_samples),
            rss_samples: rss_samples.len(),
            cpu_seconds,
            cpu_source: match &group {
                Some(g) => g.source(),
                None => format!("`/proc/<pid>/stat` in ticks of 1/{clk_tck} s"),
            },
            first_second_cpu: first_second_cpu.unwrap_or(0.0),
            children,
            status,
            rollup,
            breakdown,
            thread_names,
            shipped,
            problems,
            stop: String::new(),
        })
    })();
    let stop = stop(&mut child);
    // The agent has exited: its group is empty and can go.
    drop(group);
    let mut m = outcome?;
    m.stop = stop;
    Ok(m)
}

/// The agent and every process below it, the agent first.
fn tree(pid: u32) -> Vec<u32> {
    let mut t = vec![pid];
    t.extend(procfs::descendants(pid, &procfs::all_parents()));
    t
}

/// CPU time of the processes, in clock ticks.
fn tree_ticks(tree: &[u32]) -> u64 {
    tree.iter()
        .filter_map(|&p| procfs::stat(p))
        .map(|s| s.ticks())
        .sum()
}

/// SIGTERM, up to 15 s to exit, then SIGKILL.
fn stop(child: &mut std::process::Child) -> String {
    let started = Instant::now();
    if let Ok(Some(status)) = child.try_wait() {
        return format!("had exited ({status})");
    }
    // `kill` the command: std has no SIGTERM, and this crate takes no unsafe or libc.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    while started.elapsed() < Duration::from_secs(15) {
        if let Ok(Some(status)) = child.try_wait() {
            return format!(
                "stopped by SIGTERM in {:.1} s ({status})",
                started.elapsed().as_secs_f64()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    "did not stop within 15 s of SIGTERM: killed".into()
}

/// The middle value (the mean of the two middle ones for an even count); 0 if empty.
pub fn median_u64(values: &[u64]) -> u64 {
    let mut v = values.to_vec();
    v.sort_unstable();
    match v.len() {
        0 => 0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2,
    }
}

/// As [`median_u64`], for floats.
pub fn median_f64(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median_u64(&[]), 0);
        assert_eq!(median_u64(&[5, 1, 3]), 3);
        assert_eq!(median_u64(&[4, 1, 3, 2]), 2);
        assert_eq!(median_f64(&[0.07, 0.05, 0.06]), 0.06);
        assert_eq!(median_f64(&[1.0, 2.0]), 1.5);
    }
}
