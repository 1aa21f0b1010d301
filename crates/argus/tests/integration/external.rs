//! Real peer processes the tests run against (VictoriaMetrics, nats-server, PostgreSQL),
//! each on a free port with a temporary directory, ready when its health check says so, and
//! stopped when dropped (also when the test fails).

use crate::common::{client, wait_for};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// A running PostgreSQL server of its own (the Debian `postgresql` package's binaries), on a
/// free port of 127.0.0.1 with its cluster, unix socket and log in a temporary directory;
/// every connection is trusted as user `postgres`. Stopped and removed when dropped.
///
/// Starting one takes about a second (initdb most of it), so a test may start its own; a
/// test that wants a fresh database on a shared one calls [`create_db`](Self::create_db).
/// The benchmarks start theirs the same way (`bench/harness/src/inventory/postgres.rs`,
/// which keeps fsync on): change both together.
pub struct Postgres {
    server: Option<Child>,
    port: u16,
    bin: PathBuf,
    /// Removed after the server stops (fields drop after `Drop::drop`).
    _dir: tempfile::TempDir,
}

/// Where Debian installs the server binaries, one folder per major version.
const POSTGRES_LIB: &str = "/usr/lib/postgresql";

impl Postgres {
    /// Runs `initdb`, starts `postgres` and waits until `pg_isready` says it accepts
    /// connections. As root (CI), both run as the `postgres` system user, because PostgreSQL
    /// refuses to run as root.
    pub fn start() -> Postgres {
        let bin = postgres_bin();
        let as_root = running_as_root();
        // As root, the server's user must be able to reach the directory: /tmp, not a
        // $TMPDIR that may sit under root's private home.
        let dir = if as_root {
            tempfile::Builder::new()
                .prefix("argus-pg-")
                .tempdir_in("/tmp")
        } else {
            tempfile::Builder::new().prefix("argus-pg-").tempdir()
        }
        .unwrap_or_else(|e| panic!("tempdir: {e}"));
        if as_root {
            run_ok(Command::new("chown").arg("postgres:").arg(dir.path()));
        }
        let data = dir.path().join("data");
        run_ok(
            as_server_user(as_root, &bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-U", "postgres", "--auth=trust", "--encoding=UTF8"])
                // No fsync of the new cluster: a test's data need not survive a crash.
                .args(["--locale=C", "--no-sync"])
                .current_dir(dir.path()),
        );
        let port = free_port();
        let log = dir.path().join("postgres.log");
        // Opened here and handed over as stderr: the server needs no right to the file.
        let log_file = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{e}"));
        let server = as_server_user(as_root, &bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-k")
            .arg(dir.path())
            // Durability is not what the tests check; speed is what they need.
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "shared_buffers=16MB"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn postgres: {e}"));
        let mut pg = Postgres {
            server: Some(server),
            port,
            bin,
            _dir: dir,
        };
        pg.wait_ready(&log);
        pg
    }

    /// Polls `pg_isready` until the server accepts connections, failing at once (with its
    /// log) if the server exited, and after 30 s.
    fn wait_ready(&mut self, log: &Path) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", "postgres", "-d", "postgres"])
                .status()
                .unwrap_or_else(|e| panic!("pg_isready not runnable: {e}"));
            if ready.success() {
                return;
            }
            let log_text = || std::fs::read_to_string(log).unwrap_or_default();
            if let Some(Ok(Some(status))) = self.server.as_mut().map(Child::try_wait) {
                panic!("postgres exited early ({status}); log:\n{}", log_text());
            }
            assert!(
                Instant::now() < deadline,
                "postgres not ready within 30 s; log:\n{}",
                log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The URL an argus `[database] url` takes for database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates an empty database `name` (each test its own, so they can share a server).
    pub fn create_db(&self, name: &str) {
        run_ok(
            Command::new(self.bin.join("createdb"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", "postgres", name]),
        );
    }

    /// Runs one SQL command in database `db` with `psql`; its output, unaligned, no headers.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = run_ok(
            Command::new(self.bin.join("psql"))
                // -X: no ~/.psqlrc; ON_ERROR_STOP: a failing command fails the run.
                .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", "postgres", "-d", db, "-c", sql]),
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Postgres {
    /// An immediate shutdown (SIGQUIT: the server stops its backends and exits without a
    /// checkpoint, nothing here is kept), SIGKILL after 10 s; the directory goes after.
    fn drop(&mut self) {
        let Some(mut server) = self.server.take() else {
            return;
        };
        // std has no SIGQUIT and the tests use no unsafe: the `kill` command sends it.
        let _ = Command::new("kill")
            .args(["-QUIT", &server.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = server.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = server.kill();
        let _ = server.wait();
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` that holds a `postgres` binary.
fn postgres_bin() -> PathBuf {
    let entries = std::fs::read_dir(POSTGRES_LIB).unwrap_or_else(|e| {
        panic!("{POSTGRES_LIB}: {e} (on a fresh machine: apt-get install postgresql)")
    });
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            // "15", or "9.6" before version 10: compared as numbers, not as text.
            let version: Vec<u32> = name
                .split('.')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").is_file().then_some((version, bin))
        })
        .max()
        .map(|(_, bin)| bin)
        .unwrap_or_else(|| panic!("no {POSTGRES_LIB}/*/bin/postgres: apt-get install postgresql"))
}

/// Whether this process's effective user is root (`Uid:` in /proc/self/status: real,
/// effective, saved, filesystem).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

/// `program` as a command run by the `postgres` system user when `as_root`, else by us.
/// `setpriv` execs the program in its own process, so the child's id is the server's and a
/// signal sent to it reaches the server itself (`runuser` would stay in between).
fn as_server_user(as_root: bool, program: &Path) -> Command {
    if !as_root {
        return Command::new(program);
    }
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=postgres",
        "--regid=postgres",
        "--init-groups",
        "--",
    ])
    .arg(program);
    cmd
}
