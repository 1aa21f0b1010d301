//! Installing, verifying and running plugins from the server, without a server: the list
//! is applied with archives handed over directly (the HTTP part is covered by the
//! integration test `plugins`).

use super::sync::{apply, install, save_list};
use super::*;
use crate::config::AgentConfig;
use crate::input::Input;
use crate::runtime::Agent;
use argus_core::plugin_archive::{from_script, sha256_hex};
use std::time::Duration;

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// A plugin that writes a JSON metric with its arguments' count and whether it runs in
/// its own directory (`marker` is a file beside it).
const SCRIPT: &str = r#"#!/bin/sh
here=0; [ -f ./plugin.sh ] && here=1
echo "[{\"name\":\"args\",\"value\":$#},{\"name\":\"in_dir\",\"value\":$here}]"
"#;

fn assigned(name: &str, archive: &[u8], interval: u64, args: &[&str]) -> Assigned {
    Assigned {
        name: name.into(),
        version: sha256_hex(archive),
        sha256: sha256_hex(archive),
        entry: "plugin.sh".into(),
        interval_secs: interval,
        timeout_secs: 5,
        args: args.iter().map(|s| s.to_string()).collect(),
    }
}

fn scripts() -> crate::scripts::ScriptsConfig {
    crate::scripts::ScriptsConfig {
        // As root the tests' scripts would run as nobody, who cannot enter the temp dir.
        user: "root".into(),
        ..Default::default()
    }
}

#[test]
fn an_archive_whose_digest_differs_from_the_list_is_not_installed() {
    let root = ok(tempfile::tempdir());
    let archive = from_script(SCRIPT.as_bytes());
    let mut a = assigned("check", &archive, 60, &[]);
    a.sha256 = sha256_hex(b"something else");
    let e = install(root.path(), &a, &archive).err().unwrap_or_default();
    assert!(
        e.starts_with("checksum mismatch: the archive of version"),
        "{e}"
    );
    assert!(e.contains(&sha256_hex(&archive)), "{e}");
    assert!(!root.path().join("check").exists(), "nothing unpacked");
}

#[test]
fn a_plugin_runs_in_its_directory_with_its_arguments_until_its_files_change() {
    let root = ok(tempfile::tempdir());
    let archive = from_script(SCRIPT.as_bytes());
    let a = assigned("check-2", &archive, 60, &["-v", "x y"]);
    let p = ok(install(root.path(), &a, &archive));
    assert_eq!(p.dir, root.path().join("check-2").join(&a.version));
    assert_eq!(p.entry, p.dir.join("plugin.sh"));
    assert!(
        root.path()
            .join("check-2")
            .join(format!("{}.tar.gz", a.version))
            .exists()
    );
    assert_eq!(p.verify(), Ok(()));

    let mut input = PluginInput::new(p.clone(), &scripts());
    assert_eq!(input.name(), "plugin:check-2");
    let mut out = Vec::new();
    ok(input.gather(1_000, &mut out));
    let text: Vec<String> = out
        .iter()
        .map(|l| {
            let mut s = String::new();
            argus_core::line_protocol::write_line(
                &mut s,
                l,
                argus_core::line_protocol::Precision::Milliseconds,
            );
            s.trim_end().to_string()
        })
        .collect();
    assert!(
        text.iter().any(|l| l.starts_with("plugin_check_2 args=2")),
        "{text:?}"
    );
    assert!(text.iter().any(|l| l.contains("in_dir=1")), "{text:?}");
    assert!(
        text.iter()
            .any(|l| l == "argus_plugin,plugin=check-2 up=1.0 1000"),
        "{text:?}"
    );

    // A changed file is found before the run: not run, reported.
    use std::os::unix::fs::PermissionsExt;
    ok(std::fs::set_permissions(
        &p.entry,
        std::fs::Permissions::from_mode(0o755),
    ));
    ok(std::fs::write(
        &p.entry,
        "#!/bin/sh\necho '[{\"name\":\"evil\",\"value\":1}]'\n",
    ));
    let e = p.verify().err().unwrap_or_default();
    assert!(
        e.starts_with("checksum mismatch: the files of version"),
        "{e}"
    );
    let mut out = Vec::new();
    let r = input.gather(2_000, &mut out);
    assert!(r.is_err());
    assert_eq!(out.len(), 1, "only the up point: {out:?}");
    assert_eq!(out[0].measurement, "argus_plugin");
    assert_eq!(out[0].fields[0].1.as_f64(), Some(0.0));
    let mut events = Vec::new();
    input.drain_events(&mut events);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "plugin_error");
    assert_eq!(events[0].payload["plugin"], "check-2");
    assert!(
        events[0].payload["error"]
            .as_str()
            .unwrap_or("")
            .starts_with("checksum mismatch"),
        "{events:?}"
    );
}

