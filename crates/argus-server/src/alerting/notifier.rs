//! The notifier as the server runs it: [`argus_notify::Engine`] (Alertmanager's routing,
//! grouping, inhibition, silences, maintenance windows and notification log) behind a
//! lock, on the wall clock, with its state kept in the database so that a restart
//! neither forgets a silence nor sends a notification again.
//!
//! Sending is a [`Sender`]'s job (the channels); the loop here only asks the engine what
//! is due, hands each delivery to the sender, and tells the engine how it went.

pub use super::sender::Sender;
use crate::store::kv::Kv;
use argus_notify::nflog::Snapshot;
use argus_notify::silence::{PostableSilence, SilenceError, SilenceRecord};
use argus_notify::{
    Config, Delivery, Engine, EngineOptions, MaintenanceWindow, Matcher, PostableAlert, PutResult,
};
use jiff::Timestamp;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// How often a server looks for silences and maintenance windows another server sharing
/// its database changed: the most a change made through one server takes to apply on the
/// one that sends.
pub const SYNC_EVERY: Duration = Duration::from_secs(2);

const SILENCES: &str = "notifier.silences";
/// The configuration set through the API ([`ConfigDoc`]).
const CONFIG: &str = "notifier.config";
/// The name errors give a configuration set through the API.
const API_CONFIG_NAME: &str = "notifier configuration";

/// The configuration set through the API, as kept; `text: None` after it was removed
/// (the file is in force again).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct ConfigDoc {
    text: Option<String>,
    updated_by: String,
}

/// Where the notifier's configuration in force came from: `api` (set through
/// `PUT /api/argus/notifier/config`), `file` (`[alerting] notifier_file`) or `built-in`
/// (no file: nothing is sent).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigSource {
    pub source: String,
    pub file: String,
    /// When it was set through the API, and by whom (0 and "" otherwise).
    pub updated_ms: i64,
    pub updated_by: String,
}

impl ConfigSource {
    fn of_file(file: &str) -> ConfigSource {
        ConfigSource {
            source: if file.is_empty() { "built-in" } else { "file" }.into(),
            file: file.to_string(),
            updated_ms: 0,
            updated_by: String::new(),
        }
    }
}

/// A configuration with the channels built from its receivers.
fn with_channels(config: Config) -> (Config, Arc<dyn Sender>) {
    let sender: Arc<dyn Sender> = Arc::new(super::channels::ChannelSender::new(&config));
    (config, sender)
}
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
    Conflict(String),
    #[error("{0}")]
    Store(String),
}

pub struct Notifier {
    engine: Mutex<Engine>,
    kv: Kv,
    sender: std::sync::RwLock<Arc<dyn Sender>>,
    /// Where the configuration in force came from.
    source: Mutex<ConfigSource>,
    /// `[alerting] notifier_file` ("" for none): what the configuration returns to when
    /// the one set through the API is removed.
    file: String,
    outcomes: Mutex<VecDeque<Outcome>>,
    /// Deliveries by (receiver, integration, ok), for `/metrics`.
    counts: Mutex<std::collections::BTreeMap<(String, String, bool), u64>>,
    /// Whether this server sends (in scale-out, only the holder of the alerting lease).
    pub active: std::sync::atomic::AtomicBool,
    /// The version of each shared document (silences, maintenance, configuration) held
    /// here.
    seen: Mutex<std::collections::HashMap<&'static str, i64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Notifier {
    /// The notifier for `config`, with the silences, maintenance windows and notification
    /// log the database kept.
    pub async fn open(
        config: Config,
        file: &str,
        external_url: &str,
        kv: Kv,
        sender: Arc<dyn Sender>,
    ) -> Result<Notifier, String> {
        let engine = Engine::new(
            config,
            EngineOptions {
                external_url: external_url.to_string(),
            },
            Timestamp::now(),
        );
        let notifier = Notifier {
            engine: Mutex::new(engine),
            kv,
            sender: std::sync::RwLock::new(sender),
            source: Mutex::new(ConfigSource::of_file(file)),
            file: file.to_string(),
            outcomes: Mutex::new(VecDeque::new()),
            counts: Mutex::new(std::collections::BTreeMap::new()),
            active: std::sync::atomic::AtomicBool::new(true),
            seen: Mutex::new(std::collections::HashMap::new()),
        };
        notifier.reload_state().await?;
        Ok(notifier)
    }

