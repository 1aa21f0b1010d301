//! The agent's local HTTP API, on loopback by default: the paths users of such agents know.
//!
//! It lives in the binary, not in argus-agent, so that the agent library does not pull in
//! an HTTP server framework; it only calls [`AgentHandle`].

use argus_agent::runtime::{AgentHandle, HandleError};
use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
struct ApiState {
    agent: AgentHandle,
    token: Arc<str>,
    disable_secs: u64,
    log_dirs: Arc<Vec<PathBuf>>,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    ApiErr(status, message.into()).into_response()
}

/// An error answer, small enough to travel in a `Result`.
struct ApiErr(StatusCode, String);

impl IntoResponse for ApiErr {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({ "error": self.1 }))).into_response()
    }
}

fn handle_error(e: HandleError) -> Response {
    let status = match e {
        HandleError::UnknownPlugin(_) => StatusCode::NOT_FOUND,
        HandleError::BadInput(_) => StatusCode::BAD_REQUEST,
        HandleError::Stopping => StatusCode::SERVICE_UNAVAILABLE,
    };
    error(status, e.to_string())
}

pub fn router(agent: AgentHandle, config: &argus_agent::AgentConfig) -> Router {
    let state = ApiState {
        agent,
        token: config.api_token.as_str().into(),
        disable_secs: config.disable_secs,
        log_dirs: Arc::new(config.log_dirs.iter().map(PathBuf::from).collect()),
    };
    Router::new()
        .route("/plugins/list", get(list))
        .route("/plugins/run", post(run))
        .route("/plugins/enable", post(enable))
        .route("/plugins/disable", post(disable))
        .route("/plugins/update", post(plugins_update))
        .route("/post", post(push))
        .route("/me/status", get(status))
        .route("/me/ns", get(me_ns))
        .route("/update", post(update))
        .route("/log/offset", get(log_offset))
        .fallback(|req: Request| async move {
            error(
                StatusCode::NOT_FOUND,
                format!("no such path: {}", req.uri().path()),
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .with_state(state)
}

async fn auth(State(s): State<ApiState>, req: Request, next: Next) -> Response {
    if s.token.is_empty() {
        return next.run(req).await;
    }
    let ok = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|t| t.trim() == &*s.token);
    if ok {
        next.run(req).await
    } else {
        error(StatusCode::UNAUTHORIZED, "missing or invalid token")
    }
}

async fn list(State(s): State<ApiState>) -> Response {
    axum::Json(s.agent.list()).into_response()
}

type Params = Query<HashMap<String, String>>;

fn name_param(q: &HashMap<String, String>) -> Result<&str, ApiErr> {
    q.get("name")
        .map(String::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiErr(
                StatusCode::BAD_REQUEST,
                "missing query parameter \"name\"".into(),
            )
        })
}

async fn run(State(s): State<ApiState>, Query(q): Params) -> Response {
    let name = match name_param(&q) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let timeout = match q.get("timeout").map(|t| t.parse::<f64>()) {
        None => None,
        Some(Ok(t)) if t > 0.0 && t.is_finite() => Some(Duration::from_secs_f64(t)),
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "query parameter \"timeout\": expected seconds > 0",
            );
        }
    };
    // A plugin from the server may be named without its `plugin:` prefix.
    let prefixed;
    let name = if s.agent.installed_plugins().get(name).is_some()
        && s.agent.list().iter().all(|p| p.name != name)
    {
        prefixed = format!("{}{name}", argus_agent::distributed::PREFIX);
        prefixed.as_str()
    } else {
        name
    };
    match s.agent.run(name, timeout, q.get("param").cloned()).await {
        Ok(out) if out.result == "already_running" => {
            (StatusCode::CONFLICT, axum::Json(out)).into_response()
        }
        Ok(out) => axum::Json(out).into_response(),
        Err(e) => handle_error(e),
    }
}

async fn enable(State(s): State<ApiState>, Query(q): Params) -> Response {
    match name_param(&q) {
        Ok(name) => match s.agent.enable(name) {
            Ok(st) => axum::Json(st).into_response(),
            Err(e) => handle_error(e),
        },
        Err(r) => r.into_response(),
    }
}

