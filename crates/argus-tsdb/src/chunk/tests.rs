//! Round-trip, size and robustness tests for the whole chunk format.

use super::synth::{self, Kind, Rng};
use super::*;
use proptest::prelude::*;

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|f| f.to_bits()).collect()
}

/// Encodes, decodes into vectors that already hold data, and checks bit-exact equality.
fn round_trip(ts: &[i64], values: &[f64]) -> Vec<u8> {
    let mut buf = vec![0xEE];
    encode(ts, values, &mut buf);
    let chunk = &buf[1..];
    let (mut ts2, mut values2) = (vec![-1], vec![-1.5]);
    decode(chunk, &mut ts2, &mut values2).expect("a freshly encoded chunk decodes");
    assert_eq!(&ts2[1..], ts);
    assert_eq!(bits(&values2[1..]), bits(values));
    assert_eq!(sample_count(chunk), Ok(ts.len()));
    chunk.to_vec()
}

fn tag_of_values(chunk: &[u8]) -> u8 {
    // Re-walk the header and timestamps to find the values tag.
    let mut r = Reader::new(chunk);
    let n = read_header(&mut r).expect("header");
    let mut ts = Vec::new();
    timestamps::decode(&mut r, n, &mut ts).expect("timestamps");
    r.u8("tag").expect("values tag")
}

fn tag_of_timestamps(chunk: &[u8]) -> u8 {
    let mut r = Reader::new(chunk);
    read_header(&mut r).expect("header");
    r.u8("tag").expect("timestamps tag")
}

fn jittered(n: usize, jitter_ms: i64, seed: u64) -> Vec<i64> {
    synth::grid_timestamps(&mut Rng::new(seed), synth::START_MS, n, 10_000, jitter_ms)
}

#[test]
fn empty_chunk_is_two_bytes() {
    let buf = round_trip(&[], &[]);
    assert_eq!(buf, [FORMAT_VERSION, 0]);
}

#[test]
fn single_sample_round_trips() {
    round_trip(&[i64::MIN], &[f64::NAN]);
    round_trip(&[123], &[-0.0]);
    let buf = round_trip(&[synth::START_MS], &[1.0]);
    assert!(buf.len() <= 12, "{} bytes", buf.len());
}

#[test]
fn regular_interval_and_constant_value_cost_almost_nothing() {
    let ts: Vec<i64> = (0..720).map(|i| synth::START_MS + i * 10_000).collect();
    let buf = round_trip(&ts, &[0.0; 720]);
    assert_eq!(tag_of_timestamps(&buf), timestamps::CONST_INTERVAL);
    assert_eq!(tag_of_values(&buf), values::CONST_INT);
    // version, count, tag, t0, interval, tag, 0
    assert_eq!(buf.len(), 1 + 2 + 1 + 6 + 2 + 1 + 1);
    let buf = round_trip(&ts, &[0.25; 720]);
    assert_eq!(tag_of_values(&buf), values::CONST);
}

#[test]
fn regression_jittered_timestamps_take_four_bits() {
    // ±5 ms of jitter: 11 possible residuals around the grid, so 4 bits each.
    let ts = jittered(720, 5, 7);
    let buf = round_trip(&ts, &[1.0; 720]);
    assert_eq!(tag_of_timestamps(&buf), timestamps::GRID);
    assert!(buf.len() <= 720 * 4 / 8 + 32, "{} bytes", buf.len());
    // ±1 ms: 3 values, 2 bits.
    let ts = jittered(720, 1, 7);
    let buf = round_trip(&ts, &[1.0; 720]);
    assert!(buf.len() <= 720 * 2 / 8 + 32, "{} bytes", buf.len());
}

#[test]
fn missed_scrapes_and_late_samples_stay_cheap() {
    let mut ts = jittered(720, 2, 3);
    ts.remove(100);
    ts.remove(400);
    ts[600] += 900;
    let values = vec![3.0; ts.len()];
    let buf = round_trip(&ts, &values);
    // 3 bits per sample plus a handful of exceptions.
    assert!(buf.len() <= 718 * 3 / 8 + 60, "{} bytes", buf.len());
}

#[test]
fn two_decimal_gauges_use_decimal_and_pack() {
    let ts = jittered(720, 0, 1);
    let values: Vec<f64> = (0..720)
        .map(|i| f64::from(5_000 + (i * 37) % 200) / 100.0)
        .collect();
    let buf = round_trip(&ts, &values);
    assert_eq!(tag_of_values(&buf), values::DECIMAL);
    // 200 distinct mantissas: 8 bits each.
    assert!(buf.len() <= 720 + 40, "{} bytes", buf.len());
}

