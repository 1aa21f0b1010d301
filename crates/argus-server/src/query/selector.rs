//! Plain series selectors and their evaluation with Prometheus's semantics.
//!
//! An instant selector takes, per series, the newest sample at or before the reference time
//! (eval time minus `offset`, or the `@` time) that is no older than the lookback (5 m):
//! a sample exactly `lookback` old still counts. The output sample carries the eval time.
//! A range selector `[d]` returns the raw samples in the closed window `[ref - d, ref]`.

use argus_core::{Labels, METRIC_NAME, MatchOp, Matcher, Sample, Storage, StorageError};
use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{AtModifier, Expr, Offset, VectorSelector};

/// What an `@` modifier pins the reference time to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum At {
    Start,
    End,
    Time(i64),
}

/// A parsed selector.
#[derive(Debug, Clone)]
pub struct Selection {
    pub matchers: Vec<Matcher>,
    /// Positive means back in time.
    pub offset_ms: i64,
    pub at: Option<At>,
    /// `Some` for a range selector `[d]`.
    pub range_ms: Option<i64>,
}

fn convert_selector(vs: &VectorSelector) -> Result<Selection, String> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err("`or` inside a selector's braces is not supported".into());
    }
    let mut matchers = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    for m in &vs.matchers.matchers {
        let op = match m.op {
            PMatchOp::Equal => MatchOp::Equal,
            PMatchOp::NotEqual => MatchOp::NotEqual,
            PMatchOp::Re(_) => MatchOp::RegexMatch,
            PMatchOp::NotRe(_) => MatchOp::RegexNoMatch,
        };
        matchers.push(Matcher::new(&m.name, op, &m.value).map_err(|e| e.to_string())?);
    }
    if let Some(name) = &vs.name
        && !matchers.iter().any(|m| m.name == METRIC_NAME)
    {
        matchers.push(Matcher::equal(METRIC_NAME, name));
    }
    let offset_ms = match &vs.offset {
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
        None => 0,
    };
    let at = vs.at.as_ref().map(|a| match a {
        AtModifier::Start => At::Start,
        AtModifier::End => At::End,
        AtModifier::At(t) => At::Time(match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => d.as_millis() as i64,
            Err(e) => -(e.duration().as_millis() as i64),
        }),
    });
    Ok(Selection {
        matchers,
        offset_ms,
        at,
        range_ms: None,
    })
}

/// Parses `query`; only selectors (optionally in parentheses) are accepted for now.
pub fn parse_selector(query: &str) -> Result<Selection, String> {
    let expr = promql_parser::parser::parse(query)?;
    selection_of(&expr)
}

fn selection_of(expr: &Expr) -> Result<Selection, String> {
    match expr {
        Expr::VectorSelector(vs) => convert_selector(vs),
        Expr::MatrixSelector(ms) => {
            let mut s = convert_selector(&ms.vs)?;
            s.range_ms = Some(ms.range.as_millis() as i64);
            Ok(s)
        }
        Expr::Paren(p) => selection_of(&p.expr),
        other => Err(format!(
            "only series selectors are answered so far (PromQL evaluation is not built yet); got {other}"
        )),
    }
}

impl Selection {
    /// The reference time for evaluation time `t` in a query spanning `[start, end]`.
    fn reference(&self, t: i64, start: i64, end: i64) -> i64 {
        let base = match self.at {
            Some(At::Start) => start,
            Some(At::End) => end,
            Some(At::Time(x)) => x,
            None => t,
        };
        base - self.offset_ms
    }

    /// Instant evaluation at `t` of a plain (non-range) selector.
    pub fn instant(
        &self,
        store: &dyn Storage,
        t: i64,
        lookback_ms: i64,
    ) -> Result<Vec<(Labels, Sample)>, StorageError> {
        let r = self.reference(t, t, t);
        let series = store.select(&self.matchers, r - lookback_ms, r)?;
        Ok(series
            .into_iter()
            .filter_map(|s| {
                s.samples.last().map(|last| {
                    (
                        s.labels,
                        Sample {
                            ts: t,
                            value: last.value,
                        },
                    )
                })
            })
            .collect())
    }

    /// The raw samples of a range selector evaluated at `t`.
    pub fn raw_range(
        &self,
        store: &dyn Storage,
        t: i64,
    ) -> Result<Vec<(Labels, Vec<Sample>)>, StorageError> {
        let r = self.reference(t, t, t);
        let range = self.range_ms.unwrap_or(0);
        let series = store.select(&self.matchers, r - range, r)?;
        Ok(series.into_iter().map(|s| (s.labels, s.samples)).collect())
    }

