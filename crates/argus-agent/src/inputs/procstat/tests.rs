use std::path::Path;

use super::*;
use crate::inputs::testcases::{self, NOW_MS, field, tag_of};

/// The shared fixture host: `testdata/host/` (`proc/`, `etc/passwd`, `run/nginx.pid`).
fn host() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/inputs/procstat/testdata/host")
}

fn on_fixture(mut config: Config) -> anyhow::Result<Procstat> {
    config.procfs_root = host().join("proc");
    config.passwd_path = host().join("etc/passwd");
    let mut procstat = Procstat::new(&config)?;
    // USER_HZ is 100 on every Linux architecture but the fixture should not depend on it.
    procstat.ticks_per_second = 100.0;
    Ok(procstat)
}

/// The input for a case: on the case's own `proc/` if it has one, else on `host`.
fn fixture_input(config: Config, case: &Path) -> anyhow::Result<Box<dyn Input>> {
    let mut procstat = on_fixture(config)?;
    if case.join("proc").is_dir() {
        procstat.root = case.join("proc");
    }
    Ok(Box::new(procstat))
}

/// `host` has nginx (a root master, 100, and two www-data workers, 101 and 102; 101's
/// `fd/` is unreadable, as another user's is without privilege), postgres (200, a UID
/// the passwd file lacks), kube-controller-manager (300, a name longer than the kernel's
/// 15 bytes), a kernel thread (2, no memory lines) and a PID directory without `stat`
/// (500, exited after the listing). Each case selects differently. `cpu_usage` has its
/// own nginx processes, read twice: 100 and 102 used 0.75 s and 2 s of CPU time in the
/// 10 s between the readings, and PID 101 was another process at the first one.
#[test]
fn fixture_cases() {
    testcases::run("procstat", fixture_input);
}

/// This input's part of the registry-wide test of first gathers: `cpu_usage` needs two.
pub(crate) fn first_gathers() {
    testcases::check_first_gathers(
        "procstat",
        "cpu_usage",
        &testcases::Live::default(),
        &["procstat_cpu_usage"],
        fixture_input,
    );
}

fn gather(procstat: &mut Procstat, now_ms: i64) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    procstat.gather(now_ms, &mut out).expect("gather");
    out
}

/// `cpu_usage` is the CPU time a process used since the previous gather over the wall
/// time between the two: here 75 ticks (0.75 s) in 1.5 s, 50 %.
#[test]
fn cpu_usage_compares_two_gathers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let proc_dir = dir.path().join("proc/100");
    std::fs::create_dir_all(&proc_dir).expect("mkdir");
    for file in ["stat", "status", "cmdline"] {
        std::fs::copy(host().join("proc/100").join(file), proc_dir.join(file)).expect("copy");
    }
    let mut procstat = Procstat::new(&Config {
        exe: "nginx".into(),
        procfs_root: dir.path().join("proc"),
        passwd_path: host().join("etc/passwd"),
        ..Config::default()
    })
    .expect("new");
    procstat.ticks_per_second = 100.0;

    let first = gather(&mut procstat, NOW_MS);
    assert_eq!(
        field(&first[0], "cpu_usage"),
        None,
        "no usage before a second gather"
    );
    assert_eq!(field(&first[0], "cpu_time_user"), Some(2.5));

    let stat = std::fs::read_to_string(proc_dir.join("stat")).expect("stat");
    std::fs::write(
        proc_dir.join("stat"),
        stat.replace(" 250 120 ", " 300 145 "),
    )
    .expect("write");
    let second = gather(&mut procstat, NOW_MS + 1500);
    assert_eq!(field(&second[0], "cpu_usage"), Some(50.0));
    assert_eq!(field(&second[0], "cpu_time_system"), Some(1.45));
    // Every series the input can emit shows up here: the README must name them.
    testcases::assert_readme_documents_output(
        "procstat",
        SAMPLE_CONFIG,
        &testcases::render(&second),
    );

    // The same PID with another start time is another process: no usage across them.
    let stat = std::fs::read_to_string(proc_dir.join("stat")).expect("stat");
    std::fs::write(proc_dir.join("stat"), stat.replace(" 5000 ", " 9000 ")).expect("write");
    let third = gather(&mut procstat, NOW_MS + 3000);
    assert_eq!(field(&third[0], "cpu_usage"), None);
}

#[test]
fn sample_config_is_a_complete_example() {
    let example: Config = testcases::assert_instance_sample(SAMPLE_CONFIG, "procstat");
    assert_eq!(example.exe, "^nginx$");
    assert_eq!(example.procfs_root, Config::default().procfs_root);
    assert_eq!(example.passwd_path, Config::default().passwd_path);
    Procstat::new(&example).expect("the example builds");
}

#[test]
fn readme_documents_sample_and_every_series() {
    testcases::assert_readme_documents("procstat", SAMPLE_CONFIG);
}

