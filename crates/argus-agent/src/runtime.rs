//! The agent's runtime: every plugin on its own schedule, contained; a pipeline that labels
//! each round and appends it to the disk buffer; a sender that drains the buffer.
//!
//! Each plugin has a task that ticks at its interval and runs the plugin's `gather` on a
//! blocking thread with a timeout. A plugin that errors, panics or hangs is recorded in its
//! [`PluginState`] and never stops the others: a hung one is not started again until its
//! run returns. Rounds go through a channel to the pipeline, which adds the `host` label and
//! the global labels and writes them to the [`Buffer`]; the sender delivers the buffer to
//! the servers. [`AgentHandle`] is what the local API uses to list, run, enable and
//! disable plugins and to push data in.

use crate::alarm::Alarm;
use crate::buffer::{Buffer, BufferStats, Kind};
use crate::config::AgentConfig;
use crate::input::{Input, Plugin, Schedule};
use crate::output::{Batch, Output};
use crate::processor::Processor;
use crate::scripts::{ScriptDir, ScriptsConfig};
use crate::sender::{Sender, SenderStats};
use argus_core::Event;
use argus_core::line_protocol::{Line, Precision, write_line};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the local API shows of a plugin.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PluginState {
    pub name: String,
    /// `idle`, `running`, `ok`, `error`, `panicked`, `hung` or `disabled`.
    pub state: String,
    pub interval_secs: f64,
    pub timeout_secs: f64,
    /// Until when a disable holds (ms since the epoch), if disabled.
    pub disabled_until_ms: Option<i64>,
    pub last_run_ms: Option<i64>,
    pub last_duration_ms: Option<u64>,
    pub last_error: Option<String>,
    pub runs: u64,
    pub errors: u64,
}

/// The outcome of a manual run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunOutcome {
    pub name: String,
    /// `ok`, `error`, `panicked`, `timeout` or `already_running`.
    pub result: String,
    pub points: usize,
    pub events: usize,
    pub error: Option<String>,
    pub duration_ms: u64,
}

enum Control {
    RunNow {
        param: Option<String>,
        timeout: Option<Duration>,
        reply: oneshot::Sender<RunOutcome>,
    },
}

/// One round's output, unlabelled.
struct Round {
    points: Vec<Line<'static>>,
    events: Vec<Event>,
}

struct Entry {
    state: Arc<Mutex<PluginState>>,
    control: mpsc::Sender<Control>,
    stop: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// How rounds are labelled; replaced on reconfiguration.
#[derive(Clone)]
struct Labeling {
    host: String,
    labels: Vec<(String, String)>,
    default_interval: Duration,
}

struct Shared {
    plugins: Mutex<BTreeMap<String, Entry>>,
    started: Instant,
    buffer: Arc<Mutex<Buffer>>,
    sender_stats: Mutex<SenderStats>,
    rounds: mpsc::Sender<Round>,
    /// Wakes the sender when data was buffered.
    wake_sender: tokio::sync::Notify,
    labeling: std::sync::RwLock<Labeling>,
    /// Servers and token, read by the sender before each delivery.
    targets: std::sync::RwLock<(Vec<String>, String)>,
    /// The last configuration problem, shown in the status until a good one applies.
    config_error: Mutex<Option<String>>,
    /// Asks for a remote configuration pull now (`POST /update`).
    update: tokio::sync::Notify,
    /// Processors and alarms, run on every round; replaced on reconfiguration.
    stages: Mutex<Stages>,
    /// Extra outputs; written from blocking threads.
    outputs: Arc<Mutex<Vec<Box<dyn Output>>>>,
    /// The scripts configuration the directory watcher follows.
    scripts: Mutex<ScriptsConfig>,
    data_dir: std::path::PathBuf,
    /// The agent's own HTTP client (sender, heartbeat, remote configuration), and whether
    /// it verifies TLS (see [`crate::outputs::http::agent_client`]).
    client: std::sync::RwLock<(reqwest::Client, bool)>,
    /// Plugin runs take one of these while they gather (see [`run_once`]).
    gather_slots: Arc<tokio::sync::Semaphore>,
}

/// The per-round transformations.
struct Stages {
    processors: Vec<Box<dyn Processor>>,
    alarms: Vec<Box<dyn Alarm>>,
}

fn build_stages(config: &AgentConfig) -> anyhow::Result<(Stages, Vec<Box<dyn Output>>)> {
    Ok((
        Stages {
            processors: crate::processors::build_processors(&config.processors)?,
            alarms: crate::alarms::build_alarms(&config.alarms)?,
        },
        crate::outputs::build_outputs(&config.outputs)?,
    ))
}

/// The agent's status, for `GET /me/status`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub version: &'static str,
    pub host: String,
    pub uptime_secs: u64,
    pub plugins: usize,
    pub buffer: BufferStats,
    pub sender: SenderStats,
    /// Why the last configuration change was refused (the running one stays), if it was.
    pub config_error: Option<String>,
}

