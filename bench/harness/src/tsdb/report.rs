//! The markdown **report** of one run: setup, data set, the results table against the
//! targets, the query check, and notes. A mismatch or a failure is written loudly, at the
//! top of the results.

use super::query::{self, Comparison, Query};
use super::{Options, Outcome};
use crate::dataset::Dataset;
use crate::output::{int, one_line};
use crate::probe::{Machine, Utc};
use crate::system::{Expect, Kind, Reported};
use std::fmt::Write as _;

pub struct Context<'a> {
    pub command: String,
    pub started: Utc,
    pub machine: Machine,
    pub fs_type: String,
    pub opts: &'a Options,
    pub dataset: &'a Dataset,
    pub query: &'a Query,
    pub expected_series: usize,
    pub outcomes: &'a [(Kind, Result<Outcome, String>)],
    pub check: Option<&'a Comparison>,
}

/// Below this many bytes on disk per sample nothing real was stored: no engine packs a
/// hundred samples of this data into one byte.
const SUSPECT_BYTES_PER_SAMPLE: f64 = 0.01;

pub fn render(c: &Context<'_>) -> String {
    let mut s = String::new();
    let ds = c.dataset;
    let spec = &ds.spec;
    let m = &c.machine;
    let _ = writeln!(
        s,
        "# TSDB storage: Argus vs VictoriaMetrics, {}\n",
        c.started.date()
    );
    let _ = writeln!(s, "- Date: {}", c.started.date_time());
    let _ = writeln!(s, "- Command: `{}`", c.command);
    let _ = writeln!(
        s,
        "- Machine: {m}; data directories on {} under {}",
        c.fs_type,
        c.opts
            .work_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir)
            .display()
    );
    for (kind, o) in c.outcomes {
        let bin = match kind {
            Kind::Argus => &c.opts.servers.argus,
            Kind::Vm => &c.opts.servers.vm,
        };
        let version = o.as_ref().map_or("?", |o| o.version.as_str());
        let how = match (kind, &c.opts.argus_config) {
            (Kind::Argus, None) => "`server`, default config".to_string(),
            (Kind::Argus, Some(p)) => format!(
                "`server`, config `{}`: `{}`",
                p.display(),
                one_line(&std::fs::read_to_string(p).unwrap_or_default())
            ),
            (Kind::Vm, _) => "defaults, `-retentionPeriod=100y`".to_string(),
        };
        let _ = writeln!(
            s,
            "- {}: `{}` ({}; {how})",
            kind.name(),
            version,
            bin.display()
        );
    }

    let _ = writeln!(s, "\n## Data set\n");
    let _ = writeln!(s, "| | |\n| --- | --- |");
    let _ = writeln!(
        s,
        "| hosts | {} (73–77 series each: cpu ×5 cpus, mem, disk ×2–3, diskio ×2, net ×2, system, processes; tags `host`, `dc`) |",
        int(spec.hosts as u64)
    );
    let _ = writeln!(s, "| series | {} |", int(ds.series));
    let _ = writeln!(
        s,
        "| samples | {} ({} per series: {} at {} s, jitter ±{} ms, seed {}) |",
        int(ds.samples),
        int(spec.intervals as u64),
        hours(spec.intervals as i64 * spec.interval_ms),
        spec.interval_ms / 1000,
        spec.jitter_ms,
        spec.seed
    );
    let _ = writeln!(
        s,
        "| span | {} → {} |",
        Utc::from_ms(spec.start_ms()).date_time(),
        Utc::from_ms(spec.end_ms).date_time()
    );
    let _ = writeln!(s, "| lines | {} |", int(ds.lines));
    let gz: u64 = ds
        .batches
        .iter()
        .filter_map(|b| b.gzip.as_ref())
        .map(|b| b.len() as u64)
        .sum();
    let _ = writeln!(
        s,
        "| request bodies | {} bodies of {} hosts × {} points; {} plain ({:.1} bytes/sample){} |",
        int(ds.batches.len() as u64),
        spec.batch_hosts,
        spec.batch_points,
        bytes(ds.body_bytes),
        ds.body_bytes as f64 / ds.samples as f64,
        if c.opts.gzip {
            format!(", sent gzip-compressed: {}", bytes(gz))
        } else {
            ", sent plain".to_string()
        }
    );
    let _ = writeln!(
        s,
        "| ingest | `POST /write?precision=ms`, {} concurrent clients, one keep-alive connection each |",
        c.opts.clients
    );

    results(&mut s, c);
    query_check(&mut s, c);
    notes(&mut s, c);
    s
}

