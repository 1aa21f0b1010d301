//! The *int stream*: how a sequence of `i64` (timestamps, grid residuals, decimal
//! mantissas) is stored. Both timestamps and values end up here, so this is where most
//! bytes are won.
//!
//! An int stream of `k` values is a header byte, then the *heads* (the first value and, for
//! delta-of-delta, the first delta) as zig-zag varints, then an optional common divisor,
//! then the *residuals* — the `k - order` values left after differencing `order` times —
//! divided by that divisor and stored either as patched frame-of-reference (PFOR) blocks of
//! 128 or as zig-zag varints. The encoder tries every order it is allowed and both
//! packings, and keeps the smallest. All arithmetic wraps, so any `i64` sequence
//! round-trips, sorted or not.
//!
//! A PFOR block stores each value as `base + offset` with the offsets bit-packed at one
//! width; values that do not fit (a missed scrape, a counter reset, a late sample) are
//! *exceptions* listed after the block with their position and exact offset, so one
//! outlier costs a few bytes instead of widening all 128 slots.

use super::ChunkError;
use super::bits::{self, BLOCK_LEN};
use super::reader::Reader;
use argus_core::varint::{ivarint_len, put_ivarint, put_uvarint, uvarint_len};

/// Header bits 0–1: how many times the values were differenced.
const ORDER_MASK: u8 = 0b0000_0011;
/// Header bit 2: residuals are zig-zag varints instead of PFOR blocks.
const VARINT_PACKING: u8 = 0b0000_0100;
/// Header bit 3: a common divisor (uvarint ≥ 2) follows the heads.
const HAS_DIVISOR: u8 = 0b0000_1000;
/// PFOR block header bit 7: an exception list follows the packed offsets.
const HAS_EXCEPTIONS: u8 = 0b1000_0000;

/// The highest differencing order: 0 = values, 1 = deltas, 2 = delta-of-deltas.
pub(crate) const MAX_ORDER: u8 = 2;

/// How one int stream will be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) order: u8,
    pub(crate) varint: bool,
    /// 1 when no divisor is stored.
    pub(crate) divisor: u64,
    /// Exact encoded size in bytes.
    pub(crate) size: usize,
}

/// Reusable buffers, so planning several candidates allocates once per chunk.
#[derive(Default)]
pub(crate) struct Scratch {
    /// Residuals per differencing order.
    resid: [Vec<i64>; MAX_ORDER as usize + 1],
    /// Each block's (min, max) per differencing order.
    ranges: [Vec<(i64, i64)>; MAX_ORDER as usize + 1],
}

/// The residuals of `vals` after differencing `order` times (wrapping).
fn residuals(vals: &[i64], order: u8, out: &mut Vec<i64>) {
    out.clear();
    let order = usize::from(order);
    if vals.len() <= order {
        return;
    }
    match order {
        0 => out.extend_from_slice(vals),
        1 => out.extend(vals.windows(2).map(|w| w[1].wrapping_sub(w[0]))),
        _ => out.extend(vals.windows(3).map(|w| {
            w[2].wrapping_sub(w[1])
                .wrapping_sub(w[1].wrapping_sub(w[0]))
        })),
    }
}

