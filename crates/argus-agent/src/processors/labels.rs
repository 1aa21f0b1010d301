//! `type = "labels"`: adds, rewrites and drops tags (which become the series' labels).
//!
//! The three steps run in this order on each point: **add** constant tags, **rewrite**
//! tags with regexes, **drop** tags. So a rewrite can derive a tag from one that is then
//! dropped. A **rewrite** works like a Prometheus relabel `replace` action: the regex is
//! anchored at both ends and matched against the source tag's value (an absent tag reads
//! as empty); on a match the target tag is set to the replacement with `$1`, `${name}`
//! expanded from the regex's groups, and an empty result removes the target; without a
//! match the point is left as it was.

use super::{Scope, deserialize_scope};
use crate::glob::{self, Glob};
use crate::processor::Processor;
use argus_core::line_protocol::Line;
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// `[[agent.processors]]` with `type = "labels"`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Glob of the measurements to act on; empty: all.
    #[serde(deserialize_with = "deserialize_scope")]
    pub measurement: String,
    /// Tags to add, `{ name = "value" }`; a point that already has the tag keeps its own
    /// value unless `overwrite` is set.
    pub add: BTreeMap<String, String>,
    /// Whether `add` replaces a tag the point already has.
    pub overwrite: bool,
    /// Tags to remove: names or globs (`"fs*"`).
    pub drop: Vec<String>,
    /// Regex rewrites, applied in order.
    pub rewrite: Vec<Rewrite>,
}

/// One rewrite: `{ tag = "path", regex = "/mnt/(.*)", replacement = "$1" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rewrite {
    /// The tag whose value the regex is matched against.
    pub tag: String,
    /// A regex (Rust `regex` syntax) that must match the whole value.
    pub regex: String,
    /// The new value, with `$1`, `$2`, `${name}` for the regex's groups. Default `$1`.
    #[serde(default = "default_replacement")]
    pub replacement: String,
    /// The tag to set; empty (the default): `tag` itself.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
}

impl Default for Rewrite {
    fn default() -> Self {
        Rewrite {
            tag: String::new(),
            regex: String::new(),
            replacement: default_replacement(),
            target: String::new(),
        }
    }
}

fn default_replacement() -> String {
    "$1".to_string()
}

struct CompiledRewrite {
    tag: String,
    regex: Regex,
    replacement: String,
    target: String,
}

/// The built processor.
pub struct Labels {
    scope: Scope,
    add: Vec<(String, String)>,
    overwrite: bool,
    drop: Vec<Glob>,
    rewrite: Vec<CompiledRewrite>,
}

impl Labels {
    pub fn build(config: &Config) -> anyhow::Result<Self> {
        for (k, v) in &config.add {
            if k.is_empty() || v.is_empty() {
                anyhow::bail!(
                    "add: tag {k:?} = {v:?}: names and values must not be empty (an empty value is no label)"
                );
            }
        }
        let mut rewrite = Vec::with_capacity(config.rewrite.len());
        for (i, r) in config.rewrite.iter().enumerate() {
            if r.tag.is_empty() {
                anyhow::bail!("rewrite[{i}]: `tag` must be set");
            }
            let regex = Regex::new(&format!("^(?:{})$", r.regex))
                .map_err(|e| anyhow::anyhow!("rewrite[{i}]: invalid regex {:?}: {e}", r.regex))?;
            rewrite.push(CompiledRewrite {
                tag: r.tag.clone(),
                regex,
                replacement: r.replacement.clone(),
                target: if r.target.is_empty() {
                    r.tag.clone()
                } else {
                    r.target.clone()
                },
            });
        }
        Ok(Labels {
            scope: Scope::build(&config.measurement)?,
            add: config
                .add
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            overwrite: config.overwrite,
            drop: Glob::many(&config.drop),
            rewrite,
        })
    }
}

type Tags = Vec<(Cow<'static, str>, Cow<'static, str>)>;

/// Sets tag `key` to `value`, replacing the first tag of that name and removing others.
fn set_tag(tags: &mut Tags, key: &str, value: String) {
    let mut value = Some(value);
    tags.retain_mut(|(k, v)| {
        if *k != key {
            return true;
        }
        match value.take() {
            Some(new) => {
                *v = Cow::Owned(new);
                true
            }
            None => false,
        }
    });
    if let Some(new) = value {
        tags.push((Cow::Owned(key.to_string()), Cow::Owned(new)));
    }
}

impl Processor for Labels {
    fn name(&self) -> &str {
        "labels"
    }

