//! `http_config` and `tls_config`: how an integration's requests are made, in
//! Prometheus's shape (`prometheus/common`'s `HTTPClientConfig` and `TLSConfig`, the
//! version Alertmanager 0.25 reads).
//!
//! Every key Prometheus defines is accepted, so a file written for Alertmanager loads as
//! it is; a key it does not define is an error naming it. Whether a channel can honour a
//! key (Argus has no OAuth 2 yet, nor client certificates) is the channel's to say when it
//! is built: such an integration fails its deliveries with the reason, and the rest of
//! the file works.

use serde::{Deserialize, Serialize};

use super::secret::Secret;
use crate::scalar;

fn yes() -> bool {
    true
}

/// Prometheus's `basic_auth`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    #[serde(default, deserialize_with = "scalar::string")]
    pub username: String,
    /// Password.
    #[serde(default)]
    pub password: Secret,
    /// A file holding the password, instead of `password`.
    #[serde(default, deserialize_with = "scalar::string")]
    pub password_file: String,
}

/// Prometheus's `authorization`: an `Authorization: <type> <credentials>` header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// The scheme, `Bearer` unless given.
    #[serde(
        rename = "type",
        default = "bearer",
        deserialize_with = "scalar::string"
    )]
    pub kind: String,
    /// The token.
    #[serde(default)]
    pub credentials: Secret,
    /// A file holding the token, instead of `credentials`.
    #[serde(default, deserialize_with = "scalar::string")]
    pub credentials_file: String,
}

fn bearer() -> String {
    "Bearer".to_owned()
}

/// TLS settings of a connection (Prometheus's `tls_config`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of certificate authorities trusted besides the built-in roots (a private
    /// CA, or a server's self-signed certificate).
    #[serde(default, deserialize_with = "scalar::string")]
    pub ca_file: String,
    /// A client certificate (PEM file); not supported by Argus's channels yet.
    #[serde(default, deserialize_with = "scalar::string")]
    pub cert_file: String,
    /// The client certificate's key (PEM file); not supported yet.
    #[serde(default, deserialize_with = "scalar::string")]
    pub key_file: String,
    /// The name the server's certificate must carry when it is not the host connected
    /// to (email only).
    #[serde(default, deserialize_with = "scalar::string")]
    pub server_name: String,
    /// Accept any certificate: for tests and lab setups only, since it gives up the
    /// protection TLS is there for.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// The lowest TLS version (`TLS10` … `TLS13`); below TLS 1.2 is never offered.
    #[serde(default, deserialize_with = "scalar::string")]
    pub min_version: String,
}

/// How an HTTP integration's requests are made (Prometheus's `http_config`). Without
/// one, an integration takes `global.http_config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `Authorization: Basic …`.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization: <type> <credentials>`.
    #[serde(default)]
    pub authorization: Option<Authorization>,
    /// OAuth 2 client credentials, kept as given: not supported by Argus's channels yet.
    #[serde(default)]
    pub oauth2: Option<serde_json::Value>,
    /// The older spelling of a bearer `authorization`.
    #[serde(default)]
    pub bearer_token: Option<Secret>,
    /// The bearer token read from a file.
    #[serde(default, deserialize_with = "scalar::string")]
    pub bearer_token_file: String,
    /// TLS for `https://` URLs.
    #[serde(default)]
    pub tls_config: Option<TlsConfig>,
    /// An HTTP proxy to go through. Without one, requests go direct: the environment's
    /// `HTTP_PROXY` is not read, as in Prometheus and Alertmanager.
    #[serde(default, deserialize_with = "scalar::string")]
    pub proxy_url: String,
    /// Hosts not to proxy; not supported yet.
    #[serde(default, deserialize_with = "scalar::string")]
    pub no_proxy: String,
    /// Take the proxy from the environment; not supported yet.
    #[serde(default)]
    pub proxy_from_environment: bool,
    /// Headers for the proxy's CONNECT; not supported yet.
    #[serde(default)]
    pub proxy_connect_header: Option<serde_json::Value>,
    /// Follow redirects (default true, as Prometheus).
    #[serde(default = "yes")]
    pub follow_redirects: bool,
    /// Allow HTTP/2 (default true); Argus's channels speak HTTP/1.1 either way.
    #[serde(default = "yes")]
    pub enable_http2: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            basic_auth: None,
            authorization: None,
            oauth2: None,
            bearer_token: None,
            bearer_token_file: String::new(),
            tls_config: None,
            proxy_url: String::new(),
            no_proxy: String::new(),
            proxy_from_environment: false,
            proxy_connect_header: None,
            follow_redirects: true,
            enable_http2: true,
        }
    }
}
