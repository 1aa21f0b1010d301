//! Name resolution through the system resolver, with a deadline.
//!
//! `getaddrinfo(3)` (what [`ToSocketAddrs`] calls) has no timeout of its own: with an
//! unreachable name server it blocks for the resolver's retries (5 s × attempts with
//! glibc's defaults). The network inputs need to report "DNS timed out" within their
//! `response_timeout_ms`, so the lookup runs on a short-lived thread and the caller stops
//! waiting at the deadline; a thread still blocked then finishes on its own later and
//! drops its answer. IP literals never start a thread. The http, prometheus, tcp, ping and
//! dns inputs share this.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

/// Why a name did not resolve.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResolveError {
    #[error("resolving {host}: no answer within {timeout:?}")]
    Timeout { host: String, timeout: Duration },
    #[error("resolving {host}: {reason}")]
    Failed { host: String, reason: String },
}

/// The addresses of `host` (a name, an IP address, or an IPv6 address in brackets) with
/// `port`, in the resolver's order.
pub fn resolve(host: &str, port: u16, timeout: Duration) -> Result<Vec<SocketAddr>, ResolveError> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let failed = |reason: String| ResolveError::Failed {
        host: host.to_string(),
        reason,
    };
    let (tx, rx) = mpsc::channel();
    let name = bare.to_string();
    // glibc's resolver and its NSS modules want more than a minimal stack; 256 KiB is
    // address space, not resident memory.
    let spawned = std::thread::Builder::new()
        .name("argus-resolve".into())
        .stack_size(256 * 1024)
        .spawn(move || {
            let _ = tx.send(lookup(&name, port));
        });
    let answer = match spawned {
        Ok(_) => match rx.recv_timeout(timeout) {
            Ok(answer) => answer,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(ResolveError::Timeout {
                    host: host.to_string(),
                    timeout,
                });
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err("resolver thread died".into()),
        },
        // No thread to be had: resolve here, without the deadline.
        Err(_) => lookup(bare, port),
    };
    answer.map_err(failed)
}

fn lookup(name: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    match (name, port).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err("no address".into())
            } else {
                Ok(addrs)
            }
        }
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_resolve_to_themselves() {
        let t = Duration::from_secs(1);
        assert_eq!(
            resolve("127.0.0.1", 80, t),
            Ok(vec!["127.0.0.1:80".parse().expect("addr")])
        );
        assert_eq!(
            resolve("[::1]", 53, t),
            Ok(vec!["[::1]:53".parse().expect("addr")])
        );
        assert_eq!(
            resolve("::1", 53, t),
            Ok(vec!["[::1]:53".parse().expect("addr")])
        );
    }

    #[test]
    fn localhost_resolves_to_loopback() {
        let addrs = resolve("localhost", 8080, Duration::from_secs(5)).expect("localhost");
        assert!(
            addrs
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 8080),
            "{addrs:?}"
        );
    }

    #[test]
    fn an_unknown_name_fails_naming_it() {
        // `.invalid` never resolves (RFC 6761).
        let err = resolve("no-such-host.invalid", 80, Duration::from_secs(5)).expect_err("invalid");
        assert!(
            err.to_string()
                .starts_with("resolving no-such-host.invalid"),
            "{err}"
        );
    }
}
