//! [`Db`] as an [`argus_core::Storage`].

use crate::db::Db;
use argus_core::{Matcher, ReadLimits, Storage, StorageError, StorageStats, TimeSeries};

impl Storage for Db {
    fn append(&self, series: Vec<TimeSeries>) -> Result<(), StorageError> {
        Db::append(self, &series).map_err(Into::into)
    }

    fn select(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<TimeSeries>, StorageError> {
        Db::select(self, matchers, start_ms, end_ms).map_err(Into::into)
    }

    fn select_step(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Vec<TimeSeries>, StorageError> {
        Db::select_step(self, matchers, start_ms, end_ms, step_ms).map_err(Into::into)
    }

    fn select_limited(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        limits: ReadLimits,
    ) -> Result<Vec<TimeSeries>, StorageError> {
        Db::select_limited(self, matchers, start_ms, end_ms, limits).map_err(Into::into)
    }

    fn select_map(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        limits: ReadLimits,
        f: &argus_core::SeriesMap<'_>,
    ) -> Result<Vec<(argus_core::Labels, argus_core::Points)>, StorageError> {
        Db::select_map(self, matchers, start_ms, end_ms, step_ms, limits, f).map_err(Into::into)
    }

    fn series(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<argus_core::Labels>, StorageError> {
        Db::series_matching(self, matchers, start_ms, end_ms).map_err(Into::into)
    }

    fn stats(&self) -> StorageStats {
        let s = Db::stats(self);
        StorageStats {
            series: s
                .head_series
                .max(s.blocks.iter().map(|b| b.series).max().unwrap_or(0)),
            samples: s.head_samples + s.block_samples,
            bytes: s.wal_bytes + s.block_bytes,
        }
    }
}
