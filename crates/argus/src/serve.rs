//! The server roles (`argus server`, `argus up`): storage, stores and the HTTP API,
//! wired from the configuration. Left out of agent-only builds (`--no-default-features`).

use crate::config::Config;
use crate::{agent_layers, shutdown_signal, start_agent_api, wait_stop, watch_config};
use anyhow::Context;
use argus_agent::Agent;
use argus_server::AppState;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The server's token: configured, else `<data_dir>/token`, else a new one written there.
fn resolve_token(configured: &str, data_dir: &Path) -> anyhow::Result<String> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = data_dir.join("token");
    let token = if !configured.is_empty() {
        configured.to_string()
    } else if let Ok(t) = std::fs::read_to_string(&path)
        && !t.trim().is_empty()
    {
        return Ok(t.trim().to_string());
    } else {
        argus_server::auth::generate_token()?
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(token.as_bytes())?;
    // The mode above applies only to a new file: make an existing one private too.
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(token)
}

struct Started {
    url: String,
    token: String,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    db: Arc<argus_tsdb::Db>,
    maintenance: argus_tsdb::db::Maintenance,
}

impl Started {
    /// Waits for the server to finish its in-flight requests, then stops the storage.
    async fn stop(self) -> anyhow::Result<()> {
        self.server.await??;
        drop(self.maintenance);
        self.db.close();
        Ok(())
    }
}

async fn start_server(
    config: &Config,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Started> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    let token = resolve_token(&config.server.token, &config.data_dir)?;
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let mut addr = listener.local_addr()?;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let tsdb_dir = config.data_dir.join("tsdb");
    let db =
        tokio::task::block_in_place(|| argus_tsdb::Db::open(&tsdb_dir, config.storage.options()))
            .with_context(|| format!("cannot open storage in {}", tsdb_dir.display()))?;
    let db = Arc::new(db);
    let maintenance = db.start_maintenance(std::time::Duration::from_secs(
        config.storage.maintenance_interval_secs,
    ));
    let mut state = AppState::with_tsdb(db.clone(), &token, &config.server);
    let events_dir = config.data_dir.join("events");
    state.events = Some(Arc::new(
        argus_server::events::EventStore::open(&events_dir)
            .with_context(|| format!("cannot open the event store in {}", events_dir.display()))?,
    ));
    let hosts = Arc::new(
        argus_server::hosts::Registry::open(&config.data_dir.join("hosts.json"))
            .context("cannot open the host registry")?,
    );
    state.hosts = Some(hosts.clone());
    state.agent_configs = Some(Arc::new(argus_server::hosts::AgentConfigs {
        dir: config.data_dir.join("agent-config"),
    }));
    // Heartbeats change the registry often; write it out every few seconds at most.
    let mut saver_stop = stop.clone();
    tokio::spawn(async move {
        loop {
            let stopping = tokio::select! {
                _ = saver_stop.wait_for(|s| *s) => true,
                _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => false,
            };
            let h = hosts.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || h.save()).await {
                tracing::error!(error = %e, "cannot save the host registry");
            }
            if stopping {
                break;
            }
        }
    });
    let server = tokio::spawn(argus_server::serve(listener, state, wait_stop(stop)));
    Ok(Started {
        url: format!("http://{addr}"),
        token,
        server,
        db,
        maintenance,
    })
}

fn print_banner(config: &Config, s: &Started, with_agent: bool) {
    let token_file = config.data_dir.join("token");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "argus {} is running", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, "  URL:   {}/", s.url);
    let _ = writeln!(
        out,
        "  Token: {} (saved in {})",
        s.token,
        token_file.display()
    );
    if with_agent {
        let _ = writeln!(
            out,
            "  Agent: collecting this host every {} s",
            config.agent.interval_secs
        );
    }
    let _ = writeln!(
        out,
        "  Try:   curl -H 'Authorization: Bearer {}' '{}/api/v1/query?query=system_uptime'",
        s.token, s.url
    );
    let _ = out.flush();
}

pub async fn server(config: Config) -> anyhow::Result<()> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let started = start_server(&config, rx).await?;
    print_banner(&config, &started, false);
    shutdown_signal().await;
    let _ = tx.send(true);
    started.stop().await
}

pub async fn up(config: Config, config_path: Option<PathBuf>) -> anyhow::Result<()> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let started = start_server(&config, rx.clone()).await?;
    let mut agent_config = config.agent.clone();
    agent_config.servers = vec![started.url.clone()];
    agent_config.token = started.token.clone();
    let agent = Agent::new(&agent_config, &config.data_dir.join("agent"))?;
    let handle = agent.handle();
    start_agent_api(&agent, &agent_config, rx.clone()).await?;
    print_banner(&config, &started, true);
    let agent_task = tokio::spawn(agent.run(wait_stop(rx)));
    // Agent settings reload on SIGHUP, file change or remote pull; the server's need a
    // restart.
    let (url, token) = (started.url.clone(), started.token.clone());
    let agent_dir = config.data_dir.join("agent");
    let layers = || agent_layers(config_path.as_deref(), &agent_dir);
    watch_config(&layers, &handle, &agent_dir, |files: &[PathBuf]| {
        let mut a = Config::load_files(files)?.agent;
        a.servers = vec![url.clone()];
        a.token = token.clone();
        Ok(a)
    })
    .await;
    let _ = tx.send(true);
    agent_task.await??;
    started.stop().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_generated_once_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let a = resolve_token("", dir.path()).unwrap_or_default();
        let b = resolve_token("", dir.path()).unwrap_or_default();
        assert_eq!(a.len(), 64);
        assert_eq!(a, b);
        let mode = std::fs::metadata(dir.path().join("token"))
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0);
        assert_eq!(mode, 0o600);
        let c = resolve_token("given", dir.path()).unwrap_or_default();
        assert_eq!(c, "given");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("token")).unwrap_or_default(),
            "given"
        );
    }
}
