//! The Prometheus text exposition format (version 0.0.4), one line at a time.
//!
//! A **sample line** is `name[{label="value",...}] value [timestamp]`: the name matches
//! `[a-zA-Z_:][a-zA-Z0-9_:]*`, label values escape `\\`, `\"` and `\n`, the value is a
//! float (`NaN`, `+Inf` and `-Inf` included) and the optional timestamp is integer
//! milliseconds. Lines starting with `#` (`# HELP`, `# TYPE`, other comments) and blank
//! lines carry no sample. Histogram and summary series (`_bucket` with `le`, `quantile`,
//! `_sum`, `_count`) are ordinary sample lines and are read as such.
//!
//! OpenMetrics text, which some exporters send whatever was asked for, differs on sample
//! lines only in its timestamps (float seconds) and its exemplars (`# {…} v` after the
//! value): [`Dialect::OpenMetrics`] reads both.

use std::borrow::Cow;

/// One sample, borrowing from its line where no unescaping was needed.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    pub name: &'a str,
    pub labels: Vec<(&'a str, Cow<'a, str>)>,
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: Option<i64>,
}

/// Which text format the body is in, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dialect {
    /// `text/plain; version=0.0.4` and anything unlabelled.
    Prometheus,
    /// `application/openmetrics-text`.
    OpenMetrics,
}

impl Dialect {
    pub fn from_content_type(content_type: &str) -> Self {
        if content_type
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("application/openmetrics-text")
        {
            Dialect::OpenMetrics
        } else {
            Dialect::Prometheus
        }
    }
}

/// The sample on `line`, `None` for a comment or a blank line, or why the line is
/// invalid.
pub fn parse_line(line: &str, dialect: Dialect) -> Result<Option<Sample<'_>>, String> {
    let line = line.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut rest = line;
    let name_len = rest
        .char_indices()
        .find(|&(i, c)| !is_name_char(c, i == 0))
        .map_or(rest.len(), |(i, _)| i);
    if name_len == 0 {
        return Err(format!("expected a metric name at {:?}", clip(rest)));
    }
    let name = &rest[..name_len];
    rest = skip_blanks(&rest[name_len..]);

    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = parse_labels(after, &mut labels)?;
        rest = skip_blanks(rest);
    } else if !rest.is_empty() && !line[name_len..].starts_with([' ', '\t']) {
        return Err(format!("unexpected {:?} after the metric name", clip(rest)));
    }

    let (value_text, after_value) = split_token(rest);
    if value_text.is_empty() {
        return Err(format!("{name}: no value"));
    }
    let value =
        parse_value(value_text).ok_or_else(|| format!("{name}: bad value {value_text:?}"))?;
    let mut rest = skip_blanks(after_value);
    if dialect == Dialect::OpenMetrics
        && let Some(exemplar) = rest.find('#')
    {
        rest = rest[..exemplar].trim_end();
    }

    let (ts_text, after_ts) = split_token(rest);
    let timestamp_ms = if ts_text.is_empty() {
        None
    } else {
        let ts = match dialect {
            Dialect::Prometheus => ts_text.parse::<i64>().ok(),
            Dialect::OpenMetrics => ts_text
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && s.abs() < 9.2e15)
                .map(|s| (s * 1000.0).round() as i64),
        };
        Some(ts.ok_or_else(|| format!("{name}: bad timestamp {ts_text:?}"))?)
    };
    if !skip_blanks(after_ts).is_empty() {
        return Err(format!(
            "{name}: unexpected {:?} after the timestamp",
            clip(after_ts.trim())
        ));
    }
    Ok(Some(Sample {
        name,
        labels,
        value,
        timestamp_ms,
    }))
}

