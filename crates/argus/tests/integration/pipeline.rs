//! The ingest pipeline through real processes: ingest → queue → handlers, with the
//! embedded log and with a real `nats-server` (JetStream) between split roles.

use crate::common::{
    Argus, client, error_of, metric, start, start_in, start_with, value, wait_for,
};
use crate::external::Nats;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The handlers group's un-acked entries of `topic`, as `/metrics` says.
fn handlers_lag(argus: &Argus, topic: &str) -> Option<f64> {
    metric(
        argus,
        &format!("argus_queue_lag_entries{{topic=\"{topic}\",group=\"handlers\"}}"),
    )
}

fn processed(argus: &Argus, topic: &str) -> f64 {
    metric(
        argus,
        &format!("argus_pipeline_processed_entries_total{{topic=\"{topic}\"}}"),
    )
    .unwrap_or(0.0)
}

/// Every value of `m_v{run="<run>"}` stored, sorted.
fn stored_values(argus: &Argus, run: &str) -> Vec<i64> {
    argus.drained();
    let resp = client()
        .get(format!("{}/api/v1/query", argus.url))
        .query(&[(
            "query",
            format!(r#"m_v{{run="{run}"}}[3d] @ 1700200000"#).as_str(),
        )])
        .bearer_auth(&argus.token)
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    let body: serde_json::Value = resp.json().unwrap_or_default();
    let mut out: Vec<i64> = body["data"]["result"][0]["values"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p[1].as_str().and_then(|v| v.parse::<f64>().ok()))
        .map(|v| v as i64)
        .collect();
    out.sort_unstable();
    out
}

#[test]
fn embedded_roundtrip_every_type_reaches_its_handler() {
    let argus = start("server", "");
    let (s, _) = argus.post(
        "/write?db=team1&precision=s",
        "cpu,host=a user=12.5 1700000000",
    );
    assert_eq!(s, 204);
    let (s, _) = argus.post(
        "/api/argus/events",
        "{\"type\":\"alarm\",\"host\":\"a\",\"ts\":1700000000,\"code\":\"disk\"}\n{\"type\":\"my-type\",\"host\":\"b\",\"ts\":1700000001}",
    );
    assert_eq!(s, 204);
    let resp = client()
        .post(format!("{}/api/argus/heartbeat", argus.url))
        .bearer_auth(&argus.token)
        .json(&serde_json::json!({"facts": {"hostname": "web1", "cpus": 4}}))
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status().as_u16(), 204);

    let r = argus.query(r#"cpu_user{ns="team1"} @ 1700000000"#);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(value(&r[0]), 12.5);
    // A custom type is found by the handlers process and stored like the others.
    let custom = wait_for("the custom event type", Duration::from_secs(15), || {
        let (_, b) = argus.get("/api/argus/events?type=my-type&start=1699999000&end=1700001000");
        b["data"].as_array().filter(|a| !a.is_empty()).cloned()
    });
    assert_eq!(custom[0]["host"], "b");
    let (_, b) = argus.get("/api/argus/events?type=alarm&host=a&start=1699999000&end=1700001000");
    assert_eq!(b["data"][0]["code"], "disk", "{b}");
    let (_, hosts) = argus.get("/api/argus/hosts");
    assert_eq!(hosts["data"][0]["hostname"], "web1", "{hosts}");
    assert_eq!(hosts["data"][0]["heartbeat"]["facts"]["cpus"], 4);
    assert!(argus.data_dir().join("registry.db").exists());
    assert_eq!(processed(&argus, "samples"), 1.0);
    assert_eq!(processed(&argus, "alarm"), 1.0);
    assert_eq!(processed(&argus, "heartbeat"), 1.0);
    assert_eq!(handlers_lag(&argus, "samples"), Some(0.0));
    // An event type that cannot be a topic is refused, naming the event.
    let (s, body) = argus.post("/api/argus/events", "{\"type\":\"Bad Type\"}");
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["at"], "event[0].type", "{body}");
}

