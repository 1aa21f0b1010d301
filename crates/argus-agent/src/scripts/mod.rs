//! Script plugins: executables in a directory, in any language, that the agent runs on a
//! schedule and whose standard output becomes samples and events.
//!
//! A **script plugin** is an executable file in `[agent.scripts] dir` (`plugins.d` under the
//! data directory by default). [`ScriptDir::scan`] polls the directory and hands the runtime
//! a [`Plugin`](crate::input::Plugin) named `script:<file name>` for each new or changed
//! script, and the names of those removed; a file name's leading `<seconds>_` sets its
//! interval. Each round of a [`ScriptInput`] runs the script with a clean environment, as an
//! unprivileged user when the agent is root, and kills it at its timeout. Its output is read
//! in one of these formats, declared by an `argus-format:` comment or detected:
//!
//! - a JSON object (or array of objects) with a string `type`: an **event** of that type;
//! - a JSON list of `{name, value, timestamp, tags}`: **samples** of `plugin_<script>_<name>`;
//! - Influx **line protocol**: points as written;
//! - **Nagios plugin** output: the exit status as `nagios_state`, perfdata as `nagios_<label>`,
//!   and a `nagios` event when the state changes;
//! - **tcollector** lines `metric timestamp value tag=v`: samples named as written;
//! - **collectd exec** `PUTVAL` lines: samples named as collectd's `write_prometheus` names
//!   them, and `PUTNOTIF` lines as `collectd_notification` events;
//! - a **Zabbix** `UserParameter` value: one sample named by the item key (`argus-key:`).
//!
//! A round that goes wrong in any way raises a `plugin_error` event and returns a
//! [`ScriptError`] naming the script and what was wrong. The user's guide is
//! `docs/plugins/scripts.md`.

mod collectd;
mod config;
mod dir;
mod format;
mod input;
mod item_key;
mod nagios;
mod name;
// Remote tasks (crate::tasks) run commands and plugins the way scripts run.
pub(crate) mod run;
mod tcollector;
pub(crate) mod user;
mod zabbix;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use config::{SAMPLE_CONFIG, ScriptsConfig};
pub use dir::{Changes, ScriptDir, TIMEOUT_GRACE};
pub use input::ScriptInput;
pub(crate) use run::Settings;

/// Reads a JSON list of metrics `[{name, value, timestamp, tags}]` (or one such object), the
/// script format, as the agent's `POST /post` takes it: each metric named as written with
/// the characters outside `[a-zA-Z0-9_]` replaced by `_` (`cpu.idle` is `cpu_idle`, and a
/// name without `_` gets `_value`), its `timestamp` in seconds (0, none, or one more than a
/// year from `now_ms` is `now_ms`), the points' timestamps in milliseconds. All or
/// nothing: the error names the first bad item (`item 2: ...`).
pub fn json_metrics(
    body: &str,
    now_ms: i64,
) -> Result<Vec<argus_core::line_protocol::Line<'static>>, String> {
    format::metric_list(body, now_ms)
}

/// What went wrong with script plugins.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScriptError {
    /// `[agent.scripts]` holds a value that cannot work.
    #[error("{0}")]
    Config(String),
    /// A round of one script failed; whatever output was valid was still used.
    #[error("script {script}: {}", join(problems))]
    Round {
        /// The script's file name.
        script: String,
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

/// One thing wrong with a round of a script.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    /// The agent is root and `agent.scripts.user` cannot be resolved.
    #[error("not run: {0}")]
    NotRun(String),
    #[error("cannot start: {0}")]
    Spawn(String),
    #[error("timed out after {secs} s and was killed{}", stderr_note(stderr))]
    TimedOut { secs: u64, stderr: String },
    #[error("killed by signal {signal}{}", stderr_note(stderr))]
    Signal { signal: i32, stderr: String },
    #[error("exited with status {code}{}", stderr_note(stderr))]
    Exit { code: i32, stderr: String },
    /// Output read as Nagios plugin output, but an exit status that is no Nagios state.
    #[error(
        "exit status {code} is not a Nagios state (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN){}",
        stderr_note(stderr)
    )]
    NotNagiosState { code: i32, stderr: String },
    /// More output than `max_output_bytes`.
    #[error("output longer than {limit} bytes (max_output_bytes); the rest was discarded")]
    Truncated { limit: usize },
    /// Output, or part of it, that is not valid in its format; says where.
    #[error("bad output: {0}")]
    BadOutput(String),
}

fn join(problems: &[Problem]) -> String {
    let parts: Vec<String> = problems.iter().map(Problem::to_string).collect();
    parts.join("; ")
}

fn stderr_note(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(" (stderr: {stderr})")
    }
}
