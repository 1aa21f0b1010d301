//! The head: the recent samples of every live series, in memory.
//!
//! Each series ([`MemSeries`]) keeps an **open** buffer of up to [`OPEN_MAX`] raw samples
//! and, behind it, sealed head chunks compressed with [`crate::chunk`]. A flush
//! [`freeze`](Head::freeze)s the head: every series' samples are taken out at once (so they
//! can be written as blocks) while the series themselves, with their refs and newest
//! timestamp, stay, so appends continue at once.
//!
//! Out-of-order samples are accepted if they are no older than the out-of-order window
//! behind the series' newest sample; they are inserted in place (re-encoding one head chunk
//! when they fall behind the open buffer). A duplicate timestamp overwrites: last write wins.

use crate::chunk;
use crate::error::{Error, Result};
use crate::postings::Postings;
use argus_core::{Labels, Matcher, Sample};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Raw samples a series buffers before they are compressed into a head chunk.
pub const OPEN_MAX: usize = 64;

thread_local! {
    static ENCODER: RefCell<chunk::Encoder> = RefCell::new(chunk::Encoder::new());
}

fn encode(ts: &[i64], vals: &[f64]) -> Box<[u8]> {
    let mut out = Vec::with_capacity(ts.len() + 16);
    ENCODER.with(|e| e.borrow_mut().encode(ts, vals, &mut out));
    out.into_boxed_slice()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|p| p.into_inner())
}

/// A compressed run of one series' samples.
#[derive(Debug, Clone)]
pub struct HeadChunk {
    pub min_t: i64,
    pub max_t: i64,
    pub count: u32,
    pub bytes: Box<[u8]>,
}

impl HeadChunk {
    fn new(ts: &[i64], vals: &[f64]) -> Self {
        HeadChunk {
            min_t: ts[0],
            max_t: ts[ts.len() - 1],
            count: ts.len() as u32,
            bytes: encode(ts, vals),
        }
    }

    pub fn decode_into(&self, ts: &mut Vec<i64>, vals: &mut Vec<f64>) {
        // Head chunks are made in this process from valid samples: a failure is a bug.
        if let Err(e) = chunk::decode(&self.bytes, ts, vals) {
            tracing::error!(error = ?e, "head chunk failed to decode");
        }
    }
}

/// One series' samples: sealed chunks, in time order and not overlapping, then the open
/// buffer, sorted, after them.
#[derive(Debug, Default)]
pub struct SeriesData {
    pub chunks: Vec<HeadChunk>,
    pub open_ts: Vec<i64>,
    pub open_v: Vec<f64>,
}

