//! The `log` input: tails log files and turns the lines that match rules into counters and
//! events.
//!
//! An **instance** is one `[[agent.inputs.log]]` table: file globs, the [rules](Rule) their
//! lines are checked against, and a state file. Each run expands the globs again, follows
//! every file found by device and inode (see [`tail`]: rotation by rename, truncation,
//! deletion), reads the complete lines appended since the last run, and counts per file
//! the lines read and per file and rule the lines matched. A line that matches a rule with
//! `event = true` also becomes a `log` event, at most `max_events_per_minute` per instance;
//! the rest are counted as dropped. Offsets and counters are saved after every run (see
//! [`state`]), so a restarted agent resumes where it stopped and its counters go on.

mod config;
mod state;
mod tail;
#[cfg(test)]
pub(super) mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

use argus_core::Event;
use argus_core::line_protocol::Line;

use config::Settings;
pub use config::{
    Config, ConfigError, DEFAULT_MAX_EVENTS_PER_MINUTE, DEFAULT_MAX_LINE_BYTES, Rule,
};
use state::{SavedFile, State};
use tail::{FileId, Tail};

use crate::input::{Input, Plugin, Schedule};

/// The documented `[[agent.inputs.log]]` example, commented out: the default config has no
/// instance.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

/// Most bytes read from one file in one run; the rest waits for the next run, so a large
/// backlog cannot stall the agent.
const MAX_READ_BYTES_PER_GATHER: u64 = 8 * 1024 * 1024;
/// Bytes read at a time.
const CHUNK_BYTES: usize = 64 * 1024;
/// The window `max_events_per_minute` counts in.
const EVENT_WINDOW_MS: i64 = 60_000;

/// `*` and `?` stay within one path component; `**` crosses directories.
const GLOB_OPTIONS: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// Builds the enabled instances of `[[agent.inputs.log]]`, named `log:<name>` (or
/// `log:<position>` when unnamed), keeping their state under `data_dir` unless they name a
/// `state_file` of their own.
pub fn plugins(configs: &[Config], data_dir: &Path) -> anyhow::Result<Vec<Plugin>> {
    let mut plugins = Vec::new();
    let mut labels = HashSet::new();
    for (index, config) in configs.iter().enumerate() {
        let label = config::label(config, index);
        if !labels.insert(label.clone()) {
            return Err(ConfigError {
                instance: label,
                key: "name".into(),
                message: "another instance has this name (or position)".into(),
            }
            .into());
        }
        if let Some(input) = Log::build(config, index, data_dir)? {
            plugins.push(Plugin {
                name: format!("log:{label}"),
                input,
                schedule: Schedule::from_secs(config.interval_secs, config.timeout_secs),
            });
        }
    }
    Ok(plugins)
}

/// One instance of the `log` input; see the module docs.
#[derive(Debug)]
pub struct Log {
    settings: Settings,
    /// Oldest first, so a rotated-away file is read before the one that replaced it.
    tails: Vec<Tail>,
    /// By path: what is reported.
    counters: BTreeMap<String, Counters>,
    events: Events,
    /// Offsets from the state file that no file has claimed yet, by path.
    saved_offsets: BTreeMap<String, (FileId, u64)>,
    /// Counters from the state file that no file has claimed yet, by path.
    saved_counters: BTreeMap<String, Counters>,
    /// Whether a run has happened: files found later are new and read whole.
    started: bool,
    read_budget: u64,
    buf: Vec<u8>,
    /// The state last written, to skip writing an unchanged one.
    last_saved: Vec<u8>,
    /// The last problem logged per file (or `""` for the state file), so that a lasting
    /// problem is logged once and not at every run.
    warned: HashMap<String, String>,
}

/// One path's counters since they began (they survive restarts through the state file).
#[derive(Debug, Clone, PartialEq)]
struct Counters {
    lines: u64,
    events_dropped: u64,
    /// By rule, in config order.
    matches: Vec<u64>,
}

impl Counters {
    fn new(rules: usize) -> Self {
        Counters {
            lines: 0,
            events_dropped: 0,
            matches: vec![0; rules],
        }
    }
}

/// Events waiting for [`Input::drain_events`], and the rate limit.
#[derive(Debug)]
struct Events {
    queue: Vec<Event>,
    max_per_minute: u32,
    window_start_ms: Option<i64>,
    sent_in_window: u32,
}

