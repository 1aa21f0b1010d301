//! Chunk codec: bytes per sample on a fleet of agents, and encode/decode throughput.
//!
//! Before timing, prints bytes/sample for 200 hosts × 29 series of 10 s agent data (see
//! `argus_tsdb::chunk::synth`) in 120- and 720-sample chunks, per kind of series and
//! overall, for three amounts of timestamp jitter; and what zstd adds on top when a
//! block of chunks is compressed whole.
//!
//! `cargo bench -p argus-tsdb --bench chunk -- --warm-up-time 1 --measurement-time 5`

use argus_core::varint::{ivarint_len, put_ivarint};
use argus_tsdb::chunk::{self, Encoder, synth};
use criterion::{Criterion, Throughput, criterion_group};
use std::collections::BTreeMap;
use std::hint::black_box;

const HOSTS: usize = 200;
const SEED: u64 = 0xA26_0005;

#[derive(Default, Clone, Copy)]
struct Tally {
    samples: usize,
    bytes: usize,
    ts_bytes: usize,
    vm_bytes: usize,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.samples += other.samples;
        self.bytes += other.bytes;
        self.ts_bytes += other.ts_bytes;
        self.vm_bytes += other.vm_bytes;
    }
    fn per_sample(&self, bytes: usize) -> f64 {
        bytes as f64 / self.samples as f64
    }
}

/// Encodes `series` cut into chunks of `len` samples; tallies bytes per kind, and the
/// part of them the timestamps take (the same chunk with constant-zero values costs two
/// bytes for its values section).
fn tally(series: &[synth::Series], len: usize) -> (BTreeMap<synth::Kind, Tally>, Vec<Vec<u8>>) {
    let mut enc = Encoder::new();
    let mut kinds: BTreeMap<synth::Kind, Tally> = BTreeMap::new();
    let mut chunks = Vec::new();
    let zeros = vec![0.0; len];
    for s in series {
        for (ts, values) in s.ts.chunks(len).zip(s.values.chunks(len)) {
            let mut buf = Vec::new();
            enc.encode(ts, values, &mut buf);
            let mut ts_only = Vec::new();
            enc.encode(ts, &zeros[..ts.len()], &mut ts_only);
            kinds.entry(s.kind).or_default().add(Tally {
                samples: ts.len(),
                bytes: buf.len(),
                ts_bytes: ts_only.len() - 2,
                vm_bytes: vm_style_bytes(ts, values),
            });
            chunks.push(buf);
        }
    }
    (kinds, chunks)
}

fn print_sizes() {
    println!(
        "bytes/sample, {HOSTS} hosts × {} series, 10 s interval",
        synth::SERIES_PER_HOST
    );
    println!("(`ts` = timestamps' share incl. chunk header; `values` = the rest;");
    println!(
        " `VM-style` = VictoriaMetrics's block payload for the same chunks, see vm_style_bytes)"
    );
    for jitter in [5, 1, 0] {
        let fleet = synth::fleet(HOSTS, 720, jitter, SEED);
        for len in [120, 720] {
            let (kinds, chunks) = tally(&fleet, len);
            println!("\njitter ±{jitter} ms, {len}-sample chunks:");
            println!(
                "  {:<16} {:>8} {:>8} {:>8} {:>8}",
                "kind", "series", "total", "ts", "values"
            );
            let mut all = Tally::default();
            for (kind, t) in &kinds {
                let series = t.samples / 720;
                println!(
                    "  {:<16} {:>8} {:>8.3} {:>8.3} {:>8.3} {:>9.3}",
                    kind.name(),
                    series,
                    t.per_sample(t.bytes),
                    t.per_sample(t.ts_bytes),
                    t.per_sample(t.bytes - t.ts_bytes),
                    t.per_sample(t.vm_bytes)
                );
                all.add(*t);
            }
            println!(
                "  {:<16} {:>8} {:>8.3} {:>8.3} {:>8.3} {:>9.3}",
                "overall",
                fleet.len(),
                all.per_sample(all.bytes),
                all.per_sample(all.ts_bytes),
                all.per_sample(all.bytes - all.ts_bytes),
                all.per_sample(all.vm_bytes)
            );
            print_zstd(&chunks, all.samples, len);
        }
    }
    // Not in the fleet: floats with 15–17 digits, which only Gorilla or raw can store.
    let mut rng = synth::Rng::new(SEED);
    let ts = synth::grid_timestamps(&mut rng, synth::START_MS, 720, 10_000, 5);
    let mut t = Tally::default();
    for _ in 0..200 {
        let values = synth::values(synth::Kind::ArbitraryFloat, &mut rng, &ts);
        let mut buf = Vec::new();
        chunk::encode(&ts, &values, &mut buf);
        t.add(Tally {
            samples: 720,
            bytes: buf.len(),
            ..Tally::default()
        });
    }
    println!(
        "\narbitrary_float (not in the fleet), 720-sample chunks: {:.3} bytes/sample\n",
        t.per_sample(t.bytes)
    );
}

