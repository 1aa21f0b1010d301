//! Running one assignment: the agent's [`Policy`] first, then the work the way script
//! plugins run (see [`crate::scripts`]): a clean environment with `agent.scripts.env`, as
//! `agent.scripts.user` when the agent is root, in a process group of its own that is
//! killed at the task's timeout or when the task is cancelled, stdout and stderr each cut
//! at `agent.scripts.max_output_bytes`.
//!
//! A command runs as `/bin/sh -c <command>` in `/`; a plugin runs its entry point with the
//! task's arguments in its own directory.

use super::{Assignment, LocalPlugins, Policy};
use crate::scripts::run::{self, Extra, Failed, Settings};
use crate::scripts::user::RunAs;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What a run came to, as reported to the server.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Outcome {
    /// `done`, `failed`, `timed_out`, `refused` or `cancelled`.
    pub status: &'static str,
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stdout_truncated: bool,
    pub stderr: String,
    pub stderr_truncated: bool,
    /// From start to end of the process; `None` when none ran.
    pub duration_ms: Option<u64>,
    /// Why it was refused, failed without an exit code, timed out or was cancelled.
    pub reason: String,
}

impl Outcome {
    fn refused(reason: String) -> Outcome {
        Outcome {
            status: "refused",
            reason,
            ..Outcome::default()
        }
    }

    pub fn failed(reason: String) -> Outcome {
        Outcome {
            status: "failed",
            reason,
            ..Outcome::default()
        }
    }
}

/// What to start, once the policy allows it.
struct Program {
    path: PathBuf,
    args: Vec<String>,
    dir: PathBuf,
}

/// The program of `a`, or the outcome that ends it without running anything.
fn program(
    a: &Assignment,
    policy: &Policy,
    plugins: &dyn LocalPlugins,
) -> Result<Program, Outcome> {
    if !policy.allow_tasks {
        return Err(Outcome::refused(
            "remote tasks are off on this agent (agent.allow_remote_tasks = false)".into(),
        ));
    }
    match a.kind.as_str() {
        "command" => {
            if !policy.allow_commands {
                return Err(Outcome::refused(
                    "ad-hoc commands are off on this agent (agent.allow_remote_commands = false); only plugins of the server's store run here".into(),
                ));
            }
            let command = a.command.clone().unwrap_or_default();
            if command.trim().is_empty() {
                return Err(Outcome::failed("the task has no command".into()));
            }
            Ok(Program {
                path: PathBuf::from("/bin/sh"),
                args: vec!["-c".into(), command],
                dir: PathBuf::from("/"),
            })
        }
        "plugin" => {
            let name = a.plugin.clone().unwrap_or_default();
            let Some(p) = plugins.get(&name) else {
                return Err(Outcome::failed(format!(
                    "plugin {name:?} is not installed on this agent (only plugins of the server's store, installed here, run)"
                )));
            };
            if let Err(why) = plugins.verify(&name) {
                return Err(Outcome::failed(why));
            }
            Ok(Program {
                path: p.entry,
                args: a.args.clone().unwrap_or_default(),
                dir: p.dir,
            })
        }
        other => Err(Outcome::refused(format!(
            "task kind {other:?} is unknown to this agent (version {})",
            env!("CARGO_PKG_VERSION")
        ))),
    }
}

