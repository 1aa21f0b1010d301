//! `[agent]`: the agent's configuration.

use crate::inputs::InputsConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `[agent]` in the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// Server base URLs. Batches go to the first that accepts them; on failure the next.
    pub servers: Vec<String>,
    /// Bearer token sent with every request.
    pub token: String,
    /// The `host` label on every sample. Empty: the machine's host name.
    pub hostname: String,
    /// Seconds between two collections.
    pub interval_secs: u64,
    /// Seconds before a send to one server is given up.
    pub timeout_secs: u64,
    /// A CA (PEM) that signed the servers' certificates; empty: the system's roots.
    pub tls_ca: String,
    /// The agent's own certificate (PEM), for servers that ask for one.
    pub tls_cert: String,
    /// The private key (PEM) of `tls_cert`.
    pub tls_key: String,
    /// Bytes of data kept in the disk buffer (`<data_dir>/buffer`) while no server accepts
    /// it; past it the oldest data is dropped and counted.
    pub buffer_max_bytes: usize,
    /// Address of the agent's local HTTP API; empty turns it off. Keep it on loopback
    /// unless `api_token` is set.
    pub api_listen: String,
    /// Bearer token the local API requires; empty: none (only allowed on loopback).
    pub api_token: String,
    /// Seconds a `POST /plugins/disable` holds before the plugin runs again by itself.
    pub disable_secs: u64,
    /// Seconds between two pulls of this agent's configuration from the server
    /// (`GET /api/argus/agent/config?host=`); 0 turns remote configuration off.
    pub remote_config_secs: u64,
    /// Whether remote tasks run here (`POST /api/argus/tasks` on the server). Off: the
    /// agent still fetches them and answers each "refused".
    pub allow_remote_tasks: bool,
    /// Whether remote tasks may be ad-hoc shell commands; needs `allow_remote_tasks`.
    pub allow_remote_commands: bool,
    /// Directories `GET /log/offset` may read files from (symlinks leading out and `..`
    /// are refused).
    pub log_dirs: Vec<String>,
    /// Labels added to every sample (for example `location = "dc1"`). A tag an input sets
    /// itself is not overwritten.
    pub labels: BTreeMap<String, String>,
    /// The built-in inputs.
    pub inputs: InputsConfig,
    /// `[agent.scripts]`: script plugins dropped into a directory.
    pub scripts: crate::scripts::ScriptsConfig,
    /// `[[agent.processors]]`: transformations applied to every round, in order.
    pub processors: Vec<crate::processors::ProcessorConfig>,
    /// `[[agent.alarms]]`: local rules that raise alarm events.
    pub alarms: Vec<crate::alarms::AlarmConfig>,
    /// `[[agent.outputs]]`: where rounds go besides the servers.
    pub outputs: Vec<crate::outputs::OutputConfig>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            servers: vec!["http://127.0.0.1:9970".to_string()],
            token: String::new(),
            hostname: String::new(),
            interval_secs: 10,
            timeout_secs: 10,
            tls_ca: String::new(),
            tls_cert: String::new(),
            tls_key: String::new(),
            buffer_max_bytes: 256 * 1024 * 1024,
            api_listen: "127.0.0.1:9971".to_string(),
            api_token: String::new(),
            disable_secs: 86_400,
            remote_config_secs: 60,
            allow_remote_tasks: false,
            allow_remote_commands: false,
            log_dirs: vec!["/var/log".to_string()],
            labels: BTreeMap::new(),
            inputs: InputsConfig::default(),
            scripts: Default::default(),
            processors: Vec::new(),
            alarms: Vec::new(),
            outputs: Vec::new(),
        }
    }
}

impl AgentConfig {
    /// The host name to label samples with.
    pub fn host(&self) -> String {
        if !self.hostname.is_empty() {
            return self.hostname.clone();
        }
        hostname::get()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "localhost".to_string())
    }
}
