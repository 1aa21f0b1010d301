use super::*;
use crate::file::parse_rule_file;
use crate::rule::{AlertState, Rule};
use argus_core::Labels;
use argus_core::storage::mem::MemStore;
use std::time::Duration;

const T0: i64 = 1_699_999_980;
const NS: i64 = 1_000_000_000;

const RULES: &str = r#"groups:
  - name: a
    rules:
      - alert: High
        expr: load > 1
        for: 1m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.host }} <&> {{ $value }}"
      - record: load:x2
        expr: load * 2
  - name: b
    interval: 30s
    limit: 5
    rules:
      - alert: Other
        expr: load > 100
"#;

fn setup() -> (Arc<MemStore>, Manager) {
    let store = Arc::new(MemStore::new());
    let storage: Arc<dyn Storage> = store.clone();
    let m = Manager::new(storage, EngineOptions::default(), EvalOptions::default());
    (store, m)
}

fn put(store: &MemStore, host: &str, t: i64, v: f64) {
    store
        .append(vec![TimeSeries {
            labels: Labels::with_name("load", [("host", host)]),
            samples: vec![Sample {
                ts: (T0 + t) * 1000,
                value: v,
            }],
        }])
        .ok();
}

fn specs(text: &str) -> Vec<GroupSpec> {
    parse_rule_file("r.yml", text).unwrap_or_else(|e| panic!("{e:?}"))
}

fn high_state(m: &Manager) -> Option<AlertState> {
    match m.group("r.yml", "a").map(|g| &g.rules[0]) {
        Some(Rule::Alerting(r)) => r.active.values().next().map(|a| a.state),
        _ => None,
    }
}

#[test]
fn reload_keeps_unchanged_groups_and_the_alerts_of_unchanged_rules() {
    let (store, mut m) = setup();
    let s = m.reload(specs(RULES), T0 * NS).unwrap_or_default();
    assert_eq!(s.added.len(), 2);
    put(&store, "h", 0, 5.0);
    m.eval_group("r.yml", "a", T0 * NS, T0 * NS);
    put(&store, "h", 60, 5.0);
    m.eval_group("r.yml", "a", (T0 + 60) * NS, (T0 + 60) * NS);
    assert_eq!(high_state(&m), Some(AlertState::Firing));

    // Same text: nothing changes, the alert is the same object.
    let s = m.reload(specs(RULES), (T0 + 70) * NS).unwrap_or_default();
    assert_eq!(s.unchanged.len(), 2);
    assert_eq!(high_state(&m), Some(AlertState::Firing));

    // Group a changes (the recording rule goes, an annotation is new): the alerting rule
    // keeps its alert, the recording rule's series are marked stale at the next evaluation.
    let changed = RULES.replace("      - record: load:x2\n        expr: load * 2\n", "");
    let s = m
        .reload(specs(&changed), (T0 + 80) * NS)
        .unwrap_or_default();
    assert_eq!(s.changed, vec![("r.yml".to_string(), "a".to_string())]);
    assert_eq!(high_state(&m), Some(AlertState::Firing));
    put(&store, "h", 120, 5.0);
    let o = m
        .eval_group("r.yml", "a", (T0 + 120) * NS, (T0 + 120) * NS)
        .unwrap_or_default();
    let stale: Vec<&str> = o
        .written
        .iter()
        .filter(|s| crate::group::is_stale(s.samples[0].value))
        .filter_map(|s| s.labels.metric_name())
        .collect();
    assert_eq!(stale, vec!["load:x2"]);
    // Rules loaded by a reload (not the first load) write ALERTS at once.
    assert!(
        o.written
            .iter()
            .any(|s| s.labels.metric_name() == Some("ALERTS"))
    );

    // A bad group leaves everything as it was.
    let mut bad = specs(&changed);
    bad[0].rules[0].expr = "load >".into();
    assert!(m.reload(bad, (T0 + 130) * NS).is_err());
    assert_eq!(high_state(&m), Some(AlertState::Firing));

    // Removing group a marks its series stale at once.
    let only_b = specs(&changed)
        .into_iter()
        .filter(|g| g.name == "b")
        .collect();
    let s = m.reload(only_b, (T0 + 140) * NS).unwrap_or_default();
    assert_eq!(s.removed, vec![("r.yml".to_string(), "a".to_string())]);
    let got = store
        .select(
            &[argus_core::Matcher::equal("__name__", "ALERTS")],
            (T0 + 140) * 1000,
            (T0 + 140) * 1000,
        )
        .unwrap_or_default();
    assert_eq!(got.len(), 1);
    assert!(crate::group::is_stale(got[0].samples[0].value));
}

#[test]
fn tick_waits_a_slot_then_evaluates_at_slot_times_skipping_missed_ones() {
    let (_store, mut m) = setup();
    m.reload(specs(RULES), T0 * NS).ok();
    let now = T0 * NS + 5;
    let (outs, next) = m.tick(now);
    assert!(
        outs.is_empty(),
        "the first evaluation waits for the next slot"
    );
    let ga = m
        .group("r.yml", "a")
        .map(|g| g.first_eval_after(now))
        .unwrap_or(0);
    let gb = m
        .group("r.yml", "b")
        .map(|g| g.first_eval_after(now))
        .unwrap_or(0);
    assert_eq!(next, Some(ga.min(gb)));
    // Late by 2.5 intervals of group a: one evaluation at the latest slot passed.
    let late = ga + 150 * NS;
    let (outs, _) = m.tick(late);
    let a = outs
        .iter()
        .find(|o| (o.ts_ns - ga) % (60 * NS) == 0 && o.ts_ns >= ga);
    assert_eq!(a.map(|o| o.ts_ns), Some(ga + 120 * NS));
    assert_eq!(outs.len(), 2);
}

