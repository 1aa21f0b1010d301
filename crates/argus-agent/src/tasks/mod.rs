//! Remote tasks: work the server hands this host (a plugin of the server's store, or a
//! shell command), fetched over the agent's own outbound connection: the agent never
//! listens for it.
//!
//! The **poller** ([`run`]) long-polls `GET /api/argus/agent/tasks?host=&id=&wait=` on
//! the first server that answers: the server holds the request until there is work for
//! this host (200) or the wait is over (204), so work starts within moments of being made
//! and an idle agent costs one request every [`WAIT_SECS`]. Each **assignment** runs on a
//! blocking thread ([`runner::execute`]) while the poll goes on, so a later poll can tell
//! it to stop (a cancelled task); its **outcome** goes back with
//! `POST /api/argus/agent/tasks/{id}/result`, retried while no server takes it.
//!
//! Whether anything runs is this agent's decision, by [`Policy`]: remote tasks are off
//! unless `agent.allow_remote_tasks`, commands also need `agent.allow_remote_commands`,
//! and plugins run only when installed here from the server's store ([`LocalPlugins`]).
//! Work it will not run is answered `refused` with the reason, so the operator sees it.

pub mod policy;
pub mod runner;

use crate::runtime::handle::AgentHandle;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use policy::Policy;
pub use runner::{Outcome, execute};

/// Seconds a poll asks the server to wait for work.
pub const WAIT_SECS: u64 = 25;

/// A plugin installed on this host from the server's plugin store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPlugin {
    /// Its directory: the working directory of a run.
    pub dir: PathBuf,
    /// The program run, with the task's arguments.
    pub entry: PathBuf,
    /// The version installed (checksum or commit).
    pub version: String,
}

/// The plugins installed on this host from the server's store: the seam between tasks
/// and the agent's plugin store, which implements it.
pub trait LocalPlugins: Send + Sync {
    fn get(&self, name: &str) -> Option<LocalPlugin>;

    /// Whether the installed copy of `name` may run now (its files unchanged since they
    /// were installed), else why not. Asked before every run.
    fn verify(&self, _name: &str) -> Result<(), String> {
        Ok(())
    }
}

/// An agent without a plugin store: no plugin is installed, so every plugin task fails
/// as "not installed".
pub struct NoLocalPlugins;

impl LocalPlugins for NoLocalPlugins {
    fn get(&self, _name: &str) -> Option<LocalPlugin> {
        None
    }
}

/// Work the server handed this host.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Assignment {
    pub id: String,
    /// `plugin` or `command`.
    pub kind: String,
    #[serde(default)]
    pub plugin: Option<String>,
    #[serde(default)]
    pub args: Option<Vec<String>>,
    #[serde(default)]
    pub command: Option<String>,
    pub timeout_secs: u64,
}

/// What a poll brought: work to start, running tasks to stop.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Delivery {
    #[serde(default)]
    pub tasks: Vec<Assignment>,
    #[serde(default)]
    pub cancel: Vec<String>,
}

/// Asks the servers in turn for this host's work, waiting up to `wait_secs`; the first
/// that answers 200 or 204 decides (`None`: nothing in that time).
pub async fn poll(
    client: &reqwest::Client,
    servers: &[String],
    token: &str,
    host: &str,
    id: &str,
    wait_secs: u64,
) -> anyhow::Result<Option<Delivery>> {
    let mut last_err = anyhow::anyhow!("no server configured");
    for s in servers {
        let url = format!(
            "{}&wait={wait_secs}",
            crate::remote::host_url(s, "/api/argus/agent/tasks", host, id)
        );
        let reply = client
            .get(&url)
            .timeout(Duration::from_secs(wait_secs + 15))
            .bearer_auth(token)
            .send()
            .await;
        match reply {
            Ok(r) if r.status().as_u16() == 204 => return Ok(None),
            Ok(r) if r.status().is_success() => {
                let d: Delivery = r
                    .json()
                    .await
                    .map_err(|e| anyhow::anyhow!("{url}: a body that is not tasks: {e}"))?;
                return Ok(Some(d));
            }
            Ok(r) => last_err = anyhow::anyhow!("{url}: {}", r.status()),
            Err(e) => last_err = anyhow::anyhow!("{url}: {e}"),
        }
    }
    Err(last_err)
}

/// Why a report was not taken.
#[derive(Debug, PartialEq)]
pub enum ReportError {
    /// A server answered that it will never take it (the task is gone, or no longer
    /// running there): no use trying again.
    Refused(String),
    /// No server took it now.
    Failed(String),
}

/// Sends `outcome` of task `task` to the servers in turn.
pub async fn report(
    client: &reqwest::Client,
    servers: &[String],
    token: &str,
    host: &str,
    id: &str,
    task: &str,
    outcome: &Outcome,
) -> Result<(), ReportError> {
    let mut last = ReportError::Failed("no server configured".into());
    for s in servers {
        let path = format!(
            "/api/argus/agent/tasks/{}/result",
            crate::remote::query_value(task)
        );
        let url = crate::remote::host_url(s, &path, host, id);
        match client
            .post(&url)
            .timeout(Duration::from_secs(30))
            .bearer_auth(token)
            .json(outcome)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) if matches!(r.status().as_u16(), 400 | 404 | 409) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                return Err(ReportError::Refused(format!("{url}: {status}: {body}")));
            }
            Ok(r) => last = ReportError::Failed(format!("{url}: {}", r.status())),
            Err(e) => last = ReportError::Failed(format!("{url}: {e}")),
        }
    }
    Err(last)
}

