//! Plugins from git: the server clones the repository with the `git` command, resolves
//! the ref to a commit, and exports that commit's tree (or one directory of it) as a
//! plugin archive. The clone lives in a temporary directory only for the request, so a
//! server keeps no state of its own (servers sharing a database may each sync).
//!
//! Every step is bounded: the whole export by `[plugins] git_timeout_secs`, the export's
//! size by `[plugins] max_bytes`. Git never prompts for credentials (it fails instead),
//! and what an editor gives can never be read as an option by git: URLs and refs starting
//! with `-` are refused, and `--` / `--end-of-options` close every option list. Git's own
//! message is passed on when it refuses.

use super::super::store::plugins::GitSource;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Bytes of git's standard error kept for a message.
const STDERR_MAX_BYTES: usize = 4096;

/// Why a git source gives no version.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git.{field}: {reason}")]
    BadSource { field: &'static str, reason: String },
    #[error("git {step} failed: {message}")]
    Failed { step: String, message: String },
    #[error("git did not finish within {secs} s ([plugins] git_timeout_secs)")]
    TimedOut { secs: u64 },
    #[error("the export is larger than the limit of {limit} bytes ([plugins] max_bytes)")]
    TooLarge { limit: usize },
    #[error("cannot run git: {0}")]
    Spawn(String),
}

fn bad(field: &'static str, reason: impl Into<String>) -> GitError {
    GitError::BadSource {
        field,
        reason: reason.into(),
    }
}

/// Checks the URL, ref and path before git sees them.
pub fn check_source(s: &GitSource) -> Result<(), GitError> {
    let url = s.url.as_str();
    if url.is_empty() || url.len() > 2048 {
        return Err(bad("url", "must be 1 to 2048 bytes"));
    }
    if url.starts_with('-') {
        return Err(bad("url", format!("{url:?} starts with '-'")));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad(
            "url",
            format!("{url:?} holds spaces or control characters"),
        ));
    }
    if url.contains("::") {
        // git's remote helpers (`ext::`, `fd::`) run commands: never.
        return Err(bad(
            "url",
            format!("{url:?}: remote helper URLs (<transport>::<address>) are not allowed"),
        ));
    }
    let r = s.git_ref.as_str();
    let ref_ok =
        word(r, 256, b"._/-^~@{}") && !r.starts_with('-') && !r.contains("..") && !r.ends_with('/');
    if !ref_ok {
        return Err(bad(
            "ref",
            format!("{r:?} is not a branch, tag or commit name"),
        ));
    }
    let p = s.path.trim_matches('/');
    if !p.is_empty()
        && (!word(p, 1024, b"._/-") || p.split('/').any(|c| c.is_empty() || c == "." || c == ".."))
    {
        return Err(bad(
            "path",
            format!("{:?} is not a directory path inside the repository", s.path),
        ));
    }
    Ok(())
}

