//! The `prometheus` input: scrapes one `/metrics` endpoint per instance.
//!
//! A **scrape** is one GET of the URL (with the `http` input's client), read line by line
//! as the text exposition format ([`parse`]); each sample becomes one point. Argus names a
//! series `<measurement>_<field>`, so a sample named `node_cpu_seconds_total` is split at
//! its first inner `_` into measurement `node` and field `cpu_seconds_total`: the series
//! keeps the exporter's name exactly, which is what dashboards and PromQL written for
//! Prometheus expect. Setting `measurement` instead gives Telegraf's layout
//! (`prometheus_node_cpu_seconds_total`). As in Prometheus, a scrape that fails (no
//! answer, a status other than 200, a malformed line, too many samples) yields no sample
//! at all and is reported as the round's error.

pub mod parse;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use argus_core::line_protocol::{FieldValue, Line};
use url::Url;

use self::parse::{Dialect, Sample, parse_line};
use super::http::client::{self, Client, Request, TlsOptions};
use crate::input::Input;
use crate::inputs::common::input_config;

/// The commented-out example `[[agent.inputs.prometheus]]` table.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

/// What the scrape asks for: the classic text format first.
const ACCEPT: &str = "text/plain;version=0.0.4;q=1,*/*;q=0.1";
/// Longest line accepted, in bytes.
const MAX_LINE_BYTES: usize = 1024 * 1024;

input_config! {
    /// One `[[agent.inputs.prometheus]]` table: one endpoint to scrape.
    instance "prometheus" Config {
        /// The endpoint, e.g. `http://127.0.0.1:9100/metrics`.
        url: String = String::new(),
        /// Extra request headers, e.g. `Authorization = "Bearer …"`.
        headers: BTreeMap<String, String> = BTreeMap::new(),
        /// Milliseconds the whole scrape may take.
        response_timeout_ms: u64 = 5000,
        /// Empty: series keep the scraped names. Otherwise the measurement of every point, so
        /// that the series are `<measurement>_<metric name>` (Telegraf's `prometheus_…`).
        measurement: String = String::new(),
        /// Use the timestamps the endpoint gives; off, every sample is stamped with the time
        /// of the scrape.
        honor_timestamps: bool = true,
        /// Samples one scrape may return; more fail the scrape (0: no limit). The agent needs
        /// about 1 KiB per sample while it handles a scrape (measured: +6.9 MB of heap for
        /// 6000 samples every 2 s), so this keeps a runaway endpoint from growing it.
        sample_limit: u64 = 10_000,
        /// Bytes one scrape may read; more fail the scrape.
        response_body_max_bytes: u64 = 16 * 1024 * 1024,
        /// Accept any server certificate.
        insecure_skip_verify: bool = false,
        /// A PEM file of CA certificates to trust instead of the system's; empty: the
        /// system's.
        tls_ca: PathBuf = PathBuf::new(),
    }
}

/// Why a scrape failed.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error("scraping {url}: {source}")]
    Request { url: String, source: client::Error },
    #[error("scraping {url}: status {status}")]
    Status { url: String, status: u16 },
    #[error("scraping {url}: reading the body: {source}")]
    Body { url: String, source: std::io::Error },
    #[error("scraping {url}: line {line}: {reason}")]
    Parse {
        url: String,
        line: usize,
        reason: String,
    },
    #[error("scraping {url}: more than {limit} samples (sample_limit)")]
    TooManySamples { url: String, limit: u64 },
    #[error("scraping {url}: more than {limit} bytes (response_body_max_bytes)")]
    TooLarge { url: String, limit: u64 },
}

/// The `prometheus` input; see the module docs.
#[derive(Debug)]
pub struct Prometheus {
    url: Url,
    /// The `url` tag on every point.
    url_tag: String,
    headers: Vec<(String, String)>,
    timeout: Duration,
    measurement: Option<String>,
    honor_timestamps: bool,
    sample_limit: u64,
    max_body: u64,
    client: Client,
}

