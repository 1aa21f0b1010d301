//! Reading procfs text files into a reused buffer, and the errors that name the file.
//!
//! A **proc file** is one kernel-generated text file (`/proc/stat`, `/proc/meminfo`, …) that
//! an input re-reads every gather. The inputs parse these small files by hand instead of
//! through the `procfs` crate: `procfs` builds fresh `String`s and `HashMap`s on every read
//! and its `current()` constructors are tied to `/proc`, while here each input keeps one
//! buffer for its whole life and reads from any root, which is what lets the tests run on
//! fixture folders.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Why a round of an input failed.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("reading {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}:{line}: {reason}", path.display())]
    Parse {
        path: PathBuf,
        /// 1-based; 0 when the problem is not on one line (a missing key).
        line: usize,
        reason: String,
    },
}

/// A parse failure inside a file's text, before the file's path is attached.
#[derive(Debug, PartialEq)]
pub struct ParseError {
    pub line: usize,
    pub reason: String,
}

impl ParseError {
    pub fn new(line: usize, reason: impl Into<String>) -> Self {
        ParseError {
            line,
            reason: reason.into(),
        }
    }
}

/// One proc file and the buffer it is read into.
#[derive(Debug)]
pub struct ProcFile {
    path: PathBuf,
    buf: String,
}

impl ProcFile {
    /// `root/relative`, e.g. `ProcFile::new("/proc", "stat")`.
    pub fn new(root: &Path, relative: &str) -> Self {
        ProcFile {
            path: root.join(relative),
            buf: String::new(),
        }
    }

    /// Reads the whole file again, reusing the buffer's allocation; see [`Self::text`].
    pub fn read(&mut self) -> Result<(), ProcError> {
        read_into(&self.path, &mut self.buf).map_err(|source| ProcError::Read {
            path: self.path.clone(),
            source,
        })
    }

    /// The text of the last [`Self::read`].
    pub fn text(&self) -> &str {
        &self.buf
    }

    /// Reads the file again and parses its text with `parse`, attaching the file's path to
    /// a parse error: the whole of most inputs' gather.
    pub fn parse<T>(
        &mut self,
        parse: impl FnOnce(&str) -> Result<T, ParseError>,
    ) -> Result<T, ProcError> {
        self.read()?;
        parse(&self.buf).map_err(|e| self.error(e))
    }

    /// Attaches this file's path to a parse error.
    pub fn error(&self, err: ParseError) -> ProcError {
        ProcError::Parse {
            path: self.path.clone(),
            line: err.line,
            reason: err.reason,
        }
    }
}

/// Reads `path` into `buf` (cleared first), keeping its allocation. Proc files report a
/// size of 0 and are generated on each read, so this reads to EOF in chunks instead of
/// asking for the size first as `std::fs::read_to_string` does (two syscalls saved per
/// file, which adds up when `processes` reads one file per process).
pub fn read_into(path: &Path, buf: &mut String) -> io::Result<()> {
    const CHUNK: usize = 4096;
    let mut bytes = std::mem::take(buf).into_bytes();
    bytes.clear();
    let mut file = std::fs::File::open(path)?;
    loop {
        let len = bytes.len();
        bytes.resize(len + CHUNK, 0);
        match file.read(&mut bytes[len..]) {
            Ok(n) => {
                bytes.truncate(len + n);
                if n == 0 {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => bytes.truncate(len),
            Err(e) => return Err(e),
        }
    }
    // Proc files are ASCII except for names users choose (a mount point, say); a name
    // that is not UTF-8 is better reported with U+FFFD in it than failing the round.
    *buf = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    Ok(())
}

/// Parses one whitespace-separated number, naming the column on failure.
pub fn parse_u64(text: &str, line: usize, what: &str) -> Result<u64, ParseError> {
    text.parse()
        .map_err(|_| ParseError::new(line, format!("{what}: expected a number, found {text:?}")))
}

/// The next column of `fields` as a number, naming the column when it is missing or bad.
pub fn column_u64<'a>(
    fields: &mut impl Iterator<Item = &'a str>,
    line: usize,
    what: &str,
) -> Result<u64, ParseError> {
    match fields.next() {
        Some(text) => parse_u64(text, line, what),
        None => Err(ParseError::new(line, format!("{what}: missing column"))),
    }
}

/// The first `N` whitespace-separated columns of a table row, `line` being its number:
/// `None` for a blank row (skipped, as the kernel's tables end in one), and an error saying
/// what the columns are (`expected`) for a row with fewer.
pub fn leading_columns<'a, const N: usize>(
    row: &'a str,
    line: usize,
    expected: &str,
) -> Result<Option<[&'a str; N]>, ParseError> {
    let mut cols = row.split_whitespace();
    let mut found = [""; N];
    for (i, slot) in found.iter_mut().enumerate() {
        match cols.next() {
            Some(col) => *slot = col,
            None if i == 0 => return Ok(None),
            None => return Err(ParseError::new(line, expected)),
        }
    }
    Ok(Some(found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_columns_skip_blank_rows_and_refuse_short_ones() {
        assert_eq!(
            leading_columns(" a  b c d", 1, "x"),
            Ok(Some(["a", "b", "c"]))
        );
        assert_eq!(leading_columns::<2>(" \t", 2, "x"), Ok(None));
        assert_eq!(
            leading_columns::<3>("a b", 3, "expected a, b, c"),
            Err(ParseError::new(3, "expected a, b, c"))
        );
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let file = ProcFile::new(Path::new("/proc"), "stat");
        let err = file.error(ParseError::new(3, "cpu0: bad"));
        assert_eq!(err.to_string(), "/proc/stat:3: cpu0: bad");
    }

    #[test]
    fn a_missing_file_is_a_read_error_naming_it() {
        let mut file = ProcFile::new(Path::new("/nonexistent-argus-root"), "stat");
        let err = file.read().expect_err("missing");
        assert!(
            err.to_string()
                .starts_with("reading /nonexistent-argus-root/stat: "),
            "{err}"
        );
    }

    #[test]
    fn files_larger_than_a_chunk_and_invalid_utf8_are_read_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big");
        let mut content = "x".repeat(10_000).into_bytes();
        content.extend(b"\n\xffend");
        std::fs::write(&path, &content).expect("write");
        let mut buf = String::from("stale");
        read_into(&path, &mut buf).expect("read");
        assert_eq!(buf.len(), 10_000 + 1 + 3 + 3);
        assert!(buf.ends_with("\n\u{fffd}end"), "{:?}", &buf[9_990..]);
    }

    #[test]
    fn numbers_and_their_errors() {
        assert_eq!(parse_u64("42", 1, "x"), Ok(42));
        assert_eq!(
            parse_u64("4x", 7, "reads"),
            Err(ParseError::new(7, "reads: expected a number, found \"4x\""))
        );
        let mut cols = "1 2".split_whitespace();
        assert_eq!(column_u64(&mut cols, 1, "a"), Ok(1));
        assert_eq!(column_u64(&mut cols, 1, "b"), Ok(2));
        assert_eq!(
            column_u64(&mut cols, 1, "c"),
            Err(ParseError::new(1, "c: missing column"))
        );
    }
}
