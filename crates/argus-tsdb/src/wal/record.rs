//! WAL records: what one write adds to the log.
//!
//! On disk a record is `[len: u32 LE][crc32: u32 LE][type: u8][payload]`, where `len`
//! counts type and payload and the CRC-32 (IEEE) covers them. Types have fixed numbers; a
//! new encoding gets a new number. See docs/formats/wal.md.

use crate::encoding::{Reader, Symbols, put_str};
use crate::error::FormatError;
use argus_core::Labels;
use argus_core::varint::{put_ivarint, put_uvarint};

pub const TYPE_SERIES: u8 = 1;
pub const TYPE_SAMPLES: u8 = 2;
/// Series with their label strings in a symbol table: what a checkpoint holds.
pub const TYPE_SERIES_DICT: u8 = 3;

/// Bytes before a record's type byte.
pub const HEADER_LEN: usize = 8;

/// A decoded record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// New series and their refs.
    Series(Vec<(u32, Labels)>),
    /// Samples by series ref.
    Samples(Vec<(u32, i64, f64)>),
}

/// Appends a framed record: header, then `body` (type byte and payload) from `fill`.
fn frame(out: &mut Vec<u8>, fill: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0u8; HEADER_LEN]);
    fill(out);
    let body = &out[start + HEADER_LEN..];
    let len = body.len() as u32;
    let crc = crc32fast::hash(body);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

pub fn encode_series<'a>(
    out: &mut Vec<u8>,
    series: impl ExactSizeIterator<Item = (u32, &'a Labels)>,
) {
    frame(out, |b| {
        b.push(TYPE_SERIES);
        put_uvarint(b, series.len() as u64);
        for (r, labels) in series {
            put_uvarint(b, u64::from(r));
            put_uvarint(b, labels.len() as u64);
            for l in labels.iter() {
                put_str(b, &l.name);
                put_str(b, &l.value);
            }
        }
    });
}

/// Many series at once, each label string stored once in a sorted symbol table and the
/// series as symbol numbers: a checkpoint of N series sharing few distinct values costs a
/// few bytes per series instead of their full labels.
pub fn encode_series_dict(out: &mut Vec<u8>, series: &[(u32, &Labels)]) {
    let symbols = Symbols::of(series.iter().map(|(_, l)| *l));
    frame(out, |b| {
        b.push(TYPE_SERIES_DICT);
        symbols.put(b);
        put_uvarint(b, series.len() as u64);
        let mut prev = 0u32;
        for (r, labels) in series {
            // Refs ascend in a checkpoint: store the gaps.
            put_uvarint(b, u64::from(r.wrapping_sub(prev)));
            prev = *r;
            symbols.put_labels(b, labels);
        }
    });
}

/// Samples: count, then per sample the ref, the timestamp as a delta from the previous
/// sample's (zigzag varint) and the value's 8 bytes.
pub fn encode_samples(out: &mut Vec<u8>, samples: &[(u32, i64, f64)]) {
    encode_samples_iter(out, samples.len(), samples.iter().copied());
}

/// [`encode_samples`] from an iterator yielding exactly `n` samples.
pub fn encode_samples_iter(
    out: &mut Vec<u8>,
    n: usize,
    samples: impl Iterator<Item = (u32, i64, f64)>,
) {
    frame(out, |b| {
        b.push(TYPE_SAMPLES);
        put_uvarint(b, n as u64);
        let mut prev = 0i64;
        for (r, ts, v) in samples {
            put_uvarint(b, u64::from(r));
            put_ivarint(b, ts.wrapping_sub(prev));
            prev = ts;
            b.extend_from_slice(&v.to_bits().to_le_bytes());
        }
    });
}

