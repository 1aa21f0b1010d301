//! **Stored and queryable**: how long after the first request every sample answers a
//! query. Acknowledged is not stored: Argus acknowledges once a batch is in its durable
//! queue and applies it to storage afterwards; VictoriaMetrics acknowledges rows it holds
//! in memory and makes searchable about a second later. A user can rely only on what a
//! query returns, so this is the rate that counts.
//!
//! Two questions, asked in turn by one client, from the last acknowledgement on:
//! 1. *the last samples*: `count(count_over_time(system_uptime[W]))` at the span's end,
//!    where W is one interval: every host's final point of `system_uptime` is in the last
//!    interval, so the answer equals the number of hosts once the last batches are
//!    stored (cheap: one series per host);
//! 2. *every sample*: `sum(count_over_time({__name__=~".+"}[span]))` equals the samples
//!    sent. Asked once the first holds; asked again until it holds, and the time of the
//!    answer that held is the stored time. A system that applies batches out of order
//!    (VictoriaMetrics's in-memory shards) is thereby not credited before all is there.

use crate::dataset::Dataset;
use crate::system::{Kind, Server, truncate};
use anyhow::{Context, bail};
use std::time::{Duration, Instant};

/// Longest the benchmark waits for everything to be stored.
const TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Pause between polls of the cheap question.
const POLL: Duration = Duration::from_millis(20);

pub struct Stored {
    /// From the first request until every sample answered a query.
    pub seconds: f64,
    /// From the first request until the last samples answered (question 1).
    pub last_seconds: f64,
    /// Samples the full count returned at the end.
    pub counted: u64,
    /// Full counts asked (each one reads everything).
    pub full_counts: usize,
}

/// One instant query; the single value of its answer (0 when it has none).
fn instant(
    client: &reqwest::blocking::Client,
    server: &Server,
    q: &str,
    at_s: f64,
) -> anyhow::Result<f64> {
    let mut url = format!("{}/api/v1/query", server.base);
    if server.kind == Kind::Vm {
        url.push_str("?nocache=1");
    }
    let r = server
        .auth(client.post(&url))
        .form(&[("query", q), ("time", &format!("{at_s:.3}"))])
        .send()
        .with_context(|| format!("query {q}"))?;
    let status = r.status();
    let body = r.text()?;
    if !status.is_success() {
        bail!("query {q}: {status}: {}", truncate(&body, 300));
    }
    let v: serde_json::Value = serde_json::from_str(&body).context("answer is not JSON")?;
    let result = &v["data"]["result"];
    let Some(first) = result.as_array().and_then(|a| a.first()) else {
        return Ok(0.0);
    };
    first["value"][1]
        .as_str()
        .and_then(|s| s.parse::<f64>().ok())
        .with_context(|| format!("query {q}: no value in {}", truncate(&body, 300)))
}

/// The metric names of the data set (`measurement_field`), read from its first body:
/// every host sends every measurement and field in each point. Taken from the data, not
/// asked of the system, so that no metadata lookup is timed. Each with its share of the
/// samples (from the first body).
fn weighted_names(ds: &Dataset) -> Vec<(String, f64)> {
    let mut out: std::collections::BTreeMap<String, u64> = Default::default();
    let Some(first) = ds.batches.first() else {
        return Vec::new();
    };
    for line in String::from_utf8_lossy(&first.body).lines() {
        let mut parts = line.split(' ');
        let (Some(series), Some(fields)) = (parts.next(), parts.next()) else {
            continue;
        };
        let measurement = series.split(',').next().unwrap_or("");
        for f in fields.split(',') {
            if let Some((k, _)) = f.split_once('=') {
                *out.entry(format!("{measurement}_{k}")).or_default() += 1;
            }
        }
    }
    let total = out.values().sum::<u64>().max(1) as f64;
    out.into_iter()
        .map(|(n, c)| (n, c as f64 / total))
        .collect()
}

/// Most samples one counting query reads: below both systems' default limit on the
/// samples a query may load (Argus's `[query] max_samples`, 50 M, as Prometheus).
const SAMPLES_PER_QUERY: u64 = 40_000_000;

