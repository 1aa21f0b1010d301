//! Distributed plugins in the database: each plugin's **versions** (the archive agents
//! download, see [`argus_core::plugin_archive`]) and its **assignments** to groups and
//! hosts of the inventory.
//!
//! A **version** is named by the SHA-256 of its archive when the plugin was uploaded, and
//! by the commit when it came from git; either way its `sha256` is that of the archive,
//! which is what agents verify. Versions are kept: a new upload or sync adds one and makes
//! it the plugin's **current** version, which is what agents get; an upload of bytes
//! already stored only makes that version current again.
//!
//! An **assignment** runs the current version on a group's hosts or on one host, with an
//! interval (0: on demand only), a timeout and arguments; a value left out is the
//! manifest's, else [`DEFAULT_INTERVAL_SECS`] / [`DEFAULT_TIMEOUT_SECS`]. When a host is
//! reached by several assignments of one plugin, its own wins over its groups', and of
//! its groups the first by name. Every change goes to the audit log in its transaction.

use super::audit::{self, Change};
use super::db::{Database, is_word};
use super::hosts::Host;
use argus_core::plugin_archive::Manifest;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The interval of an assignment when neither it nor the manifest gives one.
pub const DEFAULT_INTERVAL_SECS: u64 = 60;
/// The timeout of an assignment when neither it nor the manifest gives one.
pub const DEFAULT_TIMEOUT_SECS: u64 = 10;
/// The longest interval or timeout, in seconds (a day).
const MAX_SECS: u64 = 86_400;
/// Most arguments of an assignment, and the longest one in bytes.
const MAX_ARGS: usize = 64;
const MAX_ARG_BYTES: usize = 4096;

/// Whether `name` can name a plugin: 1 to 64 letters, digits, `_`, `-` and `.`, not
/// starting with `.` or `-` (it becomes a directory name on every agent).
pub fn valid_name(name: &str) -> bool {
    is_word(name, 64, b"_-.") && !name.starts_with(['.', '-'])
}

/// Where a plugin's versions come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitSource {
    pub url: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// A directory of the repository holding the plugin; empty: the top.
    #[serde(default)]
    pub path: String,
}

/// A version to store.
pub struct NewVersion {
    /// The commit for git, else the archive's SHA-256.
    pub version: String,
    pub archive: Vec<u8>,
    pub manifest: Manifest,
    /// `None`: uploaded.
    pub git: Option<GitSource>,
}

/// What storing a version did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stored {
    /// A plugin of that name did not exist.
    Created,
    /// A version the plugin did not have, now current.
    NewVersion,
    /// The version was stored already; it is current (again).
    Unchanged,
}

/// One version as listed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Version {
    pub version: String,
    pub sha256: String,
    pub size: i64,
    pub entry: String,
    pub description: String,
    pub created_ms: i64,
    pub created_by: String,
}

/// One assignment, as given and listed: exactly one of `group` and `host`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Seconds between runs; 0: on demand only. Absent: the manifest's, else 60.
    #[serde(default)]
    pub interval_secs: Option<u64>,
    /// Seconds a run may take (at least 1). Absent: the manifest's, else 10.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    #[serde(default)]
    pub args: Vec<String>,
}

/// A plugin as listed: its current version and what it is assigned to.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Plugin {
    pub name: String,
    /// `upload` or `git`.
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git: Option<GitSource>,
    /// The current version (what agents get).
    pub version: String,
    pub sha256: String,
    pub entry: String,
    pub description: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub updated_by: String,
    pub assignments: Vec<Assignment>,
    /// Every version kept, newest first (only for one plugin; empty in lists).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<Version>,
}

/// A plugin as one agent gets it: what to download, how to check it and how to run it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Distributed {
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub entry: String,
    pub interval_secs: u64,
    pub timeout_secs: u64,
    pub args: Vec<String>,
}