/// Greatest common divisor of the magnitudes, 0 when all are zero.
///
/// Most sequences have none, and this returns as soon as the divisor reaches 1. When one
/// exists (memory in KiB, timestamps in whole seconds), each value is checked against it
/// with a multiply instead of a division (see [`Divisor`]).
fn common_divisor(resid: &[i64]) -> u64 {
    let mut g = 0u64;
    let mut div: Option<Divisor> = None;
    for &r in resid {
        let a = r.unsigned_abs();
        if a == 0 || div.is_some_and(|d| d.divides(a)) {
            continue;
        }
        g = gcd(g, a);
        if g == 1 {
            return 1;
        }
        div = Some(Divisor::new(g));
    }
    g
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Divisibility test and exact division by a fixed `g = 2^shift · odd` without a hardware
/// divide: for odd `d`, `x` is a multiple of `d` exactly when `x · d⁻¹ mod 2⁶⁴ ≤ ⌊(2⁶⁴−1)/d⌋`,
/// and then `x · d⁻¹ mod 2⁶⁴` is the quotient (Granlund & Montgomery, 1994).
#[derive(Debug, Clone, Copy)]
struct Divisor {
    shift: u32,
    inverse: u64,
    limit: u64,
}

impl Divisor {
    fn new(g: u64) -> Self {
        debug_assert!(g != 0);
        let shift = g.trailing_zeros();
        let odd = g >> shift;
        // Newton's iteration doubles the correct low bits each step: 3 → 6 → … → 96.
        let mut inverse = odd;
        for _ in 0..5 {
            inverse = inverse.wrapping_mul(2u64.wrapping_sub(odd.wrapping_mul(inverse)));
        }
        Divisor {
            shift,
            inverse,
            limit: u64::MAX / odd,
        }
    }

    #[inline]
    fn divides(&self, a: u64) -> bool {
        a.trailing_zeros() >= self.shift
            && (a >> self.shift).wrapping_mul(self.inverse) <= self.limit
    }

    /// `x / g` for an exact multiple `x` of `g`.
    #[inline]
    fn exact_div(&self, x: i64) -> i64 {
        (x >> self.shift).wrapping_mul(self.inverse as i64)
    }
}

/// Chooses the cheapest way to store `vals` among `orders` and both packings.
///
/// Each order is first priced without exceptions (one min/max pass per block); only the
/// orders within a quarter of the best such price are then planned exactly, since
/// exceptions rarely save more than that and exact planning is the encoder's main cost.
pub(crate) fn plan(vals: &[i64], orders: &[u8], scratch: &mut Scratch) -> Plan {
    struct Candidate {
        order: u8,
        divisor: u64,
        fixed: usize,
        estimate: usize,
    }
    let mut cands: Vec<Candidate> = Vec::with_capacity(orders.len());
    for &order in orders {
        debug_assert!(order <= MAX_ORDER);
        let resid = &mut scratch.resid[usize::from(order)];
        residuals(vals, order, resid);
        let heads = vals.len().min(usize::from(order));
        let mut fixed = 1;
        if heads >= 1 {
            fixed += ivarint_len(vals[0]);
        }
        if heads >= 2 {
            fixed += ivarint_len(vals[1].wrapping_sub(vals[0]));
        }
        let mut divisor = common_divisor(resid);
        if divisor >= 2 && divisor <= i64::MAX as u64 {
            let d = Divisor::new(divisor);
            for r in resid.iter_mut() {
                *r = d.exact_div(*r);
            }
            fixed += uvarint_len(divisor);
        } else {
            divisor = 1;
        }
        let ranges = &mut scratch.ranges[usize::from(order)];
        ranges.clear();
        ranges.extend(resid.chunks(BLOCK_LEN).map(min_max));
        let estimate = resid
            .chunks(BLOCK_LEN)
            .zip(ranges.iter())
            .map(|(b, &(min, max))| {
                1 + ivarint_len(min)
                    + bits::packed_len(b.len(), width_of(max.wrapping_sub(min) as u64))
            })
            .sum::<usize>();
        cands.push(Candidate {
            order,
            divisor,
            fixed,
            estimate: fixed + estimate,
        });
    }
    let cutoff = cands
        .iter()
        .map(|c| c.estimate)
        .min()
        .map_or(usize::MAX, |m| m + m / 4 + 8);
    let mut best: Option<Plan> = None;
    for c in cands.iter().filter(|c| c.estimate <= cutoff) {
        let resid = &scratch.resid[usize::from(c.order)];
        let ranges = &scratch.ranges[usize::from(c.order)];
        let pfor: usize = resid
            .chunks(BLOCK_LEN)
            .zip(ranges.iter())
            .map(|(b, &range)| plan_block(b, range).size)
            .sum();
        let varint: usize = resid.iter().map(|&r| ivarint_len(r)).sum();
        let cand = Plan {
            order: c.order,
            varint: varint < pfor,
            divisor: c.divisor,
            size: c.fixed + pfor.min(varint),
        };
        if best.is_none_or(|b| cand.size < b.size) {
            best = Some(cand);
        }
    }
    best.unwrap_or(Plan {
        order: 0,
        varint: false,
        divisor: 1,
        size: 1,
    })
}

/// The smallest and largest value of a non-empty block.
#[inline]
fn min_max(block: &[i64]) -> (i64, i64) {
    // Four independent lanes, so the compare-and-select chains overlap.
    let mut lo = [i64::MAX; 4];
    let mut hi = [i64::MIN; 4];
    let mut quads = block.chunks_exact(4);
    for q in &mut quads {
        for j in 0..4 {
            lo[j] = lo[j].min(q[j]);
            hi[j] = hi[j].max(q[j]);
        }
    }
    for &x in quads.remainder() {
        lo[0] = lo[0].min(x);
        hi[0] = hi[0].max(x);
    }
    (
        lo[0].min(lo[1]).min(lo[2].min(lo[3])),
        hi[0].max(hi[1]).max(hi[2].max(hi[3])),
    )
}

/// Writes `vals` as planned by [`plan`].
pub(crate) fn write(vals: &[i64], plan: &Plan, scratch: &mut Scratch, out: &mut Vec<u8>) {
    let start = out.len();
    let mut header = plan.order;
    if plan.varint {
        header |= VARINT_PACKING;
    }
    if plan.divisor > 1 {
        header |= HAS_DIVISOR;
    }
    out.push(header);
    let heads = vals.len().min(usize::from(plan.order));
    if heads >= 1 {
        put_ivarint(out, vals[0]);
    }
    if heads >= 2 {
        put_ivarint(out, vals[1].wrapping_sub(vals[0]));
    }
    let resid = &mut scratch.resid[0];
    residuals(vals, plan.order, resid);
    if plan.divisor > 1 {
        put_uvarint(out, plan.divisor);
        let d = Divisor::new(plan.divisor);
        for r in resid.iter_mut() {
            *r = d.exact_div(*r);
        }
    }
    if plan.varint {
        for &r in resid.iter() {
            put_ivarint(out, r);
        }
    } else {
        for block in resid.chunks(BLOCK_LEN) {
            write_block(block, &plan_block(block, min_max(block)), out);
        }
    }
    debug_assert_eq!(out.len() - start, plan.size);
}

/// Appends `k` values decoded from an int stream to `out`.
pub(crate) fn read(r: &mut Reader<'_>, k: usize, out: &mut Vec<i64>) -> Result<(), ChunkError> {
    let header = r.u8("int stream header")?;
    if header & !(ORDER_MASK | VARINT_PACKING | HAS_DIVISOR) != 0 {
        return Err(ChunkError::Invalid {
            what: "int stream header",
            why: "reserved bits set",
        });
    }
    let order = header & ORDER_MASK;
    if order > MAX_ORDER {
        return Err(ChunkError::Invalid {
            what: "int stream header",
            why: "differencing order above 2",
        });
    }
    let start = out.len();
    out.reserve(k);
    let heads = k.min(usize::from(order));
    if heads >= 1 {
        out.push(r.ivarint("int stream first value")?);
    }
    if heads >= 2 {
        out.push(r.ivarint("int stream first delta")?);
    }
    let divisor = if header & HAS_DIVISOR != 0 {
        let d = r.uvarint("int stream divisor")?;
        if d < 2 || d > i64::MAX as u64 {
            return Err(ChunkError::Invalid {
                what: "int stream divisor",
                why: "divisor must be in 2..=i64::MAX",
            });
        }
        d as i64
    } else {
        1
    };
    let n_resid = k - heads;
    if header & VARINT_PACKING != 0 {
        for _ in 0..n_resid {
            out.push(r.ivarint("int stream varint residual")?);
        }
    } else {
        let mut tmp = [0u64; BLOCK_LEN];
        let mut left = n_resid;
        while left > 0 {
            let len = left.min(BLOCK_LEN);
            read_block(r, len, &mut tmp, out)?;
            left -= len;
        }
    }
    if divisor != 1 {
        for v in &mut out[start + heads..] {
            *v = v.wrapping_mul(divisor);
        }
    }
    // Undo the differencing: out[start..] holds the heads, then the residuals.
    let s = &mut out[start..];
    match heads {
        0 => {}
        1 => prefix_sum(s),
        _ => {
            prefix_sum(&mut s[1..]);
            prefix_sum(s);
        }
    }
    Ok(())
}

#[inline]
fn prefix_sum(s: &mut [i64]) {
    let mut acc = 0i64;
    for v in s {
        acc = acc.wrapping_add(*v);
        *v = acc;
    }
}

/// One PFOR block's parameters, and its exact encoded size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockPlan {
    base: i64,
    width: u32,
    exceptions: usize,
    size: usize,
}

