//! The [`Compactor`]: writes the frozen head as blocks, and merges blocks into larger ones.
//!
//! Its words, as in the Prometheus TSDB's `compact.go`:
//!
//! - **partition**: a span of `block_duration_ms` aligned to the epoch. A flush writes one
//!   *level*-0 block per partition that holds samples, so no block straddles two.
//! - **range**: a span that merged blocks may cover: the block duration, then 6× and 36×
//!   it (the larger two only up to a tenth of the retention, so that retention can still
//!   drop old data block by block). Ranges are aligned to the epoch too.
//! - **plan**: the blocks one merge replaces: two or more raw blocks lying wholly inside the
//!   same range, once that range no longer receives samples (its end plus the out-of-order
//!   window is behind the newest sample), or at once when forced.
//! - **level**: how many merges produced a block; a merge's output is one above the highest
//!   of its *sources*, the blocks it replaces. Sources are listed in the new block's meta,
//!   so that after a crash between writing it and deleting them, opening the database
//!   deletes them (see `Db::open`).
//!
//! The compactor only writes block directories. [`Db`](crate::Db) decides when to run it,
//! swaps its output into what readers see and deletes the sources; downsampling and
//! retention, which drop data instead of rewriting it, are `Db::apply_retention`'s.

use crate::block::writer::{BlockSpec, write_block};
use crate::block::{self, Block, Meta};
use crate::error::{Error, Result};
use crate::head::Frozen;
use crate::options::Options;
use crate::select::merge_samples;
use argus_core::{Labels, Sample};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

/// Writes and merges blocks in one `blocks` directory.
pub(crate) struct Compactor {
    blocks_dir: PathBuf,
    block_duration_ms: i64,
    /// Ascending; the first is the block duration.
    ranges: Vec<i64>,
    ooo_window_ms: i64,
}

impl Compactor {
    pub(crate) fn new(blocks_dir: PathBuf, opts: &Options) -> Self {
        let bd = opts.block_duration_ms;
        let max_range = (opts.retention_ms / 10).max(bd);
        let ranges = [bd, bd * 6, bd * 36]
            .into_iter()
            .filter(|&r| r == bd || r <= max_range)
            .collect();
        Compactor {
            blocks_dir,
            block_duration_ms: bd,
            ranges,
            ooo_window_ms: opts.ooo_window_ms,
        }
    }

    /// The ranges merges build, smallest first.
    pub(crate) fn ranges(&self) -> &[i64] {
        &self.ranges
    }

    /// Writes the frozen samples as one level-0 block per partition, taking each block's
    /// id from `new_id`. Returns the metas of the blocks written.
    pub(crate) fn write_head(
        &self,
        frozen: &Frozen,
        mut new_id: impl FnMut() -> u64,
    ) -> Result<Vec<Meta>> {
        let bd = self.block_duration_ms;
        let mut order: Vec<usize> = (0..frozen.series.len()).collect();
        order.sort_by(|&a, &b| frozen.series[a].0.labels.cmp(&frozen.series[b].0.labels));
        let mut partitions = BTreeSet::new();
        for (_, d) in &frozen.series {
            let (ts, _) = d.columns();
            let mut last = None;
            for t in ts {
                let p = t.div_euclid(bd);
                if last != Some(p) {
                    partitions.insert(p);
                    last = Some(p);
                }
            }
        }
        let mut metas = Vec::new();
        for p in partitions {
            let (lo, hi) = (p * bd, p * bd + bd - 1);
            let series = order.iter().filter_map(|&i| {
                let (series, d) = &frozen.series[i];
                let mut s = Vec::new();
                d.samples_in(lo, hi, &mut s);
                (!s.is_empty()).then(|| {
                    let ts = s.iter().map(|x| x.ts).collect();
                    let vs = s.iter().map(|x| x.value).collect();
                    (series.labels.clone(), ts, vs)
                })
            });
            let spec = BlockSpec {
                id: new_id(),
                level: 0,
                sources: Vec::new(),
            };
            if let Some(m) = write_block(&self.blocks_dir, spec, series)? {
                metas.push(m);
            }
        }
        Ok(metas)
    }

