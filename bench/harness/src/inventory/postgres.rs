//! A **PostgreSQL server of the benchmark's own**: the Debian package's binaries (the newest
//! `/usr/lib/postgresql/<version>/bin`), a cluster made by `initdb` in a temporary directory,
//! listening on a free port of 127.0.0.1 with its unix socket beside the cluster, trusted
//! connections as user `postgres`. Stopped and removed when dropped.
//!
//! The integration tests start theirs the same way (`Postgres` in
//! `crates/argus/tests/integration/external.rs`): change both together. Unlike the tests',
//! this server keeps PostgreSQL's durable defaults (fsync, synchronous commit), since the
//! SQLite it is compared with commits durably too.

use crate::system::{log_tail, poll_ready};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs the server binaries, one folder per major version.
const POSTGRES_LIB: &str = "/usr/lib/postgresql";

pub struct Postgres {
    server: Option<Child>,
    pub port: u16,
    bin: PathBuf,
    log: PathBuf,
    /// Removed after the server stops (fields drop after `Drop::drop`).
    _dir: tempfile::TempDir,
}

impl Postgres {
    /// Runs `initdb`, starts `postgres` and waits until `pg_isready` says it accepts
    /// connections. As root, both run as the `postgres` system user (which the Debian
    /// package creates), because PostgreSQL refuses to run as root; the directory is then
    /// made in /tmp, which that user can reach whatever `parent` is.
    pub fn start(bin: Option<&Path>, parent: &Path) -> anyhow::Result<Postgres> {
        let bin = match bin {
            Some(b) => b.to_path_buf(),
            None => newest_bin()?,
        };
        let as_root = running_as_root();
        let mut builder = tempfile::Builder::new();
        builder.prefix("argus-bench-postgres-");
        let dir = if as_root {
            builder.tempdir_in("/tmp")
        } else {
            builder.tempdir_in(parent)
        }?;
        if as_root {
            run_ok(Command::new("chown").arg("postgres:").arg(dir.path()))?;
        }
        let data = dir.path().join("data");
        run_ok(
            as_server_user(as_root, &bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-U", "postgres", "--auth=trust", "--encoding=UTF8"])
                // Skips only initdb's own flush of the new files: the server below syncs as usual.
                .args(["--locale=C", "--no-sync"])
                .current_dir(dir.path()),
        )?;
        let port = crate::system::free_port()?;
        let log = dir.path().join("postgres.log");
        // Opened here and handed over as stderr: the server needs no right to the file.
        let log_file = std::fs::File::create(&log)?;
        let server = as_server_user(as_root, &bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-k")
            .arg(dir.path())
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("cannot start {}/postgres", bin.display()))?;
        let mut pg = Postgres {
            server: Some(server),
            port,
            bin,
            log,
            _dir: dir,
        };
        pg.wait_ready()?;
        Ok(pg)
    }

    /// Polls `pg_isready` every 20 ms, failing at once if the server exited.
    fn wait_ready(&mut self) -> anyhow::Result<Duration> {
        let (log, port) = (self.log.clone(), self.port.to_string());
        let isready = self.bin.join("pg_isready");
        poll_ready(
            "postgres",
            &log,
            Duration::from_secs(60),
            Duration::from_millis(20),
            || {
                let ready = Command::new(&isready)
                    .args(["-q", "-h", "127.0.0.1", "-p", &port])
                    .args(["-U", "postgres", "-d", "postgres"])
                    .status()
                    .with_context(|| format!("cannot run {}", isready.display()))?;
                if ready.success() {
                    return Ok(true);
                }
                if let Some(server) = self.server.as_mut()
                    && let Some(status) = server.try_wait()?
                {
                    bail!("postgres exited early ({status}); log:\n{}", log_tail(&log));
                }
                Ok(false)
            },
        )
    }

    /// The URL for argus's `[database] url`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates an empty database `name`.
    pub fn create_db(&self, name: &str) -> anyhow::Result<()> {
        run_ok(
            Command::new(self.bin.join("createdb"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", "postgres", name]),
        )?;
        Ok(())
    }

    /// Runs one SQL command in database `db`: its output, unaligned, without headers.
    pub fn psql(&self, db: &str, sql: &str) -> anyhow::Result<String> {
        let out = run_ok(
            Command::new(self.bin.join("psql"))
                // -X: no ~/.psqlrc; ON_ERROR_STOP: a failing command fails the run.
                .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", "postgres", "-d", db, "-c", sql]),
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The server's version and the settings that decide how fast it commits, as in force
    /// (`fsync=on, shared_buffers=128MB, …`): for the report.
    pub fn describe(&self, db: &str) -> anyhow::Result<String> {
        self.psql(
            db,
            "select 'PostgreSQL ' || current_setting('server_version') || ': ' || \
             string_agg(name || '=' || current_setting(name), ', ' order by name) \
             from pg_settings where name in \
             ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers', 'max_connections')",
        )
    }

    /// Stops the server at once (see `Drop`), reporting how long it took.
    pub fn stop(mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.shut_down()?;
        Ok(started.elapsed())
    }

    /// An immediate shutdown (SIGQUIT: the server stops its backends and exits without a
    /// checkpoint; nothing here is kept), SIGKILL after 10 s.
    fn shut_down(&mut self) -> anyhow::Result<()> {
        let Some(mut server) = self.server.take() else {
            return Ok(());
        };
        // std has no SIGQUIT and this crate takes no unsafe or libc: the `kill` command.
        let _ = Command::new("kill")
            .args(["-QUIT", &server.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if server.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        server.kill()?;
        server.wait()?;
        bail!("postgres did not stop within 10 s of SIGQUIT: killed")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // After an error midway: leave no server running.
        let _ = self.shut_down();
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` that holds a `postgres` binary.
fn newest_bin() -> anyhow::Result<PathBuf> {
    let entries = std::fs::read_dir(POSTGRES_LIB).with_context(|| {
        format!("cannot read {POSTGRES_LIB} (on a fresh machine: apt-get install postgresql)")
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
        .with_context(|| format!("no {POSTGRES_LIB}/*/bin/postgres: apt-get install postgresql"))
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

/// `program` run by the `postgres` system user when `as_root`, else by us. `setpriv` execs
/// the program in its own process, so the child's id is the server's and a signal sent to
/// it reaches the server itself (`runuser` would stay in between).
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

/// Runs `cmd` to its end; an error with its stderr unless it succeeded.
fn run_ok(cmd: &mut Command) -> anyhow::Result<std::process::Output> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{:?} {:?} failed ({}): {}",
            cmd.get_program(),
            cmd.get_args().collect::<Vec<_>>(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
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

    /// Starts a real server: run by hand (`cargo test -p argus-bench -- --ignored`), since
    /// `cargo test -p argus-bench` starts no peer.
    #[test]
    #[ignore = "starts PostgreSQL"]
    fn postgres_starts_answers_and_stops() {
        let parent = std::env::temp_dir();
        let started = Instant::now();
        let pg = Postgres::start(None, &parent).unwrap_or_else(|e| panic!("{e:#}"));
        eprintln!("ready in {:.2} s", started.elapsed().as_secs_f64());
        pg.create_db("argus").unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(pg.psql("argus", "select 40+2").ok().as_deref(), Some("42"));
        // Durable defaults, unlike the integration tests' server.
        assert_eq!(pg.psql("argus", "show fsync").ok().as_deref(), Some("on"));
        let port = pg.port;
        let stopped = pg.stop().unwrap_or_else(|e| panic!("{e:#}"));
        eprintln!("stopped in {:.2} s", stopped.as_secs_f64());
        let isready = newest_bin()
            .map(|b| b.join("pg_isready"))
            .unwrap_or_else(|e| panic!("{e:#}"));
        let after = Command::new(isready)
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .map(|s| s.success());
        assert_eq!(after.ok(), Some(false), "still answering after stop");
    }
}
