//! A float64 as Go writes it, because Prometheus is written in Go and its users compare
//! our answers, labels and messages with its own byte for byte.
//!
//! Go's `strconv.FormatFloat(v, fmt, -1, 64)` writes the *shortest* digits that read back
//! as `v`, in one of two forms:
//!
//! - **plain** (`'f'`): `1000000`, `0.0000001`, `-0`: never an exponent. Prometheus uses
//!   it for scalar results and for labels it makes from values (`le`, `quantile`,
//!   `count_values`): [`write_plain`], [`format_plain`].
//! - **exponent** (`'e'`): `1e-07`, `1.5e+21`: the exponent always signed and at least two
//!   digits, unlike Rust's `{:e}` (`1e-7`, `1.5e21`): [`write_exponent`].
//!
//! A **sample value** in a query answer takes the exponent form when it is not zero and
//! `|v| < 1e-6` or `|v| >= 1e21`, the plain form otherwise (Prometheus's
//! `jsonutil.MarshalFloat`): [`write`], [`format`]. Every form writes `NaN`, `+Inf` and
//! `-Inf` for the special values. [`write_fixed`] is Go's `%.Nf` (fixed decimals), and
//! [`parse`] reads what these write.

use std::fmt::Write;

/// Appends `v` as Prometheus writes a sample value: the exponent form when `v` is not
/// zero and `|v| < 1e-6` or `|v| >= 1e21`, the plain form otherwise.
#[inline]
pub fn write(v: f64, out: &mut String) {
    if !v.is_finite() || v == 0.0 {
        write_special(v, out);
    } else if short_decimal(v, out) {
        // Written.
    } else if (1e-6..1e21).contains(&v.abs()) {
        plain_shortest(v, out);
    } else {
        write_exponent(v, out);
    }
}

/// [`write`] into a new string.
pub fn format(v: f64) -> String {
    let mut s = String::new();
    write(v, &mut s);
    s
}

/// Appends `v` as Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest round-trip digits,
/// never an exponent.
#[inline]
pub fn write_plain(v: f64, out: &mut String) {
    if !v.is_finite() || v == 0.0 {
        write_special(v, out);
    } else if !short_decimal(v, out) {
        plain_shortest(v, out);
    }
}

/// [`write_plain`] into a new string.
pub fn format_plain(v: f64) -> String {
    let mut s = String::new();
    write_plain(v, &mut s);
    s
}

/// Appends `v` as Go's `strconv.FormatFloat(v, 'e', -1, 64)`: shortest round-trip digits,
/// then `e`, the exponent's sign and at least two exponent digits (`1e-07`, `1.5e+21`).
pub fn write_exponent(v: f64, out: &mut String) {
    if !v.is_finite() {
        write_special(v, out);
        return;
    }
    // Rust's `{:e}` has the same shortest digits; only the exponent is spelled otherwise.
    let start = out.len();
    let _ = write!(out, "{v:e}");
    let Some(e) = out[start..].rfind('e') else {
        return;
    };
    let exp = out.split_off(start + e + 1);
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp.as_str()),
    };
    out.push(sign);
    if digits.len() < 2 {
        out.push('0');
    }
    out.push_str(digits);
}

/// Appends `v` as Go's `strconv.FormatFloat(v, 'f', decimals, 64)` (`fmt`'s `%.6f` for
/// six): exactly `decimals` decimals, correctly rounded.
pub fn write_fixed(v: f64, decimals: usize, out: &mut String) {
    if v.is_finite() {
        let _ = write!(out, "{v:.decimals$}");
    } else {
        write_special(v, out);
    }
}

/// Reads a float as Go's `strconv.ParseFloat(s, 64)` does for what Prometheus writes:
/// decimals, exponents, `NaN`, `+Inf`, `-Inf` and `Inf` in any case. Go's hexadecimal
/// floats (`0x1p-2`) are not accepted.
pub fn parse(s: &str) -> Option<f64> {
    s.parse().ok()
}

/// NaN, ±Inf or ±0 (`0`, `-0`) as the plain form writes them; nothing for other values.
#[inline]
fn write_special(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0" } else { "0" });
    }
}

