//! The error of a channel whose configuration loads but cannot work (a URL that does not
//! parse, an unreadable CA file, a kind or key Argus cannot send), kept apart so the
//! channel kinds and the channel itself need not import each other.

use argus_notify::IntegrationKind;

/// A configuration that cannot work, and where it is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} channel: {}{reason}", if field.is_empty() { String::new() } else { format!("{field}: ") })]
pub struct ConfigError {
    /// The channel's kind.
    pub kind: IntegrationKind,
    /// The key at fault (`url`, `http_config.tls_config.ca_file`, …); empty when it is
    /// the kind itself.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}