/// Bits needed for `x` (0 for 0).
#[inline]
fn width_of(x: u64) -> u32 {
    64 - x.leading_zeros()
}

/// Bytes of the zig-zag varint of a non-negative offset that needs `w` (< 64) bits.
#[inline]
fn exception_len(w: u32) -> usize {
    (w as usize + 1).div_ceil(7)
}

/// Picks base and width for one block of at most `BLOCK_LEN` values.
///
/// The base is the minimum, or — when the smallest one to three values sit far below the
/// rest — the next smallest value, those few becoming exceptions. For each base, the width
/// comes from a histogram of offset widths: every width is priced as packed bytes plus
/// exception bytes, and the cheapest wins (ties go to the wider, exception-free layout).
pub(crate) fn plan_block(block: &[i64], (min, max): (i64, i64)) -> BlockPlan {
    debug_assert!(!block.is_empty() && block.len() <= BLOCK_LEN);
    debug_assert_eq!((min, max), min_max(block));
    let len = block.len();
    let full_width = width_of(max.wrapping_sub(min) as u64);
    let mut best = BlockPlan {
        base: min,
        width: full_width,
        exceptions: 0,
        size: 1 + ivarint_len(min) + bits::packed_len(len, full_width),
    };
    if full_width <= 2 {
        return best;
    }
    let hist = width_histogram(block, min);
    price_widths(&mut best, block, min, max, &hist, 0, 0);
    // At most three values in the bottom eighth of the range: they may be low outliers
    // (a counter reset, a negative spike) that widen every offset; try bases above them.
    let bottom = |w: u32| -> usize { hist[..=w as usize].iter().map(|&h| usize::from(h)).sum() };
    if full_width >= 4 && bottom(full_width - 4) <= 3 {
        let mut lows = [i64::MAX; 4];
        for &x in block {
            if x < lows[3] {
                let mut i = 3;
                while i > 0 && lows[i - 1] > x {
                    lows[i] = lows[i - 1];
                    i -= 1;
                }
                lows[i] = x;
            }
        }
        for k in 1..len.min(4) {
            let base = lows[k];
            // Only worth it if dropping the k lowest narrows the range by a bit or more.
            if base == lows[k - 1] || width_of(max.wrapping_sub(base) as u64) >= full_width {
                continue;
            }
            // The k values below `base` are exceptions whatever the width.
            let below_bytes: usize = lows[..k]
                .iter()
                .map(|&x| ivarint_len(x.wrapping_sub(base)))
                .sum();
            let hist = width_histogram(block, base);
            price_widths(&mut best, block, base, max, &hist, k, below_bytes);
        }
    }
    best
}

