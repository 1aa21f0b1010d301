//! Slack (`slack_configs`): an incoming webhook, posted one attachment the way
//! Alertmanager's Slack integration builds it (title, title link, text, a red or green
//! bar, mrkdwn).
//!
//! An incoming webhook answers `200 ok` or a 4xx with a reason in text
//! (`invalid_payload`, `no_text`); `chat.postMessage` answers 200 with `{"ok": false,
//! "error": …}`, which fails too (retried when the error is `ratelimited`).

use argus_notify::{IntegrationKind as Kind, config::SlackConfig};
use reqwest::Url;
use serde_json::json;

use super::http::{ALERTMANAGER_USER_AGENT, HttpClient, parse_url, secret_or_file};
use crate::{
    deliver::{Attempt, AttemptError, Delivered, Reason},
    kind::ConfigError,
    message::{Markup, default_text, default_title, given, truncate_chars},
};

/// Slack cuts longer attachment titles; Alertmanager cuts at the same length.
const MAX_TITLE_CHARS: usize = 1024;

#[derive(Debug, Clone)]
pub(crate) struct Slack {
    cfg: SlackConfig,
    url: Url,
    client: HttpClient,
}

impl Slack {
    pub fn new(c: &SlackConfig) -> Result<Self, ConfigError> {
        let api_url = secret_or_file(
            &c.api_url.clone().unwrap_or_default(),
            &c.api_url_file,
            Kind::Slack,
            "api_url_file",
        )?;
        Ok(Slack {
            url: parse_url(Kind::Slack, "api_url", api_url.expose().trim())?,
            client: HttpClient::new(Kind::Slack, c.http_config.as_ref())?,
            cfg: c.clone(),
        })
    }

    /// The JSON posted for a notification.
    pub fn payload(&self, a: &Attempt<'_>) -> serde_json::Value {
        let n = a.notification;
        let title = given(&self.cfg.title).unwrap_or_else(|| default_title(n));
        let (title, _) = truncate_chars(&title, MAX_TITLE_CHARS);
        let text = given(&self.cfg.text).unwrap_or_else(|| default_text(n, Markup::Slack));
        let title_link = given(&self.cfg.title_link).unwrap_or_else(|| n.external_url.clone());
        let color = if n.is_firing() { "danger" } else { "good" };
        let mut attachment = serde_json::Map::new();
        attachment.insert("title".into(), json!(title));
        if !title_link.is_empty() {
            attachment.insert("title_link".into(), json!(title_link));
        }
        attachment.insert("text".into(), json!(text));
        attachment.insert("fallback".into(), json!(title));
        attachment.insert("color".into(), json!(color));
        attachment.insert("mrkdwn_in".into(), json!(["fallback", "pretext", "text"]));
        let mut body = serde_json::Map::new();
        for (key, value) in [
            ("channel", Some(self.cfg.channel.clone())),
            ("username", given(&self.cfg.username)),
            ("icon_emoji", given(&self.cfg.icon_emoji)),
            ("icon_url", given(&self.cfg.icon_url)),
        ] {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                body.insert(key.into(), json!(v));
            }
        }
        body.insert("attachments".into(), json!([attachment]));
        serde_json::Value::Object(body)
    }

    pub async fn attempt(&self, a: Attempt<'_>) -> Result<Delivered, AttemptError> {
        let body = serde_json::to_vec(&self.payload(&a))
            .map_err(|e| AttemptError::new(Reason::Invalid, e.to_string()))?;
        let reply = self
            .client
            .post_json(&self.url, body, ALERTMANAGER_USER_AGENT, a.timeout)
            .await?;
        reply.check_status()?;
        // chat.postMessage and friends answer 200 with a JSON verdict; a webhook's "ok"
        // is not JSON and passes.
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&reply.body)
            && v.get("ok").and_then(serde_json::Value::as_bool) == Some(false)
        {
            let error = v
                .get("error")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("unknown error");
            let mut e =
                AttemptError::new(Reason::Rejected, format!("slack: {error}")).status(reply.status);
            if error == "ratelimited" {
                e = e.retryable();
            }
            return Err(e);
        }
        Ok(Delivered {
            status: Some(reply.status),
        })
    }
}
