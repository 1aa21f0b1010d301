//! Feishu and Lark custom bots (`feishu_configs`, Argus's own kind).
//!
//! A bot is `https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN` (Lark:
//! `open.larksuite.com`). One with signature verification also needs `timestamp` (unix
//! seconds, as a string) and `sign` = base64(HMAC-SHA256(key = timestamp + "\n" +
//! secret, message = empty)) in the body, not URL-encoded. Messages are an
//! `interactive` card (a coloured header and a `lark_md` body), a `post` (title and
//! lines) or `text`. Feishu answers `{"code": 0, …}`; failures carry another code, with
//! HTTP 200 or 400.

use argus_notify::{IntegrationKind as Kind, Secret, config::FeishuConfig};
use base64::Engine as _;
use reqwest::Url;
use serde_json::json;

use super::http::{ALERTMANAGER_USER_AGENT, HttpClient, parse_url};
use crate::{
    deliver::{Attempt, AttemptError, Delivered, Reason},
    kind::ConfigError,
    message::truncate_bytes,
};

/// The hook base; the token is the next path segment.
pub const DEFAULT_API_URL: &str = "https://open.feishu.cn/open-apis/bot/v2/hook/";

/// Feishu's custom-bot guide caps a request body at 20 KB; the text is cut to leave
/// room for the title and the JSON around it.
pub const MAX_TEXT_BYTES: usize = 18 * 1024;

/// Codes that mean a rate limit: 11232 (messages per bot and tenant) and 99991400
/// (requests per app). From Feishu's published error lists; not checked against the
/// service.
const RATE_LIMITED: [i64; 2] = [11232, 99_991_400];

/// Feishu's signature for `timestamp_s`.
pub fn sign(secret: &str, timestamp_s: i64) -> String {
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA256,
        format!("{timestamp_s}\n{secret}").as_bytes(),
    );
    let tag = ring::hmac::sign(&key, b"");
    base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
}

#[derive(Debug, Clone)]
pub(crate) struct Feishu {
    cfg: FeishuConfig,
    url: Url,
    client: HttpClient,
}

impl Feishu {
    pub fn new(c: &FeishuConfig) -> Result<Self, ConfigError> {
        let base = c.api_url.as_ref().map_or(DEFAULT_API_URL, Secret::expose);
        let url = if c.token.is_empty() {
            if base == DEFAULT_API_URL {
                return Err(ConfigError {
                    kind: Kind::Feishu,
                    field: "token",
                    reason: "required (or the whole hook URL as api_url)".into(),
                });
            }
            base.to_owned()
        } else {
            format!("{}/{}", base.trim_end_matches('/'), c.token.expose())
        };
        if !["interactive", "post", "text"].contains(&c.message_type.as_str()) {
            return Err(ConfigError {
                kind: Kind::Feishu,
                field: "message_type",
                reason: format!("{:?} is not interactive, post or text", c.message_type),
            });
        }
        Ok(Feishu {
            url: parse_url(Kind::Feishu, "api_url", &url)?,
            client: HttpClient::new(Kind::Feishu, c.http_config.as_ref())?,
            cfg: c.clone(),
        })
    }

    /// The JSON posted (`title` and `message` rendered), signed with the attempt's time
    /// when the bot has a secret.
    pub fn payload(&self, a: &Attempt<'_>) -> Result<serde_json::Value, AttemptError> {
        let n = a.notification;
        let title = a.text(&self.cfg.title)?;
        let (text, _) = truncate_bytes(&a.text(&self.cfg.message)?, MAX_TEXT_BYTES);
        let mut body = match self.cfg.message_type.as_str() {
            "post" => {
                let lines: Vec<serde_json::Value> = text
                    .lines()
                    .map(|l| json!([{"tag": "text", "text": l}]))
                    .collect();
                json!({"msg_type": "post", "content": {"post": {"zh_cn": {
                    "title": title, "content": lines,
                }}}})
            }
            "text" => json!({"msg_type": "text", "content": {"text": text}}),
            _ => {
                let colour = if n.is_firing() { "red" } else { "green" };
                json!({"msg_type": "interactive", "card": {
                    "config": {"wide_screen_mode": true},
                    "header": {"title": {"tag": "plain_text", "content": title}, "template": colour},
                    "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": text}}],
                }})
            }
        };
        if let (Some(secret), Some(obj)) = (&self.cfg.secret, body.as_object_mut()) {
            let ts = a.now.as_second();
            obj.insert("timestamp".into(), json!(ts.to_string()));
            obj.insert("sign".into(), json!(sign(secret.expose(), ts)));
        }
        Ok(body)
    }

    pub async fn attempt(&self, a: Attempt<'_>) -> Result<Delivered, AttemptError> {
        let body = serde_json::to_vec(&self.payload(&a)?)
            .map_err(|e| AttemptError::new(Reason::Invalid, e.to_string()))?;
        let reply = self
            .client
            .post_json(&self.url, body, ALERTMANAGER_USER_AGENT, a.timeout)
            .await?;
        if reply.status >= 500 || reply.status == 429 {
            reply.check_status()?;
        }
        // Feishu puts its verdict in the body on 200 and 400 alike; the code says more
        // than the status. Older hooks answer {"StatusCode": 0, "StatusMessage": …}.
        let v: Option<serde_json::Value> = serde_json::from_slice(&reply.body).ok();
        let code = v.as_ref().and_then(|v| {
            v.get("code")
                .or_else(|| v.get("StatusCode"))
                .and_then(serde_json::Value::as_i64)
        });
        match code {
            Some(0) => reply.check_status()?,
            Some(code) => {
                let msg = v
                    .as_ref()
                    .and_then(|v| v.get("msg").or_else(|| v.get("StatusMessage")))
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("");
                let e = AttemptError::new(Reason::Rejected, format!("feishu: code {code}: {msg}"))
                    .status(reply.status);
                return Err(if RATE_LIMITED.contains(&code) {
                    e.retryable()
                } else {
                    e
                });
            }
            None => {
                reply.check_status()?;
                return Err(AttemptError::new(
                    Reason::Rejected,
                    format!("feishu: reply has no code: {}", reply.snippet()),
                )
                .status(reply.status));
            }
        }
        Ok(Delivered {
            status: Some(reply.status),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_matches_an_independent_hmac() {
        // Python: b64encode(hmac.new(f"{ts}\n{s}".encode(), b"", sha256).digest()).
        assert_eq!(
            sign("SECtestsecret", 1_700_000_000),
            "qctwDqaazOo8xxU2d5mAVhFAk6TEeaDHQUh0YMWFIL8="
        );
    }
}
