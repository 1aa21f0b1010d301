//! The Prometheus HTTP API over the PromQL engine, through a real server process.

use crate::common::{Argus, client, error_of, metric, send, start, wait_for};

fn server() -> Argus {
    start("server", "[storage]\nout_of_order_window_secs = 86400\n")
}

fn write(argus: &Argus, lines: &str) {
    let (s, body) = argus.post("/write?db=t&precision=s", lines.to_string());
    assert_eq!(s, 204, "{body}");
}

fn get(argus: &Argus, path: &str, params: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let req = client()
        .get(format!("{}{}", argus.url, path))
        .query(params)
        .bearer_auth(&argus.token);
    send(req, &format!("GET {path}"))
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
    // The series and label endpoints list label sets only, under the same series limit.
    for path in [
        "/api/v1/series",
        "/api/v1/labels",
        "/api/v1/label/host/values",
    ] {
        let (s, body) = get(&argus, path, &[("match[]", "net_bytes")]);
        assert_eq!(s, 422, "{path}: {body}");
        assert_eq!(body["errorType"], "execution", "{path}");
        assert!(
            error_of(&body).contains("more than 1 series"),
            "{path}: {body}"
        );
        let (s, body) = get(&argus, path, &[("match[]", "net_bytes{host=\"a\"}")]);
        assert_eq!(s, 200, "{path}: {body}");
    }
    let (_, body) = get(
        &argus,
        "/api/v1/label/host/values",
        &[("match[]", "net_bytes{host=\"a\"}")],
    );
    assert_eq!(body["data"], serde_json::json!(["a"]));
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
        error_of(&body).starts_with("invalid parameter \"timeout\""),
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

fn post_form(argus: &Argus, path: &str, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let req = client()
        .post(format!("{}{}", argus.url, path))
        .form(form)
        .bearer_auth(&argus.token);
    send(req, &format!("POST {path}"))
}

#[test]
fn labels_label_values_metadata_and_buildinfo() {
    let argus = server();
    write_counters(&argus);
    write(&argus, "cpu,host=c,core=0 user=1 1700000000\n");

    let (s, body) = get(&argus, "/api/v1/labels", &[]);
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        body,
        serde_json::json!({"status": "success", "data": ["__name__", "core", "host", "ns"]})
    );
    // match[] narrows, POST form works like GET, limit truncates the sorted list.
    let (s, body) = post_form(&argus, "/api/v1/labels", &[("match[]", "net_bytes")]);
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"], serde_json::json!(["__name__", "host", "ns"]));
    let (_, body) = get(&argus, "/api/v1/labels", &[("limit", "2")]);
    assert_eq!(body["data"], serde_json::json!(["__name__", "core"]));
    // start/end: nothing was written before 1_600_000_000.
    let (_, body) = get(
        &argus,
        "/api/v1/labels",
        &[("start", "1500000000"), ("end", "1600000000")],
    );
    assert_eq!(body["data"], serde_json::json!([]));

    let (s, body) = get(&argus, "/api/v1/label/host/values", &[]);
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"], serde_json::json!(["a", "b", "c"]));
    let (_, body) = get(&argus, "/api/v1/label/__name__/values", &[]);
    assert_eq!(body["data"], serde_json::json!(["cpu_user", "net_bytes"]));
    let (_, body) = post_form(
        &argus,
        "/api/v1/label/host/values",
        &[
            ("match[]", "net_bytes{host=~\"b|c\"}"),
            ("match[]", "cpu_user"),
        ],
    );
    assert_eq!(body["data"], serde_json::json!(["b", "c"]));
    let (_, body) = get(&argus, "/api/v1/label/host/values", &[("limit", "1")]);
    assert_eq!(body["data"], serde_json::json!(["a"]));
    let (_, body) = get(&argus, "/api/v1/label/nosuch/values", &[]);
    assert_eq!(body["data"], serde_json::json!([]));

    // Errors in Prometheus's shape.
    let (s, body) = get(&argus, "/api/v1/label/1bad/values", &[]);
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["errorType"], "bad_data");
    assert_eq!(body["error"], "invalid label name: \"1bad\"");
    let (s, body) = get(&argus, "/api/v1/labels", &[("start", "abc")]);
    assert_eq!(s, 400, "{body}");
    assert_eq!(
        body["error"],
        "invalid parameter \"start\": Invalid time value for 'start': cannot parse \"abc\" to a valid timestamp"
    );
    let (s, body) = get(&argus, "/api/v1/labels", &[("match[]", "up{")]);
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["errorType"], "bad_data");
    let (s, body) = get(&argus, "/api/v1/label/host/values", &[("limit", "-1")]);
    assert_eq!(s, 400, "{body}");

    // Series with limit.
    let (s, body) = get(
        &argus,
        "/api/v1/series",
        &[("match[]", "net_bytes"), ("limit", "1")],
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        body["data"],
        serde_json::json!([{"__name__": "net_bytes", "host": "a", "ns": "t"}])
    );

    // No metric metadata is kept: Prometheus's empty answer; limit is still checked.
    let (s, body) = get(&argus, "/api/v1/metadata", &[("metric", "net_bytes")]);
    assert_eq!(s, 200, "{body}");
    assert_eq!(body, serde_json::json!({"status": "success", "data": {}}));
    let (s, body) = get(&argus, "/api/v1/metadata", &[("limit", "x")]);
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["error"], "limit must be a number");

    let (s, body) = get(&argus, "/api/v1/status/buildinfo", &[]);
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["status"], "success");
    assert_eq!(body["data"]["version"], "2.42.0");
    for key in ["revision", "branch", "buildUser", "buildDate", "goVersion"] {
        assert!(body["data"][key].is_string(), "{key}: {body}");
    }
    assert_eq!(body["data"]["argusVersion"], env!("CARGO_PKG_VERSION"));

    // Without the token: 401, as on every path.
    let r = client()
        .get(format!("{}/api/v1/labels", argus.url))
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 401);
}

