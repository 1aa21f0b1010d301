//! The `mem` input: physical memory use, in bytes, from `/proc/meminfo`.
//!
//! **Used** memory follows Telegraf (through gopsutil), so that its dashboards carry over:
//! `used = total - free - buffered - cached`, where `cached` is the page cache plus the
//! reclaimable slab (`Cached + SReclaimable`). This is what `free(1)` printed as "used"
//! before procps 4.0; note that `used + available` is not `total`, since `available` is
//! the kernel's own estimate (`MemAvailable`) of what could be handed out without swapping.

use std::path::PathBuf;

use argus_core::line_protocol::Line;

use super::procfile::{ParseError, ProcFile, parse_u64};
use super::{Field, float, percent, point, uint};
use crate::input::Input;
use crate::inputs::common::input_config;

/// The documented `[agent.inputs.mem]` table, every option at its default.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

input_config! {
    /// `[agent.inputs.mem]`.
    table Config {
        /// Where procfs is mounted; point it at the host's `/proc` when running in a container.
        procfs_root: PathBuf = super::default_procfs_root(),
    }
}

/// The `/proc/meminfo` keys this input reads, in field order after the computed ones.
/// Each maps to a field reported as-is (kB × 1024, or a plain count for the huge page
/// counts) when the running kernel has the key; the first four are read for the computed
/// fields.
const KEYS: &[(&str, &str)] = &[
    ("MemTotal", "total"),
    ("MemFree", "free"),
    ("MemAvailable", "available"),
    ("Cached", "cached"),
    ("Buffers", "buffered"),
    ("Active", "active"),
    ("Inactive", "inactive"),
    ("Dirty", "dirty"),
    ("Writeback", "write_back"),
    ("WritebackTmp", "write_back_tmp"),
    ("Shmem", "shared"),
    ("Slab", "slab"),
    ("SReclaimable", "sreclaimable"),
    ("SUnreclaim", "sunreclaim"),
    ("Mapped", "mapped"),
    ("PageTables", "page_tables"),
    ("CommitLimit", "commit_limit"),
    ("Committed_AS", "committed_as"),
    ("SwapCached", "swap_cached"),
    ("SwapTotal", "swap_total"),
    ("SwapFree", "swap_free"),
    ("VmallocTotal", "vmalloc_total"),
    ("VmallocUsed", "vmalloc_used"),
    ("VmallocChunk", "vmalloc_chunk"),
    ("HugePages_Total", "huge_pages_total"),
    ("HugePages_Free", "huge_pages_free"),
    ("Hugepagesize", "huge_page_size"),
    ("HighTotal", "high_total"),
    ("HighFree", "high_free"),
    ("LowTotal", "low_total"),
    ("LowFree", "low_free"),
];
/// Where the computed fields' inputs sit in [`KEYS`].
const TOTAL: usize = 0;
const FREE: usize = 1;
const AVAILABLE: usize = 2;
const CACHED: usize = 3;
const BUFFERS: usize = 4;
const SRECLAIMABLE: usize = 12;
/// Entries before this one are emitted as computed fields, not as-is.
const FIRST_AS_IS: usize = 5;

/// The `mem` input; see the module docs.
#[derive(Debug)]
pub struct Mem {
    meminfo: ProcFile,
    values: Vec<Option<u64>>,
}

impl Mem {
    /// Builds the input.
    pub(crate) fn new(config: &Config) -> anyhow::Result<Self> {
        Ok(Mem {
            meminfo: ProcFile::new(&config.procfs_root, "meminfo"),
            values: vec![None; KEYS.len()],
        })
    }
}

impl Input for Mem {
    fn name(&self) -> &str {
        "mem"
    }

    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
        let values = &mut self.values;
        self.meminfo
            .parse(|text| parse_meminfo(text, KEYS, values))?;
        let fields = fields(&self.values).map_err(|e| self.meminfo.error(e))?;
        out.push(point("mem", Vec::new(), fields, now_ms));
        Ok(())
    }
}

/// The `mem` fields from values parsed for [`KEYS`].
fn fields(values: &[Option<u64>]) -> Result<Vec<Field>, ParseError> {
    let require =
        |i: usize| values[i].ok_or_else(|| ParseError::new(0, format!("no {} line", KEYS[i].0)));
    let total = require(TOTAL)?;
    let free = require(FREE)?;
    let buffered = require(BUFFERS)?;
    let cached = require(CACHED)?.saturating_add(values[SRECLAIMABLE].unwrap_or(0));
    // Kernels before 3.14 lack MemAvailable; gopsutil then estimates it like this.
    let available = values[AVAILABLE].unwrap_or(free.saturating_add(cached));
    let used = total.saturating_sub(free.saturating_add(buffered).saturating_add(cached));

    let mut fields = Vec::with_capacity(KEYS.len() + 4);
    fields.extend([
        uint("total", total),
        uint("available", available),
        uint("used", used),
        uint("free", free),
        uint("cached", cached),
        uint("buffered", buffered),
        float("used_percent", percent(used, total)),
        float("available_percent", percent(available, total)),
    ]);
    for (&(_, field), value) in KEYS.iter().zip(values).skip(FIRST_AS_IS) {
        if let Some(value) = value {
            fields.push(uint(field, *value));
        }
    }
    Ok(fields)
}

/// Parses `Key:   value kB` lines (the format of `/proc/meminfo`) into `values`, one slot
/// per entry of `keys`; keys absent from the text are `None`, other lines are ignored.
/// Values in kB are returned in bytes, unitless ones (page counts) as they are.
pub(crate) fn parse_meminfo(
    text: &str,
    keys: &[(&str, &str)],
    values: &mut [Option<u64>],
) -> Result<(), ParseError> {
    values.iter_mut().for_each(|v| *v = None);
    for (i, line) in text.lines().enumerate() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let Some(slot) = keys.iter().position(|(k, _)| *k == key) else {
            continue;
        };
        let mut cols = rest.split_whitespace();
        let number = parse_u64(cols.next().unwrap_or(""), i + 1, key)?;
        values[slot] = Some(match cols.next() {
            None => number,
            Some("kB") => number
                .checked_mul(1024)
                .ok_or_else(|| ParseError::new(i + 1, format!("{key}: too large")))?,
            Some(unit) => {
                return Err(ParseError::new(
                    i + 1,
                    format!("{key}: unknown unit {unit:?}"),
                ));
            }
        });
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests;
