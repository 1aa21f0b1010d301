//! The alert state machine and group evaluation, driven by series written at given times
//! into a `MemStore` and evaluations at given slot times.

use super::*;
use crate::file::parse_rule_file;
use crate::rule::AlertState;
use argus_core::storage::mem::MemStore;
use argus_promql::EngineOptions;

/// A minute-aligned start time, in seconds.
const T0: i64 = 1_699_999_980;
const NS: i64 = 1_000_000_000;

struct Fixture {
    store: Arc<MemStore>,
    storage: Arc<dyn Storage>,
    engine: Engine,
    group: Group,
    opts: EvalOptions,
}

fn fixture(yaml: &str, loaded_before: bool) -> Fixture {
    let store = Arc::new(MemStore::new());
    let storage: Arc<dyn Storage> = store.clone();
    let engine = Engine::new(storage.clone(), EngineOptions::default());
    let opts = EvalOptions {
        external_url: "http://argus:9090".into(),
        ..EvalOptions::default()
    };
    let spec = parse_rule_file("rules/t.yml", yaml)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .remove(0);
    let group = Group::new(spec, &opts, loaded_before).unwrap_or_else(|e| panic!("{e}"));
    Fixture {
        store,
        storage,
        engine,
        group,
        opts,
    }
}

impl Fixture {
    /// Writes `load{host=…}` at second `t` (relative to T0); `None` writes a stale marker.
    fn put(&self, host: &str, t: i64, v: Option<f64>) {
        let value = v.unwrap_or(f64::from_bits(STALE_NAN_BITS));
        self.store
            .append(vec![TimeSeries {
                labels: Labels::with_name("load", [("host", host)]),
                samples: vec![Sample {
                    ts: (T0 + t) * 1000,
                    value,
                }],
            }])
            .ok();
    }

    /// Evaluates at second `t` after T0 (slot time = wall time here).
    fn eval(&mut self, t: i64) -> EvalOutput {
        let ts = (T0 + t) * NS;
        self.group
            .eval(&self.storage, &self.engine, ts, ts, &self.opts)
    }

    fn rule(&self, i: usize) -> &crate::rule::AlertingRule {
        match &self.group.rules[i] {
            Rule::Alerting(a) => a,
            Rule::Recording(_) => panic!("rule {i} is not alerting"),
        }
    }

    fn alert(&self, host: &str) -> Option<&Alert> {
        self.rule(0)
            .active
            .values()
            .find(|a| a.labels.get("host") == Some(host))
    }

    fn state(&self, host: &str) -> Option<AlertState> {
        self.alert(host).map(|a| a.state)
    }
}

/// `(metric, alertstate or "", value)` of each written sample, stale markers as "stale".
fn written(out: &EvalOutput) -> Vec<(String, String, String)> {
    out.written
        .iter()
        .map(|s| {
            let v = s.samples[0].value;
            (
                s.labels.metric_name().unwrap_or("").to_string(),
                s.labels.get("alertstate").unwrap_or("").to_string(),
                if is_stale(v) {
                    "stale".to_string()
                } else {
                    argus_core::gofloat::format_plain(v)
                },
            )
        })
        .collect()
}

const HIGH_LOAD: &str = r#"groups:
  - name: g
    rules:
      - alert: HighLoad
        expr: load > 1
        for: 2m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.host }} at {{ $value }}"
"#;