impl Events {
    /// Whether one more event may be sent at `now_ms`. The queue is capped as well, so
    /// events that nobody drains cannot pile up.
    fn admit(&mut self, now_ms: i64) -> bool {
        let expired = self
            .window_start_ms
            .is_none_or(|start| now_ms < start || now_ms.saturating_sub(start) >= EVENT_WINDOW_MS);
        if expired {
            self.window_start_ms = Some(now_ms);
            self.sent_in_window = 0;
        }
        let cap = self.max_per_minute as usize;
        if self.sent_in_window >= self.max_per_minute || self.queue.len() >= cap {
            return false;
        }
        self.sent_in_window += 1;
        true
    }
}

/// A file the globs lead to in this run.
struct Found {
    path: PathBuf,
    /// The path as text: the `file` tag.
    label: String,
    id: FileId,
}

impl Log {
    /// Builds the instance at `index` of `[[agent.inputs.log]]` if it is enabled; its
    /// default state file is under `data_dir`.
    pub fn build(
        config: &Config,
        index: usize,
        data_dir: &Path,
    ) -> anyhow::Result<Option<Box<dyn Input>>> {
        if !config.enabled {
            return Ok(None);
        }
        Ok(Some(Box::new(Log::new(config, index, data_dir)?)))
    }

    /// Checks the options. The state file is read at the first run, not here, so that an
    /// instance built to replace a running one (a configuration reload) takes over the
    /// offsets that one saved last.
    pub fn new(config: &Config, index: usize, data_dir: &Path) -> Result<Log, ConfigError> {
        let settings = config::check(config, index, data_dir)?;
        Ok(Log {
            events: Events {
                queue: Vec::new(),
                max_per_minute: settings.max_events_per_minute,
                window_start_ms: None,
                sent_in_window: 0,
            },
            settings,
            tails: Vec::new(),
            counters: BTreeMap::new(),
            saved_offsets: BTreeMap::new(),
            saved_counters: BTreeMap::new(),
            started: false,
            read_budget: MAX_READ_BYTES_PER_GATHER,
            buf: vec![0; CHUNK_BYTES],
            last_saved: Vec::new(),
            warned: HashMap::new(),
        })
    }

    /// Reads the saved state. One that cannot be read is logged and ignored: the files
    /// are then treated as seen for the first time.
    fn load_state(&mut self) {
        let saved = state::load(&self.settings.state_path).unwrap_or_else(|e| {
            tracing::warn!(input = "log", instance = %self.settings.label, error = %e,
                "ignoring the saved offsets");
            State::default()
        });
        for (path, f) in saved.files {
            let matches = self
                .settings
                .rules
                .iter()
                .map(|r| f.matches.get(&r.name).copied().unwrap_or(0))
                .collect();
            let counters = Counters {
                lines: f.lines,
                events_dropped: f.events_dropped,
                matches,
            };
            self.saved_offsets.insert(path.clone(), (f.id(), f.offset));
            self.saved_counters.insert(path, counters);
        }
    }

    /// The regular files the globs lead to, each file once (the first path found for it).
    fn expand(&self) -> Vec<Found> {
        let mut found = Vec::new();
        let mut ids = HashSet::new();
        for pattern in &self.settings.files {
            // Patterns were checked when the input was built.
            let Ok(paths) = glob::glob_with(pattern, GLOB_OPTIONS) else {
                continue;
            };
            // Entries that are errors are directories that cannot be read: skipped.
            for path in paths.flatten() {
                let Ok(meta) = std::fs::metadata(&path) else {
                    continue;
                };
                if !meta.is_file() {
                    continue;
                }
                let id = FileId::of(&meta);
                if ids.insert(id) {
                    let label = path.to_string_lossy().into_owned();
                    found.push(Found { path, label, id });
                }
            }
        }
        found
    }

