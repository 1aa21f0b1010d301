//! Blocks: immutable, time-partitioned files of samples on disk.
//!
//! A block is a directory `blocks/<id>/` holding `chunks` (the compressed chunks of every
//! series, back to back), `index` (symbols, series and their chunk directory; see
//! docs/formats/block.md) and `meta.json`. It is written under a temporary name, fsynced
//! and renamed, so a block either exists whole or not at all. Its index is loaded into
//! memory when opened; chunks are read from the file with positioned reads.

pub mod index;
pub mod rollup;
pub mod writer;

use crate::chunk;
use crate::error::{Error, FormatError, Result};
use crate::postings::Postings;
use argus_core::{Labels, Matcher, Sample};
use index::{ChunkMeta, SeriesRefs, labels_of, read_index_refs};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Where one series' samples are in a block, for a selection: its chunks overlapping the
/// range (time order), or the buckets of a rollup.
pub(crate) enum Selected<'a> {
    Chunks(&'a [ChunkMeta]),
    Rollup(&'a [rollup::Bucket]),
}

/// Buffers one reader thread reuses from chunk to chunk.
#[derive(Default)]
pub(crate) struct Scratch {
    pub buf: Vec<u8>,
    pub ts: Vec<i64>,
    pub vs: Vec<f64>,
}

pub const META_VERSION: u32 = 1;

/// One series with all its samples as columns, as compaction reads them.
pub type Columns = (Labels, Vec<i64>, Vec<f64>);

/// `meta.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub version: u32,
    /// Ordinal of creation; among overlapping blocks, a higher id holds later writes.
    pub id: u64,
    pub min_t: i64,
    pub max_t: i64,
    pub series: u64,
    pub samples: u64,
    pub chunks: u64,
    /// How many compactions produced it (0: flushed from the head).
    pub level: u32,
    /// Ids of the blocks this one replaces; if they are still on disk after a crash they
    /// are deleted at start.
    pub sources: Vec<u64>,
    /// False once the block is downsampled: raw chunks deleted, rollups kept.
    #[serde(default = "yes")]
    pub raw: bool,
}

fn yes() -> bool {
    true
}

pub fn dir_name(id: u64) -> String {
    format!("{id:016x}")
}

pub struct Block {
    pub meta: Meta,
    pub dir: PathBuf,
    /// `None` for a downsampled block.
    chunks: Option<File>,
    /// Rollups by resolution, loaded on first use.
    rollups: [std::sync::OnceLock<std::result::Result<Vec<Vec<rollup::Bucket>>, String>>; 2],
    /// Every distinct label name and value of the block, once.
    symbols: Box<[Box<str>]>,
    /// Each series' labels as numbers into `symbols`, and its chunks; in label order.
    series: Vec<SeriesRefs>,
    postings: Postings,
    pub disk_bytes: u64,
}

impl Block {
    pub fn open(dir: &Path) -> Result<Block> {
        let meta_path = dir.join("meta.json");
        let meta: Meta =
            serde_json::from_slice(&std::fs::read(&meta_path)?).map_err(|e| Error::Format {
                file: meta_path.display().to_string(),
                source: FormatError::Invalid(if e.is_syntax() || e.is_eof() {
                    "JSON"
                } else {
                    "meta fields"
                }),
            })?;
        if meta.version != META_VERSION {
            return Err(Error::Format {
                file: meta_path.display().to_string(),
                source: FormatError::Version {
                    what: "block meta",
                    version: meta.version as u8,
                },
            });
        }
        let index_path = dir.join("index");
        let (symbols, series) =
            read_index_refs(&std::fs::read(&index_path)?).map_err(|source| Error::Format {
                file: index_path.display().to_string(),
                source,
            })?;
        let chunks = if meta.raw {
            Some(File::open(dir.join("chunks"))?)
        } else {
            None
        };
        let chunks_len = match &chunks {
            Some(f) => f.metadata()?.len(),
            None => u64::MAX,
        };
        if let Some(bad) = series
            .iter()
            .flat_map(|s| &s.1)
            .find(|c| c.offset + u64::from(c.len) > chunks_len)
        {
            return Err(Error::Format {
                file: dir.join("chunks").display().to_string(),
                source: FormatError::Truncated(if bad.len > 0 { "chunk data" } else { "chunks" }),
            });
        }
        let mut postings = Postings::default();
        for (i, (refs, _)) in series.iter().enumerate() {
            postings.add(i as u32, &labels_of(&symbols, refs));
        }
        let disk_bytes = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .sum();
        Ok(Block {
            meta,
            dir: dir.to_path_buf(),
            chunks,
            rollups: Default::default(),
            symbols,
            series,
            postings,
            disk_bytes,
        })
    }

