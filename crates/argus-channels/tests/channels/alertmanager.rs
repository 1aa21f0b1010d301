//! Against Alertmanager itself (Debian package `prometheus-alertmanager`, 0.25): the
//! webhook body Argus writes for a notification is, byte for byte, the body Alertmanager
//! sent for it, with the same headers; and Argus's default `__subject` gives Alertmanager's
//! default email subject.
//!
//! Alertmanager gets two alerts whose labels and annotations hold what Go's JSON escapes
//! (`&`, `<`, `>`, U+2028, a tab, quotes, non-ASCII) and a start time with nanoseconds;
//! it posts them to the recorder (firing, then resolved) and mails them to aiosmtpd.
//! Each body is parsed into a `Notification`, written again by this crate, and compared.

use std::{process::Stdio, time::Duration};

use argus_notify::{
    Notification, Templates,
    labels::{fingerprint, fingerprint_hex},
    template::call,
};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use tokio::process::Command;

use crate::{
    common::{Recorder, channel, closed_port, wait_for_port},
    email::Smtp,
};

const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

#[tokio::test]
async fn the_webhook_body_and_title_are_alertmanagers() {
    let hooks = Recorder::start("").await;
    let smtp = Smtp::start(&[]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let port = closed_port();
    let config = format!(
        r#"
route:
  receiver: team.ops
  group_by: ['alertname']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
- name: team.ops
  webhook_configs:
  - url: {hook}
    send_resolved: true
    http_config:
      basic_auth: {{username: argus, password: s3cret}}
  email_configs:
  - to: ops@example.com
    from: am@example.com
    smarthost: {smarthost}
    require_tls: false
    send_resolved: true
"#,
        hook = hooks.url("/hook"),
        smarthost = smtp.smarthost(),
    );
    std::fs::write(dir.path().join("alertmanager.yml"), config).expect("write config");
    let mut am = Command::new(ALERTMANAGER)
        .arg(format!(
            "--config.file={}",
            dir.path().join("alertmanager.yml").display()
        ))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.external-url=http://am.example:9093")
        .arg("--cluster.listen-address=")
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("starting {ALERTMANAGER}: {e} (Debian package prometheus-alertmanager)")
        });
    wait_for_port(port, &mut am, "prometheus-alertmanager").await;
    let api = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    wait_ready(&client, &api).await;

    // Nanoseconds in the start time, so the time format is compared to the digit.
    let starts = Timestamp::now() - SignedDuration::from_secs(60);
    let starts = Timestamp::new(starts.as_second(), 123_456_789).expect("a time");
    let alerts = |ends: Option<Timestamp>| {
        let mut v = json!([
            {"labels": {"alertname": "Disk&Full", "host": "<db1>", "severity": "page"},
             "annotations": {"summary": "disk \"full\" & <bad>\u{2028} déjà vu", "description": "a\ttab"},
             "startsAt": starts.to_string(),
             "generatorURL": "http://prom:9090/graph?g0.expr=a%3Eb&g0.tab=1"},
            {"labels": {"alertname": "Disk&Full", "host": "db2", "severity": "page"},
             "annotations": {"summary": "disk full on db2"},
             "startsAt": starts.to_string(),
             "generatorURL": "http://prom:9090/graph?g0.expr=a%3Eb&g0.tab=1"}
        ]);
        if let (Some(ends), Some(list)) = (ends, v.as_array_mut()) {
            for a in list {
                a["endsAt"] = json!(ends.to_string());
            }
        }
        v
    };
    post_alerts(&client, &api, &alerts(None)).await;
    let firing = hooks.wait_for(1, Duration::from_secs(30)).await;
    post_alerts(
        &client,
        &api,
        &alerts(Some(Timestamp::now() - SignedDuration::from_secs(1))),
    )
    .await;
    let all = hooks.wait_for(2, Duration::from_secs(30)).await;
    let mails = smtp.messages(2).await;
    drop(am);

    let sent = [&firing[0], &all[1]];
    let mut titles = Vec::new();
    for (req, status) in sent.iter().zip(["firing", "resolved"]) {
        let body = &req.body;
        let n: Notification = serde_json::from_slice(body).expect("a v4 payload");
        assert_eq!(n.status.as_str(), status);
        assert_eq!(n.receiver, "team\\.ops");
        assert_eq!(n.alerts.len(), 2);
        // Written again by this crate: the same bytes.
        assert_eq!(n.webhook_body(0), String::from_utf8_lossy(body),);
        for a in &n.alerts {
            assert_eq!(fingerprint_hex(fingerprint(&a.labels)), a.fingerprint);
        }
        let subject = Templates::default().render(&call("__subject"), &n.template_data());
        titles.push(subject.unwrap_or_else(|e| e));

        // Sent by this crate's webhook channel: the same bytes and headers again.
        let mine = Recorder::start("").await;
        let ch = channel(
            "team.ops",
            json!({"kind": "webhook", "url": mine.url("/hook"),
                   "http_config": {"basic_auth": {"username": "argus", "password": "s3cret"}}}),
        );
        let out = argus_channels::deliver(&ch, &n).await;
        assert!(out.ok, "{out:?}");
        let again = &mine.requests()[0];
        assert_eq!(again.body, req.body);
        for h in ["user-agent", "content-type", "authorization"] {
            assert_eq!(again.header(h), req.header(h), "{h}");
        }
    }
    let body = String::from_utf8_lossy(&firing[0].body).into_owned();
    assert!(
        body.contains(r#""summary":"disk \"full\" \u0026 \u003cbad\u003e\u2028 déjà vu""#),
        "{body}"
    );
    assert!(
        body.contains(r#""endsAt":"0001-01-01T00:00:00Z""#),
        "{body}"
    );
    assert!(body.contains(".123456789Z"), "{body}");

    let subjects: Vec<&str> = mails
        .iter()
        .map(|m| m["headers"]["Subject"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        subjects,
        ["[FIRING:2] Disk&Full (page)", "[RESOLVED] Disk&Full (page)"]
    );
    assert_eq!(titles, subjects);
}

async fn wait_ready(client: &reqwest::Client, api: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = client.get(format!("{api}/-/ready")).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Alertmanager not ready within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn post_alerts(client: &reqwest::Client, api: &str, alerts: &serde_json::Value) {
    let r = client
        .post(format!("{api}/api/v2/alerts"))
        .json(alerts)
        .send()
        .await
        .expect("post alerts");
    assert!(r.status().is_success(), "{}", r.status());
}
