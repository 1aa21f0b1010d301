//! The benchmark's **data set**: a fleet of simulated hosts sampled every interval over a
//! span ending at a given time, pre-rendered as the line-protocol request bodies their
//! agents would send, so that generating it is never part of a timed phase.
//!
//! A **batch** (one request body) holds `batch_points` consecutive points of each of
//! `batch_hosts` hosts, host after host, as a relay forwarding its agents' buffers would
//! send them. Batches are ordered by time window first, so sending them in order sends the
//! data in time order. The same seed, span and layout always give the same bytes.

mod host;
#[cfg(test)]
mod tests;

use crate::rng::Rng;
use bytes::Bytes;
use host::Host;
use std::io::Write as _;

/// What to generate.
#[derive(Clone, Debug)]
pub struct Spec {
    pub hosts: usize,
    /// Points per series.
    pub intervals: usize,
    pub interval_ms: i64,
    /// Exclusive end of the span; every timestamp is before it.
    pub end_ms: i64,
    /// Each timestamp moves by up to ± this much from its host's regular grid.
    pub jitter_ms: i64,
    pub seed: u64,
    pub batch_hosts: usize,
    pub batch_points: usize,
}

impl Spec {
    /// First instant of the span; the earliest timestamp is at or after it.
    pub fn start_ms(&self) -> i64 {
        self.end_ms - self.intervals as i64 * self.interval_ms
    }

    fn check(&self) -> Result<(), String> {
        if self.hosts == 0 || self.intervals == 0 || self.batch_hosts == 0 {
            return Err("hosts, intervals and batch hosts must be at least 1".into());
        }
        if self.batch_points == 0 || self.interval_ms < 1000 {
            return Err("batch points must be at least 1 and the interval at least 1 s".into());
        }
        if self.jitter_ms < 0 || self.jitter_ms * 2 >= self.interval_ms {
            return Err(format!(
                "jitter must be between 0 and half the interval ({} ms), got {}",
                self.interval_ms / 2 - 1,
                self.jitter_ms
            ));
        }
        Ok(())
    }
}

/// One request body.
pub struct Batch {
    pub body: Bytes,
    /// The body gzip-compressed, when asked for (see [`Dataset::compress`]).
    pub gzip: Option<Bytes>,
    pub lines: u64,
    pub samples: u64,
}

pub struct Dataset {
    pub spec: Spec,
    pub batches: Vec<Batch>,
    pub series: u64,
    pub samples: u64,
    pub lines: u64,
    /// Sum of the plain bodies' sizes.
    pub body_bytes: u64,
}

/// Renders the data set, spreading host groups over `threads` threads (the result does not
/// depend on the thread count).
pub fn generate(spec: &Spec, threads: usize) -> Result<Dataset, String> {
    spec.check()?;
    let groups = spec.hosts.div_ceil(spec.batch_hosts);
    let threads = threads.clamp(1, groups);
    // Thread t renders groups t, t + threads, …; each group yields one batch per window.
    let per_thread: Vec<Vec<(usize, Vec<Batch>, u64)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    (t..groups)
                        .step_by(threads)
                        .map(|g| {
                            let (batches, series) = render_group(spec, g);
                            (g, batches, series)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut by_group: Vec<(usize, Vec<Batch>, u64)> = per_thread.into_iter().flatten().collect();
    if by_group.len() != groups {
        return Err("a generator thread panicked".into());
    }
    by_group.sort_by_key(|(g, _, _)| *g);

    let series = by_group.iter().map(|(_, _, s)| s).sum();
    let mut iters: Vec<_> = by_group
        .into_iter()
        .map(|(_, b, _)| b.into_iter())
        .collect();
    let mut batches = Vec::new();
    // Window-major order: every group's first window, then every group's second, …
    loop {
        let before = batches.len();
        batches.extend(iters.iter_mut().filter_map(Iterator::next));
        if batches.len() == before {
            break;
        }
    }
    Ok(Dataset {
        spec: spec.clone(),
        series,
        samples: batches.iter().map(|b| b.samples).sum(),
        lines: batches.iter().map(|b| b.lines).sum(),
        body_bytes: batches.iter().map(|b| b.body.len() as u64).sum(),
        batches,
    })
}

/// Renders host group `g`: its batches in time order and its series count.
fn render_group(spec: &Spec, g: usize) -> (Vec<Batch>, u64) {
    let slack = spec.interval_ms - 2 * spec.jitter_ms;
    let first = g * spec.batch_hosts;
    let last = (first + spec.batch_hosts).min(spec.hosts);
    let mut hosts: Vec<(Host, Rng)> = (first..last)
        .map(|i| {
            let jitter = Rng::new(spec.seed ^ 0x6A17_7E55_0000_0000 ^ i as u64);
            (Host::new(spec.seed, i, slack), jitter)
        })
        .collect();
    let series = hosts.iter().map(|(h, _)| h.series()).sum();
    let interval_s = spec.interval_ms / 1000;
    let start = spec.start_ms();
    let mut batches = Vec::new();
    let mut point = 0;
    while point < spec.intervals {
        let upto = (point + spec.batch_points).min(spec.intervals);
        let mut body = String::new();
        let (mut lines, mut samples) = (0, 0);
        for (host, jitter) in &mut hosts {
            for i in point..upto {
                // The phase leaves room for the jitter, so a host's timestamps stay inside
                // their own interval: strictly increasing and within the span.
                let j = if spec.jitter_ms > 0 {
                    jitter.range(-spec.jitter_ms, spec.jitter_ms)
                } else {
                    0
                };
                let ts = start + i as i64 * spec.interval_ms + spec.jitter_ms + host.phase_ms + j;
                let (l, s) = host.emit(ts, interval_s, &mut body);
                lines += l;
                samples += s;
            }
        }
        batches.push(Batch {
            body: Bytes::from(body.into_bytes()),
            gzip: None,
            lines,
            samples,
        });
        point = upto;
    }
    (batches, series)
}

impl Dataset {
    /// Fills every batch's `gzip` body (default compression, as agents use).
    pub fn compress(&mut self) -> std::io::Result<()> {
        for b in &mut self.batches {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(b.body.len() / 6),
                flate2::Compression::default(),
            );
            enc.write_all(&b.body)?;
            b.gzip = Some(Bytes::from(enc.finish()?));
        }
        Ok(())
    }
}
