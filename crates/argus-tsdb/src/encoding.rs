//! Small byte-level helpers shared by the WAL, index and block formats: length-prefixed
//! strings and a bounds-checked reader that names what it was reading when the input ends
//! or is invalid. Varints are [`argus_core::varint`]'s (LEB128, zig-zag for signed values).

use crate::error::FormatError;
use argus_core::varint::{self, VarintError, put_uvarint};

pub fn put_str(out: &mut Vec<u8>, s: &str) {
    put_uvarint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// A cursor over bytes; every read names its field for the error.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, FormatError> {
        let b = *self.buf.get(self.pos).ok_or(FormatError::Truncated(what))?;
        self.pos += 1;
        Ok(b)
    }

    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FormatError> {
        if self.remaining() < n {
            return Err(FormatError::Truncated(what));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn u32_le(&mut self, what: &'static str) -> Result<u32, FormatError> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn f64_le(&mut self, what: &'static str) -> Result<f64, FormatError> {
        let b = self.bytes(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_bits(u64::from_le_bytes(a)))
    }

    pub fn uvarint(&mut self, what: &'static str) -> Result<u64, FormatError> {
        let (v, n) = varint::uvarint(&self.buf[self.pos..]).map_err(|e| match e {
            VarintError::Truncated => FormatError::Truncated(what),
            VarintError::Overflow => FormatError::Invalid(what),
        })?;
        self.pos += n;
        Ok(v)
    }

    pub fn ivarint(&mut self, what: &'static str) -> Result<i64, FormatError> {
        self.uvarint(what).map(varint::unzigzag)
    }

    /// A count that will size an allocation: bounded by the bytes left, since every counted
    /// item takes at least `min_item_bytes`.
    pub fn count(
        &mut self,
        what: &'static str,
        min_item_bytes: usize,
    ) -> Result<usize, FormatError> {
        let n = self.uvarint(what)?;
        if n > (self.remaining() / min_item_bytes.max(1)) as u64 {
            return Err(FormatError::Invalid(what));
        }
        Ok(n as usize)
    }

    pub fn str(&mut self, what: &'static str) -> Result<&'a str, FormatError> {
        let n = self.uvarint(what)?;
        if n > self.remaining() as u64 {
            return Err(FormatError::Truncated(what));
        }
        let b = self.bytes(n as usize, what)?;
        std::str::from_utf8(b).map_err(|_| FormatError::Invalid(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        let mut b = Vec::new();
        for v in [0i64, 1, -1, 63, -64, 1 << 40, i64::MIN, i64::MAX] {
            argus_core::varint::put_ivarint(&mut b, v);
        }
        put_str(&mut b, "héllo");
        let mut r = Reader::new(&b);
        for v in [0i64, 1, -1, 63, -64, 1 << 40, i64::MIN, i64::MAX] {
            assert_eq!(r.ivarint("v").ok(), Some(v));
        }
        assert_eq!(r.str("s").ok(), Some("héllo"));
        assert_eq!(r.remaining(), 0);
        assert!(matches!(r.u8("end"), Err(FormatError::Truncated("end"))));
    }
}
