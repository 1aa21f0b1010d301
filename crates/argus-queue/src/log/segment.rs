//! A *segment*: one file of a topic's log, holding consecutive entries from its *base*
//! offset on. Its file is named after the base (`00000000000000000042.seg`) and starts with
//! a 16-byte header; then come CRC-framed records (`docs/formats/queue.md`).

use std::{
    fs::{File, OpenOptions},
    io::{BufReader, Read},
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::{
        Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
};

use bytes::Bytes;

use crate::QueueError;

pub(super) const HEADER_LEN: u64 = 16;
pub(super) const RECORD_HEADER_LEN: u64 = 8;
const MAGIC: &[u8; 4] = b"AQSG";
const VERSION: u8 = 1;
const SUFFIX: &str = ".seg";

pub(super) fn file_name(base: u64) -> String {
    format!("{base:020}{SUFFIX}")
}

/// The base offset of a segment file name, or `None` for any other file.
pub(super) fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn header(base: u64) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..4].copy_from_slice(MAGIC);
    h[4] = VERSION;
    h[8..].copy_from_slice(&base.to_le_bytes());
    h
}

/// The CRC of a record: over its length field and its payload, so that a length torn into
/// another plausible value is caught too.
pub(super) fn record_crc(len: u32, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// One whole record, header and payload, to be written by a single `pwrite`.
pub(super) fn encode_record(payload: &[u8]) -> Result<Vec<u8>, QueueError> {
    let len = u32::try_from(payload.len()).map_err(|_| QueueError::TooLarge {
        size: payload.len() as u64,
        max: u32::MAX as u64,
    })?;
    let mut buf = Vec::with_capacity(payload.len() + RECORD_HEADER_LEN as usize);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&record_crc(len, payload).to_le_bytes());
    buf.extend_from_slice(payload);
    Ok(buf)
}

pub(super) struct Segment {
    pub base: u64,
    pub path: PathBuf,
    /// Written with `pwrite` by the topic's writer, read with `pread` by consumers.
    pub file: File,
    /// Bytes of the file that hold whole records (the file's length).
    pub size: AtomicU64,
    /// Byte position of each record, by offset minus base. Built while appending, or on the
    /// first read for segments sealed before this process opened the log.
    index: Mutex<Option<Vec<u32>>>,
}

/// How far a scan of a segment's records got.
struct Scan {
    positions: Vec<u32>,
    /// End of the last whole, valid record.
    valid_end: u64,
}

