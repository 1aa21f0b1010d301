//! In-process benches of the engine: append (through the WAL with fsync) and select, and a
//! measurement of head memory per active series.
//!
//! `cargo bench -p argus-tsdb --bench db`

use argus_core::{Labels, MatchOp, Matcher};
use argus_tsdb::{Db, Options};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const HOUR: i64 = 3_600_000;
const BASE: i64 = 1_700_006_400_000; // a 2 h boundary

fn series_labels(i: usize) -> Labels {
    Labels::with_name(
        "cpu_usage_user",
        [
            ("host", format!("host-{:03}", i / 5)),
            ("cpu", format!("cpu{}", i % 5)),
            ("dc", format!("dc{}", i % 3)),
        ],
    )
}

fn value(i: usize, step: i64) -> f64 {
    ((i as i64 * 37 + step * 13) % 10_000) as f64 / 100.0
}

/// Appends `steps` samples to each of `n` series, one commit (one WAL write) per step.
fn fill(db: &Db, n: usize, steps: i64, keys: &[Vec<u8>]) {
    for step in 0..steps {
        let mut app = db.appender();
        for (i, key) in keys.iter().enumerate().take(n) {
            let line = app.line(key);
            let r = app
                .series_of_field(&line, b"value", || series_labels(i))
                .unwrap_or_else(|e| panic!("{e}"));
            app.add(&r, BASE + step * 10_000, value(i, step))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        app.commit().unwrap_or_else(|e| panic!("{e}"));
    }
}

fn keys(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("k{i}").into_bytes()).collect()
}

fn append(c: &mut Criterion) {
    let mut g = c.benchmark_group("append");
    let n = 10_000;
    let k = keys(n);
    g.throughput(Throughput::Elements(n as u64 * 10));
    g.sample_size(10);
    g.bench_function("10k series x 10 steps, one fsynced commit per step", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
                let db = Db::open(dir.path(), Options::default()).unwrap_or_else(|e| panic!("{e}"));
                fill(&db, n, 1, &k); // series exist: measure the steady state
                (dir, db)
            },
            |(dir, db)| {
                fill(&db, n, 10, &k);
                (dir, db)
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

fn select(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = Db::open(
        dir.path(),
        Options {
            ooo_window_ms: 100 * HOUR,
            ..Options::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let n = 1_000;
    let k = keys(n);
    fill(&db, n, 6 * 360, &k); // 6 h at 10 s
    // The same read twice: from the head, then from a compacted block.
    let m = [Matcher::new("__name__", MatchOp::Equal, "cpu_usage_user")
        .unwrap_or_else(|e| panic!("{e}"))];
    for from in ["the head", "a compacted block"] {
        if from == "a compacted block" {
            db.flush().unwrap_or_else(|e| panic!("{e}"));
            db.compact(true).unwrap_or_else(|e| panic!("{e}"));
        }
        let mut g = c.benchmark_group("select");
        g.throughput(Throughput::Elements(n as u64 * 6 * 360));
        g.bench_function(format!("1000 series x 6 h from {from}"), |b| {
            b.iter(|| {
                black_box(
                    db.select(&m, BASE, BASE + 6 * HOUR)
                        .map(|v| v.len())
                        .unwrap_or(0),
                )
            })
        });
        g.finish();
    }
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0)
        * 4096
}

/// Prints the resident memory per active head series: labels, index, key cache, one full
/// open buffer and a sealed head chunk.
fn memory(_: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = Db::open(dir.path(), Options::default()).unwrap_or_else(|e| panic!("{e}"));
    let n = 100_000;
    let k = keys(n);
    let before = rss_bytes();
    // 90 samples each: one sealed head chunk of 64 and 26 in the open buffer.
    fill(&db, n, 90, &k);
    let after = rss_bytes();
    let stats = db.stats();
    println!(
        "memory: {} series, {} samples in head: RSS grew {:.0} bytes per series ({} of them sample data)",
        stats.head_series,
        stats.head_samples,
        (after.saturating_sub(before)) as f64 / n as f64,
        stats.head_sample_bytes / n as u64
    );
}

criterion_group!(benches, select, memory, append);
criterion_main!(benches);
