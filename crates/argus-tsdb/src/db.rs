//! [`Db`]: the engine: WAL, head, blocks, and the maintenance that moves data between them.
//!
//! Write path: an [`Appender`] resolves each sample's series (by a caller-chosen raw key
//! when it has one, so hot series skip label handling), checks the out-of-order window,
//! writes one WAL record for the batch and waits for its group's fsync, then inserts into
//! the head. Only then is the write acknowledged.
//!
//! Flush: appends are paused for an instant while the WAL is rotated and the head frozen;
//! the frozen samples are written as blocks per time partition; then the WAL segments
//! before the rotation are replaced by a checkpoint of the live series. The
//! [`Compactor`](crate::compact::Compactor) writes those blocks and merges blocks into
//! larger ranges; `Db` decides when, and swaps the results into what readers see.
//! Retention downsamples old blocks, then drops them.

use crate::block::{self, Block, Meta};
use crate::compact::Compactor;
use crate::error::{Error, Result};
use crate::head::{Frozen, Head, HeadLimits, MemSeries};
pub use crate::options::Options;
use crate::select::{self, Piece, Source};
use crate::wal::{self, Wal, record};
use argus_core::{Labels, Matcher, ReadLimits, Sample, TimeSeries};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::Duration;

/// What readers see besides the head.
#[derive(Default)]
struct View {
    /// Ascending id: later blocks win duplicate timestamps.
    blocks: Vec<Arc<Block>>,
    /// Samples of a flush in progress, until its blocks are in `blocks`.
    frozen: Option<Arc<Frozen>>,
}

pub struct Db {
    dir: PathBuf,
    opts: Options,
    head: Head,
    wal: Wal,
    compactor: Compactor,
    /// Appenders hold it shared; a flush holds it exclusively while it freezes the head.
    gate: RwLock<()>,
    view: RwLock<View>,
    /// Raw series key → head series, so a known series costs one hash lookup.
    keys: KeyCache,
    next_block_id: AtomicU64,
    max_t: AtomicI64,
    last_flush_ms: AtomicI64,
    maintenance: Mutex<()>,
    rejected_ooo: AtomicU64,
    closed: AtomicBool,
}

/// Figures about the engine, for `/metrics` and the admin API.
#[derive(Debug, Clone, Serialize)]
pub struct DbStats {
    pub head_series: u64,
    pub head_samples: u64,
    pub head_sample_bytes: u64,
    pub wal_bytes: u64,
    pub blocks: Vec<BlockStats>,
    pub block_bytes: u64,
    pub block_samples: u64,
    pub block_index_memory_bytes: u64,
    pub rejected_out_of_order: u64,
}

