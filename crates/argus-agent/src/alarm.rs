//! Alarms: local rules evaluated on the agent over each round's points, raising events
//! `{type: "alarm", code, info, more, host, ts}` — for example `ping loss >= 100` or
//! `disk used_percent >= 90` — without waiting for the server.

use argus_core::Event;
use argus_core::line_protocol::Line;

pub trait Alarm: Send {
    fn name(&self) -> &str;
    /// Checks one round's points (after processors); appends the events raised.
    fn check(&mut self, now_ms: i64, points: &[Line<'static>], out: &mut Vec<Event>);
}
