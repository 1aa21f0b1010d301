//! The Argus agent: collects host metrics through inputs and ships them to the server.

pub mod input;
pub mod inputs;
