//! Where every benchmark works and where it leaves its report, and what a report says of
//! the binaries it ran: the same steps, the same messages, for `tsdb`, `footprint`,
//! `pipeline`, `query` and `inventory`.

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

/// The first line `cmd arg` prints (stdout, else stderr), "unknown" if none: the version
/// of a binary under test, for a report.
pub fn command_version(cmd: &Path, arg: &str) -> String {
    std::process::Command::new(cmd)
        .arg(arg)
        .output()
        .ok()
        .map(|o| {
            let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if s.is_empty() {
                String::from_utf8_lossy(&o.stderr).trim().to_string()
            } else {
                s
            }
        })
        .and_then(|s| s.lines().next().map(str::to_string))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The short commit of the working tree the benchmark runs from, "unknown" outside git.
pub fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}
