//! `type = "filter"`: keeps or drops points by measurement and tag values, and fields by
//! key.
//!
//! A point is dropped when its measurement is not in a non-empty `measurement_include`, is
//! in `measurement_exclude`, when `tag_include` is set and none of its tags match it, or
//! when any of its tags match `tag_exclude`. Of a point kept, only the fields in a
//! non-empty `field_include` and not in `field_exclude` are kept; a point left without
//! fields is dropped. Every name and value is matched with globs. As in Telegraf's
//! `tagpass`/`tagdrop`, a tag table matches a point when **any** of its tags has a value
//! matching one of that tag's globs.

use super::{Scope, deserialize_scope};
use crate::glob::{self, Glob, NameFilter};
use crate::processor::Processor;
use argus_core::line_protocol::Line;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `[[agent.processors]]` with `type = "filter"`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Glob of the measurements this filter looks at; others pass untouched. Empty: all.
    #[serde(deserialize_with = "deserialize_scope")]
    pub measurement: String,
    /// Keep only points whose measurement matches one of these globs; empty: all.
    pub measurement_include: Vec<String>,
    /// Drop points whose measurement matches one of these globs.
    pub measurement_exclude: Vec<String>,
    /// Keep only fields whose key matches one of these globs; empty: all.
    pub field_include: Vec<String>,
    /// Drop fields whose key matches one of these globs.
    pub field_exclude: Vec<String>,
    /// `{ tag = ["glob", ...] }`: keep only points with at least one of these tags
    /// matching; empty: all.
    pub tag_include: BTreeMap<String, Vec<String>>,
    /// `{ tag = ["glob", ...] }`: drop points with any of these tags matching.
    pub tag_exclude: BTreeMap<String, Vec<String>>,
}

/// The built processor.
pub struct Filter {
    scope: Scope,
    measurements: NameFilter,
    fields: NameFilter,
    tag_include: Vec<(String, Vec<Glob>)>,
    tag_exclude: Vec<(String, Vec<Glob>)>,
}

fn tag_globs(table: &BTreeMap<String, Vec<String>>) -> Vec<(String, Vec<Glob>)> {
    table
        .iter()
        .map(|(tag, patterns)| (tag.clone(), Glob::many(patterns)))
        .collect()
}

/// Whether any tag of `p` named in `table` has a value matching one of its globs.
fn tags_match(table: &[(String, Vec<Glob>)], p: &Line<'_>) -> bool {
    table
        .iter()
        .any(|(tag, globs)| p.tags.iter().any(|(k, v)| k == tag && glob::any(globs, v)))
}

impl Filter {
    pub fn build(config: &Config) -> anyhow::Result<Self> {
        Ok(Filter {
            scope: Scope::build(&config.measurement)?,
            measurements: NameFilter::new(&config.measurement_include, &config.measurement_exclude),
            fields: NameFilter::new(&config.field_include, &config.field_exclude),
            tag_include: tag_globs(&config.tag_include),
            tag_exclude: tag_globs(&config.tag_exclude),
        })
    }

    /// Whether the filter keeps point `p`, after removing the fields it does not keep.
    fn keep(&self, p: &mut Line<'static>) -> bool {
        if !self.scope.applies_to(&p.measurement) {
            return true;
        }
        if !self.measurements.keeps(&p.measurement) {
            return false;
        }
        if !self.tag_include.is_empty() && !tags_match(&self.tag_include, p) {
            return false;
        }
        if tags_match(&self.tag_exclude, p) {
            return false;
        }
        if !self.fields.keeps_all() {
            p.fields.retain(|(k, _)| self.fields.keeps(k));
        }
        !p.fields.is_empty()
    }
}

impl Processor for Filter {
    fn name(&self) -> &str {
        "filter"
    }

    fn process(&mut self, points: &mut Vec<Line<'static>>) {
        points.retain_mut(|p| self.keep(p));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{points, text};
    use super::*;

    fn run(config: Config, input: &str) -> String {
        let mut p = Filter::build(&config).expect("build");
        let mut pts = points(input);
        p.process(&mut pts);
        text(&pts)
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    // The input points one by one, so that an expected output can name the points it
    // keeps unchanged.
    const CPU0: &str = "cpu,cpu=cpu0 usage_user=1.0,usage_idle=99.0 1\n";
    const CPU_TOTAL: &str = "cpu,cpu=cpu-total usage_user=2.0,usage_idle=98.0 1\n";
    const DISK_ROOT: &str = "disk,path=/,fstype=ext4 used=1i,free=2i 1\n";
    const DISK_RUN: &str = "disk,path=/run,fstype=tmpfs used=3i,free=4i 1\n";
    const MEM: &str = "mem used=5i 1\n";
    const INPUT: [&str; 5] = [CPU0, CPU_TOTAL, DISK_ROOT, DISK_RUN, MEM];

    #[test]
    fn measurement_include_and_exclude() {
        let config = Config {
            measurement_include: strings(&["cpu", "d*"]),
            ..Config::default()
        };
        assert_eq!(
            run(config, &INPUT.concat()),
            [CPU0, CPU_TOTAL, DISK_ROOT, DISK_RUN].concat()
        );
        let config = Config {
            measurement_exclude: strings(&["disk", "cpu"]),
            ..Config::default()
        };
        assert_eq!(run(config, &INPUT.concat()), MEM);
    }

    #[test]
    fn tag_include_and_exclude_match_any_listed_tag() {
        let config = Config {
            tag_include: BTreeMap::from([
                ("cpu".into(), strings(&["cpu-total"])),
                ("fstype".into(), strings(&["ext*", "xfs"])),
            ]),
            ..Config::default()
        };
        assert_eq!(
            run(config, &INPUT.concat()),
            [CPU_TOTAL, DISK_ROOT].concat()
        );
        let config = Config {
            tag_exclude: BTreeMap::from([("fstype".into(), strings(&["tmpfs", "devtmpfs"]))]),
            ..Config::default()
        };
        assert_eq!(
            run(config, &INPUT.concat()),
            [CPU0, CPU_TOTAL, DISK_ROOT, MEM].concat()
        );
    }

    #[test]
    fn field_filters_and_points_left_without_fields_are_dropped() {
        let config = Config {
            field_include: strings(&["usage_*", "used"]),
            field_exclude: strings(&["*_idle"]),
            ..Config::default()
        };
        assert_eq!(
            run(config, &INPUT.concat()),
            "cpu,cpu=cpu0 usage_user=1.0 1\n\
             cpu,cpu=cpu-total usage_user=2.0 1\n\
             disk,path=/,fstype=ext4 used=1i 1\n\
             disk,path=/run,fstype=tmpfs used=3i 1\n\
             mem used=5i 1\n"
        );
        let config = Config {
            field_exclude: strings(&["used"]),
            ..Config::default()
        };
        assert_eq!(
            run(config, "mem used=5i 1\nmem used=6i,free=1i 2\n"),
            "mem free=1i 2\n"
        );
    }

    #[test]
    fn the_scope_lets_other_measurements_through() {
        let config = Config {
            measurement: "disk".into(),
            tag_include: BTreeMap::from([("path".into(), strings(&["/"]))]),
            field_exclude: strings(&["free"]),
            ..Config::default()
        };
        assert_eq!(
            run(config, &INPUT.concat()),
            [CPU0, CPU_TOTAL, "disk,path=/,fstype=ext4 used=1i 1\n", MEM].concat()
        );
    }
}
