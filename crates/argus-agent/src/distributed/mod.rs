//! Plugins from the server: the server assigns plugins to this host (by group or host id);
//! the agent pulls the list with its configuration, downloads each version's archive,
//! verifies it, unpacks it under its data directory and runs it through the script
//! machinery (same output formats, user, environment and timeout handling as
//! `plugins.d`), with the plugin's directory as working directory and the assignment's
//! arguments.
//!
//! An **installed plugin** ([`InstalledPlugin`]) is one version unpacked in
//! `<data_dir>/server-plugins/<name>/<version>/`, next to the archive it came from
//! (`<version>.tar.gz`, kept so that a restart needs no server). Trust is checked twice:
//!
//! - the archive's SHA-256 must be the one the server's list gives, before anything is
//!   unpacked ([`argus_core::plugin_archive`] refuses unsafe entries while unpacking);
//! - before each run, the unpacked tree is hashed again ([`tree_digest`]) and must match
//!   what was unpacked. Re-hashing costs a read of the plugin's files (a few KiB for a
//!   script) per run, and unlike a digest checked only at load it also catches a file
//!   changed on disk while the agent runs; the files are also left read-only.
//!
//! A plugin that fails either check is not run: the failure is logged, raised as a
//! `plugin_error` event and written as `argus_plugin_up{plugin="<name>"} 0`; a version
//! that fails to install leaves the one installed before running. Every run writes
//! `argus_plugin_up` (1 ok, 0 error or timeout) and `argus_plugin_duration_seconds`.
//!
//! An interval of 0 means **on demand**: the plugin is registered (`plugin:<name>` in
//! `/plugins/list`) but runs only through `POST /plugins/run?name=plugin:<name>` or a
//! remote task, which finds it with [`Installed::get`].

mod input;
pub mod installed;
mod sync;
mod tasks;

#[cfg(test)]
mod tests;

pub use input::PluginInput;
pub use installed::{Assigned, DIR, Installed, InstalledPlugin, MAX_BYTES, PREFIX};
pub use sync::{SyncError, SyncReport, restore, sync};