    /// The labels of series `i`.
    fn labels(&self, i: usize) -> Labels {
        labels_of(&self.symbols, &self.series[i].0)
    }

    pub fn overlaps(&self, start: i64, end: i64) -> bool {
        self.meta.max_t >= start && self.meta.min_t <= end
    }

    /// Reads and decodes one chunk, checking its checksum; `buf` is scratch space.
    fn read_chunk(
        &self,
        c: &ChunkMeta,
        buf: &mut Vec<u8>,
        ts: &mut Vec<i64>,
        vs: &mut Vec<f64>,
    ) -> Result<()> {
        let Some(chunks) = &self.chunks else {
            return Err(Error::Other(format!(
                "block {} is downsampled: its raw samples are gone",
                self.dir.display()
            )));
        };
        buf.resize(c.len as usize, 0);
        chunks.read_exact_at(buf, c.offset)?;
        let file = || self.dir.join("chunks").display().to_string();
        if crc32fast::hash(buf) != c.crc {
            return Err(Error::Format {
                file: format!("{} at byte {}", file(), c.offset),
                source: FormatError::Checksum("chunk"),
            });
        }
        chunk::decode(buf, ts, vs).map_err(|e| Error::Format {
            file: format!("{} at byte {}: {e:?}", file(), c.offset),
            source: FormatError::Invalid("chunk"),
        })
    }

    /// Appends to `out` the samples in `[start, end]` of `chunks` (one series' chunks, in
    /// time order).
    pub(crate) fn read_chunks(
        &self,
        chunks: &[ChunkMeta],
        start: i64,
        end: i64,
        out: &mut Vec<Sample>,
        s: &mut Scratch,
    ) -> Result<()> {
        for c in chunks {
            s.ts.clear();
            s.vs.clear();
            self.read_chunk(c, &mut s.buf, &mut s.ts, &mut s.vs)?;
            let lo = s.ts.partition_point(|&t| t < start);
            let hi = s.ts.partition_point(|&t| t <= end);
            out.extend(
                s.ts[lo..hi]
                    .iter()
                    .zip(&s.vs[lo..hi])
                    .map(|(&ts, &value)| Sample { ts, value }),
            );
        }
        Ok(())
    }

    /// Hands `emit` the matching series with data in `[start, end]`, in label order, and
    /// where their samples are, without reading them. A downsampled block offers its
    /// rollup of the coarser resolution when the caller steps at least that far
    /// (`step_ms`; 0 for raw reads).
    pub(crate) fn select<'a>(
        &'a self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
        step_ms: i64,
        emit: &mut dyn FnMut(Labels, Selected<'a>),
    ) -> Result<()> {
        if !self.overlaps(start, end) {
            return Ok(());
        }
        if !self.meta.raw {
            let level = usize::from(step_ms >= rollup::RESOLUTIONS[1]);
            let rollups = self.rollup(level)?;
            for i in self.postings.select(matchers) {
                let i = i as usize;
                emit(self.labels(i), Selected::Rollup(&rollups[i]));
            }
            return Ok(());
        }
        for i in self.postings.select(matchers) {
            let chunks = &self.series[i as usize].1;
            // A series' chunks are in time order and do not overlap.
            let lo = chunks.partition_point(|c| c.max_t < start);
            let hi = chunks.partition_point(|c| c.min_t <= end);
            if lo < hi {
                emit(self.labels(i as usize), Selected::Chunks(&chunks[lo..hi]));
            }
        }
        Ok(())
    }

