//! When plugins run: each plugin has a task that ticks at its **interval** and runs the
//! plugin's `gather` on a blocking thread within its **timeout**; an interval of zero
//! means **on demand**: no tick, only manual runs. A run that errors or
//! panics is recorded in the plugin's [`PluginState`]; a run that outlasts its timeout
//! leaves the plugin **hung**, not started again until that run returns. Manual runs
//! (`POST /plugins/run`) go through the same path as a [`Control`] message.

use super::round::Round;
use super::{Shared, lock};
use crate::input::{Input, Plugin, Schedule};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// What the local API shows of a plugin.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PluginState {
    pub name: String,
    /// `idle`, `running`, `ok`, `error`, `panicked`, `hung` or `disabled`.
    pub state: String,
    pub interval_secs: f64,
    pub timeout_secs: f64,
    /// Until when a disable holds (ms since the epoch), if disabled.
    pub disabled_until_ms: Option<i64>,
    pub last_run_ms: Option<i64>,
    pub last_duration_ms: Option<u64>,
    pub last_error: Option<String>,
    pub runs: u64,
    pub errors: u64,
}

/// The outcome of a manual run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunOutcome {
    pub name: String,
    /// `ok`, `error`, `panicked`, `timeout` or `already_running`.
    pub result: String,
    pub points: usize,
    pub events: usize,
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// A request to a plugin's task from a handle.
pub(super) enum Control {
    RunNow {
        param: Option<String>,
        timeout: Option<Duration>,
        reply: oneshot::Sender<RunOutcome>,
    },
}

/// A started plugin as the runtime keeps it: its state, the way to reach its task, and
/// the task.
pub(super) struct Entry {
    pub(super) state: Arc<Mutex<PluginState>>,
    pub(super) control: mpsc::Sender<Control>,
    pub(super) stop: tokio::sync::watch::Sender<bool>,
    pub(super) task: Option<tokio::task::JoinHandle<()>>,
}

/// Starts a plugin's task and registers it under its name.
pub(super) fn spawn_plugin(p: Plugin, default_interval: Duration, shared: &Arc<Shared>) {
    let (stop_tx, mut stop) = tokio::sync::watch::channel(false);
    let interval = p.schedule.interval.unwrap_or(default_interval);
    // An interval of zero: the plugin runs only when asked (`POST /plugins/run`).
    let on_demand = interval.is_zero();
    let timeout = p.schedule.timeout.unwrap_or(interval).max(if on_demand {
        default_interval
    } else {
        Duration::ZERO
    });
    let state = Arc::new(Mutex::new(PluginState {
        name: p.name.clone(),
        state: "idle".into(),
        interval_secs: interval.as_secs_f64(),
        timeout_secs: timeout.as_secs_f64(),
        disabled_until_ms: None,
        last_run_ms: None,
        last_duration_ms: None,
        last_error: None,
        runs: 0,
        errors: 0,
    }));
    let (ctl_tx, mut ctl_rx) = mpsc::channel(4);
    let slot: Arc<Mutex<Option<Box<dyn Input>>>> = Arc::new(Mutex::new(Some(p.input)));
    let rounds = shared.rounds.clone();
    let slots = shared.gather_slots.clone();
    let name = p.name.clone();
    let task_state = state.clone();
    let task = tokio::spawn(async move {
        let state = task_state;
        let mut tick = tokio::time::interval(if on_demand {
            Duration::from_secs(3600)
        } else {
            interval
        });
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = async { let _ = stop.wait_for(|s| *s).await; } => break,
                _ = tick.tick(), if !on_demand => {
                    let now = argus_core::now_ms();
                    let disabled = {
                        let mut s = lock(&state);
                        match s.disabled_until_ms {
                            Some(u) if u > now => true,
                            Some(_) => { s.disabled_until_ms = None; false }
                            None => false,
                        }
                    };
                    if !disabled {
                        run_once(&name, &slot, &state, &rounds, &slots, None, timeout).await;
                    }
                }
                Some(c) = ctl_rx.recv() => match c {
                    Control::RunNow { param, timeout: t, reply } => {
                        let out = run_once(&name, &slot, &state, &rounds, &slots, param, t.unwrap_or(timeout)).await;
                        let _ = reply.send(out);
                    }
                },
            }
        }
    });
    lock(&shared.plugins).insert(
        p.name,
        Entry {
            state,
            control: ctl_tx,
            stop: stop_tx,
            task: Some(task),
        },
    );
}

