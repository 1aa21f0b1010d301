//! The **notification**: one message about one aggregation group, as Alertmanager's
//! template data and its webhook payload (version 4) define it.
//!
//! It is plain data, filled in by whoever groups alerts (`argus-notify`), so that this
//! crate and that one can later share one type. Field order and names are the webhook's,
//! which is what the serde impls write; `webhook_body` writes it byte for byte as
//! Alertmanager 0.25 does.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::gojson;

/// Label or annotation pairs, sorted by name as Go marshals `map[string]string`.
pub type Kv = BTreeMap<String, String>;

/// Whether an alert, or a notification as a whole, is firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The condition holds.
    Firing,
    /// The condition ended (`endsAt` is in the past).
    Resolved,
}

impl Status {
    /// `firing` or `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

/// One alert of a notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// `firing` or `resolved`.
    pub status: Status,
    /// Identifying labels, `alertname` among them.
    pub labels: Kv,
    /// Descriptive text (`summary`, `description`, `runbook_url`, …).
    pub annotations: Kv,
    /// When the alert started firing.
    #[serde(rename = "startsAt", with = "gojson::time")]
    pub starts_at: Timestamp,
    /// When it ended; `None` while it fires (Go's zero time in the JSON).
    #[serde(rename = "endsAt", with = "gojson::zero_time", default)]
    pub ends_at: Option<Timestamp>,
    /// The rule's link in the system that raised it.
    #[serde(rename = "generatorURL", default)]
    pub generator_url: String,
    /// 16 hex digits identifying the label set (`fingerprint`).
    #[serde(default)]
    pub fingerprint: String,
}

/// A notification: the alerts of one group, sent together to one receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// The receiver's name, regex-escaped as Alertmanager's template data holds it
    /// (`quote_meta`).
    pub receiver: String,
    /// `firing` when any alert fires, else `resolved`.
    pub status: Status,
    /// The group's alerts.
    pub alerts: Vec<Alert>,
    /// The labels the route groups by, with this group's values.
    #[serde(rename = "groupLabels", default)]
    pub group_labels: Kv,
    /// Labels every alert has with the same value.
    #[serde(rename = "commonLabels", default)]
    pub common_labels: Kv,
    /// Annotations every alert has with the same value.
    #[serde(rename = "commonAnnotations", default)]
    pub common_annotations: Kv,
    /// Where the alert manager (the Argus server) is reached, for links back.
    #[serde(rename = "externalURL", default)]
    pub external_url: String,
    /// Payload version: `"4"`.
    #[serde(default = "version4")]
    pub version: String,
    /// Identifies the group: route matchers and group labels
    /// (`{}/{severity="page"}:{alertname="X"}`).
    #[serde(rename = "groupKey", default)]
    pub group_key: String,
    /// Alerts left out because of `max_alerts`.
    #[serde(rename = "truncatedAlerts", default)]
    pub truncated_alerts: u64,
}

fn version4() -> String {
    "4".to_owned()
}

impl Notification {
    /// The alerts that fire.
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter().filter(|a| a.status == Status::Firing)
    }

    /// The alerts that resolved.
    pub fn resolved(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter().filter(|a| a.status == Status::Resolved)
    }

    /// The notification with at most `max` alerts (0 = all); the rest are added to
    /// `truncatedAlerts`, as Alertmanager's webhook `max_alerts` does.
    pub fn truncated(&self, max: u64) -> std::borrow::Cow<'_, Notification> {
        let len = self.alerts.len() as u64;
        if max == 0 || len <= max {
            return std::borrow::Cow::Borrowed(self);
        }
        let mut n = self.clone();
        n.alerts.truncate(max as usize);
        n.truncated_alerts += len - max;
        std::borrow::Cow::Owned(n)
    }

    /// The webhook v4 body: JSON as Alertmanager 0.25 writes it (key order, Go's
    /// escaping of `&<>`, RFC 3339 nanosecond times) and a final newline.
    pub fn webhook_body(&self) -> Vec<u8> {
        // Serializing plain strings, maps and numbers into a Vec has no failure path; the
        // fallback is the payload's own shape rather than a panic.
        gojson::to_vec_line(self).unwrap_or_else(|_| b"{}\n".to_vec())
    }
}

/// Alertmanager's alert fingerprint: FNV-1a 64 over the label pairs sorted by name, each
/// name and value followed by 0xff, as 16 lowercase hex digits.
pub fn fingerprint(labels: &Kv) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(PRIME);
        }
    };
    for (name, value) in labels {
        feed(name.as_bytes());
        feed(&[0xff]);
        feed(value.as_bytes());
        feed(&[0xff]);
    }
    format!("{h:016x}")
}

