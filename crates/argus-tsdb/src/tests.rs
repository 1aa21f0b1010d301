//! Engine-level tests: what is written is read back exactly, across flush, compaction and
//! restart; damage is contained.

use crate::db::{Db, Options};
use argus_core::{Labels, Matcher, Sample, TimeSeries};
use proptest::prelude::*;
use std::collections::BTreeMap;

const HOUR: i64 = 3_600_000;

fn opts() -> Options {
    Options {
        ooo_window_ms: 100 * HOUR,
        ..Options::default()
    }
}

fn open(dir: &std::path::Path) -> Db {
    Db::open(dir, opts()).unwrap_or_else(|e| panic!("open: {e}"))
}

fn all(db: &Db) -> BTreeMap<Labels, Vec<(i64, u64)>> {
    within(db, i64::MIN, i64::MAX)
}

/// Every series' samples in `[start, end]`, as bits.
fn within(db: &Db, start: i64, end: i64) -> BTreeMap<Labels, Vec<(i64, u64)>> {
    db.select(
        &[
            Matcher::new("__name__", argus_core::MatchOp::RegexMatch, ".+")
                .unwrap_or_else(|e| panic!("{e}")),
        ],
        start,
        end,
    )
    .unwrap_or_else(|e| panic!("select: {e}"))
    .into_iter()
    .map(|s| {
        (
            s.labels,
            s.samples
                .iter()
                .map(|x| (x.ts, x.value.to_bits()))
                .collect(),
        )
    })
    .collect()
}

/// What a map of writes should read back as: last write wins per timestamp.
type Model = BTreeMap<Labels, BTreeMap<i64, u64>>;

fn model_view(m: &Model) -> BTreeMap<Labels, Vec<(i64, u64)>> {
    model_within(m, i64::MIN, i64::MAX)
}

fn model_within(m: &Model, start: i64, end: i64) -> BTreeMap<Labels, Vec<(i64, u64)>> {
    m.iter()
        .map(|(l, v)| {
            let v: Vec<(i64, u64)> = v.range(start..=end).map(|(&t, &b)| (t, b)).collect();
            (l.clone(), v)
        })
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

#[derive(Debug, Clone)]
enum Op {
    Write(Vec<(u8, i64, u64)>),
    Flush,
    Compact,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => proptest::collection::vec((0u8..6, 0i64..(8 * HOUR), any::<u64>()), 1..40).prop_map(Op::Write),
        // A run of one series long enough to seal head chunks, so later writes land
        // behind sealed data.
        2 => (0u8..6, 0i64..(8 * HOUR), 60i64..200, any::<u64>()).prop_map(|(i, start, n, seed)| {
            Op::Write((0..n).map(|k| (i, start + k * 60_000, seed ^ k as u64)).collect())
        }),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::Restart),
    ]
}

fn labels(i: u8) -> Labels {
    Labels::with_name(
        if i.is_multiple_of(2) { "even" } else { "odd" },
        [("i", i.to_string())],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Any sequence of writes (in and out of order, with duplicates), flushes,
    /// compactions and restarts reads back exactly, bit for bit, last write winning.
    #[test]
    fn reads_back_what_was_written(ops in proptest::collection::vec(op(), 1..12)) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut db = open(dir.path());
        let mut model: Model = BTreeMap::new();
        for op in ops {
            match op {
                Op::Write(samples) => {
                    let batch: Vec<TimeSeries> = samples
                        .iter()
                        .map(|&(i, ts, bits)| TimeSeries {
                            labels: labels(i),
                            samples: vec![Sample { ts, value: f64::from_bits(bits) }],
                        })
                        .collect();
                    db.append(&batch).unwrap_or_else(|e| panic!("append: {e}"));
                    for (i, ts, bits) in samples {
                        model.entry(labels(i)).or_default().insert(ts, bits);
                    }
                }
                Op::Flush => {
                    db.flush().unwrap_or_else(|e| panic!("flush: {e}"));
                }
                Op::Compact => {
                    db.compact(true).unwrap_or_else(|e| panic!("compact: {e}"));
                }
                Op::Restart => {
                    drop(db);
                    db = open(dir.path());
                }
            }
            prop_assert_eq!(all(&db), model_view(&model));
            // A window cutting through blocks and chunks reads exactly its samples.
            let (lo, hi) = (2 * HOUR - 7, 5 * HOUR + 13);
            prop_assert_eq!(within(&db, lo, hi), model_within(&model, lo, hi));
        }
        // And once more after a final restart.
        drop(db);
        let db = open(dir.path());
        prop_assert_eq!(all(&db), model_view(&model));
    }
}

