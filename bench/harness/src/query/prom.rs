//! **Prometheus** as a system under test: the data loaded as TSDB blocks by `promtool tsdb
//! create-blocks-from openmetrics`, then `prometheus` started on them with no scrape
//! targets, on a free port and a temporary directory, and killed when dropped. The `rules`
//! benchmark adds rule files, an Alertmanager and the remote-write receiver ([`Extra`]).

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub struct Prom {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub data_dir: PathBuf,
    log: PathBuf,
    _root: tempfile::TempDir,
}

/// promtool's block length: one or two blocks hold six hours, so Prometheus has nothing to
/// compact while it is measured.
const BLOCK_DURATION: &str = "24h";

/// What a benchmark adds to the plain Prometheus of the query benchmark.
#[derive(Default)]
pub struct Extra {
    /// YAML appended to the configuration file after `global` (`rule_files:`,
    /// `alerting:`); `global_extra` goes inside `global` (`evaluation_interval: 15s`).
    pub config: String,
    pub global_extra: String,
    /// More flags (`--web.enable-remote-write-receiver`).
    pub args: Vec<String>,
}

impl Prom {
    /// Builds the blocks from `openmetrics` and starts Prometheus on them. Returns the
    /// server and the seconds promtool took.
    pub fn start(
        prometheus: &Path,
        promtool: &Path,
        openmetrics: &Path,
        parent: &Path,
    ) -> anyhow::Result<(Self, f64)> {
        Self::start_with(
            prometheus,
            promtool,
            Some(openmetrics),
            parent,
            &Extra::default(),
        )
    }

    /// [`start`](Self::start) with `extra` configuration and flags; without `openmetrics`,
    /// on an empty data directory.
    pub fn start_with(
        prometheus: &Path,
        promtool: &Path,
        openmetrics: Option<&Path>,
        parent: &Path,
        extra: &Extra,
    ) -> anyhow::Result<(Self, f64)> {
        let root = tempfile::Builder::new()
            .prefix("argus-bench-prom-")
            .tempdir_in(parent)?;
        let data_dir = root.path().join("data");
        let t = Instant::now();
        if let Some(openmetrics) = openmetrics {
            let out = Command::new(promtool)
                .args(["tsdb", "create-blocks-from", "openmetrics"])
                .arg(format!("--max-block-duration={BLOCK_DURATION}"))
                .arg(openmetrics)
                .arg(&data_dir)
                .output()
                .with_context(|| format!("cannot run {}", promtool.display()))?;
            if !out.status.success() {
                bail!(
                    "promtool failed ({}): {}",
                    out.status,
                    crate::system::truncate(&String::from_utf8_lossy(&out.stderr), 600)
                );
            }
        }
        let load_s = t.elapsed().as_secs_f64();
        let config = root.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 15s\n{}{}",
                extra.global_extra, extra.config
            ),
        )?;
        let log = root.path().join("prometheus.log");
        let port = crate::system::free_port()?;
        let child = crate::system::spawn_logged(
            Command::new(prometheus)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.tsdb.path={}", data_dir.display()))
                .arg("--storage.tsdb.retention.time=100y")
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .args(&extra.args),
            &log,
        )?;
        Ok((
            Prom {
                child,
                base: format!("http://127.0.0.1:{port}"),
                data_dir,
                log,
                _root: root,
            },
            load_s,
        ))
    }

    /// Polls `/-/ready` until it answers 200 (the blocks are open).
    pub fn wait_ready(&mut self, client: &reqwest::blocking::Client) -> anyhow::Result<Duration> {
        let url = format!("{}/-/ready", self.base);
        let limit = Duration::from_secs(120);
        crate::system::poll_ready(
            "prometheus",
            &self.log,
            limit,
            Duration::from_millis(100),
            || {
                if crate::system::answers_ok(client.get(&url)) {
                    return Ok(true);
                }
                if let Some(status) = self.child.try_wait()? {
                    let tail = crate::system::log_tail(&self.log);
                    bail!("prometheus exited ({status}); log:\n{tail}");
                }
                Ok(false)
            },
        )
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The block directories Prometheus holds.
    pub fn blocks(&self) -> usize {
        std::fs::read_dir(&self.data_dir).map_or(0, |d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().join("meta.json").exists())
                .count()
        })
    }
}

impl Drop for Prom {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
