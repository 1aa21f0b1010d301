//! `type = "convert"`: converts numeric fields from one unit to another.
//!
//! A **conversion** is a ratio of two whole numbers (`gibibytes → megabytes` is
//! 2^30 / 10^6 = 2^24 / 5^6), or, between temperature scales, a ratio and an offset. It is
//! computed as one multiplication by the numerator and one division by the denominator, so
//! a result is the correctly rounded value wherever the input is exact (1 500 000 bytes is
//! exactly 1.5 megabytes; 1 gibibyte is 1073.741824 megabytes to the last bit).
//!
//! Only numeric fields change; booleans and strings are left alone. **Integer fields stay
//! integers** when the conversion multiplies by a whole number with no offset
//! (`kibibytes → bytes`, `seconds → milliseconds`) and the result fits; otherwise they
//! become floats. The choice is made from the conversion, not from each value, so a field
//! keeps one type from round to round (Influx rejects a field whose type changes); only an
//! integer overflow, which would otherwise wrap, falls back to a float.

use super::{Scope, deserialize_scope};
use crate::glob::Glob;
use crate::processor::Processor;
use argus_core::line_protocol::{FieldValue, Line};
use serde::{Deserialize, Serialize};

/// `[[agent.processors]]` with `type = "convert"`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Glob of the measurements to act on; empty: all.
    #[serde(default, deserialize_with = "deserialize_scope")]
    pub measurement: String,
    /// Glob of the field keys to convert.
    pub field: String,
    /// The unit the fields are in.
    pub from: Unit,
    /// The unit to convert them to (of the same kind as `from`).
    pub to: Unit,
}

/// A unit a field can be converted from or to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Bits,
    #[default]
    Bytes,
    /// 1000 bytes.
    Kilobytes,
    /// 1000² bytes.
    Megabytes,
    /// 1000³ bytes.
    Gigabytes,
    /// 1000⁴ bytes.
    Terabytes,
    /// 1024 bytes.
    Kibibytes,
    /// 1024² bytes.
    Mebibytes,
    /// 1024³ bytes.
    Gibibytes,
    /// 1024⁴ bytes.
    Tebibytes,
    Nanoseconds,
    Microseconds,
    Milliseconds,
    Seconds,
    Minutes,
    Hours,
    Celsius,
    Fahrenheit,
    Kelvin,
    /// Hundredths: 50 percent is the ratio 0.5.
    Percent,
    /// A fraction of one.
    Ratio,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Data,
    Time,
    Temperature,
    Fraction,
}

impl Unit {
    /// The unit's kind and its size in the kind's smallest unit (bits, nanoseconds,
    /// percent); temperatures are handled apart.
    fn scale(self) -> (Kind, u64) {
        use Unit::*;
        const K: u64 = 1000;
        const KI: u64 = 1024;
        match self {
            Bits => (Kind::Data, 1),
            Bytes => (Kind::Data, 8),
            Kilobytes => (Kind::Data, 8 * K),
            Megabytes => (Kind::Data, 8 * K * K),
            Gigabytes => (Kind::Data, 8 * K * K * K),
            Terabytes => (Kind::Data, 8 * K * K * K * K),
            Kibibytes => (Kind::Data, 8 * KI),
            Mebibytes => (Kind::Data, 8 * KI * KI),
            Gibibytes => (Kind::Data, 8 * KI * KI * KI),
            Tebibytes => (Kind::Data, 8 * KI * KI * KI * KI),
            Nanoseconds => (Kind::Time, 1),
            Microseconds => (Kind::Time, K),
            Milliseconds => (Kind::Time, K * K),
            Seconds => (Kind::Time, K * K * K),
            Minutes => (Kind::Time, 60 * K * K * K),
            Hours => (Kind::Time, 3600 * K * K * K),
            Celsius | Fahrenheit | Kelvin => (Kind::Temperature, 1),
            Percent => (Kind::Fraction, 1),
            Ratio => (Kind::Fraction, 100),
        }
    }
}

