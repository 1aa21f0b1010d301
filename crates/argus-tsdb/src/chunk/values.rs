//! The values section of a chunk: one tag byte naming the encoding, then its payload.
//!
//! | tag | name        | payload                                                        |
//! |-----|-------------|----------------------------------------------------------------|
//! | 1   | `CONST`     | 8 bytes: the bits shared by every value, little-endian         |
//! | 2   | `CONST_INT` | zig-zag varint `m`: every value is `m as f64`                  |
//! | 3   | `DECIMAL`   | exponent byte, exception list, int stream of mantissas         |
//! | 4   | `GORILLA`   | Gorilla XOR bit stream                                         |
//! | 5   | `RAW`       | 8 bytes per value, little-endian bits                          |
//!
//! The encoder takes `CONST`/`CONST_INT` when every bit pattern is equal; otherwise it
//! builds `DECIMAL` when the values are decimals, tries `GORILLA` when that is unavailable
//! or costs more than two bytes per value, and falls back to `RAW` when it is smaller still.

use super::decimal::{self, Decimals};
use super::reader::Reader;
use super::{ChunkError, gorilla, ints};
use argus_core::varint::{put_ivarint, put_uvarint};

pub(crate) const CONST: u8 = 1;
pub(crate) const CONST_INT: u8 = 2;
pub(crate) const DECIMAL: u8 = 3;
pub(crate) const GORILLA: u8 = 4;
pub(crate) const RAW: u8 = 5;

/// Above this many bytes per value, the encoder also tries Gorilla.
const TRY_GORILLA_ABOVE: usize = 2;

/// Reusable buffers for encoding values.
#[derive(Default)]
pub(crate) struct Scratch {
    dec: Decimals,
    ints: ints::Scratch,
    alt: Vec<u8>,
}

/// Appends the values section for `values` (at least one).
pub(crate) fn encode(values: &[f64], s: &mut Scratch, out: &mut Vec<u8>) {
    let n = values.len();
    let first = values[0];
    if values.iter().all(|v| v.to_bits() == first.to_bits()) {
        match decimal::to_mantissa(first, 0) {
            Some(m) => {
                out.push(CONST_INT);
                put_ivarint(out, m);
            }
            None => {
                out.push(CONST);
                out.extend_from_slice(&first.to_bits().to_le_bytes());
            }
        }
        return;
    }
    let start = out.len();
    if decimal::analyze(values, &mut s.dec) {
        out.push(DECIMAL);
        out.push(s.dec.exp);
        put_uvarint(out, s.dec.exceptions.len() as u64);
        let mut next = 0;
        for &i in &s.dec.exceptions {
            put_uvarint(out, (i - next) as u64);
            out.extend_from_slice(&values[i].to_bits().to_le_bytes());
            next = i + 1;
        }
        let plan = ints::plan(&s.dec.mantissas, &[0, 1, 2], &mut s.ints);
        ints::write(&s.dec.mantissas, &plan, &mut s.ints, out);
        if out.len() - start <= TRY_GORILLA_ABOVE * n {
            return;
        }
    }
    s.alt.clear();
    s.alt.push(GORILLA);
    gorilla::encode(values, &mut s.alt);
    let raw_len = 1 + 8 * n;
    let decimal_len = if out.len() > start {
        out.len() - start
    } else {
        usize::MAX
    };
    if raw_len < s.alt.len().min(decimal_len) {
        out.truncate(start);
        out.push(RAW);
        for v in values {
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
    } else if s.alt.len() < decimal_len {
        out.truncate(start);
        out.extend_from_slice(&s.alt);
    }
}

/// Appends `n` (at least one) values decoded from a values section.
pub(crate) fn decode(r: &mut Reader<'_>, n: usize, out: &mut Vec<f64>) -> Result<(), ChunkError> {
    match r.u8("values encoding tag")? {
        CONST => {
            let v = f64::from_bits(r.u64_le("constant value")?);
            out.resize(out.len() + n, v);
        }
        CONST_INT => {
            let v = r.ivarint("constant integer value")? as f64;
            out.resize(out.len() + n, v);
        }
        DECIMAL => decode_decimal(r, n, out)?,
        GORILLA => {
            let used = gorilla::decode(r.rest(), n, out)?;
            r.bytes(used, "Gorilla values")?;
        }
        RAW => {
            let raw = r.bytes(n * 8, "raw values")?;
            out.extend(raw.chunks_exact(8).map(|b| {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                f64::from_le_bytes(a)
            }));
        }
        tag => return Err(ChunkError::UnknownValueEncoding(tag)),
    }
    Ok(())
}

fn decode_decimal(r: &mut Reader<'_>, n: usize, out: &mut Vec<f64>) -> Result<(), ChunkError> {
    let exp = r.u8("decimal exponent")?;
    if exp > decimal::MAX_EXP {
        return Err(ChunkError::Invalid {
            what: "decimal exponent",
            why: "exponent above 15",
        });
    }
    let count = r.uvarint("decimal exception count")?;
    if count >= n as u64 {
        return Err(ChunkError::Invalid {
            what: "decimal exception count",
            why: "at least as many exceptions as values",
        });
    }
    let mut exceptions = Vec::with_capacity(count as usize);
    let mut next = 0u64;
    for _ in 0..count {
        let pos = next.saturating_add(r.uvarint("decimal exception position")?);
        if pos >= n as u64 {
            return Err(ChunkError::Invalid {
                what: "decimal exception position",
                why: "position past the last value",
            });
        }
        exceptions.push((pos as usize, r.u64_le("decimal exception value")?));
        next = pos + 1;
    }
    let mut mantissas = Vec::with_capacity(n);
    ints::read(r, n, &mut mantissas)?;
    let start = out.len();
    if exp == 0 {
        out.extend(mantissas.iter().map(|&m| m as f64));
    } else {
        // The same division as `decimal::from_decimal`, with the power hoisted.
        let p = decimal::pow10(exp);
        out.extend(mantissas.iter().map(|&m| m as f64 / p));
    }
    for (pos, bits) in exceptions {
        out[start + pos] = f64::from_bits(bits);
    }
    Ok(())
}
