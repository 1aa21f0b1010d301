use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;

use argus_core::line_protocol::FieldValue;

use super::*;
use crate::inputs::testcases;

const T0: i64 = 1_700_000_000_000;

fn keyword(name: &str, keyword: &str) -> Rule {
    Rule {
        name: name.into(),
        keyword: Some(keyword.into()),
        ..Rule::default()
    }
}

fn regex(name: &str, regex: &str) -> Rule {
    Rule {
        name: name.into(),
        regex: Some(regex.into()),
        ..Rule::default()
    }
}

/// A config tailing `patterns` under `dir`, with its state in `dir/state`.
fn config(dir: &Path, patterns: &[&str], rules: Vec<Rule>) -> Config {
    Config {
        files: patterns
            .iter()
            .map(|p| dir.join(p).to_string_lossy().into_owned())
            .collect(),
        rules,
        ..Config::default()
    }
}

fn new_log(dir: &Path, config: &Config) -> Log {
    Log::new(config, 0, &dir.join("state")).expect("valid config")
}

fn append(path: &Path, text: &[u8]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for append");
    f.write_all(text).expect("append");
}

/// One gather's values by `"<file relative to dir> <rule> <field>"` (rule `-` for the
/// per-file points).
fn run(log: &mut Log, dir: &Path, now_ms: i64) -> BTreeMap<String, u64> {
    let mut out = Vec::new();
    log.gather(now_ms, &mut out).expect("gather");
    let prefix = format!("{}/", dir.display());
    let mut values = BTreeMap::new();
    for line in &out {
        assert_eq!(line.measurement, "log");
        assert_eq!(line.timestamp, Some(now_ms));
        let tag = |k: &str| {
            line.tags
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.to_string())
        };
        let file = tag("file").expect("file tag");
        let file = file.strip_prefix(&prefix).unwrap_or(&file).to_string();
        let rule = tag("rule").unwrap_or_else(|| "-".into());
        for (field, value) in &line.fields {
            let FieldValue::UInt(n) = value else {
                panic!("{field}: {value:?} is not a counter");
            };
            let previous = values.insert(format!("{file} {rule} {field}"), *n);
            assert_eq!(previous, None, "{file} {rule} {field} reported twice");
        }
    }
    values
}

/// The events raised since the last call, as (rule, line).
fn events(log: &mut Log) -> Vec<(String, String)> {
    let mut out = Vec::new();
    log.drain_events(&mut out);
    out.iter()
        .map(|e| {
            let s = |k: &str| e.payload[k].as_str().unwrap_or("").to_string();
            (s("rule"), s("line"))
        })
        .collect()
}

fn lines_of(events: &[(String, String)]) -> Vec<&str> {
    events.iter().map(|(_, l)| l.as_str()).collect()
}

#[test]
fn keyword_and_regex_rules_count_matching_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app.log");
    append(
        &app,
        b"INFO start\nERROR disk full\nwarn: Out of memory: killed process 12\n\
          error: retry\nan errorless line\nOut of memory again, ERROR\n",
    );
    let mut c = config(
        dir.path(),
        &["app.log"],
        vec![
            keyword("oom", "Out of memory"),
            regex("error", r"(?i)\berror\b"),
        ],
    );
    c.from_beginning = true;
    let mut log = new_log(dir.path(), &c);
    let v = run(&mut log, dir.path(), T0);
    let want: BTreeMap<String, u64> = [
        ("app.log oom matches", 2),
        ("app.log error matches", 3),
        ("app.log - lines", 6),
        ("app.log - events_dropped", 0),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(v, want);

    // Counters go on; nothing new reads nothing.
    append(&app, b"Out of memory\nfine\n");
    let v = run(&mut log, dir.path(), T0 + 10_000);
    assert_eq!(v["app.log oom matches"], 3);
    assert_eq!(v["app.log error matches"], 3);
    assert_eq!(v["app.log - lines"], 8);
    assert_eq!(run(&mut log, dir.path(), T0 + 20_000), v);
}