fn write_hours(db: &Db, hosts: usize, from: i64, hours: i64) -> usize {
    let mut n = 0;
    let mut t = from;
    while t < from + hours * HOUR {
        let batch: Vec<TimeSeries> = (0..hosts)
            .map(|h| TimeSeries {
                labels: Labels::with_name("cpu", [("host", format!("h{h}"))]),
                samples: vec![Sample {
                    ts: t,
                    value: (t / 10_000 % 100) as f64 / 4.0,
                }],
            })
            .collect();
        n += batch.len();
        db.append(&batch).unwrap_or_else(|e| panic!("{e}"));
        t += 60_000;
    }
    n
}

#[test]
fn flush_partitions_and_compaction_merges_into_larger_ranges() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = open(dir.path());
    let base = 1_700_000_000_000 / (12 * HOUR) * (12 * HOUR);
    let n = write_hours(&db, 10, base, 6);
    let metas = db.flush().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(metas.len(), 3, "6 h of data in 2 h partitions");
    assert_eq!(metas.iter().map(|m| m.samples as usize).sum::<usize>(), n);
    let before = all(&db);
    let merges = db.compact(true).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(merges, 1, "three 2 h blocks of one 12 h range merge once");
    let stats = db.stats();
    assert_eq!(stats.blocks.len(), 1);
    assert_eq!(stats.blocks[0].level, 1);
    assert_eq!(stats.blocks[0].samples as usize, n);
    assert_eq!(all(&db), before);
    // The WAL was replaced by a checkpoint: nothing to replay but the series.
    assert_eq!(stats.head_samples, 0);
}

#[test]
fn retention_drops_old_blocks() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = Db::open(
        dir.path(),
        Options {
            retention_ms: 24 * HOUR,
            rollup_retention_ms: 0,
            ooo_window_ms: 100 * HOUR,
            ..Options::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let base = 1_700_000_000_000 / (2 * HOUR) * (2 * HOUR);
    write_hours(&db, 2, base, 4);
    db.flush().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(db.stats().blocks.len(), 2);
    let dropped = db
        .apply_retention(base + 24 * HOUR + 3 * HOUR)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        dropped, 1,
        "the first 2 h block ended more than 24 h before"
    );
    let left = all(&db);
    assert!(
        left.values()
            .all(|v| v.iter().all(|(t, _)| *t >= base + 2 * HOUR))
    );
}

#[test]
fn out_of_window_samples_are_rejected_and_nothing_of_the_batch_stored() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = Db::open(
        dir.path(),
        Options {
            ooo_window_ms: HOUR,
            ..Options::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let l = Labels::with_name("m", [("a", "b")]);
    let one = |ts| {
        vec![TimeSeries {
            labels: l.clone(),
            samples: vec![Sample { ts, value: 1.0 }],
        }]
    };
    db.append(&one(10 * HOUR)).unwrap_or_else(|e| panic!("{e}"));
    db.append(&one(9 * HOUR))
        .unwrap_or_else(|e| panic!("within the window: {e}"));
    let mut batch = one(10 * HOUR + 1);
    batch.extend(one(8 * HOUR));
    let e = db
        .append(&batch)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("out-of-order window"), "{e}");
    let got = all(&db);
    assert_eq!(
        got[&l].iter().map(|x| x.0).collect::<Vec<_>>(),
        vec![9 * HOUR, 10 * HOUR]
    );
}

