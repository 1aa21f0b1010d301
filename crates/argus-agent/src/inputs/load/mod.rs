//! The `load` input: the kernel's 1, 5 and 15 minute load averages, from `/proc/loadavg`.
//!
//! The **load average** is the exponentially damped number of tasks that are runnable or
//! in uninterruptible (disk) sleep. The points use Telegraf's measurement `system`, so
//! the series read `system_load1`, `system_load5` and `system_load15` as users of
//! Telegraf's `system` input know them; the `system` input reports the rest of that
//! measurement.

use std::path::PathBuf;

use argus_core::line_protocol::Line;

use super::procfile::{ParseError, ProcFile};
use super::{Field, float, point};
use crate::input::Input;
use crate::inputs::common::input_config;

/// The documented `[agent.inputs.load]` table, every option at its default.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

input_config! {
    /// `[agent.inputs.load]`.
    table Config {
        /// Where procfs is mounted; point it at the host's `/proc` when running in a container.
        procfs_root: PathBuf = super::default_procfs_root(),
    }
}

/// The `load` input; see the module docs.
#[derive(Debug)]
pub struct Load {
    loadavg: ProcFile,
}

impl Load {
    /// Builds the input.
    pub(crate) fn new(config: &Config) -> anyhow::Result<Self> {
        Ok(Load {
            loadavg: ProcFile::new(&config.procfs_root, "loadavg"),
        })
    }
}

impl Input for Load {
    fn name(&self) -> &str {
        "load"
    }

    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
        let fields = self.loadavg.parse(parse_loadavg)?;
        out.push(point("system", Vec::new(), fields, now_ms));
        Ok(())
    }
}

/// `/proc/loadavg` is one line: `load1 load5 load15 runnable/total last_pid`.
fn parse_loadavg(text: &str) -> Result<Vec<Field>, ParseError> {
    let mut cols = text.split_whitespace();
    let mut next = |name: &'static str| {
        let col = cols.next().unwrap_or("");
        match col.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(float(name, v)),
            _ => Err(ParseError::new(
                1,
                format!("{name}: expected a load average, found {col:?}"),
            )),
        }
    };
    Ok(vec![next("load1")?, next("load5")?, next("load15")?])
}

#[cfg(test)]
pub(super) mod tests;
