//! Rules made through the API (`/api/argus/rules`): what the API takes, and how it becomes
//! a Prometheus rule group that the same engine evaluates as the rule files.
//!
//! A rule is one of four forms:
//! - `expr`: PromQL, as in a rule file;
//! - `threshold`: a metric, label filters, an operator and a value, compiled to
//!   `metric{k="v"} > value`;
//! - `no_data`: a selector whose series have gone silent for `minutes` (they had samples
//!   in the last hour and none in those minutes), or a host of the inventory that is down
//!   for `minutes` (`argus_host_up == 0`, with `for`);
//! - `event`: events of a type whose fields match (see [`super::event_rules`]); these
//!   are matched as events arrive rather than evaluated as a group.
//!
//! Each API rule is a group of its own (`api/<id>`), so it has its own interval and
//! evaluation slot and can be enabled or disabled alone. Compiling goes through the rule
//! file reader, so an API rule is checked exactly as a file rule is.

use argus_rules::file::GroupSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The file name API rules carry (their groups are `api/<id>`).
pub const API_FILE: &str = "api";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Alert,
    Record,
}

/// A rule as `POST /api/argus/rules` takes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    /// The alert name, or the recorded series' name.
    pub name: String,
    #[serde(default)]
    pub kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<Threshold>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_data: Option<NoData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventMatch>,
    /// Prometheus duration (`5m`); alerts only.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_firing_for: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Prometheus duration; absent: `[alerting] evaluation_interval_secs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// The threshold form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    pub metric: String,
    /// Label filters, each `label = value`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `>`, `>=`, `<`, `<=`, `==` or `!=`.
    pub op: String,
    pub value: f64,
}

/// The no-data form: `selector` or `host` (`*` for every host).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub minutes: u32,
}

/// The event form: the event type, matchers on its fields, the fields that become
/// labels, and how long after its last event the alert ends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventMatch {
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(rename = "match", default, skip_serializing_if = "Vec::is_empty")]
    pub matchers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels_from: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve_after: Option<String>,
}

/// A rule the API refuses: the field and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("field {field:?}: {reason}")]
pub struct RuleInputError {
    pub field: String,
    pub reason: String,
}

fn bad(field: &str, reason: impl Into<String>) -> RuleInputError {
    RuleInputError {
        field: field.to_string(),
        reason: reason.into(),
    }
}

