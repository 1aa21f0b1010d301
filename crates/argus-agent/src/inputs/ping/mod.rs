//! The `ping` input: ICMP echo round trips and loss to one host; Telegraf's `ping`.
//!
//! A **run** sends `count` echo requests `ping_interval_ms` apart and waits up to
//! `response_timeout_ms` after the last one for the replies. It uses an ICMP socket of the
//! agent's own ([`icmp`]: unprivileged where `net.ipv4.ping_group_range` allows, raw as
//! root) and, when neither can be opened, runs the system's `ping` ([`exec`]). Every run
//! is a point with a `result_code`, never a failed round.

pub mod exec;
pub mod icmp;

use std::net::IpAddr;
use std::time::Duration;

use argus_core::line_protocol::Line;

use super::dns::resolve::resolve;
use super::http::client::limit_ms;
use super::{Field, float, percent, point, tag, uint};
use crate::input::Input;
use crate::inputs::common::input_config;

/// The commented-out example `[[agent.inputs.ping]]` table.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

input_config! {
    /// One `[[agent.inputs.ping]]` table: one host to ping.
    instance "ping" Config {
        /// The host name or address to ping.
        host: String = String::new(),
        /// Echo requests per run.
        count: u16 = 3,
        /// Milliseconds between two requests of a run (the `ping` binary wants 200 or more
        /// unless run by root).
        ping_interval_ms: u64 = 200,
        /// Milliseconds to wait for replies after the last request; also the name
        /// resolution's limit.
        response_timeout_ms: u64 = 1000,
        /// `auto`: an ICMP socket, else the `ping` binary; `native`: the socket only; `exec`:
        /// the binary only.
        method: String = "auto".to_string(),
        /// The `ping` binary for `exec` and `auto`.
        binary: String = "ping".to_string(),
    }
}

/// `result_code` values, as Telegraf's `ping` numbers them. Packet loss, even total, is
/// not an error: it is `percent_packet_loss`.
pub mod result {
    pub const SUCCESS: u64 = 0;
    pub const UNKNOWN_HOST: u64 = 1;
    pub const PING_ERROR: u64 = 2;
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Method {
    Auto,
    Native,
    Exec,
}

/// The `ping` input; see the module docs.
#[derive(Debug)]
pub struct Ping {
    host: String,
    count: u16,
    interval: Duration,
    timeout: Duration,
    method: Method,
    binary: String,
}

/// A run's outcome before it becomes fields.
#[derive(Debug, Default, PartialEq)]
struct Run {
    code: u64,
    transmitted: u64,
    received: u64,
    /// Minimum, average, maximum and standard deviation, in ms.
    rtt_ms: Option<[f64; 4]>,
}

impl Ping {
    /// Builds the input; an empty host, a zero count or an unknown method is an
    /// error.
    pub(crate) fn new(config: &Config) -> anyhow::Result<Self> {
        let host = config.host.trim();
        if host.is_empty() {
            anyhow::bail!("host: required");
        }
        // It becomes an argument of the ping binary: no option may hide in it.
        if host.starts_with('-') || host.contains(char::is_whitespace) {
            anyhow::bail!("host {host:?}: not a host name or address");
        }
        if config.count == 0 {
            anyhow::bail!("count: must be at least 1");
        }
        let timeout = limit_ms("response_timeout_ms", config.response_timeout_ms)?;
        if config.ping_interval_ms > 60_000 {
            anyhow::bail!("ping_interval_ms: must be at most 60000 (a minute)");
        }
        let method = match config.method.as_str() {
            "auto" => Method::Auto,
            "native" => Method::Native,
            "exec" => Method::Exec,
            other => anyhow::bail!("method {other:?}: expected \"auto\", \"native\" or \"exec\""),
        };
        Ok(Ping {
            host: host.to_string(),
            count: config.count,
            interval: Duration::from_millis(config.ping_interval_ms),
            timeout,
            method,
            binary: config.binary.clone(),
        })
    }

