use argus_core::line_protocol::FieldValue;
use procfs::Current;

use super::*;
use crate::inputs::testcases;

testcases::table_input_tests!(
    /// The fixtures count swap traffic in 4 KiB pages, whatever this machine's page size.
    /// `with_swap` also has a first reading (`before/`, fewer pages swapped): `in` and
    /// `out` are reported as read, not as growth since it.
    "swap",
    first_gathers("with_swap", &[]),
    |config, case| {
        let mut swap = Swap::new(&config)?;
        swap.page_size = 4096;
        anyhow::Ok(swap)
    }
);

#[test]
fn vmstat_page_counts() {
    let text = "nr_free_pages 1\npgpgin 2\npswpin 3\npswpout 4\npgpgout 5\n";
    assert_eq!(parse_vmstat(text), Ok((Some(3), Some(4))));
    assert_eq!(parse_vmstat("nr_free_pages 1\n"), Ok((None, None)));
    assert_eq!(
        parse_vmstat("pswpin -1\n"),
        Err(ParseError::new(
            1,
            "pswpin: expected a number, found \"-1\""
        ))
    );
}

#[test]
fn real_proc_matches_meminfo_and_vmstat() {
    let point = testcases::gather_one(Swap::new(&Config::default()));
    let get = |name: &str| testcases::field_value(&point, name).cloned();
    let reference = procfs::Meminfo::current().expect("procfs meminfo");
    assert_eq!(get("total"), Some(FieldValue::UInt(reference.swap_total)));
    let Some(FieldValue::UInt(free)) = get("free") else {
        panic!("free")
    };
    assert_eq!(
        get("used"),
        Some(FieldValue::UInt(reference.swap_total - free))
    );

    // Swap counters only grow: bracket ours between two independent reads.
    let after = procfs::vmstat().expect("procfs vmstat");
    let page = procfs::page_size();
    let Some(FieldValue::UInt(bytes_in)) = get("in") else {
        panic!("in")
    };
    let pswpin = u64::try_from(after["pswpin"]).expect("pswpin");
    assert!(
        bytes_in <= pswpin * page && bytes_in % page == 0,
        "{bytes_in}"
    );
}
