//! `storage.kind = "remote"` against a real VictoriaMetrics: what goes in through any ingest
//! protocol comes back through argus's query API exactly as the embedded engine answers it,
//! and the server's data dir holds no metric data.

use crate::common::{Argus, client, error_of, send, start};
use crate::external::VictoriaMetrics;
use crate::namespaces::add_token;

fn post(argus: &Argus, path: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    crate::namespaces::post(argus, &argus.token, path, body)
}

/// The whole answer of a GET to the query API.
fn get(argus: &Argus, token: &str, path: &str, query: &[(&str, &str)]) -> serde_json::Value {
    let req = client()
        .get(format!("{}{path}", argus.url))
        .query(query)
        .bearer_auth(token);
    send(req, &format!("GET {path}")).1
}

/// The same data over Influx, remote write and OpenTSDB: 20 points 15 s apart ending at
/// `end_ms`, values that tell points and series apart.
fn bodies(end_ms: i64) -> Vec<(&'static str, Vec<u8>)> {
    let mut lp = String::new();
    let mut rw = Vec::new();
    let mut put = Vec::new();
    for i in 0..20i64 {
        let ts = end_ms - (19 - i) * 15_000;
        let x = i as f64;
        lp.push_str(&format!(
            "cpu,host=a,core=0 user={},sys={} {ts}\ncpu,host=b,core=1 user={} {ts}\n",
            x * 1.5,
            -x / 4.0,
            1e6 + x
        ));
        rw.push(argus_core::TimeSeries {
            labels: argus_core::Labels::from_pairs([
                ("__name__", "http_latency_seconds"),
                ("path", "/a \"b\"\\c"),
            ]),
            samples: vec![argus_core::Sample {
                ts,
                // x / 1000 is the double nearest to the decimal: VictoriaMetrics keeps values
                // as decimals of up to 15 significant digits (0.001 * 9 would read back as
                // 0.009, not 0.009000000000000001).
                value: x / 1000.0,
            }],
        });
        put.push(serde_json::json!({
            "metric": "disk.used", "timestamp": ts, "value": 100 + i, "tags": {"dev": "sda"}
        }));
    }
    vec![
        ("/write?precision=ms", lp.into_bytes()),
        (
            "/api/v1/write",
            argus_core::remote_write::compress(&argus_core::remote_write::from_series(&rw)),
        ),
        (
            "/api/put",
            serde_json::Value::Array(put).to_string().into_bytes(),
        ),
    ]
}

