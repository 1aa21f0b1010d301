//! Script plugins run for real: scripts in `sh` and `python3` written to a temporary
//! directory, run through [`ScriptDir`] and [`ScriptInput`], their output checked value by
//! value.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_core::Event;
use argus_core::line_protocol::{FieldValue, Line, Precision, line_to_series};
use serde_json::Value;
use tempfile::TempDir;

use super::run::Settings;
use super::user::{self, RunAs};
use super::*;
use crate::input::Input;

/// A directory every user can enter, as a scripts directory must be for `nobody`.
fn scripts_dir() -> TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod dir");
    dir
}

fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// Runs scripts as root when the tests are root: `python3` may live under `/root` (pyenv),
/// which `nobody` cannot enter. Dropping privileges has its own test.
fn config() -> ScriptsConfig {
    ScriptsConfig {
        user: "root".to_string(),
        ..ScriptsConfig::default()
    }
}

/// A sample as the server would store it: series name, labels (without the name), value
/// and timestamp.
#[derive(Debug)]
struct Got {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
    ts: i64,
}

struct Round {
    result: anyhow::Result<()>,
    points: Vec<Line<'static>>,
    events: Vec<Event>,
    now_ms: i64,
}

impl Round {
    fn error(&self) -> String {
        match &self.result {
            Ok(()) => panic!("the round succeeded"),
            Err(e) => format!("{e:#}"),
        }
    }

    /// Every sample, as the server would store it.
    fn samples(&self) -> Vec<Got> {
        let mut series = Vec::new();
        for p in &self.points {
            line_to_series(p, Precision::Milliseconds, 0, &[], &mut series);
        }
        series
            .into_iter()
            .map(|s| {
                let name = s.labels.get("__name__").unwrap_or_default().to_string();
                let labels = s
                    .labels
                    .iter()
                    .filter(|l| l.name != "__name__")
                    .map(|l| (l.name.to_string(), l.value.to_string()))
                    .collect();
                Got {
                    name,
                    labels,
                    value: s.samples[0].value,
                    ts: s.samples[0].ts,
                }
            })
            .collect()
    }

    fn value(&self, name: &str) -> f64 {
        let found: Vec<f64> = self
            .samples()
            .into_iter()
            .filter(|s| s.name == name)
            .map(|s| s.value)
            .collect();
        assert_eq!(found.len(), 1, "one {name} in {:?}", self.samples());
        found[0]
    }
}

fn gather(input: &mut dyn Input) -> Round {
    let now_ms = argus_core::now_ms();
    let mut points = Vec::new();
    let result = input.gather(now_ms, &mut points);
    let mut events = Vec::new();
    input.drain_events(&mut events);
    Round {
        result,
        points,
        events,
        now_ms,
    }
}

fn run_script(name: &str, body: &str) -> Round {
    let dir = scripts_dir();
    let path = write_script(dir.path(), name, body);
    let mut input = ScriptInput::new(path, &config()).expect("input");
    gather(&mut input)
}

#[test]
fn a_json_object_with_type_is_an_event() {
    let r = run_script(
        "demo_cron.py",
        "#!/usr/bin/env python3\nimport json\n\
         print(json.dumps({'type': 'demo', 'key1': 'value1', 'key2': 2, 'ts': 1700000000}, indent=2))\n",
    );
    r.result.as_ref().expect("round");
    assert!(r.points.is_empty());
    assert_eq!(r.events.len(), 1);
    let e = &r.events[0];
    assert_eq!(e.kind, "demo");
    assert_eq!(e.ts, 1_700_000_000_000);
    assert_eq!(e.host, "");
    assert_eq!(e.payload.get("key1"), Some(&Value::from("value1")));
    assert_eq!(e.payload.get("key2"), Some(&Value::from(2)));
    assert_eq!(e.payload.len(), 2);
}

#[test]
fn a_json_array_of_typed_objects_is_several_events() {
    let r = run_script(
        "events.sh",
        "#!/bin/sh\necho '[{\"type\": \"login\", \"user\": \"ann\", \"ts\": 1700000000123}, {\"type\": \"logout\"}]'\n",
    );
    r.result.as_ref().expect("round");
    let kinds: Vec<&str> = r.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["login", "logout"]);
    assert_eq!(r.events[0].ts, 1_700_000_000_123, "milliseconds");
    assert_eq!(r.events[0].payload.get("user"), Some(&Value::from("ann")));
    assert_eq!(r.events[1].ts, r.now_ms);
}

