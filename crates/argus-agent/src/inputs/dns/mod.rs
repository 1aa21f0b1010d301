//! The `dns` input: how long a name takes to resolve, and to what; Telegraf's
//! `dns_query`.
//!
//! A **lookup** asks `server` one question (`domain`, `record_type`) over UDP, and again
//! over TCP when the answer comes back truncated, with messages built and read by
//! [`wire`]. Without a `server` it asks the system resolver (`getaddrinfo`, so
//! `/etc/hosts` and nsswitch apply), which answers A and AAAA only. When `expect` is set
//! the answer must contain it. Every lookup is a point with a `result_code`, never a
//! failed round. [`resolve`] is the system lookup with a deadline that the other network
//! inputs use too.

pub mod resolve;
pub mod wire;

use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use argus_core::line_protocol::Line;

use self::resolve::{ResolveError, resolve};
use self::wire::Rdata;
use super::{Field, float, point, tag, uint};
use crate::input::Input;
use crate::inputs::common::input_config;

/// The commented-out example `[[agent.inputs.dns]]` table.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

input_config! {
    /// One `[[agent.inputs.dns]]` table: one question to one server.
    instance "dns" Config {
        /// The name to look up.
        domain: String = String::new(),
        /// A, AAAA, CNAME, MX, NS, PTR or TXT; the system resolver knows A and AAAA only.
        record_type: String = "A".to_string(),
        /// The DNS server: `1.1.1.1`, `10.0.0.2:5353`, `[2606:4700::1111]:53` or a name;
        /// empty: the system resolver.
        server: String = String::new(),
        /// Milliseconds the lookup may take.
        response_timeout_ms: u64 = 2000,
        /// An address (A, AAAA), name (CNAME, MX, NS, PTR) or text (TXT) the answer must
        /// contain; empty: any answer will do.
        expect: String = String::new(),
    }
}

/// `result_code` values, as Telegraf's `dns_query` numbers them.
pub mod result {
    pub const SUCCESS: u64 = 0;
    pub const TIMEOUT: u64 = 1;
    pub const ERROR: u64 = 2;
}

/// Where questions go.
#[derive(Debug, Clone, PartialEq)]
enum Server {
    System,
    /// A host (name or address) and port, resolved at each lookup.
    Dns {
        host: String,
        port: u16,
    },
}

/// What the answer must contain.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    Address(IpAddr),
    Name(String),
    Text(String),
}

/// What one lookup found.
#[derive(Debug, Default, PartialEq)]
struct Outcome {
    code: u64,
    query_time: Option<Duration>,
    rcode: Option<u8>,
    matched: bool,
}

/// The `dns` input; see the module docs.
#[derive(Debug)]
pub struct Dns {
    domain: String,
    record_type: String,
    qtype: u16,
    server: Server,
    server_tag: String,
    timeout: Duration,
    expect: Option<Expect>,
}

impl Dns {
    /// Builds the input; an unknown record type or an `expect` that cannot be
    /// an answer of that type is an error.
    pub(crate) fn new(config: &Config) -> anyhow::Result<Self> {
        let domain = config.domain.trim().to_string();
        if domain.is_empty() {
            anyhow::bail!("domain: required");
        }
        wire::query(0, &domain, 1).map_err(|e| anyhow::anyhow!("{e}"))?;
        let record_type = config.record_type.trim().to_ascii_uppercase();
        let names: Vec<&str> = wire::RECORD_TYPES.iter().map(|(n, _)| *n).collect();
        let qtype = wire::record_type(&record_type).ok_or_else(|| {
            anyhow::anyhow!(
                "record_type {:?}: expected one of {names:?}",
                config.record_type
            )
        })?;
        let server = parse_server(config.server.trim())?;
        if server == Server::System && !matches!(qtype, 1 | 28) {
            anyhow::bail!(
                "record_type {record_type}: the system resolver answers A and AAAA only; set `server`"
            );
        }
        let timeout =
            super::http::client::limit_ms("response_timeout_ms", config.response_timeout_ms)?;
        let expect = match config.expect.trim() {
            "" => None,
            text => Some(match qtype {
                1 | 28 => {
                    let ip: IpAddr = text
                        .parse()
                        .map_err(|_| anyhow::anyhow!("expect {text:?}: not an IP address"))?;
                    if ip.is_ipv4() != (qtype == 1) {
                        anyhow::bail!("expect {text:?}: not an address of a {record_type} record");
                    }
                    Expect::Address(ip)
                }
                16 => Expect::Text(text.to_string()),
                _ => Expect::Name(normalize_name(text)),
            }),
        };
        let server_tag = match &server {
            Server::System => "system".to_string(),
            Server::Dns { .. } => config.server.trim().to_string(),
        };
        Ok(Dns {
            domain,
            record_type,
            qtype,
            server,
            server_tag,
            timeout,
            expect,
        })
    }

