//! The **plugin archive**: the one form in which a distributed plugin travels from the
//! server to its agents, and the checks both ends make on it.
//!
//! A plugin is a directory with an **entry point**: `plugin.sh`, or the file its
//! **manifest** (`plugin.toml` at the top of the directory) names as `entry`. Whatever the
//! server was given (one script, a tar.gz of a directory, a git commit), it keeps and
//! serves a gzip-compressed tar of that directory, and identifies the bytes by their
//! SHA-256 ([`sha256_hex`]): the agent verifies that digest before it unpacks anything.
//!
//! An archive is **safe** when every entry is a regular file, a directory or a symbolic
//! link whose target is a relative path without `..`, at a relative path without `..`; and
//! when its files add up to at most the limit given. Anything else is refused with the
//! entry's path and the reason ([`ArchiveError`]): absolute paths, `..`, hard links,
//! devices, FIFOs, links that could lead out of the directory, and gzip bombs. Because no
//! link may point upwards, no path written through links can leave the directory either.
//! [`check`] only reads (the server, at upload); [`unpack`] checks while it writes into an
//! empty directory (the agent). Modes keep their execute bits; set-id bits and write
//! access for others are dropped, and the entry point is made executable.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The manifest's file name, at the top of the plugin's directory.
pub const MANIFEST: &str = "plugin.toml";
/// The entry point of a plugin whose manifest names none (and the file a single uploaded
/// script becomes).
pub const DEFAULT_ENTRY: &str = "plugin.sh";

/// `plugin.toml`: what a plugin says about itself. Every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Manifest {
    /// The file to run, relative to the plugin's directory; empty: `plugin.sh`.
    pub entry: String,
    /// One line for people.
    pub description: String,
    /// Seconds between two runs when an assignment gives none; 0 runs on demand only.
    pub interval_secs: Option<u64>,
    /// Seconds a run may take when an assignment gives none.
    pub timeout_secs: Option<u64>,
}

impl Manifest {
    /// The entry point, `plugin.sh` when none is named.
    pub fn entry(&self) -> &str {
        if self.entry.is_empty() {
            DEFAULT_ENTRY
        } else {
            &self.entry
        }
    }
}

/// What a safe archive holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub manifest: Manifest,
    /// The entry point's path in the directory (from the manifest, or `plugin.sh`).
    pub entry: String,
    /// Regular files.
    pub files: usize,
    /// Their bytes, unpacked.
    pub unpacked_bytes: u64,
}

/// Why an archive is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a valid tar.gz: {0}")]
    NotArchive(String),
    #[error("entry {path:?}: {reason}")]
    Unsafe { path: String, reason: String },
    #[error("unpacked, the plugin is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("{MANIFEST}: {0}")]
    BadManifest(String),
    #[error(
        "no entry point: the archive has no file {0:?} (name another one as `entry` in {MANIFEST})"
    )]
    NoEntry(String),
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
}

/// The SHA-256 of `bytes`, as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Whether `bytes` start like gzip data.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// A one-script plugin as an archive: the script as `plugin.sh`, mode 0755. The same
/// script always gives the same bytes (no times, no owner), so uploading it again makes no
/// new version.
pub fn from_script(script: &[u8]) -> Vec<u8> {
    let gz = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(gz);
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(script.len() as u64);
    header.set_mode(0o755);
    header.set_mtime(0);
    // `plugin.sh` is a valid tar path: setting it cannot fail.
    let _ = header.set_path(DEFAULT_ENTRY);
    header.set_cksum();
    // Writes into memory: no I/O error can happen.
    let _ = builder.append(&header, script);
    builder
        .into_inner()
        .and_then(|gz| gz.finish())
        .unwrap_or_default()
}

/// Checks `archive` without writing anything: see the module docs. `limit` bounds the
/// unpacked size.
pub fn check(archive: &[u8], limit: u64) -> Result<Checked, ArchiveError> {
    walk(archive, limit, None)
}

