//! What the benchmark reads about a **process tree** from `/proc`: its CPU time
//! (`/proc/<pid>/stat`), its resident memory (`/proc/<pid>/status`), and where that memory
//! lives (`/proc/<pid>/smaps`, `/proc/<pid>/smaps_rollup`), plus its threads' names.
//!
//! The parsers take the file's text, so the tests need no process.

use std::collections::BTreeMap;

/// The fields of `/proc/<pid>/stat` the benchmark uses; times in clock ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    pub ppid: u32,
    pub utime: u64,
    pub stime: u64,
    /// CPU time of the children the process has waited for.
    pub cutime: u64,
    pub cstime: u64,
    pub threads: u64,
}

impl Stat {
    /// Own and waited-for children's CPU time, in clock ticks.
    pub fn ticks(&self) -> u64 {
        self.utime + self.stime + self.cutime + self.cstime
    }
}

/// Parses one `/proc/<pid>/stat` line. The command name (field 2) is in parentheses and may
/// hold spaces and parentheses itself, so the fields are counted from its last `)`.
pub fn parse_stat(line: &str) -> Option<Stat> {
    let rest = &line[line.rfind(')')? + 1..];
    // rest[0] is field 3 (state), so field n is rest[n - 3].
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        ppid: u32::try_from(num(4)?).ok()?,
        utime: num(14)?,
        stime: num(15)?,
        cutime: num(16)?,
        cstime: num(17)?,
        threads: num(20)?,
    })
}

/// The memory fields of `/proc/<pid>/status`, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// Resident now (`VmRSS`).
    pub rss: u64,
    /// Peak resident since start (`VmHWM`).
    pub hwm: u64,
    /// Resident anonymous memory (`RssAnon`): heap, stacks.
    pub rss_anon: u64,
    /// Resident file-backed pages (`RssFile`): the program and its libraries.
    pub rss_file: u64,
    pub threads: u64,
}

/// Parses `/proc/<pid>/status`. None without `VmRSS`/`VmHWM`, as for a zombie or a kernel
/// thread.
pub fn parse_status(text: &str) -> Option<Status> {
    let mut kb = BTreeMap::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let mut words = value.split_whitespace();
        let Some(Ok(n)) = words.next().map(str::parse::<u64>) else {
            continue;
        };
        let scale = match words.next() {
            Some("kB") => 1024,
            _ => 1,
        };
        kb.insert(key.trim(), n * scale);
    }
    Some(Status {
        rss: *kb.get("VmRSS")?,
        hwm: *kb.get("VmHWM")?,
        rss_anon: kb.get("RssAnon").copied().unwrap_or(0),
        rss_file: kb.get("RssFile").copied().unwrap_or(0),
        threads: kb.get("Threads").copied().unwrap_or(0),
    })
}

/// `/proc/<pid>/smaps_rollup`: the process's mappings summed, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rollup {
    pub rss: u64,
    /// Proportional share: each shared page divided by the processes mapping it.
    pub pss: u64,
    pub anonymous: u64,
    pub shared_clean: u64,
    pub private_clean: u64,
    pub private_dirty: u64,
}

pub fn parse_rollup(text: &str) -> Rollup {
    let mut r = Rollup::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let Some(Ok(kb)) = value.split_whitespace().next().map(str::parse::<u64>) else {
            continue;
        };
        let field = match key {
            "Rss" => &mut r.rss,
            "Pss" => &mut r.pss,
            "Anonymous" => &mut r.anonymous,
            "Shared_Clean" => &mut r.shared_clean,
            "Private_Clean" => &mut r.private_clean,
            "Private_Dirty" => &mut r.private_dirty,
            _ => continue,
        };
        *field = kb * 1024;
    }
    r
}

/// Where resident memory lives, by kind of mapping (from `/proc/<pid>/smaps`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Breakdown {
    /// Resident bytes per class, largest first.
    pub classes: Vec<(Class, u64)>,
    /// Mappings counted per class.
    pub mappings: BTreeMap<Class, usize>,
}

