//! The channel kinds, one module each: its configuration (`<Kind>Config`, the keys of
//! its `<kind>_configs` entry) and how one attempt sends a notification through it.
//! `http` is the client and reply rules the HTTP kinds share.

pub mod dingtalk;
pub mod email;
pub mod feishu;
pub(crate) mod http;
pub mod script;
pub mod slack;
pub mod telegram;
pub mod webhook;
pub mod wecom;
