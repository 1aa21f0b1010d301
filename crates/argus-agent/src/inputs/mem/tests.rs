use argus_core::line_protocol::FieldValue;
use procfs::Current;

use super::*;
use crate::inputs::testcases;

testcases::table_input_tests!("mem", first_gathers("linux_6", &[]), |config, case| {
    Mem::new(&config)
});

#[test]
fn computed_field_indexes_point_at_their_keys() {
    assert_eq!(KEYS[TOTAL].0, "MemTotal");
    assert_eq!(KEYS[FREE].0, "MemFree");
    assert_eq!(KEYS[AVAILABLE].0, "MemAvailable");
    assert_eq!(KEYS[CACHED].0, "Cached");
    assert_eq!(KEYS[BUFFERS].0, "Buffers");
    assert_eq!(KEYS[SRECLAIMABLE].0, "SReclaimable");
}

#[test]
fn used_is_total_minus_free_buffers_cache_and_reclaimable_slab() {
    let text = "MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 600 kB\nBuffers: 50 kB\n\
                Cached: 200 kB\nSReclaimable: 150 kB\n";
    let mut values = vec![None; KEYS.len()];
    parse_meminfo(text, KEYS, &mut values).expect("parse");
    let fields = fields(&values).expect("fields");
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("total"), Some(FieldValue::UInt(1_024_000)));
    assert_eq!(get("cached"), Some(FieldValue::UInt(350 * 1024)));
    assert_eq!(get("used"), Some(FieldValue::UInt(500 * 1024)));
    assert_eq!(get("used_percent"), Some(FieldValue::Float(50.0)));
    assert_eq!(get("available_percent"), Some(FieldValue::Float(60.0)));
    // Keys the kernel does not have are left out rather than reported as 0.
    assert_eq!(get("high_total"), None);
}

#[test]
fn malformed_values_name_the_line() {
    let mut values = vec![None; KEYS.len()];
    let err = parse_meminfo("MemTotal: 10 kB\nMemFree: lots kB\n", KEYS, &mut values)
        .expect_err("bad number");
    assert_eq!(
        err,
        ParseError::new(2, "MemFree: expected a number, found \"lots\"")
    );
    let err = parse_meminfo("MemTotal: 10 MB\n", KEYS, &mut values).expect_err("bad unit");
    assert_eq!(err, ParseError::new(1, "MemTotal: unknown unit \"MB\""));
}

#[test]
fn a_meminfo_without_memtotal_is_an_error_naming_the_file() {
    let dir = testcases::proc_root(&[("meminfo", "MemFree: 1 kB\n")]);
    let err = testcases::gather_err(Mem::new(&Config {
        procfs_root: dir.path().to_path_buf(),
        ..Config::default()
    }));
    assert!(err.ends_with("meminfo:0: no MemTotal line"), "{err}");
}

#[test]
fn real_proc_total_is_memtotal_times_1024() {
    let meminfo = std::fs::read_to_string("/proc/meminfo").expect("/proc/meminfo");
    let mem_total_kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("MemTotal");

    let point = testcases::gather_one(Mem::new(&Config::default()));
    let get = |name: &str| testcases::field_value(&point, name).cloned();
    assert_eq!(get("total"), Some(FieldValue::UInt(mem_total_kb * 1024)));
    // The procfs crate's parser agrees on the values that do not move.
    let reference = procfs::Meminfo::current().expect("procfs meminfo");
    assert_eq!(get("total"), Some(FieldValue::UInt(reference.mem_total)));
    assert_eq!(
        get("swap_total"),
        Some(FieldValue::UInt(reference.swap_total))
    );
    assert_eq!(
        get("commit_limit"),
        reference.commit_limit.map(FieldValue::UInt)
    );
    let Some(FieldValue::Float(used_percent)) = get("used_percent") else {
        panic!("used_percent")
    };
    assert!((0.0..=100.0).contains(&used_percent), "{used_percent}");
}
