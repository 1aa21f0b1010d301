//! The host registry in SQLite (`<data_dir>/registry.db`, table `hosts`: `hostname`,
//! `first_seen_ms`, `last_seen_ms`, `facts` and `heartbeat` as JSON text, schema version
//! in `PRAGMA user_version`): when each host was first and last seen and what its latest
//! heartbeat said (facts, plugin states). The pipeline's
//! heartbeat consumer writes it, `GET /api/argus/hosts` reads it. The inventory with
//! editing comes later on the same database.
//!
//! Writes are idempotent and order-proof: the pipeline delivers at least once and may
//! replay an older heartbeat after a newer one, so a row keeps the latest heartbeat by
//! reception time and the earliest first-seen.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::path::Path;
use std::time::Duration;

/// One host as listed, and as an earlier version's `hosts.json` held it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HostRecord {
    pub hostname: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// The last heartbeat as the agent sent it (facts, plugin states, buffer fill).
    pub heartbeat: serde_json::Value,
}

/// The schema version this code writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

pub struct HostRegistry {
    pool: SqlitePool,
}

/// One heartbeat to record.
pub struct Seen {
    pub hostname: String,
    pub received_ms: i64,
    pub heartbeat: serde_json::Value,
}

fn err(path: &Path, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("{}: {e}", path.display()))
}

impl HostRegistry {
    /// Opens (creating) the database at `path`; with `legacy_json`, hosts from an earlier
    /// version's `hosts.json` are imported once and that file renamed `*.migrated`.
    pub async fn open(path: &Path, legacy_json: Option<&Path>) -> std::io::Result<HostRegistry> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .map_err(|e| err(path, e))?;
        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&pool)
            .await
            .map_err(|e| err(path, e))?;
        if version > SCHEMA_VERSION {
            return Err(err(
                path,
                format!(
                    "schema version {version} is newer than this argus knows ({SCHEMA_VERSION})"
                ),
            ));
        }
        if version < 1 {
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS hosts (
                    hostname TEXT PRIMARY KEY NOT NULL,
                    first_seen_ms INTEGER NOT NULL,
                    last_seen_ms INTEGER NOT NULL,
                    -- the latest heartbeat's facts object (host name, OS, CPUs, ...)
                    facts TEXT NOT NULL,
                    -- the latest heartbeat as the agent sent it
                    heartbeat TEXT NOT NULL
                )",
            )
            .execute(&pool)
            .await
            .map_err(|e| err(path, e))?;
            sqlx::query("PRAGMA user_version = 1")
                .execute(&pool)
                .await
                .map_err(|e| err(path, e))?;
        }
        let reg = HostRegistry { pool };
        if let Some(json) = legacy_json {
            reg.import_json(json).await?;
        }
        Ok(reg)
    }

    async fn import_json(&self, json: &Path) -> std::io::Result<()> {
        let bytes = match std::fs::read(json) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(err(json, e)),
        };
        let hosts: std::collections::BTreeMap<String, HostRecord> =
            serde_json::from_slice(&bytes).map_err(|e| err(json, e))?;
        let mut tx = self.pool.begin().await.map_err(|e| err(json, e))?;
        for h in hosts.values() {
            upsert(
                &mut tx,
                &h.hostname,
                h.first_seen_ms,
                h.last_seen_ms,
                &h.heartbeat,
            )
            .await
            .map_err(|e| err(json, e))?;
        }
        tx.commit().await.map_err(|e| err(json, e))?;
        let done = json.with_extension("json.migrated");
        std::fs::rename(json, &done).map_err(|e| err(json, e))?;
        tracing::info!(
            hosts = hosts.len(),
            from = %json.display(),
            "imported the host registry into SQLite"
        );
        Ok(())
    }

    /// Records heartbeats in one transaction.
    pub async fn record(&self, seen: &[Seen]) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        for s in seen {
            upsert(
                &mut tx,
                &s.hostname,
                s.received_ms,
                s.received_ms,
                &s.heartbeat,
            )
            .await?;
        }
        tx.commit().await
    }

    /// Every host, by name.
    pub async fn list(&self) -> Result<Vec<HostRecord>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT hostname, first_seen_ms, last_seen_ms, heartbeat FROM hosts ORDER BY hostname",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let hb: String = r.try_get("heartbeat")?;
            out.push(HostRecord {
                hostname: r.try_get("hostname")?,
                first_seen_ms: r.try_get("first_seen_ms")?,
                last_seen_ms: r.try_get("last_seen_ms")?,
                heartbeat: serde_json::from_str(&hb).unwrap_or(serde_json::Value::Null),
            });
        }
        Ok(out)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn upsert(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    hostname: &str,
    first_ms: i64,
    last_ms: i64,
    heartbeat: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO hosts (hostname, first_seen_ms, last_seen_ms, facts, heartbeat) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(hostname) DO UPDATE SET
           first_seen_ms = min(first_seen_ms, excluded.first_seen_ms),
           facts = CASE WHEN excluded.last_seen_ms >= last_seen_ms THEN excluded.facts ELSE facts END,
           heartbeat = CASE WHEN excluded.last_seen_ms >= last_seen_ms THEN excluded.heartbeat ELSE heartbeat END,
           last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)",
    )
    .bind(hostname)
    .bind(first_ms)
    .bind(last_ms)
    .bind(heartbeat["facts"].to_string())
    .bind(heartbeat.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn heartbeats_upsert_order_proof_and_hosts_json_is_imported() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let json = dir.path().join("hosts.json");
        // What the earlier in-memory registry saved: its records by host name.
        std::fs::write(
            &json,
            r#"{"old1":{"hostname":"old1","first_seen_ms":5,"last_seen_ms":5,"heartbeat":{"facts":{"hostname":"old1"}}}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let db = dir.path().join("registry.db");
        let reg = HostRegistry::open(&db, Some(&json))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!json.exists());
        assert!(dir.path().join("hosts.json.migrated").exists());
        let hb = |cpus: u32| serde_json::json!({"facts": {"hostname": "web1", "cpus": cpus}});
        let seen = |ms: i64, cpus: u32| Seen {
            hostname: "web1".into(),
            received_ms: ms,
            heartbeat: hb(cpus),
        };
        reg.record(&[seen(20, 8), seen(10, 4)])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // A replay of the older one changes nothing.
        reg.record(&[seen(10, 4)])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        reg.close().await;
        let reg = HostRegistry::open(&db, Some(&json))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let l = reg.list().await.unwrap_or_default();
        assert_eq!(
            l.iter().map(|h| h.hostname.as_str()).collect::<Vec<_>>(),
            ["old1", "web1"]
        );
        assert_eq!((l[0].first_seen_ms, l[0].last_seen_ms), (5, 5));
        assert_eq!((l[1].first_seen_ms, l[1].last_seen_ms), (10, 20));
        assert_eq!(l[1].heartbeat["facts"]["cpus"], 8);
        let facts: String = sqlx::query_scalar("SELECT facts FROM hosts WHERE hostname = 'web1'")
            .fetch_one(&reg.pool)
            .await
            .unwrap_or_default();
        assert_eq!(facts, r#"{"cpus":8,"hostname":"web1"}"#);
    }
}
