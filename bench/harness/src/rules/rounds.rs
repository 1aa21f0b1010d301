//! **Rounds** from `GET /api/v1/rules`, read the same way on both systems: each group's
//! `lastEvaluation` (when it started) and `evaluationTime` (how long it took), collected
//! from polls once per interval, then put together per round.
//!
//! A **round** is one evaluation of every group: group `g`'s evaluation starting at `s`
//! belongs to round `floor((s − offset_g) / interval)`. Per round: the groups evaluated,
//! the sum of their durations (the work), and the wall span from the first group's start
//! to the last group's end.
//!
//! Both systems stamp each group with its own start and evaluate groups concurrently
//! (Prometheus a goroutine per group, Argus a worker per core), so groups overlap: the
//! work can exceed the wall span.

use anyhow::{Context, bail};
use std::collections::{BTreeMap, BTreeSet};

/// One group in one answer.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupState {
    pub file: String,
    pub name: String,
    /// `lastEvaluation` in ns since the epoch; None before the first evaluation.
    pub last_ns: Option<i64>,
    pub secs: f64,
}

/// One answer of `/api/v1/rules`.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub groups: Vec<GroupState>,
    pub rules: usize,
    /// Rules by health: ok, err, unknown (never evaluated).
    pub health: [usize; 3],
    pub first_error: Option<String>,
    /// Alerts listed under the alerting rules (pending and firing).
    pub alerts: usize,
}

pub fn parse(body: &[u8]) -> anyhow::Result<Snapshot> {
    let v: serde_json::Value =
        serde_json::from_slice(body).context("/api/v1/rules answer is not JSON")?;
    if v["status"] != "success" {
        bail!(
            "/api/v1/rules status is not success: {}",
            crate::system::truncate(&v.to_string(), 300)
        );
    }
    let groups = v["data"]["groups"]
        .as_array()
        .context("/api/v1/rules: no data.groups")?;
    let mut snap = Snapshot::default();
    for g in groups {
        let last = g["lastEvaluation"]
            .as_str()
            .context("group without lastEvaluation")?;
        snap.groups.push(GroupState {
            file: g["file"].as_str().unwrap_or_default().to_string(),
            name: g["name"].as_str().unwrap_or_default().to_string(),
            last_ns: parse_rfc3339_ns(last).with_context(|| format!("lastEvaluation {last:?}"))?,
            secs: g["evaluationTime"].as_f64().unwrap_or(f64::NAN),
        });
        for r in g["rules"].as_array().map_or(&[][..], Vec::as_slice) {
            snap.rules += 1;
            match r["health"].as_str() {
                Some("ok") => snap.health[0] += 1,
                Some("err") => {
                    snap.health[1] += 1;
                    if snap.first_error.is_none() {
                        snap.first_error = Some(format!(
                            "{}: {}",
                            r["name"].as_str().unwrap_or("?"),
                            r["lastError"].as_str().unwrap_or("?")
                        ));
                    }
                }
                _ => snap.health[2] += 1,
            }
            snap.alerts += r["alerts"].as_array().map_or(0, Vec::len);
        }
    }
    Ok(snap)
}

/// RFC 3339 with optional fraction and a `Z` or `±hh:mm` zone, as Go writes `time.Time`;
/// Go's zero time (`0001-01-01T00:00:00Z`, never evaluated) is None.
pub fn parse_rfc3339_ns(s: &str) -> anyhow::Result<Option<i64>> {
    if s.starts_with("0001-01-01") {
        return Ok(None);
    }
    let bad = || format!("not an RFC 3339 time: {s:?}");
    let num = |r: std::ops::Range<usize>| -> anyhow::Result<i64> {
        s.get(r).and_then(|x| x.parse().ok()).with_context(bad)
    };
    let (y, mo, d, h, mi, sec) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    let mut rest = s.get(19..).with_context(bad)?;
    let mut frac_ns = 0i64;
    if let Some(f) = rest.strip_prefix('.') {
        let digits = f.bytes().take_while(u8::is_ascii_digit).count();
        let text = &f[..digits];
        let padded = format!("{:0<9}", &text[..digits.min(9)]);
        frac_ns = padded.parse().with_context(bad)?;
        rest = &f[digits..];
    }
    let zone_s = match rest {
        "Z" => 0,
        z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) => {
            let hh: i64 = z[1..3].parse().with_context(bad)?;
            let mm: i64 = z[4..6].parse().with_context(bad)?;
            let sign = if z.starts_with('-') { -1 } else { 1 };
            sign * (hh * 3600 + mm * 60)
        }
        _ => bail!("{}", bad()),
    };
    // Howard Hinnant's days_from_civil.
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - zone_s;
    Ok(Some(secs * 1_000_000_000 + frac_ns))
}

/// One group evaluation: its start and duration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Eval {
    pub start_ns: i64,
    pub secs: f64,
}

/// Every distinct evaluation seen per group name, over all polls.
#[derive(Default)]
pub struct Collected {
    /// group name → (`lastEvaluation`, `evaluationTime` bits).
    seen: BTreeMap<String, BTreeSet<(i64, u64)>>,
}

impl Collected {
    pub fn add(&mut self, snap: &Snapshot) {
        for g in &snap.groups {
            if let Some(ns) = g.last_ns {
                self.seen
                    .entry(g.name.clone())
                    .or_default()
                    .insert((ns, g.secs.to_bits()));
            }
        }
    }

