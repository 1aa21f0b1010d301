//! The `diskio` input: I/O counters of each block device, from `/proc/diskstats`.
//!
//! A **device** is one line of `/proc/diskstats`: whole disks, their partitions, device
//! mapper and md devices alike, as Telegraf reports them. The counters only grow (until
//! a reboot or a device is re-added); take their `rate()` for throughput, IOPS and
//! utilisation. Loop and RAM disks are left out by default (`ignore_devices`): on hosts
//! with snaps they are dozens of idle series.

use std::path::PathBuf;

use argus_core::line_protocol::Line;

use super::procfile::{ParseError, ProcFile, column_u64};
use super::{point, tag, uint};
use crate::glob::NameFilter;
use crate::input::Input;
use crate::inputs::common::input_config;

/// The documented `[agent.inputs.diskio]` table, every option at its default.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

input_config! {
    /// `[agent.inputs.diskio]`.
    table Config {
        /// Report only devices whose name matches one of these patterns (`*` any run of
        /// characters, `?` one character), e.g. `["sd?", "nvme*n?"]`; empty: all.
        devices: Vec<String> = Vec::new(),
        /// Never report devices whose name matches one of these patterns.
        ignore_devices: Vec<String> = vec!["loop*".to_string(), "ram*".to_string()],
        /// Where procfs is mounted; point it at the host's `/proc` when running in a container.
        procfs_root: PathBuf = super::default_procfs_root(),
    }
}

/// `/proc/diskstats` counts sectors of 512 bytes whatever the device's own sector size.
const SECTOR_BYTES: u64 = 512;

/// The `diskio` input; see the module docs.
#[derive(Debug)]
pub struct DiskIo {
    devices: NameFilter,
    diskstats: ProcFile,
}

impl DiskIo {
    /// Builds the input.
    pub(crate) fn new(config: &Config) -> anyhow::Result<Self> {
        Ok(DiskIo {
            devices: NameFilter::new(&config.devices, &config.ignore_devices),
            diskstats: ProcFile::new(&config.procfs_root, "diskstats"),
        })
    }
}

impl Input for DiskIo {
    fn name(&self) -> &str {
        "diskio"
    }

    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
        let devices = &self.devices;
        self.diskstats.parse(|text| {
            for (i, line) in text.lines().enumerate() {
                let mut cols = line.split_whitespace();
                let (Some(_major), Some(_minor), Some(name)) =
                    (cols.next(), cols.next(), cols.next())
                else {
                    continue;
                };
                if !devices.keeps(name) {
                    continue;
                }
                // Kernels before 2.6.25 gave partitions only 4 counters; there is nothing to
                // map them to, so such lines are skipped.
                if line.split_whitespace().count() < 14 {
                    continue;
                }
                out.push(parse_device(cols, i + 1, name, now_ms)?);
            }
            Ok(())
        })?;
        Ok(())
    }
}

/// The point for one device from the 11 counters after its name (later kernels append
/// discard and flush counters, which are ignored).
fn parse_device<'a>(
    mut cols: impl Iterator<Item = &'a str>,
    line: usize,
    name: &str,
    now_ms: i64,
) -> Result<Line<'static>, ParseError> {
    let mut c = [0u64; 11];
    const WHAT: [&str; 11] = [
        "reads completed",
        "reads merged",
        "sectors read",
        "ms reading",
        "writes completed",
        "writes merged",
        "sectors written",
        "ms writing",
        "I/Os in progress",
        "ms doing I/O",
        "weighted ms doing I/O",
    ];
    for (slot, what) in c.iter_mut().zip(WHAT) {
        *slot = column_u64(&mut cols, line, what)?;
    }
    let fields = vec![
        uint("reads", c[0]),
        uint("writes", c[4]),
        uint("read_bytes", c[2].saturating_mul(SECTOR_BYTES)),
        uint("write_bytes", c[6].saturating_mul(SECTOR_BYTES)),
        uint("read_time", c[3]),
        uint("write_time", c[7]),
        uint("io_time", c[9]),
        uint("weighted_io_time", c[10]),
        uint("iops_in_progress", c[8]),
        uint("merged_reads", c[1]),
        uint("merged_writes", c[5]),
    ];
    Ok(point(
        "diskio",
        vec![tag("name", name.to_string())],
        fields,
        now_ms,
    ))
}

#[cfg(test)]
pub(super) mod tests;
