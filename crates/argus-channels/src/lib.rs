//! Delivery of alert notifications to receivers.
//!
//! A **notification** (`argus_notify::Notification`) is Alertmanager's template data for
//! one group of alerts, which is also its webhook payload (version 4). A **channel**
//! (`Channel`) is one configured target of a receiver: a webhook, an email address, a
//! Slack, DingTalk, WeCom, Feishu/Lark or Telegram chat, or a local script, built from
//! one integration of the loaded `alertmanager.yml` (`argus_notify::IntegrationConfig`).
//! **Delivery** (`deliver`) sends one notification through one channel, retrying with
//! exponential backoff as Alertmanager does (network errors and 5xx again, other
//! refusals not), and returns an **outcome** (`Outcome`) for the API and the metrics.
//!
//! The receiver model (each kind's configuration, `global` defaults, secrets,
//! `http_config`), routing, grouping and silences are `argus-notify`'s; this crate only
//! sends.
//!
//! ```no_run
//! use argus_channels::{Channel, deliver, send_test};
//!
//! # async fn example(notification: argus_notify::Notification) -> Result<(), Box<dyn std::error::Error>> {
//! let config = argus_notify::Config::load(
//!     "route: {receiver: ops}\n\
//!      receivers: [{name: ops, webhook_configs: [{url: 'http://127.0.0.1:5001/alerts'}]}]\n",
//!     "alertmanager.yml",
//! )?;
//! let ops = &config.receivers[0];
//! for (_idx, integration) in ops.iter() {
//!     let channel = Channel::new(&ops.name, integration, config.notification_templates.clone())?;
//!     let outcome = send_test(&channel).await;
//!     assert!(outcome.ok, "{:?}", outcome.error);
//!     let outcome = deliver(&channel, &notification).await;
//!     println!("{} attempts, {:?}", outcome.attempts, outcome.duration);
//! }
//! # Ok(())
//! # }
//! ```

mod channel;
pub mod channels;
mod deliver;
mod kind;
pub mod message;

pub use channel::Channel;
pub use deliver::{Clock, Outcome, Reason, RetryPolicy, deliver, send_test};
pub use kind::ConfigError;
