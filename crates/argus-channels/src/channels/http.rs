//! The HTTP client every HTTP channel posts through, and how a reply becomes a
//! delivered message, a failure to retry, or a failure to report.
//!
//! Alertmanager's rule for a reply's status: 2xx delivered, 5xx retried, anything else
//! fails at once since sending the same request again would get the same answer. Argus
//! also retries 429, honouring `Retry-After`, because a rate limit passes. Error texts
//! never carry the URL: chat services put their token in it.

use std::time::Duration;

use reqwest::{
    Client, Url,
    header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT},
};

use argus_notify::{IntegrationKind as Kind, Secret, config::HttpConfig};

use crate::{
    deliver::{AttemptError, Reason},
    kind::ConfigError,
};

/// What Alertmanager 0.25 sends as `User-Agent`; receivers written for it may check it.
pub const ALERTMANAGER_USER_AGENT: &str = "Alertmanager/0.25.0";

/// At most this much of a reply is read: enough for any service's error JSON.
const MAX_REPLY_BYTES: usize = 64 * 1024;

/// A configured client: TLS, proxy, redirects and the authorization header.
#[derive(Debug, Clone)]
pub(crate) struct HttpClient {
    client: Client,
    authorization: Option<HeaderValue>,
}

/// A reply's status, `Retry-After` and (the first 64 KiB of) its body.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as text, cut to 200 characters, for an error message.
    pub fn snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        let mut s: String = text.chars().take(200).collect();
        if text.chars().count() > 200 {
            s.push('…');
        }
        s
    }

    /// Alertmanager's rule: 2xx delivered; 5xx and 429 retried; others fail now.
    pub fn check_status(&self) -> Result<(), AttemptError> {
        if (200..300).contains(&self.status) {
            return Ok(());
        }
        let mut e = AttemptError::new(
            Reason::Status,
            format!("unexpected status code {}: {}", self.status, self.snippet()),
        )
        .status(self.status);
        if self.status >= 500 || self.status == 429 {
            e = e.retryable().retry_after(self.retry_after);
        }
        Err(e)
    }
}

impl HttpClient {
    /// A client for `cfg` (the integration's `http_config`, or the global one it took;
    /// `None`: Prometheus's defaults).
    pub fn new(kind: Kind, cfg: Option<&HttpConfig>) -> Result<Self, ConfigError> {
        // reqwest is built without a default TLS provider; ring is what the workspace
        // uses. Installing fails only when the binary installed one first, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let default = HttpConfig::default();
        let cfg = cfg.unwrap_or(&default);
        let err = |field: &'static str, reason: String| ConfigError {
            kind,
            field,
            reason,
        };
        let unsupported = [
            (cfg.oauth2.is_some(), "http_config.oauth2"),
            (!cfg.no_proxy.is_empty(), "http_config.no_proxy"),
            (
                cfg.proxy_from_environment,
                "http_config.proxy_from_environment",
            ),
            (
                cfg.proxy_connect_header.is_some(),
                "http_config.proxy_connect_header",
            ),
        ];
        if let Some((_, field)) = unsupported.iter().find(|(set, _)| *set) {
            return Err(err(field, "not supported by Argus yet".into()));
        }
        let bearer_file = !cfg.bearer_token_file.is_empty();
        let set = [
            cfg.basic_auth.is_some(),
            cfg.authorization.is_some(),
            cfg.bearer_token.is_some() || bearer_file,
        ];
        if set.iter().filter(|s| **s).count() > 1 {
            return Err(err(
                "http_config",
                "at most one of basic_auth, authorization and bearer_token may be set".into(),
            ));
        }
        let credentials = if let Some(b) = &cfg.basic_auth {
            let password = secret_or_file(
                &b.password,
                &b.password_file,
                kind,
                "http_config.basic_auth.password_file",
            )?;
            Some(basic(&b.username, &password))
        } else if let Some(a) = &cfg.authorization {
            if a.kind.eq_ignore_ascii_case("basic") {
                return Err(err(
                    "http_config.authorization.type",
                    "use basic_auth for Basic authorization".into(),
                ));
            }
            let credentials = secret_or_file(
                &a.credentials,
                &a.credentials_file,
                kind,
                "http_config.authorization.credentials_file",
            )?;
            Some(format!("{} {}", a.kind, credentials.expose()))
        } else if cfg.bearer_token.is_some() || bearer_file {
            let token = secret_or_file(
                &cfg.bearer_token.clone().unwrap_or_default(),
                &cfg.bearer_token_file,
                kind,
                "http_config.bearer_token_file",
            )?;
            Some(format!("Bearer {}", token.expose()))
        } else {
            None
        };
        let authorization = match credentials {
            Some(c) => {
                let mut v = HeaderValue::from_str(&c).map_err(|_| {
                    err(
                        "http_config",
                        "credentials hold characters not allowed in a header".into(),
                    )
                })?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };

        let mut b = Client::builder();
        b = if cfg.proxy_url.is_empty() {
            b.no_proxy()
        } else {
            b.proxy(
                reqwest::Proxy::all(&cfg.proxy_url)
                    .map_err(|e| err("http_config.proxy_url", e.without_url().to_string()))?,
            )
        };
        if !cfg.follow_redirects {
            b = b.redirect(reqwest::redirect::Policy::none());
        }
        if let Some(tls) = &cfg.tls_config {
            if !tls.server_name.is_empty() {
                return Err(err(
                    "http_config.tls_config.server_name",
                    "not supported for HTTP channels; the URL's host is the name checked".into(),
                ));
            }
            if !tls.cert_file.is_empty() || !tls.key_file.is_empty() {
                return Err(err(
                    "http_config.tls_config.cert_file",
                    "client certificates are not supported by Argus yet".into(),
                ));
            }
            match tls.min_version.as_str() {
                // rustls never offers less than TLS 1.2.
                "" | "TLS10" | "TLS11" | "TLS12" => {}
                "TLS13" => b = b.tls_version_min(reqwest::tls::Version::TLS_1_3),
                other => {
                    return Err(err(
                        "http_config.tls_config.min_version",
                        format!("unknown TLS version {other:?} (TLS10, TLS11, TLS12, TLS13)"),
                    ));
                }
            }
            if !tls.ca_file.is_empty() {
                let path = &tls.ca_file;
                let pem = std::fs::read(path)
                    .map_err(|e| err("http_config.tls_config.ca_file", format!("{path}: {e}")))?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| err("http_config.tls_config.ca_file", format!("{path}: {e}")))?;
                b = b.tls_certs_merge(certs);
            }
            if tls.insecure_skip_verify {
                b = b.tls_danger_accept_invalid_certs(true);
            }
        }
        let client = b
            .build()
            .map_err(|e| err("http_config", e.without_url().to_string()))?;
        Ok(HttpClient {
            client,
            authorization,
        })
    }

    /// POSTs `body` as JSON, within `timeout`, and reads the reply.
    pub async fn post_json(
        &self,
        url: &Url,
        body: Vec<u8>,
        user_agent: &str,
        timeout: Duration,
    ) -> Result<Reply, AttemptError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(ua) = HeaderValue::from_str(user_agent) {
            headers.insert(USER_AGENT, ua);
        }
        if let Some(a) = &self.authorization {
            headers.insert(AUTHORIZATION, a.clone());
        }
        let send = async {
            let mut resp = self
                .client
                .post(url.clone())
                .headers(headers)
                .body(body)
                .send()
                .await?;
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await? {
                let room = MAX_REPLY_BYTES - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= MAX_REPLY_BYTES {
                    break;
                }
            }
            Ok::<_, reqwest::Error>(Reply {
                status,
                retry_after,
                body,
            })
        };
        match tokio::time::timeout(timeout, send).await {
            Err(_) => Err(AttemptError::timeout(timeout)),
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => Err(request_error(e)),
        }
    }
}

