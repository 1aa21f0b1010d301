//! The block index file: a symbol table, then every series (labels as symbol numbers) with
//! its chunk directory. See docs/formats/block.md for the byte layout.

use crate::encoding::{Frame, Symbols};
use crate::error::FormatError;
use argus_core::Labels;
use argus_core::varint::{put_ivarint, put_uvarint};

const FRAME: Frame = Frame {
    magic: *b"ARGI",
    version: 1,
    name: "index",
    header: "index header",
    magic_name: "index magic",
};

/// Where one chunk is and what it spans.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChunkMeta {
    pub min_t: i64,
    pub max_t: i64,
    pub count: u32,
    pub offset: u64,
    pub len: u32,
    pub crc: u32,
}

/// Encodes the index of `series` (sorted by labels) whose chunks start at byte offsets
/// relative to `base_t` for times.
/// Writes an index of `series` (sorted by labels).
#[cfg(test)]
pub fn write_index(series: &[(Labels, Vec<ChunkMeta>)], base_t: i64) -> Vec<u8> {
    let mut table = SymbolTable::default();
    let refs: Vec<(Box<[u32]>, Vec<ChunkMeta>)> = series
        .iter()
        .map(|(l, c)| (table.refs(l), c.clone()))
        .collect();
    table.write_index(refs, base_t)
}

/// The symbols of an index being written, gathered series by series: each distinct string
/// once, numbered in the order first seen and renumbered in sorted order at the end. A
/// block writer keeps each series as numbers, not as a label set: at a million series
/// that is about 50 bytes a series held until the index is written, not 400.
#[derive(Default)]
pub struct SymbolTable {
    ids: std::collections::HashMap<Box<str>, u32>,
}

impl SymbolTable {
    /// The numbers (name, value, …) of `labels`, in the order first seen.
    pub fn refs(&mut self, labels: &Labels) -> Box<[u32]> {
        let mut out = Vec::with_capacity(2 * labels.len());
        for l in labels.iter() {
            for s in [l.name.as_str(), l.value.as_str()] {
                let next = self.ids.len() as u32;
                let id = match self.ids.get(s) {
                    Some(&id) => id,
                    None => {
                        self.ids.insert(s.into(), next);
                        next
                    }
                };
                out.push(id);
            }
        }
        out.into_boxed_slice()
    }

    /// Writes the index: the symbols sorted, each series' numbers renumbered to them.
    pub fn write_index(self, series: Vec<(Box<[u32]>, Vec<ChunkMeta>)>, base_t: i64) -> Vec<u8> {
        let mut symbols: Vec<(Box<str>, u32)> = self.ids.into_iter().collect();
        symbols.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut renumber = vec![0u32; symbols.len()];
        for (sorted, (_, first_seen)) in symbols.iter().enumerate() {
            renumber[*first_seen as usize] = sorted as u32;
        }
        let mut out = FRAME.start();
        put_ivarint(&mut out, base_t);
        put_uvarint(&mut out, symbols.len() as u64);
        for (s, _) in &symbols {
            crate::encoding::put_str(&mut out, s);
        }
        drop(symbols);
        put_uvarint(&mut out, series.len() as u64);
        let mut prev_end = 0u64;
        for (refs, chunks) in &series {
            put_uvarint(&mut out, (refs.len() / 2) as u64);
            for &r in refs.iter() {
                put_uvarint(&mut out, u64::from(renumber[r as usize]));
            }
            put_uvarint(&mut out, chunks.len() as u64);
            for c in chunks {
                put_ivarint(&mut out, c.min_t - base_t);
                put_uvarint(&mut out, (c.max_t - c.min_t) as u64);
                put_uvarint(&mut out, u64::from(c.count));
                put_uvarint(&mut out, c.offset - prev_end);
                put_uvarint(&mut out, u64::from(c.len));
                out.extend_from_slice(&c.crc.to_le_bytes());
                prev_end = c.offset + u64::from(c.len);
            }
        }
        Frame::finish(&mut out);
        out
    }
}

