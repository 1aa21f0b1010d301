//! The manager: the loaded groups with their state, reloads, and the evaluation schedule.
//!
//! A **reload** replaces the group set as Prometheus's `Manager.Update` does: a group
//! whose definition did not change is kept as it is (state, schedule and all); a changed
//! group takes over the alerts and written series of its rules that kept their name and
//! labels; the series of rules and groups that are gone are marked stale. Rules loaded by
//! the first load after a start write no `ALERTS*` until their `for` state is restored.
//!
//! [`Manager::tick`] evaluates every group whose slot has come, skipping missed slots; it
//! is pure apart from storage (the time is an argument). [`run`] is the async loop that
//! calls it on a clock and hands the alerts to the notifier.

use crate::file::GroupSpec;
use crate::group::{EvalOptions, EvalOutput, Group, STALE_NAN_BITS};
use crate::rule::NotifyAlert;
use argus_core::{Sample, Storage, TimeSeries};
use argus_promql::{Engine, EngineOptions};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A group's identity: its file and its name (names repeat across files).
pub type GroupKey = (String, String);

/// What a reload did, by group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReloadSummary {
    pub added: Vec<GroupKey>,
    pub changed: Vec<GroupKey>,
    pub unchanged: Vec<GroupKey>,
    pub removed: Vec<GroupKey>,
}

/// Holds the loaded groups and evaluates them against one storage.
pub struct Manager {
    storage: Arc<dyn Storage>,
    engine: Engine,
    opts: EvalOptions,
    groups: BTreeMap<GroupKey, Group>,
    /// Whether a load already happened since the start (Prometheus's `m.restored`).
    loaded_once: bool,
}

impl Manager {
    pub fn new(storage: Arc<dyn Storage>, engine_opts: EngineOptions, opts: EvalOptions) -> Self {
        let engine = Engine::new(storage.clone(), engine_opts);
        Manager {
            storage,
            engine,
            opts,
            groups: BTreeMap::new(),
            loaded_once: false,
        }
    }

    pub fn options(&self) -> &EvalOptions {
        &self.opts
    }

    /// Replaces the groups with `specs` at wall time `now_ns`. If any group does not
    /// compile, nothing changes and every error is returned: the running rules stay.
    /// The series of removed groups get stale markers at `now_ns` (Prometheus writes them
    /// two intervals after the group stops, so a renamed rule can take them over first;
    /// a later sample simply resumes a series here).
    pub fn reload(
        &mut self,
        specs: Vec<GroupSpec>,
        now_ns: i64,
    ) -> Result<ReloadSummary, Vec<String>> {
        let mut new_groups = BTreeMap::new();
        let mut errs = Vec::new();
        for spec in specs {
            let key = (spec.file.clone(), spec.name.clone());
            match Group::new(spec, &self.opts, self.loaded_once) {
                Ok(g) => {
                    new_groups.insert(key, g);
                }
                Err(e) => errs.push(e),
            }
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        self.loaded_once = true;
        let mut summary = ReloadSummary::default();
        let mut old = std::mem::take(&mut self.groups);
        for (key, mut g) in new_groups {
            match old.remove(&key) {
                Some(o) if o.same_as(&g) => {
                    summary.unchanged.push(key.clone());
                    self.groups.insert(key, o);
                }
                Some(o) => {
                    g.copy_state(o);
                    summary.changed.push(key.clone());
                    self.groups.insert(key, g);
                }
                None => {
                    summary.added.push(key.clone());
                    self.groups.insert(key, g);
                }
            }
        }
        let ts_ms = now_ns.div_euclid(1_000_000);
        let mut stale = Vec::new();
        for (key, g) in old {
            for l in g.all_series() {
                stale.push(TimeSeries {
                    labels: l,
                    samples: vec![Sample {
                        ts: ts_ms,
                        value: f64::from_bits(STALE_NAN_BITS),
                    }],
                });
            }
            summary.removed.push(key);
        }
        if !stale.is_empty()
            && let Err(e) = self.storage.append(stale)
        {
            tracing::warn!(err = %e, "writing stale markers of removed rule groups failed");
        }
        Ok(summary)
    }

    /// The groups, sorted by file then name.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    pub fn group(&self, file: &str, name: &str) -> Option<&Group> {
        self.groups.get(&(file.to_string(), name.to_string()))
    }

    /// Evaluates one group at slot `ts_ns` now (for a preview, a test, or a caller with
    /// its own schedule). `None` if there is no such group.
    pub fn eval_group(
        &mut self,
        file: &str,
        name: &str,
        ts_ns: i64,
        now_ns: i64,
    ) -> Option<EvalOutput> {
        let g = self.groups.get_mut(&(file.to_string(), name.to_string()))?;
        Some(g.eval(&self.storage, &self.engine, ts_ns, now_ns, &self.opts))
    }

