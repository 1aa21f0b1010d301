//! Probes against real servers started by the tests on 127.0.0.1: plain HTTP/1.1 and
//! HTTPS (rustls with the certificates in `testdata/tls`).

use std::io::{BufRead, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::*;
use crate::inputs::testcases::{self, field, tag_of};

/// The server certificate's notAfter (see `testdata/tls/README.md`).
const NOT_AFTER_SECS: i64 = 4_948_918_106;
const NOW_MS: i64 = 1_700_000_000_000;

fn tls_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/inputs/http/testdata/tls")
}

/// A request as the test server received it.
#[derive(Debug, Clone, Default)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The raw response to a request, by its path (`port` is the server's own).
fn respond(seen: &Seen, port: u16) -> Vec<u8> {
    let plain = |status: &str, body: &str| {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let text = match seen.path.as_str() {
        "/ok" => plain("200 OK", "hello world"),
        "/chunked" => "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                       5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
            .to_string(),
        "/close" => "HTTP/1.1 200 OK\r\n\r\nhello world".to_string(),
        "/continue" => format!("HTTP/1.1 100 Continue\r\n\r\n{}", plain("200 OK", "ok")),
        "/redirect" => "HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 3\r\n\r\ngo!".into(),
        "/see-other" => {
            "HTTP/1.1 303 See Other\r\nLocation: /echo\r\nContent-Length: 0\r\n\r\n".into()
        }
        "/elsewhere" => format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://localhost:{port}/echo\r\nContent-Length: 0\r\n\r\n"
        ),
        "/loop" => "HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n".into(),
        "/echo" => {
            let body = format!("{} {}", seen.method, String::from_utf8_lossy(&seen.body));
            plain("200 OK", &body)
        }
        "/unavailable" => plain("503 Service Unavailable", "down"),
        "/big" => plain("200 OK", &"x".repeat(100)),
        "/truncated" => "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello".into(),
        "/garbage" => "SSH-2.0-OpenSSH_9.6\r\n\r\n".into(),
        "/slow" => {
            thread::sleep(Duration::from_millis(1500));
            plain("200 OK", "late")
        }
        _ => plain("404 Not Found", "no such path"),
    };
    text.into_bytes()
}

/// Reads one request: its head up to the blank line, then `Content-Length` bytes.
fn read_request(stream: &mut impl Read) -> Option<Seen> {
    let mut reader = std::io::BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let mut seen = Seen {
        method: parts.next()?.to_string(),
        path: parts.next()?.to_string(),
        ..Seen::default()
    };
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (k, v) = trimmed.split_once(':')?;
        seen.headers
            .push((k.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = seen
        .header("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    seen.body = vec![0; len];
    reader.read_exact(&mut seen.body).ok()?;
    Some(seen)
}

/// A server on 127.0.0.1 (HTTPS with `tls`) answering every connection with
/// [`respond`]; returns its address and the requests it received.
fn serve(tls: bool) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let config = tls.then(|| {
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(tls_dir().join("server.pem"))
                .expect("server.pem")
                .map(|c| c.expect("cert"))
                .collect();
        let key = PrivateKeyDer::from_pem_file(tls_dir().join("server.key")).expect("server.key");
        Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server config"),
        )
    });
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let log = log.clone();
            let config = config.clone();
            thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                match config {
                    Some(config) => {
                        let Ok(conn) = rustls::ServerConnection::new(config) else {
                            return;
                        };
                        let mut tls = rustls::StreamOwned::new(conn, stream);
                        handle(&mut tls, &log, addr.port());
                        tls.conn.send_close_notify();
                        let _ = tls.flush();
                    }
                    None => {
                        let mut stream = stream;
                        handle(&mut stream, &log, addr.port());
                    }
                }
            });
        }
    });
    (addr, seen)
}

fn handle(stream: &mut (impl Read + Write), log: &Mutex<Vec<Seen>>, port: u16) {
    let Some(seen) = read_request(stream) else {
        return;
    };
    let response = respond(&seen, port);
    log.lock().expect("log").push(seen);
    let _ = stream.write_all(&response);
    let _ = stream.flush();
}

