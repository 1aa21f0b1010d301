//! Agent configurations the server hands out, in the database, in three layers:
//!
//! 1. the default, for every agent;
//! 2. one per group, for the hosts in it, merged in the order of the group names;
//! 3. one per host, on top.
//!
//! Layers are merged key by key ([`merge`]): a table merges into a table, anything else (a
//! value, an array) replaces what the layers below said. Agents pull the result with an
//! ETag and apply it (they check its keys and keep their running configuration when it
//! is wrong), then report the ETag they applied in their heartbeat.

use super::audit::{self, Change};
use super::db::Database;
use super::hosts::{Host, valid_hostname};
use serde::Serialize;
use sqlx::Row;
use std::path::Path;
use std::sync::Arc;

/// Which layer a configuration is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Default,
    Group(String),
    /// A host id (or, for configurations from before ids, a host name).
    Host(String),
}

impl Scope {
    fn parts(&self) -> (&'static str, &str) {
        match self {
            Scope::Default => ("default", ""),
            Scope::Group(g) => ("group", g),
            Scope::Host(h) => ("host", h),
        }
    }

    fn object_id(&self) -> String {
        match self {
            Scope::Default => "default".into(),
            Scope::Group(g) => format!("group:{g}"),
            Scope::Host(h) => format!("host:{h}"),
        }
    }
}

/// Why a configuration cannot be stored.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFault {
    #[error("parameter {param:?}: {value:?} is not a {what}")]
    BadName {
        param: &'static str,
        value: String,
        what: &'static str,
    },
    #[error("body is not valid TOML: {0}")]
    NotToml(String),
    #[error("no agent configuration {0}")]
    Missing(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// One configuration as served: its text and ETag.
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    pub text: String,
    pub etag: String,
}

/// One stored layer as listed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Layer {
    pub scope: String,
    pub name: String,
    pub text: String,
    pub etag: String,
    pub updated_ms: i64,
    pub updated_by: String,
}

/// The agent configurations.
pub struct AgentConfigs {
    db: Arc<Database>,
}

/// Checks a host or group name given as a parameter.
pub fn scope_of(host: &str, group: &str) -> Result<Scope, ConfigFault> {
    match (host, group) {
        ("", "") => Ok(Scope::Default),
        (h, "") if valid_hostname(h) || super::hosts::valid_id(h) => Ok(Scope::Host(h.into())),
        (h, "") => Err(ConfigFault::BadName {
            param: "host",
            value: h.into(),
            what: "host name or id",
        }),
        ("", g) if super::db::is_word(g, 128, b"_.:/-") => Ok(Scope::Group(g.into())),
        ("", g) => Err(ConfigFault::BadName {
            param: "group",
            value: g.into(),
            what: "group name",
        }),
        _ => Err(ConfigFault::BadName {
            param: "group",
            value: group.into(),
            what: "parameter to give with \"host\" (one layer at a time)",
        }),
    }
}

impl AgentConfigs {
    pub fn new(db: Arc<Database>) -> AgentConfigs {
        AgentConfigs { db }
    }

    /// One stored layer.
    pub async fn get(&self, scope: &Scope) -> Result<Option<Layer>, ConfigFault> {
        let (s, n) = scope.parts();
        let r = sqlx::query(
            "SELECT scope, name, text, updated_ms, updated_by FROM agent_configs WHERE scope = $1 AND name = $2",
        )
        .bind(s)
        .bind(n)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(r.map(|r| layer_of(&r)).transpose()?)
    }

