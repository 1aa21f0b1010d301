//! Small byte-level helpers shared by the WAL, index and block formats: length-prefixed
//! strings, a bounds-checked reader that names what it was reading when the input ends or
//! is invalid, the [`Frame`] of a checksummed file and the [`Symbols`] table that label
//! sets are written against. Varints are [`argus_core::varint`]'s (LEB128, zig-zag for
//! signed values).

use crate::error::FormatError;
use argus_core::Labels;
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

/// A file framed as `magic (4 bytes) | version (1 byte) | body | CRC32 of all before`:
/// the index and the rollup files. Names its parts as errors report them.
pub struct Frame {
    pub magic: [u8; 4],
    pub version: u8,
    /// The file as errors name it: `"index"`.
    pub name: &'static str,
    /// `"index header"`.
    pub header: &'static str,
    /// `"index magic"`.
    pub magic_name: &'static str,
}

impl Frame {
    /// A new file's bytes up to its body.
    pub fn start(&self) -> Vec<u8> {
        let mut out = self.magic.to_vec();
        out.push(self.version);
        out
    }

    /// Appends the checksum of everything before it.
    pub fn finish(out: &mut Vec<u8>) {
        let crc = crc32fast::hash(out);
        out.extend_from_slice(&crc.to_le_bytes());
    }

    /// A reader over the body of `data`, once its checksum, magic and version are right.
    pub fn open<'a>(&self, data: &'a [u8]) -> Result<Reader<'a>, FormatError> {
        if data.len() < self.magic.len() + 1 + 4 {
            return Err(FormatError::Truncated(self.header));
        }
        let (body, crc) = data.split_at(data.len() - 4);
        if crc32fast::hash(body).to_le_bytes() != crc {
            return Err(FormatError::Checksum(self.name));
        }
        let mut r = Reader::new(body);
        if r.bytes(4, self.magic_name)? != self.magic {
            return Err(FormatError::Invalid(self.magic_name));
        }
        let version = r.u8(self.header)?;
        if version != self.version {
            return Err(FormatError::Version {
                what: self.name,
                version,
            });
        }
        Ok(r)
    }
}

/// Every distinct label name and value of a set of series, sorted and written once; label
/// sets are then written as symbol numbers, which costs a few bytes per series where many
/// series share names and values.
pub struct Symbols<'a>(Vec<&'a str>);

impl<'a> Symbols<'a> {
    /// The symbols of `labels`.
    pub fn of(labels: impl IntoIterator<Item = &'a Labels>) -> Self {
        let mut symbols: Vec<&'a str> = labels
            .into_iter()
            .flat_map(|l| l.iter().flat_map(|p| [p.name.as_str(), p.value.as_str()]))
            .collect();
        symbols.sort_unstable();
        symbols.dedup();
        Symbols(symbols)
    }

    /// Writes the table: its length, then each symbol.
    pub fn put(&self, out: &mut Vec<u8>) {
        put_uvarint(out, self.0.len() as u64);
        for s in &self.0 {
            put_str(out, s);
        }
    }

    /// Writes a label set of the table's series: its length, then each label's name and
    /// value as symbol numbers.
    pub fn put_labels(&self, out: &mut Vec<u8>, labels: &Labels) {
        // Every name and value is in the table, which `of` built from these label sets.
        let number = |s: &str| self.0.binary_search(&s).unwrap_or(0) as u64;
        put_uvarint(out, labels.len() as u64);
        for l in labels.iter() {
            put_uvarint(out, number(&l.name));
            put_uvarint(out, number(&l.value));
        }
    }

    /// Reads a table written by [`put`](Self::put).
    pub fn read(r: &mut Reader<'a>) -> Result<Self, FormatError> {
        let n = r.count("symbol count", 1)?;
        let mut symbols = Vec::with_capacity(n);
        for _ in 0..n {
            symbols.push(r.str("symbol")?);
        }
        Ok(Symbols(symbols))
    }

