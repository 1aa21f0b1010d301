//! Alert history: every state change of every alert (pending, firing, resolved), with its
//! labels, annotations and value, queryable by rule, host, label and time range
//! (`GET /api/argus/alerts/history`). Written by the rule evaluation as transitions
//! happen; kept in the database so that several servers share it.

use super::db::Database;
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub ts_ms: i64,
    pub fingerprint: String,
    pub rule: String,
    pub group: String,
    /// `pending`, `firing` or `resolved`.
    pub state: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub value: f64,
}

/// What a history query asks for; every part is optional but the limit.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    pub rule: Option<String>,
    pub host: Option<String>,
    /// `(name, value)` pairs every transition's labels must hold.
    pub labels: Vec<(String, String)>,
    pub state: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub limit: i64,
}

pub struct AlertHistory {
    db: Arc<Database>,
}

impl AlertHistory {
    pub fn new(db: Arc<Database>) -> AlertHistory {
        AlertHistory { db }
    }

    /// Records transitions in one transaction.
    pub async fn record(&self, ts: &[Transition]) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin().await?;
        for t in ts {
            sqlx::query(
                "INSERT INTO alert_history (ts_ms, fingerprint, rule, group_name, state, host,
                   labels_json, annotations_json, value)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(t.ts_ms)
            .bind(&t.fingerprint)
            .bind(&t.rule)
            .bind(&t.group)
            .bind(&t.state)
            .bind(t.labels.get("host").map_or("", String::as_str))
            .bind(serde_json::to_string(&t.labels).unwrap_or_default())
            .bind(serde_json::to_string(&t.annotations).unwrap_or_default())
            // NaN and infinities do not fit every backend's float column: kept as 0 and
            // the value is also in the annotations when a rule shows it.
            .bind(if t.value.is_finite() { t.value } else { 0.0 })
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// Transitions matching `q`, newest first. Label filters are checked on the stored
    /// labels after the indexed filters (rule, host, time) narrowed the rows.
    pub async fn query(&self, q: &HistoryQuery) -> Result<Vec<Transition>, sqlx::Error> {
        let limit = q.limit.clamp(1, 100_000);
        // Label filters apply after SQL: read more rows than asked when there are some.
        let sql_limit = if q.labels.is_empty() { limit } else { 100_000 };
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT ts_ms, fingerprint, rule, group_name, state, labels_json, annotations_json, value
             FROM alert_history
             WHERE ($1 IS NULL OR rule = $1)
               AND ($2 IS NULL OR host = $2)
               AND ($3 IS NULL OR state = $3)
               AND ($4 IS NULL OR ts_ms >= $4)
               AND ($5 IS NULL OR ts_ms <= $5)
             ORDER BY ts_ms DESC, id DESC LIMIT {sql_limit}"
        )))
        .bind(q.rule.as_deref())
        .bind(q.host.as_deref())
        .bind(q.state.as_deref())
        .bind(q.from_ms)
        .bind(q.to_ms)
        .fetch_all(self.db.pool())
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let labels: BTreeMap<String, String> =
                serde_json::from_str(&r.try_get::<String, _>("labels_json")?).unwrap_or_default();
            if !q
                .labels
                .iter()
                .all(|(k, v)| labels.get(k).is_some_and(|x| x == v))
            {
                continue;
            }
            out.push(Transition {
                ts_ms: r.try_get("ts_ms")?,
                fingerprint: r.try_get("fingerprint")?,
                rule: r.try_get("rule")?,
                group: r.try_get("group_name")?,
                state: r.try_get("state")?,
                annotations: serde_json::from_str(&r.try_get::<String, _>("annotations_json")?)
                    .unwrap_or_default(),
                labels,
                value: r.try_get("value")?,
            });
            if out.len() as i64 >= limit {
                break;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::tests::on_both_backends;

    on_both_backends!(transitions_are_kept_and_found, super::history_suite);

    fn t(ts: i64, rule: &str, host: &str, state: &str, value: f64) -> Transition {
        Transition {
            ts_ms: ts,
            fingerprint: format!("fp-{rule}-{host}"),
            rule: rule.into(),
            group: "node".into(),
            state: state.into(),
            labels: [
                ("alertname".to_string(), rule.to_string()),
                ("host".to_string(), host.to_string()),
                ("severity".to_string(), "page".to_string()),
            ]
            .into(),
            annotations: [("summary".to_string(), format!("{host} is {state}"))].into(),
            value,
        }
    }

    async fn history_suite(db: Database) {
        let h = AlertHistory::new(Arc::new(db));
        h.record(&[
            t(1_000, "HighCPU", "web1", "pending", 95.5),
            t(61_000, "HighCPU", "web1", "firing", 97.0),
            t(62_000, "DiskFull", "db1", "firing", 99.0),
            t(300_000, "HighCPU", "web1", "resolved", 12.0),
            t(301_000, "HostDown", "web2", "firing", f64::NAN),
        ])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let q = |f: &dyn Fn(&mut HistoryQuery)| {
            let mut q = HistoryQuery {
                limit: 100,
                ..HistoryQuery::default()
            };
            f(&mut q);
            q
        };
        let states = |v: Vec<Transition>| {
            v.into_iter()
                .map(|t| format!("{}:{}", t.rule, t.state))
                .collect::<Vec<_>>()
        };
        let all = h.query(&q(&|_| {})).await.unwrap_or_default();
        assert_eq!(all.len(), 5);
        assert_eq!(all[1].annotations["summary"], "web1 is resolved");
        assert_eq!(all[1].value, 12.0);
        assert_eq!(all[0].value, 0.0);
        let by_rule = h
            .query(&q(&|q| q.rule = Some("HighCPU".into())))
            .await
            .unwrap_or_default();
        assert_eq!(
            states(by_rule),
            ["HighCPU:resolved", "HighCPU:firing", "HighCPU:pending"]
        );
        let by_host = h
            .query(&q(&|q| q.host = Some("db1".into())))
            .await
            .unwrap_or_default();
        assert_eq!(states(by_host), ["DiskFull:firing"]);
        let in_range = h
            .query(&q(&|q| {
                q.from_ms = Some(60_000);
                q.to_ms = Some(100_000);
            }))
            .await
            .unwrap_or_default();
        assert_eq!(states(in_range), ["DiskFull:firing", "HighCPU:firing"]);
        let by_label = h
            .query(&q(&|q| {
                q.labels = vec![("host".into(), "web2".into())];
                q.state = Some("firing".into());
            }))
            .await
            .unwrap_or_default();
        assert_eq!(states(by_label), ["HostDown:firing"]);
        let limited = h.query(&q(&|q| q.limit = 2)).await.unwrap_or_default();
        assert_eq!(limited.len(), 2);
    }
}
