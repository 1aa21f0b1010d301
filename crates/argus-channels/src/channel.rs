//! A **channel**: one configured delivery target of a receiver (one entry of its
//! `webhook_configs`, `email_configs`, …), checked and ready to send.
//!
//! Configuration is checked when the channel is made, not when an alert fires: a missing
//! URL, a bad address or an unreadable CA file is a `ConfigError` naming the kind and the
//! field.

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::kind::{ConfigError, Kind};
use crate::{
    channels::{
        dingtalk::{Dingtalk, DingtalkConfig},
        email::{Email, EmailConfig},
        feishu::{Feishu, FeishuConfig},
        script::{Script, ScriptConfig},
        slack::{Slack, SlackConfig},
        telegram::{Telegram, TelegramConfig},
        webhook::{Webhook, WebhookConfig},
        wecom::{Wecom, WecomConfig},
    },
    deliver::{Attempt, AttemptError, Clock, Delivered, RetryPolicy},
};

/// One channel's configuration, tagged by `kind` when written on its own (the "send
/// test" API takes `{"kind": "webhook", "url": …}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ChannelConfig {
    /// `webhook_configs` entry.
    Webhook(WebhookConfig),
    /// `email_configs` entry.
    Email(EmailConfig),
    /// `slack_configs` entry.
    Slack(SlackConfig),
    /// `dingtalk_configs` entry.
    Dingtalk(DingtalkConfig),
    /// `wecom_configs` entry.
    Wecom(WecomConfig),
    /// `feishu_configs` entry.
    Feishu(FeishuConfig),
    /// `telegram_configs` entry.
    Telegram(TelegramConfig),
    /// `script_configs` entry.
    Script(ScriptConfig),
}

impl ChannelConfig {
    /// The kind.
    pub fn kind(&self) -> Kind {
        match self {
            ChannelConfig::Webhook(_) => Kind::Webhook,
            ChannelConfig::Email(_) => Kind::Email,
            ChannelConfig::Slack(_) => Kind::Slack,
            ChannelConfig::Dingtalk(_) => Kind::Dingtalk,
            ChannelConfig::Wecom(_) => Kind::Wecom,
            ChannelConfig::Feishu(_) => Kind::Feishu,
            ChannelConfig::Telegram(_) => Kind::Telegram,
            ChannelConfig::Script(_) => Kind::Script,
        }
    }

    /// Whether resolved alerts go out through it. Delivery sends what it is given; the
    /// caller drops resolved alerts (and all-resolved notifications) when this is false,
    /// as Alertmanager's notification pipeline does before its deduplication.
    pub fn send_resolved(&self) -> bool {
        match self {
            ChannelConfig::Webhook(c) => c.send_resolved,
            ChannelConfig::Email(c) => c.send_resolved,
            ChannelConfig::Slack(c) => c.send_resolved,
            ChannelConfig::Dingtalk(c) => c.send_resolved,
            ChannelConfig::Wecom(c) => c.send_resolved,
            ChannelConfig::Feishu(c) => c.send_resolved,
            ChannelConfig::Telegram(c) => c.send_resolved,
            ChannelConfig::Script(c) => c.send_resolved,
        }
    }
}

/// A receiver as Alertmanager writes one: a name and lists of channels by kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    /// The name routes refer to.
    pub name: String,
    /// Webhooks.
    #[serde(default)]
    pub webhook_configs: Vec<WebhookConfig>,
    /// Email.
    #[serde(default)]
    pub email_configs: Vec<EmailConfig>,
    /// Slack.
    #[serde(default)]
    pub slack_configs: Vec<SlackConfig>,
    /// DingTalk robots.
    #[serde(default)]
    pub dingtalk_configs: Vec<DingtalkConfig>,
    /// WeCom robots.
    #[serde(default)]
    pub wecom_configs: Vec<WecomConfig>,
    /// Feishu/Lark bots.
    #[serde(default)]
    pub feishu_configs: Vec<FeishuConfig>,
    /// Telegram bots.
    #[serde(default)]
    pub telegram_configs: Vec<TelegramConfig>,
    /// Scripts.
    #[serde(default)]
    pub script_configs: Vec<ScriptConfig>,
}

