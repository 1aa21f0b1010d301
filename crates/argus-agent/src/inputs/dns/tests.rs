//! Lookups against the system resolver and against a DNS server started by the tests on
//! 127.0.0.1 (UDP, and TCP on the same port for truncated answers). The server builds
//! its answers by hand, not with [`wire`], so that the two are checked against each
//! other.

use std::net::{Ipv6Addr, TcpListener, UdpSocket};
use std::thread;

use super::*;
use crate::inputs::testcases::{self, field};

/// The question of a query: its name (lower case, dotted) and type, and the question
/// section's bytes.
fn question(query: &[u8]) -> (String, u16, Vec<u8>) {
    let mut pos = 12;
    let mut labels = Vec::new();
    while query[pos] != 0 {
        let len = usize::from(query[pos]);
        labels.push(String::from_utf8_lossy(&query[pos + 1..pos + 1 + len]).to_lowercase());
        pos += 1 + len;
    }
    let qtype = u16::from_be_bytes([query[pos + 1], query[pos + 2]]);
    (labels.join("."), qtype, query[12..pos + 5].to_vec())
}

/// One answer record for the question's name (a pointer to offset 12).
fn record(rtype: u16, rdata: &[u8]) -> Vec<u8> {
    let mut r = vec![0xc0, 12];
    r.extend_from_slice(&rtype.to_be_bytes());
    r.extend_from_slice(&[0, 1, 0, 0, 1, 44]); // IN, TTL 300
    r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    r.extend_from_slice(rdata);
    r
}

fn message(id: u16, flags: u16, question: &[u8], answers: &[Vec<u8>]) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    m.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    m.extend_from_slice(question);
    for a in answers {
        m.extend_from_slice(a);
    }
    m
}

/// What the test zone holds; `None`: no reply at all.
fn answer(query: &[u8], over_tcp: bool) -> Vec<Vec<u8>> {
    let id = u16::from_be_bytes([query[0], query[1]]);
    let (name, qtype, q) = question(query);
    const OK: u16 = 0x8180;
    let reply = |flags: u16, answers: &[Vec<u8>]| vec![message(id, flags, &q, answers)];
    match (name.as_str(), qtype) {
        ("www.example.test", 1) => reply(
            OK,
            &[record(1, &[192, 0, 2, 10]), record(1, &[192, 0, 2, 11])],
        ),
        ("www.example.test", 28) => reply(
            OK,
            &[record(
                28,
                &"2001:db8::10".parse::<Ipv6Addr>().expect("ip").octets(),
            )],
        ),
        ("mail.example.test", 15) => {
            reply(OK, &[record(15, b"\x00\x0a\x03mx1\x07example\x04test\x00")])
        }
        ("txt.example.test", 16) => reply(OK, &[record(16, b"\x07v=spf1 \x04-all")]),
        ("alias.example.test", 5) => reply(OK, &[record(5, b"\x03www\x07example\x04test\x00")]),
        ("big.example.test", 1) if !over_tcp => reply(0x8380, &[]), // TC
        ("big.example.test", 1) => reply(OK, &[record(1, &[192, 0, 2, 99])]),
        ("spoof.example.test", 1) => vec![
            message(id.wrapping_add(1), OK, &q, &[record(1, &[6, 6, 6, 6])]),
            message(id, OK, &q, &[record(1, &[192, 0, 2, 20])]),
        ],
        ("silent.example.test", _) => Vec::new(),
        _ => reply(0x8183, &[]), // NXDOMAIN
    }
}

/// Starts the test server; returns its port (UDP and TCP).
fn serve() -> u16 {
    let (udp, tcp) = loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("udp");
        let port = udp.local_addr().expect("addr").port();
        if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)) {
            break (udp, tcp);
        }
    };
    let port = udp.local_addr().expect("addr").port();
    thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = udp.recv_from(&mut buf) {
            for reply in answer(&buf[..n], false) {
                let _ = udp.send_to(&reply, from);
            }
        }
    });
    thread::spawn(move || {
        for stream in tcp.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut len = [0u8; 2];
            if stream.read_exact(&mut len).is_err() {
                continue;
            }
            let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
            if stream.read_exact(&mut query).is_err() {
                continue;
            }
            for reply in answer(&query, true) {
                let _ = stream.write_all(&(reply.len() as u16).to_be_bytes());
                let _ = stream.write_all(&reply);
            }
        }
    });
    port
}

fn lookup(config: Config) -> Line<'static> {
    testcases::gather_one(Dns::new(&config))
}

fn to(port: u16, domain: &str, record_type: &str, expect: &str) -> Config {
    Config {
        domain: domain.into(),
        record_type: record_type.into(),
        server: format!("127.0.0.1:{port}"),
        expect: expect.into(),
        response_timeout_ms: 1000,
        ..Config::default()
    }
}

/// The cases ask [`serve`]'s zone, see [`answer`].
#[test]
fn fixture_cases() {
    let live = testcases::Live {
        vars: &[("{port}", serve().to_string())],
    };
    testcases::run_live("dns", &live, fixture_input);
}