/// Counts, per bit width, the offsets `x - base` of the values at or above `base`.
#[inline]
fn width_histogram(block: &[i64], base: i64) -> [u16; 65] {
    // Four interleaved histograms, so increments of the same bucket do not wait on each
    // other; merged at the end.
    let mut h = [[0u16; 65]; 4];
    let mut quads = block.chunks_exact(4);
    for q in &mut quads {
        for (hist, &x) in h.iter_mut().zip(q) {
            if x >= base {
                hist[width_of(x.wrapping_sub(base) as u64) as usize] += 1;
            }
        }
    }
    for &x in quads.remainder() {
        if x >= base {
            h[0][width_of(x.wrapping_sub(base) as u64) as usize] += 1;
        }
    }
    let mut out = h[0];
    for hist in &h[1..] {
        for (o, &c) in out.iter_mut().zip(hist) {
            *o += c;
        }
    }
    out
}

/// Prices every width for one base and keeps the cheapest plan in `best`. `below` values
/// (costing `below_bytes` as exceptions) sit under the base.
fn price_widths(
    best: &mut BlockPlan,
    block: &[i64],
    base: i64,
    max: i64,
    hist: &[u16; 65],
    below: usize,
    below_bytes: usize,
) {
    let len = block.len();
    let top = width_of(max.wrapping_sub(base) as u64);
    let fixed = 1 + ivarint_len(base);
    let mut exc = below;
    let mut exc_bytes = below_bytes;
    let mut w = top;
    loop {
        let mut size = fixed + bits::packed_len(len, w);
        if exc > 0 {
            size += 1 + exc + exc_bytes;
        }
        if size < best.size {
            *best = BlockPlan {
                base,
                width: w,
                exceptions: exc,
                size,
            };
        }
        if w == 0 {
            break;
        }
        // Narrowing to w - 1 turns the values of width w into exceptions.
        let h = usize::from(hist[w as usize]);
        exc += h;
        exc_bytes += if w == 64 {
            // 64-bit offsets wrap to negative varints: price them exactly.
            block
                .iter()
                .filter(|&&x| x >= base && width_of(x.wrapping_sub(base) as u64) == 64)
                .map(|&x| ivarint_len(x.wrapping_sub(base)))
                .sum()
        } else {
            h * exception_len(w)
        };
        w -= 1;
    }
}