#[test]
fn a_selection_needs_a_criterion_and_valid_patterns() {
    let err = Procstat::new(&Config::default()).expect_err("no criterion");
    assert_eq!(
        err.to_string(),
        "set at least one of exe, pattern, user and pid_file"
    );
    let err = Procstat::new(&Config {
        pattern: "(unclosed".into(),
        ..Config::default()
    })
    .expect_err("bad regex");
    assert!(err.to_string().starts_with("pattern: "), "{err}");
}

#[test]
fn stat_and_status_lines() {
    let stat = "7 (a) b) c) R 1 1 1 0 -1 0 0 0 0 0 11 12 0 0 20 0 3 0 99 0 0";
    let p = parse_stat(stat).expect("stat");
    assert_eq!(
        (p.name.as_str(), p.utime, p.stime, p.starttime),
        ("a) b) c", 11, 12, 99)
    );
    assert_eq!(parse_stat("7 (a) R 1 1"), None);
    assert_eq!(parse_stat("7 (a"), None);
    assert_eq!(parse_stat(""), None);

    let mut p = Process::default();
    parse_status(
        "Uid:\t1000\t0\t0\t0\nThreads:\t4\nVmRSS:\t 100 kB\nVmSize: x kB\n",
        &mut p,
    );
    assert_eq!(
        (p.uid, p.threads, p.rss_bytes, p.vms_bytes),
        (Some(1000), Some(4), Some(102_400), None)
    );
    let mut p = Process::default();
    parse_status("garbage\n:\nUid:\n", &mut p);
    assert_eq!(p, Process::default());

    assert_eq!(
        parse_passwd("root:x:0:0::/:/bin/sh\ntoor:x:0:0::/:/bin/sh\nbad\nx:y:z\n"),
        HashMap::from([(0, "root".to_string())])
    );
    assert_eq!(command_line("a\0b c\0d\0"), "a b c d");
}

/// This test's own process, found through a PID file, against what the `procfs` crate
/// reads for it.
#[test]
fn real_proc_reports_this_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("test.pid");
    std::fs::write(&pid_file, format!("{}\n", std::process::id())).expect("write");
    let mut procstat = Procstat::new(&Config {
        pid_file: pid_file.clone(),
        ..Config::default()
    })
    .expect("new");
    let me = procfs::process::Process::myself().expect("myself");
    let stat = me.stat().expect("stat");
    let out = gather(&mut procstat, 1);

    assert_eq!(out.len(), 2, "{out:?}");
    let p = &out[0];
    assert_eq!(p.measurement, "procstat");
    assert_eq!(
        tag_of(p, "pid"),
        Some(std::process::id().to_string().as_str())
    );
    assert_eq!(
        tag_of(p, "pidfile"),
        Some(pid_file.display().to_string().as_str())
    );
    let name = tag_of(p, "process_name").expect("process_name");
    assert!(name.starts_with(&stat.comm), "{name} vs {}", stat.comm);
    let uid = me.uid().expect("uid");
    let user = tag_of(p, "user").expect("user");
    if uid == 0 {
        assert_eq!(user, "root");
    }
    // Memory moves while the tests run; within a factor of two is the same process.
    let rss = field(p, "memory_rss").expect("memory_rss");
    let reference = (stat.rss * procfs::page_size()) as f64;
    assert!(
        rss > reference / 2.0 && rss < reference * 2.0,
        "{rss} vs {reference}"
    );
    assert!(field(p, "num_threads").expect("num_threads") >= 1.0);
    assert!(field(p, "num_fds").expect("our own fds are readable") >= 3.0);

    let lookup = &out[1];
    assert_eq!(lookup.measurement, "procstat_lookup");
    assert_eq!(field(lookup, "pid_count"), Some(1.0));
    assert_eq!(field(lookup, "running"), Some(1.0));
    assert_eq!(field(lookup, "result_code"), Some(0.0));
}

/// Files with absurd numbers or no shape at all skip the process, never panic.
#[test]
fn garbage_proc_files_do_not_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let max = u64::MAX;
    let files = [
        (
            "1/stat",
            format!("1 (x) R{}\n", format!(" {max}").repeat(30)),
        ),
        (
            "1/status",
            format!("Uid: {max}\nVmRSS: {max} kB\nThreads: {max}\n"),
        ),
        ("2/stat", "\u{0}\u{ff}):: x\n\n-1 -1".to_string()),
        ("2/status", "\u{0}\u{ff}):: x\n\n-1 -1".to_string()),
        ("3/stat", ")(".to_string()),
    ];
    for (name, content) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }
    let mut procstat = Procstat::new(&Config {
        pattern: ".*".into(),
        procfs_root: dir.path().into(),
        ..Config::default()
    })
    .expect("new");
    let first = gather(&mut procstat, 0);
    let second = gather(&mut procstat, 1000);
    assert_eq!(field(first.last().expect("lookup"), "pid_count"), Some(1.0));
    assert_eq!(field(&second[0], "memory_rss"), Some(u64::MAX as f64));
    assert_eq!(field(&second[0], "cpu_usage"), Some(0.0));
}
