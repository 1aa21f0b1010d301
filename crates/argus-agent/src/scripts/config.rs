//! `[agent.scripts]`: where script plugins live and how they run.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::ScriptError;

/// The documented `[agent.scripts]` table, every option at its default.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

/// `[agent.scripts]` in the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScriptsConfig {
    /// Whether script plugins run at all.
    pub enabled: bool,
    /// The directory scanned for scripts. A relative path is under the agent's data
    /// directory.
    pub dir: PathBuf,
    /// Seconds between two runs of a script whose file name has no interval prefix
    /// (`60_check_disk.sh` runs every 60 s whatever this says); 0: the agent's interval.
    pub interval_secs: u64,
    /// Seconds a run may take; then the script and every process it started are killed and
    /// the round is reported as failed.
    pub timeout_secs: u64,
    /// When the agent runs as root, scripts run as this user (a name from `/etc/passwd`, or
    /// `<uid>:<gid>`). If it cannot be found no script runs: scripts never fall back to
    /// root. Set it to `root` to run them as root on purpose. Ignored when the agent is not
    /// root: scripts then run as the agent's user.
    pub user: String,
    /// Extra environment variables for every script, on top of `PATH`, `HOME` and `LANG`
    /// (which these may override).
    pub env: BTreeMap<String, String>,
    /// Bytes of standard output read from one run; the rest is discarded and the round is
    /// reported as failed (the complete lines before the cut are still used).
    pub max_output_bytes: usize,
}

impl Default for ScriptsConfig {
    fn default() -> Self {
        ScriptsConfig {
            enabled: true,
            dir: PathBuf::from("plugins.d"),
            interval_secs: 60,
            timeout_secs: 10,
            user: "nobody".to_string(),
            env: BTreeMap::new(),
            max_output_bytes: 1024 * 1024,
        }
    }
}

impl ScriptsConfig {
    /// The scripts directory: `dir`, under `data_dir` when relative.
    pub fn dir_in(&self, data_dir: &Path) -> PathBuf {
        data_dir.join(&self.dir)
    }

    /// Rejects values a run cannot work with.
    pub fn validate(&self) -> Result<(), ScriptError> {
        if self.timeout_secs == 0 {
            return Err(ScriptError::Config(
                "agent.scripts.timeout_secs must be at least 1".to_string(),
            ));
        }
        if self.max_output_bytes == 0 {
            return Err(ScriptError::Config(
                "agent.scripts.max_output_bytes must be at least 1".to_string(),
            ));
        }
        for (key, value) in &self.env {
            if key.is_empty() || key.contains(['=', '\0']) || value.contains('\0') {
                return Err(ScriptError::Config(format!(
                    "agent.scripts.env: {key:?} = {value:?} is not a valid environment variable"
                )));
            }
        }
        Ok(())
    }
}
