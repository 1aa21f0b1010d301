//! The heartbeat: every interval the agent tells the servers it is alive and what the host
//! is (host name, machine id, addresses, OS, kernel, CPUs, memory, agent version, plugin
//! states, the configuration it runs). It is not buffered: only the latest one matters.
//!
//! The **machine id** ([`machine_id`]) is the host's stable id: the server's host
//! inventory keys hosts by it, so a renamed host keeps its groups and two hosts that share
//! a name stay two.

use crate::runtime::handle::AgentHandle;
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

/// Facts about this host, read from the system.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HostFacts {
    pub hostname: String,
    /// See [`machine_id`].
    pub machine_id: String,
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

/// Where the machine id is read from, in order: systemd's, then the D-Bus copy that hosts
/// without systemd (and some containers) have instead.
const MACHINE_ID_FILES: [&str; 2] = ["/etc/machine-id", "/var/lib/dbus/machine-id"];

/// The longest machine id taken, in bytes: systemd's are 32, and the server keeps the id
/// as a key.
const MACHINE_ID_MAX_BYTES: usize = 128;

/// The environment variable that overrides the machine id (when it holds a valid one):
/// for several agents on one machine, or clones that share `/etc/machine-id`.
pub const MACHINE_ID_ENV: &str = "ARGUS_MACHINE_ID";

/// The host's stable id: `$ARGUS_MACHINE_ID`, else the trimmed content of /etc/machine-id,
/// else of /var/lib/dbus/machine-id, else `hostname`. A file that is missing, empty, holds
/// systemd's first-boot placeholder `uninitialized`, or is not a plain token (1 to 128
/// bytes of `[A-Za-z0-9._:-]`) is passed over: the id travels in URLs and is a key on the server,
/// and a placeholder would make every such host one.
pub fn machine_id(hostname: &str) -> String {
    if let Ok(id) = std::env::var(MACHINE_ID_ENV)
        && valid_machine_id(id.trim())
    {
        return id.trim().to_string();
    }
    machine_id_from(&MACHINE_ID_FILES.map(Path::new), hostname)
}

/// [`machine_id`] over the given files: the first that holds a valid id wins.
fn machine_id_from(files: &[&Path], hostname: &str) -> String {
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .map(|s| s.trim().to_string())
        .find(|s| valid_machine_id(s) && s != "uninitialized")
        .unwrap_or_else(|| hostname.to_string())
}