#[test]
fn events_carry_instance_file_rule_line_and_level() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app.log");
    let mut oom = keyword("oom", "Out of memory");
    oom.level = Some("critical".into());
    let mut quiet = keyword("quiet", "Out");
    quiet.event = false;
    let mut c = config(
        dir.path(),
        &["app.log"],
        vec![oom, quiet, keyword("kill", "kill")],
    );
    c.name = "kernel".into();
    let mut log = new_log(dir.path(), &c);
    run(&mut log, dir.path(), T0);
    append(&app, b"Out of memory: kill process 12\n");
    run(&mut log, dir.path(), T0 + 10_000);
    let mut out = Vec::new();
    log.drain_events(&mut out);
    let got: Vec<serde_json::Value> = out
        .iter()
        .map(|e| serde_json::to_value(e).expect("json"))
        .collect();
    let file = app.to_string_lossy();
    let line = "Out of memory: kill process 12";
    assert_eq!(
        got,
        [
            serde_json::json!({"type": "log", "host": "", "ts": T0 + 10_000,
                "instance": "kernel", "file": file, "rule": "oom", "line": line,
                "level": "critical"}),
            serde_json::json!({"type": "log", "host": "", "ts": T0 + 10_000,
                "instance": "kernel", "file": file, "rule": "kill", "line": line}),
        ]
    );
    // Drained means gone.
    assert!(events(&mut log).is_empty());
}

#[test]
fn points_carry_the_instance_tag_when_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    append(&dir.path().join("app.log"), b"x\n");
    let mut c = config(dir.path(), &["app.log"], vec![keyword("x", "x")]);
    c.name = "web".into();
    c.from_beginning = true;
    let mut log = new_log(dir.path(), &c);
    let mut out = Vec::new();
    log.gather(T0, &mut out).expect("gather");
    let file = dir.path().join("app.log").to_string_lossy().into_owned();
    let text = testcases::render(&out);
    let file = file.replace(' ', "\\ ");
    assert_eq!(
        text,
        format!(
            "log,instance=web,file={file},rule=x matches=1u {T0}\n\
             log,instance=web,file={file} lines=1u,events_dropped=0u {T0}\n"
        )
    );
}

#[test]
fn a_partial_line_waits_for_its_newline_then_two_runs_at_most() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app.log");
    append(&app, b"");
    let c = config(dir.path(), &["app.log"], vec![keyword("error", "ERROR")]);
    let mut log = new_log(dir.path(), &c);
    run(&mut log, dir.path(), T0);

    append(&app, b"first ERROR\npartial ERR");
    let v = run(&mut log, dir.path(), T0 + 1);
    assert_eq!((v["app.log - lines"], v["app.log error matches"]), (1, 1));
    append(&app, b"OR done\n");
    let v = run(&mut log, dir.path(), T0 + 2);
    assert_eq!((v["app.log - lines"], v["app.log error matches"]), (2, 2));
    assert_eq!(
        lines_of(&events(&mut log)),
        ["first ERROR", "partial ERROR done"]
    );

    // A writer that never ends its line: the line is taken at the third run.
    append(&app, b"no newline ERROR");
    assert_eq!(run(&mut log, dir.path(), T0 + 3)["app.log - lines"], 2);
    assert_eq!(run(&mut log, dir.path(), T0 + 4)["app.log - lines"], 2);
    assert_eq!(run(&mut log, dir.path(), T0 + 5)["app.log - lines"], 3);
    assert_eq!(lines_of(&events(&mut log)), ["no newline ERROR"]);
    assert_eq!(run(&mut log, dir.path(), T0 + 6)["app.log - lines"], 3);
}

