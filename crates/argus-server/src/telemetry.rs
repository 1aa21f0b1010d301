//! The server's own metrics, served at `/metrics` in the Prometheus text format.
//!
//! Names are prefixed `argus_` and end in their unit; counters end in `_total` (added by
//! prometheus-client).

use argus_core::StorageStats;
use argus_tsdb::DbStats;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::fmt::Write as _;
use std::sync::Arc;

type LabelPairs = Vec<(&'static str, String)>;

#[derive(Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    http_requests: Family<LabelPairs, Counter>,
    ingest_samples: Counter,
    ingest_lines: Counter,
    ingest_bytes: Counter,
    ingest_string_fields_skipped: Counter,
    ingest_rejected: Family<LabelPairs, Counter>,
    unauthorized: Counter,
    events: Counter,
    queries: Family<LabelPairs, Counter>,
    queries_running: Gauge,
    storage_series: Gauge,
    storage_samples: Gauge,
    storage_bytes: Gauge,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::<LabelPairs, Counter>::default();
        let ingest_samples = Counter::default();
        let ingest_lines = Counter::default();
        let ingest_bytes = Counter::default();
        let ingest_string_fields_skipped = Counter::default();
        let ingest_rejected = Family::<LabelPairs, Counter>::default();
        let unauthorized = Counter::default();
        let events = Counter::default();
        let queries = Family::<LabelPairs, Counter>::default();
        let queries_running = Gauge::default();
        let storage_series = Gauge::default();
        let storage_samples = Gauge::default();
        let storage_bytes = Gauge::default();
        registry.register(
            "argus_http_requests",
            "HTTP requests answered, by route and status code",
            http_requests.clone(),
        );
        registry.register(
            "argus_ingest_samples",
            "Samples accepted by the ingest endpoints",
            ingest_samples.clone(),
        );
        registry.register(
            "argus_ingest_lines",
            "Line protocol lines accepted",
            ingest_lines.clone(),
        );
        registry.register(
            "argus_ingest_bytes",
            "Request body bytes accepted by ingest, after decompression",
            ingest_bytes.clone(),
        );
        registry.register(
            "argus_ingest_string_fields_skipped",
            "Line protocol string fields, which are not stored as samples",
            ingest_string_fields_skipped.clone(),
        );
        registry.register(
            "argus_ingest_rejected_requests",
            "Ingest requests rejected, by reason",
            ingest_rejected.clone(),
        );
        registry.register(
            "argus_http_unauthorized_requests",
            "Requests refused for a missing or wrong token",
            unauthorized.clone(),
        );
        registry.register(
            "argus_ingest_events",
            "Events accepted at /api/argus/events",
            events.clone(),
        );
        registry.register(
            "argus_queries",
            "Queries answered, by endpoint and outcome",
            queries.clone(),
        );
        registry.register(
            "argus_queries_running",
            "PromQL evaluations running now",
            queries_running.clone(),
        );
        registry.register(
            "argus_storage_series",
            "Series in storage",
            storage_series.clone(),
        );
        registry.register(
            "argus_storage_samples",
            "Samples in storage",
            storage_samples.clone(),
        );
        registry.register(
            "argus_storage_bytes",
            "Bytes used by storage",
            storage_bytes.clone(),
        );
        Telemetry {
            inner: Arc::new(Inner {
                registry,
                http_requests,
                ingest_samples,
                ingest_lines,
                ingest_bytes,
                ingest_string_fields_skipped,
                ingest_rejected,
                unauthorized,
                events,
                queries,
                queries_running,
                storage_series,
                storage_samples,
                storage_bytes,
            }),
        }
    }

    pub fn http_request(&self, route: &str, status: u16) {
        self.inner
            .http_requests
            .get_or_create(&vec![
                ("route", route.to_string()),
                ("code", status.to_string()),
            ])
            .inc();
    }

    pub fn ingested(&self, lines: u64, samples: u64, bytes: u64, string_fields: u64) {
        self.inner.ingest_lines.inc_by(lines);
        self.inner.ingest_samples.inc_by(samples);
        self.inner.ingest_bytes.inc_by(bytes);
        self.inner
            .ingest_string_fields_skipped
            .inc_by(string_fields);
    }

    pub fn rejected(&self, reason: &'static str) {
        self.inner
            .ingest_rejected
            .get_or_create(&vec![("reason", reason.to_string())])
            .inc();
    }

    pub fn events(&self, n: u64) {
        self.inner.events.inc_by(n);
    }

    pub fn unauthorized(&self) {
        self.inner.unauthorized.inc();
    }

    /// Counts a query answered with `result`, as `ok` or `error`, and hands it back.
    pub fn query_result<T, E>(&self, endpoint: &'static str, result: Result<T, E>) -> Result<T, E> {
        self.query(endpoint, if result.is_ok() { "ok" } else { "error" });
        result
    }

    pub fn query(&self, endpoint: &'static str, outcome: &'static str) {
        self.inner
            .queries
            .get_or_create(&vec![
                ("endpoint", endpoint.to_string()),
                ("outcome", outcome.to_string()),
            ])
            .inc();
    }

    /// Counts a PromQL evaluation as running until the guard is dropped.
    pub fn query_running(&self) -> impl Drop + Send + use<> {
        struct Running(Gauge);
        impl Drop for Running {
            fn drop(&mut self) {
                self.0.dec();
            }
        }
        self.inner.queries_running.inc();
        Running(self.inner.queries_running.clone())
    }

    /// Renders every metric, with storage figures read now.
    pub fn render(&self, storage: &StorageStats) -> String {
        self.inner.storage_series.set(storage.series as i64);
        self.inner.storage_samples.set(storage.samples as i64);
        self.inner.storage_bytes.set(storage.bytes as i64);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.inner.registry);
        out
    }
}

