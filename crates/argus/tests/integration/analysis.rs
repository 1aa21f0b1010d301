//! The analysis API (`/api/argus/analysis/*`, `/api/argus/hosts/{host}/summary`) over HTTP
//! on a real server: data written as line protocol, read back per label, ranked, summed up.

use crate::common::{error_of, start, wait_for};
use std::time::Duration;

#[test]
fn by_label_top_and_summary_over_http() {
    let argus = start("server", "");
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    // 40 points 10 s apart ending now (more than the 5 m of the summary's rates), for three
    // hosts: idle 90/50/20 %, eth0 receiving
    // 100/300/1000 B/s; h1 also reports memory and load.
    let mut body = String::new();
    for (host, loc, idle, rx) in [
        ("h1", "dc1", 90, 100),
        ("h2", "dc1", 50, 300),
        ("h3", "dc2", 20, 1000),
    ] {
        for i in 0..40 {
            let t = now_s - 390 + i * 10;
            body.push_str(&format!(
                "cpu,cpu=cpu-total,host={host},location={loc} usage_idle={idle} {t}\n\
                 net,interface=eth0,host={host},location={loc} bytes_recv={}u,bytes_sent=0u {t}\n",
                rx * (t - now_s + 1000)
            ));
            if host == "h1" {
                body.push_str(&format!(
                    "mem,host=h1,location=dc1 used_percent=27.5,total=16000000000u {t}\n\
                     system,host=h1,location=dc1 load1=0.75,load5=0.5,load15=0.25,uptime=3600u {t}\n"
                ));
            }
        }
    }
    let (s, resp) = argus.post("/write?precision=s", body);
    assert_eq!(s, 204, "{resp}");

    let q = format!(
        "/api/argus/analysis/by-label?metric=cpu_usage_idle&label=location&value=dc1&start={}&end={now_s}&max_points=5",
        now_s - 60
    );
    let by_label = wait_for("by-label series", Duration::from_secs(10), || {
        let (s, b) = argus.get(&q);
        (s == 200 && b["data"]["series"].as_array().is_some_and(|a| a.len() == 2)).then_some(b)
    });
    let d = &by_label["data"];
    assert_eq!(d["hosts"], serde_json::json!(["h1", "h2"]));
    // 60 s over at most 5 points: a 15 s step.
    assert_eq!(d["step"], serde_json::json!(15.0));
    assert_eq!(d["series"][0]["host"], "h1");
    let points = d["series"][1]["points"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!points.is_empty() && points.len() <= 5, "{points:?}");
    assert!(points.iter().all(|p| p[1] == 50.0), "{points:?}");

    let (s, top) = argus.get(&format!(
        "/api/argus/analysis/top?expr=100%20-%20cpu_usage_idle&n=2&time={now_s}"
    ));
    assert_eq!(s, 200, "{top}");
    assert_eq!(top["data"]["result"][0]["host"], "h3");
    assert_eq!(top["data"]["result"][0]["value"], 80.0);
    assert_eq!(top["data"]["result"][1]["host"], "h2");
    assert_eq!(top["data"]["result"].as_array().map(Vec::len), Some(2));

    let (s, sum) = argus.get(&format!("/api/argus/hosts/h1/summary?time={now_s}"));
    assert_eq!(s, 200, "{sum}");
    let d = &sum["data"];
    assert_eq!(d["cpu"]["used_percent"], 10.0);
    assert_eq!(d["memory"]["used_percent"], 27.5);
    assert_eq!(d["memory"]["total_bytes"], 16e9);
    assert_eq!(d["load"]["load5"], 0.5);
    assert_eq!(d["uptime_secs"], 3600.0);
    let rx = d["network"]["rx_bytes_per_sec"]
        .as_f64()
        .unwrap_or(f64::NAN);
    assert!((rx - 100.0).abs() < 1e-6, "{rx}");
    assert_eq!(d["disks"], serde_json::json!([]));

    // Errors name the parameter.
    let (s, err) = argus.get("/api/argus/analysis/by-label?metric=cpu_usage_idle&value=dc1");
    assert_eq!(s, 400, "{err}");
    assert_eq!(err["param"], "label");
    let (s, err) = argus.get("/api/argus/analysis/top?expr=sum(");
    assert_eq!(s, 400, "{err}");
    assert_eq!(err["param"], "expr");
    let (s, err) = argus.get("/api/argus/hosts/nobody/summary");
    assert_eq!(s, 404, "{err}");
    assert!(error_of(&err).contains("nobody"), "{err}");
}
