//! The engine's settings ([`Options`]): retention, the out-of-order window, block
//! partitions, limits. The `[storage]` section of the configuration maps onto them.

const HOUR_MS: i64 = 3_600_000;

/// Engine settings; see the `[storage]` section of the configuration.
#[derive(Debug, Clone)]
pub struct Options {
    /// Blocks whose newest sample is older than this lose their raw samples: they are
    /// downsampled to rollups (or deleted when `rollup_retention_ms` is not larger).
    pub retention_ms: i64,
    /// Downsampled blocks whose newest sample is older than this are deleted.
    pub rollup_retention_ms: i64,
    /// How far behind a series' newest sample a sample may arrive and still be accepted.
    pub ooo_window_ms: i64,
    /// Time partition of the blocks a flush writes; compaction builds ranges of 6× and 36×.
    pub block_duration_ms: i64,
    /// Series per namespace (`ns` label); 0 means no limit.
    pub max_series_per_ns: usize,
    /// WAL segment size before a new one is started.
    pub wal_segment_bytes: u64,
    /// The head is flushed when it holds more samples than this (a memory bound).
    pub max_head_samples: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            retention_ms: 30 * 24 * HOUR_MS,
            rollup_retention_ms: 365 * 24 * HOUR_MS,
            ooo_window_ms: HOUR_MS,
            block_duration_ms: 2 * HOUR_MS,
            max_series_per_ns: 1_000_000,
            wal_segment_bytes: 128 << 20,
            max_head_samples: 50_000_000,
        }
    }
}