/// Tasks running now, by id: the flag that stops each.
type Running = Arc<Mutex<HashMap<String, Arc<AtomicBool>>>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Polls for this host's tasks and runs them until `stop`; then stops those running.
pub async fn run(
    handle: AgentHandle,
    plugins: Arc<dyn LocalPlugins>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let running: Running = Arc::default();
    let mut backoff = Duration::from_secs(1);
    loop {
        if *stop.borrow() {
            break;
        }
        let (servers, token) = handle.targets();
        let host = handle.status().host;
        let id = crate::heartbeat::machine_id(&host);
        let client = handle.http_client();
        let polled = tokio::select! {
            r = poll(&client, &servers, &token, &host, &id, WAIT_SECS) => r,
            _ = stop.wait_for(|s| *s) => break,
        };
        let delivery = match polled {
            Ok(d) => {
                backoff = Duration::from_secs(1);
                d.unwrap_or_default()
            }
            Err(e) => {
                tracing::debug!(error = %e, "task poll failed");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        for c in &delivery.cancel {
            if let Some(flag) = lock(&running).get(c) {
                tracing::info!(task = %c, "remote task cancelled: stopping it");
                flag.store(true, Ordering::Relaxed);
            }
        }
        for a in delivery.tasks {
            start(&handle, &plugins, &running, a, stop.clone());
        }
    }
    // The agent stops: so do its tasks (their reports may not go out before it exits:
    // the server then times them out).
    for flag in lock(&running).values() {
        flag.store(true, Ordering::Relaxed);
    }
}

/// Runs one assignment on a blocking thread and reports its outcome.
fn start(
    handle: &AgentHandle,
    plugins: &Arc<dyn LocalPlugins>,
    running: &Running,
    a: Assignment,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let flag = Arc::new(AtomicBool::new(false));
    lock(running).insert(a.id.clone(), flag.clone());
    let (handle, plugins, running) = (handle.clone(), plugins.clone(), running.clone());
    tokio::spawn(async move {
        let policy = handle.task_policy();
        let task = a.id.clone();
        tracing::info!(task = %task, kind = %a.kind, "remote task");
        let outcome = tokio::task::spawn_blocking(move || execute(&a, &policy, &*plugins, &flag))
            .await
            .unwrap_or_else(|e| Outcome::failed(format!("the run ended abnormally: {e}")));
        lock(&running).remove(&task);
        let mut wait = Duration::from_secs(1);
        // Retried while no server takes it, for up to about ten minutes.
        for _ in 0..25 {
            let (servers, token) = handle.targets();
            let host = handle.status().host;
            let id = crate::heartbeat::machine_id(&host);
            match report(
                &handle.http_client(),
                &servers,
                &token,
                &host,
                &id,
                &task,
                &outcome,
            )
            .await
            {
                Ok(()) => return,
                Err(ReportError::Refused(e)) => {
                    tracing::warn!(task = %task, error = %e, "task result not taken");
                    return;
                }
                Err(ReportError::Failed(e)) => {
                    tracing::debug!(task = %task, error = %e, "task result not delivered yet");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            wait = (wait * 2).min(Duration::from_secs(30));
        }
        tracing::warn!(task = %task, "task result never delivered; the server times the host out");
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outputs::testserver::{self, Reply};

    fn client() -> reqwest::Client {
        crate::outputs::http::agent_client(false).unwrap_or_else(|e| panic!("{e:#}"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_poll_names_the_host_and_reads_the_work() {
        let server = testserver::start(vec![Reply {
            status: 200,
            body: r#"{"tasks":[{"id":"t1","kind":"command","command":"uptime","timeout_secs":5}],"cancel":["t0"]}"#.into(),
        }]);
        let d = poll(
            &client(),
            std::slice::from_ref(&server.url),
            "tok",
            "web 1",
            "m:1",
            7,
        )
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
        let d = d.unwrap_or_else(|| panic!("work expected"));
        assert_eq!(d.cancel, vec!["t0".to_string()]);
        assert_eq!(d.tasks.len(), 1);
        assert_eq!(d.tasks[0].command.as_deref(), Some("uptime"));
        assert_eq!(d.tasks[0].timeout_secs, 5);
        let req = server.next();
        assert_eq!(
            req.target,
            "/api/argus/agent/tasks?host=web%201&id=m%3A1&wait=7"
        );
        assert_eq!(req.header("authorization"), Some("Bearer tok"));

        // 204: nothing; a failing server lets the next decide.
        let failing = testserver::start(vec![Reply::status(500)]);
        let idle = testserver::start(vec![Reply::status(204)]);
        let d = poll(&client(), &[failing.url, idle.url], "tok", "h", "i", 1).await;
        assert_eq!(d.ok(), Some(None));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_report_posts_the_outcome_and_gives_up_on_a_refusal() {
        let server = testserver::start(vec![Reply::status(204), Reply::status(409)]);
        let outcome = Outcome {
            status: "done",
            exit_code: Some(0),
            stdout: "hi\n".into(),
            duration_ms: Some(3),
            ..Outcome::default()
        };
        let servers = std::slice::from_ref(&server.url);
        let r = report(&client(), servers, "tok", "h", "m1", "t/1", &outcome).await;
        assert_eq!(r, Ok(()));
        let req = server.next();
        assert_eq!(req.method, "POST");
        assert_eq!(
            req.target,
            "/api/argus/agent/tasks/t%2F1/result?host=h&id=m1"
        );
        let body: serde_json::Value =
            serde_json::from_slice(&req.body).unwrap_or(serde_json::Value::Null);
        assert_eq!(body["status"], "done");
        assert_eq!(body["stdout"], "hi\n");
        assert_eq!(body["exit_code"], 0);
        assert_eq!(body["duration_ms"], 3);
        let r = report(&client(), servers, "tok", "h", "m1", "t1", &outcome).await;
        assert!(matches!(r, Err(ReportError::Refused(_))), "{r:?}");
    }
}