#[test]
fn pending_at_first_sight_firing_after_for_then_resolved_and_forgotten() {
    let mut f = fixture(HIGH_LOAD, true);
    f.put("a", 0, Some(5.0));
    let o = f.eval(0);
    assert_eq!(f.state("a"), Some(AlertState::Pending));
    let a = f.alert("a").cloned().unwrap_or_else(|| panic!("no alert"));
    assert_eq!(a.active_at_ns, T0 * NS);
    assert_eq!(
        a.annotations.get("summary").map(String::as_str),
        Some("a at 5")
    );
    assert_eq!(
        a.labels,
        Labels::from_pairs([
            ("alertname", "HighLoad"),
            ("host", "a"),
            ("severity", "page")
        ])
    );
    assert_eq!(
        written(&o),
        vec![
            ("ALERTS".into(), "pending".into(), "1".into()),
            ("ALERTS_FOR_STATE".into(), "".into(), T0.to_string()),
        ]
    );
    assert!(o.alerts.is_empty(), "pending alerts are not sent");

    f.put("a", 60, Some(6.0));
    f.eval(60);
    assert_eq!(f.state("a"), Some(AlertState::Pending), "1m < for 2m");

    f.put("a", 120, Some(7.0));
    let o = f.eval(120);
    assert_eq!(f.state("a"), Some(AlertState::Firing));
    assert_eq!(
        f.alert("a").and_then(|a| a.fired_at_ns),
        Some((T0 + 120) * NS)
    );
    // The pending series ends with a stale marker as the firing one starts.
    assert_eq!(
        written(&o),
        vec![
            ("ALERTS".into(), "firing".into(), "1".into()),
            ("ALERTS_FOR_STATE".into(), "".into(), T0.to_string()),
            ("ALERTS".into(), "pending".into(), "stale".into()),
        ]
    );
    assert_eq!(o.alerts.len(), 1);
    assert_eq!(
        o.alerts[0].starts_at_ns,
        Some((T0 + 120) * NS),
        "startsAt is FiredAt"
    );
    assert_eq!(
        o.alerts[0].ends_at_ns,
        Some((T0 + 120 + 240) * NS),
        "4 × max(1m, 1m)"
    );
    assert_eq!(
        o.alerts[0].generator_url,
        "http://argus:9090/graph?g0.expr=load+%3E+1&g0.tab=1"
    );

    // Series gone: resolved at once, both series stale.
    f.put("a", 150, None);
    let o = f.eval(180);
    assert_eq!(f.state("a"), Some(AlertState::Inactive));
    assert_eq!(
        f.alert("a").and_then(|a| a.resolved_at_ns),
        Some((T0 + 180) * NS)
    );
    assert_eq!(
        written(&o),
        vec![
            ("ALERTS".into(), "firing".into(), "stale".into()),
            ("ALERTS_FOR_STATE".into(), "".into(), "stale".into()),
        ]
    );
    assert_eq!(o.alerts.len(), 1, "resolved alerts are sent at once");
    assert_eq!(o.alerts[0].ends_at_ns, Some((T0 + 180) * NS));
    assert!(f.rule(0).active_alerts().is_empty());

    // Kept (and re-sent) for 15 minutes, dropped at the first evaluation after that.
    let o = f.eval(180 + 15 * 60);
    assert!(f.alert("a").is_some());
    assert_eq!(o.alerts.len(), 1);
    f.eval(180 + 16 * 60);
    assert!(f.alert("a").is_none());
}

#[test]
fn for_zero_fires_on_first_sight_and_pending_alerts_vanish_unsent() {
    let mut f = fixture(&HIGH_LOAD.replace("for: 2m", "for: 0s"), true);
    f.put("a", 0, Some(5.0));
    let o = f.eval(0);
    assert_eq!(f.state("a"), Some(AlertState::Firing));
    assert_eq!(o.alerts.len(), 1);

    let mut f = fixture(HIGH_LOAD, true);
    f.put("b", 0, Some(5.0));
    f.eval(0);
    f.put("b", 30, None);
    let o = f.eval(60);
    assert_eq!(
        f.alert("b"),
        None,
        "a pending alert that goes away is deleted"
    );
    assert!(o.alerts.is_empty());
    assert_eq!(
        written(&o),
        vec![
            ("ALERTS".into(), "pending".into(), "stale".into()),
            ("ALERTS_FOR_STATE".into(), "".into(), "stale".into()),
        ]
    );
}

#[test]
fn firing_alerts_are_resent_after_the_resend_delay_strictly() {
    let mut f = fixture(&HIGH_LOAD.replace("for: 2m", "for: 0s"), true);
    let mut sent = Vec::new();
    for m in 0..6 {
        f.put("a", m * 60, Some(5.0));
        if !f.eval(m * 60).alerts.is_empty() {
            sent.push(m);
        }
    }
    // At a 1m interval: sent at 0, then only when the last send is more than 1m old.
    assert_eq!(sent, vec![0, 2, 4]);
}

