//! The Prometheus API's JSON shapes, written by hand where Prometheus's number formatting
//! differs from serde's: sample values are strings in Go's shortest form ("1000000",
//! "1e-07", "+Inf"), timestamps are seconds with up to three decimals.

use argus_core::{Labels, Sample};
use std::fmt::Write;

/// Formats a value as Prometheus does (jsoniter's float form, as strings).
pub fn format_value(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0" } else { "0" });
    } else if !format_short_decimal(v, out) {
        let a = v.abs();
        if !(1e-6..1e21).contains(&a) {
            go_exponent(v, out);
        } else {
            plain_shortest(v, out);
        }
    }
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

/// The fast path for what monitoring data mostly holds: values with at most three
/// decimals and fewer than 16 digits. Writes the shortest form and returns true when `v`
/// is exactly the double nearest to such a decimal (then that decimal is its shortest
/// round-trip form, as Go prints it); otherwise writes nothing and returns false.
fn format_short_decimal(v: f64, out: &mut String) -> bool {
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

/// Formats a millisecond timestamp as Prometheus does: seconds, and when the milliseconds
/// are not zero, exactly three decimals (`1.100`).
pub fn format_ts(ms: i64, out: &mut String) {
    if ms < 0 {
        out.push('-');
    }
    let a = ms.unsigned_abs();
    let mut buf = itoa::Buffer::new();
    out.push_str(buf.format(a / 1000));
    let frac = a % 1000;
    if frac != 0 {
        out.push('.');
        let f = buf.format(frac);
        for _ in f.len()..3 {
            out.push('0');
        }
        out.push_str(f);
    }
}

fn write_labels(l: &Labels, out: &mut String) {
    // Serializing a map of strings cannot fail.
    out.push_str(&serde_json::to_string(l).unwrap_or_else(|_| "{}".into()));
}

fn write_point(s: &Sample, out: &mut String) {
    out.push('[');
    format_ts(s.ts, out);
    out.push_str(",\"");
    format_value(s.value, out);
    out.push_str("\"]");
}

/// `{"status":"success","data":{"resultType":"vector","result":[…]}}`
pub fn vector_json(result: &[(Labels, Sample)]) -> String {
    let mut out = String::from(r#"{"status":"success","data":{"resultType":"vector","result":["#);
    for (i, (l, s)) in result.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"metric":"#);
        write_labels(l, &mut out);
        out.push_str(r#","value":"#);
        write_point(s, &mut out);
        out.push('}');
    }
    out.push_str("]}}");
    out
}

/// `{"status":"success","data":{"resultType":"matrix","result":[…]}}`
pub fn matrix_json(result: &[(Labels, Vec<Sample>)]) -> String {
    let mut out = String::from(r#"{"status":"success","data":{"resultType":"matrix","result":["#);
    for (i, (l, samples)) in result.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"metric":"#);
        write_labels(l, &mut out);
        out.push_str(r#","values":["#);
        for (j, s) in samples.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            write_point(s, &mut out);
        }
        out.push_str("]}");
    }
    out.push_str("]}}");
    out
}

/// `v` in exponent form as Go writes it: Rust writes "1e-7", Go "1e-07" and "1e+21" (a
/// sign always, at least two exponent digits).
fn go_exponent(v: f64, out: &mut String) {
    let s = format!("{v:e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    let _ = write!(out, "{mant}e{sign}{digits:0>2}");
}

/// A JSON number as Go's `encoding/json` writes a float64: shortest round-trip form,
/// plain notation unless `|v| < 1e-6` or `|v| >= 1e21`. Used for the timestamps of scalar
/// and string results (Prometheus writes them as `float64(t) / 1000`).
fn format_json_number(v: f64, out: &mut String) {
    let a = v.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        go_exponent(v, out);
    } else if v == 0.0 {
        out.push('0');
    } else {
        let _ = write!(out, "{v}");
    }
}

/// A scalar's value as Prometheus's `Scalar.MarshalJSON` writes it:
/// `strconv.FormatFloat(v, 'f', -1, 64)`, never in exponent form.
fn format_value_plain(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        // Rust's `Display` for f64 is the shortest round-trip digits in plain notation,
        // as Go's 'f' with precision -1 ("-0" for negative zero in both).
        let _ = write!(out, "{v}");
    }
}

/// Above this many points a matrix answer is formatted on several threads.
const PAR_FORMAT_POINTS: usize = 50_000;

/// The series of a matrix, comma-separated, in the `result` array's shape.
fn write_matrix_series(series: &[argus_core::TimeSeries], out: &mut String) {
    for (i, s) in series.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"metric":"#);
        write_labels(&s.labels, out);
        out.push_str(r#","values":["#);
        for (j, p) in s.samples.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            write_point(p, out);
        }
        out.push_str("]}");
    }
}

