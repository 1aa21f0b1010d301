//! The server roles (`argus server`, `argus up`): storage, stores and the HTTP API,
//! wired from the configuration. Left out of agent-only builds (`--no-default-features`).

use crate::config::Config;
use crate::{
    agent_layers, shutdown_signal, start_agent_api, start_remote_tasks, wait_stop, watch_config,
};
use anyhow::Context;
use argus_agent::Agent;
use argus_server::AppState;
use argus_server::pipeline::{QueueKind, Role};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The server's database and credentials: the database (`[database] url`, else SQLite
/// in `<data_dir>/registry.db`) with its users; the `admin` user created on first start
/// (password from `ARGUS_ADMIN_PASSWORD`, else generated and returned to be printed); an
/// earlier version's `tokens.toml` and agent configuration files imported; and the
/// admin API token: `server.token` if set, else one generated at first start (kept hashed
/// in the database, so it is returned and shown once).
async fn open_database(config: &Config) -> anyhow::Result<Opened> {
    use argus_server::store::tokens::{TokenStore, hash_hex, import_token_file};
    use argus_server::store::users::{NewToken, Users};
    let url = if config.database.url.is_empty() {
        argus_server::store::db::sqlite_url(&config.data_dir.join("registry.db"))?
    } else {
        config.database.url.clone()
    };
    let db = Arc::new(argus_server::store::db::Database::open(&url).await?);
    let users = Arc::new(Users::new(db.clone()));
    let first = users
        .ensure_admin(std::env::var("ARGUS_ADMIN_PASSWORD").ok().as_deref())
        .await?;
    let admin_password = first.generated_password().map(str::to_string);
    // Earlier versions: a plain token in <data_dir>/token, then hashes in tokens.toml.
    let legacy = config.data_dir.join("token");
    if let Ok(t) = std::fs::read_to_string(&legacy) {
        if !t.trim().is_empty() {
            users.import_token("admin", "", &hash_hex(t.trim())).await?;
        }
        std::fs::remove_file(&legacy)
            .with_context(|| format!("cannot remove {}", legacy.display()))?;
    }
    import_token_file(&users, &config.data_dir.join("tokens.toml"))
        .await
        .map_err(anyhow::Error::msg)?;
    let configs = Arc::new(argus_server::store::agent_configs::AgentConfigs::new(
        db.clone(),
    ));
    configs
        .import_dir(&config.data_dir.join("agent-config"))
        .await
        .map_err(anyhow::Error::msg)?;
    // The admin API token: the configured one, else one made at first start.
    let mut shown = (!config.server.token.is_empty()).then(|| config.server.token.clone());
    let has_admin_token =
        !config.server.token.is_empty()
            || config.server.tokens.iter().any(|t| t.ns.is_empty())
            || users.list_tokens(Some("admin")).await?.iter().any(|t| {
                t.namespaces.is_empty() && t.role == argus_server::store::users::Role::Admin
            });
    if !has_admin_token {
        let (token, _) = users
            .create_token(
                &argus_server::store::tokens::Access::system(),
                NewToken {
                    name: "admin".into(),
                    role: None,
                    namespaces: Vec::new(),
                    user: Some("admin".into()),
                    expires_days: None,
                },
            )
            .await?;
        shown = Some(token);
    }
    let configured_token = !config.server.token.is_empty();
    let tokens = TokenStore::new(
        Some(&config.server.token),
        &config.server.tokens,
        users.clone(),
    )
    .map_err(|e| crate::config::ConfigError {
        file: "server.tokens".into(),
        message: e,
    })?;
    Ok(Opened {
        db,
        users,
        tokens,
        configs,
        token: shown,
        configured_token,
        admin_password,
    })
}

struct Opened {
    db: Arc<argus_server::store::db::Database>,
    users: Arc<argus_server::store::users::Users>,
    tokens: argus_server::store::tokens::TokenStore,
    configs: Arc<argus_server::store::agent_configs::AgentConfigs>,
    /// A token generated at this start, to print once.
    token: Option<String>,
    /// Whether `server.token` is set (it is printed as the configuration has it).
    configured_token: bool,
    admin_password: Option<String>,
}