#[test]
fn a_corrupt_block_is_set_aside_and_the_rest_opens() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let base = 1_700_000_000_000 / (2 * HOUR) * (2 * HOUR);
    {
        let db = open(dir.path());
        write_hours(&db, 3, base, 4);
        db.flush().unwrap_or_else(|e| panic!("{e}"));
    }
    let blocks = dir.path().join("blocks");
    let mut names: Vec<_> = std::fs::read_dir(&blocks)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.file_name())).collect())
        .unwrap_or_default();
    names.sort();
    assert_eq!(names.len(), 2);
    let index = blocks.join(&names[0]).join("index");
    let mut data = std::fs::read(&index).unwrap_or_default();
    let mid = data.len() / 2;
    data[mid] ^= 0x55;
    std::fs::write(&index, data).unwrap_or_else(|e| panic!("{e}"));

    let db = open(dir.path());
    assert_eq!(db.stats().blocks.len(), 1);
    assert!(dir.path().join("corrupt").join(&names[0]).exists());
    assert!(
        all(&db)
            .values()
            .all(|v| v.iter().all(|(t, _)| *t >= base + 2 * HOUR))
    );
}

#[test]
fn keyed_appends_find_the_same_series() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = open(dir.path());
    for ts in [1000, 2000] {
        let mut app = db.appender();
        let line = app.line(b"cpu,host=a");
        let r = app
            .series_of_field(&line, b"usage", || {
                Labels::with_name("cpu_usage", [("host", "a")])
            })
            .unwrap_or_else(|e| panic!("{e}"));
        app.add(&r, ts, 1.5).unwrap_or_else(|e| panic!("{e}"));
        app.commit().unwrap_or_else(|e| panic!("{e}"));
    }
    let got = all(&db);
    assert_eq!(got.len(), 1);
    assert_eq!(got.values().next().map(Vec::len), Some(2));
    // Keys survive a flush that forgets idle series: the key is resolved again.
    db.flush().unwrap_or_else(|e| panic!("{e}"));
    db.flush().unwrap_or_else(|e| panic!("{e}"));
    let mut app = db.appender();
    let line = app.line(b"cpu,host=a");
    let r = app
        .series_of_field(&line, b"usage", || {
            Labels::with_name("cpu_usage", [("host", "a")])
        })
        .unwrap_or_else(|e| panic!("{e}"));
    app.add(&r, 3000, 2.0).unwrap_or_else(|e| panic!("{e}"));
    app.commit().unwrap_or_else(|e| panic!("{e}"));
    drop(db);
    let db = open(dir.path());
    assert_eq!(all(&db).values().next().map(Vec::len), Some(3));
}

#[test]
fn old_blocks_are_downsampled_then_deleted_and_queries_read_the_rollups() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let o = Options {
        retention_ms: 24 * HOUR,
        rollup_retention_ms: 48 * HOUR,
        ooo_window_ms: 100 * HOUR,
        ..Options::default()
    };
    let db = Db::open(dir.path(), o.clone()).unwrap_or_else(|e| panic!("{e}"));
    let base = 1_700_000_000_000 / (2 * HOUR) * (2 * HOUR);
    // One sample a minute for 2 h on two hosts: the value is the minute number.
    let mut batch = Vec::new();
    for h in 0..2 {
        batch.push(TimeSeries {
            labels: Labels::with_name("m", [("host", format!("h{h}"))]),
            samples: (0..120)
                .map(|i| Sample {
                    ts: base + i * 60_000,
                    value: i as f64,
                })
                .collect(),
        });
    }
    db.append(&batch).unwrap_or_else(|e| panic!("{e}"));
    db.flush().unwrap_or_else(|e| panic!("{e}"));
    let raw_before = all(&db);
    assert_eq!(raw_before.values().map(Vec::len).sum::<usize>(), 240);

    // 25 h later: past the raw retention, within the rollup retention.
    let n = db
        .apply_retention(base + 2 * HOUR + 25 * HOUR)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(n, 1);
    let block_dir = dir.path().join("blocks").join(&db.stats().blocks[0].id);
    assert!(!block_dir.join("chunks").exists(), "raw chunks are deleted");
    let m = [Matcher::equal("host", "h0")];
    let five = db
        .select(&m, base, base + 2 * HOUR)
        .unwrap_or_else(|e| panic!("{e}"));
    // Each 5-minute bucket answers with its last sample: minutes 4, 9, 14, ...
    let got: Vec<(i64, f64)> = five[0].samples.iter().map(|s| (s.ts, s.value)).collect();
    let want: Vec<(i64, f64)> = (0..24)
        .map(|b| (base + (b * 5 + 4) * 60_000, (b * 5 + 4) as f64))
        .collect();
    assert_eq!(got, want);
    // A caller stepping by an hour or more reads the 1-hour rollup.
    let hourly = db
        .select_step(&m, base, base + 2 * HOUR, HOUR)
        .unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<f64> = hourly[0].samples.iter().map(|s| s.value).collect();
    assert_eq!(got, vec![59.0, 119.0]);
    // The rollups survive a restart.
    drop(db);
    let db = Db::open(dir.path(), o).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        db.select(&m, base, base + 2 * HOUR)
            .map(|s| s[0].samples.len())
            .unwrap_or(0),
        24
    );
    // Past the rollup retention the block goes.
    assert_eq!(
        db.apply_retention(base + 2 * HOUR + 49 * HOUR).unwrap_or(0),
        1
    );
    assert!(all(&db).is_empty());
}

