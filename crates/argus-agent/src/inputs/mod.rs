//! The built-in host-metric inputs, registered explicitly: one line per input in the
//! `registry!` table below, which declares the modules, [`InputsConfig`], [`build`] and
//! [`SAMPLE_CONFIGS`] together.
//!
//! Each input is a folder `inputs/<name>/` holding its code, a `README.md` that lists every
//! metric it emits, a `sample.toml` (the documented `[agent.inputs.<name>]` table, exposed as
//! `SAMPLE_CONFIG`) and `testdata/<case>/` fixture folders. Inputs read the kernel's text
//! files under a configurable procfs root (`procfs_root`, default `/proc`) so that the same
//! code runs against fixtures in tests and against a host's `/proc` mounted into a container.
//! Names follow Telegraf's plugins so that existing dashboards and habits carry over.
//!
//! A value computed from two readings (a share of counter deltas such as `cpu_usage_idle`,
//! a process's `cpu_usage`) is reported from an input's second gather on, never from one
//! reading or from two taken moments apart: the scheduler's first round comes right after
//! the start, and a share over a jiffy or two says 0 % idle on an idle machine (issue 14).
//! Counters (bytes since boot, `*_total`) are no such values and come from the first
//! gather. The `first_gathers` tests made from the registry check this for every input.

mod common;
mod procfile;
#[cfg(test)]
mod testcases;

use std::borrow::Cow;
use std::path::Path;

use argus_core::line_protocol::{FieldValue, Line};
use serde::{Deserialize, Serialize};

use self::common::Common;
use crate::input::{Input, Plugin};

