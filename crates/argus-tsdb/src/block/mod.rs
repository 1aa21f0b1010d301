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
use index::{ChunkMeta, read_index};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub const META_VERSION: u32 = 1;

/// Series with their samples, as a selection returns them.
pub type Selected = Vec<(Labels, Vec<Sample>)>;

/// One series with all its samples as columns, as compaction reads them.
pub type Columns<'a> = (&'a Labels, Vec<i64>, Vec<f64>);

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
    series: Vec<(Labels, Vec<ChunkMeta>)>,
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
        let series = read_index(&std::fs::read(&index_path)?).map_err(|source| Error::Format {
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
        for (i, (l, _)) in series.iter().enumerate() {
            postings.add(i as u32, l);
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
            series,
            postings,
            disk_bytes,
        })
    }

    pub fn overlaps(&self, start: i64, end: i64) -> bool {
        self.meta.max_t >= start && self.meta.min_t <= end
    }

    /// Reads and decodes one chunk, checking its checksum.
    fn read_chunk(&self, c: &ChunkMeta, ts: &mut Vec<i64>, vs: &mut Vec<f64>) -> Result<()> {
        let Some(chunks) = &self.chunks else {
            return Err(Error::Other(format!(
                "block {} is downsampled: its raw samples are gone",
                self.dir.display()
            )));
        };
        let mut buf = vec![0u8; c.len as usize];
        chunks.read_exact_at(&mut buf, c.offset)?;
        let file = || self.dir.join("chunks").display().to_string();
        if crc32fast::hash(&buf) != c.crc {
            return Err(Error::Format {
                file: format!("{} at byte {}", file(), c.offset),
                source: FormatError::Checksum("chunk"),
            });
        }
        chunk::decode(&buf, ts, vs).map_err(|e| Error::Format {
            file: format!("{} at byte {}: {e:?}", file(), c.offset),
            source: FormatError::Invalid("chunk"),
        })
    }

    /// Samples of matching series in `[start, end]`.
    pub fn select(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
        out: &mut Vec<(Labels, Vec<Sample>)>,
    ) -> Result<()> {
        if !self.overlaps(start, end) {
            return Ok(());
        }
        if !self.meta.raw {
            return self.select_rollup(0, matchers, start, end, out);
        }
        let ids = self.postings.select(matchers);
        // Decoding dominates large selections: split them over the cores.
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8);
        if ids.len() < 64 || threads < 2 {
            return self.read_series(&ids, start, end, out);
        }
        let per = ids.len().div_ceil(threads);
        let parts: Vec<Result<Selected>> = std::thread::scope(|scope| {
            let handles: Vec<_> = ids
                .chunks(per)
                .map(|part| {
                    scope.spawn(move || {
                        let mut o = Vec::new();
                        self.read_series(part, start, end, &mut o).map(|()| o)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::Other("a block reader panicked".into())))
                })
                .collect()
        });
        for p in parts {
            out.extend(p?);
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
            let (labels, chunks) = &self.series[i as usize];
            if !self.meta.raw || chunks.iter().any(|c| c.max_t >= start && c.min_t <= end) {
                out.push(labels.clone());
            }
        }
    }

    /// Reads series `ids` (positions in this block) for `[start, end]`.
    fn read_series(
        &self,
        ids: &[u32],
        start: i64,
        end: i64,
        out: &mut Vec<(Labels, Vec<Sample>)>,
    ) -> Result<()> {
        let (mut ts, mut vs) = (Vec::new(), Vec::new());
        for &i in ids {
            let (labels, chunks) = &self.series[i as usize];
            let mut samples = Vec::new();
            for c in chunks.iter().filter(|c| c.max_t >= start && c.min_t <= end) {
                ts.clear();
                vs.clear();
                self.read_chunk(c, &mut ts, &mut vs)?;
                let lo = ts.partition_point(|&t| t < start);
                let hi = ts.partition_point(|&t| t <= end);
                samples.extend(
                    ts[lo..hi]
                        .iter()
                        .zip(&vs[lo..hi])
                        .map(|(&ts, &value)| Sample { ts, value }),
                );
            }
            if !samples.is_empty() {
                out.push((labels.clone(), samples));
            }
        }
        Ok(())
    }

    /// Like [`select`](Self::select), preferring the coarser rollup for a downsampled block
    /// when the caller steps at least that far.
    pub fn select_step(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
        step_ms: i64,
        out: &mut Vec<(Labels, Vec<Sample>)>,
    ) -> Result<()> {
        if !self.meta.raw && self.overlaps(start, end) {
            let level = if step_ms >= rollup::RESOLUTIONS[1] {
                1
            } else {
                0
            };
            return self.select_rollup(level, matchers, start, end, out);
        }
        self.select(matchers, start, end, out)
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

    fn select_rollup(
        &self,
        level: usize,
        matchers: &[Matcher],
        start: i64,
        end: i64,
        out: &mut Vec<(Labels, Vec<Sample>)>,
    ) -> Result<()> {
        let rollups = self.rollup(level)?;
        for i in self.postings.select(matchers) {
            let mut samples = Vec::new();
            rollup::as_samples(&rollups[i as usize], start, end, &mut samples);
            if !samples.is_empty() {
                out.push((self.series[i as usize].0.clone(), samples));
            }
        }
        Ok(())
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
    pub fn series_columns(
        &self,
    ) -> impl Iterator<Item = Result<(&Labels, Vec<i64>, Vec<f64>)>> + '_ {
        self.series.iter().map(|(l, chunks)| {
            let n: usize = chunks.iter().map(|c| c.count as usize).sum();
            let (mut ts, mut vs) = (Vec::with_capacity(n), Vec::with_capacity(n));
            for c in chunks {
                self.read_chunk(c, &mut ts, &mut vs)?;
            }
            Ok((l, ts, vs))
        })
    }

    /// Per metric name: (series, samples, chunk bytes) in this block.
    pub fn usage_by_metric(&self, out: &mut std::collections::BTreeMap<String, (u64, u64, u64)>) {
        for (labels, chunks) in &self.series {
            let name = labels.metric_name().unwrap_or("").to_string();
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
        self.series
            .iter()
            .map(|(l, c)| {
                l.iter()
                    .map(|l| l.name.len() + l.value.len() + 48)
                    .sum::<usize>()
                    + c.len() * std::mem::size_of::<ChunkMeta>()
                    + 48
            })
            .sum()
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
