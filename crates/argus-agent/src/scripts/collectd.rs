//! collectd exec plugin output: `PUTVAL` and `PUTNOTIF` lines, so that scripts written for
//! collectd's `exec` plugin (collectd-exec(5)) run unchanged.
//!
//! A **value list** is `PUTVAL <identifier> [interval=<seconds>] <time>:<v1>[:<v2>...]`:
//!
//! ```text
//! PUTVAL "web-1/exec-nginx/connections-active" interval=10 N:42
//! PUTVAL web-1/load/load 1700000000:0.5:0.4:0.3
//! ```
//!
//! The **identifier** `<host>/<plugin>[-<plugin instance>]/<type>[-<type instance>]`
//! names the values the way collectd's `write_prometheus` plugin (and the
//! collectd_exporter) does: the series is `collectd_<plugin>_<type>_<data source>`, with
//! `<plugin>_` left out when the plugin and the type are the same, `_<data source>` left
//! out when the data source is `value`, and `_total` added for `derive` and `counter`
//! data sources. The plugin instance is the label named after the plugin, the type
//! instance the label `type` (or the label named after the plugin when there is no plugin
//! instance), and the host the label `instance`. A type's **data sources** (their names
//! and kinds) are collectd's `types.db`: [`TYPES`] holds the types with several data
//! sources or counting ones; any other type has one gauge `value` (with several values,
//! they are named by position: `0`, `1`, ...).
//!
//! The **time** is `N` (now) or seconds since the epoch, fractions allowed; 0 is now too.
//! A value `U` (unknown) gives no sample. `interval=` is checked and otherwise unused: the
//! script's schedule is the agent's.
//!
//! A **notification** `PUTNOTIF severity=<failure|warning|okay> [time=..] [host=..]
//! [plugin=..] [plugin_instance=..] [type=..] [type_instance=..] message=<text>` becomes an
//! event of type `collectd_notification`.

use argus_core::Event;
use argus_core::line_protocol::Line;
use serde_json::{Map, Value};

use super::format::{Parsed, sanitize, seconds_ts_ms};

/// The kind of a data source: what collectd stores and how `write_prometheus` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gauge,
    /// `derive` and `counter`: cumulative, named `..._total`.
    Counting,
    /// `absolute`: a count since the last reading; not cumulative, so no `_total`.
    Absolute,
}

/// collectd's types (from its `types.db`) with more than one data source or with a
/// counting one, as `<name>:<kind>` separated by spaces; `g` gauge, `d` derive or counter,
/// `a` absolute. Every other type is one gauge named `value`.
const TYPES: &[(&str, &str)] = &[
    ("absolute", "value:a"),
    ("apache_bytes", "value:d"),
    ("apache_requests", "value:d"),
    ("compression", "uncompressed:d compressed:d"),
    ("connections", "value:d"),
    ("contextswitch", "value:d"),
    ("counter", "value:d"),
    ("cpu", "value:d"),
    ("derive", "value:d"),
    ("df", "used:g free:g"),
    ("disk_io_time", "io_time:d weighted_io_time:d"),
    ("disk_latency", "read:g write:g"),
    ("disk_merged", "read:d write:d"),
    ("disk_octets", "read:d write:d"),
    ("disk_ops", "read:d write:d"),
    ("disk_ops_complex", "value:d"),
    ("disk_time", "read:d write:d"),
    ("dns_octets", "queries:d responses:d"),
    ("duration", "seconds:g"),
    ("fork_rate", "value:d"),
    ("http_requests", "value:d"),
    ("if_collisions", "value:d"),
    ("if_dropped", "rx:d tx:d"),
    ("if_errors", "rx:d tx:d"),
    ("if_multicast", "value:d"),
    ("if_octets", "rx:d tx:d"),
    ("if_packets", "rx:d tx:d"),
    ("if_rx_errors", "value:d"),
    ("if_rx_octets", "value:d"),
    ("if_tx_errors", "value:d"),
    ("if_tx_octets", "value:d"),
    ("invocations", "value:d"),
    ("io_octets", "rx:d tx:d"),
    ("io_packets", "rx:d tx:d"),
    ("ipt_bytes", "value:d"),
    ("ipt_packets", "value:d"),
    ("irq", "value:d"),
    ("load", "shortterm:g midterm:g longterm:g"),
    ("memcached_octets", "rx:d tx:d"),
    ("mysql_commands", "value:d"),
    ("mysql_octets", "rx:d tx:d"),
    ("nginx_requests", "value:d"),
    ("node_octets", "rx:d tx:d"),
    ("operations", "value:d"),
    ("packets", "value:d"),
    ("pg_xact", "value:d"),
    ("protocol_counter", "value:d"),
    ("ps_count", "processes:g threads:g"),
    ("ps_cputime", "user:d syst:d"),
    ("ps_disk_octets", "read:d write:d"),
    ("ps_disk_ops", "read:d write:d"),
    ("ps_pagefaults", "minflt:d majflt:d"),
    ("serial_octets", "rx:d tx:d"),
    ("smart_attribute", "current:g worst:g threshold:g pretty:g"),
    ("swap_io", "value:d"),
    ("total_bytes", "value:d"),
    ("total_connections", "value:d"),
    ("total_operations", "value:d"),
    ("total_requests", "value:d"),
    ("total_time_in_ms", "value:d"),
    ("total_values", "value:d"),
    ("vmpage_action", "value:d"),
    ("vmpage_faults", "minflt:d majflt:d"),
    ("vmpage_io", "in:d out:d"),
    ("voltage_threshold", "value:g threshold:g"),
];

