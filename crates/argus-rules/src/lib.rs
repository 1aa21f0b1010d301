//! Alerting and recording rules for Argus, with Prometheus 2.42's semantics (in progress).

pub mod duration;
pub mod gofmt;
pub mod template;
