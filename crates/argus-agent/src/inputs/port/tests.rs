use std::borrow::Cow;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::Path;

use super::*;
use crate::inputs::testcases;

/// `host` has TCP listeners on 22 (all IPv4 addresses), 3306 (loopback) and 443 (IPv6
/// only), connections on local ports 22, 80 and 8080 (80 and 8080 are not listened on:
/// an established or TIME_WAIT socket is no listener), UDP servers on 53, 68 and 5353
/// (IPv6) and a connected UDP client on 54321. `no_ipv6` has no `tcp6` file, as on a
/// kernel without IPv6.
#[test]
fn fixture_cases() {
    testcases::run("port", fixture_input);
}

/// The input for a case: on the case's own `proc/` if it has one, else on `host`.
fn fixture_input(mut config: Config, case: &Path) -> anyhow::Result<Box<dyn Input>> {
    config.procfs_root = if case.join("proc").exists() {
        case.join("proc")
    } else {
        case.join("../host/proc")
    };
    Ok(Box::new(Port::new(&config)?))
}

/// This input's part of the registry-wide test of first gathers: nothing needs two.
pub(crate) fn first_gathers() {
    let live = testcases::Live::default();
    testcases::check_first_gathers("port", "tcp", &live, &[], fixture_input);
}

#[test]
fn sample_config_is_a_complete_example() {
    let example: Config = testcases::assert_instance_sample(SAMPLE_CONFIG, "port");
    assert_eq!(example.ports, [22, 80, 443]);
    assert_eq!(example.protocol, "tcp");
    assert_eq!(example.procfs_root, Config::default().procfs_root);
}

#[test]
fn readme_documents_sample_and_every_series() {
    testcases::assert_readme_documents("port", SAMPLE_CONFIG);
}

#[test]
fn bad_options_are_errors() {
    let err = Port::new(&Config::default()).expect_err("no ports");
    assert_eq!(err.to_string(), "ports: list at least one port");
    let err = Port::new(&Config {
        ports: vec![1],
        protocol: "sctp".into(),
        ..Config::default()
    })
    .expect_err("protocol");
    assert_eq!(
        err.to_string(),
        "protocol \"sctp\": expected \"tcp\" or \"udp\""
    );
}

#[test]
fn malformed_tables_are_errors_naming_the_line() {
    let mut found = [false];
    assert_eq!(
        scan(
            "header\n 0: 0100007F:zz 00000000:0000 0A\n",
            false,
            &[1],
            &mut found
        ),
        Err(ParseError::new(2, "bad address \"0100007F:zz\""))
    );
    assert_eq!(
        scan("header\n 0: 0100007F:0016\n", false, &[22], &mut found),
        Err(ParseError::new(
            2,
            "expected sl, local_address, rem_address, st"
        ))
    );
    assert_eq!(scan("header\n\n", false, &[22], &mut found), Ok(()));
    assert_eq!(found, [false]);
}

/// One gather of `input`, at the real `/proc`.
fn gather(input: &mut Port) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    input.gather(1, &mut out).expect("gather");
    out
}

fn listening(out: &[Line<'_>]) -> Vec<(String, u64)> {
    out.iter()
        .map(|l| {
            let port = l.tags[0].1.to_string();
            let value = l.fields[0].1.as_f64().unwrap_or(-1.0) as u64;
            (port, value)
        })
        .collect()
}

/// Sockets opened by the test, seen in the real `/proc/net`.
#[test]
fn real_sockets_of_this_process() {
    let tcp = TcpListener::bind("127.0.0.1:0").expect("tcp listener");
    let tcp_port = tcp.local_addr().expect("addr").port();
    let client = TcpStream::connect(("127.0.0.1", tcp_port)).expect("connect");
    let client_port = client.local_addr().expect("addr").port();
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let udp_port = udp.local_addr().expect("addr").port();

    let mut tcp_input = Port::new(&Config {
        ports: vec![tcp_port, client_port],
        ..Config::default()
    })
    .expect("tcp input");
    assert_eq!(
        listening(&gather(&mut tcp_input)),
        [(tcp_port.to_string(), 1), (client_port.to_string(), 0)]
    );

    let mut udp_input = Port::new(&Config {
        ports: vec![udp_port, tcp_port],
        protocol: "udp".into(),
        ..Config::default()
    })
    .expect("udp input");
    let out = gather(&mut udp_input);
    assert_eq!(
        listening(&out),
        [(udp_port.to_string(), 1), (tcp_port.to_string(), 0)]
    );
    assert_eq!(
        out[0].tags[1],
        (Cow::Borrowed("protocol"), Cow::Borrowed("udp"))
    );

    drop(tcp);
    assert_eq!(
        listening(&gather(&mut tcp_input))[0],
        (tcp_port.to_string(), 0)
    );
}

#[test]
fn a_missing_table_is_an_error_naming_it() {
    let err = testcases::gather_err(Port::new(&Config {
        ports: vec![22],
        procfs_root: "/nonexistent-argus-proc".into(),
        ..Config::default()
    }));
    assert!(
        err.starts_with("reading /nonexistent-argus-proc/net/tcp: "),
        "{err}"
    );
}