/// Writes a metric family's `# HELP` and `# TYPE` lines (the Prometheus text format).
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Writes one sample line; `labels` is empty or `{a="b",...}`.
pub fn sample(out: &mut String, name: &str, labels: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "{name}{labels} {value}");
}

/// Appends the engine's figures to a `/metrics` body.
pub fn render_tsdb_metrics(s: &DbStats, out: &mut String) {
    // The text format wants "# EOF" only in OpenMetrics; prometheus-client ends with it,
    // so insert before it when present.
    let eof = out.rfind("# EOF").unwrap_or(out.len());
    let tail = out.split_off(eof);
    let gauges = [
        (
            "argus_tsdb_head_series",
            "Series in the in-memory head",
            s.head_series,
        ),
        (
            "argus_tsdb_head_samples",
            "Samples in the in-memory head",
            s.head_samples,
        ),
        (
            "argus_tsdb_head_sample_bytes",
            "Bytes of sample data in the head",
            s.head_sample_bytes,
        ),
        (
            "argus_tsdb_wal_bytes",
            "Bytes of the write-ahead log on disk",
            s.wal_bytes,
        ),
        ("argus_tsdb_blocks", "Blocks on disk", s.blocks.len() as u64),
        (
            "argus_tsdb_block_bytes_total",
            "Bytes of all blocks on disk",
            s.block_bytes,
        ),
        (
            "argus_tsdb_block_samples_total",
            "Samples in all blocks",
            s.block_samples,
        ),
        (
            "argus_tsdb_block_index_memory_bytes",
            "Bytes of RAM held by loaded block indexes",
            s.block_index_memory_bytes,
        ),
    ];
    for (name, help, v) in gauges {
        family(out, name, "gauge", help);
        sample(out, name, "", v);
    }
    family(
        out,
        "argus_tsdb_out_of_order_rejected_samples",
        "counter",
        "Samples refused for being older than the out-of-order window",
    );
    sample(
        out,
        "argus_tsdb_out_of_order_rejected_samples_total",
        "",
        s.rejected_out_of_order,
    );
    type PerBlock = fn(&argus_tsdb::db::BlockStats) -> u64;
    let per_block: [(&str, &str, PerBlock); 2] = [
        (
            "argus_tsdb_block_bytes",
            "Bytes of one block on disk",
            |b| b.bytes,
        ),
        ("argus_tsdb_block_samples", "Samples in one block", |b| {
            b.samples
        }),
    ];
    for (name, help, value) in per_block {
        family(out, name, "gauge", help);
        for b in &s.blocks {
            let labels = format!("{{block=\"{}\",level=\"{}\"}}", b.id, b.level);
            sample(out, name, &labels, value(b));
        }
    }
    out.push_str(&tail);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_values() {
        let t = Telemetry::new();
        t.ingested(2, 10, 100, 1);
        t.rejected("bad_line");
        let s = t.render(&StorageStats {
            series: 3,
            samples: 10,
            bytes: 0,
        });
        assert!(s.contains("argus_ingest_samples_total 10"), "{s}");
        assert!(
            s.contains("argus_ingest_rejected_requests_total{reason=\"bad_line\"} 1"),
            "{s}"
        );
        assert!(s.contains("argus_storage_series 3"), "{s}");
    }
}
