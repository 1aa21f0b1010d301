//! What a channel receives: [`Notification`], Alertmanager's template `Data`, and the
//! webhook v4 body built from it.
//!
//! A notification is one flush of one group for one integration: the receiver name
//! (regex-escaped, as Alertmanager passes it to templates and the webhook), `firing` or
//! `resolved`, the alerts with their status and fingerprint, the group labels, the
//! labels and annotations common to all alerts, the external URL and the group key.
//! Every channel (email, chat, script) renders from this type; the webhook sends it as
//! JSON, byte for byte as Alertmanager 0.25 does ([`Notification::webhook_body`]).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{
    alert::Alert,
    gojson,
    labels::{LabelSet, fingerprint_hex},
};

/// One alert as templates and the webhook see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationAlert {
    /// `firing` or `resolved`.
    pub status: String,
    /// Labels.
    pub labels: LabelSet,
    /// Annotations.
    pub annotations: LabelSet,
    /// Start.
    #[serde(with = "gojson::opt_time")]
    pub starts_at: Option<Timestamp>,
    /// End; `None` (Go's zero time, `0001-01-01T00:00:00Z`) while firing.
    #[serde(with = "gojson::opt_time")]
    pub ends_at: Option<Timestamp>,
    /// Link to the source.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// The label fingerprint, 16 hex digits.
    pub fingerprint: String,
}

/// Alertmanager's template `Data` plus the group key: the input of every channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// The receiver's name passed through Go's `regexp.QuoteMeta` (`team.a` →
    /// `team\.a`), as Alertmanager 0.25 does.
    pub receiver: String,
    /// `firing` if any alert fires, else `resolved`.
    pub status: String,
    /// The alerts, in the group's order.
    pub alerts: Vec<NotificationAlert>,
    /// The group's labels.
    pub group_labels: LabelSet,
    /// Label pairs every alert has.
    pub common_labels: LabelSet,
    /// Annotation pairs every alert has.
    pub common_annotations: LabelSet,
    /// Link to the Alertmanager (Argus) UI.
    #[serde(rename = "externalURL")]
    pub external_url: String,
    /// The group key (`{}/{a="b"}:{alertname="X"}`).
    pub group_key: String,
}

/// Go's `regexp.QuoteMeta`: a backslash before each of `\.+*?()|[]{}^$`.
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

fn common<'a>(maps: impl Iterator<Item = &'a LabelSet>) -> LabelSet {
    let mut it = maps;
    let Some(first) = it.next() else {
        return LabelSet::new();
    };
    let mut common = first.clone();
    for m in it {
        if common.is_empty() {
            break;
        }
        common.retain(|k, v| m.get(k) == Some(v));
    }
    common
}

impl Notification {
    /// Builds the data for `alerts` (as flushed: `ends_at` `None` while firing) at `now`,
    /// as Alertmanager's `Template.Data` does.
    pub fn new(
        receiver: &str,
        group_key: &str,
        group_labels: &LabelSet,
        alerts: &[Alert],
        external_url: &str,
        now: Timestamp,
    ) -> Self {
        let alerts: Vec<NotificationAlert> = alerts
            .iter()
            .map(|a| {
                let resolved = a.resolved_at(now);
                NotificationAlert {
                    status: a.status(now).to_owned(),
                    labels: a.labels.clone(),
                    annotations: a.annotations.clone(),
                    starts_at: Some(a.starts_at),
                    ends_at: if resolved { a.ends_at } else { None },
                    generator_url: a.generator_url.clone(),
                    fingerprint: fingerprint_hex(a.fingerprint()),
                }
            })
            .collect();
        Self::from_alerts(
            quote_meta(receiver),
            group_key.to_owned(),
            group_labels.clone(),
            alerts,
            external_url.to_owned(),
        )
    }

