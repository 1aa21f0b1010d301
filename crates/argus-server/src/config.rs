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
    /// Longest accepted line of a line-protocol body, in bytes.
    pub max_line_bytes: usize,
    /// Labels per series, its name included.
    pub max_labels_per_series: usize,
    /// Longest label value, in bytes.
    pub max_label_value_bytes: usize,
    /// Samples older than this many seconds are refused (0: any age).
    pub max_sample_age_secs: u64,
    /// Samples more than this many seconds in the future are refused.
    pub max_sample_future_secs: u64,
    /// TLS: the certificate chain (PEM) the listener presents; with `tls_key`, the server
    /// speaks HTTPS only. Empty: plain HTTP.
    pub tls_cert: String,
    /// TLS: the private key (PEM) of `tls_cert`.
    pub tls_key: String,
    /// TLS: a CA (PEM); when set, every client must present a certificate it signed.
    pub tls_client_ca: String,
    /// More tokens, each limited to one namespace (or none: every namespace), stored as
    /// SHA-256 hashes. `argus token add` prints one with its entry.
    pub tokens: Vec<TokenConfig>,
}

/// `[[server.tokens]]`: a token known by its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// A name for people and logs.
    pub name: String,
    /// The namespace the token writes into and reads from; empty: every namespace.
    #[serde(default)]
    pub ns: String,
    /// Hex SHA-256 of the token.
    pub sha256: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:9970".to_string(),
            token: String::new(),
            max_body_bytes: 32 * 1024 * 1024,
            lookback_secs: 300,
            max_line_bytes: 65_536,
            max_labels_per_series: 64,
            max_label_value_bytes: 4096,
            max_sample_age_secs: 0,
            max_sample_future_secs: 600,
            tls_cert: String::new(),
            tls_key: String::new(),
            tls_client_ca: String::new(),
            tokens: Vec::new(),
        }
    }
}

/// `[storage]`: the embedded time-series engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Raw samples are kept this many hours; older blocks are downsampled to rollups
    /// (5-minute and 1-hour min, max, sum, count, last).
    pub retention_hours: u64,
    /// Rollups are kept this many hours, then deleted. Not above `retention_hours`: old
    /// data is deleted without rollups.
    pub rollup_retention_hours: u64,
    /// How far behind a series' newest sample, in seconds, a sample may arrive and still be
    /// stored. Older samples are refused with 400.
    pub out_of_order_window_secs: u64,
    /// Time span of the blocks written from memory, in seconds. Compaction merges them
    /// into blocks of 6× and 36× this span.
    pub block_duration_secs: u64,
    /// Series per namespace (the `ns` label); 0 means no limit. New series past it: 422.
    pub max_series_per_namespace: usize,
    /// Size of a write-ahead log segment file, in bytes.
    pub wal_segment_bytes: u64,
    /// Samples held in memory before a flush to disk is forced (bounds RAM).
    pub max_head_samples: u64,
    /// Seconds between two rounds of background maintenance (flush, compaction, retention).
    pub maintenance_interval_secs: u64,
    /// Where metrics are kept: `local` (the embedded engine in `<data_dir>/tsdb`) or
    /// `remote` (a Prometheus remote-write receiver such as VictoriaMetrics; the server
    /// then keeps no metric data of its own and the keys above do not apply).
    pub kind: StorageKind,
    /// `kind = "remote"`: the receiver's remote write URL, e.g.
    /// `http://127.0.0.1:8428/api/v1/write`.
    pub remote_write_url: String,
    /// `kind = "remote"`: the base URL of the receiver's Prometheus query API, e.g.
    /// `http://127.0.0.1:8428` (`/api/v1/query` and `/api/v1/series` are added).
    pub remote_read_url: String,
    /// `kind = "remote"`: longest a write to the receiver may take, in milliseconds.
    pub remote_write_timeout_ms: u64,
    /// `kind = "remote"`: longest a read from the receiver may take, in milliseconds.
    pub remote_read_timeout_ms: u64,
    /// `kind = "remote"`: most samples in one remote write request; larger batches are
    /// split (VictoriaMetrics refuses requests over 32 MiB by default).
    pub remote_write_max_samples: usize,
    /// `kind = "remote"`: remote write requests of one batch in flight at once.
    pub remote_write_concurrency: usize,
}

/// `storage.kind`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    #[default]
    Local,
    Remote,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            retention_hours: 30 * 24,
            rollup_retention_hours: 365 * 24,
            out_of_order_window_secs: 3600,
            block_duration_secs: 7200,
            max_series_per_namespace: 1_000_000,
            wal_segment_bytes: 128 << 20,
            max_head_samples: 50_000_000,
            maintenance_interval_secs: 60,
            kind: StorageKind::Local,
            remote_write_url: String::new(),
            remote_read_url: String::new(),
            remote_write_timeout_ms: 10_000,
            remote_read_timeout_ms: 30_000,
            remote_write_max_samples: 50_000,
            remote_write_concurrency: 4,
        }
    }
}

impl StorageConfig {
    pub fn options(&self) -> argus_tsdb::Options {
        argus_tsdb::Options {
            retention_ms: (self.retention_hours as i64).saturating_mul(3_600_000),
            rollup_retention_ms: (self.rollup_retention_hours as i64).saturating_mul(3_600_000),
            ooo_window_ms: (self.out_of_order_window_secs as i64).saturating_mul(1000),
            block_duration_ms: (self.block_duration_secs.max(1) as i64).saturating_mul(1000),
            max_series_per_ns: self.max_series_per_namespace,
            wal_segment_bytes: self.wal_segment_bytes,
            max_head_samples: self.max_head_samples,
        }
    }
}

