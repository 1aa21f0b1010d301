//! Remote tasks end to end: a real server and real agents (each its own `argus agent`
//! process, with a machine id of its own through `ARGUS_MACHINE_ID`), tasks made through
//! the API, run by the agents that fetched them over their own long polls, and their
//! outcomes read back.

use crate::common::{AgentProcess, Argus, call, error_of, start, start_agent, wait_for};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Starts an agent of `argus` as host `name` (machine id `m-<name>`) with these
/// `[agent]` settings added.
fn agent(argus: &Argus, name: &str, settings: &str) -> AgentProcess {
    let config = format!(
        "[agent]\ninterval_secs = 2\napi_listen = \"\"\n{settings}\n[agent.scripts]\nenabled = false\n"
    );
    start_agent(
        &argus.url,
        &argus.token,
        name,
        &format!("m-{name}"),
        &config,
        false,
    )
}

fn api(argus: &Argus, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
    call(argus, method, path, Some(&argus.token), body)
}

/// Makes a task; its id.
fn create(argus: &Argus, body: Value) -> String {
    let (s, b) = api(argus, Method::POST, "/api/argus/tasks", Some(&body));
    assert_eq!(s, 201, "{body}: {b}");
    b["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id: {b}"))
        .to_string()
}

fn task(argus: &Argus, id: &str) -> Value {
    let (s, b) = api(argus, Method::GET, &format!("/api/argus/tasks/{id}"), None);
    assert_eq!(s, 200, "{b}");
    b["data"].clone()
}

/// Waits until `pred` holds of task `id`; the task then.
fn wait_task(argus: &Argus, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    wait_for(what, Duration::from_secs(30), || {
        let t = task(argus, id);
        pred(&t).then_some(t)
    })
}

fn finished(t: &Value) -> bool {
    !matches!(t["state"].as_str(), Some("queued" | "running"))
}

/// The host entry of a task, by host id.
fn host<'a>(t: &'a Value, id: &str) -> &'a Value {
    t["hosts"]
        .as_array()
        .and_then(|hs| hs.iter().find(|h| h["host"] == id))
        .unwrap_or_else(|| panic!("no host {id} in {t}"))
}

