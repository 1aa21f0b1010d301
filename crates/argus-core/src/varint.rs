//! The one LEB128 varint codec of Argus, shared by every format that stores integers in
//! it: the TSDB's WAL, index, rollups and chunks, and the server's queue entries.
//!
//! A *uvarint* stores a `u64` seven bits per byte, least significant group first, with the
//! high bit of each byte set when another byte follows (1–10 bytes); it is Go's
//! `binary.PutUvarint`. A signed value is stored as the uvarint of its *zig-zag* mapping
//! (`0, -1, 1, -2, …` → `0, 1, 2, 3, …`, Go's `binary.PutVarint`), so small magnitudes of
//! either sign stay short. These bytes are on disk and in queues: changing them needs a
//! new format version (see `docs/formats/`).
//!
//! Decoding reads from the front of a slice and returns the value with the number of bytes
//! it took, or a [`VarintError`] that the caller maps to its own error, naming the field.

/// Why bytes are not a varint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VarintError {
    /// The input ended before a byte without the continuation bit.
    #[error("varint truncated")]
    Truncated,
    /// The value does not fit in 64 bits (a 10th byte above 1, or an 11th byte).
    #[error("varint overflows 64 bits")]
    Overflow,
}

/// Maps `i64` to `u64` so that small magnitudes of either sign become small numbers.
#[inline]
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The inverse of [`zigzag`].
#[inline]
pub fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Appends `v` as a uvarint.
#[inline]
pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` as the uvarint of its zig-zag mapping.
#[inline]
pub fn put_ivarint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, zigzag(v));
}

/// Bytes of a uvarint by the number of leading zero bits of its value: a table, because
/// the chunk encoder sizes every candidate encoding before it writes one.
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
pub fn uvarint_len(v: u64) -> usize {
    usize::from(LEN_BY_LEADING_ZEROS[v.leading_zeros() as usize])
}

/// How many bytes [`put_ivarint`] writes for `v`.
#[inline]
pub fn ivarint_len(v: i64) -> usize {
    uvarint_len(zigzag(v))
}

/// Reads a uvarint from the front of `buf`: the value and how many bytes it took.
/// Non-minimal encodings (`0x80 0x00` for 0) are accepted, as Go's `binary.Uvarint` does.
#[inline]
pub fn uvarint(buf: &[u8]) -> Result<(u64, usize), VarintError> {
    // Most varints in Argus's formats are one byte (deltas, counts, lengths).
    match buf.first() {
        Some(&b) if b < 0x80 => Ok((u64::from(b), 1)),
        _ => uvarint_long(buf),
    }
}

/// The general case of [`uvarint`], kept out of line so the one-byte case inlines small.
fn uvarint_long(buf: &[u8]) -> Result<(u64, usize), VarintError> {
    let mut v = 0u64;
    for (i, &b) in buf.iter().enumerate() {
        let shift = 7 * i as u32;
        // The 10th byte holds bit 63 only; anything above it, or an 11th byte, overflows.
        if shift == 63 && b > 1 {
            return Err(VarintError::Overflow);
        }
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok((v, i + 1));
        }
    }
    Err(VarintError::Truncated)
}

/// Reads a zig-zag varint from the front of `buf`: the value and how many bytes it took.
#[inline]
pub fn ivarint(buf: &[u8]) -> Result<(i64, usize), VarintError> {
    uvarint(buf).map(|(u, n)| (unzigzag(u), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_maps_small_magnitudes_to_small_numbers() {
        let cases = [
            (0i64, 0u64),
            (-1, 1),
            (1, 2),
            (-2, 3),
            (i64::MAX, u64::MAX - 1),
            (i64::MIN, u64::MAX),
        ];
        for (v, z) in cases {
            assert_eq!(zigzag(v), z, "zigzag({v})");
            assert_eq!(unzigzag(z), v, "unzigzag({z})");
        }
    }

    /// The bytes are the format: pinned against Go's `binary.PutUvarint` / `PutVarint`.
    #[test]
    fn bytes_are_gos() {
        let u: [(u64, &[u8]); 7] = [
            (0, &[0x00]),
            (1, &[0x01]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (300, &[0xac, 0x02]),
            (16_384, &[0x80, 0x80, 0x01]),
            (
                u64::MAX,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ];
        for (v, want) in u {
            let mut out = Vec::new();
            put_uvarint(&mut out, v);
            assert_eq!(out, want, "uvarint {v}");
            assert_eq!(uvarint_len(v), want.len(), "uvarint_len {v}");
            assert_eq!(uvarint(&out), Ok((v, want.len())));
        }
        let i: [(i64, &[u8]); 5] = [
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
        ];
        for (v, want) in i {
            let mut out = Vec::new();
            put_ivarint(&mut out, v);
            assert_eq!(out, want, "ivarint {v}");
            assert_eq!(ivarint_len(v), want.len(), "ivarint_len {v}");
            assert_eq!(ivarint(&out), Ok((v, want.len())));
        }
    }

    #[test]
    fn round_trips_and_len_matches_over_every_length() {
        let mut out = Vec::new();
        for bits in 0..64 {
            for v in [1u64 << bits, (1u64 << bits) - 1, (1u64 << bits) + 1] {
                out.clear();
                put_uvarint(&mut out, v);
                assert_eq!(uvarint_len(v), out.len(), "len of {v}");
                assert_eq!(uvarint(&out), Ok((v, out.len())));
                let s = v as i64;
                out.clear();
                put_ivarint(&mut out, s);
                assert_eq!(ivarint_len(s), out.len(), "len of {s}");
                assert_eq!(ivarint(&out), Ok((s, out.len())));
            }
        }
    }

    #[test]
    fn reads_only_the_front_and_accepts_non_minimal_bytes() {
        assert_eq!(uvarint(&[0xac, 0x02, 0xff]), Ok((300, 2)));
        assert_eq!(uvarint(&[0x80, 0x00]), Ok((0, 2)));
    }

    #[test]
    fn rejects_truncation_and_overflow() {
        assert_eq!(uvarint(&[]), Err(VarintError::Truncated));
        assert_eq!(uvarint(&[0x80, 0x80]), Err(VarintError::Truncated));
        assert_eq!(ivarint(&[0xff]), Err(VarintError::Truncated));
        // A 10th byte of 2 would be bit 64.
        let mut ten = [0xffu8; 10];
        ten[9] = 0x02;
        assert_eq!(uvarint(&ten), Err(VarintError::Overflow));
        // Ten continuation bytes: an 11th would be needed.
        assert_eq!(uvarint(&[0xff; 11]), Err(VarintError::Overflow));
    }
}
