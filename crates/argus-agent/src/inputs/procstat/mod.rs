//! The `procstat` input: CPU, memory, threads and open files of selected processes;
//! Telegraf's `procstat`.
//!
//! A **selection** is what an instance watches: processes whose name matches `exe`, whose
//! command line matches `pattern`, that run as `user`, or whose PID is in `pid_file`; when
//! several are set a process must satisfy all of them. Each gather lists `/proc`, reads
//! `/proc/<pid>/stat` (name, CPU ticks), `status` (owner, threads, memory) and, when
//! needed, `cmdline` and `fd/`, and emits one `procstat` point per matching process and
//! one `procstat_lookup` point saying how many matched. `cpu_usage` compares a process's
//! CPU time with the previous gather's, so it appears from the second gather on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use argus_core::line_protocol::Line;
use regex::Regex;

use super::procfile::read_into;
use super::{Field, Tag, float, point, tag, uint};
use crate::input::Input;
use crate::inputs::common::input_config;

/// The commented-out example `[[agent.inputs.procstat]]` table.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

input_config! {
    /// One `[[agent.inputs.procstat]]` table: one selection of processes.
    instance "procstat" Config {
        /// A regular expression matched against the process name (as `pgrep` does); empty:
        /// any name.
        exe: String = String::new(),
        /// A regular expression matched against the whole command line, arguments joined by
        /// spaces (as `pgrep -f` does); empty: any.
        pattern: String = String::new(),
        /// The user name the processes run as (the real user); empty: any.
        user: String = String::new(),
        /// A file holding the PID of the one process to watch; empty: all processes.
        pid_file: PathBuf = PathBuf::new(),
        /// Where procfs is mounted; point it at the host's `/proc` when running in a
        /// container (with the host's PID namespace).
        procfs_root: PathBuf = super::default_procfs_root(),
        /// The user database for user names; the host's when running in a container.
        passwd_path: PathBuf = PathBuf::from("/etc/passwd"),
    }
}

/// `procstat_lookup`'s `result_code`, as Telegraf numbers it.
pub mod result {
    pub const SUCCESS: u64 = 0;
    /// The PID file could not be read, or `/proc` could not be listed.
    pub const LOOKUP_ERROR: u64 = 1;
}

/// CPU ticks of a process at one gather, keyed by PID.
#[derive(Debug, Clone, Copy, PartialEq)]
struct CpuSample {
    /// Tells a reused PID from the process that had it before.
    starttime: u64,
    ticks: u64,
    now_ms: i64,
}

/// The `procstat` input; see the module docs.
#[derive(Debug)]
pub struct Procstat {
    root: PathBuf,
    passwd_path: PathBuf,
    exe: Option<Regex>,
    pattern: Option<Regex>,
    user: Option<String>,
    pid_file: Option<PathBuf>,
    /// `exe`, `pattern`, `user`, `pidfile`: the selection, on every point.
    selection_tags: Vec<Tag>,
    ticks_per_second: f64,
    previous: HashMap<u32, CpuSample>,
    buf: String,
}

/// What one process's files say.
#[derive(Debug, Default, PartialEq)]
struct Process {
    name: String,
    utime: u64,
    stime: u64,
    starttime: u64,
    uid: Option<u32>,
    threads: Option<u64>,
    rss_bytes: Option<u64>,
    vms_bytes: Option<u64>,
}

impl Procstat {
    /// Builds the input; a selection with no criterion or a bad regular
    /// expression is an error.
    pub(crate) fn new(config: &Config) -> anyhow::Result<Self> {
        let regex = |key: &str, text: &str| -> anyhow::Result<Option<Regex>> {
            if text.is_empty() {
                return Ok(None);
            }
            Regex::new(text)
                .map(Some)
                .map_err(|e| anyhow::anyhow!("{key}: {e}"))
        };
        let exe = regex("exe", &config.exe)?;
        let pattern = regex("pattern", &config.pattern)?;
        let user = (!config.user.is_empty()).then(|| config.user.clone());
        let pid_file = (!config.pid_file.as_os_str().is_empty()).then(|| config.pid_file.clone());
        if exe.is_none() && pattern.is_none() && user.is_none() && pid_file.is_none() {
            anyhow::bail!("set at least one of exe, pattern, user and pid_file");
        }
        let mut selection_tags = Vec::new();
        if let Some(path) = &pid_file {
            selection_tags.push(tag("pidfile", path.display().to_string()));
        }
        if exe.is_some() {
            selection_tags.push(tag("exe", config.exe.clone()));
        }
        if pattern.is_some() {
            selection_tags.push(tag("pattern", config.pattern.clone()));
        }
        Ok(Procstat {
            root: config.procfs_root.clone(),
            passwd_path: config.passwd_path.clone(),
            exe,
            pattern,
            user,
            pid_file,
            selection_tags,
            ticks_per_second: procfs::ticks_per_second() as f64,
            previous: HashMap::new(),
            buf: String::new(),
        })
    }

