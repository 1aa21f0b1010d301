//! Scale-out with real processes (docs/scale-out.md): nats-server with JetStream,
//! VictoriaMetrics, two `argus server --role ingest`, one `argus server --role handlers`,
//! and an `argus agent` listing both ingest servers. One ingest server is killed while the
//! agent streams; every sample the agent acknowledged is counted in VictoriaMetrics.

use crate::common::{Argus, BIN, client, start_with, wait_for};
use crate::external::{Nats, Proc, VictoriaMetrics, free_port};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const TOKEN: &str = "scale-out-test-token";

/// A counter of `/metrics` (the sum over every line starting with `series`).
fn metric(argus: &Argus, series: &str) -> f64 {
    argus
        .metrics_text()
        .lines()
        .filter(|l| l.starts_with(series))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
}

/// The values of `scaleout_seq{run}` VictoriaMetrics holds, read through `argus`, with
/// how often each was stored.
fn stored(argus: &Argus, run: &str, at_s: i64) -> BTreeMap<i64, usize> {
    let q = format!("scaleout_seq{{run=\"{run}\"}}[1h]");
    let body: serde_json::Value = client()
        .get(format!("{}/api/v1/query", argus.url))
        .query(&[("query", q.as_str()), ("time", &at_s.to_string())])
        .bearer_auth(&argus.token)
        .send()
        .and_then(|r| r.json())
        .unwrap_or_default();
    assert_eq!(body["status"], "success", "{body}");
    let mut out = BTreeMap::new();
    for s in body["data"]["result"].as_array().into_iter().flatten() {
        for p in s["values"].as_array().into_iter().flatten() {
            if let Some(v) = p[1].as_str().and_then(|v| v.parse::<i64>().ok()) {
                *out.entry(v).or_insert(0) += 1;
            }
        }
    }
    out
}