fn probe(config: Config) -> Line<'static> {
    testcases::gather_one(Http::new(&config))
}

fn url(addr: SocketAddr, path: &str) -> Config {
    Config {
        url: format!("http://{addr}{path}"),
        response_timeout_ms: 3000,
        ..Config::default()
    }
}

fn code(line: &Line<'_>) -> u64 {
    field(line, "result_code").expect("result_code") as u64
}

#[test]
fn a_get_reports_status_time_and_length() {
    let (addr, seen) = serve(false);
    let line = probe(url(addr, "/ok"));
    assert_eq!(line.measurement, "http_response");
    assert_eq!(
        tag_of(&line, "server"),
        Some(format!("http://{addr}/ok").as_str())
    );
    assert_eq!(tag_of(&line, "method"), Some("GET"));
    assert_eq!(tag_of(&line, "status_code"), Some("200"));
    assert_eq!(code(&line), result::SUCCESS);
    assert_eq!(field(&line, "http_response_code"), Some(200.0));
    assert_eq!(field(&line, "content_length"), Some(11.0));
    let seconds = field(&line, "response_time").expect("response_time");
    assert!(seconds > 0.0 && seconds < 3.0, "{seconds}");
    assert_eq!(field(&line, "tls_cert_days_left"), None, "not https");
    let seen = seen.lock().expect("seen");
    assert_eq!(seen[0].header("host"), Some(addr.to_string().as_str()));
    assert_eq!(seen[0].header("connection"), Some("close"));
    assert!(
        seen[0]
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("argus-agent/"))
    );
}

#[test]
fn bodies_in_every_framing_are_read_whole() {
    let (addr, _) = serve(false);
    for path in ["/ok", "/chunked", "/close"] {
        let line = probe(Config {
            response_string_match: "^hello world$".into(),
            ..url(addr, path)
        });
        assert_eq!(code(&line), result::SUCCESS, "{path}");
        assert_eq!(field(&line, "content_length"), Some(11.0), "{path}");
        assert_eq!(field(&line, "response_string_match"), Some(1.0), "{path}");
    }
    // An interim 100 Continue is skipped.
    let line = probe(url(addr, "/continue"));
    assert_eq!(field(&line, "http_response_code"), Some(200.0));
    assert_eq!(field(&line, "content_length"), Some(2.0));
}

#[test]
fn a_body_that_does_not_match_is_result_1() {
    let (addr, _) = serve(false);
    let line = probe(Config {
        response_string_match: "goodbye".into(),
        ..url(addr, "/ok")
    });
    assert_eq!(code(&line), result::RESPONSE_STRING_MISMATCH);
    assert_eq!(field(&line, "response_string_match"), Some(0.0));
}

#[test]
fn an_unexpected_status_is_result_6() {
    let (addr, _) = serve(false);
    let line = probe(Config {
        response_status_code: 200,
        ..url(addr, "/unavailable")
    });
    assert_eq!(code(&line), result::RESPONSE_STATUS_CODE_MISMATCH);
    assert_eq!(field(&line, "response_status_code_match"), Some(0.0));
    assert_eq!(tag_of(&line, "status_code"), Some("503"));
    // Without response_status_code a 503 is an answer like any other.
    let line = probe(url(addr, "/unavailable"));
    assert_eq!(code(&line), result::SUCCESS);
    assert_eq!(field(&line, "http_response_code"), Some(503.0));
}

#[test]
fn bodies_too_long_or_cut_short_are_result_2() {
    let (addr, _) = serve(false);
    let line = probe(Config {
        response_body_max_bytes: 10,
        ..url(addr, "/big")
    });
    assert_eq!(code(&line), result::BODY_READ_ERROR);
    assert_eq!(field(&line, "content_length"), None);
    let line = probe(url(addr, "/truncated"));
    assert_eq!(code(&line), result::BODY_READ_ERROR);
    assert_eq!(field(&line, "http_response_code"), Some(200.0));
}