/// A cloneable handle on a running agent.
#[derive(Clone)]
pub struct AgentHandle {
    shared: Arc<Shared>,
}

/// Why a handle operation was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HandleError {
    #[error("no plugin named {0:?}")]
    UnknownPlugin(String),
    #[error("{0}")]
    BadInput(String),
    #[error("the agent is stopping")]
    Stopping,
}

impl AgentHandle {
    pub fn list(&self) -> Vec<PluginState> {
        let now = argus_core::now_ms();
        lock(&self.shared.plugins)
            .values()
            .map(|e| {
                let mut s = lock(&e.state).clone();
                if s.disabled_until_ms.is_some_and(|u| u <= now) {
                    s.disabled_until_ms = None;
                }
                s
            })
            .collect()
    }

    /// Runs a plugin now; answers `already_running` if a run is in flight.
    pub async fn run(
        &self,
        name: &str,
        timeout: Option<Duration>,
        param: Option<String>,
    ) -> Result<RunOutcome, HandleError> {
        let control = lock(&self.shared.plugins)
            .get(name)
            .map(|e| e.control.clone())
            .ok_or_else(|| HandleError::UnknownPlugin(name.to_string()))?;
        let (reply, rx) = oneshot::channel();
        control
            .send(Control::RunNow {
                param,
                timeout,
                reply,
            })
            .await
            .map_err(|_| HandleError::Stopping)?;
        rx.await.map_err(|_| HandleError::Stopping)
    }

    /// Disables a plugin for `for_duration` (then it runs again by itself).
    pub fn disable(&self, name: &str, for_duration: Duration) -> Result<PluginState, HandleError> {
        let until = argus_core::now_ms() + for_duration.as_millis() as i64;
        self.with_state(name, |s| {
            s.disabled_until_ms = Some(until);
            s.state = "disabled".into();
        })
    }

    pub fn enable(&self, name: &str) -> Result<PluginState, HandleError> {
        self.with_state(name, |s| {
            s.disabled_until_ms = None;
            if s.state == "disabled" {
                s.state = "idle".into();
            }
        })
    }

    fn with_state(
        &self,
        name: &str,
        f: impl FnOnce(&mut PluginState),
    ) -> Result<PluginState, HandleError> {
        let plugins = lock(&self.shared.plugins);
        let e = plugins
            .get(name)
            .ok_or_else(|| HandleError::UnknownPlugin(name.to_string()))?;
        let mut s = lock(&e.state);
        f(&mut s);
        Ok(s.clone())
    }

    /// Pushes line protocol into the pipeline (`POST /post?ns=`): labelled like the agent's
    /// own data, with `ns` added when given. Returns the number of points.
    pub async fn post(&self, body: &str, ns: Option<&str>) -> Result<usize, HandleError> {
        let now = argus_core::now_ms();
        let mut points = Vec::new();
        for line in argus_core::line_protocol::parse(body) {
            let mut l = line
                .map_err(|e| HandleError::BadInput(e.to_string()))?
                .into_owned();
            // Pushed timestamps are in ms (the agent's precision) or absent: now.
            l.timestamp = Some(l.timestamp.unwrap_or(now));
            if let Some(ns) = ns {
                l.tags
                    .push((Cow::Borrowed("ns"), Cow::Owned(ns.to_string())));
            }
            points.push(l);
        }
        let n = points.len();
        self.shared
            .rounds
            .send(Round {
                points,
                events: Vec::new(),
            })
            .await
            .map_err(|_| HandleError::Stopping)?;
        Ok(n)
    }

