//! **Event rules**: an alert for each event of a type whose fields match, such as an
//! agent alarm with `code=disk_full` or a log line matched on a host. Metrics rules look
//! at series on a schedule; an event has no series and no end, so these are matched
//! where events are applied (by whichever handlers process takes the batch), and each
//! match becomes an alert that ends `resolve_after` the event unless another matching
//! event of the same labels comes meanwhile (the notifier merges them, extending it).
//! The alerts go through the queue to the server that sends notifications.
//!
//! A rule (`/api/argus/rules` with `event`) gives the event `type`, `match`: matchers in
//! Alertmanager's syntax on the event's fields (`code=disk_full`, `severity=~crit|warn`,
//! `message!~.*test.*`; a dotted name reads inside objects, `host` and `type` are fields
//! too; a missing field reads as ""), `labels_from`: fields whose values become labels
//! (they tell one alert from another), and `resolve_after` (a Prometheus duration, `5m`
//! when absent). The alert's labels are `alertname` (the rule's name), `host` (when the
//! event has one), `event_type`, the `labels_from` fields and the rule's `labels`. Its
//! annotations are Go templates over `$labels` and `$event` (the event's fields):
//! `{{ $labels.host }}: {{ $event.message }}`.

use super::api_rules::{EventMatch, RuleInput, RuleInputError};
use argus_core::Event;
use argus_notify::{MatchType, Matcher, PostableAlert};
use argus_template::{Context, Template, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// The default time an event alert stays firing after its last event.
pub const DEFAULT_RESOLVE_AFTER_MS: i64 = 5 * 60 * 1000;

/// One compiled event rule.
#[derive(Debug, Clone)]
pub struct EventRule {
    pub id: String,
    pub name: String,
    pub event_type: String,
    /// Each field path with its matcher.
    matchers: Vec<(Vec<String>, Matcher)>,
    labels_from: Vec<(String, Vec<String>)>,
    labels: BTreeMap<String, String>,
    annotations: Vec<(String, Template)>,
    resolve_after_ms: i64,
}

fn bad(field: &str, reason: impl Into<String>) -> RuleInputError {
    RuleInputError {
        field: field.to_string(),
        reason: reason.into(),
    }
}

/// A field name: letters, digits, `_`, `-`, and `.` between the parts of a path.
fn field_path(name: &str) -> Option<Vec<String>> {
    let ok = !name.is_empty()
        && name.split('.').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
    ok.then(|| name.split('.').map(str::to_string).collect())
}

/// `field=value`, `field!=value`, `field=~regex`, `field!~regex`; the value may be in
/// double quotes.
fn parse_match(s: &str) -> Result<(Vec<String>, Matcher), String> {
    let at = s
        .find(['=', '!'])
        .ok_or_else(|| format!("{s:?} has no operator (=, !=, =~, !~)"))?;
    let (name, rest) = s.split_at(at);
    let (ty, value) = if let Some(v) = rest.strip_prefix("=~") {
        (MatchType::Regexp, v)
    } else if let Some(v) = rest.strip_prefix("!~") {
        (MatchType::NotRegexp, v)
    } else if let Some(v) = rest.strip_prefix("!=") {
        (MatchType::NotEqual, v)
    } else if let Some(v) = rest.strip_prefix('=') {
        (MatchType::Equal, v)
    } else {
        return Err(format!("{s:?} has no operator (=, !=, =~, !~)"));
    };
    let name = name.trim();
    let path = field_path(name).ok_or_else(|| format!("{name:?} is not a field name"))?;
    let value = value.trim();
    let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(q) => serde_json::from_str::<String>(&format!("\"{q}\""))
            .map_err(|e| format!("{value}: {e}"))?,
        None => value.to_string(),
    };
    let m = Matcher::new(ty, name, &value).map_err(|e| e.to_string())?;
    Ok((path, m))
}