    /// The next merge at `range`: positions (in `metas`' order) of the blocks to merge, or
    /// `None` when no range is complete and holds more than one block. Unless `force`, a
    /// range is complete once its end plus the out-of-order window is behind `newest`, the
    /// newest sample's time.
    pub(crate) fn plan<'m>(
        &self,
        metas: impl IntoIterator<Item = &'m Meta>,
        range: i64,
        newest: i64,
        force: bool,
    ) -> Option<Vec<usize>> {
        let mut buckets: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for (i, m) in metas.into_iter().enumerate() {
            let k = m.min_t.div_euclid(range);
            if m.raw && m.max_t.div_euclid(range) == k {
                buckets.entry(k).or_default().push(i);
            }
        }
        buckets
            .into_iter()
            .find(|(k, bs)| {
                let end = (k + 1) * range;
                bs.len() > 1 && (force || end + self.ooo_window_ms < newest)
            })
            .map(|(_, bs)| bs)
    }

    /// Writes the union of `sources` (ascending id: a later block wins equal timestamps)
    /// as block `id`, one level above the highest source, and opens it. `None` when the
    /// sources hold no sample. If a source cannot be read, the partial output is removed
    /// and the sources stay as they are.
    pub(crate) fn merge(&self, sources: &[Arc<Block>], id: u64) -> Result<Option<Block>> {
        let level = sources.iter().map(|b| b.meta.level).max().unwrap_or(0) + 1;
        let spec = BlockSpec {
            id,
            level,
            sources: sources.iter().map(|b| b.meta.id).collect(),
        };
        let mut err = None;
        let merged = MergeIter::new(sources, &mut err);
        let meta = write_block(&self.blocks_dir, spec, merged);
        if let Some(e) = err {
            if let Ok(Some(m)) = &meta {
                let _ = std::fs::remove_dir_all(self.blocks_dir.join(block::dir_name(m.id)));
            }
            return Err(e);
        }
        match meta? {
            Some(m) => Ok(Some(Block::open(
                &self.blocks_dir.join(block::dir_name(m.id)),
            )?)),
            None => Ok(None),
        }
    }
}

/// Streams the union of several blocks' series in label order, merging samples of equal
/// series (later block wins duplicates). An I/O or format error stops the stream and is
/// left in `err`.
type ColumnIter<'a> = Box<dyn Iterator<Item = Result<block::Columns>> + 'a>;

struct MergeIter<'a> {
    iters: Vec<std::iter::Peekable<ColumnIter<'a>>>,
    err: &'a mut Option<Error>,
}

impl<'a> MergeIter<'a> {
    fn new(sources: &'a [Arc<Block>], err: &'a mut Option<Error>) -> Self {
        let iters = sources
            .iter()
            .map(|b| {
                let it: ColumnIter<'a> = Box::new(b.series_columns());
                it.peekable()
            })
            .collect();
        MergeIter { iters, err }
    }
}

