use std::time::Instant;

use super::*;
use crate::inputs::testcases::{self, field};

fn run(config: Config) -> Line<'static> {
    testcases::gather_one(Ping::new(&config))
}

fn config(host: &str) -> Config {
    Config {
        host: host.into(),
        count: 3,
        ping_interval_ms: 50,
        response_timeout_ms: 1000,
        ..Config::default()
    }
}

/// Loopback answers every echo; this runs on a socket of the agent's own (raw as root,
/// which CI is; a datagram one where `ping_group_range` allows).
#[test]
fn loopback_answers_every_echo() {
    let start = Instant::now();
    let line = run(Config {
        method: "native".into(),
        ..config("127.0.0.1")
    });
    assert_eq!(line.measurement, "ping");
    assert_eq!(line.tags, [tag("url", "127.0.0.1")]);
    assert_eq!(field(&line, "result_code"), Some(0.0), "{line:?}");
    assert_eq!(field(&line, "packets_transmitted"), Some(3.0));
    assert_eq!(field(&line, "packets_received"), Some(3.0));
    assert_eq!(field(&line, "percent_packet_loss"), Some(0.0));
    let min = field(&line, "minimum_response_ms").expect("min");
    let avg = field(&line, "average_response_ms").expect("avg");
    let max = field(&line, "maximum_response_ms").expect("max");
    let stddev = field(&line, "standard_deviation_ms").expect("stddev");
    assert!(
        0.0 < min && min <= avg && avg <= max && max < 100.0,
        "{min} {avg} {max}"
    );
    assert!(stddev >= 0.0 && stddev <= max - min);
    // Three requests 50 ms apart, answered at once: no waiting for the timeout.
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn ipv6_loopback_answers_too() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    }
    let line = run(Config {
        method: "native".into(),
        ..config("::1")
    });
    assert_eq!(field(&line, "result_code"), Some(0.0), "{line:?}");
    assert_eq!(field(&line, "packets_received"), Some(3.0));
}

#[test]
fn a_pinger_reports_its_socket_kind() {
    let mut pinger = icmp::Pinger::open("127.0.0.1".parse().expect("ip")).expect("socket");
    let kind = pinger.kind();
    let stats = pinger
        .run(2, Duration::from_millis(10), Duration::from_millis(500))
        .expect("run");
    eprintln!("socket kind: {kind:?}");
    assert_eq!((stats.transmitted, stats.received), (2, 2), "{kind:?}");
    assert_eq!(stats.rtts.len(), 2);
}

/// An address nobody answers (TEST-NET-1, RFC 5737): everything lost after the
/// timeout, which is not an error.
#[test]
fn silence_is_total_loss_not_an_error() {
    let start = Instant::now();
    let line = run(Config {
        count: 2,
        response_timeout_ms: 300,
        method: "native".into(),
        ..config("192.0.2.1")
    });
    let code = field(&line, "result_code");
    if code == Some(result::PING_ERROR as f64) {
        // No route at all: sending failed, which is reported as such.
        return;
    }
    assert_eq!(code, Some(0.0), "{line:?}");
    if field(&line, "packets_received") != Some(0.0) {
        // Some sandboxes' network stacks answer echoes for every address.
        eprintln!("192.0.2.1 answered here; skipped");
        return;
    }
    assert_eq!(field(&line, "packets_received"), Some(0.0));
    assert_eq!(field(&line, "percent_packet_loss"), Some(100.0));
    assert_eq!(field(&line, "average_response_ms"), None);
    assert!(start.elapsed() >= Duration::from_millis(300));
}

/// `loopback` pings 127.0.0.1 on a socket of the agent's own, as
/// [`loopback_answers_every_echo`] does; the `exec_*` cases run a stand-in `ping` script
/// from the case's folder that checks its arguments and prints what iputils would.
#[test]
fn fixture_cases() {
    testcases::run("ping", fixture_input);
}

/// This input's part of the registry-wide test of first gathers: nothing needs two. The
/// stand-in `ping` answers whatever the machine allows (ICMP sockets may be forbidden).
pub(crate) fn first_gathers() {
    let live = testcases::Live::default();
    testcases::check_first_gathers("ping", "exec_summary", &live, &[], fixture_input);
}

fn fixture_input(config: Config, _: &std::path::Path) -> anyhow::Result<Box<dyn Input>> {
    Ok(Box::new(Ping::new(&config)?))
}

#[test]
fn readme_documents_sample_and_every_series() {
    testcases::assert_readme_documents("ping", SAMPLE_CONFIG);
}

#[test]
fn bad_options_are_errors() {
    let err = |config: Config| {
        Ping::new(&config)
            .map(|_| ())
            .expect_err("invalid")
            .to_string()
    };
    assert_eq!(err(Config::default()), "host: required");
    assert!(err(config("-f")).contains("not a host name"));
    assert!(err(config("a b")).contains("not a host name"));
    assert_eq!(
        err(Config {
            count: 0,
            ..config("h")
        }),
        "count: must be at least 1"
    );
    assert!(
        err(Config {
            ping_interval_ms: u64::MAX,
            ..config("h")
        })
        .starts_with("ping_interval_ms:")
    );
    assert!(
        err(Config {
            response_timeout_ms: u64::MAX,
            ..config("h")
        })
        .starts_with("response_timeout_ms:")
    );
    assert!(
        err(Config {
            method: "raw".into(),
            ..config("h")
        })
        .starts_with("method \"raw\"")
    );
}

#[test]
fn statistics_of_round_trips() {
    let ms = |v: &[u64]| {
        v.iter()
            .map(|&m| Duration::from_millis(m))
            .collect::<Vec<_>>()
    };
    assert_eq!(rtt_stats(&[]), None);
    assert_eq!(
        rtt_stats(&ms(&[2, 4, 4, 4, 5, 5, 7, 9])),
        Some([2.0, 5.0, 9.0, 2.0])
    );
}

#[test]
fn sample_config_is_a_complete_example() {
    let example: Config = testcases::assert_instance_sample(SAMPLE_CONFIG, "ping");
    assert_eq!(example.host, "192.168.1.1");
    assert_eq!(example.count, Config::default().count);
    Ping::new(&example).expect("the example builds");
}
