//! The `tcp` input: can a TCP connection be made to `host:port`, and how fast? Telegraf's
//! `net_response` for TCP.
//!
//! A **check** resolves the host, connects within `response_timeout_ms` and, when
//! configured, sends `send` and waits up to `read_timeout_ms` for `expect` to appear in
//! what the server writes back (a banner, a `PONG`). The outcome is a point with a
//! `result_code`, never a failed round, so that alerts can fire on it.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use argus_core::line_protocol::Line;

use super::dns::resolve::{ResolveError, resolve};
use super::http::client::{is_timeout, limit_ms};
use super::{Field, float, point, tag, uint};
use crate::input::Input;
use crate::inputs::common::input_config;

/// The commented-out example `[[agent.inputs.tcp]]` table.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

/// Bytes of the server's answer searched for `expect`.
const MAX_READ_BYTES: usize = 64 * 1024;

input_config! {
    /// One `[[agent.inputs.tcp]]` table: one address to check.
    instance "tcp" Config {
        /// `host:port` to connect to; an IPv6 address goes in brackets (`[::1]:22`).
        address: String = String::new(),
        /// Milliseconds the name resolution and the connection may take together.
        response_timeout_ms: u64 = 1000,
        /// Milliseconds to wait for `expect` once connected.
        read_timeout_ms: u64 = 1000,
        /// Text sent once connected; empty: nothing.
        send: String = String::new(),
        /// Text the server's answer must contain; empty: the connection alone is success.
        expect: String = String::new(),
    }
}

/// `result_code` values: Telegraf's `net_response` numbers, plus `DNS_ERROR`, which
/// Telegraf reports as a failed connection.
pub mod result {
    pub const SUCCESS: u64 = 0;
    pub const TIMEOUT: u64 = 1;
    pub const CONNECTION_FAILED: u64 = 2;
    pub const READ_FAILED: u64 = 3;
    pub const STRING_MISMATCH: u64 = 4;
    pub const DNS_ERROR: u64 = 5;
}

/// The `tcp` input; see the module docs.
#[derive(Debug)]
pub struct Tcp {
    host: String,
    port: u16,
    connect_timeout: Duration,
    read_timeout: Duration,
    send: Vec<u8>,
    expect: Vec<u8>,
}

impl Tcp {
    /// Builds the input; an address without a port is an error.
    pub(crate) fn new(config: &Config) -> anyhow::Result<Self> {
        let (host, port) = split_address(&config.address)?;
        Ok(Tcp {
            host,
            port,
            connect_timeout: limit_ms("response_timeout_ms", config.response_timeout_ms)?,
            read_timeout: limit_ms("read_timeout_ms", config.read_timeout_ms)?,
            send: config.send.as_bytes().to_vec(),
            expect: config.expect.as_bytes().to_vec(),
        })
    }

    /// One check: the result code and, once connected, the seconds it took.
    fn check(&self) -> (u64, Option<f64>) {
        let start = Instant::now();
        let addrs = match resolve(&self.host, self.port, self.connect_timeout) {
            Ok(addrs) => addrs,
            Err(ResolveError::Timeout { .. }) => return (result::TIMEOUT, None),
            Err(ResolveError::Failed { .. }) => return (result::DNS_ERROR, None),
        };
        let deadline = start + self.connect_timeout;
        let mut code = result::CONNECTION_FAILED;
        let mut stream = None;
        for addr in addrs {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                code = result::TIMEOUT;
                break;
            }
            match TcpStream::connect_timeout(&addr, left) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) if is_timeout(&e) => code = result::TIMEOUT,
                Err(_) => code = result::CONNECTION_FAILED,
            }
        }
        let Some(mut stream) = stream else {
            return (code, None);
        };
        if self.send.is_empty() && self.expect.is_empty() {
            return (result::SUCCESS, Some(start.elapsed().as_secs_f64()));
        }
        let code = self.exchange(&mut stream);
        (code, Some(start.elapsed().as_secs_f64()))
    }

    /// Sends `send` and looks for `expect` in the answer.
    fn exchange(&self, stream: &mut TcpStream) -> u64 {
        let deadline = Instant::now() + self.read_timeout;
        let left = |deadline: Instant| {
            let left = deadline.saturating_duration_since(Instant::now());
            (!left.is_zero()).then_some(left)
        };
        if !self.send.is_empty() {
            let sent = stream
                .set_write_timeout(left(deadline))
                .and_then(|()| stream.write_all(&self.send))
                .and_then(|()| stream.flush());
            if sent.is_err() {
                return result::READ_FAILED;
            }
        }
        if self.expect.is_empty() {
            return result::SUCCESS;
        }
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while let Some(wait) = left(deadline) {
            if stream.set_read_timeout(Some(wait)).is_err() {
                break;
            }
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if contains(&answer, &self.expect) {
                        return result::SUCCESS;
                    }
                    if answer.len() >= MAX_READ_BYTES {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        // Something came back, just not what was expected; or nothing at all.
        if answer.is_empty() {
            result::READ_FAILED
        } else {
            result::STRING_MISMATCH
        }
    }
}

impl Input for Tcp {
    fn name(&self) -> &str {
        "tcp"
    }

    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
        let (code, response_time) = self.check();
        let tags = vec![
            tag("server", self.host.clone()),
            tag("port", self.port.to_string()),
            tag("protocol", "tcp"),
        ];
        let mut fields: Vec<Field> = vec![uint("result_code", code)];
        if let Some(seconds) = response_time {
            fields.push(float("response_time", seconds));
        }
        out.push(point("net_response", tags, fields, now_ms));
        Ok(())
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// `host:port` or `[v6]:port` into the host (without brackets) and the port.
pub fn split_address(address: &str) -> anyhow::Result<(String, u16)> {
    let bad = || anyhow::anyhow!("address {address:?}: expected host:port, e.g. \"localhost:22\"");
    let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
    let host = match host.strip_prefix('[') {
        Some(inner) => inner.strip_suffix(']').ok_or_else(bad)?,
        None if host.contains(':') => return Err(bad()),
        None => host,
    };
    if host.is_empty() {
        return Err(bad());
    }
    let port: u16 = port.parse().map_err(|_| bad())?;
    if port == 0 {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

#[cfg(test)]
pub(super) mod tests;
