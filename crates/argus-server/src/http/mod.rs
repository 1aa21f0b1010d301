//! The HTTP layer: the router, and one file of request handlers per route group. It is
//! the top of the crate: it imports the domain (ingest, pipeline, stores, query) and
//! nothing below imports it. Errors become responses here ([`error`], [`prom`]).
//!
//! | file | routes |
//! | --- | --- |
//! | [`ingest`] | `/write`, `/api/v2/write`, `/api/v1/write`, `/api/put` |
//! | [`query`] | `/api/v1/query`, `/api/v1/query_range`, `/api/v1/series` |
//! | [`metadata`] | `/api/v1/labels`, `/api/v1/label/{name}/values`, metadata, rules, alerts, exemplars, buildinfo |
//! | [`analysis`] | `/api/argus/analysis/*`, `/api/argus/hosts/{host}/summary` |
//! | [`events`] | `/api/argus/events` |
//! | [`hosts`] | `/api/argus/heartbeat`, `/api/argus/hosts[/{id}]`, `/api/argus/locations`, `/api/argus/groups`, `/api/argus/agent/*` |
//! | [`alerting`] | `/api/v2/alerts`, `/api/v2/silences`, `/api/v2/silence/{id}` (Alertmanager's), `/api/argus/maintenance[/{id}]`, `/api/argus/notifications` |
//! | [`rules`] | `/api/argus/rules[/{id}]`, `/api/argus/rules/preview` |
//! | [`users`] | `/api/argus/login`, `/logout`, `/me`, `/users[/{name}]`, `/tokens[/{id}]`, `/audit` |
//! | [`plugins`] | `/api/argus/plugins[/{name}[/sync\|/assignments]]`, `/api/argus/agent/plugins[/{name}/{version}]` |
//! | [`tasks`] | `/api/argus/tasks[/{id}[/cancel]]`, `/api/argus/agent/tasks[/{id}/result]` |
//! | [`admin`] | `/api/argus/admin/*` |
//! | [`status`] | `/health`, `/metrics` |
//! | [`ui`] | `/` and `/ui/*`: the web UI's embedded assets |

pub mod admin;
pub mod alerting;
pub mod analysis;
pub mod auth;
pub mod body;
pub mod error;
pub mod events;
pub mod hosts;
pub mod ingest;
pub mod metadata;
pub mod plugins;
pub mod prom;
pub mod query;
pub mod rules;
pub mod status;
pub mod tasks;
pub mod ui;
pub mod users;

use crate::state::AppState;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post};
use error::ApiError;
use std::future::Future;

