//! What the HTTP outputs share: a client that a blocking thread can use, authentication
//! and the reading of a server's error.
//!
//! Outputs are called from the runtime's blocking threads (`spawn_blocking`), and reqwest's
//! client is async. Rather than reqwest's blocking client, which starts a runtime thread
//! of its own for each client, [`HttpClient`] keeps the [`Handle`] of the runtime it was
//! built in and runs each request to completion with [`Handle::block_on`]. Hence:
//! - build the output inside the agent's runtime (`Handle::try_current` must succeed; the
//!   build fails with a clear error otherwise);
//! - call `write` from a blocking thread (`spawn_blocking` or a plain thread), never from
//!   an async task: `Handle::block_on` panics on a runtime worker thread. With a
//!   current-thread runtime the I/O is driven only while that runtime's own `block_on` is
//!   running (waiting on the `spawn_blocking` task, for one); a multi-thread runtime has
//!   no such condition.

use anyhow::Context as _;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::runtime::Handle;

/// How much of an error response's body goes into the error.
const MAX_ERROR_BODY: usize = 1024;

/// `Authorization` as configured.
#[derive(Debug, Clone, PartialEq)]
pub enum Auth {
    None,
    /// `Authorization: <scheme> <token>` (`Bearer` or Influx v2's `Token`).
    Token {
        scheme: &'static str,
        token: String,
    },
    Basic {
        username: String,
        password: String,
    },
}

/// A client usable from blocking threads.
pub struct HttpClient {
    client: reqwest::Client,
    handle: Handle,
    headers: reqwest::header::HeaderMap,
}

/// Installs ring as rustls's process-wide provider if nothing has: reqwest built with
/// `rustls-no-provider` panics on building a client otherwise. The `argus` binary installs
/// the same one at start; this covers embedders and tests.
pub(crate) fn ensure_tls_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: one provider is in place.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// The agent's one HTTP client for its own traffic (sender, heartbeat, remote config):
/// one connection pool, so the heartbeat rides the sender's keep-alive connection, and
/// TLS set up once. Timeouts are per request. Built per agent, not per process: a
/// client's connections belong to the runtime that opened them.
///
/// `tls`: whether some server is `https://`. Only then are the system's root certificates
/// loaded (the platform verifier parses all of them when the client is built, a few
/// hundred KiB of memory and most of the agent's start-up CPU); without, the client
/// trusts no certificate at all, so an `https://` URL fails rather than goes unverified.
#[cfg(test)]
pub(crate) fn agent_client(tls: bool) -> anyhow::Result<reqwest::Client> {
    agent_client_with(&ClientTls {
        https: tls,
        ..ClientTls::default()
    })
}

/// How the agent's own client does TLS: whether some server is `https://`, and
/// `agent.tls_ca`, `tls_cert`, `tls_key`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ClientTls {
    pub https: bool,
    pub ca: String,
    pub cert: String,
    pub key: String,
}

impl ClientTls {
    pub(crate) fn of(config: &crate::AgentConfig) -> ClientTls {
        ClientTls {
            https: needs_tls(&config.servers),
            ca: config.tls_ca.clone(),
            cert: config.tls_cert.clone(),
            key: config.tls_key.clone(),
        }
    }
}

/// [`agent_client`] with a CA of its own (then the only one trusted: the system's roots
/// are not even loaded) and a client certificate, as `tls` says. Errors name the key.
pub(crate) fn agent_client_with(tls: &ClientTls) -> anyhow::Result<reqwest::Client> {
    ensure_tls_provider();
    let mut b =
        reqwest::Client::builder().user_agent(concat!("argus-agent/", env!("CARGO_PKG_VERSION")));
    if !tls.ca.is_empty() {
        let pem = std::fs::read(&tls.ca).with_context(|| format!("agent.tls_ca {}", tls.ca))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("agent.tls_ca {}: not PEM certificates", tls.ca))?;
        if certs.is_empty() {
            anyhow::bail!("agent.tls_ca {}: no certificate in it", tls.ca);
        }
        b = b.tls_certs_only(certs);
    } else if !tls.https {
        b = b.tls_certs_only(Vec::new());
    }
    match (tls.cert.is_empty(), tls.key.is_empty()) {
        (true, true) => {}
        (false, false) => {
            let mut pem =
                std::fs::read(&tls.cert).with_context(|| format!("agent.tls_cert {}", tls.cert))?;
            pem.push(b'\n');
            pem.extend(
                std::fs::read(&tls.key).with_context(|| format!("agent.tls_key {}", tls.key))?,
            );
            let id = reqwest::Identity::from_pem(&pem).with_context(|| {
                format!(
                    "agent.tls_cert {} and agent.tls_key {}: not a certificate and its key",
                    tls.cert, tls.key
                )
            })?;
            b = b.identity(id);
        }
        _ => anyhow::bail!("agent.tls_cert and agent.tls_key: give both or neither"),
    }
    b.build().context("cannot build the HTTP client")
}

/// Whether any of `urls` needs TLS.
pub(crate) fn needs_tls(urls: &[String]) -> bool {
    urls.iter().any(|u| {
        u.trim_start()
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    })
}

