//! Remote tasks: a shell command or a plugin from the server's store, run once on a set of
//! hosts and reported back host by host.
//!
//! A **task** is what an editor asked (`POST /api/argus/tasks`): the work (a plugin with
//! its arguments, or a command), a timeout, how many hosts run it at once
//! (**concurrency**), and the hosts its target resolved to when it was made. Each of those
//! hosts has a **task host** row that goes `queued` → `running` (its agent took it) → one
//! final status: `done`, `failed`, `timed_out`, `refused` or `cancelled`, with the exit
//! code, standard output and error (cut to `[tasks] max_output_bytes`, marked as cut) and
//! the duration its agent measured.
//!
//! Agents reach the server, never the other way round: each **long-polls**
//! ([`TaskStore::wait_for_host`]) and is handed the queued work of its host, as many as
//! the tasks' concurrency lets run, plus the ids of running tasks it must cancel. A write
//! that may hand out work (a new task, a cancel, a result freeing a slot) wakes every
//! waiting poll of this process at once through a `watch` channel; polls also look at the
//! database every [`RECHECK`] by themselves, which is how servers sharing one PostgreSQL
//! see each other's tasks, and how slots freed by [`expiry`](TaskStore::expire) are
//! handed on. A host whose agent took work and never answered within its timeout and
//! [`RESULT_GRACE`] is marked `timed_out` by the server; one whose agent never polls stays
//! `queued`.
//!
//! Creation and cancellation are written to the audit log in the same transaction (who,
//! the target as asked, the hosts it resolved to, the work); each host's outcome is its
//! row here.
//!
//! Which plugins exist is the plugin store's business: the server asks a
//! [`PluginCatalog`] when a plugin task is made.

use super::audit::{self, Change};
use super::db::Database;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sqlx::{Any, Row, Transaction};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// How long after its timeout a host's agent may still report before the server marks
/// the host `timed_out`: the agent kills the work at the timeout itself, and its report
/// may wait for a connection.
pub const RESULT_GRACE: Duration = Duration::from_secs(30);

/// How often a waiting poll looks at the database without being woken: what other
/// servers sharing the database wrote, and slots freed by expiry.
pub const RECHECK: Duration = Duration::from_secs(5);

/// The longest timeout a task may have, in seconds (a day).
pub const MAX_TIMEOUT_SECS: u64 = 86_400;

/// Which plugins the server's plugin store holds. The seam between tasks and the plugin
/// store: the store implements it, and [`TaskStore::new`] is given it.
pub trait PluginCatalog: Send + Sync {
    /// Whether a plugin named `name` exists; `Err` when the store cannot say.
    fn exists<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool, String>>;
}

/// The catalog of a server without a plugin store: it knows no plugin, so every plugin
/// task is refused as naming an unknown plugin.
pub struct NoPlugins;

impl PluginCatalog for NoPlugins {
    fn exists<'a>(&'a self, _name: &'a str) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async { Ok(false) })
    }
}

/// Where one host of a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostStatus {
    /// Waiting for its agent to take it (or for a concurrency slot).
    Queued,
    /// Its agent took it.
    Running,
    /// Ran and exited 0.
    Done,
    /// Ran and exited non-zero or was killed by a signal, could not start, or the plugin
    /// is not installed on the host.
    Failed,
    /// Killed at its timeout by the agent, or no result reached the server within the
    /// timeout and [`RESULT_GRACE`].
    TimedOut,
    /// The agent does not run remote tasks, or not this kind (its `reason` says why).
    Refused,
    /// Cancelled before it started, or stopped by its agent when told to.
    Cancelled,
}

impl HostStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HostStatus::Queued => "queued",
            HostStatus::Running => "running",
            HostStatus::Done => "done",
            HostStatus::Failed => "failed",
            HostStatus::TimedOut => "timed_out",
            HostStatus::Refused => "refused",
            HostStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<HostStatus> {
        Some(match s {
            "queued" => HostStatus::Queued,
            "running" => HostStatus::Running,
            "done" => HostStatus::Done,
            "failed" => HostStatus::Failed,
            "timed_out" => HostStatus::TimedOut,
            "refused" => HostStatus::Refused,
            "cancelled" => HostStatus::Cancelled,
            _ => return None,
        })
    }

    /// Whether nothing more will happen to the host.
    pub fn is_final(self) -> bool {
        !matches!(self, HostStatus::Queued | HostStatus::Running)
    }
}

/// What a task runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    /// A plugin of the server's store, by name, with its arguments.
    Plugin { name: String, args: Vec<String> },
    /// One shell line, run with `sh -c` (only where the agent allows commands).
    Command(String),
}

impl Work {
    fn kind(&self) -> &'static str {
        match self {
            Work::Plugin { .. } => "plugin",
            Work::Command(_) => "command",
        }
    }

    /// The work as the API and the audit log show it.
    fn json(&self) -> serde_json::Value {
        match self {
            Work::Plugin { name, args } => serde_json::json!({"plugin": name, "args": args}),
            Work::Command(c) => serde_json::json!({"command": c}),
        }
    }
}

/// A host a task's target resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetHost {
    pub id: String,
    pub hostname: String,
}

