//! The bytes of one queue entry: a batch accepted by ingest, with its namespace. Compact
//! and versioned; described in `docs/formats/queue-entries.md`.
//!
//! ```text
//! entry     = version:u8 (1) kind:u8 ns body
//! ns        = uvarint(len) bytes          ; len 0: no namespace
//! samples   = uvarint(series) series*     ; kind 1
//! series    = uvarint(labels) (str str)* uvarint(n) ts_first:zvarint ts_delta:zvarint{n-1} f64le{n}
//! str       = uvarint(len) utf8
//! heartbeat = received_ms:zvarint json    ; kind 2, json: the rest of the entry
//! events    = uvarint(n) (uvarint(len) json){n}  ; kind 3, one JSON document per event
//! lines     = precision:u8 now_ms:zvarint text ; kind 4, checked line protocol, the rest
//! ```
//!
//! `uvarint` is unsigned LEB128, `zvarint` a zigzag-encoded signed LEB128. A reader refuses
//! a version it does not know rather than guessing.

use argus_core::line_protocol::Precision;
use argus_core::varint::{self, put_ivarint as put_zvarint, put_uvarint};
use argus_core::{Event, Labels, Sample, TimeSeries};

/// The version written; readers accept only it (a later version adds a branch here).
pub const VERSION: u8 = 1;

const KIND_SAMPLES: u8 = 1;
const KIND_HEARTBEAT: u8 = 2;
const KIND_EVENTS: u8 = 3;
const KIND_LINES: u8 = 4;

const PRECISIONS: [Precision; 6] = [
    Precision::Nanoseconds,
    Precision::Microseconds,
    Precision::Milliseconds,
    Precision::Seconds,
    Precision::Minutes,
    Precision::Hours,
];

/// One batch as ingest accepted it.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// Checked series, the namespace label already set on each.
    Samples {
        ns: Option<String>,
        series: Vec<TimeSeries>,
    },
    /// An agent's heartbeat as it sent it, and when the server received it.
    Heartbeat {
        ns: Option<String>,
        received_ms: i64,
        body: serde_json::Value,
    },
    /// Events of one type.
    Events {
        ns: Option<String>,
        events: Vec<Event>,
    },
    /// Influx line protocol as received, already checked line by line: the handler
    /// parses it again straight into storage (the embedded engine's fast path, which builds
    /// labels only for series it has not seen) instead of ingest building every line's
    /// labels. `now_ms` stamps lines without a timestamp; `ns` becomes the `ns` label.
    Lines {
        ns: Option<String>,
        precision: Precision,
        now_ms: i64,
        text: String,
    },
}

impl Entry {
    /// The entry's kind as named in metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Entry::Samples { .. } => "samples",
            Entry::Heartbeat { .. } => "heartbeat",
            Entry::Events { .. } => "events",
            Entry::Lines { .. } => "lines",
        }
    }
}

/// Bytes that are not an entry this version can read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("undecodable queue entry: {0}")]
pub struct DecodeError(String);

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_uvarint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn put_series(out: &mut Vec<u8>, s: &TimeSeries) {
    put_uvarint(out, s.labels.len() as u64);
    for l in s.labels.iter() {
        put_str(out, &l.name);
        put_str(out, &l.value);
    }
    put_uvarint(out, s.samples.len() as u64);
    let mut prev = 0i64;
    for (i, x) in s.samples.iter().enumerate() {
        put_zvarint(
            out,
            if i == 0 {
                x.ts
            } else {
                x.ts.wrapping_sub(prev)
            },
        );
        prev = x.ts;
    }
    for x in &s.samples {
        out.extend_from_slice(&x.value.to_bits().to_le_bytes());
    }
}

