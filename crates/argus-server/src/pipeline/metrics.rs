//! The pipeline's figures at `/metrics`: per topic, what ingest published and what the
//! consumers applied, dropped or failed on; and the queue's own size and lag.

use crate::telemetry::{family, sample};
use argus_queue::Queue;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The queue's size and per topic and group lag, as Prometheus text.
pub async fn render_queue_stats(queue: &dyn Queue, out: &mut String) {
    // A queue that does not answer (NATS down) must not hang /metrics.
    let stats = tokio::time::timeout(Duration::from_secs(2), queue.stats()).await;
    family(out, "argus_queue_up", "gauge", "Whether the queue answered");
    let Ok(Ok(stats)) = stats else {
        sample(out, "argus_queue_up", "", 0);
        return;
    };
    sample(out, "argus_queue_up", "", 1);
    family(
        out,
        "argus_queue_bytes",
        "gauge",
        "Bytes the queue occupies",
    );
    sample(out, "argus_queue_bytes", "", stats.bytes);
    if let Some(l) = stats.limit_bytes {
        let name = "argus_queue_limit_bytes";
        let help = "The queue's size limit (embedded: whole log; NATS: per stream)";
        family(out, name, "gauge", help);
        sample(out, name, "", l);
    }
    let name = "argus_queue_topic_entries";
    family(out, name, "gauge", "Entries a topic holds");
    for t in &stats.topics {
        sample(out, name, &format!("{{topic=\"{}\"}}", t.topic), t.entries);
    }
    let name = "argus_queue_lag_entries";
    let help = "Entries published and not yet acked, per topic and consumer group";
    family(out, name, "gauge", help);
    for t in &stats.topics {
        for c in &t.consumers {
            let labels = format!("{{topic=\"{}\",group=\"{}\"}}", t.topic, c.group);
            sample(out, name, &labels, c.pending);
        }
    }
}

/// Counters of one topic: its consumer tasks and the publishers update them (atomics, no lock).
#[derive(Default)]
pub struct TopicCounters {
    pub published_entries: AtomicU64,
    pub published_bytes: AtomicU64,
    pub processed_entries: AtomicU64,
    /// Entries given up on (acked without effect) by reason.
    pub dropped_corrupt: AtomicU64,
    pub dropped_rejected: AtomicU64,
    /// Consumer runs that failed and will be retried.
    pub failed_runs: AtomicU64,
}

/// The pipeline's counters: one [`TopicCounters`] per topic, created on first use.
#[derive(Default)]
pub struct Metrics {
    topics: Mutex<BTreeMap<String, Arc<TopicCounters>>>,
}

impl Metrics {
    /// The counters of `topic` (a consumer task keeps the `Arc`).
    pub fn topic(&self, topic: &str) -> Arc<TopicCounters> {
        self.topics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(topic.to_string())
            .or_default()
            .clone()
    }

    pub(super) fn published(&self, topic: &str, bytes: u64) {
        let c = self.topic(topic);
        c.published_entries.fetch_add(1, Ordering::Relaxed);
        c.published_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn render(&self, out: &mut String) {
        let topics: Vec<(String, Arc<TopicCounters>)> = self
            .topics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        type Field = fn(&TopicCounters) -> &AtomicU64;
        let families: [(&str, &str, Field); 4] = [
            (
                "argus_pipeline_published_entries_total",
                "Batches ingest published to the queue, per topic",
                |c| &c.published_entries,
            ),
            (
                "argus_pipeline_published_bytes_total",
                "Encoded bytes ingest published to the queue, per topic",
                |c| &c.published_bytes,
            ),
            (
                "argus_pipeline_processed_entries_total",
                "Entries a consumer applied and acked, per topic",
                |c| &c.processed_entries,
            ),
            (
                "argus_pipeline_handler_failures_total",
                "Consumer runs that failed and are retried, per topic",
                |c| &c.failed_runs,
            ),
        ];
        for (name, help, field) in families {
            family(out, name, "counter", help);
            for (t, c) in &topics {
                sample(out, name, &format!("{{topic=\"{t}\"}}"), get(field(c)));
            }
        }
        let name = "argus_pipeline_dropped_entries_total";
        let help = "Entries acked without effect, per topic and reason (corrupt: undecodable; rejected: refused by storage)";
        family(out, name, "counter", help);
        for (t, c) in &topics {
            for (reason, n) in [
                ("corrupt", &c.dropped_corrupt),
                ("rejected", &c.dropped_rejected),
            ] {
                let labels = format!("{{topic=\"{t}\",reason=\"{reason}\"}}");
                sample(out, name, &labels, get(n));
            }
        }
    }
}
