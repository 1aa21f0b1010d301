//! Ingest endpoints: everything that writes into storage.

pub mod body;
pub mod influx;
