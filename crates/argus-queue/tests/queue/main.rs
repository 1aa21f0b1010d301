//! The queue's integration tests: one binary, a module per backend.
//!
//! `log` and `model` run the embedded log in temporary directories; `nats` starts the real
//! `nats-server` (Debian package `nats-server`) on free ports for every test.

mod log;
mod model;
mod nats;

use std::time::Duration;

use argus_queue::{Consumer, Delivery};
use bytes::Bytes;

pub fn payload(i: u64) -> Bytes {
    Bytes::from(format!("entry-{i:06}"))
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
