//! WeCom (WeChat Work) group robots (`wecom_configs`, Argus's own kind; Alertmanager's
//! `wechat_configs` is WeCom's application API, a different thing).
//!
//! A robot is `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K`, unsigned. It
//! takes `text` (at most 2048 bytes, with mention lists) or `markdown` (at most 4096
//! bytes) and answers `{"errcode": 0, "errmsg": "ok"}`; longer content is cut here,
//! since WeCom refuses it whole.

use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    dingtalk::check_errcode,
    http::{ALERTMANAGER_USER_AGENT, HttpClient, has_query, parse_url},
};
use crate::{
    config::{HttpConfig, Secret, yes},
    deliver::{Attempt, AttemptError, Delivered, Reason},
    kind::ConfigError,
    kind::Kind,
    message::{Markup, default_text, default_title, truncate_bytes},
};

/// The robot endpoint.
pub const DEFAULT_API_URL: &str = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send";

/// The largest `text.content`, in bytes of UTF-8.
pub const MAX_TEXT_BYTES: usize = 2048;
/// The largest `markdown.content`, in bytes of UTF-8.
pub const MAX_MARKDOWN_BYTES: usize = 4096;

/// `errcode` 45009: "api freq out of limit" (a robot sends at most 20 messages a
/// minute). From WeCom's published error list; not checked against the service.
const RATE_LIMITED: [i64; 1] = [45009];

/// `wecom_configs` entry. `message`, when given, is used as it is; a `Message` from the
/// caller overrides it (its title becomes the first line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WecomConfig {
    /// Whether resolved alerts are sent (default true).
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// The robot endpoint, default `https://qyapi.weixin.qq.com/cgi-bin/webhook/send`;
    /// may be the whole webhook URL, `key` included.
    #[serde(default = "default_api_url")]
    pub api_url: Secret,
    /// The robot's `key`, unless `api_url` holds it.
    #[serde(default)]
    pub key: Secret,
    /// `markdown` (default) or `text`.
    #[serde(default)]
    pub message_type: WecomMessageType,
    /// The message, instead of the default title and alert list.
    #[serde(default)]
    pub message: Option<String>,
    /// User ids to mention (`@all` for everyone); `text` messages only.
    #[serde(default)]
    pub mentioned_list: Vec<String>,
    /// Mobile numbers to mention; `text` messages only.
    #[serde(default)]
    pub mentioned_mobile_list: Vec<String>,
    /// TLS and proxy.
    #[serde(default)]
    pub http_config: HttpConfig,
}

fn default_api_url() -> Secret {
    Secret::new(DEFAULT_API_URL)
}

/// A WeCom robot message type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WecomMessageType {
    /// Markdown, up to 4096 bytes.
    #[default]
    Markdown,
    /// Plain text with mentions, up to 2048 bytes.
    Text,
}

#[derive(Debug, Clone)]
pub(crate) struct Wecom {
    cfg: WecomConfig,
    url: Url,
    client: HttpClient,
}

impl Wecom {
    pub fn new(c: &WecomConfig) -> Result<Self, ConfigError> {
        let mut url = parse_url(Kind::Wecom, "api_url", c.api_url.expose())?;
        if !c.key.is_empty() {
            url.query_pairs_mut().append_pair("key", c.key.expose());
        } else if !has_query(&url, "key") {
            return Err(ConfigError {
                kind: Kind::Wecom,
                field: "key",
                reason: "required (or the whole robot URL as api_url)".into(),
            });
        }
        Ok(Wecom {
            url,
            client: HttpClient::new(Kind::Wecom, &c.http_config)?,
            cfg: c.clone(),
        })
    }

    /// The JSON posted.
    pub fn payload(&self, a: &Attempt<'_>) -> serde_json::Value {
        let n = a.notification;
        let title = a.message.title.clone().unwrap_or_else(|| default_title(n));
        let given = a.message.text.clone().or_else(|| self.cfg.message.clone());
        match self.cfg.message_type {
            WecomMessageType::Markdown => {
                let content = given.unwrap_or_else(|| {
                    format!("**{title}**\n\n{}", default_text(n, Markup::Markdown))
                });
                let (content, _) = truncate_bytes(&content, MAX_MARKDOWN_BYTES);
                json!({"msgtype": "markdown", "markdown": {"content": content}})
            }
            WecomMessageType::Text => {
                let content = given
                    .unwrap_or_else(|| format!("{title}\n\n{}", default_text(n, Markup::Plain)));
                let (content, _) = truncate_bytes(&content, MAX_TEXT_BYTES);
                json!({"msgtype": "text", "text": {
                    "content": content,
                    "mentioned_list": self.cfg.mentioned_list,
                    "mentioned_mobile_list": self.cfg.mentioned_mobile_list,
                }})
            }
        }
    }

    pub async fn attempt(&self, a: Attempt<'_>) -> Result<Delivered, AttemptError> {
        let body = serde_json::to_vec(&self.payload(&a))
            .map_err(|e| AttemptError::new(Reason::Invalid, e.to_string()))?;
        let reply = self
            .client
            .post_json(&self.url, body, ALERTMANAGER_USER_AGENT, a.timeout)
            .await?;
        reply.check_status()?;
        check_errcode("wecom", &reply, &RATE_LIMITED)?;
        Ok(Delivered {
            status: Some(reply.status),
        })
    }
}
