//! One integration-test binary (so the build links once); a module per area. These tests
//! start the real `argus` binary as a process on a free port with a temporary data dir.

mod agent;
mod alerting;
mod alerting_vs_prometheus;
mod analysis;
mod common;
mod config;
mod conformance;
mod database;
mod diskfull;
mod external;
mod ingest;
mod inventory;
mod namespaces;
mod pipeline;
mod plugins;
mod promapi;
mod remote;
mod scaleout;
mod secrets;
mod storage;
mod tasks;
mod tls;
mod ui;
mod up;
