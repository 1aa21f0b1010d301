//! One integration-test binary (so the build links once); a module per area. These tests
//! start the real `argus` binary as a process on a free port with a temporary data dir.

mod agent;
mod analysis;
mod common;
mod config;
mod ingest;
mod promapi;
mod storage;
mod up;