/// How many plugin runs gather at once (more run when some outlast [`SLOT_HOLD`]).
pub(super) const GATHER_SLOTS: usize = 2;

/// How long a run keeps its gather slot before going on alone.
const SLOT_HOLD: Duration = Duration::from_millis(500);

/// Runs a plugin once on a blocking thread, within `timeout`. Runs share [`GATHER_SLOTS`]
/// slots: the inputs due at one tick then take turns on the
/// same few threads instead of starting a thread each, which is most of the agent's
/// memory (one malloc arena and stack per thread) and thread-start CPU.
async fn run_once(
    name: &str,
    slot: &Arc<Mutex<Option<Box<dyn Input>>>>,
    state: &Arc<Mutex<PluginState>>,
    rounds: &mpsc::Sender<Round>,
    slots: &Arc<tokio::sync::Semaphore>,
    param: Option<String>,
    timeout: Duration,
) -> RunOutcome {
    let Some(mut input) = lock(slot).take() else {
        return RunOutcome {
            name: name.to_string(),
            result: "already_running".into(),
            points: 0,
            events: 0,
            error: Some("a run of this plugin is in progress".into()),
            duration_ms: 0,
        };
    };
    let now = argus_core::now_ms();
    // Wait for a gather slot; the timeout counts from when the run starts.
    let mut permit = slots.clone().acquire_owned().await.ok();
    let started = Instant::now();
    let outcome = |result: &str, points: usize, events: usize, error: Option<String>| RunOutcome {
        name: name.to_string(),
        result: result.to_string(),
        points,
        events,
        error,
        duration_ms: started.elapsed().as_millis() as u64,
    };
    {
        let mut s = lock(state);
        s.state = "running".into();
        s.last_run_ms = Some(now);
        s.runs += 1;
    }
    let job = tokio::task::spawn_blocking(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            input.set_param(param.as_deref());
            let mut points = Vec::new();
            let res = input.gather(now, &mut points);
            let mut events = Vec::new();
            input.drain_events(&mut events);
            input.set_param(None);
            (res, points, events)
        }));
        (input, r)
    });
    let finish = |s: &mut PluginState, st: &str, err: Option<String>| {
        s.state = st.into();
        s.last_duration_ms = Some(started.elapsed().as_millis() as u64);
        if err.is_some() {
            s.errors += 1;
            s.last_error = err;
        }
    };
    let mut job = job;
    // A run still going after SLOT_HOLD gives its slot up and goes on alone, so slow
    // plugins (a network check waiting on its timeout) never hold the others up.
    let deadline = tokio::time::Instant::from_std(started) + timeout;
    let early = tokio::select! {
        r = &mut job => Some(r),
        _ = tokio::time::sleep(SLOT_HOLD.min(timeout)) => None,
    };
    drop(permit.take());
    let result = match early {
        Some(r) => Ok(r),
        None => tokio::time::timeout_at(deadline, &mut job).await,
    };
    match result {
        Ok(Ok((input, r))) => {
            *lock(slot) = Some(input);
            match r {
                Ok((res, points, events)) => {
                    let (np, ne) = (points.len(), events.len());
                    let err = res.err().map(|e| format!("{e:#}"));
                    finish(
                        &mut lock(state),
                        if err.is_some() { "error" } else { "ok" },
                        err.clone(),
                    );
                    if np + ne > 0 {
                        let _ = rounds.send(Round { points, events }).await;
                    }
                    outcome(if err.is_some() { "error" } else { "ok" }, np, ne, err)
                }
                Err(panic) => {
                    let msg = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    let err = format!("panicked: {msg}");
                    tracing::error!(plugin = name, error = %err, "plugin panicked");
                    finish(&mut lock(state), "panicked", Some(err.clone()));
                    outcome("panicked", 0, 0, Some(err))
                }
            }
        }
        Ok(Err(e)) => {
            let err = format!("plugin task failed: {e}");
            finish(&mut lock(state), "error", Some(err.clone()));
            outcome("error", 0, 0, Some(err))
        }
        Err(_) => {
            let err = format!("did not finish within {:.1} s", timeout.as_secs_f64());
            tracing::warn!(plugin = name, error = %err, "plugin hung");
            finish(&mut lock(state), "hung", Some(err.clone()));
            // When it finally returns, the plugin becomes runnable again; its late data is
            // discarded (stale).
            let slot = slot.clone();
            let state = state.clone();
            tokio::spawn(async move {
                if let Ok((input, _)) = job.await {
                    *lock(&slot) = Some(input);
                    let mut s = lock(&state);
                    if s.state == "hung" {
                        s.state = "idle".into();
                    }
                }
            });
            outcome("timeout", 0, 0, Some(err))
        }
    }
}

