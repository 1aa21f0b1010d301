//! The clock, injected: every decision in this crate takes `now` as an argument.
//!
//! Alertmanager reads `time.Now()` wherever it needs it, which is why its timing is
//! tested with sleeps. Here the caller passes `now` into every call, so tests step time
//! explicitly and the server decides where time comes from. [`Clock`] is the small trait
//! a caller can hold to produce those instants: [`SystemClock`] in production,
//! [`ManualClock`] in tests.

use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

/// A source of the current instant.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    /// Starts at `t`.
    pub fn new(t: Timestamp) -> Self {
        ManualClock(Mutex::new(t))
    }

    /// Moves to `t`.
    pub fn set(&self, t: Timestamp) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = t;
    }

    /// Moves forward by `d`.
    pub fn advance(&self, d: SignedDuration) {
        let mut g = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *g = add(*g, d);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `t + d`, clamped to jiff's range instead of failing: durations here come from
/// configuration and are far from the limits, but a bad one must not panic.
pub fn add(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.checked_add(d).unwrap_or(if d.is_negative() {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// `t - d`, clamped like [`add`].
pub fn sub(t: Timestamp, d: SignedDuration) -> Timestamp {
    add(t, -d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let t0: Timestamp = "2024-01-01T00:00:00Z"
            .parse()
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let c = ManualClock::new(t0);
        assert_eq!(c.now(), t0);
        c.advance(SignedDuration::from_secs(90));
        assert_eq!(c.now().as_second() - t0.as_second(), 90);
        assert_eq!(
            add(Timestamp::MAX, SignedDuration::from_secs(1)),
            Timestamp::MAX
        );
        assert_eq!(
            sub(t0, SignedDuration::from_secs(60)).as_second(),
            t0.as_second() - 60
        );
    }
}