    /// Reads the silences, maintenance windows and notification log the database holds
    /// again (a server taking over from another sees what that one did).
    pub async fn reload_state(&self) -> Result<(), String> {
        let now = Timestamp::now();
        let err = |e: crate::store::kv::KvError| e.to_string();
        let mut seen = std::collections::HashMap::new();
        for name in [SILENCES, MAINTENANCE] {
            seen.insert(name, self.kv.version(name).await.map_err(err)?);
        }
        self.sync_config().await?;
        let silences = match self
            .kv
            .get::<Vec<SilenceRecord>>(SILENCES)
            .await
            .map_err(err)?
        {
            Some((records, _)) => Some(restored_silences(records, now)?),
            None => None,
        };
        let windows = match self
            .kv
            .get::<Vec<MaintenanceWindow>>(MAINTENANCE)
            .await
            .map_err(err)?
        {
            Some((windows, _)) => Some(restored_maintenance(windows)?),
            None => None,
        };
        let nflog = self.kv.get::<Snapshot>(NFLOG).await.map_err(err)?;
        let mut engine = lock(&self.engine);
        if let Some(s) = silences {
            engine.silences = s;
        }
        if let Some(m) = windows {
            engine.maintenance = m;
        }
        if let Some((snapshot, _)) = nflog {
            engine.restore_nflog(snapshot, now);
        }
        drop(engine);
        *lock(&self.seen) = seen;
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

    /// Creates or updates a silence; its id. The change is made to the silences the
    /// database holds (another server may have changed them), then taken in here.
    pub async fn set_silence(&self, post: PostableSilence) -> Result<String, NotifierFault> {
        self.change_silences(|s, now| s.set(post.clone(), now))
            .await
    }

    /// Expires a silence now.
    pub async fn expire_silence(&self, id: &str) -> Result<(), NotifierFault> {
        self.change_silences(|s, now| s.expire(id, now)).await
    }

    async fn change_silences<R>(
        &self,
        change: impl Fn(&mut argus_notify::Silences, Timestamp) -> Result<R, SilenceError>,
    ) -> Result<R, NotifierFault> {
        let now = Timestamp::now();
        let (r, version) = self
            .kv
            .update::<Vec<SilenceRecord>, _, NotifierFault>(SILENCES, |stored| {
                let mut s = restored_silences(stored.unwrap_or_default(), now)
                    .map_err(NotifierFault::Store)?;
                let r = change(&mut s, now).map_err(silence_fault)?;
                let snapshot = s.snapshot(now);
                Ok((snapshot, (r, s)))
            })
            .await
            .map_err(|e| NotifierFault::Store(e.to_string()))??;
        let (r, silences) = r;
        lock(&self.engine).silences = silences;
        lock(&self.seen).insert(SILENCES, version);
        Ok(r)
    }

    /// The configuration in force as its text was given (file or API).
    pub fn config_text(&self) -> String {
        lock(&self.engine).config().original.clone()
    }

    /// The configuration in force with its secrets shown as `<secret>`, as
    /// Alertmanager's `/api/v2/status` shows them (viewers read it).
    pub fn config_text_masked(&self) -> String {
        masked(&self.config_text())
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

    /// Adds a maintenance window (a new id when it has none), or with `replace` replaces
    /// the one with its id; its id. A new window whose id exists is a conflict, a
    /// replaced one that does not exist is not found. Made to the windows the database
    /// holds, then taken in here.
    pub async fn set_maintenance(
        &self,
        mut window: MaintenanceWindow,
        replace: bool,
    ) -> Result<String, NotifierFault> {
        if window.id.is_empty() {
            window.id = argus_notify::silence::new_uuid();
        }
        let id = window.id.clone();
        self.change_maintenance(|m| {
            match (replace, m.get(&id).is_some()) {
                (false, true) => {
                    return Err(NotifierFault::Conflict(format!(
                        "field \"id\": a maintenance window {id:?} exists (PUT /api/argus/maintenance/{{id}} replaces it)"
                    )));
                }
                (true, false) => return Err(not_found(&id)),
                _ => {}
            }
            m.set(window.clone())
                .map_err(|e| NotifierFault::Invalid(e.to_string()))
        })
        .await?;
        Ok(id)
    }

    /// Removes a maintenance window.
    pub async fn remove_maintenance(&self, id: &str) -> Result<(), NotifierFault> {
        self.change_maintenance(|m| {
            if m.remove(id) {
                Ok(())
            } else {
                Err(not_found(id))
            }
        })
        .await
    }

    async fn change_maintenance(
        &self,
        change: impl Fn(&mut argus_notify::Maintenance) -> Result<(), NotifierFault>,
    ) -> Result<(), NotifierFault> {
        let ((), version) = self
            .kv
            .update::<Vec<MaintenanceWindow>, _, NotifierFault>(MAINTENANCE, |stored| {
                let mut m = restored_maintenance(stored.unwrap_or_default())
                    .map_err(NotifierFault::Store)?;
                change(&mut m)?;
                let windows: Vec<MaintenanceWindow> = m.list().map(|w| w.window.clone()).collect();
                Ok((windows, ()))
            })
            .await
            .map_err(|e| NotifierFault::Store(e.to_string()))??;
        // The windows as written, compiled again (cheap: a few).
        let stored = self
            .kv
            .get::<Vec<MaintenanceWindow>>(MAINTENANCE)
            .await
            .map_err(|e| NotifierFault::Store(e.to_string()))?;
        if let Some((windows, _)) = stored {
            let m = restored_maintenance(windows).map_err(NotifierFault::Store)?;
            lock(&self.engine).maintenance = m;
        }
        lock(&self.seen).insert(MAINTENANCE, version);
        Ok(())
    }

    /// Takes in the silences, maintenance windows and configuration another server
    /// sharing the database changed since this one last saw them. Returns whether
    /// anything changed.
    pub async fn sync(&self) -> Result<bool, String> {
        let now = Timestamp::now();
        let err = |e: crate::store::kv::KvError| e.to_string();
        let mut changed = self.sync_config().await?;
        for name in [SILENCES, MAINTENANCE] {
            let version = self.kv.version(name).await.map_err(err)?;
            if lock(&self.seen).get(name).copied().unwrap_or(0) == version {
                continue;
            }
            if name == SILENCES {
                if let Some((records, _)) =
                    self.kv.get::<Vec<SilenceRecord>>(name).await.map_err(err)?
                {
                    lock(&self.engine).silences = restored_silences(records, now)?;
                }
            } else if let Some((windows, _)) = self
                .kv
                .get::<Vec<MaintenanceWindow>>(name)
                .await
                .map_err(err)?
            {
                lock(&self.engine).maintenance = restored_maintenance(windows)?;
            }
            // A write between the read of the version and of the document is read
            // again next time: harmless.
            lock(&self.seen).insert(name, version);
            changed = true;
        }
        Ok(changed)
    }

    fn sender(&self) -> Arc<dyn Sender> {
        self.sender
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts `config` in force with its channels, as Alertmanager's reload does (alerts,
    /// silences and the notification log stay).
    fn apply(&self, config: Config, sender: Arc<dyn Sender>, source: ConfigSource) {
        lock(&self.engine).apply_config(config, Timestamp::now());
        *self.sender.write().unwrap_or_else(|e| e.into_inner()) = sender;
        tracing::info!(source = %source.source, "notifier configuration in force");
        *lock(&self.source) = source;
    }

    /// Where the configuration in force came from.
    pub fn config_source(&self) -> ConfigSource {
        lock(&self.source).clone()
    }

    /// `[alerting] notifier_file`.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Puts the configuration document in force if it changed since last seen: the
    /// text set through the API, or the file again when that was removed. Whether it
    /// changed.
    async fn sync_config(&self) -> Result<bool, String> {
        let err = |e: crate::store::kv::KvError| e.to_string();
        let version = self.kv.version(CONFIG).await.map_err(err)?;
        if lock(&self.seen).get(CONFIG).copied().unwrap_or(0) == version {
            return Ok(false);
        }
        let doc = self.kv.get::<ConfigDoc>(CONFIG).await.map_err(err)?;
        match doc {
            Some((
                ConfigDoc {
                    text: Some(text),
                    updated_by,
                },
                at,
            )) => {
                let config = Config::load(&text, API_CONFIG_NAME).map_err(|e| e.to_string())?;
                let (config, sender) = with_channels(config);
                self.apply(
                    config,
                    sender,
                    ConfigSource {
                        source: "api".into(),
                        file: self.file.clone(),
                        updated_ms: at,
                        updated_by,
                    },
                );
            }
            Some((_, _)) => self.reload_file()?,
            None => {}
        }
        lock(&self.seen).insert(CONFIG, version);
        Ok(true)
    }

    /// Reads `[alerting] notifier_file` again and puts it in force. An error names the
    /// file, line and reason; the running configuration stays.
    pub fn reload_file(&self) -> Result<(), String> {
        let (config, sender) = with_channels(load_config(&self.file)?);
        self.apply(config, sender, ConfigSource::of_file(&self.file));
        Ok(())
    }

    /// Sets the configuration through the API (an Alertmanager configuration, as text):
    /// checked first, then kept in the database (so it survives a restart and reaches
    /// the other servers) and put in force. A configuration that does not load is
    /// refused naming its line and reason; nothing changes.
    pub async fn set_config(&self, text: &str, by: &str) -> Result<(), NotifierFault> {
        let config = Config::load(text, API_CONFIG_NAME)
            .map_err(|e| NotifierFault::Invalid(e.to_string()))?;
        let source = ConfigSource {
            source: "api".into(),
            file: self.file.clone(),
            updated_ms: argus_core::now_ms(),
            updated_by: by.to_string(),
        };
        self.keep_and_apply(Some(text), by, config, source).await
    }

    /// Removes the configuration set through the API: `[alerting] notifier_file` (or
    /// the built-in one) is in force again. Not found when none is set.
    pub async fn remove_config(&self, by: &str) -> Result<(), NotifierFault> {
        let set = self
            .kv
            .get::<ConfigDoc>(CONFIG)
            .await
            .map_err(|e| NotifierFault::Store(e.to_string()))?
            .is_some_and(|(d, _)| d.text.is_some());
        if !set {
            return Err(NotifierFault::NotFound(
                "no notifier configuration was set through the API".into(),
            ));
        }
        // The file is checked before anything changes.
        let config = load_config(&self.file).map_err(NotifierFault::Invalid)?;
        let source = ConfigSource::of_file(&self.file);
        self.keep_and_apply(None, by, config, source).await
    }

    /// Writes the configuration document (`text: None`: the file is back), then puts
    /// `config` in force here and marks the document's version seen.
    async fn keep_and_apply(
        &self,
        text: Option<&str>,
        by: &str,
        config: Config,
        source: ConfigSource,
    ) -> Result<(), NotifierFault> {
        let store = |e: crate::store::kv::KvError| NotifierFault::Store(e.to_string());
        let doc = ConfigDoc {
            text: text.map(str::to_string),
            updated_by: by.to_string(),
        };
        self.kv.put(CONFIG, &doc).await.map_err(store)?;
        let version = self.kv.version(CONFIG).await.map_err(store)?;
        let (config, sender) = with_channels(config);
        self.apply(config, sender, source);
        lock(&self.seen).insert(CONFIG, version);
        Ok(())
    }

    /// Sends a test notification through each channel of `receiver`.
    pub async fn test_receiver(&self, receiver: &str) -> Option<Vec<serde_json::Value>> {
        let sender = self.sender();
        sender.test(receiver).await
    }

    /// The receivers and their channel kinds.
    pub fn receivers(&self) -> Vec<(String, Vec<String>)> {
        self.sender().receivers()
    }

    /// `argus_notifications_total`, `argus_alerts_held` and `argus_silences` in the text
    /// format.
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
        let engine = lock(&self.engine);
        let (mut active, mut suppressed) = (0usize, 0usize);
        for a in engine.alerts().filter(|a| !a.resolved_at(now)) {
            if engine.mute_status(a, now).is_muted() {
                suppressed += 1;
            } else {
                active += 1;
            }
        }
        family(
            out,
            "argus_alerts_held",
            "gauge",
            "Unresolved alerts the notifier holds, by state: active, or suppressed (silenced, inhibited or in maintenance)",
        );
        sample(out, "argus_alerts_held", "{state=\"active\"}", active);
        sample(
            out,
            "argus_alerts_held",
            "{state=\"suppressed\"}",
            suppressed,
        );
        let mut by_state: std::collections::BTreeMap<String, usize> =
            ["active", "expired", "pending"]
                .into_iter()
                .map(|s| (s.to_string(), 0))
                .collect();
        for s in engine.silences.list(&[], now) {
            let state = match s.status.state {
                argus_notify::silence::SilenceState::Active => "active",
                argus_notify::silence::SilenceState::Pending => "pending",
                argus_notify::silence::SilenceState::Expired => "expired",
            };
            *by_state.entry(state.to_string()).or_insert(0) += 1;
        }
        drop(engine);
        family(
            out,
            "argus_silences",
            "gauge",
            "Silences the notifier holds, by state",
        );
        for (state, n) in by_state {
            sample(out, "argus_silences", &format!("{{state=\"{state}\"}}"), n);
        }
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
        let sender = self.sender();
        for d in due {
            let me = self.clone();
            let sender = sender.clone();
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                let r = sender.send(&d).await;
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

    /// Ticks until `stop`: at least once a second, sooner when the engine says so; and
    /// every [`SYNC_EVERY`] takes in what other servers changed in the database.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut synced = std::time::Instant::now();
        loop {
            if synced.elapsed() >= SYNC_EVERY {
                synced = std::time::Instant::now();
                if let Err(e) = self.sync().await {
                    tracing::warn!(error = %e, "silences and maintenance windows not read again");
                }
            }
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

fn not_found(id: &str) -> NotifierFault {
    NotifierFault::NotFound(format!("no maintenance window {id:?}"))
}

fn restored_silences(
    records: Vec<SilenceRecord>,
    now: Timestamp,
) -> Result<argus_notify::Silences, String> {
    let mut s = argus_notify::Silences::new();
    s.restore(records, now)
        .map_err(|e| format!("stored silences: {e}"))?;
    Ok(s)
}

fn restored_maintenance(
    windows: Vec<MaintenanceWindow>,
) -> Result<argus_notify::Maintenance, String> {
    let mut m = argus_notify::Maintenance::new();
    for w in windows {
        m.set(w)
            .map_err(|e| format!("stored maintenance window: {e}"))?;
    }
    Ok(m)
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

/// Whether a configuration key holds a secret: passwords, tokens, keys and secrets, and
/// the URLs that carry one (Slack's webhook, DingTalk's and WeCom's `access_token`/`key`).
fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "token",
        "api_key",
        "routing_key",
        "service_key",
        "credentials",
    ]
    .iter()
    .any(|s| k.ends_with(s))
        || k == "slack_api_url"
}

fn secret_url(v: &str) -> bool {
    let l = v.to_ascii_lowercase();
    l.contains("access_token=")
        || l.contains("key=")
        || l.contains("token=")
        || l.contains("hooks.slack.com")
        || l.contains("open.feishu.cn/open-apis/bot")
        || l.contains("open.larksuite.com/open-apis/bot")
        || l.contains('@')
            && l.contains("://")
            && l.split("://")
                .nth(1)
                .is_some_and(|r| r.split('/').next().is_some_and(|h| h.contains('@')))
}

/// An Alertmanager configuration's text with every secret replaced by `<secret>`; a
/// text that is not YAML becomes "" (nothing of it is shown).
pub fn masked(text: &str) -> String {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m.iter_mut() {
                    let hide = match v {
                        serde_json::Value::String(s) => {
                            !s.is_empty()
                                && (secret_key(k)
                                    || ((k.ends_with("url") || k == "api_url") && secret_url(s)))
                        }
                        _ => false,
                    };
                    if hide {
                        *v = serde_json::Value::String("<secret>".into());
                    } else {
                        walk(v);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let Ok(mut doc) = serde_norway::from_str::<serde_json::Value>(text) else {
        return String::new();
    };
    walk(&mut doc);
    serde_norway::to_string(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_the_rest_stays() {
        let text = r#"
global:
  smtp_auth_password: hunter2
  slack_api_url: https://hooks.slack.com/services/T0/B0/xyz
  smtp_smarthost: mail:25
route:
  receiver: ops
receivers:
  - name: ops
    webhook_configs:
      - url: http://127.0.0.1:5001/hook
      - url: https://user:pw@example.com/hook
    dingtalk_configs:
      - url: https://oapi.dingtalk.com/robot/send?access_token=abc
        secret: SEC123
    telegram_configs:
      - bot_token: "123:abc"
        chat_id: 42
"#;
        let m = masked(text);
        for hidden in [
            "hunter2",
            "xyz",
            "access_token=abc",
            "SEC123",
            "123:abc",
            "pw@",
        ] {
            assert!(!m.contains(hidden), "{hidden} in {m}");
        }
        for kept in [
            "mail:25",
            "http://127.0.0.1:5001/hook",
            "chat_id: 42",
            "receiver: ops",
        ] {
            assert!(m.contains(kept), "{kept} not in {m}");
        }
        assert_eq!(m.matches("<secret>").count(), 6, "{m}");
        assert_eq!(masked("{not yaml"), "");
    }
}