/// A task to make: checked and resolved by the caller.
#[derive(Debug, Clone)]
pub struct NewTask {
    /// The target as it was asked (`{"hosts": …}`, `{"group": …}` or `{"selector": …}`).
    pub target: serde_json::Value,
    /// What it resolved to; not empty.
    pub hosts: Vec<TargetHost>,
    pub work: Work,
    pub timeout_secs: u64,
    /// Hosts running it at once; `None`: all.
    pub concurrency: Option<u32>,
}

/// One host of a task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskHost {
    pub host: String,
    pub hostname: String,
    pub status: HostStatus,
    /// When its agent took it, and when the outcome was recorded (server clock, ms).
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    /// How long it ran, as its agent measured it.
    pub duration_ms: Option<i64>,
    pub exit_code: Option<i64>,
    pub stdout: String,
    pub stdout_truncated: bool,
    pub stderr: String,
    pub stderr_truncated: bool,
    /// Why it was refused, failed without an exit code, timed out or was cancelled.
    pub reason: String,
}

/// A task as listed and shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Task {
    pub id: String,
    pub created_ms: i64,
    pub created_by: String,
    pub target: serde_json::Value,
    /// `plugin` or `command`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    pub timeout_secs: u64,
    /// `None`: every host at once.
    pub concurrency: Option<u32>,
    pub cancelled_ms: Option<i64>,
    pub cancelled_by: Option<String>,
    /// The task as a whole: `queued` (no host started), `running`, then once every host
    /// is final `done` (every host done), `cancelled` (it was cancelled) or `failed`.
    pub state: &'static str,
    /// Hosts per status.
    pub counts: BTreeMap<&'static str, i64>,
    /// Each host, in host name order (left out of lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<TaskHost>>,
}

/// Work handed to an agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignment {
    pub id: String,
    /// `plugin` or `command`.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    pub timeout_secs: u64,
}

/// What a poll hands an agent: work to start, and running tasks to stop.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Delivery {
    pub tasks: Vec<Assignment>,
    pub cancel: Vec<String>,
}

impl Delivery {
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty() && self.cancel.is_empty()
    }
}

/// What an agent reports for one host.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub status: String,
    #[serde(default)]
    pub exit_code: Option<i64>,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stdout_truncated: bool,
    #[serde(default)]
    pub stderr: String,
    #[serde(default)]
    pub stderr_truncated: bool,
    #[serde(default)]
    pub duration_ms: Option<i64>,
    #[serde(default)]
    pub reason: String,
}