    /// Starts plugins (replacing any of the same name).
    pub async fn add_plugins(&self, plugins: Vec<Plugin>) {
        for p in plugins {
            self.remove_plugin(&p.name).await;
            let default = self
                .shared
                .labeling
                .read()
                .map(|l| l.default_interval)
                .unwrap_or(Duration::from_secs(10));
            spawn_plugin(p, default, &self.shared);
        }
    }

    /// Stops a plugin and forgets it; waits for its task (not for a hung run).
    pub async fn remove_plugin(&self, name: &str) -> bool {
        let entry = lock(&self.shared.plugins).remove(name);
        let Some(mut e) = entry else { return false };
        let _ = e.stop.send(true);
        if let Some(t) = e.task.take() {
            let _ = t.await;
        }
        true
    }

    /// Applies a new configuration: rebuilds the configured plugins (script plugins are
    /// left to their directory watcher), relabels and retargets. On an error the running
    /// configuration stays and the error is kept for the status.
    pub async fn reconfigure(&self, config: &AgentConfig) -> anyhow::Result<()> {
        // The data dir is not known here yet: the log input's offsets land under ".".
        let built = crate::inputs::build(&config.inputs, &self.shared.data_dir)
            .and_then(|p| build_stages(config).map(|s| (p, s)));
        let (plugins, (stages, outputs)) = match built {
            Ok(x) => x,
            Err(e) => {
                *lock(&self.shared.config_error) = Some(format!("{e:#}"));
                return Err(e);
            }
        };
        let tls = crate::outputs::http::needs_tls(&config.servers);
        if self.shared.client.read().map(|c| c.1).unwrap_or(true) != tls {
            match crate::outputs::http::agent_client(tls) {
                Ok(c) => {
                    if let Ok(mut w) = self.shared.client.write() {
                        *w = (c, tls);
                    }
                }
                Err(e) => {
                    *lock(&self.shared.config_error) = Some(format!("{e:#}"));
                    return Err(e);
                }
            }
        }
        *lock(&self.shared.stages) = stages;
        *lock(&self.shared.outputs) = outputs;
        *lock(&self.shared.scripts) = config.scripts.clone();
        let old: Vec<String> = lock(&self.shared.plugins)
            .keys()
            .filter(|n| !n.starts_with("script:"))
            .cloned()
            .collect();
        for n in old {
            self.remove_plugin(&n).await;
        }
        if let Ok(mut l) = self.shared.labeling.write() {
            *l = labeling(config);
        }
        if let Ok(mut t) = self.shared.targets.write() {
            *t = (config.servers.clone(), config.token.clone());
        }
        self.add_plugins(plugins).await;
        *lock(&self.shared.config_error) = None;
        self.shared.wake_sender.notify_one();
        tracing::info!("configuration applied");
        Ok(())
    }

    /// Asks for a remote configuration pull now.
    pub fn request_update(&self) {
        self.shared.update.notify_one();
    }

    /// Resolves when someone asked for a remote configuration pull.
    pub async fn update_requested(&self) {
        self.shared.update.notified().await;
    }

    /// The HTTP client the agent talks to its servers with.
    pub fn http_client(&self) -> reqwest::Client {
        match self.shared.client.read() {
            Ok(c) => c.0.clone(),
            Err(p) => p.into_inner().0.clone(),
        }
    }

    /// The servers and token currently configured.
    pub fn targets(&self) -> (Vec<String>, String) {
        self.shared
            .targets
            .read()
            .map(|t| t.clone())
            .unwrap_or_default()
    }

    /// Records a configuration problem for the status (the running configuration stays).
    pub fn config_error(&self, e: Option<String>) {
        *lock(&self.shared.config_error) = e;
    }

    pub fn status(&self) -> Status {
        Status {
            version: env!("CARGO_PKG_VERSION"),
            host: self
                .shared
                .labeling
                .read()
                .map(|l| l.host.clone())
                .unwrap_or_default(),
            uptime_secs: self.shared.started.elapsed().as_secs(),
            plugins: lock(&self.shared.plugins).len(),
            buffer: lock(&self.shared.buffer).stats(),
            sender: lock(&self.shared.sender_stats).clone(),
            config_error: lock(&self.shared.config_error).clone(),
        }
    }
}