#[cfg(test)]
pub fn read_index(data: &[u8]) -> Result<Vec<(Labels, Vec<ChunkMeta>)>, FormatError> {
    let (symbols, series) = read_index_refs(data)?;
    Ok(series
        .into_iter()
        .map(|(refs, chunks)| (labels_of(&symbols, &refs), chunks.into_vec()))
        .collect())
}

/// The label set of symbol numbers `refs` (name, value, …) in `symbols`; the numbers were
/// checked when read.
pub fn labels_of(symbols: &[Box<str>], refs: &[u32]) -> Labels {
    let s = |i: u32| symbols.get(i as usize).map_or("", |s| &**s);
    Labels::from_pairs(refs.chunks_exact(2).map(|p| (s(p[0]), s(p[1]))))
}

/// A series as a loaded index keeps it: its labels as symbol numbers, its chunks.
pub type SeriesRefs = (Box<[u32]>, Box<[ChunkMeta]>);

/// A loaded index: the symbol table, and every series.
pub type IndexRefs = (Box<[Box<str>]>, Vec<SeriesRefs>);

/// Reads an index keeping label sets as symbol numbers into one table of strings: a
/// block of a million series then holds each distinct name and value once, not every
/// series' labels as strings (about 340 bytes a series).
pub fn read_index_refs(data: &[u8]) -> Result<IndexRefs, FormatError> {
    let mut r = FRAME.open(data)?;
    let base_t = r.ivarint("base time")?;
    let symbols = Symbols::read(&mut r)?;
    let n = r.count("series count", 2)?;
    let mut out = Vec::with_capacity(n);
    let mut prev_end = 0u64;
    for _ in 0..n {
        let labels = symbols.read_label_refs(&mut r)?;
        let nc = r.count("chunk count", 9)?;
        let mut chunks = Vec::with_capacity(nc);
        for _ in 0..nc {
            let min_t = base_t.wrapping_add(r.ivarint("chunk min time")?);
            let span = i64::try_from(r.uvarint("chunk span")?)
                .map_err(|_| FormatError::Invalid("chunk span"))?;
            let count = u32::try_from(r.uvarint("chunk sample count")?)
                .map_err(|_| FormatError::Invalid("chunk sample count"))?;
            let offset = prev_end
                .checked_add(r.uvarint("chunk offset")?)
                .ok_or(FormatError::Invalid("chunk offset"))?;
            let len = u32::try_from(r.uvarint("chunk length")?)
                .map_err(|_| FormatError::Invalid("chunk length"))?;
            let crc = r.u32_le("chunk checksum")?;
            prev_end = offset + u64::from(len);
            chunks.push(ChunkMeta {
                min_t,
                max_t: min_t.wrapping_add(span),
                count,
                offset,
                len,
                crc,
            });
        }
        out.push((labels, chunks.into_boxed_slice()));
    }
    if r.remaining() != 0 {
        return Err(FormatError::Invalid("index length (leftover bytes)"));
    }
    Ok((symbols.to_owned_table(), out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trips_and_rejects_damage() {
        let series = vec![
            (
                Labels::with_name("a", [("host", "h1")]),
                vec![ChunkMeta {
                    min_t: 1000,
                    max_t: 2000,
                    count: 3,
                    offset: 5,
                    len: 10,
                    crc: 7,
                }],
            ),
            (
                Labels::with_name("b", [("host", "h1")]),
                vec![ChunkMeta {
                    min_t: 900,
                    max_t: 900,
                    count: 1,
                    offset: 15,
                    len: 4,
                    crc: 9,
                }],
            ),
        ];
        let data = write_index(&series, 1000);
        assert_eq!(read_index(&data), Ok(series));
        let mut bad = data.clone();
        bad[10] ^= 0xff;
        assert_eq!(read_index(&bad), Err(FormatError::Checksum("index")));
        assert!(read_index(&data[..3]).is_err());
    }
}