/// This input's part of the registry-wide test of first gathers: nothing needs two.
pub(crate) fn first_gathers() {
    let live = testcases::Live {
        vars: &[("{port}", serve().to_string())],
    };
    testcases::check_first_gathers("dns", "a_record", &live, &[], fixture_input);
}

fn fixture_input(config: Config, _: &std::path::Path) -> anyhow::Result<Box<dyn Input>> {
    Ok(Box::new(Dns::new(&config)?))
}

#[test]
fn readme_documents_sample_and_every_series() {
    testcases::assert_readme_documents("dns", SAMPLE_CONFIG);
}

#[test]
fn the_query_time_is_in_milliseconds() {
    let port = serve();
    let line = lookup(to(port, "www.example.test", "A", ""));
    let ms = field(&line, "query_time_ms").expect("query_time_ms");
    assert!(ms > 0.0 && ms < 1000.0, "{ms}");
}

#[test]
fn no_reply_is_a_timeout_at_response_timeout_ms() {
    let port = serve();
    let start = Instant::now();
    let line = lookup(Config {
        response_timeout_ms: 300,
        ..to(port, "silent.example.test", "A", "")
    });
    let took = start.elapsed();
    assert_eq!(field(&line, "result_code"), Some(result::TIMEOUT as f64));
    assert_eq!(field(&line, "query_time_ms"), None);
    assert_eq!(field(&line, "rcode_value"), None);
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(1),
        "{took:?}"
    );
}

#[test]
fn no_server_is_an_error() {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = socket.local_addr().expect("addr").port();
    drop(socket);
    // The kernel's port unreachable reaches the connected socket as ECONNREFUSED.
    let line = lookup(to(port, "www.example.test", "A", ""));
    assert_eq!(field(&line, "result_code"), Some(result::ERROR as f64));
}

#[test]
fn the_system_resolver_knows_localhost() {
    let line = lookup(Config {
        domain: "localhost".into(),
        expect: "127.0.0.1".into(),
        ..Config::default()
    });
    assert_eq!(line.tags[0], tag("server", "system"));
    assert_eq!(field(&line, "result_code"), Some(0.0));
    assert_eq!(field(&line, "answer_match"), Some(1.0));
    assert_eq!(
        field(&line, "rcode_value"),
        None,
        "getaddrinfo has no rcode"
    );
    assert!(field(&line, "query_time_ms").is_some());

    let line = lookup(Config {
        domain: "no-such-host.invalid".into(),
        ..Config::default()
    });
    assert_eq!(field(&line, "result_code"), Some(result::ERROR as f64));
}

#[test]
fn bad_options_are_errors() {
    let err = |config: Config| {
        Dns::new(&config)
            .map(|_| ())
            .expect_err("invalid")
            .to_string()
    };
    let ok = Config {
        domain: "example.com".into(),
        ..Config::default()
    };
    assert_eq!(err(Config::default()), "domain: required");
    assert!(
        err(Config {
            record_type: "SRV".into(),
            ..ok.clone()
        })
        .starts_with("record_type \"SRV\": expected one of")
    );
    assert!(
        err(Config {
            record_type: "MX".into(),
            ..ok.clone()
        })
        .contains("system resolver answers A and AAAA only")
    );
    assert!(
        err(Config {
            expect: "::1".into(),
            ..ok.clone()
        })
        .contains("not an address of a A record")
    );
    assert!(
        err(Config {
            expect: "nope".into(),
            ..ok.clone()
        })
        .contains("not an IP address")
    );
    assert!(
        err(Config {
            domain: "a..b".into(),
            ..ok.clone()
        })
        .contains("labels must have 1 to 63")
    );
    assert!(
        err(Config {
            server: "1.2.3.4:x".into(),
            ..ok.clone()
        })
        .starts_with("server")
    );
}

#[test]
fn servers() {
    let dns = |host: &str, port: u16| Server::Dns {
        host: host.into(),
        port,
    };
    assert_eq!(parse_server("").expect("ok"), Server::System);
    assert_eq!(parse_server("1.1.1.1").expect("ok"), dns("1.1.1.1", 53));
    assert_eq!(
        parse_server("2606:4700::1111").expect("ok"),
        dns("2606:4700::1111", 53)
    );
    assert_eq!(parse_server("[::1]:5353").expect("ok"), dns("::1", 5353));
    assert_eq!(
        parse_server("10.0.0.2:5353").expect("ok"),
        dns("10.0.0.2", 5353)
    );
    assert_eq!(
        parse_server("ns1.example.com").expect("ok"),
        dns("ns1.example.com", 53)
    );
    assert_eq!(
        parse_server("ns1.example.com:54").expect("ok"),
        dns("ns1.example.com", 54)
    );
}

#[test]
fn sample_config_is_a_complete_example() {
    let example: Config = testcases::assert_instance_sample(SAMPLE_CONFIG, "dns");
    assert_eq!(example.domain, "www.example.com");
    assert_eq!(example.server, "1.1.1.1");
    Dns::new(&example).expect("the example builds");
}
