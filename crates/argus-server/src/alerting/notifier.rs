//! The notifier as the server runs it: [`argus_notify::Engine`] (Alertmanager's routing,
//! grouping, inhibition, silences, maintenance windows and notification log) behind a
//! lock, on the wall clock, with its state kept in the database so that a restart
//! neither forgets a silence nor sends a notification again.
//!
//! Sending is a [`Sender`]'s job (the channels); the loop here only asks the engine what
//! is due, hands each delivery to the sender, and tells the engine how it went.

use crate::store::kv::Kv;
use argus_notify::nflog::Snapshot;
use argus_notify::silence::{PostableSilence, SilenceError, SilenceRecord};
use argus_notify::{
    Config, Delivery, Engine, EngineOptions, MaintenanceWindow, Matcher, PostableAlert, PutResult,
};
use jiff::Timestamp;
use serde::Serialize;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where each delivery goes: the channels.
pub trait Sender: Send + Sync + 'static {
    /// Sends `delivery` through its integration; `Err` with why when it failed.
    fn send<'a>(
        &'a self,
        delivery: &'a Delivery,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

    /// Sends a test notification through every channel of `receiver`: each channel's
    /// outcome, or `None` when there is no such receiver.
    fn test<'a>(
        &'a self,
        receiver: &'a str,
    ) -> Pin<Box<dyn Future<Output = Option<Vec<serde_json::Value>>> + Send + 'a>>;

    /// The receivers and the kinds of their channels.
    fn receivers(&self) -> Vec<(String, Vec<String>)>;
}

/// The configuration used without `[alerting] notifier_file`: every alert is grouped
/// and kept, and nothing is sent.
pub const QUIET_CONFIG: &str = "route:\n  receiver: none\nreceivers:\n  - name: none\n";

/// `GET /api/v2/alerts`'s parameters, as Alertmanager reads them: `filter` matchers
/// (all must match), whether silenced, inhibited and active alerts are included (all
/// three by default), and a `receiver` regex.
#[derive(Debug, Clone)]
pub struct AlertFilter {
    pub matchers: Vec<Matcher>,
    pub silenced: bool,
    pub inhibited: bool,
    pub active: bool,
    pub receiver: Option<regex::Regex>,
}

impl Default for AlertFilter {
    fn default() -> Self {
        AlertFilter {
            matchers: Vec::new(),
            silenced: true,
            inhibited: true,
            active: true,
            receiver: None,
        }
    }
}

/// One delivery's outcome, kept for the API (the last [`KEPT_OUTCOMES`]).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Outcome {
    pub at_ms: i64,
    pub receiver: String,
    pub integration: String,
    pub group_key: String,
    pub alerts: usize,
    pub ok: bool,
    pub error: Option<String>,
    pub duration_ms: u64,
}

pub const KEPT_OUTCOMES: usize = 1000;

const SILENCES: &str = "notifier.silences";
const MAINTENANCE: &str = "notifier.maintenance";
const NFLOG: &str = "notifier.nflog";

/// Why an API change to the notifier was refused.
#[derive(Debug, thiserror::Error)]
pub enum NotifierFault {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Store(String),
}

