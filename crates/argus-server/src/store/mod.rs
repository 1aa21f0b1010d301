//! What the server keeps besides metrics: events, the host registry, the accepted tokens
//! and the agent configurations it serves. (Metrics go to [`crate::storage`].)

pub mod agent_configs;
pub mod events;
pub mod hosts;
pub mod tokens;
