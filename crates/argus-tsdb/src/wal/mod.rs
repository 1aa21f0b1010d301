//! The write-ahead log: every acknowledged write is here, fsynced, before it is answered.
//!
//! The log is a directory of **segments** (`000000000001`, `000000000002`, …), each a
//! sequence of framed [`record`]s, plus at most one **checkpoint** (`checkpoint.N`) holding
//! the series that were alive when segments below `N` were deleted.
//!
//! Writers use **group commit**: each appends its encoded records to a shared buffer and
//! waits; one of them (the leader) writes the whole buffer and calls `fdatasync` once for
//! everyone in it, while new writers fill the next buffer. The cost of an fsync is thus
//! shared by all requests that arrive during it.

pub mod record;

use crate::error::{Error, FormatError, Result};
use record::{Frames, Record};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

const SEGMENT_MAGIC: &[u8; 5] = b"ARGW\x01";
const CHECKPOINT_PREFIX: &str = "checkpoint.";

pub struct Wal {
    dir: PathBuf,
    segment_bytes: u64,
    state: Mutex<State>,
    cond: Condvar,
    /// Only the leader of a group, or a rotation, touches the file.
    segment: Mutex<Segment>,
}

struct State {
    buf: Vec<u8>,
    spare: Vec<u8>,
    /// Writes appended so far (each write's id is its count), the highest taken by a
    /// leader, and the highest settled: durable, or refused if in `failures`.
    appended: u64,
    taken: u64,
    settled: u64,
    syncing: bool,
    /// Groups whose batch failed, until each of their writers has seen it.
    failures: Vec<Failure>,
}

/// Writes `from + 1 ..= upto` failed with `message`; `left` of them have not returned.
struct Failure {
    from: u64,
    upto: u64,
    left: u64,
    message: String,
}

struct Segment {
    file: File,
    no: u64,
    /// A failed write may have left bytes past `size` that could not be cut off yet.
    dirty: bool,
    size: u64,
}

/// What replay found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ReplayStats {
    pub segments: usize,
    pub records: usize,
    /// Bytes cut off the end of the last segment (a torn write).
    pub truncated_bytes: u64,
}