pub struct Notifier {
    engine: Mutex<Engine>,
    kv: Kv,
    sender: Arc<dyn Sender>,
    outcomes: Mutex<VecDeque<Outcome>>,
    /// Deliveries by (receiver, integration, ok), for `/metrics`.
    counts: Mutex<std::collections::BTreeMap<(String, String, bool), u64>>,
    /// Whether this server sends (in scale-out, only the holder of the alerting lease).
    pub active: std::sync::atomic::AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Notifier {
    /// The notifier for `config`, with the silences, maintenance windows and notification
    /// log the database kept.
    pub async fn open(
        config: Config,
        external_url: &str,
        kv: Kv,
        sender: Arc<dyn Sender>,
    ) -> Result<Notifier, String> {
        let now = Timestamp::now();
        let mut engine = Engine::new(
            config,
            EngineOptions {
                external_url: external_url.to_string(),
            },
            now,
        );
        let err = |e: crate::store::kv::KvError| e.to_string();
        if let Some((records, _)) = kv.get::<Vec<SilenceRecord>>(SILENCES).await.map_err(err)? {
            engine
                .silences
                .restore(records, now)
                .map_err(|e| format!("stored silences: {e}"))?;
        }
        if let Some((windows, _)) = kv
            .get::<Vec<MaintenanceWindow>>(MAINTENANCE)
            .await
            .map_err(err)?
        {
            for w in windows {
                engine
                    .maintenance
                    .set(w)
                    .map_err(|e| format!("stored maintenance window: {e}"))?;
            }
        }
        if let Some((snapshot, _)) = kv.get::<Snapshot>(NFLOG).await.map_err(err)? {
            engine.restore_nflog(snapshot, now);
        }
        Ok(Notifier {
            engine: Mutex::new(engine),
            kv,
            sender,
            outcomes: Mutex::new(VecDeque::new()),
            counts: Mutex::new(std::collections::BTreeMap::new()),
            active: std::sync::atomic::AtomicBool::new(true),
        })
    }

    /// Reads the silences, maintenance windows and notification log the database holds
    /// again (a server taking over from another sees what that one did).
    pub async fn reload_state(&self) -> Result<(), String> {
        let now = Timestamp::now();
        let err = |e: crate::store::kv::KvError| e.to_string();
        let silences = self
            .kv
            .get::<Vec<SilenceRecord>>(SILENCES)
            .await
            .map_err(err)?;
        let windows = self
            .kv
            .get::<Vec<MaintenanceWindow>>(MAINTENANCE)
            .await
            .map_err(err)?;
        let nflog = self.kv.get::<Snapshot>(NFLOG).await.map_err(err)?;
        let mut engine = lock(&self.engine);
        if let Some((records, _)) = silences {
            let mut fresh = argus_notify::Silences::new();
            fresh
                .restore(records, now)
                .map_err(|e| format!("stored silences: {e}"))?;
            engine.silences = fresh;
        }
        if let Some((windows, _)) = windows {
            let mut fresh = argus_notify::Maintenance::new();
            for w in windows {
                fresh
                    .set(w)
                    .map_err(|e| format!("stored maintenance window: {e}"))?;
            }
            engine.maintenance = fresh;
        }
        if let Some((snapshot, _)) = nflog {
            engine.restore_nflog(snapshot, now);
        }
        Ok(())
    }

    /// Takes alerts in (from rules, or posted as to an Alertmanager).
    pub fn put_alerts(&self, alerts: Vec<PostableAlert>) -> PutResult {
        lock(&self.engine).put_alerts(alerts, Timestamp::now())
    }

    /// The alerts held, in the shape of Alertmanager's `GET /api/v2/alerts`, filtered
    /// as its parameters say.
    pub fn alerts_v2(&self, f: &AlertFilter) -> serde_json::Value {
        let now = Timestamp::now();
        let engine = lock(&self.engine);
        let fmt = argus_notify::gojson::rfc3339_millis;
        let list: Vec<serde_json::Value> = engine
            .alerts()
            .filter(|a| !a.resolved_at(now))
            .filter(|a| f.matchers.iter().all(|m| m.matches_labels(&a.labels)))
            .filter(|a| {
                let mute = engine.mute_status(a, now);
                let silenced = !mute.silenced_by.is_empty();
                let inhibited = !mute.inhibited_by.is_empty();
                let active = !mute.is_muted();
                (f.silenced || !silenced) && (f.inhibited || !inhibited) && (f.active || !active)
            })
            .filter(|a| {
                f.receiver.as_ref().is_none_or(|re| {
                    engine
                        .dispatcher()
                        .route()
                        .match_alert(&a.labels)
                        .iter()
                        .any(|r| re.is_match(&r.opts.receiver))
                })
            })
            .map(|a| {
                let mute = engine.mute_status(a, now);
                let receivers: Vec<serde_json::Value> = engine
                    .dispatcher()
                    .route()
                    .match_alert(&a.labels)
                    .iter()
                    .map(|r| serde_json::json!({ "name": r.opts.receiver }))
                    .collect();
                serde_json::json!({
                    "annotations": a.annotations,
                    "endsAt": a.ends_at.map(fmt),
                    "fingerprint": argus_notify::labels::fingerprint_hex(a.fingerprint()),
                    "receivers": receivers,
                    "startsAt": fmt(a.starts_at),
                    "status": {
                        "inhibitedBy": mute.inhibited_by,
                        "silencedBy": mute.silenced_by,
                        "maintenance": mute.maintenance,
                        "state": if mute.is_muted() { "suppressed" } else { "active" },
                    },
                    "updatedAt": fmt(a.updated_at),
                    "generatorURL": a.generator_url,
                    "labels": a.labels,
                })
            })
            .collect();
        serde_json::Value::Array(list)
    }

    /// Silences matching every filter matcher, in Alertmanager's order.
    pub fn silences(&self, filter: &[Matcher]) -> serde_json::Value {
        let engine = lock(&self.engine);
        serde_json::to_value(engine.silences.list(filter, Timestamp::now())).unwrap_or_default()
    }

    /// One silence, in API form.
    pub fn silence(&self, id: &str) -> Option<serde_json::Value> {
        let engine = lock(&self.engine);
        engine
            .silences
            .get(id)
            .map(|s| serde_json::to_value(s.to_api(Timestamp::now())).unwrap_or_default())
    }

    /// Creates or updates a silence; its id.
    pub async fn set_silence(&self, post: PostableSilence) -> Result<String, NotifierFault> {
        let id = {
            let mut engine = lock(&self.engine);
            engine
                .silences
                .set(post, Timestamp::now())
                .map_err(silence_fault)?
        };
        self.save_silences().await?;
        Ok(id)
    }

    /// Expires a silence now.
    pub async fn expire_silence(&self, id: &str) -> Result<(), NotifierFault> {
        {
            let mut engine = lock(&self.engine);
            engine
                .silences
                .expire(id, Timestamp::now())
                .map_err(silence_fault)?;
        }
        self.save_silences().await
    }

    async fn save_silences(&self) -> Result<(), NotifierFault> {
        let records = lock(&self.engine).silences.snapshot(Timestamp::now());
        self.kv
            .put(SILENCES, &records)
            .await
            .map_err(|e| NotifierFault::Store(e.to_string()))
    }

    /// The notifier file as loaded (Alertmanager's `config.original` in `/api/v2/status`).
    pub fn config_text(&self) -> String {
        lock(&self.engine).config().original.clone()
    }

    /// One maintenance window, with whether it is open now.
    pub fn maintenance_window(&self, id: &str) -> Option<serde_json::Value> {
        let engine = lock(&self.engine);
        engine.maintenance.get(id).map(|w| {
            let mut v = serde_json::to_value(&w.window).unwrap_or_default();
            v["open"] = w.is_open(Timestamp::now()).into();
            v
        })
    }

    /// Every maintenance window, with whether it is open now.
    pub fn maintenance(&self) -> serde_json::Value {
        let now = Timestamp::now();
        let engine = lock(&self.engine);
        let list: Vec<serde_json::Value> = engine
            .maintenance
            .list()
            .map(|w| {
                let mut v = serde_json::to_value(&w.window).unwrap_or_default();
                v["open"] = w.is_open(now).into();
                v
            })
            .collect();
        serde_json::Value::Array(list)
    }

    /// Adds or replaces a maintenance window (a new id when it has none); its id.
    pub async fn set_maintenance(
        &self,
        mut window: MaintenanceWindow,
    ) -> Result<String, NotifierFault> {
        if window.id.is_empty() {
            window.id = argus_notify::silence::new_uuid();
        }
        let id = window.id.clone();
        lock(&self.engine)
            .maintenance
            .set(window)
            .map_err(|e| NotifierFault::Invalid(e.to_string()))?;
        self.save_maintenance().await?;
        Ok(id)
    }

    /// Removes a maintenance window.
    pub async fn remove_maintenance(&self, id: &str) -> Result<(), NotifierFault> {
        if !lock(&self.engine).maintenance.remove(id) {
            return Err(NotifierFault::NotFound(format!(
                "no maintenance window {id:?}"
            )));
        }
        self.save_maintenance().await
    }

    async fn save_maintenance(&self) -> Result<(), NotifierFault> {
        let windows: Vec<MaintenanceWindow> = lock(&self.engine)
            .maintenance
            .list()
            .map(|w| w.window.clone())
            .collect();
        self.kv
            .put(MAINTENANCE, &windows)
            .await
            .map_err(|e| NotifierFault::Store(e.to_string()))
    }

    /// Sends a test notification through each channel of `receiver`.
    pub async fn test_receiver(&self, receiver: &str) -> Option<Vec<serde_json::Value>> {
        self.sender.test(receiver).await
    }

    /// The receivers and their channel kinds.
    pub fn receivers(&self) -> Vec<(String, Vec<String>)> {
        self.sender.receivers()
    }

    /// `argus_notifications_total` and `argus_alerts_held` in the text format.
    pub fn render_metrics(&self, out: &mut String) {
        use crate::telemetry::{family, sample};
        family(
            out,
            "argus_notifications_total",
            "counter",
            "Notifications delivered (outcome ok) or failed after their retries, by receiver and integration",
        );
        for ((receiver, integration, ok), n) in lock(&self.counts).iter() {
            let labels = format!(
                "{{receiver=\"{}\",integration=\"{integration}\",outcome=\"{}\"}}",
                receiver.replace('\\', "\\\\").replace('"', "\\\""),
                if *ok { "ok" } else { "failed" }
            );
            sample(out, "argus_notifications_total", &labels, n);
        }
        let now = Timestamp::now();
        let held = lock(&self.engine)
            .alerts()
            .filter(|a| !a.resolved_at(now))
            .count();
        family(
            out,
            "argus_alerts_held",
            "gauge",
            "Unresolved alerts the notifier holds",
        );
        sample(out, "argus_alerts_held", "", held);
    }

    /// The last deliveries, newest first.
    pub fn outcomes(&self) -> Vec<Outcome> {
        lock(&self.outcomes).iter().rev().cloned().collect()
    }

    /// Hands what is due to the sender, each delivery in a task of its own, so a slow or
    /// unreachable receiver (retrying for up to a minute) holds back no other; each tells
    /// the engine how it went when it ends. Returns how many were started.
    pub fn tick(self: &Arc<Self>) -> usize {
        let due = lock(&self.engine).tick(Timestamp::now());
        let n = due.len();
        for d in due {
            let me = self.clone();
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                let r = me.sender.send(&d).await;
                me.finish(&d, r, started.elapsed()).await;
            });
        }
        n
    }

    /// Records one delivery's outcome: in the engine (its notification log), the kept
    /// outcomes, the counts, and the database.
    async fn finish(&self, d: &Delivery, r: Result<(), String>, took: Duration) {
        {
            let mut engine = lock(&self.engine);
            engine.delivered(d, r.is_ok(), Timestamp::now());
        }
        if let Err(e) = &r {
            tracing::warn!(receiver = %d.integration.receiver, integration = %d.integration.integration, error = %e, "notification failed");
        }
        *lock(&self.counts)
            .entry((
                d.integration.receiver.clone(),
                d.integration.integration.clone(),
                r.is_ok(),
            ))
            .or_insert(0) += 1;
        {
            let mut outcomes = lock(&self.outcomes);
            outcomes.push_back(Outcome {
                at_ms: argus_core::now_ms(),
                receiver: d.integration.receiver.clone(),
                integration: d.integration.integration.clone(),
                group_key: d.group_key.clone(),
                alerts: d.notification.alerts.len(),
                ok: r.is_ok(),
                error: r.err(),
                duration_ms: took.as_millis() as u64,
            });
            while outcomes.len() > KEPT_OUTCOMES {
                outcomes.pop_front();
            }
        }
        let snapshot = lock(&self.engine).nflog_snapshot();
        if let Err(e) = self.kv.put(NFLOG, &snapshot).await {
            tracing::error!(error = %e, "cannot save the notification log");
        }
    }

    /// Ticks until `stop`: at least once a second, sooner when the engine says so.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if self.active.load(std::sync::atomic::Ordering::Relaxed) {
                self.tick();
            }
            let due = lock(&self.engine).next_due();
            let wait = due
                .duration_since(Timestamp::now())
                .as_millis()
                .clamp(10, 1000) as u64;
            tokio::select! {
                _ = async { let _ = stop.wait_for(|s| *s).await; } => return,
                _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            }
        }
    }
}

fn silence_fault(e: SilenceError) -> NotifierFault {
    match e {
        SilenceError::NotFound(_) => NotifierFault::NotFound(e.to_string()),
        other => NotifierFault::Invalid(other.to_string()),
    }
}

/// The notifier's configuration: `path`'s Alertmanager file, or the quiet one.
pub fn load_config(path: &str) -> Result<Config, String> {
    if path.is_empty() {
        return Config::load(QUIET_CONFIG, "built-in").map_err(|e| e.to_string());
    }
    Config::load_file(path).map_err(|e| e.to_string())
}
