//! The **rule file**: `groups × per_group` alerting and recording rules over the query
//! benchmark's fleet, the mix a large installation grows (per-host thresholds, per-rack —
//! here ten hosts, `host=~"host-12."` — and per-datacenter aggregates, a few fleet-wide
//! ones), each rule distinct. The same file goes to Argus and to Prometheus.
//!
//! A rule is a template ([`TEMPLATES`]) applied to a **scope**, a selector of hosts:
//! one host (60 %), ten hosts by a regex (30 %), a datacenter (9 %) or the whole fleet
//! (1 %). Recording rules carry a `rule_id` label, so no two write the same series.
//!
//! **Aligned groups.** A group's evaluation offset within the interval is a hash of its
//! file's path and its name, computed the same way by Argus and Prometheus. Each system
//! reads its own copy of the file (`argus/rules.yml`, `prometheus/rules.yml`), and by
//! default the group names get a suffix chosen so that in Argus's copy every offset falls
//! within [`ALIGN_WINDOW_MS`] after 0, and in Prometheus's within as much after half the
//! interval: each system's groups are all due at once, so a round's wall time (first
//! start to last end) is the time to evaluate every rule once, which is what "a round
//! takes under 5 s" asks; and the two systems' rounds start half an interval apart, so
//! neither round competes with the other for this machine's two cores. With `spread`,
//! groups keep plain names and their offsets spread over the interval.

use crate::rng::Rng;
use std::fmt::Write as _;

/// How far apart the aligned groups' offsets may be.
pub const ALIGN_WINDOW_MS: i64 = 50;

/// A rule template: `SEL` is replaced by the scope's matchers, `T` by a threshold.
pub struct Template {
    pub kind: Kind,
    /// Recording: the metric it records; alerting: the alert name.
    pub name: &'static str,
    pub expr: &'static str,
    /// Thresholds to choose from (alerting rules).
    pub thresholds: &'static [&'static str],
    /// `for` durations to choose from (alerting rules).
    pub holds: &'static [&'static str],
    /// Share of the rules of its kind, in percent.
    pub weight: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Recording,
    Alerting,
}

pub const TEMPLATES: &[Template] = &[
    Template {
        kind: Kind::Recording,
        name: "host:net_bytes_recv:rate5m",
        expr: "sum by (host) (rate(net_bytes_recv{SEL}[5m]))",
        thresholds: &[],
        holds: &[],
        weight: 25,
    },
    Template {
        kind: Kind::Recording,
        name: "host:cpu_busy:percent",
        expr: "avg by (host) (100 - cpu_usage_idle{SEL})",
        thresholds: &[],
        holds: &[],
        weight: 20,
    },
    Template {
        kind: Kind::Recording,
        name: "host:http_request_duration_seconds:p90",
        expr: "histogram_quantile(0.9, sum by (host, le) (rate(http_request_duration_seconds_bucket{SEL}[5m])))",
        thresholds: &[],
        holds: &[],
        weight: 15,
    },
    Template {
        kind: Kind::Recording,
        name: "dc:mem_used_percent:max",
        expr: "max by (dc) (mem_used_percent{SEL})",
        thresholds: &[],
        holds: &[],
        weight: 15,
    },
    Template {
        kind: Kind::Recording,
        name: "dc_interface:net_bytes_sent:rate5m",
        expr: "sum by (dc, interface) (rate(net_bytes_sent{SEL}[5m]))",
        thresholds: &[],
        holds: &[],
        weight: 10,
    },
    Template {
        kind: Kind::Recording,
        name: "cpu:cpu_usage_user:avg5m",
        expr: "avg_over_time(cpu_usage_user{SEL}[5m])",
        thresholds: &[],
        holds: &[],
        weight: 15,
    },
    Template {
        kind: Kind::Alerting,
        name: "NetworkReceiveHigh",
        expr: "avg by (host) (rate(net_bytes_recv{SEL}[5m])) > T",
        thresholds: &["2e6", "5e6", "8e6", "1.2e7"],
        holds: &["5m", "10m"],
        weight: 20,
    },
    Template {
        kind: Kind::Alerting,
        name: "MemoryHigh",
        expr: "mem_used_percent{SEL} > T",
        thresholds: &["60", "70", "80", "90"],
        holds: &["0s", "5m", "10m"],
        weight: 20,
    },
    Template {
        kind: Kind::Alerting,
        name: "CpuBusy",
        expr: "100 - cpu_usage_idle{SEL} > T",
        thresholds: &["30", "50", "70"],
        holds: &["1m", "2m", "5m"],
        weight: 20,
    },
    Template {
        kind: Kind::Alerting,
        name: "HttpLatencyHigh",
        expr: "histogram_quantile(0.75, sum by (host, le) (rate(http_request_duration_seconds_bucket{SEL}[5m]))) > T",
        thresholds: &["0.15", "0.2", "0.25"],
        holds: &["2m", "5m"],
        weight: 10,
    },
    Template {
        kind: Kind::Alerting,
        name: "MemoryMetricAbsent",
        expr: "absent(mem_used_percent{SEL})",
        thresholds: &[],
        holds: &["5m"],
        weight: 10,
    },
    Template {
        kind: Kind::Alerting,
        name: "SendStalledWhileReceiving",
        expr: "rate(net_bytes_sent{SEL}[5m]) < T and rate(net_bytes_recv{SEL}[5m]) > 1e6",
        thresholds: &["5e5", "1e6", "2e6"],
        holds: &["5m"],
        weight: 10,
    },
    Template {
        kind: Kind::Alerting,
        name: "MemoryGrowing",
        expr: "delta(mem_used_percent{SEL}[10m]) > T",
        thresholds: &["1", "2", "4"],
        holds: &["0s", "10m"],
        weight: 5,
    },
    Template {
        kind: Kind::Alerting,
        name: "MemoryFullSoon",
        expr: "predict_linear(mem_used_percent{SEL}[15m], 3600) > T",
        thresholds: &["90", "95"],
        holds: &["15m"],
        weight: 5,
    },
];

