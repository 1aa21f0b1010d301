//! Synthetic, deterministic monitoring data shaped like a fleet of agents: what the chunk
//! tests and benchmarks (and anyone measuring storage size) compress.
//!
//! A *fleet* is `hosts` hosts, each reporting 29 series every 10 s, the way Telegraf's
//! `cpu`, `mem`, `net`/`diskio` and `system` inputs do. Series of one input share their
//! timestamps (one gather stamps all its fields), which sit on a 10 s grid with a per-host
//! phase and a uniform jitter of ±`jitter_ms`.

/// A small deterministic generator (SplitMix64), so every run sees the same data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `-max..=max`.
    pub fn jitter(&mut self, max: i64) -> i64 {
        if max <= 0 {
            return 0;
        }
        self.below(2 * max as u64 + 1) as i64 - max
    }
}

/// What a series measures, which decides how its values move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// CPU percentages with 2 decimals, noisy around a per-series level (`usage_idle`).
    CpuPercent,
    /// Memory in bytes: multiples of 1 KiB, drifting by a few MB (`mem_used`).
    MemoryBytes,
    /// Monotonic integer counters at a varying rate (`bytes_recv`, `packets_sent`).
    Counter,
    /// Values that never change: totals, core counts, error counters stuck at 0.
    Constant,
    /// Load averages with 2 decimals, exponentially smoothed (`load1`, `load15`).
    LoadAverage,
    /// Uptime in whole seconds, growing by about 10 per sample.
    Uptime,
    /// Computed floats printed with 15–17 digits (`usage_user` as Telegraf sends it).
    /// Not part of [`fleet`]; measured separately.
    ArbitraryFloat,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 7] = [
        Kind::CpuPercent,
        Kind::MemoryBytes,
        Kind::Counter,
        Kind::Constant,
        Kind::LoadAverage,
        Kind::Uptime,
        Kind::ArbitraryFloat,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::CpuPercent => "cpu_percent",
            Kind::MemoryBytes => "memory_bytes",
            Kind::Counter => "counter",
            Kind::Constant => "constant",
            Kind::LoadAverage => "load_average",
            Kind::Uptime => "uptime",
            Kind::ArbitraryFloat => "arbitrary_float",
        }
    }
}

/// One generated series.
#[derive(Debug, Clone)]
pub struct Series {
    pub kind: Kind,
    pub ts: Vec<i64>,
    pub values: Vec<f64>,
}

/// The first grid point of every generated series: 2023-11-14T22:13:20Z.
pub const START_MS: i64 = 1_700_000_000_000;

/// The agents' interval.
pub const INTERVAL_MS: i64 = 10_000;

/// `n` timestamps on a grid of `interval_ms` starting at `start`, each off by up to
/// ±`jitter_ms`, kept strictly increasing.
pub fn grid_timestamps(
    rng: &mut Rng,
    start: i64,
    n: usize,
    interval_ms: i64,
    jitter_ms: i64,
) -> Vec<i64> {
    let mut out: Vec<i64> = Vec::with_capacity(n);
    for i in 0..n as i64 {
        let mut t = start + i * interval_ms + rng.jitter(jitter_ms);
        if let Some(&prev) = out.last() {
            t = t.max(prev + 1);
        }
        out.push(t);
    }
    out
}

