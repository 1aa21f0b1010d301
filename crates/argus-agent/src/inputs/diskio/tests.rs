use super::*;
use crate::inputs::testcases;

testcases::table_input_tests!(
    /// `kernel_6` also has a first reading (`before/`: smaller counters, no `md127` yet):
    /// the counters are reported as read, not as growth since it.
    "diskio",
    first_gathers("kernel_6", &[]),
    |config, case| DiskIo::new(&config)
);

#[test]
fn a_bad_counter_names_the_file_line_and_column() {
    let dir = testcases::proc_root(&[(
        "diskstats",
        "8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n8 1 sda1 1 2 3 4 5 6 seven 8 9 10 11\n",
    )]);
    let err = testcases::gather_err(DiskIo::new(&Config {
        procfs_root: dir.path().to_path_buf(),
        ..Config::default()
    }));
    assert!(
        err.ends_with("diskstats:2: sectors written: expected a number, found \"seven\""),
        "{err}"
    );
}

/// Counters only grow, so ours must lie between two reads taken by the `procfs` crate
/// around the gather.
#[test]
fn real_diskstats_match_the_procfs_crate() {
    let before = procfs::diskstats().expect("procfs diskstats");
    let out = testcases::gather_all(DiskIo::new(&Config::default()));
    let after = procfs::diskstats().expect("procfs diskstats");

    // Devices may come and go meanwhile: every one present in both reads must be
    // reported (loop and RAM disks excepted), and nothing present in neither.
    let names: Vec<&str> = out.iter().map(|l| l.tags[0].1.as_ref()).collect();
    for disk in &before {
        let name = disk.name.as_str();
        let ignored = name.starts_with("loop") || name.starts_with("ram");
        if after.iter().any(|d| d.name == name) {
            assert_eq!(names.contains(&name), !ignored, "{name}");
        }
    }
    for line in &out {
        let name = &line.tags[0].1;
        let b = before.iter().find(|d| d.name == *name);
        let a = after.iter().find(|d| d.name == *name);
        assert!(b.is_some() || a.is_some(), "{name}");
        let (Some(b), Some(a)) = (b, a) else {
            continue;
        };
        let get = |field: &str| testcases::uint_field(line, field);
        assert!((b.reads..=a.reads).contains(&get("reads")), "{name}");
        assert!((b.writes..=a.writes).contains(&get("writes")), "{name}");
        let read_bytes = get("read_bytes");
        assert!(
            (b.sectors_read * 512..=a.sectors_read * 512).contains(&read_bytes),
            "{name}"
        );
        assert!(
            (b.sectors_written * 512..=a.sectors_written * 512).contains(&get("write_bytes")),
            "{name}"
        );
        assert!(
            (b.time_in_progress..=a.time_in_progress).contains(&get("io_time")),
            "{name}"
        );
    }
}