/// 1 to `max` bytes of ASCII letters, digits and `extra`.
fn word(v: &str, max: usize, extra: &[u8]) -> bool {
    crate::store::db::is_word(v, max, extra)
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir() -> Result<TempDir, GitError> {
    let mut rnd = [0u8; 8];
    getrandom::fill(&mut rnd).map_err(|e| GitError::Spawn(e.to_string()))?;
    let path = std::env::temp_dir().join(format!(
        "argus-git-{}",
        argus_core::plugin_archive::hex(&rnd)
    ));
    std::fs::create_dir(&path).map_err(|e| GitError::Spawn(format!("{}: {e}", path.display())))?;
    Ok(TempDir(path))
}

/// Clones `source`, and returns the commit its ref names and the archive of its tree (or
/// of its `path`): a tar made by `git archive`, gzip-compressed without a time stamp, so
/// one commit always gives the same bytes.
pub async fn export(
    source: &GitSource,
    timeout: Duration,
    max_bytes: usize,
) -> Result<(String, Vec<u8>), GitError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let tmp = temp_dir()?;
    let repo = tmp.0.join("repo");
    let mut clone: Vec<OsString> = ["clone", "--bare", "--quiet", "--"]
        .map(OsString::from)
        .to_vec();
    clone.push(source.url.clone().into());
    clone.push(repo.clone().into_os_string());
    run(
        &format!("clone {}", source.url),
        None,
        &clone,
        deadline,
        timeout,
        STDERR_MAX_BYTES,
    )
    .await?;
    let spec = format!("{}^{{commit}}", source.git_ref);
    let rev = run(
        "rev-parse",
        Some(&repo),
        &[
            "rev-parse".into(),
            "--verify".into(),
            "--end-of-options".into(),
            spec.into(),
        ],
        deadline,
        timeout,
        1024,
    )
    .await
    .map_err(|e| match e {
        GitError::Failed { .. } => GitError::Failed {
            step: "rev-parse".into(),
            message: format!(
                "ref {:?} is not a branch, tag or commit of {}",
                source.git_ref, source.url
            ),
        },
        other => other,
    })?;
    let commit = String::from_utf8_lossy(&rev).trim().to_string();
    let path = source.path.trim_matches('/');
    let tree = if path.is_empty() {
        commit.clone()
    } else {
        format!("{commit}:{path}")
    };
    let tar = run(
        "archive",
        Some(&repo),
        &["archive".into(), "--format=tar".into(), tree.into()],
        deadline,
        timeout,
        max_bytes,
    )
    .await?;
    use std::io::Write;
    let mut gz = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar)
        .and_then(|()| gz.finish())
        .map(|bytes| (commit, bytes))
        .map_err(|e| GitError::Spawn(e.to_string()))
}