#[test]
fn killing_an_ingest_server_mid_stream_loses_no_acknowledged_sample() {
    let nats = Nats::start();
    let vm = VictoriaMetrics::start();
    let config = format!(
        "[server]\ntoken = \"{TOKEN}\"\n{}{}",
        nats.queue_config(),
        vm.storage_config()
    );
    let ingest1 = start_with(&["server", "--role", "ingest"], &config, tempdir());
    let ingest2 = start_with(&["server", "--role", "ingest"], &config, tempdir());
    let handlers = start_with(&["server", "--role", "handlers"], &config, tempdir());

    // The agent lists both ingest servers; its local API takes the pushed samples.
    let agent_dir = tempdir();
    let api_port = free_port();
    let agent_config = agent_dir.path().join("agent.toml");
    std::fs::write(
        &agent_config,
        format!("[agent]\ninterval_secs = 3600\napi_listen = \"127.0.0.1:{api_port}\"\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let agent = Proc(
        Command::new(BIN)
            .args(["agent", "--server", &ingest1.url, "--server", &ingest2.url])
            .args(["--token", TOKEN, "--hostname", "scale-host", "--config"])
            .arg(&agent_config)
            .arg("--data-dir")
            .arg(agent_dir.path().join("data"))
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn agent: {e}")),
    );
    let agent_api = format!("http://127.0.0.1:{api_port}");
    wait_for("the agent's API", Duration::from_secs(30), || {
        let r = client().get(format!("{agent_api}/me/status")).send().ok()?;
        r.status().is_success().then_some(())
    });

    // A pusher streams numbered samples into the agent; each one acknowledged (200 with
    // its point count) is counted.
    const POSTS: u64 = 300;
    const PER_POST: u64 = 10;
    let run = format!("r{}", std::process::id());
    let base_ms = argus_core::now_ms() - 60_000;
    let acked = Arc::new(AtomicU64::new(0));
    let pusher = {
        let (acked, run, agent_api) = (acked.clone(), run.clone(), agent_api.clone());
        std::thread::spawn(move || {
            let c = client();
            for p in 0..POSTS {
                let body: String = (p * PER_POST..(p + 1) * PER_POST)
                    .map(|i| format!("scaleout,run={run} seq={i} {}\n", base_ms + i as i64))
                    .collect();
                let ok = c
                    .post(format!("{agent_api}/post"))
                    .body(body)
                    .send()
                    .ok()
                    .filter(|r| r.status().is_success())
                    .and_then(|r| r.json::<serde_json::Value>().ok())
                    .is_some_and(|b| b["points"] == PER_POST);
                assert!(ok, "the agent refused post {p}");
                acked.fetch_add(PER_POST, Ordering::Relaxed);
                // Pacing, so that the stream spans the kill below.
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };

    // Mid-stream: once the first ingest server has queued some of the stream, SIGKILL it.
    wait_for("ingest 1 queueing samples", Duration::from_secs(30), || {
        (metric(
            &ingest1,
            r#"argus_pipeline_published_entries_total{topic="samples"}"#,
        ) >= 3.0)
            .then_some(())
    });
    let killed_at = acked.load(Ordering::Relaxed);
    let _ = ingest1.kill9();
    assert!(pusher.join().is_ok(), "the pusher failed");
    let total = acked.load(Ordering::Relaxed);
    assert_eq!(total, POSTS * PER_POST);
    assert!(
        killed_at < total,
        "the kill came after the stream ended ({killed_at} of {total})"
    );

    // Every acknowledged sample reaches VictoriaMetrics through ingest 2, NATS and the
    // handlers process (at least once: a batch ingest 1 queued but did not answer is sent
    // again, which stores the same sample twice).
    let at_s = argus_core::now_ms() / 1000 + 60;
    let deadline = Instant::now() + Duration::from_secs(90);
    let got = loop {
        vm.force_flush();
        let got = stored(&ingest2, &run, at_s);
        if got.len() as u64 == total || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let missing: Vec<u64> = (0..total)
        .filter(|i| !got.contains_key(&(*i as i64)))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {total} acknowledged samples missing, first {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    assert_eq!(got.len() as u64, total, "values outside the stream");
    let duplicates: usize = got.values().map(|n| n - 1).sum();
    eprintln!(
        "scale-out: {total} samples pushed, ingest 1 killed after {killed_at}, all stored, {duplicates} stored twice"
    );
    // The agent moved to ingest 2, and the handlers process applied what both queued.
    assert!(
        metric(
            &ingest2,
            r#"argus_pipeline_published_entries_total{topic="samples"}"#
        ) >= 1.0
    );
    assert!(
        metric(
            &handlers,
            r#"argus_pipeline_processed_entries_total{topic="samples"}"#
        ) >= 1.0
    );
    // VictoriaMetrics holds them under the agent's host label.
    let direct = vm.query(
        &format!("count_over_time(scaleout_seq{{run=\"{run}\",host=\"scale-host\"}}[1h])"),
        Some(at_s as f64),
    );
    let n: f64 = direct[0]["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(n >= total as f64, "{direct:?}");
    // Without start and end, series and label lookups answer for all time, as on the
    // embedded store and on Prometheus.
    let (s, series) = ingest2.get("/api/v1/series?match[]=scaleout_seq");
    assert_eq!(s, 200, "{series}");
    assert!(
        series["data"]
            .as_array()
            .is_some_and(|a| a.iter().any(|l| l["run"] == run.as_str())),
        "{series}"
    );
    let (_, labels) = ingest2.get("/api/v1/labels");
    assert!(
        labels["data"]
            .as_array()
            .is_some_and(|a| a.iter().any(|l| l == "run")),
        "{labels}"
    );
    let (_, values) = ingest2.get("/api/v1/label/run/values");
    assert!(
        values["data"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == run.as_str())),
        "{values}"
    );
    drop(agent);
}

/// With `[database] url` on one PostgreSQL, the ingest and handlers processes share users,
/// sessions and the inventory: a user made through one server logs in on another, a
/// heartbeat queued by one ingest server is applied by the handlers process and listed by
/// every server, and the handlers process writes `argus_host_up` for all of them.
#[test]
fn ingest_and_handlers_processes_share_users_and_inventory_through_postgres() {
    let nats = Nats::start();
    let vm = VictoriaMetrics::start();
    let pg = crate::external::Postgres::start();
    pg.create_db("shared");
    let config = format!(
        "[server]\ntoken = \"{TOKEN}\"\n[database]\nurl = \"{}\"\n[inventory]\nevaluation_interval_secs = 1\n{}{}",
        pg.url("shared"),
        nats.queue_config(),
        vm.storage_config()
    );
    let ingest1 = start_with(&["server", "--role", "ingest"], &config, tempdir());
    let ingest2 = start_with(&["server", "--role", "ingest"], &config, tempdir());
    let handlers = start_with(&["server", "--role", "handlers"], &config, tempdir());
    // One admin user for all: created by the first start, printed once.
    assert!(ingest1.admin_password.is_some());
    assert_eq!(
        (&ingest2.admin_password, &handlers.admin_password),
        (&None, &None)
    );
    let post = |a: &Argus, path: &str, cred: &str, body: serde_json::Value| {
        let r = client()
            .post(format!("{}{path}", a.url))
            .bearer_auth(cred)
            .json(&body)
            .send()
            .unwrap_or_else(|e| panic!("{e}"));
        let s = r.status().as_u16();
        (s, r.json::<serde_json::Value>().unwrap_or_default())
    };
    let (s, b) = post(
        &ingest1,
        "/api/argus/users",
        TOKEN,
        serde_json::json!({"name": "ops", "password": "ops-password", "role": "editor"}),
    );
    assert_eq!(s, 201, "{b}");
    let (s, b) = post(
        &ingest2,
        "/api/argus/login",
        "",
        serde_json::json!({"name": "ops", "password": "ops-password"}),
    );
    assert_eq!(s, 200, "{b}");
    let session = b["token"].as_str().unwrap_or("").to_string();
    // A heartbeat through ingest 2, applied by the handlers process.
    let (s, b) = post(
        &ingest2,
        "/api/argus/heartbeat",
        &session,
        serde_json::json!({"facts": {"hostname": "shared-host", "machine_id": "m-shared"}, "interval_secs": 10}),
    );
    assert_eq!(s, 204, "{b}");
    let get = |a: &Argus, path: &str| -> serde_json::Value {
        client()
            .get(format!("{}{path}", a.url))
            .bearer_auth(&session)
            .send()
            .and_then(|r| r.json())
            .unwrap_or_default()
    };
    wait_for(
        "the host in ingest 1's inventory",
        Duration::from_secs(30),
        || (get(&ingest1, "/api/argus/hosts")["total"] == 1).then_some(()),
    );
    let r = client()
        .patch(format!("{}/api/argus/hosts/m-shared", ingest1.url))
        .bearer_auth(&session)
        .json(&serde_json::json!({"location": "dc-shared"}))
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 200);
    for a in [&ingest2, &handlers] {
        let h = get(a, "/api/argus/hosts/m-shared");
        assert_eq!(h["data"]["location"], "dc-shared", "{h}");
    }
    // The handlers process writes the inventory series into the shared store.
    let up = wait_for(
        "argus_host_up in VictoriaMetrics",
        Duration::from_secs(30),
        || {
            let b = get(
                &ingest1,
                "/api/v1/query?query=argus_host_up%7Bhost%3D%22shared-host%22%7D",
            );
            b["data"]["result"]
                .as_array()
                .filter(|r| !r.is_empty())
                .cloned()
        },
    );
    assert_eq!(up[0]["value"][1], "1", "{up:?}");
    // Logging out on ingest 1 ends the session on ingest 2 too (within its 5 s cache).
    let r = client()
        .post(format!("{}/api/argus/logout", ingest1.url))
        .bearer_auth(&session)
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 204);
    wait_for(
        "the session ended on ingest 2",
        Duration::from_secs(15),
        || {
            let r = client()
                .get(format!("{}/api/argus/me", ingest2.url))
                .bearer_auth(&session)
                .send()
                .ok()?;
            (r.status().as_u16() == 401).then_some(())
        },
    );
}
