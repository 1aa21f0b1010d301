//! The query glue between the HTTP layer and the PromQL engine: request parameters and
//! their time forms, series selectors, the Prometheus JSON shapes of results, and the
//! analysis functions built on the engine.

pub mod analysis;
pub mod format;
pub mod params;
pub mod selector;
