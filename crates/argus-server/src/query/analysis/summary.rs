//! The host summary: the latest figures of one host from the series the agent's inputs
//! emit (`crates/argus-agent/src/inputs/*/README.md`):
//!
//! | figure | PromQL over the host's series |
//! |---|---|
//! | cpu used % | `100 - cpu_usage_idle{cpu="cpu-total"}` |
//! | cpus | `system_n_cpus` |
//! | memory used %, total, used, available | `mem_used_percent`, `mem_total`, `mem_used`, `mem_available` (bytes) |
//! | disk used % per mount | `disk_used_percent`, `disk_total`, `disk_used` by `path` |
//! | network rx/tx bytes/s | `sum(rate(net_bytes_recv{interface!="lo"}[5m]))`, `net_bytes_sent` likewise |
//! | load | `system_load1`, `system_load5`, `system_load15` |
//! | uptime | `system_uptime` (seconds) |
//!
//! Each is an instant query at the summary's time with the server's lookback; a figure
//! with no series there is `null`.

use super::{AnalysisError, engine, num};
use crate::storage::scoped::Scoped;
use argus_core::{Labels, Storage};
use argus_promql::{Engine, EngineOptions, Value};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The window of the network rates.
pub const RATE_WINDOW: &str = "5m";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Disk {
    pub path: String,
    pub device: Option<String>,
    pub fstype: Option<String>,
    pub used_percent: Option<f64>,
    pub total: Option<f64>,
    pub used: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub cpu_used_percent: Option<f64>,
    pub cpus: Option<f64>,
    pub mem_used_percent: Option<f64>,
    pub mem_total: Option<f64>,
    pub mem_used: Option<f64>,
    pub mem_available: Option<f64>,
    pub disks: Vec<Disk>,
    pub net_rx_bytes_per_sec: Option<f64>,
    pub net_tx_bytes_per_sec: Option<f64>,
    pub load1: Option<f64>,
    pub load5: Option<f64>,
    pub load15: Option<f64>,
    pub uptime_secs: Option<f64>,
}

impl Summary {
    /// No figure at all: the host sent nothing within the lookback.
    pub fn is_empty(&self) -> bool {
        *self == Summary::default()
    }

    pub fn to_json(&self, host: &str, at: i64) -> Json {
        let o = |v: Option<f64>| v.map_or(Json::Null, num);
        json!({
            "host": host,
            "time": super::secs(at),
            "cpu": { "used_percent": o(self.cpu_used_percent), "cpus": o(self.cpus) },
            "memory": {
                "used_percent": o(self.mem_used_percent),
                "total_bytes": o(self.mem_total),
                "used_bytes": o(self.mem_used),
                "available_bytes": o(self.mem_available),
            },
            "disks": self.disks.iter().map(|d| json!({
                "path": d.path,
                "device": d.device,
                "fstype": d.fstype,
                "used_percent": o(d.used_percent),
                "total_bytes": o(d.total),
                "used_bytes": o(d.used),
            })).collect::<Vec<_>>(),
            "network": {
                "rx_bytes_per_sec": o(self.net_rx_bytes_per_sec),
                "tx_bytes_per_sec": o(self.net_tx_bytes_per_sec),
            },
            "load": { "load1": o(self.load1), "load5": o(self.load5), "load15": o(self.load15) },
            "uptime_secs": o(self.uptime_secs),
        })
    }
}

fn vector(e: &Engine, q: &str, at: i64) -> Result<Vec<(Labels, f64)>, AnalysisError> {
    match e.instant(q, at) {
        Ok(Value::Vector(v)) => Ok(v.into_iter().map(|(l, _, v)| (l, v)).collect()),
        Ok(_) => Ok(Vec::new()),
        Err(err) => Err(AnalysisError::query("host", err)),
    }
}

fn first(e: &Engine, q: &str, at: i64) -> Result<Option<f64>, AnalysisError> {
    Ok(vector(e, q, at)?.first().map(|x| x.1))
}

/// The summary of `host` at `at` (ms).
pub fn summary(
    store: Arc<dyn Storage>,
    opts: &EngineOptions,
    host: &str,
    at: i64,
) -> Result<Summary, AnalysisError> {
    let view: Arc<dyn Storage> = Arc::new(
        Scoped::hosts(store, [&host.to_string()])
            .map_err(|e| AnalysisError::internal(e.to_string()))?,
    );
    let e = engine(view, opts);
    let mut disks: BTreeMap<String, Disk> = BTreeMap::new();
    for (field, q) in [
        (0, "disk_used_percent"),
        (1, "disk_total"),
        (2, "disk_used"),
    ] {
        for (labels, v) in vector(&e, q, at)? {
            let Some(path) = labels.get("path") else {
                continue;
            };
            let d = disks.entry(path.to_string()).or_insert_with(|| Disk {
                path: path.to_string(),
                device: labels.get("device").map(str::to_string),
                fstype: labels.get("fstype").map(str::to_string),
                ..Disk::default()
            });
            match field {
                0 => d.used_percent = Some(v),
                1 => d.total = Some(v),
                _ => d.used = Some(v),
            }
        }
    }
    Ok(Summary {
        cpu_used_percent: first(&e, r#"100 - cpu_usage_idle{cpu="cpu-total"}"#, at)?,
        cpus: first(&e, "system_n_cpus", at)?,
        mem_used_percent: first(&e, "mem_used_percent", at)?,
        mem_total: first(&e, "mem_total", at)?,
        mem_used: first(&e, "mem_used", at)?,
        mem_available: first(&e, "mem_available", at)?,
        disks: disks.into_values().collect(),
        net_rx_bytes_per_sec: first(
            &e,
            &format!(r#"sum(rate(net_bytes_recv{{interface!="lo"}}[{RATE_WINDOW}]))"#),
            at,
        )?,
        net_tx_bytes_per_sec: first(
            &e,
            &format!(r#"sum(rate(net_bytes_sent{{interface!="lo"}}[{RATE_WINDOW}]))"#),
            at,
        )?,
        load1: first(&e, "system_load1", at)?,
        load5: first(&e, "system_load5", at)?,
        load15: first(&e, "system_load15", at)?,
        uptime_secs: first(&e, "system_uptime", at)?,
    })
}
