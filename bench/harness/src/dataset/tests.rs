//! Checks of the generated data set, by parsing its bodies back.

use super::*;
use std::collections::{BTreeMap, HashSet};

fn spec(hosts: usize, intervals: usize, jitter_ms: i64) -> Spec {
    Spec {
        hosts,
        intervals,
        interval_ms: 10_000,
        end_ms: 1_800_000_000_000,
        jitter_ms,
        seed: 42,
        batch_hosts: 3,
        batch_points: 7,
    }
}

fn gen_ok(s: &Spec, threads: usize) -> Dataset {
    generate(s, threads).unwrap_or_else(|e| panic!("generate: {e}"))
}

/// One parsed sample: the field's raw text and the timestamp.
struct Point {
    raw: String,
    ts: i64,
}

/// Series key (`measurement,tags field`) → its points in body order.
fn parse(ds: &Dataset) -> BTreeMap<String, Vec<Point>> {
    let mut out: BTreeMap<String, Vec<Point>> = BTreeMap::new();
    for b in &ds.batches {
        let text = std::str::from_utf8(&b.body).unwrap_or_else(|e| panic!("{e}"));
        for line in text.lines() {
            let parts: Vec<&str> = line.split(' ').collect();
            assert_eq!(parts.len(), 3, "line {line:?}");
            let ts: i64 = parts[2].parse().unwrap_or_else(|e| panic!("{line}: {e}"));
            for field in parts[1].split(',') {
                let (k, v) = field.split_once('=').unwrap_or_else(|| panic!("{line}"));
                out.entry(format!("{} {k}", parts[0]))
                    .or_default()
                    .push(Point {
                        raw: v.to_string(),
                        ts,
                    });
            }
        }
    }
    out
}

fn hundredths(raw: &str) -> i64 {
    let (int, frac) = raw
        .split_once('.')
        .unwrap_or_else(|| panic!("{raw:?} has no decimal point"));
    assert_eq!(frac.len(), 2, "{raw:?} does not have exactly 2 decimals");
    assert!(
        int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit()),
        "{raw:?}"
    );
    int.parse::<i64>().unwrap_or(0) * 100 + frac.parse::<i64>().unwrap_or(0)
}

fn int(raw: &str) -> i64 {
    raw.strip_suffix('i')
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{raw:?} is not an integer field"))
}

#[test]
fn counts_match_what_is_in_the_bodies() {
    let s = spec(7, 20, 0);
    let ds = gen_ok(&s, 2);
    let series = parse(&ds);
    assert_eq!(series.len() as u64, ds.series);
    assert!(
        series.values().all(|p| p.len() == 20),
        "a point per interval"
    );
    assert_eq!(ds.samples, ds.series * 20);
    let lines: u64 = ds
        .batches
        .iter()
        .map(|b| b.body.iter().filter(|&&c| c == b'\n').count() as u64)
        .sum();
    assert_eq!(ds.lines, lines);
    assert_eq!(
        ds.body_bytes,
        ds.batches.iter().map(|b| b.body.len() as u64).sum::<u64>()
    );
    // 7 hosts in groups of 3 → 3 groups; 20 points in windows of 7 → 3 windows.
    assert_eq!(ds.batches.len(), 9);
    // Each host has 73 or 77 series (two or three disks).
    assert!((7 * 73..=7 * 77).contains(&ds.series), "{}", ds.series);
    // The benchmark's query selector matches five series per host.
    let user = series
        .keys()
        .filter(|k| k.starts_with("cpu,") && k.ends_with(" usage_user"))
        .count();
    assert_eq!(user, 5 * 7);
}

#[test]
fn default_scale_meets_the_minimums() {
    // 200 hosts × 6 h at 10 s: only the layout matters here, so render one interval.
    let mut s = spec(200, 1, 0);
    s.batch_hosts = 20;
    let ds = gen_ok(&s, 2);
    assert!(ds.series >= 7_000, "{} series", ds.series);
    assert!(ds.series * 6 * 360 >= 2_500_000);
    let hosts: HashSet<String> = parse(&ds)
        .keys()
        .filter_map(|k| {
            let series = k.split(' ').next()?;
            series
                .split(',')
                .find(|t| t.starts_with("host="))
                .map(String::from)
        })
        .collect();
    assert_eq!(hosts.len(), 200);
    assert!(hosts.contains("host=host-000") && hosts.contains("host=host-199"));
}

