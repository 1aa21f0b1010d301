//! The processes of one pipeline setup: VictoriaMetrics, nats-server and `argus server`
//! roles, each on a free port under one temporary root, ready when its health endpoint
//! says so, killed when the [`Cluster`] is dropped.

use crate::system::{answers_ok, free_port, poll_ready, spawn_logged};
use anyhow::bail;
use reqwest::blocking::{Client, RequestBuilder};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

/// Which path a sample takes from the client to storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Setup {
    /// The client writes straight to VictoriaMetrics (`/write`): storage alone.
    Direct,
    /// `argus server` (role all) with its embedded queue, storing into VictoriaMetrics.
    Embedded,
    /// `argus server --role ingest` → NATS JetStream → `argus server --role handlers`,
    /// storing into VictoriaMetrics.
    Nats,
    /// `argus server` (role all) with its embedded queue and its embedded storage engine:
    /// what `argus up` runs.
    EmbeddedLocal,
}

impl Setup {
    pub const ALL: [Setup; 4] = [
        Setup::Direct,
        Setup::Embedded,
        Setup::Nats,
        Setup::EmbeddedLocal,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Setup::Direct => "direct to VictoriaMetrics",
            Setup::Embedded => "argus, embedded queue → VictoriaMetrics",
            Setup::Nats => "argus ingest → NATS → argus handlers → VictoriaMetrics",
            Setup::EmbeddedLocal => "argus, embedded queue → embedded storage",
        }
    }
}

/// A child process, killed and reaped when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Paths of the binaries.
pub struct Binaries {
    pub argus: PathBuf,
    pub vm: PathBuf,
    pub nats: PathBuf,
}

pub struct Cluster {
    /// Where clients push (`http://127.0.0.1:PORT`).
    pub ingest: String,
    /// Where queries go: the ingest server, or VictoriaMetrics for [`Setup::Direct`].
    pub query: String,
    /// The process whose `/metrics` counts the handled batches (`None`: no queue).
    pub handlers: Option<String>,
    /// VictoriaMetrics, when the setup stores there.
    pub vm: Option<String>,
    token: Option<String>,
    /// Killed in reverse start order: clients' servers first, storage last.
    procs: Vec<Proc>,
    _root: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        while let Some(p) = self.procs.pop() {
            drop(p);
        }
    }
}

/// Polls `url` until it answers 2xx, for 60 s at most.
fn wait_healthy(client: &Client, url: &str, what: &str, log: &Path) -> anyhow::Result<()> {
    let (limit, every) = (Duration::from_secs(60), Duration::from_millis(50));
    poll_ready(&format!("{what} at {url}"), log, limit, every, || {
        Ok(answers_ok(client.get(url)))
    })?;
    Ok(())
}