/// A kind of mapping. The anonymous ones are told apart by their shape, which is how glibc
/// and Rust lay them out; a heuristic, named as such in the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// The program's own file: code (`r-xp`), read-only data, data.
    ProgramText,
    ProgramData,
    /// Shared libraries (`*.so*`) and the dynamic loader.
    Libraries,
    /// Other files mapped (locale archives, the collectd types database …).
    OtherFiles,
    /// `[heap]`: the brk heap, glibc's main malloc arena.
    BrkHeap,
    /// Anonymous read-write mappings starting on a 64 MiB boundary: glibc's per-thread
    /// malloc arenas (and Go's heap arenas, which are aligned alike).
    Arenas,
    /// Anonymous read-write mappings of exactly 2 MiB (Rust's default thread stack) or
    /// 8 MiB (glibc's): thread stacks.
    ThreadStacks,
    /// `[stack]`: the main thread's stack.
    MainStack,
    /// Every other anonymous mapping (large allocations, TLS, the Go runtime's own).
    OtherAnon,
}

impl Class {
    pub fn describe(self) -> &'static str {
        match self {
            Class::ProgramText => "program file: code (r-x)",
            Class::ProgramData => "program file: read-only data and data",
            Class::Libraries => "shared libraries (libc, libm, ld.so …)",
            Class::OtherFiles => "other mapped files",
            Class::BrkHeap => "[heap] (brk: glibc's main malloc arena)",
            Class::Arenas => {
                "anonymous, 64 MiB-aligned (glibc per-thread malloc arenas / Go heap arenas)"
            }
            Class::ThreadStacks => "anonymous, exactly 2 or 8 MiB (thread stacks)",
            Class::MainStack => "[stack] (main thread)",
            Class::OtherAnon => "other anonymous",
        }
    }
}

const ARENA_ALIGN: u64 = 64 << 20;
const STACK_SIZES: [u64; 2] = [2 << 20, 8 << 20];

/// Sums `Rss` of `/proc/<pid>/smaps` by [`Class`]. `program` is the path of the process's
/// executable (`/proc/<pid>/exe`), to tell its file from the libraries.
pub fn parse_smaps(text: &str, program: &str) -> Breakdown {
    let mut rss: BTreeMap<Class, u64> = BTreeMap::new();
    let mut mappings: BTreeMap<Class, usize> = BTreeMap::new();
    let mut current: Option<(u64, u64, String, String)> = None; // start, size, perms, path
    let mut flush = |m: Option<(u64, u64, String, String)>, kb: u64| {
        if let Some((start, size, perms, path)) = m {
            let class = classify(start, size, &perms, &path, program);
            *rss.entry(class).or_default() += kb * 1024;
            *mappings.entry(class).or_default() += 1;
        }
    };
    let mut rss_kb = 0;
    for line in text.lines() {
        if let Some(header) = mapping_header(line) {
            flush(current.take(), rss_kb);
            rss_kb = 0;
            current = Some(header);
        } else if let Some(v) = line.strip_prefix("Rss:") {
            rss_kb = v
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        }
    }
    flush(current.take(), rss_kb);
    let mut classes: Vec<(Class, u64)> = rss.into_iter().collect();
    classes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Breakdown { classes, mappings }
}

/// `559d78c2a000-559d78f4c000 r--p 00000000 fd:01 123 /path` → (start, size, perms, path).
fn mapping_header(line: &str) -> Option<(u64, u64, String, String)> {
    let mut f = line.split_whitespace();
    let (range, perms) = (f.next()?, f.next()?);
    let (a, b) = range.split_once('-')?;
    let start = u64::from_str_radix(a, 16).ok()?;
    let end = u64::from_str_radix(b, 16).ok()?;
    if perms.len() != 4 {
        return None;
    }
    let (_offset, _dev, _inode) = (f.next()?, f.next()?, f.next()?);
    let path = f.collect::<Vec<_>>().join(" ");
    Some((start, end.checked_sub(start)?, perms.to_string(), path))
}

