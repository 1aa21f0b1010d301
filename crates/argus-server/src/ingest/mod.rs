//! Ingest endpoints: everything that writes into storage.

pub mod body;
pub mod influx;
pub mod opentsdb;
pub mod remote_write;
pub mod validate;

use crate::api::AppState;
use crate::error::ApiError;
use argus_core::TimeSeries;

/// Stores checked series (every protocol but line protocol, which has its own fast path);
/// with a pipeline, publishes them to its `samples` topic with the namespace `ns`.
pub async fn store(
    state: &AppState,
    ns: Option<&str>,
    series: Vec<TimeSeries>,
) -> Result<(), ApiError> {
    if let Some(p) = &state.pipeline {
        let entry = crate::pipeline::codec::Entry::Samples {
            ns: ns.map(str::to_string),
            series,
        };
        return p.publish(crate::pipeline::SAMPLES, &entry).await;
    }
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.append(series))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(())
}
