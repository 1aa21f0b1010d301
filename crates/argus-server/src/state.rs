//! The application state: every part a request handler can reach, built once at start.
//!
//! Every part is always there, except the embedded engine: a server storing its metrics
//! in a remote store (VictoriaMetrics) has no [`Db`](argus_tsdb::Db), and its admin
//! endpoints say so.

use crate::config::{AuthConfig, InventoryConfig};
use crate::ingest::Rules;
use crate::pipeline::Pipeline;
use crate::store::agent_configs::AgentConfigs;
use crate::store::events::EventStore;
use crate::store::hosts::HostRegistry;
use crate::store::tasks::TaskStore;
use crate::store::tokens::TokenStore;
use crate::store::users::Users;
use crate::telemetry::Telemetry;
use argus_core::Storage;
use std::sync::Arc;

/// What every request handler can reach. Cheap to clone: it holds `Arc`s.
#[derive(Clone)]
pub struct AppState {
    /// Where metrics are stored and read.
    pub store: Arc<dyn Storage>,
    /// The embedded engine when it is the store (admin endpoints, its figures at
    /// `/metrics`); `None` with a remote store.
    pub tsdb: Option<Arc<argus_tsdb::Db>>,
    /// The queue ingest publishes to.
    pub pipeline: Arc<Pipeline>,
    /// Where events are kept.
    pub events: Arc<EventStore>,
    /// The host inventory, fed by heartbeats and edited through the API.
    pub hosts: Arc<HostRegistry>,
    /// Users, their sessions and tokens (also reachable through `tokens`).
    pub users: Arc<Users>,
    /// `[auth]` and `[inventory]`.
    pub auth: AuthConfig,
    pub inventory: InventoryConfig,
    /// Agent configurations served to agents.
    pub agent_configs: Arc<AgentConfigs>,
    /// Distributed plugins and `[plugins]`.
    pub plugins: Arc<crate::plugins::Plugins>,
    /// Every credential accepted, with what it grants.
    pub tokens: Arc<TokenStore>,
    pub telemetry: Telemetry,
    /// What every ingested sample is checked against.
    pub rules: Arc<Rules>,
    /// `server.max_body_bytes`: the largest request body, after decompression.
    pub max_body_bytes: usize,
    /// Rules, the notifier and the external Alertmanagers.
    pub alerting: Arc<crate::alerting::Alerting>,
    /// PromQL limits and defaults (`[query]`).
    pub query: argus_promql::EngineOptions,
    /// Remote tasks, and the long polls of the agents waiting for them.
    pub tasks: Arc<TaskStore>,
}