/// Go's `regexp.QuoteMeta`: what Alertmanager does to a receiver name before it goes
/// into the template data, so `team.ops` is sent as `team\.ops`.
pub fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The alert name of the test notification.
pub const TEST_ALERTNAME: &str = "ArgusTestNotification";

/// The fixed notification a "send test" delivers: one firing alert named
/// `ArgusTestNotification` with a summary and a description, so a person reading it
/// sees at once that it is a test and which receiver it came through.
pub fn test_notification(receiver: &str, external_url: &str, now: Timestamp) -> Notification {
    let labels: Kv = [
        ("alertname", TEST_ALERTNAME),
        ("severity", "none"),
        ("instance", "argus"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let annotations: Kv = [
        ("summary", "Test notification from Argus".to_owned()),
        (
            "description",
            format!("Sent on request to check the receiver {receiver:?}; no alert is firing."),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let group_labels: Kv = [("alertname".to_owned(), TEST_ALERTNAME.to_owned())].into();
    Notification {
        receiver: quote_meta(receiver),
        status: Status::Firing,
        alerts: vec![Alert {
            status: Status::Firing,
            fingerprint: fingerprint(&labels),
            labels: labels.clone(),
            annotations: annotations.clone(),
            starts_at: now,
            ends_at: None,
            generator_url: external_url.to_owned(),
        }],
        group_key: format!("{{}}:{{alertname={TEST_ALERTNAME:?}}}"),
        group_labels,
        common_labels: labels,
        common_annotations: annotations,
        external_url: external_url.to_owned(),
        version: version4(),
        truncated_alerts: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(pairs: &[(&str, &str)]) -> Kv {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn fingerprint_matches_alertmanager() {
        // The empty set is FNV-1a's offset basis; the other value is FNV-1a 64 of
        // "alertname\xffX\xff" worked out by hand. tests/channels/alertmanager.rs checks
        // the function against the fingerprints a real Alertmanager sends.
        assert_eq!(fingerprint(&Kv::new()), "cbf29ce484222325");
        assert_eq!(fingerprint(&kv(&[("alertname", "X")])), "d2aeefc389ca7746");
    }

    #[test]
    fn quote_meta_escapes_regex_metacharacters() {
        assert_eq!(quote_meta("team.ops"), "team\\.ops");
        assert_eq!(
            quote_meta("a+b(c)|[d]{e}^$*?\\"),
            "a\\+b\\(c\\)\\|\\[d\\]\\{e\\}\\^\\$\\*\\?\\\\"
        );
        assert_eq!(quote_meta("plain-name_1"), "plain-name_1");
    }

    #[test]
    fn webhook_body_keys_in_alertmanager_order() {
        let n = test_notification("ops", "http://argus:9090", Timestamp::UNIX_EPOCH);
        let body = String::from_utf8(n.webhook_body()).expect("utf-8");
        assert!(body.ends_with("}\n"));
        let keys = [
            "\"receiver\"",
            "\"status\"",
            "\"alerts\"",
            "\"groupLabels\"",
            "\"commonLabels\"",
            "\"commonAnnotations\"",
            "\"externalURL\"",
            "\"version\"",
            "\"groupKey\"",
            "\"truncatedAlerts\"",
        ];
        // Each key found after the one before it: the top level's order.
        let mut at = 0;
        for k in keys {
            at += body[at..]
                .find(k)
                .unwrap_or_else(|| panic!("{k} after {at}: {body}"));
        }
        assert!(
            body.starts_with("{\"receiver\":\"ops\",\"status\":\"firing\",\"alerts\":[{\"status\"")
        );
        assert!(
            body.contains("\"endsAt\":\"0001-01-01T00:00:00Z\""),
            "{body}"
        );
        assert!(
            body.contains("\"startsAt\":\"1970-01-01T00:00:00Z\""),
            "{body}"
        );
    }

    #[test]
    fn truncated_counts_the_rest() {
        let mut n = test_notification("ops", "", Timestamp::UNIX_EPOCH);
        let a = n.alerts[0].clone();
        n.alerts = vec![a.clone(), a.clone(), a];
        let t = n.truncated(2);
        assert_eq!((t.alerts.len(), t.truncated_alerts), (2, 1));
        assert_eq!(n.truncated(0).alerts.len(), 3);
        assert_eq!(n.truncated(3).truncated_alerts, 0);
    }

    #[test]
    fn round_trips_through_json() {
        let n = test_notification("a.b", "", Timestamp::UNIX_EPOCH);
        let back: Notification = serde_json::from_slice(&n.webhook_body()).expect("parses back");
        assert_eq!(back, n);
        assert_eq!(back.receiver, "a\\.b");
    }
}
