//! The `port` input: is anything listening on these local ports?
//!
//! The kernel lists the host's sockets in `/proc/net/tcp`, `tcp6`, `udp` and `udp6`, one
//! line per socket with its local address and port in hex and its state. A TCP port is
//! **listening** when a socket on it is in state `0A` (LISTEN); a UDP port when a socket
//! is bound to it with no remote peer (UDP has no listen state: a server's socket is
//! simply bound and unconnected). Both address families count: a service on `[::]:22`
//! listens for IPv4 too. No connection is made, so nothing shows up in the service's
//! logs, and sockets of every user are seen without privilege.

use std::path::PathBuf;

use argus_core::line_protocol::Line;

use super::procfile::{ParseError, ProcFile, leading_columns};
use super::{point, tag, uint};
use crate::input::Input;
use crate::inputs::common::input_config;

/// The commented-out example `[[agent.inputs.port]]` table.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

input_config! {
    /// One `[[agent.inputs.port]]` table: ports of one protocol to check.
    instance "port" Config {
        /// The ports to check.
        ports: Vec<u16> = Vec::new(),
        /// `tcp` or `udp`.
        protocol: String = "tcp".to_string(),
        /// Where procfs is mounted; `/proc/net` is the agent's network namespace, so point
        /// it at `/host/proc/1` to see the host's sockets from a container.
        procfs_root: PathBuf = super::default_procfs_root(),
    }
}

/// The `port` input; see the module docs.
#[derive(Debug)]
pub struct Port {
    ports: Vec<u16>,
    udp: bool,
    /// `net/tcp` and `net/tcp6`, or the `udp` pair.
    v4: ProcFile,
    v6: ProcFile,
}

impl Port {
    /// Builds the input; no ports or an unknown protocol is an error.
    pub(crate) fn new(config: &Config) -> anyhow::Result<Self> {
        if config.ports.is_empty() {
            anyhow::bail!("ports: list at least one port");
        }
        let udp = match config.protocol.as_str() {
            "tcp" => false,
            "udp" => true,
            other => anyhow::bail!("protocol {other:?}: expected \"tcp\" or \"udp\""),
        };
        let proto = if udp { "udp" } else { "tcp" };
        Ok(Port {
            ports: config.ports.clone(),
            udp,
            v4: ProcFile::new(&config.procfs_root, &format!("net/{proto}")),
            v6: ProcFile::new(&config.procfs_root, &format!("net/{proto}6")),
        })
    }
}

impl Input for Port {
    fn name(&self) -> &str {
        "port"
    }

    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
        let mut listening = vec![false; self.ports.len()];
        self.v4.read()?;
        scan(self.v4.text(), self.udp, &self.ports, &mut listening)
            .map_err(|e| self.v4.error(e))?;
        // Without IPv6 the kernel has no tcp6/udp6 file; then there is nothing to add.
        if self.v6.read().is_ok() {
            scan(self.v6.text(), self.udp, &self.ports, &mut listening)
                .map_err(|e| self.v6.error(e))?;
        }
        let protocol = if self.udp { "udp" } else { "tcp" };
        for (port, listening) in self.ports.iter().zip(listening) {
            let tags = vec![tag("port", port.to_string()), tag("protocol", protocol)];
            out.push(point(
                "port",
                tags,
                vec![uint("listening", u64::from(listening))],
                now_ms,
            ));
        }
        Ok(())
    }
}

/// Marks in `listening` the `ports` that a socket of `table` listens on. A line is
/// `sl local_address rem_address st …` with addresses as `HEXADDR:HEXPORT`.
fn scan(table: &str, udp: bool, ports: &[u16], listening: &mut [bool]) -> Result<(), ParseError> {
    for (i, line) in table.lines().enumerate().skip(1) {
        let Some([_, local, remote, state]) =
            leading_columns(line, i + 1, "expected sl, local_address, rem_address, st")?
        else {
            continue;
        };
        let port = |address: &str| {
            address
                .rsplit_once(':')
                .and_then(|(_, port)| u16::from_str_radix(port, 16).ok())
                .ok_or_else(|| ParseError::new(i + 1, format!("bad address {address:?}")))
        };
        let is_listener = if udp {
            // Unconnected: the remote port is 0 (the address is all zeros too).
            state == "07" && port(remote)? == 0
        } else {
            state == "0A"
        };
        if !is_listener {
            continue;
        }
        let local_port = port(local)?;
        for (want, found) in ports.iter().zip(listening.iter_mut()) {
            if *want == local_port {
                *found = true;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests;