/// The rule file's text and what the benchmark checks of it afterwards.
pub struct RuleFile {
    pub yaml: String,
    /// Group names, in file order.
    pub groups: Vec<String>,
    pub recording: usize,
    pub alerting: usize,
    /// Rules per scope kind: one host, ten hosts, a datacenter, the fleet.
    pub per_scope: [usize; 4],
    /// A few recording rules, one per template and scope kind where there is one: the
    /// series to compare between the two systems, as (metric, `rule_id`, expr).
    pub checks: Vec<(String, String, String)>,
    /// Per path, the offsets of the groups within the interval (ms): smallest and largest.
    pub offsets_ms: [(f64, f64); 2],
}

/// The file for `hosts` hosts (at most 1 000: names are `host-NNN`), evaluated every
/// `interval_ms`, stored at `paths` (Argus's copy, Prometheus's: the offsets hash the path
/// as the systems name the file).
pub fn generate(
    hosts: usize,
    groups: usize,
    per_group: usize,
    interval_ms: i64,
    paths: [&str; 2],
    aligned: bool,
    seed: u64,
) -> RuleFile {
    let mut rng = Rng::new(seed ^ 0x5275_6c65);
    let mut yaml = String::from("groups:\n");
    let mut names = Vec::new();
    let mut out_checks = Vec::new();
    let mut seen_check = std::collections::BTreeSet::new();
    let (mut recording, mut alerting) = (0, 0);
    let mut per_scope = [0; 4];
    let interval_ns = interval_ms * 1_000_000;
    let window_ns = ALIGN_WINDOW_MS * 1_000_000;
    let mut offsets = [(f64::INFINITY, f64::NEG_INFINITY); 2];
    // Where each copy's offsets go: [0, window) and [interval / 2, + window).
    let targets = [0, interval_ns / 2];
    for g in 0..groups {
        let base = format!("fleet-{g:03}");
        let mut name = base.clone();
        if aligned {
            // About (interval / window)² tries per group: 90 000 at 15 s and 50 ms.
            for k in 0u64.. {
                let candidate = format!("{base}-{k}");
                let ok = paths.iter().zip(targets).all(|(path, t)| {
                    let off = argus_rules::group::offset_ns(path, &candidate, interval_ns);
                    (t..t + window_ns).contains(&off)
                });
                if ok {
                    name = candidate;
                    break;
                }
            }
        }
        for (o, path) in offsets.iter_mut().zip(paths) {
            let off = argus_rules::group::offset_ns(path, &name, interval_ns) as f64 / 1e6;
            *o = (o.0.min(off), o.1.max(off));
        }
        let _ = writeln!(
            yaml,
            "  - name: {name}\n    interval: {}s\n    rules:",
            interval_ms / 1000
        );
        for r in 0..per_group {
            let id = format!("g{g:03}r{r:03}");
            let kind = if rng.chance(500) {
                Kind::Recording
            } else {
                Kind::Alerting
            };
            let t = pick(&mut rng, kind);
            let (scope_kind, sel) = scope(&mut rng, hosts);
            per_scope[scope_kind] += 1;
            let mut expr = t.expr.replace("SEL", &sel);
            if let Some(th) = choose(&mut rng, t.thresholds) {
                expr = expr.replace(" T", &format!(" {th}"));
            }
            match kind {
                Kind::Recording => {
                    recording += 1;
                    let _ = writeln!(
                        yaml,
                        "      - record: {}\n        expr: {}\n        labels:\n          rule_id: {id}",
                        t.name,
                        yaml_str(&expr)
                    );
                    if seen_check.insert((t.name, scope_kind)) {
                        out_checks.push((t.name.to_string(), id.clone(), expr.clone()));
                    }
                }
                Kind::Alerting => {
                    alerting += 1;
                    let hold = choose(&mut rng, t.holds).unwrap_or("0s");
                    let severity = if rng.chance(300) { "page" } else { "ticket" };
                    let _ = writeln!(
                        yaml,
                        "      - alert: {}\n        expr: {}\n        for: {hold}\n        labels:\n          severity: {severity}\n          rule_id: {id}\n        annotations:\n          summary: {}",
                        t.name,
                        yaml_str(&expr),
                        yaml_str(&format!(
                            "{{{{ $labels.host }}}} ({{{{ $labels.dc }}}}): {} is {{{{ $value | humanize }}}}",
                            t.name
                        ))
                    );
                }
            }
        }
        names.push(name);
    }
    RuleFile {
        yaml,
        groups: names,
        recording,
        alerting,
        per_scope,
        checks: out_checks,
        offsets_ms: offsets,
    }
}

