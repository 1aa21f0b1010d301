use super::*;
use crate::inputs::testcases;

testcases::table_input_tests!(
    /// `server` also has a first reading (`before/`, smaller counters): the counters are
    /// reported as read, not as growth since it.
    "net",
    first_gathers("server", &[]),
    |config, case| Net::new(&config)
);

#[test]
fn a_truncated_line_names_the_missing_column() {
    assert_eq!(
        parse_interface(" 1 2 3 4 5 6 7 8 9 10", 4, "eth0", 0).map(|_| ()),
        Err(ParseError::new(4, "transmit errs: missing column"))
    );
}

/// Counters only grow, so ours must lie between two reads taken by the `procfs` crate
/// around the gather.
#[test]
fn real_net_dev_matches_the_procfs_crate() {
    let before = procfs::net::dev_status().expect("procfs net/dev");
    let out = testcases::gather_all(Net::new(&Config::default()));
    let after = procfs::net::dev_status().expect("procfs net/dev");

    // Interfaces may come and go meanwhile (container veth pairs): every one present in
    // both reads must be reported, and nothing present in neither.
    let names: Vec<&str> = out.iter().map(|l| l.tags[0].1.as_ref()).collect();
    assert!(!names.contains(&"lo"));
    for name in before
        .keys()
        .filter(|n| *n != "lo" && after.contains_key(*n))
    {
        assert!(names.contains(&name.as_str()), "{name} not reported");
    }
    for line in &out {
        let name = line.tags[0].1.as_ref();
        assert!(
            before.contains_key(name) || after.contains_key(name),
            "{name}"
        );
        let (Some(b), Some(a)) = (before.get(name), after.get(name)) else {
            continue;
        };
        // Each field against the counter the procfs crate names it by.
        for (field, low, high) in [
            ("bytes_recv", b.recv_bytes, a.recv_bytes),
            ("bytes_sent", b.sent_bytes, a.sent_bytes),
            ("packets_recv", b.recv_packets, a.recv_packets),
            ("packets_sent", b.sent_packets, a.sent_packets),
            ("drop_in", b.recv_drop, a.recv_drop),
            ("err_out", b.sent_errs, a.sent_errs),
        ] {
            let got = testcases::uint_field(line, field);
            assert!((low..=high).contains(&got), "{name} {field}");
        }
    }
}
