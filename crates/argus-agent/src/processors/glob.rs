//! Shell-style name patterns, compiled once, for the processors' and alarms' filters.
//!
//! A **glob** matches a whole name: `*` stands for any run of characters (including none)
//! and `?` for exactly one; nothing else is special. The same syntax as the inputs' device
//! filters (`inputs/glob.rs`, private to the inputs); here patterns are compiled to an
//! anchored regex once at build time because they are matched against every point of
//! every round.

use regex::Regex;

/// A compiled glob.
#[derive(Debug, Clone)]
pub struct Glob {
    pattern: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// `*`: everything.
    Any,
    /// No wildcard: plain comparison.
    Literal,
    Regex(Regex),
}

impl Glob {
    /// Compiles `pattern`. Every string is a valid glob; the `Result` is for a pattern too
    /// large for the regex engine.
    pub fn new(pattern: &str) -> Result<Self, regex::Error> {
        let kind = if pattern == "*" {
            Kind::Any
        } else if !pattern.contains(['*', '?']) {
            Kind::Literal
        } else {
            let mut re = String::with_capacity(pattern.len() + 8);
            re.push_str("^(?s:");
            let mut literal = String::new();
            for c in pattern.chars() {
                if c == '*' || c == '?' {
                    re.push_str(&regex::escape(&literal));
                    literal.clear();
                    re.push_str(if c == '*' { ".*" } else { "." });
                } else {
                    literal.push(c);
                }
            }
            re.push_str(&regex::escape(&literal));
            re.push_str(")$");
            Kind::Regex(Regex::new(&re)?)
        };
        Ok(Glob {
            pattern: pattern.to_string(),
            kind,
        })
    }

    /// Compiles each pattern, naming the bad one in the error.
    pub fn many(patterns: &[String]) -> anyhow::Result<Vec<Glob>> {
        patterns
            .iter()
            .map(|p| Glob::new(p).map_err(|e| anyhow::anyhow!("pattern {p:?}: {e}")))
            .collect()
    }

    pub fn matches(&self, name: &str) -> bool {
        match &self.kind {
            Kind::Any => true,
            Kind::Literal => self.pattern == name,
            Kind::Regex(re) => re.is_match(name),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }
}

/// Whether `name` matches any of `globs`.
pub fn any(globs: &[Glob], name: &str) -> bool {
    globs.iter().any(|g| g.matches(name))
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn m(p: &str, n: &str) -> bool {
        Glob::new(p).expect("glob").matches(n)
    }

    #[test]
    fn literals_match_only_themselves() {
        assert!(m("cpu", "cpu"));
        assert!(!m("cpu", "cpu2"));
        assert!(!m("cpu", "xcpu"));
        assert!(m("", ""));
        assert!(!m("", "a"));
        // Regex metacharacters are plain characters in a glob.
        assert!(m("a.b+(c)", "a.b+(c)"));
        assert!(!m("a.b*", "axb"));
    }

    #[test]
    fn star_and_question_mark() {
        assert!(m("*", ""));
        assert!(m("*", "anything at all"));
        assert!(m("disk*", "disk"));
        assert!(m("disk*", "diskio"));
        assert!(!m("disk*", "xdisk"));
        assert!(m("*_bytes", "used_bytes"));
        assert!(!m("*_bytes", "used_bytes_total"));
        assert!(m("sd?", "sda"));
        assert!(!m("sd?", "sda1"));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(!m("a*b*c", "aXbYbZ"));
        assert!(m("line*", "line\nbreak"));
    }
}
