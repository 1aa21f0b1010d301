//! Small named JSON documents in the database: the state a part of the server keeps whole
//! and rewrites whole (the notifier's silences, maintenance windows and notification
//! log), where a table of its own would only mirror a structure another crate owns.
//!
//! Each document has a version, raised by every write. Servers sharing one database
//! change a document with [`Kv::update`] (read, change, write only if nobody wrote in
//! between, else again), so no change is lost, and see each other's changes by polling
//! [`Kv::version`].

use super::db::Database;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;
use std::sync::Arc;

pub struct Kv {
    db: Arc<Database>,
}

/// A document that is not what its reader expects (written by another version).
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("document {name:?}: {reason}")]
    Decode { name: String, reason: String },
}

impl Kv {
    pub fn new(db: Arc<Database>) -> Kv {
        Kv { db }
    }

    /// The document `name` and when it was written, if there is one.
    pub async fn get<T: DeserializeOwned>(&self, name: &str) -> Result<Option<(T, i64)>, KvError> {
        let row = sqlx::query("SELECT value, updated_ms FROM kv WHERE name = $1")
            .bind(name)
            .fetch_optional(self.db.pool())
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let text: String = row.try_get("value")?;
        let at: i64 = row.try_get("updated_ms")?;
        let v = serde_json::from_str(&text).map_err(|e| KvError::Decode {
            name: name.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Some((v, at)))
    }

    /// Writes the document `name`, replacing it.
    pub async fn put<T: Serialize>(&self, name: &str, value: &T) -> Result<(), KvError> {
        let text = encode(name, value)?;
        sqlx::query(
            "INSERT INTO kv (name, value, updated_ms, version) VALUES ($1, $2, $3, 1)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value,
                 updated_ms = excluded.updated_ms, version = kv.version + 1",
        )
        .bind(name)
        .bind(text)
        .bind(argus_core::now_ms())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// The version of document `name` (0: there is none). It rises with every write.
    pub async fn version(&self, name: &str) -> Result<i64, KvError> {
        let v: Option<i64> = sqlx::query_scalar("SELECT version FROM kv WHERE name = $1")
            .bind(name)
            .fetch_optional(self.db.pool())
            .await?;
        Ok(v.unwrap_or(0))
    }

    /// Changes document `name` with `change` (given the stored value, if any) and writes
    /// the result only if no one wrote the document in between; otherwise reads it again
    /// and retries. Returns what `change` returned besides the new value, and the version
    /// written. An `Err` of `change` writes nothing.
    pub async fn update<T, R, E>(
        &self,
        name: &str,
        mut change: impl FnMut(Option<T>) -> Result<(T, R), E>,
    ) -> Result<Result<(R, i64), E>, KvError>
    where
        T: Serialize + DeserializeOwned,
    {
        loop {
            let row = sqlx::query("SELECT value, version FROM kv WHERE name = $1")
                .bind(name)
                .fetch_optional(self.db.pool())
                .await?;
            let (stored, version) = match row {
                Some(row) => {
                    let text: String = row.try_get("value")?;
                    let version: i64 = row.try_get("version")?;
                    let v = serde_json::from_str(&text).map_err(|e| KvError::Decode {
                        name: name.to_string(),
                        reason: e.to_string(),
                    })?;
                    (Some(v), Some(version))
                }
                None => (None, None),
            };
            let (value, out) = match change(stored) {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            let text = encode(name, &value)?;
            let now = argus_core::now_ms();
            let written = match version {
                Some(v) => sqlx::query(
                    "UPDATE kv SET value = $2, updated_ms = $3, version = version + 1
                     WHERE name = $1 AND version = $4",
                )
                .bind(name)
                .bind(&text)
                .bind(now)
                .bind(v)
                .execute(self.db.pool())
                .await?
                .rows_affected(),
                None => sqlx::query(
                    "INSERT INTO kv (name, value, updated_ms, version) VALUES ($1, $2, $3, 1)
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(&text)
                .bind(now)
                .execute(self.db.pool())
                .await?
                .rows_affected(),
            };
            if written == 1 {
                return Ok(Ok((out, version.unwrap_or(0) + 1)));
            }
            tracing::debug!(name, "document changed meanwhile; changing it again");
        }
    }
}

fn encode<T: Serialize>(name: &str, value: &T) -> Result<String, KvError> {
    serde_json::to_string(value).map_err(|e| KvError::Decode {
        name: name.to_string(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::tests::on_both_backends;

    on_both_backends!(documents_round_trip, super::kv_suite);

    async fn kv_suite(db: Database) {
        let kv = Kv::new(Arc::new(db));
        assert!(kv.get::<Vec<u32>>("a").await.ok().flatten().is_none());
        kv.put("a", &vec![1u32, 2])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        kv.put("a", &vec![3u32])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let got = kv.get::<Vec<u32>>("a").await.ok().flatten().map(|(v, _)| v);
        assert_eq!(got, Some(vec![3]));
        let wrong = kv
            .get::<String>("a")
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(wrong.contains("\"a\""), "{wrong}");
        assert_eq!(kv.version("a").await.ok(), Some(2));
        assert_eq!(kv.version("none").await.ok(), Some(0));
    }

    on_both_backends!(updates_by_two_writers_are_not_lost, super::update_suite);

    /// Two writers change one document at once from what each read: every change stays.
    async fn update_suite(db: Database) {
        let kv = Arc::new(Kv::new(Arc::new(db)));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..20u32 {
            let kv = kv.clone();
            tasks.spawn(async move {
                kv.update::<Vec<u32>, (), String>("list", |v| {
                    let mut v = v.unwrap_or_default();
                    v.push(i);
                    Ok((v, ()))
                })
                .await
            });
        }
        while let Some(r) = tasks.join_next().await {
            assert!(matches!(r, Ok(Ok(Ok(_)))), "{r:?}");
        }
        let (mut got, _) = kv
            .get::<Vec<u32>>("list")
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        got.sort_unstable();
        assert_eq!(got, (0..20).collect::<Vec<_>>());
        assert_eq!(kv.version("list").await.ok(), Some(20));
        let refused = kv
            .update::<Vec<u32>, (), String>("list", |_| Err("no".into()))
            .await;
        assert!(
            matches!(refused, Ok(Err(ref e)) if e == "no"),
            "{refused:?}"
        );
        assert_eq!(kv.version("list").await.ok(), Some(20));
    }
}