/// The series lookup reads indexes only and agrees with `select` on which series have
/// data in a range, over flushed blocks and the head.
#[test]
fn series_lookup_matches_select_without_samples() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = open(dir.path());
    let base = 1_700_000_000_000 / (2 * HOUR) * (2 * HOUR);
    write_hours(&db, 3, base, 4);
    db.flush().unwrap_or_else(|e| panic!("{e}"));
    // A fourth host only in the head, two hours later.
    db.append(&[TimeSeries {
        labels: Labels::with_name("cpu", [("host", "late")]),
        samples: vec![Sample {
            ts: base + 6 * HOUR,
            value: 1.0,
        }],
    }])
    .unwrap_or_else(|e| panic!("{e}"));
    let any = [Matcher::new("__name__", argus_core::MatchOp::Equal, "cpu")
        .unwrap_or_else(|e| panic!("{e}"))];
    let names = |v: Vec<Labels>| -> Vec<String> {
        v.iter()
            .map(|l| l.get("host").unwrap_or("").to_string())
            .collect()
    };
    let all = db
        .series_matching(&any, i64::MIN, i64::MAX)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(names(all), ["h0", "h1", "h2", "late"]);
    let early = db
        .series_matching(&any, base, base + HOUR)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(names(early), ["h0", "h1", "h2"]);
    let late = db
        .series_matching(&any, base + 5 * HOUR, base + 7 * HOUR)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(names(late), ["late"]);
    let selected: Vec<Labels> = db
        .select(&any, base + 5 * HOUR, base + 7 * HOUR)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|s| s.labels)
        .collect();
    assert_eq!(names(selected), ["late"]);
    let h1 = [
        Matcher::new("host", argus_core::MatchOp::RegexMatch, "h1|late")
            .unwrap_or_else(|e| panic!("{e}")),
    ];
    assert_eq!(
        names(
            db.series_matching(&h1, i64::MIN, i64::MAX)
                .unwrap_or_else(|e| panic!("{e}"))
        ),
        ["h1", "late"]
    );
}

/// A database in `dir` with 100 `cpu` hosts written a sample a minute from a 12 h
/// boundary `base`: `block_hours` flushed into blocks, then one more hour in the head.
fn blocks_then_head(dir: &std::path::Path, block_hours: i64) -> (Db, i64) {
    let db = open(dir);
    let base = 1_700_000_000_000 / (12 * HOUR) * (12 * HOUR);
    write_hours(&db, 100, base, block_hours);
    db.flush().unwrap_or_else(|e| panic!("{e}"));
    write_hours(&db, 100, base + block_hours * HOUR, 1);
    (db, base)
}