/// Writes one PFOR block: header byte (width | exception flag), zig-zag base, exception
/// count − 1, packed offsets (exceptions as 0), exception positions, exception offsets.
fn write_block(block: &[i64], p: &BlockPlan, out: &mut Vec<u8>) {
    let start = out.len();
    let mut header = p.width as u8;
    if p.exceptions > 0 {
        header |= HAS_EXCEPTIONS;
    }
    out.push(header);
    put_ivarint(out, p.base);
    if p.exceptions == 0 {
        bits::pack(
            block.iter().map(|&x| x.wrapping_sub(p.base) as u64),
            p.width,
            out,
        );
    } else {
        out.push((p.exceptions - 1) as u8);
        let limit = if p.width == 64 {
            u64::MAX
        } else {
            (1u64 << p.width) - 1
        };
        let fits = |x: i64| x >= p.base && (x.wrapping_sub(p.base) as u64) <= limit;
        bits::pack(
            block.iter().map(|&x| {
                if fits(x) {
                    x.wrapping_sub(p.base) as u64
                } else {
                    0
                }
            }),
            p.width,
            out,
        );
        for (i, &x) in block.iter().enumerate() {
            if !fits(x) {
                out.push(i as u8);
            }
        }
        for &x in block {
            if !fits(x) {
                put_ivarint(out, x.wrapping_sub(p.base));
            }
        }
    }
    debug_assert_eq!(out.len() - start, p.size, "block plan size for {block:?}");
}

