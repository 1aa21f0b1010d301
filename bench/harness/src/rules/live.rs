//! The **live writer**: keeps the fleet's samples arriving while the rules are measured,
//! as the hosts would, at the data set's rate (every host once per interval, at its own
//! phase). Each second's samples become one Prometheus remote-write body, sent as it is to
//! both systems' `/api/v1/write`: the same bytes, so the same data.
//!
//! Samples are sent `lead` ahead of their timestamps (1 s by default): an evaluation at
//! slot `t` then sees every sample stamped at or before `t` on both systems, whatever the
//! ingest delay, so both record the same values and their answers can be compared.

use crate::query::data::Live;
use anyhow::{Context, bail};
use argus_core::{Labels, Sample, TimeSeries};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Where to send: a name for the report, the URL, a bearer token.
#[derive(Clone)]
pub struct Target {
    pub name: &'static str,
    pub url: String,
    pub token: Option<String>,
}

/// What the writer did, per target.
#[derive(Default, Clone, Debug)]
pub struct Sent {
    pub requests: u64,
    pub failed: u64,
    pub first_error: Option<String>,
    /// Slowest request, ms.
    pub max_ms: f64,
}

#[derive(Default, Debug)]
pub struct Stats {
    /// Samples in the catch-up from the data set's end to the start of the live writing.
    pub catch_up_samples: u64,
    /// Samples written after it, at the fleet's rate.
    pub live_samples: u64,
    pub live_seconds: f64,
    pub per_target: Vec<Sent>,
}

pub struct Writer {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<anyhow::Result<Stats>>>,
}

/// Most samples in one body of the catch-up.
const CATCH_UP_LINES: usize = 20_000;

