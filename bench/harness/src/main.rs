//! `argus-bench`: side-by-side benchmarks of Argus against real peers, run from the
//! repository. This file is only the command line; each benchmark is a module.
//!
//! - `argus-bench tsdb`: storage against VictoriaMetrics (see `bench/tsdb.md`).

mod dataset;
mod probe;
mod rng;
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Tsdb(opts) => match tsdb::run(&opts) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                eprintln!("argus-bench: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}
