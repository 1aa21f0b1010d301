//! [`PluginInput`]: an installed plugin as an [`Input`]. Each round verifies the plugin's
//! files, runs its entry point as a script plugin would run, and adds the outcome as
//! `argus_plugin_up` and `argus_plugin_duration_seconds`.

use super::installed::InstalledPlugin;
use crate::input::Input;
use crate::scripts::{ScriptInput, ScriptsConfig, Settings};
use argus_core::Event;
use argus_core::line_protocol::Line;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Instant;

/// One installed plugin; see the module docs.
pub struct PluginInput {
    plugin: InstalledPlugin,
    script: ScriptInput,
    events: Vec<Event>,
}

impl std::fmt::Debug for PluginInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginInput")
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

/// The outcome series of one run of `name`: 1 for ok, 0 otherwise.
pub(super) fn up_point(name: &str, up: bool, now_ms: i64) -> Line<'static> {
    Line::new("argus_plugin")
        .tag("plugin", name.to_string())
        .float("up", if up { 1.0 } else { 0.0 })
        .timestamp(now_ms)
}

/// A `plugin_error` event for `name`.
pub(super) fn error_event(name: &str, error: &str, now_ms: i64) -> Event {
    let mut payload = Map::new();
    payload.insert("plugin".into(), Value::from(name));
    payload.insert("error".into(), Value::from(error));
    Event {
        kind: "plugin_error".into(),
        host: String::new(),
        ts: now_ms,
        payload,
    }
}

impl PluginInput {
    /// Runs `plugin` with the user, environment and output limit of `scripts`, and the
    /// plugin's own timeout, arguments and directory.
    pub fn new(plugin: InstalledPlugin, scripts: &ScriptsConfig) -> PluginInput {
        let mut settings = Settings::from_config(scripts, plugin.dir.clone());
        settings.timeout = plugin.timeout;
        settings.args = plugin.args.clone();
        let script =
            ScriptInput::for_plugin(&plugin.name, plugin.entry.clone(), Arc::new(settings));
        PluginInput {
            plugin,
            script,
            events: Vec::new(),
        }
    }
}

impl Input for PluginInput {
    fn name(&self) -> &str {
        self.script.name()
    }

    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
        let name = self.plugin.name.clone();
        if let Err(e) = self.plugin.verify() {
            tracing::error!(plugin = %name, error = %e, "plugin not run");
            self.events.push(error_event(&name, &e, now_ms));
            out.push(up_point(&name, false, now_ms));
            anyhow::bail!("{e}");
        }
        let started = Instant::now();
        let result = self.script.gather(now_ms, out);
        out.push(up_point(&name, result.is_ok(), now_ms));
        out.push(
            Line::new("argus_plugin")
                .tag("plugin", name)
                .float("duration_seconds", started.elapsed().as_secs_f64())
                .timestamp(now_ms),
        );
        result
    }

    fn drain_events(&mut self, out: &mut Vec<Event>) {
        self.script.drain_events(out);
        out.append(&mut self.events);
    }

    fn set_param(&mut self, param: Option<&str>) {
        self.script.set_param(param);
    }
}