/// Values of `kind` at timestamps `ts`.
pub fn values(kind: Kind, rng: &mut Rng, ts: &[i64]) -> Vec<f64> {
    let n = ts.len();
    match kind {
        Kind::CpuPercent => {
            // Level in hundredths of a percent, white noise of a level-dependent size.
            let level = [50, 120, 300, 2_500, 9_400, 9_850][rng.below(6) as usize] as f64;
            let noise = (level.min(10_000.0 - level) * 0.15).max(3.0);
            let mut drift = 0.0;
            (0..n)
                .map(|_| {
                    drift = (drift + (rng.unit() - 0.5) * noise * 0.2) * 0.98;
                    let x = level + drift + (rng.unit() - 0.5) * 2.0 * noise;
                    x.round().clamp(0.0, 10_000.0) / 100.0
                })
                .collect()
        }
        Kind::MemoryBytes => {
            let mut kib = 1_000_000 + rng.below(15_000_000) as i64;
            (0..n)
                .map(|_| {
                    if rng.below(4) != 0 {
                        kib += rng.jitter(2_000);
                    }
                    (kib * 1024) as f64
                })
                .collect()
        }
        Kind::Counter => {
            // Bytes, packets or disk operations per second.
            let mut rate = [2_000_000.0, 1_500.0, 40.0][rng.below(3) as usize] * (0.2 + rng.unit());
            let mut total = rng.below(1 << 40) as f64;
            let mut prev_t = ts.first().copied().unwrap_or(0);
            ts.iter()
                .map(|&t| {
                    rate *= 0.9 + 0.2 * rng.unit();
                    let dt = (t - prev_t) as f64 / 1000.0;
                    prev_t = t;
                    total += (rate * dt * (0.7 + 0.6 * rng.unit())).round();
                    total
                })
                .collect()
        }
        Kind::Constant => {
            let v = [0.0, 0.0, 4.0, 17_179_869_184.0, 1.0, 0.0][rng.below(6) as usize];
            vec![v; n]
        }
        Kind::LoadAverage => {
            // load1, load5 or load15 over a small run queue.
            let window_s = [60.0f64, 300.0, 900.0][rng.below(3) as usize];
            let decay = (-10.0 / window_s).exp();
            let busy = 0.2 + rng.unit() * 3.0;
            let mut load = busy;
            (0..n)
                .map(|_| {
                    let runnable = (busy + (rng.unit() - 0.5) * 2.0 * busy).max(0.0).round();
                    load = load * decay + runnable * (1.0 - decay);
                    (load * 100.0).round() / 100.0
                })
                .collect()
        }
        Kind::Uptime => {
            let boot = ts.first().copied().unwrap_or(0) - 1_000 * rng.below(30 * 86_400) as i64;
            ts.iter().map(|&t| ((t - boot) / 1000) as f64).collect()
        }
        Kind::ArbitraryFloat => {
            let busy = 1.0 + rng.unit() * 20.0;
            (0..n)
                .map(|_| {
                    let ticks = (busy * 100.0 * (0.5 + rng.unit())).round();
                    ticks / (200.0 + rng.below(3) as f64) * 100.0 / 3.0
                })
                .collect()
        }
    }
}

/// The series of one host, by input: which kinds each input reports.
const INPUTS: [&[Kind]; 4] = [
    // cpu: user, system, idle, iowait, softirq, steal
    &[Kind::CpuPercent; 6],
    // mem: used, free, cached, buffered, available, total
    &[
        Kind::MemoryBytes,
        Kind::MemoryBytes,
        Kind::MemoryBytes,
        Kind::MemoryBytes,
        Kind::MemoryBytes,
        Kind::Constant,
    ],
    // net + diskio: 8 counters, 4 error/drop counters that stay constant
    &[
        Kind::Counter,
        Kind::Counter,
        Kind::Counter,
        Kind::Counter,
        Kind::Counter,
        Kind::Counter,
        Kind::Counter,
        Kind::Counter,
        Kind::Constant,
        Kind::Constant,
        Kind::Constant,
        Kind::Constant,
    ],
    // system: load1, load5, load15, uptime, n_cpus
    &[
        Kind::LoadAverage,
        Kind::LoadAverage,
        Kind::LoadAverage,
        Kind::Uptime,
        Kind::Constant,
    ],
];

/// Series per host in [`fleet`].
pub const SERIES_PER_HOST: usize = 29;

/// `hosts` hosts × 29 series × `samples` samples of agent data (see the module docs).
pub fn fleet(hosts: usize, samples: usize, jitter_ms: i64, seed: u64) -> Vec<Series> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(hosts * SERIES_PER_HOST);
    for _ in 0..hosts {
        let phase = rng.below(INTERVAL_MS as u64) as i64;
        for kinds in INPUTS {
            let ts = grid_timestamps(&mut rng, START_MS + phase, samples, INTERVAL_MS, jitter_ms);
            for &kind in kinds {
                let values = values(kind, &mut rng, &ts);
                out.push(Series {
                    kind,
                    ts: ts.clone(),
                    values,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleet_has_the_documented_shape() {
        let f = fleet(3, 50, 5, 1);
        assert_eq!(f.len(), 3 * SERIES_PER_HOST);
        assert_eq!(
            INPUTS.iter().map(|k| k.len()).sum::<usize>(),
            SERIES_PER_HOST
        );
        for s in &f {
            assert_eq!(s.ts.len(), 50);
            assert_eq!(s.values.len(), 50);
            assert!(s.ts.windows(2).all(|w| w[0] < w[1]));
            assert!(
                s.ts.windows(2)
                    .all(|w| (w[1] - w[0] - INTERVAL_MS).abs() <= 10)
            );
        }
        let counters = f.iter().filter(|s| s.kind == Kind::Counter);
        for s in counters {
            assert!(s.values.windows(2).all(|w| w[0] <= w[1]));
        }
        // Deterministic: the same seed gives the same data.
        let g = fleet(3, 50, 5, 1);
        assert_eq!(f[40].values, g[40].values);
    }
}