fn results(s: &mut String, c: &Context<'_>) {
    let _ = writeln!(s, "\n## Results\n");
    let ok = |k: Kind| {
        c.outcomes
            .iter()
            .find(|(kind, _)| *kind == k)
            .and_then(|(_, o)| o.as_ref().ok())
    };
    for (kind, o) in c.outcomes {
        if let Err(e) = o {
            let _ = writeln!(
                s,
                "**{} FAILED, not measured:**\n\n```\n{e}\n```\n",
                kind.name()
            );
        }
    }
    if let Some(check) = c.check
        && !check.identical()
    {
        let _ = writeln!(
            s,
            "**⚠ QUERY MISMATCH: the two systems answer the query differently — a bug in one of them (see Query check). The figures below are suspect.**\n"
        );
    }
    let (a, v) = (ok(Kind::Argus), ok(Kind::Vm));
    let samples = c.dataset.samples as f64;

    // Why a system's figures cannot be held against a target.
    let suspect = |o: Option<&Outcome>| -> Option<String> {
        let o = o?;
        if o.ingest.failed > 0 {
            return Some(format!("{} ingest requests failed", o.ingest.failed));
        }
        None
    };
    let disk_suspect = |o: Option<&Outcome>| -> Option<String> {
        suspect(o).or_else(|| {
            let o = o?;
            (o.disk.apparent as f64 / samples < SUSPECT_BYTES_PER_SAMPLE)
                .then(|| "next to nothing on disk: storage still in memory?".to_string())
        })
    };
    let rate = |o: &Outcome| samples / o.ingest.seconds;
    let per_sample = |o: &Outcome| o.disk.apparent as f64 / samples;
    let per_sample_alloc = |o: &Outcome| o.disk.allocated as f64 / samples;
    let peak = |o: &Outcome| o.hwm_end.max(o.ingest.rss_max_sampled) as f64;
    let q_med = |o: &Outcome| o.query.as_ref().ok().map(|t| t.median_ms);
    let q_p90 = |o: &Outcome| o.query.as_ref().ok().map(|t| t.p90_ms);
    let q_cold = |o: &Outcome| o.cold_query.as_ref().ok().map(|t| t.ms);

    let _ = writeln!(
        s,
        "| | Argus | VictoriaMetrics | Argus / VM | target |\n| --- | ---: | ---: | ---: | --- |"
    );
    let row = |s: &mut String,
               label: &str,
               f: &dyn Fn(&Outcome) -> Option<f64>,
               fmt: &dyn Fn(f64) -> String,
               target: Option<(bool, f64)>,
               why: Option<String>| {
        let (x, y) = (a.and_then(f), v.and_then(f));
        let cell = |z: Option<f64>| z.map_or("—".to_string(), fmt);
        let ratio = match (x, y) {
            (Some(x), Some(y)) if y > 0.0 => Some(x / y),
            _ => None,
        };
        let verdict = match (target, ratio) {
            (None, _) => "—".to_string(),
            (Some((at_least, limit)), r) => {
                let sign = if at_least { "≥" } else { "≤" };
                match (r, why) {
                    (_, Some(w)) => format!("{sign} {limit}: n/a ({w})"),
                    (None, None) => format!("{sign} {limit}: not measured"),
                    (Some(r), None) => {
                        let met = if at_least { r >= limit } else { r <= limit };
                        format!("{sign} {limit}: **{}**", if met { "met" } else { "missed" })
                    }
                }
            }
        };
        let _ = writeln!(
            s,
            "| {label} | {} | {} | {} | {verdict} |",
            cell(x),
            cell(y),
            ratio.map_or("—".to_string(), |r| format!("{r:.2}"))
        );
    };
    let both = |f: &dyn Fn(Option<&Outcome>) -> Option<String>| f(a).or_else(|| f(v));
    let stored_rate = |o: &Outcome| o.ingest.stored.as_ref().ok().map(|t| samples / t.seconds);
    row(
        s,
        "ingest **stored and queryable**, samples/s (until a query counts every sample)",
        &stored_rate,
        &|x| int(x.round() as u64),
        Some((true, 1.5)),
        both(&suspect),
    );
    row(
        s,
        "ingest acknowledged, samples/s (until the last write was answered)",
        &|o| Some(rate(o)),
        &|x| int(x.round() as u64),
        None,
        None,
    );
    row(
        s,
        "server CPU seconds per million samples, until stored",
        &|o| o.ingest.cpu_seconds.map(|c| c * 1e6 / samples),
        &|x| format!("{x:.3}"),
        None,
        None,
    );
    row(
        s,
        "bytes written to disk per sample until stored (`/proc/<pid>/io`)",
        &|o| o.ingest.written_bytes.map(|b| b as f64 / samples),
        &|x| format!("{x:.2}"),
        None,
        None,
    );
    row(
        s,
        "bytes written to disk per sample by the end of flush + compaction",
        &|o| o.written_after_flush.map(|b| b as f64 / samples),
        &|x| format!("{x:.2}"),
        None,
        None,
    );
    row(
        s,
        "bytes on disk per sample (apparent size, after flush + compaction)",
        &|o| Some(per_sample(o)),
        &|x| format!("{x:.3}"),
        Some((false, 1.0)),
        both(&disk_suspect),
    );
    row(
        s,
        "bytes on disk per sample (allocated blocks, as `du`)",
        &|o| Some(per_sample_alloc(o)),
        &|x| format!("{x:.3}"),
        None,
        None,
    );
    row(
        s,
        "bytes on disk, total (apparent)",
        &|o| Some(o.disk.apparent as f64),
        &|x| bytes(x as u64),
        None,
        None,
    );
    row(
        s,
        "peak RSS (VmHWM over the whole run)",
        &|o| Some(peak(o)),
        &|x| bytes(x as u64),
        Some((false, 1.0)),
        None,
    );
    for (i, what) in ["SIGKILL", "a clean stop (SIGTERM)"].iter().enumerate() {
        row(
            s,
            &format!("restart after {what}: seconds until every sample answers a query"),
            &|o| {
                o.restarts
                    .get(i)
                    .filter(|r| r.hard == (i == 0))
                    .map(|r| r.seconds)
            },
            &|x| format!("{x:.2}"),
            Some((false, 1.0)),
            None,
        );
        row(
            s,
            &format!(
                "samples missing after the start that followed {what} (of those acknowledged)"
            ),
            &|o| {
                o.restarts
                    .get(i)
                    .map(|r| c.dataset.samples.saturating_sub(r.counted) as f64)
            },
            &|x| int(x as u64),
            None,
            None,
        );
    }
    row(
        s,
        "peak RSS per series, bytes",
        &|o| Some(peak(o) / c.dataset.series as f64),
        &|x| format!("{x:.0}"),
        None,
        None,
    );
    row(
        s,
        "resident (VmRSS) once every sample was stored",
        &|o| Some(o.rss_stored as f64),
        &|x| bytes(x as u64),
        None,
        None,
    );
    row(
        s,
        "resident (VmRSS) after the flush",
        &|o| Some(o.rss_after_flush as f64),
        &|x| bytes(x as u64),
        None,
        None,
    );
    row(
        s,
        "peak RSS by the end of ingest",
        &|o| Some(o.hwm_after_ingest as f64),
        &|x| bytes(x as u64),
        None,
        None,
    );
    row(
        s,
        &format!(
            "query median, ms ({} runs after {} warm-up)",
            c.opts.runs, c.opts.warmup
        ),
        &q_med,
        &|x| format!("{x:.1}"),
        Some((false, 0.5)),
        both(&suspect),
    );
    row(
        s,
        "query p90, ms",
        &q_p90,
        &|x| format!("{x:.1}"),
        None,
        None,
    );
    row(
        s,
        "query once right after ingest, before the flush, ms",
        &q_cold,
        &|x| format!("{x:.1}"),
        None,
        None,
    );
    row(
        s,
        "flush + compaction until the directory settled, s (informational)",
        &|o| Some(o.flush.seconds),
        &|x| format!("{x:.1}"),
        None,
        None,
    );
}