/// An event's field as text: strings as they are, other JSON as written, missing "".
fn field(e: &Event, path: &[String]) -> String {
    let first = path.first().map(String::as_str).unwrap_or("");
    let mut v = match first {
        "host" if path.len() == 1 => return e.host.clone(),
        "type" if path.len() == 1 => return e.kind.clone(),
        "ts" if path.len() == 1 => return e.ts.to_string(),
        _ => match e.payload.get(first) {
            Some(v) => v,
            None => return String::new(),
        },
    };
    for p in &path[1..] {
        match v.get(p) {
            Some(next) => v = next,
            None => return String::new(),
        }
    }
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl EventRule {
    /// Compiles an API rule with `event`; errors name the field.
    pub fn compile(
        id: &str,
        input: &RuleInput,
        m: &EventMatch,
    ) -> Result<EventRule, RuleInputError> {
        if input.name.is_empty() {
            return Err(bad("name", "required"));
        }
        if !argus_queue::valid_name(&m.event_type) {
            return Err(bad(
                "event.type",
                format!(
                    "{:?} is not an event type (1 to 64 of [a-z0-9_-])",
                    m.event_type
                ),
            ));
        }
        for (f, what) in [
            (input.for_.is_some(), "for"),
            (input.keep_firing_for.is_some(), "keep_firing_for"),
            (input.interval.is_some(), "interval"),
        ] {
            if f {
                return Err(bad(
                    what,
                    "not for event rules: an event alert fires at once and ends resolve_after its last event",
                ));
            }
        }
        let matchers = m
            .matchers
            .iter()
            .enumerate()
            .map(|(i, s)| parse_match(s).map_err(|e| bad(&format!("event.match[{i}]"), e)))
            .collect::<Result<Vec<_>, _>>()?;
        let labels_from = m
            .labels_from
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let path = field_path(f).ok_or_else(|| {
                    bad(
                        &format!("event.labels_from[{i}]"),
                        format!("{f:?} is not a field name"),
                    )
                })?;
                // The label is named as the field's last part, `-` as `_`.
                let label = path.last().cloned().unwrap_or_default().replace('-', "_");
                if label.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
                    return Err(bad(
                        &format!("event.labels_from[{i}]"),
                        format!("{f:?} cannot name a label (it starts with a digit)"),
                    ));
                }
                Ok((label, path))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for k in input.labels.keys() {
            if field_path(k).is_none() || k.contains(['.', '-']) {
                return Err(bad("labels", format!("{k:?} is not a label name")));
            }
        }
        let annotations = input
            .annotations
            .iter()
            .map(|(k, text)| {
                let full = format!("{{{{$labels := .Labels}}}}{{{{$event := .Event}}}}{text}");
                Template::parse_named(&format!("__event_{}", input.name), &full)
                    .map(|t| (k.clone(), t))
                    .map_err(|e| bad(&format!("annotations.{k}"), e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let resolve_after_ms = match &m.resolve_after {
            None => DEFAULT_RESOLVE_AFTER_MS,
            Some(d) => {
                let d = argus_template::duration::PromDuration::parse(d)
                    .map_err(|e| bad("event.resolve_after", e.to_string()))?;
                if d.0 <= 0 {
                    return Err(bad("event.resolve_after", "must be more than 0"));
                }
                d.0
            }
        };
        Ok(EventRule {
            id: id.to_string(),
            name: input.name.clone(),
            event_type: m.event_type.clone(),
            matchers,
            labels_from,
            labels: input.labels.clone(),
            annotations,
            resolve_after_ms,
        })
    }

    /// Whether `e` is of the rule's type and every matcher matches its fields.
    pub fn matches(&self, e: &Event) -> bool {
        e.kind == self.event_type
            && self
                .matchers
                .iter()
                .all(|(path, m)| m.matches(&field(e, path)))
    }

    /// The alert `e` raises (it matches).
    pub fn alert(&self, e: &Event, external_url: &str) -> PostableAlert {
        let mut labels: BTreeMap<String, String> = BTreeMap::new();
        labels.insert("alertname".into(), self.name.clone());
        labels.insert("event_type".into(), e.kind.clone());
        if !e.host.is_empty() {
            labels.insert("host".into(), e.host.clone());
        }
        for (label, path) in &self.labels_from {
            labels.insert(label.clone(), field(e, path));
        }
        for (k, v) in &self.labels {
            labels.insert(k.clone(), v.clone());
        }
        let mut event = serde_json::Map::new();
        event.insert("type".into(), e.kind.clone().into());
        event.insert("host".into(), e.host.clone().into());
        event.insert("ts".into(), e.ts.into());
        for (k, v) in &e.payload {
            event.insert(k.clone(), v.clone());
        }
        let data = Value::from_json(&serde_json::json!({
            "Labels": labels,
            "Event": event,
        }));
        let ctx = Context {
            data,
            external_url,
            query: None,
        };
        let annotations = self
            .annotations
            .iter()
            .map(|(k, t)| (k.clone(), t.render(&ctx)))
            .collect();
        let at = |ms: i64| jiff::Timestamp::from_millisecond(ms).ok();
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("type", &e.kind)
            .append_pair("host", &e.host)
            .finish();
        PostableAlert {
            labels,
            annotations,
            starts_at: at(e.ts),
            ends_at: at(e.ts.saturating_add(self.resolve_after_ms)),
            generator_url: format!("{external_url}/api/argus/events?{query}"),
        }
    }
}

/// Checks an API rule as it will run: an event rule compiled here, any other as the
/// group it becomes.
pub fn check(id: &str, input: &RuleInput) -> Result<(), RuleInputError> {
    match &input.event {
        Some(m) => {
            if input.kind == super::api_rules::Kind::Record {
                return Err(bad(
                    "kind",
                    "an event rule raises alerts; it records nothing",
                ));
            }
            EventRule::compile(id, input, m).map(|_| ())
        }
        None => input.compile(id).map(|_| ()),
    }
}

/// The event rules in force, shared by the alerting layer (which reloads them) and the
/// consumers (which match events against them).
#[derive(Default)]
pub struct EventRules {
    rules: RwLock<Arc<Vec<EventRule>>>,
    external_url: String,
}

impl EventRules {
    pub fn new(external_url: &str) -> EventRules {
        EventRules {
            rules: RwLock::new(Arc::new(Vec::new())),
            external_url: external_url.to_string(),
        }
    }

    pub fn replace(&self, rules: Vec<EventRule>) {
        *self.rules.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(rules);
    }

    /// The external URL alerts link back to.
    pub fn external_url(&self) -> &str {
        &self.external_url
    }

    pub fn list(&self) -> Arc<Vec<EventRule>> {
        self.rules.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The alerts `events` raise, one per matching rule and event.
    pub fn alerts(&self, events: &[Event]) -> Vec<PostableAlert> {
        let rules = self.list();
        if rules.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for e in events {
            for r in rules.iter().filter(|r| r.matches(e)) {
                out.push(r.alert(e, &self.external_url));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: serde_json::Value) -> Event {
        serde_json::from_value(json).unwrap_or_else(|e| panic!("{e}"))
    }

    fn rule(m: serde_json::Value) -> Result<EventRule, RuleInputError> {
        let input: RuleInput = serde_json::from_value(m).unwrap_or_else(|e| panic!("{e}"));
        let em = input.event.clone().unwrap_or_default();
        EventRule::compile("r1", &input, &em)
    }

    #[test]
    fn matching_events_raise_alerts_with_labels_and_annotations() {
        let r = rule(serde_json::json!({
            "name": "DiskFull",
            "event": {
                "type": "alarm",
                "match": ["code=disk_full", "detail.severity=~crit|warn", "message!~\".*test.*\""],
                "labels_from": ["detail.mount"],
                "resolve_after": "10m"
            },
            "labels": {"severity": "page"},
            "annotations": {"summary": "{{ $labels.host }} {{ $labels.mount }}: {{ $event.message }} ({{ $event.detail.used }}%)"}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let e = event(serde_json::json!({
            "type": "alarm", "host": "db1", "ts": 1_700_000_000_000i64,
            "code": "disk_full", "message": "磁盘已满", "detail": {"severity": "crit", "mount": "/data", "used": 97}
        }));
        assert!(r.matches(&e));
        let a = r.alert(&e, "http://argus:8080");
        let labels: Vec<(&str, &str)> = a
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            labels,
            vec![
                ("alertname", "DiskFull"),
                ("event_type", "alarm"),
                ("host", "db1"),
                ("mount", "/data"),
                ("severity", "page")
            ]
        );
        assert_eq!(a.annotations["summary"], "db1 /data: 磁盘已满 (97%)");
        assert_eq!(
            a.ends_at.map(|t| t.as_millisecond()),
            Some(1_700_000_000_000 + 600_000)
        );
        assert_eq!(
            a.generator_url,
            "http://argus:8080/api/argus/events?type=alarm&host=db1"
        );
        let other = |j: serde_json::Value| !r.matches(&event(j));
        assert!(other(
            serde_json::json!({"type": "log", "host": "db1", "ts": 1, "code": "disk_full", "detail": {"severity": "crit"}})
        ));
        assert!(other(
            serde_json::json!({"type": "alarm", "host": "db1", "ts": 1, "code": "disk_ok", "detail": {"severity": "crit"}})
        ));
        assert!(other(
            serde_json::json!({"type": "alarm", "host": "db1", "ts": 1, "code": "disk_full", "detail": {"severity": "info"}})
        ));
        assert!(other(
            serde_json::json!({"type": "alarm", "host": "db1", "ts": 1, "code": "disk_full", "message": "a test", "detail": {"severity": "crit"}})
        ));
        let rules = EventRules::new("");
        rules.replace(vec![r]);
        assert_eq!(rules.alerts(&[e.clone(), e]).len(), 2);
    }

    #[test]
    fn bad_event_rules_name_the_field() {
        let field = |j: serde_json::Value| rule(j).err().map(|e| e.field).unwrap_or_default();
        assert_eq!(
            field(serde_json::json!({"name": "X", "event": {"type": "Bad Type"}})),
            "event.type"
        );
        assert_eq!(
            field(serde_json::json!({"name": "X", "event": {"type": "alarm", "match": ["code"]}})),
            "event.match[0]"
        );
        assert_eq!(
            field(serde_json::json!({"name": "X", "event": {"type": "alarm", "match": ["a=~("]}})),
            "event.match[0]"
        );
        assert_eq!(
            field(
                serde_json::json!({"name": "X", "event": {"type": "alarm", "labels_from": ["a..b"]}})
            ),
            "event.labels_from[0]"
        );
        assert_eq!(
            field(
                serde_json::json!({"name": "X", "event": {"type": "alarm", "resolve_after": "soon"}})
            ),
            "event.resolve_after"
        );
        assert_eq!(
            field(serde_json::json!({"name": "X", "for": "5m", "event": {"type": "alarm"}})),
            "for"
        );
        assert_eq!(
            field(
                serde_json::json!({"name": "X", "event": {"type": "alarm"}, "annotations": {"s": "{{ $event.x "}})
            ),
            "annotations.s"
        );
        assert_eq!(
            field(serde_json::json!({"name": "", "event": {"type": "alarm"}})),
            "name"
        );
    }
}