#[test]
fn stale_markers_and_special_values_are_exceptions_in_a_decimal_chunk() {
    let ts = jittered(240, 5, 2);
    let mut values: Vec<f64> = (0..240).map(|i| f64::from(i % 10) * 0.5).collect();
    values[0] = -0.0;
    values[10] = f64::from_bits(0x7ff0_0000_0000_0002); // Prometheus stale marker
    values[20] = f64::INFINITY;
    values[30] = f64::NEG_INFINITY;
    values[40] = 5e-324;
    values[239] = f64::from_bits(0xfff8_0000_dead_beef);
    let buf = round_trip(&ts, &values);
    assert_eq!(tag_of_values(&buf), values::DECIMAL);
}

#[test]
fn arbitrary_floats_fall_back_to_gorilla_or_raw() {
    let ts = jittered(300, 5, 9);
    let mut rng = Rng::new(5);
    let values = synth::values(Kind::ArbitraryFloat, &mut rng, &ts);
    let buf = round_trip(&ts, &values);
    assert_eq!(tag_of_values(&buf), values::GORILLA);
    let random: Vec<f64> = (0..300).map(|_| f64::from_bits(rng.next_u64())).collect();
    let buf = round_trip(&ts, &random);
    assert_eq!(tag_of_values(&buf), values::RAW);
    assert!(
        buf.len() <= 1 + 2 + 8 * 300 + 1 + 300,
        "{} bytes",
        buf.len()
    );
}

/// Bytes per sample of a small fleet in 720-sample chunks, per kind.
fn fleet_bytes_per_sample(jitter_ms: i64) -> std::collections::BTreeMap<Kind, f64> {
    let mut totals: std::collections::BTreeMap<Kind, (usize, usize)> = Default::default();
    let mut enc = Encoder::new();
    for s in synth::fleet(6, 720, jitter_ms, 11) {
        let mut buf = Vec::new();
        enc.encode(&s.ts, &s.values, &mut buf);
        let mut ts = Vec::new();
        let mut values = Vec::new();
        decode(&buf, &mut ts, &mut values).expect("decodes");
        assert_eq!((ts, bits(&values)), (s.ts.clone(), bits(&s.values)));
        let t = totals.entry(s.kind).or_default();
        t.0 += buf.len();
        t.1 += s.ts.len();
    }
    totals
        .into_iter()
        .map(|(k, (bytes, n))| (k, bytes as f64 / n as f64))
        .collect()
}

#[test]
fn regression_fleet_bytes_per_sample() {
    // Measured at the time of writing, plus ~5%: a guard against regressions, not a
    // target. With regular timestamps only the values cost anything.
    let limits = [
        (Kind::CpuPercent, 0.96),
        (Kind::MemoryBytes, 1.62),
        (Kind::Counter, 2.02),
        (Kind::Constant, 0.03),
        (Kind::LoadAverage, 0.62),
        (Kind::Uptime, 0.06),
    ];
    let got = fleet_bytes_per_sample(0);
    for (kind, limit) in limits {
        assert!(got[&kind] <= limit, "{kind:?}: {:.3} > {limit}", got[&kind]);
    }
    // ±5 ms of jitter adds about half a byte a sample (4 bits of grid residual).
    let got = fleet_bytes_per_sample(5);
    assert!(got[&Kind::Constant] <= 0.57, "{:.3}", got[&Kind::Constant]);
}

#[test]
fn errors_name_what_was_wrong() {
    let ts = jittered(50, 5, 1);
    let values: Vec<f64> = (0..50).map(f64::from).collect();
    let mut buf = Vec::new();
    encode(&ts, &values, &mut buf);
    let (mut t, mut v) = (Vec::new(), Vec::new());

    let mut long = buf.clone();
    long.extend_from_slice(&[0, 0]);
    assert_eq!(
        decode(&long, &mut t, &mut v),
        Err(ChunkError::TrailingBytes(2))
    );
    assert!(
        t.is_empty() && v.is_empty(),
        "a failed decode appends nothing"
    );

    let mut wrong = buf.clone();
    wrong[0] = 9;
    assert_eq!(
        decode(&wrong, &mut t, &mut v),
        Err(ChunkError::UnsupportedVersion(9))
    );

    assert_eq!(
        decode(&[FORMAT_VERSION, 0x80, 0x80, 0x80, 0x01], &mut t, &mut v),
        Err(ChunkError::TooManySamples(1 << 21))
    );
    assert_eq!(
        decode(&[FORMAT_VERSION, 1, 99], &mut t, &mut v),
        Err(ChunkError::UnknownTimestampEncoding(99))
    );
    assert_eq!(
        decode(&[FORMAT_VERSION, 1, 1, 0, 77], &mut t, &mut v),
        Err(ChunkError::UnknownValueEncoding(77))
    );
    assert_eq!(
        decode(&buf[..buf.len() - 1], &mut t, &mut v)
            .map_err(|e| matches!(e, ChunkError::Truncated { .. })),
        Err(true)
    );
    let msg = decode(&[FORMAT_VERSION, 1, 1], &mut t, &mut v)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        msg.as_deref(),
        Some("chunk truncated while reading first timestamp")
    );
}