#[test]
fn rotation_by_rename_loses_and_doubles_no_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app.log");
    // The application's handle: it keeps writing to the old file until it reopens.
    let mut writer = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&app)
        .expect("open");
    let c = config(dir.path(), &["*.log"], vec![keyword("line", "line")]);
    let mut log = new_log(dir.path(), &c);
    run(&mut log, dir.path(), T0);
    writer
        .write_all(b"line 1\nline 2\nline 3\n")
        .expect("write");
    assert_eq!(run(&mut log, dir.path(), T0 + 1)["app.log - lines"], 3);

    writer.write_all(b"line 4\n").expect("write");
    std::fs::rename(&app, dir.path().join("app.log.1")).expect("rotate");
    writer.write_all(b"line 5\n").expect("write");
    append(&app, b"line 6\nline 7\n");
    let v = run(&mut log, dir.path(), T0 + 2);
    assert_eq!(v["app.log - lines"], 7);
    assert_eq!(v["app.log line matches"], 7);
    let seen = events(&mut log);
    assert_eq!(
        lines_of(&seen),
        [
            "line 1", "line 2", "line 3", "line 4", "line 5", "line 6", "line 7"
        ]
    );

    // A late write to the rotated file, before the application reopened its log, is
    // still read: the old file is kept one run after its last bytes.
    writer.write_all(b"line 8\n").expect("write");
    assert_eq!(run(&mut log, dir.path(), T0 + 3)["app.log - lines"], 8);
    assert_eq!(run(&mut log, dir.path(), T0 + 4)["app.log - lines"], 8);
    assert_eq!(log.tails.len(), 1, "the rotated file is let go");
    writer.write_all(b"line 9, too late\n").expect("write");
    append(&app, b"line 10\n");
    let v = run(&mut log, dir.path(), T0 + 5);
    assert_eq!(v["app.log - lines"], 9);
    assert_eq!(lines_of(&events(&mut log)), ["line 8", "line 10"]);
}

#[test]
fn rotation_to_a_name_the_glob_also_matches_follows_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app.log");
    let mut writer = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&app)
        .expect("open");
    let c = config(dir.path(), &["app.log*"], vec![keyword("line", "line")]);
    let mut log = new_log(dir.path(), &c);
    run(&mut log, dir.path(), T0);
    writer.write_all(b"line 1\nline 2\n").expect("write");
    run(&mut log, dir.path(), T0 + 1);
    std::fs::rename(&app, dir.path().join("app.log.1")).expect("rotate");
    writer.write_all(b"line 3\n").expect("write");
    append(&app, b"line 4\n");
    let v = run(&mut log, dir.path(), T0 + 2);
    // The old file's lines now count under its new name.
    assert_eq!(v["app.log - lines"], 3);
    assert_eq!(v["app.log.1 - lines"], 1);
    let mut seen = lines_of(&events(&mut log))
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    seen.sort();
    assert_eq!(seen, ["line 1", "line 2", "line 3", "line 4"]);
}

#[test]
fn copytruncate_starts_over_from_the_beginning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app.log");
    append(&app, b"");
    let c = config(dir.path(), &["app.log"], vec![keyword("line", "line")]);
    let mut log = new_log(dir.path(), &c);
    run(&mut log, dir.path(), T0);
    append(&app, b"line 1\nline 2\nline 3\n");
    assert_eq!(run(&mut log, dir.path(), T0 + 1)["app.log - lines"], 3);

    std::fs::copy(&app, dir.path().join("app.log.1")).expect("copy");
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&app)
        .expect("truncate");
    append(&app, b"line 4\n");
    let v = run(&mut log, dir.path(), T0 + 2);
    assert_eq!(v["app.log - lines"], 4);
    assert_eq!(
        lines_of(&events(&mut log)),
        ["line 1", "line 2", "line 3", "line 4"]
    );
}

