//! `RemoteStorage`: metrics kept by a Prometheus remote-write receiver (VictoriaMetrics,
//! Prometheus with `--web.enable-remote-write-receiver`, Mimir…) instead of on this server's
//! disk, so a server in scale-out mode keeps no local metric state.
//!
//! Writes are remote write 1.0 (snappy protobuf) to `remote_write_url`; reads go through the
//! receiver's Prometheus query API under `remote_read_url`: raw samples with an instant
//! query of a range selector (`{…}[<end-start+1>ms]` at `time=end`, the raw points in
//! `[start, end]`), label sets with `/api/v1/series`. The [`Storage`] trait is synchronous
//! and this store blocks on the network, so it must run on a blocking thread, as every
//! async caller of the trait already does (`spawn_blocking`).
//!
//! Data written is queryable once the receiver makes it so: VictoriaMetrics buffers new
//! samples for up to a second or two (`/internal/force_flush` makes them visible at once).

use argus_core::{Labels, Matcher, Sample, Storage, StorageError, StorageStats};
use argus_core::{TimeSeries, remote_write};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Where and how to reach the receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteOptions {
    /// The remote write endpoint, e.g. `http://127.0.0.1:8428/api/v1/write`.
    pub write_url: String,
    /// The base of the Prometheus query API, e.g. `http://127.0.0.1:8428` (the store adds
    /// `/api/v1/query` and `/api/v1/series`).
    pub read_url: String,
    /// Longest a write may take, connection included.
    pub write_timeout: Duration,
    /// Longest a read may take, connection included.
    pub read_timeout: Duration,
    /// Most samples in one write request; a larger append is split.
    pub max_samples_per_write: usize,
    /// Write requests of one append in flight at once.
    pub write_concurrency: usize,
}

/// Metrics in a remote receiver. Counts what this process wrote for `/metrics`.
pub struct RemoteStorage {
    client: reqwest::blocking::Client,
    opts: RemoteOptions,
    query_url: String,
    series_url: String,
    samples_written: AtomicU64,
    bytes_written: AtomicU64,
}

/// The longest part of a receiver's error body quoted in our own error.
const MAX_QUOTED_BODY: usize = 512;

fn other(what: &str, url: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Other(format!("remote storage: {what} {url}: {e}"))
}

/// `s` as a PromQL double-quoted string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The series selector for `matchers`. A selector needs one matcher that does not match
/// the empty string: without one, `__name__=~".+"` (every series) is added.
pub fn selector(matchers: &[Matcher]) -> String {
    let mut out = String::from("{");
    for (i, m) in matchers.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&m.name);
        out.push_str(m.op.as_str());
        out.push_str(&quote(&m.value));
    }
    if matchers.iter().all(Matcher::matches_empty) {
        if !matchers.is_empty() {
            out.push(',');
        }
        out.push_str("__name__=~\".+\"");
    }
    out.push('}');
    out
}

/// Milliseconds as the API's seconds (exact to the millisecond).
fn seconds(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let a = ms.unsigned_abs();
    format!("{sign}{}.{:03}", a / 1000, a % 1000)
}

/// `[start, end]` within one second after the epoch and a day after `now_ms`.
fn all_time_bounded(start_ms: i64, end_ms: i64, now_ms: i64) -> (i64, i64) {
    const DAY_MS: i64 = 86_400_000;
    (
        start_ms.max(1000),
        end_ms.min(now_ms.saturating_add(DAY_MS)),
    )
}

/// A Prometheus API answer.
#[derive(serde::Deserialize)]
struct Answer<T> {
    status: String,
    data: Option<T>,
    #[serde(default)]
    error: String,
}

#[derive(serde::Deserialize)]
struct QueryData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<MatrixRow>,
}

#[derive(serde::Deserialize)]
struct MatrixRow {
    metric: Labels,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

impl RemoteStorage {
    pub fn new(opts: RemoteOptions) -> Result<RemoteStorage, StorageError> {
        for (key, url) in [
            ("remote_write_url", &opts.write_url),
            ("remote_read_url", &opts.read_url),
        ] {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(StorageError::Rejected(format!(
                    "storage.{key}: {url:?} is not an http:// or https:// URL"
                )));
            }
        }
        // reqwest is built without a TLS provider of its own (see CRATES.md): install ring's
        // unless the binary already did.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // The blocking client starts a runtime of its own, which must not happen inside the
        // caller's async context: build it on a thread of its own.
        let connect_timeout = opts.write_timeout.min(opts.read_timeout);
        let client = std::thread::spawn(move || {
            reqwest::blocking::Client::builder()
                .connect_timeout(connect_timeout)
                .build()
        })
        .join()
        .map_err(|_| StorageError::Other("remote storage: HTTP client setup panicked".into()))?
        .map_err(|e| StorageError::Other(format!("remote storage: HTTP client: {e}")))?;
        let base = opts.read_url.trim_end_matches('/');
        Ok(RemoteStorage {
            client,
            query_url: format!("{base}/api/v1/query"),
            series_url: format!("{base}/api/v1/series"),
            opts,
            samples_written: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
        })
    }

