//! Prometheus durations (`model.Duration`): `1h30m`, `5m`, `90d`, `0`.
//!
//! Rule files write `for`, `keep_firing_for` and `interval` this way; a **duration** is a
//! sequence of `<integer><unit>` in the fixed order `y w d h m s ms`, each unit at most
//! once, or the bare `0`. Go's `time.ParseDuration` forms (`1.5h`, `1h5m0.5s`) are not
//! accepted, as in Prometheus.

use serde::{Deserialize, Deserializer};
use std::fmt;

const UNITS: [(&str, i64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// A duration in milliseconds, as Prometheus's `model.Duration` keeps it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PromDuration(pub i64);

impl PromDuration {
    pub fn ms(self) -> i64 {
        self.0
    }

    pub fn ns(self) -> i64 {
        self.0.saturating_mul(1_000_000)
    }

    pub fn seconds(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// Parses `s` with Prometheus's messages: `empty duration string`,
    /// `not a valid duration string: "5x"`, `duration out of range`.
    pub fn parse(s: &str) -> Result<PromDuration, String> {
        match s {
            "0" => return Ok(PromDuration(0)),
            "" => return Err("empty duration string".into()),
            _ => {}
        }
        let invalid = || format!("not a valid duration string: {}", crate::gofmt::quote(s));
        let mut rest = s;
        let mut next_unit = 0;
        let mut total: i64 = 0;
        let mut overflow = false;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(invalid());
            }
            let (num, after) = rest.split_at(digits);
            // `ms` before `m`: the longer unit name wins where both match.
            let found = UNITS
                .iter()
                .enumerate()
                .skip(next_unit)
                .filter(|(_, (u, _))| after.starts_with(u))
                .max_by_key(|(_, (u, _))| u.len());
            let Some((idx, (unit, mult))) = found else {
                return Err(invalid());
            };
            let n: i64 = match num.parse() {
                Ok(n) => n,
                Err(_) => {
                    overflow = true;
                    i64::MAX
                }
            };
            if n > i64::MAX / 1_000_000 / mult {
                overflow = true;
            }
            total = total.saturating_add(n.saturating_mul(*mult));
            next_unit = idx + 1;
            rest = &after[unit.len()..];
        }
        if overflow {
            return Err("duration out of range".into());
        }
        Ok(PromDuration(total))
    }
}

impl fmt::Display for PromDuration {
    /// Prometheus's `Duration.String()`: `0s`, `1h30m`, `90d` (years and weeks only when
    /// they divide it exactly).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0;
        if ms == 0 {
            return f.write_str("0s");
        }
        for (i, (unit, mult)) in UNITS.iter().enumerate() {
            if i < 2 && ms % mult != 0 {
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

impl<'de> Deserialize<'de> for PromDuration {
    /// From a YAML scalar; the error goes back to the YAML reader, which adds the line
    /// and column of the value.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Failing inside the visitor (not after it returned) lets the reader attach the
        // position of the value itself.
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = PromDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 5m")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<PromDuration, E> {
                PromDuration::parse(s).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_forms() {
        assert_eq!(PromDuration::parse("5m"), Ok(PromDuration(300_000)));
        assert_eq!(PromDuration::parse("1h30m"), Ok(PromDuration(5_400_000)));
        assert_eq!(PromDuration::parse("1m500ms"), Ok(PromDuration(60_500)));
        assert_eq!(PromDuration::parse("0"), Ok(PromDuration(0)));
        assert_eq!(PromDuration::parse("2w"), Ok(PromDuration(1_209_600_000)));
        assert_eq!(
            PromDuration::parse("5x"),
            Err("not a valid duration string: \"5x\"".into())
        );
        assert_eq!(
            PromDuration::parse("1.5h"),
            Err("not a valid duration string: \"1.5h\"".into())
        );
        assert_eq!(
            PromDuration::parse("5m1h"),
            Err("not a valid duration string: \"5m1h\"".into())
        );
        assert_eq!(PromDuration::parse(""), Err("empty duration string".into()));
        assert_eq!(
            PromDuration::parse("999999999y"),
            Err("duration out of range".into())
        );
    }

    #[test]
    fn prints_as_prometheus() {
        assert_eq!(PromDuration(0).to_string(), "0s");
        assert_eq!(PromDuration(5_400_000).to_string(), "1h30m");
        assert_eq!(PromDuration(90 * 86_400_000).to_string(), "90d");
        assert_eq!(PromDuration(14 * 86_400_000).to_string(), "2w");
        assert_eq!(PromDuration(60_500).to_string(), "1m500ms");
    }
}
