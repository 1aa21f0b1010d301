//! `type = "remote_write"`: each round's points sent with the Prometheus remote write 1.0
//! protocol to any receiver (Prometheus with `--web.enable-remote-write-receiver`,
//! VictoriaMetrics, Mimir, Thanos, the Argus server).
//!
//! A request is a snappy-compressed (block format) protobuf [`proto::WriteRequest`]. Each
//! numeric or boolean field of a point is one sample of the series named
//! `<measurement>_<field>` labelled with the point's tags, exactly as the Argus server maps
//! line protocol ([`argus_core::line_protocol::line_to_series`]: names sanitized to
//! `[a-zA-Z0-9_:]`, labels sorted by name, booleans as 1 and 0). **String fields are
//! skipped**, and events are not sent: remote write carries only samples. Samples of one
//! series in a batch go into one `TimeSeries`, in time order. A point without a timestamp
//! is stamped with the time of the write.

pub use argus_core::remote_write::proto;

use super::http::{Auth, HttpClient, auth, parse_url};
use crate::output::{Batch, Output};
use argus_core::line_protocol::{Line, Precision, line_to_series};
use argus_core::{Labels, TimeSeries};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// `[[agent.outputs]]` with `type = "remote_write"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The receiver's URL: `http://prometheus:9090/api/v1/write`,
    /// `http://victoria:8428/api/v1/write`.
    pub url: String,
    /// Sent as `Authorization: Bearer <token>`.
    #[serde(default)]
    pub bearer_token: String,
    /// HTTP basic authentication.
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    /// Seconds before a request is abandoned.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Extra request headers (`{ "X-Scope-OrgID" = "team1" }` for Mimir or Cortex).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

fn default_timeout_secs() -> u64 {
    10
}

impl Default for Config {
    fn default() -> Self {
        Config {
            url: "http://127.0.0.1:9090/api/v1/write".to_string(),
            bearer_token: String::new(),
            username: String::new(),
            password: String::new(),
            timeout_secs: default_timeout_secs(),
            headers: BTreeMap::new(),
        }
    }
}

/// The headers remote write 1.0 requires.
const HEADERS: &[(&str, &str)] = &[
    ("Content-Encoding", "snappy"),
    ("Content-Type", "application/x-protobuf"),
    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
];

/// The built output.
pub struct RemoteWrite {
    url: reqwest::Url,
    auth: Auth,
    client: HttpClient,
}

impl RemoteWrite {
    /// Must be called inside the agent's tokio runtime (see [`super::http`]).
    pub fn build(config: &Config) -> anyhow::Result<Self> {
        Ok(RemoteWrite {
            url: parse_url(&config.url)?,
            auth: auth(
                "Bearer",
                &config.bearer_token,
                &config.username,
                &config.password,
                "bearer_token",
            )?,
            client: HttpClient::new(config.timeout_secs, &config.headers)?,
        })
    }
}

