use super::*;
use crate::inputs::testcases;

testcases::table_input_tests!(
    /// `busy_host` has 17 processes in every state, one whose name holds `) S `, a pid
    /// directory without `stat` (exited after the listing), a truncated `stat` (torn down
    /// mid-read) and non-pid entries (`sys`, `uptime`, `12ab`), which are not counted.
    "processes",
    first_gathers("busy_host", &[]),
    |config, case| Processes::new(&config)
);

#[test]
fn stat_lines() {
    let line = "1 (process_api) S 0 0 0 0 -1 4194560 44743 6667070 0 744 70 354 19226 4147 \
                10 -10 13 0 24 42856448 3093";
    assert_eq!(parse_stat(line.as_bytes()), Some((b'S', 13)));
    assert_eq!(
        parse_stat(b"7 (a) b) c) D 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 1"),
        Some((b'D', 3))
    );
    // A command name that is not UTF-8 still counts.
    assert_eq!(
        parse_stat(b"8 (\xff\xfe) Z 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1\n"),
        Some((b'Z', 1))
    );
    assert_eq!(parse_stat(b"7 (a) R 1 1"), None);
    assert_eq!(parse_stat(b"7 (a"), None);
    assert_eq!(parse_stat(b""), None);
}

#[test]
fn a_missing_root_is_an_error_naming_it() {
    let err = testcases::gather_err(Processes::new(&Config {
        procfs_root: "/nonexistent-argus-proc".into(),
        ..Config::default()
    }));
    assert!(
        err.starts_with("listing /nonexistent-argus-proc: "),
        "{err}"
    );
}

#[test]
fn a_stat_longer_than_the_buffer_is_read_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("stat");
    let line = format!("9 ({}) S {}\n", "c".repeat(600), "0 ".repeat(30));
    std::fs::write(&path, &line).expect("write");
    let mut buf = vec![0; 16];
    let len = read_stat(&path, &mut buf).expect("read");
    assert_eq!(&buf[..len], line.as_bytes());
}

fn pids() -> usize {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .count()
}

#[test]
fn real_proc_counts_every_process() {
    let before = pids();
    let point = testcases::gather_one(Processes::new(&Config::default()));
    let after = pids();

    let get = |field: &str| testcases::uint_field(&point, field);
    let total = get("total");
    // Other tests start and end processes meanwhile; allow for a few.
    let (low, high) = (before.min(after) as u64, before.max(after) as u64);
    assert!(
        total + 8 >= low && total <= high + 8,
        "{total} vs {before}..{after}"
    );
    let by_state: u64 = [
        "running", "sleeping", "blocked", "zombies", "stopped", "dead", "idle", "paging", "parked",
        "unknown",
    ]
    .iter()
    .map(|f| get(f))
    .sum();
    assert_eq!(by_state, total);
    assert!(get("total_threads") >= total);
}
