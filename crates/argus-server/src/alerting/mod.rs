//! Alerting as the server runs it:
//!
//! ```text
//! rule files ──► argus_rules::Manager ──► alerts ──┬──► Notifier (argus_notify: routes,
//!   (every group on its slot, on the store)        │    groups, silences, maintenance)
//!                                                  │      └──► channels
//!                                                  └──► external Alertmanagers (v2 API)
//! ```
//!
//! Prometheus can also send its alerts here, as to an Alertmanager (`POST /api/v2/alerts`):
//! they join the notifier beside Argus's own.

pub mod alertmanagers;
pub mod api_rules;
pub mod channels;
pub mod notifier;

use crate::config::AlertingConfig;
use crate::store::alert_history::{AlertHistory, Transition};
use alertmanagers::Alertmanagers;
use argus_core::Storage;
use argus_notify::PostableAlert;
use argus_rules::group::EvalOptions;
use argus_rules::manager::{Manager, SystemClock};
use argus_rules::rule::NotifyAlert;
use notifier::Notifier;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The rules, the notifier and where else alerts go.
pub struct Alerting {
    pub rules: Arc<Mutex<Manager>>,
    pub notifier: Arc<Notifier>,
    alertmanagers: Option<Alertmanagers>,
    /// Where state changes are kept.
    pub history: AlertHistory,
    /// The state of every alert after the last evaluation, by fingerprint, to see what
    /// changed after the next.
    last: Mutex<HashMap<u64, Active>>,
    /// `[alerting] rule_files`, read again on reload.
    rule_files: Vec<String>,
    /// How the last reload went.
    last_reload: Mutex<ReloadStatus>,
    /// Rules made through the API.
    pub api_rules: crate::store::api_rules::ApiRules,
    /// With a shared database (several servers): the lease that makes one of them the
    /// one that evaluates the rules and sends notifications.
    lease: Option<(crate::store::leases::Leases, String)>,
    /// Whether this server evaluates and sends (always, without a lease).
    pub leader: std::sync::atomic::AtomicBool,
}

/// The lease's name, its lifetime and how often its holder renews it: a server that dies
/// is replaced within `LEASE_TTL_MS` plus one renewal and one evaluation interval.
pub const LEASE: &str = "alerting";
pub const LEASE_TTL_MS: i64 = 15_000;
pub const LEASE_RENEW: std::time::Duration = std::time::Duration::from_secs(5);

/// The outcome of a reload of the rule files.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReloadStatus {
    pub ok: bool,
    pub at_ms: i64,
    /// Each problem with its file, line and reason; the running rules stayed.
    pub errors: Vec<String>,
    /// Groups running after it.
    pub groups: usize,
}

/// An active alert of the rules, as the history and `/api/argus/alerts` see it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Active {
    pub rule: String,
    pub group: String,
    pub file: String,
    pub state: &'static str,
    pub labels: std::collections::BTreeMap<String, String>,
    pub annotations: std::collections::BTreeMap<String, String>,
    pub value: f64,
    pub active_at_ms: i64,
    pub fired_at_ms: Option<i64>,
}

/// Why alerting cannot start: every problem found, each naming its file and line.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct AlertingError(pub Vec<String>);

/// A rule alert as the notifier and Alertmanagers take it.
fn postable(a: &NotifyAlert) -> PostableAlert {
    let ts = |ns: i64| jiff::Timestamp::from_nanosecond(i128::from(ns)).ok();
    PostableAlert {
        labels: a
            .labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect(),
        annotations: a.annotations.clone(),
        starts_at: a.starts_at_ns.and_then(ts),
        ends_at: a.ends_at_ns.and_then(ts),
        generator_url: a.generator_url.clone(),
    }
}

