//! A **channel**: one configured delivery target of a receiver (one entry of its
//! `webhook_configs`, `email_configs`, …), checked and ready to send.
//!
//! Configuration is checked when the channel is made, not when an alert fires: a missing
//! URL, a bad address or an unreadable CA file is a `ConfigError` naming the kind and the
//! field.

use std::{sync::Arc, time::Duration};

use argus_notify::{IntegrationConfig, IntegrationKind, Templates};

pub use crate::kind::ConfigError;
use crate::{
    channels::{
        dingtalk::Dingtalk, email::Email, feishu::Feishu, script::Script, slack::Slack,
        telegram::Telegram, webhook::Webhook, wecom::Wecom,
    },
    deliver::{Attempt, AttemptError, Clock, Delivered, RetryPolicy},
};

// One per channel, built once per load: the size of the larger kinds costs nothing.
#[allow(clippy::large_enum_variant)]
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
    config: IntegrationConfig,
    templates: Arc<Templates>,
    target: Target,
    policy: RetryPolicy,
    clock: Clock,
}

impl Channel {
    /// Checks `config` (one integration of the loaded configuration, `global` defaults
    /// applied) and prepares the channel for the receiver named `receiver`, rendering its
    /// fields with `templates` (the configuration's `notification_templates`), with the
    /// default `RetryPolicy` and the system clock. A kind Argus cannot send (PagerDuty,
    /// WeChat, …) is an error naming it.
    pub fn new(
        receiver: &str,
        config: &IntegrationConfig,
        templates: Arc<Templates>,
    ) -> Result<Channel, ConfigError> {
        let target = match config {
            IntegrationConfig::Webhook(c) => Target::Webhook(Webhook::new(c)?),
            IntegrationConfig::Email(c) => Target::Email(Box::new(Email::new(c)?)),
            IntegrationConfig::Slack(c) => Target::Slack(Slack::new(c)?),
            IntegrationConfig::Dingtalk(c) => Target::Dingtalk(Dingtalk::new(c)?),
            IntegrationConfig::Wecom(c) => Target::Wecom(Wecom::new(c)?),
            IntegrationConfig::Feishu(c) => Target::Feishu(Feishu::new(c)?),
            IntegrationConfig::Telegram(c) => Target::Telegram(Telegram::new(c)?),
            IntegrationConfig::Script(c) => Target::Script(Script::new(c)?),
            other => {
                let kind = other.kind();
                let hint = if kind == IntegrationKind::Wechat {
                    " (for a WeCom group robot, use wecom_configs)"
                } else {
                    ""
                };
                return Err(ConfigError {
                    kind,
                    field: "",
                    reason: format!("Argus cannot send {}{hint}", kind.config_key()),
                });
            }
        };
        Ok(Channel {
            receiver: receiver.to_owned(),
            config: config.clone(),
            templates,
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
    pub fn kind(&self) -> IntegrationKind {
        self.config.kind()
    }

    /// The configuration it was made from.
    pub fn config(&self) -> &IntegrationConfig {
        &self.config
    }

    /// The templates its fields are rendered with.
    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    /// The retry policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Whether resolved alerts go out through it. Delivery sends what it is given; the
    /// caller drops resolved alerts (and all-resolved notifications) when this is false,
    /// as Alertmanager's notification pipeline does before its deduplication.
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
