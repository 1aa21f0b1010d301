//! The `system` input: uptime, boot time, the number of CPUs and of logged-in users.
//!
//! Uptime comes from `/proc/uptime`, the boot time (`btime`) and the online CPUs (`cpuN`
//! lines) from `/proc/stat`. **Logged-in users** are the `USER_PROCESS` records of the
//! utmp file (`/var/run/utmp`), which `login`, `sshd` and terminal emulators write. The
//! utmp file is parsed here by hand: it is a flat array of fixed-size C structs, and no
//! maintained crate reads it without `unsafe` or libc bindings.

use std::collections::HashSet;
use std::io;
use std::path::PathBuf;

use argus_core::line_protocol::Line;

use super::procfile::{ParseError, ProcFile, parse_u64};
use super::{point, uint};
use crate::input::Input;
use crate::inputs::common::input_config;

/// The documented `[agent.inputs.system]` table, every option at its default.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

input_config! {
    /// `[agent.inputs.system]`.
    table Config {
        /// Where procfs is mounted; point it at the host's `/proc` when running in a container.
        procfs_root: PathBuf = super::default_procfs_root(),
        /// The utmp file listing login sessions; when it does not exist `n_users` is 0.
        utmp_path: PathBuf = PathBuf::from("/var/run/utmp"),
    }
}

/// The `system` input; see the module docs.
#[derive(Debug)]
pub struct System {
    uptime: ProcFile,
    stat: ProcFile,
    utmp_path: PathBuf,
    utmp: Vec<u8>,
}

impl System {
    /// Builds the input.
    pub(crate) fn new(config: &Config) -> anyhow::Result<Self> {
        Ok(System {
            uptime: ProcFile::new(&config.procfs_root, "uptime"),
            stat: ProcFile::new(&config.procfs_root, "stat"),
            utmp_path: config.utmp_path.clone(),
            utmp: Vec::new(),
        })
    }
}

impl Input for System {
    fn name(&self) -> &str {
        "system"
    }

    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
        let (n_cpus, boot_time) = self.stat.parse(parse_stat)?;
        let uptime = self.uptime.parse(parse_uptime)?;
        let users = match read_utmp(&self.utmp_path, &mut self.utmp) {
            Ok(()) => count_users(&self.utmp),
            // No utmp (musl, minimal containers, systemd-only logins): nobody is recorded.
            Err(err) if err.kind() == io::ErrorKind::NotFound => Users::default(),
            Err(err) => {
                let path = self.utmp_path.display();
                return Err(anyhow::anyhow!("reading {path}: {err}"));
            }
        };
        let fields = vec![
            uint("n_cpus", n_cpus),
            uint("n_users", users.sessions),
            uint("n_unique_users", users.unique),
            uint("uptime", uptime),
            uint("boot_time", boot_time),
        ];
        out.push(point("system", Vec::new(), fields, now_ms));
        Ok(())
    }
}

/// The number of `cpuN` lines (online CPUs) and `btime` (boot time, seconds since the
/// epoch) of `/proc/stat`.
fn parse_stat(text: &str) -> Result<(u64, u64), ParseError> {
    let mut n_cpus = 0;
    let mut boot_time = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(rest) = line.strip_prefix("cpu") {
            n_cpus += u64::from(rest.starts_with(|c: char| c.is_ascii_digit()));
        } else if let Some(rest) = line.strip_prefix("btime ") {
            boot_time = Some(parse_u64(rest.trim(), i + 1, "btime")?);
            break;
        }
    }
    let boot_time = boot_time.ok_or_else(|| ParseError::new(0, "no btime line"))?;
    Ok((n_cpus, boot_time))
}

/// Whole seconds since boot: the first number of `/proc/uptime` (`12345.67 54321.00`).
fn parse_uptime(text: &str) -> Result<u64, ParseError> {
    let col = text.split_whitespace().next().unwrap_or("");
    let seconds = col.split_once('.').map_or(col, |(whole, _)| whole);
    parse_u64(seconds, 1, "uptime")
}

fn read_utmp(path: &std::path::Path, buf: &mut Vec<u8>) -> io::Result<()> {
    use std::io::Read;
    buf.clear();
    std::fs::File::open(path)?.read_to_end(buf)?;
    Ok(())
}

/// The size of glibc's `struct utmp` on Linux for x86-64, aarch64 and all 32-bit
/// targets (64-bit targets keep 32-bit time fields in it for compatibility):
///
/// ```text
/// offset size  field
///      0    2  ut_type (short; 2 bytes padding follow)
///      4    4  ut_pid
///      8   32  ut_line   (tty, e.g. "pts/0")
///     40    4  ut_id
///     44   32  ut_user   (NUL-padded login name)
///     76  256  ut_host
///    332    4  ut_exit
///    336    4  ut_session
///    340    8  ut_tv     (two int32)
///    348   16  ut_addr_v6
///    364   20  reserved
/// ```
const UTMP_RECORD: usize = 384;
const UT_USER: std::ops::Range<usize> = 44..76;
/// `ut_type` of a login session.
const USER_PROCESS: i16 = 7;

#[derive(Debug, Default, PartialEq)]
struct Users {
    /// Login sessions (what `who | wc -l` counts).
    sessions: u64,
    /// Distinct login names among them.
    unique: u64,
}

/// Counts the `USER_PROCESS` records of a utmp file. A trailing partial record (the file
/// caught mid-write) is ignored.
fn count_users(utmp: &[u8]) -> Users {
    let mut names = HashSet::new();
    let mut sessions = 0;
    for record in utmp.chunks_exact(UTMP_RECORD) {
        if i16::from_ne_bytes([record[0], record[1]]) != USER_PROCESS {
            continue;
        }
        sessions += 1;
        let user = &record[UT_USER];
        let len = user.iter().position(|&b| b == 0).unwrap_or(user.len());
        names.insert(&user[..len]);
    }
    Users {
        sessions,
        unique: names.len() as u64,
    }
}

#[cfg(test)]
pub(super) mod tests;
