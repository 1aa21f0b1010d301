//! Zabbix `UserParameter` output: a command that prints one value, named by an item key,
//! so that the commands of `UserParameter=<key>,<command>` lines run unchanged.
//!
//! An **item key** is a name, optionally followed by parameters in brackets:
//! `mysql.ping`, `vfs.fs.size[/,free]`, `custom.port["a b",80]`
//! (<https://www.zabbix.com/documentation/current/en/manual/config/items/item/key>). A
//! script gives its key with a comment `argus-key: <key>` in one of its first five lines;
//! without one the key is the script's name. The key becomes a sample named as written,
//! with the characters outside `[a-zA-Z0-9_]` replaced by `_` (`mysql.ping` is
//! `mysql_ping`, and a name with no `_` gets `_value`, see
//! [`super::format::named_point`]), and its parameters become the labels `param1`,
//! `param2`, ... (an empty parameter is no label). The parameters are also the script's
//! arguments (`$1`, `$2`, ...), as Zabbix passes them to a flexible `UserParameter=key[*]`.
//!
//! The **output** is the value: one line holding a number. `ZBX_NOTSUPPORTED[: reason]`
//! reports the item as not supported.

use argus_core::line_protocol::Line;

use super::format::{Parsed, named_point};
use super::item_key::Key;

/// Reads the output as the value of `key`.
pub(crate) fn parse(text: &str, key: &Key, now_ms: i64, out: &mut Parsed) {
    match point(text, key) {
        Ok(p) => out.points.push(p.timestamp(now_ms)),
        Err(e) => out.errors.push(format!("Zabbix item {}: {e}", key.name)),
    }
}

fn point(text: &str, key: &Key) -> Result<Line<'static>, String> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let Some(value) = lines.next() else {
        return Err("no value".to_string());
    };
    if let Some(reason) = value.strip_prefix("ZBX_NOTSUPPORTED") {
        let reason = reason.trim_start_matches([':', ' ']);
        return Err(if reason.is_empty() {
            "not supported".to_string()
        } else {
            format!("not supported: {reason}")
        });
    }
    if lines.next().is_some() {
        return Err(format!(
            "expected one value, found {} lines",
            text.lines().filter(|l| !l.trim().is_empty()).count()
        ));
    }
    let value = value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("value {value:?} is not a number"))?;
    let mut point = named_point(&key.name, value);
    for (i, p) in key.params.iter().enumerate() {
        if !p.is_empty() {
            point = point.tag(format!("param{}", i + 1), p.clone());
        }
    }
    Ok(point)
}

/// Whether the output is one line holding a number, which is how the format is detected.
pub(crate) fn looks_like(text: &str) -> bool {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    matches!(
        (lines.next(), lines.next()),
        (Some(v), None) if v.parse::<f64>().is_ok_and(f64::is_finite)
    )
}

#[cfg(test)]
mod tests {
    use super::super::format::tests::{NOW_MS, rendered};
    use super::super::item_key::parse_key;
    use super::*;

    /// Key and output → the samples they give, and the errors.
    const CASES: &[(&str, &str, &[&str], &[&str])] = &[
        ("mysql.ping", "1\n", &["mysql_ping 1 @now"], &[]),
        (
            "vfs.fs.size[/,free]",
            "  123456789 \n",
            &["vfs_fs_size{param1=\"/\",param2=\"free\"} 123456789 @now"],
            &[],
        ),
        (
            "custom.port[\"a, b\", 80,,\"say \\\"hi\\\"\"]",
            "0.25",
            &["custom_port{param1=\"a, b\",param2=\"80\",param4=\"say \\\"hi\\\"\"} 0.25 @now"],
            &[],
        ),
        ("uptime", "3600\n", &["uptime_value 3600 @now"], &[]),
        (
            "app.version",
            "1.2.3\n",
            &[],
            &["Zabbix item app.version: value \"1.2.3\" is not a number"],
        ),
        (
            "a.b",
            "1\n2\n",
            &[],
            &["Zabbix item a.b: expected one value, found 2 lines"],
        ),
        ("a.b", "\n", &[], &["Zabbix item a.b: no value"]),
        (
            "a.b",
            "ZBX_NOTSUPPORTED: no such disk\n",
            &[],
            &["Zabbix item a.b: not supported: no such disk"],
        ),
    ];

    #[test]
    fn zabbix_cases() {
        for (key, input, samples, errors) in CASES {
            let key = parse_key(key).expect("key");
            let mut out = Parsed::default();
            parse(input, &key, NOW_MS, &mut out);
            assert_eq!(rendered(&out.points), *samples, "{key:?} {input:?}");
            assert_eq!(out.errors, *errors, "{key:?} {input:?}");
        }
    }

    #[test]
    fn keys_parse_as_zabbix_writes_them() {
        let k = parse_key("vfs.fs.size[/, free]").expect("key");
        assert_eq!(
            (k.name.as_str(), k.params),
            ("vfs.fs.size", vec!["/".to_string(), "free".to_string()])
        );
        assert_eq!(parse_key("a[]").expect("key").params, vec![String::new()]);
        assert_eq!(
            parse_key("net.if.in").expect("key").params,
            Vec::<String>::new()
        );
        for (bad, why) in [
            ("", "the key has no name"),
            ("[x]", "the key has no name"),
            ("a b", "' ' in the key's name"),
            ("a[x", "do not end with ']'"),
            ("a[\"x]", "unterminated quote"),
            ("a[\"x\"y]", "text after its closing quote"),
            ("a[x,[y]]", "parameter 2: nested arrays"),
        ] {
            let err = parse_key(bad).expect_err(bad);
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    #[test]
    fn detection_needs_one_number() {
        assert!(looks_like("42\n"));
        assert!(looks_like("\n -0.5 \n\n"));
        assert!(!looks_like("42\n43\n"));
        assert!(!looks_like("OK"));
        assert!(!looks_like(""));
        assert!(!looks_like("inf"));
    }
}
