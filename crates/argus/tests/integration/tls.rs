//! TLS on the server's listener (issue 18): certificates made by the test with rcgen (a CA,
//! a server certificate for 127.0.0.1 and a client certificate it signed), a real server
//! and a real agent process. Plain HTTP is refused; an agent trusting the CA delivers; with
//! `server.tls_client_ca`, only clients with a certificate get in; `argus up
//! --tls-self-signed` serves HTTPS its own agent trusts.

use crate::common::{AgentProcess, BIN, start, start_agent, start_with, wait_for};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// PEM files: `ca.pem`, `server.pem` + `server-key.pem`, `client.pem` + `client-key.pem`.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("{e}"));
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca =
            CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap_or_else(|e| panic!("{e}")))
                .unwrap_or_else(|e| panic!("{e}"));
        let write = |name: &str, text: String| {
            std::fs::write(dir.path().join(name), text).unwrap_or_else(|e| panic!("{e}"));
        };
        write("ca.pem", ca.pem());
        for (name, sans, usage) in [
            (
                "server",
                vec!["127.0.0.1".to_string(), "localhost".into()],
                ExtendedKeyUsagePurpose::ServerAuth,
            ),
            (
                "client",
                vec!["agent-1".to_string()],
                ExtendedKeyUsagePurpose::ClientAuth,
            ),
        ] {
            let mut p = CertificateParams::new(sans).unwrap_or_else(|e| panic!("{e}"));
            p.extended_key_usages = vec![usage];
            let key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
            let cert = p.signed_by(&key, &ca).unwrap_or_else(|e| panic!("{e}"));
            write(&format!("{name}.pem"), cert.pem());
            write(&format!("{name}-key.pem"), key.serialize_pem());
        }
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A client trusting only `ca`, with `identity` (cert, key) when given.
fn https(ca: &Path, identity: Option<(&Path, &Path)>) -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pem = std::fs::read(ca).unwrap_or_else(|e| panic!("{e}"));
    let cert = reqwest::Certificate::from_pem(&pem).unwrap_or_else(|e| panic!("{e}"));
    let mut b = reqwest::blocking::Client::builder()
        .tls_certs_only([cert])
        .timeout(Duration::from_secs(10));
    if let Some((c, k)) = identity {
        let mut pem = std::fs::read(c).unwrap_or_else(|e| panic!("{e}"));
        pem.extend(std::fs::read(k).unwrap_or_else(|e| panic!("{e}")));
        b = b.identity(reqwest::Identity::from_pem(&pem).unwrap_or_else(|e| panic!("{e}")));
    }
    b.build().unwrap_or_else(|e| panic!("{e}"))
}

/// The status of `GET {url}{path}` with the token, or the error's text.
fn get(
    client: &reqwest::blocking::Client,
    url: &str,
    token: &str,
    path: &str,
) -> Result<(u16, Value), String> {
    client
        .get(format!("{url}{path}"))
        .bearer_auth(token)
        .send()
        .map(|r| {
            let s = r.status().as_u16();
            (s, r.json().unwrap_or(Value::Null))
        })
        .map_err(|e| format!("{e:?}"))
}

/// How many series of `query` the server answers.
fn series(client: &reqwest::blocking::Client, url: &str, token: &str, query: &str) -> usize {
    match get(client, url, token, &format!("/api/v1/query?query={query}")) {
        Ok((200, b)) => b["data"]["result"].as_array().map_or(0, Vec::len),
        _ => 0,
    }
}

/// `argus agent` sending to `url` as `host`, with these `[agent]` settings.
fn agent(url: &str, token: &str, host: &str, settings: &str) -> AgentProcess {
    let config = format!(
        "[agent]\ninterval_secs = 1\napi_listen = \"\"\nremote_config_secs = 0\n{settings}\n"
    );
    start_agent(url, token, host, &format!("m-{host}"), &config, false)
}

