//! LEB128 varints, zig-zag signed mapping, and the bounds-checked [`Reader`] every decoder
//! in this module reads through.
//!
//! A *uvarint* stores a `u64` seven bits per byte, least significant group first, with the
//! high bit of each byte set when another byte follows (1–10 bytes). A signed value is
//! stored as the uvarint of its *zig-zag* mapping (`0, -1, 1, -2, …` → `0, 1, 2, 3, …`), so
//! small magnitudes of either sign stay short.

use super::ChunkError;

/// Maps `i64` to `u64` so that small magnitudes of either sign become small numbers.
#[inline]
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The inverse of [`zigzag`].
#[inline]
pub(crate) fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Appends `v` as a uvarint.
#[inline]
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` as the uvarint of its zig-zag mapping.
#[inline]
pub(crate) fn put_ivarint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, zigzag(v));
}

/// Bytes of a uvarint by the number of leading zero bits of its value.
const LEN_BY_LEADING_ZEROS: [u8; 65] = {
    let mut t = [0u8; 65];
    let mut lz = 0;
    while lz <= 64 {
        let bits = 64 - lz;
        // One byte per started group of 7 bits; 0 still takes one byte.
        t[lz] = if bits == 0 { 1 } else { bits.div_ceil(7) as u8 };
        lz += 1;
    }
    t
};

/// How many bytes [`put_uvarint`] writes for `v`.
#[inline]
pub(crate) fn uvarint_len(v: u64) -> usize {
    usize::from(LEN_BY_LEADING_ZEROS[v.leading_zeros() as usize])
}

/// How many bytes [`put_ivarint`] writes for `v`.
#[inline]
pub(crate) fn ivarint_len(v: i64) -> usize {
    uvarint_len(zigzag(v))
}

/// A cursor over an encoded chunk. Every read is bounds-checked and names the field it was
/// reading when the input runs out, so a corrupt chunk yields a [`ChunkError`], never a panic.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet consumed.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The unconsumed bytes, without consuming them.
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, ChunkError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(ChunkError::Truncated { what })?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn bytes(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], ChunkError> {
        if len > self.remaining() {
            return Err(ChunkError::Truncated { what });
        }
        let s = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(s)
    }

    pub(crate) fn u64_le(&mut self, what: &'static str) -> Result<u64, ChunkError> {
        let b = self.bytes(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    pub(crate) fn uvarint(&mut self, what: &'static str) -> Result<u64, ChunkError> {
        let mut v: u64 = 0;
        let mut shift = 0u32;
        loop {
            let b = self.u8(what)?;
            if shift == 63 && b > 1 {
                return Err(ChunkError::Invalid {
                    what,
                    why: "varint overflows 64 bits",
                });
            }
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
            shift += 7;
        }
    }

    pub(crate) fn ivarint(&mut self, what: &'static str) -> Result<i64, ChunkError> {
        self.uvarint(what).map(unzigzag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_maps_small_magnitudes_to_small_numbers() {
        assert_eq!(zigzag(0), 0);
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
        assert_eq!(zigzag(-2), 3);
        assert_eq!(zigzag(i64::MAX), u64::MAX - 1);
        assert_eq!(zigzag(i64::MIN), u64::MAX);
        for v in [0, 1, -1, 63, -64, i64::MAX, i64::MIN, 1 << 40] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn uvarint_round_trips_and_len_matches() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u64::MAX >> 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_uvarint(&mut out, v);
            assert_eq!(out.len(), uvarint_len(v), "len of {v}");
            let mut r = Reader::new(&out);
            assert_eq!(r.uvarint("v"), Ok(v));
            assert_eq!(r.remaining(), 0);
        }
        assert_eq!(uvarint_len(u64::MAX), 10);
    }

    #[test]
    fn uvarint_rejects_overflow_and_truncation() {
        let too_long = [0xffu8; 10];
        assert!(matches!(
            Reader::new(&too_long).uvarint("x"),
            Err(ChunkError::Invalid { .. })
        ));
        assert_eq!(
            Reader::new(&[0x80, 0x80]).uvarint("x"),
            Err(ChunkError::Truncated { what: "x" })
        );
    }
}
