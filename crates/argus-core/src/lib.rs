//! Argus's shared vocabulary.
//!
//! A **series** is a metric name plus a sorted set of labels ([`Labels`]); its data are
//! [`Sample`]s, a timestamp in milliseconds since the Unix epoch and an `f64` value. An
//! [`Event`] is a typed JSON document (`{type, host, ts, ...}`). Everything that crosses a
//! crate boundary in Argus is spelled in these terms: the agent produces them, the server
//! ingests them, storage keeps them and queries return them.
//!
//! The crate also holds the codecs every role needs: the Influx line protocol
//! ([`line_protocol`]), label [`Matcher`]s with Prometheus semantics, and the [`Storage`]
//! trait that the server writes through, and the byte-level codecs more than one crate
//! writes: LEB128 [`varint`]s and Go's float text ([`gofloat`]).

pub mod gofloat;
pub mod gojson;
pub mod line_protocol;
pub mod matcher;
pub mod model;
#[cfg(feature = "plugin-archive")]
pub mod plugin_archive;
pub mod remote_write;
pub mod storage;
pub mod varint;

pub use matcher::{MatchOp, Matcher, MatcherError};
pub use model::{Event, Label, Labels, METRIC_NAME, Sample, TimeSeries};
pub use storage::{Points, ReadLimit, ReadLimits, SeriesMap, Storage, StorageError, StorageStats};

/// The current wall-clock time in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
