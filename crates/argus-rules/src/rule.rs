//! Compiled rules and the alert state machine, as Prometheus's `rules/alerting.go` and
//! `rules/recording.go` run them.
//!
//! An **alert** is one label set an alerting rule's expression returned; it is keyed by
//! its labels (series labels without `__name__`, the templated rule labels, `alertname`).
//! Its **state** moves inactive → pending (first seen) → firing (after `for`) → inactive
//! again (resolved, kept 15 minutes so the resolution is re-sent). Every time is in
//! nanoseconds since the epoch, because Prometheus keeps the evaluation slot time at that
//! precision and prints `activeAt` with it.

use crate::file::{RuleKind, RuleSpec, compile_template};
use argus_core::Labels;
use argus_promql::Prepared;
use argus_template::duration::PromDuration;
use argus_template::{Context, QueryFn, Template, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// How long a resolved alert is kept (and re-sent as resolved).
pub const RESOLVED_RETENTION_NS: i64 = 15 * 60 * 1_000_000_000;

/// The state of one alert. Ordered so the maximum is a rule's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// A rule's health after its last evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Unknown,
    Ok,
    Err,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Ok => "ok",
            Health::Err => "err",
        }
    }
}

/// One alert of an alerting rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub state: AlertState,
    pub labels: Labels,
    /// Annotations keep empty values, as Prometheus's do.
    pub annotations: BTreeMap<String, String>,
    /// The expression's value at the last evaluation.
    pub value: f64,
    pub active_at_ns: i64,
    pub fired_at_ns: Option<i64>,
    pub resolved_at_ns: Option<i64>,
    pub last_sent_at_ns: Option<i64>,
    pub valid_until_ns: Option<i64>,
    pub keep_firing_since_ns: Option<i64>,
}

impl Alert {
    /// Prometheus's `needsSending`: never while pending; at once when resolved since the
    /// last send; otherwise when the last send is more than `resend_delay` old (strictly).
    fn needs_sending(&self, ts_ns: i64, resend_delay_ns: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        match (self.resolved_at_ns, self.last_sent_at_ns) {
            (Some(r), Some(l)) if r > l => return true,
            (Some(_), None) => return true,
            _ => {}
        }
        // A zero LastSentAt plus the delay is long before any real time.
        self.last_sent_at_ns
            .is_none_or(|l| l.saturating_add(resend_delay_ns) < ts_ns)
    }
}

/// An alert as handed to the notifier (Prometheus's `notifier.Alert`).
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyAlert {
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    /// `FiredAt`, not `ActiveAt`, as Prometheus sends it.
    pub starts_at_ns: Option<i64>,
    /// `ResolvedAt` once resolved, else `ValidUntil` (`ts + 4 × max(interval, resend
    /// delay)`), so Alertmanager resolves it by itself if we stop sending.
    pub ends_at_ns: Option<i64>,
    /// `<external URL>/graph?g0.expr=<expr>&g0.tab=1`.
    pub generator_url: String,
}

/// What a rule's last evaluation left: health, error and timing.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleStatus {
    pub health: Health,
    pub last_error: Option<String>,
    pub evaluation_duration: Duration,
    /// Wall-clock start of the last evaluation; `None` before the first.
    pub last_evaluation_ns: Option<i64>,
}

impl Default for RuleStatus {
    fn default() -> Self {
        RuleStatus {
            health: Health::Unknown,
            last_error: None,
            evaluation_duration: Duration::ZERO,
            last_evaluation_ns: None,
        }
    }
}

/// What every rule's evaluation reads besides its own definition.
pub struct EvalEnv<'a> {
    pub external_labels: &'a Labels,
    pub external_url: &'a str,
    pub query: &'a QueryFn<'a>,
    pub limit: usize,
}

/// An alerting rule with its alerts.
#[derive(Debug, Clone)]
pub struct AlertingRule {
    pub name: String,
    /// The expression as written.
    pub expr: String,
    /// The expression as Prometheus prints it back (`Expr.String()`).
    pub query: String,
    /// The expression parsed once, for every evaluation.
    pub(crate) prepared: Prepared,
    pub hold_ns: i64,
    pub keep_firing_for_ns: i64,
    /// The rule's labels as written (templates unexpanded).
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    label_templates: Vec<(String, Template)>,
    annotation_templates: Vec<(String, Template)>,
    /// Alerts by label set; pending, firing and recently resolved ones.
    pub active: HashMap<Labels, Alert>,
    /// False until the `for` state was restored after a start; `ALERTS` and
    /// `ALERTS_FOR_STATE` are written only once it is true.
    pub restored: bool,
    pub status: RuleStatus,
}

