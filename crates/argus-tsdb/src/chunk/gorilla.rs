//! Gorilla XOR encoding of floats (Pelkonen et al., "Gorilla: A Fast, Scalable, In-Memory
//! Time Series Database", VLDB 2015, §4.1.2), the fallback for values that are not
//! decimals.
//!
//! The first value is stored as its 64 raw bits. Each later value is XORed with its
//! predecessor; the *window* is the span of meaningful bits between the XOR's leading and
//! trailing zeros. Per value:
//!
//! - `0`: same bits as the previous value;
//! - `1 0` + the XOR's bits inside the previous window, when they fit in it;
//! - `1 1` + 5 bits of leading zeros (capped at 31) + 6 bits of window length (0 means
//!   64) + the window's bits; this window becomes the previous one.
//!
//! Fields are written LSB-first (see [`super::bits`]); the stream is padded with zero bits
//! to a whole byte.

use super::ChunkError;
use super::bits::{BitReader, BitWriter};

/// Appends the Gorilla encoding of `values` (at least one).
pub(crate) fn encode(values: &[f64], out: &mut Vec<u8>) {
    let Some((&first, rest)) = values.split_first() else {
        return;
    };
    let mut w = BitWriter::new(out);
    let mut prev = first.to_bits();
    w.write(prev, 64);
    // No window yet: a leading-zero count above 64 never fits.
    let mut lead = u32::MAX;
    let mut trail = 0u32;
    for &v in rest {
        let bits = v.to_bits();
        let x = bits ^ prev;
        prev = bits;
        if x == 0 {
            w.write(0, 1);
            continue;
        }
        let l = x.leading_zeros().min(31);
        let t = x.trailing_zeros();
        if l >= lead && t >= trail {
            w.write(0b01, 2);
            w.write(x >> trail, 64 - lead - trail);
        } else {
            let len = 64 - l - t;
            w.write(0b11, 2);
            w.write(u64::from(l), 5);
            w.write(u64::from(len & 63), 6);
            w.write(x >> t, len);
            lead = l;
            trail = t;
        }
    }
    w.finish();
}

/// Decodes `n` values from the front of `buf`, returning how many bytes they took.
pub(crate) fn decode(buf: &[u8], n: usize, out: &mut Vec<f64>) -> Result<usize, ChunkError> {
    if n == 0 {
        return Ok(0);
    }
    let mut r = BitReader::new(buf, "Gorilla values");
    let mut prev = r.read(64)?;
    out.push(f64::from_bits(prev));
    let mut window: Option<(u32, u32)> = None;
    for _ in 1..n {
        if r.read_bit()? {
            let (lead, trail) = if r.read_bit()? {
                let lead = r.read(5)? as u32;
                let len = match r.read(6)? as u32 {
                    0 => 64,
                    l => l,
                };
                if lead + len > 64 {
                    return Err(ChunkError::Invalid {
                        what: "Gorilla values",
                        why: "window wider than 64 bits",
                    });
                }
                let w = (lead, 64 - lead - len);
                window = Some(w);
                w
            } else {
                window.ok_or(ChunkError::Invalid {
                    what: "Gorilla values",
                    why: "window reused before one was set",
                })?
            };
            let x = r.read(64 - lead - trail)? << trail;
            prev ^= x;
        }
        out.push(f64::from_bits(prev));
    }
    Ok(r.bytes_used())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_special_values_bit_exactly() {
        let vals = [
            1.0,
            1.0,
            -0.0,
            f64::from_bits(0x7ff0_0000_0000_0002),
            f64::INFINITY,
            f64::NEG_INFINITY,
            5e-324,
            std::f64::consts::PI,
            f64::from_bits(u64::MAX),
            0.0,
        ];
        let mut out = Vec::new();
        encode(&vals, &mut out);
        let mut got = Vec::new();
        assert_eq!(decode(&out, vals.len(), &mut got), Ok(out.len()));
        let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&vals));
    }

    #[test]
    fn repeated_values_cost_one_bit() {
        let vals = vec![42.5; 801];
        let mut out = Vec::new();
        encode(&vals, &mut out);
        assert_eq!(out.len(), 8 + 100);
    }
}