/// Checks `archive` and unpacks it into `dest`, which must be an empty (or new) directory.
/// On an error `dest` may hold part of the archive: the caller removes it.
pub fn unpack(archive: &[u8], dest: &Path, limit: u64) -> Result<Checked, ArchiveError> {
    std::fs::create_dir_all(dest).map_err(|e| write_err(dest, e))?;
    let checked = walk(archive, limit, Some(dest))?;
    let entry = dest.join(&checked.entry);
    set_mode(&entry, 0o755)?;
    Ok(checked)
}

/// A path inside the archive, cleaned of `.` components: `None` for the top directory.
fn clean(raw: &Path) -> Result<Option<PathBuf>, String> {
    let mut out = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => return Err("has a \"..\" component".into()),
            Component::RootDir | Component::Prefix(_) => return Err("is absolute".into()),
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

fn unsafe_entry(path: &Path, reason: impl Into<String>) -> ArchiveError {
    ArchiveError::Unsafe {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

fn write_err(path: &Path, e: std::io::Error) -> ArchiveError {
    ArchiveError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), ArchiveError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| write_err(path, e))
}

/// The one pass behind [`check`] and [`unpack`]: every entry is checked, and written under
/// `dest` when there is one.
fn walk(archive: &[u8], limit: u64, dest: Option<&Path>) -> Result<Checked, ArchiveError> {
    let not_archive = |e: std::io::Error| ArchiveError::NotArchive(e.to_string());
    if !is_gzip(archive) {
        return Err(ArchiveError::NotArchive(
            "the data does not start with the gzip magic bytes".into(),
        ));
    }
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut total: u64 = 0;
    let mut files = BTreeSet::new();
    let mut manifest_text = None;
    let mut entries = 0usize;
    for entry in tar.entries().map_err(not_archive)? {
        let mut entry = entry.map_err(not_archive)?;
        entries += 1;
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            // PAX metadata (git archive writes the commit id in one): no file.
            continue;
        }
        let raw = entry.path().map_err(not_archive)?.into_owned();
        let path = match clean(&raw) {
            Ok(Some(p)) => p,
            Ok(None) if kind == tar::EntryType::Directory => continue,
            Ok(None) => return Err(unsafe_entry(&raw, "has an empty path")),
            Err(why) => return Err(unsafe_entry(&raw, why)),
        };
        let target = dest.map(|d| d.join(&path));
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                total = total.saturating_add(entry.size());
                if total > limit {
                    return Err(ArchiveError::TooLarge { limit });
                }
                let mode = entry.header().mode().unwrap_or(0o644);
                // Execute bits are kept; set-id bits and others' write access are not.
                let mode = 0o644 | (mode & 0o111);
                let name = path.to_string_lossy().into_owned();
                if name == MANIFEST {
                    let mut text = String::new();
                    (&mut entry)
                        .take(limit)
                        .read_to_string(&mut text)
                        .map_err(|e| ArchiveError::BadManifest(e.to_string()))?;
                    if let Some(t) = &target {
                        write_file(t, text.as_bytes(), mode)?;
                    }
                    manifest_text = Some(text);
                } else if let Some(t) = &target {
                    let mut bytes = Vec::with_capacity(entry.size().min(limit) as usize);
                    (&mut entry)
                        .take(limit)
                        .read_to_end(&mut bytes)
                        .map_err(not_archive)?;
                    write_file(t, &bytes, mode)?;
                } else {
                    // Read through, so that a corrupt stream is found now.
                    std::io::copy(&mut (&mut entry).take(limit), &mut std::io::sink())
                        .map_err(not_archive)?;
                }
                files.insert(name);
            }
            tar::EntryType::Directory => {
                if let Some(t) = &target {
                    std::fs::create_dir_all(t).map_err(|e| write_err(t, e))?;
                }
            }
            tar::EntryType::Symlink => {
                let link = entry
                    .link_name()
                    .map_err(not_archive)?
                    .map(|l| l.into_owned())
                    .unwrap_or_default();
                let leads_out = link.as_os_str().is_empty()
                    || link
                        .components()
                        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
                if leads_out {
                    return Err(unsafe_entry(
                        &raw,
                        format!(
                            "a link to {} (links must be relative and without \"..\", so that they stay in the plugin's directory)",
                            link.display()
                        ),
                    ));
                }
                if let Some(t) = &target {
                    make_parent(t)?;
                    std::os::unix::fs::symlink(&link, t).map_err(|e| write_err(t, e))?;
                }
                files.insert(path.to_string_lossy().into_owned());
            }
            tar::EntryType::Link => {
                return Err(unsafe_entry(&raw, "is a hard link (not allowed)"));
            }
            other => {
                return Err(unsafe_entry(
                    &raw,
                    format!("is a {other:?} (only files, directories and links are allowed)"),
                ));
            }
        }
    }
    if entries == 0 {
        return Err(ArchiveError::NotArchive("the archive is empty".into()));
    }
    let manifest: Manifest = match manifest_text {
        Some(t) => toml::from_str(&t).map_err(|e| ArchiveError::BadManifest(e.to_string()))?,
        None => Manifest::default(),
    };
    let entry = match clean(Path::new(manifest.entry())) {
        Ok(Some(p)) => p.to_string_lossy().into_owned(),
        _ => {
            return Err(ArchiveError::BadManifest(format!(
                "entry {:?} is not a relative path inside the plugin",
                manifest.entry
            )));
        }
    };
    if !files.contains(&entry) {
        return Err(ArchiveError::NoEntry(entry));
    }
    Ok(Checked {
        manifest,
        entry,
        files: files.len(),
        unpacked_bytes: total,
    })
}