    fn run(&self) -> Run {
        if self.method == Method::Exec {
            return self.run_exec();
        }
        let addrs = match resolve(&self.host, 0, self.timeout) {
            Ok(addrs) => addrs,
            Err(e) => {
                tracing::debug!(host = %self.host, error = %e, "ping: unknown host");
                return Run {
                    code: result::UNKNOWN_HOST,
                    ..Run::default()
                };
            }
        };
        // IPv4 first, as `ping` does for a name with both.
        let ip = addrs
            .iter()
            .map(|a| a.ip())
            .find(IpAddr::is_ipv4)
            .unwrap_or_else(|| addrs[0].ip());
        let mut pinger = match icmp::Pinger::open(ip) {
            Ok(pinger) => pinger,
            Err(e) if self.method == Method::Auto => {
                tracing::debug!(host = %self.host, error = %e, "no ICMP socket; running the ping binary");
                return self.run_exec();
            }
            Err(e) => {
                tracing::debug!(host = %self.host, error = %e, "ping: no ICMP socket");
                return Run {
                    code: result::PING_ERROR,
                    ..Run::default()
                };
            }
        };
        match pinger.run(self.count, self.interval, self.timeout) {
            Ok(stats) => Run {
                code: result::SUCCESS,
                transmitted: stats.transmitted,
                received: stats.received,
                rtt_ms: rtt_stats(&stats.rtts),
            },
            Err(e) => {
                tracing::debug!(host = %self.host, error = %e, "ping: sending failed");
                Run {
                    code: result::PING_ERROR,
                    ..Run::default()
                }
            }
        }
    }

    fn run_exec(&self) -> Run {
        match exec::run(
            &self.binary,
            &self.host,
            self.count,
            self.interval,
            self.timeout,
        ) {
            Ok(summary) => Run {
                code: result::SUCCESS,
                transmitted: summary.transmitted,
                received: summary.received,
                rtt_ms: summary
                    .rtt_ms
                    .map(|[min, avg, max]| [min, avg, max, summary.stddev_ms.unwrap_or(0.0)]),
            },
            Err(e) => {
                tracing::debug!(host = %self.host, error = %e, "ping binary failed");
                Run {
                    code: match e {
                        exec::ExecError::UnknownHost { .. } => result::UNKNOWN_HOST,
                        _ => result::PING_ERROR,
                    },
                    ..Run::default()
                }
            }
        }
    }
}

impl Input for Ping {
    fn name(&self) -> &str {
        "ping"
    }

    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
        let run = self.run();
        let mut fields: Vec<Field> = vec![uint("result_code", run.code)];
        if run.code == result::SUCCESS {
            let lost = run.transmitted.saturating_sub(run.received);
            fields.extend([
                uint("packets_transmitted", run.transmitted),
                uint("packets_received", run.received),
                float("percent_packet_loss", percent(lost, run.transmitted)),
            ]);
            if let Some([min, avg, max, stddev]) = run.rtt_ms {
                fields.extend([
                    float("minimum_response_ms", min),
                    float("average_response_ms", avg),
                    float("maximum_response_ms", max),
                    float("standard_deviation_ms", stddev),
                ]);
            }
        }
        out.push(point(
            "ping",
            vec![tag("url", self.host.clone())],
            fields,
            now_ms,
        ));
        Ok(())
    }
}

/// Minimum, average, maximum and (population) standard deviation in ms, as `ping`'s
/// `min/avg/max/mdev`; `None` without replies.
fn rtt_stats(rtts: &[Duration]) -> Option<[f64; 4]> {
    if rtts.is_empty() {
        return None;
    }
    let ms: Vec<f64> = rtts.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    let n = ms.len() as f64;
    let min = ms.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let avg = ms.iter().sum::<f64>() / n;
    let variance = ms.iter().map(|v| (v - avg) * (v - avg)).sum::<f64>() / n;
    Some([min, avg, max, variance.sqrt()])
}

#[cfg(test)]
pub(super) mod tests;
