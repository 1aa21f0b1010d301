//! The `net` input: traffic counters of each network interface, from `/proc/net/dev`.
//!
//! An **interface** is one line of `/proc/net/dev` in the agent's network namespace (or
//! in PID 1's, with `procfs_root = "<host proc>/1"`). All fields are counters since the
//! interface appeared. The loopback interface is left out by default, as in Telegraf.

use std::path::PathBuf;

use argus_core::line_protocol::Line;

use super::procfile::{ParseError, ProcFile, column_u64};
use super::{point, tag, uint};
use crate::glob::NameFilter;
use crate::input::Input;
use crate::inputs::common::input_config;

/// The documented `[agent.inputs.net]` table, every option at its default.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

input_config! {
    /// `[agent.inputs.net]`.
    table Config {
        /// Report only interfaces whose name matches one of these patterns (`*` any run of
        /// characters, `?` one character), e.g. `["eth*", "en*"]`; empty: all.
        interfaces: Vec<String> = Vec::new(),
        /// Never report interfaces whose name matches one of these patterns.
        ignore_interfaces: Vec<String> = vec!["lo".to_string()],
        /// Where procfs is mounted; `net/dev` is read from here.
        procfs_root: PathBuf = super::default_procfs_root(),
    }
}

/// The `net` input; see the module docs.
#[derive(Debug)]
pub struct Net {
    interfaces: NameFilter,
    dev: ProcFile,
}

impl Net {
    /// Builds the input.
    pub(crate) fn new(config: &Config) -> anyhow::Result<Self> {
        Ok(Net {
            interfaces: NameFilter::new(&config.interfaces, &config.ignore_interfaces),
            dev: ProcFile::new(&config.procfs_root, "net/dev"),
        })
    }
}

impl Input for Net {
    fn name(&self) -> &str {
        "net"
    }

    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
        let interfaces = &self.interfaces;
        self.dev.parse(|text| {
            // Two header lines, then `name: 8 receive counters 8 transmit counters`. The
            // name is split at the colon: old kernels wrote `eth0:123` with no space.
            for (i, line) in text.lines().enumerate().skip(2) {
                let Some((name, counters)) = line.split_once(':') else {
                    continue;
                };
                let name = name.trim();
                if !interfaces.keeps(name) {
                    continue;
                }
                out.push(parse_interface(counters, i + 1, name, now_ms)?);
            }
            Ok(())
        })?;
        Ok(())
    }
}

fn parse_interface(
    counters: &str,
    line: usize,
    name: &str,
    now_ms: i64,
) -> Result<Line<'static>, ParseError> {
    const WHAT: [&str; 16] = [
        "receive bytes",
        "receive packets",
        "receive errs",
        "receive drop",
        "receive fifo",
        "receive frame",
        "receive compressed",
        "receive multicast",
        "transmit bytes",
        "transmit packets",
        "transmit errs",
        "transmit drop",
        "transmit fifo",
        "transmit colls",
        "transmit carrier",
        "transmit compressed",
    ];
    let mut cols = counters.split_whitespace();
    let mut c = [0u64; 16];
    for (slot, what) in c.iter_mut().zip(WHAT) {
        *slot = column_u64(&mut cols, line, what)?;
    }
    let fields = vec![
        uint("bytes_sent", c[8]),
        uint("bytes_recv", c[0]),
        uint("packets_sent", c[9]),
        uint("packets_recv", c[1]),
        uint("err_in", c[2]),
        uint("err_out", c[10]),
        uint("drop_in", c[3]),
        uint("drop_out", c[11]),
    ];
    Ok(point(
        "net",
        vec![tag("interface", name.to_string())],
        fields,
        now_ms,
    ))
}

#[cfg(test)]
pub(super) mod tests;
