//! `type = "rename"`: renames measurements, fields and tags by exact name.
//!
//! Each list is applied in order, so `a → b` followed by `b → c` renames `a` to `c`. A
//! field or tag renamed onto a name the point already has replaces it (the renamed value
//! wins), so a point never carries the same key twice.

use super::{Scope, deserialize_scope};
use crate::processor::Processor;
use argus_core::line_protocol::Line;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// `[[agent.processors]]` with `type = "rename"`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Glob of the measurements to act on (matched before renaming); empty: all.
    #[serde(deserialize_with = "deserialize_scope")]
    pub measurement: String,
    /// Measurement renames, `{ from = "exact name", to = "new name" }`.
    pub measurements: Vec<RenameRule>,
    /// Field renames.
    pub fields: Vec<RenameRule>,
    /// Tag (label) renames.
    pub tags: Vec<RenameRule>,
}

/// One rename: the exact old name and the new one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameRule {
    pub from: String,
    pub to: String,
}

/// The built processor.
pub struct Rename {
    scope: Scope,
    config: Config,
}

impl Rename {
    pub fn build(config: &Config) -> anyhow::Result<Self> {
        for (list, rules) in [
            ("measurements", &config.measurements),
            ("fields", &config.fields),
            ("tags", &config.tags),
        ] {
            for (i, r) in rules.iter().enumerate() {
                if r.from.is_empty() || r.to.is_empty() {
                    anyhow::bail!("{list}[{i}]: `from` and `to` must both be set");
                }
            }
        }
        Ok(Rename {
            scope: Scope::build(&config.measurement)?,
            config: config.clone(),
        })
    }
}

/// Renames `from` to `to` among `pairs`, dropping any other pair already named `to`.
fn rename_key<V>(pairs: &mut Vec<(Cow<'static, str>, V)>, rule: &RenameRule) {
    if !pairs.iter().any(|(k, _)| *k == rule.from) {
        return;
    }
    pairs.retain(|(k, _)| *k != rule.to);
    for (k, _) in pairs.iter_mut() {
        if *k == rule.from {
            *k = Cow::Owned(rule.to.clone());
        }
    }
}

impl Processor for Rename {
    fn name(&self) -> &str {
        "rename"
    }

    fn process(&mut self, points: &mut Vec<Line<'static>>) {
        for p in self.scope.points_mut(points) {
            for rule in &self.config.measurements {
                if p.measurement == rule.from {
                    p.measurement = Cow::Owned(rule.to.clone());
                }
            }
            for rule in &self.config.fields {
                rename_key(&mut p.fields, rule);
            }
            for rule in &self.config.tags {
                rename_key(&mut p.tags, rule);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{points, text};
    use super::*;

    fn rule(from: &str, to: &str) -> RenameRule {
        RenameRule {
            from: from.into(),
            to: to.into(),
        }
    }

    fn run(config: Config, input: &str) -> String {
        let mut p = Rename::build(&config).expect("build");
        let mut pts = points(input);
        p.process(&mut pts);
        text(&pts)
    }

    #[test]
    fn renames_measurements_fields_and_tags_by_exact_name() {
        let config = Config {
            measurements: vec![rule("net", "network")],
            fields: vec![rule("bytes_recv", "rx_bytes"), rule("bytes", "never")],
            tags: vec![rule("interface", "iface")],
            ..Config::default()
        };
        assert_eq!(
            run(
                config,
                "net,interface=eth0 bytes_recv=10u,bytes_sent=20u 5\nnetstat tcp=1i 5\n"
            ),
            "network,iface=eth0 rx_bytes=10u,bytes_sent=20u 5\nnetstat tcp=1i 5\n"
        );
    }

    #[test]
    fn rules_chain_in_order_and_a_renamed_key_replaces_an_existing_one() {
        let config = Config {
            measurements: vec![rule("a", "b"), rule("b", "c")],
            fields: vec![rule("x", "y")],
            tags: vec![rule("t1", "t2")],
            ..Config::default()
        };
        assert_eq!(
            run(config, "a,t1=one,t2=two x=1.0,y=2.0 1\n"),
            "c,t2=one y=1.0 1\n"
        );
    }

    #[test]
    fn the_scope_limits_which_points_change() {
        let config = Config {
            measurement: "disk*".into(),
            fields: vec![rule("used", "used_bytes")],
            ..Config::default()
        };
        assert_eq!(
            run(config, "disk used=1i 1\ndiskio used=2i 1\nmem used=3i 1\n"),
            "disk used_bytes=1i 1\ndiskio used_bytes=2i 1\nmem used=3i 1\n"
        );
    }

    #[test]
    fn empty_names_are_rejected() {
        let config = Config {
            tags: vec![rule("a", "")],
            ..Config::default()
        };
        let err = Rename::build(&config).err().expect("error").to_string();
        assert_eq!(err, "tags[0]: `from` and `to` must both be set");
    }
}