#[test]
fn same_seed_same_bytes_whatever_the_threads() {
    let s = spec(5, 12, 1500);
    let bodies =
        |ds: &Dataset| -> Vec<Bytes> { ds.batches.iter().map(|b| b.body.clone()).collect() };
    let a = gen_ok(&s, 1);
    let b = gen_ok(&s, 3);
    assert_eq!(bodies(&a), bodies(&b));
    let other = Spec { seed: 43, ..s };
    assert_ne!(bodies(&a), bodies(&gen_ok(&other, 1)));
}

#[test]
fn counters_never_decrease() {
    let ds = gen_ok(&spec(4, 200, 0), 1);
    let mut checked = 0;
    for (key, points) in parse(&ds) {
        let counter =
            key.starts_with("diskio,") || key.starts_with("net,") || key.ends_with(" uptime");
        if !counter {
            continue;
        }
        let values: Vec<i64> = points.iter().map(|p| int(&p.raw)).collect();
        assert!(
            values.windows(2).all(|w| w[0] <= w[1]),
            "{key} goes down: {values:?}"
        );
        checked += 1;
        if key.ends_with(" bytes_sent") || key.ends_with(" reads") || key.ends_with(" uptime") {
            assert!(values[199] > values[0], "{key} does not grow");
        }
    }
    // Per host: diskio 2×4, net 2×8, uptime.
    assert_eq!(checked, 4 * 25);
}

#[test]
fn percentages_have_two_decimals_and_cpu_sums_to_100() {
    let ds = gen_ok(&spec(4, 50, 0), 1);
    let series = parse(&ds);
    let mut cpu_sums: BTreeMap<(String, i64), i64> = BTreeMap::new();
    for (key, points) in &series {
        let (prefix, field) = key.split_once(' ').unwrap_or_default();
        let decimal =
            field.starts_with("usage_") || field == "used_percent" || field.starts_with("load");
        for p in points {
            if decimal {
                let v = hundredths(&p.raw);
                if !field.starts_with("load") {
                    assert!((0..=10_000).contains(&v), "{key} = {}", p.raw);
                }
                if field.starts_with("usage_") {
                    *cpu_sums.entry((prefix.to_string(), p.ts)).or_default() += v;
                }
            } else {
                int(&p.raw);
            }
        }
    }
    assert_eq!(cpu_sums.len(), 4 * 5 * 50);
    assert!(
        cpu_sums.values().all(|&s| s == 10_000),
        "cpu fields sum to 100.00"
    );
    // Values vary: a random walk, not a constant.
    let user = &series["cpu,cpu=cpu0,dc=eu-west-1,host=host-000 usage_user"];
    let distinct: HashSet<&str> = user.iter().map(|p| p.raw.as_str()).collect();
    assert!(distinct.len() > 10);
}

#[test]
fn timestamps_increase_stay_in_span_and_batches_go_in_time_order() {
    for jitter in [0, 4_000] {
        let s = spec(7, 30, jitter);
        let ds = gen_ok(&s, 2);
        for (key, points) in parse(&ds) {
            assert!(points.windows(2).all(|w| w[0].ts < w[1].ts), "{key}");
            assert!(
                points
                    .iter()
                    .all(|p| p.ts >= s.start_ms() && p.ts < s.end_ms)
            );
            // The regular grid plus the host's phase, within ± the jitter.
            let offsets: HashSet<i64> = points
                .iter()
                .map(|p| (p.ts - s.start_ms()) % s.interval_ms)
                .collect();
            if jitter == 0 {
                assert_eq!(offsets.len(), 1, "{key}: one phase without jitter");
            } else {
                assert!(offsets.len() > 1, "{key}: jitter moves timestamps");
            }
        }
        // Batches of one window all come before any batch of the next.
        let groups = 3;
        let span = |b: &Batch| {
            let ts: Vec<i64> = std::str::from_utf8(&b.body)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
                .collect();
            (
                ts.iter().copied().min().unwrap_or(0),
                ts.iter().copied().max().unwrap_or(0),
            )
        };
        for i in groups..ds.batches.len() {
            assert!(span(&ds.batches[i]).0 > span(&ds.batches[i - groups]).1);
        }
    }
}

#[test]
fn bad_specs_are_refused_and_gzip_round_trips() {
    assert!(
        generate(&spec(1, 1, 5_000), 1).is_err(),
        "jitter of half the interval"
    );
    assert!(generate(&spec(0, 1, 0), 1).is_err());
    let mut ds = gen_ok(&spec(2, 3, 0), 1);
    ds.compress().unwrap_or_else(|e| panic!("{e}"));
    let b = &ds.batches[0];
    let mut plain = Vec::new();
    let gz = b.gzip.clone().unwrap_or_default();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plain, b.body);
}
