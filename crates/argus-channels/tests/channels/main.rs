//! Delivery tests against real local peers: HTTP servers that record what each channel
//! sends, an SMTP server, Alertmanager itself.

mod alertmanager;
mod common;
mod config;
mod email;
mod http;
mod script;
