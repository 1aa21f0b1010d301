//! Small named JSON documents in the database: the state a part of the server keeps whole
//! and rewrites whole (the notifier's silences, maintenance windows and notification
//! log), where a table of its own would only mirror a structure another crate owns.

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
        let text = serde_json::to_string(value).map_err(|e| KvError::Decode {
            name: name.to_string(),
            reason: e.to_string(),
        })?;
        sqlx::query(
            "INSERT INTO kv (name, value, updated_ms) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms",
        )
        .bind(name)
        .bind(text)
        .bind(argus_core::now_ms())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }
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
    }
}
