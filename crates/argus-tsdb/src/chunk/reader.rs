//! The bounds-checked [`Reader`] every chunk decoder reads through. Its varints are
//! [`argus_core::varint`]'s (LEB128, zig-zag for signed values); a failure names the field
//! being read, so a corrupt chunk yields a [`ChunkError`], never a panic.

use super::ChunkError;
use argus_core::varint::{self, VarintError};

/// A cursor over an encoded chunk.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// `what` could not be read as a varint.
#[cold]
fn varint_error(e: VarintError, what: &'static str) -> ChunkError {
    match e {
        VarintError::Truncated => ChunkError::Truncated { what },
        VarintError::Overflow => ChunkError::Invalid {
            what,
            why: "varint overflows 64 bits",
        },
    }
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

    #[inline]
    pub(crate) fn uvarint(&mut self, what: &'static str) -> Result<u64, ChunkError> {
        let (v, n) = varint::uvarint(self.rest()).map_err(|e| varint_error(e, what))?;
        self.pos += n;
        Ok(v)
    }

    #[inline]
    pub(crate) fn ivarint(&mut self, what: &'static str) -> Result<i64, ChunkError> {
        self.uvarint(what).map(varint::unzigzag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_advance_the_cursor_and_errors_name_the_field() {
        let mut r = Reader::new(&[0xac, 0x02, 0x03, 0x80]);
        assert_eq!(r.uvarint("a"), Ok(300));
        assert_eq!(r.ivarint("b"), Ok(-2));
        assert_eq!(r.remaining(), 1);
        assert_eq!(r.uvarint("c"), Err(ChunkError::Truncated { what: "c" }));
        assert_eq!(
            Reader::new(&[0xff; 10]).uvarint("x"),
            Err(ChunkError::Invalid {
                what: "x",
                why: "varint overflows 64 bits"
            })
        );
    }
}