fn labeling(config: &AgentConfig) -> Labeling {
    Labeling {
        host: config.host(),
        labels: config
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        default_interval: Duration::from_secs(config.interval_secs.max(1)),
    }
}

/// A configured agent, ready to run.
pub struct Agent {
    plugins: Vec<Plugin>,
    sender: Sender,
    shared: Arc<Shared>,
    rounds_rx: mpsc::Receiver<Round>,
}

impl Agent {
    /// Builds the plugins and opens the disk buffer in `<data_dir>/buffer`.
    pub fn new(config: &AgentConfig, data_dir: &Path) -> anyhow::Result<Self> {
        if config.interval_secs == 0 {
            anyhow::bail!("agent.interval_secs must be at least 1");
        }
        let buffer = Buffer::open(&data_dir.join("buffer"), config.buffer_max_bytes as u64)?;
        let (stages, outputs) = build_stages(config)?;
        let (tx, rx) = mpsc::channel(1024);
        let tls = crate::outputs::http::needs_tls(&config.servers);
        let client = crate::outputs::http::agent_client(tls)?;
        let shared = Arc::new(Shared {
            plugins: Mutex::new(BTreeMap::new()),
            started: Instant::now(),
            buffer: Arc::new(Mutex::new(buffer)),
            sender_stats: Mutex::new(SenderStats::default()),
            rounds: tx,
            wake_sender: tokio::sync::Notify::new(),
            labeling: std::sync::RwLock::new(labeling(config)),
            targets: std::sync::RwLock::new((config.servers.clone(), config.token.clone())),
            config_error: Mutex::new(None),
            update: tokio::sync::Notify::new(),
            stages: Mutex::new(stages),
            outputs: Arc::new(Mutex::new(outputs)),
            scripts: Mutex::new(config.scripts.clone()),
            data_dir: data_dir.to_path_buf(),
            client: std::sync::RwLock::new((client.clone(), tls)),
            gather_slots: Arc::new(tokio::sync::Semaphore::new(GATHER_SLOTS)),
        });
        Ok(Agent {
            plugins: crate::inputs::build(&config.inputs, data_dir)?,
            sender: Sender::new(
                client,
                config.servers.clone(),
                config.token.clone(),
                Duration::from_secs(config.timeout_secs.max(1)),
            )?,
            shared,
            rounds_rx: rx,
        })
    }

    pub fn handle(&self) -> AgentHandle {
        AgentHandle {
            shared: self.shared.clone(),
        }
    }

