//! Scrapes of a real HTTP server started by the tests on 127.0.0.1, serving each case's
//! `metrics.txt` (with the case's `content-type`, if it has one).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::thread;

use super::*;
use crate::inputs::testcases;

/// Serves `body` with `content_type` and `status` to every request, after reading the
/// request head.
fn serve(status: &'static str, content_type: String, body: Vec<u8>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    addr
}

/// The input with the server's random port in its `url` tag replaced by `PORT`, so that
/// `expected.out` is stable.
struct StablePort {
    inner: Prometheus,
    port: String,
}

impl Input for StablePort {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
        self.inner.gather(now_ms, out)?;
        for line in out.iter_mut() {
            for (key, value) in &mut line.tags {
                if key == "url" {
                    *value = Cow::Owned(value.replace(&self.port, "PORT"));
                }
            }
        }
        Ok(())
    }
}

/// `node` is node_exporter-like text: counters with labels, a histogram, a summary with
/// a NaN quantile, a `-Inf`, a name without `_` (`up`), a recording rule's name with `:`,
/// escapes, a timestamp, an empty label, and scraped `url` and `host` labels.
/// `telegraf_layout` is the same with `measurement = "prometheus"`, `no_timestamps` with
/// `honor_timestamps = false`; `openmetrics` has float-second timestamps, an exemplar and
/// `# EOF`.
#[test]
fn fixture_cases() {
    testcases::run("prometheus", fixture_input);
}

/// This input's part of the registry-wide test of first gathers: nothing needs two (the
/// scraped counters pass through as they are).
pub(crate) fn first_gathers() {
    let live = testcases::Live::default();
    testcases::check_first_gathers("prometheus", "node", &live, &[], fixture_input);
}

/// The input scraping a server that serves the case's `metrics.txt`.
fn fixture_input(mut config: Config, case: &Path) -> anyhow::Result<Box<dyn Input>> {
    let body = std::fs::read(case.join("metrics.txt"))?;
    let content_type = std::fs::read_to_string(case.join("content-type"))
        .map(|t| t.trim().to_string())
        .unwrap_or_else(|_| "text/plain; version=0.0.4; charset=utf-8".to_string());
    let addr = serve("200 OK", content_type, body);
    config.url = format!("http://{addr}/metrics");
    Ok(Box::new(StablePort {
        inner: Prometheus::new(&config)?,
        port: addr.port().to_string(),
    }))
}

fn scrape(addr: SocketAddr, config: Config) -> (Vec<Line<'static>>, anyhow::Result<()>) {
    let mut input = Prometheus::new(&Config {
        url: format!("http://{addr}/metrics"),
        ..config
    })
    .expect("new");
    let mut out = Vec::new();
    let result = input.gather(5, &mut out);
    (out, result)
}

#[test]
fn a_malformed_line_fails_the_whole_scrape_naming_the_line() {
    let addr = serve(
        "200 OK",
        "text/plain".into(),
        b"ok_one 1\nok_two 2\nbad{ 3\n".to_vec(),
    );
    let (out, result) = scrape(addr, Config::default());
    let err = result.expect_err("malformed").to_string();
    assert_eq!(
        err,
        format!("scraping http://{addr}/metrics: line 3: expected a label name at \"3\"")
    );
    assert!(out.is_empty(), "no partial scrape: {out:?}");
}

#[test]
fn a_status_other_than_200_fails_the_scrape() {
    let addr = serve("404 Not Found", "text/plain".into(), b"up 1\n".to_vec());
    let (out, result) = scrape(addr, Config::default());
    assert_eq!(
        result.expect_err("404").to_string(),
        format!("scraping http://{addr}/metrics: status 404")
    );
    assert!(out.is_empty());
}

#[test]
fn limits_fail_the_scrape() {
    let body = (0..100).map(|i| format!("m_{i} {i}\n")).collect::<String>();
    let addr = serve("200 OK", "text/plain".into(), body.into_bytes());
    let (out, result) = scrape(
        addr,
        Config {
            sample_limit: 99,
            ..Config::default()
        },
    );
    assert!(
        result
            .expect_err("limit")
            .to_string()
            .ends_with("more than 99 samples (sample_limit)")
    );
    assert!(out.is_empty());
    let (out, result) = scrape(
        addr,
        Config {
            sample_limit: 100,
            ..Config::default()
        },
    );
    result.expect("exactly at the limit");
    assert_eq!(out.len(), 100);
    let (_, result) = scrape(
        addr,
        Config {
            response_body_max_bytes: 500,
            ..Config::default()
        },
    );
    assert!(
        result
            .expect_err("size")
            .to_string()
            .contains("more than 500 bytes")
    );
}

#[test]
fn an_unreachable_endpoint_fails_the_scrape() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let (out, result) = scrape(addr, Config::default());
    let err = result.expect_err("refused").to_string();
    assert!(
        err.starts_with(&format!(
            "scraping http://{addr}/metrics: connecting to {addr}"
        )),
        "{err}"
    );
    assert!(out.is_empty());
}

/// The request asks for the classic text format.
#[test]
fn the_scrape_asks_for_text_format() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
            head.push(byte[0]);
        }
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nup 1\n");
        String::from_utf8_lossy(&head).into_owned()
    });
    let (out, result) = scrape(
        addr,
        Config {
            headers: BTreeMap::from([("Authorization".to_string(), "Bearer t".to_string())]),
            ..Config::default()
        },
    );
    result.expect("scrape");
    assert_eq!(out.len(), 1);
    let head = server.join().expect("server");
    assert!(head.starts_with("GET /metrics HTTP/1.1\r\n"), "{head}");
    assert!(
        head.contains("\r\nAccept: text/plain;version=0.0.4;q=1,*/*;q=0.1\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\nAuthorization: Bearer t\r\n"), "{head}");
}

#[test]
fn names_split_into_the_same_series() {
    assert_eq!(
        split_name("node_cpu_seconds_total"),
        ("node", "cpu_seconds_total")
    );
    assert_eq!(
        split_name("job:http_errors:rate5m"),
        ("job:http", "errors:rate5m")
    );
    assert_eq!(split_name("_private_thing"), ("_private", "thing"));
    assert_eq!(split_name("__x"), ("_", "x"));
    assert_eq!(split_name("up"), ("up", "value"));
    assert_eq!(split_name("trailing_"), ("trailing_", "value"));
    // measurement + "_" + field is the name whenever it was split.
    for name in ["a_b", "node_load1", "a__b", "x_y_z"] {
        let (m, f) = split_name(name);
        assert_eq!(format!("{m}_{f}"), name);
    }
}

#[test]
fn sample_config_is_a_complete_example() {
    let example: Config = testcases::assert_instance_sample(SAMPLE_CONFIG, "prometheus");
    assert_eq!(example.url, "http://127.0.0.1:9100/metrics");
    assert_eq!(example.sample_limit, Config::default().sample_limit);
    Prometheus::new(&example).expect("the example builds");
}

/// The series are the scraped names, which no README can list; it must show the sample
/// and explain the mapping and the tags the input adds or renames.
#[test]
fn readme_documents_sample_and_naming() {
    let readme = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/inputs/prometheus/README.md"),
    )
    .expect("README.md");
    assert!(
        readme.contains(SAMPLE_CONFIG.trim_end()),
        "sample.toml not shown verbatim"
    );
    for needle in [
        "`url`",
        "`exported_url`",
        "`exported_host`",
        "`up_value`",
        "`prometheus_node_load1`",
    ] {
        assert!(readme.contains(needle), "README lacks {needle}");
    }
}
