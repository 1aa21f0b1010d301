//! The command line and config file: defaults, errors with exit code 2.

use crate::common::BIN;
use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("ARGUS_TOKEN")
        .output()
        .unwrap_or_else(|e| panic!("run {BIN}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_default_prints_a_config_that_checks() {
    let (code, text, _) = run(&["config", "default"]);
    assert_eq!(code, 0);
    assert!(
        text.contains("[server]") && text.contains("[agent.inputs.cpu]"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let f = dir.path().join("default.toml");
    std::fs::write(&f, &text).unwrap_or_else(|e| panic!("{e}"));
    let (code, out, err) = run(&["config", "check", "--config", &f.display().to_string()]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn unknown_key_exits_2_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let f = dir.path().join("bad.toml");
    std::fs::write(&f, "[server]\nlisten = \"127.0.0.1:0\"\nmax_body = 5\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let path = f.display().to_string();
    let (code, _, err) = run(&["server", "--config", &path]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&path) && err.contains("max_body") && err.contains("line 3"),
        "{err}"
    );

    let (code, _, err) = run(&[
        "up",
        "--listen",
        "not-an-address",
        "--data-dir",
        &dir.path().display().to_string(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("server.listen"), "{err}");
}

#[test]
fn version_prints_the_crate_version() {
    let (code, out, _) = run(&["version"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("argus {}", env!("CARGO_PKG_VERSION")));
}

/// `argus config check` reads the rule files and the notifier file the configuration
/// names, as the server would: a bad one exits 2 naming the file, line and reason.
#[test]
fn config_check_reads_the_rule_and_notifier_files() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let rules = dir.path().join("node.yml");
    let notifier = dir.path().join("alertmanager.yml");
    let config = dir.path().join("argus.toml");
    std::fs::write(
        &config,
        format!(
            "[alerting]\nrule_files = [\"{}\"]\nnotifier_file = \"{}\"\n",
            rules.display(),
            notifier.display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let good_rules = "groups:\n  - name: node\n    rules:\n      - alert: Down\n        expr: up == 0\n      - record: x:y\n        expr: sum(up)\n";
    let good_notifier = "route:\n  receiver: ops\nreceivers:\n  - name: ops\n    webhook_configs:\n      - url: http://127.0.0.1:5001/\n";
    std::fs::write(&rules, good_rules).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&notifier, good_notifier).unwrap_or_else(|e| panic!("{e}"));
    let path = config.display().to_string();
    let (code, out, err) = run(&["config", "check", "--config", &path]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 groups, 2 rules: ok"), "{out}");
    assert!(
        out.contains("notifier_file") && out.contains(&format!("{path}: ok")),
        "{out}"
    );
    // A rule whose PromQL does not parse: the file and line.
    std::fs::write(&rules, good_rules.replace("up == 0", "up =="))
        .unwrap_or_else(|e| panic!("{e}"));
    let (code, _, err) = run(&["config", "check", "--config", &path]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&rules.display().to_string()) && err.contains(":5:"),
        "{err}"
    );
    // A route to a receiver that does not exist.
    std::fs::write(&rules, good_rules).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        &notifier,
        good_notifier.replace("receiver: ops", "receiver: nobody"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (code, _, err) = run(&["config", "check", "--config", &path]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("notifier_file") && err.contains("nobody"),
        "{err}"
    );
}
