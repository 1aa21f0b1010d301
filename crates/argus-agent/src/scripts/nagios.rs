//! Nagios plugin output, so that the thousands of existing `check_*` plugins run unchanged.
//!
//! A **Nagios plugin** says its state with its exit status (0 OK, 1 WARNING, 2 CRITICAL,
//! 3 UNKNOWN) and prints `TEXT | perfdata` on its first line, optionally followed by more
//! lines of text and more perfdata after a second `|`
//! (<https://nagios-plugins.org/doc/guidelines.html#AEN200>). **Perfdata** is a list of
//! `'label'=value[UOM];[warn];[crit];[min];[max]` separated by spaces; this module turns
//! each into samples in base units (seconds, bytes).

use super::format::sanitize;
use argus_core::line_protocol::Line;

/// The state names, indexed by exit status.
pub(crate) const STATES: [&str; 4] = ["OK", "WARNING", "CRITICAL", "UNKNOWN"];

/// The parsed output of one run.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Check {
    /// The first line's text, before the `|`.
    pub text: String,
    /// The following lines' text.
    pub long_text: String,
    pub perf: Vec<Perf>,
    /// Perfdata that could not be read, with what was wrong.
    pub errors: Vec<String>,
}

/// One perfdata item, converted to base units.
#[derive(Debug, PartialEq)]
pub(crate) struct Perf {
    pub label: String,
    pub value: f64,
    /// The base unit after conversion: `s`, `B`, `%`, `c` (a counter), or an unknown UOM
    /// as written; `None` without a UOM.
    pub uom: Option<String>,
    pub warn: Option<f64>,
    pub crit: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// Whether output with this exit code is recognisably a Nagios plugin's: a status of 0–3
/// and a state word (`OK`, `WARNING`, `CRITICAL`, `UNKNOWN`) in the first line's text.
pub(crate) fn looks_like_nagios(text: &str, code: i32) -> bool {
    if !(0..=3).contains(&code) {
        return false;
    }
    let first = text.trim_start().lines().next().unwrap_or("");
    let head = first.split('|').next().unwrap_or("");
    head.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| STATES.contains(&w))
}

/// Splits the output into text and perfdata.
pub(crate) fn parse_output(output: &str) -> Check {
    let mut check = Check::default();
    let mut lines = output.trim_start().lines();
    let first = lines.next().unwrap_or("");
    let (text, perf) = first.split_once('|').unwrap_or((first, ""));
    check.text = text.trim().to_string();
    let mut perf_text = perf.to_string();
    let mut long = Vec::new();
    let mut in_perf = false;
    for line in lines {
        if in_perf {
            perf_text.push(' ');
            perf_text.push_str(line);
        } else if let Some((text, perf)) = line.split_once('|') {
            long.push(text);
            perf_text.push(' ');
            perf_text.push_str(perf);
            in_perf = true;
        } else {
            long.push(line);
        }
    }
    check.long_text = long.join("\n").trim().to_string();
    parse_perfdata(&perf_text, &mut check.perf, &mut check.errors);
    check
}

/// Reads space-separated perfdata items. A value of `U` (undetermined) is skipped; an item
/// that cannot be read is reported and the rest are still read.
pub(crate) fn parse_perfdata(s: &str, out: &mut Vec<Perf>, errors: &mut Vec<String>) {
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        // The label: quoted (where '' is a quote) or up to the '='.
        let label;
        if let Some(quoted) = rest.strip_prefix('\'') {
            let mut l = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                if c == '\'' {
                    if quoted[i + 1..].starts_with('\'') {
                        l.push('\'');
                        chars.next();
                    } else {
                        end = Some(i + 1);
                        break;
                    }
                } else {
                    l.push(c);
                }
            }
            let Some(end) = end else {
                errors.push(format!(
                    "perfdata {rest:?}: unterminated quote in the label"
                ));
                return;
            };
            label = l;
            rest = &quoted[end..];
        } else {
            let end = rest.find(['=', ' ', '\t']).unwrap_or(rest.len());
            label = rest[..end].to_string();
            rest = &rest[end..];
        }
        // The item runs to the next whitespace.
        let end = rest.find([' ', '\t']).unwrap_or(rest.len());
        let item = &rest[..end];
        rest = rest[end..].trim_start();
        let Some(data) = item.strip_prefix('=') else {
            errors.push(format!("perfdata {label:?}: expected '=' after the label"));
            continue;
        };
        match perf_item(&label, data) {
            Ok(Some(p)) => out.push(p),
            Ok(None) => {}
            Err(e) => errors.push(format!("perfdata {label:?}={data}: {e}")),
        }
    }
}

/// `value[UOM];[warn];[crit];[min];[max]`; `None` for an undetermined value (`U`).
fn perf_item(label: &str, data: &str) -> Result<Option<Perf>, String> {
    if label.is_empty() {
        return Err("empty label".to_string());
    }
    let mut parts = data.split(';');
    let value_uom = parts.next().unwrap_or("");
    if value_uom == "U" {
        return Ok(None);
    }
    let split = value_uom
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+')))
        .unwrap_or(value_uom.len());
    let (number, uom) = value_uom.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("value {value_uom:?} is not a number with a unit"))?;
    let (factor, uom) = unit(uom);
    // Thresholds may be ranges (`10:20`, `@~:5`); only plain numbers become samples.
    let mut threshold = || {
        parts
            .next()
            .and_then(|t| t.trim().parse::<f64>().ok())
            .map(|t| t * factor)
    };
    Ok(Some(Perf {
        label: label.to_string(),
        value: value * factor,
        uom,
        warn: threshold(),
        crit: threshold(),
        min: threshold(),
        max: threshold(),
    }))
}

