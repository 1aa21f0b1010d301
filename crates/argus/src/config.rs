//! The whole configuration file: top-level keys, `[server]` and `[agent]`.
//!
//! Unknown keys are errors, so a typo never silently falls back to a default. Every error
//! names the file, the key and the problem; the binary exits with code 2 on one.

use argus_agent::AgentConfig;
use sections::{
    AlertingConfig, AuthConfig, DatabaseConfig, HandlersConfig, InventoryConfig, PluginsConfig,
    QueryConfig, QueueConfig, ServerConfig, StorageConfig, TasksConfig,
};
use serde::{Deserialize, Serialize};

/// The server's sections of the file.
#[cfg(feature = "server")]
mod sections {
    pub use argus_server::pipeline::{HandlersConfig, QueueConfig};
    pub use argus_server::{
        AlertingConfig, AuthConfig, DatabaseConfig, InventoryConfig, PluginsConfig, QueryConfig,
        ServerConfig, StorageConfig, TasksConfig,
    };
}

/// An agent-only build reads the server's sections as plain tables: one file can serve
/// both roles, and nothing in this build uses them, so they are accepted unchecked. The
/// build then needs none of the server's crates.
#[cfg(not(feature = "server"))]
mod sections {
    pub type ServerConfig = toml::Table;
    pub type StorageConfig = toml::Table;
    pub type QueryConfig = toml::Table;
    pub type QueueConfig = toml::Table;
    pub type HandlersConfig = toml::Table;
    pub type DatabaseConfig = toml::Table;
    pub type AuthConfig = toml::Table;
    pub type InventoryConfig = toml::Table;
    pub type AlertingConfig = toml::Table;
    pub type PluginsConfig = toml::Table;
    pub type TasksConfig = toml::Table;
}
use std::path::{Path, PathBuf};

/// The documented defaults, printed by `argus config default`: the head of the file plus
/// each input's own sample table.
pub fn default_config_text() -> String {
    let mut s = String::from(include_str!("default_config.toml"));
    for sample in argus_agent::inputs::SAMPLE_CONFIGS {
        s.push_str(sample.trim_end());
        s.push_str("\n\n");
    }
    s.push_str(argus_agent::scripts::SAMPLE_CONFIG.trim_end());
    s.push_str("\n\n");
    s.push_str(include_str!("default_pipeline.toml").trim_end());
    s.push_str("\n\n");
    s.truncate(s.trim_end().len());
    s.push('\n');
    s
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub log_level: String,
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub query: QueryConfig,
    pub agent: AgentConfig,
    /// `[queue]`: between ingest and the consumers.
    pub queue: QueueConfig,
    /// `[handlers]`: the processes that consume the queue.
    pub handlers: HandlersConfig,
    /// `[database]`: users, inventory and agent configurations.
    pub database: DatabaseConfig,
    /// `[auth]`: sessions.
    pub auth: AuthConfig,
    /// `[inventory]`: the host inventory.
    pub inventory: InventoryConfig,
    /// `[alerting]`: rules and notifications.
    pub alerting: AlertingConfig,
    /// `[plugins]`: plugins the server distributes to agents.
    pub plugins: PluginsConfig,
    /// `[tasks]`: remote tasks on hosts.
    pub tasks: TasksConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./argus-data"),
            log_level: "info".to_string(),
            server: ServerConfig::default(),
            storage: StorageConfig::default(),
            query: QueryConfig::default(),
            agent: AgentConfig::default(),
            queue: QueueConfig::default(),
            handlers: HandlersConfig::default(),
            database: DatabaseConfig::default(),
            auth: AuthConfig::default(),
            inventory: InventoryConfig::default(),
            alerting: AlertingConfig::default(),
            plugins: PluginsConfig::default(),
            tasks: TasksConfig::default(),
        }
    }
}

#[cfg(feature = "server")]
impl Config {
    /// Reads the rule files and the notifier file `[alerting]` names, as the server
    /// would at start: what was found, or every problem (file, line, reason).
    pub fn check_alerting_files(&self) -> Result<Vec<String>, ConfigError> {
        let a = &self.alerting;
        let mut out = Vec::new();
        if !a.rule_files.is_empty() {
            let groups =
                argus_rules::file::load_rule_files(&a.rule_files, std::path::Path::new("."))
                    .map_err(|es| ConfigError {
                        file: "[alerting] rule_files".into(),
                        message: es
                            .iter()
                            .map(|e| e.to_string())
                            .collect::<Vec<_>>()
                            .join("\n"),
                    })?;
            let rules: usize = groups.iter().map(|g| g.rules.len()).sum();
            out.push(format!(
                "[alerting] rule_files: {} groups, {rules} rules: ok",
                groups.len()
            ));
        }
        if !a.notifier_file.is_empty() {
            let err = |message: String| ConfigError {
                file: "[alerting] notifier_file".into(),
                message,
            };
            argus_server::alerting::notifier::load_config(&a.notifier_file).map_err(err)?;
            out.push(format!("[alerting] notifier_file {}: ok", a.notifier_file));
        }
        Ok(out)
    }
}

