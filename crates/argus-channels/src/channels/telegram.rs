//! Telegram bots (`telegram_configs`): `sendMessage` on the Bot API, HTML parse mode by
//! default and at most 4096 characters, as Alertmanager's Telegram integration sends.
//!
//! The API answers `{"ok": true, …}` or `{"ok": false, "error_code": …, "description":
//! …}` with a matching HTTP status; 429 carries `parameters.retry_after` (seconds), which
//! the next attempt waits for.

use std::time::Duration;

use argus_notify::{IntegrationKind as Kind, config::TelegramConfig};
use reqwest::Url;
use serde_json::json;

use super::http::{ALERTMANAGER_USER_AGENT, HttpClient, parse_url};
use crate::{
    deliver::{Attempt, AttemptError, Delivered, Reason},
    kind::ConfigError,
    message::{repair_cut_entity, truncate_chars},
};

/// The Bot API.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";

/// A message's limit in characters, after entities are parsed; counting before keeps
/// within it.
pub const MAX_MESSAGE_CHARS: usize = 4096;

#[derive(Debug, Clone)]
pub(crate) struct Telegram {
    cfg: TelegramConfig,
    url: Url,
    client: HttpClient,
}

impl Telegram {
    pub fn new(c: &TelegramConfig) -> Result<Self, ConfigError> {
        let err = |field, reason: &str| ConfigError {
            kind: Kind::Telegram,
            field,
            reason: reason.to_owned(),
        };
        if c.bot_token.is_empty() {
            return Err(err("bot_token", "required"));
        }
        if c.chat_id == 0 {
            return Err(err("chat_id", "required"));
        }
        if !["HTML", "MarkdownV2", "Markdown", ""].contains(&c.parse_mode.as_str()) {
            return Err(err(
                "parse_mode",
                "one of HTML, MarkdownV2, Markdown, or empty for plain text",
            ));
        }
        let base = parse_url(
            Kind::Telegram,
            "api_url",
            c.api_url.as_deref().unwrap_or(DEFAULT_API_URL),
        )?;
        let url = format!(
            "{}/bot{}/sendMessage",
            base.as_str().trim_end_matches('/'),
            c.bot_token.expose()
        );
        Ok(Telegram {
            url: parse_url(Kind::Telegram, "bot_token", &url)?,
            client: HttpClient::new(Kind::Telegram, c.http_config.as_ref())?,
            cfg: c.clone(),
        })
    }

    /// The message text: `message` rendered (the plain default escaped for MarkdownV2,
    /// where it would otherwise be read as markup), cut to 4096 characters.
    pub fn text(&self, a: &Attempt<'_>) -> Result<String, AttemptError> {
        let mut text = a.text(&self.cfg.message)?;
        if self.cfg.parse_mode == "MarkdownV2"
            && self.cfg.message == argus_notify::template::call("telegram.default.text")
        {
            text = markdown_v2_escape(&text);
        }
        let (mut text, cut) = truncate_chars(text.trim_end(), MAX_MESSAGE_CHARS);
        if cut && self.cfg.parse_mode == "HTML" {
            repair_cut_entity(&mut text);
        }
        Ok(text)
    }

    /// The JSON posted.
    pub fn payload(&self, a: &Attempt<'_>) -> Result<serde_json::Value, AttemptError> {
        let mut body = json!({
            "chat_id": self.cfg.chat_id,
            "text": self.text(a)?,
            "disable_notification": self.cfg.disable_notifications,
        });
        if !self.cfg.parse_mode.is_empty()
            && let Some(obj) = body.as_object_mut()
        {
            obj.insert("parse_mode".into(), json!(self.cfg.parse_mode));
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
        let v: Option<serde_json::Value> = serde_json::from_slice(&reply.body).ok();
        if let Some(v) = &v
            && v.get("ok").and_then(serde_json::Value::as_bool) == Some(false)
        {
            let code = v.get("error_code").and_then(serde_json::Value::as_i64);
            let description = v
                .get("description")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("");
            let retry_after = v
                .pointer("/parameters/retry_after")
                .and_then(serde_json::Value::as_u64)
                .map(Duration::from_secs)
                .or(reply.retry_after);
            let mut e = AttemptError::new(
                Reason::Rejected,
                format!("telegram: {}: {description}", code.unwrap_or(0)),
            )
            .status(reply.status);
            if reply.status >= 500 || reply.status == 429 || code == Some(429) {
                e = e.retryable().retry_after(retry_after);
            }
            return Err(e);
        }
        reply.check_status()?;
        if v.is_none() {
            return Err(AttemptError::new(
                Reason::Rejected,
                format!("telegram: reply is not its JSON: {}", reply.snippet()),
            )
            .status(reply.status));
        }
        Ok(Delivered {
            status: Some(reply.status),
        })
    }
}

/// Escapes every character MarkdownV2 reserves, for text meant to show as it is.
pub fn markdown_v2_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if "_*[]()~`>#+-=|{}.!\\".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
