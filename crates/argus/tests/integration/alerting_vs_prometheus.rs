//! Alert timing against the real Prometheus 2.42 (`/usr/bin/prometheus`).
//!
//! A **transition** is a change of one alert's state as a system shows it: it appears
//! pending or firing, goes from pending to firing, or disappears (resolved, or a pending
//! alert whose condition went away). Both systems load one rule file, from the same
//! absolute path, with a 2 s group interval, and get the same live data; the test then
//! checks that every alert makes the same transitions in both, at times at most one
//! evaluation interval apart, with the same labels, annotations and values.
//!
//! The data is one gauge per host, written every round (about 200 ms) as one remote-write
//! body sent to both (Prometheus through `--web.enable-remote-write-receiver`), each
//! sample stamped with the wall clock when written. Pushing one body to both gives both
//! exactly the same samples; a scraped exporter would not, as the two scrape loops would
//! read it at different moments. Values change only a quarter of an interval after a
//! **slot** (a group's evaluation time; both systems compute it from the hash of the file
//! path and group name, so the same path gives the same slots), so the change has three
//! quarters of an interval to reach both before the next slot evaluates it.
//!
//! The scenario, in slots `S0 = P`, `Sk = P + k × 2 s`: host `a` is above the threshold
//! from `S0` to `S6` (pending at `S1`, firing at `S4` after `for: 6s`, its value and so its
//! annotations changing at `S4`, kept firing by `keep_firing_for: 4s` until it resolves
//! at `S9`); host `b` is above it for one interval, twice, shorter than `for`: pending at
//! `S1` and `S4`, gone at `S2` and `S5`, never firing. A `for: 0` rule on the raw series
//! fires and resolves with each of them.
//!
//! Both systems are polled every 200 ms: `/api/v1/alerts`, and `ALERTS` through
//! `/api/v1/query`. After the scenario the stored `ALERTS`, `ALERTS_FOR_STATE` and the
//! recorded series are read back as raw samples and compared too: when every value change
//! reached both systems before the next slot (checked, not assumed), both evaluated every
//! slot over the same data, and their slot times must then agree exactly. That stricter
//! check is what catches a rule that is one evaluation early or late (a `for` or
//! `keep_firing_for` compared with `<=` instead of `<`), which one interval of tolerance
//! would let through.

use crate::common::{client, start};
use crate::conformance::{fetch, remote_write, start_prometheus_configured};
use argus_core::{Labels, Sample, TimeSeries, now_ms};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The group's interval; short, so the whole test takes about half a minute.
const INTERVAL_MS: i64 = 2000;
/// How often both systems are written to and polled.
const POLL_MS: i64 = 200;
/// A value changes this long after a slot: far from both the slot before and the next.
const CHANGE_AFTER_SLOT_MS: i64 = INTERVAL_MS / 4;
/// The last slot at which an alert changes state (`a` resolves at `S9`).
const LAST_TRANSITION_SLOT: i64 = 9;
/// What a poll that sees an alert no more records.
const GONE: &str = "gone";

const RULES: &str = r#"groups:
  - name: queues
    interval: 2s
    rules:
      - record: host:queue_depth:max
        expr: max by (host) (app_queue_depth)
      - alert: QueueBacklog
        expr: host:queue_depth:max > 1000
        for: 6s
        keep_firing_for: 4s
        labels:
          severity: page
          team: "ops-{{ $labels.host }}"
        annotations:
          summary: "{{ $labels.host }} queue depth is {{ $value | humanize }}"
          description: "queue depth {{ $value }} on {{ $labels.host }} is above 1000"
      - alert: QueueSpike
        expr: app_queue_depth > 1000
        labels:
          severity: info
        annotations:
          summary: "spike on {{ $labels.host }} ({{ $labels.queue }}): {{ $value | humanize }}"
"#;

/// The queue depth of hosts `a` and `b` at `ts` (ms), the scenario starting at slot `p`
/// (`None`: not yet; both are low). Step `j` runs from `Sj + CHANGE_AFTER_SLOT_MS` to the
/// same point after the next slot, so slot `Sj+1` is the first to see it.
fn queue_depth(ts: i64, p: Option<i64>) -> (f64, f64) {
    let Some(p) = p else {
        return (40.0, 40.0);
    };
    let step = (ts - p - CHANGE_AFTER_SLOT_MS).div_euclid(INTERVAL_MS);
    let a = match step {
        0..3 => 12345.0,
        3..6 => 1.5e6,
        _ => 40.0,
    };
    let b = if step == 0 || step == 3 { 2500.0 } else { 40.0 };
    (a, b)
}

