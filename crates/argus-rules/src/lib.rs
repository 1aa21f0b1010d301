//! The rule side of Argus's alerting: Prometheus rule files, their evaluation, alert
//! state, and the data of the rules and alerts APIs, with Prometheus 2.42's semantics.
//!
//! This crate is the core of alerting and is written by hand, not wrapped around a
//! library: users bring their Prometheus rule files unchanged and compare our alerts with
//! Prometheus's evaluation by evaluation, so every rule of that behaviour (slot times,
//! state transitions, stale markers, template output down to Go's number formatting) is
//! spelled out here where it can be read and tested.
//!
//! - [`file`]: rule files (`groups`, `alert`/`record`, `expr`, `for`,
//!   `keep_firing_for`, `labels`, `annotations`, `interval`, `limit`), read with every
//!   error named by file, line, column, field and reason; [`file::load_rule_files`] takes
//!   glob patterns.
//! - Templates in labels and annotations are executed by `argus-template`, Go's
//!   `text/template` written by hand, with Prometheus's functions.
//! - [`group`]: one group's schedule and evaluation against any
//!   [`argus_core::Storage`] through [`argus_promql::Engine`]; [`rule`]: the alert state
//!   machine (inactive → pending → firing → resolved, `for`, `keep_firing_for`).
//! - [`manager`]: the loaded groups, reloads that keep state, and the evaluation loop.
//! - [`api`]: the bodies of `GET /api/v1/rules` and `GET /api/v1/alerts`.
//!
//! No HTTP here: the server calls [`manager::Manager`] and [`api`], and hands the alerts of
//! each evaluation to the notifier.
//!
//! ```
//! use argus_core::storage::mem::MemStore;
//! use argus_rules::{file, group::EvalOptions, manager::Manager};
//! use std::sync::Arc;
//!
//! let rules = "groups:\n  - name: node\n    rules:\n      - alert: Up\n        expr: vector(1)\n";
//! let groups = file::parse_rule_file("rules/node.yml", rules).map_err(|e| e[0].to_string())?;
//! let mut m = Manager::new(Arc::new(MemStore::new()), Default::default(), EvalOptions::default());
//! m.reload(groups, 0).map_err(|e| e.join("; "))?;
//! let out = m.eval_group("rules/node.yml", "node", 60_000_000_000, 60_000_000_000);
//! assert_eq!(out.map(|o| o.alerts.len()), Some(1)); // `for: 0` fires at first sight
//! # Ok::<(), String>(())
//! ```

pub mod api;
pub mod file;
pub mod group;
pub mod manager;
pub mod rule;
mod xxh64;

#[cfg(test)]
mod template_tests;