#[test]
fn redirects_are_answers_unless_followed() {
    let (addr, seen) = serve(false);
    let line = probe(url(addr, "/redirect"));
    assert_eq!(field(&line, "http_response_code"), Some(302.0));
    assert_eq!(field(&line, "content_length"), Some(3.0));

    let line = probe(Config {
        follow_redirects: true,
        ..url(addr, "/redirect")
    });
    assert_eq!(field(&line, "http_response_code"), Some(200.0));
    assert_eq!(field(&line, "content_length"), Some(11.0));

    // A 303 after a POST becomes a GET without the body.
    let line = probe(Config {
        follow_redirects: true,
        method: "post".into(),
        body: "a=1".into(),
        response_string_match: "^GET $".into(),
        ..url(addr, "/see-other")
    });
    assert_eq!(code(&line), result::SUCCESS);
    assert_eq!(tag_of(&line, "method"), Some("POST"));

    let line = probe(Config {
        follow_redirects: true,
        ..url(addr, "/loop")
    });
    assert_eq!(code(&line), result::CONNECTION_FAILED);
    assert_eq!(field(&line, "http_response_code"), None);
    let loops = seen
        .lock()
        .expect("seen")
        .iter()
        .filter(|s| s.path == "/loop")
        .count();
    assert_eq!(loops, client::MAX_REDIRECTS + 1);
}

/// Credentials go to the configured origin only: a redirect to another host (here
/// `localhost` instead of `127.0.0.1`) drops `Authorization` and keeps the rest.
#[test]
fn a_redirect_to_another_origin_drops_credentials() {
    let (addr, seen) = serve(false);
    let line = probe(Config {
        follow_redirects: true,
        method: "PUT".into(),
        body: "payload".into(),
        headers: BTreeMap::from([
            ("Authorization".to_string(), "Bearer s3cret".to_string()),
            ("X-Probe".to_string(), "argus".to_string()),
        ]),
        response_string_match: "^PUT payload$".into(),
        ..url(addr, "/elsewhere")
    });
    assert_eq!(code(&line), result::SUCCESS);
    let seen = seen.lock().expect("seen");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].header("authorization"), Some("Bearer s3cret"));
    assert_eq!(seen[1].header("authorization"), None);
    assert_eq!(seen[1].header("x-probe"), Some("argus"));
    assert_eq!(
        seen[1].header("host"),
        Some(format!("localhost:{}", addr.port()).as_str())
    );
    assert_eq!(seen[1].body, b"payload", "a 307 keeps the method and body");
}

#[test]
fn post_and_head_send_what_they_should() {
    let (addr, seen) = serve(false);
    let line = probe(Config {
        method: "POST".into(),
        body: "{\"q\": 1}".into(),
        headers: BTreeMap::from([("Content-Type".to_string(), "application/json".to_string())]),
        response_string_match: "^POST \\{\"q\": 1\\}$".into(),
        ..url(addr, "/echo")
    });
    assert_eq!(code(&line), result::SUCCESS);
    let line = probe(Config {
        method: "HEAD".into(),
        ..url(addr, "/ok")
    });
    assert_eq!(code(&line), result::SUCCESS);
    assert_eq!(
        field(&line, "content_length"),
        Some(0.0),
        "HEAD has no body"
    );
    let seen = seen.lock().expect("seen");
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    assert_eq!(seen[0].header("content-length"), Some("8"));
    assert_eq!(seen[1].method, "HEAD");
}

#[test]
fn a_slow_server_is_a_timeout_at_response_timeout_ms() {
    let (addr, _) = serve(false);
    let start = Instant::now();
    let line = probe(Config {
        response_timeout_ms: 300,
        ..url(addr, "/slow")
    });
    let took = start.elapsed();
    assert_eq!(code(&line), result::TIMEOUT);
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(1400),
        "{took:?}"
    );
    assert_eq!(tag_of(&line, "status_code"), None);
}