impl Prometheus {
    /// Builds the input; a bad URL or header is an error.
    pub(crate) fn new(config: &Config) -> anyhow::Result<Self> {
        let url = super::http::parse_url(&config.url)?;
        let mut headers = Vec::new();
        for (name, value) in &config.headers {
            client::check_header(name, value).map_err(|e| anyhow::anyhow!("headers: {e}"))?;
            headers.push((name.clone(), value.clone()));
        }
        let timeout = client::limit_ms("response_timeout_ms", config.response_timeout_ms)?;
        let measurement = config.measurement.trim();
        let mut client = Client::new(
            TlsOptions {
                insecure_skip_verify: config.insecure_skip_verify,
                ca_file: config.tls_ca.clone(),
            },
            ACCEPT,
        );
        client.check_tls().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Prometheus {
            url,
            url_tag: config.url.clone(),
            headers,
            timeout,
            measurement: (!measurement.is_empty()).then(|| measurement.to_string()),
            honor_timestamps: config.honor_timestamps,
            sample_limit: config.sample_limit,
            max_body: config.response_body_max_bytes,
            client,
        })
    }

    fn scrape(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> Result<(), ScrapeError> {
        let url = || self.url_tag.clone();
        let request = Request {
            method: "GET",
            url: self.url.clone(),
            headers: &self.headers,
            body: &[],
        };
        let deadline = Instant::now() + self.timeout;
        let response = self
            .client
            .fetch(&request, true, deadline)
            .map_err(|source| ScrapeError::Request { url: url(), source })?;
        if response.status != 200 {
            return Err(ScrapeError::Status {
                url: url(),
                status: response.status,
            });
        }
        let dialect = Dialect::from_content_type(response.header("content-type").unwrap_or(""));
        let mut body = BufReader::with_capacity(16 * 1024, response.body);
        let mut line = Vec::new();
        let mut read: u64 = 0;
        let mut samples: u64 = 0;
        for number in 1.. {
            client::read_line(&mut body, &mut line, MAX_LINE_BYTES)
                .map_err(|source| ScrapeError::Body { url: url(), source })?;
            if line.is_empty() {
                break;
            }
            read += line.len() as u64;
            if read > self.max_body {
                return Err(ScrapeError::TooLarge {
                    url: url(),
                    limit: self.max_body,
                });
            }
            let text = String::from_utf8_lossy(&line);
            let sample = parse_line(&text, dialect).map_err(|reason| ScrapeError::Parse {
                url: url(),
                line: number,
                reason,
            })?;
            let Some(sample) = sample else { continue };
            samples += 1;
            if self.sample_limit > 0 && samples > self.sample_limit {
                return Err(ScrapeError::TooManySamples {
                    url: url(),
                    limit: self.sample_limit,
                });
            }
            out.push(self.point(&sample, now_ms));
        }
        Ok(())
    }

    /// The point of one sample; see the module docs for the naming.
    fn point(&self, sample: &Sample<'_>, now_ms: i64) -> Line<'static> {
        let (measurement, field) = match &self.measurement {
            Some(m) => (m.clone(), sample.name.to_string()),
            None => {
                let (m, f) = split_name(sample.name);
                (m.to_string(), f.to_string())
            }
        };
        let mut tags = Vec::with_capacity(sample.labels.len() + 1);
        tags.push((Cow::Borrowed("url"), Cow::Owned(self.url_tag.clone())));
        for (name, value) in &sample.labels {
            // Prometheus treats an empty label as no label.
            if value.is_empty() {
                continue;
            }
            // The agent's own labels win over scraped ones, as Prometheus's
            // `honor_labels = false` does: the scraped one is kept as `exported_<name>`.
            let name = match *name {
                "url" => Cow::Borrowed("exported_url"),
                "host" => Cow::Borrowed("exported_host"),
                other => Cow::Owned(other.to_string()),
            };
            tags.push((name, Cow::Owned(value.to_string())));
        }
        let timestamp = match sample.timestamp_ms {
            Some(ts) if self.honor_timestamps => ts,
            _ => now_ms,
        };
        Line {
            measurement: Cow::Owned(measurement),
            tags,
            fields: vec![(Cow::Owned(field), FieldValue::Float(sample.value))],
            timestamp: Some(timestamp),
        }
    }
}

impl Input for Prometheus {
    fn name(&self) -> &str {
        "prometheus"
    }

    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
        let before = out.len();
        let scraped = self.scrape(now_ms, out);
        if scraped.is_err() {
            // All or nothing, as in Prometheus: a partial scrape would look like series
            // that vanished.
            out.truncate(before);
        }
        Ok(scraped?)
    }
}

/// Splits a metric name at its first `_` that is neither its first nor its last
/// character, so that `<measurement>_<field>` is the name again; a name without one
/// (`up`) becomes measurement `up`, field `value`.
pub fn split_name(name: &str) -> (&str, &str) {
    match name
        .char_indices()
        .skip(1)
        .find(|&(i, c)| c == '_' && i + 1 < name.len())
    {
        Some((i, _)) => (&name[..i], &name[i + 1..]),
        None => (name, "value"),
    }
}

#[cfg(test)]
pub(super) mod tests;
