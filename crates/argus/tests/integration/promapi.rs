//! The Prometheus HTTP API over the PromQL engine, through a real server process.

use crate::common::{Argus, client, start};

fn server() -> Argus {
    start("server", "[storage]\nout_of_order_window_secs = 86400\n")
}

fn write(argus: &Argus, lines: &str) {
    let (s, body) = argus.post("/write?db=t&precision=s", lines.to_string());
    assert_eq!(s, 204, "{body}");
}

fn get(argus: &Argus, path: &str, params: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let resp = client()
        .get(format!("{}{}", argus.url, path))
        .query(params)
        .bearer_auth(&argus.token)
        .send()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(serde_json::Value::Null))
}

#[test]
fn promql_is_evaluated_with_every_result_kind() {
    let argus = server();
    // A counter on two hosts, every 10 s for 10 minutes.
    write_counters(&argus);

    // A vector from a function and an aggregation: rate = 10/s and 30/s, sum 40/s.
    let (s, body) = get(
        &argus,
        "/api/v1/query",
        &[
            ("query", "sum(rate(net_bytes[5m]))"),
            ("time", "1700000600"),
        ],
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"]["resultType"], "vector");
    assert_eq!(body["data"]["result"][0]["metric"], serde_json::json!({}));
    assert_eq!(body["data"]["result"][0]["value"][0], 1_700_000_600);
    assert_eq!(body["data"]["result"][0]["value"][1], "40");

    // A scalar, in Prometheus's shape (plain 'f' form).
    let (s, body) = get(
        &argus,
        "/api/v1/query",
        &[("query", "1e-7 * 2"), ("time", "1700000600.5")],
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"]["resultType"], "scalar");
    assert_eq!(
        body["data"]["result"],
        serde_json::json!([1_700_000_600.5, "0.0000002"])
    );

    // A string.
    let (s, body) = get(
        &argus,
        "/api/v1/query",
        &[("query", "\"hello\""), ("time", "1700000600")],
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        body["data"],
        serde_json::json!({"resultType": "string", "result": [1_700_000_600, "hello"]})
    );

    // A range query: one series per host, 3 steps, sorted by labels.
    let (s, body) = get(
        &argus,
        "/api/v1/query_range",
        &[
            ("query", "rate(net_bytes[1m]) * 2"),
            ("start", "1700000300"),
            ("end", "1700000420"),
            ("step", "1m"),
        ],
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"]["resultType"], "matrix");
    let result = body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(result.len(), 2, "{body}");
    assert_eq!(result[0]["metric"]["host"], "a");
    assert_eq!(result[1]["metric"]["host"], "b");
    assert_eq!(
        result[1]["values"],
        serde_json::json!([
            [1_700_000_300, "60"],
            [1_700_000_360, "60"],
            [1_700_000_420, "60"]
        ])
    );
    assert_eq!(result[0]["metric"].get("__name__"), None);

    // Evaluation errors: 422 execution; a range query over a range vector: 400.
    let (s, body) = get(
        &argus,
        "/api/v1/query",
        &[
            ("query", "net_bytes + on() net_bytes"),
            ("time", "1700000600"),
        ],
    );
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["errorType"], "execution");
    let (s, body) = get(
        &argus,
        "/api/v1/query_range",
        &[
            ("query", "net_bytes[5m]"),
            ("start", "1700000300"),
            ("end", "1700000420"),
            ("step", "60"),
        ],
    );
    assert_eq!(s, 400, "{body}");
    assert_eq!(
        body["error"],
        "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector"
    );
}

/// 61 points of a counter on two hosts, every 10 s from 1_700_000_000.
fn write_counters(argus: &Argus) {
    let mut lines = String::new();
    for i in 0..=60 {
        let t = 1_700_000_000 + i * 10;
        lines.push_str(&format!("net,host=a bytes={} {t}\n", i * 100));
        lines.push_str(&format!("net,host=b bytes={} {t}\n", i * 300));
    }
    write(argus, &lines);
}

#[test]
fn query_limits_from_config_give_422_and_503() {
    let argus = start(
        "server",
        "[storage]\nout_of_order_window_secs = 86400\n[query]\nmax_samples = 100\nmax_series = 1\ntimeout_ms = 1\n",
    );
    write_counters(&argus);
    // Two series selected, one allowed.
    let (s, body) = get(
        &argus,
        "/api/v1/query",
        &[("query", "net_bytes"), ("time", "1700000600")],
    );
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["errorType"], "execution");
    assert_eq!(body["error"], "query would select more than 1 series");
    // One series but 61 samples in the window, and a 100-point subquery grid on top.
    let (s, body) = get(
        &argus,
        "/api/v1/query",
        &[
            ("query", "max_over_time(net_bytes{host=\"a\"}[10m:6s])"),
            ("time", "1700000600"),
        ],
    );
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["errorType"], "execution");
    assert_eq!(
        body["error"],
        "query processing would load too many samples into memory in query execution"
    );
    // Within the limits the same server answers.
    let (s, body) = get(
        &argus,
        "/api/v1/query",
        &[("query", "net_bytes{host=\"a\"}"), ("time", "1700000600")],
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"]["result"][0]["value"][1], "6000");
}

#[test]
fn query_timeout_gives_503_and_the_parameter_only_shortens_it() {
    let argus = start(
        "server",
        "[storage]\nout_of_order_window_secs = 86400\n[query]\ntimeout_ms = 1\n",
    );
    write_counters(&argus);
    // 172 801 subquery steps, each aggregated: far more than 1 ms of work.
    let heavy = "sum_over_time(sum(net_bytes)[2d:1s])";
    let (s, body) = get(
        &argus,
        "/api/v1/query",
        &[("query", heavy), ("time", "1700000600")],
    );
    assert_eq!(s, 503, "{body}");
    assert_eq!(body["errorType"], "timeout");
    assert_eq!(body["error"], "query timed out in expression evaluation");
    // A longer `timeout` parameter does not lift the configured cap.
    let (s, body) = get(
        &argus,
        "/api/v1/query",
        &[("query", heavy), ("time", "1700000600"), ("timeout", "5m")],
    );
    assert_eq!(s, 503, "{body}");
    let (s, body) = get(
        &argus,
        "/api/v1/query",
        &[("query", "1"), ("timeout", "soon")],
    );
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["errorType"], "bad_data");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .starts_with("invalid parameter \"timeout\""),
        "{body}"
    );
}

#[test]
fn timeout_parameter_shortens_the_configured_timeout() {
    let argus = server();
    write_counters(&argus);
    let heavy = "sum_over_time(sum(net_bytes)[2d:1s])";
    let (s, body) = get(
        &argus,
        "/api/v1/query",
        &[("query", heavy), ("time", "1700000600"), ("timeout", "1ms")],
    );
    assert_eq!(s, 503, "{body}");
    assert_eq!(body["errorType"], "timeout");
}
