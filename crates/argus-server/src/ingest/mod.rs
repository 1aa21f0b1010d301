//! Ingest, the domain side: what every written body is checked against before it is
//! queued, whatever protocol brought it.
//!
//! - [`rules`]: the limits on labels, line length and timestamps ([`Rules`]).
//! - [`lines`]: the one walk over an Influx line-protocol body ([`CheckedLines`]), used both
//!   when ingest checks a body and when the pipeline applies it.
//! - [`remote_write`], [`opentsdb`] and [`events`]: the other bodies, turned into series or
//!   events and checked.
//!
//! A body that breaks a rule is [`Refused`] whole, naming where (line, series, data point)
//! and why. The HTTP layer answers it with a 4xx; the pipeline drops a queued batch
//! refused this way.

pub mod events;
pub mod lines;
pub mod opentsdb;
pub mod remote_write;
pub mod rules;

pub use lines::{CheckedLines, Counts};
pub use rules::{Rules, Violation, valid_namespace};

/// Why a body was refused. Each kind says where the fault is and why, for the client to
/// fix it; the HTTP layer counts it by reason in `argus_ingest_rejected_total{reason}`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refused {
    /// A body that does not parse: the line and column of the first fault.
    #[error("{message}")]
    BadLine {
        line: usize,
        column: usize,
        message: String,
    },
    /// A rule of [`rules`] broken at `at` (a line, series or data point).
    #[error("{at}: {message}")]
    Invalid {
        at: String,
        reason: &'static str,
        message: String,
    },
    /// The token may not write where the body asks to (another namespace).
    #[error("{0}")]
    Forbidden(String),
}

impl Refused {
    /// The error for `violation` at `at`.
    pub fn at(at: impl Into<String>, violation: Violation) -> Refused {
        Refused::Invalid {
            at: at.into(),
            reason: violation.reason,
            message: violation.message,
        }
    }
}