/// The data sources of a type with `n` values.
fn data_sources(type_: &str, n: usize) -> Result<Vec<(String, Kind)>, String> {
    let Some((_, spec)) = TYPES.iter().find(|(t, _)| *t == type_) else {
        return Ok(match n {
            1 => vec![("value".to_string(), Kind::Gauge)],
            _ => (0..n).map(|i| (i.to_string(), Kind::Gauge)).collect(),
        });
    };
    let sources: Vec<(String, Kind)> = spec
        .split(' ')
        .filter_map(|s| s.split_once(':'))
        .map(|(name, kind)| {
            let kind = match kind {
                "d" => Kind::Counting,
                "a" => Kind::Absolute,
                _ => Kind::Gauge,
            };
            (name.to_string(), kind)
        })
        .collect();
    if sources.len() != n {
        let names: Vec<&str> = sources.iter().map(|(s, _)| s.as_str()).collect();
        return Err(format!(
            "type {type_:?} has {} values ({}), found {n}",
            sources.len(),
            names.join(", ")
        ));
    }
    Ok(sources)
}

/// Reads every line; blank lines and `#` comments are skipped, a bad line is reported with
/// its number and the others are kept. `script` goes into notifications.
pub(crate) fn parse(text: &str, script: &str, now_ms: i64, out: &mut Parsed) {
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (command, rest) = line.split_once([' ', '\t']).unwrap_or((line, ""));
        let result = if command.eq_ignore_ascii_case("PUTVAL") {
            putval(rest, now_ms, &mut out.points)
        } else if command.eq_ignore_ascii_case("PUTNOTIF") {
            putnotif(rest, script, now_ms).map(|e| out.events.push(e))
        } else {
            Err(format!(
                "unknown command {command:?} (expected PUTVAL or PUTNOTIF)"
            ))
        };
        if let Err(e) = result {
            out.errors.push(format!("collectd line {}: {e}", i + 1));
        }
    }
}

/// Whether the first line that is not blank or a comment is a `PUTVAL` or `PUTNOTIF`,
/// which is how the format is detected.
pub(crate) fn looks_like(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .and_then(|l| l.split_whitespace().next())
        .is_some_and(|c| c.eq_ignore_ascii_case("PUTVAL") || c.eq_ignore_ascii_case("PUTNOTIF"))
}

/// One space-separated field: `value` with its quotes and escapes undone, and the `key` of
/// an option `key=value` (an `=` before any quote).
#[derive(Debug, PartialEq)]
struct Field {
    key: Option<String>,
    value: String,
}

