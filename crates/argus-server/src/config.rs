//! `[server]`: the server's configuration.

use serde::{Deserialize, Serialize};

/// `[server]` in the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address the HTTP API listens on.
    pub listen: String,
    /// The bearer token every request must carry. Empty: read `<data_dir>/token`, or
    /// generate one there on first start.
    pub token: String,
    /// Largest accepted request body, in bytes, after gzip decompression. Larger: 413.
    pub max_body_bytes: usize,
    /// How far back an instant selector looks for a sample, in seconds (Prometheus: 5 m).
    pub lookback_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:9970".to_string(),
            token: String::new(),
            max_body_bytes: 32 * 1024 * 1024,
            lookback_secs: 300,
        }
    }
}