#[test]
fn a_json_metric_list_becomes_plugin_series_with_sane_timestamps() {
    let r = run_script(
        "30_disk-usage.py",
        "#!/usr/bin/env python3\nimport json, time\nnow = int(time.time())\n\
         print(json.dumps([\n\
           {'name': 'used_percent', 'timestamp': now - 60, 'tags': {'path': '/'}, 'value': 42.5},\n\
           {'name': 'inodes', 'timestamp': 0, 'tags': {}, 'value': '17'},\n\
           {'metric': 'latency.ms', 'timestamp': now * 1000, 'value': 3},\n\
         ]))\n",
    );
    r.result.as_ref().expect("round");
    let samples = r.samples();
    assert_eq!(samples.len(), 3, "{samples:?}");
    let Got {
        name,
        labels,
        value,
        ts,
    } = &samples[0];
    assert_eq!(name, "plugin_disk_usage_used_percent");
    assert_eq!(labels, &[("path".to_string(), "/".to_string())]);
    assert_eq!(*value, 42.5);
    assert_eq!(ts % 1000, 0);
    assert!(
        (ts - (r.now_ms - 60_000)).abs() < 5_000,
        "seconds kept: {ts}"
    );
    assert_eq!(samples[1].name, "plugin_disk_usage_inodes");
    assert_eq!(
        (samples[1].value, samples[1].ts),
        (17.0, r.now_ms),
        "0 means now"
    );
    assert_eq!(samples[2].name, "plugin_disk_usage_latency_ms");
    assert_eq!(
        (samples[2].value, samples[2].ts),
        (3.0, r.now_ms),
        "ms are not seconds: now"
    );
}

