//! The Prometheus HTTP query API: `/api/v1/query`, `/api/v1/query_range`, `/api/v1/series`.
//!
//! Until PromQL evaluation lands (issue 6) the expressions answered are plain series
//! selectors (`name{label op "value", ...}` with optional `[range]`, `offset` and `@`),
//! evaluated with Prometheus's lookback semantics; anything else is a `bad_data` error that
//! says so.

pub mod analysis;
pub mod api;
pub mod format;
pub mod params;
pub mod selector;