struct Started {
    url: String,
    /// The token to print, when known (configured, or generated at this start).
    token: Option<String>,
    /// Whether that token is `server.token` (else generated now).
    configured_token: bool,
    /// The admin user's password, when generated at this start.
    admin_password: Option<String>,
    /// Where users and the inventory are kept (for the banner).
    database: String,
    /// A token for agents inside this process, valid until it stops.
    agent_token: String,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The consumers, when this process runs them; they finish their batch on stop.
    consumers: Option<tokio::task::JoinHandle<()>>,
    db: Arc<argus_server::store::db::Database>,
    /// The inventory series writer, when this process runs it.
    inventory: Option<tokio::task::JoinHandle<()>>,
    /// Rule evaluation, routing and notifications.
    alerting: tokio::task::JoinHandle<()>,
    /// The embedded engine; `None` with remote storage.
    tsdb: Option<Arc<argus_tsdb::Db>>,
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
        if let Some(i) = self.inventory {
            i.await?;
        }
        self.alerting.await?;
        self.db.close().await;
        drop(self.maintenance);
        if let Some(db) = self.tsdb {
            // The head goes into blocks, so the next start reads blocks instead of
            // replaying the write-ahead log (10 M samples: about 1 s here against 10 s).
            // On failure the WAL still holds everything.
            let t = std::time::Instant::now();
            let flushing = db.clone();
            match tokio::task::spawn_blocking(move || flushing.flush()).await {
                Ok(Ok(_)) => tracing::info!(
                    seconds = t.elapsed().as_secs_f64(),
                    "storage flushed for a fast start"
                ),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "flush at shutdown failed; the next start replays the write-ahead log")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "flush at shutdown failed; the next start replays the write-ahead log")
                }
            }
            db.close();
        }
        Ok(())
    }
}

/// This server's name as a holder of leases: its address and a random part, so that a
/// restarted server on the same address is another holder.
fn argus_notify_holder(addr: &std::net::SocketAddr) -> String {
    let tail = argus_server::store::tokens::generate_token().unwrap_or_default();
    format!("{addr}/{}", tail.get(..8).unwrap_or(""))
}