    /// Matches the files found with the tails: known files may have a new path, tails
    /// not found are gone, and files not yet followed get a tail.
    fn follow(&mut self, found: &[Found]) {
        let by_id: HashMap<FileId, &Found> = found.iter().map(|f| (f.id, f)).collect();
        for tail in &mut self.tails {
            match by_id.get(&tail.id) {
                Some(f) => {
                    tail.path.clone_from(&f.label);
                    tail.gone = false;
                }
                None => tail.gone = true,
            }
        }
        let followed: HashSet<FileId> = self.tails.iter().map(|t| t.id).collect();
        for f in found.iter().filter(|f| !followed.contains(&f.id)) {
            let (offset, claimed) = self.start_offset(f);
            match Tail::open(&f.path, f.label.clone(), offset) {
                Ok(tail) if tail.id == f.id => {
                    if let Some(key) = claimed {
                        self.saved_offsets.remove(&key);
                    }
                    self.warned.remove(&f.label);
                    self.tails.push(tail);
                }
                // Replaced between the glob and the open: picked up at the next run.
                Ok(_) => {}
                Err(e) => warn_once(
                    &mut self.warned,
                    &self.settings.label,
                    &f.label,
                    format!("cannot open {}: {e}", f.label),
                ),
            }
        }
    }

    /// Where to start reading a file not yet followed (`None`: at its end), and the saved
    /// entry that offset comes from.
    fn start_offset(&self, f: &Found) -> (Option<u64>, Option<String>) {
        // Same path, same file: resume.
        if let Some(&(id, offset)) = self.saved_offsets.get(&f.label)
            && id == f.id
        {
            return (Some(offset), Some(f.label.clone()));
        }
        // The file was renamed to another matching path while the agent was down.
        if let Some((path, &(_, offset))) = self.saved_offsets.iter().find(|(_, s)| s.0 == f.id) {
            return (Some(offset), Some(path.clone()));
        }
        // The path was followed before but now leads to another file: all of it is new.
        if self.saved_offsets.contains_key(&f.label) {
            return (Some(0), None);
        }
        if !self.started && !self.settings.from_beginning {
            return (None, None);
        }
        // A file that appeared since the agent started: all of it is new.
        (Some(0), None)
    }

    /// Reads every tail, oldest first, and drops the gone ones that are drained.
    fn read_all(&mut self, now_ms: i64) {
        let Log {
            settings,
            tails,
            counters,
            events,
            saved_counters,
            read_budget,
            buf,
            warned,
            ..
        } = self;
        let mut drained = Vec::new();
        for (i, tail) in tails.iter_mut().enumerate() {
            let path = tail.path.clone();
            let counters = counters.entry(path.clone()).or_insert_with(|| {
                saved_counters
                    .remove(&path)
                    .unwrap_or_else(|| Counters::new(settings.rules.len()))
            });
            let mut on_line =
                |line: &[u8]| take_line(settings, counters, events, &path, line, now_ms);
            let budget = *read_budget;
            match read_tail(tail, buf, budget, settings.max_line_bytes, &mut on_line) {
                Ok(done) => {
                    if done {
                        drained.push(i);
                    }
                    warned.remove(&path);
                }
                Err(e) => {
                    let message = format!("cannot read {path}: {e}");
                    warn_once(warned, &settings.label, &path, message);
                    if tail.gone {
                        drained.push(i);
                    }
                }
            }
        }
        for i in drained.into_iter().rev() {
            tails.remove(i);
        }
    }

    /// One point per file and rule, and one per file.
    fn report(&self, now_ms: i64, out: &mut Vec<Line<'static>>) {
        let base = |path: &str| {
            let line = Line::new("log");
            let line = match &self.settings.instance {
                Some(name) => line.tag("instance", name.clone()),
                None => line,
            };
            line.tag("file", path.to_string())
        };
        for (path, c) in &self.counters {
            for (rule, n) in self.settings.rules.iter().zip(&c.matches) {
                out.push(
                    base(path)
                        .tag("rule", rule.name.clone())
                        .uint("matches", *n)
                        .timestamp(now_ms),
                );
            }
            out.push(
                base(path)
                    .uint("lines", c.lines)
                    .uint("events_dropped", c.events_dropped)
                    .timestamp(now_ms),
            );
        }
    }

    /// Forgets the counters of paths no file is followed at any more (after they were
    /// reported one last time), so deleted files stop being series, and the problems of
    /// paths the globs no longer find.
    fn forget(&mut self, found: &[Found]) {
        let live: HashSet<&str> = self.tails.iter().map(|t| t.path.as_str()).collect();
        self.counters.retain(|path, _| live.contains(path.as_str()));
        let found: HashSet<&str> = found.iter().map(|f| f.label.as_str()).collect();
        self.warned.retain(|path, _| {
            path.is_empty() || live.contains(path.as_str()) || found.contains(path.as_str())
        });
    }