    /// POSTs a form to the query API and decodes the `data` of a successful answer.
    fn api<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<T, StorageError> {
        let resp = self
            .client
            .post(url)
            .timeout(self.opts.read_timeout)
            .form(form)
            .send()
            .map_err(|e| other("cannot query", url, e))?;
        let status = resp.status();
        let text = resp.text().map_err(|e| other("cannot read", url, e))?;
        let answer: Answer<T> = serde_json::from_str(&text).map_err(|e| {
            other(
                "unexpected answer from",
                url,
                format!("HTTP {status}: {e}: {}", truncate(&text)),
            )
        })?;
        match answer.data {
            Some(d) if answer.status == "success" => Ok(d),
            _ => Err(other(
                "query failed at",
                url,
                format!("HTTP {status}: {}", answer.error),
            )),
        }
    }
}

fn truncate(s: &str) -> &str {
    let mut end = s.len().min(MAX_QUOTED_BODY);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl RemoteStorage {
    /// One remote write request.
    fn write(&self, series: &[TimeSeries]) -> Result<(), StorageError> {
        let body = remote_write::compress(&remote_write::from_series(series));
        let len = body.len() as u64;
        let url = &self.opts.write_url;
        let resp = self
            .client
            .post(url)
            .timeout(self.opts.write_timeout)
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body)
            .send()
            .map_err(|e| other("cannot write to", url, e))?;
        let status = resp.status();
        if !status.is_success() {
            let text = resp.text().unwrap_or_default();
            let msg = format!("HTTP {status}: {}", truncate(text.trim()));
            // A 4xx other than 429 says the data itself is refused: sending it again will
            // not help. Anything else may pass on a retry.
            return Err(
                if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
                    StorageError::Rejected(format!("remote storage {url} refused the write: {msg}"))
                } else {
                    other("write failed at", url, msg)
                },
            );
        }
        let samples: u64 = series.iter().map(|s| s.samples.len() as u64).sum();
        self.samples_written.fetch_add(samples, Ordering::Relaxed);
        self.bytes_written.fetch_add(len, Ordering::Relaxed);
        Ok(())
    }
}

/// `series` with the samples of equal label sets gathered into one series (in time order),
/// so each label set travels once per request: line protocol gives one series per line
/// and field, often many for the same labels in one batch.
fn merged(mut series: Vec<TimeSeries>) -> Vec<TimeSeries> {
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    let mut out: Vec<TimeSeries> = Vec::with_capacity(series.len());
    for s in series {
        match out.last_mut() {
            Some(last) if last.labels == s.labels => last.samples.extend(s.samples),
            _ => out.push(s),
        }
    }
    for s in &mut out {
        s.samples.sort_by_key(|x| x.ts);
    }
    out
}

