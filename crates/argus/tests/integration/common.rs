//! Starting and stopping a real `argus` process for a test.

use std::io::{BufRead, BufReader};

use reqwest::blocking::RequestBuilder;
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_argus");

/// A running `argus up` or `argus server`; killed when dropped.
pub struct Argus {
    child: Child,
    pub url: String,
    pub token: String,
    /// The admin user's password, when the banner printed one (first start).
    pub admin_password: Option<String>,
    /// The agent's local API, when the process runs one.
    pub agent_api: Option<String>,
    pub dir: tempfile::TempDir,
}

impl Drop for Argus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|e| panic!("http client: {e}"))
}

/// Starts `argus <role>` with `config` (TOML) on 127.0.0.1:0 and waits for its banner,
/// which is printed once the listener is bound.
pub fn start(role: &str, config: &str) -> Argus {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    start_in(role, config, dir)
}

/// Like [`start`], on an existing directory (its `data/` is kept: a restart).
pub fn start_in(role: &str, config: &str, dir: tempfile::TempDir) -> Argus {
    start_with(&[role], config, dir)
}

/// Like [`start_in`] with more arguments: `["server", "--role", "handlers"]`.
pub fn start_with(args: &[&str], config: &str, dir: tempfile::TempDir) -> Argus {
    spawn(args, config, dir, "warn", Stdio::inherit())
}

/// Like [`start_with`], logging at debug level into the file `log`.
pub fn start_logged(
    args: &[&str],
    config: &str,
    dir: tempfile::TempDir,
    log: &std::path::Path,
) -> Argus {
    let file = std::fs::File::create(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    spawn(args, config, dir, "debug", Stdio::from(file))
}

fn spawn(
    args: &[&str],
    config: &str,
    dir: tempfile::TempDir,
    log_level: &str,
    stderr: Stdio,
) -> Argus {
    let cfg = dir.path().join("argus.toml");
    std::fs::write(&cfg, config).unwrap_or_else(|e| panic!("write config: {e}"));
    // Only a generated token's hash is kept: a restart presents the first start's token
    // again with --token (the banner shows it then).
    let known = dir.path().join("test-token");
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    if let Ok(t) = std::fs::read_to_string(&known) {
        cmd.arg("--token").arg(t.trim());
    }
    let mut child = cmd
        .arg("--config")
        .arg(&cfg)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env_remove("ARGUS_TOKEN")
        .env_remove("ARGUS_ADMIN_PASSWORD")
        .env("RUST_LOG", log_level)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {BIN}: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut url = String::new();
    let mut token = String::new();
    let mut agent_api = None;
    let mut admin_password = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap_or_default();
        if let Some(u) = line.trim().strip_prefix("Agent API:") {
            agent_api = Some(u.trim().trim_end_matches("/plugins/list").to_string());
        }
        if let Some(u) = line.trim().strip_prefix("URL:") {
            url = u.trim().trim_end_matches('/').to_string();
        }
        if let Some(p) = line.trim().strip_prefix("Login: admin / ") {
            admin_password = p.split_whitespace().next().map(str::to_string);
        }
        if let Some(t) = line.trim().strip_prefix("Token:") {
            token = t.split_whitespace().next().unwrap_or("").to_string();
        }
        if !url.is_empty() && !token.is_empty() {
            break;
        }
    }
    assert!(
        !url.is_empty() && !token.is_empty(),
        "argus printed no URL/token"
    );
    let _ = std::fs::write(&known, &token);
    Argus {
        child,
        url,
        token,
        admin_password,
        agent_api,
        dir,
    }
}

