//! Publish and consume throughput: the embedded log against NATS JetStream.
//!
//! Publish: 4 concurrent publishers, batches of 64 KiB, each publish durable before it
//! returns. Consume: `next(256)` then `ack` of everything until the topic is drained.
//! JetStream is included when `ARGUS_BENCH_NATS_URL` names a running server with JetStream
//! (e.g. `nats-server -js -sd /var/tmp/js -p 4333`); otherwise only the embedded log runs.
//!
//! The log lives under `$ARGUS_BENCH_DIR` (default: the system temp directory): put it on
//! the disk you want measured, since fsync on tmpfs costs nothing.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use argus_queue::{Consumer, LogOptions, LogQueue, NatsOptions, NatsQueue, Queue};
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const BATCH: usize = 64 * 1024;
const PUBLISHERS: usize = 4;
const PER_PUBLISHER: usize = 16;
const CONSUME: usize = 256;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn batch() -> Bytes {
    Bytes::from((0..BATCH).map(|i| (i * 7 % 251) as u8).collect::<Vec<u8>>())
}

/// Publishes `PUBLISHERS × PER_PUBLISHER` batches from concurrent tasks.
async fn publish_round(q: Arc<dyn Queue>, topic: &'static str, payload: Bytes) {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..PUBLISHERS {
        let (q, payload) = (q.clone(), payload.clone());
        set.spawn(async move {
            for _ in 0..PER_PUBLISHER {
                q.publish(topic, payload.clone()).await.expect("publish");
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.expect("publisher");
    }
}

/// Consumes and acks until nothing is left; returns the entries consumed.
async fn drain(c: &dyn Consumer) -> usize {
    let mut n = 0;
    loop {
        let got = c
            .next(CONSUME, Duration::from_millis(20))
            .await
            .expect("next");
        if got.is_empty() {
            return n;
        }
        n += got.len();
        c.ack(&got).await.expect("ack");
    }
}

fn bench_backend(c: &mut Criterion, name: &str, rt: &tokio::runtime::Runtime, q: Arc<dyn Queue>) {
    let payload = batch();
    let consumer = rt
        .block_on(q.consumer("bench", "handlers"))
        .expect("consumer");
    rt.block_on(drain(consumer.as_ref()));

    let mut g = round_group(c, "publish_64KiB_x4");
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                rt.block_on(publish_round(q.clone(), "bench", payload.clone()));
                total += start.elapsed();
                // Untimed: keep the queue from filling up.
                rt.block_on(drain(consumer.as_ref()));
            }
            total
        })
    });
    g.finish();

    let mut g = round_group(c, "consume_ack_64KiB");
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                rt.block_on(publish_round(q.clone(), "bench", payload.clone()));
                let start = Instant::now();
                let n = rt.block_on(drain(consumer.as_ref()));
                total += start.elapsed();
                assert_eq!(n, PUBLISHERS * PER_PUBLISHER);
            }
            total
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let rt = runtime();
    let base = std::env::var_os("ARGUS_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let dir = tempfile::tempdir_in(base).expect("tempdir");
    let log = LogQueue::open(dir.path(), LogOptions::default()).expect("open");
    let syncs_before = log.syncs();
    bench_backend(c, "embedded_log", &rt, Arc::new(log.clone()));
    eprintln!(
        "embedded log: {} fsyncs during the run",
        log.syncs() - syncs_before
    );

    if let Ok(url) = std::env::var("ARGUS_BENCH_NATS_URL") {
        let opts = NatsOptions {
            url,
            stream_prefix: "ARGUS_BENCH_".into(),
            ..NatsOptions::default()
        };
        let q = rt
            .block_on(NatsQueue::connect(opts))
            .expect("connect to ARGUS_BENCH_NATS_URL");
        bench_backend(c, "nats_jetstream", &rt, Arc::new(q));
    } else {
        eprintln!("ARGUS_BENCH_NATS_URL not set: JetStream not measured");
    }
}

/// A group measuring whole rounds (every publisher's batches): bytes per round, 10 samples.
fn round_group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(
        (BATCH * PUBLISHERS * PER_PUBLISHER) as u64,
    ));
    g.sample_size(10);
    g
}

criterion_group!(queue, benches);
criterion_main!(queue);
