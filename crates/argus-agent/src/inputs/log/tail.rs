//! Following one file: reading the complete lines appended since the last read.
//!
//! A **tail** is an open file, known by its [`FileId`] (device and inode) rather than by
//! its path, and the byte offset read so far. Reading goes forward in fixed-size chunks,
//! so a file is never loaded whole, and stops after a byte budget so a large backlog is
//! spread over several runs. The bytes after the last newline are the **pending** line:
//! it is kept (at most `max_line_bytes` of it) until its newline arrives, or is taken as a
//! line anyway once it has waited [`PENDING_MAX_AGE`] runs or the file goes away.
//!
//! Because the handle stays open, a file renamed or deleted by log rotation can still be
//! read to its end: the caller keeps such a tail until a read finds nothing new.

use std::fs::{File, Metadata};
use std::io::{self, Read as _, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Runs a pending line waits for its newline before it is taken as it is.
pub(super) const PENDING_MAX_AGE: u32 = 2;

/// What identifies a file across renames: its device and inode numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    pub fn of(meta: &Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// What one [`Tail::read`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct ReadOutcome {
    pub bytes: u64,
    /// Whether it stopped at the end of the file (rather than at the budget).
    pub eof: bool,
}

/// One followed file; see the module docs.
#[derive(Debug)]
pub(super) struct Tail {
    pub id: FileId,
    /// Where the file was last found; the `file` tag of what is read from it.
    pub path: String,
    /// Whether the globs no longer lead to the file (rotated away or deleted).
    pub gone: bool,
    file: File,
    /// Bytes read so far.
    offset: u64,
    pending: Vec<u8>,
    /// The file offset where the pending line starts.
    pending_start: u64,
    /// Whether the pending line outgrew `max_line_bytes`, so the rest of it is skipped.
    pending_cut: bool,
    /// Runs the pending line has waited at the end of the file.
    pending_age: u32,
}

impl Tail {
    /// Opens `path` and positions it at `offset`, or at the file's end when `offset` is
    /// `None`. An offset past the end (the file shrank) starts at 0. The tail's `id` is
    /// that of the file actually opened, for the caller to compare with what it expected
    /// (the path may have been replaced in between).
    pub fn open(path: &Path, label: String, offset: Option<u64>) -> io::Result<Tail> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        let size = meta.len();
        let offset = match offset {
            Some(o) if o <= size => o,
            Some(_) => 0,
            None => size,
        };
        file.seek(SeekFrom::Start(offset))?;
        Ok(Tail {
            id: FileId::of(&meta),
            path: label,
            gone: false,
            file,
            offset,
            pending: Vec::new(),
            pending_start: offset,
            pending_cut: false,
            pending_age: 0,
        })
    }

    /// The offset to resume from after a restart: the start of the pending line, which is
    /// read again, or everything read.
    pub fn saved_offset(&self) -> u64 {
        if self.pending.is_empty() {
            self.offset
        } else {
            self.pending_start
        }
    }

    /// Starts over from 0 if the file is now shorter than what was read (truncated in
    /// place, as `copytruncate` does), taking the pending line first. Returns whether it
    /// did.
    pub fn restart_if_truncated(&mut self, on_line: &mut dyn FnMut(&[u8])) -> io::Result<bool> {
        let size = self.file.metadata()?.len();
        if size >= self.offset {
            return Ok(false);
        }
        self.flush(on_line);
        self.file.seek(SeekFrom::Start(0))?;
        self.offset = 0;
        self.pending_start = 0;
        Ok(true)
    }

    /// Reads up to `budget` bytes in chunks of `buf.len()`, handing each complete line
    /// (without its `\n` or `\r\n`, cut to `max_line` bytes) to `on_line`.
    pub fn read(
        &mut self,
        buf: &mut [u8],
        budget: u64,
        max_line: usize,
        on_line: &mut dyn FnMut(&[u8]),
    ) -> io::Result<ReadOutcome> {
        let mut total = 0u64;
        while total < budget {
            let want = buf
                .len()
                .min(usize::try_from(budget - total).unwrap_or(usize::MAX));
            let n = match self.file.read(&mut buf[..want]) {
                Ok(0) => {
                    return Ok(ReadOutcome {
                        bytes: total,
                        eof: true,
                    });
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let base = self.offset;
            self.offset += n as u64;
            total += n as u64;
            let mut rest = &buf[..n];
            while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
                self.complete(&rest[..nl], max_line, on_line);
                rest = &rest[nl + 1..];
            }
            if !rest.is_empty() {
                if self.pending.is_empty() {
                    self.pending_start = base + (n - rest.len()) as u64;
                }
                self.push_pending(rest, max_line);
            }
        }
        Ok(ReadOutcome {
            bytes: total,
            eof: false,
        })
    }

    /// Counts a run in which the pending line waited at the end of the file, and takes it
    /// once it has waited long enough.
    pub fn age_pending(&mut self, on_line: &mut dyn FnMut(&[u8])) {
        if self.pending.is_empty() {
            return;
        }
        if self.pending_age >= PENDING_MAX_AGE {
            self.flush(on_line);
        } else {
            self.pending_age += 1;
        }
    }

    /// Takes the pending line as it is (the file went away or was truncated).
    pub fn flush(&mut self, on_line: &mut dyn FnMut(&[u8])) {
        if !self.pending.is_empty() {
            on_line(trim_cr(&self.pending, self.pending_cut));
        }
        self.clear_pending();
    }

    /// Handles the bytes before a newline: a whole line, or the end of the pending one.
    fn complete(&mut self, part: &[u8], max_line: usize, on_line: &mut dyn FnMut(&[u8])) {
        if self.pending.is_empty() {
            let cut = part.len() > max_line;
            on_line(trim_cr(&part[..part.len().min(max_line)], cut));
        } else {
            self.push_pending(part, max_line);
            on_line(trim_cr(&self.pending, self.pending_cut));
            self.clear_pending();
        }
    }

    fn push_pending(&mut self, part: &[u8], max_line: usize) {
        let room = max_line.saturating_sub(self.pending.len());
        if part.len() > room {
            self.pending_cut = true;
        }
        self.pending
            .extend_from_slice(&part[..part.len().min(room)]);
    }

    fn clear_pending(&mut self) {
        self.pending.clear();
        self.pending_cut = false;
        self.pending_age = 0;
        self.pending_start = self.offset;
    }
}

/// Drops the `\r` of a `\r\n` line end, unless the line was cut (its end is gone).
fn trim_cr(line: &[u8], cut: bool) -> &[u8] {
    match line {
        [rest @ .., b'\r'] if !cut => rest,
        _ => line,
    }
}