/// A recording rule.
#[derive(Debug, Clone)]
pub struct RecordingRule {
    pub name: String,
    pub expr: String,
    pub query: String,
    pub(crate) prepared: Prepared,
    pub labels: BTreeMap<String, String>,
    pub status: RuleStatus,
}

/// Either kind of rule.
#[derive(Debug, Clone)]
pub enum Rule {
    Alerting(AlertingRule),
    Recording(RecordingRule),
}

/// The query as Prometheus prints it (`promql-parser`'s printer follows Prometheus's
/// `String()`); the text as written when the printer cannot read it.
fn printed(expr: &str) -> String {
    promql_parser::parser::parse(expr)
        .map(|e| e.to_string())
        .unwrap_or_else(|_| expr.trim().to_string())
}

impl Rule {
    /// Compiles a rule; `restored` is false for rules loaded at start-up (their `for` state
    /// is restored from storage after the group's second evaluation).
    pub fn new(spec: &RuleSpec, restored: bool) -> Result<Rule, String> {
        let prepared = argus_promql::Engine::prepare(&spec.expr)
            .map_err(|e| format!("rule {:?}: could not parse expression: {e}", spec.name))?;
        Ok(match spec.kind {
            RuleKind::Recording => Rule::Recording(RecordingRule {
                name: spec.name.clone(),
                expr: spec.expr.clone(),
                query: printed(&spec.expr),
                prepared,
                labels: spec.labels.clone(),
                status: RuleStatus::default(),
            }),
            RuleKind::Alerting => {
                let compile = |m: &BTreeMap<String, String>, what: &str| {
                    m.iter()
                        .map(|(k, v)| {
                            compile_template(&spec.name, v)
                                .map(|t| (k.clone(), t))
                                .map_err(|e| format!("rule {:?}: {what} {k:?}: {e}", spec.name))
                        })
                        .collect::<Result<Vec<_>, String>>()
                };
                Rule::Alerting(AlertingRule {
                    name: spec.name.clone(),
                    expr: spec.expr.clone(),
                    query: printed(&spec.expr),
                    prepared,
                    hold_ns: PromDuration::ns(spec.hold),
                    keep_firing_for_ns: PromDuration::ns(spec.keep_firing_for),
                    labels: spec.labels.clone(),
                    annotations: spec.annotations.clone(),
                    label_templates: compile(&spec.labels, "label")?,
                    annotation_templates: compile(&spec.annotations, "annotation")?,
                    active: HashMap::new(),
                    restored,
                    status: RuleStatus::default(),
                })
            }
        })
    }

    pub fn name(&self) -> &str {
        match self {
            Rule::Alerting(r) => &r.name,
            Rule::Recording(r) => &r.name,
        }
    }

    pub fn expr(&self) -> &str {
        match self {
            Rule::Alerting(r) => &r.expr,
            Rule::Recording(r) => &r.expr,
        }
    }

    pub(crate) fn prepared(&self) -> &Prepared {
        match self {
            Rule::Alerting(r) => &r.prepared,
            Rule::Recording(r) => &r.prepared,
        }
    }

    /// The metric names an evaluation of this rule can read (its expression's, and for a
    /// template that runs `query`, any: None).
    pub(crate) fn reads(&self) -> Option<&std::collections::BTreeSet<String>> {
        if let Rule::Alerting(r) = self
            && r.labels
                .values()
                .chain(r.annotations.values())
                .any(|t| t.contains("query"))
        {
            return None;
        }
        self.prepared().metric_names()
    }

    /// The metric names this rule writes: its record name, or `ALERTS` and
    /// `ALERTS_FOR_STATE`.
    pub(crate) fn writes(&self) -> Vec<&str> {
        match self {
            Rule::Alerting(_) => vec!["ALERTS", "ALERTS_FOR_STATE"],
            Rule::Recording(r) => vec![r.name.as_str()],
        }
    }

    pub fn status(&self) -> &RuleStatus {
        match self {
            Rule::Alerting(r) => &r.status,
            Rule::Recording(r) => &r.status,
        }
    }

    pub(crate) fn status_mut(&mut self) -> &mut RuleStatus {
        match self {
            Rule::Alerting(r) => &mut r.status,
            Rule::Recording(r) => &mut r.status,
        }
    }