#[test]
fn tls_refuses_plain_http_and_a_verifying_agent_delivers() {
    let pki = Pki::new();
    let config = format!(
        "[server]\ntls_cert = {:?}\ntls_key = {:?}\n",
        pki.path("server.pem").display().to_string(),
        pki.path("server-key.pem").display().to_string()
    );
    let argus = start("server", &config);
    assert!(argus.url.starts_with("https://127.0.0.1:"), "{}", argus.url);
    let trusted = https(&pki.path("ca.pem"), None);
    assert_eq!(
        get(&trusted, &argus.url, &argus.token, "/health").map(|r| r.0),
        Ok(200)
    );
    // Plain HTTP to the same port: no answer, the handshake fails.
    let plain = argus.url.replacen("https://", "http://", 1);
    let r = reqwest::blocking::Client::new()
        .get(format!("{plain}/health"))
        .send();
    assert!(
        r.is_err(),
        "plain HTTP answered {:?}",
        r.map(|r| r.status())
    );
    // A client that does not trust the certificate is refused by its own check.
    let other = Pki::new();
    let e = get(
        &https(&other.path("ca.pem"), None),
        &argus.url,
        &argus.token,
        "/health",
    );
    assert!(e.is_err(), "{e:?}");
    // An agent trusting the CA delivers; one trusting another CA does not.
    let ca = format!("tls_ca = {:?}", pki.path("ca.pem").display().to_string());
    let _good = agent(&argus.url, &argus.token, "tls-good", &ca);
    let wrong = format!("tls_ca = {:?}", other.path("ca.pem").display().to_string());
    let _bad = agent(&argus.url, &argus.token, "tls-bad", &wrong);
    wait_for(
        "the verifying agent's samples",
        Duration::from_secs(30),
        || {
            (series(
                &trusted,
                &argus.url,
                &argus.token,
                "system_uptime{host=\"tls-good\"}",
            ) == 1)
                .then_some(())
        },
    );
    assert_eq!(
        series(
            &trusted,
            &argus.url,
            &argus.token,
            "system_uptime{host=\"tls-bad\"}"
        ),
        0,
        "an agent that cannot verify the server sent data"
    );
}

#[test]
fn with_a_client_ca_only_clients_with_a_certificate_get_in() {
    let pki = Pki::new();
    let p = |n: &str| pki.path(n).display().to_string();
    let config = format!(
        "[server]\ntls_cert = {:?}\ntls_key = {:?}\ntls_client_ca = {:?}\n",
        p("server.pem"),
        p("server-key.pem"),
        p("ca.pem")
    );
    let argus = start("server", &config);
    let without = https(&pki.path("ca.pem"), None);
    let e = get(&without, &argus.url, &argus.token, "/health");
    assert!(e.is_err(), "no client certificate, yet {e:?}");
    let with = https(
        &pki.path("ca.pem"),
        Some((&pki.path("client.pem"), &pki.path("client-key.pem"))),
    );
    assert_eq!(
        get(&with, &argus.url, &argus.token, "/health").map(|r| r.0),
        Ok(200)
    );
    let settings = format!(
        "tls_ca = {:?}\ntls_cert = {:?}\ntls_key = {:?}",
        p("ca.pem"),
        p("client.pem"),
        p("client-key.pem")
    );
    let _agent = agent(&argus.url, &argus.token, "mtls-agent", &settings);
    wait_for(
        "the agent's samples over mutual TLS",
        Duration::from_secs(30),
        || {
            (series(
                &with,
                &argus.url,
                &argus.token,
                "system_uptime{host=\"mtls-agent\"}",
            ) == 1)
                .then_some(())
        },
    );
}

#[test]
fn up_with_a_self_signed_certificate_serves_https_to_its_own_agent() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let argus = start_with(
        &["up", "--tls-self-signed"],
        "[agent]\ninterval_secs = 1\napi_listen = \"\"\n",
        dir,
    );
    assert!(argus.url.starts_with("https://"), "{}", argus.url);
    let cert = argus.data_dir().join("tls/cert.pem");
    let key = argus.data_dir().join("tls/key.pem");
    let mode = std::fs::metadata(&key)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777);
    assert_eq!(mode.ok(), Some(0o600));
    let client = https(&cert, None);
    wait_for(
        "the local agent's samples over HTTPS",
        Duration::from_secs(30),
        || (series(&client, &argus.url, &argus.token, "system_uptime") >= 1).then_some(()),
    );
    // A bad pair is refused at start, naming the key.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = dir.path().join("argus.toml");
    std::fs::write(
        &cfg,
        format!("[server]\ntls_cert = {:?}\n", cert.display().to_string()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(BIN)
        .args(["server", "--listen", "127.0.0.1:0", "--config"])
        .arg(&cfg)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server.tls_key"), "{err}");
}
