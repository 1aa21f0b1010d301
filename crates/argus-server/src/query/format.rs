//! The Prometheus API's JSON shapes, written by hand where Prometheus's number formatting
//! differs from serde's: sample values are strings in Go's shortest form ("1000000",
//! "1e-07", "+Inf"), timestamps are seconds with up to three decimals.

use argus_core::{Labels, Sample};
use std::fmt::Write;

/// Formats a value as Prometheus does (jsoniter's float form, as strings).
pub fn format_value(v: f64, out: &mut String) {
    argus_core::gofloat::write(v, out);
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

/// `{"status":"success","data":{"resultType":<kind>,"result":[…]}}` with one object per
/// series: `{"metric":<labels>,` then what `rest` writes, then `}`.
fn result_json<T>(
    kind: &str,
    series: &[T],
    labels: impl Fn(&T) -> &Labels,
    rest: impl Fn(&T, &mut String),
) -> String {
    let mut out = format!(r#"{{"status":"success","data":{{"resultType":"{kind}","result":["#);
    for (i, s) in series.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"metric":"#);
        write_labels(labels(s), &mut out);
        rest(s, &mut out);
        out.push('}');
    }
    out.push_str("]}}");
    out
}

/// `{"status":"success","data":{"resultType":"vector","result":[…]}}`
pub fn vector_json(result: &[(Labels, Sample)]) -> String {
    result_json(
        "vector",
        result,
        |(l, _)| l,
        |(_, s), out| {
            out.push_str(r#","value":"#);
            write_point(s, out);
        },
    )
}

/// `{"status":"success","data":{"resultType":"matrix","result":[…]}}`
pub fn matrix_json(result: &[(Labels, Vec<Sample>)]) -> String {
    result_json(
        "matrix",
        result,
        |(l, _)| l,
        |(_, samples), out| {
            out.push_str(r#","values":["#);
            for (j, s) in samples.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                write_point(s, out);
            }
            out.push(']');
        },
    )
}

/// A JSON number as Go's `encoding/json` writes a float64: shortest round-trip form,
/// plain notation unless `|v| < 1e-6` or `|v| >= 1e21`. Used for the timestamps of scalar
/// and string results (Prometheus writes them as `float64(t) / 1000`).
fn format_json_number(v: f64, out: &mut String) {
    let a = v.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        argus_core::gofloat::write_exponent(v, out);
    } else if v == 0.0 {
        out.push('0');
    } else {
        let _ = write!(out, "{v}");
    }
}

/// A scalar's value as Prometheus's `Scalar.MarshalJSON` writes it:
/// `strconv.FormatFloat(v, 'f', -1, 64)`, never in exponent form.
fn format_value_plain(v: f64, out: &mut String) {
    argus_core::gofloat::write_plain(v, out);
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
}
