//! The `http` input: probes one HTTP(S) URL per instance, as Telegraf's `http_response`.
//!
//! A **probe** is one request on a fresh connection, bounded by `response_timeout_ms`: it
//! reports whether and how the server answered (status code, time to the response head,
//! body length), whether the body matched `response_string_match`, and for `https` how
//! many days the server's certificate has left. A failed probe is a point with a
//! `result_code`, not a failed round, so that alerts can fire on it. The client lives in
//! [`client`] (shared with the `prometheus` input) and the certificate's expiry is read by
//! [`x509`].

pub mod client;
pub mod x509;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use argus_core::line_protocol::Line;
use regex::bytes::Regex;
use url::Url;

use self::client::{Client, Error, Request, TlsOptions};
use super::{Field, Tag, float, point, tag, uint};
use crate::input::Input;
use crate::inputs::common::input_config;

/// The commented-out example `[[agent.inputs.http]]` table.
pub const SAMPLE_CONFIG: &str = include_str!("sample.toml");

input_config! {
    /// One `[[agent.inputs.http]]` table: one URL to probe.
    instance "http" Config {
        /// The `http://` or `https://` URL to request.
        url: String = String::new(),
        /// The request method.
        method: String = "GET".to_string(),
        /// Extra request headers, e.g. `Authorization`.
        headers: BTreeMap<String, String> = BTreeMap::new(),
        /// The request body; empty: none.
        body: String = String::new(),
        /// Whether to follow redirects (up to 10); off, a redirect is the answer.
        follow_redirects: bool = false,
        /// Milliseconds the whole exchange may take, from name resolution to the body's end.
        response_timeout_ms: u64 = 5000,
        /// A regular expression the body must match (`result_code` 1 when it does not);
        /// empty: the body is not checked.
        response_string_match: String = String::new(),
        /// The status code the response must have (`result_code` 6 when it has not); 0: any.
        response_status_code: u16 = 0,
        /// Bytes of body read at most; a longer body is `result_code` 2.
        response_body_max_bytes: u64 = 1024 * 1024,
        /// Accept any server certificate (self-signed, expired, another name).
        insecure_skip_verify: bool = false,
        /// A PEM file of CA certificates to trust instead of the system's; empty: the
        /// system's.
        tls_ca: PathBuf = PathBuf::new(),
    }
}

/// `result_code` values, as Telegraf's `http_response` numbers them.
pub mod result {
    pub const SUCCESS: u64 = 0;
    pub const RESPONSE_STRING_MISMATCH: u64 = 1;
    pub const BODY_READ_ERROR: u64 = 2;
    pub const CONNECTION_FAILED: u64 = 3;
    pub const TIMEOUT: u64 = 4;
    pub const DNS_ERROR: u64 = 5;
    pub const RESPONSE_STATUS_CODE_MISMATCH: u64 = 6;
}

/// The `http` input; see the module docs.
#[derive(Debug)]
pub struct Http {
    url: Url,
    method: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    follow_redirects: bool,
    timeout: Duration,
    string_match: Option<Regex>,
    status_code: Option<u16>,
    max_body: u64,
    client: Client,
    /// The `server` tag: the URL as configured.
    server: String,
}

