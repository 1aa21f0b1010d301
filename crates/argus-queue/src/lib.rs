//! argus-queue: the durable queue between Argus ingest and its handlers.
//!
//! Ingest [`Queue::publish`]es every accepted batch to a *topic* (one per event type:
//! `samples`, `heartbeat`, `alarm`, `log`, or any custom type matching `[a-z0-9_-]{1,64}`)
//! and answers the client only once `publish` returned `Ok`: at that point the batch is
//! durable. Handlers read a topic through a [`Consumer`] of a named, durable consumer
//! *group* and [`Consumer::ack`] each entry once processed; an entry not acked is delivered
//! again (after a restart, or when the consumer handle that held it is dropped), so
//! delivery is at least once and never skips.
//!
//! Two implementations, chosen by configuration and held as `Arc<dyn Queue>`:
//!
//! - [`LogQueue`]: an embedded, append-only log in a directory (the single-machine
//!   default). Its bytes on disk are described in `docs/formats/queue.md`.
//! - [`NatsQueue`]: NATS JetStream, one stream per topic and one durable pull consumer
//!   per group (for several stateless servers).
//!
//! When the queue is full, `publish` fails with [`QueueError::Full`] and a `retry_after`
//! that ingest passes on as `429`/`503` with `Retry-After`: nothing is dropped.
//!
//! ```no_run
//! # async fn demo() -> Result<(), argus_queue::QueueError> {
//! use std::{sync::Arc, time::Duration};
//! use argus_queue::{LogOptions, LogQueue, Queue};
//!
//! let queue: Arc<dyn Queue> = Arc::new(LogQueue::open("/var/lib/argus/queue", LogOptions::default())?);
//! let consumer = queue.consumer("samples", "handlers").await?;
//! queue.publish("samples", bytes::Bytes::from_static(b"cpu_user{host=\"a\"} 1")).await?;
//! let batch = consumer.next(100, Duration::from_secs(1)).await?;
//! // ... process ...
//! consumer.ack(&batch).await?;
//! # Ok(()) }
//! ```

use std::{future::Future, pin::Pin, time::Duration};

use bytes::Bytes;

mod log;
mod nats;

pub use log::{LogOptions, LogQueue};
pub use nats::{NatsOptions, NatsQueue};

/// A boxed, sendable future: what the object-safe traits return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A durable queue of topics. Object safe: the server holds an `Arc<dyn Queue>`.
pub trait Queue: Send + Sync + 'static {
    /// Appends `payload` to `topic` (created if new). When this returns `Ok` the entry is
    /// durable: it survives `kill -9` of this process (embedded log: `fdatasync`ed;
    /// JetStream: the stream's publish ack was received).
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        payload: Bytes,
    ) -> BoxFuture<'a, Result<(), QueueError>>;

    /// A handle on consumer group `group` of `topic`, registering the group (and creating
    /// the topic) if new. A new group starts at the oldest entry the topic still holds.
    /// Several handles of one group share its entries: each entry goes to one of them.
    fn consumer<'a>(
        &'a self,
        topic: &'a str,
        group: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn Consumer>, QueueError>>;

    /// Every topic the queue holds, sorted (handlers discover custom event types here).
    fn topics(&self) -> BoxFuture<'_, Result<Vec<String>, QueueError>>;

    /// Size on disk and, per topic and consumer group, the entries not yet acked.
    fn stats(&self) -> BoxFuture<'_, Result<QueueStats, QueueError>>;
}

/// A consumer group's handle on one topic. Its methods take `&self`, so one handle can be
/// shared (`Arc`) by parallel workers, which may ack in any order.
pub trait Consumer: Send + Sync {
    /// Up to `max` entries in order, waiting at most `wait` for the first one; an empty
    /// vector when none came in time. Entries delivered and not acked are not delivered
    /// again to this group while this handle lives (JetStream: until its ack wait passes).
    fn next(&self, max: usize, wait: Duration) -> BoxFuture<'_, Result<Vec<Delivery>, QueueError>>;

