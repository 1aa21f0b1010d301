//! tcollector output: the lines OpenTSDB's collectors print, so that tcollector's
//! collectors (and anything written for OpenTSDB's `put`) run unchanged.
//!
//! A **tcollector line** is `<metric> <timestamp> <value> [<tag>=<value> ...]`, fields
//! separated by spaces or tabs (<https://opentsdb.net/docs/build/html/user_guide/writing/index.html>):
//!
//! ```text
//! proc.loadavg.1min 1700000000 0.36 host=web-1
//! ```
//!
//! The **metric** becomes the series name as the server's OpenTSDB endpoint names it: the
//! characters outside `[a-zA-Z0-9_]` replaced by `_` (`proc_loadavg_1min`), and a name with
//! no `_` at all gets `_value` ([`super::format::named_point`]). The **timestamp** is
//! seconds up to 10 digits and milliseconds with 11 to 13, as OpenTSDB reads it; 0 means
//! the start of the round. The **tags** become labels.

use argus_core::line_protocol::Line;

use super::format::{Parsed, named_point};

/// Reads every line; blank lines and `#` comments are skipped, a bad line is reported with
/// its number and the others are kept.
pub(crate) fn parse(text: &str, now_ms: i64, out: &mut Parsed) {
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match point(line, now_ms) {
            Ok(p) => out.points.push(p),
            Err(e) => out.errors.push(format!("tcollector line {}: {e}", i + 1)),
        }
    }
}

/// Whether the first line that is not blank or a comment is a tcollector line, which is
/// how the format is detected; the error otherwise (`None` when there is no such line).
pub(crate) fn first_line_error(text: &str) -> Option<Result<(), String>> {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))?;
    Some(point(first, 0).map(|_| ()))
}

/// One line as a point.
fn point(line: &str, now_ms: i64) -> Result<Line<'static>, String> {
    const SHAPE: &str = "expected \"<metric> <timestamp> <value> [<tag>=<value> ...]\"";
    let mut fields = line.split_whitespace();
    let (Some(metric), Some(ts), Some(value)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(format!("{SHAPE}, found {line:?}"));
    };
    if metric.contains(['=', ',', '"']) {
        return Err(format!("metric {metric:?}: {SHAPE}"));
    }
    let ts = timestamp_ms(ts, now_ms).map_err(|e| format!("metric {metric:?}: {e}"))?;
    let value = value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("metric {metric:?}: value {value:?} is not a number"))?;
    let mut point = named_point(metric, value);
    for tag in fields {
        match tag.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() => {
                point = point.tag(k.to_string(), v.to_string());
            }
            _ => {
                return Err(format!(
                    "metric {metric:?}: tag {tag:?} is not <tag>=<value>"
                ));
            }
        }
    }
    Ok(point.timestamp(ts))
}

/// A timestamp: seconds up to 10 digits, milliseconds with 11 to 13; 0 is now.
fn timestamp_ms(ts: &str, now_ms: i64) -> Result<i64, String> {
    let digits = ts.len();
    match ts.parse::<i64>() {
        Ok(0) => Ok(now_ms),
        Ok(t) if t > 0 && digits <= 10 => Ok(t * 1000),
        Ok(t) if t > 0 && digits <= 13 => Ok(t),
        Ok(_) => Err(format!(
            "timestamp {ts:?} is neither seconds (up to 10 digits) nor milliseconds (13)"
        )),
        Err(_) => Err(format!("timestamp {ts:?} is not a whole number of seconds")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::format::tests::{NOW_MS, rendered};
    use super::*;

    /// Output → the samples it gives, and the errors.
    const CASES: &[(&str, &[&str], &[&str])] = &[
        (
            "proc.loadavg.1min 1700000000 0.36 host=web-1\n",
            &["proc_loadavg_1min{host=\"web-1\"} 0.36 @1700000000000"],
            &[],
        ),
        (
            "# a comment\n\nsys.cpu.user\t1700000000123\t42\tcpu=0  type=user\n",
            &["sys_cpu_user{cpu=\"0\",type=\"user\"} 42 @1700000000123"],
            &[],
        ),
        (
            "uptime 0 3600\nnet-if.rx-bytes 1700000000 1e3 iface=eth0\n",
            &[
                "uptime_value 3600 @now",
                "net_if_rx_bytes{iface=\"eth0\"} 1000 @1700000000000",
            ],
            &[],
        ),
        (
            "a.b 1700000000 1\na.b 1700000000\na.b 17000000001234 2\na.b x 3\n\
             a.b 1700000000 many\na.b 1700000000 4 dc\na.b 1700000000 5 =x\n\
             a.b -5 6\na.b 1700000000 NaN\n",
            &["a_b 1 @1700000000000"],
            &[
                "tcollector line 2: expected \"<metric> <timestamp> <value> [<tag>=<value> ...]\", \
                 found \"a.b 1700000000\"",
                "tcollector line 3: metric \"a.b\": timestamp \"17000000001234\" is neither seconds \
                 (up to 10 digits) nor milliseconds (13)",
                "tcollector line 4: metric \"a.b\": timestamp \"x\" is not a whole number of seconds",
                "tcollector line 5: metric \"a.b\": value \"many\" is not a number",
                "tcollector line 6: metric \"a.b\": tag \"dc\" is not <tag>=<value>",
                "tcollector line 7: metric \"a.b\": tag \"=x\" is not <tag>=<value>",
                "tcollector line 8: metric \"a.b\": timestamp \"-5\" is neither seconds (up to 10 \
                 digits) nor milliseconds (13)",
                "tcollector line 9: metric \"a.b\": value \"NaN\" is not a number",
            ],
        ),
    ];

    #[test]
    fn tcollector_cases() {
        for (input, samples, errors) in CASES {
            let mut out = Parsed::default();
            parse(input, NOW_MS, &mut out);
            assert_eq!(rendered(&out.points), *samples, "{input:?}");
            assert_eq!(out.errors, *errors, "{input:?}");
            assert!(out.events.is_empty());
        }
    }

    #[test]
    fn detection_needs_a_tcollector_first_line() {
        assert_eq!(
            first_line_error("# x\nsys.cpu 1700000000 1\n"),
            Some(Ok(()))
        );
        assert!(matches!(
            first_line_error("cpu idle=1 1700000000"),
            Some(Err(_))
        ));
        assert!(matches!(first_line_error("DISK OK - 5 free"), Some(Err(_))));
        assert!(matches!(
            first_line_error("m,a=b v=1 1700000000"),
            Some(Err(_))
        ));
        assert_eq!(first_line_error("\n# only a comment\n"), None);
    }
}
