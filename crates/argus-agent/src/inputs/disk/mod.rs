//! The `disk` input: space and inode use of each mounted filesystem.
//!
//! A **mount** is one line of `/proc/mounts`; the input asks `statvfs(2)` about each mount
//! point, skipping pseudo filesystems (`ignore_fs`) and mounts it may not inspect. When
//! several filesystems are mounted on the same path only the last one, the one visible
//! there, is reported. `free` is the space available to unprivileged users (it leaves out
//! the root-reserved blocks) and `used_percent` is `used / (used + free)`, as `df` and
//! Telegraf compute it, so a full disk reads 100 % even while root can still write.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

use argus_core::line_protocol::Line;

use super::procfile::{ParseError, ProcFile, leading_columns};
use super::{Field, float, percent, point, tag, uint};
use crate::input::Input;
use crate::inputs::common::input_config;

/// The documented `[agent.inputs.disk]` table, every option at its default.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

/// The default `ignore_fs`: pseudo and in-memory filesystems, which hold no disk space.
const IGNORED_FS: [&str; 28] = [
    "tmpfs",
    "devtmpfs",
    "devfs",
    "iso9660",
    "overlay",
    "aufs",
    "squashfs",
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "nsfs",
    "debugfs",
    "tracefs",
    "securityfs",
    "pstore",
    "bpf",
    "configfs",
    "fusectl",
    "mqueue",
    "hugetlbfs",
    "autofs",
    "binfmt_misc",
    "rpc_pipefs",
    "ramfs",
    "devpts",
    "efivarfs",
    "selinuxfs",
];

input_config! {
    /// `[agent.inputs.disk]`.
    table Config {
        /// Report only these mount points (exact paths as in `/proc/mounts`); empty: all.
        mount_points: Vec<String> = Vec::new(),
        /// Filesystem types never reported: pseudo and in-memory filesystems by default.
        ignore_fs: Vec<String> = IGNORED_FS.map(String::from).to_vec(),
        /// Where procfs is mounted; `mounts` is read from here.
        procfs_root: PathBuf = super::default_procfs_root(),
        /// Where the host's `/` is visible. Each mount point is looked up under it, while the
        /// `path` tag stays as the host sees it. Set it (e.g. to `/hostfs`) when running in a
        /// container that has the host's root mounted.
        host_root: PathBuf = PathBuf::from("/"),
    }
}

/// What `statvfs(2)` says about one filesystem, in blocks of `block_size` bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(test, derive(serde::Deserialize))]
struct FsUsage {
    block_size: u64,
    blocks: u64,
    blocks_free: u64,
    /// Free blocks that unprivileged users may use.
    blocks_available: u64,
    inodes: u64,
    inodes_free: u64,
}

type StatFs = Box<dyn Fn(&Path) -> io::Result<FsUsage> + Send>;

fn statvfs(path: &Path) -> io::Result<FsUsage> {
    let st = rustix::fs::statvfs(path)?;
    Ok(FsUsage {
        // f_frsize is the unit of the block counts; very old kernels left it 0.
        block_size: if st.f_frsize > 0 {
            st.f_frsize
        } else {
            st.f_bsize
        },
        blocks: st.f_blocks,
        blocks_free: st.f_bfree,
        blocks_available: st.f_bavail,
        inodes: st.f_files,
        inodes_free: st.f_ffree,
    })
}

/// The `disk` input; see the module docs.
pub struct Disk {
    mount_points: Vec<String>,
    ignore_fs: Vec<String>,
    host_root: PathBuf,
    mounts: ProcFile,
    stat: StatFs,
}

impl Disk {
    /// Builds the input.
    pub(crate) fn new(config: &Config) -> anyhow::Result<Self> {
        Ok(Disk {
            mount_points: config.mount_points.clone(),
            ignore_fs: config.ignore_fs.clone(),
            host_root: config.host_root.clone(),
            mounts: ProcFile::new(&config.procfs_root, "mounts"),
            stat: Box::new(statvfs),
        })
    }

