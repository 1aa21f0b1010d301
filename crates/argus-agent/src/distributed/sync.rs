//! Applying the server's list: [`sync`] pulls it (with the ETag of the last list applied),
//! installs what is new or changed, restarts what only changed its settings, and removes
//! what is no longer assigned; [`restore`] starts the plugins of the last list applied when
//! the agent starts, from the archives it kept.
//!
//! A list is only marked applied (its ETag kept, its copy saved as `list.json`) when every
//! plugin in it installed; after a failure the next pull fetches the whole list again, so
//! a download that failed is retried and its failure reported again.

use super::input::{PluginInput, error_event, up_point};
use super::installed::{Assigned, Installed, InstalledPlugin, MAX_BYTES, PREFIX};
use crate::input::{Plugin, Schedule};
use crate::remote::PulledPlugins;
use crate::runtime::AgentHandle;
use crate::scripts::TIMEOUT_GRACE;
use argus_core::plugin_archive::{self, sha256_hex, tree_digest};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a sync did, by plugin name (`POST /plugins/update` answers it).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SyncReport {
    /// Whether the server's list differed from the one applied (false on a 304).
    pub changed: bool,
    /// Newly installed.
    pub installed: Vec<String>,
    /// A new version, or new settings (interval, timeout, arguments).
    pub updated: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: Vec<String>,
    /// Not installed, with why; an earlier version keeps running if there was one.
    pub failed: Vec<Failure>,
}

/// One plugin that could not be installed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Failure {
    pub plugin: String,
    pub error: String,
}

/// Why a sync could not apply any list.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SyncError {
    #[error("no server answered: {0}")]
    NoServer(String),
    #[error("the server's plugin list is not valid: {0}")]
    BadList(String),
}

#[derive(Deserialize)]
struct List {
    plugins: Vec<Assigned>,
}

/// The file that keeps the last list applied.
fn list_path(installed: &Installed) -> PathBuf {
    installed.root().join("list.json")
}

/// Where one version is unpacked, and its archive.
fn version_paths(root: &Path, a: &Assigned) -> (PathBuf, PathBuf) {
    let dir = root.join(&a.name);
    (
        dir.join(&a.version),
        dir.join(format!("{}.tar.gz", a.version)),
    )
}

/// Pulls the list now and applies it; see the module docs.
pub async fn sync(handle: &AgentHandle) -> Result<SyncReport, SyncError> {
    let installed = handle.installed_plugins();
    let mut applied = installed.sync.lock().await;
    let (servers, token) = handle.targets();
    let host = handle.status().host;
    let id = crate::heartbeat::machine_id(&host);
    let client = handle.http_client();
    let pulled =
        crate::remote::pull_plugins(&client, &servers, &token, &host, &id, applied.as_deref())
            .await
            .map_err(|e| SyncError::NoServer(format!("{e:#}")))?;
    let (text, etag) = match pulled {
        PulledPlugins::Unchanged => {
            return Ok(SyncReport {
                unchanged: installed.list().into_iter().map(|p| p.name).collect(),
                ..SyncReport::default()
            });
        }
        PulledPlugins::New { text, etag } => (text, etag),
    };
    let list: List = serde_json::from_str(&text).map_err(|e| SyncError::BadList(e.to_string()))?;
    let report = apply(handle, &installed, list.plugins, |a: Assigned| {
        let client = client.clone();
        let servers = servers.clone();
        let token = token.clone();
        let (host, id) = (host.clone(), id.clone());
        async move {
            crate::remote::download_plugin(
                &client,
                &servers,
                &token,
                (&host, &id),
                (&a.name, &a.version),
                MAX_BYTES,
            )
            .await
            .map_err(|e| format!("download failed: {e:#}"))
        }
    })
    .await;
    if report.failed.is_empty() {
        *applied = Some(etag);
        save_list(&installed);
    } else {
        *applied = None;
    }
    Ok(report)
}

