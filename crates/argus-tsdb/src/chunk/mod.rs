//! Sample chunks: one series' samples over a time span, compressed.
//!
//! A **chunk** holds up to [`MAX_SAMPLES`] samples of one series — millisecond timestamps
//! and `f64` values — and is encoded once, when it is sealed. [`encode`] tries several
//! encodings for each column and keeps the smallest; [`decode`] restores the samples
//! bit-exactly (NaN payloads such as Prometheus's stale marker, `-0.0`, ±Inf and
//! subnormals included) and rejects truncated, corrupt or over-long input with a
//! [`ChunkError`] instead of panicking.
//!
//! Timestamps on a regular interval cost nothing per sample; agent timestamps jittering a
//! few milliseconds around a grid cost 3–4 bits. Values are turned into integer mantissas
//! at the smallest decimal exponent that reproduces every one of them (`12.34` → `1234`,
//! exponent 2), and those are differenced and bit-packed in frames of 128 with outliers
//! kept aside; floats that are not decimals fall back to Gorilla XOR. The byte layout is
//! in `docs/formats/chunk.md`.
//!
//! For many chunks, reuse an [`Encoder`] (it keeps its scratch buffers). Series sampled
//! together share their timestamps; a block writer can store those once with
//! [`encode_timestamps`] and each series' values with [`encode_values`]. [`synth`]
//! generates realistic agent data for tests and benchmarks.
//!
//! ```
//! use argus_tsdb::chunk;
//!
//! let ts: Vec<i64> = (0..120).map(|i| 1_700_000_000_000 + i * 10_000).collect();
//! let values: Vec<f64> = (0..120).map(|i| f64::from(i % 7) / 4.0).collect();
//! let mut buf = Vec::new();
//! chunk::encode(&ts, &values, &mut buf);
//! assert!(buf.len() < 120);
//!
//! let (mut ts2, mut values2) = (Vec::new(), Vec::new());
//! chunk::decode(&buf, &mut ts2, &mut values2)?;
//! assert_eq!((ts2, values2), (ts, values));
//! # Ok::<(), chunk::ChunkError>(())
//! ```

mod bits;
mod decimal;
mod gorilla;
mod ints;
mod reader;
pub mod synth;
mod timestamps;
mod values;

#[cfg(test)]
mod tests;

use argus_core::varint::put_uvarint;
use reader::Reader;

/// The format version written in a chunk's first byte.
pub const FORMAT_VERSION: u8 = 1;

/// The most samples one chunk may hold; decoders reject larger counts before allocating.
pub const MAX_SAMPLES: usize = 1 << 16;

/// Why a chunk could not be decoded. Each variant names the field it was reading.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChunkError {
    /// The input ended while reading `what`.
    Truncated { what: &'static str },
    /// `what` was read but holds an impossible value.
    Invalid {
        what: &'static str,
        why: &'static str,
    },
    /// The first byte is not a format version this code reads.
    UnsupportedVersion(u8),
    /// The sample count exceeds [`MAX_SAMPLES`].
    TooManySamples(u64),
    /// The timestamps section starts with an unknown tag.
    UnknownTimestampEncoding(u8),
    /// The values section starts with an unknown tag.
    UnknownValueEncoding(u8),
    /// The chunk decoded completely but this many bytes were left over.
    TrailingBytes(usize),
}

impl std::fmt::Display for ChunkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChunkError::Truncated { what } => write!(f, "chunk truncated while reading {what}"),
            ChunkError::Invalid { what, why } => write!(f, "invalid {what} in chunk: {why}"),
            ChunkError::UnsupportedVersion(v) => {
                write!(
                    f,
                    "unsupported chunk format version {v} (this build reads {FORMAT_VERSION})"
                )
            }
            ChunkError::TooManySamples(n) => {
                write!(
                    f,
                    "chunk claims {n} samples, more than the limit of {MAX_SAMPLES}"
                )
            }
            ChunkError::UnknownTimestampEncoding(t) => {
                write!(f, "unknown timestamp encoding tag {t} in chunk")
            }
            ChunkError::UnknownValueEncoding(t) => {
                write!(f, "unknown value encoding tag {t} in chunk")
            }
            ChunkError::TrailingBytes(n) => write!(f, "{n} unexpected bytes after the chunk"),
        }
    }
}

impl std::error::Error for ChunkError {}

/// Encodes chunks, reusing its scratch buffers from one chunk to the next. [`encode`] is
/// the same with a fresh encoder.
#[derive(Default)]
pub struct Encoder {
    ts: timestamps::Scratch,
    values: values::Scratch,
}