    fn process(&mut self, points: &mut Vec<Line<'static>>) {
        let mut expanded = String::new();
        for p in self.scope.points_mut(points) {
            for (k, v) in &self.add {
                if self.overwrite || !p.tags.iter().any(|(tk, _)| tk == k) {
                    set_tag(&mut p.tags, k, v.clone());
                }
            }
            for r in &self.rewrite {
                let source = p
                    .tags
                    .iter()
                    .find(|(k, _)| *k == r.tag)
                    .map_or("", |(_, v)| v.as_ref());
                let Some(caps) = r.regex.captures(source) else {
                    continue;
                };
                expanded.clear();
                caps.expand(&r.replacement, &mut expanded);
                if expanded.is_empty() {
                    p.tags.retain(|(k, _)| *k != r.target);
                } else {
                    set_tag(&mut p.tags, &r.target, expanded.clone());
                }
            }
            if !self.drop.is_empty() {
                p.tags.retain(|(k, _)| !glob::any(&self.drop, k));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{points, text};
    use super::*;

    fn run(config: Config, input: &str) -> String {
        let mut p = Labels::build(&config).expect("build");
        let mut pts = points(input);
        p.process(&mut pts);
        text(&pts)
    }

    fn rewrite(tag: &str, regex: &str, replacement: &str) -> Rewrite {
        Rewrite {
            tag: tag.into(),
            regex: regex.into(),
            replacement: replacement.into(),
            target: String::new(),
        }
    }

    #[test]
    fn add_keeps_existing_tags_unless_overwrite() {
        let config = Config {
            add: BTreeMap::from([("env".into(), "prod".into()), ("dc".into(), "eu1".into())]),
            ..Config::default()
        };
        assert_eq!(
            run(config.clone(), "cpu,env=dev usage=1.0 1\ncpu usage=2.0 1\n"),
            "cpu,env=dev,dc=eu1 usage=1.0 1\ncpu,dc=eu1,env=prod usage=2.0 1\n"
        );
        let config = Config {
            overwrite: true,
            ..config
        };
        assert_eq!(
            run(config, "cpu,env=dev usage=1.0 1\n"),
            "cpu,env=prod,dc=eu1 usage=1.0 1\n"
        );
    }

    #[test]
    fn drop_removes_tags_by_name_or_glob() {
        let config = Config {
            drop: vec!["fstype".into(), "mode*".into()],
            ..Config::default()
        };
        assert_eq!(
            run(
                config,
                "disk,path=/,fstype=ext4,mode=rw,model=x,device=sda free=1i 1\n"
            ),
            "disk,path=/,device=sda free=1i 1\n"
        );
    }

    #[test]
    fn rewrite_is_anchored_and_expands_groups_like_prometheus_relabel() {
        let config = Config {
            rewrite: vec![
                rewrite("path", "/mnt/(.*)", "mnt-$1"),
                // Anchored: "sda1" does not match "sd[a-z]".
                rewrite("device", "sd[a-z]", "scsi"),
                rewrite("device", "(?P<kind>nvme)[0-9]+n[0-9]+", "${kind}"),
            ],
            ..Config::default()
        };
        assert_eq!(
            run(
                config,
                "disk,path=/mnt/data,device=sda1 free=1i 1\n\
                 disk,path=/home,device=nvme0n1 free=2i 1\n"
            ),
            "disk,path=mnt-data,device=sda1 free=1i 1\n\
             disk,path=/home,device=nvme free=2i 1\n"
        );
    }

    #[test]
    fn rewrite_to_a_target_and_empty_results_remove_the_target() {
        let config = Config {
            rewrite: vec![
                Rewrite {
                    target: "volume".into(),
                    ..rewrite("path", "/mnt/([^/]+).*", "$1")
                },
                // An absent source reads as "", so this sets `source` only when `path`
                // is missing...
                Rewrite {
                    target: "source".into(),
                    ..rewrite("path", "", "unknown")
                },
                // ...and an empty replacement deletes the tag.
                rewrite("mode", "ro", ""),
            ],
            drop: vec!["path".into()],
            ..Config::default()
        };
        assert_eq!(
            run(
                config,
                "disk,path=/mnt/data/x,mode=ro free=1i 1\ndisk,mode=rw free=2i 1\n"
            ),
            "disk,volume=data free=1i 1\ndisk,mode=rw,source=unknown free=2i 1\n"
        );
    }

    #[test]
    fn the_example_in_the_docs_does_what_they_say() {
        let config: Config = toml::from_str(
            r#"
            measurement = "disk"
            add = { team = "storage", env = "prod" }
            drop = ["fstype", "mode"]
            rewrite = [
              { tag = "path", regex = "/mnt/([^/]+).*", replacement = "$1", target = "volume" },
              { tag = "device", regex = "(nvme[0-9]+n[0-9]+)p[0-9]+" },
            ]
            "#,
        )
        .expect("parse");
        assert_eq!(
            run(
                config,
                "disk,path=/mnt/data/backups,device=nvme0n1p2,fstype=ext4,mode=rw used_percent=41.5 1\n\
                 mem,fstype=x used=1i 1\n"
            ),
            "disk,path=/mnt/data/backups,device=nvme0n1,env=prod,team=storage,volume=data used_percent=41.5 1\n\
             mem,fstype=x used=1i 1\n"
        );
    }

    #[test]
    fn bad_config_is_rejected_with_the_reason() {
        let err = Labels::build(&Config {
            rewrite: vec![rewrite("path", "(", "$1")],
            ..Config::default()
        })
        .err()
        .expect("error")
        .to_string();
        assert!(
            err.starts_with("rewrite[0]: invalid regex \"(\": "),
            "{err}"
        );
        let err = Labels::build(&Config {
            add: BTreeMap::from([("env".into(), String::new())]),
            ..Config::default()
        })
        .err()
        .expect("error")
        .to_string();
        assert!(err.contains("must not be empty"), "{err}");
    }
}
