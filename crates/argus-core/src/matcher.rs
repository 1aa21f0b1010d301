//! Label matchers with Prometheus semantics.
//!
//! A matcher compares one label's value, where a missing label reads as the empty string.
//! Regular expressions are fully anchored (`^(?:re)$`), so `=~"a"` matches only "a".

use crate::model::Labels;
use regex::Regex;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    Equal,
    NotEqual,
    RegexMatch,
    RegexNoMatch,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::RegexMatch => "=~",
            MatchOp::RegexNoMatch => "!~",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid regular expression {pattern:?} for label {name:?}: {source}")]
pub struct MatcherError {
    pub name: String,
    pub pattern: String,
    #[source]
    pub source: regex::Error,
}

/// One `name op "value"` condition on a label set.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    regex: Option<Regex>,
}

impl Matcher {
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Self, MatcherError> {
        let regex = match op {
            MatchOp::RegexMatch | MatchOp::RegexNoMatch => Some(
                Regex::new(&format!("^(?s:{value})$")).map_err(|source| MatcherError {
                    name: name.to_string(),
                    pattern: value.to_string(),
                    source,
                })?,
            ),
            _ => None,
        };
        Ok(Matcher {
            name: name.to_string(),
            op,
            value: value.to_string(),
            regex,
        })
    }

    /// `name="value"`.
    pub fn equal(name: &str, value: &str) -> Self {
        Matcher {
            name: name.to_string(),
            op: MatchOp::Equal,
            value: value.to_string(),
            regex: None,
        }
    }

    /// Whether `value` (the empty string for a missing label) satisfies the matcher.
    pub fn matches_value(&self, value: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::RegexMatch, Some(re)) => re.is_match(value),
            (MatchOp::RegexNoMatch, Some(re)) => !re.is_match(value),
            // Unreachable by construction: regex ops always carry a compiled regex.
            (_, None) => false,
        }
    }

    /// Whether the matcher accepts the empty string, that is, series lacking the label.
    pub fn matches_empty(&self) -> bool {
        self.matches_value("")
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.matches_value(labels.get(&self.name).unwrap_or(""))
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op.as_str(), self.value)
    }
}

/// Whether every matcher accepts `labels`.
pub fn matches_all(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, op: MatchOp, v: &str) -> Matcher {
        Matcher::new(name, op, v).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn regex_is_anchored() {
        let l = Labels::from_pairs([("job", "node_exporter")]);
        assert!(!m("job", MatchOp::RegexMatch, "node").matches(&l));
        assert!(m("job", MatchOp::RegexMatch, "node.*").matches(&l));
        assert!(m("job", MatchOp::RegexNoMatch, "node").matches(&l));
    }

    #[test]
    fn missing_label_reads_as_empty() {
        let l = Labels::from_pairs([("a", "1")]);
        assert!(m("b", MatchOp::Equal, "").matches(&l));
        assert!(m("b", MatchOp::NotEqual, "x").matches(&l));
        assert!(!m("b", MatchOp::RegexMatch, ".+").matches(&l));
    }

    #[test]
    fn bad_regex_names_the_label() {
        let e = Matcher::new("host", MatchOp::RegexMatch, "(").err();
        assert!(e.is_some_and(|e| e.to_string().contains("\"host\"")));
    }
}