fn query_check(s: &mut String, c: &Context<'_>) {
    let q = c.query;
    if !c.opts.extra_query.is_empty() {
        let _ = writeln!(
            s,
            "\n## Extra queries\n\nSame span and step as the query below; one warm-up, then {} timed runs; medians. \"Same answer\" compares the two systems' series, timestamps and values (within 1e-9 relative); it does not change the exit code (VictoriaMetrics's `rate` does not extrapolate as Prometheus's does, which Argus follows, and `topk` may pick among ties differently).\n\n| query | Argus, ms | VictoriaMetrics, ms | Argus / VM | series | same answer |\n| --- | ---: | ---: | ---: | ---: | --- |",
            c.opts.extra_runs.max(1)
        );
        for (k, text) in c.opts.extra_query.iter().enumerate() {
            let get = |kind: Kind| {
                c.outcomes
                    .iter()
                    .find(|(kk, _)| *kk == kind)
                    .and_then(|(_, o)| o.as_ref().ok())
                    .and_then(|o| o.extra.get(k))
            };
            let (a, v) = (get(Kind::Argus), get(Kind::Vm));
            let ms = |t: Option<&Result<query::Timing, String>>| match t {
                Some(Ok(t)) => format!("{:.1}", t.median_ms),
                Some(Err(e)) => format!("failed: {}", one_line(e)),
                None => "—".into(),
            };
            let (ratio, series, same) = match (a, v) {
                (Some(Ok(x)), Some(Ok(y))) => (
                    format!("{:.2}", x.median_ms / y.median_ms),
                    format!("{} / {}", x.matrix.series.len(), y.matrix.series.len()),
                    if query::compare(&x.matrix, &y.matrix).identical() {
                        "yes".to_string()
                    } else {
                        "**differs**".to_string()
                    },
                ),
                (Some(Ok(x)), _) => ("—".into(), x.matrix.series.len().to_string(), "—".into()),
                _ => ("—".into(), "—".into(), "—".into()),
            };
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {ratio} | {series} | {same} |",
                text.replace('|', "\\|"),
                ms(a),
                ms(v)
            );
        }
    }
    let _ = writeln!(s, "\n## Query check\n");
    let _ = writeln!(
        s,
        "`GET /api/v1/query_range?query={}&start={}&end={}&step={}s` ({} → {}, {} steps){}; expected {} series (5 per host).\n",
        q.selector,
        q.start_s,
        q.end_s,
        q.step_s,
        Utc::from_ms(q.start_s * 1000).date_time(),
        Utc::from_ms(q.end_s * 1000).date_time(),
        (q.end_s - q.start_s) / q.step_s + 1,
        if q.vm_nocache {
            ", `nocache=1` for VictoriaMetrics"
        } else {
            ", VictoriaMetrics's result cache allowed"
        },
        c.expected_series
    );
    let _ = writeln!(
        s,
        "| | series | points | answer size | right after ingest: series / points |\n| --- | ---: | ---: | ---: | ---: |"
    );
    for (kind, o) in c.outcomes {
        let Ok(o) = o else { continue };
        let cold = match &o.cold_query {
            Ok(q) => format!(
                "{} / {}",
                int(q.matrix.series.len() as u64),
                int(q.matrix.points() as u64)
            ),
            Err(e) => format!("failed: {}", one_line(e)),
        };
        match &o.query {
            Ok(t) => {
                let n = t.matrix.series.len();
                let flag = if n == c.expected_series {
                    String::new()
                } else {
                    format!(" **⚠ expected {}**", c.expected_series)
                };
                let _ = writeln!(
                    s,
                    "| {} | {}{flag} | {} | {} | {cold} |",
                    kind.name(),
                    int(n as u64),
                    int(t.matrix.points() as u64),
                    bytes(t.bytes as u64)
                );
            }
            Err(e) => {
                let _ = writeln!(
                    s,
                    "| {} | **query FAILED**: {} | | | {cold} |",
                    kind.name(),
                    one_line(e)
                );
            }
        }
    }
    match c.check {
        None => {
            let _ = writeln!(s, "\nNo comparison: fewer than two answers.");
        }
        Some(k) if k.identical() => {
            let _ = writeln!(
                s,
                "\nIdentical: same {} series, same {} timestamps, all {} values equal.",
                int(k.series.0 as u64),
                int(k.points.0 as u64),
                int(k.values_compared as u64)
            );
        }
        Some(k) => {
            let _ = writeln!(
                s,
                "\n**⚠ MISMATCH — one of the two systems has a bug.** Argus vs VictoriaMetrics: series {} vs {} ({} only in Argus, {} only in VM); points {} vs {}; {} series with different timestamps; {} of {} values differ.\n",
                k.series.0,
                k.series.1,
                k.only_counts.0,
                k.only_counts.1,
                k.points.0,
                k.points.1,
                k.timestamp_mismatches,
                k.value_mismatches,
                k.values_compared
            );
            for x in &k.only_a {
                let _ = writeln!(s, "- only in Argus: `{x}`");
            }
            for x in &k.only_b {
                let _ = writeln!(s, "- only in VictoriaMetrics: `{x}`");
            }
            for x in &k.examples {
                let _ = writeln!(s, "- `{x}`");
            }
        }
    }
}