    /// The table's strings, owned.
    pub fn to_owned_table(&self) -> Box<[Box<str>]> {
        self.0.iter().map(|s| Box::from(*s)).collect()
    }

    /// Reads a label set written by [`put_labels`](Self::put_labels) as its symbol
    /// numbers (name, value, name, value …), each checked against the table.
    pub fn read_label_refs(&self, r: &mut Reader<'a>) -> Result<Box<[u32]>, FormatError> {
        let n = r.count("label count", 2)?;
        let mut refs = Vec::with_capacity(2 * n);
        for what in std::iter::repeat_n(["label name", "label value"], n).flatten() {
            let i = r.uvarint(what)?;
            if i as usize >= self.0.len() {
                return Err(FormatError::Invalid(what));
            }
            refs.push(i as u32);
        }
        Ok(refs.into_boxed_slice())
    }

    /// Reads a label set written by [`put_labels`](Self::put_labels).
    pub fn read_labels(&self, r: &mut Reader<'a>) -> Result<Labels, FormatError> {
        let symbol = |r: &mut Reader<'a>, what| -> Result<&'a str, FormatError> {
            let i = r.uvarint(what)?;
            self.0
                .get(i as usize)
                .copied()
                .ok_or(FormatError::Invalid(what))
        };
        let n = r.count("label count", 2)?;
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            let name = symbol(r, "label name")?;
            let value = symbol(r, "label value")?;
            pairs.push((name, value));
        }
        Ok(Labels::from_pairs(pairs))
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

    const FRAME: Frame = Frame {
        magic: *b"TEST",
        version: 3,
        name: "test file",
        header: "test file header",
        magic_name: "test file magic",
    };

    #[test]
    fn a_frame_checks_length_checksum_magic_and_version() {
        let mut f = FRAME.start();
        f.push(42);
        Frame::finish(&mut f);
        assert_eq!(f.len(), 4 + 1 + 1 + 4);
        let mut r = FRAME.open(&f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.u8("body"), Ok(42));
        assert_eq!(r.remaining(), 0);

        assert_eq!(
            FRAME.open(&f[..8]).err(),
            Some(FormatError::Truncated("test file header"))
        );
        let mut bad = f.clone();
        bad[5] = 43;
        assert_eq!(
            FRAME.open(&bad).err(),
            Some(FormatError::Checksum("test file"))
        );
        let mut other = Frame {
            magic: *b"XXXX",
            ..FRAME
        }
        .start();
        other.push(42);
        Frame::finish(&mut other);
        assert_eq!(
            FRAME.open(&other).err(),
            Some(FormatError::Invalid("test file magic"))
        );
        let mut newer = Frame {
            version: 4,
            ..FRAME
        }
        .start();
        newer.push(42);
        Frame::finish(&mut newer);
        assert_eq!(
            FRAME.open(&newer).err(),
            Some(FormatError::Version {
                what: "test file",
                version: 4
            })
        );
    }

    #[test]
    fn labels_round_trip_through_symbols() {
        let series = [
            Labels::with_name("cpu", [("host", "a")]),
            Labels::with_name("cpu", [("host", "b")]),
        ];
        let symbols = Symbols::of(&series);
        let mut b = Vec::new();
        symbols.put(&mut b);
        for l in &series {
            symbols.put_labels(&mut b, l);
        }
        let mut r = Reader::new(&b);
        let read = Symbols::read(&mut r).unwrap_or_else(|e| panic!("{e}"));
        // "__name__", "a", "b", "cpu", "host": each once.
        assert_eq!(read.0, ["__name__", "a", "b", "cpu", "host"]);
        for l in &series {
            assert_eq!(read.read_labels(&mut r).as_ref(), Ok(l));
        }
        assert_eq!(r.remaining(), 0);
        // A symbol number past the table.
        let mut r = Reader::new(&[1, 9, 0]);
        assert_eq!(
            read.read_labels(&mut r).err(),
            Some(FormatError::Invalid("label name"))
        );
    }
}