impl Http {
    /// Builds the input; a bad URL, method, header or pattern is an error.
    pub(crate) fn new(config: &Config) -> anyhow::Result<Self> {
        let url = parse_url(&config.url)?;
        let method = config.method.trim().to_ascii_uppercase();
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
            anyhow::bail!("method: {:?} is not an HTTP method", config.method);
        }
        let mut headers = Vec::with_capacity(config.headers.len());
        for (name, value) in &config.headers {
            client::check_header(name, value).map_err(|e| anyhow::anyhow!("headers: {e}"))?;
            headers.push((name.clone(), value.clone()));
        }
        let string_match = match config.response_string_match.as_str() {
            "" => None,
            pattern => Some(
                Regex::new(pattern).map_err(|e| anyhow::anyhow!("response_string_match: {e}"))?,
            ),
        };
        let timeout = client::limit_ms("response_timeout_ms", config.response_timeout_ms)?;
        let mut client = Client::new(
            TlsOptions {
                insecure_skip_verify: config.insecure_skip_verify,
                ca_file: config.tls_ca.clone(),
            },
            "*/*",
        );
        client.check_tls().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Http {
            url,
            method,
            headers,
            body: config.body.as_bytes().to_vec(),
            follow_redirects: config.follow_redirects,
            timeout,
            string_match,
            status_code: (config.response_status_code != 0).then_some(config.response_status_code),
            max_body: config.response_body_max_bytes,
            client,
            server: config.url.clone(),
        })
    }

    /// One probe: its tags and fields.
    fn probe(&mut self, now_ms: i64) -> (Vec<Tag>, Vec<Field>) {
        let mut tags = vec![
            tag("server", self.server.clone()),
            tag("method", self.method.clone()),
        ];
        let start = Instant::now();
        let request = Request {
            method: &self.method,
            url: self.url.clone(),
            headers: &self.headers,
            body: &self.body,
        };
        let mut response =
            match self
                .client
                .fetch(&request, self.follow_redirects, start + self.timeout)
            {
                Ok(response) => response,
                Err(e) => {
                    tracing::debug!(url = %self.server, error = %e, "http probe failed");
                    return (tags, vec![uint("result_code", failure_code(&e))]);
                }
            };
        let response_time = start.elapsed().as_secs_f64();
        tags.push(tag("status_code", response.status.to_string()));

        // The body is only kept when it is to be matched; otherwise it is counted.
        let mut kept = Vec::new();
        let mut chunk = [0u8; 8192];
        let mut length: u64 = 0;
        let mut code = result::SUCCESS;
        loop {
            match response.body.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    length += n as u64;
                    if length > self.max_body {
                        tracing::debug!(url = %self.server, max = self.max_body, "http body too long");
                        code = result::BODY_READ_ERROR;
                        break;
                    }
                    if self.string_match.is_some() {
                        kept.extend_from_slice(&chunk[..n]);
                    }
                }
                Err(e) => {
                    tracing::debug!(url = %self.server, error = %e, "http body read failed");
                    code = result::BODY_READ_ERROR;
                    break;
                }
            }
        }

        let mut fields = vec![
            uint("http_response_code", u64::from(response.status)),
            float("response_time", response_time),
        ];
        if code == result::SUCCESS {
            fields.push(uint("content_length", length));
        }
        if let Some(pattern) = &self.string_match {
            let matched = code == result::SUCCESS && pattern.is_match(&kept);
            fields.push(uint("response_string_match", u64::from(matched)));
            if !matched && code == result::SUCCESS {
                code = result::RESPONSE_STRING_MISMATCH;
            }
        }
        if let Some(want) = self.status_code {
            let matched = response.status == want;
            fields.push(uint("response_status_code_match", u64::from(matched)));
            if !matched && code == result::SUCCESS {
                code = result::RESPONSE_STATUS_CODE_MISMATCH;
            }
        }
        if let Some(not_after) = response.cert_not_after {
            let left_ms = not_after.saturating_mul(1000).saturating_sub(now_ms);
            fields.push(float("tls_cert_days_left", left_ms as f64 / 86_400_000.0));
        }
        fields.insert(0, uint("result_code", code));
        (tags, fields)
    }
}

impl Input for Http {
    fn name(&self) -> &str {
        "http"
    }

    fn gather(&mut self, now_ms: i64, out: &mut Vec<Line<'static>>) -> anyhow::Result<()> {
        let (tags, fields) = self.probe(now_ms);
        out.push(point("http_response", tags, fields, now_ms));
        Ok(())
    }
}

/// The `result_code` of an exchange that produced no response.
fn failure_code(e: &Error) -> u64 {
    match e {
        _ if e.is_timeout() => result::TIMEOUT,
        Error::Resolve(_) => result::DNS_ERROR,
        _ => result::CONNECTION_FAILED,
    }
}

/// Parses a configured `url`: `http` or `https`, with a host, without credentials (which
/// would silently not be sent: set an `Authorization` header instead).
pub fn parse_url(text: &str) -> anyhow::Result<Url> {
    if text.is_empty() {
        anyhow::bail!("url: required");
    }
    let url = Url::parse(text).map_err(|e| anyhow::anyhow!("url {text:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        anyhow::bail!("url {text:?}: only http:// and https:// are supported");
    }
    if url.host().is_none() {
        anyhow::bail!("url {text:?}: no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        anyhow::bail!(
            "url {text:?}: credentials in the URL are not sent; set an Authorization header in `headers`"
        );
    }
    Ok(url)
}

#[cfg(test)]
pub(super) mod tests;
