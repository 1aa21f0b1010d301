//! The state file: where each followed file was left, and its counters.
//!
//! The **state** of an instance is one JSON document, rewritten after every run that
//! changed it (written to `<file>.tmp`, synced, then renamed over the old one, so a crash
//! leaves the old or the new state and never half of one):
//!
//! ```json
//! {"version": 1,
//!  "files": {"/var/log/app.log": {"dev": 2049, "ino": 1311, "offset": 52311,
//!                                 "lines": 1804, "events_dropped": 0,
//!                                 "matches": {"error": 12, "oom": 0}}}}
//! ```
//!
//! `offset` is the byte where reading resumes if the path still leads to the same
//! device and inode; the counters continue whatever the path now leads to. A document of
//! another `version` is not read.

use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::tail::FileId;

/// The version this code writes and reads.
pub(super) const VERSION: u32 = 1;

/// The whole state file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct State {
    pub version: u32,
    /// By path.
    pub files: BTreeMap<String, SavedFile>,
}

impl Default for State {
    fn default() -> Self {
        State {
            version: VERSION,
            files: BTreeMap::new(),
        }
    }
}

/// One file's entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SavedFile {
    pub dev: u64,
    pub ino: u64,
    pub offset: u64,
    pub lines: u64,
    pub events_dropped: u64,
    /// By rule name, so that adding, removing or reordering rules keeps the others.
    pub matches: BTreeMap<String, u64>,
}

impl SavedFile {
    pub fn id(&self) -> FileId {
        FileId {
            dev: self.dev,
            ino: self.ino,
        }
    }
}

/// Why a state file could not be read.
#[derive(Debug, thiserror::Error)]
pub(super) enum StateError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} is not a log state file: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path} has version {found}; this agent reads version {VERSION}")]
    Version { path: PathBuf, found: u32 },
}

/// Reads the state at `path`; a missing file is an empty state.
pub(super) fn load(path: &Path) -> Result<State, StateError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(State::default()),
        Err(source) => {
            return Err(StateError::Read {
                path: path.into(),
                source,
            });
        }
    };
    let state: State = serde_json::from_slice(&bytes).map_err(|source| StateError::Parse {
        path: path.into(),
        source,
    })?;
    if state.version != VERSION {
        return Err(StateError::Version {
            path: path.into(),
            found: state.version,
        });
    }
    Ok(state)
}

/// Replaces the file at `path` with `bytes` atomically (see the module docs), creating
/// its directory if needed.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}
