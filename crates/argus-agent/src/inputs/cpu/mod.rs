//! The `cpu` input: how each core (and the machine as a whole) spent the time since the
//! previous gather, in percent.
//!
//! A **share** is one category's jiffies (from the `cpu` lines of `/proc/stat`) divided by
//! all jiffies that elapsed on that core between two gathers. The first gather only takes
//! the baseline, so shares appear from the second gather on; a core (or the machine) on
//! which no jiffy elapsed gets no share either. Guest time is also counted
//! inside user and nice time by the kernel; like Telegraf, `usage_user` and `usage_nice`
//! exclude it and the elapsed total leaves out the two guest columns, so the ten shares
//! add up to 100.

use std::borrow::Cow;
use std::path::PathBuf;

use argus_core::line_protocol::Line;

use super::procfile::{ParseError, ProcFile, parse_u64};
use super::{float, point, tag};
use crate::input::Input;
use crate::inputs::common::input_config;

/// The documented `[agent.inputs.cpu]` table, every option at its default.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

input_config! {
    /// `[agent.inputs.cpu]`.
    table Config {
        /// Report each core as `cpu="cpuN"`.
        percpu: bool = true,
        /// Report the whole machine as `cpu="cpu-total"`.
        totalcpu: bool = true,
        /// Where procfs is mounted; point it at the host's `/proc` when running in a container.
        procfs_root: PathBuf = super::default_procfs_root(),
    }
}

/// Jiffies per category, in `/proc/stat` column order: user, nice, system, idle, iowait,
/// irq, softirq, steal, guest, guest_nice. Columns an old kernel lacks stay 0.
type Times = [u64; 10];

const USER: usize = 0;
const NICE: usize = 1;
const SYSTEM: usize = 2;
const IDLE: usize = 3;
const IOWAIT: usize = 4;
const IRQ: usize = 5;
const SOFTIRQ: usize = 6;
const STEAL: usize = 7;
const GUEST: usize = 8;
const GUEST_NICE: usize = 9;

/// The `cpu` input; see the module docs.
#[derive(Debug)]
pub struct Cpu {
    percpu: bool,
    totalcpu: bool,
    stat: ProcFile,
    /// The machine-wide times of the previous read.
    total: Option<Times>,
    /// Per core, indexed by N of `cpuN`; `None` for a core absent (offline) last time.
    cores: Vec<Option<Times>>,
    /// Scratch for the current read, swapped with `cores` after each gather.
    scratch: Vec<Option<Times>>,
    /// `cpuN` tag values, built once per core.
    names: Vec<String>,
}

impl Cpu {
    /// Builds the input, reading `/proc/stat` once to check it.
    pub(crate) fn new(config: &Config) -> anyhow::Result<Self> {
        if !config.percpu && !config.totalcpu {
            anyhow::bail!(
                "[agent.inputs.cpu]: percpu and totalcpu are both false; set enabled = false instead"
            );
        }
        let mut cpu = Cpu {
            percpu: config.percpu,
            totalcpu: config.totalcpu,
            stat: ProcFile::new(&config.procfs_root, "stat"),
            total: None,
            cores: Vec::new(),
            scratch: Vec::new(),
            names: Vec::new(),
        };
        // A file that cannot be read or parsed fails the start. The reading is not kept
        // as the baseline: the scheduler's first gather follows within milliseconds, and
        // over so short a time one tick that lands on a core makes its share 100 % busy,
        // 0 % idle, on an idle machine (issue 14). The first gather takes the baseline.
        cpu.read()?;
        cpu.total = None;
        Ok(cpu)
    }

    /// Reads `/proc/stat` into `self.total` (returning the previous value) and `scratch`.
    fn read(&mut self) -> anyhow::Result<Option<Times>> {
        let mut total = None;
        self.stat.read()?;
        let text = self.stat.text();
        let parsed = parse_stat(text, &mut total, &mut self.scratch);
        parsed.map_err(|e| self.stat.error(e))?;
        let total = total.ok_or_else(|| {
            self.stat
                .error(ParseError::new(0, "no machine-wide \"cpu\" line"))
        })?;
        Ok(self.total.replace(total))
    }