    fn from_alerts(
        receiver: String,
        group_key: String,
        group_labels: LabelSet,
        alerts: Vec<NotificationAlert>,
        external_url: String,
    ) -> Self {
        let status = if alerts.iter().any(|a| a.status == "firing") {
            "firing"
        } else {
            "resolved"
        };
        Notification {
            receiver,
            status: status.to_owned(),
            common_labels: common(alerts.iter().map(|a| &a.labels)),
            common_annotations: common(alerts.iter().map(|a| &a.annotations)),
            alerts,
            group_labels,
            external_url,
            group_key,
        }
    }

    /// The firing alerts.
    pub fn firing(&self) -> impl Iterator<Item = &NotificationAlert> {
        self.alerts.iter().filter(|a| a.status == "firing")
    }

    /// The resolved alerts.
    pub fn resolved(&self) -> impl Iterator<Item = &NotificationAlert> {
        self.alerts.iter().filter(|a| a.status == "resolved")
    }

    /// Whether any alert fires (`status` is `firing`).
    pub fn is_firing(&self) -> bool {
        self.status == "firing"
    }

    /// This notification cut to its first `max_alerts` alerts (0 = no limit), with
    /// status and common labels recomputed from those, as the webhook truncates before
    /// building its data; returns the number cut.
    pub fn truncated(&self, max_alerts: u64) -> (Notification, u64) {
        let n = self.alerts.len() as u64;
        if max_alerts == 0 || n <= max_alerts {
            return (self.clone(), 0);
        }
        let keep = usize::try_from(max_alerts).unwrap_or(usize::MAX);
        let cut = Notification::from_alerts(
            self.receiver.clone(),
            self.group_key.clone(),
            self.group_labels.clone(),
            self.alerts[..keep].to_vec(),
            self.external_url.clone(),
        );
        (cut, n - max_alerts)
    }

    /// The webhook v4 body, exactly as Alertmanager 0.25 writes it: keys in Go's struct
    /// order (`receiver, status, alerts, groupLabels, commonLabels, commonAnnotations,
    /// externalURL, version, groupKey, truncatedAlerts`), maps key-sorted, `&<>` escaped,
    /// times in RFC 3339 with nanoseconds, and a trailing newline.
    pub fn webhook_body(&self, max_alerts: u64) -> String {
        let (n, truncated) = self.truncated(max_alerts);
        let mut s = String::with_capacity(512 + 256 * n.alerts.len());
        s.push_str("{\"receiver\":");
        gojson::write_string(&mut s, &n.receiver);
        s.push_str(",\"status\":");
        gojson::write_string(&mut s, &n.status);
        s.push_str(",\"alerts\":[");
        for (i, a) in n.alerts.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str("{\"status\":");
            gojson::write_string(&mut s, &a.status);
            s.push_str(",\"labels\":");
            gojson::write_map(&mut s, &a.labels);
            s.push_str(",\"annotations\":");
            gojson::write_map(&mut s, &a.annotations);
            s.push_str(",\"startsAt\":");
            gojson::write_string(&mut s, &gojson::rfc3339_nano(a.starts_at));
            s.push_str(",\"endsAt\":");
            gojson::write_string(&mut s, &gojson::rfc3339_nano(a.ends_at));
            s.push_str(",\"generatorURL\":");
            gojson::write_string(&mut s, &a.generator_url);
            s.push_str(",\"fingerprint\":");
            gojson::write_string(&mut s, &a.fingerprint);
            s.push('}');
        }
        s.push_str("],\"groupLabels\":");
        gojson::write_map(&mut s, &n.group_labels);
        s.push_str(",\"commonLabels\":");
        gojson::write_map(&mut s, &n.common_labels);
        s.push_str(",\"commonAnnotations\":");
        gojson::write_map(&mut s, &n.common_annotations);
        s.push_str(",\"externalURL\":");
        gojson::write_string(&mut s, &n.external_url);
        s.push_str(",\"version\":\"4\",\"groupKey\":");
        gojson::write_string(&mut s, &n.group_key);
        s.push_str(&format!(",\"truncatedAlerts\":{truncated}}}\n"));
        s
    }
}