fn for_alertmanager(a: &NotifyAlert) -> alertmanagers::Alert {
    alertmanagers::Alert {
        labels: a
            .labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect(),
        annotations: a.annotations.clone(),
        starts_at_ms: a.starts_at_ns.map_or(0, |n| n / 1_000_000),
        ends_at_ms: a.ends_at_ns.map(|n| n / 1_000_000),
        generator_url: a.generator_url.clone(),
    }
}

impl Alerting {
    /// Reads the notifier's configuration (an error lists every problem with its file and
    /// line) and makes the rule manager, empty: the rule files and the API's rules are
    /// loaded by the first [`Alerting::reload`], where the server evaluates rules.
    pub fn load(
        config: &AlertingConfig,
        store: Arc<dyn Storage>,
        query: argus_promql::EngineOptions,
        external_url: &str,
    ) -> Result<(Manager, argus_notify::Config), AlertingError> {
        let notifier =
            notifier::load_config(&config.notifier_file).map_err(|e| AlertingError(vec![e]))?;
        let opts = EvalOptions {
            evaluation_interval: argus_rules::duration::PromDuration(
                (config.evaluation_interval_secs.max(1) as i64) * 1000,
            ),
            external_url: external_url.to_string(),
            ..EvalOptions::default()
        };
        Ok((Manager::new(store, query, opts), notifier))
    }

    pub fn new(
        manager: Manager,
        notifier: Notifier,
        alertmanagers: &[String],
        history: AlertHistory,
        rule_files: Vec<String>,
        api_rules: crate::store::api_rules::ApiRules,
        lease: Option<(crate::store::leases::Leases, String)>,
    ) -> Result<Alerting, String> {
        let alertmanagers = if alertmanagers.is_empty() {
            None
        } else {
            Some(Alertmanagers::new(alertmanagers)?)
        };
        let groups = manager.groups().count();
        Ok(Alerting {
            rules: Arc::new(Mutex::new(manager)),
            notifier: Arc::new(notifier),
            alertmanagers,
            history,
            last: Mutex::new(HashMap::new()),
            rule_files,
            last_reload: Mutex::new(ReloadStatus {
                ok: true,
                at_ms: argus_core::now_ms(),
                errors: Vec::new(),
                groups,
            }),
            api_rules,
            leader: std::sync::atomic::AtomicBool::new(lease.is_none()),
            lease,
        })
    }

    fn is_leader(&self) -> bool {
        self.leader.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Takes or renews the lease every [`LEASE_RENEW`] until `stop`; on gaining it, loads
    /// the rules (their `for` clocks restored from `ALERTS_FOR_STATE`, as after a
    /// restart) and the notifier's state; on losing it, stops evaluating and sending.
    async fn hold_lease(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let Some((leases, holder)) = &self.lease else {
            return;
        };
        loop {
            let got = match leases
                .acquire(LEASE, holder, argus_core::now_ms(), LEASE_TTL_MS)
                .await
            {
                Ok(g) => g,
                Err(e) => {
                    tracing::warn!(error = %e, "alerting lease not renewed; standing by");
                    false
                }
            };
            if got != self.is_leader() {
                self.leader.store(got, std::sync::atomic::Ordering::Relaxed);
                self.notifier
                    .active
                    .store(got, std::sync::atomic::Ordering::Relaxed);
                if got {
                    tracing::info!(holder = %holder, "this server now evaluates rules and sends notifications");
                    if let Err(e) = self.notifier.reload_state().await {
                        tracing::error!(error = %e, "notifier state not reloaded");
                    }
                } else {
                    tracing::warn!(holder = %holder, "alerting lease lost: standing by");
                }
                self.reload().await;
            }
            tokio::select! {
                _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                    if self.is_leader() {
                        let _ = leases.release(LEASE, holder).await;
                    }
                    return;
                }
                _ = tokio::time::sleep(LEASE_RENEW) => {}
            }
        }
    }