#[test]
fn a_restart_resumes_from_the_saved_offset_with_its_counters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app.log");
    append(&app, b"old ERROR, before the agent\n");
    let c = config(dir.path(), &["app.log"], vec![keyword("error", "ERROR")]);

    let mut log = new_log(dir.path(), &c);
    // Not from_beginning: what was there before is skipped.
    assert_eq!(run(&mut log, dir.path(), T0)["app.log - lines"], 0);
    append(&app, b"one ERROR\ntwo\npartial ERR");
    let v = run(&mut log, dir.path(), T0 + 1);
    assert_eq!((v["app.log - lines"], v["app.log error matches"]), (2, 1));
    assert_eq!(lines_of(&events(&mut log)), ["one ERROR"]);
    drop(log);

    // While the agent is down.
    append(&app, b"OR\nthree ERROR\n");
    let mut log = new_log(dir.path(), &c);
    let v = run(&mut log, dir.path(), T0 + 2);
    assert_eq!((v["app.log - lines"], v["app.log error matches"]), (4, 3));
    assert_eq!(
        lines_of(&events(&mut log)),
        ["partial ERROR", "three ERROR"]
    );
}

#[test]
fn an_instance_built_during_a_reload_takes_over_the_last_saved_offsets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app.log");
    append(&app, b"");
    let c = config(dir.path(), &["app.log"], vec![keyword("line", "line")]);
    let mut old = new_log(dir.path(), &c);
    run(&mut old, dir.path(), T0);
    append(&app, b"line 1\n");
    run(&mut old, dir.path(), T0 + 1);
    // The replacement is built first, then the old instance runs once more and stops.
    let mut new = new_log(dir.path(), &c);
    append(&app, b"line 2\n");
    run(&mut old, dir.path(), T0 + 2);
    drop(old);
    append(&app, b"line 3\n");
    let v = run(&mut new, dir.path(), T0 + 3);
    assert_eq!(v["app.log - lines"], 3);
    assert_eq!(lines_of(&events(&mut new)), ["line 3"]);
}

#[test]
fn a_file_replaced_while_down_is_read_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app.log");
    append(&app, b"");
    let c = config(dir.path(), &["*.log"], vec![keyword("line", "line")]);
    let mut log = new_log(dir.path(), &c);
    run(&mut log, dir.path(), T0);
    append(&app, b"line 1\n");
    run(&mut log, dir.path(), T0 + 1);
    drop(log);

    // Rotated to a name the glob does not match: its rest is lost, the new file is new.
    append(&app, b"line 2, lost\n");
    std::fs::rename(&app, dir.path().join("app.log.1")).expect("rotate");
    append(&app, b"line 3\nline 4\n");
    let mut log = new_log(dir.path(), &c);
    let v = run(&mut log, dir.path(), T0 + 2);
    assert_eq!(v["app.log - lines"], 3);
    assert_eq!(lines_of(&events(&mut log)), ["line 3", "line 4"]);
}

#[test]
fn a_file_renamed_while_down_to_a_matching_name_is_resumed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app.log");
    append(&app, b"");
    let c = config(dir.path(), &["app.log*"], vec![keyword("line", "line")]);
    let mut log = new_log(dir.path(), &c);
    run(&mut log, dir.path(), T0);
    append(&app, b"line 1\n");
    run(&mut log, dir.path(), T0 + 1);
    drop(log);

    append(&app, b"line 2\n");
    std::fs::rename(&app, dir.path().join("app.log.1")).expect("rotate");
    append(&app, b"line 3\n");
    let mut log = new_log(dir.path(), &c);
    let v = run(&mut log, dir.path(), T0 + 2);
    assert_eq!(v["app.log - lines"], 2);
    assert_eq!(v["app.log.1 - lines"], 1);
    let mut seen: Vec<String> = lines_of(&events(&mut log))
        .into_iter()
        .map(String::from)
        .collect();
    seen.sort();
    assert_eq!(seen, ["line 2", "line 3"]);
}

