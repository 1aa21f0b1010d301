//! Label matchers in Alertmanager's syntax (`pkg/labels`).
//!
//! A **matcher** is one condition `name op value` with `op` one of `=`, `!=`, `=~`, `!~`;
//! a label the alert lacks reads as `""`, and regular expressions are anchored
//! (`^(?:value)$`). Routes, inhibition rules and silences all AND their matchers.
//! [`parse_matchers`] reads the `matchers:` strings of `alertmanager.yml` exactly as
//! Alertmanager 0.25's parser does, quoted (`a="b"`) and unquoted (`a=b`), with or
//! without braces and with commas inside quotes.

use std::{cmp::Ordering, fmt, sync::OnceLock};

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::labels::LabelSet;

/// The four matcher operators, in Alertmanager's order (which breaks sort ties).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MatchType {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regexp,
    /// `!~`
    NotRegexp,
}

impl MatchType {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regexp => "=~",
            MatchType::NotRegexp => "!~",
        }
    }

    /// The API's `isRegex` flag.
    pub fn is_regex(self) -> bool {
        matches!(self, MatchType::Regexp | MatchType::NotRegexp)
    }

    /// The API's `isEqual` flag (false for the negated operators).
    pub fn is_equal(self) -> bool {
        matches!(self, MatchType::Equal | MatchType::Regexp)
    }

    /// The operator for the API's `isEqual`/`isRegex` pair.
    pub fn from_flags(is_equal: bool, is_regex: bool) -> Self {
        match (is_equal, is_regex) {
            (true, false) => MatchType::Equal,
            (false, false) => MatchType::NotEqual,
            (true, true) => MatchType::Regexp,
            (false, true) => MatchType::NotRegexp,
        }
    }
}

/// Why a matcher could not be built or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatcherError {
    /// The text is not `name op value`.
    #[error("bad matcher format: {0}")]
    BadFormat(String),
    /// A `"` inside the value that is neither escaped nor the closing quote.
    #[error("matcher value contains unescaped double quote: {0}")]
    UnescapedQuote(String),
    /// The regular expression does not compile.
    #[error("invalid regular expression {pattern:?}: {reason}")]
    Regex {
        /// The pattern as given.
        pattern: String,
        /// The regex crate's message.
        reason: String,
    },
}

/// One label condition.
#[derive(Clone)]
pub struct Matcher {
    /// The operator.
    pub ty: MatchType,
    /// The label name.
    pub name: String,
    /// The value or the (unanchored, as written) regular expression.
    pub value: String,
    re: Option<Regex>,
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.ty == other.ty && self.name == other.name && self.value == other.value
    }
}
impl Eq for Matcher {}

impl Matcher {
    /// Builds a matcher, compiling regexes anchored as `^(?:value)$`.
    pub fn new(ty: MatchType, name: &str, value: &str) -> Result<Self, MatcherError> {
        let re = if ty.is_regex() {
            Some(
                Regex::new(&format!("^(?:{value})$")).map_err(|e| MatcherError::Regex {
                    pattern: value.to_owned(),
                    reason: e.to_string(),
                })?,
            )
        } else {
            None
        };
        Ok(Matcher {
            ty,
            name: name.to_owned(),
            value: value.to_owned(),
            re,
        })
    }

    /// `name="value"`, which cannot fail.
    pub fn equal(name: &str, value: &str) -> Self {
        Matcher {
            ty: MatchType::Equal,
            name: name.to_owned(),
            value: value.to_owned(),
            re: None,
        }
    }

    /// Whether a label value (`""` when the label is missing) satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        match (self.ty, &self.re) {
            (MatchType::Equal, _) => value == self.value,
            (MatchType::NotEqual, _) => value != self.value,
            (MatchType::Regexp, Some(re)) => re.is_match(value),
            (MatchType::NotRegexp, Some(re)) => !re.is_match(value),
            // `new` always compiles a regex for the regex operators.
            (MatchType::Regexp | MatchType::NotRegexp, None) => false,
        }
    }

    /// Whether the matcher holds for a label set.
    pub fn matches_labels(&self, labels: &LabelSet) -> bool {
        self.matches(labels.get(&self.name).map_or("", String::as_str))
    }

    /// Silences require one matcher for which this is false, so that a silence never
    /// mutes every alert. As in Alertmanager's `matchesEmpty`, only `=` and `=~` count as
    /// matching the empty string; `!=` and `!~` never do.
    pub fn matches_empty(&self) -> bool {
        match self.ty {
            MatchType::Equal => self.value.is_empty(),
            MatchType::Regexp => self.matches(""),
            MatchType::NotEqual | MatchType::NotRegexp => false,
        }
    }
}

/// `name="value"` with the value OpenMetrics-escaped (`\\`, `\n`, `\"`), Alertmanager's
/// `Matcher.String()`, which route keys and group keys are built from.
impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let escaped = self
            .value
            .replace('\\', "\\\\")
            .replace('\n', "\\n")
            .replace('"', "\\\"");
        write!(f, "{}{}\"{}\"", self.name, self.ty.as_str(), escaped)
    }
}

