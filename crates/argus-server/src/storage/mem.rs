//! `MemStore`: a throwaway in-memory store for unit tests of the query layer.
//!
//! It keeps every sample in a hash map of vectors, loses everything when dropped and has
//! no limits. The server itself runs on `argus-tsdb`.

use argus_core::matcher::matches_all;
use argus_core::{Labels, Matcher, Sample, Storage, StorageError, StorageStats, TimeSeries};
use std::collections::HashMap;
use std::sync::RwLock;

#[derive(Default)]
pub struct MemStore {
    series: RwLock<HashMap<Labels, Vec<Sample>>>,
}

impl MemStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Storage for MemStore {
    fn append(&self, batch: Vec<TimeSeries>) -> Result<(), StorageError> {
        let mut map = self
            .series
            .write()
            .map_err(|_| StorageError::Other("store lock poisoned".into()))?;
        for ts in batch {
            let v = map.entry(ts.labels).or_default();
            for s in ts.samples {
                // Keep samples sorted; a duplicate timestamp is last-write-wins.
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
        Ok(())
    }

    fn select(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<TimeSeries>, StorageError> {
        let map = self
            .series
            .read()
            .map_err(|_| StorageError::Other("store lock poisoned".into()))?;
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
}