impl Encoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the chunk of samples `(ts[i], values[i])` to `out`.
    ///
    /// Timestamps should be sorted without duplicates, as a series' samples are; other
    /// orders still round-trip, only less compactly.
    ///
    /// # Panics
    ///
    /// If `ts` and `values` differ in length or hold more than [`MAX_SAMPLES`] samples:
    /// both are bugs in the caller.
    pub fn encode(&mut self, ts: &[i64], values: &[f64], out: &mut Vec<u8>) {
        assert_eq!(ts.len(), values.len(), "chunk columns differ in length");
        assert!(
            ts.len() <= MAX_SAMPLES,
            "chunk of {} samples exceeds {MAX_SAMPLES}",
            ts.len()
        );
        out.push(FORMAT_VERSION);
        put_uvarint(out, ts.len() as u64);
        if ts.is_empty() {
            return;
        }
        timestamps::encode(ts, &mut self.ts, out);
        values::encode(values, &mut self.values, out);
    }

    /// Appends a *timestamp column*: a chunk's header and timestamps section, no values.
    ///
    /// For block writers that store one timestamp column for several series sampled
    /// together (the fields of one agent input share their timestamps), next to
    /// [`Encoder::encode_values`] columns. A chunk is exactly its timestamp column followed
    /// by the values section.
    ///
    /// # Panics
    ///
    /// If `ts` holds more than [`MAX_SAMPLES`] timestamps.
    pub fn encode_timestamps(&mut self, ts: &[i64], out: &mut Vec<u8>) {
        assert!(
            ts.len() <= MAX_SAMPLES,
            "column of {} exceeds {MAX_SAMPLES}",
            ts.len()
        );
        out.push(FORMAT_VERSION);
        put_uvarint(out, ts.len() as u64);
        if !ts.is_empty() {
            timestamps::encode(ts, &mut self.ts, out);
        }
    }

    /// Appends a *value column*: a chunk's header and values section, no timestamps.
    /// See [`Encoder::encode_timestamps`].
    ///
    /// # Panics
    ///
    /// If `values` holds more than [`MAX_SAMPLES`] values.
    pub fn encode_values(&mut self, values: &[f64], out: &mut Vec<u8>) {
        assert!(
            values.len() <= MAX_SAMPLES,
            "column of {} exceeds {MAX_SAMPLES}",
            values.len()
        );
        out.push(FORMAT_VERSION);
        put_uvarint(out, values.len() as u64);
        if !values.is_empty() {
            values::encode(values, &mut self.values, out);
        }
    }
}

/// Appends the chunk of samples `(ts[i], values[i])` to `out`. See [`Encoder::encode`].
///
/// # Panics
///
/// If `ts` and `values` differ in length or hold more than [`MAX_SAMPLES`] samples.
pub fn encode(ts: &[i64], values: &[f64], out: &mut Vec<u8>) {
    Encoder::new().encode(ts, values, out);
}

/// Appends a *timestamp column*: a chunk's header and timestamps section without values.
/// See [`Encoder::encode_timestamps`].
///
/// # Panics
///
/// If `ts` holds more than [`MAX_SAMPLES`] timestamps.
pub fn encode_timestamps(ts: &[i64], out: &mut Vec<u8>) {
    Encoder::new().encode_timestamps(ts, out);
}

/// Appends a *value column*: a chunk's header and values section without timestamps.
/// See [`Encoder::encode_values`].
///
/// # Panics
///
/// If `values` holds more than [`MAX_SAMPLES`] values.
pub fn encode_values(values: &[f64], out: &mut Vec<u8>) {
    Encoder::new().encode_values(values, out);
}

/// Decodes the timestamp column that is exactly `buf`, appending to `ts`. On error `ts`
/// is left as it was.
pub fn decode_timestamps(buf: &[u8], ts: &mut Vec<i64>) -> Result<(), ChunkError> {
    let len = ts.len();
    let result = (|| {
        let mut r = Reader::new(buf);
        let n = read_header(&mut r)?;
        if n > 0 {
            timestamps::decode(&mut r, n, ts)?;
        }
        finish(&r)
    })();
    if result.is_err() {
        ts.truncate(len);
    }
    result
}

/// Decodes the value column that is exactly `buf`, appending to `values`. On error
/// `values` is left as it was.
pub fn decode_values(buf: &[u8], values: &mut Vec<f64>) -> Result<(), ChunkError> {
    let len = values.len();
    let result = (|| {
        let mut r = Reader::new(buf);
        let n = read_header(&mut r)?;
        if n > 0 {
            values::decode(&mut r, n, values)?;
        }
        finish(&r)
    })();
    if result.is_err() {
        values.truncate(len);
    }
    result
}

/// Decodes the chunk that is exactly `buf`, appending its samples to `ts` and `values`.
///
/// On error both vectors are left as they were.
pub fn decode(buf: &[u8], ts: &mut Vec<i64>, values: &mut Vec<f64>) -> Result<(), ChunkError> {
    let (ts_len, values_len) = (ts.len(), values.len());
    let result = decode_inner(buf, ts, values);
    if result.is_err() {
        ts.truncate(ts_len);
        values.truncate(values_len);
    }
    result
}

fn decode_inner(buf: &[u8], ts: &mut Vec<i64>, values: &mut Vec<f64>) -> Result<(), ChunkError> {
    let mut r = Reader::new(buf);
    let n = read_header(&mut r)?;
    if n > 0 {
        ts.reserve(n);
        values.reserve(n);
        timestamps::decode(&mut r, n, ts)?;
        values::decode(&mut r, n, values)?;
    }
    finish(&r)
}

/// Decoders consume every byte: anything left over means the input was not one chunk.
fn finish(r: &Reader<'_>) -> Result<(), ChunkError> {
    match r.remaining() {
        0 => Ok(()),
        left => Err(ChunkError::TrailingBytes(left)),
    }
}

/// The number of samples in a chunk (or column), read from its header alone.
pub fn sample_count(buf: &[u8]) -> Result<usize, ChunkError> {
    read_header(&mut Reader::new(buf))
}

fn read_header(r: &mut Reader<'_>) -> Result<usize, ChunkError> {
    let version = r.u8("format version")?;
    if version != FORMAT_VERSION {
        return Err(ChunkError::UnsupportedVersion(version));
    }
    let n = r.uvarint("sample count")?;
    if n > MAX_SAMPLES as u64 {
        return Err(ChunkError::TooManySamples(n));
    }
    Ok(n as usize)
}
