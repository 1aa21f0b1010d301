//! The notification log (Alertmanager's `nflog` and `DedupStage`).
//!
//! For every (group key, receiver integration) the log keeps the **last successful
//! notification**: when it was sent, and the alerts it reported firing and resolved (by
//! fingerprint). [`needs_update`] decides from that entry whether a flush must be sent:
//! something new fires, something stopped firing, a newly resolved alert for an
//! integration that sends resolutions, or `repeat_interval` has passed since the entry.
//! Entries expire `2 × repeat_interval` after they were written (at most the 120h
//! retention). The log serializes to JSON ([`NotificationLog::snapshot`]) so the server
//! can persist it, and a restarted server does not repeat what was already sent.
//!
//! Alertmanager hashes each alert's labels with xxHash for these sets; this crate uses
//! the label fingerprint (FNV-1a over the same bytes), which needs no extra dependency
//! and decides the same way.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{clock::add, config::IntegrationKind, gojson};

/// Longest an entry is kept (`--data.retention`, 120h).
pub const NFLOG_RETENTION: SignedDuration = SignedDuration::from_hours(120);

/// One integration of one receiver, as the log keys it (`receiver/integration/idx`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IntegrationRef {
    /// Receiver name.
    pub receiver: String,
    /// Integration name (`webhook`, `email`, …).
    pub integration: String,
    /// Index within that kind's list in the receiver.
    pub idx: u32,
}

impl IntegrationRef {
    /// The reference for a receiver's `idx`-th integration of `kind`.
    pub fn new(receiver: &str, kind: IntegrationKind, idx: usize) -> Self {
        IntegrationRef {
            receiver: receiver.to_owned(),
            integration: kind.name().to_owned(),
            idx: u32::try_from(idx).unwrap_or(u32::MAX),
        }
    }

    /// `receiver/integration/idx`, Alertmanager's `receiverKey`.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.receiver, self.integration, self.idx)
    }
}

/// The last successful notification of a group to an integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The group key.
    pub group_key: String,
    /// The integration.
    pub receiver: IntegrationRef,
    /// When it was sent.
    #[serde(with = "rfc3339")]
    pub timestamp: Timestamp,
    /// Fingerprints reported firing, as 16-hex strings.
    #[serde(with = "hex_set")]
    pub firing_alerts: BTreeSet<u64>,
    /// Fingerprints reported resolved.
    #[serde(with = "hex_set")]
    pub resolved_alerts: BTreeSet<u64>,
    /// When the entry is forgotten.
    #[serde(with = "rfc3339")]
    pub expires_at: Timestamp,
}

mod rfc3339 {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&gojson::rfc3339_nano(Some(*v)))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e| serde::de::Error::custom(format!("invalid time {s:?}: {e}")))
    }
}

mod hex_set {
    use super::*;
    use serde::{Deserializer, Serializer, ser::SerializeSeq};

    pub fn serialize<S: Serializer>(v: &BTreeSet<u64>, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for fp in v {
            seq.serialize_element(&format!("{fp:016x}"))?;
        }
        seq.end()
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeSet<u64>, D::Error> {
        let v: Vec<String> = Vec::deserialize(d)?;
        v.iter()
            .map(|s| {
                u64::from_str_radix(s, 16).map_err(|e| {
                    serde::de::Error::custom(format!("invalid fingerprint {s:?}: {e}"))
                })
            })
            .collect()
    }
}

/// Alertmanager's `DedupStage.needsUpdate`: whether a flush with these firing and
/// resolved fingerprints must be sent to an integration whose last entry is `entry`.
pub fn needs_update(
    entry: Option<&Entry>,
    firing: &BTreeSet<u64>,
    resolved: &BTreeSet<u64>,
    send_resolved: bool,
    repeat: SignedDuration,
    now: Timestamp,
) -> bool {
    let Some(entry) = entry else {
        // Never notified: only if something fires.
        return !firing.is_empty();
    };
    if !firing.is_subset(&entry.firing_alerts) {
        return true;
    }
    if firing.is_empty() {
        // Everything resolved: tell the receiver only if it was told something fired
        // (regardless of send_resolved, so the log clears its firing set).
        return !entry.firing_alerts.is_empty();
    }
    if send_resolved && !resolved.is_subset(&entry.resolved_alerts) {
        return true;
    }
    entry.timestamp < crate::clock::sub(now, repeat)
}

/// A snapshot of the log, as persisted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// Format version, 1.
    pub version: u32,
    /// Every entry.
    pub entries: Vec<Entry>,
}

/// The notification log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationLog {
    entries: BTreeMap<(String, IntegrationRef), Entry>,
}

