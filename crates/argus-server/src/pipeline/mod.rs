//! The ingest pipeline: ingest publishes every accepted batch to a durable queue (topic per
//! type: `samples`, `heartbeat`, each event type) and answers 2xx only once the queue
//! holds it; handlers, one task per type, consume the topics and apply the batches
//! (storage, host registry, event store, exec scripts), acking each only after it was
//! applied. Delivery is at least once: a crash replays what was not acked.
//! See docs/architecture.md, "The ingest pipeline".

pub mod codec;
pub mod config;
pub mod exec;
pub mod handlers;

use crate::error::ApiError;
use argus_queue::{Queue, QueueError};
use codec::Entry;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use config::{ExecConfig, HandlersConfig, QueueConfig, QueueKind};

/// The consumer group every handler process uses: a topic is consumed once, its entries
/// shared among the processes handling its type.
pub const GROUP: &str = "handlers";

/// The topic of samples.
pub const SAMPLES: &str = "samples";
/// The topic of heartbeats.
pub const HEARTBEAT: &str = "heartbeat";

/// What `argus server` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// Ingest, query and the handlers in one process.
    #[default]
    All,
    /// HTTP ingest and query; no handlers.
    Ingest,
    /// The handlers only, plus `/health` and `/metrics`.
    Handlers,
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "all" => Ok(Role::All),
            "ingest" => Ok(Role::Ingest),
            "handlers" => Ok(Role::Handlers),
            other => Err(format!(
                "unknown role {other:?}: expected all, ingest or handlers"
            )),
        }
    }
}

impl Role {
    pub fn runs_ingest(self) -> bool {
        matches!(self, Role::All | Role::Ingest)
    }
    pub fn runs_handlers(self) -> bool {
        matches!(self, Role::All | Role::Handlers)
    }
}

/// Opens the configured queue: the embedded log in `dir`, or a NATS connection.
pub async fn open_queue(
    config: &QueueConfig,
    dir: &std::path::Path,
) -> Result<Arc<dyn Queue>, QueueError> {
    match config.kind {
        QueueKind::Embedded => {
            let (dir, opts) = (dir.to_path_buf(), config.log_options());
            let q = tokio::task::spawn_blocking(move || argus_queue::LogQueue::open(dir, opts))
                .await
                .map_err(|e| QueueError::Closed(e.to_string()))??;
            Ok(Arc::new(q))
        }
        QueueKind::Nats => Ok(Arc::new(
            argus_queue::NatsQueue::connect(config.nats_options()).await?,
        )),
    }
}

/// The publishing side, held by ingest, and the pipeline's figures for `/metrics`.
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

    /// Encodes and publishes one batch; `Ok` means it is durable in the queue. Samples
    /// larger than `queue.max_entry_bytes` encoded go as several entries, in order; when
    /// one fails, those before it stay queued (a retry rewrites them: idempotent).
    pub async fn publish(&self, topic: &str, entry: &Entry) -> Result<(), ApiError> {
        if let Entry::Samples { ns, series } = entry {
            for part in codec::encode_samples(ns.as_deref(), series, self.max_entry_bytes) {
                self.publish_bytes(topic, part).await?;
            }
            return Ok(());
        }
        self.publish_bytes(topic, codec::encode(entry)).await
    }

    /// Publishes checked line protocol to `samples`, in entries under `max_entry_bytes`.
    pub async fn publish_lines(
        &self,
        ns: Option<&str>,
        precision: argus_core::line_protocol::Precision,
        now_ms: i64,
        text: &str,
    ) -> Result<(), ApiError> {
        for part in codec::encode_lines(ns, precision, now_ms, text, self.max_entry_bytes) {
            self.publish_bytes(SAMPLES, part).await?;
        }
        Ok(())
    }

    async fn publish_bytes(&self, topic: &str, bytes: Vec<u8>) -> Result<(), ApiError> {
        let bytes = bytes::Bytes::from(bytes);
        let len = bytes.len() as u64;
        match self.queue.publish(topic, bytes).await {
            Ok(()) => {
                self.metrics.published(topic, len);
                Ok(())
            }
            Err(QueueError::Full { retry_after }) => Err(ApiError::Busy {
                retry_after_secs: retry_secs(retry_after),
            }),
            Err(QueueError::TooLarge { max, .. }) => Err(ApiError::TooLarge {
                limit: max as usize,
            }),
            Err(QueueError::InvalidTopic(t)) => Err(ApiError::BadRequest(format!(
                "type {t:?} is not 1 to 64 of [a-z0-9_-]"
            ))),
            Err(e) => {
                tracing::warn!(topic, error = %e, "cannot publish to the queue");
                Err(ApiError::Unavailable {
                    retry_after_secs: retry_secs(self.unavailable_retry_after),
                    message: e.to_string(),
                })
            }
        }
    }

    /// Appends the queue's and the handlers' figures in the Prometheus text format.
    pub async fn render_metrics(&self, out: &mut String) {
        render_queue_stats(self.queue.as_ref(), out).await;
        self.metrics.render(out);
    }
}