/// Parses `name="value", ...}` (the `{` already consumed) into `labels`; returns what
/// follows the `}`.
fn parse_labels<'a>(
    mut rest: &'a str,
    labels: &mut Vec<(&'a str, Cow<'a, str>)>,
) -> Result<&'a str, String> {
    loop {
        rest = skip_blanks(rest);
        if let Some(after) = rest.strip_prefix('}') {
            return Ok(after);
        }
        let len = rest
            .char_indices()
            .find(|&(i, c)| !is_label_char(c, i == 0))
            .map_or(rest.len(), |(i, _)| i);
        if len == 0 {
            return Err(format!("expected a label name at {:?}", clip(rest)));
        }
        let label = &rest[..len];
        rest = skip_blanks(&rest[len..]);
        rest = rest
            .strip_prefix('=')
            .ok_or_else(|| format!("label {label}: expected '='"))?;
        rest = skip_blanks(rest);
        rest = rest
            .strip_prefix('"')
            .ok_or_else(|| format!("label {label}: expected a quoted value"))?;
        let (value, after) =
            parse_quoted(rest).ok_or_else(|| format!("label {label}: unterminated value"))?;
        labels.push((label, value));
        rest = skip_blanks(after);
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return Err(format!(
                "label {label}: expected ',' or '}}' after the value"
            ));
        }
    }
}

/// The content of a quoted value (the opening `"` consumed) with `\\`, `\"` and `\n`
/// undone, and what follows the closing `"`. Other backslashes are kept as they are.
fn parse_quoted(text: &str) -> Option<(Cow<'_, str>, &str)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut owned: Option<String> = None;
    let mut start = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let value = match owned {
                    Some(mut s) => {
                        s.push_str(&text[start..i]);
                        Cow::Owned(s)
                    }
                    None => Cow::Borrowed(&text[..i]),
                };
                return Some((value, &text[i + 1..]));
            }
            b'\\' if i + 1 < bytes.len() => {
                let s = owned.get_or_insert_with(String::new);
                s.push_str(&text[start..i]);
                match bytes[i + 1] {
                    b'\\' => s.push('\\'),
                    b'"' => s.push('"'),
                    b'n' => s.push('\n'),
                    _ => {
                        // Not an escape: keep the backslash; the next character is
                        // copied with the following run.
                        s.push('\\');
                        start = i + 1;
                        i += 1;
                        continue;
                    }
                }
                i += 2;
                start = i;
            }
            _ => i += 1,
        }
    }
    None
}

fn parse_value(text: &str) -> Option<f64> {
    // Rust's float syntax is Go's (which Prometheus uses) for everything exporters write;
    // Go also spells infinity `Inf`, which Rust reads too.
    text.parse::<f64>().ok()
}

fn is_name_char(c: char, first: bool) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':' || (!first && c.is_ascii_digit())
}

fn is_label_char(c: char, first: bool) -> bool {
    c.is_ascii_alphabetic() || c == '_' || (!first && c.is_ascii_digit())
}

fn skip_blanks(text: &str) -> &str {
    text.trim_start_matches([' ', '\t'])
}

/// The text up to the next blank, and the rest.
fn split_token(text: &str) -> (&str, &str) {
    let end = text.find([' ', '\t']).unwrap_or(text.len());
    text.split_at(end)
}

