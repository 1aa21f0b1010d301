//! Alerts as Alertmanager holds them, and the rules for taking them in.
//!
//! An [`Alert`] is identified by its labels (its fingerprint). It **fires** until its
//! `endsAt` has passed and is **resolved** after. Senders (Prometheus, Argus's rule
//! engine) re-post firing alerts with an `endsAt` a few intervals ahead; an alert posted
//! without `endsAt` gets `now + resolve_timeout` and is marked as timing out. Re-posts of
//! the same labels are merged as Alertmanager's `types.Alert.Merge` does: the earliest
//! `startsAt` is kept, and the newer post's annotations win.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{
    gojson,
    labels::{LabelSet, fingerprint, is_valid_label_name},
};

/// One alert in Alertmanager's store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Identity.
    pub labels: LabelSet,
    /// Descriptions (summary, runbook, …).
    pub annotations: LabelSet,
    /// When it began firing.
    pub starts_at: Timestamp,
    /// When it ends or ended; `None` (Go's zero time) only in flushed copies, where it
    /// means "still firing".
    pub ends_at: Option<Timestamp>,
    /// Link back to the source.
    pub generator_url: String,
    /// When Alertmanager last received it: the authoritative time when merging.
    pub updated_at: Timestamp,
    /// Whether `ends_at` came from `resolve_timeout` rather than the sender.
    pub timeout: bool,
}

impl Alert {
    /// The label fingerprint.
    pub fn fingerprint(&self) -> u64 {
        fingerprint(&self.labels)
    }

    /// Whether it is resolved at `now` (`endsAt` set and not after `now`).
    pub fn resolved_at(&self, now: Timestamp) -> bool {
        self.ends_at.is_some_and(|e| e <= now)
    }

    /// `firing` or `resolved` at `now`.
    pub fn status(&self, now: Timestamp) -> &'static str {
        if self.resolved_at(now) {
            "resolved"
        } else {
            "firing"
        }
    }

    /// `types.Alert.Merge`: combines a stored alert with a newer post of the same labels.
    /// The later `updated_at` is the base; the earliest `starts_at` is kept; `ends_at`
    /// follows Alertmanager's rules for resolved and timing-out alerts.
    pub fn merge(&self, other: &Alert, now: Timestamp) -> Alert {
        if other.updated_at < self.updated_at {
            return other.merge(self, now);
        }
        let mut res = other.clone();
        if self.starts_at < other.starts_at {
            res.starts_at = self.starts_at;
        }
        let (a_end, o_end) = (self.ends_at, other.ends_at);
        if other.resolved_at(now) {
            if self.resolved_at(now) && a_end > o_end {
                res.ends_at = a_end;
            }
        } else if a_end > o_end && !self.timeout {
            res.ends_at = a_end;
        }
        res
    }
}

/// An alert as posted to Alertmanager's `POST /api/v2/alerts` (and as Prometheus sends
/// it): times optional, Go's zero time meaning unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableAlert {
    /// Labels (required, at least one non-empty).
    #[serde(default)]
    pub labels: LabelSet,
    /// Annotations.
    #[serde(default)]
    pub annotations: LabelSet,
    /// Start; `now` when missing.
    #[serde(default, with = "gojson::opt_time")]
    pub starts_at: Option<Timestamp>,
    /// End; `now + resolve_timeout` when missing.
    #[serde(default, with = "gojson::opt_time")]
    pub ends_at: Option<Timestamp>,
    /// Link back to the source.
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
}

