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
    pub token: Arc<str>,
    pub telemetry: Telemetry,
    pub max_body_bytes: usize,
    pub lookback_ms: i64,
}

impl AppState {
    pub fn new(store: Arc<dyn Storage>, token: &str, config: &crate::ServerConfig) -> Self {
        AppState {
            store,
            token: token.into(),
            telemetry: Telemetry::new(),
            max_body_bytes: config.max_body_bytes,
            lookback_ms: config.lookback_secs as i64 * 1000,
        }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/write", post(influx::write_v1))
        .route("/api/v2/write", post(influx::write_v2))
        .route("/api/v1/query", get(prom::query).post(prom::query))
        .route(
            "/api/v1/query_range",
            get(prom::query_range).post(prom::query_range),
        )
        .route("/api/v1/series", get(prom::series).post(prom::series))
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

async fn health() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let stats = state.store.stats();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.telemetry.render(&stats),
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