fn segment_path(dir: &Path, no: u64) -> PathBuf {
    dir.join(format!("{no:012}"))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain data behind, still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Segment numbers in `dir`, ascending, and the newest checkpoint's number.
fn list(dir: &Path) -> Result<(Vec<u64>, Option<u64>)> {
    let mut segs = Vec::new();
    let mut ckpt = None;
    for e in std::fs::read_dir(dir)? {
        let name = e?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(n) = name.strip_prefix(CHECKPOINT_PREFIX) {
            if let Ok(n) = n.parse::<u64>() {
                ckpt = ckpt.max(Some(n));
            }
        } else if let Ok(n) = name.parse::<u64>() {
            segs.push(n);
        }
    }
    segs.sort_unstable();
    Ok((segs, ckpt))
}

pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replays the log in `dir` into `apply`, in write order: the checkpoint, then every
/// segment at or after it. A torn tail of the **last** segment (a write cut by a crash) is
/// truncated with a warning; damage anywhere else is an error naming the file.
pub fn replay(dir: &Path, mut apply: impl FnMut(Record)) -> Result<ReplayStats> {
    std::fs::create_dir_all(dir)?;
    let (segs, ckpt) = list(dir)?;
    let mut stats = ReplayStats::default();
    if let Some(c) = ckpt {
        let path = dir.join(format!("{CHECKPOINT_PREFIX}{c:012}"));
        let data = std::fs::read(&path)?;
        let body = data
            .strip_prefix(SEGMENT_MAGIC.as_slice())
            .ok_or_else(|| format_err(&path, FormatError::Invalid("checkpoint header")))?;
        for f in Frames::new(body) {
            let (_, b) = f.map_err(|(_, e)| format_err(&path, e))?;
            apply(record::decode(b).map_err(|e| format_err(&path, e))?);
            stats.records += 1;
        }
    }
    let start = ckpt.unwrap_or(0);
    let live: Vec<u64> = segs.into_iter().filter(|&s| s >= start).collect();
    for (i, &no) in live.iter().enumerate() {
        let last = i + 1 == live.len();
        let path = segment_path(dir, no);
        let data = std::fs::read(&path)?;
        stats.segments += 1;
        if data.len() < SEGMENT_MAGIC.len() {
            // A segment created but never written: only legal as the last one.
            if last {
                stats.truncated_bytes += data.len() as u64;
                std::fs::remove_file(&path)?;
                continue;
            }
            return Err(format_err(&path, FormatError::Truncated("segment header")));
        }
        if &data[..SEGMENT_MAGIC.len()] != SEGMENT_MAGIC {
            return Err(format_err(&path, FormatError::Invalid("segment header")));
        }
        let body = &data[SEGMENT_MAGIC.len()..];
        for f in Frames::new(body) {
            match f {
                Ok((at, b)) => match record::decode(b) {
                    Ok(rec) => {
                        apply(rec);
                        stats.records += 1;
                    }
                    Err(e) => return Err(format_err_at(&path, at, e)),
                },
                Err((at, e)) if last => {
                    let keep = (SEGMENT_MAGIC.len() + at) as u64;
                    tracing::warn!(
                        file = %path.display(),
                        offset = keep,
                        error = %e,
                        "write-ahead log ends in a torn record (an interrupted write): truncating it"
                    );
                    stats.truncated_bytes += data.len() as u64 - keep;
                    let f = OpenOptions::new().write(true).open(&path)?;
                    f.set_len(keep)?;
                    f.sync_all()?;
                    break;
                }
                Err((at, e)) => return Err(format_err_at(&path, at, e)),
            }
        }
    }
    Ok(stats)
}

fn format_err(path: &Path, source: FormatError) -> Error {
    Error::Format {
        file: path.display().to_string(),
        source,
    }
}

fn format_err_at(path: &Path, at: usize, source: FormatError) -> Error {
    Error::Format {
        file: format!("{} at byte {}", path.display(), at + SEGMENT_MAGIC.len()),
        source,
    }
}

impl Wal {
    /// Opens the log for writing in a fresh segment after every existing one. Call
    /// [`replay`] first.
    pub fn open(dir: &Path, segment_bytes: u64) -> Result<Wal> {
        std::fs::create_dir_all(dir)?;
        let (segs, ckpt) = list(dir)?;
        let next = segs.last().copied().unwrap_or(0).max(ckpt.unwrap_or(0)) + 1;
        let segment = Self::create_segment(dir, next)?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            segment_bytes,
            state: Mutex::new(State {
                buf: Vec::with_capacity(1 << 20),
                spare: Vec::with_capacity(1 << 20),
                appended: 0,
                taken: 0,
                settled: 0,
                syncing: false,
                failures: Vec::new(),
            }),
            cond: Condvar::new(),
            segment: Mutex::new(segment),
        })
    }

    /// Starts segment `no`. If that fails (no room), no file of it is left behind: a
    /// later attempt can make it, and a replay never meets half a header.
    fn create_segment(dir: &Path, no: u64) -> Result<Segment> {
        let path = segment_path(dir, no);
        let mut file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)?;
        let made = file
            .write_all(SEGMENT_MAGIC)
            .and_then(|()| file.sync_all())
            .and_then(|()| sync_dir(dir));
        if let Err(e) = made {
            let _ = std::fs::remove_file(&path);
            return Err(e.into());
        }
        Ok(Segment {
            file,
            no,
            size: SEGMENT_MAGIC.len() as u64,
            dirty: false,
        })
    }

    /// Appends framed records and returns once they are on stable storage, or with the
    /// error of the write that carried them (a full disk): a failed write refuses only
    /// the writes of its group, and the log goes on with the next.
    pub fn write(&self, records: &[u8]) -> Result<()> {
        let mut st = lock(&self.state);
        st.buf.extend_from_slice(records);
        st.appended += 1;
        let mine = st.appended;
        loop {
            if let Some(i) = st
                .failures
                .iter()
                .position(|f| f.from < mine && mine <= f.upto)
            {
                let f = &mut st.failures[i];
                f.left -= 1;
                let message = f.message.clone();
                if f.left == 0 {
                    st.failures.swap_remove(i);
                }
                return Err(Error::WalFailed(message));
            }
            if st.settled >= mine {
                return Ok(());
            }
            if st.syncing {
                st = self.cond.wait(st).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            // Lead this group: take everything buffered so far and make it durable.
            st.syncing = true;
            let from = st.taken;
            let upto = st.appended;
            st.taken = upto;
            let spare = std::mem::take(&mut st.spare);
            let mut batch = std::mem::replace(&mut st.buf, spare);
            drop(st);
            let result = self.write_batch(&batch);
            batch.clear();
            st = lock(&self.state);
            st.spare = batch;
            st.syncing = false;
            st.settled = upto;
            if let Err(e) = result {
                tracing::error!(error = %e, writes = upto - from, "write-ahead log write failed; the writes of this group are refused");
                st.failures.push(Failure {
                    from,
                    upto,
                    left: upto - from,
                    message: e.to_string(),
                });
            }
            self.cond.notify_all();
        }
    }

    /// Writes and fsyncs one group's batch. When that fails (a full disk), what reached
    /// the file is unknown: the file is cut back to its last whole batch and that is
    /// made durable, now or, if even that fails, before the next batch, so that the log
    /// never holds half a batch followed by more.
    fn write_batch(&self, batch: &[u8]) -> Result<()> {
        let mut seg = lock(&self.segment);
        if seg.dirty {
            seg.file.set_len(seg.size)?;
            seg.file.sync_data()?;
            seg.dirty = false;
        }
        if let Err(e) = seg
            .file
            .write_all(batch)
            .and_then(|()| seg.file.sync_data())
        {
            seg.dirty = seg
                .file
                .set_len(seg.size)
                .and_then(|()| seg.file.sync_data())
                .is_err();
            return Err(e.into());
        }
        seg.size += batch.len() as u64;
        if seg.size >= self.segment_bytes {
            // The batch is durable whatever happens here: a segment that cannot be
            // started now (no room) is tried again after the next batch.
            match Self::create_segment(&self.dir, seg.no + 1) {
                Ok(next) => *seg = next,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start a new write-ahead log segment; the current one grows");
                }
            }
        }
        Ok(())
    }

    /// Starts a new segment and returns its number: everything written before this call is
    /// in lower-numbered segments. Callers must keep writers out while it runs.
    pub fn rotate(&self) -> Result<u64> {
        let mut seg = lock(&self.segment);
        let next = Self::create_segment(&self.dir, seg.no + 1)?;
        *seg = next;
        Ok(seg.no)
    }

    /// Replaces segments below `upto` with a checkpoint holding `series` (the live series
    /// with their refs), written atomically.
    pub fn checkpoint<'a>(
        &self,
        upto: u64,
        series: impl ExactSizeIterator<Item = (u32, &'a argus_core::Labels)>,
    ) -> Result<()> {
        let mut data = SEGMENT_MAGIC.to_vec();
        let mut series: Vec<(u32, &argus_core::Labels)> = series.collect();
        series.sort_unstable_by_key(|s| s.0);
        record::encode_series_dict(&mut data, &series);
        let name = format!("{CHECKPOINT_PREFIX}{upto:012}");
        let tmp = self.dir.join(format!("{name}.tmp"));
        {
            let mut f = File::create(&tmp)?;
            f.write_all(&data)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, self.dir.join(&name))?;
        sync_dir(&self.dir)?;
        let (segs, _) = list(&self.dir)?;
        for s in segs.into_iter().filter(|&s| s < upto) {
            std::fs::remove_file(segment_path(&self.dir, s))?;
        }
        for e in std::fs::read_dir(&self.dir)? {
            let e = e?;
            let n = e.file_name();
            let Some(n) = n.to_str() else { continue };
            if n.starts_with(CHECKPOINT_PREFIX) && n != name {
                std::fs::remove_file(e.path())?;
            }
        }
        sync_dir(&self.dir)?;
        Ok(())
    }

    /// Bytes the log occupies on disk.
    pub fn disk_bytes(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::Labels;
    use std::sync::Arc;

    fn samples(n: u32) -> Vec<u8> {
        let mut b = Vec::new();
        record::encode_samples(&mut b, &[(n, i64::from(n), f64::from(n))]);
        b
    }

    #[test]
    fn concurrent_writes_all_replay() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let wal = Arc::new(Wal::open(dir.path(), 1 << 20).unwrap_or_else(|e| panic!("{e}")));
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let wal = wal.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        wal.write(&samples(t * 1000 + i))
                            .unwrap_or_else(|e| panic!("{e}"));
                    }
                })
            })
            .collect();
        for h in handles {
            let _ = h.join();
        }
        drop(wal);
        let mut seen = Vec::new();
        let stats = replay(dir.path(), |r| {
            if let Record::Samples(s) = r {
                seen.extend(s.into_iter().map(|x| x.0));
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
        seen.sort_unstable();
        let mut want: Vec<u32> = (0..4)
            .flat_map(|t| (0..50).map(move |i| t * 1000 + i))
            .collect();
        want.sort_unstable();
        assert_eq!(seen, want);
        assert_eq!(stats.truncated_bytes, 0);
    }

    #[test]
    fn torn_tail_is_truncated_and_earlier_records_kept() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        {
            let wal = Wal::open(dir.path(), 1 << 20).unwrap_or_else(|e| panic!("{e}"));
            wal.write(&samples(1)).unwrap_or_else(|e| panic!("{e}"));
            wal.write(&samples(2)).unwrap_or_else(|e| panic!("{e}"));
        }
        let path = segment_path(dir.path(), 1);
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let f = OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{e}"));
        f.set_len(len - 3).unwrap_or_else(|e| panic!("{e}"));
        let mut n = 0;
        let stats = replay(dir.path(), |_| n += 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n, 1);
        assert!(stats.truncated_bytes > 0);
        // Replaying again finds a clean log.
        let stats = replay(dir.path(), |_| ()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(stats.truncated_bytes, 0);
    }

    #[test]
    fn checkpoint_replaces_old_segments() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let l = Labels::with_name("m", [("a", "b")]);
        {
            let wal = Wal::open(dir.path(), 1 << 20).unwrap_or_else(|e| panic!("{e}"));
            wal.write(&samples(1)).unwrap_or_else(|e| panic!("{e}"));
            let next = wal.rotate().unwrap_or_else(|e| panic!("{e}"));
            wal.write(&samples(2)).unwrap_or_else(|e| panic!("{e}"));
            wal.checkpoint(next, [(5u32, &l)].into_iter())
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let mut recs = Vec::new();
        replay(dir.path(), |r| recs.push(r)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0], Record::Series(vec![(5, l)]));
        assert!(matches!(&recs[1], Record::Samples(s) if s[0].0 == 2));
    }
}
