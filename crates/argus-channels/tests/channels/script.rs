//! Scripts: the payload on standard input, the environment, exit statuses, timeouts.

use std::time::Duration;

use argus_channels::{Reason, deliver};
use serde_json::json;

use crate::common::{channel, high_cpu};

#[tokio::test]
async fn a_script_reads_the_payload_and_its_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_file = dir.path().join("payload.json");
    let env_file = dir.path().join("env");
    let ch = channel(
        "team.ops",
        json!({"kind": "script", "command": "/bin/sh",
               "args": ["-c", "cat > \"$1\"; echo \"$ARGUS_RECEIVER|$ARGUS_STATUS|$ARGUS_GROUP_KEY|$EXTRA\" > \"$2\"",
                        "sh", out_file, env_file],
               "env": {"EXTRA": "x"}}),
    );
    let n = high_cpu();
    let out = deliver(&ch, &n).await;
    assert!(out.ok, "{out:?}");
    assert_eq!((out.attempts, out.status), (1, Some(0)));
    assert_eq!(
        std::fs::read(&out_file).expect("payload"),
        n.webhook_body(0).as_bytes()
    );
    assert_eq!(
        std::fs::read_to_string(&env_file).expect("env"),
        "team.ops|firing|{}:{alertname=\"HighCPU\"}|x\n"
    );
}

#[tokio::test]
async fn a_failing_script_fails_at_once_with_its_stderr() {
    let ch = channel(
        "ops",
        json!({"kind": "script", "command": "/bin/sh",
               "args": ["-c", "echo 'gateway said no' >&2; exit 3"]}),
    );
    let out = deliver(&ch, &high_cpu()).await;
    assert_eq!(
        (out.ok, out.attempts, out.status, out.reason),
        (false, 1, Some(3), Some(Reason::Script))
    );
    assert_eq!(
        out.error.as_deref(),
        Some("\"/bin/sh\": exit status 3: gateway said no")
    );
}

#[tokio::test]
async fn exit_75_asks_for_another_attempt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("tried");
    // Fails with EX_TEMPFAIL the first time, succeeds the second.
    let ch = channel(
        "ops",
        json!({"kind": "script", "command": "/bin/sh",
               "args": ["-c", "cat >/dev/null; if [ -e \"$1\" ]; then exit 0; fi; touch \"$1\"; exit 75", "sh", marker]}),
    );
    let out = deliver(&ch, &high_cpu()).await;
    assert_eq!((out.ok, out.attempts), (true, 2), "{out:?}");
}

#[tokio::test]
async fn a_missing_program_fails_at_once() {
    let ch = channel(
        "ops",
        json!({"kind": "script", "command": "/nonexistent/notify"}),
    );
    let out = deliver(&ch, &high_cpu()).await;
    assert_eq!(
        (out.ok, out.attempts, out.reason),
        (false, 1, Some(Reason::Script))
    );
    assert!(
        out.error
            .unwrap_or_default()
            .starts_with("cannot start \"/nonexistent/notify\"")
    );
}

#[tokio::test]
async fn a_script_past_its_timeout_is_killed_with_what_it_started() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("pid");
    let ch = channel(
        "ops",
        json!({"kind": "script", "command": "/bin/sh", "timeout": "300ms",
               "args": ["-c", "sleep 30 & echo $! > \"$1\"; wait", "sh", pid_file]}),
    )
    .with_policy(argus_channels::RetryPolicy {
        max_attempts: 1,
        ..crate::common::fast()
    });
    let started = std::time::Instant::now();
    let out = deliver(&ch, &high_cpu()).await;
    assert_eq!(
        (out.ok, out.attempts, out.reason),
        (false, 1, Some(Reason::Timeout)),
        "{out:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let pid = std::fs::read_to_string(&pid_file)
        .expect("pid")
        .trim()
        .to_owned();
    // The background sleep is gone (or a zombie waiting for init to reap it).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .chars()
            .next();
        if stat.is_empty() || state == Some('Z') {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sleep {pid} still running: {stat}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_script_that_ignores_its_input_still_counts() {
    // Exits without reading: the payload write meets a closed pipe, which is fine.
    let ch = channel("ops", json!({"kind": "script", "command": "/bin/true"}));
    let mut n = high_cpu();
    let a = n.alerts[0].clone();
    n.alerts = vec![a; 2000]; // larger than a pipe's buffer
    let out = deliver(&ch, &n).await;
    assert!(out.ok, "{out:?}");
}
