//! The names publishers and consumers agree on: the fixed topics and the consumer group.
//! Every event type is a topic of its own, named as the type.

/// The consumer group every handlers process uses: a topic is consumed once, its entries
/// shared among the processes consuming its type.
pub const GROUP: &str = "handlers";

/// The topic of samples.
pub const SAMPLES: &str = "samples";
/// The topic of heartbeats.
pub const HEARTBEAT: &str = "heartbeat";
