//! The `swap` input: swap space use (from `/proc/meminfo`) and swap traffic (from
//! `/proc/vmstat`), in bytes.
//!
//! **Swap traffic** is counted by the kernel in pages (`pswpin`, `pswpout`); the input
//! multiplies by the page size the kernel reports to this process (4 KiB on x86-64, up to
//! 64 KiB on some arm64 kernels), where Telegraf assumes 4 KiB everywhere.

use std::path::PathBuf;

use argus_core::line_protocol::Line;

use super::mem::parse_meminfo;
use super::procfile::{ParseError, ProcFile, parse_u64};
use super::{float, percent, point, uint};
use crate::input::Input;
use crate::inputs::common::input_config;

/// The documented `[agent.inputs.swap]` table, every option at its default.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

input_config! {
    /// `[agent.inputs.swap]`.
    table Config {
        /// Where procfs is mounted; point it at the host's `/proc` when running in a container.
        procfs_root: PathBuf = super::default_procfs_root(),
    }
}

const MEMINFO_KEYS: &[(&str, &str)] = &[("SwapTotal", "total"), ("SwapFree", "free")];

/// The `swap` input; see the module docs.
#[derive(Debug)]
pub struct Swap {
    meminfo: ProcFile,
    vmstat: ProcFile,
    page_size: u64,
    values: [Option<u64>; 2],
}

impl Swap {
    /// Builds the input.
    pub(crate) fn new(config: &Config) -> anyhow::Result<Self> {
        Ok(Swap {
            meminfo: ProcFile::new(&config.procfs_root, "meminfo"),
            vmstat: ProcFile::new(&config.procfs_root, "vmstat"),
            page_size: procfs::page_size(),
            values: [None; 2],
        })
    }
}

impl Input for Swap {
    fn name(&self) -> &str {
        "swap"
    }

    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
        let values = &mut self.values;
        self.meminfo
            .parse(|text| parse_meminfo(text, MEMINFO_KEYS, values))?;
        let [Some(total), Some(free)] = self.values else {
            let missing = ParseError::new(0, "no SwapTotal or SwapFree line");
            return Err(self.meminfo.error(missing).into());
        };
        let used = total.saturating_sub(free);
        let mut fields = vec![
            uint("total", total),
            uint("used", used),
            uint("free", free),
            float("used_percent", percent(used, total)),
        ];

        let (pages_in, pages_out) = self.vmstat.parse(parse_vmstat)?;
        if let Some(pages) = pages_in {
            fields.push(uint("in", pages.saturating_mul(self.page_size)));
        }
        if let Some(pages) = pages_out {
            fields.push(uint("out", pages.saturating_mul(self.page_size)));
        }
        out.push(point("swap", Vec::new(), fields, now_ms));
        Ok(())
    }
}

/// The `pswpin` and `pswpout` page counts of `/proc/vmstat` (`name value` lines).
fn parse_vmstat(text: &str) -> Result<(Option<u64>, Option<u64>), ParseError> {
    let (mut pages_in, mut pages_out) = (None, None);
    for (i, line) in text.lines().enumerate() {
        let Some((name, value)) = line.split_once(' ') else {
            continue;
        };
        let slot = match name {
            "pswpin" => &mut pages_in,
            "pswpout" => &mut pages_out,
            _ => continue,
        };
        *slot = Some(parse_u64(value.trim(), i + 1, name)?);
        if pages_in.is_some() && pages_out.is_some() {
            break;
        }
    }
    Ok((pages_in, pages_out))
}

#[cfg(test)]
pub(super) mod tests;
