//! Distributed plugins: what an editor gives the server (one script, a tar.gz of a
//! directory, or a git repository and ref) made into a checked **version** in the one form
//! agents download, a plugin archive ([`argus_core::plugin_archive`]), and stored with
//! [`PluginStore`].
//!
//! [`Plugins::intake`] decides what a `PUT /api/argus/plugins/{name}` body is: JSON is a
//! git source (exported by [`git`]), bytes starting with the gzip magic (or sent as
//! `application/gzip`) are an archive, anything else is a script. Whatever it is must fit
//! in `[plugins] max_bytes`, compressed and unpacked, and hold its entry point; nothing is
//! stored otherwise, so a failed upload leaves the plugin's current version as it was.

pub mod git;

use crate::store::plugins::{GitSource, NewVersion, PluginStore};
use argus_core::plugin_archive::{self, ArchiveError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `[plugins]`: distributed plugins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsConfig {
    /// The largest plugin in bytes: an upload, a git export, and each of them unpacked.
    /// Larger: 413.
    pub max_bytes: usize,
    /// Seconds a git clone of a plugin's repository may take; then it is stopped and the
    /// request answers 400.
    pub git_timeout_secs: u64,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            max_bytes: 16 * 1024 * 1024,
            git_timeout_secs: 120,
        }
    }
}

/// Why a body cannot become a version.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// Over `[plugins] max_bytes`.
    #[error("the plugin is larger than the limit of {limit} bytes ([plugins] max_bytes)")]
    TooLarge { limit: usize },
    #[error("{0}")]
    Bad(String),
    #[error(transparent)]
    Git(#[from] git::GitError),
}

impl From<ArchiveError> for IntakeError {
    fn from(e: ArchiveError) -> Self {
        match e {
            ArchiveError::TooLarge { limit } => IntakeError::TooLarge {
                limit: limit as usize,
            },
            other => IntakeError::Bad(other.to_string()),
        }
    }
}

/// The JSON body that registers a git source: `{"git": {"url", "ref", "path"}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GitBody {
    git: GitSource,
}

/// The plugins: their store and the limits of `[plugins]`.
pub struct Plugins {
    pub store: PluginStore,
    pub config: PluginsConfig,
}

impl Plugins {
    pub fn new(store: PluginStore, config: PluginsConfig) -> Plugins {
        Plugins { store, config }
    }

    /// Makes a version of a request body sent with `content_type`.
    pub async fn intake(&self, content_type: &str, body: &[u8]) -> Result<NewVersion, IntakeError> {
        let ct = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if body.is_empty() {
            return Err(IntakeError::Bad(
                "empty body: send a script, a tar.gz of the plugin's directory, or {\"git\": {\"url\": …, \"ref\": …}}".into(),
            ));
        }
        if body.len() > self.config.max_bytes {
            return Err(IntakeError::TooLarge {
                limit: self.config.max_bytes,
            });
        }
        if ct == "application/json" {
            let g: GitBody =
                serde_json::from_slice(body).map_err(|e| IntakeError::Bad(format!("body: {e}")))?;
            return self.from_git(g.git).await;
        }
        let gzip_type = matches!(
            ct.as_str(),
            "application/gzip"
                | "application/x-gzip"
                | "application/x-tar+gzip"
                | "application/x-compressed-tar"
        );
        let archive = if gzip_type || plugin_archive::is_gzip(body) {
            body.to_vec()
        } else {
            plugin_archive::from_script(body)
        };
        let checked = self.check(&archive)?;
        Ok(NewVersion {
            version: plugin_archive::sha256_hex(&archive),
            archive,
            manifest: checked,
            git: None,
        })
    }

    /// Exports `source` at its ref's commit.
    pub async fn from_git(&self, source: GitSource) -> Result<NewVersion, IntakeError> {
        git::check_source(&source)?;
        let (commit, archive) = git::export(
            &source,
            Duration::from_secs(self.config.git_timeout_secs.max(1)),
            self.config.max_bytes,
        )
        .await?;
        let manifest = self.check(&archive)?;
        Ok(NewVersion {
            version: commit,
            archive,
            manifest,
            git: Some(source),
        })
    }

    fn check(&self, archive: &[u8]) -> Result<plugin_archive::Manifest, IntakeError> {
        if archive.len() > self.config.max_bytes {
            return Err(IntakeError::TooLarge {
                limit: self.config.max_bytes,
            });
        }
        let c = plugin_archive::check(archive, self.config.max_bytes as u64)?;
        let mut m = c.manifest;
        m.entry = c.entry;
        Ok(m)
    }
}