    /// Runs until `shutdown` resolves; then makes one last attempt to deliver.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Agent {
            plugins,
            mut sender,
            shared,
            mut rounds_rx,
        } = self;
        let handle = AgentHandle {
            shared: shared.clone(),
        };
        tracing::info!(plugins = plugins.len(), "agent started");
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        handle.add_plugins(plugins).await;

        // The pipeline: label each round and buffer it. Rounds arriving within
        // COALESCE of one another (the inputs due at one tick) are buffered together:
        // one write and one sync per tick, and one request to the server.
        let pipeline_shared = shared.clone();
        let pipeline = tokio::spawn(async move {
            while let Some(first) = rounds_rx.recv().await {
                let mut batch = vec![first];
                let until = tokio::time::Instant::now() + COALESCE;
                while let Ok(Some(r)) = tokio::time::timeout_at(until, rounds_rx.recv()).await {
                    batch.push(r);
                }
                let (mut metrics, mut events) = (String::new(), String::new());
                for round in batch {
                    let (m, e) = encode(process_round(&pipeline_shared, round));
                    metrics.push_str(&m);
                    events.push_str(&e);
                }
                let buffer = pipeline_shared.buffer.clone();
                let res = tokio::task::spawn_blocking(move || {
                    let mut records = Vec::with_capacity(2);
                    if !metrics.is_empty() {
                        records.push((Kind::Metrics, metrics.as_bytes()));
                    }
                    if !events.is_empty() {
                        records.push((Kind::Events, events.as_bytes()));
                    }
                    lock(&buffer).append_all(&records)
                })
                .await;
                match res {
                    Ok(Ok(())) => pipeline_shared.wake_sender.notify_one(),
                    Ok(Err(e)) => tracing::error!(error = %e, "cannot write to the agent buffer"),
                    Err(e) => tracing::error!(error = %e, "buffer task failed"),
                }
            }
        });

        // The sender: drain on every wake-up, retry with backoff while servers are down.
        let sender_shared = shared.clone();
        let handle_for_sender = handle.clone();
        let mut sender_stop = stop_rx.clone();
        let sender_task = tokio::spawn(async move {
            let mut backoff = Duration::from_secs(1);
            loop {
                if let Ok(t) = sender_shared.targets.read() {
                    sender.set_targets(&t.0, &t.1, &handle_for_sender.http_client());
                }
                let delivered = sender.drain(&sender_shared.buffer).await;
                *lock(&sender_shared.sender_stats) = sender.stats.clone();
                let wait = if delivered {
                    backoff = Duration::from_secs(1);
                    Duration::from_secs(3600)
                } else {
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    backoff
                };
                tokio::select! {
                    _ = sender_shared.wake_sender.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = async { let _ = sender_stop.wait_for(|s| *s).await; } => {
                        // One last attempt, bounded.
                        let _ = tokio::time::timeout(Duration::from_secs(5), sender.drain(&sender_shared.buffer)).await;
                        *lock(&sender_shared.sender_stats) = sender.stats.clone();
                        break;
                    }
                }
            }
        });

        let every = shared
            .labeling
            .read()
            .map(|l| l.default_interval)
            .unwrap_or(Duration::from_secs(10));
        let heartbeat = tokio::spawn(crate::heartbeat::run(
            handle.clone(),
            every,
            stop_rx.clone(),
        ));
        let scripts = tokio::spawn(watch_scripts(handle.clone(), stop_rx.clone()));

        shutdown.await;
        let _ = stop_tx.send(true);
        let _ = heartbeat.await;
        let _ = scripts.await;
        let names: Vec<String> = lock(&shared.plugins).keys().cloned().collect();
        for n in names {
            handle.remove_plugin(&n).await;
        }
        // Plugin tasks are done: the pipeline ends when the last round sender is dropped
        // (the handle keeps one; give it a moment to flush what is queued).
        let _ = tokio::time::timeout(Duration::from_secs(2), pipeline).await;
        let _ = sender_task.await;
        Ok(())
    }
}

/// Adds the host and the global labels to a round (before processors see it).
fn label(round: &mut Round, host: &str, labels: &[(String, String)]) {
    for p in &mut round.points {
        add_tag(p, "host", host);
        for (k, v) in labels {
            add_tag(p, k, v);
        }
    }
    for e in &mut round.events {
        if e.host.is_empty() {
            e.host = host.to_string();
        }
        for (k, v) in labels {
            e.payload
                .entry(k.clone())
                .or_insert_with(|| serde_json::Value::String(v.clone()));
        }
    }
}

/// Encodes a labelled round: line protocol (ms) and JSON lines.
fn encode(round: Round) -> (String, String) {
    let mut metrics = String::with_capacity(round.points.len() * 128);
    for p in &round.points {
        write_line(&mut metrics, p, Precision::Milliseconds);
    }
    let mut events = String::new();
    for e in &round.events {
        if let Ok(s) = serde_json::to_string(e) {
            events.push_str(&s);
            events.push('\n');
        }
    }
    (metrics, events)
}

/// Adds a tag unless the point already has one of that name.
fn add_tag(p: &mut Line<'static>, key: &str, value: &str) {
    if !p.tags.iter().any(|(k, _)| k == key) {
        p.tags
            .push((Cow::Owned(key.to_string()), Cow::Owned(value.to_string())));
    }
}

