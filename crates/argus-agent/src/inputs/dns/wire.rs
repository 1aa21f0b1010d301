//! DNS messages (RFC 1035 §4): building one query and reading its response.
//!
//! The `dns` input asks one question and reads the header, the answer records and their
//! data for the types it supports; that is about 200 lines by hand. The DNS crates are
//! whole resolvers (`hickory-proto` alone brings a dozen crates and async plumbing), and
//! `simple-dns`-like parsers would still be a new crate for what fits here. Names in
//! responses may be compressed (§4.1.4): pointers are followed with a bound on their
//! number, so a crafted loop is an error, never a hang.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The record types the input can ask for, by name and number.
pub const RECORD_TYPES: &[(&str, u16)] = &[
    ("A", 1),
    ("NS", 2),
    ("CNAME", 5),
    ("PTR", 12),
    ("MX", 15),
    ("TXT", 16),
    ("AAAA", 28),
];

/// The number of a record type's name (`"A"` → 1), case-insensitively.
pub fn record_type(name: &str) -> Option<u16> {
    RECORD_TYPES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, t)| t)
}

/// A query for `domain` of type `qtype`, recursion desired.
pub fn query(id: u16, domain: &str, qtype: u16) -> Result<Vec<u8>, String> {
    let mut msg = Vec::with_capacity(12 + domain.len() + 6);
    msg.extend_from_slice(&id.to_be_bytes());
    msg.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    msg.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // QDCOUNT 1
    encode_name(domain, &mut msg)?;
    msg.extend_from_slice(&qtype.to_be_bytes());
    msg.extend_from_slice(&1u16.to_be_bytes()); // class IN
    Ok(msg)
}

fn encode_name(domain: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let trimmed = domain.strip_suffix('.').unwrap_or(domain);
    if trimmed.len() > 253 {
        return Err(format!("domain {domain:?}: longer than 253 characters"));
    }
    if !trimmed.is_empty() {
        for label in trimmed.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(format!(
                    "domain {domain:?}: labels must have 1 to 63 characters"
                ));
            }
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
    }
    out.push(0);
    Ok(())
}

/// The data of one answer record, for the types in [`RECORD_TYPES`].
#[derive(Debug, Clone, PartialEq)]
pub enum Rdata {
    Address(IpAddr),
    /// NS, CNAME, PTR: a domain name, lower case, without the trailing dot.
    Name(String),
    Mx {
        preference: u16,
        exchange: String,
    },
    /// The character-strings of a TXT record, concatenated.
    Text(String),
    /// Any other type, not decoded.
    Other,
}

/// One answer record.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub rtype: u16,
    pub data: Rdata,
}

/// A response: its header bits and its answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub id: u16,
    /// RCODE: 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, …
    pub rcode: u8,
    /// TC: the answer did not fit in the datagram; ask again over TCP.
    pub truncated: bool,
    pub answers: Vec<Answer>,
}

/// Reads a response message; `Err` says what is malformed.
pub fn parse(msg: &[u8]) -> Result<Response, String> {
    let header = msg.get(..12).ok_or("shorter than a DNS header")?;
    let word = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
    let (id, flags, qdcount, ancount) = (word(0), word(2), word(4), word(6));
    if flags & 0x8000 == 0 {
        return Err("a query, not a response".into());
    }
    let mut pos = 12;
    for _ in 0..qdcount {
        pos = read_name(msg, pos)?.1;
        pos = pos
            .checked_add(4)
            .filter(|&p| p <= msg.len())
            .ok_or("truncated question")?;
    }
    let mut answers = Vec::with_capacity(usize::from(ancount).min(64));
    for _ in 0..ancount {
        pos = read_name(msg, pos)?.1;
        let fixed = msg.get(pos..pos + 10).ok_or("truncated answer")?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let rdlength = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let start = pos + 10;
        let end = start + rdlength;
        let rdata = msg.get(start..end).ok_or("truncated record data")?;
        let data = match rtype {
            1 => Rdata::Address(IpAddr::V4(Ipv4Addr::from(
                <[u8; 4]>::try_from(rdata).map_err(|_| "A record of the wrong length")?,
            ))),
            28 => Rdata::Address(IpAddr::V6(Ipv6Addr::from(
                <[u8; 16]>::try_from(rdata).map_err(|_| "AAAA record of the wrong length")?,
            ))),
            2 | 5 | 12 => Rdata::Name(read_name(msg, start)?.0),
            15 => {
                let preference = rdata.get(..2).ok_or("MX record too short")?;
                Rdata::Mx {
                    preference: u16::from_be_bytes([preference[0], preference[1]]),
                    exchange: read_name(msg, start + 2)?.0,
                }
            }
            16 => {
                let mut text = Vec::new();
                let mut i = 0;
                while i < rdata.len() {
                    let len = usize::from(rdata[i]);
                    let part = rdata
                        .get(i + 1..i + 1 + len)
                        .ok_or("TXT string overruns its record")?;
                    text.extend_from_slice(part);
                    i += 1 + len;
                }
                Rdata::Text(String::from_utf8_lossy(&text).into_owned())
            }
            _ => Rdata::Other,
        };
        answers.push(Answer { rtype, data });
        pos = end;
    }
    Ok(Response {
        id,
        rcode: (flags & 0x000f) as u8,
        truncated: flags & 0x0200 != 0,
        answers,
    })
}