#[test]
fn remote_storage_answers_like_the_embedded_engine_and_keeps_nothing_locally() {
    let vm = VictoriaMetrics::start();
    // Small write requests, so that each batch goes out as several concurrent ones.
    let remote = start(
        "server",
        &format!("{}remote_write_max_samples = 7\n", vm.storage_config()),
    );
    let local = start("server", "");
    // Whole seconds, so that every point lands on a query step below.
    let end_ms = (argus_core::now_ms() / 1000 - 5) * 1000;
    for (path, body) in bodies(end_ms) {
        for argus in [&remote, &local] {
            let (s, b) = post(argus, path, body.clone());
            assert_eq!(s, 204, "{path}: {b}");
        }
    }
    // Ingest answers once a batch is queued: wait for the handlers to store it, then for
    // VictoriaMetrics to make it queryable.
    remote.drained();
    local.drained();
    vm.force_flush();

    let end = format!("{:.3}", end_ms as f64 / 1000.0);
    let mid = format!("{:.3}", (end_ms - 100_000) as f64 / 1000.0);
    let start_s = format!("{:.3}", (end_ms - 400_000) as f64 / 1000.0);
    let checks: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/api/v1/query", vec![("query", "cpu_user"), ("time", &end)]),
        ("/api/v1/query", vec![("query", "cpu_user"), ("time", &mid)]),
        (
            "/api/v1/query",
            vec![
                ("query", r#"{__name__=~"cpu_.*",host="a"}[2m]"#),
                ("time", &end),
            ],
        ),
        (
            "/api/v1/query",
            vec![("query", "http_latency_seconds[5m]"), ("time", &mid)],
        ),
        (
            "/api/v1/query",
            vec![("query", r#"disk_used{dev="sda"}[30s]"#), ("time", &end)],
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", r#"{__name__=~"cpu_user|disk_used",host!="b"}"#),
                ("start", &start_s),
                ("end", &end),
                ("step", "30"),
            ],
        ),
        (
            "/api/v1/series",
            vec![
                ("match[]", r#"{__name__=~"cpu_.+|disk_used|http_.+"}"#),
                ("start", &start_s),
                ("end", &end),
            ],
        ),
    ];
    for (path, params) in &checks {
        let r = get(&remote, &remote.token, path, params);
        let l = get(&local, &local.token, path, params);
        assert_eq!(r["status"], "success", "{path} {params:?}: {r}");
        assert_eq!(r, l, "{path} {params:?}");
    }
    // And the answers hold the values written.
    let r = get(&remote, &remote.token, checks[0].0, &checks[0].1);
    let mut got: Vec<(String, String)> = r["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| {
            (
                s["metric"]["host"].as_str().unwrap_or("").to_string(),
                s["value"][1].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![("a".into(), "28.5".into()), ("b".into(), "1000019".into())]
    );
    let r = get(&remote, &remote.token, checks[3].0, &checks[3].1);
    let values = r["data"]["result"][0]["values"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // 5 minutes back from 100 s before the end: points 0..=12 (point 13 is 90 s before it).
    assert_eq!(values.len(), 13, "{r}");
    assert_eq!(values[12][1], "0.012", "{r}");
    assert_eq!(r["data"]["result"][0]["metric"]["path"], "/a \"b\"\\c");
    // /metrics counts what this server wrote to the receiver: 60 Influx, 20 remote write,
    // 20 OpenTSDB samples.
    let metrics = remote.metrics_text();
    assert!(
        metrics.lines().any(|l| l == "argus_storage_samples 100"),
        "{metrics}"
    );
    // VictoriaMetrics has them too, under the same names.
    let direct = vm.query("count(cpu_user)", None);
    assert_eq!(direct[0]["value"][1], "2", "{direct:?}");

    // No storage engine on the remote server's disk.
    let entries: Vec<String> = std::fs::read_dir(remote.data_dir())
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    // (The embedded queue in queue/ holds batches only until the handlers stored them.)
    assert!(!entries.iter().any(|e| e == "tsdb"), "{entries:?}");
    assert!(local.data_dir().join("tsdb").is_dir());

    // Namespaces hold through the remote store: a token of team-a sees team-a only.
    for db in ["team-a", "team-b"] {
        let (s, b) = post(
            &remote,
            &format!("/write?db={db}&precision=ms"),
            format!("owned v=1 {end_ms}").into_bytes(),
        );
        assert_eq!(s, 204, "{b}");
    }
    remote.drained();
    vm.force_flush();
    let a = add_token(&remote, "team-a");
    let r = get(
        &remote,
        &a,
        "/api/v1/query",
        &[("query", "owned_v"), ("time", &end)],
    );
    let rows = r["data"]["result"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 1, "{r}");
    assert_eq!(rows[0]["metric"]["ns"], "team-a", "{r}");

    // The receiver gone, ingest still answers: batches wait in the queue while the samples
    // handler retries, and reach VictoriaMetrics once it is back. Queries fail meanwhile,
    // with a Prometheus-shaped error naming the remote storage.
    let mut vm = vm;
    vm.kill();
    let r = get(
        &remote,
        &remote.token,
        "/api/v1/query",
        &[("query", "cpu_user")],
    );
    assert_eq!(r["status"], "error", "{r}");
    assert!(error_of(&r).contains("remote storage"), "{r}");
    let (s, b) = post(
        &remote,
        "/write?precision=ms",
        format!("waited v=7 {end_ms}").into_bytes(),
    );
    assert_eq!(s, 204, "{b}");
    vm.restart();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        vm.force_flush();
        let r = get(
            &remote,
            &remote.token,
            "/api/v1/query",
            &[("query", "waited_v"), ("time", &end)],
        );
        if r["data"]["result"][0]["value"][1] == "7" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the queued batch never reached VictoriaMetrics: {r}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
