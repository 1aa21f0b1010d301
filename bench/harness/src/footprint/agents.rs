//! The three **agents** and what each needs around it to do its job for real: Argus's agent
//! ships to a real `argus server` (the *sink*, not measured) through a counting proxy,
//! node_exporter is scraped like Prometheus would, collectd's `network` plugin sends to a
//! UDP socket of the harness. Each side checks at the end that the data arrived; a run
//! without delivery is invalid.

use super::collectd;
use super::proxy::Proxy;
use crate::system::{free_port, log_tail, spawn_logged};
use anyhow::{Context, bail};
use clap::ValueEnum;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Agent {
    Argus,
    NodeExporter,
    Collectd,
}

impl Agent {
    pub const ALL: [Agent; 3] = [Agent::Argus, Agent::NodeExporter, Agent::Collectd];

    pub fn name(self) -> &'static str {
        match self {
            Agent::Argus => "Argus agent",
            Agent::NodeExporter => "node_exporter",
            Agent::Collectd => "collectd",
        }
    }
}

/// What an agent delivered during the run.
#[derive(Clone, Debug, Default)]
pub struct Shipped {
    /// Bytes on the wire from the agent: HTTP requests (Argus), scrape answers' bodies
    /// (node_exporter), UDP payloads (collectd).
    pub bytes: u64,
    /// Samples (values) delivered: accepted by the sink, in the scrapes, in the packets.
    pub samples: u64,
    /// The rest, in words: requests, series, packets.
    pub detail: String,
}

/// The agent-specific part of one measured run.
pub trait Driver {
    /// Starts the agent process; its output goes to `log`.
    fn spawn(&self, log: &Path) -> anyhow::Result<Child>;
    /// When the driver wants [`Driver::act`] called next, from the agent's start.
    fn next_due(&self) -> Option<Duration>;
    fn act(&mut self, elapsed: Duration);
    /// Called after the final reading, the agent still running: what it shipped, and the
    /// problems that make the run invalid (empty if none).
    fn finish(&mut self) -> (Shipped, Vec<String>);
}

/// Paths and settings every driver needs.
pub struct Setup<'a> {
    pub root: &'a Path,
    pub interval_secs: u64,
    pub seconds: u64,
}

fn client() -> anyhow::Result<reqwest::blocking::Client> {
    Ok(reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        // Bodies are counted as they come over the wire; the harness decompresses itself.
        .no_gzip()
        .build()?)
}

// ───────────────────────────── Argus ─────────────────────────────

/// The token of the sink server, given to the agent.
const TOKEN: &str = "t";

/// The Argus agent, shipping to an `argus server` through a [`Proxy`].
pub struct Argus {
    bin: PathBuf,
    config: PathBuf,
    data_dir: PathBuf,
    env: Vec<(String, String)>,
    sink: Sink,
    proxy: Proxy,
    client: reqwest::blocking::Client,
}

/// The agent's configuration: the default host inputs, collected every `interval_secs`,
/// without its local API and without pulling configuration from the server.
pub fn argus_config(interval_secs: u64) -> String {
    format!(
        "# Written by argus-bench footprint: default inputs (cpu, mem, swap, disk, diskio,\n\
         # net, load, system, processes), no local API, no remote configuration.\n\
         [agent]\ninterval_secs = {interval_secs}\napi_listen = \"\"\nremote_config_secs = 0\n"
    )
}