fn pick(rng: &mut Rng, kind: Kind) -> &'static Template {
    let of_kind: Vec<&Template> = TEMPLATES.iter().filter(|t| t.kind == kind).collect();
    let total: u64 = of_kind.iter().map(|t| t.weight).sum();
    let mut x = rng.below(total);
    for t in &of_kind {
        if x < t.weight {
            return t;
        }
        x -= t.weight;
    }
    of_kind[0]
}

fn choose<'a>(rng: &mut Rng, from: &[&'a str]) -> Option<&'a str> {
    (!from.is_empty()).then(|| from[rng.below(from.len() as u64) as usize])
}

/// A scope: (kind: 0 one host, 1 ten hosts, 2 a datacenter, 3 the fleet; the matchers).
fn scope(rng: &mut Rng, hosts: usize) -> (usize, String) {
    let x = rng.below(100);
    if x < 60 {
        let h = rng.below(hosts as u64);
        (0, format!("host=\"host-{h:03}\""))
    } else if x < 90 {
        let tens = rng.below((hosts as u64).div_ceil(10));
        (1, format!("host=~\"host-{tens:02}.\""))
    } else if x < 99 {
        let dc = crate::query::data::DCS[rng.below(5) as usize];
        (2, format!("dc=\"{dc}\""))
    } else {
        (3, String::new())
    }
}

/// A YAML double-quoted string (the expressions hold `"` and `{`).
fn yaml_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_has_every_rule_and_aligned_offsets() {
        let paths = ["/x/argus/rules.yml", "/x/prometheus/rules.yml"];
        let f = generate(500, 20, 50, 15_000, paths, true, 1);
        assert_eq!(f.recording + f.alerting, 1000);
        assert_eq!(f.per_scope.iter().sum::<usize>(), 1000);
        assert!(f.recording > 350 && f.alerting > 350, "{}", f.recording);
        assert!(
            f.offsets_ms[0].1 < ALIGN_WINDOW_MS as f64,
            "{:?}",
            f.offsets_ms
        );
        assert!(f.offsets_ms[1].0 >= 7_500.0, "{:?}", f.offsets_ms);
        assert!(f.offsets_ms[1].1 < 7_500.0 + ALIGN_WINDOW_MS as f64);
        assert_eq!(f.groups.len(), 20);
        assert_eq!(f.yaml.matches("- record: ").count(), f.recording);
        assert_eq!(f.yaml.matches("- alert: ").count(), f.alerting);
        assert!(!f.yaml.contains("SEL") && !f.yaml.contains(" T\""));
        assert!(
            f.yaml
                .contains(r#"expr: "sum by (host) (rate(net_bytes_recv{host=\"host-"#)
        );
        assert!(!f.checks.is_empty());
        let spread = generate(500, 20, 50, 15_000, paths, false, 1);
        assert!(spread.offsets_ms[0].1 - spread.offsets_ms[0].0 > 1000.0);
    }

    #[test]
    fn yaml_strings_escape_quotes() {
        assert_eq!(yaml_str(r#"a{b="c"}"#), r#""a{b=\"c\"}""#);
    }
}