fn spawn_plugin(p: Plugin, default_interval: Duration, shared: &Arc<Shared>) {
    let (stop_tx, mut stop) = tokio::sync::watch::channel(false);
    let interval = p.schedule.interval.unwrap_or(default_interval);
    let timeout = p.schedule.timeout.unwrap_or(interval);
    let state = Arc::new(Mutex::new(PluginState {
        name: p.name.clone(),
        state: "idle".into(),
        interval_secs: interval.as_secs_f64(),
        timeout_secs: timeout.as_secs_f64(),
        disabled_until_ms: None,
        last_run_ms: None,
        last_duration_ms: None,
        last_error: None,
        runs: 0,
        errors: 0,
    }));
    let (ctl_tx, mut ctl_rx) = mpsc::channel(4);
    let slot: Arc<Mutex<Option<Box<dyn Input>>>> = Arc::new(Mutex::new(Some(p.input)));
    let rounds = shared.rounds.clone();
    let slots = shared.gather_slots.clone();
    let name = p.name.clone();
    let task_state = state.clone();
    let task = tokio::spawn(async move {
        let state = task_state;
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = async { let _ = stop.wait_for(|s| *s).await; } => break,
                _ = tick.tick() => {
                    let now = argus_core::now_ms();
                    let disabled = {
                        let mut s = lock(&state);
                        match s.disabled_until_ms {
                            Some(u) if u > now => true,
                            Some(_) => { s.disabled_until_ms = None; false }
                            None => false,
                        }
                    };
                    if !disabled {
                        run_once(&name, &slot, &state, &rounds, &slots, None, timeout).await;
                    }
                }
                Some(c) = ctl_rx.recv() => match c {
                    Control::RunNow { param, timeout: t, reply } => {
                        let out = run_once(&name, &slot, &state, &rounds, &slots, param, t.unwrap_or(timeout)).await;
                        let _ = reply.send(out);
                    }
                },
            }
        }
    });
    lock(&shared.plugins).insert(
        p.name,
        Entry {
            state,
            control: ctl_tx,
            stop: stop_tx,
            task: Some(task),
        },
    );
}

/// How long the pipeline waits for more rounds after the first of a batch.
const COALESCE: Duration = Duration::from_millis(250);

/// Labels a round, runs the processors and alarms over it and hands a copy to the extra
/// outputs.
fn process_round(shared: &Shared, mut round: Round) -> Round {
    let l = shared
        .labeling
        .read()
        .map(|l| l.clone())
        .unwrap_or_else(|p| p.into_inner().clone());
    label(&mut round, &l.host, &l.labels);
    {
        let mut st = lock(&shared.stages);
        for p in st.processors.iter_mut() {
            p.process(&mut round.points);
        }
        let now = argus_core::now_ms();
        let mut raised = Vec::new();
        for a in st.alarms.iter_mut() {
            a.check(now, &round.points, &mut raised);
        }
        for mut e in raised {
            if e.host.is_empty() {
                e.host = l.host.clone();
            }
            round.events.push(e);
        }
    }
    let outputs = shared.outputs.clone();
    if !lock(&outputs).is_empty() {
        let (points, events) = (round.points.clone(), round.events.clone());
        tokio::task::spawn_blocking(move || {
            for o in lock(&outputs).iter_mut() {
                if let Err(e) = o.write(&Batch {
                    points: &points,
                    events: &events,
                }) {
                    tracing::warn!(output = o.name(), error = %e, "output failed");
                }
            }
        });
    }
    round
}

/// How many plugin runs gather at once (more run when some outlast [`SLOT_HOLD`]).
const GATHER_SLOTS: usize = 2;

/// How long a run keeps its gather slot before going on alone.
const SLOT_HOLD: Duration = Duration::from_millis(500);

