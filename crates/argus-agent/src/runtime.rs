//! The agent's main loop: gather every input each interval, label, encode and send.

use crate::config::AgentConfig;
use crate::input::Plugin;
use crate::sender::Sender;
use argus_core::line_protocol::{Line, Precision, write_line};
use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;

/// A running agent's parts.
pub struct Agent {
    inputs: Vec<Plugin>,
    host: String,
    labels: Vec<(String, String)>,
    interval: Duration,
    sender: Sender,
}

impl Agent {
    pub fn new(config: &AgentConfig) -> anyhow::Result<Self> {
        if config.interval_secs == 0 {
            anyhow::bail!("agent.interval_secs must be at least 1");
        }
        Ok(Agent {
            inputs: crate::inputs::build(&config.inputs)?,
            host: config.host(),
            labels: config
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            interval: Duration::from_secs(config.interval_secs),
            sender: Sender::new(
                config.servers.clone(),
                config.token.clone(),
                Duration::from_secs(config.timeout_secs.max(1)),
                config.buffer_max_bytes,
            )?,
        })
    }

    /// Gathers one round from every input into line protocol. An input's error is logged and
    /// does not stop the others.
    pub fn gather(&mut self, now_ms: i64) -> String {
        let mut points: Vec<Line<'static>> = Vec::new();
        for p in &mut self.inputs {
            let before = points.len();
            if let Err(e) = p.input.gather(now_ms, &mut points) {
                tracing::warn!(input = %p.name, error = %e, "input failed this round");
                points.truncate(before);
            }
        }
        let mut body = String::with_capacity(points.len() * 128);
        for mut p in points {
            add_tag(&mut p, "host", &self.host);
            for (k, v) in &self.labels {
                add_tag(&mut p, k, v);
            }
            write_line(&mut body, &p, Precision::Milliseconds);
        }
        body
    }

    /// Runs until `shutdown` resolves, then makes one last attempt to send what is queued.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        tokio::pin!(shutdown);
        tracing::info!(host = %self.host, inputs = self.inputs.len(), interval = ?self.interval, "agent started");
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tick.tick() => {}
            }
            let now = argus_core::now_ms();
            // Inputs read small /proc files: cheap enough to run on the runtime thread.
            let body = self.gather(now);
            if !body.is_empty()
                && let Err(e) = self.sender.enqueue(&body)
            {
                tracing::error!(error = %e, "cannot compress a batch");
            }
            self.sender.flush().await;
        }
        self.sender.flush().await;
        Ok(())
    }
}

/// Adds a tag unless the point already has one of that name.
fn add_tag(p: &mut Line<'static>, key: &str, value: &str) {
    if !p.tags.iter().any(|(k, _)| k == key) {
        p.tags
            .push((Cow::Owned(key.to_string()), Cow::Owned(value.to_string())));
    }
}
