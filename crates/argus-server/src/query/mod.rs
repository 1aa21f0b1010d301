//! The Prometheus HTTP query API: `/api/v1/query`, `/api/v1/query_range`, `/api/v1/series`.
//!
//! `query` and `query_range` evaluate PromQL with the `argus-promql` engine over the store
//! as the request's token may see it; `series` uses the selector parser of `selector.rs`.

pub mod analysis;
pub mod api;
pub mod format;
pub mod meta;
pub mod params;
pub mod selector;