/// Why a posted alert was refused; `index` is its position in the posted batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("alerts[{index}]: {field}: {reason}")]
pub struct AlertError {
    /// Position in the batch.
    pub index: usize,
    /// The field at fault (`labels`, `labels.1a`, `endsAt`, …).
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl PostableAlert {
    /// Applies Alertmanager's ingest rules (`postAlertsHandler`): a missing `startsAt`
    /// becomes `now` (or `endsAt` when only that is given); a missing `endsAt` becomes
    /// `now + resolve_timeout` and marks the alert as timing out; labels with empty values
    /// are dropped; then the alert is validated (`model.Alert.Validate`).
    pub fn into_alert(
        self,
        index: usize,
        now: Timestamp,
        resolve_timeout: SignedDuration,
    ) -> Result<Alert, AlertError> {
        let err = |field: &str, reason: String| AlertError {
            index,
            field: field.to_owned(),
            reason,
        };
        let starts_at = match (self.starts_at, self.ends_at) {
            (Some(s), _) => s,
            (None, Some(e)) => e,
            (None, None) => now,
        };
        let (ends_at, timeout) = match self.ends_at {
            Some(e) => (e, false),
            None => (
                now.checked_add(resolve_timeout)
                    .map_err(|e| err("endsAt", e.to_string()))?,
                true,
            ),
        };
        let labels: LabelSet = self
            .labels
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        if ends_at < starts_at {
            return Err(err("endsAt", "start time must be before end time".into()));
        }
        for name in labels.keys() {
            if !is_valid_label_name(name) {
                return Err(err(
                    &format!("labels.{name}"),
                    format!("invalid label set: invalid name {name:?}"),
                ));
            }
        }
        if labels.is_empty() {
            return Err(err("labels", "at least one label pair required".into()));
        }
        for name in self.annotations.keys() {
            if !is_valid_label_name(name) {
                return Err(err(
                    &format!("annotations.{name}"),
                    format!("invalid annotations: invalid name {name:?}"),
                ));
            }
        }
        Ok(Alert {
            labels,
            annotations: self.annotations,
            starts_at,
            ends_at: Some(ends_at),
            generator_url: self.generator_url,
            updated_at: now,
            timeout,
        })
    }
}

/// Merges a newly received alert into the stored one of the same labels, as the
/// in-memory provider's `Put` does: only when their activity ranges overlap; otherwise
/// the new one replaces the old (a fresh incident of the same labels).
pub fn merge_into_store(old: Option<&Alert>, new: Alert, now: Timestamp) -> Alert {
    let Some(old) = old else { return new };
    let (Some(old_end), Some(new_end)) = (old.ends_at, new.ends_at) else {
        return new;
    };
    let overlaps = (new_end > old.starts_at && new_end < old_end)
        || (new.starts_at > old.starts_at && new.starts_at < old_end);
    if overlaps { old.merge(&new, now) } else { new }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::label_set;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn post(json: &str) -> PostableAlert {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    const FIVE_MIN: SignedDuration = SignedDuration::from_mins(5);

    #[test]
    fn missing_times_get_now_and_resolve_timeout() {
        let now = ts("2024-01-01T00:00:00Z");
        let a = post(r#"{"labels":{"alertname":"X","empty":""}}"#)
            .into_alert(0, now, FIVE_MIN)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.starts_at, now);
        assert_eq!(a.ends_at, Some(ts("2024-01-01T00:05:00Z")));
        assert!(a.timeout);
        assert_eq!(a.labels, label_set([("alertname", "X")]));
        // Go's zero time is "unset"; only endsAt given → startsAt = endsAt.
        let a = post(r#"{"labels":{"a":"1"},"startsAt":"0001-01-01T00:00:00Z","endsAt":"2023-12-31T23:00:00Z"}"#)
            .into_alert(0, now, FIVE_MIN)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.starts_at, ts("2023-12-31T23:00:00Z"));
        assert!(!a.timeout);
        assert!(a.resolved_at(now));
        assert_eq!(a.status(now), "resolved");
    }

    #[test]
    fn invalid_alerts_name_the_field() {
        let now = ts("2024-01-01T00:00:00Z");
        let e = post(r#"{"labels":{"x":""}}"#)
            .into_alert(3, now, FIVE_MIN)
            .err();
        assert_eq!(
            e.map(|e| e.to_string()),
            Some("alerts[3]: labels: at least one label pair required".into())
        );
        let e = post(r#"{"labels":{"1x":"a"}}"#)
            .into_alert(0, now, FIVE_MIN)
            .err();
        assert_eq!(e.map(|e| e.field), Some("labels.1x".into()));
        let e = post(r#"{"labels":{"a":"b"},"startsAt":"2024-01-01T00:00:00Z","endsAt":"2023-01-01T00:00:00Z"}"#)
            .into_alert(0, now, FIVE_MIN)
            .err();
        assert_eq!(
            e.map(|e| e.reason),
            Some("start time must be before end time".into())
        );
    }

    fn alert(start: &str, end: &str, updated: &str, summary: &str) -> Alert {
        Alert {
            labels: label_set([("a", "1")]),
            annotations: label_set([("summary", summary)]),
            starts_at: ts(start),
            ends_at: Some(ts(end)),
            generator_url: String::new(),
            updated_at: ts(updated),
            timeout: false,
        }
    }

    #[test]
    fn reposts_keep_the_earliest_start_and_newest_annotations() {
        let now = ts("2024-01-01T00:02:00Z");
        let old = alert(
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:04:00Z",
            "2024-01-01T00:00:00Z",
            "old",
        );
        let new = alert(
            "2024-01-01T00:01:00Z",
            "2024-01-01T00:05:00Z",
            "2024-01-01T00:01:00Z",
            "new",
        );
        let m = merge_into_store(Some(&old), new, now);
        assert_eq!(m.starts_at, ts("2024-01-01T00:00:00Z"));
        assert_eq!(m.ends_at, Some(ts("2024-01-01T00:05:00Z")));
        assert_eq!(
            m.annotations.get("summary").map(String::as_str),
            Some("new")
        );
        // A post that resolves it earlier than the stored end wins (non-timeout rule).
        let resolve = alert(
            "2024-01-01T00:01:00Z",
            "2024-01-01T00:02:00Z",
            "2024-01-01T00:02:00Z",
            "r",
        );
        let m = merge_into_store(Some(&old), resolve, now);
        assert_eq!(m.ends_at, Some(ts("2024-01-01T00:02:00Z")));
        assert_eq!(m.starts_at, ts("2024-01-01T00:00:00Z"));
        // No overlap: a new incident replaces the old one, start and all.
        let later = alert(
            "2024-01-01T01:00:00Z",
            "2024-01-01T01:05:00Z",
            "2024-01-01T01:00:00Z",
            "n",
        );
        let m = merge_into_store(Some(&old), later, now);
        assert_eq!(m.starts_at, ts("2024-01-01T01:00:00Z"));
    }
}
