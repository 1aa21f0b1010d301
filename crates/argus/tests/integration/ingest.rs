//! The server's ingest and query endpoints, through a real `argus server` process.

use crate::common::{Argus, client, error_of, send, start, value};
use std::io::Write;

fn server() -> Argus {
    start("server", "[server]\nmax_body_bytes = 100000\n")
}

fn post(argus: &Argus, path: &str, body: Vec<u8>, gzip: bool) -> (u16, serde_json::Value) {
    let mut req = client()
        .post(format!("{}{}", argus.url, path))
        .bearer_auth(&argus.token);
    if gzip {
        req = req.header("Content-Encoding", "gzip");
    }
    send(req.body(body), &format!("POST {path}"))
}

fn gz(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = e.write_all(text.as_bytes());
    e.finish().unwrap_or_default()
}

#[test]
fn line_protocol_v1_and_v2_with_gzip_precision_and_namespace() {
    let argus = server();
    let (s, _) = post(
        &argus,
        "/write?db=team1&precision=s",
        gz(
            "weather,city=paris temp=21.5,hum=40i 1700000000\n# comment\n\nweather,city=oslo temp=-3 1700000000\n",
        ),
        true,
    );
    assert_eq!(s, 204);
    let (s, _) = post(
        &argus,
        "/api/v2/write?bucket=team2&precision=ms",
        b"weather,city=rome temp=30.25 1700000000500".to_vec(),
        false,
    );
    assert_eq!(s, 204);

    let r = argus.query(r#"weather_temp{ns="team1"} @ 1700000000"#);
    let mut got: Vec<(String, f64)> = r
        .iter()
        .map(|e| {
            (
                e["metric"]["city"].as_str().unwrap_or("").to_string(),
                value(e),
            )
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![("oslo".to_string(), -3.0), ("paris".to_string(), 21.5)]
    );
    let hum = argus.query(r#"weather_hum{city="paris"} @ 1700000000"#);
    assert_eq!(hum.len(), 1);
    assert_eq!(value(&hum[0]), 40.0);
    assert_eq!(hum[0]["metric"]["ns"], "team1");

    // Range query: the rome sample (at .500 s) is found by steps within the lookback.
    let (s, body) = argus.get(
        "/api/v1/query_range?query=weather_temp%7Bns%3D%22team2%22%7D&start=1700000000&end=1700000060&step=30",
    );
    assert_eq!(s, 200, "{body}");
    let values = &body["data"]["result"][0]["values"];
    assert_eq!(values.as_array().map(Vec::len), Some(2), "{body}");
    assert_eq!(values[0][0], 1700000030);
    assert_eq!(values[0][1], "30.25");

    // Series listing.
    let (s, body) =
        argus.get("/api/v1/series?match[]=weather_temp&start=1699999000&end=1700001000");
    assert_eq!(s, 200);
    assert_eq!(body["data"].as_array().map(Vec::len), Some(3), "{body}");

    // Self metrics count what came in.
    let text = argus.metrics_text();
    assert!(text.contains("argus_ingest_samples_total 4"), "{text}");
    assert!(text.contains("argus_storage_series 4"), "{text}");
}

#[test]
fn bad_line_rejects_the_whole_body_naming_the_line() {
    let argus = server();
    let (s, body) = post(
        &argus,
        "/write",
        b"good v=1 1\ngood v=2 2\nbad v= 3\n".to_vec(),
        false,
    );
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["line"], 3, "{body}");
    assert!(error_of(&body).contains("line 3"), "{body}");
    // Nothing of that body was stored.
    let (_, series) = argus.get("/api/v1/series?match[]=good_v");
    assert_eq!(series["data"], serde_json::json!([]));

    let (s, body) = post(&argus, "/write?precision=weeks", b"m v=1".to_vec(), false);
    assert_eq!(s, 400);
    assert!(error_of(&body).contains("precision"), "{body}");

    let text = argus.metrics_text();
    assert!(
        text.contains("argus_ingest_rejected_requests_total{reason=\"bad_line\"} 1"),
        "{text}"
    );
}

#[test]
fn body_over_the_limit_is_413_also_when_gzipped() {
    let argus = server();
    let big = "m v=1\n".repeat(20_000); // 120 000 bytes > 100 000
    let (s, body) = post(&argus, "/write", big.clone().into_bytes(), false);
    assert_eq!(s, 413, "{body}");
    let small = gz(&big);
    assert!(small.len() < 100_000);
    let (s, body) = post(&argus, "/write", small, true);
    assert_eq!(s, 413, "{body}");
    assert!(error_of(&body).contains("100000"), "{body}");
    // The API's JSON routes too, declared or chunked, and the server goes on. The server
    // answers 413 as soon as it knows, without reading the rest: a client still sending
    // may see its connection cut instead of the answer; both are a refusal.
    let refused = |req: reqwest::blocking::RequestBuilder| match req.send() {
        Ok(r) => {
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().unwrap_or_default();
            assert_eq!(status, 413, "{body}");
            assert!(error_of(&body).contains("100000"), "{body}");
        }
        Err(e) => assert!(e.is_request() || e.is_body(), "{e:?}"),
    };
    let json = format!(r#"{{"comment": "{}"}}"#, "x".repeat(120_000));
    refused(
        client()
            .post(format!("{}/api/v2/silences", argus.url))
            .bearer_auth(&argus.token)
            .body(json.clone()),
    );
    refused(
        client()
            .post(format!("{}/api/argus/rules", argus.url))
            .bearer_auth(&argus.token)
            .body(reqwest::blocking::Body::new(std::io::Cursor::new(json))),
    );
    // Nesting is bounded too (serde_json's 128 levels): a 400, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let (s, body) = post(&argus, "/api/v2/silences", deep.into_bytes(), false);
    assert_eq!(s, 400, "{body}");
    let (s, _) = post(&argus, "/write", b"m v=1\n".to_vec(), false);
    assert_eq!(s, 204);
}

#[test]
fn token_is_required_and_unknown_paths_are_json_404() {
    let argus = server();
    let c = client();
    let r = c
        .get(format!("{}/api/v1/query?query=up", argus.url))
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 401);
    let r = c
        .get(format!("{}/api/v1/query?query=up", argus.url))
        .bearer_auth("wrong")
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 401);
    let body: serde_json::Value = r.json().unwrap_or_default();
    assert!(body["error"].as_str().is_some(), "{body}");
    // Influx v1 clients: ?p=token; v2 clients: "Token" scheme; Basic with token as password.
    let r = c
        .post(format!("{}/write?u=x&p={}", argus.url, argus.token))
        .body("m v=1")
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 204);
    let r = c
        .post(format!("{}/api/v2/write", argus.url))
        .header("Authorization", format!("Token {}", argus.token))
        .body("m v=1")
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 204);
    let r = c
        .post(format!("{}/write", argus.url))
        .basic_auth("telegraf", Some(&argus.token))
        .body("m v=1")
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 204);
    // Health needs no token.
    let r = c
        .get(format!("{}/health", argus.url))
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 200);

    let (s, body) = argus.get("/no/such/path");
    assert_eq!(s, 404);
    assert!(error_of(&body).contains("/no/such/path"), "{body}");
}

