//! The input contract: what every collector implements, built-in or script.
//!
//! An **input** gathers one round of points when the scheduler asks. Points are Influx-style
//! (measurement, tags, fields) and are mapped to series named `<measurement>_<field>`; the
//! runtime adds the `host` tag and the global labels, so inputs never set them. Inputs that
//! raise events (matched log lines, script documents, Nagios states) hand them over in
//! [`Input::drain_events`] after each round.
//!
//! The runtime calls an input on a thread of its own with a timeout: an input may block
//! (network, files) but must not assume it is called on time; one that hangs is reported as
//! such and not called again until it returns.

use argus_core::Event;
use argus_core::line_protocol::Line;
use std::time::Duration;

/// A collector.
pub trait Input: Send {
    /// The input's kind as used in config (`[agent.inputs.<kind>]`) and in errors.
    fn name(&self) -> &str;

    /// Gathers one round. Every point's `timestamp` is `Some(now_ms)` (milliseconds), or
    /// the time the input observed it. An error fails this round only; the runtime records
    /// it as the plugin's last error and calls again next interval.
    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()>;

    /// Events raised since the last call (`type`, `ts` and payload set; `host` may be left
    /// empty: the runtime fills it).
    fn drain_events(&mut self, _out: &mut Vec<Event>) {}

    /// The `param` of a manual run (`POST /plugins/run?param=`), for the next round only.
    /// Inputs without parameters ignore it.
    fn set_param(&mut self, _param: Option<&str>) {}
}

/// When and for how long an input runs; `None` means the agent's default.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Schedule {
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
}

impl Schedule {
    /// From config values in seconds where 0 means "the agent's default".
    pub fn from_secs(interval_secs: u64, timeout_secs: u64) -> Self {
        let d = |s: u64| (s > 0).then(|| Duration::from_secs(s));
        Schedule {
            interval: d(interval_secs),
            timeout: d(timeout_secs),
        }
    }
}

/// An input with its name and schedule, as the registry builds it.
pub struct Plugin {
    /// Unique among the agent's plugins: the kind, or `<kind>:<instance name>` for inputs
    /// that can be configured several times.
    pub name: String,
    pub input: Box<dyn Input>,
    pub schedule: Schedule,
}
