//! The **range query**: one plain selector over the last hours, timed from request to the
//! last byte of the answer (JSON decoding on the client is not timed), and the check that
//! both systems answer the same series with the same points and values.

use crate::system::{Kind, Server, truncate};
use anyhow::{Context, bail};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct Query {
    pub selector: String,
    pub start_s: i64,
    pub end_s: i64,
    pub step_s: i64,
    /// Adds `nocache=1` for VictoriaMetrics, so it reads its storage every time.
    pub vm_nocache: bool,
}

impl Query {
    fn url(&self, server: &Server) -> String {
        let mut url = format!(
            "{}/api/v1/query_range?query={}&start={}&end={}&step={}s",
            server.base,
            encode(&self.selector),
            self.start_s,
            self.end_s,
            self.step_s
        );
        if server.kind == Kind::Vm && self.vm_nocache {
            url.push_str("&nocache=1");
        }
        url
    }
}

/// Percent-encodes a query for a URL (everything but unreserved characters).
fn encode(q: &str) -> String {
    let mut out = String::with_capacity(q.len() * 3);
    for b in q.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The HTTP client for everything but ingest: plain answers (no gzip), so both systems
/// are timed on the same bytes-on-the-wire terms.
pub fn client() -> anyhow::Result<reqwest::blocking::Client> {
    Ok(reqwest::blocking::Client::builder()
        .no_gzip()
        .timeout(Duration::from_secs(600))
        .build()?)
}

/// A query answer: series key (sorted `name="value"` labels) → (timestamp ms, value).
#[derive(Default)]
pub struct Matrix {
    pub series: BTreeMap<String, Vec<(i64, f64)>>,
}

impl Matrix {
    pub fn points(&self) -> usize {
        self.series.values().map(Vec::len).sum()
    }

    pub fn parse(body: &[u8]) -> anyhow::Result<Self> {
        let v: serde_json::Value = serde_json::from_slice(body).context("answer is not JSON")?;
        if v["status"] != "success" {
            bail!(
                "answer status is not success: {}",
                truncate(&v.to_string(), 300)
            );
        }
        let result = v["data"]["result"]
            .as_array()
            .context("answer has no data.result array")?;
        let mut series = BTreeMap::new();
        for s in result {
            let labels = s["metric"].as_object().context("series without metric")?;
            let mut pairs: Vec<String> = labels
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        v.as_str().map_or(v.to_string(), |s| format!("{s:?}"))
                    )
                })
                .collect();
            pairs.sort();
            let key = pairs.join(",");
            let values = s["values"].as_array().context("series without values")?;
            let mut points = Vec::with_capacity(values.len());
            for p in values {
                let ts = p[0].as_f64().context("point without a numeric timestamp")?;
                let value = p[1]
                    .as_str()
                    .context("point without a string value")?
                    .parse::<f64>()
                    .context("point value is not a number")?;
                points.push(((ts * 1000.0).round() as i64, value));
            }
            if series.insert(key.clone(), points).is_some() {
                bail!("series {key} appears twice in the answer");
            }
        }
        Ok(Self { series })
    }
}

/// One run of the query: its latency and answer.
pub struct Single {
    pub ms: f64,
    pub matrix: Matrix,
}

fn fetch(
    client: &reqwest::blocking::Client,
    server: &Server,
    q: &Query,
) -> anyhow::Result<(f64, Bytes)> {
    let started = Instant::now();
    let r = server.auth(client.get(q.url(server))).send()?;
    let status = r.status();
    let body = r.bytes()?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if !status.is_success() {
        bail!(
            "query answered {status}: {}",
            truncate(&String::from_utf8_lossy(&body), 300)
        );
    }
    Ok((ms, body))
}

pub fn once(
    client: &reqwest::blocking::Client,
    server: &Server,
    q: &Query,
) -> anyhow::Result<Single> {
    let (ms, body) = fetch(client, server, q)?;
    Ok(Single {
        ms,
        matrix: Matrix::parse(&body)?,
    })
}

/// `warmup` untimed runs, then `runs` timed ones; the last answer is kept for the check.
pub struct Timing {
    pub times_ms: Vec<f64>,
    pub median_ms: f64,
    pub p90_ms: f64,
    pub bytes: usize,
    pub matrix: Matrix,
}