    fn lookup(&self) -> Outcome {
        match &self.server {
            Server::System => self.lookup_system(),
            Server::Dns { host, port } => self.lookup_server(host, *port),
        }
    }

    fn lookup_system(&self) -> Outcome {
        let start = Instant::now();
        match resolve(&self.domain, 0, self.timeout) {
            Ok(addrs) => {
                let v4 = self.qtype == 1;
                let ips: Vec<IpAddr> = addrs
                    .iter()
                    .map(SocketAddr::ip)
                    .filter(|ip| ip.is_ipv4() == v4)
                    .collect();
                let code = if ips.is_empty() {
                    result::ERROR
                } else {
                    result::SUCCESS
                };
                Outcome {
                    code,
                    query_time: Some(start.elapsed()),
                    rcode: None,
                    matched: match &self.expect {
                        Some(Expect::Address(want)) => ips.contains(want),
                        _ => false,
                    },
                }
            }
            Err(ResolveError::Timeout { .. }) => Outcome {
                code: result::TIMEOUT,
                ..Outcome::default()
            },
            Err(ResolveError::Failed { host, reason }) => {
                tracing::debug!(domain = %host, %reason, "dns lookup failed");
                Outcome {
                    code: result::ERROR,
                    ..Outcome::default()
                }
            }
        }
    }

    fn lookup_server(&self, host: &str, port: u16) -> Outcome {
        let start = Instant::now();
        let deadline = start + self.timeout;
        let failed = |code: u64, why: &dyn std::fmt::Display| {
            tracing::debug!(server = %self.server_tag, domain = %self.domain, error = %why, "dns query failed");
            Outcome {
                code,
                ..Outcome::default()
            }
        };
        let addr = match resolve(host, port, self.timeout) {
            Ok(addrs) => addrs[0],
            Err(e @ ResolveError::Timeout { .. }) => return failed(result::TIMEOUT, &e),
            Err(e) => return failed(result::ERROR, &e),
        };
        let id = random_id();
        let query = match wire::query(id, &self.domain, self.qtype) {
            Ok(query) => query,
            Err(e) => return failed(result::ERROR, &e),
        };
        let mut answer = exchange_udp(addr, &query, id, deadline);
        if let Ok(response) = &answer
            && response.truncated
        {
            answer = exchange_tcp(addr, &query, id, deadline);
        }
        let response = match answer {
            Ok(response) => response,
            Err(e) if super::http::client::is_timeout(&e) => return failed(result::TIMEOUT, &e),
            Err(e) => return failed(result::ERROR, &e),
        };
        let matched = self.expect.as_ref().is_some_and(|want| {
            response
                .answers
                .iter()
                .filter(|a| a.rtype == self.qtype)
                .any(|a| matches(want, &a.data))
        });
        Outcome {
            code: if response.rcode == 0 {
                result::SUCCESS
            } else {
                result::ERROR
            },
            query_time: Some(start.elapsed()),
            rcode: Some(response.rcode),
            matched,
        }
    }
}