/// `series` cut into groups of at most `max` samples (a longer series is split, its labels
/// repeated), in order.
fn chunks(series: Vec<TimeSeries>, max: usize) -> Vec<Vec<TimeSeries>> {
    let mut out: Vec<Vec<TimeSeries>> = Vec::new();
    let mut cur: Vec<TimeSeries> = Vec::new();
    let mut n = 0;
    for s in series {
        let mut samples = s.samples;
        while !samples.is_empty() {
            let take = (max - n).min(samples.len());
            let rest = samples.split_off(take);
            n += samples.len();
            cur.push(TimeSeries {
                labels: s.labels.clone(),
                samples,
            });
            samples = rest;
            if n == max {
                out.push(std::mem::take(&mut cur));
                n = 0;
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl Storage for RemoteStorage {
    /// Writes in requests of at most `max_samples_per_write` samples, `write_concurrency`
    /// at a time. Not atomic: when one request fails, the others may have been stored; the
    /// caller's retry writes them again (same samples, same timestamps).
    fn append(&self, series: Vec<TimeSeries>) -> Result<(), StorageError> {
        let chunks = chunks(merged(series), self.opts.max_samples_per_write.max(1));
        match chunks.len() {
            0 => Ok(()),
            1 => self.write(&chunks[0]),
            n => {
                let next = std::sync::atomic::AtomicUsize::new(0);
                let errors: Vec<StorageError> = std::thread::scope(|scope| {
                    let workers: Vec<_> = (0..self.opts.write_concurrency.clamp(1, n))
                        .map(|_| {
                            scope.spawn(|| {
                                let mut errors = Vec::new();
                                loop {
                                    let i = next.fetch_add(1, Ordering::Relaxed);
                                    let Some(chunk) = chunks.get(i) else {
                                        return errors;
                                    };
                                    if let Err(e) = self.write(chunk) {
                                        errors.push(e);
                                    }
                                }
                            })
                        })
                        .collect();
                    workers
                        .into_iter()
                        .flat_map(|w| {
                            w.join().unwrap_or_else(|_| {
                                vec![StorageError::Other(
                                    "remote storage: a writer thread panicked".into(),
                                )]
                            })
                        })
                        .collect()
                });
                // One error that a retry may cure makes the whole append worth retrying;
                // only when every failure is a refusal of the data is the data refused.
                let mut errors = errors.into_iter();
                let first = errors.next();
                match first {
                    None => Ok(()),
                    Some(StorageError::Rejected(m)) => Err(errors
                        .find(|e| !matches!(e, StorageError::Rejected(_)))
                        .unwrap_or(StorageError::Rejected(m))),
                    Some(e) => Err(e),
                }
            }
        }
    }

    fn select(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<TimeSeries>, StorageError> {
        if end_ms < start_ms {
            return Ok(Vec::new());
        }
        // A range selector at `time=end` holds the raw samples in (end - range, end].
        let range_ms = end_ms.saturating_sub(start_ms).saturating_add(1);
        let query = format!("{}[{range_ms}ms]", selector(matchers));
        let time = seconds(end_ms);
        let data: QueryData = self.api(
            &self.query_url,
            &[("query", query.as_str()), ("time", time.as_str())],
        )?;
        if data.result_type != "matrix" {
            return Err(other(
                "expected a matrix from",
                &self.query_url,
                format!("got {:?} for {query}", data.result_type),
            ));
        }
        let mut out = Vec::with_capacity(data.result.len());
        for row in data.result {
            let mut samples = Vec::with_capacity(row.values.len());
            for (t, v) in row.values {
                let value = argus_core::gofloat::parse(&v).ok_or_else(|| {
                    other(
                        "unexpected answer from",
                        &self.query_url,
                        format!("value {v:?} is not a number"),
                    )
                })?;
                let ts = (t * 1000.0).round() as i64;
                if (start_ms..=end_ms).contains(&ts) {
                    samples.push(Sample { ts, value });
                }
            }
            samples.sort_by_key(|s| s.ts);
            if !samples.is_empty() {
                out.push(TimeSeries {
                    labels: row.metric,
                    samples,
                });
            }
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    fn series(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Labels>, StorageError> {
        let sel = selector(matchers);
        // "All time" (the API without `start`/`end`) reaches here as extreme times, which
        // VictoriaMetrics answers with nothing: ask for one second after the epoch to a day
        // ahead instead, which is all time for data a receiver accepts. (Not the epoch
        // itself: VictoriaMetrics reads `start=0` as no start, then one day before `end`.)
        let (start_ms, end_ms) = all_time_bounded(start_ms, end_ms, argus_core::now_ms());
        let (start, end) = (seconds(start_ms), seconds(end_ms));
        let mut out: Vec<Labels> = self.api(
            &self.series_url,
            &[
                ("match[]", sel.as_str()),
                ("start", start.as_str()),
                ("end", end.as_str()),
            ],
        )?;
        // The receiver's index may be coarser than the range (VictoriaMetrics: whole days);
        // the matchers at least hold exactly.
        out.retain(|l| argus_core::matcher::matches_all(matchers, l));
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// What this process wrote since it started: samples and remote-write bytes. The
    /// receiver holds the real totals; series are not known here (0).
    fn stats(&self) -> StorageStats {
        StorageStats {
            series: 0,
            samples: self.samples_written.load(Ordering::Relaxed),
            bytes: self.bytes_written.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::MatchOp;

    #[test]
    fn selectors_quote_values_and_always_have_a_non_empty_matcher() {
        let m = |n: &str, op, v: &str| Matcher::new(n, op, v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            selector(&[
                m("__name__", MatchOp::Equal, "up"),
                m("path", MatchOp::RegexMatch, r#"a\d+"x"#),
            ]),
            r#"{__name__="up",path=~"a\\d+\"x"}"#
        );
        assert_eq!(selector(&[m("job", MatchOp::NotEqual, "")]), r#"{job!=""}"#);
        assert_eq!(
            selector(&[m("job", MatchOp::RegexMatch, "a|")]),
            r#"{job=~"a|",__name__=~".+"}"#
        );
        assert_eq!(selector(&[]), r#"{__name__=~".+"}"#);
        assert_eq!(quote("a\nb\u{1}"), r#""a\nb\u0001""#);
    }

    #[test]
    fn appends_are_cut_into_requests_of_at_most_max_samples() {
        let ts = |name: &str, n: i64| TimeSeries {
            labels: Labels::with_name(name, [("a", "b")]),
            samples: (0..n).map(|t| Sample { ts: t, value: 1.0 }).collect(),
        };
        let got = chunks(vec![ts("x", 3), ts("y", 5), ts("z", 1)], 4);
        let shape: Vec<Vec<(String, usize)>> = got
            .iter()
            .map(|c| {
                c.iter()
                    .map(|s| {
                        (
                            s.labels.metric_name().unwrap_or("").to_string(),
                            s.samples.len(),
                        )
                    })
                    .collect()
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                vec![("x".into(), 3), ("y".into(), 1)],
                vec![("y".into(), 4)],
                vec![("z".into(), 1)],
            ]
        );
        // Every sample once, in order.
        let y: Vec<i64> = got
            .iter()
            .flatten()
            .filter(|s| s.labels.metric_name() == Some("y"))
            .flat_map(|s| s.samples.iter().map(|x| x.ts))
            .collect();
        assert_eq!(y, vec![0, 1, 2, 3, 4]);
        assert!(chunks(Vec::new(), 4).is_empty());
    }

    #[test]
    fn equal_label_sets_travel_once_with_their_samples_in_time_order() {
        let one = |name: &str, ts: i64| TimeSeries {
            labels: Labels::with_name(name, [("a", "b")]),
            samples: vec![Sample {
                ts,
                value: ts as f64,
            }],
        };
        let got = merged(vec![one("y", 2), one("x", 5), one("y", 1), one("x", 4)]);
        let shape: Vec<(String, Vec<i64>)> = got
            .iter()
            .map(|s| {
                (
                    s.labels.metric_name().unwrap_or("").to_string(),
                    s.samples.iter().map(|x| x.ts).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            vec![("x".into(), vec![4, 5]), ("y".into(), vec![1, 2])]
        );
    }

    #[test]
    fn all_time_is_the_epoch_to_a_day_ahead() {
        let now = 1_700_000_000_000;
        assert_eq!(
            all_time_bounded(i64::MIN / 2, i64::MAX / 2, now),
            (1000, now + 86_400_000)
        );
        assert_eq!(all_time_bounded(5_000, 10_000, now), (5_000, 10_000));
    }

    #[test]
    fn seconds_are_exact_to_the_millisecond() {
        assert_eq!(seconds(1_700_000_000_123), "1700000000.123");
        assert_eq!(seconds(5), "0.005");
        assert_eq!(seconds(-1500), "-1.500");
    }

    #[test]
    fn api_values_parse_including_infinities() {
        assert_eq!(argus_core::gofloat::parse("1.5"), Some(1.5));
        assert_eq!(argus_core::gofloat::parse("+Inf"), Some(f64::INFINITY));
        assert_eq!(argus_core::gofloat::parse("-Inf"), Some(f64::NEG_INFINITY));
        assert!(argus_core::gofloat::parse("NaN").is_some_and(f64::is_nan));
        assert_eq!(argus_core::gofloat::parse("x"), None);
    }

    #[test]
    fn urls_must_be_http() {
        let opts = RemoteOptions {
            write_url: "127.0.0.1:8428/api/v1/write".into(),
            read_url: "http://127.0.0.1:8428".into(),
            write_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
            max_samples_per_write: 10,
            write_concurrency: 1,
        };
        let err = RemoteStorage::new(opts).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("storage.remote_write_url")),
            "{err:?}"
        );
    }
}
