//! Shell-style name patterns for device and interface filters.
//!
//! A **pattern** matches a whole name; `*` stands for any run of characters (including none)
//! and `?` for exactly one. Nothing else is special, so `sda1` matches only `sda1`. This is
//! what Telegraf's `devices` and `interfaces` options accept, without pulling a glob crate.

/// Whether `name` matches `pattern` (see the module docs).
pub fn matches(pattern: &str, name: &str) -> bool {
    let p = pattern.as_bytes();
    let n = name.as_bytes();
    // Classic backtracking over the last `*`: linear for patterns with one star, and
    // device names are short.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Whether `name` matches any of `patterns`.
pub fn any(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|p| matches(p, name))
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn literal_names_match_only_themselves() {
        assert!(matches("sda", "sda"));
        assert!(!matches("sda", "sda1"));
        assert!(!matches("sda1", "sda"));
        assert!(matches("", ""));
        assert!(!matches("", "a"));
    }

    #[test]
    fn star_and_question_mark() {
        assert!(matches("loop*", "loop0"));
        assert!(matches("loop*", "loop"));
        assert!(!matches("loop*", "xloop0"));
        assert!(matches("*", "anything"));
        assert!(matches("sd?", "sdb"));
        assert!(!matches("sd?", "sdb1"));
        assert!(matches("nvme*n?", "nvme0n1"));
        assert!(!matches("nvme*n?", "nvme0n1p1"));
        assert!(matches("*p*", "nvme0n1p1"));
        assert!(matches("a*b*c", "aXbYbZc"));
        assert!(!matches("a*b*c", "aXbYbZ"));
    }
}
