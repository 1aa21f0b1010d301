//! The built-in processors, registered explicitly: one line per kind in [`build_one`].
//!
//! A **processor** transforms each round's points in place, after the inputs and before
//! the alarms and outputs see them. `[[agent.processors]]` is an array of tables, each with
//! a `type` (`rename`, `labels`, `filter` or `convert`), applied in the order written, so a
//! later processor sees what an earlier one made. Every processor accepts
//! `measurement = "glob"` to act only on the points whose measurement matches; points
//! outside it pass through untouched. Names, tags and field keys are matched with globs
//! ([`crate::glob`]: `*` and `?`). User docs: `docs/plugins/processors.md`.

pub mod convert;
pub mod filter;
pub mod labels;
pub mod rename;

use crate::glob::Glob;
use crate::processor::Processor;
use argus_core::line_protocol::Line;
use serde::{Deserialize, Deserializer, Serialize};

/// One `[[agent.processors]]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProcessorConfig {
    /// Renames measurements, fields and tags.
    Rename(rename::Config),
    /// Adds, drops and rewrites tags (labels).
    Labels(labels::Config),
    /// Keeps or drops points and fields by name and tag values.
    Filter(filter::Config),
    /// Converts numeric fields from one unit to another.
    Convert(convert::Config),
}

impl ProcessorConfig {
    /// The `type` as written in config.
    pub fn kind(&self) -> &'static str {
        match self {
            ProcessorConfig::Rename(_) => "rename",
            ProcessorConfig::Labels(_) => "labels",
            ProcessorConfig::Filter(_) => "filter",
            ProcessorConfig::Convert(_) => "convert",
        }
    }
}

/// Builds the processors in config order. An error names the table, as in
/// `agent.processors[2]: invalid regex …`.
pub fn build_processors(configs: &[ProcessorConfig]) -> anyhow::Result<Vec<Box<dyn Processor>>> {
    configs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            build_one(c).map_err(|e| anyhow::anyhow!("agent.processors[{i}] ({}): {e:#}", c.kind()))
        })
        .collect()
}

fn build_one(config: &ProcessorConfig) -> anyhow::Result<Box<dyn Processor>> {
    Ok(match config {
        ProcessorConfig::Rename(c) => Box::new(rename::Rename::build(c)?),
        ProcessorConfig::Labels(c) => Box::new(labels::Labels::build(c)?),
        ProcessorConfig::Filter(c) => Box::new(filter::Filter::build(c)?),
        ProcessorConfig::Convert(c) => Box::new(convert::Convert::build(c)?),
    })
}

/// The `measurement = "glob"` every processor accepts; `None` (empty in config) means all.
#[derive(Debug, Clone)]
pub struct Scope(Option<Glob>);

impl Scope {
    pub fn build(pattern: &str) -> anyhow::Result<Self> {
        if pattern.is_empty() {
            return Ok(Scope(None));
        }
        Ok(Scope(Some(Glob::new(pattern))))
    }

    pub fn applies_to(&self, measurement: &str) -> bool {
        self.0.as_ref().is_none_or(|g| g.matches(measurement))
    }

    /// The points this scope applies to: the one loop of the processors that change
    /// points in place (rename, labels, convert). Filter, which also drops points, asks
    /// [`Scope::applies_to`] instead.
    pub fn points_mut<'a>(
        &'a self,
        points: &'a mut [Line<'static>],
    ) -> impl Iterator<Item = &'a mut Line<'static>> + 'a {
        points
            .iter_mut()
            .filter(move |p| self.applies_to(&p.measurement))
    }
}

/// Deserializes the scope string, with an error that points a rename's list written under
/// `measurement` at `measurements`.
fn deserialize_scope<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(
                "a glob string selecting the measurements the processor applies to \
                 (a rename processor lists its renames under `measurements`, `fields` and `tags`)",
            )
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    d.deserialize_str(V)
}

#[cfg(test)]
pub(crate) mod testutil {
    use argus_core::line_protocol::{Line, Precision, parse, write_line};