#[test]
fn a_restart_resumes_exactly_after_the_last_processed_entry() {
    let argus = start("server", "");
    for i in 0..20 {
        let (s, _) = argus.post(
            "/write?precision=s",
            format!("m,run=graceful v={i} {}", 1_700_000_000 + i),
        );
        assert_eq!(s, 204);
    }
    assert_eq!(
        stored_values(&argus, "graceful"),
        (0..20).collect::<Vec<_>>()
    );
    assert_eq!(processed(&argus, "samples"), 20.0);
    let (code, dir) = argus.terminate();
    assert_eq!(code, Some(0));
    let argus = start_in("server", "", dir);
    let (s, _) = argus.post("/write?precision=s", "m,run=graceful v=20 1700000020");
    assert_eq!(s, 204);
    assert_eq!(
        stored_values(&argus, "graceful"),
        (0..21).collect::<Vec<_>>()
    );
    // Only the new entry was handled after the restart: nothing replayed from the start.
    assert_eq!(processed(&argus, "samples"), 1.0);
}

#[test]
fn sigkill_mid_stream_loses_no_acknowledged_sample() {
    // Three workers share the samples group: a kill leaves batches of each un-acked.
    const CONFIG: &str = "[handlers]\nworkers_per_type = 3\n";
    let argus = start("server", CONFIG);
    let (url, token) = (argus.url.clone(), argus.token.clone());
    // A writer sends batches until the server dies, remembering which were acknowledged.
    let writer = std::thread::spawn(move || {
        let c = client();
        let mut acked = Vec::new();
        for i in 0..100_000i64 {
            let body = format!("m,run=kill v={i} {}", 1_700_000_000 + i);
            match c
                .post(format!("{url}/write?precision=s"))
                .bearer_auth(&token)
                .body(body)
                .send()
            {
                Ok(r) if r.status().as_u16() == 204 => acked.push(i),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        acked
    });
    wait_for("some handled batches", Duration::from_secs(20), || {
        (processed(&argus, "samples") >= 50.0).then_some(())
    });
    let dir = argus.kill9();
    let acked = writer.join().unwrap_or_default();
    assert!(acked.len() >= 50, "{} acknowledged", acked.len());
    let argus = start_in("server", CONFIG, dir);
    let got = stored_values(&argus, "kill");
    let missing: Vec<&i64> = acked
        .iter()
        .filter(|i| got.binary_search(i).is_err())
        .collect();
    assert!(missing.is_empty(), "acknowledged and lost: {missing:?}");
    // Rewrites are idempotent: each sample is stored once even if its batch was replayed.
    let mut dedup = got.clone();
    dedup.dedup();
    assert_eq!(dedup, got);
}

#[test]
fn a_full_queue_answers_429_with_retry_after_and_counts_it() {
    // The handlers consume only a type nobody sends, so the samples stay queued.
    let argus = start(
        "server",
        "[queue]\nmax_bytes = 8192\nsegment_bytes = 4096\nfull_retry_after_secs = 3\n[handlers]\ntypes = [\"unused\"]\n",
    );
    let line = format!("m,run=full,pad={} v=1 1700000000", "x".repeat(500));
    let mut full = None;
    for _ in 0..100 {
        let resp = client()
            .post(format!("{}/write?precision=s", argus.url))
            .bearer_auth(&argus.token)
            .body(line.clone())
            .send()
            .unwrap_or_else(|e| panic!("{e}"));
        let status = resp.status().as_u16();
        if status != 204 {
            let retry = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            full = Some((status, retry, resp.json::<serde_json::Value>().ok()));
            break;
        }
    }
    let (status, retry, body) = full.unwrap_or_else(|| panic!("the queue never filled"));
    assert_eq!(status, 429);
    assert_eq!(retry.as_deref(), Some("3"));
    let body = body.unwrap_or_default();
    assert_eq!(body["code"], "too many requests", "{body}");
    assert!(error_of(&body).contains("queue is full"), "{body}");
    assert_eq!(
        metric(
            &argus,
            r#"argus_ingest_rejected_requests_total{reason="queue_full"}"#
        ),
        Some(1.0)
    );
    let bytes = metric(&argus, "argus_queue_bytes").unwrap_or(0.0);
    assert!(bytes > 4096.0 && bytes <= 8192.0, "{bytes}");
}

#[test]
fn an_exec_handler_gets_json_lines_and_a_failed_run_is_retried() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("out.jsonl");
    let marker = dir.path().join("failed-once");
    // The first run fails (and leaves a marker): the batch must come again, whole.
    let script = format!(
        "if [ ! -e '{m}' ]; then touch '{m}'; exit 1; fi; cat >> '{o}'",
        m = marker.display(),
        o = out.display()
    );
    let config = format!(
        "[handlers.exec.deploy]\ncommand = [\"sh\", \"-c\", {script:?}]\ntimeout_secs = 10\n"
    );
    let argus = start_in("server", &config, dir);
    let (s, _) = argus.post(
        "/api/argus/events",
        "{\"type\":\"deploy\",\"host\":\"h1\",\"ts\":1700000000,\"version\":\"1.2\"}\n{\"type\":\"deploy\",\"host\":\"h2\",\"ts\":1700000001,\"version\":\"1.3\"}",
    );
    assert_eq!(s, 204);
    let text = wait_for("the script's output", Duration::from_secs(20), || {
        std::fs::read_to_string(&out)
            .ok()
            .filter(|t| t.lines().count() >= 2)
    });
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_default())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["type"], "deploy");
    assert_eq!(lines[0]["host"], "h1");
    assert_eq!(lines[0]["version"], "1.2");
    assert_eq!(lines[0]["ts"], 1_700_000_000_000i64);
    assert_eq!(lines[1]["version"], "1.3");
    wait_for("the batch acked", Duration::from_secs(10), || {
        (processed(&argus, "deploy") == 1.0).then_some(())
    });
    assert_eq!(
        metric(
            &argus,
            r#"argus_pipeline_handler_failures_total{topic="deploy"}"#
        ),
        Some(1.0)
    );
}

