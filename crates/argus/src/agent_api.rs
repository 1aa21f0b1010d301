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

/// `POST /post`: line protocol, or a JSON list of metrics `[{name, value, timestamp, tags}]`
/// (a body starting with `[` or `{`), into the pipeline. JSON is read here
/// ([`argus_agent::scripts::json_metrics`]) and handed on as line protocol in
/// milliseconds, the precision the agent takes pushed timestamps in.
async fn push(State(s): State<ApiState>, Query(q): Params, body: String) -> Response {
    let ns = q.get("ns").map(String::as_str).filter(|n| !n.is_empty());
    let t = body.trim_start();
    let lines = if t.starts_with('[') || t.starts_with('{') {
        let points = match argus_agent::scripts::json_metrics(t, argus_core::now_ms()) {
            Ok(p) => p,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("JSON body: {e}")),
        };
        let mut text = String::new();
        for p in &points {
            argus_core::line_protocol::write_line(
                &mut text,
                p,
                argus_core::line_protocol::Precision::Milliseconds,
            );
        }
        text
    } else {
        body
    };
    match s.agent.post(&lines, ns).await {
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
    let synced = argus_agent::distributed::sync(&s.agent).await;
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

/// `GET /log/offset`'s parameters; see [`log_offset`].
#[derive(Deserialize)]
struct OffsetQuery {
    fpath: String,
    /// A byte offset to read forward from; none: the end of the file, read backward.
    offset: Option<u64>,
    /// Lines to return (default [`DEFAULT_LINES`]).
    num: Option<u64>,
    /// Bytes to return from `offset`, instead of lines.
    bytes: Option<u64>,
}

/// Lines `GET /log/offset` returns without `num`.
const DEFAULT_LINES: u64 = 100;

/// The most bytes one `GET /log/offset` returns.
const MAX_READ_BYTES: usize = 1 << 20;

/// How much is read at a time from the end of a file, looking for line starts.
const TAIL_CHUNK_BYTES: u64 = 64 * 1024;

/// A piece of a file: the bytes from `start`.
#[derive(Debug, PartialEq)]
struct Piece {
    start: u64,
    data: Vec<u8>,
}

/// Up to `bytes` bytes (at most [`MAX_READ_BYTES`]) from `offset`.
fn read_bytes(f: &mut std::fs::File, size: u64, offset: u64, bytes: u64) -> std::io::Result<Piece> {
    use std::io::{Read, Seek, SeekFrom};
    let start = offset.min(size);
    f.seek(SeekFrom::Start(start))?;
    let mut data = Vec::new();
    f.take(bytes.min(MAX_READ_BYTES as u64))
        .read_to_end(&mut data)?;
    Ok(Piece { start, data })
}

/// Up to `num` complete lines from `offset` forward. A line is complete when it ends in a
/// newline: the text after the last one is still being written, and is left for a later
/// read. A line longer than [`MAX_READ_BYTES`] comes in pieces of that size.
fn lines_from(f: &mut std::fs::File, size: u64, offset: u64, num: u64) -> std::io::Result<Piece> {
    let mut piece = read_bytes(f, size, offset, MAX_READ_BYTES as u64)?;
    let mut end = 0;
    let mut lines = 0;
    for (i, b) in piece.data.iter().enumerate() {
        if lines == num {
            break;
        }
        if *b == b'\n' {
            end = i + 1;
            lines += 1;
        }
    }
    if lines == 0 && num > 0 && piece.data.len() == MAX_READ_BYTES {
        end = MAX_READ_BYTES;
    }
    piece.data.truncate(end);
    Ok(piece)
}

/// The last `num` complete lines (as [`lines_from`] counts them) that fit in
/// [`MAX_READ_BYTES`], read backward from the end in chunks until enough are found.
fn last_lines(f: &mut std::fs::File, size: u64, num: u64) -> std::io::Result<Piece> {
    use std::io::{Read, Seek, SeekFrom};
    let max = MAX_READ_BYTES;
    // `buf` holds the file from `pos` to `size`.
    let mut pos = size;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let end = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let newlines = buf[..end].iter().filter(|b| **b == b'\n').count() as u64;
        if pos == 0 || newlines > num || end >= max || buf.len() >= 2 * max {
            break;
        }
        let from = pos.saturating_sub(TAIL_CHUNK_BYTES);
        let mut chunk = Vec::with_capacity((pos - from) as usize);
        f.seek(SeekFrom::Start(from))?;
        f.by_ref().take(pos - from).read_to_end(&mut chunk)?;
        if chunk.len() as u64 != pos - from {
            // The file shrank while it was read (truncated or replaced): what `buf` holds
            // no longer follows this chunk, so answer with what was read before.
            break;
        }
        pos = from;
        chunk.extend_from_slice(&buf);
        buf = chunk;
    }
    let end = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    if num == 0 || end == 0 {
        return Ok(Piece {
            start: pos + end as u64,
            data: Vec::new(),
        });
    }
    // Where each complete line starts: after every newline but the last, and at the start
    // of the file (not at the start of `buf` elsewhere: that is mid-line).
    let mut starts: Vec<usize> = buf[..end - 1]
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
        .collect();
    if pos == 0 {
        starts.insert(0, 0);
    }
    let wanted = usize::try_from(num).unwrap_or(usize::MAX);
    let first = starts.len().saturating_sub(wanted);
    // The earliest wanted line start that leaves at most `max` bytes, else the last line
    // cut to its last `max` bytes.
    let start = starts[first..]
        .iter()
        .copied()
        .find(|s| end - s <= max)
        .unwrap_or(end.saturating_sub(max));
    Ok(Piece {
        start: pos + start as u64,
        data: buf[start..end].to_vec(),
    })
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

/// `GET /log/offset?fpath=&offset=&num=&bytes=`: a file's lines, as agents of the
/// Open-Falcon family answer it. `num` counts lines: without `offset`, the last `num` lines
/// of the file (as `tail -n`); with `offset`, `num` lines from that byte offset forward, so
/// that `next_offset` of one answer, passed as `offset` to the next, follows the file.
/// `bytes` instead of `num` returns that many bytes from `offset` (0 without it). Only
/// complete lines (ending in a newline) are returned, and at most [`MAX_READ_BYTES`].
async fn log_offset(
    State(s): State<ApiState>,
    q: Result<Query<OffsetQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match q {
        Ok(q) => q,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("{e}: expected fpath, and offset, num (lines) or bytes"),
            );
        }
    };
    if q.num.is_some() && q.bytes.is_some() {
        return error(
            StatusCode::BAD_REQUEST,
            "query parameters \"num\" (lines) and \"bytes\": give one, not both",
        );
    }
    let dirs = s.log_dirs.clone();
    let result = tokio::task::spawn_blocking(move || {
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
        let read = match (q.bytes, q.offset) {
            (Some(bytes), offset) => read_bytes(&mut f, size, offset.unwrap_or(0), bytes),
            (None, Some(offset)) => {
                lines_from(&mut f, size, offset, q.num.unwrap_or(DEFAULT_LINES))
            }
            (None, None) => last_lines(&mut f, size, q.num.unwrap_or(DEFAULT_LINES)),
        };
        let piece = read.map_err(|e| ApiErr(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let lines = if q.bytes.is_some() {
            serde_json::Value::Null
        } else {
            json!(piece.data.split_inclusive(|b| *b == b'\n').count())
        };
        Ok(json!({
            "fpath": real,
            "offset": piece.start,
            "next_offset": piece.start + piece.data.len() as u64,
            "size": size,
            "lines": lines,
            "data": String::from_utf8_lossy(&piece.data),
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

    /// A real file holding `content`, open for reading, and its size.
    fn file_with(content: &[u8]) -> (tempfile::NamedTempFile, std::fs::File, u64) {
        use std::io::Write;
        let mut tmp = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
        tmp.write_all(content).unwrap_or_else(|e| panic!("{e}"));
        let f = std::fs::File::open(tmp.path()).unwrap_or_else(|e| panic!("{e}"));
        (tmp, f, content.len() as u64)
    }

    fn text(p: &Piece) -> (u64, &str) {
        (
            p.start,
            std::str::from_utf8(&p.data).unwrap_or("<not UTF-8>"),
        )
    }

    #[test]
    fn last_lines_are_complete_lines_counted_from_the_end() {
        let log = b"one\ntwo\nthree\nfour\npart";
        // (num, expected start, expected data)
        let cases: &[(u64, u64, &str)] = &[
            (2, 8, "three\nfour\n"),
            (4, 0, "one\ntwo\nthree\nfour\n"),
            (10, 0, "one\ntwo\nthree\nfour\n"),
            (1, 14, "four\n"),
            (0, 19, ""),
        ];
        for &(num, start, data) in cases {
            let (_tmp, mut f, size) = file_with(log);
            let got = last_lines(&mut f, size, num).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(text(&got), (start, data), "num={num}");
        }
        let (_tmp, mut f, size) = file_with(b"");
        let got = last_lines(&mut f, size, 5).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(text(&got), (0, ""));
        let (_tmp, mut f, size) = file_with(b"no newline yet");
        let got = last_lines(&mut f, size, 5).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(text(&got), (0, ""));
    }

    #[test]
    fn last_lines_read_back_across_chunks_and_stop_at_the_byte_limit() {
        // 300 000 lines of 11 bytes: 3.3 MB, far more than one chunk and than the limit.
        let mut log = Vec::new();
        for i in 0..300_000 {
            log.extend_from_slice(format!("line{i:06}\n").as_bytes());
        }
        let (_tmp, mut f, size) = file_with(&log);
        let got = last_lines(&mut f, size, 7000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.start, size - 77_000);
        assert_eq!(got.data.len(), 77_000);
        assert!(
            got.data.starts_with(b"line293000\n"),
            "{:?}",
            &got.data[..11]
        );
        assert!(got.data.ends_with(b"line299999\n"));
        // More lines than fit in 1 MiB: the latest that fit, starting at a line.
        let got = last_lines(&mut f, size, 200_000).unwrap_or_else(|e| panic!("{e}"));
        let fit = (MAX_READ_BYTES / 11) * 11;
        assert_eq!(got.data.len(), fit);
        assert_eq!(got.start, size - fit as u64);
        assert!(got.data.starts_with(b"line"));
        // One line longer than the limit: its last MiB.
        let mut long = vec![b'x'; MAX_READ_BYTES + 10];
        long.push(b'\n');
        let (_tmp, mut f, size) = file_with(&long);
        let got = last_lines(&mut f, size, 3).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((got.start, got.data.len()), (11, MAX_READ_BYTES));
    }

    #[test]
    fn lines_from_an_offset_follow_the_file() {
        let log = b"one\ntwo\nthree\npart";
        // (offset, num, expected start, expected data)
        let cases: &[(u64, u64, u64, &str)] = &[
            (0, 2, 0, "one\ntwo\n"),
            (4, 5, 4, "two\nthree\n"),
            (14, 5, 14, ""),
            (1, 1, 1, "ne\n"),
            (99, 5, 18, ""),
            (0, 0, 0, ""),
        ];
        for &(offset, num, start, data) in cases {
            let (_tmp, mut f, size) = file_with(log);
            let got = lines_from(&mut f, size, offset, num).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(text(&got), (start, data), "offset={offset} num={num}");
        }
        let (_tmp, mut f, size) = file_with(log);
        let got = read_bytes(&mut f, size, 4, 5).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(text(&got), (4, "two\nt"));
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
