//! A *topic*: one directory of segments, appended to by publishers, read by consumer
//! groups, and trimmed from the front once every registered group is past a segment.
//!
//! Publishing is a group commit: each publisher writes its record under the writer lock,
//! then whoever takes the sync lock first `fdatasync`s for everyone written so far, so
//! concurrent publishers share one fsync. The *durable* offset (every entry below it is on
//! stable storage) is broadcast on a watch channel that consumers await.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, RwLock, atomic::Ordering},
};

use bytes::Bytes;
use tokio::sync::watch;

use super::{
    Shared,
    group::{Group, parse_slot_name},
    segment::{HEADER_LEN, Segment, encode_record, lock, parse_name, sync_dir},
};
use crate::{ConsumerStats, QueueError, TopicStats};

struct Writer {
    active: Arc<Segment>,
    /// Where the next record goes in `active`.
    pos: u64,
    /// The offset the next record gets.
    next: u64,
    /// Set when a write or fsync failed: what is on disk is then unknown, so the topic
    /// refuses further publishes until reopened.
    failed: Option<String>,
}

pub(super) struct Topic {
    pub name: Arc<str>,
    dir: PathBuf,
    shared: Arc<Shared>,
    segments: RwLock<BTreeMap<u64, Arc<Segment>>>,
    writer: Mutex<Writer>,
    sync_lock: Mutex<()>,
    durable: watch::Sender<u64>,
    groups: Mutex<BTreeMap<String, Arc<Group>>>,
}

