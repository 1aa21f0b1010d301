//! **Probes**: what the benchmark reads from the machine rather than from the systems under
//! test — bytes on disk, a process's memory, the hardware, the date.

use std::path::Path;

/// Sizes of everything under a directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// Sum of file lengths (what `du --apparent-size` says).
    pub apparent: u64,
    /// Blocks allocated to files and directories (what `du` says).
    pub allocated: u64,
}

/// Walks `dir`. Files that vanish during the walk (a merge replacing its parts) are
/// skipped rather than failing the measurement.
pub fn disk_usage(dir: &Path) -> DiskUsage {
    use std::os::unix::fs::MetadataExt;
    let mut total = DiskUsage::default();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return total;
    };
    for entry in entries.flatten() {
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        total.allocated += meta.blocks() * 512;
        if meta.is_dir() {
            let sub = disk_usage(&entry.path());
            total.apparent += sub.apparent;
            total.allocated += sub.allocated;
        } else if meta.is_file() {
            total.apparent += meta.len();
        }
    }
    total
}

/// Apparent size of each top-level entry of `dir`, largest first.
pub fn breakdown(dir: &Path) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let path = e.path();
                    let size = match std::fs::symlink_metadata(&path) {
                        Ok(m) if m.is_dir() => disk_usage(&path).apparent,
                        Ok(m) => m.len(),
                        Err(_) => 0,
                    };
                    (e.file_name().to_string_lossy().into_owned(), size)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// Resident memory of a process in bytes: (now, peak) from `VmRSS` and `VmHWM`.
pub fn rss(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line[key.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .ok()
            .map(|v| v * 1024)
    };
    Some((kb("VmRSS:")?, kb("VmHWM:")?))
}

/// Bytes a process caused to be written to storage so far: `write_bytes` of
/// `/proc/<pid>/io` (what reached the block layer or will, page cache writeback included).
pub fn written_bytes(pid: u32) -> Option<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The machine the benchmark runs on.
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub ram_bytes: u64,
    pub kernel: String,
    pub load_average: String,
}

/// "2 CPUs (model), 23.5 GiB RAM, Linux 6.1.0; load average at start 0.5 0.4 0.3": the
/// machine line every report starts with (a report may append to it).
impl std::fmt::Display for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} CPUs ({}), {:.1} GiB RAM, Linux {}; load average at start {}",
            self.cpus,
            self.cpu_model,
            self.ram_bytes as f64 / (1u64 << 30) as f64,
            self.kernel,
            self.load_average
        )
    }
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown".to_string(), |(_, v)| v.trim().to_string());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_bytes = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024);
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into())
    };
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model,
        ram_bytes,
        kernel: read("/proc/sys/kernel/osrelease"),
        load_average: read("/proc/loadavg")
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// The file system type holding `path` (longest mount point prefix in /proc/mounts).
pub fn fs_type(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_dev, mount, fs) = (f.next()?, f.next()?, f.next()?);
            path.starts_with(mount)
                .then(|| (mount.len(), fs.to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map_or("unknown".into(), |(_, fs)| fs)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A UTC calendar time, computed without a date crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl Utc {
    pub fn from_ms(ms: i64) -> Self {
        let secs = ms.div_euclid(1000);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
        }
    }

    pub fn date(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    pub fn date_time(&self) -> String {
        format!(
            "{} {:02}:{:02}:{:02} UTC",
            self.date(),
            self.hour,
            self.minute,
            self.second
        )
    }

    /// VictoriaMetrics's partition name for this month: `YYYY_MM`.
    pub fn partition(&self) -> String {
        format!("{:04}_{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_from_ms() {
        let t = Utc::from_ms(1_700_000_000_123);
        assert_eq!(t.date_time(), "2023-11-14 22:13:20 UTC");
        assert_eq!(t.partition(), "2023_11");
        assert_eq!(Utc::from_ms(951_782_400_000).date(), "2000-02-29");
        assert_eq!(Utc::from_ms(0).date_time(), "1970-01-01 00:00:00 UTC");
    }

    #[test]
    fn disk_usage_sums_nested_files() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let sub = dir.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("x"), vec![1u8; 1000]).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(sub.join("y"), vec![2u8; 5000]).unwrap_or_else(|e| panic!("{e}"));
        let u = disk_usage(dir.path());
        assert_eq!(u.apparent, 6000);
        assert!(u.allocated >= 6000, "{u:?}");
        assert_eq!(
            breakdown(dir.path()),
            vec![("a".to_string(), 5000), ("x".to_string(), 1000)]
        );
    }

    #[test]
    fn rss_of_this_process() {
        let (now, peak) = rss(std::process::id()).unwrap_or_default();
        assert!(now > 0 && peak >= now);
    }
}

#[cfg(test)]
mod machine_tests {
    use super::Machine;

    #[test]
    fn the_machine_line_names_cpus_ram_kernel_and_load() {
        let m = Machine {
            cpus: 2,
            cpu_model: "Xeon".into(),
            ram_bytes: 3 << 29,
            kernel: "6.1.0".into(),
            load_average: "0.50 0.40 0.30".into(),
        };
        assert_eq!(
            m.to_string(),
            "2 CPUs (Xeon), 1.5 GiB RAM, Linux 6.1.0; load average at start 0.50 0.40 0.30"
        );
    }
}