    /// Label sets of matching series with a chunk overlapping `[start, end]`, read from
    /// the index only (a downsampled block: every matching series, at block granularity).
    pub fn series_in(&self, matchers: &[Matcher], start: i64, end: i64, out: &mut Vec<Labels>) {
        if !self.overlaps(start, end) {
            return;
        }
        for i in self.postings.select(matchers) {
            let chunks = &self.series[i as usize].1;
            if !self.meta.raw || chunks.iter().any(|c| c.max_t >= start && c.min_t <= end) {
                out.push(self.labels(i as usize));
            }
        }
    }

    fn rollup(&self, level: usize) -> Result<&Vec<Vec<rollup::Bucket>>> {
        let res = rollup::RESOLUTIONS[level];
        let loaded = self.rollups[level].get_or_init(|| {
            let path = self.dir.join(format!("rollup-{res}"));
            let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            rollup::decode(&data)
                .map(|(_, s)| s)
                .map_err(|e| format!("{}: {e}", path.display()))
        });
        match loaded {
            Ok(r) if r.len() == self.series.len() => Ok(r),
            Ok(_) => Err(Error::Other(format!(
                "{}: rollup series count differs from the index",
                self.dir.display()
            ))),
            Err(e) => Err(Error::Other(e.clone())),
        }
    }

    /// Writes the rollup files, marks the block downsampled and deletes its raw chunks.
    /// Returns the block reopened.
    pub fn downsample(&self) -> Result<Block> {
        let mut per_res: Vec<Vec<Vec<rollup::Bucket>>> =
            vec![Vec::new(); rollup::RESOLUTIONS.len()];
        for item in self.series_columns() {
            let (_, ts, vs) = item?;
            for (i, &res) in rollup::RESOLUTIONS.iter().enumerate() {
                per_res[i].push(rollup::aggregate(&ts, &vs, res));
            }
        }
        for (i, &res) in rollup::RESOLUTIONS.iter().enumerate() {
            write_atomic(
                &self.dir,
                &format!("rollup-{res}"),
                &rollup::encode(res, &per_res[i]),
            )?;
        }
        let mut meta = self.meta.clone();
        meta.raw = false;
        let json = serde_json::to_vec_pretty(&meta).map_err(std::io::Error::other)?;
        write_atomic(&self.dir, "meta.json", &json)?;
        std::fs::remove_file(self.dir.join("chunks"))?;
        crate::wal::sync_dir(&self.dir)?;
        Block::open(&self.dir)
    }

    /// Every series with all its samples, in label order (for compaction).
    pub fn series_columns(&self) -> impl Iterator<Item = Result<Columns>> + '_ {
        self.series.iter().map(|(refs, chunks)| {
            let n: usize = chunks.iter().map(|c| c.count as usize).sum();
            let (mut ts, mut vs) = (Vec::with_capacity(n), Vec::with_capacity(n));
            let mut buf = Vec::new();
            for c in chunks {
                self.read_chunk(c, &mut buf, &mut ts, &mut vs)?;
            }
            Ok((labels_of(&self.symbols, refs), ts, vs))
        })
    }

    /// Per metric name: (series, samples, chunk bytes) in this block.
    pub fn usage_by_metric(&self, out: &mut std::collections::BTreeMap<String, (u64, u64, u64)>) {
        let name_symbol = self.symbols.iter().position(|s| &**s == "__name__");
        for (refs, chunks) in &self.series {
            let name = refs
                .chunks_exact(2)
                .find(|p| Some(p[0] as usize) == name_symbol)
                .and_then(|p| self.symbols.get(p[1] as usize))
                .map_or(String::new(), |s| s.to_string());
            let e = out.entry(name).or_default();
            e.0 += 1;
            e.1 += chunks.iter().map(|c| u64::from(c.count)).sum::<u64>();
            e.2 += chunks.iter().map(|c| u64::from(c.len)).sum::<u64>();
        }
    }

    pub fn postings(&self) -> &Postings {
        &self.postings
    }

    /// Bytes of RAM the loaded index takes, roughly.
    pub fn index_memory(&self) -> usize {
        self.symbols.iter().map(|s| s.len() + 16).sum::<usize>()
            + self
                .series
                .iter()
                .map(|(l, c)| l.len() * 4 + c.len() * std::mem::size_of::<ChunkMeta>() + 2 * 16)
                .sum::<usize>()
    }
}

/// Writes `name` in `dir` through a temporary file and a rename.
fn write_atomic(dir: &Path, name: &str, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))?;
    Ok(())
}