impl SeriesData {
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.open_ts.is_empty()
    }

    pub fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.count as usize).sum::<usize>() + self.open_ts.len()
    }

    /// Inserts a sample; returns whether it added one (false: it replaced a duplicate).
    fn insert(&mut self, t: i64, v: f64) -> bool {
        // Fast path: newest sample of the series.
        let newest = self
            .open_ts
            .last()
            .copied()
            .or_else(|| self.chunks.last().map(|c| c.max_t));
        if newest.is_none_or(|n| t > n) {
            // The buffers grow as samples come (4, 8, … 64), not to OPEN_MAX at once: a
            // series that gets one sample (a short-lived one, high churn) then costs 64
            // bytes, not 1 KiB.
            self.open_ts.push(t);
            self.open_v.push(v);
            if self.open_ts.len() >= OPEN_MAX {
                self.seal();
            }
            return true;
        }
        // The open buffer holds what follows the sealed chunks: a sample after them goes
        // there, in place, even before the buffer's first (an empty buffer included).
        if self.chunks.last().is_none_or(|c| t > c.max_t) {
            return match self.open_ts.binary_search(&t) {
                Ok(i) => {
                    self.open_v[i] = v;
                    false
                }
                Err(i) => {
                    self.open_ts.insert(i, t);
                    self.open_v.insert(i, v);
                    true
                }
            };
        }
        // Behind the open buffer: re-encode the chunk whose span it falls into.
        let i = self
            .chunks
            .partition_point(|c| c.min_t <= t)
            .saturating_sub(1);
        let c = &self.chunks[i];
        let (mut ts, mut vs) = (Vec::with_capacity(c.count as usize + 1), Vec::new());
        c.decode_into(&mut ts, &mut vs);
        let added = match ts.binary_search(&t) {
            Ok(j) => {
                vs[j] = v;
                false
            }
            Err(j) => {
                ts.insert(j, t);
                vs.insert(j, v);
                true
            }
        };
        if ts.len() > 2 * OPEN_MAX {
            // A chunk that out-of-order samples keep landing in is split, so that each
            // insert re-encodes at most a few hundred samples (a backfill behind newer
            // data would otherwise re-encode an ever larger chunk: quadratic).
            let half = ts.len() / 2;
            let parts = [
                HeadChunk::new(&ts[..half], &vs[..half]),
                HeadChunk::new(&ts[half..], &vs[half..]),
            ];
            self.chunks.splice(i..=i, parts);
        } else {
            self.chunks[i] = HeadChunk::new(&ts, &vs);
        }
        added
    }

    fn seal(&mut self) {
        if self.open_ts.is_empty() {
            return;
        }
        self.chunks
            .push(HeadChunk::new(&self.open_ts, &self.open_v));
        self.open_ts.clear();
        self.open_v.clear();
    }

    /// Appends the samples in `[start, end]` to `out`, in time order.
    pub fn samples_in(&self, start: i64, end: i64, out: &mut Vec<Sample>) {
        let (mut ts, mut vs) = (Vec::new(), Vec::new());
        for c in self
            .chunks
            .iter()
            .filter(|c| c.max_t >= start && c.min_t <= end)
        {
            ts.clear();
            vs.clear();
            c.decode_into(&mut ts, &mut vs);
            push_range(&ts, &vs, start, end, out);
        }
        push_range(&self.open_ts, &self.open_v, start, end, out);
    }

    /// Whether the series may hold a sample in `[start, end]`, without decoding: a sealed
    /// chunk whose span overlaps it (as Prometheus's series lookup, at chunk granularity),
    /// or an open-buffer sample inside it.
    pub fn overlaps(&self, start: i64, end: i64) -> bool {
        self.chunks
            .iter()
            .any(|c| c.max_t >= start && c.min_t <= end)
            || self.open_ts.partition_point(|&t| t < start)
                < self.open_ts.partition_point(|&t| t <= end)
    }

    /// Every sample, decoded, as two columns.
    pub fn columns(&self) -> (Vec<i64>, Vec<f64>) {
        let n = self.len();
        let (mut ts, mut vs) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for c in &self.chunks {
            c.decode_into(&mut ts, &mut vs);
        }
        ts.extend_from_slice(&self.open_ts);
        vs.extend_from_slice(&self.open_v);
        (ts, vs)
    }

    fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<HeadChunk>()
            + self.chunks.iter().map(|c| c.bytes.len()).sum::<usize>()
            + self.open_ts.capacity() * 16
    }
}

fn push_range(ts: &[i64], vs: &[f64], start: i64, end: i64, out: &mut Vec<Sample>) {
    let lo = ts.partition_point(|&t| t < start);
    let hi = ts.partition_point(|&t| t <= end);
    out.extend(
        ts[lo..hi]
            .iter()
            .zip(&vs[lo..hi])
            .map(|(&ts, &value)| Sample { ts, value }),
    );
}

/// A live series.
#[derive(Debug)]
pub struct MemSeries {
    pub labels: Labels,
    /// The head's number for this series (its WAL ref).
    pub r: u32,
    /// Whether a Series record for it is in the WAL or the current checkpoint.
    logged: std::sync::atomic::AtomicBool,
    dead: std::sync::atomic::AtomicBool,
    /// The newest timestamp ever appended; survives flushes, anchors the out-of-order window.
    max_t: AtomicI64,
    data: Mutex<SeriesData>,
}

impl MemSeries {
    fn new(r: u32, labels: Labels, logged: bool) -> Self {
        MemSeries {
            labels,
            r,
            logged: std::sync::atomic::AtomicBool::new(logged),
            dead: std::sync::atomic::AtomicBool::new(false),
            max_t: AtomicI64::new(i64::MIN),
            data: Mutex::new(SeriesData::default()),
        }
    }

    /// False once a flush dropped the series from the head for being idle.
    pub fn is_live(&self) -> bool {
        !self.dead.load(Ordering::Relaxed)
    }

    pub fn is_logged(&self) -> bool {
        self.logged.load(Ordering::Relaxed)
    }

    pub fn set_logged(&self, v: bool) {
        self.logged.store(v, Ordering::Relaxed);
    }

    pub fn max_t(&self) -> i64 {
        self.max_t.load(Ordering::Relaxed)
    }

