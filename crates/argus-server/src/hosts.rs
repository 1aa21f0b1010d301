//! The host registry: what the agents' heartbeats say about each host, and when each was
//! last seen. `POST /api/argus/heartbeat` records, `GET /api/argus/hosts` lists.
//!
//! With the ingest pipeline, heartbeats are queued and the heartbeat handler records them
//! in the SQLite registry (`crate::registry`, `<data_dir>/registry.db`), which `GET` reads.
//! [`Registry`] is the earlier in-memory registry written to `<data_dir>/hosts.json`, still
//! used without a pipeline and read once to import an existing file into SQLite.

use crate::api::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HostRecord {
    pub hostname: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// The last heartbeat as the agent sent it (facts, plugin states, buffer fill).
    pub heartbeat: serde_json::Value,
}

pub struct Registry {
    path: PathBuf,
    hosts: Mutex<BTreeMap<String, HostRecord>>,
    dirty: AtomicBool,
}

impl Registry {
    pub fn open(path: &Path) -> std::io::Result<Registry> {
        let hosts = match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        Ok(Registry {
            path: path.to_path_buf(),
            hosts: Mutex::new(hosts),
            dirty: AtomicBool::new(false),
        })
    }

    pub fn record(&self, hostname: &str, heartbeat: serde_json::Value, now: i64) {
        let mut h = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        let e = h.entry(hostname.to_string()).or_insert_with(|| HostRecord {
            hostname: hostname.to_string(),
            first_seen_ms: now,
            last_seen_ms: now,
            heartbeat: serde_json::Value::Null,
        });
        e.last_seen_ms = now;
        e.heartbeat = heartbeat;
        self.dirty.store(true, Ordering::Relaxed);
    }

    pub fn list(&self) -> Vec<HostRecord> {
        self.hosts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Writes the registry if it changed since the last save.
    pub fn save(&self) -> std::io::Result<()> {
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        let data = serde_json::to_vec(&*self.hosts.lock().unwrap_or_else(|p| p.into_inner()))
            .map_err(std::io::Error::other)?;
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, data)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, &self.path)
    }
}

pub async fn heartbeat(
    State(state): State<AppState>,
    Json(body): Json<serde_json::Value>,
) -> Result<StatusCode, ApiError> {
    if let Some(p) = state.pipeline.clone() {
        if body["facts"]["hostname"].as_str().is_none_or(str::is_empty) {
            return Err(ApiError::BadRequest(
                "field \"facts.hostname\" is required".into(),
            ));
        }
        let entry = crate::pipeline::codec::Entry::Heartbeat {
            ns: None,
            received_ms: argus_core::now_ms(),
            body,
        };
        if let Err(e) = p.publish(crate::pipeline::HEARTBEAT, &entry).await {
            state.telemetry.rejected(e.reject_reason());
            return Err(e);
        }
        return Ok(StatusCode::NO_CONTENT);
    }
    let Some(reg) = state.hosts.clone() else {
        return Err(ApiError::NotFound(
            "this server keeps no host registry".into(),
        ));
    };
    let hostname = body["facts"]["hostname"]
        .as_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ApiError::BadRequest("field \"facts.hostname\" is required".into()))?
        .to_string();
    reg.record(&hostname, body, argus_core::now_ms());
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    if let Some(reg) = state.registry.clone() {
        let hosts = reg
            .list()
            .await
            .map_err(|e| ApiError::Internal(format!("host registry: {e}")))?;
        return Ok(Json(
            serde_json::json!({ "status": "success", "data": hosts }),
        ));
    }
    let Some(reg) = state.hosts.clone() else {
        return Err(ApiError::NotFound(
            "this server keeps no host registry".into(),
        ));
    };
    Ok(Json(
        serde_json::json!({ "status": "success", "data": reg.list() }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_persist_across_reopen() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("hosts.json");
        let r = Registry::open(&p).unwrap_or_else(|e| panic!("{e}"));
        r.record(
            "web1",
            serde_json::json!({"facts": {"hostname": "web1", "cpus": 4}}),
            10,
        );
        r.record(
            "web1",
            serde_json::json!({"facts": {"hostname": "web1", "cpus": 8}}),
            20,
        );
        r.save().unwrap_or_else(|e| panic!("{e}"));
        let r = Registry::open(&p).unwrap_or_else(|e| panic!("{e}"));
        let l = r.list();
        assert_eq!(l.len(), 1);
        assert_eq!((l[0].first_seen_ms, l[0].last_seen_ms), (10, 20));
        assert_eq!(l[0].heartbeat["facts"]["cpus"], 8);
    }
}

/// Where per-host agent configurations live: `<dir>/<host>.toml`, else `<dir>/default.toml`.
pub struct AgentConfigs {
    pub dir: PathBuf,
}

fn etag_of(text: &str) -> String {
    format!("\"{:08x}-{}\"", crc32fast_hash(text.as_bytes()), text.len())
}

/// FNV-1a: an ETag needs a stable fingerprint, not a cryptographic one.
fn crc32fast_hash(b: &[u8]) -> u32 {
    b.iter().fold(0x811c_9dc5u32, |h, &x| {
        (h ^ u32::from(x)).wrapping_mul(0x0100_0193)
    })
}

fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-._".contains(&c))
        && !h.starts_with('.')
}

