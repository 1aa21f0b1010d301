//! The publishing side of the pipeline, held by ingest: a batch is encoded into queue
//! entries and published to its topic; `Ok` means the queue holds it durably, and only
//! then does ingest answer 2xx.

use super::codec::{self, Entry};
use super::config::QueueConfig;
use super::metrics::Metrics;
use super::topics::{ALERTS, HEARTBEAT, SAMPLES};
use argus_core::line_protocol::Precision;
use argus_core::{Event, TimeSeries};
use argus_queue::{Queue, QueueError};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Why a batch could not be queued. Each kind tells the client what to do: come back
/// later (`Full`, `Unavailable`), or send less (`TooLarge`).
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The queue is full: retry after the given time.
    #[error("the server is busy: its ingest queue is full; retry in {} s", retry_secs(*.retry_after))]
    Full { retry_after: Duration },
    /// The queue cannot be reached (NATS down): retry after the given time.
    #[error("the server cannot queue the data now: {message}; retry in {} s", retry_secs(*.retry_after))]
    Unavailable {
        retry_after: Duration,
        message: String,
    },
    /// One entry is larger than the queue takes.
    #[error("request body exceeds the limit of {max} bytes")]
    TooLarge { max: u64 },
    /// The topic (an event type) is not a valid topic name.
    #[error("type {0:?} is not 1 to 64 of [a-z0-9_-]")]
    InvalidTopic(String),
}

/// Whole seconds for `Retry-After`, at least 1.
pub fn retry_secs(d: Duration) -> u64 {
    d.as_secs_f64().ceil().max(1.0) as u64
}

/// The publishing side, and the pipeline's counters for `/metrics`.
pub struct Pipeline {
    pub queue: Arc<dyn Queue>,
    pub metrics: Arc<Metrics>,
    unavailable_retry_after: Duration,
    max_entry_bytes: usize,
}

impl Pipeline {
    pub fn new(queue: Arc<dyn Queue>, config: &QueueConfig) -> Pipeline {
        Pipeline {
            queue,
            metrics: Arc::new(Metrics::default()),
            unavailable_retry_after: Duration::from_secs(config.unavailable_retry_after_secs),
            max_entry_bytes: config.max_entry_bytes.max(1024) as usize,
        }
    }

    /// Publishes checked series to `samples`, in entries under `queue.max_entry_bytes`,
    /// in order; when one fails, those before it stay queued (a retry rewrites them:
    /// idempotent).
    pub async fn publish_samples(
        &self,
        ns: Option<&str>,
        series: &[TimeSeries],
    ) -> Result<(), PublishError> {
        for part in codec::encode_samples(ns, series, self.max_entry_bytes) {
            self.publish_bytes(SAMPLES, part).await?;
        }
        Ok(())
    }

    /// Publishes checked line protocol to `samples`, in entries under `max_entry_bytes`.
    pub async fn publish_lines(
        &self,
        ns: Option<&str>,
        precision: Precision,
        now_ms: i64,
        text: &str,
    ) -> Result<(), PublishError> {
        for part in codec::encode_lines(ns, precision, now_ms, text, self.max_entry_bytes) {
            self.publish_bytes(SAMPLES, part).await?;
        }
        Ok(())
    }

    /// Publishes one agent heartbeat, stamped with the time it was received.
    pub async fn publish_heartbeat(&self, body: serde_json::Value) -> Result<(), PublishError> {
        let entry = Entry::Heartbeat {
            ns: None,
            received_ms: argus_core::now_ms(),
            body,
        };
        self.publish_bytes(HEARTBEAT, codec::encode(&entry)).await
    }

    /// Publishes alerts for the notifier (they are checked already): one entry, the
    /// alerts as Alertmanager's v2 API posts them (a JSON array).
    pub async fn publish_alerts(
        &self,
        alerts: &[argus_notify::PostableAlert],
    ) -> Result<(), PublishError> {
        if alerts.is_empty() {
            return Ok(());
        }
        let bytes = serde_json::to_vec(alerts).map_err(|e| PublishError::Unavailable {
            retry_after: self.unavailable_retry_after,
            message: e.to_string(),
        })?;
        self.publish_bytes(ALERTS, bytes).await
    }

    /// Publishes events, each type to its own topic. Not atomic across types: when a
    /// later type fails, the earlier ones are queued already and a retry of the body
    /// queues them again (at least once).
    pub async fn publish_events(
        &self,
        by_type: BTreeMap<String, Vec<Event>>,
    ) -> Result<(), PublishError> {
        for (kind, events) in by_type {
            let entry = Entry::Events { ns: None, events };
            self.publish_bytes(&kind, codec::encode(&entry)).await?;
        }
        Ok(())
    }

    async fn publish_bytes(&self, topic: &str, bytes: Vec<u8>) -> Result<(), PublishError> {
        let bytes = bytes::Bytes::from(bytes);
        let len = bytes.len() as u64;
        match self.queue.publish(topic, bytes).await {
            Ok(()) => {
                self.metrics.published(topic, len);
                Ok(())
            }
            Err(QueueError::Full { retry_after }) => Err(PublishError::Full { retry_after }),
            Err(QueueError::TooLarge { max, .. }) => Err(PublishError::TooLarge { max }),
            Err(QueueError::InvalidTopic(t)) => Err(PublishError::InvalidTopic(t)),
            Err(e) => {
                tracing::warn!(topic, error = %e, "cannot publish to the queue");
                Err(PublishError::Unavailable {
                    retry_after: self.unavailable_retry_after,
                    message: e.to_string(),
                })
            }
        }
    }

    /// Appends the queue's and the consumers' figures in the Prometheus text format.
    pub async fn render_metrics(&self, out: &mut String) {
        super::metrics::render_queue_stats(self.queue.as_ref(), out).await;
        self.metrics.render(out);
    }
}
