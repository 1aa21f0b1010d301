//! The names publishers and consumers agree on: the fixed topics and the consumer group.
//! Every event type is a topic of its own, named as the type.

/// The consumer group every handlers process uses: a topic is consumed once, its entries
/// shared among the processes consuming its type.
pub const GROUP: &str = "handlers";

/// The topic of samples.
pub const SAMPLES: &str = "samples";
/// The topic of heartbeats.
pub const HEARTBEAT: &str = "heartbeat";

/// The topic of alerts bound for the notifier: posted as to an Alertmanager
/// (`POST /api/v2/alerts`) to any server, or raised by event rules where events are
/// applied. Only the server that sends notifications consumes it, as group
/// [`NOTIFIER_GROUP`]; it is no event type (events may not use the name).
pub const ALERTS: &str = "argus-alerts";
/// The consumer group of [`ALERTS`].
pub const NOTIFIER_GROUP: &str = "notifier";