/// The factor to the base unit and the base unit's name.
fn unit(uom: &str) -> (f64, Option<String>) {
    const KIB: f64 = 1024.0;
    let (factor, base) = match uom {
        "" => return (1.0, None),
        "s" => (1.0, "s"),
        "ms" => (1e-3, "s"),
        "us" | "µs" => (1e-6, "s"),
        "%" => (1.0, "%"),
        "c" => (1.0, "c"),
        _ => match uom.to_ascii_uppercase().as_str() {
            "B" => (1.0, "B"),
            "KB" | "KIB" => (KIB, "B"),
            "MB" | "MIB" => (KIB * KIB, "B"),
            "GB" | "GIB" => (KIB * KIB * KIB, "B"),
            "TB" | "TIB" => (KIB * KIB * KIB * KIB, "B"),
            _ => return (1.0, Some(uom.to_string())),
        },
    };
    (factor, Some(base.to_string()))
}

/// The samples of one run: `nagios_state` and one point per perfdata item, each tagged
/// with the script's name as `plugin` (and `uom` when the item has a unit).
pub(crate) fn points(script: &str, code: i32, check: &Check, ts: i64) -> Vec<Line<'static>> {
    let mut out = vec![
        Line::new("nagios")
            .tag("plugin", script.to_string())
            .float("state", f64::from(code))
            .timestamp(ts),
    ];
    for p in &check.perf {
        let name = sanitize(&p.label);
        let mut line = Line::new("nagios").tag("plugin", script.to_string());
        if let Some(uom) = &p.uom {
            line = line.tag("uom", uom.clone());
        }
        line = line.float(name.clone(), p.value);
        for (suffix, v) in [
            ("warn", p.warn),
            ("crit", p.crit),
            ("min", p.min),
            ("max", p.max),
        ] {
            if let Some(v) = v {
                line = line.float(format!("{name}_{suffix}"), v);
            }
        }
        out.push(line.timestamp(ts));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perf(s: &str) -> (Vec<Perf>, Vec<String>) {
        let (mut out, mut errors) = (Vec::new(), Vec::new());
        parse_perfdata(s, &mut out, &mut errors);
        (out, errors)
    }

    #[test]
    fn units_are_converted_to_seconds_and_bytes() {
        let (p, errors) =
            perf("time=0.5s;1;2;0 size=10KB latency=250ms;;;0;1000 free=2GB used=87%");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(p.len(), 5);
        assert_eq!((p[0].value, p[0].uom.as_deref()), (0.5, Some("s")));
        assert_eq!(
            (p[0].warn, p[0].crit, p[0].min, p[0].max),
            (Some(1.0), Some(2.0), Some(0.0), None)
        );
        assert_eq!((p[1].value, p[1].uom.as_deref()), (10240.0, Some("B")));
        assert_eq!((p[2].value, p[2].max), (0.25, Some(1.0)));
        assert_eq!(p[3].value, 2.0 * 1024.0 * 1024.0 * 1024.0);
        assert_eq!((p[4].value, p[4].uom.as_deref()), (87.0, Some("%")));
    }

    #[test]
    fn quoted_labels_ranges_and_undetermined_values() {
        let (p, errors) = perf("'/ used'=12MB;10:20;@30;0 'it''s'=3c x=U plain=7");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].label, "/ used");
        assert_eq!((p[0].warn, p[0].crit, p[0].min), (None, None, Some(0.0)));
        assert_eq!(p[1].label, "it's");
        assert_eq!(p[1].uom.as_deref(), Some("c"));
        assert_eq!(
            (p[2].label.as_str(), p[2].value, p[2].uom.as_deref()),
            ("plain", 7.0, None)
        );
    }

    #[test]
    fn bad_items_are_reported_and_the_rest_kept() {
        let (p, errors) = perf("a=abc b=2 c 'd=1");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].label, "b");
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].contains("value \"abc\" is not a number"),
            "{errors:?}"
        );
        assert!(errors[1].contains("expected '='"), "{errors:?}");
        assert!(errors[2].contains("unterminated quote"), "{errors:?}");
    }

    #[test]
    fn long_output_and_perfdata_on_later_lines() {
        let c = parse_output("DISK OK - fine | a=1\nline two\nline three | b=2\nc=3\n");
        assert_eq!(c.text, "DISK OK - fine");
        assert_eq!(c.long_text, "line two\nline three");
        let labels: Vec<&str> = c.perf.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(labels, ["a", "b", "c"]);
    }

    #[test]
    fn nagios_is_recognised_by_status_and_state_word() {
        assert!(looks_like_nagios("DISK CRITICAL - / is full | x=1", 2));
        assert!(looks_like_nagios("OK", 0));
        assert!(looks_like_nagios("[WARNING] slow", 1));
        assert!(!looks_like_nagios("OK", 4));
        assert!(!looks_like_nagios("all fine", 0));
        assert!(!looks_like_nagios("OKAY", 0));
    }
}
