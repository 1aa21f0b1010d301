//! argus-notify (work in progress)
pub mod alert;
pub mod clock;
pub mod config;
pub mod dispatch;
pub mod duration;
pub mod gojson;
pub mod inhibit;
pub mod labels;
pub mod matcher;
pub mod nflog;
pub mod notification;
pub mod route;
mod scalar;
pub mod silence;
pub mod timeinterval;