fn classify(start: u64, size: u64, perms: &str, path: &str, program: &str) -> Class {
    let path = path.trim_end_matches(" (deleted)");
    if !program.is_empty() && path == program {
        return if perms.contains('x') {
            Class::ProgramText
        } else {
            Class::ProgramData
        };
    }
    match path {
        "[heap]" => Class::BrkHeap,
        "[stack]" => Class::MainStack,
        "" if perms.starts_with("rw") && start.is_multiple_of(ARENA_ALIGN) => Class::Arenas,
        "" if perms.starts_with("rw") && STACK_SIZES.contains(&size) => Class::ThreadStacks,
        "" => Class::OtherAnon,
        p if p.starts_with('[') => Class::OtherAnon,
        p if p.contains(".so") => Class::Libraries,
        _ => Class::OtherFiles,
    }
}

/// Thread names (`/proc/<pid>/task/*/comm`) and how many threads carry each.
pub fn thread_names(pid: u32) -> Vec<(String, usize)> {
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(comm) = std::fs::read_to_string(t.path().join("comm")) {
                *names.entry(comm.trim().to_string()).or_default() += 1;
            }
        }
    }
    let mut v: Vec<(String, usize)> = names.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

pub fn stat(pid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

pub fn status(pid: u32) -> Option<Status> {
    parse_status(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

pub fn rollup(pid: u32) -> Option<Rollup> {
    Some(parse_rollup(
        &std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?,
    ))
}

pub fn breakdown(pid: u32) -> Option<Breakdown> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps")).ok()?;
    Some(parse_smaps(&text, &exe.to_string_lossy()))
}

/// The processes below `root`, given every process's (pid, parent pid).
pub fn descendants(root: u32, parents: &[(u32, u32)]) -> Vec<u32> {
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for &(pid, ppid) in parents {
            if ppid == p && pid != root && !out.contains(&pid) {
                out.push(pid);
                frontier.push(pid);
            }
        }
    }
    out.sort_unstable();
    out
}

/// (pid, parent pid) of every process now running.
pub fn all_parents() -> Vec<(u32, u32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, stat(pid)?.ppid)))
        .collect()
}