#[test]
fn line_protocol_timestamps_are_read_by_magnitude() {
    let r = run_script(
        "lp.sh",
        "#!/bin/sh\n\
         echo 'temp,room=a celsius=21.5 1700000000'\n\
         echo 'temp,room=b celsius=22 1700000000123'\n\
         echo 'temp,room=c celsius=23i 1700000000123456789'\n\
         echo 'temp,room=d celsius=24'\n",
    );
    r.result.as_ref().expect("round");
    let got: Vec<(String, f64, i64)> = r
        .samples()
        .into_iter()
        .map(|g| {
            (
                format!("{}{{room={}}}", g.name, g.labels[0].1),
                g.value,
                g.ts,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("temp_celsius{room=a}".to_string(), 21.5, 1_700_000_000_000),
            ("temp_celsius{room=b}".to_string(), 22.0, 1_700_000_000_123),
            ("temp_celsius{room=c}".to_string(), 23.0, 1_700_000_000_123),
            ("temp_celsius{room=d}".to_string(), 24.0, r.now_ms),
        ]
    );
}

/// The samples of a round as `name{labels} value`, labels sorted, timestamps checked
/// separately.
fn shown(r: &Round) -> Vec<String> {
    r.samples()
        .into_iter()
        .map(|g| {
            let labels: Vec<String> = g.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{}{{{}}} {}", g.name, labels.join(","), g.value)
        })
        .collect()
}

#[test]
fn tcollector_output_is_detected_and_named_as_written() {
    let r = run_script(
        "10_loadavg.sh",
        "#!/bin/sh\nnow=$(date +%s)\n\
         echo \"proc.loadavg.1min $now 0.36 source=proc\"\n\
         echo \"proc.loadavg.runnable 0 2\"\n",
    );
    r.result.as_ref().expect("round");
    assert_eq!(
        shown(&r),
        [
            "proc_loadavg_1min{source=proc} 0.36",
            "proc_loadavg_runnable{} 2"
        ]
    );
    let samples = r.samples();
    assert_eq!(samples[0].ts % 1000, 0, "seconds");
    assert!((samples[0].ts - r.now_ms).abs() < 5_000);
    assert_eq!(samples[1].ts, r.now_ms, "0 is now");
}

#[test]
fn declared_tcollector_keeps_good_lines_and_names_bad_ones() {
    let r = run_script(
        "tc.sh",
        "#!/bin/sh\n# argus-format: tcollector\necho 'a.b 1700000000 1'\necho 'a.b 1700000000 x'\n",
    );
    assert_eq!(shown(&r), ["a_b{} 1"]);
    assert_eq!(
        r.error(),
        "script tc.sh: bad output: tcollector line 2: metric \"a.b\": value \"x\" is not a number"
    );
    assert_eq!(r.events[0].kind, "plugin_error");
}

#[test]
fn collectd_exec_values_and_notifications() {
    let r = run_script(
        "60_nginx.sh",
        "#!/bin/sh\nHOST=\"${COLLECTD_HOSTNAME:-localhost}\"\n\
         echo \"PUTVAL \\\"$HOST/nginx/connections-active\\\" interval=60 N:12\"\n\
         echo \"PUTVAL $HOST/nginx/if_octets $(date +%s):1000:U\"\n\
         echo \"PUTNOTIF severity=warning time=$(date +%s) message=\\\"many connections\\\"\"\n",
    );
    r.result.as_ref().expect("round");
    assert_eq!(
        shown(&r),
        [
            "collectd_nginx_connections_total{instance=localhost,nginx=active} 12",
            "collectd_nginx_if_octets_rx_total{instance=localhost} 1000",
        ]
    );
    assert_eq!(r.events.len(), 1);
    let e = &r.events[0];
    assert_eq!(e.kind, "collectd_notification");
    assert_eq!(e.payload.get("severity"), Some(&Value::from("warning")));
    assert_eq!(
        e.payload.get("message"),
        Some(&Value::from("many connections"))
    );
    assert_eq!(e.payload.get("script"), Some(&Value::from("nginx")));
    assert_eq!(e.ts % 1000, 0, "seconds");
}

#[test]
fn a_zabbix_key_names_the_value_and_its_parameters_are_the_arguments() {
    let r = run_script(
        "vfs.sh",
        "#!/bin/sh\n# argus-key: vfs.fs.size[/,free]\n\
         if [ \"$1\" = / ] && [ \"$2\" = free ] && [ $# = 2 ]; then echo 4096; else echo 0; fi\n",
    );
    r.result.as_ref().expect("round");
    assert_eq!(shown(&r), ["vfs_fs_size{param1=/,param2=free} 4096"]);
    assert_eq!(r.samples()[0].ts, r.now_ms);

    // Without a declaration, one number is a Zabbix value named by the script.
    let r = run_script("30_mysql_ping.sh", "#!/bin/sh\necho 1\n");
    r.result.as_ref().expect("round");
    assert_eq!(shown(&r), ["mysql_ping{} 1"]);

    let r = run_script(
        "version.sh",
        "#!/bin/sh\n# argus-key: app.version\necho 1.2.3\n",
    );
    assert_eq!(
        r.error(),
        "script version.sh: bad output: Zabbix item app.version: value \"1.2.3\" is not a number"
    );
    assert!(r.points.is_empty());
}

/// The `sh` example of docs/plugins/scripts.md that contains `mark`.
fn docs_example(mark: &str) -> String {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/plugins/scripts.md");
    let docs = std::fs::read_to_string(docs).expect("docs/plugins/scripts.md");
    docs.split("```sh\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .find(|block| block.contains(mark))
        .unwrap_or_else(|| panic!("no sh example with {mark:?} in docs/plugins/scripts.md"))
        .to_string()
}

#[test]
fn the_docs_collectd_and_zabbix_examples_give_what_the_docs_say() {
    let r = run_script("nginx.sh", &docs_example("argus-format: collectd"));
    r.result.as_ref().expect("round");
    assert_eq!(
        shown(&r),
        [
            "collectd_nginx_connections_total{instance=localhost,nginx=active} 12",
            "collectd_load_shortterm{instance=localhost} 0.5",
            "collectd_load_midterm{instance=localhost} 0.4",
            "collectd_load_longterm{instance=localhost} 0.3",
            "collectd_interface_if_octets_rx_total{instance=localhost,interface=eth0} 1000",
            "collectd_interface_if_octets_tx_total{instance=localhost,interface=eth0} 2000",
        ]
    );
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.events[0].kind, "collectd_notification");
    assert_eq!(
        r.events[0].payload.get("plugin"),
        Some(&Value::from("nginx"))
    );

    let r = run_script("vfs_free.sh", &docs_example("argus-key:"));
    r.result.as_ref().expect("round");
    let samples = r.samples();
    assert_eq!(samples.len(), 1, "{samples:?}");
    assert_eq!(samples[0].name, "vfs_fs_size");
    assert_eq!(
        samples[0].labels,
        [
            ("param1".to_string(), "/".to_string()),
            ("param2".to_string(), "free".to_string())
        ]
    );
    assert!(samples[0].value > 0.0, "free bytes on /: {samples:?}");
}

#[test]
fn a_bad_declaration_is_reported_every_round_and_the_output_still_detected() {
    let r = run_script(
        "bad_key.sh",
        "#!/bin/sh\n# argus-key: a.b[x\necho 'm v=1i'\n",
    );
    assert_eq!(r.value("m_v"), 1.0);
    let err = r.error();
    assert!(
        err.starts_with("script bad_key.sh: bad output: line 2: argus-key \"a.b[x\""),
        "{err}"
    );
}

#[test]
fn nagios_state_perfdata_in_base_units_and_an_event_per_state_change() {
    let dir = scripts_dir();
    let path = write_script(
        dir.path(),
        "check_ping.sh",
        "#!/bin/sh\ncode=${ARGUS_PARAM:-2}\n\
         if [ \"$code\" = 0 ]; then echo 'PING OK - fast | time=0.1s;1;2;0 size=1KB'; \
         else echo 'PING CRITICAL - slow | time=0.5s;1;2;0 size=10KB'; echo 'second line'; fi\n\
         exit $code\n",
    );
    let mut input = ScriptInput::new(path, &config()).expect("input");

    let r = gather(&mut input);
    r.result
        .as_ref()
        .expect("a CRITICAL state is data, not a failure");
    assert_eq!(r.value("nagios_state"), 2.0);
    assert_eq!(r.value("nagios_time"), 0.5);
    assert_eq!(r.value("nagios_time_warn"), 1.0);
    assert_eq!(r.value("nagios_time_crit"), 2.0);
    assert_eq!(r.value("nagios_time_min"), 0.0);
    assert_eq!(r.value("nagios_size"), 10240.0);
    let samples = r.samples();
    let size = samples
        .iter()
        .find(|s| s.name == "nagios_size")
        .expect("size");
    assert_eq!(
        size.labels,
        [
            ("plugin".to_string(), "check_ping".to_string()),
            ("uom".to_string(), "B".to_string())
        ]
    );
    let state = samples
        .iter()
        .find(|s| s.name == "nagios_state")
        .expect("state");
    assert_eq!(
        state.labels,
        [("plugin".to_string(), "check_ping".to_string())]
    );
    assert_eq!(r.events.len(), 1);
    let e = &r.events[0];
    assert_eq!(e.kind, "nagios");
    assert_eq!(e.payload.get("plugin"), Some(&Value::from("check_ping")));
    assert_eq!(e.payload.get("state"), Some(&Value::from("CRITICAL")));
    assert_eq!(e.payload.get("code"), Some(&Value::from(2)));
    assert_eq!(
        e.payload.get("output"),
        Some(&Value::from("PING CRITICAL - slow"))
    );
    assert_eq!(
        e.payload.get("long_output"),
        Some(&Value::from("second line"))
    );
    assert_eq!(e.payload.get("previous"), None);

    let r = gather(&mut input);
    r.result.as_ref().expect("round");
    assert_eq!(r.value("nagios_state"), 2.0);
    assert!(r.events.is_empty(), "no change, no event: {:?}", r.events);

    input.set_param(Some("0"));
    let r = gather(&mut input);
    r.result.as_ref().expect("round");
    assert_eq!(r.value("nagios_state"), 0.0);
    assert_eq!(r.value("nagios_size"), 1024.0);
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.events[0].payload.get("state"), Some(&Value::from("OK")));
    assert_eq!(
        r.events[0].payload.get("previous"),
        Some(&Value::from("CRITICAL"))
    );

    // The parameter was for one round only.
    let r = gather(&mut input);
    assert_eq!(r.value("nagios_state"), 2.0);
}