/// A configuration problem; the message names the file and the key.
#[derive(Debug, thiserror::Error)]
#[error("config error in {file}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub message: String,
}

/// The files a configuration is read from: the main file, then `conf.d/*.toml` beside it
/// (sorted by name).
pub fn config_files(path: Option<&Path>) -> Vec<PathBuf> {
    let Some(path) = path else { return Vec::new() };
    let mut files = vec![path.to_path_buf()];
    let dir = path.parent().unwrap_or(Path::new(".")).join("conf.d");
    if let Ok(rd) = std::fs::read_dir(&dir) {
        let mut extra: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        extra.sort();
        files.extend(extra);
    }
    files
}

/// Merges `over` into `base`: tables merge key by key, arrays (including `[[...]]` arrays
/// of tables) are concatenated, anything else is replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (Some(toml::Value::Array(b)), toml::Value::Array(o)) => b.extend(o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

impl Config {
    /// Reads `path` and the `conf.d/*.toml` files beside it, or the defaults when `path`
    /// is `None`. Each file is checked on its own first, so an error names its file and
    /// line.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_files(&config_files(path))
    }

    /// Reads and merges `files` in order (none: the defaults).
    pub fn load_files(files: &[PathBuf]) -> Result<Config, ConfigError> {
        if files.len() > 1 {
            let mut merged = toml::Table::new();
            for f in files {
                let name = f.display().to_string();
                let text = std::fs::read_to_string(f).map_err(|e| ConfigError {
                    file: name.clone(),
                    message: format!("cannot read: {e}"),
                })?;
                // Alone, the file must already be a valid (partial) configuration.
                toml::from_str::<Config>(&text).map_err(|e| ConfigError {
                    file: name.clone(),
                    message: describe_toml_error(&e, &text),
                })?;
                let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError {
                    file: name.clone(),
                    message: describe_toml_error(&e, &text),
                })?;
                merge(&mut merged, table);
            }
            let joined = files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(" + ");
            let config: Config =
                toml::Value::Table(merged)
                    .try_into()
                    .map_err(|e: toml::de::Error| ConfigError {
                        file: joined.clone(),
                        message: e.message().to_string(),
                    })?;
            config.validate().map_err(|message| ConfigError {
                file: joined,
                message,
            })?;
            return Ok(config);
        }
        let Some(path) = files.first() else {
            return Ok(Config::default());
        };
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(&text, &file)
    }

    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError {
            file: file.to_string(),
            message: describe_toml_error(&e, text),
        })?;
        config.validate().map_err(|message| ConfigError {
            file: file.to_string(),
            message,
        })?;
        Ok(config)
    }

    /// Checks the values that parse but cannot work.
    fn validate(&self) -> Result<(), String> {
        if self.agent.interval_secs == 0 {
            return Err("key agent.interval_secs: must be at least 1".into());
        }
        #[cfg(feature = "server")]
        self.validate_server()?;
        if !self.agent.api_listen.is_empty() {
            match self.agent.api_listen.parse::<std::net::SocketAddr>() {
                Err(_) => {
                    return Err(format!(
                        "key agent.api_listen: {:?} is not an address like 127.0.0.1:9971",
                        self.agent.api_listen
                    ));
                }
                Ok(a) if !a.ip().is_loopback() && self.agent.api_token.is_empty() => {
                    return Err(format!(
                        "key agent.api_listen: {a} is not a loopback address; set agent.api_token to expose the agent API"
                    ));
                }
                Ok(_) => {}
            }
        }
        for s in &self.agent.servers {
            if !(s.starts_with("http://") || s.starts_with("https://")) {
                return Err(format!(
                    "key agent.servers: {s:?} is not an http:// or https:// URL"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(feature = "server")]
impl Config {
    /// Checks the server's values that parse but cannot work.
    fn validate_server(&self) -> Result<(), String> {
        if self.storage.block_duration_secs < 60 {
            return Err("key storage.block_duration_secs: must be at least 60".into());
        }
        if self.storage.retention_hours == 0 {
            return Err("key storage.retention_hours: must be at least 1".into());
        }
        if self.storage.maintenance_interval_secs == 0 {
            return Err("key storage.maintenance_interval_secs: must be at least 1".into());
        }
        if self.query.max_samples == 0 || self.query.max_series == 0 {
            return Err("keys query.max_samples and query.max_series: must be at least 1".into());
        }
        if self.query.timeout_ms == 0 {
            return Err("key query.timeout_ms: must be at least 1".into());
        }
        if self.query.subquery_step_secs == 0 {
            return Err("key query.subquery_step_secs: must be at least 1".into());
        }
        if self.storage.kind == argus_server::config::StorageKind::Remote {
            for (key, url) in [
                ("remote_write_url", &self.storage.remote_write_url),
                ("remote_read_url", &self.storage.remote_read_url),
            ] {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(format!(
                        "key storage.{key}: {url:?} is not an http:// or https:// URL (storage.kind = \"remote\" needs it)"
                    ));
                }
            }
        }
        if self.server.max_body_bytes == 0 {
            return Err("key server.max_body_bytes: must be at least 1".into());
        }
        if self.server.tls_cert.is_empty() != self.server.tls_key.is_empty() {
            return Err("keys server.tls_cert and server.tls_key: give both or neither".into());
        }
        if !self.server.tls_client_ca.is_empty() && self.server.tls_cert.is_empty() {
            return Err(
                "key server.tls_client_ca: needs TLS on the listener (server.tls_cert and server.tls_key)"
                    .into(),
            );
        }
        if self.tasks.max_output_bytes == 0 {
            return Err("key tasks.max_output_bytes: must be at least 1".into());
        }
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(format!(
                "key server.listen: {:?} is not an address like 127.0.0.1:9970",
                self.server.listen
            ));
        }
        Ok(())
    }
}

/// toml's message with the line and the dotted key path when it knows them.
fn describe_toml_error(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().trim().to_string();
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let snippet = text.lines().nth(line - 1).unwrap_or("").trim();
            format!("line {line} ({snippet}): {msg}")
        }
        None => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With the server's sections checked: an agent-only build reads them as plain tables.
    #[cfg(feature = "server")]
    #[test]
    fn default_text_parses_to_the_defaults() {
        let parsed = Config::parse(&default_config_text(), "default");
        assert_eq!(parsed.ok(), Some(Config::default()));
    }

    /// Every key of the defaults appears in the documented file, so no key is undocumented:
    /// a leaf as `key =` and a table by its `[dotted.path]` header (or a sub-table's).
    #[test]
    fn every_key_is_documented() {
        let text = default_config_text();
        let value = toml::Value::try_from(Config::default()).unwrap_or(toml::Value::Boolean(false));
        fn check(v: &toml::Value, path: &str, text: &str, seen: &mut usize) {
            let toml::Value::Table(t) = v else { return };
            for (k, v) in t {
                *seen += 1;
                let full = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if matches!(v, toml::Value::Array(a) if a.is_empty())
                    && text.contains(&format!("[[{full}]]"))
                {
                    // An array of tables, empty by default: documented by a (commented)
                    // example.
                    continue;
                }
                if let toml::Value::Table(_) = v {
                    assert!(
                        text.contains(&format!("[{full}]")) || text.contains(&format!("[{full}.")),
                        "table [{full}] is not in the default config text"
                    );
                    check(v, &full, text, seen);
                } else {
                    assert!(
                        text.contains(&format!("\n{k} =")),
                        "key {full} is not in the default config text"
                    );
                }
            }
        }
        let mut seen = 0;
        check(&value, "", &text, &mut seen);
        assert!(seen > 20, "too few keys: {seen}");
    }

    #[test]
    fn conf_d_files_merge_in_order_and_errors_name_their_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let main = dir.path().join("argus.toml");
        std::fs::write(
            &main,
            "[agent]\ninterval_secs = 5\n[agent.labels]\nenv = \"prod\"\n",
        )
        .unwrap_or_default();
        std::fs::create_dir_all(dir.path().join("conf.d")).unwrap_or_default();
        std::fs::write(
            dir.path().join("conf.d/10-dc.toml"),
            "[agent.labels]\nlocation = \"dc1\"\n",
        )
        .unwrap_or_default();
        std::fs::write(
            dir.path().join("conf.d/20-fast.toml"),
            "[agent]\ninterval_secs = 2\n",
        )
        .unwrap_or_default();
        let c = Config::load(Some(&main)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.agent.interval_secs, 2);
        assert_eq!(c.agent.labels.get("env").map(String::as_str), Some("prod"));
        assert_eq!(
            c.agent.labels.get("location").map(String::as_str),
            Some("dc1")
        );
        std::fs::write(
            dir.path().join("conf.d/30-bad.toml"),
            "[agent]\nintervall = 1\n",
        )
        .unwrap_or_default();
        let e = Config::load(Some(&main))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("30-bad.toml") && e.contains("intervall") && e.contains("line 2"),
            "{e}"
        );
    }

    /// docs/configuration.md carries the default file verbatim; regenerate it with
    /// `argus config default` when a key changes.
    #[test]
    fn configuration_doc_matches_the_defaults() {
        let doc = include_str!("../../../docs/configuration.md");
        assert!(
            doc.contains(&format!("```toml\n{}```", default_config_text())),
            "docs/configuration.md is out of date with `argus config default`"
        );
    }

    /// The key is one of `[server]`, which only a server build checks.
    #[cfg(feature = "server")]
    #[test]
    fn unknown_key_names_file_line_and_key() {
        let e = Config::parse("[server]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n", "a.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("a.toml"), "{e}");
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("lisen"), "{e}");
    }

    #[test]
    fn bad_value_is_named() {
        let e = Config::parse("[agent]\ninterval_secs = 0\n", "b.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("agent.interval_secs"), "{e}");
        let e = Config::parse("[agent]\ninterval_secs = \"ten\"\n", "b.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("line 2") && e.contains("interval_secs"), "{e}");
    }
}
