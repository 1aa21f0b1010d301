//! The read path of a selection: which series match, in label order, and their samples in
//! a range, joined from every block, the frozen head and the head.
//!
//! A selection runs in two phases. The first reads indexes only: each source (a block, the
//! frozen head, the head) lists its matching series as [`Piece`]s, sorted by labels, and the
//! lists are joined by labels without copying a label set. The second phase reads the
//! samples of each series (on all cores for a large selection) straight into one vector
//! sized from the chunk directory: a series' pieces nearly always cover disjoint time
//! ranges (blocks partition time), so they are decoded in time order and appended, with no
//! per-source sample lists to join and free. Pieces that overlap in time (out-of-order
//! writes, a flush in progress) take the general merge, where the later source wins
//! duplicate timestamps.

use crate::block::index::ChunkMeta;
use crate::block::{Block, Scratch, Selected, rollup};
use crate::error::{Error, Result};
use crate::head::{MemSeries, SeriesData};
use argus_core::{Labels, ReadLimit, ReadLimits, Sample};
use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where one series' samples in the range are, not read yet.
pub(crate) enum Piece<'a> {
    /// The chunks of a raw block that overlap the range, in time order.
    Chunks(&'a Block, &'a [ChunkMeta]),
    /// The buckets of a downsampled block.
    Rollup(&'a [rollup::Bucket]),
    /// A series of a flush in progress.
    Frozen(&'a SeriesData),
    /// A series of the head.
    Head(&'a MemSeries),
}

/// One source's matching series, sorted by labels.
pub(crate) type Source<'a> = Vec<(Cow<'a, Labels>, Piece<'a>)>;

/// The matching series of `block` in `[start, end]` as a source (see [`Block::select`]).
pub(crate) fn block_source<'a>(
    block: &'a Block,
    matchers: &[argus_core::Matcher],
    start: i64,
    end: i64,
    step_ms: i64,
) -> Result<Source<'a>> {
    let mut src = Vec::new();
    block.select(matchers, start, end, step_ms, &mut |labels, selected| {
        let piece = match selected {
            Selected::Chunks(c) => Piece::Chunks(block, c),
            Selected::Rollup(b) => Piece::Rollup(b),
        };
        src.push((Cow::Owned(labels), piece));
    })?;
    Ok(src)
}