/// Samples as one or more entries of at most `max` bytes each (series are not split: a
/// single series larger than `max` makes an entry of its own, which the queue may refuse).
/// Each entry decodes to [`Entry::Samples`] with `ns`, the series in order.
pub fn encode_samples(ns: Option<&str>, series: &[TimeSeries], max: usize) -> Vec<Vec<u8>> {
    let finish = |n: u64, body: &[u8]| {
        let mut e = Vec::with_capacity(body.len() + 16);
        e.push(VERSION);
        e.push(KIND_SAMPLES);
        put_str(&mut e, ns.unwrap_or(""));
        put_uvarint(&mut e, n);
        e.extend_from_slice(body);
        e
    };
    let header = 2 + 10 + ns.map_or(0, str::len) + 10;
    let (mut out, mut body, mut one, mut n) = (Vec::new(), Vec::new(), Vec::new(), 0u64);
    for s in series {
        one.clear();
        put_series(&mut one, s);
        if n > 0 && header + body.len() + one.len() > max {
            out.push(finish(n, &body));
            body.clear();
            n = 0;
        }
        body.extend_from_slice(&one);
        n += 1;
    }
    if n > 0 || out.is_empty() {
        out.push(finish(n, &body));
    }
    out
}

/// Line protocol `text` as [`Entry::Lines`] entries of at most `max` bytes each, split at
/// line ends (a single line longer than that makes an entry of its own).
pub fn encode_lines(
    ns: Option<&str>,
    precision: Precision,
    now_ms: i64,
    text: &str,
    max: usize,
) -> Vec<Vec<u8>> {
    let header = |len: usize| {
        let mut e = Vec::with_capacity(len + 24 + ns.map_or(0, str::len));
        e.push(VERSION);
        e.push(KIND_LINES);
        put_str(&mut e, ns.unwrap_or(""));
        e.push(PRECISIONS.iter().position(|p| *p == precision).unwrap_or(0) as u8);
        put_zvarint(&mut e, now_ms);
        e
    };
    let room = max.saturating_sub(header(0).len()).max(1);
    // A string field may hold a newline: then only the parser knows where lines end.
    let ends: Option<Vec<usize>> = (text.len() > room && text.contains('"')).then(|| {
        let mut lines = argus_core::line_protocol::parse(text);
        let mut ends = Vec::new();
        while lines.next().is_some() {
            ends.push(lines.offset());
        }
        ends
    });
    let mut out = Vec::new();
    let mut rest = text.as_bytes();
    while !rest.is_empty() || out.is_empty() {
        let mut end = rest.len();
        if end > room {
            let at = text.len() - rest.len();
            // The last line end within room, else the first one after it.
            end = match &ends {
                Some(ends) => {
                    let within = ends.partition_point(|&e| e <= at + room);
                    match within.checked_sub(1).map(|i| ends[i]).filter(|&e| e > at) {
                        Some(e) => e - at,
                        None => ends.get(within).map_or(rest.len(), |&e| e - at),
                    }
                }
                None => match rest[..room].iter().rposition(|&b| b == b'\n') {
                    Some(i) => i + 1,
                    None => rest
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(rest.len(), |i| i + 1),
                },
            };
        }
        let mut e = header(end);
        e.extend_from_slice(&rest[..end]);
        out.push(e);
        rest = &rest[end..];
    }
    out
}