#[test]
fn columns_round_trip_and_match_chunk_sections() {
    let ts = jittered(300, 5, 4);
    let values: Vec<f64> = (0..300).map(|i| f64::from(i * 3 % 17) / 4.0).collect();
    let (mut tcol, mut vcol, mut chunk) = (Vec::new(), Vec::new(), Vec::new());
    encode_timestamps(&ts, &mut tcol);
    encode_values(&values, &mut vcol);
    encode(&ts, &values, &mut chunk);
    // A chunk is the timestamp column followed by the value column's section.
    let header = 1 + 2;
    assert_eq!(chunk.len(), tcol.len() + vcol.len() - header);
    assert_eq!(&chunk[..tcol.len()], &tcol[..]);
    let (mut t, mut v) = (vec![1], vec![2.0]);
    decode_timestamps(&tcol, &mut t).expect("timestamp column");
    decode_values(&vcol, &mut v).expect("value column");
    assert_eq!(&t[1..], &ts[..]);
    assert_eq!(bits(&v[1..]), bits(&values));
    // Columns are not interchangeable, and decoders leave their output alone on error.
    assert!(decode_values(&tcol, &mut v).is_err());
    assert!(decode_timestamps(&tcol[..tcol.len() - 1], &mut t).is_err());
    assert_eq!(t.len(), 301);
    assert_eq!(v.len(), 301);
    let empty: (Vec<i64>, Vec<f64>) = (Vec::new(), Vec::new());
    let (mut e1, mut e2) = (Vec::new(), Vec::new());
    encode_timestamps(&empty.0, &mut e1);
    encode_values(&empty.1, &mut e2);
    assert_eq!(
        (e1.as_slice(), e2.as_slice()),
        (&[FORMAT_VERSION, 0][..], &[FORMAT_VERSION, 0][..])
    );
}

#[test]
fn counter_resets_cost_a_few_bytes() {
    let ts = jittered(720, 0, 1);
    let mut rng = Rng::new(8);
    let mut c = 5_000_000_000.0;
    let mut steady: Vec<f64> = Vec::new();
    for _ in 0..720 {
        c += (1_000 + rng.below(64)) as f64;
        steady.push(c);
    }
    // The same increments, restarting from 0 at sample 300 (an agent restart).
    let mut reset = steady.clone();
    for v in &mut reset[300..] {
        *v -= steady[299] + 1_000.0;
    }
    let a = round_trip(&ts, &steady).len();
    let b = round_trip(&ts, &reset).len();
    assert!(b <= a + 12, "steady {a} bytes, with a reset {b} bytes");
}

#[test]
fn large_chunks_round_trip() {
    for n in [8192, MAX_SAMPLES] {
        let ts = jittered(n, 3, n as u64);
        let values: Vec<f64> = (0..n).map(|i| ((i * 7) % 1000) as f64 / 100.0).collect();
        let buf = round_trip(&ts, &values);
        assert!(buf.len() < n * 2, "{} bytes for {n} samples", buf.len());
    }
}

#[test]
#[should_panic(expected = "exceeds")]
fn more_than_max_samples_is_a_caller_bug() {
    let n = MAX_SAMPLES + 1;
    encode(&vec![0; n], &vec![0.0; n], &mut Vec::new());
}

#[test]
#[should_panic(expected = "differ in length")]
fn mismatched_columns_are_a_caller_bug() {
    encode(&[1, 2], &[1.0], &mut Vec::new());
}

/// Sorted, duplicate-free timestamps from arbitrary `i64`s.
fn sorted_unique_ts() -> impl Strategy<Value = Vec<i64>> {
    prop::collection::vec(any::<i64>(), 0..400).prop_map(|mut v| {
        v.sort_unstable();
        v.dedup();
        v
    })
}

