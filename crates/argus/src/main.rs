//! `argus`: one binary for every role. This file is only the command line and the wiring;
//! the work lives in the library crates.

mod agent_api;
mod config;
#[cfg(feature = "server")]
mod serve;

/// The server's allocator. With glibc's, the server kept about three times its heap
/// resident after a backlog of ingest drained (545 MiB resident for a 183 MB heap peak,
/// heaptrack; bench/tsdb.md): freed memory stays in per-thread arenas. mimalloc returns
/// it. The agent build (no `server` feature) keeps the system allocator: its footprint is
/// measured with it.
#[cfg(feature = "server")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use argus_agent::Agent;
use clap::{Args, Parser, Subcommand};
use config::{Config, ConfigError};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "argus",
    version,
    about = "Monitoring for fleets of servers: agent, server, or both"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Server and a local agent in one process: the quickest way to start.
    Up(ServerArgs),
    /// The server: ingest, storage and the query API.
    Server(ServerArgs),
    /// The agent: collects this host's metrics and ships them to the servers.
    Agent(AgentArgs),
    /// Prints the version.
    Version,
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// API tokens of the server's users (kept as SHA-256 hashes in its database).
    #[cfg(feature = "server")]
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The server's users.
    #[cfg(feature = "server")]
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

/// Where the server's database is: its configuration file and data directory.
#[cfg(feature = "server")]
#[derive(Args)]
struct DatabaseArgs {
    /// The server's configuration file (for `[database] url`).
    #[arg(long, short, env = "ARGUS_CONFIG")]
    config: Option<PathBuf>,
    /// The server's data directory (data_dir; the SQLite database is registry.db in it).
    #[arg(long, env = "ARGUS_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

#[cfg(feature = "server")]
#[derive(Subcommand)]
enum UserCommand {
    /// Sets a user's password (e.g. admin's, when forgotten), read from the
    /// ARGUS_PASSWORD environment variable or else the first line of standard input.
    Password {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

#[cfg(feature = "server")]
#[derive(Subcommand)]
enum TokenCommand {
    /// Makes a new API token, prints it (the only time it is shown) and keeps its hash in
    /// the database. Running servers accept it at once.
    Add {
        /// Namespaces it writes into and reads from, comma-separated; none: every namespace.
        #[arg(long, default_value = "")]
        ns: String,
        /// A name for people and logs.
        #[arg(long)]
        name: String,
        /// Its role (viewer, editor, admin); default: its user's.
        #[arg(long)]
        role: Option<String>,
        /// The user it belongs to.
        #[arg(long, default_value = "admin")]
        user: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Lists the API tokens (ids, names, users, roles, namespaces).
    List {
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Prints the full default configuration, every key documented.
    Default,
    /// Checks a configuration file and exits 2 with the problem if it is not valid.
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
}

#[derive(Args)]
struct ServerArgs {
    /// Configuration file (TOML); see `argus config default`.
    #[arg(long, short, env = "ARGUS_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on (server.listen).
    #[arg(long, env = "ARGUS_LISTEN")]
    listen: Option<String>,
    /// Directory for all data (data_dir).
    #[arg(long, env = "ARGUS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The API token (server.token).
    #[arg(long, env = "ARGUS_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// What this process runs: all (ingest, query and handlers), ingest (HTTP ingest and
    /// query, no handlers) or handlers (the queue's consumers, /health and /metrics).
    #[arg(long, env = "ARGUS_ROLE", default_value = "all")]
    role: String,
    /// Types a handlers process consumes, comma separated (handlers.types); none: all.
    #[arg(long, value_delimiter = ',')]
    types: Vec<String>,
    /// Serve HTTPS with a self-signed certificate for this host, made at the first start
    /// under <data_dir>/tls/ and kept (server.tls_cert and tls_key).
    #[arg(long)]
    tls_self_signed: bool,
}

#[derive(Args, Clone)]
struct AgentArgs {
    /// Configuration file (TOML); see `argus config default`.
    #[arg(long, short, env = "ARGUS_CONFIG")]
    config: Option<PathBuf>,
    /// Directory for the agent's state (data_dir).
    #[arg(long, env = "ARGUS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Token sent to the servers (agent.token).
    #[arg(long, env = "ARGUS_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Server base URL; repeat for failover (agent.servers).
    #[arg(long = "server")]
    servers: Vec<String>,
    /// The host label (agent.hostname).
    #[arg(long)]
    hostname: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(c) = e.downcast_ref::<ConfigError>() {
                eprintln!("argus: {c}");
                return ExitCode::from(2);
            }
            eprintln!("argus: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Version => {
            println!("argus {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Config { command } => match command {
            ConfigCommand::Default => {
                print!("{}", config::default_config_text());
                Ok(())
            }
            ConfigCommand::Check { config } => {
                let loaded = Config::load(Some(&config))?;
                // The files the configuration names are read as the server reads them.
                #[cfg(feature = "server")]
                for line in loaded.check_alerting_files()? {
                    println!("{line}");
                }
                #[cfg(not(feature = "server"))]
                let _ = loaded;
                println!("{}: ok", config.display());
                Ok(())
            }
        },
        #[cfg(feature = "server")]
        Command::Token { command } => token_command(command),
        #[cfg(feature = "server")]
        Command::User { command } => user_command(command),
        #[cfg(feature = "server")]
        Command::Up(args) => {
            let config = server_config(&args)?;
            if args.role != "all" {
                return Err(ConfigError {
                    file: "command line".into(),
                    message: "--role: `argus up` runs every role; use `argus server --role`".into(),
                }
                .into());
            }
            runtime()?.block_on(serve::up(config, args.config.clone()))
        }
        #[cfg(feature = "server")]
        Command::Server(args) => {
            let config = server_config(&args)?;
            let role = server_role(&args, &config)?;
            runtime()?.block_on(serve::server(config, role))
        }
        #[cfg(not(feature = "server"))]
        Command::Up(_) | Command::Server(_) => Err(ConfigError {
            file: "command line".into(),
            message: "this argus is an agent-only build (built without the `server` feature): \
                      it runs `argus agent` only"
                .into(),
        }
        .into()),
        Command::Agent(args) => {
            let (config, remote_etag) = agent_config(&args)?;
            init_logging(&config.log_level);
            agent_runtime()?.block_on(agent(config, args, remote_etag))
        }
    }
}

/// Opens the server's database as `argus server` would (creating the admin user if the
/// server never started; its password is then printed).
#[cfg(feature = "server")]
async fn cli_users(db: &DatabaseArgs) -> anyhow::Result<argus_server::store::users::Users> {
    let mut config = Config::load(db.config.as_deref())?;
    if let Some(d) = &db.data_dir {
        config.data_dir = d.clone();
    }
    let url = if config.database.url.is_empty() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
        argus_server::store::db::sqlite_url(&config.data_dir.join("registry.db"))?
    } else {
        config.database.url.clone()
    };
    let db = argus_server::store::db::Database::open(&url).await?;
    let users = argus_server::store::users::Users::new(std::sync::Arc::new(db));
    if let Some(p) = users
        .ensure_admin(std::env::var("ARGUS_ADMIN_PASSWORD").ok().as_deref())
        .await?
        .generated_password()
    {
        eprintln!("user admin created with password {p} (shown once: note it)");
    }
    Ok(users)
}

#[cfg(feature = "server")]
fn bad_arg(message: String) -> anyhow::Error {
    ConfigError {
        file: "command line".into(),
        message,
    }
    .into()
}

#[cfg(feature = "server")]
fn token_command(command: TokenCommand) -> anyhow::Result<()> {
    use argus_server::store::tokens::Access;
    use argus_server::store::users::{NewToken, Role};
    runtime()?.block_on(async {
        match command {
            TokenCommand::Add {
                ns,
                name,
                role,
                user,
                db,
            } => {
                let namespaces: Vec<String> = ns
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect();
                if let Some(n) = namespaces
                    .iter()
                    .find(|n| !argus_server::ingest::valid_namespace(n))
                {
                    return Err(bad_arg(format!(
                        "--ns {n:?}: a namespace is 1 to 128 of [A-Za-z0-9_.-]"
                    )));
                }
                let role = role
                    .map(|r| r.parse::<Role>())
                    .transpose()
                    .map_err(|e| bad_arg(format!("--role: {e}")))?;
                let users = cli_users(&db).await?;
                let (token, info) = users
                    .create_token(
                        &Access::system(),
                        NewToken {
                            name: name.clone(),
                            role,
                            namespaces,
                            user: Some(user),
                            expires_days: None,
                        },
                    )
                    .await
                    .map_err(|e| bad_arg(e.to_string()))?;
                println!("{token}");
                eprintln!(
                    "token {name:?} (id {}) of user {:?}, role {}, for {} added to {} (only its hash is kept: note the token now)",
                    info.id,
                    info.user,
                    info.role.as_str(),
                    if info.namespaces.is_empty() {
                        "every namespace".to_string()
                    } else {
                        format!("namespaces {}", info.namespaces.join(","))
                    },
                    users.db().location(),
                );
                Ok(())
            }
            TokenCommand::List { db } => {
                let users = cli_users(&db).await?;
                for t in users.list_tokens(None).await? {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        t.id,
                        t.name,
                        t.user,
                        t.role.as_str(),
                        if t.namespaces.is_empty() {
                            "*".to_string()
                        } else {
                            t.namespaces.join(",")
                        }
                    );
                }
                Ok(())
            }
        }
    })
}

#[cfg(feature = "server")]
fn user_command(command: UserCommand) -> anyhow::Result<()> {
    use argus_server::store::users::UserPatch;
    runtime()?.block_on(async {
        match command {
            UserCommand::Password { name, db } => {
                let password = match std::env::var("ARGUS_PASSWORD") {
                    Ok(p) => p,
                    Err(_) => {
                        let mut line = String::new();
                        std::io::stdin().read_line(&mut line)?;
                        line.trim_end_matches(['\r', '\n']).to_string()
                    }
                };
                let users = cli_users(&db).await?;
                users
                    .update(
                        "argus",
                        &name,
                        UserPatch {
                            password: Some(password),
                            ..UserPatch::default()
                        },
                        None,
                    )
                    .await
                    .map_err(|e| bad_arg(e.to_string()))?;
                eprintln!("password of {name:?} changed; their sessions are ended");
                Ok(())
            }
        }
    })
}

/// The files an agent's configuration comes from: the local ones, then the last pulled
/// remote configuration.
fn agent_layers(path: Option<&Path>, agent_data_dir: &Path) -> Vec<PathBuf> {
    let mut files = config::config_files(path);
    let (remote, _) = argus_agent::remote::saved_paths(agent_data_dir);
    if remote.exists() {
        files.push(remote);
    }
    files
}

/// The ETag of the saved remote configuration if it is one of `files`: what the agent runs
/// once they are applied.
fn applied_remote_etag(files: &[PathBuf], agent_data_dir: &Path) -> Option<String> {
    let (remote, _) = argus_agent::remote::saved_paths(agent_data_dir);
    if files.contains(&remote) {
        argus_agent::remote::saved_etag(agent_data_dir)
    } else {
        None
    }
}

/// The agent's configuration: file(s), the saved remote layer, then the flags, which win;
/// and the ETag of the remote layer if it is part of it.
fn agent_config(args: &AgentArgs) -> Result<(Config, Option<String>), ConfigError> {
    let local = Config::load(args.config.as_deref())?;
    let data_dir = args.data_dir.clone().unwrap_or(local.data_dir.clone());
    let files = agent_layers(args.config.as_deref(), &data_dir);
    let (mut config, remote_etag) = match Config::load_files(&files) {
        Ok(c) => (c, applied_remote_etag(&files, &data_dir)),
        Err(e) => {
            // A bad remote copy must not keep the agent from starting.
            tracing::warn!(error = %e, "ignoring the saved remote configuration");
            (local, None)
        }
    };
    apply_agent_flags(&mut config, args);
    Ok((config, remote_etag))
}

fn apply_agent_flags(config: &mut Config, args: &AgentArgs) {
    if let Some(d) = &args.data_dir {
        config.data_dir = d.clone();
    }
    if let Some(t) = &args.token {
        config.agent.token = t.clone();
    }
    if !args.servers.is_empty() {
        config.agent.servers = args.servers.clone();
    }
    if let Some(h) = &args.hostname {
        config.agent.hostname = h.clone();
    }
}

/// Loads the file and applies the flags, which win over it.
#[cfg(feature = "server")]
fn server_config(args: &ServerArgs) -> Result<Config, ConfigError> {
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(l) = &args.listen {
        config.server.listen = l.clone();
    }
    if let Some(d) = &args.data_dir {
        config.data_dir = d.clone();
    }
    if let Some(t) = &args.token {
        config.server.token = t.clone();
    }
    if !args.types.is_empty() {
        config.handlers.types = args.types.clone();
    }
    if args.tls_self_signed {
        let (cert, key) = serve::self_signed(&config.data_dir).map_err(|e| ConfigError {
            file: "command line".into(),
            message: format!("--tls-self-signed: {e}"),
        })?;
        config.server.tls_cert = cert.display().to_string();
        config.server.tls_key = key.display().to_string();
        config.server.tls_client_ca.clear();
    }
    let source = args
        .config
        .as_ref()
        .map_or("command line".to_string(), |p| p.display().to_string());
    if config
        .server
        .listen
        .parse::<std::net::SocketAddr>()
        .is_err()
    {
        return Err(ConfigError {
            file: source,
            message: format!(
                "key server.listen (--listen): {:?} is not an address like 127.0.0.1:9970",
                config.server.listen
            ),
        });
    }
    if let Err(message) = config.handlers.check() {
        return Err(ConfigError {
            file: source,
            message,
        });
    }
    init_logging(&config.log_level);
    Ok(config)
}

/// `--role`, checked against the queue: only a shared queue (NATS) can be split over
/// processes.
#[cfg(feature = "server")]
fn server_role(
    args: &ServerArgs,
    config: &Config,
) -> Result<argus_server::pipeline::Role, ConfigError> {
    use argus_server::pipeline::{QueueKind, Role};
    let role: Role = args.role.parse().map_err(|message| ConfigError {
        file: "command line".into(),
        message: format!("--role: {message}"),
    })?;
    if role != Role::All && config.queue.kind == QueueKind::Embedded {
        return Err(ConfigError {
            file: "command line".into(),
            message: format!(
                "--role {}: the embedded queue belongs to one process; split roles need queue.kind = \"nats\"",
                args.role
            ),
        });
    }
    Ok(role)
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(feature = "server")]
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    // reqwest is built without a default TLS crypto provider; pick ring (no C toolchain
    // beyond gcc, no OpenSSL). Failing means one is installed already, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The agent's runtime: its async work (timers, the sender, the local API) is light, so it
/// runs on the main thread; plugins gather on the blocking pool, whose threads are kept
/// across ticks (tokio's default keep-alive, 10 s, is the default interval: threads would
/// be started and torn down every tick).
fn agent_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_keep_alive(std::time::Duration::from_secs(300))
        .build()
        .context("cannot start the async runtime")
}

/// Resolves when the process is asked to stop (SIGINT or SIGTERM).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

async fn wait_stop(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Runs the agent; `remote_etag` is that of the saved remote configuration in `config`.
async fn agent(config: Config, args: AgentArgs, remote_etag: Option<String>) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    let agent = Agent::new(&config.agent, &config.data_dir)?;
    let handle = agent.handle();
    handle.set_remote_etag(remote_etag);
    let (tx, rx) = tokio::sync::watch::channel(false);
    start_agent_api(&agent, &config.agent, rx.clone()).await?;
    let tasks = start_remote_tasks(&handle, rx.clone());
    let run = tokio::spawn(agent.run(wait_stop(rx)));
    let data_dir = config.data_dir.clone();
    let layers = || agent_layers(args.config.as_deref(), &data_dir);
    watch_config(&layers, &handle, &data_dir, |files: &[PathBuf]| {
        let mut c = Config::load_files(files)?;
        apply_agent_flags(&mut c, &args);
        Ok(c.agent)
    })
    .await;
    let _ = tx.send(true);
    let _ = tasks.await;
    run.await?
}

/// Polls the servers for this host's remote tasks and runs them (as the agent's
/// configuration allows) until `stop`.
fn start_remote_tasks(
    handle: &argus_agent::runtime::AgentHandle,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    // A plugin task runs a plugin installed here from the server's store, verified first.
    let plugins: std::sync::Arc<dyn argus_agent::tasks::LocalPlugins> =
        std::sync::Arc::new(handle.installed_plugins());
    tokio::spawn(argus_agent::tasks::run(handle.clone(), plugins, stop))
}

/// Size and modification time of each file: a change means "reload".
fn fingerprint(files: &[PathBuf]) -> Vec<Option<(u64, std::time::SystemTime)>> {
    files
        .iter()
        .map(|f| {
            std::fs::metadata(f)
                .ok()
                .and_then(|m| Some((m.len(), m.modified().ok()?)))
        })
        .collect()
}

/// Until shutdown: reloads the agent's configuration on SIGHUP, when a config file (or the
/// set of conf.d files) changes, and when a remote configuration pull brings a new one. A
/// configuration that does not load keeps the running one and is reported in the agent's
/// status.
async fn watch_config(
    layers: &dyn Fn() -> Vec<PathBuf>,
    handle: &argus_agent::runtime::AgentHandle,
    agent_data_dir: &Path,
    load: impl Fn(&[PathBuf]) -> Result<argus_agent::AgentConfig, ConfigError>,
) {
    // The plugins the server gave last time run until the first pull says otherwise.
    argus_agent::distributed::restore(handle).await;
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut known_files = layers();
    let mut last = fingerprint(&known_files);
    let mut remote_every = load(&known_files)
        .map(|c| c.remote_config_secs)
        .unwrap_or(0);
    let mut next_pull = tokio::time::Instant::now();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let hup_recv = async {
            match hup.as_mut() {
                Some(h) => {
                    h.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        let reason = tokio::select! {
            _ = &mut shutdown => return,
            _ = hup_recv => "SIGHUP",
            _ = handle.update_requested() => {
                next_pull = tokio::time::Instant::now();
                pull_remote(handle, agent_data_dir, &load, layers).await;
                next_pull += std::time::Duration::from_secs(remote_every.max(1));
                continue;
            }
            // Every 5 s, as plugins.d is: each check wakes the agent, which costs more
            // CPU over a minute than its collections do.
            _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {
                if remote_every > 0 && tokio::time::Instant::now() >= next_pull {
                    pull_remote(handle, agent_data_dir, &load, layers).await;
                    next_pull = tokio::time::Instant::now() + std::time::Duration::from_secs(remote_every);
                }
                let now_files = layers();
                let now = fingerprint(&now_files);
                if now_files == known_files && now == last {
                    continue;
                }
                known_files = now_files;
                last = now;
                "a configuration file changed"
            }
        };
        let files = layers();
        match load(&files) {
            Ok(c) => {
                tracing::info!(reason, "reloading the configuration");
                remote_every = c.remote_config_secs;
                match handle.reconfigure(&c).await {
                    // Only now is a pulled configuration in force (or a cleared one gone).
                    Ok(()) => handle.set_remote_etag(applied_remote_etag(&files, agent_data_dir)),
                    Err(e) => {
                        tracing::error!(error = %e, "new configuration refused; the running one stays")
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "new configuration refused; the running one stays");
                handle.config_error(Some(e.to_string()));
            }
        }
    }
}

/// Pulls this agent's configuration; a new one that loads with the local files is saved
/// (the file watcher then applies it), one that does not is reported and not saved. Then
/// pulls and applies the plugins the server assigns to this host.
async fn pull_remote(
    handle: &argus_agent::runtime::AgentHandle,
    agent_data_dir: &Path,
    load: &impl Fn(&[PathBuf]) -> Result<argus_agent::AgentConfig, ConfigError>,
    layers: &dyn Fn() -> Vec<PathBuf>,
) {
    let (servers, token) = handle.targets();
    let host = handle.status().host;
    let id = argus_agent::heartbeat::machine_id(&host);
    let etag = argus_agent::remote::saved_etag(agent_data_dir);
    match argus_agent::remote::pull(
        &handle.http_client(),
        &servers,
        &token,
        &host,
        &id,
        etag.as_deref(),
    )
    .await
    {
        Ok(argus_agent::remote::Pulled::New { text, etag }) => {
            // Check it before keeping it: alone, then layered over the local files.
            let tmp = agent_data_dir.join("remote-config.pending.toml");
            let checked = std::fs::write(&tmp, &text)
                .map_err(|e| e.to_string())
                .and_then(|()| {
                    let mut files: Vec<PathBuf> = layers()
                        .into_iter()
                        .filter(|f| f != &argus_agent::remote::saved_paths(agent_data_dir).0)
                        .collect();
                    files.push(tmp.clone());
                    load(&files).map_err(|e| e.to_string())
                });
            let _ = std::fs::remove_file(&tmp);
            match checked {
                Ok(_) => {
                    if let Err(e) = argus_agent::remote::save(agent_data_dir, &text, &etag) {
                        tracing::error!(error = %e, "cannot save the remote configuration");
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "remote configuration refused; the running one stays");
                    handle.config_error(Some(format!("remote configuration: {e}")));
                }
            }
        }
        Ok(argus_agent::remote::Pulled::None) => argus_agent::remote::clear(agent_data_dir),
        Ok(argus_agent::remote::Pulled::Unchanged) => {}
        Err(e) => {
            tracing::debug!(error = %e, "remote configuration pull failed; keeping the last good copy")
        }
    }
    // The plugins the server assigns to this host come with the configuration.
    match argus_agent::distributed::sync(handle).await {
        Ok(r) if r.changed => tracing::info!(report = ?r, "plugins from the server applied"),
        Ok(_) => {}
        Err(e) => {
            tracing::debug!(error = %e, "plugin list pull failed; the installed plugins keep running")
        }
    }
}

/// Serves the agent's local API when `agent.api_listen` is set.
///
/// The API is a side feature: when its address is taken (another agent, an `argus up` on
/// the same host), the agent warns and goes on collecting and delivering, and tries the
/// address again every [`API_BIND_RETRY`] until it gets it or the agent stops.
async fn start_agent_api(
    agent: &Agent,
    config: &argus_agent::AgentConfig,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    if config.api_listen.is_empty() {
        return Ok(());
    }
    let app = agent_api::router(agent.handle(), config);
    let addr = config.api_listen.clone();
    let serve = |listener: tokio::net::TcpListener, stop| async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(wait_stop(stop))
            .await;
    };
    match tokio::net::TcpListener::bind(&addr).await {
        Ok(listener) => {
            let local = listener.local_addr()?;
            println!("  Agent API: http://{local}/plugins/list");
            tokio::spawn(serve(listener, stop));
        }
        Err(e) => {
            tracing::warn!(address = %addr, error = %e, retry_secs = API_BIND_RETRY.as_secs(), "cannot listen on agent.api_listen; collecting goes on without the local API, which is tried again");
            println!(
                "  Agent API not listening ({addr}: {e}); collecting goes on, retrying every {} s",
                API_BIND_RETRY.as_secs()
            );
            let mut stop_wait = stop.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(API_BIND_RETRY) => {}
                        _ = stop_wait.wait_for(|s| *s) => return,
                    }
                    if let Ok(listener) = tokio::net::TcpListener::bind(&addr).await {
                        tracing::info!(address = %addr, "agent API listening");
                        serve(listener, stop).await;
                        return;
                    }
                }
            });
        }
    }
    Ok(())
}

/// How often an agent whose API address was taken tries it again.
const API_BIND_RETRY: std::time::Duration = std::time::Duration::from_secs(10);
