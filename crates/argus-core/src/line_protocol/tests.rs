//! Tests for the parser, the writer and the mapping to series: one test per syntax feature
//! and per error (asserting its line, column and message), then property tests that write
//! arbitrary lines and read them back, and that arbitrary input never panics.

use super::*;
use crate::model::{Labels, Sample, TimeSeries};
use proptest::prelude::*;

/// Parses input holding exactly one line, which must be valid.
fn one(input: &str) -> Line<'_> {
    let mut lines = parse(input);
    let line = match lines.next() {
        Some(Ok(line)) => line,
        Some(Err(e)) => panic!("{input:?}: {e}"),
        None => panic!("{input:?}: no line"),
    };
    assert_eq!(lines.next(), None, "{input:?}: more than one line");
    line
}

/// Parses input holding exactly one line, which must be invalid, and checks the error.
#[track_caller]
fn assert_error(input: &str, line: usize, column: usize, message: &str) {
    let results: Vec<_> = parse(input).collect();
    let expected = ParseError {
        line,
        column,
        message: message.to_string(),
    };
    assert_eq!(results, vec![Err(expected)], "{input:?}");
}

fn field<'a>(line: &'a Line<'_>, key: &str) -> &'a FieldValue<'a> {
    match line.fields.iter().find(|(k, _)| k == key) {
        Some((_, v)) => v,
        None => panic!("no field {key:?} in {line:?}"),
    }
}

fn float(input: &str) -> f64 {
    match one(&format!("m v={input}")).fields[0].1 {
        FieldValue::Float(v) => v,
        ref other => panic!("{input:?} parsed as {other:?}"),
    }
}

fn pairs<'a>(tags: &'a [(Cow<'_, str>, Cow<'_, str>)]) -> Vec<(&'a str, &'a str)> {
    tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect()
}

// ---- Syntax ----

#[test]
fn minimal_line() {
    let line = one("cpu v=1");
    assert_eq!(line, Line::new("cpu").float("v", 1.0));
}

#[test]
fn full_line_keeps_tag_and_field_order() {
    let line = one("cpu,zone=b,host=h1 usage=0.5,count=3i,up=true,msg=\"ok\" 1700000000");
    assert_eq!(
        line,
        Line::new("cpu")
            .tag("zone", "b")
            .tag("host", "h1")
            .float("usage", 0.5)
            .int("count", 3)
            .bool("up", true)
            .string("msg", "ok")
            .timestamp(1_700_000_000)
    );
}

#[test]
fn unescaped_names_and_strings_are_borrowed() {
    let line = one("cpu,host=h1 msg=\"x\" 1");
    assert!(matches!(line.measurement, Cow::Borrowed("cpu")));
    assert!(matches!(line.tags[0].0, Cow::Borrowed("host")));
    assert!(matches!(line.tags[0].1, Cow::Borrowed("h1")));
    assert!(matches!(line.fields[0].0, Cow::Borrowed("msg")));
    assert!(matches!(
        line.fields[0].1,
        FieldValue::Str(Cow::Borrowed("x"))
    ));
    // An unknown escape is kept as written, so it needs no copy either.
    let line = one(r"m,path=C:\Temp v=1");
    assert!(matches!(line.tags[0].1, Cow::Borrowed(r"C:\Temp")));
}

#[test]
fn measurement_escapes() {
    assert_eq!(one(r"my\ cpu\,x v=1").measurement, "my cpu,x");
    assert!(matches!(one(r"a\ b v=1").measurement, Cow::Owned(_)));
    // `\\` is one backslash; a backslash before anything else is literal.
    assert_eq!(one(r"a\\b v=1").measurement, r"a\b");
    assert_eq!(one(r"a\b v=1").measurement, r"a\b");
    assert_eq!(one(r"a\\\ b v=1").measurement, r"a\ b");
    // `=` needs no escape in a measurement, and `\=` is not an escape there.
    assert_eq!(one("a=b v=1").measurement, "a=b");
    assert_eq!(one(r"a\=b v=1").measurement, r"a\=b");
    assert_eq!(
        one(r"\#not\ a\ comment v=1").measurement,
        r"\#not a comment"
    );
    assert_eq!(one("\"q\" v=1").measurement, "\"q\"");
    assert_eq!(one("température v=1").measurement, "température");
}