    /// Every stored layer.
    pub async fn list(&self) -> Result<Vec<Layer>, ConfigFault> {
        let rows = sqlx::query(
            "SELECT scope, name, text, updated_ms, updated_by FROM agent_configs ORDER BY scope, name",
        )
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows.iter().map(layer_of).collect::<Result<_, _>>()?)
    }

    /// Stores a layer, replacing it. It must parse as TOML.
    pub async fn put(&self, actor: &str, scope: &Scope, text: &str) -> Result<(), ConfigFault> {
        text.parse::<toml::Table>()
            .map_err(|e| ConfigFault::NotToml(e.to_string()))?;
        let before = self.get(scope).await?;
        let (s, n) = scope.parts();
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO agent_configs (scope, name, text, updated_ms, updated_by) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (scope, name) DO UPDATE SET text = excluded.text,
               updated_ms = excluded.updated_ms, updated_by = excluded.updated_by",
        )
        .bind(s)
        .bind(n)
        .bind(text)
        .bind(argus_core::now_ms())
        .bind(actor)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            Change {
                actor,
                action: if before.is_some() { "update" } else { "create" },
                object_kind: "config",
                object_id: &scope.object_id(),
                before: before.map(|b| serde_json::Value::String(b.text)),
                after: Some(serde_json::Value::String(text.to_string())),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a layer.
    pub async fn delete(&self, actor: &str, scope: &Scope) -> Result<(), ConfigFault> {
        let before = self
            .get(scope)
            .await?
            .ok_or_else(|| ConfigFault::Missing(scope.object_id()))?;
        let (s, n) = scope.parts();
        let mut tx = self.db.begin().await?;
        sqlx::query("DELETE FROM agent_configs WHERE scope = $1 AND name = $2")
            .bind(s)
            .bind(n)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            Change {
                actor,
                action: "delete",
                object_kind: "config",
                object_id: &scope.object_id(),
                before: Some(serde_json::Value::String(before.text)),
                after: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The configuration an agent gets: the default, its host's groups in name order, then
    /// its own (by host id, else by the name it asks with), merged. `None` when no layer
    /// applies.
    pub async fn for_host(
        &self,
        host: Option<&Host>,
        asked_name: &str,
    ) -> Result<Option<Served>, ConfigFault> {
        let mut scopes = vec![Scope::Default];
        let mut groups: Vec<&String> = host.map(|h| h.groups.iter().collect()).unwrap_or_default();
        groups.sort();
        scopes.extend(groups.into_iter().map(|g| Scope::Group(g.clone())));
        let mut own = vec![];
        if let Some(h) = host {
            own.push(Scope::Host(h.id.clone()));
            own.push(Scope::Host(h.hostname.clone()));
        }
        if !asked_name.is_empty() {
            own.push(Scope::Host(asked_name.to_string()));
        }
        let mut layers = Vec::new();
        for s in &scopes {
            if let Some(l) = self.get(s).await? {
                layers.push(l.text);
            }
        }
        for s in &own {
            if let Some(l) = self.get(s).await? {
                layers.push(l.text);
                break;
            }
        }
        Ok(merged(&layers))
    }

    /// Imports `<dir>/default.toml` and `<dir>/<host>.toml` of an earlier version (files
    /// in a directory), then renames the directory `*.migrated`. Returns how many.
    pub async fn import_dir(&self, dir: &Path) -> Result<usize, String> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(format!("{}: {e}", dir.display())),
        };
        let mut n = 0;
        for e in entries.flatten() {
            let path = e.path();
            let Some(stem) = path
                .file_name()
                .and_then(|f| f.to_str())
                .and_then(|f| f.strip_suffix(".toml"))
            else {
                continue;
            };
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let scope = if stem == "default" {
                Scope::Default
            } else {
                Scope::Host(stem.to_string())
            };
            self.put("argus", &scope, &text)
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?;
            n += 1;
        }
        let done = dir.with_extension("migrated");
        std::fs::rename(dir, &done).map_err(|e| format!("{}: {e}", dir.display()))?;
        tracing::info!(configs = n, from = %dir.display(), "agent configurations imported into the database");
        Ok(n)
    }
}

fn layer_of(r: &sqlx::any::AnyRow) -> Result<Layer, sqlx::Error> {
    let text: String = r.try_get("text")?;
    Ok(Layer {
        scope: r.try_get("scope")?,
        name: r.try_get("name")?,
        etag: etag_of(&text),
        text,
        updated_ms: r.try_get("updated_ms")?,
        updated_by: r.try_get("updated_by")?,
    })
}

/// Merges TOML texts in order, later over earlier. One layer is served as it is written
/// (comments kept); several are merged and written out again.
fn merged(layers: &[String]) -> Option<Served> {
    let text = match layers {
        [] => return None,
        [one] => one.clone(),
        many => {
            let mut acc = toml::Table::new();
            for l in many {
                // Stored layers were checked when put.
                if let Ok(t) = l.parse::<toml::Table>() {
                    merge(&mut acc, t);
                }
            }
            toml::to_string(&acc).unwrap_or_default()
        }
    };
    Some(Served {
        etag: etag_of(&text),
        text,
    })
}