/// A request refused, answered as 4xx: what and why.
#[derive(Debug, thiserror::Error)]
pub enum PluginFault {
    #[error(
        "{0:?} is not a valid plugin name (1 to 64 letters, digits, '_', '-' and '.', not starting with '.' or '-')"
    )]
    BadName(String),
    #[error("no plugin {0:?}")]
    NoPlugin(String),
    #[error("plugin {0:?} has no version {1:?}")]
    NoVersion(String, String),
    #[error("{field}: {reason}")]
    Field { field: String, reason: String },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

fn field(field: impl Into<String>, reason: impl Into<String>) -> PluginFault {
    PluginFault::Field {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The plugins.
pub struct PluginStore {
    db: Arc<Database>,
}

/// Reads the manifest column; a row written by this code always parses.
fn manifest_of(text: &str) -> Manifest {
    serde_json::from_str(text).unwrap_or_default()
}

impl PluginStore {
    pub fn new(db: Arc<Database>) -> PluginStore {
        PluginStore { db }
    }

    /// Stores `new` as the current version of `name` (creating the plugin), as `actor`;
    /// `action` is what the audit log says (`upload` or `sync`).
    pub async fn put(
        &self,
        actor: &str,
        name: &str,
        new: NewVersion,
        action: &str,
    ) -> Result<Stored, PluginFault> {
        if !valid_name(name) {
            return Err(PluginFault::BadName(name.into()));
        }
        let sha256 = argus_core::plugin_archive::sha256_hex(&new.archive);
        let now = argus_core::now_ms();
        let mut tx = self.db.begin().await?;
        let before = sqlx::query("SELECT version FROM plugins WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get::<String, _>("version"))
            .transpose()?;
        let known =
            sqlx::query("SELECT 1 AS one FROM plugin_versions WHERE plugin = $1 AND version = $2")
                .bind(name)
                .bind(&new.version)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
        if !known {
            sqlx::query(
                "INSERT INTO plugin_versions (plugin, version, sha256, size, manifest, archive, created_ms, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(name)
            .bind(&new.version)
            .bind(&sha256)
            .bind(new.archive.len() as i64)
            .bind(serde_json::to_string(&new.manifest).unwrap_or_default())
            .bind(new.archive)
            .bind(now)
            .bind(actor)
            .execute(&mut *tx)
            .await?;
        }
        let (source, git) = match &new.git {
            Some(g) => ("git", g.clone()),
            None => (
                "upload",
                GitSource {
                    url: String::new(),
                    git_ref: String::new(),
                    path: String::new(),
                },
            ),
        };
        sqlx::query(
            "INSERT INTO plugins (name, source, git_url, git_ref, git_path, version, created_ms, updated_ms, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)
             ON CONFLICT (name) DO UPDATE SET source = excluded.source, git_url = excluded.git_url,
               git_ref = excluded.git_ref, git_path = excluded.git_path, version = excluded.version,
               updated_ms = excluded.updated_ms, updated_by = excluded.updated_by",
        )
        .bind(name)
        .bind(source)
        .bind(&git.url)
        .bind(&git.git_ref)
        .bind(&git.path)
        .bind(&new.version)
        .bind(now)
        .bind(actor)
        .execute(&mut *tx)
        .await?;
        let stored = match (&before, known) {
            (None, _) => Stored::Created,
            (Some(_), false) => Stored::NewVersion,
            (Some(_), true) => Stored::Unchanged,
        };
        audit::record(
            &mut tx,
            Change {
                actor,
                action,
                object_kind: "plugin",
                object_id: name,
                before: before.map(|v| serde_json::json!({ "version": v })),
                after: Some(serde_json::json!({
                    "version": new.version, "sha256": sha256, "source": source,
                    "git": new.git, "stored": stored,
                })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// The plugin `name` with its versions and assignments.
    pub async fn get(&self, name: &str) -> Result<Option<Plugin>, PluginFault> {
        let Some(mut p) = self.plugins(Some(name)).await?.pop() else {
            return Ok(None);
        };
        let rows = sqlx::query(
            "SELECT version, sha256, size, manifest, created_ms, created_by FROM plugin_versions
             WHERE plugin = $1 ORDER BY created_ms DESC, version",
        )
        .bind(name)
        .fetch_all(self.db.pool())
        .await?;
        for r in rows {
            let m = manifest_of(&r.try_get::<String, _>("manifest")?);
            p.versions.push(Version {
                version: r.try_get("version")?,
                sha256: r.try_get("sha256")?,
                size: r.try_get("size")?,
                entry: m.entry().to_string(),
                description: m.description,
                created_ms: r.try_get("created_ms")?,
                created_by: r.try_get("created_by")?,
            });
        }
        Ok(Some(p))
    }

    /// Whether a plugin named `name` exists.
    pub async fn exists(&self, name: &str) -> Result<bool, PluginFault> {
        Ok(sqlx::query("SELECT 1 AS one FROM plugins WHERE name = $1")
            .bind(name)
            .fetch_optional(self.db.pool())
            .await?
            .is_some())
    }

    /// Every plugin, by name (without their versions).
    pub async fn list(&self) -> Result<Vec<Plugin>, PluginFault> {
        self.plugins(None).await
    }

    /// The plugins (one, or all), their current version and assignments.
    async fn plugins(&self, name: Option<&str>) -> Result<Vec<Plugin>, PluginFault> {
        let rows = sqlx::query(
            "SELECT p.name, p.source, p.git_url, p.git_ref, p.git_path, p.version, v.sha256, v.manifest,
                    p.created_ms, p.updated_ms, p.updated_by
             FROM plugins p JOIN plugin_versions v ON v.plugin = p.name AND v.version = p.version
             WHERE ($1 IS NULL OR p.name = $1) ORDER BY p.name",
        )
        .bind(name)
        .fetch_all(self.db.pool())
        .await?;
        let mut assignments = self.assignments(name).await?;
        let mut out = Vec::new();
        for r in rows {
            let name: String = r.try_get("name")?;
            let source: String = r.try_get("source")?;
            let m = manifest_of(&r.try_get::<String, _>("manifest")?);
            out.push(Plugin {
                git: (source == "git")
                    .then(|| -> Result<GitSource, sqlx::Error> {
                        Ok(GitSource {
                            url: r.try_get("git_url")?,
                            git_ref: r.try_get("git_ref")?,
                            path: r.try_get("git_path")?,
                        })
                    })
                    .transpose()?,
                source,
                version: r.try_get("version")?,
                sha256: r.try_get("sha256")?,
                entry: m.entry().to_string(),
                description: m.description,
                created_ms: r.try_get("created_ms")?,
                updated_ms: r.try_get("updated_ms")?,
                updated_by: r.try_get("updated_by")?,
                assignments: assignments.remove(&name).unwrap_or_default(),
                versions: Vec::new(),
                name,
            });
        }
        Ok(out)
    }

    /// The assignments of one plugin or all, by plugin name.
    async fn assignments(
        &self,
        name: Option<&str>,
    ) -> Result<BTreeMap<String, Vec<Assignment>>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT plugin, scope, target, interval_secs, timeout_secs, args FROM plugin_assignments
             WHERE ($1 IS NULL OR plugin = $1) ORDER BY plugin, scope, target",
        )
        .bind(name)
        .fetch_all(self.db.pool())
        .await?;
        let mut out: BTreeMap<String, Vec<Assignment>> = BTreeMap::new();
        for r in rows {
            let scope: String = r.try_get("scope")?;
            let target: String = r.try_get("target")?;
            let secs = |c: &str| -> Result<Option<u64>, sqlx::Error> {
                Ok(r.try_get::<Option<i64>, _>(c)?.map(|v| v.max(0) as u64))
            };
            let a = Assignment {
                group: (scope == "group").then(|| target.clone()),
                host: (scope == "host").then_some(target),
                interval_secs: secs("interval_secs")?,
                timeout_secs: secs("timeout_secs")?,
                args: serde_json::from_str(&r.try_get::<String, _>("args")?).unwrap_or_default(),
            };
            out.entry(r.try_get("plugin")?).or_default().push(a);
        }
        Ok(out)
    }

    /// Where the plugin's versions come from: `None` for an upload; `NoPlugin` if there is
    /// no such plugin.
    pub async fn git_source(&self, name: &str) -> Result<Option<GitSource>, PluginFault> {
        let p = self
            .plugins(Some(name))
            .await?
            .pop()
            .ok_or_else(|| PluginFault::NoPlugin(name.into()))?;
        Ok(p.git)
    }

    /// Replaces the assignments of `name` with `list`, checked first: each names exactly
    /// one group or host that the inventory has, once; timeouts are 1 to 86400 s,
    /// intervals 0 to 86400 s. Returns them as stored.
    pub async fn set_assignments(
        &self,
        actor: &str,
        name: &str,
        list: Vec<Assignment>,
    ) -> Result<Vec<Assignment>, PluginFault> {
        let before = self.assignments(Some(name)).await?.remove(name);
        let mut tx = self.db.begin().await?;
        let exists = sqlx::query("SELECT 1 AS one FROM plugins WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Err(PluginFault::NoPlugin(name.into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, a) in list.iter().enumerate() {
            let at = |f: &str| format!("[{i}].{f}");
            let (scope, target) = match (&a.group, &a.host) {
                (Some(g), None) => ("group", g),
                (None, Some(h)) => ("host", h),
                _ => {
                    return Err(field(
                        format!("[{i}]"),
                        "give exactly one of \"group\" and \"host\"",
                    ));
                }
            };
            let known = match scope {
                "group" => sqlx::query("SELECT 1 AS one FROM host_groups WHERE name = $1 LIMIT 1"),
                _ => sqlx::query("SELECT 1 AS one FROM hosts WHERE id = $1"),
            }
            .bind(target)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
            if !known {
                return Err(field(
                    at(scope),
                    format!(
                        "{target:?} is not a {} of the inventory",
                        if scope == "group" {
                            "group of any host"
                        } else {
                            "host id"
                        }
                    ),
                ));
            }
            if !seen.insert((scope, target.clone())) {
                return Err(field(at(scope), format!("{target:?} is assigned twice")));
            }
            if let Some(t) = a.timeout_secs
                && !(1..=MAX_SECS).contains(&t)
            {
                return Err(field(
                    at("timeout_secs"),
                    format!("{t} is not 1 to {MAX_SECS} seconds"),
                ));
            }
            if let Some(t) = a.interval_secs
                && t > MAX_SECS
            {
                return Err(field(
                    at("interval_secs"),
                    format!("{t} is not 0 (on demand) to {MAX_SECS} seconds"),
                ));
            }
            if a.args.len() > MAX_ARGS {
                return Err(field(at("args"), format!("more than {MAX_ARGS} arguments")));
            }
            if let Some(bad) = a
                .args
                .iter()
                .position(|s| s.contains('\0') || s.len() > MAX_ARG_BYTES)
            {
                return Err(field(
                    format!("[{i}].args[{bad}]"),
                    format!("holds a NUL byte or is longer than {MAX_ARG_BYTES} bytes"),
                ));
            }
        }
        sqlx::query("DELETE FROM plugin_assignments WHERE plugin = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let now = argus_core::now_ms();
        for a in &list {
            let (scope, target) = match (&a.group, &a.host) {
                (Some(g), _) => ("group", g),
                (_, Some(h)) => ("host", h),
                _ => continue,
            };
            sqlx::query(
                "INSERT INTO plugin_assignments (plugin, scope, target, interval_secs, timeout_secs, args, updated_ms, updated_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(name)
            .bind(scope)
            .bind(target)
            .bind(a.interval_secs.map(|v| v as i64))
            .bind(a.timeout_secs.map(|v| v as i64))
            .bind(serde_json::to_string(&a.args).unwrap_or_else(|_| "[]".into()))
            .bind(now)
            .bind(actor)
            .execute(&mut *tx)
            .await?;
        }
        audit::record(
            &mut tx,
            Change {
                actor,
                action: "assign",
                object_kind: "plugin",
                object_id: name,
                before: Some(serde_json::to_value(before.unwrap_or_default()).unwrap_or_default()),
                after: Some(serde_json::to_value(&list).unwrap_or_default()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(self
            .assignments(Some(name))
            .await?
            .remove(name)
            .unwrap_or_default())
    }

    /// Removes the plugin, its versions and its assignments.
    pub async fn delete(&self, actor: &str, name: &str) -> Result<(), PluginFault> {
        let before = self
            .get(name)
            .await?
            .ok_or_else(|| PluginFault::NoPlugin(name.into()))?;
        let mut tx = self.db.begin().await?;
        super::db::run_each(
            &mut tx,
            &[
                "DELETE FROM plugin_assignments WHERE plugin = $1",
                "DELETE FROM plugin_versions WHERE plugin = $1",
                "DELETE FROM plugins WHERE name = $1",
            ],
            name,
        )
        .await?;
        audit::record(
            &mut tx,
            Change {
                actor,
                action: "delete",
                object_kind: "plugin",
                object_id: name,
                before: Some(serde_json::json!({
                    "version": before.version, "source": before.source,
                    "assignments": before.assignments,
                })),
                after: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The archive of one version, and the SHA-256 recorded for it.
    pub async fn archive(
        &self,
        name: &str,
        version: &str,
    ) -> Result<(String, Vec<u8>), PluginFault> {
        let r = sqlx::query(
            "SELECT sha256, archive FROM plugin_versions WHERE plugin = $1 AND version = $2",
        )
        .bind(name)
        .bind(version)
        .fetch_optional(self.db.pool())
        .await?
        .ok_or_else(|| PluginFault::NoVersion(name.into(), version.into()))?;
        Ok((r.try_get("sha256")?, r.try_get("archive")?))
    }

    /// What `host` runs (none when the inventory does not know it), by plugin name.
    pub async fn for_host(&self, host: Option<&Host>) -> Result<Vec<Distributed>, PluginFault> {
        let Some(host) = host else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(
            "SELECT a.plugin, a.scope, a.target, a.interval_secs, a.timeout_secs, a.args,
                    p.version, v.sha256, v.manifest
             FROM plugin_assignments a
             JOIN plugins p ON p.name = a.plugin
             JOIN plugin_versions v ON v.plugin = p.name AND v.version = p.version
             WHERE (a.scope = 'host' AND a.target = $1)
                OR (a.scope = 'group' AND a.target IN (SELECT name FROM host_groups WHERE host_id = $1))
             ORDER BY a.plugin, a.scope DESC, a.target",
        )
        .bind(&host.id)
        .fetch_all(self.db.pool())
        .await?;
        // Per plugin, the first row wins: 'host' sorts before 'group' (DESC), then groups
        // by name.
        let mut out: Vec<Distributed> = Vec::new();
        for r in rows {
            let name: String = r.try_get("plugin")?;
            if out.last().is_some_and(|d| d.name == name) {
                continue;
            }
            let m = manifest_of(&r.try_get::<String, _>("manifest")?);
            let secs = |c: &str| -> Result<Option<u64>, sqlx::Error> {
                Ok(r.try_get::<Option<i64>, _>(c)?.map(|v| v.max(0) as u64))
            };
            out.push(Distributed {
                version: r.try_get("version")?,
                sha256: r.try_get("sha256")?,
                entry: m.entry().to_string(),
                interval_secs: secs("interval_secs")?
                    .or(m.interval_secs)
                    .unwrap_or(DEFAULT_INTERVAL_SECS),
                timeout_secs: secs("timeout_secs")?
                    .or(m.timeout_secs)
                    .filter(|t| *t > 0)
                    .unwrap_or(DEFAULT_TIMEOUT_SECS),
                args: serde_json::from_str(&r.try_get::<String, _>("args")?).unwrap_or_default(),
                name,
            });
        }
        Ok(out)
    }
}

/// A plugin task names a plugin of this store.
impl super::tasks::PluginCatalog for PluginStore {
    fn exists<'a>(
        &'a self,
        name: &'a str,
    ) -> futures_util::future::BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            PluginStore::exists(self, name)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::tests::on_both_backends;
    use crate::store::hosts::{HostRegistry, NewHost};
    use argus_core::plugin_archive::from_script;

    fn upload(script: &str) -> NewVersion {
        let archive = from_script(script.as_bytes());
        NewVersion {
            version: argus_core::plugin_archive::sha256_hex(&archive),
            archive,
            manifest: Manifest::default(),
            git: None,
        }
    }

    fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
        r.unwrap_or_else(|e| panic!("{e}"))
    }

    async fn add_host(reg: &HostRegistry, id: &str, groups: &[&str]) {
        let new: NewHost = ok(serde_json::from_value(serde_json::json!({
            "id": id, "hostname": id, "groups": groups,
        })));
        ok(reg.create("admin", new).await);
    }

    pub async fn plugins_suite(db: Database) {
        let db = Arc::new(db);
        let hosts = HostRegistry::new(db.clone(), 3);
        add_host(&hosts, "m-db1", &["db", "web"]).await;
        add_host(&hosts, "m-web1", &["web"]).await;
        let store = PluginStore::new(db.clone());

        // Versions: created, unchanged, a new one; all kept.
        let v1 = upload("#!/bin/sh\necho a 1\n");
        let (v1_name, v1_bytes) = (v1.version.clone(), v1.archive.clone());
        assert_eq!(
            ok(store.put("alice", "check", v1, "upload").await),
            Stored::Created
        );
        assert_eq!(
            ok(store
                .put("alice", "check", upload("#!/bin/sh\necho a 1\n"), "upload")
                .await),
            Stored::Unchanged
        );
        let v2 = upload("#!/bin/sh\necho a 2\n");
        let v2_name = v2.version.clone();
        assert_eq!(
            ok(store.put("bob", "check", v2, "upload").await),
            Stored::NewVersion
        );
        assert!(ok(store.exists("check").await));
        assert!(!ok(store.exists("other").await));
        use crate::store::tasks::PluginCatalog;
        assert_eq!(PluginCatalog::exists(&store, "check").await, Ok(true));
        let p = ok(store.get("check").await).unwrap_or_else(|| panic!("no plugin"));
        assert_eq!(p.version, v2_name);
        assert_eq!(p.source, "upload");
        assert_eq!(p.entry, "plugin.sh");
        assert_eq!(p.updated_by, "bob");
        let mut kept: Vec<&str> = p.versions.iter().map(|v| v.version.as_str()).collect();
        kept.sort();
        let mut want = vec![v1_name.as_str(), v2_name.as_str()];
        want.sort();
        assert_eq!(kept, want);
        // An archive comes back byte for byte, with the digest of those bytes.
        let (sha, bytes) = ok(store.archive("check", &v1_name).await);
        assert_eq!(bytes, v1_bytes);
        assert_eq!(sha, argus_core::plugin_archive::sha256_hex(&v1_bytes));
        assert!(matches!(
            store.archive("check", "nope").await,
            Err(PluginFault::NoVersion(..))
        ));
        assert!(matches!(
            store.put("a", "../x", upload("x"), "upload").await,
            Err(PluginFault::BadName(_))
        ));

        // Assignments: checked against the inventory, host before group.
        let bad = |a: serde_json::Value| -> Vec<Assignment> { ok(serde_json::from_value(a)) };
        for (list, want) in [
            (
                serde_json::json!([{"group": "nogroup"}]),
                "[0].group: \"nogroup\" is not a group of any host of the inventory",
            ),
            (
                serde_json::json!([{"host": "m-x"}]),
                "[0].host: \"m-x\" is not a host id of the inventory",
            ),
            (
                serde_json::json!([{"group": "db", "timeout_secs": 0}]),
                "[0].timeout_secs: 0 is not 1 to 86400 seconds",
            ),
            (
                serde_json::json!([{"group": "db"}, {"group": "db", "host": "m-db1"}]),
                "[1]: give exactly one of \"group\" and \"host\"",
            ),
            (
                serde_json::json!([{"group": "db"}, {"group": "db"}]),
                "[1].group: \"db\" is assigned twice",
            ),
        ] {
            let e = store.set_assignments("a", "check", bad(list)).await.err();
            assert_eq!(e.map(|e| e.to_string()).as_deref(), Some(want));
        }
        assert!(matches!(
            store.set_assignments("a", "ghost", vec![]).await,
            Err(PluginFault::NoPlugin(_))
        ));
        let set = ok(store
            .set_assignments(
                "carol",
                "check",
                bad(serde_json::json!([
                    {"group": "web", "interval_secs": 30, "args": ["-v"]},
                    {"host": "m-db1", "interval_secs": 0, "timeout_secs": 3},
                ])),
            )
            .await);
        assert_eq!(set.len(), 2);
        let db1 = ok(hosts.get("m-db1").await);
        let web1 = ok(hosts.get("m-web1").await);
        let d = ok(store.for_host(db1.as_ref()).await);
        assert_eq!(
            d,
            vec![Distributed {
                name: "check".into(),
                version: v2_name.clone(),
                sha256: p.sha256.clone(),
                entry: "plugin.sh".into(),
                interval_secs: 0,
                timeout_secs: 3,
                args: vec![],
            }]
        );
        let d = ok(store.for_host(web1.as_ref()).await);
        assert_eq!(
            (d[0].interval_secs, d[0].timeout_secs, d[0].args.clone()),
            (30, DEFAULT_TIMEOUT_SECS, vec!["-v".to_string()])
        );
        assert_eq!(ok(store.for_host(None).await), vec![]);

        // The audit log has every change; deleting takes the versions and assignments.
        ok(store.delete("dave", "check").await);
        assert!(ok(store.get("check").await).is_none());
        assert!(ok(store.for_host(db1.as_ref()).await).is_empty());
        assert!(matches!(
            store.delete("dave", "check").await,
            Err(PluginFault::NoPlugin(_))
        ));
        let entries = ok(crate::store::audit::list(
            &db,
            &crate::store::audit::Filter {
                object_kind: Some("plugin".into()),
                limit: 100,
                ..Default::default()
            },
        )
        .await);
        let actions: Vec<(&str, &str)> = entries
            .iter()
            .rev()
            .map(|e| (e.actor.as_str(), e.action.as_str()))
            .collect();
        assert_eq!(
            actions,
            vec![
                ("alice", "upload"),
                ("alice", "upload"),
                ("bob", "upload"),
                ("carol", "assign"),
                ("dave", "delete"),
            ]
        );
        assert_eq!(entries[1].after[0]["group"], "web", "{:?}", entries[1]);
    }

    on_both_backends!(versions_assignments_and_audit, super::plugins_suite);

    #[test]
    fn plugin_names_are_directory_safe() {
        for ok in ["disk", "check_disk-2", "a.b"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", ".hidden", "-x", "a/b", "..", "a b", &"x".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
