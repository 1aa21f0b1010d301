//! A real **Alertmanager** (Debian's `prometheus-alertmanager`, 0.25) of the test's own:
//! a free port on 127.0.0.1, its storage in a temporary directory, clustering off, a
//! configuration the caller gives. Ready when `/-/ready` answers 200; killed when dropped.

use crate::process::{free_port, http_status, log_tail};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs it.
pub const BINARY: &str = "/usr/bin/prometheus-alertmanager";

/// A configuration that accepts alerts and notifies no one.
pub const QUIET_CONFIG: &str = "route:\n  receiver: none\nreceivers:\n  - name: none\n";

pub struct Alertmanager {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    /// Starts it with `config` (its YAML) and waits up to 30 s until it is ready.
    pub fn start(config: &str) -> Result<Alertmanager, String> {
        let dir = tempfile::Builder::new()
            .prefix("argus-am-")
            .tempdir()
            .map_err(|e| format!("tempdir: {e}"))?;
        let cfg = dir.path().join("alertmanager.yml");
        std::fs::write(&cfg, config).map_err(|e| format!("{}: {e}", cfg.display()))?;
        let port = free_port()?;
        let log = dir.path().join("alertmanager.log");
        let log_file =
            std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let child = Command::new(BINARY)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // A single instance: no gossip port to collide with other tests.
            .arg("--cluster.listen-address=")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| {
                format!("cannot run {BINARY}: {e} (on a fresh machine: apt-get install prometheus-alertmanager)")
            })?;
        let mut am = Alertmanager {
            child: Some(child),
            port,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if http_status(port, "/-/ready") == Some(200) {
                return Ok(am);
            }
            if let Some(Ok(Some(status))) = am.child.as_mut().map(Child::try_wait) {
                return Err(format!(
                    "alertmanager exited ({status}); log:\n{}",
                    log_tail(&am.log)
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "alertmanager not ready within 30 s; log:\n{}",
                    log_tail(&am.log)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its base URL, e.g. `http://127.0.0.1:9093`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_and_answers_ready() {
        let am = Alertmanager::start(QUIET_CONFIG).unwrap_or_else(|e| panic!("{e}"));
        let port = am.port;
        assert_eq!(http_status(port, "/-/ready"), Some(200));
        drop(am);
        assert_eq!(http_status(port, "/-/ready"), None);
    }
}
