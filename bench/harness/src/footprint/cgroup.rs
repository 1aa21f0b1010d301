//! CPU time in nanoseconds from a control group of its own per agent.
//!
//! `/proc/<pid>/stat` counts CPU time in clock ticks (10 ms here), and the agents spend
//! 20–30 ms over a run: one tick is a third of the answer. The kernel keeps the exact sum
//! per control group (cgroup v1 `cpuacct.usage`, cgroup v2 `cpu.stat` `usage_usec`),
//! including threads that have exited and children below the agent. Needs root and a
//! writable cgroup mount; without one the report says so and falls back to ticks.

use std::path::{Path, PathBuf};

/// A control group holding one agent; removed on drop (once the agent has exited).
pub struct CpuGroup {
    dir: PathBuf,
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    V1,
    V2,
}

/// Where groups can be made: the v1 cpuacct hierarchy, else a cgroup2 mount.
fn roots() -> [(PathBuf, Kind); 3] {
    [
        (PathBuf::from("/sys/fs/cgroup/cpuacct"), Kind::V1),
        (PathBuf::from("/sys/fs/cgroup/unified"), Kind::V2),
        (PathBuf::from("/sys/fs/cgroup"), Kind::V2),
    ]
}

impl CpuGroup {
    /// Makes a group and moves `pid` (all its threads) into it; `None` where that is not
    /// allowed. Call it right after spawning: time spent before the move is not counted.
    pub fn join(name: &str, pid: u32) -> Option<CpuGroup> {
        let leaf = format!("argus-bench-{}-{pid}", name.replace(' ', "-"));
        for (root, kind) in roots() {
            let usage = match kind {
                Kind::V1 => "cpuacct.usage",
                Kind::V2 => "cpu.stat",
            };
            if !root.join(usage).exists() && !root.join("cgroup.procs").exists() {
                continue;
            }
            let dir = root.join(&leaf);
            if std::fs::create_dir(&dir).is_err() {
                continue;
            }
            let group = CpuGroup { dir, kind };
            if std::fs::write(group.dir.join("cgroup.procs"), pid.to_string()).is_ok()
                && group.seconds().is_some()
            {
                return Some(group);
            }
            // Dropping removes the directory again.
        }
        None
    }

    /// CPU seconds spent by the group's processes so far.
    pub fn seconds(&self) -> Option<f64> {
        match self.kind {
            Kind::V1 => {
                let ns: u64 = read(&self.dir.join("cpuacct.usage"))?.trim().parse().ok()?;
                Some(ns as f64 / 1e9)
            }
            Kind::V2 => {
                let stat = read(&self.dir.join("cpu.stat"))?;
                let us: u64 = stat
                    .lines()
                    .find_map(|l| l.strip_prefix("usage_usec "))?
                    .trim()
                    .parse()
                    .ok()?;
                Some(us as f64 / 1e6)
            }
        }
    }

    /// Names the source for the report.
    pub fn source(&self) -> String {
        match self.kind {
            Kind::V1 => format!("cgroup v1 `{}/cpuacct.usage` (ns)", self.dir.display()),
            Kind::V2 => format!(
                "cgroup v2 `{}/cpu.stat` usage_usec (µs)",
                self.dir.display()
            ),
        }
    }
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

impl Drop for CpuGroup {
    fn drop(&mut self) {
        // Fails while a process is still in it; the agent has been stopped by now.
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_of_a_group_grows_with_work_where_groups_can_be_made() {
        let mut child = match std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
            .spawn()
        {
            Ok(c) => c,
            Err(e) => panic!("sh: {e}"),
        };
        let group = CpuGroup::join("unit-test", child.id());
        let _ = child.wait();
        // Not root or no writable cgroup mount: the report falls back to ticks.
        if let Some(g) = group {
            // 200 000 shell iterations take well over 10 ms of CPU.
            let s = g.seconds().unwrap_or(-1.0);
            assert!(s > 0.01, "{}: {s}", g.source());
        }
    }
}