#[test]
fn no_server_no_name_and_no_http() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed = listener.local_addr().expect("addr");
    drop(listener);
    assert_eq!(code(&probe(url(closed, "/"))), result::CONNECTION_FAILED);
    let line = probe(Config {
        url: "http://no-such-host.invalid/".into(),
        ..Config::default()
    });
    assert_eq!(code(&line), result::DNS_ERROR);
    let (addr, _) = serve(false);
    assert_eq!(
        code(&probe(url(addr, "/garbage"))),
        result::CONNECTION_FAILED
    );
}

/// `https_every_field` probes a [`serve`] over TLS (`{port}`) with a body and a status to
/// match, so that its point has every field.
#[test]
fn fixture_cases() {
    let live = testcases::Live {
        vars: &[("{port}", serve(true).0.port().to_string())],
    };
    testcases::run_live("http", &live, fixture_input);
}

/// This input's part of the registry-wide test of first gathers: nothing needs two.
pub(crate) fn first_gathers() {
    let live = testcases::Live {
        vars: &[("{port}", serve(true).0.port().to_string())],
    };
    testcases::check_first_gathers("http", "https_every_field", &live, &[], fixture_input);
}

fn fixture_input(config: Config, _: &Path) -> anyhow::Result<Box<dyn Input>> {
    Ok(Box::new(Http::new(&config)?))
}

fn https(addr: SocketAddr, host: &str) -> Config {
    Config {
        url: format!("https://{host}:{}/ok", addr.port()),
        response_timeout_ms: 3000,
        ..Config::default()
    }
}

#[test]
fn https_reports_the_days_left_on_the_certificate() {
    let (addr, _) = serve(true);
    let line = probe(Config {
        insecure_skip_verify: true,
        response_string_match: "hello".into(),
        response_status_code: 200,
        ..https(addr, "127.0.0.1")
    });
    assert_eq!(code(&line), result::SUCCESS);
    assert_eq!(field(&line, "content_length"), Some(11.0));
    let want = (NOT_AFTER_SECS * 1000 - NOW_MS) as f64 / 86_400_000.0;
    assert_eq!(field(&line, "tls_cert_days_left"), Some(want));
    // Every field the input has is in this point: the README must name each.
    testcases::assert_readme_documents_output("http", SAMPLE_CONFIG, &testcases::render(&[line]));
}

#[test]
fn https_verifies_against_tls_ca_by_name_and_address() {
    let (addr, _) = serve(true);
    for host in ["localhost", "127.0.0.1"] {
        let line = probe(Config {
            tls_ca: tls_dir().join("ca.pem"),
            ..https(addr, host)
        });
        assert_eq!(code(&line), result::SUCCESS, "{host}");
        assert!(field(&line, "tls_cert_days_left").is_some_and(|d| d > 36_000.0));
    }
}

#[test]
fn an_untrusted_certificate_fails_the_connection() {
    let (addr, _) = serve(true);
    // The system's roots do not know the test CA.
    let line = probe(https(addr, "localhost"));
    assert_eq!(code(&line), result::CONNECTION_FAILED);
    assert_eq!(field(&line, "tls_cert_days_left"), None);
    // Speaking TLS to a plain server fails too, and does not hang.
    let (plain, _) = serve(false);
    let line = probe(Config {
        insecure_skip_verify: true,
        ..https(plain, "127.0.0.1")
    });
    assert_eq!(code(&line), result::CONNECTION_FAILED);
}