#[test]
fn a_namespace_token_queries_only_its_namespace() {
    let argus = server();
    for (db, v) in [("t1", 1), ("t2", 100)] {
        let (s, body) = argus.post(
            &format!("/write?db={db}&precision=s"),
            format!("net,host=a bytes={v} 1700000000\nnet,host=b bytes={v} 1700000000\n"),
        );
        assert_eq!(s, 204, "{body}");
    }
    // The same `argus token add` as the namespace tests; it waits until the server took it.
    let token = crate::namespaces::add_token(&argus, "t1");
    let ask = |path: &str, params: &[(&str, &str)]| {
        let req = client()
            .get(format!("{}{path}", argus.url))
            .query(params)
            .bearer_auth(&token);
        send(req, path)
    };
    let (s, body) = ask(
        "/api/v1/query",
        &[("query", "sum(net_bytes)"), ("time", "1700000000")],
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"]["result"][0]["value"][1], "2");
    // Even asking for the other namespace by name finds nothing.
    let (_, body) = ask(
        "/api/v1/query",
        &[
            ("query", "count({__name__=~\".+\", ns=\"t2\"})"),
            ("time", "1700000000"),
        ],
    );
    assert_eq!(body["data"]["result"], serde_json::json!([]));
    let (_, body) = ask("/api/v1/label/ns/values", &[]);
    assert_eq!(body["data"], serde_json::json!(["t1"]));
    let (_, body) = ask(
        "/api/v1/query_range",
        &[
            ("query", "count(net_bytes)"),
            ("start", "1700000000"),
            ("end", "1700000060"),
            ("step", "60"),
        ],
    );
    assert_eq!(
        body["data"]["result"][0]["values"],
        serde_json::json!([[1_700_000_000, "2"], [1_700_000_060, "2"]])
    );
}

/// A query whose client goes away stops at the evaluator's next check (and is counted as
/// canceled) instead of running on to its timeout.
#[test]
fn a_query_whose_client_goes_away_is_canceled() {
    use std::io::Write;
    let argus = start(
        "server",
        "[storage]\nout_of_order_window_secs = 86400\n[query]\ntimeout_ms = 600000\n",
    );
    write_counters(&argus);
    argus.drained();
    // 1.7 million subquery steps: seconds of work, where a canceled one stops at once.
    let url = reqwest::Url::parse_with_params(
        &format!("{}/api/v1/query", argus.url),
        &[
            ("query", "sum_over_time(sum(net_bytes)[20d:1s])"),
            ("time", "1700000600"),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let host = url.authority().to_string();
    let mut conn =
        std::net::TcpStream::connect(&host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
    write!(
        conn,
        "GET {}?{} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n\r\n",
        url.path(),
        url.query().unwrap_or(""),
        argus.token
    )
    .unwrap_or_else(|e| panic!("send: {e}"));
    let running = || metric(&argus, "argus_queries_running");
    let wait = std::time::Duration::from_secs(20);
    wait_for("the query to run", wait, || {
        (running() == Some(1.0)).then_some(())
    });
    drop(conn);
    wait_for("the query to stop", wait, || {
        (running() == Some(0.0)).then_some(())
    });
    assert_eq!(
        metric(
            &argus,
            "argus_queries_total{endpoint=\"query\",outcome=\"canceled\"}"
        ),
        Some(1.0)
    );
}