/// How a value changes: `value * num / den`, or a temperature formula.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Conversion {
    Ratio { num: u64, den: u64 },
    Temperature { from: Unit, to: Unit },
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Conversion {
    fn new(from: Unit, to: Unit) -> anyhow::Result<Self> {
        let ((from_kind, from_size), (to_kind, to_size)) = (from.scale(), to.scale());
        if from_kind != to_kind {
            anyhow::bail!(
                "cannot convert {} to {}: they measure different things",
                unit_name(from),
                unit_name(to)
            );
        }
        if from_kind == Kind::Temperature {
            return Ok(Conversion::Temperature { from, to });
        }
        let g = gcd(from_size, to_size);
        Ok(Conversion::Ratio {
            num: from_size / g,
            den: to_size / g,
        })
    }

    fn float(self, v: f64) -> f64 {
        match self {
            // Both fit in an f64 exactly (at most 8·1024⁴ and 3.6·10¹²).
            Conversion::Ratio { num, den } => v * num as f64 / den as f64,
            Conversion::Temperature { from, to } => {
                let celsius = match from {
                    Unit::Fahrenheit => (v - 32.0) * 5.0 / 9.0,
                    Unit::Kelvin => v - 273.15,
                    _ => v,
                };
                match to {
                    Unit::Fahrenheit => celsius * 9.0 / 5.0 + 32.0,
                    Unit::Kelvin => celsius + 273.15,
                    _ => celsius,
                }
            }
        }
    }

    fn value(self, v: &FieldValue<'static>) -> Option<FieldValue<'static>> {
        let whole = match self {
            Conversion::Ratio { num, den: 1 } => Some(num),
            _ => None,
        };
        Some(match (*v).clone() {
            FieldValue::Float(f) => FieldValue::Float(self.float(f)),
            FieldValue::Int(i) => match whole.and_then(|n| i.checked_mul(i64::try_from(n).ok()?)) {
                Some(r) => FieldValue::Int(r),
                None => FieldValue::Float(self.float(i as f64)),
            },
            FieldValue::UInt(u) => match whole.and_then(|n| u.checked_mul(n)) {
                Some(r) => FieldValue::UInt(r),
                None => FieldValue::Float(self.float(u as f64)),
            },
            FieldValue::Bool(_) | FieldValue::Str(_) => return None,
        })
    }
}

fn unit_name(u: Unit) -> String {
    serde_json::to_value(u)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{u:?}"))
}

/// The built processor.
pub struct Convert {
    scope: Scope,
    field: Glob,
    conversion: Conversion,
}

impl Convert {
    pub fn build(config: &Config) -> anyhow::Result<Self> {
        if config.field.is_empty() {
            anyhow::bail!("`field` must name the fields to convert (a glob such as \"*_bytes\")");
        }
        Ok(Convert {
            scope: Scope::build(&config.measurement)?,
            field: Glob::new(&config.field),
            conversion: Conversion::new(config.from, config.to)?,
        })
    }
}

impl Processor for Convert {
    fn name(&self) -> &str {
        "convert"
    }

    fn process(&mut self, points: &mut Vec<Line<'static>>) {
        for p in self.scope.points_mut(points) {
            for (k, v) in p.fields.iter_mut() {
                if self.field.matches(k)
                    && let Some(new) = self.conversion.value(v)
                {
                    *v = new;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{points, text};
    use super::*;
    use Unit::*;

    fn conv(from: Unit, to: Unit, v: FieldValue<'static>) -> FieldValue<'static> {
        Conversion::new(from, to)
            .expect("same kind")
            .value(&v)
            .expect("numeric")
    }

    fn f(from: Unit, to: Unit, v: f64) -> f64 {
        match conv(from, to, FieldValue::Float(v)) {
            FieldValue::Float(r) => r,
            other => panic!("{other:?}"),
        }
    }

    /// Each (from, to, value, converted) case, named in the assertion message.
    fn assert_float_cases(cases: &[(Unit, Unit, f64, f64)]) {
        for &(from, to, value, want) in cases {
            assert_eq!(f(from, to, value), want, "{value} from {from:?} to {to:?}");
        }
    }

    #[test]
    fn data_sizes_convert_exactly() {
        let cases = [
            (Bytes, Megabytes, 1_500_000.0, 1.5),
            (Bytes, Megabytes, 1.0, 0.000001),
            (Bytes, Kilobytes, 999.0, 0.999),
            (Gigabytes, Bytes, 2.5, 2_500_000_000.0),
            (Terabytes, Gigabytes, 1.2, 1200.0),
            (Gibibytes, Megabytes, 1.0, 1073.741824),
            (Mebibytes, Kibibytes, 1.5, 1536.0),
            (Bytes, Kibibytes, 512.0, 0.5),
            (Tebibytes, Terabytes, 1.0, 1.099511627776),
            (Bits, Bytes, 12.0, 1.5),
            (Bytes, Bits, 1.5, 12.0),
            (Megabytes, Bits, 1.0, 8_000_000.0),
        ];
        assert_float_cases(&cases);
    }

    #[test]
    fn times_temperatures_and_fractions_convert_exactly() {
        let cases = [
            (Milliseconds, Seconds, 1500.0, 1.5),
            (Microseconds, Milliseconds, 250.0, 0.25),
            (Seconds, Microseconds, 0.5, 500_000.0),
            (Nanoseconds, Seconds, 1.0, 1e-9),
            (Hours, Minutes, 1.5, 90.0),
            (Celsius, Fahrenheit, 100.0, 212.0),
            (Celsius, Fahrenheit, -40.0, -40.0),
            (Fahrenheit, Celsius, 212.0, 100.0),
            (Fahrenheit, Celsius, 50.0, 10.0),
            (Celsius, Kelvin, 25.0, 298.15),
            (Kelvin, Celsius, 273.15, 0.0),
            (Percent, Ratio, 50.0, 0.5),
            (Percent, Ratio, 12.5, 0.125),
            (Ratio, Percent, 0.25, 25.0),
            (Seconds, Seconds, 7.25, 7.25),
        ];
        assert_float_cases(&cases);
    }

    #[test]
    fn integers_stay_integers_only_for_whole_multiples() {
        use FieldValue::{Float, Int, UInt};
        let cases = [
            (Gibibytes, Bytes, Int(3), Int(3_221_225_472)),
            (Seconds, Milliseconds, UInt(2), UInt(2000)),
            (Ratio, Percent, Int(1), Int(100)),
            // A division makes a float even when this value happens to divide evenly.
            (Bytes, Megabytes, UInt(2_000_000), Float(2.0)),
            (Bytes, Megabytes, Int(2_500_000), Float(2.5)),
            (Celsius, Fahrenheit, Int(0), Float(32.0)),
            // Overflow falls back to a float rather than wrapping.
            (
                Tebibytes,
                Bits,
                UInt(u64::MAX / 2),
                Float((u64::MAX / 2) as f64 * 8_796_093_022_208.0),
            ),
            (Bytes, Bits, Int(-2), Int(-16)),
        ];
        for (from, to, value, want) in cases {
            let case = format!("{value:?} from {from:?} to {to:?}");
            assert_eq!(conv(from, to, value), want, "{case}");
        }
    }

    #[test]
    fn only_matching_numeric_fields_in_scope_change() {
        let config = Config {
            measurement: "mem".into(),
            field: "*_bytes".into(),
            from: Bytes,
            to: Mebibytes,
        };
        let mut p = Convert::build(&config).expect("build");
        let mut pts = points(
            "mem used_bytes=1048576u,free_bytes=524288i,total=3u,flag_bytes=true,s_bytes=\"x\" 1\n\
             disk used_bytes=1048576u 1\n",
        );
        p.process(&mut pts);
        assert_eq!(
            text(&pts),
            "mem used_bytes=1.0,free_bytes=0.5,total=3u,flag_bytes=true,s_bytes=\"x\" 1\n\
             disk used_bytes=1048576u 1\n"
        );
    }

    #[test]
    fn mismatched_kinds_and_unknown_units_are_rejected() {
        let err = Convert::build(&Config {
            measurement: String::new(),
            field: "x".into(),
            from: Bytes,
            to: Seconds,
        })
        .err()
        .expect("error")
        .to_string();
        assert_eq!(
            err,
            "cannot convert bytes to seconds: they measure different things"
        );
        let err = serde_json::from_str::<Config>(r#"{"field":"x","from":"megs","to":"bytes"}"#)
            .expect_err("unknown unit")
            .to_string();
        assert!(err.contains("unknown variant `megs`"), "{err}");
        assert!(err.contains("`kibibytes`"), "{err}");
    }
}