/// `over` into `base`: tables merge key by key, anything else replaces.
pub fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn etag_of(text: &str) -> String {
    format!("\"{:08x}-{}\"", fnv1a(text.as_bytes()), text.len())
}

/// FNV-1a: an ETag needs a stable fingerprint, not a cryptographic one.
fn fnv1a(b: &[u8]) -> u32 {
    b.iter().fold(0x811c_9dc5u32, |h, &x| {
        (h ^ u32::from(x)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::tests::on_both_backends;
    use crate::store::hosts::{HostEdit, HostRegistry, NewHost};

    on_both_backends!(
        layers_merge_default_then_groups_then_the_host,
        super::layers_suite
    );

    /// The layers, their merge and the import of an earlier version's files, run against
    /// each backend.
    async fn layers_suite(db: Database) {
        // Where the earlier version's files are, whichever the database.
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = Arc::new(db);
        let c = AgentConfigs::new(db.clone());
        let hosts = HostRegistry::new(db.clone(), 3);
        let web1 = hosts
            .create(
                "admin",
                NewHost {
                    hostname: "web1".into(),
                    id: None,
                    ips: vec![],
                    edit: HostEdit {
                        groups: Some(vec!["web".into(), "db".into()]),
                        ..HostEdit::default()
                    },
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.for_host(Some(&web1), "web1").await.ok().flatten(), None);
        let put = |s: Scope, t: &'static str| {
            let c = &c;
            async move {
                c.put("alice", &s, t)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"))
            }
        };
        put(
            Scope::Default,
            "[agent]\ninterval_secs = 10\nlog_dirs = [\"/a\"]\n",
        )
        .await;
        // Alone, a layer is served as written.
        let one = c.for_host(Some(&web1), "web1").await.ok().flatten();
        assert_eq!(
            one.map(|s| s.text).as_deref(),
            Some("[agent]\ninterval_secs = 10\nlog_dirs = [\"/a\"]\n")
        );
        put(
            Scope::Group("web".into()),
            "[agent]\ninterval_secs = 5\n[inputs.nginx]\nurl = \"x\"\n",
        )
        .await;
        put(
            Scope::Group("db".into()),
            "[agent]\ninterval_secs = 7\nlog_dirs = [\"/db\"]\n",
        )
        .await;
        put(
            Scope::Host(web1.id.clone()),
            "[inputs.nginx]\nurl = \"y\"\n",
        )
        .await;
        let served = c
            .for_host(Some(&web1), "web1")
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("nothing served"));
        let t: toml::Table = served.text.parse().unwrap_or_default();
        // "db" before "web": web's interval wins; db's array replaced the default's.
        assert_eq!(t["agent"]["interval_secs"].as_integer(), Some(5));
        assert_eq!(t["agent"]["log_dirs"][0].as_str(), Some("/db"));
        assert_eq!(t["inputs"]["nginx"]["url"].as_str(), Some("y"));
        // Another host gets the default only, with another ETag.
        let other = c.for_host(None, "web2").await.ok().flatten();
        assert!(other.is_some_and(|o| o.etag != served.etag));
        assert!(matches!(
            c.put("alice", &Scope::Default, "a = ").await,
            Err(ConfigFault::NotToml(_))
        ));
        assert!(matches!(
            scope_of("../x", ""),
            Err(ConfigFault::BadName { param: "host", .. })
        ));
        assert!(matches!(
            scope_of("", "a b"),
            Err(ConfigFault::BadName { param: "group", .. })
        ));
        // The files of an earlier version are imported once.
        let files = dir.path().join("agent-config");
        std::fs::create_dir_all(&files).unwrap_or_default();
        std::fs::write(files.join("old.toml"), "[agent]\ninterval_secs = 30\n").unwrap_or_default();
        assert_eq!(c.import_dir(&files).await, Ok(1));
        assert!(!files.exists());
        let old = c.for_host(None, "old").await.ok().flatten().map(|s| s.text);
        // Merged over the default.
        assert_eq!(
            old.as_deref(),
            Some("[agent]\ninterval_secs = 30\nlog_dirs = [\"/a\"]\n")
        );
        let log = audit::list(
            &db,
            &audit::Filter {
                object_kind: Some("config".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap_or_default();
        assert_eq!(log.len(), 5);
        assert_eq!(log[1].actor, "alice");
    }
}