/// 1 to 128 bytes of `[A-Za-z0-9._:-]`: nothing a URL, a log line or a file name would
/// need to escape.
fn valid_machine_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MACHINE_ID_MAX_BYTES
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
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
        machine_id: machine_id(hostname),
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
///
/// Besides the facts, it carries `interval_secs` (`every`), so the server can tell a host
/// that missed heartbeats from one configured to send them rarely, and `config`: the ETag
/// of the remote configuration applied and the last configuration error, so the server
/// can show which hosts run the configuration it serves and which refused it.
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
            "interval_secs": every.as_secs(),
            "buffer_bytes": status.buffer.bytes,
            "plugins": handle.list().iter().map(|p| serde_json::json!({
                "name": p.name, "state": p.state, "last_error": p.last_error,
            })).collect::<Vec<_>>(),
            "config": {
                "etag": status.remote_etag,
                "error": status.config_error,
            },
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
    use super::*;
    use crate::outputs::testserver::{self, Reply};

    #[test]
    fn machine_id_is_the_first_valid_file_else_the_hostname() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap_or_else(|e| panic!("{e}"));
            p
        };
        let good = file("good", "3d1219c7c4c5404aaa1f6d2a48adfda4\n");
        let other = file("other", "  host-7:a.b_c-d \n");
        let empty = file("empty", "\n");
        let placeholder = file("placeholder", "uninitialized\n");
        let spaced = file("spaced", "abc def\n");
        let slash = file("slash", "../etc\n");
        let long = file("long", &"a".repeat(129));
        let longest = file("longest", &"a".repeat(128));
        let missing = dir.path().join("missing");
        let id = |files: &[&Path]| machine_id_from(files, "web-1");

        assert_eq!(id(&[&good, &other]), "3d1219c7c4c5404aaa1f6d2a48adfda4");
        assert_eq!(id(&[&missing, &other]), "host-7:a.b_c-d");
        for bad in [&empty, &placeholder, &spaced, &slash, &long] {
            assert_eq!(id(&[bad, &good]), "3d1219c7c4c5404aaa1f6d2a48adfda4");
            assert_eq!(id(&[bad]), "web-1", "{}", bad.display());
        }
        assert_eq!(id(&[&longest]), "a".repeat(128));
        assert_eq!(id(&[&missing]), "web-1");
        assert_eq!(id(&[]), "web-1");
    }

    #[test]
    fn machine_id_reads_etc_machine_id() {
        let id = machine_id("web-1");
        assert_eq!(host_facts("web-1").machine_id, id);
        // Where systemd wrote one (as on the machines this runs on), it is the id.
        if let Ok(text) = std::fs::read_to_string("/etc/machine-id")
            && valid_machine_id(text.trim())
            && text.trim() != "uninitialized"
        {
            assert_eq!(id, text.trim());
        }
    }

    /// The body a server receives: the facts with the machine id, the heartbeat period, and
    /// what configuration the agent runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn heartbeat_carries_machine_id_interval_and_config_state() {
        let server = testserver::start((0..4).map(|_| Reply::status(200)).collect());
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let config = crate::AgentConfig {
            servers: vec![server.url.clone()],
            token: "tok".into(),
            hostname: "web-1".into(),
            interval_secs: 3,
            inputs: serde_json::from_value(serde_json::json!({
                "cpu": {"enabled": false}, "mem": {"enabled": false}, "swap": {"enabled": false},
                "disk": {"enabled": false}, "diskio": {"enabled": false}, "net": {"enabled": false},
                "load": {"enabled": false}, "system": {"enabled": false}, "processes": {"enabled": false}
            }))
            .unwrap_or_else(|e| panic!("{e}")),
            scripts: crate::scripts::ScriptsConfig {
                enabled: false,
                ..Default::default()
            },
            ..crate::AgentConfig::default()
        };
        let agent = crate::Agent::new(&config, dir.path()).unwrap_or_else(|e| panic!("{e:#}"));
        let handle = agent.handle();
        handle.set_remote_etag(Some("\"e-42\"".into()));
        handle.config_error(Some(
            "remote configuration: agent.bogus: unknown key".into(),
        ));
        let (tx, mut rx) = tokio::sync::watch::channel(false);
        let run = tokio::spawn(agent.run(async move {
            let _ = rx.wait_for(|s| *s).await;
        }));
        let req = tokio::task::spawn_blocking(move || {
            // The sender has nothing to send; skip anything but the heartbeat all the same.
            loop {
                let r = server.next();
                if r.target == "/api/argus/heartbeat" {
                    return r;
                }
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let _ = tx.send(true);
        let _ = run.await;

        assert_eq!(req.method, "POST");
        assert_eq!(req.header("authorization"), Some("Bearer tok"));
        let body: serde_json::Value =
            serde_json::from_slice(&req.body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body["facts"]["hostname"], "web-1");
        assert_eq!(body["facts"]["machine_id"], machine_id("web-1").as_str());
        assert_eq!(body["interval_secs"], 3);
        assert_eq!(
            body["config"],
            serde_json::json!({
                "etag": "\"e-42\"",
                "error": "remote configuration: agent.bogus: unknown key",
            })
        );
        assert_eq!(body["plugins"], serde_json::json!([]));
        let mut keys: Vec<&str> = body
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "buffer_bytes",
                "config",
                "facts",
                "interval_secs",
                "plugins",
                "ts",
                "uptime_secs"
            ]
        );
    }

    #[test]
    fn facts_match_the_system() {
        let f = host_facts("h");
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