fn nats_config(nats: &Nats) -> String {
    format!("{}unavailable_retry_after_secs = 7\n", nats.queue_config())
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

fn wait_processed(argus: &Argus, topic: &str, n: f64) {
    wait_for(
        &format!("{n} {topic} entries handled"),
        Duration::from_secs(30),
        || (processed(argus, topic) >= n).then_some(()),
    );
}

#[test]
fn nats_split_roles_consume_their_types_in_separate_processes() {
    let nats = Nats::start();
    let config = nats_config(&nats);
    let ingest = start_with(&["server", "--role", "ingest"], &config, tempdir());
    let samples = start_with(
        &["server", "--role", "handlers", "--types", "samples"],
        &config,
        tempdir(),
    );
    let alarms = start_with(
        &["server", "--role", "handlers", "--types", "alarm"],
        &config,
        tempdir(),
    );
    // The handlers processes answer /health and /metrics only.
    let (s, b) = samples.get("/api/v1/query?query=up");
    assert_eq!(s, 404);
    assert!(error_of(&b).contains("--role handlers"), "{b}");

    for i in 0..5 {
        let (s, b) = ingest.post(
            "/write?db=t1&precision=s",
            format!("m,run=nats v={i} {}", 1_700_000_000 + i),
        );
        assert_eq!(s, 204, "{b}");
    }
    let (s, _) = ingest.post(
        "/api/argus/events",
        "{\"type\":\"alarm\",\"host\":\"db1\",\"ts\":1700000000,\"code\":\"disk_full\"}",
    );
    assert_eq!(s, 204);
    // A body larger than NATS's max_payload (1 MiB) encoded is queued as several entries.
    let big: String = (0..30_000)
        .map(|i| format!("big,series=s{i:05} v={i} 1700000000\n"))
        .collect();
    let (s, b) = ingest.post("/write?precision=s", big);
    assert_eq!(s, 204, "{b}");
    let parts = metric(
        &ingest,
        r#"argus_pipeline_published_entries_total{topic="samples"}"#,
    )
    .unwrap_or(0.0);
    assert!(parts >= 7.0, "{parts} entries");
    wait_processed(&samples, "samples", parts);
    wait_processed(&alarms, "alarm", 1.0);
    // Each process handled only its own type.
    assert_eq!(processed(&samples, "alarm"), 0.0);
    assert_eq!(processed(&alarms, "samples"), 0.0);
    // The handlers process answers for what it stored; it takes no writes.
    let (status, b) = alarms.get("/api/argus/events?type=alarm&start=1699999000&end=1700001000");
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["data"][0]["code"], "disk_full", "{b}");
    let (status, _) = alarms.post("/api/argus/events", "{\"type\":\"alarm\"}");
    assert_eq!(status, 405);

    // The values are where the handlers put them: open each handler's data directory
    // with a query-only process and read them back.
    let (code, dir) = samples.terminate();
    assert_eq!(code, Some(0));
    let reader = start_with(&["server", "--role", "ingest"], &config, dir);
    assert_eq!(stored_values(&reader, "nats"), vec![0, 1, 2, 3, 4]);
    let r = reader.query(r#"m_v{run="nats"} @ 1700000004"#);
    assert_eq!(r[0]["metric"]["ns"], "t1");
    let r = reader.query("big_v @ 1700000000");
    assert_eq!(r.len(), 30_000);
    assert_eq!(
        r.iter().map(value).sum::<f64>(),
        (0..30_000).sum::<i64>() as f64
    );
    drop(reader);
    let (code, dir) = alarms.terminate();
    assert_eq!(code, Some(0));
    let reader = start_with(&["server", "--role", "ingest"], &config, dir);
    let (_, b) = reader.get("/api/argus/events?type=alarm&start=1699999000&end=1700001000");
    assert_eq!(b["data"][0]["code"], "disk_full", "{b}");
    assert_eq!(b["data"][0]["host"], "db1");
    drop(reader);

    // NATS gone: ingest answers 503 with Retry-After, counted by reason.
    drop(nats);
    let deadline = Instant::now() + Duration::from_secs(30);
    let (status, retry) = loop {
        let resp = client()
            .post(format!("{}/write?precision=s", ingest.url))
            .bearer_auth(&ingest.token)
            .body("m,run=down v=1 1700000000")
            .send()
            .unwrap_or_else(|e| panic!("{e}"));
        let status = resp.status().as_u16();
        if status != 204 || Instant::now() > deadline {
            let retry = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            break (status, retry);
        }
    };
    assert_eq!(status, 503);
    assert_eq!(retry.as_deref(), Some("7"));
    assert!(
        metric(
            &ingest,
            r#"argus_ingest_rejected_requests_total{reason="queue_unavailable"}"#
        )
        .is_some_and(|n| n >= 1.0)
    );
}

#[test]
fn split_roles_need_a_shared_queue() {
    let out = Command::new(crate::common::BIN)
        .args(["server", "--role", "handlers", "--data-dir"])
        .arg(Path::new("/nonexistent-argus-dir"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("queue.kind = \"nats\""), "{err}");
}

#[test]
fn a_stuck_type_does_not_hold_back_the_others() {
    // The `slow` type's script takes 8 s; samples and alarms go on meanwhile, each type
    // in its own task.
    let argus = start(
        "server",
        "[handlers.exec.slow]\ncommand = [\"sleep\", \"8\"]\ntimeout_secs = 60\n",
    );
    let (s, _) = argus.post("/api/argus/events", "{\"type\":\"slow\",\"host\":\"h\"}");
    assert_eq!(s, 204);
    let (s, _) = argus.post("/write?precision=s", "m,run=par v=7 1700000000");
    assert_eq!(s, 204);
    let (s, _) = argus.post(
        "/api/argus/events",
        "{\"type\":\"alarm\",\"host\":\"h\",\"ts\":1700000000}",
    );
    assert_eq!(s, 204);
    let started = Instant::now();
    wait_for("samples and alarm handled", Duration::from_secs(10), || {
        (processed(&argus, "samples") == 1.0 && processed(&argus, "alarm") == 1.0).then_some(())
    });
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(processed(&argus, "slow"), 0.0);
    assert_eq!(handlers_lag(&argus, "slow"), Some(1.0));
}
