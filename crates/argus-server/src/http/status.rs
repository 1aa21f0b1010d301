//! `/health` (no token) and `/metrics`: the server's own figures in the Prometheus text
//! format, with the engine's and the pipeline's.

use crate::state::AppState;
use axum::extract::State;
use axum::response::IntoResponse;

pub async fn health() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let stats = state.store.stats();
    let mut body = state.telemetry.render(&stats);
    if let Some(db) = &state.tsdb {
        let db = db.clone();
        let s = tokio::task::spawn_blocking(move || db.stats()).await.ok();
        if let Some(s) = s {
            crate::telemetry::render_tsdb_metrics(&s, &mut body);
        }
    }
    state.pipeline.render_metrics(&mut body).await;
    state.alerting.notifier.render_metrics(&mut body);
    state.alerting.render_metrics(&mut body);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}
