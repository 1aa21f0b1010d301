//! [`ScriptDir`]: the scripts directory, polled for scripts that appear, change or go.
//!
//! A **script** is an executable regular file in the directory (a symlink to one counts),
//! whose name is not hidden and does not end in `.toml`, `.md` or `~`. Its **fingerprint**
//! (modification time, size, inode) tells a changed script from an unchanged one; a
//! changed script is removed and added again, so it starts afresh with its new contents.
//! Polling costs one `readdir` and a `stat` per file, and works on every filesystem,
//! including network and container mounts where inotify does not.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::input::ScriptInput;
use super::name::{interval_prefix, is_script_name};
use super::run::Settings;
use super::{ScriptError, ScriptsConfig};
use crate::input::{Plugin, Schedule};

/// How much longer than a script's own timeout the runtime should wait for its round: the
/// round kills the script at its timeout and needs a moment to reap it and close pipes.
pub const TIMEOUT_GRACE: Duration = Duration::from_secs(2);

/// What changed since the last [`ScriptDir::scan`].
#[derive(Default)]
pub struct Changes {
    /// New and changed scripts, to start.
    pub added: Vec<Plugin>,
    /// Names of the plugins of removed and changed scripts, to stop. A changed script's
    /// name is in both lists: remove first, then add.
    pub removed: Vec<String>,
}

impl std::fmt::Debug for Changes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let added: Vec<&str> = self.added.iter().map(|p| p.name.as_str()).collect();
        f.debug_struct("Changes")
            .field("added", &added)
            .field("removed", &self.removed)
            .finish()
    }
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// What tells one version of a file from another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    mtime: i64,
    mtime_nsec: i64,
    size: u64,
    dev: u64,
    ino: u64,
}

impl Fingerprint {
    fn of(m: &std::fs::Metadata) -> Self {
        Fingerprint {
            mtime: m.mtime(),
            mtime_nsec: m.mtime_nsec(),
            size: m.size(),
            dev: m.dev(),
            ino: m.ino(),
        }
    }
}

/// The scripts directory; see the module docs.
#[derive(Debug)]
pub struct ScriptDir {
    dir: PathBuf,
    interval_secs: u64,
    timeout: Duration,
    settings: Arc<Settings>,
    /// The scripts that have plugins, by file name.
    known: BTreeMap<String, Fingerprint>,
    /// Files skipped with a warning, so that the warning is given once per version.
    warned: BTreeMap<String, Fingerprint>,
    /// Whether the last scan found the directory missing (said once, not every scan).
    missing: bool,
}

impl ScriptDir {
    /// The scripts directory of `config`, or `None` when script plugins are disabled.
    /// `data_dir` is the agent's data directory, which a relative `dir` is under.
    pub fn build(config: &ScriptsConfig, data_dir: &Path) -> Result<Option<Self>, ScriptError> {
        if !config.enabled {
            return Ok(None);
        }
        ScriptDir::new(config, data_dir).map(Some)
    }

    /// The scripts directory of `config`, whether or not it is enabled. Nothing is read
    /// until the first [`scan`](Self::scan); the user scripts run as is looked up now.
    pub fn new(config: &ScriptsConfig, data_dir: &Path) -> Result<Self, ScriptError> {
        config.validate()?;
        let dir = config.dir_in(data_dir);
        Ok(ScriptDir {
            settings: Arc::new(Settings::from_config(config, dir.clone())),
            dir,
            interval_secs: config.interval_secs,
            timeout: Duration::from_secs(config.timeout_secs),
            known: BTreeMap::new(),
            warned: BTreeMap::new(),
            missing: false,
        })
    }

    /// The directory scanned.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Lists the directory and returns what changed since the last scan: plugins for new
    /// and changed scripts, and the names of those to stop. A directory that does not exist
    /// holds no scripts; one that cannot be read is logged and changes nothing.
    pub fn scan(&mut self) -> Changes {
        let mut changes = Changes::default();
        let Some(found) = self.list() else {
            return changes;
        };
        let gone: Vec<String> = self
            .known
            .iter()
            .filter(|(name, fp)| found.get(*name) != Some(*fp))
            .map(|(name, _)| name.clone())
            .collect();
        for name in gone {
            self.known.remove(&name);
            changes.removed.push(format!("script:{name}"));
        }
        for (name, fp) in found {
            if self.known.contains_key(&name) {
                continue;
            }
            let path = self.dir.join(&name);
            let input = ScriptInput::with_settings(path, Arc::clone(&self.settings));
            let interval = interval_prefix(&name).unwrap_or(self.interval_secs);
            changes.added.push(Plugin {
                name: format!("script:{name}"),
                input: Box::new(input),
                schedule: Schedule {
                    interval: (interval > 0).then(|| Duration::from_secs(interval)),
                    timeout: Some(self.timeout + TIMEOUT_GRACE),
                },
            });
            self.known.insert(name, fp);
        }
        if !changes.is_empty() {
            tracing::info!(dir = %self.dir.display(), ?changes, "script plugins changed");
        }
        changes
    }

    /// The scripts in the directory now, or `None` if it cannot be read.
    fn list(&mut self) -> Option<BTreeMap<String, Fingerprint>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !self.missing {
                    tracing::info!(dir = %self.dir.display(), "no scripts directory");
                    self.missing = true;
                }
                return Some(BTreeMap::new());
            }
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot list scripts");
                return None;
            }
        };
        self.missing = false;
        let mut found = BTreeMap::new();
        for entry in entries {
            let Ok(entry) = entry else { continue };
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if !is_script_name(&name) {
                continue;
            }
            // Follows symlinks: a link to a Nagios plugin is a script.
            let Ok(meta) = std::fs::metadata(entry.path()) else {
                continue;
            };
            if !meta.is_file() || meta.mode() & 0o111 == 0 {
                continue;
            }
            let fp = Fingerprint::of(&meta);
            if meta.mode() & 0o002 != 0 {
                // Anyone could change what the agent runs.
                if self.warned.get(&name) != Some(&fp) {
                    tracing::warn!(script = %entry.path().display(), "skipping a world-writable script");
                    self.warned.insert(name, fp);
                }
                continue;
            }
            found.insert(name, fp);
        }
        self.warned.retain(|name, _| !found.contains_key(name));
        Some(found)
    }
}