    fn wanted(&self, mount: &Mount) -> bool {
        !self.ignore_fs.contains(&mount.fstype)
            && (self.mount_points.is_empty() || self.mount_points.contains(&mount.path))
    }
}

impl Input for Disk {
    fn name(&self) -> &str {
        "disk"
    }

    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
        let mounts = self.mounts.parse(parse_mounts)?;
        for mount in visible(mounts) {
            if !self.wanted(&mount) {
                continue;
            }
            let path = self.host_root.join(mount.path.trim_start_matches('/'));
            let usage = match (self.stat)(&path) {
                Ok(usage) => usage,
                Err(err) => {
                    // Permission denied, a stale network mount, a mount gone since the
                    // read: skip it, as `df` does, without failing the other mounts.
                    tracing::debug!(path = %path.display(), %err, "disk: skipping mount");
                    continue;
                }
            };
            let tags = vec![
                tag("path", mount.path),
                tag("device", mount.device),
                tag("fstype", mount.fstype),
                tag("mode", if mount.read_only { "ro" } else { "rw" }),
            ];
            out.push(point("disk", tags, fields(&usage), now_ms));
        }
        Ok(())
    }
}

fn fields(u: &FsUsage) -> Vec<Field> {
    let bytes = |blocks: u64| blocks.saturating_mul(u.block_size);
    let total = bytes(u.blocks);
    let free = bytes(u.blocks_available);
    let used = bytes(u.blocks.saturating_sub(u.blocks_free));
    let inodes_used = u.inodes.saturating_sub(u.inodes_free);
    vec![
        uint("total", total),
        uint("free", free),
        uint("used", used),
        float("used_percent", percent(used, used.saturating_add(free))),
        uint("inodes_total", u.inodes),
        uint("inodes_free", u.inodes_free),
        uint("inodes_used", inodes_used),
        float("inodes_used_percent", percent(inodes_used, u.inodes)),
    ]
}

/// One line of `/proc/mounts`, unescaped.
#[derive(Debug, Clone, PartialEq)]
struct Mount {
    /// The mount source with `/dev/` removed (`sda1`, `mapper/vg-root`), as Telegraf tags it.
    device: String,
    path: String,
    fstype: String,
    read_only: bool,
}

/// Parses `/proc/mounts` (the fstab format: `device path fstype options dump pass`).
fn parse_mounts(text: &str) -> Result<Vec<Mount>, ParseError> {
    let mut mounts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some([device, path, fstype, options]) =
            leading_columns(line, i + 1, "expected device, path, type and options")?
        else {
            continue;
        };
        let device = unescape(device);
        mounts.push(Mount {
            device: device.strip_prefix("/dev/").unwrap_or(&device).to_string(),
            path: unescape(path),
            fstype: unescape(fstype),
            read_only: options.split(',').any(|o| o == "ro"),
        });
    }
    Ok(mounts)
}

/// The mounts in file order, keeping for each path only the last one, which hides the
/// earlier ones.
fn visible(mut mounts: Vec<Mount>) -> Vec<Mount> {
    let mut seen = HashSet::with_capacity(mounts.len());
    let mut keep: Vec<bool> = mounts
        .iter()
        .rev()
        .map(|m| seen.insert(m.path.clone()))
        .collect();
    keep.reverse();
    let mut keep = keep.into_iter();
    mounts.retain(|_| keep.next().unwrap_or(false));
    mounts
}

/// Undoes the kernel's octal escapes of space, tab, newline and backslash (`\040` …).
fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_string();
    }
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                let value =
                    (d[0] - b'0') as u32 * 64 + (d[1] - b'0') as u32 * 8 + (d[2] - b'0') as u32;
                // Values above 0o377 are not escapes the kernel writes; keep them as text.
                match u8::try_from(value) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 4;
                    }
                    Err(_) => {
                        out.push(b'\\');
                        i += 1;
                    }
                }
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
pub(super) mod tests;
