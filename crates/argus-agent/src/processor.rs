//! Processors: transformations applied to every round's points before alarms and outputs
//! see them (rename, add/drop/rewrite labels, filter, unit conversion). They run in the
//! order configured.

use argus_core::line_protocol::Line;

pub trait Processor: Send {
    fn name(&self) -> &str;
    /// Transforms the points in place; may remove some.
    fn process(&mut self, points: &mut Vec<Line<'static>>);
}