    /// Evaluates every group whose next slot is at or before `now_ns` (at the latest such
    /// slot: missed ones are skipped, as in Prometheus), and schedules groups seen for the
    /// first time at their first slot after `now_ns`. Returns the outputs, in group order,
    /// and the time the next group is due.
    ///
    /// Due groups are evaluated in parallel, one worker per core, as Prometheus runs each
    /// group in its own goroutine: groups share no state, and a group never sees another
    /// group's results of the same round in either system. Rules inside a group stay in
    /// order. Each group's `lastEvaluation` is its own start: `now_ns` plus the time the
    /// pass had run when the group began.
    pub fn tick(&mut self, now_ns: i64) -> (Vec<EvalOutput>, Option<i64>) {
        let pass_started = std::time::Instant::now();
        let start_of_group = || now_ns + pass_started.elapsed().as_nanos() as i64;
        let mut due: Vec<(usize, i64, &mut Group)> = Vec::new();
        for g in self.groups.values_mut() {
            let next = match g.next_eval_ns {
                Some(n) => n,
                None => {
                    let n = g.first_eval_after(now_ns);
                    g.next_eval_ns = Some(n);
                    n
                }
            };
            if next > now_ns {
                continue;
            }
            let missed = (now_ns - next) / g.interval_ns;
            if missed > 0 {
                g.counters.iterations_missed += missed as u64;
                tracing::warn!(group = %g.name(), file = %g.file(), missed, "rule group evaluations missed");
            }
            let ts = next + missed * g.interval_ns;
            due.push((due.len(), ts, g));
        }
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(due.len());
        let (storage, engine, opts) = (&self.storage, &self.engine, &self.opts);
        let mut outs: Vec<(usize, EvalOutput)> = if workers <= 1 {
            due.into_iter()
                .map(|(i, ts, g)| (i, g.eval(storage, engine, ts, start_of_group(), opts)))
                .collect()
        } else {
            // A shared queue rather than fixed chunks: group costs differ by orders of
            // magnitude, so each worker takes the next group when it is free.
            let queue = Mutex::new(due.into_iter());
            let next_due = || queue.lock().ok().and_then(|mut q| q.next());
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..workers)
                    .map(|_| {
                        s.spawn(|| {
                            let mut done = Vec::new();
                            while let Some((i, ts, g)) = next_due() {
                                done.push((i, g.eval(storage, engine, ts, start_of_group(), opts)));
                            }
                            done
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| match h.join() {
                        Ok(done) => done,
                        Err(_) => {
                            tracing::error!("a rule evaluation worker panicked");
                            Vec::new()
                        }
                    })
                    .collect()
            })
        };
        outs.sort_by_key(|(i, _)| *i);
        let next = self.groups.values().filter_map(|g| g.next_eval_ns).min();
        (outs.into_iter().map(|(_, o)| o).collect(), next)
    }
}

/// A source of wall-clock time, so the loop can run on a test clock.
pub trait Clock: Send + Sync {
    /// Nanoseconds since the Unix epoch.
    fn now_ns(&self) -> i64;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ns(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0)
    }
}

/// Runs the evaluation loop until `stop` turns true: sleeps until the next group is due,
/// evaluates the due groups on a blocking thread (storage is synchronous) and sends each
/// evaluation's alerts to `alerts` (an empty list when it has none to send).
pub async fn run(
    manager: Arc<Mutex<Manager>>,
    clock: Arc<dyn Clock>,
    alerts: tokio::sync::mpsc::Sender<Vec<NotifyAlert>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let m = manager.clone();
        let now = clock.now_ns();
        let res = tokio::task::spawn_blocking(move || match m.lock() {
            Ok(mut m) => m.tick(now),
            Err(_) => (Vec::new(), None),
        })
        .await;
        let (outs, next) = match res {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(err = %e, "rule evaluation task failed");
                (Vec::new(), None)
            }
        };
        // Every evaluation is reported, also one with no alert to send: the receiver
        // sees state changes (a new pending alert sends nothing) after each of them.
        for o in outs {
            if alerts.send(o.alerts).await.is_err() {
                tracing::warn!("alert receiver is gone; alerts dropped");
            }
        }
        // With no groups, look again in a second (a reload may add some).
        let wait_ns = next.map_or(1_000_000_000, |n| {
            (n - clock.now_ns()).clamp(1_000_000, 60_000_000_000)
        });
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_nanos(wait_ns as u64)) => {}
            _ = stop.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests;