/// Serves the API on `listener` (plain TCP, or [`crate::tls::TlsListener`]) until
/// `shutdown` resolves; in-flight requests finish first.
pub async fn serve<L>(
    listener: L,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Every path the server answers.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(status::health))
        .route("/metrics", get(status::metrics))
        .route("/write", post(ingest::write::<false>))
        .route("/api/v2/write", post(ingest::write::<true>))
        .route("/api/v1/write", post(ingest::remote_write))
        .route("/api/put", post(ingest::opentsdb_put))
        .route("/api/v1/query", get(query::query).post(query::query))
        .route(
            "/api/v1/query_range",
            get(query::query_range).post(query::query_range),
        )
        .route("/api/v1/series", get(query::series).post(query::series))
        .route(
            "/api/v1/labels",
            get(metadata::labels).post(metadata::labels),
        )
        .route(
            "/api/v1/label/{name}/values",
            get(metadata::label_values).post(metadata::label_values),
        )
        .route(
            "/api/v1/metadata",
            get(metadata::metadata).post(metadata::metadata),
        )
        .route(
            "/api/v1/query_exemplars",
            get(metadata::query_exemplars).post(metadata::query_exemplars),
        )
        .route("/api/v1/rules", get(metadata::rules).post(metadata::rules))
        .route(
            "/api/v1/alerts",
            get(metadata::alerts).post(metadata::alerts),
        )
        .route(
            "/api/v1/status/buildinfo",
            get(metadata::buildinfo).post(metadata::buildinfo),
        )
        .route("/api/argus/events", get(events::get).post(events::post))
        .route("/api/argus/heartbeat", post(hosts::heartbeat))
        .route(
            "/api/argus/hosts",
            get(hosts::list)
                .post(hosts::create)
                .patch(hosts::bulk_update),
        )
        .route(
            "/api/argus/hosts/{id}",
            get(hosts::get).patch(hosts::update).delete(hosts::delete),
        )
        .route("/api/argus/locations", get(hosts::locations))
        .route("/api/argus/groups", get(hosts::groups))
        .route(
            "/api/argus/agent/config",
            get(hosts::get_config)
                .put(hosts::put_config)
                .delete(hosts::delete_config),
        )
        .route("/api/argus/agent/configs", get(hosts::list_configs))
        .route("/api/argus/agent/me", get(hosts::me))
        .route("/api/argus/tasks", get(tasks::list).post(tasks::create))
        .route(
            "/api/argus/tasks/{id}",
            get(tasks::get).delete(tasks::cancel),
        )
        .route("/api/argus/tasks/{id}/cancel", post(tasks::cancel))
        .route("/api/argus/agent/tasks", get(tasks::poll))
        .route("/api/argus/agent/tasks/{id}/result", post(tasks::result))
        .route("/api/argus/login", post(users::login))
        .route("/api/argus/logout", post(users::logout))
        .route("/api/argus/me", get(users::me))
        .route("/api/argus/users", get(users::list).post(users::create))
        .route(
            "/api/argus/users/{name}",
            get(users::get).patch(users::update).delete(users::delete),
        )
        .route(
            "/api/argus/tokens",
            get(users::list_tokens).post(users::create_token),
        )
        .route("/api/argus/tokens/{id}", delete(users::revoke_token))
        .route("/api/argus/audit", get(users::audit))
        .route(
            "/api/v2/alerts",
            get(alerting::get_alerts).post(alerting::post_alerts),
        )
        .route(
            "/api/v2/silences",
            get(alerting::list_silences).post(alerting::post_silence),
        )
        .route(
            "/api/v2/silence/{id}",
            get(alerting::get_silence).delete(alerting::expire_silence),
        )
        .route(
            "/api/argus/maintenance",
            get(alerting::list_maintenance).post(alerting::create_maintenance),
        )
        .route(
            "/api/argus/maintenance/{id}",
            get(alerting::get_maintenance)
                .put(alerting::put_maintenance)
                .delete(alerting::delete_maintenance),
        )
        .route("/api/argus/notifications", get(alerting::notifications))
        .route("/api/v2/status", get(alerting::status))
        .route("/api/argus/alerts", get(alerting::active))
        .route("/api/argus/receivers", get(alerting::receivers))
        .route(
            "/api/argus/notifier/config",
            get(alerting::get_notifier_config)
                .put(alerting::put_notifier_config)
                .delete(alerting::delete_notifier_config),
        )
        .route(
            "/api/argus/receivers/{name}/test",
            post(alerting::test_receiver),
        )
        .route("/api/argus/rules", get(rules::list).post(rules::create))
        .route("/api/argus/rules/preview", post(rules::preview))
        .route(
            "/api/argus/rules/{id}",
            get(rules::get)
                .put(rules::replace)
                .patch(rules::enable)
                .delete(rules::delete),
        )
        .route(
            "/api/argus/rules/reload",
            get(alerting::reload_rules).post(alerting::reload_rules),
        )
        .route("/api/argus/alerts/history", get(alerting::history))
        .route("/api/argus/analysis/by-label", get(analysis::by_label))
        .route("/api/argus/analysis/top", get(analysis::top))
        .route("/api/argus/hosts/{host}/summary", get(analysis::summary))
        .route("/api/argus/plugins", get(plugins::list))
        .route(
            "/api/argus/plugins/{name}",
            get(plugins::get).put(plugins::put).delete(plugins::delete),
        )
        .route("/api/argus/plugins/{name}/sync", post(plugins::sync))
        .route(
            "/api/argus/plugins/{name}/assignments",
            get(plugins::get_assignments).put(plugins::put_assignments),
        )
        .route("/api/argus/agent/plugins", get(plugins::agent_list))
        .route(
            "/api/argus/agent/plugins/{name}/{version}",
            get(plugins::agent_download),
        )
        .route("/api/argus/admin/flush", post(admin::flush))
        .route("/api/argus/admin/tsdb", get(admin::tsdb))
        .merge(ui::router())
        .fallback(not_found)
        // Every body is bounded by `server.max_body_bytes`: the ingest handlers read theirs
        // themselves (also after gzip); the others through extractors, bounded here, with
        // a declared length over the limit refused before anything is read.
        .layer(axum::extract::DefaultBodyLimit::max(state.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), limit_body))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state)
}

/// What a `--role handlers` process (consumers only) answers over HTTP: `/health` and
/// `/metrics` (the latter with a token, as on every server), and reads of what its
/// consumers stored: events, and the inventory (shared with every server when the
/// database is a shared PostgreSQL; else this process's own SQLite).
pub fn status_router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(status::health))
        .route("/metrics", get(status::metrics))
        .route("/api/argus/events", get(events::get))
        .route("/api/argus/hosts", get(hosts::list))
        .route("/api/argus/hosts/{id}", get(hosts::get))
        // The alerting state this process holds when it holds the alerting lease: the
        // rules', the notifier's, the deliveries.
        .route("/api/v1/rules", get(metadata::rules))
        .route("/api/v1/alerts", get(metadata::alerts))
        .route("/api/v2/alerts", get(alerting::get_alerts))
        .route("/api/v2/status", get(alerting::status))
        .route("/api/argus/alerts", get(alerting::active))
        .route("/api/argus/notifications", get(alerting::notifications))
        .fallback(|req: Request| async move {
            ApiError::NotFound(format!(
                "{} (a --role handlers process answers /health, /metrics, and GET of /api/argus/events, /api/argus/hosts, /api/v1/rules, /api/v1/alerts, /api/v2/alerts, /api/v2/status, /api/argus/alerts and /api/argus/notifications only)",
                req.uri().path()
            ))
        })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .with_state(state)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::NotFound(req.uri().path().to_string())
}

/// Refuses a body over `server.max_body_bytes` with the JSON 413 every route gives: one
/// whose declared length is over it before anything is read; one without a declared length
/// (chunked) once that many bytes came, the body being read here then.
async fn limit_body(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.max_body_bytes;
    let too_large = || axum::response::IntoResponse::into_response(ApiError::TooLarge { limit });
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > limit as u64 => too_large(),
        Some(_) => next.run(req).await,
        None => {
            let (parts, body) = req.into_parts();
            match axum::body::to_bytes(body, limit).await {
                Ok(bytes) => {
                    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                        .await
                }
                Err(_) => too_large(),
            }
        }
    }
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