#[test]
fn tasks_run_on_agents_over_their_own_polls_and_report_back() {
    let argus = start("server", "[tasks]\nmax_output_bytes = 40\n");
    let on = "allow_remote_tasks = true\nallow_remote_commands = true\n";
    let _a = agent(&argus, "task-a", on);
    let _b = agent(&argus, "task-b", on);
    let _c = agent(&argus, "task-c", "");
    let _d = agent(&argus, "task-d", "allow_remote_tasks = true\n");
    for h in ["a", "b", "c", "d"] {
        wait_for(
            &format!("host m-task-{h} in the inventory"),
            Duration::from_secs(30),
            || {
                let (s, _) = api(
                    &argus,
                    Method::GET,
                    &format!("/api/argus/hosts/m-task-{h}"),
                    None,
                );
                (s == 200).then_some(())
            },
        );
    }
    for (h, edit) in [
        (
            "a",
            json!({"groups": ["web"], "labels": {"role": "db", "dc": "east"}}),
        ),
        (
            "b",
            json!({"groups": ["web"], "labels": {"role": "app", "dc": "east"}}),
        ),
    ] {
        let (s, b) = api(
            &argus,
            Method::PATCH,
            &format!("/api/argus/hosts/m-task-{h}"),
            Some(&edit),
        );
        assert_eq!(s, 200, "{b}");
    }

    // A command on a group runs on both of its hosts; their output comes back.
    let t0 = Instant::now();
    let id = create(
        &argus,
        json!({"target": {"group": "web"}, "command": "printf 'hello\\n'; echo warn >&2"}),
    );
    let t = wait_task(&argus, &id, "the group task to finish", finished);
    assert!(
        t0.elapsed() < Duration::from_secs(15),
        "the long polls woke late: {:?}",
        t0.elapsed()
    );
    assert_eq!(t["state"], "done", "{t}");
    assert_eq!(t["kind"], "command");
    assert_eq!(t["target"], json!({"group": "web"}));
    assert_eq!(t["counts"], json!({"done": 2}));
    assert_eq!(t["hosts"].as_array().map(Vec::len), Some(2), "{t}");
    for h in ["m-task-a", "m-task-b"] {
        let e = host(&t, h);
        assert_eq!(e["status"], "done", "{e}");
        assert_eq!(e["exit_code"], 0, "{e}");
        assert_eq!(e["stdout"], "hello\n", "{e}");
        assert_eq!(e["stderr"], "warn", "{e}");
        assert_eq!(e["stdout_truncated"], false, "{e}");
        assert!(e["duration_ms"].as_i64().is_some_and(|d| d >= 0), "{e}");
        assert!(
            e["finished_ms"].as_i64() >= e["started_ms"].as_i64() && e["started_ms"].is_i64(),
            "{e}"
        );
    }
    assert_eq!(host(&t, "m-task-a")["hostname"], "task-a");

    // A selector picks host a alone; the exit code and a cut output come back.
    let id = create(
        &argus,
        json!({"target": {"selector": "role=db,dc=east"},
               "command": "head -c 100 /dev/zero | tr '\\0' y; exit 7"}),
    );
    let t = wait_task(&argus, &id, "the selector task", finished);
    assert_eq!(t["hosts"].as_array().map(Vec::len), Some(1), "{t}");
    let e = host(&t, "m-task-a");
    assert_eq!(
        (e["status"].clone(), e["exit_code"].clone()),
        (json!("failed"), json!(7))
    );
    assert_eq!(
        e["stdout"],
        "y".repeat(40),
        "cut to [tasks] max_output_bytes"
    );
    assert_eq!(e["stdout_truncated"], true);
    assert_eq!(t["state"], "failed");

    // Tasks off: the agent still answers, "refused", saying why. Commands off: the same.
    let id = create(
        &argus,
        json!({"target": {"hosts": ["m-task-c", "m-task-d"]}, "command": "echo should-not-run"}),
    );
    let t = wait_task(&argus, &id, "the refusals", finished);
    let c = host(&t, "m-task-c");
    assert_eq!(c["status"], "refused", "{c}");
    assert!(
        c["reason"]
            .as_str()
            .unwrap_or("")
            .contains("allow_remote_tasks = false"),
        "{c}"
    );
    let d = host(&t, "m-task-d");
    assert_eq!(d["status"], "refused", "{d}");
    assert!(
        d["reason"]
            .as_str()
            .unwrap_or("")
            .contains("allow_remote_commands = false"),
        "{d}"
    );
    assert_eq!(c["stdout"], "");

    // A plugin this server's store does not have is refused when the task is made (the
    // plugin store is not wired into this build's tasks yet).
    let (s, b) = api(
        &argus,
        Method::POST,
        "/api/argus/tasks",
        Some(
            &json!({"target": {"hosts": ["m-task-a"]}, "plugin": "disk-check", "args": ["-w", "90"]}),
        ),
    );
    assert_eq!(s, 400, "{b}");
    assert!(
        error_of(&b).contains("unknown plugin \"disk-check\""),
        "{b}"
    );

    // A timeout kills the command and everything it started, and is reported.
    // In /tmp: an agent running as root runs commands as nobody, who can write there.
    let pid_file =
        std::path::Path::new("/tmp").join(format!("argus-task-{}.pid", std::process::id()));
    let _ = std::fs::remove_file(&pid_file);
    let id = create(
        &argus,
        json!({"target": {"hosts": ["m-task-a"]}, "timeout_secs": 1,
               "command": format!("echo $$ > {}; exec sleep 60", pid_file.display())}),
    );
    let t = wait_task(&argus, &id, "the timed-out task", finished);
    let e = host(&t, "m-task-a");
    assert_eq!(e["status"], "timed_out", "{e}");
    assert!(
        e["reason"].as_str().unwrap_or("").contains("after 1 s"),
        "{e}"
    );
    assert!(
        e["duration_ms"]
            .as_i64()
            .is_some_and(|d| (1000..10_000).contains(&d)),
        "{e}"
    );
    let pid = std::fs::read_to_string(&pid_file).unwrap_or_default();
    let _ = std::fs::remove_file(&pid_file);
    assert!(!pid.trim().is_empty(), "the command never started");
    assert!(
        !std::path::Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "process {} outlived its timeout",
        pid.trim()
    );

    // Concurrency 1: one host at a time, so their runs do not overlap.
    let id = create(
        &argus,
        json!({"target": {"group": "web"}, "concurrency": 1, "command": "sleep 1; echo ok"}),
    );
    let t = wait_task(&argus, &id, "the one-at-a-time task", finished);
    assert_eq!(t["state"], "done", "{t}");
    assert_eq!(t["concurrency"], 1);
    let mut spans: Vec<(i64, i64)> = ["m-task-a", "m-task-b"]
        .iter()
        .map(|h| {
            let e = host(&t, h);
            assert!(e["duration_ms"].as_i64() >= Some(1000), "{e}");
            (
                e["started_ms"].as_i64().unwrap_or(0),
                e["finished_ms"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    spans.sort();
    assert!(spans[0].1 <= spans[1].0, "runs overlapped: {spans:?}");

    // Cancel: the running host is told to stop (its agent kills the command and reports
    // it cancelled), the queued one is cancelled at once.
    let id = create(
        &argus,
        json!({"target": {"hosts": ["m-task-a", "m-task-b"]}, "concurrency": 1,
               "timeout_secs": 120, "command": "sleep 60"}),
    );
    let t = wait_task(&argus, &id, "one host running", |t| {
        t["counts"]["running"] == 1
    });
    assert_eq!(t["counts"]["queued"], 1, "{t}");
    let t0 = Instant::now();
    let (s, b) = api(
        &argus,
        Method::POST,
        &format!("/api/argus/tasks/{id}/cancel"),
        None,
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["counts"]["cancelled"], 1, "{b}");
    let t = wait_task(&argus, &id, "the cancel to reach the agent", finished);
    assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());
    assert_eq!(t["state"], "cancelled", "{t}");
    assert_eq!(t["counts"], json!({"cancelled": 2}), "{t}");
    assert_eq!(t["cancelled_by"], "admin");
    let reasons: Vec<&str> = t["hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["reason"].as_str())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("before it started")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("killed by its agent")),
        "{reasons:?}"
    );
    // DELETE is the same; a finished task stays as it was.
    let (s, b) = api(
        &argus,
        Method::DELETE,
        &format!("/api/argus/tasks/{id}"),
        None,
    );
    assert_eq!(
        (s, b["data"]["state"].clone()),
        (200, json!("cancelled")),
        "{b}"
    );

    // Listed newest first; creation and cancellation are audited with who and where.
    let (s, l) = api(&argus, Method::GET, "/api/argus/tasks?limit=2", None);
    assert_eq!(s, 200, "{l}");
    assert_eq!(l["total"], 6, "{l}");
    assert_eq!(l["data"][0]["id"], id.as_str(), "{l}");
    assert_eq!(l["data"].as_array().map(Vec::len), Some(2));
    let (s, a) = api(
        &argus,
        Method::GET,
        &format!("/api/argus/audit?object=task:{id}"),
        None,
    );
    assert_eq!(s, 200, "{a}");
    let actions: Vec<&str> = a["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, vec!["cancel", "create"], "{a}");
    let created = &a["data"][1];
    assert_eq!(created["actor"], "admin");
    assert_eq!(created["after"]["command"], "sleep 60");
    assert_eq!(
        created["after"]["hosts"],
        json!([{"id": "m-task-a", "hostname": "task-a"}, {"id": "m-task-b", "hostname": "task-b"}])
    );
    assert!(a["data"][0]["ts_ms"].as_i64() >= created["ts_ms"].as_i64());
}

#[test]
fn bad_tasks_are_refused_naming_what_is_wrong() {
    let argus = start("server", "");
    // A host of the inventory to aim at (no agent needed to make tasks).
    let (s, b) = api(
        &argus,
        Method::POST,
        "/api/argus/hosts",
        Some(&json!({"hostname": "web-1", "id": "m-web-1"})),
    );
    assert_eq!(s, 201, "{b}");
    let target = json!({"hosts": ["m-web-1"]});
    let cases: Vec<(Value, &str)> = vec![
        (json!({"command": "true"}), "field \"target\": is required"),
        (
            json!({"target": {"hosts": []}, "command": "true"}),
            "target matches no host",
        ),
        (json!({"target": {}, "command": "true"}), "exactly one of"),
        (
            json!({"target": {"hosts": ["m-web-1"], "group": "x"}, "command": "true"}),
            "exactly one of",
        ),
        (
            json!({"target": {"hosts": ["nope"]}, "command": "true"}),
            "no host \"nope\"",
        ),
        (
            json!({"target": {"group": "empty"}, "command": "true"}),
            "target matches no host",
        ),
        (
            json!({"target": {"selector": "role"}, "command": "true"}),
            "target.selector",
        ),
        (
            json!({"target": {"selector": "role=none"}, "command": "true"}),
            "target matches no host",
        ),
        (
            json!({"target": {"rack": "1"}, "command": "true"}),
            "\"rack\" is not a target",
        ),
        (
            json!({"target": target, "command": "true", "plugin": "p"}),
            "not both",
        ),
        (json!({"target": target}), "a task needs \"plugin\""),
        (
            json!({"target": target, "command": ""}),
            "field \"command\": is empty",
        ),
        (
            json!({"target": target, "command": "true", "timeout_secs": 0}),
            "field \"timeout_secs\": must be at least 1",
        ),
        (
            json!({"target": target, "command": "true", "timeout_secs": "5"}),
            "field \"timeout_secs\"",
        ),
        (
            json!({"target": target, "command": "true", "concurrency": 0}),
            "field \"concurrency\": must be at least 1",
        ),
        (
            json!({"target": target, "plugin": "p", "args": ["a", 2]}),
            "field \"args\": element 1",
        ),
        (
            json!({"target": target, "plugin": "p", "args": "a"}),
            "field \"args\"",
        ),
        (
            json!({"target": target, "command": "true", "args": ["a"]}),
            "only with \"plugin\"",
        ),
        (
            json!({"target": target, "plugin": "nope"}),
            "unknown plugin \"nope\"",
        ),
        (
            json!({"target": target, "command": "true", "user": "root"}),
            "field \"user\": unknown",
        ),
    ];
    for (body, want) in &cases {
        let (s, b) = api(&argus, Method::POST, "/api/argus/tasks", Some(body));
        assert_eq!(s, 400, "{body}: {b}");
        assert!(error_of(&b).contains(want), "{body}: want {want:?} in {b}");
    }
    let (s, b) = call(
        &argus,
        Method::POST,
        "/api/argus/tasks",
        Some(&argus.token),
        None,
    );
    assert_eq!(s, 400, "an empty body: {b}");
    // Nothing was made.
    let (_, l) = api(&argus, Method::GET, "/api/argus/tasks", None);
    assert_eq!(l["total"], 0, "{l}");
    for (method, path) in [
        (Method::GET, "/api/argus/tasks/tnope"),
        (Method::POST, "/api/argus/tasks/tnope/cancel"),
        (Method::DELETE, "/api/argus/tasks/tnope"),
    ] {
        let (s, b) = api(&argus, method.clone(), path, None);
        assert_eq!(s, 404, "{method} {path}: {b}");
        assert!(error_of(&b).contains("no task \"tnope\""), "{b}");
    }
    // An agent's result for a task that does not exist, or in a bad shape.
    let (s, b) = api(
        &argus,
        Method::POST,
        "/api/argus/agent/tasks/tnope/result?host=web-1&id=m-web-1",
        Some(&json!({"status": "done"})),
    );
    assert_eq!(s, 404, "{b}");
    let id = create(&argus, json!({"target": target, "command": "true"}));
    let (s, b) = api(
        &argus,
        Method::POST,
        &format!("/api/argus/agent/tasks/{id}/result?host=web-1&id=m-web-1"),
        Some(&json!({"status": "done"})),
    );
    assert_eq!(s, 409, "a result for a host that never took it: {b}");
    let (s, b) = api(
        &argus,
        Method::POST,
        &format!("/api/argus/agent/tasks/{id}/result?host=web-1&id=m-web-1"),
        Some(&json!({"status": "done", "exitcode": 0})),
    );
    assert_eq!(s, 400, "{b}");
    assert!(error_of(&b).contains("exitcode"), "{b}");
    let (s, b) = api(
        &argus,
        Method::GET,
        "/api/argus/agent/tasks?host=web-1&wait=61",
        None,
    );
    assert_eq!(s, 400, "{b}");
    assert!(error_of(&b).contains("\"wait\""), "{b}");
    // The agent's long poll hands the work over at once, then waits its time.
    let (s, d) = api(
        &argus,
        Method::GET,
        "/api/argus/agent/tasks?host=web-1&id=m-web-1&wait=5",
        None,
    );
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["tasks"][0]["id"], id.as_str(), "{d}");
    assert_eq!(d["tasks"][0]["command"], "true", "{d}");
    let t0 = Instant::now();
    let (s, _) = api(
        &argus,
        Method::GET,
        "/api/argus/agent/tasks?host=web-1&id=m-web-1&wait=1",
        None,
    );
    assert_eq!(s, 204);
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t0.elapsed()
    );
    // A token limited to a namespace polls only for hosts in it.
    let (s, t) = api(
        &argus,
        Method::POST,
        "/api/argus/tokens",
        Some(&json!({"name": "agents-a", "namespaces": ["team-a"]})),
    );
    assert_eq!(s, 201, "{t}");
    let team_a = t["data"]["token"].as_str().unwrap_or("").to_string();
    let poll = "/api/argus/agent/tasks?host=web-1&id=m-web-1&wait=0";
    let (s, b) = call(&argus, Method::GET, poll, Some(&team_a), None);
    assert_eq!(s, 403, "{b}");
    assert!(error_of(&b).contains("not in one of them"), "{b}");
    let (s, b) = api(
        &argus,
        Method::PATCH,
        "/api/argus/hosts/m-web-1",
        Some(&json!({"namespaces": ["team-a"]})),
    );
    assert_eq!(s, 200, "{b}");
    let (s, b) = call(&argus, Method::GET, poll, Some(&team_a), None);
    assert_eq!(s, 204, "{b}");
    // Tasks need an editor.
    let (s, b) = api(
        &argus,
        Method::POST,
        "/api/argus/users",
        Some(&json!({"name": "vera", "password": "vera-password", "role": "viewer"})),
    );
    assert_eq!(s, 201, "{b}");
    let (_, b) = call(
        &argus,
        Method::POST,
        "/api/argus/login",
        None,
        Some(&json!({"name": "vera", "password": "vera-password"})),
    );
    let viewer = b["token"].as_str().unwrap_or("").to_string();
    for (method, path) in [
        (Method::GET, "/api/argus/tasks".to_string()),
        (Method::GET, format!("/api/argus/tasks/{id}")),
        (Method::POST, format!("/api/argus/tasks/{id}/cancel")),
    ] {
        let (s, b) = call(&argus, method.clone(), &path, Some(&viewer), None);
        assert_eq!(s, 403, "{method} {path}: {b}");
    }
}