#[test]
fn keep_firing_for_holds_a_firing_alert_and_resets_when_it_returns() {
    let yaml = HIGH_LOAD.replace("for: 2m", "for: 0s\n        keep_firing_for: 2m");
    let mut f = fixture(&yaml, true);
    f.put("a", 0, Some(5.0));
    f.eval(0);
    f.put("a", 30, None);
    let o = f.eval(60);
    assert_eq!(f.state("a"), Some(AlertState::Firing));
    assert_eq!(
        f.alert("a").and_then(|a| a.keep_firing_since_ns),
        Some((T0 + 60) * NS)
    );
    assert_eq!(
        written(&o)[0],
        ("ALERTS".into(), "firing".into(), "1".into())
    );
    f.eval(120);
    assert_eq!(f.state("a"), Some(AlertState::Firing), "120-60 < 2m");
    f.eval(180);
    assert_eq!(f.state("a"), Some(AlertState::Inactive), "180-60 >= 2m");

    // A return resets the keep-firing clock.
    let mut f = fixture(&yaml, true);
    f.put("a", 0, Some(5.0));
    f.eval(0);
    f.put("a", 30, None);
    f.eval(60);
    f.put("a", 110, Some(5.0));
    f.eval(120);
    assert_eq!(f.alert("a").and_then(|a| a.keep_firing_since_ns), None);
}

#[test]
fn first_two_evaluations_after_start_write_no_alerts_series() {
    let mut f = fixture(HIGH_LOAD, false);
    f.put("a", 0, Some(5.0));
    assert!(f.eval(0).written.is_empty());
    f.put("a", 60, Some(5.0));
    assert!(f.eval(60).written.is_empty());
    assert!(f.rule(0).restored, "restored after the second evaluation");
    f.put("a", 120, Some(5.0));
    let o = f.eval(120);
    assert_eq!(
        written(&o)[0],
        ("ALERTS".into(), "firing".into(), "1".into())
    );
}

/// Writes an `ALERTS_FOR_STATE` sample as a previous run would have.
fn put_for_state(f: &Fixture, t: i64, active_at_s: i64) {
    f.store
        .append(vec![TimeSeries {
            labels: Labels::from_pairs([
                ("__name__", "ALERTS_FOR_STATE"),
                ("alertname", "Slow"),
                ("host", "a"),
                ("severity", "page"),
            ]),
            samples: vec![Sample {
                ts: (T0 + t) * 1000,
                value: (T0 + active_at_s) as f64,
            }],
        }])
        .ok();
}

const SLOW: &str = r#"groups:
  - name: g
    rules:
      - alert: Slow
        expr: load > 1
        for: 30m
        labels:
          severity: page
"#;

/// Restart at `restart` (seconds after T0): the old run's last `ALERTS_FOR_STATE` sample
/// was at `down`, with ActiveAt `active`. Returns the restored ActiveAt (seconds after T0).
fn restore_case(down: i64, active: i64, restart: i64) -> i64 {
    let mut f = fixture(SLOW, false);
    put_for_state(&f, down, active);
    f.put("a", restart, Some(5.0));
    f.eval(restart);
    f.put("a", restart + 60, Some(5.0));
    f.eval(restart + 60);
    assert!(f.rule(0).restored);
    f.alert("a").map_or(i64::MIN, |a| a.active_at_ns / NS - T0)
}

#[test]
fn restore_takes_each_of_prometheus_three_branches() {
    // Was firing (pending 40m > for 30m): ActiveAt kept.
    assert_eq!(restore_case(2400, 0, 2400 + 600), 0);
    // 25m of 30m done: 5m left < 10m grace, so it fires 10m after the restore.
    let now = 1500 + 600 + 60;
    assert_eq!(restore_case(1500, 0, 1500 + 600), now + 600 - 1800);
    // 10m of 30m done: 20m left, so ActiveAt moves forward by the outage (down → now).
    assert_eq!(restore_case(600, 0, 600 + 900), 900 + 60);
    // A sample older than the outage tolerance is not used: ActiveAt stays at first sight.
    assert_eq!(restore_case(600, 0, 600 + 3 * 3600), 600 + 3 * 3600);
}

#[test]
fn restore_skips_stale_markers_and_short_for() {
    let mut f = fixture(SLOW, false);
    put_for_state(&f, 600, 0);
    f.store
        .append(vec![TimeSeries {
            labels: Labels::from_pairs([
                ("__name__", "ALERTS_FOR_STATE"),
                ("alertname", "Slow"),
                ("host", "a"),
                ("severity", "page"),
            ]),
            samples: vec![Sample {
                ts: (T0 + 660) * 1000,
                value: f64::from_bits(STALE_NAN_BITS),
            }],
        }])
        .ok();
    f.put("a", 900, Some(5.0));
    f.eval(900);
    f.eval(960);
    assert_eq!(f.alert("a").map(|a| a.active_at_ns / NS - T0), Some(900));

    let mut f = fixture(&SLOW.replace("30m", "5m"), false);
    put_for_state(&f, 100, 0);
    f.put("a", 200, Some(5.0));
    f.eval(200);
    f.eval(260);
    assert_eq!(
        f.alert("a").map(|a| a.active_at_ns / NS - T0),
        Some(200),
        "for < grace: no restore"
    );
    assert!(f.rule(0).restored);
}

