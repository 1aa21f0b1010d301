//! The timed **ingest**: every pre-built body sent once, in order, by N client threads that
//! each hold one keep-alive connection, while another thread samples the server's RSS.

use crate::dataset::Dataset;
use crate::probe;
use crate::system::{Server, truncate};
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub struct Ingest {
    /// From the first request sent to the last answer received.
    pub seconds: f64,
    pub requests: usize,
    pub failed: usize,
    /// Requests answered 429 or 503 (backpressure) and sent again after `Retry-After`.
    pub retried: usize,
    pub first_error: Option<String>,
    /// Largest VmRSS seen while ingesting until stored (sampled every 100 ms).
    pub rss_max_sampled: u64,
    /// Until every sample answered a query (see [`super::stored`]).
    pub stored: Result<super::stored::Stored, String>,
    /// Bytes the server wrote to disk (`/proc/<pid>/io` `write_bytes`) from the start of
    /// ingest until stored.
    pub written_bytes: Option<u64>,
    /// CPU seconds the server used from the start of ingest until stored.
    pub cpu_seconds: Option<f64>,
}

/// CPU time of a process so far, in seconds (clock ticks of `/proc/<pid>/stat`, 100 Hz).
fn cpu(pid: u32) -> Option<f64> {
    crate::footprint::procfs::stat(pid).map(|s| (s.utime + s.stime) as f64 / 100.0)
}

pub fn run(server: &Server, ds: &Dataset, clients: usize, gzip: bool) -> anyhow::Result<Ingest> {
    // Clients are built before the clock starts.
    let pool: Vec<reqwest::blocking::Client> = (0..clients)
        .map(|_| {
            reqwest::blocking::Client::builder()
                .no_gzip()
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(600))
                .build()
        })
        .collect::<Result<_, _>>()?;
    let url = server.write_url();
    let next = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let retried = AtomicUsize::new(0);
    let first_error: Mutex<Option<String>> = Mutex::new(None);
    let done = AtomicBool::new(false);
    let pid = server.pid();

    let query_client = super::query::client()?;
    let written_before = probe::written_bytes(pid);
    let cpu_before = cpu(pid);
    let started = Instant::now();
    let (seconds, stored, rss_max_sampled) = std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut max = 0;
            while !done.load(Ordering::Relaxed) {
                if let Some((rss, _)) = probe::rss(pid) {
                    max = rss.max(max);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            max
        });
        let workers: Vec<_> = pool
            .iter()
            .map(|client| {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(batch) = ds.batches.get(i) else {
                            break;
                        };
                        let error = loop {
                            let mut req = server
                                .auth(client.post(&url))
                                .header(CONTENT_TYPE, "text/plain; charset=utf-8");
                            req = match (&batch.gzip, gzip) {
                                (Some(z), true) => {
                                    req.header(CONTENT_ENCODING, "gzip").body(z.clone())
                                }
                                _ => req.body(batch.body.clone()),
                            };
                            match req.send() {
                                Ok(r) if r.status().is_success() => break None,
                                // Backpressure (a full queue): wait as told and send the
                                // same body again, as Telegraf and the agent do.
                                Ok(r) if matches!(r.status().as_u16(), 429 | 503) => {
                                    retried.fetch_add(1, Ordering::Relaxed);
                                    let wait = r
                                        .headers()
                                        .get(reqwest::header::RETRY_AFTER)
                                        .and_then(|v| v.to_str().ok())
                                        .and_then(|v| v.parse::<u64>().ok())
                                        .unwrap_or(1);
                                    std::thread::sleep(Duration::from_secs(wait.min(10)));
                                }
                                Ok(r) => {
                                    let status = r.status();
                                    let body = r.text().unwrap_or_default();
                                    break Some(format!(
                                        "request {i}: {status}: {}",
                                        truncate(&body, 300)
                                    ));
                                }
                                Err(e) => break Some(format!("request {i}: {e}")),
                            }
                        };
                        if let Some(e) = error {
                            failed.fetch_add(1, Ordering::Relaxed);
                            if let Ok(mut first) = first_error.lock() {
                                first.get_or_insert(e);
                            }
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
        let seconds = started.elapsed().as_secs_f64();
        let stored =
            super::stored::wait(&query_client, server, started, ds).map_err(|e| format!("{e:#}"));
        done.store(true, Ordering::Relaxed);
        (seconds, stored, sampler.join().unwrap_or(0))
    });
    let cpu_seconds = match (cpu_before, cpu(pid)) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let written_bytes = match (written_before, probe::written_bytes(pid)) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    Ok(Ingest {
        seconds,
        requests: ds.batches.len(),
        failed: failed.into_inner(),
        retried: retried.into_inner(),
        first_error: first_error.into_inner().ok().flatten(),
        rss_max_sampled,
        stored,
        written_bytes,
        cpu_seconds,
    })
}