fn make_parent(path: &Path) -> Result<(), ArchiveError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| write_err(parent, e))?;
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ArchiveError> {
    make_parent(path)?;
    // A later entry of the same name replaces an earlier one, as tar does; a link of that
    // name is replaced, never written through.
    if std::fs::symlink_metadata(path).is_ok() {
        std::fs::remove_file(path).map_err(|e| write_err(path, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| write_err(path, e))?;
    set_mode(path, mode)
}

/// The **tree digest** of an unpacked plugin: the SHA-256 over every path under `dir` in
/// name order, with its kind, its execute bit, and its content (a file's bytes, a link's
/// target). It changes when any file is changed, added, removed or made executable, which
/// is what the agent checks before each run.
pub fn tree_digest(dir: &Path) -> std::io::Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut stack = vec![PathBuf::new()];
    let mut paths = Vec::new();
    while let Some(rel) = stack.pop() {
        let mut names: Vec<_> = std::fs::read_dir(dir.join(&rel))?
            .map(|e| e.map(|e| rel.join(e.file_name())))
            .collect::<Result<_, _>>()?;
        names.sort();
        for p in names {
            let meta = std::fs::symlink_metadata(dir.join(&p))?;
            if meta.is_dir() {
                stack.push(p.clone());
            }
            paths.push((p, meta));
        }
    }
    paths.sort_by(|a, b| a.0.cmp(&b.0));
    for (p, meta) in paths {
        let full = dir.join(&p);
        ctx.update(p.to_string_lossy().as_bytes());
        ctx.update(b"\0");
        if meta.file_type().is_symlink() {
            ctx.update(b"l");
            ctx.update(std::fs::read_link(&full)?.to_string_lossy().as_bytes());
        } else if meta.is_dir() {
            ctx.update(b"d");
        } else {
            ctx.update(if meta.permissions().mode() & 0o111 != 0 {
                b"x"
            } else {
                b"f"
            });
            ctx.update(&(meta.len()).to_le_bytes());
            ctx.update(&std::fs::read(&full)?);
        }
        ctx.update(b"\0");
    }
    Ok(hex(ctx.finish().as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar.gz of `(path, kind, data)`: kind `f` file, `x` executable, `d` directory,
    /// `l` symlink (data: target), `h` hard link, `c` char device; written with raw
    /// headers so that unsafe paths can be made.
    fn archive(entries: &[(&str, char, &str)]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        for (path, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            // Raw bytes: set_path refuses ".." and absolute paths, which these tests need.
            let name = &mut h.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            let (t, size, mode) = match kind {
                'f' => (tar::EntryType::Regular, data.len(), 0o644),
                'x' => (tar::EntryType::Regular, data.len(), 0o4777),
                'd' => (tar::EntryType::Directory, 0, 0o755),
                'l' => (tar::EntryType::Symlink, 0, 0o777),
                'h' => (tar::EntryType::Link, 0, 0o644),
                _ => (tar::EntryType::Char, 0, 0o644),
            };
            h.set_entry_type(t);
            h.set_size(size as u64);
            h.set_mode(mode);
            if matches!(kind, 'l' | 'h') {
                h.set_link_name(data).unwrap_or_else(|e| panic!("{e}"));
            }
            h.set_cksum();
            let body: &[u8] = if size > 0 { data.as_bytes() } else { &[] };
            b.append(&h, body).unwrap_or_else(|e| panic!("{e}"));
        }
        b.into_inner()
            .and_then(|g| g.finish())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_script_becomes_a_plugin_sh_archive_and_always_the_same_bytes() {
        let a = from_script(b"#!/bin/sh\necho up 1\n");
        assert_eq!(a, from_script(b"#!/bin/sh\necho up 1\n"));
        assert_ne!(sha256_hex(&a), sha256_hex(&from_script(b"echo 2\n")));
        let c = check(&a, 1 << 20).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.entry, "plugin.sh");
        assert_eq!((c.files, c.unpacked_bytes), (1, 20));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        unpack(&a, dir.path(), 1 << 20).unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(dir.path().join("plugin.sh")).unwrap_or_default();
        assert_eq!(text, "#!/bin/sh\necho up 1\n");
    }

    #[test]
    fn sha256_is_the_standard_digest() {
        // echo -n abc | sha256sum
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_manifest_names_the_entry_and_defaults() {
        let a = archive(&[
            ("./", 'd', ""),
            (
                "./plugin.toml",
                'f',
                "entry = \"bin/run\"\ndescription = \"disk check\"\ninterval_secs = 0\ntimeout_secs = 5\n",
            ),
            ("./bin/", 'd', ""),
            ("./bin/run", 'f', "#!/bin/sh\necho ok\n"),
            ("./lib/common.sh", 'f', "x=1\n"),
            ("./lib/link.sh", 'l', "common.sh"),
        ]);
        let c = check(&a, 1 << 20).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.entry, "bin/run");
        assert_eq!(c.manifest.description, "disk check");
        assert_eq!(c.manifest.interval_secs, Some(0));
        assert_eq!(c.manifest.timeout_secs, Some(5));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        unpack(&a, dir.path(), 1 << 20).unwrap_or_else(|e| panic!("{e}"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("bin/run"))
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0);
        assert_eq!(mode, 0o755, "the entry point is made executable");
        assert_eq!(
            std::fs::read_link(dir.path().join("lib/link.sh")).ok(),
            Some(PathBuf::from("common.sh"))
        );

        let bad = archive(&[("plugin.toml", 'f', "entry = 5\n"), ("plugin.sh", 'f', "")]);
        assert!(
            matches!(check(&bad, 1 << 20), Err(ArchiveError::BadManifest(_))),
            "{:?}",
            check(&bad, 1 << 20)
        );
        let unknown = archive(&[("plugin.toml", 'f', "entri = \"x\"\n"), ("x", 'f', "")]);
        let e = check(&unknown, 1 << 20).err().map(|e| e.to_string());
        assert!(e.as_deref().unwrap_or("").contains("entri"), "{e:?}");
        let missing = archive(&[("run.sh", 'f', "echo\n")]);
        assert_eq!(
            check(&missing, 1 << 20),
            Err(ArchiveError::NoEntry("plugin.sh".into()))
        );
        let outside = archive(&[("plugin.toml", 'f', "entry = \"../x\"\n")]);
        assert!(matches!(
            check(&outside, 1 << 20),
            Err(ArchiveError::BadManifest(_))
        ));
    }

    #[test]
    fn unsafe_entries_are_refused_naming_the_path() {
        type Entries<'a> = &'a [(&'a str, char, &'a str)];
        let cases: &[(Entries, &str)] = &[
            (
                &[("/etc/cron.d/x", 'f', "x")],
                "\"/etc/cron.d/x\": is absolute",
            ),
            (
                &[("a/../../x", 'f', "x")],
                "\"a/../../x\": has a \"..\" component",
            ),
            (
                &[("evil", 'l', "/etc/passwd")],
                "\"evil\": a link to /etc/passwd",
            ),
            (&[("evil", 'l', "../up")], "\"evil\": a link to ../up"),
            (&[("hard", 'h', "plugin.sh")], "\"hard\": is a hard link"),
            (&[("dev", 'c', "")], "\"dev\": is a Char"),
        ];
        for (entries, want) in cases {
            let mut all = entries.to_vec();
            all.push(("plugin.sh", 'f', "echo\n"));
            let a = archive(&all);
            let err = check(&a, 1 << 20).err().map(|e| e.to_string());
            assert!(
                err.as_deref().unwrap_or("").contains(want),
                "{entries:?}: {err:?}"
            );
            // Unpacking refuses the same, before writing anything outside.
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let dest = dir.path().join("p");
            assert!(unpack(&a, &dest, 1 << 20).is_err(), "{entries:?}");
            assert!(!dir.path().join("up").exists());
        }
    }

    #[test]
    fn limits_garbage_and_modes() {
        let big = "x".repeat(3000);
        let a = archive(&[("plugin.sh", 'f', &big), ("b", 'f', &big)]);
        assert_eq!(check(&a, 5000), Err(ArchiveError::TooLarge { limit: 5000 }));
        assert!(check(&a, 6000).is_ok());
        assert!(matches!(
            check(b"#!/bin/sh\n", 100),
            Err(ArchiveError::NotArchive(_))
        ));
        let mut truncated = a.clone();
        truncated.truncate(a.len() / 2);
        assert!(matches!(
            check(&truncated, 1 << 20),
            Err(ArchiveError::NotArchive(_))
        ));
        // Set-id bits and write access for others are dropped.
        let a = archive(&[("plugin.sh", 'x', "echo\n"), ("tool", 'x', "echo\n")]);
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        unpack(&a, dir.path(), 1 << 20).unwrap_or_else(|e| panic!("{e}"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("tool"))
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0);
        assert_eq!(mode, 0o755);
    }

    #[test]
    fn the_tree_digest_sees_any_change() {
        let a = archive(&[("plugin.sh", 'f', "echo 1\n"), ("d/data", 'f', "abc")]);
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        unpack(&a, dir.path(), 1 << 20).unwrap_or_else(|e| panic!("{e}"));
        let d0 = tree_digest(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d0.len(), 64);
        assert_eq!(tree_digest(dir.path()).ok().as_ref(), Some(&d0));
        let data = dir.path().join("d/data");
        std::fs::write(&data, "abd").unwrap_or_else(|e| panic!("{e}"));
        let d1 = tree_digest(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(d0, d1);
        std::fs::write(&data, "abc").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tree_digest(dir.path()).ok().as_ref(), Some(&d0));
        std::fs::write(dir.path().join("d/extra"), "").unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(tree_digest(dir.path()).ok().as_ref(), Some(&d0));
    }
}
