//! The built-in outputs, registered explicitly: one line per kind in [`build_one`].
//!
//! An **output** receives each round's [`Batch`](crate::output::Batch) (points after the
//! processors, events including the alarms'), besides the Argus server, which has its own
//! durable sender. `[[agent.outputs]]` is an array of tables, each with a `type`:
//!
//! - [`stdout`]: line protocol and events as JSON lines, for debugging and pipes;
//! - [`file`]: the same appended to a file, rotated by size;
//! - [`influx`]: line protocol POSTed to any Influx v1 or v2 write endpoint;
//! - [`remote_write`]: Prometheus remote write 1.0 to any receiver.
//!
//! Outputs block (disk, network) and are called from a blocking thread; the HTTP ones
//! drive their async client with a [`tokio::runtime::Handle`] captured when they are built,
//! so [`build_outputs`] must run inside the agent's runtime (see [`http`]). Timestamps are
//! milliseconds throughout. User docs: `docs/plugins/outputs.md`.

pub mod file;
pub mod http;
pub mod influx;
pub mod remote_write;
pub mod stdout;

/// Also stands in for the Argus server in the tests of `remote`.
#[cfg(test)]
pub(crate) mod testserver;
#[cfg(test)]
mod victoria_tests;

use crate::output::Output;
use argus_core::Event;
use argus_core::line_protocol::{Line, Precision, write_line};
use serde::{Deserialize, Serialize};

/// One `[[agent.outputs]]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputConfig {
    /// Line protocol and events to standard output.
    Stdout(stdout::Config),
    /// Line protocol and events appended to a file.
    File(file::Config),
    /// Line protocol to an Influx write endpoint.
    Influx(influx::Config),
    /// Prometheus remote write 1.0.
    RemoteWrite(remote_write::Config),
}

impl OutputConfig {
    /// The `type` as written in config.
    pub fn kind(&self) -> &'static str {
        match self {
            OutputConfig::Stdout(_) => "stdout",
            OutputConfig::File(_) => "file",
            OutputConfig::Influx(_) => "influx",
            OutputConfig::RemoteWrite(_) => "remote_write",
        }
    }
}

/// Builds the outputs in config order. Must be called inside the agent's tokio runtime
/// when any output speaks HTTP. An error names the table, as in
/// `agent.outputs[1] (influx): url "…": relative URL without a base`.
pub fn build_outputs(configs: &[OutputConfig]) -> anyhow::Result<Vec<Box<dyn Output>>> {
    configs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            build_one(c).map_err(|e| anyhow::anyhow!("agent.outputs[{i}] ({}): {e:#}", c.kind()))
        })
        .collect()
}

fn build_one(config: &OutputConfig) -> anyhow::Result<Box<dyn Output>> {
    Ok(match config {
        OutputConfig::Stdout(c) => Box::new(stdout::Stdout::new(c)),
        OutputConfig::File(c) => Box::new(file::File::build(c)?),
        OutputConfig::Influx(c) => Box::new(influx::Influx::build(c)?),
        OutputConfig::RemoteWrite(c) => Box::new(remote_write::RemoteWrite::build(c)?),
    })
}

/// Appends the points as line protocol with millisecond timestamps.
pub fn encode_points(points: &[Line<'static>], out: &mut String) {
    for p in points {
        write_line(out, p, Precision::Milliseconds);
    }
}

/// Appends each event as one line of JSON, after `prefix`.
pub fn encode_events(events: &[Event], prefix: &str, out: &mut String) -> anyhow::Result<()> {
    for e in events {
        out.push_str(prefix);
        out.push_str(&serde_json::to_string(e)?);
        out.push('\n');
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processors::testutil::doc_examples;

    fn parse(text: &str) -> Result<Vec<OutputConfig>, toml::de::Error> {
        crate::processors::testutil::agent_section(text).map(|a| a.outputs)
    }

    #[tokio::test]
    async fn every_example_in_the_docs_parses_and_builds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let page = include_str!("../../../../docs/plugins/outputs.md");
        for (block, agent) in doc_examples(page, 4) {
            let mut configs = agent.outputs;
            // Keep the file examples out of /var/lib.
            for c in &mut configs {
                if let OutputConfig::File(f) = c {
                    let name = f.path.file_name().expect("file name").to_owned();
                    f.path = dir.path().join(name);
                }
            }
            build_outputs(&configs).unwrap_or_else(|e| panic!("{e}\n{block}"));
        }
    }

    #[test]
    fn unknown_types_and_keys_are_rejected_naming_them() {
        let err = parse("[[agent.outputs]]\ntype = \"kafka\"\n").expect_err("type");
        assert!(err.to_string().contains("unknown variant `kafka`"), "{err}");
        assert!(err.to_string().contains("`remote_write`"), "{err}");
        let err = parse("[[agent.outputs]]\ntype = \"influx\"\n").expect_err("no url");
        assert!(err.to_string().contains("missing field `url`"), "{err}");
        let err = parse("[[agent.outputs]]\ntype = \"stdout\"\nformat = \"json\"\n")
            .expect_err("unknown key");
        assert!(err.to_string().contains("unknown field `format`"), "{err}");
    }

    #[test]
    fn http_outputs_need_the_runtime_and_say_so() {
        let configs = parse(
            "[[agent.outputs]]\ntype = \"stdout\"\n[[agent.outputs]]\ntype = \"influx\"\nurl = \"http://127.0.0.1:8086/write?db=x\"\n",
        )
        .expect("parse");
        let err = build_outputs(&configs)
            .err()
            .expect("no runtime")
            .to_string();
        assert!(err.starts_with("agent.outputs[1] (influx): "), "{err}");
        assert!(err.contains("tokio runtime"), "{err}");
    }

    #[test]
    fn events_are_json_lines_with_their_type() {
        let mut payload = serde_json::Map::new();
        payload.insert("code".into(), "X".into());
        let events = [Event {
            kind: "alarm".into(),
            host: "h".into(),
            ts: 5,
            payload,
        }];
        let mut out = String::new();
        encode_events(&events, "# event ", &mut out).expect("encode");
        assert_eq!(
            out,
            "# event {\"type\":\"alarm\",\"host\":\"h\",\"ts\":5,\"code\":\"X\"}\n"
        );
    }
}