/// Sends `req` (panicking, naming `what`, if it cannot be sent) and returns the status and
/// the JSON body (`Null` when the body is not JSON).
pub fn send(req: RequestBuilder, what: &str) -> (u16, Value) {
    let resp = req.send().unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

/// Writes `cpu_usage_idle` of each `(host, idle)` now, through `/write`.
pub fn write_idle(argus: &Argus, hosts: &[(&str, f64)]) {
    let now = argus_core::now_ms();
    let body: String = hosts
        .iter()
        .map(|(h, v)| format!("cpu,host={h} usage_idle={v} {now}\n"))
        .collect();
    let r = client()
        .post(format!("{}/write?precision=ms", argus.url))
        .bearer_auth(&argus.token)
        .body(body)
        .send()
        .unwrap_or_else(|e| panic!("write: {e}"));
    assert_eq!(r.status().as_u16(), 204);
}

/// A request with an optional bearer credential.
pub fn call(
    argus: &Argus,
    method: reqwest::Method,
    path: &str,
    cred: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = client().request(method.clone(), format!("{}{path}", argus.url));
    if let Some(c) = cred {
        req = req.bearer_auth(c);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    send(req, &format!("{method} {path}"))
}

/// The `error` message of an API answer, "" if it has none.
pub fn error_of(body: &Value) -> &str {
    body["error"].as_str().unwrap_or("")
}

/// A metric's value at `/metrics` (the exact series, labels included), if present.
pub fn metric(argus: &Argus, series: &str) -> Option<f64> {
    argus.metrics_text().lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

/// Polls `f` until it returns `Some`, or panics after `timeout` naming `what`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Argus {
    /// Kills the process with SIGKILL (no chance to clean up) and hands back its directory.
    pub fn kill9(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        std::mem::replace(&mut self.dir, dir)
    }

    /// Stops the process with SIGTERM and waits for it to exit; returns its exit code.
    pub fn terminate(mut self) -> (Option<i32>, tempfile::TempDir) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let code = self.child.wait().ok().and_then(|s| s.code());
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        (code, std::mem::replace(&mut self.dir, dir))
    }

    pub fn post(&self, path: &str, body: impl Into<reqwest::blocking::Body>) -> (u16, Value) {
        let req = client()
            .post(format!("{}{}", self.url, path))
            .bearer_auth(&self.token)
            .body(body);
        send(req, &format!("POST {path}"))
    }

    /// The text of `/metrics`, "" if it cannot be had.
    pub fn metrics_text(&self) -> String {
        client()
            .get(format!("{}/metrics", self.url))
            .bearer_auth(&self.token)
            .send()
            .and_then(|r| r.text())
            .unwrap_or_default()
    }

    /// Waits (at most 10 s, then goes on) until the queue holds nothing un-acked: ingest
    /// answers once a batch is queued, the handlers apply it a moment later.
    pub fn drained(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let text = self.metrics_text();
            let lag: Option<f64> = text
                .lines()
                .filter(|l| l.starts_with("argus_queue_lag_entries{"))
                .map(|l| {
                    l.rsplit(' ')
                        .next()
                        .and_then(|v| v.parse::<f64>().ok())
                        .unwrap_or(f64::NAN)
                })
                .reduce(|a, b| a + b);
            if lag.is_none_or(|l| l == 0.0) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn get(&self, path_and_query: &str) -> (u16, Value) {
        if !path_and_query.starts_with("/metrics") {
            self.drained();
        }
        let req = client()
            .get(format!("{}{}", self.url, path_and_query))
            .bearer_auth(&self.token);
        send(req, &format!("GET {path_and_query}"))
    }

    /// An instant query's result vector.
    pub fn query(&self, q: &str) -> Vec<serde_json::Value> {
        self.drained();
        let url = format!("{}/api/v1/query", self.url);
        let resp = client()
            .get(url)
            .query(&[("query", q)])
            .bearer_auth(&self.token)
            .send()
            .unwrap_or_else(|e| panic!("query {q}: {e}"));
        let body: serde_json::Value = resp.json().unwrap_or(serde_json::Value::Null);
        assert_eq!(body["status"], "success", "query {q}: {body}");
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }
}

/// The value of an instant-vector element as a number.
pub fn value(el: &serde_json::Value) -> f64 {
    el["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}

/// A running `argus agent` of its own (data directory, machine id); killed when dropped.
pub struct AgentProcess {
    child: Child,
    /// Its local API's base URL, when asked to wait for it (else empty).
    pub api: String,
    pub data: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `argus agent` sending to `url` with `token` as host `hostname`, machine id
/// `machine_id` (`ARGUS_MACHINE_ID`: several agents on one machine stay several hosts),
/// with `config` as its whole configuration file. `with_api`: its config has a local API;
/// wait for the address its banner prints.
pub fn start_agent(
    url: &str,
    token: &str,
    hostname: &str,
    machine_id: &str,
    config: &str,
    with_api: bool,
) -> AgentProcess {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let cfg = dir.path().join("agent.toml");
    std::fs::write(&cfg, config).unwrap_or_else(|e| panic!("write {}: {e}", cfg.display()));
    let data = dir.path().join("data");
    let mut child = Command::new(BIN)
        .args([
            "agent",
            "--server",
            url,
            "--token",
            token,
            "--hostname",
            hostname,
        ])
        .arg("--data-dir")
        .arg(&data)
        .arg("--config")
        .arg(&cfg)
        .env("ARGUS_MACHINE_ID", machine_id)
        .env_remove("ARGUS_TOKEN")
        .env("RUST_LOG", "warn")
        .stdout(if with_api {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .spawn()
        .unwrap_or_else(|e| panic!("spawn agent {hostname}: {e}"));
    let mut api = String::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap_or_default();
            if let Some(u) = line.trim().strip_prefix("Agent API:") {
                api = u.trim().trim_end_matches("/plugins/list").to_string();
                break;
            }
        }
        assert!(!api.is_empty(), "agent {hostname} printed no API address");
    }
    AgentProcess {
        child,
        api,
        data,
        _dir: dir,
    }
}
