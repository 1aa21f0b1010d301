//! **collectd** as a peer: the configuration the benchmark writes for it, and the UDP
//! sink that receives what its `network` plugin ships, counting packets and values of
//! collectd's binary protocol.
//!
//! The binary protocol is a sequence of *parts*, each `type: u16 BE, length: u16 BE`
//! (the length counts this 4-byte header) and a payload; a *values* part (type 6) holds
//! `count: u16 BE`, `count` type bytes and `count` 8-byte values.

use std::net::UdpSocket;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// The plugins loaded: the host metrics Argus's default inputs collect (cpu, mem, swap,
/// disk, diskio, net, load, system: uptime and users, processes).
pub const PLUGINS: [&str; 10] = [
    "cpu",
    "memory",
    "swap",
    "df",
    "disk",
    "interface",
    "load",
    "processes",
    "uptime",
    "users",
];

/// The configuration file: collect every `interval_secs` with [`PLUGINS`] and ship to
/// `127.0.0.1:<udp_port>` with the `network` plugin. Its state stays in `base_dir`.
pub fn config(
    base_dir: &Path,
    plugin_dir: &Path,
    interval_secs: u64,
    udp_port: impl std::fmt::Display,
) -> String {
    let mut c = String::new();
    c.push_str("# Written by argus-bench footprint.\n");
    // No DNS lookup of the host name at start: the machine may have no resolver.
    c.push_str("FQDNLookup false\n");
    c.push_str(&format!("BaseDir \"{}\"\n", base_dir.display()));
    c.push_str(&format!(
        "PIDFile \"{}\"\n",
        base_dir.join("collectd.pid").display()
    ));
    c.push_str(&format!("PluginDir \"{}\"\n", plugin_dir.display()));
    c.push_str(&format!("Interval {interval_secs}\n\n"));
    for p in PLUGINS {
        c.push_str(&format!("LoadPlugin {p}\n"));
    }
    c.push_str("LoadPlugin network\n\n");
    // Per-core lines in percent, as Argus's cpu input reports them.
    c.push_str("<Plugin cpu>\n  ReportByCpu true\n  ValuesPercentage true\n</Plugin>\n\n");
    c.push_str(&format!(
        "<Plugin network>\n  Server \"127.0.0.1\" \"{udp_port}\"\n</Plugin>\n"
    ));
    c
}

/// Values carried by one packet, or None if its parts do not add up to its length.
pub fn count_values(packet: &[u8]) -> Option<u64> {
    let mut values = 0u64;
    let mut rest = packet;
    while !rest.is_empty() {
        if rest.len() < 4 {
            return None;
        }
        let kind = u16::from_be_bytes([rest[0], rest[1]]);
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        if len < 4 || len > rest.len() {
            return None;
        }
        if kind == 6 {
            if len < 6 {
                return None;
            }
            let n = u16::from_be_bytes([rest[4], rest[5]]);
            // count, the type bytes and the values must fill the part exactly.
            if 6 + usize::from(n) * 9 != len {
                return None;
            }
            values += u64::from(n);
        }
        rest = &rest[len..];
    }
    Some(values)
}

/// What arrived at the sink.
#[derive(Default)]
pub struct Received {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    pub values: AtomicU64,
    /// Packets that did not parse as collectd's binary protocol.
    pub malformed: AtomicU64,
}

/// A UDP socket on 127.0.0.1 that counts what collectd sends it, on its own thread until
/// dropped.
pub struct Sink {
    pub port: u16,
    pub received: Arc<Received>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sink {
    pub fn start() -> anyhow::Result<Self> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(200)))?;
        let port = socket.local_addr()?.port();
        let received = Arc::new(Received::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (received.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            // collectd's packets are at most 1452 bytes by default; room for any datagram.
            let mut buf = vec![0u8; 65_536];
            while !s.load(Ordering::Relaxed) {
                let Ok(n) = socket.recv(&mut buf) else {
                    continue; // the read timeout: look at the stop flag again
                };
                r.packets.fetch_add(1, Ordering::Relaxed);
                r.bytes.fetch_add(n as u64, Ordering::Relaxed);
                match count_values(&buf[..n]) {
                    Some(v) => r.values.fetch_add(v, Ordering::Relaxed),
                    None => r.malformed.fetch_add(1, Ordering::Relaxed),
                };
            }
        });
        Ok(Self {
            port,
            received,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_loads_the_plugins_and_ships_to_the_sink() {
        let c = config(
            Path::new("/tmp/fp"),
            Path::new("/usr/lib/collectd"),
            10,
            25826,
        );
        assert!(c.contains("Interval 10\n"), "{c}");
        assert!(c.contains("BaseDir \"/tmp/fp\"\n"), "{c}");
        assert!(c.contains("PIDFile \"/tmp/fp/collectd.pid\"\n"), "{c}");
        assert!(c.contains("PluginDir \"/usr/lib/collectd\"\n"), "{c}");
        for p in PLUGINS.iter().chain(["network"].iter()) {
            assert_eq!(
                c.matches(&format!("LoadPlugin {p}\n")).count(),
                1,
                "{p} in {c}"
            );
        }
        assert!(
            c.contains("  ReportByCpu true\n  ValuesPercentage true\n"),
            "{c}"
        );
        assert!(c.contains("Server \"127.0.0.1\" \"25826\""), "{c}");
    }

    /// A part: type, length including the header, payload.
    fn part(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = kind.to_be_bytes().to_vec();
        p.extend_from_slice(&((payload.len() + 4) as u16).to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    fn values_part(n: u16) -> Vec<u8> {
        let mut payload = n.to_be_bytes().to_vec();
        payload.extend(std::iter::repeat_n(1u8, usize::from(n))); // types: gauge
        payload.extend(std::iter::repeat_n(0u8, usize::from(n) * 8));
        part(6, &payload)
    }

    #[test]
    fn values_counted_over_parts() {
        let packet = [
            part(0, b"host\0"),
            part(8, &1_700_000_000u64.to_be_bytes()),
            part(2, b"cpu\0"),
            values_part(1),
            part(4, b"percent\0"),
            values_part(3),
        ]
        .concat();
        assert_eq!(count_values(&packet), Some(4));
        assert_eq!(count_values(&[]), Some(0));
    }

    #[test]
    fn malformed_packets_refused() {
        let good = values_part(2);
        assert_eq!(count_values(&good[..good.len() - 1]), None, "cut short");
        assert_eq!(count_values(&[0, 6, 0, 2]), None, "length below the header");
        assert_eq!(count_values(&[0, 6]), None, "header cut");
        // A values part whose count disagrees with its length.
        let mut bad = values_part(2);
        bad[5] = 3;
        assert_eq!(count_values(&bad), None);
    }
}
