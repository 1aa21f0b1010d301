//! The host registry: what the agents' heartbeats say about each host, and when each was
//! last seen. `POST /api/argus/heartbeat` records, `GET /api/argus/hosts` lists.
//!
//! Kept in memory and written to `<data_dir>/hosts.json` (atomically, at most every few
//! seconds) so it survives restarts. The inventory with editing, groups and SQLite or
//! PostgreSQL comes with the server's registry.

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
