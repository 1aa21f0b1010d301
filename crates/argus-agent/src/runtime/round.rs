//! What happens to a **round**, the points and events one plugin run gathered: the
//! pipeline labels it (the `host` label and the global labels), runs the **stages**
//! (processors, then alarms) over it, hands a copy to the extra outputs, and appends it to
//! the disk buffer as line protocol and JSON lines.

use super::{Shared, lock};
use crate::alarm::Alarm;
use crate::buffer::Kind;
use crate::config::AgentConfig;
use crate::output::{Batch, Output};
use crate::processor::Processor;
use argus_core::Event;
use argus_core::line_protocol::{Line, Precision, write_line};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// One round's output, unlabelled.
pub(super) struct Round {
    pub(super) points: Vec<Line<'static>>,
    pub(super) events: Vec<Event>,
}

/// How rounds are labelled; replaced on reconfiguration.
#[derive(Clone)]
pub(super) struct Labeling {
    pub(super) host: String,
    labels: Vec<(String, String)>,
    pub(super) default_interval: Duration,
}

/// The labels and default interval that `config` sets.
pub(super) fn labeling(config: &AgentConfig) -> Labeling {
    Labeling {
        host: config.host(),
        labels: config
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        default_interval: Duration::from_secs(config.interval_secs.max(1)),
    }
}

/// The per-round transformations.
pub(super) struct Stages {
    processors: Vec<Box<dyn Processor>>,
    alarms: Vec<Box<dyn Alarm>>,
}

/// The stages and extra outputs that `config` sets; an error names the bad option.
pub(super) fn build_stages(config: &AgentConfig) -> anyhow::Result<(Stages, Vec<Box<dyn Output>>)> {
    Ok((
        Stages {
            processors: crate::processors::build_processors(&config.processors)?,
            alarms: crate::alarms::build_alarms(&config.alarms)?,
        },
        crate::outputs::build_outputs(&config.outputs)?,
    ))
}

/// How long the pipeline waits for more rounds after the first of a batch.
const COALESCE: Duration = Duration::from_millis(250);

/// Labels a round, runs the processors and alarms over it and hands a copy to the extra
/// outputs.
fn process_round(shared: &Shared, mut round: Round) -> Round {
    let l = shared
        .labeling
        .read()
        .map(|l| l.clone())
        .unwrap_or_else(|p| p.into_inner().clone());
    label(&mut round, &l.host, &l.labels);
    {
        let mut st = lock(&shared.stages);
        for p in st.processors.iter_mut() {
            p.process(&mut round.points);
        }
        let now = argus_core::now_ms();
        let mut raised = Vec::new();
        for a in st.alarms.iter_mut() {
            a.check(now, &round.points, &mut raised);
        }
        for mut e in raised {
            if e.host.is_empty() {
                e.host = l.host.clone();
            }
            round.events.push(e);
        }
    }
    let outputs = shared.outputs.clone();
    if !lock(&outputs).is_empty() {
        let (points, events) = (round.points.clone(), round.events.clone());
        tokio::task::spawn_blocking(move || {
            for o in lock(&outputs).iter_mut() {
                if let Err(e) = o.write(&Batch {
                    points: &points,
                    events: &events,
                }) {
                    tracing::warn!(output = o.name(), error = %e, "output failed");
                }
            }
        });
    }
    round
}

/// Adds the host and the global labels to a round (before processors see it).
fn label(round: &mut Round, host: &str, labels: &[(String, String)]) {
    for p in &mut round.points {
        add_tag(p, "host", host);
        for (k, v) in labels {
            add_tag(p, k, v);
        }
    }
    for e in &mut round.events {
        if e.host.is_empty() {
            e.host = host.to_string();
        }
        for (k, v) in labels {
            e.payload
                .entry(k.clone())
                .or_insert_with(|| serde_json::Value::String(v.clone()));
        }
    }
}

/// Encodes a labelled round: line protocol (ms) and JSON lines.
fn encode(round: Round) -> (String, String) {
    let mut metrics = String::with_capacity(round.points.len() * 128);
    for p in &round.points {
        write_line(&mut metrics, p, Precision::Milliseconds);
    }
    let mut events = String::new();
    for e in &round.events {
        if let Ok(s) = serde_json::to_string(e) {
            events.push_str(&s);
            events.push('\n');
        }
    }
    (metrics, events)
}

/// Adds a tag unless the point already has one of that name.
fn add_tag(p: &mut Line<'static>, key: &str, value: &str) {
    if !p.tags.iter().any(|(k, _)| k == key) {
        p.tags
            .push((Cow::Owned(key.to_string()), Cow::Owned(value.to_string())));
    }
}

/// The pipeline's task: labels each round and buffers it. Rounds arriving within
/// [`COALESCE`] of one another (the inputs due at one tick) are buffered together: one
/// write and one sync per tick, and one request to the server.
pub(super) async fn pipeline(shared: Arc<Shared>, mut rounds: mpsc::Receiver<Round>) {
    while let Some(first) = rounds.recv().await {
        let mut batch = vec![first];
        let until = tokio::time::Instant::now() + COALESCE;
        while let Ok(Some(r)) = tokio::time::timeout_at(until, rounds.recv()).await {
            batch.push(r);
        }
        let (mut metrics, mut events) = (String::new(), String::new());
        for round in batch {
            let (m, e) = encode(process_round(&shared, round));
            metrics.push_str(&m);
            events.push_str(&e);
        }
        let buffer = shared.buffer.clone();
        let res = tokio::task::spawn_blocking(move || {
            let mut records = Vec::with_capacity(2);
            if !metrics.is_empty() {
                records.push((Kind::Metrics, metrics.as_bytes()));
            }
            if !events.is_empty() {
                records.push((Kind::Events, events.as_bytes()));
            }
            lock(&buffer).append_all(&records)
        })
        .await;
        match res {
            Ok(Ok(())) => shared.wake_sender.notify_one(),
            Ok(Err(e)) => tracing::error!(error = %e, "cannot write to the agent buffer"),
            Err(e) => tracing::error!(error = %e, "buffer task failed"),
        }
    }
}