/// Splits the arguments of a command into fields, as collectd's parser does: a field runs
/// to the next space unless quoted with `"`, inside which `\` escapes the next character.
fn fields(s: &str) -> Result<Vec<Field>, String> {
    let mut out = Vec::new();
    let mut chars = s.trim().chars().peekable();
    while chars.peek().is_some() {
        let mut key = None;
        let mut value = String::new();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match c {
                ' ' | '\t' => break,
                '"' => {
                    quoted = true;
                    loop {
                        match chars.next() {
                            Some('"') => break,
                            Some('\\') => match chars.next() {
                                Some(escaped) => value.push(escaped),
                                None => return Err("unterminated quote".to_string()),
                            },
                            Some(c) => value.push(c),
                            None => return Err("unterminated quote".to_string()),
                        }
                    }
                }
                '=' if key.is_none() && !quoted => key = Some(std::mem::take(&mut value)),
                c => value.push(c),
            }
        }
        out.push(Field { key, value });
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
    }
    Ok(out)
}

/// The parts of an identifier `host/plugin[-instance]/type[-instance]`.
struct Identifier<'a> {
    host: &'a str,
    plugin: &'a str,
    plugin_instance: &'a str,
    type_: &'a str,
    type_instance: &'a str,
}

fn identifier(s: &str) -> Result<Identifier<'_>, String> {
    let mut parts = s.splitn(3, '/');
    let (Some(host), Some(plugin), Some(type_)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!(
            "identifier {s:?} is not <host>/<plugin>[-<instance>]/<type>[-<instance>]"
        ));
    };
    let (plugin, plugin_instance) = plugin.split_once('-').unwrap_or((plugin, ""));
    let (type_, type_instance) = type_.split_once('-').unwrap_or((type_, ""));
    if host.is_empty() || plugin.is_empty() || type_.is_empty() {
        return Err(format!(
            "identifier {s:?}: the host, the plugin and the type must not be empty"
        ));
    }
    Ok(Identifier {
        host,
        plugin,
        plugin_instance,
        type_,
        type_instance,
    })
}

/// The time of a value list or notification: `N` or seconds since the epoch.
fn time_ms(t: &str, now_ms: i64) -> Result<i64, String> {
    if t == "N" {
        return Ok(now_ms);
    }
    match t.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Ok(seconds_ts_ms(secs, now_ms)),
        _ => Err(format!(
            "time {t:?} is neither N nor seconds since the epoch"
        )),
    }
}

fn putval(args: &str, now_ms: i64, out: &mut Vec<Line<'static>>) -> Result<(), String> {
    let fields = fields(args)?;
    let Some((first, rest)) = fields.split_first() else {
        return Err("PUTVAL needs an identifier and values".to_string());
    };
    if first.key.is_some() {
        return Err(format!(
            "PUTVAL needs an identifier first, found the option {:?}",
            first.key.as_deref().unwrap_or("")
        ));
    }
    let id = identifier(&first.value)?;
    let mut points = Vec::new();
    for field in rest {
        match field.key.as_deref() {
            Some("interval") => match field.value.parse::<f64>() {
                Ok(secs) if secs.is_finite() && secs > 0.0 => {}
                _ => return Err(format!("interval {:?} is not seconds > 0", field.value)),
            },
            Some(other) => return Err(format!("unknown option {other:?} (expected interval)")),
            None => values(&id, &field.value, now_ms, &mut points)?,
        }
    }
    if points.is_empty() && !rest.iter().any(|f| f.key.is_none()) {
        return Err("PUTVAL without values".to_string());
    }
    out.append(&mut points);
    Ok(())
}

