//! The threshold rule: `<measurement> <field> <op> <threshold>`, per series.
//!
//! A **series** here is a (measurement, field, tag values) triple of the points the rule
//! looks at. Its state is a count of consecutive rounds in which the condition held and
//! whether it is firing; a series that is neither pending nor firing holds no state, so
//! series that come and go cost nothing while they are fine. A round in which a series is
//! not reported (an input with a longer interval, a disk unmounted) changes nothing; after
//! `forget_after_secs` without a report the series is forgotten.
//!
//! Events (`host` is left empty: the runtime fills it; `ts` is the round's time):
//!
//! ```json
//! {"type": "alarm", "host": "", "ts": 1700000000000, "status": "firing",
//!  "code": "DISK_FULL", "info": "/data is 93.5% full",
//!  "more": {"name": "disk full", "measurement": "disk", "field": "used_percent",
//!           "value": 93.5, "threshold": 90.0, "op": ">=",
//!           "labels": {"path": "/data", "host": "web1"}}}
//! ```
//!
//! `status` is `firing` or `resolved`; a resolution by forgetting adds `"stale": true` to
//! `more`.

use super::template::{Context, Template};
use super::{AlarmConfig, DEFAULT_INFO, Op};
use crate::alarm::Alarm;
use crate::glob::Glob;
use argus_core::Event;
use argus_core::line_protocol::Line;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// A built rule.
pub struct Threshold {
    name: String,
    code: String,
    measurement: Glob,
    field: Glob,
    op: Op,
    threshold: f64,
    tags: Vec<(String, Glob)>,
    for_count: u32,
    info: Template,
    recover: bool,
    forget_after_ms: i64,
    /// Pending and firing series, by [`series_key`].
    states: HashMap<String, State>,
    /// Counts calls to `check`, to count each series once per round.
    round: u64,
}

struct State {
    measurement: String,
    field: String,
    /// Sorted by name.
    tags: Vec<(String, String)>,
    consecutive: u32,
    firing: bool,
    last_value: f64,
    last_seen_ms: i64,
    last_round: u64,
}

fn series_key(measurement: &str, field: &str, tags: &[(&str, &str)]) -> String {
    let mut key = String::with_capacity(64);
    key.push_str(measurement);
    key.push('\0');
    key.push_str(field);
    for (k, v) in tags {
        key.push('\0');
        key.push_str(k);
        key.push('=');
        key.push_str(v);
    }
    key
}

impl Threshold {
    pub fn build(c: &AlarmConfig) -> anyhow::Result<Self> {
        if c.name.is_empty() {
            anyhow::bail!("`name` must be set");
        }
        if c.measurement.is_empty() || c.field.is_empty() {
            anyhow::bail!("`measurement` and `field` must both be set");
        }
        if c.for_count == 0 {
            anyhow::bail!("for_count must be at least 1");
        }
        if !c.threshold.is_finite() {
            anyhow::bail!("threshold must be a finite number");
        }
        let info = if c.info.is_empty() {
            DEFAULT_INFO
        } else {
            &c.info
        };
        Ok(Threshold {
            name: c.name.clone(),
            code: if c.code.is_empty() {
                c.name.clone()
            } else {
                c.code.clone()
            },
            measurement: Glob::new(&c.measurement),
            field: Glob::new(&c.field),
            op: c.op,
            threshold: c.threshold,
            tags: c
                .tags
                .iter()
                .map(|(k, p)| (k.clone(), Glob::new(p)))
                .collect(),
            for_count: c.for_count,
            info: Template::parse(info).map_err(|e| anyhow::anyhow!("info: {e}"))?,
            recover: c.recover,
            forget_after_ms: i64::try_from(c.forget_after_secs.saturating_mul(1000))
                .unwrap_or(i64::MAX),
            states: HashMap::new(),
            round: 0,
        })
    }

    fn selects(&self, p: &Line<'_>) -> bool {
        self.measurement.matches(&p.measurement)
            && self.tags.iter().all(|(k, g)| {
                let v = p.tags.iter().find(|(tk, _)| tk == k).map_or("", |(_, v)| v);
                g.matches(v)
            })
    }

    fn event(&self, now_ms: i64, st: &State, status: &str, stale: bool) -> Event {
        let tags: Vec<(&str, &str)> = st
            .tags
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let info = self.info.render(&Context {
            value: st.last_value,
            threshold: self.threshold,
            op: self.op.as_str(),
            measurement: &st.measurement,
            field: &st.field,
            name: &self.name,
            code: &self.code,
            tags: &tags,
        });
        let labels: Map<String, Value> = st
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let mut more = json!({
            "name": self.name,
            "measurement": st.measurement,
            "field": st.field,
            "value": st.last_value,
            "threshold": self.threshold,
            "op": self.op.as_str(),
            "labels": labels,
        });
        if stale && let Some(m) = more.as_object_mut() {
            m.insert("stale".into(), Value::Bool(true));
        }
        let mut payload = Map::new();
        payload.insert("status".into(), status.into());
        payload.insert("code".into(), self.code.clone().into());
        payload.insert("info".into(), info.into());
        payload.insert("more".into(), more);
        Event {
            kind: "alarm".into(),
            host: String::new(),
            ts: now_ms,
            payload,
        }
    }
}