async fn disable(State(s): State<ApiState>, Query(q): Params) -> Response {
    let name = match name_param(&q) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let secs = match q.get("secs").map(|t| t.parse::<u64>()) {
        None => s.disable_secs,
        Some(Ok(t)) if t > 0 => t,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "query parameter \"secs\": expected whole seconds > 0",
            );
        }
    };
    match s.agent.disable(name, Duration::from_secs(secs)) {
        Ok(st) => axum::Json(st).into_response(),
        Err(e) => handle_error(e),
    }
}

async fn push(State(s): State<ApiState>, Query(q): Params, body: String) -> Response {
    let ns = q.get("ns").map(String::as_str).filter(|n| !n.is_empty());
    match s.agent.post(&body, ns).await {
        Ok(n) => axum::Json(json!({ "points": n })).into_response(),
        Err(e) => handle_error(e),
    }
}

/// `POST /update`: pull the remote configuration now (answers at once; the result shows in
/// `/me/status` as `config_error` or in the plugins applied).
async fn update(State(s): State<ApiState>) -> Response {
    s.agent.request_update();
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({ "status": "remote configuration pull requested" })),
    )
        .into_response()
}

/// `POST /plugins/update`: pulls the plugins the server assigns to this host now, applies
/// them, and answers what changed (`plugins`: installed, updated, removed, unchanged,
/// failed); also asks for a configuration pull, as `POST /update` does. 502 when no server
/// answered (the installed plugins keep running).
async fn plugins_update(State(s): State<ApiState>) -> Response {
    // The plugins first: the configuration pull asked for next applies the same list
    // again, which is then current (a 304).
    let synced = s.agent.sync_plugins().await;
    s.agent.request_update();
    match synced {
        Ok(report) => axum::Json(json!({
            "plugins": report,
            "config": "remote configuration pull requested",
        }))
        .into_response(),
        Err(e) => error(StatusCode::BAD_GATEWAY, e.to_string()),
    }
}

async fn status(State(s): State<ApiState>) -> Response {
    axum::Json(s.agent.status()).into_response()
}

/// `GET /me/ns`: the namespaces and groups the server's host inventory gives this host,
/// asked of the servers at each request (it is rare, and a cached answer would hide a
/// change just made on the server). The server's answer passes unchanged; 404 when the
/// host is not in the inventory, 502 when no server answered.
async fn me_ns(State(s): State<ApiState>) -> Response {
    use argus_agent::remote::Me;
    let (servers, token) = s.agent.targets();
    let host = s.agent.status().host;
    let id = argus_agent::heartbeat::machine_id(&host);
    match argus_agent::remote::whoami(&s.agent.http_client(), &servers, &token, &host, &id).await {
        Ok(Me::Known(entry)) => axum::Json(entry).into_response(),
        Ok(Me::Unknown(message)) => error(StatusCode::NOT_FOUND, message),
        Err(e) => error(StatusCode::BAD_GATEWAY, e.to_string()),
    }
}

#[derive(Deserialize)]
struct OffsetQuery {
    fpath: String,
    #[serde(default)]
    offset: u64,
    #[serde(default = "default_num")]
    num: u64,
}

fn default_num() -> u64 {
    64 * 1024
}

/// The canonical form of `path` if it lies inside one of `allowed` (also canonicalized):
/// `..` and symlinks are resolved first, so neither can lead out.
pub fn allowed_path(path: &Path, allowed: &[PathBuf]) -> Option<PathBuf> {
    let real = std::fs::canonicalize(path).ok()?;
    allowed
        .iter()
        .filter_map(|d| std::fs::canonicalize(d).ok())
        .any(|d| real.starts_with(&d))
        .then_some(real)
}

