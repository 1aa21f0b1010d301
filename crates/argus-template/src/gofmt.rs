//! Floats, times and URLs written the way Go writes them, because rule authors compare
//! our annotations, API answers and generator URLs with Prometheus's byte for byte.
//!
//! A float's **digits** are its decimal significand without the point, and its **decimal
//! point position** `dp` says where the point goes: `0.d1d2… × 10^dp`. Every Go verb here
//! (`%v`, `%g`, `%.4g`, `%e`, `%f`) first finds the digits (shortest round-trip ones, or
//! rounded to a precision, ties to even on the exact binary value as Go's `strconv` does)
//! and then lays them out by Go's rules. Rust's own `{:e}` and `{:.N}` already produce the
//! same digits (shortest, or exactly rounded half-to-even); only the layout differs.

use std::fmt::Write;

/// The digits of finite `v > 0` and the position of its decimal point: shortest round-trip
/// digits for `sig = None`, else rounded to `sig` significant digits with trailing zeros
/// removed (Go's `decimal` keeps none).
fn digits(v: f64, sig: Option<usize>) -> (Vec<u8>, i32) {
    let s = match sig {
        None => format!("{v:e}"),
        Some(p) => format!("{v:.*e}", p.max(1) - 1),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while d.len() > 1 && d.last() == Some(&b'0') {
        d.pop();
    }
    (d, exp + 1)
}

/// NaN and the infinities as Go's `fmt` writes them for every float verb.
fn special(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v.is_infinite() {
        Some(if v > 0.0 { "+Inf" } else { "-Inf" })
    } else {
        None
    }
}

/// Go's `%v` (and `strconv.FormatFloat(v, 'g', -1, 64)`) of a float: shortest digits, the
/// exponent form when the exponent is below -4 or at least 6 (`1e+06`, `123456`, `1e-05`).
pub fn fmt_v(v: f64) -> String {
    fmt_g(v, None)
}

/// Go's `%g` with an optional precision (`%.4g` is `fmt_g(v, Some(4))`): `prec` significant
/// digits, no trailing zeros, the exponent form when the exponent is below -4 or at least
/// the precision.
pub fn fmt_g(v: f64, prec: Option<usize>) -> String {
    if let Some(s) = special(v) {
        return s.to_string();
    }
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    if v == 0.0 {
        out.push('0');
        return out;
    }
    let shortest = prec.is_none();
    let p = prec.unwrap_or(0).max(1);
    let (d, dp) = digits(v.abs(), prec.map(|p| p.max(1)));
    let nd = d.len() as i32;
    let mut eprec = p as i32;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    if shortest {
        eprec = 6;
    }
    let exp = dp - 1;
    if exp < -4 || exp >= eprec {
        let pe = if shortest { nd } else { (p as i32).min(nd) };
        write_e_digits(&d, dp, (pe - 1).max(0) as usize, &mut out);
    } else {
        let pf = if shortest || p as i32 > dp {
            nd
        } else {
            p as i32
        };
        write_f_digits(&d, dp, (pf - dp).max(0) as usize, &mut out);
    }
    out
}

/// Go's `%e` with precision (`%e` is six decimals), or the shortest form for `None`
/// (`strconv.FormatFloat(v, 'e', -1, 64)`, the Prometheus API's alert `value`: `1.5e+01`).
pub fn fmt_e(v: f64, prec: Option<usize>) -> String {
    if let Some(s) = special(v) {
        return s.to_string();
    }
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    if v == 0.0 {
        out.push('0');
        if let Some(p) = prec.filter(|&p| p > 0) {
            out.push('.');
            out.extend(std::iter::repeat_n('0', p));
        }
        out.push_str("e+00");
        return out;
    }
    let (d, dp) = digits(v.abs(), prec.map(|p| p + 1));
    let decimals = prec.unwrap_or(d.len() - 1);
    write_e_digits(&d, dp, decimals, &mut out);
    out
}

/// Go's `%.Nf` (`%f` is six decimals): exactly rounded, ties to even.
pub fn fmt_f(v: f64, prec: usize) -> String {
    match special(v) {
        Some(s) => s.to_string(),
        None => format!("{v:.prec$}"),
    }
}

/// `d[0].d[1..=decimals]e±XX`, padding with zeros when there are fewer digits.
fn write_e_digits(d: &[u8], dp: i32, decimals: usize, out: &mut String) {
    out.push(d[0] as char);
    if decimals > 0 {
        out.push('.');
        for i in 1..=decimals {
            out.push(d.get(i).map_or('0', |&c| c as char));
        }
    }
    let exp = dp - 1;
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(out, "{:02}", exp.abs());
}

/// The digits laid out without an exponent, with exactly `decimals` decimals.
fn write_f_digits(d: &[u8], dp: i32, decimals: usize, out: &mut String) {
    let digit = |i: i32| -> char {
        if i >= 0 && (i as usize) < d.len() {
            d[i as usize] as char
        } else {
            '0'
        }
    };
    if dp > 0 {
        for i in 0..dp {
            out.push(digit(i));
        }
    } else {
        out.push('0');
    }
    if decimals > 0 {
        out.push('.');
        for i in 0..decimals as i32 {
            out.push(digit(dp + i));
        }
    }
}

/// A float as Go's `encoding/json` writes it: the plain shortest form, or the exponent
/// form without a padded exponent (`1e-7`, `1e+21`) outside `[1e-6, 1e21)`.
pub fn json_float(v: f64) -> String {
    if !v.is_finite() {
        // Go refuses to encode these; Prometheus never passes them here.
        return "0".to_string();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = fmt_e(v, None);
        // Go cleans `e-07` to `e-7`.
        if let Some(i) = s.find("e-0") {
            return format!("{}e-{}", &s[..i], &s[i + 3..]);
        }
        return s;
    }
    argus_core::gofloat::format_plain(v)
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The UTC calendar fields of `ns` nanoseconds since the epoch, and the nanoseconds left.
fn utc_fields(ns: i64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    (
        y,
        mo,
        d,
        (sod / 3600) as u32,
        (sod / 60 % 60) as u32,
        (sod % 60) as u32,
        nanos,
    )
}

/// Go's fractional seconds with trailing zeros removed (`.999999999` layouts): `.128`.
fn frac(nanos: u32) -> String {
    if nanos == 0 {
        return String::new();
    }
    let s = format!(".{nanos:09}");
    s.trim_end_matches('0').to_string()
}

/// A UTC time as Go's `time.Time.MarshalJSON` writes it (RFC 3339 with nanoseconds,
/// trailing zeros removed): `2023-02-01T10:00:00.5Z`; the zero time is
/// `0001-01-01T00:00:00Z` (pass `None`).
pub fn rfc3339_nano(ns: Option<i64>) -> String {
    let Some(ns) = ns else {
        return "0001-01-01T00:00:00Z".to_string();
    };
    let (y, mo, d, h, mi, s, n) = utc_fields(ns);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{}Z", frac(n))
}

/// Go's `time.Time.String()` of a UTC time: `2015-06-23 13:19:44.128 +0000 UTC`.
pub fn time_string(ns: i64) -> String {
    let (y, mo, d, h, mi, s, n) = utc_fields(ns);
    format!(
        "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}{} +0000 UTC",
        frac(n)
    )
}

/// Go's `url.QueryEscape`: letters, digits and `-_.~` kept, space as `+`, every other byte
/// `%XX` in upper case.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// Go's `strconv.Quote` for the strings Prometheus messages quote: `"`, `\` and control
/// characters escaped, printable Unicode kept.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v_is_shortest_with_exponent_from_six() {
        assert_eq!(fmt_v(1e6), "1e+06");
        assert_eq!(fmt_v(123456.0), "123456");
        assert_eq!(fmt_v(1234567.0), "1.234567e+06");
        assert_eq!(fmt_v(0.0001), "0.0001");
        assert_eq!(fmt_v(0.00001), "1e-05");
        assert_eq!(fmt_v(1.5), "1.5");
        assert_eq!(fmt_v(0.0), "0");
        assert_eq!(fmt_v(-0.0), "-0");
        assert_eq!(fmt_v(-2.5e-7), "-2.5e-07");
        assert_eq!(fmt_v(1e21), "1e+21");
        assert_eq!(fmt_v(f64::INFINITY), "+Inf");
        assert_eq!(fmt_v(f64::NAN), "NaN");
    }

    #[test]
    fn g4_rounds_half_even_and_drops_trailing_zeros() {
        assert_eq!(fmt_g(1.234567, Some(4)), "1.235");
        assert_eq!(fmt_g(12345.0, Some(4)), "1.234e+04");
        assert_eq!(fmt_g(12355.0, Some(4)), "1.236e+04");
        assert_eq!(fmt_g(1000.0, Some(4)), "1000");
        assert_eq!(fmt_g(100000.0, Some(4)), "1e+05");
        assert_eq!(fmt_g(0.001234, Some(4)), "0.001234");
        assert_eq!(fmt_g(0.00001234, Some(4)), "1.234e-05");
        assert_eq!(fmt_g(120.0, Some(4)), "120");
        assert_eq!(fmt_g(1.0, Some(4)), "1");
        assert_eq!(fmt_g(9.223372036854776e18 / 1e18, Some(4)), "9.223");
        assert_eq!(fmt_g(0.0, Some(4)), "0");
        assert_eq!(fmt_g(-22.222, Some(4)), "-22.22");
        assert_eq!(fmt_g(1.8446744073709552e21, Some(4)), "1.845e+21");
        assert_eq!(fmt_g(0.125, Some(2)), "0.12");
        assert_eq!(fmt_g(0.375, Some(2)), "0.38");
    }

    #[test]
    fn e_and_f_and_json() {
        assert_eq!(fmt_e(15.0, None), "1.5e+01");
        assert_eq!(fmt_e(1.0, None), "1e+00");
        assert_eq!(fmt_e(0.0, None), "0e+00");
        assert_eq!(fmt_e(1234.5678, Some(6)), "1.234568e+03");
        assert_eq!(fmt_e(1e-300, None), "1e-300");
        assert_eq!(fmt_f(3720.01, 2), "3720.01");
        assert_eq!(fmt_f(2.5, 0), "2");
        assert_eq!(fmt_f(1.0, 6), "1.000000");
        assert_eq!(json_float(60.0), "60");
        assert_eq!(json_float(0.001), "0.001");
        assert_eq!(json_float(1e-7), "1e-7");
        assert_eq!(json_float(0.0), "0");
    }

    #[test]
    fn times_as_go_prints_them() {
        assert_eq!(
            time_string(1_435_065_584_128_000_000),
            "2015-06-23 13:19:44.128 +0000 UTC"
        );
        assert_eq!(time_string(-1_000_000_000), "1969-12-31 23:59:59 +0000 UTC");
        assert_eq!(
            time_string(9_223_372_036_000_000_000),
            "2262-04-11 23:47:16 +0000 UTC"
        );
        assert_eq!(rfc3339_nano(None), "0001-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_nano(Some(1_675_245_600_500_000_000)),
            "2023-02-01T10:00:00.5Z"
        );
        assert_eq!(rfc3339_nano(Some(0)), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn query_escape_and_quote() {
        assert_eq!(query_escape("up == 0"), "up+%3D%3D+0");
        assert_eq!(query_escape("a{b=\"c\"}"), "a%7Bb%3D%22c%22%7D");
        assert_eq!(quote("a\"b\n"), "\"a\\\"b\\n\"");
    }
}