#[test]
fn limit_wipes_alert_state_and_query_errors_keep_it() {
    let yaml = "groups:\n  - name: g\n    limit: 1\n    rules:\n      - alert: A\n        expr: load > 1\n";
    let mut f = fixture(yaml, true);
    f.put("a", 0, Some(5.0));
    let o = f.eval(0);
    assert!(o.errors.is_empty());
    assert_eq!(f.rule(0).active.len(), 1);
    f.put("a", 60, Some(5.0));
    f.put("b", 60, Some(5.0));
    let o = f.eval(60);
    assert_eq!(
        o.errors,
        vec![(0, "exceeded limit of 1 with 2 alerts".to_string())]
    );
    assert!(f.rule(0).active.is_empty());
    assert!(
        o.written.is_empty(),
        "no samples and no stale markers on error"
    );
    assert_eq!(f.rule(0).status.health, Health::Err);
    f.put("b", 90, None);
    f.put("a", 120, Some(5.0));
    let o = f.eval(120);
    assert!(o.errors.is_empty());
    assert_eq!(f.rule(0).status.health, Health::Ok);
    assert_eq!(f.rule(0).status.last_error, None);
    // Back under the limit: the alert starts over as pending at 120.
    assert_eq!(f.alert("a").map(|a| a.active_at_ns / NS - T0), Some(120));
    assert_eq!(
        written(&o)[0],
        ("ALERTS".into(), "firing".into(), "1".into())
    );

    // A query error (many-to-many matching here) keeps the alerts as they were.
    let yaml = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: load > 1\n        for: 5m\n      - alert: B\n        expr: load + on() group_left load\n";
    let mut f = fixture(yaml, true);
    f.put("a", 0, Some(5.0));
    f.eval(0);
    f.put("a", 60, Some(5.0));
    f.put("b", 60, Some(5.0));
    let o = f.eval(60);
    assert_eq!(o.errors.len(), 1);
    assert_eq!(o.errors[0].0, 1);
    assert_eq!(f.alert("a").map(|a| a.active_at_ns / NS - T0), Some(0));
}

#[test]
fn duplicate_labelsets_after_alert_labels_are_an_error() {
    let yaml = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: load > 1\n        labels:\n          host: same\n";
    let mut f = fixture(yaml, true);
    f.put("a", 0, Some(5.0));
    f.put("b", 0, Some(5.0));
    let o = f.eval(0);
    assert_eq!(
        o.errors,
        vec![(
            0,
            "vector contains metrics with the same labelset after applying alert labels"
                .to_string()
        )]
    );
}

#[test]
fn recording_rules_write_named_series_with_stale_markers_and_limit() {
    let yaml = "groups:\n  - name: g\n    limit: 2\n    rules:\n      - record: host:load:x2\n        expr: load * 2\n        labels:\n          src: rule\n      - alert: Doubled\n        expr: host:load:x2 > 5\n";
    let mut f = fixture(yaml, true);
    f.put("a", 0, Some(3.0));
    let o = f.eval(0);
    assert_eq!(
        o.written[0].labels,
        Labels::from_pairs([("__name__", "host:load:x2"), ("host", "a"), ("src", "rule")])
    );
    assert_eq!(
        o.written[0].samples,
        vec![Sample {
            ts: T0 * 1000,
            value: 6.0
        }]
    );
    // The alerting rule after it read what it recorded at the same time.
    assert_eq!(f.rule(1).active.len(), 1);
    f.put("a", 30, None);
    let o = f.eval(60);
    assert!(is_stale(o.written[0].samples[0].value));
    assert_eq!(o.written[0].labels.metric_name(), Some("host:load:x2"));
    for h in ["a", "b", "c"] {
        f.put(h, 120, Some(1.0));
    }
    let o = f.eval(120);
    assert_eq!(
        o.errors[0],
        (0, "exceeded limit of 2 with 3 series".to_string())
    );
}

