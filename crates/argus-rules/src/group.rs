//! A rule group: its schedule, one evaluation of all its rules, staleness and restore,
//! as Prometheus's `rules/manager.go` (`Group`) does them.
//!
//! The **slot** of a group is its evaluation time: `floor((t - offset) / interval) *
//! interval + offset`, where the **offset** is the XXH64 of the group's file and name
//! modulo the interval, in nanoseconds. Every evaluation runs at a slot time (never at the
//! wall clock), its rules in order, each rule's samples written before any later rule
//! that can read them runs, so a rule reads what an earlier one recorded (rules that
//! cannot see each other's metric names share one write). A series a rule wrote last time and
//! not this time gets a **stale marker** (Prometheus's special NaN) at the slot time.
//!
//! [`Group::eval`] is pure apart from the storage it reads and writes: it takes the slot
//! time and the wall-clock time as arguments, so every behaviour is tested without timers.

use crate::file::GroupSpec;
use crate::rule::{Alert, EvalEnv, Health, NotifyAlert, Rule};
use argus_core::{Labels, Matcher, Sample, Storage, TimeSeries};
use argus_promql::{Engine, Prepared, Value as PromValue};
use argus_template::duration::PromDuration;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Prometheus's stale marker: a NaN with this exact bit pattern ends a series.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Whether `v` is a stale marker (a plain NaN is a value, not a marker).
pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

const NS_PER_MS: i64 = 1_000_000;

/// Settings every group shares (Prometheus's flags and global configuration).
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// `evaluation_interval`: the interval of groups that set none (1m).
    pub evaluation_interval: PromDuration,
    /// Added by the notifier to alerts that lack them; visible to templates.
    pub external_labels: Labels,
    /// `--web.external-url`: the start of generator URLs; `externalURL` in templates.
    pub external_url: String,
    /// `--rules.alert.resend-delay` (1m).
    pub resend_delay: PromDuration,
    /// `--rules.alert.for-outage-tolerance` (1h): how old an `ALERTS_FOR_STATE` sample may
    /// be to be restored.
    pub outage_tolerance: PromDuration,
    /// `--rules.alert.for-grace-period` (10m): the least time a restored alert waits
    /// before firing; rules with a shorter `for` are not restored.
    pub for_grace_period: PromDuration,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            evaluation_interval: PromDuration(60_000),
            external_labels: Labels::default(),
            external_url: String::new(),
            resend_delay: PromDuration(60_000),
            outage_tolerance: PromDuration(3_600_000),
            for_grace_period: PromDuration(600_000),
        }
    }
}

/// What one evaluation of a group did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalOutput {
    /// The slot time evaluated, in nanoseconds.
    pub ts_ns: i64,
    /// Everything written to storage: recording results, `ALERTS`, `ALERTS_FOR_STATE`
    /// and stale markers, in the order written.
    pub written: Vec<TimeSeries>,
    /// Alerts to send to the notifier.
    pub alerts: Vec<NotifyAlert>,
    /// `(rule index, error)` for each rule whose evaluation or write failed.
    pub errors: Vec<(usize, String)>,
}

/// A loaded group with its rules' state.
#[derive(Debug, Clone)]
pub struct Group {
    pub spec: GroupSpec,
    pub interval_ns: i64,
    pub rules: Vec<Rule>,
    /// Per rule, the series it wrote at its last successful evaluation.
    series_prev: Vec<HashSet<Labels>>,
    /// Series of rules removed by a reload, marked stale at the next evaluation.
    stale_series: Vec<Labels>,
    /// Restore the `for` state after the second evaluation (only for groups loaded at
    /// start-up).
    should_restore: bool,
    evals_done: u64,
    /// Wall-clock duration and start of the last evaluation.
    pub evaluation_time: Duration,
    pub last_evaluation_ns: Option<i64>,
    /// The next slot to evaluate, once scheduled.
    pub(crate) next_eval_ns: Option<i64>,
    /// Totals since the group was loaded, kept across reloads that change it.
    pub counters: GroupCounters,
}

