//! The engine's error types.

use argus_core::StorageError;

/// A file's bytes do not follow its format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("truncated while reading {0}")]
    Truncated(&'static str),
    #[error("invalid {0}")]
    Invalid(&'static str),
    #[error("checksum mismatch in {0}")]
    Checksum(&'static str),
    #[error("unsupported {what} version {version}")]
    Version { what: &'static str, version: u8 },
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{file}: {source}")]
    Format {
        file: String,
        #[source]
        source: FormatError,
    },
    /// A sample older than the out-of-order window allows.
    #[error(
        "sample of {series} at {ts} ms is {behind_ms} ms older than the series' newest sample; the out-of-order window is {window_ms} ms"
    )]
    OutOfOrder {
        series: String,
        ts: i64,
        behind_ms: i64,
        window_ms: i64,
    },
    #[error(
        "namespace {ns:?} has reached its limit of {limit} series; series {series} was not created"
    )]
    SeriesLimit {
        ns: String,
        limit: usize,
        series: String,
    },
    /// A selection went over its limits (see [`argus_core::ReadLimits`]).
    #[error("the read selects more than {limit} {what}")]
    OverRead {
        what: argus_core::ReadLimit,
        limit: usize,
    },
    #[error("writing the write-ahead log failed: {0}")]
    WalFailed(String),
    #[error("{0}")]
    Other(String),
}

impl From<Error> for StorageError {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(io) => StorageError::Io(io),
            e @ Error::OutOfOrder { .. } => StorageError::Rejected(e.to_string()),
            e @ Error::SeriesLimit { .. } => StorageError::Limit(e.to_string()),
            Error::OverRead { what, limit } => StorageError::OverRead { what, limit },
            other => StorageError::Other(other.to_string()),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
