//! The Argus server: ingest over HTTP, storage wiring, the Prometheus query API.
//!
//! The server is an axum [`Router`](axum::Router) over an [`AppState`]: a [`Storage`]
//! implementation, the accepted token and the server's own telemetry. [`serve`] runs it on a
//! bound listener until a shutdown future resolves, finishing in-flight requests.

pub mod admin;
pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod events;
pub mod hosts;
pub mod ingest;
pub mod query;
/// Storage wrappers and the in-memory store of the unit tests.
pub mod store;
pub mod telemetry;

pub use api::{AppState, router};
pub use config::{QueryConfig, ServerConfig, StorageConfig, TokenConfig};

use std::future::Future;
use tokio::net::TcpListener;

/// Serves the API on `listener` until `shutdown` resolves; in-flight requests finish first.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