/// Runs a plugin once on a blocking thread, within `timeout`. Runs share [`GATHER_SLOTS`]
/// slots: the inputs due at one tick then take turns on the
/// same few threads instead of starting a thread each, which is most of the agent's
/// memory (one malloc arena and stack per thread) and thread-start CPU.
async fn run_once(
    name: &str,
    slot: &Arc<Mutex<Option<Box<dyn Input>>>>,
    state: &Arc<Mutex<PluginState>>,
    rounds: &mpsc::Sender<Round>,
    slots: &Arc<tokio::sync::Semaphore>,
    param: Option<String>,
    timeout: Duration,
) -> RunOutcome {
    let Some(mut input) = lock(slot).take() else {
        return RunOutcome {
            name: name.to_string(),
            result: "already_running".into(),
            points: 0,
            events: 0,
            error: Some("a run of this plugin is in progress".into()),
            duration_ms: 0,
        };
    };
    let now = argus_core::now_ms();
    // Wait for a gather slot; the timeout counts from when the run starts.
    let mut permit = slots.clone().acquire_owned().await.ok();
    let started = Instant::now();
    let outcome = |result: &str, points: usize, events: usize, error: Option<String>| RunOutcome {
        name: name.to_string(),
        result: result.to_string(),
        points,
        events,
        error,
        duration_ms: started.elapsed().as_millis() as u64,
    };
    {
        let mut s = lock(state);
        s.state = "running".into();
        s.last_run_ms = Some(now);
        s.runs += 1;
    }
    let job = tokio::task::spawn_blocking(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            input.set_param(param.as_deref());
            let mut points = Vec::new();
            let res = input.gather(now, &mut points);
            let mut events = Vec::new();
            input.drain_events(&mut events);
            input.set_param(None);
            (res, points, events)
        }));
        (input, r)
    });
    let finish = |s: &mut PluginState, st: &str, err: Option<String>| {
        s.state = st.into();
        s.last_duration_ms = Some(started.elapsed().as_millis() as u64);
        if err.is_some() {
            s.errors += 1;
            s.last_error = err;
        }
    };
    let mut job = job;
    // A run still going after SLOT_HOLD gives its slot up and goes on alone, so slow
    // plugins (a network check waiting on its timeout) never hold the others up.
    let deadline = tokio::time::Instant::from_std(started) + timeout;
    let early = tokio::select! {
        r = &mut job => Some(r),
        _ = tokio::time::sleep(SLOT_HOLD.min(timeout)) => None,
    };
    drop(permit.take());
    let result = match early {
        Some(r) => Ok(r),
        None => tokio::time::timeout_at(deadline, &mut job).await,
    };
    match result {
        Ok(Ok((input, r))) => {
            *lock(slot) = Some(input);
            match r {
                Ok((res, points, events)) => {
                    let (np, ne) = (points.len(), events.len());
                    let err = res.err().map(|e| format!("{e:#}"));
                    finish(
                        &mut lock(state),
                        if err.is_some() { "error" } else { "ok" },
                        err.clone(),
                    );
                    if np + ne > 0 {
                        let _ = rounds.send(Round { points, events }).await;
                    }
                    outcome(if err.is_some() { "error" } else { "ok" }, np, ne, err)
                }
                Err(panic) => {
                    let msg = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    let err = format!("panicked: {msg}");
                    tracing::error!(plugin = name, error = %err, "plugin panicked");
                    finish(&mut lock(state), "panicked", Some(err.clone()));
                    outcome("panicked", 0, 0, Some(err))
                }
            }
        }
        Ok(Err(e)) => {
            let err = format!("plugin task failed: {e}");
            finish(&mut lock(state), "error", Some(err.clone()));
            outcome("error", 0, 0, Some(err))
        }
        Err(_) => {
            let err = format!("did not finish within {:.1} s", timeout.as_secs_f64());
            tracing::warn!(plugin = name, error = %err, "plugin hung");
            finish(&mut lock(state), "hung", Some(err.clone()));
            // When it finally returns, the plugin becomes runnable again; its late data is
            // discarded (stale).
            let slot = slot.clone();
            let state = state.clone();
            tokio::spawn(async move {
                if let Ok((input, _)) = job.await {
                    *lock(&slot) = Some(input);
                    let mut s = lock(&state);
                    if s.state == "hung" {
                        s.state = "idle".into();
                    }
                }
            });
            outcome("timeout", 0, 0, Some(err))
        }
    }
}

/// A schedule's effective interval (for tests and docs).
pub fn effective_interval(s: &Schedule, default: Duration) -> Duration {
    s.interval.unwrap_or(default)
}