fn notes(s: &mut String, c: &Context<'_>) {
    let _ = writeln!(s, "\n## Notes\n");
    for (kind, o) in c.outcomes {
        let Ok(o) = o else { continue };
        let name = kind.name();
        let _ = writeln!(
            s,
            "- {name}: healthy {:.1} s after start. Flush: {}. Stop: {}.",
            o.ready.as_secs_f64(),
            o.flush.note,
            o.stop
        );
        if o.ingest.failed > 0 {
            let _ = writeln!(
                s,
                "- **{name}: {} of {} ingest requests FAILED**; first: `{}`",
                o.ingest.failed,
                o.ingest.requests,
                one_line(o.ingest.first_error.as_deref().unwrap_or("?"))
            );
        }
        if o.ingest.retried > 0 {
            let _ = writeln!(
                s,
                "- {name}: {} requests were answered 429/503 (a full queue) and sent again after their `Retry-After`.",
                o.ingest.retried
            );
        }
        match &o.ingest.stored {
            Ok(t) => {
                let _ = writeln!(
                    s,
                    "- {name}: acknowledged after {:.2} s; the last samples answered a query after {:.2} s, every sample ({} counted; {} full count(s) asked) after {:.2} s.",
                    o.ingest.seconds,
                    t.last_seconds,
                    int(t.counted),
                    t.full_counts,
                    t.seconds
                );
            }
            Err(e) => {
                let _ = writeln!(s, "- **{name}: stored not measured**: `{}`", one_line(e));
            }
        }
        let parts: Vec<String> = o
            .disk_breakdown
            .iter()
            .map(|(n, b)| format!("`{n}` {}", bytes(*b)))
            .collect();
        let _ = writeln!(
            s,
            "- {name} data directory: {} apparent, {} allocated{}{}.",
            bytes(o.disk.apparent),
            bytes(o.disk.allocated),
            if parts.is_empty() { "" } else { ": " },
            parts.join(", ")
        );
        if !o.reported.is_empty() {
            let figures: Vec<String> = o.reported.iter().map(|r| reported(r, c.dataset)).collect();
            let _ = writeln!(
                s,
                "- {name} says (its `/metrics` after the flush): {}.",
                figures.join("; ")
            );
        }
        if let Ok(t) = &o.query {
            let times: Vec<String> = t.times_ms.iter().map(|x| format!("{x:.1}")).collect();
            let _ = writeln!(s, "- {name} query times, ms: {}.", times.join(", "));
        }
    }
    let _ = writeln!(
        s,
        "- Same machine, same bodies, same clients, one system after the other on a fresh directory each. VictoriaMetrics acknowledges a write before it is durable (rows are buffered and written out as parts about every second); Argus's engine is meant to answer only once its write-ahead log is fsynced, a cost VictoriaMetrics does not pay. See bench/tsdb.md."
    );
    if let Some((_, Ok(o))) = c.outcomes.iter().find(|(k, _)| *k == Kind::Argus) {
        let _ = writeln!(
            s,
            "\n## Argus storage stats (`GET /api/argus/admin/tsdb`)\n"
        );
        match &o.tsdb_stats {
            Some(j) => {
                let _ = writeln!(s, "```json\n{}\n```", crate::system::truncate(j, 8000));
            }
            None => {
                let _ = writeln!(s, "Not available (no 200 answer).");
            }
        }
    }
}

/// A self-reported figure, checked against the data set.
fn reported(r: &Reported, ds: &Dataset) -> String {
    let want = match r.expect {
        Expect::Samples => Some(ds.samples as f64),
        Expect::Series => Some(ds.series as f64),
        Expect::Zero => Some(0.0),
        Expect::Info => None,
    };
    let value = if r.value >= 0.0 && r.value.fract() == 0.0 {
        int(r.value as u64)
    } else {
        r.value.to_string()
    };
    match want {
        Some(w) if w == r.value => format!("`{}` {value} ✓", r.name),
        Some(w) => format!("`{}` {value} **⚠ expected {}**", r.name, int(w as u64)),
        None => format!("`{}` {value}", r.name),
    }
}

/// Binary units, 3 significant figures or so.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn hours(ms: i64) -> String {
    let h = ms as f64 / 3_600_000.0;
    if h.fract() == 0.0 {
        format!("{h} h")
    } else {
        format!("{h:.2} h")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1_000), "1,000");
        assert_eq!(int(16_416_000), "16,416,000");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
        assert_eq!(hours(6 * 3_600_000), "6 h");
        assert_eq!(hours(5_400_000), "1.50 h");
    }
}
