//! The embedded storage through a real server process: acknowledged writes survive
//! SIGKILL, flush and compaction on demand, figures at /metrics and the admin API.

use crate::common::{Argus, client, start, start_in, wait_for};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CONFIG: &str = "[storage]\nout_of_order_window_secs = 86400\n";

/// Raw samples of `selector` up to `at` (seconds) over `range`, by series.
fn raw(
    argus: &Argus,
    selector: &str,
    at: i64,
    range: &str,
) -> BTreeMap<String, Vec<(f64, String)>> {
    argus.drained();
    let q = format!("{selector}[{range}] @ {at}");
    let resp = client()
        .get(format!("{}/api/v1/query", argus.url))
        .query(&[("query", q.as_str())])
        .bearer_auth(&argus.token)
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    let body: serde_json::Value = resp.json().unwrap_or_default();
    assert_eq!(body["status"], "success", "{body}");
    let mut out = BTreeMap::new();
    for s in body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let key = s["metric"].to_string();
        let values = s["values"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|p| {
                (
                    p[0].as_f64().unwrap_or(f64::NAN),
                    p[1].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        out.insert(key, values);
    }
    out
}

#[test]
fn acknowledged_writes_survive_sigkill_during_ingest() {
    let argus = start("server", CONFIG);
    let base_s: i64 = 1_700_000_000;
    let stop = Arc::new(AtomicBool::new(false));
    // Per writer: the request numbers answered 204.
    let acked: Arc<Mutex<Vec<Vec<i64>>>> = Arc::new(Mutex::new(vec![Vec::new(); 4]));
    let mut threads = Vec::new();
    for w in 0..4usize {
        let (url, token, stop, acked) = (
            argus.url.clone(),
            argus.token.clone(),
            stop.clone(),
            acked.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let c = client();
            let mut i: i64 = 0;
            while !stop.load(Ordering::Relaxed) {
                let body: String = (0..50)
                    .map(|k| format!("crash,writer=w{w},k=k{k} v={i} {}\n", base_s + i))
                    .collect();
                let r = c
                    .post(format!("{url}/write?precision=s"))
                    .bearer_auth(&token)
                    .body(body)
                    .send();
                match r {
                    Ok(r) if r.status().as_u16() == 204 => {
                        if let Ok(mut a) = acked.lock() {
                            a[w].push(i);
                        }
                    }
                    _ => break, // the server is gone
                }
                i += 1;
            }
        }));
    }
    // Let ingest run, then kill without warning while requests are in flight.
    crate::common::wait_for("some acknowledged writes", Duration::from_secs(30), || {
        let n: usize = acked
            .lock()
            .map(|a| a.iter().map(Vec::len).sum())
            .unwrap_or(0);
        (n >= 200).then_some(())
    });
    let dir = argus.kill9();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let acked = acked.lock().map(|a| a.clone()).unwrap_or_default();
    let total: usize = acked.iter().map(Vec::len).sum();
    assert!(total >= 200);

    let argus = start_in("server", CONFIG, dir);
    let end = base_s + acked.iter().flatten().max().copied().unwrap_or(0) + 1;
    let got = raw(&argus, "crash_v", end, "1d");
    for (w, reqs) in acked.iter().enumerate() {
        for k in 0..50 {
            let key = format!(r#"{{"__name__":"crash_v","k":"k{k}","writer":"w{w}"}}"#);
            let series = got.get(&key).cloned().unwrap_or_default();
            let have: BTreeMap<i64, String> =
                series.into_iter().map(|(t, v)| (t as i64, v)).collect();
            for &i in reqs {
                assert_eq!(
                    have.get(&(base_s + i)).map(String::as_str),
                    Some(i.to_string().as_str()),
                    "acknowledged sample lost: writer {w} k{k} request {i} ({} acknowledged in all)",
                    total
                );
            }
        }
    }
}

#[test]
fn flush_compacts_and_data_survives_graceful_restart() {
    let argus = start("server", CONFIG);
    // 6 hours of one sample a minute for 20 series: three 2 h blocks, merged into one.
    let base = 1_700_000_000i64 / 43_200 * 43_200;
    let mut body = String::new();
    for m in 0..360 {
        for h in 0..20 {
            body.push_str(&format!(
                "load,host=h{h} v={}.25 {}\n",
                m % 7,
                base + m * 60
            ));
        }
    }
    let (s, b) = argus.post("/write?precision=s", body);
    assert_eq!(s, 204, "{b}");
    let (s, b) = argus.post("/api/argus/admin/flush", "");
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["queued_samples_not_stored"], 0, "{b}");
    assert_eq!(b["blocks_written"], 3, "{b}");
    assert_eq!(b["compactions"], 1, "{b}");
    let blocks = b["tsdb"]["blocks"].as_array().cloned().unwrap_or_default();
    assert_eq!(blocks.len(), 1, "{b}");
    assert_eq!(blocks[0]["samples"], 7200);
    assert_eq!(b["tsdb"]["head_samples"], 0);

    let (s, stats) = argus.get("/api/argus/admin/tsdb");
    assert_eq!(s, 200);
    assert_eq!(stats["block_samples"], 7200);
    let metrics = argus.metrics_text();
    assert!(
        metrics.contains("argus_tsdb_block_samples_total 7200"),
        "{metrics}"
    );
    assert!(metrics.contains("argus_tsdb_blocks 1"), "{metrics}");

    let before = raw(&argus, "load_v", base + 6 * 3600, "6h");
    assert_eq!(before.len(), 20);
    assert_eq!(before.values().map(Vec::len).sum::<usize>(), 7200);
    let (code, dir) = argus.terminate();
    assert_eq!(code, Some(0), "SIGTERM is a clean exit");
    let argus = start_in("server", CONFIG, dir);
    assert_eq!(raw(&argus, "load_v", base + 6 * 3600, "6h"), before);
}

