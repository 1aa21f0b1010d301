//! The inventory as series, so that rules, dashboards and PromQL joins can use it:
//!
//! - `argus_host_up{host, host_id}`: 1 while the host is up, 0 when down (like
//!   Prometheus's `up`);
//! - `argus_host_info{host, host_id, location, owner, groups, os, kernel, agent_version,
//!   label_<key>…} 1`: what the inventory knows of the host, for
//!   `… * on(host) group_left(location) argus_host_info`. `groups` holds every group
//!   between commas (`,db,web,`), so `groups=~".*,web,.*"` selects a group's hosts; the
//!   host's labels become `label_<key>` (as kube-state-metrics writes Kubernetes labels).
//!   Empty values are left out, as Prometheus drops empty labels.
//!
//! Both are written every `[inventory] evaluation_interval_secs`, with the timestamp of
//! the interval's start: several servers sharing one database write identical samples.

use crate::store::hosts::{Host, HostRegistry};
use argus_core::{Labels, Sample, Storage, TimeSeries};
use std::sync::Arc;
use std::time::Duration;

/// The series of one evaluation at `ts`.
pub fn series(hosts: &[Host], ts: i64) -> Vec<TimeSeries> {
    let mut out = Vec::with_capacity(hosts.len() * 2);
    for h in hosts {
        let mut up = Labels::with_name("argus_host_up", [("host", h.hostname.as_str())]);
        up.set("host", &h.hostname);
        up.set("host_id", &h.id);
        out.push(TimeSeries {
            labels: up,
            samples: vec![Sample {
                ts,
                value: if h.status == "up" { 1.0 } else { 0.0 },
            }],
        });
        let mut info = Labels::with_name("argus_host_info", [("host", h.hostname.as_str())]);
        info.set("host", &h.hostname);
        info.set("host_id", &h.id);
        let groups = if h.groups.is_empty() {
            String::new()
        } else {
            format!(",{},", h.groups.join(","))
        };
        for (k, v) in [
            ("location", h.location.as_str()),
            ("owner", h.owner.as_str()),
            ("groups", groups.as_str()),
            ("os", h.os.as_str()),
            ("kernel", h.kernel.as_str()),
            ("agent_version", h.agent_version.as_str()),
        ] {
            if !v.is_empty() {
                info.set(k, v);
            }
        }
        for (k, v) in &h.labels {
            if !v.is_empty() {
                info.set(&format!("label_{k}"), v);
            }
        }
        out.push(TimeSeries {
            labels: info,
            samples: vec![Sample { ts, value: 1.0 }],
        });
    }
    out
}

/// Writes the inventory series every `every` until `stop`.
pub async fn run(
    hosts: Arc<HostRegistry>,
    store: Arc<dyn Storage>,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let every_ms = every.as_millis().max(1) as i64;
    loop {
        // Aligned to the interval so that every server writes the same timestamps.
        let now = argus_core::now_ms();
        let next = (now / every_ms + 1) * every_ms;
        tokio::select! {
            _ = async { let _ = stop.wait_for(|s| *s).await; } => return,
            _ = tokio::time::sleep(Duration::from_millis((next - now) as u64)) => {}
        }
        if let Err(e) = write_once(&hosts, &store, next).await {
            tracing::warn!(error = %e, "cannot write the inventory series; next round retries");
        }
    }
}

/// One evaluation at `ts`.
pub async fn write_once(
    hosts: &HostRegistry,
    store: &Arc<dyn Storage>,
    ts: i64,
) -> Result<usize, String> {
    let all = hosts.all().await.map_err(|e| format!("inventory: {e}"))?;
    if all.is_empty() {
        return Ok(0);
    }
    let series = series(&all, ts);
    let n = series.len();
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.append(series))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("storage: {e}"))?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::Database;
    use crate::store::db::tests::{postgres, sqlite};
    use crate::store::hosts::{HostEdit, NewHost, Seen};
    use argus_core::storage::mem::MemStore;

    #[tokio::test]
    async fn up_and_info_series_carry_the_inventory_on_sqlite() {
        let (db, _dir) = sqlite().await;
        series_suite(db).await;
    }

    #[tokio::test]
    async fn up_and_info_series_carry_the_inventory_on_postgres() {
        let (db, _pg) = postgres().await;
        series_suite(db).await;
    }

    /// The `argus_host_up` and `argus_host_info` series of an inventory, run against each
    /// backend.
    async fn series_suite(db: Database) {
        let hosts = HostRegistry::new(Arc::new(db), 3);
        let now = argus_core::now_ms();
        hosts
            .record(&[Seen {
                received_ms: now,
                heartbeat: serde_json::json!({
                    "facts": {"hostname": "web1", "machine_id": "m1", "os": "Debian"},
                    "interval_secs": 10
                }),
            }])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        hosts
            .update(
                "alice",
                "m1",
                HostEdit {
                    location: Some("dc1".into()),
                    groups: Some(vec!["web".into(), "db".into()]),
                    labels: Some([("team".to_string(), "a".to_string())].into()),
                    ..HostEdit::default()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        hosts
            .create(
                "alice",
                NewHost {
                    hostname: "old".into(),
                    id: None,
                    ips: vec![],
                    edit: HostEdit::default(),
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mem = Arc::new(MemStore::new());
        let store: Arc<dyn Storage> = mem.clone();
        assert_eq!(write_once(&hosts, &store, 1000).await, Ok(4));
        let got = store
            .select(
                &[argus_core::Matcher::equal("__name__", "argus_host_up")],
                0,
                2000,
            )
            .unwrap_or_default();
        let mut up: Vec<(String, f64)> = got
            .iter()
            .map(|s| {
                (
                    s.labels.get("host").unwrap_or("").to_string(),
                    s.samples[0].value,
                )
            })
            .collect();
        up.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(up, [("old".to_string(), 0.0), ("web1".to_string(), 1.0)]);
        let info = store
            .select(
                &[
                    argus_core::Matcher::equal("__name__", "argus_host_info"),
                    argus_core::Matcher::equal("host", "web1"),
                ],
                0,
                2000,
            )
            .unwrap_or_default();
        let l = &info[0].labels;
        assert_eq!(l.get("location"), Some("dc1"));
        assert_eq!(l.get("groups"), Some(",db,web,"));
        assert_eq!(l.get("label_team"), Some("a"));
        assert_eq!(l.get("host_id"), Some("m1"));
        assert_eq!(l.get("os"), Some("Debian"));
        assert_eq!(l.get("owner"), None);
    }
}