    fn name(&mut self, core: usize) -> String {
        while self.names.len() <= core {
            self.names.push(format!("cpu{}", self.names.len()));
        }
        self.names[core].clone()
    }
}

impl Input for Cpu {
    fn name(&self) -> &str {
        "cpu"
    }

    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
        let previous_total = self.read()?;
        if self.percpu {
            for core in 0..self.scratch.len() {
                let (Some(now), Some(Some(before))) = (self.scratch[core], self.cores.get(core))
                else {
                    continue;
                };
                if let Some(fields) = shares(before, &now) {
                    let name = self.name(core);
                    out.push(point("cpu", vec![tag("cpu", name)], fields, now_ms));
                }
            }
        }
        std::mem::swap(&mut self.cores, &mut self.scratch);
        let total = match (self.totalcpu, previous_total, self.total) {
            (true, Some(before), Some(now)) => shares(&before, &now),
            _ => None,
        };
        if let Some(fields) = total {
            let name = Cow::Borrowed("cpu-total");
            out.push(point("cpu", vec![tag("cpu", name)], fields, now_ms));
        }
        Ok(())
    }
}

/// The ten `usage_*` fields between two reads, or `None` when no time elapsed (an idle
/// tickless core, or a gather within the same jiffy) or the counters went back (a core
/// that was re-plugged).
fn shares(before: &Times, now: &Times) -> Option<Vec<super::Field>> {
    let busy_and_idle = |t: &Times| sum(&t[..GUEST]);
    if busy_and_idle(now) < busy_and_idle(before) {
        return None;
    }
    // A single column may still step back (iowait does, by design); count it as 0.
    let mut d = Times::default();
    for ((slot, n), b) in d.iter_mut().zip(now).zip(before) {
        *slot = n.saturating_sub(*b);
    }
    let elapsed = sum(&d[..GUEST]);
    if elapsed == 0 {
        return None;
    }
    let pct = |jiffies: u64| (100.0 * jiffies as f64 / elapsed as f64).min(100.0);
    Some(vec![
        float("usage_user", pct(d[USER].saturating_sub(d[GUEST]))),
        float("usage_system", pct(d[SYSTEM])),
        float("usage_idle", pct(d[IDLE])),
        float("usage_nice", pct(d[NICE].saturating_sub(d[GUEST_NICE]))),
        float("usage_iowait", pct(d[IOWAIT])),
        float("usage_irq", pct(d[IRQ])),
        float("usage_softirq", pct(d[SOFTIRQ])),
        float("usage_steal", pct(d[STEAL])),
        float("usage_guest", pct(d[GUEST])),
        float("usage_guest_nice", pct(d[GUEST_NICE])),
    ])
}

/// Adds up jiffies without overflowing on a corrupt file.
fn sum(jiffies: &[u64]) -> u64 {
    jiffies.iter().fold(0, |a, b| a.saturating_add(*b))
}

/// Parses the `cpu` lines at the top of `/proc/stat`: the machine-wide one into `total`,
/// each `cpuN` into `cores[N]` (cores not listed, being offline, are `None`).
fn parse_stat(
    text: &str,
    total: &mut Option<Times>,
    cores: &mut Vec<Option<Times>>,
) -> Result<(), ParseError> {
    cores.iter_mut().for_each(|c| *c = None);
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let mut cols = line.split_whitespace();
        let Some(name) = cols.next() else { continue };
        let Some(suffix) = name.strip_prefix("cpu") else {
            // The cpu lines come first; skip the long `intr` line and the rest.
            break;
        };
        let mut times = Times::default();
        for (slot, col) in times.iter_mut().zip(cols) {
            *slot = parse_u64(col, line_no, name)?;
        }
        if suffix.is_empty() {
            *total = Some(times);
        } else {
            let core: usize = suffix
                .parse()
                .map_err(|_| ParseError::new(line_no, format!("unexpected line {name:?}")))?;
            if core >= 65_536 {
                return Err(ParseError::new(
                    line_no,
                    format!("implausible core {name:?}"),
                ));
            }
            if cores.len() <= core {
                cores.resize(core + 1, None);
            }
            cores[core] = Some(times);
        }
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests;
