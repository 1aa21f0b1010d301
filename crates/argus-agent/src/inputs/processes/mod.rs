//! The `processes` input: how many processes there are in each scheduler state.
//!
//! The input lists the numeric directories of `/proc` and reads each `/proc/<pid>/stat`
//! for the process's **state** letter (`R` running, `S` sleeping, `D` uninterruptible
//! disk sleep, …) and its thread count. A process that exits between the listing and the
//! read is simply not counted. The counts are of processes (thread group leaders), as in
//! Telegraf; `total_threads` adds up their threads.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use argus_core::line_protocol::Line;

use super::{point, uint};
use crate::input::Input;
use crate::inputs::common::input_config;

/// The documented `[agent.inputs.processes]` table, every option at its default.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

input_config! {
    /// `[agent.inputs.processes]`.
    table Config {
        /// Where procfs is mounted; point it at the host's `/proc` when running in a
        /// container (with the host's PID namespace) to count the host's processes.
        procfs_root: PathBuf = super::default_procfs_root(),
    }
}

/// Processes per state, in field order.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Counts {
    total: u64,
    running: u64,
    sleeping: u64,
    blocked: u64,
    zombies: u64,
    stopped: u64,
    dead: u64,
    idle: u64,
    paging: u64,
    parked: u64,
    unknown: u64,
    total_threads: u64,
}

impl Counts {
    fn add(&mut self, state: u8, threads: u64) {
        let slot = match state {
            b'R' => &mut self.running,
            b'S' => &mut self.sleeping,
            b'D' => &mut self.blocked,
            b'Z' => &mut self.zombies,
            b'T' | b't' => &mut self.stopped,
            b'X' | b'x' => &mut self.dead,
            b'I' => &mut self.idle,
            b'W' => &mut self.paging,
            b'P' => &mut self.parked,
            _ => &mut self.unknown,
        };
        *slot += 1;
        self.total += 1;
        self.total_threads = self.total_threads.saturating_add(threads);
    }
}

/// The `processes` input; see the module docs.
#[derive(Debug)]
pub struct Processes {
    root: PathBuf,
    /// `<root>/<pid>/stat`, rebuilt in place for each process.
    path: PathBuf,
    buf: Vec<u8>,
}

impl Processes {
    /// Builds the input.
    pub(crate) fn new(config: &Config) -> anyhow::Result<Self> {
        Ok(Processes {
            root: config.procfs_root.clone(),
            path: config.procfs_root.clone(),
            buf: vec![0; 512],
        })
    }

    fn scan(&mut self) -> io::Result<Counts> {
        let mut counts = Counts::default();
        let entries = std::fs::read_dir(&self.root)?;
        for entry in entries {
            // An entry that vanished while listing is as good as not listed.
            let Ok(entry) = entry else { continue };
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            self.path.push(pid);
            self.path.push("stat");
            let read = read_stat(&self.path, &mut self.buf);
            self.path.pop();
            self.path.pop();
            // ENOENT or ESRCH: the process exited since the listing.
            let Ok(len) = read else { continue };
            if let Some((state, threads)) = parse_stat(&self.buf[..len]) {
                counts.add(state, threads);
            }
        }
        Ok(counts)
    }
}

impl Input for Processes {
    fn name(&self) -> &str {
        "processes"
    }

    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
        let c = self
            .scan()
            .map_err(|e| anyhow::anyhow!("listing {}: {e}", self.root.display()))?;
        let fields = vec![
            uint("total", c.total),
            uint("running", c.running),
            uint("sleeping", c.sleeping),
            uint("blocked", c.blocked),
            uint("zombies", c.zombies),
            uint("stopped", c.stopped),
            uint("dead", c.dead),
            uint("idle", c.idle),
            uint("paging", c.paging),
            uint("parked", c.parked),
            uint("unknown", c.unknown),
            uint("total_threads", c.total_threads),
        ];
        out.push(point("processes", Vec::new(), fields, now_ms));
        Ok(())
    }
}

/// Reads a `/proc/<pid>/stat` into `buf`, returning its length. The kernel writes the
/// whole line in one `read` when it fits, so this stops at the newline instead of
/// reading again for EOF: one syscall fewer per process.
fn read_stat(path: &Path, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut file = std::fs::File::open(path)?;
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => return Ok(len),
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if buf[..len].ends_with(b"\n") {
            return Ok(len);
        }
    }
}

/// The state letter and thread count of a `/proc/<pid>/stat` line:
/// `pid (comm) state ppid … num_threads …`. The command name may contain spaces, `)` and
/// bytes that are not UTF-8, so the line is handled as bytes and the fields are counted
/// from the last `)`. `None` for a truncated line (a process torn down mid-read).
fn parse_stat(stat: &[u8]) -> Option<(u8, u64)> {
    let end_of_comm = stat.iter().rposition(|&b| b == b')')?;
    let mut cols = stat[end_of_comm + 1..]
        .split(|b| b.is_ascii_whitespace())
        .filter(|col| !col.is_empty());
    let state = *cols.next()?.first()?;
    // After the state: ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
    // utime stime cutime cstime priority nice, then num_threads (field 20 of proc(5)).
    let threads = std::str::from_utf8(cols.nth(16)?).ok()?.parse().ok()?;
    Some((state, threads))
}

#[cfg(test)]
pub(super) mod tests;
