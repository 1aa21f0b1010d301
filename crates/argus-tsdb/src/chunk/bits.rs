//! Bit streams: the writer and reader behind Gorilla XOR values, and the fixed-width
//! packing of frame-of-reference blocks.
//!
//! Bit order is *LSB-first*: stream bit `k` is bit `k % 8` of byte `k / 8`, and a field of
//! `w` bits is stored least significant bit first. With this order a field is one
//! little-endian load and a shift, which keeps unpacking branch-free.

use super::ChunkError;

/// Values per frame-of-reference block.
pub(crate) const BLOCK_LEN: usize = 128;

/// Appends bit fields to a byte vector.
pub(crate) struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    /// Bits held in `acc`, always < 64.
    n: u32,
}

impl<'a> BitWriter<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        BitWriter { out, acc: 0, n: 0 }
    }

    /// Writes the low `bits` bits of `v` (`bits` ≤ 64).
    #[inline]
    pub(crate) fn write(&mut self, v: u64, bits: u32) {
        debug_assert!(bits <= 64);
        if bits == 0 {
            return;
        }
        let v = if bits < 64 {
            v & ((1u64 << bits) - 1)
        } else {
            v
        };
        self.acc |= v << self.n;
        let total = self.n + bits;
        if total >= 64 {
            self.out.extend_from_slice(&self.acc.to_le_bytes());
            // The bits of `v` that did not fit; none when `acc` was empty.
            self.acc = if self.n == 0 { 0 } else { v >> (64 - self.n) };
            self.n = total - 64;
        } else {
            self.n = total;
        }
    }

    /// Flushes the last partial byte, padding it with zero bits.
    pub(crate) fn finish(self) {
        let bytes = self.n.div_ceil(8) as usize;
        self.out.extend_from_slice(&self.acc.to_le_bytes()[..bytes]);
    }
}

/// Reads bit fields from a byte slice, failing (never panicking) past its end.
pub(crate) struct BitReader<'a> {
    buf: &'a [u8],
    /// Next bit to read.
    pos: usize,
    what: &'static str,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        BitReader { buf, pos: 0, what }
    }

    /// Whole bytes touched so far.
    pub(crate) fn bytes_used(&self) -> usize {
        self.pos.div_ceil(8)
    }

    /// Reads `bits` (≤ 64) bits.
    #[inline]
    pub(crate) fn read(&mut self, bits: u32) -> Result<u64, ChunkError> {
        debug_assert!(bits <= 64);
        if self.pos + bits as usize > self.buf.len() * 8 {
            return Err(ChunkError::Truncated { what: self.what });
        }
        if bits == 0 {
            return Ok(0);
        }
        let byte = self.pos / 8;
        let shift = (self.pos % 8) as u32;
        let lo = load_le64(self.buf, byte) >> shift;
        let v = if bits + shift > 64 {
            // The field spills into a ninth byte.
            lo | (u64::from(self.buf.get(byte + 8).copied().unwrap_or(0)) << (64 - shift))
        } else {
            lo
        };
        self.pos += bits as usize;
        Ok(if bits < 64 {
            v & ((1u64 << bits) - 1)
        } else {
            v
        })
    }

    #[inline]
    pub(crate) fn read_bit(&mut self) -> Result<bool, ChunkError> {
        let byte = self
            .buf
            .get(self.pos / 8)
            .ok_or(ChunkError::Truncated { what: self.what })?;
        let bit = (byte >> (self.pos % 8)) & 1;
        self.pos += 1;
        Ok(bit == 1)
    }
}