/// An AND of matchers, sorted as Alertmanager sorts them (name, value, operator).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Matchers(pub Vec<Matcher>);

impl fmt::Debug for Matchers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl Matchers {
    /// Sorts by name, then value, then operator (`labels.Matchers.Less`).
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then_with(|| a.value.cmp(&b.value))
                .then_with(|| a.ty.cmp(&b.ty))
        });
    }

    /// Whether every matcher holds; an empty list matches everything.
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.0.iter().all(|m| m.matches_labels(labels))
    }

    /// Whether there are no matchers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The matchers.
    pub fn iter(&self) -> std::slice::Iter<'_, Matcher> {
        self.0.iter()
    }
}

/// `{a="b",c=~"d"}`: the route-key form (no spaces).
impl fmt::Display for Matchers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{m}")?;
        }
        f.write_str("}")
    }
}

fn matcher_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Alertmanager 0.25's pattern, with Go's `\s` (ASCII whitespace) spelled out because
    // Rust's `\s` is Unicode-aware. `=~` precedes `=` so that `a=~b` is not `a` `=` `~b`.
    RE.get_or_init(|| {
        Regex::new(
            r"^[\t\n\f\r ]*([a-zA-Z_:][a-zA-Z0-9_:]*)[\t\n\f\r ]*(=~|=|!=|!~)[\t\n\f\r ]*((?s).*?)[\t\n\f\r ]*$",
        )
        .unwrap_or_else(|e| unreachable!("static matcher regex: {e}"))
    })
}

/// Parses a list such as `{a="b", c=~"x|y"}` or `a=b,c!=d` (Alertmanager's
/// `labels.ParseMatchers`): one optional pair of braces, commas outside double quotes
/// separating matchers.
pub fn parse_matchers(s: &str) -> Result<Vec<Matcher>, MatcherError> {
    let s = s.strip_prefix('{').unwrap_or(s);
    let s = s.strip_suffix('}').unwrap_or(s);
    let mut tokens = Vec::new();
    let mut token = String::new();
    let (mut inside_quotes, mut escaped) = (false, false);
    for c in s.chars() {
        match c {
            ',' if !inside_quotes => {
                tokens.push(std::mem::take(&mut token));
                continue;
            }
            ',' => {}
            '"' => {
                if !escaped {
                    inside_quotes = !inside_quotes;
                } else {
                    escaped = false;
                }
            }
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
        token.push(c);
    }
    let last = token.trim_matches(|c: char| c.is_ascii_whitespace());
    if !last.is_empty() {
        tokens.push(last.to_owned());
    }
    tokens.iter().map(|t| parse_matcher(t)).collect()
}

/// Parses one `name op value` (Alertmanager's `labels.ParseMatcher`). The value may be
/// double-quoted; inside it `\"`, `\\` and `\n` are escapes and any other backslash is
/// literal.
pub fn parse_matcher(s: &str) -> Result<Matcher, MatcherError> {
    let caps = matcher_re()
        .captures(s)
        .ok_or_else(|| MatcherError::BadFormat(s.to_owned()))?;
    let (name, op, raw_full) = (&caps[1], &caps[2], &caps[3]);
    let (raw, mut expect_trailing_quote) = match raw_full.strip_prefix('"') {
        Some(rest) => (rest, true),
        None => (raw_full, false),
    };
    let mut value = String::with_capacity(raw.len());
    let mut escaped = false;
    for (i, c) in raw.char_indices() {
        if escaped {
            escaped = false;
            match c {
                'n' => value.push('\n'),
                '"' | '\\' => value.push(c),
                _ => {
                    value.push('\\');
                    value.push(c);
                }
            }
            continue;
        }
        match c {
            '\\' => {
                if i < raw.len() - 1 {
                    escaped = true;
                    continue;
                }
                value.push('\\');
            }
            '"' => {
                if !expect_trailing_quote || i < raw.len() - 1 {
                    return Err(MatcherError::UnescapedQuote(raw_full.to_owned()));
                }
                expect_trailing_quote = false;
            }
            _ => value.push(c),
        }
    }
    if expect_trailing_quote {
        return Err(MatcherError::UnescapedQuote(raw_full.to_owned()));
    }
    let ty = match op {
        "=" => MatchType::Equal,
        "!=" => MatchType::NotEqual,
        "=~" => MatchType::Regexp,
        _ => MatchType::NotRegexp,
    };
    Matcher::new(ty, name, &value)
}

/// A matcher in the Alertmanager v2 API's JSON shape
/// (`{"name","value","isRegex","isEqual"}`; `isEqual` defaults to true when absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiMatcher {
    /// Whether the operator is `=`/`=~` (true) or `!=`/`!~` (false).
    #[serde(rename = "isEqual", default = "default_true")]
    pub is_equal: bool,
    /// Whether the value is a regular expression.
    #[serde(rename = "isRegex")]
    pub is_regex: bool,
    /// The label name.
    pub name: String,
    /// The value or pattern.
    pub value: String,
}