impl Cluster {
    pub fn auth(&self, req: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    pub fn start(
        setup: Setup,
        bins: &Binaries,
        parent: &Path,
        client: &Client,
    ) -> anyhow::Result<Cluster> {
        let root = tempfile::Builder::new()
            .prefix("argus-bench-pipeline-")
            .tempdir_in(parent)?;
        let token = format!("bench-{}", std::process::id());
        let mut c = Cluster {
            ingest: String::new(),
            query: String::new(),
            handlers: None,
            vm: None,
            token: None,
            procs: Vec::new(),
            _root: root,
        };
        let root = c._root.path().to_path_buf();
        let mut storage = String::new();
        if setup != Setup::EmbeddedLocal {
            let port = free_port()?;
            let log = root.join("victoria-metrics.log");
            let child = spawn_logged(
                Command::new(&bins.vm)
                    .arg(format!("-storageDataPath={}", root.join("vm").display()))
                    .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
                    .arg("-retentionPeriod=100y"),
                &log,
            )?;
            c.procs.push(Proc(child));
            let base = format!("http://127.0.0.1:{port}");
            wait_healthy(client, &format!("{base}/health"), "VictoriaMetrics", &log)?;
            storage = format!(
                "[storage]\nkind = \"remote\"\nremote_write_url = \"{base}/api/v1/write\"\nremote_read_url = \"{base}\"\n"
            );
            c.vm = Some(base);
        }
        let mut queue = String::new();
        if setup == Setup::Nats {
            let (port, monitor) = (free_port()?, free_port()?);
            let log = root.join("nats.log");
            let child = spawn_logged(
                Command::new(&bins.nats)
                    .args(["-a", "127.0.0.1", "-p", &port.to_string()])
                    .args(["-m", &monitor.to_string(), "-js", "-sd"])
                    .arg(root.join("nats")),
                &log,
            )?;
            c.procs.push(Proc(child));
            wait_healthy(
                client,
                &format!("http://127.0.0.1:{monitor}/healthz?js-enabled-only=true"),
                "nats-server",
                &log,
            )?;
            queue = format!("[queue]\nkind = \"nats\"\nnats_url = \"nats://127.0.0.1:{port}\"\n");
        }
        let config = root.join("argus.toml");
        std::fs::write(&config, format!("{queue}{storage}"))?;
        let argus = |role: &str, name: &str| -> anyhow::Result<(Proc, String)> {
            let port = free_port()?;
            let log = root.join(format!("{name}.log"));
            let child = spawn_logged(
                Command::new(&bins.argus)
                    .args(["server", "--role", role, "--config"])
                    .arg(&config)
                    .args(["--listen", &format!("127.0.0.1:{port}"), "--token", &token])
                    .arg("--data-dir")
                    .arg(root.join(name))
                    .env_remove("ARGUS_CONFIG")
                    .env_remove("ARGUS_TOKEN")
                    .env("RUST_LOG", "warn"),
                &log,
            )?;
            let proc = Proc(child);
            let base = format!("http://127.0.0.1:{port}");
            wait_healthy(client, &format!("{base}/health"), name, &log)?;
            Ok((proc, base))
        };
        match setup {
            Setup::Direct => {}
            Setup::Embedded | Setup::EmbeddedLocal => {
                let (proc, base) = argus("all", "argus")?;
                c.procs.push(proc);
                c.ingest = base.clone();
                c.query = base.clone();
                c.handlers = Some(base);
            }
            Setup::Nats => {
                let (proc, handlers) = argus("handlers", "argus-handlers")?;
                c.procs.push(proc);
                c.handlers = Some(handlers);
                let (proc, base) = argus("ingest", "argus-ingest")?;
                c.procs.push(proc);
                c.ingest = base.clone();
                c.query = base;
            }
        }
        if setup == Setup::Direct {
            let vm = c.vm.clone().unwrap_or_default();
            c.ingest = vm.clone();
            c.query = vm;
        } else {
            c.token = Some(token);
        }
        Ok(c)
    }

    /// Batches the handlers applied (`argus_pipeline_processed_entries_total{topic="samples"}`).
    pub fn processed(&self, client: &Client) -> Option<u64> {
        let base = self.handlers.as_ref()?;
        let text = self
            .auth(client.get(format!("{base}/metrics")))
            .send()
            .and_then(|r| r.text())
            .ok()?;
        text.lines()
            .find(|l| l.starts_with("argus_pipeline_processed_entries_total{topic=\"samples\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v as u64)
    }

    /// Makes what VictoriaMetrics received searchable now.
    pub fn force_flush(&self, client: &Client) -> anyhow::Result<()> {
        if let Some(vm) = &self.vm {
            let r = client.get(format!("{vm}/internal/force_flush")).send()?;
            if !r.status().is_success() {
                bail!("force_flush: {}", r.status());
            }
        }
        Ok(())
    }

    /// An instant query at `time_s` to the query endpoint: the `data.result` array.
    pub fn query(
        &self,
        client: &Client,
        q: &str,
        time_s: Option<f64>,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        self.query_at(&self.query, client, q, time_s)
    }

    /// An instant query to `base` (the query endpoint or VictoriaMetrics).
    pub fn query_at(
        &self,
        base: &str,
        client: &Client,
        q: &str,
        time_s: Option<f64>,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        let mut form = vec![("query", q.to_string()), ("nocache", "1".to_string())];
        if let Some(t) = time_s {
            form.push(("time", format!("{t:.3}")));
        }
        let body: serde_json::Value = self
            .auth(client.post(format!("{base}/api/v1/query")))
            .form(&form)
            .send()?
            .json()?;
        if body["status"] != "success" {
            bail!("query {q}: {body}");
        }
        Ok(body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }
}
