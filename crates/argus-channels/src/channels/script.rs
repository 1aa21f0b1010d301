//! Scripts (`script_configs`, Argus's own kind): a local program given the notification
//! as the webhook v4 JSON on its standard input, for the channels Argus has no kind for
//! (SMS gateways, phone calls, ticket systems).
//!
//! The program runs directly, not through a shell, with `ARGUS_RECEIVER`,
//! `ARGUS_STATUS` and `ARGUS_GROUP_KEY` set. Exit status 0 means delivered; 75
//! (`EX_TEMPFAIL` of sysexits.h, "try again later") and a timeout are retried; any other
//! status fails at once. A script that runs past its timeout is killed with its whole
//! process group, so a `sleep` it started does not live on.

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use argus_notify::{IntegrationKind as Kind, config::ScriptConfig};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    process::Command,
};

use crate::{
    deliver::{Attempt, AttemptError, Delivered, Reason},
    kind::ConfigError,
};

/// The exit status that asks for another attempt (sysexits.h `EX_TEMPFAIL`).
pub const EXIT_TEMPFAIL: i32 = 75;

/// How much of the script's standard error is kept for the outcome's error text.
const STDERR_TAIL_BYTES: usize = 1024;

#[derive(Debug, Clone)]
pub(crate) struct Script {
    cfg: ScriptConfig,
    timeout: Duration,
}

impl Script {
    pub fn new(c: &ScriptConfig) -> Result<Self, ConfigError> {
        if c.command.is_empty() {
            return Err(ConfigError {
                kind: Kind::Script,
                field: "command",
                reason: "required".into(),
            });
        }
        let timeout = Duration::try_from(c.timeout)
            .ok()
            .filter(|t| !t.is_zero())
            .ok_or_else(|| ConfigError {
                kind: Kind::Script,
                field: "timeout",
                reason: "must be more than 0".into(),
            })?;
        Ok(Script {
            cfg: c.clone(),
            timeout,
        })
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub async fn attempt(&self, receiver: &str, a: Attempt<'_>) -> Result<Delivered, AttemptError> {
        let payload = a
            .notification
            .webhook_body(self.cfg.max_alerts)
            .into_bytes();
        // The status of what the script is given, as the body's.
        let (n, _) = a.notification.truncated(self.cfg.max_alerts);
        let mut cmd = Command::new(&self.cfg.command);
        cmd.args(&self.cfg.args)
            .envs(&self.cfg.env)
            .env("ARGUS_RECEIVER", receiver)
            .env("ARGUS_STATUS", n.status.as_str())
            .env("ARGUS_GROUP_KEY", &n.group_key)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so that a timeout kills what it started as well.
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            AttemptError::new(
                Reason::Script,
                format!("cannot start {:?}: {e}", self.cfg.command),
            )
        })?;
        let pid = child.id();
        let mut stdin = child.stdin.take();
        let feed = async move {
            if let Some(stdin) = stdin.as_mut() {
                // A script that does not read its input closes the pipe; that is its
                // choice, not a failed delivery.
                let _ = stdin.write_all(&payload).await;
                let _ = stdin.shutdown().await;
            }
            drop(stdin);
        };
        // Standard error is read on its own task: a script's background child may hold
        // it open long after the script exited, and that must not hold up the outcome.
        let tail = Arc::new(Mutex::new(Vec::new()));
        let mut drain = tokio::spawn(read_tail(child.stderr.take(), Arc::clone(&tail)));
        let run = async { tokio::join!(feed, child.wait()).1 };
        let status = match tokio::time::timeout(a.timeout, run).await {
            Ok(status) => status,
            Err(_) => {
                kill_group(pid);
                let _ = child.wait().await;
                drain.abort();
                return Err(AttemptError::new(
                    Reason::Timeout,
                    format!(
                        "{:?} ran longer than {} and was killed",
                        self.cfg.command,
                        humantime::format_duration(a.timeout)
                    ),
                )
                .retryable());
            }
        };
        if tokio::time::timeout(Duration::from_millis(250), &mut drain)
            .await
            .is_err()
        {
            drain.abort();
        }
        let tail = tail.lock().map(|t| t.clone()).unwrap_or_default();
        let status = status.map_err(|e| {
            AttemptError::new(
                Reason::Script,
                format!("waiting for {:?}: {e}", self.cfg.command),
            )
        })?;
        let code = status.code();
        if code == Some(0) {
            return Ok(Delivered { status: Some(0) });
        }
        let stderr = String::from_utf8_lossy(&tail).trim().to_owned();
        let what = match code {
            Some(c) => format!("exit status {c}"),
            None => "killed by a signal".to_owned(),
        };
        let mut e = AttemptError::new(
            Reason::Script,
            if stderr.is_empty() {
                format!("{:?}: {what}", self.cfg.command)
            } else {
                format!("{:?}: {what}: {stderr}", self.cfg.command)
            },
        );
        if let Some(c) = code.and_then(|c| u16::try_from(c).ok()) {
            e = e.status(c);
        }
        if code == Some(EXIT_TEMPFAIL) {
            e = e.retryable();
        }
        Err(e)
    }
}

/// Keeps the last `STDERR_TAIL_BYTES` the script writes to standard error.
async fn read_tail(stderr: Option<tokio::process::ChildStderr>, tail: Arc<Mutex<Vec<u8>>>) {
    let Some(mut stderr) = stderr else {
        return;
    };
    let mut buf = [0u8; 4096];
    while let Ok(k) = stderr.read(&mut buf).await {
        if k == 0 {
            break;
        }
        let Ok(mut t) = tail.lock() else {
            return;
        };
        t.extend_from_slice(&buf[..k]);
        if t.len() > STDERR_TAIL_BYTES {
            let excess = t.len() - STDERR_TAIL_BYTES;
            t.drain(..excess);
        }
    }
}

/// Sends SIGKILL to the process group `pid` leads; a group already gone is fine.
fn kill_group(pid: Option<u32>) {
    let Some(pid) = pid
        .and_then(|p| i32::try_from(p).ok())
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
}