impl Iterator for MergeIter<'_> {
    type Item = (Labels, Vec<i64>, Vec<f64>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.err.is_some() {
            return None;
        }
        // The smallest label set at the front of any source.
        let mut min: Option<Labels> = None;
        for it in &mut self.iters {
            match it.peek() {
                Some(Ok((l, _, _))) if min.as_ref().is_none_or(|m| l < m) => {
                    min = Some(l.clone());
                }
                Some(Ok(_)) => {}
                Some(Err(_)) => {
                    if let Some(Err(e)) = it.next() {
                        *self.err = Some(e);
                    }
                    return None;
                }
                None => {}
            }
        }
        let min = min?;
        let mut lists = Vec::new();
        for (prio, it) in self.iters.iter_mut().enumerate() {
            if matches!(it.peek(), Some(Ok((l, _, _))) if *l == min)
                && let Some(Ok((_, ts, vs))) = it.next()
            {
                let s: Vec<Sample> = ts
                    .into_iter()
                    .zip(vs)
                    .map(|(ts, value)| Sample { ts, value })
                    .collect();
                lists.push((prio, s));
            }
        }
        let merged = if lists.len() == 1 {
            lists.pop().map(|x| x.1).unwrap_or_default()
        } else {
            merge_samples(lists)
        };
        let ts = merged.iter().map(|s| s.ts).collect();
        let vs = merged.iter().map(|s| s.value).collect();
        Some((min, ts, vs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn compactor(dir: &std::path::Path, retention_ms: i64) -> Compactor {
        Compactor::new(
            dir.to_path_buf(),
            &Options {
                retention_ms,
                ooo_window_ms: HOUR,
                ..Options::default()
            },
        )
    }

    fn meta(id: u64, min_t: i64, max_t: i64) -> Meta {
        Meta {
            version: 1,
            id,
            min_t,
            max_t,
            series: 1,
            samples: 1,
            chunks: 1,
            level: 0,
            sources: Vec::new(),
            raw: true,
        }
    }

    #[test]
    fn ranges_grow_by_6_and_36_up_to_a_tenth_of_the_retention() {
        let dir = std::path::Path::new("unused");
        assert_eq!(
            compactor(dir, 30 * 24 * HOUR).ranges(),
            [2 * HOUR, 12 * HOUR, 72 * HOUR]
        );
        assert_eq!(
            compactor(dir, 5 * 24 * HOUR).ranges(),
            [2 * HOUR, 12 * HOUR]
        );
        // A retention shorter than ten partitions still merges within a partition.
        assert_eq!(compactor(dir, HOUR).ranges(), [2 * HOUR]);
    }

    #[test]
    fn a_plan_takes_the_raw_blocks_of_the_first_complete_range() {
        let c = compactor(std::path::Path::new("unused"), 30 * 24 * HOUR);
        let r = 12 * HOUR;
        let mut downsampled = meta(5, 3 * r, 3 * r + HOUR);
        downsampled.raw = false;
        let metas = [
            meta(1, 0, 2 * HOUR - 1),
            meta(2, 2 * HOUR, 4 * HOUR - 1),
            // Straddles two ranges: never merged at this range.
            meta(3, r - HOUR, r + HOUR),
            meta(4, r + HOUR, r + 2 * HOUR),
            downsampled,
            meta(6, 3 * r + 2 * HOUR, 3 * r + 3 * HOUR),
        ];
        // The newest sample is well past the first range and its out-of-order window.
        let newest = 2 * r;
        assert_eq!(c.plan(&metas, r, newest, false), Some(vec![0, 1]));
        // Until the window has passed, the range may still receive samples.
        assert_eq!(c.plan(&metas, r, r + HOUR / 2, false), None);
        assert_eq!(c.plan(&metas, r, r + HOUR / 2, true), Some(vec![0, 1]));
        // Without the first range, the next with two raw blocks: none (block 4 is alone,
        // block 5 is downsampled).
        assert_eq!(c.plan(&metas[2..], r, i64::MAX, true), None);
    }

    fn series(host: &str, samples: &[(i64, f64)]) -> (Labels, Vec<i64>, Vec<f64>) {
        (
            Labels::with_name("m", [("host", host)]),
            samples.iter().map(|s| s.0).collect(),
            samples.iter().map(|s| s.1).collect(),
        )
    }

    fn write(dir: &std::path::Path, id: u64, s: Vec<(Labels, Vec<i64>, Vec<f64>)>) -> Arc<Block> {
        let spec = BlockSpec {
            id,
            level: 0,
            sources: Vec::new(),
        };
        let m = write_block(dir, spec, s.into_iter())
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("block {id} is empty"));
        Arc::new(Block::open(&dir.join(block::dir_name(m.id))).unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn a_merge_joins_series_and_the_later_block_wins_equal_timestamps() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path();
        let a = write(
            dir,
            1,
            vec![
                series("a", &[(10, 1.0), (20, 2.0)]),
                series("b", &[(10, 5.0)]),
            ],
        );
        let b = write(
            dir,
            2,
            vec![
                series("b", &[(10, 6.0), (30, 7.0)]),
                series("c", &[(5, 9.0)]),
            ],
        );
        let c = compactor(dir, 30 * 24 * HOUR);
        let merged = c
            .merge(&[a, b], 3)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("the merge is empty"));
        assert_eq!(merged.meta.level, 1);
        assert_eq!(merged.meta.sources, vec![1, 2]);
        assert_eq!((merged.meta.min_t, merged.meta.max_t), (5, 30));
        let got: Vec<(Labels, Vec<i64>, Vec<f64>)> = merged
            .series_columns()
            .collect::<Result<_>>()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            got,
            vec![
                series("a", &[(10, 1.0), (20, 2.0)]),
                series("b", &[(10, 6.0), (30, 7.0)]),
                series("c", &[(5, 9.0)]),
            ]
        );
    }
}
