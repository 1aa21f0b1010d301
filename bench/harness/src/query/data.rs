//! The query benchmark's **data**: a fleet of hosts with the series dashboards read, each
//! sample written twice — as line-protocol request bodies (Argus and VictoriaMetrics take
//! them at `/write`) and as one OpenMetrics file (Prometheus's `promtool tsdb
//! create-blocks-from openmetrics`). Both carry the same names, labels, timestamps and
//! decimal values, so the three systems hold the same data.
//!
//! Per host (`host=host-NNN`, `dc` round-robin over five names):
//! - `net_bytes_recv`, `net_bytes_sent` per `interface` (eth0, eth1): counters;
//! - `cpu_usage_user`, `cpu_usage_system`, `cpu_usage_idle` per `cpu` (cpu0, cpu1): gauges
//!   in % with two decimals;
//! - `mem_used_percent`: a gauge;
//! - `http_request_duration_seconds_bucket` per `le` (0.05 … +Inf): cumulative counters.
//!
//! 17 series per host: 500 hosts give 1 000 `net_bytes_recv` series. Samples of a series
//! are in time order in both forms (bodies are ordered by time window first).

use crate::dataset::{Batch, Dataset, Spec};
use crate::rng::Rng;
use bytes::Bytes;
use std::fmt::Write as _;
use std::io::Write as _;

pub const SERIES_PER_HOST: u64 = 17;
pub const DCS: [&str; 5] = ["eu-west", "eu-central", "us-east", "us-west", "ap-south"];
const IFACES: [&str; 2] = ["eth0", "eth1"];
const CPUS: [&str; 2] = ["cpu0", "cpu1"];
const BUCKETS: [&str; 6] = ["0.05", "0.1", "0.25", "0.5", "1", "+Inf"];
/// Hosts per request body, and points of each per body.
const BATCH_HOSTS: usize = 25;
const BATCH_POINTS: usize = 40;

struct Host {
    rng: Rng,
    name: String,
    dc: &'static str,
    /// Offset of this host's samples within the interval, whole seconds.
    phase_ms: i64,
    /// Per interface: bytes received and sent so far, and the current rates (B/s).
    net: [[i64; 4]; 2],
    /// Per cpu: user and system in hundredths of a percent.
    cpu: [[i64; 2]; 2],
    mem: i64,
    /// Cumulative bucket counts and the request rate (per second).
    buckets: [i64; 6],
    req_rate: i64,
}

impl Host {
    fn new(seed: u64, i: usize, interval_ms: i64) -> Self {
        let mut rng = Rng::new(seed.wrapping_mul(0x9E37_79B9).wrapping_add(i as u64));
        let phase_ms = rng.below((interval_ms / 1000).max(1) as u64) as i64 * 1000;
        let net = std::array::from_fn(|_| {
            [
                rng.range(0, 1 << 40),
                rng.range(0, 1 << 40),
                rng.range(1_000, 5_000_000),
                rng.range(1_000, 5_000_000),
            ]
        });
        let cpu = std::array::from_fn(|_| [rng.range(300, 4000), rng.range(100, 1500)]);
        Host {
            name: format!("host-{i:03}"),
            dc: DCS[i % DCS.len()],
            phase_ms,
            net,
            cpu,
            mem: rng.range(2000, 8000),
            buckets: [0; 6],
            req_rate: rng.range(5, 200),
            rng,
        }
    }

    /// Writes one interval's samples at `ts_ms` in both forms, then advances the state.
    fn emit(&mut self, ts_ms: i64, interval_s: i64, lp: &mut String, om: &mut String) -> u64 {
        let ts_om = format!("{}.{:03}", ts_ms.div_euclid(1000), ts_ms.rem_euclid(1000));
        let (h, dc) = (self.name.as_str(), self.dc);
        for (k, iface) in IFACES.iter().enumerate() {
            let n = &self.net[k];
            let _ = writeln!(
                lp,
                "net,dc={dc},host={h},interface={iface} bytes_recv={},bytes_sent={} {ts_ms}",
                n[0], n[1]
            );
            for (field, v) in [("bytes_recv", n[0]), ("bytes_sent", n[1])] {
                let _ = writeln!(
                    om,
                    "net_{field}{{dc=\"{dc}\",host=\"{h}\",interface=\"{iface}\"}} {v} {ts_om}"
                );
            }
        }
        for (k, cpu) in CPUS.iter().enumerate() {
            let [user, system] = self.cpu[k];
            let idle = 10_000 - user - system;
            let (u, s, i) = (pct(user), pct(system), pct(idle));
            let _ = writeln!(
                lp,
                "cpu,cpu={cpu},dc={dc},host={h} usage_user={u},usage_system={s},usage_idle={i} {ts_ms}"
            );
            for (field, v) in [("user", &u), ("system", &s), ("idle", &i)] {
                let _ = writeln!(
                    om,
                    "cpu_usage_{field}{{cpu=\"{cpu}\",dc=\"{dc}\",host=\"{h}\"}} {v} {ts_om}"
                );
            }
        }
        let m = pct(self.mem);
        let _ = writeln!(lp, "mem,dc={dc},host={h} used_percent={m} {ts_ms}");
        let _ = writeln!(
            om,
            "mem_used_percent{{dc=\"{dc}\",host=\"{h}\"}} {m} {ts_om}"
        );
        for (k, le) in BUCKETS.iter().enumerate() {
            let v = self.buckets[k];
            let _ = writeln!(
                lp,
                "http_request_duration_seconds,dc={dc},host={h},le={le} bucket={v} {ts_ms}"
            );
            let _ = writeln!(
                om,
                "http_request_duration_seconds_bucket{{dc=\"{dc}\",host=\"{h}\",le=\"{le}\"}} {v} {ts_om}"
            );
        }

        // Advance one interval.
        let rng = &mut self.rng;
        for n in &mut self.net {
            n[2] = (n[2] + rng.range(-100_000, 100_000)).clamp(1_000, 20_000_000);
            n[3] = (n[3] + rng.range(-50_000, 50_000)).clamp(1_000, 10_000_000);
            n[0] += n[2] * interval_s + rng.range(0, 1000);
            n[1] += n[3] * interval_s + rng.range(0, 1000);
        }
        for c in &mut self.cpu {
            c[0] = (c[0] + rng.range(-200, 200)).clamp(100, 6000);
            c[1] = (c[1] + rng.range(-80, 80)).clamp(50, 2500);
        }
        self.mem = (self.mem + rng.range(-30, 30)).clamp(500, 9500);
        self.req_rate = (self.req_rate + rng.range(-5, 5)).clamp(1, 400);
        // Requests of this interval, spread over the buckets (a skewed latency profile);
        // each bucket counts the requests at or below its bound, +Inf all of them.
        let total = self.req_rate * interval_s;
        let mut cumulative = 0;
        for (k, share) in [40, 25, 15, 10, 6].iter().enumerate() {
            cumulative += (total * share / 100 + rng.range(0, 3)).min(total - cumulative);
            self.buckets[k] += cumulative;
        }
        self.buckets[5] += total;
        SERIES_PER_HOST
    }
}