#[test]
fn files_found_at_start_are_read_from_their_end_unless_from_beginning() {
    let dir = tempfile::tempdir().expect("tempdir");
    append(&dir.path().join("app.log"), b"a\nb\n");
    let mut c = config(dir.path(), &["app.log"], vec![]);
    let mut log = new_log(dir.path(), &c);
    assert_eq!(run(&mut log, dir.path(), T0)["app.log - lines"], 0);
    c.from_beginning = true;
    c.state_file = dir.path().join("other.json");
    let mut log = new_log(dir.path(), &c);
    assert_eq!(run(&mut log, dir.path(), T0)["app.log - lines"], 2);
}

#[test]
fn globs_pick_up_files_created_later_at_any_depth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = config(dir.path(), &["logs/**/*.log"], vec![keyword("x", "x")]);
    let mut log = new_log(dir.path(), &c);
    assert!(run(&mut log, dir.path(), T0).is_empty());

    std::fs::create_dir_all(dir.path().join("logs/a/b")).expect("mkdir");
    append(&dir.path().join("logs/a/b/deep.log"), b"x1\nx2\n");
    append(&dir.path().join("logs/top.log"), b"x3\n");
    append(&dir.path().join("logs/notes.txt"), b"x4\n");
    std::fs::create_dir_all(dir.path().join("logs/dir.log")).expect("mkdir");
    let v = run(&mut log, dir.path(), T0 + 1);
    assert_eq!(v["logs/a/b/deep.log x matches"], 2);
    assert_eq!(v["logs/top.log x matches"], 1);
    assert_eq!(v.len(), 2 * 3, "{v:?}");
}

#[test]
fn a_file_matched_twice_is_read_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    append(&dir.path().join("app.log"), b"x\n");
    std::fs::hard_link(dir.path().join("app.log"), dir.path().join("link.log")).expect("link");
    let mut c = config(dir.path(), &["app.log", "*.log"], vec![]);
    c.from_beginning = true;
    let mut log = new_log(dir.path(), &c);
    let v = run(&mut log, dir.path(), T0);
    assert_eq!(
        v.keys().collect::<Vec<_>>(),
        ["app.log - events_dropped", "app.log - lines"]
    );
    assert_eq!(v["app.log - lines"], 1);
}

#[test]
fn the_rate_limit_drops_and_counts_events_per_minute() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app.log");
    append(&app, b"");
    let mut c = config(dir.path(), &["app.log"], vec![keyword("hit", "hit")]);
    c.max_events_per_minute = 3;
    let mut log = new_log(dir.path(), &c);
    run(&mut log, dir.path(), T0);

    append(&app, b"hit 1\nhit 2\nhit 3\nhit 4\nhit 5\n");
    let v = run(&mut log, dir.path(), T0 + 1_000);
    assert_eq!(v["app.log - events_dropped"], 2);
    assert_eq!(v["app.log hit matches"], 5);
    assert_eq!(lines_of(&events(&mut log)), ["hit 1", "hit 2", "hit 3"]);

    append(&app, b"hit 6\nhit 7\n");
    let v = run(&mut log, dir.path(), T0 + 31_000);
    assert_eq!(v["app.log - events_dropped"], 4);
    assert!(events(&mut log).is_empty());

    // A new minute.
    append(&app, b"hit 8\nhit 9\n");
    let v = run(&mut log, dir.path(), T0 + 61_000);
    assert_eq!(v["app.log - events_dropped"], 4);
    assert_eq!(v["app.log hit matches"], 9);
    assert_eq!(lines_of(&events(&mut log)), ["hit 8", "hit 9"]);
}

#[test]
fn events_nobody_drains_are_capped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app.log");
    append(&app, b"");
    let mut c = config(dir.path(), &["app.log"], vec![keyword("hit", "hit")]);
    c.max_events_per_minute = 2;
    let mut log = new_log(dir.path(), &c);
    run(&mut log, dir.path(), T0);
    for minute in 1..=3 {
        append(&app, b"hit\n");
        run(&mut log, dir.path(), T0 + minute * 60_000);
    }
    let v = run(&mut log, dir.path(), T0 + 4 * 60_000);
    assert_eq!(v["app.log - events_dropped"], 1);
    assert_eq!(events(&mut log).len(), 2);
}