/// The `argus server` the agent ships to; not measured.
struct Sink {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Sink {
    fn start(bin: &Path, root: &Path, client: &reqwest::blocking::Client) -> anyhow::Result<Self> {
        let port = free_port()?;
        let log = root.join("sink.log");
        let mut cmd = Command::new(bin);
        cmd.args(["server", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--token", TOKEN, "--data-dir"])
            .arg(root.join("sink"));
        remove_argus_env(&mut cmd);
        let mut sink = Self {
            child: spawn_logged(&mut cmd, &log)?,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let started = Instant::now();
        loop {
            let r = client
                .get(format!("{}/health", sink.base))
                .bearer_auth(TOKEN)
                .send();
            if r.is_ok_and(|r| r.status().is_success()) {
                return Ok(sink);
            }
            if let Some(status) = sink.child.try_wait()? {
                bail!(
                    "the sink server exited ({status}); log:\n{}",
                    log_tail(&sink.log)
                );
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!(
                    "the sink server was not healthy within 60 s; log:\n{}",
                    log_tail(&sink.log)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn get(
        &self,
        client: &reqwest::blocking::Client,
        path: &str,
        query: &[(&str, &str)],
    ) -> anyhow::Result<String> {
        let mut url = format!("{}{path}", self.base);
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&format!("{}={}", url_encode(k), url_encode(v)));
        }
        let r = client.get(url).bearer_auth(TOKEN).send()?;
        let status = r.status();
        let body = r.text()?;
        if !status.is_success() {
            bail!(
                "GET {path}: {status}: {}",
                crate::system::truncate(&body, 200)
            );
        }
        Ok(body)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A config or token from the caller's environment would make the runs incomparable.
fn remove_argus_env(cmd: &mut Command) {
    for var in [
        "ARGUS_CONFIG",
        "ARGUS_LISTEN",
        "ARGUS_DATA_DIR",
        "ARGUS_TOKEN",
    ] {
        cmd.env_remove(var);
    }
}

impl Argus {
    /// Starts the sink (`sink_bin`, a copy of the Argus binary so the two processes share
    /// no page cache of the program) and the proxy; the agent itself starts in `spawn`.
    pub fn prepare(
        s: &Setup<'_>,
        bin: &Path,
        sink_bin: &Path,
        env: &[(String, String)],
    ) -> anyhow::Result<Self> {
        let client = client()?;
        let sink = Sink::start(sink_bin, s.root, &client)?;
        let upstream: SocketAddr = sink.base.trim_start_matches("http://").parse()?;
        let proxy = Proxy::start(upstream)?;
        let config = s.root.join("agent.toml");
        std::fs::write(&config, argus_config(s.interval_secs))?;
        Ok(Self {
            bin: bin.to_path_buf(),
            config,
            data_dir: s.root.join("agent"),
            env: env.to_vec(),
            sink,
            proxy,
            client,
        })
    }

    /// The sink's `argus_ingest_samples_total`; 0 if it does not answer.
    fn ingested_samples(&self) -> u64 {
        let metrics = self
            .sink
            .get(&self.client, "/metrics", &[])
            .unwrap_or_default();
        metric_value(&metrics, "argus_ingest_samples_total").unwrap_or(0.0) as u64
    }

    /// Series the sink holds for `query`, from `/api/v1/query`.
    fn series_of(&self, query: &str) -> anyhow::Result<usize> {
        let body = self
            .sink
            .get(&self.client, "/api/v1/query", &[("query", query)])?;
        let v: serde_json::Value = serde_json::from_str(&body)?;
        v["data"]["result"]
            .as_array()
            .map(Vec::len)
            .with_context(|| format!("no data.result in {}", crate::system::truncate(&body, 200)))
    }
}

impl Driver for Argus {
    fn spawn(&self, log: &Path) -> anyhow::Result<Child> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(["agent", "--server", &format!("http://{}", self.proxy.addr)])
            .args(["--token", TOKEN, "--data-dir"])
            .arg(&self.data_dir)
            .arg("--config")
            .arg(&self.config);
        remove_argus_env(&mut cmd);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        spawn_logged(&mut cmd, log)
    }

    fn next_due(&self) -> Option<Duration> {
        None
    }

    fn act(&mut self, _elapsed: Duration) {}

    fn finish(&mut self) -> (Shipped, Vec<String>) {
        let mut problems = Vec::new();
        // What was shipped by the final reading, before a collection due right at the end
        // adds to it; read again below if nothing had arrived yet.
        let mut samples = self.ingested_samples();
        let t = self.proxy.traffic.clone();
        let (bytes, connections, answered) = (
            t.sent.load(Ordering::Relaxed),
            t.connections.load(Ordering::Relaxed),
            t.answered.load(Ordering::Relaxed),
        );
        // Delivery may lag the collection: give it a few seconds.
        let started = Instant::now();
        let uptime = loop {
            let r = self.series_of("system_uptime");
            match r {
                Ok(n) if n >= 1 => break Ok(n),
                _ if started.elapsed() < Duration::from_secs(15) => {
                    std::thread::sleep(Duration::from_millis(250))
                }
                other => break other,
            }
        };
        match &uptime {
            Ok(n) if *n >= 1 => {}
            Ok(_) => problems.push(
                "the sink holds no `system_uptime` series: the agent delivered nothing".into(),
            ),
            Err(e) => problems.push(format!("the sink did not answer the query: {e:#}")),
        }
        let series = self
            .series_of("{__name__=~\".+\"}")
            .map_or_else(|e| format!("? ({e:#})"), |n| n.to_string());
        if samples == 0 {
            samples = self.ingested_samples();
        }
        let detail = format!(
            "HTTP to `argus server`: {series} series stored, {connections} TCP connection(s), \
             {answered} bytes answered"
        );
        (
            Shipped {
                bytes,
                samples,
                detail,
            },
            problems,
        )
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The value of an unlabelled metric in Prometheus text format.
fn metric_value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

// ───────────────────────────── node_exporter ─────────────────────────────

/// node_exporter with its default collectors, scraped every interval as Prometheus would
/// (gzip accepted): it collects when scraped.
pub struct NodeExporter {
    bin: PathBuf,
    port: u16,
    interval: Duration,
    scrapes_due: u64,
    next: Option<Duration>,
    scrapes: u64,
    failures: Vec<String>,
    bytes: u64,
    samples: u64,
    gzip: bool,
    client: reqwest::blocking::Client,
}

impl NodeExporter {
    pub fn prepare(s: &Setup<'_>, bin: &Path) -> anyhow::Result<Self> {
        Ok(Self {
            bin: bin.to_path_buf(),
            port: free_port()?,
            interval: Duration::from_secs(s.interval_secs),
            // At 0, interval, 2 × interval … before the end, as the other agents collect.
            scrapes_due: s.seconds.div_ceil(s.interval_secs),
            next: Some(Duration::ZERO),
            scrapes: 0,
            failures: Vec::new(),
            bytes: 0,
            samples: 0,
            gzip: false,
            client: client()?,
        })
    }

    fn scrape(&mut self) -> anyhow::Result<()> {
        let r = self
            .client
            .get(format!("http://127.0.0.1:{}/metrics", self.port))
            .header("Accept-Encoding", "gzip")
            .send()?;
        let status = r.status();
        let gzip = r
            .headers()
            .get("content-encoding")
            .is_some_and(|v| v.as_bytes() == b"gzip");
        let body = r.bytes()?;
        if !status.is_success() {
            bail!("answered {status}");
        }
        let text = if gzip {
            let mut out = String::new();
            flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut out)?;
            out
        } else {
            String::from_utf8_lossy(&body).into_owned()
        };
        self.gzip |= gzip;
        self.bytes += body.len() as u64;
        self.samples += count_samples(&text);
        Ok(())
    }
}

/// Sample lines in a Prometheus text exposition (not comments, not blank).
pub fn count_samples(text: &str) -> u64 {
    text.lines()
        .filter(|l| {
            let l = l.trim_start();
            !l.is_empty() && !l.starts_with('#')
        })
        .count() as u64
}

impl Driver for NodeExporter {
    fn spawn(&self, log: &Path) -> anyhow::Result<Child> {
        spawn_logged(
            Command::new(&self.bin).arg(format!("--web.listen-address=127.0.0.1:{}", self.port)),
            log,
        )
    }

    fn next_due(&self) -> Option<Duration> {
        self.next
    }

    fn act(&mut self, elapsed: Duration) {
        let k = self.scrapes + self.failures.len() as u64;
        match self.scrape() {
            Ok(()) => self.scrapes += 1,
            // Until it listens, the first scrape is tried again every 100 ms.
            Err(e) if k == 0 && elapsed < Duration::from_secs(10) && e.is::<reqwest::Error>() => {
                self.next = Some(elapsed + Duration::from_millis(100));
                return;
            }
            Err(e) => self.failures.push(format!("scrape {}: {e:#}", k + 1)),
        }
        let k = k + 1;
        self.next = (k < self.scrapes_due).then(|| self.interval * k as u32);
    }

    fn finish(&mut self) -> (Shipped, Vec<String>) {
        let mut problems = self.failures.clone();
        if self.scrapes + (self.failures.len() as u64) < self.scrapes_due {
            problems.push(format!(
                "only {} of {} scrapes made",
                self.scrapes + self.failures.len() as u64,
                self.scrapes_due
            ));
        }
        let detail = format!(
            "{} of {} scrapes answered 200 ({}), {} samples per scrape",
            self.scrapes,
            self.scrapes_due,
            if self.gzip { "gzip" } else { "plain" },
            self.samples.checked_div(self.scrapes).unwrap_or(0)
        );
        (
            Shipped {
                bytes: self.bytes,
                samples: self.samples,
                detail,
            },
            problems,
        )
    }
}

// ───────────────────────────── collectd ─────────────────────────────

/// collectd in the foreground, shipping to a UDP [`collectd::Sink`].
pub struct Collectd {
    bin: PathBuf,
    config: PathBuf,
    sink: collectd::Sink,
}

impl Collectd {
    pub fn prepare(s: &Setup<'_>, bin: &Path, plugin_dir: &Path) -> anyhow::Result<Self> {
        let sink = collectd::Sink::start()?;
        let base = s.root.join("collectd");
        std::fs::create_dir_all(&base)?;
        let config = s.root.join("collectd.conf");
        std::fs::write(
            &config,
            collectd::config(&base, plugin_dir, s.interval_secs, sink.port),
        )?;
        Ok(Self {
            bin: bin.to_path_buf(),
            config,
            sink,
        })
    }
}

impl Driver for Collectd {
    fn spawn(&self, log: &Path) -> anyhow::Result<Child> {
        spawn_logged(
            Command::new(&self.bin)
                .arg("-f")
                .arg("-C")
                .arg(&self.config),
            log,
        )
    }

    fn next_due(&self) -> Option<Duration> {
        None
    }

    fn act(&mut self, _elapsed: Duration) {}

    fn finish(&mut self) -> (Shipped, Vec<String>) {
        let r = &self.sink.received;
        let packets = r.packets.load(Ordering::Relaxed);
        let malformed = r.malformed.load(Ordering::Relaxed);
        let mut problems = Vec::new();
        if packets == 0 {
            problems.push("no UDP packet arrived from collectd's network plugin".into());
        }
        let mut detail = format!("{packets} UDP packets (binary protocol)");
        if malformed > 0 {
            detail.push_str(&format!(", {malformed} of them not parsed"));
        }
        (
            Shipped {
                bytes: r.bytes.load(Ordering::Relaxed),
                samples: r.values.load(Ordering::Relaxed),
                detail,
            },
            problems,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argus_config_sets_interval_and_turns_off_api_and_remote_config() {
        let c = argus_config(10);
        assert!(c.contains("[agent]\ninterval_secs = 10\n"), "{c}");
        assert!(c.contains("api_listen = \"\"\n"), "{c}");
        assert!(c.contains("remote_config_secs = 0\n"), "{c}");
        // No input is named: the defaults run.
        assert!(!c.contains("[agent.inputs"), "{c}");
    }

    #[test]
    fn samples_in_an_exposition() {
        let text = "# HELP node_load1 1m load average.\n# TYPE node_load1 gauge\n\
                    node_load1 0.5\n\nnode_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 12.5\n";
        assert_eq!(count_samples(text), 2);
    }

    #[test]
    fn query_encoded() {
        assert_eq!(
            url_encode("{__name__=~\".+\"}"),
            "%7B__name__%3D~%22.%2B%22%7D"
        );
        assert_eq!(url_encode("system_uptime"), "system_uptime");
    }

    #[test]
    fn unlabelled_metric_value() {
        let text = "argus_ingest_samples_total_x 1\nargus_ingest_samples_total 420\n";
        assert_eq!(
            metric_value(text, "argus_ingest_samples_total"),
            Some(420.0)
        );
        assert_eq!(metric_value(text, "argus_nope"), None);
    }
}