/// Runs git with `args` (in `dir`), and returns its standard output, at most
/// `max_stdout` bytes; stops it at `deadline`.
async fn run(
    step: &str,
    dir: Option<&Path>,
    args: &[OsString],
    deadline: tokio::time::Instant,
    timeout: Duration,
    max_stdout: usize,
) -> Result<Vec<u8>, GitError> {
    let mut cmd = tokio::process::Command::new("git");
    if let Some(d) = dir {
        cmd.arg("-C").arg(d);
    }
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "/bin/false")
        .env("SSH_ASKPASS", "/bin/false")
        .env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
        .env("LC_ALL", "C")
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| GitError::Spawn(format!("git: {e}")))?;
    let (Some(mut out), Some(mut err)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(GitError::Spawn("git: no pipes".into()));
    };
    // Standard error is read to its end (a git that cannot write it would wait), and its
    // start kept.
    let stderr = tokio::spawn(async move {
        let mut kept = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = err.read(&mut buf).await {
            if n == 0 {
                break;
            }
            let room = STDERR_MAX_BYTES.saturating_sub(kept.len());
            kept.extend_from_slice(&buf[..n.min(room)]);
        }
        kept
    });
    let read_out = async {
        let mut stdout = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            match out.read(&mut buf).await {
                Ok(0) | Err(_) => return Some(stdout),
                Ok(n) if stdout.len() + n > max_stdout => return None,
                Ok(n) => stdout.extend_from_slice(&buf[..n]),
            }
        }
    };
    let stdout = match tokio::time::timeout_at(deadline, read_out).await {
        Ok(Some(stdout)) => stdout,
        Ok(None) => {
            let _ = child.kill().await;
            return Err(GitError::TooLarge { limit: max_stdout });
        }
        Err(_) => {
            let _ = child.kill().await;
            return Err(GitError::TimedOut {
                secs: timeout.as_secs(),
            });
        }
    };
    let status = match tokio::time::timeout_at(deadline, child.wait()).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(GitError::Spawn(e.to_string())),
        Err(_) => {
            let _ = child.kill().await;
            return Err(GitError::TimedOut {
                secs: timeout.as_secs(),
            });
        }
    };
    if !status.success() {
        let stderr = stderr.await.unwrap_or_default();
        let text = String::from_utf8_lossy(&stderr);
        let message = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(GitError::Failed {
            step: step.to_string(),
            message: if message.is_empty() {
                format!("exited with {status}")
            } else {
                message
            },
        });
    }
    Ok(stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(url: &str, r: &str, path: &str) -> GitSource {
        GitSource {
            url: url.into(),
            git_ref: r.into(),
            path: path.into(),
        }
    }

    #[test]
    fn sources_that_git_could_misread_are_refused() {
        assert!(check_source(&src("file:///srv/p.git", "main", "")).is_ok());
        assert!(check_source(&src("https://example.com/p.git", "v1.2", "checks/disk")).is_ok());
        assert!(check_source(&src("/srv/p.git", "0123abcd", "")).is_ok());
        for (s, want) in [
            (src("", "main", ""), "git.url: must be 1 to 2048 bytes"),
            (
                src("--upload-pack=x", "main", ""),
                "git.url: \"--upload-pack=x\" starts with '-'",
            ),
            (
                src("ext::sh -c x", "main", ""),
                "git.url: \"ext::sh -c x\" holds spaces",
            ),
            (src("ext::sh", "main", ""), "remote helper URLs"),
            (
                src("file:///p", "--output=x", ""),
                "git.ref: \"--output=x\" is not",
            ),
            (src("file:///p", "a..b", ""), "git.ref"),
            (src("file:///p", "", ""), "git.ref"),
            (src("file:///p", "main", "../x"), "git.path: \"../x\""),
        ] {
            let e = check_source(&s)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(want), "{s:?}: {e}");
        }
    }

    /// A bare repository with two commits made by the real git: the export follows the
    /// ref, names its commit, and holds the tree (or the directory asked for).
    #[tokio::test]
    async fn exports_follow_the_ref_and_git_errors_are_passed_on() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let work = dir.path().join("work");
        let bare = dir.path().join("p.git");
        let git = |args: &[&str], cwd: &Path| {
            let out = std::process::Command::new("git")
                .args(args)
                .current_dir(cwd)
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@example.com")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@example.com")
                .output()
                .unwrap_or_else(|e| panic!("git: {e}"));
            assert!(
                out.status.success(),
                "git {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        std::fs::create_dir_all(work.join("sub")).unwrap_or_else(|e| panic!("{e}"));
        git(&["init", "-q", "-b", "main"], &work);
        std::fs::write(work.join("plugin.sh"), "#!/bin/sh\necho one 1\n")
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(work.join("sub/plugin.sh"), "#!/bin/sh\necho sub 1\n")
            .unwrap_or_else(|e| panic!("{e}"));
        git(&["add", "."], &work);
        git(&["commit", "-q", "-m", "one"], &work);
        let first = git(&["rev-parse", "HEAD"], &work);
        git(
            &["clone", "-q", "--bare", ".", bare.to_str().unwrap_or("")],
            &work,
        );
        let url = format!("file://{}", bare.display());
        let t = Duration::from_secs(30);

        let (commit, archive) = export(&src(&url, "main", ""), t, 1 << 20)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(commit, first);
        let c =
            argus_core::plugin_archive::check(&archive, 1 << 20).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.entry.as_str(), c.files), ("plugin.sh", 2));
        // The same commit gives the same bytes.
        let (_, again) = export(&src(&url, &first, ""), t, 1 << 20)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            argus_core::plugin_archive::sha256_hex(&again),
            argus_core::plugin_archive::sha256_hex(&archive)
        );
        let (_, sub) = export(&src(&url, "main", "sub"), t, 1 << 20)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let c = argus_core::plugin_archive::check(&sub, 1 << 20).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.files, 1);

        let e = export(&src(&url, "nobranch", ""), t, 1 << 20)
            .await
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(
                format!(
                    "git rev-parse failed: ref \"nobranch\" is not a branch, tag or commit of {url}"
                )
                .as_str()
            )
        );
        let missing = format!("file://{}/none.git", dir.path().display());
        let e = export(&src(&missing, "main", ""), t, 1 << 20)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.starts_with(&format!("git clone {missing} failed: ")),
            "{e}"
        );
        assert!(
            e.contains("does not appear to be a git repository") || e.contains("not found"),
            "{e}"
        );
        let e = export(&src(&url, "main", ""), t, 100).await.err();
        assert!(
            matches!(e, Some(GitError::TooLarge { limit: 100 })),
            "{e:?}"
        );
    }
}
