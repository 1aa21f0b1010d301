//! The agent through real processes: its local API, and delivery that survives a server
//! outage and an agent restart.

use crate::common::{Argus, client, send, start, wait_for};
use serde_json::Value;
use std::time::Duration;

fn agent_get(argus: &Argus, path: &str) -> (u16, Value) {
    let base = argus.agent_api.clone().unwrap_or_default();
    send(
        client().get(format!("{base}{path}")),
        &format!("GET {path}"),
    )
}

fn agent_post(argus: &Argus, path: &str, body: &str) -> (u16, Value) {
    let base = argus.agent_api.clone().unwrap_or_default();
    let req = client()
        .post(format!("{base}{path}"))
        .body(body.to_string());
    send(req, &format!("POST {path}"))
}

#[test]
fn local_api_lists_runs_disables_and_accepts_pushed_metrics() {
    let logs = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(logs.path().join("app.log"), "line one\nline two\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let config = format!(
        "[agent]\ninterval_secs = 1\napi_listen = \"127.0.0.1:0\"\nlog_dirs = [{:?}]\n",
        logs.path().display().to_string()
    );
    let argus = start("up", &config);
    assert!(argus.agent_api.is_some(), "the banner names the agent API");

    // Every host input is listed and has run.
    let list = wait_for("plugins to run", Duration::from_secs(20), || {
        let (_, l) = agent_get(&argus, "/plugins/list");
        let all_ran = l
            .as_array()
            .is_some_and(|a| a.len() >= 9 && a.iter().all(|p| p["runs"].as_u64() >= Some(1)));
        all_ran.then_some(l)
    });
    let names: Vec<&str> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for n in ["cpu", "mem", "disk", "net", "system"] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }

    // A manual run reports what it gathered.
    let (s, out) = agent_post(&argus, "/plugins/run?name=mem&timeout=5", "");
    assert_eq!(s, 200, "{out}");
    assert_eq!(out["result"], "ok", "{out}");
    assert!(out["points"].as_u64() >= Some(1), "{out}");
    let (s, out) = agent_post(&argus, "/plugins/run?name=nope", "");
    assert_eq!(s, 404, "{out}");

    // Disable holds, enable lifts it.
    let (s, st) = agent_post(&argus, "/plugins/disable?name=load", "");
    assert_eq!(s, 200);
    assert_eq!(st["state"], "disabled");
    assert!(
        st["disabled_until_ms"]
            .as_i64()
            .is_some_and(|u| u > argus_core_now() + 86_000_000)
    );
    let (_, st) = agent_post(&argus, "/plugins/enable?name=load", "");
    assert_eq!(st["disabled_until_ms"], Value::Null);

    // Pushed metrics reach the server with the host label and the namespace.
    let (s, out) = agent_post(&argus, "/post?ns=team", "pushed,app=x value=42");
    assert_eq!((s, out["points"].as_u64()), (200, Some(1)), "{out}");
    let got = wait_for(
        "the pushed point at the server",
        Duration::from_secs(20),
        || {
            let r = argus.query(r#"pushed_value{ns="team",app="x"}"#);
            (!r.is_empty()).then_some(r)
        },
    );
    assert_eq!(got[0]["value"][1], "42");
    assert!(
        got[0]["metric"]["host"]
            .as_str()
            .is_some_and(|h| !h.is_empty())
    );

    // Heartbeats register the host with its facts.
    let hosts = wait_for("the host in the registry", Duration::from_secs(20), || {
        let (_, h) = argus.get("/api/argus/hosts");
        h["data"].as_array().filter(|a| !a.is_empty()).cloned()
    });
    let facts = &hosts[0]["heartbeat"]["facts"];
    assert_eq!(facts["agent_version"], env!("CARGO_PKG_VERSION"));
    assert!(facts["cpus"].as_u64() >= Some(1), "{facts}");
    assert!(
        hosts[0]["heartbeat"]["plugins"]
            .as_array()
            .is_some_and(|p| p.len() >= 9)
    );

    // Status reports the buffer and the last delivery.
    let (_, status) = agent_get(&argus, "/me/status");
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        status["sender"]["last_success_ms"].as_i64().is_some(),
        "{status}"
    );

    // Files only under the allowed directories.
    let path = logs.path().join("app.log").display().to_string();
    let (s, out) = agent_get(
        &argus,
        &format!("/log/offset?fpath={path}&offset=5&bytes=3"),
    );
    assert_eq!(s, 200, "{out}");
    assert_eq!(out["data"], "one");
    assert_eq!(out["next_offset"], 8);
    let (s, _) = agent_get(&argus, "/log/offset?fpath=/etc/passwd");
    assert_eq!(s, 403);
    let sneaky = format!("{}/../../../etc/passwd", logs.path().display());
    let (s, _) = agent_get(&argus, &format!("/log/offset?fpath={sneaky}"));
    assert_eq!(s, 403);
}