#[test]
fn a_declared_nagios_script_needs_no_state_word() {
    let r = run_script(
        "60_quiet.sh",
        "#!/bin/sh\n# argus-format: nagios\necho 'queue is long'\nexit 1\n",
    );
    r.result.as_ref().expect("round");
    assert_eq!(r.value("nagios_state"), 1.0);
    assert_eq!(
        r.events[0].payload.get("plugin"),
        Some(&Value::from("quiet"))
    );
    assert_eq!(
        r.events[0].payload.get("state"),
        Some(&Value::from("WARNING"))
    );
    assert_eq!(
        r.events[0].payload.get("output"),
        Some(&Value::from("queue is long"))
    );
}

#[test]
fn a_nagios_exit_status_above_3_is_an_error() {
    let r = run_script(
        "check_x.sh",
        "#!/bin/sh\n# argus-format: nagios\necho 'X OK'\nexit 7\n",
    );
    let err = r.error();
    assert!(err.contains("exit status 7 is not a Nagios state"), "{err}");
    assert!(r.points.is_empty());
}

#[test]
fn declared_line_protocol_errors_name_line_and_column_and_keep_good_lines() {
    let r = run_script(
        "lp_bad.sh",
        "#!/bin/sh\n# argus-format: line\necho 'cpu idle=97'\necho 'cpu idle='\n",
    );
    assert_eq!(r.points.len(), 1);
    assert_eq!(r.points[0].fields[0].1, FieldValue::Float(97.0));
    let err = r.error();
    assert!(
        err.starts_with("script lp_bad.sh: bad output: line protocol line 2, column 10"),
        "{err}"
    );
    let e = r
        .events
        .iter()
        .find(|e| e.kind == "plugin_error")
        .expect("plugin_error");
    assert_eq!(e.payload.get("plugin"), Some(&Value::from("lp_bad.sh")));
    assert_eq!(e.payload.get("error"), Some(&Value::from(err)));
}