/// `select_map` hands each series' samples (blocks and head joined, in time order) to the
/// function and keeps what it returns; a `None` leaves the series out.
#[test]
fn select_map_sees_each_series_whole_and_keeps_what_it_returns() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // 100 hosts (enough to read on several threads): 4 h in blocks, 1 h in the head.
    let (db, base) = blocks_then_head(dir.path(), 4);
    let m = [Matcher::equal("__name__", "cpu")];
    let (lo, hi) = (base + HOUR + 1, base + 5 * HOUR - 1);
    let plain = db.select(&m, lo, hi).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plain.len(), 100);
    // Per series: its sample count, first and last time.
    let summary = |s: &[Sample]| {
        vec![
            Some(s.len() as f64),
            Some(s[0].ts as f64),
            Some(s[s.len() - 1].ts as f64),
        ]
    };
    let mapped = db
        .select_map(
            &m,
            lo,
            hi,
            0,
            argus_core::ReadLimits::NONE,
            &|s: &[Sample]| Some(summary(s)),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let want: Vec<(Labels, Vec<Option<f64>>)> = plain
        .iter()
        .map(|s| {
            let in_order = s.samples.windows(2).all(|w| w[0].ts < w[1].ts);
            assert!(in_order, "in time order");
            (s.labels.clone(), summary(&s.samples))
        })
        .collect();
    assert_eq!(mapped, want);
    // 4 h minus the edges: one sample a minute from base+1h+1ms through base+5h-1ms.
    assert_eq!(want[0].1[0], Some(239.0));
    let none = db
        .select_map(
            &m,
            lo,
            hi,
            0,
            argus_core::ReadLimits::NONE,
            &|_: &[Sample]| None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(none.is_empty());
}

/// A limited selection stops with `OverRead` once it selects more series or loads more
/// samples than allowed, and reads normally at exactly the limits.
#[test]
fn a_limited_selection_stops_at_its_limits() {
    use argus_core::{ReadLimit, ReadLimits};
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // 100 series, 120 samples each in the range: 2 h in blocks, 1 h in the head.
    let (db, base) = blocks_then_head(dir.path(), 2);
    let m = [Matcher::equal("__name__", "cpu")];
    let (lo, hi) = (base + HOUR, base + 3 * HOUR - 1);
    let limited = |series, samples| db.select_limited(&m, lo, hi, ReadLimits { series, samples });
    let all = limited(100, 12_000).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.len(), 100);
    assert_eq!(all.iter().map(|s| s.samples.len()).sum::<usize>(), 12_000);
    let over = |r: crate::error::Result<Vec<TimeSeries>>| match r {
        Err(crate::Error::OverRead { what, limit }) => (what, limit),
        other => panic!("expected OverRead, got {:?}", other.map(|v| v.len())),
    };
    assert_eq!(over(limited(99, 12_000)), (ReadLimit::Series, 99));
    assert_eq!(over(limited(100, 11_999)), (ReadLimit::Samples, 11_999));
    assert_eq!(over(limited(100, 0)), (ReadLimit::Samples, 0));
    // Head series with no sample in the range do not count against the series limit.
    let early = db
        .select_limited(
            &m,
            base,
            base + HOUR - 1,
            ReadLimits {
                series: 100,
                samples: 6_000,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(early.len(), 100);
}

/// On a filesystem that runs full, a write fails with the I/O error and the next ones are
/// still tried (not refused for good); once space is freed they succeed in the same
/// process, and after a reopen every acknowledged write is there and nothing else.
#[test]
fn a_full_disk_fails_writes_until_space_is_freed() {
    let fs = argus_testkit::smallfs::SmallFs::mount(3 << 20).unwrap_or_else(|e| panic!("{e}"));
    let dir = fs.path().join("db");
    let ballast = fs.path().join("ballast");
    let small = || Options {
        wal_segment_bytes: 256 << 10,
        ..opts()
    };
    let db = Db::open(&dir, small()).unwrap_or_else(|e| panic!("open: {e}"));
    std::fs::write(&ballast, vec![0u8; 1 << 20]).unwrap_or_else(|e| panic!("{e}"));
    // Each write: 50 new series with one sample (series records make WAL bytes quickly).
    let batch = |i: i64| -> Vec<TimeSeries> {
        (0..50)
            .map(|j| TimeSeries {
                labels: Labels::with_name(
                    "disk_fill",
                    [
                        ("batch", i.to_string()),
                        ("series", format!("{j:03}-{}", "p".repeat(40))),
                    ],
                ),
                samples: vec![Sample {
                    ts: 1_000 + i,
                    value: i as f64,
                }],
            })
            .collect()
    };
    let mut model: Model = BTreeMap::new();
    let keep = |model: &mut Model, b: &[TimeSeries]| {
        for s in b {
            let e = model.entry(s.labels.clone()).or_default();
            for x in &s.samples {
                e.insert(x.ts, x.value.to_bits());
            }
        }
    };
    let mut i = 0i64;
    let failure = loop {
        let b = batch(i);
        match db.append(&b) {
            Ok(()) => keep(&mut model, &b),
            Err(e) => break e,
        }
        i += 1;
        assert!(i < 100_000, "the disk never ran full");
    };
    assert!(i > 10, "only {i} writes fit");
    assert!(failure.to_string().contains("No space left"), "{failure}");
    i += 1;
    let again = db.append(&batch(i));
    assert!(
        again
            .as_ref()
            .is_err_and(|e| e.to_string().contains("No space left")),
        "{again:?}"
    );
    std::fs::remove_file(&ballast).unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..20 {
        i += 1;
        let b = batch(i);
        db.append(&b)
            .unwrap_or_else(|e| panic!("after freeing space, write {i}: {e}"));
        keep(&mut model, &b);
    }
    assert_eq!(all(&db), model_view(&model));
    drop(db);
    let db = Db::open(&dir, small()).unwrap_or_else(|e| panic!("reopen: {e}"));
    assert_eq!(all(&db), model_view(&model));
}

/// Parts filled on other threads and absorbed (the way a large write is parsed on every
/// core) commit as one batch; a batch large enough to be appended on several threads
/// reads back whole and in order, by matcher too, before and after a WAL replay — whose
/// series may arrive in any order of refs.
#[test]
fn parallel_parts_and_appends_read_back_across_a_replay() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = open(dir.path());
    const SERIES: usize = 2_000;
    const POINTS: i64 = 50; // 100 000 samples: above the parallel-append threshold
    let labels =
        |i: usize| Labels::with_name("m", [("i", i.to_string()), ("odd", (i % 2).to_string())]);
    let mut app = db.appender();
    let parts: Vec<crate::db::Batch<'_>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|half| {
                let mut part = app.part();
                s.spawn(move || {
                    // Each thread takes every other series, newest refs first: refs are
                    // created out of order across the two.
                    for i in (0..SERIES).rev().filter(|i| i % 2 == half) {
                        let line = part.line(format!("k{i}").as_bytes());
                        let h = part
                            .series_of_field(&line, b"v", || labels(i))
                            .unwrap_or_else(|e| panic!("{e}"));
                        for t in 0..POINTS {
                            part.add(&h, t * 1000, (i as i64 * 100 + t) as f64)
                                .unwrap_or_else(|e| panic!("{e}"));
                        }
                    }
                    part
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| panic!("part thread")))
            .collect()
    });
    for p in parts {
        app.absorb(p);
    }
    app.commit().unwrap_or_else(|e| panic!("{e}"));
    let check = |db: &Db| {
        let got = all(db);
        assert_eq!(got.len(), SERIES);
        for i in [0, 1, 777, SERIES - 1] {
            let want: Vec<(i64, u64)> = (0..POINTS)
                .map(|t| (t * 1000, ((i as i64 * 100 + t) as f64).to_bits()))
                .collect();
            assert_eq!(got.get(&labels(i)), Some(&want), "series {i}");
        }
        let odd = db
            .select(&[Matcher::equal("odd", "1")], i64::MIN, i64::MAX)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(odd.len(), SERIES / 2);
        assert!(odd.iter().all(|s| s.samples.len() == POINTS as usize));
    };
    check(&db);
    drop(db);
    check(&open(dir.path()));
}
