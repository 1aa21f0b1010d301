//! Alerting end to end: a Prometheus rule file evaluated by the server over data written
//! to it, the alert in Prometheus's API and as `ALERTS`, routed by an Alertmanager
//! configuration to a webhook that records what it gets, silenced through the
//! Alertmanager v2 API, and sent to a real Alertmanager.

use crate::common::{client, send, start, value, wait_for, write_idle};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An HTTP server on a free port that answers 200 to everything and keeps the bodies of
/// the POSTs it gets (what a webhook receiver sees).
pub struct Recorder {
    pub url: String,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    pub fn start() -> Recorder {
        let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let url = format!(
            "http://{}/hook",
            l.local_addr().unwrap_or_else(|e| panic!("{e}"))
        );
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let keep = bodies.clone();
        std::thread::spawn(move || {
            for conn in l.incoming().flatten() {
                let mut r = BufReader::new(conn);
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; len];
                let _ = r.read_exact(&mut body);
                if let Ok(mut b) = keep.lock() {
                    b.push(String::from_utf8_lossy(&body).into_owned());
                }
                let mut conn = r.into_inner();
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Recorder { url, bodies }
    }

    pub fn bodies(&self) -> Vec<Value> {
        self.bodies
            .lock()
            .map(|b| {
                b.iter()
                    .filter_map(|s| serde_json::from_str(s).ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Writes an Alertmanager configuration routing everything to one webhook, receiver
/// `ops`, with `route` (the route's settings besides the receiver, one per line), and
/// returns its path.
fn webhook_notifier(dir: &std::path::Path, url: &str, route: &str) -> std::path::PathBuf {
    let path = dir.join("alertmanager.yml");
    let route = route.replace('\n', "\n  ");
    std::fs::write(
        &path,
        format!(
            "route:\n  receiver: ops\n  {route}\nreceivers:\n  - name: ops\n    webhook_configs:\n      - url: {url}\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    path
}

const RULES: &str = r#"groups:
  - name: node
    rules:
      - alert: HighCPU
        expr: cpu_usage_idle < 10
        for: 0s
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.host }} idle {{ $value }}"
      - record: host:cpu_busy
        expr: 100 - cpu_usage_idle
"#;

#[test]
fn a_rule_fires_is_listed_notified_through_a_webhook_and_silenced() {
    let hook = Recorder::start();
    let am =
        argus_testkit::alertmanager::Alertmanager::start(argus_testkit::alertmanager::QUIET_CONFIG)
            .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let rules = dir.path().join("node.yml");
    std::fs::write(&rules, RULES).unwrap_or_else(|e| panic!("{e}"));
    let notifier = webhook_notifier(
        dir.path(),
        &hook.url,
        "group_by: [alertname]\ngroup_wait: 1s\ngroup_interval: 1s",
    );
    let argus = start(
        "server",
        &format!(
            "[alerting]\nrule_files = [\"{}\"]\nevaluation_interval_secs = 1\nnotifier_file = \"{}\"\nalertmanagers = [\"{}\"]\nexternal_labels = {{ cluster = \"east\" }}\n",
            rules.display(),
            notifier.display(),
            am.url()
        ),
    );
    // A busy host and an idle one, kept fresh.
    let write = || write_idle(&argus, &[("web1", 5.0), ("web2", 95.0)]);
    write();
    // Prometheus's API: the rule, and the alert firing with its templated annotation.
    let alerts = wait_for("HighCPU firing", Duration::from_secs(30), || {
        write();
        let (_, b) = argus.get("/api/v1/alerts");
        let a = b["data"]["alerts"].as_array().cloned().unwrap_or_default();
        (a.len() == 1 && a[0]["state"] == "firing").then_some(a)
    });
    assert_eq!(alerts[0]["labels"]["host"], "web1");
    assert_eq!(alerts[0]["labels"]["severity"], "page");
    // External labels go with the alerts that leave the rules, not into their API.
    assert!(alerts[0]["labels"].get("cluster").is_none(), "{alerts:?}");
    assert_eq!(alerts[0]["annotations"]["summary"], "web1 idle 5");
    let (_, rules_body) = argus.get("/api/v1/rules?type=alert");
    let group = &rules_body["data"]["groups"][0];
    assert_eq!(group["name"], "node", "{rules_body}");
    assert_eq!(
        group["rules"].as_array().map(Vec::len),
        Some(1),
        "{rules_body}"
    );
    assert_eq!(group["rules"][0]["health"], "ok");
    // The group's figures at /metrics, as Prometheus names its own.
    let group_label = format!("{{rule_group=\"{};node\"}}", rules.display());
    let figure = |name: &str| crate::common::metric(&argus, &format!("{name}{group_label}"));
    assert_eq!(figure("argus_rule_group_rules"), Some(2.0));
    assert_eq!(figure("argus_rule_group_interval_seconds"), Some(1.0));
    assert_eq!(figure("argus_rule_group_failing_rules"), Some(0.0));
    assert!(
        figure("argus_rule_group_last_evaluation_timestamp_seconds").is_some_and(|t| t > 1.7e9)
    );
    assert!(figure("argus_rule_group_last_duration_seconds").is_some_and(|d| d > 0.0 && d < 5.0));
    let iterations = figure("argus_rule_group_iterations_total").unwrap_or(0.0);
    assert!(iterations >= 1.0, "{iterations}");
    // Two rules per iteration (read separately: an evaluation may come between).
    let evaluations = figure("argus_rule_evaluations_total").unwrap_or(0.0);
    assert!(
        evaluations >= 2.0 * iterations && evaluations % 2.0 == 0.0,
        "{evaluations} after {iterations}"
    );
    assert_eq!(figure("argus_rule_evaluation_failures_total"), Some(0.0));
    assert!(figure("argus_rule_group_iterations_missed_total").is_some());
    let (s, bad) = argus.get("/api/v1/rules?type=nope");
    assert_eq!(s, 400, "{bad}");
    // A broken rule file is refused on reload, naming file and line; the rules stay.
    let reload = || {
        send(
            client()
                .post(format!("{}/api/argus/rules/reload", argus.url))
                .bearer_auth(&argus.token),
            "reload",
        )
    };
    std::fs::write(
        &rules,
        RULES.replace("expr: cpu_usage_idle < 10", "expr: cpu_usage_idle <"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (s, r) = reload();
    assert_eq!(s, 400, "{r}");
    let errors = r["data"]["errors"].to_string();
    assert!(
        errors.contains("node.yml:5:") && errors.contains("expr"),
        "{r}"
    );
    let (_, still) = argus.get("/api/v1/rules?type=alert");
    assert_eq!(
        still["data"]["groups"][0]["rules"][0]["name"], "HighCPU",
        "{still}"
    );
    // A good file again: reloaded (here on request; SIGHUP and a change of the file do
    // the same), and the alert keeps firing.
    std::fs::write(&rules, RULES).unwrap_or_else(|e| panic!("{e}"));
    let (s, r) = reload();
    assert_eq!((s, r["data"]["groups"].as_i64()), (200, Some(1)), "{r}");
    // A change of the file is picked up by itself: a second alerting rule appears.
    let more = RULES.replace(
        "      - record: host:cpu_busy",
        "      - alert: AlwaysOn\n        expr: vector(1)\n      - record: host:cpu_busy",
    );
    std::fs::write(&rules, more).unwrap_or_else(|e| panic!("{e}"));
    wait_for(
        "the changed rule file reloaded",
        Duration::from_secs(20),
        || {
            let (_, b) = argus.get("/api/v1/rules?type=alert");
            (b["data"]["groups"][0]["rules"].as_array().map(Vec::len) == Some(2)).then_some(())
        },
    );
    let (_, last) = argus.get("/api/argus/rules/reload");
    assert_eq!(last["data"]["ok"], true, "{last}");
    std::fs::write(&rules, RULES).unwrap_or_else(|e| panic!("{e}"));
    wait_for(
        "the rule file reloaded back",
        Duration::from_secs(20),
        || {
            let (_, b) = argus.get("/api/v1/rules?type=alert");
            (b["data"]["groups"][0]["rules"].as_array().map(Vec::len) == Some(1)).then_some(())
        },
    );
    // The recording rule and ALERTS are stored series.
    let busy = wait_for("host:cpu_busy", Duration::from_secs(30), || {
        write();
        let r = argus.query(r#"host:cpu_busy{host="web1"}"#);
        (!r.is_empty()).then_some(r)
    });
    assert_eq!(value(&busy[0]), 95.0);
    let series = wait_for("ALERTS", Duration::from_secs(30), || {
        write();
        let r = argus.query(r#"ALERTS{alertname="HighCPU",alertstate="firing"}"#);
        (!r.is_empty()).then_some(r)
    });
    assert_eq!(series[0]["metric"]["host"], "web1");
    // Routed by the notifier file to the webhook, in Alertmanager's webhook v4 form.
    let body = wait_for("the webhook notification", Duration::from_secs(30), || {
        hook.bodies()
            .into_iter()
            .find(|b| b["status"] == "firing" && b["groupLabels"]["alertname"] == "HighCPU")
    });
    assert_eq!(body["version"], "4");
    assert_eq!(body["receiver"], "ops");
    assert_eq!(body["groupLabels"], json!({"alertname": "HighCPU"}));
    assert_eq!(body["alerts"][0]["labels"]["host"], "web1");
    assert_eq!(body["alerts"][0]["labels"]["cluster"], "east");
    assert_eq!(body["alerts"][0]["annotations"]["summary"], "web1 idle 5");
    // The real Alertmanager got it too.
    wait_for("the alert in Alertmanager", Duration::from_secs(30), || {
        let list: Value = client()
            .get(format!("{}/api/v2/alerts", am.url()))
            .send()
            .and_then(|r| r.json())
            .ok()?;
        list.as_array()?
            .iter()
            .any(|a| {
                a["labels"]["alertname"] == "HighCPU"
                    && a["labels"]["host"] == "web1"
                    && a["labels"]["cluster"] == "east"
            })
            .then_some(())
    });
    // Receivers, "send test" and the delivery counts at /metrics.
    let (_, recv) = argus.get("/api/argus/receivers");
    assert_eq!(
        recv["data"],
        json!([{"name": "ops", "channels": ["webhook"]}]),
        "{recv}"
    );
    // Counted by their alert name: the rule's group may be notified meanwhile (on a
    // loaded machine an evaluation late past the alert's end resolves and fires it again).
    let tests = || {
        hook.bodies()
            .iter()
            .filter(|b| b["alerts"][0]["labels"]["alertname"] == "ArgusTestNotification")
            .count()
    };
    assert_eq!(tests(), 0);
    let (s, t) = send(
        client()
            .post(format!("{}/api/argus/receivers/ops/test", argus.url))
            .bearer_auth(&argus.token),
        "send test",
    );
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["data"][0]["ok"], true, "{t}");
    assert_eq!(tests(), 1, "{:?}", hook.bodies());
    let (s, _) = send(
        client()
            .post(format!("{}/api/argus/receivers/nobody/test", argus.url))
            .bearer_auth(&argus.token),
        "send test to nobody",
    );
    assert_eq!(s, 404);
    let delivered = crate::common::metric(
        &argus,
        r#"argus_notifications_total{receiver="ops",integration="webhook",outcome="ok"}"#,
    );
    assert!(delivered.is_some_and(|n| n >= 1.0), "{delivered:?}");
    // Argus's own view: the active alert with its group, and its history.
    let (_, act) = argus.get("/api/argus/alerts?host=web1");
    assert_eq!(act["data"][0]["rule"], "HighCPU", "{act}");
    assert_eq!(act["data"][0]["group"], "node", "{act}");
    assert_eq!(act["data"][0]["state"], "firing", "{act}");
    let (_, none) = argus.get("/api/argus/alerts?host=web2");
    assert_eq!(none["data"], json!([]), "{none}");
    let (_, hist) = argus.get("/api/argus/alerts/history?rule=HighCPU&label=host:web1");
    let states: Vec<&str> = hist["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["state"].as_str())
        .collect();
    assert_eq!(states, ["firing"], "{hist}");
    assert_eq!(
        hist["data"][0]["annotations"]["summary"], "web1 idle 5",
        "{hist}"
    );
    let (s, bad) = argus.get("/api/argus/alerts/history?start=yesterday");
    assert_eq!(s, 400, "{bad}");
    // The delivery is listed.
    let (_, n) = argus.get("/api/argus/notifications");
    assert_eq!(n["data"][0]["receiver"], "ops", "{n}");
    assert_eq!(n["data"][0]["ok"], true, "{n}");
    // A silence through the Alertmanager v2 API mutes it.
    let now = argus_core::now_ms() / 1000;
    let (s, sil) = send(
        client()
            .post(format!("{}/api/v2/silences", argus.url))
            .bearer_auth(&argus.token)
            .json(&json!({
                "matchers": [{"name": "host", "value": "web1", "isRegex": false, "isEqual": true}],
                "startsAt": format!("{}", jiff_like(now)),
                "endsAt": format!("{}", jiff_like(now + 3600)),
                "createdBy": "",
                "comment": "maintenance of web1"
            })),
        "silence",
    );
    assert_eq!(s, 200, "{sil}");
    let id = sil["silenceID"].as_str().unwrap_or("").to_string();
    let (_, list) = argus.get("/api/v2/silences");
    assert_eq!(list[0]["id"], id.as_str(), "{list}");
    assert_eq!(list[0]["status"]["state"], "active");
    assert_eq!(list[0]["createdBy"], "admin", "{list}");
    let (_, v2) = argus.get("/api/v2/alerts");
    let web1 = v2
        .as_array()
        .and_then(|a| a.iter().find(|x| x["labels"]["host"] == "web1").cloned())
        .unwrap_or_default();
    assert_eq!(web1["status"]["state"], "suppressed", "{v2}");
    assert_eq!(web1["status"]["silencedBy"], json!([id]));
    let (s, bad) = send(
        client()
            .post(format!("{}/api/v2/silences", argus.url))
            .bearer_auth(&argus.token)
            .json(&json!({"matchers": [], "startsAt": jiff_like(now), "endsAt": jiff_like(now + 60), "createdBy": "x", "comment": ""})),
        "bad silence",
    );
    assert_eq!(s, 400, "{bad}");
    let (s, _) = send(
        client()
            .delete(format!("{}/api/v2/silence/{id}", argus.url))
            .bearer_auth(&argus.token),
        "expire",
    );
    assert_eq!(s, 200);
    let (_, one) = argus.get(&format!("/api/v2/silence/{id}"));
    assert_eq!(one["status"]["state"], "expired", "{one}");
    // web1 recovers: the alert resolves, the webhook hears it, the history keeps it.
    let resolved = wait_for("the resolved notification", Duration::from_secs(30), || {
        let r = client()
            .post(format!("{}/write?precision=ms", argus.url))
            .bearer_auth(&argus.token)
            .body(format!(
                "cpu,host=web1 usage_idle=80 {}\n",
                argus_core::now_ms()
            ))
            .send()
            .ok()?;
        assert_eq!(r.status().as_u16(), 204);
        hook.bodies()
            .into_iter()
            .find(|b| b["status"] == "resolved" && b["groupLabels"]["alertname"] == "HighCPU")
    });
    assert_eq!(resolved["alerts"][0]["labels"]["host"], "web1");
    let (_, hist) = argus.get("/api/argus/alerts/history?rule=HighCPU");
    let states: Vec<&str> = hist["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["state"].as_str())
        .collect();
    assert_eq!(states, ["resolved", "firing"], "{hist}");
}

/// RFC 3339 in UTC for Unix seconds (what the silences API takes).
fn jiff_like(secs: i64) -> String {
    let t = std::time::UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

#[test]
fn rules_made_through_the_api_preview_fire_disable_and_go() {
    let argus = start("server", "[alerting]\nevaluation_interval_secs = 1\n");
    // A busy host and an idle one, kept fresh.
    let write = || write_idle(&argus, &[("web1", 5.0), ("web2", 95.0)]);
    write();
    argus.drained();
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        crate::common::call(&argus, method, path, Some(&argus.token), body.as_ref())
    };
    let threshold = json!({
        "name": "HighCPU",
        "threshold": {"metric": "cpu_usage_idle", "op": "<", "value": 10},
        "labels": {"severity": "page"},
        "annotations": {"summary": "{{ $labels.host }} idle {{ $value }}"}
    });
    // The threshold form, previewed: what it would select now.
    let (s, p) = call(
        reqwest::Method::POST,
        "/api/argus/rules/preview",
        Some(threshold.clone()),
    );
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["data"]["expr"], "cpu_usage_idle < 10");
    assert_eq!(p["data"]["series"].as_array().map(Vec::len), Some(1), "{p}");
    assert_eq!(p["data"]["series"][0]["labels"]["host"], "web1");
    assert_eq!(p["data"]["series"][0]["value"], 5.0);
    // Bad input names the field.
    let (s, b) = call(
        reqwest::Method::POST,
        "/api/argus/rules",
        Some(json!({"name": "X", "expr": "cpu <"})),
    );
    assert_eq!(s, 400, "{b}");
    assert!(
        b["error"].as_str().unwrap_or("").contains("\"expr\""),
        "{b}"
    );
    let (s, b) = call(
        reqwest::Method::POST,
        "/api/argus/rules",
        Some(json!({"name": "X", "expr": "up", "severity": "page"})),
    );
    assert_eq!(s, 400, "{b}");
    assert!(
        b["error"].as_str().unwrap_or("").contains("severity"),
        "{b}"
    );
    // Created: it fires from its next slot, as a file rule would.
    let (s, c) = call(reqwest::Method::POST, "/api/argus/rules", Some(threshold));
    assert_eq!(s, 201, "{c}");
    let id = c["data"]["id"].as_str().unwrap_or("").to_string();
    let alerts = wait_for("the API rule firing", Duration::from_secs(30), || {
        write();
        let (_, b) = argus.get("/api/v1/alerts");
        let a = b["data"]["alerts"].as_array().cloned().unwrap_or_default();
        (a.len() == 1 && a[0]["state"] == "firing").then_some(a)
    });
    assert_eq!(alerts[0]["annotations"]["summary"], "web1 idle 5");
    let (_, list) = argus.get("/api/argus/rules");
    let mine = list["data"]
        .as_array()
        .and_then(|l| l.iter().find(|r| r["id"] == id.as_str()).cloned())
        .unwrap_or_default();
    assert_eq!(mine["source"], "api", "{list}");
    assert_eq!(mine["status"]["health"], "ok", "{list}");
    // A host silent for a minute: compiles to argus_host_up == 0 with for 1m.
    let (s, h) = call(
        reqwest::Method::POST,
        "/api/argus/rules",
        Some(json!({"name": "HostDown", "no_data": {"host": "*", "minutes": 1}})),
    );
    assert_eq!(s, 201, "{h}");
    let hid = h["data"]["id"].as_str().unwrap_or("").to_string();
    let (_, rules) = argus.get("/api/v1/rules?type=alert");
    let text = rules.to_string();
    assert!(
        text.contains("argus_host_up == 0") && text.contains("\"duration\":60"),
        "{rules}"
    );
    // Disabled: its group stops; enabled again: back.
    let (s, d) = call(
        reqwest::Method::PATCH,
        &format!("/api/argus/rules/{id}"),
        Some(json!({"enabled": false})),
    );
    assert_eq!(
        (s, d["data"]["enabled"].as_bool()),
        (200, Some(false)),
        "{d}"
    );
    let (_, b) = argus.get("/api/v1/alerts");
    assert_eq!(b["data"]["alerts"], json!([]), "{b}");
    // Deleted: gone, and the audit has each change.
    for i in [&id, &hid] {
        let (s, _) = call(
            reqwest::Method::DELETE,
            &format!("/api/argus/rules/{i}"),
            None,
        );
        assert_eq!(s, 204);
    }
    let (s, _) = call(
        reqwest::Method::GET,
        &format!("/api/argus/rules/{id}"),
        None,
    );
    assert_eq!(s, 404);
    let (_, b) = argus.get("/api/v1/rules");
    assert_eq!(b["data"]["groups"], json!([]), "{b}");
    let (_, log) = argus.get(&format!("/api/argus/audit?object=rule:{id}"));
    let actions: Vec<&str> = log["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["delete", "update", "create"], "{log}");
}

/// A restart neither forgets what was sent nor sends it again: the notification log is
/// kept in the database, so the firing alert, seen again after the restart, is not
/// notified a second time before its repeat interval.
#[test]
fn a_restart_does_not_notify_again() {
    let hook = Recorder::start();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let rules = dir.path().join("node.yml");
    std::fs::write(&rules, RULES).unwrap_or_else(|e| panic!("{e}"));
    let notifier = webhook_notifier(
        dir.path(),
        &hook.url,
        "group_by: [alertname]\ngroup_wait: 1s\ngroup_interval: 1s\nrepeat_interval: 1h",
    );
    let config = format!(
        "[alerting]\nrule_files = [\"{}\"]\nevaluation_interval_secs = 1\nnotifier_file = \"{}\"\n",
        rules.display(),
        notifier.display()
    );
    let argus = start("server", &config);
    let write = |a: &crate::common::Argus| write_idle(a, &[("web1", 5.0)]);
    let firing = |h: &Recorder| {
        h.bodies()
            .iter()
            .filter(|b| b["status"] == "firing" && b["groupLabels"]["alertname"] == "HighCPU")
            .count()
    };
    wait_for("the first notification", Duration::from_secs(30), || {
        write(&argus);
        (firing(&hook) == 1).then_some(())
    });
    let (_, dir2) = argus.terminate();
    let argus = crate::common::start_in("server", &config, dir2);
    // The alert fires again after the restart, and its group flushes (group_wait 1 s)...
    wait_for(
        "the alert firing after the restart",
        Duration::from_secs(30),
        || {
            write(&argus);
            let (_, b) = argus.get("/api/argus/alerts?state=firing");
            (b["data"].as_array().map(Vec::len) == Some(1)).then_some(())
        },
    );
    // ...and a few group intervals later, nothing more was sent.
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < until {
        write(&argus);
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(firing(&hook), 1, "{:?}", hook.bodies());
    let (_, v2) = argus.get("/api/v2/alerts");
    assert_eq!(v2.as_array().map(Vec::len), Some(1), "{v2}");
}

/// Two servers on one PostgreSQL: one evaluates the rules and sends, the other stands by;
/// when the first dies, the second takes over within the lease's lifetime.
#[test]
fn on_a_shared_database_one_server_alerts_and_another_takes_over() {
    let pg = crate::external::Postgres::start();
    pg.create_db("alerting");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let rules = dir.path().join("node.yml");
    std::fs::write(&rules, RULES).unwrap_or_else(|e| panic!("{e}"));
    let config = format!(
        // One token for both: only the first start on an empty database makes one.
        "[server]\ntoken = \"shared-test-token\"\n[database]\nurl = \"{}\"\n[alerting]\nrule_files = [\"{}\"]\nevaluation_interval_secs = 1\n",
        pg.url("alerting"),
        rules.display()
    );
    let a = start("server", &config);
    let b = start("server", &config);
    let write = |s: &crate::common::Argus| write_idle(s, &[("web1", 5.0)]);
    let groups = |s: &crate::common::Argus| {
        let (_, r) = s.get("/api/v1/rules");
        r["data"]["groups"].as_array().map_or(0, Vec::len)
    };
    // Exactly one of them evaluates.
    wait_for("one server evaluating", Duration::from_secs(30), || {
        write(&a);
        write(&b);
        (groups(&a) + groups(&b) == 1).then_some(())
    });
    let (leader, standby) = if groups(&a) == 1 { (a, b) } else { (b, a) };
    assert_eq!(groups(&standby), 0);
    let (s, _) = standby.get("/api/v1/rules");
    assert_eq!(s, 200, "the standby answers: it only evaluates nothing");
    let _ = leader.kill9();
    // The other takes over: within the lease's 15 s, one renewal (5 s) and a slot.
    let started = std::time::Instant::now();
    let alerts = wait_for("the standby taking over", Duration::from_secs(40), || {
        write(&standby);
        let (_, r) = standby.get("/api/v1/alerts");
        let a = r["data"]["alerts"].as_array().cloned().unwrap_or_default();
        (!a.is_empty()).then_some(a)
    });
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(alerts[0]["labels"]["alertname"], "HighCPU");
}

/// Scale-out with NATS and one PostgreSQL: alerts posted to an ingest-only server, a
/// silence made there and a rule made through its API all reach the handlers process,
/// the one that evaluates and sends; the ingest server itself evaluates nothing.
#[test]
fn in_scale_out_what_an_ingest_server_takes_reaches_the_sender() {
    let hook = Recorder::start();
    let nats = crate::external::Nats::start();
    let vm = crate::external::VictoriaMetrics::start();
    let pg = crate::external::Postgres::start();
    pg.create_db("alerts");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let notifier = webhook_notifier(
        dir.path(),
        &hook.url,
        "group_by: [alertname]\ngroup_wait: 0s\ngroup_interval: 1s",
    );
    let token = "scale-out-alerts-token";
    let config = format!(
        "[server]\ntoken = \"{token}\"\n[database]\nurl = \"{}\"\n[alerting]\nevaluation_interval_secs = 1\nnotifier_file = \"{}\"\n{}{}",
        pg.url("alerts"),
        notifier.display(),
        nats.queue_config(),
        vm.storage_config()
    );
    let tmp = || tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ingest = crate::common::start_with(&["server", "--role", "ingest"], &config, tmp());
    let handlers = crate::common::start_with(&["server", "--role", "handlers"], &config, tmp());
    let names = |hook: &Recorder| -> Vec<String> {
        hook.bodies()
            .iter()
            .flat_map(|b| b["alerts"].as_array().cloned().unwrap_or_default())
            .filter(|a| a["status"] == "firing")
            .filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_string))
            .collect()
    };
    // A silence through the ingest server, then two alerts posted to it: the silenced
    // one stays quiet, the other is sent by the handlers process.
    let (s, b) = crate::common::call(
        &ingest,
        reqwest::Method::POST,
        "/api/v2/silences",
        Some(token),
        Some(&json!({
            "matchers": [{"name": "alertname", "value": "Quiet", "isRegex": false}],
            "startsAt": "2020-01-01T00:00:00Z",
            "endsAt": "2999-01-01T00:00:00Z",
            "createdBy": "ops",
            "comment": "in maintenance"
        })),
    );
    assert_eq!(s, 200, "{b}");
    assert!(
        b["silenceID"].as_str().is_some_and(|id| id.len() == 36),
        "{b}"
    );
    // The handlers process takes the silence in within its 2 s poll (it serves only
    // /health and /metrics).
    wait_for(
        "the silence on the handlers process",
        Duration::from_secs(20),
        || {
            (crate::common::metric(&handlers, "argus_silences{state=\"active\"}") == Some(1.0))
                .then_some(())
        },
    );
    let (s, b) = crate::common::call(
        &ingest,
        reqwest::Method::POST,
        "/api/v2/alerts",
        Some(token),
        Some(&json!([
            {"labels": {"alertname": "Posted", "host": "web1"}},
            {"labels": {"alertname": "Quiet", "host": "web1"}}
        ])),
    );
    assert_eq!(s, 200, "{b}");
    wait_for(
        "the posted alert at the webhook",
        Duration::from_secs(30),
        || names(&hook).contains(&"Posted".to_string()).then_some(()),
    );
    wait_for("the silenced alert held", Duration::from_secs(10), || {
        (crate::common::metric(&handlers, "argus_alerts_held{state=\"suppressed\"}") == Some(1.0))
            .then_some(())
    });
    // A rule made through the ingest server's API: evaluated by the handlers process.
    let (s, b) = crate::common::call(
        &ingest,
        reqwest::Method::POST,
        "/api/argus/rules",
        Some(token),
        Some(&json!({"name": "MadeOnIngest", "expr": "vector(1)", "interval": "1s"})),
    );
    assert_eq!(s, 201, "{b}");
    wait_for(
        "the API rule's alert at the webhook",
        Duration::from_secs(30),
        || {
            names(&hook)
                .contains(&"MadeOnIngest".to_string())
                .then_some(())
        },
    );
    assert!(
        !names(&hook).contains(&"Quiet".to_string()),
        "{:?}",
        hook.bodies()
    );
    // The ingest server evaluates nothing: the handlers process, holding the lease, does
    // and shows it.
    let (_, r) = ingest.get("/api/v1/rules");
    assert_eq!(r["data"]["groups"].as_array().map(Vec::len), Some(0), "{r}");
    let (s, r) = handlers.get("/api/v1/rules");
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["data"]["groups"].as_array().map(Vec::len), Some(1), "{r}");
    let (_, held) = handlers.get("/api/v2/alerts?filter=alertname%3D%22Quiet%22");
    assert_eq!(held[0]["status"]["state"], "suppressed", "{held}");
}

/// An event rule made through the API: a matching agent alarm raises an alert that the
/// webhook gets with its templated annotation, a non-matching one raises nothing, the
/// preview lists what it would have matched, and the alert resolves `resolve_after`
/// the event.
#[test]
fn an_event_rule_alerts_on_matching_events_and_resolves() {
    let hook = Recorder::start();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let notifier = webhook_notifier(
        dir.path(),
        &hook.url,
        "group_by: [alertname, host]\ngroup_wait: 0s\ngroup_interval: 1s",
    );
    let argus = start(
        "server",
        &format!("[alerting]\nnotifier_file = \"{}\"\n", notifier.display()),
    );
    let rule = json!({
        "name": "DiskFull",
        "event": {
            "type": "alarm",
            "match": ["code=disk_full", "level=~crit|warn"],
            "labels_from": ["mount"],
            "resolve_after": "3s"
        },
        "labels": {"severity": "page"},
        "annotations": {"summary": "{{ $labels.host }} {{ $labels.mount }}: {{ $event.message }}"}
    });
    // A bad one is refused naming the field.
    let mut wrong = rule.clone();
    wrong["event"]["match"] = json!(["code"]);
    let (s, b) = crate::common::call(
        &argus,
        reqwest::Method::POST,
        "/api/argus/rules",
        Some(&argus.token),
        Some(&wrong),
    );
    assert_eq!(s, 400, "{b}");
    assert!(
        crate::common::error_of(&b).contains("event.match[0]"),
        "{b}"
    );
    let (s, b) = crate::common::call(
        &argus,
        reqwest::Method::POST,
        "/api/argus/rules",
        Some(&argus.token),
        Some(&rule),
    );
    assert_eq!(s, 201, "{b}");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let events = format!(
        "{}\n{}\n{}\n",
        json!({"type": "alarm", "host": "db1", "ts": now_ms, "code": "disk_full", "level": "crit", "mount": "/data", "message": "磁盘已满"}),
        json!({"type": "alarm", "host": "db2", "ts": now_ms, "code": "disk_full", "level": "info", "mount": "/data", "message": "info only"}),
        json!({"type": "log", "host": "db3", "ts": now_ms, "code": "disk_full", "level": "crit", "mount": "/", "message": "another type"}),
    );
    let (s, b) = argus.post("/api/argus/events", events);
    assert_eq!(s, 204, "{b}");
    let firing = wait_for(
        "the event alert at the webhook",
        Duration::from_secs(30),
        || hook.bodies().into_iter().find(|b| b["status"] == "firing"),
    );
    let alert = &firing["alerts"][0];
    assert_eq!(
        firing["alerts"].as_array().map(Vec::len),
        Some(1),
        "{firing}"
    );
    assert_eq!(alert["labels"]["alertname"], "DiskFull");
    assert_eq!(alert["labels"]["host"], "db1");
    assert_eq!(alert["labels"]["mount"], "/data");
    assert_eq!(alert["labels"]["event_type"], "alarm");
    assert_eq!(alert["labels"]["severity"], "page");
    assert_eq!(alert["annotations"]["summary"], "db1 /data: 磁盘已满");
    // The preview finds the stored events the rule matches: db1's only.
    let (s, b) = crate::common::call(
        &argus,
        reqwest::Method::POST,
        "/api/argus/rules/preview",
        Some(&argus.token),
        Some(&rule),
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["matched"], 1, "{b}");
    assert_eq!(b["data"]["alerts"][0]["labels"]["host"], "db1", "{b}");
    // No new event: resolved 3 s after it.
    let resolved = wait_for("the resolved notification", Duration::from_secs(30), || {
        hook.bodies()
            .into_iter()
            .find(|b| b["status"] == "resolved")
    });
    assert_eq!(resolved["alerts"][0]["labels"]["host"], "db1", "{resolved}");
    assert!(
        hook.bodies()
            .iter()
            .all(|b| b["alerts"][0]["labels"]["host"] == "db1"),
        "{:?}",
        hook.bodies()
    );
}

/// The notifier's configuration set through the API: checked (a bad one is refused
/// naming its line, and the running one stays), in force at once over the file, kept
/// across a restart, shown masked to `/api/v2/status` readers, and removed to bring the
/// file back.
#[test]
fn the_notifier_configuration_is_managed_through_the_api() {
    let from_file = Recorder::start();
    let from_api = Recorder::start();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let notifier = dir.path().join("alertmanager.yml");
    let am = |receiver: &str, url: &str| {
        format!(
            "route:\n  receiver: {receiver}\n  group_by: [alertname]\n  group_wait: 0s\n  group_interval: 1s\nreceivers:\n  - name: {receiver}\n    webhook_configs:\n      - url: {url}\n        http_config:\n          authorization:\n            credentials: hook-secret-{receiver}\n"
        )
    };
    std::fs::write(&notifier, am("from-file", &from_file.url)).unwrap_or_else(|e| panic!("{e}"));
    let config = format!("[alerting]\nnotifier_file = \"{}\"\n", notifier.display());
    let argus = start("server", &config);
    let call = |a: &crate::common::Argus, m: reqwest::Method, path: &str, body: Option<String>| {
        let mut req = client()
            .request(m, format!("{}{path}", a.url))
            .bearer_auth(&a.token);
        if let Some(b) = body {
            req = req.body(b);
        }
        send(req, path)
    };
    let post_alert = |a: &crate::common::Argus, name: &str| {
        let (s, b) = crate::common::call(
            a,
            reqwest::Method::POST,
            "/api/v2/alerts",
            Some(&a.token),
            Some(&json!([{"labels": {"alertname": name}}])),
        );
        assert_eq!(s, 200, "{b}");
    };
    let got = |hook: &Recorder, name: &str| {
        hook.bodies()
            .iter()
            .any(|b| b["alerts"][0]["labels"]["alertname"] == name)
    };
    let (s, b) = call(
        &argus,
        reqwest::Method::GET,
        "/api/argus/notifier/config",
        None,
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["source"], "file", "{b}");
    assert!(
        b["data"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("hook-secret-from-file")),
        "{b}"
    );
    // A bad configuration: refused with its line; the file's stays.
    let (s, b) = call(
        &argus,
        reqwest::Method::PUT,
        "/api/argus/notifier/config",
        Some("route:\n  receiver: nobody\nreceivers:\n  - name: ops\n".into()),
    );
    assert_eq!(s, 400, "{b}");
    assert!(crate::common::error_of(&b).contains("nobody"), "{b}");
    let (s, b) = call(
        &argus,
        reqwest::Method::PUT,
        "/api/argus/notifier/config",
        Some(am("from-api", &from_api.url)),
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["source"], "api", "{b}");
    post_alert(&argus, "First");
    wait_for(
        "the alert through the API's receiver",
        Duration::from_secs(20),
        || got(&from_api, "First").then_some(()),
    );
    assert!(!got(&from_file, "First"));
    // Status shows it masked; the receivers are the API's.
    let (_, status) = argus.get("/api/v2/status");
    let original = status["config"]["original"].as_str().unwrap_or("");
    assert!(
        original.contains("from-api") && original.contains("<secret>"),
        "{status}"
    );
    assert!(!original.contains("hook-secret"), "{status}");
    let (_, r) = argus.get("/api/argus/receivers");
    assert_eq!(r["data"][0]["name"], "from-api", "{r}");
    // Kept across a restart.
    let (_, data) = argus.terminate();
    let argus = crate::common::start_in("server", &config, data);
    let (_, b) = call(
        &argus,
        reqwest::Method::GET,
        "/api/argus/notifier/config",
        None,
    );
    assert_eq!(b["data"]["source"], "api", "{b}");
    // Removed: the file is in force again.
    let (s, b) = call(
        &argus,
        reqwest::Method::DELETE,
        "/api/argus/notifier/config",
        None,
    );
    assert_eq!(s, 204, "{b}");
    let (s, _) = call(
        &argus,
        reqwest::Method::DELETE,
        "/api/argus/notifier/config",
        None,
    );
    assert_eq!(s, 404);
    post_alert(&argus, "Second");
    wait_for(
        "the alert through the file's receiver",
        Duration::from_secs(20),
        || got(&from_file, "Second").then_some(()),
    );
    assert!(!got(&from_api, "Second"));
    let (_, audit) = argus.get("/api/argus/audit?object=notifier_config");
    assert_eq!(audit["data"].as_array().map(Vec::len), Some(2), "{audit}");
}

/// The Alertmanager-shaped API beyond sending: filters on the alerts, the status amtool
/// reads, maintenance windows by id, and the audit of silences and windows.
#[test]
fn alertmanager_api_filters_status_maintenance_and_audit() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let notifier = dir.path().join("alertmanager.yml");
    std::fs::write(
        &notifier,
        "route:\n  receiver: ops\n  routes:\n    - receiver: db-team\n      matchers: ['team=\"db\"']\nreceivers:\n  - name: ops\n  - name: db-team\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let argus = start(
        "server",
        &format!("[alerting]\nnotifier_file = \"{}\"\n", notifier.display()),
    );
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        crate::common::call(&argus, method, path, Some(&argus.token), body.as_ref())
    };
    let (s, b) = call(
        reqwest::Method::POST,
        "/api/v2/alerts",
        Some(json!([
            {"labels": {"alertname": "DiskFull", "host": "db1", "team": "db"}},
            {"labels": {"alertname": "HighLoad", "host": "web1"}}
        ])),
    );
    assert_eq!(s, 200, "{b}");
    let names = |q: &str| -> Vec<String> {
        let (s, b) = argus.get(&format!("/api/v2/alerts{q}"));
        assert_eq!(s, 200, "{q}: {b}");
        let mut v: Vec<String> = b
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_string))
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(""), ["DiskFull", "HighLoad"]);
    assert_eq!(names("?filter=host%3D%22db1%22"), ["DiskFull"]);
    assert_eq!(names("?receiver=db-team"), ["DiskFull"]);
    assert_eq!(names("?receiver=ops"), ["HighLoad"]);
    let (s, _) = argus.get("/api/v2/alerts?filter=%7Bbad");
    assert_eq!(s, 400);
    // A silence mutes HighLoad: `silenced=false` leaves it out; audited.
    let now = argus_core::now_ms() / 1000;
    let (s, sil) = call(
        reqwest::Method::POST,
        "/api/v2/silences",
        Some(json!({
            "matchers": [{"name": "alertname", "value": "HighLoad", "isRegex": false, "isEqual": true}],
            "startsAt": jiff_like(now), "endsAt": jiff_like(now + 600),
            "createdBy": "", "comment": "known"
        })),
    );
    assert_eq!(s, 200, "{sil}");
    assert_eq!(names("?silenced=false"), ["DiskFull"]);
    assert_eq!(names("?active=false"), ["HighLoad"]);
    // Status, as amtool reads it.
    let (s, st) = argus.get("/api/v2/status");
    assert_eq!(s, 200, "{st}");
    assert!(
        st["config"]["original"]
            .as_str()
            .unwrap_or("")
            .contains("db-team"),
        "{st}"
    );
    assert_eq!(st["cluster"]["status"], "disabled");
    // Maintenance windows by id.
    let window = json!({
        "id": "sunday-db", "name": "db patching", "hosts": ["db1"],
        "schedule": {"type": "weekly", "weekdays": ["sunday"], "start": "02:00", "end": "04:00", "timeZone": "Asia/Shanghai"}
    });
    let (s, c) = call(
        reqwest::Method::POST,
        "/api/argus/maintenance",
        Some(window.clone()),
    );
    assert_eq!(s, 201, "{c}");
    let (s, c) = call(
        reqwest::Method::POST,
        "/api/argus/maintenance",
        Some(window),
    );
    assert_eq!(s, 409, "{c}");
    let (s, w) = argus.get("/api/argus/maintenance/sunday-db");
    assert_eq!(
        (s, w["data"]["name"].as_str()),
        (200, Some("db patching")),
        "{w}"
    );
    let (s, _) = call(
        reqwest::Method::PUT,
        "/api/argus/maintenance/nope",
        Some(
            json!({"schedule": {"type": "once", "startsAt": "2030-01-01T00:00:00Z", "endsAt": "2030-01-01T01:00:00Z"}}),
        ),
    );
    assert_eq!(s, 404);
    let (s, _) = call(
        reqwest::Method::DELETE,
        "/api/argus/maintenance/sunday-db",
        None,
    );
    assert_eq!(s, 204);
    let (_, log) = argus.get("/api/argus/audit?object=maintenance");
    let actions: Vec<&str> = log["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["delete", "create"], "{log}");
    let (_, log) = argus.get("/api/argus/audit?object=silence");
    assert_eq!(log["data"][0]["action"], "create", "{log}");
    assert_eq!(log["data"][0]["object_id"], sil["silenceID"], "{log}");
}

/// A rule file that does not load stops the start with exit code 2, naming file and line.
#[test]
fn a_bad_rule_file_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let rules = dir.path().join("node.yml");
    std::fs::write(
        &rules,
        RULES.replace("expr: cpu_usage_idle < 10", "expr: cpu_usage_idle <"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let cfg = dir.path().join("argus.toml");
    std::fs::write(
        &cfg,
        format!("[alerting]\nrule_files = [\"{}\"]\n", rules.display()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = std::process::Command::new(crate::common::BIN)
        .args(["server", "--listen", "127.0.0.1:0", "--config"])
        .arg(&cfg)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("node.yml:5:") && err.contains("expr"), "{err}");
}