/// The queries that together count every sample: one term per metric name
/// (`count_over_time` drops the name, so over every name at once it would give several
/// series the same labels, which PromQL refuses), the names packed, by their share of the
/// samples, into as few queries as keep each under [`SAMPLES_PER_QUERY`] (one up to 40 M
/// samples). The stored time is when the last of them was sent.
fn count_all(ds: &Dataset, window_ms: i64) -> Vec<String> {
    let mut groups: Vec<(Vec<String>, f64)> = Vec::new();
    for (name, share) in weighted_names(ds) {
        let samples = share * ds.samples as f64;
        match groups.last_mut() {
            Some((g, n)) if *n + samples <= SAMPLES_PER_QUERY as f64 => {
                g.push(format!("sum(count_over_time({name}[{window_ms}ms]))"));
                *n += samples;
            }
            _ => groups.push((
                vec![format!("sum(count_over_time({name}[{window_ms}ms]))")],
                samples,
            )),
        }
    }
    groups.into_iter().map(|(g, _)| g.join(" + ")).collect()
}

/// Asks every query of [`count_all`] in turn; the total, and when the last one was sent
/// (seconds after `started`): samples only ever appear, so every one counted was stored
/// by then.
fn count(
    client: &reqwest::blocking::Client,
    server: &Server,
    queries: &[String],
    at_s: f64,
    started: Instant,
) -> anyhow::Result<(f64, f64)> {
    let mut total = 0.0;
    let mut last_sent = 0.0;
    for q in queries {
        last_sent = started.elapsed().as_secs_f64();
        total += instant(client, server, q, at_s)?;
    }
    Ok((total, last_sent))
}

/// After a restart (`started`: when the process was started): polls the full count until
/// it reaches `samples`, or until the same count has been answered for [`SETTLED`] (a
/// system that lost samples in the restart), for at most `limit`. Returns the seconds
/// until the first answer with the final count, and that count: below `samples` means
/// acknowledged samples were lost.
pub fn wait_all(
    client: &reqwest::blocking::Client,
    server: &Server,
    started: Instant,
    ds: &Dataset,
    limit: Duration,
) -> anyhow::Result<(f64, u64)> {
    let (start_ms, end_ms) = (ds.spec.start_ms(), ds.spec.end_ms);
    let samples = ds.samples;
    let q = count_all(ds, end_ms - start_ms + ds.spec.interval_ms);
    let at_s = (end_ms - 1) as f64 / 1000.0;
    let mut first: Option<(u64, f64)> = None;
    loop {
        // Not ready yet answers an error or nothing: counted as 0 and asked again.
        let (counted, asked) = count(client, server, &q, at_s, started)
            .unwrap_or((0.0, started.elapsed().as_secs_f64()));
        let counted = counted as u64;
        if counted >= samples {
            return Ok((asked, counted));
        }
        match first {
            Some((c, at)) if c == counted => {
                if counted > 0 && asked - at >= SETTLED.as_secs_f64() {
                    return Ok((at, counted));
                }
            }
            _ => first = Some((counted, asked)),
        }
        if started.elapsed() > limit {
            return Ok((asked, counted));
        }
        std::thread::sleep(POLL);
    }
}

/// How long a restarted system's count must stay the same to be taken as final.
const SETTLED: Duration = Duration::from_secs(5);

/// Waits until every sample of the data set answers a query; times are from `started`.
pub fn wait(
    client: &reqwest::blocking::Client,
    server: &Server,
    started: Instant,
    ds: &Dataset,
) -> anyhow::Result<Stored> {
    let (start_ms, end_ms) = (ds.spec.start_ms(), ds.spec.end_ms);
    let (hosts, samples, interval_ms) = (ds.spec.hosts, ds.samples, ds.spec.interval_ms);
    // Evaluated at the span's end (exclusive: no sample is at it), a window of one interval
    // holds each host's final point and nothing older than its previous one.
    let at_s = (end_ms - 1) as f64 / 1000.0;
    let last_q = format!("count(count_over_time(system_uptime[{}ms]))", interval_ms);
    let window = end_ms - start_ms + interval_ms;
    let deadline = started + TIMEOUT;
    let last_seconds = loop {
        if instant(client, server, &last_q, at_s)? as usize >= hosts {
            break started.elapsed().as_secs_f64();
        }
        if Instant::now() > deadline {
            bail!("the last samples were not queryable within {TIMEOUT:?}");
        }
        std::thread::sleep(POLL);
    };
    let all_q = count_all(ds, window);
    let mut full_counts = 0;
    loop {
        // Stored by the time the (last) question was sent: the answer that holds counts
        // from then, not from when its (long) count came back.
        let (counted, asked) = count(client, server, &all_q, at_s, started)?;
        full_counts += 1;
        if counted as u64 >= samples {
            return Ok(Stored {
                seconds: asked.max(last_seconds),
                last_seconds,
                counted: counted as u64,
                full_counts,
            });
        }
        if Instant::now() > deadline {
            bail!("{counted} of {samples} samples queryable after {TIMEOUT:?}");
        }
        std::thread::sleep(POLL);
    }
}
