//! The Argus server: ingest over HTTP, the pipeline that applies what was ingested, the
//! stores, and the query API.
//!
//! The crate is layered; each layer imports only the ones below it:
//!
//! ```text
//! http/        the router and one file of request handlers per route group
//!   │
//! state.rs     AppState: what every request handler can reach
//!   │
//! pipeline/    publish to the queue; consumers apply what it holds
//! query/       parameters, selectors, result formats, analysis over the engine
//! plugins/     distributed plugins: uploads and git exports made into versions
//!   │
//! ingest/      the rules every written body is checked against
//! store/       events, host registry, tokens, agent configurations
//! storage/     metric stores besides the embedded engine
//! telemetry.rs, config.rs
//! ```
//!
//! Terms: a **consumer** reads one queue topic and **applies** its entries; a request
//! **handler** answers one HTTP route. **Storage** keeps metrics; a **store** keeps the
//! rest. See `README.md` beside this crate.

pub mod alerting;
pub mod config;
pub mod http;
pub mod ingest;
pub mod inventory;
pub mod pipeline;
pub mod plugins;
pub mod query;
pub mod state;
pub mod storage;
pub mod store;
pub mod telemetry;
pub mod tls;

pub use config::{
    AlertingConfig, AuthConfig, DatabaseConfig, InventoryConfig, QueryConfig, ServerConfig,
    StorageConfig, TasksConfig, TokenConfig,
};
pub use http::{router, serve, status_router};
pub use plugins::PluginsConfig;
pub use state::AppState;
