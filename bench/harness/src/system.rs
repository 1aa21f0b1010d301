//! A **system under test**: an Argus server or a VictoriaMetrics process that the benchmark
//! starts on a fresh directory and a free port, talks to over HTTP, and stops.
//!
//! Each one gets its own temporary root holding `data/` (the only directory measured) and
//! its log, which stays out of the measurement.

use anyhow::{Context, bail};
use reqwest::blocking::{Client, RequestBuilder};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Argus,
    Vm,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Argus => "Argus",
            Kind::Vm => "VictoriaMetrics",
        }
    }
}

pub struct Server {
    pub kind: Kind,
    child: Child,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    token: Option<String>,
    pub data_dir: PathBuf,
    log: PathBuf,
    /// How it was started, to start it again ([`Server::restart`]).
    program: PathBuf,
    args: Vec<std::ffi::OsString>,
    /// Dropped last: removes the data and the log.
    _root: tempfile::TempDir,
}

/// How long a flush and its compaction may take before the benchmark measures anyway.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// How a flush-and-compact request went.
pub struct Flush {
    /// What was asked and answered, for the report.
    pub note: String,
    /// From the request until the data directory stopped changing (for VictoriaMetrics
    /// this includes the 3 s quiet windows between its flush and merge rounds).
    pub seconds: f64,
}

impl Server {
    /// Starts `argus server` and reads its URL from the banner it prints once listening.
    pub fn start_argus(bin: &Path, parent: &Path) -> anyhow::Result<Self> {
        Self::start_argus_with(bin, parent, None)
    }

    /// [`start_argus`](Self::start_argus) with a config file holding `config` (TOML), for
    /// a benchmark that measures a setting (the `inventory` one: `[database] url`).
    pub fn start_argus_with(
        bin: &Path,
        parent: &Path,
        config: Option<&str>,
    ) -> anyhow::Result<Self> {
        let root = tempfile::Builder::new()
            .prefix("argus-bench-argus-")
            .tempdir_in(parent)?;
        let data_dir = root.path().join("data");
        let log = root.path().join("argus.log");
        let token = format!("bench-{}-{}", std::process::id(), crate::probe::now_ms());
        let mut args: Vec<std::ffi::OsString> = ["server", "--listen", "127.0.0.1:0", "--data-dir"]
            .iter()
            .map(Into::into)
            .collect();
        args.push(data_dir.clone().into());
        args.extend(["--token".into(), token.clone().into()]);
        if let Some(text) = config {
            let path = root.path().join("argus.toml");
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            args.push("--config".into());
            args.push(path.into());
        }
        let (child, base) = spawn_argus(bin, &args, &log)?;
        Ok(Self {
            kind: Kind::Argus,
            child,
            base,
            token: Some(token),
            data_dir,
            log,
            program: bin.to_path_buf(),
            args,
            _root: root,
        })
    }

