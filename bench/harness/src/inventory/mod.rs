//! The **inventory** benchmark: the host inventory at fleet scale on each of its databases,
//! SQLite (the default) and PostgreSQL (`[database] url`, issue 13), against a fresh
//! `argus server` (and, for PostgreSQL, a server of the benchmark's own) per database:
//!
//! 1. **heartbeats**: rounds of one heartbeat from each of `--hosts` hosts, sent by
//!    `--clients` concurrent clients; heartbeats/s acknowledged (2xx) and stored (the
//!    inventory shows them; how that is counted: [`load`]);
//! 2. **placement**: every host gets a location, groups and labels (`PATCH`);
//! 3. **reads**: median and p99 latency of the list and filter requests of
//!    [`fleet::QUERIES`], each answer first checked against the fleet. Target: p99 < 50 ms.
//!
//! How to run it: `bench/README.md`, "Inventory".

mod api;
mod fleet;
mod latency;
mod load;
mod report;

use crate::probe;
use crate::system::Server;
use anyhow::bail;
use api::Api;
use argus_testkit::postgres::{self, Postgres};
use reqwest::blocking::Client;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Options of `argus-bench inventory`.
#[derive(clap::Args, Debug)]
pub struct Options {
    /// Hosts in the fleet.
    #[arg(long, default_value_t = 10_000)]
    pub hosts: usize,
    /// Rounds of heartbeats (one per host each); the first creates the hosts.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Concurrent clients sending heartbeats and placements (one keep-alive connection each).
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Timed requests of each list and filter query.
    #[arg(long, default_value_t = 500)]
    pub requests: usize,
    /// Databases to measure (repeatable) [default: both].
    #[arg(long, value_enum)]
    pub backend: Vec<Backend>,
    /// Where to write the markdown report [default: bench/results/<UTC date>-inventory.md].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The Argus binary (`cargo build --release -p argus`).
    #[arg(long, default_value = "target/release/argus")]
    pub argus: PathBuf,
    /// PostgreSQL's `bin` folder [default: the newest /usr/lib/postgresql/*/bin].
    #[arg(long)]
    pub postgres_bin: Option<PathBuf>,
    /// Parent of the temporary directories [default: $TMPDIR or /tmp]; as root, PostgreSQL's
    /// goes to /tmp, where its `postgres` user can reach it.
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
}

/// Where argus keeps the inventory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// SQLite in the data directory: the default, no `[database]` section.
    Sqlite,
    /// PostgreSQL, a server the benchmark starts: `[database] url = "postgres://…"`.
    Postgres,
}

impl Backend {
    pub const ALL: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// Everything measured on one database; what is missing was not reached (see `errors`).
pub struct BackendResult {
    pub backend: Backend,
    /// PostgreSQL: its version and settings, and how long it took to be ready.
    pub postgres: Option<(String, f64)>,
    pub rounds: Vec<load::Round>,
    pub inventory: Option<load::Inventory>,
    pub patches: Option<load::Patches>,
    pub reads: Vec<latency::Timed>,
    pub errors: Vec<String>,
}

impl BackendResult {
    /// Heartbeats per second over every round: acknowledged, and stored (`None` unless
    /// every round was).
    pub fn heartbeat_rates(&self) -> Option<(f64, Option<f64>)> {
        let sent: usize = self.rounds.iter().map(|r| r.heartbeats).sum();
        let acked: f64 = self.rounds.iter().map(|r| r.acked_secs).sum();
        let stored: Option<f64> = self.rounds.iter().map(|r| r.stored_secs).sum();
        (sent > 0).then(|| (sent as f64 / acked, stored.map(|s| sent as f64 / s)))
    }