/// Block bytes used by one metric name (chunk payload only, not index).
#[derive(Debug, Clone, Serialize)]
pub struct MetricUsage {
    pub name: String,
    pub series: u64,
    pub samples: u64,
    pub bytes: u64,
    pub bytes_per_sample: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BlockStats {
    pub id: String,
    pub min_t: i64,
    pub max_t: i64,
    pub series: u64,
    pub samples: u64,
    pub chunks: u64,
    pub level: u32,
    pub bytes: u64,
}

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl Db {
    /// Opens (or creates) the database in `dir`: loads blocks, sets corrupt ones aside,
    /// replays the WAL into the head.
    pub fn open(dir: &Path, opts: Options) -> Result<Db> {
        let blocks_dir = dir.join("blocks");
        std::fs::create_dir_all(&blocks_dir)?;
        let blocks = load_blocks(dir)?;
        let next_id = blocks.iter().map(|b| b.meta.id).max().unwrap_or(0) + 1;
        let head = Head::new(HeadLimits {
            ooo_window_ms: opts.ooo_window_ms,
            max_series_per_ns: 0, // enforced again after replay; replay must not fail on it
        });
        let wal_dir = dir.join("wal");
        let mut max_t = blocks
            .iter()
            .map(|b| b.meta.max_t)
            .max()
            .unwrap_or(i64::MIN);
        // Samples are gathered and appended in runs, spread over the cores by series
        // (`Head::append_refs`); a Series record first appends what came before it.
        const RUN: usize = 1 << 20;
        let mut run: Vec<(u32, i64, f64)> = Vec::with_capacity(RUN);
        let stats = wal::replay(&wal_dir, |rec| match rec {
            record::Record::Series(s) => {
                if !run.is_empty() {
                    max_t = max_t.max(head.append_refs(&run));
                    run.clear();
                }
                for (r, labels) in s {
                    head.restore(r, labels);
                }
            }
            record::Record::Samples(s) => {
                run.extend(s);
                if run.len() >= RUN {
                    max_t = max_t.max(head.append_refs(&run));
                    run.clear();
                }
            }
        })?;
        if !run.is_empty() {
            max_t = max_t.max(head.append_refs(&run));
        }
        drop(run);
        head.restored();
        if stats.records > 0 {
            tracing::info!(
                records = stats.records,
                segments = stats.segments,
                series = head.num_series(),
                samples = head.num_samples(),
                "replayed the write-ahead log"
            );
        }
        let head = head.with_limits(HeadLimits {
            ooo_window_ms: opts.ooo_window_ms,
            max_series_per_ns: opts.max_series_per_ns,
        });
        let wal = Wal::open(&wal_dir, opts.wal_segment_bytes)?;
        Ok(Db {
            dir: dir.to_path_buf(),
            compactor: Compactor::new(blocks_dir, &opts),
            opts,
            head,
            wal,
            gate: RwLock::new(()),
            view: RwLock::new(View {
                blocks,
                frozen: None,
            }),
            keys: KeyCache::new(),
            next_block_id: AtomicU64::new(next_id),
            max_t: AtomicI64::new(max_t),
            last_flush_ms: AtomicI64::new(argus_core::now_ms()),
            maintenance: Mutex::new(()),
            rejected_ooo: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        })
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Starts a batch of writes. Hold it only while adding; a flush waits for it.
    pub fn appender(&self) -> Appender<'_> {
        Appender {
            _gate: read(&self.gate),
            batch: Batch::new(self),
            absorbed: Vec::new(),
        }
    }

    /// Writes a batch of series; durable when it returns `Ok`.
    pub fn append(&self, batch: &[TimeSeries]) -> Result<()> {
        let mut app = self.appender();
        for ts in batch {
            let h = app.series(&ts.labels)?;
            for s in &ts.samples {
                app.add(&h, s.ts, s.value)?;
            }
        }
        app.commit()
    }

    /// Samples of every series matching `matchers` in `[start, end]`, merged from blocks
    /// and head, sorted by labels.
    pub fn select(&self, matchers: &[Matcher], start: i64, end: i64) -> Result<Vec<TimeSeries>> {
        self.select_with(matchers, start, end, 0, ReadLimits::NONE, &whole_series)
    }

    /// [`select`](Self::select) that stops with [`Error::OverRead`] as soon as it selects
    /// more series or loads more samples than `limits` allow.
    pub fn select_limited(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
        limits: ReadLimits,
    ) -> Result<Vec<TimeSeries>> {
        self.select_with(matchers, start, end, 0, limits, &whole_series)
    }

    /// Like [`select_step`](Self::select_step) within `limits`, handing each series'
    /// samples to `f` as soon as they are read (on the reading thread, while they are in
    /// cache) and keeping only what it returns, so the samples of all series are never
    /// held at once.
    pub fn select_map(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
        step_ms: i64,
        limits: ReadLimits,
        f: &argus_core::SeriesMap<'_>,
    ) -> Result<Vec<(Labels, argus_core::Points)>> {
        self.select_with(matchers, start, end, step_ms, limits, &|l, s| {
            f(s).map(|p| (l.clone(), p))
        })
    }

    /// Reads the matching series in `[start, end]` and keeps what `keep` makes of each
    /// (see [`select::read`]); `step_ms` picks the rollup of a downsampled block.
    fn select_with<T: Send>(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
        step_ms: i64,
        limits: ReadLimits,
        keep: &(dyn Fn(&Labels, &mut Vec<Sample>) -> Option<T> + Sync),
    ) -> Result<Vec<T>> {
        let (blocks, frozen) = {
            let v = read(&self.view);
            (
                v.blocks
                    .iter()
                    .filter(|b| b.overlaps(start, end))
                    .cloned()
                    .collect::<Vec<_>>(),
                v.frozen.clone(),
            )
        };
        // Sources in ascending priority: blocks by id, the frozen head, the head.
        let mut sources: Vec<Source<'_>> = Vec::with_capacity(blocks.len() + 2);
        for b in &blocks {
            sources.push(select::block_source(b, matchers, start, end, step_ms)?);
        }
        if let Some(f) = &frozen {
            let mut src: Source<'_> = f
                .series
                .iter()
                .filter(|(s, d)| {
                    argus_core::matcher::matches_all(matchers, &s.labels) && d.overlaps(start, end)
                })
                .map(|(s, d)| (Cow::Borrowed(&s.labels), Piece::Frozen(d)))
                .collect();
            src.sort_by(|a, b| a.0.cmp(&b.0));
            sources.push(src);
        }
        let mut live = self.head.matching(matchers);
        // Only the series with data in the range count against the series limit.
        live.retain(|s| s.data().overlaps(start, end));
        live.sort_by(|a, b| a.labels.cmp(&b.labels));
        sources.push(
            live.iter()
                .map(|s| (Cow::Borrowed(&s.labels), Piece::Head(s)))
                .collect(),
        );
        select::read(sources, start, end, limits, keep)
    }

    /// Label sets of the series matching `matchers` that have data in `[start, end]`,
    /// sorted, from the indexes only: no chunk is decoded (the series API and the label
    /// endpoints need no samples).
    pub fn series_matching(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<Labels>> {
        let (blocks, frozen) = {
            let v = read(&self.view);
            (v.blocks.clone(), v.frozen.clone())
        };
        let mut out = Vec::new();
        for b in &blocks {
            b.series_in(matchers, start, end, &mut out);
        }
        if let Some(f) = &frozen {
            f.series_in(matchers, start, end, &mut out);
        }
        self.head.series_in(matchers, start, end, &mut out);
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Writes everything in the head to blocks and truncates the WAL. Returns the metas of
    /// the blocks written.
    pub fn flush(&self) -> Result<Vec<Meta>> {
        let _m = self.maintenance.lock().unwrap_or_else(|p| p.into_inner());
        self.flush_locked()
    }

    fn flush_locked(&self) -> Result<Vec<Meta>> {
        let (frozen, next_segment) = {
            let _gate = write(&self.gate);
            let next_segment = self.wal.rotate()?;
            let frozen = Arc::new(self.head.freeze());
            // Forget keys of series the freeze dropped, before any writer can use them.
            self.keys.retain_live();
            write(&self.view).frozen = Some(frozen.clone());
            (frozen, next_segment)
        };
        self.last_flush_ms
            .store(argus_core::now_ms(), Ordering::Relaxed);
        let result = self.compactor.write_head(&frozen, || self.new_block_id());
        let metas = match result {
            Ok(m) => m,
            Err(e) => {
                // The samples stay readable (and in the WAL): put them back into the head.
                tracing::error!(error = %e, "flush failed; samples stay in the head");
                self.unfreeze(&frozen);
                write(&self.view).frozen = None;
                return Err(e);
            }
        };
        let mut opened = Vec::with_capacity(metas.len());
        for m in &metas {
            opened.push(Arc::new(Block::open(
                &self.blocks_dir().join(block::dir_name(m.id)),
            )?));
        }
        {
            let mut v = write(&self.view);
            v.blocks.extend(opened);
            v.blocks.sort_by_key(|b| b.meta.id);
            v.frozen = None;
        }
        // Series alive now are enough to replay what follows the rotation. A series created
        // after this list was taken writes its own Series record (it is not yet logged).
        let live = self.head.live_series();
        self.wal
            .checkpoint(next_segment, live.iter().map(|s| (s.r, &s.labels)))?;
        for s in &live {
            s.set_logged(true);
        }
        Ok(metas)
    }

    fn unfreeze(&self, frozen: &Frozen) {
        let _gate = write(&self.gate);
        for (series, data) in &frozen.series {
            if let Ok(s) = self.head.get_or_create_series(&series.labels) {
                let (ts, vs) = data.columns();
                for (t, v) in ts.into_iter().zip(vs) {
                    self.head.append(&s, t, v);
                }
            }
        }
    }

    fn blocks_dir(&self) -> PathBuf {
        self.dir.join("blocks")
    }

    fn new_block_id(&self) -> u64 {
        self.next_block_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Merges blocks: first those of the same partition, then into ranges of 6× and 36×
    /// the block duration. Unless `force`, only ranges no longer receiving samples (their
    /// end plus the out-of-order window is behind the newest sample). Returns how many
    /// merges ran.
    pub fn compact(&self, force: bool) -> Result<usize> {
        let _m = self.maintenance.lock().unwrap_or_else(|p| p.into_inner());
        let newest = self.max_t.load(Ordering::Relaxed);
        let mut merges = 0;
        for &range in self.compactor.ranges() {
            loop {
                // The view's lock is released before merging: readers go on meanwhile.
                let sources: Vec<Arc<Block>> = {
                    let v = read(&self.view);
                    let metas = v.blocks.iter().map(|b| &b.meta);
                    match self.compactor.plan(metas, range, newest, force) {
                        Some(at) => at.into_iter().map(|i| v.blocks[i].clone()).collect(),
                        None => break,
                    }
                };
                let merged = self.compactor.merge(&sources, self.new_block_id())?;
                self.replace_blocks(&sources, merged)?;
                merges += 1;
            }
        }
        Ok(merges)
    }

    /// Puts a merge's output in the place of its sources for readers, then deletes the
    /// sources' directories (a crash before that is undone at open: see `load_blocks`).
    fn replace_blocks(&self, sources: &[Arc<Block>], merged: Option<Block>) -> Result<()> {
        {
            let mut v = write(&self.view);
            v.blocks
                .retain(|b| !sources.iter().any(|s| s.meta.id == b.meta.id));
            v.blocks.extend(merged.map(Arc::new));
            v.blocks.sort_by_key(|b| b.meta.id);
        }
        for s in sources {
            std::fs::remove_dir_all(&s.dir)?;
        }
        wal::sync_dir(&self.blocks_dir())?;
        Ok(())
    }

    /// Downsamples blocks past the raw retention and deletes blocks past the rollup
    /// retention. Returns how many blocks were downsampled or deleted.
    pub fn apply_retention(&self, now_ms: i64) -> Result<usize> {
        let _m = self.maintenance.lock().unwrap_or_else(|p| p.into_inner());
        let raw_cutoff = now_ms - self.opts.retention_ms;
        let cutoff = now_ms - self.opts.rollup_retention_ms.max(self.opts.retention_ms);
        let old: Vec<Arc<Block>> = {
            let mut v = write(&self.view);
            let (old, keep): (Vec<_>, Vec<_>) =
                v.blocks.drain(..).partition(|b| b.meta.max_t < cutoff);
            v.blocks = keep;
            old
        };
        for b in &old {
            tracing::info!(block = %b.dir.display(), "deleting block past retention");
            std::fs::remove_dir_all(&b.dir)?;
        }
        let to_downsample: Vec<Arc<Block>> = read(&self.view)
            .blocks
            .iter()
            .filter(|b| b.meta.raw && b.meta.max_t < raw_cutoff)
            .cloned()
            .collect();
        for b in &to_downsample {
            tracing::info!(block = %b.dir.display(), "downsampling block past the raw retention");
            let new = Arc::new(b.downsample()?);
            let mut v = write(&self.view);
            for slot in v.blocks.iter_mut() {
                if slot.meta.id == new.meta.id {
                    *slot = new.clone();
                }
            }
        }
        Ok(old.len() + to_downsample.len())
    }

    /// Like [`select`](Self::select) for a caller that steps through the range every
    /// `step_ms`: downsampled data is read at the coarsest resolution the step allows.
    pub fn select_step(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
        step_ms: i64,
    ) -> Result<Vec<TimeSeries>> {
        self.select_with(
            matchers,
            start,
            end,
            step_ms,
            ReadLimits::NONE,
            &whole_series,
        )
    }

    /// One round of background work: flush when the head is old or large, compact what is
    /// complete, apply retention.
    pub fn maintain(&self, now_ms: i64) -> Result<()> {
        let since = now_ms - self.last_flush_ms.load(Ordering::Relaxed);
        if self.head.num_samples() > 0
            && (since >= self.opts.block_duration_ms
                || self.head.num_samples() >= self.opts.max_head_samples)
        {
            self.flush()?;
        }
        self.compact(false)?;
        self.apply_retention(now_ms)?;
        Ok(())
    }

    /// Runs [`maintain`](Self::maintain) every `every` on a thread of its own until the
    /// returned handle is dropped.
    pub fn start_maintenance(self: &Arc<Self>, every: Duration) -> Maintenance {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let db = Arc::downgrade(self);
        let thread = std::thread::Builder::new()
            .name("tsdb-maintenance".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                    let Some(db) = db.upgrade() else { break };
                    if let Err(e) = db.maintain(argus_core::now_ms()) {
                        tracing::error!(error = %e, "storage maintenance failed");
                    }
                }
            })
            .ok();
        Maintenance {
            stop: Some(tx),
            thread,
        }
    }

    pub fn stats(&self) -> DbStats {
        let v = read(&self.view);
        let blocks: Vec<BlockStats> = v
            .blocks
            .iter()
            .map(|b| BlockStats {
                id: block::dir_name(b.meta.id),
                min_t: b.meta.min_t,
                max_t: b.meta.max_t,
                series: b.meta.series,
                samples: b.meta.samples,
                chunks: b.meta.chunks,
                level: b.meta.level,
                bytes: b.disk_bytes,
            })
            .collect();
        DbStats {
            head_series: self.head.num_series() as u64,
            head_samples: self.head.num_samples(),
            head_sample_bytes: self.head.sample_bytes() as u64,
            wal_bytes: self.wal.disk_bytes(),
            block_bytes: blocks.iter().map(|b| b.bytes).sum(),
            block_samples: blocks.iter().map(|b| b.samples).sum(),
            block_index_memory_bytes: v.blocks.iter().map(|b| b.index_memory() as u64).sum(),
            blocks,
            rejected_out_of_order: self.rejected_ooo.load(Ordering::Relaxed),
        }
    }

    /// Where the bytes of the blocks go, per metric name, largest first.
    pub fn usage_by_metric(&self) -> Vec<MetricUsage> {
        let mut by = BTreeMap::new();
        for b in &read(&self.view).blocks {
            b.usage_by_metric(&mut by);
        }
        let mut out: Vec<MetricUsage> = by
            .into_iter()
            .map(|(name, (series, samples, bytes))| MetricUsage {
                bytes_per_sample: if samples > 0 {
                    bytes as f64 / samples as f64
                } else {
                    0.0
                },
                name,
                series,
                samples,
                bytes,
            })
            .collect();
        out.sort_by_key(|m| std::cmp::Reverse(m.bytes));
        out
    }

    /// Stops accepting writes. Everything acknowledged is in the WAL already.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }
}

/// The background maintenance thread; stops when dropped.
pub struct Maintenance {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Maintenance {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Loads every block in `<dir>/blocks`; removes unfinished writes and blocks replaced by a
/// compaction that finished; moves unreadable blocks to `<dir>/corrupt/`.
fn load_blocks(dir: &Path) -> Result<Vec<Arc<Block>>> {
    let blocks_dir = dir.join("blocks");
    let mut blocks = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&blocks_dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        if name.ends_with(".tmp") {
            std::fs::remove_dir_all(&path)?;
            continue;
        }
        match Block::open(&path) {
            Ok(b) => blocks.push(Arc::new(b)),
            Err(e) => {
                let corrupt = dir.join("corrupt");
                std::fs::create_dir_all(&corrupt)?;
                let to = corrupt.join(&name);
                tracing::error!(block = %path.display(), moved_to = %to.display(), error = %e, "block is unreadable: set aside");
                std::fs::rename(&path, &to)?;
            }
        }
    }
    let replaced: BTreeSet<u64> = blocks.iter().flat_map(|b| b.meta.sources.clone()).collect();
    let (gone, keep): (Vec<_>, Vec<_>) = blocks
        .into_iter()
        .partition(|b| replaced.contains(&b.meta.id));
    for b in gone {
        std::fs::remove_dir_all(&b.dir)?;
    }
    let mut keep = keep;
    keep.sort_by_key(|b| b.meta.id);
    Ok(keep)
}

/// What a plain selection keeps of a series: all of it.
fn whole_series(labels: &Labels, samples: &mut Vec<Sample>) -> Option<TimeSeries> {
    Some(TimeSeries {
        labels: labels.clone(),
        samples: std::mem::take(samples),
    })
}

/// A batch of writes in progress. Samples are checked as they are added; nothing is
/// visible or durable until [`commit`](Self::commit). It dereferences to its [`Batch`],
/// which adds series and samples.
pub struct Appender<'a> {
    /// Held until the commit, so no flush freezes the head (and forgets idle series)
    /// between finding a series and appending to it.
    _gate: RwLockReadGuard<'a, ()>,
    batch: Batch<'a>,
    /// Samples of absorbed parts, after the batch's own, kept as they came (not copied
    /// into one vector: a part of a large write holds megabytes).
    absorbed: Vec<Vec<(Arc<MemSeries>, i64, f64)>>,
}

/// Series and samples added, not yet committed: an [`Appender`]'s own, or a
/// [`part`](Appender::part) another thread fills to be [`absorb`](Appender::absorb)ed.
pub struct Batch<'a> {
    db: &'a Db,
    samples: Vec<(Arc<MemSeries>, i64, f64)>,
    /// Series first used by this batch that have no Series record in the WAL yet.
    new_series: Vec<Arc<MemSeries>>,
    new_refs: std::collections::HashSet<u32>,
    max_t: i64,
}

/// A handle on a head series within one batch.
#[derive(Clone)]
pub struct SeriesHandle(Arc<MemSeries>);

impl<'a> std::ops::Deref for Appender<'a> {
    type Target = Batch<'a>;
    fn deref(&self) -> &Batch<'a> {
        &self.batch
    }
}