#[test]
fn scalar_results_and_templated_labels() {
    let yaml = r#"groups:
  - name: g
    rules:
      - alert: Always
        expr: vector(1) * 42
        labels:
          level: '{{ if gt $value 40.0 }}high{{ end }}'
          gone: '{{ if gt $value 100.0 }}x{{ end }}'
        annotations:
          v: '{{ $value | humanize }} {{ $labels.nothing }}'
"#;
    let mut f = fixture(yaml, true);
    let o = f.eval(0);
    let a = f.rule(0).active_alerts()[0].clone();
    assert_eq!(
        a.labels,
        Labels::from_pairs([("alertname", "Always"), ("level", "high")])
    );
    assert_eq!(a.annotations.get("v").map(String::as_str), Some("42 "));
    // ALERTS keeps the rule's raw label text where the template expanded to nothing.
    assert_eq!(
        o.written[0].labels.get("gone"),
        Some("{{ if gt $value 100.0 }}x{{ end }}")
    );
}

#[test]
fn slots_follow_the_xxh64_offset() {
    let f = fixture(HIGH_LOAD, true);
    let iv = 60 * NS;
    let off = (crate::xxh64::xxh64(b"file\xffrules/t.yml\xffname\xffg\xff") % iv as u64) as i64;
    assert_eq!(f.group.offset_ns(), off);
    let now = T0 * NS + 12_345;
    let slot = f.group.slot_at(now);
    assert!(slot <= now && now - slot < iv);
    assert_eq!((slot - off).rem_euclid(iv), 0);
    assert_eq!(f.group.first_eval_after(now), slot + iv);
}

#[test]
fn at_a_15s_interval_firing_alerts_go_out_every_75s_and_end_4m_ahead() {
    let yaml = "groups:\n  - name: g\n    interval: 15s\n    rules:\n      - alert: A\n        expr: load > 1\n";
    let mut f = fixture(yaml, true);
    let mut sent = Vec::new();
    for i in 0..12 {
        let t = i * 15;
        f.put("a", t, Some(5.0));
        let o = f.eval(t);
        if let Some(a) = o.alerts.first() {
            sent.push(t);
            assert_eq!(a.ends_at_ns, Some((T0 + t + 240) * NS), "4 × max(15s, 1m)");
        }
    }
    assert_eq!(sent, vec![0, 75, 150]);
}