/// At most 40 bytes of `text` for an error message.
fn clip(text: &str) -> &str {
    let mut end = text.len().min(40);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(line: &str) -> Sample<'_> {
        parse_line(line, Dialect::Prometheus)
            .unwrap_or_else(|e| panic!("{line}: {e}"))
            .unwrap_or_else(|| panic!("{line}: no sample"))
    }

    #[test]
    fn plain_samples() {
        let s = sample("go_goroutines 42");
        assert_eq!(
            (s.name, s.value, s.timestamp_ms),
            ("go_goroutines", 42.0, None)
        );
        assert!(s.labels.is_empty());
        let s = sample("  up 1 1700000000000  ");
        assert_eq!(
            (s.name, s.value, s.timestamp_ms),
            ("up", 1.0, Some(1_700_000_000_000))
        );
        let s = sample("job:http_requests:rate5m\t1.5e3\t-5\r\n");
        assert_eq!(
            (s.name, s.value, s.timestamp_ms),
            ("job:http_requests:rate5m", 1500.0, Some(-5))
        );
    }

    #[test]
    fn special_values() {
        assert!(sample("x NaN").value.is_nan());
        assert_eq!(sample("x +Inf").value, f64::INFINITY);
        assert_eq!(sample("x -Inf").value, f64::NEG_INFINITY);
        assert_eq!(sample("x Inf").value, f64::INFINITY);
        assert_eq!(sample("x -0.5").value, -0.5);
    }

    #[test]
    fn labels_with_escapes_and_trailing_comma() {
        let s = sample(
            r#"http_requests_total{method="post",path="/a \"b\"\\c\nd",} 1027 1395066363000"#,
        );
        assert_eq!(s.name, "http_requests_total");
        assert_eq!(
            s.labels,
            vec![
                ("method", Cow::Borrowed("post")),
                ("path", Cow::Owned("/a \"b\"\\c\nd".to_string())),
            ]
        );
        assert_eq!(s.value, 1027.0);
        assert_eq!(s.timestamp_ms, Some(1_395_066_363_000));
        let s = sample(r#"bucket_le { le = "+Inf" , x="\q" } 3"#);
        assert_eq!(
            s.labels,
            vec![
                ("le", Cow::Borrowed("+Inf")),
                ("x", Cow::Owned("\\q".to_string()))
            ]
        );
        let s = sample(r#"empty{} 0"#);
        assert!(s.labels.is_empty());
        let s = sample(r#"comma{a="1,2}"} 0"#);
        assert_eq!(s.labels, vec![("a", Cow::Borrowed("1,2}"))]);
    }

    #[test]
    fn comments_and_blank_lines_have_no_sample() {
        for line in [
            "",
            "   ",
            "# HELP x Some help",
            "# TYPE x counter",
            "#",
            "# EOF",
        ] {
            assert_eq!(parse_line(line, Dialect::Prometheus), Ok(None), "{line:?}");
        }
    }

    #[test]
    fn invalid_lines_say_why() {
        let err = |line: &str| parse_line(line, Dialect::Prometheus).expect_err(line);
        assert_eq!(err("9lives 1"), "expected a metric name at \"9lives 1\"");
        assert_eq!(err("x"), "x: no value");
        assert_eq!(err("x abc"), "x: bad value \"abc\"");
        assert_eq!(err("x 1 12.5"), "x: bad timestamp \"12.5\"");
        assert_eq!(err("x 1 2 3"), "x: unexpected \"3\" after the timestamp");
        assert_eq!(err(r#"x{a="1"#), "label a: unterminated value");
        assert_eq!(err(r#"x{a=1} 2"#), "label a: expected a quoted value");
        assert_eq!(
            err(r#"x{a="1" b="2"} 2"#),
            "label a: expected ',' or '}' after the value"
        );
        assert_eq!(
            err(r#"x{"a"="1"} 2"#),
            "expected a label name at \"\\\"a\\\"=\\\"1\\\"} 2\""
        );
        assert_eq!(err("x-y 1"), "unexpected \"-y 1\" after the metric name");
    }

    #[test]
    fn openmetrics_timestamps_are_seconds_and_exemplars_are_skipped() {
        let s = parse_line(
            r#"foo_bucket{le="0.5"} 3 1700000000.25 # {trace_id="abc"} 0.4 1700000000.2"#,
            Dialect::OpenMetrics,
        );
        let s = s.expect("valid").expect("sample");
        assert_eq!(s.timestamp_ms, Some(1_700_000_000_250));
        let s = parse_line(r#"foo_total 3 # {trace_id="abc"} 1"#, Dialect::OpenMetrics);
        assert_eq!(s.expect("valid").expect("sample").timestamp_ms, None);
        assert_eq!(
            Dialect::from_content_type("application/openmetrics-text; version=1.0.0"),
            Dialect::OpenMetrics
        );
        assert_eq!(
            Dialect::from_content_type("text/plain; version=0.0.4"),
            Dialect::Prometheus
        );
    }

    #[test]
    fn garbage_does_not_panic() {
        for line in [
            "{",
            "x{",
            "x{a",
            "x{a=",
            "x{a=\"",
            "x{a=\"\\",
            "é 1",
            "x{é=\"1\"} 1",
            "x \u{0}",
        ] {
            let _ = parse_line(line, Dialect::Prometheus);
            let _ = parse_line(line, Dialect::OpenMetrics);
        }
    }
}