/// Declares the inputs from one table: each entry names the input's folder (its module,
/// its `[agent.inputs.<kind>]` key and its plugin name) and how to build one from its
/// `Config`. From it come the modules, [`InputsConfig`] (one field per input, documented
/// by the entry's doc comment), [`build`] and [`SAMPLE_CONFIGS`], all in the table's order.
/// `tables` are single-instance inputs, built by their constructor; `instances` are
/// `[[agent.inputs.<kind>]]` inputs, built by a function of all their tables and the data
/// directory ([`instances`] for the usual naming and checks).
macro_rules! registry {
    (
        tables { $($(#[$tdoc:meta])* $table:ident: $new:expr,)* }
        instances { $($(#[$idoc:meta])* $instance:ident: $build:expr,)* }
    ) => {
        $(pub mod $table;)*
        $(pub mod $instance;)*

        /// `[agent.inputs]`: one table per built-in input.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct InputsConfig {
            $($(#[$tdoc])* pub $table: $table::Config,)*
            $(
                $(#[$idoc])*
                #[serde(skip_serializing_if = "Vec::is_empty")]
                pub $instance: Vec<$instance::Config>,
            )*
        }

        /// Builds the enabled inputs with their schedules. Inputs that keep state (the
        /// `log` input's offsets) keep it under `data_dir`.
        pub fn build(config: &InputsConfig, data_dir: &Path) -> anyhow::Result<Vec<Plugin>> {
            let mut plugins: Vec<Plugin> = Vec::new();
            $(plugins.extend(table(stringify!($table), &config.$table, $new)?);)*
            $(plugins.extend(($build)(stringify!($instance), &config.$instance, data_dir)?);)*
            Ok(plugins)
        }

        /// Each input's documented `[agent.inputs.<name>]` table with every option at its
        /// default, in the order of [`build`]; `argus config default` prints them.
        pub const SAMPLE_CONFIGS: &[&str] = &[
            $($table::SAMPLE_CONFIG,)*
            $($instance::SAMPLE_CONFIG,)*
        ];

        /// One test per input of the table, named after it: what the input reports before
        /// it has two readings ([`testcases::check_first_gathers`]). Made from the table so
        /// that no input is registered without one: each input's `tests` module provides
        /// `first_gathers()`, or the crate's tests do not build.
        #[cfg(test)]
        mod first_gathers {
            $(#[test] fn $table() { super::$table::tests::first_gathers(); })*
            $(#[test] fn $instance() { super::$instance::tests::first_gathers(); })*
        }
    };
}

registry! {
    tables {
        /// `[agent.inputs.cpu]`: CPU time shares per core and in total.
        cpu: cpu::Cpu::new,
        /// `[agent.inputs.mem]`: memory usage from `/proc/meminfo`.
        mem: mem::Mem::new,
        /// `[agent.inputs.swap]`: swap space usage and swap traffic.
        swap: swap::Swap::new,
        /// `[agent.inputs.disk]`: space and inode usage per mounted filesystem.
        disk: disk::Disk::new,
        /// `[agent.inputs.diskio]`: I/O counters per block device.
        diskio: diskio::DiskIo::new,
        /// `[agent.inputs.net]`: traffic counters per network interface.
        net: net::Net::new,
        /// `[agent.inputs.load]`: the 1, 5 and 15 minute load averages.
        load: load::Load::new,
        /// `[agent.inputs.system]`: uptime, boot time, CPU and logged-in user counts.
        system: system::System::new,
        /// `[agent.inputs.processes]`: process counts by state.
        processes: processes::Processes::new,
    }
    instances {
        /// `[[agent.inputs.log]]`: log files tailed for lines matching rules, one table per
        /// instance; none by default (and then not written out).
        log: |_, configs: &[log::Config], data_dir: &Path| log::plugins(configs, data_dir),
        /// `[[agent.inputs.procstat]]`: CPU, memory, threads and files of selected processes.
        procstat: instances(procstat::Procstat::new),
        /// `[[agent.inputs.port]]`: whether local TCP or UDP ports are listened on.
        port: instances(port::Port::new),
        /// `[[agent.inputs.tcp]]`: TCP connect checks (Telegraf's `net_response`).
        tcp: instances(tcp::Tcp::new),
        /// `[[agent.inputs.http]]`: HTTP(S) probes (Telegraf's `http_response`).
        http: instances(http::Http::new),
        /// `[[agent.inputs.ping]]`: ICMP echo round trips and loss.
        ping: instances(ping::Ping::new),
        /// `[[agent.inputs.dns]]`: DNS lookup checks (Telegraf's `dns_query`).
        dns: instances(dns::Dns::new),
        /// `[[agent.inputs.prometheus]]`: scrapes of Prometheus `/metrics` endpoints.
        prometheus: instances(prometheus::Prometheus::new),
    }
}

/// A single-instance input, named by its kind, if enabled.
fn table<C: Common, I: Input + 'static>(
    kind: &str,
    config: &C,
    new: impl Fn(&C) -> anyhow::Result<I>,
) -> anyhow::Result<Option<Plugin>> {
    if !config.enabled() {
        return Ok(None);
    }
    Ok(Some(Plugin {
        name: kind.to_string(),
        input: Box::new(new(config)?),
        schedule: config.schedule(),
    }))
}

/// Builds the enabled instances of a multi-instance input (`[[agent.inputs.<kind>]]`),
/// each named `<kind>:<name>`, or `<kind>:<index>` (its position among the kind's tables)
/// when unnamed. Two instances with one name, and an instance's bad option, are errors
/// naming the instance.
fn instances<C: Common, I: Input + 'static>(
    new: impl Fn(&C) -> anyhow::Result<I>,
) -> impl Fn(&str, &[C], &Path) -> anyhow::Result<Vec<Plugin>> {
    move |kind, configs, _data_dir| {
        let mut plugins: Vec<Plugin> = Vec::new();
        let mut names = std::collections::HashSet::new();
        for (index, config) in configs.iter().enumerate() {
            let name = match config.instance_name() {
                "" => format!("{kind}:{index}"),
                name => format!("{kind}:{name}"),
            };
            if !names.insert(name.clone()) {
                anyhow::bail!(
                    "[[agent.inputs.{kind}]] #{index}: another instance is named {name:?} (set distinct `name`s)"
                );
            }
            if !config.enabled() {
                continue;
            }
            let input = new(config)
                .map_err(|e| anyhow::anyhow!("[[agent.inputs.{kind}]] {name}: {e:#}"))?;
            plugins.push(Plugin {
                name,
                input: Box::new(input),
                schedule: config.schedule(),
            });
        }
        Ok(plugins)
    }
}

/// The default `procfs_root` of every input.
fn default_procfs_root() -> std::path::PathBuf {
    std::path::PathBuf::from("/proc")
}

type Tag = (Cow<'static, str>, Cow<'static, str>);
type Field = (Cow<'static, str>, FieldValue<'static>);

/// One point stamped `now_ms`, as the [`Input`] contract asks.
fn point(
    measurement: &'static str,
    tags: Vec<Tag>,
    fields: Vec<Field>,
    now_ms: i64,
) -> Line<'static> {
    Line {
        measurement: Cow::Borrowed(measurement),
        tags,
        fields,
        timestamp: Some(now_ms),
    }
}

fn tag(key: &'static str, value: impl Into<Cow<'static, str>>) -> Tag {
    (Cow::Borrowed(key), value.into())
}

/// A gauge or ratio.
fn float(name: &'static str, value: f64) -> Field {
    (Cow::Borrowed(name), FieldValue::Float(value))
}

/// A byte count, a counter or any other non-negative integer.
fn uint(name: &'static str, value: u64) -> Field {
    (Cow::Borrowed(name), FieldValue::UInt(value))
}

/// `100 * part / whole`, and 0 for an empty whole (no swap, an empty filesystem).
fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Schedule;

    #[test]
    fn default_config_builds_every_input_once() {
        let inputs = build(&InputsConfig::default(), Path::new(".")).expect("build");
        let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "cpu",
                "mem",
                "swap",
                "disk",
                "diskio",
                "net",
                "load",
                "system",
                "processes"
            ]
        );
    }

    #[test]
    fn one_sample_config_per_input_in_build_order() {
        // With one instance of `log`, which has none by default.
        let mut config = InputsConfig::default();
        config.log.push(log::Config {
            files: vec!["/nonexistent/*.log".into()],
            ..log::Config::default()
        });
        // And of each network and process input, which have none either.
        config.procstat.push(procstat::Config {
            exe: "^argus$".into(),
            ..procstat::Config::default()
        });
        config.port.push(port::Config {
            ports: vec![22],
            ..port::Config::default()
        });
        config.tcp.push(tcp::Config {
            address: "127.0.0.1:22".into(),
            ..tcp::Config::default()
        });
        config.http.push(http::Config {
            url: "http://127.0.0.1/".into(),
            ..http::Config::default()
        });
        config.ping.push(ping::Config {
            host: "127.0.0.1".into(),
            ..ping::Config::default()
        });
        config.dns.push(dns::Config {
            domain: "localhost".into(),
            ..dns::Config::default()
        });
        config.prometheus.push(prometheus::Config {
            url: "http://127.0.0.1:9100/metrics".into(),
            ..prometheus::Config::default()
        });
        let inputs = build(&config, Path::new(".")).expect("build");
        assert_eq!(SAMPLE_CONFIGS.len(), inputs.len());
        for (sample, input) in SAMPLE_CONFIGS.iter().zip(&inputs) {
            let table = format!("[agent.inputs.{}]", input.input.name());
            // A multi-instance input's sample is a commented-out `[[…]]` example.
            let array = format!("# [[agent.inputs.{}]]", input.input.name());
            assert!(sample.lines().any(|l| l == table || l == array), "{table}");
        }
        // Every table key of the config is a known input.
        let json = serde_json::to_value(&config).expect("json");
        let keys: Vec<&String> = json.as_object().expect("object").keys().collect();
        let names: Vec<&str> = inputs.iter().map(|i| i.input.name()).collect();
        assert_eq!(keys.len(), names.len());
        assert!(keys.iter().all(|k| names.contains(&k.as_str())), "{keys:?}");
    }

    #[test]
    fn instances_are_named_by_name_or_position() {
        let tcp = |name: &str, enabled: bool| tcp::Config {
            name: name.into(),
            enabled,
            address: "127.0.0.1:22".into(),
            interval_secs: 30,
            ..tcp::Config::default()
        };
        let mut config = InputsConfig {
            tcp: vec![
                tcp("", true),
                tcp("ssh", true),
                tcp("", false),
                tcp("", true),
            ],
            ..InputsConfig::default()
        };
        let inputs = build(&config, Path::new(".")).expect("build");
        let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).skip(9).collect();
        assert_eq!(names, ["tcp:0", "tcp:ssh", "tcp:3"]);
        assert_eq!(inputs[9].schedule, Schedule::from_secs(30, 0));

        config.tcp = vec![tcp("ssh", true), tcp("ssh", false)];
        let err = build(&config, Path::new(".")).err().expect("duplicate");
        assert_eq!(
            err.to_string(),
            "[[agent.inputs.tcp]] #1: another instance is named \"tcp:ssh\" (set distinct `name`s)"
        );
        config.tcp = vec![tcp("ssh", true), tcp("web", true)];
        config.tcp[1].address = "nowhere".into();
        let err = build(&config, Path::new(".")).err().expect("bad option");
        assert_eq!(
            err.to_string(),
            "[[agent.inputs.tcp]] tcp:web: address \"nowhere\": expected host:port, e.g. \"localhost:22\""
        );
    }

    #[test]
    fn disabled_inputs_are_not_built() {
        let mut config = InputsConfig::default();
        config.cpu.enabled = false;
        config.processes.enabled = false;
        let inputs = build(&config, Path::new(".")).expect("build");
        let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            ["mem", "swap", "disk", "diskio", "net", "load", "system"]
        );
    }

    #[test]
    fn unknown_keys_are_rejected_naming_the_key() {
        let err = serde_json::from_str::<InputsConfig>(r#"{"cpu": {"per_cpu": true}}"#)
            .expect_err("unknown key");
        assert!(err.to_string().contains("per_cpu"), "{err}");
        let err =
            serde_json::from_str::<InputsConfig>(r#"{"gpu": {}}"#).expect_err("unknown input");
        assert!(err.to_string().contains("gpu"), "{err}");
    }

    #[test]
    fn a_partial_table_keeps_the_other_defaults() {
        let config: InputsConfig =
            serde_json::from_str(r#"{"cpu": {"percpu": false}}"#).expect("parse");
        assert!(!config.cpu.percpu);
        assert!(config.cpu.enabled && config.cpu.totalcpu);
        assert_eq!(config.mem, mem::Config::default());
    }

    #[test]
    fn every_real_input_gathers_on_this_machine() {
        // Each input's own tests compare values; this checks the whole set runs together
        // and honours the contract: timestamps are `now_ms`, nobody sets `host`.
        let mut inputs = build(&InputsConfig::default(), Path::new(".")).expect("build");
        let now_ms = 1_700_000_000_123;
        for input in &mut inputs {
            let mut out = Vec::new();
            let gathered = input.input.gather(now_ms, &mut out);
            gathered.unwrap_or_else(|e| panic!("{}: {e:#}", input.input.name()));
            for line in &out {
                assert_eq!(line.timestamp, Some(now_ms), "{}", input.input.name());
                assert!(!line.fields.is_empty(), "{}", input.input.name());
                assert!(
                    line.tags.iter().all(|(k, _)| k != "host"),
                    "{}",
                    input.input.name()
                );
            }
        }
    }

    /// What one gather of each input costs on this machine. Run with
    /// `cargo test -p argus-agent --release inputs::tests::gather_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn gather_cost() {
        let mut inputs = build(&InputsConfig::default(), Path::new(".")).expect("build");
        let mut out = Vec::new();
        for input in &mut inputs {
            let rounds = 2000;
            let start = std::time::Instant::now();
            for _ in 0..rounds {
                out.clear();
                input.input.gather(0, &mut out).expect("gather");
            }
            let per_gather = start.elapsed() / rounds;
            println!(
                "{:>10}: {per_gather:>10.1?} per gather, {} points",
                input.input.name(),
                out.len()
            );
        }
    }

    /// Files with the right shape but absurd numbers (u64::MAX everywhere) or no shape at
    /// all must fail a round or give saturated values, never panic on overflow.
    #[test]
    fn absurd_or_garbage_files_do_not_panic() {
        let max = u64::MAX;
        let absurd = [
            (
                "stat",
                format!("cpu  {max} {max} {max} {max}\ncpu0 {max} 1\nbtime {max}\n"),
            ),
            (
                "meminfo",
                format!(
                    "MemTotal: {max}\nMemFree: {max}\nBuffers: {max}\nCached: {max}\nSReclaimable: {max}\nSwapTotal: {max}\nSwapFree: 0\n"
                ),
            ),
            ("vmstat", format!("pswpin {max}\npswpout {max}\n")),
            ("mounts", "/dev/x / ext4 rw 0 0\n".to_string()),
            (
                "diskstats",
                format!("8 0 sda{}\n", format!(" {max}").repeat(11)),
            ),
            (
                "net/dev",
                format!("h\nh\neth0:{}\n", format!(" {max}").repeat(16)),
            ),
            ("loadavg", "1e308 1e308 1e308 1/1 1\n".to_string()),
            ("uptime", format!("{max}.99 0\n")),
            (
                "1/stat",
                format!("1 (x) R{}\n", format!(" {max}").repeat(20)),
            ),
            (
                "2/stat",
                format!("2 (y) S{}\n", format!(" {max}").repeat(20)),
            ),
        ];
        let garbage = absurd
            .clone()
            .map(|(name, _)| (name, "\u{0}\u{ff}):: x\n\n-1 -1".to_string()));
        for files in [absurd, garbage] {
            let root = tempfile::tempdir().expect("tempdir");
            for (name, content) in &files {
                let path = root.path().join(name);
                std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
                std::fs::write(path, content).expect("write");
            }
            let mut config = InputsConfig::default();
            config.cpu.procfs_root = root.path().into();
            config.mem.procfs_root = root.path().into();
            config.swap.procfs_root = root.path().into();
            config.disk.procfs_root = root.path().into();
            config.diskio.procfs_root = root.path().into();
            config.net.procfs_root = root.path().into();
            config.load.procfs_root = root.path().into();
            config.system.procfs_root = root.path().into();
            config.system.utmp_path = root.path().join("stat");
            config.processes.procfs_root = root.path().into();
            // cpu may refuse to start on a broken /proc/stat; the others start lazily.
            config.cpu.enabled = cpu::Cpu::new(&config.cpu).is_ok();
            for mut input in build(&config, Path::new(".")).expect("build") {
                let _ = input.input.gather(0, &mut Vec::new());
                let _ = input.input.gather(1, &mut Vec::new());
            }
        }
    }

    #[test]
    fn percent_of_nothing_is_zero() {
        assert_eq!(percent(0, 0), 0.0);
        assert_eq!(percent(1, 4), 25.0);
    }
}