/// A group's running totals, as Prometheus counts them per group
/// (`prometheus_rule_group_iterations_total`, `…_iterations_missed_total`,
/// `prometheus_rule_evaluations_total`, `prometheus_rule_evaluation_failures_total`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GroupCounters {
    /// Evaluations of the group.
    pub iterations: u64,
    /// Slots skipped because the group was late.
    pub iterations_missed: u64,
    /// Rule evaluations.
    pub rule_evaluations: u64,
    /// Rule evaluations (or their writes) that failed.
    pub rule_failures: u64,
}

/// The group's offset hash: XXH64 of its labels `{file, name}` as Prometheus hashes them.
fn group_hash(file: &str, name: &str) -> u64 {
    let mut b = Vec::with_capacity(file.len() + name.len() + 12);
    b.extend_from_slice(b"file\xff");
    b.extend_from_slice(file.as_bytes());
    b.extend_from_slice(b"\xffname\xff");
    b.extend_from_slice(name.as_bytes());
    b.push(0xff);
    crate::xxh64::xxh64(&b)
}

/// The evaluation offset of group `name` of `file` within an interval of `interval_ns`
/// nanoseconds, as Prometheus computes it: for tools that need to know when a group runs
/// (the rules benchmark chooses group names that start together).
pub fn offset_ns(file: &str, name: &str, interval_ns: i64) -> i64 {
    (group_hash(file, name) % interval_ns.max(1) as u64) as i64
}

/// Converts an instant query result into samples, as Prometheus's `EngineQueryFunc`:
/// a scalar becomes one sample without labels; other types are an error.
pub(crate) fn query_vector(
    engine: &Engine,
    q: &str,
    ts_ms: i64,
) -> Result<Vec<(Labels, f64)>, String> {
    to_samples(engine.instant(q, ts_ms).map_err(|e| e.to_string())?)
}

/// [`query_vector`] of a rule's expression, parsed when the rule was loaded.
fn query_prepared(engine: &Engine, q: &Prepared, ts_ms: i64) -> Result<Vec<(Labels, f64)>, String> {
    to_samples(
        engine
            .instant_prepared(q, ts_ms)
            .map_err(|e| e.to_string())?,
    )
}

fn to_samples(v: PromValue) -> Result<Vec<(Labels, f64)>, String> {
    match v {
        PromValue::Vector(v) => Ok(v.into_iter().map(|(l, _, v)| (l, v)).collect()),
        PromValue::Scalar { v, .. } => Ok(vec![(Labels::default(), v)]),
        _ => Err("rule result is not a vector or scalar".into()),
    }
}