    /// Marks entries as processed. Durable when `Ok`: after a restart the group resumes
    /// after the lowest entry not acked, and entries acked above it are not delivered again.
    /// Acking an entry twice is harmless.
    fn ack<'a>(&'a self, deliveries: &'a [Delivery]) -> BoxFuture<'a, Result<(), QueueError>>;
}

/// One entry delivered to a consumer.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The entry's position in its topic: the log offset (from 0) or the JetStream stream
    /// sequence (from 1). Increases with publish order.
    pub id: u64,
    /// The bytes published.
    pub payload: Bytes,
    /// Which consumer this came from and how to ack it there.
    ack: AckToken,
}

impl Delivery {
    /// The topic this entry was published to.
    pub fn topic(&self) -> &str {
        match &self.ack {
            AckToken::Log { topic, .. } => topic,
            AckToken::Nats { topic, .. } => topic,
        }
    }
}

#[derive(Debug, Clone)]
enum AckToken {
    /// `group` is the address of the group state: a delivery can only be acked there.
    Log {
        topic: std::sync::Arc<str>,
        group: usize,
    },
    Nats {
        topic: std::sync::Arc<str>,
        reply: async_nats::Subject,
    },
}

/// What the queue holds, for `/metrics` and the admin API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Bytes the queue occupies (embedded: its segment files; JetStream: its streams).
    pub bytes: u64,
    /// The configured limit on `bytes` (embedded: for the whole directory; JetStream: per
    /// stream), past which `publish` fails with [`QueueError::Full`].
    pub limit_bytes: Option<u64>,
    /// Per topic, sorted by name.
    pub topics: Vec<TopicStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicStats {
    pub topic: String,
    pub bytes: u64,
    /// Entries the topic still holds.
    pub entries: u64,
    /// The id the next published entry will get.
    pub next_id: u64,
    /// Per registered consumer group, sorted by name.
    pub consumers: Vec<ConsumerStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumerStats {
    pub group: String,
    /// Entries published and not yet acked by this group (delivered or not).
    pub pending: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue is at its size limit; retry after the given time (`Retry-After`).
    #[error("the queue is full; retry after {} s", retry_after.as_secs_f64())]
    Full { retry_after: Duration },
    #[error("invalid topic name {0:?}: expected 1 to 64 of [a-z0-9_-]")]
    InvalidTopic(String),
    #[error("invalid consumer group name {0:?}: expected 1 to 64 of [a-z0-9_-]")]
    InvalidGroup(String),
    /// One entry larger than the queue accepts (ingest answers 413).
    #[error("entry of {size} bytes exceeds the queue's maximum of {max} bytes")]
    TooLarge { size: u64, max: u64 },
    /// A delivery passed to a consumer other than the one that delivered it.
    #[error("delivery {id} of topic {topic:?} does not belong to this consumer")]
    ForeignDelivery { topic: String, id: u64 },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Bytes on disk that do not follow `docs/formats/queue.md`.
    #[error("{path}: corrupt queue file: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("nats: {0}")]
    Nats(String),
    /// The queue was closed or failed earlier and refuses work.
    #[error("the queue is closed: {0}")]
    Closed(String),
}

impl QueueError {
    pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        QueueError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// Topic and group names: 1 to 64 of `[a-z0-9_-]`. They become directory and file names
/// and NATS subject and stream names, so nothing else is allowed.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

pub(crate) fn check_topic(topic: &str) -> Result<(), QueueError> {
    if valid_name(topic) {
        Ok(())
    } else {
        Err(QueueError::InvalidTopic(topic.to_string()))
    }
}

pub(crate) fn check_group(group: &str) -> Result<(), QueueError> {
    if valid_name(group) {
        Ok(())
    } else {
        Err(QueueError::InvalidGroup(group.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("samples"));
        assert!(valid_name("my-type_2"));
        assert!(valid_name(&"a".repeat(64)));
        assert!(!valid_name(&"a".repeat(65)));
        assert!(!valid_name(""));
        assert!(!valid_name("Samples"));
        assert!(!valid_name("a.b"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(".."));
    }
}