/// Follows the scripts directory: starts scripts that appear, stops those that go, and
/// starts over when the scripts configuration changes.
async fn watch_scripts(handle: AgentHandle, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut current: Option<(ScriptsConfig, Option<ScriptDir>)> = None;
    loop {
        let cfg = lock(&handle.shared.scripts).clone();
        if current.as_ref().is_none_or(|(c, _)| *c != cfg) {
            // New settings: stop every script plugin and rescan from scratch.
            let names: Vec<String> = lock(&handle.shared.plugins)
                .keys()
                .filter(|n| n.starts_with("script:"))
                .cloned()
                .collect();
            for n in names {
                handle.remove_plugin(&n).await;
            }
            let dir = match ScriptDir::build(&cfg, &handle.shared.data_dir) {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(error = %e, "script plugins are off");
                    *lock(&handle.shared.config_error) = Some(format!("agent.scripts: {e}"));
                    None
                }
            };
            current = Some((cfg, dir));
        }
        if let Some((_, Some(dir))) = current.as_mut() {
            let changes = dir.scan();
            for n in &changes.removed {
                handle.remove_plugin(n).await;
            }
            if !changes.added.is_empty() {
                handle.add_plugins(changes.added).await;
            }
        }
        tokio::select! {
            _ = async { let _ = stop.wait_for(|s| *s).await; } => return,
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Schedule;

    /// An input that behaves as told: ok, error, panic or hang.
    struct Scripted {
        name: &'static str,
        mode: &'static str,
    }

    impl Input for Scripted {
        fn name(&self) -> &str {
            self.name
        }

        fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
            match self.mode {
                "panic" => panic!("boom in {}", self.name),
                "hang" => std::thread::sleep(Duration::from_secs(3)),
                "error" => {
                    out.push(Line::new("partial").float("v", 1.0).timestamp(now_ms));
                    anyhow::bail!("cannot read the thing")
                }
                _ => {}
            }
            out.push(Line::new(self.name).float("v", 1.0).timestamp(now_ms));
            Ok(())
        }
    }

    fn plugin(name: &'static str, mode: &'static str) -> Plugin {
        Plugin {
            name: name.to_string(),
            input: Box::new(Scripted { name, mode }),
            schedule: Schedule {
                interval: Some(Duration::from_millis(200)),
                timeout: Some(Duration::from_millis(300)),
            },
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failing_plugins_are_contained_and_reported() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let config = AgentConfig {
            servers: vec![],
            inputs: serde_json::from_value(serde_json::json!({
                "cpu": {"enabled": false}, "mem": {"enabled": false}, "swap": {"enabled": false},
                "disk": {"enabled": false}, "diskio": {"enabled": false}, "net": {"enabled": false},
                "load": {"enabled": false}, "system": {"enabled": false}, "processes": {"enabled": false}
            }))
            .unwrap_or_default(),
            scripts: crate::scripts::ScriptsConfig {
                enabled: false,
                ..Default::default()
            },
            ..AgentConfig::default()
        };
        let agent = Agent::new(&config, dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let handle = agent.handle();
        let (tx, rx) = tokio::sync::watch::channel(false);
        let run = tokio::spawn(agent.run(async move {
            let mut rx = rx;
            let _ = rx.wait_for(|s| *s).await;
        }));
        handle
            .add_plugins(vec![
                plugin("good", "ok"),
                plugin("bad", "error"),
                plugin("crashy", "panic"),
                plugin("stuck", "hang"),
            ])
            .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let states: BTreeMap<String, PluginState> = handle
            .list()
            .into_iter()
            .map(|s| (s.name.clone(), s))
            .collect();
        let st = |n: &str| {
            states
                .get(n)
                .cloned()
                .unwrap_or_else(|| panic!("{n} missing"))
        };
        assert!(
            st("good").runs >= 4,
            "the good plugin kept its schedule: {:?}",
            st("good")
        );
        assert_eq!(st("good").errors, 0);
        assert_eq!(st("bad").state, "error");
        assert_eq!(
            st("bad").last_error.as_deref(),
            Some("cannot read the thing")
        );
        assert_eq!(st("crashy").state, "panicked");
        assert!(
            st("crashy")
                .last_error
                .unwrap_or_default()
                .contains("boom in crashy")
        );
        assert!(
            st("crashy").runs >= 3,
            "a panicking plugin is called again next interval"
        );
        assert_eq!(st("stuck").state, "hung");
        assert_eq!(
            st("stuck").runs,
            1,
            "a hung plugin is not started again while it hangs"
        );
        // A manual run of the hung plugin says it is still running.
        let out = handle
            .run("stuck", None, None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.result, "already_running");
        let out = handle
            .run("good", None, None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((out.result.as_str(), out.points), ("ok", 1));
        // The error's partial points were still kept and buffered with the rest.
        let _ = tx.send(true);
        let _ = run.await;
        let mut b =
            Buffer::open(&dir.path().join("buffer"), 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        let all: String = b
            .peek(10_000, usize::MAX)
            .unwrap_or_default()
            .iter()
            .map(|r| String::from_utf8_lossy(&r.payload).into_owned())
            .collect();
        assert!(all.contains("good,host="), "{all}");
        assert!(all.contains("partial,host="), "{all}");
        assert!(!all.contains("crashy,"), "{all}");
    }
}