/// One system as the test talks to it.
struct Peer {
    name: &'static str,
    url: String,
    /// Empty for Prometheus.
    token: String,
}

impl Peer {
    fn get(
        &self,
        http: &reqwest::blocking::Client,
        path: &str,
        params: &[(&str, String)],
    ) -> Value {
        let body = fetch(http, &format!("{}{path}", self.url), &self.token, params);
        assert_eq!(
            body["status"], "success",
            "{} {path} {params:?}: {body}",
            self.name
        );
        body
    }

    /// An instant query's result at `at_ms` (now if `None`).
    fn query(&self, http: &reqwest::blocking::Client, q: &str, at_ms: Option<i64>) -> Vec<Value> {
        let mut params = vec![("query", q.to_string())];
        if let Some(t) = at_ms {
            params.push(("time", seconds(t)));
        }
        let body = self.get(http, "/api/v1/query", &params);
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// Milliseconds from a JSON time in seconds (`1700000000.123` or `"1700000000.123"`).
fn ms_of(v: &Value) -> i64 {
    let s = v
        .as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()));
    (s.unwrap_or_else(|| panic!("not a time: {v}")) * 1000.0).round() as i64
}

/// An alert's identity, readable: `alertname{label="value",…}` with the other labels in
/// name order (`__name__` and `alertstate` left out, as `ALERTS` adds them).
fn alert_key(labels: &Value) -> String {
    let Some(m) = labels.as_object() else {
        panic!("labels are not an object: {labels}");
    };
    let rest: Vec<String> = m
        .iter()
        .filter(|(k, _)| !["alertname", "__name__", "alertstate"].contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "{}{{{}}}",
        m.get("alertname").and_then(Value::as_str).unwrap_or(""),
        rest.join(",")
    )
}

/// What one source (a system's `/api/v1/alerts`, or its `ALERTS`) showed over time.
#[derive(Default)]
struct Timeline {
    /// Alert → its states in the order seen, each with the time of the poll that first saw
    /// it.
    states: BTreeMap<String, Vec<(String, i64)>>,
    /// Alert → each different form `/api/v1/alerts` showed of it, in order.
    forms: BTreeMap<String, Vec<Value>>,
    last_poll_ms: Option<i64>,
    /// The longest time between two polls: a transition is seen less than this late.
    max_gap_ms: i64,
}

impl Timeline {
    /// Records a poll started at `at_ms` that saw `seen` (alert → state and form; the
    /// form `Null` when the source has none).
    fn record(&mut self, at_ms: i64, seen: BTreeMap<String, (String, Value)>) {
        if let Some(last) = self.last_poll_ms {
            self.max_gap_ms = self.max_gap_ms.max(at_ms - last);
        }
        self.last_poll_ms = Some(at_ms);
        for (key, states) in &mut self.states {
            if !seen.contains_key(key) && states.last().is_some_and(|(s, _)| s != GONE) {
                states.push((GONE.to_string(), at_ms));
            }
        }
        for (key, (state, form)) in seen {
            let states = self.states.entry(key.clone()).or_default();
            if states.last().is_none_or(|(s, _)| *s != state) {
                states.push((state, at_ms));
            }
            let forms = self.forms.entry(key).or_default();
            if !form.is_null() && forms.last() != Some(&form) {
                forms.push(form);
            }
        }
    }

    /// No alert is pending or firing.
    fn quiet(&self) -> bool {
        self.states
            .values()
            .all(|s| s.last().is_none_or(|(st, _)| st == GONE))
    }

    fn sequence(&self, key: &str) -> Vec<&str> {
        self.states
            .get(key)
            .map(|s| s.iter().map(|(st, _)| st.as_str()).collect())
            .unwrap_or_default()
    }
}

/// `/api/v1/alerts`: alert → (state, the whole alert object).
fn api_alerts(http: &reqwest::blocking::Client, p: &Peer) -> BTreeMap<String, (String, Value)> {
    let body = p.get(http, "/api/v1/alerts", &[]);
    body["data"]["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|a| {
            let state = a["state"].as_str().unwrap_or("?").to_string();
            (alert_key(&a["labels"]), (state, a))
        })
        .collect()
}

/// `ALERTS` now: alert → (its `alertstate`, no form).
fn alerts_series(http: &reqwest::blocking::Client, p: &Peer) -> BTreeMap<String, (String, Value)> {
    p.query(http, "ALERTS", None)
        .into_iter()
        .map(|s| {
            let state = s["metric"]["alertstate"]
                .as_str()
                .unwrap_or("?")
                .to_string();
            (alert_key(&s["metric"]), (state, Value::Null))
        })
        .collect()
}

