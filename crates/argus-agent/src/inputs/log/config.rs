//! `[[agent.inputs.log]]`: one instance's options, and the checks that turn them into
//! [`Settings`].
//!
//! A **rule** names a pattern, either a plain `keyword` (a substring) or a `regex`, that
//! lines are checked against; every line is checked against every rule. An instance's
//! **label** is its `name`, or its position among the `[[agent.inputs.log]]` tables when it
//! has none: it names the plugin (`log:<label>`) and the default state file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::inputs::common::input_config;
use serde::{Deserialize, Serialize};

/// Events an instance sends per minute unless configured.
pub const DEFAULT_MAX_EVENTS_PER_MINUTE: u32 = 60;
/// Longest line kept unless configured; the rest of a longer line is dropped.
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 * 1024;

input_config! {
    /// One `[[agent.inputs.log]]` table.
    instance "log" Config {
        /// Paths or globs of the files to tail (`*`, `?`, `[a-z]`, and `**` for any depth of
        /// directories), expanded again at every run so new files are picked up.
        files: Vec<String> = Vec::new(),
        /// Whether a file found at the first run without a saved offset is read from its
        /// beginning; false: from its end. Files that appear later are always read whole.
        from_beginning: bool = false,
        /// Events sent per minute for the whole instance; lines over the limit are counted in
        /// `events_dropped` instead.
        max_events_per_minute: u32 = DEFAULT_MAX_EVENTS_PER_MINUTE,
        /// Bytes kept of a line; the rest of a longer line is dropped.
        max_line_bytes: usize = DEFAULT_MAX_LINE_BYTES,
        /// Where offsets and counters are saved. Empty: `<data_dir>/log-offsets/<label>.json`;
        /// a relative path is relative to the data directory.
        state_file: PathBuf = PathBuf::new(),
        /// The rules every line is checked against.
        rules: Vec<Rule> = Vec::new(),
    }
}

/// One `[[agent.inputs.log.rules]]` table: exactly one of `keyword` and `regex`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rule {
    /// The `rule` tag and event field; unique within the instance.
    pub name: String,
    /// A line matches when it contains this text (case-sensitive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    /// A line matches when this regular expression (Rust `regex` syntax; `(?i)` for
    /// case-insensitive) matches part of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Whether each matching line is also sent as an event; false: only counted.
    pub event: bool,
    /// Free text copied into the events as `level`, such as `warning` or `critical`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
}

impl Default for Rule {
    fn default() -> Self {
        Rule {
            name: String::new(),
            keyword: None,
            regex: None,
            event: true,
            level: None,
        }
    }
}

/// An option that cannot work, naming the instance and the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("agent.inputs.log instance {instance}: key {key}: {message}")]
pub struct ConfigError {
    /// The instance's label (its name or its position).
    pub instance: String,
    pub key: String,
    pub message: String,
}

/// An instance's checked options.
#[derive(Debug)]
pub(super) struct Settings {
    /// The name or the position; see the module docs.
    pub label: String,
    /// The `instance` tag: the name, if any.
    pub instance: Option<String>,
    pub files: Vec<String>,
    pub from_beginning: bool,
    pub rules: Vec<Matcher>,
    pub max_events_per_minute: u32,
    pub max_line_bytes: usize,
    pub state_path: PathBuf,
}

/// A checked rule.
#[derive(Debug)]
pub(super) struct Matcher {
    pub name: String,
    pattern: Pattern,
    pub event: bool,
    pub level: Option<String>,
}

#[derive(Debug)]
enum Pattern {
    Keyword(String),
    Regex(regex::Regex),
}

impl Matcher {
    pub fn is_match(&self, line: &str) -> bool {
        match &self.pattern {
            Pattern::Keyword(k) => line.contains(k.as_str()),
            Pattern::Regex(r) => r.is_match(line),
        }
    }
}

/// The label of the instance at `index`; see the module docs.
pub(super) fn label(config: &Config, index: usize) -> String {
    if config.name.is_empty() {
        index.to_string()
    } else {
        config.name.clone()
    }
}

/// Checks `config` (the instance at `index`) and resolves its state file under `data_dir`.
pub(super) fn check(
    config: &Config,
    index: usize,
    data_dir: &Path,
) -> Result<Settings, ConfigError> {
    let label = label(config, index);
    let err = |key: &str, message: String| ConfigError {
        instance: label.clone(),
        key: key.to_string(),
        message,
    };
    // The name becomes a file name: keep it to characters that are safe everywhere.
    let name_ok = config
        .name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !config.name.starts_with('.');
    if !name_ok {
        return Err(err(
            "name",
            format!(
                "{:?}: use letters, digits, '_', '-' and '.' (not first)",
                config.name
            ),
        ));
    }
    if config.files.is_empty() {
        return Err(err("files", "list at least one file or glob".into()));
    }
    for pattern in &config.files {
        if let Err(e) = glob::Pattern::new(pattern) {
            return Err(err("files", format!("{pattern:?}: {e}")));
        }
    }
    if config.max_events_per_minute == 0 {
        return Err(err(
            "max_events_per_minute",
            "must be at least 1; set `event = false` on rules to send no events".into(),
        ));
    }
    if config.max_line_bytes == 0 {
        return Err(err("max_line_bytes", "must be at least 1".into()));
    }
    let mut names = HashSet::new();
    let mut rules = Vec::with_capacity(config.rules.len());
    for (i, rule) in config.rules.iter().enumerate() {
        let key = |k: &str| format!("rules[{i}].{k}");
        if rule.name.is_empty() {
            return Err(err(&key("name"), "every rule needs a name".into()));
        }
        if !names.insert(rule.name.as_str()) {
            return Err(err(
                &key("name"),
                format!("{:?} is used by an earlier rule", rule.name),
            ));
        }
        let pattern = match (&rule.keyword, &rule.regex) {
            (Some(k), None) if !k.is_empty() => Pattern::Keyword(k.clone()),
            (None, Some(r)) if !r.is_empty() => match regex::Regex::new(r) {
                Ok(r) => Pattern::Regex(r),
                Err(e) => return Err(err(&key("regex"), e.to_string())),
            },
            (Some(_), Some(_)) => {
                return Err(err(
                    &key("keyword"),
                    "set either keyword or regex, not both".into(),
                ));
            }
            _ => {
                return Err(err(
                    &key("keyword"),
                    "set a non-empty keyword or regex".into(),
                ));
            }
        };
        rules.push(Matcher {
            name: rule.name.clone(),
            pattern,
            event: rule.event,
            level: rule.level.clone(),
        });
    }
    let state_path = if config.state_file.as_os_str().is_empty() {
        data_dir.join("log-offsets").join(format!("{label}.json"))
    } else {
        data_dir.join(&config.state_file)
    };
    Ok(Settings {
        instance: (!config.name.is_empty()).then(|| config.name.clone()),
        label,
        files: config.files.clone(),
        from_beginning: config.from_beginning,
        rules,
        max_events_per_minute: config.max_events_per_minute,
        max_line_bytes: config.max_line_bytes,
        state_path,
    })
}
