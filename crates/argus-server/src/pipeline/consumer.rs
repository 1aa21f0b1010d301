//! The consumers: one task per topic (type), each with its own handle on the consumer
//! group [`GROUP`]. Tasks share no mutable state: each owns its handle and its counters;
//! the targets (storage, registry, event store) synchronize themselves.
//!
//! A batch is acked only after it was applied ([`super::apply`]). When applying fails for
//! a reason that may pass (I/O, a program exiting non-zero, the database busy), the task
//! drops its handle (the batch goes back to the group), waits, and takes it again: nothing
//! is skipped. An entry refused for good is acked and counted at `/metrics` as dropped, so
//! it cannot stall its topic.

use super::apply::{Targets, apply};
use super::metrics::{Metrics, TopicCounters};
use super::topics::{ALERTS, GROUP, HEARTBEAT, SAMPLES};
use argus_queue::{Delivery, Queue};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How often a process consuming every type looks for new topics.
const DISCOVER_EVERY: Duration = Duration::from_secs(2);

/// Starts the consumers of `types` (empty: every topic, new ones as they appear) and
/// returns once `stop` is set and every task finished its current batch.
pub async fn run(
    queue: Arc<dyn Queue>,
    targets: Arc<Targets>,
    metrics: Arc<Metrics>,
    types: Vec<String>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    let mut running = BTreeSet::new();
    let task_stop = stop.clone();
    let mut start = |topic: String, tasks: &mut JoinSet<()>| {
        // The notifier's topic is consumed by the notifier (`alerting`), not here.
        if topic != ALERTS && running.insert(topic.clone()) {
            // Each worker has its own handle on the type's consumer group: the group shares
            // the entries among them, and a worker that fails gives back only its batch.
            // A type with an exec target has one worker: its program sees one batch at a time.
            let workers = if targets.exec.contains_key(&topic) {
                1
            } else {
                targets.workers.max(1)
            };
            tracing::info!(topic, workers, "consumer started");
            for _ in 0..workers {
                tasks.spawn(run_topic(
                    queue.clone(),
                    topic.clone(),
                    targets.clone(),
                    metrics.topic(&topic),
                    task_stop.clone(),
                ));
            }
        }
    };
    if types.is_empty() {
        for t in [SAMPLES, HEARTBEAT, "alarm", "log"] {
            start(t.to_string(), &mut tasks);
        }
        for t in targets.exec.keys() {
            start(t.clone(), &mut tasks);
        }
        loop {
            match queue.topics().await {
                Ok(topics) => {
                    for t in topics {
                        start(t, &mut tasks);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot list the queue's topics"),
            }
            tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                _ = tokio::time::sleep(DISCOVER_EVERY) => {}
            }
        }
    } else {
        for t in types {
            start(t, &mut tasks);
        }
        let _ = stop.wait_for(|s| *s).await;
    }
    while tasks.join_next().await.is_some() {}
}

/// Waits `d`, or less when stopping; `true` when stopping.
async fn pause(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = stop.wait_for(|s| *s) => true,
        _ = tokio::time::sleep(d) => false,
    }
}

async fn run_topic(
    queue: Arc<dyn Queue>,
    topic: String,
    targets: Arc<Targets>,
    counters: Arc<TopicCounters>,
    mut stop: watch::Receiver<bool>,
) {
    const MIN_BACKOFF: Duration = Duration::from_millis(200);
    let mut backoff = MIN_BACKOFF;
    'consumer: loop {
        if *stop.borrow() {
            return;
        }
        let consumer = match queue.consumer(&topic, GROUP).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(topic, error = %e, "cannot consume; retrying");
                if pause(&mut stop, backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        loop {
            let next = tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                r = consumer.next(targets.batch_entries.max(1), Duration::from_secs(1)) => r,
            };
            let batch = match next {
                Ok(b) if b.is_empty() => continue,
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(topic, error = %e, "cannot read the queue; retrying");
                    counters.failed_runs.fetch_add(1, Ordering::Relaxed);
                    if pause(&mut stop, backoff).await {
                        return;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    continue 'consumer;
                }
            };
            // The batch is applied even when stop comes meanwhile: a shutdown finishes it.
            let applied = match apply_batch(&topic, &batch, &targets, &counters).await {
                Ok(()) => consumer.ack(&batch).await.map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            match applied {
                Ok(()) => {
                    counters
                        .processed_entries
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    backoff = MIN_BACKOFF;
                }
                Err(e) => {
                    tracing::warn!(topic, entries = batch.len(), error = %e, "applying failed; the batch will be retried");
                    counters.failed_runs.fetch_add(1, Ordering::Relaxed);
                    // Dropping the consumer gives the un-acked batch back to the group.
                    drop(consumer);
                    if pause(&mut stop, backoff).await {
                        return;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    continue 'consumer;
                }
            }
        }
    }
}

/// Most payload bytes decoded and applied at once: a batch is applied in parts of about
/// this size (at least one entry each), so the decoded samples, the storage batch and its
/// WAL record stay bounded whatever the batch holds. Without it, 256 entries of line
/// protocol took 500 MB at once during a backlog.
const APPLY_BYTES: usize = 16 << 20;

/// Applies one batch of entries, in parts of at most [`APPLY_BYTES`]; `Err` when it
/// should be retried (parts applied before a failure are applied again then: idempotent
/// for samples, at least once for events).
async fn apply_batch(
    topic: &str,
    batch: &[Delivery],
    t: &Targets,
    counters: &TopicCounters,
) -> Result<(), String> {
    let mut rest = batch;
    while !rest.is_empty() {
        let n = part_len(rest.iter().map(|d| d.payload.len()), APPLY_BYTES);
        let (part, tail) = rest.split_at(n);
        apply(topic, part, t, counters).await?;
        rest = tail;
    }
    Ok(())
}

/// How many of the next entries (of these sizes) make one part: as many as fit in
/// `limit` bytes, and at least one.
fn part_len(sizes: impl Iterator<Item = usize>, limit: usize) -> usize {
    let mut bytes = 0;
    sizes
        .take_while(|n| {
            bytes += n;
            bytes <= limit
        })
        .count()
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::part_len;

    #[test]
    fn a_batch_is_applied_in_parts_that_fit_the_limit() {
        let parts = |sizes: &[usize]| {
            let mut rest = sizes;
            let mut out = Vec::new();
            while !rest.is_empty() {
                let n = part_len(rest.iter().copied(), 16);
                out.push(rest[..n].to_vec());
                rest = &rest[n..];
            }
            out
        };
        assert_eq!(
            parts(&[10, 6, 1, 20, 3, 3]),
            [vec![10, 6], vec![1], vec![20], vec![3, 3]]
        );
        // An entry over the limit alone is still a part; nothing is ever skipped.
        assert_eq!(parts(&[40]), [vec![40]]);
        assert_eq!(parts(&[1; 40]).len(), 3);
    }
}
