//! One simulated **host**: the state behind a Telegraf-like agent's inputs (cpu, mem, disk,
//! diskio, net, system, processes) and how one interval of it prints as line protocol.
//!
//! Percentages are kept as integer hundredths so that every value has exactly two decimals
//! and the cpu fields of one line sum to exactly 100.00, as real agents' rounded output
//! does. Counters only ever grow. Each host owns its PRNG, so a host's values do not depend
//! on how hosts are batched or on the jitter setting.

use crate::rng::Rng;
use std::fmt::Write as _;

const GIB: i64 = 1 << 30;
const KIB: i64 = 1 << 10;
/// A filesystem block: disk figures are whole blocks.
const BLOCK: i64 = 4096;
/// The `dc` tag: hosts are spread over these round-robin.
const DCS: [&str; 5] = [
    "eu-west-1",
    "eu-central-1",
    "us-east-1",
    "us-west-2",
    "ap-southeast-1",
];
/// Per-cpu lines plus the `cpu-total` line.
const CPUS: usize = 4;
/// Series of one host that do not depend on its layout: cpu 5×5, mem 6, diskio 2×4,
/// net 2×8, system 5, processes 5.
const FIXED_SERIES: u64 = 25 + 6 + 8 + 16 + 5 + 5;
/// Series per disk mountpoint: total, used, free, used_percent.
const DISK_SERIES: u64 = 4;

/// Usage of one cpu in hundredths of a percent; idle is what is left of 100 %.
#[derive(Clone, Copy, Default)]
struct Cpu {
    user: i64,
    system: i64,
    iowait: i64,
    steal: i64,
}

impl Cpu {
    fn step(&mut self, rng: &mut Rng) {
        self.user = (self.user + rng.range(-150, 150)).clamp(100, 6000);
        self.system = (self.system + rng.range(-60, 60)).clamp(50, 2000);
        self.iowait = (self.iowait + rng.range(-40, 40)).clamp(0, 1200);
        // Steal comes in short bursts on a shared hypervisor and fades out.
        self.steal = if rng.chance(20) {
            rng.range(1, 300)
        } else {
            self.steal * 4 / 5
        };
    }

    fn idle(&self) -> i64 {
        10_000 - self.user - self.system - self.iowait - self.steal
    }
}

struct Disk {
    prefix: String,
    total: i64,
    used: i64,
}

struct DiskIo {
    prefix: String,
    /// Operations per second now; the counters below grow by rate × interval.
    read_rate: i64,
    write_rate: i64,
    reads: i64,
    writes: i64,
    read_bytes: i64,
    write_bytes: i64,
}

struct Net {
    prefix: String,
    /// Bytes per second now, each way.
    sent_rate: i64,
    recv_rate: i64,
    /// The largest rate this interface reaches.
    max_rate: i64,
    counters: [i64; 8],
}

/// The net fields, in the order of [`Net::counters`].
const NET_FIELDS: [&str; 8] = [
    "bytes_sent",
    "bytes_recv",
    "packets_sent",
    "packets_recv",
    "err_in",
    "err_out",
    "drop_in",
    "drop_out",
];

pub struct Host {
    rng: Rng,
    /// Where within each interval this host's agent samples, in ms.
    pub phase_ms: i64,
    cpu_prefixes: [String; CPUS + 1],
    cpus: [Cpu; CPUS],
    mem_prefix: String,
    mem_total: i64,
    mem_used: i64,
    mem_cached: i64,
    disks: Vec<Disk>,
    diskio: [DiskIo; 2],
    net: [Net; 2],
    system_prefix: String,
    /// load1, load5, load15 in hundredths.
    load: [i64; 3],
    uptime_s: i64,
    processes_prefix: String,
    running: i64,
    sleeping: i64,
    blocked: i64,
    zombies: i64,
}

