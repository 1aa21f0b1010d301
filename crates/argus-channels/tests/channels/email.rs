//! Email against a real SMTP server: aiosmtpd (Debian package `python3-aiosmtpd`, run
//! with Debian's `/usr/bin/python3`), in plain text, with STARTTLS and with TLS on
//! connect, with AUTH; the server writes each message it accepts to a directory and the
//! tests assert on what arrived.

use std::{path::PathBuf, process::Stdio, time::Duration};

use argus_channels::{Reason, deliver, send_test};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::process::{Child, Command};

use crate::common::{channel, closed_port, high_cpu, wait_for_port};

/// Debian's interpreter: the one `python3-aiosmtpd` installs for (a `python3` earlier in
/// `PATH`, such as pyenv's, would not have it).
const PYTHON: &str = "/usr/bin/python3";

const SERVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/channels/smtp_server.py");

/// A running SMTP server; killed when dropped.
pub struct Smtp {
    port: u16,
    dir: TempDir,
    child: Child,
}

impl Smtp {
    pub async fn start(args: &[String]) -> Smtp {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = closed_port();
        let mut child = Command::new(PYTHON)
            .arg(SERVER)
            .arg("--port")
            .arg(port.to_string())
            .arg("--dir")
            .arg(dir.path())
            .args(args)
            // The server stops when this pipe closes: it cannot outlive the test.
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("starting {PYTHON} {SERVER}: {e} (Debian package python3-aiosmtpd)")
            });
        wait_for_port(
            port,
            &mut child,
            "aiosmtpd (Debian package python3-aiosmtpd)",
        )
        .await;
        Smtp { port, dir, child }
    }

    pub fn smarthost(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The messages received so far, waiting up to 10 s for at least `n`; line ends of
    /// the text parts as `\n`.
    pub async fn messages(&self, n: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
                .expect("read dir")
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            if files.len() >= n {
                files.sort();
                return files
                    .iter()
                    .map(|f| {
                        let mut m: Value =
                            serde_json::from_slice(&std::fs::read(f).expect("read message"))
                                .expect("message JSON");
                        for part in ["text", "html"] {
                            if let Some(s) = m[part].as_str() {
                                m[part] = Value::String(s.replace("\r\n", "\n"));
                            }
                        }
                        m
                    })
                    .collect();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} messages within 10 s, wanted {n}",
                files.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM files.
struct Cert {
    dir: TempDir,
}

impl Cert {
    fn new() -> Cert {
        let dir = tempfile::tempdir().expect("tempdir");
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("certificate");
        std::fs::write(dir.path().join("cert.pem"), ck.cert.pem()).expect("write cert");
        std::fs::write(dir.path().join("key.pem"), ck.signing_key.serialize_pem())
            .expect("write key");
        Cert { dir }
    }

    fn cert(&self) -> String {
        self.dir.path().join("cert.pem").display().to_string()
    }

    fn key(&self) -> String {
        self.dir.path().join("key.pem").display().to_string()
    }
}

#[tokio::test]
async fn email_arrives_with_subject_from_to_and_the_alerts() {
    let smtp = Smtp::start(&[]).await;
    let ch = channel(
        "ops",
        json!({"kind": "email", "to": "ops@example.com, Ann <ann@example.com>",
               "from": "Argus <argus@example.com>", "smarthost": smtp.smarthost(),
               "hello": "argus.example.com", "require_tls": false,
               "headers": {"X-Team": "{{ .CommonLabels.severity }}-ops"},
               "text": "{{ template \"__text_alert_list\" . }}"}),
    );
    let out = deliver(&ch, &high_cpu()).await;
    assert!(out.ok, "{out:?}");
    assert_eq!((out.attempts, out.status), (1, Some(250)));

    let m = &smtp.messages(1).await[0];
    assert_eq!(m["mail_from"], "argus@example.com");
    assert_eq!(m["rcpt_tos"], json!(["ops@example.com", "ann@example.com"]));
    assert_eq!(m["helo"], "argus.example.com");
    assert_eq!(m["tls"], false);
    let h = &m["headers"];
    assert_eq!(h["From"], "Argus <argus@example.com>");
    assert_eq!(h["To"], "ops@example.com, Ann <ann@example.com>");
    assert_eq!(h["Subject"], "[FIRING:2] HighCPU (page)");
    assert_eq!(h["X-Team"], "page-ops");
    assert!(
        h["Message-ID"]
            .as_str()
            .is_some_and(|id| id.ends_with("@example.com>"))
    );
    assert!(h["Date"].is_string());
    let text = m["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("HighCPU host=db1, severity=page\nsummary: CPU <busy> & hot on db1\n"),
        "{text}"
    );
    let html = m["html"].as_str().unwrap_or_default();
    assert!(
        html.contains("summary: CPU &lt;busy&gt; &amp; hot on db2"),
        "{html}"
    );
}

#[tokio::test]
async fn email_to_and_from_are_templates_as_in_alertmanager() {
    let smtp = Smtp::start(&[]).await;
    let ch = channel(
        "ops",
        json!({"kind": "email", "to": "{{ .CommonLabels.severity }}-oncall@example.com",
               "from": "Argus <{{ .CommonLabels.alertname | toLower }}@example.com>",
               "smarthost": smtp.smarthost(), "require_tls": false}),
    );
    let out = deliver(&ch, &high_cpu()).await;
    assert!(out.ok, "{out:?}");
    let m = &smtp.messages(1).await[0];
    assert_eq!(m["mail_from"], "highcpu@example.com");
    assert_eq!(m["rcpt_tos"], json!(["page-oncall@example.com"]));
    assert_eq!(m["headers"]["To"], "page-oncall@example.com");

    // A template that renders no address fails that delivery, not the configuration.
    let ch = channel(
        "ops",
        json!({"kind": "email", "to": "{{ .CommonLabels.nosuchlabel }}",
               "from": "argus@example.com", "smarthost": smtp.smarthost(),
               "require_tls": false}),
    );
    let out = deliver(&ch, &high_cpu()).await;
    assert!(!out.ok);
    assert_eq!(out.reason, Some(Reason::Invalid), "{out:?}");
    assert!(
        out.error
            .as_deref()
            .is_some_and(|e| e.contains("to rendered as")),
        "{out:?}"
    );
}

#[tokio::test]
async fn email_with_starttls_and_auth_trusting_the_servers_certificate() {
    let cert = Cert::new();
    let smtp = Smtp::start(&[
        "--starttls".into(),
        cert.cert(),
        cert.key(),
        "--auth".into(),
        "argus:pa55".into(),
    ])
    .await;
    let ch = channel(
        "ops",
        json!({"kind": "email", "to": "ops@example.com", "from": "argus@example.com",
               "smarthost": smtp.smarthost(), "auth_username": "argus", "auth_password": "pa55",
               "tls_config": {"ca_file": cert.cert()},
               "headers": {"Subject": "Configured subject"}, "html": "<p>configured</p>"}),
    );
    let out = deliver(&ch, &high_cpu()).await;
    assert!(out.ok, "{out:?}");
    let m = &smtp.messages(1).await[0];
    assert_eq!(m["tls"], true);
    assert_eq!(m["auth"], "argus");
    assert_eq!(m["headers"]["Subject"], "Configured subject");
    assert_eq!(m["html"].as_str().map(str::trim), Some("<p>configured</p>"));

    // The same server, a wrong password: 535, refused for good.
    let bad = channel(
        "ops",
        json!({"kind": "email", "to": "ops@example.com", "from": "argus@example.com",
               "smarthost": smtp.smarthost(), "auth_username": "argus", "auth_password": "wrong",
               "tls_config": {"ca_file": cert.cert()}}),
    );
    let out = deliver(&bad, &high_cpu()).await;
    assert_eq!(
        (out.ok, out.attempts, out.status, out.reason),
        (false, 1, Some(535), Some(Reason::Smtp)),
        "{out:?}"
    );
}

#[tokio::test]
async fn email_refuses_a_certificate_it_does_not_trust() {
    let cert = Cert::new();
    let smtp = Smtp::start(&["--starttls".into(), cert.cert(), cert.key()]).await;
    let ch = channel(
        "ops",
        json!({"kind": "email", "to": "ops@example.com", "from": "argus@example.com",
               "smarthost": smtp.smarthost()}),
    );
    let out = deliver(&ch, &high_cpu()).await;
    assert_eq!(
        (out.ok, out.attempts, out.reason),
        (false, 1, Some(Reason::Tls)),
        "{out:?}"
    );
    let error = out.error.unwrap_or_default();
    assert!(
        error.contains("invalid peer certificate: UnknownIssuer"),
        "{error}"
    );

    // Told to accept any certificate (a lab setup), it goes through.
    let lax = channel(
        "ops",
        json!({"kind": "email", "to": "ops@example.com", "from": "argus@example.com",
               "smarthost": smtp.smarthost(), "tls_config": {"insecure_skip_verify": true}}),
    );
    let out = send_test(&lax).await;
    assert!(out.ok, "{out:?}");
    let m = &smtp.messages(1).await[0];
    assert_eq!(m["tls"], true);
    assert_eq!(
        m["headers"]["Subject"],
        "[FIRING:1] ArgusTestNotification (argus none)"
    );
}

#[tokio::test]
async fn email_requires_starttls_unless_told_otherwise() {
    let smtp = Smtp::start(&[]).await;
    let ch = channel(
        "ops",
        json!({"kind": "email", "to": "ops@example.com", "from": "argus@example.com",
               "smarthost": smtp.smarthost()}),
    );
    let out = deliver(&ch, &high_cpu()).await;
    assert_eq!(
        (out.ok, out.attempts, out.reason),
        (false, 1, Some(Reason::Tls)),
        "{out:?}"
    );
    assert!(
        out.error
            .unwrap_or_default()
            .contains("STARTTLS is not supported")
    );
}

#[tokio::test]
async fn email_with_tls_on_connect() {
    let cert = Cert::new();
    let smtp = Smtp::start(&["--smtps".into(), cert.cert(), cert.key()]).await;
    let ch = channel(
        "ops",
        json!({"kind": "email", "to": "ops@example.com", "from": "argus@example.com",
               "smarthost": smtp.smarthost(), "tls_on_connect": true,
               "tls_config": {"ca_file": cert.cert(), "server_name": "localhost"}}),
    );
    let out = deliver(&ch, &high_cpu()).await;
    assert!(out.ok, "{out:?}");
    let m = &smtp.messages(1).await[0];
    assert_eq!(m["tls"], true);
    // Without `text`, only the HTML part, as Alertmanager sends.
    assert_eq!(m["text"], serde_json::Value::Null);
    let html = m["html"].as_str().unwrap_or_default();
    assert!(
        html.contains("summary: CPU &lt;busy&gt; &amp; hot on db2"),
        "{html}"
    );
}

#[tokio::test]
async fn email_to_a_closed_port_is_retried() {
    let ch = channel(
        "ops",
        json!({"kind": "email", "to": "ops@example.com", "from": "argus@example.com",
               "smarthost": format!("127.0.0.1:{}", closed_port()), "require_tls": false}),
    );
    let out = deliver(&ch, &high_cpu()).await;
    assert_eq!(
        (out.ok, out.attempts, out.reason),
        (false, 3, Some(Reason::Network)),
        "{out:?}"
    );
}
