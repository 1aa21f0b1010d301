//! The server roles (`argus server`, `argus up`): storage, stores and the HTTP API,
//! wired from the configuration. Left out of agent-only builds (`--no-default-features`).

use crate::config::Config;
use crate::{agent_layers, shutdown_signal, start_agent_api, wait_stop, watch_config};
use anyhow::Context;
use argus_agent::Agent;
use argus_server::AppState;
use argus_server::pipeline::{QueueKind, Role};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// The server's tokens: `server.token` and `[[server.tokens]]` from the configuration,
/// and `<data_dir>/tokens.toml`. Without any token for every namespace, an `admin` one is
/// generated there at first start. Returns the store and the token to print, if known: the
/// configured one, or one just generated (only its hash is kept, so it is shown once).
fn resolve_tokens(
    config: &Config,
) -> anyhow::Result<(argus_server::store::tokens::TokenStore, Option<String>)> {
    use argus_server::store::tokens::{TokenFile, TokenStore, hash_hex};
    let file = config.data_dir.join("tokens.toml");
    let mut tokens = TokenFile::load(&file).map_err(anyhow::Error::msg)?;
    // Earlier versions kept the generated token in plain text in <data_dir>/token.
    let legacy = config.data_dir.join("token");
    if let Ok(t) = std::fs::read_to_string(&legacy) {
        if !t.trim().is_empty() {
            tokens.tokens.push(argus_server::TokenConfig {
                name: "admin".into(),
                ns: String::new(),
                sha256: hash_hex(t.trim()),
            });
            tokens
                .save(&file)
                .with_context(|| format!("cannot write {}", file.display()))?;
        }
        std::fs::remove_file(&legacy)
            .with_context(|| format!("cannot remove {}", legacy.display()))?;
    }
    let mut shown = (!config.server.token.is_empty()).then(|| config.server.token.clone());
    let has_admin = !config.server.token.is_empty()
        || config.server.tokens.iter().any(|t| t.ns.is_empty())
        || tokens.tokens.iter().any(|t| t.ns.is_empty());
    if !has_admin {
        shown = Some(tokens.add("admin", "")?);
        tokens
            .save(&file)
            .with_context(|| format!("cannot write {}", file.display()))?;
    }
    let store = TokenStore::new(
        Some(&config.server.token),
        &config.server.tokens,
        Some(file),
    )
    .map_err(|e| crate::config::ConfigError {
        file: "server.tokens".into(),
        message: e,
    })?;
    Ok((store, shown))
}

struct Started {
    url: String,
    /// The token to print, when known (configured, or generated at this start).
    token: Option<String>,
    /// A token for agents inside this process, valid until it stops.
    agent_token: String,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The consumers, when this process runs them; they finish their batch on stop.
    consumers: Option<tokio::task::JoinHandle<()>>,
    hosts: Arc<argus_server::store::hosts::HostRegistry>,
    /// The embedded engine; `None` with remote storage.
    db: Option<Arc<argus_tsdb::Db>>,
    maintenance: Option<argus_tsdb::db::Maintenance>,
}

impl Started {
    /// Waits for the server to finish its in-flight requests and the consumers their
    /// batches, then stops the storage.
    async fn stop(self) -> anyhow::Result<()> {
        self.server.await??;
        if let Some(c) = self.consumers {
            c.await?;
        }
        self.hosts.close().await;
        drop(self.maintenance);
        if let Some(db) = self.db {
            db.close();
        }
        Ok(())
    }
}

async fn start_server(
    config: &Config,
    stop: tokio::sync::watch::Receiver<bool>,
    role: Role,
) -> anyhow::Result<Started> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    let (mut tokens, token) = resolve_tokens(config)?;
    let agent_token = argus_server::store::tokens::generate_token()?;
    tokens.add_in_memory(
        &agent_token,
        argus_server::store::tokens::Access {
            name: "local-agent".into(),
            ns: None,
        },
    );
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let mut addr = listener.local_addr()?;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let (store, db, maintenance): (Arc<dyn argus_core::Storage>, _, _) = match config.storage.kind {
        argus_server::config::StorageKind::Local => {
            let tsdb_dir = config.data_dir.join("tsdb");
            let db = tokio::task::block_in_place(|| {
                argus_tsdb::Db::open(&tsdb_dir, config.storage.options())
            })
            .with_context(|| format!("cannot open storage in {}", tsdb_dir.display()))?;
            let db = Arc::new(db);
            let maintenance = db.start_maintenance(std::time::Duration::from_secs(
                config.storage.maintenance_interval_secs,
            ));
            (db.clone(), Some(db), Some(maintenance))
        }
        // Metrics live in the receiver: nothing of them is kept in the data dir.
        argus_server::config::StorageKind::Remote => {
            let store =
                argus_server::storage::remote::RemoteStorage::new(config.storage.remote_options())?;
            (Arc::new(store), None, None)
        }
    };
    let events_dir = config.data_dir.join("events");
    let events = Arc::new(
        argus_server::store::events::EventStore::open(&events_dir)
            .with_context(|| format!("cannot open the event store in {}", events_dir.display()))?,
    );
    // Heartbeats go to the host registry in SQLite; an earlier version's hosts.json is
    // imported once.
    let registry_path = config.data_dir.join("registry.db");
    let hosts = Arc::new(
        argus_server::store::hosts::HostRegistry::open(
            &registry_path,
            Some(&config.data_dir.join("hosts.json")),
        )
        .await
        .with_context(|| format!("cannot open the host registry {}", registry_path.display()))?,
    );
    // Ingest publishes to the queue; the consumers apply what it holds.
    let queue_dir = config.data_dir.join("queue");
    let queue = argus_server::pipeline::open_queue(&config.queue, &queue_dir)
        .await
        .with_context(|| match config.queue.kind {
            QueueKind::Embedded => format!("cannot open the queue in {}", queue_dir.display()),
            QueueKind::Nats => format!("cannot connect to NATS at {}", config.queue.nats_url),
        })?;
    let pipeline = Arc::new(argus_server::pipeline::Pipeline::new(
        queue.clone(),
        &config.queue,
    ));
    let state = AppState {
        store,
        tsdb: db.clone(),
        pipeline: pipeline.clone(),
        events: events.clone(),
        hosts: hosts.clone(),
        agent_configs: Arc::new(argus_server::store::agent_configs::AgentConfigs {
            dir: config.data_dir.join("agent-config"),
        }),
        tokens: Arc::new(tokens),
        telemetry: argus_server::telemetry::Telemetry::new(),
        rules: Arc::new(argus_server::ingest::Rules::from_config(&config.server)),
        max_body_bytes: config.server.max_body_bytes,
        query: config.query.engine_options(config.server.lookback_secs),
    };
    let consumers = role.runs_handlers().then(|| {
        let targets = Arc::new(argus_server::pipeline::apply::Targets {
            store: state.store.clone(),
            tsdb: db.clone(),
            rules: state.rules.clone(),
            events,
            hosts: hosts.clone(),
            exec: config.handlers.exec.clone(),
            batch_entries: config.handlers.batch_entries,
            workers: config.handlers.workers_per_type,
        });
        tokio::spawn(argus_server::pipeline::consumer::run(
            queue.clone(),
            targets,
            pipeline.metrics.clone(),
            config.handlers.types.clone(),
            stop.clone(),
        ))
    });
    let server = if role.runs_ingest() {
        tokio::spawn(argus_server::serve(listener, state, wait_stop(stop)))
    } else {
        let router = argus_server::status_router(state);
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(wait_stop(stop))
                .await
        })
    };
    Ok(Started {
        url: format!("http://{addr}"),
        token,
        agent_token,
        server,
        consumers,
        hosts,
        db,
        maintenance,
    })
}

