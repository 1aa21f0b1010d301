//! The sender: ships compressed batches of line protocol to the servers, in order.
//!
//! Batches wait in a bounded in-memory queue while no server accepts them; when the queue is
//! over its byte bound the oldest batch is dropped and counted. A server that answers 4xx
//! (other than 408 and 429) will never accept that batch, so it is dropped with an error
//! rather than retried forever.

use std::collections::VecDeque;
use std::io::Write;
use std::time::Duration;

/// What the sender has done, for status and tests.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SenderStats {
    pub batches_sent: u64,
    pub batches_dropped_full: u64,
    pub batches_rejected: u64,
    pub queued_bytes: usize,
    pub last_error: Option<String>,
    pub last_success_ms: Option<i64>,
}

pub struct Sender {
    client: reqwest::Client,
    servers: Vec<String>,
    token: String,
    queue: VecDeque<Vec<u8>>,
    max_bytes: usize,
    pub stats: SenderStats,
}

/// Why a send to one server failed.
enum SendError {
    /// Worth retrying later or elsewhere.
    Retry(String),
    /// The server refused the content itself.
    Rejected(String),
}

impl Sender {
    pub fn new(
        servers: Vec<String>,
        token: String,
        timeout: Duration,
        max_bytes: usize,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("argus-agent/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Sender {
            client,
            servers,
            token,
            queue: VecDeque::new(),
            max_bytes,
            stats: SenderStats::default(),
        })
    }

    /// Compresses `body` (line protocol, ms precision) and queues it.
    pub fn enqueue(&mut self, body: &str) -> std::io::Result<()> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(body.as_bytes())?;
        let batch = gz.finish()?;
        self.stats.queued_bytes += batch.len();
        self.queue.push_back(batch);
        while self.stats.queued_bytes > self.max_bytes && self.queue.len() > 1 {
            if let Some(old) = self.queue.pop_front() {
                self.stats.queued_bytes -= old.len();
                self.stats.batches_dropped_full += 1;
                tracing::warn!(
                    bytes = old.len(),
                    "send buffer full: dropped the oldest batch"
                );
            }
        }
        Ok(())
    }

    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Sends queued batches in order until the queue is empty or no server accepts one.
    pub async fn flush(&mut self) {
        while let Some(batch) = self.queue.front() {
            match self.send_anywhere(batch).await {
                Ok(()) => {
                    self.stats.batches_sent += 1;
                    self.stats.last_success_ms = Some(argus_core::now_ms());
                }
                Err(SendError::Rejected(e)) => {
                    self.stats.batches_rejected += 1;
                    tracing::error!(error = %e, "server rejected a batch; dropping it");
                    self.stats.last_error = Some(e);
                }
                Err(SendError::Retry(e)) => {
                    tracing::warn!(error = %e, queued = self.queue.len(), "no server accepted the batch; will retry");
                    self.stats.last_error = Some(e);
                    return;
                }
            }
            if let Some(done) = self.queue.pop_front() {
                self.stats.queued_bytes -= done.len();
            }
        }
    }

    async fn send_anywhere(&self, batch: &[u8]) -> Result<(), SendError> {
        let mut last = SendError::Retry("no server configured".into());
        for server in &self.servers {
            match self.send_one(server, batch).await {
                Ok(()) => return Ok(()),
                Err(e @ SendError::Rejected(_)) => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn send_one(&self, server: &str, batch: &[u8]) -> Result<(), SendError> {
        let url = format!("{}/write?precision=ms", server.trim_end_matches('/'));
        let resp = self
            .client
            .post(&url)
            .bearer_auth(&self.token)
            .header("Content-Encoding", "gzip")
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(batch.to_vec())
            .send()
            .await
            .map_err(|e| SendError::Retry(format!("{url}: {e}")))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let text = resp.text().await.unwrap_or_default();
        let msg = format!("{url}: {status}: {text}");
        if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
            // 401 is a configuration problem, not a bad batch: keep the data.
            if status.as_u16() == 401 || status.as_u16() == 403 {
                return Err(SendError::Retry(msg));
            }
            Err(SendError::Rejected(msg))
        } else {
            Err(SendError::Retry(msg))
        }
    }
}