/// Decodes one record body (type byte and payload, checksum already verified).
pub fn decode(body: &[u8]) -> Result<Record, FormatError> {
    let mut r = Reader::new(body);
    let rec = match r.u8("record type")? {
        TYPE_SERIES => {
            let n = r.count("series count", 2)?;
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let id = u32::try_from(r.uvarint("series ref")?)
                    .map_err(|_| FormatError::Invalid("series ref"))?;
                let nl = r.count("label count", 2)?;
                let mut pairs = Vec::with_capacity(nl);
                for _ in 0..nl {
                    let name = r.str("label name")?;
                    let value = r.str("label value")?;
                    pairs.push((name, value));
                }
                out.push((id, Labels::from_pairs(pairs)));
            }
            Record::Series(out)
        }
        TYPE_SAMPLES => {
            let n = r.count("sample count", 10)?;
            let mut out = Vec::with_capacity(n);
            let mut prev = 0i64;
            for _ in 0..n {
                let id = u32::try_from(r.uvarint("series ref")?)
                    .map_err(|_| FormatError::Invalid("series ref"))?;
                let ts = prev.wrapping_add(r.ivarint("timestamp")?);
                prev = ts;
                let v = r.f64_le("value")?;
                out.push((id, ts, v));
            }
            Record::Samples(out)
        }
        TYPE_SERIES_DICT => {
            let symbols = Symbols::read(&mut r)?;
            let n = r.count("series count", 2)?;
            let mut out = Vec::with_capacity(n);
            let mut prev = 0u32;
            for _ in 0..n {
                let gap = u32::try_from(r.uvarint("series ref")?)
                    .map_err(|_| FormatError::Invalid("series ref"))?;
                let id = prev.wrapping_add(gap);
                prev = id;
                out.push((id, symbols.read_labels(&mut r)?));
            }
            Record::Series(out)
        }
        _ => return Err(FormatError::Invalid("record type")),
    };
    if r.remaining() != 0 {
        return Err(FormatError::Invalid("record length (leftover bytes)"));
    }
    Ok(rec)
}

/// Splits framed records off the front of `buf`. Yields `Err((offset, error))` at the first
/// bad frame and stops: everything from there on is suspect.
pub struct Frames<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Frames<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Frames {
            buf,
            pos: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for Frames<'a> {
    /// `Ok((offset, body))` or `Err((offset, error))`.
    type Item = Result<(usize, &'a [u8]), (usize, FormatError)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.buf.len() {
            return None;
        }
        let at = self.pos;
        let rest = &self.buf[at..];
        let fail = |s: &mut Self, e| {
            s.done = true;
            Some(Err((at, e)))
        };
        if rest.len() < HEADER_LEN {
            return fail(self, FormatError::Truncated("record header"));
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if len == 0 {
            return fail(self, FormatError::Invalid("record length"));
        }
        if rest.len() - HEADER_LEN < len {
            return fail(self, FormatError::Truncated("record body"));
        }
        let body = &rest[HEADER_LEN..HEADER_LEN + len];
        if crc32fast::hash(body) != crc {
            return fail(self, FormatError::Checksum("record"));
        }
        self.pos += HEADER_LEN + len;
        Some(Ok((at, body)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_damage_is_detected() {
        let l = Labels::with_name("m", [("host", "a")]);
        let mut buf = Vec::new();
        encode_series(&mut buf, [(7u32, &l)].into_iter());
        let samples = vec![(7, 1_000, 1.5), (7, 900, f64::NAN), (8, i64::MAX, -0.0)];
        encode_samples(&mut buf, &samples);
        let recs: Vec<Record> = Frames::new(&buf)
            .map(|f| f.map_err(|e| e.1).and_then(|(_, b)| decode(b)))
            .collect::<Result<_, _>>()
            .unwrap_or_default();
        assert_eq!(recs[0], Record::Series(vec![(7, l.clone())]));
        let Record::Samples(got) = &recs[1] else {
            panic!("not samples")
        };
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], (7, 1_000, 1.5));
        assert!(got[1].2.is_nan());
        assert_eq!(got[2].2.to_bits(), (-0.0f64).to_bits());

        // The dictionary form decodes to the same Series record.
        let mut dict = Vec::new();
        let l2 = Labels::with_name("m", [("host", "b")]);
        encode_series_dict(&mut dict, &[(3, &l), (9, &l2)]);
        let (_, body) = Frames::new(&dict)
            .next()
            .and_then(Result::ok)
            .unwrap_or_default();
        assert_eq!(
            decode(body),
            Ok(Record::Series(vec![(3, l.clone()), (9, l2)]))
        );

        // A flipped bit in the second record is caught by its checksum.
        let mut bad = buf.clone();
        let last = bad.len() - 3;
        bad[last] ^= 1;
        let frames: Vec<_> = Frames::new(&bad).collect();
        assert!(frames[0].is_ok());
        assert!(matches!(frames[1], Err((_, FormatError::Checksum(_)))));
        // A cut record is a truncation.
        let cut = &buf[..buf.len() - 2];
        let frames: Vec<_> = Frames::new(cut).collect();
        assert!(matches!(frames[1], Err((_, FormatError::Truncated(_)))));
    }
}
