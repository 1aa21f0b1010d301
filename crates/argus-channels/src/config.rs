//! Configuration shared by the channels: secrets, HTTP client settings (Prometheus's
//! `http_config`: basic auth, bearer authorization, TLS, proxy) and TLS settings.
//!
//! Names follow Prometheus and Alertmanager so a receiver block copied from an
//! `alertmanager.yml` reads the same; keys this crate does not implement are errors
//! (`deny_unknown_fields`) rather than silently ignored settings.

use std::{fmt, path::PathBuf, time::Duration};

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// A value that is never printed (passwords, tokens, signing secrets, URLs holding a
/// token): `Debug` and serialization show `<secret>`, as Alertmanager shows its secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The value itself, for the code that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty (not configured).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "<secret>"
        })
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.0.is_empty() { "" } else { "<secret>" })
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_owned())
    }
}

/// Prometheus's `basic_auth`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// Password.
    #[serde(default)]
    pub password: Secret,
}

/// Prometheus's `authorization`: an `Authorization: <type> <credentials>` header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// The scheme, `Bearer` unless given.
    #[serde(rename = "type", default = "bearer")]
    pub kind: String,
    /// The token.
    #[serde(default)]
    pub credentials: Secret,
}

fn bearer() -> String {
    "Bearer".to_owned()
}

/// TLS settings of a connection (Prometheus's `tls_config`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of certificate authorities trusted besides the system's (a private CA,
    /// or a server's self-signed certificate).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The name the server's certificate must carry, when it is not the host connected
    /// to (email only).
    #[serde(default)]
    pub server_name: Option<String>,
    /// Accept any certificate: for tests and lab setups only, since it gives up the
    /// protection TLS is there for.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// How an HTTP channel's requests are made (Prometheus's `http_config`, the part
/// Alertmanager's receivers use).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `Authorization: Basic …`.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization: <type> <credentials>`.
    #[serde(default)]
    pub authorization: Option<Authorization>,
    /// The older spelling of a bearer `authorization`.
    #[serde(default)]
    pub bearer_token: Option<Secret>,
    /// TLS for `https://` URLs.
    #[serde(default)]
    pub tls_config: Option<TlsConfig>,
    /// An HTTP proxy to go through. Without one, requests go direct: the environment's
    /// `HTTP_PROXY` is not read, as in Prometheus and Alertmanager.
    #[serde(default)]
    pub proxy_url: Option<String>,
    /// Follow redirects (default true, as Prometheus).
    #[serde(default = "yes")]
    pub follow_redirects: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            basic_auth: None,
            authorization: None,
            bearer_token: None,
            tls_config: None,
            proxy_url: None,
            follow_redirects: true,
        }
    }
}

pub(crate) fn yes() -> bool {
    true
}

/// serde for durations written as `30s`, `1m30s`, `500ms`.
pub(crate) mod duration {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s)
            .map_err(|e| de::Error::custom(format!("duration {s:?}: {e} (write e.g. 30s, 1m)")))
    }
}
