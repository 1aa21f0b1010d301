//! What the server keeps besides metrics: events, and in the database ([`db`]) the users,
//! sessions, tokens, audit log, host inventory, agent configurations, distributed plugins,
//! the leases of work shared between servers, and remote tasks. (Metrics go to
//! [`crate::storage`].)

pub mod access;
pub mod agent_configs;
pub mod alert_history;
pub mod api_rules;
pub mod audit;
pub mod db;
pub mod events;
pub mod hosts;
pub mod kv;
pub mod leases;
pub mod plugins;
pub mod tasks;
pub mod tokens;
pub mod users;
