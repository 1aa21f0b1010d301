//! The audit log: every change made through the API, with who made it, when, and the
//! object before and after (as JSON; secrets such as password hashes are never in it).
//! A change and its audit entry are written in one transaction: there is no change
//! without its entry.

use super::db::Database;
use serde::Serialize;
use sqlx::{Any, Row, Transaction};

/// One change to record.
pub struct Change<'a> {
    /// Who: a user name, or `token:<name>` for a token without a user.
    pub actor: &'a str,
    /// `create`, `update`, `delete`, `login`, `logout`, `revoke`, …
    pub action: &'a str,
    /// `user`, `token`, `host`, `config`, `session`.
    pub object_kind: &'a str,
    pub object_id: &'a str,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Records `change` within `tx`.
pub async fn record(tx: &mut Transaction<'_, Any>, change: Change<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit (ts_ms, actor, action, object_kind, object_id, before_json, after_json)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(argus_core::now_ms())
    .bind(change.actor)
    .bind(change.action)
    .bind(change.object_kind)
    .bind(change.object_id)
    .bind(change.before.map(|v| v.to_string()))
    .bind(change.after.map(|v| v.to_string()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One entry as listed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Entry {
    pub id: i64,
    pub ts_ms: i64,
    pub actor: String,
    pub action: String,
    pub object_kind: String,
    pub object_id: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

/// What `GET /api/argus/audit` asks for; every part is optional.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub actor: Option<String>,
    pub object_kind: Option<String>,
    pub object_id: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub limit: i64,
}

/// Entries matching `f`, newest first.
pub async fn list(db: &Database, f: &Filter) -> Result<Vec<Entry>, sqlx::Error> {
    // Each condition is always present and switched off by a null parameter, so the
    // statement is one text for every filter.
    let rows = sqlx::query(
        "SELECT id, ts_ms, actor, action, object_kind, object_id, before_json, after_json FROM audit
         WHERE ($1 IS NULL OR actor = $1)
           AND ($2 IS NULL OR object_kind = $2)
           AND ($3 IS NULL OR object_id = $3)
           AND ($4 IS NULL OR ts_ms >= $4)
           AND ($5 IS NULL OR ts_ms <= $5)
         ORDER BY id DESC LIMIT $6",
    )
    .bind(f.actor.as_deref())
    .bind(f.object_kind.as_deref())
    .bind(f.object_id.as_deref())
    .bind(f.from_ms)
    .bind(f.to_ms)
    .bind(f.limit)
    .fetch_all(db.pool())
    .await?;
    let json = |s: Option<String>| {
        s.and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    rows.into_iter()
        .map(|r| {
            Ok(Entry {
                id: r.try_get("id")?,
                ts_ms: r.try_get("ts_ms")?,
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                object_kind: r.try_get("object_kind")?,
                object_id: r.try_get("object_id")?,
                before: json(r.try_get("before_json")?),
                after: json(r.try_get("after_json")?),
            })
        })
        .collect()
}
