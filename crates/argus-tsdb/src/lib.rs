//! argus-tsdb: Argus's embedded time-series storage engine.
//!
//! Samples arrive through an [`Appender`] and are acknowledged only once the write-ahead
//! log ([`wal`]) holds them on stable storage. They live in the in-memory [`head`] until a
//! flush writes them as immutable, time-partitioned [`block`]s; compaction (`compact`)
//! merges blocks into larger ones and retention downsamples, then deletes, old ones. Values are compressed by [`chunk`],
//! series are found through [`postings`]. [`Db`] ties it together and implements
//! [`argus_core::Storage`].
//!
//! The on-disk formats are described in `docs/formats/`.

pub mod block;
pub mod chunk;
mod compact;
pub mod db;
mod encoding;
pub mod error;
pub mod head;
mod options;
pub mod postings;
mod select;
mod storage;
pub mod wal;

#[cfg(test)]
mod tests;

pub use db::{Appender, Batch, Db, DbStats, LineSeries, Options};
pub use error::Error;