/// The alert name of the test notification.
pub const TEST_ALERTNAME: &str = "ArgusTestNotification";

/// The fixed notification a "send test" delivers: one firing alert named
/// `ArgusTestNotification` with a summary and a description, so a person reading it
/// sees at once that it is a test and which receiver it came through.
pub fn test_notification(receiver: &str, external_url: &str, now: Timestamp) -> Notification {
    let labels: LabelSet = [
        ("alertname", TEST_ALERTNAME),
        ("severity", "none"),
        ("instance", "argus"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let annotations: LabelSet = [
        ("summary", "Test notification from Argus".to_owned()),
        (
            "description",
            format!("Sent on request to check the receiver {receiver:?}; no alert is firing."),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let alert = Alert {
        labels,
        annotations,
        starts_at: now,
        ends_at: None,
        generator_url: external_url.to_owned(),
        updated_at: now,
        timeout: false,
    };
    let group_labels: LabelSet = [("alertname".to_owned(), TEST_ALERTNAME.to_owned())].into();
    Notification::new(
        receiver,
        &format!("{{}}:{{alertname={TEST_ALERTNAME:?}}}"),
        &group_labels,
        &[alert],
        external_url,
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::label_set;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn alert(inst: &str, end: Option<&str>, summary: &str) -> Alert {
        Alert {
            labels: label_set([
                ("alertname", "HighLoad"),
                ("instance", inst),
                ("severity", "page"),
            ]),
            annotations: label_set([("summary", summary), ("runbook", "https://x/?a=1&b=<2>")]),
            starts_at: ts("2024-01-01T00:00:00.5Z"),
            ends_at: end.map(ts),
            generator_url: "http://prom:9090/graph?g0.expr=up&g0.tab=1".into(),
            updated_at: ts("2024-01-01T00:00:00Z"),
            timeout: false,
        }
    }

    #[test]
    fn the_test_notification_is_one_firing_alert_named_for_the_test() {
        let now = ts("2026-12-07T10:00:00Z");
        let n = test_notification("team.ops", "http://argus:9090", now);
        assert_eq!(n.receiver, r"team\.ops");
        assert_eq!(n.status, "firing");
        assert_eq!(n.group_key, r#"{}:{alertname="ArgusTestNotification"}"#);
        assert_eq!(n.alerts.len(), 1);
        let a = &n.alerts[0];
        assert_eq!(
            a.labels.get("alertname").map(String::as_str),
            Some(TEST_ALERTNAME)
        );
        assert_eq!((a.starts_at, a.ends_at), (Some(now), None));
        assert_eq!(
            a.annotations.get("description").map(String::as_str),
            Some("Sent on request to check the receiver \"team.ops\"; no alert is firing.")
        );
        // Round trip through the webhook body.
        let back: Notification =
            serde_json::from_str(&n.webhook_body(0)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, n);
    }

    #[test]
    fn quote_meta_like_go() {
        assert_eq!(quote_meta("team.a+(b)"), r"team\.a\+\(b\)");
        assert_eq!(quote_meta("plain-name_1"), "plain-name_1");
    }

    #[test]
    fn data_status_common_labels_and_fingerprints() {
        let now = ts("2024-01-01T00:10:00Z");
        let alerts = [
            alert("a", None, "load high on a"),
            alert("b", Some("2024-01-01T00:05:00Z"), "load high on b"),
        ];
        let gl = label_set([("alertname", "HighLoad")]);
        let n = Notification::new(
            "ops.team",
            r#"{}:{alertname="HighLoad"}"#,
            &gl,
            &alerts,
            "http://am",
            now,
        );
        assert_eq!(n.receiver, r"ops\.team");
        assert_eq!(n.status, "firing");
        assert_eq!(
            n.common_labels,
            label_set([("alertname", "HighLoad"), ("severity", "page")])
        );
        assert_eq!(
            n.common_annotations,
            label_set([("runbook", "https://x/?a=1&b=<2>")])
        );
        assert_eq!(n.firing().count(), 1);
        assert_eq!(n.resolved().count(), 1);
        assert_eq!(n.alerts[0].fingerprint.len(), 16);
        let all_resolved = Notification::new("r", "k", &gl, &alerts[1..], "", now);
        assert_eq!(all_resolved.status, "resolved");
    }

    #[test]
    fn webhook_v4_bytes() {
        let now = ts("2024-01-01T00:10:00Z");
        let alerts = [
            alert("a", None, "s"),
            alert("b", Some("2024-01-01T00:05:00Z"), "s"),
        ];
        let gl = label_set([("alertname", "HighLoad")]);
        let n = Notification::new(
            "web.hook",
            r#"{}:{alertname="HighLoad"}"#,
            &gl,
            &alerts,
            "http://am:9093",
            now,
        );
        let fp_a = crate::labels::fingerprint_hex(alerts[0].fingerprint());
        let fp_b = crate::labels::fingerprint_hex(alerts[1].fingerprint());
        let expected = format!(
            concat!(
                r#"{{"receiver":"web\\.hook","status":"firing","alerts":["#,
                r#"{{"status":"firing","labels":{{"alertname":"HighLoad","instance":"a","severity":"page"}},"annotations":{{"runbook":"https://x/?a=1\u0026b=\u003c2\u003e","summary":"s"}},"startsAt":"2024-01-01T00:00:00.5Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prom:9090/graph?g0.expr=up\u0026g0.tab=1","fingerprint":"{}"}},"#,
                r#"{{"status":"resolved","labels":{{"alertname":"HighLoad","instance":"b","severity":"page"}},"annotations":{{"runbook":"https://x/?a=1\u0026b=\u003c2\u003e","summary":"s"}},"startsAt":"2024-01-01T00:00:00.5Z","endsAt":"2024-01-01T00:05:00Z","generatorURL":"http://prom:9090/graph?g0.expr=up\u0026g0.tab=1","fingerprint":"{}"}}],"#,
                r#""groupLabels":{{"alertname":"HighLoad"}},"commonLabels":{{"alertname":"HighLoad","severity":"page"}},"commonAnnotations":{{"runbook":"https://x/?a=1\u0026b=\u003c2\u003e","summary":"s"}},"#,
                r#""externalURL":"http://am:9093","version":"4","groupKey":"{{}}:{{alertname=\"HighLoad\"}}","truncatedAlerts":0}}"#,
                "\n"
            ),
            fp_a, fp_b
        );
        assert_eq!(n.webhook_body(0), expected);
    }

    #[test]
    fn max_alerts_truncates_before_building_data() {
        let now = ts("2024-01-01T00:10:00Z");
        let alerts = [
            alert("a", Some("2024-01-01T00:05:00Z"), "x"),
            alert("b", None, "y"),
            alert("c", None, "z"),
        ];
        let n = Notification::new("r", "k", &LabelSet::new(), &alerts, "", now);
        let (cut, dropped) = n.truncated(1);
        assert_eq!(dropped, 2);
        assert_eq!(cut.alerts.len(), 1);
        // Status and common annotations come from the kept alert only.
        assert_eq!(cut.status, "resolved");
        assert_eq!(
            cut.common_annotations.get("summary").map(String::as_str),
            Some("x")
        );
        assert!(n.webhook_body(1).ends_with(",\"truncatedAlerts\":2}\n"));
        // The serde form is the same data (for scripts and templates).
        let v: serde_json::Value = serde_json::to_value(&n).unwrap_or_default();
        assert_eq!(v["alerts"][1]["endsAt"], "0001-01-01T00:00:00Z");
        assert_eq!(v["externalURL"], "");
    }
}