impl HttpClient {
    pub fn new(timeout_secs: u64, headers: &BTreeMap<String, String>) -> anyhow::Result<Self> {
        let handle = Handle::try_current().map_err(|_| {
            anyhow::anyhow!("HTTP outputs must be built inside the agent's tokio runtime")
        })?;
        if timeout_secs == 0 {
            anyhow::bail!("timeout_secs must be at least 1");
        }
        let mut map = reqwest::header::HeaderMap::new();
        for (k, v) in headers {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| anyhow::anyhow!("headers: {k:?}: {e}"))?;
            let value = reqwest::header::HeaderValue::from_str(v)
                .map_err(|e| anyhow::anyhow!("headers: {k:?}: {e}"))?;
            map.insert(name, value);
        }
        ensure_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(timeout_secs))
            .user_agent(concat!("argus-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(HttpClient {
            client,
            handle,
            headers: map,
        })
    }

    /// POSTs `body` with `headers` and `auth`, waiting for the answer on this (blocking)
    /// thread. Anything but 2xx is an error carrying the status and the server's message.
    pub fn post(
        &self,
        url: &reqwest::Url,
        auth: &Auth,
        headers: &[(&'static str, &'static str)],
        body: Vec<u8>,
    ) -> anyhow::Result<()> {
        let mut req = self.client.post(url.clone()).headers(self.headers.clone());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req = match auth {
            Auth::None => req,
            Auth::Token { scheme, token } => {
                req.header(reqwest::header::AUTHORIZATION, format!("{scheme} {token}"))
            }
            Auth::Basic { username, password } => req.basic_auth(username, Some(password)),
        };
        let req = req.body(body);
        self.handle.block_on(async move {
            let resp = req
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("POST {}: {}", redact(url), error_chain(&e)))?;
            let status = resp.status();
            if status.is_success() {
                return Ok(());
            }
            let text = resp.text().await.unwrap_or_default();
            anyhow::bail!("POST {}: {status}: {}", redact(url), server_message(&text))
        })
    }
}

/// The URL without a password, for messages.
fn redact(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("xxx"));
    }
    url.to_string()
}

/// An error with its causes, which reqwest keeps apart ("error sending request" alone says
/// little; "connection refused" is what the user needs).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        source = cause.source();
    }
    s
}

/// What a server said, from an error body: the `message` (Influx v2, Prometheus) or
/// `error` (Influx v1, Prometheus) of a JSON body, else the text, shortened.
pub fn server_message(body: &str) -> String {
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(body) {
        for key in ["message", "error"] {
            if let Some(serde_json::Value::String(s)) = m.get(key) {
                return shorten(s);
            }
        }
    }
    let text = body.trim();
    if text.is_empty() {
        return "(empty body)".to_string();
    }
    shorten(text)
}

fn shorten(s: &str) -> String {
    if s.len() <= MAX_ERROR_BODY {
        return s.to_string();
    }
    let mut end = MAX_ERROR_BODY;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Builds [`Auth`] from the options of an output: a token, or a user name and password,
/// not both.
pub fn auth(
    scheme: &'static str,
    token: &str,
    username: &str,
    password: &str,
    token_key: &str,
) -> anyhow::Result<Auth> {
    match (token.is_empty(), username.is_empty()) {
        (false, false) => {
            anyhow::bail!("set either `{token_key}` or `username`/`password`, not both")
        }
        (false, true) => Ok(Auth::Token {
            scheme,
            token: token.to_string(),
        }),
        (true, false) => Ok(Auth::Basic {
            username: username.to_string(),
            password: password.to_string(),
        }),
        (true, true) if !password.is_empty() => anyhow::bail!("`password` needs a `username`"),
        (true, true) => Ok(Auth::None),
    }
}

/// Parses an output's `url`, which must be http or https.
pub fn parse_url(url: &str) -> anyhow::Result<reqwest::Url> {
    let parsed = reqwest::Url::parse(url).map_err(|e| anyhow::anyhow!("url {url:?}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        anyhow::bail!("url {url:?}: the scheme must be http or https");
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_are_extracted_and_shortened() {
        assert_eq!(
            server_message(r#"{"code":"invalid","message":"unable to parse 'x': bad"}"#),
            "unable to parse 'x': bad"
        );
        assert_eq!(
            server_message(r#"{"error":"database not found: \"x\""}"#),
            "database not found: \"x\""
        );
        assert_eq!(server_message("  plain text\n"), "plain text");
        assert_eq!(server_message(""), "(empty body)");
        let long = "é".repeat(1000);
        let short = server_message(&long);
        assert_eq!(short.chars().count(), 513);
        assert!(short.ends_with('…'));
    }

    #[test]
    fn auth_takes_a_token_or_a_user_not_both() {
        assert_eq!(
            auth("Token", "", "", "", "token").expect("none"),
            Auth::None
        );
        assert_eq!(
            auth("Token", "t", "", "", "token").expect("token"),
            Auth::Token {
                scheme: "Token",
                token: "t".into()
            }
        );
        assert_eq!(
            auth("Bearer", "", "u", "p", "bearer_token").expect("basic"),
            Auth::Basic {
                username: "u".into(),
                password: "p".into()
            }
        );
        let err = auth("Bearer", "t", "u", "p", "bearer_token").expect_err("both");
        assert_eq!(
            err.to_string(),
            "set either `bearer_token` or `username`/`password`, not both"
        );
        assert!(auth("Bearer", "", "", "p", "bearer_token").is_err());
    }

    #[test]
    fn urls_must_be_http() {
        assert!(parse_url("http://localhost:8086/write?db=x").is_ok());
        let err = parse_url("localhost:8086")
            .expect_err("no scheme")
            .to_string();
        assert!(err.contains("http or https"), "{err}");
        assert!(parse_url("not a url").is_err());
    }
}
