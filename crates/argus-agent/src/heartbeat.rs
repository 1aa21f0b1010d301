//! The heartbeat: every interval the agent tells the servers it is alive and what the host
//! is (host name, addresses, OS, kernel, CPUs, memory, agent version, plugin states). It
//! is not buffered: only the latest one matters.

use crate::runtime::handle::AgentHandle;
use serde::Serialize;
use std::time::Duration;

/// Facts about this host, read from the system.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HostFacts {
    pub hostname: String,
    pub ips: Vec<String>,
    pub os: String,
    pub kernel: String,
    pub arch: &'static str,
    pub cpus: usize,
    pub memory_bytes: u64,
    pub agent_version: &'static str,
}

/// `PRETTY_NAME` from /etc/os-release, or "Linux".
fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "Linux".into())
}

/// Non-loopback IPv4 addresses from /proc/net/fib_trie's local entries, and IPv6 ones
/// from /proc/net/if_inet6: no socket calls needed.
fn addresses() -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(t) = std::fs::read_to_string("/proc/net/fib_trie") {
        let mut last_ip: Option<&str> = None;
        for line in t.lines() {
            let l = line.trim();
            if let Some(ip) = l.strip_prefix("|-- ") {
                last_ip = Some(ip);
            } else if l.contains("/32 host LOCAL")
                && let Some(ip) = last_ip
                && !ip.starts_with("127.")
                && !out.iter().any(|x: &String| x == ip)
            {
                out.push(ip.to_string());
            }
        }
    }
    if let Ok(t) = std::fs::read_to_string("/proc/net/if_inet6") {
        for line in t.lines() {
            let mut f = line.split_whitespace();
            let (Some(hex), Some(_), Some(_), Some(scope)) =
                (f.next(), f.next(), f.next(), f.next())
            else {
                continue;
            };
            // Global scope only (00): skip loopback and link-local.
            if scope != "00" || hex.len() != 32 {
                continue;
            }
            let groups: Vec<String> = (0..8)
                .map(|i| hex[i * 4..i * 4 + 4].trim_start_matches('0').to_string())
                .collect();
            let ip: std::net::Ipv6Addr = match groups
                .iter()
                .map(|g| if g.is_empty() { "0" } else { g.as_str() })
                .collect::<Vec<_>>()
                .join(":")
                .parse()
            {
                Ok(ip) => ip,
                Err(_) => continue,
            };
            out.push(ip.to_string());
        }
    }
    out
}

pub fn host_facts(hostname: &str) -> HostFacts {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let memory_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024;
    HostFacts {
        hostname: hostname.to_string(),
        ips: addresses(),
        os: os_name(),
        kernel,
        arch: std::env::consts::ARCH,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_bytes,
        agent_version: env!("CARGO_PKG_VERSION"),
    }
}

/// How long host facts read for a heartbeat are reused.
const FACTS_EVERY: Duration = Duration::from_secs(60);

/// Sends a heartbeat to the first server that accepts it, every `every`, until `stop`.
pub async fn run(
    handle: AgentHandle,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let client = handle.http_client();
    // Facts change rarely (an address, a kernel after a reboot); reading them once a
    // minute rather than every heartbeat spares a handful of file reads per tick.
    let mut facts: Option<(tokio::time::Instant, String, HostFacts)> = None;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = async { let _ = stop.wait_for(|s| *s).await; } => return,
            _ = tick.tick() => {}
        }
        let (servers, token) = handle.targets();
        let status = handle.status();
        let stale = facts
            .as_ref()
            .is_none_or(|(at, host, _)| at.elapsed() >= FACTS_EVERY || *host != status.host);
        if stale {
            let f = host_facts(&status.host);
            facts = Some((tokio::time::Instant::now(), status.host.clone(), f));
        }
        let body = serde_json::json!({
            "facts": facts.as_ref().map(|(_, _, f)| f),
            "ts": argus_core::now_ms(),
            "uptime_secs": status.uptime_secs,
            "buffer_bytes": status.buffer.bytes,
            "plugins": handle.list().iter().map(|p| serde_json::json!({
                "name": p.name, "state": p.state, "last_error": p.last_error,
            })).collect::<Vec<_>>(),
        });
        for s in &servers {
            let url = format!("{}/api/argus/heartbeat", s.trim_end_matches('/'));
            match client
                .post(&url)
                .timeout(Duration::from_secs(10))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => break,
                Ok(r) => tracing::debug!(url, status = %r.status(), "heartbeat refused"),
                Err(e) => tracing::debug!(url, error = %e, "heartbeat failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn facts_match_the_system() {
        let f = super::host_facts("h");
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let kb: u64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        assert_eq!(f.memory_bytes, kb * 1024);
        assert!(f.cpus >= 1);
        assert!(!f.kernel.is_empty());
        assert!(
            f.ips.iter().all(|ip| !ip.starts_with("127.")),
            "{:?}",
            f.ips
        );
    }
}