/// `[query]`: limits and defaults of PromQL evaluation (`/api/v1/query`, `query_range`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryConfig {
    /// How far back an instant selector looks for a sample, in seconds. Unset: the value
    /// of `server.lookback_secs` (300).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookback_secs: Option<u64>,
    /// The most samples one query may load and hold (Prometheus's `--query.max-samples`).
    /// Over it: 422 `execution`.
    pub max_samples: usize,
    /// The most series one query may select from storage, over all its selectors. Over
    /// it: 422 `execution`.
    pub max_series: usize,
    /// Longest evaluation of one query, in milliseconds. Over it: 503 `timeout`. A
    /// request's `timeout` parameter can only shorten it.
    pub timeout_ms: u64,
    /// Step of a subquery written without one (`x[1h:]`), in seconds (Prometheus: the
    /// global evaluation interval, 1 minute).
    pub subquery_step_secs: u64,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            lookback_secs: None,
            max_samples: 50_000_000,
            max_series: 1_000_000,
            timeout_ms: 120_000,
            subquery_step_secs: 60,
        }
    }
}

impl QueryConfig {
    /// The engine's options; `server_lookback_secs` applies when `lookback_secs` is unset.
    pub fn engine_options(&self, server_lookback_secs: u64) -> argus_promql::EngineOptions {
        let secs = |s: u64| (s.min(i64::MAX as u64 / 1000) as i64) * 1000;
        argus_promql::EngineOptions {
            lookback_ms: secs(self.lookback_secs.unwrap_or(server_lookback_secs)),
            max_samples: self.max_samples,
            max_series: self.max_series,
            timeout: std::time::Duration::from_millis(self.timeout_ms),
            subquery_step_ms: secs(self.subquery_step_secs),
        }
    }
}

impl StorageConfig {
    /// `kind = "remote"`: how to reach the receiver.
    pub fn remote_options(&self) -> crate::storage::remote::RemoteOptions {
        crate::storage::remote::RemoteOptions {
            write_url: self.remote_write_url.clone(),
            read_url: self.remote_read_url.clone(),
            write_timeout: std::time::Duration::from_millis(self.remote_write_timeout_ms.max(1)),
            read_timeout: std::time::Duration::from_millis(self.remote_read_timeout_ms.max(1)),
            max_samples_per_write: self.remote_write_max_samples.max(1),
            write_concurrency: self.remote_write_concurrency.max(1),
        }
    }
}

/// `[database]`: where users, sessions, tokens, the audit log, the host inventory and the
/// agent configurations are kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Empty: SQLite in `<data_dir>/registry.db`. Else `sqlite:///path/to/file.db` or
    /// `postgres://user:password@host:5432/database` (PostgreSQL 15 or later; add
    /// `?sslmode=require` for TLS). Servers of one scale-out setup share one PostgreSQL.
    pub url: String,
}

/// `[auth]`: sessions of users logged in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// How long a session from `POST /api/argus/login` lasts, in hours.
    pub session_hours: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig { session_hours: 24 }
    }
}

/// `[inventory]`: the host inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InventoryConfig {
    /// A host is down after this many heartbeat intervals without one.
    pub down_after_missed: u32,
    /// Seconds between two writes of `argus_host_up` and `argus_host_info` for every host.
    /// 0: not written.
    pub evaluation_interval_secs: u64,
    /// `GET /api/argus/hosts?unmanaged=true` also lists host names found in the `host`
    /// label of series written in this many past hours that are not in the inventory.
    pub unmanaged_lookback_hours: u64,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        InventoryConfig {
            down_after_missed: 3,
            evaluation_interval_secs: 15,
            unmanaged_lookback_hours: 24,
        }
    }
}

/// `[tasks]`: remote tasks run on hosts (`/api/argus/tasks`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TasksConfig {
    /// Bytes of each of a host's standard output and standard error kept per task; the
    /// rest is cut and the host's `stdout_truncated` / `stderr_truncated` says so.
    pub max_output_bytes: usize,
}

impl Default for TasksConfig {
    fn default() -> Self {
        TasksConfig {
            max_output_bytes: 65_536,
        }
    }
}

/// `[alerting]`: rules, where alerts go, and Argus's own routing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertingConfig {
    /// Prometheus rule files, as globs (relative ones from the working directory). Read at
    /// start; a file that does not load stops the start with its file, line and reason.
    pub rule_files: Vec<String>,
    /// The interval of rule groups that set none, in seconds (Prometheus's
    /// `evaluation_interval`).
    pub evaluation_interval_secs: u64,
    /// An Alertmanager 0.25 configuration file (route tree, receivers, inhibit rules, time
    /// intervals) for Argus's own notifications. Empty: alerts are kept and listed, and
    /// notify no one.
    pub notifier_file: String,
    /// External Alertmanagers that also get every alert (their v2 API), e.g.
    /// `["http://alertmanager:9093"]`.
    pub alertmanagers: Vec<String>,
    /// The URL alerts and notifications link back to. Empty: the server's own URL.
    pub external_url: String,
    /// Labels added to every alert of the rules (unless the alert has the label), and
    /// `$externalLabels` in their templates: Prometheus's `global.external_labels`.
    pub external_labels: std::collections::BTreeMap<String, String>,
}

impl Default for AlertingConfig {
    fn default() -> Self {
        AlertingConfig {
            rule_files: Vec::new(),
            evaluation_interval_secs: 15,
            notifier_file: String::new(),
            alertmanagers: Vec::new(),
            external_url: String::new(),
            external_labels: std::collections::BTreeMap::new(),
        }
    }
}
