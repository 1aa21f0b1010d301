//! Alertmanager's webhook (`webhook_configs`): the notification POSTed as the version 4
//! JSON payload, byte for byte as Alertmanager 0.25 sends it, so receivers written for
//! Alertmanager work unchanged.

use reqwest::Url;
use serde::{Deserialize, Serialize};

use super::http::{ALERTMANAGER_USER_AGENT, HttpClient, parse_url};
use crate::{
    config::{HttpConfig, yes},
    deliver::{Attempt, AttemptError, Delivered},
    kind::ConfigError,
    kind::Kind,
};

/// `webhook_configs` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Whether resolved alerts are sent (default true).
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// Where to POST.
    pub url: String,
    /// At most this many alerts a message (0 = all); the rest are counted in
    /// `truncatedAlerts`.
    #[serde(default)]
    pub max_alerts: u64,
    /// Authentication, TLS and proxy.
    #[serde(default)]
    pub http_config: HttpConfig,
}

#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    url: Url,
    max_alerts: u64,
    client: HttpClient,
}

impl Webhook {
    pub fn new(c: &WebhookConfig) -> Result<Self, ConfigError> {
        Ok(Webhook {
            url: parse_url(Kind::Webhook, "url", &c.url)?,
            max_alerts: c.max_alerts,
            client: HttpClient::new(Kind::Webhook, &c.http_config)?,
        })
    }

    pub async fn attempt(&self, a: Attempt<'_>) -> Result<Delivered, AttemptError> {
        let body = a.notification.truncated(self.max_alerts).webhook_body();
        let reply = self
            .client
            .post_json(&self.url, body, ALERTMANAGER_USER_AGENT, a.timeout)
            .await?;
        reply.check_status()?;
        Ok(Delivered {
            status: Some(reply.status),
        })
    }
}