/// Clock ticks per second of the times in `/proc/<pid>/stat`: `getconf CLK_TCK`, else the
/// Linux default of 100. Returns the value and where it came from.
pub fn clock_ticks() -> (u64, &'static str) {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok());
    match out.as_deref().map(str::trim).map(str::parse::<u64>) {
        Some(Ok(hz)) if hz > 0 => (hz, "`getconf CLK_TCK`"),
        _ => (100, "assumed: `getconf CLK_TCK` gave no answer"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_counted_from_the_last_parenthesis() {
        let line = "30329 (collectd) S 30283 30283 19405 0 -1 4194304 410 0 11 0 7 13 2 1 20 0 \
                    11 0 581559 759988224 788 18446744073709551615";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                ppid: 30283,
                utime: 7,
                stime: 13,
                cutime: 2,
                cstime: 1,
                threads: 11
            })
        );
        // A command name with spaces and a ')' of its own must not shift the fields.
        let odd = "42 (a) b (c)) R 1 42 42 0 -1 0 0 0 0 0 100 50 0 0 20 0 3 0 1 1 1";
        let s = parse_stat(odd).unwrap_or_default();
        assert_eq!((s.ppid, s.utime, s.stime, s.threads), (1, 100, 50, 3));
        assert_eq!(s.ticks(), 150);
        assert_eq!(parse_stat("42 (cut) S 1 2 3"), None);
        assert_eq!(parse_stat("no parenthesis"), None);
    }

    #[test]
    fn status_memory_in_bytes() {
        let text = "Name:\targus\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t 1079108 kB\n\
                    VmHWM:\t   11268 kB\nVmRSS:\t   11160 kB\nRssAnon:\t    2416 kB\n\
                    RssFile:\t    8744 kB\nRssShmem:\t       0 kB\nThreads:\t12\n";
        assert_eq!(
            parse_status(text),
            Some(Status {
                rss: 11160 * 1024,
                hwm: 11268 * 1024,
                rss_anon: 2416 * 1024,
                rss_file: 8744 * 1024,
                threads: 12
            })
        );
        // A zombie has no memory lines.
        assert_eq!(
            parse_status("Name:\tx\nState:\tZ (zombie)\nThreads:\t1\n"),
            None
        );
    }

    #[test]
    fn rollup_fields() {
        let text = "559fc5758000-7ffe4b77c000 ---p 00000000 00:00 0   [rollup]\n\
                    Rss:               11160 kB\nPss:                5331 kB\n\
                    Pss_Anon:           2416 kB\nShared_Clean:       8648 kB\n\
                    Private_Clean:        96 kB\nPrivate_Dirty:      2416 kB\n\
                    Anonymous:          2416 kB\n";
        let r = parse_rollup(text);
        assert_eq!(r.rss, 11160 * 1024);
        assert_eq!(r.pss, 5331 * 1024);
        assert_eq!(r.anonymous, 2416 * 1024);
        assert_eq!(r.shared_clean, 8648 * 1024);
        assert_eq!(r.private_clean, 96 * 1024);
        assert_eq!(r.private_dirty, 2416 * 1024);
    }

    #[test]
    fn smaps_classified_by_path_and_shape() {
        let map = |range: &str, perms: &str, path: &str, rss_kb: u64| {
            format!(
                "{range} {perms} 00000000 00:00 0  {path}\nSize:  4 kB\nRss:  {rss_kb} kB\nPss: 1 kB\n"
            )
        };
        let text = [
            map("1000-2000", "r--p", "/opt/argus", 100),
            map("2000-3000", "r-xp", "/opt/argus", 5000),
            map("3000-4000", "rw-p", "/opt/argus", 12),
            map("5000-6000", "rw-p", "[heap]", 500),
            // 64 MiB-aligned: an arena.
            map("7f8e64000000-7f8e64021000", "rw-p", "", 24),
            // Exactly 2 MiB: a thread stack.
            map("7f8e98ecc000-7f8e990cc000", "rw-p", "", 8),
            map("7f8e990cd000-7f8e990cf000", "rw-p", "", 4),
            map(
                "7f8e9a71a000-7f8e9a870000",
                "r-xp",
                "/usr/lib/libc.so.6",
                984,
            ),
            map("7f8e9a9e7000-7f8e9a9e9000", "r-xp", "[vdso]", 4),
            map("7ffc9a882000-7ffc9a8a3000", "rw-p", "[stack]", 80),
            map("9000-a000", "r--p", "/usr/share/collectd/types.db", 16),
        ]
        .concat();
        let b = parse_smaps(&text, "/opt/argus");
        let get = |c: Class| {
            b.classes
                .iter()
                .find(|x| x.0 == c)
                .map_or(0, |x| x.1 / 1024)
        };
        assert_eq!(get(Class::ProgramText), 5000);
        assert_eq!(get(Class::ProgramData), 112);
        assert_eq!(get(Class::BrkHeap), 500);
        assert_eq!(get(Class::Arenas), 24);
        assert_eq!(get(Class::ThreadStacks), 8);
        assert_eq!(get(Class::OtherAnon), 8);
        assert_eq!(get(Class::Libraries), 984);
        assert_eq!(get(Class::MainStack), 80);
        assert_eq!(get(Class::OtherFiles), 16);
        assert_eq!(b.classes[0].0, Class::ProgramText, "largest first");
        assert_eq!(b.mappings.get(&Class::ProgramData), Some(&2));
    }

    #[test]
    fn descendants_of_a_tree() {
        let parents = [
            (1, 0),
            (10, 1),
            (11, 10),
            (12, 11),
            (13, 10),
            (20, 1),
            (14, 99),
        ];
        assert_eq!(descendants(10, &parents), vec![11, 12, 13]);
        assert_eq!(descendants(12, &parents), Vec::<u32>::new());
    }
}
