//! Slack (`slack_configs`): an incoming webhook, posted one attachment the way
//! Alertmanager's Slack integration builds it (title, title link, text, a red or green
//! bar, mrkdwn).
//!
//! An incoming webhook answers `200 ok` or a 4xx with a reason in text
//! (`invalid_payload`, `no_text`); `chat.postMessage` answers 200 with `{"ok": false,
//! "error": …}`, which fails too (retried when the error is `ratelimited`).

use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::http::{ALERTMANAGER_USER_AGENT, HttpClient, parse_url};
use crate::{
    config::{HttpConfig, Secret},
    deliver::{Attempt, AttemptError, Delivered, Reason},
    kind::ConfigError,
    kind::Kind,
    message::{Markup, default_text, default_title, truncate_chars},
    notification::Status,
};

/// Slack cuts longer attachment titles; Alertmanager cuts at the same length.
const MAX_TITLE_CHARS: usize = 1024;

/// `slack_configs` entry. `title` and `text`, when given, are used as they are (this
/// crate renders no templates); a `Message` from the caller overrides them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// Whether resolved alerts are sent (default false, as Alertmanager).
    #[serde(default)]
    pub send_resolved: bool,
    /// The incoming webhook URL (it holds the token).
    pub api_url: Secret,
    /// The channel (`#ops`) or user (`@ann`) to post to, when not the webhook's own.
    #[serde(default)]
    pub channel: Option<String>,
    /// The name shown as the sender.
    #[serde(default)]
    pub username: Option<String>,
    /// An emoji as the sender's picture (`:rotating_light:`).
    #[serde(default)]
    pub icon_emoji: Option<String>,
    /// An image URL as the sender's picture.
    #[serde(default)]
    pub icon_url: Option<String>,
    /// The attachment's title, instead of the default subject.
    #[serde(default)]
    pub title: Option<String>,
    /// Where the title links to; default the notification's `externalURL`.
    #[serde(default)]
    pub title_link: Option<String>,
    /// The attachment's text, instead of the alert list.
    #[serde(default)]
    pub text: Option<String>,
    /// Authentication, TLS and proxy.
    #[serde(default)]
    pub http_config: HttpConfig,
}

#[derive(Debug, Clone)]
pub(crate) struct Slack {
    cfg: SlackConfig,
    url: Url,
    client: HttpClient,
}

impl Slack {
    pub fn new(c: &SlackConfig) -> Result<Self, ConfigError> {
        Ok(Slack {
            url: parse_url(Kind::Slack, "api_url", c.api_url.expose())?,
            client: HttpClient::new(Kind::Slack, &c.http_config)?,
            cfg: c.clone(),
        })
    }

    /// The JSON posted for a notification.
    pub fn payload(&self, a: &Attempt<'_>) -> serde_json::Value {
        let n = a.notification;
        let title = a
            .message
            .title
            .clone()
            .or_else(|| self.cfg.title.clone())
            .unwrap_or_else(|| default_title(n));
        let (title, _) = truncate_chars(&title, MAX_TITLE_CHARS);
        let text = a
            .message
            .text
            .clone()
            .or_else(|| self.cfg.text.clone())
            .unwrap_or_else(|| default_text(n, Markup::Slack));
        let title_link = self
            .cfg
            .title_link
            .clone()
            .unwrap_or_else(|| n.external_url.clone());
        let color = match n.status {
            Status::Firing => "danger",
            Status::Resolved => "good",
        };
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
            ("channel", &self.cfg.channel),
            ("username", &self.cfg.username),
            ("icon_emoji", &self.cfg.icon_emoji),
            ("icon_url", &self.cfg.icon_url),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
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