/// A clean stop writes the head into blocks, so the next start has no write-ahead log to
/// replay (it is read in milliseconds) and every sample is there.
#[test]
fn a_clean_stop_leaves_the_head_in_blocks() {
    let argus = start("server", CONFIG);
    let base = 1_700_000_000i64 / 7_200 * 7_200;
    let mut body = String::new();
    for m in 0..60 {
        for h in 0..10 {
            body.push_str(&format!("load,host=h{h} v={m} {}\n", base + m * 60));
        }
    }
    let (s, b) = argus.post("/write?precision=s", body);
    assert_eq!(s, 204, "{b}");
    wait_for("the samples in the head", Duration::from_secs(30), || {
        let (_, stats) = argus.get("/api/argus/admin/tsdb");
        (stats["head_samples"] == 600).then_some(())
    });
    let before = raw(&argus, "load_v", base + 3600, "1h");
    assert_eq!(before.values().map(Vec::len).sum::<usize>(), 600);
    let (code, dir) = argus.terminate();
    assert_eq!(code, Some(0), "SIGTERM is a clean exit");
    let argus = start_in("server", CONFIG, dir);
    let (s, stats) = argus.get("/api/argus/admin/tsdb");
    assert_eq!(s, 200);
    assert_eq!(
        stats["head_samples"], 0,
        "nothing replayed into the head: {stats}"
    );
    assert_eq!(stats["block_samples"], 600, "{stats}");
    assert_eq!(raw(&argus, "load_v", base + 3600, "1h"), before);
}

/// Ingest acknowledges a batch once it is queued; a flush stores what is still queued
/// first, so everything acknowledged before it ends up in blocks, not in the head.
#[test]
fn flush_first_stores_what_ingest_has_queued() {
    let argus = start("server", CONFIG);
    let base = 1_700_000_000i64 / 7_200 * 7_200;
    // Four writers at once outrun the one samples handler, so the queue has a backlog.
    // Each writes its own hosts in time order.
    let (writers, requests, hosts, minutes) = (4, 10, 250, 20);
    std::thread::scope(|scope| {
        for w in 0..writers {
            let argus = &argus;
            scope.spawn(move || {
                for r in 0..requests {
                    let mut body = String::new();
                    for m in 0..minutes {
                        for h in w * hosts..(w + 1) * hosts {
                            let t = base + (r * minutes + m) * 60;
                            body.push_str(&format!("load,host=h{h} v={m} {t}\n"));
                        }
                    }
                    let (s, b) = argus.post("/write?precision=s", body);
                    assert_eq!(s, 204, "{b}");
                }
            });
        }
    });
    let (s, b) = argus.post("/api/argus/admin/flush", "");
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["queued_samples_not_stored"], 0, "{b}");
    assert_eq!(b["tsdb"]["head_samples"], 0, "{b}");
    assert_eq!(
        b["tsdb"]["block_samples"],
        writers * requests * hosts * minutes,
        "{b}"
    );
}

#[test]
fn too_old_samples_are_dropped_whole_by_the_handler_and_counted() {
    let argus = start("server", "[storage]\nout_of_order_window_secs = 60\n");
    let (s, _) = argus.post("/write?precision=s", "m,a=b v=1 1700000000");
    assert_eq!(s, 204);
    // Ingest queues the body (204); the samples handler finds it outside the out-of-order
    // window, drops the batch whole and counts it, without holding back later batches.
    let (s, body) = argus.post(
        "/write?precision=s",
        "m,a=b v=2 1700000001\nm,a=b v=3 1699990000",
    );
    assert_eq!(s, 204, "{body}");
    let (s, _) = argus.post("/write?precision=s", "m,a=b v=4 1700000002");
    assert_eq!(s, 204);
    // The whole batch was refused: its first line was not stored either.
    let got = raw(&argus, "m_v", 1_700_000_100, "1h");
    let values: Vec<&str> = got.values().flatten().map(|(_, v)| v.as_str()).collect();
    assert_eq!(values, ["1", "4"]);
    let metrics = argus.metrics_text();
    assert!(
        metrics.contains(
            "argus_pipeline_dropped_entries_total{topic=\"samples\",reason=\"rejected\"} 1"
        ),
        "{metrics}"
    );
}