/// The name at `pos` (lower case, no trailing dot) and the position after it in the
/// message (after the first pointer when compressed).
fn read_name(msg: &[u8], mut pos: usize) -> Result<(String, usize), String> {
    let mut name = String::new();
    let mut end = None;
    let mut jumps = 0;
    loop {
        let &len = msg.get(pos).ok_or("name runs past the message")?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                return Ok((name, end.unwrap_or(pos + 1)));
            }
            0x00 => {
                let label = msg
                    .get(pos + 1..pos + 1 + usize::from(len))
                    .ok_or("label runs past the message")?;
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(&String::from_utf8_lossy(label).to_ascii_lowercase());
                if name.len() > 255 {
                    return Err("name longer than 255 bytes".into());
                }
                pos += 1 + usize::from(len);
            }
            0xc0 => {
                let &low = msg.get(pos + 1).ok_or("pointer runs past the message")?;
                jumps += 1;
                if jumps > 32 {
                    return Err("compression pointers loop".into());
                }
                end.get_or_insert(pos + 2);
                pos = (usize::from(len & 0x3f) << 8) | usize::from(low);
            }
            _ => return Err(format!("unknown label type {len:#04x}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_laid_out_as_rfc_1035_says() {
        let q = query(0xbeef, "example.com.", 28).expect("query");
        assert_eq!(
            q,
            [
                &[0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0][..],
                b"\x07example\x03com\x00",
                &[0, 28, 0, 1],
            ]
            .concat()
        );
        assert_eq!(query(1, "", 1).expect("root")[12..], [0, 0, 1, 0, 1]);
        assert!(query(1, "a..b", 1).is_err());
        assert!(query(1, &"x".repeat(64), 1).is_err());
        assert!(query(1, &"a.".repeat(130), 1).is_err());
    }

    /// A response to `www.example.com A` with a compressed CNAME chain, two A records, an
    /// MX and a TXT record.
    fn response() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 5, 0, 0, 0, 0];
        m.extend_from_slice(b"\x03www\x07Example\x03com\x00\x00\x01\x00\x01"); // at 12
        // www.example.com CNAME web.example.com (web + pointer to "example.com" at 16)
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6]);
        m.extend_from_slice(b"\x03web\xc0\x10");
        // web.example.com A 192.0.2.1, A 192.0.2.2 (name: pointer to "web…" above)
        let web = 12 + 21 + 12;
        for last in [1u8, 2] {
            m.extend_from_slice(&[
                0xc0, web as u8, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, last,
            ]);
        }
        m.extend_from_slice(&[0xc0, 16, 0, 15, 0, 1, 0, 0, 0, 60, 0, 9, 0, 10]);
        m.extend_from_slice(b"\x04mail\xc0\x10");
        m.extend_from_slice(&[0xc0, 16, 0, 16, 0, 1, 0, 0, 0, 60, 0, 8]);
        m.extend_from_slice(b"\x03v=1\x03 ok");
        m
    }

    #[test]
    fn a_response_with_compressed_names() {
        let r = parse(&response()).expect("parse");
        assert_eq!((r.id, r.rcode, r.truncated), (0x1234, 0, false));
        let data: Vec<&Rdata> = r.answers.iter().map(|a| &a.data).collect();
        assert_eq!(
            data,
            [
                &Rdata::Name("web.example.com".into()),
                &Rdata::Address("192.0.2.1".parse().expect("ip")),
                &Rdata::Address("192.0.2.2".parse().expect("ip")),
                &Rdata::Mx {
                    preference: 10,
                    exchange: "mail.example.com".into()
                },
                &Rdata::Text("v=1 ok".into()),
            ]
        );
    }

    #[test]
    fn rcode_and_truncation_bits() {
        let mut m = response();
        m[2] = 0x83; // QR, TC, RD
        m[3] = 0x83; // RA, NXDOMAIN
        let r = parse(&m).expect("parse");
        assert_eq!((r.rcode, r.truncated), (3, true));
    }

    #[test]
    fn malformed_responses_are_errors_not_panics() {
        let good = response();
        for len in 0..good.len() {
            let _ = parse(&good[..len]);
        }
        assert!(parse(&good[..good.len() - 1]).is_err());
        // A query is not a response.
        let mut q = good.clone();
        q[2] = 0x01;
        assert_eq!(parse(&q), Err("a query, not a response".into()));
        // A pointer to itself.
        let mut looped = good[..12].to_vec();
        looped[7] = 0; // no answers
        looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(parse(&looped), Err("compression pointers loop".into()));
        // An A record with 3 bytes.
        let mut short = good[..33].to_vec();
        short[7] = 1;
        short.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 3, 1, 2, 3]);
        assert_eq!(parse(&short), Err("A record of the wrong length".into()));
        for byte in 0..=255u8 {
            let mut m = good.clone();
            m[40] = byte;
            let _ = parse(&m);
        }
    }

    #[test]
    fn record_type_names() {
        assert_eq!(record_type("aaaa"), Some(28));
        assert_eq!(record_type("MX"), Some(15));
        assert_eq!(record_type("SRV"), None);
    }
}