impl Alarm for Threshold {
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&mut self, now_ms: i64, points: &[Line<'static>], out: &mut Vec<Event>) {
        self.round += 1;
        let mut sorted_tags: Vec<(&str, &str)> = Vec::new();
        for p in points {
            if !self.selects(p) {
                continue;
            }
            sorted_tags.clear();
            sorted_tags.extend(p.tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref())));
            sorted_tags.sort_unstable();
            for (field, value) in &p.fields {
                if !self.field.matches(field) {
                    continue;
                }
                let Some(value) = value.as_f64() else {
                    continue;
                };
                let key = series_key(&p.measurement, field, &sorted_tags);
                let holds = self.op.holds(value, self.threshold);
                if !self.states.contains_key(&key) {
                    if !holds {
                        // Nothing to remember about a series that is fine.
                        continue;
                    }
                    let state = State {
                        measurement: p.measurement.to_string(),
                        field: field.to_string(),
                        tags: sorted_tags
                            .iter()
                            .map(|&(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                        consecutive: 0,
                        firing: false,
                        last_value: value,
                        last_seen_ms: now_ms,
                        last_round: 0,
                    };
                    self.states.insert(key.clone(), state);
                }
                let Some(st) = self.states.get_mut(&key) else {
                    continue;
                };
                // The same series twice in one round counts once.
                if st.last_round == self.round {
                    continue;
                }
                st.last_round = self.round;
                st.last_seen_ms = now_ms;
                st.last_value = value;
                if holds {
                    st.consecutive = st.consecutive.saturating_add(1);
                    if !st.firing && st.consecutive >= self.for_count {
                        st.firing = true;
                        let st = &self.states[&key];
                        out.push(self.event(now_ms, st, "firing", false));
                    }
                } else {
                    if st.firing && self.recover {
                        let st = &self.states[&key];
                        out.push(self.event(now_ms, st, "resolved", false));
                    }
                    self.states.remove(&key);
                }
            }
        }
        if self.forget_after_ms > 0 {
            let cutoff = now_ms.saturating_sub(self.forget_after_ms);
            let stale: Vec<String> = self
                .states
                .iter()
                .filter(|(_, st)| st.last_seen_ms < cutoff)
                .map(|(k, _)| k.clone())
                .collect();
            for key in stale {
                if let Some(st) = self.states.remove(&key)
                    && st.firing
                    && self.recover
                {
                    out.push(self.event(now_ms, &st, "resolved", true));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processors::testutil::points;
    use std::collections::BTreeMap;

    fn disk_rule() -> AlarmConfig {
        AlarmConfig {
            name: "disk full".into(),
            code: "DISK_FULL".into(),
            measurement: "disk".into(),
            field: "used_percent".into(),
            op: Op::Ge,
            threshold: 90.0,
            for_count: 2,
            info: "{tags.path} is {value}% full (threshold {threshold}%)".into(),
            ..AlarmConfig::default()
        }
    }

    fn check(rule: &mut Threshold, now: i64, lines: &str) -> Vec<Event> {
        let mut out = Vec::new();
        rule.check(now, &points(lines), &mut out);
        out
    }

    fn status(e: &Event) -> (&str, &str) {
        (
            e.payload["status"].as_str().expect("status"),
            e.payload["more"]["labels"]["path"].as_str().unwrap_or(""),
        )
    }

    #[test]
    fn fires_after_for_count_rounds_per_series_and_resolves() {
        let mut rule = Threshold::build(&disk_rule()).expect("build");
        // Round 1: /data over, / under: pending only.
        let e = check(
            &mut rule,
            1000,
            "disk,path=/data used_percent=93.5 1\ndisk,path=/ used_percent=40 1\n",
        );
        assert!(e.is_empty(), "{e:?}");
        // Round 2: /data over again: fires once. / goes over: pending.
        let e = check(
            &mut rule,
            2000,
            "disk,path=/data used_percent=95 2\ndisk,path=/ used_percent=91 2\n",
        );
        assert_eq!(e.len(), 1);
        let expected = json!({
            "type": "alarm", "host": "", "ts": 2000, "status": "firing",
            "code": "DISK_FULL", "info": "/data is 95% full (threshold 90%)",
            "more": {"name": "disk full", "measurement": "disk", "field": "used_percent",
                     "value": 95.0, "threshold": 90.0, "op": ">=", "labels": {"path": "/data"}}
        });
        assert_eq!(serde_json::to_value(&e[0]).expect("json"), expected);
        // Round 3: / drops back before for_count: nothing. /data still over: no repeat.
        let e = check(
            &mut rule,
            3000,
            "disk,path=/data used_percent=96 3\ndisk,path=/ used_percent=50 3\n",
        );
        assert!(e.is_empty(), "{e:?}");
        // Round 4: / over once more: the count restarted, so still pending.
        let e = check(&mut rule, 4000, "disk,path=/ used_percent=92 4\n");
        assert!(e.is_empty(), "{e:?}");
        // Round 5: /data clears: resolved, with the value that cleared it. / fires.
        let e = check(
            &mut rule,
            5000,
            "disk,path=/data used_percent=80 5\ndisk,path=/ used_percent=92 5\n",
        );
        let got: Vec<_> = e.iter().map(status).collect();
        assert_eq!(got, [("resolved", "/data"), ("firing", "/")]);
        assert_eq!(e[0].payload["info"], "/data is 80% full (threshold 90%)");
        assert_eq!(e[0].payload["more"]["value"], 80.0);
        assert_eq!(e[0].ts, 5000);
        // /data starts from zero again.
        let e = check(&mut rule, 6000, "disk,path=/data used_percent=99 6\n");
        assert!(e.is_empty(), "{e:?}");
    }

    #[test]
    fn recover_false_raises_no_resolution_but_can_fire_again() {
        let mut rule = Threshold::build(&AlarmConfig {
            name: "ping lost".into(),
            measurement: "ping".into(),
            field: "percent_packet_loss".into(),
            op: Op::Ge,
            threshold: 100.0,
            recover: false,
            ..AlarmConfig::default()
        })
        .expect("build");
        let e = check(&mut rule, 1, "ping,url=a percent_packet_loss=100 1\n");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].payload["code"], "ping lost");
        assert_eq!(
            e[0].payload["info"],
            "ping lost: ping percent_packet_loss is 100 (>= 100)"
        );
        assert!(check(&mut rule, 2, "ping,url=a percent_packet_loss=0 2\n").is_empty());
        assert_eq!(
            check(&mut rule, 3, "ping,url=a percent_packet_loss=100 3\n").len(),
            1
        );
    }

    #[test]
    fn tag_filters_globs_and_field_types() {
        let mut rule = Threshold::build(&AlarmConfig {
            name: "hot".into(),
            measurement: "sensors*".into(),
            field: "temp_*".into(),
            op: Op::Gt,
            threshold: 80.0,
            tags: BTreeMap::from([("chip".into(), "coretemp*".into())]),
            ..AlarmConfig::default()
        })
        .expect("build");
        let e = check(
            &mut rule,
            1,
            "sensors,chip=coretemp-isa temp_input=85,temp_crit=100i,label=\"x\" 1\n\
             sensors,chip=nvme temp_input=90 1\n\
             sensors_extra temp_input=99 1\n\
             other temp_input=99 1\n",
        );
        let got: Vec<(&str, &str, f64)> = e
            .iter()
            .map(|e| {
                (
                    e.payload["more"]["measurement"].as_str().expect("m"),
                    e.payload["more"]["field"].as_str().expect("f"),
                    e.payload["more"]["value"].as_f64().expect("v"),
                )
            })
            .collect();
        // `sensors_extra` has no chip tag: an absent tag reads as "" and fails the glob.
        assert_eq!(
            got,
            [
                ("sensors", "temp_input", 85.0),
                ("sensors", "temp_crit", 100.0)
            ]
        );
    }

    #[test]
    fn a_series_reported_twice_in_a_round_counts_once() {
        let mut rule = Threshold::build(&AlarmConfig {
            for_count: 2,
            ..disk_rule()
        })
        .expect("build");
        let twice = "disk,path=/ used_percent=95 1\ndisk,path=/ used_percent=96 1\n";
        assert!(check(&mut rule, 1, twice).is_empty());
        assert_eq!(check(&mut rule, 2, twice).len(), 1);
    }

    #[test]
    fn a_series_not_reported_is_kept_then_forgotten_and_resolved_as_stale() {
        let mut rule = Threshold::build(&AlarmConfig {
            for_count: 1,
            forget_after_secs: 60,
            ..disk_rule()
        })
        .expect("build");
        assert_eq!(
            check(&mut rule, 0, "disk,path=/mnt used_percent=99 0\n").len(),
            1
        );
        // Rounds without the disk (another input's round) change nothing...
        assert!(check(&mut rule, 30_000, "cpu usage_idle=50 30\n").is_empty());
        assert!(check(&mut rule, 60_000, "cpu usage_idle=50 60\n").is_empty());
        // ...until it has not been seen for longer than forget_after_secs.
        let e = check(&mut rule, 60_001, "cpu usage_idle=50 60\n");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].payload["status"], "resolved");
        assert_eq!(e[0].payload["more"]["stale"], true);
        assert_eq!(e[0].payload["more"]["value"], 99.0);
        assert!(rule.states.is_empty());
    }
}
