//! Applying queued entries: samples and line protocol into storage, heartbeats into the
//! host registry, events into the event store or an exec program.
//!
//! Applying one entry ends in one of three ways: applied; **refused** for good (it can
//! never be applied: undecodable, or storage refuses its data as too old or over a limit),
//! which the consumer acks and counts as dropped so that it cannot stall its topic; or
//! **retry** (I/O, a busy database, a program exiting non-zero), which the consumer gives
//! back to the queue to take again. [`ApplyError`] says which.

use super::codec::{self, Entry};
use super::config::ExecConfig;
use super::metrics::TopicCounters;
use crate::ingest::lines::Checked;
use crate::ingest::{CheckedLines, Refused, Rules};
use crate::store::events::EventStore;
use crate::store::hosts::{HostRegistry, Seen, heartbeat_host};
use argus_core::line_protocol::{Line, Precision, line_to_series};
use argus_core::{Event, Storage, StorageError, TimeSeries};
use argus_queue::Delivery;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Why an entry was not applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    /// It can never be applied: ack it and count it as dropped.
    #[error("refused: {0}")]
    Refused(String),
    /// It may apply later: give it back to the queue.
    #[error("{0}")]
    Retry(String),
}

impl From<StorageError> for ApplyError {
    fn from(e: StorageError) -> ApplyError {
        match e {
            // The data itself is refused: retrying cannot help.
            StorageError::Rejected(_) | StorageError::Limit(_) => {
                ApplyError::Refused(e.to_string())
            }
            other => ApplyError::Retry(format!("storage: {other}")),
        }
    }
}

impl From<argus_tsdb::Error> for ApplyError {
    fn from(e: argus_tsdb::Error) -> ApplyError {
        StorageError::from(e).into()
    }
}

impl From<Refused> for ApplyError {
    fn from(e: Refused) -> ApplyError {
        ApplyError::Refused(e.to_string())
    }
}

/// A blocking task that panicked or was cancelled: try again.
fn joined(e: tokio::task::JoinError) -> ApplyError {
    ApplyError::Retry(e.to_string())
}

/// Where applied entries go. Shared read-only by every topic's consumers.
pub struct Targets {
    pub store: Arc<dyn Storage>,
    /// The embedded engine when it is the store: queued line protocol takes its fast path.
    pub tsdb: Option<Arc<argus_tsdb::Db>>,
    /// The ingest rules, which queued line protocol is applied with (as it was checked).
    pub rules: Arc<Rules>,
    pub events: Arc<EventStore>,
    pub hosts: Arc<HostRegistry>,
    pub exec: BTreeMap<String, ExecConfig>,
    /// The event rules events are matched against; the alerts they raise are queued for
    /// the notifier through `pipeline`.
    pub event_rules: Arc<crate::alerting::event_rules::EventRules>,
    pub pipeline: Arc<super::Pipeline>,
    /// Most entries taken from the queue at a time.
    pub batch_entries: usize,
    /// Workers per type sharing its consumer (a type with an exec target has one).
    pub workers: usize,
}