/// A failed request: retried, since a refused connection, a reset or a DNS failure may
/// pass, and Alertmanager retries them too; but not a TLS failure (an untrusted or
/// expired certificate, a wrong name), which stays until someone changes a setting.
fn request_error(e: reqwest::Error) -> AttemptError {
    let e = e.without_url();
    if is_tls_failure(&e) {
        return AttemptError::new(Reason::Tls, error_chain(&e));
    }
    if e.is_timeout() {
        return AttemptError::new(Reason::Timeout, error_chain(&e)).retryable();
    }
    AttemptError::new(Reason::Network, error_chain(&e)).retryable()
}

/// Whether rustls refused the connection (certificate, name, protocol), somewhere in
/// the error's sources: reqwest and lettre both wrap it, lettre inside an `io::Error`.
pub(crate) fn is_tls_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if err.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>())
        {
            return true;
        }
        next = err.source();
    }
    false
}

/// An error and its sources on one line (`error sending request: connection refused`).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = inner.source();
    }
    s
}

/// A secret given inline or, when `file` is set, read from that file (its final newline
/// dropped), as Prometheus's `*_file` keys are read.
pub(crate) fn secret_or_file(
    inline: &Secret,
    file: &str,
    kind: Kind,
    field: &'static str,
) -> Result<Secret, ConfigError> {
    if file.is_empty() {
        return Ok(inline.clone());
    }
    let text = std::fs::read_to_string(file).map_err(|e| ConfigError {
        kind,
        field,
        reason: format!("{file}: {e}"),
    })?;
    Ok(Secret::new(text.trim_end_matches(['\r', '\n'])))
}

fn basic(user: &str, password: &Secret) -> String {
    use base64::Engine as _;
    let raw = format!("{user}:{}", password.expose());
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// Parses a configured URL, naming the field when it is not an http(s) URL.
pub(crate) fn parse_url(kind: Kind, field: &'static str, s: &str) -> Result<Url, ConfigError> {
    let err = |reason: String| ConfigError {
        kind,
        field,
        reason,
    };
    if s.is_empty() {
        return Err(err("required".into()));
    }
    // The text of a URL error may hold the URL, and with it a token; say only why.
    let url = Url::parse(s).map_err(|e| err(format!("not a URL: {e}")))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(err(format!(
            "scheme {:?} is not http or https",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(err("the URL has no host".into()));
    }
    Ok(url)
}

/// Whether the URL already carries the query parameter `name` with a value.
pub(crate) fn has_query(url: &Url, name: &str) -> bool {
    url.query_pairs().any(|(k, v)| k == name && !v.is_empty())
}