impl Writer {
    /// Sends every sample from the data set's end up to now + `lead_ms` at once (the
    /// catch-up), then, every second, the samples due by then + `lead_ms`.
    pub fn start(mut live: Live, targets: Vec<Target>, lead_ms: i64) -> anyhow::Result<Self> {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        let mut stats = Stats {
            per_target: vec![Sent::default(); targets.len()],
            ..Stats::default()
        };
        // The catch-up is sent before this returns, so the caller knows the data is there.
        let (om, n) = live.emit_until(crate::probe::now_ms() + lead_ms + 1);
        stats.catch_up_samples = n;
        let lines: Vec<&str> = om.lines().collect();
        for chunk in lines.chunks(CATCH_UP_LINES) {
            let body = remote_write_body(chunk.iter().copied())?;
            for (t, sent) in targets.iter().zip(&mut stats.per_target) {
                send(&client, t, &body, sent);
            }
        }
        if let Some((t, s)) = targets
            .iter()
            .zip(&stats.per_target)
            .find(|(_, s)| s.failed > 0)
        {
            bail!(
                "the catch-up to {} failed: {}",
                t.name,
                s.first_error.clone().unwrap_or_default()
            );
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let started = std::time::Instant::now();
            while !flag.load(Ordering::Relaxed) {
                // Wake `lead` before the next whole second, send what is due by it.
                let now = crate::probe::now_ms();
                let next = (now + lead_ms).div_euclid(1000) * 1000 + 1000 - lead_ms;
                std::thread::sleep(Duration::from_millis((next - now).max(0) as u64));
                let (om, n) = live.emit_until(crate::probe::now_ms() + lead_ms + 1);
                if n == 0 {
                    continue;
                }
                stats.live_samples += n;
                let body = remote_write_body(om.lines())?;
                for (t, sent) in targets.iter().zip(&mut stats.per_target) {
                    send(&client, t, &body, sent);
                }
            }
            stats.live_seconds = started.elapsed().as_secs_f64();
            Ok(stats)
        });
        Ok(Writer {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops writing and returns what was sent.
    pub fn finish(mut self) -> anyhow::Result<Stats> {
        self.stop.store(true, Ordering::Relaxed);
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => bail!("the live writer panicked"),
            None => bail!("the live writer was already stopped"),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// POSTs a remote-write body; counts a failure instead of stopping.
pub fn send(client: &reqwest::blocking::Client, t: &Target, body: &[u8], sent: &mut Sent) {
    let started = std::time::Instant::now();
    let r = post(client, t, body);
    sent.requests += 1;
    sent.max_ms = sent.max_ms.max(started.elapsed().as_secs_f64() * 1000.0);
    if let Err(e) = r {
        sent.failed += 1;
        sent.first_error.get_or_insert_with(|| format!("{e:#}"));
    }
}

/// One remote-write request; Ok once answered 2xx.
pub fn post(client: &reqwest::blocking::Client, t: &Target, body: &[u8]) -> anyhow::Result<()> {
    let mut req = client
        .post(&t.url)
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body.to_vec());
    if let Some(token) = &t.token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().with_context(|| format!("POST {}", t.url))?;
    let status = resp.status();
    if !status.is_success() {
        let text = resp.text().unwrap_or_default();
        bail!(
            "{}: {status}: {}",
            t.url,
            crate::system::truncate(&text, 300)
        );
    }
    Ok(())
}

/// The remote-write body (snappy protobuf) holding the samples of OpenMetrics lines
/// `name{l="v",…} value seconds.millis`, one series entry per line.
pub fn remote_write_body<'a>(lines: impl Iterator<Item = &'a str>) -> anyhow::Result<Vec<u8>> {
    let series = lines
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(parse_line)
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(argus_core::remote_write::compress(
        &argus_core::remote_write::from_series(&series),
    ))
}

/// One OpenMetrics sample line of the generator's own output (label values hold no `"`,
/// `,` or `}`).
fn parse_line(line: &str) -> anyhow::Result<TimeSeries> {
    let bad = || format!("not a sample line: {line:?}");
    let (series, rest) = match line.find('{') {
        Some(open) => {
            let close = line[open..].find("} ").with_context(bad)? + open;
            (&line[..close + 1], &line[close + 2..])
        }
        None => line.split_once(' ').with_context(bad)?,
    };
    let (name, labels) = match series.split_once('{') {
        Some((n, l)) => (n, l.trim_end_matches('}')),
        None => (series, ""),
    };
    let mut pairs = vec![("__name__".to_string(), name.to_string())];
    for pair in labels.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').with_context(bad)?;
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .with_context(bad)?;
        pairs.push((k.to_string(), v.to_string()));
    }
    let (value, ts) = rest.split_once(' ').with_context(bad)?;
    let value: f64 = value.parse().with_context(bad)?;
    let (secs, millis) = ts.split_once('.').unwrap_or((ts, "0"));
    let secs: i64 = secs.parse().with_context(bad)?;
    let millis: i64 = format!("{millis:0<3}")[..3].parse().with_context(bad)?;
    Ok(TimeSeries {
        labels: Labels::from_pairs(pairs),
        samples: vec![Sample {
            ts: secs * 1000 + millis,
            value,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_lines_become_series() {
        let s = parse_line(
            r#"cpu_usage_user{cpu="cpu0",dc="eu-west",host="host-000"} 12.34 1700000000.250"#,
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(s.labels.get("__name__"), Some("cpu_usage_user"));
        assert_eq!(s.labels.get("host"), Some("host-000"));
        assert_eq!(s.labels.len(), 4);
        assert_eq!(s.samples[0].ts, 1_700_000_000_250);
        assert_eq!(s.samples[0].value, 12.34);
        let b = parse_line(r#"b{le="+Inf"} 7 1700000000.000"#).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(b.labels.get("le"), Some("+Inf"));
        assert!(parse_line("garbage").is_err());
        let body = remote_write_body(["m 1 5.000", "# EOF"].into_iter())
            .unwrap_or_else(|e| panic!("{e:#}"));
        let back = argus_core::remote_write::decode(&body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.timeseries.len(), 1);
        assert_eq!(back.timeseries[0].samples[0].timestamp, 5000);
    }
}