impl Group {
    /// Compiles `spec`. `loaded_before` is false only for the first load after a start:
    /// those rules write no `ALERTS*` until their `for` state is restored.
    pub fn new(spec: GroupSpec, opts: &EvalOptions, loaded_before: bool) -> Result<Group, String> {
        let rules = spec
            .rules
            .iter()
            .map(|r| Rule::new(r, loaded_before))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: group {:?}: {e}", spec.file, spec.name))?;
        let interval = spec.interval.unwrap_or(opts.evaluation_interval);
        Ok(Group {
            interval_ns: interval.ns().max(1),
            series_prev: vec![HashSet::new(); rules.len()],
            rules,
            spec,
            stale_series: Vec::new(),
            should_restore: !loaded_before,
            evals_done: 0,
            evaluation_time: Duration::ZERO,
            last_evaluation_ns: None,
            next_eval_ns: None,
            counters: GroupCounters::default(),
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn file(&self) -> &str {
        &self.spec.file
    }

    /// The evaluation offset within the interval, in nanoseconds.
    pub fn offset_ns(&self) -> i64 {
        offset_ns(&self.spec.file, &self.spec.name, self.interval_ns)
    }

    /// The slot at or before `t_ns` (Prometheus's `EvalTimestamp`).
    pub fn slot_at(&self, t_ns: i64) -> i64 {
        let off = self.offset_ns();
        let adj = t_ns - off;
        adj - adj.rem_euclid(self.interval_ns) + off
    }

    /// The first slot a group started at `now_ns` evaluates: one whole interval after
    /// the slot before `now_ns`, as Prometheus waits before its first evaluation.
    pub fn first_eval_after(&self, now_ns: i64) -> i64 {
        self.slot_at(now_ns) + self.interval_ns
    }

    /// Whether the group equals a newly loaded one, so a reload may keep it as it is.
    pub(crate) fn same_as(&self, other: &Group) -> bool {
        self.spec.name == other.spec.name
            && self.spec.file == other.spec.file
            && self.interval_ns == other.interval_ns
            && self.spec.limit == other.spec.limit
            && self.rules.len() == other.rules.len()
            && self
                .rules
                .iter()
                .zip(&other.rules)
                .all(|(a, b)| a.identity() == b.identity())
    }

    /// Takes over `from`'s state after a reload changed the group (Prometheus's
    /// `CopyState`): rules are matched by name and labels, in order among duplicates;
    /// the series of rules that are gone are marked stale at the next evaluation.
    pub(crate) fn copy_state(&mut self, from: Group) {
        self.evaluation_time = from.evaluation_time;
        self.last_evaluation_ns = from.last_evaluation_ns;
        self.counters = from.counters;
        let mut by_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, r) in from.rules.iter().enumerate() {
            by_key.entry(r.name_and_labels()).or_default().push(i);
        }
        let mut from_rules: Vec<Option<Rule>> = from.rules.into_iter().map(Some).collect();
        let mut from_prev: Vec<Option<HashSet<Labels>>> =
            from.series_prev.into_iter().map(Some).collect();
        for (i, rule) in self.rules.iter_mut().enumerate() {
            let Some(idx) = by_key.get_mut(&rule.name_and_labels()) else {
                continue;
            };
            if idx.is_empty() {
                continue;
            }
            let fi = idx.remove(0);
            if let Some(prev) = from_prev[fi].take() {
                self.series_prev[i] = prev;
            }
            if let (Rule::Alerting(new), Some(Rule::Alerting(old))) = (rule, from_rules[fi].take())
            {
                new.active.extend(old.active);
            }
        }
        self.stale_series = from.stale_series;
        for left in by_key.into_values().flatten() {
            if let Some(prev) = from_prev[left].take() {
                self.stale_series.extend(prev);
            }
        }
    }

    /// Every series this group wrote last (to mark stale when it is removed).
    pub(crate) fn all_series(&self) -> Vec<Labels> {
        let mut v: Vec<Labels> = self.series_prev.iter().flatten().cloned().collect();
        v.extend(self.stale_series.iter().cloned());
        v
    }

    /// Evaluates every rule at slot `ts_ns` (`now_ns` is the wall clock: it stamps
    /// `lastEvaluation` and the restore), writing each rule's samples to `storage` before
    /// the next rule runs. After the second evaluation of a group loaded at start-up, the
    /// `for` state is restored from `ALERTS_FOR_STATE`.
    pub fn eval(
        &mut self,
        storage: &Arc<dyn Storage>,
        engine: &Engine,
        ts_ns: i64,
        now_ns: i64,
        opts: &EvalOptions,
    ) -> EvalOutput {
        let started = Instant::now();
        let ts_ms = ts_ns.div_euclid(NS_PER_MS);
        let mut out = EvalOutput {
            ts_ns,
            ..EvalOutput::default()
        };
        let query = |q: &str| -> Result<argus_template::QueryRows, String> {
            Ok(query_vector(engine, q, ts_ms)?
                .into_iter()
                .map(|(l, v)| {
                    (
                        l.iter()
                            .map(|l| (l.name.clone(), l.value.clone()))
                            .collect(),
                        v,
                    )
                })
                .collect())
        };
        // Each rule's samples are written before any later rule that could read them
        // runs (Prometheus commits after every rule); rules that cannot see each other's
        // series share one write, so a group costs one WAL fsync instead of one per rule.
        let mut pending: Vec<Pending> = Vec::new();
        let mut pending_names: HashSet<String> = HashSet::new();
        for i in 0..self.rules.len() {
            let rule_start = Instant::now();
            if !pending.is_empty() {
                let sees_pending = match self.rules[i].reads() {
                    None => true,
                    Some(names) => names.iter().any(|n| pending_names.contains(n)),
                };
                if sees_pending {
                    self.flush(storage, &mut pending, &mut out);
                    pending_names.clear();
                }
            }
            let rule = &mut self.rules[i];
            let result =
                query_prepared(engine, rule.prepared(), ts_ms).and_then(|res| match rule {
                    Rule::Recording(r) => r.eval(res, self.spec.limit),
                    Rule::Alerting(r) => {
                        let env = EvalEnv {
                            external_labels: &opts.external_labels,
                            external_url: &opts.external_url,
                            query: &query,
                            limit: self.spec.limit,
                        };
                        r.eval(ts_ns, res, &env)
                    }
                });
            let rule_name = rule.name().to_string();
            let status = rule.status_mut();
            status.last_evaluation_ns = Some(now_ns);
            let samples = match result {
                Err(e) => {
                    tracing::warn!(group = %self.spec.name, file = %self.spec.file, rule = %rule_name, index = i, err = %e, "evaluating rule failed");
                    status.health = Health::Err;
                    status.last_error = Some(e.clone());
                    status.evaluation_duration = rule_start.elapsed();
                    out.errors.push((i, e));
                    continue;
                }
                Ok(s) => s,
            };
            status.health = Health::Ok;
            status.last_error = None;
            if let Rule::Alerting(r) = rule {
                out.alerts.extend(r.send_alerts(
                    ts_ns,
                    opts.resend_delay.ns(),
                    self.interval_ns,
                    &opts.external_url,
                ));
            }
            let mut returned = HashSet::with_capacity(samples.len());
            let mut batch: Vec<TimeSeries> = Vec::with_capacity(samples.len());
            for (labels, value) in samples {
                returned.insert(labels.clone());
                batch.push(TimeSeries {
                    labels,
                    samples: vec![Sample { ts: ts_ms, value }],
                });
            }
            let mut stale: Vec<&Labels> = self.series_prev[i]
                .iter()
                .filter(|l| !returned.contains(*l))
                .collect();
            stale.sort();
            for l in stale {
                batch.push(stale_marker(l.clone(), ts_ms));
            }
            pending_names.extend(rule.writes().into_iter().map(str::to_string));
            pending.push(Pending {
                rule: i,
                batch,
                returned,
            });
            rule.status_mut().evaluation_duration = rule_start.elapsed();
        }
        self.flush(storage, &mut pending, &mut out);
        // A write error is found after later rules ran: list errors in rule order.
        out.errors.sort_by_key(|(i, _)| *i);
        if !self.stale_series.is_empty() {
            let batch: Vec<TimeSeries> = self
                .stale_series
                .iter()
                .map(|l| stale_marker(l.clone(), ts_ms))
                .collect();
            match storage.append(batch.clone()) {
                Ok(()) => {
                    self.stale_series.clear();
                    out.written.extend(batch);
                }
                Err(e) => {
                    tracing::warn!(group = %self.spec.name, err = %e, "writing stale markers of removed rules failed")
                }
            }
        }
        self.evals_done += 1;
        self.counters.iterations += 1;
        self.counters.rule_evaluations += self.rules.len() as u64;
        self.counters.rule_failures += out.errors.len() as u64;
        if self.should_restore && self.evals_done >= 2 {
            self.restore_for_state(storage.as_ref(), now_ns, opts);
            self.should_restore = false;
        }
        self.evaluation_time = started.elapsed();
        self.last_evaluation_ns = Some(now_ns);
        self.next_eval_ns = Some(ts_ns + self.interval_ns);
        out
    }

    /// Writes the pending rules' samples in one append; if that fails, rule by rule, so
    /// each rule gets its own outcome as if it had written alone.
    fn flush(
        &mut self,
        storage: &Arc<dyn Storage>,
        pending: &mut Vec<Pending>,
        out: &mut EvalOutput,
    ) {
        if pending.is_empty() {
            return;
        }
        let all: Vec<TimeSeries> = pending
            .iter()
            .flat_map(|p| p.batch.iter().cloned())
            .collect();
        let together = if pending.len() == 1 {
            None
        } else {
            Some(storage.append(all))
        };
        for p in pending.drain(..) {
            let result = match &together {
                Some(Ok(())) => Ok(()),
                _ => storage.append(p.batch.clone()),
            };
            match result {
                Ok(()) => {
                    self.series_prev[p.rule] = p.returned;
                    out.written.extend(p.batch);
                }
                Err(e) => {
                    let e = e.to_string();
                    let rule = &mut self.rules[p.rule];
                    tracing::warn!(group = %self.spec.name, rule = %rule.name(), err = %e, "writing rule results failed");
                    let status = rule.status_mut();
                    status.health = Health::Err;
                    status.last_error = Some(e.clone());
                    out.errors.push((p.rule, e));
                }
            }
        }
    }

    /// Restores each alert's `ActiveAt` from the last `ALERTS_FOR_STATE` sample within the
    /// outage tolerance before `now_ns` (Prometheus's `RestoreForState`): an alert that
    /// was firing keeps its old `ActiveAt`; one that had less than the grace period left
    /// fires a grace period from now; otherwise the outage is added to its pending time.
    pub fn restore_for_state(&mut self, storage: &dyn Storage, now_ns: i64, opts: &EvalOptions) {
        let maxt = now_ns.div_euclid(NS_PER_MS);
        let mint = (now_ns - opts.outage_tolerance.ns()).div_euclid(NS_PER_MS);
        let grace = opts.for_grace_period.ns();
        for rule in &mut self.rules {
            let Rule::Alerting(r) = rule else {
                continue;
            };
            if r.hold_ns < grace {
                r.restored = true;
                continue;
            }
            let keys: Vec<Labels> = r.active.keys().cloned().collect();
            for k in keys {
                let Some(alert) = r.active.get(&k) else {
                    continue;
                };
                let want = r.series_labels(alert, "ALERTS_FOR_STATE");
                let matchers: Vec<Matcher> = want
                    .iter()
                    .map(|l| Matcher::equal(&l.name, &l.value))
                    .collect();
                let series = match storage.select(&matchers, mint, maxt) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!(alertname = %r.name, err = %e, "failed to restore 'for' state");
                        continue;
                    }
                };
                let Some(s) = series
                    .into_iter()
                    .find(|s| s.labels.len() == matchers.len())
                else {
                    continue;
                };
                let Some(last) = s.samples.last() else {
                    continue;
                };
                if is_stale(last.value) {
                    continue;
                }
                let down_at = (last.ts / 1000) * 1_000_000_000;
                let mut active_at = (last.value as i64).saturating_mul(1_000_000_000);
                let remaining = r.hold_ns - (down_at - active_at);
                if remaining <= 0 {
                    // It was firing when we went down; the next evaluation fires it again.
                } else if remaining < grace {
                    active_at = now_ns + grace - r.hold_ns;
                } else {
                    active_at += now_ns - down_at;
                }
                if let Some(a) = r.active.get_mut(&k) {
                    a.active_at_ns = active_at;
                }
            }
            r.restored = true;
        }
    }

    /// All alerts of all alerting rules, with their rule's name.
    pub fn alerts(&self) -> impl Iterator<Item = (&str, &Alert)> {
        self.rules.iter().flat_map(|r| match r {
            Rule::Alerting(a) => a
                .active_alerts()
                .into_iter()
                .map(|al| (a.name.as_str(), al))
                .collect::<Vec<_>>(),
            Rule::Recording(_) => Vec::new(),
        })
    }
}

/// A rule's samples waiting to be written with those of the rules after it.
struct Pending {
    rule: usize,
    batch: Vec<TimeSeries>,
    returned: HashSet<Labels>,
}

fn stale_marker(labels: Labels, ts_ms: i64) -> TimeSeries {
    TimeSeries {
        labels,
        samples: vec![Sample {
            ts: ts_ms,
            value: f64::from_bits(STALE_NAN_BITS),
        }],
    }
}

#[cfg(test)]
mod tests;
