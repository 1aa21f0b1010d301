//! The agent's disk buffer: every round's data is appended here first and removed only
//! once a server has accepted it, so nothing is lost while every server is down, order is
//! kept on replay, and an agent restart resumes where it stopped.
//!
//! Layout in `<data_dir>/buffer/`: segment files `00000001.seg`, … holding framed records
//! `[len: u32 LE][crc32: u32 LE][kind: u8][payload]` (len counts kind and payload), and a
//! `cursor` file naming the segment and offset of the first record not yet delivered.
//! Segments roll over at [`SEGMENT_BYTES`]. When the buffer exceeds its byte bound the
//! oldest segment is deleted and its undelivered records are counted as dropped.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Size at which a new segment is started.
pub const SEGMENT_BYTES: u64 = 4 << 20;
const HEADER: usize = 9;

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Line protocol, millisecond timestamps.
    Metrics = 1,
    /// Events as JSON lines.
    Events = 2,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        match b {
            1 => Some(Kind::Metrics),
            2 => Some(Kind::Events),
            _ => None,
        }
    }
}

/// A record read back, with the position just after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub kind: Kind,
    pub payload: Vec<u8>,
    pub next: Position,
}

/// A place in the buffer: segment number and byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

/// Figures for the agent's status.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct BufferStats {
    pub bytes: u64,
    pub max_bytes: u64,
    pub segments: usize,
    pub dropped_records: u64,
    /// Records the disk refused (full): those rounds were not kept.
    pub refused_records: u64,
}

pub struct Buffer {
    dir: PathBuf,
    max_bytes: u64,
    /// The segment being appended to.
    head: File,
    head_no: u64,
    head_len: u64,
    cursor: Position,
    dropped: u64,
    refused: u64,
    /// Bytes in each segment file, by number: kept here so that bounding the buffer and
    /// reporting its fill never list the directory.
    sizes: std::collections::BTreeMap<u64, u64>,
}

fn seg_path(dir: &Path, no: u64) -> PathBuf {
    dir.join(format!("{no:08}.seg"))
}

fn segments(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut v: Vec<u64> = std::fs::read_dir(dir)?
        .filter_map(|e| {
            let name = e.ok()?.file_name();
            name.to_str()?.strip_suffix(".seg")?.parse().ok()
        })
        .collect();
    v.sort_unstable();
    Ok(v)
}

