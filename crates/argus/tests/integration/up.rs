//! `argus up` end to end: the local agent collects this host and the API answers with
//! values that match /proc.

use crate::common::{client, send, start, value, wait_for};
use std::time::Duration;

fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn mem_total_bytes() -> f64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kb: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    kb * 1024.0
}

#[test]
fn up_collects_this_host_and_answers_queries() {
    let argus = start(
        "up",
        "[agent]\ninterval_secs = 1\napi_listen = \"127.0.0.1:0\"\n",
    );
    let host = this_host();

    let cpu = wait_for("cpu_usage_idle", Duration::from_secs(30), || {
        let r = argus.query(&format!(
            r#"cpu_usage_idle{{host="{host}",cpu="cpu-total"}}"#
        ));
        (!r.is_empty()).then_some(r)
    });
    for el in &cpu {
        let v = value(el);
        assert!(
            (0.0..=100.0).contains(&v),
            "cpu_usage_idle {v} out of range: {el}"
        );
        assert_eq!(el["metric"]["host"], host.as_str());
    }
    // Per-core series too: one per CPU line in /proc/stat.
    let cores = std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    // The first gather only takes the baseline, and a core with no jiffy elapsed since the
    // previous read has no point that round: wait for a round with every core.
    let per_core = wait_for("a cpu_usage_idle per core", Duration::from_secs(30), || {
        let r = argus.query(&format!(
            r#"cpu_usage_idle{{host="{host}",cpu=~"cpu[0-9]+"}}"#
        ));
        (r.len() == cores).then_some(r)
    });
    assert_eq!(per_core.len(), cores, "{per_core:?}");
    for el in &per_core {
        let v = value(el);
        assert!((0.0..=100.0).contains(&v), "{el}");
    }

    let mem = argus.query(&format!(r#"mem_total{{host="{host}"}}"#));
    assert_eq!(mem.len(), 1, "{mem:?}");
    assert_eq!(value(&mem[0]), mem_total_bytes());

    // Only the token's SHA-256 was written to the data dir, in a private database.
    use std::os::unix::fs::PermissionsExt;
    let db_file = argus.data_dir().join("registry.db");
    // In WAL mode recent pages are in the -wal file until a checkpoint: read both.
    let mut kept = std::fs::read(&db_file).unwrap_or_default();
    kept.extend(std::fs::read(argus.data_dir().join("registry.db-wal")).unwrap_or_default());
    assert!(kept.len() > 4096, "no database at {}", db_file.display());
    assert!(
        !kept.windows(64).any(|w| w == argus.token.as_bytes()),
        "the token is stored in plain text"
    );
    assert_eq!(argus.token.len(), 64);
    let mode = std::fs::metadata(&db_file)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0);
    assert_eq!(mode, 0o600);
    // The banner's admin password logs in; the session reads like the token.
    let password = argus
        .admin_password
        .clone()
        .unwrap_or_else(|| panic!("no admin password in the banner"));
    let (s, login) = send(
        client()
            .post(format!("{}/api/argus/login", argus.url))
            .json(&serde_json::json!({"name": "admin", "password": password})),
        "login",
    );
    assert_eq!(s, 200, "{login}");
    let session = login["token"].as_str().unwrap_or("").to_string();
    let (s, me) = send(
        client()
            .get(format!("{}/api/argus/me", argus.url))
            .bearer_auth(&session),
        "me",
    );
    assert_eq!((s, me["role"].as_str()), (200, Some("admin")), "{me}");
}

/// The local agent registers its host by its machine id, reads its groups and namespaces
/// at `/me/ns` as the inventory has them, pulls the configuration of its group merged over
/// the default, applies it, and reports the version applied on its host's record.
#[test]
fn the_agent_reads_its_groups_and_applies_and_reports_their_configuration() {
    let argus = start(
        "up",
        "[agent]\ninterval_secs = 1\napi_listen = \"127.0.0.1:0\"\nremote_config_secs = 3600\n",
    );
    let api = argus
        .agent_api
        .clone()
        .unwrap_or_else(|| panic!("no agent API"));
    let machine_id = std::fs::read_to_string("/etc/machine-id")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty() && s != "uninitialized")
        .unwrap_or_else(this_host);
    let host = wait_for(
        "this host in the inventory",
        Duration::from_secs(30),
        || {
            let (_, b) = argus.get("/api/argus/hosts");
            (b["total"] == 1).then(|| b["data"][0].clone())
        },
    );
    assert_eq!(host["id"], machine_id.as_str(), "{host}");
    assert_eq!(host["hostname"], this_host().as_str());
    assert_eq!(host["status"], "up");
    let id = machine_id.clone();
    let me = || {
        client()
            .get(format!("{api}/me/ns"))
            .send()
            .and_then(|r| r.json::<serde_json::Value>())
            .unwrap_or_default()
    };
    assert_eq!(me()["groups"], serde_json::json!([]), "{}", me());
    let r = client()
        .patch(format!("{}/api/argus/hosts/{id}", argus.url))
        .bearer_auth(&argus.token)
        .json(&serde_json::json!({"groups": ["web"], "namespaces": ["prod"]}))
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 200);
    let m = me();
    assert_eq!(m["groups"], serde_json::json!(["web"]), "{m}");
    assert_eq!(m["namespaces"], serde_json::json!(["prod"]), "{m}");
    // The group's configuration over the default: a label on every sample.
    for (q, text) in [
        ("", "[agent.labels]\ntier = \"default\"\n"),
        ("group=web", "[agent.labels]\nrole = \"web\"\n"),
    ] {
        let r = client()
            .put(format!("{}/api/argus/agent/config?{q}", argus.url))
            .bearer_auth(&argus.token)
            .body(text)
            .send()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status().as_u16(), 204);
    }
    let served = client()
        .get(format!(
            "{}/api/argus/agent/config?host={}&id={id}",
            argus.url,
            this_host()
        ))
        .bearer_auth(&argus.token)
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    let etag = served
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(!etag.is_empty());
    let r = client()
        .post(format!("{api}/update"))
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r.status().is_success());
    // Applied: its samples carry both labels, and its record shows the version.
    wait_for(
        "samples labelled by the group's configuration",
        Duration::from_secs(30),
        || {
            let r = argus.query(&format!(
                r#"mem_total{{host="{}",role="web",tier="default"}}"#,
                this_host()
            ));
            (!r.is_empty()).then_some(())
        },
    );
    let record = wait_for(
        "the applied version on the host's record",
        Duration::from_secs(30),
        || {
            let (_, b) = argus.get(&format!("/api/argus/hosts/{id}"));
            (b["data"]["config_version"] == etag.as_str()).then_some(b)
        },
    );
    assert_eq!(record["data"]["config_error"], "", "{record}");
    // A layer the agent refuses: it keeps what runs, and its record says why.
    let r = client()
        .put(format!("{}/api/argus/agent/config?group=web", argus.url))
        .bearer_auth(&argus.token)
        .body("[agent]\nintervall = 3\n")
        .send()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 204);
    let _ = client().post(format!("{api}/update")).send();
    let record = wait_for(
        "the apply error on the host's record",
        Duration::from_secs(30),
        || {
            let (_, b) = argus.get(&format!("/api/argus/hosts/{id}"));
            b["data"]["config_error"]
                .as_str()
                .is_some_and(|e| e.contains("intervall"))
                .then_some(b)
        },
    );
    assert_eq!(record["data"]["config_version"], etag.as_str(), "{record}");
}