#[test]
fn long_lines_are_cut_and_bad_utf8_and_crlf_are_handled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app.log");
    append(&app, b"");
    let mut c = config(dir.path(), &["app.log"], vec![regex("all", "^")]);
    c.max_line_bytes = 8;
    let mut log = new_log(dir.path(), &c);
    run(&mut log, dir.path(), T0);

    append(&app, b"0123456789ERROR\nab\xffc\r\nabcdefghijk");
    run(&mut log, dir.path(), T0 + 1);
    append(&app, b"lmn\r\nend\n");
    let v = run(&mut log, dir.path(), T0 + 2);
    assert_eq!(v["app.log - lines"], 4);
    assert_eq!(
        lines_of(&events(&mut log)),
        ["01234567", "ab\u{fffd}c", "abcdefgh", "end"]
    );
}

#[test]
fn a_large_backlog_is_read_over_several_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app.log");
    let backlog: String = (0..50).map(|i| format!("line {i:04}\n")).collect();
    append(&app, backlog.as_bytes());
    let mut c = config(dir.path(), &["app.log"], vec![keyword("line", "line ")]);
    c.from_beginning = true;
    c.max_events_per_minute = 1000;
    let mut log = new_log(dir.path(), &c);
    // 95 bytes a run: 9.5 lines of 10 bytes, so runs end inside a line.
    log.read_budget = 95;
    let mut per_run = Vec::new();
    for run_index in 0..7 {
        per_run.push(run(&mut log, dir.path(), T0 + run_index)["app.log - lines"]);
    }
    assert_eq!(per_run, [9, 19, 28, 38, 47, 50, 50]);
    let seen = events(&mut log);
    let want: Vec<String> = (0..50).map(|i| format!("line {i:04}")).collect();
    assert_eq!(lines_of(&seen), want);
}

#[test]
fn deleted_files_are_reported_once_more_then_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app.log");
    append(&app, b"");
    let c = config(dir.path(), &["*.log"], vec![]);
    let mut log = new_log(dir.path(), &c);
    run(&mut log, dir.path(), T0);
    append(&app, b"a\nb\n");
    std::fs::remove_file(&app).expect("delete");
    // The deleted file's last lines are still read through the open handle.
    assert_eq!(run(&mut log, dir.path(), T0 + 1)["app.log - lines"], 2);
    assert_eq!(run(&mut log, dir.path(), T0 + 2)["app.log - lines"], 2);
    assert!(run(&mut log, dir.path(), T0 + 3).is_empty());
    assert!(log.tails.is_empty());
}

#[test]
fn the_state_file_is_replaced_atomically_and_holds_offsets_and_counters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app.log");
    append(&app, b"");
    let mut c = config(dir.path(), &["app.log"], vec![keyword("e", "E")]);
    c.name = "web".into();
    let mut log = new_log(dir.path(), &c);
    run(&mut log, dir.path(), T0);
    append(&app, b"E1\nE2\nx\npartial");
    run(&mut log, dir.path(), T0 + 1);

    let state_dir = dir.path().join("state/log-offsets");
    let names: Vec<String> = std::fs::read_dir(&state_dir)
        .expect("state dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["web.json"], "no temporary file is left behind");
    let saved = state::load(&state_dir.join("web.json")).expect("state");
    let meta = std::fs::metadata(&app).expect("meta");
    let file = app.to_string_lossy().into_owned();
    let want = SavedFile {
        dev: FileId::of(&meta).dev,
        ino: FileId::of(&meta).ino,
        // The partial line is read again after a restart.
        offset: "E1\nE2\nx\n".len() as u64,
        lines: 3,
        events_dropped: 0,
        matches: [("e".to_string(), 2)].into_iter().collect(),
    };
    assert_eq!(saved.files, [(file, want)].into_iter().collect());
}