#[test]
fn query_errors_have_prometheus_shape() {
    let argus = server();
    let (s, body) = argus.get("/api/v1/query?query=foo%7B");
    assert_eq!(s, 400);
    assert_eq!(body["status"], "error");
    assert_eq!(body["errorType"], "bad_data");
    assert!(error_of(&body).starts_with("invalid parameter \"query\""));
    let (s, body) = argus.get("/api/v1/query_range?query=up&start=10&end=5&step=1");
    assert_eq!(s, 400, "{body}");
    let (s, body) = argus.get("/api/v1/query_range?query=up&start=0&end=100000&step=1");
    assert_eq!(s, 400, "{body}");
    assert!(error_of(&body).contains("11,000"), "{body}");
    // POST form works like GET.
    let r = client()
        .post(format!("{}/api/v1/query", argus.url))
        .bearer_auth(&argus.token)
        .form(&[("query", "nothing_here"), ("time", "1700000000")])
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 200);
    let body: serde_json::Value = r.json().unwrap_or_default();
    assert_eq!(body["data"]["resultType"], "vector");
    assert_eq!(body["data"]["result"], serde_json::json!([]));
}

#[test]
fn events_are_stored_and_found_by_type_and_host() {
    let argus = server();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let body = format!(
        "{{\"type\":\"alarm\",\"host\":\"web1\",\"ts\":{now},\"code\":\"disk_full\"}}\n{{\"type\":\"log\",\"host\":\"web1\",\"line\":\"oops\"}}\n"
    );
    let (s, b) = post(&argus, "/api/argus/events", gz(&body), true);
    assert_eq!(s, 204, "{b}");
    let (s, b) = argus.get("/api/argus/events?type=alarm&host=web1");
    assert_eq!(s, 200, "{b}");
    let found = b["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(found.len(), 1, "{b}");
    assert_eq!(found[0]["code"], "disk_full");
    assert_eq!(found[0]["ts"], now);
    let (s, b) = post(
        &argus,
        "/api/argus/events",
        b"{\"type\":\"ok\"}\n{\"no\":\"type\"}".to_vec(),
        false,
    );
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["line"], 2, "{b}");
}
