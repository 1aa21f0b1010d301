use procfs::{Current, CurrentSI};

use super::*;
use crate::inputs::testcases;

testcases::table_input_tests!(
    /// Each case has `proc/stat`, `proc/uptime` and, if anyone is logged in, `utmp`
    /// (little-endian: 8 records, 4 of them `USER_PROCESS` for alice twice, bob and a
    /// 32-byte name with no NUL, then a 100-byte partial record).
    #[cfg(target_endian = "little")]
    "system",
    first_gathers("no_utmp", &[]),
    |config, case| {
        config.utmp_path = case.join("utmp");
        System::new(&config)
    }
);

fn utmp_record(ut_type: i16, user: &[u8]) -> Vec<u8> {
    let mut record = vec![0u8; UTMP_RECORD];
    record[..2].copy_from_slice(&ut_type.to_ne_bytes());
    record[UT_USER.start..UT_USER.start + user.len()].copy_from_slice(user);
    record
}

#[test]
fn only_user_process_records_count() {
    let mut utmp = Vec::new();
    for (ut_type, user) in [
        (2, "reboot"),
        (7, "ann"),
        (8, "ann"),
        (7, "ann"),
        (7, "ben"),
    ] {
        utmp.extend(utmp_record(ut_type, user.as_bytes()));
    }
    assert_eq!(
        count_users(&utmp),
        Users {
            sessions: 3,
            unique: 2
        }
    );
    assert_eq!(count_users(&utmp[..UTMP_RECORD - 1]), Users::default());
}

#[test]
fn uptime_and_stat_parsing() {
    assert_eq!(parse_uptime("350735.47 234388.90\n"), Ok(350735));
    assert_eq!(parse_uptime("12 3\n"), Ok(12));
    assert_eq!(
        parse_uptime(""),
        Err(ParseError::new(1, "uptime: expected a number, found \"\""))
    );
    assert_eq!(
        parse_stat("cpu  1 2\ncpu0 1\ncpu1 2\nbtime 5\n"),
        Ok((2, 5))
    );
    assert_eq!(
        parse_stat("cpu  1 2\n"),
        Err(ParseError::new(0, "no btime line"))
    );
}

#[test]
fn an_unreadable_utmp_fails_the_round_naming_it() {
    // A directory cannot be read as a file: an error other than "not found".
    let dir = tempfile::tempdir().expect("tempdir");
    let mut system = System::new(&Config {
        utmp_path: dir.path().to_path_buf(),
        ..Config::default()
    })
    .expect("new");
    let err = system
        .gather(0, &mut Vec::new())
        .expect_err("utmp is a directory");
    assert!(err.to_string().starts_with("reading "), "{err}");
}

#[test]
fn real_proc_matches_the_procfs_crate() {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let cpu_lines = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count() as u64;
    let before = procfs::Uptime::current().expect("procfs uptime");
    let point = testcases::gather_one(System::new(&Config::default()));
    let after = procfs::Uptime::current().expect("procfs uptime");
    let kernel = procfs::KernelStats::current().expect("procfs stat");

    let get = |field: &str| testcases::uint_field(&point, field);
    assert_eq!(get("n_cpus"), cpu_lines);
    assert_eq!(get("n_cpus"), kernel.cpu_time.len() as u64);
    assert_eq!(get("boot_time"), kernel.btime);
    let uptime = get("uptime");
    assert!(
        (before.uptime.floor() as u64..=after.uptime.floor() as u64).contains(&uptime),
        "{uptime}"
    );
    assert!(get("n_unique_users") <= get("n_users"));
}
