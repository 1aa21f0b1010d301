use argus_core::line_protocol::FieldValue;
use procfs::Current;

use super::*;
use crate::inputs::testcases;

testcases::table_input_tests!(
    "load",
    first_gathers("busy", &[]),
    |config, case| Load::new(&config)
);

#[test]
fn malformed_loadavg_is_an_error() {
    assert_eq!(
        parse_loadavg("0.1 0.2").map(|_| ()),
        Err(ParseError::new(
            1,
            "load15: expected a load average, found \"\""
        ))
    );
    assert_eq!(
        parse_loadavg("0.1 NaN 0.3 1/2 3").map(|_| ()),
        Err(ParseError::new(
            1,
            "load5: expected a load average, found \"NaN\""
        ))
    );
}

/// The kernel updates the averages every 5 s, so ours equal one of two reads taken by the
/// `procfs` crate around the gather.
#[test]
fn real_loadavg_matches_the_procfs_crate() {
    let before = procfs::LoadAverage::current().expect("procfs loadavg");
    let point = testcases::gather_one(Load::new(&Config::default()));
    let after = procfs::LoadAverage::current().expect("procfs loadavg");

    assert_eq!(point.measurement, "system");
    let got: Vec<f64> = point
        .fields
        .iter()
        .map(|(_, v)| match v {
            FieldValue::Float(f) => *f,
            other => panic!("{other:?}"),
        })
        .collect();
    // procfs parses into f32; two decimals survive that within 1e-4.
    let same = |reference: [f32; 3]| {
        got.iter()
            .zip(reference)
            .all(|(g, r)| (g - f64::from(r)).abs() < 1e-4)
    };
    let b = [before.one, before.five, before.fifteen];
    let a = [after.one, after.five, after.fifteen];
    assert!(same(b) || same(a), "{got:?} is neither {b:?} nor {a:?}");
}