/// A time as `Sk+<ms>`, relative to the scenario's slots.
fn at_slot(ms: i64, p: i64) -> String {
    format!(
        "S{}+{}ms",
        (ms - p).div_euclid(INTERVAL_MS),
        (ms - p).rem_euclid(INTERVAL_MS)
    )
}

/// One round's write: the samples' timestamp, and when each system had taken them
/// (Prometheus: when it answered, as it appends before answering; Argus: when its queue
/// had drained, the samples applied to the store).
struct Write {
    ts: i64,
    prom_done_ms: i64,
    argus_done_ms: i64,
}

/// Why the two systems may not have evaluated some slot over the same data, if so: the
/// first write of each step must have been taken by both before the step's slot.
fn late_data(writes: &[Write], p: i64) -> Option<String> {
    (0..LAST_TRANSITION_SLOT).find_map(|step| {
        let change = p + step * INTERVAL_MS + CHANGE_AFTER_SLOT_MS;
        let slot = p + (step + 1) * INTERVAL_MS;
        let Some(w) = writes.iter().find(|w| w.ts >= change) else {
            return Some(format!("nothing was written in step {step}"));
        };
        (w.prom_done_ms >= slot || w.argus_done_ms >= slot || w.ts >= slot).then(|| {
            format!(
                "step {step}'s first samples (at {}) were taken by Prometheus at {} and by \
                 Argus at {}, not before the slot S{}",
                at_slot(w.ts, p),
                at_slot(w.prom_done_ms, p),
                at_slot(w.argus_done_ms, p),
                step + 1
            )
        })
    })
}

/// Raw samples of `q` (a range selector) at `at_ms`, from `from_ms` on: series (labels
/// as canonical JSON) → (ms, value as written).
fn stored(
    http: &reqwest::blocking::Client,
    p: &Peer,
    q: &str,
    at_ms: i64,
    from_ms: i64,
) -> BTreeMap<String, Vec<(i64, String)>> {
    p.query(http, q, Some(at_ms))
        .into_iter()
        .map(|s| {
            let points = s["values"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|v| (ms_of(&v[0]), v[1].as_str().unwrap_or("").to_string()))
                .filter(|(t, _)| *t >= from_ms)
                .collect();
            (s["metric"].to_string(), points)
        })
        .collect()
}

fn rfc3339_ms(v: &Value) -> Option<i64> {
    let t = humantime::parse_rfc3339(v.as_str()?).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(d.as_millis() as i64)
}

