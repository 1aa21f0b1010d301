//! argus-notify: the Alertmanager side of Argus's alerting, as pure logic.
//!
//! Alerts from Argus's rule engine (or from Prometheus, through the Alertmanager v2 API
//! shape) come in; notifications to send come out. In between is Alertmanager 0.25's
//! model, read from its source and checked against the real binary:
//!
//! - [`config`]: `alertmanager.yml` as Alertmanager reads it, with errors naming file,
//!   line, field path and reason; the one receiver model of Argus: each integration's
//!   typed configuration (webhook, email, Slack, Telegram, WeChat, and Argus's DingTalk,
//!   WeCom robot, Feishu, script; `http_config`, `Secret`), `global` defaults applied at
//!   load. `argus-channels` sends through these.
//! - [`route`]: the routing tree, matched depth-first with `continue`, options inherited.
//! - [`dispatch`]: aggregation groups and their `group_wait` / `group_interval` timers.
//! - [`inhibit`], [`silence`], [`timeinterval`], [`maintenance`]: what mutes a flush.
//! - [`nflog`]: the notification log that deduplicates, repeats after
//!   `repeat_interval`, and persists across restarts.
//! - [`notification`]: [`Notification`], the data every channel receives, and the
//!   webhook v4 body.
//! - [`template`]: notification templates as Alertmanager has them: Argus's default
//!   templates, the `templates:` files, every receiver's templated fields parsed at load,
//!   and the template data (`.Receiver`, `.Alerts`, `.CommonLabels`, …) of a
//!   notification.
//! - [`engine`]: [`Engine`], all of the above behind one explicit clock.
//!
//! No crate does this job in Rust, so routing, grouping, inhibition, silences, time
//! intervals, deduplication and the payload are hand-written here; the dependencies
//! are only serde (JSON and YAML), regex, jiff (time zones), glob, thiserror and
//! argus-template (Go's templates). Nothing reads
//! the wall clock or sleeps: every call takes `now`, so the server owns time and tests
//! step it. Sending (HTTP, SMTP, scripts) is `argus-channels`'s.
//!
//! ```
//! use argus_notify::{Config, Engine, EngineOptions, PostableAlert};
//! use jiff::{SignedDuration, Timestamp};
//!
//! let cfg = Config::load(
//!     "route: {receiver: ops, group_by: [alertname], group_wait: 30s}\n\
//!      receivers: [{name: ops, webhook_configs: [{url: 'http://127.0.0.1:5001/'}]}]\n",
//!     "alertmanager.yml",
//! )?;
//! let t0: Timestamp = "2024-01-01T00:00:00Z".parse()?;
//! let mut engine = Engine::new(cfg, EngineOptions::default(), t0);
//! let alerts: Vec<PostableAlert> =
//!     serde_json::from_str(r#"[{"labels": {"alertname": "HostDown", "host": "db1"}}]"#)?;
//! engine.put_alerts(alerts, t0);
//!
//! assert!(engine.tick(t0).is_empty()); // group_wait has not passed
//! let due = engine.tick(t0.checked_add(SignedDuration::from_secs(30))?);
//! assert_eq!(due.len(), 1);
//! let body = due[0].notification.webhook_body(0); // what Alertmanager would POST
//! assert!(body.contains(r#""groupKey":"{}:{alertname=\"HostDown\"}""#));
//! engine.delivered(&due[0], true, t0.checked_add(SignedDuration::from_secs(31))?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod alert;
pub mod clock;
pub mod config;
pub mod dispatch;
pub mod duration;
pub mod engine;
pub mod gojson;
pub mod inhibit;
pub mod labels;
pub mod maintenance;
pub mod matcher;
pub mod nflog;
pub mod notification;
pub mod route;
mod scalar;
pub mod silence;
pub mod template;
pub mod timeinterval;

pub use alert::{Alert, AlertError, PostableAlert};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Config, ConfigError, IntegrationConfig, IntegrationKind, Receiver, Secret};
pub use dispatch::{Dispatcher, Flush};
pub use engine::{Delivery, Engine, EngineOptions, MuteStatus, PutResult};
pub use labels::LabelSet;
pub use maintenance::{Maintenance, MaintenanceWindow, Schedule};
pub use matcher::{MatchType, Matcher, Matchers, parse_matchers};
pub use nflog::{IntegrationRef, NotificationLog};
pub use notification::{
    Notification, NotificationAlert, TEST_ALERTNAME, quote_meta, test_notification,
};
pub use route::Route;
pub use silence::{GettableSilence, PostableSilence, Silence, SilenceState, Silences};
pub use template::Templates;
