//! The ingest pipeline: ingest publishes every accepted batch to a durable queue (a
//! **topic** per type: `samples`, `heartbeat`, each event type) and answers 2xx only once
//! the queue holds it; **consumers**, one task per topic, read the topics and **apply** the
//! batches (storage, host registry, event store, exec programs), acking each only after it
//! was applied. Delivery is at least once: a crash replays what was not acked.
//!
//! - [`publish`]: the publishing side ([`Pipeline`]), held by ingest.
//! - [`codec`]: the queue entries' format.
//! - [`consumer`]: the consumer tasks, their retries and backoff.
//! - [`apply`]: what applying an entry does, and when it is refused for good.
//! - [`exec`]: the exec target, a program run per batch.
//! - [`metrics`]: the pipeline's figures at `/metrics`.
//! - [`topics`]: the names every side agrees on.
//!
//! The processes that run the consumers are the `handlers` role (`argus server --role
//! handlers`, `[handlers]` in the configuration): the name users configure.
//! See docs/architecture.md, "The ingest pipeline".

pub mod apply;
pub mod codec;
pub mod config;
pub mod consumer;
pub mod exec;
pub mod metrics;
pub mod publish;
pub mod topics;

use argus_queue::{Queue, QueueError};
use std::sync::Arc;

pub use config::{ExecConfig, HandlersConfig, QueueConfig, QueueKind};
pub use metrics::{Metrics, TopicCounters};
pub use publish::{Pipeline, PublishError};
pub use topics::{ALERTS, GROUP, HEARTBEAT, NOTIFIER_GROUP, SAMPLES};

/// What `argus server` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// Ingest, query and the consumers in one process.
    #[default]
    All,
    /// HTTP ingest and query; no consumers.
    Ingest,
    /// The consumers only, plus `/health` and `/metrics`.
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
