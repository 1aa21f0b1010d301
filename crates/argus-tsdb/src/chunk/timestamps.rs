//! The timestamps section of a chunk: one tag byte naming the encoding, then its payload.
//!
//! | tag | name             | payload                                                    |
//! |-----|------------------|------------------------------------------------------------|
//! | 1   | `CONST_INTERVAL` | zig-zag `t0`; if n ≥ 2, uvarint interval                   |
//! | 2   | `INTS`           | int stream of the n timestamps (differenced once or twice) |
//! | 3   | `GRID`           | zig-zag `t0`, uvarint step, gap list, int stream of n − 1 residuals |
//!
//! `GRID` is for agents that schedule on a fixed grid and stamp each sample a few
//! milliseconds off it: sample `i` sits in grid slot `s_i` and is `t0 + s_i·step +
//! residual`. Slots advance by one per sample except at listed gaps (missed samples), so
//! residuals of ±5 ms pack into 4 bits where deltas (±10 ms) need 5 and delta-of-deltas
//! (±20 ms) 6, and a missed scrape costs two bytes. The encoder prices `INTS` (orders 1
//! and 2) and `GRID` exactly and keeps the smallest.

use super::reader::Reader;
use super::{ChunkError, ints};
use argus_core::varint::{ivarint_len, put_ivarint, put_uvarint, uvarint_len};

pub(crate) const CONST_INTERVAL: u8 = 1;
pub(crate) const INTS: u8 = 2;
pub(crate) const GRID: u8 = 3;

/// Reusable buffers for encoding timestamps.
#[derive(Default)]
pub(crate) struct Scratch {
    ints: ints::Scratch,
    deltas: Vec<i64>,
    resid: Vec<i64>,
    gaps: Vec<(usize, u64)>,
}

/// Appends the timestamps section for `ts` (at least one).
pub(crate) fn encode(ts: &[i64], s: &mut Scratch, out: &mut Vec<u8>) {
    let t0 = ts[0];
    s.deltas.clear();
    s.deltas
        .extend(ts.windows(2).map(|w| w[1].wrapping_sub(w[0])));
    let Some(&d0) = s.deltas.first() else {
        out.push(CONST_INTERVAL);
        put_ivarint(out, t0);
        return;
    };
    if s.deltas.iter().all(|&d| d == d0) {
        out.push(CONST_INTERVAL);
        put_ivarint(out, t0);
        put_uvarint(out, d0 as u64);
        return;
    }
    let grid = grid_step(&s.deltas, ts).map(|step| {
        grid_residuals(ts, step, &mut s.gaps, &mut s.resid);
        let plan = ints::plan(&s.resid, &[0], &mut s.ints);
        let mut size = ivarint_len(t0) + uvarint_len(step as u64) + plan.size;
        size += uvarint_len(s.gaps.len() as u64);
        let mut prev = 0;
        for &(i, extra) in &s.gaps {
            size += uvarint_len((i - prev) as u64) + uvarint_len(extra);
            prev = i;
        }
        (step, plan, size)
    });
    // Grid residuals of jitter span half the range its deltas do, so when the grid beats
    // the deltas' exception-free packing by a bit a sample, differencing cannot win and
    // is not priced. It wins when clocks drift instead of jittering.
    let (dmin, dmax) = s
        .deltas
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), &d| (lo.min(d), hi.max(d)));
    let delta_bits = 64 - (dmax.wrapping_sub(dmin) as u64).leading_zeros() as usize;
    let grid_clearly_wins = grid
        .as_ref()
        .is_some_and(|&(_, _, size)| size * 8 <= s.deltas.len() * delta_bits.saturating_sub(1));
    let ints_plan = (!grid_clearly_wins).then(|| ints::plan(ts, &[1, 2], &mut s.ints));
    match (grid, ints_plan) {
        (Some((step, plan, size)), ints_plan) if ints_plan.is_none_or(|p| size < p.size) => {
            out.push(GRID);
            put_ivarint(out, t0);
            put_uvarint(out, step as u64);
            put_uvarint(out, s.gaps.len() as u64);
            let mut prev = 0;
            for &(i, extra) in &s.gaps {
                put_uvarint(out, (i - prev) as u64);
                put_uvarint(out, extra);
                prev = i;
            }
            ints::write(&s.resid, &plan, &mut s.ints, out);
        }
        (_, ints_plan) => {
            let plan = ints_plan.unwrap_or_else(|| ints::plan(ts, &[1, 2], &mut s.ints));
            out.push(INTS);
            ints::write(ts, &plan, &mut s.ints, out);
        }
    }
}