    /// The evaluations per group.
    pub fn evals(&self) -> BTreeMap<String, Vec<Eval>> {
        self.seen
            .iter()
            .map(|(g, set)| {
                let list = set
                    .iter()
                    .map(|&(ns, bits)| Eval {
                        start_ns: ns,
                        secs: f64::from_bits(bits),
                    })
                    .collect();
                (g.clone(), list)
            })
            .collect()
    }
}

/// One round of one system.
#[derive(Clone, Debug, PartialEq)]
pub struct Round {
    pub index: i64,
    pub groups: usize,
    /// Sum of the groups' durations, s.
    pub work_s: f64,
    /// First start to last end, s.
    pub span_s: f64,
    /// Largest delay of a group's start after its slot, s.
    pub max_lag_s: f64,
}

/// The rounds `from..=to` (indices: slot / interval), given each group's offset (ns).
pub fn rounds(
    evals: &BTreeMap<String, Vec<Eval>>,
    offsets_ns: &BTreeMap<String, i64>,
    interval_ns: i64,
    from: i64,
    to: i64,
) -> Vec<Round> {
    // round → (start, end, secs, lag)
    let mut acc: BTreeMap<i64, Vec<(i64, i64, f64, i64)>> = BTreeMap::new();
    for (g, list) in evals {
        let Some(&off) = offsets_ns.get(g) else {
            continue;
        };
        for e in list {
            let k = (e.start_ns - off).div_euclid(interval_ns);
            let slot = k * interval_ns + off;
            let end = e.start_ns + (e.secs * 1e9) as i64;
            acc.entry(k)
                .or_default()
                .push((e.start_ns, end, e.secs, e.start_ns - slot));
        }
    }
    (from..=to)
        .map(|k| {
            let v = acc.get(&k).map_or(&[][..], Vec::as_slice);
            let first = v.iter().map(|x| x.0).min().unwrap_or(0);
            let last = v.iter().map(|x| x.1).max().unwrap_or(0);
            Round {
                index: k,
                groups: v.len(),
                work_s: v.iter().map(|x| x.2).sum(),
                span_s: (last - first) as f64 / 1e9,
                max_lag_s: v.iter().map(|x| x.3).max().unwrap_or(0) as f64 / 1e9,
            }
        })
        .collect()
}

/// `prometheus_rule_group_last_duration_seconds` per group name from Prometheus's
/// `/metrics` (its `rule_group` label is `<file>;<name>`).
pub fn prom_last_durations(metrics: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("prometheus_rule_group_last_duration_seconds{") else {
            continue;
        };
        let Some(start) = rest.find("rule_group=\"") else {
            continue;
        };
        let label = &rest[start + "rule_group=\"".len()..];
        let Some(end) = label.find('"') else {
            continue;
        };
        let group = label[..end].rsplit(';').next().unwrap_or_default();
        if let Some(v) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
            out.insert(group.to_string(), v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_times_parse() {
        assert_eq!(
            parse_rfc3339_ns("2023-11-14T22:13:20.123456789Z")
                .ok()
                .flatten(),
            Some(1_700_000_000_123_456_789)
        );
        assert_eq!(
            parse_rfc3339_ns("2023-11-14T23:13:20.5+01:00")
                .ok()
                .flatten(),
            Some(1_700_000_000_500_000_000)
        );
        assert_eq!(
            parse_rfc3339_ns("2023-11-14T22:13:20Z").ok().flatten(),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_rfc3339_ns("0001-01-01T00:00:00Z").ok().flatten(),
            None
        );
        assert!(parse_rfc3339_ns("yesterday").is_err());
    }

    #[test]
    fn overlapping_groups_make_one_round() {
        let mut c = Collected::default();
        let s = 1_000_000_000_000i64;
        let group = |name: &str, start: i64, secs: f64| GroupState {
            file: "f".into(),
            name: name.into(),
            last_ns: Some(start),
            secs,
        };
        let snap = Snapshot {
            groups: vec![group("a", s, 1.0), group("b", s + 500_000_000, 2.0)],
            ..Snapshot::default()
        };
        c.add(&snap);
        c.add(&snap);
        let evals = c.evals();
        assert_eq!(
            evals["b"],
            vec![Eval {
                start_ns: s + 500_000_000,
                secs: 2.0
            }]
        );
        let offsets: BTreeMap<String, i64> = [("a".to_string(), 0), ("b".to_string(), 0)]
            .into_iter()
            .collect();
        let interval = 15_000_000_000;
        let k = s / interval;
        let r = rounds(&evals, &offsets, interval, k, k + 1);
        assert_eq!(r[0].groups, 2);
        assert!((r[0].work_s - 3.0).abs() < 1e-9);
        assert!((r[0].span_s - 2.5).abs() < 1e-9);
        assert_eq!(r[1].groups, 0);
    }

    #[test]
    fn prometheus_durations_by_group() {
        let m = "# HELP x\nprometheus_rule_group_last_duration_seconds{rule_group=\"/r/rules.yml;fleet-001\"} 0.25\nprometheus_rule_group_last_duration_seconds_count 3\n";
        let d = prom_last_durations(m);
        assert_eq!(d.get("fleet-001"), Some(&0.25));
        assert_eq!(d.len(), 1);
    }
}
