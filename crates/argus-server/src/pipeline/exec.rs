//! The exec handler: `[handlers.exec.<type>] command = [...]` runs the program once per
//! batch with the batch's events as JSON lines on its standard input. The batch is acked
//! only when the program exits 0; otherwise (non-zero exit, signal, timeout, cannot start)
//! it is delivered again, so a script sees a batch at least once.

use super::config::ExecConfig;
use argus_core::Event;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Runs `cfg.command` with `events` on stdin; `Ok` when it exited 0.
pub async fn run(cfg: &ExecConfig, topic: &str, events: &[Event]) -> Result<(), String> {
    let mut input = Vec::with_capacity(events.len() * 128);
    for e in events {
        serde_json::to_writer(&mut input, e).map_err(|e| e.to_string())?;
        input.push(b'\n');
    }
    let Some((program, args)) = cfg.command.split_first() else {
        return Err("handlers.exec: empty command".into());
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env("ARGUS_EVENT_TYPE", topic)
        .env("ARGUS_EVENT_COUNT", events.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {program:?}: {e}"))?;
    let timeout = Duration::from_secs(cfg.timeout_secs.max(1));
    let work = async {
        if let Some(mut stdin) = child.stdin.take() {
            // A program that exits without reading all of its input is judged by its exit
            // status alone: a broken pipe here is not an error.
            let _ = stdin.write_all(&input).await;
            let _ = stdin.shutdown().await;
        }
        child.wait().await
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!("{program:?} {status}")),
        Ok(Err(e)) => Err(format!("{program:?}: {e}")),
        // Dropping the child (kill_on_drop) kills it.
        Err(_) => Err(format!(
            "{program:?} did not finish within {} s: killed",
            timeout.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: &str) -> Event {
        Event {
            kind: "deploy".into(),
            host: "h1".into(),
            ts: 1_700_000_000_000,
            payload: serde_json::from_value(serde_json::json!({ "code": code }))
                .unwrap_or_default(),
        }
    }

    #[tokio::test]
    async fn the_script_gets_json_lines_and_its_exit_status_decides() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let out = dir.path().join("out.jsonl");
        let ok = ExecConfig {
            command: vec![
                "sh".into(),
                "-c".into(),
                format!("cat >> '{}'", out.display()),
            ],
            timeout_secs: 10,
        };
        assert_eq!(run(&ok, "deploy", &[ev("a"), ev("b")]).await, Ok(()));
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let codes: Vec<String> = text
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
                assert_eq!(v["type"], "deploy");
                v["code"].as_str().unwrap_or("").to_string()
            })
            .collect();
        assert_eq!(codes, ["a", "b"]);
        let fail = ExecConfig {
            command: vec!["sh".into(), "-c".into(), "exit 3".into()],
            timeout_secs: 10,
        };
        let e = run(&fail, "deploy", &[ev("a")])
            .await
            .err()
            .unwrap_or_default();
        assert!(e.contains("exit status: 3"), "{e}");
        let slow = ExecConfig {
            command: vec!["sleep".into(), "30".into()],
            timeout_secs: 1,
        };
        let e = run(&slow, "deploy", &[ev("a")])
            .await
            .err()
            .unwrap_or_default();
        assert!(e.contains("did not finish"), "{e}");
        let missing = ExecConfig {
            command: vec!["/nonexistent/prog".into()],
            timeout_secs: 1,
        };
        assert!(run(&missing, "deploy", &[]).await.is_err());
    }
}
