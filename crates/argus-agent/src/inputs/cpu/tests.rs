use std::path::Path;

use argus_core::line_protocol::FieldValue;

use super::*;
use crate::inputs::InputsConfig;
use crate::inputs::testcases;

/// Every field of the input: each is a share of jiffies elapsed between two readings.
const USAGE: &[&str] = &[
    "cpu_usage_user",
    "cpu_usage_system",
    "cpu_usage_idle",
    "cpu_usage_nice",
    "cpu_usage_iowait",
    "cpu_usage_irq",
    "cpu_usage_softirq",
    "cpu_usage_steal",
    "cpu_usage_guest",
    "cpu_usage_guest_nice",
];

testcases::table_input_tests!(
    /// Each case gathers `before/proc/stat`, then `proc/stat` one interval later.
    "cpu",
    first_gathers("basic", USAGE),
    |config, case| Cpu::new(&config)
);

/// Issue 14: on an idle machine the first round after a start reported
/// `cpu_usage_idle` 0 on every core, as the baseline was read moments before it and a
/// single tick decided every share.
#[test]
fn regression_issue_14_no_shares_until_two_gathers_with_jiffies_between() {
    let before = "cpu  200 0 100 1000 0 0 0 0 0 0\ncpu0 100 0 50 500 0 0 0 0 0 0\n\
                  cpu1 100 0 50 500 0 0 0 0 0 0\n";
    // One jiffy of system time on each core since the start, and no idle jiffy yet.
    let tick = "cpu  200 0 102 1000 0 0 0 0 0 0\ncpu0 100 0 51 500 0 0 0 0 0 0\n\
                cpu1 100 0 51 500 0 0 0 0 0 0\n";
    // Then a second of idle time on each core.
    let idle = "cpu  200 0 102 1200 0 0 0 0 0 0\ncpu0 100 0 51 600 0 0 0 0 0 0\n\
                cpu1 100 0 51 600 0 0 0 0 0 0\n";
    let root = testcases::proc_root(&[("stat", before)]);
    let mut cpu = Cpu::new(&Config {
        procfs_root: root.path().to_path_buf(),
        ..Config::default()
    })
    .expect("new");
    let mut gather = |stat: &str, now_ms: i64| {
        std::fs::write(root.path().join("stat"), stat).expect("write");
        let mut out = Vec::new();
        cpu.gather(now_ms, &mut out).expect("gather");
        out
    };
    assert!(
        gather(tick, 1).is_empty(),
        "the first gather is the baseline"
    );
    assert!(gather(tick, 2).is_empty(), "no jiffy elapsed");
    let out = gather(idle, 10_002);
    let idle_shares: Vec<(&str, Option<f64>)> = out
        .iter()
        .map(|l| (l.tags[0].1.as_ref(), testcases::field(l, "usage_idle")))
        .collect();
    assert_eq!(
        idle_shares,
        [
            ("cpu0", Some(100.0)),
            ("cpu1", Some(100.0)),
            ("cpu-total", Some(100.0))
        ]
    );
}

#[test]
fn shares_between_two_reads() {
    // user 60 of which guest 40, nice 20 of which guest_nice 10, system 30, idle 70 and
    // 5 each of iowait, irq, softirq and steal: 200 jiffies elapsed.
    let before: Times = [1000, 100, 500, 2000, 50, 10, 20, 30, 400, 50];
    let now: Times = [1060, 120, 530, 2070, 55, 15, 25, 35, 440, 60];
    let fields = shares(&before, &now).expect("time elapsed");
    let got: Vec<(&str, f64)> = fields
        .iter()
        .map(|(k, v)| match v {
            FieldValue::Float(f) => (k.as_ref(), *f),
            other => panic!("{k}: {other:?}"),
        })
        .collect();
    assert_eq!(
        got,
        [
            ("usage_user", 10.0),
            ("usage_system", 15.0),
            ("usage_idle", 35.0),
            ("usage_nice", 5.0),
            ("usage_iowait", 2.5),
            ("usage_irq", 2.5),
            ("usage_softirq", 2.5),
            ("usage_steal", 2.5),
            ("usage_guest", 20.0),
            ("usage_guest_nice", 5.0),
        ]
    );
}

#[test]
fn no_elapsed_time_or_a_reset_gives_no_shares() {
    let t: Times = [1, 2, 3, 4, 5, 6, 7, 8, 0, 0];
    assert!(shares(&t, &t).is_none());
    let reset: Times = [0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    assert!(shares(&t, &reset).is_none());
}

#[test]
fn a_bad_stat_line_names_file_and_line() {
    let mut total = None;
    let mut cores = Vec::new();
    let err = parse_stat("cpu  1 2 3\ncpu0 1 x 3\n", &mut total, &mut cores).expect_err("bad");
    assert_eq!(
        err,
        ParseError::new(2, "cpu0: expected a number, found \"x\"")
    );
}

#[test]
fn a_stat_without_the_total_line_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("stat"), "cpu0 1 2 3 4\nintr 0\n").expect("write");
    let config = Config {
        procfs_root: dir.path().to_path_buf(),
        ..Config::default()
    };
    let err = Cpu::new(&config).expect_err("no total");
    assert!(err.to_string().contains("no machine-wide"), "{err}");
}

#[test]
fn neither_percpu_nor_totalcpu_is_a_config_error() {
    let config = Config {
        percpu: false,
        totalcpu: false,
        ..Config::default()
    };
    let err = Cpu::new(&config).map(|_| ()).expect_err("config error");
    assert!(err.to_string().contains("percpu and totalcpu"), "{err}");
    // Disabled, it is not built at all, so the combination is no error.
    let disabled = InputsConfig {
        cpu: Config {
            enabled: false,
            ..config
        },
        ..InputsConfig::default()
    };
    let plugins = crate::inputs::build(&disabled, Path::new(".")).expect("disabled");
    assert!(plugins.iter().all(|p| p.name != "cpu"));
}

#[test]
fn real_proc_one_point_per_online_core_plus_total() {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let cores: Vec<String> = stat
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.len() > 3 && n.starts_with("cpu"))
        .map(str::to_string)
        .collect();
    assert!(!cores.is_empty());

    let mut cpu = Cpu::new(&Config::default()).expect("new");
    let mut out = Vec::new();
    cpu.gather(41, &mut out).expect("gather");
    assert!(out.is_empty(), "the first gather is the baseline");
    // At HZ=100 every core accounts at least a few jiffies (busy or idle) in this time.
    std::thread::sleep(std::time::Duration::from_millis(300));
    cpu.gather(42, &mut out).expect("gather");

    let mut names: Vec<String> = out.iter().map(|l| l.tags[0].1.to_string()).collect();
    let mut want = cores.clone();
    want.push("cpu-total".to_string());
    names.sort();
    want.sort();
    assert_eq!(names, want);
    for line in &out {
        assert_eq!(line.measurement, "cpu");
        assert_eq!(line.timestamp, Some(42));
        assert_eq!(line.fields.len(), 10);
        let mut sum = 0.0;
        for (name, value) in &line.fields {
            let FieldValue::Float(v) = value else {
                panic!("{name} is not a float")
            };
            assert!((0.0..=100.0).contains(v), "{name}={v}");
            sum += v;
        }
        assert!((sum - 100.0).abs() < 1e-6, "{:?} sums to {sum}", line.tags);
    }
}