    pub fn data(&self) -> MutexGuard<'_, SeriesData> {
        lock(&self.data)
    }
}

/// The head's index. Live series are found by their labels through a table of the series
/// themselves (hashed by their labels), so each label set is held once, in its series:
/// a map from `Labels` to ref kept a second copy, about a third of a series' memory.
#[derive(Default)]
struct HeadIndex {
    by_labels: hashbrown::HashTable<Arc<MemSeries>>,
    postings: Postings,
    per_ns: HashMap<String, usize>,
}

fn hash_labels(l: &Labels) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::default().hash_one(l)
}

impl HeadIndex {
    fn find(&self, labels: &Labels) -> Option<&Arc<MemSeries>> {
        self.by_labels
            .find(hash_labels(labels), |s| s.labels == *labels)
    }
}

/// Limits the head enforces.
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    pub ooo_window_ms: i64,
    /// 0: unlimited.
    pub max_series_per_ns: usize,
}

pub struct Head {
    index: RwLock<HeadIndex>,
    /// Indexed by ref; `None` once a series is removed.
    series: RwLock<Vec<Option<Arc<MemSeries>>>>,
    limits: HeadLimits,
    samples: AtomicU64,
}

/// Samples taken out of the head by a flush, on their way into blocks, with their series
/// (whose labels they are written with; not copied).
pub struct Frozen {
    pub series: Vec<(Arc<MemSeries>, SeriesData)>,
}

impl Frozen {
    pub fn samples(&self) -> usize {
        self.series.iter().map(|(_, d)| d.len()).sum()
    }

    /// Label sets of matching series with data in `[start, end]`, without decoding.
    pub fn series_in(&self, matchers: &[Matcher], start: i64, end: i64, out: &mut Vec<Labels>) {
        for (s, data) in &self.series {
            if argus_core::matcher::matches_all(matchers, &s.labels) && data.overlaps(start, end) {
                out.push(s.labels.clone());
            }
        }
    }
}

/// The namespace a series counts against: its `ns` label, or "" for none.
fn ns_of(labels: &Labels) -> &str {
    labels.get("ns").unwrap_or("")
}

impl Head {
    pub fn new(limits: HeadLimits) -> Self {
        Head {
            index: RwLock::new(HeadIndex::default()),
            series: RwLock::new(Vec::new()),
            limits,
            samples: AtomicU64::new(0),
        }
    }

