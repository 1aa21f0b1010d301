//! What a script's file name says: whether it is a script at all, the interval in its
//! prefix (`60_check_disk.sh` runs every 60 s), and its name in series (`check_disk`).

/// Whether a file of this name may be a script: not hidden, not documentation or a
/// config file, not an editor's backup.
pub(crate) fn is_script_name(name: &str) -> bool {
    !(name.starts_with('.')
        || name.ends_with(".toml")
        || name.ends_with(".md")
        || name.ends_with('~'))
}

/// The interval in a file name's prefix: `60_check_disk.sh` runs every 60 s. `None` without
/// a prefix (or with one too large to be seconds), `Some(0)` for `0_…` (the default).
pub(crate) fn interval_prefix(file_name: &str) -> Option<u64> {
    let (digits, _) = split_prefix(file_name)?;
    digits.parse().ok()
}

/// `60_check_disk.sh` → `("60", "check_disk.sh")`, for names with an interval prefix.
fn split_prefix(file_name: &str) -> Option<(&str, &str)> {
    let end = file_name.find(|c: char| !c.is_ascii_digit())?;
    let (digits, rest) = file_name.split_at(end);
    let rest = rest.strip_prefix('_')?;
    (!digits.is_empty() && !rest.is_empty()).then_some((digits, rest))
}

/// The script's name in series: the file name without its interval prefix and its
/// extension, with every character outside `[a-zA-Z0-9_]` replaced by `_`.
pub(crate) fn script_name(file_name: &str) -> String {
    let base = split_prefix(file_name).map_or(file_name, |(_, rest)| rest);
    let stem = match base.rfind('.') {
        Some(i) if i > 0 => &base[..i],
        _ => base,
    };
    super::format::sanitize(stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_prefixes_are_leading_digits_and_an_underscore() {
        assert_eq!(interval_prefix("60_check_disk.sh"), Some(60));
        assert_eq!(interval_prefix("5_x"), Some(5));
        assert_eq!(interval_prefix("0_x.py"), Some(0));
        assert_eq!(interval_prefix("check_disk.sh"), None);
        assert_eq!(interval_prefix("10check.sh"), None);
        assert_eq!(interval_prefix("60_"), None);
        assert_eq!(interval_prefix("99999999999999999999999_x"), None);
    }

    #[test]
    fn script_names_drop_the_prefix_and_extension() {
        assert_eq!(script_name("60_check_disk.sh"), "check_disk");
        assert_eq!(script_name("check.disk.py"), "check_disk");
        assert_eq!(script_name("my-check"), "my_check");
        assert_eq!(script_name("10check.sh"), "10check");
        assert_eq!(script_name("60_5xx.rb"), "5xx");
    }

    #[test]
    fn hidden_docs_configs_and_backups_are_not_scripts() {
        assert!(is_script_name("check.sh"));
        for name in [".hidden.sh", "check.sh.toml", "README.md", "check.sh~"] {
            assert!(!is_script_name(name), "{name}");
        }
    }
}
