//! Alertmanager's webhook (`webhook_configs`): the notification POSTed as the version 4
//! JSON payload, byte for byte as Alertmanager 0.25 sends it, so receivers written for
//! Alertmanager work unchanged.

use argus_notify::{IntegrationKind as Kind, config::WebhookConfig};
use reqwest::Url;

use super::http::{ALERTMANAGER_USER_AGENT, HttpClient, parse_url};
use crate::{
    deliver::{Attempt, AttemptError, Delivered},
    kind::ConfigError,
};

#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    url: Url,
    max_alerts: u64,
    client: HttpClient,
}

impl Webhook {
    pub fn new(c: &WebhookConfig) -> Result<Self, ConfigError> {
        Ok(Webhook {
            url: parse_url(Kind::Webhook, "url", c.url.as_deref().unwrap_or(""))?,
            max_alerts: c.max_alerts,
            client: HttpClient::new(Kind::Webhook, c.http_config.as_ref())?,
        })
    }

    pub async fn attempt(&self, a: Attempt<'_>) -> Result<Delivered, AttemptError> {
        let body = a.notification.webhook_body(self.max_alerts).into_bytes();
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
