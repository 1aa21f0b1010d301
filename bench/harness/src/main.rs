//! `argus-bench`: side-by-side benchmarks of Argus against real peers, run from the
//! repository. This file is only the command line; each benchmark is a module.
//!
//! - `argus-bench tsdb`: storage against VictoriaMetrics (see `bench/tsdb.md`).
//! - `argus-bench footprint`: the agent's RSS and CPU against node_exporter and collectd
//!   (see `bench/footprint.md`).
//! - `argus-bench pipeline`: ingest throughput and push→queryable latency straight to
//!   storage, through the embedded queue and through NATS (see `bench/pipeline.md`).
//! - `argus-bench query`: dashboard PromQL range queries against Prometheus and
//!   VictoriaMetrics on the same data (see `bench/query.md`).
//! - `argus-bench inventory`: the host inventory at fleet scale on SQLite and on
//!   PostgreSQL: heartbeats/s, list and filter latency (see `bench/README.md`).
//! - `argus-bench rules`: 10 000 alerting and recording rules against Prometheus (round
//!   time), and alert latency with `for: 0` against Prometheus + Alertmanager (see
//!   `bench/rules.md`).

mod dataset;
mod footprint;
mod inventory;
mod output;
mod pipeline;
mod probe;
mod query;
mod rng;
mod rules;
mod system;
mod tsdb;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "argus-bench",
    version,
    about = "Benchmarks Argus against real peers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Storage: ingest rate, bytes on disk per sample, memory and range-query latency,
    /// Argus vs VictoriaMetrics on one generated node-like data set. Exit code 3 if their
    /// answers to the query differ, 1 if a system could not be measured.
    Tsdb(tsdb::Options),
    /// Agent footprint: peak and median RSS and CPU seconds of the Argus agent,
    /// node_exporter and collectd, each collecting host metrics for the same time. Exit code
    /// 1 if an agent could not be measured or delivered nothing.
    Footprint(footprint::Options),
    /// Ingest pipeline: throughput (samples/s accepted and stored) and push→queryable
    /// latency, straight to VictoriaMetrics vs through argus's embedded queue vs through
    /// NATS. Exit code 3 if a run's samples are not all in storage, 1 if a setup failed.
    Pipeline(pipeline::Options),
    /// Dashboard queries: median latency of PromQL range queries on Argus, Prometheus and
    /// VictoriaMetrics holding the same data, answers checked against Prometheus's. Exit
    /// code 3 if Argus's answer to a query differs from Prometheus's, 1 if a query failed.
    Query(query::Options),
    /// Host inventory: heartbeats/s acknowledged and stored, and p50/p99 latency of list
    /// and filter requests, with SQLite and with PostgreSQL (a server it starts). Exit code
    /// 3 if the inventory holds or answers other than what was sent, 1 if a part failed.
    Inventory(inventory::Options),
    /// Rule evaluation: round time of 10 000 alerting and recording rules on Argus and
    /// Prometheus holding the same live fleet data, the recorded series compared, and the
    /// latency from a sample to the webhook with `for: 0` (Argus vs Prometheus +
    /// Alertmanager). Exit code 3 if recorded series differ or a rule is in error, 1 if a
    /// system could not be measured.
    Rules(rules::Options),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Footprint(opts) => footprint::run(&opts),
        Command::Inventory(opts) => inventory::run(&opts),
        Command::Pipeline(opts) => pipeline::run(&opts),
        Command::Query(opts) => query::run(&opts),
        Command::Rules(opts) => rules::run(&opts),
        Command::Tsdb(opts) => tsdb::run(&opts),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("argus-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