/// Encodes an entry.
pub fn encode(entry: &Entry) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.push(VERSION);
    let ns = match entry {
        Entry::Samples { ns, .. }
        | Entry::Heartbeat { ns, .. }
        | Entry::Events { ns, .. }
        | Entry::Lines { ns, .. } => ns,
    };
    match entry {
        Entry::Samples { series, .. } => {
            out.push(KIND_SAMPLES);
            put_str(&mut out, ns.as_deref().unwrap_or(""));
            put_uvarint(&mut out, series.len() as u64);
            for s in series {
                put_series(&mut out, s);
            }
        }
        Entry::Heartbeat {
            received_ms, body, ..
        } => {
            out.push(KIND_HEARTBEAT);
            put_str(&mut out, ns.as_deref().unwrap_or(""));
            put_zvarint(&mut out, *received_ms);
            // A Value always serializes.
            let _ = serde_json::to_writer(&mut out, body);
        }
        Entry::Lines {
            precision,
            now_ms,
            text,
            ..
        } => {
            out.push(KIND_LINES);
            put_str(&mut out, ns.as_deref().unwrap_or(""));
            out.push(PRECISIONS.iter().position(|p| p == precision).unwrap_or(0) as u8);
            put_zvarint(&mut out, *now_ms);
            out.extend_from_slice(text.as_bytes());
        }
        Entry::Events { events, .. } => {
            out.push(KIND_EVENTS);
            put_str(&mut out, ns.as_deref().unwrap_or(""));
            put_uvarint(&mut out, events.len() as u64);
            let mut doc = Vec::new();
            for e in events {
                doc.clear();
                let _ = serde_json::to_writer(&mut doc, e);
                put_uvarint(&mut out, doc.len() as u64);
                out.extend_from_slice(&doc);
            }
        }
    }
    out
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn err(&self, what: &str) -> DecodeError {
        DecodeError(format!("{what} at byte {}", self.at))
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        let v = *self.b.get(self.at).ok_or_else(|| self.err("truncated"))?;
        self.at += 1;
        Ok(v)
    }

    fn uvarint(&mut self) -> Result<u64, DecodeError> {
        let (v, n) = varint::uvarint(&self.b[self.at..]).map_err(|e| self.err(&e.to_string()))?;
        self.at += n;
        Ok(v)
    }

    fn zvarint(&mut self) -> Result<i64, DecodeError> {
        self.uvarint().map(varint::unzigzag)
    }

    /// A count of items each at least `min` bytes long: bounded by what is left, so a
    /// corrupt count cannot make the reader allocate wildly.
    fn count(&mut self, min: usize) -> Result<usize, DecodeError> {
        let n = self.uvarint()?;
        let left = (self.b.len() - self.at) as u64;
        if n.saturating_mul(min.max(1) as u64) > left {
            return Err(self.err("count larger than the entry"));
        }
        Ok(n as usize)
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.b.len())
            .ok_or_else(|| self.err("truncated"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn str(&mut self) -> Result<&'a str, DecodeError> {
        let n = self.count(1)?;
        let b = self.bytes(n)?;
        std::str::from_utf8(b).map_err(|_| self.err("invalid UTF-8"))
    }

    fn rest(&mut self) -> &'a [u8] {
        let s = &self.b[self.at..];
        self.at = self.b.len();
        s
    }
}

/// A line-protocol entry read in place: its text borrowed from the entry's bytes, so
/// applying a large backlog does not copy every entry's text once more.
pub struct LinesRef<'a> {
    pub ns: Option<&'a str>,
    pub precision: Precision,
    pub now_ms: i64,
    pub text: &'a str,
}

/// The entry as a [`LinesRef`] when it is line protocol (`None` for other kinds); the
/// same checks as [`decode`].
pub fn decode_lines(bytes: &[u8]) -> Option<Result<LinesRef<'_>, DecodeError>> {
    let mut r = Reader { b: bytes, at: 0 };
    if r.u8().ok()? != VERSION || bytes.get(1) != Some(&KIND_LINES) {
        return None;
    }
    r.at = 2;
    Some((|| {
        let ns = Some(r.str()?).filter(|n| !n.is_empty());
        let p = r.u8()?;
        let precision = *PRECISIONS
            .get(usize::from(p))
            .ok_or_else(|| DecodeError(format!("unknown precision {p}")))?;
        let now_ms = r.zvarint()?;
        let text = std::str::from_utf8(r.rest())
            .map_err(|_| DecodeError("line protocol is not UTF-8".into()))?;
        Ok(LinesRef {
            ns,
            precision,
            now_ms,
            text,
        })
    })())
}

