//! Rollups: per-bucket aggregates (min, max, sum, count, last) of a block's series, kept
//! when the raw samples age out.
//!
//! A block older than the raw retention is **downsampled**: its rollup files are written
//! (5-minute and 1-hour buckets), its raw `chunks` file is deleted, and queries over it
//! read the rollups instead: each bucket answers as one sample, its last value at the time
//! of its last raw sample, so plain selectors and the lookback keep working on old data.
//! Blocks are deleted at the rollup retention.
//!
//! File `rollup-<resolution in ms>`:
//! `"ARGR" 0x01 | resolution: uvarint | n_series: uvarint | per series (index order):
//! n_buckets: uvarint, then six chunks, each `len: uvarint` + a chunk (chunk.md) whose
//! timestamps are the bucket starts and whose values are, in order: min, max, sum, count,
//! last, and the timestamp of the last sample | crc32 u32 LE`.

use crate::chunk;
use crate::encoding::Frame;
use crate::error::FormatError;
use argus_core::Sample;
use argus_core::varint::put_uvarint;

const FRAME: Frame = Frame {
    magic: *b"ARGR",
    version: 1,
    name: "rollup",
    header: "rollup header",
    magic_name: "rollup magic",
};

/// The resolutions written, in ms.
pub const RESOLUTIONS: [i64; 2] = [300_000, 3_600_000];

/// Prometheus's stale marker: not a value, never aggregated.
const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// One bucket's aggregates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub start: i64,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub count: f64,
    pub last: f64,
    pub last_ts: i64,
}

/// Aggregates sorted samples into buckets of `resolution` ms aligned to the epoch.
pub fn aggregate(ts: &[i64], vs: &[f64], resolution: i64) -> Vec<Bucket> {
    let mut out: Vec<Bucket> = Vec::new();
    for (&t, &v) in ts.iter().zip(vs) {
        if v.to_bits() == STALE_NAN_BITS {
            continue;
        }
        let start = t.div_euclid(resolution) * resolution;
        match out.last_mut() {
            Some(b) if b.start == start => {
                // min/max ignore NaN unless every value is NaN, as min_over_time does.
                if v < b.min || b.min.is_nan() {
                    b.min = v;
                }
                if v > b.max || b.max.is_nan() {
                    b.max = v;
                }
                b.sum += v;
                b.count += 1.0;
                b.last = v;
                b.last_ts = t;
            }
            _ => out.push(Bucket {
                start,
                min: v,
                max: v,
                sum: v,
                count: 1.0,
                last: v,
                last_ts: t,
            }),
        }
    }
    out
}

/// Encodes one rollup file for `series` (in the block's index order).
pub fn encode(resolution: i64, series: &[Vec<Bucket>]) -> Vec<u8> {
    let mut out = FRAME.start();
    put_uvarint(&mut out, resolution as u64);
    put_uvarint(&mut out, series.len() as u64);
    let mut enc = chunk::Encoder::new();
    let mut buf = Vec::new();
    for buckets in series {
        put_uvarint(&mut out, buckets.len() as u64);
        let starts: Vec<i64> = buckets.iter().map(|b| b.start).collect();
        let columns: [Vec<f64>; 6] = [
            buckets.iter().map(|b| b.min).collect(),
            buckets.iter().map(|b| b.max).collect(),
            buckets.iter().map(|b| b.sum).collect(),
            buckets.iter().map(|b| b.count).collect(),
            buckets.iter().map(|b| b.last).collect(),
            buckets.iter().map(|b| b.last_ts as f64).collect(),
        ];
        for col in &columns {
            for (t, v) in starts
                .chunks(chunk::MAX_SAMPLES)
                .zip(col.chunks(chunk::MAX_SAMPLES))
            {
                buf.clear();
                enc.encode(t, v, &mut buf);
                put_uvarint(&mut out, buf.len() as u64);
                out.extend_from_slice(&buf);
            }
        }
    }
    Frame::finish(&mut out);
    out
}

/// Decodes a rollup file into per-series buckets.
pub fn decode(data: &[u8]) -> Result<(i64, Vec<Vec<Bucket>>), FormatError> {
    let mut r = FRAME.open(data)?;
    let resolution =
        i64::try_from(r.uvarint("resolution")?).map_err(|_| FormatError::Invalid("resolution"))?;
    let n = r.count("series count", 1)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let nb = r.count("bucket count", 0)?;
        let mut cols: Vec<Vec<f64>> = Vec::with_capacity(6);
        let mut starts = Vec::new();
        for _ in 0..6 {
            let (mut ts, mut vs) = (Vec::with_capacity(nb), Vec::with_capacity(nb));
            let mut left = nb;
            while left > 0 {
                let len = r.uvarint("rollup chunk length")? as usize;
                let bytes = r.bytes(len, "rollup chunk")?;
                let before = ts.len();
                chunk::decode(bytes, &mut ts, &mut vs)
                    .map_err(|_| FormatError::Invalid("rollup chunk"))?;
                let got = ts.len() - before;
                if got == 0 || got > left {
                    return Err(FormatError::Invalid("rollup chunk sample count"));
                }
                left -= got;
            }
            starts = ts;
            cols.push(vs);
        }
        let buckets = (0..nb)
            .map(|i| Bucket {
                start: starts[i],
                min: cols[0][i],
                max: cols[1][i],
                sum: cols[2][i],
                count: cols[3][i],
                last: cols[4][i],
                last_ts: cols[5][i] as i64,
            })
            .collect();
        out.push(buckets);
    }
    if r.remaining() != 0 {
        return Err(FormatError::Invalid("rollup length (leftover bytes)"));
    }
    Ok((resolution, out))
}

/// The samples a downsampled series answers with: each bucket's last value at its time.
pub fn as_samples(buckets: &[Bucket], start: i64, end: i64, out: &mut Vec<Sample>) {
    out.extend(
        buckets
            .iter()
            .filter(|b| b.last_ts >= start && b.last_ts <= end)
            .map(|b| Sample {
                ts: b.last_ts,
                value: b.last,
            }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_per_bucket_and_skips_stale_markers() {
        let ts = [0, 100_000, 299_999, 300_000, 650_000, 660_000];
        let vs = [1.0, 5.0, 3.0, f64::from_bits(STALE_NAN_BITS), 2.5, -1.0];
        let b = aggregate(&ts, &vs, 300_000);
        assert_eq!(b.len(), 2);
        assert_eq!(
            b[0],
            Bucket {
                start: 0,
                min: 1.0,
                max: 5.0,
                sum: 9.0,
                count: 3.0,
                last: 3.0,
                last_ts: 299_999
            }
        );
        assert_eq!(
            (b[1].start, b[1].min, b[1].max, b[1].count),
            (600_000, -1.0, 2.5, 2.0)
        );
    }

    #[test]
    fn rollup_file_round_trips_and_detects_damage() {
        let series = vec![
            aggregate(&[0, 10_000, 400_000], &[1.0, 2.0, 3.5], 300_000),
            Vec::new(),
            aggregate(&[5_000_000], &[42.0], 300_000),
        ];
        let data = encode(300_000, &series);
        assert_eq!(decode(&data), Ok((300_000, series)));
        let mut bad = data.clone();
        bad[8] ^= 1;
        assert_eq!(decode(&bad), Err(FormatError::Checksum("rollup")));
    }
}