/// A series and its pieces, each with its source's priority (higher wins duplicates).
type Joined<'a> = (Cow<'a, Labels>, Vec<(usize, Piece<'a>)>);

/// Reads the series of `sources` (given in ascending priority) in `[start, end]`, in label
/// order, and keeps what `keep` makes of each: it gets a series' samples (never empty) as
/// soon as they are read, on the reading thread, and may take the vector or leave it to be
/// reused for the next series.
///
/// Over `limits` the read stops with [`Error::OverRead`]: too many series before any
/// sample is decoded, too many samples as soon as the readers together have loaded more.
pub(crate) fn read<T: Send>(
    sources: Vec<Source<'_>>,
    start: i64,
    end: i64,
    limits: ReadLimits,
    keep: &(dyn Fn(&Labels, &mut Vec<Sample>) -> Option<T> + Sync),
) -> Result<Vec<T>> {
    let mut joined = join(sources);
    if joined.len() > limits.series {
        return Err(Error::OverRead {
            what: ReadLimit::Series,
            limit: limits.series,
        });
    }
    let budget = Budget {
        left: AtomicUsize::new(limits.samples),
        limit: limits.samples,
    };
    let budget = &budget;
    let threads = cores().min(8);
    if joined.len() < 64 || threads < 2 {
        return read_part(&mut joined, start, end, budget, keep);
    }
    let per = joined.len().div_ceil(threads);
    let parts: Vec<Result<Vec<T>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = joined
            .chunks_mut(per)
            .map(|part| scope.spawn(move || read_part(part, start, end, budget, keep)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Other("a series reader panicked".into())))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(joined.len());
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

/// The machine's cores, asked once: `available_parallelism` reads the cgroup's files on
/// every call (a dozen system calls), which a rule evaluating thousands of small selects
/// a round paid on each one.
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Joins per-source lists sorted by labels into one, gathering a series' pieces.
fn join(sources: Vec<Source<'_>>) -> Vec<Joined<'_>> {
    let mut iters: Vec<_> = sources
        .into_iter()
        .enumerate()
        .filter(|(_, s)| !s.is_empty())
        .map(|(prio, s)| (prio, s.into_iter().peekable()))
        .collect();
    if iters.len() == 1 {
        let (prio, it) = iters.remove(0);
        return it.map(|(l, p)| (l, vec![(prio, p)])).collect();
    }
    let mut out = Vec::new();
    loop {
        // The smallest label set at the front of any source: taken from it, not copied.
        let at = {
            let fronts: Vec<Option<&Cow<'_, Labels>>> = iters
                .iter_mut()
                .map(|(_, it)| it.peek().map(|x| &x.0))
                .collect();
            fronts
                .iter()
                .enumerate()
                .filter_map(|(i, f)| f.map(|l| (i, l)))
                .min_by(|a, b| a.1.cmp(b.1))
                .map(|(i, _)| i)
        };
        let Some((min, first)) = at.and_then(|i| iters[i].1.next()) else {
            return out;
        };
        let mut first = Some(first);
        let mut pieces = Vec::with_capacity(iters.len());
        for (i, (prio, it)) in iters.iter_mut().enumerate() {
            if Some(i) == at {
                if let Some(p) = first.take() {
                    pieces.push((*prio, p));
                }
            } else if let Some((_, p)) = it.next_if(|x| x.0 == min) {
                pieces.push((*prio, p));
            }
        }
        out.push((min, pieces));
    }
}

/// The samples the readers of one selection may still load, shared by its threads.
struct Budget {
    left: AtomicUsize,
    limit: usize,
}

impl Budget {
    /// Takes `n` samples from what is left; fails (for every reader) once it is spent.
    fn take(&self, n: usize) -> Result<()> {
        let taken = self
            .left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(n)
            });
        if taken.is_err() {
            self.left.store(0, Ordering::Relaxed);
            return Err(Error::OverRead {
                what: ReadLimit::Samples,
                limit: self.limit,
            });
        }
        Ok(())
    }
}

fn read_part<T>(
    part: &mut [Joined<'_>],
    start: i64,
    end: i64,
    budget: &Budget,
    keep: &(dyn Fn(&Labels, &mut Vec<Sample>) -> Option<T> + Sync),
) -> Result<Vec<T>> {
    let mut scratch = Scratch::default();
    let mut samples = Vec::new();
    let mut out = Vec::with_capacity(part.len());
    for (labels, pieces) in part {
        samples.clear();
        let pieces = std::mem::take(pieces);
        assemble(pieces, start, end, &mut scratch, &mut samples)?;
        budget.take(samples.len())?;
        if !samples.is_empty()
            && let Some(t) = keep(labels, &mut samples)
        {
            out.push(t);
        }
    }
    Ok(out)
}

/// A piece with its time span and (an upper bound of) its sample count, or its samples
/// once read.
enum Spanned<'a> {
    Lazy(&'a Block, &'a [ChunkMeta]),
    Read(Vec<Sample>),
}

impl Spanned<'_> {
    fn span(&self) -> Option<(i64, i64)> {
        match self {
            Spanned::Lazy(_, c) => Some((c.first()?.min_t, c.last()?.max_t)),
            Spanned::Read(s) => Some((s.first()?.ts, s.last()?.ts)),
        }
    }

    fn count(&self) -> usize {
        match self {
            Spanned::Lazy(_, c) => c.iter().map(|c| c.count as usize).sum(),
            Spanned::Read(s) => s.len(),
        }
    }

    fn read_into(self, start: i64, end: i64, out: &mut Vec<Sample>, s: &mut Scratch) -> Result<()> {
        match self {
            Spanned::Lazy(b, c) => b.read_chunks(c, start, end, out, s),
            Spanned::Read(v) => {
                out.extend_from_slice(&v);
                Ok(())
            }
        }
    }
}