#[derive(Deserialize)]
pub struct HostParam {
    #[serde(default)]
    host: String,
}

/// `GET /api/argus/agent/config?host=`: the host's agent configuration (TOML), 304 when
/// the agent's `If-None-Match` is current, 404 when there is none.
pub async fn get_config(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<HostParam>,
    headers: axum::http::HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let Some(cfgs) = state.agent_configs.clone() else {
        return Err(ApiError::NotFound(
            "this server serves no agent configuration".into(),
        ));
    };
    if !q.host.is_empty() && !valid_host(&q.host) {
        return Err(ApiError::BadRequest(format!(
            "parameter \"host\": {:?} is not a host name",
            q.host
        )));
    }
    let candidates = [
        cfgs.dir.join(format!("{}.toml", q.host)),
        cfgs.dir.join("default.toml"),
    ];
    let text = candidates
        .iter()
        .filter(|p| !q.host.is_empty() || p.ends_with("default.toml"))
        .find_map(|p| std::fs::read_to_string(p).ok())
        .ok_or_else(|| {
            ApiError::NotFound(format!("no agent configuration for host {:?}", q.host))
        })?;
    let etag = etag_of(&text);
    if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return Ok((StatusCode::NOT_MODIFIED, [("etag", etag)]).into_response());
    }
    Ok((
        [
            ("etag", etag),
            ("content-type", "application/toml".to_string()),
        ],
        text,
    )
        .into_response())
}

/// `PUT /api/argus/agent/config?host=` (no host: the default for every agent): stores a
/// TOML agent configuration; it must parse as TOML (the agent checks the keys when it
/// applies it, and keeps its running configuration if they are wrong).
pub async fn put_config(
    State(state): State<AppState>,
    axum::Extension(access): axum::Extension<crate::auth::Access>,
    axum::extract::Query(q): axum::extract::Query<HostParam>,
    body: String,
) -> Result<StatusCode, ApiError> {
    access.require_admin()?;
    let Some(cfgs) = state.agent_configs.clone() else {
        return Err(ApiError::NotFound(
            "this server serves no agent configuration".into(),
        ));
    };
    if !q.host.is_empty() && !valid_host(&q.host) {
        return Err(ApiError::BadRequest(format!(
            "parameter \"host\": {:?} is not a host name",
            q.host
        )));
    }
    if let Err(e) = body.parse::<toml_lite::Checked>() {
        return Err(ApiError::BadRequest(format!("body is not valid TOML: {e}")));
    }
    let name = if q.host.is_empty() {
        "default".to_string()
    } else {
        q.host.clone()
    };
    std::fs::create_dir_all(&cfgs.dir).map_err(|e| ApiError::Internal(e.to_string()))?;
    let path = cfgs.dir.join(format!("{name}.toml"));
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, body.as_bytes())
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}

/// TOML syntax checking through the `toml` crate's parser.
mod toml_lite {
    pub struct Checked;
    impl std::str::FromStr for Checked {
        type Err = String;
        fn from_str(s: &str) -> Result<Self, String> {
            s.parse::<toml::Table>()
                .map(|_| Checked)
                .map_err(|e| e.to_string())
        }
    }
}
