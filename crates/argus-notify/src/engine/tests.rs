use super::*;
use crate::{labels::label_set, silence::PostableSilence};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn at(t0: Timestamp, secs: i64) -> Timestamp {
    add(t0, SignedDuration::from_secs(secs))
}

fn engine(yaml: &str, t0: Timestamp) -> Engine {
    let cfg = Config::load(yaml, "am.yml").unwrap_or_else(|e| panic!("{e}"));
    Engine::new(
        cfg,
        EngineOptions {
            external_url: "http://am.example:9093".into(),
        },
        t0,
    )
}

fn post(json: &str) -> Vec<PostableAlert> {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

/// Sends every delivery successfully at `t`, returning (integration key, alert count).
fn deliver_all(e: &mut Engine, ds: &[Delivery], t: Timestamp) -> Vec<(String, usize)> {
    ds.iter()
        .map(|d| {
            e.delivered(d, true, t);
            (d.integration.key(), d.notification.alerts.len())
        })
        .collect()
}

const BASIC: &str = r#"
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: hook
    webhook_configs: [{url: 'http://127.0.0.1:5001/'}]
    email_configs: [{to: a@b, smarthost: 'localhost:25', from: am@b}]
"#;

#[test]
fn webhook_body_equals_alertmanager_0_25_capture() {
    // testdata/alertmanager-0.25: the configuration, the posted alerts and the body the
    // real Alertmanager 0.25.0 (Debian package) POSTed for them.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/alertmanager-0.25");
    let read = |f: &str| {
        std::fs::read_to_string(format!("{dir}/{f}")).unwrap_or_else(|e| panic!("{f}: {e}"))
    };
    let cfg = Config::load(&read("alertmanager.yml"), "alertmanager.yml")
        .unwrap_or_else(|e| panic!("{e}"));
    let now = ts("2026-12-07T14:58:00Z");
    let mut e = Engine::new(
        cfg,
        EngineOptions {
            external_url: "http://am.example:9093/x".into(),
        },
        now,
    );
    let res = e.put_alerts(post(&read("page-alerts.json")), now);
    assert_eq!(res.accepted, 3);
    let ds = e.tick(at(now, 1));
    assert_eq!(ds.len(), 1);
    let IntegrationConfig::Webhook(w) = &ds[0].config else {
        panic!("not a webhook")
    };
    assert_eq!(
        ds[0].notification.webhook_body(w.max_alerts),
        read("page-webhook.json")
    );
}

#[test]
fn repeat_lands_one_group_interval_late_and_resolution_is_sent() {
    let t0 = ts("2024-01-01T00:00:00Z");
    let mut e = engine(BASIC, t0);
    let r = e.put_alerts(
        post(r#"[{"labels":{"alertname":"Down","instance":"a"},"startsAt":"2024-01-01T00:00:00Z","endsAt":"2024-01-01T09:00:00Z"}]"#),
        t0,
    );
    assert_eq!(
        r,
        PutResult {
            accepted: 1,
            errors: vec![]
        }
    );
    assert!(e.tick(at(t0, 29)).is_empty());
    let ds = e.tick(at(t0, 30));
    assert_eq!(
        deliver_all(&mut e, &ds, at(t0, 31)),
        vec![
            ("hook/webhook/0".to_owned(), 1),
            ("hook/email/0".to_owned(), 1)
        ]
    );
    assert_eq!(ds[0].notification.status, "firing");
    // Every group_interval nothing changed: nothing sent.
    let mut t = 30;
    let mut sent_at = Vec::new();
    while t < 30 + 9 * 3600 {
        t += 300;
        let ds = e.tick(at(t0, t));
        if !ds.is_empty() {
            sent_at.push(t);
            deliver_all(&mut e, &ds, at(t0, t + 1));
        }
        if sent_at.len() == 2 {
            break;
        }
    }
    // The log entry is stamped when the send completed, so the 4h repeat is due only at
    // the tick after 4h: 4h5m after the first notification (AM's documented behaviour).
    assert_eq!(sent_at, vec![30 + 4 * 3600 + 300, 30 + 8 * 3600 + 600]);
}

#[test]
fn resolved_alerts_go_to_send_resolved_integrations_only() {
    let t0 = ts("2024-01-01T00:00:00Z");
    let mut e = engine(BASIC, t0);
    e.put_alerts(
        post(r#"[{"labels":{"alertname":"Down","instance":"a"},"endsAt":"2024-01-01T01:00:00Z"},{"labels":{"alertname":"Down","instance":"b"},"endsAt":"2024-01-01T01:00:00Z"}]"#),
        t0,
    );
    let ds = e.tick(at(t0, 30));
    deliver_all(&mut e, &ds, at(t0, 30));
    // "a" resolves: the webhook (send_resolved) hears about it; email (default false)
    // still has "b" firing and nothing new, so it gets nothing.
    e.put_alerts(
        post(r#"[{"labels":{"alertname":"Down","instance":"a"},"startsAt":"2024-01-01T00:00:00Z","endsAt":"2024-01-01T00:02:00Z"}]"#),
        at(t0, 120),
    );
    let ds = e.tick(at(t0, 330));
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].integration.key(), "hook/webhook/0");
    let statuses: Vec<&str> = ds[0]
        .notification
        .alerts
        .iter()
        .map(|a| a.status.as_str())
        .collect();
    assert_eq!(statuses, vec!["resolved", "firing"]);
    deliver_all(&mut e, &ds, at(t0, 331));
    // "b" resolves too: the webhook gets the resolution; email gets nothing but its log
    // entry is cleared, so a new firing later is sent again.
    e.put_alerts(
        post(r#"[{"labels":{"alertname":"Down","instance":"b"},"startsAt":"2024-01-01T00:00:00Z","endsAt":"2024-01-01T00:09:00Z"}]"#),
        at(t0, 540),
    );
    let ds = e.tick(at(t0, 630));
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].notification.status, "resolved");
    deliver_all(&mut e, &ds, at(t0, 631));
    let email = IntegrationRef::new("hook", crate::config::IntegrationKind::Email, 0);
    let entry = e.nflog().query(r#"{}:{alertname="Down"}"#, &email);
    assert_eq!(
        entry.map(|x| (x.firing_alerts.len(), x.resolved_alerts.len())),
        Some((0, 1))
    );
    // The group is empty now; both resolved alerts left it after the successful flush.
    assert_eq!(
        e.dispatcher()
            .groups()
            .map(|g| g.alerts.len())
            .sum::<usize>(),
        0
    );
}

#[test]
fn failed_delivery_keeps_resolved_alerts_and_is_retried_next_interval() {
    let t0 = ts("2024-01-01T00:00:00Z");
    let mut e = engine(
        "route: {receiver: h, group_wait: 10s, group_interval: 1m}\nreceivers: [{name: h, webhook_configs: [{url: 'http://x/'}]}]\n",
        t0,
    );
    e.put_alerts(
        post(r#"[{"labels":{"alertname":"X"},"endsAt":"2024-01-01T00:00:05Z"}]"#),
        t0,
    );
    // Resolved before the first flush, never notified: nothing to send (and the group
    // drops the alert).
    assert!(e.tick(at(t0, 10)).is_empty());
    e.put_alerts(
        post(r#"[{"labels":{"alertname":"Y"},"endsAt":"2024-01-01T01:00:00Z"}]"#),
        at(t0, 20),
    );
    let ds = e.tick(at(t0, 70));
    assert_eq!(ds.len(), 1);
    e.delivered(&ds[0], false, at(t0, 71));
    // Nothing was logged: the next interval sends again.
    let ds = e.tick(at(t0, 130));
    assert_eq!(ds.len(), 1);
    e.delivered(&ds[0], true, at(t0, 131));
    assert!(e.tick(at(t0, 190)).is_empty());
}

#[test]
fn silences_maintenance_inhibition_and_time_intervals_mute() {
    let t0 = ts("2024-06-01T17:00:00Z");
    let yaml = r#"
route:
  receiver: hook
  group_by: ['...']
  group_wait: 1s
  group_interval: 1m
  routes:
    - matchers: [team=night]
      receiver: hook
      mute_time_intervals: [sunday-morning-cn]
inhibit_rules:
  - source_matchers: [severity=critical]
    target_matchers: [severity=warning]
    equal: [host]
time_intervals:
  - name: sunday-morning-cn
    time_intervals:
      - weekdays: [sunday]
        times: [{start_time: '00:00', end_time: '12:00'}]
        location: Asia/Shanghai
receivers:
  - name: hook
    webhook_configs: [{url: 'http://x/'}]
"#;
    let mut e = engine(yaml, t0);
    e.put_alerts(
        post(r#"[
          {"labels":{"alertname":"Load","host":"h1","severity":"critical"},"endsAt":"2024-06-02T00:00:00Z"},
          {"labels":{"alertname":"Load","host":"h1","severity":"warning"},"endsAt":"2024-06-02T00:00:00Z"},
          {"labels":{"alertname":"Load","host":"h2","severity":"warning"},"endsAt":"2024-06-02T00:00:00Z"},
          {"labels":{"alertname":"Disk","host":"db1","groups":",db,","severity":"warning"},"endsAt":"2024-06-02T00:00:00Z"},
          {"labels":{"alertname":"Cron","host":"h3","team":"night"},"endsAt":"2024-06-02T00:00:00Z"}
        ]"#),
        t0,
    );
    let sil = e.silences.set(
        serde_json::from_str::<PostableSilence>(
            r#"{"matchers":[{"name":"host","value":"h2","isRegex":false}],"startsAt":"2024-06-01T17:00:00Z","endsAt":"2024-06-01T18:00:00Z","createdBy":"ann","comment":"reboot"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}")),
        t0,
    );
    assert!(sil.is_ok());
    let mw = serde_json::from_str(
        r#"{"id":"mw","groups":["db"],"schedule":{"type":"weekly","weekdays":["saturday"],"start":"00:00","end":"24:00","timeZone":"UTC"}}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(e.maintenance.set(mw), Ok(()));

    // Saturday 17:01 UTC is Sunday 01:01 in Shanghai: the night route is muted.
    let ds = e.tick(at(t0, 60));
    let sent: Vec<String> = ds
        .iter()
        .map(|d| {
            let a = &d.notification.alerts[0];
            format!("{}/{}", a.labels["alertname"], a.labels["host"])
        })
        .collect();
    // Only the critical alert: h1's warning is inhibited, h2 silenced, db1 in
    // maintenance, Cron muted by time.
    assert_eq!(sent, vec!["Load/h1"]);
    deliver_all(&mut e, &ds, at(t0, 60));
    let warn_h1 = e
        .alerts()
        .find(|a| {
            a.labels.get("severity").map(String::as_str) == Some("warning")
                && a.labels["host"] == "h1"
        })
        .cloned();
    let status = warn_h1.map(|a| e.mute_status(&a, at(t0, 60)));
    assert_eq!(status.as_ref().map(|s| s.inhibited_by.len()), Some(1));
    // After the silence ends h2 is sent at its group's next interval.
    let ds = e.tick(at(t0, 3600 + 60));
    let hosts: Vec<String> = ds
        .iter()
        .map(|d| d.notification.alerts[0].labels["host"].clone())
        .collect();
    assert_eq!(hosts, vec!["h2"]);
}

#[test]
fn restart_with_persisted_log_does_not_resend() {
    let t0 = ts("2024-01-01T00:00:00Z");
    let alerts = r#"[{"labels":{"alertname":"Down","instance":"a"},"startsAt":"2024-01-01T00:00:00Z","endsAt":"2024-01-01T09:00:00Z"}]"#;
    let mut e = engine(BASIC, t0);
    e.put_alerts(post(alerts), t0);
    let ds = e.tick(at(t0, 30));
    deliver_all(&mut e, &ds, at(t0, 30));
    let saved = serde_json::to_string(&e.nflog_snapshot()).unwrap_or_default();

    // A new process ten minutes later: the sender re-posts the same alert.
    let t1 = at(t0, 600);
    let mut e2 = engine(BASIC, t1);
    let snap: Snapshot = serde_json::from_str(&saved).unwrap_or_default();
    e2.restore_nflog(snap, t1);
    e2.put_alerts(post(alerts), t1);
    // The alert is old, so its new group flushes at once, and the log says it was sent.
    assert!(e2.tick(t1).is_empty());
    // Without the log it would have been sent again.
    let mut e3 = engine(BASIC, t1);
    e3.put_alerts(post(alerts), t1);
    assert_eq!(e3.tick(t1).len(), 2);
}

#[test]
fn invalid_alerts_are_reported_and_valid_ones_kept() {
    let t0 = ts("2024-01-01T00:00:00Z");
    let mut e = engine(BASIC, t0);
    let r = e.put_alerts(post(r#"[{"labels":{}},{"labels":{"alertname":"ok"}}]"#), t0);
    assert_eq!(r.accepted, 1);
    assert_eq!(
        r.errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec!["alerts[0]: labels: at least one label pair required"]
    );
    // Posted without endsAt: resolves after resolve_timeout (5m) unless re-posted.
    let a = e.alerts().next().cloned();
    assert_eq!(a.and_then(|a| a.ends_at), Some(at(t0, 300)));
}

#[test]
fn reload_keeps_alerts_and_the_log() {
    let t0 = ts("2024-01-01T00:00:00Z");
    let mut e = engine(BASIC, t0);
    e.put_alerts(
        post(r#"[{"labels":{"alertname":"Down"},"endsAt":"2024-01-01T09:00:00Z"}]"#),
        t0,
    );
    let ds = e.tick(at(t0, 30));
    deliver_all(&mut e, &ds, at(t0, 30));
    let cfg = Config::load(BASIC, "am.yml").unwrap_or_else(|e| panic!("{e}"));
    e.apply_config(cfg, at(t0, 100));
    assert_eq!(e.dispatcher().groups().count(), 1);
    // The regrouped alert flushes after group_wait, but nothing changed: no resend.
    assert!(e.tick(at(t0, 130)).is_empty());
    assert_eq!(
        label_set([("alertname", "Down")]),
        e.dispatcher()
            .groups()
            .map(|g| g.labels.clone())
            .next()
            .unwrap_or_default()
    );
}