    pub fn labels(&self) -> &BTreeMap<String, String> {
        match self {
            Rule::Alerting(r) => &r.labels,
            Rule::Recording(r) => &r.labels,
        }
    }

    /// Prometheus matches rules across a reload by name plus labels (`name{a="b"}`).
    pub(crate) fn name_and_labels(&self) -> String {
        let l: Vec<String> = self
            .labels()
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        format!("{}{{{}}}", self.name(), l.join(", "))
    }

    /// What makes two rules the same rule for a reload (Prometheus compares the rules'
    /// YAML, whose expression is the printed query).
    pub(crate) fn identity(&self) -> String {
        match self {
            Rule::Alerting(r) => format!(
                "alert {} {} {} {} {:?} {:?}",
                r.name, r.query, r.hold_ns, r.keep_firing_for_ns, r.labels, r.annotations
            ),
            Rule::Recording(r) => format!("record {} {} {:?}", r.name, r.query, r.labels),
        }
    }
}

impl RecordingRule {
    /// The series to write: each result with `__name__` set to the rule's name and the
    /// rule's labels (not templated) set over it.
    pub(crate) fn eval(
        &self,
        result: Vec<(Labels, f64)>,
        limit: usize,
    ) -> Result<Vec<(Labels, f64)>, String> {
        let mut out = Vec::with_capacity(result.len());
        let mut seen = HashSet::with_capacity(result.len());
        for (mut l, v) in result {
            l.set(argus_core::METRIC_NAME, &self.name);
            for (k, val) in &self.labels {
                l.set(k, val);
            }
            if !seen.insert(l.clone()) {
                return Err(
                    "vector contains metrics with the same labelset after applying rule labels"
                        .into(),
                );
            }
            out.push((l, v));
        }
        if limit > 0 && out.len() > limit {
            return Err(format!(
                "exceeded limit of {limit} with {} series",
                out.len()
            ));
        }
        Ok(out)
    }
}

/// Prometheus's template data for an alert: `.Labels`, `.ExternalLabels`,
/// `.ExternalURL`, `.Value`.
pub(crate) fn alert_template_data(labels: &Labels, ext: &Labels, url: &str, value: f64) -> Value {
    let map = |l: &Labels| {
        Value::StrMap(
            l.iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect(),
        )
    };
    Value::structure(
        "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }",
        vec![
            ("Labels", map(labels)),
            ("ExternalLabels", map(ext)),
            ("ExternalURL", Value::String(url.to_string())),
            ("Value", Value::Float(value)),
        ],
    )
}

impl AlertingRule {
    /// The rule's state: the highest state of its alerts.
    pub fn state(&self) -> AlertState {
        self.active
            .values()
            .map(|a| a.state)
            .max()
            .unwrap_or(AlertState::Inactive)
    }

    /// Pending and firing alerts (not the resolved ones kept for re-sending), sorted by
    /// labels so answers are stable.
    pub fn active_alerts(&self) -> Vec<&Alert> {
        let mut v: Vec<&Alert> = self
            .active
            .values()
            .filter(|a| a.resolved_at_ns.is_none())
            .collect();
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        v
    }

