//! Where every benchmark works and where it leaves its report: the same steps, the same
//! messages, for `tsdb`, `footprint`, `pipeline` and `query`.

use crate::probe::Utc;
use anyhow::Context as _;
use std::path::{Path, PathBuf};

/// `--work-dir` or the system's temporary directory, created if missing.
pub fn work_dir(opt: Option<&Path>) -> anyhow::Result<PathBuf> {
    let dir = opt.map_or_else(std::env::temp_dir, Path::to_path_buf);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Writes the markdown report to `--out` or `bench/results/<UTC date of the start>-<name>.md`
/// (creating its folder), prints it, and says on stderr where it went.
pub fn write_report(
    out: Option<&Path>,
    name: &str,
    started_ms: i64,
    text: &str,
) -> anyhow::Result<PathBuf> {
    let out = out.map_or_else(
        || {
            PathBuf::from(format!(
                "bench/results/{}-{name}.md",
                Utc::from_ms(started_ms).date()
            ))
        },
        Path::to_path_buf,
    );
    if let Some(parent) = out.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(&out, text).with_context(|| format!("cannot write {}", out.display()))?;
    print!("{text}");
    eprintln!("report written to {}", out.display());
    Ok(out)
}

/// An error message on one line of a markdown report, cut to 400 characters.
pub fn one_line(s: &str) -> String {
    crate::system::truncate(&s.replace('\n', " ⏎ "), 400)
}

/// 1234567 → "1,234,567".
pub fn int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