    /// The PIDs to look at, in order: the PID file's, or every process's.
    fn candidates(&mut self) -> Result<Vec<u32>, String> {
        if let Some(path) = &self.pid_file {
            read_into(path, &mut self.buf)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            let pid = self
                .buf
                .split_whitespace()
                .next()
                .and_then(|p| p.parse::<u32>().ok())
                .ok_or_else(|| format!("{}: no PID in the file", path.display()))?;
            return Ok(vec![pid]);
        }
        let entries = std::fs::read_dir(&self.root)
            .map_err(|e| format!("listing {}: {e}", self.root.display()))?;
        let mut pids: Vec<u32> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
            .collect();
        pids.sort_unstable();
        Ok(pids)
    }

    /// Reads a process's files and checks it against the selection; `None` when it does
    /// not match or exited meanwhile.
    fn inspect(&mut self, pid: u32, users: &mut Users) -> Option<(Process, String)> {
        let dir = self.root.join(pid.to_string());
        read_into(&dir.join("stat"), &mut self.buf).ok()?;
        let mut process = parse_stat(&self.buf)?;
        // The kernel keeps 15 bytes of the name; the command line has the rest.
        let needs_cmdline = self.pattern.is_some() || process.name.len() >= 15;
        // A command line that cannot be read is an empty one, as a kernel thread's is.
        let cmdline = if needs_cmdline && read_into(&dir.join("cmdline"), &mut self.buf).is_ok() {
            command_line(&self.buf)
        } else {
            String::new()
        };
        if process.name.len() >= 15 {
            let argv0 = cmdline.split(' ').next().unwrap_or("");
            let base = argv0.rsplit('/').next().unwrap_or("");
            if base.starts_with(&process.name) {
                process.name = base.to_string();
            }
        }
        if let Some(exe) = &self.exe
            && !exe.is_match(&process.name)
        {
            return None;
        }
        if let Some(pattern) = &self.pattern
            && !pattern.is_match(&cmdline)
        {
            return None;
        }
        read_into(&dir.join("status"), &mut self.buf).ok()?;
        parse_status(&self.buf, &mut process);
        let user = process
            .uid
            .map(|uid| users.name(uid, &self.passwd_path))
            .unwrap_or_default();
        if let Some(want) = &self.user
            && *want != user
        {
            return None;
        }
        Some((process, user))
    }
}

impl Input for Procstat {
    fn name(&self) -> &str {
        "procstat"
    }

    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
        let mut lookup_tags = self.selection_tags.clone();
        if let Some(user) = &self.user {
            lookup_tags.push(tag("user", user.clone()));
        }
        let pids = match self.candidates() {
            Ok(pids) => pids,
            Err(e) => {
                tracing::debug!(error = %e, "procstat lookup failed");
                let fields = vec![
                    uint("pid_count", 0),
                    uint("running", 0),
                    uint("result_code", result::LOOKUP_ERROR),
                ];
                out.push(point("procstat_lookup", lookup_tags, fields, now_ms));
                self.previous.clear();
                return Ok(());
            }
        };
        let mut users = Users::default();
        let mut current = HashMap::new();
        let mut count = 0;
        for pid in pids {
            let Some((process, user)) = self.inspect(pid, &mut users) else {
                continue;
            };
            count += 1;
            let ticks = process.utime.saturating_add(process.stime);
            let sample = CpuSample {
                starttime: process.starttime,
                ticks,
                now_ms,
            };
            let mut fields: Vec<Field> = Vec::with_capacity(8);
            if let Some(before) = self.previous.get(&pid)
                && before.starttime == process.starttime
                && now_ms > before.now_ms
                && ticks >= before.ticks
            {
                let cpu_secs = (ticks - before.ticks) as f64 / self.ticks_per_second;
                let wall_secs = now_ms.saturating_sub(before.now_ms) as f64 / 1000.0;
                fields.push(float("cpu_usage", 100.0 * cpu_secs / wall_secs));
            }
            current.insert(pid, sample);
            fields.push(float(
                "cpu_time_user",
                process.utime as f64 / self.ticks_per_second,
            ));
            fields.push(float(
                "cpu_time_system",
                process.stime as f64 / self.ticks_per_second,
            ));
            if let Some(rss) = process.rss_bytes {
                fields.push(uint("memory_rss", rss));
            }
            if let Some(vms) = process.vms_bytes {
                fields.push(uint("memory_vms", vms));
            }
            if let Some(threads) = process.threads {
                fields.push(uint("num_threads", threads));
            }
            // Other users' fd directories need CAP_SYS_PTRACE (or root); without it the
            // field is left out rather than reported as 0.
            let fd_dir = self.root.join(pid.to_string()).join("fd");
            if let Ok(entries) = std::fs::read_dir(fd_dir) {
                fields.push(uint("num_fds", entries.count() as u64));
            }
            let mut tags = self.selection_tags.clone();
            tags.push(tag("process_name", process.name));
            tags.push(tag("pid", pid.to_string()));
            if !user.is_empty() {
                tags.push(tag("user", user));
            }
            out.push(point("procstat", tags, fields, now_ms));
        }
        self.previous = current;
        let fields = vec![
            uint("pid_count", count),
            uint("running", u64::from(count > 0)),
            uint("result_code", result::SUCCESS),
        ];
        out.push(point("procstat_lookup", lookup_tags, fields, now_ms));
        Ok(())
    }
}