    /// The `[agent]` section of a config snippet, through the real configuration type, so
    /// that examples in the docs are checked exactly as the agent reads them.
    pub fn agent_section(text: &str) -> Result<crate::AgentConfig, toml::de::Error> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Doc {
            agent: crate::AgentConfig,
        }
        toml::from_str::<Doc>(text).map(|d| d.agent)
    }

    /// Parses line protocol (one point a line) into owned points.
    pub fn points(text: &str) -> Vec<Line<'static>> {
        parse(text)
            .map(|l| l.expect("valid line protocol").into_owned())
            .collect()
    }

    /// Writes points back as line protocol, the easiest form to assert on.
    pub fn text(points: &[Line<'static>]) -> String {
        let mut out = String::new();
        for p in points {
            write_line(&mut out, p, Precision::Milliseconds);
        }
        out
    }

    /// The ```toml blocks of a docs page.
    pub fn toml_blocks(markdown: &str) -> Vec<String> {
        let mut blocks = Vec::new();
        let mut current: Option<String> = None;
        for line in markdown.lines() {
            match &mut current {
                None if line.trim_start() == "```toml" => current = Some(String::new()),
                Some(b) if line.trim_start() == "```" => {
                    blocks.push(std::mem::take(b));
                    current = None;
                }
                Some(b) => {
                    b.push_str(line);
                    b.push('\n');
                }
                None => {}
            }
        }
        blocks
    }

    /// Every ```toml example of a docs page, at least `min` of them, with its `[agent]`
    /// section. The alarms, processors and outputs pages are each checked this way, so a
    /// page cannot show a config the agent refuses; an example that does not parse fails
    /// the test, showing the example.
    pub fn doc_examples(page: &str, min: usize) -> Vec<(String, crate::AgentConfig)> {
        let blocks = toml_blocks(page);
        assert!(blocks.len() >= min, "{} blocks", blocks.len());
        blocks
            .into_iter()
            .map(|block| {
                let agent = agent_section(&block).unwrap_or_else(|e| panic!("{e}\n{block}"));
                (block, agent)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::{doc_examples, points, text};
    use super::*;

    fn parse(toml_text: &str) -> Result<Vec<ProcessorConfig>, toml::de::Error> {
        crate::processors::testutil::agent_section(toml_text).map(|a| a.processors)
    }

    #[test]
    fn every_example_in_the_docs_parses_and_builds() {
        let page = include_str!("../../../../docs/plugins/processors.md");
        for (block, agent) in doc_examples(page, 5) {
            build_processors(&agent.processors).unwrap_or_else(|e| panic!("{e}\n{block}"));
        }
    }

    #[test]
    fn processors_run_in_order_and_each_sees_the_previous_output() {
        let configs = parse(
            r#"
            [[agent.processors]]
            type = "rename"
            fields = [{ from = "used", to = "used_bytes" }]

            [[agent.processors]]
            type = "convert"
            field = "*_bytes"
            from = "bytes"
            to = "kilobytes"

            [[agent.processors]]
            type = "filter"
            measurement = "mem"
            field_include = ["used_*"]
            "#,
        )
        .expect("parse");
        let mut procs = build_processors(&configs).expect("build");
        assert_eq!(
            procs.iter().map(|p| p.name()).collect::<Vec<_>>(),
            ["rename", "convert", "filter"]
        );
        let mut pts = points("mem used=1500u,free=10u 1\ndisk used=2000u 1\n");
        for p in &mut procs {
            p.process(&mut pts);
        }
        assert_eq!(text(&pts), "mem used_bytes=1.5 1\ndisk used_bytes=2.0 1\n");
    }

    #[test]
    fn config_errors_name_the_table_and_the_problem() {
        let configs = parse(
            r#"
            [[agent.processors]]
            type = "rename"
            [[agent.processors]]
            type = "filter"
            [[agent.processors]]
            type = "labels"
            rewrite = [{ tag = "path", regex = "(unclosed" }]
            "#,
        )
        .expect("parse");
        let err = build_processors(&configs)
            .err()
            .expect("bad regex")
            .to_string();
        assert!(err.starts_with("agent.processors[2] (labels): "), "{err}");
        assert!(err.contains("invalid regex"), "{err}");
        assert!(err.contains("(unclosed"), "{err}");
    }

    #[test]
    fn unknown_types_and_keys_are_rejected_naming_them() {
        let err = parse("[[agent.processors]]\ntype = \"enrich\"\n").expect_err("type");
        assert!(
            err.to_string().contains("unknown variant `enrich`"),
            "{err}"
        );
        assert!(err.to_string().contains("`rename`"), "{err}");
        let err = parse("[[agent.processors]]\nmeasurement = \"cpu\"\n").expect_err("no type");
        assert!(err.to_string().contains("missing field `type`"), "{err}");
        let err = parse("[[agent.processors]]\ntype = \"filter\"\nnamepass = [\"cpu\"]\n")
            .expect_err("unknown key");
        assert!(
            err.to_string().contains("unknown field `namepass`"),
            "{err}"
        );
        // The rename lists are plural; the singular is the scope, and the error says so.
        let err = parse(
            "[[agent.processors]]\ntype = \"rename\"\nmeasurement = [{ from = \"a\", to = \"b\" }]\n",
        )
        .expect_err("list as scope");
        assert!(err.to_string().contains("`measurements`"), "{err}");
    }

    #[test]
    fn configs_round_trip_through_toml() {
        let configs = parse(
            r#"
            [[agent.processors]]
            type = "labels"
            measurement = "disk"
            add = { env = "prod" }
            drop = ["fstype"]
            rewrite = [{ tag = "path", regex = "/mnt/(.*)", replacement = "$1" }]
            "#,
        )
        .expect("parse");
        #[derive(Serialize)]
        struct Out<'a> {
            processors: &'a [ProcessorConfig],
        }
        let text = toml::to_string(&Out {
            processors: &configs,
        })
        .expect("serialize");
        let again: crate::AgentConfig = toml::from_str(&text).expect("reparse");
        assert_eq!(again.processors, configs);
    }
}