#[test]
fn a_nonzero_exit_keeps_valid_output_and_reports_status_and_stderr() {
    let r = run_script(
        "partial.sh",
        "#!/bin/sh\necho 'jobs queued=3i'\necho 'disk vanished' >&2\nexit 3\n",
    );
    assert_eq!(r.value("jobs_queued"), 3.0);
    let err = r.error();
    assert_eq!(
        err,
        "script partial.sh: exited with status 3 (stderr: disk vanished)"
    );
}

#[test]
fn a_python_traceback_is_reported() {
    let r = run_script(
        "broken.py",
        "#!/usr/bin/env python3\nraise RuntimeError('no database')\n",
    );
    let err = r.error();
    assert!(
        err.contains("script broken.py: exited with status 1"),
        "{err}"
    );
    assert!(err.contains("RuntimeError: no database"), "{err}");
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.events[0].kind, "plugin_error");
}

#[test]
fn bad_output_raises_a_plugin_error_naming_the_script() {
    let r = run_script("bad.sh", "#!/bin/sh\necho 'hello world'\n");
    let err = r.error();
    assert!(
        err.starts_with("script bad.sh: bad output: output starting \"hello world\""),
        "{err}"
    );
    assert!(err.contains("as line protocol: line 1, column"), "{err}");
    assert!(r.points.is_empty());
    assert_eq!(r.events.len(), 1);
    let e = &r.events[0];
    assert_eq!(e.kind, "plugin_error");
    assert_eq!(e.ts, r.now_ms);
    assert_eq!(e.payload.get("plugin"), Some(&Value::from("bad.sh")));
    assert_eq!(e.payload.get("error"), Some(&Value::from(err)));

    let r = run_script("untyped.sh", "#!/bin/sh\necho '{\"foo\": 1}'\n");
    let err = r.error();
    assert!(
        err.contains("script untyped.sh: bad output: JSON item 1: has neither a string \"type\""),
        "{err}"
    );
    assert_eq!(r.events[0].kind, "plugin_error");

    let r = run_script("cut.sh", "#!/bin/sh\necho '[{\"type\": \"x\"'\n");
    let err = r.error();
    assert!(
        err.contains("as JSON: EOF while parsing an object at line 2 column 0"),
        "{err}"
    );

    let r = run_script("suicide.sh", "#!/bin/sh\nkill -9 $$\n");
    assert!(r.error().contains("killed by signal 9"), "{}", r.error());
}

