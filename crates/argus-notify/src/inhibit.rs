//! Inhibition (Alertmanager's `inhibit/inhibit.go`).
//!
//! An **inhibition rule** mutes **target** alerts while a **source** alert fires: a target
//! (matching the target matchers) is muted when some unresolved source (matching the
//! source matchers) has the same value for every `equal` label, a label missing on both
//! sides counting as equal. When the target also matches the source side, sources that
//! also match the target side are ignored, so an alert never inhibits itself or its kin.
//! The check happens at flush time; the sources are every alert received, as in
//! Alertmanager's per-rule source cache.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::{alert::Alert, config::InhibitRuleConfig, labels::LabelSet, matcher::Matchers};

/// One resolved rule and the source alerts seen for it.
#[derive(Debug, Clone)]
pub struct InhibitRule {
    /// Source matchers.
    pub source: Matchers,
    /// Target matchers.
    pub target: Matchers,
    /// Labels that must be equal.
    pub equal: Vec<String>,
    sources: BTreeMap<u64, Alert>,
}

impl InhibitRule {
    /// Builds a rule from its configuration (all three matcher forms ANDed).
    pub fn new(cfg: &InhibitRuleConfig) -> Self {
        InhibitRule {
            source: cfg.sources(),
            target: cfg.targets(),
            equal: cfg.equal.clone(),
            sources: BTreeMap::new(),
        }
    }

    /// The first unresolved source that inhibits `labels`, by fingerprint.
    fn inhibited_by(
        &self,
        labels: &LabelSet,
        exclude_two_sided: bool,
        now: Timestamp,
    ) -> Option<u64> {
        self.sources.iter().find_map(|(fp, a)| {
            if a.resolved_at(now) {
                return None;
            }
            let equal = self.equal.iter().all(|n| a.labels.get(n) == labels.get(n));
            if !equal || (exclude_two_sided && self.target.matches(&a.labels)) {
                return None;
            }
            Some(*fp)
        })
    }
}

/// The inhibitor: every rule with its source cache.
#[derive(Debug, Clone, Default)]
pub struct Inhibitor {
    rules: Vec<InhibitRule>,
}

impl Inhibitor {
    /// An inhibitor over the configured rules.
    pub fn new(rules: &[InhibitRuleConfig]) -> Self {
        Inhibitor {
            rules: rules.iter().map(InhibitRule::new).collect(),
        }
    }

    /// Records a received alert (as stored after merging) as a source of every rule whose
    /// source side it matches.
    pub fn observe(&mut self, alert: &Alert) {
        for r in &mut self.rules {
            if r.source.matches(&alert.labels) {
                r.sources.insert(alert.fingerprint(), alert.clone());
            }
        }
    }

    /// The fingerprint of an alert muting `labels` at `now`, if any.
    pub fn inhibited_by(&self, labels: &LabelSet, now: Timestamp) -> Option<u64> {
        self.rules.iter().find_map(|r| {
            if !r.target.matches(labels) {
                return None;
            }
            r.inhibited_by(labels, r.source.matches(labels), now)
        })
    }

    /// Whether `labels` is muted at `now`.
    pub fn mutes(&self, labels: &LabelSet, now: Timestamp) -> bool {
        self.inhibited_by(labels, now).is_some()
    }

    /// Forgets resolved sources (Alertmanager's 15-minute cache GC).
    pub fn gc(&mut self, now: Timestamp) {
        for r in &mut self.rules {
            r.sources.retain(|_, a| !a.resolved_at(now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::Config, labels::label_set};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn inhibitor(rules: &str) -> Inhibitor {
        let y =
            format!("route: {{receiver: r}}\nreceivers: [{{name: r}}]\ninhibit_rules:\n{rules}");
        let cfg = Config::load(&y, "t.yml").unwrap_or_else(|e| panic!("{e}"));
        Inhibitor::new(&cfg.inhibit_rules)
    }

    fn alert(labels: &[(&str, &str)], end: &str) -> Alert {
        let t = ts("2024-01-01T00:00:00Z");
        Alert {
            labels: label_set(labels.iter().copied()),
            annotations: LabelSet::new(),
            starts_at: t,
            ends_at: Some(ts(end)),
            generator_url: String::new(),
            updated_at: t,
            timeout: false,
        }
    }

    const LATER: &str = "2024-01-01T01:00:00Z";

    #[test]
    fn critical_inhibits_warning_with_equal_labels() {
        let mut ih = inhibitor(
            "  - source_matchers: [severity=critical]\n    target_matchers: [severity=warning]\n    equal: [alertname, cluster]\n",
        );
        let now = ts("2024-01-01T00:10:00Z");
        ih.observe(&alert(
            &[
                ("alertname", "Down"),
                ("cluster", "a"),
                ("severity", "critical"),
            ],
            LATER,
        ));
        let warn = |c: &str| {
            label_set([
                ("alertname", "Down"),
                ("cluster", c),
                ("severity", "warning"),
            ])
        };
        assert!(ih.mutes(&warn("a"), now));
        assert!(!ih.mutes(&warn("b"), now));
        // A label missing on both sides counts as equal.
        let no_cluster = label_set([("alertname", "Down"), ("severity", "warning")]);
        assert!(!ih.mutes(&no_cluster, now));
        ih.observe(&alert(
            &[("alertname", "Down"), ("severity", "critical")],
            LATER,
        ));
        assert!(ih.mutes(&no_cluster, now));
        // Sources are not muted by their own rule's target side.
        assert!(!ih.mutes(
            &label_set([
                ("alertname", "Down"),
                ("cluster", "a"),
                ("severity", "critical")
            ]),
            now
        ));
        // Once the source resolves, nothing is muted.
        assert!(!ih.mutes(&warn("a"), ts("2024-01-01T02:00:00Z")));
    }

    #[test]
    fn old_form_and_two_sided_rules() {
        // Both sides match `alertname=~".+"`: an alert matching both never inhibits
        // another that matches both, but does inhibit a pure target.
        let mut ih = inhibitor(
            "  - source_match_re: {alertname: '.+'}\n    target_match: {team: x}\n    equal: [host]\n",
        );
        let now = ts("2024-01-01T00:10:00Z");
        ih.observe(&alert(
            &[("alertname", "A"), ("team", "x"), ("host", "h")],
            LATER,
        ));
        assert!(!ih.mutes(
            &label_set([("alertname", "B"), ("team", "x"), ("host", "h")]),
            now
        ));
        assert!(ih.mutes(&label_set([("team", "x"), ("host", "h")]), now));
        ih.observe(&alert(&[("alertname", "C"), ("host", "h")], LATER));
        assert!(ih.mutes(
            &label_set([("alertname", "B"), ("team", "x"), ("host", "h")]),
            now
        ));
        ih.gc(ts("2024-01-01T02:00:00Z"));
        assert!(ih.rules[0].sources.is_empty());
    }
}