impl ReceiverConfig {
    /// Every channel of the receiver, in the order of the kinds above and, within a kind,
    /// as configured.
    pub fn configs(&self) -> Vec<ChannelConfig> {
        let mut v = Vec::new();
        v.extend(
            self.webhook_configs
                .iter()
                .cloned()
                .map(ChannelConfig::Webhook),
        );
        v.extend(self.email_configs.iter().cloned().map(ChannelConfig::Email));
        v.extend(self.slack_configs.iter().cloned().map(ChannelConfig::Slack));
        v.extend(
            self.dingtalk_configs
                .iter()
                .cloned()
                .map(ChannelConfig::Dingtalk),
        );
        v.extend(self.wecom_configs.iter().cloned().map(ChannelConfig::Wecom));
        v.extend(
            self.feishu_configs
                .iter()
                .cloned()
                .map(ChannelConfig::Feishu),
        );
        v.extend(
            self.telegram_configs
                .iter()
                .cloned()
                .map(ChannelConfig::Telegram),
        );
        v.extend(
            self.script_configs
                .iter()
                .cloned()
                .map(ChannelConfig::Script),
        );
        v
    }

    /// Every channel, checked; the first error stops.
    pub fn channels(&self) -> Result<Vec<Channel>, ConfigError> {
        self.configs()
            .into_iter()
            .map(|c| Channel::new(&self.name, c))
            .collect()
    }
}

#[derive(Debug, Clone)]
enum Target {
    Webhook(Webhook),
    Email(Box<Email>),
    Slack(Slack),
    Dingtalk(Dingtalk),
    Wecom(Wecom),
    Feishu(Feishu),
    Telegram(Telegram),
    Script(Script),
}

/// A channel ready to deliver: its configuration checked, its HTTP client or SMTP
/// transport built, with the retry policy and the clock it uses.
#[derive(Debug, Clone)]
pub struct Channel {
    receiver: String,
    config: ChannelConfig,
    target: Target,
    policy: RetryPolicy,
    clock: Clock,
}

impl Channel {
    /// Checks `config` and prepares the channel for the receiver named `receiver`, with
    /// the default `RetryPolicy` and the system clock.
    pub fn new(receiver: &str, config: ChannelConfig) -> Result<Channel, ConfigError> {
        let target = match &config {
            ChannelConfig::Webhook(c) => Target::Webhook(Webhook::new(c)?),
            ChannelConfig::Email(c) => Target::Email(Box::new(Email::new(c)?)),
            ChannelConfig::Slack(c) => Target::Slack(Slack::new(c)?),
            ChannelConfig::Dingtalk(c) => Target::Dingtalk(Dingtalk::new(c)?),
            ChannelConfig::Wecom(c) => Target::Wecom(Wecom::new(c)?),
            ChannelConfig::Feishu(c) => Target::Feishu(Feishu::new(c)?),
            ChannelConfig::Telegram(c) => Target::Telegram(Telegram::new(c)?),
            ChannelConfig::Script(c) => Target::Script(Script::new(c)?),
        };
        Ok(Channel {
            receiver: receiver.to_owned(),
            config,
            target,
            policy: RetryPolicy::default(),
            clock: Clock::system(),
        })
    }

    /// The same channel with another retry policy.
    pub fn with_policy(mut self, policy: RetryPolicy) -> Channel {
        self.policy = policy;
        self
    }

    /// The same channel reading time from `clock` (for signatures and test
    /// notifications).
    pub fn with_clock(mut self, clock: Clock) -> Channel {
        self.clock = clock;
        self
    }

    /// The receiver's name.
    pub fn receiver(&self) -> &str {
        &self.receiver
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        self.config.kind()
    }

    /// The configuration it was made from.
    pub fn config(&self) -> &ChannelConfig {
        &self.config
    }

    /// The retry policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Whether resolved alerts go out through it (see `ChannelConfig::send_resolved`).
    pub fn send_resolved(&self) -> bool {
        self.config.send_resolved()
    }

    /// One attempt's time limit: a script's own `timeout`, else the policy's.
    pub(crate) fn attempt_timeout(&self) -> Duration {
        match &self.target {
            Target::Script(s) => s.timeout(),
            _ => self.policy.attempt_timeout,
        }
    }

    pub(crate) async fn attempt(&self, a: Attempt<'_>) -> Result<Delivered, AttemptError> {
        match &self.target {
            Target::Webhook(t) => t.attempt(a).await,
            Target::Email(t) => t.attempt(a).await,
            Target::Slack(t) => t.attempt(a).await,
            Target::Dingtalk(t) => t.attempt(a).await,
            Target::Wecom(t) => t.attempt(a).await,
            Target::Feishu(t) => t.attempt(a).await,
            Target::Telegram(t) => t.attempt(a).await,
            Target::Script(t) => t.attempt(&self.receiver, a).await,
        }
    }
}
