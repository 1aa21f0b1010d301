//! The sender: delivers the disk buffer's records to the servers, in order, with failover.
//!
//! Consecutive records of one kind travel in one gzip-compressed request: metrics as line
//! protocol to `/write?precision=ms`, events as JSON lines to `/api/argus/events`. A
//! request goes to the server that last accepted one, then to the others in turn; a
//! record leaves the buffer only once a server answered 2xx. A 4xx other than 401, 403,
//! 408 and 429 means the server will never accept that data: it is dropped, counted and
//! reported instead of blocking everything behind it.

use crate::buffer::{Buffer, Kind, Position, Record};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the sender has done, for the agent's status.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct SenderStats {
    pub requests_sent: u64,
    pub records_sent: u64,
    pub records_rejected: u64,
    pub last_error: Option<String>,
    pub last_success_ms: Option<i64>,
    /// The server that accepted the last request.
    pub server: Option<String>,
}

pub struct Sender {
    client: reqwest::Client,
    /// For each request.
    timeout: Duration,
    servers: Vec<String>,
    token: String,
    /// Index of the server to try first.
    preferred: usize,
    pub stats: SenderStats,
}

/// Why a request to one server failed.
enum SendError {
    /// Worth retrying later or elsewhere.
    Retry(String),
    /// The server refused the content itself.
    Rejected(String),
}

/// Largest request body, before compression.
const MAX_REQUEST_BYTES: usize = 4 << 20;

impl Sender {
    pub fn new(
        client: reqwest::Client,
        servers: Vec<String>,
        token: String,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        Ok(Sender {
            client,
            timeout,
            servers,
            token,
            preferred: 0,
            stats: SenderStats::default(),
        })
    }

    /// Changes where requests go (a reconfiguration).
    pub fn set_targets(&mut self, servers: &[String], token: &str, client: &reqwest::Client) {
        self.client = client.clone();
        if self.servers != servers {
            self.servers = servers.to_vec();
            self.preferred = 0;
        }
        if self.token != token {
            self.token = token.to_string();
        }
    }

    /// Sends what the buffer holds until it is empty or no server accepts a request.
    /// Returns `true` when everything was delivered (or dropped as rejected).
    pub async fn drain(&mut self, buffer: &Arc<Mutex<Buffer>>) -> bool {
        loop {
            let b = buffer.clone();
            let recs = tokio::task::spawn_blocking(move || {
                let mut b = b.lock().unwrap_or_else(|p| p.into_inner());
                b.peek(256, MAX_REQUEST_BYTES)
            })
            .await;
            let recs = match recs {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    self.stats.last_error = Some(format!("reading the buffer: {e}"));
                    return false;
                }
                Err(e) => {
                    self.stats.last_error = Some(e.to_string());
                    return false;
                }
            };
            if recs.is_empty() {
                return true;
            }
            // The first run of records of one kind.
            let kind = recs[0].kind;
            let run: Vec<&Record> = recs.iter().take_while(|r| r.kind == kind).collect();
            let next: Position = run[run.len() - 1].next;
            let mut body = Vec::with_capacity(run.iter().map(|r| r.payload.len() + 1).sum());
            for r in &run {
                body.extend_from_slice(&r.payload);
                if !r.payload.ends_with(b"\n") {
                    body.push(b'\n');
                }
            }
            match self.send_anywhere(kind, &body).await {
                Ok(()) => {
                    self.stats.requests_sent += 1;
                    self.stats.records_sent += run.len() as u64;
                    self.stats.last_success_ms = Some(argus_core::now_ms());
                }
                Err(SendError::Rejected(e)) => {
                    tracing::error!(error = %e, records = run.len(), "server rejected data; dropping it");
                    self.stats.records_rejected += run.len() as u64;
                    self.stats.last_error = Some(e);
                }
                Err(SendError::Retry(e)) => {
                    tracing::warn!(error = %e, "no server accepted the data; it stays buffered");
                    self.stats.last_error = Some(e);
                    return false;
                }
            }
            let b = buffer.clone();
            let committed = tokio::task::spawn_blocking(move || {
                b.lock().unwrap_or_else(|p| p.into_inner()).commit(next)
            })
            .await;
            if !matches!(committed, Ok(Ok(()))) {
                self.stats.last_error = Some("cannot save the buffer cursor".into());
                return false;
            }
        }
    }

    async fn send_anywhere(&mut self, kind: Kind, body: &[u8]) -> Result<(), SendError> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let compressed = gz
            .write_all(body)
            .and_then(|()| gz.finish())
            .map_err(|e| SendError::Retry(format!("compressing: {e}")))?;
        let mut last = SendError::Retry("no server configured".into());
        for i in 0..self.servers.len() {
            let idx = (self.preferred + i) % self.servers.len();
            match self.send_one(idx, kind, &compressed).await {
                Ok(()) => {
                    self.preferred = idx;
                    self.stats.server = Some(self.servers[idx].clone());
                    return Ok(());
                }
                Err(e @ SendError::Rejected(_)) => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn send_one(&self, idx: usize, kind: Kind, body: &[u8]) -> Result<(), SendError> {
        let base = self.servers[idx].trim_end_matches('/');
        let (url, content_type) = match kind {
            Kind::Metrics => (
                format!("{base}/write?precision=ms"),
                "text/plain; charset=utf-8",
            ),
            Kind::Events => (format!("{base}/api/argus/events"), "application/x-ndjson"),
        };
        let resp = self
            .client
            .post(&url)
            .timeout(self.timeout)
            .bearer_auth(&self.token)
            .header("Content-Encoding", "gzip")
            .header("Content-Type", content_type)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| SendError::Retry(format!("{url}: {e}")))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let text = resp.text().await.unwrap_or_default();
        let msg = format!("{url}: {status}: {}", text.trim());
        match status.as_u16() {
            // A wrong token or an overloaded server: the data is fine, keep it.
            401 | 403 | 408 | 429 => Err(SendError::Retry(msg)),
            400..=499 => Err(SendError::Rejected(msg)),
            _ => Err(SendError::Retry(msg)),
        }
    }
}
