//! [`ScriptInput`]: one script as an [`Input`].
//!
//! A **round** runs the script once (see [`super::run`]) and reads its output in the
//! declared or detected format. A round **fails** when the script could not run, timed out,
//! was killed, exited non-zero (except for a Nagios plugin, whose status is its state),
//! wrote more than the limit, or wrote output that is not valid in its format. A failed
//! round still delivers whatever parts of the output were valid, raises a `plugin_error`
//! event and returns a [`ScriptError`] naming the script and every problem.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use argus_core::Event;
use argus_core::line_protocol::Line;
use serde_json::{Map, Value};

use super::format::{self, Declared, Format, Parsed};
use super::item_key::Key;
use super::nagios::{self, STATES};
use super::run::{self, Failed, Finished, Settings};
use super::user::RunAs;
use super::{Problem, ScriptError, ScriptsConfig};
use super::{collectd, tcollector, zabbix};
use crate::input::Input;

/// A script plugin; see the module docs.
pub struct ScriptInput {
    /// `script:<file name>`.
    name: String,
    path: PathBuf,
    /// The file name, which errors name.
    file_name: String,
    /// The file name without interval prefix and extension, sanitized: the `plugin_<script>`
    /// measurement and the `plugin` label of Nagios samples.
    script: String,
    settings: Arc<Settings>,
    /// What the script declares in comments (`argus-format:`, `argus-key:`).
    declared: Result<Declared, String>,
    param: Option<String>,
    events: Vec<Event>,
    /// The Nagios state of the last round that had one.
    last_state: Option<i32>,
}

impl std::fmt::Debug for ScriptInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptInput")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("declared", &self.declared)
            .finish_non_exhaustive()
    }
}

impl ScriptInput {
    /// One script, run in its own directory with the settings of `config` (its `dir`,
    /// `enabled` and `interval_secs` are not used here: see [`super::ScriptDir`]).
    pub fn new(path: impl Into<PathBuf>, config: &ScriptsConfig) -> Result<Self, ScriptError> {
        config.validate()?;
        let path = path.into();
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        Ok(ScriptInput::with_settings(
            path,
            Arc::new(Settings::from_config(config, dir)),
        ))
    }

    pub(crate) fn with_settings(path: PathBuf, settings: Arc<Settings>) -> Self {
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let script = super::name::script_name(&file_name);
        ScriptInput {
            name: format!("script:{file_name}"),
            declared: format::declared(&path),
            path,
            file_name,
            script,
            settings,
            param: None,
            events: Vec::new(),
            last_state: None,
        }
    }

    /// A distributed plugin's entry point, named `plugin:<name>` in the runtime and
    /// `name` in errors and events; its JSON samples are `plugin_<name>_<metric>`.
    pub(crate) fn for_plugin(name: &str, path: PathBuf, settings: Arc<Settings>) -> Self {
        ScriptInput {
            name: format!("plugin:{name}"),
            declared: format::declared(&path),
            path,
            file_name: name.to_string(),
            script: format::sanitize(name),
            settings,
            param: None,
            events: Vec::new(),
            last_state: None,
        }
    }

    /// The script's name in series and labels: the file name without its interval prefix
    /// and extension, sanitized to `[a-zA-Z0-9_]`.
    pub fn script_name(&self) -> &str {
        &self.script
    }

    /// The script's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One round; returns the problems (the points and events are added all the same).
    fn round(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> Vec<Problem> {
        if let RunAs::Refused(why) = &self.settings.run_as {
            return vec![Problem::NotRun(why.clone())];
        }
        let param = self.param.take();
        // A Zabbix key's parameters are the command's arguments, as for `UserParameter=k[*]`.
        let args = match &self.declared {
            Ok(Declared { key: Some(key), .. }) => key.params.clone(),
            _ => Vec::new(),
        };
        let started = std::time::Instant::now();
        let finished = match run::run(&self.path, &self.settings, param.as_deref(), &args) {
            Ok(f) => f,
            Err(Failed::Spawn(e)) => return vec![Problem::Spawn(e)],
            Err(Failed::TimedOut { stderr }) => {
                return vec![Problem::TimedOut {
                    secs: self.settings.timeout.as_secs(),
                    stderr,
                }];
            }
        };
        tracing::debug!(
            script = %self.path.display(),
            status = ?finished.status,
            stdout_bytes = finished.stdout.len(),
            elapsed = ?started.elapsed(),
            "script ran"
        );
        self.interpret(finished, now_ms, out)
    }

    fn interpret(
        &mut self,
        finished: Finished,
        now_ms: i64,
        out: &mut Vec<Line<'static>>,
    ) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut text = String::from_utf8_lossy(&finished.stdout).into_owned();
        if finished.truncated {
            // Keep the complete lines: a cut line would only add a parse error.
            text.truncate(text.rfind('\n').map_or(0, |i| i + 1));
            problems.push(Problem::Truncated {
                limit: self.settings.max_output_bytes,
            });
        }
        let status = run::describe_status(finished.status);
        let stderr = finished.stderr;
        let (declared, key) = match &self.declared {
            Ok(d) => (d.format, d.key.clone()),
            Err(e) => {
                problems.push(Problem::BadOutput(e.clone()));
                (None, None)
            }
        };
        let format = declared.or_else(|| detect(&text, status));

        let mut parsed = Parsed::default();
        match format {
            Some(Format::Json) => format::parse_json(&text, &self.script, now_ms, &mut parsed),
            Some(Format::Line) => format::parse_line_protocol(&text, now_ms, &mut parsed),
            Some(Format::Tcollector) => tcollector::parse(&text, now_ms, &mut parsed),
            Some(Format::Collectd) => collectd::parse(&text, &self.script, now_ms, &mut parsed),
            Some(Format::Zabbix) => {
                let key = key.unwrap_or_else(|| Key::plain(&self.script));
                zabbix::parse(&text, &key, now_ms, &mut parsed);
            }
            Some(Format::Nagios) => {
                return self.nagios(&text, status, stderr, problems, now_ms, out);
            }
            None if text.trim().is_empty() => {}
            None => parsed.errors.push(undetected(&text, status)),
        }
        out.append(&mut parsed.points);
        self.events.append(&mut parsed.events);
        if let Some(e) = parsed.error_summary() {
            problems.push(Problem::BadOutput(e));
        }
        match status {
            Ok(0) => {}
            Ok(code) => problems.push(Problem::Exit { code, stderr }),
            Err(signal) => problems.push(Problem::Signal { signal, stderr }),
        }
        problems
    }