/// The success body of a PromQL result, in Prometheus's shape for each kind:
/// `scalar` and `string` as `[<seconds>, "<value>"]`, `vector` as
/// `[{"metric":…,"value":[…]}]`, `matrix` as `[{"metric":…,"values":[[…],…]}]`.
pub fn value_json(v: &argus_promql::Value) -> String {
    use argus_promql::Value;
    match v {
        Value::Scalar { ts, v } => {
            let mut out =
                String::from(r#"{"status":"success","data":{"resultType":"scalar","result":["#);
            format_json_number(*ts as f64 / 1000.0, &mut out);
            out.push_str(",\"");
            format_value_plain(*v, &mut out);
            out.push_str("\"]}}");
            out
        }
        Value::String { ts, s } => {
            let mut out =
                String::from(r#"{"status":"success","data":{"resultType":"string","result":["#);
            format_json_number(*ts as f64 / 1000.0, &mut out);
            out.push(',');
            out.push_str(&serde_json::Value::String(s.clone()).to_string());
            out.push_str("]}}");
            out
        }
        Value::Vector(items) => {
            let mut out =
                String::from(r#"{"status":"success","data":{"resultType":"vector","result":["#);
            for (i, (l, ts, v)) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                write_labels(l, &mut out);
                out.push_str(r#","value":"#);
                write_point(&Sample { ts: *ts, value: *v }, &mut out);
                out.push('}');
            }
            out.push_str("]}}");
            out
        }
        Value::Matrix(series) => {
            let mut out =
                String::from(r#"{"status":"success","data":{"resultType":"matrix","result":["#);
            let points: usize = series.iter().map(|s| s.samples.len()).sum();
            let threads = if points < PAR_FORMAT_POINTS {
                1
            } else {
                std::thread::available_parallelism()
                    .map_or(1, |n| n.get())
                    .min(8)
                    .min(series.len())
            };
            if threads <= 1 {
                out.reserve(points * 32 + series.len() * 128);
                write_matrix_series(series, &mut out);
            } else {
                // Formatting floats dominates large answers: a chunk of series per core,
                // joined in order.
                let chunk = series.len().div_ceil(threads);
                let parts: Vec<String> = std::thread::scope(|s| {
                    let handles: Vec<_> = series
                        .chunks(chunk)
                        .map(|c| {
                            s.spawn(move || {
                                // About 32 bytes per point: no regrowth for typical values.
                                let points: usize = c.iter().map(|s| s.samples.len()).sum();
                                let mut part = String::with_capacity(points * 32 + c.len() * 128);
                                write_matrix_series(c, &mut part);
                                part
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                        .collect()
                });
                out.reserve(parts.iter().map(String::len).sum::<usize>() + parts.len());
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(part);
                }
            }
            out.push_str("]}}");
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: f64) -> String {
        let mut s = String::new();
        format_value(x, &mut s);
        s
    }

    fn t(ms: i64) -> String {
        let mut s = String::new();
        format_ts(ms, &mut s);
        s
    }

    #[test]
    fn values_as_prometheus_writes_them() {
        assert_eq!(v(1e6), "1000000");
        assert_eq!(v(1e-7), "1e-07");
        assert_eq!(v(1.5e21), "1.5e+21");
        assert_eq!(v(0.1), "0.1");
        assert_eq!(v(-2.5), "-2.5");
        assert_eq!(v(f64::NAN), "NaN");
        assert_eq!(v(f64::INFINITY), "+Inf");
        assert_eq!(v(f64::NEG_INFINITY), "-Inf");
        assert_eq!(v(123456789.0), "123456789");
        assert_eq!(v(12.34), "12.34");
        assert_eq!(v(-0.05), "-0.05");
        assert_eq!(v(100.5), "100.5");
        assert_eq!(v(0.001), "0.001");
        assert_eq!(v(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(v(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(v(1e15), "1000000000000000");
        assert_eq!(v(123456.789), "123456.789");
    }

    /// The fast path agrees with the general one (Rust's shortest round-trip `Display`).
    #[test]
    fn fast_path_matches_display() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let d = (x % 4) as i32;
            let m = (x >> 8) % 10_000_000_000;
            let val = m as f64 / 10f64.powi(d) * if x & 1 == 0 { 1.0 } else { -1.0 };
            if val == 0.0 {
                continue;
            }
            let mut fast = String::new();
            if format_short_decimal(val, &mut fast) {
                assert_eq!(fast, format!("{val}"), "{val:?}");
            }
            let raw = f64::from_bits(x);
            let mut fast = String::new();
            if raw.is_finite() && format_short_decimal(raw, &mut fast) {
                assert_eq!(fast, format!("{raw}"));
            }
        }
    }

    #[test]
    fn every_value_kind_in_prometheus_shape() {
        use argus_promql::Value;
        assert_eq!(
            value_json(&Value::Scalar {
                ts: 1_435_781_451_781,
                v: 1e-7
            }),
            r#"{"status":"success","data":{"resultType":"scalar","result":[1435781451.781,"0.0000001"]}}"#
        );
        assert_eq!(
            value_json(&Value::Scalar {
                ts: 2000,
                v: f64::NEG_INFINITY
            }),
            r#"{"status":"success","data":{"resultType":"scalar","result":[2,"-Inf"]}}"#
        );
        assert_eq!(
            value_json(&Value::String {
                ts: 1500,
                s: "a\"b".into()
            }),
            r#"{"status":"success","data":{"resultType":"string","result":[1.5,"a\"b"]}}"#
        );
        let l = Labels::from_pairs([("__name__", "up"), ("job", "x")]);
        assert_eq!(
            value_json(&Value::Vector(vec![(l.clone(), 1_100, f64::NAN)])),
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"x"},"value":[1.100,"NaN"]}]}}"#
        );
        let m = Value::Matrix(vec![argus_core::TimeSeries {
            labels: l,
            samples: vec![
                Sample {
                    ts: 1000,
                    value: 1e6,
                },
                Sample {
                    ts: 2000,
                    value: f64::INFINITY,
                },
            ],
        }]);
        assert_eq!(
            value_json(&m),
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","job":"x"},"values":[[1,"1000000"],[2,"+Inf"]]}]}}"#
        );
        assert_eq!(
            value_json(&Value::Vector(vec![])),
            r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#
        );
    }

    #[test]
    fn timestamps_as_seconds() {
        assert_eq!(t(1_435_781_451_781), "1435781451.781");
        assert_eq!(t(1_100), "1.100");
        assert_eq!(t(2_000), "2");
        assert_eq!(t(-500), "-0.500");
    }

    #[test]
    fn a_large_matrix_formats_the_same_on_several_threads() {
        let series: Vec<argus_core::TimeSeries> = (0..7)
            .map(|k| argus_core::TimeSeries {
                labels: Labels::from_pairs([("host", format!("h{k}"))]),
                samples: (0..10_000)
                    .map(|i| Sample {
                        ts: i * 1000,
                        value: (i * k) as f64 / 3.0,
                    })
                    .collect(),
            })
            .collect();
        let mut seq =
            String::from(r#"{"status":"success","data":{"resultType":"matrix","result":["#);
        write_matrix_series(&series, &mut seq);
        seq.push_str("]}}");
        let got = value_json(&argus_promql::Value::Matrix(series));
        assert_eq!(got, seq);
        let v: serde_json::Value = serde_json::from_str(&got).unwrap_or_default();
        assert_eq!(v["data"]["result"].as_array().map(Vec::len), Some(7));
        assert_eq!(v["data"]["result"][6]["metric"]["host"], "h6");
        assert_eq!(v["data"]["result"][6]["values"][3][1], "6");
    }

    #[test]
    fn ryu_plain_digits_equal_display() {
        // Random doubles over the plain-notation range, and a few edges.
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
            // Values of monitoring scale too.
            values.push((x % 10_000_000_000) as f64 / 7.0);
        }
        for v in values {
            let mut got = String::new();
            plain_shortest(v, &mut got);
            // The same shortest length as Display, and the same double when read back
            // (the digits differ only where two are equally near: see below).
            assert_eq!(got.len(), format!("{v}").len(), "{v:e}: {got}");
            assert_eq!(got.parse::<f64>().ok(), Some(v), "{v:e}: {got}");
        }
        // 1000000000000000.25 is exactly halfway between …0.2 and …0.3: Go's strconv
        // (Prometheus) and Ryu round the tie to even; Rust's Display rounds it up.
        let mut tie = String::new();
        plain_shortest(1e15 + 0.25, &mut tie);
        assert_eq!(tie, "1000000000000000.2");
    }
}
