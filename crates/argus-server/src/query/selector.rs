//! Series selectors as the `match[]` parameter of the series and label endpoints takes
//! them: parsed with promql-parser, refused with a reason when the query is anything else.
//! (PromQL evaluation is argus-promql's.)

use argus_core::{METRIC_NAME, MatchOp, Matcher};
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_selectors_are_refused_with_reason() {
        let e = parse_selector("sum(m)").err().unwrap_or_default();
        assert!(e.contains("only series selectors"), "{e}");
    }
}
