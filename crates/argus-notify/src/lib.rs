//! argus-notify (work in progress)
pub mod config;
pub mod duration;
pub mod gojson;
pub mod labels;
pub mod matcher;
mod scalar;
pub mod timeinterval;