/// One value list `time:v1[:v2...]` of the identified type: a point per known value.
fn values(
    id: &Identifier<'_>,
    list: &str,
    now_ms: i64,
    out: &mut Vec<Line<'static>>,
) -> Result<(), String> {
    let mut parts = list.split(':');
    let time = parts.next().unwrap_or("");
    let values: Vec<&str> = parts.collect();
    if values.is_empty() {
        return Err(format!(
            "values {list:?} are not <time>:<value>[:<value>...]"
        ));
    }
    let ts = time_ms(time, now_ms)?;
    let sources = data_sources(id.type_, values.len())?;
    let plugin = sanitize(id.plugin);
    let type_ = sanitize(id.type_);
    for (v, (source, kind)) in values.iter().zip(&sources) {
        if *v == "U" {
            continue;
        }
        let value = v
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("value {v:?} is not a number or U"))?;
        // collectd_<plugin>_<type>_<source>_total, as write_prometheus names it.
        let mut field = String::new();
        if plugin != type_ {
            field.push_str(&plugin);
            field.push('_');
        }
        field.push_str(&type_);
        if source != "value" {
            field.push('_');
            field.push_str(&sanitize(source));
        }
        if *kind == Kind::Counting {
            field.push_str("_total");
        }
        let mut line = Line::new("collectd").float(field, value);
        if !id.plugin_instance.is_empty() {
            line = line.tag(plugin.clone(), id.plugin_instance.to_string());
        }
        if !id.type_instance.is_empty() {
            let name = if id.plugin_instance.is_empty() {
                plugin.clone()
            } else {
                "type".to_string()
            };
            line = line.tag(name, id.type_instance.to_string());
        }
        line = line.tag("instance", id.host.to_string());
        out.push(line.timestamp(ts));
    }
    Ok(())
}