/// Hundredths as a decimal with two places.
fn pct(h: i64) -> String {
    format!("{}.{:02}", h / 100, h % 100)
}

/// The data set: request bodies for `/write?precision=ms`, and the OpenMetrics file written
/// to `openmetrics`. `end_ms` is exclusive; every timestamp is a whole second.
pub fn generate(
    hosts: usize,
    points: usize,
    interval_ms: i64,
    end_ms: i64,
    seed: u64,
    openmetrics: &std::path::Path,
) -> anyhow::Result<Dataset> {
    generate_live(hosts, points, interval_ms, end_ms, seed, openmetrics).map(|(ds, _)| ds)
}

/// The hosts of a data set after its last point: they go on where it ended, so a
/// benchmark that needs samples to keep arriving (the `rules` one) continues the same
/// random walks, counters and histograms in real time.
pub struct Live {
    hosts: Vec<Host>,
    start_ms: i64,
    interval_ms: i64,
    /// Per host, the index of its next point (its timestamp is `start_ms + i * interval_ms
    /// + phase`).
    next: Vec<usize>,
}

impl Live {
    /// Every sample not emitted yet whose timestamp is before `until_ms`, as OpenMetrics
    /// lines (no `# EOF`), each series in time order; and how many samples that is.
    pub fn emit_until(&mut self, until_ms: i64) -> (String, u64) {
        let interval_s = self.interval_ms / 1000;
        let mut om = String::new();
        let mut lp = String::new();
        let mut n = 0;
        for (host, next) in self.hosts.iter_mut().zip(&mut self.next) {
            loop {
                let ts = self.start_ms + *next as i64 * self.interval_ms + host.phase_ms;
                if ts >= until_ms {
                    break;
                }
                lp.clear();
                n += host.emit(ts, interval_s, &mut lp, &mut om);
                *next += 1;
            }
        }
        (om, n)
    }

    pub fn series(&self) -> u64 {
        self.hosts.len() as u64 * SERIES_PER_HOST
    }
}

/// [`generate`], also handing back the hosts to go on with ([`Live`]).
pub fn generate_live(
    hosts: usize,
    points: usize,
    interval_ms: i64,
    end_ms: i64,
    seed: u64,
    openmetrics: &std::path::Path,
) -> anyhow::Result<(Dataset, Live)> {
    let start = end_ms - points as i64 * interval_ms;
    let interval_s = interval_ms / 1000;
    let mut all: Vec<Host> = (0..hosts)
        .map(|i| Host::new(seed, i, interval_ms))
        .collect();
    let mut file = std::io::BufWriter::new(std::fs::File::create(openmetrics)?);
    let mut batches = Vec::new();
    let mut samples = 0u64;
    let mut p = 0;
    while p < points {
        let upto = (p + BATCH_POINTS).min(points);
        for group in all.chunks_mut(BATCH_HOSTS) {
            let mut lp = String::new();
            let mut om = String::new();
            let mut n = 0;
            for host in group.iter_mut() {
                for i in p..upto {
                    let ts = start + i as i64 * interval_ms + host.phase_ms;
                    n += host.emit(ts, interval_s, &mut lp, &mut om);
                }
            }
            file.write_all(om.as_bytes())?;
            samples += n;
            batches.push(Batch {
                lines: lp.lines().count() as u64,
                body: Bytes::from(lp.into_bytes()),
                gzip: None,
                samples: n,
            });
        }
        p = upto;
    }
    file.write_all(b"# EOF\n")?;
    file.flush()?;
    let ds = Dataset {
        spec: Spec {
            hosts,
            intervals: points,
            interval_ms,
            end_ms,
            jitter_ms: 0,
            seed,
            batch_hosts: BATCH_HOSTS,
            batch_points: BATCH_POINTS,
        },
        series: hosts as u64 * SERIES_PER_HOST,
        samples,
        lines: batches.iter().map(|b| b.lines).sum(),
        body_bytes: batches.iter().map(|b| b.body.len() as u64).sum(),
        batches,
    };
    let live = Live {
        next: vec![points; all.len()],
        hosts: all,
        start_ms: start,
        interval_ms,
    };
    Ok((ds, live))
}
