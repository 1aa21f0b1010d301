//! The event store: typed JSON documents (alarms, matched log lines, script output), found
//! by type, host and time.
//!
//! The store is a directory of JSON-lines files, one per UTC day
//! (`<data_dir>/events/YYYY-MM-DD.jsonl`); a write is fsynced before it is acknowledged. A
//! query reads only the days its range covers. Ingest queues events by type; the
//! pipeline's consumers append them here.

use argus_core::Event;
use serde::Deserialize;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub const DAY_MS: i64 = 86_400_000;

/// The event files and the lock that serializes appends.
pub struct EventStore {
    dir: PathBuf,
    write: Mutex<()>,
}

/// The civil date of a day number since the epoch (Howard Hinnant's algorithm): the file
/// names need only this, not a date library.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

impl EventStore {
    pub fn open(dir: &Path) -> std::io::Result<EventStore> {
        std::fs::create_dir_all(dir)?;
        Ok(EventStore {
            dir: dir.to_path_buf(),
            write: Mutex::new(()),
        })
    }

    fn day_file(&self, day: i64) -> PathBuf {
        let (y, m, d) = civil(day);
        self.dir.join(format!("{y:04}-{m:02}-{d:02}.jsonl"))
    }

    /// Appends events durably.
    pub fn append(&self, events: &[Event]) -> std::io::Result<()> {
        let _g = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let mut by_day: std::collections::BTreeMap<i64, String> = Default::default();
        for e in events {
            let line = serde_json::to_string(e).map_err(std::io::Error::other)?;
            let s = by_day.entry(e.ts.div_euclid(DAY_MS)).or_default();
            s.push_str(&line);
            s.push('\n');
        }
        for (day, text) in by_day {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.day_file(day))?;
            f.write_all(text.as_bytes())?;
            f.sync_data()?;
        }
        Ok(())
    }

    /// Events in `[start, end]` matching the filters, oldest first, at most `limit`.
    pub fn find(
        &self,
        q: &EventQuery,
        start: i64,
        end: i64,
        limit: usize,
    ) -> std::io::Result<Vec<Event>> {
        let mut out = Vec::new();
        let (first, last) = (start.div_euclid(DAY_MS), end.div_euclid(DAY_MS));
        // Bound the scan to the days that have files.
        let mut days: Vec<i64> = Vec::new();
        for d in first..=last.min(first + 3660) {
            if self.day_file(d).exists() {
                days.push(d);
            }
        }
        for d in days {
            let f = std::fs::File::open(self.day_file(d))?;
            for line in std::io::BufReader::new(f).lines() {
                let line = line?;
                let Ok(e) = serde_json::from_str::<Event>(&line) else {
                    continue;
                };
                if e.ts < start || e.ts > end {
                    continue;
                }
                if q.r#type.as_deref().is_some_and(|t| t != e.kind)
                    || q.host.as_deref().is_some_and(|h| h != e.host)
                {
                    continue;
                }
                out.push(e);
            }
        }
        out.sort_by_key(|e| e.ts);
        if out.len() > limit {
            out.drain(..out.len() - limit);
        }
        Ok(out)
    }
}

/// What `GET /api/argus/events` filters by.
#[derive(Debug, Default, Deserialize)]
pub struct EventQuery {
    pub r#type: Option<String>,
    pub host: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub limit: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_files_are_named_by_utc_date() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_683), (2023, 11, 22));
        assert_eq!(civil(-1), (1969, 12, 31));
    }

    #[test]
    fn stored_events_are_found_by_type_host_and_time() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = EventStore::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let evs = crate::ingest::events::parse_events(
            "{\"type\":\"alarm\",\"host\":\"a\",\"ts\":1700000001000}\n{\"type\":\"log\",\"host\":\"a\",\"ts\":1700000002000}\n{\"type\":\"alarm\",\"host\":\"b\",\"ts\":1700086401000}",
            0,
        )
        .unwrap_or_default();
        s.append(&evs).unwrap_or_else(|e| panic!("{e}"));
        let q = EventQuery {
            r#type: Some("alarm".into()),
            ..Default::default()
        };
        let base = 1_700_000_000_000;
        let got = s.find(&q, base, base + 2 * DAY_MS, 10).unwrap_or_default();
        assert_eq!(
            got.iter().map(|e| e.host.as_str()).collect::<Vec<_>>(),
            vec!["a", "b"]
        );
        let q = EventQuery {
            host: Some("a".into()),
            ..Default::default()
        };
        assert_eq!(
            s.find(&q, base + 1500, base + 3000, 10)
                .unwrap_or_default()
                .len(),
            1
        );
    }
}