#[test]
fn empty_output_with_status_0_is_a_quiet_round() {
    let r = run_script("quiet.sh", "#!/bin/sh\n# nothing to say\n");
    r.result.as_ref().expect("round");
    assert!(r.points.is_empty() && r.events.is_empty());
}

#[test]
fn a_script_without_shebang_runs_with_sh() {
    let r = run_script("noshebang", "echo 'm v=1i'\n");
    r.result.as_ref().expect("round");
    assert_eq!(r.value("m_v"), 1.0);
}

#[test]
fn timeout_kills_the_script_and_its_children() {
    let dir = scripts_dir();
    let path = write_script(
        dir.path(),
        "slow.sh",
        "#!/bin/sh\nsleep 30 &\necho $! > sleep.pid\nwait\n",
    );
    let cfg = ScriptsConfig {
        timeout_secs: 1,
        ..config()
    };
    let mut input = ScriptInput::new(path, &cfg).expect("input");
    let started = Instant::now();
    let r = gather(&mut input);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(took >= Duration::from_secs(1), "took {took:?}");
    assert_eq!(
        r.error(),
        "script slow.sh: timed out after 1 s and was killed"
    );
    assert_eq!(r.events[0].kind, "plugin_error");

    let pid = std::fs::read_to_string(dir.path().join("sleep.pid")).expect("sleep.pid");
    let stat = Path::new("/proc").join(pid.trim()).join("stat");
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        // Gone, or a zombie waiting for a PID 1 that does not reap (as in some containers).
        match std::fs::read_to_string(&stat) {
            Err(_) => break,
            Ok(s)
                if s.rsplit(')')
                    .next()
                    .is_some_and(|rest| rest.trim_start().starts_with('Z')) =>
            {
                break;
            }
            Ok(s) => assert!(Instant::now() < deadline, "sleep survived: {s}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_environment_is_clean_and_carries_config_env_and_param() {
    let dir = scripts_dir();
    let path = write_script(
        dir.path(),
        "env.sh",
        "#!/bin/sh\nprintf '{\"type\":\"env\",\"path\":\"%s\",\"extra\":\"%s\",\"param\":\"%s\",\
         \"cargo\":\"%s\",\"pwd\":\"%s\"}\\n' \"$PATH\" \"$EXTRA\" \"$ARGUS_PARAM\" \
         \"$CARGO_MANIFEST_DIR\" \"$(pwd -P)\"\n",
    );
    let mut cfg = config();
    cfg.env
        .insert("EXTRA".to_string(), "from config".to_string());
    let mut input = ScriptInput::new(path, &cfg).expect("input");
    input.set_param(Some("disk=/var"));
    let r = gather(&mut input);
    r.result.as_ref().expect("round");
    let p = &r.events[0].payload;
    assert_eq!(p.get("extra"), Some(&Value::from("from config")));
    assert_eq!(p.get("param"), Some(&Value::from("disk=/var")));
    assert_eq!(
        p.get("path").and_then(Value::as_str),
        std::env::var("PATH").ok().as_deref()
    );
    // Cargo sets this for the test process; the script must not inherit it.
    assert_eq!(p.get("cargo"), Some(&Value::from("")));
    let cwd = dir.path().canonicalize().expect("canonical");
    assert_eq!(p.get("pwd").and_then(Value::as_str), cwd.to_str());
}

#[test]
fn output_over_the_limit_is_cut_at_a_line_and_reported() {
    let dir = scripts_dir();
    let path = write_script(
        dir.path(),
        "chatty.sh",
        "#!/bin/sh\ni=0\nwhile [ $i -lt 5000 ]; do echo 'm v=1i'; i=$((i+1)); done\n",
    );
    let cfg = ScriptsConfig {
        max_output_bytes: 100,
        ..config()
    };
    let mut input = ScriptInput::new(path, &cfg).expect("input");
    let r = gather(&mut input);
    // 14 whole lines of 7 bytes fit in 100.
    assert_eq!(r.points.len(), 14);
    assert_eq!(
        r.error(),
        "script chatty.sh: output longer than 100 bytes (max_output_bytes); the rest was discarded"
    );
}

#[test]
fn scripts_run_as_the_configured_user_when_root() {
    let dir = scripts_dir();
    let path = write_script(
        dir.path(),
        "whoami.sh",
        "#!/bin/sh\necho \"[{\\\"name\\\": \\\"uid\\\", \\\"value\\\": $(id -u)}, \
         {\\\"name\\\": \\\"groups\\\", \\\"value\\\": $(id -G | wc -w)}]\"\n",
    );
    // The default user: nobody.
    let mut input = ScriptInput::new(path, &ScriptsConfig::default()).expect("input");
    let r = gather(&mut input);
    r.result.as_ref().expect("round");
    let uid = r.value("plugin_whoami_uid");
    if rustix::process::geteuid().is_root() {
        let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
        let nobody = user::lookup(&passwd, "nobody").expect("nobody in /etc/passwd");
        assert_eq!(uid, f64::from(nobody.uid));
        assert_ne!(uid, 0.0);
        // Root's supplementary groups are dropped: only nobody's own group is left.
        assert_eq!(r.value("plugin_whoami_groups"), 1.0);
    } else {
        println!(
            "note: not root, so scripts run as the agent's user; the drop to nobody is not tested"
        );
        assert_eq!(uid, f64::from(rustix::process::geteuid().as_raw()));
    }
}

#[test]
fn a_user_that_cannot_be_resolved_stops_every_round() {
    let dir = scripts_dir();
    let path = write_script(dir.path(), "ok.sh", "#!/bin/sh\necho 'm v=1'\n");
    let settings = Settings {
        dir: dir.path().to_path_buf(),
        env: Default::default(),
        timeout: Duration::from_secs(5),
        max_output_bytes: 1024,
        run_as: user::resolve_as_root("argus-no-such-user", Path::new("/etc/passwd")),
        args: Vec::new(),
    };
    assert!(matches!(settings.run_as, RunAs::Refused(_)));
    let mut input = ScriptInput::with_settings(path, Arc::new(settings));
    let r = gather(&mut input);
    let err = r.error();
    assert!(
        err.starts_with("script ok.sh: not run: user \"argus-no-such-user\""),
        "{err}"
    );
    assert!(err.contains("refusing to run scripts as root"), "{err}");
    assert!(r.points.is_empty());
    assert_eq!(r.events[0].kind, "plugin_error");
}

#[test]
fn scan_picks_up_added_changed_and_removed_scripts() {
    let data = scripts_dir();
    let cfg = ScriptsConfig {
        interval_secs: 30,
        timeout_secs: 5,
        ..config()
    };
    let mut scripts = ScriptDir::build(&cfg, data.path())
        .expect("valid")
        .expect("enabled");
    let dir = data.path().join("plugins.d");
    assert_eq!(scripts.dir(), dir);
    assert!(scripts.scan().is_empty(), "no directory yet");

    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    write_script(&dir, "60_a.sh", "#!/bin/sh\necho 'a v=1i'\n");
    write_script(&dir, "b.py", "#!/usr/bin/env python3\nprint('b v=2i')\n");
    write_script(&dir, ".hidden.sh", "#!/bin/sh\n");
    write_script(&dir, "b.py.toml", "");
    write_script(&dir, "README.md", "");
    write_script(&dir, "b.py~", "");
    std::fs::write(dir.join("c.sh"), "#!/bin/sh\n").expect("not executable");
    std::fs::create_dir(dir.join("sub")).expect("a directory is no script");
    let public = write_script(&dir, "open.sh", "#!/bin/sh\n");
    std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o777)).expect("chmod");

    let changes = scripts.scan();
    let names: Vec<&str> = changes.added.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["script:60_a.sh", "script:b.py"]);
    assert!(changes.removed.is_empty());
    let schedules: Vec<_> = changes.added.iter().map(|p| p.schedule).collect();
    assert_eq!(
        schedules[0].interval,
        Some(Duration::from_secs(60)),
        "from the name"
    );
    assert_eq!(
        schedules[1].interval,
        Some(Duration::from_secs(30)),
        "from the config"
    );
    assert_eq!(
        schedules[0].timeout,
        Some(Duration::from_secs(5) + TIMEOUT_GRACE)
    );
    let mut plugins = changes.added;
    for p in &mut plugins {
        assert_eq!(p.input.name(), p.name);
        let r = gather(p.input.as_mut());
        r.result.as_ref().expect("round");
        assert_eq!(r.points.len(), 1, "{}", p.name);
    }

    assert!(scripts.scan().is_empty(), "nothing changed");

    // A different size: a change is seen even within the file system's timestamp granularity.
    write_script(&dir, "b.py", "#!/usr/bin/env python3\nprint('b v=30i')\n");
    write_script(&dir, "d.sh", "#!/bin/sh\necho 'd v=4i'\n");
    let changes = scripts.scan();
    let added: Vec<&str> = changes.added.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(changes.removed, ["script:b.py"]);
    assert_eq!(added, ["script:b.py", "script:d.sh"]);
    let mut changed = changes.added.into_iter().next().expect("b.py");
    let r = gather(changed.input.as_mut());
    assert_eq!(r.value("b_v"), 30.0, "the new version runs");

    std::fs::remove_file(dir.join("60_a.sh")).expect("rm");
    std::fs::set_permissions(dir.join("d.sh"), std::fs::Permissions::from_mode(0o644))
        .expect("chmod -x");
    let changes = scripts.scan();
    assert!(changes.added.is_empty());
    assert_eq!(changes.removed, ["script:60_a.sh", "script:d.sh"]);

    let disabled = ScriptsConfig {
        enabled: false,
        ..cfg
    };
    assert!(
        ScriptDir::build(&disabled, data.path())
            .expect("valid")
            .is_none()
    );
}