    /// Stops the process (SIGKILL when `hard`, else SIGTERM and a wait of up to 60 s) and
    /// starts it again on the same data; returns when the new process was started (for
    /// Argus: once it printed its URL, which is timed from the spawn all the same).
    pub fn restart(&mut self, hard: bool) -> anyhow::Result<Instant> {
        if hard {
            self.child.kill()?;
            self.child.wait()?;
        } else {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let started = Instant::now();
            while self.child.try_wait()?.is_none() {
                if started.elapsed() > Duration::from_secs(60) {
                    self.child.kill()?;
                    self.child.wait()?;
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let started = Instant::now();
        match self.kind {
            Kind::Argus => {
                let (child, base) = spawn_argus(&self.program, &self.args, &self.log)?;
                self.child = child;
                self.base = base;
            }
            Kind::Vm => {
                self.child = spawn_logged(Command::new(&self.program).args(&self.args), &self.log)?;
            }
        }
        Ok(started)
    }

    /// Starts VictoriaMetrics with its defaults, except the listen address, the data path
    /// and a retention long enough never to drop the data set.
    pub fn start_vm(bin: &Path, parent: &Path) -> anyhow::Result<Self> {
        let root = tempfile::Builder::new()
            .prefix("argus-bench-vm-")
            .tempdir_in(parent)?;
        let data_dir = root.path().join("data");
        let log = root.path().join("victoria-metrics.log");
        let port = free_port()?;
        let args: Vec<std::ffi::OsString> = vec![
            format!("-storageDataPath={}", data_dir.display()).into(),
            format!("-httpListenAddr=127.0.0.1:{port}").into(),
            "-retentionPeriod=100y".into(),
        ];
        let child = spawn_logged(Command::new(bin).args(&args), &log)
            .context("on a fresh machine: apt-get install victoria-metrics")?;
        Ok(Self {
            kind: Kind::Vm,
            child,
            base: format!("http://127.0.0.1:{port}"),
            token: None,
            data_dir,
            log,
            program: bin.to_path_buf(),
            args,
            _root: root,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The bearer token this system wants, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Adds the credentials this system wants, if any.
    pub fn auth(&self, req: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    pub fn write_url(&self) -> String {
        format!("{}/write?precision=ms", self.base)
    }

    /// Polls `GET /health` until it answers 200.
    pub fn wait_ready(&mut self, client: &Client) -> anyhow::Result<Duration> {
        let url = format!("{}/health", self.base);
        let log = self.log.clone();
        let limit = Duration::from_secs(120);
        poll_ready(
            self.kind.name(),
            &log,
            limit,
            Duration::from_millis(100),
            || {
                if answers_ok(self.auth(client.get(&url))) {
                    return Ok(true);
                }
                self.check_alive()?;
                Ok(false)
            },
        )
    }

    fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited early ({status}); log:\n{}",
                self.kind.name(),
                self.log_tail()
            );
        }
        Ok(())
    }

    /// Makes everything ingested durable and compacted as far as the system goes, then
    /// waits until the data directory stops changing.
    ///
    /// Argus: `POST /api/argus/admin/flush`. VictoriaMetrics: `/internal/force_flush`, then
    /// `/internal/force_merge` for each month partition of the data (`months`, `YYYY_MM`)
    /// until each has one part (at most 3 rounds), waiting each time until its merge and
    /// pending-row gauges are zero and the directory is still.
    pub fn flush(&mut self, client: &Client, months: &[String]) -> anyhow::Result<Flush> {
        let started = Instant::now();
        let mut notes = Vec::new();
        match self.kind {
            Kind::Argus => {
                let url = format!("{}/api/argus/admin/flush", self.base);
                let r = self.auth(client.post(&url)).send()?;
                let status = r.status();
                let body = r.text().unwrap_or_default();
                notes.push(match status.as_u16() {
                    404 => "`POST /api/argus/admin/flush` answered 404 (not built yet): \
                            measured without a flush"
                        .to_string(),
                    s if status.is_success() => {
                        format!("`POST /api/argus/admin/flush` answered {s}")
                    }
                    s => format!(
                        "`POST /api/argus/admin/flush` FAILED with {s}: {}",
                        truncate(&body, 300)
                    ),
                });
            }
            Kind::Vm => {
                let r = client
                    .get(format!("{}/internal/force_flush", self.base))
                    .send()?;
                notes.push(format!("`/internal/force_flush` answered {}", r.status()));
                // A force merge leaves out parts that a background merge holds: let those
                // finish first, and merge again while a partition has more than one part.
                self.wait_settled(client, SETTLE_TIMEOUT)?;
                for round in 1..=3 {
                    for m in months {
                        let r = client
                            .get(format!(
                                "{}/internal/force_merge?partition_prefix={m}",
                                self.base
                            ))
                            .send()?;
                        if round == 1 {
                            notes.push(format!(
                                "`/internal/force_merge?partition_prefix={m}` answered {}",
                                r.status()
                            ));
                        }
                    }
                    // force_merge answers at once and merges in the background.
                    std::thread::sleep(Duration::from_millis(500));
                    self.wait_settled(client, SETTLE_TIMEOUT)?;
                    let text = client
                        .get(format!("{}/metrics", self.base))
                        .send()?
                        .text()?;
                    let parts = metric_sum(&text, "vm_parts", "type=\"storage/").unwrap_or(0.0);
                    if parts <= months.len() as f64 || round == 3 {
                        notes.push(format!(
                            "{parts} storage part(s) left after {round} force merge round(s)"
                        ));
                        break;
                    }
                }
            }
        }
        let settled = self.wait_settled(client, SETTLE_TIMEOUT)?;
        let until = settled.unwrap_or_else(|| {
            notes.push("did NOT settle within 30 min: measured anyway".into());
            Instant::now()
        });
        Ok(Flush {
            note: notes.join("; "),
            seconds: until.saturating_duration_since(started).as_secs_f64(),
        })
    }

    /// Once the data directory's size has not changed for 3 s and (VictoriaMetrics) no merge
    /// is running and no rows are pending: when that quiet time began. None at the timeout.
    fn wait_settled(
        &mut self,
        client: &Client,
        timeout: Duration,
    ) -> anyhow::Result<Option<Instant>> {
        let started = Instant::now();
        let mut last = crate::probe::disk_usage(&self.data_dir);
        let mut quiet_since = Instant::now();
        while started.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(500));
            self.check_alive()?;
            let now = crate::probe::disk_usage(&self.data_dir);
            let busy = match self.kind {
                Kind::Vm => self.vm_busy(client).unwrap_or(true),
                Kind::Argus => false,
            };
            if now != last || busy {
                last = now;
                quiet_since = Instant::now();
            } else if quiet_since.elapsed() >= Duration::from_secs(3) {
                return Ok(Some(quiet_since));
            }
        }
        Ok(None)
    }

    /// Whether VictoriaMetrics reports merges running or rows not yet in parts.
    fn vm_busy(&self, client: &Client) -> anyhow::Result<bool> {
        let text = client
            .get(format!("{}/metrics", self.base))
            .send()?
            .error_for_status()?
            .text()?;
        Ok(vm_busy_in(&text))
    }

    /// What the system's own `/metrics` says it took in and holds (see `REPORTED` in it);
    /// figures it does not expose are left out.
    pub fn self_report(&self, client: &Client) -> Vec<Reported> {
        use Expect::{Info, Samples, Series, Zero};
        use Kind::{Argus, Vm};
        /// The figures read from each system's `/metrics`: (system, metric name, label filter —
        /// a prefix of the label set, values summed over matching lines — and expectation).
        const REPORTED: &[(Kind, &str, &str, Expect)] = &[
            (Argus, "argus_ingest_samples_total", "", Samples),
            (Argus, "argus_ingest_rejected_requests_total", "", Zero),
            (Argus, "argus_storage_series", "", Series),
            (Argus, "argus_storage_samples", "", Samples),
            (Argus, "argus_storage_bytes", "", Info),
            (Vm, "vm_rows_inserted_total", "type=\"influx\"", Samples),
            (Vm, "vm_rows_invalid_total", "type=\"influx\"", Zero),
            (Vm, "vm_rows_ignored_total", "", Zero),
            // Not a series count: concurrent inserts may register the same series more
            // than once.
            (Vm, "vm_new_timeseries_created_total", "", Info),
            (Vm, "vm_rows", "type=\"storage/", Samples),
            (Vm, "vm_parts", "type=\"storage/big\"", Info),
            (Vm, "vm_parts", "type=\"storage/small\"", Info),
        ];
        let text = self
            .auth(client.get(format!("{}/metrics", self.base)))
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.text())
            .unwrap_or_default();
        REPORTED
            .iter()
            .filter(|r| r.0 == self.kind)
            .filter_map(|&(_, name, filter, expect)| {
                let value = metric_sum(&text, name, filter)?;
                let label = if filter.is_empty() {
                    name.to_string()
                } else {
                    format!("{name}{{{filter}…}}")
                };
                Some(Reported {
                    name: label,
                    value,
                    expect,
                })
            })
            .collect()
    }

    /// `GET /api/argus/admin/tsdb`, pretty-printed, if it answers 200 with JSON.
    pub fn tsdb_stats(&self, client: &Client) -> Option<String> {
        if self.kind != Kind::Argus {
            return None;
        }
        let r = self
            .auth(client.get(format!("{}/api/argus/admin/tsdb", self.base)))
            .send()
            .ok()?;
        if r.status().as_u16() != 200 {
            return None;
        }
        let v: serde_json::Value = r.json().ok()?;
        serde_json::to_string_pretty(&v).ok()
    }

    /// Asks the process to stop (SIGTERM), waits up to 60 s, then kills it.
    pub fn stop(mut self) -> anyhow::Result<String> {
        let started = Instant::now();
        // `kill` the command: std has no SIGTERM, and this crate takes no unsafe or libc.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        while started.elapsed() < Duration::from_secs(60) {
            if let Some(status) = self.child.try_wait()? {
                return Ok(format!(
                    "stopped by SIGTERM in {:.1} s ({status})",
                    started.elapsed().as_secs_f64()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.child.kill()?;
        self.child.wait()?;
        Ok("did not stop within 60 s of SIGTERM: killed".into())
    }

    /// The last lines of the process's log, for error messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // After an error midway: leave no server running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a self-reported figure should equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The samples sent.
    Samples,
    /// The series in the data set.
    Series,
    Zero,
    /// Nothing to check against.
    Info,
}

pub struct Reported {
    pub name: String,
    pub value: f64,
    pub expect: Expect,
}

/// Sum of the values of metric `name` over the lines whose label set starts with
/// `filter`, in Prometheus text format; None if no line matches.
fn metric_sum(text: &str, name: &str, filter: &str) -> Option<f64> {
    let mut sum = None;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let labels_ok = match rest.strip_prefix('{') {
            Some(labels) => labels.starts_with(filter),
            None => filter.is_empty() && rest.starts_with(' '),
        };
        if !labels_ok {
            continue;
        }
        if let Some(v) = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
            *sum.get_or_insert(0.0) += v;
        }
    }
    sum
}

/// Parses VictoriaMetrics's `/metrics` text: busy while any merge or pending-row gauge is
/// above zero.
fn vm_busy_in(metrics: &str) -> bool {
    metrics.lines().any(|l| {
        let gauge = l.starts_with("vm_active_force_merges")
            || l.starts_with("vm_active_merges{")
            || l.starts_with("vm_pending_rows{");
        gauge
            && l.rsplit(' ')
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .is_some_and(|v| v > 0.0)
    })
}

pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The last 20 lines of the log file at `path` (empty if unreadable).
pub fn log_tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Spawns `cmd` with no stdin and stdout and stderr into `log` (created afresh).
pub fn spawn_logged(cmd: &mut Command, log: &Path) -> anyhow::Result<Child> {
    let file = std::fs::File::create(log)?;
    cmd.stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .with_context(|| format!("cannot start {:?}", cmd.get_program()))
}

/// Starts `argus` with `args`, its stderr to `log` (appended: a restart keeps the earlier
/// lines), and reads its URL from the banner it prints once listening.
fn spawn_argus(
    bin: &Path,
    args: &[std::ffi::OsString],
    log: &Path,
) -> anyhow::Result<(Child, String)> {
    let mut child = Command::new(bin)
        .args(args)
        // A config from the caller's environment would make the runs incomparable.
        .env_remove("ARGUS_CONFIG")
        .env_remove("ARGUS_LISTEN")
        .env_remove("ARGUS_DATA_DIR")
        .env_remove("ARGUS_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)?,
        )
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let stdout = child.stdout.take().context("no stdout pipe")?;
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads the banner, then keeps draining stdout so the server never blocks on it.
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(url) = line.trim().strip_prefix("URL:")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(url.trim().trim_end_matches('/').to_string());
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(url) => return Ok((child, url)),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "argus closed stdout without printing its URL; log:\n{}",
                    log_tail(log)
                )
            }
        }
        if let Some(status) = child.try_wait()? {
            bail!("argus exited early ({status}); log:\n{}", log_tail(log));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("argus printed no URL within 120 s; log:\n{}", log_tail(log));
        }
    }
}