impl Buffer {
    /// Opens (or creates) the buffer in `dir`, bounded to `max_bytes` on disk.
    pub fn open(dir: &Path, max_bytes: u64) -> std::io::Result<Buffer> {
        std::fs::create_dir_all(dir)?;
        let segs = segments(dir)?;
        let cursor = std::fs::read_to_string(dir.join("cursor"))
            .ok()
            .and_then(|s| {
                let (a, b) = s.trim().split_once(' ')?;
                Some(Position {
                    segment: a.parse().ok()?,
                    offset: b.parse().ok()?,
                })
            })
            .unwrap_or(Position {
                segment: segs.first().copied().unwrap_or(1),
                offset: 0,
            });
        let head_no = segs.last().copied().unwrap_or(1).max(cursor.segment);
        let path = seg_path(dir, head_no);
        let mut head = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)?;
        // Cut a torn last record (a crash mid-append): keep only whole, valid records.
        let valid = valid_prefix(&mut head)?;
        if valid < head.metadata()?.len() {
            tracing::warn!(file = %path.display(), offset = valid, "agent buffer ends in a torn record: truncating it");
            head.set_len(valid)?;
            head.sync_all()?;
        }
        let mut sizes = std::collections::BTreeMap::new();
        for s in segs {
            if s != head_no {
                sizes.insert(s, std::fs::metadata(seg_path(dir, s))?.len());
            }
        }
        sizes.insert(head_no, valid);
        Ok(Buffer {
            dir: dir.to_path_buf(),
            max_bytes,
            head,
            head_no,
            head_len: valid,
            cursor,
            dropped: 0,
            refused: 0,
            sizes,
        })
    }

    /// Appends a record and syncs it to disk.
    pub fn append(&mut self, kind: Kind, payload: &[u8]) -> std::io::Result<()> {
        self.append_all(&[(kind, payload)])
    }

    /// Appends records in order with one write and one sync: a tick's rounds cost one
    /// `fdatasync`, not one per input.
    ///
    /// When the disk refuses them (full), they are not kept, counted as refused, and the
    /// buffer is left as it was: what it holds is delivered as ever, and the next append
    /// tries again.
    pub fn append_all(&mut self, records: &[(Kind, &[u8])]) -> std::io::Result<()> {
        let res = self.try_append(records);
        if res.is_err() {
            self.refused += records.len() as u64;
        }
        res
    }

    fn try_append(&mut self, records: &[(Kind, &[u8])]) -> std::io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        if self.head_len >= SEGMENT_BYTES {
            let path = seg_path(&self.dir, self.head_no + 1);
            let head = OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(&path)?;
            // The new file's name must survive a crash as well as its contents.
            File::open(&self.dir)?.sync_all()?;
            self.head = head;
            self.head_no += 1;
            self.head_len = 0;
            self.sizes.insert(self.head_no, 0);
        }
        let total: usize = records.iter().map(|(_, p)| HEADER + p.len()).sum();
        let mut buf = Vec::with_capacity(total);
        for (kind, payload) in records {
            buf.extend_from_slice(&((payload.len() + 1) as u32).to_le_bytes());
            let mut h = crc32fast::Hasher::new();
            h.update(&[*kind as u8]);
            h.update(payload);
            buf.extend_from_slice(&h.finalize().to_le_bytes());
            buf.push(*kind as u8);
            buf.extend_from_slice(payload);
        }
        if let Err(e) = self
            .head
            .write_all(&buf)
            .and_then(|()| self.head.sync_data())
        {
            // Part of it may have reached the file: cut it, so that the next record
            // follows the last whole one (a crash now would leave it for `open` to cut).
            let _ = self.head.set_len(self.head_len);
            return Err(e);
        }
        self.head_len += buf.len() as u64;
        self.sizes.insert(self.head_no, self.head_len);
        self.enforce_bound()
    }

    /// Deletes the oldest segments while the buffer is over its bound, counting the
    /// undelivered records they held. The segment being written is never deleted.
    fn enforce_bound(&mut self) -> std::io::Result<()> {
        loop {
            let total: u64 = self.sizes.values().sum();
            let Some(&oldest) = self.sizes.keys().next() else {
                return Ok(());
            };
            if total <= self.max_bytes || oldest >= self.head_no {
                return Ok(());
            }
            let from = if self.cursor.segment == oldest {
                self.cursor.offset
            } else if self.cursor.segment > oldest {
                u64::MAX
            } else {
                0
            };
            let lost = count_records(&seg_path(&self.dir, oldest), from)?;
            self.dropped += lost;
            tracing::warn!(
                segment = oldest,
                records = lost,
                "agent buffer full: dropped the oldest data"
            );
            std::fs::remove_file(seg_path(&self.dir, oldest))?;
            self.sizes.remove(&oldest);
            if self.cursor.segment <= oldest {
                self.cursor = Position {
                    segment: oldest + 1,
                    offset: 0,
                };
                self.save_cursor()?;
            }
        }
    }

    /// Up to `max_records` records (and about `max_bytes`) from the cursor on, in order.
    pub fn peek(&mut self, max_records: usize, max_bytes: usize) -> std::io::Result<Vec<Record>> {
        let mut out = Vec::new();
        let mut pos = self.cursor;
        let mut bytes = 0usize;
        while out.len() < max_records && bytes < max_bytes && pos.segment <= self.head_no {
            let path = seg_path(&self.dir, pos.segment);
            let mut f = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    pos = Position {
                        segment: pos.segment + 1,
                        offset: 0,
                    };
                    continue;
                }
                Err(e) => return Err(e),
            };
            let len = if pos.segment == self.head_no {
                self.head_len
            } else {
                f.metadata()?.len()
            };
            f.seek(SeekFrom::Start(pos.offset))?;
            let mut off = pos.offset;
            while off + HEADER as u64 <= len && out.len() < max_records && bytes < max_bytes {
                let mut hdr = [0u8; 8];
                f.read_exact(&mut hdr)?;
                let n = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as u64;
                let crc = u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
                if n == 0 || off + 8 + n > len {
                    break;
                }
                let mut body = vec![0u8; n as usize];
                f.read_exact(&mut body)?;
                off += 8 + n;
                let next = Position {
                    segment: pos.segment,
                    offset: off,
                };
                if crc32fast::hash(&body) != crc {
                    tracing::error!(file = %path.display(), offset = off - 8 - n, "agent buffer record fails its checksum: skipped");
                    self.dropped += 1;
                    pos = next;
                    continue;
                }
                let Some(kind) = Kind::from_u8(body[0]) else {
                    self.dropped += 1;
                    pos = next;
                    continue;
                };
                body.remove(0);
                bytes += body.len();
                out.push(Record {
                    kind,
                    payload: body,
                    next,
                });
                pos = next;
            }
            if out.len() >= max_records || bytes >= max_bytes || pos.segment == self.head_no {
                break;
            }
            pos = Position {
                segment: pos.segment + 1,
                offset: 0,
            };
        }
        Ok(out)
    }

    /// Marks everything before `pos` delivered: persists the cursor and deletes segments
    /// entirely before it.
    pub fn commit(&mut self, pos: Position) -> std::io::Result<()> {
        if pos <= self.cursor {
            return Ok(());
        }
        self.cursor = pos;
        self.save_cursor()?;
        let done: Vec<u64> = self
            .sizes
            .keys()
            .copied()
            .filter(|&s| s < pos.segment && s < self.head_no)
            .collect();
        for s in done {
            match std::fs::remove_file(seg_path(&self.dir, s)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            self.sizes.remove(&s);
        }
        Ok(())
    }

    /// Replaces the cursor file. Not synced, on purpose: a cursor lost in a crash only
    /// moves delivery back to an older cursor (or the oldest segment), so records are sent
    /// again, never lost, and the server keeps the last write of a sample. Syncing it
    /// after every request was a third of the agent's system time.
    fn save_cursor(&self) -> std::io::Result<()> {
        let tmp = self.dir.join("cursor.tmp");
        std::fs::write(
            &tmp,
            format!("{} {}", self.cursor.segment, self.cursor.offset),
        )?;
        std::fs::rename(&tmp, self.dir.join("cursor"))
    }

    /// Whether records wait to be delivered.
    pub fn is_empty(&self) -> bool {
        self.cursor.segment == self.head_no && self.cursor.offset >= self.head_len
    }

    pub fn stats(&self) -> BufferStats {
        let first = self.sizes.keys().next().copied().unwrap_or(0);
        let bytes =
            self.sizes
                .values()
                .sum::<u64>()
                .saturating_sub(if self.cursor.segment == first {
                    self.cursor.offset
                } else {
                    0
                });
        BufferStats {
            bytes,
            max_bytes: self.max_bytes,
            segments: self.sizes.len(),
            dropped_records: self.dropped,
            refused_records: self.refused,
        }
    }
}