fn print_banner(config: &Config, s: &Started, with_agent: bool) {
    let token_file = config.data_dir.join("tokens.toml");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "argus {} is running", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, "  URL:   {}/", s.url);
    match &s.token {
        Some(t) => {
            let _ = writeln!(
                out,
                "  Token: {t} (only its SHA-256 is kept, in {}: note it)",
                token_file.display()
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  Token: the one printed at first start (only its hash is kept); `argus token add --data-dir {}` makes another",
                config.data_dir.display()
            );
        }
    }
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
        s.token.as_deref().unwrap_or("$TOKEN"),
        s.url
    );
    let _ = out.flush();
}

pub async fn server(config: Config, role: Role) -> anyhow::Result<()> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let started = start_server(&config, rx, role).await?;
    print_banner(&config, &started, false);
    shutdown_signal().await;
    let _ = tx.send(true);
    started.stop().await
}

pub async fn up(mut config: Config, config_path: Option<PathBuf>) -> anyhow::Result<()> {
    // The all-in-one keeps everything in its data directory: the embedded queue.
    if config.queue.kind != QueueKind::Embedded {
        tracing::warn!("argus up uses the embedded queue; [queue] kind is for `argus server`");
        config.queue.kind = QueueKind::Embedded;
    }
    let (tx, rx) = tokio::sync::watch::channel(false);
    let started = start_server(&config, rx.clone(), Role::All).await?;
    let mut agent_config = config.agent.clone();
    agent_config.servers = vec![started.url.clone()];
    agent_config.token = started.agent_token.clone();
    let agent = Agent::new(&agent_config, &config.data_dir.join("agent"))?;
    let handle = agent.handle();
    start_agent_api(&agent, &agent_config, rx.clone()).await?;
    print_banner(&config, &started, true);
    let agent_task = tokio::spawn(agent.run(wait_stop(rx)));
    // Agent settings reload on SIGHUP, file change or remote pull; the server's need a
    // restart.
    let (url, token) = (started.url.clone(), started.agent_token.clone());
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
    fn an_admin_token_is_generated_once_and_kept_only_hashed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        // A token from an earlier version is taken over, hashed, and its file removed.
        std::fs::write(dir.path().join("token"), "old-token\n").unwrap_or_default();
        let (store, shown) = resolve_tokens(&config).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(shown, None, "the old admin token stays the admin token");
        assert!(store.check("old-token").is_some());
        assert!(!dir.path().join("token").exists());
        std::fs::remove_file(dir.path().join("tokens.toml")).unwrap_or_default();

        let (store, shown) = resolve_tokens(&config).unwrap_or_else(|e| panic!("{e:#}"));
        let token = shown.unwrap_or_default();
        assert_eq!(token.len(), 64);
        assert!(store.check(&token).is_some_and(|a| a.ns.is_none()));
        let file = dir.path().join("tokens.toml");
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(!text.contains(&token), "{text}");
        assert!(
            text.contains(&argus_server::store::tokens::hash_hex(&token)),
            "{text}"
        );
        let mode = std::fs::metadata(&file)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0);
        assert_eq!(mode, 0o600);
        // The next start generates nothing and shows nothing.
        let (store, shown) = resolve_tokens(&config).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(shown, None);
        assert!(store.check(&token).is_some());
        // A configured token is accepted and shown.
        config.server.token = "given".into();
        let (store, shown) = resolve_tokens(&config).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(shown.as_deref(), Some("given"));
        assert!(store.check("given").is_some() && store.check(&token).is_some());
    }
}