#[test]
fn an_unreadable_state_file_is_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app.log");
    append(&app, b"a\n");
    let mut c = config(dir.path(), &["app.log"], vec![]);
    c.state_file = "broken.json".into();
    std::fs::create_dir_all(dir.path().join("state")).expect("mkdir");
    std::fs::write(
        dir.path().join("state/broken.json"),
        b"{\"version\": 1, \"fi",
    )
    .expect("write");
    let mut log = new_log(dir.path(), &c);
    append(&app, b"b\n");
    // As on a first start: from the end.
    assert_eq!(run(&mut log, dir.path(), T0)["app.log - lines"], 0);
    append(&app, b"c\n");
    assert_eq!(run(&mut log, dir.path(), T0 + 1)["app.log - lines"], 1);
    let saved = state::load(&dir.path().join("state/broken.json")).expect("rewritten");
    assert_eq!(saved.files.len(), 1);
}

#[test]
fn bad_options_are_rejected_naming_the_key() {
    let dir = Path::new("/nonexistent");
    let check = |c: Config| {
        Log::new(&c, 3, dir)
            .map(|_| ())
            .map_err(|e| (e.key.clone(), e.to_string()))
    };
    let ok = config(dir, &["*.log"], vec![keyword("a", "a")]);
    assert_eq!(check(ok.clone()), Ok(()));

    let mut both = keyword("a", "a");
    both.regex = Some("a".into());
    let cases: Vec<(Config, &str, &str)> = vec![
        (
            Config {
                files: vec![],
                ..ok.clone()
            },
            "files",
            "at least one",
        ),
        (
            Config {
                files: vec!["[".into()],
                ..ok.clone()
            },
            "files",
            "\"[\"",
        ),
        (
            Config {
                name: "../x".into(),
                ..ok.clone()
            },
            "name",
            "\"../x\"",
        ),
        (
            Config {
                max_events_per_minute: 0,
                ..ok.clone()
            },
            "max_events_per_minute",
            "at least 1",
        ),
        (
            Config {
                max_line_bytes: 0,
                ..ok.clone()
            },
            "max_line_bytes",
            "at least 1",
        ),
        (
            Config {
                rules: vec![both],
                ..ok.clone()
            },
            "rules[0].keyword",
            "not both",
        ),
        (
            Config {
                rules: vec![Rule {
                    name: "a".into(),
                    ..Rule::default()
                }],
                ..ok.clone()
            },
            "rules[0].keyword",
            "non-empty",
        ),
        (
            Config {
                rules: vec![keyword("a", "a"), regex("b", "(")],
                ..ok.clone()
            },
            "rules[1].regex",
            "unclosed group",
        ),
        (
            Config {
                rules: vec![keyword("a", "a"), keyword("a", "b")],
                ..ok.clone()
            },
            "rules[1].name",
            "earlier rule",
        ),
        (
            Config {
                rules: vec![keyword("", "a")],
                ..ok.clone()
            },
            "rules[0].name",
            "needs a name",
        ),
    ];
    for (c, key, text) in cases {
        let (got_key, message) = check(c).expect_err(key);
        assert_eq!(got_key, key, "{message}");
        assert!(message.contains(text), "{message}");
        // A named instance is named by its name, even a bad one.
        let instance = if key == "name" { "../x" } else { "3" };
        let head = format!("agent.inputs.log instance {instance}: key {key}: ");
        assert!(message.starts_with(&head), "{message}");
    }
}

#[test]
fn plugins_are_named_by_name_or_position_and_names_are_unique() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = config(dir.path(), &["*.log"], vec![]);
    let named = Config {
        name: "web".into(),
        interval_secs: 5,
        ..base.clone()
    };
    let disabled = Config {
        enabled: false,
        ..base.clone()
    };
    let built = plugins(&[named, base.clone(), disabled], dir.path()).expect("build");
    let names: Vec<&str> = built.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["log:web", "log:1"]);
    assert_eq!(built[0].schedule, Schedule::from_secs(5, 0));
    assert!(built.iter().all(|p| p.input.name() == "log"));

    let clash = Config {
        name: "1".into(),
        ..base.clone()
    };
    let err = plugins(&[clash, base], dir.path())
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("agent.inputs.log instance 1: key name: another instance has this name (or position)")
    );
}

