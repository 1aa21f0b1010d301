//! The rules every ingested sample passes, whatever protocol brought it: label names and
//! values, labels per series, line length, and how far from now a timestamp may be. A
//! body breaking one is refused whole with 400 naming where (line, series, data point) and
//! why; the reason is counted at `/metrics` (`argus_ingest_rejected_total{reason}`).

use crate::config::ServerConfig;
use argus_core::TimeSeries;

/// The limits, from `[server]`.
#[derive(Debug, Clone)]
pub struct Rules {
    pub max_line_bytes: usize,
    pub max_labels: usize,
    pub max_label_name_bytes: usize,
    pub max_label_value_bytes: usize,
    /// Samples older than now minus this are refused (0: no limit).
    pub max_age_ms: i64,
    /// Samples newer than now plus this are refused.
    pub max_future_ms: i64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules::from_config(&ServerConfig::default())
    }
}

/// What is wrong, with the reason counted at `/metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub reason: &'static str,
    pub message: String,
}

fn violation(reason: &'static str, message: String) -> Violation {
    Violation { reason, message }
}

/// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn valid_label_name(name: &str) -> bool {
    let mut b = name.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// A namespace (the `ns` label, Influx `db`/`bucket`): 1 to 128 of `[A-Za-z0-9_.-]`.
pub fn valid_namespace(ns: &str) -> bool {
    (1..=128).contains(&ns.len())
        && ns
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// A Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn valid_metric_name(name: &str) -> bool {
    let mut b = name.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

impl Rules {
    pub fn from_config(c: &ServerConfig) -> Rules {
        Rules {
            max_line_bytes: c.max_line_bytes,
            max_labels: c.max_labels_per_series,
            max_label_name_bytes: 1024,
            max_label_value_bytes: c.max_label_value_bytes,
            max_age_ms: (c.max_sample_age_secs as i64).saturating_mul(1000),
            max_future_ms: (c.max_sample_future_secs as i64).saturating_mul(1000),
        }
    }

    /// Checks a timestamp (ms) against now.
    pub fn check_ts(&self, ts: i64, now: i64) -> Result<(), Violation> {
        if self.max_age_ms > 0 && ts < now.saturating_sub(self.max_age_ms) {
            return Err(violation(
                "too_old",
                format!(
                    "timestamp {ts} ms is more than {} s in the past (server.max_sample_age_secs)",
                    self.max_age_ms / 1000
                ),
            ));
        }
        if ts > now.saturating_add(self.max_future_ms) {
            return Err(violation(
                "too_far_in_future",
                format!(
                    "timestamp {ts} ms is more than {} s in the future (server.max_sample_future_secs)",
                    self.max_future_ms / 1000
                ),
            ));
        }
        Ok(())
    }

    /// Checks one label's name and value.
    pub fn check_label(&self, name: &str, value: &str) -> Result<(), Violation> {
        if name == argus_core::METRIC_NAME {
            if !valid_metric_name(value) {
                return Err(violation(
                    "invalid_metric_name",
                    format!("metric name {value:?} is not [a-zA-Z_:][a-zA-Z0-9_:]*"),
                ));
            }
        } else if !valid_label_name(name) {
            return Err(violation(
                "invalid_label_name",
                format!("label name {name:?} is not [a-zA-Z_][a-zA-Z0-9_]*"),
            ));
        }
        if name.len() > self.max_label_name_bytes {
            return Err(violation(
                "label_name_too_long",
                format!(
                    "label name of {} bytes is longer than {}",
                    name.len(),
                    self.max_label_name_bytes
                ),
            ));
        }
        if value.len() > self.max_label_value_bytes {
            return Err(violation(
                "label_value_too_long",
                format!(
                    "label {name:?}: value of {} bytes is longer than {} (server.max_label_value_bytes)",
                    value.len(),
                    self.max_label_value_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Checks how many labels a series has (its name included).
    pub fn check_label_count(&self, n: usize) -> Result<(), Violation> {
        if n > self.max_labels {
            return Err(violation(
                "too_many_labels",
                format!(
                    "{n} labels, more than {} (server.max_labels_per_series)",
                    self.max_labels
                ),
            ));
        }
        Ok(())
    }

    /// Checks a whole series: a name, valid labels, timestamps in the window.
    pub fn check_series(&self, s: &TimeSeries, now: i64) -> Result<(), Violation> {
        if s.labels.metric_name().is_none() {
            return Err(violation(
                "missing_metric_name",
                "series has no __name__ label".into(),
            ));
        }
        self.check_label_count(s.labels.len())?;
        for l in s.labels.iter() {
            self.check_label(&l.name, &l.value)?;
        }
        for x in &s.samples {
            self.check_ts(x.ts, now)?;
        }
        Ok(())
    }

    /// The first line of `text` longer than the limit: its number (from 1) and length.
    pub fn long_line(&self, text: &[u8]) -> Option<(usize, usize)> {
        text.split(|&b| b == b'\n')
            .enumerate()
            .find(|(_, l)| l.len() > self.max_line_bytes)
            .map(|(i, l)| (i + 1, l.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::{Labels, Sample};

    fn rules() -> Rules {
        Rules {
            max_line_bytes: 10,
            max_labels: 3,
            max_label_name_bytes: 20,
            max_label_value_bytes: 5,
            max_age_ms: 1000,
            max_future_ms: 100,
        }
    }

    #[test]
    fn names_follow_prometheus() {
        assert!(valid_label_name("_a1"));
        assert!(valid_label_name("__name__"));
        assert!(!valid_label_name("é"));
        assert!(!valid_label_name("1a"));
        assert!(!valid_label_name("a-b"));
        assert!(!valid_label_name(""));
        assert!(valid_metric_name("a:b_c"));
        assert!(!valid_label_name("a:b"));
        assert!(!valid_metric_name("a.b"));
    }

    #[test]
    fn each_rule_names_its_reason() {
        let r = rules();
        let s = |pairs: &[(&str, &str)], ts: i64| TimeSeries {
            labels: Labels::from_pairs(pairs.iter().copied()),
            samples: vec![Sample { ts, value: 1.0 }],
        };
        let now = 10_000;
        assert_eq!(r.check_series(&s(&[("__name__", "up")], now), now), Ok(()));
        let reason = |x: Result<(), Violation>| x.err().map(|v| v.reason);
        assert_eq!(
            reason(r.check_series(&s(&[("job", "x")], now), now)),
            Some("missing_metric_name")
        );
        assert_eq!(
            reason(r.check_series(&s(&[("__name__", "a.b")], now), now)),
            Some("invalid_metric_name")
        );
        assert_eq!(
            reason(r.check_series(&s(&[("__name__", "up"), ("a-b", "1")], now), now)),
            Some("invalid_label_name")
        );
        assert_eq!(
            reason(r.check_series(&s(&[("__name__", "up"), ("a", "123456")], now), now)),
            Some("label_value_too_long")
        );
        assert_eq!(
            reason(r.check_series(
                &s(
                    &[("__name__", "up"), ("a", "1"), ("b", "1"), ("c", "1")],
                    now
                ),
                now
            )),
            Some("too_many_labels")
        );
        assert_eq!(
            reason(r.check_series(&s(&[("__name__", "up")], now - 1001), now)),
            Some("too_old")
        );
        assert_eq!(
            reason(r.check_series(&s(&[("__name__", "up")], now + 101), now)),
            Some("too_far_in_future")
        );
        assert_eq!(r.long_line(b"short\n0123456789AB\nx"), Some((2, 12)));
        assert_eq!(r.long_line(b"short\nfine"), None);
    }
}