/// The fast path for what monitoring data mostly holds: values with at most three
/// decimals and fewer than 16 digits. Writes the shortest form and returns true when `v`
/// is exactly the double nearest to such a decimal (then that decimal is its shortest
/// round-trip form, as Go prints it); otherwise writes nothing and returns false.
#[inline]
fn short_decimal(v: f64, out: &mut String) -> bool {
    const SCALE: [f64; 4] = [1.0, 10.0, 100.0, 1000.0];
    let a = v.abs();
    if !(1e-3..1e15).contains(&a) {
        return false;
    }
    for (d, &p) in SCALE.iter().enumerate() {
        let m = (a * p).round();
        // m and p are exact integers below 2^53, so m / p is the correctly rounded double
        // of the decimal m·10^-d: equal to `a` exactly when that decimal denotes `a`.
        // Below 1e15 the decimals of this many places lie more than two ulps apart, so at
        // most one of them denotes `a`, and it is the shortest.
        if m / p == a && m < 1e15 {
            let m = m as u64;
            if v < 0.0 {
                out.push('-');
            }
            let mut buf = itoa::Buffer::new();
            if d == 0 {
                out.push_str(buf.format(m));
            } else {
                let pow = [1u64, 10, 100, 1000][d];
                out.push_str(buf.format(m / pow));
                out.push('.');
                let frac = buf.format(m % pow);
                for _ in frac.len()..d {
                    out.push('0');
                }
                out.push_str(frac);
            }
            return true;
        }
    }
    false
}