async fn start_server(
    config: &Config,
    stop: tokio::sync::watch::Receiver<bool>,
    role: Role,
) -> anyhow::Result<Started> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    let Opened {
        db: database,
        users,
        mut tokens,
        configs,
        token,
        configured_token,
        admin_password,
    } = open_database(config).await?;
    let token = token.or_else(|| configured_token.then(|| config.server.token.clone()));
    let agent_token = argus_server::store::tokens::generate_token()?;
    tokens.add_in_memory(
        &agent_token,
        argus_server::store::tokens::Access {
            name: "local-agent".into(),
            ..argus_server::store::tokens::Access::admin()
        },
    );
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let mut addr = listener.local_addr()?;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let tls = if config.server.tls_cert.is_empty() {
        None
    } else {
        let ca = &config.server.tls_client_ca;
        Some(
            argus_server::tls::server_config(
                Path::new(&config.server.tls_cert),
                Path::new(&config.server.tls_key),
                (!ca.is_empty()).then(|| Path::new(ca)),
            )
            .map_err(anyhow::Error::msg)?,
        )
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
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
    // Heartbeats go to the inventory in the database.
    let hosts = Arc::new(argus_server::store::hosts::HostRegistry::new(
        database.clone(),
        config.inventory.down_after_missed,
    ));
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
    // Rules are evaluated where the handlers run (the store is written there); every
    // process takes alerts posted as to an Alertmanager, and silences.
    let query_opts = config.query.engine_options(config.server.lookback_secs);
    let alerting_cfg = argus_server::AlertingConfig {
        rule_files: if role.runs_handlers() {
            config.alerting.rule_files.clone()
        } else {
            Vec::new()
        },
        ..config.alerting.clone()
    };
    let external_url = if config.alerting.external_url.is_empty() {
        format!("http://{addr}")
    } else {
        config.alerting.external_url.clone()
    };
    let (manager, notifier_config) = argus_server::alerting::Alerting::load(
        &alerting_cfg,
        store.clone(),
        query_opts.clone(),
        &external_url,
    )
    .map_err(|e| crate::config::ConfigError {
        file: "[alerting]".into(),
        message: e.to_string(),
    })?;
    // The channels come from the same loaded configuration the engine routes by.
    let sender = argus_server::alerting::channels::ChannelSender::new(&notifier_config);
    let notifier = argus_server::alerting::notifier::Notifier::open(
        notifier_config,
        &config.alerting.notifier_file,
        &external_url,
        argus_server::store::kv::Kv::new(database.clone()),
        Arc::new(sender),
    )
    .await
    .map_err(anyhow::Error::msg)?;
    let alerting = Arc::new(
        argus_server::alerting::Alerting::new(argus_server::alerting::Parts {
            manager,
            notifier,
            alertmanagers: config.alerting.alertmanagers.clone(),
            history: argus_server::store::alert_history::AlertHistory::new(database.clone()),
            rule_files: alerting_cfg.rule_files.clone(),
            api_rules: argus_server::store::api_rules::ApiRules::new(database.clone()),
            // Several servers share a PostgreSQL: one at a time evaluates and sends.
            lease: (database.backend() == argus_server::store::db::Backend::Postgres
                && role.runs_handlers())
            .then(|| {
                (
                    argus_server::store::leases::Leases::new(database.clone()),
                    argus_notify_holder(&addr),
                )
            }),
            evaluates: role.runs_handlers(),
            external_url: external_url.clone(),
        })
        .map_err(anyhow::Error::msg)?,
    );
    // The rule files and the API's rules, where rules are evaluated: a file that does not
    // load stops the start, naming file, line and reason.
    if role.runs_handlers() {
        let status = alerting.reload().await;
        if !status.ok {
            return Err(crate::config::ConfigError {
                file: "[alerting] rule_files".into(),
                message: status.errors.join("\n"),
            }
            .into());
        }
    }
    let alerting_task = alerting.start(queue.clone(), stop.clone());
    let state = AppState {
        alerting,
        store,
        tsdb: db.clone(),
        pipeline: pipeline.clone(),
        events: events.clone(),
        hosts: hosts.clone(),
        users,
        auth: config.auth.clone(),
        inventory: config.inventory.clone(),
        agent_configs: configs,
        plugins: Arc::new(argus_server::plugins::Plugins::new(
            argus_server::store::plugins::PluginStore::new(database.clone()),
            config.plugins.clone(),
        )),
        tokens: Arc::new(tokens),
        telemetry: argus_server::telemetry::Telemetry::new(),
        rules: Arc::new(argus_server::ingest::Rules::from_config(&config.server)),
        max_body_bytes: config.server.max_body_bytes,
        query: query_opts,
        tasks: Arc::new(
            argus_server::store::tasks::TaskStore::new(
                database.clone(),
                // A plugin task names a plugin of the plugin store.
                Arc::new(argus_server::store::plugins::PluginStore::new(
                    database.clone(),
                )),
                config.tasks.max_output_bytes,
            )
            .with_stop(stop.clone()),
        ),
    };
    let consumers = role.runs_handlers().then(|| {
        let targets = Arc::new(argus_server::pipeline::apply::Targets {
            store: state.store.clone(),
            tsdb: db.clone(),
            rules: state.rules.clone(),
            events,
            hosts: hosts.clone(),
            exec: config.handlers.exec.clone(),
            event_rules: state.alerting.event_rules.clone(),
            pipeline: pipeline.clone(),
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
    // The processes that apply heartbeats also write the inventory series.
    let inventory =
        (role.runs_handlers() && config.inventory.evaluation_interval_secs > 0).then(|| {
            let alerting = state.alerting.clone();
            tokio::spawn(argus_server::inventory::run(
                hosts.clone(),
                state.store.clone(),
                std::time::Duration::from_secs(config.inventory.evaluation_interval_secs),
                move || alerting.is_leader(),
                stop.clone(),
            ))
        });
    let app = if role.runs_ingest() {
        argus_server::http::router(state)
    } else {
        argus_server::status_router(state)
    };
    let server = match tls {
        Some(tls) => spawn_serve(
            argus_server::tls::TlsListener::new(listener, tls)?,
            app,
            stop,
        ),
        None => spawn_serve(listener, app, stop),
    };
    Ok(Started {
        url: format!("{scheme}://{addr}"),
        token,
        configured_token,
        admin_password,
        database: database.location().to_string(),
        agent_token,
        server,
        consumers,
        db: database,
        inventory,
        alerting: alerting_task,
        tsdb: db,
        maintenance,
    })
}

fn print_banner(config: &Config, s: &Started, with_agent: bool) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "argus {} is running", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, "  URL:   {}/", s.url);
    match &s.admin_password {
        Some(p) => {
            let _ = writeln!(
                out,
                "  Login: admin / {p} (generated now and shown once: note it, then change it)"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  Login: POST {}/api/argus/login with your user (admin's password was set or printed at first start)",
                s.url
            );
        }
    }
    match &s.token {
        Some(t) if s.configured_token => {
            let _ = writeln!(out, "  Token: {t} (server.token, from the configuration)");
        }
        Some(t) => {
            let _ = writeln!(
                out,
                "  Token: {t} (admin API token, shown once: only its SHA-256 is kept, in {})",
                s.database
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  Token: the one printed at first start (only its hash is kept); another: POST /api/argus/tokens, or `argus token add --name NAME --data-dir {}`",
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

/// Serves `app` on `listener` until `stop`.
fn spawn_serve<L>(
    listener: L,
    app: axum::Router,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<std::io::Result<()>>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(wait_stop(stop))
            .await
    })
}

/// The self-signed certificate and key of `--tls-self-signed` under `<data_dir>/tls/`:
/// made at the first start for `localhost`, 127.0.0.1, ::1 and this host's name, then
/// kept (agents and browsers that trusted it go on trusting it). The key is mode 0600.
pub fn self_signed(data_dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    let dir = data_dir.join("tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    if let Some(h) = hostname::get().ok().and_then(|h| h.into_string().ok()) {
        names.push(h);
    }
    let made = rcgen::generate_simple_self_signed(names).map_err(|e| e.to_string())?;
    std::fs::write(&cert, made.cert.pem()).map_err(|e| format!("{}: {e}", cert.display()))?;
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&key)
            .map_err(|e| format!("{}: {e}", key.display()))?;
        f.write_all(made.signing_key.serialize_pem().as_bytes())
            .map_err(|e| format!("{}: {e}", key.display()))?;
    }
    Ok((cert, key))
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
    // The local agent trusts the server's own certificate (self-signed or not).
    let local_tls = (!config.server.tls_cert.is_empty()).then(|| config.server.tls_cert.clone());
    if let Some(ca) = &local_tls {
        agent_config.tls_ca = ca.clone();
    }
    let agent = Agent::new(&agent_config, &config.data_dir.join("agent"))?;
    let handle = agent.handle();
    start_agent_api(&agent, &agent_config, rx.clone()).await?;
    print_banner(&config, &started, true);
    let tasks = start_remote_tasks(&handle, rx.clone());
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
        if let Some(ca) = &local_tls {
            a.tls_ca = ca.clone();
        }
        Ok(a)
    })
    .await;
    let _ = tx.send(true);
    let _ = tasks.await;
    agent_task.await??;
    started.stop().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn first_start_makes_the_admin_user_and_token_once_kept_only_hashed() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        // A token from an earlier version is taken over, hashed, and its file removed.
        std::fs::write(dir.path().join("token"), "old-token\n").unwrap_or_default();
        let o = open_database(&config)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(o.token, None, "the old admin token stays the admin token");
        let pw = o.admin_password.clone().unwrap_or_default();
        assert_eq!(pw.len(), 24);
        let old = o.tokens.check("old-token").await.ok().flatten();
        assert!(old.is_some_and(|a| a.namespaces.is_none()));
        assert!(!dir.path().join("token").exists());
        o.db.close().await;

        // A fresh directory: the admin token is generated and shown once.
        let dir2 = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        config.data_dir = dir2.path().to_path_buf();
        let o = open_database(&config)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        let token = o.token.clone().unwrap_or_default();
        assert_eq!(token.len(), 64);
        assert!(o.tokens.check(&token).await.ok().flatten().is_some());
        let raw = std::fs::read(dir2.path().join("registry.db")).unwrap_or_default();
        assert!(
            !raw.windows(token.len()).any(|w| w == token.as_bytes()),
            "the token is stored in plain text"
        );
        o.db.close().await;
        // The next start generates nothing and shows nothing.
        let o = open_database(&config)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!((o.token.clone(), o.admin_password.clone()), (None, None));
        assert!(o.tokens.check(&token).await.ok().flatten().is_some());
        o.db.close().await;
        // A configured token is accepted and shown.
        config.server.token = "given".into();
        let o = open_database(&config)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(o.token.as_deref(), Some("given"));
        assert!(o.tokens.check("given").await.ok().flatten().is_some());
        o.db.close().await;
    }
}