    fn nagios(
        &mut self,
        text: &str,
        status: Result<i32, i32>,
        stderr: String,
        mut problems: Vec<Problem>,
        now_ms: i64,
        out: &mut Vec<Line<'static>>,
    ) -> Vec<Problem> {
        let code = match status {
            Ok(code @ 0..=3) => code,
            Ok(code) => {
                problems.push(Problem::NotNagiosState { code, stderr });
                return problems;
            }
            Err(signal) => {
                problems.push(Problem::Signal { signal, stderr });
                return problems;
            }
        };
        let check = nagios::parse_output(text);
        out.extend(nagios::points(&self.script, code, &check, now_ms));
        if self.last_state != Some(code) {
            let mut payload = Map::new();
            payload.insert("plugin".into(), Value::from(self.script.clone()));
            payload.insert("state".into(), Value::from(STATES[code as usize]));
            payload.insert("code".into(), Value::from(code));
            payload.insert("output".into(), Value::from(check.text.clone()));
            if !check.long_text.is_empty() {
                payload.insert("long_output".into(), Value::from(check.long_text.clone()));
            }
            if let Some(prev) = self.last_state {
                payload.insert("previous".into(), Value::from(STATES[prev as usize]));
            }
            self.events.push(Event {
                kind: "nagios".into(),
                host: String::new(),
                ts: now_ms,
                payload,
            });
            self.last_state = Some(code);
        }
        if let Some(e) = format::summarize(&check.errors) {
            problems.push(Problem::BadOutput(e));
        }
        problems
    }
}

/// The format of undeclared output. Each test looks for a mark no other format has, in
/// this order: a complete JSON document first; `PUTVAL` or `PUTNOTIF` as the first word;
/// a first line of valid line protocol (`measurement[,tags] field=value`); a first line
/// `metric timestamp value [tag=value]` (tcollector); one line holding only a number (a
/// Zabbix value); an exit status of 0-3 with a state word in the first line (Nagios).
fn detect(text: &str, status: Result<i32, i32>) -> Option<Format> {
    if text.trim().is_empty() {
        return None;
    }
    if format::starts_with_json(text) {
        return Some(Format::Json);
    }
    if collectd::looks_like(text) {
        return Some(Format::Collectd);
    }
    if let Some(Ok(())) = format::first_line_protocol_error(text) {
        return Some(Format::Line);
    }
    if let Some(Ok(())) = tcollector::first_line_error(text) {
        return Some(Format::Tcollector);
    }
    if zabbix::looks_like(text) {
        return Some(Format::Zabbix);
    }
    match status {
        Ok(code) if nagios::looks_like_nagios(text, code) => Some(Format::Nagios),
        _ => None,
    }
}

/// Why output in no format is none of them, as precisely as can be said.
fn undetected(text: &str, status: Result<i32, i32>) -> String {
    let t = text.trim_start();
    let mut why = Vec::new();
    if t.starts_with('{') || t.starts_with('[') {
        if let Err(e) = serde_json::from_str::<Value>(t) {
            why.push(format!("as JSON: {e}"));
        }
    } else {
        if let Some(Err(e)) = format::first_line_protocol_error(text) {
            why.push(format!("as line protocol: {e}"));
        }
        if let Some(Err(e)) = tcollector::first_line_error(text) {
            why.push(format!("as tcollector: {e}"));
        }
    }
    why.push(
        match status {
            Ok(0..=3) => "as Nagios output: no OK, WARNING, CRITICAL or UNKNOWN in the first line",
            _ => "as Nagios output: the exit status is not 0-3",
        }
        .to_string(),
    );
    let shown: String = t.lines().next().unwrap_or("").chars().take(80).collect();
    format!(
        "output starting {shown:?} is in no format detected without a declaration: JSON, \
         collectd, line protocol, tcollector, a Zabbix value or Nagios plugin output ({})",
        why.join("; ")
    )
}

impl Input for ScriptInput {
    fn name(&self) -> &str {
        &self.name
    }

    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
        let problems = self.round(now_ms, out);
        if problems.is_empty() {
            return Ok(());
        }
        let error = ScriptError::Round {
            script: self.file_name.clone(),
            path: self.path.clone(),
            problems,
        };
        let mut payload = Map::new();
        payload.insert("plugin".into(), Value::from(self.file_name.clone()));
        payload.insert("error".into(), Value::from(error.to_string()));
        self.events.push(Event {
            kind: "plugin_error".into(),
            host: String::new(),
            ts: now_ms,
            payload,
        });
        Err(error.into())
    }

    fn drain_events(&mut self, out: &mut Vec<Event>) {
        out.append(&mut self.events);
    }

    fn set_param(&mut self, param: Option<&str>) {
        self.param = param.map(str::to_string);
    }
}
