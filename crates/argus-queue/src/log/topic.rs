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
    /// Set when an fsync failed: what of the entries since the last good one is on disk
    /// is then unknown, so publishes wait for [`Topic::restore`] to cut them off.
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
        self.restore()?;
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
            return Err(e);
        }
        let pos = w.pos;
        if let Err(e) = w.active.file.write_all_at(&record, pos) {
            // A full disk, typically. Nothing from `pos` on is indexed or ever read, and
            // the next record is written over it; cut it off anyway so that the file ends
            // on a whole record. The entries before are untouched: the topic goes on.
            self.shared.release(n);
            let _ = w.active.file.set_len(pos);
            return Err(QueueError::io(&w.active.path, e));
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
        if let Err(e) = w.active.file.sync_data() {
            let e = QueueError::io(&w.active.path, e);
            w.failed = Some(e.to_string());
            return Err(e);
        }
        self.shared.syncs.fetch_add(1, Ordering::Relaxed);
        let seg = match Segment::create(&self.dir, w.next) {
            Ok(seg) => Arc::new(seg),
            Err(e) => {
                // No room for the new file: the sealed segment stays the active one and
                // the next publish tries again. A half-made file would stop the next
                // create and confuse an open: remove it.
                let _ = fs::remove_file(self.dir.join(super::segment::file_name(w.next)));
                return Err(e);
            }
        };
        wr(&self.segments).insert(w.next, seg.clone());
        w.active = seg;
        w.pos = HEADER_LEN;
        Ok(())
    }

    /// After a failed fsync, cuts the active segment back to its last durable entry (the
    /// entries after it were never acknowledged: every publisher waiting for them got the
    /// error) and makes that durable, so that publishing resumes by itself once the disk
    /// has room again. Entries of sealed segments are durable: `roll` fsynced them.
    /// Until the cut succeeds, publishes fail with the reason.
    fn restore(&self) -> Result<(), QueueError> {
        if lock(&self.writer).failed.is_none() {
            return Ok(());
        }
        // The sync lock first, as `sync_through` takes them: no fsync is in flight
        // while entries are dropped, so none can announce them durable afterwards.
        let _sync = lock(&self.sync_lock);
        let mut w = lock(&self.writer);
        let Some(why) = w.failed.clone() else {
            return Ok(());
        };
        let durable = *self.durable.borrow();
        let keep = durable.max(w.active.base);
        let n = keep - w.active.base;
        let cut = w.active.position(n, w.pos).and_then(|end| {
            w.active
                .file
                .set_len(end)
                .and_then(|()| w.active.file.sync_data())
                .map_err(|e| QueueError::io(&w.active.path, e))?;
            w.active.truncate(n, end)?;
            Ok(end)
        });
        let end = match cut {
            Ok(end) => end,
            Err(e) => {
                return Err(QueueError::Closed(format!(
                    "topic {} failed earlier ({why}) and cannot be restored yet: {e}",
                    self.name
                )));
            }
        };
        let dropped = w.next - keep;
        self.shared.release(w.pos - end);
        w.pos = end;
        w.next = keep;
        w.failed = None;
        drop(w);
        if keep > durable {
            self.durable.send_replace(keep);
        }
        tracing::warn!(topic = %self.name, dropped, "topic restored after a failed fsync; the unacknowledged entries since the last durable one were dropped");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LogOptions;
    use std::sync::atomic::AtomicU64;

    fn topic(dir: &Path) -> Topic {
        let shared = Arc::new(Shared {
            opts: LogOptions {
                segment_bytes: 4096,
                ..LogOptions::default()
            },
            total: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
        });
        Topic::open("t", dir.join("t"), shared).expect("open")
    }

    /// A failed fsync leaves the entries written since the last durable one in doubt.
    /// Their publishers got the error; the next publish cuts them off (what `restore`
    /// does) and the topic goes on, its ids following the durable ones.
    #[test]
    fn after_a_failed_fsync_the_next_publish_drops_the_entries_in_doubt() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = topic(dir.path());
        // 30 entries of 300 bytes: several segments, sealed by `roll` (fsynced there).
        for i in 0..30u8 {
            assert_eq!(t.publish(&[i; 300]).expect("publish"), i as u64);
        }
        // Three more written but not synced, then the fsync "fails".
        for i in 30..33u8 {
            t.append(&[i; 300]).expect("append");
        }
        lock(&t.writer).failed = Some("EIO (simulated)".into());
        assert_eq!(*t.durable.borrow(), 30);
        assert_eq!(t.publish(&[99; 300]).expect("publish after restore"), 30);
        assert_eq!(*t.durable.borrow(), 31);
        let got = t.read(&(0..31).collect::<Vec<_>>()).expect("read");
        for (id, payload) in &got[..30] {
            assert_eq!(payload.as_ref(), &[*id as u8; 300][..]);
        }
        assert_eq!(got[30].1.as_ref(), &[99u8; 300][..]);
        drop(t);
        // Reopened: the same 31 entries, nothing of the dropped ones.
        let t = topic(dir.path());
        assert_eq!(*t.durable.borrow(), 31);
        let got = t.read(&[29, 30]).expect("read");
        assert_eq!(got[1].1.as_ref(), &[99u8; 300][..]);
    }
}