impl NotificationLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// The entry for a group and integration.
    pub fn query(&self, group_key: &str, receiver: &IntegrationRef) -> Option<&Entry> {
        self.entries.get(&(group_key.to_owned(), receiver.clone()))
    }

    /// Records a successful notification sent at `now` (`Log`): the entry expires after
    /// `2 × repeat_interval`, or the retention when that is shorter. An entry newer than
    /// `now` is kept.
    pub fn log(
        &mut self,
        receiver: &IntegrationRef,
        group_key: &str,
        firing: BTreeSet<u64>,
        resolved: BTreeSet<u64>,
        repeat_interval: SignedDuration,
        now: Timestamp,
    ) {
        let key = (group_key.to_owned(), receiver.clone());
        if self.entries.get(&key).is_some_and(|e| e.timestamp > now) {
            return;
        }
        let expiry = repeat_interval.checked_mul(2).unwrap_or(NFLOG_RETENTION);
        let ttl = if expiry > SignedDuration::ZERO && NFLOG_RETENTION > expiry {
            expiry
        } else {
            NFLOG_RETENTION
        };
        self.entries.insert(
            key,
            Entry {
                group_key: group_key.to_owned(),
                receiver: receiver.clone(),
                timestamp: now,
                firing_alerts: firing,
                resolved_alerts: resolved,
                expires_at: add(now, ttl),
            },
        );
    }

    /// Removes expired entries; returns how many.
    pub fn gc(&mut self, now: Timestamp) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, e| e.expires_at > now);
        before - self.entries.len()
    }

    /// Every entry.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// The log as a serializable snapshot.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            version: 1,
            entries: self.entries.values().cloned().collect(),
        }
    }

    /// A log from a snapshot, dropping entries already expired at `now`.
    pub fn restore(snapshot: Snapshot, now: Timestamp) -> Self {
        NotificationLog {
            entries: snapshot
                .entries
                .into_iter()
                .filter(|e| e.expires_at > now)
                .map(|e| ((e.group_key.clone(), e.receiver.clone()), e))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn set(v: &[u64]) -> BTreeSet<u64> {
        v.iter().copied().collect()
    }

    const H4: SignedDuration = SignedDuration::from_hours(4);

    fn entry(firing: &[u64], resolved: &[u64], at: &str) -> Entry {
        Entry {
            group_key: "g".into(),
            receiver: IntegrationRef::new("r", IntegrationKind::Webhook, 0),
            timestamp: ts(at),
            firing_alerts: set(firing),
            resolved_alerts: set(resolved),
            expires_at: ts("2030-01-01T00:00:00Z"),
        }
    }

    #[test]
    fn dedup_decisions() {
        let now = ts("2024-01-01T01:00:00Z");
        // Nothing logged: send only if something fires.
        assert!(needs_update(None, &set(&[1]), &set(&[]), true, H4, now));
        assert!(!needs_update(None, &set(&[]), &set(&[1]), true, H4, now));
        let e = entry(&[1, 2], &[], "2024-01-01T00:30:00Z");
        // Same firing set, nothing resolved, within repeat: no.
        assert!(!needs_update(
            Some(&e),
            &set(&[1, 2]),
            &set(&[]),
            true,
            H4,
            now
        ));
        // A subset still firing, the other resolved: only if sending resolutions.
        assert!(needs_update(
            Some(&e),
            &set(&[1]),
            &set(&[2]),
            true,
            H4,
            now
        ));
        assert!(!needs_update(
            Some(&e),
            &set(&[1]),
            &set(&[2]),
            false,
            H4,
            now
        ));
        // Something new fires.
        assert!(needs_update(
            Some(&e),
            &set(&[1, 3]),
            &set(&[]),
            false,
            H4,
            now
        ));
        // All resolved: yes even without send_resolved (clears the log).
        assert!(needs_update(
            Some(&e),
            &set(&[]),
            &set(&[1, 2]),
            false,
            H4,
            now
        ));
        let cleared = entry(&[], &[1, 2], "2024-01-01T00:30:00Z");
        assert!(!needs_update(
            Some(&cleared),
            &set(&[]),
            &set(&[1, 2]),
            true,
            H4,
            now
        ));
        // Repeat: strictly more than repeat_interval since the entry.
        assert!(!needs_update(
            Some(&e),
            &set(&[1, 2]),
            &set(&[]),
            true,
            H4,
            ts("2024-01-01T04:30:00Z")
        ));
        assert!(needs_update(
            Some(&e),
            &set(&[1, 2]),
            &set(&[]),
            true,
            H4,
            ts("2024-01-01T04:30:00.000000001Z")
        ));
    }

    #[test]
    fn log_expiry_gc_and_snapshot_roundtrip() {
        let mut log = NotificationLog::new();
        let r = IntegrationRef::new("team", IntegrationKind::Email, 1);
        assert_eq!(r.key(), "team/email/1");
        let t = ts("2024-01-01T00:00:00Z");
        log.log(&r, "{}:{}", set(&[0xabc]), set(&[7]), H4, t);
        let e = log.query("{}:{}", &r).cloned();
        assert_eq!(
            e.as_ref().map(|e| e.expires_at),
            Some(ts("2024-01-01T08:00:00Z"))
        );
        // A repeat interval longer than 60h is capped by the 120h retention.
        log.log(
            &r,
            "other",
            set(&[1]),
            set(&[]),
            SignedDuration::from_hours(100),
            t,
        );
        assert_eq!(
            log.query("other", &r).map(|e| e.expires_at),
            Some(ts("2024-01-06T00:00:00Z"))
        );
        // An older write does not replace a newer entry.
        log.log(
            &r,
            "{}:{}",
            set(&[]),
            set(&[]),
            H4,
            ts("2023-12-31T00:00:00Z"),
        );
        assert_eq!(
            log.query("{}:{}", &r).map(|e| e.firing_alerts.len()),
            Some(1)
        );

        let json = serde_json::to_string(&log.snapshot()).unwrap_or_default();
        assert!(
            json.contains(r#""firingAlerts":["0000000000000abc"]"#),
            "{json}"
        );
        assert!(
            json.contains(r#""receiver":{"receiver":"team","integration":"email","idx":1}"#),
            "{json}"
        );
        let snap: Snapshot = serde_json::from_str(&json).unwrap_or_default();
        let restored = NotificationLog::restore(snap.clone(), t);
        assert_eq!(restored, log);
        // Restoring after the first entry expired drops it.
        let later = NotificationLog::restore(snap, ts("2024-01-01T08:00:00Z"));
        assert_eq!(later.entries().count(), 1);
        assert_eq!(log.gc(ts("2024-01-01T08:00:00Z")), 1);
    }
}
