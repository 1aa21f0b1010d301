use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::thread;

use super::*;
use crate::inputs::testcases;

/// A server on 127.0.0.1 that answers each connection with `reply(first line)`, or
/// holds it open in silence when `reply` gives `None`.
fn server(reply: fn(&str) -> Option<String>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            thread::spawn(move || {
                let mut line = String::new();
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                let _ = reader.read_line(&mut line);
                match reply(line.trim_end()) {
                    Some(answer) => {
                        let _ = stream.write_all(answer.as_bytes());
                    }
                    None => thread::sleep(Duration::from_secs(2)),
                }
            });
        }
    });
    addr
}

fn check(config: Config) -> Line<'static> {
    testcases::gather_one(Tcp::new(&config))
}

fn code(line: &Line<'_>) -> f64 {
    line.fields[0].1.as_f64().expect("result_code")
}

fn response_time(line: &Line<'_>) -> Option<f64> {
    testcases::field(line, "response_time")
}

fn config(address: impl ToString) -> Config {
    Config {
        address: address.to_string(),
        read_timeout_ms: 300,
        ..Config::default()
    }
}

/// The cases run against [`server`], which answers `PING` with `+PONG` and anything else
/// with `-ERR`; `{closed}` is a port nobody listens on.
#[test]
fn fixture_cases() {
    let vars = servers();
    let live = testcases::Live { vars: &vars };
    testcases::run_live("tcp", &live, fixture_input);
}

/// This input's part of the registry-wide test of first gathers: nothing needs two.
pub(crate) fn first_gathers() {
    let vars = servers();
    let live = testcases::Live { vars: &vars };
    testcases::check_first_gathers("tcp", "send_expect", &live, &[], fixture_input);
}

fn fixture_input(config: Config, _: &std::path::Path) -> anyhow::Result<Box<dyn Input>> {
    Ok(Box::new(Tcp::new(&config)?))
}

/// The `{port}` of a [`server`] for the cases and a `{closed}` one.
fn servers() -> Vec<(&'static str, String)> {
    let addr = server(|line| {
        Some(
            if line == "PING" {
                "+PONG\r\n"
            } else {
                "-ERR\r\n"
            }
            .into(),
        )
    });
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_port = closed.local_addr().expect("addr").port();
    drop(closed);
    vec![
        ("{port}", addr.port().to_string()),
        ("{closed}", closed_port.to_string()),
    ]
}

#[test]
fn readme_documents_sample_and_every_series() {
    testcases::assert_readme_documents("tcp", SAMPLE_CONFIG);
}

#[test]
fn the_response_time_is_the_connect_time_in_seconds() {
    let addr = server(|_| Some(String::new()));
    let line = check(config(addr));
    assert_eq!(code(&line), result::SUCCESS as f64);
    let seconds = response_time(&line).expect("response_time");
    assert!(seconds > 0.0 && seconds < 1.0, "{seconds}");
}

#[test]
fn silence_is_a_read_failure_after_read_timeout_ms() {
    let addr = server(|_| None);
    let start = Instant::now();
    let line = check(Config {
        send: "PING\n".into(),
        expect: "PONG".into(),
        ..config(addr)
    });
    let took = start.elapsed();
    assert_eq!(code(&line), result::READ_FAILED as f64);
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
}

/// A listener whose accept queue is full drops new SYNs: the connection hangs, which is
/// what a firewalled port looks like.
#[test]
fn a_connection_that_hangs_times_out() {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    listener.bind(&any.into()).expect("bind");
    listener.listen(0).expect("listen");
    let addr = listener
        .local_addr()
        .expect("addr")
        .as_socket()
        .expect("inet");
    let mut held = Vec::new();
    let mut full = false;
    for _ in 0..16 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(stream) => held.push(stream),
            Err(_) => {
                full = true;
                break;
            }
        }
    }
    assert!(full, "the accept queue never filled");
    let start = Instant::now();
    let line = check(Config {
        response_timeout_ms: 300,
        ..config(addr)
    });
    assert_eq!(code(&line), result::TIMEOUT as f64);
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn addresses() {
    assert_eq!(
        split_address("localhost:22").expect("ok"),
        ("localhost".into(), 22)
    );
    assert_eq!(
        split_address("[::1]:6379").expect("ok"),
        ("::1".into(), 6379)
    );
    assert_eq!(
        split_address("10.0.0.1:443").expect("ok"),
        ("10.0.0.1".into(), 443)
    );
    for bad in [
        "localhost",
        "::1:22",
        "[::1:22",
        ":22",
        "host:",
        "host:0",
        "host:70000",
        "",
    ] {
        assert!(split_address(bad).is_err(), "{bad}");
    }
    let err = Tcp::new(&Config {
        read_timeout_ms: 0,
        ..config("h:1")
    })
    .expect_err("no read time");
    assert!(
        err.to_string()
            .starts_with("read_timeout_ms: must be between 1"),
        "{err}"
    );
    let err = Tcp::new(&config("nohost")).expect_err("no port");
    assert_eq!(
        err.to_string(),
        "address \"nohost\": expected host:port, e.g. \"localhost:22\""
    );
}

#[test]
fn sample_config_is_a_complete_example() {
    let example: Config = testcases::assert_instance_sample(SAMPLE_CONFIG, "tcp");
    assert_eq!(example.address, "localhost:6379");
    assert_eq!(example.send, "PING\r\n");
    Tcp::new(&example).expect("the example builds");
}