/// `v` (finite, nonzero) in plain notation with its shortest round-trip digits, as Go's
/// 'f' with precision -1 writes it. Ryu finds them several times faster than `Display`,
/// and like Go (unlike `Display`) rounds an exact tie between two nearest candidates to
/// even; where Ryu would choose exponent notation, `Display` writes the value.
fn plain_shortest(v: f64, out: &mut String) {
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(v);
    // Ryu writes plain digits for 1e-5 ≤ |v| < 1e16; only outside a margin within that
    // range is its output searched for an exponent.
    if !(1e-4..1e15).contains(&v.abs()) && s.contains('e') {
        let _ = write!(out, "{v}");
    } else {
        out.push_str(s.strip_suffix(".0").unwrap_or(s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exponent(v: f64) -> String {
        let mut s = String::new();
        write_exponent(v, &mut s);
        s
    }

    fn fixed6(v: f64) -> String {
        let mut s = String::new();
        write_fixed(v, 6, &mut s);
        s
    }

    /// What Go 1.21 prints for each value with `FormatFloat(v, 'f', -1, 64)`,
    /// `FormatFloat(v, 'e', -1, 64)`, and what Prometheus writes as a sample value.
    #[test]
    fn every_form_as_go_writes_it() {
        #[rustfmt::skip]
        let cases: [(f64, &str, &str, &str); 20] = [
            // value,          plain 'f',                  exponent 'e',            sample value
            (1e6,              "1000000",                  "1e+06",                 "1000000"),
            (1e21,             "1000000000000000000000",   "1e+21",                 "1e+21"),
            (1.5e21,           "1500000000000000000000",   "1.5e+21",               "1.5e+21"),
            (1e-7,             "0.0000001",                "1e-07",                 "1e-07"),
            (1e-6,             "0.000001",                 "1e-06",                 "0.000001"),
            (2.5e-6,           "0.0000025",                "2.5e-06",               "0.0000025"),
            (0.5,              "0.5",                      "5e-01",                 "0.5"),
            (0.1,              "0.1",                      "1e-01",                 "0.1"),
            (-2.5,             "-2.5",                     "-2.5e+00",              "-2.5"),
            (0.0,              "0",                        "0e+00",                 "0"),
            (-0.0,             "-0",                       "-0e+00",                "-0"),
            (f64::NAN,         "NaN",                      "NaN",                   "NaN"),
            (f64::INFINITY,    "+Inf",                     "+Inf",                  "+Inf"),
            (f64::NEG_INFINITY,"-Inf",                     "-Inf",                  "-Inf"),
            (123456789.123,    "123456789.123",            "1.23456789123e+08",     "123456789.123"),
            (123456789.0,      "123456789",                "1.23456789e+08",        "123456789"),
            (-0.05,            "-0.05",                    "-5e-02",                "-0.05"),
            (0.1 + 0.2,        "0.30000000000000004",      "3.0000000000000004e-01","0.30000000000000004"),
            (1.0 / 3.0,        "0.3333333333333333",       "3.333333333333333e-01", "0.3333333333333333"),
            (1e15,             "1000000000000000",         "1e+15",                 "1000000000000000"),
        ];
        for (v, plain, exp, sample) in cases {
            assert_eq!(format_plain(v), plain, "plain {v:e}");
            assert_eq!(exponent(v), exp, "exponent {v:e}");
            assert_eq!(format(v), sample, "sample value {v:e}");
        }
        // Far from 1 the plain form pads the shortest digits with zeros, as Go does.
        assert_eq!(format_plain(1e100), format!("1{}", "0".repeat(100)));
        assert_eq!(
            format_plain(-1.25e-300),
            format!("-0.{}125", "0".repeat(299))
        );
        assert_eq!(format(1e100), "1e+100");
        assert_eq!(format(-1.25e-300), "-1.25e-300");
    }

    /// 1000000000000000.25 is exactly halfway between …0.2 and …0.3: Go's strconv
    /// (Prometheus) and Ryu round the tie to even; Rust's `Display` rounds it up.
    #[test]
    fn a_tie_rounds_to_even_as_in_go() {
        assert_eq!(format_plain(1e15 + 0.25), "1000000000000000.2");
        assert_eq!(format(1e15 + 0.25), "1000000000000000.2");
    }

    #[test]
    fn fixed_decimals_as_gos_percent_f() {
        assert_eq!(fixed6(0.5), "0.500000");
        assert_eq!(fixed6(1.0 / 3.0), "0.333333");
        assert_eq!(fixed6(-0.0), "-0.000000");
        assert_eq!(fixed6(f64::INFINITY), "+Inf");
        assert_eq!(fixed6(f64::NEG_INFINITY), "-Inf");
        assert_eq!(fixed6(f64::NAN), "NaN");
    }

    #[test]
    fn parse_reads_what_go_writes() {
        assert_eq!(parse("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse("Inf"), Some(f64::INFINITY));
        assert_eq!(parse("-Inf"), Some(f64::NEG_INFINITY));
        assert!(parse("NaN").is_some_and(f64::is_nan));
        assert_eq!(parse("1e-07"), Some(1e-7));
        assert_eq!(parse("1.5e+21"), Some(1.5e21));
        assert_eq!(parse("0.25"), Some(0.25));
        assert_eq!(parse("x"), None);
        assert_eq!(parse(""), None);
    }

    /// Random doubles over the plain range and values of monitoring scale: the plain form
    /// is as short as `Display`'s and reads back as the same double.
    #[test]
    fn plain_form_is_shortest_and_round_trips() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut values = vec![
            1e-6,
            2.5e-6,
            1e-5,
            0.1 + 0.2,
            1e15 + 0.3,
            9.999_999_999_999_999e20,
            123_456_789.123_456_79,
        ];
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            if v.is_finite() && (1e-6..1e21).contains(&v.abs()) {
                values.push(v);
            }
            values.push((x % 10_000_000_000) as f64 / 7.0);
        }
        for v in values {
            let got = format_plain(v);
            // The digits differ from Display's only where two are equally near (above).
            assert_eq!(got.len(), format!("{v}").len(), "{v:e}: {got}");
            assert_eq!(got.parse::<f64>().ok(), Some(v), "{v:e}: {got}");
        }
    }

    /// The short-decimal fast path agrees with the general one (`Display`).
    #[test]
    fn fast_path_matches_display() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut checked = 0;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let d = (x % 4) as i32;
            let m = (x >> 8) % 10_000_000_000;
            let val = m as f64 / 10f64.powi(d) * if x & 1 == 0 { 1.0 } else { -1.0 };
            for v in [val, f64::from_bits(x)] {
                let mut fast = String::new();
                if v.is_finite() && v != 0.0 && short_decimal(v, &mut fast) {
                    assert_eq!(fast, format!("{v}"), "{v:?}");
                    checked += 1;
                }
            }
        }
        assert!(
            checked > 100_000,
            "the fast path took only {checked} values"
        );
    }
}