/// The length of the longest prefix of `f` made of whole, valid records.
fn valid_prefix(f: &mut File) -> std::io::Result<u64> {
    let mut data = Vec::new();
    f.seek(SeekFrom::Start(0))?;
    f.read_to_end(&mut data)?;
    let mut off = 0usize;
    while off + HEADER <= data.len() {
        let n =
            u32::from_le_bytes([data[off], data[off + 1], data[off + 2], data[off + 3]]) as usize;
        let crc = u32::from_le_bytes([data[off + 4], data[off + 5], data[off + 6], data[off + 7]]);
        if n == 0 || off + 8 + n > data.len() || crc32fast::hash(&data[off + 8..off + 8 + n]) != crc
        {
            break;
        }
        off += 8 + n;
    }
    Ok(off as u64)
}

fn count_records(path: &Path, from: u64) -> std::io::Result<u64> {
    if from == u64::MAX {
        return Ok(0);
    }
    let data = std::fs::read(path)?;
    let mut off = from as usize;
    let mut n = 0;
    while off + HEADER <= data.len() {
        let len =
            u32::from_le_bytes([data[off], data[off + 1], data[off + 2], data[off + 3]]) as usize;
        if len == 0 || off + 8 + len > data.len() {
            break;
        }
        off += 8 + len;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payloads(recs: &[Record]) -> Vec<String> {
        recs.iter()
            .map(|r| String::from_utf8_lossy(&r.payload).into_owned())
            .collect()
    }

    #[test]
    fn records_come_back_in_order_across_restarts() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        {
            let mut b = Buffer::open(dir.path(), 1 << 30).unwrap_or_else(|e| panic!("{e}"));
            for i in 0..5 {
                b.append(Kind::Metrics, format!("m v={i}").as_bytes())
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            b.append(Kind::Events, b"{\"type\":\"x\"}")
                .unwrap_or_else(|e| panic!("{e}"));
            let recs = b.peek(2, 1 << 20).unwrap_or_default();
            assert_eq!(payloads(&recs), vec!["m v=0", "m v=1"]);
            b.commit(recs[1].next).unwrap_or_else(|e| panic!("{e}"));
        }
        let mut b = Buffer::open(dir.path(), 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        let recs = b.peek(100, 1 << 20).unwrap_or_default();
        assert_eq!(
            payloads(&recs),
            vec!["m v=2", "m v=3", "m v=4", "{\"type\":\"x\"}"]
        );
        assert_eq!(recs[3].kind, Kind::Events);
        b.commit(recs[3].next).unwrap_or_else(|e| panic!("{e}"));
        assert!(b.is_empty());
    }

    /// On a disk that runs full, appends are refused and counted, what the buffer holds
    /// is delivered whole, and appends resume once space is freed: every kept record comes
    /// back in order, also after a reopen.
    #[test]
    fn a_full_disk_refuses_rounds_keeps_the_rest_and_resumes() {
        let fs = argus_testkit::smallfs::SmallFs::mount(12 << 20).unwrap_or_else(|e| panic!("{e}"));
        let dir = fs.path().join("buffer");
        let mut b = Buffer::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        let round = |i: u32| format!("m,i={i} v={}", "9".repeat(20_000));
        let mut kept = Vec::new();
        for i in 0..10 {
            b.append(Kind::Metrics, round(i).as_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
            kept.push(round(i));
        }
        fs.fill("ballast");
        let mut i = 10;
        let mut refused = 0;
        // Past a segment boundary too: keep appending while full.
        while refused < 5 {
            match b.append(Kind::Metrics, round(i).as_bytes()) {
                Ok(()) => kept.push(round(i)),
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(28), "{e}");
                    refused += 1;
                }
            }
            i += 1;
            assert!(i < 2_000, "the disk never refused");
        }
        assert_eq!(b.stats().refused_records, 5);
        // What it holds is delivered meanwhile (a cursor commit needs no new space).
        let recs = b.peek(3, 1 << 30).unwrap_or_default();
        assert_eq!(payloads(&recs), kept[..3].to_vec());
        std::fs::remove_file(fs.path().join("ballast")).unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..300 {
            i += 1;
            b.append(Kind::Metrics, round(i).as_bytes())
                .unwrap_or_else(|e| panic!("after freeing space, round {i}: {e}"));
            kept.push(round(i));
        }
        let recs = b.peek(100_000, 1 << 30).unwrap_or_default();
        assert_eq!(payloads(&recs), kept);
        drop(b);
        let mut b = Buffer::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        let recs = b.peek(100_000, 1 << 30).unwrap_or_default();
        assert_eq!(payloads(&recs), kept);
    }

    #[test]
    fn full_buffer_drops_oldest_segment_and_counts() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut b = Buffer::open(dir.path(), SEGMENT_BYTES + SEGMENT_BYTES / 2)
            .unwrap_or_else(|e| panic!("{e}"));
        let big = vec![b'x'; 1 << 20];
        for _ in 0..12 {
            b.append(Kind::Metrics, &big)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let st = b.stats();
        assert!(st.dropped_records >= 4, "{st:?}");
        assert!(st.bytes <= SEGMENT_BYTES * 2 + (1 << 20), "{st:?}");
        // What is left still reads in order from the new cursor.
        let recs = b.peek(100, usize::MAX).unwrap_or_default();
        assert_eq!(recs.len() as u64 + st.dropped_records, 12);
    }

    #[test]
    fn torn_tail_is_cut_at_open() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        {
            let mut b = Buffer::open(dir.path(), 1 << 30).unwrap_or_else(|e| panic!("{e}"));
            b.append(Kind::Metrics, b"a v=1")
                .unwrap_or_else(|e| panic!("{e}"));
            b.append(Kind::Metrics, b"a v=2")
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let p = seg_path(dir.path(), 1);
        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        let f = OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap_or_else(|e| panic!("{e}"));
        f.set_len(len - 2).unwrap_or_else(|e| panic!("{e}"));
        let mut b = Buffer::open(dir.path(), 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            payloads(&b.peek(10, 1 << 20).unwrap_or_default()),
            vec!["a v=1"]
        );
        b.append(Kind::Metrics, b"a v=3")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            payloads(&b.peek(10, 1 << 20).unwrap_or_default()),
            vec!["a v=1", "a v=3"]
        );
    }
}
