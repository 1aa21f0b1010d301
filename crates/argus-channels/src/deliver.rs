//! **Delivery**: sending one notification through one channel, retried with backoff
//! until it is delivered, fails for good, or runs out of time, and the **outcome** of
//! that: what the server shows in its API and counts at `/metrics`.
//!
//! An **attempt** is one request (one HTTP POST, one SMTP session, one run of a script).
//! Alertmanager's rule decides whether another follows: network errors, timeouts and
//! 5xx replies are retried; other non-2xx replies fail at once. Chat services that answer
//! 200 with an error code in the body fail at once too, unless the code means "rate
//! limited"; HTTP 429 is retried after its `Retry-After`.

use std::{fmt, sync::Arc, time::Duration};

use argus_notify::{IntegrationKind, Notification, Templates, test_notification};
use argus_template::Value;
use jiff::Timestamp;
use serde::{Serialize, Serializer};
use tokio::time::Instant;

use crate::Channel;

/// How long a delivery may take and how attempts are spaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The whole delivery, every attempt and wait included. Alertmanager gives a
    /// notification its group interval (at least 10 s); the caller passes that here.
    pub timeout: Duration,
    /// One attempt (HTTP request or SMTP session); a script's own `timeout` replaces it.
    pub attempt_timeout: Duration,
    /// The wait after the first failed attempt; each later wait doubles it.
    pub initial_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// Stop after this many attempts even with time left; 0 = only the timeout limits.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// One minute in all, 15 s an attempt, waits from 0.5 s doubling to 15 s: a flapping
    /// endpoint gets about eight tries before the group's next flush retries anyway.
    fn default() -> Self {
        RetryPolicy {
            timeout: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(15),
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(15),
            max_attempts: 0,
        }
    }
}

/// Where a channel reads the time it signs requests with and stamps test notifications
/// with; tests fix it so a signature can be recomputed.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(Arc::new(Timestamp::now))
    }

    /// Always `ts`.
    pub fn fixed(ts: Timestamp) -> Self {
        Clock(Arc::new(move || ts))
    }

    /// Any source of time.
    pub fn new(f: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        Clock(Arc::new(f))
    }

    /// The current time by this clock.
    pub fn now(&self) -> Timestamp {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

/// Why an attempt failed, in words fit for a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// No answer in time.
    Timeout,
    /// The connection failed: refused, reset, DNS.
    Network,
    /// TLS failed: an untrusted certificate, a wrong name, no STARTTLS.
    Tls,
    /// An HTTP status other than 2xx.
    Status,
    /// The service answered with an error code in its reply (DingTalk `errcode`, WeCom
    /// `errcode`, Feishu `code`, Telegram and Slack `ok: false`), or a reply it never
    /// sends on success.
    Rejected,
    /// The SMTP server refused a command.
    Smtp,
    /// The script exited with a status other than 0, or could not be started.
    Script,
    /// The message could not be built (a bad address, a header the service rejects).
    Invalid,
    /// A template of the receiver failed when rendered (`template: …` says where).
    Template,
}

impl Reason {
    /// The label value: `timeout`, `network`, `tls`, `status`, `rejected`, `smtp`,
    /// `script`, `invalid`, `template`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Timeout => "timeout",
            Reason::Network => "network",
            Reason::Tls => "tls",
            Reason::Status => "status",
            Reason::Rejected => "rejected",
            Reason::Smtp => "smtp",
            Reason::Script => "script",
            Reason::Invalid => "invalid",
            Reason::Template => "template",
        }
    }
}

/// The result of one delivery.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The channel's kind (`webhook`, `email`, …).
    pub kind: IntegrationKind,
    /// Delivered.
    pub ok: bool,
    /// Attempts made, at least 1.
    pub attempts: u32,
    /// The last attempt's status: the HTTP status, the SMTP reply code, or the script's
    /// exit status; absent when there was none (no connection, a signal).
    pub status: Option<u16>,
    /// Why the last attempt failed; absent when delivered.
    pub error: Option<String>,
    /// The kind of failure, for metric labels; absent when delivered.
    pub reason: Option<Reason>,
    /// From the first attempt to the outcome, waits included.
    #[serde(rename = "duration_seconds", serialize_with = "seconds")]
    pub duration: Duration,
}

fn seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// How one attempt failed, and whether another may follow.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AttemptError {
    pub reason: Reason,
    pub message: String,
    pub status: Option<u16>,
    pub retry: bool,
    pub retry_after: Option<Duration>,
}

