//! Label sets as Alertmanager sees them: an alert's identity.
//!
//! A **label set** is a map from label name to value, kept sorted by name (`BTreeMap`), so
//! every ordering and hash below is deterministic. Its **fingerprint** is the 64-bit
//! FNV-1a hash Prometheus and Alertmanager compute over the sorted `name\xffvalue\xff`
//! bytes (`model.LabelSet.Fingerprint`); the webhook prints it as 16 hex digits, and this
//! crate uses it to key alerts, groups and notification-log entries.

use std::{cmp::Ordering, collections::BTreeMap, fmt::Write as _};

/// Labels or annotations, sorted by name.
pub type LabelSet = BTreeMap<String, String>;

const FNV_OFFSET: u64 = 14_695_981_039_346_656_037;
const FNV_PRIME: u64 = 1_099_511_628_211;
const SEPARATOR: u8 = 0xff;

fn fnv_add(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// FNV-1a 64 over the sorted `name\xffvalue\xff` pairs: Prometheus's
/// `labelSetToFingerprint`, so fingerprints equal the ones Alertmanager shows.
pub fn fingerprint(labels: &LabelSet) -> u64 {
    let mut h = FNV_OFFSET;
    for (name, value) in labels {
        h = fnv_add(h, name.as_bytes());
        h = fnv_add(h, &[SEPARATOR]);
        h = fnv_add(h, value.as_bytes());
        h = fnv_add(h, &[SEPARATOR]);
    }
    h
}

/// A fingerprint as Alertmanager prints it: 16 lowercase hex digits (`%016x`).
pub fn fingerprint_hex(fp: u64) -> String {
    format!("{fp:016x}")
}

/// `model.LabelSet.String()`: `{a="1", b="2"}`, pairs quoted with Go's `%q` and sorted as
/// whole strings (which differs from sorting by name when one name prefixes another).
/// The group key ends with this form, and receivers compare group keys byte for byte.
pub fn go_label_set_string(labels: &LabelSet) -> String {
    let mut pairs: Vec<String> = labels
        .iter()
        .map(|(n, v)| format!("{n}={}", go_quote(v)))
        .collect();
    pairs.sort();
    format!("{{{}}}", pairs.join(", "))
}

/// Go's `strconv.Quote`: printable characters as they are, `\"` and `\\`, the short
/// escapes for `\a\b\f\n\r\t\v`, and `\x`/`\u`/`\U` for other control and separator
/// characters.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            ' ' => out.push(' '),
            c if (c as u32) < 0x80 && (c.is_ascii_control()) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            // Go's IsPrint rejects control characters and every space separator but
            // U+0020; Rust has no general-category API, so this approximates with
            // `is_control` and `is_whitespace`.
            c if c.is_control() || c.is_whitespace() => {
                if (c as u32) <= 0xffff {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                } else {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `model.LabelSet.Before`: fewer labels sort first; otherwise the first differing pair in
/// the merged, sorted name list decides (a name missing on one side sorts that side
/// first), then the value.
pub fn label_set_cmp(a: &LabelSet, b: &LabelSet) -> Ordering {
    match a.len().cmp(&b.len()) {
        Ordering::Equal => {}
        other => return other,
    }
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    for n in names {
        let Some(av) = a.get(n) else {
            return Ordering::Less;
        };
        let Some(bv) = b.get(n) else {
            return Ordering::Greater;
        };
        match av.cmp(bv) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    Ordering::Equal
}

/// Whether `name` is a valid Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_alphabetic() || b == b'_' || (i > 0 && b.is_ascii_digit()))
}

/// Builds a label set from pairs (tests and callers that hold slices).
pub fn label_set<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> LabelSet {
    pairs
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_of_empty_set_is_fnv_offset_basis() {
        assert_eq!(fingerprint(&LabelSet::new()), 14_695_981_039_346_656_037);
    }

    #[test]
    fn fingerprint_matches_fnv1a_of_separated_pairs() {
        // Computed independently: FNV-1a 64 of b"alertname\xffUp\xff".
        let ls = label_set([("alertname", "Up")]);
        let mut h = FNV_OFFSET;
        for b in b"alertname\xffUp\xff" {
            h ^= u64::from(*b);
            h = h.wrapping_mul(FNV_PRIME);
        }
        assert_eq!(fingerprint(&ls), h);
        assert_eq!(fingerprint_hex(0xab), "00000000000000ab");
    }

    #[test]
    fn go_string_sorts_whole_pairs_and_quotes() {
        let ls = label_set([("a", "x\"y"), ("a_b", "1"), ("ab", "é\n")]);
        // "a=..." < "a_b=..." < "ab=..." byte-wise ('=' 0x3d < '_' 0x5f < 'b' 0x62).
        assert_eq!(go_label_set_string(&ls), r#"{a="x\"y", a_b="1", ab="é\n"}"#);
        assert_eq!(go_label_set_string(&LabelSet::new()), "{}");
        assert_eq!(go_quote("\u{1}\u{a0}"), r#""\x01\u00a0""#);
    }

    #[test]
    fn before_orders_by_size_then_first_difference() {
        let a = label_set([("a", "1")]);
        let b = label_set([("a", "1"), ("b", "1")]);
        assert_eq!(label_set_cmp(&a, &b), Ordering::Less);
        let c = label_set([("a", "2")]);
        assert_eq!(label_set_cmp(&a, &c), Ordering::Less);
        // Same size, different names: the side missing the smallest name sorts first.
        let d = label_set([("b", "0")]);
        assert_eq!(label_set_cmp(&d, &a), Ordering::Less);
        assert_eq!(label_set_cmp(&a, &a), Ordering::Equal);
    }

    #[test]
    fn label_name_validity() {
        assert!(is_valid_label_name("_a1"));
        assert!(!is_valid_label_name("1a"));
        assert!(!is_valid_label_name("a-b"));
        assert!(!is_valid_label_name(""));
    }
}