/// A task operation refused; mapped to a 4xx at the edge.
#[derive(Debug, thiserror::Error)]
pub enum TaskFault {
    #[error("field {field:?}: {reason}")]
    Field { field: &'static str, reason: String },
    #[error("no task {0:?}")]
    NoTask(String),
    #[error("task {task:?} has no host {host:?}")]
    NoHost { task: String, host: String },
    /// A result for a host that is not running the task (already final, or never taken).
    #[error("task {task:?} on host {host:?} is {status}, not running: the result is not taken")]
    NotRunning {
        task: String,
        host: String,
        status: &'static str,
    },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Cuts `s` to at most `max` bytes on a character boundary; whether it cut.
pub fn cut(s: &str, max: usize) -> (String, bool) {
    if s.len() <= max {
        return (s.to_string(), false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (s[..end].to_string(), true)
}

/// The tasks of one database, and the wake-ups of the polls waiting on them.
pub struct TaskStore {
    db: Arc<Database>,
    catalog: Arc<dyn PluginCatalog>,
    max_output_bytes: usize,
    /// Bumped by every write that may hand out work or cancel it.
    wake: watch::Sender<u64>,
    /// The server is stopping: waiting polls answer at once.
    stop: Option<watch::Receiver<bool>>,
    /// When expiry last ran (ms), so that many polls run it once per [`RECHECK`].
    last_expiry_ms: AtomicI64,
}

const TASK_COLUMNS: &str = "id, created_ms, created_by, target_json, kind, plugin, args_json, \
     command, timeout_secs, concurrency, cancelled_ms, cancelled_by";

const HOST_COLUMNS: &str = "host_id, hostname, status, started_ms, finished_ms, duration_ms, \
     exit_code, stdout, stdout_truncated, stderr, stderr_truncated, reason";

fn host_of(r: &sqlx::any::AnyRow) -> Result<TaskHost, sqlx::Error> {
    let status: String = r.try_get("status")?;
    Ok(TaskHost {
        host: r.try_get("host_id")?,
        hostname: r.try_get("hostname")?,
        status: HostStatus::parse(&status).unwrap_or(HostStatus::Failed),
        started_ms: r.try_get("started_ms")?,
        finished_ms: r.try_get("finished_ms")?,
        duration_ms: r.try_get("duration_ms")?,
        exit_code: r.try_get("exit_code")?,
        stdout: r.try_get("stdout")?,
        stdout_truncated: r.try_get::<i64, _>("stdout_truncated")? != 0,
        stderr: r.try_get("stderr")?,
        stderr_truncated: r.try_get::<i64, _>("stderr_truncated")? != 0,
        reason: r.try_get("reason")?,
    })
}

fn task_of(
    r: &sqlx::any::AnyRow,
    counts: BTreeMap<&'static str, i64>,
) -> Result<Task, sqlx::Error> {
    let kind: String = r.try_get("kind")?;
    let target: String = r.try_get("target_json")?;
    let args: String = r.try_get("args_json")?;
    let plugin: String = r.try_get("plugin")?;
    let command: String = r.try_get("command")?;
    let concurrency: i64 = r.try_get("concurrency")?;
    let cancelled_ms: Option<i64> = r.try_get("cancelled_ms")?;
    let cancelled_by: String = r.try_get("cancelled_by")?;
    let is_plugin = kind == "plugin";
    Ok(Task {
        id: r.try_get("id")?,
        created_ms: r.try_get("created_ms")?,
        created_by: r.try_get("created_by")?,
        target: serde_json::from_str(&target).unwrap_or_default(),
        plugin: is_plugin.then_some(plugin),
        args: is_plugin.then(|| serde_json::from_str(&args).unwrap_or_default()),
        command: (!is_plugin).then_some(command),
        kind,
        timeout_secs: u64::try_from(r.try_get::<i64, _>("timeout_secs")?).unwrap_or(0),
        concurrency: u32::try_from(concurrency).ok().filter(|c| *c > 0),
        state: state_of(&counts, cancelled_ms.is_some()),
        cancelled_ms,
        cancelled_by: cancelled_ms.map(|_| cancelled_by),
        counts,
        hosts: None,
    })
}

/// The state of a whole task from its hosts' statuses.
fn state_of(counts: &BTreeMap<&'static str, i64>, cancelled: bool) -> &'static str {
    let n = |s: HostStatus| counts.get(s.as_str()).copied().unwrap_or(0);
    let total: i64 = counts.values().sum();
    let (queued, running) = (n(HostStatus::Queued), n(HostStatus::Running));
    if queued == total && total > 0 {
        "queued"
    } else if queued + running > 0 {
        "running"
    } else if cancelled {
        "cancelled"
    } else if n(HostStatus::Done) == total {
        "done"
    } else {
        "failed"
    }
}

/// Takes the row lock of task `id` until `tx` ends: deliveries of one task queue up
/// behind each other, so no two polls both see a free concurrency slot. (An update that
/// changes nothing: portable, where `SELECT … FOR UPDATE` is not SQLite; a SQLite
/// transaction here holds the database's write lock anyway.)
async fn lock_task(tx: &mut Transaction<'_, Any>, id: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("UPDATE tasks SET concurrency = concurrency WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() > 0)
}

impl TaskStore {
    /// `max_output_bytes`: how much of each of a host's stdout and stderr is kept.
    pub fn new(
        db: Arc<Database>,
        catalog: Arc<dyn PluginCatalog>,
        max_output_bytes: usize,
    ) -> TaskStore {
        TaskStore {
            db,
            catalog,
            max_output_bytes,
            wake: watch::channel(0).0,
            stop: None,
            last_expiry_ms: AtomicI64::new(0),
        }
    }

    /// Waiting polls answer at once when `stop` turns true (the server is stopping and
    /// waits for requests in flight).
    pub fn with_stop(mut self, stop: watch::Receiver<bool>) -> TaskStore {
        self.stop = Some(stop);
        self
    }

    pub fn catalog(&self) -> &dyn PluginCatalog {
        self.catalog.as_ref()
    }

    fn wake_polls(&self) {
        self.wake.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Makes a task (every host queued) and audits it; its id.
    pub async fn create(&self, actor: &str, new: NewTask) -> Result<String, TaskFault> {
        if new.hosts.is_empty() {
            return Err(TaskFault::Field {
                field: "target",
                reason: "target matches no host".into(),
            });
        }
        let id = format!(
            "t{}",
            &super::access::generate_token().map_err(sqlx::Error::Io)?[..15]
        );
        let now = argus_core::now_ms();
        let (plugin, args, command) = match &new.work {
            Work::Plugin { name, args } => (name.as_str(), args.clone(), ""),
            Work::Command(c) => ("", Vec::new(), c.as_str()),
        };
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO tasks (id, created_ms, created_by, target_json, kind, plugin, args_json,
               command, timeout_secs, concurrency, cancelled_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '')",
        )
        .bind(&id)
        .bind(now)
        .bind(actor)
        .bind(new.target.to_string())
        .bind(new.work.kind())
        .bind(plugin)
        .bind(serde_json::to_string(&args).unwrap_or_else(|_| "[]".into()))
        .bind(command)
        .bind(i64::try_from(new.timeout_secs).unwrap_or(i64::MAX))
        .bind(i64::from(new.concurrency.unwrap_or(0)))
        .execute(&mut *tx)
        .await?;
        for h in &new.hosts {
            sqlx::query(
                "INSERT INTO task_hosts (task_id, host_id, hostname, status) VALUES ($1, $2, $3, 'queued')",
            )
            .bind(&id)
            .bind(&h.id)
            .bind(&h.hostname)
            .execute(&mut *tx)
            .await?;
        }
        let mut after = new.work.json();
        after["target"] = new.target.clone();
        after["hosts"] = serde_json::to_value(&new.hosts).unwrap_or_default();
        after["timeout_secs"] = new.timeout_secs.into();
        after["concurrency"] = new.concurrency.into();
        audit::record(
            &mut tx,
            Change {
                actor,
                action: "create",
                object_kind: "task",
                object_id: &id,
                before: None,
                after: Some(after),
            },
        )
        .await?;
        tx.commit().await?;
        self.wake_polls();
        Ok(id)
    }

    async fn counts(
        &self,
        ids: &[String],
    ) -> Result<BTreeMap<String, BTreeMap<&'static str, i64>>, sqlx::Error> {
        let mut out: BTreeMap<String, BTreeMap<&'static str, i64>> = BTreeMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let params: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT task_id, status, count(*) AS n FROM task_hosts WHERE task_id IN ({})
             GROUP BY task_id, status",
            params.join(", ")
        );
        let rows = ids
            .iter()
            .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |q, id| {
                q.bind(id.as_str())
            })
            .fetch_all(self.db.pool())
            .await?;
        for r in rows {
            let status: String = r.try_get("status")?;
            let status = HostStatus::parse(&status).unwrap_or(HostStatus::Failed);
            *out.entry(r.try_get("task_id")?)
                .or_default()
                .entry(status.as_str())
                .or_default() += r.try_get::<i64, _>("n")?;
        }
        Ok(out)
    }

    /// One task with its hosts.
    pub async fn get(&self, id: &str) -> Result<Option<Task>, sqlx::Error> {
        self.expire_now().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let hosts = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {HOST_COLUMNS} FROM task_hosts WHERE task_id = $1 ORDER BY hostname, host_id"
        )))
        .bind(id)
        .fetch_all(self.db.pool())
        .await?
        .iter()
        .map(host_of)
        .collect::<Result<Vec<_>, _>>()?;
        let mut counts: BTreeMap<&'static str, i64> = BTreeMap::new();
        for h in &hosts {
            *counts.entry(h.status.as_str()).or_default() += 1;
        }
        let mut task = task_of(&row, counts)?;
        task.hosts = Some(hosts);
        Ok(Some(task))
    }

    /// Tasks newest first, one page (1-based) of `limit`, with their counts; and how many
    /// there are.
    pub async fn list(&self, limit: i64, page: i64) -> Result<(Vec<Task>, i64), sqlx::Error> {
        self.expire_now().await?;
        let limit = limit.clamp(1, 1000);
        let offset = (page.max(1) - 1).saturating_mul(limit);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TASK_COLUMNS} FROM tasks ORDER BY created_ms DESC, id DESC LIMIT {limit} OFFSET {offset}"
        )))
        .fetch_all(self.db.pool())
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks")
            .fetch_one(self.db.pool())
            .await?;
        let ids: Vec<String> = rows
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        let mut counts = self.counts(&ids).await?;
        let tasks = rows
            .iter()
            .zip(&ids)
            .map(|(r, id)| task_of(r, counts.remove(id).unwrap_or_default()))
            .collect::<Result<_, _>>()?;
        Ok((tasks, total))
    }

    /// Cancels task `id`: its queued hosts become `cancelled` at once, its running ones
    /// are told to stop at their agent's next poll (which reports them `cancelled`).
    /// Audited with the hosts affected; cancelling a finished task changes nothing.
    pub async fn cancel(&self, actor: &str, id: &str) -> Result<Task, TaskFault> {
        let now = argus_core::now_ms();
        let mut tx = self.db.begin().await?;
        if !lock_task(&mut tx, id).await? {
            return Err(TaskFault::NoTask(id.to_string()));
        }
        let queued: Vec<String> = sqlx::query_scalar(
            "SELECT host_id FROM task_hosts WHERE task_id = $1 AND status = 'queued' ORDER BY host_id",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let running: Vec<String> = sqlx::query_scalar(
            "SELECT host_id FROM task_hosts WHERE task_id = $1 AND status = 'running' ORDER BY host_id",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let reason = format!("cancelled by {actor} before it started");
        sqlx::query(
            "UPDATE task_hosts SET status = 'cancelled', finished_ms = $2, reason = $3
             WHERE task_id = $1 AND status = 'queued'",
        )
        .bind(id)
        .bind(now)
        .bind(&reason)
        .execute(&mut *tx)
        .await?;
        // 1: to tell its agent; the poll that tells it sets 2.
        sqlx::query(
            "UPDATE task_hosts SET cancel_state = 1
             WHERE task_id = $1 AND status = 'running' AND cancel_state = 0",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let changed = !queued.is_empty() || !running.is_empty();
        if changed {
            sqlx::query(
                "UPDATE tasks SET cancelled_ms = $2, cancelled_by = $3 WHERE id = $1 AND cancelled_ms IS NULL",
            )
            .bind(id)
            .bind(now)
            .bind(actor)
            .execute(&mut *tx)
            .await?;
            audit::record(
                &mut tx,
                Change {
                    actor,
                    action: "cancel",
                    object_kind: "task",
                    object_id: id,
                    before: Some(serde_json::json!({"queued": queued, "running": running})),
                    after: Some(serde_json::json!({
                        "cancelled": queued,
                        "told_to_stop": running,
                    })),
                },
            )
            .await?;
        }
        tx.commit().await?;
        if changed {
            self.wake_polls();
        }
        self.get(id)
            .await?
            .ok_or_else(|| TaskFault::NoTask(id.to_string()))
    }

    /// Marks `timed_out` every running host whose result is later than its timeout and
    /// [`RESULT_GRACE`] at `now_ms` (`cancelled` if it had been told to stop); how many.
    pub async fn expire(&self, now_ms: i64) -> Result<u64, sqlx::Error> {
        self.last_expiry_ms.store(now_ms, Ordering::Relaxed);
        let r = sqlx::query(
            "UPDATE task_hosts SET
               status = CASE WHEN cancel_state > 0 THEN 'cancelled' ELSE 'timed_out' END,
               finished_ms = $1,
               reason = CASE WHEN cancel_state > 0 THEN $2 ELSE $3 END
             WHERE status = 'running' AND deadline_ms < $1",
        )
        .bind(now_ms)
        .bind("told to stop; its agent never confirmed")
        .bind(format!(
            "its agent took it and sent no result within the timeout and a grace of {} s",
            RESULT_GRACE.as_secs()
        ))
        .execute(self.db.pool())
        .await?;
        if r.rows_affected() > 0 {
            // Slots were freed.
            self.wake_polls();
        }
        Ok(r.rows_affected())
    }

    /// [`expire`](Self::expire) now, unless it ran within the last [`RECHECK`].
    async fn expire_now(&self) -> Result<(), sqlx::Error> {
        let now = argus_core::now_ms();
        let last = self.last_expiry_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= RECHECK.as_millis() as i64 {
            self.expire(now).await?;
        }
        Ok(())
    }

    /// Hands host `host_id` its queued work (oldest task first, as far as each task's
    /// concurrency allows) and the running tasks it must stop, marking them handed.
    pub async fn take(&self, host_id: &str, now_ms: i64) -> Result<Delivery, sqlx::Error> {
        // A read first: most polls find nothing, and take no write lock for it.
        let candidates: Vec<(String, i64)> = sqlx::query(
            "SELECT h.task_id, h.cancel_state FROM task_hosts h JOIN tasks t ON t.id = h.task_id
             WHERE h.host_id = $1
               AND (h.status = 'queued' OR (h.status = 'running' AND h.cancel_state = 1))
             ORDER BY t.created_ms, t.id",
        )
        .bind(host_id)
        .fetch_all(self.db.pool())
        .await?
        .iter()
        .map(|r| Ok((r.try_get("task_id")?, r.try_get("cancel_state")?)))
        .collect::<Result<_, sqlx::Error>>()?;
        if candidates.is_empty() {
            return Ok(Delivery::default());
        }
        let mut out = Delivery::default();
        let mut tx = self.db.begin().await?;
        for (task_id, _) in &candidates {
            lock_task(&mut tx, task_id).await?;
            let stop = sqlx::query(
                "UPDATE task_hosts SET cancel_state = 2
                 WHERE task_id = $1 AND host_id = $2 AND status = 'running' AND cancel_state = 1",
            )
            .bind(task_id)
            .bind(host_id)
            .execute(&mut *tx)
            .await?;
            if stop.rows_affected() > 0 {
                out.cancel.push(task_id.clone());
                continue;
            }
            let task = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1"
            )))
            .bind(task_id)
            .fetch_one(&mut *tx)
            .await?;
            let concurrency: i64 = task.try_get("concurrency")?;
            if concurrency > 0 {
                let running: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM task_hosts WHERE task_id = $1 AND status = 'running'",
                )
                .bind(task_id)
                .fetch_one(&mut *tx)
                .await?;
                if running >= concurrency {
                    continue;
                }
            }
            let timeout_secs: i64 = task.try_get("timeout_secs")?;
            let deadline = now_ms
                .saturating_add(timeout_secs.saturating_mul(1000))
                .saturating_add(RESULT_GRACE.as_millis() as i64);
            let taken = sqlx::query(
                "UPDATE task_hosts SET status = 'running', started_ms = $3, deadline_ms = $4
                 WHERE task_id = $1 AND host_id = $2 AND status = 'queued'",
            )
            .bind(task_id)
            .bind(host_id)
            .bind(now_ms)
            .bind(deadline)
            .execute(&mut *tx)
            .await?;
            if taken.rows_affected() == 0 {
                continue;
            }
            let t = task_of(&task, BTreeMap::new())?;
            out.tasks.push(Assignment {
                id: t.id,
                kind: if t.kind == "plugin" {
                    "plugin"
                } else {
                    "command"
                },
                plugin: t.plugin,
                args: t.args,
                command: t.command,
                timeout_secs: t.timeout_secs,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Waits up to `wait` for work or cancellations for host `host_id`, and hands them
    /// over ([`take`](Self::take)); empty when there was none in that time, or when the
    /// server is stopping.
    pub async fn wait_for_host(
        &self,
        host_id: &str,
        wait: Duration,
    ) -> Result<Delivery, sqlx::Error> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut woken = self.wake.subscribe();
        let mut stop = self.stop.clone();
        loop {
            let _ = woken.borrow_and_update();
            if stop.as_ref().is_some_and(|s| *s.borrow()) {
                return Ok(Delivery::default());
            }
            self.expire_now().await?;
            let got = self.take(host_id, argus_core::now_ms()).await?;
            if !got.is_empty() {
                return Ok(got);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(got);
            }
            let nap = (deadline - now).min(RECHECK);
            let stopping = async {
                match stop.as_mut() {
                    Some(s) => {
                        let _ = s.wait_for(|s| *s).await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = woken.changed() => {}
                _ = tokio::time::sleep(nap) => {}
                _ = stopping => return Ok(Delivery::default()),
            }
        }
    }

    /// Records the outcome an agent reported for host `host_id` of task `task_id`, which
    /// must be running there. Output is cut to `max_output_bytes`.
    pub async fn report(
        &self,
        task_id: &str,
        host_id: &str,
        outcome: Outcome,
    ) -> Result<(), TaskFault> {
        let status = HostStatus::parse(&outcome.status)
            .filter(|s| s.is_final())
            .ok_or_else(|| TaskFault::Field {
                field: "status",
                reason: format!(
                    "{:?} is not one of done, failed, timed_out, refused, cancelled",
                    outcome.status
                ),
            })?;
        if outcome.duration_ms.is_some_and(|d| d < 0) {
            return Err(TaskFault::Field {
                field: "duration_ms",
                reason: "must not be negative".into(),
            });
        }
        let (stdout, cut_out) = cut(&outcome.stdout, self.max_output_bytes);
        let (stderr, cut_err) = cut(&outcome.stderr, self.max_output_bytes);
        let (reason, _) = cut(&outcome.reason, 4096);
        let now = argus_core::now_ms();
        let mut tx = self.db.begin().await?;
        if !lock_task(&mut tx, task_id).await? {
            return Err(TaskFault::NoTask(task_id.to_string()));
        }
        let current: Option<String> =
            sqlx::query_scalar("SELECT status FROM task_hosts WHERE task_id = $1 AND host_id = $2")
                .bind(task_id)
                .bind(host_id)
                .fetch_optional(&mut *tx)
                .await?;
        let current = current.ok_or_else(|| TaskFault::NoHost {
            task: task_id.to_string(),
            host: host_id.to_string(),
        })?;
        let current = HostStatus::parse(&current).unwrap_or(HostStatus::Failed);
        if current != HostStatus::Running {
            return Err(TaskFault::NotRunning {
                task: task_id.to_string(),
                host: host_id.to_string(),
                status: current.as_str(),
            });
        }
        sqlx::query(
            "UPDATE task_hosts SET status = $3, finished_ms = $4, duration_ms = $5, exit_code = $6,
               stdout = $7, stdout_truncated = $8, stderr = $9, stderr_truncated = $10, reason = $11
             WHERE task_id = $1 AND host_id = $2",
        )
        .bind(task_id)
        .bind(host_id)
        .bind(status.as_str())
        .bind(now)
        .bind(outcome.duration_ms)
        .bind(outcome.exit_code)
        .bind(stdout)
        .bind(i64::from(cut_out || outcome.stdout_truncated))
        .bind(stderr)
        .bind(i64::from(cut_err || outcome.stderr_truncated))
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        // A slot of the task may be free for its next host.
        self.wake_polls();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::tests::on_both_backends;

    /// A catalog holding exactly the plugins named: the seam as the plugin store fills it.
    struct Listed(Vec<&'static str>);

    impl PluginCatalog for Listed {
        fn exists<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool, String>> {
            Box::pin(async move { Ok(self.0.contains(&name)) })
        }
    }

    fn hosts(ids: &[&str]) -> Vec<TargetHost> {
        ids.iter()
            .map(|i| TargetHost {
                id: i.to_string(),
                hostname: format!("{i}.example"),
            })
            .collect()
    }

    fn command_task(ids: &[&str], concurrency: Option<u32>) -> NewTask {
        NewTask {
            target: serde_json::json!({"hosts": ids}),
            hosts: hosts(ids),
            work: Work::Command("echo hi".into()),
            timeout_secs: 10,
            concurrency,
        }
    }

    fn done(stdout: &str) -> Outcome {
        Outcome {
            status: "done".into(),
            exit_code: Some(0),
            stdout: stdout.into(),
            duration_ms: Some(12),
            ..Outcome::default()
        }
    }

    on_both_backends!(
        tasks_are_handed_out_reported_listed_and_audited,
        super::lifecycle_suite
    );
    on_both_backends!(concurrency_cancel_and_expiry_hold, super::concurrency_suite);

    async fn lifecycle_suite(db: Database) {
        let db = Arc::new(db);
        let store = TaskStore::new(db.clone(), Arc::new(Listed(vec!["disk-check"])), 8);
        assert_eq!(store.catalog().exists("disk-check").await, Ok(true));
        assert_eq!(store.catalog().exists("other").await, Ok(false));
        assert_eq!(NoPlugins.exists("disk-check").await, Ok(false));
        let id = store
            .create("ed", command_task(&["m1", "m2"], None))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let t = store
            .get(&id)
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no task"));
        assert_eq!(t.state, "queued");
        assert_eq!(t.command.as_deref(), Some("echo hi"));
        assert_eq!(t.created_by, "ed");
        assert_eq!(t.counts.get("queued"), Some(&2));

        // Each host takes its own work, once.
        let now = argus_core::now_ms();
        let d = store
            .take("m1", now)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.tasks.len(), 1);
        assert_eq!(d.tasks[0].id, id);
        assert_eq!(d.tasks[0].command.as_deref(), Some("echo hi"));
        assert_eq!(d.tasks[0].timeout_secs, 10);
        assert!(store.take("m1", now).await.unwrap_or_default().is_empty());
        assert!(store.take("m9", now).await.unwrap_or_default().is_empty());
        // A result is cut at 8 bytes (on a character boundary) and marked.
        store
            .report(&id, "m1", done("héllo wörld"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // A second result for the same host, one for a host not running it, a bad status.
        assert!(matches!(
            store.report(&id, "m1", done("again")).await,
            Err(TaskFault::NotRunning { status: "done", .. })
        ));
        assert!(matches!(
            store.report(&id, "m2", done("x")).await,
            Err(TaskFault::NotRunning {
                status: "queued",
                ..
            })
        ));
        assert!(matches!(
            store.report(&id, "m7", done("x")).await,
            Err(TaskFault::NoHost { .. })
        ));
        assert!(matches!(
            store.report("tnope", "m1", done("x")).await,
            Err(TaskFault::NoTask(_))
        ));
        let d = store.take("m2", now).await.unwrap_or_default();
        assert_eq!(d.tasks.len(), 1);
        let bad = Outcome {
            status: "running".into(),
            ..Outcome::default()
        };
        assert!(matches!(
            store.report(&id, "m2", bad).await,
            Err(TaskFault::Field {
                field: "status",
                ..
            })
        ));
        let failed = Outcome {
            status: "failed".into(),
            exit_code: Some(3),
            stderr: "oops".into(),
            duration_ms: Some(5),
            ..Outcome::default()
        };
        store
            .report(&id, "m2", failed)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let t = store
            .get(&id)
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no task"));
        assert_eq!(t.state, "failed");
        let hs = t.hosts.clone().unwrap_or_default();
        assert_eq!(hs.len(), 2);
        assert_eq!(hs[0].host, "m1");
        assert_eq!(hs[0].status, HostStatus::Done);
        assert_eq!(hs[0].stdout, "héllo w");
        assert!(hs[0].stdout_truncated);
        assert_eq!(hs[0].exit_code, Some(0));
        assert_eq!(hs[0].duration_ms, Some(12));
        assert!(hs[0].started_ms.is_some() && hs[0].finished_ms >= hs[0].started_ms);
        assert_eq!(hs[1].status, HostStatus::Failed);
        assert_eq!((hs[1].exit_code, hs[1].stderr.as_str()), (Some(3), "oops"));
        assert!(!hs[1].stderr_truncated);

        // A plugin task, newer: listed first.
        let id2 = store
            .create(
                "ada",
                NewTask {
                    target: serde_json::json!({"group": "db"}),
                    hosts: hosts(&["m1"]),
                    work: Work::Plugin {
                        name: "disk-check".into(),
                        args: vec!["-w".into(), "90".into()],
                    },
                    timeout_secs: 30,
                    concurrency: Some(1),
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (list, total) = store.list(10, 1).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(total, 2);
        let ids: Vec<&str> = list.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, vec![id2.as_str(), id.as_str()]);
        assert_eq!(list[0].plugin.as_deref(), Some("disk-check"));
        assert_eq!(list[0].args, Some(vec!["-w".to_string(), "90".to_string()]));
        assert_eq!(list[0].concurrency, Some(1));
        assert_eq!(list[1].counts.get("done"), Some(&1));
        assert_eq!(list[1].counts.get("failed"), Some(&1));
        assert!(list[0].hosts.is_none());
        let (page2, _) = store.list(1, 2).await.unwrap_or_default();
        assert_eq!(page2.len(), 1);
        assert_eq!(page2[0].id, id);
        let d = store.take("m1", now).await.unwrap_or_default();
        assert_eq!(d.tasks[0].kind, "plugin");
        assert_eq!(d.tasks[0].plugin.as_deref(), Some("disk-check"));
        assert_eq!(
            d.tasks[0].args,
            Some(vec!["-w".to_string(), "90".to_string()])
        );
        assert_eq!(d.tasks[0].command, None);

        // No target host: refused.
        let mut empty = command_task(&[], None);
        empty.hosts.clear();
        assert!(matches!(
            store.create("ed", empty).await,
            Err(TaskFault::Field {
                field: "target",
                ..
            })
        ));

        // The creation is in the audit log, with the hosts it resolved to.
        let entries = audit::list(
            &db,
            &audit::Filter {
                object_kind: Some("task".into()),
                limit: 10,
                ..audit::Filter::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(entries.len(), 2);
        let first = &entries[1];
        assert_eq!(
            (first.actor.as_str(), first.action.as_str()),
            ("ed", "create")
        );
        assert_eq!(first.object_id, id);
        assert_eq!(first.after["command"], "echo hi");
        assert_eq!(
            first.after["target"],
            serde_json::json!({"hosts": ["m1", "m2"]})
        );
        assert_eq!(first.after["hosts"][1]["id"], "m2");
        assert_eq!(first.after["hosts"][1]["hostname"], "m2.example");
        assert_eq!(entries[0].after["plugin"], "disk-check");
        assert_eq!(entries[0].after["concurrency"], 1);
    }

    async fn concurrency_suite(db: Database) {
        let db = Arc::new(db);
        let store = Arc::new(TaskStore::new(db.clone(), Arc::new(NoPlugins), 1024));
        let id = store
            .create("ed", command_task(&["a", "b", "c"], Some(1)))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let now = argus_core::now_ms();
        // Three hosts polling at once: exactly one gets the one slot.
        let (x, y, z) = tokio::join!(
            store.take("a", now),
            store.take("b", now),
            store.take("c", now)
        );
        let got: Vec<usize> = [x, y, z]
            .into_iter()
            .map(|d| d.unwrap_or_else(|e| panic!("{e}")).tasks.len())
            .collect();
        assert_eq!(got.iter().sum::<usize>(), 1, "{got:?}");
        let first = ["a", "b", "c"][got.iter().position(|n| *n == 1).unwrap_or(0)];
        // A waiting poll of another host is woken by the result that frees the slot.
        let second = if first == "a" { "b" } else { "a" };
        let waiter = {
            let store = store.clone();
            let second = second.to_string();
            tokio::spawn(async move {
                let t0 = std::time::Instant::now();
                let d = store.wait_for_host(&second, Duration::from_secs(20)).await;
                (d, t0.elapsed())
            })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        store
            .report(&id, first, done("1"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (d, waited) = waiter.await.unwrap_or_else(|e| panic!("{e}"));
        let d = d.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.tasks.len(), 1, "{d:?}");
        assert!(
            waited < RECHECK,
            "woken by the result, not by the recheck: {waited:?}"
        );

        // Cancel: the last queued host is cancelled at once, the running one is told.
        let t = store
            .cancel("ada", &id)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.cancelled_by.as_deref(), Some("ada"));
        assert_eq!(t.counts.get("cancelled"), Some(&1));
        assert_eq!(t.counts.get("running"), Some(&1));
        let third = ["a", "b", "c"]
            .into_iter()
            .find(|h| *h != first && *h != second)
            .unwrap_or("c");
        let hs = t.hosts.clone().unwrap_or_default();
        let h3 = hs.iter().find(|h| h.host == third).cloned();
        assert_eq!(h3.map(|h| h.status), Some(HostStatus::Cancelled));
        let d = store.take(second, now).await.unwrap_or_default();
        assert_eq!((d.tasks.len(), d.cancel.clone()), (0, vec![id.clone()]));
        // Told once.
        assert!(store.take(second, now).await.unwrap_or_default().is_empty());
        let cancelled = Outcome {
            status: "cancelled".into(),
            reason: "killed".into(),
            ..Outcome::default()
        };
        store
            .report(&id, second, cancelled)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let t = store
            .get(&id)
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("gone"));
        assert_eq!(t.state, "cancelled");
        assert!(matches!(
            store.cancel("ada", "tnope").await,
            Err(TaskFault::NoTask(_))
        ));

        // A host that took its work and never reported is timed out past timeout + grace.
        let id = store
            .create("ed", command_task(&["a"], None))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let d = store.take("a", now).await.unwrap_or_default();
        assert_eq!(d.tasks.len(), 1);
        let grace = RESULT_GRACE.as_millis() as i64;
        assert_eq!(store.expire(now + 10_000 + grace - 1).await.ok(), Some(0));
        assert_eq!(store.expire(now + 10_000 + grace + 1).await.ok(), Some(1));
        let t = store
            .get(&id)
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("gone"));
        let h = t.hosts.unwrap_or_default().remove(0);
        assert_eq!(h.status, HostStatus::TimedOut);
        assert!(h.reason.contains("no result"), "{}", h.reason);
        assert_eq!(t.state, "failed");
        // A late result is not taken.
        assert!(matches!(
            store.report(&id, "a", done("late")).await,
            Err(TaskFault::NotRunning {
                status: "timed_out",
                ..
            })
        ));
        // A poll with nothing for it waits its time and comes back empty; a stopping
        // server ends it at once.
        let t0 = std::time::Instant::now();
        let d = store
            .wait_for_host("zz", Duration::from_millis(300))
            .await
            .unwrap_or_default();
        assert!(d.is_empty());
        assert!(t0.elapsed() >= Duration::from_millis(300));
        let (tx, rx) = watch::channel(false);
        let stopping = Arc::new(TaskStore::new(db, Arc::new(NoPlugins), 1024).with_stop(rx));
        let waiter = {
            let s = stopping.clone();
            tokio::spawn(async move {
                let t0 = std::time::Instant::now();
                let _ = s.wait_for_host("zz", Duration::from_secs(30)).await;
                t0.elapsed()
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = tx.send(true);
        let waited = waiter.await.unwrap_or_else(|e| panic!("{e}"));
        assert!(waited < Duration::from_secs(5), "{waited:?}");
    }

    #[test]
    fn cut_keeps_whole_characters() {
        assert_eq!(cut("abc", 3), ("abc".to_string(), false));
        assert_eq!(cut("abcd", 3), ("abc".to_string(), true));
        assert_eq!(cut("aé", 2), ("a".to_string(), true));
        assert_eq!(cut("", 0), (String::new(), false));
    }

    #[test]
    fn task_state_follows_its_hosts() {
        let c = |pairs: &[(&'static str, i64)]| pairs.iter().copied().collect::<BTreeMap<_, _>>();
        assert_eq!(state_of(&c(&[("queued", 2)]), false), "queued");
        assert_eq!(
            state_of(&c(&[("queued", 1), ("done", 1)]), false),
            "running"
        );
        assert_eq!(state_of(&c(&[("running", 1)]), true), "running");
        assert_eq!(state_of(&c(&[("done", 2)]), false), "done");
        assert_eq!(
            state_of(&c(&[("done", 1), ("refused", 1)]), false),
            "failed"
        );
        assert_eq!(
            state_of(&c(&[("done", 1), ("cancelled", 1)]), true),
            "cancelled"
        );
    }
}