/// One series' samples in `[start, end]` from its pieces, in time order, into `out`
/// (empty).
fn assemble(
    pieces: Vec<(usize, Piece<'_>)>,
    start: i64,
    end: i64,
    scratch: &mut Scratch,
    out: &mut Vec<Sample>,
) -> Result<()> {
    let mut parts: Vec<(usize, Spanned<'_>)> = pieces
        .into_iter()
        .map(|(prio, p)| {
            let read = |f: &dyn Fn(&mut Vec<Sample>)| {
                let mut v = Vec::new();
                f(&mut v);
                Spanned::Read(v)
            };
            let s = match p {
                Piece::Chunks(b, c) => Spanned::Lazy(b, c),
                Piece::Rollup(buckets) => read(&|v| rollup::as_samples(buckets, start, end, v)),
                Piece::Frozen(d) => read(&|v| d.samples_in(start, end, v)),
                Piece::Head(m) => read(&|v| m.data().samples_in(start, end, v)),
            };
            (prio, s)
        })
        .filter(|(_, s)| s.span().is_some())
        .collect();
    if let [(_, Spanned::Read(v))] = parts.as_mut_slice() {
        // The head or a rollup alone: its samples are read already.
        *out = std::mem::take(v);
        return Ok(());
    }
    parts.sort_by_key(|(_, s)| s.span().map_or(i64::MIN, |x| x.0));
    let disjoint = parts
        .windows(2)
        .all(|w| match (w[0].1.span(), w[1].1.span()) {
            (Some(a), Some(b)) => a.1 < b.0,
            _ => false,
        });
    if disjoint {
        out.reserve(parts.iter().map(|(_, s)| s.count()).sum());
        for (_, s) in parts {
            s.read_into(start, end, out, scratch)?;
        }
        return Ok(());
    }
    let mut lists = Vec::with_capacity(parts.len());
    for (prio, s) in parts {
        let mut v = Vec::new();
        s.read_into(start, end, &mut v, scratch)?;
        lists.push((prio, v));
    }
    *out = merge_samples(lists);
    Ok(())
}

/// Joins sample lists of one series in time order; of equal timestamps the list with the
/// higher priority wins.
pub(crate) fn merge_samples(mut lists: Vec<(usize, Vec<Sample>)>) -> Vec<Sample> {
    // The common case: blocks of disjoint time ranges, whose lists only need joining in
    // time order (no timestamp in two lists, so priorities do not matter).
    lists.retain(|(_, s)| !s.is_empty());
    lists.sort_by_key(|(_, s)| s.first().map_or(i64::MIN, |x| x.ts));
    let disjoint = lists
        .windows(2)
        .all(|w| match (w[0].1.last(), w[1].1.first()) {
            (Some(a), Some(b)) => a.ts < b.ts,
            _ => false,
        });
    if disjoint {
        let total: usize = lists.iter().map(|(_, s)| s.len()).sum();
        let mut rest = lists.into_iter();
        // The earliest list's allocation is reused: only the later lists are copied.
        let mut out = rest.next().map(|(_, s)| s).unwrap_or_default();
        out.reserve(total - out.len());
        for (_, s) in rest {
            out.extend_from_slice(&s);
        }
        return out;
    }
    let mut all: Vec<(i64, usize, f64)> = lists
        .into_iter()
        .flat_map(|(p, s)| s.into_iter().map(move |x| (x.ts, p, x.value)))
        .collect();
    all.sort_by_key(|a| (a.0, a.1));
    let mut out: Vec<Sample> = Vec::with_capacity(all.len());
    for (ts, _, value) in all {
        match out.last_mut() {
            Some(last) if last.ts == ts => last.value = value,
            _ => out.push(Sample { ts, value }),
        }
    }
    out
}

#[cfg(test)]
mod merge_tests {
    use super::*;

    fn s(points: &[(i64, f64)]) -> Vec<Sample> {
        points
            .iter()
            .map(|&(ts, value)| Sample { ts, value })
            .collect()
    }

    #[test]
    fn disjoint_lists_are_joined_in_time_order() {
        // Listed out of time order (a later block before an earlier one).
        let got = merge_samples(vec![
            (0, s(&[(30, 3.0), (40, 4.0)])),
            (1, Vec::new()),
            (2, s(&[(10, 1.0), (20, 2.0)])),
        ]);
        assert_eq!(got, s(&[(10, 1.0), (20, 2.0), (30, 3.0), (40, 4.0)]));
    }

    #[test]
    fn overlapping_lists_merge_and_the_later_part_wins_duplicates() {
        let got = merge_samples(vec![
            (0, s(&[(10, 1.0), (30, 3.0)])),
            (1, s(&[(20, 2.0), (30, 9.0)])),
        ]);
        assert_eq!(got, s(&[(10, 1.0), (20, 2.0), (30, 9.0)]));
        // Touching at one timestamp is an overlap too.
        let got = merge_samples(vec![
            (1, s(&[(30, 7.0), (40, 4.0)])),
            (0, s(&[(10, 1.0), (30, 3.0)])),
        ]);
        assert_eq!(got, s(&[(10, 1.0), (30, 7.0), (40, 4.0)]));
    }
}