#[test]
fn alert_transitions_match_prometheus_2_42() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    // One absolute path in both configurations: the group hashes, so the slots, agree.
    let rules = dir.path().join("queues.yml");
    std::fs::write(&rules, RULES).unwrap_or_else(|e| panic!("write rules: {e}"));
    let rules = rules.to_string_lossy().into_owned();
    let prom = start_prometheus_configured(&format!(
        "global:\n  evaluation_interval: 2s\nrule_files:\n  - {rules}\n"
    ));
    let argus = start(
        "server",
        &format!("[alerting]\nrule_files = [\"{rules}\"]\nevaluation_interval_secs = 2\n"),
    );
    let peers = [
        Peer {
            name: "Prometheus",
            url: prom.url.clone(),
            token: String::new(),
        },
        Peer {
            name: "Argus",
            url: argus.url.clone(),
            token: argus.token.clone(),
        },
    ];
    let http = client();
    let mut writes: Vec<Write> = Vec::new();
    let mut write = |p: Option<i64>| {
        let ts = now_ms();
        let (a, b) = queue_depth(ts, p);
        let series: Vec<TimeSeries> = [("a", a), ("b", b)]
            .into_iter()
            .map(|(host, value)| TimeSeries {
                labels: Labels::with_name(
                    "app_queue_depth",
                    [("host", host.to_string()), ("queue", "mail".to_string())],
                ),
                samples: vec![Sample { ts, value }],
            })
            .collect();
        remote_write(&http, &prom.url, "", &series);
        let prom_done_ms = now_ms();
        remote_write(&http, &argus.url, &argus.token, &series);
        argus.drained();
        writes.push(Write {
            ts,
            prom_done_ms,
            argus_done_ms: now_ms(),
        });
    };

    // Ready once both evaluated the group twice over data: from the third evaluation on,
    // both write `ALERTS` (the `for` state is restored after the second). Then the slots
    // of both are read from their recorded samples' timestamps.
    let deadline = Instant::now() + Duration::from_secs(40);
    let recorded_twice = |p: &Peer| {
        p.query(
            &http,
            r#"count_over_time(host:queue_depth:max{host="a"}[1m])"#,
            None,
        )
        .first()
        .and_then(|s| s["value"][1].as_str()?.parse::<f64>().ok())
        .is_some_and(|n| n >= 2.0)
    };
    while !peers.iter().all(recorded_twice) {
        assert!(
            Instant::now() < deadline,
            "the recording rule was not evaluated twice in both within 40 s"
        );
        write(None);
        std::thread::sleep(Duration::from_millis(POLL_MS as u64));
    }
    let phase: Vec<i64> = peers
        .iter()
        .map(|p| {
            let r = p.query(&http, r#"timestamp(host:queue_depth:max{host="a"})"#, None);
            let Some(last) = r.first() else {
                panic!("{}: the recorded series is gone", p.name);
            };
            ms_of(&last["value"][1]).rem_euclid(INTERVAL_MS)
        })
        .collect();
    eprintln!(
        "slot offset within the {INTERVAL_MS} ms interval: Prometheus {} ms, Argus {} ms",
        phase[0], phase[1]
    );
    assert_eq!(
        phase[0], phase[1],
        "the same file path and group name must give the same evaluation slots"
    );
    let now = now_ms();
    let p = now - (now - phase[0]).rem_euclid(INTERVAL_MS) + INTERVAL_MS;

    // The scenario, polled until one interval after the last transition and both quiet.
    let mut api = [Timeline::default(), Timeline::default()];
    let mut series = [Timeline::default(), Timeline::default()];
    let end = p + (LAST_TRANSITION_SLOT + 1) * INTERVAL_MS;
    loop {
        let round = now_ms();
        write(Some(p));
        for (i, peer) in peers.iter().enumerate() {
            let at = now_ms();
            api[i].record(at, api_alerts(&http, peer));
            let at = now_ms();
            series[i].record(at, alerts_series(&http, peer));
        }
        if round >= end && api.iter().chain(&series).all(Timeline::quiet) {
            break;
        }
        assert!(
            round < end + 20_000,
            "alerts still active 20 s after the scenario ended"
        );
        let wait = POLL_MS - (now_ms() - round);
        if wait > 0 {
            std::thread::sleep(Duration::from_millis(wait as u64));
        }
    }
    let end = now_ms();
    let late = late_data(&writes, p);

    // The scenario happened as designed (in Prometheus), so the comparison is not vacuous.
    let expected = [
        (
            r#"QueueBacklog{host="a",severity="page",team="ops-a"}"#,
            vec!["pending", "firing", GONE],
        ),
        (
            r#"QueueBacklog{host="b",severity="page",team="ops-b"}"#,
            vec!["pending", GONE, "pending", GONE],
        ),
        (
            r#"QueueSpike{host="a",queue="mail",severity="info"}"#,
            vec!["firing", GONE],
        ),
        (
            r#"QueueSpike{host="b",queue="mail",severity="info"}"#,
            vec!["firing", GONE, "firing", GONE],
        ),
    ];
    for (what, t) in [("/api/v1/alerts", &api[0]), ("ALERTS", &series[0])] {
        let keys: Vec<&String> = t.states.keys().collect();
        assert_eq!(
            keys,
            expected.iter().map(|e| e.0).collect::<Vec<_>>(),
            "Prometheus's {what}"
        );
        for (key, seq) in &expected {
            assert_eq!(&t.sequence(key), seq, "Prometheus's {what}: {key}");
        }
    }
    let backlog_a = &api[0].forms[expected[0].0];
    assert_eq!(
        backlog_a[0]["annotations"]["summary"], "a queue depth is 12.35k",
        "{backlog_a:?}"
    );
    assert_eq!(
        backlog_a
            .last()
            .map(|f| f["annotations"]["summary"].clone()),
        Some("a queue depth is 1.5M".into()),
        "{backlog_a:?}"
    );
    assert!(
        backlog_a.iter().any(|f| f.get("keepFiringSince").is_some()),
        "keep_firing_for was not exercised: {backlog_a:?}"
    );

    // The same transitions in Argus, each at most one interval (plus what polling adds)
    // from Prometheus's. A transition is seen by the first poll after it happens, less
    // than one poll gap late, so two systems' seen times differ by their true difference
    // plus less than the longer of their gaps.
    let mut problems = Vec::new();
    let mut report = Vec::new();
    for (what, pt, at) in [
        ("/api/v1/alerts", &api[0], &api[1]),
        ("ALERTS", &series[0], &series[1]),
    ] {
        let allowance = pt.max_gap_ms.max(at.max_gap_ms);
        let keys_p: Vec<&String> = pt.states.keys().collect();
        let keys_a: Vec<&String> = at.states.keys().collect();
        if keys_p != keys_a {
            problems.push(format!(
                "{what}: alerts in Prometheus {keys_p:?}, in Argus {keys_a:?}"
            ));
            continue;
        }
        for (key, sp) in &pt.states {
            let sa = &at.states[key];
            if pt.sequence(key) != at.sequence(key) {
                problems.push(format!(
                    "{what} {key}: Prometheus {sp:?}, Argus {sa:?} (relative to S0 = {p})"
                ));
                continue;
            }
            for ((state, tp), (_, ta)) in sp.iter().zip(sa) {
                let diff = ta - tp;
                report.push(format!(
                    "{what:<15} {key:<55} {state:<8} Prometheus {:<12} Argus {:<12} {diff:+} ms",
                    at_slot(*tp, p),
                    at_slot(*ta, p)
                ));
                if diff.abs() > INTERVAL_MS + allowance {
                    problems.push(format!(
                        "{what} {key} {state}: seen {diff:+} ms apart, more than one interval \
                         ({INTERVAL_MS} ms) plus the longest poll gap ({allowance} ms)"
                    ));
                }
            }
        }
    }
    // The same labels, annotations, values and states, form by form; `activeAt` and
    // `keepFiringSince` within one interval, and equal when both saw the same data.
    for (key, fp) in &api[0].forms {
        let fa = api[1].forms.get(key).cloned().unwrap_or_default();
        let untimed = |f: &Value| {
            let mut f = f.clone();
            if let Some(o) = f.as_object_mut() {
                o.remove("activeAt");
                o.insert(
                    "keepFiringSince".into(),
                    Value::Bool(o.contains_key("keepFiringSince")),
                );
            }
            f
        };
        let same = fp.len() == fa.len()
            && fp.iter().zip(&fa).all(|(x, y)| {
                untimed(x) == untimed(y)
                    && ["activeAt", "keepFiringSince"].iter().all(|t| {
                        match (rfc3339_ms(&x[*t]), rfc3339_ms(&y[*t])) {
                            (Some(a), Some(b)) => {
                                (a - b).abs() <= INTERVAL_MS && (late.is_some() || x[*t] == y[*t])
                            }
                            (None, None) => true,
                            _ => false,
                        }
                    })
            });
        if !same {
            problems.push(format!(
                "/api/v1/alerts {key}: Prometheus showed {fp:#?}\nArgus showed {fa:#?}"
            ));
        }
    }
    // What each wrote: the same series, with samples at the same slots.
    let range = format!("[{}s]", (end - p) / 1000 + 2);
    for q in ["ALERTS", "ALERTS_FOR_STATE", "host:queue_depth:max"] {
        let q = format!("{q}{range}");
        let sp = stored(&http, &peers[0], &q, end, p);
        let sa = stored(&http, &peers[1], &q, end, p);
        let slots = |v: Option<&Vec<(i64, String)>>| -> Vec<String> {
            v.map(|v| {
                v.iter()
                    .map(|(t, x)| format!("{}={x}", at_slot(*t, p)))
                    .collect()
            })
            .unwrap_or_default()
        };
        for key in sp.keys().chain(sa.keys().filter(|k| !sp.contains_key(*k))) {
            let (vp, va) = (sp.get(key), sa.get(key));
            let ends = |v: Option<&Vec<(i64, String)>>| {
                v.map(|v| (v.first().map(|x| x.0), v.last().map(|x| x.0)))
            };
            let close = match (ends(vp), ends(va)) {
                (Some((Some(f1), Some(l1))), Some((Some(f2), Some(l2)))) => {
                    (f1 - f2).abs() <= INTERVAL_MS && (l1 - l2).abs() <= INTERVAL_MS
                }
                _ => false,
            };
            if !close || (late.is_none() && vp != va) {
                problems.push(format!(
                    "{q} {key}: Prometheus wrote {:?}, Argus {:?}",
                    slots(vp),
                    slots(va)
                ));
            }
        }
    }
    eprintln!(
        "alert transitions (S0 = {p}; poll gaps up to {} ms):\n{}",
        api.iter()
            .chain(&series)
            .map(|t| t.max_gap_ms)
            .max()
            .unwrap_or(0),
        report.join("\n")
    );
    match &late {
        None => eprintln!("every value change reached both systems before the next slot"),
        Some(why) => eprintln!("slot times compared within one interval only: {why}"),
    }
    assert!(
        problems.is_empty(),
        "Argus's alerts differ from Prometheus 2.42's:\n{}",
        problems.join("\n")
    );
}
