//! Storage administration: force a flush and compaction, read the engine's figures.

use super::error::ApiError;
use crate::pipeline::SAMPLES;
use crate::state::AppState;
use crate::store::tokens::Access;
use axum::Json;
use axum::extract::State;
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
    axum::Extension(access): axum::Extension<Access>,
) -> Result<Json<serde_json::Value>, ApiError> {
    access.require_admin()?;
    let db = db(&state)?;
    // Ingest answers once a batch is queued: without this wait, what is still in the queue
    // would land in the head after the flush.
    let pending = samples_pending_after(state.pipeline.queue.as_ref(), DRAIN_TIMEOUT).await;
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
                .filter(|t| t.topic == SAMPLES)
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
    axum::Extension(access): axum::Extension<Access>,
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