fn default_true() -> bool {
    true
}

impl ApiMatcher {
    /// The API form of a matcher.
    pub fn from_matcher(m: &Matcher) -> Self {
        ApiMatcher {
            is_equal: m.ty.is_equal(),
            is_regex: m.ty.is_regex(),
            name: m.name.clone(),
            value: m.value.clone(),
        }
    }

    /// Builds (and compiles) the matcher.
    pub fn to_matcher(&self) -> Result<Matcher, MatcherError> {
        Matcher::new(
            MatchType::from_flags(self.is_equal, self.is_regex),
            &self.name,
            &self.value,
        )
    }
}

impl PartialOrd for Matcher {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Matcher {
    fn cmp(&self, other: &Self) -> Ordering {
        self.name
            .cmp(&other.name)
            .then_with(|| self.value.cmp(&other.value))
            .then_with(|| self.ty.cmp(&other.ty))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::label_set;

    fn one(s: &str) -> Matcher {
        parse_matcher(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_quoted_and_unquoted_forms() {
        let m = one(r#"severity="critical""#);
        assert_eq!(
            (m.ty, m.name.as_str(), m.value.as_str()),
            (MatchType::Equal, "severity", "critical")
        );
        let m = one("severity = critical");
        assert_eq!((m.ty, m.value.as_str()), (MatchType::Equal, "critical"));
        let m = one(r#"service=~"foo|bar""#);
        assert_eq!((m.ty, m.value.as_str()), (MatchType::Regexp, "foo|bar"));
        let m = one("env!=prod");
        assert_eq!((m.ty, m.value.as_str()), (MatchType::NotEqual, "prod"));
        let m = one(r#"job!~"node.*""#);
        assert_eq!((m.ty, m.value.as_str()), (MatchType::NotRegexp, "node.*"));
        // `=~` is taken whole, never `=` followed by a value starting with `~`.
        let m = one("a=~b");
        assert_eq!((m.ty, m.value.as_str()), (MatchType::Regexp, "b"));
        let m = one("a=");
        assert_eq!(m.value, "");
    }

    #[test]
    fn escapes_inside_quotes() {
        let m = one(r#"a="x\"y\\z\nw\q""#);
        assert_eq!(m.value, "x\"y\\z\nw\\q");
        assert_eq!(
            parse_matcher(r#"a="x"y""#),
            Err(MatcherError::UnescapedQuote(r#""x"y""#.into()))
        );
        assert_eq!(
            parse_matcher(r#"a="open"#),
            Err(MatcherError::UnescapedQuote(r#""open"#.into()))
        );
        assert_eq!(
            parse_matcher("=x"),
            Err(MatcherError::BadFormat("=x".into()))
        );
    }

    #[test]
    fn lists_split_outside_quotes_with_optional_braces() {
        let ms = parse_matchers(r#"{a="1,2", b=~"x|y" , c!=3}"#).unwrap_or_default();
        let got: Vec<String> = ms.iter().map(ToString::to_string).collect();
        assert_eq!(got, vec![r#"a="1,2""#, r#"b=~"x|y""#, r#"c!="3""#]);
        // A trailing comma is ignored, an empty middle token is an error.
        assert_eq!(parse_matchers("a=1,").map(|v| v.len()), Ok(1));
        assert!(parse_matchers("a=1,,b=2").is_err());
    }

    #[test]
    fn regexes_are_anchored_and_missing_labels_read_empty() {
        let m = one("job=~node");
        assert!(m.matches("node"));
        assert!(!m.matches("node_exporter"));
        let ls = label_set([("a", "1")]);
        assert!(one("b=").matches_labels(&ls));
        assert!(one("b!~.+").matches_labels(&ls));
        assert!(!one("b=~.+").matches_labels(&ls));
    }

    #[test]
    fn display_sort_and_matches_empty() {
        let mut ms = Matchers(vec![one("b=1"), one("a=~x"), one("a!=x"), one("a=x")]);
        ms.sort();
        assert_eq!(ms.to_string(), r#"{a="x",a!="x",a=~"x",b="1"}"#);
        assert!(one("a=").matches_empty());
        assert!(one("a=~.*").matches_empty());
        assert!(!one("a!=").matches_empty());
        assert!(!one("a!~x").matches_empty());
        assert_eq!(Matcher::equal("a", "q\"\n").to_string(), r#"a="q\"\n""#);
    }

    #[test]
    fn api_shape_roundtrips() {
        let m: ApiMatcher = serde_json::from_str(r#"{"name":"a","value":"b","isRegex":true}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(m.is_equal);
        let matcher = m.to_matcher().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(matcher.ty, MatchType::Regexp);
        assert_eq!(
            serde_json::to_string(&ApiMatcher::from_matcher(&one("x!~y"))).unwrap_or_default(),
            r#"{"isEqual":false,"isRegex":true,"name":"x","value":"y"}"#
        );
    }
}
