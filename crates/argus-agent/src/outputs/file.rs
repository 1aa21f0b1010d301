//! `type = "file"`: each round's points as line protocol (millisecond timestamps) appended
//! to a file, with its events in the same file as comment lines, rotated by size.
//!
//! **Events** go in the same file, one per line, as `# event ` followed by the event's
//! JSON. A line starting with `#` is a comment in line protocol, so the file stays valid
//! line protocol that Influx, Telegraf or `argus` read as it is (skipping the events),
//! points and events stay in the order they happened, and one rotation covers both.
//! `grep '^# event ' FILE | cut -c9-` gives the events as JSON lines.
//!
//! **Rotation**: before a write that would take the file past `max_bytes`, `path` becomes
//! `path.1`, `path.1` becomes `path.2` and so on; the file past `max_files` is deleted.
//! A batch is never split, so a file exceeds `max_bytes` only when one batch does.
//!
//! Before each write the output checks that `path` is still the file it has open (same
//! device and inode), and reopens it if not: a file moved away by `logrotate` or deleted
//! by hand is recreated instead of written to unseen. A write that fails closes the file,
//! and the next write opens it again.

use super::{encode_events, encode_points};
use crate::output::{Batch, Output};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// `[[agent.outputs]]` with `type = "file"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The file to append to; its directory is created if missing.
    pub path: PathBuf,
    /// Write the events too, as `# event {json}` lines.
    #[serde(default = "default_true")]
    pub events: bool,
    /// Rotate before the file would grow past this many bytes; 0: never rotate.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// Rotated files kept (`path.1` … `path.N`); 0: rotation truncates.
    #[serde(default = "default_max_files")]
    pub max_files: u32,
    /// Flush each batch to disk (`fdatasync`) before returning.
    #[serde(default)]
    pub fsync: bool,
}

/// The prefix of an event line.
pub const EVENT_PREFIX: &str = "# event ";

fn default_true() -> bool {
    true
}
fn default_max_bytes() -> u64 {
    64 * 1024 * 1024
}
fn default_max_files() -> u32 {
    5
}

impl Default for Config {
    fn default() -> Self {
        Config {
            path: PathBuf::from("/var/lib/argus/agent/metrics.lp"),
            events: true,
            max_bytes: default_max_bytes(),
            max_files: default_max_files(),
            fsync: false,
        }
    }
}

