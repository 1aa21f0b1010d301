//! ICMP echo over a socket of the agent's own, without the `ping` binary.
//!
//! Linux offers two sockets for this. A **datagram** ICMP socket (`SOCK_DGRAM`,
//! `IPPROTO_ICMP`) needs no privilege, only a group inside `net.ipv4.ping_group_range`
//! (most distributions allow every group; the kernel default `1 0` allows none, root
//! included); the kernel then owns the echo identifier and delivers this socket's replies
//! only. A **raw** socket needs `CAP_NET_RAW` (root) and sees every ICMP packet of the
//! host, so replies are told apart by identifier and sequence; for IPv4 they start with
//! the IP header. [`Pinger::open`] tries the first, then the second.

use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// Bytes after the 8-byte ICMP header, as `ping` sends by default.
const PAYLOAD: usize = 56;

/// Which kind of socket a [`Pinger`] got.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Datagram,
    Raw,
}

/// What one run of echoes gave.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub transmitted: u64,
    pub received: u64,
    /// Round-trip times of the replies, in the order they came.
    pub rtts: Vec<Duration>,
}

/// An open ICMP socket connected to one address.
#[derive(Debug)]
pub struct Pinger {
    socket: Socket,
    kind: Kind,
    v6: bool,
    /// The echo identifier; the kernel replaces it on datagram sockets.
    id: u16,
}

/// Distinguishes the raw-socket pingers of one agent from each other.
static NEXT_ID: AtomicU16 = AtomicU16::new(0);

impl Pinger {
    /// Opens a datagram ICMP socket to `ip`, or a raw one when that is refused.
    pub fn open(ip: IpAddr) -> io::Result<Self> {
        let (domain, protocol) = match ip {
            IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
            IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
        };
        let (socket, kind) = match Socket::new(domain, Type::DGRAM, Some(protocol)) {
            Ok(socket) => (socket, Kind::Datagram),
            Err(dgram) => match Socket::new(domain, Type::RAW, Some(protocol)) {
                Ok(socket) => (socket, Kind::Raw),
                Err(_) => return Err(dgram),
            },
        };
        // On a raw socket, connect() also filters incoming packets by source address.
        socket.connect(&SockAddr::from(SocketAddr::new(ip, 0)))?;
        let id = (std::process::id() as u16)
            .wrapping_mul(31)
            .wrapping_add(NEXT_ID.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9e37));
        Ok(Pinger {
            socket,
            kind,
            v6: ip.is_ipv6(),
            id,
        })
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Sends `count` echo requests `interval` apart and collects replies until `timeout`
    /// after the last one (or until every request is answered). Fails only when no
    /// request could be sent at all.
    pub fn run(&mut self, count: u16, interval: Duration, timeout: Duration) -> io::Result<Stats> {
        let mut sent_at: Vec<Option<Instant>> = vec![None; usize::from(count)];
        let mut answered = vec![false; usize::from(count)];
        let mut stats = Stats::default();
        let mut last_error = None;
        let start = Instant::now();
        for seq in 0..count {
            self.receive_until(
                start + interval * u32::from(seq),
                &sent_at,
                &mut answered,
                &mut stats,
            );
            let request = echo_request(self.v6, self.id, seq);
            match self.socket.send(&request) {
                Ok(_) => {
                    sent_at[usize::from(seq)] = Some(Instant::now());
                    stats.transmitted += 1;
                }
                Err(e) => last_error = Some(e),
            }
        }
        if stats.transmitted == 0 {
            return Err(last_error.unwrap_or_else(|| io::Error::other("nothing sent")));
        }
        let last_sent = sent_at.iter().flatten().max().copied().unwrap_or(start);
        self.receive_until(last_sent + timeout, &sent_at, &mut answered, &mut stats);
        Ok(stats)
    }

    /// Reads replies until `until`, or until every sent request has its reply.
    fn receive_until(
        &self,
        until: Instant,
        sent_at: &[Option<Instant>],
        answered: &mut [bool],
        stats: &mut Stats,
    ) {
        let mut buf = [0u8; 1500];
        while stats.received < stats.transmitted {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || self.socket.set_read_timeout(Some(left)).is_err() {
                return;
            }
            let n = match (&self.socket).read(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return;
                }
                // ICMP errors (host unreachable) surface as socket errors, once each.
                Err(_) => continue,
            };
            let received = Instant::now();
            let Some(seq) = self.reply_seq(&buf[..n]) else {
                continue;
            };
            let i = usize::from(seq);
            if let (Some(Some(sent)), Some(false)) = (sent_at.get(i), answered.get(i).copied()) {
                answered[i] = true;
                stats.received += 1;
                stats.rtts.push(received.duration_since(*sent));
            }
        }
    }

    /// The sequence number of an echo reply meant for this pinger.
    fn reply_seq(&self, packet: &[u8]) -> Option<u16> {
        let icmp = if self.kind == Kind::Raw && !self.v6 {
            let ihl = usize::from(packet.first()? & 0x0f) * 4;
            packet.get(ihl..)?
        } else {
            packet
        };
        let reply_type = if self.v6 { 129 } else { 0 };
        if icmp.len() < 8 || icmp[0] != reply_type || icmp[1] != 0 {
            return None;
        }
        let id = u16::from_be_bytes([icmp[4], icmp[5]]);
        if self.kind == Kind::Raw && id != self.id {
            return None;
        }
        Some(u16::from_be_bytes([icmp[6], icmp[7]]))
    }
}

