//! The storage trait the server writes through and queries from.
//!
//! Implementations: [`mem::MemStore`], in memory, for tests and embedders, and
//! `argus-tsdb`, the real engine. The trait is synchronous: an engine that fsyncs blocks,
//! so async callers run it on a blocking thread.

pub mod mem;

use crate::matcher::Matcher;
use crate::model::{Labels, Sample, TimeSeries};

/// A series' value at each step of an evaluation grid, `None` where it has none.
pub type Points = Vec<Option<f64>>;

/// What [`Storage::select_map`] makes of one series' samples (in time order, never
/// empty): its points, or `None` to leave the series out.
pub type SeriesMap<'a> = dyn Fn(&[Sample]) -> Option<Points> + Sync + 'a;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The data itself is not acceptable (for example, too old); the message says why.
    #[error("{0}")]
    Rejected(String),
    /// A limit was hit; the message names it.
    #[error("{0}")]
    Limit(String),
    /// A read went over its [`ReadLimits`]; nothing more was read.
    #[error("the read selects more than {limit} {what}")]
    OverRead { what: ReadLimit, limit: usize },
    #[error("storage I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

/// Which of [`ReadLimits`] a read went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadLimit {
    Series,
    Samples,
}

impl std::fmt::Display for ReadLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReadLimit::Series => "series",
            ReadLimit::Samples => "samples",
        })
    }
}

/// The most one read may select: series, and samples loaded. A store that reads series
/// one by one stops as soon as a read is over them, so a query over its limits fails
/// before it fills memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    pub series: usize,
    pub samples: usize,
}

impl ReadLimits {
    pub const NONE: ReadLimits = ReadLimits {
        series: usize::MAX,
        samples: usize::MAX,
    };

    /// Fails when `series` or `samples` is over the limits.
    pub fn check(&self, series: usize, samples: usize) -> Result<(), StorageError> {
        if series > self.series {
            return Err(StorageError::OverRead {
                what: ReadLimit::Series,
                limit: self.series,
            });
        }
        if samples > self.samples {
            return Err(StorageError::OverRead {
                what: ReadLimit::Samples,
                limit: self.samples,
            });
        }
        Ok(())
    }
}

/// Figures a store reports about itself.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct StorageStats {
    pub series: u64,
    pub samples: u64,
    pub bytes: u64,
}

pub trait Storage: Send + Sync {
    /// Stores the samples. When this returns `Ok`, the samples are as durable as the
    /// implementation promises (`MemStore`: not at all; argus-tsdb: fsynced).
    fn append(&self, series: Vec<TimeSeries>) -> Result<(), StorageError>;

    /// Every series matching all `matchers` with its samples in `[start_ms, end_ms]`,
    /// sorted by labels. Series with no sample in the range are left out.
    fn select(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<TimeSeries>, StorageError>;

    /// [`select`](Self::select) for a caller that will step through the range every
    /// `step_ms`; a store may then answer from coarser downsampled data where it has no raw
    /// samples left.
    fn select_step(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Vec<TimeSeries>, StorageError> {
        let _ = step_ms;
        self.select(matchers, start_ms, end_ms)
    }

    /// [`select`](Self::select) within `limits`: over them, [`StorageError::OverRead`].
    /// A store that reads series one by one stops there; this default reads everything
    /// first, then checks.
    fn select_limited(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        limits: ReadLimits,
    ) -> Result<Vec<TimeSeries>, StorageError> {
        let data = self.select(matchers, start_ms, end_ms)?;
        limits.check(data.len(), data.iter().map(|s| s.samples.len()).sum())?;
        Ok(data)
    }

    /// [`select_step`](Self::select_step) within `limits`, handing each series' samples to
    /// `f` and keeping only what it returns. A store that reads series one by one calls `f`
    /// as each is read, on the reading thread, while its samples are in cache, and never
    /// holds the samples of all series at once; this default reads them all first.
    fn select_map(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        limits: ReadLimits,
        f: &SeriesMap<'_>,
    ) -> Result<Vec<(Labels, Points)>, StorageError> {
        let data = self.select_step(matchers, start_ms, end_ms, step_ms)?;
        limits.check(data.len(), data.iter().map(|s| s.samples.len()).sum())?;
        Ok(data
            .into_iter()
            .filter_map(|s| f(&s.samples).map(|p| (s.labels, p)))
            .collect())
    }

    /// The label sets of series matching all `matchers` that have samples in the range.
    fn series(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Labels>, StorageError> {
        Ok(self
            .select(matchers, start_ms, end_ms)?
            .into_iter()
            .map(|s| s.labels)
            .collect())
    }

    fn stats(&self) -> StorageStats;
}
