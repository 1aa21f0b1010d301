//! The agent's runtime: every **plugin** (an input with its name and schedule) runs on its
//! own schedule, contained; what one run gathers is a **round** (points and events,
//! unlabelled); the **pipeline** labels each round, runs the processors and alarms over it
//! and appends it to the disk [`Buffer`]; the **sender** drains the buffer to the servers.
//! [`AgentHandle`] is the running agent as the local API and configuration reloads see
//! it: list, run, enable and disable plugins, push data in, reconfigure.
//!
//! [`schedule`] holds when and how plugins run (a plugin that errors, panics or hangs is
//! recorded in its [`PluginState`] and never stops the others), [`round`] what happens to a
//! round, [`handle`] the handle; this file wires them together in [`Agent::run`].

pub mod handle;
mod round;
mod schedule;

pub use handle::{AgentHandle, HandleError, Status};
pub use schedule::{PluginState, RunOutcome, effective_interval};

use crate::buffer::Buffer;
use crate::config::AgentConfig;
use crate::input::Plugin;
use crate::output::Output;
use crate::scripts::ScriptsConfig;
use crate::sender::{Sender, SenderStats};
use round::{Labeling, Round, Stages};
use schedule::Entry;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A poisoned lock still guards consistent data here (every critical section leaves it
/// whole), so a panic elsewhere must not take the agent down with it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the plugin tasks, the pipeline, the sender and every handle share.
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
    /// The ETag of the remote configuration in force, set by whoever applies it.
    remote_etag: Mutex<Option<String>>,
    /// Asks for a remote configuration pull now (`POST /update`).
    update: tokio::sync::Notify,
    /// Processors and alarms, run on every round; replaced on reconfiguration.
    stages: Mutex<Stages>,
    /// Extra outputs; written from blocking threads.
    outputs: Arc<Mutex<Vec<Box<dyn Output>>>>,
    /// The scripts configuration the directory watcher follows.
    scripts: Mutex<ScriptsConfig>,
    /// `allow_remote_tasks` and `allow_remote_commands`, read by each remote task.
    remote_tasks: Mutex<(bool, bool)>,
    data_dir: std::path::PathBuf,
    /// The agent's own HTTP client (sender, heartbeat, remote configuration), and whether
    /// it verifies TLS (see [`crate::outputs::http::agent_client`]).
    client: std::sync::RwLock<(reqwest::Client, crate::outputs::http::ClientTls)>,
    /// Plugin runs take one of these while they gather (see [`schedule::GATHER_SLOTS`]).
    gather_slots: Arc<tokio::sync::Semaphore>,
    /// The plugins installed from the server.
    distributed: crate::distributed::installed::Installed,
}

impl Shared {
    /// The agent's `interval_secs`, for plugins that set none.
    fn default_interval(&self) -> Duration {
        self.labeling
            .read()
            .map(|l| l.default_interval)
            .unwrap_or(Duration::from_secs(10))
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
        let (stages, outputs) = round::build_stages(config)?;
        let (tx, rx) = mpsc::channel(1024);
        let tls = crate::outputs::http::ClientTls::of(config);
        let client = crate::outputs::http::agent_client_with(&tls)?;
        let shared = Arc::new(Shared {
            plugins: Mutex::new(BTreeMap::new()),
            started: Instant::now(),
            buffer: Arc::new(Mutex::new(buffer)),
            sender_stats: Mutex::new(SenderStats::default()),
            rounds: tx,
            wake_sender: tokio::sync::Notify::new(),
            labeling: std::sync::RwLock::new(round::labeling(config)),
            targets: std::sync::RwLock::new((config.servers.clone(), config.token.clone())),
            config_error: Mutex::new(None),
            remote_etag: Mutex::new(None),
            update: tokio::sync::Notify::new(),
            stages: Mutex::new(stages),
            outputs: Arc::new(Mutex::new(outputs)),
            scripts: Mutex::new(config.scripts.clone()),
            remote_tasks: Mutex::new((config.allow_remote_tasks, config.allow_remote_commands)),
            data_dir: data_dir.to_path_buf(),
            client: std::sync::RwLock::new((client.clone(), tls)),
            gather_slots: Arc::new(tokio::sync::Semaphore::new(schedule::GATHER_SLOTS)),
            distributed: crate::distributed::installed::Installed::new(data_dir),
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
        let handle = self.handle();
        let Agent {
            plugins,
            sender,
            shared,
            rounds_rx,
        } = self;
        tracing::info!(plugins = plugins.len(), "agent started");
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        handle.add_plugins(plugins).await;

        let pipeline = tokio::spawn(round::pipeline(shared.clone(), rounds_rx));
        let sender_task = tokio::spawn(deliver(sender, handle.clone(), stop_rx.clone()));
        let heartbeat = tokio::spawn(crate::heartbeat::run(
            handle.clone(),
            shared.default_interval(),
            stop_rx.clone(),
        ));
        let scripts = tokio::spawn(handle::watch_scripts(handle.clone(), stop_rx.clone()));

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

/// The sender's task: drains the buffer on every wake-up, retries with backoff while the
/// servers are down, and makes one last bounded attempt when the agent stops.
async fn deliver(
    mut sender: Sender,
    handle: AgentHandle,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let shared = handle.shared.clone();
    let mut backoff = Duration::from_secs(1);
    loop {
        if let Ok(t) = shared.targets.read() {
            sender.set_targets(&t.0, &t.1, &handle.http_client());
        }
        let delivered = sender.drain(&shared.buffer).await;
        *lock(&shared.sender_stats) = sender.stats.clone();
        let wait = if delivered {
            backoff = Duration::from_secs(1);
            Duration::from_secs(3600)
        } else {
            backoff = (backoff * 2).min(Duration::from_secs(30));
            backoff
        };
        tokio::select! {
            _ = shared.wake_sender.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                let _ = tokio::time::timeout(Duration::from_secs(5), sender.drain(&shared.buffer)).await;
                *lock(&shared.sender_stats) = sender.stats.clone();
                break;
            }
        }
    }
}