    /// Reads the rule files and the enabled API rules again and replaces the running
    /// groups; when any file does not load, the running rules stay and every problem is
    /// returned (file, line, reason).
    pub async fn reload(&self) -> ReloadStatus {
        let mut errors = Vec::new();
        let mut groups =
            match argus_rules::file::load_rule_files(&self.rule_files, std::path::Path::new(".")) {
                Ok(g) => g,
                Err(es) => {
                    errors.extend(es.iter().map(|e| e.to_string()));
                    Vec::new()
                }
            };
        match self.api_rules.list().await {
            Ok(list) => {
                for r in list.into_iter().filter(|r| r.enabled) {
                    // Checked when stored; one that no longer compiles (a newer check) is
                    // reported and left out rather than holding back the others.
                    let compiled = serde_json::from_value::<api_rules::RuleInput>(r.spec)
                        .map_err(|e| e.to_string())
                        .and_then(|i| i.compile(&r.id).map_err(|e| e.to_string()));
                    match compiled {
                        Ok(g) => groups.push(g),
                        Err(e) => tracing::error!(rule = %r.id, error = %e, "API rule left out"),
                    }
                }
            }
            Err(e) => errors.push(format!("API rules: {e}")),
        }
        // A server standing by checks the rules but evaluates none.
        if errors.is_empty() && !self.is_leader() {
            groups.clear();
        }
        let mut m = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        let result = if errors.is_empty() {
            m.reload(groups, now_ns()).map(|_| ())
        } else {
            Err(errors)
        };
        let status = ReloadStatus {
            ok: result.is_ok(),
            at_ms: argus_core::now_ms(),
            errors: result.err().unwrap_or_default(),
            groups: m.groups().count(),
        };
        drop(m);
        if status.ok {
            tracing::info!(groups = status.groups, "rules reloaded");
        } else {
            for e in &status.errors {
                tracing::error!(error = %e, "rules not reloaded; the running rules stay");
            }
        }
        *self.last_reload.lock().unwrap_or_else(|e| e.into_inner()) = status.clone();
        status
    }