#[test]
fn post_takes_json_metric_lists_and_log_offset_counts_lines() {
    let logs = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let log = logs.path().join("app.log");
    let mut content = String::new();
    for i in 1..=50 {
        content.push_str(&format!("line {i}\n"));
    }
    content.push_str("half a li");
    std::fs::write(&log, &content).unwrap_or_else(|e| panic!("{e}"));
    let config = format!(
        "[agent]\ninterval_secs = 1\napi_listen = \"127.0.0.1:0\"\nlog_dirs = [{:?}]\n",
        logs.path().display().to_string()
    );
    let argus = start("up", &config);

    // The script format's metric list, pushed: names as written, seconds, 0 is now.
    let now_s = argus_core_now() / 1000;
    let body = format!(
        r#"[{{"name": "queue.depth", "value": 7, "timestamp": {}, "tags": {{"queue": "mail"}}}},
            {{"metric": "backlog", "value": "3", "timestamp": 0, "tags": "team=ops"}}]"#,
        now_s - 30
    );
    let (s, out) = agent_post(&argus, "/post?ns=team", &body);
    assert_eq!((s, out["points"].as_u64()), (200, Some(2)), "{out}");
    let got = wait_for("the pushed JSON metrics", Duration::from_secs(20), || {
        let r = argus.query(r#"queue_depth{ns="team",queue="mail"}"#);
        (!r.is_empty()).then_some(r)
    });
    assert_eq!(got[0]["value"][1], "7");
    assert!(
        got[0]["metric"]["host"]
            .as_str()
            .is_some_and(|h| !h.is_empty())
    );
    let r = argus.query(r#"backlog_value{ns="team",team="ops"}"#);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["value"][1], "3");
    // The timestamp in seconds is kept: the sample is 30 s old, not now.
    let r = argus.query(r#"timestamp(queue_depth{ns="team"})"#);
    assert_eq!(r[0]["value"][1], (now_s - 30).to_string(), "{r:?}");

    // A bad item refuses the whole body, naming the item; nothing of it is stored.
    let (s, out) = agent_post(
        &argus,
        "/post",
        r#"[{"name": "refused.one", "value": 1}, {"name": "refused.two", "value": "x"}]"#,
    );
    assert_eq!(s, 400, "{out}");
    assert_eq!(
        out["error"],
        "JSON body: item 2: metric \"refused.two\": \"value\" must be a number"
    );
    let (s, out) = agent_post(&argus, "/post", "[{\"name\": ");
    assert_eq!(s, 400, "{out}");
    assert!(
        out["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("JSON body: invalid JSON")),
        "{out}"
    );
    // Line protocol still works, and the refused body left nothing behind.
    let (s, out) = agent_post(&argus, "/post", "after,x=1 value=1");
    assert_eq!((s, out["points"].as_u64()), (200, Some(1)), "{out}");
    wait_for(
        "the line after the refused body",
        Duration::from_secs(20),
        || {
            let r = argus.query("after_value");
            (!r.is_empty()).then_some(())
        },
    );
    assert!(argus.query("refused_one").is_empty());

    // `num` counts lines from the end; the half-written last line is not one yet.
    let path = log.display().to_string();
    let (s, out) = agent_get(&argus, &format!("/log/offset?fpath={path}&num=3"));
    assert_eq!(s, 200, "{out}");
    assert_eq!(out["data"], "line 48\nline 49\nline 50\n");
    assert_eq!(out["lines"], 3);
    let end_of_lines = content.len() - "half a li".len();
    assert_eq!(out["next_offset"], end_of_lines);
    assert_eq!(out["size"], content.len());
    // Without num: the last 100 lines, here all 50.
    let (_, out) = agent_get(&argus, &format!("/log/offset?fpath={path}"));
    assert_eq!(
        (out["lines"].as_u64(), out["offset"].as_u64()),
        (Some(50), Some(0))
    );

    // Following: next_offset as offset gives what was written since, line by line.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap_or_else(|e| panic!("{e}"));
    std::io::Write::write_all(&mut f, b"ne\nline 52\nline 53\n").unwrap_or_else(|e| panic!("{e}"));
    let (_, out) = agent_get(
        &argus,
        &format!("/log/offset?fpath={path}&offset={end_of_lines}&num=2"),
    );
    assert_eq!(out["data"], "half a line\nline 52\n");
    assert_eq!(out["offset"], end_of_lines);
    let next = out["next_offset"].as_u64().unwrap_or(0);
    let (_, out) = agent_get(
        &argus,
        &format!("/log/offset?fpath={path}&offset={next}&num=10"),
    );
    assert_eq!(
        (out["data"].as_str(), out["lines"].as_u64()),
        (Some("line 53\n"), Some(1))
    );

    // Bytes stay reachable; bad parameters name themselves.
    let (_, out) = agent_get(
        &argus,
        &format!("/log/offset?fpath={path}&offset=0&bytes=6"),
    );
    assert_eq!(
        (out["data"].as_str(), out["lines"].is_null()),
        (Some("line 1"), true)
    );
    let (s, out) = agent_get(&argus, &format!("/log/offset?fpath={path}&num=2&bytes=6"));
    assert_eq!(s, 400, "{out}");
    assert!(
        out["error"]
            .as_str()
            .is_some_and(|e| e.contains("give one, not both"))
    );
    let (s, out) = agent_get(&argus, &format!("/log/offset?fpath={path}&num=many"));
    assert_eq!(s, 400, "{out}");
    assert!(
        out["error"].as_str().is_some_and(|e| e.contains("num")),
        "{out}"
    );
}

#[test]
fn tcollector_collectd_and_zabbix_scripts_reach_the_server_as_named() {
    use std::os::unix::fs::PermissionsExt;
    let scripts = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(scripts.path(), std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    for (name, body) in [
        (
            "1_tc.sh",
            "#!/bin/sh\necho \"proc.loadavg.1min $(date +%s) 0.36 source=proc\"\n",
        ),
        (
            "1_nginx.sh",
            "#!/bin/sh\necho 'PUTVAL \"localhost/nginx/connections-active\" interval=1 N:12'\n\
             echo 'PUTNOTIF severity=warning message=\"many connections\"'\n",
        ),
        (
            "1_disk.sh",
            "#!/bin/sh\n# argus-key: vfs.fs.size[/,free]\necho \"$1$2\" | wc -c\n",
        ),
    ] {
        let path = scripts.path().join(name);
        std::fs::write(&path, body).unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let config = format!(
        "[agent]\ninterval_secs = 1\napi_listen = \"127.0.0.1:0\"\n\n\
         [agent.scripts]\ndir = {:?}\ninterval_secs = 1\n",
        scripts.path().display().to_string()
    );
    let argus = start("up", &config);
    for (query, value) in [
        (r#"proc_loadavg_1min{source="proc"}"#, "0.36"),
        (
            r#"collectd_nginx_connections_total{nginx="active",instance="localhost"}"#,
            "12",
        ),
        // "/free\n" is 6 bytes: the key's parameters were the script's arguments.
        (r#"vfs_fs_size{param1="/",param2="free"}"#, "6"),
    ] {
        let got = wait_for(query, Duration::from_secs(30), || {
            let r = argus.query(query);
            (!r.is_empty()).then_some(r)
        });
        assert_eq!(got[0]["value"][1], value, "{query}: {got:?}");
        assert!(
            got[0]["metric"]["host"]
                .as_str()
                .is_some_and(|h| !h.is_empty()),
            "{got:?}"
        );
    }
    let events = wait_for("the collectd notification", Duration::from_secs(30), || {
        let (_, b) = argus.get("/api/argus/events?type=collectd_notification");
        b["data"].as_array().filter(|a| !a.is_empty()).cloned()
    });
    assert_eq!(events[0]["message"], "many connections", "{events:?}");
    assert_eq!(events[0]["severity"], "warning");
    assert_eq!(events[0]["script"], "nginx");
}

fn argus_core_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

#[test]
fn agent_buffers_while_the_server_is_down_and_delivers_in_order_after_restart() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let agent_dir = dir.path().join("agent");
    let run_agent = || {
        std::process::Command::new(crate::common::BIN)
            .args([
                "agent",
                "--server",
                &format!("http://127.0.0.1:{port}"),
                "--token",
                "secret",
                "--hostname",
                "buffered-host",
            ])
            .arg("--data-dir")
            .arg(&agent_dir)
            .arg("--config")
            .arg(dir.path().join("agent.toml"))
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn agent: {e}"))
    };
    std::fs::write(
        dir.path().join("agent.toml"),
        "[agent]\ninterval_secs = 1\napi_listen = \"\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let started_ms = argus_core_now();
    // The agent runs with no server, is stopped, runs again: its data waits on disk.
    let mut a = run_agent();
    wait_for("buffered data", Duration::from_secs(20), || {
        let n = std::fs::read_dir(agent_dir.join("buffer"))
            .map(|d| d.count())
            .unwrap_or(0);
        (n >= 1
            && std::fs::metadata(agent_dir.join("buffer").join("00000001.seg"))
                .map(|m| m.len())
                .unwrap_or(0)
                > 20_000)
            .then_some(())
    });
    let _ = a.kill();
    let _ = a.wait();
    let mut a = run_agent();
    std::thread::sleep(Duration::from_millis(1500)); // the outage goes on: more rounds buffer

    // Now the server comes up on the agent's port.
    let server_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(server_dir.path().join("argus.toml"), "").unwrap_or_else(|e| panic!("{e}"));
    let mut server = std::process::Command::new(crate::common::BIN)
        .args([
            "server",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--token",
            "secret",
        ])
        .arg("--data-dir")
        .arg(server_dir.path())
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn server: {e}"));
    let c = client();
    let url = format!("http://127.0.0.1:{port}/api/v1/query");
    // The earliest buffered round (from before the first agent was killed) arrives.
    let first = wait_for(
        "the buffered rounds at the server",
        Duration::from_secs(30),
        || {
            let q = format!(
                r#"system_uptime{{host="buffered-host"}}[10m] @ {}"#,
                argus_core_now() / 1000
            );
            let body: Value = c
                .get(&url)
                .query(&[("query", q.as_str())])
                .bearer_auth("secret")
                .send()
                .ok()?
                .json()
                .ok()?;
            let values = body["data"]["result"][0]["values"].as_array()?.clone();
            let first_ts = values.first()?[0].as_f64()?;
            ((first_ts * 1000.0) as i64 <= started_ms + 3000 && values.len() >= 3).then_some(values)
        },
    );
    // In order, no gaps bigger than the downtime, no duplicates.
    let ts: Vec<f64> = first.iter().filter_map(|v| v[0].as_f64()).collect();
    assert!(ts.windows(2).all(|w| w[0] < w[1]), "{ts:?}");
    let _ = a.kill();
    let _ = a.wait();
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn config_changes_apply_without_restart_and_a_bad_one_keeps_the_running_config() {
    let config = "[agent]\ninterval_secs = 1\napi_listen = \"127.0.0.1:0\"\n[agent.labels]\nstage = \"one\"\n";
    let argus = start("up", config);
    wait_for("stage one samples", Duration::from_secs(20), || {
        (!argus.query(r#"system_uptime{stage="one"}"#).is_empty()).then_some(())
    });
    let cfg = argus.dir.path().join("argus.toml");
    std::fs::write(&cfg, config.replace("\"one\"", "\"two-and-longer\""))
        .unwrap_or_else(|e| panic!("{e}"));
    wait_for(
        "stage two samples after the file changed",
        Duration::from_secs(20),
        || {
            (!argus
                .query(r#"system_uptime{stage="two-and-longer"}"#)
                .is_empty())
            .then_some(())
        },
    );
    // A broken file is refused: the agent keeps running with the last good config.
    std::fs::write(&cfg, "[agent]\ninterval_secs = \"soon\"\n").unwrap_or_else(|e| panic!("{e}"));
    let status = wait_for(
        "the config error in the status",
        Duration::from_secs(20),
        || {
            let (_, st) = agent_get(&argus, "/me/status");
            st["config_error"].as_str().is_some().then_some(st)
        },
    );
    assert!(
        status["config_error"]
            .as_str()
            .unwrap_or("")
            .contains("interval_secs"),
        "{status}"
    );
    let (_, list) = agent_get(&argus, "/plugins/list");
    assert!(
        list.as_array().is_some_and(|a| a.len() >= 9),
        "plugins still run: {list}"
    );
}

#[test]
fn remote_configuration_is_pulled_applied_and_kept() {
    let config =
        "[agent]\ninterval_secs = 1\nremote_config_secs = 1\napi_listen = \"127.0.0.1:0\"\n";
    let argus = start("up", config);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string();
    let put = |body: &str| {
        client()
            .put(format!("{}/api/argus/agent/config?host={host}", argus.url))
            .bearer_auth(&argus.token)
            .body(body.to_string())
            .send()
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    assert_eq!(put("[agent.labels]\nfrom_server = \"yes\"\n"), 204);
    wait_for(
        "samples labelled by the remote configuration",
        Duration::from_secs(30),
        || {
            (!argus
                .query(r#"system_uptime{from_server="yes"}"#)
                .is_empty())
            .then_some(())
        },
    );
    assert!(
        argus.data_dir().join("agent/remote-config.toml").exists(),
        "the last good copy is kept"
    );
    // The ETag makes an unchanged configuration a 304.
    let r = client()
        .get(format!("{}/api/argus/agent/config?host={host}", argus.url))
        .bearer_auth(&argus.token)
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    let etag = r
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let r = client()
        .get(format!("{}/api/argus/agent/config?host={host}", argus.url))
        .bearer_auth(&argus.token)
        .header("If-None-Match", etag)
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 304);
    // A configuration the agent cannot apply is refused and reported; the last good stays.
    assert_eq!(put("[agent]\nno_such_key = 1\n"), 204);
    let (s, _) = agent_post(&argus, "/update", "");
    assert_eq!(s, 202);
    let status = wait_for("the refusal in the status", Duration::from_secs(20), || {
        let (_, st) = agent_get(&argus, "/me/status");
        st["config_error"]
            .as_str()
            .is_some_and(|e| e.contains("no_such_key"))
            .then_some(st)
    });
    assert!(
        status["config_error"]
            .as_str()
            .unwrap_or("")
            .contains("remote configuration"),
        "{status}"
    );
    let saved = std::fs::read_to_string(argus.data_dir().join("agent/remote-config.toml"))
        .unwrap_or_default();
    assert!(saved.contains("from_server"), "{saved}");
}

#[test]
fn scripts_alarms_and_log_rules_reach_the_server() {
    use std::os::unix::fs::PermissionsExt;
    let scripts = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(scripts.path(), std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    let script = scripts.path().join("5_queue.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\necho '[{\"name\":\"depth\",\"value\":7,\"tags\":{\"queue\":\"mail\"}}]'\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    let logs = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let log = logs.path().join("app.log");
    std::fs::write(&log, "").unwrap_or_else(|e| panic!("{e}"));
    let config = format!(
        r#"[agent]
interval_secs = 1
api_listen = "127.0.0.1:0"

[agent.scripts]
dir = "{}"
interval_secs = 1

[[agent.inputs.log]]
name = "app"
files = ["{}"]
[[agent.inputs.log.rules]]
name = "errors"
keyword = "ERROR"

[[agent.alarms]]
name = "always"
code = "mem_seen"
measurement = "mem"
field = "total"
op = ">"
threshold = 0.0
"#,
        scripts.path().display(),
        log.display()
    );
    let argus = start("up", &config);
    // The script's metric.
    let got = wait_for("the script's metric", Duration::from_secs(30), || {
        let r = argus.query(r#"plugin_queue_depth{queue="mail"}"#);
        (!r.is_empty()).then_some(r)
    });
    assert_eq!(got[0]["value"][1], "7");
    // A matching log line: counter and event.
    std::fs::write(&log, "all good\nERROR disk on fire\n").unwrap_or_else(|e| panic!("{e}"));
    let ev = wait_for("the log event", Duration::from_secs(30), || {
        let (_, b) = argus.get("/api/argus/events?type=log");
        b["data"].as_array().filter(|a| !a.is_empty()).cloned()
    });
    assert_eq!(ev[0]["line"], "ERROR disk on fire", "{ev:?}");
    assert_eq!(ev[0]["rule"], "errors");
    let m = wait_for("the match counter", Duration::from_secs(20), || {
        let r = argus.query(r#"log_matches{rule="errors",instance="app"}"#);
        (!r.is_empty()).then_some(r)
    });
    assert_eq!(m[0]["value"][1], "1");
    // The local alarm fired and was delivered as an event.
    let alarms = wait_for("the alarm event", Duration::from_secs(30), || {
        let (_, b) = argus.get("/api/argus/events?type=alarm");
        b["data"].as_array().filter(|a| !a.is_empty()).cloned()
    });
    assert_eq!(alarms[0]["code"], "mem_seen", "{alarms:?}");
    assert!(alarms[0]["host"].as_str().is_some_and(|h| !h.is_empty()));
    // The script shows up as a plugin.
    let (_, list) = agent_get(&argus, "/plugins/list");
    assert!(
        list.as_array()
            .is_some_and(|a| a.iter().any(|p| p["name"] == "script:5_queue.sh")),
        "{list}"
    );
}

/// The local API is a side feature: with its address taken, the agent warns, collects and
/// delivers as ever, and takes the address once it is free.
#[test]
fn a_taken_api_address_does_not_stop_collection() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = holder.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let config = format!("[agent]\ninterval_secs = 1\napi_listen = \"{addr}\"\n");
    let argus = start("up", &config);
    assert_eq!(argus.agent_api, None, "the banner claims an agent API");
    // The host's own metrics still arrive.
    wait_for("the local agent's samples", Duration::from_secs(30), || {
        (!argus.query("system_uptime").is_empty()).then_some(())
    });
    // Once the address is free, the API comes up on it (retried every 10 s).
    drop(holder);
    let list = wait_for(
        "the agent API after its address was freed",
        Duration::from_secs(30),
        || {
            client()
                .get(format!("http://{addr}/plugins/list"))
                .send()
                .ok()
                .filter(|r| r.status() == 200)
                .and_then(|r| r.json::<Value>().ok())
        },
    );
    assert!(
        list.as_array()
            .is_some_and(|a| a.iter().any(|p| p["name"] == "cpu")),
        "{list}"
    );
}