#[test]
fn bad_config_values_are_refused() {
    let data = scripts_dir();
    for (cfg, field) in [
        (
            ScriptsConfig {
                timeout_secs: 0,
                ..config()
            },
            "timeout_secs",
        ),
        (
            ScriptsConfig {
                max_output_bytes: 0,
                ..config()
            },
            "max_output_bytes",
        ),
    ] {
        let err = ScriptDir::new(&cfg, data.path())
            .expect_err("invalid")
            .to_string();
        assert!(err.contains(field), "{err}");
    }
    let mut cfg = config();
    cfg.env.insert("A=B".into(), "x".into());
    assert!(ScriptDir::new(&cfg, data.path()).is_err());
    assert_eq!(
        ScriptsConfig::default().dir_in(Path::new("/var/lib/argus")),
        Path::new("/var/lib/argus/plugins.d")
    );
    let abs = ScriptsConfig {
        dir: "/etc/argus/scripts".into(),
        ..config()
    };
    assert_eq!(
        abs.dir_in(Path::new("/var/lib/argus")),
        Path::new("/etc/argus/scripts")
    );
}

#[test]
fn the_sample_config_is_the_default_and_the_docs_show_it() {
    let json = serde_json::to_value(ScriptsConfig::default()).expect("to JSON");
    let defaults = json.as_object().expect("a table");
    let assigned: Vec<(String, String)> = SAMPLE_CONFIG
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    for (key, value) in defaults {
        if key == "env" {
            assert!(SAMPLE_CONFIG.contains("[agent.scripts.env]"));
            continue;
        }
        let want = serde_json::to_string(value).expect("value");
        let got = assigned
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str());
        assert_eq!(got, Some(want.as_str()), "sample.toml option {key}");
    }
    for (key, _) in &assigned {
        assert!(
            defaults.contains_key(key),
            "sample.toml sets unknown option {key}"
        );
    }
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/plugins/scripts.md");
    let docs = std::fs::read_to_string(docs).expect("docs/plugins/scripts.md");
    assert!(
        docs.contains(SAMPLE_CONFIG.trim_end()),
        "docs/plugins/scripts.md does not show sample.toml verbatim"
    );
}