impl<'a> std::ops::DerefMut for Appender<'a> {
    fn deref_mut(&mut self) -> &mut Batch<'a> {
        &mut self.batch
    }
}

impl<'a> Batch<'a> {
    fn new(db: &'a Db) -> Self {
        Batch {
            db,
            samples: Vec::new(),
            new_series: Vec::new(),
            new_refs: Default::default(),
            max_t: i64::MIN,
        }
    }

    /// The series with `labels`, creating it if needed.
    pub fn series(&mut self, labels: &Labels) -> Result<SeriesHandle> {
        let s = self.db.head.get_or_create_series(labels)?;
        self.note(&s);
        Ok(SeriesHandle(s))
    }

    /// The series of the line the caller identifies by `key` (any bytes that determine
    /// the labels but the field, such as a line's namespace, measurement and tags); its
    /// fields' series are then found with [`series_of_field`](Self::series_of_field).
    pub fn line(&self, key: &[u8]) -> Arc<LineSeries> {
        self.db.keys.line(key)
    }

    /// The series of `field` of a [`line`](Self::line); `labels` is called only the first
    /// time the line has this field.
    pub fn series_of_field(
        &mut self,
        line: &LineSeries,
        field: &[u8],
        labels: impl FnOnce() -> Labels,
    ) -> Result<SeriesHandle> {
        if let Some(s) = line.get(field) {
            self.note(&s);
            return Ok(SeriesHandle(s));
        }
        let s = self.db.head.get_or_create_series(&labels())?;
        {
            let mut fields = write(&line.fields);
            if !fields.iter().any(|(f, _)| &**f == field) {
                fields.push((field.into(), s.clone()));
            }
        }
        self.note(&s);
        Ok(SeriesHandle(s))
    }