fn quiet_agent(dir: &std::path::Path) -> Agent {
    let config = AgentConfig {
        servers: vec![],
        inputs: ok(serde_json::from_value(serde_json::json!({
            "cpu": {"enabled": false}, "mem": {"enabled": false}, "swap": {"enabled": false},
            "disk": {"enabled": false}, "diskio": {"enabled": false}, "net": {"enabled": false},
            "load": {"enabled": false}, "system": {"enabled": false}, "processes": {"enabled": false}
        }))),
        scripts: crate::scripts::ScriptsConfig {
            enabled: false,
            ..scripts()
        },
        ..AgentConfig::default()
    };
    ok(Agent::new(&config, dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_install_update_and_remove_and_interval_0_runs_only_on_demand() {
    let dir = ok(tempfile::tempdir());
    let agent = quiet_agent(dir.path());
    let handle = agent.handle();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let run = tokio::spawn(agent.run(async move {
        let mut rx = rx;
        let _ = rx.wait_for(|s| *s).await;
    }));
    let installed = handle.installed_plugins();
    let a1 = from_script(SCRIPT.as_bytes());
    let a2 = from_script(format!("{SCRIPT}# v2\n").as_bytes());
    let archives = [a1.clone(), a2.clone()];
    let fetch = |a: Assigned| {
        let found = archives.iter().find(|b| sha256_hex(b) == a.sha256).cloned();
        async move { found.ok_or_else(|| "no such archive".to_string()) }
    };

    let list = vec![
        assigned("ondemand", &a1, 0, &[]),
        assigned("often", &a1, 1, &["a"]),
    ];
    let r = apply(&handle, &installed, list.clone(), fetch).await;
    assert_eq!(r.installed, vec!["ondemand", "often"]);
    assert!(r.failed.is_empty(), "{r:?}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let states = handle.list();
    let st = |n: &str| {
        states
            .iter()
            .find(|s| s.name == n)
            .cloned()
            .unwrap_or_else(|| panic!("{n} missing: {states:?}"))
    };
    assert_eq!(st("plugin:ondemand").interval_secs, 0.0);
    assert_eq!(st("plugin:ondemand").runs, 0, "on demand: never on a tick");
    assert!(st("plugin:often").runs >= 1, "{:?}", st("plugin:often"));
    let out = ok(handle.run("plugin:ondemand", None, None).await);
    assert_eq!(out.result, "ok", "{out:?}");
    // args, in_dir, up, duration.
    assert_eq!(out.points, 4, "{out:?}");

    // The same list again changes nothing; new settings restart; a new version installs
    // and replaces the old one on disk; a plugin no longer listed goes.
    let r = apply(&handle, &installed, list, fetch).await;
    assert_eq!(r.unchanged, vec!["ondemand", "often"]);
    let r = apply(
        &handle,
        &installed,
        vec![
            assigned("ondemand", &a1, 0, &["new"]),
            assigned("often", &a2, 1, &["a"]),
        ],
        fetch,
    )
    .await;
    assert_eq!(r.updated, vec!["ondemand", "often"], "{r:?}");
    assert_eq!(
        installed.get("ondemand").map(|p| p.args),
        Some(vec!["new".to_string()])
    );
    assert_eq!(
        installed.get("often").map(|p| p.sha256),
        Some(sha256_hex(&a2))
    );
    let versions: Vec<String> = ok(std::fs::read_dir(installed.root().join("often")))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        versions.len(),
        2,
        "the new version and its archive: {versions:?}"
    );
    // A bad entry fails alone; the other is removed.
    let mut bad = assigned("ondemand", &a1, 0, &[]);
    bad.sha256 = sha256_hex(b"x");
    let r = apply(&handle, &installed, vec![bad], fetch).await;
    assert_eq!(r.removed, vec!["often"]);
    assert_eq!(r.failed.len(), 1, "{r:?}");
    assert!(r.failed[0].error.contains("no such archive"), "{r:?}");
    assert!(installed.get("often").is_none());
    assert!(!installed.root().join("often").exists());
    assert!(
        installed.get("ondemand").is_some(),
        "the version installed before keeps running"
    );
    save_list(&installed);
    let _ = tx.send(true);
    let _ = run.await;

    // A restart starts what was applied last from the kept archives, with no server; a
    // kept archive that was damaged is not used.
    let agent = quiet_agent(dir.path());
    let handle = agent.handle();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let run = tokio::spawn(agent.run(async move {
        let mut rx = rx;
        let _ = rx.wait_for(|s| *s).await;
    }));
    restore(&handle).await;
    let again = handle.installed_plugins();
    let p = again
        .get("ondemand")
        .unwrap_or_else(|| panic!("not restored"));
    assert_eq!(
        (p.sha256.clone(), p.args.clone()),
        (sha256_hex(&a1), vec!["new".to_string()])
    );
    assert_eq!(p.verify(), Ok(()));
    assert!(handle.list().iter().any(|s| s.name == "plugin:ondemand"));
    let out = ok(handle.run("plugin:ondemand", None, None).await);
    assert_eq!(out.result, "ok", "{out:?}");
    let _ = tx.send(true);
    let _ = run.await;
    let kept = again
        .root()
        .join("ondemand")
        .join(format!("{}.tar.gz", sha256_hex(&a1)));
    ok(std::fs::write(&kept, b"damaged"));
    let agent = quiet_agent(dir.path());
    let handle = agent.handle();
    restore(&handle).await;
    assert!(handle.installed_plugins().get("ondemand").is_none());
}

#[test]
fn list_entries_that_are_no_file_names_are_refused() {
    let a = assigned("x", b"", 0, &[]);
    assert_eq!(a.check(), Ok(()));
    for (f, want) in [
        (
            Assigned {
                name: "../x".into(),
                ..a.clone()
            },
            "not a plugin name",
        ),
        (
            Assigned {
                version: "v/1".into(),
                ..a.clone()
            },
            "not a digest",
        ),
        (
            Assigned {
                sha256: "abc".into(),
                ..a.clone()
            },
            "not a SHA-256",
        ),
        (
            Assigned {
                timeout_secs: 0,
                ..a.clone()
            },
            "timeout_secs is 0",
        ),
    ] {
        let e = f.check().err().unwrap_or_default();
        assert!(e.contains(want), "{f:?}: {e}");
    }
}