#[test]
fn tag_escapes() {
    let line = one(r"m,k\ 1\,\==v\ 1\,\= f=1");
    assert_eq!(pairs(&line.tags), vec![("k 1,=", "v 1,=")]);
    // An unescaped `=` in a tag value is literal.
    assert_eq!(pairs(&one("m,k=a=b f=1").tags), vec![("k", "a=b")]);
    assert_eq!(pairs(&one(r"m,k=a\\ f=1").tags), vec![("k", r"a\")]);
    assert_eq!(
        pairs(&one(r"m,k=C:\Temp f=1").tags),
        vec![("k", r"C:\Temp")]
    );
    assert_eq!(pairs(&one("m,k=\"v\" f=1").tags), vec![("k", "\"v\"")]);
    assert_eq!(pairs(&one("m,k=a\tb f=1").tags), vec![("k", "a\tb")]);
}

#[test]
fn field_key_escapes() {
    let line = one(r"m f\ 1\,\==1,\\=2");
    assert_eq!(line.fields[0].0, "f 1,=");
    assert_eq!(line.fields[1].0, r"\");
}

#[test]
fn string_values() {
    let line = one(r#"m a="hello, world = x",b="say \"hi\"",c="back\\slash",d="C:\Temp",e="""#);
    assert_eq!(
        *field(&line, "a"),
        FieldValue::Str("hello, world = x".into())
    );
    assert_eq!(*field(&line, "b"), FieldValue::Str(r#"say "hi""#.into()));
    assert_eq!(*field(&line, "c"), FieldValue::Str(r"back\slash".into()));
    assert_eq!(*field(&line, "d"), FieldValue::Str(r"C:\Temp".into()));
    assert_eq!(*field(&line, "e"), FieldValue::Str("".into()));
    // `\\` before the closing quote is a backslash, not an escaped quote.
    let line = one(r#"m a="x\\",b=1"#);
    assert_eq!(*field(&line, "a"), FieldValue::Str(r"x\".into()));
    assert_eq!(*field(&line, "b"), FieldValue::Float(1.0));
}

#[test]
fn string_value_may_span_lines() {
    let input = "m s=\"one\ntwo, three=\\\"4\\\"\" 5\nm v=2\n";
    let lines: Vec<_> = parse(input).collect();
    assert_eq!(
        lines,
        vec![
            Ok(Line::new("m")
                .string("s", "one\ntwo, three=\"4\"")
                .timestamp(5)),
            Ok(Line::new("m").float("v", 2.0)),
        ]
    );
}

#[test]
fn error_after_a_multi_line_string_counts_physical_lines() {
    let input = "m s=\"a\nb\nc\" 1\nm v=\n";
    let results: Vec<_> = parse(input).collect();
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    assert_eq!(
        results[1],
        Err(ParseError {
            line: 4,
            column: 5,
            message: "expected a value for field \"v\" after '='".into()
        })
    );
    // An error inside the line, after the string's newlines, is placed on its own line.
    assert_error(
        "m s=\"a\nb\" x",
        2,
        4,
        "invalid timestamp \"x\": expected an integer",
    );
}

#[test]
fn integers() {
    assert_eq!(float("1"), 1.0);
    let cases = [
        ("0i", FieldValue::Int(0)),
        ("123i", FieldValue::Int(123)),
        ("-123i", FieldValue::Int(-123)),
        ("-0i", FieldValue::Int(0)),
        ("9223372036854775807i", FieldValue::Int(i64::MAX)),
        ("-9223372036854775808i", FieldValue::Int(i64::MIN)),
        ("0u", FieldValue::UInt(0)),
        ("123u", FieldValue::UInt(123)),
        ("18446744073709551615u", FieldValue::UInt(u64::MAX)),
    ];
    for (text, value) in cases {
        assert_eq!(one(&format!("m v={text}")).fields[0].1, value, "{text}");
    }
}

#[test]
fn floats_in_every_form() {
    let cases = [
        ("1", 1.0),
        ("-1.5", -1.5),
        ("1.", 1.0),
        (".5", 0.5),
        ("-.5", -0.5),
        ("1e10", 1e10),
        ("1E-5", 1e-5),
        ("1.5e+3", 1500.0),
        ("1.e2", 100.0),
        ("007", 7.0),
        ("0.1", 0.1),
        ("1.7976931348623157e308", f64::MAX),
        ("5e-324", 5e-324),
        ("1e-400", 0.0),
    ];
    for (text, value) in cases {
        assert_eq!(float(text).to_bits(), value.to_bits(), "{text}");
    }
    assert_eq!(float("-0").to_bits(), (-0.0f64).to_bits());
}

#[test]
fn booleans_in_every_spelling() {
    for text in ["t", "T", "true", "True", "TRUE"] {
        assert_eq!(
            one(&format!("m v={text}")).fields[0].1,
            FieldValue::Bool(true)
        );
    }
    for text in ["f", "F", "false", "False", "FALSE"] {
        assert_eq!(
            one(&format!("m v={text}")).fields[0].1,
            FieldValue::Bool(false)
        );
    }
}

#[test]
fn timestamps() {
    assert_eq!(one("m v=1 0").timestamp, Some(0));
    assert_eq!(one("m v=1 -5").timestamp, Some(-5));
    assert_eq!(one("m v=1 9223372036854775807").timestamp, Some(i64::MAX));
    assert_eq!(one("m v=1 -9223372036854775808").timestamp, Some(i64::MIN));
    assert_eq!(one("m v=1").timestamp, None);
    assert_eq!(one("m v=1   7  ").timestamp, Some(7));
    assert_eq!(one("m v=1\t7").timestamp, Some(7));
}

#[test]
fn blank_lines_comments_and_whitespace() {
    let input = "\n# a comment\n   \t# indented comment\n\n  \t \r\ncpu v=1\r\n  mem,host=a  v=2i  \t\r\n\n# done";
    let lines: Vec<_> = parse(input).collect();
    assert_eq!(
        lines,
        vec![
            Ok(Line::new("cpu").float("v", 1.0)),
            Ok(Line::new("mem").tag("host", "a").int("v", 2)),
        ]
    );
    assert_eq!(parse("").count(), 0);
    assert_eq!(parse("\n\n# only comments\n#x v=1\n").count(), 0);
}

#[test]
fn crlf_after_a_timestamp_and_a_string() {
    let lines: Vec<_> = parse("a v=1 5\r\nb s=\"x\"\r\n").collect();
    assert_eq!(
        lines,
        vec![
            Ok(Line::new("a").float("v", 1.0).timestamp(5)),
            Ok(Line::new("b").string("s", "x")),
        ]
    );
}

#[test]
fn duplicate_tags_and_fields_are_kept_in_order() {
    let line = one("m,a=1,a=2 v=1,v=2i");
    assert_eq!(pairs(&line.tags), vec![("a", "1"), ("a", "2")]);
    assert_eq!(line.fields.len(), 2);
}

#[test]
fn backslash_before_newline_is_literal_and_the_newline_ends_the_line() {
    let results: Vec<_> = parse("m v=1,k\\\nm v=2").collect();
    assert_eq!(
        results,
        vec![
            Err(ParseError {
                line: 1,
                column: 9,
                message: "expected '=' after field key \"k\\\\\"".into()
            }),
            Ok(Line::new("m").float("v", 2.0)),
        ]
    );
}

#[test]
fn parsing_continues_after_an_error() {
    let input = "cpu v=1\nbad line\ncpu v=2\n\ncpu v=\ncpu v=3";
    let results: Vec<_> = parse(input).collect();
    assert_eq!(results.len(), 5);
    assert_eq!(results[0], Ok(Line::new("cpu").float("v", 1.0)));
    assert_eq!(
        results[1].as_ref().map_err(|e| (e.line, e.column)),
        Err((2, 9))
    );
    assert_eq!(results[2], Ok(Line::new("cpu").float("v", 2.0)));
    assert_eq!(
        results[3].as_ref().map_err(|e| (e.line, e.column)),
        Err((5, 7))
    );
    assert_eq!(results[4], Ok(Line::new("cpu").float("v", 3.0)));
}

#[test]
fn an_unterminated_string_costs_only_its_line() {
    let results: Vec<_> = parse("m s=\"abc\nm v=1\n").collect();
    assert_eq!(
        results,
        vec![
            Err(ParseError {
                line: 1,
                column: 5,
                message: "unterminated string value for field \"s\": expected a closing '\"'"
                    .into()
            }),
            Ok(Line::new("m").float("v", 1.0)),
        ]
    );
}

#[test]
fn a_missing_closing_quote_pairs_with_the_next_opening_one() {
    // As in InfluxDB: the string runs to the next quote, and the line breaks after it.
    let results: Vec<_> = parse("a s=\"x\nb s=\"y\"\nc v=1").collect();
    assert_eq!(
        results,
        vec![
            Err(ParseError {
                line: 2,
                column: 6,
                message: "expected ',' or ' ' after the string value of field \"s\"".into()
            }),
            Ok(Line::new("c").float("v", 1.0)),
        ]
    );
}

#[test]
fn into_owned_outlives_the_input() {
    let owned = {
        let input = String::from(r#"m\ x,t=a\,b s="q\"",v=1i 5"#);
        let line = one(&input).into_owned();
        drop(input);
        line
    };
    assert_eq!(
        owned,
        Line::new("m x")
            .tag("t", "a,b")
            .string("s", "q\"")
            .int("v", 1)
            .timestamp(5)
    );
}

// ---- Errors: line, column and message ----

#[test]
fn error_display() {
    let err = parse("# header\n\ncpu,host=a usage 1")
        .next()
        .and_then(Result::err)
        .expect("an error");
    assert_eq!(
        err.to_string(),
        "line 3, column 17: expected '=' after field key \"usage\""
    );
    let as_error: &dyn std::error::Error = &err;
    assert!(as_error.source().is_none());
}

#[test]
fn errors_in_the_measurement_and_tags() {
    assert_error(",t=1 v=1", 1, 1, "expected a measurement name");
    assert_error(
        "cpu",
        1,
        4,
        "expected a space and then at least one field (a line needs a field set)",
    );
    assert_error(
        "cpu  \r",
        1,
        4,
        "expected a space and then at least one field (a line needs a field set)",
    );
    assert_error(
        "cpu,host=a",
        1,
        11,
        "expected a space and then at least one field (a line needs a field set)",
    );
    assert_error("cpu, v=1", 1, 5, "expected a tag key after ','");
    assert_error("cpu,=a v=1", 1, 5, "expected a tag key after ','");
    assert_error("cpu,,a=b v=1", 1, 5, "expected a tag key after ','");
    assert_error("cpu,host v=1", 1, 9, "expected '=' after tag key \"host\"");
    assert_error(
        "cpu,host,a=b v=1",
        1,
        9,
        "expected '=' after tag key \"host\"",
    );
    assert_error(
        "cpu,host= v=1",
        1,
        10,
        "expected a value for tag \"host\" after '='",
    );
    assert_error(
        "cpu,host=,a=b v=1",
        1,
        10,
        "expected a value for tag \"host\" after '='",
    );
}

#[test]
fn errors_in_the_field_set() {
    assert_error("cpu =1", 1, 5, "expected a field key");
    assert_error("cpu v=1,", 1, 9, "expected a field key");
    assert_error("cpu v=1, w=2", 1, 9, "expected a field key");
    assert_error("cpu usage", 1, 10, "expected '=' after field key \"usage\"");
    assert_error(
        "cpu usage,v=1",
        1,
        10,
        "expected '=' after field key \"usage\"",
    );
    assert_error("cpu v=", 1, 7, "expected a value for field \"v\" after '='");
    assert_error(
        "cpu v=,w=1",
        1,
        7,
        "expected a value for field \"v\" after '='",
    );
    assert_error(
        "cpu v= 1",
        1,
        7,
        "expected a value for field \"v\" after '='",
    );
}

#[test]
fn errors_in_values() {
    let any_value = "expected a number, a boolean (t, T, true, True, TRUE, f, F, false, False, FALSE) \
                     or a double-quoted string";
    assert_error(
        "m v=abc",
        1,
        5,
        &format!("invalid value \"abc\" for field \"v\": {any_value}"),
    );
    assert_error(
        "m v=yes",
        1,
        5,
        &format!("invalid value \"yes\" for field \"v\": {any_value}"),
    );
    assert_error(
        "m v=tRUE",
        1,
        5,
        &format!("invalid value \"tRUE\" for field \"v\": {any_value}"),
    );
    assert_error(
        "m v=truex",
        1,
        5,
        &format!("invalid value \"truex\" for field \"v\": {any_value}"),
    );
    assert_error(
        "m v='s'",
        1,
        5,
        &format!("invalid value \"'s'\" for field \"v\": {any_value}"),
    );
    assert_error(
        "m v=+1.5",
        1,
        5,
        "invalid value \"+1.5\" for field \"v\": a number cannot start with '+'",
    );
    for text in ["NaN", "nan", "inf", "Infinity", "-inf", "-NaN"] {
        assert_error(
            &format!("m v={text}"),
            1,
            5,
            &format!(
                "invalid value \"{text}\" for field \"v\": NaN and infinity are not valid in line protocol"
            ),
        );
    }
    let number = "expected a float (1.5, -2, 1e-3), an integer (1i) or an unsigned integer (1u)";
    for text in [
        "1.2.3", "1e", "1e+", "-", ".", "-.", "0x10", "1_000", "1.5i", "1e3i", "-i", "i", "1.5u",
        "12a", "1\"", "1=2",
    ] {
        let expected = if text.starts_with(|c: char| c == '-' || c == '.' || c.is_ascii_digit()) {
            format!(
                "invalid number \"{}\" for field \"v\": {number}",
                text.replace('"', "\\\"")
            )
        } else {
            format!("invalid value \"{text}\" for field \"v\": {any_value}")
        };
        assert_error(&format!("m v={text}"), 1, 5, &expected);
    }
    assert_error(
        "m v=9223372036854775808i",
        1,
        5,
        "integer \"9223372036854775808i\" for field \"v\" is out of range \
         (-9223372036854775808i to 9223372036854775807i)",
    );
    assert_error(
        "m v=-9223372036854775809i",
        1,
        5,
        "integer \"-9223372036854775809i\" for field \"v\" is out of range \
         (-9223372036854775808i to 9223372036854775807i)",
    );
    assert_error(
        "m v=18446744073709551616u",
        1,
        5,
        "unsigned integer \"18446744073709551616u\" for field \"v\" is out of range \
         (0u to 18446744073709551615u)",
    );
    assert_error(
        "m v=-1u",
        1,
        5,
        "unsigned integer \"-1u\" for field \"v\" cannot be negative",
    );
    assert_error(
        "m v=1e400",
        1,
        5,
        "float \"1e400\" for field \"v\" is out of range",
    );
    assert_error(
        "m v=-1e400",
        1,
        5,
        "float \"-1e400\" for field \"v\" is out of range",
    );
}

#[test]
fn errors_in_strings() {
    assert_error(
        "m s=\"abc",
        1,
        5,
        "unterminated string value for field \"s\": expected a closing '\"'",
    );
    assert_error(
        r#"m s="ab\""#,
        1,
        5,
        "unterminated string value for field \"s\": expected a closing '\"'",
    );
    assert_error(
        "m s=\"a\"b",
        1,
        8,
        "expected ',' or ' ' after the string value of field \"s\"",
    );
    assert_error(
        "m s=\"a\"\"b\"",
        1,
        8,
        "expected ',' or ' ' after the string value of field \"s\"",
    );
}

#[test]
fn errors_in_the_timestamp() {
    assert_error(
        "m v=1 abc",
        1,
        7,
        "invalid timestamp \"abc\": expected an integer",
    );
    assert_error(
        "m v=1 1.5",
        1,
        7,
        "invalid timestamp \"1.5\": expected an integer",
    );
    assert_error(
        "m v=1 +5",
        1,
        7,
        "invalid timestamp \"+5\": expected an integer",
    );
    assert_error(
        "m a=1 b=2",
        1,
        7,
        "invalid timestamp \"b=2\": expected an integer (fields are separated by ',', not ' ')",
    );
    assert_error(
        "m v=1 9223372036854775808",
        1,
        7,
        "timestamp \"9223372036854775808\" is out of range for a 64-bit signed integer",
    );
    assert_error(
        "m v=1 5 6",
        1,
        9,
        "unexpected \"6\" after the timestamp: expected the end of the line",
    );
    assert_error(
        "m v=1 5,x",
        1,
        8,
        "unexpected \",x\" after the timestamp: expected the end of the line",
    );
}

#[test]
fn long_tokens_are_cut_short_in_messages() {
    let key = "k".repeat(100);
    let message = format!("expected '=' after field key \"{}\"…", "k".repeat(40));
    assert_error(&format!("m {key}"), 1, 103, &message);
}

#[test]
fn columns_count_bytes() {
    // "é" is two bytes.
    assert_error(
        "é v=x",
        1,
        6,
        "invalid value \"x\" for field \"v\": expected a number, a boolean (t, T, true, True, \
         TRUE, f, F, false, False, FALSE) or a double-quoted string",
    );
}

// ---- Precision ----

#[test]
fn precision_spellings() {
    let cases = [
        ("n", Precision::Nanoseconds),
        ("ns", Precision::Nanoseconds),
        ("u", Precision::Microseconds),
        ("us", Precision::Microseconds),
        ("µ", Precision::Microseconds),
        ("µs", Precision::Microseconds),
        ("μs", Precision::Microseconds),
        ("ms", Precision::Milliseconds),
        ("s", Precision::Seconds),
        ("m", Precision::Minutes),
        ("h", Precision::Hours),
    ];
    for (text, p) in cases {
        assert_eq!(text.parse::<Precision>(), Ok(p), "{text}");
        assert_eq!(p.to_string().parse::<Precision>(), Ok(p));
    }
    let err = "MS"
        .parse::<Precision>()
        .expect_err("MS is not a precision");
    assert_eq!(
        err.to_string(),
        "unknown precision \"MS\": expected one of n, ns, u, us, µ, µs, ms, s, m, h"
    );
    assert!("".parse::<Precision>().is_err());
    assert_eq!(Precision::default(), Precision::Nanoseconds);
}

#[test]
fn precision_to_millis_floors_and_saturates() {
    assert_eq!(
        Precision::Nanoseconds.to_millis(1_700_000_000_123_456_789),
        1_700_000_000_123
    );
    assert_eq!(Precision::Nanoseconds.to_millis(999_999), 0);
    assert_eq!(Precision::Nanoseconds.to_millis(-1), -1);
    assert_eq!(Precision::Nanoseconds.to_millis(-1_000_000), -1);
    assert_eq!(Precision::Nanoseconds.to_millis(-1_000_001), -2);
    assert_eq!(Precision::Microseconds.to_millis(1_999), 1);
    assert_eq!(Precision::Microseconds.to_millis(-1), -1);
    assert_eq!(Precision::Milliseconds.to_millis(-7), -7);
    assert_eq!(
        Precision::Seconds.to_millis(1_700_000_000),
        1_700_000_000_000
    );
    assert_eq!(Precision::Seconds.to_millis(-2), -2_000);
    assert_eq!(Precision::Minutes.to_millis(2), 120_000);
    assert_eq!(Precision::Hours.to_millis(2), 7_200_000);
    assert_eq!(Precision::Seconds.to_millis(i64::MAX), i64::MAX);
    assert_eq!(Precision::Hours.to_millis(i64::MIN), i64::MIN);
    assert_eq!(
        Precision::Nanoseconds.to_millis(i64::MIN),
        i64::MIN / 1_000_000 - 1
    );
}

#[test]
fn precision_from_millis_inverts_to_millis() {
    assert_eq!(Precision::Nanoseconds.from_millis(1_500), 1_500_000_000);
    assert_eq!(Precision::Nanoseconds.from_millis(i64::MAX), i64::MAX);
    assert_eq!(Precision::Seconds.from_millis(1_999), 1);
    assert_eq!(Precision::Seconds.from_millis(-1), -1);
    assert_eq!(Precision::Hours.from_millis(7_200_000), 2);
    for p in [
        Precision::Nanoseconds,
        Precision::Microseconds,
        Precision::Milliseconds,
    ] {
        assert_eq!(p.to_millis(p.from_millis(-123_456)), -123_456);
    }
}

// ---- Mapping to series ----

fn series(input: &str, precision: Precision, extra: &[(&str, &str)]) -> (Vec<TimeSeries>, usize) {
    let mut out = Vec::new();
    let skipped = line_to_series(&one(input), precision, 42, extra, &mut out);
    (out, skipped)
}

fn ts(labels: &str, ts: i64, value: f64) -> String {
    format!("{labels} {value}@{ts}")
}

fn show(out: &[TimeSeries]) -> Vec<String> {
    out.iter()
        .map(|s| {
            assert_eq!(s.samples.len(), 1);
            ts(&s.labels.to_string(), s.samples[0].ts, s.samples[0].value)
        })
        .collect()
}

#[test]
fn each_numeric_field_becomes_a_series() {
    let (out, skipped) = series(
        "cpu,host=h1,cpu=cpu0 idle=97.5,count=3i,big=18446744073709551615u,up=true,down=f 1700000000123456789",
        Precision::Nanoseconds,
        &[],
    );
    assert_eq!(skipped, 0);
    let t = 1_700_000_000_123;
    assert_eq!(
        show(&out),
        vec![
            ts(r#"cpu_idle{cpu="cpu0",host="h1"}"#, t, 97.5),
            ts(r#"cpu_count{cpu="cpu0",host="h1"}"#, t, 3.0),
            ts(r#"cpu_big{cpu="cpu0",host="h1"}"#, t, u64::MAX as f64),
            ts(r#"cpu_up{cpu="cpu0",host="h1"}"#, t, 1.0),
            ts(r#"cpu_down{cpu="cpu0",host="h1"}"#, t, 0.0),
        ]
    );
    assert_eq!(
        out[0],
        TimeSeries {
            labels: Labels::with_name("cpu_idle", [("cpu", "cpu0"), ("host", "h1")]),
            samples: vec![Sample { ts: t, value: 97.5 }],
        }
    );
}

#[test]
fn string_fields_are_skipped_and_counted() {
    let (out, skipped) = series(
        "svc,host=a status=\"ok\",latency=5,msg=\"x\"",
        Precision::Seconds,
        &[],
    );
    assert_eq!(skipped, 2);
    assert_eq!(show(&out), vec![ts(r#"svc_latency{host="a"}"#, 42, 5.0)]);
    let (out, skipped) = series("svc status=\"ok\"", Precision::Seconds, &[]);
    assert_eq!((out.len(), skipped), (0, 1));
}

#[test]
fn timestamp_converts_from_precision_or_defaults() {
    assert_eq!(
        show(&series("m v=1", Precision::Seconds, &[]).0),
        vec![ts("m_v{}", 42, 1.0)]
    );
    assert_eq!(
        show(&series("m v=1 3", Precision::Seconds, &[]).0),
        vec![ts("m_v{}", 3_000, 1.0)]
    );
    assert_eq!(
        show(&series("m v=1 -1", Precision::Microseconds, &[]).0),
        vec![ts("m_v{}", -1, 1.0)]
    );
    assert_eq!(
        show(&series("m v=1 2", Precision::Hours, &[]).0),
        vec![ts("m_v{}", 7_200_000, 1.0)]
    );
}

#[test]
fn extra_labels_win_over_tags() {
    let (out, _) = series(
        "m,namespace=evil,host=a v=1",
        Precision::Nanoseconds,
        &[("namespace", "team1"), ("region", "eu")],
    );
    assert_eq!(
        show(&out),
        vec![ts(
            r#"m_v{host="a",namespace="team1",region="eu"}"#,
            42,
            1.0
        )]
    );
}

#[test]
fn names_are_sanitized_and_label_values_kept() {
    let (out, _) = series(
        r"my-app.cpu,host\ name=Straße\ 1,9k=x,ns:sub=y,a.b=1,a_b=2 usage\ idle=1,temp°C=2,a:b=3,value=4",
        Precision::Nanoseconds,
        &[],
    );
    let labels = r#"{_9k="x",a_b="2",host_name="Straße 1",ns_sub="y"}"#;
    assert_eq!(
        show(&out),
        vec![
            ts(&format!("my_app_cpu_usage_idle{labels}"), 42, 1.0),
            ts(&format!("my_app_cpu_temp_C{labels}"), 42, 2.0),
            ts(&format!("my_app_cpu_a:b{labels}"), 42, 3.0),
            ts(&format!("my_app_cpu_value{labels}"), 42, 4.0),
        ]
    );
    let (out, _) = series("1wire temp=20", Precision::Nanoseconds, &[]);
    assert_eq!(show(&out), vec![ts("_1wire_temp{}", 42, 20.0)]);
}

#[test]
fn a_repeated_field_key_keeps_the_last_value() {
    let (out, _) = series("m v=1,w=5,v=2i", Precision::Nanoseconds, &[]);
    assert_eq!(show(&out), vec![ts("m_w{}", 42, 5.0), ts("m_v{}", 42, 2.0)]);
    let (out, skipped) = series("m v=1,v=\"s\"", Precision::Nanoseconds, &[]);
    assert_eq!((out.len(), skipped), (0, 1));
}

#[test]
fn empty_tags_from_the_builder_are_no_labels() {
    let line = Line::new("m")
        .tag("", "x")
        .tag("empty", "")
        .tag("k", "v")
        .float("f", 1.0);
    let mut out = Vec::new();
    assert_eq!(
        line_to_series(&line, Precision::Seconds, 7, &[], &mut out),
        0
    );
    assert_eq!(show(&out), vec![ts(r#"m_f{k="v"}"#, 7, 1.0)]);
}

// ---- Writer ----

fn written(line: &Line<'_>) -> String {
    let mut out = String::new();
    assert!(
        write_line(&mut out, line, Precision::Nanoseconds),
        "{line:?} not written"
    );
    out
}

#[test]
fn writer_escapes_each_part() {
    let line = Line::new("my cpu,x=y")
        .tag("k 1,=", "v 1,=\"")
        .string("s", "a \"quoted\" \\ value,=\nnext")
        .field("f 1,=", FieldValue::Int(-3))
        .timestamp(-5);
    let text = written(&line);
    assert_eq!(
        text,
        "my\\ cpu\\,x=y,k\\ 1\\,\\==v\\ 1\\,\\=\" s=\"a \\\"quoted\\\" \\\\ value,=\nnext\",f\\ 1\\,\\==-3i -5\n"
    );
    assert_eq!(one(&text), line);
}

#[test]
fn writer_doubles_a_backslash_only_where_it_would_escape() {
    let line = Line::new(r"C:\Temp\")
        .tag(r"a\b", r"C:\Temp")
        .tag("t", r"x\")
        .tag("u", r"x\,y")
        .tag("w", r"x\\y")
        .float(r"f\=", 1.0);
    let text = written(&line);
    assert_eq!(
        text,
        r"C:\Temp\\,a\b=C:\Temp,t=x\\,u=x\\\,y,w=x\\\y f\\\==1.0".to_string() + "\n"
    );
    assert_eq!(one(&text), line);
    // In a measurement `=` is not escapable, so a backslash before it stays single.
    assert_eq!(
        written(&Line::new(r"a\=b").float("v", 1.0)),
        "a\\=b v=1.0\n"
    );
}

#[test]
fn writer_values() {
    let line = Line::new("m")
        .float("a", 1.0)
        .float("b", 0.1)
        .float("c", 1e300)
        .float("d", -1.5e-7)
        .float("e", -0.0)
        .int("f", i64::MIN)
        .uint("g", u64::MAX)
        .bool("h", true)
        .bool("i", false)
        .string("j", "");
    let text = written(&line);
    assert_eq!(
        text,
        "m a=1.0,b=0.1,c=1e300,d=-1.5e-7,e=-0.0,f=-9223372036854775808i,g=18446744073709551615u,h=true,i=false,j=\"\"\n"
    );
    assert_eq!(one(&text), line);
}

#[test]
fn writer_skips_what_line_protocol_cannot_carry() {
    let mut out = String::new();
    let line = Line::new("m")
        .float("nan", f64::NAN)
        .float("inf", f64::INFINITY)
        .float("ok", 2.5)
        .float("", 1.0)
        .tag("", "x")
        .tag("empty", "");
    assert!(write_line(&mut out, &line, Precision::Seconds));
    assert_eq!(out, "m ok=2.5\n");

    out.clear();
    let only_non_finite = Line::new("m")
        .float("a", f64::NAN)
        .float("b", f64::NEG_INFINITY);
    assert!(!write_line(&mut out, &only_non_finite, Precision::Seconds));
    assert!(!write_line(&mut out, &Line::new("m"), Precision::Seconds));
    assert!(!write_line(
        &mut out,
        &Line::new("").float("v", 1.0),
        Precision::Seconds
    ));
    assert_eq!(out, "");
}

#[test]
fn writer_spells_unrepresentable_characters_as_backslash_sequences() {
    let line = Line::new("#m\n").tag("k\n", "a\nb").float("f\n", 1.0);
    let text = written(&line);
    assert_eq!(text, "\\#m\\n,k\\n=a\\nb f\\n=1.0\n");
    assert_eq!(
        one(&text),
        Line::new("\\#m\\n").tag("k\\n", "a\\nb").float("f\\n", 1.0)
    );
    assert_eq!(written(&Line::new("\tm").float("v", 1.0)), "\\tm v=1.0\n");
    // Only a leading '#' or tab needs it.
    assert_eq!(written(&Line::new("m#\t").float("v", 1.0)), "m#\t v=1.0\n");
    assert_eq!(written(&Line::new(" m").float("v", 1.0)), "\\ m v=1.0\n");
}

#[test]
fn writer_appends_lines() {
    let mut out = String::from("a v=1i\n");
    assert!(write_line(
        &mut out,
        &Line::new("b").uint("v", 2).timestamp(3),
        Precision::Seconds
    ));
    let lines: Vec<_> = parse(&out).collect();
    assert_eq!(
        lines,
        vec![
            Ok(Line::new("a").int("v", 1)),
            Ok(Line::new("b").uint("v", 2).timestamp(3)),
        ]
    );
}

// ---- Properties ----

/// Names with every character that needs escaping, tabs, CRs, quotes and non-ASCII text.
/// Newlines are left out: no name can hold one (see `write.rs`).
fn name() -> impl Strategy<Value = String> {
    r#"[a-zA-Z0-9_ ,="\\#\t\r.é€😀\-]{1,10}"#
}

/// A measurement may not start with `#` (the line would be a comment) or a tab (it would
/// be skipped as indentation); line protocol has no escape for either.
fn measurement() -> impl Strategy<Value = String> {
    name().prop_filter("starts like a comment or indentation", |s| {
        !s.starts_with(['#', '\t'])
    })
}

fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::MAX),
        Just(f64::MIN),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        Just(-0.0),
        (-1e6..1e6f64),
    ]
    .prop_filter("line protocol has no NaN or infinity", |v| v.is_finite())
}

fn field_value() -> impl Strategy<Value = FieldValue<'static>> {
    prop_oneof![
        finite_f64().prop_map(FieldValue::Float),
        any::<i64>().prop_map(FieldValue::Int),
        any::<u64>().prop_map(FieldValue::UInt),
        any::<bool>().prop_map(FieldValue::Bool),
        r#"[a-z ,="\\\n\r\t#é😀]{0,12}"#.prop_map(|s| FieldValue::Str(Cow::Owned(s))),
    ]
}

fn line() -> impl Strategy<Value = Line<'static>> {
    (
        measurement(),
        prop::collection::vec((name(), name()), 0..4),
        prop::collection::vec((name(), field_value()), 1..5),
        prop::option::of(any::<i64>()),
    )
        .prop_map(|(m, tags, fields, timestamp)| Line {
            measurement: m.into(),
            tags: tags
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            fields: fields.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            timestamp,
        })
}

/// Equality that tells `-0.0` from `0.0`, which `f64`'s `==` does not.
fn same_bits(a: &Line<'_>, b: &Line<'_>) -> bool {
    a == b
        && a.fields
            .iter()
            .zip(&b.fields)
            .all(|((_, x), (_, y))| match (x, y) {
                (FieldValue::Float(x), FieldValue::Float(y)) => x.to_bits() == y.to_bits(),
                _ => true,
            })
}

/// Checks what must hold for any input: errors point inside the input, lines are complete.
fn check_invariants(input: &str) -> Result<(), TestCaseError> {
    let physical_lines = input.split('\n').count();
    for result in parse(input) {
        match result {
            Ok(line) => {
                prop_assert!(!line.measurement.is_empty());
                prop_assert!(!line.fields.is_empty());
                prop_assert!(
                    line.tags
                        .iter()
                        .all(|(k, v)| !k.is_empty() && !v.is_empty())
                );
                prop_assert!(line.fields.iter().all(|(k, _)| !k.is_empty()));
                // Whatever parses can be written and parses back the same.
                let mut text = String::new();
                prop_assert!(write_line(&mut text, &line, Precision::Nanoseconds));
                let again: Vec<_> = parse(&text).collect();
                prop_assert_eq!(again, vec![Ok(line)]);
            }
            Err(e) => {
                prop_assert!(e.line >= 1 && e.line <= physical_lines, "{e}");
                prop_assert!(e.column >= 1, "{e}");
                prop_assert!(!e.message.is_empty());
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn written_lines_parse_back_equal(line in line()) {
        let mut text = String::new();
        prop_assert!(write_line(&mut text, &line, Precision::Nanoseconds));
        let parsed: Vec<_> = parse(&text).collect();
        prop_assert_eq!(parsed.len(), 1, "{:?}", text);
        match &parsed[0] {
            Ok(back) => prop_assert!(same_bits(back, &line), "{:?}\n{:?}\n{:?}", text, back, line),
            Err(e) => prop_assert!(false, "{:?}: {}", text, e),
        }
    }

    #[test]
    fn written_batches_parse_back_equal(lines in prop::collection::vec(line(), 0..8)) {
        let mut text = String::new();
        for line in &lines {
            prop_assert!(write_line(&mut text, line, Precision::Seconds));
        }
        let parsed: Result<Vec<_>, _> = parse(&text).collect();
        prop_assert_eq!(parsed, Ok(lines));
    }

    #[test]
    fn floats_round_trip_exactly(v in finite_f64()) {
        let text = written(&Line::new("m").float("v", v));
        prop_assert_eq!(float(&text["m v=".len()..text.len() - 1]).to_bits(), v.to_bits());
    }

    #[test]
    fn arbitrary_text_never_panics(input in any::<String>()) {
        check_invariants(&input)?;
    }

    #[test]
    fn line_like_text_never_panics(
        input in r#"[a-c0-9 ,="\\#\t\r\n.+\-eEiutTfF]{0,80}"#
    ) {
        check_invariants(&input)?;
    }

    #[test]
    fn mangled_valid_lines_never_panic(
        lines in prop::collection::vec(line(), 1..4),
        cut in any::<prop::sample::Index>(),
        insert in r#"[ ,="\\\n#]{0,2}"#,
    ) {
        let mut text = String::new();
        for line in &lines {
            write_line(&mut text, line, Precision::Nanoseconds);
        }
        let mut at = cut.index(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.insert_str(at, &insert);
        check_invariants(&text)?;
        check_invariants(&text[..at])?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        check_invariants(&String::from_utf8_lossy(&bytes))?;
    }
}

#[test]
fn the_iterator_names_the_physical_line_of_each_item() {
    let text = "# comment\n\na v=1\nb s=\"two\nlines\"\n\nc v=3\n";
    let mut lines = parse(text);
    let mut seen = Vec::new();
    while let Some(l) = lines.next() {
        let l = l.unwrap_or_else(|e| panic!("{e}"));
        seen.push((l.measurement.to_string(), lines.current_line()));
    }
    assert_eq!(
        seen,
        vec![
            ("a".to_string(), 3),
            ("b".to_string(), 4),
            ("c".to_string(), 7)
        ]
    );
}