/// Starts the plugins of the last list applied, from their kept archives (verified again).
pub async fn restore(handle: &AgentHandle) {
    let installed = handle.installed_plugins();
    let Ok(text) = std::fs::read_to_string(list_path(&installed)) else {
        return;
    };
    let Ok(list) = serde_json::from_str::<Vec<Assigned>>(&text) else {
        tracing::warn!(file = %list_path(&installed).display(), "ignoring an unreadable plugin list");
        return;
    };
    let report = apply(handle, &installed, list, |a: Assigned| async move {
        Err(format!(
            "the kept archive of version {} is missing or damaged; it is downloaded at the next pull",
            a.version
        ))
    })
    .await;
    tracing::info!(?report, "plugins from the server restored");
}

/// Applies `list`; `fetch` gets an archive that is not kept (or no longer matches).
pub(super) async fn apply<F, Fut>(
    handle: &AgentHandle,
    installed: &Installed,
    list: Vec<Assigned>,
    fetch: F,
) -> SyncReport
where
    F: Fn(Assigned) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<u8>, String>>,
{
    let mut report = SyncReport {
        changed: true,
        ..SyncReport::default()
    };
    let root = installed.root().to_path_buf();
    let wanted: std::collections::BTreeSet<String> = list.iter().map(|a| a.name.clone()).collect();
    for old in installed.list() {
        if !wanted.contains(&old.name) {
            handle.remove_plugin(&format!("{PREFIX}{}", old.name)).await;
            installed.remove(&old.name);
            let _ = std::fs::remove_dir_all(root.join(&old.name));
            tracing::info!(plugin = %old.name, "plugin removed: no longer assigned");
            report.removed.push(old.name);
        }
    }
    for a in list {
        if let Err(e) = a.check() {
            fail(handle, &mut report, &a.name, e).await;
            continue;
        }
        let current = installed.get(&a.name);
        let intact = current.as_ref().is_some_and(|c| c.verify().is_ok());
        match current {
            Some(c) if intact && c.assigned == a => {
                report.unchanged.push(a.name);
                continue;
            }
            Some(c) if intact && c.version == a.version && c.sha256 == a.sha256 => {
                // Same files, new settings.
                let p = InstalledPlugin {
                    args: a.args.clone(),
                    timeout: Duration::from_secs(a.timeout_secs),
                    interval: Duration::from_secs(a.interval_secs),
                    assigned: a.clone(),
                    ..c
                };
                start(handle, installed, p).await;
                report.updated.push(a.name);
                continue;
            }
            _ => {}
        }
        let (_, kept) = version_paths(&root, &a);
        let bytes = match std::fs::read(&kept) {
            Ok(b) if sha256_hex(&b) == a.sha256 => Ok(b),
            _ => fetch(a.clone()).await,
        };
        let result = match bytes {
            Ok(bytes) => {
                let (root, a) = (root.clone(), a.clone());
                tokio::task::spawn_blocking(move || install(&root, &a, &bytes))
                    .await
                    .unwrap_or_else(|e| Err(format!("install task failed: {e}")))
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(p) => {
                let was = installed.get(&a.name);
                start(handle, installed, p).await;
                prune(&root, &a);
                tracing::info!(plugin = %a.name, version = %a.version, "plugin installed");
                if was.is_some() {
                    report.updated.push(a.name);
                } else {
                    report.installed.push(a.name);
                }
            }
            Err(e) => fail(handle, &mut report, &a.name, e).await,
        }
    }
    report
}

/// Reports a plugin that could not be installed: in the log, as a `plugin_error` event and
/// as `argus_plugin_up 0`.
async fn fail(handle: &AgentHandle, report: &mut SyncReport, name: &str, error: String) {
    tracing::error!(plugin = %name, error = %error, "plugin not installed");
    let now = argus_core::now_ms();
    let _ = handle
        .push(
            vec![up_point(name, false, now)],
            vec![error_event(name, &error, now)],
        )
        .await;
    report.failed.push(Failure {
        plugin: name.to_string(),
        error,
    });
}

/// Registers `p` with the runtime (replacing its earlier version) and in the lookup.
async fn start(handle: &AgentHandle, installed: &Installed, p: InstalledPlugin) {
    let plugin = Plugin {
        name: format!("{PREFIX}{}", p.name),
        schedule: Schedule {
            interval: Some(p.interval),
            timeout: Some(p.timeout + TIMEOUT_GRACE),
        },
        input: Box::new(PluginInput::new(p.clone(), &handle.scripts_config())),
    };
    installed.put(p);
    handle.add_plugins(vec![plugin]).await;
}

/// Removes the other versions of `a`'s plugin from disk.
fn prune(root: &Path, a: &Assigned) {
    let (dir, kept) = version_paths(root, a);
    let Ok(entries) = std::fs::read_dir(root.join(&a.name)) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p == dir || p == kept {
            continue;
        }
        let _ = make_writable(&p);
        let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
    }
}

