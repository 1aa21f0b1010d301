//! Line protocol throughput on ~10 MB of Telegraf-like input: `cpu`, `mem`, `disk`, `net`
//! and `system` lines with 3–5 tags and 5–10 fields, some escaped names and string fields.
//!
//! `cargo bench -p argus-core --bench line_protocol -- --warm-up-time 1 --measurement-time 5`

use argus_core::TimeSeries;
use argus_core::line_protocol::{Line, Precision, line_to_series, parse, write_line};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::fmt::Write as _;
use std::hint::black_box;

const INPUT_BYTES: usize = 10 << 20;

/// A small deterministic generator (SplitMix64), so every run benches the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A float in `[0, max)`. Written with `{}` it takes the shortest round-tripping form,
    /// usually 15–17 significant digits, as Telegraf's floats do.
    fn float(&mut self, max: f64) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 * max
    }
}

fn telegraf_lines(target_bytes: usize) -> String {
    let mut rng = Rng(42);
    let mut out = String::with_capacity(target_bytes + 1024);
    let hosts: Vec<String> = (0..50)
        .map(|i| format!("web-{i:02}.eu-west-1.example.com"))
        .collect();
    let mut ts: i64 = 1_700_000_000_000_000_000;
    while out.len() < target_bytes {
        ts += 10_000_000_000;
        let host = &hosts[rng.below(hosts.len() as u64) as usize];
        for cpu in 0..4 {
            let _ = write!(
                out,
                "cpu,cpu=cpu{cpu},dc=fra1,host={host},region=eu-west-1 "
            );
            let fields = [
                "usage_user",
                "usage_system",
                "usage_idle",
                "usage_nice",
                "usage_iowait",
                "usage_irq",
                "usage_softirq",
                "usage_steal",
                "usage_guest",
                "usage_guest_nice",
            ];
            for (i, f) in fields.iter().enumerate() {
                let sep = if i == 0 { "" } else { "," };
                let v = if rng.below(4) == 0 {
                    0.0
                } else {
                    rng.float(100.0)
                };
                let _ = write!(out, "{sep}{f}={v}");
            }
            let _ = writeln!(out, " {ts}");
        }
        let _ = writeln!(
            out,
            "mem,dc=fra1,host={host},region=eu-west-1 total=16717000704i,available={}i,\
             used={}i,free={}i,used_percent={},available_percent={},cached={}i,buffered={}i {ts}",
            rng.below(16_000_000_000),
            rng.below(16_000_000_000),
            rng.below(16_000_000_000),
            rng.float(100.0),
            rng.float(100.0),
            rng.below(4_000_000_000),
            rng.below(400_000_000),
        );
        for (device, path) in [
            ("nvme0n1p2", "/"),
            ("sdb1", r"/mnt/backup\ disk"),
            ("sdc1", "/var/lib/docker"),
        ] {
            let _ = writeln!(
                out,
                "disk,device={device},fstype=ext4,host={host},mode=rw,path={path} \
                 free={}i,inodes_free={}i,inodes_total=30531584i,inodes_used={}i,\
                 total=490577010688i,used={}i,used_percent={} {ts}",
                rng.below(490_577_010_688),
                rng.below(30_531_584),
                rng.below(30_531_584),
                rng.below(490_577_010_688),
                rng.float(100.0),
            );
        }
        for interface in ["eth0", "eth1", "docker0"] {
            let _ = writeln!(
                out,
                "net,dc=fra1,host={host},interface={interface} bytes_recv={}i,bytes_sent={}i,\
                 drop_in={}i,drop_out=0i,err_in=0i,err_out=0i,packets_recv={}i,packets_sent={}i {ts}",
                rng.below(1 << 40),
                rng.below(1 << 40),
                rng.below(100),
                rng.below(1 << 32),
                rng.below(1 << 32),
            );
        }
        let _ = writeln!(
            out,
            "system,host={host},region=eu-west-1 load1={},load5={},load15={},n_cpus=4i,\
             n_users={}i,uptime={}u,uptime_format=\"{} days, 3:04\" {ts}",
            rng.float(4.0),
            rng.float(4.0),
            rng.float(4.0),
            rng.below(10),
            rng.below(10_000_000),
            rng.below(100),
        );
    }
    out
}

fn bench(c: &mut Criterion) {
    let input = telegraf_lines(INPUT_BYTES);
    let lines: Vec<Line<'_>> = parse(&input)
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("generated input is invalid: {e}"));

    let mut group = c.benchmark_group("line_protocol");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(input.len() as u64));

    group.bench_function("parse", |b| {
        b.iter(|| {
            let mut fields = 0;
            for line in parse(black_box(&input)).flatten() {
                fields += line.fields.len();
            }
            fields
        })
    });

    group.bench_function("parse_and_line_to_series", |b| {
        let mut out: Vec<TimeSeries> = Vec::with_capacity(16);
        b.iter(|| {
            let mut samples = 0;
            for line in parse(black_box(&input)).flatten() {
                out.clear();
                line_to_series(
                    &line,
                    Precision::Nanoseconds,
                    0,
                    &[("namespace", "bench")],
                    &mut out,
                );
                samples += out.len();
            }
            samples
        })
    });

    group.bench_function("write_line", |b| {
        let mut out = String::with_capacity(input.len() + 1024);
        b.iter(|| {
            out.clear();
            for line in &lines {
                write_line(&mut out, black_box(line), Precision::Nanoseconds);
            }
            out.len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
