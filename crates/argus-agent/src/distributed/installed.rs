//! The **installed plugins** as the rest of the agent sees them: the server's list entry
//! ([`Assigned`]), one plugin unpacked and verified ([`InstalledPlugin`]), and the
//! cloneable lookup of all of them ([`Installed`]). This file imports nothing of the
//! runtime, which holds an [`Installed`]; applying lists is `sync.rs`'s.

use argus_core::plugin_archive::tree_digest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The runtime names distributed plugins `plugin:<name>`.
pub const PREFIX: &str = "plugin:";

/// Where installed plugins live, under the data directory.
pub const DIR: &str = "server-plugins";

/// The largest archive the agent downloads or unpacks, in bytes: a bound on what a server
/// can make it write, well above the server's default `[plugins] max_bytes` (16 MiB).
pub const MAX_BYTES: usize = 256 * 1024 * 1024;

/// One plugin of the server's list for this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assigned {
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub entry: String,
    /// 0: on demand only.
    pub interval_secs: u64,
    pub timeout_secs: u64,
    #[serde(default)]
    pub args: Vec<String>,
}

impl Assigned {
    /// Rejects what could not be a directory or file name under the plugins directory
    /// (the server checks the same; the agent does not rely on it).
    pub fn check(&self) -> Result<(), String> {
        let word = |v: &str, max: usize, extra: &[u8]| {
            (1..=max).contains(&v.len())
                && v.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
        };
        if !word(&self.name, 64, b"_-.") || self.name.starts_with(['.', '-']) {
            return Err(format!("{:?} is not a plugin name", self.name));
        }
        if !word(&self.version, 64, b"") || !self.version.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "version {:?} is not a digest or a commit",
                self.version
            ));
        }
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("sha256 {:?} is not a SHA-256", self.sha256));
        }
        if self.timeout_secs == 0 {
            return Err("timeout_secs is 0".into());
        }
        Ok(())
    }
}

/// A plugin installed from the server, as the runtime and the task runner see it.
#[derive(Debug, Clone, PartialEq)]
pub struct InstalledPlugin {
    pub name: String,
    /// The unpacked version: the working directory of its runs.
    pub dir: PathBuf,
    /// The entry point's absolute path.
    pub entry: PathBuf,
    pub version: String,
    /// Of the archive, as the server listed and the agent verified it.
    pub sha256: String,
    pub args: Vec<String>,
    pub timeout: Duration,
    /// `Duration::ZERO`: on demand only.
    pub interval: Duration,
    /// The tree digest taken when it was unpacked.
    pub(super) digest: String,
    /// The server's list entry it was installed from.
    pub(super) assigned: Assigned,
}

impl InstalledPlugin {
    /// Checks that the files on disk are still the ones unpacked (see the module docs).
    /// Call it before every run.
    pub fn verify(&self) -> Result<(), String> {
        match tree_digest(&self.dir) {
            Ok(d) if d == self.digest => Ok(()),
            Ok(d) => Err(format!(
                "checksum mismatch: the files of version {} in {} changed since they were unpacked (tree digest {d}, expected {}); not run",
                self.version,
                self.dir.display(),
                self.digest
            )),
            Err(e) => Err(format!(
                "cannot verify {}: {e}; not run",
                self.dir.display()
            )),
        }
    }
}

/// The installed plugins: a cloneable, thread-safe lookup by name. The agent keeps one
/// ([`crate::runtime::AgentHandle::installed_plugins`]); a remote task that names a
/// plugin runs what [`Installed::get`] returns, after [`InstalledPlugin::verify`].
#[derive(Clone, Debug)]
pub struct Installed {
    root: PathBuf,
    plugins: Arc<RwLock<BTreeMap<String, InstalledPlugin>>>,
    /// One sync at a time; holds the ETag of the list applied.
    pub(super) sync: Arc<tokio::sync::Mutex<Option<String>>>,
}

impl Installed {
    /// Installed plugins under `<data_dir>/server-plugins`.
    pub fn new(data_dir: &Path) -> Installed {
        Installed {
            root: data_dir.join(DIR),
            plugins: Arc::default(),
            sync: Arc::default(),
        }
    }

    /// The plugin installed under `name` (without the `plugin:` prefix), if any.
    pub fn get(&self, name: &str) -> Option<InstalledPlugin> {
        self.plugins
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// Every installed plugin, by name.
    pub fn list(&self) -> Vec<InstalledPlugin> {
        self.plugins
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Where installed plugins live.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(super) fn put(&self, p: InstalledPlugin) {
        self.plugins
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(p.name.clone(), p);
    }

    pub(super) fn remove(&self, name: &str) -> Option<InstalledPlugin> {
        self.plugins
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name)
    }
}
