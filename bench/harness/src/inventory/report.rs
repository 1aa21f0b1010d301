//! The markdown report of `argus-bench inventory`: one summary row per database, then the
//! rounds, the read-back, the placements and each query in detail.

use super::{BackendResult, Options, fleet};
use crate::output::{command_version, git_commit, int};
use crate::pipeline::percentile;
use crate::probe::{Machine, Utc};
use std::fmt::Write;

/// The latency target of every list and filter request.
const TARGET_P99_MS: f64 = 50.0;

fn rate(x: f64) -> String {
    if x.is_finite() {
        int(x.round() as u64)
    } else {
        "—".into()
    }
}

/// "1.2 / 4.5" (ms), "—" without timings.
fn p50_p99(ms: &[f64]) -> String {
    if ms.is_empty() {
        return "—".into();
    }
    format!("{:.1} / {:.1}", percentile(ms, 50.0), percentile(ms, 99.0))
}

pub fn render(
    opts: &Options,
    machine: &Machine,
    started_ms: i64,
    results: &[BackendResult],
) -> String {
    let when = Utc::from_ms(started_ms);
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# Host inventory at {} hosts: SQLite and PostgreSQL, {}\n",
        int(opts.hosts as u64),
        when.date()
    );
    let _ = writeln!(o, "- Date: {}", when.date_time());
    let args: Vec<String> = std::env::args().collect();
    let _ = writeln!(o, "- Command: `{}`", args.join(" "));
    let _ = writeln!(o, "- Machine: {machine}");
    let _ = writeln!(
        o,
        "- Argus: `{}` ({}, commit {}), `argus server` with its defaults, started fresh for each database",
        command_version(&opts.argus, "version"),
        opts.argus.display(),
        git_commit()
    );
    if let Some((version, ready)) = results.iter().find_map(|r| r.postgres.clone()) {
        let _ = writeln!(
            o,
            "- {version} (Debian package; a fresh cluster, `initdb --locale=C -E UTF8`, the server's defaults), on 127.0.0.1; initdb, start and `createdb` took {ready:.2} s"
        );
    }
    let _ = writeln!(
        o,
        "- Fleet: {} hosts × {} rounds of heartbeats from {} concurrent clients; then every host placed (20 locations, 50 groups, 3 labels); then {} timed requests of each query, asked in turn, one at a time",
        int(opts.hosts as u64),
        opts.rounds,
        opts.clients,
        opts.requests
    );
    let _ = writeln!(
        o,
        "- Every process is on this machine, which is shared with other jobs: the figures are noisy.\n"
    );

    let _ = writeln!(o, "## Summary\n");
    let mut head =
        String::from("| backend | hosts | heartbeats/s acknowledged | heartbeats/s stored | ");
    let mut rule = String::from("| --- | ---: | ---: | ---: | ");
    for q in &fleet::QUERIES {
        let _ = write!(head, "{} p50 / p99, ms | ", q.name);
        rule.push_str("---: | ");
    }
    let _ = writeln!(o, "{head}p99 < {TARGET_P99_MS} ms |");
    let _ = writeln!(o, "{rule}--- |");
    for r in results {
        let (acked, stored) = r.heartbeat_rates().unwrap_or((f64::NAN, None));
        let stored = stored.unwrap_or(f64::NAN);
        let mut row = format!(
            "| {} | {} | {} | {} | ",
            r.backend.name(),
            int(opts.hosts as u64),
            rate(acked),
            rate(stored)
        );
        for q in &fleet::QUERIES {
            let ms = r
                .reads
                .iter()
                .find(|t| t.name == q.name)
                .map_or(&[][..], |t| &t.ms[..]);
            let _ = write!(row, "{} | ", p50_p99(ms));
        }
        let verdict = if r.reads.is_empty() || r.reads.iter().any(|t| t.ms.is_empty()) {
            "not measured"
        } else if r
            .reads
            .iter()
            .all(|t| percentile(&t.ms, 99.0) < TARGET_P99_MS && t.correct())
        {
            "**met**"
        } else {
            "**missed**"
        };
        let _ = writeln!(o, "{row}{verdict} |");
    }

    let _ = writeln!(
        o,
        "\n## Heartbeats\n\nEach heartbeat is the agent's JSON (`POST /api/argus/heartbeat`, facts of host `host-NNNNN`, `ts` = when it was sent). *Acknowledged*: from a round's first request until its last was answered 2xx (queued). *Stored*: until the inventory showed every heartbeat of the round. The rounds run one after the other; round r starts after every earlier heartbeat was sent, and a host's `last_seen_ms` is no earlier than its heartbeat. So the round is stored once `GET /api/argus/hosts?limit=1&sort=last_seen` (the host heard from longest ago, polled every {} ms) answers `total` = {} and a `last_seen_ms` at or after the round's start: each host's heartbeat of that round, and no other, is in the database. The summary's rates are all heartbeats over the sum of the rounds' times.\n",
        super::load::POLL_EVERY.as_millis(),
        int(opts.hosts as u64)
    );
    let _ = writeln!(
        o,
        "| backend | round | hosts were | acknowledged, s | stored, s | acknowledged/s | stored/s |"
    );
    let _ = writeln!(o, "| --- | ---: | --- | ---: | ---: | ---: | ---: |");
    for r in results {
        for (k, round) in r.rounds.iter().enumerate() {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {:.2} | {} | {} | {} |",
                r.backend.name(),
                k + 1,
                if round.new_hosts { "new" } else { "known" },
                round.acked_secs,
                round
                    .stored_secs
                    .map_or("not stored".into(), |s| format!("{s:.2}")),
                rate(round.heartbeats as f64 / round.acked_secs),
                rate(
                    round
                        .stored_secs
                        .map_or(f64::NAN, |s| round.heartbeats as f64 / s)
                )
            );
        }
    }

    let _ = writeln!(
        o,
        "\n## Read back and placement\n\nAfter the last round every page of `GET /api/argus/hosts?limit=100&page=P&sort=hostname` is read: each host sent must be listed once, nothing else, with a `last_seen_ms` from the last round. Then each host is given a location, two groups (a role, `web` or `db`, and one of 48 project groups) and labels `team`, `env`, `rack` (`PATCH /api/argus/hosts/{{id}}`, the admin token, {} clients).\n",
        opts.clients
    );
    let _ = writeln!(
        o,
        "| backend | listed | not sent or twice | not seen in the last round | placed | PATCH/s | PATCH p50 / p99, ms |"
    );
    let _ = writeln!(o, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in results {
        let Some(inv) = &r.inventory else {
            let _ = writeln!(o, "| {} | — | — | — | — | — | — |", r.backend.name());
            continue;
        };
        let (placed, per_sec, ms) = match &r.patches {
            Some(p) => (
                int(p.count as u64),
                rate(p.count as f64 / p.secs),
                p50_p99(&p.ms),
            ),
            None => ("—".into(), "—".into(), "—".into()),
        };
        let _ = writeln!(
            o,
            "| {} | {} of {} | {} | {} | {placed} | {per_sec} | {ms} |",
            r.backend.name(),
            int(inv.listed() as u64),
            int(inv.ids.len() as u64),
            inv.unexpected.len(),
            inv.stale,
        );
    }

    let _ = writeln!(
        o,
        "\n## Queries\n\n`GET /api/argus/hosts?<query>`, timed from the request to the last byte of the answer over {} requests each, after {} untimed ones. Before timing, each answer is checked: its `total` against what the fleet says (`status=down` depends on when each host was last heard from: not known in advance), every host on the page must match the filter (and have the status asked for), and the page must hold as many hosts as `total` leaves for it.\n",
        opts.requests,
        super::latency::WARMUP
    );
    let _ = writeln!(
        o,
        "| backend | query | total expected | total answered | rows (expected) | rows not matching | p50, ms | p99, ms | max, ms | failed |"
    );
    let _ = writeln!(
        o,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for r in results {
        for t in &r.reads {
            let fmt_ms = |p: f64| {
                if t.ms.is_empty() {
                    "—".to_string()
                } else {
                    format!("{:.1}", percentile(&t.ms, p))
                }
            };
            let _ = writeln!(
                o,
                "| {} | `{}` | {} | {} | {} ({}) | {} | {} | {} | {} | {} |",
                r.backend.name(),
                t.query,
                t.expected.map_or("—".into(), int),
                t.answered.map_or("—".into(), int),
                t.rows.0,
                t.rows.1,
                t.wrong_rows,
                fmt_ms(50.0),
                fmt_ms(99.0),
                fmt_ms(100.0),
                t.failed
            );
        }
    }
    let _ = writeln!(o);

    let errors: Vec<String> = results
        .iter()
        .flat_map(|r| {
            let reads = r.reads.iter().filter_map(|t| {
                t.first_error
                    .as_ref()
                    .map(|e| format!("{}: `{}`: {e}", r.backend.name(), t.query))
            });
            r.errors
                .iter()
                .map(|e| format!("{}: {e}", r.backend.name()))
                .chain(reads)
                .map(|e| format!("- {}", crate::output::one_line(&e)))
                .collect::<Vec<_>>()
        })
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(o, "## Errors\n\n{}\n", errors.join("\n"));
    }
    o
}
