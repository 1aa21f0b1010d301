//! Rules managed through the API (`/api/argus/rules`), kept in the database beside the
//! rule files: each with an id, the rule as the API took it, and whether it is enabled.
//! What a rule means is the alerting layer's business; this only keeps them, with the
//! audit of every change.

use super::audit::{self, Change};
use super::db::Database;
use serde::Serialize;
use sqlx::Row;
use std::sync::Arc;

/// One stored rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRule {
    pub id: String,
    pub spec: serde_json::Value,
    pub enabled: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub updated_by: String,
}

pub struct ApiRules {
    db: Arc<Database>,
}

fn rule_of(r: &sqlx::any::AnyRow) -> Result<StoredRule, sqlx::Error> {
    let spec: String = r.try_get("spec")?;
    Ok(StoredRule {
        id: r.try_get("id")?,
        spec: serde_json::from_str(&spec).unwrap_or_default(),
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        created_ms: r.try_get("created_ms")?,
        updated_ms: r.try_get("updated_ms")?,
        updated_by: r.try_get("updated_by")?,
    })
}

impl ApiRules {
    pub fn new(db: Arc<Database>) -> ApiRules {
        ApiRules { db }
    }

    pub async fn list(&self) -> Result<Vec<StoredRule>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, spec, enabled, created_ms, updated_ms, updated_by FROM api_rules ORDER BY created_ms, id",
        )
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(rule_of).collect()
    }

    /// What changes with every change of the rules (count, newest change, sum of change
    /// times): polled by servers sharing the database to see another's changes.
    pub async fn stamp(&self) -> Result<(i64, i64, i64), sqlx::Error> {
        let row = sqlx::query(
            "SELECT count(*) AS n, coalesce(max(updated_ms), 0) AS newest,
                    CAST(coalesce(sum(updated_ms), 0) AS BIGINT) AS total FROM api_rules",
        )
        .fetch_one(self.db.pool())
        .await?;
        Ok((
            row.try_get("n")?,
            row.try_get("newest")?,
            row.try_get("total")?,
        ))
    }

    pub async fn get(&self, id: &str) -> Result<Option<StoredRule>, sqlx::Error> {
        let r = sqlx::query(
            "SELECT id, spec, enabled, created_ms, updated_ms, updated_by FROM api_rules WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?;
        r.map(|r| rule_of(&r)).transpose()
    }

    /// Creates or replaces rule `id`.
    pub async fn put(
        &self,
        actor: &str,
        id: &str,
        spec: &serde_json::Value,
        enabled: bool,
    ) -> Result<StoredRule, sqlx::Error> {
        let before = self.get(id).await?;
        let now = argus_core::now_ms();
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO api_rules (id, spec, enabled, created_ms, updated_ms, updated_by)
             VALUES ($1, $2, $3, $4, $4, $5)
             ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, enabled = excluded.enabled,
               updated_ms = excluded.updated_ms, updated_by = excluded.updated_by",
        )
        .bind(id)
        .bind(spec.to_string())
        .bind(i64::from(enabled))
        .bind(now)
        .bind(actor)
        .execute(&mut *tx)
        .await?;
        let after = StoredRule {
            id: id.to_string(),
            spec: spec.clone(),
            enabled,
            created_ms: before.as_ref().map_or(now, |b| b.created_ms),
            updated_ms: now,
            updated_by: actor.to_string(),
        };
        audit::record(
            &mut tx,
            Change {
                actor,
                action: if before.is_some() { "update" } else { "create" },
                object_kind: "rule",
                object_id: id,
                before: before.map(|b| serde_json::to_value(b).unwrap_or_default()),
                after: Some(serde_json::to_value(&after).unwrap_or_default()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes rule `id`; whether it existed.
    pub async fn delete(&self, actor: &str, id: &str) -> Result<bool, sqlx::Error> {
        let Some(before) = self.get(id).await? else {
            return Ok(false);
        };
        let mut tx = self.db.begin().await?;
        sqlx::query("DELETE FROM api_rules WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            Change {
                actor,
                action: "delete",
                object_kind: "rule",
                object_id: id,
                before: Some(serde_json::to_value(before).unwrap_or_default()),
                after: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::tests::on_both_backends;

    on_both_backends!(rules_are_kept_with_their_audit, super::api_rules_suite);

    async fn api_rules_suite(db: Database) {
        let r = ApiRules::new(Arc::new(db));
        assert_eq!(r.stamp().await.ok(), Some((0, 0, 0)));
        let spec = serde_json::json!({"name": "HighCPU", "expr": "cpu < 10"});
        r.put("alice", "r1", &spec, true)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let first = r.stamp().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first.0, 1);
        assert!(first.1 > 0 && first.2 == first.1, "{first:?}");
        let off = r
            .put("bob", "r1", &spec, false)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!off.enabled);
        let got = r
            .get("r1")
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no r1"));
        assert_eq!((got.enabled, got.updated_by.as_str()), (false, "bob"));
        assert_eq!(got.spec["expr"], "cpu < 10");
        assert_eq!(r.list().await.map(|l| l.len()).ok(), Some(1));
        assert_eq!(r.delete("bob", "r1").await.ok(), Some(true));
        assert_eq!(r.delete("bob", "r1").await.ok(), Some(false));
        assert!(r.list().await.unwrap_or_default().is_empty());
        assert_eq!(r.stamp().await.ok(), Some((0, 0, 0)));
    }
}