fn putnotif(args: &str, script: &str, now_ms: i64) -> Result<Event, String> {
    let mut payload = Map::new();
    payload.insert("script".into(), Value::from(script));
    let mut ts = now_ms;
    for field in fields(args)? {
        let Some(key) = field.key else {
            return Err(format!(
                "PUTNOTIF takes options <name>=<value>, found {:?}",
                field.value
            ));
        };
        match key.as_str() {
            "severity" => {
                if !matches!(field.value.as_str(), "failure" | "warning" | "okay") {
                    return Err(format!(
                        "severity {:?} is not failure, warning or okay",
                        field.value
                    ));
                }
                payload.insert(key, Value::from(field.value));
            }
            "time" => ts = time_ms(&field.value, now_ms)?,
            // The agent names the host an event comes from; collectd's is kept as is.
            "host" => {
                payload.insert("instance".into(), Value::from(field.value));
            }
            "message" | "plugin" | "plugin_instance" | "type" | "type_instance" => {
                payload.insert(key, Value::from(field.value));
            }
            other => {
                return Err(format!(
                    "unknown option {other:?} (expected severity, time, host, plugin, \
                     plugin_instance, type, type_instance or message)"
                ));
            }
        }
    }
    for required in ["severity", "message"] {
        if !payload.contains_key(required) {
            return Err(format!("PUTNOTIF without {required}="));
        }
    }
    Ok(Event {
        kind: "collectd_notification".into(),
        host: String::new(),
        ts,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::super::format::tests::{NOW_MS, rendered};
    use super::*;

    /// Output → the samples it gives, and the errors.
    const CASES: &[(&str, &[&str], &[&str])] = &[
        (
            "PUTVAL \"web-1/exec-nginx/connections-active\" interval=10 N:42\n",
            &[
                "collectd_exec_connections_total{exec=\"nginx\",instance=\"web-1\",type=\"active\"} 42 @now",
            ],
            &[],
        ),
        (
            "PUTVAL web-1/load/load interval=10 1700000000:0.5:0.4:U\n",
            &[
                "collectd_load_shortterm{instance=\"web-1\"} 0.5 @1700000000000",
                "collectd_load_midterm{instance=\"web-1\"} 0.4 @1700000000000",
            ],
            &[],
        ),
        (
            "putval h/interface-eth0/if_octets 1700000000.25:100:200\n",
            &[
                "collectd_interface_if_octets_rx_total{instance=\"h\",interface=\"eth0\"} 100 @1700000000250",
                "collectd_interface_if_octets_tx_total{instance=\"h\",interface=\"eth0\"} 200 @1700000000250",
            ],
            &[],
        ),
        (
            "# type instance only: the label is named after the plugin\n\
             PUTVAL h/memory/memory-used 0:1024\n\
             PUTVAL h/queue-mail/gauge N:7 N:8\n\
             PUTVAL h/mine/pair N:1:2\n",
            &[
                "collectd_memory{instance=\"h\",memory=\"used\"} 1024 @now",
                "collectd_queue_gauge{instance=\"h\",queue=\"mail\"} 7 @now",
                "collectd_queue_gauge{instance=\"h\",queue=\"mail\"} 8 @now",
                "collectd_mine_pair_0{instance=\"h\"} 1 @now",
                "collectd_mine_pair_1{instance=\"h\"} 2 @now",
            ],
            &[],
        ),
        (
            "PUTVAL h/load/load N:1:2\nPUTVAL h/x N:1\nPUTVAL h/p/gauge N:x\n\
             PUTVAL h/p/gauge interval=0 N:1\nPUTVAL h/p/gauge when=1 N:1\nPUTVAL h/p/gauge -1:5\n\
             PUTVAL \"h/p/gauge N:1\nPUTVAL h/p/gauge 5\nGETVAL h/p/gauge\nPUTVAL h/p/gauge N:3\n\
             PUTVAL h/p/gauge interval=10\n",
            &["collectd_p_gauge{instance=\"h\"} 3 @now"],
            &[
                "collectd line 1: type \"load\" has 3 values (shortterm, midterm, longterm), found 2",
                "collectd line 2: identifier \"h/x\" is not <host>/<plugin>[-<instance>]/<type>[-<instance>]",
                "collectd line 3: value \"x\" is not a number or U",
                "collectd line 4: interval \"0\" is not seconds > 0",
                "collectd line 5: unknown option \"when\" (expected interval)",
                "collectd line 6: time \"-1\" is neither N nor seconds since the epoch",
                "collectd line 7: unterminated quote",
                "collectd line 8: values \"5\" are not <time>:<value>[:<value>...]",
                "collectd line 9: unknown command \"GETVAL\" (expected PUTVAL or PUTNOTIF)",
                "collectd line 11: PUTVAL without values",
            ],
        ),
    ];

    #[test]
    fn collectd_cases() {
        for (input, samples, errors) in CASES {
            let mut out = Parsed::default();
            parse(input, "exec_script", NOW_MS, &mut out);
            assert_eq!(rendered(&out.points), *samples, "{input:?}");
            assert_eq!(out.errors, *errors, "{input:?}");
            assert!(out.events.is_empty());
        }
    }

    #[test]
    fn a_notification_is_an_event() {
        let mut out = Parsed::default();
        parse(
            "PUTNOTIF severity=failure time=1700000000 host=db-1 plugin=mysql \
             type_instance=replication message=\"replica is 600 s behind\"\n\
             PUTNOTIF severity=okay message=fine\n\
             PUTNOTIF severity=bad message=x\nPUTNOTIF message=x\nPUTNOTIF severity=okay lonely\n",
            "check_db",
            NOW_MS,
            &mut out,
        );
        assert!(out.points.is_empty());
        assert_eq!(out.events.len(), 2);
        let e = &out.events[0];
        assert_eq!(e.kind, "collectd_notification");
        assert_eq!((e.ts, e.host.as_str()), (1_700_000_000_000, ""));
        let payload = serde_json::to_value(&e.payload).expect("payload");
        assert_eq!(
            payload,
            serde_json::json!({
                "script": "check_db", "severity": "failure", "instance": "db-1",
                "plugin": "mysql", "type_instance": "replication",
                "message": "replica is 600 s behind",
            })
        );
        assert_eq!(out.events[1].ts, NOW_MS);
        assert_eq!(
            out.errors,
            vec![
                "collectd line 3: severity \"bad\" is not failure, warning or okay",
                "collectd line 4: PUTNOTIF without severity=",
                "collectd line 5: PUTNOTIF takes options <name>=<value>, found \"lonely\"",
            ]
        );
    }

    #[test]
    fn fields_follow_collectds_quoting() {
        let got = fields(r#"  "a b\"c" k="v w" plain  x=y=z "#).expect("fields");
        let want = [
            (None, "a b\"c"),
            (Some("k"), "v w"),
            (None, "plain"),
            (Some("x"), "y=z"),
        ];
        let got: Vec<(Option<&str>, &str)> = got
            .iter()
            .map(|f| (f.key.as_deref(), f.value.as_str()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn detection_needs_a_command_first() {
        assert!(looks_like("\n# c\nPUTVAL h/p/t N:1\n"));
        assert!(looks_like("PUTNOTIF severity=okay message=x"));
        assert!(!looks_like("cpu value=1"));
        assert!(!looks_like("PUTVALUE h/p/t N:1"));
    }
}
