//! Running one script once: a clean environment, a lower-privileged user, bounded output
//! and a deadline.
//!
//! A **run** spawns the script in a process group of its own, so that on timeout the
//! script and everything it started (a shell's `sleep`, a pipeline) die together with one
//! `kill(-pgid, SIGKILL)`. Standard output and standard error are read on two threads, each
//! keeping at most its limit and draining the rest, so a chatty script never blocks on a
//! full pipe. The calling thread polls `try_wait` until the deadline.
//!
//! Remote tasks run through the same path ([`run_with`]), adding arguments, a stderr
//! limit of their own and a flag that stops the run early (a cancelled task).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use super::ScriptsConfig;
use super::user::RunAs;

/// Bytes of standard error kept for error messages.
pub(crate) const STDERR_MAX_BYTES: usize = 4096;

/// How long to wait for the pipes to close once the script is dead or has exited.
const PIPE_GRACE: Duration = Duration::from_secs(1);

/// The `PATH` a script gets when the agent has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `ENOEXEC`: a file without `#!` that the kernel cannot execute; shells run those with
/// `/bin/sh`, and so do we.
const ENOEXEC: i32 = 8;
/// `ETXTBSY`: the file is open for writing, usually for an instant while it is being
/// installed (or while another thread of this process forks): worth a retry.
const ETXTBSY: i32 = 26;

/// How a script runs; shared by every script of a directory.
#[derive(Debug)]
pub(crate) struct Settings {
    /// The working directory.
    pub dir: PathBuf,
    pub env: BTreeMap<String, String>,
    pub timeout: Duration,
    pub max_output_bytes: usize,
    pub run_as: RunAs,
    /// Arguments after the script's path (a distributed plugin's assignment gives them).
    pub args: Vec<String>,
}

impl Settings {
    pub(crate) fn from_config(config: &ScriptsConfig, dir: PathBuf) -> Self {
        Settings {
            dir,
            env: config.env.clone(),
            timeout: Duration::from_secs(config.timeout_secs),
            max_output_bytes: config.max_output_bytes,
            run_as: RunAs::resolve(&config.user),
            args: Vec::new(),
        }
    }
}

/// A finished run.
#[derive(Debug)]
pub(crate) struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    /// Whether `stdout` was cut at the limit.
    pub truncated: bool,
    pub stderr: String,
    /// Whether `stderr` was cut at its limit.
    pub stderr_truncated: bool,
}

/// What a run is given besides its settings and `ARGUS_PARAM` (remote tasks).
#[derive(Debug, Default)]
pub(crate) struct Extra<'a> {
    /// Arguments after the program.
    pub args: &'a [String],
    /// Bytes of standard error kept; 0: [`STDERR_MAX_BYTES`].
    pub stderr_max_bytes: usize,
    /// Set from elsewhere to stop the run: the process group is killed as at the
    /// deadline, and the run ends in [`Failed::TimedOut`] (the caller, who set the flag,
    /// knows it was not the deadline).
    pub stop: Option<&'a AtomicBool>,
}

/// A run that produced no exit status to interpret.
#[derive(Debug)]
pub(crate) enum Failed {
    /// The script could not be started.
    Spawn(String),
    /// The deadline passed; the process group was killed.
    TimedOut { stderr: String },
}

/// Runs `program` with `args` as its arguments and `param` as `ARGUS_PARAM`.
pub(crate) fn run(
    program: &Path,
    settings: &Settings,
    param: Option<&str>,
    args: &[String],
) -> Result<Finished, Failed> {
    run_with(
        program,
        settings,
        param,
        &Extra {
            args,
            ..Extra::default()
        },
    )
}

/// [`run`] with arguments, a stderr limit and a stop flag.
pub(crate) fn run_with(
    program: &Path,
    settings: &Settings,
    param: Option<&str>,
    extra: &Extra<'_>,
) -> Result<Finished, Failed> {
    let mut child = spawn(program, settings, param, extra.args)?;
    let deadline = Instant::now() + settings.timeout;
    let stdout = capture(child.stdout.take(), settings.max_output_bytes);
    let stderr_max = match extra.stderr_max_bytes {
        0 => STDERR_MAX_BYTES,
        n => n,
    };
    let stderr = capture(child.stderr.take(), stderr_max);

    let status = wait_until(&mut child, deadline, extra.stop);
    let Some(status) = status else {
        kill_group(&mut child);
        let stderr = stderr.recv_timeout(PIPE_GRACE).unwrap_or_default();
        return Err(Failed::TimedOut {
            stderr: stderr.text(),
        });
    };
    // The script has exited, but a process it left in the background may still hold the
    // pipes open: give it until the deadline, then kill the group it belongs to.
    let wait = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(100));
    let out = match stdout.recv_timeout(wait) {
        Ok(out) => out,
        Err(_) => {
            kill_group(&mut child);
            stdout.recv_timeout(PIPE_GRACE).unwrap_or_default()
        }
    };
    let err = match stderr.recv_timeout(PIPE_GRACE) {
        Ok(err) => err,
        Err(_) => {
            kill_group(&mut child);
            stderr.recv_timeout(PIPE_GRACE).unwrap_or_default()
        }
    };
    Ok(Finished {
        status,
        truncated: out.total > out.bytes.len(),
        stdout: out.bytes,
        stderr_truncated: err.total > err.bytes.len(),
        stderr: err.text(),
    })
}