    /// The server stored or answered something other than what was sent.
    pub fn miscounted(&self) -> bool {
        self.inventory.as_ref().is_some_and(|i| !i.exact())
            || self
                .reads
                .iter()
                .any(|t| t.answered.is_some() && !t.correct())
    }
}

/// The name of the database argus gets on PostgreSQL.
const DATABASE: &str = "argus";

fn measure(opts: &Options, backend: Backend, parent: &Path, client: &Client) -> BackendResult {
    let mut r = BackendResult {
        backend,
        postgres: None,
        rounds: Vec::new(),
        inventory: None,
        patches: None,
        reads: Vec::new(),
        errors: Vec::new(),
    };
    if let Err(e) = measure_into(&mut r, opts, parent, client) {
        r.errors.push(format!("{e:#}"));
    }
    r
}

/// Starts the servers, runs the three parts in order (each needs the one before), stops
/// the servers: argus first, so that it leaves its database cleanly.
fn measure_into(
    r: &mut BackendResult,
    opts: &Options,
    parent: &Path,
    client: &Client,
) -> anyhow::Result<()> {
    let pg = match r.backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let started = Instant::now();
            // Durable: the SQLite it is compared with commits durably too.
            let pg = Postgres::start_with(&postgres::Options {
                durable: true,
                bin: opts.postgres_bin.clone(),
                parent: Some(parent.to_path_buf()),
            })
            .map_err(anyhow::Error::msg)?;
            pg.create_db(DATABASE).map_err(anyhow::Error::msg)?;
            r.postgres = Some((describe(&pg)?, started.elapsed().as_secs_f64()));
            eprintln!(
                "  PostgreSQL on port {} ready in {:.2} s",
                pg.port(),
                started.elapsed().as_secs_f64()
            );
            Some(pg)
        }
    };
    let config = pg
        .as_ref()
        .map(|pg| format!("[database]\nurl = \"{}\"\n", pg.url(DATABASE)));
    let mut server = Server::start_argus_with(&opts.argus, parent, config.as_deref())?;
    server.wait_ready(client)?;
    if let Err(e) = run_parts(r, opts, &server, client) {
        r.errors.push(format!("{e:#}"));
    }
    let stopped = server.stop()?;
    if !stopped.starts_with("stopped") {
        r.errors.push(format!("argus: {stopped}"));
    }
    if let Some(pg) = pg {
        pg.stop().map_err(anyhow::Error::msg)?;
    }
    Ok(())
}

/// The server's version and the settings that decide how fast it commits, as in force
/// (`fsync=on, shared_buffers=128MB, …`): for the report.
fn describe(pg: &Postgres) -> anyhow::Result<String> {
    pg.psql(
        DATABASE,
        "select 'PostgreSQL ' || current_setting('server_version') || ': ' || \
         string_agg(name || '=' || current_setting(name), ', ' order by name) \
         from pg_settings where name in \
         ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers', 'max_connections')",
    )
    .map_err(anyhow::Error::msg)
}

fn run_parts(
    r: &mut BackendResult,
    opts: &Options,
    server: &Server,
    client: &Client,
) -> anyhow::Result<()> {
    let api = Api { server };
    let n = opts.hosts;
    let facts: Vec<String> = (0..n).map(fleet::facts_json).collect();
    eprintln!(
        "  {} rounds of {n} heartbeats, {} clients",
        opts.rounds, opts.clients
    );
    let last_round_ms = load::heartbeats(
        &api,
        client,
        &facts,
        opts.rounds,
        opts.clients,
        &mut r.rounds,
    )?;
    let inventory = load::read_back(&api, client, n, last_round_ms)?;
    eprintln!(
        "  inventory: {} of {n} hosts listed, {} unexpected, {} not seen in the last round",
        inventory.listed(),
        inventory.unexpected.len(),
        inventory.stale
    );
    let ids = inventory.ids.clone();
    r.inventory = Some(inventory);
    let patches = load::place(&api, &ids, opts.clients)?;
    eprintln!(
        "  placed {} hosts: {:.0} PATCH/s",
        patches.count,
        patches.count as f64 / patches.secs
    );
    r.patches = Some(patches);
    eprintln!(
        "  {} requests of each of {} list queries",
        opts.requests,
        fleet::QUERIES.len()
    );
    r.reads = latency::measure(&api, client, n, opts.requests);
    for t in &r.reads {
        eprintln!(
            "    {}: p50 {:.1} ms, p99 {:.1} ms, total {:?} (expected {:?}){}",
            t.name,
            crate::pipeline::percentile(&t.ms, 50.0),
            crate::pipeline::percentile(&t.ms, 99.0),
            t.answered,
            t.expected,
            if t.correct() { "" } else { ": WRONG" }
        );
    }
    Ok(())
}

pub fn run(opts: &Options) -> anyhow::Result<u8> {
    let started_ms = probe::now_ms();
    let machine = probe::machine();
    let parent = crate::output::work_dir(opts.work_dir.as_deref())?;
    if !opts.argus.exists() {
        bail!(
            "argus binary {} not found (cargo build --release -p argus)",
            opts.argus.display()
        );
    }
    if opts.hosts == 0 {
        bail!("--hosts must be at least 1");
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = Client::builder().timeout(Duration::from_secs(60)).build()?;
    let backends: Vec<Backend> = if opts.backend.is_empty() {
        Backend::ALL.to_vec()
    } else {
        opts.backend.clone()
    };
    let mut results = Vec::new();
    for backend in backends {
        eprintln!("argus-bench inventory: {}", backend.name());
        results.push(measure(opts, backend, &parent, &client));
    }
    let text = report::render(opts, &machine, started_ms, &results);
    crate::output::write_report(opts.out.as_deref(), "inventory", started_ms, &text)?;
    Ok(if results.iter().any(BackendResult::miscounted) {
        3
    } else if results.iter().any(|r| !r.errors.is_empty()) {
        1
    } else {
        0
    })
}
