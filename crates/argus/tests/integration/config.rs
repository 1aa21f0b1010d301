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