/// User names by UID, read from the passwd file at most once per gather and only when a
/// process needs one.
#[derive(Debug, Default)]
struct Users {
    names: Option<HashMap<u32, String>>,
}

impl Users {
    /// The name of `uid`, or the number when the file does not have it.
    fn name(&mut self, uid: u32, passwd: &Path) -> String {
        let names = self.names.get_or_insert_with(|| {
            std::fs::read_to_string(passwd)
                .map(|text| parse_passwd(&text))
                .unwrap_or_default()
        });
        names.get(&uid).cloned().unwrap_or_else(|| uid.to_string())
    }
}

/// `name:password:uid:gid:gecos:home:shell` lines into UID → name; the first entry of a
/// UID wins, as `getpwuid` does.
fn parse_passwd(text: &str) -> HashMap<u32, String> {
    let mut names = HashMap::new();
    for line in text.lines() {
        let mut cols = line.split(':');
        let (Some(name), Some(_), Some(uid)) = (cols.next(), cols.next(), cols.next()) else {
            continue;
        };
        if let Ok(uid) = uid.parse() {
            names.entry(uid).or_insert_with(|| name.to_string());
        }
    }
    names
}

/// Name and CPU ticks from `/proc/<pid>/stat`: `pid (comm) state ppid … utime stime …
/// starttime …`. The name may hold spaces and `)`, so fields are counted from the last
/// `)`. `None` for a truncated line.
fn parse_stat(stat: &str) -> Option<Process> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    let cols: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // After the name: state(0) ppid pgrp session tty_nr tpgid flags minflt cminflt
    // majflt cmajflt utime(11) stime(12) cutime cstime priority nice num_threads
    // itrealvalue starttime(19).
    let number = |i: usize| cols.get(i).and_then(|c| c.parse::<u64>().ok());
    Some(Process {
        name,
        utime: number(11)?,
        stime: number(12)?,
        starttime: number(19)?,
        ..Process::default()
    })
}

/// The owner, thread count and memory from `/proc/<pid>/status`. Kernel threads have no
/// `Vm*` lines; their memory fields stay `None`.
fn parse_status(status: &str, process: &mut Process) {
    for line in status.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let first = value.split_whitespace().next();
        let number = || first.and_then(|v| v.parse::<u64>().ok());
        match key {
            "Uid" => process.uid = first.and_then(|v| v.parse().ok()),
            "Threads" => process.threads = number(),
            "VmRSS" => process.rss_bytes = number().map(|kib| kib.saturating_mul(1024)),
            "VmSize" => process.vms_bytes = number().map(|kib| kib.saturating_mul(1024)),
            _ => {}
        }
    }
}

/// `/proc/<pid>/cmdline` (arguments ending in NUL) as one line, arguments joined by
/// spaces.
fn command_line(raw: &str) -> String {
    raw.trim_end_matches('\0').replace('\0', " ")
}

#[cfg(test)]
pub(super) mod tests;