impl Input for Dns {
    fn name(&self) -> &str {
        "dns"
    }

    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
        let outcome = self.lookup();
        let tags = vec![
            tag("server", self.server_tag.clone()),
            tag("domain", self.domain.clone()),
            tag("record_type", self.record_type.clone()),
        ];
        let mut fields: Vec<Field> = vec![uint("result_code", outcome.code)];
        if let Some(t) = outcome.query_time {
            fields.push(float("query_time_ms", t.as_secs_f64() * 1000.0));
        }
        if let Some(rcode) = outcome.rcode {
            fields.push(uint("rcode_value", u64::from(rcode)));
        }
        if self.expect.is_some() {
            fields.push(uint("answer_match", u64::from(outcome.matched)));
        }
        out.push(point("dns_query", tags, fields, now_ms));
        Ok(())
    }
}

fn matches(want: &Expect, data: &Rdata) -> bool {
    match (want, data) {
        (Expect::Address(want), Rdata::Address(got)) => want == got,
        (Expect::Name(want), Rdata::Name(got)) => want == got,
        (Expect::Name(want), Rdata::Mx { exchange, .. }) => want == exchange,
        (Expect::Text(want), Rdata::Text(got)) => want == got,
        _ => false,
    }
}

/// Lower case without the trailing dot, as [`wire`] gives names.
fn normalize_name(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

fn parse_server(text: &str) -> anyhow::Result<Server> {
    if text.is_empty() {
        return Ok(Server::System);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(Server::Dns {
            host: ip.to_string(),
            port: 53,
        });
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(Server::Dns {
            host: addr.ip().to_string(),
            port: addr.port(),
        });
    }
    if text.contains(':') {
        let (host, port) = super::tcp::split_address(text)
            .map_err(|_| anyhow::anyhow!("server {text:?}: expected host or host:port"))?;
        return Ok(Server::Dns { host, port });
    }
    Ok(Server::Dns {
        host: text.to_string(),
        port: 53,
    })
}

/// A query ID that an off-path attacker cannot guess, from the standard library's
/// per-process random hash keys (no `rand` crate for 16 bits).
fn random_id() -> u16 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish() as u16
}

/// The UDP exchange: responses with another ID (late answers to an earlier query, or
/// spoofs) are skipped until the deadline.
fn exchange_udp(
    addr: SocketAddr,
    query: &[u8],
    id: u16,
    deadline: Instant,
) -> std::io::Result<wire::Response> {
    let local: SocketAddr = if addr.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(addr)?;
    socket.send(query)?;
    let mut buf = [0u8; 4096];
    loop {
        socket.set_read_timeout(Some(super::http::client::remaining(deadline)?))?;
        let n = socket.recv(&mut buf)?;
        match wire::parse(&buf[..n]) {
            Ok(response) if response.id == id => return Ok(response),
            _ => continue,
        }
    }
}

/// The TCP exchange (RFC 1035 §4.2.2): each message is preceded by its length.
fn exchange_tcp(
    addr: SocketAddr,
    query: &[u8],
    id: u16,
    deadline: Instant,
) -> std::io::Result<wire::Response> {
    use super::http::client::remaining;
    let mut stream = TcpStream::connect_timeout(&addr, remaining(deadline)?)?;
    stream.set_write_timeout(Some(remaining(deadline)?))?;
    let len = u16::try_from(query.len()).map_err(std::io::Error::other)?;
    stream.write_all(&[&len.to_be_bytes()[..], query].concat())?;
    let mut len = [0u8; 2];
    stream.set_read_timeout(Some(remaining(deadline)?))?;
    stream.read_exact(&mut len)?;
    let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.set_read_timeout(Some(remaining(deadline)?))?;
    stream.read_exact(&mut msg)?;
    let response = wire::parse(&msg).map_err(std::io::Error::other)?;
    if response.id != id {
        return Err(std::io::Error::other("response to another query"));
    }
    Ok(response)
}

#[cfg(test)]
pub(super) mod tests;