/// The exit code, or the signal that ended the process.
pub(crate) fn describe_status(status: ExitStatus) -> Result<i32, i32> {
    match (status.code(), status.signal()) {
        (Some(code), _) => Ok(code),
        (None, Some(signal)) => Err(signal),
        (None, None) => Err(0),
    }
}

fn spawn(
    program: &Path,
    settings: &Settings,
    param: Option<&str>,
    args: &[String],
) -> Result<Child, Failed> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let result = command(program, None, settings, param, args).spawn();
        let result = match result {
            Err(e) if e.raw_os_error() == Some(ENOEXEC) => {
                command(Path::new("/bin/sh"), Some(program), settings, param, args).spawn()
            }
            other => other,
        };
        match result {
            Ok(child) => return Ok(child),
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && attempts < 5 => {
                std::thread::sleep(Duration::from_millis(20 * attempts));
            }
            Err(e) => return Err(Failed::Spawn(spawn_error(&e, settings))),
        }
    }
}

fn spawn_error(e: &io::Error, settings: &Settings) -> String {
    match e.kind() {
        io::ErrorKind::PermissionDenied => format!(
            "{e} (it runs as {}: the script and the directories above it must be readable \
             and executable by that user)",
            settings.run_as.describe()
        ),
        _ => e.to_string(),
    }
}

fn command(
    program: &Path,
    script: Option<&Path>,
    s: &Settings,
    param: Option<&str>,
    args: &[String],
) -> Command {
    let mut cmd = Command::new(program);
    if let Some(script) = script {
        cmd.arg(script);
    }
    cmd.args(&s.args);
    cmd.args(args);
    cmd.current_dir(&s.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| OsString::from(DEFAULT_PATH)),
        );
    let home = match &s.run_as {
        RunAs::Account(a) => Some(a.home.clone().into_os_string()),
        _ => std::env::var_os("HOME"),
    };
    if let Some(home) = home {
        cmd.env("HOME", home);
    }
    if let Some(lang) = std::env::var_os("LANG") {
        cmd.env("LANG", lang);
    }
    cmd.envs(&s.env);
    if let Some(param) = param {
        cmd.env("ARGUS_PARAM", param);
    }
    if let RunAs::Account(a) = &s.run_as {
        // std also clears the supplementary groups when root drops to another uid.
        cmd.uid(a.uid).gid(a.gid);
    }
    cmd
}

/// Polls the child until it exits, or `deadline` passes or `stop` is set (`None`).
fn wait_until(
    child: &mut Child,
    deadline: Instant,
    stop: Option<&AtomicBool>,
) -> Option<ExitStatus> {
    let mut pause = Duration::from_millis(2);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            // Only possible if the child was reaped elsewhere; treat it as hung.
            Err(_) => return None,
        }
        let now = Instant::now();
        if now >= deadline || stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
            return None;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Kills the script's process group, then the script itself should it have left the
/// group, and reaps it.
fn kill_group(child: &mut Child) {
    if let Some(pgid) = i32::try_from(child.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        // ESRCH when every member is gone already: nothing to do.
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// What a reader thread kept.
#[derive(Debug, Default)]
struct Captured {
    bytes: Vec<u8>,
    /// Bytes read in all, kept or not.
    total: usize,
}

impl Captured {
    fn text(self) -> String {
        String::from_utf8_lossy(&self.bytes).trim().to_string()
    }
}

/// Reads `pipe` to its end on a thread, keeping the first `limit` bytes; the result arrives
/// on the returned channel when the pipe closes.
fn capture<R: Read + Send + 'static>(pipe: Option<R>, limit: usize) -> Receiver<Captured> {
    let (tx, rx) = mpsc::sync_channel(1);
    let Some(mut pipe) = pipe else {
        let _ = tx.send(Captured::default());
        return rx;
    };
    let spawned = std::thread::Builder::new()
        .name("argus-script-io".to_string())
        .spawn(move || {
            let mut kept = Captured::default();
            let mut chunk = [0u8; 8192];
            loop {
                match pipe.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => {
                        kept.total += n;
                        let room = limit.saturating_sub(kept.bytes.len());
                        kept.bytes.extend_from_slice(&chunk[..n.min(room)]);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = tx.send(kept);
        });
    if let Err(e) = spawned {
        // The pipe is dropped with the closure: the script gets EPIPE, and the run reports
        // empty output.
        tracing::warn!(error = %e, "cannot start a thread to read a script's output");
    }
    rx
}
