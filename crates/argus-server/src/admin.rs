//! Storage administration: force a flush and compaction, read the engine's figures.

use crate::api::AppState;
use crate::error::ApiError;
use argus_tsdb::DbStats;
use axum::Json;
use axum::extract::State;
use std::fmt::Write;
use std::time::Duration;

fn db(state: &AppState) -> Result<std::sync::Arc<argus_tsdb::Db>, ApiError> {
    state
        .tsdb
        .clone()
        .ok_or_else(|| ApiError::NotFound("this server stores no metrics locally".into()))
}

/// How long a flush waits for the samples already acknowledged (queued) to be stored.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// `POST /api/argus/admin/flush`: store what ingest has acknowledged, then seal the head
/// into blocks and compact everything now.
pub async fn flush(
    State(state): State<AppState>,
    axum::Extension(access): axum::Extension<crate::auth::Access>,
) -> Result<Json<serde_json::Value>, ApiError> {
    access.require_admin()?;
    let db = db(&state)?;
    // Ingest answers once a batch is queued: without this wait, what is still in the queue
    // would land in the head after the flush.
    let pending = match &state.pipeline {
        Some(p) => samples_pending_after(p.queue.as_ref(), DRAIN_TIMEOUT).await,
        None => 0,
    };
    let (flushed, merges, stats) = tokio::task::spawn_blocking(move || {
        let flushed = db.flush()?;
        let merges = db.compact(true)?;
        Ok::<_, argus_tsdb::Error>((flushed.len(), merges, db.stats()))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::Storage(e.into()))?;
    Ok(Json(serde_json::json!({
        "queued_samples_not_stored": pending,
        "blocks_written": flushed,
        "compactions": merges,
        "tsdb": stats,
    })))
}

/// Waits until every consumer group of the `samples` topic has acked all its entries, or
/// `timeout` passes; returns the entries still pending (0: drained).
async fn samples_pending_after(queue: &dyn argus_queue::Queue, timeout: Duration) -> u64 {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let pending = match tokio::time::timeout(Duration::from_secs(2), queue.stats()).await {
            Ok(Ok(stats)) => stats
                .topics
                .iter()
                .filter(|t| t.topic == crate::pipeline::SAMPLES)
                .flat_map(|t| &t.consumers)
                .map(|c| c.pending)
                .sum(),
            // A queue that does not answer cannot be waited for: flush what is stored.
            _ => return 0,
        };
        if pending == 0 || tokio::time::Instant::now() >= deadline {
            return pending;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `GET /api/argus/admin/tsdb`: the engine's figures, per block, and the block bytes per
/// metric name (largest first).
pub async fn tsdb(
    State(state): State<AppState>,
    axum::Extension(access): axum::Extension<crate::auth::Access>,
) -> Result<Json<serde_json::Value>, ApiError> {
    access.require_admin()?;
    let db = db(&state)?;
    let (stats, usage) = tokio::task::spawn_blocking(move || (db.stats(), db.usage_by_metric()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut v = serde_json::to_value(stats).map_err(|e| ApiError::Internal(e.to_string()))?;
    v["by_metric"] = serde_json::to_value(usage).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(v))
}

/// Appends the engine's gauges to a `/metrics` body.
pub fn render_tsdb_metrics(s: &DbStats, out: &mut String) {
    // The text format wants "# EOF" only in OpenMetrics; prometheus-client ends with it,
    // so insert before it when present.
    let eof = out.rfind("# EOF").unwrap_or(out.len());
    let tail = out.split_off(eof);
    let mut g = |name: &str, help: &str, v: u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
    };
    g(
        "argus_tsdb_head_series",
        "Series in the in-memory head",
        s.head_series,
    );
    g(
        "argus_tsdb_head_samples",
        "Samples in the in-memory head",
        s.head_samples,
    );
    g(
        "argus_tsdb_head_sample_bytes",
        "Bytes of sample data in the head",
        s.head_sample_bytes,
    );
    g(
        "argus_tsdb_wal_bytes",
        "Bytes of the write-ahead log on disk",
        s.wal_bytes,
    );
    g("argus_tsdb_blocks", "Blocks on disk", s.blocks.len() as u64);
    g(
        "argus_tsdb_block_bytes_total",
        "Bytes of all blocks on disk",
        s.block_bytes,
    );
    g(
        "argus_tsdb_block_samples_total",
        "Samples in all blocks",
        s.block_samples,
    );
    g(
        "argus_tsdb_block_index_memory_bytes",
        "Bytes of RAM held by loaded block indexes",
        s.block_index_memory_bytes,
    );
    let _ = writeln!(
        out,
        "# HELP argus_tsdb_out_of_order_rejected_samples Samples refused for being older than the out-of-order window\n# TYPE argus_tsdb_out_of_order_rejected_samples counter\nargus_tsdb_out_of_order_rejected_samples_total {}",
        s.rejected_out_of_order
    );
    let _ = writeln!(
        out,
        "# HELP argus_tsdb_block_bytes Bytes of one block on disk\n# TYPE argus_tsdb_block_bytes gauge"
    );
    for b in &s.blocks {
        let _ = writeln!(
            out,
            "argus_tsdb_block_bytes{{block=\"{}\",level=\"{}\"}} {}",
            b.id, b.level, b.bytes
        );
    }
    let _ = writeln!(
        out,
        "# HELP argus_tsdb_block_samples Samples in one block\n# TYPE argus_tsdb_block_samples gauge"
    );
    for b in &s.blocks {
        let _ = writeln!(
            out,
            "argus_tsdb_block_samples{{block=\"{}\",level=\"{}\"}} {}",
            b.id, b.level, b.samples
        );
    }
    out.push_str(&tail);
}