/// Decodes an entry written by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<Entry, DecodeError> {
    if let Some(lines) = decode_lines(bytes) {
        let l = lines?;
        return Ok(Entry::Lines {
            ns: l.ns.map(str::to_string),
            precision: l.precision,
            now_ms: l.now_ms,
            text: l.text.to_string(),
        });
    }
    let mut r = Reader { b: bytes, at: 0 };
    let version = r.u8()?;
    if version != VERSION {
        return Err(DecodeError(format!(
            "entry version {version}, this server reads version {VERSION}"
        )));
    }
    let kind = r.u8()?;
    let ns = Some(r.str()?.to_string()).filter(|n| !n.is_empty());
    let entry = match kind {
        KIND_SAMPLES => {
            let n = r.count(2)?;
            let mut series = Vec::with_capacity(n);
            for _ in 0..n {
                let nl = r.count(2)?;
                let mut pairs = Vec::with_capacity(nl);
                for _ in 0..nl {
                    pairs.push((r.str()?, r.str()?));
                }
                let ns_ = r.count(9)?;
                let mut ts = Vec::with_capacity(ns_);
                let mut prev = 0i64;
                for i in 0..ns_ {
                    let d = r.zvarint()?;
                    prev = if i == 0 { d } else { prev.wrapping_add(d) };
                    ts.push(prev);
                }
                let mut samples = Vec::with_capacity(ns_);
                for t in ts {
                    let b = r.bytes(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    samples.push(Sample {
                        ts: t,
                        value: f64::from_bits(u64::from_le_bytes(a)),
                    });
                }
                series.push(TimeSeries {
                    labels: Labels::from_pairs(pairs),
                    samples,
                });
            }
            Entry::Samples { ns, series }
        }
        KIND_HEARTBEAT => {
            let received_ms = r.zvarint()?;
            let body = serde_json::from_slice(r.rest())
                .map_err(|e| DecodeError(format!("heartbeat JSON: {e}")))?;
            Entry::Heartbeat {
                ns,
                received_ms,
                body,
            }
        }
        KIND_EVENTS => {
            let n = r.count(3)?;
            let mut events = Vec::with_capacity(n);
            for _ in 0..n {
                let len = r.count(1)?;
                let doc = r.bytes(len)?;
                events.push(
                    serde_json::from_slice(doc)
                        .map_err(|e| DecodeError(format!("event JSON: {e}")))?,
                );
            }
            Entry::Events { ns, events }
        }
        other => return Err(DecodeError(format!("unknown entry kind {other}"))),
    };
    if r.at != bytes.len() {
        return Err(r.err("trailing bytes"));
    }
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, pts: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: Labels::from_pairs([("__name__", name), ("host", "a"), ("ns", "team1")]),
            samples: pts
                .iter()
                .map(|&(ts, value)| Sample { ts, value })
                .collect(),
        }
    }

    #[test]
    fn every_kind_roundtrips() {
        let entries = [
            Entry::Samples {
                ns: Some("team1".into()),
                series: vec![
                    series(
                        "cpu",
                        &[(1_700_000_000_000, 1.5), (1_700_000_010_000, -2.0)],
                    ),
                    series("mem", &[(-5, f64::INFINITY), (i64::MAX, 0.0)]),
                    series("empty", &[]),
                ],
            },
            Entry::Heartbeat {
                ns: None,
                received_ms: 1_700_000_000_123,
                body: serde_json::json!({"facts": {"hostname": "web1", "cpus": 4}}),
            },
            Entry::Lines {
                ns: Some("db1".into()),
                precision: Precision::Seconds,
                now_ms: 1_700_000_000_000,
                text: "cpu,host=a user=1.5 1700000000\nmem free=3i\n".into(),
            },
            Entry::Events {
                ns: Some("x".into()),
                events: vec![Event {
                    kind: "alarm".into(),
                    host: "h".into(),
                    ts: 5,
                    payload: serde_json::from_str(r#"{"code":"disk","level":2}"#)
                        .unwrap_or_default(),
                }],
            },
        ];
        for e in entries {
            let b = encode(&e);
            assert_eq!(b[0], VERSION);
            assert_eq!(decode(&b), Ok(e));
        }
    }

    #[test]
    fn samples_are_compact() {
        let pts: Vec<(i64, f64)> = (0..100)
            .map(|i| (1_700_000_000_000 + i * 10_000, i as f64))
            .collect();
        let b = encode(&Entry::Samples {
            ns: None,
            series: vec![series("cpu_usage_idle", &pts)],
        });
        // 8 bytes per value, 3 per timestamp delta, labels once.
        assert!(b.len() < 100 * 11 + 60, "{} bytes", b.len());
        assert!(decode(&b).is_ok_and(|e| e.kind() == "samples"));
    }

    #[test]
    fn large_sample_batches_split_into_entries_under_the_limit() {
        let all: Vec<TimeSeries> = (0..50)
            .map(|i| series(&format!("m{i}"), &[(i, i as f64), (i + 1, 1.0)]))
            .collect();
        let one = encode_samples(Some("team1"), &all, usize::MAX);
        assert_eq!(one.len(), 1);
        assert_eq!(
            one[0],
            encode(&Entry::Samples {
                ns: Some("team1".into()),
                series: all.clone()
            })
        );
        let parts = encode_samples(Some("team1"), &all, 400);
        assert!(parts.len() > 3, "{}", parts.len());
        let mut back = Vec::new();
        for p in &parts {
            assert!(p.len() <= 400, "{}", p.len());
            match decode(p) {
                Ok(Entry::Samples { ns, series }) => {
                    assert_eq!(ns.as_deref(), Some("team1"));
                    back.extend(series);
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(back, all);
        assert_eq!(encode_samples(None, &[], 100).len(), 1);
    }

    #[test]
    fn line_protocol_splits_at_line_ends() {
        let text: String = (0..100).map(|i| format!("m,i={i} v={i} {i}\n")).collect();
        let one = encode_lines(Some("n"), Precision::Seconds, 7, &text, usize::MAX);
        assert_eq!(one.len(), 1);
        let parts = encode_lines(Some("n"), Precision::Seconds, 7, &text, 200);
        assert!(parts.len() > 5);
        let mut back = String::new();
        for p in &parts {
            assert!(p.len() <= 200, "{}", p.len());
            match decode(p) {
                Ok(Entry::Lines {
                    ns,
                    precision,
                    now_ms,
                    text,
                }) => {
                    assert_eq!(
                        (ns.as_deref(), precision, now_ms),
                        (Some("n"), Precision::Seconds, 7)
                    );
                    assert!(text.ends_with('\n'));
                    back.push_str(&text);
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(back, text);
        // A line longer than the limit is one entry of its own, never cut.
        let long = format!("a\n{}\nb", "x".repeat(500));
        let parts = encode_lines(None, Precision::Seconds, 0, &long, 100);
        assert_eq!(parts.len(), 3);
    }

    /// A string field holding newlines is never cut: each entry parses to whole lines,
    /// and together they give back every line (a cut inside the string made the rest of
    /// an acknowledged body unparseable, and it was dropped).
    #[test]
    fn line_protocol_with_newlines_in_strings_splits_between_lines() {
        let text: String = (0..60)
            .map(|i| format!("m,i={i} msg=\"line one\nline two {i}\nthree\",v={i} {i}\n"))
            .collect();
        let want = argus_core::line_protocol::parse(&text).count();
        assert_eq!(want, 60);
        for max in [120, 200, 333] {
            let parts = encode_lines(None, Precision::Seconds, 0, &text, max);
            assert!(parts.len() > 5, "{max}: {}", parts.len());
            let mut back = String::new();
            let mut lines = 0;
            for p in &parts {
                let Ok(Entry::Lines { text: t, .. }) = decode(p) else {
                    panic!("undecodable part");
                };
                let parsed: Vec<_> = argus_core::line_protocol::parse(&t).collect();
                assert!(
                    parsed.iter().all(Result::is_ok),
                    "{max}: a cut line in {t:?}"
                );
                lines += parsed.len();
                back.push_str(&t);
            }
            assert_eq!((lines, back.as_str()), (60, text.as_str()), "{max}");
        }
    }

    #[test]
    fn bad_bytes_are_errors_not_panics() {
        let good = encode(&Entry::Samples {
            ns: Some("n".into()),
            series: vec![series("cpu", &[(1, 1.0), (2, 2.0)])],
        });
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut v2 = good.clone();
        v2[0] = 2;
        assert!(
            decode(&v2)
                .err()
                .is_some_and(|e| e.to_string().contains("version 2"))
        );
        let mut extra = good;
        extra.push(0);
        assert!(decode(&extra).is_err());
        // A huge count does not allocate: it is refused against the bytes left.
        assert!(decode(&[1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
    }
}
