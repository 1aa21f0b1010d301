//! Real peer processes the tests run against (VictoriaMetrics, nats-server, PostgreSQL),
//! each on a free port with a temporary directory, ready when its health check says so, and
//! stopped when dropped (also when the test fails).

use crate::common::{client, wait_for};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("free port: {e}"))
}

/// A child process killed on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `cmd` (stdout discarded; stderr as the caller set it), panicking with what it is.
pub fn spawn(cmd: &mut Command) -> Proc {
    let child = cmd
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {:?}: {e}", cmd.get_program()));
    Proc(child)
}

/// Waits up to 30 s until `url` answers 2xx.
pub fn wait_healthy(what: &str, url: &str) {
    wait_for(what, Duration::from_secs(30), || {
        let r = client().get(url).send().ok()?;
        r.status().is_success().then_some(())
    });
}

/// Runs `cmd` to its end and asserts it succeeded (its stderr in the message); its output.
pub fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{:?} not runnable: {e}", cmd.get_program()));
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd.get_program(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A running `victoria-metrics` (the Debian package's single-node binary).
pub struct VictoriaMetrics {
    proc: Option<Proc>,
    port: u16,
    pub url: String,
    dir: tempfile::TempDir,
}

pub const VICTORIA_METRICS: &str = "/usr/bin/victoria-metrics";

impl VictoriaMetrics {
    pub fn start() -> VictoriaMetrics {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let port = free_port();
        let mut vm = VictoriaMetrics {
            proc: None,
            port,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        vm.restart();
        vm
    }

    /// Kills the process (SIGKILL); its data stays for [`restart`](Self::restart).
    pub fn kill(&mut self) {
        self.proc = None;
    }

    /// Starts the process (again) on the same port and data, and waits until it is ready.
    pub fn restart(&mut self) {
        self.proc = None;
        self.proc = Some(spawn(
            Command::new(VICTORIA_METRICS)
                .arg(format!(
                    "-storageDataPath={}",
                    self.dir.path().join("vm").display()
                ))
                .arg(format!("-httpListenAddr=127.0.0.1:{}", self.port))
                .arg("-retentionPeriod=100y")
                .arg("-loggerLevel=ERROR")
                .stderr(Stdio::inherit()),
        ));
        wait_healthy("victoria-metrics /health", &format!("{}/health", self.url));
    }

    /// Makes every sample received so far queryable (VictoriaMetrics buffers new ones for
    /// a second or two otherwise).
    pub fn force_flush(&self) {
        let r = client()
            .get(format!("{}/internal/force_flush", self.url))
            .send()
            .unwrap_or_else(|e| panic!("force_flush: {e}"));
        assert!(r.status().is_success(), "force_flush: {}", r.status());
    }

    /// The `[storage]` section of an argus server keeping its metrics here.
    pub fn storage_config(&self) -> String {
        format!(
            "[storage]\nkind = \"remote\"\nremote_write_url = \"{0}/api/v1/write\"\nremote_read_url = \"{0}\"\n",
            self.url
        )
    }

    /// An instant query straight to VictoriaMetrics: the result array.
    pub fn query(&self, q: &str, time_s: Option<f64>) -> Vec<serde_json::Value> {
        let mut form = vec![("query", q.to_string())];
        if let Some(t) = time_s {
            form.push(("time", format!("{t:.3}")));
        }
        let r = client()
            .post(format!("{}/api/v1/query", self.url))
            .form(&form)
            .send()
            .unwrap_or_else(|e| panic!("query {q}: {e}"));
        let body: serde_json::Value = r.json().unwrap_or_default();
        assert_eq!(body["status"], "success", "{q}: {body}");
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// A running `nats-server` with JetStream.
pub struct Nats {
    _proc: Proc,
    pub url: String,
    _dir: tempfile::TempDir,
}

pub const NATS_SERVER: &str = "/usr/sbin/nats-server";

impl Nats {
    pub fn start() -> Nats {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let (port, monitor) = (free_port(), free_port());
        let proc = spawn(
            Command::new(NATS_SERVER)
                .args(["-a", "127.0.0.1", "-p", &port.to_string()])
                .args(["-m", &monitor.to_string(), "-js", "-sd"])
                .arg(dir.path())
                .stderr(Stdio::null()),
        );
        let nats = Nats {
            _proc: proc,
            url: format!("nats://127.0.0.1:{port}"),
            _dir: dir,
        };
        let health = format!("http://127.0.0.1:{monitor}/healthz?js-enabled-only=true");
        wait_healthy("nats-server /healthz", &health);
        nats
    }

    /// The `[queue]` section of an argus server using it.
    pub fn queue_config(&self) -> String {
        format!("[queue]\nkind = \"nats\"\nnats_url = \"{}\"\n", self.url)
    }
}

/// A running PostgreSQL server of the test's own, disposable (fsync off): the one
/// [`argus_testkit::postgres`] starts for tests and benchmarks alike, with its errors turned
/// into panics as everything else here. Stopped and removed when dropped.
///
/// Starting one takes about a second (initdb most of it), so a test may start its own; a
/// test that wants a fresh database on a shared one calls [`create_db`](Self::create_db).
pub struct Postgres(argus_testkit::postgres::Postgres);

impl Postgres {
    /// Starts the server and waits until it accepts connections.
    pub fn start() -> Postgres {
        argus_testkit::postgres::Postgres::start(false)
            .map(Postgres)
            .unwrap_or_else(|e| panic!("PostgreSQL: {e}"))
    }

    /// The URL an argus `[database] url` takes for database `db`.
    pub fn url(&self, db: &str) -> String {
        self.0.url(db)
    }

    /// Creates an empty database `name` (each test its own, so they can share a server).
    pub fn create_db(&self, name: &str) {
        self.0
            .create_db(name)
            .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    }

    /// Runs one SQL command in database `db` with `psql`; its output, unaligned, no headers.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        self.0
            .psql(db, sql)
            .unwrap_or_else(|e| panic!("psql {sql:?} in {db}: {e}"))
    }
}
