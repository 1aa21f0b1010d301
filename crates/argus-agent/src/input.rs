//! The input contract: what a built-in collector implements.
//!
//! An **input** gathers one round of points when the scheduler asks. Points are Influx-style
//! (measurement, tags, fields) and are mapped to series named `<measurement>_<field>`; the
//! runtime adds the `host` tag and the global labels, so inputs never set them.

use argus_core::line_protocol::Line;

/// A built-in collector.
pub trait Input: Send {
    /// The input's name as used in config (`[agent.inputs.<name>]`) and in errors.
    fn name(&self) -> &'static str;

    /// Gathers one round. Every point's `timestamp` is `Some(now_ms)` (milliseconds).
    /// An error fails this round only; the runtime reports it and calls again next interval.
    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()>;
}
