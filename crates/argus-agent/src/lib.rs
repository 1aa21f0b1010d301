//! The Argus agent: collects host metrics through inputs and ships them to the server.
//!
//! [`Agent`] owns the inputs (registered in [`inputs`]), gathers them every interval, adds
//! the `host` label and the global labels, and hands line protocol to the [`sender`], which
//! compresses it and delivers it to the first server that accepts it. [`tasks`] runs the
//! remote tasks the server hands this host.

pub mod alarm;
pub mod alarms;
pub mod buffer;
pub mod config;
pub mod distributed;
pub mod glob;
pub mod heartbeat;
pub mod input;
pub mod inputs;
pub mod output;
pub mod outputs;
pub mod processor;
pub mod processors;
pub mod remote;
pub mod runtime;
pub mod scripts;
pub mod sender;
pub mod tasks;

pub use config::AgentConfig;
pub use runtime::Agent;
