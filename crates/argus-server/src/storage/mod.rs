//! Metric storage the server runs on, besides the embedded engine (`argus-tsdb`): a
//! remote Prometheus-compatible store, and the namespace view over any store.

/// Metrics kept by a Prometheus remote-write receiver (VictoriaMetrics…).
pub mod remote;
/// A store seen through a namespace or a set of hosts.
pub mod scoped;
