//! Plugins distributed by the server (issue 16, item 1): a server and two agents as real
//! processes, plugins uploaded (a script, a tar.gz made by `tar`) and from a local bare git
//! repository made by the real `git`, assigned to a group of the inventory; what runs
//! where, what arrives, a tampered copy, on-demand runs, and the 4xx answers.

use crate::common::{
    AgentProcess, Argus, call, client, error_of, send, start, start_agent, wait_for,
};
use reqwest::Method;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// An `argus agent` process with its own machine id and local API.
struct Agent(AgentProcess);

impl Agent {
    fn start(server: &Argus, hostname: &str, machine_id: &str, pull_secs: u64) -> Agent {
        // Only the plugins under test: no built-in input but one, no plugins.d; scripts
        // run as root on purpose (the test runs as root, and nobody cannot enter the
        // temporary directory).
        let config = format!(
            r#"[agent]
interval_secs = 1
remote_config_secs = {pull_secs}
api_listen = "127.0.0.1:0"
allow_remote_tasks = true
[agent.scripts]
enabled = false
user = "root"
[agent.inputs.cpu]
enabled = false
[agent.inputs.disk]
enabled = false
[agent.inputs.diskio]
enabled = false
[agent.inputs.net]
enabled = false
[agent.inputs.processes]
enabled = false
"#
        );
        Agent(start_agent(
            &server.url,
            &server.token,
            hostname,
            machine_id,
            &config,
            true,
        ))
    }

    fn get(&self, path: &str) -> (u16, Value) {
        send(client().get(format!("{}{path}", self.0.api)), path)
    }

    fn post(&self, path: &str) -> (u16, Value) {
        send(client().post(format!("{}{path}", self.0.api)), path)
    }

