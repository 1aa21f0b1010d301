//! WeCom (WeChat Work) group robots (`wecom_configs`, Argus's own kind; Alertmanager's
//! `wechat_configs` is WeCom's application API, a different thing).
//!
//! A robot is `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K`, unsigned. It
//! takes `text` (at most 2048 bytes, with mention lists) or `markdown` (at most 4096
//! bytes) and answers `{"errcode": 0, "errmsg": "ok"}`; longer content is cut here,
//! since WeCom refuses it whole.

use argus_notify::{IntegrationKind as Kind, Secret, config::WecomConfig};
use reqwest::Url;
use serde_json::json;

use super::{
    dingtalk::check_errcode,
    http::{ALERTMANAGER_USER_AGENT, HttpClient, has_query, parse_url},
};
use crate::{
    deliver::{Attempt, AttemptError, Delivered, Reason},
    kind::ConfigError,
    message::truncate_bytes,
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

#[derive(Debug, Clone)]
pub(crate) struct Wecom {
    cfg: WecomConfig,
    url: Url,
    client: HttpClient,
}

impl Wecom {
    pub fn new(c: &WecomConfig) -> Result<Self, ConfigError> {
        let api_url = c.api_url.as_ref().map_or(DEFAULT_API_URL, Secret::expose);
        let mut url = parse_url(Kind::Wecom, "api_url", api_url)?;
        if !c.key.is_empty() {
            url.query_pairs_mut().append_pair("key", c.key.expose());
        } else if !has_query(&url, "key") {
            return Err(ConfigError {
                kind: Kind::Wecom,
                field: "key",
                reason: "required (or the whole robot URL as api_url)".into(),
            });
        }
        if c.message_type != "markdown" && c.message_type != "text" {
            return Err(ConfigError {
                kind: Kind::Wecom,
                field: "message_type",
                reason: format!("{:?} is not markdown or text", c.message_type),
            });
        }
        Ok(Wecom {
            url,
            client: HttpClient::new(Kind::Wecom, c.http_config.as_ref())?,
            cfg: c.clone(),
        })
    }

    /// The JSON posted: `message` rendered and cut to WeCom's limit.
    pub fn payload(&self, a: &Attempt<'_>) -> Result<serde_json::Value, AttemptError> {
        let content = a.text(&self.cfg.message)?;
        if self.cfg.message_type == "text" {
            let (content, _) = truncate_bytes(&content, MAX_TEXT_BYTES);
            return Ok(json!({"msgtype": "text", "text": {
                "content": content,
                "mentioned_list": self.cfg.mentioned_list,
                "mentioned_mobile_list": self.cfg.mentioned_mobile_list,
            }}));
        }
        let (content, _) = truncate_bytes(&content, MAX_MARKDOWN_BYTES);
        Ok(json!({"msgtype": "markdown", "markdown": {"content": content}}))
    }

    pub async fn attempt(&self, a: Attempt<'_>) -> Result<Delivered, AttemptError> {
        let body = serde_json::to_vec(&self.payload(&a)?)
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