/// The grid step that best explains sorted timestamps, robust to missed samples: the
/// median delta says how many steps each delta spans, and the whole span divided by the
/// number of steps gives the step. None for unsorted input.
fn grid_step(deltas: &[i64], ts: &[i64]) -> Option<i64> {
    if deltas.iter().any(|&d| d <= 0) {
        return None;
    }
    // The median of up to 31 evenly spaced deltas is as good a guess and much cheaper
    // than the median of all.
    let mut sample = [0i64; 31];
    let k = deltas.len().min(sample.len());
    for (j, slot) in sample[..k].iter_mut().enumerate() {
        *slot = deltas[j * deltas.len() / k];
    }
    let sample = &mut sample[..k];
    sample.sort_unstable();
    let median = sample[k / 2];
    let half = median / 2;
    let steps: i128 = deltas
        .iter()
        .map(|&d| {
            // Nearly every delta spans one step; divide only for the others.
            let n = if (d - median).abs() <= half {
                1
            } else {
                (d.saturating_add(half) / median).max(1)
            };
            i128::from(n)
        })
        .sum();
    let span = i128::from(*ts.last()?) - i128::from(ts[0]);
    i64::try_from((span + steps / 2) / steps).ok()
}

/// Places each sample on its nearest free grid slot after the previous one's. Fills
/// `resid` with the n − 1 offsets from the slots and `gaps` with `(sample index, slots
/// skipped)` wherever samples are missing.
fn grid_residuals(ts: &[i64], step: i64, gaps: &mut Vec<(usize, u64)>, resid: &mut Vec<i64>) {
    gaps.clear();
    resid.clear();
    let t0 = ts[0];
    let step_wide = i128::from(step);
    let half = step / 2;
    let mut slot: i128 = 0;
    for (i, &t) in ts.iter().enumerate().skip(1) {
        let off = i128::from(t) - i128::from(t0);
        let next_at = (slot + 1) * step_wide;
        // Usually the sample is within half a step of the next slot: no division needed.
        let next = if (off - next_at).abs() <= i128::from(half) {
            slot + 1
        } else {
            let nearest = (off + step_wide / 2).div_euclid(step_wide);
            nearest.max(slot + 1)
        };
        if next > slot + 1 {
            gaps.push((i, (next - slot - 1) as u64));
        }
        slot = next;
        // Wrapping, exactly as the decoder rebuilds it.
        resid.push(
            t.wrapping_sub(t0)
                .wrapping_sub((slot as i64).wrapping_mul(step)),
        );
    }
}

/// Appends `n` (at least one) timestamps decoded from a timestamps section.
pub(crate) fn decode(r: &mut Reader<'_>, n: usize, out: &mut Vec<i64>) -> Result<(), ChunkError> {
    match r.u8("timestamps encoding tag")? {
        CONST_INTERVAL => {
            let t0 = r.ivarint("first timestamp")?;
            let step = if n >= 2 {
                r.uvarint("timestamp interval")? as i64
            } else {
                0
            };
            let mut t = t0;
            out.extend((0..n).map(|_| {
                let v = t;
                t = t.wrapping_add(step);
                v
            }));
        }
        INTS => ints::read(r, n, out)?,
        GRID => decode_grid(r, n, out)?,
        tag => return Err(ChunkError::UnknownTimestampEncoding(tag)),
    }
    Ok(())
}

fn decode_grid(r: &mut Reader<'_>, n: usize, out: &mut Vec<i64>) -> Result<(), ChunkError> {
    let t0 = r.ivarint("first timestamp")?;
    let step = r.uvarint("grid step")? as i64;
    let gap_count = r.uvarint("grid gap count")?;
    if gap_count >= n as u64 {
        return Err(ChunkError::Invalid {
            what: "grid gap count",
            why: "more gaps than samples",
        });
    }
    let mut gaps = Vec::with_capacity(gap_count as usize);
    let mut prev = 0u64;
    for _ in 0..gap_count {
        let d = r.uvarint("grid gap position")?;
        let at = prev.saturating_add(d);
        if d == 0 || at >= n as u64 {
            return Err(ChunkError::Invalid {
                what: "grid gap position",
                why: "not increasing or past the last sample",
            });
        }
        gaps.push((at as usize, r.uvarint("grid gap length")?));
        prev = at;
    }
    let start = out.len();
    out.push(t0);
    ints::read(r, n - 1, out)?;
    let mut gaps = gaps.into_iter().peekable();
    let mut slot = 0i64;
    for (i, v) in out[start..].iter_mut().enumerate().skip(1) {
        slot = slot.wrapping_add(1);
        if let Some((_, extra)) = gaps.next_if(|&(at, _)| at == i) {
            slot = slot.wrapping_add(extra as i64);
        }
        *v = v.wrapping_add(t0).wrapping_add(slot.wrapping_mul(step));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_step_ignores_missed_samples() {
        let ts: Vec<i64> = (0..100i64)
            .filter(|i| i % 17 != 5)
            .map(|i| 1_700_000_000_000 + i * 10_000 + (i * 7919) % 11 - 5)
            .collect();
        let deltas: Vec<i64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(grid_step(&deltas, &ts), Some(10_000));
    }
}