    fn note(&mut self, s: &Arc<MemSeries>) {
        if !s.is_logged() && self.new_refs.insert(s.r) {
            self.new_series.push(s.clone());
        }
    }

    /// Adds a sample; fails if it is older than the series' out-of-order window.
    pub fn add(&mut self, s: &SeriesHandle, ts: i64, value: f64) -> Result<()> {
        self.add_owned(s.clone(), ts, value)
    }

    /// [`add`](Self::add), taking the handle (no reference count to raise).
    pub fn add_owned(&mut self, s: SeriesHandle, ts: i64, value: f64) -> Result<()> {
        if let Err(e) = self.db.head.check(&s.0, ts) {
            self.db.rejected_ooo.fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
        self.max_t = self.max_t.max(ts);
        self.samples.push((s.0, ts, value));
        Ok(())
    }

    /// Samples added to this batch (an appender's absorbed parts not counted).
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Makes room for `n` more samples.
    pub fn reserve(&mut self, n: usize) {
        self.samples.reserve(n);
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

impl<'a> Appender<'a> {
    /// An empty batch another thread can fill while this appender is open, so that
    /// parsing a large write is spread over cores; [`absorb`](Self::absorb) it, in order,
    /// before the commit. A part not absorbed is simply dropped: it cannot commit.
    pub fn part(&self) -> Batch<'a> {
        Batch::new(self.batch.db)
    }

    /// Adds a part's series and samples after those already added.
    pub fn absorb(&mut self, part: Batch<'a>) {
        let b = &mut self.batch;
        for s in part.new_series {
            if b.new_refs.insert(s.r) {
                b.new_series.push(s);
            }
        }
        b.max_t = b.max_t.max(part.max_t);
        if !part.samples.is_empty() {
            self.absorbed.push(part.samples);
        }
    }

    /// Makes the batch durable (one WAL write, fsynced with its group) and visible.
    pub fn commit(self) -> Result<()> {
        let b = self.batch;
        let db = b.db;
        if db.closed.load(Ordering::Relaxed) {
            return Err(Error::Other("storage is shutting down".into()));
        }
        let runs: Vec<&[(Arc<MemSeries>, i64, f64)]> = std::iter::once(&b.samples)
            .chain(&self.absorbed)
            .map(Vec::as_slice)
            .filter(|r| !r.is_empty())
            .collect();
        let n: usize = runs.iter().map(|r| r.len()).sum();
        if n == 0 {
            return Ok(());
        }
        let mut rec = Vec::with_capacity(n * 12 + 64);
        if !b.new_series.is_empty() {
            let mut new_series: Vec<&Arc<MemSeries>> = b.new_series.iter().collect();
            // Parts parsed in parallel create series in any order; logged by ref.
            new_series.sort_unstable_by_key(|s| s.r);
            record::encode_series(&mut rec, new_series.iter().map(|s| (s.r, &s.labels)));
        }
        record::encode_samples_iter(
            &mut rec,
            n,
            runs.iter()
                .flat_map(|r| r.iter())
                .map(|(s, t, v)| (s.r, *t, *v)),
        );
        db.wal.write(&rec)?;
        drop(rec);
        for s in &b.new_series {
            s.set_logged(true);
        }
        for r in runs {
            db.head.append_all(r);
        }
        db.max_t.fetch_max(b.max_t, Ordering::Relaxed);
        Ok(())
    }
}

/// The series of one line's key (namespace, measurement and tags): each field's name and
/// series. A line has a handful of fields, so they are scanned, not hashed.
#[derive(Default)]
pub struct LineSeries {
    fields: RwLock<Vec<FieldSeries>>,
}

/// A field's name and its series.
type FieldSeries = (Box<[u8]>, Arc<MemSeries>);

impl LineSeries {
    fn get(&self, field: &[u8]) -> Option<Arc<MemSeries>> {
        read(&self.fields)
            .iter()
            .find(|(f, _)| &**f == field)
            .map(|(_, s)| s.clone())
    }
}

type KeyMap = HashMap<Box<[u8]>, Arc<LineSeries>, foldhash::fast::FixedState>;

/// Raw line keys → their fields' head series, sharded so that concurrent writers rarely
/// meet on a lock. One hash lookup per line, not per sample: hashing and comparing the
/// whole key of every sample was the largest cost of applying after parsing.
struct KeyCache {
    shards: Vec<RwLock<KeyMap>>,
    hasher: foldhash::fast::FixedState,
}

const KEY_SHARDS: usize = 32;

impl KeyCache {
    fn new() -> Self {
        KeyCache {
            shards: (0..KEY_SHARDS)
                .map(|_| RwLock::new(HashMap::default()))
                .collect(),
            hasher: foldhash::fast::FixedState::default(),
        }
    }

    fn shard(&self, key: &[u8]) -> &RwLock<KeyMap> {
        use std::hash::BuildHasher;
        let h = self.hasher.hash_one(key);
        &self.shards[(h >> 59) as usize % KEY_SHARDS]
    }

    /// The entry of a line key, made empty the first time.
    fn line(&self, key: &[u8]) -> Arc<LineSeries> {
        let shard = self.shard(key);
        if let Some(l) = read(shard).get(key) {
            return l.clone();
        }
        write(shard).entry(key.into()).or_default().clone()
    }

    /// Drops keys of series no longer in the head.
    fn retain_live(&self) {
        for shard in &self.shards {
            write(shard).retain(|_, line| {
                let mut fields = write(&line.fields);
                fields.retain(|(_, s)| s.is_live());
                !fields.is_empty()
            });
        }
    }
}
