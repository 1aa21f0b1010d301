//! Outputs: where each round's points and events go besides (or instead of) the Argus
//! server: stdout as line protocol, a file, any Influx line protocol endpoint, any
//! Prometheus remote-write endpoint. The Argus server output is the durable sender.

use argus_core::Event;
use argus_core::line_protocol::Line;

/// One round's data, labelled (host and global labels added).
pub struct Batch<'a> {
    pub points: &'a [Line<'static>],
    pub events: &'a [Event],
}

pub trait Output: Send {
    fn name(&self) -> &str;
    /// Writes one batch. Called from a blocking thread; may block (network, disk). An
    /// error is reported as the output's last error; the batch is not retried by the
    /// runtime (the Argus server output has its own disk buffer).
    fn write(&mut self, batch: &Batch<'_>) -> anyhow::Result<()>;
}
