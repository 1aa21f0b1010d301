//! Leases: which server holds a piece of work (a rule group, the inventory series) when
//! several share one database. A holder renews its lease before it expires; when it dies
//! the lease runs out and another server takes it over at its next try. With SQLite there
//! is one server, which always gets it.
//!
//! One statement decides, so two servers trying at once cannot both win: an insert, or
//! an update that only happens when the lease is the caller's or has expired.

use super::db::Database;
use std::sync::Arc;

/// The leases of one database.
pub struct Leases {
    db: Arc<Database>,
}

impl Leases {
    pub fn new(db: Arc<Database>) -> Leases {
        Leases { db }
    }

    /// Takes or renews `name` for `holder` until `now_ms + ttl_ms`; whether `holder` holds
    /// it now.
    pub async fn acquire(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<bool, sqlx::Error> {
        let got: Option<String> = sqlx::query_scalar(
            "INSERT INTO leases (name, holder, expires_ms) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms
             WHERE leases.holder = excluded.holder OR leases.expires_ms <= $4
             RETURNING holder",
        )
        .bind(name)
        .bind(holder)
        .bind(now_ms.saturating_add(ttl_ms))
        .bind(now_ms)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(got.as_deref() == Some(holder))
    }

    /// Gives `name` up, if `holder` has it (a server stopping hands its work over at once).
    pub async fn release(&self, name: &str, holder: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Who holds `name` at `now_ms`, if anyone.
    pub async fn holder(&self, name: &str, now_ms: i64) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT holder FROM leases WHERE name = $1 AND expires_ms > $2")
            .bind(name)
            .bind(now_ms)
            .fetch_optional(self.db.pool())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::tests::on_both_backends;

    on_both_backends!(
        one_holder_at_a_time_and_takeover_after_expiry,
        super::leases_suite
    );

    async fn leases_suite(db: Database) {
        let l = Leases::new(Arc::new(db));
        let ok = |r: Result<bool, sqlx::Error>| r.unwrap_or_else(|e| panic!("{e}"));
        assert!(ok(l.acquire("group-a", "s1", 1_000, 10_000).await));
        // Another server cannot take it while it runs.
        assert!(!ok(l.acquire("group-a", "s2", 5_000, 10_000).await));
        // The holder renews it.
        assert!(ok(l.acquire("group-a", "s1", 9_000, 10_000).await));
        assert!(!ok(l.acquire("group-a", "s2", 15_000, 10_000).await));
        assert_eq!(
            l.holder("group-a", 15_000).await.ok().flatten().as_deref(),
            Some("s1")
        );
        // s1 stops renewing: at expiry s2 takes over, and s1 is out.
        assert!(ok(l.acquire("group-a", "s2", 19_000, 10_000).await));
        assert!(!ok(l.acquire("group-a", "s1", 20_000, 10_000).await));
        // Two servers trying at once: exactly one wins.
        let (a, b) = tokio::join!(
            l.acquire("group-b", "s1", 1_000, 10_000),
            l.acquire("group-b", "s2", 1_000, 10_000)
        );
        assert_eq!(u8::from(ok(a)) + u8::from(ok(b)), 1);
        // A release hands it over at once.
        l.release("group-a", "s2")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(l.holder("group-a", 20_000).await.ok().flatten(), None);
        assert!(ok(l.acquire("group-a", "s1", 20_001, 10_000).await));
    }
}