/// What a `--role handlers` process answers over HTTP: `/health` and `/metrics` (the
/// latter with a token, as on every server).
pub fn status_router(state: crate::AppState) -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route("/health", get(crate::api::health))
        .route("/metrics", get(crate::api::metrics))
        // What this process's handlers stored: in scale-out, the process bound to the event
        // types and `heartbeat` is where events and hosts are read (docs/scale-out.md).
        .route("/api/argus/events", get(crate::events::get))
        .route("/api/argus/hosts", get(crate::hosts::list))
        .fallback(|req: axum::extract::Request| async move {
            ApiError::NotFound(format!(
                "{} (a --role handlers process answers /health, /metrics, GET /api/argus/events and /api/argus/hosts only)",
                req.uri().path()
            ))
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::require_token,
        ))
        .with_state(state)
}

/// Whole seconds for `Retry-After`, at least 1.
fn retry_secs(d: Duration) -> u64 {
    d.as_secs_f64().ceil().max(1.0) as u64
}

/// The queue's size and per topic and group lag, as Prometheus text.
pub async fn render_queue_stats(queue: &dyn Queue, out: &mut String) {
    // A queue that does not answer (NATS down) must not hang /metrics.
    let stats = tokio::time::timeout(Duration::from_secs(2), queue.stats()).await;
    let Ok(Ok(stats)) = stats else {
        let _ = writeln!(
            out,
            "# HELP argus_queue_up Whether the queue answered\n# TYPE argus_queue_up gauge\nargus_queue_up 0"
        );
        return;
    };
    let _ = writeln!(
        out,
        "# HELP argus_queue_up Whether the queue answered\n# TYPE argus_queue_up gauge\nargus_queue_up 1"
    );
    let _ = writeln!(
        out,
        "# HELP argus_queue_bytes Bytes the queue occupies\n# TYPE argus_queue_bytes gauge\nargus_queue_bytes {}",
        stats.bytes
    );
    if let Some(l) = stats.limit_bytes {
        let _ = writeln!(
            out,
            "# HELP argus_queue_limit_bytes The queue's size limit (embedded: whole log; NATS: per stream)\n# TYPE argus_queue_limit_bytes gauge\nargus_queue_limit_bytes {l}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP argus_queue_topic_entries Entries a topic holds\n# TYPE argus_queue_topic_entries gauge"
    );
    for t in &stats.topics {
        let _ = writeln!(
            out,
            "argus_queue_topic_entries{{topic=\"{}\"}} {}",
            t.topic, t.entries
        );
    }
    let _ = writeln!(
        out,
        "# HELP argus_queue_lag_entries Entries published and not yet acked, per topic and consumer group\n# TYPE argus_queue_lag_entries gauge"
    );
    for t in &stats.topics {
        for c in &t.consumers {
            let _ = writeln!(
                out,
                "argus_queue_lag_entries{{topic=\"{}\",group=\"{}\"}} {}",
                t.topic, c.group, c.pending
            );
        }
    }
}

/// Counters of one topic's handler: owned by that topic's task (atomics, no lock).
#[derive(Default)]
pub struct TopicCounters {
    pub published_entries: AtomicU64,
    pub published_bytes: AtomicU64,
    pub processed_entries: AtomicU64,
    /// Entries given up on (acked without effect) by reason.
    pub dropped_corrupt: AtomicU64,
    pub dropped_rejected: AtomicU64,
    /// Handler runs that failed and will be retried.
    pub failed_runs: AtomicU64,
}

/// The pipeline's counters: one [`TopicCounters`] per topic, created on first use.
#[derive(Default)]
pub struct Metrics {
    topics: Mutex<BTreeMap<String, Arc<TopicCounters>>>,
}

impl Metrics {
    /// The counters of `topic` (a handler task keeps the `Arc`).
    pub fn topic(&self, topic: &str) -> Arc<TopicCounters> {
        self.topics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(topic.to_string())
            .or_default()
            .clone()
    }

    fn published(&self, topic: &str, bytes: u64) {
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
                "Entries a handler applied and acked, per topic",
                |c| &c.processed_entries,
            ),
            (
                "argus_pipeline_handler_failures_total",
                "Handler runs that failed and are retried, per topic",
                |c| &c.failed_runs,
            ),
        ];
        for (name, help, field) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (t, c) in &topics {
                let _ = writeln!(out, "{name}{{topic=\"{t}\"}} {}", get(field(c)));
            }
        }
        let name = "argus_pipeline_dropped_entries_total";
        let _ = writeln!(
            out,
            "# HELP {name} Entries acked without effect, per topic and reason (corrupt: undecodable; rejected: refused by storage)\n# TYPE {name} counter"
        );
        for (t, c) in &topics {
            let _ = writeln!(
                out,
                "{name}{{topic=\"{t}\",reason=\"corrupt\"}} {}",
                get(&c.dropped_corrupt)
            );
            let _ = writeln!(
                out,
                "{name}{{topic=\"{t}\",reason=\"rejected\"}} {}",
                get(&c.dropped_rejected)
            );
        }
    }
}