    /// The same head with other limits (replay runs without the series limit).
    pub fn with_limits(mut self, limits: HeadLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn get(&self, r: u32) -> Option<Arc<MemSeries>> {
        read(&self.series).get(r as usize).cloned().flatten()
    }

    /// The ref of `labels`, if the series is live.
    pub fn lookup(&self, labels: &Labels) -> Option<u32> {
        read(&self.index).find(labels).map(|s| s.r)
    }

    /// The series, creating it if needed.
    pub fn get_or_create_series(&self, labels: &Labels) -> Result<Arc<MemSeries>> {
        loop {
            let (r, _) = self.get_or_create(labels)?;
            if let Some(s) = self.get(r) {
                return Ok(s);
            }
        }
    }

    /// The ref of the series, creating it if needed; `true` when it was created.
    pub fn get_or_create(&self, labels: &Labels) -> Result<(u32, bool)> {
        if let Some(r) = self.lookup(labels) {
            return Ok((r, false));
        }
        let mut idx = write(&self.index);
        if let Some(s) = idx.find(labels) {
            return Ok((s.r, false));
        }
        let ns = ns_of(labels);
        let count = idx.per_ns.get(ns).copied().unwrap_or(0);
        if self.limits.max_series_per_ns > 0 && count >= self.limits.max_series_per_ns {
            return Err(Error::SeriesLimit {
                ns: ns.to_string(),
                limit: self.limits.max_series_per_ns,
                series: labels.to_string(),
            });
        }
        let mut series = write(&self.series);
        let r = u32::try_from(series.len())
            .map_err(|_| Error::Other("series refs exhausted".into()))?;
        let s = Arc::new(MemSeries::new(r, labels.clone(), false));
        series.push(Some(s.clone()));
        drop(series);
        Self::index_add(&mut idx, s);
        Ok((r, true))
    }

    fn index_add(idx: &mut HeadIndex, s: Arc<MemSeries>) {
        idx.postings.add(s.r, &s.labels);
        *idx.per_ns.entry(ns_of(&s.labels).to_string()).or_default() += 1;
        Self::table_add(idx, s);
    }

    fn table_add(idx: &mut HeadIndex, s: Arc<MemSeries>) {
        idx.by_labels
            .insert_unique(hash_labels(&s.labels), s, |s| hash_labels(&s.labels));
    }

    /// Recreates a series with a known ref (WAL replay). Refs may arrive out of order, so
    /// the postings (which want ascending ids) are built once at the end, by
    /// [`restored`](Self::restored): rebuilding them at each out-of-order ref was
    /// quadratic, 10 s of a 10 M-sample replay.
    pub fn restore(&self, r: u32, labels: Labels) {
        let mut idx = write(&self.index);
        if idx.find(&labels).is_some() {
            return;
        }
        let mut series = write(&self.series);
        let i = r as usize;
        if series.len() <= i {
            series.resize(i + 1, None);
        }
        let s = Arc::new(MemSeries::new(r, labels, true));
        series[i] = Some(s.clone());
        drop(series);
        *idx.per_ns.entry(ns_of(&s.labels).to_string()).or_default() += 1;
        Self::table_add(&mut idx, s);
    }

    /// Ends a replay: builds the postings of every restored series.
    pub fn restored(&self) {
        write(&self.index).rebuild_postings();
    }

    /// Whether sample time `t` is within the out-of-order window of series `s`.
    pub fn check(&self, s: &MemSeries, t: i64) -> Result<()> {
        let max = s.max_t();
        if max != i64::MIN && t < max - self.limits.ooo_window_ms {
            return Err(Error::OutOfOrder {
                series: s.labels.to_string(),
                ts: t,
                behind_ms: max - t,
                window_ms: self.limits.ooo_window_ms,
            });
        }
        Ok(())
    }

    /// Appends without checks (they were done before the WAL write).
    pub fn append(&self, s: &MemSeries, t: i64, v: f64) {
        if Self::insert(s, t, v) {
            self.samples.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Appends a batch without checks, in order. A large batch is spread over the cores
    /// by series (each series' samples stay on one thread, in order): sealing chunks,
    /// which encodes them, is the costly part of appending.
    pub fn append_all(&self, samples: &[(Arc<MemSeries>, i64, f64)]) {
        self.spread(samples, |(s, t, v)| Some((&**s, *t, *v)));
    }

    /// Appends samples by ref without checks (WAL replay), spread over the cores by series
    /// as [`append_all`](Self::append_all); refs of no live series are skipped. Returns
    /// the newest timestamp appended.
    pub fn append_refs(&self, samples: &[(u32, i64, f64)]) -> i64 {
        let series = read(&self.series);
        let all: &[Option<Arc<MemSeries>>] = &series;
        self.spread(samples, |&(r, t, v)| {
            all.get(r as usize)
                .and_then(Option::as_deref)
                .map(|s| (s, t, v))
        })
    }

    /// Inserts what `sample` makes of each item (a series, a time, a value; `None` to
    /// skip it), on one thread per core from 65 536 items, each thread taking the series
    /// whose ref falls to it. Returns the newest timestamp inserted.
    fn spread<'s, T: Sync>(
        &self,
        items: &'s [T],
        sample: impl Fn(&'s T) -> Option<(&'s MemSeries, i64, f64)> + Sync,
    ) -> i64 {
        let threads = if items.len() < 1 << 16 {
            1
        } else {
            crate::select::cores().min(8)
        };
        let run = |i: usize| {
            let (mut added, mut max_t) = (0u64, i64::MIN);
            for (s, t, v) in items.iter().filter_map(&sample) {
                if threads == 1 || s.r as usize % threads == i {
                    added += u64::from(Self::insert(s, t, v));
                    max_t = max_t.max(t);
                }
            }
            self.samples.fetch_add(added, Ordering::Relaxed);
            max_t
        };
        if threads == 1 {
            return run(0);
        }
        std::thread::scope(|scope| {
            let others: Vec<_> = (1..threads).map(|i| scope.spawn(move || run(i))).collect();
            let mine = run(0);
            others
                .into_iter()
                .map(|h| h.join().unwrap_or(i64::MIN))
                .fold(mine, i64::max)
        })
    }

    /// Inserts one sample; whether it added one.
    fn insert(s: &MemSeries, t: i64, v: f64) -> bool {
        let added = s.data().insert(t, v);
        s.max_t.fetch_max(t, Ordering::Relaxed);
        added
    }

    /// Takes every series' samples out, for a flush; and forgets series that received
    /// nothing since the previous flush (their data is in blocks already). Callers keep
    /// writers out while this runs.
    pub fn freeze(&self) -> Frozen {
        let mut series = write(&self.series);
        let mut out = Vec::new();
        let mut gone = Vec::new();
        for (r, slot) in series.iter_mut().enumerate() {
            let Some(s) = slot else { continue };
            let mut d = s.data();
            if d.is_empty() {
                gone.push(r as u32);
                drop(d);
                s.dead.store(true, Ordering::Relaxed);
                *slot = None;
                continue;
            }
            let taken = std::mem::take(&mut *d);
            drop(d);
            out.push((s.clone(), taken));
        }
        drop(series);
        if !gone.is_empty() {
            let mut idx = write(&self.index);
            idx.by_labels.retain(|s| s.is_live());
            idx.postings.remove(&gone);
            idx.per_ns.clear();
            let counts: Vec<String> = idx
                .by_labels
                .iter()
                .map(|s| ns_of(&s.labels).to_string())
                .collect();
            for ns in counts {
                *idx.per_ns.entry(ns).or_default() += 1;
            }
        }
        self.samples.store(0, Ordering::Relaxed);
        Frozen { series: out }
    }

    /// Label sets of matching series with data in `[start, end]`, without decoding.
    pub fn series_in(&self, matchers: &[Matcher], start: i64, end: i64, out: &mut Vec<Labels>) {
        let picked = self.matching(matchers);
        for s in picked {
            if s.data().overlaps(start, end) {
                out.push(s.labels.clone());
            }
        }
    }

    /// The live series matching `matchers`, taken out of the lock (their data is read
    /// afterwards, under each series' own lock).
    pub fn matching(&self, matchers: &[Matcher]) -> Vec<Arc<MemSeries>> {
        let refs = read(&self.index).postings.select(matchers);
        let series = read(&self.series);
        refs.iter()
            .filter_map(|&r| series.get(r as usize).cloned().flatten())
            .collect()
    }

    /// Live series, for a WAL checkpoint.
    pub fn live_series(&self) -> Vec<Arc<MemSeries>> {
        read(&self.series).iter().flatten().cloned().collect()
    }

    pub fn num_series(&self) -> usize {
        read(&self.index).by_labels.len()
    }

    pub fn num_samples(&self) -> u64 {
        self.samples.load(Ordering::Relaxed)
    }

    /// Bytes of sample data held (chunks and open buffers), excluding labels and index.
    pub fn sample_bytes(&self) -> usize {
        read(&self.series)
            .iter()
            .flatten()
            .map(|s| s.data().heap_bytes())
            .sum()
    }
}

impl HeadIndex {
    fn rebuild_postings(&mut self) {
        let mut all: Vec<(u32, &Labels)> =
            self.by_labels.iter().map(|s| (s.r, &s.labels)).collect();
        all.sort_unstable_by_key(|x| x.0);
        let mut p = Postings::default();
        for (r, l) in all {
            p.add(r, l);
        }
        self.postings = p;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(samples: &[(i64, f64)]) -> SeriesData {
        let mut d = SeriesData::default();
        for &(t, v) in samples {
            d.insert(t, v);
        }
        d
    }

    /// A backfill behind newer data splits the chunk it lands in, so chunks stay small,
    /// and every sample reads back in order (the first one once went into the empty open
    /// buffer, after the newer chunk).
    #[test]
    fn a_backfill_behind_newer_data_keeps_chunks_small() {
        let mut d = data(&[(1_000_000, 0.5)]);
        d.seal();
        for t in (0..5_000).rev() {
            assert!(d.insert(t * 10, t as f64));
        }
        assert!(d.chunks.iter().all(|c| c.count as usize <= 2 * OPEN_MAX));
        assert!(d.chunks.windows(2).all(|w| w[0].max_t < w[1].min_t));
        let mut got = Vec::new();
        d.samples_in(i64::MIN, i64::MAX, &mut got);
        assert_eq!(got.len(), 5_001);
        let want: Vec<Sample> = (0..5_000)
            .map(|t| Sample {
                ts: t * 10,
                value: t as f64,
            })
            .collect();
        assert_eq!(got[..5_000], want[..]);
        assert_eq!(
            got[5_000],
            Sample {
                ts: 1_000_000,
                value: 0.5
            }
        );
    }

    #[test]
    fn in_order_out_of_order_and_duplicates() {
        // 200 in-order samples seal into chunks; then late and duplicate ones.
        let mut samples: Vec<(i64, f64)> = (0..200).map(|i| (i * 10, i as f64)).collect();
        let mut d = data(&samples);
        assert!(d.chunks.len() >= 3);
        assert!(d.insert(5, 0.5)); // inside a sealed chunk
        assert!(!d.insert(100, 99.0)); // duplicate: last write wins
        assert!(d.insert(1995, 7.0)); // inside the open buffer
        samples.push((5, 0.5));
        samples.push((1995, 7.0));
        samples.retain(|s| s.0 != 100);
        samples.push((100, 99.0));
        samples.sort_by_key(|s| s.0);
        let mut out = Vec::new();
        d.samples_in(i64::MIN, i64::MAX, &mut out);
        let got: Vec<(i64, f64)> = out.iter().map(|s| (s.ts, s.value)).collect();
        assert_eq!(got, samples);
        assert_eq!(d.len(), samples.len());
    }

    #[test]
    fn window_rejects_old_samples_with_reason() {
        let h = Head::new(HeadLimits {
            ooo_window_ms: 1000,
            max_series_per_ns: 0,
        });
        let (r, created) = h
            .get_or_create(&Labels::with_name("m", [("a", "1")]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(created);
        let s = h.get(r).unwrap_or_else(|| panic!("series"));
        h.append(&s, 10_000, 1.0);
        assert!(h.check(&s, 9_000).is_ok());
        let e = h
            .check(&s, 8_999)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("out-of-order window is 1000 ms"), "{e}");
    }

    #[test]
    fn series_limit_per_namespace() {
        let h = Head::new(HeadLimits {
            ooo_window_ms: 0,
            max_series_per_ns: 2,
        });
        for i in 0..2 {
            let l = Labels::with_name("m", [("ns", "a"), ("i", &i.to_string())]);
            assert!(h.get_or_create(&l).is_ok());
        }
        let e = h
            .get_or_create(&Labels::with_name("m", [("ns", "a"), ("i", "3")]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("namespace \"a\" has reached its limit of 2"),
            "{e}"
        );
        // Another namespace is not affected.
        assert!(
            h.get_or_create(&Labels::with_name("m", [("ns", "b")]))
                .is_ok()
        );
    }

    #[test]
    fn freeze_takes_samples_and_forgets_idle_series() {
        let h = Head::new(HeadLimits {
            ooo_window_ms: 0,
            max_series_per_ns: 0,
        });
        let (a, _) = h
            .get_or_create(&Labels::with_name("a", [("x", "1")]))
            .unwrap_or_default();
        let (_b, _) = h
            .get_or_create(&Labels::with_name("b", [("x", "1")]))
            .unwrap_or_default();
        let sa = h.get(a).unwrap_or_else(|| panic!("a"));
        h.append(&sa, 1, 1.0);
        let f = h.freeze();
        assert_eq!(f.series.len(), 1);
        assert_eq!(h.num_series(), 1, "b had no samples and is forgotten");
        assert_eq!(h.num_samples(), 0);
        let mut left = Vec::new();
        for s in h.matching(&[Matcher::equal("x", "1")]) {
            s.data().samples_in(0, 10, &mut left);
        }
        assert!(
            left.is_empty(),
            "the frozen samples left the head: {left:?}"
        );
    }

    /// Series restored in any order of refs (a replay) are found by every matcher once
    /// the replay ends, each under its own ref.
    #[test]
    fn restored_out_of_order_refs_are_all_indexed() {
        let h = Head::new(HeadLimits {
            ooo_window_ms: 0,
            max_series_per_ns: 0,
        });
        for r in [5u32, 2, 9, 0, 7] {
            h.restore(
                r,
                Labels::with_name("m", [("r", r.to_string()), ("all", "x".into())]),
            );
        }
        h.restored();
        let mut got: Vec<u32> = h
            .matching(&[Matcher::equal("all", "x")])
            .iter()
            .map(|s| s.r)
            .collect();
        got.sort_unstable();
        assert_eq!(got, vec![0, 2, 5, 7, 9]);
        let seven = h.matching(&[Matcher::equal("r", "7")]);
        assert_eq!(seven.iter().map(|s| s.r).collect::<Vec<_>>(), vec![7]);
        assert_eq!(
            h.lookup(&Labels::with_name("m", [("r", "9"), ("all", "x")])),
            Some(9)
        );
    }
}