/// The built output.
pub struct File {
    config: Config,
    /// The open file and its size, or `None` after an error.
    file: Option<(std::fs::File, u64)>,
    buf: String,
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// Treats a missing file as done: someone else may have moved or removed it.
fn ignore_missing(r: std::io::Result<()>) -> std::io::Result<()> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Whether `path` still names the open `file`.
fn is_same_file(file: &std::fs::File, path: &Path) -> bool {
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

impl File {
    /// Opens (or creates) the file now, so that a bad path fails at start.
    pub fn build(config: &Config) -> anyhow::Result<Self> {
        if config.path.as_os_str().is_empty() {
            anyhow::bail!("`path` must be set");
        }
        let mut out = File {
            config: config.clone(),
            file: None,
            buf: String::new(),
        };
        out.open()?;
        Ok(out)
    }

    fn open(&mut self) -> anyhow::Result<()> {
        let path = &self.config.path;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
        let size = file.metadata()?.len();
        self.file = Some((file, size));
        Ok(())
    }

    fn rotate(&mut self) -> anyhow::Result<()> {
        self.file = None;
        let path = &self.config.path;
        let n = self.config.max_files;
        if n == 0 {
            ignore_missing(std::fs::remove_file(path))?;
        } else {
            ignore_missing(std::fs::remove_file(rotated(path, n)))?;
            for i in (1..n).rev() {
                ignore_missing(std::fs::rename(rotated(path, i), rotated(path, i + 1)))?;
            }
            ignore_missing(std::fs::rename(path, rotated(path, 1)))?;
        }
        self.open()
    }

    fn append(&mut self) -> anyhow::Result<()> {
        if let Some((file, _)) = &self.file
            && !is_same_file(file, &self.config.path)
        {
            self.file = None;
        }
        if self.file.is_none() {
            self.open()?;
        }
        let len = self.buf.len() as u64;
        let max = self.config.max_bytes;
        if let Some((_, size)) = &self.file
            && max > 0
            && *size > 0
            && size.saturating_add(len) > max
        {
            self.rotate()?;
        }
        let Some((file, size)) = &mut self.file else {
            anyhow::bail!("{} is not open", self.config.path.display());
        };
        file.write_all(self.buf.as_bytes())?;
        *size += len;
        if self.config.fsync {
            file.sync_data()?;
        }
        Ok(())
    }
}

impl Output for File {
    fn name(&self) -> &str {
        "file"
    }

    fn write(&mut self, batch: &Batch<'_>) -> anyhow::Result<()> {
        self.buf.clear();
        encode_points(batch.points, &mut self.buf);
        if self.config.events {
            encode_events(batch.events, EVENT_PREFIX, &mut self.buf)?;
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        self.append().map_err(|e| {
            // Start afresh next time: the file may have been moved or its disk replaced.
            self.file = None;
            anyhow::anyhow!("{}: {e:#}", self.config.path.display())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processors::testutil::points;
    use argus_core::Event;
    use argus_core::line_protocol::parse;

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn point(i: usize) -> String {
        // 19 bytes a line.
        format!("m value={}i 1000\n", 1000 + i)
    }

    /// Writes the points of `text` as one batch without events.
    fn write_points(out: &mut File, text: &str) {
        let pts = points(text);
        out.write(&Batch {
            points: &pts,
            events: &[],
        })
        .expect("write");
    }

    #[test]
    fn appends_points_and_events_as_comment_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/dir/out.lp");
        let config = Config {
            path: path.clone(),
            ..Config::default()
        };
        let mut out = File::build(&config).expect("build");
        assert_eq!(read(&path), "");
        let mut payload = serde_json::Map::new();
        payload.insert("code".into(), "DISK_FULL".into());
        let events = [Event {
            kind: "alarm".into(),
            host: "web1".into(),
            ts: 7,
            payload,
        }];
        let pts = points("cpu,host=web1 usage_idle=97.5 1000\n");
        out.write(&Batch {
            points: &pts,
            events: &events,
        })
        .expect("write");
        write_points(&mut out, "mem used=1u 2000\n");
        let text = read(&path);
        assert_eq!(
            text,
            "cpu,host=web1 usage_idle=97.5 1000\n\
             # event {\"type\":\"alarm\",\"host\":\"web1\",\"ts\":7,\"code\":\"DISK_FULL\"}\n\
             mem used=1u 2000\n"
        );
        // The file is still line protocol: the event line reads as a comment.
        let lines: Vec<_> = parse(&text).map(|l| l.expect("valid")).collect();
        assert_eq!(lines.len(), 2);
        // A new output appends to what is there.
        drop(out);
        let mut out = File::build(&Config {
            events: false,
            ..config
        })
        .expect("reopen");
        let pts = points("mem used=1u 2000\n");
        out.write(&Batch {
            points: &pts,
            events: &events,
        })
        .expect("write");
        assert_eq!(read(&path), format!("{text}mem used=1u 2000\n"));
    }

    #[test]
    fn rotates_by_size_keeping_max_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.lp");
        let mut out = File::build(&Config {
            path: path.clone(),
            max_bytes: 50,
            max_files: 2,
            fsync: true,
            ..Config::default()
        })
        .expect("build");
        // Batches of two lines (40 bytes): each takes a file of its own.
        for b in 0..4 {
            let text = point(2 * b) + &point(2 * b + 1);
            write_points(&mut out, &text);
        }
        assert_eq!(read(&path), point(6) + &point(7));
        assert_eq!(read(&rotated(&path, 1)), point(4) + &point(5));
        assert_eq!(read(&rotated(&path, 2)), point(2) + &point(3));
        assert!(!rotated(&path, 3).exists());
        // Single lines fill a file up to the limit: 19 + 19 ≤ 50, a third would pass it.
        for i in 8..11 {
            write_points(&mut out, &point(i));
        }
        assert_eq!(read(&path), point(10));
        assert_eq!(read(&rotated(&path, 1)), point(8) + &point(9));
        assert_eq!(read(&rotated(&path, 2)), point(6) + &point(7));
        // A batch larger than max_bytes is written whole, to a file of its own.
        let big: String = (11..15).map(point).collect();
        write_points(&mut out, &big);
        assert_eq!(read(&path), big);
        assert_eq!(read(&rotated(&path, 1)), point(10));
    }

    #[test]
    fn max_files_zero_truncates_and_a_moved_or_deleted_file_is_recreated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.lp");
        let mut out = File::build(&Config {
            path: path.clone(),
            max_bytes: 30,
            max_files: 0,
            ..Config::default()
        })
        .expect("build");
        for i in 0..2 {
            write_points(&mut out, &point(i));
        }
        assert_eq!(read(&path), point(1));
        assert!(!rotated(&path, 1).exists());
        // Someone removes the file: the next write recreates it.
        std::fs::remove_file(&path).expect("remove");
        let pts = points(&point(2));
        let batch = Batch {
            points: &pts,
            events: &[],
        };
        out.write(&batch).expect("reopened");
        assert_eq!(read(&path), point(2));
        // logrotate moves it away: the output follows the name, not the old file.
        std::fs::rename(&path, dir.path().join("moved")).expect("move");
        out.write(&batch).expect("reopened");
        assert_eq!(read(&path), point(2));
        assert_eq!(read(&dir.path().join("moved")), point(2));
    }

    #[test]
    fn a_path_that_cannot_be_opened_fails_the_build() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = File::build(&Config {
            path: dir.path().to_path_buf(),
            ..Config::default()
        })
        .err()
        .expect("a directory")
        .to_string();
        assert!(err.starts_with("cannot open "), "{err}");
    }
}
