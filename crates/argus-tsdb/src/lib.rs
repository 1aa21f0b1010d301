//! Argus's embedded time-series storage engine.
//!
//! [`chunk`] compresses one series' samples: timestamps and values, each with the
//! cheapest of several encodings, at well under a byte per sample for agent data.

pub mod chunk;
