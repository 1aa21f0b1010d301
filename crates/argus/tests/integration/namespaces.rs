//! Namespace isolation through a real server: a token of namespace A neither reads nor
//! writes anything of namespace B, over every ingest protocol and every read endpoint.

use crate::common::{Argus, BIN, client, send, start, wait_for};
use std::process::Command;
use std::time::Duration;

/// `argus token add --ns <ns>` on the server's data dir: the new token.
pub fn add_token(argus: &Argus, ns: &str) -> String {
    let out = Command::new(BIN)
        .args(["token", "add", "--ns", ns, "--name", &format!("team-{ns}")])
        .arg("--data-dir")
        .arg(argus.data_dir())
        .output()
        .unwrap_or_else(|e| panic!("argus token add: {e}"));
    assert!(out.status.success(), "{out:?}");
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(token.len(), 64, "{out:?}");
    // The running server picks the file up within a second.
    wait_for("the new token", Duration::from_secs(10), || {
        let r = client()
            .get(format!("{}/api/v1/series", argus.url))
            .query(&[("match[]", "up")])
            .bearer_auth(&token)
            .send()
            .ok()?;
        (r.status().as_u16() == 200).then_some(())
    });
    token
}

/// A POST with `token`; remote write bodies get their content type.
pub fn post(argus: &Argus, token: &str, path: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let mut req = client()
        .post(format!("{}{path}", argus.url))
        .bearer_auth(token);
    if path == "/api/v1/write" {
        req = req.header("Content-Type", "application/x-protobuf");
    }
    send(req.body(body), &format!("POST {path}"))
}

fn get(argus: &Argus, token: &str, path: &str, query: &[(&str, &str)]) -> serde_json::Value {
    // Ingest answers once a batch is queued; the handlers store it a moment later.
    argus.drained();
    let req = client()
        .get(format!("{}{path}", argus.url))
        .query(query)
        .bearer_auth(token);
    let (_, body) = send(req, &format!("GET {path}"));
    assert_eq!(body["status"], "success", "{path} {query:?}: {body}");
    body
}

/// A remote write body with one series of one sample.
fn remote_write(labels: &[(&str, &str)], ts_ms: i64, value: f64) -> Vec<u8> {
    let series = argus_core::TimeSeries {
        labels: argus_core::Labels::from_pairs(labels.iter().copied()),
        samples: vec![argus_core::Sample { ts: ts_ms, value }],
    };
    argus_core::remote_write::compress(&argus_core::remote_write::from_series(&[series]))
}

/// Writes the same three series as `token` over Influx, remote write and OpenTSDB, each
/// with a value telling the namespace apart.
fn write_all(argus: &Argus, token: &str, value: f64) {
    let now_ms = argus_core::now_ms();
    let (s, b) = post(
        argus,
        token,
        "/write?precision=ms",
        format!("influx,src=lp v={value} {now_ms}").into_bytes(),
    );
    assert_eq!(s, 204, "{b}");
    let (s, b) = post(
        argus,
        token,
        "/api/v1/write",
        remote_write(&[("__name__", "rw_metric"), ("src", "rw")], now_ms, value),
    );
    assert_eq!(s, 204, "{b}");
    let put = serde_json::json!({
        "metric": "tsdb.metric", "timestamp": now_ms, "value": value, "tags": {"src": "otsdb"}
    });
    let (s, b) = post(argus, token, "/api/put", put.to_string().into_bytes());
    assert_eq!(s, 204, "{b}");
}

/// (name, ns, value) of each instant-query point; (name, ns) of each series.
type Seen = (Vec<(String, String, String)>, Vec<(String, String)>);

