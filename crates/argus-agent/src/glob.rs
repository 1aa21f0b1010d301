//! Shell-style name patterns, compiled once: the one matcher of the agent's name filters
//! (the processors' and alarms' measurement, field and tag filters, the `diskio` input's
//! `devices` and the `net` input's `interfaces`).
//!
//! A **glob** matches a whole name: `*` stands for any run of characters (including none)
//! and `?` for exactly one character; nothing else is special, so `sda1` matches only
//! `sda1`. This is what Telegraf's `devices` and `interfaces` options accept. Patterns are
//! compiled to an anchored regex once at build time because they are matched against
//! every point of every round. (The `log` input's `files` are paths walked on disk, with
//! `**` and `[a-z]`: that is the `glob` crate's job, not a name filter.)

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

/// Names kept by an include list (empty: every name) and not dropped by an exclude list:
/// the shape of every `devices`/`ignore_devices` and `*_include`/`*_exclude` option pair.
#[derive(Debug, Clone, Default)]
pub struct NameFilter {
    include: Vec<Glob>,
    exclude: Vec<Glob>,
}

impl NameFilter {
    /// Compiles both lists; an error names the option (`(option, patterns)`) and pattern.
    pub fn new(include: (&str, &[String]), exclude: (&str, &[String])) -> anyhow::Result<Self> {
        let many = |(option, patterns): (&str, &[String])| {
            Glob::many(patterns).map_err(|e| anyhow::anyhow!("{option}: {e}"))
        };
        Ok(NameFilter {
            include: many(include)?,
            exclude: many(exclude)?,
        })
    }

    pub fn keeps(&self, name: &str) -> bool {
        (self.include.is_empty() || any(&self.include, name)) && !any(&self.exclude, name)
    }

    /// Whether every name is kept, so callers can skip the work of filtering.
    pub fn keeps_all(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::NameFilter;

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

    /// Device and interface names, as the `diskio` and `net` filters see them.
    #[test]
    fn device_names() {
        assert!(m("loop*", "loop0"));
        assert!(m("loop*", "loop"));
        assert!(!m("loop*", "xloop0"));
        assert!(m("nvme*n?", "nvme0n1"));
        assert!(!m("nvme*n?", "nvme0n1p1"));
        assert!(m("*p*", "nvme0n1p1"));
        // `?` is one character, not one byte.
        assert!(m("eth?", "ethé"));
    }

    #[test]
    fn a_name_filter_includes_then_excludes() {
        let list = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (sd, sda) = (list(&["sd*"]), list(&["sda"]));
        let f = NameFilter::new(("devices", &sd), ("ignore_devices", &sda)).expect("filter");
        assert!(f.keeps("sdb") && !f.keeps("sda") && !f.keeps("nvme0n1"));
        assert!(!f.keeps_all());
        let all = NameFilter::new(("devices", &[]), ("ignore_devices", &sda)).expect("filter");
        assert!(all.keeps("nvme0n1") && !all.keeps("sda"));
        assert!(NameFilter::default().keeps_all());
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