/// A realistic chunk: grid timestamps with ±5 ms jitter, values of one kind.
fn realistic_chunk() -> impl Strategy<Value = (Vec<i64>, Vec<f64>)> {
    (1usize..1200, 0i64..=5, any::<u64>(), 0usize..4).prop_map(|(n, jitter, seed, kind)| {
        let mut rng = Rng::new(seed);
        let ts = synth::grid_timestamps(&mut rng, synth::START_MS, n, 10_000, jitter);
        let values = match kind {
            // 2-decimal gauge random walk
            0 => {
                let mut m = 5_000i64;
                (0..n)
                    .map(|_| {
                        m = (m + rng.jitter(150)).clamp(0, 10_000);
                        m as f64 / 100.0
                    })
                    .collect()
            }
            // growing counter
            1 => {
                let mut c = rng.below(1 << 50) as f64;
                (0..n)
                    .map(|_| {
                        c += rng.below(1_000_000) as f64;
                        c
                    })
                    .collect()
            }
            2 => vec![[0.0, 17_179_869_184.0, 0.1][rng.below(3) as usize]; n],
            _ => synth::values(Kind::LoadAverage, &mut rng, &ts),
        };
        (ts, values)
    })
}

/// Values mixing decimals and arbitrary bit patterns (NaNs, infinities, subnormals).
fn mixed_values(n: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        prop_oneof![
            3 => (-100_000i64..100_000).prop_map(|m| m as f64 / 100.0),
            1 => any::<u64>().prop_map(f64::from_bits),
            1 => prop::sample::select(vec![
                -0.0,
                f64::NAN,
                f64::from_bits(0x7ff0_0000_0000_0002),
                f64::INFINITY,
                f64::NEG_INFINITY,
                5e-324,
                f64::MAX,
            ]),
        ],
        n,
    )
}

proptest! {
    #[test]
    fn arbitrary_samples_round_trip(
        (ts, raw) in sorted_unique_ts().prop_flat_map(|ts| {
            let n = ts.len();
            (Just(ts), prop::collection::vec(any::<u64>(), n))
        })
    ) {
        let values: Vec<f64> = raw.into_iter().map(f64::from_bits).collect();
        round_trip(&ts, &values);
    }

    #[test]
    fn unsorted_timestamps_round_trip_too(ts in prop::collection::vec(any::<i64>(), 0..300)) {
        let values = vec![1.5; ts.len()];
        round_trip(&ts, &values);
    }

    #[test]
    fn mostly_decimal_values_round_trip(
        (ts, values) in (1usize..600).prop_flat_map(|n| (Just(jittered(n, 5, n as u64)), mixed_values(n)))
    ) {
        round_trip(&ts, &values);
    }

    #[test]
    fn realistic_chunks_round_trip((ts, values) in realistic_chunk()) {
        let buf = round_trip(&ts, &values);
        // Even the worst of these kinds (a counter growing by up to 1e6) stays under
        // 4 bytes a sample once the chunk is big enough for headers not to matter.
        if ts.len() >= 100 {
            prop_assert!(buf.len() <= ts.len() * 4, "{} bytes for {} samples", buf.len(), ts.len());
        }
    }

    #[test]
    fn decoder_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let (mut t, mut v) = (Vec::new(), Vec::new());
        let _ = decode(&bytes, &mut t, &mut v);
        // With a valid header in front, the bytes reach the section decoders.
        let mut framed = vec![FORMAT_VERSION, 0xC8, 0x01];
        framed.extend_from_slice(&bytes);
        let _ = decode(&framed, &mut t, &mut v);
        prop_assert_eq!(t.len(), v.len());
        let _ = decode_timestamps(&framed, &mut t);
        let _ = decode_values(&framed, &mut v);
    }

    #[test]
    fn every_truncation_of_a_valid_chunk_is_an_error((ts, values) in realistic_chunk()) {
        let mut buf = Vec::new();
        encode(&ts, &values, &mut buf);
        let (mut t, mut v) = (Vec::new(), Vec::new());
        for cut in 0..buf.len() {
            prop_assert!(decode(&buf[..cut], &mut t, &mut v).is_err(), "prefix of {} bytes decoded", cut);
            prop_assert!(t.is_empty() && v.is_empty());
        }
    }

    #[test]
    fn corrupted_chunks_never_panic(
        (ts, values) in realistic_chunk(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut buf = Vec::new();
        encode(&ts, &values, &mut buf);
        for (at, x) in flips {
            let i = at.index(buf.len());
            buf[i] ^= x;
        }
        let (mut t, mut v) = (Vec::new(), Vec::new());
        if decode(&buf, &mut t, &mut v).is_ok() {
            prop_assert_eq!(t.len(), v.len());
        }
    }
}
