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
//! A series that is no longer written (a host edited, so its info labels changed; a host
//! deleted) gets Prometheus's stale marker, so that it ends at once instead of lingering
//! for the lookback window, where the old and the new info series of one host would make
//! `group_left` joins fail as many-to-many.

use crate::store::hosts::{Host, HostRegistry};
use argus_core::{Labels, Sample, Storage, TimeSeries};
use std::collections::HashSet;
use std::sync::Arc;

/// Prometheus's stale marker: a NaN with this bit pattern ends a series.
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;
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
    leads: impl Fn() -> bool + Send,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let every_ms = every.as_millis().max(1) as i64;
    // What the last round wrote, to end what this round no longer writes.
    let mut written: HashSet<Labels> = HashSet::new();
    loop {
        // Aligned to the interval so that every server writes the same timestamps.
        let now = argus_core::now_ms();
        let next = (now / every_ms + 1) * every_ms;
        tokio::select! {
            _ = async { let _ = stop.wait_for(|s| *s).await; } => return,
            _ = tokio::time::sleep(Duration::from_millis((next - now) as u64)) => {}
        }
        // Servers sharing a database: the one holding the alerting lease writes (the
        // others' rounds would only write the same samples again).
        if !leads() {
            written.clear();
            continue;
        }
        match write_once(&hosts, &store, next, &written).await {
            Ok(now_written) => written = now_written,
            Err(e) => {
                tracing::warn!(error = %e, "cannot write the inventory series; next round retries")
            }
        }
    }
}

/// One evaluation at `ts`: every host's series, and a stale marker for each series of
/// `before` (the previous round's) not written now. Returns the label sets written.
pub async fn write_once(
    hosts: &HostRegistry,
    store: &Arc<dyn Storage>,
    ts: i64,
    before: &HashSet<Labels>,
) -> Result<HashSet<Labels>, String> {
    let all = hosts.all().await.map_err(|e| format!("inventory: {e}"))?;
    let mut series = series(&all, ts);
    let written: HashSet<Labels> = series.iter().map(|s| s.labels.clone()).collect();
    series.extend(
        before
            .iter()
            .filter(|l| !written.contains(*l))
            .map(|l| TimeSeries {
                labels: l.clone(),
                samples: vec![Sample {
                    ts,
                    value: f64::from_bits(STALE_NAN),
                }],
            }),
    );
    if series.is_empty() {
        return Ok(written);
    }
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.append(series))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("storage: {e}"))?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::Database;
    use crate::store::db::tests::on_both_backends;
    use crate::store::hosts::{HostEdit, NewHost, Seen};
    use argus_core::storage::mem::MemStore;

    on_both_backends!(up_and_info_series_carry_the_inventory, super::series_suite);

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
        let written = write_once(&hosts, &store, 1000, &HashSet::new())
            .await
            .unwrap_or_default();
        assert_eq!(written.len(), 4);
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
        // An edit changes web1's info labels: its old info series gets a stale marker, so
        // a join at 2000 sees one info series per host; the deleted host's series end too.
        hosts
            .update(
                "alice",
                "m1",
                HostEdit {
                    location: Some("dc2".into()),
                    ..HostEdit::default()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        hosts
            .delete("alice", "old")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let after = write_once(&hosts, &store, 2000, &written)
            .await
            .unwrap_or_default();
        assert_eq!(after.len(), 2);
        let engine =
            argus_promql::Engine::new(store.clone(), argus_promql::EngineOptions::default());
        let v = engine
            .instant(
                "count by (host) (argus_host_info) or count by (host) (argus_host_up)",
                2000,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let n = format!("{v:?}");
        assert!(n.contains("web1") && !n.contains("\"old\""), "{n}");
        let info = engine
            .instant("argus_host_info", 2000)
            .unwrap_or_else(|e| panic!("{e}"));
        let text = format!("{info:?}");
        assert!(text.contains("dc2") && !text.contains("dc1"), "{text}");
    }
}