/// What `token` sees of every series: (name, ns, value) from an instant query, and the
/// label sets from /api/v1/series.
fn visible(argus: &Argus, token: &str) -> Seen {
    let all = r#"{__name__=~"influx_v|rw_metric|tsdb_metric"}"#;
    let q = get(argus, token, "/api/v1/query", &[("query", all)]);
    let mut points: Vec<(String, String, String)> = q["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| {
            (
                s["metric"]["__name__"].as_str().unwrap_or("").to_string(),
                s["metric"]["ns"].as_str().unwrap_or("").to_string(),
                s["value"][1].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    points.sort();
    let start = (argus_core::now_ms() / 1000 - 3600).to_string();
    let s = get(
        argus,
        token,
        "/api/v1/series",
        &[("match[]", all), ("start", &start)],
    );
    let mut series: Vec<(String, String)> = s["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|l| {
            (
                l["__name__"].as_str().unwrap_or("").to_string(),
                l["ns"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    series.sort();
    (points, series)
}

fn expected(ns: &str, value: &str) -> Seen {
    let names = ["influx_v", "rw_metric", "tsdb_metric"];
    (
        names
            .iter()
            .map(|n| (n.to_string(), ns.to_string(), value.to_string()))
            .collect(),
        names
            .iter()
            .map(|n| (n.to_string(), ns.to_string()))
            .collect(),
    )
}

#[test]
fn a_namespace_token_neither_reads_nor_writes_another_namespace() {
    let argus = start("server", "");
    let a = add_token(&argus, "team-a");
    let b = add_token(&argus, "team-b");
    write_all(&argus, &a, 1.0);
    write_all(&argus, &b, 2.0);

    // Each token sees its own three series, with its own values, and nothing else.
    assert_eq!(visible(&argus, &a), expected("team-a", "1"));
    assert_eq!(visible(&argus, &b), expected("team-b", "2"));
    // The admin token sees both.
    let (points, _) = visible(&argus, &argus.token);
    assert_eq!(points.len(), 6, "{points:?}");

    // Asking for the other namespace by name finds nothing, on every read path.
    let q = get(
        &argus,
        &a,
        "/api/v1/query",
        &[("query", r#"{ns="team-b"}"#)],
    );
    assert_eq!(q["data"]["result"], serde_json::json!([]), "{q}");
    let now = (argus_core::now_ms() / 1000).to_string();
    let start = (argus_core::now_ms() / 1000 - 600).to_string();
    let q = get(
        &argus,
        &a,
        "/api/v1/query_range",
        &[
            ("query", r#"rw_metric{ns="team-b"}"#),
            ("start", &start),
            ("end", &now),
            ("step", "15"),
        ],
    );
    assert_eq!(q["data"]["result"], serde_json::json!([]), "{q}");
    let q = get(&argus, &a, "/api/v1/query", &[("query", "rw_metric[10m]")]);
    let rows = q["data"]["result"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 1, "{q}");
    assert_eq!(rows[0]["metric"]["ns"], "team-a", "{q}");
    let s = get(
        &argus,
        &a,
        "/api/v1/series",
        &[("match[]", r#"{ns="team-b"}"#), ("start", &start)],
    );
    assert_eq!(s["data"], serde_json::json!([]), "{s}");

    // Every way a request names a namespace is refused for a foreign one: 403, nothing
    // stored.
    let now_ms = argus_core::now_ms();
    let line = format!("intrude v=9 {now_ms}").into_bytes();
    let (s, body) = post(&argus, &a, "/write?db=team-b&precision=ms", line.clone());
    assert_eq!(s, 403, "{body}");
    assert!(
        body["message"].as_str().unwrap_or("").contains("team-b"),
        "{body}"
    );
    let (s, body) = post(
        &argus,
        &a,
        "/api/v2/write?bucket=team-b&precision=ms",
        line.clone(),
    );
    assert_eq!(s, 403, "{body}");
    let (s, body) = post(
        &argus,
        &a,
        "/write?precision=ms",
        format!("intrude,ns=team-b v=9 {now_ms}").into_bytes(),
    );
    assert_eq!(s, 403, "{body}");
    assert!(
        body["message"].as_str().unwrap_or("").contains("line 1"),
        "{body}"
    );
    let (s, body) = post(
        &argus,
        &a,
        "/api/v1/write",
        remote_write(&[("__name__", "intrude_v"), ("ns", "team-b")], now_ms, 9.0),
    );
    assert_eq!(s, 403, "{body}");
    let put = serde_json::json!({
        "metric": "intrude.v", "timestamp": now_ms, "value": 9, "tags": {"ns": "team-b"}
    });
    let (s, body) = post(&argus, &a, "/api/put", put.to_string().into_bytes());
    assert_eq!(s, 403, "{body}");
    let q = get(
        &argus,
        &argus.token,
        "/api/v1/query",
        &[("query", r#"{__name__=~"intrude.*"}"#)],
    );
    assert_eq!(q["data"]["result"], serde_json::json!([]), "{q}");
    // Naming its own namespace is fine.
    let (s, body) = post(
        &argus,
        &a,
        "/write?db=team-a&precision=ms",
        format!("own,ns=team-a v=3 {now_ms}").into_bytes(),
    );
    assert_eq!(s, 204, "{body}");
    let q = get(&argus, &b, "/api/v1/query", &[("query", "own_v")]);
    assert_eq!(q["data"]["result"], serde_json::json!([]), "{q}");
    let q = get(&argus, &a, "/api/v1/query", &[("query", "own_v")]);
    assert_eq!(q["data"]["result"][0]["value"][1], "3", "{q}");
}