#[test]
fn bad_options_are_errors_naming_the_option() {
    let err = |config: Config| {
        Http::new(&config)
            .map(|_| ())
            .expect_err("invalid")
            .to_string()
    };
    let ok = Config {
        url: "http://127.0.0.1/".into(),
        ..Config::default()
    };
    assert_eq!(err(Config::default()), "url: required");
    assert_eq!(
        err(Config {
            response_timeout_ms: u64::MAX,
            ..ok.clone()
        }),
        format!(
            "response_timeout_ms: must be between 1 and 3600000 (an hour), not {}",
            u64::MAX
        )
    );
    assert!(
        err(Config {
            response_timeout_ms: 0,
            ..ok.clone()
        })
        .starts_with("response_timeout_ms:")
    );
    assert!(
        err(Config {
            url: "ftp://x/".into(),
            ..ok.clone()
        })
        .contains("only http:// and https://")
    );
    assert!(
        err(Config {
            url: "http://u:p@x/".into(),
            ..ok.clone()
        })
        .contains("Authorization")
    );
    assert!(
        err(Config {
            method: "GE T".into(),
            ..ok.clone()
        })
        .starts_with("method:")
    );
    assert!(
        err(Config {
            headers: BTreeMap::from([("X".to_string(), "a\r\nEvil: 1".to_string())]),
            ..ok.clone()
        })
        .starts_with("headers:")
    );
    assert!(
        err(Config {
            response_string_match: "(".into(),
            ..ok.clone()
        })
        .starts_with("response_string_match:")
    );
    assert!(
        err(Config {
            tls_ca: "/nonexistent/ca.pem".into(),
            ..ok.clone()
        })
        .contains("tls_ca /nonexistent/ca.pem")
    );
    assert!(
        err(Config {
            tls_ca: tls_dir().join("README.md"),
            ..ok.clone()
        })
        .contains("no certificate")
    );
}

#[test]
fn sample_config_is_a_complete_example() {
    let example: Config = testcases::assert_instance_sample(SAMPLE_CONFIG, "http");
    assert_eq!(example.url, "https://example.com/health");
    assert_eq!(example.response_status_code, 200);
    let pattern = Regex::new(&example.response_string_match).expect("regex");
    assert!(pattern.is_match(br#"{"status": "ok"}"#));
    Http::new(&example).expect("the example builds");
}

/// The client's own pieces against hand-made responses.
mod framing {
    use std::io::Cursor;

    use super::super::client::read_line;

    #[test]
    fn lines_are_bounded() {
        let mut input = Cursor::new(b"short\r\nrather long line\n".to_vec());
        let mut line = Vec::new();
        read_line(&mut input, &mut line, 10).expect("short");
        assert_eq!(line, b"short\r\n");
        assert!(read_line(&mut input, &mut line, 10).is_err());
        let mut empty = Cursor::new(Vec::new());
        read_line(&mut empty, &mut line, 10).expect("eof");
        assert!(line.is_empty());
    }
}

/// A TCP server that accepts and never answers holds the probe for its whole timeout,
/// then lets go.
#[test]
fn a_silent_server_is_a_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let holder = thread::spawn(move || {
        let held: Vec<TcpStream> = listener.incoming().take(1).filter_map(Result::ok).collect();
        thread::sleep(Duration::from_millis(800));
        drop(held);
    });
    let line = probe(Config {
        response_timeout_ms: 200,
        ..url(addr, "/")
    });
    assert_eq!(code(&line), result::TIMEOUT);
    let _ = holder.join();
}

/// The agent's own client loads no root certificate when no server is `https://`: an
/// HTTPS request then fails on the certificate instead of going out unverified.
#[test]
fn the_agent_client_without_tls_roots_verifies_nothing_and_trusts_nothing() {
    use crate::outputs::http::{agent_client, needs_tls};
    assert!(!needs_tls(&["http://a:1".into(), "HTTP://b".into()]));
    assert!(needs_tls(&["http://a:1".into(), " HTTPS://b".into()]));
    let (addr, seen) = serve(true);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for tls in [false, true] {
        let client = agent_client(tls).expect("client");
        let err = rt
            .block_on(
                client
                    .get(format!("https://localhost:{}/", addr.port()))
                    .send(),
            )
            .expect_err("a self-signed certificate is never accepted");
        let chain = format!("{:?}", err);
        assert!(
            chain.contains("certificate") || chain.contains("Certificate"),
            "tls={tls}: {chain}"
        );
    }
    assert!(
        seen.lock().expect("seen").is_empty(),
        "no request got through"
    );
    // Plain HTTP needs no roots.
    let (plain, seen) = serve(false);
    let client = agent_client(false).expect("client");
    let status = rt
        .block_on(client.get(format!("http://{plain}/ok")).send())
        .map(|r| r.status().as_u16());
    assert_eq!(status.ok(), Some(200));
    assert_eq!(seen.lock().expect("seen").len(), 1);
}
