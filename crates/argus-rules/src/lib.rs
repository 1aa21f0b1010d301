//! Alerting and recording rules for Argus, with Prometheus 2.42's semantics (in progress).

pub mod api;
pub mod duration;
pub mod file;
pub mod gofmt;
pub mod group;
pub mod manager;
pub mod rule;
pub mod template;
mod xxh64;