impl Host {
    /// Host number `index` of the data set seeded with `seed`. `phase_slack_ms` is the part
    /// of the interval the phase may fall in (the interval less twice the jitter).
    pub fn new(seed: u64, index: usize, phase_slack_ms: i64) -> Self {
        let mut rng = Rng::new(seed.wrapping_mul(1_000_003).wrapping_add(index as u64));
        let phase_ms = rng.below(phase_slack_ms.max(1) as u64) as i64;
        // Tags are written sorted by key, as Telegraf does.
        let common = format!("dc={},host=host-{index:03}", DCS[index % DCS.len()]);
        let host = format!("host=host-{index:03}");
        let dc = format!("dc={}", DCS[index % DCS.len()]);
        let cpu_prefixes = std::array::from_fn(|i| {
            let name = if i < CPUS {
                format!("cpu{i}")
            } else {
                "cpu-total".to_string()
            };
            format!("cpu,cpu={name},{common}")
        });
        let mut cpus = [Cpu::default(); CPUS];
        for c in &mut cpus {
            *c = Cpu {
                user: rng.range(300, 3000),
                system: rng.range(100, 800),
                iowait: rng.range(0, 300),
                steal: 0,
            };
        }
        let mem_total = [8, 16, 32, 64][rng.below(4) as usize] * GIB;
        let mem_used = mem_total * rng.range(20, 55) / 100 / KIB * KIB;
        let mem_cached = mem_total * rng.range(10, 25) / 100 / KIB * KIB;

        let mut disks: Vec<Disk> = [("/", "sda1", 50), ("/var", "sda2", 100)]
            .into_iter()
            .map(|(path, device, gib)| Disk {
                prefix: format!("disk,{dc},device={device},fstype=ext4,{host},path={path}"),
                total: gib * GIB,
                used: 0,
            })
            .collect();
        // Every other host (at random) has a data volume too.
        if rng.chance(500) {
            disks.push(Disk {
                prefix: format!("disk,{dc},device=sdb1,fstype=xfs,{host},path=/data"),
                total: rng.range(500, 2000) * GIB,
                used: 0,
            });
        }
        for d in &mut disks {
            d.used = d.total * rng.range(15, 70) / 100 / BLOCK * BLOCK;
        }

        let diskio = ["sda", "sdb"].map(|name| DiskIo {
            prefix: format!("diskio,{common},name={name}"),
            read_rate: rng.range(0, 200),
            write_rate: rng.range(1, 400),
            reads: rng.range(0, 1 << 30),
            writes: rng.range(0, 1 << 30),
            read_bytes: rng.range(0, 1 << 42),
            write_bytes: rng.range(0, 1 << 42),
        });
        let net = [("eth0", 50_000_000), ("eth1", 200_000)].map(|(name, max_rate)| Net {
            prefix: format!("net,{common},interface={name}"),
            sent_rate: rng.range(1_000, max_rate / 4),
            recv_rate: rng.range(1_000, max_rate / 4),
            max_rate,
            counters: [
                rng.range(0, 1 << 40),
                rng.range(0, 1 << 40),
                rng.range(0, 1 << 30),
                rng.range(0, 1 << 30),
                rng.range(0, 3),
                0,
                rng.range(0, 50),
                0,
            ],
        });
        let load1 = rng.range(10, 300);
        Self {
            phase_ms,
            cpu_prefixes,
            cpus,
            mem_prefix: format!("mem,{common}"),
            mem_total,
            mem_used,
            mem_cached,
            disks,
            diskio,
            net,
            system_prefix: format!("system,{common}"),
            load: [load1; 3],
            uptime_s: rng.range(3_600, 400 * 86_400),
            processes_prefix: format!("processes,{common}"),
            running: 1,
            sleeping: rng.range(150, 350),
            blocked: 0,
            zombies: 0,
            rng,
        }
    }

    /// How many series this host's lines make (one per field of each line).
    pub fn series(&self) -> u64 {
        FIXED_SERIES + DISK_SERIES * self.disks.len() as u64
    }

    /// Appends this host's lines for time `ts_ms`, then advances the state by one interval
    /// of `interval_s` seconds. Returns the lines and samples written.
    pub fn emit(&mut self, ts_ms: i64, interval_s: i64, out: &mut String) -> (u64, u64) {
        let (mut lines, mut samples) = (0, 0);
        let mut line = |out: &mut String, prefix: &str, fields: &[(&str, Value)]| {
            out.push_str(prefix);
            out.push(' ');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(k);
                out.push('=');
                v.write(out);
            }
            let _ = writeln!(out, " {ts_ms}");
            lines += 1;
            samples += fields.len() as u64;
        };

        let mut total = Cpu::default();
        for (c, prefix) in self.cpus.iter().zip(&self.cpu_prefixes) {
            total.user += c.user;
            total.system += c.system;
            total.iowait += c.iowait;
            total.steal += c.steal;
            line(out, prefix, &cpu_fields(c));
        }
        let n = CPUS as i64;
        let total = Cpu {
            user: total.user / n,
            system: total.system / n,
            iowait: total.iowait / n,
            steal: total.steal / n,
        };
        line(out, &self.cpu_prefixes[CPUS], &cpu_fields(&total));

        let free = self.mem_total - self.mem_used - self.mem_cached;
        line(
            out,
            &self.mem_prefix,
            &[
                ("total", Value::Int(self.mem_total)),
                ("used", Value::Int(self.mem_used)),
                ("free", Value::Int(free)),
                ("cached", Value::Int(self.mem_cached)),
                ("available", Value::Int(free + self.mem_cached)),
                (
                    "used_percent",
                    Value::Hundredths(self.mem_used * 10_000 / self.mem_total),
                ),
            ],
        );
        for d in &self.disks {
            line(
                out,
                &d.prefix,
                &[
                    ("total", Value::Int(d.total)),
                    ("used", Value::Int(d.used)),
                    ("free", Value::Int(d.total - d.used)),
                    ("used_percent", Value::Hundredths(d.used * 10_000 / d.total)),
                ],
            );
        }
        for d in &self.diskio {
            line(
                out,
                &d.prefix,
                &[
                    ("reads", Value::Int(d.reads)),
                    ("writes", Value::Int(d.writes)),
                    ("read_bytes", Value::Int(d.read_bytes)),
                    ("write_bytes", Value::Int(d.write_bytes)),
                ],
            );
        }
        for n in &self.net {
            let fields: [(&str, Value); 8] =
                std::array::from_fn(|i| (NET_FIELDS[i], Value::Int(n.counters[i])));
            line(out, &n.prefix, &fields);
        }
        line(
            out,
            &self.system_prefix,
            &[
                ("load1", Value::Hundredths(self.load[0])),
                ("load5", Value::Hundredths(self.load[1])),
                ("load15", Value::Hundredths(self.load[2])),
                ("n_cpus", Value::Int(CPUS as i64)),
                ("uptime", Value::Int(self.uptime_s)),
            ],
        );
        line(
            out,
            &self.processes_prefix,
            &[
                ("running", Value::Int(self.running)),
                ("sleeping", Value::Int(self.sleeping)),
                ("blocked", Value::Int(self.blocked)),
                ("zombies", Value::Int(self.zombies)),
                (
                    "total",
                    Value::Int(self.running + self.sleeping + self.blocked + self.zombies),
                ),
            ],
        );

