//! The HTTP outputs against a real receiver: VictoriaMetrics, which accepts both Influx
//! line protocol (`/write`, `/api/v2/write`) and Prometheus remote write
//! (`/api/v1/write`). Each test starts `victoria-metrics` on a temporary directory and a
//! free port, writes through the output, and reads the samples back with
//! `/api/v1/export`. Without the binary (`/usr/bin/victoria-metrics`, or `$VICTORIA_METRICS`)
//! the tests print a note and pass.

use super::testserver::free_port;
use super::{influx, remote_write};
use crate::output::{Batch, Output};
use crate::processors::testutil::points;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `(labels as name=value, sorted; [(ts, value)])` per series, sorted by labels.
type Exported = Vec<(Vec<String>, Vec<(i64, f64)>)>;

struct Victoria {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Victoria {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> Option<PathBuf> {
    let path = std::env::var_os("VICTORIA_METRICS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/victoria-metrics"));
    path.exists().then_some(path)
}

async fn start(test: &str) -> Option<Victoria> {
    let Some(bin) = binary() else {
        eprintln!("{test}: skipped: victoria-metrics is not installed (set $VICTORIA_METRICS)");
        return None;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let child = Command::new(bin)
        .arg(format!("-storageDataPath={}", dir.path().display()))
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        .arg("-retentionPeriod=100y")
        .arg("-search.latencyOffset=0s")
        .arg("-loggerLevel=ERROR")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start victoria-metrics");
    let vm = Victoria {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    super::http::ensure_tls_provider();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{}/health", vm.url)).send().await
            && r.status().is_success()
        {
            return Some(vm);
        }
        assert!(Instant::now() < deadline, "victoria-metrics did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `(metric labels as name=value sorted, [(ts, value)])` exported for `selector`, sorted by
/// labels, polling until `want` series are there.
async fn export(vm: &Victoria, selector: &str, want: usize) -> Exported {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // Makes recently written samples searchable now rather than in a second or so.
        let _ = client
            .get(format!("{}/internal/force_flush", vm.url))
            .send()
            .await;
        let text = client
            .get(
                reqwest::Url::parse_with_params(
                    &format!("{}/api/v1/export", vm.url),
                    [("match[]", selector), ("start", "0")],
                )
                .expect("url"),
            )
            .send()
            .await
            .expect("export")
            .text()
            .await
            .expect("body");
        let mut series: Exported = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("json line");
                let mut labels: Vec<String> = v["metric"]
                    .as_object()
                    .expect("metric")
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().expect("label value")))
                    .collect();
                labels.sort();
                let ts = v["timestamps"].as_array().expect("timestamps");
                let values = v["values"].as_array().expect("values");
                let samples = ts
                    .iter()
                    .zip(values)
                    .map(|(t, x)| (t.as_i64().expect("ts"), x.as_f64().expect("value")))
                    .collect();
                (labels, samples)
            })
            .collect();
        series.sort_by(|a, b| a.0.cmp(&b.0));
        if series.len() >= want {
            return series;
        }
        assert!(
            Instant::now() < deadline,
            "expected {want} series for {selector}, got {series:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn labels(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Writes `lines` through `out` from a blocking thread, as the runtime does.
async fn write(mut out: Box<dyn Output>, lines: impl AsRef<str> + Send + 'static) {
    tokio::task::spawn_blocking(move || {
        let pts = points(lines.as_ref());
        out.write(&Batch {
            points: &pts,
            events: &[],
        })
        .expect("write");
    })
    .await
    .expect("join");
}

// Recent timestamps: VictoriaMetrics refuses samples far outside its retention.
const LINES: &str = "argtest,host=web1,path=/data used_percent=93.5,free=1024i,ro=false,fs=\"ext4\" 1700000000000\n\
                     argtest,host=web1,path=/data used_percent=94 1700000010000\n";

fn expected(prefix: &str) -> Exported {
    let name = |f: &str| format!("__name__={prefix}_{f}");
    let mut want = vec![
        (
            labels(&[&name("free"), "host=web1", "path=/data"]),
            vec![(1_700_000_000_000, 1024.0)],
        ),
        (
            labels(&[&name("ro"), "host=web1", "path=/data"]),
            vec![(1_700_000_000_000, 0.0)],
        ),
        (
            labels(&[&name("used_percent"), "host=web1", "path=/data"]),
            vec![(1_700_000_000_000, 93.5), (1_700_000_010_000, 94.0)],
        ),
    ];
    want.sort_by(|a, b| a.0.cmp(&b.0));
    want
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_write_into_victoria_metrics_reads_back_the_same_samples() {
    let Some(vm) = start("remote_write_into_victoria_metrics").await else {
        return;
    };
    let out = remote_write::RemoteWrite::build(&remote_write::Config {
        url: format!("{}/api/v1/write", vm.url),
        ..remote_write::Config::default()
    })
    .expect("build");
    write(Box::new(out), LINES).await;
    let got = export(&vm, r#"{__name__=~"argtest_.*"}"#, 3).await;
    assert_eq!(got, expected("argtest"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influx_v1_and_v2_into_victoria_metrics_read_back_the_same_samples() {
    let Some(vm) = start("influx_into_victoria_metrics").await else {
        return;
    };
    let cases = [
        ("argv1", "/write?db=argus", false),
        ("argv2", "/api/v2/write?org=o&bucket=b", true),
    ];
    for (measurement, path, gzip) in cases {
        let out = influx::Influx::build(&influx::Config {
            url: format!("{}{path}", vm.url),
            gzip,
            ..influx::Config::default()
        })
        .expect("build");
        // VictoriaMetrics stores a string field as 0 where Argus skips it: leave it out.
        let lines = LINES
            .replace("argtest", measurement)
            .replace(",fs=\"ext4\"", "");
        write(Box::new(out), lines).await;
        let got = export(&vm, &format!("{{__name__=~\"{measurement}_.*\"}}"), 3).await;
        // VictoriaMetrics labels samples with the v1 database or the v2 bucket as `db`.
        let mut got: Vec<_> = got
            .into_iter()
            .map(|(l, s)| {
                (
                    l.into_iter()
                        .filter(|l| !l.starts_with("db="))
                        .collect::<Vec<_>>(),
                    s,
                )
            })
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, expected(measurement), "{path}");
    }
}