/// The same data and rule evaluated here and by Prometheus 2.42's `promtool test rules`
/// (when installed): the firing alerts must agree at every minute. The series has values,
/// stale gaps and a return, the rule `for` and `keep_firing_for`.
#[test]
fn firing_minutes_agree_with_promtool() {
    // One value per minute; None is a stale marker.
    let values: [Option<f64>; 16] = [
        Some(5.0),
        Some(5.0),
        Some(5.0),
        Some(5.0),
        None,
        None,
        Some(5.0),
        Some(0.0),
        Some(5.0),
        Some(5.0),
        Some(5.0),
        Some(5.0),
        Some(5.0),
        None,
        None,
        None,
    ];
    let yaml = "groups:\n  - name: t\n    rules:\n      - alert: A\n        expr: load > 1\n        for: 2m\n        keep_firing_for: 1m\n        annotations:\n          v: '{{ $value }}'\n";
    let mut f = fixture(yaml, true);
    let mut firing: Vec<Vec<String>> = Vec::new();
    for (m, v) in values.iter().enumerate() {
        let t = m as i64 * 60;
        f.put("a", t, *v);
        f.eval(t);
        firing.push(
            f.rule(0)
                .active_alerts()
                .iter()
                .filter(|a| a.state == AlertState::Firing)
                .map(|a| a.annotations.get("v").cloned().unwrap_or_default())
                .collect(),
        );
    }
    let fired_at: Vec<usize> = (0..firing.len())
        .filter(|&m| !firing[m].is_empty())
        .collect();
    assert_eq!(fired_at, vec![2, 3, 4, 10, 11, 12, 13]);

    let promtool = std::path::Path::new("/usr/bin/promtool");
    if !promtool.exists() {
        eprintln!("promtool not installed (Debian package prometheus): comparison skipped");
        return;
    }
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let series: Vec<String> = values
        .iter()
        .map(|v| v.map_or("stale".to_string(), |v| v.to_string()))
        .collect();
    let mut test = format!(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n      - series: 'load{{host=\"a\"}}'\n        values: '{}'\n    alert_rule_test:\n",
        series.join(" ")
    );
    for (m, alerts) in firing.iter().enumerate() {
        test.push_str(&format!(
            "      - eval_time: {m}m\n        alertname: A\n        exp_alerts:\n"
        ));
        for v in alerts {
            test.push_str(&format!(
                "          - exp_labels: {{host: a}}\n            exp_annotations: {{v: \"{v}\"}}\n"
            ));
        }
        if alerts.is_empty() {
            test.push_str("          []\n");
        }
    }
    std::fs::write(dir.path().join("rules.yml"), yaml).ok();
    std::fs::write(dir.path().join("test.yml"), test).ok();
    let Ok(out) = std::process::Command::new(promtool)
        .args(["test", "rules", "test.yml"])
        .current_dir(dir.path())
        .output()
    else {
        panic!("promtool did not run");
    };
    assert!(
        out.status.success(),
        "promtool disagrees:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A store that counts appends and refuses every one holding a series named `refuse`.
struct Counting {
    inner: MemStore,
    appends: std::sync::atomic::AtomicUsize,
    refuse: &'static str,
}

impl Storage for Counting {
    fn append(&self, series: Vec<TimeSeries>) -> Result<(), argus_core::StorageError> {
        self.appends
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if series
            .iter()
            .any(|s| s.labels.metric_name() == Some(self.refuse))
        {
            return Err(argus_core::StorageError::Rejected("refused".into()));
        }
        self.inner.append(series)
    }

    fn select(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<TimeSeries>, argus_core::StorageError> {
        self.inner.select(matchers, start_ms, end_ms)
    }

    fn stats(&self) -> argus_core::storage::StorageStats {
        self.inner.stats()
    }
}

/// Rules that cannot read each other's series share one write; a rule that reads an
/// earlier one's metric still sees it; a refused write fails only its own rule.
#[test]
fn rules_share_a_write_unless_a_later_rule_reads_an_earlier_ones_metric() {
    let yaml = "groups:\n  - name: g\n    rules:\n      - record: a:x2\n        expr: load * 2\n      - record: b:x3\n        expr: load * 3\n      - alert: LoadHigh\n        expr: load > 1\n      - record: c:sum\n        expr: sum(a:x2)\n      - record: d:any\n        expr: count({host=\"h\"})\n";
    let store = Arc::new(Counting {
        inner: MemStore::new(),
        appends: Default::default(),
        refuse: "b:x3",
    });
    let storage: Arc<dyn Storage> = store.clone();
    let engine = Engine::new(storage.clone(), EngineOptions::default());
    let opts = EvalOptions::default();
    let spec = parse_rule_file("rules/t.yml", yaml)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .remove(0);
    let mut group = Group::new(spec, &opts, true).unwrap_or_else(|e| panic!("{e}"));
    store
        .inner
        .append(vec![TimeSeries {
            labels: Labels::with_name("load", [("host", "h")]),
            samples: vec![Sample {
                ts: T0 * 1000,
                value: 5.0,
            }],
        }])
        .ok();
    let ts = T0 * NS;
    let out = group.eval(&storage, &engine, ts, ts, &opts);
    // Rules 0–2 together (refused: b:x3), then each alone; then c:sum, which reads a:x2,
    // after that write; d:any reads any name, after c:sum's; nothing is left at the end.
    // Writes: [0,1,2] refused, 0, 1 refused, 2, then [3], then [4].
    assert_eq!(store.appends.load(std::sync::atomic::Ordering::Relaxed), 6);
    assert_eq!(out.errors, vec![(1, "refused".to_string())]);
    assert_eq!(group.rules[1].status().health, Health::Err);
    assert_eq!(group.rules[0].status().health, Health::Ok);
    let names: Vec<&str> = out
        .written
        .iter()
        .filter_map(|s| s.labels.metric_name())
        .collect();
    assert_eq!(
        names,
        ["a:x2", "ALERTS", "ALERTS_FOR_STATE", "c:sum", "d:any"]
    );
    // c:sum read a:x2 = 10 at the same slot; d:any counted every series of host h
    // written before it: load, a:x2, ALERTS and ALERTS_FOR_STATE (c:sum has no host).
    assert_eq!(out.written[3].samples[0].value, 10.0);
    assert_eq!(out.written[4].samples[0].value, 4.0);
}
