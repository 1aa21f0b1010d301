//! The **handle**: a cloneable view of a running agent, for the local API (list, run,
//! enable and disable plugins, push data in, status) and for configuration reloads
//! (reconfigure, remote pulls). Script plugins come and go through it too, as the scripts
//! directory watcher finds them.

use super::round::{self, Round};
use super::schedule::{Control, PluginState, RunOutcome, spawn_plugin};
use super::{Shared, lock};
use crate::buffer::BufferStats;
use crate::config::AgentConfig;
use crate::input::Plugin;
use crate::scripts::{ScriptDir, ScriptsConfig};
use crate::sender::SenderStats;
use serde::Serialize;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

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
    /// The ETag of the remote configuration in force, if one is: compared with what the
    /// server serves, it tells whether this host applied the latest.
    pub remote_etag: Option<String>,
}

/// A cloneable handle on a running agent.
#[derive(Clone)]
pub struct AgentHandle {
    pub(super) shared: Arc<Shared>,
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

    /// Hands points and events to the pipeline as a round of their own (labelled like
    /// every round): how failures outside any plugin run are reported.
    pub async fn push(
        &self,
        points: Vec<argus_core::line_protocol::Line<'static>>,
        events: Vec<argus_core::Event>,
    ) -> Result<(), HandleError> {
        self.shared
            .rounds
            .send(Round { points, events })
            .await
            .map_err(|_| HandleError::Stopping)
    }

    /// The plugins installed from the server: a cloneable lookup by name (for the task
    /// runner), see [`crate::distributed::Installed`]. `crate::distributed::sync` applies
    /// the server's list to them.
    pub fn installed_plugins(&self) -> crate::distributed::installed::Installed {
        self.shared.distributed.clone()
    }

    /// `[agent.scripts]` in force: distributed plugins run with its user, environment and
    /// output limit.
    pub(crate) fn scripts_config(&self) -> ScriptsConfig {
        lock(&self.shared.scripts).clone()
    }

    /// Starts plugins (replacing any of the same name).
    pub async fn add_plugins(&self, plugins: Vec<Plugin>) {
        for p in plugins {
            self.remove_plugin(&p.name).await;
            spawn_plugin(p, self.shared.default_interval(), &self.shared);
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
            .and_then(|p| round::build_stages(config).map(|s| (p, s)));
        let (plugins, (stages, outputs)) = match built {
            Ok(x) => x,
            Err(e) => {
                *lock(&self.shared.config_error) = Some(format!("{e:#}"));
                return Err(e);
            }
        };
        let tls = crate::outputs::http::ClientTls::of(config);
        if self.shared.client.read().map_or(true, |c| c.1 != tls) {
            match crate::outputs::http::agent_client_with(&tls) {
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
        *lock(&self.shared.remote_tasks) =
            (config.allow_remote_tasks, config.allow_remote_commands);
        // Script plugins follow their directory, distributed ones the server's list.
        let old: Vec<String> = lock(&self.shared.plugins)
            .keys()
            .filter(|n| {
                !n.starts_with("script:") && !n.starts_with(crate::distributed::installed::PREFIX)
            })
            .cloned()
            .collect();
        for n in old {
            self.remove_plugin(&n).await;
        }
        if let Ok(mut l) = self.shared.labeling.write() {
            *l = round::labeling(config);
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

    /// What remote tasks may do here now (the configuration in force).
    pub fn task_policy(&self) -> crate::tasks::policy::Policy {
        let (allow_tasks, allow_commands) = *lock(&self.shared.remote_tasks);
        crate::tasks::policy::Policy {
            allow_tasks,
            allow_commands,
            scripts: lock(&self.shared.scripts).clone(),
        }
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

    /// Records the ETag of the remote configuration now in force (`None`: none is). The
    /// caller that loads the configuration files knows whether the remote layer was among
    /// them; the heartbeat reports it from here without reading a file.
    pub fn set_remote_etag(&self, etag: Option<String>) {
        *lock(&self.shared.remote_etag) = etag;
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
            remote_etag: lock(&self.shared.remote_etag).clone(),
        }
    }
}

/// Follows the scripts directory: starts scripts that appear, stops those that go, and
/// starts over when the scripts configuration changes.
pub(super) async fn watch_scripts(
    handle: AgentHandle,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
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
