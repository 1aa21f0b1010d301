//! Delivery of alert notifications to receivers.
//!
//! A **notification** (`Notification`) is Alertmanager's template data for one group of
//! alerts, which is also its webhook payload (version 4). A **channel** (`Channel`) is one
//! configured target of a receiver: a webhook, an email address, a Slack, DingTalk,
//! WeCom, Feishu/Lark or Telegram chat, or a local script. **Delivery** (`deliver`) sends
//! one notification through one channel, retrying with exponential backoff as
//! Alertmanager does (network errors and 5xx again, other refusals not), and returns an
//! **outcome** (`Outcome`) for the API and the metrics.
//!
//! Routing, grouping, silences and templates live in `argus-notify`; this crate only
//! sends. A per-receiver template's rendered text comes in as a `Message`.
//!
//! ```no_run
//! use argus_channels::{Channel, ChannelConfig, deliver, send_test};
//!
//! # async fn example(notification: argus_channels::Notification) -> Result<(), Box<dyn std::error::Error>> {
//! let config: ChannelConfig = serde_json::from_str(
//!     r#"{"kind": "webhook", "url": "http://127.0.0.1:5001/alerts"}"#,
//! )?;
//! let channel = Channel::new("ops", config)?;
//! let outcome = send_test(&channel).await;
//! assert!(outcome.ok, "{:?}", outcome.error);
//! let outcome = deliver(&channel, &notification).await;
//! println!("{} attempts, {:?}", outcome.attempts, outcome.duration);
//! # Ok(())
//! # }
//! ```

mod channel;
pub mod channels;
pub mod config;
mod deliver;
pub mod gojson;
mod kind;
pub mod message;
mod notification;

pub use channel::{Channel, ChannelConfig, ReceiverConfig};
pub use channels::{
    dingtalk::DingtalkConfig, email::EmailConfig, feishu::FeishuConfig, script::ScriptConfig,
    slack::SlackConfig, telegram::TelegramConfig, webhook::WebhookConfig, wecom::WecomConfig,
};
pub use deliver::{Clock, Outcome, Reason, RetryPolicy, deliver, deliver_with, send_test};
pub use kind::{ConfigError, Kind};
pub use message::Message;
pub use notification::{
    Alert, Kv, Notification, Status, TEST_ALERTNAME, fingerprint, quote_meta, test_notification,
};
