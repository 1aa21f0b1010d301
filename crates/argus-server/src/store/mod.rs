//! Storage implementations the server can run on.

/// A throwaway in-memory store for unit tests of the query layer.
#[cfg(test)]
pub mod mem;

#[cfg(test)]
pub use mem::MemStore;
/// Metrics kept by a Prometheus remote-write receiver (VictoriaMetrics…).
pub mod remote;
pub mod scoped;