/// A schedule's effective interval (for tests and docs).
pub fn effective_interval(s: &Schedule, default: Duration) -> Duration {
    s.interval.unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buffer::Buffer;
    use crate::config::AgentConfig;
    use crate::runtime::Agent;
    use argus_core::line_protocol::Line;
    use std::collections::BTreeMap;

    /// An input that behaves as told: ok, error, panic or hang.
    struct Scripted {
        name: &'static str,
        mode: &'static str,
    }

    impl Input for Scripted {
        fn name(&self) -> &str {
            self.name
        }

        fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
            match self.mode {
                "panic" => panic!("boom in {}", self.name),
                "hang" => std::thread::sleep(Duration::from_secs(3)),
                "error" => {
                    out.push(Line::new("partial").float("v", 1.0).timestamp(now_ms));
                    anyhow::bail!("cannot read the thing")
                }
                _ => {}
            }
            out.push(Line::new(self.name).float("v", 1.0).timestamp(now_ms));
            Ok(())
        }
    }

    fn plugin(name: &'static str, mode: &'static str) -> Plugin {
        Plugin {
            name: name.to_string(),
            input: Box::new(Scripted { name, mode }),
            schedule: Schedule {
                interval: Some(Duration::from_millis(200)),
                timeout: Some(Duration::from_millis(300)),
            },
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failing_plugins_are_contained_and_reported() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let config = AgentConfig {
            servers: vec![],
            inputs: serde_json::from_value(serde_json::json!({
                "cpu": {"enabled": false}, "mem": {"enabled": false}, "swap": {"enabled": false},
                "disk": {"enabled": false}, "diskio": {"enabled": false}, "net": {"enabled": false},
                "load": {"enabled": false}, "system": {"enabled": false}, "processes": {"enabled": false}
            }))
            .unwrap_or_default(),
            scripts: crate::scripts::ScriptsConfig {
                enabled: false,
                ..Default::default()
            },
            ..AgentConfig::default()
        };
        let agent = Agent::new(&config, dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let handle = agent.handle();
        let (tx, rx) = tokio::sync::watch::channel(false);
        let run = tokio::spawn(agent.run(async move {
            let mut rx = rx;
            let _ = rx.wait_for(|s| *s).await;
        }));
        handle
            .add_plugins(vec![
                plugin("good", "ok"),
                plugin("bad", "error"),
                plugin("crashy", "panic"),
                plugin("stuck", "hang"),
            ])
            .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let states: BTreeMap<String, PluginState> = handle
            .list()
            .into_iter()
            .map(|s| (s.name.clone(), s))
            .collect();
        let st = |n: &str| {
            states
                .get(n)
                .cloned()
                .unwrap_or_else(|| panic!("{n} missing"))
        };
        assert!(
            st("good").runs >= 4,
            "the good plugin kept its schedule: {:?}",
            st("good")
        );
        assert_eq!(st("good").errors, 0);
        assert_eq!(st("bad").state, "error");
        assert_eq!(
            st("bad").last_error.as_deref(),
            Some("cannot read the thing")
        );
        assert_eq!(st("crashy").state, "panicked");
        assert!(
            st("crashy")
                .last_error
                .unwrap_or_default()
                .contains("boom in crashy")
        );
        assert!(
            st("crashy").runs >= 3,
            "a panicking plugin is called again next interval"
        );
        assert_eq!(st("stuck").state, "hung");
        assert_eq!(
            st("stuck").runs,
            1,
            "a hung plugin is not started again while it hangs"
        );
        // A manual run of the hung plugin says it is still running.
        let out = handle
            .run("stuck", None, None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.result, "already_running");
        let out = handle
            .run("good", None, None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((out.result.as_str(), out.points), ("ok", 1));
        // The error's partial points were still kept and buffered with the rest.
        let _ = tx.send(true);
        let _ = run.await;
        let mut b =
            Buffer::open(&dir.path().join("buffer"), 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        let all: String = b
            .peek(10_000, usize::MAX)
            .unwrap_or_default()
            .iter()
            .map(|r| String::from_utf8_lossy(&r.payload).into_owned())
            .collect();
        assert!(all.contains("good,host="), "{all}");
        assert!(all.contains("partial,host="), "{all}");
        assert!(!all.contains("crashy,"), "{all}");
    }
}
