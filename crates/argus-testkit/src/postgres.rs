//! A **PostgreSQL server of the caller's own**: the Debian package's binaries (the newest
//! `/usr/lib/postgresql/<version>/bin`), a cluster made by `initdb` in a temporary directory,
//! listening on a free port of 127.0.0.1 with its unix socket and log beside the cluster,
//! every connection trusted as user `postgres`. Stopped and removed when dropped (also when
//! the test that started it fails).
//!
//! Starting one takes about a second (initdb most of it), so a test may start its own; a
//! test that wants a fresh database on a shared one calls [`Postgres::create_db`].
//!
//! Two flavours, one code path: the tests' server is **disposable** (fsync, synchronous
//! commit and full-page writes off: durability is not what they check, speed is what they
//! need); the benchmark's is **durable** (PostgreSQL's defaults), since the SQLite it is
//! compared with commits durably too.

use crate::process::{free_port, log_tail, run_ok};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs the server binaries, one folder per major version.
const POSTGRES_LIB: &str = "/usr/lib/postgresql";

/// How long a new server may take to accept connections: generous, since on a 2-core
/// machine several test binaries may be running initdb at once.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// How long an immediate shutdown may take before the server is killed.
const STOP_WITHIN: Duration = Duration::from_secs(10);

/// How a server is started; [`Postgres::start`] takes the defaults but for `durable`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// PostgreSQL's defaults (fsync, synchronous commit, full-page writes) when true; all
    /// three off and a small shared buffer pool when false.
    pub durable: bool,
    /// PostgreSQL's `bin` folder [default: the newest /usr/lib/postgresql/*/bin].
    pub bin: Option<PathBuf>,
    /// Parent of the temporary directory [default: $TMPDIR or /tmp]. Ignored as root: the
    /// directory then goes to /tmp (see [`Postgres::start_with`]).
    pub parent: Option<PathBuf>,
}

/// A running PostgreSQL server; see the module docs.
pub struct Postgres {
    server: Option<Child>,
    port: u16,
    bin: PathBuf,
    log: PathBuf,
    /// Removed after the server stops (fields drop after `Drop::drop`).
    _dir: tempfile::TempDir,
}

impl Postgres {
    /// Starts a server with the given durability and every other option's default.
    pub fn start(durable: bool) -> Result<Postgres, String> {
        Postgres::start_with(&Options {
            durable,
            ..Options::default()
        })
    }

    /// Runs `initdb`, starts `postgres` and waits until `pg_isready` says it accepts
    /// connections. As root (CI), both run as the `postgres` system user (which the Debian
    /// package creates), because PostgreSQL refuses to run as root; the directory is then
    /// made in /tmp, which that user can reach, unlike a $TMPDIR that may sit under root's
    /// private home.
    pub fn start_with(opts: &Options) -> Result<Postgres, String> {
        let bin = match &opts.bin {
            Some(b) => b.clone(),
            None => newest_bin()?,
        };
        let as_root = running_as_root();
        let mut builder = tempfile::Builder::new();
        builder.prefix("argus-pg-");
        let dir = if as_root {
            builder.tempdir_in("/tmp")
        } else if let Some(parent) = &opts.parent {
            builder.tempdir_in(parent)
        } else {
            builder.tempdir()
        }
        .map_err(|e| format!("cannot make PostgreSQL's temporary directory: {e}"))?;
        if as_root {
            run_ok(Command::new("chown").arg("postgres:").arg(dir.path()))?;
        }
        let data = dir.path().join("data");
        run_ok(
            as_server_user(as_root, &bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-U", "postgres", "--auth=trust", "--encoding=UTF8"])
                // Skips only initdb's own flush of the new files: a durable server syncs
                // as usual from its first write on.
                .args(["--locale=C", "--no-sync"])
                .current_dir(dir.path()),
        )?;
        let port = free_port()?;
        let log = dir.path().join("postgres.log");
        // Opened here and handed over as stderr: the server needs no right to the file.
        let log_file = std::fs::File::create(&log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let mut cmd = as_server_user(as_root, &bin.join("postgres"));
        cmd.arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-k")
            .arg(dir.path());
        if !opts.durable {
            // Durability is not what the tests check; speed is what they need.
            cmd.args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
                .args(["-c", "full_page_writes=off", "-c", "shared_buffers=16MB"]);
        }
        let server = cmd
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.join("postgres").display()))?;
        let mut pg = Postgres {
            server: Some(server),
            port,
            bin,
            log,
            _dir: dir,
        };
        // On an error, dropping `pg` stops the server: none is left running.
        pg.wait_ready()?;
        Ok(pg)
    }

