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
pub mod event_rules;
pub mod notifier;
pub mod sender;

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
    /// Whether this server runs the handlers: it matches events against the event
    /// rules, and evaluates the other rules when it leads.
    evaluates: bool,
    /// The event rules, matched where events are applied.
    pub event_rules: Arc<event_rules::EventRules>,
}

/// What [`Alerting::new`] is made of.
pub struct Parts {
    pub manager: Manager,
    pub notifier: Notifier,
    /// `[alerting] alertmanagers`.
    pub alertmanagers: Vec<String>,
    pub history: AlertHistory,
    /// `[alerting] rule_files` (none where rules are not evaluated).
    pub rule_files: Vec<String>,
    pub api_rules: crate::store::api_rules::ApiRules,
    /// With a shared database: the lease and this server's name as its holder.
    pub lease: Option<(crate::store::leases::Leases, String)>,
    /// Whether this server runs the handlers (and so may evaluate).
    pub evaluates: bool,
    pub external_url: String,
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

/// Splits posted alerts into those the notifier takes and why the others are refused,
/// as it will judge them; a missing `startsAt` becomes `now`, the time they were posted,
/// so that the wait in the queue does not move it.
pub fn check_posted(
    alerts: Vec<PostableAlert>,
    now: jiff::Timestamp,
) -> (Vec<PostableAlert>, Vec<argus_notify::alert::AlertError>) {
    let mut valid = Vec::with_capacity(alerts.len());
    let mut errors = Vec::new();
    for (i, mut a) in alerts.into_iter().enumerate() {
        if a.starts_at.is_none() && a.ends_at.is_none() {
            a.starts_at = Some(now);
        }
        match a
            .clone()
            .into_alert(i, now, jiff::SignedDuration::from_mins(5))
        {
            Ok(_) => valid.push(a),
            Err(e) => errors.push(e),
        }
    }
    (valid, errors)
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
            evaluation_interval: argus_template::duration::PromDuration(
                (config.evaluation_interval_secs.max(1) as i64) * 1000,
            ),
            external_url: external_url.to_string(),
            external_labels: argus_core::Labels::from_pairs(
                config
                    .external_labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            ),
            ..EvalOptions::default()
        };
        for k in config.external_labels.keys() {
            if !argus_notify::labels::is_valid_label_name(k) {
                return Err(AlertingError(vec![format!(
                    "key alerting.external_labels.{k}: {k:?} is not a label name"
                )]));
            }
        }
        Ok((Manager::new(store, query, opts), notifier))
    }

    pub fn new(parts: Parts) -> Result<Alerting, String> {
        let Parts {
            manager,
            notifier,
            alertmanagers,
            history,
            rule_files,
            api_rules,
            lease,
            evaluates,
            external_url,
        } = parts;
        let alertmanagers = if alertmanagers.is_empty() {
            None
        } else {
            Some(Alertmanagers::new(&alertmanagers)?)
        };
        let groups = manager.groups().count();
        // Without a lease, a server that evaluates (runs the handlers) leads alone; with
        // one, it leads once it holds it. An ingest-only server never evaluates or sends.
        let leader = evaluates && lease.is_none();
        notifier
            .active
            .store(leader, std::sync::atomic::Ordering::Relaxed);
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
            leader: std::sync::atomic::AtomicBool::new(leader),
            evaluates,
            event_rules: Arc::new(event_rules::EventRules::new(&external_url)),
            lease,
        })
    }

    /// The URL alerts link back to.
    pub fn external_url(&self) -> String {
        self.event_rules.external_url().to_string()
    }

    /// Whether this server evaluates and sends now.
    pub fn is_leader(&self) -> bool {
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
        let mut events = Vec::new();
        match self.api_rules.list().await {
            Ok(list) => {
                for r in list.into_iter().filter(|r| r.enabled) {
                    // Checked when stored; one that no longer compiles (a newer check) is
                    // reported and left out rather than holding back the others.
                    let input = match serde_json::from_value::<api_rules::RuleInput>(r.spec) {
                        Ok(i) => i,
                        Err(e) => {
                            tracing::error!(rule = %r.id, error = %e, "API rule left out");
                            continue;
                        }
                    };
                    let compiled = match &input.event {
                        Some(m) => event_rules::EventRule::compile(&r.id, &input, m)
                            .map(|e| events.push(e)),
                        None => input.compile(&r.id).map(|g| groups.push(g)),
                    };
                    if let Err(e) = compiled {
                        tracing::error!(rule = %r.id, error = %e, "API rule left out");
                    }
                }
            }
            Err(e) => errors.push(format!("API rules: {e}")),
        }
        // Every handlers process matches events (each takes its share of them).
        if errors.is_empty() {
            self.event_rules
                .replace(if self.evaluates { events } else { Vec::new() });
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

    /// What the rule files and the notifier file are now: each one's path, size and
    /// time of change.
    fn rule_files_stamp(&self) -> Vec<(String, u64, Option<std::time::SystemTime>)> {
        let mut out = Vec::new();
        let notifier = self.notifier.file();
        let patterns = self
            .rule_files
            .iter()
            .map(String::as_str)
            .chain((!notifier.is_empty()).then_some(notifier));
        for pat in patterns {
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

    /// Reloads the rules and the notifier file on SIGHUP and when they change, until
    /// `stop`: checked every 2 s, a rule file edited, added to a glob or removed, the
    /// notifier file edited, or an API rule changed (also through another server sharing
    /// the database). A notifier configuration set through the API stays in force over
    /// the file.
    async fn reload_all(&self) {
        self.reload().await;
        if self.notifier.config_source().source != "api"
            && let Err(e) = self.notifier.reload_file()
        {
            tracing::error!(error = %e, "notifier file not reloaded; the running configuration stays");
        }
    }

    /// Runs [`Alerting::reload_all`] on SIGHUP and when a file or API rule changes.
    pub fn watch(
        self: &Arc<Self>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut hup =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            let mut seen = me.rule_files_stamp();
            let mut seen_api = me.api_rules.stamp().await.ok();
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
                        me.reload_all().await;
                        seen = me.rule_files_stamp();
                    }
                    _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {
                        let now = me.rule_files_stamp();
                        let api = me.api_rules.stamp().await.ok();
                        if now != seen {
                            seen = now;
                            seen_api = api;
                            me.reload_all().await;
                        } else if api.is_some() && api != seen_api {
                            seen_api = api;
                            me.reload().await;
                        }
                    }
                }
            }
        })
    }

    /// The rule groups' figures in the text format, named as Prometheus names its own
    /// (`prometheus_rule_group_*`): each group's last duration, last evaluation time,
    /// interval and rule count, and the rules whose last evaluation failed.
    pub fn render_metrics(&self, out: &mut String) {
        use crate::telemetry::{family, sample};
        let m = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        let esc = |s: &str| {
            s.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
        };
        let groups: Vec<(String, &argus_rules::group::Group)> = m
            .groups()
            .map(|g| {
                (
                    format!("{{rule_group=\"{};{}\"}}", esc(g.file()), esc(g.name())),
                    g,
                )
            })
            .collect();
        let each = |out: &mut String,
                    name: &str,
                    kind: &str,
                    help: &str,
                    v: &dyn Fn(&argus_rules::group::Group) -> f64| {
            family(out, name, kind, help);
            for (labels, g) in &groups {
                sample(out, name, labels, v(g));
            }
        };
        each(
            out,
            "argus_rule_group_last_duration_seconds",
            "gauge",
            "How long the group's last evaluation took",
            &|g| g.evaluation_time.as_secs_f64(),
        );
        each(
            out,
            "argus_rule_group_last_evaluation_timestamp_seconds",
            "gauge",
            "When the group's last evaluation started (0: not yet)",
            &|g| g.last_evaluation_ns.map_or(0.0, |n| n as f64 / 1e9),
        );
        each(
            out,
            "argus_rule_group_interval_seconds",
            "gauge",
            "The group's evaluation interval",
            &|g| g.interval_ns as f64 / 1e9,
        );
        each(
            out,
            "argus_rule_group_rules",
            "gauge",
            "The group's rules",
            &|g| g.rules.len() as f64,
        );
        type Counter = fn(&argus_rules::group::GroupCounters) -> u64;
        let counters: [(&str, &str, Counter); 4] = [
            (
                "argus_rule_group_iterations_total",
                "Evaluations of the group",
                |c| c.iterations,
            ),
            (
                "argus_rule_group_iterations_missed_total",
                "Slots of the group skipped because it was late",
                |c| c.iterations_missed,
            ),
            (
                "argus_rule_evaluations_total",
                "Rule evaluations in the group",
                |c| c.rule_evaluations,
            ),
            (
                "argus_rule_evaluation_failures_total",
                "Rule evaluations in the group that failed (the query or the write)",
                |c| c.rule_failures,
            ),
        ];
        for (name, help, v) in counters {
            each(out, name, "counter", help, &|g| v(&g.counters) as f64);
        }
        each(
            out,
            "argus_rule_group_failing_rules",
            "gauge",
            "The group's rules whose last evaluation failed",
            &|g| {
                g.rules
                    .iter()
                    .filter(|r| r.status().health == argus_rules::rule::Health::Err)
                    .count() as f64
            },
        );
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

    /// Alerts of one evaluation, to the notifier and the external Alertmanagers, with
    /// the external labels they lack (as Prometheus adds them when it sends).
    pub async fn route(&self, mut alerts: Vec<NotifyAlert>) {
        let external = {
            let m = self.rules.lock().unwrap_or_else(|e| e.into_inner());
            m.options().external_labels.clone()
        };
        if !external.is_empty() {
            for a in &mut alerts {
                for l in external.iter() {
                    if a.labels.get(&l.name).is_none() {
                        a.labels.set(&l.name, &l.value);
                    }
                }
            }
        }
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

    /// While this server sends notifications, takes the alerts queued for the notifier
    /// (posted to any server, or raised by event rules) into it, acking each batch once
    /// taken; a server standing by holds no consumer, so the one that sends gets all.
    async fn take_queued(
        self: Arc<Self>,
        queue: Arc<dyn argus_queue::Queue>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        use crate::pipeline::{ALERTS, NOTIFIER_GROUP};
        let mut consumer: Option<Box<dyn argus_queue::Consumer>> = None;
        let idle = std::time::Duration::from_secs(1);
        loop {
            if *stop.borrow() {
                return;
            }
            if !self
                .notifier
                .active
                .load(std::sync::atomic::Ordering::Relaxed)
            {
                consumer = None;
                tokio::select! {
                    _ = stop.changed() => {}
                    _ = tokio::time::sleep(idle) => {}
                }
                continue;
            }
            let c = match &consumer {
                Some(c) => c,
                None => match queue.consumer(ALERTS, NOTIFIER_GROUP).await {
                    Ok(c) => consumer.insert(c),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the notifier's queue; retrying");
                        tokio::select! {
                            _ = stop.changed() => {}
                            _ = tokio::time::sleep(idle) => {}
                        }
                        continue;
                    }
                },
            };
            let batch = tokio::select! {
                _ = stop.changed() => continue,
                r = c.next(64, idle) => r,
            };
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the notifier's queue; retrying");
                    consumer = None;
                    continue;
                }
            };
            for d in &batch {
                match serde_json::from_slice::<Vec<PostableAlert>>(&d.payload) {
                    Ok(alerts) => {
                        for e in self.notifier.put_alerts(alerts).errors {
                            tracing::warn!(error = %e, "a queued alert was refused by the notifier");
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, entry = d.id, "unreadable queued alerts dropped")
                    }
                }
            }
            if let Err(e) = c.ack(&batch).await {
                tracing::warn!(error = %e, "queued alerts not acked; they will come again");
                consumer = None;
            }
        }
    }

    /// Runs the rule evaluation, the routing of its alerts, the notifier and the intake of
    /// queued alerts until `stop`.
    pub fn start(
        self: &Arc<Self>,
        queue: Arc<dyn argus_queue::Queue>,
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
        let notifier = tokio::spawn(self.notifier.clone().run(stop.clone()));
        let queued = tokio::spawn(self.clone().take_queued(queue, stop));
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
            let _ = queued.await;
            let _ = watcher.await;
            let _ = lease.await;
        })
    }
}

fn now_ns() -> i64 {
    argus_core::now_ms().saturating_mul(1_000_000)
}
