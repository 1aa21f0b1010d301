//! argus-notify (work in progress)
pub mod alert;
pub mod clock;
pub mod config;
pub mod dispatch;
pub mod duration;
pub mod gojson;
pub mod labels;
pub mod matcher;
pub mod route;
mod scalar;
pub mod timeinterval;