/// The request for `points` (millisecond timestamps; `now_ms` for those without one).
/// The points are grouped by series here; turning the groups into protobuf is
/// [`argus_core::remote_write::from_series`], the one the server's remote storage uses.
pub fn encode(points: &[Line<'static>], now_ms: i64) -> proto::WriteRequest {
    let mut series = Vec::new();
    for p in points {
        line_to_series(p, Precision::Milliseconds, now_ms, &[], &mut series);
    }
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(series.len());
    let mut grouped: Vec<TimeSeries> = Vec::with_capacity(series.len());
    for s in series {
        match index.get(&s.labels) {
            Some(&i) => grouped[i].samples.extend(s.samples),
            None => {
                index.insert(s.labels.clone(), grouped.len());
                grouped.push(s);
            }
        }
    }
    for s in &mut grouped {
        // Stable, so samples with equal timestamps keep the order of the points.
        s.samples.sort_by_key(|x| x.ts);
    }
    argus_core::remote_write::from_series(&grouped)
}

pub use argus_core::remote_write::{compress, decode};

impl Output for RemoteWrite {
    fn name(&self) -> &str {
        "remote_write"
    }

    fn write(&mut self, batch: &Batch<'_>) -> anyhow::Result<()> {
        let req = encode(batch.points, argus_core::now_ms());
        if req.timeseries.is_empty() {
            return Ok(());
        }
        let body = compress(&req);
        self.client.post(&self.url, &self.auth, HEADERS, body)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testserver::{self, Reply};
    use super::*;
    use crate::processors::testutil::points;

    /// `(labels as name=value, [(ts, value)])` per series, for asserting.
    type Flat = Vec<(Vec<String>, Vec<(i64, f64)>)>;

    fn flat(req: &proto::WriteRequest) -> Flat {
        req.timeseries
            .iter()
            .map(|ts| {
                (
                    ts.labels
                        .iter()
                        .map(|l| format!("{}={}", l.name, l.value))
                        .collect(),
                    ts.samples.iter().map(|s| (s.timestamp, s.value)).collect(),
                )
            })
            .collect()
    }

    fn labels(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn maps_fields_to_sorted_series_and_groups_samples() {
        let pts = points(
            "disk,path=/,Host=web1,device=sda used_percent=41.5,free=1024i,ro=true,fs=\"ext4\" 2000\n\
             disk,device=sda,Host=web1,path=/ used_percent=40 1000\n\
             cpu.load,cpu=cpu-total 1m=0.5\n",
        );
        let req = encode(&pts, 3000);
        assert_eq!(
            flat(&req),
            [
                (
                    labels(&[
                        "Host=web1",
                        "__name__=disk_used_percent",
                        "device=sda",
                        "path=/"
                    ]),
                    vec![(1000, 40.0), (2000, 41.5)]
                ),
                (
                    labels(&["Host=web1", "__name__=disk_free", "device=sda", "path=/"]),
                    vec![(2000, 1024.0)]
                ),
                (
                    labels(&["Host=web1", "__name__=disk_ro", "device=sda", "path=/"]),
                    vec![(2000, 1.0)]
                ),
                // The string field `fs` made no series. Names are sanitized; a point
                // without a timestamp gets the write's time.
                (
                    labels(&["__name__=cpu_load_1m", "cpu=cpu-total"]),
                    vec![(3000, 0.5)]
                ),
            ]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn posts_a_snappy_protobuf_request_with_the_spec_headers() {
        let server = testserver::start(vec![Reply::status(204), Reply::status(204)]);
        let mut out = RemoteWrite::build(&Config {
            url: format!("{}/api/v1/write", server.url),
            bearer_token: "tok".into(),
            ..Config::default()
        })
        .expect("build");
        let out = tokio::task::spawn_blocking(move || {
            let pts = points(
                "mem,host=web1 used_percent=12.5,total=8000000000u 1700000000000\n\
                 mem,host=web1 used_percent=13 1700000010000\n",
            );
            out.write(&Batch {
                points: &pts,
                events: &[],
            })
            .expect("write");
            // Only strings: nothing to send, no request.
            let pts = points("log,host=web1 msg=\"hello\" 1\n");
            out.write(&Batch {
                points: &pts,
                events: &[],
            })
            .expect("write");
            out
        })
        .await
        .expect("join");
        let req = server.next();
        assert_eq!(req.method, "POST");
        assert_eq!(req.target, "/api/v1/write");
        assert_eq!(req.header("content-encoding"), Some("snappy"));
        assert_eq!(req.header("content-type"), Some("application/x-protobuf"));
        assert_eq!(
            req.header("x-prometheus-remote-write-version"),
            Some("0.1.0")
        );
        assert_eq!(req.header("authorization"), Some("Bearer tok"));
        let decoded = decode(&req.body).expect("snappy protobuf");
        assert_eq!(
            flat(&decoded),
            [
                (
                    labels(&["__name__=mem_used_percent", "host=web1"]),
                    vec![(1_700_000_000_000, 12.5), (1_700_000_010_000, 13.0)]
                ),
                (
                    labels(&["__name__=mem_total", "host=web1"]),
                    vec![(1_700_000_000_000, 8e9)]
                ),
            ]
        );
        drop(out);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn errors_carry_the_status_and_the_servers_message() {
        let server = testserver::start(vec![Reply {
            status: 400,
            body: "out of order sample\n".into(),
        }]);
        let mut out = RemoteWrite::build(&Config {
            url: format!("{}/api/v1/write", server.url),
            username: "u".into(),
            password: "p".into(),
            ..Config::default()
        })
        .expect("build");
        let err = tokio::task::spawn_blocking(move || {
            let pts = points("m v=1 1\n");
            out.write(&Batch {
                points: &pts,
                events: &[],
            })
        })
        .await
        .expect("join")
        .expect_err("400");
        assert_eq!(
            err.to_string(),
            format!(
                "POST {}/api/v1/write: 400 Bad Request: out of order sample",
                server.url
            )
        );
        assert_eq!(server.next().header("authorization"), Some("Basic dTpw"));
    }
}