/// An echo request: type 8 (ICMPv6: 128), code 0, checksum, identifier, sequence and a
/// payload. The kernel fills the ICMPv6 checksum itself (it covers a pseudo-header that
/// only the kernel knows); the ICMPv4 one is computed here for raw sockets.
fn echo_request(v6: bool, id: u16, seq: u16) -> [u8; 8 + PAYLOAD] {
    let mut packet = [0u8; 8 + PAYLOAD];
    packet[0] = if v6 { 128 } else { 8 };
    packet[4..6].copy_from_slice(&id.to_be_bytes());
    packet[6..8].copy_from_slice(&seq.to_be_bytes());
    packet[8..18].copy_from_slice(b"argus-ping");
    for (i, b) in packet[18..].iter_mut().enumerate() {
        *b = i as u8;
    }
    if !v6 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// The Internet checksum (RFC 1071).
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_rfc_1071_example() {
        // RFC 1071 §3: 0001 f203 f4f5 f6f7 sums to ddf2, so the checksum is 220d.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
        assert_eq!(checksum(&[0xff]), 0x00ff);
    }

    fn pinger(kind: Kind, v6: bool) -> Pinger {
        let (domain, protocol) = if v6 {
            (Domain::IPV6, Protocol::UDP)
        } else {
            (Domain::IPV4, Protocol::UDP)
        };
        // Any socket will do: reply_seq only looks at bytes.
        let socket = Socket::new(domain, Type::DGRAM, Some(protocol)).expect("socket");
        Pinger {
            socket,
            kind,
            v6,
            id: 0x4242,
        }
    }

    fn reply(kind: u8, id: u16, seq: u16) -> Vec<u8> {
        let mut p = echo_request(false, id, seq).to_vec();
        p[0] = kind;
        p
    }

    #[test]
    fn replies_are_told_apart() {
        let dgram = pinger(Kind::Datagram, false);
        // The kernel owns the identifier on datagram sockets: any is ours.
        assert_eq!(dgram.reply_seq(&reply(0, 0x9999, 5)), Some(5));
        assert_eq!(dgram.reply_seq(&reply(8, 0x9999, 5)), None, "a request");
        assert_eq!(dgram.reply_seq(&reply(3, 0x9999, 5)), None, "unreachable");
        assert_eq!(dgram.reply_seq(&[0, 0, 0]), None, "short");

        // Raw IPv4 replies start with the IP header (here 24 bytes, with options) and
        // carry other pingers' replies too.
        let raw = pinger(Kind::Raw, false);
        let mut packet = vec![0x46; 24];
        packet.extend(reply(0, 0x4242, 7));
        assert_eq!(raw.reply_seq(&packet), Some(7));
        let mut other = vec![0x45; 20];
        other.extend(reply(0, 0x4343, 7));
        assert_eq!(raw.reply_seq(&other), None, "another pinger's");
        assert_eq!(
            raw.reply_seq(&[0x4f; 30]),
            None,
            "header longer than the packet"
        );
        assert_eq!(raw.reply_seq(&[]), None);

        let v6 = pinger(Kind::Raw, true);
        assert_eq!(v6.reply_seq(&reply(129, 0x4242, 1)), Some(1));
        assert_eq!(v6.reply_seq(&reply(128, 0x4242, 1)), None);
        assert_eq!(v6.reply_seq(&reply(0, 0x4242, 1)), None);
    }

    #[test]
    fn an_echo_request_checks_out() {
        let packet = echo_request(false, 0x1234, 7);
        assert_eq!(&packet[..2], &[8, 0]);
        assert_eq!(&packet[4..8], &[0x12, 0x34, 0, 7]);
        // A packet with its checksum in place sums to zero.
        assert_eq!(checksum(&packet), 0);
        let v6 = echo_request(true, 1, 2);
        assert_eq!((v6[0], v6[2], v6[3]), (128, 0, 0));
    }
}