#[test]
fn a_tick_evaluates_many_groups_in_group_order_each_stamped_with_its_own_start() {
    let (store, mut m) = setup();
    // 40 groups, each recording `load * i`: whichever worker evaluates a group, its output
    // comes back in (file, name) order and its series holds its own factor.
    let mut text = String::from("groups:\n");
    for i in 0..40 {
        text.push_str(&format!(
            "  - name: g{i:02}\n    rules:\n      - record: load:x{i}\n        expr: load * {i}\n"
        ));
    }
    m.reload(specs(&text), T0 * NS).ok();
    put(&store, "h", 0, 2.0);
    // Each group has its own offset: tick once to schedule them, then when all are due.
    m.tick(T0 * NS);
    let now = m.groups().filter_map(|g| g.next_eval_ns).max().unwrap_or(0);
    let (outs, _) = m.tick(now);
    assert_eq!(outs.len(), 40);
    for (i, o) in outs.iter().enumerate() {
        assert!(o.ts_ns <= now && o.ts_ns > now - 60 * NS, "{}", o.ts_ns);
        assert!(o.errors.is_empty(), "{:?}", o.errors);
        let names: Vec<&str> = o
            .written
            .iter()
            .filter_map(|s| s.labels.metric_name())
            .collect();
        assert_eq!(names, vec![format!("load:x{i}")], "output {i}");
        assert_eq!(o.written[0].samples[0].value, 2.0 * i as f64);
    }
    let stamps: Vec<i64> = m.groups().filter_map(|g| g.last_evaluation_ns).collect();
    assert_eq!(stamps.len(), 40);
    assert!(
        stamps.iter().all(|&t| t >= now && t < now + 60 * NS),
        "{stamps:?}"
    );
}

#[test]
fn api_bodies_match_prometheus_shapes() {
    let (store, mut m) = setup();
    m.reload(specs(RULES), T0 * NS).ok();
    put(&store, "h", 0, 15.0);
    m.eval_group("r.yml", "a", T0 * NS + 500_000_000, T0 * NS);
    // Make the measured durations fixed so the body can be compared whole.
    for g in m.groups.values_mut() {
        if g.name() == "a" {
            g.evaluation_time = Duration::from_micros(1500);
        }
        for r in &mut g.rules {
            r.status_mut().evaluation_duration = Duration::from_nanos(100);
        }
    }
    assert_eq!(
        crate::api::alerts_json(&m),
        r#"{"status":"success","data":{"alerts":[{"labels":{"alertname":"High","host":"h","severity":"page"},"annotations":{"summary":"h \u003c\u0026\u003e 15"},"state":"pending","activeAt":"2023-11-14T22:13:00.5Z","value":"1.5e+01"}]}}"#
    );
    assert_eq!(
        crate::api::rules_json(&m, Some("RECORD")).unwrap_or_default(),
        r#"{"status":"success","data":{"groups":[{"name":"a","file":"r.yml","rules":[{"name":"load:x2","query":"load * 2","health":"ok","evaluationTime":1e-7,"lastEvaluation":"2023-11-14T22:13:00Z","type":"recording"}],"interval":60,"limit":0,"evaluationTime":0.0015,"lastEvaluation":"2023-11-14T22:13:00Z"},{"name":"b","file":"r.yml","rules":[],"interval":30,"limit":5,"evaluationTime":0,"lastEvaluation":"0001-01-01T00:00:00Z"}]}}"#
    );
    let all = crate::api::rules_json(&m, None).unwrap_or_default();
    assert!(all.contains(r#"{"state":"pending","name":"High","query":"load \u003e 1","duration":60,"keepFiringFor":0,"labels":{"severity":"page"},"annotations":{"summary":"{{ $labels.host }} \u003c\u0026\u003e {{ $value }}"},"alerts":[{"labels":"#), "{all}");
    assert!(all.contains(r#"{"state":"inactive","name":"Other","query":"load \u003e 100","duration":0,"keepFiringFor":0,"labels":{},"annotations":{},"alerts":[],"health":"unknown","evaluationTime":1e-7,"lastEvaluation":"0001-01-01T00:00:00Z","type":"alerting"}"#), "{all}");
    assert_eq!(
        crate::api::rules_json(&m, Some("bogus"))
            .err()
            .map(|e| e.to_string()),
        Some(r#"invalid parameter "type": not supported value "bogus""#.to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_evaluates_on_the_clock_and_sends_alerts() {
    let (store, mut m) = setup();
    let one_second = "groups:\n  - name: fast\n    interval: 1s\n    rules:\n      - alert: Now\n        expr: vector(1)\n";
    m.reload(specs(one_second), SystemClock.now_ns()).ok();
    let m = Arc::new(Mutex::new(m));
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(run(m.clone(), Arc::new(SystemClock), tx, stop_rx));
    let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .ok()
        .flatten();
    stop_tx.send(true).ok();
    task.await.ok();
    let got = got.unwrap_or_default();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].labels.get("alertname"), Some("Now"));
    assert_eq!(
        store.stats().series,
        0,
        "no ALERTS in the first two evaluations after start"
    );
}