    /// The names of the agent's plugins.
    fn plugin_names(&self) -> Vec<String> {
        let (_, list) = self.get("/plugins/list");
        list.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Runs git in `dir`, as a fixed author; panics with git's message if it fails.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .unwrap_or_else(|e| panic!("git: {e}"));
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn write_exec(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
}

/// `PUT /api/argus/plugins/{name}` with a raw body.
fn upload(argus: &Argus, name: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let req = client()
        .put(format!("{}/api/argus/plugins/{name}", argus.url))
        .bearer_auth(&argus.token)
        .header("content-type", content_type)
        .body(body);
    send(req, &format!("PUT plugin {name}"))
}

/// The value of the only element of an instant query, if there is exactly one.
fn only_value(argus: &Argus, q: &str) -> Option<String> {
    let r = argus.query(q);
    (r.len() == 1).then(|| r[0]["value"][1].as_str().unwrap_or("").to_string())
}

#[test]
fn plugins_from_uploads_and_git_run_on_their_group_and_tampering_is_caught() {
    let argus = start("server", "[plugins]\nmax_bytes = 65536\n");
    let t = Some(argus.token.as_str());
    let a = Agent::start(&argus, "plug-a", "m-plug-a", 1);
    // B pulls once at start and then hourly: only /plugins/update brings it news.
    let b = Agent::start(&argus, "plug-b", "m-plug-b", 3600);
    for id in ["m-plug-a", "m-plug-b"] {
        wait_for("the agents' heartbeats", Duration::from_secs(30), || {
            let (s, _) = call(
                &argus,
                Method::GET,
                &format!("/api/argus/hosts/{id}"),
                t,
                None,
            );
            (s == 200).then_some(())
        });
    }
    let (s, body) = call(
        &argus,
        Method::PATCH,
        "/api/argus/hosts/m-plug-a",
        t,
        Some(&json!({"groups": ["db"]})),
    );
    assert_eq!(s, 200, "{body}");

    // A directory plugin as a tar.gz made by tar: its manifest names the entry point,
    // which reads a file beside it (its directory is the working directory) and takes
    // the assignment's argument.
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dirplug = work.path().join("dirplug");
    std::fs::create_dir_all(&dirplug).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dirplug.join("plugin.toml"),
        "entry = \"run.sh\"\ndescription = \"reads value.txt\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dirplug.join("value.txt"), "41\n").unwrap_or_else(|e| panic!("{e}"));
    write_exec(
        &dirplug.join("run.sh"),
        "#!/bin/sh\nv=$(cat ./value.txt)\necho \"[{\\\"name\\\":\\\"value\\\",\\\"value\\\":$((v + $1))}]\"\n",
    );
    let tgz = work.path().join("dirplug.tar.gz");
    let status = Command::new("tar")
        .arg("-C")
        .arg(&dirplug)
        .arg("-czf")
        .arg(&tgz)
        .arg(".")
        .status()
        .unwrap_or_else(|e| panic!("tar: {e}"));
    assert!(status.success());
    let tgz_bytes = std::fs::read(&tgz).unwrap_or_else(|e| panic!("{e}"));
    let (s, body) = upload(&argus, "dirplug", "application/gzip", tgz_bytes.clone());
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["stored"], "created");
    assert_eq!(body["data"]["entry"], "run.sh");
    assert_eq!(body["data"]["source"], "upload");
    let dir_version = body["data"]["version"].as_str().unwrap_or("").to_string();
    assert_eq!(
        dir_version, body["data"]["sha256"],
        "an upload is named by its digest"
    );
    assert_eq!(dir_version.len(), 64);
    // The same bytes again make no new version.
    let (s, body) = upload(&argus, "dirplug", "application/gzip", tgz_bytes);
    assert_eq!((s, &body["stored"]), (200, &json!("unchanged")), "{body}");

    // A git plugin from a local bare repository.
    let repo_work = work.path().join("gitwork");
    std::fs::create_dir_all(&repo_work).unwrap_or_else(|e| panic!("{e}"));
    git(&repo_work, &["init", "-q", "-b", "main"]);
    write_exec(
        &repo_work.join("plugin.sh"),
        "#!/bin/sh\necho \"gitplug,src=git v=3\"\n",
    );
    git(&repo_work, &["add", "."]);
    git(&repo_work, &["commit", "-q", "-m", "first"]);
    let first = git(&repo_work, &["rev-parse", "HEAD"]);
    let bare = work.path().join("gitplug.git");
    git(
        work.path(),
        &["clone", "-q", "--bare", "gitwork", "gitplug.git"],
    );
    git(
        &repo_work,
        &["remote", "add", "origin", bare.to_str().unwrap_or("")],
    );
    let url = format!("file://{}", bare.display());
    let (s, body) = call(
        &argus,
        Method::PUT,
        "/api/argus/plugins/gitplug",
        t,
        Some(&json!({"git": {"url": url, "ref": "main"}})),
    );
    assert_eq!(s, 201, "{body}");
    assert_eq!(
        body["data"]["version"],
        first.as_str(),
        "a git version is its commit"
    );
    assert_eq!(body["data"]["git"]["url"], url.as_str());

    // Both go to the group "db": host A only.
    for name in ["dirplug", "gitplug"] {
        let args = if name == "dirplug" {
            json!(["1"])
        } else {
            json!([])
        };
        let (s, body) = call(
            &argus,
            Method::PUT,
            &format!("/api/argus/plugins/{name}/assignments"),
            t,
            Some(&json!([{"group": "db", "interval_secs": 1, "timeout_secs": 5, "args": args}])),
        );
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["data"][0]["group"], "db");
    }
    let v = wait_for(
        "the directory plugin's metric",
        Duration::from_secs(40),
        || only_value(&argus, r#"plugin_dirplug_value{host="plug-a"}"#),
    );
    assert_eq!(
        v, "42",
        "41 from value.txt read in its directory, plus the argument 1"
    );
    let v = wait_for("the git plugin's metric", Duration::from_secs(40), || {
        only_value(&argus, r#"gitplug_v{src="git"}"#)
    });
    assert_eq!(v, "3");
    for p in ["dirplug", "gitplug"] {
        let v = wait_for("argus_plugin_up", Duration::from_secs(20), || {
            only_value(&argus, &format!(r#"argus_plugin_up{{plugin="{p}"}}"#))
        });
        assert_eq!(v, "1", "{p}");
    }
    // Exactly the group's host: every plugin series is host A's, and B runs none.
    let hosts: Vec<Value> = argus
        .query(r#"count by (host) ({__name__=~"argus_plugin_up|plugin_dirplug_value|gitplug_v"})"#)
        .iter()
        .map(|e| e["metric"]["host"].clone())
        .collect();
    assert_eq!(hosts, vec![json!("plug-a")]);
    assert!(
        b.plugin_names().iter().all(|n| !n.starts_with("plugin:")),
        "{:?}",
        b.plugin_names()
    );
    assert!(a.plugin_names().contains(&"plugin:dirplug".to_string()));

    // A new commit: a sync makes a new version and the agent runs it; a second sync of
    // the same commit changes nothing.
    write_exec(
        &repo_work.join("plugin.sh"),
        "#!/bin/sh\necho \"gitplug,src=git v=4\"\n",
    );
    git(&repo_work, &["commit", "-q", "-am", "second"]);
    git(&repo_work, &["push", "-q", "origin", "main"]);
    let second = git(&repo_work, &["rev-parse", "HEAD"]);
    let (s, body) = call(
        &argus,
        Method::POST,
        "/api/argus/plugins/gitplug/sync",
        t,
        None,
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        (body["changed"].clone(), body["stored"].clone()),
        (json!(true), json!("new_version"))
    );
    assert_eq!(body["data"]["version"], second.as_str());
    let (_, body) = call(
        &argus,
        Method::POST,
        "/api/argus/plugins/gitplug/sync",
        t,
        None,
    );
    assert_eq!(body["changed"], false, "{body}");
    let (_, body) = call(&argus, Method::GET, "/api/argus/plugins/gitplug", t, None);
    let versions: Vec<&str> = body["data"]["versions"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v["version"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(versions.len(), 2, "{body}");
    assert!(versions.contains(&first.as_str()) && versions.contains(&second.as_str()));
    wait_for("the new commit running", Duration::from_secs(40), || {
        only_value(&argus, r#"gitplug_v{src="git"}"#).filter(|v| v == "4")
    });

    // An on-demand plugin assigned to host B: /plugins/update installs it at once, and it
    // runs only when asked.
    let (s, body) = upload(
        &argus,
        "ondemand",
        "text/x-shellscript",
        b"#!/bin/sh\necho '[{\"name\":\"ran\",\"value\":1}]'\n".to_vec(),
    );
    assert_eq!(s, 201, "{body}");
    let (s, body) = call(
        &argus,
        Method::PUT,
        "/api/argus/plugins/ondemand/assignments",
        t,
        Some(&json!([{"host": "m-plug-b", "interval_secs": 0}])),
    );
    assert_eq!(s, 200, "{body}");
    let (s, body) = b.post("/plugins/update");
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["plugins"]["installed"], json!(["ondemand"]), "{body}");
    assert_eq!(body["plugins"]["changed"], true);
    let (s, body) = b.post("/plugins/update");
    assert_eq!(
        (s, &body["plugins"]["changed"]),
        (200, &json!(false)),
        "{body}"
    );
    std::thread::sleep(Duration::from_secs(2)); // ticks that must not run it
    let (_, list) = b.get("/plugins/list");
    let st = list
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == "plugin:ondemand").cloned())
        .unwrap_or_else(|| panic!("plugin:ondemand not listed: {list}"));
    assert_eq!(
        (st["interval_secs"].clone(), st["runs"].clone()),
        (json!(0.0), json!(0)),
        "{st}"
    );
    let (s, out) = b.post("/plugins/run?name=ondemand");
    assert_eq!(s, 200, "{out}");
    assert_eq!(
        (out["name"].clone(), out["result"].clone()),
        (json!("plugin:ondemand"), json!("ok"))
    );
    let v = wait_for(
        "the on-demand run's metric",
        Duration::from_secs(20),
        || only_value(&argus, r#"plugin_ondemand_ran{host="plug-b"}"#),
    );
    assert_eq!(v, "1");
    assert!(
        argus
            .query(r#"plugin_ondemand_ran{host="plug-a"}"#)
            .is_empty()
    );

    // Tampering with A's copy of dirplug: it no longer runs, and says so.
    let copy =
        a.0.data
            .join("server-plugins/dirplug")
            .join(&dir_version)
            .join("run.sh");
    assert!(copy.exists(), "{}", copy.display());
    write_exec(
        &copy,
        "#!/bin/sh\necho '[{\"name\":\"evil\",\"value\":1}]'\n",
    );
    let ev = wait_for("the plugin_error event", Duration::from_secs(30), || {
        let (_, b) = argus.get("/api/argus/events?type=plugin_error");
        b["data"].as_array().and_then(|a| {
            a.iter()
                .find(|e| e["plugin"] == "dirplug" && e["host"] == "plug-a")
                .cloned()
        })
    });
    assert!(
        ev["error"]
            .as_str()
            .unwrap_or("")
            .contains("checksum mismatch"),
        "{ev}"
    );
    let v = wait_for("argus_plugin_up 0", Duration::from_secs(20), || {
        only_value(&argus, r#"argus_plugin_up{plugin="dirplug"}"#).filter(|v| v == "0")
    });
    assert_eq!(v, "0");
    assert!(
        argus.query("plugin_dirplug_evil").is_empty(),
        "the tampered copy never ran"
    );

    // Remote tasks run plugins installed from the store, verified first: the on-demand
    // plugin on B runs and its output comes back; A's tampered copy does not run.
    let task = |host: &str, plugin: &str| {
        let (s, t0) = call(
            &argus,
            Method::POST,
            "/api/argus/tasks",
            t,
            Some(&json!({"target": {"hosts": [host]}, "plugin": plugin, "timeout_secs": 10})),
        );
        assert_eq!(s, 201, "{t0}");
        let id = t0["id"].as_str().unwrap_or("").to_string();
        wait_for("the task's outcome", Duration::from_secs(40), || {
            let (_, b) = call(
                &argus,
                Method::GET,
                &format!("/api/argus/tasks/{id}"),
                t,
                None,
            );
            let h = b["data"]["hosts"][0].clone();
            (h["status"] != "queued" && h["status"] != "running").then_some(h)
        })
    };
    let h = task("m-plug-b", "ondemand");
    assert_eq!(h["status"], "done", "{h}");
    assert!(
        h["stdout"].as_str().unwrap_or("").contains("\"ran\""),
        "{h}"
    );
    let h = task("m-plug-a", "dirplug");
    assert_eq!(h["status"], "failed", "{h}");
    assert!(
        h["reason"]
            .as_str()
            .unwrap_or("")
            .contains("checksum mismatch"),
        "{h}"
    );

    // Bad input, each answered with what is wrong; nothing distributed is harmed.
    let cases: Vec<(u16, (u16, Value), &str)> = vec![
        (
            400,
            upload(&argus, "-x", "text/plain", b"echo\n".to_vec()),
            "is not a valid plugin name",
        ),
        (
            404,
            call(&argus, Method::GET, "/api/argus/plugins/nope", t, None),
            "no plugin \"nope\"",
        ),
        (
            404,
            call(&argus, Method::DELETE, "/api/argus/plugins/nope", t, None),
            "no plugin \"nope\"",
        ),
        (
            413,
            upload(&argus, "dirplug", "text/plain", vec![b'#'; 70_000]),
            "larger than the limit of 65536 bytes ([plugins] max_bytes)",
        ),
        (
            400,
            upload(
                &argus,
                "dirplug",
                "application/gzip",
                b"not gzip at all".to_vec(),
            ),
            "not a valid tar.gz",
        ),
        (
            400,
            upload(&argus, "dirplug", "text/plain", Vec::new()),
            "empty body",
        ),
        (
            400,
            call(
                &argus,
                Method::PUT,
                "/api/argus/plugins/gitplug",
                t,
                Some(
                    &json!({"git": {"url": format!("file://{}/none.git", work.path().display()), "ref": "main"}}),
                ),
            ),
            "git clone file://",
        ),
        (
            400,
            call(
                &argus,
                Method::PUT,
                "/api/argus/plugins/gitplug",
                t,
                Some(&json!({"git": {"url": url, "ref": "nobranch"}})),
            ),
            "ref \"nobranch\" is not a branch, tag or commit",
        ),
        (
            400,
            call(
                &argus,
                Method::PUT,
                "/api/argus/plugins/gitplug",
                t,
                Some(&json!({"git": {"url": "--upload-pack=touch /tmp/x", "ref": "main"}})),
            ),
            "git.url",
        ),
        (
            400,
            call(
                &argus,
                Method::PUT,
                "/api/argus/plugins/dirplug/assignments",
                t,
                Some(&json!([{"group": "nogroup"}])),
            ),
            "[0].group: \"nogroup\" is not a group of any host of the inventory",
        ),
        (
            400,
            call(
                &argus,
                Method::PUT,
                "/api/argus/plugins/dirplug/assignments",
                t,
                Some(&json!([{"host": "m-ghost"}])),
            ),
            "[0].host: \"m-ghost\" is not a host id",
        ),
        (
            400,
            call(
                &argus,
                Method::PUT,
                "/api/argus/plugins/dirplug/assignments",
                t,
                Some(&json!([{"group": "db", "timeout_secs": 0}])),
            ),
            "[0].timeout_secs: 0 is not 1 to 86400 seconds",
        ),
        (
            400,
            call(
                &argus,
                Method::POST,
                "/api/argus/plugins/dirplug/sync",
                t,
                None,
            ),
            "was uploaded, not registered from git",
        ),
        (
            404,
            call(
                &argus,
                Method::PUT,
                "/api/argus/plugins/nope/assignments",
                t,
                Some(&json!([])),
            ),
            "no plugin \"nope\"",
        ),
    ];
    for (want, (status, body), message) in &cases {
        assert_eq!(status, want, "{message}: {body}");
        assert!(error_of(body).contains(message), "{message}: {body}");
    }
    // A tar.gz without an entry point.
    let noentry = work.path().join("noentry");
    std::fs::create_dir_all(&noentry).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(noentry.join("readme.txt"), "x").unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new("tar")
        .arg("-C")
        .arg(&noentry)
        .args(["-czf", "-", "."])
        .output()
        .unwrap_or_else(|e| panic!("tar: {e}"));
    let (s, body) = upload(&argus, "dirplug", "application/gzip", out.stdout);
    assert_eq!(s, 400, "{body}");
    assert!(error_of(&body).contains("no entry point"), "{body}");
    let (_, body) = call(&argus, Method::GET, "/api/argus/plugins/dirplug", t, None);
    assert_eq!(
        body["data"]["version"],
        dir_version.as_str(),
        "failed uploads harm nothing"
    );
    assert_eq!(body["data"]["assignments"][0]["group"], "db");

    // Viewers read plugins; changing them takes an editor.
    let (s, tok) = call(
        &argus,
        Method::POST,
        "/api/argus/tokens",
        t,
        Some(&json!({"name": "plugin-viewer", "role": "viewer"})),
    );
    assert_eq!(s, 201, "{tok}");
    let viewer = tok["data"]["token"].as_str().unwrap_or("").to_string();
    let v = Some(viewer.as_str());
    let (s, list) = call(&argus, Method::GET, "/api/argus/plugins", v, None);
    assert_eq!(s, 200, "{list}");
    let names: Vec<&str> = list["data"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, vec!["dirplug", "gitplug", "ondemand"]);
    for (method, path) in [
        (Method::PUT, "/api/argus/plugins/dirplug/assignments"),
        (Method::POST, "/api/argus/plugins/gitplug/sync"),
        (Method::DELETE, "/api/argus/plugins/dirplug"),
    ] {
        let (s, body) = call(&argus, method, path, v, Some(&json!([])));
        assert_eq!(s, 403, "{path}: {body}");
    }

    // What agents download: the archive with its digest; a token limited to namespaces
    // gets only what hosts of its namespaces run.
    let download = |cred: &str| {
        client()
            .get(format!(
                "{}/api/argus/agent/plugins/dirplug/{dir_version}?host=plug-a&id=m-plug-a",
                argus.url
            ))
            .bearer_auth(cred)
            .send()
            .unwrap_or_else(|e| panic!("download: {e}"))
    };
    let r = download(&argus.token);
    assert_eq!(r.status().as_u16(), 200);
    let digest = r
        .headers()
        .get("x-argus-sha256")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert_eq!(digest, dir_version);
    let (s, tok) = call(
        &argus,
        Method::POST,
        "/api/argus/tokens",
        t,
        Some(&json!({"name": "team-x", "namespaces": ["team-x"]})),
    );
    assert_eq!(s, 201, "{tok}");
    let team = tok["data"]["token"].as_str().unwrap_or("").to_string();
    assert_eq!(download(&team).status().as_u16(), 403);
    let (s, body) = call(
        &argus,
        Method::GET,
        "/api/argus/agent/plugins?host=plug-a&id=m-plug-a",
        Some(&team),
        None,
    );
    assert_eq!(s, 403, "{body}");
    assert!(error_of(&body).contains("limited to namespaces"), "{body}");

    // Deleting a plugin takes it off the agent at its next pull.
    let (s, _) = call(
        &argus,
        Method::DELETE,
        "/api/argus/plugins/gitplug",
        t,
        None,
    );
    assert_eq!(s, 204);
    wait_for("gitplug gone from agent A", Duration::from_secs(30), || {
        (!a.plugin_names().contains(&"plugin:gitplug".to_string())).then_some(())
    });
    assert!(!a.0.data.join("server-plugins/gitplug").exists());

    // Every upload, sync, assignment and deletion is in the audit log.
    let (_, audit) = call(
        &argus,
        Method::GET,
        "/api/argus/audit?object=plugin&limit=100",
        t,
        None,
    );
    let mut seen: Vec<(String, String)> = audit["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["object_id"].as_str().unwrap_or("").to_string(),
                e["action"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    seen.sort();
    seen.dedup();
    for want in [
        ("dirplug", "upload"),
        ("dirplug", "assign"),
        ("gitplug", "upload"),
        ("gitplug", "sync"),
        ("gitplug", "assign"),
        ("gitplug", "delete"),
        ("ondemand", "upload"),
        ("ondemand", "assign"),
    ] {
        assert!(
            seen.contains(&(want.0.to_string(), want.1.to_string())),
            "{want:?} in {seen:?}"
        );
    }
}