impl AttemptError {
    /// A failure that is not retried unless marked `retryable`.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        AttemptError {
            reason,
            message: message.into(),
            status: None,
            retry: false,
            retry_after: None,
        }
    }

    pub fn timeout(after: Duration) -> Self {
        AttemptError::new(
            Reason::Timeout,
            format!("no answer within {}", humantime::format_duration(after)),
        )
        .retryable()
    }

    pub fn retryable(mut self) -> Self {
        self.retry = true;
        self
    }

    pub fn status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub fn retry_after(mut self, after: Option<Duration>) -> Self {
        self.retry_after = after;
        self
    }
}

/// What a successful attempt reports: the status it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delivered {
    pub status: Option<u16>,
}

/// What every attempt is given.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt<'a> {
    pub notification: &'a Notification,
    /// The notification as template data.
    pub data: &'a Value,
    /// The configuration's templates.
    pub templates: &'a Templates,
    /// The channel clock's time, for signatures.
    pub now: Timestamp,
    /// How long this attempt may take.
    pub timeout: Duration,
}

impl Attempt<'_> {
    /// A templated field rendered as text over the notification; a failure fails the
    /// attempt for good (the same template would fail again).
    pub fn text(&self, template: &str) -> Result<String, AttemptError> {
        self.templates
            .render(template, self.data)
            .map_err(|e| AttemptError::new(Reason::Template, e))
    }

    /// A templated field rendered as HTML (values escaped): an email's `html`.
    pub fn html(&self, template: &str) -> Result<String, AttemptError> {
        self.templates
            .render_html(template, self.data)
            .map_err(|e| AttemptError::new(Reason::Template, e))
    }
}

/// Sends `notification` through `channel`, retrying as its `RetryPolicy` says; the
/// channel's templated fields are rendered over it with the configuration's templates.
pub async fn deliver(channel: &Channel, notification: &Notification) -> Outcome {
    let data = notification.template_data();
    let policy = channel.policy();
    let started = Instant::now();
    let deadline = started + policy.timeout;
    let mut backoff = policy.initial_backoff;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let timeout = channel.attempt_timeout().min(remaining);
        let attempt = Attempt {
            notification,
            data: &data,
            templates: channel.templates(),
            now: channel.clock().now(),
            timeout,
        };
        // Each channel keeps to `timeout` itself (a script must kill what it started);
        // this bound only guards against one that hangs past it.
        let guard = timeout + Duration::from_secs(2);
        let result = match tokio::time::timeout(guard, channel.attempt(attempt)).await {
            Ok(r) => r,
            Err(_) => Err(AttemptError::timeout(timeout)),
        };
        let err = match result {
            Ok(d) => {
                return Outcome {
                    kind: channel.kind(),
                    ok: true,
                    attempts,
                    status: d.status,
                    error: None,
                    reason: None,
                    duration: started.elapsed(),
                };
            }
            Err(e) => e,
        };
        let wait = err.retry_after.unwrap_or_else(|| jitter(backoff));
        let more = err.retry
            && (policy.max_attempts == 0 || attempts < policy.max_attempts)
            && Instant::now() + wait < deadline;
        if !more {
            return Outcome {
                kind: channel.kind(),
                ok: false,
                attempts,
                status: err.status,
                error: Some(err.message),
                reason: Some(err.reason),
                duration: started.elapsed(),
            };
        }
        tracing::debug!(
            receiver = channel.receiver(),
            kind = channel.kind().name(),
            attempt = attempts,
            error = %err.message,
            wait_ms = wait.as_millis() as u64,
            "notification not delivered, retrying"
        );
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(policy.max_backoff);
    }
}

/// Sends the fixed test notification (`test_notification`) through `channel`, with the
/// channel's clock as its start time: what the "send test" API does.
pub async fn send_test(channel: &Channel) -> Outcome {
    let n = test_notification(channel.receiver(), "", channel.clock().now());
    deliver(channel, &n).await
}

/// `d` give or take a quarter, so that channels failing together (an outage of the
/// network, a rate limit shared by several receivers) do not retry in lockstep.
fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 2];
    if getrandom::fill(&mut b).is_err() {
        return d;
    }
    let r = f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX); // 0..=1
    d.mul_f64(0.75 + r / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_a_quarter() {
        for _ in 0..100 {
            let j = jitter(Duration::from_millis(1000));
            assert!((750..=1250).contains(&j.as_millis()), "{j:?}");
        }
    }

    #[test]
    fn outcome_serializes_for_the_api() {
        let o = Outcome {
            kind: IntegrationKind::Webhook,
            ok: false,
            attempts: 2,
            status: Some(500),
            error: Some("unexpected status code 500: boom".into()),
            reason: Some(Reason::Status),
            duration: Duration::from_millis(1500),
        };
        assert_eq!(
            serde_json::to_string(&o).expect("serializes"),
            r#"{"kind":"webhook","ok":false,"attempts":2,"status":500,"error":"unexpected status code 500: boom","reason":"status","duration_seconds":1.5}"#
        );
    }
}
