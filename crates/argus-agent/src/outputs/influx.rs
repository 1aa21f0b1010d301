//! `type = "influx"`: each round's points POSTed as line protocol to an Influx write
//! endpoint: InfluxDB 1.x `/write?db=`, 2.x `/api/v2/write?org=&bucket=`, or anything that
//! speaks either (VictoriaMetrics, Telegraf's `http_listener_v2`, QuestDB, the Argus
//! server).
//!
//! `url` is the full write URL. The agent's timestamps are milliseconds, so the output adds
//! `precision=ms` (a URL with another precision is refused at start). Events are not sent:
//! line protocol has no place for them. A batch whose request fails is not retried (the
//! error is the output's last error); the Argus server output is the durable one.

use super::encode_points;
use super::http::{Auth, HttpClient, auth, parse_url};
use crate::output::{Batch, Output};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write as _;

/// `[[agent.outputs]]` with `type = "influx"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The write URL, with its query: `http://influx:8086/write?db=telegraf` or
    /// `http://influx:8086/api/v2/write?org=acme&bucket=hosts`.
    pub url: String,
    /// InfluxDB 2.x API token, sent as `Authorization: Token <token>`.
    #[serde(default)]
    pub token: String,
    /// InfluxDB 1.x user (HTTP basic authentication).
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    /// Compress request bodies with gzip (`Content-Encoding: gzip`).
    #[serde(default)]
    pub gzip: bool,
    /// Seconds before a request is abandoned.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

fn default_timeout_secs() -> u64 {
    10
}

impl Default for Config {
    fn default() -> Self {
        Config {
            url: "http://127.0.0.1:8086/write?db=argus".to_string(),
            token: String::new(),
            username: String::new(),
            password: String::new(),
            gzip: false,
            timeout_secs: default_timeout_secs(),
            headers: BTreeMap::new(),
        }
    }
}

/// The built output.
pub struct Influx {
    url: reqwest::Url,
    auth: Auth,
    gzip: bool,
    client: HttpClient,
    buf: String,
}

/// `url` with `precision=ms`, which it must not contradict.
fn with_precision(mut url: reqwest::Url) -> anyhow::Result<reqwest::Url> {
    match url.query_pairs().find(|(k, _)| k == "precision") {
        Some((_, v)) if v == "ms" => {}
        Some((_, v)) => anyhow::bail!(
            "url: precision={v}: the agent writes millisecond timestamps; remove `precision` or set it to ms"
        ),
        None => {
            url.query_pairs_mut().append_pair("precision", "ms");
        }
    }
    Ok(url)
}

impl Influx {
    /// Must be called inside the agent's tokio runtime (see [`super::http`]).
    pub fn build(config: &Config) -> anyhow::Result<Self> {
        Ok(Influx {
            url: with_precision(parse_url(&config.url)?)?,
            auth: auth(
                "Token",
                &config.token,
                &config.username,
                &config.password,
                "token",
            )?,
            gzip: config.gzip,
            client: HttpClient::new(config.timeout_secs, &config.headers)?,
            buf: String::new(),
        })
    }
}

impl Output for Influx {
    fn name(&self) -> &str {
        "influx"
    }

