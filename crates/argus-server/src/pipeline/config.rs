//! `[queue]` and `[handlers]`: where ingest puts accepted batches and what consumes them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Which queue sits between ingest and the handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum QueueKind {
    /// The durable log in `<data_dir>/queue` (one process: ingest and handlers together).
    #[default]
    Embedded,
    /// NATS JetStream: a stream per topic, shared by several `argus server` processes.
    Nats,
}

/// `[queue]` in the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    pub kind: QueueKind,
    /// Embedded: the most bytes the log may take on disk; past it ingest answers 429.
    pub max_bytes: u64,
    /// Embedded: size of one segment file (also the largest entry, so the largest body).
    pub segment_bytes: u64,
    /// Sample batches larger than this, encoded, are queued as several entries (NATS
    /// refuses messages over its max_payload, 1 MiB by default).
    pub max_entry_bytes: u64,
    /// `Retry-After` (seconds) when the queue is full.
    pub full_retry_after_secs: u64,
    /// `Retry-After` (seconds) when the queue is unavailable (503).
    pub unavailable_retry_after_secs: u64,
    /// NATS: server URL(s), comma separated.
    pub nats_url: String,
    /// NATS: token, for servers that require one.
    pub nats_token: String,
    /// NATS: stream name prefix (the topic, upper-cased, follows).
    pub nats_stream_prefix: String,
    /// NATS: subject prefix (the topic follows).
    pub nats_subject_prefix: String,
    /// NATS: the most bytes one stream may hold (0: no limit); past it ingest answers 429.
    pub stream_max_bytes: u64,
    /// NATS: seconds a delivered entry may stay un-acked before it is delivered again.
    pub ack_wait_secs: u64,
    /// NATS: most entries delivered and not yet acked per consumer group.
    pub max_ack_pending: i64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            kind: QueueKind::Embedded,
            max_bytes: 1 << 30,
            segment_bytes: 64 << 20,
            max_entry_bytes: 1_000_000,
            full_retry_after_secs: 1,
            unavailable_retry_after_secs: 5,
            nats_url: "nats://127.0.0.1:4222".into(),
            nats_token: String::new(),
            nats_stream_prefix: "ARGUS_".into(),
            nats_subject_prefix: "argus.".into(),
            stream_max_bytes: 0,
            ack_wait_secs: 30,
            max_ack_pending: 10_000,
        }
    }
}

impl QueueConfig {
    pub fn log_options(&self) -> argus_queue::LogOptions {
        argus_queue::LogOptions {
            segment_bytes: self.segment_bytes,
            max_bytes: self.max_bytes,
            full_retry_after: Duration::from_secs(self.full_retry_after_secs.max(1)),
        }
    }

    pub fn nats_options(&self) -> argus_queue::NatsOptions {
        argus_queue::NatsOptions {
            url: self.nats_url.clone(),
            token: Some(self.nats_token.clone()).filter(|t| !t.is_empty()),
            stream_prefix: self.nats_stream_prefix.clone(),
            subject_prefix: self.nats_subject_prefix.clone(),
            groups: vec![super::GROUP.to_string()],
            max_bytes: Some(self.stream_max_bytes).filter(|b| *b > 0),
            ack_wait: Duration::from_secs(self.ack_wait_secs.max(1)),
            max_ack_pending: self.max_ack_pending,
            full_retry_after: Duration::from_secs(self.full_retry_after_secs.max(1)),
        }
    }
}

/// `[handlers]` in the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HandlersConfig {
    /// The types (topics) this process handles; empty: every type, new ones found as they
    /// appear. `--types` on the command line wins.
    pub types: Vec<String>,
    /// Most entries one handler takes from the queue at a time.
    pub batch_entries: usize,
    /// Workers per type, each with its own handle on the type's consumer group, applying
    /// batches in parallel (a type with an exec handler has one). Parallel workers apply
    /// batches out of order: the embedded engine refuses samples further behind a series'
    /// newest than its out-of-order window (seen with 3 h of backfill per host group).
    /// With NATS, two workers of one type in one process were seen to leave an entry
    /// un-delivered until `ack_wait` (two processes of one type were not).
    pub workers_per_type: usize,
    /// `[handlers.exec.<type>]`: events of that type go to a script instead of the event
    /// store.
    pub exec: BTreeMap<String, ExecConfig>,
}

impl Default for HandlersConfig {
    fn default() -> Self {
        HandlersConfig {
            types: Vec::new(),
            batch_entries: 8,
            workers_per_type: 1,
            exec: BTreeMap::new(),
        }
    }
}

/// `[handlers.exec.<type>]`: a program run once per batch with the batch's events as JSON
/// lines on its standard input. The batch is acked only when it exits 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecConfig {
    /// The program and its arguments (no shell).
    pub command: Vec<String>,
    /// Seconds a run may take; a run past it is killed and the batch retried.
    #[serde(default = "default_exec_timeout")]
    pub timeout_secs: u64,
}

fn default_exec_timeout() -> u64 {
    60
}

impl HandlersConfig {
    /// Problems a config file can have that serde does not see, naming the key.
    pub fn check(&self) -> Result<(), String> {
        for t in &self.types {
            if !argus_queue::valid_name(t) || t == super::ALERTS {
                return Err(format!(
                    "key handlers.types: {t:?} is not a type name (1 to 64 of [a-z0-9_-], not {:?})",
                    super::ALERTS
                ));
            }
        }
        for (t, e) in &self.exec {
            if !argus_queue::valid_name(t) || t == super::ALERTS {
                return Err(format!(
                    "key handlers.exec.{t}: {t:?} is not a type name (1 to 64 of [a-z0-9_-], not {:?})",
                    super::ALERTS
                ));
            }
            if e.command.is_empty() || e.command[0].is_empty() {
                return Err(format!(
                    "key handlers.exec.{t}.command: must name a program"
                ));
            }
        }
        Ok(())
    }
}