    /// Polls `pg_isready` every 20 ms until the server accepts connections, failing at once
    /// (with its log) if the server exited, and after [`READY_WITHIN`].
    fn wait_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        let isready = self.bin.join("pg_isready");
        loop {
            let ready = Command::new(&isready)
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", "postgres", "-d", "postgres"])
                .status()
                .map_err(|e| format!("cannot run {}: {e}", isready.display()))?;
            if ready.success() {
                return Ok(());
            }
            if let Some(server) = self.server.as_mut()
                && let Ok(Some(status)) = server.try_wait()
            {
                return Err(format!(
                    "postgres exited early ({status}); its log ends:\n{}",
                    log_tail(&self.log)
                ));
            }
            if started.elapsed() > READY_WITHIN {
                return Err(format!(
                    "postgres not ready within {} s; its log ends:\n{}",
                    READY_WITHIN.as_secs(),
                    log_tail(&self.log)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL an argus `[database] url` takes for database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates an empty database `name` (each test its own, so that tests can share a
    /// server).
    pub fn create_db(&self, name: &str) -> Result<(), String> {
        run_ok(
            Command::new(self.bin.join("createdb"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", "postgres", name]),
        )?;
        Ok(())
    }

    /// Runs one SQL command in database `db` with `psql`: its output, unaligned, without
    /// headers, trimmed.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = run_ok(
            Command::new(self.bin.join("psql"))
                // -X: no ~/.psqlrc; ON_ERROR_STOP: a failing command fails the run.
                .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", "postgres", "-d", db, "-c", sql]),
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Stops the server now (as dropping it does), saying whether it had to be killed.
    pub fn stop(mut self) -> Result<(), String> {
        self.shut_down()
    }

    /// An immediate shutdown (SIGQUIT: the server stops its backends and exits without a
    /// checkpoint; nothing here is kept), SIGKILL after [`STOP_WITHIN`].
    fn shut_down(&mut self) -> Result<(), String> {
        let Some(mut server) = self.server.take() else {
            return Ok(());
        };
        // Already reaped (it exited early): its id may belong to another process by now.
        if let Ok(Some(_)) = server.try_wait() {
            return Ok(());
        }
        // std has no SIGQUIT and this crate takes no unsafe or libc: the `kill` command.
        let _ = Command::new("kill")
            .args(["-QUIT", &server.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_WITHIN;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = server.try_wait() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = server.kill();
        let _ = server.wait();
        Err(format!(
            "postgres did not stop within {} s of SIGQUIT: killed",
            STOP_WITHIN.as_secs()
        ))
    }
}

impl Drop for Postgres {
    /// Stops the server (see [`Postgres::stop`]); the directory goes after.
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` that holds a `postgres` binary.
fn newest_bin() -> Result<PathBuf, String> {
    let entries = std::fs::read_dir(POSTGRES_LIB).map_err(|e| {
        format!("cannot read {POSTGRES_LIB}: {e} (on a fresh machine: apt-get install postgresql)")
    })?;
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let bin = e.path().join("bin");
            Some((version_key(&name)?, bin)).filter(|(_, b)| b.join("postgres").is_file())
        })
        .max()
        .map(|(_, bin)| bin)
        .ok_or_else(|| format!("no {POSTGRES_LIB}/*/bin/postgres: apt-get install postgresql"))
}

/// "15" → [15], "9.6" → [9, 6] (before version 10): compared as numbers, not as text.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|p| p.parse().ok()).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_numbers() {
        assert!(version_key("15") > version_key("9.6"));
        assert!(version_key("16") > version_key("15"));
        assert_eq!(version_key("main"), None);
    }

    /// Whether anything answers as PostgreSQL on `port`.
    fn answers(port: u16) -> bool {
        let isready = newest_bin()
            .map(|b| b.join("pg_isready"))
            .unwrap_or_else(|e| panic!("{e}"));
        Command::new(isready)
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .is_ok_and(|s| s.success())
    }

    #[test]
    fn a_disposable_server_starts_answers_and_stops_when_dropped() {
        let started = Instant::now();
        let pg = Postgres::start(false).unwrap_or_else(|e| panic!("{e}"));
        eprintln!("ready in {:.2} s", started.elapsed().as_secs_f64());
        pg.create_db("argus").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pg.psql("argus", "select 40+2").as_deref(), Ok("42"));
        assert_eq!(
            pg.psql("argus", "select current_database()").as_deref(),
            Ok("argus")
        );
        assert_eq!(pg.psql("argus", "show fsync").as_deref(), Ok("off"));
        assert_eq!(
            pg.url("argus"),
            format!("postgres://postgres@127.0.0.1:{}/argus", pg.port())
        );
        // A failing command is an error carrying PostgreSQL's message.
        let e = pg.psql("argus", "select nope").err().unwrap_or_default();
        assert!(e.contains("nope") && e.contains("failed"), "{e}");
        let e = pg.create_db("argus").err().unwrap_or_default();
        assert!(e.contains("already exists"), "{e}");
        let port = pg.port();
        drop(pg);
        assert!(!answers(port), "still answering after drop");
    }

    #[test]
    fn a_durable_server_keeps_the_defaults_and_stops_on_request() {
        let pg = Postgres::start(true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pg.psql("postgres", "show fsync").as_deref(), Ok("on"));
        assert_eq!(
            pg.psql("postgres", "show synchronous_commit").as_deref(),
            Ok("on")
        );
        let port = pg.port();
        assert_eq!(pg.stop(), Ok(()));
        assert!(!answers(port), "still answering after stop");
    }

    #[test]
    fn a_server_that_cannot_start_says_why() {
        let e = Postgres::start_with(&Options {
            bin: Some(PathBuf::from("/nonexistent/bin")),
            ..Options::default()
        })
        .err()
        .unwrap_or_default();
        assert!(e.contains("/nonexistent/bin/initdb"), "{e}");
    }

    /// A `postgres` that fails at start: the error says so at once, with its log's tail.
    #[test]
    fn a_server_that_exits_early_is_reported_with_its_log() {
        use std::os::unix::fs::PermissionsExt;
        let real = newest_bin().unwrap_or_else(|e| panic!("{e}"));
        // In /tmp and open to all: as root, the `postgres` user runs these.
        let fake = tempfile::Builder::new()
            .prefix("argus-fake-pg-")
            .tempdir_in("/tmp")
            .unwrap_or_else(|e| panic!("{e}"));
        let script = |name: &str, body: &str| {
            let path = fake.path().join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n"))
                .and_then(|()| {
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                })
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        };
        script("initdb", "exit 0");
        script("postgres", "echo 'FATAL:  made to fail' >&2; exit 1");
        std::os::unix::fs::symlink(real.join("pg_isready"), fake.path().join("pg_isready"))
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(fake.path(), std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        let e = Postgres::start_with(&Options {
            bin: Some(fake.path().to_path_buf()),
            ..Options::default()
        })
        .err()
        .unwrap_or_default();
        assert!(
            e.contains("exited early") && e.contains("FATAL:  made to fail"),
            "{e}"
        );
        assert!(started.elapsed() < Duration::from_secs(10), "not at once");
    }
}