    fn write(&mut self, batch: &Batch<'_>) -> anyhow::Result<()> {
        self.buf.clear();
        encode_points(batch.points, &mut self.buf);
        if self.buf.is_empty() {
            return Ok(());
        }
        let (body, encoding) = if self.gzip {
            let mut gz = flate2::write::GzEncoder::new(
                Vec::with_capacity(self.buf.len() / 4),
                flate2::Compression::fast(),
            );
            gz.write_all(self.buf.as_bytes())?;
            (gz.finish()?, Some(("Content-Encoding", "gzip")))
        } else {
            (self.buf.as_bytes().to_vec(), None)
        };
        let mut headers = vec![("Content-Type", "text/plain; charset=utf-8")];
        headers.extend(encoding);
        self.client.post(&self.url, &self.auth, &headers, body)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testserver::{self, Reply};
    use super::*;
    use crate::processors::testutil::points;
    use std::io::Read as _;

    const LINES: &str = "cpu,host=web1,cpu=cpu-total usage_idle=97.5 1700000000000\n\
                         disk,host=web1,path=/ used_percent=41.25,free=1024i 1700000000000\n";

    /// Builds the output here (inside the runtime) and writes from a blocking thread, as
    /// the runtime does.
    async fn write(config: Config, lines: &'static str) -> anyhow::Result<()> {
        let mut out = Influx::build(&config)?;
        tokio::task::spawn_blocking(move || {
            let pts = points(lines);
            out.write(&Batch {
                points: &pts,
                events: &[],
            })
        })
        .await
        .expect("join")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn posts_line_protocol_in_milliseconds_with_v2_token() {
        let server = testserver::start(vec![Reply::status(204)]);
        write(
            Config {
                url: format!("{}/api/v2/write?org=acme&bucket=hosts", server.url),
                token: "s3cret".into(),
                headers: BTreeMap::from([("X-Tenant".into(), "t1".into())]),
                ..Config::default()
            },
            LINES,
        )
        .await
        .expect("write");
        let req = server.next();
        assert_eq!(req.method, "POST");
        assert_eq!(
            req.target,
            "/api/v2/write?org=acme&bucket=hosts&precision=ms"
        );
        assert_eq!(req.header("authorization"), Some("Token s3cret"));
        assert_eq!(
            req.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(req.header("x-tenant"), Some("t1"));
        assert_eq!(req.header("content-encoding"), None);
        assert_eq!(String::from_utf8(req.body).expect("utf-8"), LINES);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn v1_basic_auth_and_gzip() {
        let server = testserver::start(vec![Reply::status(204)]);
        write(
            Config {
                url: format!("{}/write?db=telegraf&precision=ms", server.url),
                username: "argus".into(),
                password: "pw".into(),
                gzip: true,
                ..Config::default()
            },
            LINES,
        )
        .await
        .expect("write");
        let req = server.next();
        assert_eq!(req.target, "/write?db=telegraf&precision=ms");
        // base64("argus:pw")
        assert_eq!(req.header("authorization"), Some("Basic YXJndXM6cHc="));
        assert_eq!(req.header("content-encoding"), Some("gzip"));
        let mut text = String::new();
        flate2::read::GzDecoder::new(&req.body[..])
            .read_to_string(&mut text)
            .expect("gunzip");
        assert_eq!(text, LINES);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn errors_carry_the_status_and_the_servers_message() {
        let server = testserver::start(vec![Reply {
            status: 400,
            body: r#"{"code":"invalid","message":"partial write: field type conflict"}"#.into(),
        }]);
        let err = write(
            Config {
                url: format!("{}/api/v2/write?bucket=b&org=o", server.url),
                ..Config::default()
            },
            LINES,
        )
        .await
        .expect_err("400");
        assert_eq!(
            err.to_string(),
            format!(
                "POST {}/api/v2/write?bucket=b&org=o&precision=ms: 400 Bad Request: partial write: field type conflict",
                server.url
            )
        );
        // Nobody listening: the cause is in the message.
        let port = testserver::free_port();
        let err = write(
            Config {
                url: format!("http://127.0.0.1:{port}/write?db=x"),
                timeout_secs: 2,
                ..Config::default()
            },
            LINES,
        )
        .await
        .expect_err("refused")
        .to_string();
        assert!(err.contains("refused"), "{err}");
    }

    #[tokio::test]
    async fn empty_batches_send_nothing_and_bad_options_fail_the_build() {
        // No server at all: an empty batch must not try to connect.
        write(
            Config {
                url: "http://127.0.0.1:9/write?db=x".into(),
                ..Config::default()
            },
            "",
        )
        .await
        .expect("nothing to send");
        let err = Influx::build(&Config {
            url: "http://h/write?db=x&precision=s".into(),
            ..Config::default()
        })
        .err()
        .expect("precision")
        .to_string();
        assert!(err.starts_with("url: precision=s: "), "{err}");
        let err = Influx::build(&Config {
            token: "t".into(),
            username: "u".into(),
            ..Config::default()
        })
        .err()
        .expect("two auths")
        .to_string();
        assert_eq!(err, "set either `token` or `username`/`password`, not both");
    }
}