/// Verifies `bytes` against `a.sha256` and unpacks them as `a`'s version (replacing an
/// earlier copy of it), keeping the archive beside it. Files are left read-only.
pub(super) fn install(root: &Path, a: &Assigned, bytes: &[u8]) -> Result<InstalledPlugin, String> {
    let got = sha256_hex(bytes);
    if got != a.sha256 {
        return Err(format!(
            "checksum mismatch: the archive of version {} has SHA-256 {got}, the server lists {}; not installed",
            a.version, a.sha256
        ));
    }
    let (dir, kept) = version_paths(root, a);
    let parent = root.join(&a.name);
    let io = |what: &Path, e: std::io::Error| format!("{}: {e}", what.display());
    std::fs::create_dir_all(&parent).map_err(|e| io(&parent, e))?;
    let tmp = parent.join(format!(".{}.tmp", a.version));
    if tmp.exists() {
        let _ = make_writable(&tmp);
        std::fs::remove_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    }
    let checked = match plugin_archive::unpack(bytes, &tmp, MAX_BYTES as u64) {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(format!("cannot unpack version {}: {e}", a.version));
        }
    };
    read_only(&tmp).map_err(|e| io(&tmp, e))?;
    if dir.exists() {
        let _ = make_writable(&dir);
        std::fs::remove_dir_all(&dir).map_err(|e| io(&dir, e))?;
    }
    std::fs::rename(&tmp, &dir).map_err(|e| io(&dir, e))?;
    let kept_tmp = parent.join(format!(".{}.tar.gz.tmp", a.version));
    std::fs::write(&kept_tmp, bytes)
        .and_then(|()| std::fs::rename(&kept_tmp, &kept))
        .map_err(|e| io(&kept, e))?;
    let digest = tree_digest(&dir).map_err(|e| io(&dir, e))?;
    Ok(InstalledPlugin {
        name: a.name.clone(),
        entry: dir.join(&checked.entry),
        dir,
        version: a.version.clone(),
        sha256: a.sha256.clone(),
        args: a.args.clone(),
        timeout: Duration::from_secs(a.timeout_secs),
        interval: Duration::from_secs(a.interval_secs),
        digest,
        assigned: Assigned {
            entry: checked.entry,
            ..a.clone()
        },
    })
}

/// Takes write access off every file under `dir` (directories stay writable, so that the
/// agent can remove old versions when it does not run as root).
fn read_only(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let meta = std::fs::symlink_metadata(e.path())?;
        if meta.is_dir() {
            read_only(&e.path())?;
        } else if meta.is_file() {
            let mode = meta.permissions().mode() & 0o555;
            std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}

/// Gives the owner write access to `path` and every directory under it, so it can be
/// removed.
fn make_writable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        let mode = meta.permissions().mode() | 0o700;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        for e in std::fs::read_dir(path)? {
            make_writable(&e?.path())?;
        }
    }
    Ok(())
}

/// Saves the installed plugins as the last list applied.
pub(super) fn save_list(installed: &Installed) {
    let list: Vec<Assigned> = installed.list().into_iter().map(|p| p.assigned).collect();
    let path = list_path(installed);
    let tmp = path.with_extension("json.tmp");
    let written = std::fs::create_dir_all(installed.root())
        .and_then(|()| std::fs::write(&tmp, serde_json::to_vec(&list).unwrap_or_default()))
        .and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = written {
        tracing::warn!(file = %path.display(), error = %e, "cannot save the plugin list");
    }
}