/// The payload VictoriaMetrics's block encoding would write for the same samples
/// (`lib/encoding/encoding.go`, `marshalInt64Array`, default 64 precision bits): values as
/// decimal mantissas; each column const (0 bytes), delta-const (one varint), or zig-zag
/// varint deltas (gauges, which have decreases) / delta-of-deltas (counters), then zstd at
/// VM's level for the row count if the column is ≥ 128 bytes and zstd saves ≥ 10%. The
/// first value and first timestamp are counted as varints; VM's ~81-byte block header
/// (stored compressed in its index) is not counted.
fn vm_style_bytes(ts: &[i64], values: &[f64]) -> usize {
    // The smallest exponent (≤ 6) at which every value is an integer mantissa.
    let mantissas = (0..=6)
        .find_map(|e| {
            let scale = 10f64.powi(e);
            values
                .iter()
                .map(|&v| {
                    let m = (v * scale).round();
                    (m / scale == v && m.abs() < 9e18).then_some(m as i64)
                })
                .collect::<Option<Vec<i64>>>()
        })
        .expect("fleet values are decimals");
    vm_column(ts) + vm_column(&mantissas)
}

fn vm_column(a: &[i64]) -> usize {
    let first = ivarint_len(a[0]);
    if a.iter().all(|&v| v == a[0]) {
        return first;
    }
    let d0 = a[1] - a[0];
    if a.windows(2).all(|w| w[1] - w[0] == d0) {
        return first + ivarint_len(d0);
    }
    let mut raw = Vec::new();
    if a.windows(2).any(|w| w[1] < w[0]) {
        for w in a.windows(2) {
            put_ivarint(&mut raw, w[1] - w[0]);
        }
    } else {
        put_ivarint(&mut raw, d0);
        for w in a.windows(3) {
            put_ivarint(&mut raw, (w[2] - w[1]) - (w[1] - w[0]));
        }
    }
    let level = match a.len() {
        0..=64 => 1,
        65..=128 => 2,
        129..=256 => 3,
        257..=512 => 4,
        _ => 5,
    };
    let mut body = raw.len();
    if raw.len() >= 128
        && let Ok(c) = zstd::bulk::compress(&raw, level)
        && (c.len() as f64) <= 0.9 * raw.len() as f64
    {
        body = c.len();
    }
    first + body
}

/// What zstd gains over whole blocks of already-encoded chunks: a host's 29 series per
/// block, as a block writer that groups by host would see them.
fn print_zstd(chunks: &[Vec<u8>], samples: usize, len: usize) {
    let per_host = chunks.len() / HOSTS;
    let raw: usize = chunks.iter().map(Vec::len).sum();
    for level in [1, 3] {
        let mut packed = 0;
        for host in chunks.chunks(per_host) {
            let block: Vec<u8> = host.concat();
            packed += zstd::bulk::compress(&block, level).map_or(block.len(), |c| c.len());
        }
        println!(
            "  zstd -{level} over per-host blocks of {len}-sample chunks: {:.3} → {:.3} bytes/sample ({:+.1}%)",
            raw as f64 / samples as f64,
            packed as f64 / samples as f64,
            (packed as f64 / raw as f64 - 1.0) * 100.0
        );
    }
}

/// A slice of the fleet for timing: 10 hosts' series in 720-sample chunks (~209k samples).
fn timing_set() -> Vec<synth::Series> {
    synth::fleet(10, 720, 5, SEED)
}

fn bench_codec(c: &mut Criterion) {
    let set = timing_set();
    let samples: usize = set.iter().map(|s| s.ts.len()).sum();
    let mut encoded = Vec::new();
    let mut enc = Encoder::new();
    for s in &set {
        let mut buf = Vec::new();
        enc.encode(&s.ts, &s.values, &mut buf);
        encoded.push(buf);
    }
    let mut g = c.benchmark_group("chunk");
    g.throughput(Throughput::Elements(samples as u64));
    g.bench_function("encode_fleet_720", |b| {
        let mut out = Vec::with_capacity(1 << 20);
        b.iter(|| {
            out.clear();
            for s in &set {
                enc.encode(black_box(&s.ts), black_box(&s.values), &mut out);
            }
            out.len()
        })
    });
    g.bench_function("decode_fleet_720", |b| {
        let (mut ts, mut values) = (Vec::with_capacity(1024), Vec::with_capacity(1024));
        b.iter(|| {
            let mut n = 0;
            for buf in &encoded {
                ts.clear();
                values.clear();
                chunk::decode(black_box(buf), &mut ts, &mut values).expect("valid chunk");
                n += ts.len();
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench_codec);

fn main() {
    print_sizes();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