    /// How the last reload went.
    pub fn last_reload(&self) -> ReloadStatus {
        self.last_reload
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// What the rule files are now: each matching file's path, size and time of change.
    fn rule_files_stamp(&self) -> Vec<(String, u64, Option<std::time::SystemTime>)> {
        let mut out = Vec::new();
        for pat in &self.rule_files {
            for p in glob::glob(pat).into_iter().flatten().flatten() {
                let meta = std::fs::metadata(&p).ok();
                out.push((
                    p.display().to_string(),
                    meta.as_ref().map_or(0, |m| m.len()),
                    meta.and_then(|m| m.modified().ok()),
                ));
            }
        }
        out.sort();
        out
    }

    /// Reloads the rule files on SIGHUP and when they change (checked every 2 s: a file
    /// edited, added to a glob or removed), until `stop`.
    pub fn watch(
        self: &Arc<Self>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut hup =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            let mut seen = me.rule_files_stamp();
            loop {
                let hangup = async {
                    match hup.as_mut() {
                        Some(h) => {
                            h.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    _ = async { let _ = stop.wait_for(|s| *s).await; } => return,
                    _ = hangup => {
                        me.reload().await;
                        seen = me.rule_files_stamp();
                    }
                    _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {
                        let now = me.rule_files_stamp();
                        if now != seen {
                            seen = now;
                            me.reload().await;
                        }
                    }
                }
            }
        })
    }

    /// The pending and firing alerts of the rules now.
    pub fn active(&self) -> Vec<Active> {
        let m = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for g in m.groups() {
            for (rule, a) in g.alerts() {
                let state = a.state.as_str();
                if state == "inactive" {
                    continue;
                }
                out.push(Active {
                    rule: rule.to_string(),
                    group: g.name().to_string(),
                    file: g.file().to_string(),
                    state,
                    labels: a
                        .labels
                        .iter()
                        .map(|l| (l.name.clone(), l.value.clone()))
                        .collect(),
                    annotations: a.annotations.clone(),
                    value: a.value,
                    active_at_ms: a.active_at_ns / 1_000_000,
                    fired_at_ms: a.fired_at_ns.map(|n| n / 1_000_000),
                });
            }
        }
        out
    }

    /// Compares the alerts now with those after the last evaluation and records each
    /// change: a new alert pending (or firing at once), pending to firing, and an alert
    /// gone (`resolved` if it fired, `inactive` if it never did).
    pub async fn record_transitions(&self) {
        let now_ms = argus_core::now_ms();
        let current: HashMap<u64, Active> = self
            .active()
            .into_iter()
            .map(|a| (argus_notify::labels::fingerprint(&a.labels), a))
            .collect();
        let changes: Vec<Transition> = {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            let mut changes = Vec::new();
            let t = |fp: u64, a: &Active, state: &str, ts_ms: i64| Transition {
                ts_ms,
                fingerprint: argus_notify::labels::fingerprint_hex(fp),
                rule: a.rule.clone(),
                group: a.group.clone(),
                state: state.to_string(),
                labels: a.labels.clone(),
                annotations: a.annotations.clone(),
                value: a.value,
            };
            for (fp, a) in &current {
                match last.get(fp).map(|p| p.state) {
                    None if a.state == "firing" => {
                        changes.push(t(*fp, a, "firing", a.fired_at_ms.unwrap_or(now_ms)))
                    }
                    None => changes.push(t(*fp, a, "pending", a.active_at_ms)),
                    Some("pending") if a.state == "firing" => {
                        changes.push(t(*fp, a, "firing", a.fired_at_ms.unwrap_or(now_ms)))
                    }
                    _ => {}
                }
            }
            for (fp, a) in last.iter() {
                if !current.contains_key(fp) {
                    let state = if a.state == "firing" {
                        "resolved"
                    } else {
                        "inactive"
                    };
                    changes.push(t(*fp, a, state, now_ms));
                }
            }
            *last = current;
            changes
        };
        if !changes.is_empty()
            && let Err(e) = self.history.record(&changes).await
        {
            tracing::error!(error = %e, "cannot record alert history");
        }
    }

    /// Alerts of one evaluation, to the notifier and the external Alertmanagers.
    pub async fn route(&self, alerts: Vec<NotifyAlert>) {
        let r = self
            .notifier
            .put_alerts(alerts.iter().map(postable).collect());
        for e in r.errors {
            tracing::warn!(error = %e, "an alert of the rules was refused by the notifier");
        }
        if let Some(ams) = &self.alertmanagers {
            let list: Vec<alertmanagers::Alert> = alerts.iter().map(for_alertmanager).collect();
            if let Err(e) = ams.send(&list).await {
                tracing::warn!(error = %e, "alerts not sent to the Alertmanagers");
            }
        }
    }

    /// Runs the rule evaluation, the routing of its alerts and the notifier until `stop`.
    pub fn start(
        self: &Arc<Self>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<NotifyAlert>>(64);
        let rules = tokio::spawn(argus_rules::manager::run(
            self.rules.clone(),
            Arc::new(SystemClock),
            tx,
            stop.clone(),
        ));
        let watcher = self.watch(stop.clone());
        let lease = tokio::spawn(self.clone().hold_lease(stop.clone()));
        let notifier = tokio::spawn(self.notifier.clone().run(stop));
        let me = self.clone();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                // The evaluations of one scheduler pass arrive together, after the pass:
                // the state they left is what record_transitions compares with the last,
                // so it runs once for all that are waiting, not once per group (each run
                // copies every active alert: 100 groups × 11 000 alerts a round cost more
                // than evaluating the rules).
                let mut batch = vec![first];
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                me.record_transitions().await;
                for alerts in batch {
                    if !alerts.is_empty() {
                        me.route(alerts).await;
                    }
                }
            }
            let _ = rules.await;
            let _ = notifier.await;
            let _ = watcher.await;
            let _ = lease.await;
        })
    }
}

fn now_ns() -> i64 {
    argus_core::now_ms().saturating_mul(1_000_000)
}
