//! `type = "stdout"`: each round's points as line protocol (millisecond timestamps) and
//! its events as one JSON document per line, on standard output.
//!
//! Meant for looking at what the agent collects and for piping it elsewhere. A batch is
//! written with one `write` and a flush, so lines of two outputs never interleave. The
//! writer is a parameter so that tests (and embedders) can capture the text.

use super::{encode_events, encode_points};
use crate::output::{Batch, Output};
use serde::{Deserialize, Serialize};
use std::io::Write;

/// `[[agent.outputs]]` with `type = "stdout"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Write the points as line protocol.
    pub points: bool,
    /// Write the events as JSON lines (`{"type": …, "host": …, "ts": …, …}`).
    pub events: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            points: true,
            events: true,
        }
    }
}

/// The built output, writing to `W` (standard output unless built with
/// [`Stdout::with_writer`]).
pub struct Stdout<W: Write + Send = std::io::Stdout> {
    config: Config,
    writer: W,
    buf: String,
}

impl Stdout<std::io::Stdout> {
    pub fn new(config: &Config) -> Self {
        Stdout::with_writer(config, std::io::stdout())
    }
}

impl<W: Write + Send> Stdout<W> {
    pub fn with_writer(config: &Config, writer: W) -> Self {
        Stdout {
            config: config.clone(),
            writer,
            buf: String::new(),
        }
    }

    /// The writer, to read back what was written.
    pub fn into_writer(self) -> W {
        self.writer
    }
}

impl<W: Write + Send> Output for Stdout<W> {
    fn name(&self) -> &str {
        "stdout"
    }

    fn write(&mut self, batch: &Batch<'_>) -> anyhow::Result<()> {
        self.buf.clear();
        if self.config.points {
            encode_points(batch.points, &mut self.buf);
        }
        if self.config.events {
            encode_events(batch.events, "", &mut self.buf)?;
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        self.writer.write_all(self.buf.as_bytes())?;
        self.writer.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processors::testutil::points;
    use argus_core::Event;

    fn event() -> Event {
        let mut payload = serde_json::Map::new();
        payload.insert("status".into(), "firing".into());
        Event {
            kind: "alarm".into(),
            host: "web1".into(),
            ts: 1_700_000_000_000,
            payload,
        }
    }

    fn run(config: Config) -> String {
        let mut out = Stdout::with_writer(&config, Vec::new());
        let pts = points(
            "cpu,host=web1,cpu=cpu-total usage_idle=97.5,usage_user=1.25 1700000000000\n\
             disk,host=web1,path=/my\\ disk free=1024i,ro=false 1700000000000\n",
        );
        let events = [event()];
        out.write(&Batch {
            points: &pts,
            events: &events,
        })
        .expect("write");
        // An empty batch writes nothing.
        out.write(&Batch {
            points: &[],
            events: &[],
        })
        .expect("write");
        String::from_utf8(out.into_writer()).expect("utf-8")
    }

    #[test]
    fn writes_line_protocol_then_events_as_json_lines() {
        assert_eq!(
            run(Config::default()),
            "cpu,host=web1,cpu=cpu-total usage_idle=97.5,usage_user=1.25 1700000000000\n\
             disk,host=web1,path=/my\\ disk free=1024i,ro=false 1700000000000\n\
             {\"type\":\"alarm\",\"host\":\"web1\",\"ts\":1700000000000,\"status\":\"firing\"}\n"
        );
    }

    #[test]
    fn points_and_events_can_be_turned_off() {
        assert_eq!(
            run(Config {
                points: true,
                events: false
            }),
            "cpu,host=web1,cpu=cpu-total usage_idle=97.5,usage_user=1.25 1700000000000\n\
             disk,host=web1,path=/my\\ disk free=1024i,ro=false 1700000000000\n"
        );
        assert_eq!(
            run(Config {
                points: false,
                events: true
            }),
            "{\"type\":\"alarm\",\"host\":\"web1\",\"ts\":1700000000000,\"status\":\"firing\"}\n"
        );
    }
}
