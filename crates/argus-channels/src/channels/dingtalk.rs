//! DingTalk group robots (`dingtalk_configs`, Argus's own kind).
//!
//! A robot is `https://oapi.dingtalk.com/robot/send?access_token=T`. One with a signing
//! secret (`SEC…`) also needs `timestamp` (ms, within an hour of DingTalk's clock) and
//! `sign` = urlencode(base64(HMAC-SHA256(key = secret, message = timestamp + "\n" +
//! secret))) in the query. The body is a `markdown` message (title shown in the chat
//! list, text with the title as a heading) or a `text` one, with `at` for mentions.
//! DingTalk answers HTTP 200 to failures too, with `errcode` ≠ 0.

use argus_notify::{IntegrationKind as Kind, Secret, config::DingtalkConfig};
use base64::Engine as _;
use jiff::Timestamp;
use reqwest::Url;
use serde_json::json;

use super::http::{ALERTMANAGER_USER_AGENT, HttpClient, has_query, parse_url};
use crate::{
    deliver::{Attempt, AttemptError, Delivered, Reason},
    kind::ConfigError,
};

/// The robot endpoint.
pub const DEFAULT_API_URL: &str = "https://oapi.dingtalk.com/robot/send";

/// `errcode`s that mean "too many requests", so worth another attempt later: 130101 (a
/// robot sends at most 20 messages a minute) and the API-wide limits 90002, 90005, 90006
/// and 90018. From DingTalk's published error lists; not checked against the service.
const RATE_LIMITED: [i64; 5] = [130101, 90002, 90005, 90006, 90018];

/// DingTalk's signature for `timestamp_ms` (already URL-encoded, as the query wants it).
pub fn sign(secret: &str, timestamp_ms: i64) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, format!("{timestamp_ms}\n{secret}").as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(tag.as_ref());
    form_urlencoded::byte_serialize(b64.as_bytes()).collect()
}

#[derive(Debug, Clone)]
pub(crate) struct Dingtalk {
    cfg: DingtalkConfig,
    url: Url,
    client: HttpClient,
}

impl Dingtalk {
    pub fn new(c: &DingtalkConfig) -> Result<Self, ConfigError> {
        let api_url = c.api_url.as_ref().map_or(DEFAULT_API_URL, Secret::expose);
        let mut url = parse_url(Kind::Dingtalk, "api_url", api_url)?;
        if !c.access_token.is_empty() {
            url.query_pairs_mut()
                .append_pair("access_token", c.access_token.expose());
        } else if !has_query(&url, "access_token") {
            return Err(ConfigError {
                kind: Kind::Dingtalk,
                field: "access_token",
                reason: "required (or the whole robot URL as api_url)".into(),
            });
        }
        if c.secret.as_ref().is_some_and(Secret::is_empty) {
            return Err(ConfigError {
                kind: Kind::Dingtalk,
                field: "secret",
                reason: "empty; leave it out for a robot without signing".into(),
            });
        }
        if c.message_type != "markdown" && c.message_type != "text" {
            return Err(ConfigError {
                kind: Kind::Dingtalk,
                field: "message_type",
                reason: format!("{:?} is not markdown or text", c.message_type),
            });
        }
        Ok(Dingtalk {
            url,
            client: HttpClient::new(Kind::Dingtalk, c.http_config.as_ref())?,
            cfg: c.clone(),
        })
    }

    /// The URL for a request at `now`: signed when the robot has a secret.
    pub fn url(&self, now: Timestamp) -> Url {
        let mut url = self.url.clone();
        if let Some(secret) = &self.cfg.secret {
            let ts = now.as_millisecond();
            // `sign` is URL-encoded already; `append_pair` would encode it twice.
            let query = format!(
                "{}&timestamp={ts}&sign={}",
                url.query().unwrap_or(""),
                sign(secret.expose(), ts)
            );
            url.set_query(Some(query.trim_start_matches('&')));
        }
        url
    }

    /// The JSON posted: `title` and `message` rendered; the mobile numbers to mention
    /// are added to the text, since DingTalk highlights only those the text names.
    pub fn payload(&self, a: &Attempt<'_>) -> Result<serde_json::Value, AttemptError> {
        let title = a.text(&self.cfg.title)?;
        let mut text = a.text(&self.cfg.message)?;
        let mentions: String = self
            .cfg
            .at_mobiles
            .iter()
            .map(|m| format!(" @{m}"))
            .collect();
        let at = json!({
            "atMobiles": self.cfg.at_mobiles,
            "atUserIds": self.cfg.at_user_ids,
            "isAtAll": self.cfg.at_all,
        });
        if self.cfg.message_type == "text" {
            text.push_str(&mentions);
            return Ok(json!({"msgtype": "text", "text": {"content": text}, "at": at}));
        }
        if !mentions.is_empty() {
            text.push_str("\n\n");
            text.push_str(mentions.trim_start());
        }
        Ok(json!({"msgtype": "markdown", "markdown": {"title": title, "text": text}, "at": at}))
    }

    pub async fn attempt(&self, a: Attempt<'_>) -> Result<Delivered, AttemptError> {
        let body = serde_json::to_vec(&self.payload(&a)?)
            .map_err(|e| AttemptError::new(Reason::Invalid, e.to_string()))?;
        let reply = self
            .client
            .post_json(&self.url(a.now), body, ALERTMANAGER_USER_AGENT, a.timeout)
            .await?;
        reply.check_status()?;
        check_errcode("dingtalk", &reply, &RATE_LIMITED)?;
        Ok(Delivered {
            status: Some(reply.status),
        })
    }
}

/// The verdict of a 2xx reply shaped `{"errcode": 0, "errmsg": "ok"}` (DingTalk and
/// WeCom): another code fails, retried when it means a rate limit.
pub(crate) fn check_errcode(
    service: &str,
    reply: &super::http::Reply,
    rate_limited: &[i64],
) -> Result<(), AttemptError> {
    let v: serde_json::Value = serde_json::from_slice(&reply.body).map_err(|_| {
        AttemptError::new(
            Reason::Rejected,
            format!("{service}: reply is not its JSON: {}", reply.snippet()),
        )
        .status(reply.status)
    })?;
    let code = v.get("errcode").and_then(serde_json::Value::as_i64);
    match code {
        Some(0) => Ok(()),
        Some(code) => {
            let msg = v
                .get("errmsg")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("");
            let e = AttemptError::new(
                Reason::Rejected,
                format!("{service}: errcode {code}: {msg}"),
            )
            .status(reply.status);
            Err(if rate_limited.contains(&code) {
                e.retryable()
            } else {
                e
            })
        }
        None => Err(AttemptError::new(
            Reason::Rejected,
            format!("{service}: reply has no errcode: {}", reply.snippet()),
        )
        .status(reply.status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_matches_an_independent_hmac() {
        // Python: quote_plus(b64encode(hmac.new(s, f"{ts}\n{s}", sha256).digest())).
        assert_eq!(
            sign("SECtestsecret", 1_700_000_000_000),
            "7LVwF0dAF3%2F%2BMRRulbpE4y72Ogzykc6bS2nG4I99T4s%3D"
        );
    }
}