    /// Writes the state file if it changed; a failure is logged and retried next run.
    fn save(&mut self) {
        let mut state = State::default();
        for tail in self.tails.iter().filter(|t| !t.gone) {
            let Some(c) = self.counters.get(&tail.path) else {
                continue;
            };
            let matches = self
                .settings
                .rules
                .iter()
                .zip(&c.matches)
                .map(|(r, n)| (r.name.clone(), *n))
                .collect();
            let saved = SavedFile {
                dev: tail.id.dev,
                ino: tail.id.ino,
                offset: tail.saved_offset(),
                lines: c.lines,
                events_dropped: c.events_dropped,
                matches,
            };
            state.files.insert(tail.path.clone(), saved);
        }
        let bytes = match serde_json::to_vec_pretty(&state) {
            Ok(bytes) => bytes,
            Err(e) => {
                let message = format!("cannot encode the state: {e}");
                warn_once(&mut self.warned, &self.settings.label, "", message);
                return;
            }
        };
        if bytes == self.last_saved {
            return;
        }
        match state::write_atomic(&self.settings.state_path, &bytes) {
            Ok(()) => {
                self.last_saved = bytes;
                self.warned.remove("");
            }
            Err(e) => {
                let path = self.settings.state_path.display();
                let message = format!("cannot save offsets to {path}: {e}");
                warn_once(&mut self.warned, &self.settings.label, "", message);
            }
        }
    }
}

impl Input for Log {
    fn name(&self) -> &str {
        "log"
    }

    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
        // Problems with single files or the state file are logged, not returned: an error
        // would discard this run's points of every other file too.
        if !self.started {
            self.load_state();
        }
        let found = self.expand();
        self.follow(&found);
        self.read_all(now_ms);
        self.started = true;
        self.report(now_ms, out);
        self.forget(&found);
        self.save();
        Ok(())
    }

    fn drain_events(&mut self, out: &mut Vec<Event>) {
        out.append(&mut self.events.queue);
    }
}

/// One run's reading of one tail. Returns whether the tail is done with: gone (rotated
/// away or deleted) and drained, with nothing new since the last run.
fn read_tail(
    tail: &mut Tail,
    buf: &mut [u8],
    budget: u64,
    max_line: usize,
    on_line: &mut dyn FnMut(&[u8]),
) -> io::Result<bool> {
    tail.restart_if_truncated(on_line)?;
    let read = tail.read(buf, budget, max_line, on_line)?;
    if !read.eof {
        return Ok(false);
    }
    // A gone file is kept one more run after its last bytes, for a writer that has not
    // reopened its log yet.
    if tail.gone && read.bytes == 0 {
        tail.flush(on_line);
        return Ok(true);
    }
    tail.age_pending(on_line);
    Ok(false)
}

/// Counts one line, checks it against every rule, and raises the events it earns.
fn take_line(
    settings: &Settings,
    counters: &mut Counters,
    events: &mut Events,
    path: &str,
    line: &[u8],
    now_ms: i64,
) {
    counters.lines = counters.lines.saturating_add(1);
    let text = String::from_utf8_lossy(line);
    for (rule, matches) in settings.rules.iter().zip(counters.matches.iter_mut()) {
        if !rule.is_match(&text) {
            continue;
        }
        *matches = matches.saturating_add(1);
        if !rule.event {
            continue;
        }
        if !events.admit(now_ms) {
            counters.events_dropped = counters.events_dropped.saturating_add(1);
            continue;
        }
        let mut payload = serde_json::Map::new();
        if let Some(name) = &settings.instance {
            payload.insert("instance".into(), name.clone().into());
        }
        payload.insert("file".into(), path.into());
        payload.insert("rule".into(), rule.name.clone().into());
        payload.insert("line".into(), text.clone().into_owned().into());
        if let Some(level) = &rule.level {
            payload.insert("level".into(), level.clone().into());
        }
        events.queue.push(Event {
            kind: "log".into(),
            host: String::new(),
            ts: now_ms,
            payload,
        });
    }
}

/// Logs `message` for `key` unless it is what was last logged for it.
fn warn_once(warned: &mut HashMap<String, String>, instance: &str, key: &str, message: String) {
    if warned.get(key) == Some(&message) {
        return;
    }
    tracing::warn!(input = "log", instance, "{message}");
    warned.insert(key.to_string(), message);
}