/// The sample is commented out (the default config has no instance); uncommented, it is a
/// working instance that shows every option, and those other than the example's files and
/// rules are at their defaults.
#[test]
fn sample_config_is_a_commented_out_working_example() {
    let sample: Config = testcases::assert_instance_sample(SAMPLE_CONFIG, "log");
    let dir = tempfile::tempdir().expect("tempdir");
    Log::new(&sample, 0, dir.path()).expect("the sample builds");
    let with_defaults = Config {
        name: sample.name.clone(),
        files: sample.files.clone(),
        rules: sample.rules.clone(),
        ..Config::default()
    };
    assert_eq!(
        sample, with_defaults,
        "non-example options are at their defaults"
    );

    // Between them, the example rules show every rule option.
    let keys = |rule: &Rule| -> Vec<String> {
        let json = serde_json::to_value(rule).expect("json");
        json.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    let shown: Vec<String> = sample.rules.iter().flat_map(keys).collect();
    let every = Rule {
        keyword: Some("k".into()),
        regex: Some("r".into()),
        level: Some("l".into()),
        ..Rule::default()
    };
    for key in keys(&every) {
        assert!(
            shown.contains(&key),
            "rule option {key} is not in the sample"
        );
    }
}

#[test]
fn readme_documents_sample_and_every_series() {
    testcases::assert_readme_documents("log", SAMPLE_CONFIG);
}

/// A fixture case: `files` in `config.json` are relative to the case folder, and so are
/// the `file` tags in `expected.out`; the state goes to a temporary directory.
struct Case {
    log: Log,
    prefix: String,
    _state: tempfile::TempDir,
}

impl Input for Case {
    fn name(&self) -> &str {
        self.log.name()
    }

    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
        let start = out.len();
        self.log.gather(now_ms, out)?;
        for line in &mut out[start..] {
            for (k, v) in &mut line.tags {
                if k == "file"
                    && let Some(rest) = v.strip_prefix(self.prefix.as_str())
                {
                    *v = rest.to_string().into();
                }
            }
        }
        Ok(())
    }
}

#[test]
fn fixture_cases() {
    testcases::run("log", fixture_input);
}

/// This input's part of the registry-wide test of first gathers: nothing needs two (the
/// counters are counters, and a restarted agent resumes them from its state file).
pub(crate) fn first_gathers() {
    let live = testcases::Live::default();
    testcases::check_first_gathers("log", "named_instance_two_rules", &live, &[], fixture_input);
}

fn fixture_input(mut config: Config, case: &Path) -> anyhow::Result<Box<dyn Input>> {
    let prefix = format!("{}/", case.display());
    config.files = config
        .files
        .iter()
        .map(|f| format!("{prefix}{f}"))
        .collect();
    let state = tempfile::tempdir()?;
    let log = Log::new(&config, 0, state.path())?;
    Ok(Box::new(Case {
        log,
        prefix,
        _state: state,
    }))
}

#[test]
fn rules_see_whole_lines_in_any_chunk_layout() {
    // Lines that straddle the 64 KiB chunk boundary come out whole.
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app.log");
    let line = format!("{}MARK\n", "x".repeat(1000));
    let text = line.repeat(200);
    append(&app, text.as_bytes());
    let mut c = config(dir.path(), &["app.log"], vec![keyword("mark", "xMARK")]);
    c.from_beginning = true;
    let mut log = new_log(dir.path(), &c);
    let v = run(&mut log, dir.path(), T0);
    assert_eq!(
        (v["app.log - lines"], v["app.log mark matches"]),
        (200, 200)
    );
}
