//! `MemStore`: a [`Storage`] that keeps every sample in memory, for tests and embedders.
//!
//! A **mem store** is a hash map from a series' labels to its samples, kept sorted by
//! time. It has no limits, writes nothing to disk and loses everything when dropped; a
//! program that must keep its data runs on `argus-tsdb`.

use crate::matcher::{Matcher, matches_all};
use crate::model::{Labels, Sample, TimeSeries};
use crate::storage::{Storage, StorageError, StorageStats};
use std::collections::HashMap;
use std::sync::RwLock;

type SeriesMap = HashMap<Labels, Vec<Sample>>;

/// An in-memory [`Storage`]: no limits, no durability (everything is lost on drop).
///
/// Samples of one series read back in time order whatever order they were appended in;
/// a second sample at the same timestamp replaces the first. Series read back sorted by
/// labels, as the trait requires.
#[derive(Default)]
pub struct MemStore {
    series: RwLock<SeriesMap>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `series`, as if they had been appended in one batch.
    pub fn from_series(series: Vec<TimeSeries>) -> Self {
        let mut map = SeriesMap::new();
        merge(&mut map, series);
        Self {
            series: RwLock::new(map),
        }
    }
}

fn poisoned<T>(_: T) -> StorageError {
    StorageError::Other("store lock poisoned".into())
}

/// Adds `batch` to `map`, keeping each series' samples sorted; a duplicate timestamp is
/// last-write-wins.
fn merge(map: &mut SeriesMap, batch: Vec<TimeSeries>) {
    for ts in batch {
        let v = map.entry(ts.labels).or_default();
        for s in ts.samples {
            match v.last() {
                Some(last) if last.ts < s.ts => v.push(s),
                None => v.push(s),
                _ => match v.binary_search_by(|x| x.ts.cmp(&s.ts)) {
                    Ok(i) => v[i] = s,
                    Err(i) => v.insert(i, s),
                },
            }
        }
    }
}

impl Storage for MemStore {
    fn append(&self, batch: Vec<TimeSeries>) -> Result<(), StorageError> {
        merge(&mut *self.series.write().map_err(poisoned)?, batch);
        Ok(())
    }

    fn select(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<TimeSeries>, StorageError> {
        let map = self.series.read().map_err(poisoned)?;
        let mut out: Vec<TimeSeries> = map
            .iter()
            .filter(|(l, _)| matches_all(matchers, l))
            .filter_map(|(l, v)| {
                let lo = v.partition_point(|s| s.ts < start_ms);
                let hi = v.partition_point(|s| s.ts <= end_ms);
                (lo < hi).then(|| TimeSeries {
                    labels: l.clone(),
                    samples: v[lo..hi].to_vec(),
                })
            })
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    fn stats(&self) -> StorageStats {
        let Ok(map) = self.series.read() else {
            return StorageStats::default();
        };
        StorageStats {
            series: map.len() as u64,
            samples: map.values().map(|v| v.len() as u64).sum(),
            bytes: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(name: &str, host: &str, samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: Labels::with_name(name, [("host", host)]),
            samples: samples
                .iter()
                .map(|&(ts, value)| Sample { ts, value })
                .collect(),
        }
    }

    #[test]
    fn out_of_order_and_duplicates_read_back_sorted_last_write_wins() {
        let s = MemStore::new();
        s.append(vec![ts("m", "a", &[(10, 1.0), (30, 3.0)])]).ok();
        s.append(vec![ts("m", "a", &[(20, 2.0), (30, 4.0)])]).ok();
        let got = s
            .select(&[Matcher::equal("__name__", "m")], 0, 100)
            .unwrap_or_default();
        assert_eq!(got, vec![ts("m", "a", &[(10, 1.0), (20, 2.0), (30, 4.0)])]);
        assert_eq!(s.stats().samples, 3);
    }

    #[test]
    fn select_filters_by_matchers_and_range() {
        let s = MemStore::new();
        s.append(vec![
            ts("m", "a", &[(10, 1.0), (20, 2.0)]),
            ts("m", "b", &[(10, 5.0)]),
        ])
        .ok();
        let got = s
            .select(&[Matcher::equal("host", "a")], 15, 100)
            .unwrap_or_default();
        assert_eq!(got, vec![ts("m", "a", &[(20, 2.0)])]);
        let none = s
            .select(&[Matcher::equal("host", "b")], 15, 100)
            .unwrap_or_default();
        assert!(none.is_empty());
    }

    #[test]
    fn from_series_reads_back_sorted_by_labels_like_appended_series() {
        let batch = vec![
            ts("m", "b", &[(20, 2.0), (10, 1.0)]),
            ts("m", "a", &[(10, 5.0)]),
        ];
        let built = MemStore::from_series(batch.clone());
        let appended = MemStore::new();
        appended.append(batch).ok();
        let all = [Matcher::equal("__name__", "m")];
        let got = built.select(&all, 0, 100).unwrap_or_default();
        assert_eq!(
            got,
            vec![
                ts("m", "a", &[(10, 5.0)]),
                ts("m", "b", &[(10, 1.0), (20, 2.0)])
            ]
        );
        assert_eq!(appended.select(&all, 0, 100).unwrap_or_default(), got);
        assert_eq!(
            built.series(&all, 15, 100).unwrap_or_default(),
            vec![Labels::with_name("m", [("host", "b")])]
        );
        assert_eq!(built.stats(), appended.stats());
    }
}
