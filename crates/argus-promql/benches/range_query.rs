//! Dashboard-style range queries on generated data: 1 000 counter series (100 hosts × 10
//! interfaces) scraped every 10 s, queried over 6 h at a 30 s step (721 steps).
//!
//! The storage is an in-memory `Vec` that copies the selected samples, as a store would
//! hand them over; what is measured is the evaluator plus that copy.

use argus_core::{
    Labels, Matcher, Sample, Storage, StorageError, StorageStats, TimeSeries, matcher::matches_all,
};
use argus_promql::{Engine, EngineOptions, Value};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;

struct VecStore(Vec<TimeSeries>);

impl Storage for VecStore {
    fn append(&self, _: Vec<TimeSeries>) -> Result<(), StorageError> {
        Ok(())
    }

    fn select(&self, m: &[Matcher], start: i64, end: i64) -> Result<Vec<TimeSeries>, StorageError> {
        Ok(self
            .0
            .iter()
            .filter(|s| matches_all(m, &s.labels))
            .map(|s| {
                let lo = s.samples.partition_point(|p| p.ts < start);
                let hi = s.samples.partition_point(|p| p.ts <= end);
                TimeSeries {
                    labels: s.labels.clone(),
                    samples: s.samples[lo..hi].to_vec(),
                }
            })
            .filter(|s| !s.samples.is_empty())
            .collect())
    }

    fn stats(&self) -> StorageStats {
        StorageStats::default()
    }
}

const START: i64 = 1_700_000_000_000;
const HOURS: i64 = 6;

fn data() -> Vec<TimeSeries> {
    let end = START + HOURS * 3_600_000;
    let mut out = Vec::new();
    let mut seed: u64 = 42;
    for h in 0..100 {
        for i in 0..10 {
            let mut v = 0.0;
            let mut samples = Vec::new();
            let mut t = START - 10 * 60_000;
            while t <= end {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                v += (seed >> 40) as f64 / 1000.0;
                samples.push(Sample { ts: t, value: v });
                t += 10_000;
            }
            out.push(TimeSeries {
                labels: Labels::with_name(
                    "net_bytes_recv",
                    [
                        ("host", format!("h{h:03}")),
                        ("interface", format!("eth{i}")),
                    ],
                ),
                samples,
            });
        }
    }
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    out
}

fn bench(c: &mut Criterion) {
    let engine = Engine::new(Arc::new(VecStore(data())), EngineOptions::default());
    let end = START + HOURS * 3_600_000;
    let mut g = c.benchmark_group("range_1000x6h_30s");
    g.sample_size(10);
    for (name, q) in [
        (
            "avg_by_host_rate",
            "avg by (host) (rate(net_bytes_recv[5m]))",
        ),
        ("topk_rate", "topk(10, rate(net_bytes_recv[5m]))"),
        (
            "quantile_over_time",
            "quantile_over_time(0.9, net_bytes_recv[5m])",
        ),
        ("sum_rate", "sum(rate(net_bytes_recv[5m]))"),
        ("select_only", "net_bytes_recv"),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let r = engine.range(black_box(q), START, end, 30_000);
                assert!(matches!(r, Ok(Value::Matrix(ref m)) if !m.is_empty()));
                r
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