fn rd<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn wr<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl Topic {
    /// Opens (or creates) the topic directory `dir`: its segments, truncating a torn tail,
    /// and its consumer groups.
    pub fn open(name: &str, dir: PathBuf, shared: Arc<Shared>) -> Result<Topic, QueueError> {
        let consumers_dir = dir.join("consumers");
        if !consumers_dir.is_dir() {
            fs::create_dir_all(&consumers_dir).map_err(|e| QueueError::io(&consumers_dir, e))?;
            sync_dir(&dir)?;
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
        }
        let mut bases = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| QueueError::io(&dir, e))? {
            let entry = entry.map_err(|e| QueueError::io(&dir, e))?;
            if let Some(base) = entry.file_name().to_str().and_then(parse_name) {
                bases.push(base);
            }
        }
        bases.sort_unstable();

        // Groups first: with no segment left, the log resumes at the highest committed
        // offset so that ids never go backwards.
        let mut group_names = BTreeSet::new();
        for entry in fs::read_dir(&consumers_dir).map_err(|e| QueueError::io(&consumers_dir, e))? {
            let entry = entry.map_err(|e| QueueError::io(&consumers_dir, e))?;
            if let Some(g) = entry.file_name().to_str().and_then(parse_slot_name) {
                group_names.insert(g.to_string());
            }
        }
        let first = bases.first().copied();
        let mut groups = BTreeMap::new();
        for g in group_names {
            let group = Group::open(&consumers_dir, &g, first.unwrap_or(0))?;
            groups.insert(g, Arc::new(group));
        }

        let mut segments = BTreeMap::new();
        let active = if bases.is_empty() {
            let base = groups
                .values()
                .map(|g| lock(&g.state).committed)
                .max()
                .unwrap_or(0);
            let seg = Arc::new(Segment::create(&dir, base)?);
            segments.insert(base, seg.clone());
            seg
        } else {
            let mut last = None;
            for (i, &base) in bases.iter().enumerate() {
                let is_last = i + 1 == bases.len();
                let (seg, _torn) = Segment::open(&dir, base, is_last)?;
                let seg = Arc::new(seg);
                segments.insert(base, seg.clone());
                if is_last {
                    last = Some(seg);
                }
            }
            last.ok_or_else(|| QueueError::Closed("internal: no last segment".into()))?
        };
        let next = active.base + active.len()?;
        let first = segments.keys().next().copied().unwrap_or(next);
        for group in groups.values() {
            let mut st = lock(&group.state);
            if st.committed > next {
                return Err(QueueError::Corrupt {
                    path: consumers_dir.join(&group.name).display().to_string(),
                    reason: format!(
                        "consumer committed offset {} is past the log's end {next}",
                        st.committed
                    ),
                });
            }
            st.next_read = st.committed.max(first);
        }
        let bytes: u64 = segments
            .values()
            .map(|s| s.size.load(Ordering::Acquire))
            .sum();
        shared.total.fetch_add(bytes, Ordering::AcqRel);
        let pos = active.size.load(Ordering::Acquire);
        let topic = Topic {
            name: name.into(),
            dir,
            shared,
            segments: RwLock::new(segments),
            writer: Mutex::new(Writer {
                active,
                pos,
                next,
                failed: None,
            }),
            sync_lock: Mutex::new(()),
            durable: watch::Sender::new(next),
            groups: Mutex::new(groups),
        };
        topic.collect()?;
        Ok(topic)
    }

    /// Appends `payload` and returns once it is durable (blocking).
    pub fn publish(&self, payload: &[u8]) -> Result<u64, QueueError> {
        let offset = self.append(payload)?;
        self.sync_through(offset)?;
        Ok(offset)
    }

    fn append(&self, payload: &[u8]) -> Result<u64, QueueError> {
        let opts = &self.shared.opts;
        let max = opts.max_entry_bytes();
        if payload.len() as u64 > max {
            return Err(QueueError::TooLarge {
                size: payload.len() as u64,
                max,
            });
        }
        let record = encode_record(payload)?;
        let n = record.len() as u64;
        let mut w = lock(&self.writer);
        if let Some(e) = &w.failed {
            return Err(QueueError::Closed(format!(
                "topic {} failed earlier: {e}",
                self.name
            )));
        }
        let roll = w.pos > HEADER_LEN && w.pos + n > opts.segment_bytes;
        self.shared.reserve(n + if roll { HEADER_LEN } else { 0 })?;
        if roll && let Err(e) = self.roll(&mut w) {
            self.shared.release(n + HEADER_LEN);
            w.failed = Some(e.to_string());
            return Err(e);
        }
        let pos = w.pos;
        if let Err(e) = w.active.file.write_all_at(&record, pos) {
            self.shared.release(n);
            let e = QueueError::io(&w.active.path, e);
            w.failed = Some(e.to_string());
            return Err(e);
        }
        w.active.push_index(pos)?;
        w.pos = pos + n;
        w.active.size.store(w.pos, Ordering::Release);
        let offset = w.next;
        w.next += 1;
        Ok(offset)
    }

    /// Seals the active segment (durably) and starts a new one at the next offset.
    fn roll(&self, w: &mut Writer) -> Result<(), QueueError> {
        w.active
            .file
            .sync_data()
            .map_err(|e| QueueError::io(&w.active.path, e))?;
        self.shared.syncs.fetch_add(1, Ordering::Relaxed);
        let seg = Arc::new(Segment::create(&self.dir, w.next)?);
        wr(&self.segments).insert(w.next, seg.clone());
        w.active = seg;
        w.pos = HEADER_LEN;
        Ok(())
    }

    /// Group commit: returns once every entry up to `offset` is durable, fsyncing for all
    /// entries written so far unless another publisher's fsync already covered `offset`.
    fn sync_through(&self, offset: u64) -> Result<(), QueueError> {
        let _sync = lock(&self.sync_lock);
        if *self.durable.borrow() > offset {
            return Ok(());
        }
        let (end, active) = {
            let w = lock(&self.writer);
            if let Some(e) = &w.failed {
                return Err(QueueError::Closed(format!(
                    "topic {} failed earlier: {e}",
                    self.name
                )));
            }
            (w.next, w.active.clone())
        };
        // Entries in segments sealed since were fsynced by `roll`.
        if let Err(e) = active.file.sync_data() {
            let e = QueueError::io(&active.path, e);
            lock(&self.writer).failed = Some(e.to_string());
            return Err(e);
        }
        self.shared.syncs.fetch_add(1, Ordering::Relaxed);
        self.durable.send_replace(end);
        Ok(())
    }

    /// Every entry below this is durable and may be delivered.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.durable.subscribe()
    }

    /// Wakes every waiting consumer (entries were put back for redelivery).
    pub fn wake(&self) {
        self.durable.send_modify(|_| {});
    }

    /// The group named `name`, registered (durably) if new at the oldest entry held.
    pub fn group(&self, name: &str) -> Result<Arc<Group>, QueueError> {
        let mut groups = lock(&self.groups);
        if let Some(g) = groups.get(name) {
            return Ok(g.clone());
        }
        let first = self.first_offset();
        let group = Arc::new(Group::open(&self.dir.join("consumers"), name, first)?);
        groups.insert(name.to_string(), group.clone());
        Ok(group)
    }

    fn first_offset(&self) -> u64 {
        rd(&self.segments).keys().next().copied().unwrap_or(0)
    }

    /// Reads entries by offset (blocking). Offsets must be durable and not yet deleted.
    pub fn read(&self, ids: &[u64]) -> Result<Vec<(u64, Bytes)>, QueueError> {
        let segments = rd(&self.segments);
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let seg = segments
                .range(..=id)
                .next_back()
                .map(|(_, s)| s.clone())
                .ok_or_else(|| QueueError::Corrupt {
                    path: self.dir.display().to_string(),
                    reason: format!("entry {id} is below the oldest segment"),
                })?;
            out.push((id, seg.read(id)?));
        }
        Ok(out)
    }

    /// Deletes the segments every registered group has durably acked past. A topic with
    /// no group keeps everything: the first group to register will want it.
    ///
    /// The active segment is sealed first when every group is past all of it and it holds
    /// more than [`consumed_roll_bytes`]: otherwise a drained queue would keep up to a
    /// whole segment (64 MiB by default) of applied entries on disk until more traffic
    /// filled it.
    pub fn collect(&self) -> Result<(), QueueError> {
        let min = {
            let groups = lock(&self.groups);
            match groups
                .values()
                .map(|g| g.durable_committed.load(Ordering::Acquire))
                .min()
            {
                Some(m) => m,
                None => return Ok(()),
            }
        };
        {
            // Lock order as in `append`: the writer, then (in `roll`) the segment map.
            let mut w = lock(&self.writer);
            let consumed = w.failed.is_none() && min >= w.next;
            if consumed
                && w.pos >= consumed_roll_bytes(self.shared.opts.segment_bytes)
                && self.shared.reserve(HEADER_LEN).is_ok()
                && let Err(e) = self.roll(&mut w)
            {
                self.shared.release(HEADER_LEN);
                w.failed = Some(e.to_string());
                return Err(e);
            }
        }
        let doomed: Vec<Arc<Segment>> = {
            let mut segments = wr(&self.segments);
            let bases: Vec<u64> = segments.keys().copied().collect();
            let mut doomed = Vec::new();
            // A segment ends where the next begins; the last (active) one never goes.
            for pair in bases.windows(2) {
                if pair[1] <= min {
                    if let Some(s) = segments.remove(&pair[0]) {
                        doomed.push(s);
                    }
                } else {
                    break;
                }
            }
            doomed
        };
        for seg in &doomed {
            fs::remove_file(&seg.path).map_err(|e| QueueError::io(&seg.path, e))?;
            self.shared.release(seg.size.load(Ordering::Acquire));
        }
        if !doomed.is_empty() {
            tracing::debug!(topic = %self.name, segments = doomed.len(), "queue: deleted consumed segments");
        }
        Ok(())
    }

    pub fn stats(&self) -> Result<TopicStats, QueueError> {
        let segments: Vec<Arc<Segment>> = rd(&self.segments).values().cloned().collect();
        let next = *self.durable.borrow();
        let first = segments.first().map_or(next, |s| s.base);
        let bytes = segments
            .iter()
            .map(|s| s.size.load(Ordering::Acquire))
            .sum();
        let groups: Vec<Arc<Group>> = lock(&self.groups).values().cloned().collect();
        let consumers = groups
            .iter()
            .map(|g| {
                let st = lock(&g.state);
                let acked_below = st.acked.range(..next).count() as u64;
                ConsumerStats {
                    group: g.name.clone(),
                    pending: next
                        .saturating_sub(st.committed)
                        .saturating_sub(acked_below),
                }
            })
            .collect();
        Ok(TopicStats {
            topic: self.name.to_string(),
            bytes,
            entries: next.saturating_sub(first),
            next_id: next,
            consumers,
        })
    }
}

/// Topic directories are named after the topic; anything else in the queue directory is
/// left alone.
/// A fully consumed active segment larger than this is sealed so that it can be deleted:
/// 1 MiB, or a quarter of a segment when segments are small. Smaller, it stays (sealing a
/// segment per few entries of a trickle would churn files).
fn consumed_roll_bytes(segment_bytes: u64) -> u64 {
    (1 << 20).min(segment_bytes / 4).max(HEADER_LEN + 1)
}

pub(super) fn topic_dirs(dir: &Path) -> Result<Vec<(String, PathBuf)>, QueueError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| QueueError::io(dir, e))? {
        let entry = entry.map_err(|e| QueueError::io(dir, e))?;
        let is_dir = entry
            .file_type()
            .map_err(|e| QueueError::io(entry.path(), e))?
            .is_dir();
        if let Some(name) = entry
            .file_name()
            .to_str()
            .filter(|n| is_dir && crate::valid_name(n))
        {
            out.push((name.to_string(), entry.path()));
        }
    }
    out.sort();
    Ok(out)
}