impl Segment {
    /// Creates a new, empty segment file and makes it (and its directory entry) durable.
    pub fn create(dir: &Path, base: u64) -> Result<Segment, QueueError> {
        let path = dir.join(file_name(base));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| QueueError::io(&path, e))?;
        file.write_all_at(&header(base), 0)
            .map_err(|e| QueueError::io(&path, e))?;
        file.sync_data().map_err(|e| QueueError::io(&path, e))?;
        sync_dir(dir)?;
        Ok(Segment {
            base,
            path,
            file,
            size: AtomicU64::new(HEADER_LEN),
            index: Mutex::new(Some(Vec::new())),
        })
    }

    /// Opens an existing segment. The last segment of a topic (`last`) is checked record by
    /// record and a torn tail is truncated away; earlier ones were sealed whole and are
    /// indexed on first read. Returns the segment and the bytes truncated.
    pub fn open(dir: &Path, base: u64, last: bool) -> Result<(Segment, u64), QueueError> {
        let path = dir.join(file_name(base));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| QueueError::io(&path, e))?;
        let len = file.metadata().map_err(|e| QueueError::io(&path, e))?.len();
        let mut seg = Segment {
            base,
            path,
            file,
            size: AtomicU64::new(len),
            index: Mutex::new(None),
        };
        if len < HEADER_LEN {
            if !last {
                return Err(seg.corrupt("shorter than its header"));
            }
            // Crashed while being created: nothing in it was ever acknowledged.
            seg.file
                .set_len(0)
                .map_err(|e| QueueError::io(&seg.path, e))?;
            seg.file
                .write_all_at(&header(base), 0)
                .map_err(|e| QueueError::io(&seg.path, e))?;
            seg.file
                .sync_data()
                .map_err(|e| QueueError::io(&seg.path, e))?;
            seg.size = AtomicU64::new(HEADER_LEN);
            seg.index = Mutex::new(Some(Vec::new()));
            return Ok((seg, len));
        }
        let mut h = [0u8; HEADER_LEN as usize];
        seg.file
            .read_exact_at(&mut h, 0)
            .map_err(|e| QueueError::io(&seg.path, e))?;
        if &h[..4] != MAGIC {
            return Err(seg.corrupt("bad magic"));
        }
        if h[4] != VERSION {
            return Err(seg.corrupt(&format!("unsupported version {}", h[4])));
        }
        if h[8..] != base.to_le_bytes() {
            return Err(seg.corrupt("header base offset differs from the file name"));
        }
        if !last {
            return Ok((seg, 0));
        }
        let scan = seg.scan(len, true)?;
        let torn = len - scan.valid_end;
        if torn > 0 {
            tracing::warn!(
                path = %seg.path.display(),
                bytes = torn,
                entries_kept = scan.positions.len(),
                "queue: truncating a torn tail"
            );
            seg.file
                .set_len(scan.valid_end)
                .map_err(|e| QueueError::io(&seg.path, e))?;
        }
        // What consumers will see must be on stable storage, even if the previous process
        // wrote it and died before its fsync.
        seg.file
            .sync_data()
            .map_err(|e| QueueError::io(&seg.path, e))?;
        seg.size = AtomicU64::new(scan.valid_end);
        seg.index = Mutex::new(Some(scan.positions));
        Ok((seg, torn))
    }

    /// Walks the records from the header on. With `verify`, reads every payload and checks
    /// its CRC; stops at the first record that is incomplete or invalid.
    fn scan(&self, len: u64, verify: bool) -> Result<Scan, QueueError> {
        let mut r = BufReader::with_capacity(256 * 1024, &self.file);
        let mut skip = [0u8; HEADER_LEN as usize];
        r.read_exact(&mut skip)
            .map_err(|e| QueueError::io(&self.path, e))?;
        let mut pos = HEADER_LEN;
        let mut positions = Vec::new();
        let mut payload = Vec::new();
        while pos + RECORD_HEADER_LEN <= len {
            let mut rh = [0u8; RECORD_HEADER_LEN as usize];
            r.read_exact(&mut rh)
                .map_err(|e| QueueError::io(&self.path, e))?;
            let n = u32::from_le_bytes([rh[0], rh[1], rh[2], rh[3]]);
            let crc = u32::from_le_bytes([rh[4], rh[5], rh[6], rh[7]]);
            let end = pos + RECORD_HEADER_LEN + n as u64;
            if end > len || u32::try_from(pos).is_err() {
                break;
            }
            if verify {
                payload.resize(n as usize, 0);
                r.read_exact(&mut payload)
                    .map_err(|e| QueueError::io(&self.path, e))?;
                if record_crc(n, &payload) != crc {
                    break;
                }
            } else {
                r.seek_relative(n as i64)
                    .map_err(|e| QueueError::io(&self.path, e))?;
            }
            positions.push(pos as u32);
            pos = end;
        }
        Ok(Scan {
            positions,
            valid_end: pos,
        })
    }

    fn corrupt(&self, reason: &str) -> QueueError {
        QueueError::Corrupt {
            path: self.path.display().to_string(),
            reason: reason.to_string(),
        }
    }

    /// The index, built now if this segment was sealed before the log was opened.
    fn index(&self) -> Result<MutexGuard<'_, Option<Vec<u32>>>, QueueError> {
        let mut index = lock(&self.index);
        if index.is_none() {
            let len = self.size.load(Ordering::Acquire);
            let scan = self.scan(len, false)?;
            if scan.valid_end != len {
                return Err(self.corrupt(&format!(
                    "sealed segment has {} bytes after its last whole record",
                    len - scan.valid_end
                )));
            }
            *index = Some(scan.positions);
        }
        Ok(index)
    }

    /// Records an appended record's position (the writer calls this).
    pub fn push_index(&self, pos: u64) -> Result<(), QueueError> {
        let pos = u32::try_from(pos).map_err(|_| self.corrupt("segment larger than 4 GiB"))?;
        if let Some(index) = self.index()?.as_mut() {
            index.push(pos);
        }
        Ok(())
    }

    /// Where entry `n` of this segment starts (`end` when `n` is the number of entries):
    /// the length the file is cut to when entries from `n` on are dropped.
    pub fn position(&self, n: u64, end: u64) -> Result<u64, QueueError> {
        let index = self.index()?;
        let positions = index.as_deref().unwrap_or(&[]);
        match usize::try_from(n).ok().and_then(|i| positions.get(i)) {
            Some(&pos) => Ok(pos as u64),
            None if n as usize == positions.len() => Ok(end),
            None => Err(self.corrupt(&format!("entry {} missing", self.base + n))),
        }
    }

    /// Forgets entries from `n` on, whose bytes were cut off the file at `end`.
    pub fn truncate(&self, n: u64, end: u64) -> Result<(), QueueError> {
        if let Some(index) = self.index()?.as_mut() {
            index.truncate(n as usize);
        }
        self.size.store(end, Ordering::Release);
        Ok(())
    }

    /// Reads the entry at `offset`, checking its CRC.
    pub fn read(&self, offset: u64) -> Result<Bytes, QueueError> {
        let pos = {
            let index = self.index()?;
            let i = offset
                .checked_sub(self.base)
                .and_then(|i| usize::try_from(i).ok());
            match (index.as_ref(), i) {
                (Some(index), Some(i)) if i < index.len() => index[i] as u64,
                _ => return Err(self.corrupt(&format!("entry {offset} missing"))),
            }
        };
        let mut rh = [0u8; RECORD_HEADER_LEN as usize];
        self.file
            .read_exact_at(&mut rh, pos)
            .map_err(|e| QueueError::io(&self.path, e))?;
        let n = u32::from_le_bytes([rh[0], rh[1], rh[2], rh[3]]);
        let crc = u32::from_le_bytes([rh[4], rh[5], rh[6], rh[7]]);
        if pos + RECORD_HEADER_LEN + n as u64 > self.size.load(Ordering::Acquire) {
            return Err(self.corrupt(&format!("entry {offset} runs past the end of the file")));
        }
        let mut payload = vec![0u8; n as usize];
        self.file
            .read_exact_at(&mut payload, pos + RECORD_HEADER_LEN)
            .map_err(|e| QueueError::io(&self.path, e))?;
        if record_crc(n, &payload) != crc {
            return Err(self.corrupt(&format!("entry {offset} fails its checksum")));
        }
        Ok(Bytes::from(payload))
    }

    /// Entries in this segment as far as known (the writer's count for the active one).
    pub fn len(&self) -> Result<u64, QueueError> {
        Ok(self.index()?.as_ref().map_or(0, |i| i.len() as u64))
    }
}

/// Makes a directory's entries (created, renamed files) durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), QueueError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| QueueError::io(dir, e))
}

/// Locks a mutex; a panic while it was held leaves plain data, still usable.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