    /// Range evaluation of a plain selector: one point per step where a sample is in reach.
    pub fn range(
        &self,
        store: &dyn Storage,
        start: i64,
        end: i64,
        step: i64,
        lookback_ms: i64,
    ) -> Result<Vec<(Labels, Vec<Sample>)>, StorageError> {
        let first_ref = self.reference(start, start, end);
        let last_ref = self.reference(end, start, end);
        let series = store.select_step(
            &self.matchers,
            first_ref.min(last_ref) - lookback_ms,
            first_ref.max(last_ref),
            step,
        )?;
        let mut out = Vec::with_capacity(series.len());
        let steps = ((end - start) / step + 1).max(0) as usize;
        for s in series {
            let mut points = Vec::with_capacity(steps.min(s.samples.len() * 2 + 1));
            let mut t = start;
            // Reference times only grow with t (offset and @ are fixed shifts), so one
            // cursor walks the samples once: `idx` is the count of samples at or before r.
            let mut idx = 0usize;
            while t <= end {
                let r = self.reference(t, start, end);
                while idx < s.samples.len() && s.samples[idx].ts <= r {
                    idx += 1;
                }
                if idx > 0 {
                    let x = s.samples[idx - 1];
                    if x.ts >= r - lookback_ms {
                        points.push(Sample {
                            ts: t,
                            value: x.value,
                        });
                    }
                }
                t += step;
            }
            if !points.is_empty() {
                out.push((s.labels, points));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;
    use argus_core::TimeSeries;

    fn store() -> MemStore {
        let s = MemStore::new();
        let samples = (0..10)
            .map(|i| Sample {
                ts: i * 60_000,
                value: i as f64,
            })
            .collect();
        let _ = s.append(vec![
            TimeSeries {
                labels: Labels::with_name("m", [("host", "a")]),
                samples,
            },
            TimeSeries {
                labels: Labels::with_name("m", [("host", "b")]),
                samples: vec![Sample { ts: 0, value: 42.0 }],
            },
        ]);
        s
    }

    fn sel(q: &str) -> Selection {
        parse_selector(q).unwrap_or_else(|e| panic!("{q}: {e}"))
    }

    #[test]
    fn instant_takes_newest_sample_within_lookback() {
        let s = store();
        let got = sel(r#"m{host="a"}"#)
            .instant(&s, 150_000, 300_000)
            .unwrap_or_default();
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].1,
            Sample {
                ts: 150_000,
                value: 2.0
            }
        );
        // host b's only sample (t=0) is exactly 5 m old at t=300 s: still counts.
        let b = sel(r#"m{host="b"}"#)
            .instant(&s, 300_000, 300_000)
            .unwrap_or_default();
        assert_eq!(b.len(), 1);
        let gone = sel(r#"m{host="b"}"#)
            .instant(&s, 300_001, 300_000)
            .unwrap_or_default();
        assert!(gone.is_empty());
    }

    #[test]
    fn offset_and_at_move_the_reference() {
        let s = store();
        let got = sel(r#"m{host="a"} offset 2m"#)
            .instant(&s, 300_000, 300_000)
            .unwrap_or_default();
        assert_eq!(got[0].1.value, 3.0);
        let at = sel(r#"m{host="a"} @ 120"#)
            .instant(&s, 540_000, 300_000)
            .unwrap_or_default();
        assert_eq!(
            at[0].1,
            Sample {
                ts: 540_000,
                value: 2.0
            }
        );
    }

    #[test]
    fn range_steps_and_gaps() {
        let s = store();
        let got = sel("m")
            .range(&s, 0, 600_000, 120_000, 300_000)
            .unwrap_or_default();
        let a: Vec<f64> = got[0].1.iter().map(|x| x.value).collect();
        assert_eq!(a, vec![0.0, 2.0, 4.0, 6.0, 8.0, 9.0]);
        let b: Vec<i64> = got[1].1.iter().map(|x| x.ts).collect();
        assert_eq!(b, vec![0, 120_000, 240_000]);
    }

    #[test]
    fn matrix_selector_returns_closed_window() {
        let s = store();
        let got = sel(r#"m{host="a"}[2m]"#)
            .raw_range(&s, 300_000)
            .unwrap_or_default();
        let ts: Vec<i64> = got[0].1.iter().map(|x| x.ts).collect();
        assert_eq!(ts, vec![180_000, 240_000, 300_000]);
    }

    #[test]
    fn non_selectors_are_refused_with_reason() {
        let e = parse_selector("sum(m)").err().unwrap_or_default();
        assert!(e.contains("only series selectors"), "{e}");
    }
}