        self.step(interval_s);
        (lines, samples)
    }

    fn step(&mut self, interval_s: i64) {
        let rng = &mut self.rng;
        for c in &mut self.cpus {
            c.step(rng);
        }

        // Memory moves in kibibytes: agents read /proc/meminfo, which counts in kB.
        let t = self.mem_total;
        self.mem_used = (self.mem_used + rng.range(-t / 1000, t / 1000) / KIB * KIB)
            .clamp(t / 10, t * 6 / 10)
            / KIB
            * KIB;
        self.mem_cached = (self.mem_cached + rng.range(-t / 2000, t / 2000) / KIB * KIB)
            .clamp(t / 20, t / 4)
            / KIB
            * KIB;

        for d in &mut self.disks {
            // Disks fill slowly, in 4 KiB filesystem blocks (statvfs counts blocks); now
            // and then log rotation frees a little.
            d.used += rng.range(0, d.total / 200_000) / BLOCK * BLOCK;
            if rng.chance(1) {
                d.used -= d.total / 100;
            }
            d.used = d.used.clamp(d.total / 20, d.total * 95 / 100) / BLOCK * BLOCK;
        }

        for d in &mut self.diskio {
            d.read_rate = (d.read_rate + rng.range(-20, 20)).clamp(0, 2_000);
            d.write_rate = (d.write_rate + rng.range(-30, 30)).clamp(1, 3_000);
            let reads = d.read_rate * interval_s + rng.range(0, 5);
            let writes = d.write_rate * interval_s + rng.range(0, 5);
            d.reads += reads;
            d.writes += writes;
            d.read_bytes += reads * 4096 * rng.range(1, 32);
            d.write_bytes += writes * 4096 * rng.range(1, 16);
        }

        for n in &mut self.net {
            let wobble = |rate: i64, rng: &mut Rng| {
                (rate + rng.range(-rate / 20 - 100, rate / 20 + 100)).clamp(500, n.max_rate)
            };
            n.sent_rate = wobble(n.sent_rate, rng);
            n.recv_rate = wobble(n.recv_rate, rng);
            let sent = n.sent_rate * interval_s;
            let recv = n.recv_rate * interval_s;
            n.counters[0] += sent;
            n.counters[1] += recv;
            n.counters[2] += sent / rng.range(200, 1400) + 1;
            n.counters[3] += recv / rng.range(200, 1400) + 1;
            // Errors and drops: constant most of the time.
            for c in &mut n.counters[4..] {
                if rng.chance(1) {
                    *c += rng.range(1, 3);
                }
            }
        }

        let [l1, l5, l15] = &mut self.load;
        *l1 = (*l1 + rng.range(-25, 25)).clamp(0, 800);
        *l5 += (*l1 - *l5) / 5;
        *l15 += (*l1 - *l15) / 15;
        self.uptime_s += interval_s;

        self.running = rng.range(1, 6);
        self.sleeping = (self.sleeping + rng.range(-3, 3)).clamp(120, 400);
        self.blocked = if rng.chance(100) { rng.range(1, 3) } else { 0 };
        if rng.chance(2) {
            self.zombies = 1 - self.zombies;
        }
    }
}

fn cpu_fields(c: &Cpu) -> [(&'static str, Value); 5] {
    [
        ("usage_user", Value::Hundredths(c.user)),
        ("usage_system", Value::Hundredths(c.system)),
        ("usage_idle", Value::Hundredths(c.idle())),
        ("usage_iowait", Value::Hundredths(c.iowait)),
        ("usage_steal", Value::Hundredths(c.steal)),
    ]
}

/// A field value as the agent prints it.
#[derive(Clone, Copy)]
enum Value {
    /// An integer field: `123i`.
    Int(i64),
    /// A float with exactly two decimals: 1234 → `12.34`.
    Hundredths(i64),
}

impl Value {
    fn write(self, out: &mut String) {
        let _ = match self {
            Value::Int(v) => write!(out, "{v}i"),
            Value::Hundredths(v) => {
                let sign = if v < 0 { "-" } else { "" };
                let a = v.unsigned_abs();
                write!(out, "{sign}{}.{:02}", a / 100, a % 100)
            }
        };
    }
}