    /// The labels of this alert's `ALERTS`/`ALERTS_FOR_STATE` series: the rule's labels as
    /// written, the alert's over them, then the name and `alertname` (Prometheus builds
    /// them this way, so a label whose template expanded to nothing keeps its raw text
    /// there).
    pub(crate) fn series_labels(&self, alert: &Alert, metric: &str) -> Labels {
        let mut l = Labels::from_pairs(self.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        for lab in alert.labels.iter() {
            l.set(&lab.name, &lab.value);
        }
        l.set(argus_core::METRIC_NAME, metric);
        l.set("alertname", &self.name);
        l
    }

    /// One evaluation at `ts_ns` over the expression's `result`: updates the alerts and
    /// returns the `ALERTS`/`ALERTS_FOR_STATE` samples to write (none until restored).
    /// An error leaves the alerts as they were, except `limit`, which clears them as in
    /// Prometheus.
    pub(crate) fn eval(
        &mut self,
        ts_ns: i64,
        result: Vec<(Labels, f64)>,
        env: &EvalEnv<'_>,
    ) -> Result<Vec<(Labels, f64)>, String> {
        let mut fresh: HashMap<Labels, Alert> = HashMap::with_capacity(result.len());
        for (series, v) in result {
            let data = alert_template_data(&series, env.external_labels, env.external_url, v);
            let ctx = Context {
                data,
                external_url: env.external_url,
                query: Some(env.query),
            };
            let mut lb = series;
            lb.remove(argus_core::METRIC_NAME);
            for (k, t) in &self.label_templates {
                lb.set(k, &t.render(&ctx));
            }
            lb.set("alertname", &self.name);
            let annotations = self
                .annotation_templates
                .iter()
                .map(|(k, t)| (k.clone(), t.render(&ctx)))
                .collect();
            if fresh.contains_key(&lb) {
                return Err(
                    "vector contains metrics with the same labelset after applying alert labels"
                        .into(),
                );
            }
            fresh.insert(
                lb.clone(),
                Alert {
                    state: AlertState::Pending,
                    labels: lb,
                    annotations,
                    value: v,
                    active_at_ns: ts_ns,
                    fired_at_ns: None,
                    resolved_at_ns: None,
                    last_sent_at_ns: None,
                    valid_until_ns: None,
                    keep_firing_since_ns: None,
                },
            );
        }
        let seen: HashSet<Labels> = fresh.keys().cloned().collect();
        for (k, a) in fresh {
            match self.active.get_mut(&k) {
                Some(old) if old.state != AlertState::Inactive => {
                    old.value = a.value;
                    old.annotations = a.annotations;
                }
                _ => {
                    self.active.insert(k, a);
                }
            }
        }
        let mut out = Vec::new();
        let mut active_pending = 0usize;
        let mut gone = Vec::new();
        // Sorted so the samples come out in a stable order.
        let mut keys: Vec<Labels> = self.active.keys().cloned().collect();
        keys.sort();
        for k in keys {
            let Some(a) = self.active.get_mut(&k) else {
                continue;
            };
            if !seen.contains(&k) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && self.keep_firing_for_ns > 0 {
                    let since = *a.keep_firing_since_ns.get_or_insert(ts_ns);
                    keep_firing = ts_ns - since < self.keep_firing_for_ns;
                }
                if a.state == AlertState::Pending
                    || a.resolved_at_ns
                        .is_some_and(|r| ts_ns - r > RESOLVED_RETENTION_NS)
                {
                    gone.push(k.clone());
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at_ns = Some(ts_ns);
                }
                if !keep_firing {
                    continue;
                }
            } else {
                a.keep_firing_since_ns = None;
            }
            active_pending += 1;
            if a.state == AlertState::Pending && ts_ns - a.active_at_ns >= self.hold_ns {
                a.state = AlertState::Firing;
                a.fired_at_ns = Some(ts_ns);
            }
            if self.restored {
                let a = a.clone();
                let mut l = self.series_labels(&a, "ALERTS");
                l.set("alertstate", a.state.as_str());
                out.push((l, 1.0));
                out.push((
                    self.series_labels(&a, "ALERTS_FOR_STATE"),
                    a.active_at_ns.div_euclid(1_000_000_000) as f64,
                ));
            }
        }
        for k in gone {
            self.active.remove(&k);
        }
        if env.limit > 0 && active_pending > env.limit {
            self.active.clear();
            return Err(format!(
                "exceeded limit of {} with {active_pending} alerts",
                env.limit
            ));
        }
        Ok(out)
    }

    /// The alerts to send after a successful evaluation at `ts_ns` (Prometheus's
    /// `sendAlerts`), marking them sent.
    pub(crate) fn send_alerts(
        &mut self,
        ts_ns: i64,
        resend_delay_ns: i64,
        interval_ns: i64,
        external_url: &str,
    ) -> Vec<NotifyAlert> {
        let delta = resend_delay_ns.max(interval_ns);
        let url = format!(
            "{external_url}/graph?g0.expr={}&g0.tab=1",
            argus_template::gofmt::query_escape(&self.query)
        );
        let mut out = Vec::new();
        let mut alerts: Vec<&mut Alert> = self.active.values_mut().collect();
        alerts.sort_by(|a, b| a.labels.cmp(&b.labels));
        for a in alerts {
            if !a.needs_sending(ts_ns, resend_delay_ns) {
                continue;
            }
            a.last_sent_at_ns = Some(ts_ns);
            a.valid_until_ns = Some(ts_ns + 4 * delta);
            out.push(NotifyAlert {
                labels: a.labels.clone(),
                annotations: a.annotations.clone(),
                starts_at_ns: a.fired_at_ns,
                ends_at_ns: a.resolved_at_ns.or(a.valid_until_ns),
                generator_url: url.clone(),
            });
        }
        out
    }
}
