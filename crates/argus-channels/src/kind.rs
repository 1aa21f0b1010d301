//! The kinds of channel and the error of a configuration that cannot work: what every
//! channel module and the channel itself share, kept apart so they need not import each
//! other.

use serde::{Deserialize, Serialize};

/// The kinds of channel, named as Alertmanager's integrations (`webhook`, `email`, …)
/// and Argus's own (`dingtalk`, `wecom`, `feishu`, `script`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Alertmanager's webhook, payload version 4.
    Webhook,
    /// SMTP.
    Email,
    /// A Slack incoming webhook.
    Slack,
    /// A DingTalk group robot.
    Dingtalk,
    /// A WeCom (WeChat Work) group robot.
    Wecom,
    /// A Feishu or Lark custom bot.
    Feishu,
    /// A Telegram bot.
    Telegram,
    /// A local program.
    Script,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 8] = [
        Kind::Webhook,
        Kind::Email,
        Kind::Slack,
        Kind::Dingtalk,
        Kind::Wecom,
        Kind::Feishu,
        Kind::Telegram,
        Kind::Script,
    ];

    /// The name used in metrics and the API (`webhook`, …); `<name>_configs` is the
    /// receiver's key.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Webhook => "webhook",
            Kind::Email => "email",
            Kind::Slack => "slack",
            Kind::Dingtalk => "dingtalk",
            Kind::Wecom => "wecom",
            Kind::Feishu => "feishu",
            Kind::Telegram => "telegram",
            Kind::Script => "script",
        }
    }
}

/// A configuration that cannot work, and where it is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} channel: {field}: {reason}", kind.name())]
pub struct ConfigError {
    /// The channel's kind.
    pub kind: Kind,
    /// The key at fault (`url`, `http_config.tls_config.ca_file`, …).
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}