/// Loads up to 8 bytes at `at` as a little-endian `u64`, zero-filling past the end.
#[inline]
fn load_le64(buf: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = buf.get(at..at + 8) {
        a.copy_from_slice(s);
    } else if let Some(s) = buf.get(at..) {
        a[..s.len()].copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

/// Bytes needed to pack `len` values of `width` bits.
#[inline]
pub(crate) fn packed_len(len: usize, width: u32) -> usize {
    (len * width as usize).div_ceil(8)
}

/// Packs the low `width` bits of each value, LSB-first.
pub(crate) fn pack(vals: impl Iterator<Item = u64>, width: u32, out: &mut Vec<u8>) {
    let mut w = BitWriter::new(out);
    for v in vals {
        w.write(v, width);
    }
    w.finish();
}

/// Scratch size for unpacking one block: the largest packed block (128 × 64 bits) plus
/// room for the 16-byte loads at its end.
const PADDED: usize = BLOCK_LEN * 8 + 16;

/// Unpacks `BLOCK_LEN` values of `width` bits from `src` (which holds `packed_len(len,
/// width)` bytes for some `len` ≤ `BLOCK_LEN`; values past `len` come out as zeros).
pub(crate) fn unpack(src: &[u8], width: u32, out: &mut [u64; BLOCK_LEN]) {
    let mut buf = [0u8; PADDED];
    let n = src.len().min(BLOCK_LEN * 8);
    buf[..n].copy_from_slice(&src[..n]);
    macro_rules! dispatch {
        ($($w:literal)*) => {
            match width {
                $($w => unpack_fixed::<$w>(&buf, out),)*
                _ => out.fill(0),
            }
        };
    }
    dispatch!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29
        30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58
        59 60 61 62 63 64);
}

/// Unpacking for one compile-time width: eight values span exactly `W` bytes, so every
/// offset and shift below is a constant once the inner loop unrolls.
#[inline(always)]
fn unpack_fixed<const W: usize>(buf: &[u8; PADDED], out: &mut [u64; BLOCK_LEN]) {
    let mask = if W == 64 { u64::MAX } else { (1u64 << W) - 1 };
    if W == 0 {
        out.fill(0);
        return;
    }
    for (g, group) in out.chunks_exact_mut(8).enumerate() {
        let base = g * W;
        for (j, slot) in group.iter_mut().enumerate() {
            let bit = j * W;
            let at = base + bit / 8;
            let shift = bit % 8;
            let v = if W + 7 <= 64 {
                let mut a = [0u8; 8];
                a.copy_from_slice(&buf[at..at + 8]);
                u64::from_le_bytes(a) >> shift
            } else {
                let mut a = [0u8; 16];
                a.copy_from_slice(&buf[at..at + 16]);
                (u128::from_le_bytes(a) >> shift) as u64
            };
            *slot = v & mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_and_reader_agree_on_mixed_widths() {
        let fields: Vec<(u64, u32)> = (0..200u64)
            .map(|i| {
                let w = (i * 7 % 65) as u32;
                let v = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                (if w == 64 { v } else { v & ((1u64 << w) - 1) }, w)
            })
            .collect();
        let mut out = Vec::new();
        let mut w = BitWriter::new(&mut out);
        for &(v, bits) in &fields {
            w.write(v, bits);
        }
        w.finish();
        let total: usize = fields.iter().map(|f| f.1 as usize).sum();
        assert_eq!(out.len(), total.div_ceil(8));
        let mut r = BitReader::new(&out, "test");
        for &(v, bits) in &fields {
            assert_eq!(r.read(bits), Ok(v), "width {bits}");
        }
        // The last byte is padded with zero bits, and nothing can be read past it.
        let pad = (8 - total % 8) % 8;
        assert_eq!(r.read(pad as u32), Ok(0));
        assert!(r.read_bit().is_err());
        assert!(r.read(1).is_err());
    }

    #[test]
    fn unpack_inverts_pack_for_every_width() {
        for width in 0..=64u32 {
            for len in [1usize, 7, 100, BLOCK_LEN] {
                let mask = if width == 64 {
                    u64::MAX
                } else {
                    (1u64 << width) - 1
                };
                let vals: Vec<u64> = (0..len as u64)
                    .map(|i| i.wrapping_mul(0xD6E8_FEB8_6659_FD93).rotate_left(i as u32) & mask)
                    .collect();
                let mut out = Vec::new();
                pack(vals.iter().copied(), width, &mut out);
                assert_eq!(out.len(), packed_len(len, width));
                let mut got = [0u64; BLOCK_LEN];
                unpack(&out, width, &mut got);
                assert_eq!(&got[..len], &vals[..], "width {width} len {len}");
                assert!(got[len..].iter().all(|&v| v == 0));
            }
        }
    }
}
