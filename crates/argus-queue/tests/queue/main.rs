//! The queue's integration tests: one binary, a module per backend.
//!
//! `log` and `model` run the embedded log in temporary directories; `nats` starts the real
//! `nats-server` (Debian package `nats-server`) on free ports for every test.

mod log;
mod model;
mod nats;

use std::time::Duration;

use argus_queue::{Consumer, Delivery, Queue, QueueError};
use bytes::Bytes;

pub fn payload(i: u64) -> Bytes {
    Bytes::from(format!("entry-{i:06}"))
}

/// Publishes `payload(i)` to `topic` for each `i` of `range`.
pub async fn publish_n(q: &dyn Queue, topic: &str, range: std::ops::Range<u64>) {
    for i in range {
        q.publish(topic, payload(i)).await.expect("publish");
    }
}

/// Everything the consumer delivers within `wait` of each call, until a call brings none.
pub async fn drain(c: &dyn Consumer, wait: Duration) -> Vec<Delivery> {
    let mut all = Vec::new();
    loop {
        let got = c.next(1000, wait).await.expect("next");
        if got.is_empty() {
            return all;
        }
        all.extend(got);
    }
}

pub fn ids(ds: &[Delivery]) -> Vec<u64> {
    ds.iter().map(|d| d.id).collect()
}

/// Publishes `entry` to `samples` until the queue refuses (failing after 100 accepted):
/// how many it took, and the `retry_after` of its `Full` refusal.
pub async fn publish_until_full(q: &dyn Queue, entry: Bytes) -> (u64, Duration) {
    let mut accepted = 0u64;
    let err = loop {
        match q.publish("samples", entry.clone()).await {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted < 100, "never became full");
    };
    match err {
        QueueError::Full { retry_after } => (accepted, retry_after),
        other => panic!("expected Full, got {other:?}"),
    }
}