/// Applies entries together (one storage append for their samples). Entries refused for
/// good are counted as dropped; `Err` when the part should be retried.
pub async fn apply(
    topic: &str,
    part: &[Delivery],
    t: &Targets,
    counters: &TopicCounters,
) -> Result<(), String> {
    let dropped = |what: &str, reason: &str| {
        tracing::warn!(topic, %reason, "{what} refused: dropped");
        counters.dropped_rejected.fetch_add(1, Ordering::Relaxed);
    };
    let mut samples: Vec<Vec<TimeSeries>> = Vec::new();
    // Line protocol is read in place, on the blocking thread: only the bytes' handles go.
    let mut lines: Vec<bytes::Bytes> = Vec::new();
    let mut seen: Vec<Seen> = Vec::new();
    let mut events: Vec<Event> = Vec::new();
    for d in part {
        match codec::decode_lines(&d.payload) {
            Some(Ok(_)) => {
                lines.push(d.payload.clone());
                continue;
            }
            Some(Err(e)) => {
                tracing::error!(topic, id = d.id, error = %e, "dropping an undecodable entry");
                counters.dropped_corrupt.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            None => {}
        }
        match codec::decode(&d.payload) {
            Ok(Entry::Samples { ns, mut series }) => {
                if let Some(ns) = ns {
                    for s in &mut series {
                        s.labels.set("ns", &ns);
                    }
                }
                samples.push(series);
            }
            Ok(Entry::Heartbeat {
                received_ms, body, ..
            }) => match heartbeat_host(&body) {
                Some(_) => seen.push(Seen {
                    received_ms,
                    heartbeat: body.clone(),
                }),
                None => dropped("a heartbeat", "no facts.hostname"),
            },
            Ok(Entry::Events { events: e, .. }) => events.extend(e),
            // Taken above; never reached.
            Ok(Entry::Lines { .. }) => {}
            Err(e) => {
                tracing::error!(topic, id = d.id, error = %e, "dropping an undecodable entry");
                counters.dropped_corrupt.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    if !samples.is_empty() {
        for reason in apply_samples(t.store.clone(), samples).await? {
            dropped("a batch of samples", &reason);
        }
    }
    if !lines.is_empty() {
        let (store, tsdb, rules) = (t.store.clone(), t.tsdb.clone(), t.rules.clone());
        let refused = tokio::task::spawn_blocking(move || {
            let entries: Vec<QueuedLines<'_>> = lines
                .iter()
                .filter_map(|b| codec::decode_lines(b).and_then(Result::ok))
                .map(QueuedLines::from)
                .collect();
            apply_lines(store.as_ref(), tsdb.as_deref(), &rules, &entries)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        for reason in refused {
            dropped("a batch of samples", &reason);
        }
    }
    if !seen.is_empty() {
        t.hosts
            .record(&seen)
            .await
            .map_err(|e| format!("host registry: {e}"))?;
    }
    if !events.is_empty() {
        // Queued before the events are stored: a retry of the batch raises them again,
        // which the notifier merges into the same alerts.
        let raised = t.event_rules.alerts(&events);
        if !raised.is_empty() {
            t.pipeline
                .publish_alerts(&raised)
                .await
                .map_err(|e| format!("alerts of event rules: {e}"))?;
        }
        match t.exec.get(topic) {
            Some(x) => super::exec::run(x, topic, &events).await?,
            None => {
                let store = t.events.clone();
                tokio::task::spawn_blocking(move || store.append(&events))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("event store: {e}"))?;
            }
        }
    }
    Ok(())
}

/// Appends every entry's series in one call; when storage refuses that, entry by entry, so
/// one refused entry (too old, over a limit) does not hold back the others. Returns the
/// reasons of the entries refused for good; `Err` when storage failed otherwise.
async fn apply_samples(
    store: Arc<dyn Storage>,
    entries: Vec<Vec<TimeSeries>>,
) -> Result<Vec<String>, String> {
    let append = |series: Vec<TimeSeries>| {
        let store = store.clone();
        async move {
            match tokio::task::spawn_blocking(move || store.append(series))
                .await
                .map_err(joined)?
            {
                Ok(()) => Ok(()),
                Err(e) => Err(ApplyError::from(e)),
            }
        }
    };
    if entries.len() > 1 {
        let all: Vec<TimeSeries> = entries.iter().flatten().cloned().collect();
        match append(all).await {
            Ok(()) => return Ok(Vec::new()),
            Err(ApplyError::Retry(e)) => return Err(e),
            Err(ApplyError::Refused(_)) => {}
        }
    }
    let mut refused = Vec::new();
    for series in entries {
        match append(series).await {
            Ok(()) => {}
            Err(ApplyError::Retry(e)) => return Err(e),
            Err(ApplyError::Refused(reason)) => refused.push(reason),
        }
    }
    Ok(refused)
}

/// One queued line-protocol entry.
#[derive(Clone, Copy)]
struct QueuedLines<'a> {
    ns: Option<&'a str>,
    precision: Precision,
    now_ms: i64,
    text: &'a str,
}

impl<'a> From<codec::LinesRef<'a>> for QueuedLines<'a> {
    fn from(e: codec::LinesRef<'a>) -> QueuedLines<'a> {
        QueuedLines {
            ns: e.ns,
            precision: e.precision,
            now_ms: e.now_ms,
            text: e.text,
        }
    }
}

impl<'a> QueuedLines<'a> {
    /// The entry's lines, checked again by the rules it was checked with at ingest.
    fn checked(&self, rules: &'a Rules) -> CheckedLines<'a> {
        CheckedLines::new(
            rules,
            self.text,
            self.precision,
            self.ns.is_some(),
            self.now_ms,
        )
    }
}

/// Applies queued line-protocol entries: on the embedded engine all in one commit, or
/// entry by entry when that fails, each then on its own. Returns why entries were refused
/// for good; `Err` when storage failed otherwise (retry).
fn apply_lines(
    store: &dyn Storage,
    tsdb: Option<&argus_tsdb::Db>,
    rules: &Rules,
    entries: &[QueuedLines<'_>],
) -> Result<Vec<String>, ApplyError> {
    if let Some(db) = tsdb
        && (entries.len() > 1 || entries.iter().any(|e| e.text.len() >= SPLIT_BYTES))
    {
        let mut app = db.appender();
        if add_in_parallel(&mut app, rules, entries).is_ok() && app.commit().is_ok() {
            return Ok(Vec::new());
        }
    }
    let mut refused = Vec::new();
    for e in entries {
        let r = match tsdb {
            Some(db) => {
                // A bad line anywhere leaves the batch uncommitted: nothing of it is stored.
                let mut app = db.appender();
                add_lines(&mut app, rules, e).and_then(|()| Ok(app.commit()?))
            }
            None => collect_series(rules, e).and_then(|s| Ok(store.append(s)?)),
        };
        match r {
            Ok(()) => {}
            Err(ApplyError::Refused(reason)) => refused.push(reason),
            Err(e) => return Err(e),
        }
    }
    Ok(refused)
}

/// Below this many bytes of text, parsing is not split over threads.
const SPLIT_BYTES: usize = 256 << 10;

/// Adds the entries' samples to `app` with their text cut, at line ends, into one piece
/// per core, parsed at once on scoped threads, then absorbed in order: the batch holds
/// the samples in the order of a single walk. Parsing and finding series (the bulk of
/// applying) then use every core while the commit (one WAL write) stays single.
/// Hand-written rather than with a thread-pool crate: it is one fork and join per part of
/// up to 16 MiB, where a spawned thread costs microseconds.
fn add_in_parallel(
    app: &mut argus_tsdb::Appender<'_>,
    rules: &Rules,
    entries: &[QueuedLines<'_>],
) -> Result<(), ApplyError> {
    let total: usize = entries.iter().map(|e| e.text.len()).sum();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
        .min(total / SPLIT_BYTES)
        .max(1);
    if threads == 1 {
        return entries.iter().try_for_each(|e| add_lines(app, rules, e));
    }
    let pieces = split_pieces(entries, total.div_ceil(threads));
    // Consecutive pieces go to one thread, so each thread's samples stay in order.
    let per_thread = pieces.len().div_ceil(threads);
    let parts: Vec<Result<argus_tsdb::Batch<'_>, ApplyError>> = std::thread::scope(|s| {
        let handles: Vec<_> = pieces
            .chunks(per_thread)
            .map(|group| {
                let mut part = app.part();
                // About one sample per 24 bytes of line protocol: grown once, not doubled.
                part.reserve(group.iter().map(|p| p.text.len()).sum::<usize>() / 24);
                s.spawn(move || {
                    for piece in group {
                        add_lines(&mut part, rules, piece)?;
                    }
                    Ok(part)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(ApplyError::Retry("a parsing thread panicked".into())))
            })
            .collect()
    });
    for part in parts {
        app.absorb(part?);
    }
    Ok(())
}

/// The entries' text in pieces of about `size` bytes, each cut after a line's end. An
/// entry smaller than that is one piece, and so is one with a `"`: a string field value
/// may hold a newline, which only a full parse tells from a line's end.
fn split_pieces<'a>(entries: &[QueuedLines<'a>], size: usize) -> Vec<QueuedLines<'a>> {
    let mut out = Vec::new();
    for e in entries {
        if e.text.len() <= size || e.text.contains('"') {
            out.push(*e);
            continue;
        }
        let mut rest = e.text;
        while !rest.is_empty() {
            let cut = if rest.len() <= size {
                rest.len()
            } else {
                rest[size..].find('\n').map_or(rest.len(), |i| size + i + 1)
            };
            let (piece, tail) = rest.split_at(cut);
            out.push(QueuedLines { text: piece, ..*e });
            rest = tail;
        }
    }
    out
}

/// Any store: an entry's series with their labels built the standard way.
fn collect_series(rules: &Rules, e: &QueuedLines<'_>) -> Result<Vec<TimeSeries>, ApplyError> {
    let extra: Vec<(&str, &str)> = e.ns.map(|n| ("ns", n)).into_iter().collect();
    let mut series: Vec<TimeSeries> = Vec::new();
    for checked in e.checked(rules) {
        line_to_series(&checked?.line, e.precision, e.now_ms, &extra, &mut series);
    }
    Ok(series)
}

/// The embedded engine: adds an entry's samples to an appender (not committed). Series
/// are found by the line's raw key (namespace, measurement, tags) and the field's name,
/// so labels are built only the first time a series is seen.
fn add_lines(
    app: &mut argus_tsdb::Batch<'_>,
    rules: &Rules,
    e: &QueuedLines<'_>,
) -> Result<(), ApplyError> {
    let extra: Vec<(&str, &str)> = e.ns.map(|n| ("ns", n)).into_iter().collect();
    let mut key: Vec<u8> = Vec::with_capacity(256);
    let mut scratch: Vec<TimeSeries> = Vec::new();
    for checked in e.checked(rules) {
        let Checked { line, ts } = checked?;
        key.clear();
        key.extend_from_slice(e.ns.unwrap_or("").as_bytes());
        key.push(0);
        key.extend_from_slice(line.measurement.as_bytes());
        for (k, v) in &line.tags {
            key.push(0);
            key.extend_from_slice(k.as_bytes());
            key.push(b'=');
            key.extend_from_slice(v.as_bytes());
        }
        let series = app.line(&key);
        for (field, value) in &line.fields {
            let Some(v) = value.as_f64() else {
                continue;
            };
            let r = app.series_of_field(&series, field.as_bytes(), || {
                // First sight of this series: map this field alone the standard way.
                let one = Line {
                    measurement: line.measurement.clone(),
                    tags: line.tags.clone(),
                    fields: vec![(field.clone(), value.clone())],
                    timestamp: line.timestamp,
                };
                scratch.clear();
                line_to_series(&one, e.precision, e.now_ms, &extra, &mut scratch);
                scratch.pop().map(|s| s.labels).unwrap_or_default()
            })?;
            app.add_owned(r, ts, v)?;
        }
    }
    Ok(())
}