/// A free port on 127.0.0.1: taken from the kernel and handed over (a small race).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Polls `probe` every `every` until it says ready (`Ok(true)`) and returns how long that
/// took; `probe` fails at once for a process that has exited. After `limit`: an error naming
/// `what`, with the last lines of its `log`.
pub fn poll_ready(
    what: &str,
    log: &Path,
    limit: Duration,
    every: Duration,
    mut probe: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        if probe()? {
            return Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            bail!(
                "{what} not ready within {} s; log:\n{}",
                limit.as_secs(),
                log_tail(log)
            );
        }
        std::thread::sleep(every);
    }
}

/// Whether a request gets a 2xx answer.
pub fn answers_ok(req: RequestBuilder) -> bool {
    req.send().is_ok_and(|r| r.status().is_success())
}

/// The Argus and VictoriaMetrics binaries, the two servers the `tsdb`, `pipeline` and
/// `query` benchmarks start (`--argus`, `--vm`).
#[derive(clap::Args, Debug)]
pub struct Binaries {
    /// The Argus binary (`cargo build --release -p argus`).
    #[arg(long, default_value = "target/release/argus")]
    pub argus: PathBuf,
    /// The VictoriaMetrics binary (`apt-get install victoria-metrics`).
    #[arg(long, default_value = "/usr/bin/victoria-metrics")]
    pub vm: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_gauges_decide_busy() {
        let idle = "vm_active_force_merges 0\nvm_active_merges{type=\"storage/big\"} 0\n\
                    vm_pending_rows{type=\"storage\"} 0\nvm_merges_total{type=\"indexdb\"} 9\n";
        assert!(!vm_busy_in(idle));
        assert!(vm_busy_in(&format!(
            "{idle}vm_active_merges{{type=\"storage/small\"}} 1\n"
        )));
        assert!(vm_busy_in("vm_active_force_merges 1\n"));
        assert!(vm_busy_in("vm_pending_rows{type=\"indexdb\"} 12\n"));
    }

    #[test]
    fn metric_sums_by_name_and_label_prefix() {
        let text = "vm_rows{type=\"storage/big\"} 10\nvm_rows{type=\"storage/small\"} 5\n\
                    vm_rows{type=\"indexdb\"} 100\nvm_rows_merged_total{type=\"storage/big\"} 7\n\
                    # HELP argus_x help\nargus_x 3\nargus_x_total 4\n";
        assert_eq!(metric_sum(text, "vm_rows", "type=\"storage/"), Some(15.0));
        assert_eq!(metric_sum(text, "vm_rows", ""), Some(115.0));
        assert_eq!(metric_sum(text, "argus_x", ""), Some(3.0));
        assert_eq!(metric_sum(text, "argus_y", ""), None);
    }

    #[test]
    fn truncate_keeps_char_boundaries() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("é€x", 3), "é…");
    }
}
