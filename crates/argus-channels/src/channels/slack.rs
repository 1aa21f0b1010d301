//! Slack (`slack_configs`): an incoming webhook (or `chat.postMessage`), posted one
//! attachment the way Alertmanager's Slack integration builds it: every text field a
//! template (title, title link, pretext, text, fallback, footer, colour, fields,
//! actions, channel, username, icons), the title cut to 1024 characters.
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
    message::truncate_chars,
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

    /// The JSON posted for a notification: Alertmanager's request, its empty optional
    /// fields left out as its `omitempty` does.
    pub fn payload(&self, a: &Attempt<'_>) -> Result<serde_json::Value, AttemptError> {
        let c = &self.cfg;
        let mut att = serde_json::Map::new();
        let put = |m: &mut serde_json::Map<String, serde_json::Value>,
                   key: &str,
                   value: String,
                   always: bool| {
            if always || !value.is_empty() {
                m.insert(key.into(), json!(value));
            }
        };
        let (title, _) = truncate_chars(&a.text(&c.title)?, MAX_TITLE_CHARS);
        put(&mut att, "title", title, false);
        put(&mut att, "title_link", a.text(&c.title_link)?, false);
        put(&mut att, "pretext", a.text(&c.pretext)?, false);
        put(&mut att, "text", a.text(&c.text)?, true);
        put(&mut att, "fallback", a.text(&c.fallback)?, true);
        put(&mut att, "callback_id", a.text(&c.callback_id)?, true);
        if !c.fields.is_empty() {
            let mut fields = Vec::with_capacity(c.fields.len());
            for f in &c.fields {
                fields.push(json!({
                    "title": a.text(&f.title)?,
                    "value": a.text(&f.value)?,
                    "short": f.short.unwrap_or(c.short_fields),
                }));
            }
            att.insert("fields".into(), json!(fields));
        }
        if !c.actions.is_empty() {
            let mut actions = Vec::with_capacity(c.actions.len());
            for act in &c.actions {
                let mut m = serde_json::Map::new();
                put(&mut m, "type", a.text(&act.kind)?, true);
                put(&mut m, "text", a.text(&act.text)?, true);
                put(&mut m, "url", a.text(&act.url)?, true);
                put(&mut m, "style", a.text(&act.style)?, true);
                put(&mut m, "name", a.text(&act.name)?, false);
                put(&mut m, "value", a.text(&act.value)?, false);
                if let Some(cf) = &act.confirm {
                    let mut cm = serde_json::Map::new();
                    put(&mut cm, "text", a.text(&cf.text)?, true);
                    put(&mut cm, "title", a.text(&cf.title)?, false);
                    put(&mut cm, "ok_text", a.text(&cf.ok_text)?, false);
                    put(&mut cm, "dismiss_text", a.text(&cf.dismiss_text)?, false);
                    m.insert("confirm".into(), serde_json::Value::Object(cm));
                }
                actions.push(serde_json::Value::Object(m));
            }
            att.insert("actions".into(), json!(actions));
        }
        put(&mut att, "image_url", a.text(&c.image_url)?, false);
        put(&mut att, "thumb_url", a.text(&c.thumb_url)?, false);
        put(&mut att, "footer", a.text(&c.footer)?, true);
        put(&mut att, "color", a.text(&c.color)?, false);
        let mrkdwn_in = if c.mrkdwn_in.is_empty() {
            vec!["fallback".to_owned(), "pretext".into(), "text".into()]
        } else {
            c.mrkdwn_in.clone()
        };
        att.insert("mrkdwn_in".into(), json!(mrkdwn_in));

        let mut body = serde_json::Map::new();
        put(&mut body, "channel", a.text(&c.channel)?, false);
        put(&mut body, "username", a.text(&c.username)?, false);
        put(&mut body, "icon_emoji", a.text(&c.icon_emoji)?, false);
        put(&mut body, "icon_url", a.text(&c.icon_url)?, false);
        if c.link_names {
            body.insert("link_names".into(), json!(true));
        }
        body.insert(
            "attachments".into(),
            json!([serde_json::Value::Object(att)]),
        );
        Ok(serde_json::Value::Object(body))
    }

    pub async fn attempt(&self, a: Attempt<'_>) -> Result<Delivered, AttemptError> {
        let body = serde_json::to_vec(&self.payload(&a)?)
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