/// A label value in PromQL's double quotes.
fn quoted(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

fn valid_name(n: &str) -> bool {
    let mut b = n.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

impl RuleInput {
    /// The PromQL the rule evaluates, from whichever form it has.
    pub fn expr(&self) -> Result<String, RuleInputError> {
        let forms = [
            self.expr.is_some(),
            self.threshold.is_some(),
            self.no_data.is_some(),
            self.event.is_some(),
        ];
        if forms.iter().filter(|f| **f).count() != 1 {
            return Err(bad(
                "expr",
                "give exactly one of expr, threshold, no_data and event",
            ));
        }
        if self.event.is_some() {
            return Err(bad("event", "an event rule has no PromQL expression"));
        }
        if let Some(e) = &self.expr {
            return Ok(e.clone());
        }
        if let Some(t) = &self.threshold {
            if !valid_name(&t.metric) {
                return Err(bad(
                    "threshold.metric",
                    format!("{:?} is not a metric name", t.metric),
                ));
            }
            if !["<", "<=", ">", ">=", "==", "!="].contains(&t.op.as_str()) {
                return Err(bad(
                    "threshold.op",
                    format!("{:?} is not one of < <= > >= == !=", t.op),
                ));
            }
            if !t.value.is_finite() {
                return Err(bad("threshold.value", "must be a finite number"));
            }
            let mut sel = t.metric.clone();
            if !t.labels.is_empty() {
                let parts: Vec<String> = t
                    .labels
                    .iter()
                    .map(|(k, v)| {
                        if valid_name(k) && !k.contains(':') {
                            Ok(format!("{k}={}", quoted(v)))
                        } else {
                            Err(bad(
                                "threshold.labels",
                                format!("{k:?} is not a label name"),
                            ))
                        }
                    })
                    .collect::<Result<_, _>>()?;
                sel.push_str(&format!("{{{}}}", parts.join(",")));
            }
            return Ok(format!("{sel} {} {}", t.op, t.value));
        }
        let n = self.no_data.as_ref().map_or(0, |n| n.minutes);
        let nd = self
            .no_data
            .as_ref()
            .ok_or_else(|| bad("no_data", "missing"))?;
        if n == 0 || n > 1440 {
            return Err(bad("no_data.minutes", "must be 1 to 1440"));
        }
        match (&nd.selector, &nd.host) {
            (Some(sel), None) => Ok(format!(
                "last_over_time(({sel})[{}m:]) unless last_over_time(({sel})[{n}m:])",
                (n * 2).max(60)
            )),
            (None, Some(h)) if h == "*" => Ok("argus_host_up == 0".into()),
            (None, Some(h)) => Ok(format!("argus_host_up{{host={}}} == 0", quoted(h))),
            _ => Err(bad("no_data", "give exactly one of selector and host")),
        }
    }

    /// The rule as a one-group rule file, checked by the rule file reader.
    pub fn compile(&self, id: &str) -> Result<GroupSpec, RuleInputError> {
        if self.name.is_empty() {
            return Err(bad("name", "required"));
        }
        let expr = self.expr()?;
        let mut rule = serde_json::Map::new();
        match self.kind {
            Kind::Alert => rule.insert("alert".into(), self.name.clone().into()),
            Kind::Record => rule.insert("record".into(), self.name.clone().into()),
        };
        rule.insert("expr".into(), expr.into());
        // A host silent for N minutes: down, and for N minutes.
        let for_ = match (&self.for_, &self.no_data) {
            (Some(f), _) => Some(f.clone()),
            (None, Some(nd)) if nd.host.is_some() => Some(format!("{}m", nd.minutes)),
            _ => None,
        };
        if let Some(f) = for_ {
            rule.insert("for".into(), f.into());
        }
        if let Some(k) = &self.keep_firing_for {
            rule.insert("keep_firing_for".into(), k.clone().into());
        }
        if !self.labels.is_empty() {
            rule.insert(
                "labels".into(),
                serde_json::to_value(&self.labels).unwrap_or_default(),
            );
        }
        if !self.annotations.is_empty() {
            rule.insert(
                "annotations".into(),
                serde_json::to_value(&self.annotations).unwrap_or_default(),
            );
        }
        let mut group = serde_json::json!({ "name": format!("{API_FILE}/{id}"), "rules": [rule] });
        if let Some(i) = &self.interval {
            group["interval"] = i.clone().into();
        }
        let text = serde_norway::to_string(&serde_json::json!({ "groups": [group] }))
            .map_err(|e| bad("name", e.to_string()))?;
        let mut groups = argus_rules::file::parse_rule_file(API_FILE, &text).map_err(|errs| {
            let e = &errs[0];
            // groups[0].rules[0].expr → expr; groups[0].interval → interval.
            let field = e
                .field
                .rsplit('.')
                .next()
                .filter(|f| !f.is_empty())
                .unwrap_or("name");
            let field = match field {
                "alert" | "record" => "name",
                f => f,
            };
            bad(field, e.reason.clone())
        })?;
        groups
            .pop()
            .ok_or_else(|| bad("name", "the rule compiled to no group"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(f: impl FnOnce(&mut RuleInput)) -> RuleInput {
        let mut r = RuleInput {
            name: "HighCPU".into(),
            enabled: true,
            ..RuleInput::default()
        };
        f(&mut r);
        r
    }

    #[test]
    fn the_three_forms_compile_to_promql() {
        let t = input(|r| {
            r.threshold = Some(Threshold {
                metric: "cpu_usage_idle".into(),
                labels: [("host".to_string(), "web\"1".to_string())].into(),
                op: "<".into(),
                value: 10.0,
            })
        });
        assert_eq!(
            t.expr().ok().as_deref(),
            Some(r#"cpu_usage_idle{host="web\"1"} < 10"#)
        );
        let g = t.compile("abc").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((g.file.as_str(), g.name.as_str()), ("api", "api/abc"));
        let nd = input(|r| {
            r.no_data = Some(NoData {
                selector: Some(r#"up{job="node"}"#.into()),
                host: None,
                minutes: 10,
            })
        });
        assert_eq!(
            nd.expr().ok().as_deref(),
            Some(
                r#"last_over_time((up{job="node"})[60m:]) unless last_over_time((up{job="node"})[10m:])"#
            )
        );
        assert!(nd.compile("n").is_ok());
        let host = input(|r| {
            r.no_data = Some(NoData {
                selector: None,
                host: Some("db1".into()),
                minutes: 5,
            })
        });
        let g = host.compile("h").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(g.rules.len(), 1);
        assert_eq!(
            host.expr().ok().as_deref(),
            Some(r#"argus_host_up{host="db1"} == 0"#)
        );
    }

    #[test]
    fn bad_rules_name_the_field() {
        let e = input(|r| r.expr = Some("cpu <".into())).compile("x").err();
        assert_eq!(e.map(|e| e.field), Some("expr".to_string()));
        let e = input(|r| {
            r.expr = Some("up".into());
            r.for_ = Some("5 minutes".into());
        })
        .compile("x")
        .err();
        assert_eq!(e.map(|e| e.field), Some("for".to_string()));
        let e = input(|_| {}).compile("x").err();
        assert_eq!(e.map(|e| e.field), Some("expr".to_string()));
        let e = input(|r| {
            r.threshold = Some(Threshold {
                metric: "m".into(),
                labels: BTreeMap::new(),
                op: "=>".into(),
                value: 1.0,
            })
        })
        .expr()
        .err();
        assert_eq!(e.map(|e| e.field), Some("threshold.op".to_string()));
        let e = input(|r| {
            r.expr = Some("up".into());
            r.annotations = [("s".to_string(), "{{ $labels.x ".to_string())].into();
        })
        .compile("x")
        .err();
        assert!(e.is_some_and(|e| e.field.contains('s') || e.field == "annotations"));
    }
}