async fn log_offset(
    State(s): State<ApiState>,
    q: Result<Query<OffsetQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match q {
        Ok(q) => q,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("{e}: expected fpath, offset, num"),
            );
        }
    };
    let dirs = s.log_dirs.clone();
    let result = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Seek, SeekFrom};
        let Some(real) = allowed_path(Path::new(&q.fpath), &dirs) else {
            return Err(ApiErr(
                StatusCode::FORBIDDEN,
                format!(
                    "{:?} is not a readable file under the allowed directories {:?}",
                    q.fpath, dirs
                ),
            ));
        };
        let mut f =
            std::fs::File::open(&real).map_err(|e| ApiErr(StatusCode::NOT_FOUND, e.to_string()))?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        let num = q.num.min(1 << 20);
        f.seek(SeekFrom::Start(q.offset.min(size)))
            .map_err(|e| ApiErr(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let mut buf = Vec::with_capacity(num as usize);
        f.take(num)
            .read_to_end(&mut buf)
            .map_err(|e| ApiErr(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let start = q.offset.min(size);
        Ok(json!({
            "fpath": real,
            "offset": start,
            "next_offset": start + buf.len() as u64,
            "size": size,
            "data": String::from_utf8_lossy(&buf),
        }))
    })
    .await;
    match result {
        Ok(Ok(v)) => axum::Json(v).into_response(),
        Ok(Err(r)) => r.into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for the server's host inventory: it knows the host `web-1` (by the id it
    /// was sent) and no other, and wants the agent's token.
    async fn inventory(
        Query(q): Query<HashMap<String, String>>,
        headers: axum::http::HeaderMap,
    ) -> Response {
        let bearer = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok());
        if bearer != Some("Bearer agent-token") {
            return error(StatusCode::UNAUTHORIZED, "bad token");
        }
        let id = q.get("id").cloned().unwrap_or_default();
        match q.get("host").map(String::as_str) {
            Some("web-1") => axum::Json(json!({
                "id": id, "hostname": "web-1", "namespaces": ["ops"], "groups": ["db", "web"],
            }))
            .into_response(),
            _ => error(
                StatusCode::NOT_FOUND,
                format!("host {id} is not in the inventory"),
            ),
        }
    }

    async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let url = format!(
            "http://{}",
            listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        url
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn me_ns_relays_the_inventory_found_not_found_and_unreachable() {
        let server = serve(Router::new().route("/api/argus/agent/me", get(inventory))).await;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut config = argus_agent::AgentConfig {
            servers: vec![server.clone()],
            token: "agent-token".into(),
            hostname: "web-1".into(),
            scripts: argus_agent::scripts::ScriptsConfig {
                enabled: false,
                ..Default::default()
            },
            ..Default::default()
        };
        let agent =
            argus_agent::Agent::new(&config, dir.path()).unwrap_or_else(|e| panic!("{e:#}"));
        let handle = agent.handle();
        let api = serve(router(handle.clone(), &config)).await;
        let get_ns = || async {
            let r = reqwest::get(format!("{api}/me/ns"))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap_or_else(|e| panic!("{e}"));
            (status, body)
        };

        let (status, body) = get_ns().await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body,
            json!({
                "id": argus_agent::heartbeat::machine_id("web-1"),
                "hostname": "web-1",
                "namespaces": ["ops"],
                "groups": ["db", "web"],
            })
        );

        config.hostname = "ghost".into();
        handle
            .reconfigure(&config)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        let (status, body) = get_ns().await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(
            body,
            json!({ "error": format!(
                "host {} is not in the inventory",
                argus_agent::heartbeat::machine_id("ghost")
            ) })
        );

        let down = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
            format!(
                "http://{}",
                l.local_addr().unwrap_or_else(|e| panic!("{e}"))
            )
        };
        config.servers = vec![down.clone()];
        handle
            .reconfigure(&config)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        let (status, body) = get_ns().await;
        assert_eq!(status, 502, "{body}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(&format!("no server answered: {down}: ")),
            "{body}"
        );
    }

    #[test]
    fn paths_outside_allowed_dirs_are_refused_also_through_symlinks_and_dotdot() {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let logs = root.path().join("logs");
        let secret = root.path().join("secret");
        std::fs::create_dir_all(&logs).unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(&secret).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(logs.join("a.log"), "x").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(secret.join("key"), "k").unwrap_or_else(|e| panic!("{e}"));
        std::os::unix::fs::symlink(secret.join("key"), logs.join("link"))
            .unwrap_or_else(|e| panic!("{e}"));
        let allowed = vec![logs.clone()];
        assert!(allowed_path(&logs.join("a.log"), &allowed).is_some());
        assert!(allowed_path(&logs.join("../secret/key"), &allowed).is_none());
        assert!(allowed_path(&logs.join("link"), &allowed).is_none());
        assert!(allowed_path(&secret.join("key"), &allowed).is_none());
        assert!(allowed_path(&logs.join("missing"), &allowed).is_none());
    }
}