pub fn timed(
    client: &reqwest::blocking::Client,
    server: &Server,
    q: &Query,
    warmup: usize,
    runs: usize,
) -> anyhow::Result<Timing> {
    for _ in 0..warmup {
        fetch(client, server, q)?;
    }
    let mut times_ms = Vec::with_capacity(runs);
    let mut last = Bytes::new();
    for _ in 0..runs {
        let (ms, body) = fetch(client, server, q)?;
        times_ms.push(ms);
        last = body;
    }
    let mut sorted = times_ms.clone();
    sorted.sort_by(f64::total_cmp);
    Ok(Timing {
        median_ms: percentile(&sorted, 50),
        p90_ms: percentile(&sorted, 90),
        times_ms,
        bytes: last.len(),
        matrix: Matrix::parse(&last)?,
    })
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: usize) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// How two answers to the same query differ.
pub struct Comparison {
    pub series: (usize, usize),
    pub points: (usize, usize),
    /// Series only in the first / only in the second answer (a few, for the report).
    pub only_a: Vec<String>,
    pub only_b: Vec<String>,
    pub only_counts: (usize, usize),
    /// Series in both whose timestamps differ.
    pub timestamp_mismatches: usize,
    /// Points at the same timestamp whose values differ by more than 1e-9 relative.
    pub value_mismatches: usize,
    pub values_compared: usize,
    /// A few differences, described.
    pub examples: Vec<String>,
}

impl Comparison {
    pub fn identical(&self) -> bool {
        self.only_counts == (0, 0)
            && self.timestamp_mismatches == 0
            && self.value_mismatches == 0
            && self.points.0 == self.points.1
    }
}

const EXAMPLES: usize = 5;

pub fn compare(a: &Matrix, b: &Matrix) -> Comparison {
    let only = |x: &Matrix, y: &Matrix| -> Vec<String> {
        x.series
            .keys()
            .filter(|k| !y.series.contains_key(*k))
            .cloned()
            .collect()
    };
    let (only_a, only_b) = (only(a, b), only(b, a));
    let mut c = Comparison {
        series: (a.series.len(), b.series.len()),
        points: (a.points(), b.points()),
        only_counts: (only_a.len(), only_b.len()),
        only_a: only_a.into_iter().take(EXAMPLES).collect(),
        only_b: only_b.into_iter().take(EXAMPLES).collect(),
        timestamp_mismatches: 0,
        value_mismatches: 0,
        values_compared: 0,
        examples: Vec::new(),
    };
    for (key, pa) in &a.series {
        let Some(pb) = b.series.get(key) else {
            continue;
        };
        let ta: Vec<i64> = pa.iter().map(|p| p.0).collect();
        let tb: Vec<i64> = pb.iter().map(|p| p.0).collect();
        if ta != tb {
            c.timestamp_mismatches += 1;
            if c.examples.len() < EXAMPLES {
                c.examples.push(format!(
                    "{key}: {} vs {} points, first timestamps {:?} vs {:?}, last {:?} vs {:?}",
                    ta.len(),
                    tb.len(),
                    ta.first(),
                    tb.first(),
                    ta.last(),
                    tb.last()
                ));
            }
        }
        // Values are compared where both have a point at the same time.
        let by_ts: BTreeMap<i64, f64> = pb.iter().copied().collect();
        for &(ts, va) in pa {
            let Some(&vb) = by_ts.get(&ts) else { continue };
            c.values_compared += 1;
            let same = va == vb
                || (va.is_nan() && vb.is_nan())
                || (va - vb).abs() <= 1e-9 * va.abs().max(vb.abs());
            if !same {
                c.value_mismatches += 1;
                if c.examples.len() < EXAMPLES {
                    c.examples.push(format!("{key} at {ts} ms: {va} vs {vb}"));
                }
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = r#"{"status":"success","data":{"resultType":"matrix","result":[
        {"metric":{"host":"a","__name__":"m"},"values":[[1700000000,"1.5"],[1700000030,"2"]]},
        {"metric":{"__name__":"m","host":"b"},"values":[[1700000000.000,"NaN"]]}]}}"#;

    fn parsed(s: &str) -> Matrix {
        Matrix::parse(s.as_bytes()).unwrap_or_else(|e| panic!("{e:#}"))
    }

    #[test]
    fn parses_a_prometheus_matrix() {
        let m = parsed(ANSWER);
        assert_eq!(m.points(), 3);
        assert_eq!(
            m.series[r#"__name__="m",host="a""#],
            vec![(1_700_000_000_000, 1.5), (1_700_000_030_000, 2.0)]
        );
        assert!(Matrix::parse(br#"{"status":"error","error":"x"}"#).is_err());
    }

    #[test]
    fn compare_finds_each_kind_of_difference() {
        let a = parsed(ANSWER);
        assert!(compare(&a, &parsed(ANSWER)).identical());
        let b = parsed(&ANSWER.replace("\"2\"", "\"2.5\"").replace("\"b\"", "\"c\""));
        let c = compare(&a, &b);
        assert!(!c.identical());
        assert_eq!(c.only_counts, (1, 1));
        assert_eq!(c.value_mismatches, 1);
        assert_eq!(c.values_compared, 2);
        let d = parsed(&ANSWER.replace("1700000030", "1700000060"));
        assert_eq!(compare(&a, &d).timestamp_mismatches, 1);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=15).map(f64::from).collect();
        assert_eq!(percentile(&v, 50), 8.0);
        assert_eq!(percentile(&v, 90), 14.0);
        assert_eq!(percentile(&[3.0], 90), 3.0);
    }
}