/// Reads one PFOR block of `len` values, appending them to `out`.
fn read_block(
    r: &mut Reader<'_>,
    len: usize,
    tmp: &mut [u64; BLOCK_LEN],
    out: &mut Vec<i64>,
) -> Result<(), ChunkError> {
    let header = r.u8("PFOR block header")?;
    let width = u32::from(header & !HAS_EXCEPTIONS);
    if width > 64 {
        return Err(ChunkError::Invalid {
            what: "PFOR block header",
            why: "bit width above 64",
        });
    }
    let base = r.ivarint("PFOR block base")?;
    let exceptions = if header & HAS_EXCEPTIONS != 0 {
        usize::from(r.u8("PFOR exception count")?) + 1
    } else {
        0
    };
    if exceptions > len {
        return Err(ChunkError::Invalid {
            what: "PFOR exception count",
            why: "more exceptions than values in the block",
        });
    }
    let packed = r.bytes(bits::packed_len(len, width), "PFOR packed offsets")?;
    bits::unpack(packed, width, tmp);
    let start = out.len();
    out.extend(tmp[..len].iter().map(|&o| base.wrapping_add(o as i64)));
    if exceptions > 0 {
        let positions = r.bytes(exceptions, "PFOR exception positions")?;
        let mut prev: Option<u8> = None;
        for &pos in positions {
            if usize::from(pos) >= len || prev.is_some_and(|p| pos <= p) {
                return Err(ChunkError::Invalid {
                    what: "PFOR exception positions",
                    why: "position out of range or not increasing",
                });
            }
            prev = Some(pos);
        }
        for &pos in positions {
            let off = r.ivarint("PFOR exception offset")?;
            out[start + usize::from(pos)] = base.wrapping_add(off);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::synth::Rng;
    use super::*;

    fn round_trip(vals: &[i64], orders: &[u8]) -> Plan {
        let mut scratch = Scratch::default();
        let p = plan(vals, orders, &mut scratch);
        let mut out = vec![0xAA];
        write(vals, &p, &mut scratch, &mut out);
        assert_eq!(out.len() - 1, p.size);
        let mut r = Reader::new(&out[1..]);
        let mut got = vec![7];
        read(&mut r, vals.len(), &mut got).expect("decodes");
        assert_eq!(r.remaining(), 0);
        assert_eq!(&got[1..], vals);
        p
    }

    #[test]
    fn extremes_round_trip_under_every_order() {
        let vals = [i64::MIN, i64::MAX, 0, -1, i64::MAX, i64::MIN, 5];
        for order in 0..=MAX_ORDER {
            round_trip(&vals, &[order]);
        }
        for len in 0..4 {
            for order in 0..=MAX_ORDER {
                round_trip(&vals[..len], &[order]);
            }
        }
    }

    #[test]
    fn outliers_become_exceptions_not_wide_blocks() {
        // 300 small jittery values with one late sample and one missed scrape.
        let mut vals: Vec<i64> = (0..300).map(|i| (i * 7919) % 11).collect();
        vals[40] = 2_000;
        vals[200] = -10_000;
        let p = round_trip(&vals, &[0]);
        assert!(!p.varint);
        // 4 bits × 300 plus two exceptions and three block headers.
        assert!(p.size <= 150 + 20, "size {}", p.size);
    }

    #[test]
    fn common_divisor_is_factored_out() {
        let mut rng = Rng::new(3);
        let vals: Vec<i64> = (0..500).map(|_| 4096 * rng.below(97) as i64).collect();
        let p = round_trip(&vals, &[0, 1, 2]);
        assert_eq!(p.divisor, 4096);
        assert_eq!(p.order, 0);
        // 97 distinct multipliers need 7 bits.
        assert!(p.size <= 500 * 7 / 8 + 16, "size {}", p.size);
    }

    #[test]
    fn counters_choose_delta_and_pack_small() {
        let mut rng = Rng::new(4);
        let mut v = 1_000_000_000i64;
        let vals: Vec<i64> = (0..720)
            .map(|_| {
                v += 1000 + rng.below(13) as i64;
                v
            })
            .collect();
        let p = round_trip(&vals, &[0, 1, 2]);
        assert_eq!(p.order, 1);
        assert!(p.size <= 720 * 4 / 8 + 30, "size {}", p.size);
    }

    #[test]
    fn divisor_tests_and_divides_exactly() {
        for g in [2u64, 3, 10, 1000, 1024, 4096 * 3, 7 << 40, i64::MAX as u64] {
            let d = Divisor::new(g);
            for q in [
                0i64,
                1,
                -1,
                12_345,
                -987_654_321,
                i64::MAX / g as i64,
                i64::MIN / g as i64,
            ] {
                let Some(x) = q.checked_mul(g as i64) else {
                    continue;
                };
                assert!(d.divides(x.unsigned_abs()), "{x} by {g}");
                assert_eq!(d.exact_div(x), q, "{x} / {g}");
                if g > 2 {
                    assert!(!d.divides(x.unsigned_abs() + 1), "{x}+1 by {g}");
                }
            }
        }
        assert_eq!(common_divisor(&[0, 0]), 0);
        assert_eq!(common_divisor(&[1024 * 6, -1024 * 9, 0]), 3072);
        assert_eq!(common_divisor(&[i64::MIN, i64::MIN]), 1 << 63);
    }

    #[test]
    fn corrupt_headers_are_errors() {
        let mut got = Vec::new();
        let err = read(&mut Reader::new(&[0x80]), 3, &mut got);
        assert!(matches!(err, Err(ChunkError::Invalid { .. })));
        // PFOR block claiming width 65.
        let err = read(&mut Reader::new(&[0x00, 65, 0]), 3, &mut got);
        assert!(matches!(err, Err(ChunkError::Invalid { .. })));
        // Divisor 1 is not canonical and would hide a bug.
        let err = read(&mut Reader::new(&[HAS_DIVISOR, 1]), 3, &mut got);
        assert!(matches!(err, Err(ChunkError::Invalid { .. })));
        let err = read(&mut Reader::new(&[0x00, 3, 0]), 3, &mut got);
        assert!(matches!(err, Err(ChunkError::Truncated { .. })));
    }
}