/// Runs `a` under `policy` (blocking: call it on a blocking thread); `stop` set from
/// elsewhere kills it, and it ends `cancelled`.
pub fn execute(
    a: &Assignment,
    policy: &Policy,
    plugins: &dyn LocalPlugins,
    stop: &AtomicBool,
) -> Outcome {
    let p = match program(a, policy, plugins) {
        Ok(p) => p,
        Err(o) => return o,
    };
    if a.timeout_secs == 0 {
        return Outcome::failed("the task has a timeout of 0".into());
    }
    let run_as = RunAs::resolve(&policy.scripts.user);
    if let RunAs::Refused(why) = &run_as {
        return Outcome::refused(why.clone());
    }
    let limit = policy.scripts.max_output_bytes.max(1);
    let settings = Settings {
        dir: p.dir,
        env: policy.scripts.env.clone(),
        timeout: Duration::from_secs(a.timeout_secs),
        max_output_bytes: limit,
        run_as,
        args: Vec::new(),
    };
    let started = Instant::now();
    let result = run::run_with(
        Path::new(&p.path),
        &settings,
        None,
        &Extra {
            args: &p.args,
            stderr_max_bytes: limit,
            stop: Some(stop),
        },
    );
    let duration_ms = Some(started.elapsed().as_millis() as u64);
    match result {
        Ok(f) => {
            let (status, exit_code, reason) = match run::describe_status(f.status) {
                Ok(0) => ("done", Some(0), String::new()),
                Ok(code) => ("failed", Some(code), format!("exited with status {code}")),
                Err(signal) => ("failed", None, format!("killed by signal {signal}")),
            };
            Outcome {
                status,
                exit_code,
                stdout: String::from_utf8_lossy(&f.stdout).into_owned(),
                stdout_truncated: f.truncated,
                stderr: f.stderr,
                stderr_truncated: f.stderr_truncated,
                duration_ms,
                reason,
            }
        }
        Err(Failed::Spawn(e)) => Outcome {
            duration_ms,
            ..Outcome::failed(format!("cannot start {}: {e}", p.path.display()))
        },
        Err(Failed::TimedOut { stderr }) if stop.load(Ordering::Relaxed) => Outcome {
            status: "cancelled",
            stderr,
            duration_ms,
            reason: "cancelled: stopped and killed by its agent".into(),
            ..Outcome::default()
        },
        Err(Failed::TimedOut { stderr }) => Outcome {
            status: "timed_out",
            stderr,
            duration_ms,
            reason: format!(
                "timed out after {} s and was killed, with every process it started",
                a.timeout_secs
            ),
            ..Outcome::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::{LocalPlugin, NoLocalPlugins};
    use std::collections::BTreeMap;
    use std::os::unix::fs::PermissionsExt;

    /// Plugins installed in a temporary directory, as the agent's plugin store installs
    /// them: a directory per plugin holding its entry point.
    struct Installed(BTreeMap<String, LocalPlugin>);

    impl LocalPlugins for Installed {
        fn get(&self, name: &str) -> Option<LocalPlugin> {
            self.0.get(name).cloned()
        }
    }

    fn policy(tasks: bool, commands: bool) -> Policy {
        Policy {
            allow_tasks: tasks,
            allow_commands: commands,
            scripts: crate::scripts::ScriptsConfig {
                max_output_bytes: 64,
                // Only used when the tests run as root: then as root, who can read the
                // temporary directories (nobody may not).
                user: "root".into(),
                ..Default::default()
            },
        }
    }

    fn command(c: &str, timeout_secs: u64) -> Assignment {
        Assignment {
            id: "t1".into(),
            kind: "command".into(),
            plugin: None,
            args: None,
            command: Some(c.into()),
            timeout_secs,
        }
    }

    fn go(a: &Assignment, p: &Policy) -> Outcome {
        execute(a, p, &NoLocalPlugins, &AtomicBool::new(false))
    }

    #[test]
    fn the_policy_refuses_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let marker = dir.path().join("ran");
        let a = command(&format!("touch {}", marker.display()), 5);
        let o = go(&a, &policy(false, true));
        assert_eq!(o.status, "refused");
        assert!(
            o.reason.contains("agent.allow_remote_tasks = false"),
            "{}",
            o.reason
        );
        let o = go(&a, &policy(true, false));
        assert_eq!(o.status, "refused");
        assert!(
            o.reason.contains("agent.allow_remote_commands = false"),
            "{}",
            o.reason
        );
        assert_eq!(o.duration_ms, None);
        assert!(!marker.exists(), "a refused command ran");
        let mut odd = a.clone();
        odd.kind = "reboot".into();
        assert_eq!(go(&odd, &policy(true, true)).status, "refused");
    }

    #[test]
    fn a_command_runs_with_sh_and_reports_its_output() {
        let p = policy(true, true);
        let o = go(&command("printf 'a b\\n'; echo err >&2; exit 0", 5), &p);
        assert_eq!(
            (o.status, o.exit_code, o.stdout.as_str(), o.stderr.as_str()),
            ("done", Some(0), "a b\n", "err")
        );
        assert!(o.duration_ms.is_some());
        let o = go(&command("echo out; exit 3", 5), &p);
        assert_eq!(
            (o.status, o.exit_code, o.stdout.as_str()),
            ("failed", Some(3), "out\n")
        );
        assert_eq!(o.reason, "exited with status 3");
        // Output past max_output_bytes is cut and marked.
        let o = go(
            &command(
                "head -c 100 /dev/zero | tr '\\0' x; head -c 70 /dev/zero >&2",
                5,
            ),
            &p,
        );
        assert_eq!(o.stdout, "x".repeat(64));
        assert!(o.stdout_truncated && o.stderr_truncated);
        // The environment is the clean one of scripts, plus agent.scripts.env.
        let mut p = p;
        p.scripts.env.insert("ZONE".into(), "east".into());
        let o = go(&command("echo $ZONE; pwd", 5), &p);
        assert_eq!(o.stdout, "east\n/\n");
    }

    #[test]
    fn a_timeout_kills_and_a_stop_cancels() {
        let p = policy(true, true);
        let t0 = Instant::now();
        let o = go(&command("sleep 30", 1), &p);
        assert_eq!(o.status, "timed_out");
        assert!(o.reason.contains("after 1 s"), "{}", o.reason);
        assert!(t0.elapsed() < Duration::from_secs(10));
        assert!(
            o.duration_ms.is_some_and(|d| (1000..10_000).contains(&d)),
            "{o:?}"
        );

        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let setter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            flag.store(true, Ordering::Relaxed);
        });
        let o = execute(&command("sleep 30", 20), &p, &NoLocalPlugins, &stop);
        let _ = setter.join();
        assert_eq!(o.status, "cancelled", "{o:?}");
        assert!(o.duration_ms.is_some_and(|d| d < 10_000), "{o:?}");
    }

    #[test]
    fn a_plugin_runs_in_its_directory_with_the_tasks_arguments() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let pdir = dir.path().join("disk-check");
        std::fs::create_dir_all(&pdir).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(pdir.join("data.txt"), "from its dir\n").unwrap_or_else(|e| panic!("{e}"));
        let entry = pdir.join("plugin.sh");
        std::fs::write(&entry, "#!/bin/sh\necho \"args: $1|$2\"\ncat data.txt\n")
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        let installed = Installed(BTreeMap::from([(
            "disk-check".to_string(),
            LocalPlugin {
                dir: pdir.clone(),
                entry,
                version: "sha256:abc".into(),
            },
        )]));
        let a = Assignment {
            id: "t2".into(),
            kind: "plugin".into(),
            plugin: Some("disk-check".into()),
            args: Some(vec!["-w 90".into(), "/".into()]),
            command: None,
            timeout_secs: 5,
        };
        // Plugins need no allow_remote_commands.
        let o = execute(
            &a,
            &policy(true, false),
            &installed,
            &AtomicBool::new(false),
        );
        assert_eq!(o.status, "done", "{o:?}");
        assert_eq!(o.stdout, "args: -w 90|/\nfrom its dir\n");
        // Not installed here: failed, saying so; tasks off: refused.
        let o = execute(
            &a,
            &policy(true, false),
            &NoLocalPlugins,
            &AtomicBool::new(false),
        );
        assert_eq!(o.status, "failed");
        assert!(
            o.reason.contains("\"disk-check\" is not installed"),
            "{}",
            o.reason
        );
        let o = execute(
            &a,
            &policy(false, false),
            &installed,
            &AtomicBool::new(false),
        );
        assert_eq!(o.status, "refused");
    }
}
