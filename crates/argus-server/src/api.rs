//! The router: every HTTP path the server answers, its state and its fallbacks.

use crate::auth::require_token;
use crate::error::ApiError;
use crate::ingest::influx;
use crate::query::api as prom;
use crate::telemetry::Telemetry;
use argus_core::Storage;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Storage>,
    /// The embedded engine when it is the store: ingest takes its fast path and the admin
    /// endpoints work. `None` with other stores.
    pub tsdb: Option<Arc<argus_tsdb::Db>>,
    /// Where events are kept; `None` on a server that keeps none.
    pub events: Option<Arc<crate::events::EventStore>>,
    /// The host registry fed by heartbeats.
    pub hosts: Option<Arc<crate::hosts::Registry>>,
    /// Agent configurations served to agents.
    pub agent_configs: Option<Arc<crate::hosts::AgentConfigs>>,
    /// The tokens accepted, each with its namespace.
    pub tokens: Arc<crate::auth::TokenStore>,
    pub telemetry: Telemetry,
    /// What every ingested sample is checked against.
    pub rules: Arc<crate::ingest::validate::Rules>,
    pub max_body_bytes: usize,
    pub lookback_ms: i64,
    /// PromQL limits and defaults (`[query]`).
    pub query: argus_promql::EngineOptions,
    /// The queue ingest publishes to; `None`: ingest writes straight to the stores.
    pub pipeline: Option<Arc<crate::pipeline::Pipeline>>,
    /// The host registry in SQLite (read by `GET /api/argus/hosts` when set).
    pub registry: Option<Arc<crate::registry::HostRegistry>>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Storage>,
        tokens: Arc<crate::auth::TokenStore>,
        config: &crate::ServerConfig,
    ) -> Self {
        AppState {
            store,
            tsdb: None,
            events: None,
            hosts: None,
            agent_configs: None,
            tokens,
            telemetry: Telemetry::new(),
            rules: Arc::new(crate::ingest::validate::Rules::from_config(config)),
            max_body_bytes: config.max_body_bytes,
            lookback_ms: config.lookback_secs as i64 * 1000,
            query: crate::QueryConfig::default().engine_options(config.lookback_secs),
            pipeline: None,
            registry: None,
        }
    }

    /// State over the embedded engine.
    pub fn with_tsdb(
        db: Arc<argus_tsdb::Db>,
        tokens: Arc<crate::auth::TokenStore>,
        config: &crate::ServerConfig,
    ) -> Self {
        let mut s = Self::new(db.clone(), tokens, config);
        s.tsdb = Some(db);
        s
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/write", post(influx::write_v1))
        .route("/api/v2/write", post(influx::write_v2))
        .route("/api/v1/write", post(crate::ingest::remote_write::write))
        .route("/api/put", post(crate::ingest::opentsdb::put))
        .route("/api/v1/query", get(prom::query).post(prom::query))
        .route(
            "/api/v1/query_range",
            get(prom::query_range).post(prom::query_range),
        )
        .route("/api/v1/series", get(prom::series).post(prom::series))
        .route(
            "/api/v1/labels",
            get(crate::query::meta::labels).post(crate::query::meta::labels),
        )
        .route(
            "/api/v1/label/{name}/values",
            get(crate::query::meta::label_values).post(crate::query::meta::label_values),
        )
        .route(
            "/api/v1/metadata",
            get(crate::query::meta::metadata).post(crate::query::meta::metadata),
        )
        .route(
            "/api/v1/query_exemplars",
            get(crate::query::meta::query_exemplars).post(crate::query::meta::query_exemplars),
        )
        .route(
            "/api/v1/rules",
            get(crate::query::meta::rules).post(crate::query::meta::rules),
        )
        .route(
            "/api/v1/alerts",
            get(crate::query::meta::alerts).post(crate::query::meta::alerts),
        )
        .route(
            "/api/v1/status/buildinfo",
            get(crate::query::meta::buildinfo).post(crate::query::meta::buildinfo),
        )
        .route(
            "/api/argus/events",
            get(crate::events::get).post(crate::events::post),
        )
        .route("/api/argus/heartbeat", post(crate::hosts::heartbeat))
        .route("/api/argus/hosts", get(crate::hosts::list))
        .route(
            "/api/argus/agent/config",
            get(crate::hosts::get_config).put(crate::hosts::put_config),
        )
        .route(
            "/api/argus/analysis/by-label",
            get(crate::query::analysis::by_label_handler),
        )
        .route(
            "/api/argus/analysis/top",
            get(crate::query::analysis::top_handler),
        )
        .route(
            "/api/argus/hosts/{host}/summary",
            get(crate::query::analysis::summary_handler),
        )
        .route("/api/argus/admin/flush", post(crate::admin::flush))
        .route("/api/argus/admin/tsdb", get(crate::admin::tsdb))
        .fallback(not_found)
        // Body limits are enforced by the ingest handlers themselves (also after gzip).
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state)
}

pub(crate) async fn health() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let stats = state.store.stats();
    let mut body = state.telemetry.render(&stats);
    if let Some(db) = &state.tsdb {
        let db = db.clone();
        let s = tokio::task::spawn_blocking(move || db.stats()).await.ok();
        if let Some(s) = s {
            crate::admin::render_tsdb_metrics(&s, &mut body);
        }
    }
    if let Some(p) = &state.pipeline {
        p.render_metrics(&mut body).await;
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

async fn not_found(req: Request) -> ApiError {
    ApiError::NotFound(req.uri().path().to_string())
}

async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_string();
    let resp = next.run(req).await;
    state.telemetry.http_request(&route, resp.status().as_u16());
    resp
}
