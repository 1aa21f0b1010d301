//! The agent's local alarm rules, registered in [`build_alarms`].
//!
//! An **alarm rule** (`[[agent.alarms]]`) compares one field of the points of one
//! measurement with a threshold, every round, separately for each **series** (each set of
//! tag values): `disk used_percent >= 90` fires for `/data` without firing for `/`. A
//! series fires after the condition held `for_count` rounds in a row in which it was
//! reported, and resolves the first round it no longer holds. Each change raises an
//! [`Event`](argus_core::Event) of type `alarm` (see [`threshold`] for its shape), which the
//! runtime sends with the round's points. User docs: `docs/plugins/alarms.md`.

pub mod template;
pub mod threshold;

use crate::alarm::Alarm;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One `[[agent.alarms]]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmConfig {
    /// The rule's name, unique among the agent's alarms.
    pub name: String,
    /// The event's `code`; empty (the default): the name.
    #[serde(default)]
    pub code: String,
    /// Glob of the measurements the rule looks at (`"disk"`, `"ping"`).
    pub measurement: String,
    /// Glob of the field keys compared (`"used_percent"`); string fields are ignored and
    /// booleans read as 1 and 0.
    pub field: String,
    /// The comparison: `>`, `>=`, `<`, `<=`, `==` or `!=`.
    pub op: Op,
    /// What the field is compared with.
    pub threshold: f64,
    /// `{ tag = "glob" }`: only points whose tags all match (an absent tag reads as empty).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// How many rounds in a row the condition must hold before the alarm fires.
    #[serde(default = "default_for_count")]
    pub for_count: u32,
    /// The event's `info` text, with `{value}`, `{threshold}`, `{op}`, `{measurement}`,
    /// `{field}`, `{name}`, `{code}` and `{tags.<tag>}`; empty: [`DEFAULT_INFO`].
    #[serde(default)]
    pub info: String,
    /// Whether to raise a `resolved` event when a firing series clears.
    #[serde(default = "default_true")]
    pub recover: bool,
    /// Seconds after which a series no longer reported is forgotten (resolving it if it
    /// was firing, with `more.stale = true`); 0: never.
    #[serde(default = "default_forget_after_secs")]
    pub forget_after_secs: u64,
}

/// The `info` of a rule that sets none.
pub const DEFAULT_INFO: &str = "{name}: {measurement} {field} is {value} ({op} {threshold})";

fn default_for_count() -> u32 {
    1
}
fn default_true() -> bool {
    true
}
fn default_forget_after_secs() -> u64 {
    3600
}

impl Default for AlarmConfig {
    fn default() -> Self {
        AlarmConfig {
            name: String::new(),
            code: String::new(),
            measurement: String::new(),
            field: String::new(),
            op: Op::Gt,
            threshold: 0.0,
            tags: BTreeMap::new(),
            for_count: default_for_count(),
            info: String::new(),
            recover: true,
            forget_after_secs: default_forget_after_secs(),
        }
    }
}

/// A comparison operator, written as in the config.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[default]
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }

    /// Whether `value op threshold` holds; never for NaN.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        if value.is_nan() {
            return false;
        }
        match self {
            Op::Gt => value > threshold,
            Op::Ge => value >= threshold,
            Op::Lt => value < threshold,
            Op::Le => value <= threshold,
            Op::Eq => value == threshold,
            Op::Ne => value != threshold,
        }
    }
}

/// Builds the alarm rules in config order. An error names the table, as in
/// `agent.alarms[1] ("disk full"): info: unknown placeholder …`.
pub fn build_alarms(configs: &[AlarmConfig]) -> anyhow::Result<Vec<Box<dyn Alarm>>> {
    let mut alarms: Vec<Box<dyn Alarm>> = Vec::with_capacity(configs.len());
    for (i, c) in configs.iter().enumerate() {
        if let Some(j) = configs[..i].iter().position(|o| o.name == c.name) {
            anyhow::bail!(
                "agent.alarms[{i}]: name {:?} is already used by agent.alarms[{j}]",
                c.name
            );
        }
        let alarm = threshold::Threshold::build(c)
            .map_err(|e| anyhow::anyhow!("agent.alarms[{i}] ({:?}): {e:#}", c.name))?;
        alarms.push(Box::new(alarm));
    }
    Ok(alarms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processors::testutil::doc_examples;

    fn parse(text: &str) -> Result<Vec<AlarmConfig>, toml::de::Error> {
        crate::processors::testutil::agent_section(text).map(|a| a.alarms)
    }

    #[test]
    fn every_example_in_the_docs_parses_and_builds() {
        let page = include_str!("../../../../docs/plugins/alarms.md");
        for (block, agent) in doc_examples(page, 2) {
            build_alarms(&agent.alarms).unwrap_or_else(|e| panic!("{e}\n{block}"));
        }
    }

    #[test]
    fn defaults_fill_the_optional_keys() {
        let configs = parse(
            r#"
            [[agent.alarms]]
            name = "ping lost"
            measurement = "ping"
            field = "percent_packet_loss"
            op = ">="
            threshold = 100
            "#,
        )
        .expect("parse");
        assert_eq!(
            configs,
            [AlarmConfig {
                name: "ping lost".into(),
                measurement: "ping".into(),
                field: "percent_packet_loss".into(),
                op: Op::Ge,
                threshold: 100.0,
                ..AlarmConfig::default()
            }]
        );
        assert_eq!(configs[0].for_count, 1);
        assert!(configs[0].recover);
    }

    #[test]
    fn config_errors_are_clear() {
        let err = parse(
            "[[agent.alarms]]\nname = \"x\"\nmeasurement = \"m\"\nfield = \"f\"\nop = \"=>\"\nthreshold = 1\n",
        )
        .expect_err("bad op")
        .to_string();
        assert!(err.contains("unknown variant `=>`"), "{err}");
        assert!(err.contains("`>=`"), "{err}");
        let err = parse(
            "[[agent.alarms]]\nname = \"x\"\nmeasurement = \"m\"\nfield = \"f\"\nop = \">\"\n",
        )
        .expect_err("no threshold")
        .to_string();
        assert!(err.contains("missing field `threshold`"), "{err}");
        let err = parse(
            "[[agent.alarms]]\nname = \"x\"\nmeasurement = \"m\"\nfield = \"f\"\nop = \">\"\nthreshold = 1\nfor = 3\n",
        )
        .expect_err("unknown key")
        .to_string();
        assert!(err.contains("unknown field `for`"), "{err}");

        let rule = |name: &str, info: &str| AlarmConfig {
            name: name.into(),
            measurement: "m".into(),
            field: "f".into(),
            info: info.into(),
            ..AlarmConfig::default()
        };
        let err = build_alarms(&[rule("a", ""), rule("b", "{valeu}")])
            .err()
            .expect("bad template")
            .to_string();
        assert!(
            err.starts_with("agent.alarms[1] (\"b\"): info: unknown placeholder `{valeu}`"),
            "{err}"
        );
        let err = build_alarms(&[rule("a", ""), rule("a", "")])
            .err()
            .expect("duplicate")
            .to_string();
        assert_eq!(
            err,
            "agent.alarms[1]: name \"a\" is already used by agent.alarms[0]"
        );
    }

    #[test]
    fn operators_compare_as_written() {
        let cases = [
            (Op::Gt, [false, false, true]),
            (Op::Ge, [false, true, true]),
            (Op::Lt, [true, false, false]),
            (Op::Le, [true, true, false]),
            (Op::Eq, [false, true, false]),
            (Op::Ne, [true, false, true]),
        ];
        for (op, expected) in cases {
            let got = [9.0, 10.0, 11.0].map(|v| op.holds(v, 10.0));
            assert_eq!(got, expected, "{}", op.as_str());
            assert!(!op.holds(f64::NAN, 10.0));
        }
    }
}
