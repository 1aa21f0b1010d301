//! Shell-style name patterns: the one matcher of the agent's name filters (the
//! processors' and alarms' measurement, field and tag filters, the `diskio` input's
//! `devices` and the `net` input's `interfaces`).
//!
//! A **glob** matches a whole name: `*` stands for any run of characters (including none)
//! and `?` for exactly one character; nothing else is special, so `sda1` matches only
//! `sda1`. This is what Telegraf's `devices` and `interfaces` options accept. (The `log`
//! input's `files` are paths walked on disk, with `**` and `[a-z]`: that is the `glob`
//! crate's job, not a name filter.)
//!
//! Matched by hand rather than compiled to a regex: every pattern is always valid, and a
//! `Regex` per pattern keeps a cache of its own, which cost the agent 0.27 MiB of peak RSS
//! with the default filters (bench/results/2026-12-07-structure.md); this walk allocates
//! nothing.

/// A glob, checked once for its cheap cases.
#[derive(Debug, Clone)]
pub struct Glob {
    pattern: String,
    kind: Kind,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `*`: everything.
    Any,
    /// No wildcard: plain comparison.
    Literal,
    Wildcard,
}

impl Glob {
    pub fn new(pattern: &str) -> Self {
        let kind = if pattern == "*" {
            Kind::Any
        } else if pattern.contains(['*', '?']) {
            Kind::Wildcard
        } else {
            Kind::Literal
        };
        Glob {
            pattern: pattern.to_string(),
            kind,
        }
    }

    pub fn many(patterns: &[String]) -> Vec<Glob> {
        patterns.iter().map(|p| Glob::new(p)).collect()
    }

    pub fn matches(&self, name: &str) -> bool {
        match self.kind {
            Kind::Any => true,
            Kind::Literal => self.pattern == name,
            Kind::Wildcard => wildcard(self.pattern.as_bytes(), name),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }
}

/// The classic walk with backtracking to the last `*`: linear for one star, and names are
/// short. Literal characters compare as their UTF-8 bytes; `?` and a star's retry step
/// over one whole character, so `?` is one character, not one byte.
fn wildcard(p: &[u8], name: &str) -> bool {
    let n = name.as_bytes();
    let char_len = |i: usize| name[i..].chars().next().map_or(1, char::len_utf8);
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if pi < p.len() && p[pi] == b'?' {
            pi += 1;
            ni += char_len(ni);
        } else if pi < p.len() && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn)) = star {
            let next = sn + char_len(sn);
            star = Some((sp, next));
            pi = sp + 1;
            ni = next;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
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
    pub fn new(include: &[String], exclude: &[String]) -> Self {
        NameFilter {
            include: Glob::many(include),
            exclude: Glob::many(exclude),
        }
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
        Glob::new(p).matches(n)
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
        let f = NameFilter::new(&sd, &sda);
        assert!(f.keeps("sdb") && !f.keeps("sda") && !f.keeps("nvme0n1"));
        assert!(!f.keeps_all());
        let all = NameFilter::new(&[], &sda);
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
        // A star's retry and `?` step over whole characters, never into one.
        assert!(m("*é", "aéé"));
        assert!(m("a*?", "aé"));
        assert!(!m("?", "é1"));
        assert!(m("??", "é1"));
        assert!(!m("*ê", "aé"));
    }
}
