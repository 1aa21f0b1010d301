//! Prometheus durations (`model.Duration`): `30s`, `5m`, `4h`, `1d12h`, `1w`, `1y`, `0`.
//!
//! Units must appear largest first, each at most once, with integer counts; `d`, `w` and
//! `y` are fixed 24h, 7d and 365d. This is the syntax of every duration in
//! `alertmanager.yml` (`group_wait`, `resolve_timeout`, …).

use std::{fmt, sync::OnceLock};

use jiff::SignedDuration;
use regex::Regex;

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// An empty string.
    #[error("empty duration string")]
    Empty,
    /// Not `[Ny][Nw][Nd][Nh][Nm][Ns][Nms]`.
    #[error("not a valid duration string: {0:?}")]
    Invalid(String),
    /// More than about 292 years.
    #[error("duration out of range")]
    OutOfRange,
}

fn duration_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            "^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$",
        )
        .unwrap_or_else(|e| unreachable!("static duration regex: {e}"))
    })
}

const MS_PER: [(usize, i64); 7] = [
    (2, 365 * 24 * 3_600_000),
    (4, 7 * 24 * 3_600_000),
    (6, 24 * 3_600_000),
    (8, 3_600_000),
    (10, 60_000),
    (12, 1_000),
    (14, 1),
];

/// Parses a Prometheus duration (`model.ParseDuration`).
pub fn parse_duration(s: &str) -> Result<SignedDuration, DurationError> {
    match s {
        "0" => return Ok(SignedDuration::ZERO),
        "" => return Err(DurationError::Empty),
        _ => {}
    }
    let caps = duration_re()
        .captures(s)
        .ok_or_else(|| DurationError::Invalid(s.to_owned()))?;
    let mut total_ms: i64 = 0;
    for (group, mult) in MS_PER {
        let Some(m) = caps.get(group) else { continue };
        let n: i64 = m.as_str().parse().map_err(|_| DurationError::OutOfRange)?;
        let part = n.checked_mul(mult).ok_or(DurationError::OutOfRange)?;
        total_ms = total_ms
            .checked_add(part)
            .ok_or(DurationError::OutOfRange)?;
    }
    // Go's time.Duration counts nanoseconds in an i64.
    if total_ms.checked_mul(1_000_000).is_none() {
        return Err(DurationError::OutOfRange);
    }
    Ok(SignedDuration::from_millis(total_ms))
}

/// A duration printed as Prometheus prints it (`model.Duration.String()`): `4h`, `1d12h`,
/// `90d`; years and weeks only when they divide exactly.
pub struct PromDuration(pub SignedDuration);

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX);
        if ms == 0 {
            return f.write_str("0s");
        }
        let units: [(&str, i64, bool); 7] = [
            ("y", 365 * 24 * 3_600_000, true),
            ("w", 7 * 24 * 3_600_000, true),
            ("d", 24 * 3_600_000, false),
            ("h", 3_600_000, false),
            ("m", 60_000, false),
            ("s", 1_000, false),
            ("ms", 1, false),
        ];
        for (unit, mult, exact) in units {
            if exact && ms % mult != 0 {
                continue;
            }
            let v = ms / mult;
            if v > 0 {
                write!(f, "{v}{unit}")?;
                ms -= v * mult;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_units() {
        let d = |s| parse_duration(s).map(|d| d.as_millis());
        assert_eq!(d("30s"), Ok(30_000));
        assert_eq!(d("5m"), Ok(300_000));
        assert_eq!(d("1h30m"), Ok(5_400_000));
        assert_eq!(d("1d"), Ok(86_400_000));
        assert_eq!(d("1w"), Ok(604_800_000));
        assert_eq!(d("1y"), Ok(31_536_000_000));
        assert_eq!(d("1500ms"), Ok(1_500));
        assert_eq!(d("0"), Ok(0));
        assert_eq!(d(""), Err(DurationError::Empty));
        assert_eq!(d("1.5h"), Err(DurationError::Invalid("1.5h".into())));
        assert_eq!(d("5m1h"), Err(DurationError::Invalid("5m1h".into())));
        assert_eq!(d("300y"), Err(DurationError::OutOfRange));
    }

    #[test]
    fn prints_like_prometheus() {
        let p = |ms| PromDuration(SignedDuration::from_millis(ms)).to_string();
        assert_eq!(p(0), "0s");
        assert_eq!(p(4 * 3_600_000), "4h");
        assert_eq!(p(36 * 3_600_000), "1d12h");
        assert_eq!(p(14 * 86_400_000), "2w");
        assert_eq!(p(90 * 86_400_000), "90d");
        assert_eq!(p(61_500), "1m1s500ms");
    }
}
